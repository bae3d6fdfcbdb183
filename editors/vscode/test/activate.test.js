#!/usr/bin/env node
// Usage: node test/activate.test.js EXTENSION_DIR
// Activates the extension (EXTENSION_DIR/out/extension.js) with a stand-in `vscode` module and
// `kfl.server.path` pointing at a file that does not exist, then restarts the server twice:
// the output channel says each time which kflc was looked for, the error notification (naming the
// setting) is shown once, and no language client is started. Then with the setting empty and the
// bundled server present (when EXTENSION_DIR has one), the channel names the bundled binary.
const Module = require('module');
const path = require('path');
const fs = require('fs');

const extDir = path.resolve(process.argv[2]);
const lines = [];
const errors = [];
const commands = {};
let setting = '/nonexistent/kfl/kflc';
function stub(name) {
  const f = function () { return stub(name + '()'); };
  return new Proxy(f, {
    get: (t, p) => (p === Symbol.toPrimitive ? () => name : p === 'then' ? undefined : stub(name + '.' + String(p))),
    construct: () => stub('new ' + name),
  });
}
const vscode = new Proxy({}, {
  get: (t, p) => {
    if (p === 'window') {
      return new Proxy({}, {
        get: (t2, q) => {
          if (q === 'createOutputChannel') return () => ({ appendLine: (l) => lines.push(l), dispose() {} });
          if (q === 'showErrorMessage') return (m) => { errors.push(m); return Promise.resolve(undefined); };
          return stub('vscode.window.' + String(q));
        },
      });
    }
    if (p === 'workspace') {
      return new Proxy({}, {
        get: (t2, q) => {
          if (q === 'getConfiguration') return () => ({ get: (k) => (k === 'server.path' ? setting : k === 'server.extraArgs' ? [] : undefined) });
          if (q === 'workspaceFolders') return undefined;
          if (q === 'getWorkspaceFolder') return () => undefined;
          return stub('vscode.workspace.' + String(q));
        },
      });
    }
    if (p === 'commands') {
      return { registerCommand: (id, fn) => { commands[id] = fn; return { dispose() {} }; }, executeCommand: () => Promise.resolve() };
    }
    return stub('vscode.' + String(p));
  },
});
const origLoad = Module._load;
Module._load = function (request) {
  if (request === 'vscode') return vscode;
  return origLoad.apply(this, arguments);
};
const ext = require(path.join(extDir, 'out', 'extension.js'));
let failures = 0;
function expect(cond, what) {
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  if (!cond) failures++;
}
(async () => {
  const context = { extensionPath: extDir, subscriptions: [] };
  await ext.activate(context);
  await commands['kfl.restartServer']();
  await commands['kfl.restartServer']();
  const looked = lines.filter((l) => l.includes('no kflc to run') && l.includes('kfl.server.path'));
  expect(looked.length === 3, `the output channel says three times why no kflc runs (${looked.length}): ${looked[0]}`);
  expect(errors.length === 1, `the error is shown once for three attempts (${errors.length}): ${errors[0]}`);
  expect(errors.length > 0 && errors[0].includes('"kfl.server.path"') && errors[0].includes('does not exist'),
    'the error names the setting to change and what is wrong with it');
  expect(errors.length > 0 && /highlighting still works/.test(errors[0]), 'the error says highlighting keeps working');
  const bundled = path.join(extDir, 'server', 'kflc');
  if (fs.existsSync(bundled)) {
    setting = '';
    lines.length = 0;
    // Resolution only: starting the real client needs VS Code, so stop at the log line.
    const { kflcCommand } = require(path.join(extDir, 'out', 'server.js'));
    const { describe } = require(path.join(extDir, 'out', 'resolve.js'));
    const r = kflcCommand();
    expect(r.source === 'bundled' && r.command === bundled, `with the setting empty: ${describe(r)}`);
  }
  if (failures) process.exit(1);
})().catch((e) => { console.log('FAIL ' + (e.stack || e)); process.exit(1); });

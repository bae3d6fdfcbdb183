#!/usr/bin/env node
// Usage: node test/run-viewer.test.js OUT_DIR KFLC
// "KFL: Open run viewer" without VS Code: out/runViewer.js finds a file's runs folder and its newest
// run among hand-made run records, starts the real `kflc ui` on it (once: a second call reuses it),
// the address answers with the run, and dispose stops the server. Then the command itself, in the
// compiled extension with a stand-in `vscode` module: it opens the run's page in the browser; and the
// graph view's "Open run viewer" button runs that command for the graph's file.
const Module = require('module');
const fs = require('fs');
const os = require('os');
const path = require('path');

const out = path.resolve(process.argv[2]);
const kflc = path.resolve(process.argv[3]);
const { RunViewers, findRunsRoot, newestRunOf, runPageUrl, servingUrl } = require(path.join(out, 'runViewer.js'));
let failures = 0;
function expect(cond, what) {
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  if (!cond) failures++;
}

const project = fs.mkdtempSync(path.join(os.tmpdir(), 'kfl-run-viewer-'));
const file = path.join(project, 'pipelines', 'train.kfl');
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, 'pipeline train() {}\n');
const run = (id, recorded, text) => {
  fs.mkdirSync(path.join(project, '.kfl', 'runs', id), { recursive: true });
  fs.writeFileSync(path.join(project, '.kfl', 'runs', id, 'run.json'),
    text ?? JSON.stringify({ status: 'succeeded', pipeline: 'train', file: recorded, graph: [] }));
};
run('20260101-000000-aaaaaa', 'pipelines/train.kfl');             // relative to the project folder
run('20260102-000000-bbbbbb', file);                                // absolute
run('20260103-000000-cccccc', 'pipelines/other.kfl');             // another file, newer
run('20260104-000000-dddddd', null, '{"file": "pipelines/tr');     // damaged, newest

(async () => {
  expect(findRunsRoot(file, project) === path.join(project, '.kfl'), 'the runs folder is found from the file upwards');
  expect(findRunsRoot(path.join(os.tmpdir(), 'x.kfl'), os.tmpdir()) === undefined, 'no runs folder: none');
  const root = path.join(project, '.kfl');
  expect(newestRunOf(root, file) === '20260102-000000-bbbbbb', `the file's newest run, not another file's: ${newestRunOf(root, file)}`);
  fs.rmSync(path.join(project, '.kfl', 'runs', '20260102-000000-bbbbbb'), { recursive: true });
  expect(newestRunOf(root, file) === '20260101-000000-aaaaaa', 'a relative path in a record is the project folder\'s');
  expect(newestRunOf(root, path.join(project, 'none.kfl')) === undefined, 'a file without runs: none');
  expect(servingUrl('kflc ui: serving http://127.0.0.1:4242/ (Ctrl-C to stop)') === 'http://127.0.0.1:4242/', 'the address is read from kflc ui\'s line');
  expect(runPageUrl('http://127.0.0.1:1/', 'a b') === 'http://127.0.0.1:1/#/run/a%20b', 'the run page address');

  const viewers = new RunViewers();
  const url = await viewers.url(kflc, root);
  expect(/^http:\/\/127\.0\.0\.1:\d+\/$/.test(url), `kflc ui started on loopback: ${url}`);
  const again = await viewers.url(kflc, root);
  expect(again === url, 'a second call reuses the running server');
  const list = await (await fetch(url + 'api/runs')).json();
  expect(list.some((r) => r.id === '20260101-000000-aaaaaa'), 'the server serves the project\'s runs');
  viewers.dispose();
  await new Promise((r) => setTimeout(r, 300));
  let stopped = false;
  try { await fetch(url + 'api/runs'); } catch { stopped = true; }
  expect(stopped, 'dispose stops the server');
  try {
    await new RunViewers(5000).url(path.join(project, 'no-kflc'), root);
    expect(false, 'a missing kflc is an error');
  } catch (e) {
    expect(/cannot run/.test(e.message), `a missing kflc is a clear error: ${e.message}`);
  }

  // The command in the compiled extension, with a stand-in `vscode` module.
  const opened = [];
  const commands = {};
  const document = { languageId: 'kfl', isUntitled: false, uri: { fsPath: file, toString: () => 'file://' + file } };
  const stub = () => new Proxy(function () {}, { get: (t, p) => (p === 'then' ? undefined : stub()), apply: () => stub() });
  const vscode = {
    window: {
      createOutputChannel: () => ({ appendLine() {}, dispose() {} }),
      activeTextEditor: { document },
      showErrorMessage: (m) => { opened.push('error: ' + m); return Promise.resolve(undefined); },
      showWarningMessage: (m) => { opened.push('warning: ' + m); return Promise.resolve(undefined); },
    },
    workspace: {
      getConfiguration: () => ({ get: (k) => (k === 'server.path' ? kflc : k === 'server.extraArgs' ? [] : undefined) }),
      getWorkspaceFolder: () => ({ uri: { fsPath: project } }),
      workspaceFolders: [{ uri: { fsPath: project } }],
      onDidSaveTextDocument: () => ({ dispose() {} }),
      onDidChangeConfiguration: () => ({ dispose() {} }),
      createFileSystemWatcher: () => ({ dispose() {} }),
    },
    commands: { registerCommand: (id, fn) => { commands[id] = fn; return { dispose() {} }; }, executeCommand: () => Promise.resolve() },
    env: { asExternalUri: (u) => Promise.resolve(u), openExternal: (u) => { opened.push(String(u)); return Promise.resolve(true); } },
    Uri: { parse: (s) => ({ toString: () => s }), file: (f) => ({ fsPath: f }) },
    ViewColumn: { Beside: -2 },
  };
  const load = Module._load;
  Module._load = function (request) {
    if (request === 'vscode') return vscode;
    if (request === 'vscode-languageclient/node') return { LanguageClient: class { start() { return Promise.reject(new Error('no client in this test')); } stop() {} } };
    return load.apply(this, arguments);
  };
  const ext = require(path.join(out, 'extension.js'));
  const context = { extensionPath: path.dirname(out), subscriptions: [] };
  await ext.activate(context);
  await commands['kfl.openRunViewer']();
  const page = opened.find((o) => o.startsWith('http://'));
  expect(page !== undefined && /^http:\/\/127\.0\.0\.1:\d+\/#\/run\/20260101-000000-aaaaaa$/.test(page),
    `the command opens the file's newest run in the browser: ${opened.join(' | ')}`);
  const html = page ? await (await fetch(page.split('#')[0])).text() : '';
  expect(html.includes('app.js'), 'the opened address serves the viewer');
  for (const d of context.subscriptions) d.dispose();

  // The graph view's "Open run viewer" button: its message runs the same command for its file.
  let handler;
  const executed = [];
  vscode.commands.executeCommand = (...args) => { executed.push(args); return Promise.resolve(); };
  vscode.Uri.joinPath = (...parts) => ({ fsPath: parts.map((p) => p.fsPath || p).join('/'), toString() { return this.fsPath; } });
  vscode.window.createWebviewPanel = () => ({
    onDidDispose: () => ({ dispose() {} }),
    reveal() {},
    webview: {
      cspSource: 'vscode-resource:', html: '',
      asWebviewUri: (u) => u,
      onDidReceiveMessage: (fn) => { handler = fn; return { dispose() {} }; },
    },
  });
  const { GraphPanel } = require(path.join(out, 'graphPanel.js'));
  GraphPanel.show({ extensionUri: { fsPath: path.dirname(out) } }, document);
  await handler({ type: 'openRunViewer' });
  expect(executed.length === 1 && executed[0][0] === 'kfl.openRunViewer' && executed[0][1] === document.uri,
    `the graph view's button runs KFL: Open run viewer for its file: ${JSON.stringify(executed.map((e) => e[0]))}`);
  fs.rmSync(project, { recursive: true, force: true });
  if (failures) process.exit(1);
})().catch((e) => { console.log('FAIL ' + (e.stack || e)); process.exit(1); });

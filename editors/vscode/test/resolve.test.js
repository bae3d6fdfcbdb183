#!/usr/bin/env node
// Usage: node test/resolve.test.js OUT_DIR
// Tests which kflc the extension runs (out/resolve.js): the `kfl.server.path` setting, then the
// bundled server, then PATH, and the problems reported for a missing or non-executable setting.
// Runs in plain Node with real files in a temporary folder; prints one line per case.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { resolveKflc, describe, bundledKflc } = require(path.resolve(process.argv[2] || 'out', 'resolve.js'));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kfl-resolve-'));
const exe = (file) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\n');
  fs.chmodSync(file, 0o755);
  return file;
};
const withBundle = path.join(tmp, 'ext-with-server');
const bundled = exe(bundledKflc(withBundle, 'linux'));
const withoutBundle = path.join(tmp, 'ext-universal');
fs.mkdirSync(withoutBundle);
const pathDir = path.join(tmp, 'bin');
const onPath = exe(path.join(pathDir, 'kflc'));
const custom = exe(path.join(tmp, 'custom', 'kflc'));
const notExecutable = path.join(tmp, 'plain', 'kflc');
fs.mkdirSync(path.dirname(notExecutable));
fs.writeFileSync(notExecutable, 'not a program\n');
fs.chmodSync(notExecutable, 0o644);
const emptyPath = path.join(tmp, 'empty');
fs.mkdirSync(emptyPath);

let failures = 0;
function check(name, input, expected, messagePart) {
  const got = resolveKflc({ platform: 'linux', ...input });
  try {
    assert.strictEqual(got.command, expected.command, 'command');
    assert.strictEqual(got.source, expected.source, 'source');
    if (messagePart) assert.ok(got.problem && got.problem.includes(messagePart), `problem mentions ${messagePart}`);
    else assert.strictEqual(got.problem, undefined, 'no problem');
    console.log(`ok   ${name}: ${describe(got)}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e.message}; got ${JSON.stringify(got)}`);
  }
}

check('the setting comes first', { setting: custom, extensionPath: withBundle, envPath: pathDir }, { command: custom, source: 'setting' });
check('then the bundled server', { setting: '', extensionPath: withBundle, envPath: pathDir }, { command: bundled, source: 'bundled' });
check('then PATH', { setting: '  ', extensionPath: withoutBundle, envPath: `${emptyPath}:${pathDir}` }, { command: onPath, source: 'PATH' });
check('a bare name in the setting is looked up on PATH', { setting: 'kflc', extensionPath: withBundle, envPath: pathDir }, { command: onPath, source: 'setting' });
check('${workspaceFolder} and relative paths in the setting', { setting: '${workspaceFolder}/custom/kflc', extensionPath: withBundle, workspaceFolder: tmp, envPath: pathDir }, { command: custom, source: 'setting' });
check('relative to the workspace folder', { setting: 'custom/kflc', extensionPath: withBundle, workspaceFolder: tmp }, { command: custom, source: 'setting' });
// A wrong setting is reported (naming the setting), never silently replaced by another kflc.
check('a missing setting path', { setting: path.join(tmp, 'nowhere', 'kflc'), extensionPath: withBundle, envPath: pathDir }, {}, '"kfl.server.path" is set to');
check('a missing setting path says it does not exist', { setting: path.join(tmp, 'nowhere', 'kflc'), extensionPath: withBundle }, {}, 'does not exist');
check('a non-executable setting path', { setting: notExecutable, extensionPath: withBundle, envPath: pathDir }, {}, 'not an executable file');
check('a directory as the setting', { setting: pathDir, extensionPath: withBundle }, {}, 'not an executable file');
check('a bare name not on PATH', { setting: 'kflc-nightly', extensionPath: withBundle, envPath: pathDir }, {}, 'not on PATH');
check('nothing anywhere', { setting: '', extensionPath: withoutBundle, envPath: emptyPath }, {}, 'pip install kflc');
// A non-executable bundled file (a .vsix unpacked without modes) is skipped for PATH.
const brokenBundle = path.join(tmp, 'ext-broken');
fs.mkdirSync(path.join(brokenBundle, 'server'), { recursive: true });
fs.writeFileSync(bundledKflc(brokenBundle, 'linux'), 'x');
check('a non-executable bundled file is skipped', { setting: '', extensionPath: brokenBundle, envPath: pathDir }, { command: onPath, source: 'PATH' });

fs.rmSync(tmp, { recursive: true, force: true });
if (failures) {
  console.log(`${failures} failed`);
  process.exit(1);
}

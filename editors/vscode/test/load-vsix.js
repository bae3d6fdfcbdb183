#!/usr/bin/env node
// Usage: node test/load-vsix.js EXTRACTED_VSIX/extension/out/extension.js
// Loads the packaged extension's entry point with a stand-in `vscode` module, to prove that every
// module it requires at load time is inside the .vsix.
const Module = require('module');
const path = require('path');
function stub(name) {
  const f = function () { return stub(name + '()'); };
  return new Proxy(f, {
    get: (t, p) => (p === Symbol.toPrimitive ? () => name : p === 'then' ? undefined : stub(name + '.' + String(p))),
    construct: () => stub('new ' + name),
  });
}
const origLoad = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'vscode') return stub('vscode');
  return origLoad.apply(this, arguments);
};
const entry = path.resolve(process.argv[2]);
const ext = require(entry);
if (typeof ext.activate !== 'function' || typeof ext.deactivate !== 'function') throw new Error('no activate/deactivate');
const loaded = Object.keys(require.cache).filter((f) => f.includes('node_modules'));
const outside = Object.keys(require.cache).filter((f) => f !== __filename && !f.startsWith(path.dirname(path.dirname(entry))));
if (outside.length) throw new Error('loaded from outside the package: ' + outside.join(', '));
console.log(`loaded ${entry} and ${loaded.length} modules from its node_modules`);

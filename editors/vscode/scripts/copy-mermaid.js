#!/usr/bin/env node
// Copies mermaid's self-contained browser build (and its licence) from node_modules into
// media/mermaid/, from where the graph webview loads it. The extension thereby works offline: no
// CDN is ever contacted. Run by `npm run compile` (and so by `vsce package`).
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const pkgDir = path.dirname(require.resolve('mermaid/package.json', { paths: [root] }));
const dest = path.join(root, 'media', 'mermaid');
fs.mkdirSync(dest, { recursive: true });
for (const [from, to] of [
  [path.join(pkgDir, 'dist', 'mermaid.min.js'), 'mermaid.min.js'],
  [path.join(pkgDir, 'LICENSE'), 'LICENSE'],
]) {
  fs.copyFileSync(from, path.join(dest, to));
}
const version = require(path.join(pkgDir, 'package.json')).version;
fs.writeFileSync(path.join(dest, 'VERSION'), version + '\n');
console.log(`copied mermaid ${version} into ${path.relative(root, dest)}/`);

#!/usr/bin/env node
// Writes the graph webview's HTML, exactly as the extension builds it (out/graphHtml.js, with the
// same Content-Security-Policy), for a Mermaid file, as a page that a browser can open from disk: the
// scripts are media/graph.js and the bundled media/mermaid/mermaid.min.js of the directory given.
//
//   node test/render-graph.js EXTENSION_DIR DIAGRAM.mmd OUT.html
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');

const [extDir, diagramFile, outFile] = process.argv.slice(2);
const { renderGraphHtml } = require(path.resolve(extDir, 'out', 'graphHtml.js'));
const media = path.resolve(extDir, 'media');
const html = renderGraphHtml({
  // What a webview's cspSource is to the page; here the pages and scripts are local files.
  cspSource: 'file:',
  nonce: crypto.randomBytes(16).toString('base64'),
  mermaidUri: pathToFileURL(path.join(media, 'mermaid', 'mermaid.min.js')).href,
  scriptUri: pathToFileURL(path.join(media, 'graph.js')).href,
  styleUri: pathToFileURL(path.join(media, 'graph.css')).href,
  title: path.basename(diagramFile),
  diagram: fs.readFileSync(diagramFile, 'utf8'),
});
fs.writeFileSync(outFile, html);

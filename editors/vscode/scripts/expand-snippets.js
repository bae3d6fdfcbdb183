#!/usr/bin/env node
// Expands every snippet of snippets/kfl.json the way VS Code would if the user accepted every
// default (the first choice of a choice, the default text of a placeholder, mirrors filled in) and
// writes each one, wrapped in the context where it belongs, as a .kfl file into OUTDIR, so that
// tests can run kflc on them.
//
//   node scripts/expand-snippets.js OUTDIR
'use strict';
const fs = require('fs');
const path = require('path');

const snippets = require(path.join(__dirname, '..', 'snippets', 'kfl.json'));

// Where a snippet is inserted: at the top level of a file, in a component or in a pipeline.
const context = {
  task: 'pipeline',
  'task-overrides': 'pipeline',
  if: 'pipeline',
  for: 'pipeline',
  finally: 'pipeline',
  resources: 'component',
  env: 'component',
  input: 'component',
  output: 'component',
};

// Finds the end of a `${...}` that starts at `start`, honouring nesting and `\` escapes.
function closing(text, start) {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '\\') { i++; continue; }
    if (text[i] === '{') depth++;
    if (text[i] === '}' && --depth === 0) return i;
  }
  throw new Error(`unbalanced snippet: ${text.slice(start)}`);
}

// First pass: the default text of every numbered placeholder.
function defaults(text, values) {
  const re = /\$\{(\d+)(:|\|)/g;
  let m;
  while ((m = re.exec(text))) {
    if (m.index > 0 && text[m.index - 1] === '\\') continue;
    const end = closing(text, m.index + 1);
    const inner = text.slice(m.index + 2 + m[1].length + 1, end);
    const value = m[2] === '|' ? inner.replace(/\|$/, '').split(',')[0] : inner;
    if (!(m[1] in values)) values[m[1]] = value;
    defaults(inner, values);
  }
  return values;
}

function expand(text, values) {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length && '$}\\'.includes(text[i + 1])) { out += text[++i]; continue; }
    if (c !== '$') { out += c; continue; }
    let m = /^\$(\d+)/.exec(text.slice(i));
    if (m) { out += expand(values[m[1]] || '', values); i += m[0].length - 1; continue; }
    m = /^\$\{(\d+)\}/.exec(text.slice(i));
    if (m) { out += expand(values[m[1]] || '', values); i += m[0].length - 1; continue; }
    m = /^\$\{(\d+)(:|\|)/.exec(text.slice(i));
    if (m) {
      const end = closing(text, i + 1);
      out += expand(values[m[1]], values);
      i = end;
      continue;
    }
    out += c;
  }
  return out;
}

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: expand-snippets.js OUTDIR');
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });
for (const [name, s] of Object.entries(snippets)) {
  const body = Array.isArray(s.body) ? s.body.join('\n') : s.body;
  let text = expand(body, defaults(body, {}));
  const prefix = [].concat(s.prefix)[0];
  const where = context[prefix] || 'top';
  const indent = (t) => t.split('\n').map((l) => (l ? '    ' + l : l)).join('\n');
  if (where === 'pipeline') text = `pipeline snippet_context() {\n${indent(text)}\n}`;
  if (where === 'component') text = `component snippet_context {\n    image = "busybox:1.36"\n${indent(text)}\n    sh "true"\n}`;
  const file = path.join(outDir, `${prefix}.kfl`);
  fs.writeFileSync(file, text.replace(/[ \t]+$/gm, '') + '\n');
  console.log(`${file}\t${where}\t${name}`);
}

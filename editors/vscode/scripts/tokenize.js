#!/usr/bin/env node
// Tokenizes .kfl files with the extension's TextMate grammar (and the Python and shell grammars it
// embeds), the way VS Code does, using vscode-textmate and vscode-oniguruma.
//
//   node scripts/tokenize.js FILE            print every token with its scopes
//   node scripts/tokenize.js --check FILE…   check that the grammar holds up on real files: no
//                                            `invalid` scope, every script block ends where KFL says
//                                            it does, and the file ends outside any open construct
'use strict';
const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const root = path.join(__dirname, '..');
const grammarFiles = {
  'source.kfl': path.join(root, 'syntaxes', 'kfl.tmLanguage.json'),
  'source.python': path.join(root, 'node_modules', 'tm-grammars', 'grammars', 'python.json'),
  'source.shell': path.join(root, 'node_modules', 'tm-grammars', 'grammars', 'shellscript.json'),
};

async function loadGrammar() {
  const wasm = fs.readFileSync(path.join(path.dirname(require.resolve('vscode-oniguruma')), 'onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      const file = grammarFiles[scopeName];
      if (!file) return null;
      return vsctm.parseRawGrammar(fs.readFileSync(file, 'utf8'), file);
    },
  });
  return registry.loadGrammar('source.kfl');
}

function tokenize(grammar, text) {
  const lines = text.split(/\r?\n/);
  let ruleStack = vsctm.INITIAL;
  const out = [];
  lines.forEach((line, i) => {
    const r = grammar.tokenizeLine(line, ruleStack);
    for (const t of r.tokens) {
      out.push({ line: i + 1, col: t.startIndex + 1, text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes });
    }
    ruleStack = r.ruleStack;
  });
  return { tokens: out, endStack: ruleStack };
}

function check(file, grammar) {
  const text = fs.readFileSync(file, 'utf8');
  const { tokens, endStack } = tokenize(grammar, text);
  const problems = [];
  for (const t of tokens) {
    if (t.scopes.some((s) => s.startsWith('invalid'))) {
      problems.push(`${file}:${t.line}:${t.col}: invalid token ${JSON.stringify(t.text)}: ${t.scopes.join(' ')}`);
    }
  }
  // Every `python """` / `sh """` must close on the `"""` that closes it in KFL (the first one).
  const lines = text.split(/\r?\n/);
  let scripts = 0;
  lines.forEach((line, i) => {
    const m = /\b(python|sh)\s*"""/.exec(line);
    if (!m) return;
    scripts++;
    const start = m.index + m[0].length;
    let j = i;
    let col = line.indexOf('"""', start);
    while (col < 0 && ++j < lines.length) col = lines[j].indexOf('"""');
    if (col < 0) return;
    const tok = tokens.find((t) => t.line === j + 1 && t.col === col + 1);
    if (!tok || !tok.scopes.includes('punctuation.definition.string.end.kfl')) {
      problems.push(`${file}:${j + 1}:${col + 1}: the script begun on line ${i + 1} does not end here: ` +
        (tok ? tok.scopes.join(' ') : 'no token starts here'));
    }
  });
  // At the end of the file nothing may still be open (the stack holds only the root rule).
  if (endStack.depth !== 1) {
    const last = tokens[tokens.length - 1];
    problems.push(`${file}: the file ends inside an open construct (${last ? last.scopes.join(' ') : '?'})`);
  }
  return { problems, scripts };
}

async function main() {
  const args = process.argv.slice(2);
  const grammar = await loadGrammar();
  if (args[0] === '--check') {
    let failed = 0;
    for (const file of args.slice(1)) {
      const { problems, scripts } = check(file, grammar);
      if (problems.length) {
        failed++;
        problems.forEach((p) => console.log(p));
      } else {
        console.log(`ok ${file} (${scripts} script blocks)`);
      }
    }
    process.exit(failed ? 1 : 0);
  }
  for (const file of args) {
    const { tokens } = tokenize(grammar, fs.readFileSync(file, 'utf8'));
    for (const t of tokens) {
      if (t.text.trim() === '') continue;
      console.log(`${t.line}:${t.col}\t${JSON.stringify(t.text)}\t${t.scopes.slice(1).join(' ')}`);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});

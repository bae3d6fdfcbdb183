#!/usr/bin/env bash
# Tests editors/tree-sitter-kfl, the tree-sitter grammar:
# 1. the committed src/parser.c (and grammar.json, node-types.json, the headers) is what grammar.js
#    generates: tree-sitter-cli 0.27.1 regenerates it in a temporary folder and the two must match;
# 2. the corpus (test/corpus/*.txt) passes `tree-sitter test` and names every node type;
# 3. conformance with the pest grammar (crates/kfl-tree-sitter/tests/conformance.rs, generated.rs);
# 4. the Helix and Zed manifests declare the grammar, the queries and `kflc lsp` (their structure:
#    neither editor runs here);
# 5. Neovim 0.7 (Debian's, no plugins) loads the parser compiled to a shared library with
#    vim.treesitter.require_language, highlights a real buffer with queries/highlights.scm, and gives
#    the tokens of tests/editors/highlight-classes.kfl the captures and highlight groups that
#    tests/editors/highlight-classes.txt lists for Neovim; after an edit that breaks the buffer, the
#    rest of it is still highlighted.
# tree-sitter-cli is built from source once (`cargo install`, a few minutes) into
# ~/.cache/kfl-tree-sitter-cli (KFL_TREE_SITTER_CLI_ROOT to change), a folder for CI to cache.
# `tree-sitter generate --js-runtime native` runs grammar.js with the CLI's own QuickJS, so Node.js is
# not needed (with Node.js the output is the same).
# Prints `N passed, M failed` last and exits non-zero on a failure.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GRAMMAR=$ROOT/editors/tree-sitter-kfl
CLI_VERSION=0.27.1
CLI_ROOT=${KFL_TREE_SITTER_CLI_ROOT:-$HOME/.cache/kfl-tree-sitter-cli}
TS=$CLI_ROOT/bin/tree-sitter

passed=0
failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
finish() {
  echo
  echo "$passed passed, $failed failed"
  [[ $failed == 0 ]]
  exit
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== tree-sitter-cli $CLI_VERSION =="
if ! "$TS" --version 2>/dev/null | grep -qx "tree-sitter $CLI_VERSION"; then
  echo "building tree-sitter-cli $CLI_VERSION into $CLI_ROOT (once; a few minutes)"
  # Its own target folder, so that the workspace's build cache is not touched.
  if ! CARGO_TARGET_DIR=$work/cli-target cargo install --locked --quiet tree-sitter-cli --version "$CLI_VERSION" --root "$CLI_ROOT"; then
    fail "cargo install tree-sitter-cli $CLI_VERSION"
    finish
  fi
fi
"$TS" --version

echo "== the committed parser is what grammar.js generates =="
mkdir -p "$work/generate"
cp "$GRAMMAR/grammar.js" "$GRAMMAR/tree-sitter.json" "$work/generate/"
if (cd "$work/generate" && "$TS" generate --abi 14 --js-runtime native) >"$work/generate.log" 2>&1; then
  stale=()
  for file in parser.c grammar.json node-types.json tree_sitter/parser.h tree_sitter/alloc.h tree_sitter/array.h; do
    cmp -s "$work/generate/src/$file" "$GRAMMAR/src/$file" || stale+=("src/$file")
  done
  if [[ ${#stale[@]} == 0 ]]; then
    ok "src/ matches grammar.js (tree-sitter generate --abi 14 --js-runtime native)"
  else
    fail "out of date: ${stale[*]} (run \`tree-sitter generate --abi 14 --js-runtime native\` in editors/tree-sitter-kfl and commit)"
    diff -u "$GRAMMAR/src/grammar.json" "$work/generate/src/grammar.json" | head -40
  fi
else
  fail "tree-sitter generate"
  cat "$work/generate.log"
fi

echo "== tree-sitter test (test/corpus) =="
# The CLI compiles the parser into its cache folder; keep that in the temporary folder.
if (cd "$GRAMMAR" && XDG_CACHE_HOME=$work/cache "$TS" test) >"$work/test.log" 2>&1; then
  ok "tree-sitter test: $(grep -c '✓' "$work/test.log") corpus tests pass"
else
  fail "tree-sitter test"
  sed 's/\x1b\[[0-9;]*m//g' "$work/test.log" | tail -60
fi

missing=$(python3 - "$GRAMMAR" <<'PY'
import glob, json, os, re, sys
grammar = sys.argv[1]
types = {t["type"] for t in json.load(open(os.path.join(grammar, "src/node-types.json"))) if t["named"]}
seen = set()
for path in glob.glob(os.path.join(grammar, "test/corpus/*.txt")):
    seen |= set(re.findall(r"\(([a-z_]+)", open(path).read()))
print(" ".join(sorted(types - seen)))
PY
)
if [[ -z $missing ]]; then
  ok "the corpus has every named node type of the grammar"
else
  fail "node types no corpus test has: $missing"
fi

echo "== conformance with the pest grammar (cargo test -p kfl-tree-sitter --test conformance --test generated) =="
if (cd "$ROOT" && cargo test --quiet -p kfl-tree-sitter --test conformance --test generated) >"$work/conformance.log" 2>&1; then
  ok "pest and tree-sitter agree on every file, snippet, mutation and generated file"
else
  fail "conformance with pest"
  tr '\0' '@' <"$work/conformance.log" | tail -60
fi

echo "== the Helix and Zed manifests wire the grammar, the queries and kflc lsp =="
while IFS= read -r line; do
  case $line in
    ok\ *) ok "${line#ok }" ;;
    *) fail "${line#FAIL }" ;;
  esac
done < <(python3 - "$ROOT" <<'PY'
import os, sys, tomllib
root = sys.argv[1]
def check(name, cond, why=""):
    print(f"ok {name}" if cond else f"FAIL {name}: {why}")
def load(path):
    with open(os.path.join(root, path), "rb") as f:
        return tomllib.load(f)
helix = load("editors/helix/languages.toml")
lang = helix["language"][0]
grammar = [g for g in helix.get("grammar", []) if g["name"] == "kfl"]
check("Helix: [[grammar]] kfl with a source", len(grammar) == 1 and "source" in grammar[0], helix.get("grammar"))
source = grammar[0]["source"] if grammar else {}
check("Helix: the grammar source is editors/tree-sitter-kfl",
      source.get("path", "").endswith("editors/tree-sitter-kfl") or source.get("subpath") == "editors/tree-sitter-kfl", source)
check("Helix: the kfl language uses the kfl grammar and the kflc server",
      lang.get("grammar", lang["name"]) == "kfl" and lang["language-servers"] == ["kflc"], lang)
server = helix["language-server"]["kflc"]
check("Helix: kflc is started as `kflc lsp`", server["command"] == "kflc" and server["args"] == ["lsp"], server)
queries = os.path.join(root, "editors/helix/runtime/queries/kfl")
check("Helix: highlights, injections, indents and textobjects queries",
      all(os.path.isfile(os.path.join(queries, f)) for f in ["highlights.scm", "injections.scm", "indents.scm", "textobjects.scm"]))
zed = load("editors/zed/extension.toml")
config = load("editors/zed/languages/kfl/config.toml")
check("Zed: extension.toml has an id, a name, a version and schema_version 1",
      all(k in zed for k in ["id", "name", "version"]) and zed.get("schema_version") == 1, zed)
check("Zed: the grammar kfl is editors/tree-sitter-kfl", zed["grammars"]["kfl"].get("path") == "editors/tree-sitter-kfl", zed["grammars"])
check("Zed: the language uses the kfl grammar for *.kfl", config["grammar"] == "kfl" and config["path_suffixes"] == ["kfl"], config)
check("Zed: the kflc language server serves the language", zed["language_servers"]["kflc"]["languages"] == [config["name"]], zed["language_servers"])
lib = open(os.path.join(root, "editors/zed/src/lib.rs")).read()
check("Zed: src/lib.rs starts `kflc lsp`", 'which("kflc")' in lib and '"lsp"' in lib)
check("Zed: highlights, injections, brackets, indents and outline queries",
      all(os.path.isfile(os.path.join(root, "editors/zed/languages/kfl", f)) for f in ["highlights.scm", "injections.scm", "brackets.scm", "indents.scm", "outline.scm"]))
PY
)

echo "== Neovim loads the parser and highlights a buffer with highlights.scm =="
if ! command -v nvim >/dev/null; then
  echo "installing neovim (apt)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim) >/dev/null ||
    { fail "install neovim"; finish; }
fi
nvim --version | head -1
if ! cc -shared -fPIC -O2 -std=c11 -I "$GRAMMAR/src" "$GRAMMAR/src/parser.c" "$GRAMMAR/src/scanner.c" -o "$work/kfl.so" 2>"$work/cc.log"; then
  fail "compile parser.c and scanner.c to a shared library"
  cat "$work/cc.log"
  finish
fi
ok "parser.c and scanner.c compile to a shared library"
# Neovim 0.7 reads queries/kfl/*.scm from the runtime path. injections.scm uses the
# @injection.content captures of Neovim 0.9 and later, so 0.7 gets highlights.scm only.
mkdir -p "$work/runtime/queries/kfl"
cp "$GRAMMAR/queries/highlights.scm" "$work/runtime/queries/kfl/"
out=$work/probe.json
cat >"$work/probe.lua" <<'LUA'
local out = { errors = {} }
local ok, err = pcall(vim.treesitter.require_language, 'kfl', vim.env.KFL_PARSER)
out.loaded = ok
if not ok then table.insert(out.errors, tostring(err)) end
local buf = vim.api.nvim_get_current_buf()
local parser = vim.treesitter.get_parser(buf, 'kfl')
local tree = parser:parse()[1]
out.has_error = tree:root():has_error()
local highlighter = vim.treesitter.highlighter.new(parser)
out.active = vim.treesitter.highlighter.active[buf] ~= nil
local hl_query = highlighter:get_query('kfl')
local query = hl_query:query()
-- Every capture of highlights.scm resolves to a highlight group (as drawing the buffer does).
out.unresolved = {}
for id, name in ipairs(query.captures) do
  local ok, group = pcall(function() return hl_query.hl_cache[id] end)
  if not ok or type(group) ~= 'number' then table.insert(out.unresolved, name .. ': ' .. tostring(group)) end
end
out.tokens = {}
for _, spec in ipairs(vim.fn.json_decode(vim.env.KFL_TOKENS)) do
  local row, col, len = spec[1] - 1, spec[2] - 1, spec[3]
  local text = vim.api.nvim_buf_get_text(buf, row, col, row, col + len, {})[1]
  -- Neovim draws every capture; for one node, the last pattern's is drawn last and wins.
  local capture, group
  for id, node in query:iter_captures(tree:root(), buf, row, row + 1) do
    local sr, sc, er, ec = node:range()
    local name = query.captures[id]
    if sr == row and sc == col and er == row and ec == col + len and name:sub(1, 1) ~= '_' then
      capture = name
      group = vim.fn.synIDattr(hl_query.hl_cache[id], 'name')
    end
  end
  table.insert(out.tokens, { text = text, capture = capture or '', group = group or '' })
end
-- Break line 6 of the buffer: the file has an error, and a later task is still highlighted.
vim.api.nvim_buf_set_lines(buf, 5, 6, false, { '    image = = (' })
tree = parser:parse()[1]
out.broken_has_error = tree:root():has_error()
out.after_error = ''
for id, node in query:iter_captures(tree:root(), buf, 18, 19) do
  local sr, sc, er, ec = node:range()
  if sr == 18 and sc == 12 and ec == 12 + #'train_model' then out.after_error = query.captures[id] end
end
vim.fn.writefile({ vim.fn.json_encode(out) }, vim.env.KFL_PROBE_OUT)
vim.cmd('qa!')
LUA
# The rows of the table: line, column, length, token, Neovim's capture.
python3 - "$ROOT/tests/editors/highlight-classes.txt" >"$work/tokens.json" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1]):
    if line.startswith('#') or not line.strip():
        continue
    cls, pos, token, nvim, _helix, _zed = [c.strip() for c in line.split('|')]
    l, c = pos.split(':')
    rows.append([int(l), int(c), len(token.encode()), token, nvim, cls])
json.dump(rows, sys.stdout)
PY
KFL_PARSER=$work/kfl.so KFL_TOKENS=$(cat "$work/tokens.json") KFL_PROBE_OUT=$out timeout 120 \
  nvim --headless --clean -u NONE --cmd "set runtimepath^=$work/runtime" \
  "$ROOT/tests/editors/highlight-classes.kfl" -c "luafile $work/probe.lua" >"$work/nvim.out" 2>&1
status=$?
if [[ $status != 0 || ! -s $out ]]; then
  fail "Neovim ran the probe (exit $status)"
  cat "$work/nvim.out"
  finish
fi
while IFS= read -r line; do
  case $line in
    ok\ *) ok "${line#ok }" ;;
    *) fail "${line#FAIL }" ;;
  esac
done < <(python3 - "$out" "$work/tokens.json" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
rows = json.load(open(sys.argv[2]))
def check(name, cond, why=""):
    print(f"ok {name}" if cond else f"FAIL {name}: {why}")
check("vim.treesitter.require_language loads the parser", out["loaded"], out["errors"])
check("the sample parses without errors in Neovim", not out["has_error"])
check("a highlighter is active on the buffer", out["active"])
check("every capture of highlights.scm resolves to a highlight group", out["unresolved"] == [], out["unresolved"])
# Neovim 0.7 draws a capture with the group kfl<Group>, linked to <Group> of its table of captures
# (vim.treesitter.highlighter.hl_map; `a.b` falls back to `a`).
groups = {"keyword": "Keyword", "conditional": "Conditional", "repeat": "Repeat", "type": "Type",
          "type.builtin": "Type", "number": "Number", "string": "String", "comment": "Comment",
          "field": "Identifier", "parameter": "Identifier", "label": "Label", "function": "Function"}
def group(capture):
    while capture not in groups and "." in capture:
        capture = capture.rsplit(".", 1)[0]
    return "kfl" + groups.get(capture, "?")
for (line, col, _len, token, capture, cls), got in zip(rows, out["tokens"]):
    check(f"{cls} `{token}` at {line}:{col} is @{capture}, drawn as {group(capture)}",
          got["text"] == token and got["capture"] == capture and got["group"] == group(capture), got)
check("after an edit that breaks line 6, the task call on line 19 is still @function.call",
      out["broken_has_error"] and out["after_error"] == "function.call", (out["broken_has_error"], out["after_error"]))
check("every token of the table was probed", len(out["tokens"]) == len(rows) > 30, len(out["tokens"]))
PY
)

finish

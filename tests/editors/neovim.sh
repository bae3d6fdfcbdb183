#!/usr/bin/env bash
# Tests editors/neovim in a real, headless Neovim (Debian's 0.7.2; installed if missing): filetype
# detection, the ftplugin's settings, the syntax file (including the embedded Python and shell), and
# the 0.7 LSP snippet, which must start the configured server command, attach every KFL buffer of a
# project to one client and send it the files. The server is tests/editors/fake-lsp.py, a stand-in
# that records what Neovim sends, so that the test does not depend on `kflc lsp`. The 0.8 snippet
# (vim.lsp.start) cannot run on 0.7: it is only compiled. When kflc has the `lsp` subcommand (kflc is
# built with cargo unless KFLC names a binary), the 0.7 snippet is also run against the real
# `kflc lsp`, which must publish the checker's diagnostic for a file with a type error.
# Prints `N passed, M failed` last and exits non-zero on a failure.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NVIM_DIR=$ROOT/editors/neovim

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

if ! command -v nvim >/dev/null; then
  echo "== installing neovim (apt) =="
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim) >/dev/null ||
    { fail "install neovim"; finish; }
fi
nvim --version | head -1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
project=$work/project
mkdir -p "$project/sub"
git -C "$project" init -q
cat >"$project/train.kfl" <<'KFL'
/// Counts the rows.
component count_rows {
    image = "python:3.11-slim"
    input data: Dataset
    output rows: Int
    resources { cpu = 500m, memory = 1Gi }
    python """
        import csv
        rows = sum(1 for _ in open(data.path))
    """
}

component echo_rows {
    image = "busybox:1.36"
    input rows: Int
    sh """
        echo "$rows rows"
    """
}
KFL
printf 'pipeline p() {\n    description = "x"\n}\n' >"$project/sub/other.kfl"

log=$work/lsp.log
out=$work/probe.json
cat >"$work/init.lua" <<LUA
vim.opt.runtimepath:prepend('$NVIM_DIR')
vim.cmd('filetype plugin on')
vim.cmd('syntax on')
vim.g.kfl_lsp_cmd = { 'python3', '$ROOT/tests/editors/fake-lsp.py', '$log', 'lsp' }
dofile('$NVIM_DIR/lsp-nvim-0.7.lua')
LUA
cat >"$work/probe.lua" <<'LUA'
local out = {}
local function syn(line, col)
  return vim.fn.synIDattr(vim.fn.synID(line, col, 1), 'name')
end
out.filetype = vim.bo.filetype
out.commentstring = vim.bo.commentstring
out.comments = vim.bo.comments
out.shiftwidth = vim.bo.shiftwidth
out.expandtab = vim.bo.expandtab
out.syntax = vim.b.current_syntax or ''
out.syn = {
  doc = syn(1, 1),              -- ///
  component = syn(2, 1),        -- component
  name = syn(2, 11),            -- count_rows
  string = syn(3, 14),          -- "python:3.11-slim"
  input = syn(4, 5),            -- input
  dataset = syn(4, 17),         -- Dataset
  int = syn(5, 18),             -- Int
  number = syn(6, 23),          -- 500 of 500m
  unit = syn(6, 26),            -- m of 500m
  python_import = syn(8, 9),    -- import (Python)
  python_end = syn(10, 5),      -- closing """
  sh_echo = syn(17, 9),         -- echo (shell)
}
out.attached = vim.wait(15000, function()
  return #vim.lsp.buf_get_clients(0) > 0
end, 50)
local first = {}
for id, client in pairs(vim.lsp.buf_get_clients(0)) do
  table.insert(first, { id = id, name = client.name })
end
out.first = first
vim.cmd('edit ' .. vim.fn.fnameescape(vim.fn.expand('%:p:h') .. '/sub/other.kfl'))
vim.wait(15000, function()
  return #vim.lsp.buf_get_clients(0) > 0
end, 50)
local second = {}
for id, client in pairs(vim.lsp.buf_get_clients(0)) do
  table.insert(second, { id = id, name = client.name })
end
out.second = second
out.second_filetype = vim.bo.filetype
-- Give the server time to log didOpen of the second file.
vim.wait(1000, function() return false end, 50)
vim.fn.writefile({ vim.fn.json_encode(out) }, vim.env.KFL_PROBE_OUT)
vim.cmd('qa!')
LUA

echo "== headless Neovim with editors/neovim and lsp-nvim-0.7.lua =="
(cd "$project" && KFL_PROBE_OUT=$out timeout 120 nvim --headless -u "$work/init.lua" train.kfl \
  -c "luafile $work/probe.lua") >"$work/nvim.out" 2>&1
status=$?
if [[ $status != 0 || ! -s $out ]]; then
  fail "Neovim ran the probe (exit $status)"
  cat "$work/nvim.out"
  finish
fi
ok "Neovim ran the probe"

# Each line of check.py's output is `ok NAME` or `FAIL NAME: why`.
while IFS= read -r line; do
  case $line in
    ok\ *) ok "${line#ok }" ;;
    *) fail "${line#FAIL }" ;;
  esac
done < <(python3 - "$out" "$log" "$project" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
log = [json.loads(l) for l in open(sys.argv[2])] if sys.argv[2] else []
project = sys.argv[3]

def check(name, cond, why=""):
    print(f"ok {name}" if cond else f"FAIL {name}: {why}")

check("*.kfl has filetype kfl", out["filetype"] == "kfl", out["filetype"])
check("commentstring is '// %s'", out["commentstring"] == "// %s", out["commentstring"])
check("comments know /// and //", out["comments"] == ":///,://", out["comments"])
check("4-space indentation", out["shiftwidth"] == 4 and out["expandtab"], f'{out["shiftwidth"]} {out["expandtab"]}')
check("syntax/kfl.vim is loaded", out["syntax"] == "kfl", out["syntax"])
expect = {
    "doc": "kflDocComment", "component": "kflDeclaration", "name": "kflDeclName",
    "string": "kflString", "input": "kflInputOutput", "dataset": "kflArtifactType",
    "int": "kflBuiltinType", "number": "kflNumber", "unit": "kflUnit",
    "python_end": "kflTripleString",
}
for key, group in expect.items():
    check(f"syntax group of {key} is {group}", out["syn"][key] == group, out["syn"][key])
check("Python is highlighted inside python \"\"\"", out["syn"]["python_import"].startswith("python"), out["syn"]["python_import"])
check("shell is highlighted inside sh \"\"\"", out["syn"]["sh_echo"].startswith("sh"), out["syn"]["sh_echo"])
check("the LSP client attached to the KFL buffer", out["attached"] and [c["name"] for c in out["first"]] == ["kflc"], out["first"])
check("the second KFL file of the project shares the client",
      out["second_filetype"] == "kfl" and [c["id"] for c in out["second"]] == [c["id"] for c in out["first"]],
      f'{out["first"]} vs {out["second"]}')
methods = [e["method"] for e in log]
started = [e for e in log if e["method"] == "(started)"]
check("exactly one server process was started, with the configured command", len(started) == 1 and started[0]["args"] == ["lsp"], started)
init = [e for e in log if e["method"] == "initialize"]
check("initialize with the project root", len(init) == 1 and (init[0]["rootUri"] or "").endswith(project.rstrip("/")), init)
check("initialized was sent", "initialized" in methods, methods)
opened = [e for e in log if e["method"] == "textDocument/didOpen"]
uris = sorted(e["uri"].rsplit("/", 1)[-1] for e in opened)
check("didOpen for both files, as languageId kfl",
      uris == ["other.kfl", "train.kfl"] and all(e.get("languageId") == "kfl" for e in opened), opened)
PY
)

echo "== the real kflc lsp =="
if [[ -z ${KFLC:-} ]]; then
  echo "building kflc (cargo build --bin kflc)"
  (cd "$ROOT" && cargo build --quiet --bin kflc) && KFLC=${CARGO_TARGET_DIR:-$ROOT/target}/debug/kflc
fi
if [[ -z ${KFLC:-} ]]; then
  fail "cargo build --bin kflc"
elif ! "$KFLC" --help | grep -q '^  lsp'; then
  fail "kflc has no lsp subcommand"
else
  cat >"$project/bad.kfl" <<'KFL'
component count_to {
    image = "busybox:1.36"
    input n: Int
    sh "seq $n"
}

pipeline counting() {
    count_to(n: "three")
}
KFL
  cat >"$work/init-real.lua" <<LUA
vim.opt.runtimepath:prepend('$NVIM_DIR')
vim.g.kfl_lsp_cmd = { '$KFLC', 'lsp' }
dofile('$NVIM_DIR/lsp-nvim-0.7.lua')
LUA
  cat >"$work/probe-real.lua" <<'LUA'
vim.wait(30000, function() return #vim.diagnostic.get(0) > 0 end, 100)
local lines = {}
for _, d in ipairs(vim.diagnostic.get(0)) do
  table.insert(lines, string.format('%d:%d %s %s', d.lnum + 1, d.col + 1, tostring(d.code), d.message))
end
vim.fn.writefile(lines, vim.env.KFL_PROBE_OUT)
vim.cmd('qa!')
LUA
  (cd "$project" && KFL_PROBE_OUT=$work/real.txt timeout 120 nvim --headless -u "$work/init-real.lua" bad.kfl \
    -c "luafile $work/probe-real.lua") >"$work/nvim-real.out" 2>&1
  if grep -q '^8:17 E0201 ' "$work/real.txt" 2>/dev/null; then
    ok "kflc lsp, started by lsp-nvim-0.7.lua, reports E0201 at 8:17: $(cut -d' ' -f3- "$work/real.txt" | head -1)"
  else
    fail "kflc lsp diagnostics in Neovim"
    cat "$work/real.txt" "$work/nvim-real.out" 2>/dev/null
  fi
fi

echo "== lsp-nvim-0.8.lua compiles (vim.lsp.start needs Neovim 0.8; this is 0.7) =="
if nvim --headless -u NONE -c "lua assert(loadfile('$NVIM_DIR/lsp-nvim-0.8.lua'))" -c 'qa!' >"$work/compile.out" 2>&1 &&
  ! grep -q . "$work/compile.out"; then
  ok "lsp-nvim-0.8.lua compiles"
else
  fail "lsp-nvim-0.8.lua compiles"
  cat "$work/compile.out"
fi

finish

#!/usr/bin/env bash
# Tests editors/vscode, the VS Code extension, from a clean checkout:
#   - `npm ci` (exact versions from package-lock.json) and `npm run compile` (tsc, then mermaid's
#     browser build copied into media/mermaid/);
#   - which kflc the extension runs (test/resolve.test.js, test/activate.test.js, in plain Node):
#     `kfl.server.path`, then the bundled server, then PATH; a bad setting shown once;
#   - "KFL: Open run viewer" (test/run-viewer.test.js): a file's newest run, the real `kflc ui`
#     started once per runs folder and stopped with the extension, the run's page opened;
#   - the TextMate grammar: vscode-tmgrammar-test on test/grammar/*.kfl, whose scope assertions
#     cover every construct (with the real Python and shell grammars loaded, so the embedded
#     highlighting is tested too); the grammar test files parse as KFL; every example in examples/
#     tokenizes without an `invalid` scope and with each script block ending where KFL ends it;
#   - the snippets: each one, expanded with its defaults, parses as KFL, and the component
#     snippets check without an error;
#   - the package: `vsce package` builds a .vsix that holds the grammar, the language configuration,
#     the snippets, the compiled client, the graph page and mermaid, and no sources or dev
#     dependencies, and whose entry point loads with only the modules inside the .vsix;
#   - the graph view: the webview page, built by the extension's own code with its strict CSP, is
#     opened in headless Chromium (installed with apt if missing) and mermaid draws the graph
#     (no network: the page may load only its own files).
# Needs Node 20 and npm (installed with apt if missing) and builds kflc (`cargo build`) unless
# KFLC names a kflc binary. Prints `N passed, M failed` last and exits non-zero on a failure.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EXT=$ROOT/editors/vscode
VSCE_VERSION=3.9.2

passed=0
failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
step() { printf '\n== %s ==\n' "$*"; }
finish() {
  echo
  echo "$passed passed, $failed failed"
  [[ $failed == 0 ]]
  exit
}
apt_install() {
  echo "installing $* (apt)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@") >/dev/null
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step "tools"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt_install nodejs npm || { fail "install node and npm"; finish; }
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
echo "node $(node --version), npm $(npm --version)"
if ((node_major < 20)); then
  fail "Node 20 or later is needed (vsce $VSCE_VERSION); found $(node --version)"
  finish
fi
if [[ -n ${KFLC:-} ]]; then
  echo "kflc: $KFLC"
else
  echo "building kflc (cargo build --bin kflc)"
  if (cd "$ROOT" && cargo build --quiet --bin kflc); then
    KFLC=${CARGO_TARGET_DIR:-$ROOT/target}/debug/kflc
  else
    fail "cargo build --bin kflc"
    finish
  fi
fi

step "npm ci"
cd "$EXT" || exit 1
if npm ci --no-audit --no-fund --loglevel=error; then ok "npm ci"; else fail "npm ci"; finish; fi

step "compile"
if npm run --silent compile && [[ -f out/extension.js && -f out/graphHtml.js && -f media/mermaid/mermaid.min.js ]]; then
  ok "tsc and the mermaid copy"
else
  fail "npm run compile"
  finish
fi

step "which kflc the extension runs (setting, bundled, PATH) and how it reports a bad setting"
if node test/resolve.test.js out; then ok "kfl.server.path, then the bundled server, then PATH"; else fail "resolve.test.js"; fi
if node test/activate.test.js .; then ok "a bad kfl.server.path is logged each time and shown once"; else fail "activate.test.js"; fi

step "KFL: Open run viewer (the real kflc ui over hand-made runs)"
if timeout 120 node test/run-viewer.test.js out "$KFLC"; then
  ok "the file's newest run found, kflc ui started once and stopped, its page opened in the browser"
else
  fail "run-viewer.test.js"
fi

step "grammar tests (vscode-tmgrammar-test)"
npx --no-install vscode-tmgrammar-test \
  -g node_modules/tm-grammars/grammars/python.json \
  -g node_modules/tm-grammars/grammars/shellscript.json \
  "test/grammar/*.kfl" >"$work/tmgrammar.out" 2>&1
tm_status=$?
cat "$work/tmgrammar.out"
tm_files=$(ls test/grammar/*.kfl | wc -l)
tm_ok=$(grep -c '^✓' "$work/tmgrammar.out")
tm_assertions=$(grep -c '^// *\(\^\|<[~]*-\)' test/grammar/*.kfl | awk -F: '{s += $2} END {print s}')
echo "vscode-tmgrammar-test: $tm_ok of $tm_files test files passed ($tm_assertions assertion lines), exit $tm_status"
if [[ $tm_status == 0 && $tm_ok == "$tm_files" && $tm_files -ge 4 ]]; then
  ok "grammar tests: $tm_ok files, $tm_assertions assertion lines"
else
  fail "grammar tests"
fi

step "grammar test files are KFL"
for f in test/grammar/*.kfl; do
  "$KFLC" check --format json "$f" >"$work/check.json" 2>/dev/null
  if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(any(x["code"]=="E0001" for x in d))' "$work/check.json"; then
    ok "$f parses"
  else
    fail "$f has a syntax error (E0001)"
    "$KFLC" check "$f"
  fi
done

step "the grammar on examples/"
mapfile -t examples < <(find "$ROOT/examples" -name '*.kfl' | sort)
if node scripts/tokenize.js --check "${examples[@]}"; then
  ok "${#examples[@]} examples tokenize cleanly"
else
  fail "the grammar on examples/"
fi

step "snippets"
node scripts/expand-snippets.js "$work/snippets" >"$work/snippets.list" || fail "expand snippets"
while IFS=$'\t' read -r file where name; do
  "$KFLC" check --format json "$file" >"$work/check.json" 2>/dev/null
  errors=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(sorted({x["code"] for x in d if x["severity"]=="error"})))' "$work/check.json")
  case $name in
    Component*)
      if [[ -z $errors ]]; then ok "snippet \"$name\" checks without errors"; else
        fail "snippet \"$name\": $errors"; cat "$file"; "$KFLC" check "$file"
      fi ;;
    *)
      if [[ $errors != *E0001* ]]; then ok "snippet \"$name\" parses (in a $where)"; else
        fail "snippet \"$name\": syntax error"; cat "$file"; "$KFLC" check "$file"
      fi ;;
  esac
done <"$work/snippets.list"

step "package (vsce $VSCE_VERSION)"
# The universal .vsix carries no server (scripts/release puts one in server/ only for --target).
if [[ -e server ]]; then fail "editors/vscode/server exists: the universal .vsix would carry it"; fi
vsix=$work/kfl.vsix
if npx --yes "@vscode/vsce@$VSCE_VERSION" package --allow-missing-repository --out "$vsix" >"$work/vsce.out" 2>&1; then
  tail -3 "$work/vsce.out"
  ok "vsce package"
else
  cat "$work/vsce.out"
  fail "vsce package"
  finish
fi
mkdir -p "$work/vsix"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$vsix" "$work/vsix"
for f in extension/package.json extension/syntaxes/kfl.tmLanguage.json extension/language-configuration.json \
  extension/snippets/kfl.json extension/out/extension.js extension/out/graphPanel.js extension/out/graphHtml.js \
  extension/out/runViewer.js extension/media/graph.js extension/media/graph.css extension/media/mermaid/mermaid.min.js \
  extension/node_modules/vscode-languageclient/package.json extension/readme.md; do
  if [[ -s $work/vsix/$f ]]; then ok "the .vsix holds $f"; else fail "the .vsix lacks $f"; fi
done
for f in extension/src extension/test extension/scripts extension/node_modules/mermaid \
  extension/node_modules/typescript extension/node_modules/vscode-tmgrammar-test extension/node_modules/@vscode; do
  if [[ -e $work/vsix/$f ]]; then fail "the .vsix should not hold $f"; else ok "the .vsix leaves out $f"; fi
done
if cmp -s "$work/vsix/extension/syntaxes/kfl.tmLanguage.json" syntaxes/kfl.tmLanguage.json; then
  ok "the packaged grammar is the tested one"
else
  fail "the packaged grammar differs from syntaxes/kfl.tmLanguage.json"
fi
if python3 - "$work/vsix/extension/package.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
c = p["contributes"]
assert p["main"] == "./out/extension.js"
assert [l["id"] for l in c["languages"]] == ["kfl"] and c["languages"][0]["extensions"] == [".kfl"]
g = c["grammars"][0]
assert g["scopeName"] == "source.kfl" and g["embeddedLanguages"]["meta.embedded.block.python"] == "python"
assert {x["command"] for x in c["commands"]} >= {"kfl.showGraph", "kfl.restartServer"}
props = c["configuration"]["properties"]
assert props["kfl.server.path"]["default"] == "" and props["kfl.server.extraArgs"]["default"] == []
assert p["dependencies"]["vscode-languageclient"].startswith("9.")
PY
then ok "the manifest registers the language, grammar, commands and settings"; else fail "the packaged package.json"; fi
if node test/load-vsix.js "$work/vsix/extension/out/extension.js"; then
  ok "the packaged client loads from the .vsix alone"
else
  fail "the packaged client does not load from the .vsix alone"
fi

step "graph view in headless Chromium"
chromium=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $chromium ]]; then
  apt_install chromium || fail "install chromium"
  chromium=$(command -v chromium || true)
fi
render() { # render SLUG LABEL DIAGRAM_FILE
  local slug=$1 name=$2 diagram=$3 page=$work/$1.html dom=$work/$1.dom.html
  node test/render-graph.js "$work/vsix/extension" "$diagram" "$page" || { fail "$name: write the page"; return; }
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run --disable-dev-shm-usage \
    --user-data-dir="$work/chromium-profile" --virtual-time-budget=20000 --dump-dom "file://$page" \
    >"$dom" 2>"$work/$slug.chromium.log"
  if ! grep -q '<button id="runs"' "$dom"; then fail "$name: no Open run viewer button"; fi
  if grep -q 'data-state="rendered"' "$dom" && grep -q '<svg' "$dom"; then
    ok "$name: mermaid drew the graph under the webview's CSP ($(grep -o '<g class="node' "$dom" | wc -l) nodes)"
  else
    fail "$name: no graph was drawn"
    grep -o '<pre id="error"[^<]*' "$dom" | head -3
    tail -5 "$work/$slug.chromium.log"
  fi
}
if [[ -n $chromium ]]; then
  "$chromium" --version
  render sample "test/sample-graph.mmd" test/sample-graph.mmd
  if "$KFLC" --help | grep -q '^  graph'; then
    for example in quickstart simple_training; do
      if "$KFLC" graph "$ROOT/examples/$example.kfl" --format mermaid >"$work/$example.mmd" 2>"$work/$example.err"; then
        render "$example" "kflc graph examples/$example.kfl" "$work/$example.mmd"
      else
        fail "kflc graph examples/$example.kfl --format mermaid"; cat "$work/$example.err"
      fi
    done
  else
    fail "kflc has no graph subcommand"
  fi
fi

finish

#!/usr/bin/env bash
# End-to-end tests of the KFL language server with real clients:
#   1. the pytest-lsp suite (tests/lsp/test_*.py), in a venv at tests/lsp/.venv with pinned packages;
#   2. a headless Neovim 0.7 smoke test (tests/lsp/nvim_smoke.lua), installing Debian's neovim if
#      it is missing.
# The server command is $KFL_LSP_CMD if set, else `$CARGO_TARGET_DIR/debug/kflc lsp` (default
# target/) when kflc has that subcommand, else `…/debug/kfl-lsp`. Exits non-zero if anything fails.
# Options: --bench also runs the latency benchmark (tests/lsp/bench.py) on a release build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
# Where cargo puts what it builds (run-all.sh sets CARGO_TARGET_DIR).
target=${CARGO_TARGET_DIR:-$root/target}

bench=0
for arg in "$@"; do
  case "$arg" in
    --bench) bench=1 ;;
    *) echo "usage: tests/lsp/run.sh [--bench]" >&2; exit 2 ;;
  esac
done

echo "== build =="
cargo build --quiet -p kfl-lsp --bin kfl-lsp
# kflc (the root package) serves `kflc lsp`; if it does not build, the suite still runs on kfl-lsp.
if ! cargo build --quiet; then
  echo "note: kflc did not build; testing $target/debug/kfl-lsp"
  kflc_broken=1
fi

if [[ -z "${KFL_LSP_CMD:-}" ]]; then
  if [[ -z "${kflc_broken:-}" ]] && "$target/debug/kflc" --help 2>/dev/null | grep -qE '^\s+lsp\b'; then
    KFL_LSP_CMD="$target/debug/kflc lsp"
  else
    KFL_LSP_CMD="$target/debug/kfl-lsp"
  fi
fi
export KFL_LSP_CMD
echo "server: $KFL_LSP_CMD"

echo "== python venv =="
venv="$here/.venv"
stamp="$venv/.requirements"
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi

status=0

echo "== pytest-lsp =="
if ! (cd "$here" && "$venv/bin/python" -m pytest -q -p no:cacheprovider); then
  status=1
fi

echo "== neovim =="
if ! command -v nvim >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim >/dev/null
  fi
fi
if ! command -v nvim >/dev/null 2>&1; then
  echo "FAIL: neovim is not installed and could not be installed"
  status=1
else
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  cp -r "$here/workspace" "$scratch/workspace"
  out="$scratch/nvim.out"
  if KFL_NVIM_ROOT="$scratch/workspace" timeout 120 \
      nvim --headless --clean -c "luafile $here/nvim_smoke.lua" >"$out" 2>&1 </dev/null; then
    nvim_rc=0
  else
    nvim_rc=$?
  fi
  if grep -q '^PASS: ' "$out" && [[ $nvim_rc == 0 ]]; then
    grep '^PASS: ' "$out"
  else
    cat "$out"
    grep -q '^FAIL: ' "$out" || echo "FAIL: neovim smoke test exited with $nvim_rc"
    status=1
  fi
fi

if [[ $bench == 1 ]]; then
  echo "== benchmark (release build) =="
  cargo build --quiet --release -p kfl-lsp --bin kfl-lsp
  if ! python3 "$here/bench.py" "$target/release/kfl-lsp"; then
    status=1
  fi
fi

exit $status

#!/usr/bin/env bash
# Runs every test of the project, from a clean clone, installing what the tests need itself
# (Python venvs for kfp and pytest-lsp, npm packages for the VS Code extension, Debian packages
# such as neovim and graphviz, the local Kubernetes API server from ../shared/tools/k8s-testenv).
# This is the README's test command and what CI runs (.ci/run calls it).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TERM_COLOR=never
# One build cache for the workspace and the fuzz crate.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}

passed=0
failed=0
failures=()
started=$(date +%s)
# /dev/null must be the null device. On one machine it was a regular file: whatever a build
# script wrote to it (`cc -? 2>/dev/null` leaves `cc: error: unrecognized command-line option`
# there) was read back by the next process whose standard input is "null", such as cargo's
# `rustc -` target probe, which then failed on that text as its program; cargo caches the failed
# probe in target/.rustc_info.json and every later cargo command failed. So before each suite the
# device is checked, put back if it is not one (we run as root in CI), and a failed probe cached
# while it was broken is forgotten.
null_checked_after=start
ensure_null_device() {
  if [[ ! -c /dev/null ]]; then
    echo "note: /dev/null is not the null device (found after: $null_checked_after); putting it back"
    if mknod -m 666 /dev/null.kfl-$$ c 1 3 2>/dev/null && mv -f /dev/null.kfl-$$ /dev/null; then
      :
    else
      rm -f /dev/null.kfl-$$ 2>/dev/null
      echo "warning: could not restore /dev/null; cargo and other tools may read garbage from it" >&2
    fi
  fi
  local info=$CARGO_TARGET_DIR/.rustc_info.json
  if [[ -f $info ]] && grep -q '"success":false' "$info"; then
    echo "note: dropping a failed rustc probe cached in $info"
    rm -f "$info"
  fi
}
ensure_null_device
# No test reads what the caller's standard input holds.
exec </dev/null
run() {
  local name=$1
  shift
  printf '\n== %s ==\n' "$name"
  local t0
  t0=$(date +%s)
  ensure_null_device
  if "$@"; then
    passed=$((passed + 1))
    echo "-- $name: ok ($(($(date +%s) - t0))s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "-- $name: FAILED ($(($(date +%s) - t0))s)"
  fi
  null_checked_after=$name
}

# The local Kubernetes API server takes minutes to build the first time: start that early, in the
# background, while Rust compiles. Its tests wait for it.
if [[ -x ../shared/tools/k8s-testenv ]]; then
  # On a fresh clone the target folder does not exist yet.
  mkdir -p "$CARGO_TARGET_DIR"
  (../shared/tools/k8s-testenv build >"$CARGO_TARGET_DIR/k8s-testenv-build.log" 2>&1 &)
fi

run "rustfmt" cargo fmt --all -- --check
# --all-targets includes the benchmarks, so clippy also proves they compile.
run "layering: no syntax below the checker, no kube in the core (cargo tree)" bash tests/layering.sh
run "clippy (-D warnings, benches included)" cargo clippy --workspace --all-targets --quiet -- -D warnings
run "cargo test (every crate: unit, data-driven, snapshots, kfp-validate, API server)" cargo test --workspace --no-fail-fast
run "kflc check examples/" "$CARGO_TARGET_DIR/debug/kflc" check examples
run "kflc fmt --check examples/" "$CARGO_TARGET_DIR/debug/kflc" fmt --check examples
run "kflc run examples/quickstart.kfl" "$CARGO_TARGET_DIR/debug/kflc" run examples/quickstart.kfl --isolation host --root "$CARGO_TARGET_DIR/kfl-runs"
run "kflc run and kfp.local agree on the quick-start" bash tests/crosscheck/kfp-local.sh
run "kflc run gives each GPU task its own devices (fake nvidia-smi on PATH)" bash tests/run/gpu-assignment.sh
run "kflc ui in headless Chromium (runs list, DAG states, log, CSV preview, escaping)" bash tests/ui/run.sh
run "fuzz targets build and replay" bash fuzz/smoke.sh
# Coverage-guided: each target fuzzed for FUZZ_SECONDS (30) from its committed corpus.
run "fuzzing: every target for ${FUZZ_SECONDS:-30}s (instrumented, stable Rust)" bash fuzz/run.sh
run "graphviz accepts kflc graph --format dot" bash crates/kfl-dag/tests/graphviz.sh
run "component images (podman/buildah, local registry)" bash tests/images/run.sh
run "kflc run in real containers (podman: mounts, network, secrets, signals)" bash tests/containers/run.sh
run "language server with real clients (pytest-lsp, Neovim)" bash tests/lsp/run.sh
run "VS Code extension (grammar tests, vsce package)" bash tests/editors/vscode.sh
run "Neovim and Helix set-ups" bash tests/editors/neovim.sh
run "tree-sitter grammar (generate check, corpus, conformance with pest, Neovim)" bash tests/editors/tree-sitter.sh
run "pre-commit language: rust hooks (one cargo install, two runs)" bash tests/editors/pre-commit.sh
run "distribution (wheel without Rust, bundled VS Code server, pre-commit from the wheel)" bash tests/dist/run.sh

printf '\n== summary ==\n'
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "total time: $(($(date +%s) - started))s"
echo "test suites: $passed passed, $failed failed"
[[ $failed == 0 ]]

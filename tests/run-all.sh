#!/usr/bin/env bash
# Runs every test of the project, from a clean clone, installing what the tests need.
# This is the README's test command and what CI runs (.ci/run calls it).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s ==\n' "$*"; }
passed=0
failed=0
run() {
  local name=$1; shift
  step "$name"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $name"; fi
}

export CARGO_TERM_COLOR=never

run "rustfmt" cargo fmt --all -- --check
run "clippy (-D warnings)" cargo clippy --workspace --all-targets --quiet -- -D warnings
run "cargo test (workspace)" cargo test --workspace --quiet
run "benchmarks compile" cargo bench --workspace --no-run --quiet
run "kflc check examples/" cargo run --quiet -- check examples
run "kflc fmt --check examples/" cargo run --quiet -- fmt --check examples
if [[ -x fuzz/smoke.sh ]]; then
  run "fuzz targets build and replay" fuzz/smoke.sh
fi

step "summary"
echo "test suites: $passed passed, $failed failed"
[[ $failed == 0 ]]

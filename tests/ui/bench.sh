#!/usr/bin/env bash
# kflc ui at scale (a benchmark, not a CI gate): a 1,000-task run page and a 1,000-run list in
# headless Chromium. KFLC may name the kflc binary (default: a release build).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [[ -z ${KFLC:-} ]]; then
  (cd "$root" && cargo build --quiet --release --bin kflc) || exit 1
  KFLC=${CARGO_TARGET_DIR:-$root/target}/release/kflc
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$here/bench.py" "$KFLC" "$work"

#!/usr/bin/env bash
# Graphviz must accept every DOT drawing, without a warning: `dot -Tsvg` runs over
# - the DOT snapshots of tests/render.rs (every example pipeline and the escaping case), which that
#   test keeps equal to what `kfl_dag::render::dot` writes, and
# - `kflc graph FILE --pipeline NAME --format dot` for every example pipeline, once the CLI has it.
# Installs graphviz (Debian's package) when `dot` is missing. Run from anywhere:
#   bash crates/kfl-dag/tests/graphviz.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"

if ! command -v dot >/dev/null 2>&1; then
  sudo=""
  if [[ $(id -u) != 0 ]]; then sudo="sudo"; fi
  echo "installing graphviz"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq graphviz >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# check NAME FILE: Graphviz renders FILE with no message at all.
check() {
  if dot -Tsvg "$2" -o "$work/out.svg" 2>"$work/messages" && [[ ! -s $work/messages ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $1"
    cat "$work/messages"
  fi
}

shopt -s nullglob
snapshots=("$here"/snapshots/render__*_dot.snap)
if [[ ${#snapshots[@]} == 0 ]]; then
  echo "no DOT snapshots in $here/snapshots"
  exit 1
fi
for snapshot in "${snapshots[@]}"; do
  # An insta snapshot: a `---` header, then the text.
  awk 'n >= 2 { print } /^---$/ { n++ }' "$snapshot" >"$work/snapshot.dot"
  check "$(basename "$snapshot")" "$work/snapshot.dot"
done

if cargo run --quiet -- graph --help >/dev/null 2>&1; then
  while IFS= read -r file; do
    for pipeline in $(sed -n 's/^pipeline \([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' "$file"); do
      if cargo run --quiet -- graph "$file" --pipeline "$pipeline" --format dot >"$work/cli.dot"; then
        check "kflc graph $file --pipeline $pipeline" "$work/cli.dot"
      else
        failed=$((failed + 1))
        echo "FAILED: kflc graph $file --pipeline $pipeline"
      fi
    done
  done < <(find examples -name '*.kfl' | sort)
else
  echo "kflc has no graph command yet: checked the snapshots only"
fi

echo "graphviz: $passed passed, $failed failed"
[[ $failed == 0 ]]

#!/usr/bin/env bash
# The start overhead of a task in a container (a benchmark, not a CI gate): N trivial `sh` tasks
# (a loop, two at a time) under `--isolation container` (podman, the busybox image) and under
# `--isolation host`, each run twice (the second, the number shown), caching off. Prints both
# times, the extra time per container task, and the ratio.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
kflc=${KFLC:-$CARGO_TARGET_DIR/debug/kflc}
testenv=$root/../shared/tools/container-testenv
[[ -x $testenv ]] || testenv=/work/shared/tools/container-testenv
n=${N:-20}
"$testenv" setup >/dev/null 2>&1 || { echo "container-testenv setup failed"; exit 1; }
busybox=$("$testenv" image busybox 2>/dev/null) || { echo "no busybox image"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/kfl-containers-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
items=$(seq -s, 1 "$n")
cat >"$work/b.kfl" <<KFL
component touch {
    image = "$busybox"
    input i: Int
    output o: Int
    sh """
        printf '%s' "\$i" > "\$o"
    """
}

pipeline bench(xs: List<Int> = [$items]) {
    for x in xs {
        touch(i: x)
    }
}
KFL
elapsed() { # elapsed ISOLATION: seconds of a whole run (the second of two)
  local t0 t1
  "$kflc" run "$work/b.kfl" --isolation "$1" --no-cache --parallelism 2 --root "$work/r-$1" >/dev/null 2>&1 || return 1
  t0=$(date +%s.%N)
  "$kflc" run "$work/b.kfl" --isolation "$1" --no-cache --parallelism 2 --root "$work/r-$1" >/dev/null 2>&1 || return 1
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
container=$(elapsed container) || { echo "the container run failed"; exit 1; }
host=$(elapsed host) || { echo "the host run failed"; exit 1; }
printf '%d tasks, 2 at a time: containers %.2f s, host %.2f s\n' "$n" "$container" "$host"
printf 'per task: containers %.0f ms, host %.0f ms; extra per container task %.0f ms (wall, 2 at a time); ratio %.1fx\n' \
  "$(echo "$container * 1000 / $n" | bc -l)" "$(echo "$host * 1000 / $n" | bc -l)" \
  "$(echo "($container - $host) * 1000 / $n" | bc -l)" "$(echo "$container / $host" | bc -l)"

#!/usr/bin/env bash
# `kflc run`'s own cost per task, against the processes alone and against kfp.local, in one run
# (a benchmark, not a gate: it exits 0 whatever the figures, non-zero only when something fails).
#
# 1. 1,000 trivial `sh` tasks (each writes its id to its output), wide (no dependencies) and as a
#    chain (each reads the one before), under `kflc run --no-cache --parallelism 2` with the
#    resource scheduler (default budget, every task requesting 100m CPU and 16Mi), against a bare
#    shell loop starting the same `sh -c` programs two at a time (`xargs -P 2`; one at a time for the
#    chain, which cannot go faster). Overhead per task = (kflc − bare) / tasks, goal < 0.5 ms.
# 2. A 20-task Python chain (`y = x + 1`): `kflc run --no-cache` against kfp 2.17.3's
#    `kfp.local.SubprocessRunner` on the same pipeline (kflc build --target kfp), side by side in the
#    same `PATH` (so both meet the same python3: a pyenv shim here), goal ≥ 10×.
#
# Times are wall-clock medians of RUNS (default 3) runs, each beside the CPU time (user + system) it
# took, kflc and every process it started or the bare loop's processes: on a machine shared with
# other work the wall clock measures the neighbours too, the CPU time much less. Every timed run
# writes into a folder of its own and all are removed only after the last timing: ext4 without a
# journal makes every new file skip the inodes freed in the last minutes, one look-up each, so
# removing 16,000 files of the previous run just before a timed one would charge the bench's own
# clean-up to kflc (measured: a 1,000-task chain took 3× longer right after such a removal).
#
# Environment: KFLC (a kflc binary; default: a
# release build), TASKS (default 1000), RUNS, KFP_VENV (default ~/.cache/kfl-kfp-venv, shared with
# peers.sh and the kfp.local cross-check; made on first use), SKIP_KFP=1 (part 1 only).
set -euo pipefail
shopt -s inherit_errexit
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

if [[ -z ${KFLC:-} ]]; then
  echo "building kflc (release)…" >&2
  cargo build --release --quiet -p kflc --no-default-features
  kflc=${CARGO_TARGET_DIR:-$root/target}/release/kflc
else
  kflc=$KFLC
fi
[[ -x $kflc ]] || { echo "error: no kflc binary at $kflc" >&2; exit 1; }
tasks=${TASKS:-1000}
runs=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now_ns() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ms() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e6 }'; }

# --- 1. trivial sh tasks ---------------------------------------------------------------------------
gen() { # gen SHAPE FILE
  {
    printf 'component step {\n    image = "alpine:3.20"\n    input id: Int\n    input previous: Int = 0\n'
    printf '    output o: Int\n    resources {\n        cpu = 100m\n        memory = 16Mi\n    }\n'
    printf '    sh """\n        echo "$id" > "$o"\n    """\n}\n\npipeline bench() {\n'
    for ((i = 0; i < tasks; i++)); do
      if [[ $1 == chain && $i -gt 0 ]]; then
        printf '    t%d = step(id: %d, previous: t%d.o)\n' "$i" "$i" "$((i - 1))"
      else
        printf '    t%d = step(id: %d)\n' "$i" "$i"
      fi
    done
    printf '}\n'
  } >"$2"
}

# The CPU time (user + system, ns) of the processes this (sub)shell waited for, from bash's `times`
# written to a file (in a pipe or `$(…)` it would be a new process's: zero).
cpu_ns() {
  times >"$work/times"
  cpu=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); t += p[1] * 60 + p[2] }
    printf "%.0f", t * 1e9 }' "$work/times")
}

time_kflc() { # time_kflc FILE → median wall ns, median CPU ns
  local file=$1 t0 t1
  for ((r = 0; r < runs; r++)); do
    (
      t0=$(now_ns)
      "$kflc" run "$file" --isolation host --no-cache --parallelism 2 --root "$work/root-$r-$(basename "$file")" \
        >"$work/kflc.log" 2>&1 || { echo "error: kflc run failed" >&2; tail -20 "$work/kflc.log" >&2; exit 1; }
      t1=$(now_ns)
      cpu_ns
      echo "$((t1 - t0)) $cpu"
    ) || exit 1
  done | medians
}

time_bare() { # time_bare PARALLEL → median wall ns, median CPU ns
  local t0 t1
  for ((r = 0; r < runs; r++)); do
    mkdir -p "$work/bare-$r-$1"
    (
      t0=$(now_ns)
      seq 0 $((tasks - 1)) | xargs -P "$1" -I{} sh -c 'echo "$1" > "$2/$1"' _ {} "$work/bare-$r-$1"
      t1=$(now_ns)
      cpu_ns
      echo "$((t1 - t0)) $cpu"
    )
  done | medians
}

medians() { # lines "WALL CPU" → "median(WALL) median(CPU)"
  local lines
  lines=$(cat)
  echo "$(cut -d' ' -f1 <<<"$lines" | median) $(cut -d' ' -f2 <<<"$lines" | median)"
}

echo "kflc run overhead: $tasks trivial sh tasks, medians of $runs runs ($(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg))"
for shape in wide chain; do
  gen "$shape" "$work/$shape.kfl"
  parallel=2
  [[ $shape == chain ]] && parallel=1
  read -r ours ours_cpu < <(time_kflc "$work/$shape.kfl")
  read -r bare bare_cpu < <(time_bare "$parallel")
  awk -v shape="$shape" -v n="$tasks" -v ours="$ours" -v bare="$bare" -v p="$parallel" \
    -v ours_cpu="$ours_cpu" -v bare_cpu="$bare_cpu" 'BEGIN {
    per = (ours - bare) / n / 1e6
    printf "  %-5s kflc %8.1f ms, bare loop (%d at a time) %8.1f ms → overhead %.3f ms per task (goal < 0.5) %s\n",
      shape, ours / 1e6, p, bare / 1e6, per, (per < 0.5 ? "ok" : "MISSED")
    printf "        CPU: kflc and its tasks %8.1f ms, bare loop %8.1f ms → %.3f ms per task\n",
      ours_cpu / 1e6, bare_cpu / 1e6, (ours_cpu - bare_cpu) / n / 1e6
  }'
done

# --- 2. Python chain against kfp.local ------------------------------------------------------------
[[ ${SKIP_KFP:-0} == 1 ]] && exit 0
kfp_venv=${KFP_VENV:-${KFP_VALIDATE_VENV:-$HOME/.cache/kfl-kfp-venv}}
if [[ ! -x $kfp_venv/bin/python ]] || ! "$kfp_venv/bin/python" -c 'import kfp' 2>/dev/null; then
  echo "creating the kfp venv at $kfp_venv" >&2
  python3 -m venv "$kfp_venv" >&2
  "$kfp_venv/bin/pip" install -q 'kfp==2.17.3' 'kfp-kubernetes==2.17.3' >&2
fi
{
  printf 'component inc {\n    image = "python:3.11-slim"\n    input x: Int\n    output y: Int\n'
  printf '    python """\n        y = x + 1\n    """\n}\n\npipeline chain20(start: Int = 0) {\n    t1 = inc(x: start)\n'
  for ((i = 2; i <= 20; i++)); do printf '    t%d = inc(x: t%d.y)\n' "$i" "$((i - 1))"; done
  printf '    output result = t20.y\n}\n'
} >"$work/py.kfl"
"$kflc" build "$work/py.kfl" --target kfp -o "$work/py.yaml"

py_kflc=$(for ((r = 0; r < runs; r++)); do
  t0=$(now_ns)
  "$kflc" run "$work/py.kfl" --isolation host --no-cache --root "$work/pyroot-$r" >"$work/py-kflc.log" 2>&1 ||
    { echo "error: kflc run failed" >&2; tail -20 "$work/py-kflc.log" >&2; exit 1; }
  echo $(($(now_ns) - t0))
done | median)
grep -q '"result": 20' "$work/pyroot-0"/runs/*/run.json || { echo "error: kflc's chain did not compute 20" >&2; exit 1; }

# kfp.local is timed inside its Python process, from local.init to the pipeline's end (its imports
# and the interpreter's start are not counted against it).
py_kfp=$(for ((r = 0; r < runs; r++)); do
  # kfp.local logs to standard output: the figure is the ELAPSED line.
  "$kfp_venv/bin/python" - "$work/py.yaml" "$work/kfp-out-$r" <<'PY' 2>"$work/kfp.log" || { echo "error: kfp.local failed" >&2; tail -20 "$work/kfp.log" >&2; exit 1; }
import sys, time
from kfp import local
from kfp.components import load_component_from_file
yaml_path, out = sys.argv[1:]
pipeline = load_component_from_file(yaml_path)
t0 = time.perf_counter_ns()
local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=out)
task = pipeline(start=0)
elapsed = time.perf_counter_ns() - t0
assert task.outputs["result"] == 20, task.outputs
print("ELAPSED", elapsed)
PY
done | awk '$1 == "ELAPSED" { print $2 }' | median)
awk -v ours="$py_kflc" -v theirs="$py_kfp" 'BEGIN {
  ratio = theirs / ours
  printf "  20-task Python chain: kflc %.1f ms, kfp.local SubprocessRunner %.1f ms → %.1f× (goal ≥ 10×) %s\n",
    ours / 1e6, theirs / 1e6, ratio, (ratio >= 10 ? "ok" : "MISSED")
}'
echo "  python3 on PATH: $(command -v python3) ($(head -c 2 "$(command -v python3)" | grep -q '#!' && echo 'a script: a version manager shim' || echo 'a program'))"

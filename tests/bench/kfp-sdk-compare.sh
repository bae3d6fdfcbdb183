#!/usr/bin/env bash
# kflc against the kfp SDK's compiler, on the same pipelines (a benchmark, not a gate).
#
# For N in 100 and 1000 it generates one pipeline twice with gen_pipelines.py — a .kfl file and the
# equivalent kfp v2 Python program (`@dsl.component` lightweight Python components, `@dsl.pipeline`
# wiring the same DAG of seven components: chains, fan-out, fan-in, artifacts and parameters) — then
# times, wall clock, `kflc build --target kfp` (release binary, the median of several runs) and the
# Python program that compiles it with `kfp.compiler.Compiler().compile` (kfp 2.17.3 in the venv that
# tools/kfp-validate uses). It prints both times and their ratio, twice: for the whole processes, and
# for the compiler alone (kfp: tracing the pipeline function + compile(), without Python's start and
# `import kfp`; kflc: the whole process anyway, which includes parsing and checking). Last, it builds
# 100 tasks of a single component both ways and compares the two PipelineSpecs' sizes.
#
# Exits 0 whatever the figures; fails (1) only if either side produces no PipelineSpec or the two
# disagree on the number of tasks. Environment: KFP_VENV (default ~/.cache/kfl-kfp-venv),
# KFLC (a kflc binary to use instead of building the release one), SIZES (default "100 1000"),
# KFLC_RUNS (default 5), KFP_RUNS_SMALL (kfp runs at N <= 100, default 3; at larger N, 1).
set -euo pipefail
shopt -s inherit_errexit
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/bench
cd "$root"

venv=${KFP_VENV:-${KFP_VALIDATE_VENV:-$HOME/.cache/kfl-kfp-venv}}
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import kfp' 2>/dev/null; then
  echo "creating the kfp venv at $venv" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q 'kfp==2.17.3' 'kfp-kubernetes==2.17.3' >&2
fi
py=$venv/bin/python

if [[ -z ${KFLC:-} ]]; then
  echo "building kflc (release)…" >&2
  cargo build --release --quiet --bin kflc
  kflc=${CARGO_TARGET_DIR:-$root/target}/release/kflc
else
  kflc=$KFLC
fi
[[ -x $kflc ]] || { echo "error: no kflc binary at $kflc" >&2; exit 1; }

sizes=${SIZES:-"100 1000"}
kflc_runs=${KFLC_RUNS:-5}
kfp_runs_small=${KFP_RUNS_SMALL:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now_ns() { date +%s%N; }

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Prints the median of the numbers on stdin.
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# time_kflc KFL OUT RUNS -> median wall ms
time_kflc() {
  local kfl=$1 out=$2 runs=$3 i t0 t1
  for ((i = 0; i < runs; i++)); do
    rm -f "$out"
    t0=$(now_ns)
    "$kflc" build "$kfl" --target kfp -o "$out" >"$work/kflc.log" 2>&1 || { cat "$work/kflc.log" >&2; fail "kflc build $kfl"; }
    t1=$(now_ns)
    [[ -s $out ]] || fail "kflc wrote no PipelineSpec for $kfl"
    echo $(((t1 - t0) / 1000))
  done | median | awk '{ printf "%.1f\n", $1 / 1000 }'
}

# time_kfp PY OUT RUNS -> "wall_ms compiler_ms" (medians); compiler = define + compile() in-process
time_kfp() {
  local prog=$1 out=$2 runs=$3 i t0 t1
  : >"$work/kfp-times"
  for ((i = 0; i < runs; i++)); do
    rm -f "$out"
    t0=$(now_ns)
    "$py" "$prog" "$out" >"$work/kfp.log" 2>&1 || { tail -20 "$work/kfp.log" >&2; fail "the kfp SDK failed on $prog"; }
    t1=$(now_ns)
    [[ -s $out ]] || fail "the kfp SDK wrote no PipelineSpec for $prog"
    local inner
    inner=$(tail -1 "$work/kfp.log" | "$py" -c 'import json,sys; d=json.load(sys.stdin); print((d["define_s"]+d["compile_s"])*1000)')
    echo "$(((t1 - t0) / 1000000)) $inner" >>"$work/kfp-times"
  done
  echo "$(cut -d' ' -f1 "$work/kfp-times" | median) $(cut -d' ' -f2 "$work/kfp-times" | median)"
}

# spec_stats FILE -> "bytes components executors root_tasks"
spec_stats() {
  "$py" - "$1" <<'PY'
import os, sys, yaml
path = sys.argv[1]
with open(path) as f:
    spec = next(d for d in yaml.safe_load_all(f) if d is not None)
print(os.path.getsize(path), len(spec.get("components", {})),
      len(spec.get("deploymentSpec", {}).get("executors", {})), len(spec["root"]["dag"]["tasks"]))
PY
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.0f×" : "∞"), a / b }'; }

kflc_version=$("$kflc" --version 2>/dev/null | head -1 || true)
echo "${kflc_version:-kflc} vs kfp $("$py" -c 'import kfp; print(kfp.__version__)'); $(nproc) cores"
echo "pipeline: segments of 10 tasks over 7 components (chains, fan-out, fan-in); kflc: median of $kflc_runs runs"
printf '%-6s %12s %12s %9s   %14s %9s\n' tasks "kflc ms" "kfp ms" ratio "kfp compile ms" ratio
for n in $sizes; do
  python3 "$here/gen_pipelines.py" segments "$n" "$work/seg_$n.kfl" "$work/seg_$n.py"
  kfl_ms=$(time_kflc "$work/seg_$n.kfl" "$work/seg_$n.kfl.yaml" "$kflc_runs")
  runs=$((n <= 100 ? kfp_runs_small : 1))
  kfp_times=$(time_kfp "$work/seg_$n.py" "$work/seg_$n.kfp.yaml" "$runs")
  read -r kfp_ms kfp_inner_ms <<<"$kfp_times"
  stats=$(spec_stats "$work/seg_$n.kfl.yaml")
  read -r _ _ _ ours_tasks <<<"$stats"
  stats=$(spec_stats "$work/seg_$n.kfp.yaml")
  read -r _ _ _ theirs_tasks <<<"$stats"
  [[ -n $ours_tasks && $ours_tasks == "$theirs_tasks" ]] || fail "$n tasks: kflc's PipelineSpec has $ours_tasks root tasks, kfp's $theirs_tasks"
  printf '%-6s %12s %12s %9s   %14.0f %9s\n' "$n" "$kfl_ms" "$kfp_ms" "$(ratio "$kfp_ms" "$kfl_ms")" \
    "$kfp_inner_ms" "$(ratio "$kfp_inner_ms" "$kfl_ms")"
done
echo "(kfp ms: the whole python process, median of $kfp_runs_small runs at 100 tasks, one run above;"
echo " kfp compile ms: tracing the @dsl.pipeline function + Compiler().compile(), without start-up and import)"

echo
echo "100 tasks of one component (a chain through an Int output):"
python3 "$here/gen_pipelines.py" one 100 "$work/one.kfl" "$work/one.py"
"$kflc" build "$work/one.kfl" --target kfp -o "$work/one.kfl.yaml" >"$work/kflc.log" 2>&1 || { cat "$work/kflc.log" >&2; fail "kflc build one.kfl"; }
[[ -s $work/one.kfl.yaml ]] || fail "kflc wrote no PipelineSpec for one.kfl"
"$py" "$work/one.py" "$work/one.kfp.yaml" >"$work/kfp.log" 2>&1 || { tail -20 "$work/kfp.log" >&2; fail "the kfp SDK failed on one.py"; }
[[ -s $work/one.kfp.yaml ]] || fail "the kfp SDK wrote no PipelineSpec for one.py"
stats=$(spec_stats "$work/one.kfl.yaml")
read -r ob oc oe ot <<<"$stats"
stats=$(spec_stats "$work/one.kfp.yaml")
read -r tb tc te tt <<<"$stats"
[[ -n $ot && $ot == "$tt" ]] || fail "one component: kflc's PipelineSpec has $ot root tasks, kfp's $tt"
printf '  %-6s %10s %11s %10s %11s\n' "" bytes components executors "root tasks"
printf '  %-6s %10s %11s %10s %11s\n' kflc "$ob" "$oc" "$oe" "$ot"
printf '  %-6s %10s %11s %10s %11s\n' kfp "$tb" "$tc" "$te" "$tt"
awk -v a="$tb" -v b="$ob" 'BEGIN { printf "  kfp'\''s PipelineSpec is %.1f× the size of kflc'\''s\n", a / b }'

#!/usr/bin/env bash
# kflc against its peers, in one run, with the speed goals beside each figure (a benchmark, not a gate).
#
# 1. `kflc build --target kfp` against the kfp 2.17.3 SDK (`kfp.compiler.Compiler().compile`), and
#    `kflc build --target argo` against Hera 7.1.0 (Argo Workflows' Python SDK, `Workflow.to_yaml()`),
#    on the same 1,000-task pipeline generated three ways by gen_pipelines.py (SHAPE `segments`: chains,
#    fan-out, fan-in, artifacts and parameters over seven components; SHAPE=one: a plain chain of one
#    component). kflc is timed as a whole process, which is what a user runs; the peers both as whole
#    Python processes and as their compiler alone (building the pipeline object + writing it, without
#    Python's start-up and imports), and the ratio is printed for both.
# 2. `kflc check` of generated 1,000- and 10,000-task files (the same generator), as a whole process,
#    and with IN_PROCESS=1 also in-process from the criterion bench (`cargo bench -p kfl-check --bench
#    check -- cold_check`, whose generator is a different, richer file of the same sizes).
#
# Times are wall-clock medians of several runs. A line per comparison:
#   kfp 1000-task segments: kflc 12.1 ms, kfp 6050 ms → 500× (goal ≥ 500×) ok
# The script works from a clean clone: it builds the release kflc and creates the Python venvs under
# ~/.cache on first use (slow the first time). It exits 0 whatever the figures; it fails only when a
# tool produces no output or the outputs disagree on the number of tasks.
#
# Environment: KFP_VENV (default ~/.cache/kfl-kfp-venv, shared with kfp-sdk-compare.sh), HERA_VENV
# (default ~/.cache/kfl-hera-venv), KFLC (a kflc binary to use instead of building the release one),
# TASKS (default 1000), SHAPE (default segments), KFLC_RUNS (default 11), PEER_RUNS (default 3),
# CHECK_SIZES (default "1000 10000"), IN_PROCESS (default 0), INSTRUCTIONS (default 0; 1 adds the
# instructions each kflc command executes, counted by valgrind's callgrind: a figure that, unlike wall
# time, does not move with the load of a shared machine).
set -euo pipefail
shopt -s inherit_errexit
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/bench
cd "$root"

kfp_venv=${KFP_VENV:-${KFP_VALIDATE_VENV:-$HOME/.cache/kfl-kfp-venv}}
if [[ ! -x $kfp_venv/bin/python ]] || ! "$kfp_venv/bin/python" -c 'import kfp' 2>/dev/null; then
  echo "creating the kfp venv at $kfp_venv" >&2
  python3 -m venv "$kfp_venv" >&2
  "$kfp_venv/bin/pip" install -q 'kfp==2.17.3' 'kfp-kubernetes==2.17.3' >&2
fi
hera_venv=${HERA_VENV:-$HOME/.cache/kfl-hera-venv}
if [[ ! -x $hera_venv/bin/python ]] || ! "$hera_venv/bin/python" -c 'import hera, yaml' 2>/dev/null; then
  echo "creating the Hera venv at $hera_venv" >&2
  python3 -m venv "$hera_venv" >&2
  "$hera_venv/bin/pip" install -q 'hera[yaml]==7.1.0' >&2
fi

if [[ -z ${KFLC:-} ]]; then
  echo "building kflc (release)…" >&2
  cargo build --release --quiet --bin kflc
  kflc=${CARGO_TARGET_DIR:-$root/target}/release/kflc
else
  kflc=$KFLC
fi
[[ -x $kflc ]] || { echo "error: no kflc binary at $kflc" >&2; exit 1; }

tasks=${TASKS:-1000}
shape=${SHAPE:-segments}
kflc_runs=${KFLC_RUNS:-11}
peer_runs=${PEER_RUNS:-3}
check_sizes=${CHECK_SIZES:-"1000 10000"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Microseconds since the epoch are read as ${EPOCHREALTIME/[.,]/} right where they are needed:
# `$(…)` around it would fork a subshell, and the fork and wait of the second one (a millisecond or
# two for a shell this size) would be counted in kflc's time.

# Prints the median of the numbers on stdin.
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# time_kflc RUNS OUT ARGS… -> median wall ms of `kflc ARGS…` (OUT: a file it must write, or -)
time_kflc() {
  local runs=$1 out=$2 i t0 t1
  shift 2
  for ((i = 0; i < runs; i++)); do
    [[ $out == - ]] || rm -f "$out"
    t0=${EPOCHREALTIME/[.,]/}
    "$kflc" "$@" >"$work/kflc.log" 2>&1 || { cat "$work/kflc.log" >&2; fail "kflc $*"; }
    t1=${EPOCHREALTIME/[.,]/}
    [[ $out == - || -s $out ]] || fail "kflc $* wrote nothing"
    echo $((t1 - t0))
  done | median | awk '{ printf "%.1f\n", $1 / 1000 }'
}

# time_peer PYTHON PROG OUT RUNS -> "wall_ms compiler_ms" (medians); compiler = define + compile
time_peer() {
  local python=$1 prog=$2 out=$3 runs=$4 i t0 t1 inner
  : >"$work/peer-times"
  for ((i = 0; i < runs; i++)); do
    rm -f "$out"
    t0=${EPOCHREALTIME/[.,]/}
    "$python" "$prog" "$out" >"$work/peer.log" 2>&1 || { tail -20 "$work/peer.log" >&2; fail "$prog failed"; }
    t1=${EPOCHREALTIME/[.,]/}
    [[ -s $out ]] || fail "$prog wrote nothing"
    inner=$(tail -1 "$work/peer.log" | python3 -c 'import json,sys; d=json.load(sys.stdin); print((d["define_s"]+d["compile_s"])*1000)')
    echo "$(((t1 - t0) / 1000)) $inner" >>"$work/peer-times"
  done
  echo "$(cut -d' ' -f1 "$work/peer-times" | median) $(cut -d' ' -f2 "$work/peer-times" | median)"
}

# Root DAG tasks: of a PipelineSpec (kfp), of the entrypoint template of a Workflow (argo).
count_tasks() {
  "$kfp_venv/bin/python" - "$1" "$2" <<'PY'
import sys, yaml
kind, path = sys.argv[1], sys.argv[2]
with open(path) as f:
    doc = next(d for d in yaml.safe_load_all(f) if d is not None)
if kind == "kfp":
    print(len(doc["root"]["dag"]["tasks"]))
else:
    entry = doc["spec"]["entrypoint"]
    template = next(t for t in doc["spec"]["templates"] if t["name"] == entry)
    print(len(template["dag"]["tasks"]))
PY
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.0f×" : "∞"), a / b }'; }
# verdict VALUE GOAL (VALUE >= GOAL is met)
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b ? "ok" : "MISSED") }'; }
at_most() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b ? "ok" : "MISSED") }'; }

kflc_version=$("$kflc" --version 2>/dev/null | head -1 || true)
kfp_version=$("$kfp_venv/bin/python" -c 'import kfp; print(kfp.__version__)')
hera_version=$("$hera_venv/bin/python" -c 'from importlib.metadata import version; print(version("hera"))')
echo "${kflc_version:-kflc} vs kfp $kfp_version and Hera $hera_version; $(nproc) cores; $(date -u +%FT%TZ)"
echo "kflc: median of $kflc_runs whole-process runs; peers: median of $peer_runs runs"
echo

base=$work/${shape}_$tasks
python3 "$here/gen_pipelines.py" "$shape" "$tasks" "$base.kfl" "$base.kfp.py" "$base.hera.py"

# kfp
kflc_kfp=$(time_kflc "$kflc_runs" "$base.kfl.kfp.yaml" build "$base.kfl" --target kfp -o "$base.kfl.kfp.yaml")
read -r kfp_ms kfp_inner_ms <<<"$(time_peer "$kfp_venv/bin/python" "$base.kfp.py" "$base.kfp.yaml" "$peer_runs")"
ours=$(count_tasks kfp "$base.kfl.kfp.yaml")
theirs=$(count_tasks kfp "$base.kfp.yaml")
[[ -n $ours && $ours == "$theirs" ]] || fail "kfp: kflc's PipelineSpec has $ours root tasks, kfp's $theirs"
r=$(awk -v a="$kfp_ms" -v b="$kflc_kfp" 'BEGIN { print a / b }')
echo "kfp $tasks-task $shape: kflc $kflc_kfp ms, kfp $kfp_ms ms → $(ratio "$kfp_ms" "$kflc_kfp") (goal ≥ 500×) $(at_least "$r" 500)"
printf '  kfp compiler alone (no start-up, no import): %.0f ms → %s\n' "$kfp_inner_ms" "$(ratio "$kfp_inner_ms" "$kflc_kfp")"

# argo
kflc_argo=$(time_kflc "$kflc_runs" "$base.kfl.argo.yaml" build "$base.kfl" --target argo -o "$base.kfl.argo.yaml")
read -r hera_ms hera_inner_ms <<<"$(time_peer "$hera_venv/bin/python" "$base.hera.py" "$base.hera.yaml" "$peer_runs")"
ours=$(count_tasks argo "$base.kfl.argo.yaml")
theirs=$(count_tasks argo "$base.hera.yaml")
[[ -n $ours && $ours == "$theirs" ]] || fail "argo: kflc's Workflow has $ours DAG tasks, Hera's $theirs"
r=$(awk -v a="$hera_ms" -v b="$kflc_argo" 'BEGIN { print a / b }')
echo "argo $tasks-task $shape: kflc $kflc_argo ms, Hera $hera_ms ms → $(ratio "$hera_ms" "$kflc_argo") (goal ≥ 100×) $(at_least "$r" 100)"
printf '  Hera alone (Workflow + to_yaml, no start-up, no import): %.0f ms → %s\n' "$hera_inner_ms" "$(ratio "$hera_inner_ms" "$kflc_argo")"

# check
declare -A check_ms
for n in $check_sizes; do
  python3 "$here/gen_pipelines.py" "$shape" "$n" "$work/check_$n.kfl" "$work/check_$n.py"
  check_ms[$n]=$(time_kflc "$kflc_runs" - check "$work/check_$n.kfl")
done
first=${check_sizes%% *}
for n in $check_sizes; do
  if [[ $n == "$first" ]]; then
    echo "check $n-task $shape: kflc ${check_ms[$n]} ms (goal < 15 ms) $(at_most "${check_ms[$n]}" 15)"
  else
    f=$(awk -v a="${check_ms[$n]}" -v b="${check_ms[$first]}" 'BEGIN { printf "%.1f", a / b }')
    echo "check $n-task $shape: kflc ${check_ms[$n]} ms, ${f}× the $first-task check (goal ≤ 10×) $(at_most "$f" 10)"
  fi
done

if [[ ${INSTRUCTIONS:-0} == 1 ]]; then
  echo
  echo "instructions per kflc process (callgrind):"
  count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$kflc" "$@" 2>&1 >/dev/null |
      awk '/refs:/ { gsub(",", "", $NF); printf "%.1f M\n", $NF / 1e6 }'
  }
  echo "  build --target kfp, $tasks tasks: $(count build "$base.kfl" --target kfp -o "$work/count.yaml")"
  echo "  build --target argo, $tasks tasks: $(count build "$base.kfl" --target argo -o "$work/count.yaml")"
  for n in $check_sizes; do
    echo "  check, $n tasks: $(count check "$work/check_$n.kfl")"
  done
fi

if [[ ${IN_PROCESS:-0} == 1 ]]; then
  echo
  echo "in-process (criterion, cold database → diagnostics; kfl-check's generated files):"
  cargo bench --quiet -p kfl-check --bench check -- cold_check --warm-up-time 1 --measurement-time 3 2>/dev/null |
    awk '/^cold_check\/tasks\// { name = $1 } /time:/ && name { sub(/.*time: *\[/, ""); print "  " name ": " $3 " " $4; name = "" }'
fi

#!/usr/bin/env bash
# Cross-check of `kflc run` against the real kfp SDK: the quick-start's PipelineSpec from
# `kflc build --target kfp` runs to success under kfp's local runner (kfp.local.SubprocessRunner)
# and produces the same output parameters as `kflc run`, for the default parameters and for a
# second set (which also skips the gated publish step). Prints `N passed, M failed` last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
kflc=${KFLC:-${CARGO_TARGET_DIR:-$root/target}/debug/kflc}
[[ -x $kflc ]] || cargo build --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

compare() {
  local label=$1
  shift
  local -a kfl_params=() kfp_params=()
  for p in "$@"; do
    kfl_params+=(--param "$p")
    kfp_params+=("$p")
  done
  if ! "$kflc" run examples/quickstart.kfl --isolation host "${kfl_params[@]}" --root "$work/kfl-$label" --no-cache >"$work/kfl-$label.log" 2>&1; then
    echo "FAIL $label: kflc run failed"; tail -20 "$work/kfl-$label.log"; failed=$((failed + 1)); return
  fi
  if ! bash crates/kfl-kfp/tests/kfp_local_run.sh examples/quickstart.kfl "${kfp_params[@]}" >"$work/kfp-$label.log" 2>&1; then
    echo "FAIL $label: the kfp local runner failed"; tail -30 "$work/kfp-$label.log"; failed=$((failed + 1)); return
  fi
  python3 - "$work/kfl-$label" "$work/kfp-$label.log" "$label" <<'PY'
import glob, json, sys
run_dir, kfp_log, label = sys.argv[1:]
ours = json.load(open(glob.glob(f"{run_dir}/runs/*/run.json")[0]))["outputs"]
theirs = {}
for line in open(kfp_log):
    if line.startswith("output "):
        name, value = line[len("output "):].rstrip("\n").split(": ", 1)
        theirs[name] = value
params = {k: v for k, v in ours.items() if not isinstance(v, str) or not v.startswith("/")}
problems = []
for name, value in params.items():
    if name not in theirs:
        problems.append(f"kfp produced no output `{name}`")
    elif abs(float(theirs[name]) - float(value)) > 1e-9:
        problems.append(f"`{name}`: kflc run {value}, kfp.local {theirs[name]}")
if problems or not params:
    print(f"FAIL {label}: " + ("; ".join(problems) or "no output parameters to compare"))
    sys.exit(1)
print(f"ok   {label}: same output parameters {params}")
PY
  if [[ $? == 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

compare defaults
compare other-params n_samples=300 seed=11 min_accuracy=0.99
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]

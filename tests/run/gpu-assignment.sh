#!/usr/bin/env bash
# Shows which GPUs `kflc run` gives each task, and checks that no two tasks that ran at the same
# time were given the same device, end to end through the real binary and its detection
# (`nvidia-smi -L` on PATH).
#
# On a machine without nvidia-smi (or with FAKE_GPUS=N), a fake `nvidia-smi` listing N GPUs
# (default 4) is put first on PATH; with a real one, the real devices are used. Six tasks ask for
# 1, 1, 2, 1, 2 and 0 GPUs; each records its start, end and CUDA_VISIBLE_DEVICES. Prints one line
# per task, then `N passed, M failed`. Exits non-zero when a check fails.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
kflc=${KFLC:-${CARGO_TARGET_DIR:-$root/target}/debug/kflc}
[[ -x $kflc ]] || (cd "$root" && cargo build --quiet -p kflc --no-default-features)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
check() { # check DESCRIPTION COMMAND...
  if "${@:2}"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}

if [[ -n ${FAKE_GPUS:-} ]] || ! command -v nvidia-smi >/dev/null; then
  gpus=${FAKE_GPUS:-4}
  mkdir -p "$work/bin"
  {
    echo '#!/bin/sh'
    echo '[ "$1" = "-L" ] || exit 1'
    for ((i = 0; i < gpus; i++)); do echo "echo 'GPU $i: Fake GPU (UUID: GPU-fake-$i)'"; done
  } >"$work/bin/nvidia-smi"
  chmod +x "$work/bin/nvidia-smi"
  export PATH="$work/bin:$PATH"
  echo "using a fake nvidia-smi with $gpus GPUs"
else
  gpus=$(nvidia-smi -L | grep -c '^GPU ')
  echo "using the real nvidia-smi: $gpus GPUs"
fi

{
  printf 'component on_gpus {\n    image = "alpine:3.20"\n    input name: String\n    output seen: String\n'
  printf '    resources {\n        gpu = 1\n    }\n'
  printf '    sh """\n        s=$(date +%%s%%N)\n        sleep 0.3\n        echo "$name $s $(date +%%s%%N) [${CUDA_VISIBLE_DEVICES-unset}] [${NVIDIA_VISIBLE_DEVICES-unset}]" > "$seen"\n    """\n}\n\n'
  printf 'pipeline gpus() {\n'
  for spec in a:1 b:1 c:2 d:1 e:2 f:0; do
    name=${spec%%:*} count=${spec##*:}
    printf '    %s = on_gpus(name: "%s") {\n        resources {\n            gpu = %s\n        }\n    }\n' "$name" "$name" "$count"
  done
  printf '}\n'
} >"$work/gpus.kfl"

if ! "$kflc" run "$work/gpus.kfl" --isolation host --root "$work/root" --no-cache --parallelism 6 >"$work/run.log" 2>&1; then
  echo "FAIL kflc run"; cat "$work/run.log"; exit 1
fi
cat "$work"/root/runs/latest/*/outputs/parameters/seen | sort -k2 -n >"$work/seen"
t0=$(head -1 "$work/seen" | cut -d' ' -f2)
echo "task  start ms  end ms  CUDA_VISIBLE_DEVICES  NVIDIA_VISIBLE_DEVICES"
awk -v t0="$t0" '{ printf "%-5s %8.0f %7.0f  %-20s  %s\n", $1, ($2 - t0) / 1e6, ($3 - t0) / 1e6, $4, $5 }' "$work/seen"

python3 - "$work/seen" "$gpus" <<'PY' >"$work/checks" || { echo "FAIL reading what the tasks saw"; exit 1; }
import sys
rows = [[w.strip("[]") for w in line.split()] for line in open(sys.argv[1])]
assert len(rows) == 6 and all(len(r) == 5 for r in rows), rows
gpus = int(sys.argv[2])
want = {"a": 1, "b": 1, "c": 2, "d": 1, "e": 2, "f": 0}
for name, start, end, cuda, nvidia in rows:
    devices = [d for d in cuda.split(",") if d] if cuda != "unset" else None
    n = want[name]
    if n > gpus:
        continue
    ok = devices is not None and len(devices) == n and (nvidia == ("void" if n == 0 else cuda))
    print(("ok" if ok else "bad"), f"{name} got {n} device(s): {cuda} / {nvidia}")
for i, a in enumerate(rows):
    for b in rows[i + 1:]:
        if int(a[1]) < int(b[2]) and int(b[1]) < int(a[2]):
            shared = set(filter(None, a[3].split(","))) & set(filter(None, b[3].split(",")))
            print(("bad" if shared else "ok"), f"{a[0]} and {b[0]} ran together on different devices {sorted(shared) or ''}")
PY
while read -r verdict text; do
  check "$text" test "$verdict" = ok
done <"$work/checks"
echo "$passed passed, $failed failed"
[[ $failed == 0 && $passed -gt 0 ]]

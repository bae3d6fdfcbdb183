#!/usr/bin/env bash
# `kflc run` with real containers (podman, rootful with runc, offline): container components and,
# with `--isolation container`, script components run in their images, inputs mounted read-only and
# outputs read-write at the cluster's paths (/tmp/kfl/…), `--network none`, local secrets, a missing
# image refused before anything runs (never pulled), and SIGTERM / Ctrl-C stopping and removing the
# container of a running task. Installs what it needs (../shared/tools/container-testenv setup, the
# busybox and python images); a step that cannot run fails the suite. Last line: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
kflc=${KFLC:-$CARGO_TARGET_DIR/debug/kflc}
testenv=$root/../shared/tools/container-testenv
[[ -x $testenv ]] || testenv=/work/shared/tools/container-testenv

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
check() { # check NAME COMMAND...: passes when the command succeeds
  local name=$1
  shift
  if "$@"; then ok "$name"; else fail "$name"; fi
}

if [[ ! -x $kflc ]]; then
  cargo build -p kflc --no-default-features --quiet || { echo "FAIL kflc does not build"; exit 1; }
fi
"$testenv" setup >/dev/null 2>&1 || { echo "FAIL container-testenv setup"; exit 1; }
busybox=$("$testenv" image busybox 2>/dev/null) || { echo "FAIL the busybox image cannot be made"; exit 1; }
python=$("$testenv" image python --also-tag python:3.11-slim 2>"$CARGO_TARGET_DIR/containers-python.log") ||
  { echo "FAIL the python image cannot be made (see $CARGO_TARGET_DIR/containers-python.log)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/kfl-containers-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

cat >p.kfl <<KFL
// Where a container sees things, written to outputs the test reads.
component produce {
    image = "$busybox"
    input text: String
    output data: Dataset
    output where: String
    command = ["sh", "-c", "printf '%s' \"\$0\" > \"\$1\"; printf '%s' \"\$1\" > \"\$2\""]
    args = [text, data.path, where.path]
}

component consume {
    image = "$busybox"
    input data: Dataset
    output seen: String
    output nets: String
    env { GREETING = "hello there" }
    command = ["sh", "-c", "printf '%s|%s|%s' \"\$0\" \"\$(cat \"\$0\")\" \"\$GREETING\" > \"\$1\"; ls /sys/class/net | tr '\\\\n' ' ' > \"\$2\""]
    args = [data.path, seen.path, nets.path]
}

// Writing to an input must fail: the mount is read-only.
component vandal {
    image = "$busybox"
    input data: Dataset
    command = ["sh", "-c", "echo changed > \"\$0\""]
    args = [data.path]
}

component inside {
    image = "$python"
    input data: Dataset
    output report: String
    env { TOKEN = secret(name: "api", key: "token") }
    python """
        import os
        with open(data.path) as f:
            text = f.read()
        report = "|".join([str(os.path.exists("/run/.containerenv")), data.path, text, str(len(os.environ.get("TOKEN", "")))])
    """
}

// No `command`: the args follow the image's entrypoint (this image has none, so they are the command).
component entry {
    image = "$busybox"
    output said: String
    args = ["sh", "-c", "printf 'from args' > \"\$0\"", said.path]
}

pipeline entrypoint() {
    e = entry()
    output said = e.said
}

component sleepy {
    image = "$busybox"
    command = ["sh", "-c", "sleep 300"]
}

pipeline paths(text: String = "one two") {
    p = produce(text: text)
    c = consume(data: p.data)
    output where = p.where
    output seen = c.seen
    output nets = c.nets
}

pipeline writes_input() {
    p = produce(text: "x")
    vandal(data: p.data)
}

pipeline script(text: String = "abc") {
    p = produce(text: text)
    i = inside(data: p.data)
    output report = i.report
}

pipeline sleeps() {
    sleepy()
}

component missing {
    image = "localhost/kfl-never-built:0"
    command = ["true"]
}

pipeline absent() {
    missing()
}

// Holds 100 MB in a shell variable: more than its 32Mi limit. And one that reports its CPU quota
// (cgroup v2's cpu.max, or v1's cfs quota).
component hungry {
    image = "$busybox"
    resources { memory = 16Mi, memory_limit = 32Mi }
    command = ["sh", "-c", "x=\$(head -c 100000000 /dev/zero | tr '\\\\0' a); echo \${#x}"]
}

component quota {
    image = "$busybox"
    resources { cpu = 250m, cpu_limit = 500m }
    output max: String
    command = ["sh", "-c", "cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null | head -c 5 > \"\$0\"", max.path]
}

// A limit under what the engines take (10m): raised to it, as a kubelet raises a tiny quota.
component tiny {
    image = "$busybox"
    resources { cpu = 1m, cpu_limit = 1m }
    command = ["true"]
}

pipeline limits() {
    hungry()
}

pipeline tiny_cpu() {
    tiny()
}

pipeline cpu() {
    q = quota()
    output max = q.max
}
KFL

value() { # value NAME FILE: the pipeline output NAME from a run's summary
  sed -n "s/^  $1 *= //p" "$2"
}

# 1. Container components at the cluster's paths, network none, env from the component.
if "$kflc" run p.kfl --pipeline paths --root r1 >paths.out 2>&1; then
  ok "container components run with podman"
  check "an output artifact is written at the cluster's path" test "$(value where paths.out)" = /tmp/kfl/outputs/data/data
  check "an input artifact is read at the cluster's path, with its content, and env reaches the container" \
    test "$(value seen paths.out)" = "/tmp/kfl/inputs/data/data|one two|hello there"
  check "the container has no network but loopback" test "$(value nets paths.out)" = "lo "
  check "no container of the run is left" test -z "$(podman ps -aq --filter "label=kfl.run=$(basename "$(readlink r1/runs/latest)")")"
else
  fail "container components run with podman: $(tail -5 paths.out)"
fi

"$kflc" run p.kfl --pipeline entrypoint --root r1b >entry.out 2>&1
check "without a command, the args follow the image's entrypoint" test "$(value said entry.out)" = "from args"

# 2. Inputs are read-only mounts.
"$kflc" run p.kfl --pipeline writes_input --root r2 >writes.out 2>&1
status=$?
check "a container that writes its input fails (exit 1)" test "$status" = 1
check "… because the input is a read-only file system" grep -rqs "Read-only file system" r2/runs/latest/vandal/stderr.log

# 3. Script components in their image, with a local secret (never recorded).
mkdir -p r3/secrets/api
printf 'sup3r-s3cret-value' >r3/secrets/api/token
if "$kflc" run p.kfl --pipeline script --isolation container --root r3 >script.out 2>&1; then
  ok "a python script component runs under --isolation container"
  check "… inside the container, at the cluster's paths, with the secret's value" \
    test "$(value report script.out)" = "True|/tmp/kfl/inputs/data/data|abc|18"
  check "the secret's value is in no run record, manifest, log or output" \
    bash -c '! grep -rqs "sup3r-s3cret-value" r3/runs r3/cache script.out'
else
  fail "a python script component runs under --isolation container: $(tail -5 script.out)"
fi
mkdir -p given && printf 'other' >given/token
"$kflc" run p.kfl --pipeline script --isolation container --secret api="$work/given" --root r3 --no-cache >given.out 2>&1
check "--secret NAME=FOLDER gives the value" test "$(value report given.out)" = "True|/tmp/kfl/inputs/data/data|abc|5"
"$kflc" run p.kfl --pipeline script --isolation host --root r4 >host.out 2>&1
check "--isolation host runs the same script on this machine" \
  test "$(value report host.out | cut -d'|' -f1,3)" = "False|abc"

# 4. The quick-start, unchanged, in containers: the same outputs as on this machine.
"$kflc" run "$root/examples/quickstart.kfl" --isolation container --root r5 >qs-c.out 2>&1
"$kflc" run "$root/examples/quickstart.kfl" --isolation host --root r6 >qs-h.out 2>&1
check "the quick-start succeeds in containers with the outputs it has on this machine" \
  test -n "$(value accuracy qs-c.out)" -a "$(value accuracy qs-c.out)" = "$(value accuracy qs-h.out)"

# 4b. Where no engine is installed (a PATH with python3, sh and bash only), the default runs the tasks
# here and says so once.
mkdir -p nopath && ln -s "$(python3 -c 'import sys; print(sys.executable)')" nopath/python3 && ln -s "$(command -v sh)" nopath/sh &&
  ln -s "$(command -v bash)" nopath/bash
PATH=$work/nopath "$kflc" run "$root/examples/quickstart.kfl" --root r8 >qs-none.out 2>&1
check "without an engine the default runs the quick-start on this machine" \
  test "$(value accuracy qs-none.out)" = "$(value accuracy qs-h.out)"
check "… and says so once" test "$(grep -c 'no container engine answers here' qs-none.out)" = 1

# 5. A missing image: refused before anything runs, naming it and how to get it, never pulled.
start=$(date +%s)
"$kflc" run p.kfl --pipeline absent --root r7 >absent.out 2>&1
status=$?
check "a missing image is refused (exit 2) in seconds" test "$status" = 2 -a $(($(date +%s) - start)) -lt 60
check "… naming the image, podman pull and kflc images build" \
  grep -q 'localhost/kfl-never-built:0.*podman pull.*kflc images build' absent.out
check "… before any run folder is made" test ! -e r7/runs

# 5b. A run folder a bind mount cannot name: refused before anything runs.
"$kflc" run p.kfl --pipeline paths --root 'r,9' >comma.out 2>&1
status=$?
check "a --root with a comma is refused (exit 2) with containers" test "$status" = 2
check "… naming the folder and --isolation host" grep -q 'r,9.*comma.*--isolation host' comma.out

# 5c. The scheduler's grant is the container's limits: memory (an out-of-memory kill is reported as
# such, not as a crash) and CPU (the cgroup quota the container sees).
"$kflc" run p.kfl --pipeline limits --root r10 --no-cache >limits.out 2>&1
status=$?
check "a container over its memory limit fails (exit 1)" test "$status" = 1
check "… reported as out of memory with its limit" grep -q 'out of memory.*32Mi' limits.out
check "a 1m CPU limit runs (raised to the engines' 10m)" "$kflc" run p.kfl --pipeline tiny_cpu --root r12 --no-cache
"$kflc" run p.kfl --pipeline cpu --root r11 >cpu.out 2>&1
check "a container with a 500m CPU limit gets half a core (its cgroup's quota)" \
  test "$(value max cpu.out)" = 50000

# 6. SIGTERM and Ctrl-C while a container task runs: forwarded, container stopped and removed.
for sig in TERM INT; do
  expected=$([[ $sig == TERM ]] && echo 143 || echo 130)
  label=$([[ $sig == TERM ]] && echo interrupted || echo cancelled)
  "$kflc" run p.kfl --pipeline sleeps --root "s-$sig" >"sig-$sig.out" 2>&1 &
  pid=$!
  run_id=""
  for _ in $(seq 1 300); do
    run_id=$(basename "$(readlink "s-$sig/runs/latest" 2>/dev/null)" 2>/dev/null)
    [[ -n $run_id ]] && [[ -n $(podman ps -q --filter "label=kfl.run=$run_id") ]] && break
    sleep 0.1
  done
  check "SIG$sig: the task's container is running first" test -n "$(podman ps -q --filter "label=kfl.run=$run_id")"
  t0=$(date +%s)
  kill -s "$sig" "$pid"
  wait "$pid"
  status=$?
  check "SIG$sig: kflc exits $expected within the grace period" test "$status" = "$expected" -a $(($(date +%s) - t0)) -lt 30
  check "SIG$sig: the run is recorded $label" grep -q "\"status\": *\"$label\"" "s-$sig/runs/$run_id/run.json"
  check "SIG$sig: the container is stopped and removed" test -z "$(podman ps -aq --filter "label=kfl.run=$run_id")"
done

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]

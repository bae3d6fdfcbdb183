#!/usr/bin/env bash
# kflc ui in a real browser: real runs made by `kflc run` on examples/quickstart.kfl (one that ran,
# one served from the cache whose condition fails, so a task is skipped), a damaged run folder and
# one whose record carries HTML, then a real `kflc ui` read by headless Chromium (Debian's package,
# installed if missing) with --dump-dom: the runs list, a run's DAG with task names and states, a
# task's log, a CSV preview, metrics, a confusion matrix and ROC curve, a Parquet table, two runs compared, escaping; then, through the DevTools protocol, a run followed live
# (tests/ui/live.py). KFLC may name the kflc binary to test (default: build it).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium (apt) =="
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  fi
  command -v chromium >/dev/null 2>&1 || { echo "FAIL: chromium is not installed and could not be installed"; exit 1; }
fi
if [[ -z ${KFLC:-} ]]; then
  (cd "$root" && cargo build --quiet --bin kflc) || { echo "FAIL: kflc does not build"; exit 1; }
  KFLC=$CARGO_TARGET_DIR/debug/kflc
fi

work=$(mktemp -d)
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# A run with a ClassificationMetrics artifact (tests/ui/classify.kfl), before the two others.
"$KFLC" run "$here/classify.kfl" --isolation host --root "$work/.kfl" >"$work/classify.log" 2>&1 ||
  { cat "$work/classify.log"; echo "FAIL: the classification run"; exit 1; }
classify=$(sed -n 's/^run \([0-9a-f-]*\) .*/\1/p' "$work/classify.log")
sleep 1
"$KFLC" run "$root/examples/quickstart.kfl" --isolation host --root "$work/.kfl" >"$work/run1.log" 2>&1 ||
  { cat "$work/run1.log"; echo "FAIL: the first run"; exit 1; }
sleep 1 # run ids are per second: keep the two runs' order certain
"$KFLC" run "$root/examples/quickstart.kfl" --isolation host --root "$work/.kfl" --param min_accuracy=0.99 >"$work/run2.log" 2>&1 ||
  { cat "$work/run2.log"; echo "FAIL: the second run"; exit 1; }
first=$(sed -n 's/^run \([0-9a-f-]*\) .*/\1/p' "$work/run1.log")
second=$(sed -n 's/^run \([0-9a-f-]*\) .*/\1/p' "$work/run2.log")
[[ -n $first && -n $second ]] || { echo "FAIL: no run ids in kflc run's output"; exit 1; }
mkdir -p "$work/.kfl/runs/20200101-000000-broken" "$work/.kfl/runs/20200102-000000-hostile"
printf '{"status": "succ' >"$work/.kfl/runs/20200101-000000-broken/run.json"
# A hostile record: HTML and control characters in names, ANSI colours in a log, an HTML artifact
# with a script.
python3 - "$work/.kfl/runs/20200102-000000-hostile" "$here/sample.parquet" <<'PY'
import json, os, shutil, sys
run = sys.argv[1]
os.makedirs(f"{run}/t/outputs/artifacts", exist_ok=True)
json.dump({"status": "failed", "pipeline": "<img src=x id=injected>\u0007", "graph": [{"name": "t", "after": []},
           {"name": "u", "after": ["t"], "group": "for-loop-1"}, {"name": "v", "after": ["t"], "group": "for-loop-1"}],
           "params": {"p": "<script>document.title=1</script>"}}, open(f"{run}/run.json", "w"))
json.dump({"task": "t", "status": "failed", "outputs": {"artifacts": {"report.html": {
    "path": f"{run}/t/outputs/artifacts/report.html", "type": "HTML"}, "notes": {
    "path": f"{run}/t/outputs/artifacts/notes", "type": "Markdown"}, "table": {
    "path": f"{run}/t/outputs/artifacts/table", "type": "Dataset"}}}}, open(f"{run}/t/manifest.json", "w"))
# A Parquet dataset without an extension (tests/ui/sample.parquet: 60 rows, an HTML name).
shutil.copy(sys.argv[2], f"{run}/t/outputs/artifacts/table")
open(f"{run}/t/outputs/artifacts/report.html", "w").write(
    "<p>report</p><script>parent.document.title = 'pwned'; document.title = 'pwned'</script>")
open(f"{run}/t/outputs/artifacts/notes", "w").write("# <img src=x id=injected2>\n\n- **<b id=injected3>x</b>**\n")
with open(f"{run}/t/stderr.log", "wb") as log:  # a sparse 2 GiB log: only its end is read
    log.seek(2 ** 31)
    log.write(b"the last line\n")
open(f"{run}/t/stdout.log", "w").write("\x1b[1;31mred error\x1b[0m plain \x07bell\n")
PY

"$KFLC" ui --root "$work/.kfl" --port 0 >"$work/ui.log" 2>&1 &
server=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's/^kflc ui: serving \(http[^ ]*\) .*/\1/p' "$work/ui.log")
  [[ -n $url ]] && break
  sleep 0.1
done
[[ -n $url ]] || { cat "$work/ui.log"; echo "FAIL: kflc ui did not start"; exit 1; }
echo "kflc ui at $url"

dump() {
  timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$work/profile" \
    --virtual-time-budget=5000 --dump-dom "$1" 2>/dev/null
}
dump "$url" >"$work/list.html"
dump "$url#/?status=damaged" >"$work/list-damaged.html"
dump "$url#/run/$second" >"$work/run.html"
dump "$url#/run/$second/data" >"$work/task.html"
dump "$url#/run/$first/data" >"$work/task-ran.html"
dump "$url#/run/$first/scores" >"$work/task-metrics.html"
dump "$url#/run/$first/splits" >"$work/task-splits.html"
dump "$url#/run/$first/publish" >"$work/task-publish.html"
dump "$url#/compare/$first,$second" >"$work/compare.html"
dump "$url#/run/20200102-000000-hostile/t" >"$work/hostile.html"
dump "$url#/run/$classify/scores" >"$work/classify.html"

failed=0
# Widening the address warns; the default is loopback (the URL above).
[[ $url == http://127.0.0.1:* ]] || { echo "FAIL: kflc ui does not serve on loopback by default: $url"; failed=1; }
"$KFLC" ui --root "$work/.kfl" --port 0 --host 0.0.0.0 >"$work/wide.log" 2>&1 &
wide=$!
for _ in $(seq 50); do grep -q serving "$work/wide.log" && break; sleep 0.1; done
kill "$wide" 2>/dev/null
if grep -q "warning: listening on 0.0.0.0, not loopback" "$work/wide.log"; then
  echo "ok   --host 0.0.0.0 warns"
else
  cat "$work/wide.log"; echo "FAIL --host 0.0.0.0 does not warn"; failed=1
fi
python3 "$here/check.py" "$work" "$first" "$second" "$classify" || failed=1
# Live: a run made while the page is open (DevTools protocol, tests/ui/cdp.py).
timeout 120 python3 "$here/live.py" "$KFLC" "$url" "$work/.kfl" "$work/profile-live" || failed=1
exit $failed

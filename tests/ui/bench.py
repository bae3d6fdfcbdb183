"""Benchmark of kflc ui at scale, in headless Chromium (DevTools protocol): the run page of a
1,000-task run until its 1,000 nodes are drawn, then until a click on a task opens its panel; the
runs list with 1,000 runs until its rows are drawn; a task's lineage across runs (300 runs searched,
one of them the 1,000-task run). The records are written in the shape `kflc run`
writes (run.json with its graph, one manifest and log per task): running 1,000 real processes
would measure the runner, not the viewer. Prints the figures; exits 1 if a page misses 1 s.

usage: bench.py <kflc> <work dir>"""

import json
import os
import subprocess
import sys
import time
import urllib.request

from cdp import Browser

kflc, work = sys.argv[1:3]
runs = os.path.join(work, ".kfl", "runs")
TASKS, RUNS = 1000, 1000


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


# A 1,000-task run: chains of ten with fan-in from the previous chain, as real pipelines look.
graph = []
for i in range(TASKS):
    after = [f"t{i - 1}"] if i % 10 else []
    if i >= 10 and i % 10 == 0:
        after += [f"t{i - 10}", f"t{i - 5}"]
    graph.append({"name": f"t{i}", "component": f"step{i % 7}", "group": None, "after": after,
                  "resources": {"cpu": {"request": "500m"}, "memory": {"request": "256Mi", "limit": "1Gi"}}})
big = "20300101-000000-bigrun"
write(f"{runs}/{big}/run.json", json.dumps({
    "run_id": big, "pipeline": "thousand", "status": "succeeded", "started_at": 1893456000, "duration_ms": 99000,
    "params": {"n": 1}, "graph": graph, "tasks": {g["name"]: "succeeded" for g in graph}, "outputs": {}}))
for i, g in enumerate(graph):
    status = "failed" if i == 500 else "cached" if i % 3 == 0 else "succeeded"
    write(f"{runs}/{big}/{g['name']}/manifest.json", json.dumps({
        "task": g["name"], "component": g["component"], "status": status, "cache_key": f"{i:064x}",
        "inputs": {"x": i}, "outputs": {"parameters": {"y": i}, "artifacts": {}}, "duration_ms": 10 + i}))
    write(f"{runs}/{big}/{g['name']}/stdout.log", f"task {i}\n")
# 1,000 small runs for the list.
for i in range(RUNS):
    rid = f"2029{1 + i // 28 % 12:02d}{1 + i % 28:02d}-{i // 100 % 24:02d}{i % 60:02d}00-{i:06x}"
    write(f"{runs}/{rid}/run.json", json.dumps({
        "run_id": rid, "pipeline": f"p{i % 5}", "status": ["succeeded", "failed", "cached"][i % 3],
        "started_at": 1861920000 + i * 60, "duration_ms": 1000 + i, "params": {"lr": 0.1, "seed": i}}))

# The newest small run was served t3's work from the cache: its lineage across runs reads the
# 1,000 manifests of the big run among the 300 runs it searches.
small = rid
write(f"{runs}/{small}/t3/manifest.json", json.dumps({
    "task": "t3", "status": "cached", "cached": True, "cache_key": f"{3:064x}", "inputs": {},
    "outputs": {"parameters": {}, "artifacts": {}}}))

log = open(os.path.join(work, "ui-bench.log"), "w")
server = subprocess.Popen([kflc, "ui", "--root", os.path.join(work, ".kfl"), "--port", "0"], stdout=subprocess.PIPE, stderr=log, text=True)
line = server.stdout.readline()
url = line.split("serving ")[1].split(" ")[0]
failures = []
try:
    for path in ("/api/runs/" + big, "/api/runs", f"/api/runs/{small}/lineage/t3"):
        started = time.monotonic()
        body = urllib.request.urlopen(url.rstrip("/") + path).read()
        took = time.monotonic() - started
        print(f"GET {path}: {took:.3f}s, {len(body) // 1024} KiB")
        if took > 1.0:
            failures.append(path)
    lineage = json.loads(body)
    if lineage.get("elsewhere", [{}])[0].get("run") != big:
        failures.append(f"lineage across runs did not find {big}/t3: {str(lineage)[:200]}")

    browser = Browser(os.path.join(work, "profile-bench"))
    try:
        def measure(what, target, ready, limit=1.0):
            browser.goto("about:blank")
            browser.wait("document.readyState === 'complete'")
            started = time.monotonic()
            browser.goto(target)
            _, took = browser.wait(ready, timeout=30)
            took = time.monotonic() - started
            print(f"{what}: {took:.3f}s")
            if took > limit:
                failures.append(what)
            return took

        measure(f"run page, {TASKS} tasks drawn", f"{url}#/run/{big}",
                f"document.querySelectorAll('g.node').length === {TASKS}")
        # Interactive: a click on a task opens its panel.
        started = time.monotonic()
        browser.eval("document.querySelector('g.node[data-task=\"t500\"]').dispatchEvent(new MouseEvent('click', {bubbles: true}))")
        browser.wait("document.getElementById('task-name')?.textContent.startsWith('t500')", timeout=30)
        took = time.monotonic() - started
        print(f"run page, click on a task until its panel shows: {took:.3f}s")
        if took > 1.0:
            failures.append("click")
        measure(f"runs list, {RUNS + 1} runs, first page of 100 drawn", url,
                "document.querySelectorAll('tr[data-run]').length === 100 && "
                "document.getElementById('pager').textContent.includes('page 1 of 11')")
        measure("runs list filtered by pipeline and status", f"{url}#/?pipeline=p1&status=failed",
                "document.querySelectorAll('tr[data-run]').length === 67 && "
                "[...document.querySelectorAll('tr[data-run]')].every(r => r.textContent.includes('p1'))")
    finally:
        browser.close()
finally:
    server.kill()
    server.wait()
print("FAIL: " + ", ".join(failures) if failures else "ok: every page under 1 s")
sys.exit(1 if failures else 0)

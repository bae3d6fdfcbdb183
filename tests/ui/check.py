"""Assertions over the DOM Chromium rendered (tests/ui/run.sh). Exits 1 on the first failure."""

import re
import sys
from html.parser import HTMLParser

work, first, second, classify = sys.argv[1:5]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


class Elements(HTMLParser):
    """Every element with its attributes and the text inside it."""

    def __init__(self):
        super().__init__()
        self.elements = []
        self.stack = []

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(element)
        if tag not in ("img", "input", "br", "meta", "link"):
            self.stack.append(element)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        for element in self.stack:
            element["text"] += data


def parse(name):
    parser = Elements()
    parser.feed(open(f"{work}/{name}", encoding="utf-8").read())
    return parser.elements


def find(elements, tag=None, **attrs):
    return [
        e for e in elements
        if (tag is None or e["tag"] == tag) and all(e["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items())
    ]


# The runs list: newest first, all four, the damaged one as such, HTML in a record shown as text.
page = parse("list.html")
rows = [e["attrs"]["data-run"] for e in find(page, "tr") if "data-run" in e["attrs"]]
check(rows == [second, first, classify, "20200102-000000-hostile", "20200101-000000-broken"],
      f"runs list newest first: {rows}")
by_run = {e["attrs"]["data-run"]: e["text"] for e in find(page, "tr") if "data-run" in e["attrs"]}
check("quickstart" in by_run.get(second, "") and "succeeded" in by_run.get(second, ""), "a run shows pipeline and status")
check("min_accuracy=0.99" in by_run.get(second, ""), "a run shows its parameters")
check("accuracy=0.9120, precision=0.9104, recall=0.9242" in by_run.get(first, ""), f"a run shows its key metrics: {by_run.get(first)!r}")
check("damaged" in by_run.get("20200101-000000-broken", "") and "not valid JSON" in by_run.get("20200101-000000-broken", ""),
      "a damaged run folder is listed as damaged")
check("<img src=x id=injected>" in by_run.get("20200102-000000-hostile", ""), "HTML in a record is shown as text")
check(not find(page, id="injected") and all("src" in s["attrs"] for s in find(page, "script")),
      "HTML in a record makes no element (no injected <img>, no inline <script>)")
check(not find(page, "img"), "no <img> element from run data")

page = parse("list-damaged.html")
rows = [e["attrs"]["data-run"] for e in find(page, "tr") if "data-run" in e["attrs"]]
check(rows == ["20200101-000000-broken"], f"the list filtered by status: {rows}")
pager = "".join(e["text"] for e in find(page, "p", id="pager"))
check("page 1 of 1 (1 runs)" in pager, f"the pager: {pager!r}")

# The run page: the DAG's tasks with their states (cached, skipped) and its edges.
page = parse("run.html")
nodes = {e["attrs"]["data-task"]: e["attrs"]["data-status"] for e in find(page, "g") if "data-task" in e["attrs"]}
check(set(nodes) == {"data", "splits", "fitted", "scores", "publish"}, f"the DAG's tasks: {sorted(nodes)}")
check(all(nodes.get(t) == "cached" for t in ("data", "splits", "fitted", "scores")), f"cached states: {nodes}")
check(nodes.get("publish") == "skipped", f"the task whose condition fails is skipped: {nodes.get('publish')}")
edges = {(e["attrs"]["data-from"], e["attrs"]["data-to"]) for e in find(page, "path") if "data-from" in e["attrs"]}
check(("data", "splits") in edges and ("splits", "scores") in edges, f"edges drawn: {sorted(edges)}")
labels = [e["text"] for e in find(page, "text")]
check(any(l.startswith("data") for l in labels) and any(l.startswith("publish") for l in labels), "task names drawn")
transforms = {e["attrs"]["data-task"]: e["attrs"].get("transform", "") for e in find(page, "g") if "data-task" in e["attrs"]}
x = lambda t: float(re.search(r"translate\(([\d.]+)", transforms.get(t, "translate(-1")).group(1))
check(x("data") < x("splits") < x("fitted") < x("scores") < x("publish"), "layers left to right")

# A task: facts, the log, the CSV preview.
page = parse("task-ran.html")
log = "".join(e["text"] for e in find(page, "pre", id="log-stdout"))
check("generated 500 rows" in log, f"the task's log: {log[:80]!r}")
csv = find(page, "table", **{"class": "csv"})
heads = [e["text"] for e in find(page, "th")]
check(bool(csv) and {"x1", "x2", "label"} <= set(heads), "the dataset's CSV preview has its header")
cells = [e["text"] for e in find(page, "td")]
check(sum(1 for c in cells if re.fullmatch(r"-?\d+\.\d+", c)) >= 20, "the CSV preview has rows of numbers")
facts = "".join(e["text"] for e in find(page, "table", id="task-facts"))
check("make_dataset" in facts and re.search(r"[0-9a-f]{16}", facts) is not None, "component and cache key shown")
page = parse("task.html")
check("cached" in "".join(e["text"] for e in find(page, "h3", id="task-name")), "a cached task's panel says cached")

# Lineage inside a run: what made an input, what reads an output.
page = parse("task-ran.html")
readers = [e["text"] for e in find(page, "a") if e["attrs"].get("class") == "mono task-link"]
check(readers == ["splits"], f"the dataset is read by splits: {readers}")
page = parse("task-splits.html")
row = [e for e in find(page, "tr") if e["attrs"].get("data-key") == "dataset"]
check(bool(row) and "from data" in row[0]["text"], f"splits' dataset comes from data: {row[0]['text'] if row else None!r}")
readers = sorted(e["text"] for e in find(page, "a") if e["attrs"].get("class") == "mono task-link")
check(readers == ["data", "fitted", "scores"], f"splits reads from data; its outputs are read by fitted and scores: {readers}")

# Lineage across runs (by cache key): the second run's cached dataset was made by the first run's
# task; the first run's dataset was served again in the second run and read there by splits.
page = parse("task.html")
made = "".join(e["text"] for e in find(page, "p", id="made-by"))
check(f"made by {first} › data" in made, f"a cache hit names the run that made it: {made!r}")
page = parse("task-ran.html")
elsewhere = [e for e in find(page, "li") if e["attrs"].get("data-run") == second]
check(bool(elsewhere) and "cached" in elsewhere[0]["text"] and f"dataset read by {second} › splits" in elsewhere[0]["text"],
      f"the dataset was served and read in the later run: {elsewhere[0]['text'] if elsewhere else None!r}")
# The resources the task asks for, from the run's recorded graph.
resources = "".join(e["text"] for e in find(page, "td", id="resources"))
check(resources == "cpu 500m · memory 256Mi", f"the task's requested resources: {resources!r}")

# A Markdown artifact (the model card, a file without an extension, typed Markdown by the run).
page = parse("task-publish.html")
card = [e for e in find(page, "div") if e["attrs"].get("class") == "markdown"]
heading = [e["text"] for e in find(page, "h3")]
check(bool(card) and "Quickstart classifier" in heading, f"the model card's heading is rendered: {heading}")
items = [e["text"] for e in find(page, "li")]
check(any(i.startswith("test accuracy: 0.9") for i in items), f"its list is rendered: {items[:2]}")
check(any(e["text"] == "0.912" for e in find(page, "strong")), "its bold text is rendered")

# A Metrics artifact's values.
page = parse("task-metrics.html")
tables = [e["text"] for e in find(page, "table") if e["attrs"].get("class") in ("metadata", "metrics")]
check(len(tables) == 1 and "accuracy" in tables[0] and "precision" in tables[0],
      f"the metrics of the evaluation, in one table: {tables}")

# Two runs side by side: parameters and metrics, differences marked.
page = parse("compare.html")
heads = [e["text"] for e in find(page, "thead")]
check(first in heads[0] and second in heads[0], "both runs are columns")
rows = {e["attrs"]["data-row"]: e for e in find(page, "tr") if "data-row" in e["attrs"]}
check(rows.get("min_accuracy", {}).get("attrs", {}).get("class") == "differs", "a parameter that differs is marked")
check("0.8" in rows.get("min_accuracy", {}).get("text", "") and "0.99" in rows.get("min_accuracy", {}).get("text", ""),
      "both values of the parameter shown")
check(rows.get("seed", {}).get("attrs", {}).get("class") == "", "a parameter that is the same is not marked")
metric = rows.get("scores.metrics.accuracy", {})
check(metric.get("attrs", {}).get("data-kind") == "metric" and metric.get("attrs", {}).get("class") == "",
      f"the accuracy metric, the same in both (the second run was cached): {metric.get('text', '')!r}")

# Hostile content: ANSI colours rendered, control characters visible, HTML artifacts sandboxed.
page = parse("hostile.html")
red = [e for e in find(page, "span") if e["attrs"].get("class") == "ansi-bold ansi-fg1"]
check(bool(red) and red[0]["text"] == "red error", f"ANSI colours become classes: {[e['text'] for e in red]}")
log = "".join(e["text"] for e in find(page, "pre", id="log-stdout"))
check("\x1b" not in log and "\x07" not in log and "\u2407bell" in log, f"control characters shown as symbols: {log!r}")
frames = find(page, "iframe")
check(len(frames) == 1 and frames[0]["attrs"].get("sandbox") == "", "the HTML artifact is in a sandboxed frame")
title = find(page, "title")[0]["text"]  # the document's (the SVG's come later)
check(title == "kflc ui", f"the artifact's script did not reach the app: title {title!r}")
md = [e["text"] for e in find(page, "h3")]
check("<img src=x id=injected2>" in md and not find(page, id="injected2") and not find(page, id="injected3"),
      f"HTML in a Markdown artifact stays text: {md}")
info = "".join(e["text"] for e in find(page, "div", id="log-stderr-info"))
tail = "".join(e["text"] for e in find(page, "pre", id="log-stderr"))
check("the last 262144 of 2147483662 bytes" in info and "download" in info, f"a 2 GiB log shows its size and a download: {info!r}")
check(tail.endswith("the last line\n") and len(tail) <= 262144, f"only the log's last 256 KiB are loaded: {len(tail)} characters")
# A Parquet dataset (no extension) previewed as a table of its first rows; its HTML stays text.
table = [e for e in find(page, "div") if e["attrs"].get("data-artifact") == "table"]
heads = [e["text"] for e in find(page, "th")]
cells = [e["text"] for e in find(page, "td")]
check(bool(table) and "first rows only" in table[0]["text"] and ["id", "name", "score"] == [h for h in heads if h in ("id", "name", "score")]
      and "row 49" in cells and "row 50" not in cells and "<img src=x id=injected5>" in cells and not find(page, id="injected5"),
      f"a Parquet dataset shows its first 50 rows as a table: {table[0]['text'][:80] if table else None!r}")
groups = [e["attrs"].get("data-group") for e in find(page, "rect") if e["attrs"].get("class") == "group"]
check(groups == ["for-loop-1"], f"a loop is drawn as one box around its two tasks: {groups}")
states = {e["attrs"]["data-task"]: e["attrs"]["data-status"] for e in find(page, "g") if "data-task" in e["attrs"]}
check(states == {"t": "failed", "u": "not run", "v": "not run"}, f"tasks that never ran in a finished run: {states}")
crumb = "".join(e["text"] for e in find(page, "span", id="crumb"))
check("<img src=x id=injected>\u2407" in crumb, f"a control character in a name is visible: {crumb!r}")

page = parse("compare.html")
charts = [e["attrs"]["data-metric"] for e in find(page, "svg") if "data-metric" in e["attrs"]]
check("scores.metrics.accuracy" in charts, f"metrics over the runs as charts: {charts}")
bars = [e["attrs"].get("data-value") for e in find(page, "rect") if e["attrs"].get("class") == "bar"]
check(len(bars) == 2 * len(charts) and "0.912" in bars, f"one bar per run and metric: {bars[:4]}")

# A ClassificationMetrics artifact (KFP's metadata shape, written by a real run): a confusion
# matrix and an ROC curve, drawn as SVG; a category name with HTML stays text.
page = parse("classify.html")
matrix = [e for e in find(page, "svg") if e["attrs"].get("class") == "confusion"]
check(len(matrix) == 1 and matrix[0]["attrs"].get("data-categories") == "3", "the confusion matrix is drawn, 3 × 3")
cells = {(e["attrs"]["data-row"], e["attrs"]["data-col"]): e["attrs"]["data-value"] for e in find(page, "g") if e["attrs"].get("class") == "cell"}
check(len(cells) == 9 and cells.get(("0", "0")) == "8" and cells.get(("1", "0")) == "2" and cells.get(("2", "2")) == "10",
      f"each cell carries its count (rows actual, columns predicted): {cells}")
axis = [e["text"] for e in find(page, "text") if e["attrs"].get("class") == "axis"]
titles = [e["text"] for e in find(page, "title")]
check(titles.count("<img src=x id=injected4>") == 2 and titles.count("cat") == 2 and not find(page, id="injected4")
      and any(a.startswith("<img src=x \u2026") for a in axis),
      f"category names are text, long ones cut on the chart and whole in their tooltip: {axis[:4]}")
roc = [e for e in find(page, "svg") if e["attrs"].get("class") == "roc"]
curve = [e for e in find(page, "polyline") if e["attrs"].get("class") == "curve"]
check(len(roc) == 1 and roc[0]["attrs"].get("data-points") == "4" and len(curve) == 1 and len(curve[0]["attrs"]["points"].split()) == 6,
      "the ROC curve is drawn through its 4 points, from (0,0) to (1,1)")
auc = "".join(e["text"] for e in find(page, "figcaption") if e["attrs"].get("class") == "auc")
check(auc == "ROC curve, area 0.890", f"the area under the curve: {auc!r}")
check(not [e for e in find(page, "table") if e["attrs"].get("class") == "metadata"], "the metadata drawn is not listed again")

# Nothing absent shows up as "null" text.
for name in ("classify.html", "list.html", "run.html", "task.html", "task-ran.html", "task-metrics.html", "compare.html", "hostile.html", "task-publish.html"):
    texts = [e["text"] for e in parse(name) if e["tag"] in ("p", "div", "h2", "h3", "td", "main")]
    check(not any("null" in t for t in texts), f"no 'null' text in {name}")

sys.exit(1 if failures else 0)

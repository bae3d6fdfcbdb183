// kflc ui: a small single-page viewer. Routes are hashes: #/ (runs), #/run/<id> (a run),
// #/run/<id>/<instance folder> (a run with a task open). Run data is only ever set as text
// (textContent, attributes), never parsed as markup.
"use strict";

const main = document.getElementById("main");
const crumb = document.getElementById("crumb");
let live = null; // the EventSource of the open run
let current = null; // { id, view, folder, logs: {stdout: end, stderr: end} }

// Control characters in run data are shown as symbols (U+2400…), never passed on raw; tabs and
// line breaks stay.
const visible = (text) => String(text).replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g,
  (c) => String.fromCharCode(c === "\u007f" ? 0x2421 : 0x2400 + c.charCodeAt(0)));

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : visible(c));
  }
  return node;
}

// replaceChildren and append turn null into the text "null": leave absent parts out.
function fill(node, ...children) {
  node.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

const slug = (s) => String(s).replace(/[^a-z]+/g, "-");
const badge = (status) => el("span", { class: "status s-" + slug(status), "data-status": status }, status);

function duration(ms) {
  if (ms === null || ms === undefined) return "";
  const s = ms / 1000;
  return s < 60 ? s.toFixed(1) + "s" : Math.floor(s / 60) + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
}

function when(seconds) {
  if (!seconds) return "";
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

const show = (v) => (typeof v === "string" ? v : JSON.stringify(v));

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(url + ": " + response.status);
  return response.json();
}

const api = (id, ...rest) => "/api/runs/" + [id, ...rest].map(encodeURIComponent).join("/");

function fail(error) {
  fill(main, el("p", { class: "note" }, String(error.message || error)));
}

// ---- the runs list ----

const PAGE = 100;

// #/?pipeline=…&status=…&page=… : the list's filters live in the hash, so they survive a reload.
function listQuery() {
  const query = location.hash.split("?")[1] || "";
  return new URLSearchParams(query);
}

function listHash(change) {
  const q = listQuery();
  for (const [k, v] of Object.entries(change)) v ? q.set(k, v) : q.delete(k);
  return "#/?" + q.toString();
}

async function runsPage() {
  crumb.textContent = "";
  const all = await getJson("/api/runs");
  const q = listQuery();
  const pipeline = q.get("pipeline") || "", status = q.get("status") || "";
  const runs = all.filter((r) => (!pipeline || r.pipeline === pipeline) && (!status || r.status === status));
  const pages = Math.max(1, Math.ceil(runs.length / PAGE));
  const page = Math.min(pages, Math.max(1, parseInt(q.get("page") || "1", 10) || 1));
  const shown = runs.slice((page - 1) * PAGE, page * PAGE);
  const choice = (name, current, values) => el("select", { id: "filter-" + name, onchange: (e) => { location.hash = listHash({ [name]: e.target.value, page: "" }); } },
    el("option", { value: "" }, "every " + name), ...values.map((v) => {
      const option = el("option", { value: v }, v);
      if (v === current) option.selected = true;
      return option;
    }));
  const distinct = (f) => [...new Set(all.map(f).filter((v) => v))].sort();
  const rows = shown.map((r) =>
    el("tr", { "data-run": r.id },
      el("td", {}, el("input", { type: "checkbox", class: "pick", value: r.id, "aria-label": "compare " + r.id, onchange: updateCompare })),
      el("td", {}, el("a", { href: "#/run/" + encodeURIComponent(r.id), class: "mono" }, r.id)),
      el("td", {}, r.pipeline || ""),
      el("td", {}, badge(r.status), r.damaged ? el("div", { class: "muted damaged" }, r.damaged) : null,
        r.lost ? el("div", { class: "muted lost" }, r.lost) : null),
      el("td", {}, when(r.started_at)),
      el("td", {}, duration(r.duration_ms)),
      el("td", { class: "mono" }, Object.entries(r.params || {}).map(([k, v]) => k + "=" + show(v)).join(", ")),
      el("td", { class: "mono metrics" })));
  const pager = el("p", { id: "pager", class: "muted" },
    page > 1 ? el("a", { href: listHash({ page: String(page - 1) }) }, "‹ newer") : null, ` page ${page} of ${pages} (${runs.length} runs) `,
    page < pages ? el("a", { href: listHash({ page: String(page + 1) }), id: "older" }, "older ›") : null);
  fill(main,
    el("h2", {}, "Runs"),
    el("p", {}, choice("pipeline", pipeline, distinct((r) => r.pipeline)), " ", choice("status", status, distinct((r) => r.status)), " ",
      el("a", { id: "compare", class: "muted" }, "pick two or more runs to compare")),
    all.length === 0 ? el("p", { class: "muted" }, "no runs yet: kflc run <file.kfl>") :
      el("table", { id: "runs" },
        el("thead", {}, el("tr", {}, ...["", "run", "pipeline", "status", "started", "duration", "parameters", "metrics"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...rows)),
    pager);
  keyMetrics(shown.filter((r) => !r.damaged).map((r) => r.id));
}

// The first few metrics of each shown run, fetched after the list is drawn (20 runs a request).
async function keyMetrics(ids) {
  for (let i = 0; i < ids.length; i += 20) {
    let list;
    try { list = await getJson("/api/compare?runs=" + ids.slice(i, i + 20).map(encodeURIComponent).join(",")); } catch (e) { return; }
    for (const c of list) {
      const cell = document.querySelector(`tr[data-run="${CSS.escape(c.run.id)}"] td.metrics`);
      if (!cell) return; // the page changed
      const number = (v) => (typeof v === "number" && !Number.isInteger(v) ? v.toFixed(4) : show(v));
      cell.textContent = visible(Object.entries(c.metrics).slice(0, 3).map(([k, v]) => k.split(".").pop() + "=" + number(v)).join(", "));
    }
  }
}

function updateCompare() {
  const picked = [...document.querySelectorAll("input.pick:checked")].map((c) => c.value);
  const link = document.getElementById("compare");
  if (picked.length >= 2) {
    link.setAttribute("href", "#/compare/" + picked.map(encodeURIComponent).join(","));
    link.textContent = `compare ${picked.length} runs`;
  } else {
    link.removeAttribute("href");
    link.textContent = "pick two or more runs to compare";
  }
}

// ---- runs side by side ----

async function comparePage(ids) {
  crumb.textContent = "› compare";
  const list = await getJson("/api/compare?runs=" + ids.map(encodeURIComponent).join(","));
  const rows = [];
  const row = (label, cells, kind) => {
    const texts = cells.map((c) => (c === undefined ? "" : show(c)));
    const differs = new Set(texts).size > 1;
    rows.push(el("tr", { class: differs ? "differs" : "", "data-row": label, "data-kind": kind },
      el("th", {}, label), ...texts.map((t) => el("td", { class: "mono" + (differs ? " diff" : "") }, t))));
  };
  row("pipeline", list.map((c) => c.run.pipeline), "run");
  row("status", list.map((c) => c.run.status), "run");
  row("started", list.map((c) => when(c.run.started_at)), "run");
  row("duration", list.map((c) => duration(c.run.duration_ms)), "run");
  const keys = (f) => [...new Set(list.flatMap((c) => Object.keys(f(c) || {})))].sort();
  for (const k of keys((c) => c.run.params)) row(k, list.map((c) => (c.run.params || {})[k]), "param");
  for (const k of keys((c) => c.metrics)) row(k, list.map((c) => c.metrics[k]), "metric");
  // Each numeric metric over the runs, as bars (in the order of the columns).
  const charts = keys((c) => c.metrics)
    .map((k) => [k, list.map((c) => c.metrics[k])])
    .filter(([, values]) => values.some((v) => typeof v === "number"))
    .map(([k, values]) => metricChart(k, values, list.map((c) => c.run.id)));
  fill(main,
    el("h2", {}, "Runs side by side"),
    el("p", { class: "muted" }, "rows that differ are marked"),
    charts.length ? el("div", { id: "charts" }, ...charts) : null,
    el("table", { id: "compare-table" },
      el("thead", {}, el("tr", {}, el("th", {}, ""), ...list.map((c) => el("th", {}, el("a", { href: "#/run/" + encodeURIComponent(c.run.id), class: "mono" }, c.run.id))))),
      el("tbody", {}, ...rows)));
}

function metricChart(name, values, ids) {
  const numbers = values.map((v) => (typeof v === "number" && isFinite(v) ? v : null));
  const max = Math.max(0, ...numbers.filter((v) => v !== null)), min = Math.min(0, ...numbers.filter((v) => v !== null));
  const span = max - min || 1, BAR = 34, GAP = 8, HEIGHT = 80, width = values.length * (BAR + GAP) + GAP;
  const chart = svg("svg", { class: "chart", width, height: HEIGHT + 16, "data-metric": name });
  const zero = HEIGHT * (max / span);
  numbers.forEach((v, i) => {
    if (v === null) return;
    const h = Math.max(1, (Math.abs(v) / span) * HEIGHT);
    const bar = svg("rect", { x: GAP + i * (BAR + GAP), y: v >= 0 ? zero - h : zero, width: BAR, height: h, class: "bar", "data-value": String(v) });
    const title = svg("title", {});
    title.textContent = visible(`${ids[i]}: ${v}`);
    bar.append(title);
    const label = svg("text", { x: GAP + i * (BAR + GAP) + BAR / 2, y: HEIGHT + 13, class: "bar-label" });
    label.textContent = Number.isInteger(v) ? String(v) : v.toPrecision(3);
    chart.append(bar, label);
  });
  return el("figure", { class: "metric-chart" }, chart, el("figcaption", { class: "mono" }, name));
}

// ---- a run ----

const W = 150, H = 32, DX = 185, DY = 50, PAD = 16;

function drawGraph(view) {
  const rows = Math.max(1, ...view.tasks.map((t) => t.place.row + 1));
  const width = PAD * 2 + Math.max(1, view.layers) * DX, height = PAD * 2 + rows * DY;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, id: "dag" });
  const at = new Map(view.tasks.map((t) => [t.name, { x: PAD + t.place.layer * DX, y: PAD + t.place.row * DY }]));
  const edges = svg("g", {});
  for (const t of view.tasks) {
    const to = at.get(t.name);
    for (const a of t.after) {
      const from = at.get(a);
      if (!from) continue;
      const x1 = from.x + W, y1 = from.y + H / 2, x2 = to.x, y2 = to.y + H / 2, mx = (x1 + x2) / 2;
      edges.append(svg("path", { class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, "data-from": a, "data-to": t.name }));
    }
  }
  // Loops and conditions: one dashed box per group and layer around its tasks (the layout keeps
  // them together), named on its first box.
  const boxes = new Map();
  for (const t of view.tasks) {
    if (!t.group) continue;
    const key = t.group + "\u0000" + t.place.layer;
    const box = boxes.get(key) || { group: t.group, layer: t.place.layer, top: t.place.row, bottom: t.place.row };
    box.top = Math.min(box.top, t.place.row);
    box.bottom = Math.max(box.bottom, t.place.row);
    boxes.set(key, box);
  }
  const named = new Set();
  for (const box of [...boxes.values()].sort((a, b) => a.layer - b.layer)) {
    const x = PAD + box.layer * DX - 6, y = PAD + box.top * DY - 7;
    root.append(svg("rect", { class: "group", "data-group": box.group, x, y, width: W + 12, height: (box.bottom - box.top) * DY + H + 12, rx: 8 }));
    if (!named.has(box.group)) {
      named.add(box.group);
      const label = svg("text", { class: "group-label", x: x + 4, y: y + 8 });
      label.textContent = visible(box.group);
      root.append(label);
    }
  }
  root.append(edges);
  for (const t of view.tasks) {
    const p = at.get(t.name);
    const g = svg("g", { class: "node", "data-task": t.name, "data-status": t.status, transform: `translate(${p.x},${p.y})` });
    const rect = svg("rect", { width: W, height: H, rx: 6, class: "n-" + slug(t.status) });
    const label = svg("text", { x: 8, y: 21 });
    const name = t.name.length > 18 ? t.name.slice(0, 17) + "…" : t.name;
    label.textContent = visible(name) + (t.instances.length > 1 ? " ×" + t.instances.length : "") + (t.group ? " ⟳" : "");
    const title = svg("title", {});
    title.textContent = visible(`${t.name} (${t.component || "?"}): ${t.status}` + (t.group ? ` in ${t.group}` : ""));
    g.append(rect, label, title);
    g.addEventListener("click", () => {
      const pick = t.instances.find((i) => i.status === "failed") || t.instances[0];
      if (pick) location.hash = "#/run/" + encodeURIComponent(view.run.id) + "/" + encodeURIComponent(pick.folder);
    });
    root.append(g);
  }
  return root;
}

// Cancelling a run: the one state-changing request, with the server's token (which only this
// origin can read) in a header a cross-site form cannot send.
let token = null;
async function cancelRun(id) {
  const button = document.getElementById("cancel-run");
  try {
    if (!token) token = (await getJson("/api/session")).token;
    const answer = await fetch(api(id, "cancel"), { method: "POST", headers: { "x-kfl-token": token } });
    const text = answer.ok ? "cancelling…" : "not cancelled: " + (await answer.text());
    if (button) button.replaceWith(el("span", { id: "cancel-note", class: "muted" }, text));
  } catch (e) {
    if (button) button.replaceWith(el("span", { id: "cancel-note", class: "muted" }, "not cancelled: " + e.message));
  }
}

function applyState(state) {
  if (!current) return;
  if (state.status !== "running") document.getElementById("cancel-run")?.remove();
  if (state.status !== "running" && live) { live.close(); live = null; }
  const status = document.getElementById("run-status");
  if (status) status.replaceChildren(badge(state.status));
  for (const [name, s] of Object.entries(state.tasks)) {
    const g = document.querySelector(`g.node[data-task="${CSS.escape(name)}"]`);
    if (!g) { reload(); return; } // a task appeared (a loop's instances): redraw
    if (g.getAttribute("data-status") !== s) {
      g.setAttribute("data-status", s);
      g.querySelector("rect").setAttribute("class", "n-" + slug(s));
    }
  }
  if (current.folder) refreshLogs();
  if (state.status === "lost") reload(); // say why, and mark what was running as lost
}

let reloading = false;
async function reload() {
  if (reloading || !current) return;
  reloading = true;
  try { await runPage(current.id, current.folder, true); } finally { reloading = false; }
}

async function runPage(id, folder, keepLive) {
  const view = await getJson(api(id));
  current = { id, view, folder, logs: {} };
  crumb.textContent = visible("› " + (view.run.pipeline || "?") + " › " + id);
  const params = Object.entries(view.run.params || {});
  const side = el("div", { id: "side" }, el("p", { class: "muted" }, "click a task to see its inputs, outputs and logs"));
  fill(main, 
    el("h2", {}, view.run.pipeline || id, " ", el("span", { id: "run-status" }, badge(view.run.status)), " ",
      view.run.status === "running" ? el("button", { id: "cancel-run", onclick: () => cancelRun(id) }, "cancel run") : null),
    el("p", { class: "muted" }, "started " + when(view.run.started_at), view.run.duration_ms !== null ? " · " + duration(view.run.duration_ms) : "",
      view.run.file ? " · " + view.run.file : ""),
    view.run.damaged ? el("p", { class: "note" }, "damaged record: " + view.run.damaged) : null,
    view.run.lost ? el("p", { class: "note lost" }, "lost: " + view.run.lost) : null,
    view.note ? el("p", { class: "note" }, view.note) : null,
    params.length ? el("details", {}, el("summary", {}, `parameters (${params.length})`),
      el("table", { id: "params" }, ...params.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { class: "mono" }, show(v)))))) : null,
    el("div", { id: "layout" }, el("div", { id: "graph" }, drawGraph(view)), side));
  if (folder) {
    const open = view.tasks.find((t) => t.instances.some((i) => i.folder === folder));
    if (open) document.querySelector(`g.node[data-task="${CSS.escape(open.name)}"]`)?.classList.add("selected");
    await taskPanel(side, id, folder, view);
  }
  if (!keepLive && view.run.status === "running") {
    live = new EventSource(api(id, "events"));
    live.addEventListener("state", (e) => applyState(JSON.parse(e.data)));
    live.addEventListener("end", () => live && live.close());
  }
}

function artifactLink(id, path) {
  // Artifact paths are absolute in manifests; the part under the run's folder is what the server serves.
  const marker = "/runs/" + id + "/";
  const at = typeof path === "string" ? path.indexOf(marker) : -1;
  return at < 0 ? null : path.slice(at + marker.length);
}

function valueCell(id, value) {
  if (value && typeof value === "object" && typeof value.path === "string") {
    const rel = artifactLink(id, value.path);
    return rel ? el("a", { href: api(id, "files") + "/" + rel.split("/").map(encodeURIComponent).join("/"), class: "mono" }, rel) : el("span", { class: "mono" }, value.path);
  }
  return el("span", { class: "mono" }, show(value));
}

function kvTable(id, object, cls, extra) {
  const entries = Object.entries(object || {});
  if (!entries.length) return el("p", { class: "muted" }, "none");
  return el("table", { class: cls }, ...entries.map(([k, v]) =>
    el("tr", { "data-key": k }, el("th", {}, k), el("td", {}, valueCell(id, v), extra ? extra(k) : null))));
}

const taskLink = (id, folder) => el("a", { href: "#/run/" + encodeURIComponent(id) + "/" + encodeURIComponent(folder), class: "mono task-link" }, folder);

async function taskPanel(side, id, folder, view) {
  const detail = await getJson(api(id, "instances", folder));
  const m = detail.manifest || {};
  const task = view.tasks.find((t) => t.instances.some((i) => i.folder === folder));
  const instances = task && task.instances.length > 1 ?
    el("p", {}, "instances: ", ...task.instances.map((i) => el("a", { href: "#/run/" + encodeURIComponent(id) + "/" + encodeURIComponent(i.folder), class: "mono" }, i.name, " ", badge(i.status), " "))) : null;
  const outputs = m.outputs || {};
  const artifacts = detail.files.filter((f) => f.path.includes("/outputs/artifacts/") && !f.path.endsWith(".metadata.json"))
    .map((f) => ({ ...f, record: (outputs.artifacts || {})[f.path.split("/outputs/artifacts/")[1]] || {} }));
  fill(side, 
    el("h3", { id: "task-name" }, detail.name, " ", badge(m.status || "pending")),
    detail.damaged ? el("p", { class: "note" }, detail.damaged) : null,
    instances,
    el("table", { id: "task-facts" },
      el("tr", {}, el("th", {}, "component"), el("td", {}, m.component || "")),
      el("tr", {}, el("th", {}, "duration"), el("td", {}, duration(m.duration_ms))),
      el("tr", {}, el("th", {}, "cache key"), el("td", { class: "mono" }, m.cache_key || "")),
      el("tr", {}, el("th", {}, "attempts"), el("td", {}, Array.isArray(m.attempts) ? m.attempts.length : "")),
      task && task.resources && Object.keys(task.resources).length ?
        el("tr", {}, el("th", {}, "resources"), el("td", { id: "resources", class: "mono" }, resourcesText(task.resources))) : null,
      m.reason ? el("tr", {}, el("th", {}, "reason"), el("td", {}, m.reason)) : null),
    el("div", { id: "across" }),
    el("h3", {}, "Inputs"), kvTable(id, m.inputs, "inputs", (k) => detail.producers[k] ?
      el("span", { class: "lineage" }, " from ", taskLink(id, detail.producers[k])) : null),
    el("h3", {}, "Output parameters"), kvTable(id, outputs.parameters, "outputs"),
    el("h3", {}, "Artifacts"),
    artifacts.length ? el("div", { id: "artifacts" }, ...artifacts.map((f) => artifactBox(id, f, detail.consumers, detail.charts))) : el("p", { class: "muted" }, "none"),
    el("h3", {}, "Logs"),
    el("div", {}, el("input", { id: "log-search", type: "search", placeholder: "search the logs", oninput: filterLogs })),
    el("div", { class: "muted", id: "log-stderr-info" }), el("pre", { id: "log-stderr", class: "log" }),
    el("div", { class: "muted", id: "log-stdout-info" }), el("pre", { id: "log-stdout", class: "log" }));
  current.logs = {};
  current.text = {};
  acrossRuns(side.querySelector("#across"), id, folder);
  await refreshLogs();
}

// What a task asks for, as the run recorded it: "cpu 2 (limit 4) · memory 1Gi · retries 2 · timeout 90s".
function resourcesText(resources) {
  return Object.entries(resources).map(([name, v]) => {
    if (v && typeof v === "object") {
      return name + " " + (v.request !== undefined ? show(v.request) : "") + (v.limit !== undefined ? (v.request !== undefined ? " (limit " + show(v.limit) + ")" : "limit " + show(v.limit)) : "");
    }
    return name + " " + show(v) + (name === "timeout" ? "s" : "");
  }).join(" · ");
}

// Lineage across runs (the same cache key): who made what the cache served, and where else the
// same artifacts were served and read. Asked for after the panel is drawn: it reads other runs.
async function acrossRuns(box, id, folder) {
  let lineage;
  try { lineage = await getJson(api(id, "lineage", folder)); } catch { return; }
  if (!box.isConnected) return;
  const link = (run, f) => el("a", { href: "#/run/" + encodeURIComponent(run) + "/" + encodeURIComponent(f), class: "mono run-task" }, run + " › " + f);
  const parts = [];
  if (lineage.made_by) parts.push(el("p", { id: "made-by" }, "served from the cache; made by ", link(lineage.made_by.run, lineage.made_by.folder)));
  if (lineage.elsewhere.length) {
    parts.push(el("details", { id: "elsewhere" }, el("summary", {}, `the same work in ${lineage.elsewhere.length} other run${lineage.elsewhere.length > 1 ? "s" : ""}`),
      el("ul", {}, ...lineage.elsewhere.map((t) => el("li", { "data-run": t.run }, link(t.run, t.folder), " ", badge(t.cached ? "cached" : "succeeded"),
        ...Object.entries(t.readers).map(([output, readers]) => el("span", { class: "lineage" }, ` · ${output} read by `,
          ...readers.flatMap((r, i) => (i ? [", ", link(t.run, r)] : [link(t.run, r)])))))))));
  }
  if (!lineage.complete) parts.push(el("p", { class: "muted" }, `searched the newest ${lineage.searched} other runs`));
  if (parts.length) box.replaceChildren(el("h3", {}, "Across runs"), ...parts);
}

const fileUrl = (id, path) => api(id, "files") + "/" + path.split("/").map(encodeURIComponent).join("/");

function artifactBox(id, file, consumers, charts) {
  const name = file.path.split("/").pop();
  const chart = (charts || {})[file.path.split("/outputs/artifacts/")[1]];
  const readers = (consumers || {})[file.path.split("/outputs/artifacts/")[1]] || [];
  const box = el("div", { class: "artifact", "data-artifact": name },
    el("div", {}, el("b", {}, name), " ", el("span", { class: "muted" }, file.size + " bytes"), " ",
      el("a", { href: fileUrl(id, file.path) }, "download"),
      readers.length ? el("span", { class: "lineage" }, " · read by ", ...readers.flatMap((r, i) => (i ? [", ", taskLink(id, r)] : [taskLink(id, r)]))) : null));
  const meta = file.record.metadata && Object.keys(file.record.metadata).length ?
    el("div", {}, el("div", { class: "muted" }, (file.record.type ? file.record.type + " " : "") + "metadata"),
      el("table", { class: "metadata" }, ...Object.entries(file.record.metadata).map(([k, v]) =>
        el("tr", {}, el("th", {}, k), el("td", { class: "mono" }, show(v)))))) : null;
  const body = el("div", { class: "preview" }, el("span", { class: "muted" }, "loading preview…"));
  // KFP's ClassificationMetrics metadata is drawn, not listed.
  if (chart) box.append(classificationCharts(chart));
  else if (meta) box.append(meta);
  box.append(body);
  getJson(api(id, "preview") + "/" + file.path.split("/").map(encodeURIComponent).join("/"))
    .then((r) => {
      // A metrics file that says what its metadata says: one table, not two.
      if (meta && r.preview.kind === "metrics" && r.preview.rows.every(([k, v]) => show(file.record.metadata[k]) === show(v))) meta.remove();
      body.replaceChildren(renderPreview(id, file.path, r.preview, file.record.type));
    })
    .catch((e) => body.replaceChildren(el("span", { class: "muted" }, String(e.message))));
  return box;
}

// A ClassificationMetrics artifact: its confusion matrix (rows: actual, columns: predicted; the
// darker, the more) and its ROC curve with the diagonal and the area under it. Names are SVG text.
function classificationCharts(c) {
  const parts = [];
  const text = (attrs, value) => { const t = svg("text", attrs); t.textContent = visible(String(value)); return t; };
  if (c.matrix.length) {
    const n = c.categories.length, cell = Math.max(18, Math.min(48, Math.floor(320 / n))), left = 90, top = 24;
    const most = Math.max(1, ...c.matrix.flat());
    const root = svg("svg", { class: "confusion", width: left + n * cell + 4, height: top + n * cell + 28, "data-categories": String(n) });
    // Long names are cut on the chart; the whole name is the label's tooltip.
    const short = (name) => (name.length > 12 ? name.slice(0, 11) + "…" : name);
    const label = (attrs, name) => {
      const t = text(attrs, short(name)), title = svg("title", {});
      title.textContent = visible(name);
      t.append(title);
      return t;
    };
    c.categories.forEach((name, i) => {
      root.append(label({ x: left - 4, y: top + i * cell + cell / 2 + 4, "text-anchor": "end", class: "axis" }, name));
      root.append(label({ x: left + i * cell + cell / 2, y: top + n * cell + 14, "text-anchor": "middle", class: "axis" }, name));
    });
    root.append(text({ x: left, y: 14, class: "axis" }, "actual ↓ · predicted →"));
    c.matrix.forEach((row, i) => row.forEach((v, j) => {
      const shade = v / most;
      const g = svg("g", { class: "cell", "data-row": String(i), "data-col": String(j), "data-value": String(v) });
      g.append(svg("rect", { x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1, fill: `rgba(32, 88, 184, ${0.08 + 0.92 * shade})` }));
      g.append(text({ x: left + j * cell + cell / 2, y: top + i * cell + cell / 2 + 4, "text-anchor": "middle", class: shade > 0.55 ? "count light" : "count" }, v));
      root.append(g);
    }));
    parts.push(el("figure", { class: "metric-chart" }, root, el("figcaption", {}, "confusion matrix")));
  }
  if (c.roc.length) {
    const size = 200, pad = 28, x = (f) => pad + f * size, y = (t) => pad + (1 - t) * size;
    const root = svg("svg", { class: "roc", width: size + pad * 2, height: size + pad * 2, "data-points": String(c.roc.length) });
    root.append(svg("rect", { x: pad, y: pad, width: size, height: size, class: "frame" }));
    root.append(svg("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "chance" }));
    const points = [[0, 0], ...c.roc.map((p) => [p.fpr, p.tpr]), [1, 1]];
    root.append(svg("polyline", { class: "curve", points: points.map(([f, t]) => x(f).toFixed(1) + "," + y(t).toFixed(1)).join(" ") }));
    root.append(text({ x: pad + size / 2, y: pad + size + 22, "text-anchor": "middle", class: "axis" }, "false positive rate"));
    root.append(text({ x: 10, y: pad + size / 2, transform: `rotate(-90 10 ${pad + size / 2})`, "text-anchor": "middle", class: "axis" }, "true positive rate"));
    parts.push(el("figure", { class: "metric-chart" }, root, el("figcaption", { class: "auc" }, "ROC curve" + (c.auc !== null ? ", area " + c.auc.toFixed(3) : ""))));
  }
  return el("div", { class: "classification" }, el("div", { class: "charts" }, ...parts),
    ...c.problems.map((p) => el("p", { class: "muted problem" }, p)));
}

function renderPreview(id, path, p, type) {
  // The type the run recorded wins over the file's name (artifacts often have no extension).
  if (p.kind === "text" && type === "HTML") p = { kind: "html" };
  if (p.kind === "text" && (p.markdown || type === "Markdown")) {
    return el("div", { class: "markdown" }, ...markdown(p.text), p.truncated ? el("p", { class: "muted" }, "…") : null);
  }
  switch (p.kind) {
    case "table": {
      const [head, ...rest] = p.rows;
      return el("div", {}, el("table", { class: "csv" },
        el("thead", {}, el("tr", {}, ...(head || []).map((c) => el("th", {}, c)))),
        el("tbody", {}, ...rest.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c)))))),
        p.truncated ? el("div", { class: "muted" }, "first rows only") : null);
    }
    case "metrics":
      return el("table", { class: "metrics" }, ...p.rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { class: "mono" }, show(v)))));
    case "text":
      return el("pre", { class: p.markdown ? "markdown" : "text" }, p.text, p.truncated ? "\n…" : "");
    case "image":
      return el("img", { class: "artifact", src: fileUrl(id, path) + "?inline=1", alt: path });
    case "html":
      // A sandboxed frame: no scripts, an opaque origin (the server adds a sandbox policy too).
      return el("iframe", { sandbox: "", src: fileUrl(id, path) + "?inline=1", title: path });
    case "unreadable":
      return el("span", { class: "muted unreadable" }, p.reason);
    default:
      return el("span", { class: "muted" }, "no preview (binary)");
  }
}

// Markdown, the common part (headings, lists, code blocks, tables, paragraphs; inline code, bold,
// emphasis), built as elements: no HTML in the text is ever interpreted, links stay text.
function markdown(text) {
  const blocks = [];
  const lines = text.split("\n");
  const inline = (line) => {
    const out = [];
    const pattern = /(`[^`]+`|\*\*[^*]+\*\*|\*[^*\s][^*]*\*|_[^_\s][^_]*_)/g;
    let at = 0, m;
    while ((m = pattern.exec(line))) {
      out.push(line.slice(at, m.index));
      const t = m[0];
      out.push(t.startsWith("`") ? el("code", {}, t.slice(1, -1)) : t.startsWith("**") ? el("strong", {}, t.slice(2, -2)) : el("em", {}, t.slice(1, -1)));
      at = pattern.lastIndex;
    }
    out.push(line.slice(at));
    return out;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("```")) {
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
      blocks.push(el("pre", {}, code.join("\n")));
    } else if (/^#{1,6}\s/.test(line)) {
      const level = line.match(/^#+/)[0].length;
      blocks.push(el("h" + Math.min(6, level + 2), {}, ...inline(line.replace(/^#+\s*/, ""))));
    } else if (/^\s*([-*+]|\d+[.)])\s/.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = el(ordered ? "ol" : "ul", {});
      for (; i < lines.length && /^\s*([-*+]|\d+[.)])\s/.test(lines[i]); i++) {
        list.append(el("li", {}, ...inline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ""))));
      }
      i--;
      blocks.push(list);
    } else if (/^\s*\|.*\|\s*$/.test(line)) {
      const rows = [];
      for (; i < lines.length && /^\s*\|.*\|\s*$/.test(lines[i]); i++) {
        if (!/^\s*\|[\s:|-]+\|\s*$/.test(lines[i])) rows.push(lines[i].trim().slice(1, -1).split("|").map((c) => c.trim()));
      }
      i--;
      blocks.push(el("table", {}, ...rows.map((r, n) => el("tr", {}, ...r.map((c) => el(n ? "td" : "th", {}, ...inline(c)))))));
    } else if (line.trim()) {
      const para = [line];
      for (; i + 1 < lines.length && lines[i + 1].trim() && !/^(#|```|\s*([-*+]|\d+[.)])\s|\s*\|)/.test(lines[i + 1]); i++) para.push(lines[i + 1]);
      blocks.push(el("p", {}, ...inline(para.join(" "))));
    }
  }
  return blocks;
}

// Logs: the last 256 KiB first, then only what was appended (on each live update).
async function refreshLogs() {
  if (!current || !current.folder) return;
  current.text = current.text || {};
  for (const stream of ["stderr", "stdout"]) {
    if (!document.getElementById("log-" + stream)) return;
    const end = current.logs[stream];
    const url = api(current.id, "log", current.folder, stream) + (end === undefined ? "" : "?offset=" + end);
    let w;
    try { w = await getJson(url); } catch (e) { continue; }
    if (end === undefined) {
      current.text[stream] = w.text;
      fill(document.getElementById("log-" + stream + "-info"),
        stream + (w.start > 0 ? ` (the last ${w.size - w.start} of ${w.size} bytes) ` : ` (${w.size} bytes) `),
        w.size ? el("a", { href: fileUrl(current.id, current.folder + "/" + stream + ".log") }, "download") : null);
    } else {
      current.text[stream] += w.text;
    }
    current.logs[stream] = w.start + new TextEncoder().encode(w.text).length;
  }
  filterLogs();
}

function filterLogs() {
  if (!current || !current.text) return;
  const query = (document.getElementById("log-search") || {}).value || "";
  for (const stream of ["stderr", "stdout"]) {
    const pre = document.getElementById("log-" + stream);
    const text = current.text[stream] || "";
    if (pre) pre.replaceChildren(...ansi(query ? text.split("\n").filter((l) => l.includes(query)).join("\n") : text));
  }
}

// ANSI colours (SGR: 30–37, 90–97, bold, reset) as spans with classes; every other escape sequence
// is dropped, other control characters shown as symbols.
function ansi(text) {
  const parts = [];
  let classes = [];
  const pattern = /\u001b\[([0-9;]*)([A-Za-z])/g;
  let at = 0, m;
  const push = (chunk) => {
    if (!chunk) return;
    const span = document.createElement("span");
    if (classes.length) span.className = classes.join(" ");
    span.textContent = visible(chunk);
    parts.push(span);
  };
  while ((m = pattern.exec(text))) {
    push(text.slice(at, m.index));
    at = pattern.lastIndex;
    if (m[2] !== "m") continue;
    for (const code of (m[1] || "0").split(";").map(Number)) {
      if (code === 0) classes = [];
      else if (code === 1) classes.push("ansi-bold");
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) {
        classes = classes.filter((c) => !c.startsWith("ansi-fg")).concat("ansi-fg" + (code % 10));
      }
    }
  }
  push(text.slice(at));
  return parts;
}

// ---- routing ----

async function route() {
  if (live) { live.close(); live = null; }
  current = null;
  try {
    const parts = location.hash.replace(/^#\/?/, "").split("?")[0].split("/").map(decodeURIComponent);
    if (parts[0] === "run" && parts[1]) await runPage(parts[1], parts[2] || null, false);
    else if (parts[0] === "compare" && parts[1]) await comparePage(parts[1].split(","));
    else await runsPage();
  } catch (e) { fail(e); }
}

window.addEventListener("hashchange", route);
route();

//! Reading what `kflc run` records (`<root>/runs/<id>/run.json`, `<id>/<instance>/manifest.json`)
//! into view data. Synchronous file reads, no server: testable on folders made by hand. A record
//! that is missing, half-written, not JSON or of another shape never fails the whole answer: it
//! becomes a run or a task marked `damaged` with the reason.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value as Json;

use crate::layout::{layout_grouped, Place};

/// At most this many bytes of a `run.json` or `manifest.json` are read.
const RECORD_CAP: u64 = 16 * 1024 * 1024;

/// One line of the runs list.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub id: String,
    pub pipeline: Option<String>,
    pub status: String,
    pub started_at: Option<u64>,
    pub duration_ms: Option<u64>,
    pub params: BTreeMap<String, Json>,
    pub file: Option<String>,
    /// Why the record could not be read, when it could not.
    pub damaged: Option<String>,
    /// Why the run shows as `lost` (its record says running, but no `kflc run` holds it).
    pub lost: Option<String>,
}

/// One task of the run page, with its place in the layout and its instances (one outside loops).
#[derive(Clone, Debug, Serialize)]
pub struct TaskView {
    pub name: String,
    pub component: Option<String>,
    pub group: Option<String>,
    pub after: Vec<String>,
    /// What the task asks for, as the run recorded it (`{"cpu": {"request": "500m"}, …}`; null in
    /// records from before resources were recorded).
    pub resources: Json,
    /// The task's state over its instances: failed, running, … (see [`combine`]).
    pub status: String,
    pub place: Place,
    pub instances: Vec<InstanceView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct InstanceView {
    /// The instance's name (`task@i` inside loops) and folder.
    pub name: String,
    pub folder: String,
    pub status: String,
    pub duration_ms: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunView {
    pub run: RunSummary,
    pub tasks: Vec<TaskView>,
    pub layers: usize,
    /// A note for records from before the structure was recorded.
    pub note: Option<String>,
    pub outputs: Json,
}

fn read_json(path: &Path) -> Result<Json, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no run.json (half-written or not a run)".to_string(),
        _ => format!("cannot read: {e}"),
    })?;
    let mut bytes = Vec::new();
    file.take(RECORD_CAP).read_to_end(&mut bytes).map_err(|e| format!("cannot read: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not valid JSON: {e}"))
}

fn text(value: &Json) -> Option<String> {
    value.as_str().map(str::to_string)
}

fn summary_of(id: &str, dir: &Path) -> RunSummary {
    let mut summary = RunSummary {
        id: id.to_string(),
        pipeline: None,
        status: "damaged".into(),
        // A damaged record still sorts by the time in its id.
        started_at: started_from_id(id),
        duration_ms: None,
        params: BTreeMap::new(),
        file: None,
        damaged: None,
        lost: None,
    };
    match read_json(&dir.join("run.json")) {
        Err(e) => summary.damaged = Some(e),
        Ok(Json::Object(record)) => {
            summary.pipeline = record.get("pipeline").and_then(text);
            summary.file = record.get("file").and_then(text);
            summary.duration_ms = record.get("duration_ms").and_then(Json::as_u64);
            summary.started_at = record.get("started_at").and_then(Json::as_u64).or(summary.started_at);
            if let Some(Json::Object(params)) = record.get("params") {
                summary.params = params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            }
            match record.get("status").and_then(text) {
                Some(status) if status == "running" && run_lost(dir) => {
                    summary.status = "lost".into();
                    summary.lost = Some(LOST.into());
                }
                Some(status) => summary.status = status,
                None => summary.damaged = Some("run.json has no status".into()),
            }
        }
        Ok(_) => summary.damaged = Some("run.json is not an object".into()),
    }
    summary
}

/// Why a run is shown as `lost`.
pub const LOST: &str =
    "kflc run ended without recording how (killed, or the machine stopped): nothing holds its run.lock";

/// Whether a run whose `run.json` says `running` was lost: `kflc run` holds an exclusive `flock`
/// on `<run>/run.lock` while it runs (kfl-run's `liveness.rs`), and the kernel drops it when the
/// process ends, however it ends. False when the lock is held, when there is no regular
/// `run.lock` (an older kflc, or a file system without locks: cannot tell), and when `run.json`
/// no longer says `running` once the lock was found free (the run ended a moment ago).
pub fn run_lost(dir: &Path) -> bool {
    use rustix::fs::{flock, FlockOperation};
    let path = dir.join("run.lock");
    // Never opens a FIFO or a device (it could block), nor follows a symlink out of the run.
    if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()) {
        return false;
    }
    let Ok(file) = std::fs::File::open(&path) else { return false };
    if flock(&file, FlockOperation::NonBlockingLockShared).is_err() {
        return false;
    }
    drop(file);
    // The run writes its last run.json before it lets go of the lock: read it again.
    read_json(&dir.join("run.json")).is_ok_and(|r| r.get("status").and_then(Json::as_str) == Some("running"))
}

/// The start time in a run id (`YYYYMMDD-HHMMSS-xxxxxx`, UTC), for records without `started_at`.
pub fn started_from_id(id: &str) -> Option<u64> {
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit()).then(|| s.parse::<u64>().ok()).flatten();
    if !id.is_ascii() {
        return None;
    }
    let (date, time) = (id.get(0..8)?, id.get(9..15)?);
    if id.as_bytes().get(8) != Some(&b'-') {
        return None;
    }
    let (y, m, d) = (digits(&date[0..4])?, digits(&date[4..6])?, digits(&date[6..8])?);
    let (hh, mm, ss) = (digits(&time[0..2])?, digits(&time[2..4])?, digits(&time[4..6])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 || y < 1970 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = (y as i64 - i64::from(m <= 2), m as i64);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400).ok().map(|s| s + hh * 3600 + mm * 60 + ss)
}

/// Every run under `runs`, newest first (by start time, then id). Entries that are not folders,
/// hidden entries and the `latest` link are left out; a folder without a readable record is listed
/// as damaged.
pub fn list_runs(runs: &Path) -> Vec<RunSummary> {
    let Ok(entries) = std::fs::read_dir(runs) else { return Vec::new() };
    let mut list: Vec<RunSummary> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|name| !name.starts_with('.') && crate::paths::plain_piece(name))
        .map(|name| summary_of(&name, &runs.join(&name)))
        .collect();
    list.sort_by(|a, b| b.started_at.cmp(&a.started_at).then_with(|| b.id.cmp(&a.id)));
    list
}

/// How several instances of a task read as one: any failure wins, then work in progress, then
/// the rest.
pub fn combine(statuses: &[&str]) -> String {
    const ORDER: [&str; 11] = [
        "failed",
        "damaged",
        "lost",
        "running",
        "cancelled",
        "waiting",
        "pending",
        "not run",
        "skipped",
        "succeeded",
        "cached",
    ];
    if statuses.is_empty() {
        return "pending".into();
    }
    for s in ORDER {
        if statuses.contains(&s) {
            if s == "succeeded" || s == "cached" {
                // Some cached, some ran: it ran.
                return if statuses.iter().all(|x| *x == "cached") { "cached".into() } else { "succeeded".into() };
            }
            return s.into();
        }
    }
    statuses[0].to_string()
}

/// The instance folders of a run: `(instance name, folder, manifest or why it is unreadable)`.
fn instances(dir: &Path) -> Vec<(String, String, Result<Json, String>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<(String, String, Result<Json, String>)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|name| !name.starts_with('.'))
        .map(|folder| {
            let manifest = match read_json(&dir.join(&folder).join("manifest.json")) {
                // A folder made a moment before its manifest: the task is starting.
                Err(e) if e.starts_with("no run.json") => Ok(serde_json::json!({ "status": "running" })),
                other => other,
            };
            let name = manifest.as_ref().ok().and_then(|m| m.get("task")).and_then(text).unwrap_or(folder.clone());
            (name, folder, manifest)
        })
        .collect();
    out.sort_by_key(|a| natural(&a.0));
    out
}

/// Sorts `sq@10` after `sq@9`.
fn natural(name: &str) -> Vec<Result<u64, String>> {
    name.split('@').map(|p| p.parse::<u64>().map_err(|_| p.to_string())).collect()
}

/// The task an instance belongs to (its name before the first `@`).
pub fn task_of(instance: &str) -> &str {
    instance.split('@').next().unwrap_or(instance)
}

/// The run page's data. `None` when the run folder does not exist.
pub fn run_view(runs: &Path, id: &str) -> Option<RunView> {
    let dir = runs.join(id);
    if !dir.is_dir() {
        return None;
    }
    let run = summary_of(id, &dir);
    let record = read_json(&dir.join("run.json")).unwrap_or(Json::Null);
    let mut tasks: Vec<TaskView> = Vec::new();
    let mut note = None;
    match record.get("graph").and_then(Json::as_array) {
        Some(graph) => {
            for entry in graph {
                let Some(name) = entry.get("name").and_then(text) else { continue };
                if tasks.iter().any(|t| t.name == name) {
                    continue;
                }
                let after = entry
                    .get("after")
                    .and_then(Json::as_array)
                    .map(|a| a.iter().filter_map(text).collect())
                    .unwrap_or_default();
                tasks.push(TaskView {
                    name,
                    component: entry.get("component").and_then(text),
                    group: entry.get("group").and_then(text),
                    after,
                    resources: entry.get("resources").filter(|r| r.is_object()).cloned().unwrap_or(Json::Null),
                    status: "pending".into(),
                    place: Place { layer: 0, row: 0 },
                    instances: Vec::new(),
                });
            }
        }
        None => {
            note = Some(
                "this run was recorded without its structure (an older kflc): tasks are shown without edges".into(),
            )
        }
    }
    let final_status = record.get("tasks").cloned().unwrap_or(Json::Null);
    for (name, folder, manifest) in instances(&dir) {
        let (status, duration_ms) = match &manifest {
            Ok(m) => (
                m.get("status").and_then(text).unwrap_or_else(|| "damaged".into()),
                m.get("duration_ms").and_then(Json::as_u64),
            ),
            Err(_) => ("damaged".into(), None),
        };
        let task = task_of(&name).to_string();
        let view = InstanceView { name, folder, status, duration_ms };
        match tasks.iter_mut().find(|t| t.name == task) {
            Some(t) => t.instances.push(view),
            None => tasks.push(TaskView {
                name: task,
                component: None,
                group: None,
                after: Vec::new(),
                resources: Json::Null,
                status: "pending".into(),
                place: Place { layer: 0, row: 0 },
                instances: vec![view],
            }),
        }
    }
    if run.status == "lost" {
        // What was running when the run was lost will never say how it ended.
        for instance in tasks.iter_mut().flat_map(|t| t.instances.iter_mut()).filter(|i| i.status == "running") {
            instance.status = "lost".into();
        }
    }
    let finished = !matches!(run.status.as_str(), "running" | "damaged");
    for task in &mut tasks {
        let statuses: Vec<&str> = task.instances.iter().map(|i| i.status.as_str()).collect();
        task.status = combine(&statuses);
        if task.instances.is_empty() {
            // No folder: run.json's final table says why (a loop over nothing, never ran), else it waits.
            task.status = final_status.get(&task.name).and_then(text).unwrap_or_else(|| {
                if finished {
                    "not run".into()
                } else {
                    "pending".into()
                }
            });
        }
    }
    let index: BTreeMap<&str, usize> = tasks.iter().enumerate().map(|(i, t)| (t.name.as_str(), i)).collect();
    let edges: Vec<(usize, usize)> = tasks
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.after.iter().filter_map(|a| index.get(a.as_str())).map(move |&p| (p, i)))
        .collect();
    let mut group_ids: BTreeMap<&str, usize> = BTreeMap::new();
    let groups: Vec<Option<usize>> = tasks
        .iter()
        .map(|t| {
            t.group.as_deref().map(|g| {
                let next = group_ids.len();
                *group_ids.entry(g).or_insert(next)
            })
        })
        .collect();
    let places = layout_grouped(tasks.len(), &edges, &groups);
    for (task, place) in tasks.iter_mut().zip(places) {
        task.place = place;
    }
    let layers = tasks.iter().map(|t| t.place.layer + 1).max().unwrap_or(0);
    let outputs = record.get("outputs").cloned().unwrap_or(Json::Null);
    Some(RunView { run, tasks, layers, note, outputs })
}

/// The states of a run's tasks and the run's own, for live updates, and how much each running
/// instance has logged (so that a growing log is a change too, and open logs follow it).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunState {
    pub status: String,
    pub tasks: BTreeMap<String, String>,
    pub logged: BTreeMap<String, u64>,
}

pub fn run_state(runs: &Path, id: &str) -> Option<RunState> {
    let view = run_view(runs, id)?;
    let size =
        |folder: &str, file: &str| std::fs::metadata(runs.join(id).join(folder).join(file)).map_or(0, |m| m.len());
    let logged = view
        .tasks
        .iter()
        .flat_map(|t| t.instances.iter())
        .filter(|i| i.status == "running")
        .map(|i| (i.folder.clone(), size(&i.folder, "stdout.log") + size(&i.folder, "stderr.log")))
        .collect();
    Some(RunState {
        status: view.run.status,
        tasks: view.tasks.into_iter().map(|t| (t.name, t.status)).collect(),
        logged,
    })
}

/// One task instance's details: its manifest as recorded, and what its folder holds.
#[derive(Clone, Debug, Serialize)]
pub struct InstanceDetail {
    pub name: String,
    pub folder: String,
    pub manifest: Json,
    pub damaged: Option<String>,
    /// Lineage, downstream: for each output artifact, the instances of this run that read it.
    pub consumers: BTreeMap<String, Vec<String>>,
    /// Lineage, upstream: for each input artifact, the instance folder of this run that made it.
    pub producers: BTreeMap<String, String>,
    /// Files under the instance's folder (relative to the run's folder), with sizes.
    pub files: Vec<FileEntry>,
    /// Chart data of each `ClassificationMetrics` output artifact (by output name).
    pub charts: BTreeMap<String, crate::classification::Classification>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
}

/// At most this many files are listed per instance.
const FILES_CAP: usize = 500;

pub fn instance_detail(run_dir: &Path, folder: &str) -> Option<InstanceDetail> {
    if !crate::paths::plain_piece(folder) {
        return None;
    }
    let dir = run_dir.join(folder);
    if !dir.is_dir() {
        return None;
    }
    let (manifest, damaged) = match read_json(&dir.join("manifest.json")) {
        Ok(m) => (m, None),
        Err(e) if e.starts_with("no run.json") => (Json::Null, Some("no manifest.json yet".into())),
        Err(e) => (Json::Null, Some(format!("manifest.json: {e}"))),
    };
    let name = manifest.get("task").and_then(text).unwrap_or_else(|| folder.to_string());
    let mut files = Vec::new();
    let mut stack = vec![(dir.clone(), folder.to_string())];
    while let Some((path, relative)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else { continue };
        for entry in entries.flatten() {
            let Some(file_name) = entry.file_name().to_str().map(str::to_string) else { continue };
            if file_name.starts_with('.') || files.len() >= FILES_CAP {
                continue;
            }
            // Symlinks are neither followed nor listed.
            let Ok(kind) = entry.file_type() else { continue };
            let child = format!("{relative}/{file_name}");
            if kind.is_dir() {
                stack.push((entry.path(), child));
            } else if kind.is_file() {
                files.push(FileEntry { path: child, size: entry.metadata().map_or(0, |m| m.len()) });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let (producers, consumers) = lineage(run_dir, folder, &manifest);
    let charts = charts(run_dir, &manifest);
    Some(InstanceDetail { name, folder: folder.to_string(), manifest, damaged, consumers, producers, files, charts })
}

/// At most this many bytes of a `ClassificationMetrics` file are read for its charts.
const CHART_FILE_CAP: u64 = 4 * 1024 * 1024;

/// The charts of an instance's `ClassificationMetrics` outputs: from the artifact's metadata, where
/// KFP's SDK writes them, or else from its file when that is a JSON object of the same shape (and
/// lies inside the run's folder).
fn charts(run_dir: &Path, manifest: &Json) -> BTreeMap<String, crate::classification::Classification> {
    let mut out = BTreeMap::new();
    let Some(Json::Object(artifacts)) = manifest.pointer("/outputs/artifacts") else { return out };
    let (Some(runs), Some(id)) = (run_dir.parent(), run_dir.file_name().and_then(|n| n.to_str())) else {
        return out;
    };
    for (output, artifact) in artifacts {
        if artifact.get("type").and_then(Json::as_str) != Some("ClassificationMetrics") {
            continue;
        }
        let from_metadata = artifact.get("metadata").and_then(crate::classification::classification);
        let chart = from_metadata.or_else(|| {
            let path = artifact.get("path").and_then(Json::as_str)?;
            let real = crate::paths::resolve(runs, id, under_run(id, path)?).ok()?;
            let (bytes, size) = crate::preview::read_head(&real, CHART_FILE_CAP).ok()?;
            if size > bytes.len() as u64 {
                return None;
            }
            crate::classification::classification(&serde_json::from_slice::<Json>(&bytes).ok()?)
        });
        if let Some(chart) = chart {
            out.insert(output.clone(), chart);
        }
    }
    out
}

/// The artifact paths an input value names (one artifact or a list of them).
fn artifact_paths(value: &Json) -> Vec<&str> {
    match value {
        Json::Object(o) => o.get("path").and_then(Json::as_str).into_iter().collect(),
        Json::Array(items) => items.iter().flat_map(artifact_paths).collect(),
        _ => Vec::new(),
    }
}

/// The part of a recorded artifact path under the run's folder (`…/runs/<id>/<rest>`): manifests
/// hold the absolute paths of the run as it was made, which need not be the path served now (a
/// moved root, a symlink on the way).
pub fn under_run<'a>(id: &str, path: &'a str) -> Option<&'a str> {
    let marker = format!("/runs/{id}/");
    path.find(&marker).map(|at| &path[at + marker.len()..])
}

/// The instance folder of `run_dir` an artifact path lies in (`…/runs/<id>/<folder>/outputs/…`).
fn producer_of(run_dir: &Path, path: &str) -> Option<String> {
    let id = run_dir.file_name()?.to_str()?;
    let (folder, rest) = under_run(id, path)?.split_once('/')?;
    (rest.starts_with("outputs/") && crate::paths::plain_piece(folder)).then(|| folder.to_string())
}

/// Upstream (which instance made each input artifact) and downstream (which instances read each
/// output artifact), inside one run, from the paths the manifests record.
fn lineage(run_dir: &Path, folder: &str, manifest: &Json) -> (BTreeMap<String, String>, BTreeMap<String, Vec<String>>) {
    let mut producers = BTreeMap::new();
    if let Some(Json::Object(inputs)) = manifest.get("inputs") {
        for (input, value) in inputs {
            if let Some(producer) = artifact_paths(value).into_iter().find_map(|p| producer_of(run_dir, p)) {
                producers.insert(input.clone(), producer);
            }
        }
    }
    let mut consumers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let outputs: Vec<(String, String)> = match manifest.pointer("/outputs/artifacts") {
        Some(Json::Object(artifacts)) => artifacts
            .iter()
            .filter_map(|(name, a)| Some((name.clone(), a.get("path")?.as_str()?.to_string())))
            .collect(),
        _ => Vec::new(),
    };
    if outputs.is_empty() {
        return (producers, consumers);
    }
    for (_, other, record) in instances(run_dir) {
        let Ok(record) = record else { continue };
        if other == folder {
            continue;
        }
        let Some(Json::Object(inputs)) = record.get("inputs") else { continue };
        let read: Vec<&str> = inputs.values().flat_map(artifact_paths).collect();
        for (name, path) in &outputs {
            if read.contains(&path.as_str()) {
                consumers.entry(name.clone()).or_default().push(other.clone());
            }
        }
    }
    (producers, consumers)
}

/// A run's `Metrics` outputs as `task.output.key → value` (scalars only; nested keys joined with
/// dots). As `kflc run` reads them: the artifact's file when it holds a JSON object, its metadata
/// otherwise. Only artifacts whose manifest names the type `Metrics` count (no guessing).
pub fn run_metrics(runs: &Path, id: &str) -> BTreeMap<String, Json> {
    let mut out = BTreeMap::new();
    let dir = runs.join(id);
    for (name, _folder, manifest) in instances(&dir) {
        let Ok(manifest) = manifest else { continue };
        let Some(Json::Object(artifacts)) = manifest.pointer("/outputs/artifacts") else { continue };
        for (output, artifact) in artifacts {
            if artifact.get("type").and_then(Json::as_str) != Some("Metrics") {
                continue;
            }
            // The file as the run recorded it, only if it lies inside this run's folder.
            let from_file = artifact
                .get("path")
                .and_then(Json::as_str)
                .and_then(|p| under_run(id, p))
                .and_then(|relative| crate::paths::resolve(runs, id, relative).ok())
                .and_then(|path| crate::preview::read_head(&path, 1024 * 1024).ok())
                .and_then(|(bytes, _)| serde_json::from_slice::<Json>(&bytes).ok())
                .filter(Json::is_object);
            let value = from_file.or_else(|| artifact.get("metadata").cloned()).unwrap_or(Json::Null);
            let mut rows = Vec::new();
            crate::preview::flatten("", &value, &mut rows);
            for (key, value) in rows {
                out.insert(format!("{name}.{output}.{key}"), value);
            }
        }
    }
    out
}

/// Runs side by side: each run's summary and metrics.
#[derive(Clone, Debug, Serialize)]
pub struct Compared {
    pub run: RunSummary,
    pub metrics: BTreeMap<String, Json>,
}

/// The runs named (in the order given; unknown ones left out).
pub fn compare(runs: &Path, ids: &[&str]) -> Vec<Compared> {
    ids.iter()
        .filter(|id| crate::paths::resolve(runs, id, "").is_ok())
        .map(|id| Compared { run: summary_of(id, &runs.join(id)), metrics: run_metrics(runs, id) })
        .collect()
}

/// At most this many other runs (newest first) are searched for an instance's lineage across runs.
pub const LINEAGE_RUNS_CAP: usize = 300;

/// One instance of another run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunTask {
    pub run: String,
    pub folder: String,
}

/// The same work (the same cache key) in another run: the instance, whether the cache served it,
/// and which instances of that run read each of its output artifacts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Twin {
    pub run: String,
    pub folder: String,
    pub cached: bool,
    pub readers: BTreeMap<String, Vec<String>>,
}

/// Lineage across runs, by cache key: a task with the same key did the same work, so its artifacts
/// are the ones this instance made or was served.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CrossLineage {
    /// For a cache hit: the newest older run's instance with the same key that ran (not from the
    /// cache), which made what the cache served.
    pub made_by: Option<RunTask>,
    /// Other runs' instances with the same key, newest first, with what read their artifacts.
    pub elsewhere: Vec<Twin>,
    /// How many other runs were searched, and whether that was all of them.
    pub searched: usize,
    pub complete: bool,
}

/// Lineage of the instance `folder` of run `id` across the other runs under `runs`. `None` when
/// the instance does not exist. Runs are taken newest first by id (ids start with their UTC start
/// time); at most [`LINEAGE_RUNS_CAP`] are read.
pub fn cross_lineage(runs: &Path, id: &str, folder: &str) -> Option<CrossLineage> {
    if !crate::paths::plain_piece(id) || !crate::paths::plain_piece(folder) {
        return None;
    }
    let manifest = read_json(&runs.join(id).join(folder).join("manifest.json")).ok()?;
    let mut lineage = CrossLineage { made_by: None, elsewhere: Vec::new(), searched: 0, complete: true };
    let Some(key) = manifest.get("cache_key").and_then(Json::as_str).filter(|k| !k.is_empty()) else {
        return Some(lineage);
    };
    let cached = manifest.get("cached").and_then(Json::as_bool) == Some(true);
    let mut others: Vec<String> = std::fs::read_dir(runs)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|name| name != id && !name.starts_with('.') && crate::paths::plain_piece(name))
                .collect()
        })
        .unwrap_or_default();
    others.sort_unstable_by(|a, b| b.cmp(a));
    lineage.complete = others.len() <= LINEAGE_RUNS_CAP;
    for other in others.iter().take(LINEAGE_RUNS_CAP) {
        lineage.searched += 1;
        let dir = runs.join(other);
        let manifests: Vec<(String, Json)> =
            instances(&dir).into_iter().filter_map(|(_, folder, m)| Some((folder, m.ok()?))).collect();
        let twins: Vec<(&str, bool)> = manifests
            .iter()
            .filter(|(_, m)| m.get("cache_key").and_then(Json::as_str) == Some(key))
            .filter(|(_, m)| matches!(m.get("status").and_then(Json::as_str), Some("succeeded" | "cached")))
            .map(|(folder, m)| (folder.as_str(), m.get("cached").and_then(Json::as_bool) == Some(true)))
            .collect();
        for (twin, twin_cached) in twins {
            if cached && !twin_cached && lineage.made_by.is_none() && other.as_str() < id {
                lineage.made_by = Some(RunTask { run: other.clone(), folder: twin.to_string() });
            }
            let mut readers: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (reader, m) in &manifests {
                let Some(Json::Object(inputs)) = m.get("inputs") else { continue };
                for path in inputs.values().flat_map(artifact_paths) {
                    let Some(rest) = under_run(other, path) else { continue };
                    let Some(output) = rest.strip_prefix(twin).and_then(|r| r.strip_prefix("/outputs/artifacts/"))
                    else {
                        continue;
                    };
                    let output = output.split('/').next().unwrap_or(output).to_string();
                    let list = readers.entry(output).or_default();
                    if !list.contains(reader) {
                        list.push(reader.clone());
                    }
                }
            }
            lineage.elsewhere.push(Twin { run: other.clone(), folder: twin.to_string(), cached: twin_cached, readers });
        }
    }
    Some(lineage)
}

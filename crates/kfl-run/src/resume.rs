//! `kflc run --resume [RUN]`: finding the run to continue, its parameters, and the instances that
//! succeeded in it.
//!
//! A run record is read as untrusted input: a damaged `run.json` is a refusal (E0703), a damaged
//! or altered `manifest.json` only means that instance runs again. An artifact is kept only at the
//! exact place the run wrote it, with the content hash the run recorded.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use kfl_diagnostics::Code;
use serde_json::Value as Json;

use crate::fsutil;
use crate::plan::{plain, Plan};
use crate::resources::StartError;
use crate::scheduler::{ArtifactRef, InstanceKey, Kept, Outputs};

/// The most read of a `run.json` or a `manifest.json`.
const RECORD_LIMIT: u64 = 64 * 1024 * 1024;

/// The run being continued.
pub struct Previous {
    pub id: String,
    pub dir: PathBuf,
    pub record: serde_json::Map<String, Json>,
    /// Held for the whole run: another `kflc` resuming the same run is refused.
    pub lock: std::fs::File,
}

fn refuse(message: String, help: &str) -> StartError {
    StartError { code: Code::CannotResume, message, help: Some(help.to_string()) }
}

/// Takes the run's lock (`<run>/.lock`); an error when another `kflc` holds it.
pub fn lock(run_dir: &Path) -> std::io::Result<Option<std::fs::File>> {
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(run_dir.join(".lock"))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(file)),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The run `--resume` names (`None`: the newest, `<root>/runs/latest`), checked to be one this
/// pipeline can continue.
/// `shown_root` is the root as the user gave it (for messages).
pub fn find(root: &Path, shown_root: &Path, target: Option<&str>, pipeline: &str) -> Result<Previous, StartError> {
    let runs = root.join("runs");
    let shown_runs = shown_root.join("runs");
    let id = match target {
        Some(id) => {
            let valid = !id.is_empty()
                && id.len() <= 100
                && !id.starts_with('.')
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
            if !valid || id == "latest" {
                return Err(refuse(
                    format!("`{}` is not a run id", kfl_diagnostics::escape_control(id)),
                    "run ids look like 20261206-070000-1a2b3c; they are the folders of <root>/runs",
                ));
            }
            id.to_string()
        }
        None => match std::fs::read_link(runs.join("latest")) {
            Ok(target) => target.to_string_lossy().into_owned(),
            Err(_) => {
                return Err(refuse(
                    format!("there is no run to resume under {}", shown_root.display()),
                    "start the pipeline without --resume; --root says where runs are kept",
                ))
            }
        },
    };
    if id.contains('/') || id.starts_with('.') {
        return Err(refuse(
            format!("{}/latest does not point to a run", shown_runs.display()),
            "name the run to resume",
        ));
    }
    let dir = runs.join(&id);
    let record_path = dir.join("run.json");
    let bytes = match fsutil::read_regular(&record_path, RECORD_LIMIT) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refuse(
                format!("there is no run `{id}` under {}", shown_runs.display()),
                "`ls` that folder for the run ids; without a run id --resume takes the newest",
            ))
        }
        Err(e) => return Err(refuse(format!("cannot read {}: {e}", record_path.display()), "start a new run")),
    };
    let Ok(Json::Object(record)) = serde_json::from_slice::<Json>(&bytes) else {
        return Err(refuse(
            format!("the record of run `{id}` ({}) is damaged", record_path.display()),
            "start a new run; the cache keeps what earlier runs stored",
        ));
    };
    if record.get("pipeline").and_then(Json::as_str) != Some(pipeline) {
        return Err(refuse(
            format!(
                "run `{id}` is a run of pipeline `{}`, not of `{pipeline}`",
                kfl_diagnostics::escape_control(record.get("pipeline").and_then(Json::as_str).unwrap_or("?"))
            ),
            "name a run of this pipeline, or --pipeline to pick the pipeline",
        ));
    }
    let Some(lock) = lock(&dir).map_err(|e| refuse(format!("cannot lock run `{id}`: {e}"), "start a new run"))? else {
        return Err(refuse(
            format!("run `{id}` is still running in another kflc"),
            "wait for it to end, or stop it (Ctrl-C) and resume then",
        ));
    };
    if record.get("status").and_then(Json::as_str) == Some("succeeded") {
        return Err(refuse(
            format!("run `{id}` succeeded: there is nothing to resume"),
            "start a new run without --resume",
        ));
    }
    Ok(Previous { id, dir, record, lock })
}

/// The `--param` values of the resumed run: the run's values, and the explicit `--param`s. A
/// parameter whose default in the file differs from the run's value needs an explicit `--param`.
pub fn params(previous: &Previous, dag: &kfl_dag::Dag, explicit: &[String]) -> Result<Vec<String>, StartError> {
    let given: BTreeSet<&str> = explicit.iter().filter_map(|p| p.split_once('=').map(|(n, _)| n)).collect();
    let recorded = previous.record.get("params").and_then(Json::as_object);
    let mut out = Vec::new();
    for param in &dag.params {
        if given.contains(param.name.as_str()) {
            continue;
        }
        let Some(value) = recorded.and_then(|r| r.get(&param.name)) else { continue };
        if let Some(default) = &param.default {
            let now = default.to_json();
            if !same_value(&now, value) {
                return Err(refuse(
                    format!(
                        "the parameter `{}` was {} in run `{}`, and its default in the file is now {}",
                        param.name,
                        shown(value),
                        previous.id,
                        shown(&now)
                    ),
                    "say which value the run goes on with, e.g. `--param NAME=VALUE` (tasks that read it run again)",
                ));
            }
        }
        out.push(format!("{}={}", param.name, plain(value)));
    }
    out.extend(explicit.iter().cloned());
    Ok(out)
}

fn same_value(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn shown(value: &Json) -> String {
    let text = value.to_string();
    let text: String = kfl_diagnostics::escape_control(&text).chars().take(80).collect();
    format!("`{text}`")
}

/// The instances that succeeded in the run, with what they produced. Anything that does not add
/// up (a manifest that does not parse, a name that is not this pipeline's, an artifact elsewhere
/// than where the run wrote it or with other content) is left out: that instance runs again.
pub fn kept(plan: &Plan, run_dir: &Path) -> HashMap<InstanceKey, Kept> {
    let mut out = HashMap::new();
    let by_name: HashMap<&str, usize> =
        plan.tasks.iter().enumerate().map(|(i, t)| (plan.dag.graph[t.node].name.as_str(), i)).collect();
    let Ok(entries) = std::fs::read_dir(run_dir) else { return out };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else { continue };
        if !kind.is_dir() {
            continue;
        }
        let dir = entry.path();
        let Ok(bytes) = fsutil::read_regular(&dir.join("manifest.json"), RECORD_LIMIT) else { continue };
        let Ok(manifest) = serde_json::from_slice::<Json>(&bytes) else { continue };
        if let Some((key, kept)) = kept_instance(plan, &by_name, run_dir, &dir, &manifest) {
            out.insert(key, kept);
        }
    }
    out
}

fn kept_instance(
    plan: &Plan,
    by_name: &HashMap<&str, usize>,
    run_dir: &Path,
    dir: &Path,
    manifest: &Json,
) -> Option<(InstanceKey, Kept)> {
    if !matches!(manifest.get("status")?.as_str()?, "succeeded" | "cached") {
        return None;
    }
    let name = manifest.get("task")?.as_str()?;
    let task = *by_name.get(name.split('@').next()?)?;
    let iteration: Vec<usize> = manifest
        .get("iteration")?
        .as_array()?
        .iter()
        .map(|i| i.as_u64().and_then(|i| usize::try_from(i).ok()))
        .collect::<Option<_>>()?;
    if iteration.len() != plan.tasks[task].loops.len()
        || plan.instance_name(task, &iteration) != name
        || crate::exec::instance_dir(run_dir, name) != dir
    {
        return None;
    }
    let cache_key = manifest.get("cache_key")?.as_str()?.to_string();
    let outputs = manifest.get("outputs")?;
    let component = plan.dag.component_of(plan.tasks[task].node);
    let mut kept = Outputs::default();
    for output in &component.outputs {
        if output.ty.is_artifact() {
            let recorded = outputs.get("artifacts")?.get(&output.name)?;
            let path = dir.join("outputs/artifacts").join(&output.name);
            if recorded.get("path")?.as_str()? != crate::exec::path_text(&path) {
                return None;
            }
            let hash = recorded.get("hash")?.as_str()?.to_string();
            if fsutil::content_hash(&path).ok()?? != hash {
                return None;
            }
            let metadata = recorded.get("metadata").cloned().unwrap_or_else(|| serde_json::json!({}));
            let uri = crate::exec::file_uri(&path);
            kept.artifacts.insert(output.name.clone(), ArtifactRef { path, uri, hash, metadata });
        } else {
            let value = outputs.get("parameters")?.get(&output.name)?.clone();
            kept.parameters.insert(output.name.clone(), value);
        }
    }
    Some(((task, iteration), Kept { cache_key, outputs: kept }))
}

/// The variable every task of a run gets (`<run id>/<instance>`), by which `--resume` finds the
/// processes a killed `kflc` left behind.
pub const TASK_VAR: &str = "KFL_RUN_TASK";

/// Stops what is left of the run's tasks: after kill -9 of `kflc`, their process groups (each task
/// has its own) still run, and would write into the folders the resumed tasks use. Found by their
/// [`TASK_VAR`] in `/proc/<pid>/environ` (never by a recorded pid, which may belong to another
/// program by now). Returns how many groups were stopped.
pub fn stop_leftovers(run_id: &str) -> usize {
    let mark = format!("{TASK_VAR}={run_id}/");
    let own = rustix::process::getpid();
    let own_group = rustix::process::getpgrp();
    let mut groups = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Some(pid) = rustix::process::Pid::from_raw(pid) else { continue };
        if pid == own {
            continue;
        }
        let Ok(environ) = fsutil::read_regular(&entry.path().join("environ"), 1 << 20) else { continue };
        if !environ.split(|b| *b == 0).any(|var| var.starts_with(mark.as_bytes())) {
            continue;
        }
        if let Ok(group) = rustix::process::getpgid(Some(pid)) {
            if group != own_group {
                groups.insert(group.as_raw_nonzero());
            }
        }
    }
    for group in &groups {
        if let Some(group) = rustix::process::Pid::from_raw(group.get()) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
    // Give the kernel a moment to take them down before their folders are reused.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::time::Instant::now() < deadline
        && groups.iter().any(|g| {
            rustix::process::Pid::from_raw(g.get()).is_some_and(|g| rustix::process::test_kill_process_group(g).is_ok())
        })
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    groups.len()
}

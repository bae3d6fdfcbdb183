//! The content-addressed cache, as Kubeflow Pipelines keys it: a task's key is a hash of its
//! component's definition and of its resolved inputs (artifacts by the hash of their content), so an
//! unchanged task with unchanged inputs reuses its earlier outputs, wherever they came from.
//!
//! An entry is a folder `<cache>/<key>/` with `outputs/` (a read-only copy of the task's outputs
//! folder) and `entry.json`, which records every file's size, modification time and sha256. It is
//! built under a temporary name and renamed into place, so an entry that exists is complete.
//!
//! Nothing outside the cache shares a file with it (copies or reflinks, never hard links), so no
//! task can write into it. An entry damaged from outside (a file truncated, deleted, changed) is
//! never served: a hit checks the recorded sizes and modification times, `--verify-cache` the
//! hashes too; the task runs again and its fresh entry replaces the damaged one atomically.

use std::path::Path;

use kfl_dag::{Body, Component, EnvValue, Settings};
use serde_json::{json, Value as Json};

use crate::exec::{file_uri, read_metadata};
use crate::fsutil;
use crate::scheduler::{ArtifactRef, Outputs, Resolved};

/// Bumped when the way tasks run changes what they produce.
/// 2: entries record their files (size, modification time, hash); entries of 1 are never read.
const CACHE_FORMAT: u32 = 2;

fn io_json(ty: &kfl_dag::IoType) -> String {
    format!("{ty:?}")
}

/// The key of a task instance.
pub fn cache_key(component: &Component, settings: &Settings, inputs: &[(String, Resolved)]) -> String {
    let body = match &component.body {
        Body::Script { lang, source } => json!({ "script": format!("{lang:?}"), "source": source }),
        Body::Container { command, args } => json!({
            "command": command.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>(),
            "args": args.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>(),
        }),
    };
    let env: Vec<Json> = settings
        .env
        .iter()
        .map(|(k, v)| match v {
            EnvValue::Literal(text) => json!([k, text]),
            EnvValue::Secret { name, key } => json!([k, { "secret": name, "key": key }]),
        })
        .collect();
    let inputs: serde_json::Map<String, Json> = inputs
        .iter()
        .map(|(name, value)| {
            let v = match value {
                Resolved::Parameter(v) => json!({ "value": v }),
                Resolved::Artifact(a) => json!({ "artifact": a.hash, "metadata": a.metadata }),
                Resolved::ArtifactList(list) => json!({
                    "artifacts": list.iter().map(|a| json!({ "hash": a.hash, "metadata": a.metadata })).collect::<Vec<_>>(),
                }),
            };
            (name.clone(), v)
        })
        .collect();
    let definition = json!({
        "format": CACHE_FORMAT,
        "launcher": fsutil::sha256_hex(kfl_launcher::launcher(component).unwrap_or_default().as_bytes()),
        "image": component.image,
        "packages": component.packages,
        "body": body,
        "inputs": component.inputs.iter().map(|i| json!([i.name, io_json(&i.ty), i.default.as_ref().map(|d| d.to_json())])).collect::<Vec<_>>(),
        "outputs": component.outputs.iter().map(|o| json!([o.name, io_json(&o.ty)])).collect::<Vec<_>>(),
        "env": env,
    });
    let key = json!({ "definition": definition, "inputs": inputs });
    fsutil::sha256_hex(key.to_string().as_bytes())
}

/// What the cache holds for a key.
pub enum Lookup {
    /// A sound entry, copied into the instance's folder.
    Hit(Outputs),
    Miss,
    /// An entry that is not what was stored (a file truncated, deleted or changed): never served,
    /// and to be replaced ([`store`] with `replace`) once the task ran again.
    Damaged(String),
}

/// One file, folder or link of an entry's `outputs/`, as recorded when it was stored.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Recorded {
    path: String,
    kind: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    mtime_ns: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<String>,
}

/// What is below `outputs` now, in the form it is recorded in; `full`: with the content hashes.
fn record(outputs: &Path, full: bool) -> std::io::Result<Vec<Recorded>> {
    let mut out = Vec::new();
    for stamp in fsutil::tree_stamp(outputs)?.into_iter().filter(|s| !s.relative.is_empty()) {
        let path = outputs.join(&stamp.relative);
        let sha256 = if full && stamp.kind == "file" { Some(fsutil::file_hash(&path)?) } else { None };
        let target =
            if stamp.kind == "link" { Some(std::fs::read_link(&path)?.to_string_lossy().into_owned()) } else { None };
        out.push(Recorded {
            path: stamp.relative,
            kind: stamp.kind.to_string(),
            size: stamp.size,
            mtime_ns: if stamp.kind == "file" { stamp.mtime_ns } else { 0 },
            sha256,
            target,
        });
    }
    Ok(out)
}

/// Why `found` is not `recorded`, or `None` when it is. `times`: compare modification times too
/// (true of the entry itself, not of a fresh copy of it); hashes are compared where `found` has them.
fn mismatch(recorded: &[Recorded], found: &[Recorded], times: bool) -> Option<String> {
    for expected in recorded {
        let Some(actual) = found.iter().find(|f| f.path == expected.path) else {
            return Some(format!("`{}` is missing", expected.path));
        };
        if actual.kind != expected.kind {
            return Some(format!("`{}` is a {}, not a {}", expected.path, actual.kind, expected.kind));
        }
        if actual.size != expected.size {
            return Some(format!("`{}` has {} bytes, not {}", expected.path, actual.size, expected.size));
        }
        if times && actual.mtime_ns != expected.mtime_ns {
            return Some(format!("`{}` was modified after it was stored", expected.path));
        }
        if actual.target != expected.target {
            return Some(format!("the link `{}` changed", expected.path));
        }
        if let (Some(a), Some(e)) = (&actual.sha256, &expected.sha256) {
            if a != e {
                return Some(format!("`{}` does not have the content it was stored with", expected.path));
            }
        }
    }
    found
        .iter()
        .find(|f| !recorded.iter().any(|r| r.path == f.path))
        .map(|extra| format!("`{}` was added after it was stored", extra.path))
}

/// Checks the entry of `key` and copies its outputs into `dir/outputs` on a hit. Every hit checks
/// that each recorded file is there with its size and modification time, and that the copy has the
/// recorded sizes; `verify` (`--verify-cache`) also compares the copy's content hashes.
pub fn restore(cache_dir: &Path, key: &str, dir: &Path, verify: bool) -> Lookup {
    let entry_dir = cache_dir.join(key);
    let bytes = match std::fs::read(entry_dir.join("entry.json")) {
        Ok(bytes) => bytes,
        Err(_) if entry_dir.exists() => return Lookup::Damaged("its entry.json is missing".into()),
        Err(_) => return Lookup::Miss,
    };
    let Ok(entry) = serde_json::from_slice::<Json>(&bytes) else {
        return Lookup::Damaged("its entry.json is not JSON".into());
    };
    let Some(recorded) = entry.get("files").cloned().and_then(|f| serde_json::from_value::<Vec<Recorded>>(f).ok())
    else {
        return Lookup::Damaged("its entry.json records no files".into());
    };
    let stored = entry_dir.join("outputs");
    match record(&stored, false) {
        Ok(found) => {
            if let Some(problem) = mismatch(&recorded, &found, true) {
                return Lookup::Damaged(problem);
            }
        }
        Err(e) => return Lookup::Damaged(format!("cannot read it: {e}")),
    }
    let target = dir.join("outputs");
    let tmp = dir.join(format!(".restore-{}.tmp", fsutil::unique_suffix()));
    // What is served is the copy, so the copy is what is checked.
    let restored = (|| -> Result<(), String> {
        fsutil::copy_tree(&stored, &tmp).map_err(|e| format!("cannot copy it: {e}"))?;
        let copy = record(&tmp, verify).map_err(|e| format!("cannot read its copy: {e}"))?;
        if let Some(problem) = mismatch(&recorded, &copy, false) {
            return Err(problem);
        }
        let io = |e: std::io::Error| format!("cannot put it in place: {e}");
        fsutil::make_read_only(&tmp, false).map_err(io)?;
        fsutil::remove_any(&target).map_err(io)?;
        std::fs::rename(&tmp, &target).map_err(io)
    })();
    if let Err(problem) = restored {
        let _ = fsutil::remove_any(&tmp);
        return Lookup::Damaged(problem);
    }
    let mut outputs = Outputs::default();
    if let Some(parameters) = entry.get("parameters").and_then(Json::as_object) {
        outputs.parameters = parameters.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    }
    if let Some(artifacts) = entry.get("artifacts").and_then(Json::as_object) {
        for (name, hash) in artifacts {
            let path = target.join("artifacts").join(name);
            let metadata = read_metadata(&path);
            outputs.artifacts.insert(
                name.clone(),
                ArtifactRef {
                    uri: file_uri(&path),
                    path,
                    hash: hash.as_str().unwrap_or_default().to_string(),
                    metadata,
                },
            );
        }
    }
    Lookup::Hit(outputs)
}

/// Stores a copy of a task's outputs under its key, with the size, modification time and hash of
/// every file. A no-op if a run stored them first, unless `replace` (the entry there is damaged):
/// then the new entry takes its place in one atomic exchange.
pub fn store(
    cache_dir: &Path,
    key: &str,
    dir: &Path,
    outputs: &Outputs,
    task: &str,
    replace: bool,
) -> std::io::Result<()> {
    let entry_dir = cache_dir.join(key);
    if !replace && entry_dir.join("entry.json").exists() {
        return Ok(());
    }
    std::fs::create_dir_all(cache_dir)?;
    let tmp = cache_dir.join(format!(".{key}.{}.tmp", fsutil::unique_suffix()));
    let result = (|| {
        fsutil::copy_tree(&dir.join("outputs"), &tmp.join("outputs"))?;
        fsutil::make_read_only(&tmp.join("outputs"), false)?;
        let entry = json!({
            "task": task,
            "created": crate::exec::unix_seconds(),
            "parameters": outputs.parameters,
            "artifacts": outputs.artifacts.iter().map(|(n, a)| (n.clone(), Json::String(a.hash.clone()))).collect::<serde_json::Map<_, _>>(),
            "files": record(&tmp.join("outputs"), true)?,
        });
        fsutil::write_json_atomically(&tmp.join("entry.json"), &entry)?;
        match std::fs::rename(&tmp, &entry_dir) {
            Ok(()) => return Ok(()),
            // Another run stored the same key first: theirs is as good as ours.
            Err(_) if !replace && entry_dir.join("entry.json").exists() => return fsutil::remove_any(&tmp),
            // A damaged entry is there (renaming onto a folder that is not empty fails).
            Err(_) if entry_dir.exists() => {}
            Err(e) => return Err(e),
        }
        let exchanged = rustix::fs::renameat_with(
            rustix::fs::CWD,
            &tmp,
            rustix::fs::CWD,
            &entry_dir,
            rustix::fs::RenameFlags::EXCHANGE,
        );
        if exchanged.is_err() {
            // No atomic exchange on this file system: move the damaged entry aside first (for a
            // moment there is no entry, which a reader takes for a miss).
            let aside = cache_dir.join(format!(".{key}.{}.damaged.tmp", fsutil::unique_suffix()));
            std::fs::rename(&entry_dir, &aside)?;
            std::fs::rename(&tmp, &entry_dir)?;
            return fsutil::remove_any(&aside);
        }
        // `tmp` now holds the damaged entry.
        fsutil::remove_any(&tmp)
    })();
    if result.is_err() {
        let _ = fsutil::remove_any(&tmp);
    }
    result
}

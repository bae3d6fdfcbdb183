//! The content-addressed cache, as Kubeflow Pipelines keys it: a task's key is a hash of its
//! component's definition and of its resolved inputs (artifacts by the hash of their content), so an
//! unchanged task with unchanged inputs reuses its earlier outputs, wherever they came from.
//!
//! An entry is a folder `<cache>/<key>/` with `entry.json` and, when the task's outputs folder has
//! more than output parameters, `outputs/` (a read-only copy of it, without `parameters/`).
//! `entry.json` holds the parameter files' text (`parameter_files`; they are UTF-8 text, checked
//! when the task ended) and records every copied file's size, modification time and sha256. It is
//! built under a temporary name and renamed into place, so an entry that exists is complete. A task
//! with parameters only costs its entry two inodes, not five: on ext4 without a journal every new
//! inode skips the recently freed ones one look-up at a time (see `spares.rs`).
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

/// Bumped when the way tasks run changes what they produce, or entries change form (the key
/// changes with it, so entries of another form are never read).
/// 2: entries record their files (size, modification time, hash).
/// 3: parameter files are text in `entry.json`, not copies under `outputs/parameters/`.
const CACHE_FORMAT: u32 = 3;

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
    let parameter_files = match entry.get("parameter_files") {
        None | Some(Json::Null) => None,
        Some(Json::Object(files)) => {
            let mut texts = Vec::with_capacity(files.len());
            for (name, text) in files {
                // A name from the entry becomes a path: one plain component only.
                let plain = !name.is_empty() && name != "." && name != ".." && !name.contains('/');
                let (true, Some(text)) = (plain, text.as_str()) else {
                    return Lookup::Damaged(format!("its entry.json has a bad parameter file `{name}`"));
                };
                texts.push((name.clone(), text.to_string()));
            }
            Some(texts)
        }
        Some(_) => return Lookup::Damaged("its entry.json has bad parameter files".into()),
    };
    let stored = entry_dir.join("outputs");
    // Without `outputs/` when it recorded nothing there (parameters only, or no outputs at all).
    let has_copy = std::fs::symlink_metadata(&stored).is_ok() || !recorded.is_empty();
    if has_copy {
        match record(&stored, false) {
            Ok(found) => {
                if let Some(problem) = mismatch(&recorded, &found, true) {
                    return Lookup::Damaged(problem);
                }
            }
            Err(e) => return Lookup::Damaged(format!("cannot read it: {e}")),
        }
    }
    let target = dir.join("outputs");
    let tmp = dir.join(format!(".restore-{}.tmp", fsutil::unique_suffix()));
    // What is served is the copy, so the copy is what is checked.
    let restored = (|| -> Result<(), String> {
        if has_copy {
            fsutil::copy_tree(&stored, &tmp).map_err(|e| format!("cannot copy it: {e}"))?;
        } else {
            std::fs::create_dir(&tmp).map_err(|e| format!("cannot copy it: {e}"))?;
        }
        let copy = record(&tmp, verify).map_err(|e| format!("cannot read its copy: {e}"))?;
        if let Some(problem) = mismatch(&recorded, &copy, false) {
            return Err(problem);
        }
        let io = |e: std::io::Error| format!("cannot put it in place: {e}");
        if let Some(files) = &parameter_files {
            let folder = tmp.join("parameters");
            std::fs::create_dir(&folder).map_err(io)?;
            for (name, text) in files {
                std::fs::write(folder.join(name), text).map_err(io)?;
            }
        }
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

/// The text of every file of an outputs folder's `parameters/`, when it holds regular UTF-8 text
/// files only (what a task that succeeded leaves there); `None` when it is missing or holds
/// anything else (then it is copied as the rest is).
fn parameter_texts(folder: &Path) -> std::io::Result<Option<serde_json::Map<String, Json>>> {
    let Ok(items) = std::fs::read_dir(folder) else { return Ok(None) };
    let mut texts = serde_json::Map::new();
    for item in items {
        let item = item?;
        let Some(name) = item.file_name().to_str().map(str::to_string) else { return Ok(None) };
        if !item.file_type()?.is_file() {
            return Ok(None);
        }
        let Ok(text) = String::from_utf8(std::fs::read(item.path())?) else { return Ok(None) };
        texts.insert(name, Json::String(text));
    }
    Ok(Some(texts))
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
        let written = dir.join("outputs");
        let parameter_files = parameter_texts(&written.join("parameters"))?;
        std::fs::create_dir(&tmp)?;
        let copy = tmp.join("outputs");
        for item in std::fs::read_dir(&written)? {
            let item = item?;
            if item.file_name() == "parameters" && parameter_files.is_some() {
                continue;
            }
            if !copy.exists() {
                std::fs::create_dir(&copy)?;
            }
            fsutil::copy_tree(&item.path(), &copy.join(item.file_name()))?;
        }
        let files = if copy.exists() {
            fsutil::make_read_only(&copy, false)?;
            record(&copy, true)?
        } else {
            Vec::new()
        };
        let entry = json!({
            "task": task,
            "created": crate::exec::unix_seconds(),
            "parameters": outputs.parameters,
            "artifacts": outputs.artifacts.iter().map(|(n, a)| (n.clone(), Json::String(a.hash.clone()))).collect::<serde_json::Map<_, _>>(),
            "parameter_files": parameter_files,
            "files": files,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kfl-run-cache-{name}-{}", fsutil::unique_suffix()));
        let _ = std::fs::create_dir_all(&dir);
        dir
    }

    /// A task folder whose outputs are `files` (relative path, content).
    fn task_with(root: &Path, name: &str, files: &[(&str, &str)]) -> std::io::Result<std::path::PathBuf> {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("outputs"))?;
        for (path, text) in files {
            let path = dir.join("outputs").join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, text)?;
        }
        Ok(dir)
    }

    fn files_below(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = fsutil::tree_stamp(dir)
            .unwrap_or_default()
            .into_iter()
            .map(|s| format!("{} {}", s.kind, s.relative))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn parameters_only_outputs_and_none_are_stored_and_served_whole() -> std::io::Result<()> {
        let root = scratch("forms");
        let cache = root.join("cache");
        let cases: [(&str, &[(&str, &str)]); 3] = [
            ("parameters", &[("parameters/n", "5\n"), ("parameters/s", "two\nlines")]),
            ("nothing", &[]),
            ("both", &[("parameters/n", "7"), ("artifacts/data", "bytes"), ("artifacts/data.metadata.json", "{}")]),
        ];
        for (key, files) in cases {
            let producer = task_with(&root, &format!("p-{key}"), files)?;
            store(&cache, key, &producer, &Outputs::default(), key, false)?;
            let consumer = root.join(format!("c-{key}"));
            std::fs::create_dir_all(&consumer)?;
            assert!(matches!(restore(&cache, key, &consumer, true), Lookup::Hit(_)), "{key}");
            assert_eq!(files_below(&consumer.join("outputs")), files_below(&producer.join("outputs")), "{key}");
            for (path, text) in files {
                assert_eq!(std::fs::read_to_string(consumer.join("outputs").join(path))?, *text, "{key} {path}");
            }
        }
        // Parameters only: the entry is its entry.json.
        assert_eq!(std::fs::read_dir(cache.join("parameters"))?.count(), 1);
        std::fs::remove_dir_all(&root).or_else(|_| fsutil::remove_any(&root))
    }

    #[test]
    fn a_parameter_file_name_that_leaves_the_folder_is_damage() -> std::io::Result<()> {
        let root = scratch("names");
        let cache = root.join("cache");
        let producer = task_with(&root, "p", &[("parameters/n", "5")])?;
        store(&cache, "k", &producer, &Outputs::default(), "p", false)?;
        let entry_path = cache.join("k/entry.json");
        let text = std::fs::read_to_string(&entry_path)?;
        std::fs::write(&entry_path, text.replace("\"n\": \"5\"", "\"../n\": \"5\""))?;
        let consumer = root.join("c");
        std::fs::create_dir_all(&consumer)?;
        assert!(matches!(restore(&cache, "k", &consumer, false), Lookup::Damaged(_)));
        assert!(!consumer.join("n").exists() && !consumer.join("outputs").exists());
        fsutil::remove_any(&root)
    }
}

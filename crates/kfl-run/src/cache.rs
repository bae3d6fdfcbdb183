//! The content-addressed cache, as Kubeflow Pipelines keys it: a task's key is a hash of its
//! component's definition and of its resolved inputs (artifacts by the hash of their content), so an
//! unchanged task with unchanged inputs reuses its earlier outputs, wherever they came from.
//!
//! An entry is a folder `<cache>/<key>/` with `outputs/` (the task's outputs folder, hard-linked and
//! read-only) and `entry.json`. It is built under a temporary name and renamed into place, so an
//! entry that exists is complete.

use std::path::Path;

use kfl_dag::{Body, Component, EnvValue, Settings};
use serde_json::{json, Value as Json};

use crate::exec::{file_uri, read_metadata};
use crate::fsutil;
use crate::scheduler::{ArtifactRef, Outputs, Resolved};

/// Bumped when the way tasks run changes what they produce.
const CACHE_FORMAT: u32 = 1;

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

/// Copies a cached entry's outputs into `dir/outputs` and returns them; `None` on a miss.
pub fn restore(cache_dir: &Path, key: &str, dir: &Path) -> Option<Outputs> {
    let entry_dir = cache_dir.join(key);
    let entry: Json = serde_json::from_slice(&std::fs::read(entry_dir.join("entry.json")).ok()?).ok()?;
    let target = dir.join("outputs");
    let tmp = dir.join(format!(".restore-{}.tmp", fsutil::unique_suffix()));
    let restored = (|| {
        fsutil::link_or_copy_tree(&entry_dir.join("outputs"), &tmp)?;
        fsutil::remove_any(&target)?;
        std::fs::rename(&tmp, &target)
    })();
    if restored.is_err() {
        let _ = fsutil::remove_any(&tmp);
        return None;
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
    Some(outputs)
}

/// Stores a task's outputs under its key (a no-op if another run stored them first).
pub fn store(cache_dir: &Path, key: &str, dir: &Path, outputs: &Outputs, task: &str) -> std::io::Result<()> {
    let entry_dir = cache_dir.join(key);
    if entry_dir.join("entry.json").exists() {
        return Ok(());
    }
    std::fs::create_dir_all(cache_dir)?;
    let tmp = cache_dir.join(format!(".{key}.{}.tmp", fsutil::unique_suffix()));
    let result = (|| {
        fsutil::link_or_copy_tree(&dir.join("outputs"), &tmp.join("outputs"))?;
        fsutil::make_read_only(&tmp.join("outputs"))?;
        let entry = json!({
            "task": task,
            "created": crate::exec::unix_seconds(),
            "parameters": outputs.parameters,
            "artifacts": outputs.artifacts.iter().map(|(n, a)| (n.clone(), Json::String(a.hash.clone()))).collect::<serde_json::Map<_, _>>(),
        });
        fsutil::write_json_atomically(&tmp.join("entry.json"), &entry)?;
        match std::fs::rename(&tmp, &entry_dir) {
            Ok(()) => Ok(()),
            // Another run stored the same key first: theirs is as good as ours.
            Err(_) if entry_dir.join("entry.json").exists() => fsutil::remove_any(&tmp),
            Err(e) => Err(e),
        }
    })();
    if result.is_err() {
        let _ = fsutil::remove_any(&tmp);
    }
    result
}

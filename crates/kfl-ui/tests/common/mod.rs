//! Run folders made by hand, in the shapes `kflc run` writes (and damaged ones).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kfl-ui-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("runs")).expect("mkdir");
    dir
}

pub fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// A finished run of `make → train`, `train` with a CSV artifact and logs.
pub fn finished_run(runs: &Path, id: &str, started_at: u64) {
    let run = runs.join(id);
    write(
        &run.join("run.json"),
        &serde_json::json!({
            "run_id": id, "pipeline": "demo", "file": "demo.kfl", "params": { "n": 3, "label": "<b>x</b>" },
            "status": "succeeded", "started_at": started_at, "duration_ms": 1500,
            "graph": [
                { "name": "make", "component": "make_data", "group": null, "after": [] },
                { "name": "train", "component": "train", "group": null, "after": ["make"] },
            ],
            "tasks": { "make": "succeeded", "train": "cached" }, "outputs": {},
        })
        .to_string(),
    );
    let artifact = run.join("make/outputs/artifacts/dataset");
    write(&artifact, "x1,x2,label\n1,2,0\n3,4,1\n");
    write(
        &run.join("make/manifest.json"),
        &serde_json::json!({
            "task": "make", "component": "make_data", "status": "succeeded", "cached": false,
            "cache_key": "abc123", "inputs": { "n": 3 }, "duration_ms": 700,
            "outputs": { "parameters": { "rows": 2 }, "artifacts": { "dataset": { "path": artifact.to_string_lossy() } } },
        })
        .to_string(),
    );
    write(&run.join("make/stdout.log"), "made 2 rows\n");
    write(&run.join("make/stderr.log"), "");
    write(
        &run.join("train/manifest.json"),
        &serde_json::json!({ "task": "train", "status": "cached", "duration_ms": 3 }).to_string(),
    );
}

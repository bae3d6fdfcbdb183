//! What `run.json` records for viewers (`kflc ui`) beyond the run itself: the resources each task
//! asks for, and the lock held while the run goes.

use std::path::{Path, PathBuf};

use kfl_run::{ProgressMode, RunArgs, RunStatus};
use serde_json::{json, Value as Json};

#[test]
fn run_json_records_the_resources_each_task_asks_for_and_the_run_lock_is_free_after() {
    let root = std::env::temp_dir().join(format!("kfl-run-record-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let file: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pipelines/resources.kfl");
    let mut args = RunArgs::new(file.clone());
    args.root = root.join(".kfl");
    args.progress = ProgressMode::Quiet;
    // On this machine, whether or not an engine is installed here.
    args.isolation = kfl_run::Isolation::Host;
    args.host = true;
    // The task asks for 2 CPUs, 1Gi and a GPU: a machine that has them, whatever this one has.
    args.machine = Some(kfl_run::resources::Machine { millicpus: 4000, memory: 8 << 30, gpus: vec!["0".to_string()] });
    let dag = kfl_project::lower_file(&file, None).expect("the pipeline lowers");
    let report = kfl_run::run(&args, dag, None).expect("the run starts");
    assert_eq!(report.status, RunStatus::Succeeded, "{}", kfl_run::report::summary(&report));

    let text = std::fs::read_to_string(report.run_dir.join("run.json")).expect("run.json");
    let run_json: Json = serde_json::from_str(&text).expect("json");
    let graph = run_json["graph"].as_array().expect("graph");
    let task = |name: &str| graph.iter().find(|t| t["name"] == name).cloned().unwrap_or(Json::Null);
    assert_eq!(
        task("big")["resources"],
        json!({
            "cpu": { "request": "2" }, "memory": { "request": "1Gi" }, "gpu": { "request": "1" },
            "retries": 2, "timeout": 90,
        })
    );
    assert_eq!(task("small")["resources"], json!({}));

    // The lock the run held (its pid inside) is free once it ended.
    let lock = std::fs::File::open(report.run_dir.join("run.lock")).expect("run.lock");
    let pid = std::fs::read_to_string(report.run_dir.join("run.lock")).expect("read");
    assert_eq!(pid.trim(), std::process::id().to_string());
    assert!(rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockShared).is_ok());
    let _ = std::fs::remove_dir_all(&root);
}

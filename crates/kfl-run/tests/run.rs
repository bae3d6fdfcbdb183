//! Runs small pipelines for real (python3 and sh) and checks what happened, on disk and in the report.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kfl_run::{ProgressMode, RunArgs, RunReport, RunStatus, Status};
use serde_json::Value as Json;

/// A fresh folder for one test's runs and cache.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kfl-run-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn pipeline(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pipelines").join(format!("{name}.kfl"))
}

fn args(file: PathBuf, root: &Path, params: &[String]) -> RunArgs {
    let mut args = RunArgs::new(file);
    args.root = root.join(".kfl");
    args.params = params.to_vec();
    args.progress = ProgressMode::Quiet;
    args.venv_dir = Some(root.join("venvs"));
    args.parallelism = Some(4);
    // These tests are of tasks on this machine, whether or not it has a container engine.
    args.isolation = kfl_run::Isolation::Host;
    args
}

/// Lowers and runs; `Err` when the run does not start (or the pipeline does not lower).
fn start(args: &RunArgs) -> Result<RunReport, String> {
    let dag = kfl_project::lower_file(&args.file, args.pipeline.as_deref())?;
    kfl_run::run(args, dag, None)
}

fn run(args: &RunArgs) -> RunReport {
    let dag = match kfl_project::lower_file(&args.file, args.pipeline.as_deref()) {
        Ok(dag) => dag,
        Err(e) => panic!("the pipeline does not lower: {e}"),
    };
    match kfl_run::run(args, dag, None) {
        Ok(report) => report,
        Err(e) => panic!("the run did not start: {e}"),
    }
}

fn status(report: &RunReport, name: &str) -> Status {
    match report.instance(name) {
        Some(i) => i.status,
        None => panic!("no instance `{name}` in {:?}", report.instances.iter().map(|i| &i.name).collect::<Vec<_>>()),
    }
}

fn output(report: &RunReport, name: &str) -> Json {
    match report.outputs.get(name) {
        Some(Ok(v)) => v.clone(),
        other => panic!("pipeline output `{name}`: {other:?}"),
    }
}

fn manifest(report: &RunReport, name: &str) -> Json {
    let path = report.run_dir.join(name).join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("manifest is JSON")
}

fn param(name: &str, value: &Path) -> String {
    format!("{name}={}", value.display())
}

/// Whether a process is gone (or a zombie nobody reaped yet).
fn process_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

fn wait_until_gone(pids: &[String]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if pids.iter().all(|p| process_gone(p)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn conditions_are_evaluated_on_actual_values() {
    let root = scratch("conditions");
    let report = run(&args(pipeline("conditions"), &root, &[]));
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(status(&report, "p"), Status::Succeeded);
    assert_eq!(status(&report, "big"), Status::Succeeded);
    assert_eq!(status(&report, "medium"), Status::SkippedCondition);
    assert_eq!(status(&report, "small"), Status::SkippedCondition);
    assert_eq!(status(&report, "chatty"), Status::SkippedCondition);
    assert_eq!(status(&report, "quiet"), Status::Succeeded);
    assert_eq!(manifest(&report, "medium")["status"], "skipped");

    let report = run(&args(pipeline("conditions"), &root, &["value=2".into(), "verbose=true".into()]));
    assert_eq!(status(&report, "big"), Status::SkippedCondition);
    assert_eq!(status(&report, "medium"), Status::Succeeded);
    assert_eq!(status(&report, "small"), Status::SkippedCondition);
    assert_eq!(status(&report, "chatty"), Status::Succeeded);
    assert_eq!(status(&report, "quiet"), Status::SkippedCondition);

    let report = run(&args(pipeline("conditions"), &root, &["value=0".into()]));
    assert_eq!(status(&report, "small"), Status::Succeeded);
    assert_eq!(status(&report, "medium"), Status::SkippedCondition);
}

#[test]
fn loops_fan_out_in_parallel_and_fan_in() {
    let root = scratch("loops");
    let timeline = root.join("timeline.txt");
    let report = run(&args(pipeline("loops"), &root, &[param("timeline", &timeline)]));
    assert_eq!(report.status, RunStatus::Succeeded, "{}", kfl_run::report::summary(&report));
    for i in 0..4 {
        assert_eq!(status(&report, &format!("sq@{i}")), Status::Succeeded);
    }
    assert_eq!(output(&report, "sum"), Json::from(1 + 4 + 9 + 16));
    // Artifacts are collected in the loop's order, with their metadata.
    assert_eq!(output(&report, "files"), Json::from("1@1,4@2,9@3,16@4"));
    // A loop over a task's output, reading a field of each item.
    assert_eq!(output(&report, "greetings"), Json::from("hello ada; hello alan; hello grace"));
    // run.json records the pipeline's structure for viewers: tasks, their loop group, what they wait for.
    let run_json: Json =
        serde_json::from_str(&std::fs::read_to_string(report.run_dir.join("run.json")).expect("run.json"))
            .expect("json");
    let graph = run_json["graph"].as_array().expect("graph");
    let task = |name: &str| graph.iter().find(|t| t["name"] == name).cloned().unwrap_or(Json::Null);
    assert_eq!(graph.len(), 7, "{graph:?}");
    assert_eq!(task("t")["after"], serde_json::json!(["sq"]));
    assert_eq!(task("hello")["after"], serde_json::json!(["people"]));
    assert_eq!(task("sq")["component"], "square");
    assert!(task("sq")["group"].as_str().is_some_and(|g| g.starts_with("for-loop")), "{graph:?}");
    assert_eq!(task("t")["group"], Json::Null);
    assert!(run_json["started_at"].as_u64().is_some_and(|s| s > 1_700_000_000));
    // A manifest names each output artifact's built-in type.
    assert_eq!(manifest(&report, "sq@0")["outputs"]["artifacts"]["file"]["type"], "Dataset");
    // A loop over records, reading a field of each.
    assert_eq!(output(&report, "from_records"), Json::from("hello x; hello y"));

    // `parallel 2`: never more than two iterations at once.
    let text = std::fs::read_to_string(&timeline).expect("timeline");
    let mut events: Vec<(f64, i32)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(kind, t)| (t.parse().unwrap_or(0.0), if kind == "start" { 1 } else { -1 }))
        .collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut most) = (0, 0);
    for (_, delta) in events {
        now += delta;
        most = most.max(now);
    }
    assert_eq!(most, 2, "{text}");
}

#[test]
fn a_failure_stops_its_dependents_only_and_the_exit_handler_runs() {
    let root = scratch("failures");
    let marker = root.join("cleaned");
    let report = run(&args(pipeline("failures"), &root, &[param("marker", &marker)]));
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(status(&report, "broken"), Status::Failed);
    assert_eq!(status(&report, "downstream"), Status::SkippedUpstream);
    assert_eq!(status(&report, "first"), Status::Succeeded);
    assert_eq!(status(&report, "second"), Status::Succeeded);
    assert_eq!(status(&report, "cleanup"), Status::Succeeded);
    assert_eq!(std::fs::read_to_string(&marker).expect("the exit handler ran").trim(), "cleaned");

    let broken = report.instance("broken").expect("broken");
    assert!(broken.reason.as_deref().unwrap_or("").contains("exited with code 3"), "{:?}", broken.reason);
    assert!(broken.log_tail.iter().any(|l| l.contains("something went wrong")), "{:?}", broken.log_tail);
    let m = manifest(&report, "broken");
    assert_eq!(m["status"], "failed");
    assert_eq!(m["exit_code"], 3);
    // What the failed task wrote never became an output.
    assert!(!broken.dir.join("outputs").exists());
    assert!(leftover_temporaries(&report.run_dir).is_empty());
    let summary = kfl_run::report::summary(&report);
    assert!(summary.contains("failed: broken") && summary.contains("something went wrong"), "{summary}");
}

fn leftover_temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().ends_with(".tmp") {
            out.push(path.clone());
        }
        if path.is_dir() {
            out.extend(leftover_temporaries(&path));
        }
    }
    out
}

#[test]
fn retries_run_again_with_backoff_and_only_the_last_attempt_counts() {
    let root = scratch("retries");
    let counter = root.join("counter");
    let started = Instant::now();
    let report = run(&args(pipeline("retries"), &root, &[param("counter", &counter)]));
    let flaky = report.instance("f").expect("f");
    assert_eq!(flaky.status, Status::Succeeded, "{:?}", flaky.reason);
    assert_eq!(flaky.attempts, 3);
    assert_eq!(flaky.outputs.parameters["attempts"], Json::from(3));
    let data = std::fs::read_to_string(&flaky.outputs.artifacts["data"].path).expect("data");
    assert_eq!(data.trim(), "attempt 3");
    // Backoff: 0.5 s, then 1 s.
    assert!(started.elapsed() >= Duration::from_millis(1500));

    let always = report.instance("a").expect("a");
    assert_eq!(always.status, Status::Failed);
    assert_eq!(always.attempts, 2);
    assert_eq!(manifest(&report, "a")["attempts"].as_array().map(Vec::len), Some(2));
    assert!(!always.dir.join("outputs").exists());
    assert_eq!(report.status, RunStatus::Failed);
    let stderr = std::fs::read_to_string(flaky.dir.join("stderr.log")).expect("log");
    assert!(stderr.contains("attempt 1 fails") && stderr.contains("--- attempt 3 ---"), "{stderr}");
}

#[test]
fn a_timeout_kills_the_whole_process_tree() {
    let root = scratch("timeout");
    let pids = root.join("pids");
    let started = Instant::now();
    let report = run(&args(pipeline("timeout"), &root, &[param("pids", &pids)]));
    let elapsed = started.elapsed();
    assert_eq!(report.status, RunStatus::Failed);
    let task = report.instance("spawn_and_hang").expect("task");
    assert_eq!(task.status, Status::Failed);
    assert!(task.reason.as_deref().unwrap_or("").contains("timed out after 2s"), "{:?}", task.reason);
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    let pids: Vec<String> = std::fs::read_to_string(&pids).expect("pids").lines().map(str::to_string).collect();
    assert_eq!(pids.len(), 2);
    assert!(wait_until_gone(&pids), "children still alive: {pids:?}");
}

#[test]
fn caching_reuses_unchanged_work_and_reruns_only_what_changed() {
    let root = scratch("caching");
    let first = run(&args(pipeline("caching"), &root, &[]));
    assert_eq!(first.status, RunStatus::Succeeded);
    assert_eq!(first.executed(), 4);
    assert_eq!(output(&first, "total"), Json::from(22));

    // Unchanged: no work, except the task that opted out.
    let second = run(&args(pipeline("caching"), &root, &[]));
    for name in ["left", "right", "both"] {
        assert_eq!(status(&second, name), Status::Cached, "{name}");
        assert_eq!(manifest(&second, name)["cached"], true);
    }
    assert_eq!(status(&second, "now"), Status::Succeeded);
    assert_eq!(second.executed(), 1);
    assert_eq!(output(&second, "total"), Json::from(22));
    // Cached outputs are really there, in the new run's folder.
    let data = &second.instance("left").expect("left").outputs.artifacts["data"];
    assert!(data.path.starts_with(&second.run_dir));
    assert_eq!(std::fs::read_to_string(&data.path).expect("data"), "2");
    assert_eq!(
        first.instance("both").and_then(|i| i.cache_key.clone()),
        second.instance("both").and_then(|i| i.cache_key.clone())
    );

    // One parameter changed: only what depends on it runs.
    let third = run(&args(pipeline("caching"), &root, &["b=20".into()]));
    assert_eq!(status(&third, "left"), Status::Cached);
    assert_eq!(status(&third, "right"), Status::Succeeded);
    assert_eq!(status(&third, "both"), Status::Succeeded);
    assert_eq!(status(&third, "now"), Status::Succeeded);
    assert_eq!(output(&third, "total"), Json::from(42));

    // A task whose inputs changed in value but not in content is still cached: `both` reads
    // artifacts, keyed by their content.
    let fourth = run(&args(pipeline("caching"), &root, &["b=20".into()]));
    assert_eq!(fourth.executed(), 1);

    // --no-cache: everything runs.
    let mut no_cache = args(pipeline("caching"), &root, &[]);
    no_cache.no_cache = true;
    let fifth = run(&no_cache);
    assert_eq!(fifth.executed(), 4);
}

#[test]
fn outputs_appear_only_when_a_task_succeeds() {
    let root = scratch("atomic");
    let marker = root.join("marker");
    let report = run(&args(pipeline("failures"), &root, &[param("marker", &marker)]));
    let broken = report.instance("broken").expect("broken");
    assert_eq!(broken.status, Status::Failed);
    assert!(!broken.dir.join("outputs").exists());
    // Nothing of the failed task went to the cache: a second run runs it again.
    let cache = root.join(".kfl/cache");
    let key = broken.cache_key.clone().expect("key");
    assert!(!cache.join(&key).exists());
    let again = run(&args(pipeline("failures"), &root, &[param("marker", &marker)]));
    assert_eq!(status(&again, "broken"), Status::Failed);
    assert_eq!(again.instance("broken").map(|i| i.attempts), Some(1));
    // Successful outputs are in place, complete, and read-only once cached.
    let first = again.instance("first").expect("first");
    assert_eq!(first.status, Status::Cached);
    assert!(cache.join(first.cache_key.as_deref().unwrap_or("")).join("entry.json").exists());
    assert!(leftover_temporaries(&root.join(".kfl")).is_empty());
}

/// A folder standing in for `PATH` with a fake `podman` (an `sh` script), or none.
fn fake_engines(root: &Path, podman: Option<&str>) -> std::ffi::OsString {
    use std::os::unix::fs::PermissionsExt;
    let bin = root.join("fake-bin");
    std::fs::create_dir_all(&bin).expect("bin");
    if let Some(script) = podman {
        let path = bin.join("podman");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    bin.into_os_string()
}

#[test]
fn container_components_need_an_engine_or_isolation_host() {
    let root = scratch("containers");
    // A machine without podman or docker, whatever this one has.
    let mut none = args(pipeline("containers"), &root, &[]);
    none.isolation = kfl_run::Isolation::Auto;
    none.engine_search_path = Some(fake_engines(&root, None));
    let e = start(&none).expect_err("no engine");
    assert!(e.starts_with("[E0604] "), "{e}");
    assert!(e.contains("--isolation host") && e.contains("podman") && e.contains("count_words"), "{e}");
    assert!(!root.join(".kfl/runs").exists());
    // Asked for by name, the same.
    none.engine = Some(kfl_run::engine::EngineKind::Docker);
    let e = start(&none).expect_err("no docker");
    assert!(e.contains("docker is not installed"), "{e}");

    // An engine that never answers: a timeout, not a hang.
    let mut hangs = args(pipeline("containers"), &root, &[]);
    hangs.isolation = kfl_run::Isolation::Auto;
    hangs.engine_search_path = Some(fake_engines(&root, Some("exec sleep 60")));
    hangs.engine_timeout = Duration::from_millis(500);
    let started = Instant::now();
    let e = start(&hangs).expect_err("hangs");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(e.starts_with("[E0604] ") && e.contains("did not answer within 0.5 s"), "{e}");

    // An engine that answers but lacks the image: refused before anything runs, never pulled.
    let log = root.join("engine.log");
    let script =
        format!("echo \"$*\" >> '{}'; case \"$1\" in info) exit 0;; image) exit 1;; *) exit 125;; esac", log.display());
    let mut missing = args(pipeline("containers"), &root, &[]);
    missing.isolation = kfl_run::Isolation::Auto;
    missing.engine_search_path = Some(fake_engines(&root, Some(&script)));
    let e = start(&missing).expect_err("no image");
    assert!(e.starts_with("[E0603] "), "{e}");
    assert!(
        e.contains("`busybox:1.36` (for count_words)")
            && e.contains("podman pull busybox:1.36")
            && e.contains("kflc images build")
            && e.contains("never pulls"),
        "{e}"
    );
    let calls = std::fs::read_to_string(&log).expect("log");
    assert!(calls.lines().all(|l| !l.starts_with("pull") && !l.starts_with("run")), "{calls}");
    assert!(!root.join(".kfl/runs").exists());

    let mut host = args(pipeline("containers"), &root, &[]);
    host.no_cache = true;
    let report = run(&host);
    assert_eq!(report.status, RunStatus::Succeeded, "{}", kfl_run::report::summary(&report));
    assert_eq!(output(&report, "words"), Json::from(3));
    let copy = &report.instance("c").expect("c").outputs.artifacts["copy"];
    assert_eq!(std::fs::read_to_string(&copy.path).expect("copy"), "one two three");
}

#[test]
fn without_an_engine_script_components_run_here_and_say_so() {
    let root = scratch("no-engine-scripts");
    let mut auto = args(pipeline("caching"), &root, &[]);
    auto.isolation = kfl_run::Isolation::Auto;
    auto.engine_search_path = Some(fake_engines(&root, None));
    let report = run(&auto);
    assert_eq!(report.status, RunStatus::Succeeded, "{}", kfl_run::report::summary(&report));
    // Asked for containers, it refuses instead.
    auto.isolation = kfl_run::Isolation::Container;
    let e = start(&auto).expect_err("no engine");
    assert!(e.contains("--isolation container") && e.contains("install podman"), "{e}");
}

#[test]
fn cancelling_stops_every_child_and_records_it() {
    let root = scratch("cancel");
    let pids = root.join("pids");
    let marker = root.join("marker");
    let (canceller, signal) = kfl_run::cancellation();
    let pids_file = pids.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !pids_file.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
        canceller.cancel();
    });
    let started = Instant::now();
    let sleeper = args(pipeline("sleeper"), &root, &[param("pids", &pids), param("marker", &marker)]);
    let dag = kfl_project::lower_file(&sleeper.file, None).expect("lowers");
    let report = kfl_run::run(&sleeper, dag, Some(signal)).expect("run");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(report.status, RunStatus::Cancelled);
    assert_eq!(status(&report, "s"), Status::Cancelled);
    assert_eq!(manifest(&report, "s")["status"], "cancelled");
    assert!(!marker.exists(), "a task started after the cancel");
    let run_json: Json =
        serde_json::from_str(&std::fs::read_to_string(report.run_dir.join("run.json")).expect("run.json"))
            .expect("json");
    assert_eq!(run_json["status"], "cancelled");
    let pids: Vec<String> = std::fs::read_to_string(&pids).expect("pids").lines().map(str::to_string).collect();
    assert!(wait_until_gone(&pids), "children still alive: {pids:?}");
}

#[test]
fn the_quickstart_runs_end_to_end() {
    let root = scratch("quickstart");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart.kfl");
    let report = run(&args(file.clone(), &root, &[]));
    assert_eq!(report.status, RunStatus::Succeeded, "{}", kfl_run::report::summary(&report));
    let accuracy = output(&report, "accuracy").as_f64().expect("a Float");
    assert!(accuracy > 0.8, "{accuracy}");
    // Accurate enough: the model card was published.
    let publish = report.instance("publish").expect("publish");
    assert_eq!(publish.status, Status::Succeeded);
    let card = std::fs::read_to_string(&publish.outputs.artifacts["model_card"].path).expect("card");
    assert!(card.contains("# Quickstart classifier"), "{card}");
    let model = output(&report, "model");
    assert!(Path::new(model.as_str().expect("a path")).exists());
    assert!(report.metrics.iter().any(|m| m.key == "accuracy" && m.task == "scores"));
    let data = &report.instance("data").expect("data").outputs.artifacts["dataset"];
    assert_eq!(data.metadata["rows"], 500);
    let summary = kfl_run::report::summary(&report);
    assert!(summary.contains("metrics:") && summary.contains("precision"), "{summary}");

    // An unattainable threshold: publishing is skipped, and that is not a failure.
    let strict = run(&args(file.clone(), &root, &["min_accuracy=0.999".into()]));
    assert_eq!(strict.status, RunStatus::Succeeded);
    assert_eq!(status(&strict, "publish"), Status::SkippedCondition);
    assert_eq!(strict.executed(), 0, "everything else is cached");

    let again = run(&args(file, &root, &[]));
    assert_eq!(again.executed(), 0);
    assert!(again.instances.iter().all(|i| i.status == Status::Cached));
}

#[test]
fn bad_parameters_are_refused_before_anything_runs() {
    let root = scratch("params");
    let e = start(&args(pipeline("conditions"), &root, &["value=abc".into()])).expect_err("refused");
    assert!(e.contains("`value` expects an Int"), "{e}");
    let e = start(&args(pipeline("failures"), &root, &[])).expect_err("refused");
    assert!(e.contains("marker") && e.contains("--param"), "{e}");
    assert!(!root.join(".kfl/runs").exists());
}

#[test]
fn packages_are_installed_once_into_a_shared_virtualenv() {
    let root = scratch("packages");
    let report = run(&args(pipeline("packages"), &root, &[]));
    assert_eq!(report.status, RunStatus::Succeeded, "{}", kfl_run::report::summary(&report));
    assert_eq!(output(&report, "version"), Json::from("1.16.0"));
    let prefix = |name: &str| report.instance(name).expect(name).outputs.parameters["prefix"].clone();
    assert_eq!(prefix("first"), prefix("second"));
    let prefix = PathBuf::from(prefix("first").as_str().expect("a path"));
    assert!(prefix.starts_with(root.join("venvs")), "{}", prefix.display());
    let venvs: Vec<String> = std::fs::read_dir(root.join("venvs"))
        .expect("venvs")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert_eq!(venvs.len(), 1, "{venvs:?}");
    // The next run reuses it (and its tasks are cached anyway; without the cache they run again in it).
    let mut again = args(pipeline("packages"), &root, &[]);
    again.no_cache = true;
    let report = run(&again);
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(
        report.instance("first").expect("first").outputs.parameters["prefix"],
        Json::from(prefix.to_string_lossy().as_ref())
    );
}

#[test]
fn called_pipelines_run_inlined() {
    let root = scratch("nested");
    let mut a = args(pipeline("nested"), &root, &[]);
    a.pipeline = Some("outer".into());
    let report = run(&a);
    assert_eq!(report.status, RunStatus::Succeeded, "{}", kfl_run::report::summary(&report));
    let total = |report: &RunReport, name: &str| report.instance(name).expect(name).outputs.parameters["total"].clone();
    assert_eq!(total(&report, "first.s"), Json::from(11));
    assert_eq!(total(&report, "first.t"), Json::from(12));
    assert_eq!(total(&report, "second.s"), Json::from(112));
    assert_eq!(output(&report, "total"), Json::from(113));
    assert!(report.run_dir.join("second.t/manifest.json").exists());
}

#[test]
fn fan_in_from_a_loop_in_a_loop_nests_and_from_a_called_pipeline_collects() {
    let root = scratch("fan-in");
    let mut a = args(pipeline("fan_in"), &root, &[]);
    a.pipeline = Some("fan_in".into());
    let report = run(&a);
    assert_eq!(report.status, RunStatus::Succeeded, "{}", kfl_run::report::summary(&report));
    // Outside both loops: one list per outer iteration, each the inner loop's list, in order.
    assert_eq!(
        output(&report, "grid"),
        Json::from(r#"[[13, 14, 15], [23, 24, 25]] [["1-3", "1-4", "1-5"], ["2-3", "2-4", "2-5"]]"#)
    );
    assert_eq!(output(&report, "ys"), serde_json::json!([[13, 14, 15], [23, 24, 25]]));
    // Inside the outer loop only: the inner loop's flat list.
    assert_eq!(output(&report, "rows"), Json::from("[13, 14, 15] | [23, 24, 25]"));
    // A called pipeline's parameter and artifact outputs, collected over the loop it is called in.
    assert_eq!(output(&report, "summary"), Json::from("0.9=model@0.1,0.8=model@0.2"));
}

/// The cache entry of an instance of the last run.
fn cache_entry(root: &Path, report: &RunReport, name: &str) -> PathBuf {
    let key = report.instance(name).and_then(|i| i.cache_key.clone()).expect("a cache key");
    root.join(".kfl/cache").join(key)
}

/// Overwrites a file of the cache as someone outside kflc could (read-only files included).
fn damage(path: &Path, contents: Option<&str>) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644));
    match contents {
        Some(text) => std::fs::write(path, text).expect("damage the file"),
        None => std::fs::remove_file(path).expect("delete the file"),
    }
}

#[test]
fn a_damaged_cache_entry_is_never_served_and_is_repaired() {
    let root = scratch("damaged-cache");
    let first = run(&args(pipeline("caching"), &root, &[]));
    assert_eq!(first.status, RunStatus::Succeeded);
    let left = cache_entry(&root, &first, "left").join("outputs/artifacts/data");
    let right = cache_entry(&root, &first, "right").join("outputs/artifacts/data");
    assert_eq!(std::fs::read_to_string(&left).expect("cached"), "2");
    // Truncated, and deleted: both noticed by the cheap check on a hit.
    damage(&left, Some(""));
    damage(&right, None);
    let second = run(&args(pipeline("caching"), &root, &[]));
    assert_eq!(second.status, RunStatus::Succeeded, "{}", kfl_run::report::summary(&second));
    assert_eq!(status(&second, "left"), Status::Succeeded, "a truncated entry was served");
    assert_eq!(status(&second, "right"), Status::Succeeded, "an entry without its artifact was served");
    assert_eq!(status(&second, "both"), Status::Cached);
    assert_eq!(output(&second, "total"), Json::from(22));
    let stderr = std::fs::read_to_string(second.run_dir.join("left/stderr.log")).unwrap_or_default();
    assert!(stderr.contains("cache entry") && stderr.contains("damaged"), "{stderr}");
    // Repaired: the next run reuses them again.
    assert_eq!(std::fs::read_to_string(&left).expect("repaired"), "2");
    assert_eq!(std::fs::read_to_string(&right).expect("repaired"), "20");
    let third = run(&args(pipeline("caching"), &root, &[]));
    assert_eq!(status(&third, "left"), Status::Cached);
    assert_eq!(status(&third, "right"), Status::Cached);
    assert_eq!(third.executed(), 1, "only the task that opted out runs");

    // Same size, other content, same modification time: only the full check (--verify-cache) sees it.
    let modified = std::fs::metadata(&left).and_then(|m| m.modified()).expect("mtime");
    damage(&left, Some("7"));
    let file = std::fs::File::options().write(true).open(&left).expect("open");
    file.set_modified(modified).expect("set mtime");
    drop(file);
    let mut verify = args(pipeline("caching"), &root, &[]);
    verify.verify_cache = true;
    let fourth = run(&verify);
    assert_eq!(status(&fourth, "left"), Status::Succeeded, "--verify-cache served a corrupted entry");
    assert_eq!(status(&fourth, "right"), Status::Cached);
    assert_eq!(output(&fourth, "total"), Json::from(22));
    assert_eq!(std::fs::read_to_string(&left).expect("repaired"), "2");
    assert!(leftover_temporaries(&root.join(".kfl")).is_empty());
}

#[test]
fn a_task_cannot_change_its_inputs_nor_the_cache() {
    let root = scratch("tamper");
    let first = run(&args(pipeline("tamper"), &root, &[]));
    let overwrite = first.instance("o").expect("o");
    // The write fails in the task: refused by the file's permissions, or (as root, whom they do not
    // stop) noticed after the task and failing it.
    match overwrite.status {
        Status::Failed => {
            let reason = overwrite.reason.clone().unwrap_or_default();
            assert!(reason.contains("changed its input artifact `data`"), "{reason}");
        }
        other => {
            assert_eq!(other, Status::Succeeded);
            assert_eq!(output(&first, "seen"), Json::from("original"));
        }
    }
    // Neither the producer's outputs nor its cache entry changed.
    let produced = &first.instance("p").expect("p").outputs.artifacts["data"];
    assert_eq!(std::fs::read_to_string(&produced.path).expect("output"), "original");
    let cached = cache_entry(&root, &first, "p").join("outputs/artifacts/data");
    assert_eq!(std::fs::read_to_string(&cached).expect("cached"), "original");
    let second = run(&args(pipeline("tamper"), &root, &[]));
    assert_eq!(status(&second, "p"), Status::Cached);
    let reused = &second.instance("p").expect("p").outputs.artifacts["data"];
    assert_eq!(std::fs::read_to_string(&reused.path).expect("output"), "original");
}

/// The `signal_child` example (`kflc run` in a process of its own), which `cargo test` builds
/// beside this test binary.
fn signal_child() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps");
    let child = profile_dir.join("examples").join("signal_child");
    assert!(child.is_file(), "{} was not built (cargo test builds the examples)", child.display());
    child
}

/// Runs the `interrupted` pipeline in a child process, sends it `signal` once its task runs, and
/// checks that nothing survives and nothing half-done is kept.
fn interrupt_with(signal: rustix::process::Signal, name: &str, exit_code: i32, label: &str) {
    let root = scratch(name);
    let pids = root.join("pids");
    let marker = root.join("marker");
    let mut child = std::process::Command::new(signal_child())
        .arg(pipeline("interrupted"))
        .arg(&root)
        .args(["--param", &param("pids", &pids), "--param", &param("marker", &marker)])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn the runner");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&pids).map_or(0, |t| t.lines().count()) < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a pid");
    rustix::process::kill_process(pid, signal).expect("send the signal");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the runner did not stop");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(exit_code), "{status:?}");
    let pids: Vec<String> = std::fs::read_to_string(&pids).expect("pids").lines().map(str::to_string).collect();
    assert_eq!(pids.len(), 3, "{pids:?}");
    // Every process of the task is gone, the one that ignores SIGTERM too (killed after the grace period).
    assert!(wait_until_gone(&pids), "task processes still alive: {pids:?}");
    // The task's shell got the signal, forwarded to its process group.
    assert_eq!(std::fs::read_to_string(&marker).expect("the task was sent the signal").trim(), "term");
    let run_dir = root.join(".kfl/runs/latest");
    let run_json: Json =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("run.json")).expect("run.json")).expect("json");
    assert_eq!(run_json["status"], "interrupted", "{run_json}");
    assert_eq!(run_json["signal"], label);
    assert_eq!(run_json["tasks"]["h"], "cancelled");
    let task: Json = serde_json::from_str(&std::fs::read_to_string(run_dir.join("h/manifest.json")).expect("manifest"))
        .expect("json");
    assert_eq!(task["status"], "cancelled");
    // What the task half wrote is nowhere: not in the cache, not as its outputs.
    let cache = root.join(".kfl/cache");
    let entries: Vec<_> = std::fs::read_dir(&cache).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(entries.is_empty(), "{entries:?}");
    assert!(!run_dir.join("h/outputs").exists());
    assert!(leftover_temporaries(&root.join(".kfl")).is_empty());
}

#[test]
fn sigterm_stops_every_task_and_records_the_run_as_interrupted() {
    interrupt_with(rustix::process::Signal::TERM, "sigterm", 143, "SIGTERM");
}

#[test]
fn sighup_stops_every_task_and_records_the_run_as_interrupted() {
    interrupt_with(rustix::process::Signal::HUP, "sighup", 129, "SIGHUP");
}

#[test]
fn a_file_name_that_is_not_utf8_does_not_panic() {
    use std::os::unix::ffi::OsStrExt;
    let root = scratch("not-utf8");
    let file = root.join(std::ffi::OsStr::from_bytes(b"caching-\xff.kfl"));
    std::fs::copy(pipeline("caching"), &file).expect("copy");
    let report = run(&args(file, &root, &[]));
    assert_eq!(report.status, RunStatus::Succeeded, "{}", kfl_run::report::summary(&report));
    let run_json: Json =
        serde_json::from_str(&std::fs::read_to_string(report.run_dir.join("run.json")).expect("run.json"))
            .expect("json");
    assert_eq!(run_json["status"], "succeeded");
    assert!(run_json["file"].as_str().is_some_and(|f| f.ends_with("caching-\u{fffd}.kfl")), "{run_json}");

    // A run folder whose name is not UTF-8 cannot be handed to tasks as text: refused, no panic.
    let mut odd_root = args(pipeline("caching"), &root, &[]);
    odd_root.root = root.join(std::ffi::OsStr::from_bytes(b"runs-\xfe"));
    let e = start(&odd_root).expect_err("refused");
    assert!(e.contains("UTF-8"), "{e}");
    assert!(!odd_root.root.exists());
}

#[test]
fn outputs_that_are_not_regular_files_fail_their_task_and_never_hang() {
    let root = scratch("special-outputs");
    let mut run_args = args(pipeline("special_outputs"), &root, &[]);
    run_args.host = true;
    let (tx, rx) = std::sync::mpsc::channel();
    let in_thread = run_args.clone();
    std::thread::spawn(move || {
        let _ = tx.send(run(&in_thread));
    });
    let report = rx.recv_timeout(Duration::from_secs(60)).expect("the run hung on an output that never ends");
    for name in ["fifo", "device", "folder", "parameter", "metadata"] {
        let instance = report.instance(name).expect(name);
        assert_eq!(instance.status, Status::Failed, "{name}");
        let reason = instance.reason.clone().unwrap_or_default();
        assert!(reason.contains("not a regular file"), "{name}: {reason}");
        assert!(!instance.dir.join("outputs").exists(), "{name}");
    }
    // A link to a regular file is replaced by a copy of it: the artifact outlives what it pointed to.
    let link = report.instance("link").expect("link");
    assert_eq!(link.status, Status::Succeeded, "{:?}", link.reason);
    let data = &link.outputs.artifacts["data"].path;
    assert!(std::fs::symlink_metadata(data).is_ok_and(|m| m.is_file()), "{}", data.display());
    assert_eq!(output(&report, "text"), Json::from("hello"));
    let again = run(&run_args);
    assert_eq!(status(&again, "link"), Status::Cached);
    assert_eq!(output(&again, "text"), Json::from("hello"));
}

#[test]
fn a_host_sh_task_reports_what_its_launcher_would() {
    let root = scratch("sh-contract");
    let report = run(&args(pipeline("sh_contract"), &root, &[]));
    let stderr = |name: &str| std::fs::read_to_string(report.run_dir.join(name).join("stderr.log")).unwrap_or_default();
    let stdout = |name: &str| std::fs::read_to_string(report.run_dir.join(name).join("stdout.log")).unwrap_or_default();
    let reason = |name: &str| report.instance(name).and_then(|i| i.reason.clone()).unwrap_or_default();
    assert_eq!(status(&report, "a"), Status::Failed);
    assert_eq!(stdout("a"), "ran as no_output\n");
    assert!(
        stderr("a").starts_with("kfl: no_output: the script never wrote the output parameter `n` (to \"$n\")\n"),
        "{}",
        stderr("a")
    );
    assert_eq!(reason("a"), "exited with code 1");
    assert_eq!(status(&report, "b"), Status::Failed);
    assert!(
        stderr("b").starts_with("kfl: not_an_int: the output parameter `n` should be an Int, got: 4-2\n"),
        "{}",
        stderr("b")
    );
    assert_eq!(status(&report, "c"), Status::Failed);
    assert!(stderr("c").starts_with("Killed\n"), "{}", stderr("c"));
    assert_eq!(reason("c"), "exited with code 137");
    assert_eq!(manifest(&report, "c")["exit_code"], 137);
    assert_eq!(status(&report, "d"), Status::Succeeded, "{}", stderr("d"));
    let d = manifest(&report, "d");
    assert_eq!(d["outputs"]["parameters"]["ok"], true);
    assert_eq!(d["outputs"]["artifacts"]["data"]["metadata"], serde_json::json!({}));
    let data = report.run_dir.join("d/outputs/artifacts/data.metadata.json");
    assert_eq!(std::fs::read_to_string(&data).ok().as_deref(), Some("{}"));
    let _ = std::fs::remove_dir_all(&root);
}

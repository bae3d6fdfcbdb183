//! Reading run records into view data, on folders made by hand: order, damaged records, older
//! records, loops, live states.

mod common;

use common::{finished_run, scratch, write};
use kfl_ui::records::{combine, list_runs, run_state, run_view, started_from_id};

#[test]
fn runs_are_listed_newest_first_and_damaged_ones_shown_as_such() {
    let dir = scratch("list");
    let runs = dir.join("runs");
    finished_run(&runs, "20260101-000000-aaaaaa", 1_767_225_600);
    finished_run(&runs, "20260102-000000-bbbbbb", 1_767_312_000);
    // Half-written: the folder exists, run.json not yet.
    std::fs::create_dir_all(runs.join("20260103-000000-cccccc")).expect("mkdir");
    // Damaged: not JSON, the wrong shape, no status.
    write(&runs.join("20251231-000000-dddddd/run.json"), "{\"status\": \"succ");
    write(&runs.join("20251230-000000-eeeeee/run.json"), "[1, 2]");
    write(&runs.join("20251229-000000-ffffff/run.json"), "{}");
    // Not runs: a file, a hidden folder, the latest link.
    write(&runs.join("notes.txt"), "hi");
    std::fs::create_dir_all(runs.join(".tmp")).expect("mkdir");
    std::os::unix::fs::symlink("20260102-000000-bbbbbb", runs.join("latest")).expect("symlink");

    let list = list_runs(&runs);
    let ids: Vec<&str> = list.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "20260103-000000-cccccc",
            "20260102-000000-bbbbbb",
            "20260101-000000-aaaaaa",
            "20251231-000000-dddddd",
            "20251230-000000-eeeeee",
            "20251229-000000-ffffff"
        ]
    );
    let half = &list[0];
    assert_eq!(half.status, "damaged");
    assert!(half.damaged.as_deref().is_some_and(|d| d.contains("no run.json")), "{half:?}");
    assert!(list[3].damaged.as_deref().is_some_and(|d| d.contains("not valid JSON")));
    assert!(list[4].damaged.as_deref().is_some_and(|d| d.contains("not an object")));
    assert!(list[5].damaged.as_deref().is_some_and(|d| d.contains("no status")));
    let good = &list[1];
    assert_eq!(
        (good.pipeline.as_deref(), good.status.as_str(), good.duration_ms),
        (Some("demo"), "succeeded", Some(1500))
    );
    assert_eq!(good.params["label"], "<b>x</b>");
    assert_eq!(good.damaged, None);
}

#[test]
fn a_missing_runs_folder_is_an_empty_list() {
    let dir = scratch("empty");
    assert!(list_runs(&dir.join("nowhere")).is_empty());
}

#[test]
fn start_times_come_from_ids_when_not_recorded() {
    assert_eq!(started_from_id("19700101-000001-abcdef"), Some(1));
    assert_eq!(started_from_id("20240101-000000-abcdef"), Some(1_704_067_200));
    for bad in [
        "",
        "2024",
        "20241301-000000-x",
        "20240101x000000",
        "2024010a-000000-x",
        "é0240101-000000",
        "202é010-000000-x",
        "20240101-00é00-x",
    ] {
        assert_eq!(started_from_id(bad), None, "{bad}");
    }
}

#[test]
fn the_run_page_has_the_recorded_dag_in_layers_with_states() {
    let dir = scratch("view");
    let runs = dir.join("runs");
    finished_run(&runs, "r1", 1);
    let view = run_view(&runs, "r1").expect("view");
    assert_eq!(view.layers, 2);
    let names: Vec<(&str, usize, &str)> =
        view.tasks.iter().map(|t| (t.name.as_str(), t.place.layer, t.status.as_str())).collect();
    assert_eq!(names, [("make", 0, "succeeded"), ("train", 1, "cached")]);
    assert_eq!(view.tasks[1].after, ["make"]);
    assert_eq!(view.tasks[0].instances[0].duration_ms, Some(700));
    assert_eq!(view.note, None);
    assert!(run_view(&runs, "nope").is_none());
}

#[test]
fn loop_instances_fold_into_their_task_and_a_failure_shows() {
    let dir = scratch("loops");
    let runs = dir.join("runs");
    write(
        &runs.join("r/run.json"),
        r#"{"status": "running", "pipeline": "p", "graph": [{"name": "sq", "after": [], "group": "for-loop-1"}, {"name": "sum", "after": ["sq"]}]}"#,
    );
    for (i, status) in ["succeeded", "failed", "running"].iter().enumerate() {
        write(&runs.join(format!("r/sq@{i}/manifest.json")), &format!(r#"{{"task": "sq@{i}", "status": "{status}"}}"#));
    }
    // A folder whose manifest is not written yet: starting.
    std::fs::create_dir_all(runs.join("r/sq@10")).expect("mkdir");
    let view = run_view(&runs, "r").expect("view");
    let sq = &view.tasks[0];
    assert_eq!(sq.instances.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["sq@0", "sq@1", "sq@2", "sq@10"]);
    assert_eq!(sq.status, "failed");
    assert_eq!(sq.group.as_deref(), Some("for-loop-1"));
    assert_eq!(view.tasks[1].status, "pending", "no folder yet, the run goes on");
    let state = run_state(&runs, "r").expect("state");
    assert_eq!(state.status, "running");
    assert_eq!(state.tasks["sq"], "failed");
    // A running instance's log growing is a change of state.
    assert_eq!(state.logged.get("sq@2"), Some(&0));
    write(&runs.join("r/sq@2/stdout.log"), "step 1\n");
    let later = run_state(&runs, "r").expect("state");
    assert_eq!(later.logged.get("sq@2"), Some(&7));
    assert_ne!(later, state);
    assert_eq!(later.logged.get("sq@0"), None, "finished instances are not watched");
}

#[test]
fn damaged_manifests_and_older_records_do_not_break_the_page() {
    let dir = scratch("older");
    let runs = dir.join("runs");
    // An older run.json: no graph, no started_at.
    write(
        &runs.join("r/run.json"),
        r#"{"status": "failed", "pipeline": "p", "tasks": {"a": "failed", "b": "not run"}}"#,
    );
    write(&runs.join("r/a/manifest.json"), "{not json");
    write(&runs.join("r/c/manifest.json"), r#"{"task": "c", "status": "succeeded"}"#);
    let view = run_view(&runs, "r").expect("view");
    assert!(view.note.as_deref().is_some_and(|n| n.contains("without its structure")));
    let states: Vec<(&str, &str)> = view.tasks.iter().map(|t| (t.name.as_str(), t.status.as_str())).collect();
    assert_eq!(states, [("a", "damaged"), ("c", "succeeded")]);
}

#[test]
fn combined_states() {
    assert_eq!(combine(&[]), "pending");
    assert_eq!(combine(&["cached", "cached"]), "cached");
    assert_eq!(combine(&["cached", "succeeded"]), "succeeded");
    assert_eq!(combine(&["succeeded", "running"]), "running");
    assert_eq!(combine(&["running", "failed"]), "failed");
    assert_eq!(combine(&["skipped"]), "skipped");
}

#[test]
fn metrics_are_read_from_metrics_artifacts_only_and_compared() {
    let dir = scratch("metrics");
    let runs = dir.join("runs");
    finished_run(&runs, "a", 1);
    finished_run(&runs, "b", 2);
    write(&dir.join("elsewhere.json"), r#"{"stolen": 1}"#);
    let metrics_file = runs.join("b/eval/outputs/artifacts/scores");
    write(&metrics_file, r#"{"accuracy": 0.95, "per_class": {"cat": 0.9}, "curve": [1, 2]}"#);
    let manifest = |file: &str, metadata: &str, ty: &str| {
        format!(
            r#"{{"task": "eval", "status": "succeeded", "outputs": {{"artifacts": {{"scores": {{"path": "{file}", "type": "{ty}", "metadata": {metadata}}}}}}}}}"#
        )
    };
    // In a: metrics only in the metadata (the file is not a JSON object); a Dataset is not metrics.
    write(&runs.join("a/eval/outputs/artifacts/scores"), "");
    write(
        &runs.join("a/eval/manifest.json"),
        &manifest(&runs.join("a/eval/outputs/artifacts/scores").to_string_lossy(), r#"{"accuracy": 0.9}"#, "Metrics"),
    );
    write(&runs.join("a/other/manifest.json"), &manifest("/nowhere", r#"{"rows": 3}"#, "Dataset"));
    // In b: from the file; a second Metrics output whose path leads out of the runs is read from its metadata.
    write(&runs.join("b/eval/manifest.json"), &manifest(&metrics_file.to_string_lossy(), "{}", "Metrics"));
    write(
        &runs.join("b/leak/manifest.json"),
        &manifest(&format!("{}/runs/b/../../elsewhere.json", dir.display()), r#"{"safe": 2}"#, "Metrics")
            .replace("\"eval\"", "\"leak\""),
    );
    let a = kfl_ui::records::run_metrics(&runs, "a");
    assert_eq!(a.into_iter().collect::<Vec<_>>(), [("eval.scores.accuracy".to_string(), serde_json::json!(0.9))]);
    let b = kfl_ui::records::run_metrics(&runs, "b");
    assert_eq!(b["eval.scores.accuracy"], 0.95);
    assert_eq!(b["eval.scores.per_class.cat"], 0.9);
    assert!(!b.contains_key("eval.scores.curve"));
    assert_eq!(b["leak.scores.safe"], 2);
    assert!(!b.keys().any(|k| k.contains("stolen")), "{b:?}");
    let compared = kfl_ui::records::compare(&runs, &["b", "..", "nope", "a"]);
    assert_eq!(compared.iter().map(|c| c.run.id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
}

#[test]
fn lineage_follows_recorded_artifact_paths_within_the_run() {
    let dir = scratch("lineage");
    let runs = dir.join("runs");
    finished_run(&runs, "r", 1);
    let dataset = runs.join("r/make/outputs/artifacts/dataset");
    let reads = format!(
        r#"{{"task": "train", "status": "succeeded", "inputs": {{"data": {{"path": "{}"}}, "n": 3}}}}"#,
        dataset.display()
    );
    write(&runs.join("r/train/manifest.json"), &reads);
    let looped = format!(
        r#"{{"task": "sum@0", "status": "succeeded", "inputs": {{"all": [{{"path": "/elsewhere"}}, {{"path": "{}"}}]}}}}"#,
        dataset.display()
    );
    write(&runs.join("r/sum@0/manifest.json"), &looped);
    let make = kfl_ui::records::instance_detail(&runs.join("r"), "make").expect("make");
    assert_eq!(make.consumers["dataset"], ["sum@0", "train"]);
    let train = kfl_ui::records::instance_detail(&runs.join("r"), "train").expect("train");
    assert_eq!(train.producers.get("data").map(String::as_str), Some("make"));
    assert!(!train.producers.contains_key("n"));
    assert!(kfl_ui::records::instance_detail(&runs.join("r"), "..").is_none());
}

/// A small deterministic generator of hostile bytes (no dependency for it).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    let alphabet = b"{}[]\":,0123456789.-eE truefalsnul\\u00\n\r\t,;\"<>&\x1b\x00\xff\xc3\xa9abc@/";
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            alphabet[(state >> 33) as usize % alphabet.len()]
        })
        .collect()
}

#[test]
fn hostile_records_and_files_never_panic() {
    let dir = scratch("noise");
    let runs = dir.join("runs");
    let shapes = [
        r#"{"status": 1, "graph": 5}"#,
        r#"{"status": "running", "graph": [1, {"name": 2}, {"name": "a", "after": "b"}, {"name": "a"}, {"name": "b", "after": ["b", "a", 7]}]}"#,
        r#"{"status": "failed", "graph": [{"name": "x", "after": ["y"]}, {"name": "y", "after": ["x"]}], "tasks": [1]}"#,
        r#"{"status": "succeeded", "params": [1], "started_at": -1, "duration_ms": "long", "outputs": 3}"#,
    ];
    for (i, shape) in shapes.iter().enumerate() {
        write(&runs.join(format!("s{i}/run.json")), shape);
        write(
            &runs.join(format!("s{i}/a/manifest.json")),
            r#"{"task": 5, "status": [], "inputs": 1, "outputs": {"artifacts": [1]}}"#,
        );
        write(
            &runs.join(format!("s{i}/b@x@@/manifest.json")),
            r#"{"task": "@", "outputs": {"artifacts": {"m": {"type": "Metrics", "path": 3}}}}"#,
        );
    }
    for seed in 0..200u64 {
        let bytes = noise(seed, (seed as usize * 7) % 300);
        let id = format!("n{seed}");
        std::fs::create_dir_all(runs.join(&id).join("t")).expect("mkdir");
        std::fs::write(runs.join(&id).join("run.json"), &bytes).expect("write");
        std::fs::write(runs.join(&id).join("t/manifest.json"), &bytes).expect("write");
        for name in ["x.csv", "x.tsv", "x", "x.md", "x.json"] {
            let _ = kfl_ui::preview::preview(name, &bytes, bytes.len() as u64 + seed % 2);
        }
    }
    let list = list_runs(&runs);
    assert_eq!(list.len(), 204);
    for run in &list {
        let view = run_view(&runs, &run.id).expect("every listed run has a page");
        assert!(view.tasks.iter().all(|t| t.place.layer < view.layers.max(1)));
        let _ = run_state(&runs, &run.id);
        let _ = kfl_ui::records::run_metrics(&runs, &run.id);
        let _ = kfl_ui::records::instance_detail(&runs.join(&run.id), "t");
    }
    // The cycle in s2 still lays out, each task once.
    let cyclic = run_view(&runs, "s2").expect("view");
    assert_eq!(cyclic.tasks.iter().filter(|t| t.name == "x" || t.name == "y").count(), 2);
}

/// A run whose record says `running`, with one instance running, and a `run.lock` in the shape
/// kfl-run writes (its pid), not held.
fn running_run(runs: &std::path::Path, id: &str) -> std::path::PathBuf {
    let run = runs.join(id);
    write(
        &run.join("run.json"),
        r#"{"status": "running", "pipeline": "p", "graph": [{"name": "a", "after": []}, {"name": "b", "after": ["a"]}]}"#,
    );
    write(&run.join("a/manifest.json"), r#"{"task": "a", "status": "running"}"#);
    write(&run.join("run.lock"), "12345\n");
    run
}

#[test]
fn a_running_record_nobody_holds_is_lost_and_a_held_one_is_running() {
    use rustix::fs::{flock, FlockOperation};
    let dir = scratch("liveness");
    let runs = dir.join("runs");
    let run = running_run(&runs, "20260101-000000-aaaaaa");

    // The run's process holds the lock: running.
    let holder = std::fs::OpenOptions::new().write(true).open(run.join("run.lock")).expect("open");
    flock(&holder, FlockOperation::NonBlockingLockExclusive).expect("lock");
    let list = list_runs(&runs);
    assert_eq!((list[0].status.as_str(), list[0].lost.as_deref()), ("running", None));
    assert_eq!(run_state(&runs, "20260101-000000-aaaaaa").expect("state").tasks["a"], "running");

    // The process is gone (the kernel dropped its lock): lost, and so is what was running; what
    // never started did not run.
    drop(holder);
    let list = list_runs(&runs);
    assert_eq!(list[0].status, "lost");
    assert!(list[0].lost.as_deref().is_some_and(|why| why.contains("run.lock")), "{:?}", list[0]);
    let view = run_view(&runs, "20260101-000000-aaaaaa").expect("view");
    let states: Vec<(&str, &str)> = view.tasks.iter().map(|t| (t.name.as_str(), t.status.as_str())).collect();
    assert_eq!(states, [("a", "lost"), ("b", "not run")]);
    assert_eq!(run_state(&runs, "20260101-000000-aaaaaa").expect("state").status, "lost");

    // Looking does not take the lock away from a run: the runner can still lock it afterwards.
    let again = std::fs::OpenOptions::new().write(true).open(run.join("run.lock")).expect("open");
    flock(&again, FlockOperation::NonBlockingLockExclusive).expect("the viewer left the lock free");
}

#[test]
fn without_a_regular_lock_file_a_running_record_stays_running() {
    let dir = scratch("liveness-older");
    let runs = dir.join("runs");
    // An older kflc wrote no run.lock: nothing tells, so the record is believed.
    let older = running_run(&runs, "20260101-000000-aaaaaa");
    std::fs::remove_file(older.join("run.lock")).expect("rm");
    // A FIFO in its place must not block the list; a symlink is not followed; a folder is not a lock.
    let fifo = running_run(&runs, "20260102-000000-bbbbbb");
    std::fs::remove_file(fifo.join("run.lock")).expect("rm");
    assert!(std::process::Command::new("mkfifo").arg(fifo.join("run.lock")).status().expect("mkfifo").success());
    let link = running_run(&runs, "20260103-000000-cccccc");
    std::fs::remove_file(link.join("run.lock")).expect("rm");
    std::os::unix::fs::symlink("/dev/null", link.join("run.lock")).expect("symlink");
    let folder = running_run(&runs, "20260104-000000-dddddd");
    std::fs::remove_file(folder.join("run.lock")).expect("rm");
    std::fs::create_dir(folder.join("run.lock")).expect("mkdir");

    let list = list_runs(&runs);
    assert_eq!(list.len(), 4);
    for run in &list {
        assert_eq!((run.status.as_str(), run.lost.as_deref()), ("running", None), "{}", run.id);
    }
}

#[test]
fn a_run_that_ends_as_it_is_looked_at_is_not_lost() {
    let dir = scratch("liveness-ended");
    let runs = dir.join("runs");
    // The lock is free and run.json says how the run ended: it ended, it was not lost.
    let run = running_run(&runs, "20260101-000000-aaaaaa");
    write(&run.join("run.json"), r#"{"status": "succeeded", "pipeline": "p"}"#);
    assert_eq!(list_runs(&runs)[0].status, "succeeded");
    assert!(!kfl_ui::records::run_lost(&run));
}

/// A run where `make` (cache key `k1`) made a dataset, ran or was served from the cache, and `train`
/// read it.
fn make_and_train(runs: &std::path::Path, id: &str, make_cached: bool) {
    let dataset = runs.join(id).join("make/outputs/artifacts/dataset");
    write(&dataset, "x\n1\n");
    write(&runs.join(id).join("run.json"), r#"{"status": "succeeded", "pipeline": "p"}"#);
    write(
        &runs.join(id).join("make/manifest.json"),
        &serde_json::json!({
            "task": "make", "status": if make_cached { "cached" } else { "succeeded" }, "cached": make_cached,
            "cache_key": "k1", "outputs": { "artifacts": { "dataset": { "path": dataset.to_string_lossy() } } },
        })
        .to_string(),
    );
    write(
        &runs.join(id).join("train/manifest.json"),
        &serde_json::json!({
            "task": "train", "status": "succeeded", "cached": false, "cache_key": "k2",
            "inputs": { "data": { "path": dataset.to_string_lossy() }, "n": 1 },
        })
        .to_string(),
    );
}

#[test]
fn lineage_across_runs_follows_the_cache_key() {
    use kfl_ui::records::{cross_lineage, RunTask};
    let dir = scratch("lineage-across");
    let runs = dir.join("runs");
    make_and_train(&runs, "20260101-000000-aaaaaa", false);
    make_and_train(&runs, "20260102-000000-bbbbbb", true);
    make_and_train(&runs, "20260103-000000-cccccc", true);
    // The same key in a failed instance, and a manifest that is not JSON: neither counts.
    write(
        &runs.join("20260104-000000-dddddd/make/manifest.json"),
        r#"{"task": "make", "status": "failed", "cached": false, "cache_key": "k1"}"#,
    );
    write(&runs.join("20260104-000000-dddddd/train/manifest.json"), "{\"cache_key\": \"k1");

    // A cache hit: made by the run that ran it; the same work elsewhere, newest first, with readers.
    let hit = cross_lineage(&runs, "20260102-000000-bbbbbb", "make").expect("lineage");
    assert_eq!(hit.made_by, Some(RunTask { run: "20260101-000000-aaaaaa".into(), folder: "make".into() }));
    let elsewhere: Vec<(&str, bool)> = hit.elsewhere.iter().map(|t| (t.run.as_str(), t.cached)).collect();
    assert_eq!(elsewhere, [("20260103-000000-cccccc", true), ("20260101-000000-aaaaaa", false)]);
    assert_eq!(hit.elsewhere[0].readers["dataset"], ["train"]);
    assert_eq!((hit.searched, hit.complete), (3, true));

    // The instance that ran: no maker; its artifact was served and read in two later runs.
    let made = cross_lineage(&runs, "20260101-000000-aaaaaa", "make").expect("lineage");
    assert_eq!(made.made_by, None);
    assert_eq!(made.elsewhere.len(), 2);
    assert!(made.elsewhere.iter().all(|t| t.cached && t.readers["dataset"] == ["train"]));

    // Another key (`train`'s, which ran in every run): only its own twins, and no maker for an
    // instance that ran. A key no other run has: nothing across runs.
    let train = cross_lineage(&runs, "20260101-000000-aaaaaa", "train").expect("lineage");
    let twins: Vec<&str> = train.elsewhere.iter().map(|t| t.run.as_str()).collect();
    assert_eq!(twins, ["20260103-000000-cccccc", "20260102-000000-bbbbbb"]);
    assert!(train.made_by.is_none() && train.elsewhere.iter().all(|t| !t.cached && t.readers.is_empty()));
    write(
        &runs.join("20260101-000000-aaaaaa/alone/manifest.json"),
        r#"{"task": "alone", "status": "succeeded", "cached": true, "cache_key": "k9"}"#,
    );
    let alone = cross_lineage(&runs, "20260101-000000-aaaaaa", "alone").expect("lineage");
    assert!(alone.elsewhere.is_empty() && alone.made_by.is_none());
    assert!(cross_lineage(&runs, "20260101-000000-aaaaaa", "nope").is_none());
    assert!(cross_lineage(&runs, "..", "make").is_none());
    assert!(cross_lineage(&runs, "20260101-000000-aaaaaa", "../20260102-000000-bbbbbb/make").is_none());
}

#[test]
fn the_run_page_carries_each_task_s_recorded_resources() {
    let dir = scratch("resources");
    let runs = dir.join("runs");
    write(
        &runs.join("r/run.json"),
        r#"{"status": "succeeded", "graph": [{"name": "a", "after": [], "resources": {"cpu": {"request": "2"}}},
            {"name": "b", "after": [], "resources": "<b>not an object</b>"}, {"name": "c", "after": []}]}"#,
    );
    let view = run_view(&runs, "r").expect("view");
    let resources: Vec<String> = view.tasks.iter().map(|t| t.resources.to_string()).collect();
    assert_eq!(resources, [r#"{"cpu":{"request":"2"}}"#, "null", "null"]);
}

#[test]
fn classification_charts_come_from_metadata_or_else_from_the_file() {
    let dir = scratch("classification");
    let runs = dir.join("runs");
    let run = runs.join("r");
    let file = run.join("t/outputs/artifacts/from_file");
    let shape = r#"{"confusionMatrix": {"annotationSpecs": [{"displayName": "a"}], "rows": [{"row": [3]}]}}"#;
    write(&file, shape);
    let outside = dir.join("outside.json");
    write(&outside, shape);
    let manifest = serde_json::json!({
        "task": "t", "status": "succeeded",
        "outputs": { "artifacts": {
            "from_metadata": { "type": "ClassificationMetrics", "path": "/nowhere",
                "metadata": { "confidenceMetrics": [{ "recall": 1.0, "falsePositiveRate": 0.0 }] } },
            "from_file": { "type": "ClassificationMetrics", "path": file.to_string_lossy(), "metadata": {} },
            // A recorded path outside the run's folder is never read.
            "outside": { "type": "ClassificationMetrics", "path": outside.to_string_lossy() },
            "untyped": { "path": file.to_string_lossy() },
        } },
    });
    write(&run.join("t/manifest.json"), &manifest.to_string());
    let detail = kfl_ui::records::instance_detail(&run, "t").expect("detail");
    assert_eq!(detail.charts.keys().collect::<Vec<_>>(), ["from_file", "from_metadata"]);
    assert_eq!(detail.charts["from_file"].matrix, [[3.0]]);
    assert_eq!(detail.charts["from_metadata"].auc, Some(1.0));
}

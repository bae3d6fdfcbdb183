//! Resource budgets, GPU devices and memory limits of a local run, proven from what the tasks
//! themselves recorded (their start and end times, the devices they saw), never from how long the
//! run took. The machine is given (`RunArgs::machine`), so no test depends on this one's GPUs.

use std::path::{Path, PathBuf};

use kfl_run::resources::Machine;
use kfl_run::{ProgressMode, RunArgs, RunReport, RunStatus, Status};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kfl-budget-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn args(pipeline: &str, root: &Path, machine: Machine) -> RunArgs {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pipelines/budgets.kfl");
    let mut args = RunArgs::new(file);
    args.pipeline = Some(pipeline.to_string());
    args.root = root.join(".kfl");
    args.progress = ProgressMode::Quiet;
    // On this machine, whether or not an engine is installed here.
    args.isolation = kfl_run::Isolation::Host;
    args.no_cache = true;
    // More than any budget below: only the budget can keep tasks apart.
    args.parallelism = Some(8);
    args.machine = Some(machine);
    args
}

fn machine(cores: u64, gpus: &[&str]) -> Machine {
    Machine { millicpus: cores * 1000, memory: 64 << 30, gpus: gpus.iter().map(|g| g.to_string()).collect() }
}

fn start(args: &RunArgs) -> Result<RunReport, String> {
    let dag = kfl_project::lower_file(&args.file, args.pipeline.as_deref())?;
    kfl_run::run(args, dag, None)
}

/// Each task's `times` output: start and end (ns) and the rest of the line (devices seen).
fn recorded(report: &RunReport) -> Vec<(String, u128, u128, Vec<String>)> {
    let mut out = Vec::new();
    for instance in &report.instances {
        assert_eq!(instance.status, Status::Succeeded, "{}: {:?}", instance.name, instance.reason);
        let line = instance.outputs.parameters["times"].as_str().expect("text").to_string();
        let mut words = line.split_whitespace();
        let start: u128 = words.next().and_then(|w| w.parse().ok()).expect("start");
        let end: u128 = words.next().and_then(|w| w.parse().ok()).expect("end");
        out.push((instance.name.clone(), start, end, words.map(str::to_string).collect()));
    }
    out
}

fn overlap(a: &(String, u128, u128, Vec<String>), b: &(String, u128, u128, Vec<String>)) -> bool {
    a.1 < b.2 && b.1 < a.2
}

#[test]
fn one_cpu_tasks_never_overlap_under_one_cpu() {
    let root = scratch("one-cpu");
    let mut args = args("cpus", &root, machine(2, &[]));
    args.cpus = Some("1".into());
    let report = start(&args).expect("starts");
    assert_eq!(report.status, RunStatus::Succeeded);
    let times = recorded(&report);
    assert_eq!(times.len(), 4);
    for (i, a) in times.iter().enumerate() {
        for b in &times[i + 1..] {
            assert!(!overlap(a, b), "`{}` and `{}` ran at the same time under --cpus 1: {a:?} {b:?}", a.0, b.0);
        }
    }
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.run_dir.join("run.json")).expect("run.json")).expect("json");
    assert_eq!(record["budget"]["cpus"], 1.0);
}

#[test]
fn a_task_that_takes_every_core_runs_alone() {
    let root = scratch("two-cpu");
    let mut args = args("mixed", &root, machine(2, &[]));
    args.cpus = Some("2".into());
    let report = start(&args).expect("starts");
    let times = recorded(&report);
    let big = times.iter().find(|t| t.0 == "big").expect("big ran").clone();
    for other in times.iter().filter(|t| t.0 != "big") {
        assert!(!overlap(&big, other), "`big` (2 CPU of 2) overlapped `{}`: {big:?} {other:?}", other.0);
    }
}

#[test]
fn each_gpu_task_gets_devices_no_running_task_has() {
    let root = scratch("gpus");
    let report = start(&args("gpus", &root, machine(8, &["0", "1", "2"]))).expect("starts");
    assert_eq!(report.status, RunStatus::Succeeded);
    let times = recorded(&report);
    let devices = |t: &(String, u128, u128, Vec<String>)| -> Vec<String> {
        t.3[0].split(',').filter(|d| !d.is_empty()).map(str::to_string).collect()
    };
    for t in &times {
        match t.0.as_str() {
            "pair" => assert_eq!(devices(t).len(), 2, "{t:?}"),
            "plain" => assert_eq!(t.3, ["[]", "void"], "a task without GPUs sees none: {t:?}"),
            _ => assert_eq!(devices(t).len(), 1, "{t:?}"),
        }
        if t.0 != "plain" {
            // CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES name the same devices.
            assert_eq!(t.3[0], t.3[1], "{t:?}");
            assert!(devices(t).iter().all(|d| ["0", "1", "2"].contains(&d.as_str())), "{t:?}");
        }
    }
    let mut concurrent_pairs = 0;
    for (i, a) in times.iter().enumerate() {
        for b in &times[i + 1..] {
            if overlap(a, b) {
                concurrent_pairs += 1;
                let shared: Vec<String> = devices(a).into_iter().filter(|d| devices(b).contains(d)).collect();
                assert!(shared.is_empty(), "`{}` and `{}` ran at once on {shared:?}", a.0, b.0);
            }
        }
    }
    // Not a timing claim: only that the check above had something to check (3 GPUs, 4 GPU tasks of
    // 0.2 s, 8 at once: some ran together).
    assert!(concurrent_pairs > 0, "{times:?}");
}

#[test]
fn requests_over_the_budget_are_refused_before_anything_runs() {
    let root = scratch("over");
    let Err(e) = start(&args("gpus", &root, machine(8, &["0"]))) else { panic!("a 2-GPU task started on 1 GPU") };
    assert!(e.starts_with("[E0701] "), "{e}");
    assert!(e.contains("`pair` requests 2 GPU of 1"), "{e}");
    assert!(!root.join(".kfl/runs").exists(), "a refused run left a run folder");

    let mut half = args("cpus", &root, machine(2, &[]));
    half.gpus = Some("0.5".into());
    let Err(e) = start(&half) else { panic!("--gpus 0.5 accepted") };
    assert!(e.starts_with("[E0702] `--gpus 0.5` is not a whole number of GPUs"), "{e}");

    let mut greedy = args("cpus", &root, machine(2, &[]));
    greedy.memory = Some("65Gi".into());
    let Err(e) = start(&greedy) else { panic!("more memory than the machine accepted") };
    assert!(e.starts_with("[E0702] `--memory 65Gi` is more than this machine has (64Gi)"), "{e}");

    let mut small = args("memory", &root, machine(2, &[]));
    small.memory = Some("128Mi".into());
    let Err(e) = start(&small) else { panic!("a 256Mi task started in 128Mi") };
    assert!(e.contains("`eat` requests 256Mi of memory of 128Mi"), "{e}");
}

#[test]
fn a_task_over_its_memory_limit_is_out_of_memory() {
    let root = scratch("oom");
    let report = start(&args("memory", &root, machine(2, &[]))).expect("starts");
    assert_eq!(report.status, RunStatus::Failed);
    let eat = report.instance("eat").expect("eat");
    assert_eq!(eat.status, Status::Failed);
    let reason = eat.reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("out of memory: the task needed more than its memory limit of 256Mi (exited with code 1)"),
        "{reason}"
    );

    // Within its limit the same task succeeds: the limit, not the program, failed it above.
    let mut fits = args("memory", &root, machine(2, &[]));
    fits.params = vec!["megabytes=16".into()];
    let report = start(&fits).expect("starts");
    assert_eq!(report.status, RunStatus::Succeeded, "{}", kfl_run::report::summary(&report));
}

#[test]
fn a_large_task_is_not_starved_by_smaller_ones_after_it() {
    let root = scratch("starve");
    let mut args = args("starve", &root, machine(2, &[]));
    args.cpus = Some("2".into());
    let report = start(&args).expect("starts");
    let times = recorded(&report);
    let big = times.iter().find(|t| t.0 == "big").expect("big ran").clone();
    for later in times.iter().filter(|t| ["c", "d", "e"].contains(&t.0.as_str())) {
        // Once `big` waits for room, what frees up is kept for it: tasks after it start after it.
        assert!(later.1 >= big.1, "`{}` started before `big`, which waited for 2 CPU: {later:?} {big:?}", later.0);
    }
}

/// `cpu_limit` on this machine: a cgroup's CPU quota holds a task that spins for two seconds to
/// about a tenth of a core (where this machine lets a run make cgroups; elsewhere the task runs
/// uncapped and the run says so once).
#[test]
fn a_task_on_this_machine_is_held_to_its_cpu_limit() {
    let root = scratch("cpu-limit");
    let report = start(&args("capped", &root, machine(2, &[]))).expect("starts");
    let spin = report.instance("spin").expect("spin");
    assert_eq!(spin.status, Status::Succeeded, "{:?}", spin.reason);
    let used = spin.outputs.parameters["used"].as_str().expect("text").to_string();
    let numbers: Vec<u64> = used.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let [ticks, hundredths] = numbers[..] else { panic!("{used:?}") };
    assert!(hundredths >= 200, "{used}");
    match kfl_run::cgroup::CpuCaps::new().available() {
        // 100m of two seconds is 0.2 s (20 ticks at the usual 100 a second); uncapped, the loop
        // would have had one core, 200 ticks, or half of one on a busy machine.
        Ok(()) => {
            assert!(ticks <= 60, "{ticks} ticks of CPU in {hundredths} hundredths of a second under cpu_limit = 100m")
        }
        Err(reason) => eprintln!("no CPU cap on this machine ({reason}): the task ran uncapped, {ticks} ticks"),
    }
}

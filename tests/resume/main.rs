//! `kflc run --resume` after each way a run can end early: Ctrl-C (SIGINT), SIGTERM and kill -9 of
//! `kflc` itself, with the real binary. A two-task chain whose second task waits (sleeps) until a
//! gate file exists: the run is stopped while it waits, the gate is opened, and the resumed run
//! must keep the first task (it ran once in all, although caching is off), run the second, reuse
//! the run's parameters, and leave no process of the stopped run behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PIPELINE: &str = r#"
component step {
    image = "alpine:3.20"
    input name: String
    input gate: String
    input label: String = "a"
    input previous: String = ""
    output out: String
    sh """
        echo "$name $label" >> "$gate/ran"
        if [ "$name" = second ] && [ ! -e "$gate/open" ]; then
            echo $$ > "$gate/second.pid"
            sleep 60
        fi
        echo "$name:$label:$previous" > "$out"
    """
}

pipeline chain(gate: String, label: String = "a") {
    first = step(name: "first", gate: gate)
    second = step(name: "second", gate: gate, label: label, previous: first.out)
    output result = second.out
}
"#;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kflc-resume-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("gate")).expect("scratch");
    std::fs::write(dir.join("chain.kfl"), PIPELINE).expect("pipeline");
    dir
}

fn kflc(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kflc"));
    command.current_dir(dir).stdin(Stdio::null());
    command
}

fn output(mut command: Command) -> (i32, String) {
    let out = command.output().expect("kflc runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ran(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("gate/ran")).unwrap_or_default().lines().map(str::to_string).collect()
}

fn run_record(dir: &Path) -> serde_json::Value {
    let runs = dir.join(".kfl/runs");
    let latest = std::fs::read_link(runs.join("latest")).expect("latest");
    serde_json::from_slice(&std::fs::read(runs.join(latest).join("run.json")).expect("run.json")).expect("json")
}

fn alive(pid: &str) -> bool {
    // A zombie has no command line any more; it is gone for what matters here.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

/// Starts the chain, stops `kflc` with `signal` while the second task waits, then resumes.
fn stopped_then_resumed(name: &str, signal: &str, expected_exit: Option<i32>, recorded: &str) {
    let dir = scratch(name);
    let gate = dir.join("gate");
    let mut first = kflc(&dir);
    first
        .args(["run", "chain.kfl", "--isolation", "host", "--no-cache", "--param"])
        .arg(format!("gate={}", gate.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = first.spawn().expect("kflc starts");
    wait_for(&gate.join("second.pid"));
    let orphan = std::fs::read_to_string(gate.join("second.pid")).expect("pid").trim().to_string();

    // While it runs, the run cannot be resumed by another kflc.
    let mut busy = kflc(&dir);
    busy.args(["run", "chain.kfl", "--isolation", "host", "--resume"]);
    let (status, text) = output(busy);
    assert_eq!(status, 2, "{text}");
    assert!(text.contains("error[E0703]: run `") && text.contains("is still running in another kflc"), "{text}");

    let killed = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("kflc ends");
    assert_eq!(out.status.code(), expected_exit, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(run_record(&dir)["status"], recorded);
    assert_eq!(ran(&dir), ["first a", "second a"]);
    if signal != "-KILL" {
        assert!(!alive(&orphan), "kflc left its task running after {signal}");
    }

    std::fs::write(gate.join("open"), "").expect("gate");
    // No --param: the run's `gate` is reused (the pipeline has no default for it).
    let mut resumed = kflc(&dir);
    resumed.args(["run", "chain.kfl", "--isolation", "host", "--resume"]);
    let (status, text) = output(resumed);
    assert_eq!(status, 0, "{text}");
    assert!(text.contains("1 ran, 0 cached, 1 kept from the resumed run"), "{text}");
    assert!(!alive(&orphan), "the task the killed kflc left running still runs after --resume");
    // `first` ran once in all: kept although caching was off.
    assert_eq!(ran(&dir), ["first a", "second a", "second a"]);
    let record = run_record(&dir);
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["resumes"], 1);
    assert_eq!(record["outputs"]["result"], "second:a:first:a:");
    let runs: Vec<_> = std::fs::read_dir(dir.join(".kfl/runs")).expect("runs").flatten().collect();
    assert_eq!(runs.len(), 2, "one run folder and `latest`: the resume continued the run, it made none");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn resume_after_ctrl_c() {
    stopped_then_resumed("int", "-INT", Some(130), "cancelled");
}

#[test]
fn resume_after_sigterm() {
    stopped_then_resumed("term", "-TERM", Some(143), "interrupted");
}

#[test]
fn resume_after_kill_9() {
    // Nothing could record the end: the record still says running, and its lock died with kflc.
    stopped_then_resumed("kill", "-KILL", None, "running");
}

/// A failed run resumed with an explicit --param: only the tasks that read it run again; a changed
/// default without --param is refused; a succeeded run has nothing to resume.
#[test]
fn parameters_of_a_resumed_run() {
    let dir = scratch("params");
    let gate = dir.join("gate");
    // `second` fails the first time (its gate is a file, not a folder, for `second.pid`).
    let pipeline = PIPELINE.replace("echo $$ > \"$gate/second.pid\"\n            sleep 60", "exit 3");
    std::fs::write(dir.join("chain.kfl"), &pipeline).expect("pipeline");
    let mut first = kflc(&dir);
    first.args(["run", "chain.kfl", "--isolation", "host", "--param"]).arg(format!("gate={}", gate.display()));
    let (status, text) = output(first);
    assert_eq!(status, 1, "{text}");
    assert_eq!(run_record(&dir)["status"], "failed");

    // The file's default of `label` changed since: which value goes on must be said.
    std::fs::write(dir.join("chain.kfl"), pipeline.replace("label: String = \"a\")", "label: String = \"b\")"))
        .expect("pipeline");
    let mut changed = kflc(&dir);
    changed.args(["run", "chain.kfl", "--isolation", "host", "--resume"]);
    let (status, text) = output(changed);
    assert_eq!(status, 2, "{text}");
    assert!(
        text.contains("error[E0703]: the parameter `label` was `\"a\"` in run `")
            && text.contains("and its default in the file is now `\"b\"`"),
        "{text}"
    );

    std::fs::write(gate.join("open"), "").expect("gate");
    let mut explicit = kflc(&dir);
    explicit.args(["run", "chain.kfl", "--isolation", "host", "--resume", "--param", "label=c"]);
    let (status, text) = output(explicit);
    assert_eq!(status, 0, "{text}");
    // `first` does not read `label`: kept. `second` does: it ran again with the new value.
    assert_eq!(ran(&dir), ["first a", "second a", "second c"]);
    assert_eq!(run_record(&dir)["params"]["label"], "c");

    let mut again = kflc(&dir);
    again.args(["run", "chain.kfl", "--isolation", "host", "--resume"]);
    let (status, text) = output(again);
    assert_eq!(status, 2, "{text}");
    assert!(text.contains("succeeded: there is nothing to resume"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A damaged record: a run.json that is not JSON is refused; a manifest that does not parse only
/// means that task runs again.
#[test]
fn damaged_records() {
    let dir = scratch("damaged");
    let gate = dir.join("gate");
    let pipeline = PIPELINE.replace("echo $$ > \"$gate/second.pid\"\n            sleep 60", "exit 3");
    std::fs::write(dir.join("chain.kfl"), &pipeline).expect("pipeline");
    let mut first = kflc(&dir);
    first
        .args(["run", "chain.kfl", "--isolation", "host", "--no-cache", "--param"])
        .arg(format!("gate={}", gate.display()));
    assert_eq!(output(first).0, 1);
    let runs = dir.join(".kfl/runs");
    let run = runs.join(std::fs::read_link(runs.join("latest")).expect("latest"));

    // A manifest that does not parse: `first` runs again (--no-cache: not from the cache either).
    std::fs::write(run.join("first/manifest.json"), "{ not json").expect("manifest");
    std::fs::write(gate.join("open"), "").expect("gate");
    let mut resumed = kflc(&dir);
    resumed.args(["run", "chain.kfl", "--isolation", "host", "--resume", "--no-cache"]);
    let (status, text) = output(resumed);
    assert_eq!(status, 0, "{text}");
    assert_eq!(ran(&dir), ["first a", "second a", "first a", "second a"]);

    let record = run.join("run.json");
    std::fs::write(&record, "\u{1b}[31m garbage").expect("record");
    let mut broken = kflc(&dir);
    broken.args(["run", "chain.kfl", "--isolation", "host", "--resume"]);
    let (status, text) = output(broken);
    assert_eq!(status, 2, "{text}");
    assert!(text.contains("error[E0703]: the record of run `") && text.contains("is damaged"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

const ARTIFACTS: &str = r#"
component make {
    image = "alpine:3.20"
    input gate: String
    output data: Dataset
    sh """
        echo "make" >> "$gate/ran"
        echo "made" > "$data"
    """
}

component use {
    image = "alpine:3.20"
    input gate: String
    input data: Dataset
    output seen: String
    sh """
        echo "use" >> "$gate/ran"
        [ -e "$gate/open" ] || exit 3
        cat "$data" > "$seen"
    """
}

pipeline artifacts(gate: String) {
    m = make(gate: gate)
    u = use(gate: gate, data: m.data)
    output seen = u.seen
}
"#;

/// A kept task's artifact is handed on from where the run wrote it; one whose content changed
/// since (the recorded hash no longer matches) is not kept: its task runs again.
#[test]
fn kept_artifacts_are_checked_against_their_recorded_hash() {
    for tamper in [false, true] {
        let dir = scratch(if tamper { "artifact-tampered" } else { "artifact" });
        let gate = dir.join("gate");
        std::fs::write(dir.join("chain.kfl"), ARTIFACTS).expect("pipeline");
        let mut first = kflc(&dir);
        first
            .args(["run", "chain.kfl", "--isolation", "host", "--no-cache", "--param"])
            .arg(format!("gate={}", gate.display()));
        assert_eq!(output(first).0, 1);
        let runs = dir.join(".kfl/runs");
        let run = runs.join(std::fs::read_link(runs.join("latest")).expect("latest"));
        if tamper {
            let artifact = run.join("m/outputs/artifacts/data");
            std::fs::write(&artifact, "changed by hand\n").expect("tamper");
        }
        std::fs::write(gate.join("open"), "").expect("gate");
        let mut resumed = kflc(&dir);
        resumed.args(["run", "chain.kfl", "--isolation", "host", "--resume", "--no-cache"]);
        let (status, text) = output(resumed);
        assert_eq!(status, 0, "{text}");
        let expected: &[&str] = if tamper { &["make", "use", "make", "use"] } else { &["make", "use", "use"] };
        assert_eq!(ran(&dir), expected, "tampered: {tamper}");
        assert_eq!(run_record(&dir)["outputs"]["seen"], "made", "tampered: {tamper}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

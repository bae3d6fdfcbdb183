//! `kflc run` under hostile conditions (issue 12, items 1–3, 8, 14 and 19): a damaged or poisoned
//! cache, a task that writes its input or makes its output a FIFO, unreadable files, a read-only run
//! root, a full disk, ten runs at once on one root, SIGTERM, and kill -9 at many points of a run.
//! After each, a run on the same root gives the right result: no partial or wrong artifact is ever
//! served.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{kflc_in, tempdir};

/// How many lines `produce` writes: every consumer must count exactly this many.
const LINES: usize = 3000;

/// `produce` writes LINES lines (about 50 kB) in small appends, so that a kill or a full disk lands
/// in the middle; `count` counts them; `scribble` writes to its input; `fifo` makes its output a FIFO.
fn pipeline() -> String {
    format!(
        r#"component produce {{
    input n: Int = 1
    output data: Dataset
    sh """
        i=0
        : > "$data"
        while [ $i -lt {LINES} ]; do echo "line $i of run $n, padded to be longer" >> "$data"; i=$((i+1)); done
    """
}}

component count {{
    input data: Dataset
    output lines: Int
    sh """
        wc -l < "$data" > "$lines"
    """
}}

component scribble {{
    input data: Dataset
    output lines: Int
    sh """
        echo "poison" >> "$data"
        wc -l < "$data" > "$lines"
    """
}}

component fifo {{
    output data: Dataset
    sh """
        rm -f "$data"
        mkfifo "$data"
    """
}}

pipeline p(n: Int = 1) {{
    a = produce(n: n)
    b = count(data: a.data)
    output lines = b.lines
}}

pipeline poison() {{
    a = produce()
    s = scribble(data: a.data)
    output lines = s.lines
}}

pipeline pipe() {{
    f = fifo()
    c = count(data: f.data)
    output lines = c.lines
}}
"#
    )
}

fn project(name: &str) -> PathBuf {
    let dir = tempdir(name);
    std::fs::write(dir.join("p.kfl"), pipeline()).expect("pipeline");
    dir
}

fn run(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let args = [&["run", "p.kfl", "--pipeline", "p"][..], extra].concat();
    kflc_in(dir, &args, &[], Duration::from_secs(120))
}

/// The `lines = N` output a successful run prints.
fn lines_output(stdout: &str, stderr: &str) -> Option<usize> {
    stdout.lines().chain(stderr.lines()).find_map(|l| l.trim().strip_prefix("lines = ")?.parse().ok())
}

/// Every `data` artifact under the root (run folders and cache) has all LINES lines.
fn assert_every_artifact_complete(root: &Path) {
    let mut pending = vec![root.to_path_buf()];
    let mut seen = 0;
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a folder of the run root").flatten() {
            let path = entry.path();
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && path.file_name().is_some_and(|n| n == "data") {
                // Only what a finished task left in place: a folder being written is `*.tmp*`.
                if path.to_string_lossy().contains(".tmp") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("artifact");
                assert_eq!(text.lines().count(), LINES, "{} is not complete", path.display());
                seen += 1;
            }
        }
    }
    assert!(seen > 0, "no artifact under {}", root.display());
}

/// Whether this process is root, for whom file permissions do not apply: the permission cases then
/// run kflc as `nobody`.
fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

fn unprivileged(command: &mut Command) -> &mut Command {
    if is_root() {
        command.uid(65534).gid(65534);
    }
    command
}

fn output_of(command: &mut Command) -> (i32, String, String) {
    let out = command.env("NO_COLOR", "1").stdin(Stdio::null()).output().expect("kflc runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_truncated_or_deleted_cache_entry_is_never_served_and_is_repaired() {
    let dir = project("cache-damage");
    let (status, stdout, stderr) = run(&dir, &[]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(lines_output(&stdout, &stderr), Some(LINES));
    let cache = dir.join(".kfl/cache");
    let entries: Vec<PathBuf> = std::fs::read_dir(&cache).expect("cache").flatten().map(|e| e.path()).collect();
    let artifact =
        entries.iter().map(|e| e.join("outputs/artifacts/data")).find(|p| p.exists()).expect("the cached artifact");
    // Truncated, with the time put back: only the size (and --verify-cache's hash) can tell.
    let before = std::fs::metadata(&artifact).expect("artifact").modified().expect("mtime");
    std::fs::OpenOptions::new().write(true).open(&artifact).expect("open").set_len(100).expect("truncate");
    std::fs::File::options().write(true).open(&artifact).expect("open").set_modified(before).expect("touch");
    let (status, stdout, stderr) = run(&dir, &[]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(lines_output(&stdout, &stderr), Some(LINES), "a truncated entry was served:\n{stderr}");
    assert_every_artifact_complete(&dir.join(".kfl"));
    // Same length, other bytes, same time: only the hash can tell.
    let text = std::fs::read_to_string(&artifact).expect("repaired");
    std::fs::write(&artifact, text.replace("line 1 ", "LINE 1 ")).expect("rewrite");
    std::fs::File::options().write(true).open(&artifact).expect("open").set_modified(before).expect("touch");
    let (status, stdout, stderr) = run(&dir, &["--verify-cache"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(lines_output(&stdout, &stderr), Some(LINES));
    assert!(!std::fs::read_to_string(&artifact).expect("repaired").contains("LINE 1 "), "the entry was not repaired");
    // Deleted.
    std::fs::remove_file(&artifact).expect("delete");
    let (status, stdout, stderr) = run(&dir, &[]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(lines_output(&stdout, &stderr), Some(LINES));
    assert!(artifact.exists(), "the deleted entry was not written again");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_task_that_writes_its_input_fails_and_never_reaches_the_cache() {
    let dir = project("poison");
    let (status, _, stderr) = kflc_in(&dir, &["run", "p.kfl", "--pipeline", "poison"], &[], Duration::from_secs(120));
    assert_ne!(status, 0, "writing an input must fail the task:\n{stderr}");
    // The producer's output, in the cache and in the run folder, is untouched; a later run reuses it.
    assert_every_artifact_complete(&dir.join(".kfl"));
    let (status, stdout, stderr) = run(&dir, &[]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(lines_output(&stdout, &stderr), Some(LINES));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_output_artifact_that_is_a_fifo_is_refused_without_hanging() {
    let dir = project("output-fifo");
    let (status, _, stderr) = kflc_in(&dir, &["run", "p.kfl", "--pipeline", "pipe"], &[], Duration::from_secs(60));
    assert_ne!(status, 0, "{stderr}");
    assert!(stderr.contains("not a regular file") || stderr.contains("FIFO"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreadable_files_and_a_read_only_run_root_are_clear_errors() {
    let dir = project("permissions");
    // Readable by `nobody` (the tests may run as root, whom permissions do not stop).
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(dir.join("p.kfl"), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let secret = dir.join("secret.kfl");
    std::fs::write(&secret, "component hidden {\n    command = [\"true\"]\n}\n").expect("write");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    std::fs::write(dir.join("main.kfl"), "import \"secret.kfl\"\n").expect("write");
    let read_only = dir.join("read-only");
    std::fs::create_dir(&read_only).expect("mkdir");
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let kflc =
        |args: &[&str]| output_of(unprivileged(Command::new(env!("CARGO_BIN_EXE_kflc")).args(args).current_dir(&dir)));

    // Named on the command line, or found in a named folder: refused with E0126, and the other files
    // are still checked (a run, which refuses whatever does not check with 2, exits 2).
    let commands: [(&[&str], i32); 4] =
        [(&["check", "secret.kfl"], 1), (&["check", "."], 1), (&["fmt", "secret.kfl"], 1), (&["run", "secret.kfl"], 2)];
    for (command, expected) in commands {
        let (status, _, stderr) = kflc(command);
        assert_eq!(status, expected, "{command:?}: {stderr}");
        assert!(
            stderr.contains("error[E0126]: cannot read") && stderr.contains("Permission denied"),
            "{command:?}: {stderr}"
        );
    }
    // The readable files of the folder are checked too.
    let (_, _, stderr) = kflc(&["check", "."]);
    assert!(stderr.contains("checked 3 files: "), "{stderr}");
    // Imported: a coded diagnostic at the import.
    let (status, _, stderr) = kflc(&["check", "main.kfl"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("E0126") && stderr.contains("main.kfl:1:8"), "{stderr}");
    // A run root kflc cannot write: nothing runs, and the message names the folder.
    let (status, stdout, stderr) =
        kflc(&["run", "p.kfl", "--pipeline", "p", "--isolation", "host", "--root", "read-only"]);
    assert_eq!(status, 2, "{stderr}");
    assert!(stdout.is_empty() && stderr.contains("read-only") && stderr.contains("Permission denied"), "{stderr}");
    let _ = std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_disk_fails_the_task_and_leaves_no_partial_artifact() {
    let dir = project("full-disk");
    // `ulimit -f` (in 512-byte blocks for sh): the producer's 120 kB cannot be written.
    let kflc = env!("CARGO_BIN_EXE_kflc");
    let (status, stdout, stderr) = output_of(
        Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -f 40; exec '{kflc}' run p.kfl --pipeline p"))
            .current_dir(&dir),
    );
    assert_ne!(status, 0, "{stdout}{stderr}");
    assert_eq!(lines_output(&stdout, &stderr), None, "{stderr}");
    // Nothing half-written was kept: no entry in the cache, and the next run, with room, is right.
    let cached = std::fs::read_dir(dir.join(".kfl/cache")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(cached, 0, "a cache entry was stored by a run that ran out of space");
    let (status, stdout, stderr) = run(&dir, &[]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(lines_output(&stdout, &stderr), Some(LINES));
    assert_every_artifact_complete(&dir.join(".kfl"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn spawn_run(dir: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kflc"))
        .args([&["run", "p.kfl", "--pipeline", "p", "--isolation", "host"][..], extra].concat())
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kflc starts")
}

#[test]
fn ten_runs_at_once_on_one_root_all_give_the_right_result() {
    let dir = project("concurrent");
    let children: Vec<Child> = (0..10).map(|_| spawn_run(&dir, &[])).collect();
    for child in children {
        let out = child.wait_with_output().expect("kflc ends");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert_eq!(lines_output(&stdout, &stderr), Some(LINES), "{stderr}");
    }
    assert_every_artifact_complete(&dir.join(".kfl"));
    // One cache entry per task, each intact.
    let (status, stdout, stderr) = run(&dir, &["--verify-cache"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stderr.contains("0 ran, 2 cached") || stdout.contains("0 ran, 2 cached"), "{stdout}{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kill_9_at_many_points_of_a_run_never_leaves_a_partial_artifact_to_serve() {
    let dir = project("kill-9");
    // Points spread over a run's life, from before the first task starts to after the last ends,
    // in an order that changes with the process id (printed on failure, to replay it).
    let seed = std::process::id() as u64;
    let mut points: Vec<u64> = (0..8).map(|i| i * 15).collect();
    points.rotate_left((seed % 8) as usize);
    for (round, delay) in points.iter().enumerate() {
        // A new parameter value every other round, so that some rounds find nothing cached.
        let n = format!("n={}", round / 2);
        let mut child = spawn_run(&dir, &["--param", &n]);
        std::thread::sleep(Duration::from_millis(*delay));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // The tasks it started, in their own process groups, may still be writing: the next run
        // must not take anything of theirs that is not complete.
        let (status, stdout, stderr) = run(&dir, &["--param", &n, "--verify-cache"]);
        assert_eq!(status, 0, "seed {seed}, kill after {delay} ms: {stderr}");
        assert_eq!(lines_output(&stdout, &stderr), Some(LINES), "seed {seed}, kill after {delay} ms: {stderr}");
    }
    // Let the orphaned tasks finish, then look at everything left in place.
    std::thread::sleep(Duration::from_millis(500));
    assert_every_artifact_complete(&dir.join(".kfl"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_stops_the_tasks_records_the_run_as_interrupted_and_exits_143() {
    let dir = tempdir("sigterm");
    let pid_file = dir.join("task.pid");
    std::fs::write(
        dir.join("p.kfl"),
        format!(
            "component wait {{\n    output done: String\n    sh \"\"\"\n        echo $$ > {}\n        sleep 60 & wait\n        \
             echo yes > \"$done\"\n    \"\"\"\n}}\n\npipeline p() {{\n    w = wait()\n    output done = w.done\n}}\n",
            pid_file.display()
        ),
    )
    .expect("pipeline");
    let child = spawn_run(&dir, &[]);
    // Wait until the task has started: the run's folder holds the task's folder.
    let runs = dir.join(".kfl/runs");
    let started = (0..600).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::fs::read_dir(&runs)
            .into_iter()
            .flatten()
            .flatten()
            .any(|run| run.path().join("w").join("stdout.log").exists())
            && pid_file.exists()
    });
    assert!(started, "the task never started");
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(sent.success());
    let out = child.wait_with_output().expect("kflc ends");
    assert_eq!(out.status.code(), Some(143), "{}", String::from_utf8_lossy(&out.stderr));
    let latest = std::fs::read_dir(&runs)
        .expect("runs")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("run.json").exists())
        .expect("a run folder");
    let record = std::fs::read_to_string(latest.join("run.json")).expect("run.json");
    assert!(record.contains("\"status\": \"interrupted\""), "{record}");
    // The task's shell is gone (its process group got the signal), not orphaned.
    // (A zombie is dead: without an init that reaps, it may stay in the table a while.)
    let task = std::fs::read_to_string(&pid_file).expect("the task's pid");
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", task.trim())).unwrap_or_default();
    let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    assert!(matches!(state, None | Some('Z') | Some('X')), "the task {} outlived kflc: {stat}", task.trim());
    let _ = std::fs::remove_dir_all(&dir);
}

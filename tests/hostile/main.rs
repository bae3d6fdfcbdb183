//! Hostile input to `kflc`, one test per family (issue 12): every case ends in a coded answer within
//! a time limit, nothing hangs, and nothing read from a file that is not KFL reaches the output.
//! It runs with `cargo test` (the `hostile` test of the root package), so `tests/run-all.sh` and CI
//! run it. The families of issue 12 and where each is tested:
//!
//! | item | family | test |
//! |---|---|---|
//! | 1, 3 | a truncated, altered or deleted cache entry | `run::a_truncated_or_deleted_cache_entry_…` |
//! | 2 | a task writing its input | `run::a_task_that_writes_its_input_…` |
//! | 4 | `fmt` through a symbolic link | `fmt_through_a_symlink_…` |
//! | 5 | imports of `/proc/self/environ` and of files outside the project; a named `.kfl` link to a file that is not KFL | `import_of_proc_self_environ_…`, `imports_outside_the_project_root_…`, `a_kfl_link_to_a_file_that_is_not_kfl_…` |
//! | 6 | credentials in kubeconfigs, exec plugins and server answers | `credentials::…` |
//! | 7 | control characters in user strings | `control_characters_…` |
//! | 8 | FIFOs, devices and huge files as sources; a FIFO as an output artifact | `a_fifo_a_device_and_a_huge_file_…`, `run::an_output_artifact_that_is_a_fifo_…` |
//! | 9 | a server that accepts connections and never answers | `cluster::apply_gives_up_…` |
//! | 10 | non-UTF-8 source and file names | `non_utf8_source_…` |
//! | 11 | thousands of diagnostics | `check_renders_thousands_of_errors_…` |
//! | 12 | wrong `Content-Length`s to the language server | `lsp::…` |
//! | 13 | a parameter without a value | `cluster::apply_refuses_a_parameter_without_a_value_…` |
//! | 14 | SIGTERM during a run | `run::sigterm_…` |
//! | 19 | symlink loops, unreadable files, a read-only run root, a full disk (`ulimit -f`), ten runs at once on one root, kill -9 at many points of a run | `symlink_loops_…`, `run::unreadable_files_…`, `run::a_full_disk_…`, `run::ten_runs_at_once_…`, `run::kill_9_…` |
//!
//! Items 15 to 17 are diagnostics: their cases are files in `tests/diagnostics/`, rendered as
//! snapshots by `tests/diagnostics.rs`.

mod cluster;
mod credentials;
mod lsp;
mod run;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A secret planted where a hostile import would find it; it must never appear in any output.
const SECRET: &str = "kfl-planted-secret-4f1c9e";

/// Runs `kflc` in `dir` with `env` set; kills it after `limit` (a hang fails the test, it never
/// blocks the suite). Returns the exit status, stdout and stderr.
fn kflc_in(dir: &Path, args: &[&str], env: &[(&str, &str)], limit: Duration) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kflc"));
    command.args(args);
    // Runs are of tasks on this machine, whether or not it has a container engine.
    if args.first() == Some(&"run") && !args.contains(&"--isolation") {
        command.args(["--isolation", "host"]);
    }
    command.current_dir(dir).env("NO_COLOR", "1").stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("kflc starts");
    // Read both pipes while waiting, so a long output never blocks the child.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`kflc {}` did not finish within {limit:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code().unwrap_or(-1), stdout.join().expect("stdout"), stderr.join().expect("stderr"))
}

fn kflc(dir: &Path, args: &[&str]) -> (i32, String, String) {
    kflc_in(dir, args, &[], Duration::from_secs(60))
}

/// A fresh folder of its own (no `.git` or `kfl.toml` above it in the temporary folder), so it is
/// the project root of the files in it.
fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kflc-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

const COMPONENT: &str = "component step {\n    input n: Int = 1\n    python \"\"\"\n        print(n)\n    \"\"\"\n}\n";

#[test]
fn import_of_proc_self_environ_is_refused_and_never_prints_the_environment() {
    let dir = tempdir("environ");
    std::fs::write(dir.join("main.kfl"), "import \"/proc/self/environ\"\n").expect("write");
    for format in ["human", "json", "github", "sarif"] {
        let (status, stdout, stderr) = kflc_in(
            &dir,
            &["check", "--format", format, "main.kfl"],
            &[("KFL_TEST_TOKEN", SECRET)],
            Duration::from_secs(30),
        );
        assert_eq!(status, 1, "{format}: {stderr}");
        assert!(format != "human" || stderr.contains("E0125"), "{stderr}");
        assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET), "{format} printed the environment");
    }
}

#[test]
fn a_kfl_link_to_a_file_that_is_not_kfl_is_refused_when_named_and_never_quoted() {
    // A link planted in a repository: `git ls-files '*.kfl'` and pre-commit name it like any file.
    let dir = tempdir("named-link");
    std::os::unix::fs::symlink("/proc/self/environ", dir.join("notes.kfl")).expect("link");
    std::fs::write(dir.join("secrets.env"), format!("TOKEN={SECRET}\n")).expect("env file");
    std::os::unix::fs::symlink("secrets.env", dir.join("env.kfl")).expect("link");
    let env = [("KFL_TEST_TOKEN", SECRET)];
    let limit = Duration::from_secs(30);
    for name in ["notes.kfl", "env.kfl"] {
        for command in [&["check", name][..], &["fmt", name], &["build", name, "--summary"], &["run", name]] {
            let (status, stdout, stderr) = kflc_in(&dir, command, &env, limit);
            assert_ne!(status, 0, "{command:?}: {stderr}");
            assert!(
                stderr.contains(&format!(
                    "error[E0126]: `{name}` is a symbolic link to a file that is not a `.kfl` file; it is not read"
                )),
                "{command:?}: {stderr}"
            );
            assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET), "{command:?} printed the secret");
        }
    }
    // A link to a `.kfl` file is read (and `fmt` writes through it).
    std::fs::write(dir.join("real.txt.kfl"), COMPONENT).expect("write");
    std::os::unix::fs::symlink("real.txt.kfl", dir.join("alias.kfl")).expect("link");
    let (status, _, stderr) = kflc_in(&dir, &["check", "alias.kfl"], &env, limit);
    assert_eq!(status, 0, "{stderr}");
}

#[test]
fn imports_outside_the_project_root_are_refused_without_quoting_them() {
    let dir = tempdir("outside");
    let project = dir.join("project");
    std::fs::create_dir_all(&project).expect("project");
    // Not KFL, outside the project: neither read nor quoted, through a path or a link.
    std::fs::write(dir.join("secrets.env"), format!("TOKEN={SECRET}\n")).expect("env file");
    std::fs::write(dir.join("secrets.kfl"), format!("TOKEN={SECRET}\n")).expect("kfl-named env file");
    std::os::unix::fs::symlink(dir.join("secrets.kfl"), project.join("linked.kfl")).expect("link");
    for import in ["../secrets.env", "../secrets.kfl", "linked.kfl"] {
        std::fs::write(project.join("main.kfl"), format!("import \"{import}\"\n")).expect("write");
        let (status, stdout, stderr) = kflc(&project, &["check", "main.kfl"]);
        assert_eq!(status, 1, "{import}: {stderr}");
        assert!(stderr.contains("E0125"), "{import}: {stderr}");
        assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET), "{import} was quoted:\n{stderr}");
        for command in [&["build", "--target", "argo", "main.kfl"][..], &["graph", "main.kfl"]] {
            let (status, stdout, stderr) = kflc(&project, command);
            assert_ne!(status, 0);
            assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET), "{import} was quoted:\n{stderr}");
        }
    }
    // A folder allowed explicitly is read.
    std::fs::write(dir.join("lib.kfl"), COMPONENT).expect("lib");
    std::fs::write(project.join("main.kfl"), "import \"../lib.kfl\"\npipeline p() {\n    step()\n}\n").expect("w");
    let (status, _, stderr) = kflc(&project, &["check", "--import-root", "..", "main.kfl"]);
    assert_eq!(status, 0, "{stderr}");
    let (status, _, stderr) = kflc(&project, &["check", "main.kfl"]);
    assert_eq!(status, 1, "{stderr}");
    // A project marked with kfl.toml above the file's folder is its root.
    std::fs::write(dir.join("kfl.toml"), "").expect("marker");
    let (status, _, stderr) = kflc(&project, &["check", "main.kfl"]);
    assert_eq!(status, 0, "{stderr}");
}

#[test]
fn a_fifo_a_device_and_a_huge_file_are_refused_without_hanging() {
    let dir = tempdir("fifo");
    let fifo = dir.join("pipe.kfl");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.kfl")).expect("link");
    let huge = std::fs::File::create(dir.join("huge.kfl")).expect("huge");
    huge.set_len(17 * 1024 * 1024).expect("a sparse 17 MiB file");
    for (import, expected) in [
        ("pipe.kfl", "is not a regular file (a FIFO)"),
        ("zero.kfl", "is not a regular file (a character device)"),
        ("huge.kfl", "is larger than 16 MiB"),
    ] {
        std::fs::write(dir.join("main.kfl"), format!("import \"{import}\"\n")).expect("write");
        // `/dev` allowed, so that the device is refused for what it is, not for where it is.
        let (status, _, stderr) =
            kflc_in(&dir, &["check", "--import-root", "/dev", "main.kfl"], &[], Duration::from_secs(30));
        assert_eq!(status, 1, "{import}: {stderr}");
        assert!(stderr.contains("E0126") && stderr.contains(expected), "{import}: {stderr}");
    }
    // Named on the command line, each is refused the same way.
    for name in ["pipe.kfl", "huge.kfl", "/dev/zero"] {
        let (status, _, stderr) = kflc_in(&dir, &["check", name], &[], Duration::from_secs(30));
        assert_eq!(status, 1, "{name}: {stderr}");
        assert!(stderr.contains("error[E0126]"), "{name}: {stderr}");
    }
    let (status, _, stderr) = kflc_in(&dir, &["fmt", "pipe.kfl"], &[], Duration::from_secs(30));
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("error[E0126]"), "{stderr}");
}

#[test]
fn non_utf8_source_is_a_coded_error_with_the_byte_offset_and_a_lossy_path() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempdir("latin1");
    std::fs::write(dir.join("latin1.kfl"), b"// caf\xe9\ncomponent x {}\n").expect("write");
    let (status, _, stderr) = kflc(&dir, &["check", "latin1.kfl"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("error[E0126]: `latin1.kfl` is not UTF-8 text (first bad byte at offset 6)"), "{stderr}");
    // A file name that is not UTF-8 either: shown with the replacement character.
    let name = std::ffi::OsStr::from_bytes(b"na\xffme.kfl");
    std::fs::write(dir.join(name), b"\xff").expect("write");
    let (status, _, stderr) = kflc(&dir, &["check", "."]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("`./na\u{fffd}me.kfl` is not UTF-8 text (first bad byte at offset 0)"), "{stderr}");
    // Imported, it is reported at the import.
    std::fs::write(dir.join("main.kfl"), "import \"latin1.kfl\"\n").expect("write");
    let (status, _, stderr) = kflc(&dir, &["check", "main.kfl"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("E0126") && stderr.contains("main.kfl:1:8"), "{stderr}");
}

#[test]
fn fmt_through_a_symlink_formats_the_target_and_keeps_the_link_and_the_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir("symlink");
    std::fs::create_dir_all(dir.join("real")).expect("real");
    let target = dir.join("real/pipeline.kfl");
    std::fs::write(
        &target,
        "component   step {\n  input n: Int = 1\n python \"\"\"\n        print(n)\n    \"\"\"\n}\n",
    )
    .expect("write");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let link = dir.join("link.kfl");
    std::os::unix::fs::symlink("real/pipeline.kfl", &link).expect("link");
    let (status, _, stderr) = kflc(&dir, &["fmt", "link.kfl"]);
    assert_eq!(status, 0, "{stderr}");
    let meta = std::fs::symlink_metadata(&link).expect("the link is still there");
    assert!(meta.file_type().is_symlink(), "the link was replaced by a file");
    assert_eq!(std::fs::read_link(&link).expect("link"), Path::new("real/pipeline.kfl"));
    assert_eq!(std::fs::read_to_string(&target).expect("target"), COMPONENT, "the target is formatted");
    let mode = std::fs::metadata(&target).expect("target").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "the permissions are kept");
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("real")).expect("dir").flatten().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    let (status, _, stderr) = kflc(&dir, &["fmt", "--check", "link.kfl"]);
    assert_eq!(status, 0, "{stderr}");
}

#[test]
fn check_renders_thousands_of_errors_in_time_linear_in_the_file() {
    // 4,000 errors in a 0.6 MB file: rebuilding the line index (or rescanning the text) for each
    // one takes minutes; building it once takes about a second.
    let dir = tempdir("large");
    let padding = "x".repeat(120);
    let text: String = (0..4000).map(|i| format!("// {padding}\ncomponent c{i} {{}}\n")).collect();
    std::fs::write(dir.join("large.kfl"), &text).expect("write");
    let started = Instant::now();
    let (status, _, stderr) = kflc_in(&dir, &["check", "large.kfl"], &[], Duration::from_secs(120));
    let took = started.elapsed();
    assert_eq!(status, 1);
    assert!(stderr.ends_with("checked 1 file: 4000 errors, 0 warnings\n"), "{}", &stderr[stderr.len() - 200..]);
    // The last error is shown at its real line, so the excerpt comes from the right place.
    assert!(stderr.contains("[large.kfl:8000:11]"), "the last component is on line 8000");
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn control_characters_in_user_strings_are_escaped_in_check_output() {
    let dir = tempdir("control");
    let image = "evil\u{1b}[2J\rmore\u{2028}x\u{85}y:latest:bad";
    let text = format!(
        "component step {{\n    image = \"{image}\"\n    command = [\"true\"]\n}}\n\npipeline p() {{\n    step()\n}}\n"
    );
    std::fs::write(dir.join("main.kfl"), text).expect("write");
    let (status, stdout, stderr) = kflc(&dir, &["check", "main.kfl"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("E0504"), "{stderr}");
    // The message and labels quote the image escaped; no raw control character reaches the
    // terminal outside the source excerpt (which shows the file as it is).
    let outside_excerpt: Vec<&str> = stderr.lines().filter(|line| !line.contains(" | ")).collect();
    for line in &outside_excerpt {
        for c in ['\u{1b}', '\r', '\u{2028}', '\u{85}'] {
            assert!(!line.contains(c), "{c:?} printed raw: {line:?}");
        }
    }
    assert!(outside_excerpt.iter().any(|l| l.contains("\\u{1b}")), "{stderr}");
    assert!(!stdout.contains('\u{1b}'));
}

#[test]
fn symlink_loops_are_refused_or_passed_over_without_hanging() {
    let dir = tempdir("symlink-loop");
    std::fs::write(dir.join("ok.kfl"), COMPONENT).expect("write");
    // Two links naming each other, a link naming itself, and a folder link back up.
    std::os::unix::fs::symlink("b.kfl", dir.join("a.kfl")).expect("link");
    std::os::unix::fs::symlink("a.kfl", dir.join("b.kfl")).expect("link");
    std::os::unix::fs::symlink("self.kfl", dir.join("self.kfl")).expect("link");
    std::fs::create_dir(dir.join("sub")).expect("sub");
    std::os::unix::fs::symlink("..", dir.join("sub/up")).expect("link");
    let limit = Duration::from_secs(30);
    // Imported: a coded diagnostic at the import.
    std::fs::write(dir.join("main.kfl"), "import \"a.kfl\"\n").expect("write");
    let (status, _, stderr) = kflc_in(&dir, &["check", "main.kfl"], &[], limit);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("E0126") && stderr.contains("symbolic links") && stderr.contains("main.kfl:1:8"),
        "{stderr}"
    );
    // Named on the command line: refused with the same code (a run, which refuses whatever does
    // not check with 2, exits 2), and the other files are still checked.
    let commands: [(&[&str], i32); 4] = [
        (&["check", "self.kfl", "ok.kfl"], 1),
        (&["fmt", "a.kfl"], 1),
        (&["build", "b.kfl", "--summary"], 1),
        (&["run", "a.kfl"], 2),
    ];
    for (command, expected) in commands {
        let (status, _, stderr) = kflc_in(&dir, command, &[], limit);
        assert_eq!(status, expected, "{command:?}: {stderr}");
        assert!(
            stderr.contains("error[E0126]: cannot read") && stderr.contains("symbolic links"),
            "{command:?}: {stderr}"
        );
    }
    let (_, _, stderr) = kflc_in(&dir, &["check", "self.kfl", "ok.kfl"], &[], limit);
    assert!(stderr.ends_with("checked 2 files: 1 error, 0 warnings\n"), "{stderr}");
    // A folder search follows no link, so neither loop is entered: the real files are checked.
    std::fs::remove_file(dir.join("main.kfl")).expect("rm");
    let (status, _, stderr) = kflc_in(&dir, &["check", "."], &[], limit);
    assert_eq!(status, 0, "{stderr}");
    assert!(stderr.ends_with("checked 1 file: 0 errors, 0 warnings\n"), "{stderr}");
}

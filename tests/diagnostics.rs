//! Every diagnostic code, rendered as `kflc check` prints it: one snapshot per case with the source,
//! the human output (miette, no colour, the fixed width `kflc` renders at) and the JSON form, so that
//! a change of wording, span or help shows up in review (`cargo insta review`).
//!
//! The cases are data:
//! - every code's failing example in `crates/kfl-diagnostics/docs/<CODE>.md` (the `## Example` block,
//!   split into files at `// file: NAME` lines) is the case `<CODE>`;
//! - a file `tests/diagnostics/<CODE>-<what>.kfl`, or a folder `tests/diagnostics/<CODE>-<what>/` of
//!   `.kfl` files, is one more case for that code. Adding a case is adding a file.
//! - a code about the command line (a `--param` value, a parameter left without one) has a `$ kflc …` line in its examples
//!   (`CodeInfo::command`): its case runs that line on the example's files, and the fix's line on the
//!   fix's files, and the snapshot is the files and what `kflc` prints.
//!
//! A case's files are written to a temporary folder and checked there with every file named on the
//! command line, so the paths in the output are the short names. The test fails when a code has no
//! case, when a case does not produce its code (or produces it with another severity), when the
//! exit status does not follow from the diagnostics, and when a snapshot belongs to no case.
//! Snapshots live in `tests/snapshots/diagnostics/<case>.snap`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use kfl_diagnostics::codes::{CodeInfo, ALL};
use kfl_diagnostics::Severity;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

struct Case {
    /// `E0103` for the documented example, `E0103-<what>` for a case in `tests/diagnostics`.
    name: String,
    info: &'static CodeInfo,
    /// Where the case comes from, for messages.
    origin: String,
    /// `(file name, text)`, in the order they are named to `kflc check`.
    files: Vec<(String, String)>,
}

/// The code a case name starts with: `E0103` in `E0103-typo-in-output`.
fn code_of(name: &str) -> Option<&'static CodeInfo> {
    let id = name.split(['-', '.']).next()?;
    ALL.iter().find(|info| info.id == id)
}

fn documented_cases() -> (Vec<Case>, Vec<String>) {
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    for info in ALL {
        match info.example("Example") {
            Some(files) if !files.is_empty() => cases.push(Case {
                name: info.id.to_string(),
                info,
                origin: format!("crates/kfl-diagnostics/docs/{}.md", info.id),
                files,
            }),
            _ => problems.push(format!("{}: the documentation has no `## Example` block to render", info.id)),
        }
    }
    (cases, problems)
}

fn read_kfl_files(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type()?.is_dir() {
            read_kfl_files(&entry.path(), &format!("{name}/"), out)?;
        } else if name.ends_with(".kfl") {
            out.push((name, std::fs::read_to_string(entry.path())?));
        }
    }
    Ok(())
}

fn extra_cases() -> (Vec<Case>, Vec<String>) {
    let dir = root().join("tests/diagnostics");
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    let mut entries: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.map(|e| e.expect("entry")).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("cannot read tests/diagnostics: {e}"),
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let origin = format!("tests/diagnostics/{file_name}");
        let is_dir = entry.file_type().expect("file type").is_dir();
        let name = if is_dir { Some(file_name.as_str()) } else { file_name.strip_suffix(".kfl") };
        let Some(name) = name else {
            problems.push(format!("{origin}: a case is a `.kfl` file or a folder"));
            continue;
        };
        let Some(info) = code_of(name).filter(|info| name.starts_with(&format!("{}-", info.id))) else {
            problems.push(format!("{origin}: the name must be `<CODE>-<what>` with a code in the registry"));
            continue;
        };
        let mut files = Vec::new();
        if is_dir {
            read_kfl_files(&entry.path(), "", &mut files).expect("case folder");
        } else {
            files.push((file_name.clone(), std::fs::read_to_string(entry.path()).expect("case file")));
        }
        if files.is_empty() {
            problems.push(format!("{origin}: the folder holds no `.kfl` file"));
            continue;
        }
        cases.push(Case { name: name.to_string(), info, origin, files });
    }
    (cases, problems)
}

/// A stand-in for buildah, for the documented cases of `kflc images build` (E0605–E0607): the
/// same answers on every machine, whatever engines it has. It builds nothing: `bud` fails on a
/// Containerfile `FROM` an image named `no-such-image`, as buildah does when the base image cannot
/// be pulled, and succeeds otherwise; `push` is refused by a registry at `127.0.0.1:1` (nothing
/// listens on port 1) and otherwise writes a digest. The real engines' failures are tested by
/// `tests/images/run.sh`.
const BUILDAH_STAND_IN: &str = r#"#!/bin/sh
id=0000000000000000000000000000000000000000000000000000000000000000
case "$1" in
--version) echo "buildah version 1.28.2 (the stand-in of tests/diagnostics.rs)" ;;
inspect) echo "$id" ;;
bud)
  while [ $# -gt 1 ]; do [ "$1" = -f ] && file=$2; shift; done
  while read -r word image rest; do
    case "$word $image" in
    "FROM "*no-such-image*)
      echo "Error: creating build container: initializing source docker://$image: pinging container registry: no such host" >&2
      exit 125 ;;
    esac
  done <"$file" ;;
push)
  while [ $# -gt 1 ]; do [ "$1" = --digestfile ] && digestfile=$2; shift; done
  case "$1" in
  127.0.0.1:1/*)
    echo "Error: pushing image "$1": dial tcp 127.0.0.1:1: connect: connection refused" >&2
    exit 125 ;;
  esac
  echo "sha256:$id" >"$digestfile" ;;
*) exit 1 ;;
esac
"#;

/// Runs `kflc` in `dir` as a user runs it, without colour; returns the exit status, stdout, stderr.
/// `kflc images …` runs with a `PATH` that holds only [`BUILDAH_STAND_IN`] as `buildah`.
fn kflc(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kflc"));
    if args.first() == Some(&"images") {
        let engines = dir.join(".engines");
        std::fs::create_dir_all(&engines).expect("the stand-in's folder");
        let buildah = engines.join("buildah");
        std::fs::write(&buildah, BUILDAH_STAND_IN).expect("the stand-in");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&buildah, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        command.env("PATH", &engines);
    }
    let out = command.args(args).current_dir(dir).env("NO_COLOR", "1").output().expect("kflc runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The source with 1-based line numbers, so positions in the JSON can be read off it.
fn numbered(text: &str) -> String {
    text.lines().enumerate().map(|(i, line)| format!("{:>3} | {line}", i + 1).trim_end().to_string() + "\n").collect()
}

/// Writes a case's files into `dir`.
fn write_files(dir: &Path, files: &[(String, String)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a parent folder")).expect("case folder");
        std::fs::write(&path, text).expect("case file");
        // A stand-in program (```` ```sh file=NAME ```` starting with `#!`) is executable, as git keeps it.
        if text.starts_with("#!") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }
}

/// A command line as a shell reads it back: words with more than plain characters in `'…'`.
fn shell_words(args: &[String]) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:".contains(c);
    let words: Vec<String> =
        args.iter().map(|w| if w.chars().all(plain) { w.clone() } else { format!("'{w}'") }).collect();
    words.join(" ")
}

/// Renders the documented case of a code about the command line: its `$ kflc …` line runs on the
/// example's files and must be refused with the code (`error[E….]: …`, exit status 2, as every
/// refused command line, or 1 for a file `kflc check` is given and refuses, E0126, and for an
/// engine or registry that `kflc images build` reports, E0605–E0607), or, for a
/// warning, report it (`warning[W….]: …`) and succeed; the fix's line runs on the fix's files and
/// must succeed without the code.
fn render_command(case: &Case, command: &[String], scratch: &Path) -> Result<String, String> {
    let id = case.info.id;
    let dir = scratch.join(&case.name);
    write_files(&dir, &case.files);
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    let (status, _, stderr) = kflc(&dir, &args);
    let headline = format!("{}[{id}]: ", case.info.severity.as_str());
    if !stderr.lines().any(|line| line.starts_with(&headline)) {
        return Err(format!("`kflc {}` does not report `{headline}…`:\n{stderr}", shell_words(command)));
    }
    // A refused command line exits with 2; `kflc check` refusing a file it was given reports an
    // error in the input, and exits with 1; a warning (W0014 of `kflc build`) refuses nothing.
    // `kflc images build` exits with 1 when the engine or the registry says no (E0605–E0607).
    let expected = match (case.info.severity, command.first().map(String::as_str)) {
        (Severity::Warning, _) => 0,
        (_, Some("check" | "images")) => 1,
        _ => 2,
    };
    if status != expected {
        return Err(format!("`kflc {}` exits with {status}, expected {expected}:\n{stderr}", shell_words(command)));
    }
    let (Some(fix_files), Some(fix_command)) = (case.info.example("Fix"), case.info.command("Fix")) else {
        return Err("the fix has no `kfl` block or no `$ kflc …` line".to_string());
    };
    let fix_dir = scratch.join(format!("{}-fix", case.name));
    write_files(&fix_dir, &fix_files);
    let fix_args: Vec<&str> = fix_command.iter().map(String::as_str).collect();
    let (fix_status, _, fix_stderr) = kflc(&fix_dir, &fix_args);
    // `[{id}]` rather than the id alone: the fix's folder, which a run prints, is named after the case.
    if fix_status != 0 || fix_stderr.contains(&format!("[{id}]")) {
        return Err(format!("the fix `kflc {}` exits with {fix_status}:\n{fix_stderr}", shell_words(&fix_command)));
    }

    let mut out = String::new();
    for (name, text) in &case.files {
        out.push_str(&format!("── {name} ──\n{}\n", numbered(text)));
    }
    out.push_str(&format!("── kflc {} ── exit status {status}\n{stderr}", shell_words(command)));
    Ok(out)
}

/// Renders one case; returns the snapshot text, or what is wrong with the case.
fn render(case: &Case, scratch: &Path) -> Result<String, String> {
    if case.name == case.info.id {
        if let Some(command) = case.info.command("Example") {
            return render_command(case, &command, scratch);
        }
    }
    let dir = scratch.join(&case.name);
    write_files(&dir, &case.files);
    let names: Vec<&str> = case.files.iter().map(|(name, _)| name.as_str()).collect();
    let (human_status, _, human) = kflc(&dir, &[&["check"][..], &names].concat());
    let (json_status, json, json_stderr) = kflc(&dir, &[&["check", "--format", "json"][..], &names].concat());

    let id = case.info.id;
    let items: Vec<serde_json::Value> = serde_json::from_str(&json)
        .map_err(|e| format!("`kflc check --format json` printed no JSON array ({e}): {json}{json_stderr}"))?;
    let produced: Vec<String> = items.iter().map(|d| format!("{} {}", d["code"], d["message"])).collect();
    let ours: Vec<&serde_json::Value> = items.iter().filter(|d| d["code"] == id).collect();
    if ours.is_empty() {
        return Err(format!("does not produce {id}; it produces {produced:?}"));
    }
    let severity = case.info.severity.as_str();
    if let Some(wrong) = ours.iter().find(|d| d["severity"] != severity) {
        return Err(format!("produces {id} as {}, but {id} is registered as {severity}", wrong["severity"]));
    }
    if !human.lines().any(|line| line == id) {
        return Err(format!("the human output does not show {id}:\n{human}"));
    }
    let has_error = items.iter().any(|d| d["severity"] == Severity::Error.as_str());
    let expected_status = if has_error { 1 } else { 0 };
    if human_status != expected_status || json_status != expected_status {
        return Err(format!(
            "exit status {human_status} (human) and {json_status} (json), expected {expected_status}:\n{human}"
        ));
    }

    let mut out = String::new();
    for (name, text) in &case.files {
        out.push_str(&format!("── {name} ──\n{}\n", numbered(text)));
    }
    out.push_str(&format!("── kflc check {} ── exit status {human_status}\n{human}\n", names.join(" ")));
    out.push_str(&format!("── kflc check --format json {} ──\n{json}", names.join(" ")));
    Ok(out)
}

#[test]
fn every_diagnostic_code_renders_as_its_snapshot() {
    let (mut cases, mut problems) = documented_cases();
    let (extra, extra_problems) = extra_cases();
    cases.extend(extra);
    problems.extend(extra_problems);

    let covered: BTreeSet<&str> = cases.iter().map(|case| case.info.id).collect();
    for info in ALL {
        if !covered.contains(info.id) {
            problems.push(format!("{}: no case renders it", info.id));
        }
    }

    let scratch = std::env::temp_dir().join(format!("kflc-diagnostics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let snapshots = root().join("tests/snapshots/diagnostics");
    for case in &cases {
        let rendered = match render(case, &scratch) {
            Ok(rendered) => rendered,
            Err(problem) => {
                problems.push(format!("{} ({}): {problem}", case.name, case.origin));
                continue;
            }
        };
        // A mismatch is reported for every case, not only the first: insta panics, the panic is
        // caught here and the case is listed at the end.
        let matched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            insta::with_settings!({
                snapshot_path => snapshots.clone(),
                prepend_module_to_snapshot => false,
                omit_expression => true,
                description => format!("{} {}: {} (from {})", case.info.id, case.info.name, case.info.summary, case.origin),
            }, {
                insta::assert_snapshot!(case.name.clone(), rendered);
            });
        }));
        if matched.is_err() {
            problems.push(format!("{} ({}): the rendering differs from its snapshot", case.name, case.origin));
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);

    let names: BTreeSet<&str> = cases.iter().map(|case| case.name.as_str()).collect();
    for entry in std::fs::read_dir(&snapshots).into_iter().flatten().flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if let Some(name) = file_name.strip_suffix(".snap") {
            if !names.contains(name) {
                problems.push(format!("tests/snapshots/diagnostics/{file_name} belongs to no case; delete it"));
            }
        }
    }

    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn the_language_reference_lists_every_code_with_its_name_and_severity() {
    let reference = std::fs::read_to_string(root().join("docs/language.md")).expect("docs/language.md");
    let missing: Vec<String> = ALL
        .iter()
        .filter(|info| {
            let start = format!("| {} | `{}` | {} | ", info.id, info.name, info.severity.as_str());
            !reference.lines().any(|line| line.starts_with(&start))
        })
        .map(|info| format!("| {} | `{}` | {} | {} |", info.id, info.name, info.severity.as_str(), info.summary))
        .collect();
    assert!(missing.is_empty(), "docs/language.md's table of codes lacks:\n{}", missing.join("\n"));
}

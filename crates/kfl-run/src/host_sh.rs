//! An `sh` script component on this machine without its launcher shell: the user's script runs as
//! `sh -eu -c SCRIPT COMPONENT`, as the launcher would start it, and the launcher's own work before
//! and after (binding names, checking outputs, the metadata default) is done here. One process start
//! per task instead of two.
//!
//! Invariants:
//! - What a task sees and what it leaves are the launcher's (`kfl_launcher::sh_launcher`): the same
//!   environment (every input and output exported under its own name, bound in the launcher's
//!   order, its `kfl_component` and `kfl_script` where the environment had them), the same `$0`,
//!   and after the script the same checks in the same order with the same messages
//!   (`kfl: COMPONENT: …` on standard error) and exit codes, the same `{}` metadata default.
//! - Where binding would fail (a name that is not one, a variable that is not set), the caller runs
//!   the launcher itself, which fails as it always has: nothing here imitates a failure before the
//!   script.
//! - The script's exit status is the launcher's: a script killed by signal N is exit code 128 + N,
//!   with the note `dash` (the launcher's usual shell) writes on standard error, such as `Killed`.
//!   The one message that is not the shell's word for word: an output artifact's `{}` metadata that
//!   cannot be written (its folder gone) fails with exit code 2, as the launcher does, but says
//!   `kfl: COMPONENT: cannot create …`.
//! - Nothing here is cluster-side: Argo and KFP keep the launcher, byte for byte.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::BufRead;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;

use kfl_dag::{Body, Component, IoType, ParamType};
use kfl_launcher::{input_path_var, input_var, is_identifier, output_param_var, output_path_var};

/// The launcher's variables once its bindings ran: what the script gets on top of the environment
/// it was started with.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    /// Exported variables the launcher set, by name.
    vars: BTreeMap<String, OsString>,
    /// `$kfl_component`: the script's `$0` and the name in failure messages.
    label: OsString,
}

/// The launcher's bindings over an environment (`lookup`: a variable of the environment the task
/// is started with); `None` where the launcher would fail before the script.
pub fn bind(component: &Component, lookup: impl Fn(&str) -> Option<OsString>) -> Option<Bound> {
    let mut bound = Bound { vars: BTreeMap::new(), label: OsString::from(&component.name) };
    // `kfl_component=…`: a variable imported from the environment stays exported when set.
    if lookup("kfl_component").is_some() {
        bound.vars.insert("kfl_component".into(), bound.label.clone());
    }
    let io = component
        .inputs
        .iter()
        .map(|i| (&i.name, &i.ty, false))
        .chain(component.outputs.iter().map(|o| (&o.name, &o.ty, true)));
    for (name, ty, output) in io {
        if !is_identifier(name) {
            return None;
        }
        let var = match (ty, output) {
            (IoType::Parameter(_), false) => input_var(name),
            (_, false) => input_path_var(name),
            (IoType::Parameter(_), true) => output_param_var(name),
            (_, true) => output_path_var(name),
        };
        let value = bound.get(&var, &lookup)?;
        if name == "kfl_component" {
            bound.label = value.clone();
        }
        bound.vars.insert(name.clone(), value);
    }
    if bound.get("kfl_script", &lookup).is_some() {
        let source = match &component.body {
            Body::Script { source, .. } => source.as_str(),
            Body::Container { .. } => "",
        };
        bound.vars.insert("kfl_script".into(), source.into());
    }
    Some(bound)
}

impl Bound {
    /// The variables to export to the script.
    pub fn vars(&self) -> impl Iterator<Item = (&String, &OsString)> {
        self.vars.iter()
    }

    /// The script's `$0`.
    pub fn label(&self) -> &OsStr {
        &self.label
    }

    fn get(&self, name: &str, lookup: &impl Fn(&str) -> Option<OsString>) -> Option<OsString> {
        self.vars.get(name).cloned().or_else(|| lookup(name))
    }

    /// The launcher's end: the script's `status` as the launcher exits with it, after the output
    /// checks and the metadata defaults when the script succeeded. A failure's message is appended
    /// to `stderr` (the task's standard error). `lookup` is the one given to [`bind`].
    pub fn finish(
        &self,
        component: &Component,
        status: ExitStatus,
        stderr: &Path,
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> ExitStatus {
        if let Some(signal) = status.signal() {
            // The shell's note of a foreground command killed by a signal (`dash`: `strsignal`,
            // nothing for SIGINT and SIGPIPE).
            if signal != 2 && signal != 13 {
                let core = if status.core_dumped() { " (core dumped)" } else { "" };
                append(stderr, format!("{}{core}\n", signal_name(signal)).as_bytes());
            }
            return ExitStatus::from_raw((128 + signal) << 8);
        }
        if !status.success() {
            return status;
        }
        match self.check_outputs(component, &lookup) {
            Ok(()) => status,
            Err((code, message)) => {
                let mut line = b"kfl: ".to_vec();
                line.extend_from_slice(self.label.as_bytes());
                line.extend_from_slice(b": ");
                line.extend_from_slice(&message);
                line.push(b'\n');
                append(stderr, &line);
                ExitStatus::from_raw(code << 8)
            }
        }
    }

    /// The launcher's checks after the script, in its order; the first failure as (exit code,
    /// message).
    fn check_outputs(
        &self,
        component: &Component,
        lookup: &impl Fn(&str) -> Option<OsString>,
    ) -> Result<(), (i32, Vec<u8>)> {
        for output in &component.outputs {
            let name = &output.name;
            match output.ty {
                IoType::Parameter(param) => {
                    let path = self.get(&output_param_var(name), lookup).unwrap_or_default();
                    // `[ -f "$path" ]`
                    if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                        let message = format!("the script never wrote the output parameter `{name}` (to \"${name}\")");
                        return Err((1, message.into_bytes()));
                    }
                    let expected = match param {
                        ParamType::Int => "an Int",
                        ParamType::Bool => "true or false",
                        _ => continue,
                    };
                    let line = first_line(Path::new(&path));
                    let fine = match param {
                        ParamType::Int => is_int(&line),
                        _ => line == b"true" || line == b"false",
                    };
                    if !fine {
                        let mut message =
                            format!("the output parameter `{name}` should be {expected}, got: ").into_bytes();
                        message.extend_from_slice(&line);
                        return Err((1, message));
                    }
                }
                IoType::Artifact { .. } | IoType::ArtifactList { .. } => {
                    let mut path = self.get(&output_path_var(name), lookup).unwrap_or_default();
                    path.push(".metadata.json");
                    // `[ -e "$path" ] || printf '%s' '{}' > "$path"`
                    if std::fs::metadata(&path).is_err() {
                        if let Err(e) = std::fs::write(&path, "{}") {
                            let mut message = b"cannot create ".to_vec();
                            message.extend_from_slice(path.as_bytes());
                            message.extend_from_slice(format!(": {e}").as_bytes());
                            return Err((2, message));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// A signal as the C library's `strsignal` describes it on Linux.
fn signal_name(signal: i32) -> String {
    const NAMES: [&str; 31] = [
        "Hangup",
        "Interrupt",
        "Quit",
        "Illegal instruction",
        "Trace/breakpoint trap",
        "Aborted",
        "Bus error",
        "Floating point exception",
        "Killed",
        "User defined signal 1",
        "Segmentation fault",
        "User defined signal 2",
        "Broken pipe",
        "Alarm clock",
        "Terminated",
        "Stack fault",
        "Child exited",
        "Continued",
        "Stopped (signal)",
        "Stopped",
        "Stopped (tty input)",
        "Stopped (tty output)",
        "Urgent I/O condition",
        "CPU time limit exceeded",
        "File size limit exceeded",
        "Virtual timer expired",
        "Profiling timer expired",
        "Window changed",
        "I/O possible",
        "Power failure",
        "Bad system call",
    ];
    match usize::try_from(signal - 1).ok().and_then(|i| NAMES.get(i)) {
        Some(name) => (*name).to_string(),
        None if (34..=64).contains(&signal) => format!("Real-time signal {}", signal - 34),
        None => format!("Unknown signal {signal}"),
    }
}

/// `kfl_line=; IFS= read -r kfl_line < "$path" || true`: the bytes before the first newline, as
/// they are (NUL bytes dropped, as the shell's `read` drops them); empty when unreadable.
fn first_line(path: &Path) -> Vec<u8> {
    let mut line = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = std::io::BufReader::new(file).read_until(b'\n', &mut line);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    line.retain(|&b| b != 0);
    line
}

/// The launcher's Int pattern: not `*[!0-9-]*|''|-|*?-*`, i.e. digits after an optional `-`.
fn is_int(line: &[u8]) -> bool {
    let digits = line.strip_prefix(b"-").unwrap_or(line);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

fn append(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = file.write_all(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use kfl_dag::{Input, Output, ScriptLang};
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    fn component(name: &str, source: &str, inputs: &[(&str, IoType)], outputs: &[(&str, IoType)]) -> Component {
        Component {
            name: name.into(),
            k8s_name: "demo".into(),
            doc: None,
            inputs: inputs
                .iter()
                .map(|(n, ty)| Input { name: (*n).into(), ty: ty.clone(), default: None, doc: None })
                .collect(),
            outputs: outputs.iter().map(|(n, ty)| Output { name: (*n).into(), ty: ty.clone(), doc: None }).collect(),
            image: "alpine:3.20".into(),
            packages: Vec::new(),
            body: Body::Script { lang: ScriptLang::Sh, source: source.into() },
            source: "test.kfl".into(),
        }
    }

    fn dataset() -> IoType {
        IoType::Artifact { name: "Dataset".into(), builtin: "Dataset".into() }
    }

    /// What a task left: its exit code, standard output and error, and every file of its folder.
    #[derive(Debug, PartialEq)]
    struct Seen {
        code: Option<i32>,
        stdout: String,
        stderr: String,
        files: Vec<(String, String)>,
    }

    fn seen(dir: &Path, code: Option<i32>) -> Seen {
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        let mut files: Vec<(String, String)> = std::fs::read_dir(dir.join("out"))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            read(&format!("out/{}", e.file_name().to_string_lossy())),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        Seen { code, stdout: read("stdout"), stderr: read("stderr"), files }
    }

    fn fresh(dir: &Path) {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir.join("out")).expect("a scratch folder");
    }

    /// The component run by its launcher, then by `bind` + `sh -eu -c` + `finish`, with the same
    /// environment in the same folder: both must leave the same.
    fn both(component: &Component, env: &[(&str, &str)]) -> (Seen, Seen) {
        let dir: PathBuf =
            std::env::temp_dir().join(format!("kfl-host-sh-{}-{}", std::process::id(), crate::fsutil::unique_suffix()));
        let mut vars: Vec<(String, OsString)> = vec![("PATH".into(), std::env::var_os("PATH").unwrap_or_default())];
        for output in &component.outputs {
            let var = match output.ty {
                IoType::Parameter(_) => output_param_var(&output.name),
                _ => output_path_var(&output.name),
            };
            vars.push((var, dir.join("out").join(&output.name).into()));
        }
        vars.extend(env.iter().map(|(k, v)| ((*k).to_string(), OsString::from(v))));
        let lookup = |name: &str| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let start = |argv: Vec<OsString>, extra: Vec<(String, OsString)>| {
            let file = |name: &str| std::fs::File::create(dir.join(name)).expect("a log");
            Command::new(&argv[0])
                .args(&argv[1..])
                .env_clear()
                .envs(vars.iter().cloned())
                .envs(extra)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(file("stdout"))
                .stderr(file("stderr"))
                .status()
                .expect("sh runs")
        };
        fresh(&dir);
        let launcher = kfl_launcher::script_command(component).expect("a script").into_iter().map(Into::into).collect();
        let status = start(launcher, Vec::new());
        let by_launcher = seen(&dir, status.code());
        fresh(&dir);
        let bound = bind(component, lookup).expect("bindings that hold");
        let source = match &component.body {
            Body::Script { source, .. } => source.clone(),
            Body::Container { .. } => String::new(),
        };
        let argv = ["sh", "-eu", "-c", &source].iter().map(Into::into).chain([bound.label().to_os_string()]).collect();
        let extra = bound.vars().map(|(k, v)| (k.clone(), v.clone())).collect();
        let status = bound.finish(component, start(argv, extra), &dir.join("stderr"), lookup);
        let direct = seen(&dir, status.code());
        let _ = std::fs::remove_dir_all(&dir);
        (by_launcher, direct)
    }

    #[test]
    fn a_script_sees_and_leaves_what_it_would_under_its_launcher() {
        let int = IoType::Parameter(ParamType::Int);
        let boolean = IoType::Parameter(ParamType::Bool);
        let text = IoType::Parameter(ParamType::String);
        let outputs = [
            ("n", int.clone()),
            ("flag", boolean.clone()),
            ("s", text.clone()),
            ("data", dataset()),
            ("model", dataset()),
        ];
        let inputs = [("x", text.clone()), ("kfl_component", text.clone())];
        let env = [
            ("KFL_INPUT_x", "it's \"quoted\" $(exit 9) `id` ${HOME} {{a}} ünï\nline"),
            ("KFL_INPUT_kfl_component", "renamed"),
            ("kfl_script", "from the environment"),
            ("OTHER", "kept"),
        ];
        let cases = [
            // Everything written: the environment the script sees, its $0, the metadata default.
            "echo \"$0\"; env | sort; echo 42 > \"$n\"; echo true > \"$flag\"; printf 'a b' > \"$s\"; \
             echo d > \"$data\"; echo m > \"$model\"; echo '{\"k\": 1}' > \"$model.metadata.json\"",
            // Unwritten, ill-typed outputs; failures and signals of the script.
            "echo 42 > \"$n\"; echo true > \"$flag\"",
            "echo 4-2 > \"$n\"; echo true > \"$flag\"; echo > \"$s\"",
            "echo -7 > \"$n\"; echo yes > \"$flag\"",
            "printf '' > \"$n\"",
            "echo 1 > \"$n\"; echo false > \"$flag\"; : > \"$s\"; echo d > \"$data\"; echo oops >&2; exit 3",
            "echo 1 > \"$n\"; kill -9 $$",
            "kill -TERM $$",
            "kill -PIPE $$",
            "kill -USR2 $$",
            "echo \"$undefined\"",
        ];
        // The note a shell writes for a command killed by a signal is its own: kflc writes dash's.
        // Where the `sh` that runs the launcher here is another shell, those cases are held to
        // dash's notes instead of to that shell's.
        let dash = std::fs::canonicalize("/bin/sh").is_ok_and(|sh| sh.ends_with("dash"));
        let notes =
            [("kill -9", "Killed\n"), ("kill -TERM", "Terminated\n"), ("kill -USR2", "User defined signal 2\n")];
        for script in cases {
            let (launcher, direct) = both(&component("step", script, &inputs, &outputs), &env);
            match notes.iter().find(|(kill, _)| script.contains(kill)) {
                Some((_, note)) if !dash => {
                    assert_eq!((launcher.code, &launcher.stdout), (direct.code, &direct.stdout), "{script}");
                    assert!(direct.stderr.ends_with(note), "{script}: {direct:?}");
                }
                _ => assert_eq!(launcher, direct, "{script}"),
            }
        }
        // The first case ran through: what it left is worth a look of its own.
        let (_, direct) = both(&component("step", cases[0], &inputs, &outputs), &env);
        assert_eq!(direct.code, Some(0), "{direct:?}");
        assert!(direct.stdout.starts_with("renamed\n"), "{direct:?}");
        assert!(direct.stdout.contains("kfl_script=echo"), "{direct:?}");
        assert!(direct.files.contains(&("data.metadata.json".into(), "{}".into())), "{direct:?}");
        let (_, failed) = both(&component("step", cases[2], &inputs, &outputs), &env);
        assert_eq!(failed.stderr, "kfl: renamed: the output parameter `n` should be an Int, got: 4-2\n");
    }

    #[test]
    fn bindings_that_would_fail_are_left_to_the_launcher() {
        let text = IoType::Parameter(ParamType::String);
        let unset = component("step", "true", &[("x", text.clone())], &[]);
        assert_eq!(bind(&unset, |_| None), None);
        let invalid = component("step", "true", &[("not-a-name", text)], &[]);
        assert_eq!(bind(&invalid, |_| Some("v".into())), None);
    }

    #[test]
    fn the_int_pattern_is_the_launchers() {
        for good in ["0", "42", "-7", "007"] {
            assert!(is_int(good.as_bytes()), "{good}");
        }
        for bad in ["", "-", "1-2", "--1", "4.2", " 1", "1 ", "x", "0x10", "1\r"] {
            assert!(!is_int(bad.as_bytes()), "{bad:?}");
        }
    }
}

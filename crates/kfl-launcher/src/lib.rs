//! KFL's script launchers: the small programs that run a script component (`python """…"""` or
//! `sh """…"""`) inside a container whose image has nothing but `python3` (or `sh`). Every backend
//! uses them: the Argo backend runs `python3 -c <launcher>` / `sh -c <launcher>`, and a local runner
//! can run the very same program in a temporary directory.
//!
//! # The contract
//!
//! The launcher is generated per component: it contains the component's input and output names,
//! their kinds, and the user's script. **Values never appear in it**: they arrive in environment
//! variables, set by whoever starts the launcher.
//!
//! | variable | holds |
//! |---|---|
//! | `KFL_INPUT_<name>` | an input parameter's value in its *text form*: a `String` as it is, every other type (`Int`, `Float`, `Bool`, `List`, `Map`) as JSON |
//! | `KFL_INPUT_PATH_<name>` | an input artifact's local path; for a list of artifacts, a directory whose element `i` is `<dir>/<i>/data` (`i` = 0, 1, …) |
//! | `KFL_INPUT_URI_<name>` | an input artifact's URI; for a list of artifacts, a JSON list of URIs (optional) |
//! | `KFL_OUTPUT_PATH_<name>` | where to write an output artifact |
//! | `KFL_OUTPUT_URI_<name>` | the URI that output artifact will have (optional) |
//! | `KFL_OUTPUT_PARAM_<name>` | the file to write an output parameter's value into, in its text form |
//! | `KFL_PACKAGES` | python only, optional: a JSON list of pip requirements to install before the script runs |
//!
//! The text form is what Argo Workflows and Kubeflow Pipelines pass around as a parameter's
//! value, so a backend can hand those values to the launcher and take its output files as they
//! are. It is unambiguous because the launcher knows each parameter's declared type.
//!
//! An artifact's metadata lives next to it, in `<path>.metadata.json` (a JSON object). The
//! launchers read it for input artifacts (an absent file is `{}`) and always write it for output
//! artifacts (`{}` when the script set nothing), so an output artifact is never empty.
//!
//! **python**: every input is a global variable of the script: parameters decoded to `str`,
//! `int`, `float`, `bool`, `list` or `dict`; artifacts as objects with `.path`, `.uri` and
//! `.metadata` (a `dict`); a list of artifacts as a `list` of such objects. Output artifacts are
//! the same objects, with `.path` where to write (its directory exists). The script runs with
//! `exec` in those globals; then each output parameter is the final value of the global of its
//! name, type-checked and written to its file. An output parameter the script never set, or set
//! to a value of the wrong type, fails the run with a message that names it.
//!
//! **sh**: every input and output is an exported environment variable of its own name: a
//! parameter's text form, an artifact's path (a list of artifacts: its directory), and for an
//! output parameter the path of the file to write the value into. The script runs with `sh -eu`;
//! an output parameter file it did not write fails the run.
//!
//! # Invariants
//!
//! - Pure: no IO. Generating a launcher only builds a string.
//! - No value ever appears in generated code; names appear only inside quoted string literals,
//!   and the user's script only base64-encoded (python) or single-quoted (sh).
//! - A generated launcher never contains `{{`, so template engines that substitute `{{…}}`
//!   (Argo) leave it alone, whatever the user's script contains.

use kfl_dag::{Body, Component, IoType, ParamType, ScriptLang, Value};

/// The environment variable of an input parameter's value.
pub fn input_var(name: &str) -> String {
    format!("KFL_INPUT_{name}")
}

/// The environment variable of an input artifact's local path.
pub fn input_path_var(name: &str) -> String {
    format!("KFL_INPUT_PATH_{name}")
}

/// The environment variable of an input artifact's URI.
pub fn input_uri_var(name: &str) -> String {
    format!("KFL_INPUT_URI_{name}")
}

/// The environment variable of an output artifact's local path.
pub fn output_path_var(name: &str) -> String {
    format!("KFL_OUTPUT_PATH_{name}")
}

/// The environment variable of an output artifact's URI.
pub fn output_uri_var(name: &str) -> String {
    format!("KFL_OUTPUT_URI_{name}")
}

/// The environment variable of the file an output parameter is written to.
pub fn output_param_var(name: &str) -> String {
    format!("KFL_OUTPUT_PARAM_{name}")
}

/// The environment variable with the pip requirements to install (python only).
pub const PACKAGES_VAR: &str = "KFL_PACKAGES";

/// The text form of a value: a string as it is, anything else as JSON.
pub fn text_form(value: &Value) -> String {
    value.to_plain_string()
}

/// The path of an artifact's metadata file.
pub fn metadata_path(artifact_path: &str) -> String {
    format!("{artifact_path}.metadata.json")
}

/// The path of element `index` of a list of artifacts laid out in `dir`.
pub fn list_element_path(dir: &str, index: usize) -> String {
    format!("{}/{index}/data", dir.trim_end_matches('/'))
}

/// The launcher of a script component, or `None` for a container component.
pub fn launcher(component: &Component) -> Option<String> {
    match &component.body {
        Body::Script { lang: ScriptLang::Python, .. } => Some(python_launcher(component)),
        Body::Script { lang: ScriptLang::Sh, .. } => Some(sh_launcher(component)),
        Body::Container { .. } => None,
    }
}

/// The container command that runs a script component: `python3 -c <launcher>` or
/// `sh -c <launcher>`; `None` for a container component.
pub fn script_command(component: &Component) -> Option<Vec<String>> {
    match &component.body {
        Body::Script { lang: ScriptLang::Python, .. } => {
            Some(vec!["python3".to_string(), "-c".to_string(), python_launcher(component)])
        }
        Body::Script { lang: ScriptLang::Sh, .. } => {
            Some(vec!["sh".to_string(), "-c".to_string(), sh_launcher(component)])
        }
        Body::Container { .. } => None,
    }
}

/// How the launcher treats one input or output.
fn kind(ty: &IoType) -> &'static str {
    match ty {
        IoType::Parameter(ParamType::String) => "str",
        IoType::Parameter(ParamType::Int) => "int",
        IoType::Parameter(ParamType::Float) => "float",
        IoType::Parameter(ParamType::Bool) => "bool",
        IoType::Parameter(ParamType::List) => "list",
        IoType::Parameter(ParamType::Map) => "dict",
        IoType::Artifact { .. } => "artifact",
        IoType::ArtifactList { .. } => "artifacts",
    }
}

/// A string as a Python (and JSON) double-quoted literal: safe for any text.
fn py_str(text: &str) -> String {
    let quoted = serde_json::Value::String(text.to_string()).to_string();
    // `{` is escaped so that no `{{` can appear in the generated program.
    quoted.replace('{', "\\x7b").replace('}', "\\x7d")
}

/// The python launcher of a component (whatever its body: a container component's is a no-op
/// script).
pub fn python_launcher(component: &Component) -> String {
    let source = match &component.body {
        Body::Script { source, .. } => source.as_str(),
        Body::Container { .. } => "",
    };
    let table = |items: Vec<(&str, &IoType)>| {
        let rows: Vec<String> = items.iter().map(|(n, ty)| format!("({}, {})", py_str(n), py_str(kind(ty)))).collect();
        format!("[{}]", rows.join(", "))
    };
    let inputs = table(component.inputs.iter().map(|i| (i.name.as_str(), &i.ty)).collect());
    let outputs = table(component.outputs.iter().map(|o| (o.name.as_str(), &o.ty)).collect());
    let mut program = String::new();
    program.push_str("# KFL launcher of component ");
    program.push_str(&py_str(&component.name));
    program.push('\n');
    program.push_str(&format!("KFL_COMPONENT = {}\n", py_str(&component.name)));
    program.push_str(&format!("KFL_INPUTS = {inputs}\n"));
    program.push_str(&format!("KFL_OUTPUTS = {outputs}\n"));
    program.push_str(&format!("KFL_SCRIPT = {}\n", py_str(&base64(source.as_bytes()))));
    program.push_str(PYTHON_RUNTIME);
    program
}

/// The body of every python launcher. It must not contain a double opening brace (a test checks).
const PYTHON_RUNTIME: &str = r#"
import base64 as _b64
import json as _json
import os as _os
import sys as _sys


def _kfl_fail(message):
    _sys.stderr.write("kfl: " + KFL_COMPONENT + ": " + message + "\n")
    _sys.exit(1)


class Artifact:
    """An artifact: a local path, a URI, and metadata (a dict)."""

    __slots__ = ("path", "uri", "metadata")

    def __init__(self, path, uri="", metadata=None):
        self.path = path
        self.uri = uri
        self.metadata = dict(metadata or dict())

    def __fspath__(self):
        return self.path

    def __repr__(self):
        return "Artifact(path=%r, uri=%r)" % (self.path, self.uri)


def _kfl_env(variable, what):
    value = _os.environ.get(variable)
    if value is None:
        _kfl_fail(what + " has no value: " + variable + " is not set")
    return value


def _kfl_read_metadata(path):
    try:
        with open(path + ".metadata.json", encoding="utf-8") as f:
            metadata = _json.load(f)
    except FileNotFoundError:
        return dict()
    except ValueError as e:
        _kfl_fail("the metadata of " + path + " is not JSON: " + str(e))
    if not isinstance(metadata, dict):
        _kfl_fail("the metadata of " + path + " is not a JSON object")
    return metadata


def _kfl_decode(name, kind, text):
    if kind == "str":
        return text
    try:
        value = _json.loads(text)
    except ValueError:
        _kfl_fail("input `" + name + "` should be " + kind + " (as JSON), got " + repr(text))
    if kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    expected = dict(int=int, bool=bool, list=list, dict=dict)[kind] if kind != "float" else float
    if not isinstance(value, expected) or (kind == "int" and isinstance(value, bool)):
        _kfl_fail("input `" + name + "` should be " + kind + ", got " + repr(text))
    return value


def _kfl_input_artifacts(name):
    directory = _kfl_env("KFL_INPUT_PATH_" + name, "input `" + name + "`")
    uris = _json.loads(_os.environ.get("KFL_INPUT_URI_" + name) or "[]")
    if not isinstance(uris, list):
        _kfl_fail("KFL_INPUT_URI_" + name + " should be a JSON list")
    indexes = []
    if _os.path.isdir(directory):
        indexes = sorted(int(e) for e in _os.listdir(directory) if e.isdigit())
    items = []
    for i in indexes:
        path = _os.path.join(directory, str(i), "data")
        uri = uris[i] if i < len(uris) else ""
        items.append(Artifact(path, uri, _kfl_read_metadata(path)))
    return items


def _kfl_write_param(name, kind, value):
    if kind == "str":
        ok = isinstance(value, str)
        text = value if ok else ""
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        text = str(value) if ok else ""
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        text = _json.dumps(float(value)) if ok else ""
    elif kind == "bool":
        ok = isinstance(value, bool)
        text = _json.dumps(value)
    elif kind == "list":
        ok = isinstance(value, (list, tuple))
        text = ""
    else:
        ok = isinstance(value, dict)
        text = ""
    if not ok:
        _kfl_fail("output `" + name + "` should be " + kind + ", but the script set it to " + type(value).__name__)
    if kind in ("list", "dict"):
        try:
            text = _json.dumps(list(value) if kind == "list" else value)
        except (TypeError, ValueError) as e:
            _kfl_fail("output `" + name + "` is not JSON-serializable: " + str(e))
    path = _kfl_env("KFL_OUTPUT_PARAM_" + name, "output `" + name + "`")
    parent = _os.path.dirname(path)
    if parent:
        _os.makedirs(parent, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _kfl_main():
    scope = dict(__name__="__main__", __builtins__=__builtins__, Artifact=Artifact)
    for name, kind in KFL_INPUTS:
        if kind == "artifact":
            path = _kfl_env("KFL_INPUT_PATH_" + name, "input `" + name + "`")
            uri = _os.environ.get("KFL_INPUT_URI_" + name, "")
            scope[name] = Artifact(path, uri, _kfl_read_metadata(path))
        elif kind == "artifacts":
            scope[name] = _kfl_input_artifacts(name)
        else:
            scope[name] = _kfl_decode(name, kind, _kfl_env("KFL_INPUT_" + name, "input `" + name + "`"))
    outputs = []
    for name, kind in KFL_OUTPUTS:
        if kind == "artifact":
            path = _kfl_env("KFL_OUTPUT_PATH_" + name, "output `" + name + "`")
            parent = _os.path.dirname(path)
            if parent:
                _os.makedirs(parent, exist_ok=True)
            artifact = Artifact(path, _os.environ.get("KFL_OUTPUT_URI_" + name, ""))
            scope[name] = artifact
            outputs.append((name, kind, artifact))
        else:
            scope.pop(name, None)
            outputs.append((name, kind, None))
    packages = _json.loads(_os.environ.get("KFL_PACKAGES") or "[]")
    if packages:
        import subprocess

        command = [_sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        code = subprocess.call(command + ["--no-warn-script-location"] + [str(p) for p in packages])
        if code != 0:
            _kfl_fail("pip could not install " + ", ".join(str(p) for p in packages))
    source = _b64.b64decode(KFL_SCRIPT).decode("utf-8")
    code = compile(source, "<" + KFL_COMPONENT + " script>", "exec")
    try:
        exec(code, scope)
    except SystemExit as e:
        if e.code not in (None, 0):
            raise
    for name, kind, artifact in outputs:
        if artifact is not None:
            try:
                text = _json.dumps(artifact.metadata)
            except (TypeError, ValueError) as e:
                _kfl_fail("the metadata of output `" + name + "` is not JSON-serializable: " + str(e))
            with open(artifact.path + ".metadata.json", "w", encoding="utf-8") as f:
                f.write(text)
        elif name not in scope:
            _kfl_fail("the script never set the output parameter `" + name + "`")
        else:
            _kfl_write_param(name, kind, scope[name])


_kfl_main()
"#;

/// A string as a single-quoted sh word. `{` is closed and reopened around so that no `{{` can
/// appear in the generated program.
fn sh_quote(text: &str) -> String {
    let mut out = String::from("'");
    for c in text.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            '{' => out.push_str("{''"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The sh launcher of a component.
pub fn sh_launcher(component: &Component) -> String {
    let source = match &component.body {
        Body::Script { source, .. } => source.as_str(),
        Body::Container { .. } => "",
    };
    let mut p = String::new();
    p.push_str("# KFL launcher of component ");
    p.push_str(&sh_quote(&component.name));
    p.push('\n');
    p.push_str("set -eu\n");
    p.push_str(&format!("kfl_component={}\n", sh_quote(&component.name)));
    p.push_str("kfl_fail() { printf 'kfl: %s: %s\\n' \"$kfl_component\" \"$1\" >&2; exit 1; }\n");
    p.push_str("kfl_dir() { case \"$1\" in */*) [ -d \"${1%/*}\" ] || mkdir -p \"${1%/*}\";; esac; }\n");
    for input in &component.inputs {
        let (var, what) = match input.ty {
            IoType::Parameter(_) => (input_var(&input.name), "input"),
            _ => (input_path_var(&input.name), "input"),
        };
        bind_sh(&mut p, &input.name, &var, what);
    }
    for output in &component.outputs {
        let var = match output.ty {
            IoType::Parameter(_) => output_param_var(&output.name),
            _ => output_path_var(&output.name),
        };
        bind_sh(&mut p, &output.name, &var, "output");
        p.push_str(&format!("kfl_dir \"${var}\"\n"));
    }
    p.push_str(&format!("kfl_script={}\n", sh_quote(source)));
    p.push_str("sh -eu -c \"$kfl_script\" \"$kfl_component\"\n");
    for output in &component.outputs {
        let name = &output.name;
        match output.ty {
            IoType::Parameter(param) => {
                let var = output_param_var(name);
                let message =
                    sh_quote(&format!("the script never wrote the output parameter `{name}` (to \"${name}\")"));
                p.push_str(&format!("[ -f \"${var}\" ] || kfl_fail {message}\n"));
                let pattern = match param {
                    ParamType::Int => Some(("*[!0-9-]*|''|-|*?-*", "an Int")),
                    ParamType::Bool => Some(("true|false", "true or false")),
                    _ => None,
                };
                if let Some((pattern, expected)) = pattern {
                    let bad = sh_quote(&format!("the output parameter `{name}` should be {expected}, got: "));
                    p.push_str(&format!("kfl_line=; IFS= read -r kfl_line < \"${var}\" || true\n"));
                    if param == ParamType::Bool {
                        p.push_str(&format!(
                            "case \"$kfl_line\" in {pattern}) ;; *) kfl_fail {bad}\"$kfl_line\";; esac\n"
                        ));
                    } else {
                        p.push_str(&format!("case \"$kfl_line\" in {pattern}) kfl_fail {bad}\"$kfl_line\";; esac\n"));
                    }
                }
            }
            IoType::Artifact { .. } | IoType::ArtifactList { .. } => {
                let var = output_path_var(name);
                p.push_str(&format!(
                    "[ -e \"${var}.metadata.json\" ] || printf '%s' '{{}}' > \"${var}.metadata.json\"\n"
                ));
            }
        }
    }
    p
}

/// `name=$VAR; export name`, failing clearly if `VAR` is unset.
fn bind_sh(p: &mut String, name: &str, var: &str, what: &str) {
    if !is_identifier(name) {
        let message = sh_quote(&format!("{what} {name:?} is not a valid name"));
        p.push_str(&format!("kfl_fail {message}\n"));
        return;
    }
    let message = sh_quote(&format!("{what} `{name}` has no value: {var} is not set"));
    p.push_str(&format!("[ -n \"${{{var}+x}}\" ] || kfl_fail {message}\n"));
    p.push_str(&format!("{name}=${var}; export {name}\n"));
}

/// A name that is safe as a shell variable, an environment variable suffix and a Python name.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One input's value, for [`env_for`].
#[derive(Clone, Debug, PartialEq)]
pub enum InputBinding {
    /// A parameter's value.
    Value(Value),
    /// A parameter's value, already in its text form.
    Text(String),
    Artifact {
        path: String,
        uri: String,
    },
    /// A list of artifacts laid out in `dir` as `<dir>/<i>/data`.
    Artifacts {
        dir: String,
        uris: Vec<String>,
    },
}

/// Where one output goes, for [`env_for`].
#[derive(Clone, Debug, PartialEq)]
pub enum OutputBinding {
    /// The file the parameter's text form is written to.
    Parameter {
        path: String,
    },
    Artifact {
        path: String,
        uri: String,
    },
}

/// The environment of a launcher: the variables of the contract for the given inputs and outputs,
/// in the component's order. Inputs without a binding are left out (the launcher reports them).
pub fn env_for(
    component: &Component,
    inputs: &[(String, InputBinding)],
    outputs: &[(String, OutputBinding)],
) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for input in &component.inputs {
        let Some((_, binding)) = inputs.iter().find(|(n, _)| *n == input.name) else { continue };
        match binding {
            InputBinding::Value(value) => env.push((input_var(&input.name), text_form(value))),
            InputBinding::Text(text) => env.push((input_var(&input.name), text.clone())),
            InputBinding::Artifact { path, uri } => {
                env.push((input_path_var(&input.name), path.clone()));
                env.push((input_uri_var(&input.name), uri.clone()));
            }
            InputBinding::Artifacts { dir, uris } => {
                env.push((input_path_var(&input.name), dir.clone()));
                let uris = serde_json::Value::Array(uris.iter().cloned().map(serde_json::Value::String).collect());
                env.push((input_uri_var(&input.name), uris.to_string()));
            }
        }
    }
    for output in &component.outputs {
        let Some((_, binding)) = outputs.iter().find(|(n, _)| *n == output.name) else { continue };
        match binding {
            OutputBinding::Parameter { path } => env.push((output_param_var(&output.name), path.clone())),
            OutputBinding::Artifact { path, uri } => {
                env.push((output_path_var(&output.name), path.clone()));
                env.push((output_uri_var(&output.name), uri.clone()));
            }
        }
    }
    if !component.packages.is_empty() {
        if let Body::Script { lang: ScriptLang::Python, .. } = component.body {
            let list =
                serde_json::Value::Array(component.packages.iter().cloned().map(serde_json::Value::String).collect());
            env.push((PACKAGES_VAR.to_string(), list.to_string()));
        }
    }
    env
}

/// Standard base64 (with padding).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn sh_quoting_never_leaves_a_double_brace() {
        let quoted = sh_quote("a{{b}}'c");
        assert!(!quoted.contains("{{"), "{quoted}");
        assert_eq!(quoted, "'a{''{''b}}'\\''c'");
    }
}

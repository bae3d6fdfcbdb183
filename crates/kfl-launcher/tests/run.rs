//! The launchers, run for real: python3 and sh in a temporary directory, with tricky values.

use std::path::{Path, PathBuf};
use std::process::Command;

use kfl_dag::{Body, Component, Input, IoType, Output, ParamType, ScriptLang, Value};
use kfl_launcher::*;

/// A fresh directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("kfl-launcher-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn param(name: &str, ty: ParamType) -> Input {
    Input { name: name.to_string(), ty: IoType::Parameter(ty), default: None, doc: None }
}

fn artifact_in(name: &str) -> Input {
    Input {
        name: name.to_string(),
        ty: IoType::Artifact { name: "Dataset".into(), builtin: "Dataset".into() },
        default: None,
        doc: None,
    }
}

fn out(name: &str, ty: IoType) -> Output {
    Output { name: name.to_string(), ty, doc: None }
}

fn model() -> IoType {
    IoType::Artifact { name: "Model".into(), builtin: "Model".into() }
}

fn component(lang: ScriptLang, source: &str, inputs: Vec<Input>, outputs: Vec<Output>) -> Component {
    Component {
        name: "demo".into(),
        k8s_name: "demo".into(),
        doc: None,
        inputs,
        outputs,
        image: "python:3.11-slim".into(),
        packages: Vec::new(),
        body: Body::Script { lang, source: source.to_string() },
        source: "test.kfl".into(),
    }
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn run(component: &Component, env: &[(String, String)], cwd: &Path) -> Run {
    let command = script_command(component).expect("a script");
    let output = Command::new(&command[0])
        .args(&command[1..])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cwd)
        .output()
        .expect("python3 and sh are installed");
    Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
    }
}

/// Values that break naive quoting in shells, Python and YAML.
fn tricky() -> String {
    "it's \"quoted\" $(rm -rf /) `id` ${HOME} {{workflow.name}} \\n\nnew line\ttab ünïcødé 🚀 ' \"".to_string()
}

#[test]
fn python_binds_every_kind_of_input_and_writes_outputs() {
    let dir = TempDir::new("py");
    std::fs::create_dir_all(dir.path("in")).expect("mkdir");
    std::fs::write(dir.path("in/data"), "a,b\n1,2\n").expect("write");
    std::fs::write(dir.path("in/data.metadata.json"), r#"{"rows": 1}"#).expect("write");
    let source = r#"
assert isinstance(text, str), type(text)
assert isinstance(count, int) and not isinstance(count, bool)
assert isinstance(rate, float) and rate == 0.5
assert flag is True
assert items == [1, "two", 3.0]
assert config == {"k": ["v"]}
assert data.metadata == {"rows": 1}
assert data.uri == "s3://bucket/data"
with open(data.path) as f:
    lines = f.read().splitlines()
echo = text
total = count + len(lines)
ratio = rate * 2
ok = not flag
listing = [text, count]
mapping = {"text": text}
with open(model.path, "w") as f:
    f.write("weights")
model.metadata["framework"] = "none"
print("done")
"#;
    let c = component(
        ScriptLang::Python,
        source,
        vec![
            param("text", ParamType::String),
            param("count", ParamType::Int),
            param("rate", ParamType::Float),
            param("flag", ParamType::Bool),
            param("items", ParamType::List),
            param("config", ParamType::Map),
            artifact_in("data"),
        ],
        vec![
            out("echo", IoType::Parameter(ParamType::String)),
            out("total", IoType::Parameter(ParamType::Int)),
            out("ratio", IoType::Parameter(ParamType::Float)),
            out("ok", IoType::Parameter(ParamType::Bool)),
            out("listing", IoType::Parameter(ParamType::List)),
            out("mapping", IoType::Parameter(ParamType::Map)),
            out("model", model()),
        ],
    );
    let value = tricky();
    let inputs = vec![
        ("text".to_string(), InputBinding::Value(Value::String(value.clone()))),
        ("count".to_string(), InputBinding::Value(Value::Int(40))),
        ("rate".to_string(), InputBinding::Text("0.5".into())),
        ("flag".to_string(), InputBinding::Value(Value::Bool(true))),
        (
            "items".to_string(),
            InputBinding::Value(Value::List(vec![Value::Int(1), Value::String("two".into()), Value::Float(3.0)])),
        ),
        (
            "config".to_string(),
            InputBinding::Value(Value::Map(vec![("k".into(), Value::List(vec![Value::String("v".into())]))])),
        ),
        ("data".to_string(), InputBinding::Artifact { path: dir.path("in/data"), uri: "s3://bucket/data".into() }),
    ];
    let mut outputs: Vec<(String, OutputBinding)> = ["echo", "total", "ratio", "ok", "listing", "mapping"]
        .iter()
        .map(|n| (n.to_string(), OutputBinding::Parameter { path: dir.path(&format!("params/{n}")) }))
        .collect();
    outputs.push((
        "model".into(),
        OutputBinding::Artifact { path: dir.path("out/model/data"), uri: "s3://bucket/model".into() },
    ));
    let env = env_for(&c, &inputs, &outputs);
    // Values travel in the environment only: none of them is in the program.
    let program = python_launcher(&c);
    assert!(!program.contains("rm -rf"), "a value leaked into the program");
    let result = run(&c, &env, &dir.0);
    assert_eq!(result.status, 0, "stdout: {}\nstderr: {}", result.stdout, result.stderr);
    assert!(result.stdout.contains("done"));
    let read = |rel: &str| std::fs::read_to_string(dir.path(rel)).expect(rel);
    assert_eq!(read("params/echo"), value);
    assert_eq!(read("params/total"), "42");
    assert_eq!(read("params/ratio"), "1.0");
    assert_eq!(read("params/ok"), "false");
    let listing: serde_json::Value = serde_json::from_str(&read("params/listing")).expect("json");
    assert_eq!(listing, serde_json::json!([value, 40]));
    let mapping: serde_json::Value = serde_json::from_str(&read("params/mapping")).expect("json");
    assert_eq!(mapping, serde_json::json!({ "text": value }));
    assert_eq!(read("out/model/data"), "weights");
    let metadata: serde_json::Value = serde_json::from_str(&read("out/model/data.metadata.json")).expect("json");
    assert_eq!(metadata, serde_json::json!({ "framework": "none" }));
}

#[test]
fn python_fails_clearly_when_an_output_is_never_set() {
    let dir = TempDir::new("py-missing");
    let c =
        component(ScriptLang::Python, "x = 1\n", vec![], vec![out("accuracy", IoType::Parameter(ParamType::Float))]);
    let env = env_for(&c, &[], &[("accuracy".into(), OutputBinding::Parameter { path: dir.path("params/accuracy") })]);
    let result = run(&c, &env, &dir.0);
    assert_ne!(result.status, 0);
    assert!(result.stderr.contains("never set the output parameter `accuracy`"), "{}", result.stderr);
}

#[test]
fn python_rejects_an_output_of_the_wrong_type_and_a_malformed_input() {
    let dir = TempDir::new("py-types");
    let c = component(ScriptLang::Python, "n = 'many'\n", vec![], vec![out("n", IoType::Parameter(ParamType::Int))]);
    let env = env_for(&c, &[], &[("n".into(), OutputBinding::Parameter { path: dir.path("n") })]);
    let result = run(&c, &env, &dir.0);
    assert_ne!(result.status, 0);
    assert!(result.stderr.contains("output `n` should be int"), "{}", result.stderr);

    let c = component(ScriptLang::Python, "print(epochs)\n", vec![param("epochs", ParamType::Int)], vec![]);
    let env = env_for(&c, &[("epochs".into(), InputBinding::Text("ten".into()))], &[]);
    let result = run(&c, &env, &dir.0);
    assert_ne!(result.status, 0);
    assert!(result.stderr.contains("input `epochs` should be int"), "{}", result.stderr);

    let env = env_for(&c, &[], &[]);
    let result = run(&c, &env, &dir.0);
    assert_ne!(result.status, 0);
    assert!(result.stderr.contains("KFL_INPUT_epochs is not set"), "{}", result.stderr);
}

#[test]
fn python_reads_a_list_of_artifacts_in_order() {
    let dir = TempDir::new("py-list");
    for (i, body) in
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"].iter().enumerate()
    {
        std::fs::create_dir_all(dir.path(&format!("models/{i}"))).expect("mkdir");
        std::fs::write(dir.path(&format!("models/{i}/data")), body).expect("write");
        std::fs::write(dir.path(&format!("models/{i}/data.metadata.json")), format!(r#"{{"i": {i}}}"#)).expect("write");
    }
    let c = component(
        ScriptLang::Python,
        "names = [open(m.path).read() for m in models]\nassert [m.metadata['i'] for m in models] == list(range(11))\n\
         assert models[10].uri == 'u10'\n",
        vec![Input {
            name: "models".into(),
            ty: IoType::ArtifactList { name: "Model".into(), builtin: "Model".into() },
            default: None,
            doc: None,
        }],
        vec![out("names", IoType::Parameter(ParamType::List))],
    );
    let uris = (0..11).map(|i| format!("u{i}")).collect();
    let env = env_for(
        &c,
        &[("models".into(), InputBinding::Artifacts { dir: dir.path("models"), uris })],
        &[("names".into(), OutputBinding::Parameter { path: dir.path("names") })],
    );
    let result = run(&c, &env, &dir.0);
    assert_eq!(result.status, 0, "{}", result.stderr);
    let names: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(dir.path("names")).expect("read")).expect("json");
    assert_eq!(names[0], "zero");
    assert_eq!(names[2], "two");
    assert_eq!(names[10], "ten");
}

#[test]
fn python_runs_a_script_that_exits_early_with_success() {
    let dir = TempDir::new("py-exit");
    let c = component(
        ScriptLang::Python,
        "import sys\ndone = True\nsys.exit(0)\ndone = False\n",
        vec![],
        vec![out("done", IoType::Parameter(ParamType::Bool))],
    );
    let env = env_for(&c, &[], &[("done".into(), OutputBinding::Parameter { path: dir.path("done") })]);
    let result = run(&c, &env, &dir.0);
    assert_eq!(result.status, 0, "{}", result.stderr);
    assert_eq!(std::fs::read_to_string(dir.path("done")).expect("read"), "true");

    let c = component(ScriptLang::Python, "raise SystemExit(3)\n", vec![], vec![]);
    assert_eq!(run(&c, &[], &dir.0).status, 3);
}

#[test]
fn sh_exports_names_and_runs_with_errexit_and_nounset() {
    let dir = TempDir::new("sh");
    std::fs::write(dir.path("data.csv"), "a\nb\nc\n").expect("write");
    let source = r#"
printf '%s' "$message" > "$echo"
n=0
while IFS= read -r line; do n=$((n + 1)); done < "$data"
printf '%s\n' "$((n + count))" > "$lines"
printf 'model' > "$model"
printf '%s' "$items" > "$items_out"
"#;
    let c = component(
        ScriptLang::Sh,
        source,
        vec![
            param("message", ParamType::String),
            param("count", ParamType::Int),
            param("items", ParamType::List),
            artifact_in("data"),
        ],
        vec![
            out("echo", IoType::Parameter(ParamType::String)),
            out("lines", IoType::Parameter(ParamType::Int)),
            out("items_out", IoType::Parameter(ParamType::List)),
            out("model", model()),
        ],
    );
    let value = tricky();
    let env = env_for(
        &c,
        &[
            ("message".into(), InputBinding::Value(Value::String(value.clone()))),
            ("count".into(), InputBinding::Value(Value::Int(10))),
            ("items".into(), InputBinding::Value(Value::List(vec![Value::String("a'b".into()), Value::Int(2)]))),
            ("data".into(), InputBinding::Artifact { path: dir.path("data.csv"), uri: String::new() }),
        ],
        &[
            ("echo".into(), OutputBinding::Parameter { path: dir.path("params/echo") }),
            ("lines".into(), OutputBinding::Parameter { path: dir.path("params/lines") }),
            ("items_out".into(), OutputBinding::Parameter { path: dir.path("params/items_out") }),
            ("model".into(), OutputBinding::Artifact { path: dir.path("out/model/data"), uri: String::new() }),
        ],
    );
    let program = sh_launcher(&c);
    assert!(!program.contains("rm -rf"), "a value leaked into the program");
    let result = run(&c, &env, &dir.0);
    assert_eq!(result.status, 0, "stdout: {}\nstderr: {}", result.stdout, result.stderr);
    let read = |rel: &str| std::fs::read_to_string(dir.path(rel)).expect(rel);
    assert_eq!(read("params/echo"), value);
    assert_eq!(read("params/lines"), "13\n");
    assert_eq!(read("params/items_out"), r#"["a'b",2]"#);
    assert_eq!(read("out/model/data"), "model");
    assert_eq!(read("out/model/data.metadata.json"), "{}");
}

#[test]
fn sh_fails_on_unset_variables_and_unwritten_outputs() {
    let dir = TempDir::new("sh-fail");
    let c = component(ScriptLang::Sh, "echo \"$undefined_variable\"\n", vec![], vec![]);
    let result = run(&c, &[], &dir.0);
    assert_ne!(result.status, 0, "nounset");

    let c = component(ScriptLang::Sh, "false\necho after\n", vec![], vec![]);
    let result = run(&c, &[], &dir.0);
    assert_ne!(result.status, 0, "errexit");
    assert!(!result.stdout.contains("after"));

    let c = component(ScriptLang::Sh, "true\n", vec![], vec![out("rows", IoType::Parameter(ParamType::Int))]);
    let env = env_for(&c, &[], &[("rows".into(), OutputBinding::Parameter { path: dir.path("rows") })]);
    let result = run(&c, &env, &dir.0);
    assert_ne!(result.status, 0);
    assert!(result.stderr.contains("never wrote the output parameter `rows`"), "{}", result.stderr);

    let c = component(
        ScriptLang::Sh,
        "echo many > \"$rows\"\n",
        vec![],
        vec![out("rows", IoType::Parameter(ParamType::Int))],
    );
    let result = run(&c, &env, &dir.0);
    assert_ne!(result.status, 0);
    assert!(result.stderr.contains("should be an Int"), "{}", result.stderr);

    let c = component(ScriptLang::Sh, "echo \"$table\"\n", vec![param("table", ParamType::String)], vec![]);
    let result = run(&c, &[], &dir.0);
    assert_ne!(result.status, 0);
    assert!(result.stderr.contains("KFL_INPUT_table is not set"), "{}", result.stderr);
}

#[test]
fn scripts_with_quotes_braces_and_unicode_survive_the_launcher() {
    let dir = TempDir::new("source");
    let python = "s = f\"{{x}} {'it' + chr(39) + 's'} ünï\"\nassert s == \"{x} it's ünï\", s\nout = s\n";
    let c = component(ScriptLang::Python, python, vec![], vec![out("out", IoType::Parameter(ParamType::String))]);
    let launcher = python_launcher(&c);
    assert!(!launcher.contains("{{"), "python launcher contains a double brace");
    let env = env_for(&c, &[], &[("out".into(), OutputBinding::Parameter { path: dir.path("out") })]);
    let result = run(&c, &env, &dir.0);
    assert_eq!(result.status, 0, "{}", result.stderr);
    assert_eq!(std::fs::read_to_string(dir.path("out")).expect("read"), "{x} it's ünï");

    let sh = "x='{{a}}'; y=\"it's\"; printf '%s %s ünï' \"$x\" \"$y\" > \"$out\"\n";
    let c = component(ScriptLang::Sh, sh, vec![], vec![out("out", IoType::Parameter(ParamType::String))]);
    let launcher = sh_launcher(&c);
    assert!(!launcher.contains("{{"), "sh launcher contains a double brace");
    let result = run(&c, &env, &dir.0);
    assert_eq!(result.status, 0, "{}", result.stderr);
    assert_eq!(std::fs::read_to_string(dir.path("out")).expect("read"), "{{a}} it's ünï");
}

#[test]
fn no_launcher_for_a_container_component() {
    let c = Component {
        body: Body::Container { command: Vec::new(), args: Vec::new() },
        ..component(ScriptLang::Sh, "", vec![], vec![])
    };
    assert!(script_command(&c).is_none());
    assert!(launcher(&c).is_none());
}

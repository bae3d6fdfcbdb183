//! Executors: what one pod of a component runs (`deploymentSpec.executors`), and the Kubernetes
//! settings kfp-kubernetes keeps beside it (`platforms.kubernetes.deploymentSpec.executors`).
//!
//! Three kinds of body:
//! - a container component: its `command` and `args` with KFP placeholders;
//! - an `sh` script: `sh -c SCRIPT NAME VALUE…`, where a prelude binds each input and output to an
//!   environment variable from a positional parameter (`"$1"`, `"$2"`, …). Values reach the script
//!   only as arguments: nothing the user or the run passes is pasted into shell text;
//! - a `python` script: a kfp *lightweight Python component*, laid out exactly like the kfp SDK
//!   lays out `@dsl.component` (a pip bootstrap, then `python3 -m kfp.dsl.executor_main` on an
//!   ephemeral module), so that kfp's executor, kfp's local runner and the KFP backend run it. The
//!   module defines a typed function whose parameters are the component's inputs and outputs; it
//!   runs the script, kept verbatim, as a program whose global variables are those parameters, and
//!   returns the output parameters.

use kfl_dag::{Body, CommandPart, Component, EnvValue, IoType, ScriptLang, Settings};
use serde_json::{json, Map, Value as Json};

use crate::types::{python_annotation, python_param_type};
use crate::KfpOptions;

/// The `ExecutorSpec` of a component run with `settings`.
pub(crate) fn executor_spec(component: &Component, settings: &Settings, options: &KfpOptions) -> Json {
    let (command, args) = match &component.body {
        Body::Container { command, args } => {
            (command.iter().map(placeholder).collect(), args.iter().map(placeholder).collect())
        }
        Body::Script { lang: ScriptLang::Sh, source } => sh_script(component, source),
        Body::Script { lang: ScriptLang::Python, source } => python_script(component, source, options),
    };
    let mut container = Map::new();
    container.insert("image".into(), json!(component.image));
    if !command.is_empty() {
        container.insert("command".into(), json!(command));
    }
    if !args.is_empty() {
        container.insert("args".into(), json!(args));
    }
    let env: Vec<Json> = settings
        .env
        .iter()
        .filter_map(|(name, value)| match value {
            EnvValue::Literal(value) => Some(json!({ "name": name, "value": value })),
            EnvValue::Secret { .. } => None,
        })
        .collect();
    if !env.is_empty() {
        container.insert("env".into(), Json::Array(env));
    }
    let resources = resources(settings, options);
    if !resources.is_empty() {
        container.insert("resources".into(), Json::Object(resources));
    }
    crate::object([("container", Json::Object(container))])
}

/// `PipelineContainerSpec.ResourceSpec`, with the string fields the proto recommends (the numeric
/// `cpuLimit`/`memoryLimit` and the accelerator's `type`/`count` are deprecated).
fn resources(settings: &Settings, options: &KfpOptions) -> Map<String, Json> {
    let mut resources = Map::new();
    if let Some(cpu) = settings.cpu {
        resources.insert("resourceCpuRequest".into(), json!(cpu.to_k8s()));
    }
    if let Some(cpu) = settings.cpu_limit {
        resources.insert("resourceCpuLimit".into(), json!(cpu.to_k8s()));
    }
    if let Some(memory) = settings.memory {
        resources.insert("resourceMemoryRequest".into(), json!(memory.to_k8s()));
    }
    if let Some(memory) = settings.memory_limit {
        resources.insert("resourceMemoryLimit".into(), json!(memory.to_k8s()));
    }
    if let Some(gpu) = settings.gpu.filter(|g| *g > 0) {
        resources.insert(
            "accelerator".into(),
            json!({ "resourceType": options.gpu_resource, "resourceCount": gpu.to_string() }),
        );
    }
    resources
}

/// The `KubernetesExecutorConfig` of a task with `settings` (kubernetes_executor_config.proto), or
/// `None` if it needs nothing beyond the container spec.
pub(crate) fn kubernetes_config(settings: &Settings, options: &KfpOptions) -> Option<Json> {
    let mut config = Map::new();
    // One `secretAsEnv` entry per secret, in the order the secrets are first named.
    let mut secrets: Vec<(String, Vec<Json>)> = Vec::new();
    for (env_var, value) in &settings.env {
        let EnvValue::Secret { name, key } = value else { continue };
        let entry = json!({ "secretKey": key, "envVar": env_var });
        match secrets.iter_mut().find(|(n, _)| n == name) {
            Some((_, keys)) => keys.push(entry),
            None => secrets.push((name.clone(), vec![entry])),
        }
    }
    if !secrets.is_empty() {
        let secrets: Vec<Json> = secrets
            .into_iter()
            .map(|(name, keys)| {
                // kfp-kubernetes writes both the deprecated `secretName` (read by older backends) and
                // `secretNameParameter` (read by newer ones).
                json!({
                    "secretName": name,
                    "secretNameParameter": { "runtimeValue": { "constant": name } },
                    "keyToEnv": keys,
                    "optional": false,
                })
            })
            .collect();
        config.insert("secretAsEnv".into(), Json::Array(secrets));
    }
    let mut node_selector: Map<String, Json> =
        settings.node_selector.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    if let (Some(accelerator), Some(label)) = (&settings.accelerator, &options.accelerator_node_label) {
        node_selector.entry(label.clone()).or_insert_with(|| json!(accelerator));
    }
    if !node_selector.is_empty() {
        config.insert("nodeSelector".into(), json!({ "labels": node_selector }));
    }
    if !settings.tolerations.is_empty() {
        let tolerations: Vec<Json> = settings
            .tolerations
            .iter()
            .map(|t| {
                let mut toleration = Map::new();
                for (field, value) in
                    [("key", &t.key), ("operator", &t.operator), ("value", &t.value), ("effect", &t.effect)]
                {
                    if let Some(value) = value {
                        toleration.insert(field.into(), json!(value));
                    }
                }
                if let Some(seconds) = t.toleration_seconds {
                    toleration.insert("tolerationSeconds".into(), json!(seconds));
                }
                Json::Object(toleration)
            })
            .collect();
        config.insert("tolerations".into(), Json::Array(tolerations));
    }
    let mut metadata = Map::new();
    if !settings.labels.is_empty() {
        metadata.insert("labels".into(), json!(settings.labels));
    }
    if !settings.annotations.is_empty() {
        metadata.insert("annotations".into(), json!(settings.annotations));
    }
    if !metadata.is_empty() {
        config.insert("podMetadata".into(), Json::Object(metadata));
    }
    if let Some(timeout) = settings.timeout {
        // A pod's deadline: one attempt; a retry gets a new pod and a new deadline.
        config.insert("activeDeadlineSeconds".into(), json!(timeout.seconds()));
    }
    (!config.is_empty()).then_some(Json::Object(config))
}

fn placeholder(part: &CommandPart) -> String {
    match part {
        CommandPart::Literal(text) => text.clone(),
        CommandPart::InputValue(name) => format!("{{{{$.inputs.parameters['{name}']}}}}"),
        CommandPart::InputPath(name) => format!("{{{{$.inputs.artifacts['{name}'].path}}}}"),
        CommandPart::InputUri(name) => format!("{{{{$.inputs.artifacts['{name}'].uri}}}}"),
        CommandPart::OutputPath(name) => format!("{{{{$.outputs.artifacts['{name}'].path}}}}"),
        CommandPart::OutputUri(name) => format!("{{{{$.outputs.artifacts['{name}'].uri}}}}"),
        CommandPart::OutputParameterPath(name) => format!("{{{{$.outputs.parameters['{name}'].output_file}}}}"),
    }
}

/// `sh -c SCRIPT NAME VALUE…`: the prelude exports each input and output as a variable of its name,
/// read from its positional parameter, and makes the directories outputs are written into.
fn sh_script(component: &Component, source: &str) -> (Vec<String>, Vec<String>) {
    let mut prelude = String::from("# kfl: inputs and outputs arrive as positional parameters\n");
    let mut args = vec![component.name.clone()];
    let mut make_dirs = String::new();
    let mut bind = |name: &str, value: String, prelude: &mut String| {
        args.push(value);
        prelude.push_str(&format!("export {name}=\"${{{}}}\"\n", args.len() - 1));
    };
    for input in &component.inputs {
        let value = match &input.ty {
            IoType::Parameter(_) => placeholder(&CommandPart::InputValue(input.name.clone())),
            IoType::Artifact { .. } => placeholder(&CommandPart::InputPath(input.name.clone())),
            // KFP has no placeholder for the paths of a list of artifacts.
            IoType::ArtifactList { .. } => String::new(),
        };
        bind(&input.name, value, &mut prelude);
    }
    for output in &component.outputs {
        let value = match &output.ty {
            IoType::Parameter(_) => placeholder(&CommandPart::OutputParameterPath(output.name.clone())),
            IoType::Artifact { .. } | IoType::ArtifactList { .. } => {
                placeholder(&CommandPart::OutputPath(output.name.clone()))
            }
        };
        bind(&output.name, value, &mut prelude);
        make_dirs.push_str(&format!("mkdir -p \"$(dirname \"${}\")\"\n", output.name));
    }
    let script = format!("{prelude}{make_dirs}\n{source}");
    (vec!["sh".into(), "-c".into(), script], args)
}

/// The executor of `kfl-passthrough`, the task that makes a pipeline parameter or a constant an
/// output of a DAG (a `DagOutputsSpec` can only select a task's output): it writes its input
/// parameter `value` to its output parameter `value`. The value arrives as a positional parameter,
/// never in the shell text.
pub(crate) fn passthrough_executor() -> Json {
    let script = "mkdir -p \"$(dirname \"$2\")\" && printf '%s' \"$1\" > \"$2\"";
    let args = [
        "kfl-passthrough".to_string(),
        placeholder(&CommandPart::InputValue(PASSTHROUGH_VALUE.into())),
        placeholder(&CommandPart::OutputParameterPath(PASSTHROUGH_VALUE.into())),
    ];
    let container = json!({
        "image": kfl_dag::DEFAULT_SH_IMAGE,
        "command": ["sh", "-c", script],
        "args": args,
    });
    crate::object([("container", container)])
}

/// The name of the input and of the output of `kfl-passthrough`.
pub(crate) const PASSTHROUGH_VALUE: &str = "value";

/// Quotes a word for a POSIX shell.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// kfp's `python3 -m kfp.dsl.executor_main` launcher, as `kfp.dsl.component_factory` writes it.
const PROGRAM: &str = "program_path=$(mktemp -d)\n\nprintf \"%s\" \"$0\" > \"$program_path/ephemeral_component.py\"\n_KFP_RUNTIME=true python3 -m kfp.dsl.executor_main                         --component_module_path                         \"$program_path/ephemeral_component.py\"                         \"$@\"\n";

fn pip_bootstrap(component: &Component, options: &KfpOptions) -> Option<String> {
    const INSTALL: &str = "python3 -m pip install --quiet --no-warn-script-location";
    let mut steps = Vec::new();
    if !component.packages.is_empty() {
        let packages: Vec<String> = component.packages.iter().map(|p| shell_quote(p)).collect();
        steps.push(format!("{INSTALL} {}", packages.join(" ")));
    }
    if let Some(kfp) = options.kfp_runtime.as_ref().filter(|_| !options.kfp_in_image.contains(&component.name)) {
        steps.push(format!(
            "{INSTALL} {} '--no-deps' 'typing-extensions>=3.7.4,<5; python_version<\"3.9\"'",
            shell_quote(kfp)
        ));
    }
    if steps.is_empty() {
        return None;
    }
    Some(format!(
        "\nif ! [ -x \"$(command -v pip)\" ]; then\n    python3 -m ensurepip || python3 -m ensurepip --user || apt-get install python3-pip\nfi\n\nPIP_DISABLE_PIP_VERSION_CHECK=1 {} && \"$0\" \"$@\"\n",
        steps.join("  &&  ")
    ))
}

fn python_script(component: &Component, source: &str, options: &KfpOptions) -> (Vec<String>, Vec<String>) {
    let function = python_function_name(&component.name);
    let mut command = Vec::new();
    if let Some(bootstrap) = pip_bootstrap(component, options) {
        command.extend(["sh".to_string(), "-c".to_string(), bootstrap]);
    }
    command.extend(["sh".to_string(), "-ec".to_string(), PROGRAM.to_string(), python_module(component, source)]);
    let args = vec!["--executor_input".into(), "{{$}}".into(), "--function_to_execute".into(), function];
    (command, args)
}

/// Python keywords, which cannot name a function.
const PYTHON_KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

pub(crate) fn python_function_name(component: &str) -> String {
    if PYTHON_KEYWORDS.contains(&component) {
        format!("{component}_")
    } else {
        component.to_string()
    }
}

/// A Python string literal holding `text` exactly: a raw triple-quoted string when that is
/// unambiguous (so the script stays readable in the YAML), otherwise a JSON string, which Python
/// reads the same way.
fn python_string(text: &str) -> String {
    let raw_ok = !text.contains("'''")
        && !text.ends_with('\\')
        && !text.ends_with('\'')
        && !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
    if raw_ok {
        format!("r'''{text}'''")
    } else {
        serde_json::Value::String(text.to_string()).to_string()
    }
}

/// The module around a script; `{…}` are filled in by [`python_module`].
const MODULE: &str = r#"import kfp
from kfp import dsl
from kfp.dsl import *
from typing import *


def _kfl_run(script, filename, variables, outputs):
    """Runs a KFL script as a program whose global variables are `variables`, and returns the
    values it gave the output parameters `outputs` (pairs of a name and a type)."""
    import linecache
    linecache.cache[filename] = (len(script), None, script.splitlines(True), filename)
    namespace = dict(variables, __name__='__main__')
    exec(compile(script, filename, 'exec'), namespace)
    missing = [name for name, _ in outputs if name not in namespace]
    if missing:
        raise RuntimeError('the script did not set the output parameter(s) ' + ', '.join(missing))
    values = []
    for name, kind in outputs:
        value = namespace[name]
        # KFP passes numbers as doubles, so arithmetic on inputs can make an integral float.
        if kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        values.append(value)
    return tuple(values) if outputs else None


# The script of the KFL component `{name}` ({file}), verbatim.
_KFL_SCRIPT = {script}


{doc}def {function}(
{params}){returns}:
    return _kfl_run(_KFL_SCRIPT, '<kfl component {name}>', locals(), ({outputs}))
"#;

/// The ephemeral module kfp's executor imports: a typed function per the component's interface that
/// runs the script.
pub(crate) fn python_module(component: &Component, source: &str) -> String {
    let function = python_function_name(&component.name);
    let mut params = Vec::new();
    for input in &component.inputs {
        params.push(format!("    {}: {},\n", input.name, python_annotation(&input.ty, false)));
    }
    let mut output_params = Vec::new();
    for output in &component.outputs {
        match &output.ty {
            IoType::Parameter(p) => output_params.push((output.name.as_str(), python_param_type(*p))),
            ty => params.push(format!("    {}: {},\n", output.name, python_annotation(ty, true))),
        }
    }
    let returns = if output_params.is_empty() {
        String::new()
    } else {
        let fields: Vec<String> = output_params.iter().map(|(n, t)| format!("('{n}', {t})")).collect();
        format!(" -> NamedTuple('Outputs', [{}])", fields.join(", "))
    };
    let names: Vec<String> = output_params.iter().map(|(n, t)| format!("('{n}', {t}), ")).collect();
    let doc: String = component
        .doc
        .iter()
        .flat_map(|d| d.lines())
        // Python ends a comment at `\r` too: an escaped line cannot turn into code.
        .map(|line| format!("# {}", kfl_diagnostics::escape_control(line)).trim_end().to_string() + "\n")
        .collect();
    fill(
        MODULE,
        &[
            ("name", component.name.clone()),
            ("file", kfl_diagnostics::escape_control(&component.source).into_owned()),
            ("script", python_string(source)),
            ("doc", doc),
            ("function", function),
            ("params", params.concat()),
            ("returns", returns),
            ("outputs", names.concat()),
        ],
    )
}

/// `template` with each `{key}` replaced by its value, in one pass: inserted text is never scanned.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let value = after.find('}').and_then(|end| {
            values.iter().find(|(key, _)| *key == &after[..end]).map(|(key, value)| (key.len(), value))
        });
        match value {
            Some((len, value)) => {
                out.push_str(value);
                rest = &after[len + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_that_a_raw_string_cannot_hold_become_json_strings() {
        assert_eq!(python_string("print('hi')\n"), "r'''print('hi')\n'''");
        assert_eq!(python_string("x = '''a'''"), "\"x = '''a'''\"");
        assert_eq!(python_string("x = 'a'"), "\"x = 'a'\"");
        assert_eq!(python_string("a \\"), "\"a \\\\\"");
    }

    #[test]
    fn templates_are_filled_in_one_pass() {
        let values = [("a", "{b}".to_string()), ("b", "x".to_string())];
        assert_eq!(fill("{a}-{b}-{c}-{", &values), "{b}-x-{c}-{");
    }

    #[test]
    fn shell_words_are_quoted() {
        assert_eq!(shell_quote("pandas==2.2.3"), "'pandas==2.2.3'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}

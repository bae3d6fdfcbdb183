//! KFL's Kubeflow Pipelines backend: a lowered [`kfl_dag::Dag`] as a KFP v2 `PipelineSpec`
//! (`api/v2alpha1/pipeline_spec.proto`, schema 2.1.0) and, for what only Kubernetes knows (secrets
//! as environment variables, node selectors, tolerations, pod labels and annotations, timeouts), the
//! `PlatformSpec` that kfp-kubernetes writes as a second YAML document
//! (`kubernetes_platform/proto/kubernetes_executor_config.proto`).
//!
//! Invariants:
//! - Pure: no IO. The output depends only on the [`kfl_dag::Dag`] and the [`KfpOptions`], and every
//!   JSON object is emitted with sorted keys, so the YAML is reproducible byte for byte.
//! - One component (`comp-…`) and one executor (`exec-…`) per distinct pair of a KFL component and
//!   the executor settings its tasks run with (resources, environment, Kubernetes settings) — never
//!   one per task, as kfp's compiler does: a hundred tasks of one component share one definition.
//! - Every condition branch, loop, called pipeline and exit-handler body is a sub-DAG component
//!   (`comp-condition-1`, `comp-for-loop-2`, …), and every value a DAG reads from outside is one of
//!   its declared inputs, every value read from inside one of its declared outputs
//!   (`pipelinechannel--…`), so each task reads only its own DAG and `dependentTasks` names only
//!   tasks of the same DAG.
//! - Every parameter output of the pipeline is an output of the root DAG. A `DagOutputsSpec` can
//!   only select a task's output, so an output that is a parameter or a constant is copied by a
//!   synthesized `kfl-passthrough` task (`comp-kfl-passthrough-<type>`, one shell executor
//!   `exec-kfl-passthrough` in the default `sh` image); so is a loop item that leaves its loop (a
//!   called pipeline's output passing on the item it was given). kfp's local `SubprocessRunner`
//!   runs only Python components, so it cannot run such a pipeline.
//! - Nothing the user or a run supplies is pasted into shell or Python source: `sh` scripts receive
//!   values as positional parameters, Python scripts are embedded verbatim as one string literal
//!   and get values from kfp's executor.
//! - Python scripts run as kfp *lightweight Python components* (`kfp.dsl.executor_main`), so the
//!   KFP backend and `kfp.local.SubprocessRunner` run them, and artifacts in a script are kfp's
//!   artifact objects (`.path`, `.uri`, `.metadata`).
//!
//! Not supported (refused by [`check`], which callers run before [`pipeline_spec`]): collecting an
//! artifact out of a loop nested in another loop (a list of lists of artifacts).
//!
//! [`KfpBackend`] is this crate as the [`kfl_dag::backend::Backend`] named `kfp`: it checks, then
//! writes [`to_yaml`]. It marks `accelerator` not applicable when its options name no node label
//! for accelerators. It checks no size: the limits are the KFP API server's, which are not known
//! here (a run becomes an Argo Workflow on the cluster, one Kubernetes object, so a very large
//! pipeline may still be refused when it runs).

mod compile;
mod executor;
mod spec;
mod types;

use kfl_dag::backend::{Backend, BackendError, Document, Effect, FieldSpec};
use kfl_dag::Dag;
use kfl_diagnostics::escape_control;
use serde_json::{json, Map, Value as Json};

/// The Kubeflow Pipelines target (`kfp`): a PipelineSpec in YAML, with its PlatformSpec as a second
/// document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KfpBackend {
    pub options: KfpOptions,
}

impl Backend for KfpBackend {
    fn name(&self) -> &'static str {
        "kfp"
    }

    fn check(&self, dag: &Dag) -> Result<(), BackendError> {
        refusal(dag).map_err(|(error, about)| BackendError::new(error.to_string()).about(about))
    }

    fn emit(&self, dag: &Dag) -> Result<Document, BackendError> {
        self.check(dag)?;
        Ok(Document { text: to_yaml(dag, &self.options), kind: "PipelineSpec", extension: "yaml" })
    }

    fn not_applicable(&self, field: &FieldSpec) -> Option<&'static str> {
        match field.effect {
            Effect::Accelerator if self.options.accelerator_node_label.is_none() => {
                Some("this Kubeflow Pipelines target has no node label for accelerators, so none is selected")
            }
            // The PipelineSpec's ResourceSpec has fields for CPU, memory and accelerators only.
            Effect::Resource { resource, .. } if resource != "cpu" && resource != "memory" => {
                Some("the PipelineSpec's ResourceSpec has no field for this resource")
            }
            _ => None,
        }
    }
}

/// Choices the language leaves to the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KfpOptions {
    /// `sdkVersion` of the PipelineSpec.
    pub sdk_version: String,
    /// The pip requirement that puts kfp's executor into a Python script's container, installed
    /// with `--no-deps` at start as the kfp SDK does; `None` if the images already have kfp.
    pub kfp_runtime: Option<String>,
    /// Components (by name) whose image already has `kfp_runtime` installed (an environment image
    /// `kflc images build` made): their executor installs nothing when it starts.
    pub kfp_in_image: std::collections::BTreeSet<String>,
    /// The Kubernetes resource a `gpu` request asks for.
    pub gpu_resource: String,
    /// The node label an `accelerator` selects nodes by (GKE's by default); `None` ignores
    /// `accelerator`.
    pub accelerator_node_label: Option<String>,
}

impl Default for KfpOptions {
    fn default() -> KfpOptions {
        KfpOptions {
            sdk_version: format!("kfl-{}", env!("CARGO_PKG_VERSION")),
            kfp_runtime: Some("kfp==2.17.3".to_string()),
            kfp_in_image: std::collections::BTreeSet::new(),
            gpu_resource: "nvidia.com/gpu".to_string(),
            accelerator_node_label: Some("cloud.google.com/gke-accelerator".to_string()),
        }
    }
}

/// Why a pipeline cannot be written as a PipelineSpec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KfpError {
    /// Something KFL cannot express for KFP yet; the message says what and where.
    Unsupported(String),
}

impl std::fmt::Display for KfpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KfpError::Unsupported(message) => write!(f, "not supported on Kubeflow Pipelines: {message}"),
        }
    }
}

impl std::error::Error for KfpError {}

/// Refuses what [`pipeline_spec`] would write but KFP would not run as the types say: an artifact
/// collected out of a loop nested in another loop (a list of lists of artifacts, which KFL's
/// component inputs cannot declare as artifacts). Lists of lists of parameters are fine: each
/// loop's sub-DAG collects its body's list, as kfp's own compiler does.
pub fn check(dag: &Dag) -> Result<(), KfpError> {
    refusal(dag).map_err(|(error, _)| error)
}

/// [`check`]'s refusal, with the output it is about (`task.output`).
fn refusal(dag: &Dag) -> Result<(), (KfpError, String)> {
    let reads = dag
        .graph
        .node_weights()
        .flat_map(|task| task.args.iter().map(move |(_, source)| (task.group, source)))
        .chain(dag.outputs.iter().map(|output| (None, &output.source)));
    for (reader_group, source) in reads {
        let kfl_dag::Source::Collected { task, output, group } = source else { continue };
        let is_artifact = dag.component_of(*task).outputs.iter().any(|o| o.name == *output && o.ty.is_artifact());
        if !is_artifact {
            continue;
        }
        let reader = dag.group_chain(reader_group);
        let producer = dag.group_chain(dag.task(*task).group);
        let left = producer
            .iter()
            .skip_while(|g| *g != group)
            .filter(|g| !reader.contains(g) && matches!(dag.groups[**g].kind, kfl_dag::GroupKind::Loop { .. }))
            .count();
        if left > 1 {
            let about = format!("{}.{output}", dag.task(*task).name);
            let error = KfpError::Unsupported(format!(
                "collecting the artifact `{about}` out of a loop nested in another loop (a list of lists of \
                 artifacts); collect it inside the outer loop"
            ));
            return Err((error, about));
        }
    }
    Ok(())
}

/// The PipelineSpec of `dag`, and its PlatformSpec if any task needs Kubernetes settings.
pub fn pipeline_spec(dag: &Dag, options: &KfpOptions) -> (Json, Option<Json>) {
    let compiled = compile::Compiler::new(dag, options).compile();
    let components = compiled.components.iter().map(|(name, spec)| (name.clone(), spec.to_json())).collect();
    let spec = object([
        ("pipelineInfo", Json::Object(pipeline_info(dag))),
        ("schemaVersion", json!(SCHEMA_VERSION)),
        ("sdkVersion", json!(options.sdk_version)),
        ("root", compiled.root.to_json()),
        ("components", Json::Object(components)),
        ("deploymentSpec", object([("executors", Json::Object(compiled.executors))])),
    ]);
    (sorted(spec), platform_spec(compiled.kubernetes).map(sorted))
}

const SCHEMA_VERSION: &str = "2.1.0";

fn pipeline_info(dag: &Dag) -> Map<String, Json> {
    let mut info = Map::new();
    info.insert("name".into(), json!(pipeline_name(dag)));
    if let Some(display_name) = &dag.display_name {
        info.insert("displayName".into(), json!(display_name));
    }
    if let Some(description) = &dag.description {
        info.insert("description".into(), json!(description));
    }
    info
}

/// The PlatformSpec of the executors' Kubernetes settings, if any has some.
fn platform_spec(kubernetes: Map<String, Json>) -> Option<Json> {
    (!kubernetes.is_empty()).then(|| {
        let executors = object([("executors", Json::Object(kubernetes))]);
        object([("platforms", object([("kubernetes", object([("deploymentSpec", executors)]))]))])
    })
}

/// A JSON object of `entries`, moved in (`json!` copies every value it is given, through serde).
pub(crate) fn object<const N: usize>(entries: [(&str, Json); N]) -> Json {
    Json::Object(entries.into_iter().map(|(key, value)| (key.to_string(), value)).collect())
}

fn pipeline_name(dag: &Dag) -> String {
    if dag.k8s_name.is_empty() {
        compile::k8s_like(&dag.name).unwrap_or_else(|| "pipeline".to_string())
    } else {
        dag.k8s_name.clone()
    }
}

/// The pipeline as KFP's YAML: a comment header, the PipelineSpec, and the PlatformSpec as a
/// second document if there is one ([`kfl_yaml`]).
///
/// The same text as writing [`pipeline_spec`]'s documents with [`kfl_yaml::write_document`], but
/// the tasks (what there are many of) are written from typed data, key by key, without building
/// JSON documents first (a third of the time of `kflc build` of a 1,000-task pipeline went into
/// building, writing and freeing them).
pub fn to_yaml(dag: &Dag, options: &KfpOptions) -> String {
    use kfl_yaml::{open_map, write_key, write_map_value, write_plain_key, write_str_value};
    if !maps_sort_themselves() {
        // The JSON parts would be written in the order their keys were inserted.
        return to_yaml_from_json(dag, options);
    }
    let compiled = compile::Compiler::new(dag, options).compile();
    let mut out = header(dag);
    // Roughly the size of the text: a few hundred bytes a task.
    out.reserve(600 * dag.graph.node_count() + 4096);
    // The PipelineSpec's keys in sorted order.
    write_plain_key(&mut out, "components", 0);
    if compiled.components.is_empty() {
        out.push_str(" {}\n");
    } else {
        open_map(&mut out);
        for (name, spec) in &compiled.components {
            write_key(&mut out, name, 2);
            spec.write(&mut out, 2);
        }
    }
    write_plain_key(&mut out, "deploymentSpec", 0);
    open_map(&mut out);
    write_plain_key(&mut out, "executors", 2);
    write_map_value(&mut out, &compiled.executors, 2);
    write_plain_key(&mut out, "pipelineInfo", 0);
    write_map_value(&mut out, &pipeline_info(dag), 0);
    write_plain_key(&mut out, "root", 0);
    compiled.root.write(&mut out, 0);
    write_plain_key(&mut out, "schemaVersion", 0);
    write_str_value(&mut out, SCHEMA_VERSION, 0);
    write_plain_key(&mut out, "sdkVersion", 0);
    write_str_value(&mut out, &options.sdk_version, 0);
    if let Some(platform) = platform_spec(compiled.kubernetes) {
        out.push_str("---\n");
        kfl_yaml::write_document(&mut out, &sorted(platform));
    }
    out
}

/// [`to_yaml`] by writing [`pipeline_spec`]'s documents: the reference the fast path is tested
/// against.
#[doc(hidden)]
pub fn to_yaml_from_json(dag: &Dag, options: &KfpOptions) -> String {
    let (spec, platform) = pipeline_spec(dag, options);
    let mut out = header(dag);
    kfl_yaml::write_document(&mut out, &spec);
    if let Some(platform) = &platform {
        out.push_str("---\n");
        kfl_yaml::write_document(&mut out, platform);
    }
    out
}

/// A comment like kfp's `# PIPELINE DEFINITION` header: what the pipeline takes and gives.
fn header(dag: &Dag) -> String {
    let mut out = String::from("# PIPELINE DEFINITION\n");
    out.push_str(&format!("# Name: {}\n", escape_control(&pipeline_name(dag))));
    if let Some(description) = &dag.description {
        out.push_str(&comment("Description: ", description));
    }
    out.push_str(&format!(
        "# Source: {} (pipeline `{}`), compiled by KFL\n",
        escape_control(&dag.source),
        escape_control(&dag.name)
    ));
    if !dag.params.is_empty() {
        out.push_str("# Inputs:\n");
        for p in &dag.params {
            let default = p.default.as_ref().map(|d| format!(" [Default: {}]", d.to_json())).unwrap_or_default();
            out.push_str(&comment(&format!("   {}: {}", escape_control(&p.name), type_name(&p.ty)), &default));
        }
    }
    if !dag.outputs.is_empty() {
        out.push_str("# Outputs:\n");
        for o in &dag.outputs {
            out.push_str(&format!("#    {}: {}\n", escape_control(&o.name), type_name(&o.ty)));
        }
    }
    out
}

/// Comment lines: one per line of `text` (split at `\n` and `\r\n` only), every other control
/// character and every character a YAML reader may take as a line break (a lone `\r`, U+0085,
/// U+2028, U+2029) escaped, so no text can end the comment.
fn comment(prefix: &str, text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let line = escape_control(line);
        let line = if i == 0 { format!("# {prefix}{line}") } else { format!("#   {line}") };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if out.is_empty() {
        out = format!("# {}\n", prefix.trim_end());
    }
    out
}

fn type_name(ty: &kfl_dag::IoType) -> String {
    use kfl_dag::{IoType, ParamType};
    match ty {
        IoType::Parameter(p) => match p {
            ParamType::String => "String",
            ParamType::Int => "Int",
            ParamType::Float => "Float",
            ParamType::Bool => "Bool",
            ParamType::List => "List",
            ParamType::Map => "Map",
        }
        .to_string(),
        IoType::Artifact { name, .. } => name.clone(),
        IoType::ArtifactList { name, .. } => format!("List<{name}>"),
    }
}

/// The same value with every object's keys in sorted order, whatever map serde_json was built with.
fn sorted(mut value: Json) -> Json {
    if !maps_sort_themselves() {
        sort_keys(&mut value);
    }
    value
}

/// Whether serde_json's map keeps its keys sorted (its default `BTreeMap`), rather than in the order
/// they were inserted (with its `preserve_order` feature, which any crate of a build may turn on).
fn maps_sort_themselves() -> bool {
    let probe: Map<String, Json> = [("b".to_string(), Json::Null), ("a".to_string(), Json::Null)].into_iter().collect();
    probe.keys().next().is_some_and(|first| first == "a")
}

/// Sorts every object's keys in place; an object whose keys are already in order (always, with
/// serde_json's default `BTreeMap`) is not rebuilt.
fn sort_keys(value: &mut Json) {
    match value {
        Json::Object(map) => {
            let in_order = map.keys().zip(map.keys().skip(1)).all(|(a, b)| a <= b);
            if !in_order {
                let mut entries: Vec<(String, Json)> = std::mem::take(map).into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                *map = entries.into_iter().collect();
            }
            map.values_mut().for_each(sort_keys);
        }
        Json::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

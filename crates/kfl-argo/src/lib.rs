//! KFL's Argo Workflows backend: a lowered pipeline ([`kfl_dag::Dag`]) as an `argoproj.io/v1alpha1`
//! `Workflow`, as JSON ([`workflow`]) or YAML ([`to_yaml`]), and as the [`kfl_dag::backend::Backend`]
//! named `argo` ([`ArgoBackend`]).
//!
//! # What the Workflow looks like
//!
//! - **Templates.** One container template per component and effective settings: tasks of a
//!   component share its template; a task whose overrides change the settings gets a variant
//!   (`train-model-2`). Container components run the image with `command`/`args`, placeholders
//!   becoming `{{inputs.parameters.x}}` and fixed paths. Script components run
//!   `python3 -c <launcher>` or `sh -c <launcher>` ([`kfl_launcher`]): every value reaches the
//!   launcher through an environment variable (`KFL_INPUT_x: "{{inputs.parameters.x}}"`), which is
//!   data to the process, never code.
//! - **The DAG.** The entrypoint is a DAG template named after the pipeline. Tasks order with
//!   `depends` only (never `dependencies`). Conditions are flattened: a task in an `if` branch
//!   carries `when: "{{=…}}"`, an `expr` expression over variables, so no value is ever pasted into
//!   an expression. Pipelines called as tasks are inlined (their tasks are `caller-inner`).
//! - **Loops.** `for` becomes a DAG template (`for-loop-1`, with `parallelism: N`) holding one task
//!   that expands over the items (`withItems` for a literal list, `withParam` otherwise) into the
//!   loop-body DAG template (`for-loop-1-body`). Items are `[index, value]` pairs in JSON, so each
//!   iteration knows its index. Values from outside the loop are passed in as inputs.
//! - **Fan-in.** The body exports every output read after the loop; Argo aggregates an output
//!   parameter of an expanded task into a JSON list in item order. Aggregated `Int`, `Float` and
//!   `Bool` values arrive as strings, so the reading task converts them back with an expression.
//!   Artifacts cannot be aggregated by Argo: each iteration writes its artifact under
//!   `…/<loop>/<task>/<output>/<index>`, and the reading task downloads that key prefix as a
//!   directory, which is the launcher's layout of a list of artifacts (`<dir>/<i>/data`).
//!   From a loop inside a loop, each outer iteration's body exports the list its inner loop
//!   collected; Argo parses those JSON lists when it aggregates them, so a reader outside both
//!   loops gets a list of lists (converted back item by item). A pipeline called as a task inside
//!   a loop is inlined into the loop's body, so its outputs are collected like any task's.
//! - **Exit handler.** A top-level `finally` becomes the DAG template named in `spec.onExit`.
//!   A `finally` of a pipeline called as a task is inlined: its tasks depend on every task of that
//!   pipeline having finished, whatever the outcome, and that DAG does not fail fast.
//! - **Artifacts.** Key-only: the cluster's artifact repository (optionally
//!   `spec.artifactRepositoryRef`) holds them, uncompressed (`archive: none`), under
//!   `<workflow name>/<task>/<output>` (plus the loop path and index). An artifact is a directory
//!   holding `data` and `data.metadata.json`; its URI is `<artifact_uri_prefix>/<key>/data`, and a
//!   task reports it as the output parameter `kfl-uri-<output>`, so a task restored from the cache
//!   still reports where its artifact really is.
//! - **Settings.** Requests and limits (`nvidia.com/gpu`), a node selector for the accelerator,
//!   env (secrets as `secretKeyRef`), node selectors, tolerations, pod labels and annotations,
//!   `retryStrategy`, `activeDeadlineSeconds` (per attempt) and `memoize` (unless `cache = false`).
//!
//! # Limits (documented, checked where possible)
//!
//! - A literal string containing `{{` cannot be passed: Argo has no escape for its template
//!   syntax ([`ArgoError::Unrepresentable`]). Scripts are not affected (the launcher encodes them).
//! - Exit-handler tasks may read pipeline parameters and literals only (Argo's `onExit` cannot see
//!   the DAG's task outputs).
//! - Artifacts of a loop nested in another loop cannot be collected outside both loops (a list of
//!   lists of artifacts); parameters can.
//! - Artifact keys use the `s3` key-only form: the repository must be S3-compatible.
//! - Tasks whose artifacts are collected after a loop are not memoized (their artifacts must be
//!   under this run's key prefix). Memoization keys include the input artifacts' URIs, which
//!   name the run that made them, so a task that reads artifacts hits the cache only when its
//!   producers did too.
//! - If every string an iteration returns looks like a JSON list or object, Argo's aggregation
//!   parses them.
//! - A Workflow is one Kubernetes object: [`ArgoBackend`] refuses one whose JSON is larger than
//!   [`MAX_WORKFLOW_BYTES`] (etcd's default request limit), which the API server would refuse.
//! - Every setting of the field table is written ([`ArgoBackend`] marks none as not applicable).
//!
//! # Invariants
//!
//! - Pure: no IO. The same [`Dag`] and [`ArgoOptions`] always give the same Workflow.
//! - User values never appear inside an expression or a program: only in argument values,
//!   parameter values and environment variables.
//! - Every DAG uses `depends`, never `dependencies`.
//!
//! # Code map
//!
//! - `lib.rs`: the public API ([`workflow`], [`to_yaml`], [`ArgoOptions`], [`ArgoError`], [`ArgoBackend`]).
//! - `emit.rs`: one emit's shared state and the order of its passes; the Workflow's spec and metadata.
//! - `scopes.rs`: which DAG template each task is in, what stands for it there, and names.
//! - `values.rs`: values across scopes — imports into loops, exports out of them (fan-in).
//! - `loops.rs`: a loop's task, wrapper template and body interface.
//! - `tasks.rs`: a pipeline task's DAG task and its arguments.
//! - `order.rs`: `depends` and `when`.
//! - `container.rs`: container templates per component and settings.
//! - `text.rs`: tags, `expr` literals and the refusal of `{{` in literals.

mod container;
mod emit;
mod loops;
mod order;
mod scopes;
mod tasks;
mod text;
mod values;

use kfl_dag::backend::{Backend, BackendError, Document, FieldSpec};
use kfl_dag::Dag;
use serde_json::Value as Json;

use crate::emit::Emitter;

/// How to emit a Workflow.
#[derive(Clone, Debug)]
pub struct ArgoOptions {
    /// `metadata.name`; without it, `metadata.generateName` is `<pipeline>-`.
    pub name: Option<String>,
    pub namespace: Option<String>,
    /// `name=value` values of pipeline parameters, parsed by the parameter's type.
    pub params: Vec<String>,
    pub service_account: Option<String>,
    /// The ConfigMap that memoization uses.
    pub cache_config_map: String,
    /// `memoize.maxAge` (a Go duration); empty means no limit.
    pub cache_max_age: String,
    /// `spec.artifactRepositoryRef`; without it, the namespace's default repository.
    pub artifact_repository: Option<ArtifactRepositoryRef>,
    /// What an artifact key is prefixed with to make its URI, e.g. `s3://my-bucket`.
    pub artifact_uri_prefix: String,
    /// The node label that selects an accelerator.
    pub accelerator_label: String,
}

impl Default for ArgoOptions {
    fn default() -> Self {
        ArgoOptions {
            name: None,
            namespace: None,
            params: Vec::new(),
            service_account: None,
            cache_config_map: "kfl-cache".to_string(),
            cache_max_age: String::new(),
            artifact_repository: None,
            artifact_uri_prefix: "s3://kfl-artifacts".to_string(),
            accelerator_label: "cloud.google.com/gke-accelerator".to_string(),
        }
    }
}

/// `spec.artifactRepositoryRef`: a key of a ConfigMap of artifact repositories.
#[derive(Clone, Debug, Default)]
pub struct ArtifactRepositoryRef {
    pub config_map: Option<String>,
    pub key: Option<String>,
}

/// Why a pipeline cannot be emitted for Argo.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgoError {
    Param(kfl_dag::params::ParamError),
    /// Something Argo cannot express; the message says what and where.
    Unsupported(String),
    /// A literal that Argo would misread, e.g. a string containing `{{`.
    Unrepresentable(String),
}

impl std::fmt::Display for ArgoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgoError::Param(e) => write!(f, "{e}"),
            ArgoError::Unsupported(message) => write!(f, "not supported on Argo Workflows: {message}"),
            ArgoError::Unrepresentable(message) => write!(f, "cannot be written for Argo Workflows: {message}"),
        }
    }
}

impl std::error::Error for ArgoError {}

impl From<kfl_dag::params::ParamError> for ArgoError {
    fn from(e: kfl_dag::params::ParamError) -> Self {
        ArgoError::Param(e)
    }
}

/// The Workflow as YAML ([`kfl_yaml`]).
pub fn to_yaml(workflow: &Json) -> String {
    kfl_yaml::to_string(workflow)
}

/// The lowered pipeline as an Argo `Workflow`.
pub fn workflow(dag: &Dag, options: &ArgoOptions) -> Result<Json, ArgoError> {
    if options.params.is_empty() {
        return Emitter::new(dag, options).emit();
    }
    let mut dag = dag.clone();
    kfl_dag::params::apply_params(&mut dag, &options.params)?;
    Emitter::new(&dag, options).emit()
}

/// The largest Workflow, as JSON, that Kubernetes stores: etcd refuses a request over 1.5 MiB by
/// default (`--max-request-bytes`), and a Workflow is one object. Its status grows while it runs,
/// so a Workflow near the limit may still fail later (Argo can offload node status).
pub const MAX_WORKFLOW_BYTES: usize = 1536 * 1024;

/// The Argo Workflows target (`argo`): a `Workflow` in YAML.
#[derive(Clone, Debug, Default)]
pub struct ArgoBackend {
    pub options: ArgoOptions,
}

impl ArgoBackend {
    /// The Workflow, refused if Argo cannot run it or Kubernetes cannot store it.
    pub fn workflow(&self, dag: &Dag) -> Result<Json, BackendError> {
        let workflow = workflow(dag, &self.options).map_err(|e| BackendError::new(e.to_string()))?;
        let bytes = serde_json::to_string(&workflow).map_or(0, |json| json.len());
        if bytes > MAX_WORKFLOW_BYTES {
            return Err(BackendError::new(format!(
                "too large for Argo Workflows: the Workflow is {bytes} bytes as JSON, more than the {MAX_WORKFLOW_BYTES} \
                 bytes Kubernetes stores in one object; pass large values as artifacts or split the pipeline"
            )));
        }
        Ok(workflow)
    }
}

impl Backend for ArgoBackend {
    fn name(&self) -> &'static str {
        "argo"
    }

    /// Argo's refusals are found while the Workflow is written: this writes it and drops it.
    fn check(&self, dag: &Dag) -> Result<(), BackendError> {
        self.workflow(dag).map(drop)
    }

    fn emit(&self, dag: &Dag) -> Result<Document, BackendError> {
        let workflow = self.workflow(dag)?;
        Ok(Document { text: to_yaml(&workflow), kind: "Workflow", extension: "yaml" })
    }

    /// Every setting has a place in a Workflow's templates (see the crate's "Settings").
    fn not_applicable(&self, _field: &FieldSpec) -> Option<&'static str> {
        None
    }
}

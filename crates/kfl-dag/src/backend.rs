//! The one interface of every backend: a [`Backend`] turns a lowered pipeline ([`Dag`]) into a
//! [`Document`] for its target (an Argo `Workflow`, a Kubeflow `PipelineSpec`, …), refusing with a
//! [`BackendError`] what its target cannot run, and says which settings of the field table
//! ([`kfl_model::fields::FIELDS`]) it cannot express.
//!
//! Adding a target is one new crate that depends on `kfl-dag` and implements [`Backend`]; the
//! command line lists it beside the others and picks one by [`Backend::name`].
//!
//! Invariants:
//! - Pure: no IO. A backend's output depends only on the [`Dag`] and its own options.
//! - [`Backend::emit`] never returns a document that [`Backend::check`] would refuse: a caller that
//!   only emits gets the same refusals as one that checks first.
//! - Errors are data: a message for people (no Rust debug text) and, where known, the task or
//!   output it is about.

use std::fmt;

use kfl_model::fields::FIELDS;
use kfl_model::settings::Settings;

/// The field table's row and how it takes effect, re-exported so that a backend needs no other
/// crate to implement [`Backend::not_applicable`].
pub use kfl_model::fields::{Effect, FieldSpec};

use crate::Dag;

/// A target that lowered pipelines can be written for.
pub trait Backend {
    /// The target's name, as `kflc build --target` takes it: `argo`, `kfp`.
    fn name(&self) -> &'static str;

    /// Refuses a pipeline the target cannot run, or whose document would be over the target's
    /// limits, without returning the document. A backend whose refusals are only found while
    /// writing the document may emit and drop it.
    fn check(&self, dag: &Dag) -> Result<(), BackendError>;

    /// The pipeline as the target's document. Refuses everything [`Backend::check`] refuses.
    fn emit(&self, dag: &Dag) -> Result<Document, BackendError>;

    /// Why this backend cannot express a row of the field table, or `None` if it can (rows that
    /// are not task settings included). The output does not change when such a setting is written.
    fn not_applicable(&self, field: &FieldSpec) -> Option<&'static str>;
}

/// What a backend writes: one file's text and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// The whole file, ending with a newline.
    pub text: String,
    /// What the document is, for messages: `Workflow`, `PipelineSpec`.
    pub kind: &'static str,
    /// The file name extension it is written with, without the dot: `yaml`.
    pub extension: &'static str,
}

/// Why a backend refuses a pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendError {
    /// The whole message, as printed after `error: `; it names the target.
    pub message: String,
    /// The task (`train`) or output (`train.model`) it is about, when it is about one.
    pub about: Option<String>,
}

impl BackendError {
    pub fn new(message: impl Into<String>) -> BackendError {
        BackendError { message: message.into(), about: None }
    }

    pub fn about(mut self, what: impl Into<String>) -> BackendError {
        self.about = Some(what.into());
        self
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BackendError {}

/// The backend named `name` in `backends`.
pub fn find<'a>(backends: &[&'a dyn Backend], name: &str) -> Option<&'a dyn Backend> {
    backends.iter().copied().find(|backend| backend.name() == name)
}

/// A setting that the pipeline's tasks use and a backend cannot express.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotApplicable {
    pub field: &'static FieldSpec,
    /// The backend's reason.
    pub reason: &'static str,
    /// The tasks that set it, in graph order.
    pub tasks: Vec<String>,
}

impl fmt::Display for NotApplicable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tasks: Vec<String> = self.tasks.iter().map(|t| format!("`{t}`")).collect();
        write!(
            f,
            "`{}` is left out: {} (set on task{} {})",
            self.field.path(),
            self.reason,
            if self.tasks.len() == 1 { "" } else { "s" },
            tasks.join(", ")
        )
    }
}

/// Every row of the field table that some task of `dag` sets and `backend` marks as not
/// applicable, in table order. Only task settings are considered (resources, env, retries, …):
/// a component's definition and a task's metadata are not settings a backend may drop.
pub fn not_applicable_in(backend: &dyn Backend, dag: &Dag) -> Vec<NotApplicable> {
    FIELDS
        .iter()
        .filter_map(|field| {
            let reason = backend.not_applicable(field)?;
            let tasks: Vec<String> = dag
                .graph
                .node_weights()
                .filter(|task| sets(&task.settings, field))
                .map(|task| task.name.clone())
                .collect();
            (!tasks.is_empty()).then_some(NotApplicable { field, reason, tasks })
        })
        .collect()
}

/// Whether `settings` hold a value of the row `field` (a task's effective settings: the
/// component's defaults with the task's overrides).
pub fn sets(settings: &Settings, field: &FieldSpec) -> bool {
    match field.effect {
        Effect::Resource { resource, request, limit } => match resource {
            "cpu" => (request && settings.cpu.is_some()) || (limit && settings.cpu_limit.is_some()),
            "memory" => (request && settings.memory.is_some()) || (limit && settings.memory_limit.is_some()),
            other => settings
                .resources
                .get(other)
                .is_some_and(|amount| (request && amount.request.is_some()) || (limit && amount.limit.is_some())),
        },
        Effect::Gpu => settings.gpu.is_some(),
        Effect::Accelerator => settings.accelerator.is_some(),
        Effect::Retries => settings.retries.is_some(),
        Effect::Timeout => settings.timeout.is_some(),
        Effect::Cache => settings.cache.is_some(),
        Effect::Tolerations => !settings.tolerations.is_empty(),
        Effect::Env => !settings.env.is_empty(),
        Effect::NodeSelector => !settings.node_selector.is_empty(),
        Effect::PodLabels => !settings.labels.is_empty(),
        Effect::PodAnnotations => !settings.annotations.is_empty(),
        Effect::Definition | Effect::TaskMeta | Effect::PipelineMeta => false,
    }
}

//! The field table: every setting a component, a task, a call of a pipeline or a pipeline may
//! write, with its type, where it is allowed and its documentation. The checker, the editor's
//! completion and hover, `kflc explain` and the docs read these rows; [`crate::settings`] applies a
//! row's value; each backend decides per row how it is emitted (or reports it as not applicable).

use crate::units::QuantityKind;

/// Where a field may be written.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Place {
    /// In a `component { … }`: the default of every task that runs it.
    Component,
    /// In the `{ … }` after a task that runs a component.
    Task,
    /// In the `{ … }` after a task that calls a pipeline: applies to every task the pipeline contains.
    PipelineCall,
    /// In a pipeline's body.
    Pipeline,
}

impl Place {
    pub fn describe(self) -> &'static str {
        match self {
            Place::Component => "a component",
            Place::Task => "a task",
            Place::PipelineCall => "a call of a pipeline",
            Place::Pipeline => "a pipeline",
        }
    }
}

/// What a field's value is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FieldKind {
    /// A quantity with a unit: CPU, memory, GPU count or duration.
    Quantity(QuantityKind),
    /// A whole number from 0 to 100.
    Retries,
    Bool,
    /// Free text (descriptions, display names).
    Text,
    /// A Kubernetes label value (at most 63 letters, digits, `-`, `_`, `.`).
    LabelValue,
    /// A container image reference.
    Image,
    /// A list of pip requirements.
    Packages,
    /// A list of strings and input placeholders.
    Command,
    /// A task or a list of tasks of the same pipeline.
    Tasks,
    /// A list of tolerations (`{key, operator, value, effect, toleration_seconds}` maps).
    Tolerations,
    /// Entries with free keys: environment variables (string or `secret(name:, key:)`).
    Env,
    /// Entries with free keys that are label keys, with label values.
    Labels,
    /// Entries with free keys that are label keys, with free text values.
    Annotations,
}

/// How the field takes effect, which is also how backends emit it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Effect {
    /// A container resource: `resource` is its Kubernetes name; `request`/`limit` say which it sets.
    Resource {
        resource: &'static str,
        request: bool,
        limit: bool,
    },
    /// The number of GPUs (the GPU resource name is a backend option).
    Gpu,
    /// The value of the node label that selects the accelerator (the label key is a backend option).
    Accelerator,
    Retries,
    Timeout,
    Cache,
    Tolerations,
    Env,
    NodeSelector,
    PodLabels,
    PodAnnotations,
    /// Part of what a component does (image, packages, command, args, description): not a setting a
    /// task can override.
    Definition,
    /// Ordering and naming of a task (`after`, `display_name`).
    TaskMeta,
    /// Metadata of a pipeline (`description`, `display_name`).
    PipelineMeta,
}

/// One row of the table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    /// `Some("resources")` for an entry of a `resources { … }` block; for blocks with free keys
    /// (`env`, `labels`, …) the row's `name` is the block's name and `block` is `None`.
    pub block: Option<&'static str>,
    pub kind: FieldKind,
    pub effect: Effect,
    pub places: &'static [Place],
    /// One sentence for hover and completion; the docs table repeats it.
    pub doc: &'static str,
}

impl FieldSpec {
    pub fn allowed_in(&self, place: Place) -> bool {
        self.places.contains(&place)
    }

    /// Whether this row is a block with free keys (`env { KEY = … }`).
    pub fn is_keyed_block(&self) -> bool {
        matches!(self.kind, FieldKind::Env | FieldKind::Labels | FieldKind::Annotations)
    }

    /// How the field is written: `retries`, `resources.cpu`, `env { … }`.
    pub fn path(&self) -> String {
        match self.block {
            Some(block) => format!("{block}.{}", self.name),
            None if self.is_keyed_block() => format!("{} {{ … }}", self.name),
            None => self.name.to_string(),
        }
    }
}

use Place::{Component as C, Pipeline as P, PipelineCall as PC, Task as T};

const SETTING: &[Place] = &[C, T, PC];
const DEFINITION: &[Place] = &[C];
const TASK_ONLY: &[Place] = &[T, PC];
const COMPONENT_AND_PIPELINE: &[Place] = &[C, P];
const TASK_AND_PIPELINE: &[Place] = &[T, P];

/// Every field, blocks first, in the order the docs and the checker's messages list them.
pub static FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "cpu",
        block: Some("resources"),
        kind: FieldKind::Quantity(QuantityKind::Cpu),
        effect: Effect::Resource { resource: "cpu", request: true, limit: false },
        places: SETTING,
        doc: "CPU the task requests: cores (`2`, `0.5`) or millicores (`500m`)",
    },
    FieldSpec {
        name: "memory",
        block: Some("resources"),
        kind: FieldKind::Quantity(QuantityKind::Memory),
        effect: Effect::Resource { resource: "memory", request: true, limit: false },
        places: SETTING,
        doc: "memory the task requests, with a unit: `512Mi`, `32Gi`, `1G`",
    },
    FieldSpec {
        name: "gpu",
        block: Some("resources"),
        kind: FieldKind::Quantity(QuantityKind::Gpu),
        effect: Effect::Gpu,
        places: SETTING,
        doc: "the number of GPUs the task needs (a whole number)",
    },
    FieldSpec {
        name: "accelerator",
        block: Some("resources"),
        kind: FieldKind::LabelValue,
        effect: Effect::Accelerator,
        places: SETTING,
        doc: "the kind of GPU, as the value of the node label that names it, e.g. `nvidia-tesla-a100`",
    },
    FieldSpec {
        name: "cpu_limit",
        block: Some("resources"),
        kind: FieldKind::Quantity(QuantityKind::Cpu),
        effect: Effect::Resource { resource: "cpu", request: false, limit: true },
        places: SETTING,
        doc: "the most CPU the task may use; at least `cpu`",
    },
    FieldSpec {
        name: "memory_limit",
        block: Some("resources"),
        kind: FieldKind::Quantity(QuantityKind::Memory),
        effect: Effect::Resource { resource: "memory", request: false, limit: true },
        places: SETTING,
        doc: "the most memory the task may use; at least `memory`",
    },
    FieldSpec {
        name: "ephemeral_storage",
        block: Some("resources"),
        kind: FieldKind::Quantity(QuantityKind::Memory),
        effect: Effect::Resource { resource: "ephemeral-storage", request: true, limit: true },
        places: SETTING,
        doc: "scratch disk of the task's container (its request and limit), with a unit: `10Gi`",
    },
    FieldSpec {
        name: "env",
        block: None,
        kind: FieldKind::Env,
        effect: Effect::Env,
        places: SETTING,
        doc: "environment variables: a string each, or `secret(name: \"…\", key: \"…\")`",
    },
    FieldSpec {
        name: "node_selector",
        block: None,
        kind: FieldKind::Labels,
        effect: Effect::NodeSelector,
        places: SETTING,
        doc: "node labels the task's node must have",
    },
    FieldSpec {
        name: "labels",
        block: None,
        kind: FieldKind::Labels,
        effect: Effect::PodLabels,
        places: SETTING,
        doc: "labels of the task's pod",
    },
    FieldSpec {
        name: "annotations",
        block: None,
        kind: FieldKind::Annotations,
        effect: Effect::PodAnnotations,
        places: SETTING,
        doc: "annotations of the task's pod",
    },
    FieldSpec {
        name: "image",
        block: None,
        kind: FieldKind::Image,
        effect: Effect::Definition,
        places: DEFINITION,
        doc: "the container image the component runs in",
    },
    FieldSpec {
        name: "packages",
        block: None,
        kind: FieldKind::Packages,
        effect: Effect::Definition,
        places: DEFINITION,
        doc: "pip requirements installed before a python script runs",
    },
    FieldSpec {
        name: "command",
        block: None,
        kind: FieldKind::Command,
        effect: Effect::Definition,
        places: DEFINITION,
        doc: "the container's command: strings and input or output placeholders",
    },
    FieldSpec {
        name: "args",
        block: None,
        kind: FieldKind::Command,
        effect: Effect::Definition,
        places: DEFINITION,
        doc: "the container's arguments: strings and input or output placeholders",
    },
    FieldSpec {
        name: "description",
        block: None,
        kind: FieldKind::Text,
        effect: Effect::PipelineMeta,
        places: COMPONENT_AND_PIPELINE,
        doc: "a description shown by the backends' UIs",
    },
    FieldSpec {
        name: "retries",
        block: None,
        kind: FieldKind::Retries,
        effect: Effect::Retries,
        places: SETTING,
        doc: "how often a failed task is tried again (0 to 100)",
    },
    FieldSpec {
        name: "timeout",
        block: None,
        kind: FieldKind::Quantity(QuantityKind::Duration),
        effect: Effect::Timeout,
        places: SETTING,
        doc: "how long one attempt of the task may run: `30m`, `6h`, `1h30m`",
    },
    FieldSpec {
        name: "cache",
        block: None,
        kind: FieldKind::Bool,
        effect: Effect::Cache,
        places: SETTING,
        doc: "whether a task with the same definition and inputs may be served from the cache (default true)",
    },
    FieldSpec {
        name: "tolerations",
        block: None,
        kind: FieldKind::Tolerations,
        effect: Effect::Tolerations,
        places: SETTING,
        doc: "taints of nodes the task tolerates",
    },
    FieldSpec {
        name: "after",
        block: None,
        kind: FieldKind::Tasks,
        effect: Effect::TaskMeta,
        places: TASK_ONLY,
        doc: "tasks that must finish first although no data flows from them",
    },
    FieldSpec {
        name: "display_name",
        block: None,
        kind: FieldKind::Text,
        effect: Effect::TaskMeta,
        places: TASK_AND_PIPELINE,
        doc: "the name the backends' UIs show",
    },
];

/// The row of a field written outside a block (`retries`, `image`) or of a block with free keys
/// (`env`).
pub fn field(name: &str) -> Option<&'static FieldSpec> {
    FIELDS.iter().find(|f| f.block.is_none() && f.name == name)
}

/// The row of an entry of a block with fixed entries (`resources.cpu`).
pub fn block_entry(block: &str, name: &str) -> Option<&'static FieldSpec> {
    FIELDS.iter().find(|f| f.block == Some(block) && f.name == name)
}

/// The names of the blocks: those with fixed entries and those with free keys.
pub fn block_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for f in FIELDS {
        let name = match f.block {
            Some(block) => block,
            None if f.is_keyed_block() => f.name,
            None => continue,
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The fields (not blocks) allowed in a place.
pub fn fields_in(place: Place) -> impl Iterator<Item = &'static FieldSpec> {
    FIELDS.iter().filter(move |f| f.block.is_none() && !f.is_keyed_block() && f.allowed_in(place))
}

/// The entries of a block with fixed entries.
pub fn entries_of(block: &str) -> impl Iterator<Item = &'static FieldSpec> + '_ {
    FIELDS.iter().filter(move |f| f.block == Some(block))
}

/// The reference of every field as a Markdown table: where it is written, what it takes, where it
/// is allowed and what it does. `docs/language.md` holds exactly this table (a test compares them)
/// and `kflc explain fields` prints it.
pub fn reference_table() -> String {
    let mut out = String::from("| Field | Value | Where | Meaning |\n|---|---|---|---|\n");
    for f in FIELDS {
        let value = match f.kind {
            FieldKind::Quantity(kind) => kind.human_name().to_string(),
            FieldKind::Retries => "whole number, 0 to 100".to_string(),
            FieldKind::Bool => "`Bool`".to_string(),
            FieldKind::Text => "`String`".to_string(),
            FieldKind::LabelValue => "`String`, a label value".to_string(),
            FieldKind::Image => "`String`, an image reference".to_string(),
            FieldKind::Packages => "`List<String>` of pip requirements".to_string(),
            FieldKind::Command => "list of strings and placeholders".to_string(),
            FieldKind::Tasks => "a task or a list of tasks".to_string(),
            FieldKind::Tolerations => "list of `{key, operator, value, effect, toleration_seconds}`".to_string(),
            FieldKind::Env => "`NAME = \"value\"` or `NAME = secret(name: …, key: …)`".to_string(),
            FieldKind::Labels => "`\"label-key\" = \"label value\"`".to_string(),
            FieldKind::Annotations => "`\"key\" = \"text\"`".to_string(),
        };
        let places: Vec<&str> = f
            .places
            .iter()
            .map(|p| match p {
                Place::Component => "component",
                Place::Task => "task",
                Place::PipelineCall => "call of a pipeline",
                Place::Pipeline => "pipeline",
            })
            .collect();
        out.push_str(&format!("| `{}` | {value} | {} | {} |\n", f.path(), places.join(", "), f.doc));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_per_block() {
        for (i, a) in FIELDS.iter().enumerate() {
            for b in &FIELDS[i + 1..] {
                assert!(!(a.name == b.name && a.block == b.block), "{} is in the table twice", a.path());
            }
        }
    }

    /// The docs show the table between two markers; regenerate it with `kflc explain fields`.
    #[test]
    fn the_docs_hold_the_reference_table() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/language.md"))
            .expect("docs/language.md");
        let begin = "<!-- fields:begin (generated from kfl_model::fields::FIELDS; `kflc explain fields`) -->\n";
        let end = "<!-- fields:end -->";
        let start = docs.find(begin).expect("the begin marker") + begin.len();
        let stop = docs[start..].find(end).expect("the end marker") + start;
        assert_eq!(&docs[start..stop], reference_table(), "docs/language.md's field table is out of date");
    }

    #[test]
    fn lookups_find_rows() {
        assert_eq!(
            block_entry("resources", "cpu").map(|f| f.effect),
            Some(Effect::Resource { resource: "cpu", request: true, limit: false })
        );
        assert!(field("cpu").is_none());
        assert_eq!(field("env").map(|f| f.kind), Some(FieldKind::Env));
        assert_eq!(block_names(), vec!["resources", "env", "node_selector", "labels", "annotations"]);
        let task: Vec<&str> = fields_in(Place::Task).map(|f| f.name).collect();
        assert_eq!(task, ["retries", "timeout", "cache", "tolerations", "after", "display_name"]);
        assert!(entries_of("resources").all(|f| f.allowed_in(Place::PipelineCall)));
    }
}

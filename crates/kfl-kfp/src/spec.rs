//! The parts of a PipelineSpec there are many of (a DAG's tasks and what each reads) as typed data,
//! which the compiler fills in and which is then either written as YAML directly ([`to_yaml`],
//! what `kflc build` does) or made a JSON document ([`pipeline_spec`]).
//!
//! Invariants:
//! - Both ways give the same document: [`DagSpec::write`] writes, key by key in sorted order, what
//!   [`DagSpec::to_json`] builds, as [`kfl_yaml`] would write that JSON (the tests compare the two
//!   for every case and example).
//! - What there are few of (executors, component interfaces, a loop's iterator, a retry policy)
//!   stays JSON and is written by [`kfl_yaml::write_value`].
//!
//! [`to_yaml`]: crate::to_yaml
//! [`pipeline_spec`]: crate::pipeline_spec

use kfl_yaml::{
    open_map, write_key, write_map_value, write_plain_key, write_str_seq_value, write_str_value, write_value,
};
use serde_json::{json, Map, Value as Json};

use crate::compile::{Arg, Expr};

/// A `PipelineTaskSpec`.
#[derive(Clone, Debug, Default)]
pub(crate) struct TaskSpec {
    /// `cachingOptions`: `{enableCache: true}`, `{}` (caching off), or none (a sub-DAG's task).
    pub caching: Option<bool>,
    /// `componentRef.name`, with its `comp-` prefix.
    pub component: String,
    pub dependent_tasks: Vec<String>,
    /// `inputs.parameters` and `inputs.artifacts`.
    pub parameters: Inputs,
    pub artifacts: Inputs,
    pub iterator_policy: Option<Json>,
    pub parameter_iterator: Option<Json>,
    pub retry_policy: Option<Json>,
    /// `taskInfo.name`.
    pub name: String,
    /// `triggerPolicy.condition`, and whether `triggerPolicy.strategy` is `ALL_UPSTREAM_TASKS_COMPLETED`.
    pub condition: Option<String>,
    pub all_upstream_completed: bool,
}

/// A task's inputs of one kind (parameters or artifacts), by name: a map kept as a sorted `Vec`,
/// a task having a few.
#[derive(Clone, Debug, Default)]
pub(crate) struct Inputs(Vec<(String, Arg)>);

impl Inputs {
    /// Sets input `name` (replacing what it was, as a map does).
    pub(crate) fn insert(&mut self, name: String, arg: Arg) {
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(&name)) {
            Ok(i) => self.0[i].1 = arg,
            Err(i) => self.0.insert(i, (name, arg)),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// By name, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Arg)> {
        self.0.iter().map(|(name, arg)| (name, arg))
    }
}

const ALL_UPSTREAM_TASKS_COMPLETED: &str = "ALL_UPSTREAM_TASKS_COMPLETED";

impl TaskSpec {
    pub(crate) fn to_json(&self) -> Json {
        let mut spec = Map::new();
        if let Some(cache) = self.caching {
            spec.insert("cachingOptions".into(), if cache { json!({ "enableCache": true }) } else { json!({}) });
        }
        spec.insert("componentRef".into(), json!({ "name": self.component }));
        if !self.dependent_tasks.is_empty() {
            spec.insert("dependentTasks".into(), json!(self.dependent_tasks));
        }
        let parameters: Map<String, Json> =
            self.parameters.iter().map(|(name, arg)| (name.clone(), parameter_input(arg))).collect();
        let artifacts: Map<String, Json> =
            self.artifacts.iter().map(|(name, arg)| (name.clone(), artifact_input(arg))).collect();
        let inputs = definitions(parameters, artifacts);
        if !inputs.is_empty() {
            spec.insert("inputs".into(), Json::Object(inputs));
        }
        for (key, value) in [
            ("iteratorPolicy", &self.iterator_policy),
            ("parameterIterator", &self.parameter_iterator),
            ("retryPolicy", &self.retry_policy),
        ] {
            if let Some(value) = value {
                spec.insert(key.into(), value.clone());
            }
        }
        spec.insert("taskInfo".into(), json!({ "name": self.name }));
        let mut policy = Map::new();
        if let Some(condition) = &self.condition {
            policy.insert("condition".into(), json!(condition));
        }
        if self.all_upstream_completed {
            policy.insert("strategy".into(), json!(ALL_UPSTREAM_TASKS_COMPLETED));
        }
        if !policy.is_empty() {
            spec.insert("triggerPolicy".into(), Json::Object(policy));
        }
        Json::Object(spec)
    }

    /// The task as the value of its key at column `indent` (the same as writing [`Self::to_json`]).
    fn write(&self, out: &mut String, indent: usize) {
        open_map(out);
        let inner = indent + 2;
        if let Some(cache) = self.caching {
            write_plain_key(out, "cachingOptions", inner);
            if cache {
                open_map(out);
                write_plain_key(out, "enableCache", inner + 2);
                out.push_str(" true\n");
            } else {
                out.push_str(" {}\n");
            }
        }
        write_plain_key(out, "componentRef", inner);
        open_map(out);
        write_plain_key(out, "name", inner + 2);
        write_str_value(out, &self.component, inner + 2);
        if !self.dependent_tasks.is_empty() {
            write_plain_key(out, "dependentTasks", inner);
            write_str_seq_value(out, self.dependent_tasks.iter().map(String::as_str), inner);
        }
        if !self.parameters.is_empty() || !self.artifacts.is_empty() {
            write_plain_key(out, "inputs", inner);
            open_map(out);
            if !self.artifacts.is_empty() {
                write_plain_key(out, "artifacts", inner + 2);
                open_map(out);
                for (name, arg) in self.artifacts.iter() {
                    write_key(out, name, inner + 4);
                    write_artifact_input(out, arg, inner + 4);
                }
            }
            if !self.parameters.is_empty() {
                write_plain_key(out, "parameters", inner + 2);
                open_map(out);
                for (name, arg) in self.parameters.iter() {
                    write_key(out, name, inner + 4);
                    write_parameter_input(out, arg, inner + 4);
                }
            }
        }
        for (key, value) in [
            ("iteratorPolicy", &self.iterator_policy),
            ("parameterIterator", &self.parameter_iterator),
            ("retryPolicy", &self.retry_policy),
        ] {
            if let Some(value) = value {
                write_plain_key(out, key, inner);
                write_value(out, value, inner);
            }
        }
        write_plain_key(out, "taskInfo", inner);
        open_map(out);
        write_plain_key(out, "name", inner + 2);
        write_str_value(out, &self.name, inner + 2);
        if self.condition.is_some() || self.all_upstream_completed {
            write_plain_key(out, "triggerPolicy", inner);
            open_map(out);
            if let Some(condition) = &self.condition {
                write_plain_key(out, "condition", inner + 2);
                write_str_value(out, condition, inner + 2);
            }
            if self.all_upstream_completed {
                write_plain_key(out, "strategy", inner + 2);
                write_str_value(out, ALL_UPSTREAM_TASKS_COMPLETED, inner + 2);
            }
        }
    }
}

/// A task's input parameter: `{componentInputParameter}`, `{runtimeValue: {constant}}` or
/// `{taskOutputParameter: {producerTask, outputParameterKey}}`, with the CEL selector if any.
pub(crate) fn parameter_input(arg: &Arg) -> Json {
    let mut input = match &arg.expr {
        Expr::Constant(value) => json!({ "runtimeValue": { "constant": value } }),
        Expr::ComponentInput(name) => json!({ "componentInputParameter": name }),
        Expr::TaskOutput { task, key } => {
            json!({ "taskOutputParameter": { "producerTask": task, "outputParameterKey": key } })
        }
    };
    if let (Some(selector), Json::Object(map)) = (&arg.selector, &mut input) {
        map.insert("parameterExpressionSelector".into(), json!(selector));
    }
    input
}

/// [`parameter_input`] as the value of its key at column `indent`.
fn write_parameter_input(out: &mut String, arg: &Arg, indent: usize) {
    open_map(out);
    let inner = indent + 2;
    if let Expr::ComponentInput(name) = &arg.expr {
        write_plain_key(out, "componentInputParameter", inner);
        write_str_value(out, name, inner);
    }
    if let Some(selector) = &arg.selector {
        write_plain_key(out, "parameterExpressionSelector", inner);
        write_str_value(out, selector, inner);
    }
    match &arg.expr {
        Expr::ComponentInput(_) => {}
        Expr::Constant(value) => {
            write_plain_key(out, "runtimeValue", inner);
            open_map(out);
            write_plain_key(out, "constant", inner + 2);
            write_value(out, value, inner + 2);
        }
        Expr::TaskOutput { task, key } => {
            write_plain_key(out, "taskOutputParameter", inner);
            open_map(out);
            write_plain_key(out, "outputParameterKey", inner + 2);
            write_str_value(out, key, inner + 2);
            write_plain_key(out, "producerTask", inner + 2);
            write_str_value(out, task, inner + 2);
        }
    }
}

/// A task's input artifact: `{componentInputArtifact}` or `{taskOutputArtifact: {producerTask,
/// outputArtifactKey}}`.
pub(crate) fn artifact_input(arg: &Arg) -> Json {
    match &arg.expr {
        Expr::ComponentInput(name) => json!({ "componentInputArtifact": name }),
        Expr::TaskOutput { task, key } => {
            json!({ "taskOutputArtifact": { "producerTask": task, "outputArtifactKey": key } })
        }
        // Artifacts have no constants; the checker does not let a literal reach an artifact input.
        Expr::Constant(_) => json!({}),
    }
}

/// [`artifact_input`] as the value of its key at column `indent`.
fn write_artifact_input(out: &mut String, arg: &Arg, indent: usize) {
    let inner = indent + 2;
    match &arg.expr {
        Expr::ComponentInput(name) => {
            open_map(out);
            write_plain_key(out, "componentInputArtifact", inner);
            write_str_value(out, name, inner);
        }
        Expr::TaskOutput { task, key } => {
            open_map(out);
            write_plain_key(out, "taskOutputArtifact", inner);
            open_map(out);
            write_plain_key(out, "outputArtifactKey", inner + 2);
            write_str_value(out, key, inner + 2);
            write_plain_key(out, "producerTask", inner + 2);
            write_str_value(out, task, inner + 2);
        }
        Expr::Constant(_) => out.push_str(" {}\n"),
    }
}

/// `{parameters, artifacts}`, leaving out what is empty.
pub(crate) fn definitions(parameters: Map<String, Json>, artifacts: Map<String, Json>) -> Map<String, Json> {
    let mut map = Map::new();
    if !parameters.is_empty() {
        map.insert("parameters".into(), Json::Object(parameters));
    }
    if !artifacts.is_empty() {
        map.insert("artifacts".into(), Json::Object(artifacts));
    }
    map
}

/// A `ComponentSpec` whose implementation is a DAG (the root, or a sub-DAG).
#[derive(Debug, Default)]
pub(crate) struct DagSpec {
    /// By name, sorted.
    pub tasks: Vec<(String, TaskSpec)>,
    /// `dag.outputs`: the selectors of the DAG's outputs.
    pub outputs: Map<String, Json>,
    pub input_definitions: Map<String, Json>,
    pub output_definitions: Map<String, Json>,
}

impl DagSpec {
    pub(crate) fn to_json(&self) -> Json {
        let mut dag = Map::new();
        let tasks = self.tasks.iter().map(|(key, task)| (key.clone(), task.to_json())).collect();
        dag.insert("tasks".into(), Json::Object(tasks));
        if !self.outputs.is_empty() {
            dag.insert("outputs".into(), Json::Object(self.outputs.clone()));
        }
        let mut spec = Map::new();
        spec.insert("dag".into(), Json::Object(dag));
        if !self.input_definitions.is_empty() {
            spec.insert("inputDefinitions".into(), Json::Object(self.input_definitions.clone()));
        }
        if !self.output_definitions.is_empty() {
            spec.insert("outputDefinitions".into(), Json::Object(self.output_definitions.clone()));
        }
        Json::Object(spec)
    }

    /// The spec as the value of its key at column `indent` (the same as writing [`Self::to_json`]).
    pub(crate) fn write(&self, out: &mut String, indent: usize) {
        open_map(out);
        let inner = indent + 2;
        write_plain_key(out, "dag", inner);
        open_map(out);
        if !self.outputs.is_empty() {
            write_plain_key(out, "outputs", inner + 2);
            write_map_value(out, &self.outputs, inner + 2);
        }
        write_plain_key(out, "tasks", inner + 2);
        if self.tasks.is_empty() {
            out.push_str(" {}\n");
        } else {
            open_map(out);
            for (key, task) in &self.tasks {
                write_key(out, key, inner + 4);
                task.write(out, inner + 4);
            }
        }
        if !self.input_definitions.is_empty() {
            write_plain_key(out, "inputDefinitions", inner);
            write_map_value(out, &self.input_definitions, inner);
        }
        if !self.output_definitions.is_empty() {
            write_plain_key(out, "outputDefinitions", inner);
            write_map_value(out, &self.output_definitions, inner);
        }
    }
}

/// An entry of `components`: an executor's component (JSON) or a DAG.
#[derive(Debug)]
pub(crate) enum ComponentSpec {
    Json(Json),
    Dag(DagSpec),
}

impl ComponentSpec {
    pub(crate) fn to_json(&self) -> Json {
        match self {
            ComponentSpec::Json(json) => json.clone(),
            ComponentSpec::Dag(dag) => dag.to_json(),
        }
    }

    pub(crate) fn write(&self, out: &mut String, indent: usize) {
        match self {
            ComponentSpec::Json(json) => write_value(out, json, indent),
            ComponentSpec::Dag(dag) => dag.write(out, indent),
        }
    }
}

//! From a lowered pipeline to the Workflow that is submitted: emit, name the run, and map server
//! field paths back to where the `.kfl` source declares them.
//!
//! Nothing here loads, parses or checks: `kflc` does, and hands over a [`Pipeline`] (the lowered
//! DAG and the [`Origins`] of its tasks and components, taken from the checker's model).

use std::collections::BTreeMap;

use kfl_model::item::{Callee, Program};
use kfl_model::Origin;
use serde_json::Value as Json;

use crate::error::SourceRef;

/// The label every run carries with its own name (besides `kfl.dev/pipeline` and
/// `app.kubernetes.io/managed-by: kflc`, which kfl-argo sets).
pub const RUN_LABEL: &str = "kfl.dev/run";
pub const PIPELINE_LABEL: &str = "kfl.dev/pipeline";

/// What `apply` and `plan` submit: a pipeline lowered from a program that checked (kfl-dag lowers
/// nothing else), with the `--param` values already set, and where its parts are declared.
#[derive(Clone, Debug)]
pub struct Pipeline {
    pub dag: kfl_dag::Dag,
    /// The parameters given a value on the command line (already set in `dag`): Kubeflow Pipelines
    /// gets them as the run's parameters too.
    pub given: Vec<String>,
    pub origins: Origins,
    /// The options `--backend kfp` emits the PipelineSpec with: the caller sets them as for
    /// `kflc build --target kfp` (the components whose locked image already has the kfp runtime
    /// install nothing when their pod starts), so both send the same document.
    pub kfp: kfl_kfp::KfpOptions,
}

impl Pipeline {
    /// A pipeline without origins (errors then name no source), without given parameters, and
    /// with the KFP backend's default options.
    pub fn new(dag: kfl_dag::Dag) -> Pipeline {
        Pipeline { dag, given: Vec::new(), origins: Origins::default(), kfp: kfl_kfp::KfpOptions::default() }
    }
}

/// Where each task and component of a lowered pipeline is declared, from the model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Origins {
    /// By the DAG's task name: `train`, or `caller.inner` for a task of a called pipeline (its
    /// statement in the called pipeline).
    tasks: BTreeMap<String, Origin>,
    /// By (file, name).
    components: BTreeMap<(String, String), Origin>,
}

impl Origins {
    /// The origins of everything `program` runs, named as lowering names the DAG's tasks.
    pub fn of(program: &Program) -> Origins {
        let mut origins = Origins::default();
        for (id, component) in &program.components {
            origins.components.insert((id.file.to_string(), id.name.clone()), component.origin.clone());
        }
        // (pipeline, prefix) pairs still to walk; a call of a pipeline nests its tasks under `call.`.
        let mut stack = vec![(program.root.clone(), String::new())];
        while let Some((id, prefix)) = stack.pop() {
            let Some(pipeline) = program.pipelines.get(&id) else { continue };
            for task in pipeline.tasks() {
                let name = format!("{prefix}{}", task.name);
                if let Callee::Pipeline(callee) = &task.callee {
                    // A cycle of calls is refused by the checker; the depth bound keeps this total.
                    if prefix.matches('.').count() < 64 {
                        stack.push((callee.clone(), format!("{name}.")));
                    }
                }
                origins.tasks.insert(name, task.origin.clone());
            }
        }
        origins
    }

    /// The statement that declares the DAG task `name`.
    pub fn task(&self, name: &str) -> Option<&Origin> {
        self.tasks.get(name)
    }

    /// The declaration of component `name` in `file`.
    pub fn component(&self, file: &str, name: &str) -> Option<&Origin> {
        self.components.get(&(file.to_string(), name.to_string()))
    }
}

/// A unique, traceable run name: `<pipeline>-<yyyymmdd>-<hhmmss>-<4 hex>`, at most 63 characters
/// (pod names and label values derive from it).
pub fn run_name(pipeline_k8s_name: &str, now: std::time::SystemTime) -> String {
    let since = now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    let stamp = format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", t / 3600, t % 3600 / 60, t % 60);
    let suffix = random_hex(since.subsec_nanos());
    let budget = 63 - stamp.len() - suffix.len() - 2;
    let mut base: String = pipeline_k8s_name.chars().take(budget).collect();
    while base.ends_with('-') {
        base.pop();
    }
    if base.is_empty() {
        base = "kfl".to_string();
    }
    format!("{base}-{stamp}-{suffix}")
}

fn random_hex(nanos: u32) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(nanos);
    h.write_u32(std::process::id());
    format!("{:04x}", h.finish() & 0xffff)
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { era * 400 + yoe + 1 } else { era * 400 + yoe }, m, d)
}

/// The Workflow for a run: the Argo backend's output with the run's name, namespace and labels.
/// It goes through [`kfl_argo::ArgoBackend`], so whatever `kflc build --target argo` refuses (a
/// Workflow too large for Kubernetes to store, …) is refused here too, before anything is sent.
pub fn workflow(dag: &kfl_dag::Dag, name: &str, namespace: &str) -> Result<Json, kfl_dag::backend::BackendError> {
    let backend = kfl_argo::ArgoBackend {
        options: kfl_argo::ArgoOptions {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
    };
    let mut workflow = backend.workflow(dag)?;
    if let Some(labels) = workflow.pointer_mut("/metadata/labels").and_then(Json::as_object_mut) {
        labels.insert(RUN_LABEL.into(), Json::String(name.to_string()));
        labels.insert(PIPELINE_LABEL.into(), Json::String(dag.k8s_name.clone()));
    }
    Ok(workflow)
}

/// Where a server field path (`.spec.templates[2].container.resources…`) comes from in the source:
/// the component of a container template (`component `train` (template `train`)`) or the task of
/// a DAG template's `.dag.tasks[N]` (`task `trained``). `None` when the path is not under a
/// template, or the template or task is not one of the pipeline's.
pub fn origin_of_field(pipeline: &Pipeline, workflow: &Json, field: &str) -> Option<SourceRef> {
    let field = field.trim_start_matches('.');
    let rest = field.strip_prefix("spec.templates[")?;
    let (index, rest) = rest.split_once(']')?;
    let template = workflow.pointer(&format!("/spec/templates/{}", index.parse::<usize>().ok()?))?;
    let template_name = template.get("name")?.as_str()?;
    let dag = &pipeline.dag;
    // A DAG template's task: `.dag.tasks[N]…` → that task.
    if let Some(task_rest) = rest.strip_prefix(".dag.tasks[") {
        let (i, _) = task_rest.split_once(']')?;
        let task_name = template.pointer(&format!("/dag/tasks/{}/name", i.parse::<usize>().ok()?))?.as_str()?;
        let task = dag.graph.node_weights().find(|t| t.k8s_name == task_name || t.name == task_name)?;
        let origin = pipeline.origins.task(&task.name)?.clone();
        return Some(SourceRef { origin, what: format!("task `{}`", task.name) });
    }
    // A container template: its component (`train-model` or a variant `train-model-2`).
    let component = dag.components.iter().find(|c| {
        c.k8s_name == template_name
            || template_name
                .strip_prefix(c.k8s_name.as_str())
                .and_then(|s| s.strip_prefix('-'))
                .is_some_and(|n| n.chars().all(|ch| ch.is_ascii_digit()))
    })?;
    let origin = pipeline.origins.component(&component.source, &component.name)?.clone();
    Some(SourceRef { origin, what: format!("component `{}` (template `{template_name}`)", component.name) })
}

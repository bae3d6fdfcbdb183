//! KFL's Argo Workflows backend: a lowered pipeline ([`kfl_dag::Dag`]) as an `argoproj.io/v1alpha1`
//! `Workflow`, as JSON ([`workflow`]) or YAML ([`to_yaml`]).
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
//!
//! # Invariants
//!
//! - Pure: no IO. The same [`Dag`] and [`ArgoOptions`] always give the same Workflow.
//! - User values never appear inside an expression or a program: only in argument values,
//!   parameter values and environment variables.
//! - Every DAG uses `depends`, never `dependencies`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kfl_dag::{
    Body, CommandPart, CompareOp, Component, Condition, Dag, EnvValue, GroupKind, IoType, LoopItems, Operand,
    ParamType, Settings, Source, Task, Trigger, Value,
};
use kfl_launcher::{InputBinding, OutputBinding};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use serde_json::{json, Map, Value as Json};

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

/// Where input and output files are inside a container.
const INPUTS_DIR: &str = "/tmp/kfl/inputs";
const OUTPUTS_DIR: &str = "/tmp/kfl/outputs";
const PARAMS_DIR: &str = "/tmp/kfl/params";

/// The lowered pipeline as an Argo `Workflow`.
pub fn workflow(dag: &Dag, options: &ArgoOptions) -> Result<Json, ArgoError> {
    if options.params.is_empty() {
        return Emitter::new(dag, options).emit();
    }
    let mut dag = dag.clone();
    kfl_dag::params::apply_params(&mut dag, &options.params)?;
    Emitter::new(&dag, options).emit()
}

/// A JSON object of `entries`, moved in (`json!` copies every value it is given, through serde).
fn object<const N: usize>(entries: [(&str, Json); N]) -> Json {
    Json::Object(entries.into_iter().map(|(key, value)| (key.to_string(), value)).collect())
}

/// A DAG template's instance: the pipeline, its exit handler, or one loop's body.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
enum Scope {
    Root,
    Exit,
    Loop(usize),
}

/// One task of a DAG template: a task of the pipeline, or a loop (its wrapper template).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
enum Member {
    Task(NodeIndex),
    Loop(usize),
}

/// A value as it is named in one scope.
#[derive(Clone, Debug, PartialEq)]
enum Local {
    WorkflowParam(String),
    TaskParam {
        task: String,
        output: String,
    },
    TaskArtifact {
        task: String,
        output: String,
    },
    InputParam(String),
    InputArtifact(String),
    /// Text with tags in it (artifact keys); only used as an argument value.
    Text(String),
}

impl Local {
    fn tag(&self) -> String {
        match self {
            Local::WorkflowParam(p) => format!("{{{{workflow.parameters.{p}}}}}"),
            Local::TaskParam { task, output } => format!("{{{{tasks.{task}.outputs.parameters.{output}}}}}"),
            Local::TaskArtifact { task, output } => format!("{{{{tasks.{task}.outputs.artifacts.{output}}}}}"),
            Local::InputParam(n) => format!("{{{{inputs.parameters.{n}}}}}"),
            Local::InputArtifact(n) => format!("{{{{inputs.artifacts.{n}}}}}"),
            Local::Text(t) => t.clone(),
        }
    }

    /// The value as an `expr` expression (a string).
    fn expr(&self) -> Result<String, ArgoError> {
        Ok(match self {
            Local::WorkflowParam(p) => format!("workflow.parameters[{}]", expr_str(p)),
            Local::TaskParam { task, output } => {
                format!("tasks[{}].outputs.parameters[{}]", expr_str(task), expr_str(output))
            }
            Local::InputParam(n) => format!("inputs.parameters[{}]", expr_str(n)),
            Local::TaskArtifact { task, output } => {
                return Err(ArgoError::Unsupported(format!(
                    "the artifact `{output}` of task `{task}` in a condition or a field of a loop item"
                )))
            }
            Local::InputArtifact(name) => {
                return Err(ArgoError::Unsupported(format!(
                    "the artifact `{name}` in a condition or a field of a loop item"
                )))
            }
            Local::Text(_) => {
                return Err(ArgoError::Unsupported("an artifact key in a condition or a field of a loop item".into()))
            }
        })
    }
}

/// A value, wherever it lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Val {
    /// A parameter output of a task.
    Param {
        task: NodeIndex,
        output: String,
    },
    Artifact {
        task: NodeIndex,
        output: String,
    },
    /// The URI of an artifact output of a task.
    Uri {
        task: NodeIndex,
        output: String,
    },
    /// The list of a parameter output over a loop's iterations.
    Collected {
        task: NodeIndex,
        output: String,
        group: usize,
    },
    /// The list of an artifact output's URIs over a loop's iterations.
    CollectedUris {
        task: NodeIndex,
        output: String,
        group: usize,
    },
    /// The key prefix under which a loop's iterations store an artifact output.
    FanInKey {
        task: NodeIndex,
        output: String,
        group: usize,
    },
    /// The current item of a loop.
    LoopVar {
        group: usize,
    },
}

#[derive(Clone, Debug)]
struct Import {
    name: String,
    artifact: bool,
    /// The value in the loop's parent scope.
    outer: String,
}

#[derive(Default, Debug)]
struct LoopInfo {
    imports: Vec<Import>,
    /// Outputs of the body read after the loop: name and value inside the body.
    exports: Vec<(String, String)>,
}

struct Emitter<'a> {
    dag: &'a Dag,
    options: &'a ArgoOptions,
    /// The loop groups whose body exports artifacts: their producers are not memoized.
    fan_in_producers: BTreeSet<NodeIndex>,
    loops: BTreeMap<usize, LoopInfo>,
    /// DAG task names, per scope.
    member_names: HashMap<(Scope, Member), String>,
    template_names: BTreeSet<String>,
    /// Component templates: the first task to run each (its component and settings) and whether
    /// it is memoized → template name.
    variants: Vec<(NodeIndex, bool, String)>,
    variant_templates: Vec<Json>,
    /// Scopes whose DAG must not fail fast (nested exit handlers).
    no_fail_fast: BTreeSet<Scope>,
    /// Extra ordering edges (nested exit handlers), with the trigger of the target.
    extra_edges: Vec<(NodeIndex, NodeIndex)>,
    loop_template_names: HashMap<usize, (String, String)>,
    /// Per task (by node index): what stands for it in each scope of its scope chain.
    reps: Vec<Vec<(Scope, Member)>>,
    /// Each scope's members, in the order the tasks run.
    scope_members: HashMap<Scope, Vec<Member>>,
    /// Per loop group: the tasks inside it (at any depth).
    loop_tasks: HashMap<usize, Vec<NodeIndex>>,
    /// Per task (by node index): the sources of the edges into it (graph and extra edges).
    edges_in: Vec<Vec<NodeIndex>>,
}

impl<'a> Emitter<'a> {
    fn new(dag: &'a Dag, options: &'a ArgoOptions) -> Self {
        Emitter {
            dag,
            options,
            fan_in_producers: BTreeSet::new(),
            loops: BTreeMap::new(),
            member_names: HashMap::new(),
            template_names: BTreeSet::new(),
            variants: Vec::new(),
            variant_templates: Vec::new(),
            no_fail_fast: BTreeSet::new(),
            extra_edges: Vec::new(),
            loop_template_names: HashMap::new(),
            reps: Vec::new(),
            scope_members: HashMap::new(),
            loop_tasks: HashMap::new(),
            edges_in: Vec::new(),
        }
    }

    /// Everything `representative`, `members` and `depends` look up, computed once per emit.
    fn index(&mut self) {
        let dag = self.dag;
        let count = dag.graph.node_count();
        let mut reps: Vec<Vec<(Scope, Member)>> = vec![Vec::new(); count];
        let mut loop_tasks: HashMap<usize, Vec<NodeIndex>> = HashMap::new();
        let mut chains: HashMap<Scope, Vec<Scope>> = HashMap::new();
        for task in dag.graph.node_indices() {
            let scope = self.scope_of(task);
            let chain = chains.entry(scope).or_insert_with(|| self.scope_chain(scope));
            let rep = &mut reps[task.index()];
            for (at, s) in chain.iter().enumerate() {
                match chain.get(at + 1) {
                    None => rep.push((*s, Member::Task(task))),
                    Some(Scope::Loop(g)) => {
                        rep.push((*s, Member::Loop(*g)));
                        loop_tasks.entry(*g).or_default().push(task);
                    }
                    Some(_) => {}
                }
            }
        }
        let mut edges_in: Vec<Vec<NodeIndex>> = vec![Vec::new(); count];
        for e in dag.graph.edge_references() {
            edges_in[e.target().index()].push(e.source());
        }
        for (source, target) in &self.extra_edges {
            edges_in[target.index()].push(*source);
        }
        let mut sets: HashMap<Scope, BTreeSet<Member>> = HashMap::new();
        for rep in &reps {
            for (s, m) in rep {
                sets.entry(*s).or_default().insert(*m);
            }
        }
        // A loop without tasks still runs (and does nothing); keep it so that its position is kept.
        for (g, group) in dag.groups.iter().enumerate() {
            if matches!(group.kind, GroupKind::Loop { .. }) {
                if let Some(parent) = self.parent_scope(Scope::Loop(g)) {
                    sets.entry(parent).or_default().insert(Member::Loop(g));
                }
            }
        }
        // In the order the tasks run (a loop where its first task would run), for readability.
        let mut position = vec![usize::MAX; count];
        for (i, n) in dag.topological_order().into_iter().enumerate() {
            position[n.index()] = i;
        }
        let mut group_first = vec![usize::MAX; dag.groups.len()];
        for n in dag.graph.node_indices() {
            let mut current = dag.graph[n].group;
            while let Some(g) = current {
                group_first[g] = group_first[g].min(position[n.index()]);
                current = dag.groups[g].parent;
            }
        }
        let rank = |m: &Member| match m {
            Member::Task(t) => position[t.index()],
            Member::Loop(g) => group_first[*g],
        };
        self.scope_members = sets
            .into_iter()
            .map(|(scope, set)| {
                let mut members: Vec<Member> = set.into_iter().collect();
                members.sort_by_cached_key(|m| (rank(m), *m));
                (scope, members)
            })
            .collect();
        self.reps = reps;
        self.loop_tasks = loop_tasks;
        self.edges_in = edges_in;
    }

    // ---------------------------------------------------------------------------------------
    // Scopes
    // ---------------------------------------------------------------------------------------

    fn scope_of_group(&self, group: Option<usize>) -> Scope {
        let mut current = group;
        while let Some(g) = current {
            match self.dag.groups[g].kind {
                GroupKind::Loop { .. } => return Scope::Loop(g),
                GroupKind::ExitHandler if self.dag.groups[g].parent.is_none() => return Scope::Exit,
                _ => {}
            }
            current = self.dag.groups[g].parent;
        }
        Scope::Root
    }

    fn scope_of(&self, task: NodeIndex) -> Scope {
        self.scope_of_group(self.dag.graph[task].group)
    }

    fn parent_scope(&self, scope: Scope) -> Option<Scope> {
        match scope {
            Scope::Loop(g) => Some(self.scope_of_group(self.dag.groups[g].parent)),
            Scope::Root | Scope::Exit => None,
        }
    }

    /// The scopes from the outermost to `scope`.
    fn scope_chain(&self, scope: Scope) -> Vec<Scope> {
        let mut chain = vec![scope];
        let mut current = scope;
        while let Some(parent) = self.parent_scope(current) {
            chain.push(parent);
            current = parent;
        }
        chain.reverse();
        chain
    }

    /// What stands for `task` in `scope`: the task itself, or the loop of `scope` it is in.
    fn representative(&self, task: NodeIndex, scope: Scope) -> Option<Member> {
        self.reps.get(task.index())?.iter().find(|(s, _)| *s == scope).map(|(_, m)| *m)
    }

    fn members(&self, scope: Scope) -> Vec<Member> {
        self.scope_members.get(&scope).cloned().unwrap_or_default()
    }

    /// The string under which a scope's instance stores its artifacts.
    fn scope_key(&self, scope: Scope) -> String {
        match scope {
            Scope::Root | Scope::Exit => "{{workflow.name}}".to_string(),
            Scope::Loop(_) => "{{inputs.parameters.kfl-scope}}/{{inputs.parameters.kfl-index}}".to_string(),
        }
    }

    fn member_name(&self, scope: Scope, member: Member) -> String {
        self.member_names.get(&(scope, member)).cloned().unwrap_or_else(|| match member {
            Member::Task(t) => self.dag.graph[t].k8s_name.clone(),
            Member::Loop(g) => self.dag.groups[g].k8s_name.clone(),
        })
    }

    fn assign_member_names(&mut self) {
        let mut scopes = vec![Scope::Root, Scope::Exit];
        for (g, group) in self.dag.groups.iter().enumerate() {
            if matches!(group.kind, GroupKind::Loop { .. }) {
                scopes.push(Scope::Loop(g));
            }
        }
        for scope in scopes {
            let mut used = BTreeSet::new();
            for member in self.members(scope) {
                let base = match member {
                    Member::Task(t) => self.dag.graph[t].k8s_name.clone(),
                    Member::Loop(g) => self.dag.groups[g].k8s_name.clone(),
                };
                let name = kfl_dag::unique_name(&base, &mut used);
                self.member_names.insert((scope, member), name);
            }
        }
    }

    fn reserve_template(&mut self, base: &str) -> String {
        kfl_dag::unique_name(base, &mut self.template_names)
    }

    // ---------------------------------------------------------------------------------------
    // Values across scopes
    // ---------------------------------------------------------------------------------------

    fn home(&self, val: &Val) -> Result<Scope, ArgoError> {
        Ok(match val {
            Val::Param { task, .. } | Val::Artifact { task, .. } | Val::Uri { task, .. } => self.scope_of(*task),
            Val::Collected { group, .. } | Val::CollectedUris { group, .. } | Val::FanInKey { group, .. } => self
                .parent_scope(Scope::Loop(*group))
                .ok_or_else(|| ArgoError::Unsupported("a fan-in from a group that is not a loop".into()))?,
            Val::LoopVar { group } => Scope::Loop(*group),
        })
    }

    fn import_name(&self, val: &Val) -> String {
        let task = |t: &NodeIndex| self.dag.graph[*t].k8s_name.clone();
        match val {
            Val::Param { task: t, output } | Val::Artifact { task: t, output } => format!("{}-{output}", task(t)),
            Val::Uri { task: t, output } => format!("{}-kfl-uri-{output}", task(t)),
            Val::Collected { task: t, output, group } => {
                format!("{}-{}-{output}", self.dag.groups[*group].k8s_name, task(t))
            }
            Val::CollectedUris { task: t, output, group } => {
                format!("{}-{}-kfl-uri-{output}", self.dag.groups[*group].k8s_name, task(t))
            }
            Val::FanInKey { task: t, output, group } => {
                format!("{}-{}-kfl-key-{output}", self.dag.groups[*group].k8s_name, task(t))
            }
            Val::LoopVar { group } => match &self.dag.groups[*group].kind {
                GroupKind::Loop { var, .. } => format!("{}-{var}", self.dag.groups[*group].k8s_name),
                _ => "kfl-item".to_string(),
            },
        }
    }

    /// The loop directly inside loop `group` (no loop between them) that `task` runs in.
    fn loop_inside(&self, group: usize, task: NodeIndex) -> Option<usize> {
        let chain = self.scope_chain(self.scope_of(task));
        let at = chain.iter().position(|s| *s == Scope::Loop(group))?;
        match chain.get(at + 1) {
            Some(Scope::Loop(inner)) => Some(*inner),
            _ => None,
        }
    }

    /// How many loops a collected output is a list over: 1 for a flat list, 2 for a list of lists, …
    fn collected_depth(&self, task: NodeIndex, group: usize) -> usize {
        let chain = self.scope_chain(self.scope_of(task));
        chain.iter().position(|s| *s == Scope::Loop(group)).map_or(1, |at| chain.len() - at)
    }

    fn nested_artifacts(&self, task: NodeIndex, output: &str) -> ArgoError {
        ArgoError::Unsupported(format!(
            "collecting the artifact `{}.{output}` out of a loop nested in another loop (a list of lists of \
             artifacts); collect it inside the outer loop, or pass its URIs as a parameter",
            self.dag.graph[task].name
        ))
    }

    /// The value in its own scope.
    fn local_at_home(&mut self, val: &Val, home: Scope) -> Result<Local, ArgoError> {
        Ok(match val {
            Val::Param { task, output } => {
                Local::TaskParam { task: self.member_name(home, Member::Task(*task)), output: output.clone() }
            }
            Val::Artifact { task, output } => {
                Local::TaskArtifact { task: self.member_name(home, Member::Task(*task)), output: output.clone() }
            }
            Val::Uri { task, output } => Local::TaskParam {
                task: self.member_name(home, Member::Task(*task)),
                output: format!("kfl-uri-{output}"),
            },
            Val::Collected { task, output, group } | Val::CollectedUris { task, output, group } => {
                let body = Scope::Loop(*group);
                let (inner, export) = match val {
                    Val::Collected { .. } if self.scope_of(*task) == body => {
                        (Val::Param { task: *task, output: output.clone() }, output.clone())
                    }
                    // The task runs in a loop inside this one: each iteration of this loop exports
                    // the list the inner loop collected, and Argo's aggregation parses those lists.
                    Val::Collected { .. } => {
                        let inner =
                            self.loop_inside(*group, *task).ok_or_else(|| self.nested_artifacts(*task, output))?;
                        (Val::Collected { task: *task, output: output.clone(), group: inner }, output.clone())
                    }
                    _ if self.scope_of(*task) == body => {
                        (Val::Uri { task: *task, output: output.clone() }, format!("kfl-uri-{output}"))
                    }
                    _ => return Err(self.nested_artifacts(*task, output)),
                };
                let name = format!("{}-{export}", self.dag.graph[*task].k8s_name);
                let inner = self.resolve(&inner, body)?.tag();
                let info = self.loops.entry(*group).or_default();
                if !info.exports.iter().any(|(n, _)| *n == name) {
                    info.exports.push((name.clone(), inner));
                }
                if matches!(val, Val::CollectedUris { .. }) {
                    self.fan_in_producers.insert(*task);
                }
                Local::TaskParam { task: self.member_name(home, Member::Loop(*group)), output: name }
            }
            Val::FanInKey { task, output, group } => {
                if self.scope_of(*task) != Scope::Loop(*group) {
                    return Err(self.nested_artifacts(*task, output));
                }
                self.fan_in_producers.insert(*task);
                Local::Text(format!(
                    "{}/{}/{}/{output}",
                    self.scope_key(home),
                    self.dag.groups[*group].k8s_name,
                    self.dag.graph[*task].k8s_name
                ))
            }
            Val::LoopVar { group } => match &self.dag.groups[*group].kind {
                GroupKind::Loop { var, .. } => Local::InputParam(var.clone()),
                _ => return Err(ArgoError::Unsupported("a loop variable outside a loop".into())),
            },
        })
    }

    /// The value as it is named in `at`, passing it into loops on the way.
    fn resolve(&mut self, val: &Val, at: Scope) -> Result<Local, ArgoError> {
        let home = self.home(val)?;
        if home == at {
            return self.local_at_home(val, home);
        }
        let Scope::Loop(g) = at else {
            return Err(ArgoError::Unsupported(match (at, home) {
                (Scope::Exit, _) => format!(
                    "{} read in the exit handler (an exit handler can read pipeline parameters and literals only)",
                    self.describe_val(val)
                ),
                (_, Scope::Loop(loop_group)) => format!(
                    "{} read outside the loop `for {}` it runs in, as one value",
                    self.describe_val(val),
                    match &self.dag.groups[loop_group].kind {
                        GroupKind::Loop { var, .. } => var.as_str(),
                        _ => "…",
                    }
                ),
                _ => format!("{} read outside the exit handler it runs in", self.describe_val(val)),
            }));
        };
        let parent =
            self.parent_scope(at).ok_or_else(|| ArgoError::Unsupported("a value from outside the pipeline".into()))?;
        let outer = self.resolve(val, parent)?;
        let name = self.import_name(val);
        let artifact = matches!(val, Val::Artifact { .. });
        let info = self.loops.entry(g).or_default();
        if !info.imports.iter().any(|i| i.name == name) {
            info.imports.push(Import { name: name.clone(), artifact, outer: outer.tag() });
        }
        Ok(if artifact { Local::InputArtifact(name) } else { Local::InputParam(name) })
    }

    // ---------------------------------------------------------------------------------------
    // Emitting
    // ---------------------------------------------------------------------------------------

    fn emit(mut self) -> Result<Json, ArgoError> {
        let dag = self.dag;
        for task in dag.graph.node_weights() {
            for (_, source) in &task.args {
                if let Source::Collected { task: producer, output, .. } = source {
                    let component = &dag.components[dag.graph[*producer].component];
                    if component.outputs.iter().any(|o| o.name == *output && o.ty.is_artifact()) {
                        self.fan_in_producers.insert(*producer);
                    }
                }
            }
        }
        self.add_nested_exit_edges();
        self.index();
        self.assign_member_names();
        let root_name = self.reserve_template(if dag.k8s_name.is_empty() { "pipeline" } else { &dag.k8s_name });
        let has_exit = dag.groups.iter().any(|g| matches!(g.kind, GroupKind::ExitHandler) && g.parent.is_none());
        let exit_name = if has_exit {
            let base = dag
                .groups
                .iter()
                .find(|g| matches!(g.kind, GroupKind::ExitHandler) && g.parent.is_none())
                .map(|g| g.k8s_name.clone())
                .unwrap_or_else(|| "exit-handler".into());
            Some(self.reserve_template(&base))
        } else {
            None
        };
        for (g, group) in dag.groups.iter().enumerate() {
            if matches!(group.kind, GroupKind::Loop { .. }) {
                let wrapper = self.reserve_template(&group.k8s_name);
                let body = self.reserve_template(&format!("{}-body", group.k8s_name));
                self.loop_template_names.insert(g, (wrapper, body));
            }
        }
        // Component templates in source order, so that the first task of a component names its
        // template and later variants are numbered.
        for node in dag.graph.node_indices() {
            self.component_template(node)?;
        }
        // Scopes from the innermost loop outwards: a loop's imports and exports are known before
        // the scope around it emits the task that calls it.
        let mut loop_scopes: Vec<usize> =
            (0..dag.groups.len()).filter(|g| matches!(dag.groups[*g].kind, GroupKind::Loop { .. })).collect();
        loop_scopes.sort_by_key(|g| std::cmp::Reverse(self.scope_chain(Scope::Loop(*g)).len()));
        // Pass 1: every argument, so that imports and exports are complete.
        let mut tasks: HashMap<Scope, Vec<Json>> = HashMap::new();
        let mut scopes: Vec<Scope> = vec![Scope::Root];
        if has_exit {
            scopes.push(Scope::Exit);
        }
        scopes.extend(loop_scopes.iter().map(|g| Scope::Loop(*g)));
        let mut pending: Vec<(Scope, Member)> = Vec::new();
        for scope in &scopes {
            for member in self.members(*scope) {
                pending.push((*scope, member));
            }
        }
        // Task members first, then every condition: they create the loops' imports and exports.
        let mut member_json: HashMap<(Scope, Member), Json> = HashMap::new();
        for (scope, member) in &pending {
            if let Member::Task(t) = member {
                let task = self.dag_task(*scope, *t)?;
                member_json.insert((*scope, *member), task);
            }
        }
        let mut order: HashMap<(Scope, Member), (Option<String>, Option<String>)> = HashMap::new();
        for (scope, member) in &pending {
            let depends = self.depends(*scope, *member);
            let when = self.when(*scope, *member)?;
            order.insert((*scope, *member), (depends, when));
        }
        // Loops, innermost first: a loop task's arguments (its imports) resolve in its parent
        // scope, which may add imports to the loop around it.
        let mut loop_members: Vec<(Scope, usize)> = pending
            .iter()
            .filter_map(|(s, m)| match m {
                Member::Loop(g) => Some((*s, *g)),
                Member::Task(_) => None,
            })
            .collect();
        loop_members.sort_by_key(|(_, g)| std::cmp::Reverse(self.scope_chain(Scope::Loop(*g)).len()));
        let mut loop_templates = Vec::new();
        for (scope, g) in loop_members {
            let (task, templates) = self.loop_task(scope, g)?;
            member_json.insert((scope, Member::Loop(g)), task);
            loop_templates.extend(templates);
        }
        for (key, (depends, when)) in order {
            if let Some(Json::Object(task)) = member_json.get_mut(&key) {
                if let Some(depends) = depends {
                    task.insert("depends".into(), Json::String(depends));
                }
                if let Some(when) = when {
                    task.insert("when".into(), Json::String(when));
                }
            }
        }
        for (scope, member) in &pending {
            if let Some(task) = member_json.remove(&(*scope, *member)) {
                tasks.entry(*scope).or_default().push(task);
            }
        }
        let mut templates = Vec::new();
        templates.push(self.dag_template(&root_name, Scope::Root, tasks.remove(&Scope::Root).unwrap_or_default()));
        if let Some(exit) = &exit_name {
            templates.push(self.dag_template(exit, Scope::Exit, tasks.remove(&Scope::Exit).unwrap_or_default()));
        }
        for g in &loop_scopes {
            let (wrapper, body) = self.loop_template_names.get(g).cloned().unwrap_or_default();
            let scope = Scope::Loop(*g);
            let body_tasks = tasks.remove(&scope).unwrap_or_default();
            let _ = wrapper;
            let mut template = self.dag_template(&body, scope, body_tasks);
            self.loop_body_interface(*g, &mut template);
            loop_templates.push(template);
        }
        templates.extend(loop_templates);
        templates.append(&mut self.variant_templates);
        let mut spec = Map::new();
        spec.insert("entrypoint".into(), Json::String(root_name));
        let mut params = Vec::new();
        for p in &dag.params {
            let IoType::Parameter(_) = p.ty else {
                return Err(ArgoError::Unsupported(format!("the artifact parameter `{}` of the pipeline", p.name)));
            };
            let mut param = Map::new();
            param.insert("name".into(), Json::String(p.name.clone()));
            if let Some(value) = &p.default {
                param.insert("value".into(), Json::String(literal_text(value, &format!("parameter `{}`", p.name))?));
            }
            if let Some(doc) = &p.doc {
                param.insert("description".into(), Json::String(doc.clone()));
            }
            params.push(Json::Object(param));
        }
        if !params.is_empty() {
            spec.insert("arguments".into(), object([("parameters", Json::Array(params))]));
        }
        if let Some(exit) = exit_name {
            spec.insert("onExit".into(), Json::String(exit));
        }
        if let Some(account) = &self.options.service_account {
            spec.insert("serviceAccountName".into(), Json::String(account.clone()));
        }
        if let Some(repository) = &self.options.artifact_repository {
            let mut r = Map::new();
            if let Some(c) = &repository.config_map {
                r.insert("configMap".into(), Json::String(c.clone()));
            }
            if let Some(k) = &repository.key {
                r.insert("key".into(), Json::String(k.clone()));
            }
            spec.insert("artifactRepositoryRef".into(), Json::Object(r));
        }
        spec.insert("podMetadata".into(), json!({ "labels": { "kfl.dev/pipeline": dag.k8s_name } }));
        spec.insert("templates".into(), Json::Array(templates));
        Ok(object([
            ("apiVersion", Json::String("argoproj.io/v1alpha1".into())),
            ("kind", Json::String("Workflow".into())),
            ("metadata", self.metadata()),
            ("spec", Json::Object(spec)),
        ]))
    }

    fn metadata(&self) -> Json {
        let dag = self.dag;
        let mut metadata = Map::new();
        match &self.options.name {
            Some(name) => metadata.insert("name".into(), Json::String(name.clone())),
            None => metadata.insert("generateName".into(), Json::String(format!("{}-", dag.k8s_name))),
        };
        if let Some(namespace) = &self.options.namespace {
            metadata.insert("namespace".into(), Json::String(namespace.clone()));
        }
        metadata.insert(
            "labels".into(),
            json!({ "kfl.dev/pipeline": dag.k8s_name, "app.kubernetes.io/managed-by": "kflc" }),
        );
        let mut annotations = Map::new();
        annotations.insert("kfl.dev/pipeline".into(), Json::String(dag.name.clone()));
        annotations.insert("kfl.dev/source".into(), Json::String(dag.source.clone()));
        if let Some(description) = &dag.description {
            annotations.insert("workflows.argoproj.io/description".into(), Json::String(description.clone()));
        }
        if let Some(title) = &dag.display_name {
            annotations.insert("workflows.argoproj.io/title".into(), Json::String(title.clone()));
        }
        let mut outputs = Map::new();
        for output in &dag.outputs {
            let source = match &output.source {
                Source::Output { task, output } | Source::Collected { task, output, .. } => {
                    json!({ "task": dag.graph[*task].k8s_name, "output": output })
                }
                Source::Param(p) => json!({ "parameter": p }),
                Source::Value(v) => json!({ "value": v.to_json() }),
                Source::LoopItem { .. } => Json::Null,
            };
            outputs.insert(output.name.clone(), source);
        }
        if !outputs.is_empty() {
            annotations.insert("kfl.dev/outputs".into(), Json::String(Json::Object(outputs).to_string()));
        }
        metadata.insert("annotations".into(), Json::Object(annotations));
        Json::Object(metadata)
    }

    fn dag_template(&self, name: &str, scope: Scope, tasks: Vec<Json>) -> Json {
        let mut dag = Map::new();
        dag.insert("tasks".into(), Json::Array(tasks));
        if self.no_fail_fast.contains(&scope) {
            dag.insert("failFast".into(), Json::Bool(false));
        }
        object([("name", Json::String(name.to_string())), ("dag", Json::Object(dag))])
    }

    /// Inputs and outputs of a loop's body template.
    fn loop_body_interface(&self, g: usize, template: &mut Json) {
        let info = self.loops.get(&g);
        let var = match &self.dag.groups[g].kind {
            GroupKind::Loop { var, .. } => var.clone(),
            _ => "item".to_string(),
        };
        let mut params = vec![json!({ "name": var }), json!({ "name": "kfl-index" }), json!({ "name": "kfl-scope" })];
        let mut artifacts = Vec::new();
        for import in info.map(|i| i.imports.as_slice()).unwrap_or_default() {
            if import.artifact {
                artifacts.push(json!({ "name": import.name }));
            } else {
                params.push(json!({ "name": import.name }));
            }
        }
        let mut inputs = Map::new();
        inputs.insert("parameters".into(), Json::Array(params));
        if !artifacts.is_empty() {
            inputs.insert("artifacts".into(), Json::Array(artifacts));
        }
        if let Json::Object(t) = template {
            t.insert("inputs".into(), Json::Object(inputs));
            let exports: Vec<Json> = info
                .map(|i| i.exports.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|(name, value)| json!({ "name": name, "valueFrom": { "parameter": value } }))
                .collect();
            if !exports.is_empty() {
                t.insert("outputs".into(), object([("parameters", Json::Array(exports))]));
            }
        }
    }

    /// The task in `scope` that runs loop `g`, and the loop's wrapper template.
    fn loop_task(&mut self, scope: Scope, g: usize) -> Result<(Json, Vec<Json>), ArgoError> {
        let (wrapper_name, body_name) = self.loop_template_names.get(&g).cloned().unwrap_or_default();
        let GroupKind::Loop { items, parallelism, .. } = self.dag.groups[g].kind.clone() else {
            return Err(ArgoError::Unsupported("a loop task for a group that is not a loop".into()));
        };
        let loop_k8s = self.dag.groups[g].k8s_name.clone();
        let var = match &self.dag.groups[g].kind {
            GroupKind::Loop { var, .. } => var.clone(),
            _ => String::new(),
        };
        // Arguments of the wrapper task, in the parent scope.
        let mut params = vec![json!({ "name": "kfl-scope", "value": format!("{}/{loop_k8s}", self.scope_key(scope)) })];
        let mut artifacts = Vec::new();
        let items_source = match &items {
            LoopItems::Values(values) => {
                let mut list = Vec::new();
                for (i, v) in values.iter().enumerate() {
                    literal_text(v, "a loop item")?;
                    list.push(Json::String(json!([i, v.to_json()]).to_string()));
                }
                Ok(list)
            }
            LoopItems::Param(p) => Err(Local::WorkflowParam(p.clone())),
            LoopItems::Output { task, output } => {
                Err(self.resolve(&Val::Param { task: *task, output: output.clone() }, scope)?)
            }
        };
        if let Err(list) = &items_source {
            params.push(json!({ "name": "kfl-items", "value": list.tag() }));
        }
        let imports = self.loops.get(&g).map(|i| i.imports.clone()).unwrap_or_default();
        for import in &imports {
            if import.artifact {
                artifacts.push(json!({ "name": import.name, "from": import.outer }));
            } else {
                params.push(json!({ "name": import.name, "value": import.outer }));
            }
        }
        let mut arguments = Map::new();
        arguments.insert("parameters".into(), Json::Array(params));
        if !artifacts.is_empty() {
            arguments.insert("artifacts".into(), Json::Array(artifacts));
        }
        let task = object([
            ("name", Json::String(self.member_name(scope, Member::Loop(g)))),
            ("template", Json::String(wrapper_name.clone())),
            ("arguments", Json::Object(arguments)),
        ]);
        // The wrapper: one task that expands over the items into the body.
        let mut inner_params = vec![
            json!({ "name": var, "value": "{{=fromJSON(item)[1]}}" }),
            json!({ "name": "kfl-index", "value": "{{=fromJSON(item)[0]}}" }),
            json!({ "name": "kfl-scope", "value": "{{inputs.parameters.kfl-scope}}" }),
        ];
        let mut inner_artifacts = Vec::new();
        let mut wrapper_params = vec![json!({ "name": "kfl-scope" })];
        let mut wrapper_artifacts = Vec::new();
        if items_source.is_err() {
            wrapper_params.push(json!({ "name": "kfl-items" }));
        }
        for import in &imports {
            if import.artifact {
                wrapper_artifacts.push(json!({ "name": import.name }));
                inner_artifacts
                    .push(json!({ "name": import.name, "from": format!("{{{{inputs.artifacts.{}}}}}", import.name) }));
            } else {
                wrapper_params.push(json!({ "name": import.name }));
                inner_params.push(
                    json!({ "name": import.name, "value": format!("{{{{inputs.parameters.{}}}}}", import.name) }),
                );
            }
        }
        let mut inner_arguments = Map::new();
        inner_arguments.insert("parameters".into(), Json::Array(inner_params));
        if !inner_artifacts.is_empty() {
            inner_arguments.insert("artifacts".into(), Json::Array(inner_artifacts));
        }
        let mut inner = Map::new();
        inner.insert("name".into(), Json::String("iterations".into()));
        inner.insert("template".into(), Json::String(body_name));
        inner.insert("arguments".into(), Json::Object(inner_arguments));
        match items_source {
            Ok(list) => {
                inner.insert("withItems".into(), Json::Array(list));
            }
            Err(_) => {
                inner.insert(
                    "withParam".into(),
                    Json::String(
                        "{{=toJson(map(fromJSON(inputs.parameters['kfl-items']), toJson([#index, #])))}}".into(),
                    ),
                );
            }
        }
        let mut inputs = Map::new();
        inputs.insert("parameters".into(), Json::Array(wrapper_params));
        if !wrapper_artifacts.is_empty() {
            inputs.insert("artifacts".into(), Json::Array(wrapper_artifacts));
        }
        let mut wrapper = Map::new();
        wrapper.insert("name".into(), Json::String(wrapper_name));
        wrapper.insert("inputs".into(), Json::Object(inputs));
        let exports: Vec<Json> = self
            .loops
            .get(&g)
            .map(|i| i.exports.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|(name, _)| {
                json!({ "name": name, "valueFrom": { "parameter": format!("{{{{tasks.iterations.outputs.parameters.{name}}}}}") } })
            })
            .collect();
        if !exports.is_empty() {
            wrapper.insert("outputs".into(), object([("parameters", Json::Array(exports))]));
        }
        if let Some(n) = parallelism {
            wrapper.insert("parallelism".into(), json!(n));
        }
        wrapper.insert("dag".into(), object([("tasks", Json::Array(vec![Json::Object(inner)]))]));
        Ok((task, vec![Json::Object(wrapper)]))
    }

    /// The DAG task of a pipeline task (without `depends` and `when`).
    fn dag_task(&mut self, scope: Scope, node: NodeIndex) -> Result<Json, ArgoError> {
        let dag = self.dag;
        let task = &dag.graph[node];
        let component = &dag.components[task.component];
        let mut params = Vec::new();
        let mut artifacts = Vec::new();
        for input in &component.inputs {
            let source = task.args.iter().find(|(n, _)| *n == input.name).map(|(_, s)| s);
            let Some(source) = source else {
                if input.ty.is_artifact() {
                    return Err(ArgoError::Unsupported(format!(
                        "task `{}` leaves its artifact input `{}` unset",
                        task.name, input.name
                    )));
                }
                continue;
            };
            let what = format!("the argument `{}` of task `{}`", input.name, task.name);
            match (&input.ty, source) {
                (IoType::Parameter(_), source) => {
                    let value = self.param_argument(scope, source, &what)?;
                    params.push(json!({ "name": input.name, "value": value }));
                }
                (IoType::Artifact { .. }, Source::Output { task: producer, output }) => {
                    let from = self.resolve(&Val::Artifact { task: *producer, output: output.clone() }, scope)?;
                    artifacts.push(json!({ "name": input.name, "from": from.tag() }));
                    let uri = self.resolve(&Val::Uri { task: *producer, output: output.clone() }, scope)?;
                    params.push(json!({ "name": format!("kfl-uri-{}", input.name), "value": uri.tag() }));
                }
                (IoType::ArtifactList { .. }, Source::Collected { task: producer, output, group }) => {
                    let key = Val::FanInKey { task: *producer, output: output.clone(), group: *group };
                    let key = self.resolve(&key, scope)?;
                    params.push(json!({ "name": format!("kfl-key-{}", input.name), "value": key.tag() }));
                    let uris = Val::CollectedUris { task: *producer, output: output.clone(), group: *group };
                    let uris = self.resolve(&uris, scope)?;
                    params.push(json!({ "name": format!("kfl-uri-{}", input.name), "value": uris.tag() }));
                }
                (IoType::Artifact { .. }, other) => {
                    return Err(ArgoError::Unsupported(format!(
                        "{what} is one artifact, but it is given {}",
                        self.describe_source(other)
                    )));
                }
                (IoType::ArtifactList { .. }, other) => {
                    return Err(ArgoError::Unsupported(format!(
                        "{what} is a list of artifacts, but it is given {}",
                        self.describe_source(other)
                    )));
                }
            }
        }
        // Where this task's artifacts go.
        for output in &component.outputs {
            if output.ty.is_artifact() {
                let key = match scope {
                    Scope::Loop(_) => format!(
                        "{{{{inputs.parameters.kfl-scope}}}}/{}/{}/{{{{inputs.parameters.kfl-index}}}}",
                        task.k8s_name, output.name
                    ),
                    Scope::Root | Scope::Exit => format!("{}/{}/{}", self.scope_key(scope), task.k8s_name, output.name),
                };
                params.push(json!({ "name": format!("kfl-key-{}", output.name), "value": key }));
            }
        }
        let template = self.component_template(node)?;
        let mut arguments = Map::new();
        if !params.is_empty() {
            arguments.insert("parameters".into(), Json::Array(params));
        }
        if !artifacts.is_empty() {
            arguments.insert("artifacts".into(), Json::Array(artifacts));
        }
        let mut out = Map::new();
        out.insert("name".into(), Json::String(self.member_name(scope, Member::Task(node))));
        out.insert("template".into(), Json::String(template));
        if !arguments.is_empty() {
            out.insert("arguments".into(), Json::Object(arguments));
        }
        Ok(Json::Object(out))
    }

    /// Where a value comes from, in the words of the pipeline's source.
    fn describe_source(&self, source: &Source) -> String {
        match source {
            Source::Value(v) => format!("the literal `{}`", v.to_plain_string()),
            Source::Param(p) => format!("the pipeline parameter `{p}`"),
            Source::Output { task, output } => format!("the output `{}.{output}`", self.dag.graph[*task].name),
            Source::LoopItem { group, field } => {
                let var = match &self.dag.groups[*group].kind {
                    GroupKind::Loop { var, .. } => var.as_str(),
                    _ => "item",
                };
                match field {
                    Some(field) => format!("the loop variable `{var}.{field}`"),
                    None => format!("the loop variable `{var}`"),
                }
            }
            Source::Collected { task, output, .. } => {
                format!("the output `{}.{output}` collected over a loop", self.dag.graph[*task].name)
            }
        }
    }

    /// A value in the words of the pipeline's source, for messages.
    fn describe_val(&self, val: &Val) -> String {
        let name = |task: &NodeIndex| self.dag.graph[*task].name.clone();
        match val {
            Val::Param { task, output } | Val::Artifact { task, output } | Val::Uri { task, output } => {
                format!("the output `{}.{output}`", name(task))
            }
            Val::Collected { task, output, .. }
            | Val::CollectedUris { task, output, .. }
            | Val::FanInKey { task, output, .. } => {
                format!("the output `{}.{output}` collected over a loop", name(task))
            }
            Val::LoopVar { group } => match &self.dag.groups[*group].kind {
                GroupKind::Loop { var, .. } => format!("the loop variable `{var}`"),
                _ => "a loop variable".to_string(),
            },
        }
    }

    /// A parameter argument's value.
    fn param_argument(&mut self, scope: Scope, source: &Source, what: &str) -> Result<String, ArgoError> {
        Ok(match source {
            Source::Value(v) => literal_text(v, what)?,
            Source::Param(p) => Local::WorkflowParam(p.clone()).tag(),
            Source::Output { task, output } => {
                self.resolve(&Val::Param { task: *task, output: output.clone() }, scope)?.tag()
            }
            Source::LoopItem { group, field } => {
                let item = self.resolve(&Val::LoopVar { group: *group }, scope)?;
                match field {
                    None => item.tag(),
                    Some(field) => format!("{{{{=fromJSON({})[{}]}}}}", item.expr()?, expr_str(field)),
                }
            }
            Source::Collected { task, output, group } => {
                let ty = self.dag.components[self.dag.graph[*task].component]
                    .outputs
                    .iter()
                    .find(|o| o.name == *output)
                    .map(|o| o.ty.clone());
                if ty.as_ref().is_some_and(IoType::is_artifact) {
                    return Err(self.nested_artifacts(*task, output));
                }
                let list =
                    self.resolve(&Val::Collected { task: *task, output: output.clone(), group: *group }, scope)?;
                let convert = match ty {
                    Some(IoType::Parameter(ParamType::Int)) => Some("asInt(#)"),
                    Some(IoType::Parameter(ParamType::Float)) => Some("asFloat(#)"),
                    Some(IoType::Parameter(ParamType::Bool)) => Some("# == 'true'"),
                    _ => None,
                };
                match convert {
                    Some(convert) => {
                        // One `map` per loop left: a list of lists converts its innermost items.
                        let mut convert = convert.to_string();
                        for _ in 1..self.collected_depth(*task, *group) {
                            convert = format!("map(#, {convert})");
                        }
                        format!("{{{{=toJson(map(fromJSON({}), {convert}))}}}}", list.expr()?)
                    }
                    None => list.tag(),
                }
            }
        })
    }

    // ---------------------------------------------------------------------------------------
    // Order and conditions
    // ---------------------------------------------------------------------------------------

    fn add_nested_exit_edges(&mut self) {
        let dag = self.dag;
        for (x, group) in dag.groups.iter().enumerate() {
            if !matches!(group.kind, GroupKind::ExitHandler) {
                continue;
            }
            let Some(parent) = group.parent else { continue };
            let in_group = |task: &Task, g: usize| dag.group_chain(task.group).contains(&g);
            let exit_tasks: Vec<NodeIndex> = dag.graph.node_indices().filter(|n| in_group(&dag.graph[*n], x)).collect();
            let body: Vec<NodeIndex> = dag
                .graph
                .node_indices()
                .filter(|n| in_group(&dag.graph[*n], parent) && !in_group(&dag.graph[*n], x))
                .collect();
            for e in &exit_tasks {
                for b in &body {
                    self.extra_edges.push((*b, *e));
                }
                self.no_fail_fast.insert(self.scope_of(*e));
            }
        }
    }

    fn depends(&self, scope: Scope, member: Member) -> Option<String> {
        let dag = self.dag;
        let targets: &[NodeIndex] = match &member {
            Member::Task(t) => std::slice::from_ref(t),
            Member::Loop(g) => self.loop_tasks.get(g).map(Vec::as_slice).unwrap_or_default(),
        };
        let mut upstream = BTreeSet::new();
        for target in targets {
            if self.representative(*target, scope) != Some(member) {
                continue;
            }
            for source in self.edges_in.get(target.index()).map(Vec::as_slice).unwrap_or_default() {
                let Some(rep) = self.representative(*source, scope) else { continue };
                if rep != member {
                    upstream.insert(rep);
                }
            }
        }
        if upstream.is_empty() {
            return None;
        }
        let all_done = matches!(member, Member::Task(t) if dag.graph[t].trigger == Trigger::AllDone);
        let terms: Vec<String> = upstream
            .into_iter()
            .map(|m| {
                let name = self.member_name(scope, m);
                if all_done {
                    format!("({name}.Succeeded || {name}.Failed || {name}.Errored || {name}.Skipped || {name}.Omitted)")
                } else {
                    name
                }
            })
            .collect();
        Some(terms.join(" && "))
    }

    /// The conditions of the `if` branches between `scope` and the member.
    fn when(&mut self, scope: Scope, member: Member) -> Result<Option<String>, ArgoError> {
        let dag = self.dag;
        let group = match member {
            Member::Task(t) => dag.graph[t].group,
            Member::Loop(g) => dag.groups[g].parent,
        };
        let chain = dag.group_chain(group);
        let start = match scope {
            Scope::Loop(g) => chain.iter().position(|c| *c == g).map_or(0, |p| p + 1),
            Scope::Root | Scope::Exit => 0,
        };
        let mut parts = Vec::new();
        for g in &chain[start..] {
            if let GroupKind::Condition { condition, .. } = &dag.groups[*g].kind {
                parts.push(self.condition(condition, scope)?);
            }
        }
        if parts.is_empty() {
            return Ok(None);
        }
        Ok(Some(format!("{{{{={}}}}}", parts.join(" && "))))
    }

    fn condition(&mut self, condition: &Condition, scope: Scope) -> Result<String, ArgoError> {
        Ok(match condition {
            Condition::Is(operand) => self.operand(operand, Domain::Bool, scope)?,
            Condition::Compare(op, a, b) => {
                let ta = self.operand_type(a);
                let tb = self.operand_type(b);
                let numeric = |t: Option<ParamType>| matches!(t, Some(ParamType::Int | ParamType::Float));
                let domain = if numeric(ta) || numeric(tb) {
                    Domain::Number
                } else if ta == Some(ParamType::Bool) || tb == Some(ParamType::Bool) {
                    Domain::Bool
                } else {
                    Domain::String
                };
                let symbol = match op {
                    CompareOp::Eq => "==",
                    CompareOp::Ne => "!=",
                    other => other.symbol(),
                };
                format!("{} {symbol} {}", self.operand(a, domain, scope)?, self.operand(b, domain, scope)?)
            }
            Condition::And(a, b) => format!("({} && {})", self.condition(a, scope)?, self.condition(b, scope)?),
            Condition::Or(a, b) => format!("({} || {})", self.condition(a, scope)?, self.condition(b, scope)?),
            Condition::Not(a) => format!("!({})", self.condition(a, scope)?),
        })
    }

    fn operand_type(&self, operand: &Operand) -> Option<ParamType> {
        let dag = self.dag;
        match operand {
            Operand::Value(v) => Some(value_type(v)),
            Operand::Param(p) => dag.params.iter().find(|x| x.name == *p).and_then(|x| match x.ty {
                IoType::Parameter(t) => Some(t),
                _ => None,
            }),
            Operand::Output { task, output } => {
                dag.components[dag.graph[*task].component].outputs.iter().find(|o| o.name == *output).and_then(|o| {
                    match o.ty {
                        IoType::Parameter(t) => Some(t),
                        _ => None,
                    }
                })
            }
            Operand::LoopItem { group, field } => match &dag.groups[*group].kind {
                GroupKind::Loop { items: LoopItems::Values(values), .. } => {
                    let first = values.first()?;
                    match field {
                        None => Some(value_type(first)),
                        Some(f) => match first {
                            Value::Map(entries) => entries.iter().find(|(k, _)| k == f).map(|(_, v)| value_type(v)),
                            _ => None,
                        },
                    }
                }
                _ => None,
            },
        }
    }

    /// An operand as an `expr` expression of the domain's type.
    fn operand(&mut self, operand: &Operand, domain: Domain, scope: Scope) -> Result<String, ArgoError> {
        if let Operand::Value(v) = operand {
            return Ok(match (domain, v) {
                (Domain::Number, Value::Int(i)) => i.to_string(),
                (Domain::Number, Value::Float(f)) => float_literal(*f),
                (Domain::Bool, Value::Bool(b)) => b.to_string(),
                (_, v) => match domain {
                    Domain::Number => format!("asFloat({})", expr_str(&v.to_plain_string())),
                    Domain::Bool => format!("({} == 'true')", expr_str(&v.to_plain_string())),
                    Domain::String => expr_str(&v.to_plain_string()),
                },
            });
        }
        let text = match operand {
            Operand::Param(p) => Local::WorkflowParam(p.clone()).expr()?,
            Operand::Output { task, output } => {
                self.resolve(&Val::Param { task: *task, output: output.clone() }, scope)?.expr()?
            }
            Operand::LoopItem { group, field } => {
                let item = self.resolve(&Val::LoopVar { group: *group }, scope)?.expr()?;
                match field {
                    None => item,
                    Some(f) => format!("string(fromJSON({item})[{}])", expr_str(f)),
                }
            }
            Operand::Value(_) => String::new(),
        };
        Ok(match domain {
            Domain::Number => format!("asFloat({text})"),
            Domain::Bool => format!("({text} == 'true')"),
            Domain::String => text,
        })
    }

    // ---------------------------------------------------------------------------------------
    // Component templates
    // ---------------------------------------------------------------------------------------

    /// The name of the template that runs `node`, creating it (or a variant) the first time.
    fn component_template(&mut self, node: NodeIndex) -> Result<String, ArgoError> {
        let task = &self.dag.graph[node];
        let memoized = task.settings.cache != Some(false) && !self.fan_in_producers.contains(&node);
        let graph = &self.dag.graph;
        let same = |(first, first_memoized, _): &&(NodeIndex, bool, String)| {
            *first_memoized == memoized
                && graph[*first].component == task.component
                && graph[*first].settings == task.settings
        };
        if let Some((_, _, name)) = self.variants.iter().find(same) {
            return Ok(name.clone());
        }
        let component = &self.dag.components[task.component];
        let name = self.reserve_template(&component.k8s_name);
        let template = self.container_template(&name, component, &task.settings, memoized)?;
        self.variants.push((node, memoized, name.clone()));
        self.variant_templates.push(template);
        Ok(name)
    }

    fn container_template(
        &self,
        name: &str,
        component: &Component,
        settings: &Settings,
        memoized: bool,
    ) -> Result<Json, ArgoError> {
        let prefix = self.options.artifact_uri_prefix.trim_end_matches('/');
        let mut in_params = Vec::new();
        let mut in_artifacts = Vec::new();
        let mut bindings = Vec::new();
        let mut memo_inputs = Vec::new();
        for input in &component.inputs {
            match &input.ty {
                IoType::Parameter(_) => {
                    let mut p = Map::new();
                    p.insert("name".into(), Json::String(input.name.clone()));
                    if let Some(default) = &input.default {
                        let what = format!("the default of input `{}` of `{}`", input.name, component.name);
                        p.insert("default".into(), Json::String(literal_text(default, &what)?));
                    }
                    in_params.push(Json::Object(p));
                    bindings.push((input.name.clone(), InputBinding::Text(input_tag(&input.name))));
                    memo_inputs.push(input.name.clone());
                }
                IoType::Artifact { .. } => {
                    let uri = format!("kfl-uri-{}", input.name);
                    in_params.push(json!({ "name": uri }));
                    in_artifacts.push(json!({ "name": input.name, "path": format!("{INPUTS_DIR}/{}", input.name) }));
                    bindings.push((
                        input.name.clone(),
                        InputBinding::Artifact {
                            path: format!("{INPUTS_DIR}/{}/data", input.name),
                            uri: input_tag(&uri),
                        },
                    ));
                    memo_inputs.push(uri);
                }
                IoType::ArtifactList { .. } => {
                    let uri = format!("kfl-uri-{}", input.name);
                    let key = format!("kfl-key-{}", input.name);
                    in_params.push(json!({ "name": key }));
                    in_params.push(json!({ "name": uri }));
                    in_artifacts.push(json!({
                        "name": input.name,
                        "path": format!("{INPUTS_DIR}/{}", input.name),
                        "s3": { "key": input_tag(&key) },
                    }));
                    bindings.push((
                        input.name.clone(),
                        InputBinding::Artifact { path: format!("{INPUTS_DIR}/{}", input.name), uri: input_tag(&uri) },
                    ));
                    memo_inputs.push(uri);
                }
            }
        }
        let mut out_params = Vec::new();
        let mut out_artifacts = Vec::new();
        let mut out_bindings = Vec::new();
        let mut volumes = Vec::new();
        let mut mounts = Vec::new();
        if !component.outputs.is_empty() {
            volumes.push(json!({ "name": "kfl-params", "emptyDir": {} }));
            mounts.push(json!({ "name": "kfl-params", "mountPath": PARAMS_DIR }));
        }
        for (i, output) in component.outputs.iter().enumerate() {
            match output.ty {
                IoType::Parameter(_) => {
                    let path = format!("{PARAMS_DIR}/{}", output.name);
                    out_params.push(json!({ "name": output.name, "valueFrom": { "path": path } }));
                    out_bindings.push((output.name.clone(), OutputBinding::Parameter { path }));
                }
                IoType::Artifact { .. } | IoType::ArtifactList { .. } => {
                    let key = format!("kfl-key-{}", output.name);
                    in_params.push(json!({ "name": key }));
                    let dir = format!("{OUTPUTS_DIR}/{}", output.name);
                    let volume = format!("kfl-out-{i}");
                    volumes.push(json!({ "name": volume, "emptyDir": {} }));
                    mounts.push(json!({ "name": volume, "mountPath": dir }));
                    out_artifacts.push(json!({
                        "name": output.name,
                        "path": dir,
                        "archive": { "none": {} },
                        "s3": { "key": input_tag(&key) },
                    }));
                    let uri = format!("{prefix}/{}/data", input_tag(&key));
                    // Not a file anyone writes: the default is the value, and a task restored
                    // from the cache reports the URI of the run that made the artifact.
                    out_params.push(json!({
                        "name": format!("kfl-uri-{}", output.name),
                        "valueFrom": { "path": format!("{PARAMS_DIR}/.kfl-uri-{}", output.name), "default": uri },
                    }));
                    out_bindings
                        .push((output.name.clone(), OutputBinding::Artifact { path: format!("{dir}/data"), uri }));
                }
            }
        }
        let mut container = Map::new();
        container.insert("image".into(), Json::String(component.image.clone()));
        let mut env: Vec<Json> = Vec::new();
        match &component.body {
            Body::Script { .. } => {
                let command = kfl_launcher::script_command(component).unwrap_or_default();
                container.insert("command".into(), json!(command));
                for (k, v) in kfl_launcher::env_for(component, &bindings, &out_bindings) {
                    env.push(json!({ "name": k, "value": v }));
                }
            }
            Body::Container { command, args } => {
                let part = |p: &CommandPart| -> Result<String, ArgoError> {
                    Ok(match p {
                        CommandPart::Literal(text) => {
                            no_braces(text, &format!("a command of `{}`", component.name))?;
                            text.clone()
                        }
                        CommandPart::InputValue(n) => input_tag(n),
                        CommandPart::InputPath(n) => match component.inputs.iter().find(|i| i.name == *n) {
                            Some(i) if matches!(i.ty, IoType::ArtifactList { .. }) => format!("{INPUTS_DIR}/{n}"),
                            _ => format!("{INPUTS_DIR}/{n}/data"),
                        },
                        CommandPart::InputUri(n) => input_tag(&format!("kfl-uri-{n}")),
                        CommandPart::OutputPath(n) => format!("{OUTPUTS_DIR}/{n}/data"),
                        CommandPart::OutputUri(n) => format!("{prefix}/{}/data", input_tag(&format!("kfl-key-{n}"))),
                        CommandPart::OutputParameterPath(n) => format!("{PARAMS_DIR}/{n}"),
                    })
                };
                if !command.is_empty() {
                    container.insert("command".into(), json!(command.iter().map(part).collect::<Result<Vec<_>, _>>()?));
                }
                if !args.is_empty() {
                    container.insert("args".into(), json!(args.iter().map(part).collect::<Result<Vec<_>, _>>()?));
                }
            }
        }
        for (k, v) in &settings.env {
            match v {
                EnvValue::Literal(text) => {
                    no_braces(text, &format!("the environment variable `{k}`"))?;
                    env.push(json!({ "name": k, "value": text }));
                }
                EnvValue::Secret { name, key } => {
                    env.push(json!({ "name": k, "valueFrom": { "secretKeyRef": { "name": name, "key": key } } }))
                }
            }
        }
        if !env.is_empty() {
            container.insert("env".into(), Json::Array(env));
        }
        if let Some(resources) = resources(settings) {
            container.insert("resources".into(), resources);
        }
        if !mounts.is_empty() {
            container.insert("volumeMounts".into(), Json::Array(mounts));
        }
        let mut template = Map::new();
        template.insert("name".into(), Json::String(name.to_string()));
        let mut inputs = Map::new();
        if !in_params.is_empty() {
            inputs.insert("parameters".into(), Json::Array(in_params));
        }
        if !in_artifacts.is_empty() {
            inputs.insert("artifacts".into(), Json::Array(in_artifacts));
        }
        if !inputs.is_empty() {
            template.insert("inputs".into(), Json::Object(inputs));
        }
        let mut outputs = Map::new();
        if !out_params.is_empty() {
            outputs.insert("parameters".into(), Json::Array(out_params));
        }
        if !out_artifacts.is_empty() {
            outputs.insert("artifacts".into(), Json::Array(out_artifacts));
        }
        if !outputs.is_empty() {
            template.insert("outputs".into(), Json::Object(outputs));
        }
        let mut labels = Map::new();
        labels.insert("kfl.dev/component".into(), Json::String(component.k8s_name.clone()));
        for (k, v) in &settings.labels {
            labels.insert(k.clone(), Json::String(v.clone()));
        }
        let mut meta = Map::new();
        meta.insert("labels".into(), Json::Object(labels));
        if !settings.annotations.is_empty() {
            meta.insert("annotations".into(), json!(settings.annotations));
        }
        template.insert("metadata".into(), Json::Object(meta));
        let mut selector = settings.node_selector.clone();
        if let Some(accelerator) = &settings.accelerator {
            selector.insert(self.options.accelerator_label.clone(), accelerator.clone());
        }
        if !selector.is_empty() {
            template.insert("nodeSelector".into(), json!(selector));
        }
        if !settings.tolerations.is_empty() {
            let tolerations: Vec<Json> = settings
                .tolerations
                .iter()
                .map(|t| {
                    let mut m = Map::new();
                    for (k, v) in
                        [("key", &t.key), ("operator", &t.operator), ("value", &t.value), ("effect", &t.effect)]
                    {
                        if let Some(v) = v {
                            m.insert(k.into(), Json::String(v.clone()));
                        }
                    }
                    if let Some(s) = t.toleration_seconds {
                        m.insert("tolerationSeconds".into(), json!(s));
                    }
                    Json::Object(m)
                })
                .collect();
            template.insert("tolerations".into(), Json::Array(tolerations));
        }
        if let Some(retries) = settings.retries.filter(|r| *r > 0) {
            template.insert("retryStrategy".into(), json!({ "limit": retries.to_string(), "retryPolicy": "Always" }));
        }
        if let Some(timeout) = settings.timeout {
            template.insert("activeDeadlineSeconds".into(), json!(timeout.seconds()));
        }
        if memoized {
            let values: Vec<String> =
                memo_inputs.iter().map(|n| format!("inputs.parameters[{}]", expr_str(n))).collect();
            let key = format!(
                "kfl-{:016x}-{{{{=sprig.sha256sum(toJson([{}]))}}}}",
                component_hash(component),
                values.join(", ")
            );
            template.insert(
                "memoize".into(),
                json!({
                    "key": key,
                    "maxAge": self.options.cache_max_age,
                    "cache": { "configMap": { "name": self.options.cache_config_map } },
                }),
            );
        }
        if !volumes.is_empty() {
            template.insert("volumes".into(), Json::Array(volumes));
        }
        template.insert("container".into(), Json::Object(container));
        Ok(Json::Object(template))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Domain {
    Number,
    Bool,
    String,
}

fn resources(settings: &Settings) -> Option<Json> {
    let mut requests = Map::new();
    let mut limits = Map::new();
    if let Some(cpu) = settings.cpu {
        requests.insert("cpu".into(), Json::String(cpu.to_k8s()));
    }
    if let Some(memory) = settings.memory {
        requests.insert("memory".into(), Json::String(memory.to_k8s()));
    }
    if let Some(cpu) = settings.cpu_limit {
        limits.insert("cpu".into(), Json::String(cpu.to_k8s()));
    }
    if let Some(memory) = settings.memory_limit {
        limits.insert("memory".into(), Json::String(memory.to_k8s()));
    }
    if let Some(gpu) = settings.gpu.filter(|g| *g > 0) {
        limits.insert("nvidia.com/gpu".into(), Json::String(gpu.to_string()));
    }
    let mut out = Map::new();
    if !requests.is_empty() {
        out.insert("requests".into(), Json::Object(requests));
    }
    if !limits.is_empty() {
        out.insert("limits".into(), Json::Object(limits));
    }
    (!out.is_empty()).then_some(Json::Object(out))
}

fn input_tag(name: &str) -> String {
    format!("{{{{inputs.parameters.{name}}}}}")
}

fn value_type(v: &Value) -> ParamType {
    match v {
        Value::String(_) => ParamType::String,
        Value::Int(_) => ParamType::Int,
        Value::Float(_) => ParamType::Float,
        Value::Bool(_) => ParamType::Bool,
        Value::List(_) => ParamType::List,
        Value::Map(_) => ParamType::Map,
    }
}

/// A string as an `expr` string literal. Braces are escaped so that no `}}` ends the tag early.
fn expr_str(text: &str) -> String {
    Json::String(text.to_string()).to_string().replace('{', "\\u007b").replace('}', "\\u007d")
}

fn float_literal(f: f64) -> String {
    let text = format!("{f}");
    if text.contains(['.', 'e', 'E']) || text.contains("inf") || text.contains("NaN") {
        text
    } else {
        format!("{text}.0")
    }
}

/// A literal's text form, refused if Argo would read it as a template.
fn literal_text(value: &Value, what: &str) -> Result<String, ArgoError> {
    let text = value.to_plain_string();
    no_braces(&text, what)?;
    Ok(text)
}

fn no_braces(text: &str, what: &str) -> Result<(), ArgoError> {
    if text.contains("{{") {
        return Err(ArgoError::Unrepresentable(format!(
            "{what} contains `{{{{`, which Argo Workflows reads as a template tag and cannot escape"
        )));
    }
    Ok(())
}

/// A stable hash of what a component does (FNV-1a, 64 bits): part of its cache key.
fn component_hash(component: &Component) -> u64 {
    let text = format!(
        "{}\n{}\n{:?}\n{:?}\n{:?}\n{:?}",
        component.name, component.image, component.packages, component.body, component.inputs, component.outputs
    );
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

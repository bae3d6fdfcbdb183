//! From a [`Dag`] to the PipelineSpec's `root`, `components` and `deploymentSpec`.
//!
//! **Scopes.** KFP nests DAGs: the root, and one sub-DAG component per control-flow block. Here every
//! condition branch, loop and called pipeline of the [`Dag`] is a scope; an exit handler is one
//! too, but inverted, as kfp compiles `dsl.ExitHandler`: the scope (`exit-handler-1`) holds the
//! tasks the `finally` block guards, and the `finally` tasks sit beside it in the enclosing DAG,
//! run with `ALL_UPSTREAM_TASKS_COMPLETED` after it.
//!
//! **Channels.** A task may only read its own DAG: its DAG's inputs, constants, and outputs of tasks
//! of the same DAG. So a value travels from where it is made to where it is read, as kfp's
//! compiler makes `pipelinechannel--…` inputs: up through the `dag.outputs` of every scope it leaves
//! (becoming a list when the scope is a loop: that is fan-in), then down through the inputs of
//! every scope it enters. [`Compiler::resolve`] does both, adding the declarations on the way.

mod cel;
mod passthrough;

use cel::field_selector;

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap as HashMap;

use kfl_dag::{Dag, GroupKind, IoType, LoopItems, ParamType, Source, Task, Trigger, Value};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use serde_json::{json, Map, Value as Json};

use crate::executor::{executor_spec, kubernetes_config, PASSTHROUGH_VALUE};
use crate::spec::{definitions, ComponentSpec, DagSpec, TaskSpec};
use crate::types::ChannelType;
use crate::KfpOptions;

/// A value as it can be named inside one DAG.
#[derive(Clone, PartialEq, Debug)]
pub(crate) enum Expr {
    Constant(Json),
    /// An input of the DAG (a pipeline parameter at the root, a channel in a sub-DAG).
    ComponentInput(String),
    /// An output of a task (or of a sub-DAG's task) of the same DAG.
    TaskOutput {
        task: String,
        key: String,
    },
}

/// A task input: a value, the CEL selector applied to it (a field of a loop item), and its type.
#[derive(Clone, Debug)]
pub(crate) struct Arg {
    pub(crate) expr: Expr,
    pub(crate) selector: Option<String>,
    ty: ChannelType,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ScopeKind {
    Root,
    Group(usize),
    /// The guarded body of the exit handler group.
    ExitBody(usize),
}

#[derive(Debug)]
struct Scope {
    kind: ScopeKind,
    parent: Option<usize>,
    /// The name of the scope's task in its parent's DAG.
    key: String,
    /// Its component, without the `comp-` prefix.
    component: String,
    /// The tasks of its DAG by name (sorted and made unique by [`Compiler::assemble`]).
    tasks: Vec<(String, TaskSpec)>,
    inputs: BTreeMap<String, ChannelType>,
    outputs: BTreeMap<String, (ChannelType, Expr)>,
    /// What the parent passes to the scope's task.
    task_inputs: BTreeMap<String, Arg>,
    /// Extra fields of the scope's task: trigger policy, iterator.
    task_fields: TaskSpec,
}

/// Where a value is made.
struct Origin {
    scope: usize,
    expr: Expr,
    channel: String,
    ty: ChannelType,
    /// A field of a loop item: its name and type.
    field: Option<(String, ChannelType)>,
}

pub(crate) struct Compiled {
    pub root: DagSpec,
    pub components: BTreeMap<String, ComponentSpec>,
    pub executors: Map<String, Json>,
    pub kubernetes: Map<String, Json>,
}

/// A DAG's outputs: selectors (`dag.outputs`) and their types (`outputDefinitions`).
#[derive(Default)]
struct Outputs {
    parameters: Map<String, Json>,
    artifacts: Map<String, Json>,
    parameter_definitions: Map<String, Json>,
    artifact_definitions: Map<String, Json>,
}

impl Outputs {
    /// Output `name` of the DAG is output `key` of its task `task`.
    fn add(&mut self, name: String, ty: &ChannelType, task: &str, key: &str) {
        let definition = Json::Object(ty.definition());
        if ty.is_artifact() {
            let selector = json!({ "artifactSelectors": [{ "producerSubtask": task, "outputArtifactKey": key }] });
            self.artifacts.insert(name.clone(), selector);
            self.artifact_definitions.insert(name, definition);
        } else {
            let selector = json!({ "valueFromParameter": { "producerSubtask": task, "outputParameterKey": key } });
            self.parameters.insert(name.clone(), selector);
            self.parameter_definitions.insert(name, definition);
        }
    }
}

/// The executor components, their executors and Kubernetes configs, and the component of each task.
struct Executors {
    /// By task (`NodeIndex::index`): the name of its component, with the `comp-` prefix (empty for
    /// a task whose component is missing).
    task_components: Vec<String>,
    components: Map<String, Json>,
    executors: Map<String, Json>,
    kubernetes: Map<String, Json>,
}

pub(crate) struct Compiler<'a> {
    dag: &'a Dag,
    options: &'a KfpOptions,
    scopes: Vec<Scope>,
    /// Group → its scope (for an exit handler: the scope of its guarded body).
    group_scope: Vec<usize>,
    /// Container (`None` is the pipeline's top level) → its exit handler group.
    handler_of: HashMap<Option<usize>, usize>,
    /// By task (`NodeIndex::index`).
    task_scope: Vec<usize>,
    /// `dependentTasks` by (scope, task name).
    /// (In any order, and maybe repeated: [`Compiler::assemble`] sorts them.)
    deps: Vec<HashMap<String, Vec<String>>>,
    used_components: BTreeSet<String>,
    /// The names of tasks and sub-DAG tasks, in every DAG.
    /// (Made on first use: a pipeline without groups or pass-through tasks never needs it.)
    used_keys: Option<BTreeSet<String>>,
    /// The `kfl-passthrough` executor and its components, one per parameter type, in order of first use.
    passthrough_executor: Option<String>,
    passthrough_components: Vec<(ParamType, String)>,
    /// The `kfl-passthrough` task copying a loop item out of its loop, by (scope, item name).
    copies: HashMap<(usize, String), String>,
}

fn is_handler(dag: &Dag, group: usize) -> bool {
    matches!(dag.groups[group].kind, GroupKind::ExitHandler)
}

impl<'a> Compiler<'a> {
    pub(crate) fn new(dag: &'a Dag, options: &'a KfpOptions) -> Compiler<'a> {
        let mut handler_of = HashMap::default();
        for (g, group) in dag.groups.iter().enumerate() {
            if matches!(group.kind, GroupKind::ExitHandler) {
                handler_of.entry(group.parent).or_insert(g);
            }
        }
        let mut compiler = Compiler {
            dag,
            options,
            scopes: Vec::new(),
            group_scope: Vec::new(),
            handler_of,
            task_scope: Vec::new(),
            deps: Vec::new(),
            used_components: BTreeSet::new(),
            used_keys: None,
            passthrough_executor: None,
            passthrough_components: Vec::new(),
            copies: HashMap::default(),
        };
        compiler.scopes.push(Scope::new(ScopeKind::Root));
        for g in 0..dag.groups.len() {
            let kind = if is_handler(dag, g) { ScopeKind::ExitBody(g) } else { ScopeKind::Group(g) };
            compiler.group_scope.push(compiler.scopes.len());
            compiler.scopes.push(Scope::new(kind));
        }
        // Parents and names, now that every group has its scope.
        for g in 0..dag.groups.len() {
            let s = compiler.group_scope[g];
            let parent = if is_handler(dag, g) {
                compiler.own_scope(dag.groups[g].parent)
            } else {
                compiler.content_scope(dag.groups[g].parent)
            };
            let base = compiler.group_key(g);
            let key = kfl_dag::unique_name(&base, compiler.used_keys());
            compiler.scopes[s].parent = Some(parent);
            compiler.scopes[s].key = key;
        }
        for node in dag.graph.node_indices() {
            let scope = compiler.content_scope(dag.graph[node].group);
            compiler.task_scope.push(scope);
        }
        compiler.deps = compiler.scopes.iter().map(|_| HashMap::default()).collect();
        // Room for each DAG's tasks at once (a TaskSpec is large).
        let mut counts = vec![0; compiler.scopes.len()];
        for scope in &compiler.task_scope {
            counts[*scope] += 1;
        }
        for (scope, count) in compiler.scopes.iter_mut().zip(counts) {
            scope.tasks.reserve(count);
        }
        compiler
    }

    /// The names of tasks and sub-DAG tasks taken so far, in every DAG.
    fn used_keys(&mut self) -> &mut BTreeSet<String> {
        let dag = self.dag;
        self.used_keys.get_or_insert_with(|| dag.graph.node_weights().map(|t| t.k8s_name.clone()).collect())
    }

    /// The scope of a group's own contents, looking through exit handlers.
    fn own_scope(&self, group: Option<usize>) -> usize {
        match group {
            None => 0,
            Some(g) if is_handler(self.dag, g) => self.own_scope(self.dag.groups[g].parent),
            Some(g) => self.group_scope[g],
        }
    }

    /// The scope of what is written directly in `container`: the guarded body if the container has
    /// an exit handler, the enclosing scope for the tasks of the exit handler itself.
    fn content_scope(&self, container: Option<usize>) -> usize {
        match container {
            Some(h) if is_handler(self.dag, h) => self.own_scope(self.dag.groups[h].parent),
            _ => match self.handler_of.get(&container) {
                Some(h) => self.group_scope[*h],
                None => self.own_scope(container),
            },
        }
    }

    fn group_key(&self, g: usize) -> String {
        let group = &self.dag.groups[g];
        let GroupKind::SubPipeline { .. } = group.kind else { return group.k8s_name.clone() };
        // A called pipeline is named after its task, with the tasks that called its callers.
        let mut names = Vec::new();
        let mut current = Some(g);
        while let Some(c) = current {
            if let GroupKind::SubPipeline { task, .. } = &self.dag.groups[c].kind {
                names.push(task.clone());
            }
            current = self.dag.groups[c].parent;
        }
        names.reverse();
        k8s_like(&names.join("-")).unwrap_or_else(|| group.k8s_name.clone())
    }

    fn chain(&self, scope: usize) -> Vec<usize> {
        let mut chain = vec![scope];
        let mut current = scope;
        while let Some(parent) = self.scopes[current].parent {
            chain.push(parent);
            current = parent;
        }
        chain.reverse();
        chain
    }

    fn lowest_common_scope(&self, a: usize, b: usize) -> usize {
        let (ca, cb) = (self.chain(a), self.chain(b));
        ca.iter().zip(cb.iter()).take_while(|(x, y)| x == y).last().map(|(x, _)| *x).unwrap_or(0)
    }

    /// The name, in the DAG of `ancestor`, of the task or sub-DAG task that contains `scope`.
    fn item_in(&self, ancestor: usize, scope: usize, task_key: &str) -> String {
        if scope == ancestor {
            return task_key.to_string();
        }
        let chain = self.chain(scope);
        chain
            .iter()
            .position(|s| *s == ancestor)
            .and_then(|i| chain.get(i + 1))
            .map(|s| self.scopes[*s].key.clone())
            .unwrap_or_else(|| task_key.to_string())
    }

    fn is_loop_scope(&self, scope: usize) -> bool {
        matches!(self.scopes[scope].kind, ScopeKind::Group(g) if matches!(self.dag.groups[g].kind, GroupKind::Loop { .. }))
    }

    fn task_key(&self, node: NodeIndex) -> &str {
        &self.dag.graph[node].k8s_name
    }

    fn loop_item_channel(&self, group: usize) -> String {
        format!("pipelinechannel--{}-loop-item", self.scopes[self.group_scope[group]].key)
    }

    /// The type of the items of loop `group`: from its literal list, else from what reads them.
    fn loop_item_type(&self, group: usize) -> ChannelType {
        if let GroupKind::Loop { items: LoopItems::Values(values), .. } = &self.dag.groups[group].kind {
            if let Some(first) = values.first() {
                let mixed_numbers = values.iter().any(|v| matches!(v, Value::Float(_)));
                return ChannelType::Param(match ParamType::of(first) {
                    ParamType::Int if mixed_numbers => ParamType::Float,
                    ty => ty,
                });
            }
        }
        let mut fields = false;
        for task in self.dag.graph.node_weights() {
            for (input, source) in &task.args {
                if let Source::LoopItem { group: g, field } = source {
                    if *g != group {
                        continue;
                    }
                    if field.is_some() {
                        fields = true;
                    } else if let Some(ty) = self.input_type(task, input) {
                        return ChannelType::of(ty);
                    }
                }
            }
        }
        ChannelType::Param(if fields { ParamType::Map } else { ParamType::String })
    }

    fn loop_field_type(&self, group: usize, field: &str) -> ChannelType {
        if let GroupKind::Loop { items: LoopItems::Values(values), .. } = &self.dag.groups[group].kind {
            if let Some(Value::Map(entries)) = values.first() {
                if let Some((_, v)) = entries.iter().find(|(k, _)| k == field) {
                    return ChannelType::Param(ParamType::of(v));
                }
            }
        }
        for task in self.dag.graph.node_weights() {
            for (input, source) in &task.args {
                if matches!(source, Source::LoopItem { group: g, field: Some(f) } if *g == group && f == field) {
                    if let Some(ty) = self.input_type(task, input) {
                        return ChannelType::of(ty);
                    }
                }
            }
        }
        ChannelType::Param(ParamType::String)
    }

    /// (Borrowed from the DAG, not from the compiler, which stays free to change.)
    fn input_type(&self, task: &Task, input: &str) -> Option<&'a IoType> {
        let dag: &'a Dag = self.dag;
        dag.components[task.component].inputs.iter().find(|i| i.name == input).map(|i| &i.ty)
    }

    fn output_type(&self, node: NodeIndex, output: &str) -> ChannelType {
        let component = &self.dag.components[self.dag.graph[node].component];
        component
            .outputs
            .iter()
            .find(|o| o.name == output)
            .map(|o| ChannelType::of(&o.ty))
            .unwrap_or(ChannelType::Param(ParamType::String))
    }

    fn origin(&self, source: &Source) -> Option<Origin> {
        Some(match source {
            Source::Value(_) => return None,
            Source::Param(name) => {
                let ty = self
                    .dag
                    .params
                    .iter()
                    .find(|p| &p.name == name)
                    .map(|p| ChannelType::of(&p.ty))
                    .unwrap_or(ChannelType::Param(ParamType::String));
                Origin {
                    scope: 0,
                    expr: Expr::ComponentInput(name.clone()),
                    channel: format!("pipelinechannel--{name}"),
                    ty,
                    field: None,
                }
            }
            Source::Output { task, output } | Source::Collected { task, output, .. } => {
                let key = self.task_key(*task).to_string();
                Origin {
                    scope: *self.task_scope.get(task.index())?,
                    expr: Expr::TaskOutput { task: key.clone(), key: output.clone() },
                    channel: format!("pipelinechannel--{key}--{output}"),
                    ty: self.output_type(*task, output),
                    field: None,
                }
            }
            Source::LoopItem { group, field } => {
                let channel = self.loop_item_channel(*group);
                Origin {
                    scope: self.group_scope[*group],
                    expr: Expr::ComponentInput(channel.clone()),
                    channel,
                    ty: self.loop_item_type(*group),
                    field: field.as_ref().map(|f| (f.clone(), self.loop_field_type(*group, f))),
                }
            }
        })
    }

    /// `source` as it can be read inside the DAG of `scope`, declaring the sub-DAG outputs and
    /// inputs it travels through.
    ///
    /// Names: a sub-DAG exposes a task's output as `<task>-<output>`; a value entering a sub-DAG
    /// is the input `pipelinechannel--<producer>--<key>`, named after the task (or sub-DAG task)
    /// and output it comes from in the DAG it leaves, as kfp's local runner expects when it
    /// evaluates conditions; parameters and loop items keep `pipelinechannel--<name>`.
    fn resolve(&mut self, source: &Source, scope: usize) -> Option<Arg> {
        match source {
            Source::Value(v) => {
                return Some(Arg {
                    expr: Expr::Constant(v.to_json()),
                    selector: None,
                    ty: ChannelType::Param(ParamType::of(v)),
                })
            }
            // Read in the DAG it is made in (most reads): what the general case below gives when
            // the producer's scope is the reader's, without naming the channels it needs none of.
            Source::Output { task, output } | Source::Collected { task, output, .. }
                if self.task_scope.get(task.index()) == Some(&scope) =>
            {
                let expr = Expr::TaskOutput { task: self.task_key(*task).to_string(), key: output.clone() };
                return Some(Arg { expr, selector: None, ty: self.output_type(*task, output) });
            }
            _ => {}
        }
        let origin = self.origin(source)?;
        let common = self.lowest_common_scope(origin.scope, scope);
        let mut expr = origin.expr;
        let mut ty = origin.ty;
        let mut field = origin.field;
        // Up: out of every scope between the producer and the common scope.
        let mut current = origin.scope;
        let mut surfaced = match &expr {
            Expr::TaskOutput { task, key } => format!("{task}-{key}"),
            _ => origin.channel.clone(),
        };
        if current != common && !matches!(expr, Expr::TaskOutput { .. }) {
            // A loop item read outside its loop (a called pipeline's output that passes on the
            // item it was given): only a task's output can leave a DAG, so a task of the loop
            // copies it, and the copy is collected like any task output.
            let base = origin.channel.trim_start_matches("pipelinechannel--");
            let (name, selector, item_ty) = match field.take() {
                Some((f, field_ty)) => (format!("{base}-{f}"), Some(field_selector(&f)), field_ty),
                None => (base.to_string(), None, ty),
            };
            let ChannelType::Param(param_ty) = item_ty else { return None };
            let copy = match self.copies.get(&(current, name.clone())) {
                Some(copy) => copy.clone(),
                None => {
                    let arg = Arg { expr, selector, ty: item_ty.clone() };
                    let copy = self.passthrough_task(current, &name, param_ty, &arg);
                    self.copies.insert((current, name), copy.clone());
                    copy
                }
            };
            ty = item_ty;
            surfaced = format!("{copy}-{PASSTHROUGH_VALUE}");
            expr = Expr::TaskOutput { task: copy, key: PASSTHROUGH_VALUE.to_string() };
        }
        while current != common {
            if self.is_loop_scope(current) {
                ty = ty.collected();
            }
            self.scopes[current].outputs.insert(surfaced.clone(), (ty.clone(), expr));
            expr = Expr::TaskOutput { task: self.scopes[current].key.clone(), key: surfaced.clone() };
            current = self.scopes[current].parent?;
        }
        let mut channel = match &expr {
            Expr::TaskOutput { task, key } => format!("pipelinechannel--{task}--{key}"),
            _ => origin.channel,
        };
        // Down: into every scope between the common scope and the reader.
        let chain = self.chain(scope);
        let below = chain.iter().position(|s| *s == common).map(|i| chain[i + 1..].to_vec()).unwrap_or_default();
        for s in below {
            let mut selector = None;
            if let Some((name, field_ty)) = field.take() {
                selector = Some(field_selector(&name));
                channel = format!("{channel}-subvar-{name}");
                ty = field_ty;
            }
            if let Expr::TaskOutput { task, .. } = &expr {
                if let Some(parent) = self.scopes[s].parent {
                    self.deps[parent].entry(self.scopes[s].key.clone()).or_default().push(task.clone());
                }
            }
            self.scopes[s].task_inputs.insert(channel.clone(), Arg { expr, selector, ty: ty.clone() });
            self.scopes[s].inputs.insert(channel.clone(), ty.clone());
            expr = Expr::ComponentInput(channel.clone());
        }
        let selector = field.map(|(name, field_ty)| {
            ty = field_ty;
            field_selector(&name)
        });
        Some(Arg { expr, selector, ty })
    }

    pub(crate) fn compile(mut self) -> Compiled {
        let Executors { task_components, components, executors, kubernetes } = self.executors();
        for node in self.dag.graph.node_indices() {
            // A task whose component is missing (none is) refers to `comp-`.
            let component = task_components.get(node.index()).filter(|c| !c.is_empty());
            self.task(node, component.map_or("comp-", String::as_str));
        }
        for g in 0..self.dag.groups.len() {
            self.group(g);
        }
        let root_outputs = self.pipeline_outputs();
        self.order_dependencies();
        let root = self.assemble(0, root_outputs);
        let mut components: BTreeMap<String, ComponentSpec> =
            components.into_iter().map(|(name, spec)| (name, ComponentSpec::Json(spec))).collect();
        let mut executors = executors;
        self.passthrough_definitions(&mut components, &mut executors);
        for s in 1..self.scopes.len() {
            let outputs = self.sub_dag_outputs(s);
            let spec = self.assemble(s, outputs);
            components.insert(format!("comp-{}", self.scopes[s].component), ComponentSpec::Dag(spec));
        }
        Compiled { root, components, executors, kubernetes }
    }

    /// The spec of a task that runs `component`, in the DAG of its scope.
    /// `component` is the name of its component (`comp-…`).
    fn task(&mut self, node: NodeIndex, component: &str) {
        let dag = self.dag;
        let task = &dag.graph[node];
        let scope = self.task_scope[node.index()];
        let key = task.k8s_name.clone();
        let mut spec = TaskSpec::default();
        let mut producers = Vec::new();
        for (input, source) in &task.args {
            let Some(input_ty) = self.input_type(task, input) else { continue };
            let Some(arg) = self.resolve(source, scope) else { continue };
            if let Expr::TaskOutput { task: producer, .. } = &arg.expr {
                producers.push(producer.clone());
            }
            let target = if input_ty.is_artifact() { &mut spec.artifacts } else { &mut spec.parameters };
            target.insert(input.clone(), arg);
        }
        if !producers.is_empty() {
            self.deps[scope].entry(key.clone()).or_default().extend(producers);
        }
        spec.component = component.to_string();
        spec.name = task.display_name.as_ref().unwrap_or(&task.name).clone();
        spec.caching = Some(task.settings.cache.unwrap_or(true));
        if let Some(retries) = task.settings.retries.filter(|r| *r > 0) {
            // KFL has no backoff settings: kfp's defaults.
            spec.retry_policy = Some(json!({
                "maxRetryCount": retries,
                "backoffDuration": "0s",
                "backoffFactor": 2.0,
                "backoffMaxDuration": "3600s",
            }));
        }
        if let Some(g) = task.group.filter(|g| is_handler(dag, *g)) {
            self.exit_after(scope, &key, g, &mut spec);
        } else if task.trigger == Trigger::AllDone {
            spec.all_upstream_completed = true;
        }
        self.scopes[scope].tasks.push((key, spec));
    }

    /// The fields of a group's task: the condition's trigger, the loop's iterator, and the exit
    /// handler's trigger for a block of `finally`.
    fn group(&mut self, g: usize) {
        let dag = self.dag;
        let s = self.group_scope[g];
        match &dag.groups[g].kind {
            GroupKind::Condition { condition, .. } => {
                let cel = self.cel(condition, s);
                self.scopes[s].task_fields.condition = Some(cel);
            }
            GroupKind::Loop { items, parallelism, .. } => {
                let items = match items {
                    LoopItems::Values(values) => json!({ "raw": Value::List(values.clone()).to_json().to_string() }),
                    LoopItems::Param(p) => self.loop_list(&Source::Param(p.clone()), s),
                    LoopItems::Output { task, output } => {
                        self.loop_list(&Source::Output { task: *task, output: output.clone() }, s)
                    }
                };
                let item = self.loop_item_channel(g);
                let item_ty = self.loop_item_type(g);
                self.scopes[s].inputs.insert(item.clone(), item_ty);
                let fields = &mut self.scopes[s].task_fields;
                fields.parameter_iterator = Some(json!({ "itemInput": item, "items": items }));
                if let Some(limit) = parallelism.filter(|p| *p > 0) {
                    fields.iterator_policy = Some(json!({ "parallelismLimit": limit }));
                }
            }
            GroupKind::ExitHandler | GroupKind::SubPipeline { .. } => {}
        }
        if let (Some(h), Some(parent)) = (dag.groups[g].parent.filter(|h| is_handler(dag, *h)), self.scopes[s].parent) {
            let key = self.scopes[s].key.clone();
            let mut fields = std::mem::take(&mut self.scopes[s].task_fields);
            self.exit_after(parent, &key, h, &mut fields);
            self.scopes[s].task_fields = fields;
        }
    }

    /// The root DAG's outputs. A `DagOutputsSpec` can only select an output of a task of the DAG:
    /// a pipeline output that is a parameter or a constant is copied by a `kfl-passthrough` task,
    /// whose output the DAG selects. (A pipeline artifact passed on as an output is left out: no
    /// task copies artifacts.)
    fn pipeline_outputs(&mut self) -> Outputs {
        let mut outputs = Outputs::default();
        for output in &self.dag.outputs {
            let Some(arg) = self.resolve(&output.source, 0) else { continue };
            match &arg.expr {
                Expr::TaskOutput { task, key } => outputs.add(output.name.clone(), &arg.ty, task, key),
                Expr::ComponentInput(_) | Expr::Constant(_) => {
                    let ty = match (&output.ty, &arg.ty) {
                        (IoType::Parameter(ty), _) => *ty,
                        (_, ChannelType::Param(ty)) => *ty,
                        (_, ChannelType::Artifact { .. }) => continue,
                    };
                    let task = self.passthrough_task(0, &format!("output-{}", output.name), ty, &arg);
                    outputs.add(output.name.clone(), &ChannelType::Param(ty), &task, PASSTHROUGH_VALUE);
                }
            }
        }
        outputs
    }

    /// A sub-DAG's outputs: every one is a task's output surfaced by [`Compiler::resolve`] for a
    /// reader outside. A called pipeline's output that is its parameter or a constant is inlined by
    /// lowering: its readers read the caller's value itself, so the sub-DAG need not declare it.
    fn sub_dag_outputs(&self, s: usize) -> Outputs {
        let mut outputs = Outputs::default();
        for (name, (ty, expr)) in &self.scopes[s].outputs {
            if let Expr::TaskOutput { task, key } = expr {
                outputs.add(name.clone(), ty, task, key);
            }
        }
        outputs
    }

    /// `dependentTasks` from the graph's data and `after` edges, between the items of the lowest DAG
    /// that holds both ends.
    fn order_dependencies(&mut self) {
        let dag = self.dag;
        for edge in dag.graph.edge_references() {
            let (p, c) = (edge.source(), edge.target());
            let (sp, sc) = (self.task_scope[p.index()], self.task_scope[c.index()]);
            if sp == sc {
                // Both in one DAG (what the general case gives then, without the scope chains).
                if p != c {
                    let (producer, consumer) = (&dag.graph[p].k8s_name, &dag.graph[c].k8s_name);
                    match self.deps[sp].get_mut(consumer.as_str()) {
                        Some(deps) => deps.push(producer.clone()),
                        None => {
                            self.deps[sp].insert(consumer.clone(), vec![producer.clone()]);
                        }
                    }
                }
                continue;
            }
            let common = self.lowest_common_scope(sp, sc);
            let producer = self.item_in(common, sp, self.task_key(p));
            let consumer = self.item_in(common, sc, self.task_key(c));
            if producer != consumer {
                self.deps[common].entry(consumer).or_default().push(producer);
            }
        }
    }

    /// A task of the exit handler `handler`: it runs after the guarded body, however that ended.
    fn exit_after(&mut self, scope: usize, key: &str, handler: usize, spec: &mut TaskSpec) {
        let body = self.scopes[self.group_scope[handler]].key.clone();
        self.deps[scope].entry(key.to_string()).or_default().push(body);
        spec.all_upstream_completed = true;
    }

    /// The `items` of a loop over a list parameter or output: an input of the loop's task.
    fn loop_list(&mut self, source: &Source, scope: usize) -> Json {
        match self.resolve(source, scope).map(|a| a.expr) {
            Some(Expr::ComponentInput(name)) => json!({ "inputParameter": name }),
            _ => json!({ "raw": "[]" }),
        }
    }

    /// The component spec of scope `s` (or the root), with the tasks of its DAG.
    fn assemble(&mut self, s: usize, outputs: Outputs) -> DagSpec {
        // The tasks of sub-DAGs whose parent is `s`.
        let children: Vec<usize> = (1..self.scopes.len()).filter(|c| self.scopes[*c].parent == Some(s)).collect();
        let mut tasks = std::mem::take(&mut self.scopes[s].tasks);
        for c in children {
            let child = &self.scopes[c];
            let mut spec = child.task_fields.clone();
            for (name, arg) in &child.task_inputs {
                let target = if arg.ty.is_artifact() { &mut spec.artifacts } else { &mut spec.parameters };
                target.insert(name.clone(), arg.clone());
            }
            spec.component = format!("comp-{}", child.component);
            spec.name = child.key.clone();
            tasks.push((child.key.clone(), spec));
        }
        // By name; of two tasks with one name (there are none), the later is kept. The order is
        // sorted by index, not the tasks themselves, which are large.
        let mut order: Vec<usize> = (0..tasks.len()).collect();
        order.sort_by(|a, b| tasks[*a].0.cmp(&tasks[*b].0).then(b.cmp(a)));
        order.dedup_by(|next, first| tasks[*next].0 == tasks[*first].0);
        let mut slots: Vec<Option<(String, TaskSpec)>> = tasks.into_iter().map(Some).collect();
        let mut tasks: Vec<(String, TaskSpec)> = order.into_iter().filter_map(|i| slots[i].take()).collect();
        for (key, spec) in tasks.iter_mut() {
            if let Some(mut deps) = self.deps[s].remove(key.as_str()) {
                deps.retain(|d| d != key);
                deps.sort_unstable();
                deps.dedup();
                spec.dependent_tasks = deps;
            }
        }
        DagSpec {
            tasks,
            outputs: definitions(outputs.parameters, outputs.artifacts),
            input_definitions: if s == 0 { self.root_inputs() } else { self.scope_inputs(s) },
            output_definitions: definitions(outputs.parameter_definitions, outputs.artifact_definitions),
        }
    }

    fn scope_inputs(&self, s: usize) -> Map<String, Json> {
        let mut parameters = Map::new();
        let mut artifacts = Map::new();
        for (name, ty) in &self.scopes[s].inputs {
            let target = if ty.is_artifact() { &mut artifacts } else { &mut parameters };
            target.insert(name.clone(), Json::Object(ty.definition()));
        }
        definitions(parameters, artifacts)
    }

    fn root_inputs(&self) -> Map<String, Json> {
        let mut parameters = Map::new();
        let mut artifacts = Map::new();
        for param in &self.dag.params {
            let ty = ChannelType::of(&param.ty);
            let mut def = ty.definition();
            if let Some(doc) = &param.doc {
                def.insert("description".into(), json!(doc));
            }
            if let Some(default) = &param.default {
                def.insert("defaultValue".into(), default.to_json());
                def.insert("isOptional".into(), json!(true));
            }
            let target = if ty.is_artifact() { &mut artifacts } else { &mut parameters };
            target.insert(param.name.clone(), Json::Object(def));
        }
        definitions(parameters, artifacts)
    }

    /// One component and executor per distinct (component, executor settings) pair, and the
    /// component each task runs.
    fn executors(&mut self) -> Executors {
        let dag = self.dag;
        // Distinct executors per component, in the order of the tasks that first use them.
        let mut variants: Vec<Vec<(String, Json, Option<Json>)>> = vec![Vec::new(); dag.components.len()];
        let mut task_variant: Vec<(NodeIndex, usize, usize)> = Vec::new();
        // Per component, the distinct settings of its tasks so far (a task's first) and their variant:
        // tasks with the same settings have the same executor, which is then not built again.
        let mut settings_variant: Vec<Vec<(NodeIndex, usize)>> = vec![Vec::new(); dag.components.len()];
        for node in dag.graph.node_indices() {
            let task = &dag.graph[node];
            let Some(component) = dag.components.get(task.component) else { continue };
            let seen =
                settings_variant[task.component].iter().find(|(first, _)| dag.graph[*first].settings == task.settings);
            if let Some((_, index)) = seen {
                task_variant.push((node, task.component, *index));
                continue;
            }
            let executor = executor_spec(component, &task.settings, self.options);
            let kubernetes = kubernetes_config(&task.settings, self.options);
            let identity = format!("{executor}|{}", kubernetes.as_ref().map(Json::to_string).unwrap_or_default());
            let list = &mut variants[task.component];
            let index = match list.iter().position(|(id, _, _)| *id == identity) {
                Some(i) => i,
                None => {
                    list.push((identity, executor, kubernetes));
                    list.len() - 1
                }
            };
            settings_variant[task.component].push((node, index));
            task_variant.push((node, task.component, index));
        }
        // The variant most tasks run gets the plain name; the others `-2`, `-3`, … in order of use.
        let mut names: Vec<Vec<String>> = Vec::new();
        for (c, list) in variants.iter().enumerate() {
            let base = k8s_like(&dag.components[c].k8s_name).unwrap_or_else(|| format!("component-{c}"));
            let uses = |i: usize| task_variant.iter().filter(|(_, tc, ti)| *tc == c && *ti == i).count();
            let mut order: Vec<usize> = (0..list.len()).collect();
            order.sort_by_key(|i| (std::cmp::Reverse(uses(*i)), *i));
            let mut component_names = vec![String::new(); list.len()];
            for i in order {
                component_names[i] = kfl_dag::unique_name(&base, &mut self.used_components);
            }
            names.push(component_names);
        }
        for s in 1..self.scopes.len() {
            let base = match self.scopes[s].kind {
                ScopeKind::Group(g) => match &dag.groups[g].kind {
                    GroupKind::SubPipeline { pipeline, .. } => {
                        k8s_like(pipeline).unwrap_or_else(|| self.scopes[s].key.clone())
                    }
                    _ => self.scopes[s].key.clone(),
                },
                _ => self.scopes[s].key.clone(),
            };
            self.scopes[s].component = kfl_dag::unique_name(&base, &mut self.used_components);
        }
        let mut components = Map::new();
        let mut executors = Map::new();
        let mut kubernetes = Map::new();
        for (c, list) in variants.iter().enumerate() {
            let component = &dag.components[c];
            for (i, (_, executor, k8s)) in list.iter().enumerate() {
                let name = &names[c][i];
                let mut spec = Map::new();
                spec.insert("executorLabel".into(), json!(format!("exec-{name}")));
                let mut parameters = Map::new();
                let mut artifacts = Map::new();
                for input in &component.inputs {
                    let ty = ChannelType::of(&input.ty);
                    let mut def = ty.definition();
                    if let Some(doc) = &input.doc {
                        def.insert("description".into(), json!(doc));
                    }
                    if let Some(default) = &input.default {
                        def.insert("defaultValue".into(), default.to_json());
                        def.insert("isOptional".into(), json!(true));
                    }
                    let target = if ty.is_artifact() { &mut artifacts } else { &mut parameters };
                    target.insert(input.name.clone(), Json::Object(def));
                }
                let inputs = definitions(parameters, artifacts);
                if !inputs.is_empty() {
                    spec.insert("inputDefinitions".into(), Json::Object(inputs));
                }
                let mut parameters = Map::new();
                let mut artifacts = Map::new();
                for output in &component.outputs {
                    let ty = ChannelType::of(&output.ty);
                    let mut def = ty.definition();
                    if let Some(doc) = &output.doc {
                        def.insert("description".into(), json!(doc));
                    }
                    let target = if ty.is_artifact() { &mut artifacts } else { &mut parameters };
                    target.insert(output.name.clone(), Json::Object(def));
                }
                let outputs = definitions(parameters, artifacts);
                if !outputs.is_empty() {
                    spec.insert("outputDefinitions".into(), Json::Object(outputs));
                }
                components.insert(format!("comp-{name}"), Json::Object(spec));
                executors.insert(format!("exec-{name}"), executor.clone());
                if let Some(k8s) = k8s {
                    kubernetes.insert(format!("exec-{name}"), k8s.clone());
                }
            }
        }
        // Each variant's `comp-` name made once, then copied for its tasks.
        let refs: Vec<Vec<String>> =
            names.iter().map(|variants| variants.iter().map(|name| format!("comp-{name}")).collect()).collect();
        let mut task_components = vec![String::new(); dag.graph.node_count()];
        for (node, c, i) in task_variant {
            task_components[node.index()] = refs[c][i].clone();
        }
        Executors { task_components, components, executors, kubernetes }
    }
}

impl Scope {
    fn new(kind: ScopeKind) -> Scope {
        Scope {
            kind,
            parent: None,
            key: String::new(),
            component: String::new(),
            tasks: Vec::new(),
            inputs: BTreeMap::new(),
            outputs: BTreeMap::new(),
            task_inputs: BTreeMap::new(),
            task_fields: TaskSpec::default(),
        }
    }
}

/// A Kubernetes-style name (lowercase letters, digits and `-`), or `None` if nothing is left.
pub(crate) fn k8s_like(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(63).collect();
    let out = out.trim_end_matches('-').to_string();
    (!out.is_empty()).then_some(out)
}

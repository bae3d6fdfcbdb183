//! From the semantic model of a checked pipeline ([`Program`]) to a [`Dag`]. Lowering reads only the
//! model: names are resolved, types known and settings evaluated there, so this file decides only
//! how the pipeline becomes a graph (tasks, edges, groups, fan-in). A name that does not resolve
//! here is a bug, reported as [`LowerError::Internal`] rather than a panic.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use kfl_model::item::{self, Callee, ExprKind, ItemId, Program, Stmt};
use kfl_model::settings::Setting;
use kfl_model::ty::Ty;
use kfl_model::value::Value;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::model::*;

pub use kfl_model::item::ProgramError as LowerError;

/// Lowers a program's root pipeline.
pub fn lower(program: &Program) -> Result<Dag, LowerError> {
    let root = program.root().ok_or_else(|| LowerError::Internal(format!("no pipeline `{}`", program.root.name)))?;
    let mut lowerer = Lowerer {
        program,
        graph: DiGraph::new(),
        groups: Vec::new(),
        components: Vec::new(),
        component_index: HashMap::default(),
        group_counters: HashMap::default(),
    };
    let mut params = Vec::new();
    let mut frame_params = HashMap::default();
    for p in &root.params {
        params.push(PipelineParam {
            name: p.name.clone(),
            ty: io_type(&p.ty),
            declared: p.ty.clone(),
            default: p.default.clone(),
            doc: p.doc.clone(),
        });
        frame_params.insert(p.name.clone(), Source::Param(p.name.clone()));
    }
    let call = Call::default();
    let outputs_map = lowerer.lower_pipeline(root, String::new(), frame_params, None, &call)?;
    let outputs = root
        .outputs
        .iter()
        .filter_map(|o| {
            let source = outputs_map.get(&o.name)?;
            // The type is the model's: as declared, or as the checker typed the value.
            Some(PipelineOutput { name: o.name.clone(), ty: io_type(&o.ty), source: source.clone() })
        })
        .collect();
    Ok(Dag {
        name: root.id.name.clone(),
        k8s_name: kfl_model::k8s::k8s_name(&root.id.name).map(|n| n.as_str().to_string()).unwrap_or_default(),
        description: root.description.clone().or_else(|| root.doc.clone()),
        display_name: root.display_name.clone(),
        source: root.id.file.to_string(),
        params,
        outputs,
        components: lowerer.components,
        graph: lowerer.graph,
        groups: lowerer.groups,
    })
}

/// How a value of a model type is passed between tasks.
pub fn io_type(ty: &Ty) -> IoType {
    match ty {
        Ty::String | Ty::Unknown => IoType::Parameter(ParamType::String),
        Ty::Int => IoType::Parameter(ParamType::Int),
        Ty::Float => IoType::Parameter(ParamType::Float),
        Ty::Bool => IoType::Parameter(ParamType::Bool),
        Ty::List(inner) => match inner.artifact() {
            Some(a) => IoType::ArtifactList { name: a.name.to_string(), builtin: a.builtin.to_string() },
            None => IoType::Parameter(ParamType::List),
        },
        Ty::Map(_) | Ty::Struct(_) => IoType::Parameter(ParamType::Map),
        Ty::Artifact(a) => IoType::Artifact { name: a.name.to_string(), builtin: a.builtin.to_string() },
    }
}

/// What a name in a pipeline body is bound to.
#[derive(Clone)]
enum Bound {
    Task(NodeIndex),
    /// A task that calls a pipeline: its outputs, once lowered.
    Pipeline(usize),
}

struct PendingPipeline<'a> {
    task: &'a item::Task,
    callee: &'a item::Pipeline,
    group: Option<usize>,
    outputs: Option<BTreeMap<String, Source>>,
    in_progress: bool,
}

/// What the calls of pipelines around a body add to each of its tasks: their settings (innermost
/// call first, so that the outermost call is applied last and wins) and the tasks their `after`
/// names.
#[derive(Clone, Default)]
struct Call<'a> {
    settings: Vec<&'a Setting>,
    after: Vec<NodeIndex>,
}

struct Frame<'a> {
    prefix: String,
    /// The pipeline's parameters: where each value comes from.
    params: HashMap<String, Source>,
    tasks: HashMap<&'a str, Bound>,
    pending: Vec<PendingPipeline<'a>>,
    call: Call<'a>,
}

struct Lowerer<'a> {
    program: &'a Program,
    graph: DiGraph<Task, Edge>,
    groups: Vec<Group>,
    components: Vec<Component>,
    component_index: HashMap<ItemId, usize>,
    group_counters: HashMap<&'static str, usize>,
}

/// Loop variables in scope, innermost last: the name and the loop's group.
type Loops = Vec<(String, usize)>;

impl<'a> Lowerer<'a> {
    fn new_group(&mut self, kind: GroupKind, parent: Option<usize>) -> usize {
        let prefix = match &kind {
            GroupKind::Condition { .. } => "condition",
            GroupKind::Loop { .. } => "for-loop",
            GroupKind::ExitHandler => "exit-handler",
            GroupKind::SubPipeline { .. } => "pipeline",
        };
        let counter = self.group_counters.entry(prefix).or_insert(0);
        *counter += 1;
        let k8s_name = format!("{prefix}-{counter}");
        self.groups.push(Group { kind, parent, k8s_name });
        self.groups.len() - 1
    }

    /// Lowers one pipeline body; returns its outputs with their types.
    fn lower_pipeline(
        &mut self,
        pipeline: &'a item::Pipeline,
        prefix: String,
        params: HashMap<String, Source>,
        group: Option<usize>,
        call: &Call<'a>,
    ) -> Result<BTreeMap<String, Source>, LowerError> {
        let mut frame = Frame { prefix, params, tasks: HashMap::default(), pending: Vec::new(), call: call.clone() };
        // Pass 1: nodes for every task, groups for every block, so references may point forward.
        let mut groups = Vec::new();
        self.allocate(&mut frame, &pipeline.body, group, &mut groups)?;
        // Pass 2: arguments, conditions, loop lists, settings, edges.
        let mut groups = groups.into_iter();
        self.connect(&mut frame, &pipeline.body, group, &mut Vec::new(), &mut groups)?;
        // Pipelines called as tasks that nothing referenced are lowered too.
        for i in 0..frame.pending.len() {
            self.ensure_pipeline(&mut frame, i)?;
        }
        let mut outputs = BTreeMap::new();
        for o in &pipeline.outputs {
            let source = self.source(&mut frame, &o.value, &Vec::new(), group)?;
            outputs.insert(o.name.clone(), source);
        }
        Ok(outputs)
    }

    /// Makes the nodes and groups of `stmts`, recording the groups in the order `connect` meets them.
    fn allocate(
        &mut self,
        frame: &mut Frame<'a>,
        stmts: &'a [Stmt],
        group: Option<usize>,
        made: &mut Vec<usize>,
    ) -> Result<(), LowerError> {
        // Room for the statements' tasks at once (a task is large, and a pipeline may have
        // thousands): a few more moves of the graph instead of one per doubling.
        self.graph.reserve_nodes(stmts.len());
        self.graph.reserve_edges(2 * stmts.len());
        frame.tasks.reserve(stmts.len());
        for stmt in stmts {
            match stmt {
                Stmt::Task(t) => match &t.callee {
                    Callee::Component(id) => {
                        let component = self.component(id)?;
                        let mut name = String::with_capacity(frame.prefix.len() + t.name.len());
                        name.push_str(&frame.prefix);
                        name.push_str(&t.name);
                        let node = self.graph.add_node(Task {
                            name,
                            k8s_name: k8s_join(&frame.prefix, &t.name),
                            display_name: None,
                            component,
                            args: Vec::new(),
                            group,
                            settings: Settings::default(),
                            trigger: Trigger::AllSucceeded,
                        });
                        frame.tasks.insert(&t.name, Bound::Task(node));
                    }
                    Callee::Pipeline(id) => {
                        let callee = self
                            .program
                            .pipelines
                            .get(id)
                            .ok_or_else(|| LowerError::Internal(format!("pipeline `{}` vanished", id.name)))?;
                        frame.tasks.insert(&t.name, Bound::Pipeline(frame.pending.len()));
                        frame.pending.push(PendingPipeline {
                            task: t,
                            callee,
                            group,
                            outputs: None,
                            in_progress: false,
                        });
                    }
                },
                Stmt::If(i) => {
                    for (branch, b) in i.branches.iter().enumerate() {
                        let g = self.new_group(
                            GroupKind::Condition {
                                condition: Condition::Is(Operand::Value(Value::Bool(true))),
                                branch,
                                of_if: i.origin.span.start as usize,
                            },
                            group,
                        );
                        made.push(g);
                        self.allocate(frame, &b.body, Some(g), made)?;
                    }
                }
                Stmt::For(l) => {
                    let g = self.new_group(
                        GroupKind::Loop {
                            var: l.var.clone(),
                            items: LoopItems::Values(Vec::new()),
                            parallelism: l.parallelism,
                        },
                        group,
                    );
                    made.push(g);
                    self.allocate(frame, &l.body, Some(g), made)?;
                }
                Stmt::Finally(f) => {
                    let g = self.new_group(GroupKind::ExitHandler, group);
                    made.push(g);
                    self.allocate(frame, &f.body, Some(g), made)?;
                }
            }
        }
        Ok(())
    }

    fn connect(
        &mut self,
        frame: &mut Frame<'a>,
        stmts: &'a [Stmt],
        group: Option<usize>,
        loops: &mut Loops,
        groups: &mut std::vec::IntoIter<usize>,
    ) -> Result<(), LowerError> {
        for stmt in stmts {
            match stmt {
                Stmt::Task(t) => {
                    if let Some(Bound::Task(node)) = frame.tasks.get(t.name.as_str()).cloned() {
                        self.connect_task(frame, node, t, loops, group)?;
                    }
                }
                Stmt::If(i) => {
                    let mut earlier: Vec<Condition> = Vec::new();
                    for b in &i.branches {
                        let g = next_group(groups)?;
                        let own = match &b.cond {
                            Some(cond) => Some(self.condition(frame, cond, loops, group)?),
                            None => None,
                        };
                        // A branch runs when its own condition holds and no earlier one did.
                        let mut whole = own.clone();
                        for previous in earlier.iter().rev() {
                            let not = Condition::Not(Box::new(previous.clone()));
                            whole = Some(match whole {
                                Some(w) => Condition::And(Box::new(not), Box::new(w)),
                                None => not,
                            });
                        }
                        earlier.extend(own);
                        if let (GroupKind::Condition { condition, .. }, Some(w)) = (&mut self.groups[g].kind, whole) {
                            *condition = w;
                        }
                        self.connect(frame, &b.body, Some(g), loops, groups)?;
                    }
                }
                Stmt::For(l) => {
                    let g = next_group(groups)?;
                    let items = match &l.items.kind {
                        ExprKind::Value(Value::List(values)) => LoopItems::Values(values.clone()),
                        _ => match self.source(frame, &l.items, loops, group)? {
                            Source::Param(p) => LoopItems::Param(p),
                            Source::Output { task, output } => LoopItems::Output { task, output },
                            Source::Value(Value::List(values)) => LoopItems::Values(values),
                            _ => {
                                return Err(LowerError::Internal(format!(
                                    "the list of the loop over `{}` is not a list, a parameter or a task's output",
                                    l.var
                                )))
                            }
                        },
                    };
                    if let GroupKind::Loop { items: slot, .. } = &mut self.groups[g].kind {
                        *slot = items;
                    }
                    loops.push((l.var.clone(), g));
                    self.connect(frame, &l.body, Some(g), loops, groups)?;
                    loops.pop();
                }
                Stmt::Finally(f) => {
                    let g = next_group(groups)?;
                    self.connect(frame, &f.body, Some(g), loops, groups)?;
                }
            }
        }
        Ok(())
    }

    fn connect_task(
        &mut self,
        frame: &mut Frame<'a>,
        node: NodeIndex,
        t: &'a item::Task,
        loops: &Loops,
        group: Option<usize>,
    ) -> Result<(), LowerError> {
        let mut args = Vec::new();
        for arg in &t.args {
            let source = self.source(frame, &arg.value, loops, group)?;
            self.add_source_edge(&source, node, Some(&arg.name));
            args.push((arg.name.clone(), source));
        }
        // Defaults of inputs not passed are the component's business; keep declaration order.
        let component = &self.components[self.graph[node].component];
        args.sort_by_key(|(name, _)| component.inputs.iter().position(|i| &i.name == name).unwrap_or(usize::MAX));
        let Callee::Component(id) = &t.callee else {
            return Err(LowerError::Internal(format!("`{}` is not a component task", t.name)));
        };
        let definition = self
            .program
            .components
            .get(id)
            .ok_or_else(|| LowerError::Internal(format!("component `{}` vanished", id.name)))?;
        // The component's defaults, the task's own entries, then those of the calls around it, over
        // the default settings the node was made with.
        let settings = &mut self.graph[node].settings;
        settings.apply_all(&definition.settings);
        settings.apply_all(&t.settings);
        settings.apply_all(frame.call.settings.iter().copied());
        let mut upstream = frame.call.after.clone();
        for name in &t.after {
            upstream.extend(self.task_nodes(frame, name)?);
        }
        for producer in upstream {
            if producer != node && !self.graph.contains_edge(producer, node) {
                self.graph.add_edge(producer, node, Edge::Order);
            }
        }
        // Conditions and loop lists of the enclosing groups are dependencies too.
        for g in self.group_chain(group) {
            for (producer, output) in self.groups[g].kind.reads() {
                if producer != node
                    && !self
                        .graph
                        .edges_connecting(producer, node)
                        .any(|e| matches!(e.weight(), Edge::Data { output: o, .. } if *o == output))
                {
                    self.graph.add_edge(producer, node, Edge::Data { output, input: None });
                }
            }
        }
        let is_exit = self.group_chain(group).iter().any(|g| matches!(self.groups[*g].kind, GroupKind::ExitHandler));
        let task = &mut self.graph[node];
        task.args = args;
        task.display_name = t.display_name.clone();
        if is_exit {
            task.trigger = Trigger::AllDone;
        }
        Ok(())
    }

    /// The nodes a name stands for in `after`: a task, or every task of an inlined pipeline.
    fn task_nodes(&mut self, frame: &mut Frame<'a>, name: &str) -> Result<Vec<NodeIndex>, LowerError> {
        match frame.tasks.get(name).cloned() {
            Some(Bound::Task(node)) => Ok(vec![node]),
            Some(Bound::Pipeline(i)) => {
                self.ensure_pipeline(frame, i)?;
                let prefix = format!("{}{}.", frame.prefix, frame.pending[i].task.name);
                Ok(self.graph.node_indices().filter(|n| self.graph[*n].name.starts_with(&prefix)).collect())
            }
            None => Err(LowerError::Internal(format!("no task `{name}`"))),
        }
    }

    /// Groups from `group` out to the outermost.
    fn group_chain(&self, group: Option<usize>) -> Vec<usize> {
        let mut chain = Vec::new();
        let mut current = group;
        while let Some(g) = current {
            chain.push(g);
            current = self.groups[g].parent;
        }
        chain
    }

    fn add_source_edge(&mut self, source: &Source, node: NodeIndex, input: Option<&str>) {
        if let Source::Output { task, output } | Source::Collected { task, output, .. } = source {
            self.graph.add_edge(*task, node, Edge::Data { output: output.clone(), input: input.map(str::to_string) });
        }
    }

    fn ensure_pipeline(&mut self, frame: &mut Frame<'a>, index: usize) -> Result<(), LowerError> {
        if frame.pending[index].outputs.is_some() {
            return Ok(());
        }
        if frame.pending[index].in_progress {
            return Err(LowerError::Internal("pipelines refer to each other in a cycle".into()));
        }
        frame.pending[index].in_progress = true;
        let task = frame.pending[index].task;
        let callee = frame.pending[index].callee;
        let group_parent = frame.pending[index].group;
        // Arguments are evaluated in the caller's scope (no loop variables of the callee).
        let caller_loops: Loops = self
            .group_chain(group_parent)
            .into_iter()
            .rev()
            .filter_map(|g| match &self.groups[g].kind {
                GroupKind::Loop { var, .. } => Some((var.clone(), g)),
                _ => None,
            })
            .collect();
        let mut params = HashMap::default();
        for arg in &task.args {
            let source = self.source(frame, &arg.value, &caller_loops, group_parent)?;
            params.insert(arg.name.clone(), source);
        }
        for p in &callee.params {
            if !params.contains_key(&p.name) {
                if let Some(default) = &p.default {
                    params.insert(p.name.clone(), Source::Value(default.clone()));
                }
            }
        }
        let mut call = Call { settings: task.settings.iter().collect(), after: frame.call.after.clone() };
        call.settings.extend(frame.call.settings.iter().copied());
        for name in &task.after {
            call.after.extend(self.task_nodes(frame, name)?);
        }
        let g = self.new_group(
            GroupKind::SubPipeline { task: task.name.clone(), pipeline: callee.id.name.clone() },
            group_parent,
        );
        let prefix = format!("{}{}.", frame.prefix, task.name);
        let outputs = self.lower_pipeline(callee, prefix, params, Some(g), &call)?;
        frame.pending[index].outputs = Some(outputs);
        frame.pending[index].in_progress = false;
        Ok(())
    }

    fn condition(
        &mut self,
        frame: &mut Frame<'a>,
        expr: &item::Expr,
        loops: &Loops,
        group: Option<usize>,
    ) -> Result<Condition, LowerError> {
        Ok(match &expr.kind {
            ExprKind::Not(inner) => Condition::Not(Box::new(self.condition(frame, inner, loops, group)?)),
            ExprKind::And(l, r) => Condition::And(
                Box::new(self.condition(frame, l, loops, group)?),
                Box::new(self.condition(frame, r, loops, group)?),
            ),
            ExprKind::Or(l, r) => Condition::Or(
                Box::new(self.condition(frame, l, loops, group)?),
                Box::new(self.condition(frame, r, loops, group)?),
            ),
            ExprKind::Compare(op, l, r) => {
                let l = self.operand(frame, l, loops, group)?;
                let r = self.operand(frame, r, loops, group)?;
                Condition::Compare(*op, l, r)
            }
            _ => Condition::Is(self.operand(frame, expr, loops, group)?),
        })
    }

    fn operand(
        &mut self,
        frame: &mut Frame<'a>,
        expr: &item::Expr,
        loops: &Loops,
        group: Option<usize>,
    ) -> Result<Operand, LowerError> {
        Ok(match self.source(frame, expr, loops, group)? {
            Source::Value(v) => Operand::Value(v),
            Source::Param(p) => Operand::Param(p),
            Source::Output { task, output } | Source::Collected { task, output, .. } => {
                Operand::Output { task, output }
            }
            Source::LoopItem { group, field } => Operand::LoopItem { group, field },
        })
    }

    /// Where a value comes from.
    fn source(
        &mut self,
        frame: &mut Frame<'a>,
        expr: &item::Expr,
        loops: &Loops,
        group: Option<usize>,
    ) -> Result<Source, LowerError> {
        match &expr.kind {
            ExprKind::Value(v) => Ok(Source::Value(v.clone())),
            ExprKind::LoopVar { var, field } => {
                let (_, g) = loops
                    .iter()
                    .rev()
                    .find(|(name, _)| name == var)
                    .ok_or_else(|| LowerError::Internal(format!("no loop over `{var}`")))?;
                Ok(Source::LoopItem { group: *g, field: field.clone() })
            }
            ExprKind::Param(name) => {
                frame.params.get(name).cloned().ok_or_else(|| LowerError::Internal(format!("no parameter `{name}`")))
            }
            ExprKind::Output { task, output } => match frame.tasks.get(task.as_str()).cloned() {
                Some(Bound::Task(node)) => Ok(self.read(node, output.clone(), group)),
                Some(Bound::Pipeline(i)) => {
                    self.ensure_pipeline(frame, i)?;
                    let inner =
                        frame.pending[i].outputs.as_ref().and_then(|o| o.get(output)).cloned().ok_or_else(|| {
                            LowerError::Internal(format!("pipeline task `{task}` has no output `{output}`"))
                        })?;
                    Ok(match inner {
                        // An output of a task inside the called pipeline: read from here, which may be
                        // outside loops that the call (or the task in it) runs in.
                        Source::Output { task: node, output } | Source::Collected { task: node, output, .. } => {
                            self.read(node, output, group)
                        }
                        other => other,
                    })
                }
                None => Err(LowerError::Internal(format!("no task `{task}`"))),
            },
            ExprKind::Not(_) | ExprKind::And(..) | ExprKind::Or(..) | ExprKind::Compare(..) => {
                Err(LowerError::Internal("a condition where a value was expected".into()))
            }
        }
    }

    /// Reading `output` of `node` from `group`: a plain read, or, from outside loops the task runs
    /// in, the outputs of all iterations (collected per loop left, outermost outside).
    fn read(&self, node: NodeIndex, output: String, group: Option<usize>) -> Source {
        let here = self.group_chain(group);
        let left = self
            .group_chain(self.graph[node].group)
            .into_iter()
            .rev()
            .find(|g| !here.contains(g) && matches!(self.groups[*g].kind, GroupKind::Loop { .. }));
        match left {
            None => Source::Output { task: node, output },
            Some(outermost) => Source::Collected { task: node, output, group: outermost },
        }
    }

    /// The component's index, lowering it the first time.
    fn component(&mut self, id: &ItemId) -> Result<usize, LowerError> {
        if let Some(&i) = self.component_index.get(id) {
            return Ok(i);
        }
        let c = self
            .program
            .components
            .get(id)
            .ok_or_else(|| LowerError::Internal(format!("component `{}` vanished", id.name)))?;
        let body = c.body.clone();
        let image = c.image.clone().unwrap_or_else(|| {
            match &body {
                Body::Script { lang: ScriptLang::Sh, .. } => crate::DEFAULT_SH_IMAGE,
                _ => crate::DEFAULT_PYTHON_IMAGE,
            }
            .to_string()
        });
        let name = &id.name;
        let k8s_name =
            kfl_model::k8s::k8s_name(name).map(|n| n.as_str().to_string()).unwrap_or_else(|_| name.replace('_', "-"));
        self.components.push(Component {
            name: name.clone(),
            k8s_name,
            doc: c.doc.clone(),
            inputs: c
                .inputs
                .iter()
                .map(|p| Input {
                    name: p.name.clone(),
                    ty: io_type(&p.ty),
                    default: p.default.clone(),
                    doc: p.doc.clone(),
                })
                .collect(),
            outputs: c
                .outputs
                .iter()
                .map(|o| Output { name: o.name.clone(), ty: io_type(&o.ty), doc: o.doc.clone() })
                .collect(),
            image,
            packages: c.packages.clone(),
            body,
            source: id.file.to_string(),
        });
        let index = self.components.len() - 1;
        self.component_index.insert(id.clone(), index);
        Ok(index)
    }
}

fn next_group(groups: &mut std::vec::IntoIter<usize>) -> Result<usize, LowerError> {
    groups.next().ok_or_else(|| LowerError::Internal("a block without a group".into()))
}

fn k8s_join(prefix: &str, name: &str) -> String {
    // The prefix's `.` and every `_` become `-`.
    let full: String = prefix
        .chars()
        .map(|c| if c == '.' { '-' } else { c })
        .chain(name.chars())
        .map(|c| if c == '_' { '-' } else { c })
        .collect();
    // Already a Kubernetes name (what `k8s_name` accepts, and then returns as it is): most names.
    let bytes = full.as_bytes();
    let valid = bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes.last().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.len() <= kfl_model::k8s::LABEL_MAX_LENGTH
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if valid {
        return full;
    }
    match kfl_model::k8s::k8s_name(&full) {
        Ok(n) => n.as_str().to_string(),
        Err(_) => {
            // Too long: keep the start and make it unique with a hash of the whole name.
            let mut hash: u32 = 0x811c9dc5;
            for b in full.bytes() {
                hash = (hash ^ u32::from(b)).wrapping_mul(0x01000193);
            }
            let head: String = full.chars().take(54).collect::<String>().trim_end_matches('-').to_string();
            format!("{head}-{hash:08x}")
        }
    }
}

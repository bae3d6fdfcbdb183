//! From a checked pipeline to a [`Dag`]. Lowering assumes the checker found no error (it refuses to
//! run otherwise), so a name that does not resolve here is a bug, reported as [`LowerError::Internal`]
//! rather than a panic.

use std::collections::{BTreeMap, HashMap};

use kfl_check::items::{self, lookup, Export, Found};
use kfl_check::types::{artifact_base, ArtifactTy, Ty};
use kfl_check::{k8s, parse, units, Db, SourceFile};
use kfl_diagnostics::Diagnostic;
use kfl_syntax::ast::{self, Expr, ExprKind};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::model::*;

#[derive(Debug)]
pub enum LowerError {
    /// The file or a file it imports has errors: nothing is lowered.
    HasErrors(Vec<(String, Diagnostic)>),
    NoPipeline {
        path: String,
    },
    NoSuchPipeline {
        name: String,
        available: Vec<String>,
    },
    SeveralPipelines {
        available: Vec<String>,
    },
    Internal(String),
}

impl std::fmt::Display for LowerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LowerError::HasErrors(errors) => write!(f, "the pipeline has {} error(s); run `kflc check`", errors.len()),
            LowerError::NoPipeline { path } => write!(f, "{path} declares no pipeline"),
            LowerError::NoSuchPipeline { name, available } => {
                write!(f, "there is no pipeline `{name}`; the file declares {}", available.join(", "))
            }
            LowerError::SeveralPipelines { available } => {
                write!(f, "the file declares several pipelines ({}); choose one with --pipeline", available.join(", "))
            }
            LowerError::Internal(message) => write!(f, "internal error while lowering: {message}"),
        }
    }
}

impl std::error::Error for LowerError {}

/// Every error diagnostic of a file and of the files it imports, transitively.
pub fn errors_in_project(db: &dyn Db, file: SourceFile) -> Vec<(String, Diagnostic)> {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![file];
    let mut errors = Vec::new();
    while let Some(f) = stack.pop() {
        if !seen.insert(f) {
            continue;
        }
        for d in kfl_check::check_file(db, f).iter().filter(|d| d.is_error()) {
            errors.push((f.path(db).to_string(), d.clone()));
        }
        stack.extend(items::imported_files(db, f).iter().copied());
    }
    errors
}

/// Lowers the pipeline `name` of `file` (or its only pipeline).
pub fn lower(db: &dyn Db, file: SourceFile, name: Option<&str>) -> Result<Dag, LowerError> {
    let errors = errors_in_project(db, file);
    if !errors.is_empty() {
        return Err(LowerError::HasErrors(errors));
    }
    let parse = parse(db, file);
    let pipelines: Vec<&ast::Pipeline> = parse
        .file
        .items
        .iter()
        .filter_map(|i| match i {
            ast::Item::Pipeline(p) => Some(p),
            _ => None,
        })
        .collect();
    let available: Vec<String> = pipelines.iter().map(|p| p.name.text.clone()).collect();
    let pipeline = match name {
        Some(name) => pipelines
            .iter()
            .find(|p| p.name.text == name)
            .ok_or_else(|| LowerError::NoSuchPipeline { name: name.to_string(), available: available.clone() })?,
        None => match pipelines.as_slice() {
            [] => return Err(LowerError::NoPipeline { path: file.path(db).to_string() }),
            [one] => one,
            _ => return Err(LowerError::SeveralPipelines { available }),
        },
    };
    let mut lowerer = Lowerer {
        db,
        graph: DiGraph::new(),
        groups: Vec::new(),
        components: Vec::new(),
        component_index: HashMap::new(),
        group_counters: HashMap::new(),
    };
    let mut params = Vec::new();
    let mut frame_params = HashMap::new();
    for p in &pipeline.params {
        let ty = lowerer.io_type(&lowerer.resolve(file, &p.ty));
        let default = p.default.as_ref().map(literal);
        params.push(PipelineParam { name: p.name.text.clone(), ty, default, doc: p.doc.text() });
        frame_params.insert(p.name.text.clone(), Source::Param(p.name.text.clone()));
    }
    let outputs_map = lowerer.lower_pipeline(file, pipeline, String::new(), frame_params, None)?;
    let mut outputs = Vec::new();
    for stmt in &pipeline.body {
        if let ast::StmtKind::Output(o) = &stmt.kind {
            let Some((source, ty)) = outputs_map.get(&o.name.text) else { continue };
            outputs.push(PipelineOutput { name: o.name.text.clone(), ty: ty.clone(), source: source.clone() });
        }
    }
    let field = |name: &str| {
        pipeline.body.iter().find_map(|s| match &s.kind {
            ast::StmtKind::Field(f) if f.name.text == name => match &f.value.kind {
                ExprKind::Str(s) => Some(s.value.clone()),
                _ => None,
            },
            _ => None,
        })
    };
    Ok(Dag {
        name: pipeline.name.text.clone(),
        k8s_name: k8s::k8s_name(&pipeline.name.text).map(|n| n.as_str().to_string()).unwrap_or_default(),
        description: field("description").or_else(|| pipeline.doc.text()),
        display_name: field("display_name"),
        source: file.path(db).to_string(),
        params,
        outputs,
        components: lowerer.components,
        graph: lowerer.graph,
        groups: lowerer.groups,
    })
}

/// The value of a literal expression (the checker made sure it is one).
pub fn literal(expr: &Expr) -> Value {
    match &expr.kind {
        ExprKind::Str(s) => Value::String(s.value.clone()),
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::Number(n) if n.is_integer() => n.value.parse().map(Value::Int).unwrap_or(Value::Int(0)),
        ExprKind::Number(n) => Value::Float(n.value.parse().unwrap_or(0.0)),
        ExprKind::List(items) => Value::List(items.iter().map(literal).collect()),
        ExprKind::Map(entries) => {
            Value::Map(entries.iter().map(|e| (e.key.text().to_string(), literal(&e.value))).collect())
        }
        ExprKind::Paren(inner) => literal(inner),
        _ => Value::String(String::new()),
    }
}

fn strip(expr: &Expr) -> &Expr {
    match &expr.kind {
        ExprKind::Paren(inner) => strip(inner),
        _ => expr,
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
    task_name: String,
    stmt: &'a ast::TaskStmt,
    callee_file: SourceFile,
    callee: &'a ast::Pipeline,
    group: Option<usize>,
    outputs: Option<BTreeMap<String, (Source, IoType)>>,
    in_progress: bool,
}

struct Frame<'a> {
    file: SourceFile,
    prefix: String,
    params: HashMap<String, Source>,
    tasks: HashMap<String, Bound>,
    /// The group each task of this frame is in.
    task_groups: HashMap<String, Option<usize>>,
    pending: Vec<PendingPipeline<'a>>,
    /// Groups of `if` branches, loops and `finally` of this frame, by the statement's start offset.
    stmt_groups: HashMap<u32, Vec<usize>>,
}

struct Lowerer<'db> {
    db: &'db dyn Db,
    graph: DiGraph<Task, Edge>,
    groups: Vec<Group>,
    components: Vec<Component>,
    component_index: HashMap<(SourceFile, String), usize>,
    group_counters: HashMap<&'static str, usize>,
}

impl<'db> Lowerer<'db> {
    fn resolve(&self, file: SourceFile, ty: &ast::TypeExpr) -> Ty {
        items::resolve_type(self.db, file, &items::TypeRef::from_ast(ty)).unwrap_or(Ty::Unknown)
    }

    fn builtin_of(&self, artifact: &ArtifactTy) -> String {
        let mut current = artifact.clone();
        for _ in 0..64 {
            if current.file.is_none() {
                return current.name;
            }
            match artifact_base(self.db, &current) {
                Some(base) => current = base,
                None => break,
            }
        }
        "Artifact".to_string()
    }

    fn io_type(&self, ty: &Ty) -> IoType {
        match ty {
            Ty::String | Ty::Unknown => IoType::Parameter(ParamType::String),
            Ty::Int => IoType::Parameter(ParamType::Int),
            Ty::Float => IoType::Parameter(ParamType::Float),
            Ty::Bool => IoType::Parameter(ParamType::Bool),
            Ty::List(inner) => match &**inner {
                Ty::Artifact(a) => IoType::ArtifactList { name: a.name.clone(), builtin: self.builtin_of(a) },
                _ => IoType::Parameter(ParamType::List),
            },
            Ty::Map(_) | Ty::Struct(_) => IoType::Parameter(ParamType::Map),
            Ty::Artifact(a) => IoType::Artifact { name: a.name.clone(), builtin: self.builtin_of(a) },
        }
    }

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

    /// Lowers one pipeline body; returns its outputs. `params` maps its parameters to sources.
    fn lower_pipeline(
        &mut self,
        file: SourceFile,
        pipeline: &'db ast::Pipeline,
        prefix: String,
        params: HashMap<String, Source>,
        group: Option<usize>,
    ) -> Result<BTreeMap<String, (Source, IoType)>, LowerError> {
        let mut frame = Frame {
            file,
            prefix,
            params,
            tasks: HashMap::new(),
            task_groups: HashMap::new(),
            pending: Vec::new(),
            stmt_groups: HashMap::new(),
        };
        // Pass 1: nodes for every task, groups for every block, so references may point forward.
        self.allocate(&mut frame, &pipeline.body, group)?;
        // Pass 2: arguments, conditions, loop lists, settings, edges.
        self.connect(&mut frame, &pipeline.body, group, &mut Vec::new())?;
        // Pipelines called as tasks that nothing referenced are lowered too.
        for i in 0..frame.pending.len() {
            self.ensure_pipeline(&mut frame, i)?;
        }
        let mut outputs = BTreeMap::new();
        for stmt in &pipeline.body {
            if let ast::StmtKind::Output(o) = &stmt.kind {
                let source = self.source(&mut frame, &o.value, &[], group)?;
                let ty = self.source_type(&frame, &source);
                outputs.insert(o.name.text.clone(), (source, ty));
            }
        }
        Ok(outputs)
    }

    fn allocate(
        &mut self,
        frame: &mut Frame<'db>,
        stmts: &'db [ast::Stmt],
        group: Option<usize>,
    ) -> Result<(), LowerError> {
        for stmt in stmts {
            match &stmt.kind {
                ast::StmtKind::Task(t) => {
                    let name = t.binding.as_ref().unwrap_or(&t.call.callee).text.clone();
                    frame.task_groups.insert(name.clone(), group);
                    match lookup(self.db, frame.file, &t.call.callee.text) {
                        Found::One(owner, Export::Component(_)) => {
                            let component = self.component(owner, &t.call.callee.text)?;
                            let full = format!("{}{}", frame.prefix, name);
                            let k8s_name = k8s_join(&frame.prefix, &name);
                            let node = self.graph.add_node(Task {
                                name: full,
                                k8s_name,
                                display_name: None,
                                component,
                                args: Vec::new(),
                                group,
                                settings: Settings::default(),
                                trigger: Trigger::AllSucceeded,
                            });
                            frame.tasks.insert(name, Bound::Task(node));
                        }
                        Found::One(owner, Export::Pipeline(_)) => {
                            let callee = find_pipeline(self.db, owner, &t.call.callee.text).ok_or_else(|| {
                                LowerError::Internal(format!("pipeline {} vanished", t.call.callee.text))
                            })?;
                            frame.tasks.insert(name.clone(), Bound::Pipeline(frame.pending.len()));
                            frame.pending.push(PendingPipeline {
                                task_name: name,
                                stmt: t,
                                callee_file: owner,
                                callee,
                                group,
                                outputs: None,
                                in_progress: false,
                            });
                        }
                        _ => return Err(LowerError::Internal(format!("cannot resolve `{}`", t.call.callee.text))),
                    }
                }
                ast::StmtKind::If(i) => {
                    let mut groups = Vec::new();
                    let mut current = Some(i);
                    let mut branch = 0;
                    while let Some(i) = current {
                        let g = self.new_group(
                            GroupKind::Condition {
                                condition: Condition::Is(Operand::Value(Value::Bool(true))),
                                branch,
                                of_if: stmt.span.start as usize,
                            },
                            group,
                        );
                        groups.push(g);
                        self.allocate(frame, &i.then.stmts, Some(g))?;
                        branch += 1;
                        current = match &i.otherwise {
                            Some(ast::Else::If(next)) => Some(next),
                            Some(ast::Else::Block(b)) => {
                                let g = self.new_group(
                                    GroupKind::Condition {
                                        condition: Condition::Is(Operand::Value(Value::Bool(true))),
                                        branch,
                                        of_if: stmt.span.start as usize,
                                    },
                                    group,
                                );
                                groups.push(g);
                                self.allocate(frame, &b.stmts, Some(g))?;
                                None
                            }
                            None => None,
                        };
                    }
                    frame.stmt_groups.insert(stmt.span.start, groups);
                }
                ast::StmtKind::For(f) => {
                    let parallelism = f.parallel.as_ref().and_then(|p| match &strip(p).kind {
                        ExprKind::Number(n) => n.value.parse().ok(),
                        _ => None,
                    });
                    let g = self.new_group(
                        GroupKind::Loop { var: f.var.text.clone(), items: LoopItems::Values(Vec::new()), parallelism },
                        group,
                    );
                    frame.stmt_groups.insert(stmt.span.start, vec![g]);
                    self.allocate(frame, &f.body.stmts, Some(g))?;
                }
                ast::StmtKind::Finally(block) => {
                    let g = self.new_group(GroupKind::ExitHandler, group);
                    frame.stmt_groups.insert(stmt.span.start, vec![g]);
                    self.allocate(frame, &block.stmts, Some(g))?;
                }
                ast::StmtKind::Field(_) | ast::StmtKind::Output(_) => {}
            }
        }
        Ok(())
    }

    fn connect(
        &mut self,
        frame: &mut Frame<'db>,
        stmts: &'db [ast::Stmt],
        group: Option<usize>,
        loops: &mut Vec<(String, usize)>,
    ) -> Result<(), LowerError> {
        for stmt in stmts {
            match &stmt.kind {
                ast::StmtKind::Task(t) => {
                    let name = t.binding.as_ref().unwrap_or(&t.call.callee).text.clone();
                    match frame.tasks.get(&name).cloned() {
                        Some(Bound::Task(node)) => self.connect_task(frame, node, t, loops, group)?,
                        Some(Bound::Pipeline(_)) | None => {}
                    }
                }
                ast::StmtKind::If(i) => {
                    let groups = frame.stmt_groups.get(&stmt.span.start).cloned().unwrap_or_default();
                    let mut earlier: Vec<Condition> = Vec::new();
                    let mut current = Some(i);
                    let mut index = 0;
                    while let Some(i) = current {
                        let own = self.condition(frame, &i.cond, loops, group)?;
                        let mut whole = own.clone();
                        for previous in earlier.iter().rev() {
                            whole =
                                Condition::And(Box::new(Condition::Not(Box::new(previous.clone()))), Box::new(whole));
                        }
                        earlier.push(own);
                        let g = groups.get(index).copied().ok_or_else(|| LowerError::Internal("if groups".into()))?;
                        if let GroupKind::Condition { condition, .. } = &mut self.groups[g].kind {
                            *condition = whole;
                        }
                        self.connect(frame, &i.then.stmts, Some(g), loops)?;
                        index += 1;
                        current = match &i.otherwise {
                            Some(ast::Else::If(next)) => Some(next),
                            Some(ast::Else::Block(b)) => {
                                let g = groups
                                    .get(index)
                                    .copied()
                                    .ok_or_else(|| LowerError::Internal("else group".into()))?;
                                let mut whole: Option<Condition> = None;
                                for previous in earlier.iter().rev() {
                                    let not = Condition::Not(Box::new(previous.clone()));
                                    whole = Some(match whole {
                                        Some(w) => Condition::And(Box::new(not), Box::new(w)),
                                        None => not,
                                    });
                                }
                                if let (GroupKind::Condition { condition, .. }, Some(w)) =
                                    (&mut self.groups[g].kind, whole)
                                {
                                    *condition = w;
                                }
                                self.connect(frame, &b.stmts, Some(g), loops)?;
                                None
                            }
                            None => None,
                        };
                    }
                }
                ast::StmtKind::For(f) => {
                    let g = frame
                        .stmt_groups
                        .get(&stmt.span.start)
                        .and_then(|g| g.first().copied())
                        .ok_or_else(|| LowerError::Internal("loop group".into()))?;
                    let items = match &strip(&f.iterable).kind {
                        ExprKind::List(_) => match literal(&f.iterable) {
                            Value::List(values) => LoopItems::Values(values),
                            _ => LoopItems::Values(Vec::new()),
                        },
                        _ => match self.source(frame, &f.iterable, loops, group)? {
                            Source::Param(p) => LoopItems::Param(p),
                            Source::Output { task, output } => LoopItems::Output { task, output },
                            Source::Value(Value::List(values)) => LoopItems::Values(values),
                            other => return Err(LowerError::Internal(format!("unsupported loop list {other:?}"))),
                        },
                    };
                    if let GroupKind::Loop { items: slot, .. } = &mut self.groups[g].kind {
                        *slot = items;
                    }
                    loops.push((f.var.text.clone(), g));
                    self.connect(frame, &f.body.stmts, Some(g), loops)?;
                    loops.pop();
                }
                ast::StmtKind::Finally(block) => {
                    let g = frame
                        .stmt_groups
                        .get(&stmt.span.start)
                        .and_then(|g| g.first().copied())
                        .ok_or_else(|| LowerError::Internal("finally group".into()))?;
                    self.connect(frame, &block.stmts, Some(g), loops)?;
                }
                ast::StmtKind::Field(_) | ast::StmtKind::Output(_) => {}
            }
        }
        Ok(())
    }

    fn connect_task(
        &mut self,
        frame: &mut Frame<'db>,
        node: NodeIndex,
        t: &'db ast::TaskStmt,
        loops: &[(String, usize)],
        group: Option<usize>,
    ) -> Result<(), LowerError> {
        let mut args = Vec::new();
        for arg in &t.call.args {
            let Some(name) = &arg.name else { continue };
            let source = self.source(frame, &arg.value, loops, group)?;
            self.add_source_edge(&source, node, Some(&name.text));
            args.push((name.text.clone(), source));
        }
        // Defaults of inputs not passed are the component's business; keep declaration order.
        let component = &self.components[self.graph[node].component];
        args.sort_by_key(|(name, _)| component.inputs.iter().position(|i| &i.name == name).unwrap_or(usize::MAX));
        let (owner, callee) = match lookup(self.db, frame.file, &t.call.callee.text) {
            Found::One(owner, _) => (owner, t.call.callee.text.clone()),
            _ => return Err(LowerError::Internal("callee".into())),
        };
        let mut settings = component_settings(self.db, owner, &callee);
        let mut display_name = None;
        if let Some(block) = &t.overrides {
            for member in &block.members {
                match member {
                    ast::TaskMember::Block(b) => apply_block(&mut settings, b),
                    ast::TaskMember::Field(f) if f.name.text == "after" => {
                        let targets: Vec<&Expr> = match &strip(&f.value).kind {
                            ExprKind::List(items) => items.iter().collect(),
                            _ => vec![&f.value],
                        };
                        for target in targets {
                            let Some(parts) = strip(target).as_path() else { continue };
                            for upstream in self.task_nodes(frame, &parts[0].text)? {
                                if !self.graph.contains_edge(upstream, node) {
                                    self.graph.add_edge(upstream, node, Edge::Order);
                                }
                            }
                        }
                    }
                    ast::TaskMember::Field(f) if f.name.text == "display_name" => {
                        if let ExprKind::Str(s) = &f.value.kind {
                            display_name = Some(s.value.clone());
                        }
                    }
                    ast::TaskMember::Field(f) => apply_field(&mut settings, f),
                }
            }
        }
        // Conditions and loop lists of the enclosing groups are dependencies too.
        for g in self.group_chain(group) {
            for (producer, output) in self.group_dependencies(g) {
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
        task.settings = settings;
        task.display_name = display_name;
        if is_exit {
            task.trigger = Trigger::AllDone;
        }
        Ok(())
    }

    /// The nodes a name stands for in `after`: a task, or every task of an inlined pipeline.
    fn task_nodes(&mut self, frame: &mut Frame<'db>, name: &str) -> Result<Vec<NodeIndex>, LowerError> {
        match frame.tasks.get(name).cloned() {
            Some(Bound::Task(node)) => Ok(vec![node]),
            Some(Bound::Pipeline(i)) => {
                self.ensure_pipeline(frame, i)?;
                let prefix = format!("{}{}.", frame.prefix, frame.pending[i].task_name);
                Ok(self.graph.node_indices().filter(|n| self.graph[*n].name.starts_with(&prefix)).collect())
            }
            None => Err(LowerError::Internal(format!("no task `{name}`"))),
        }
    }

    fn group_chain(&self, group: Option<usize>) -> Vec<usize> {
        let mut chain = Vec::new();
        let mut current = group;
        while let Some(g) = current {
            chain.push(g);
            current = self.groups[g].parent;
        }
        chain
    }

    fn group_dependencies(&self, g: usize) -> Vec<(NodeIndex, String)> {
        self.groups[g].kind.reads()
    }

    fn add_source_edge(&mut self, source: &Source, node: NodeIndex, input: Option<&str>) {
        if let Source::Output { task, output } | Source::Collected { task, output, .. } = source {
            self.graph.add_edge(*task, node, Edge::Data { output: output.clone(), input: input.map(str::to_string) });
        }
    }

    fn ensure_pipeline(&mut self, frame: &mut Frame<'db>, index: usize) -> Result<(), LowerError> {
        if frame.pending[index].outputs.is_some() {
            return Ok(());
        }
        if frame.pending[index].in_progress {
            return Err(LowerError::Internal("pipelines refer to each other in a cycle".into()));
        }
        frame.pending[index].in_progress = true;
        let stmt = frame.pending[index].stmt;
        let group_parent = frame.pending[index].group;
        let task_name = frame.pending[index].task_name.clone();
        let callee_file = frame.pending[index].callee_file;
        let callee = frame.pending[index].callee;
        let mut params = HashMap::new();
        // Arguments are evaluated in the caller's scope (no loop variables of the callee).
        let caller_loops: Vec<(String, usize)> = self
            .group_chain(group_parent)
            .into_iter()
            .rev()
            .filter_map(|g| match &self.groups[g].kind {
                GroupKind::Loop { var, .. } => Some((var.clone(), g)),
                _ => None,
            })
            .collect();
        for arg in &stmt.call.args {
            let Some(name) = &arg.name else { continue };
            let source = self.source(frame, &arg.value, &caller_loops, group_parent)?;
            params.insert(name.text.clone(), source);
        }
        for p in &callee.params {
            if !params.contains_key(&p.name.text) {
                if let Some(default) = &p.default {
                    params.insert(p.name.text.clone(), Source::Value(literal(default)));
                }
            }
        }
        let g = self.new_group(
            GroupKind::SubPipeline { task: task_name.clone(), pipeline: callee.name.text.clone() },
            group_parent,
        );
        let prefix = format!("{}{}.", frame.prefix, task_name);
        let outputs = self.lower_pipeline(callee_file, callee, prefix, params, Some(g))?;
        frame.pending[index].outputs = Some(outputs);
        frame.pending[index].in_progress = false;
        Ok(())
    }

    fn condition(
        &mut self,
        frame: &mut Frame<'db>,
        expr: &Expr,
        loops: &[(String, usize)],
        group: Option<usize>,
    ) -> Result<Condition, LowerError> {
        Ok(match &expr.kind {
            ExprKind::Paren(inner) => self.condition(frame, inner, loops, group)?,
            ExprKind::Not(inner) => Condition::Not(Box::new(self.condition(frame, inner, loops, group)?)),
            ExprKind::Binary(op, _, lhs, rhs) => {
                let compare = |op: CompareOp| op;
                match op {
                    ast::BinaryOp::And => Condition::And(
                        Box::new(self.condition(frame, lhs, loops, group)?),
                        Box::new(self.condition(frame, rhs, loops, group)?),
                    ),
                    ast::BinaryOp::Or => Condition::Or(
                        Box::new(self.condition(frame, lhs, loops, group)?),
                        Box::new(self.condition(frame, rhs, loops, group)?),
                    ),
                    other => {
                        let op = compare(match other {
                            ast::BinaryOp::Eq => CompareOp::Eq,
                            ast::BinaryOp::Ne => CompareOp::Ne,
                            ast::BinaryOp::Lt => CompareOp::Lt,
                            ast::BinaryOp::Le => CompareOp::Le,
                            ast::BinaryOp::Gt => CompareOp::Gt,
                            _ => CompareOp::Ge,
                        });
                        let l = self.operand(frame, lhs, loops, group)?;
                        let r = self.operand(frame, rhs, loops, group)?;
                        Condition::Compare(op, l, r)
                    }
                }
            }
            _ => Condition::Is(self.operand(frame, expr, loops, group)?),
        })
    }

    fn operand(
        &mut self,
        frame: &mut Frame<'db>,
        expr: &Expr,
        loops: &[(String, usize)],
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
        frame: &mut Frame<'db>,
        expr: &Expr,
        loops: &[(String, usize)],
        group: Option<usize>,
    ) -> Result<Source, LowerError> {
        let expr = strip(expr);
        let Some(parts) = expr.as_path() else {
            return Ok(Source::Value(literal(expr)));
        };
        let head = &parts[0].text;
        if let Some((_, g)) = loops.iter().rev().find(|(var, _)| var == head) {
            return Ok(Source::LoopItem { group: *g, field: parts.get(1).map(|f| f.text.clone()) });
        }
        if let Some(source) = frame.params.get(head) {
            return Ok(source.clone());
        }
        let output = parts
            .get(1)
            .map(|p| p.text.clone())
            .ok_or_else(|| LowerError::Internal(format!("`{head}` without output")))?;
        match frame.tasks.get(head).cloned() {
            Some(Bound::Task(task)) => {
                // Read from outside a loop the task runs in: the outputs of all iterations.
                let here = self.group_chain(group);
                let there = self.group_chain(frame.task_groups.get(head).copied().flatten());
                let left_loop = there
                    .iter()
                    .rev()
                    .find(|g| !here.contains(g) && matches!(self.groups[**g].kind, GroupKind::Loop { .. }));
                Ok(match left_loop {
                    Some(g) => Source::Collected { task, output, group: *g },
                    None => Source::Output { task, output },
                })
            }
            Some(Bound::Pipeline(i)) => {
                self.ensure_pipeline(frame, i)?;
                let source =
                    frame.pending[i].outputs.as_ref().and_then(|o| o.get(&output)).map(|(s, _)| s.clone()).ok_or_else(
                        || LowerError::Internal(format!("pipeline task `{head}` has no output `{output}`")),
                    )?;
                // Read from outside a loop the pipeline is called in: the outputs of all iterations.
                let here = self.group_chain(group);
                let there = self.group_chain(frame.pending[i].group);
                let left_loop = there
                    .iter()
                    .rev()
                    .find(|g| !here.contains(g) && matches!(self.groups[**g].kind, GroupKind::Loop { .. }));
                Ok(match (left_loop, source) {
                    (Some(g), Source::Output { task, output } | Source::Collected { task, output, .. }) => {
                        Source::Collected { task, output, group: *g }
                    }
                    (_, source) => source,
                })
            }
            None => Err(LowerError::Internal(format!("cannot resolve `{head}`"))),
        }
    }

    fn source_type(&self, frame: &Frame, source: &Source) -> IoType {
        match source {
            Source::Output { task, output } | Source::Collected { task, output, .. } => {
                let component = &self.components[self.graph[*task].component];
                let ty = component.outputs.iter().find(|o| &o.name == output).map(|o| o.ty.clone());
                match (ty, source) {
                    (Some(IoType::Artifact { name, builtin }), Source::Collected { .. }) => {
                        IoType::ArtifactList { name, builtin }
                    }
                    (Some(IoType::Parameter(_)), Source::Collected { .. }) => IoType::Parameter(ParamType::List),
                    (Some(ty), _) => ty,
                    (None, _) => IoType::Parameter(ParamType::String),
                }
            }
            Source::Value(v) => IoType::Parameter(match v {
                Value::String(_) => ParamType::String,
                Value::Int(_) => ParamType::Int,
                Value::Float(_) => ParamType::Float,
                Value::Bool(_) => ParamType::Bool,
                Value::List(_) => ParamType::List,
                Value::Map(_) => ParamType::Map,
            }),
            Source::Param(_) | Source::LoopItem { .. } => {
                let _ = frame;
                IoType::Parameter(ParamType::String)
            }
        }
    }

    /// The component's index, lowering it the first time.
    fn component(&mut self, owner: SourceFile, name: &str) -> Result<usize, LowerError> {
        if let Some(&i) = self.component_index.get(&(owner, name.to_string())) {
            return Ok(i);
        }
        let parse = parse(self.db, owner);
        let ast = parse
            .file
            .items
            .iter()
            .find_map(|i| match i {
                ast::Item::Component(c) if c.name.text == name => Some(c),
                _ => None,
            })
            .ok_or_else(|| LowerError::Internal(format!("component `{name}` vanished")))?;
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        let mut image = None;
        let mut packages = Vec::new();
        let mut script = None;
        let mut command = Vec::new();
        let mut args = Vec::new();
        let mut kinds: HashMap<String, (bool, bool)> = HashMap::new();
        for member in &ast.members {
            match &member.kind {
                ast::MemberKind::Input(p) => {
                    let ty = self.io_type(&self.resolve(owner, &p.ty));
                    kinds.insert(p.name.text.clone(), (ty.is_artifact(), false));
                    inputs.push(Input {
                        name: p.name.text.clone(),
                        ty,
                        default: p.default.as_ref().map(literal),
                        doc: member.doc.text(),
                    });
                }
                ast::MemberKind::Output(o) => {
                    let ty = self.io_type(&self.resolve(owner, &o.ty));
                    kinds.insert(o.name.text.clone(), (ty.is_artifact(), true));
                    outputs.push(Output { name: o.name.text.clone(), ty, doc: member.doc.text() });
                }
                ast::MemberKind::Script(s) => {
                    let lang = match s.lang {
                        ast::ScriptLang::Python => ScriptLang::Python,
                        ast::ScriptLang::Sh => ScriptLang::Sh,
                    };
                    script = Some((lang, s.source.value.clone()));
                }
                ast::MemberKind::Field(f) => match f.name.text.as_str() {
                    "image" => image = Some(literal(&f.value).to_plain_string()),
                    "packages" => {
                        if let Value::List(items) = literal(&f.value) {
                            packages = items.iter().map(Value::to_plain_string).collect();
                        }
                    }
                    "command" | "args" => {
                        let target = if f.name.text == "command" { &mut command } else { &mut args };
                        if let ExprKind::List(items) = &strip(&f.value).kind {
                            for item in items {
                                target.push(command_part(item));
                            }
                        }
                    }
                    _ => {}
                },
                ast::MemberKind::Block(_) => {}
            }
        }
        // Placeholders need to know what kind of input or output they name.
        let fix = |part: CommandPart| match part {
            CommandPart::InputPath(n) => match kinds.get(&n) {
                Some((false, true)) => CommandPart::OutputParameterPath(n),
                Some((true, true)) => CommandPart::OutputPath(n),
                _ => CommandPart::InputPath(n),
            },
            CommandPart::InputUri(n) => match kinds.get(&n) {
                Some((_, true)) => CommandPart::OutputUri(n),
                _ => CommandPart::InputUri(n),
            },
            other => other,
        };
        let command: Vec<CommandPart> = command.into_iter().map(fix).collect();
        let args: Vec<CommandPart> = args.into_iter().map(fix).collect();
        let body = match script {
            Some((lang, source)) => Body::Script { lang, source },
            None => Body::Container { command, args },
        };
        let image = image.unwrap_or_else(|| {
            match &body {
                Body::Script { lang: ScriptLang::Sh, .. } => crate::DEFAULT_SH_IMAGE,
                _ => crate::DEFAULT_PYTHON_IMAGE,
            }
            .to_string()
        });
        let k8s_name = k8s::k8s_name(name).map(|n| n.as_str().to_string()).unwrap_or_else(|_| name.replace('_', "-"));
        self.components.push(Component {
            name: name.to_string(),
            k8s_name,
            doc: ast.doc.text(),
            inputs,
            outputs,
            image,
            packages,
            body,
            source: owner.path(self.db).to_string(),
        });
        let index = self.components.len() - 1;
        self.component_index.insert((owner, name.to_string()), index);
        Ok(index)
    }
}

fn k8s_join(prefix: &str, name: &str) -> String {
    let full = format!("{}{}", prefix.replace('.', "-"), name).replace('_', "-");
    match k8s::k8s_name(&full) {
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

fn command_part(expr: &Expr) -> CommandPart {
    match strip(expr).as_path() {
        Some([name]) => CommandPart::InputValue(name.text.clone()),
        Some([name, prop]) if prop.text == "uri" => CommandPart::InputUri(name.text.clone()),
        Some([name, _]) => CommandPart::InputPath(name.text.clone()),
        _ => CommandPart::Literal(literal(expr).to_plain_string()),
    }
}

fn find_pipeline<'db>(db: &'db dyn Db, file: SourceFile, name: &str) -> Option<&'db ast::Pipeline> {
    parse(db, file).file.items.iter().find_map(|i| match i {
        ast::Item::Pipeline(p) if p.name.text == name => Some(p),
        _ => None,
    })
}

/// A component's own settings (its defaults for every task).
fn component_settings(db: &dyn Db, owner: SourceFile, name: &str) -> Settings {
    let mut settings = Settings::default();
    let parse = parse(db, owner);
    for item in &parse.file.items {
        let ast::Item::Component(c) = item else { continue };
        if c.name.text != name {
            continue;
        }
        for member in &c.members {
            match &member.kind {
                ast::MemberKind::Block(b) => apply_block(&mut settings, b),
                ast::MemberKind::Field(f) => apply_field(&mut settings, f),
                _ => {}
            }
        }
    }
    settings
}

fn number(expr: &Expr) -> Option<&ast::NumberLit> {
    match &strip(expr).kind {
        ExprKind::Number(n) => Some(n),
        _ => None,
    }
}

fn apply_block(settings: &mut Settings, block: &ast::KvBlock) {
    for entry in &block.entries {
        let key = entry.key.text().to_string();
        let value = &entry.value;
        match block.name.text.as_str() {
            "resources" => {
                let n = number(value);
                match key.as_str() {
                    "cpu" => settings.cpu = n.and_then(|n| units::parse_cpu(&n.value, n.unit.as_deref()).ok()),
                    "cpu_limit" => {
                        settings.cpu_limit = n.and_then(|n| units::parse_cpu(&n.value, n.unit.as_deref()).ok())
                    }
                    "memory" => settings.memory = n.and_then(|n| units::parse_memory(&n.value, n.unit.as_deref()).ok()),
                    "memory_limit" => {
                        settings.memory_limit = n.and_then(|n| units::parse_memory(&n.value, n.unit.as_deref()).ok())
                    }
                    "gpu" => settings.gpu = n.and_then(|n| units::parse_gpu(&n.value, n.unit.as_deref()).ok()),
                    "accelerator" => settings.accelerator = Some(literal(value).to_plain_string()),
                    _ => {}
                }
            }
            "env" => {
                let env = match &strip(value).kind {
                    ExprKind::Call(call) if call.callee.text == "secret" => {
                        let get = |n: &str| {
                            call.args
                                .iter()
                                .find(|a| a.name.as_ref().is_some_and(|x| x.text == n))
                                .map(|a| literal(&a.value).to_plain_string())
                                .unwrap_or_default()
                        };
                        EnvValue::Secret { name: get("name"), key: get("key") }
                    }
                    _ => EnvValue::Literal(literal(value).to_plain_string()),
                };
                settings.env.retain(|(k, _)| *k != key);
                settings.env.push((key, env));
            }
            "node_selector" => {
                settings.node_selector.insert(key, literal(value).to_plain_string());
            }
            "labels" => {
                settings.labels.insert(key, literal(value).to_plain_string());
            }
            "annotations" => {
                settings.annotations.insert(key, literal(value).to_plain_string());
            }
            _ => {}
        }
    }
}

fn apply_field(settings: &mut Settings, field: &ast::Field) {
    match field.name.text.as_str() {
        "retries" => settings.retries = number(&field.value).and_then(|n| n.value.parse().ok()),
        "timeout" => {
            settings.timeout =
                number(&field.value).and_then(|n| units::parse_duration(&n.value, n.unit.as_deref()).ok())
        }
        "cache" => settings.cache = matches!(literal(&field.value), Value::Bool(false)).then_some(false).or(Some(true)),
        "tolerations" => {
            if let Value::List(items) = literal(&field.value) {
                settings.tolerations = items
                    .iter()
                    .filter_map(|item| match item {
                        Value::Map(entries) => {
                            let get = |k: &str| entries.iter().find(|(n, _)| n == k).map(|(_, v)| v.to_plain_string());
                            Some(Toleration {
                                key: get("key"),
                                operator: get("operator"),
                                value: get("value"),
                                effect: get("effect"),
                                toleration_seconds: entries.iter().find_map(|(n, v)| match (n.as_str(), v) {
                                    ("toleration_seconds", Value::Int(i)) => Some(*i),
                                    _ => None,
                                }),
                            })
                        }
                        _ => None,
                    })
                    .collect();
            }
        }
        _ => {}
    }
}

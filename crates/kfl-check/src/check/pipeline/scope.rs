//! What a pipeline declares, gathered before any statement is checked: its parameters, every task
//! and loop with the scopes it sits in, its top-level fields, outputs and `finally` blocks.
//!
//! The body of a long pipeline is checked in pieces (runs of top-level statements, as the parser
//! cuts them). Each piece is summed up on its own, with spans relative to the piece
//! ([`PieceSummary`]), and the summaries are put together into one [`PipelineScope`], which holds
//! no span: a place is an [`At`], such as "the name of task 12", and its span is found only when
//! the diagnostics are put in the file ([`resolve`]). So an edit that changes a piece's text but
//! nothing it declares (an argument's value, even one that moves everything after it) leaves the
//! scope equal, and every other piece keeps its checks.

use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use kfl_diagnostics::Span;
use kfl_syntax::ast;

use crate::items::TypeRef;
use crate::types::Ty;

/// A place in a pipeline, named by what is there: a span of the body moves with every edit before
/// it, and a check that named spans would change with it. [`resolve`] finds the span.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) enum At {
    /// The name of the task of that number (in the order of the body).
    Task(u32),
    /// The name of the first task of that name (what a reference to the name means): a piece
    /// names another piece's task so, since an edit above renumbers every task.
    FirstTask(Arc<str>),
    /// The variable of the first loop over that variable.
    FirstLoop(Arc<str>),
    /// What that task calls.
    Callee(u32),
    /// The variable of the loop of that number.
    Loop(u32),
    /// The name of the top-level output of that number.
    Output(u32),
    /// The keyword of the top-level `finally` of that number.
    Finally(u32),
    /// The name of the top-level field of that number.
    Field(u32),
    /// A span in the pipeline's head (its parameters), which an edit of the body does not move.
    Head(Span),
    /// A position in the file (an item of the same file).
    File(Span),
}

/// A scope of the body: a loop or one branch of an `if`, numbered in the order of the body.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum ScopeId {
    Loop(u32),
    Branch(u32),
}

/// What one run of top-level statements declares. Spans are relative to the piece; loop and branch
/// numbers count from the piece's first.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub(crate) struct PieceSummary {
    pub tasks: Vec<TaskDecl>,
    pub loops: Vec<LoopDecl>,
    pub branches: u32,
    /// The `finally` keywords at the top level of the body.
    pub finallies: Vec<Span>,
    /// Fields set at the top level of the body.
    pub fields: Vec<(String, Span)>,
    /// Outputs at the top level of the body.
    pub outputs: Vec<OutputDecl>,
    /// The names the piece's expressions start with (`t` of `t.model`, a parameter, a loop
    /// variable), each once, sorted: what its checks look up in the rest of the pipeline.
    pub reads: Vec<Arc<str>>,
    /// What its tasks call, each once, sorted (looked up too, when it is no component).
    pub callees: Vec<Arc<str>>,
    /// The names of its tasks, each once, sorted: with the first task of the name and how many
    /// tasks have it.
    pub declared: Vec<(Arc<str>, u32, u32)>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct TaskDecl {
    pub name: Arc<str>,
    pub span: Span,
    /// Written without `name =` (the task is named after what it calls).
    pub unbound: bool,
    pub callee: Arc<str>,
    pub callee_span: Span,
    pub scopes: Vec<ScopeId>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct LoopDecl {
    pub var: String,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct OutputDecl {
    pub name: String,
    pub span: Span,
    /// Its type, when written.
    pub ty: Option<TypeRef>,
    /// Its value, when that is a path (`t.model`).
    pub path: Option<Vec<String>>,
}

/// Sums up `stmts`, a run of top-level statements whose spans index `text`.
pub(crate) fn summarize(stmts: &[ast::Stmt], text: &str) -> PieceSummary {
    let mut summary = PieceSummary::default();
    let mut scopes = Vec::new();
    collect(&mut summary, &mut scopes, stmts, text, true);
    summary.reads.sort_unstable();
    summary.reads.dedup();
    summary.callees = summary.tasks.iter().map(|t| t.callee.clone()).collect();
    summary.callees.sort_unstable();
    summary.callees.dedup();
    // (A whole body is one piece for the CLI: no search per task.)
    let mut names: Vec<(&Arc<str>, u32)> = summary.tasks.iter().enumerate().map(|(i, t)| (&t.name, i as u32)).collect();
    names.sort_unstable();
    let mut declared: Vec<(Arc<str>, u32, u32)> = Vec::new();
    for (name, index) in names {
        match declared.last_mut() {
            Some((last, _, count)) if last == name => *count += 1,
            _ => declared.push((name.clone(), index, 1)),
        }
    }
    summary.declared = declared;
    summary
}

/// Adds the first name of every path in `expr` to `reads`.
fn read_names(reads: &mut Vec<Arc<str>>, expr: &ast::Expr) {
    use ast::ExprKind;
    match &expr.kind {
        ExprKind::Path(parts) => reads.push(parts[0].text.as_str().into()),
        ExprKind::Field(inner, _) | ExprKind::Not(inner) | ExprKind::Paren(inner) => read_names(reads, inner),
        ExprKind::Binary(_, _, a, b) => {
            read_names(reads, a);
            read_names(reads, b);
        }
        ExprKind::List(items) => items.iter().for_each(|e| read_names(reads, e)),
        ExprKind::Map(entries) => entries.iter().for_each(|e| read_names(reads, &e.value)),
        ExprKind::Call(call) => call.args.iter().for_each(|a| read_names(reads, &a.value)),
        ExprKind::Str(_) | ExprKind::Number(_) | ExprKind::Bool(_) => {}
    }
}

fn collect(out: &mut PieceSummary, scopes: &mut Vec<ScopeId>, stmts: &[ast::Stmt], text: &str, top: bool) {
    for stmt in stmts {
        match &stmt.kind {
            ast::StmtKind::Task(t) => {
                t.call.args.iter().for_each(|a| read_names(&mut out.reads, &a.value));
                for member in t.overrides.iter().flat_map(|b| &b.members) {
                    match member {
                        ast::TaskMember::Block(b) => {
                            b.entries.iter().for_each(|e| read_names(&mut out.reads, &e.value))
                        }
                        ast::TaskMember::Field(f) => read_names(&mut out.reads, &f.value),
                    }
                }
                let name = t.binding.as_ref().unwrap_or(&t.call.callee);
                out.tasks.push(TaskDecl {
                    name: name.text.as_str().into(),
                    span: name.span,
                    unbound: t.binding.is_none(),
                    callee: t.call.callee.text.as_str().into(),
                    callee_span: t.call.callee.span,
                    scopes: scopes.clone(),
                });
            }
            ast::StmtKind::If(i) => {
                let mut cond = Some(i);
                while let Some(i) = cond {
                    read_names(&mut out.reads, &i.cond);
                    cond = match &i.otherwise {
                        Some(ast::Else::If(next)) => Some(next),
                        _ => None,
                    };
                }
                for block in i.blocks() {
                    scopes.push(ScopeId::Branch(out.branches));
                    out.branches += 1;
                    collect(out, scopes, &block.stmts, text, false);
                    scopes.pop();
                }
            }
            ast::StmtKind::For(f) => {
                read_names(&mut out.reads, &f.iterable);
                f.parallel.iter().for_each(|p| read_names(&mut out.reads, p));
                scopes.push(ScopeId::Loop(out.loops.len() as u32));
                out.loops.push(LoopDecl { var: f.var.text.clone(), span: f.var.span });
                collect(out, scopes, &f.body.stmts, text, false);
                scopes.pop();
            }
            ast::StmtKind::Finally(block) => {
                if top {
                    out.finallies.push(finally_keyword(stmt, text));
                }
                collect(out, scopes, &block.stmts, text, false);
            }
            ast::StmtKind::Field(f) if top => out.fields.push((f.name.text.clone(), f.name.span)),
            ast::StmtKind::Output(o) if top => {
                read_names(&mut out.reads, &o.value);
                out.outputs.push(OutputDecl {
                    name: o.name.text.clone(),
                    span: o.name.span,
                    ty: o.ty.as_ref().map(TypeRef::from_ast),
                    path: o.value.as_path().map(|parts| parts.iter().map(|p| p.text.clone()).collect()),
                });
            }
            ast::StmtKind::Field(_) | ast::StmtKind::Output(_) => {}
        }
    }
}

/// The span of the `finally` keyword of a `finally` statement (after its doc comments).
pub(crate) fn finally_keyword(stmt: &ast::Stmt, text: &str) -> Span {
    let keyword_start = match stmt.doc.span {
        Some(doc) => {
            let from = doc.end as usize;
            text.get(from..).and_then(|rest| rest.find("finally")).map_or(stmt.span.start as usize, |i| from + i)
        }
        None => stmt.span.start as usize,
    };
    Span::new(keyword_start, keyword_start + "finally".len())
}

/// What a pipeline declares: its parameters with their types, and what its body declares
/// ([`BodyScope`], which needs no name resolved, so that the file's exports can be read from it),
/// with an index of every name. Made again only when a declaration changed.
#[derive(Debug)]
pub(crate) struct PipelineScope {
    /// The parameters, each name once (a repeated one is an error of the head, not a second entry).
    pub params: Arc<Vec<ParamEntry>>,
    pub body: Arc<BodyScope>,
    /// For each name of a task (whether a parameter has it or not): the first task of that name,
    /// how many tasks have it, the piece of the first, and whether a parameter has the name.
    pub(super) names: HashMap<Arc<str>, (u32, u32, u32, bool)>,
    /// The first loop over each variable.
    loop_vars: HashMap<String, u32>,
    /// Whether two tasks share a name, or a task and a parameter.
    pub(super) names_shared: bool,
}

/// Equal when made of the same parameters and declarations (the indexes are made of those).
impl PartialEq for PipelineScope {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params && self.body == other.body
    }
}

impl Eq for PipelineScope {}

impl PipelineScope {
    pub(crate) fn new(params: Vec<ParamEntry>, body: Arc<BodyScope>) -> Self {
        let mut names: HashMap<Arc<str>, (u32, u32, u32, bool)> = HashMap::default();
        names.reserve(body.task_count as usize);
        for (index, piece, task) in body.task_decls() {
            names.entry(task.name.clone()).or_insert((index, 0, piece as u32, false)).1 += 1;
        }
        for param in &params {
            if let Some(entry) = names.get_mut(param.name.as_str()) {
                entry.3 = true;
            }
        }
        let mut loop_vars = HashMap::default();
        for (index, l) in body.loops.iter().enumerate() {
            loop_vars.entry(l.var.clone()).or_insert(index as u32);
        }
        let names_shared = names.values().any(|&(_, count, _, a_parameter_has_it)| count > 1 || a_parameter_has_it);
        PipelineScope { params: Arc::new(params), body, names, loop_vars, names_shared }
    }

    /// The first task of that name, unless a parameter has it (the same as
    /// [`BodyScope::task_named`], from an index of every name).
    pub(crate) fn task_named(&self, name: &str) -> Option<u32> {
        let &(first, _, _, a_parameter_has_it) = self.names.get(name)?;
        (!a_parameter_has_it).then_some(first)
    }

    /// Whether a loop of the body is over a variable of that name.
    pub(crate) fn is_loop_var(&self, name: &str) -> bool {
        self.loop_vars.contains_key(name)
    }
}

impl std::ops::Deref for PipelineScope {
    type Target = BodyScope;
    fn deref(&self) -> &BodyScope {
        &self.body
    }
}

/// What a pipeline's body declares: the summaries of its pieces, and what is made of them.
#[derive(Debug, Default)]
pub(crate) struct BodyScope {
    pub name: String,
    /// The names of the pipeline's parameters.
    params: Vec<String>,
    /// What everything below is made of; two scopes of the same summaries are equal.
    summaries: Vec<Arc<PieceSummary>>,
    /// The tasks' names, a block of pieces at a time (each block is memoized by its pieces, so an
    /// edit makes one block again, not an index of every task), and the number of each block's
    /// first task.
    blocks: Vec<(u32, Arc<TaskBlock>)>,
    /// How many tasks the body has.
    task_count: u32,
    /// Every loop, in the order of the body.
    pub loops: Vec<LoopEntry>,
    /// Where each piece's tasks, loops and branches start in the numbering of the whole body.
    pub starts: Vec<Starts>,
    /// Statements of the body did not parse: names they might declare are not reported missing.
    pub broken: bool,
    /// The first declaration of each top-level output (a later one of the same name is an error),
    /// and how many there are.
    pub first_outputs: HashMap<String, (u32, u32)>,
    /// Every top-level output, in order.
    pub outputs: Vec<OutputEntry>,
    /// How many `finally` blocks the top level has.
    pub finallies: u32,
    /// Fields set at the top level, in order.
    pub fields: Vec<String>,
}

#[derive(PartialEq, Eq, Debug)]
pub(crate) struct OutputEntry {
    pub name: String,
    pub at: At,
    pub ty: Option<TypeRef>,
    pub path: Option<Vec<String>>,
}

impl OutputEntry {
    /// The first name of its value when that is a path (`t` of `t.model`).
    pub fn head(&self) -> Option<&str> {
        self.path.as_ref().and_then(|p| p.first()).map(String::as_str)
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct ParamEntry {
    pub name: String,
    pub ty: Ty,
    pub at: At,
}

/// Equal when made of summaries that declare the same (compared by pointer first: after an edit
/// all but one are the same memo), under the same name, parameters and state. Spans do not count.
impl PartialEq for BodyScope {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.broken == other.broken
            && self.params == other.params
            && self.summaries.len() == other.summaries.len()
            && self.summaries.iter().zip(&other.summaries).all(|(a, b)| Arc::ptr_eq(a, b) || a.declares_the_same(b))
    }
}

impl Eq for BodyScope {}

/// A task of the body, as [`BodyScope::task`] finds it.
pub(crate) struct TaskEntry<'s> {
    pub name: &'s Arc<str>,
    pub callee: &'s Arc<str>,
    /// The scopes it is in, outermost first, in the numbering of the whole body.
    pub scopes: Vec<ScopeId>,
}

/// The first task of each name in a run of pieces, numbered from the run's first task.
#[derive(PartialEq, Eq, Debug, Default)]
pub(crate) struct TaskBlock {
    pub names: HashMap<Arc<str>, u32>,
    pub tasks: u32,
}

impl TaskBlock {
    pub(crate) fn new<'s>(summaries: impl IntoIterator<Item = &'s PieceSummary>) -> Self {
        let mut block = TaskBlock::default();
        for summary in summaries {
            for task in &summary.tasks {
                block.names.entry(task.name.clone()).or_insert(block.tasks);
                block.tasks += 1;
            }
        }
        block
    }
}

/// Pieces per [`TaskBlock`].
pub(crate) const PIECES_PER_BLOCK: usize = 64;

#[derive(PartialEq, Eq, Debug)]
pub(crate) struct LoopEntry {
    pub var: String,
    pub at: At,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct Starts {
    pub task: u32,
    pub loop_: u32,
    pub branch: u32,
    pub output: u32,
    pub finally: u32,
    pub field: u32,
}

impl PieceSummary {
    /// Whether two summaries declare the same, wherever it is written.
    pub(crate) fn declares_the_same(&self, other: &PieceSummary) -> bool {
        let tasks = self.tasks.len() == other.tasks.len()
            && self.tasks.iter().zip(&other.tasks).all(|(a, b)| {
                a.name == b.name && a.unbound == b.unbound && a.callee == b.callee && a.scopes == b.scopes
            });
        let loops =
            self.loops.len() == other.loops.len() && self.loops.iter().zip(&other.loops).all(|(a, b)| a.var == b.var);
        let outputs = self.outputs.len() == other.outputs.len()
            && self
                .outputs
                .iter()
                .zip(&other.outputs)
                .all(|(a, b)| a.name == b.name && a.ty == b.ty && a.path == b.path);
        let fields =
            self.fields.len() == other.fields.len() && self.fields.iter().zip(&other.fields).all(|(a, b)| a.0 == b.0);
        tasks
            && loops
            && outputs
            && fields
            && self.branches == other.branches
            && self.finallies.len() == other.finallies.len()
    }
}

impl BodyScope {
    /// Puts the summaries of a pipeline's pieces together, in order. `params`: the names of the
    /// pipeline's parameters (a task named like one is not indexed).
    pub(crate) fn new(
        name: String,
        params: &[&str],
        summaries: Vec<Arc<PieceSummary>>,
        blocks: Vec<Arc<TaskBlock>>,
        broken: bool,
    ) -> Self {
        let mut scope = BodyScope {
            name,
            broken,
            params: params.iter().map(|p| p.to_string()).collect(),
            starts: Vec::with_capacity(summaries.len()),
            ..BodyScope::default()
        };
        for block in blocks {
            scope.blocks.push((scope.task_count, block.clone()));
            scope.task_count += block.tasks;
        }
        let mut starts = Starts::default();
        for summary in &summaries {
            scope.starts.push(starts);
            starts.task += summary.tasks.len() as u32;
            starts.branch += summary.branches;
            starts.finally += summary.finallies.len() as u32;
            for l in &summary.loops {
                scope.loops.push(LoopEntry { var: l.var.clone(), at: At::Loop(starts.loop_) });
                starts.loop_ += 1;
            }
            for output in &summary.outputs {
                scope.first_outputs.entry(output.name.clone()).or_insert((starts.output, 0)).1 += 1;
                scope.outputs.push(OutputEntry {
                    name: output.name.clone(),
                    at: At::Output(starts.output),
                    ty: output.ty.clone(),
                    path: output.path.clone(),
                });
                starts.output += 1;
            }
            for (name, _) in &summary.fields {
                scope.fields.push(name.clone());
                starts.field += 1;
            }
        }
        scope.finallies = starts.finally;
        scope.summaries = summaries;
        scope
    }

    /// The first task of that name, unless a parameter has it.
    pub(crate) fn task_named(&self, name: &str) -> Option<u32> {
        if self.params.iter().any(|p| p == name) {
            return None;
        }
        self.blocks.iter().find_map(|(first, block)| block.names.get(name).map(|local| first + local))
    }

    /// The names of the tasks, each once, but those a parameter has.
    pub(crate) fn task_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        let mut seen = rustc_hash::FxHashSet::default();
        for (_, block) in &self.blocks {
            for name in block.names.keys() {
                if seen.insert(&**name) && !self.params.iter().any(|p| **p == **name) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// The piece that holds task `index`, and its place in it.
    fn piece_of_task(&self, index: u32) -> Option<(usize, usize)> {
        let after = self.starts.partition_point(|s| s.task <= index);
        (0..after).rev().find_map(|p| {
            let local = (index - self.starts[p].task) as usize;
            (local < self.summaries[p].tasks.len()).then_some((p, local))
        })
    }

    /// Task `index` of the body.
    pub(crate) fn task(&self, index: u32) -> Option<TaskEntry<'_>> {
        let (piece, local) = self.piece_of_task(index)?;
        Some(self.entry(piece, &self.summaries[piece].tasks[local]))
    }

    /// The first task of that name, a parameter's name or not (what a pipeline's output or the
    /// editor means by `name.output`).
    pub(crate) fn first_task(&self, name: &str) -> Option<TaskEntry<'_>> {
        match self.task_named(name) {
            Some(index) => self.task(index),
            None => self.tasks().map(|(_, t)| t).find(|t| **t.name == *name),
        }
    }

    /// Every task, in the order of the body.
    pub(crate) fn tasks(&self) -> impl Iterator<Item = (u32, TaskEntry<'_>)> + '_ {
        self.task_decls().map(|(index, piece, task)| (index, self.entry(piece, task)))
    }

    /// A task declared as `task` in `piece`, with its scopes numbered in the whole body.
    fn entry<'s>(&'s self, piece: usize, task: &'s TaskDecl) -> TaskEntry<'s> {
        let starts = self.starts[piece];
        TaskEntry {
            name: &task.name,
            callee: &task.callee,
            scopes: task
                .scopes
                .iter()
                .map(|s| match *s {
                    ScopeId::Loop(i) => ScopeId::Loop(starts.loop_ + i),
                    ScopeId::Branch(i) => ScopeId::Branch(starts.branch + i),
                })
                .collect(),
        }
    }

    /// Every task as its piece declares it, in the order of the body: its number, its piece's,
    /// and the declaration (for what needs only names).
    /// The summary of piece `index`.
    pub(crate) fn summary(&self, index: u32) -> Option<&Arc<PieceSummary>> {
        self.summaries.get(index as usize)
    }

    pub(crate) fn task_decls(&self) -> impl Iterator<Item = (u32, usize, &TaskDecl)> + '_ {
        self.summaries.iter().zip(&self.starts).enumerate().flat_map(|(piece, (summary, starts))| {
            (summary.tasks.iter().enumerate()).map(move |(local, task)| (starts.task + local as u32, piece, task))
        })
    }
}

/// The span of a place in a pipeline whose pieces (their summaries, in order) start at `offsets`,
/// and whose head starts at `head`. `None` for a place the pieces do not have.
pub(crate) fn resolve(
    at: &At,
    scope: &BodyScope,
    summaries: &[&PieceSummary],
    offsets: &[u32],
    head: u32,
) -> Option<Span> {
    let shift = |span: Span, by: u32| Span { start: span.start + by, end: span.end + by };
    // The piece that holds the `index`th place of a kind: the last to start at or before it that
    // has that many (pieces without any start where the next one does).
    let find = |index: u32, start: fn(&Starts) -> u32, count: fn(&PieceSummary) -> usize| {
        let after = scope.starts.partition_point(|s| start(s) <= index);
        (0..after).rev().find_map(|p| {
            let local = (index - start(&scope.starts[p])) as usize;
            (local < count(summaries.get(p)?)).then_some((p, local))
        })
    };
    let at = match at {
        At::FirstTask(name) => At::Task(scope.task_named(name)?),
        At::FirstLoop(var) => At::Loop(scope.loops.iter().position(|l| *l.var == **var)? as u32),
        other => other.clone(),
    };
    let (piece, span) = match at {
        At::FirstTask(_) | At::FirstLoop(_) => return None,
        At::Head(span) => return Some(shift(span, head)),
        At::File(span) => return Some(span),
        At::Task(i) | At::Callee(i) => {
            let (p, local) = find(i, |s| s.task, |s| s.tasks.len())?;
            let task = &summaries[p].tasks[local];
            (p, if matches!(at, At::Task(_)) { task.span } else { task.callee_span })
        }
        At::Loop(i) => {
            let (p, local) = find(i, |s| s.loop_, |s| s.loops.len())?;
            (p, summaries[p].loops[local].span)
        }
        At::Output(i) => {
            let (p, local) = find(i, |s| s.output, |s| s.outputs.len())?;
            (p, summaries[p].outputs[local].span)
        }
        At::Finally(i) => {
            let (p, local) = find(i, |s| s.finally, |s| s.finallies.len())?;
            (p, summaries[p].finallies[local])
        }
        At::Field(i) => {
            let (p, local) = find(i, |s| s.field, |s| s.fields.len())?;
            (p, summaries[p].fields[local].1)
        }
    };
    Some(shift(span, *offsets.get(piece)?))
}

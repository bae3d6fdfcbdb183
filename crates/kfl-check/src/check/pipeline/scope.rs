//! What a pipeline declares, gathered before any statement is checked: its parameters, every task
//! and loop with the scopes it sits in, its top-level fields, outputs and `finally` blocks.
//!
//! The body of a long pipeline is checked in pieces (runs of top-level statements, as the parser
//! cuts them). Each piece is summed up on its own, with spans relative to the piece
//! ([`PieceSummary`]), and the summaries are put together into one [`PipelineScope`], in which a
//! span is an [`At`]: a piece and a span relative to it. So an edit that changes a piece's text
//! but nothing it declares (an argument's value, say) leaves the scope equal, and every other piece
//! keeps its checks.

use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use kfl_diagnostics::Span;
use kfl_syntax::ast;

use crate::items::TypeRef;
use crate::types::Ty;

/// [`At::piece`] of a span in the pipeline's head (its name and parameters).
pub(crate) const HEAD: u32 = u32::MAX - 1;
/// [`At::piece`] of a span that is already a position in the file (an item of the same file).
pub(crate) const FILE: u32 = u32::MAX;

/// A span in one piece of a pipeline: a statement piece (its ordinal), [`HEAD`] or [`FILE`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct At {
    pub piece: u32,
    pub span: Span,
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
    summary
}

fn collect(out: &mut PieceSummary, scopes: &mut Vec<ScopeId>, stmts: &[ast::Stmt], text: &str, top: bool) {
    for stmt in stmts {
        match &stmt.kind {
            ast::StmtKind::Task(t) => {
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
                for block in i.blocks() {
                    scopes.push(ScopeId::Branch(out.branches));
                    out.branches += 1;
                    collect(out, scopes, &block.stmts, text, false);
                    scopes.pop();
                }
            }
            ast::StmtKind::For(f) => {
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
            ast::StmtKind::Output(o) if top => out.outputs.push(OutputDecl {
                name: o.name.text.clone(),
                span: o.name.span,
                ty: o.ty.as_ref().map(TypeRef::from_ast),
                path: o.value.as_path().map(|parts| parts.iter().map(|p| p.text.clone()).collect()),
            }),
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

/// Everything a piece's checks need to know about the rest of its pipeline: its parameters with
/// their types, and what its body declares ([`BodyScope`], which needs no name resolved, so that
/// the file's exports can be read from it).
#[derive(PartialEq, Eq, Debug)]
pub(crate) struct PipelineScope {
    /// The parameters, each name once (a repeated one is an error of the head, not a second entry).
    pub params: Vec<ParamEntry>,
    pub body: Arc<BodyScope>,
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
    /// Every task, in the order of the body.
    pub tasks: Vec<TaskEntry>,
    /// The first task of each name (a task named like a parameter is not here).
    pub task_index: HashMap<Arc<str>, u32>,
    /// Every loop, in the order of the body.
    pub loops: Vec<LoopEntry>,
    /// Where each piece's tasks, loops and branches start in the numbering of the whole body.
    pub starts: Vec<Starts>,
    /// Statements of the body did not parse: names they might declare are not reported missing.
    pub broken: bool,
    /// The first declaration of each top-level output (a later one of the same name is an error).
    pub first_outputs: HashMap<String, At>,
    /// Every top-level output, in order.
    pub outputs: Vec<OutputEntry>,
    /// The `finally` keywords at the top level, in order.
    pub finallies: Vec<At>,
    /// Fields set at the top level, in order.
    pub fields: Vec<(String, At)>,
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

#[derive(PartialEq, Eq, Debug)]
pub(crate) struct ParamEntry {
    pub name: String,
    pub ty: Ty,
    pub at: At,
}

/// Equal when made of equal summaries (compared by pointer first: after an edit all but one
/// are the same memo), under the same name, parameters and state.
impl PartialEq for BodyScope {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.broken == other.broken
            && self.params == other.params
            && self.summaries.len() == other.summaries.len()
            && self.summaries.iter().zip(&other.summaries).all(|(a, b)| Arc::ptr_eq(a, b) || a == b)
    }
}

impl Eq for BodyScope {}

#[derive(PartialEq, Eq, Debug)]
pub(crate) struct TaskEntry {
    pub name: Arc<str>,
    pub at: At,
    pub unbound: bool,
    pub callee: Arc<str>,
    pub callee_at: At,
    pub scopes: Vec<ScopeId>,
}

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
}

impl BodyScope {
    /// Puts the summaries of a pipeline's pieces together, in order. `params`: the names of the
    /// pipeline's parameters (a task named like one is not indexed).
    pub(crate) fn new(name: String, params: &[&str], summaries: Vec<Arc<PieceSummary>>, broken: bool) -> Self {
        let tasks: usize = summaries.iter().map(|s| s.tasks.len()).sum();
        let mut scope = BodyScope {
            name,
            broken,
            params: params.iter().map(|p| p.to_string()).collect(),
            tasks: Vec::with_capacity(tasks),
            task_index: HashMap::with_capacity_and_hasher(tasks, Default::default()),
            ..BodyScope::default()
        };
        let mut branches = 0;
        for (piece, summary) in summaries.iter().enumerate() {
            let piece = piece as u32;
            let starts = Starts { task: scope.tasks.len() as u32, loop_: scope.loops.len() as u32, branch: branches };
            branches += summary.branches;
            scope.starts.push(starts);
            for task in &summary.tasks {
                let index = scope.tasks.len() as u32;
                if !scope.task_index.contains_key(&*task.name) && !params.contains(&&*task.name) {
                    scope.task_index.insert(task.name.clone(), index);
                }
                scope.tasks.push(TaskEntry {
                    name: task.name.clone(),
                    at: At { piece, span: task.span },
                    unbound: task.unbound,
                    callee: task.callee.clone(),
                    callee_at: At { piece, span: task.callee_span },
                    scopes: task
                        .scopes
                        .iter()
                        .map(|s| match *s {
                            ScopeId::Loop(i) => ScopeId::Loop(starts.loop_ + i),
                            ScopeId::Branch(i) => ScopeId::Branch(starts.branch + i),
                        })
                        .collect(),
                });
            }
            for l in &summary.loops {
                scope.loops.push(LoopEntry { var: l.var.clone(), at: At { piece, span: l.span } });
            }
            for output in &summary.outputs {
                let at = At { piece, span: output.span };
                scope.first_outputs.entry(output.name.clone()).or_insert(at);
                scope.outputs.push(OutputEntry {
                    name: output.name.clone(),
                    at,
                    ty: output.ty.clone(),
                    path: output.path.clone(),
                });
            }
            scope.finallies.extend(summary.finallies.iter().map(|&span| At { piece, span }));
            scope.fields.extend(summary.fields.iter().map(|(name, span)| (name.clone(), At { piece, span: *span })));
        }
        scope.summaries = summaries;
        scope
    }
}

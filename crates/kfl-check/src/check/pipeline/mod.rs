//! Pipelines: parameters, the body's statements and scopes (`if` branches, `for` loops,
//! `finally`), conditions, loop headers and pipeline outputs.
//!
//! A pipeline is checked in three steps, so that a long one can be checked piece by piece:
//! 1. `scope`: what the body declares (tasks, loops, outputs), summed up piece by piece and put
//!    together, so references may point forward and into other pieces;
//! 2. [`PieceChecker`]: each run of top-level statements is checked against that scope, giving
//!    diagnostics and *effects* (which outputs it reads, which tasks it waits for, which
//!    parameters it uses);
//! 3. `global`: what needs the whole pipeline: parameters, names declared twice, the graph's
//!    cycles, recursion, and what is never used (from the effects of every piece).
//!
//! `pieces` runs the steps: as salsa queries on the parser's pieces (the language server, where an
//! edit inside one statement re-checks that statement's piece only), or at once on a whole body.
//! Both give the same diagnostics.
//!
//! - `tasks`: what a task calls, its arguments and overrides
//! - `expressions`: expressions and their types
//! - `graph` and `unused`: parts of step 3

mod expressions;
mod global;
mod graph;
mod piece_scope;
pub(crate) mod pieces;
pub(crate) mod scope;
mod tasks;
mod unused;

use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use kfl_diagnostics::{Code, Diagnostic, Span};
use kfl_syntax::ast::{self, Expr, ExprKind};

use crate::check::helpers::{is_constant, strip_parens};
use crate::check::Checker;
use crate::items::Export;
use crate::types::Ty;
use crate::SourceFile;

use piece_scope::PieceScope;
use scope::{At, ScopeId};

/// What checking one piece found out about the rest of the pipeline. A task it reads is named by
/// its name (a reference means the first task of that name); one of its own tasks by its number
/// in the piece. Nothing depends on where the piece is in the body.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub(crate) struct PieceEffects {
    /// Parameters read (their index in [`scope::PipelineScope::params`]).
    pub params_used: Vec<u32>,
    /// Outputs read: the task and the output's name.
    pub reads: Vec<(Arc<str>, String)>,
    /// Tasks named in an `after`.
    pub after: Vec<Arc<str>>,
    /// Tasks referred to wrongly (their unused-result warnings would only add noise).
    pub bad: Vec<Arc<str>>,
    /// The piece's task `.0` waits for task `.1`.
    pub deps: Vec<(u32, Arc<str>)>,
    /// Imported files a name was taken from.
    pub used_imports: Vec<SourceFile>,
}

impl PieceEffects {
    /// The imported files in a fixed order (they were gathered in a set). The other lists are in
    /// the order of the piece's text, so checking the same text gives equal effects.
    fn tidy(&mut self) {
        self.used_imports.sort_unstable_by_key(salsa::plumbing::AsId::as_id);
        self.used_imports.dedup();
    }
}

struct LoopState {
    elem: Ty,
    used: bool,
}

/// Checks the statements of one piece of a pipeline body against what it reads of the rest of
/// the pipeline ([`PieceScope`]). Tasks are handles of the piece's scope (its own tasks first,
/// numbered from 0); loops and branches are numbered from the piece's first.
pub(super) struct PieceChecker<'c, 's, 'db> {
    c: &'c mut Checker<'db>,
    scope: &'s PieceScope,
    /// The text the piece's spans index (for the place of a `finally` keyword).
    text: &'s str,
    /// The loops of this piece.
    loops: Vec<LoopState>,
    /// What the tasks read so far call.
    callees: HashMap<u32, Option<(SourceFile, &'db Export)>>,
    /// Current nesting while walking the body.
    scopes: Vec<ScopeId>,
    /// The task whose statement is being checked, and the tasks it waits for so far.
    current_task: Option<u32>,
    current_deps: Vec<u32>,
    /// Tasks read by the conditions and loop lists that enclose the current statement.
    enclosing_deps: Vec<u32>,
    branch_count: u32,
    effects: PieceEffects,
}

impl<'c, 's, 'db> PieceChecker<'c, 's, 'db> {
    pub(super) fn new(c: &'c mut Checker<'db>, scope: &'s PieceScope, text: &'s str) -> Self {
        PieceChecker {
            c,
            scope,
            text,
            loops: Vec::new(),
            callees: HashMap::default(),
            scopes: Vec::new(),
            current_task: None,
            current_deps: Vec::new(),
            enclosing_deps: Vec::new(),
            branch_count: 0,
            effects: PieceEffects::default(),
        }
    }

    /// Checks `stmts` (the piece's top-level statements) and returns the effects.
    pub(super) fn run(mut self, stmts: &[ast::Stmt]) -> PieceEffects {
        self.misplaced(stmts, true);
        let mut loop_counter = 0;
        let mut task_counter = 0;
        self.walk(stmts, &mut loop_counter, &mut task_counter, true);
        self.check_outputs(stmts);
        let mut effects = std::mem::take(&mut self.effects);
        effects.used_imports.extend(self.c.used_imports.iter().copied());
        effects.tidy();
        effects
    }

    /// Whether statements of the body did not parse (each has its syntax error). Names they might
    /// have declared are not reported as missing, and nothing is reported as unused.
    fn has_broken_statements(&self) -> bool {
        self.scope.broken
    }

    /// A span elsewhere in the pipeline, for a label.
    fn at(&mut self, at: At) -> Span {
        self.c.at(at)
    }

    /// The name of task `handle`, as effects name it.
    fn task_name(&self, handle: u32) -> Arc<str> {
        self.scope.task(handle).map_or_else(|| Arc::from(""), |t| t.name.clone())
    }

    /// What task `target` calls (a task further down is typed like one above).
    fn callee(&mut self, target: u32) -> Option<(SourceFile, &'db Export)> {
        if let Some(known) = self.callees.get(&target) {
            return *known;
        }
        let scope = self.scope;
        let found = match scope.task(target).map(|t| self.c.lookup(t.callee)) {
            Some(crate::items::Found::One(owner, export @ (Export::Component(_) | Export::Pipeline(_)))) => {
                Some((owner, export))
            }
            _ => None,
        };
        self.callees.insert(target, found);
        found
    }

    /// `finally` blocks, fields and outputs where they cannot be (nested in the body).
    fn misplaced(&mut self, stmts: &[ast::Stmt], top: bool) {
        for stmt in stmts {
            match &stmt.kind {
                ast::StmtKind::Task(_) => {}
                ast::StmtKind::If(i) => {
                    for block in i.blocks() {
                        self.misplaced(&block.stmts, false);
                    }
                }
                ast::StmtKind::For(f) => self.misplaced(&f.body.stmts, false),
                ast::StmtKind::Finally(block) => {
                    if !top {
                        let finally_span = scope::finally_keyword(stmt, self.text);
                        self.c.push(
                            Diagnostic::new(Code::MisplacedFinally, finally_span, "`finally` must be at the top level of a pipeline")
                                .label("inside a condition or loop")
                                .help("move the `finally` block out to the pipeline's body: it runs once, when the whole pipeline ends"),
                        );
                    }
                    self.misplaced(&block.stmts, false);
                }
                ast::StmtKind::Field(f) if !top => self.c.push(
                    Diagnostic::new(
                        Code::UnknownField,
                        f.name.span,
                        format!("`{}` cannot be set inside a block", f.name.text),
                    )
                    .label("field inside a condition or loop")
                    .help("pipeline fields belong at the top of the pipeline; a task is written `name = component(…)`"),
                ),
                ast::StmtKind::Output(o) if !top => self.c.push(
                    Diagnostic::new(Code::UnknownField, o.name.span, "`output` belongs at the top level of a pipeline")
                        .label("output inside a condition or loop")
                        .help("declare pipeline outputs in the pipeline's body, outside `if`, `for` and `finally`"),
                ),
                ast::StmtKind::Field(_) | ast::StmtKind::Output(_) => {}
            }
        }
    }

    fn walk(&mut self, stmts: &[ast::Stmt], loop_counter: &mut u32, task_counter: &mut u32, top: bool) {
        let mut field_names = Vec::new();
        for stmt in stmts {
            match &stmt.kind {
                ast::StmtKind::Task(t) => {
                    let index = *task_counter;
                    *task_counter += 1;
                    self.check_task(index, t);
                }
                ast::StmtKind::Field(f) => {
                    if self.scopes.is_empty() {
                        field_names.push(&f.name);
                        if kfl_model::fields::field(&f.name.text)
                            .is_some_and(|spec| spec.allowed_in(kfl_model::fields::Place::Pipeline))
                        {
                            let ty = self.c.literal_ty(&f.value);
                            self.c.expect_type(&f.value, &ty, &Ty::String, &format!("`{}`", f.name.text));
                        } else {
                            self.c.unknown_field(&f.name, kfl_model::fields::Place::Pipeline);
                        }
                    }
                }
                ast::StmtKind::If(i) => {
                    let mut current = Some(i);
                    let pushed = self.enclosing_deps.len();
                    while let Some(i) = current {
                        self.check_condition(&i.cond);
                        self.scopes.push(ScopeId::Branch(self.branch_count));
                        self.branch_count += 1;
                        self.walk(&i.then.stmts, loop_counter, task_counter, false);
                        self.scopes.pop();
                        current = match &i.otherwise {
                            Some(ast::Else::If(next)) => Some(next),
                            Some(ast::Else::Block(b)) => {
                                self.scopes.push(ScopeId::Branch(self.branch_count));
                                self.branch_count += 1;
                                self.walk(&b.stmts, loop_counter, task_counter, false);
                                self.scopes.pop();
                                None
                            }
                            None => None,
                        };
                    }
                    self.enclosing_deps.truncate(pushed);
                }
                ast::StmtKind::For(f) => {
                    let index = *loop_counter;
                    *loop_counter += 1;
                    let pushed = self.enclosing_deps.len();
                    self.loops.push(LoopState { elem: Ty::Unknown, used: false });
                    self.check_loop_header(f, index);
                    self.scopes.push(ScopeId::Loop(index));
                    self.walk(&f.body.stmts, loop_counter, task_counter, false);
                    self.scopes.pop();
                    self.enclosing_deps.truncate(pushed);
                    if !self.loops[index as usize].used {
                        self.c.push(
                            Diagnostic::new(
                                Code::UnusedLoopVariable,
                                f.var.span,
                                format!("loop variable `{}` is never used", f.var.text),
                            )
                            .label("unused")
                            .help(format!(
                                "pass `{}` to a task in the loop; name it `_{}` if each iteration really ignores it",
                                f.var.text, f.var.text
                            )),
                        );
                    }
                }
                ast::StmtKind::Finally(block) => self.walk(&block.stmts, loop_counter, task_counter, false),
                ast::StmtKind::Output(_) => {}
            }
        }
        // Fields at the top level of the body are compared across pieces (`global`).
        if !top {
            self.c.check_duplicate_fields(field_names);
        }
    }

    fn check_condition(&mut self, cond: &Expr) {
        self.current_task = None;
        let ty = self.expr_ty(cond, true);
        if !matches!(ty, Ty::Bool | Ty::Unknown) {
            let help = match ty {
                Ty::Int | Ty::Float => "compare it: `x > 0`",
                Ty::String => "compare it: `x == \"value\"`",
                _ => "a condition is a Bool: a comparison, a Bool parameter or output, or `and`/`or`/`not` of those",
            };
            self.c.push(
                Diagnostic::new(Code::ConditionNotBool, cond.span, format!("a condition must be a Bool, found {ty}"))
                    .label(format!("this is {ty}"))
                    .help(help),
            );
        }
        if is_constant(cond) {
            self.c.push(
                Diagnostic::new(Code::ConstantCondition, cond.span, "this condition is always the same")
                    .label("made only of literals")
                    .help("compare a parameter or a task's output, or remove the `if`"),
            );
        }
    }

    fn check_loop_header(&mut self, f: &ast::ForStmt, index: u32) {
        self.current_task = None;
        let ty = self.expr_ty(&f.iterable, false);
        let elem = match &ty {
            Ty::List(inner) => (**inner).clone(),
            Ty::Unknown => Ty::Unknown,
            other => {
                self.c.push(
                    Diagnostic::new(
                        Code::LoopOverNonList,
                        f.iterable.span,
                        format!("a `for` loop needs a list, found {other}"),
                    )
                    .label(format!("this is {other}"))
                    .help("loop over a list literal `[…]`, a `List` parameter or a `List` output"),
                );
                Ty::Unknown
            }
        };
        if let ExprKind::List(items) = &strip_parens(&f.iterable).kind {
            if items.is_empty() {
                self.c.push(
                    Diagnostic::new(Code::EmptyLoop, f.iterable.span, "this loop iterates over an empty list")
                        .label("no items")
                        .help("add items, or remove the loop"),
                );
            }
        }
        if let Some(parallel) = &f.parallel {
            if let ExprKind::Path(_) = &strip_parens(parallel).kind {
                // Resolve it, so a parameter used here counts as used (and a typo is reported).
                self.expr_ty(parallel, false);
            }
            let ok = match &strip_parens(parallel).kind {
                ExprKind::Number(n) => n.unit.is_none() && n.value.parse::<u32>().is_ok_and(|v| v > 0),
                _ => false,
            };
            if !ok {
                self.c.push(
                    Diagnostic::new(
                        Code::InvalidParallelism,
                        parallel.span,
                        "`parallel` takes a positive whole number",
                    )
                    .label("not a positive integer literal")
                    .help(
                        "write `parallel 4` to run at most four iterations at once, or leave it out to run all at once",
                    ),
                );
            }
        }
        self.loops[index as usize].elem = elem;
    }

    /// The piece's top-level outputs, but those declared twice (reported by `global`).
    fn check_outputs(&mut self, stmts: &[ast::Stmt]) {
        let outputs = stmts.iter().filter_map(|stmt| match &stmt.kind {
            ast::StmtKind::Output(out) => Some(out),
            _ => None,
        });
        for (index, out) in outputs.enumerate() {
            if !self.scope.first_outputs.get(index).copied().unwrap_or(true) {
                continue;
            }
            self.current_task = None;
            let actual = self.expr_ty(&out.value, false);
            if let Some(ty) = &out.ty {
                let declared = self.c.resolve_type(ty);
                if !crate::types::is_assignable(self.c.db, &actual, &declared) {
                    self.c.push(
                        Diagnostic::new(
                            Code::OutputTypeMismatch,
                            out.value.span,
                            format!("output `{}` is declared {declared}, but this is {actual}", out.name.text),
                        )
                        .label(format!("this is {actual}"))
                        .secondary(kfl_diagnostics::Label::new(ty.span, format!("declared {declared}")))
                        .help(match self.collected_from_loop(&out.value) {
                            Some((task, var)) if matches!(actual, Ty::List(_)) => format!(
                                "`{task}` runs once per `{var}` of its loop, so after the loop this is the {actual} \
                                 of all its values (fan-in); declare the output as that list: `output {}: {actual} = {}`",
                                out.name.text,
                                tasks::expression_text(&out.value)
                            ),
                            _ => "change the declared type, or output another value".to_string(),
                        }),
                    );
                }
            }
        }
        self.enclosing_deps.clear();
    }
}

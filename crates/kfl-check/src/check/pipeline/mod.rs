//! Pipelines: parameters, the body's statements and scopes (`if` branches, `for` loops,
//! `finally`), conditions, loop headers and pipeline outputs. A pipeline is checked in two passes:
//! [`PipelineChecker::collect`] finds every task and loop so references may point forward, then
//! [`PipelineChecker::walk`] checks each statement in order.
//!
//! - `tasks`: what a task calls, its arguments and overrides
//! - `expressions`: expressions and their types
//! - `graph`: cycles, name collisions and recursion
//! - `unused`: unused parameters and task results

mod expressions;
mod graph;
mod tasks;
mod unused;

use rustc_hash::FxHashMap as HashMap;

use kfl_diagnostics::{Code, Diagnostic, Label, Span};
use kfl_syntax::ast::{self, Expr, ExprKind, Ident};

use crate::check::helpers::{declared_twice, is_constant, strip_parens};
use crate::check::Checker;
use crate::items::Export;
use crate::types::{is_assignable, Ty};
use crate::SourceFile;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scope {
    Loop(usize),
    Branch(usize),
}

struct TaskInfo<'a, 'db> {
    name: &'a Ident,
    stmt: &'a ast::TaskStmt,
    scopes: Vec<Scope>,
    callee: Option<(SourceFile, &'db Export)>,
    /// Names of the outputs read somewhere (a handful per task: a list is quicker than a map).
    outputs_read: Vec<&'a str>,
    named_in_after: bool,
    /// A reference to this task had an error: its unused-result warnings would only add noise.
    had_bad_reference: bool,
    deps: Vec<(usize, Span)>,
}

struct LoopInfo<'a> {
    var: &'a Ident,
    elem: Ty,
    used: bool,
}

pub(super) struct PipelineChecker<'c, 'a, 'db> {
    c: &'c mut Checker<'db>,
    pipeline: &'a ast::Pipeline,
    params: Vec<(&'a ast::Param, Ty, bool)>,
    tasks: Vec<TaskInfo<'a, 'db>>,
    task_index: HashMap<&'a str, usize>,
    loops: Vec<LoopInfo<'a>>,
    /// Current nesting while walking the body.
    scopes: Vec<Scope>,
    /// Tasks whose outputs the expression being checked reads go here.
    current_task: Option<usize>,
    /// Tasks read by the conditions and loop lists that enclose the current statement.
    enclosing_deps: Vec<(usize, Span)>,
    branch_count: usize,
}

impl<'c, 'a, 'db> PipelineChecker<'c, 'a, 'db> {
    pub(super) fn new(c: &'c mut Checker<'db>, pipeline: &'a ast::Pipeline) -> Self {
        PipelineChecker {
            c,
            pipeline,
            params: Vec::new(),
            tasks: Vec::new(),
            task_index: HashMap::default(),
            loops: Vec::new(),
            scopes: Vec::new(),
            current_task: None,
            enclosing_deps: Vec::new(),
            branch_count: 0,
        }
    }

    pub(super) fn run(mut self) {
        self.check_params();
        // First pass: every task and loop, so that references may point forward.
        let mut finally_seen: Option<Span> = None;
        self.collect(&self.pipeline.body, true, &mut finally_seen);
        self.scopes.clear();
        self.branch_count = 0;
        let mut loop_counter = 0;
        let mut task_counter = 0;
        self.walk(&self.pipeline.body, &mut loop_counter, &mut task_counter);
        self.check_outputs();
        self.check_graph();
        self.check_recursion();
        // A statement that did not parse may have used what looks unused.
        if !self.has_broken_statements() {
            self.check_unused();
        }
    }

    /// Whether statements of the body did not parse (each has its syntax error). Names they might
    /// have declared are not reported as missing, and nothing is reported as unused.
    fn has_broken_statements(&self) -> bool {
        !self.pipeline.broken.is_empty()
    }

    fn check_params(&mut self) {
        let mut seen: HashMap<&str, Span> = HashMap::default();
        for param in &self.pipeline.params {
            if let Some(first) = seen.get(param.name.text.as_str()) {
                self.c.push(declared_twice(
                    Code::DuplicateParameter,
                    param.name.span,
                    *first,
                    format!("parameter `{}` is declared twice", param.name.text),
                ));
                continue;
            }
            seen.insert(&param.name.text, param.name.span);
            let ty = self.c.resolve_type(&param.ty);
            self.c.check_default(param, &ty);
            self.params.push((param, ty, false));
        }
    }

    fn collect(&mut self, stmts: &'a [ast::Stmt], top: bool, finally_seen: &mut Option<Span>) {
        for stmt in stmts {
            match &stmt.kind {
                ast::StmtKind::Task(t) => {
                    let name = t.binding.as_ref().unwrap_or(&t.call.callee);
                    if let Some(&first) = self.task_index.get(name.text.as_str()) {
                        let first_span = self.tasks[first].name.span;
                        let help = if t.binding.is_none() {
                            format!("bind the task to a new name: `{}_2 = {}(…)`", name.text, name.text)
                        } else {
                            "rename one of the tasks".to_string()
                        };
                        self.c.push(
                            Diagnostic::new(
                                Code::DuplicateTask,
                                name.span,
                                format!("a task named `{}` already exists in `{}`", name.text, self.pipeline.name.text),
                            )
                            .label("task declared again here")
                            .secondary(Label::new(first_span, "first task of that name"))
                            .help(help),
                        );
                        // Still check it, under its own entry, so its mistakes are reported; which of
                        // the two a reference means is unclear, so neither gets unused warnings.
                        self.tasks[first].had_bad_reference = true;
                    } else if let Some((param, _, _)) = self.params.iter().find(|(p, _, _)| p.name.text == name.text) {
                        self.c.push(
                            Diagnostic::new(
                                Code::DuplicateTask,
                                name.span,
                                format!("task `{}` has the same name as a parameter", name.text),
                            )
                            .label("task named like a parameter")
                            .secondary(Label::new(param.name.span, "the parameter"))
                            .help("rename the task: a reference to this name would mean the parameter"),
                        );
                    } else {
                        self.task_index.insert(&name.text, self.tasks.len());
                    }
                    let duplicate = self.task_index.get(name.text.as_str()) != Some(&self.tasks.len());
                    self.tasks.push(TaskInfo {
                        name,
                        stmt: t,
                        scopes: self.scopes.clone(),
                        callee: None,
                        outputs_read: Vec::new(),
                        named_in_after: false,
                        had_bad_reference: duplicate,
                        deps: Vec::new(),
                    });
                }
                ast::StmtKind::If(i) => {
                    // Each branch is a scope of its own.
                    for block in i.blocks() {
                        self.scopes.push(Scope::Branch(self.branch_count));
                        self.branch_count += 1;
                        self.collect(&block.stmts, false, finally_seen);
                        self.scopes.pop();
                    }
                }
                ast::StmtKind::For(f) => {
                    self.scopes.push(Scope::Loop(self.loops.len()));
                    self.loops.push(LoopInfo { var: &f.var, elem: Ty::Unknown, used: false });
                    self.collect(&f.body.stmts, false, finally_seen);
                    self.scopes.pop();
                }
                ast::StmtKind::Finally(block) => {
                    let keyword_start = match stmt.doc.span {
                        Some(doc) => {
                            let text = self.c.file.text(self.c.db);
                            let from = doc.end as usize;
                            text.get(from..)
                                .and_then(|rest| rest.find("finally"))
                                .map_or(stmt.span.start as usize, |i| from + i)
                        }
                        None => stmt.span.start as usize,
                    };
                    let finally_span = Span::new(keyword_start, keyword_start + "finally".len());
                    if !top {
                        self.c.push(
                            Diagnostic::new(Code::MisplacedFinally, finally_span, "`finally` must be at the top level of a pipeline")
                                .label("inside a condition or loop")
                                .help("move the `finally` block out to the pipeline's body: it runs once, when the whole pipeline ends"),
                        );
                    } else if let Some(first) = finally_seen {
                        self.c.push(
                            Diagnostic::new(Code::MisplacedFinally, finally_span, "a pipeline has one `finally` block")
                                .label("second `finally`")
                                .secondary(Label::new(*first, "first `finally`"))
                                .help("merge both blocks into one"),
                        );
                    } else {
                        *finally_seen = Some(finally_span);
                    }
                    self.collect(&block.stmts, false, finally_seen);
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

    fn walk(&mut self, stmts: &'a [ast::Stmt], loop_counter: &mut usize, task_counter: &mut usize) {
        let mut field_names = Vec::new();
        for stmt in stmts {
            match &stmt.kind {
                ast::StmtKind::Task(_) => {
                    let index = *task_counter;
                    *task_counter += 1;
                    self.check_task(index);
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
                        self.scopes.push(Scope::Branch(self.branch_count));
                        self.branch_count += 1;
                        self.walk(&i.then.stmts, loop_counter, task_counter);
                        self.scopes.pop();
                        current = match &i.otherwise {
                            Some(ast::Else::If(next)) => Some(next),
                            Some(ast::Else::Block(b)) => {
                                self.scopes.push(Scope::Branch(self.branch_count));
                                self.branch_count += 1;
                                self.walk(&b.stmts, loop_counter, task_counter);
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
                    self.check_loop_header(f, index);
                    self.scopes.push(Scope::Loop(index));
                    self.walk(&f.body.stmts, loop_counter, task_counter);
                    self.scopes.pop();
                    self.enclosing_deps.truncate(pushed);
                    if !self.loops[index].used {
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
                ast::StmtKind::Finally(block) => self.walk(&block.stmts, loop_counter, task_counter),
                ast::StmtKind::Output(_) => {}
            }
        }
        self.c.check_duplicate_fields(field_names);
    }

    fn check_condition(&mut self, cond: &'a Expr) {
        let before = self.enclosing_deps.len();
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
        let _ = before;
    }

    fn check_loop_header(&mut self, f: &'a ast::ForStmt, index: usize) {
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
        self.loops[index].elem = elem;
    }

    fn check_outputs(&mut self) {
        let mut seen: HashMap<&str, Span> = HashMap::default();
        for stmt in &self.pipeline.body {
            let ast::StmtKind::Output(out) = &stmt.kind else {
                continue;
            };
            if let Some(first) = seen.get(out.name.text.as_str()) {
                self.c.push(declared_twice(
                    Code::DuplicatePipelineOutput,
                    out.name.span,
                    *first,
                    format!("output `{}` is declared twice", out.name.text),
                ));
                continue;
            }
            seen.insert(&out.name.text, out.name.span);
            self.current_task = None;
            let actual = self.expr_ty(&out.value, false);
            if let Some(ty) = &out.ty {
                let declared = self.c.resolve_type(ty);
                if !is_assignable(self.c.db, &actual, &declared) {
                    self.c.push(
                        Diagnostic::new(
                            Code::OutputTypeMismatch,
                            out.value.span,
                            format!("output `{}` is declared {declared}, but this is {actual}", out.name.text),
                        )
                        .label(format!("this is {actual}"))
                        .secondary(Label::new(ty.span, format!("declared {declared}")))
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

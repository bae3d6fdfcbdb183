//! The checks of a pipeline that need all of it: its parameters, names declared twice across the
//! body (tasks, top-level fields, outputs, `finally`), and, from the effects of every piece, the
//! graph (`graph`) and what is never used (`unused`). Spans are written as placeholders
//! ([`Checker::at`]) except those of the head, which the checker's own piece is.

use std::sync::Arc;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use kfl_diagnostics::{Code, Diagnostic, Label, Span};
use kfl_syntax::ast::{self, Ident};

use super::scope::{At, ParamEntry, PipelineScope};
use super::PieceEffects;
use crate::check::helpers::declared_twice;
use crate::check::Checker;
use crate::items::{Export, Found};
use crate::types::Ty;
use crate::SourceFile;

pub(super) struct Global<'c, 's, 'db> {
    pub(super) c: &'c mut Checker<'db>,
    pub(super) scope: &'s PipelineScope,
    /// Outputs read, by task: those of task `i` are `reads[read_starts[i]..read_starts[i + 1]]`.
    pub(super) reads: Vec<&'s str>,
    read_starts: Vec<u32>,
    pub(super) after: HashSet<u32>,
    pub(super) bad: HashSet<u32>,
    pub(super) params_used: HashSet<u32>,
    pub(super) deps: Vec<(u32, u32)>,
    /// What each name calls, once looked up (the checks below ask for every task, twice; most
    /// tasks call what others call too).
    callees: HashMap<Arc<str>, Option<(SourceFile, &'db Export)>>,
    /// What each task calls, by its number.
    callee_names: Vec<&'s Arc<str>>,
}

/// Tasks that share their name with another task or a parameter.
fn named_twice(scope: &PipelineScope, out: &mut HashSet<u32>) {
    if !scope.names_shared {
        return;
    }
    for (i, _, task) in scope.task_decls() {
        match scope.task_named(&task.name) {
            Some(first) if first == i => {}
            Some(first) => {
                out.insert(i);
                out.insert(first);
            }
            None => {
                out.insert(i);
            }
        }
    }
}

impl<'c, 's, 'db> Global<'c, 's, 'db> {
    pub(super) fn new(c: &'c mut Checker<'db>, scope: &'s PipelineScope, effects: &[&'s PieceEffects]) -> Self {
        let mut global = Global {
            c,
            scope,
            reads: Vec::new(),
            read_starts: Vec::new(),
            after: HashSet::default(),
            bad: HashSet::default(),
            params_used: HashSet::default(),
            deps: Vec::new(),
            callees: HashMap::default(),
            callee_names: scope.task_decls().map(|(_, _, t)| &t.callee).collect(),
        };
        // Effects name the tasks they read; a reference means the first task of the name.
        let task = |name: &str| scope.task_named(name);
        let mut reads: Vec<(u32, &str)> = Vec::new();
        for (piece, e) in effects.iter().enumerate() {
            let first = scope.starts.get(piece).map_or(0, |s| s.task);
            for (name, output) in &e.reads {
                if let Some(index) = task(name) {
                    reads.push((index, output));
                }
            }
            global.after.extend(e.after.iter().filter_map(|name| task(name)));
            global.bad.extend(e.bad.iter().filter_map(|name| task(name)));
            global.params_used.extend(e.params_used.iter().copied());
            global.deps.extend(e.deps.iter().filter_map(|(local, name)| Some((first + local, task(name)?))));
            global.c.used_imports.extend(e.used_imports.iter().copied());
        }
        // Grouped by task (counted, not sorted: there may be a read per task and more).
        let mut starts = vec![0u32; global.callee_names.len() + 1];
        for &(task, _) in &reads {
            if let Some(count) = starts.get_mut(task as usize + 1) {
                *count += 1;
            }
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        global.reads = vec![""; reads.len()];
        for (task, output) in reads {
            if let Some(at) = next.get_mut(task as usize) {
                global.reads[*at as usize] = output;
                *at += 1;
            }
        }
        global.read_starts = starts;
        named_twice(scope, &mut global.bad);
        global
    }

    pub(super) fn run(mut self, params: &[ast::Param]) {
        self.check_params(params);
        self.check_names();
        self.check_graph();
        self.check_recursion();
        // A statement that did not parse may have used what looks unused.
        if !self.scope.broken {
            self.check_unused();
        }
    }

    /// What task `index` calls (every task's statement has been checked by now).
    pub(super) fn callee(&mut self, index: u32) -> Option<(SourceFile, &'db Export)> {
        let name = *self.callee_names.get(index as usize)?;
        if let Some(known) = self.callees.get(name) {
            return *known;
        }
        let found = match self.c.lookup(name) {
            Found::One(owner, export @ (Export::Component(_) | Export::Pipeline(_))) => Some((owner, export)),
            _ => None,
        };
        self.callees.insert(name.clone(), found);
        found
    }

    pub(super) fn at(&mut self, at: At) -> Span {
        self.c.at(at)
    }

    fn check_params(&mut self, params: &[ast::Param]) {
        let mut seen: HashMap<&str, Span> = HashMap::default();
        for param in params {
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
        }
    }

    /// Tasks named twice or like a parameter, a second `finally`, top-level fields and outputs
    /// declared twice.
    fn check_names(&mut self) {
        let scope = self.scope;
        let tasks = scope.task_decls().filter(|_| scope.names_shared);
        for (i, _, task) in tasks {
            match scope.task_named(&task.name) {
                Some(first) if first != i => {
                    let help = if task.unbound {
                        format!("bind the task to a new name: `{}_2 = {}(…)`", task.name, task.name)
                    } else {
                        "rename one of the tasks".to_string()
                    };
                    let span = self.at(At::Task(i));
                    let first_span = self.at(At::Task(first));
                    self.c.push(
                        Diagnostic::new(
                            Code::DuplicateTask,
                            span,
                            format!("a task named `{}` already exists in `{}`", task.name, scope.name),
                        )
                        .label("task declared again here")
                        .secondary(Label::new(first_span, "first task of that name"))
                        .help(help),
                    );
                }
                Some(_) => {}
                None => {
                    let Some(param) = scope.params.iter().find(|p| *p.name == *task.name) else { continue };
                    let span = self.at(At::Task(i));
                    let param_span = self.at(param.at.clone());
                    self.c.push(
                        Diagnostic::new(
                            Code::DuplicateTask,
                            span,
                            format!("task `{}` has the same name as a parameter", task.name),
                        )
                        .label("task named like a parameter")
                        .secondary(Label::new(param_span, "the parameter"))
                        .help("rename the task: a reference to this name would mean the parameter"),
                    );
                }
            }
        }
        if scope.finallies > 1 {
            let first_span = self.at(At::Finally(0));
            for again in 1..scope.finallies {
                let span = self.at(At::Finally(again));
                self.c.push(
                    Diagnostic::new(Code::MisplacedFinally, span, "a pipeline has one `finally` block")
                        .label("second `finally`")
                        .secondary(Label::new(first_span, "first `finally`"))
                        .help("merge both blocks into one"),
                );
            }
        }
        let fields: Vec<Ident> = (scope.fields.iter().enumerate())
            .map(|(i, name)| Ident { text: name.clone(), span: self.c.at(At::Field(i as u32)) })
            .collect();
        self.c.check_duplicate_fields(&fields);
        let mut seen: HashMap<&str, Span> = HashMap::default();
        for output in &scope.outputs {
            let span = self.c.at(output.at.clone());
            match seen.get(output.name.as_str()) {
                Some(first) => self.c.push(declared_twice(
                    Code::DuplicatePipelineOutput,
                    span,
                    *first,
                    format!("output `{}` is declared twice", output.name),
                )),
                None => {
                    seen.insert(&output.name, span);
                }
            }
        }
    }

    /// Where the outputs of task `index` that are read are in `reads`.
    pub(super) fn read_range(&self, index: u32) -> std::ops::Range<usize> {
        let at = |i: u32| self.read_starts.get(i as usize).map_or(0, |&s| s as usize);
        at(index)..at(index + 1).max(at(index))
    }

    /// Whether task `index` had a reference with an error, or shares its name: its unused-result
    /// warnings would only add noise.
    pub(super) fn had_bad_reference(&self, index: u32) -> bool {
        self.bad.contains(&index)
    }
}

/// The parameters of a pipeline's head, each name once, with their types (spans in the head).
pub(crate) fn head_params(c: &mut Checker<'_>, params: &[ast::Param]) -> Vec<ParamEntry> {
    let mut out: Vec<ParamEntry> = Vec::new();
    for param in params {
        if out.iter().any(|p| p.name == param.name.text) {
            continue;
        }
        let ty: Ty = c.resolve_type(&param.ty);
        out.push(ParamEntry { name: param.name.text.clone(), ty, at: At::Head(param.name.span) });
    }
    out
}

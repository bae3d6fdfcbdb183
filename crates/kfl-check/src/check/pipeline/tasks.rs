//! Tasks of a pipeline: what a task calls, its arguments, its overrides (`resources`, `after`,
//! …), and whether a task's output can be seen where it is read (branches, loops).

use rustc_hash::FxHashMap as HashMap;

use kfl_diagnostics::{Code, Diagnostic, Label, Span};
use kfl_model::fields::Place;
use kfl_syntax::ast::{self, Expr, ExprKind, Ident};

use super::piece_scope::Within;
use super::scope::{At, ScopeId};
use super::PieceChecker;
use crate::check::helpers::{help_did_you_mean, strip_parens, HelpIfNone};
use crate::items::{self, lookup, visible_names, Export, Found};
use crate::types::{is_assignable, Ty, BUILTIN_ARTIFACTS, PARAMETER_TYPES};
use crate::{k8s, SourceFile};

impl<'db> PieceChecker<'_, '_, 'db> {
    pub(super) fn check_task(&mut self, index: u32, stmt: &ast::TaskStmt) {
        let call = &stmt.call;
        let name = stmt.binding.as_ref().unwrap_or(&call.callee);
        // K8s naming: the characters; length is handled by truncation (E0502 on collisions).
        if let Err(error) = k8s::k8s_name(&name.text) {
            if !matches!(error, k8s::K8sNameError::TooLong { .. }) {
                self.c.check_k8s_name(name, "task names");
            }
        }
        let callee = match self.c.lookup(&call.callee.text) {
            Found::One(owner, export @ (Export::Component(_) | Export::Pipeline(_))) => Some((owner, export)),
            Found::One(_, export) => {
                self.c.push(
                    Diagnostic::new(
                        Code::NotCallable,
                        call.callee.span,
                        format!("`{}` is {}, not a component", call.callee.text, export.kind_name()),
                    )
                    .label("cannot be called")
                    .help("a task calls a component or a pipeline"),
                );
                None
            }
            Found::Ambiguous(owners) => {
                self.c.ambiguous(&call.callee, &owners);
                None
            }
            Found::None if items::is_broken_item(self.c.db, self.c.file, &call.callee.text) => None,
            Found::None => {
                let name = &call.callee.text;
                let local = if self.scope.params.iter().any(|p| p.name == *name) {
                    Some("a parameter")
                } else if self.scope.task_named(name).is_some_and(|t| t != index) {
                    Some("a task")
                } else if self.scope.meaning(name).loop_var {
                    Some("a loop variable")
                } else {
                    None
                };
                if let Some(kind) = local {
                    self.c.push(
                        Diagnostic::new(
                            Code::NotCallable,
                            call.callee.span,
                            format!("`{name}` is {kind}, not a component"),
                        )
                        .label("cannot be called")
                        .help("a task calls a component or a pipeline; pass this value as an argument instead"),
                    );
                } else if name == "secret"
                    || BUILTIN_ARTIFACTS.contains(&name.as_str())
                    || PARAMETER_TYPES.contains(&name.as_str())
                {
                    self.c.push(
                        Diagnostic::new(
                            Code::NotCallable,
                            call.callee.span,
                            format!("`{name}` is built in and cannot be a task"),
                        )
                        .label("cannot be called here")
                        .help(if name == "secret" {
                            "`secret(…)` is a value for an `env` block"
                        } else {
                            "a task calls a component or a pipeline"
                        }),
                    );
                } else {
                    let visible = visible_names(self.c.db, self.c.file);
                    let callables = visible.iter().filter(|(_, e)| e.signature().is_some()).map(|(n, _)| *n);
                    self.c.push(
                        Diagnostic::new(
                            Code::UnresolvedCallee,
                            call.callee.span,
                            format!("no component or pipeline named `{name}`"),
                        )
                        .label("not found")
                        .maybe_help(help_did_you_mean(name, callables))
                        .help_if_none("declare the component in this file, or import the file that declares it"),
                    );
                }
                None
            }
        };
        self.callees.insert(index, callee);
        self.current_deps.clear();
        self.current_deps.extend(self.enclosing_deps.iter().copied());
        self.current_task = Some(index);
        match callee {
            Some((owner, export)) => self.check_args(call, owner, export),
            None => {
                // Still look at the arguments for unresolved names.
                for arg in &call.args {
                    self.expr_ty(&arg.value, false);
                }
            }
        }
        if let Some(block) = &stmt.overrides {
            self.check_overrides(index, stmt, block);
        }
        self.current_task = None;
        let deps = std::mem::take(&mut self.current_deps);
        for &target in &deps {
            let name = self.task_name(target);
            self.effects.deps.push((index, name));
        }
        self.current_deps = deps;
    }

    fn check_args(&mut self, call: &ast::Call, owner: SourceFile, export: &'db Export) {
        let Some(sig) = export.signature() else {
            return;
        };
        let mut passed: HashMap<&str, Span> = HashMap::default();
        for (position, arg) in call.args.iter().enumerate() {
            let actual = self.expr_ty(&arg.value, false);
            let Some(name) = &arg.name else {
                let help = match sig.inputs.get(position) {
                    Some(input) => format!("name it: `{}: …`", input.name),
                    None => "arguments are written `name: value`".to_string(),
                };
                self.c.push(
                    Diagnostic::new(Code::PositionalArgument, arg.span, "arguments must be named")
                        .label("unnamed argument")
                        .help(help),
                );
                if let Some(input) = sig.inputs.get(position) {
                    passed.entry(input.name.as_str()).or_insert(arg.span);
                }
                continue;
            };
            if let Some(first) = passed.get(name.text.as_str()) {
                self.c.push(
                    Diagnostic::new(Code::DuplicateArgument, name.span, format!("`{}` is passed twice", name.text))
                        .label("passed again here")
                        .secondary(Label::new(*first, "first passed here"))
                        .help("remove one of them"),
                );
                continue;
            }
            passed.insert(&name.text, name.span);
            let Some(input) = sig.input(&name.text) else {
                let help =
                    help_did_you_mean(&name.text, sig.inputs.iter().map(|i| i.name.as_str())).unwrap_or_else(|| {
                        if sig.inputs.is_empty() {
                            format!("`{}` takes no inputs", call.callee.text)
                        } else {
                            format!(
                                "`{}` takes {}",
                                call.callee.text,
                                sig.inputs.iter().map(|i| format!("`{}`", i.name)).collect::<Vec<_>>().join(", ")
                            )
                        }
                    });
                let mut d = Diagnostic::new(
                    Code::UnknownArgument,
                    name.span,
                    format!("`{}` has no input `{}`", call.callee.text, name.text),
                )
                .label("unknown argument")
                .help(help);
                if let Some(span) = self.c.item_name_span(owner, &call.callee.text) {
                    d = d.secondary(self.c.label_in(owner, span, format!("`{}` is declared here", call.callee.text)));
                }
                self.c.push(d);
                continue;
            };
            let expected = self.c.input_ty(owner, input);
            if is_assignable(self.c.db, &actual, &expected) {
                self.c.check_lossy(&arg.value, &expected);
            } else {
                let help = match (&actual, &expected) {
                    (Ty::Float, Ty::Int) => {
                        "a Float does not narrow to an Int; pass a whole number or change the input to Float"
                            .to_string()
                    }
                    (Ty::Artifact(_), Ty::Artifact(_)) => {
                        format!("an input of type {expected} accepts {expected} or a type declared with `artifact X: {expected}`")
                    }
                    (Ty::List(_), _) if self.collected_from_loop(&arg.value).is_some() => {
                        let (task, var) = self.collected_from_loop(&arg.value).unwrap_or_default();
                        let declaration = match export {
                            Export::Pipeline(_) => format!("the parameter `{}: {actual}`", name.text),
                            _ => format!("`input {}: {actual}`", name.text),
                        };
                        format!(
                            "`{task}` runs once per `{var}` of its loop, so after the loop this is the {actual} of all \
                             its values (fan-in); to take them all, declare {declaration} in `{}` and keep \
                             `{}: {}`; to use each value on its own, move this task into the loop",
                            call.callee.text,
                            name.text,
                            expression_text(&arg.value),
                        )
                    }
                    _ => format!("pass a value of type {expected}"),
                };
                self.c.push(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        arg.value.span,
                        format!("`{}` expects {expected}, found {actual}", name.text),
                    )
                    .label(format!("this is {actual}"))
                    .help(help),
                );
            }
        }
        let missing: Vec<&items::InputSig> =
            sig.inputs.iter().filter(|i| !i.has_default && !passed.contains_key(i.name.as_str())).collect();
        if !missing.is_empty() {
            let list: Vec<String> =
                missing.iter().map(|i| format!("`{}: {}`", i.name, items::input_ty(self.c.db, owner, i))).collect();
            let mut d = Diagnostic::new(
                Code::MissingArgument,
                call.callee.span,
                format!(
                    "`{}` needs {}",
                    call.callee.text,
                    missing.iter().map(|i| format!("`{}`", i.name)).collect::<Vec<_>>().join(", ")
                ),
            )
            .label(if missing.len() == 1 { "missing an argument" } else { "missing arguments" })
            .help(format!("pass {}", list.join(", ")));
            if let Some(span) = self.c.item_name_span(owner, &call.callee.text) {
                d = d.secondary(self.c.label_in(owner, span, format!("`{}` is declared here", call.callee.text)));
            }
            self.c.push(d);
        }
    }

    /// The `resources` entries of the component a task calls (none for pipelines).
    fn component_resources(&mut self, index: u32, callee: &str) -> Vec<ast::KvEntry> {
        let Some((owner, Export::Component(_))) = self.callees.get(&index).copied().flatten() else {
            return Vec::new();
        };
        crate::items::component_resources(self.c.db, owner).get(callee).cloned().unwrap_or_default()
    }

    fn check_overrides(&mut self, index: u32, stmt: &ast::TaskStmt, block: &ast::TaskBlock) {
        let mut names = Vec::new();
        for member in &block.members {
            match member {
                ast::TaskMember::Block(b) => {
                    names.push(&b.name);
                    if b.name.text == "resources" {
                        let mut base = self.component_resources(index, &stmt.call.callee.text);
                        let owner = self.callees.get(&index).copied().flatten().map(|(owner, _)| owner);
                        for entry in &mut base {
                            entry.value.span = if owner.is_some_and(|owner| owner != self.c.file) {
                                // Spans in another file must not label this one: point them at the block.
                                b.name.span
                            } else {
                                self.at(super::scope::At::File(entry.value.span))
                            };
                        }
                        self.c.resource_base = base;
                    }
                    if !self.c.check_block(b) {
                        self.c.unknown_block(&b.name, "a task");
                    }
                }
                ast::TaskMember::Field(f) => {
                    names.push(&f.name);
                    if self.refuse_on_pipeline_call(index, f) {
                        continue;
                    }
                    match f.name.text.as_str() {
                        "after" => self.check_after(index, &f.value),
                        "display_name" => {
                            let ty = self.c.literal_ty(&f.value);
                            self.c.expect_type(&f.value, &ty, &Ty::String, "`display_name`");
                        }
                        "image" | "packages" | "command" | "args" | "description" => self.c.push(
                            Diagnostic::new(Code::FieldNotAllowedHere, f.name.span, format!("`{}` belongs to the component, not to a task", f.name.text))
                                .label("not a task field")
                                .help("set it in the component; a task may override resources, env, retries, timeout, cache, tolerations and add `after`"),
                        ),
                        _ if self.c.check_common_field(f) => {}
                        _ => self.c.unknown_field(&f.name, Place::Task),
                    }
                }
            }
        }
        self.c.check_duplicate_fields(names);
    }

    /// A task field that a call of a pipeline cannot pass on to the tasks it contains (the field
    /// table says where each field applies). Returns whether it was refused.
    fn refuse_on_pipeline_call(&mut self, index: u32, field: &ast::Field) -> bool {
        let Some((_, Export::Pipeline(_))) = self.callees.get(&index).copied().flatten() else { return false };
        let Some(spec) = kfl_model::fields::field(&field.name.text) else { return false };
        if spec.allowed_in(Place::PipelineCall) || !spec.allowed_in(Place::Task) {
            return false;
        }
        let applies: Vec<String> = kfl_model::fields::FIELDS
            .iter()
            .filter(|f| f.allowed_in(Place::PipelineCall) && f.block.is_none())
            .map(|f| format!("`{}`", f.name))
            .collect();
        self.c.push(
            Diagnostic::new(
                Code::FieldNotAllowedHere,
                field.name.span,
                format!("`{}` does not apply to a call of a pipeline", field.name.text),
            )
            .label("not passed on to the pipeline's tasks")
            .help(format!(
                "a call of a pipeline passes `resources` and {} on to every task it contains; set `{}` on those tasks instead",
                applies.join(", "),
                field.name.text
            )),
        );
        true
    }

    fn check_after(&mut self, index: u32, value: &Expr) {
        let items: Vec<&Expr> = match &strip_parens(value).kind {
            ExprKind::List(items) => items.iter().collect(),
            _ => vec![value],
        };
        for item in items {
            let Some(parts) = strip_parens(item).as_path() else {
                self.c.push(
                    Diagnostic::new(Code::AfterNonTask, item.span, "`after` names tasks")
                        .label("not a task name")
                        .help("write `after = [other_task]`"),
                );
                continue;
            };
            let head = &parts[0];
            match self.scope.task_named(&head.text) {
                Some(target) if parts.len() == 1 => {
                    if target == index {
                        self.c.push(
                            Diagnostic::new(
                                Code::DependencyCycle,
                                head.span,
                                format!("task `{}` waits for itself", head.text),
                            )
                            .label("a task cannot run after itself")
                            .help("remove it from `after`"),
                        );
                        continue;
                    }
                    let name = self.task_name(target);
                    self.effects.after.push(name);
                    if self.current_deps.contains(&target) {
                        self.c.push(
                            Diagnostic::new(
                                Code::RedundantAfter,
                                head.span,
                                format!("this task already waits for `{}`", head.text),
                            )
                            .label("redundant")
                            .help("it reads an output of that task, which orders them already; remove it from `after`"),
                        );
                    }
                    self.check_task_visible(target, head, true);
                    self.current_deps.push(target);
                }
                Some(_) => self.c.push(
                    Diagnostic::new(Code::AfterNonTask, item.span, "`after` names tasks, not their outputs")
                        .label("an output")
                        .help(format!("write `after = [{}]`", head.text)),
                ),
                None => {
                    let is_param = self.scope.params.iter().any(|p| p.name == head.text);
                    let is_loop_var = self.scope.meaning(&head.text).loop_var;
                    let callers: Vec<String> =
                        self.scope.callers(&head.text).into_iter().map(|t| format!("`{t}`")).collect();
                    let is_item = !matches!(lookup(self.c.db, self.c.file, &head.text), Found::None);
                    if is_item {
                        let help = if callers.is_empty() {
                            "`after` names tasks of this pipeline, not components".to_string()
                        } else {
                            format!("name the task that calls it: {}", callers.join(", "))
                        };
                        self.c.push(
                            Diagnostic::new(
                                Code::AfterNonTask,
                                head.span,
                                format!("`{}` is a component, not a task", head.text),
                            )
                            .label("not a task")
                            .help(help),
                        );
                    } else if is_param || is_loop_var {
                        self.c.push(
                            Diagnostic::new(
                                Code::AfterNonTask,
                                head.span,
                                format!(
                                    "`{}` is a {}, not a task",
                                    head.text,
                                    if is_param { "parameter" } else { "loop variable" }
                                ),
                            )
                            .label("not a task")
                            .help("`after` names tasks of this pipeline"),
                        );
                    } else if !self.has_broken_statements() {
                        let names: Vec<&str> = self.scope.task_names();
                        self.c.push(
                            Diagnostic::new(Code::UnresolvedName, head.span, format!("no task named `{}`", head.text))
                                .label("not found")
                                .maybe_help(help_did_you_mean(&head.text, names.iter().copied()))
                                .help_if_none("`after` names tasks of this pipeline"),
                        );
                    }
                }
            }
        }
    }

    /// Reports an output of a task inside a condition read outside it; returns how many loops the
    /// reader is outside of (for fan-in).
    /// For a task output read after the loop(s) the task runs in (`t.acc` after `for lr in … { t =
    /// … }`), which is then a list of its values (fan-in): the task's name and the variable of the
    /// innermost loop left. No diagnostics: the reference itself was checked already.
    pub(super) fn collected_from_loop(&self, expr: &Expr) -> Option<(String, String)> {
        let ExprKind::Path(parts) = &expr.kind else { return None };
        let [head, _output] = parts.as_slice() else { return None };
        let target = self.scope.task_named(&head.text)?;
        let var = self.scope.task(target)?.scopes().rev().find_map(|place| match place {
            Within::Here(id @ ScopeId::Loop(i)) if !self.scopes.contains(&id) => {
                self.scope.loop_var(i).map(String::from)
            }
            Within::Loop(var) => Some(var.to_string()),
            _ => None,
        })?;
        Some((head.text.clone(), var))
    }

    pub(super) fn check_task_visible(&mut self, target: u32, at: &Ident, is_after: bool) -> usize {
        let scope = self.scope;
        let Some(target_task) = scope.task(target) else { return 0 };
        let mut loops_left = 0;
        for place in target_task.scopes() {
            if matches!(place, Within::Here(id) if self.scopes.contains(&id)) {
                continue;
            }
            match place {
                Within::Here(ScopeId::Loop(_)) | Within::Loop(_) => loops_left += 1,
                Within::Here(ScopeId::Branch(_)) | Within::Branch if !is_after => {
                    let declared = self.at(At::FirstTask(target_task.name.clone()));
                    self.c.push(
                        Diagnostic::new(
                            Code::ConditionalOutputEscapes,
                            at.span,
                            format!("task `{}` runs only inside a condition", at.text),
                        )
                        .label("read outside its branch")
                        .secondary(Label::new(declared, "declared inside an `if` branch"))
                        .help("use the output inside the same branch, or move the task out of the `if`"),
                    );
                    return loops_left;
                }
                Within::Here(ScopeId::Branch(_)) | Within::Branch => {}
            }
        }
        loops_left
    }
}

/// The text of a plain expression as it would be written (`t.acc`), for help that shows code.
pub(super) fn expression_text(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Path(parts) => parts.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("."),
        _ => "…".to_string(),
    }
}

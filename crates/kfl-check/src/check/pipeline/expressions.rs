//! Expressions in a pipeline and their types: names (parameters, loop variables, task outputs),
//! properties, comparisons and logical operators. Reading a task's output records a dependency.

use kfl_diagnostics::{Code, Diagnostic, Label};
use kfl_syntax::ast::{self, Expr, ExprKind, Ident};

use super::scope::{At, ScopeId};
use super::PieceChecker;
use crate::check::helpers::{help_did_you_mean, HelpIfNone};
use crate::types::{is_comparable, Ty};

const ARTIFACT_PROPERTIES: [&str; 3] = ["path", "uri", "metadata"];

impl PieceChecker<'_, '_, '_> {
    /// The type of an expression in the pipeline, reporting what is wrong. `condition`: it decides an
    /// `if`, so reading a task's output is fine wherever that task is.
    pub(super) fn expr_ty(&mut self, expr: &Expr, condition: bool) -> Ty {
        match &expr.kind {
            ExprKind::Str(_) => Ty::String,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Number(n) => self.c.number_ty(n, expr.span),
            ExprKind::Paren(inner) => self.expr_ty(inner, condition),
            ExprKind::List(items) => {
                let tys: Vec<Ty> = items.iter().map(|e| self.expr_ty(e, condition)).collect();
                self.c.list_ty(items, &tys)
            }
            ExprKind::Map(entries) => {
                let tys: Vec<Ty> = entries.iter().map(|e| self.expr_ty(&e.value, condition)).collect();
                self.c.map_ty(entries, tys)
            }
            ExprKind::Call(call) => {
                self.c.call_in_expression(call);
                // Still look inside, so names there resolve (or are reported) and count as used.
                for arg in &call.args {
                    self.expr_ty(&arg.value, condition);
                }
                Ty::Unknown
            }
            ExprKind::Field(base, name) => {
                let base_ty = self.expr_ty(base, condition);
                self.property_ty(&base_ty, name, "the value")
            }
            ExprKind::Not(inner) => {
                let ty = self.expr_ty(inner, condition);
                self.expect_bool(inner, &ty, "`not`");
                Ty::Bool
            }
            ExprKind::Binary(op, op_span, lhs, rhs) => {
                let lt = self.expr_ty(lhs, condition);
                let rt = self.expr_ty(rhs, condition);
                if op.is_comparison() {
                    let ordering = !matches!(op, ast::BinaryOp::Eq | ast::BinaryOp::Ne);
                    if !is_comparable(&lt, &rt, ordering) {
                        let help = if lt.is_artifact() || rt.is_artifact() {
                            "artifacts cannot be compared; compare an output parameter such as a score instead"
                                .to_string()
                        } else if ordering && lt == rt {
                            format!(
                                "`{}` compares numbers; {lt} values can only be compared with `==` and `!=`",
                                op.text()
                            )
                        } else {
                            "compare values of the same type: numbers with numbers, strings with strings".to_string()
                        };
                        self.c.push(
                            Diagnostic::new(
                                Code::IncomparableTypes,
                                *op_span,
                                format!("cannot compare {lt} with {rt} using `{}`", op.text()),
                            )
                            .label("incomparable")
                            .secondary(Label::new(lhs.span, format!("{lt}")))
                            .secondary(Label::new(rhs.span, format!("{rt}")))
                            .help(help),
                        );
                    }
                } else {
                    self.expect_bool(lhs, &lt, &format!("`{}`", op.text()));
                    self.expect_bool(rhs, &rt, &format!("`{}`", op.text()));
                }
                Ty::Bool
            }
            ExprKind::Path(parts) => self.path_ty(parts, condition),
        }
    }

    fn expect_bool(&mut self, expr: &Expr, ty: &Ty, op: &str) {
        if !matches!(ty, Ty::Bool | Ty::Unknown) {
            self.c.push(
                Diagnostic::new(
                    Code::LogicalOperandNotBool,
                    expr.span,
                    format!("{op} needs Bool operands, found {ty}"),
                )
                .label(format!("this is {ty}"))
                .help("compare it first, e.g. `x > 0` or `name == \"a\"`"),
            );
        }
    }

    /// The type of `base_text.name`, where `base_text` (`item`, `t.config`, or `the value` for an
    /// expression that is not a name) has the type `base`.
    fn property_ty(&mut self, base: &Ty, name: &Ident, base_text: &str) -> Ty {
        match base {
            Ty::Unknown => Ty::Unknown,
            Ty::Struct(fields) => match fields.iter().find(|(n, _)| *n == name.text) {
                Some((_, ty)) => ty.clone(),
                None => {
                    self.c.push(
                        Diagnostic::new(
                            Code::UnknownArtifactProperty,
                            name.span,
                            format!("this item has no field `{}`", name.text),
                        )
                        .label("unknown field")
                        .maybe_help(help_did_you_mean(&name.text, fields.iter().map(|(n, _)| n.as_str())))
                        .help_if_none(format!(
                            "the items have {}",
                            fields.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                        )),
                    );
                    Ty::Unknown
                }
            },
            Ty::Artifact(_) => {
                self.c.push(
                    Diagnostic::new(Code::UnknownArtifactProperty, name.span, format!("`.{}` cannot be used in a pipeline", name.text))
                        .label("artifact property in a pipeline")
                        .maybe_help(
                            ARTIFACT_PROPERTIES
                                .contains(&name.text.as_str())
                                .then(|| "pass the artifact itself; its `.path`, `.uri` and `.metadata` are for the component's script or command".to_string()),
                        )
                        .help_if_none("pass the artifact itself to the next task"),
                );
                Ty::Unknown
            }
            Ty::Map(element) => {
                // KFL has no `m["key"]`: a pipeline cannot read one entry of a Map. The help says
                // what can be written instead: the whole map, read by the task's script, or records,
                // whose fields are read with `.`.
                let key = &name.text;
                self.c.push(
                    Diagnostic::new(
                        Code::UnknownArtifactProperty,
                        name.span,
                        format!("`{base_text}` is a Map<{element}>: its entries cannot be read with `.{key}`"),
                    )
                    .label("not a field")
                    .help(format!(
                        "KFL has no `{base_text}[\"{key}\"]`: pass the whole map, `{base_text}`, to an input of type \
                         Map<{element}> and read `[\"{key}\"]` in the script; or, to write `{base_text}.{key}`, loop \
                         over a list literal of records, whose keys have no quotes: `[{{ {key}: … }}]`, not \
                         `[{{ \"{key}\": … }}]`"
                    )),
                );
                Ty::Unknown
            }
            other => {
                self.c.push(
                    Diagnostic::new(Code::UnknownArtifactProperty, name.span, format!("a value of type {other} has no property `{}`", name.text))
                        .label("no such property")
                        .help("only task outputs (`task.output`) and fields of loop items (`item.field`) are written with `.`"),
                );
                Ty::Unknown
            }
        }
    }

    fn path_ty(&mut self, parts: &[Ident], condition: bool) -> Ty {
        let head = &parts[0];
        let rest = &parts[1..];
        let scope = self.scope;
        // Loop variables in scope, innermost first.
        let in_scope_loop = self.scopes.iter().rev().find_map(|s| match s {
            ScopeId::Loop(i) if scope.loop_var(*i) == Some(head.text.as_str()) => Some(*i),
            _ => None,
        });
        let mut ty = if let Some(i) = in_scope_loop {
            let state = &mut self.loops[i as usize];
            state.used = true;
            state.elem.clone()
        } else if let Some(p) = scope.params.iter().position(|p| p.name == head.text) {
            self.effects.params_used.push(p as u32);
            scope.params[p].ty.clone()
        } else if let Some(target) = scope.task_named(&head.text) {
            return self.task_output_ty(target, head, rest, condition);
        } else if scope.meaning(&head.text).loop_var {
            let declared = self.at(At::FirstLoop(head.text.as_str().into()));
            self.c.push(
                Diagnostic::new(Code::LoopVariableOutOfScope, head.span, format!("loop variable `{}` is used outside its loop", head.text))
                    .label("outside the loop")
                    .secondary(Label::new(declared, "the loop variable is declared here"))
                    .help("use it inside the loop's body; to collect results of the loop, read a task's output after the loop"),
            );
            return Ty::Unknown;
        } else if self.has_broken_statements() {
            return Ty::Unknown;
        } else {
            let mut names: Vec<&str> = scope.params.iter().map(|p| p.name.as_str()).collect();
            names.extend(scope.task_names());
            for id in &self.scopes {
                if let ScopeId::Loop(i) = id {
                    names.extend(scope.loop_var(*i));
                }
            }
            let help = help_did_you_mean(&head.text, names.iter().copied()).unwrap_or_else(|| {
                "a value is a parameter, a loop variable, or a task's output `task.output`".to_string()
            });
            self.c.push(
                Diagnostic::new(
                    Code::UnresolvedName,
                    head.span,
                    format!("cannot find `{}` in pipeline `{}`", head.text, scope.name),
                )
                .label("not found")
                .help(help),
            );
            return Ty::Unknown;
        };
        for (i, name) in rest.iter().enumerate() {
            let base = std::iter::once(head).chain(&rest[..i]).map(|p| p.text.as_str()).collect::<Vec<_>>().join(".");
            ty = self.property_ty(&ty, name, &base);
        }
        ty
    }

    fn task_output_ty(&mut self, target: u32, head: &Ident, rest: &[Ident], condition: bool) -> Ty {
        let Some((output_name, extra)) = rest.split_first() else {
            let name = self.task_name(target);
            self.effects.bad.push(name);
            let outputs: Vec<String> = match self.callee(target).and_then(|(_, e)| e.signature()) {
                Some(sig) => sig.outputs.iter().map(|o| format!("`{}.{}`", head.text, o.name)).collect(),
                None => Vec::new(),
            };
            let help = if outputs.is_empty() {
                "pass one of its outputs, `task.output`; to only wait for the task, use `after = [task]`".to_string()
            } else {
                format!(
                    "pass one of its outputs: {}; to only wait for it, use `after = [{}]`",
                    outputs.join(", "),
                    head.text
                )
            };
            self.c.push(
                Diagnostic::new(Code::TaskUsedAsValue, head.span, format!("`{}` is a task, not a value", head.text))
                    .label("a task")
                    .help(help),
            );
            return Ty::Unknown;
        };
        if let Some(current) = self.current_task {
            if current == target {
                self.c.push(
                    Diagnostic::new(
                        Code::DependencyCycle,
                        head.span,
                        format!("task `{}` reads its own output", head.text),
                    )
                    .label("a task cannot use its own output")
                    .help("pass the value from another task or a parameter"),
                );
                return Ty::Unknown;
            }
            self.current_deps.push(target);
        } else {
            self.enclosing_deps.push(target);
        }
        let loops_left = self.check_task_visible(
            target,
            head,
            condition && self.scope.task(target).is_some_and(|t| t.is_top_level()),
        );
        let Some((owner, export)) = self.callee(target) else {
            self.mark_read(target, &output_name.text);
            return Ty::Unknown;
        };
        let Some(sig) = export.signature() else {
            return Ty::Unknown;
        };
        let Some(output) = sig.output(&output_name.text) else {
            let name = self.task_name(target);
            self.effects.bad.push(name);
            let scope = self.scope;
            let callee: &str = scope.task(target).map_or("", |t| t.callee);
            let help = help_did_you_mean(&output_name.text, sig.outputs.iter().map(|o| o.name.as_str()))
                .unwrap_or_else(|| {
                    if sig.outputs.is_empty() {
                        format!("`{callee}` has no outputs")
                    } else {
                        format!(
                            "`{callee}` outputs {}",
                            sig.outputs.iter().map(|o| format!("`{}`", o.name)).collect::<Vec<_>>().join(", ")
                        )
                    }
                });
            let mut d = Diagnostic::new(
                Code::UnknownOutput,
                output_name.span,
                format!("task `{}` has no output `{}`", head.text, output_name.text),
            )
            .label("unknown output")
            .help(help);
            if let Some(span) = self.c.item_name_span(owner, callee) {
                d = d.secondary(self.c.label_in(owner, span, format!("`{callee}` is declared here")));
            }
            self.c.push(d);
            return Ty::Unknown;
        };
        self.mark_read(target, &output_name.text);
        let mut ty = self.c.output_ty(owner, output);
        for _ in 0..loops_left {
            ty = Ty::List(Box::new(ty));
        }
        for (i, name) in extra.iter().enumerate() {
            let base = [head, output_name]
                .into_iter()
                .chain(&extra[..i])
                .map(|p| p.text.as_str())
                .collect::<Vec<_>>()
                .join(".");
            ty = self.property_ty(&ty, name, &base);
        }
        ty
    }

    /// Records that output `output` of task `target` is read.
    fn mark_read(&mut self, target: u32, output: &str) {
        let name = self.task_name(target);
        self.effects.reads.push((name, output.to_string()));
    }
}

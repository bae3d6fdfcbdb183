//! Warnings about what a pipeline declares but never uses: parameters, and the results of tasks.

use rustc_hash::FxHashSet as HashSet;

use kfl_diagnostics::{Code, Diagnostic};
use kfl_syntax::ast;

use super::PipelineChecker;
use crate::types::Ty;

impl PipelineChecker<'_, '_, '_> {
    pub(super) fn check_unused(&mut self) {
        for (param, _, used) in &self.params {
            if !used {
                self.c.push(
                    Diagnostic::new(
                        Code::UnusedParameter,
                        param.name.span,
                        format!("parameter `{}` is never used", param.name.text),
                    )
                    .label("unused")
                    .help("pass it to a task, or remove it"),
                );
            }
        }
        let pipeline_outputs: HashSet<&str> = self
            .pipeline
            .body
            .iter()
            .filter_map(|s| match &s.kind {
                ast::StmtKind::Output(o) => o.value.as_path().map(|p| p[0].text.as_str()),
                _ => None,
            })
            .collect();
        let mut warnings = Vec::new();
        for task in &self.tasks {
            let Some((owner, export)) = task.callee else {
                continue;
            };
            let Some(sig) = export.signature() else {
                continue;
            };
            if task.had_bad_reference {
                continue;
            }
            let outputs: Vec<(&str, Ty)> =
                sig.outputs.iter().map(|o| (o.name.as_str(), self.c.output_ty(owner, o))).collect();
            let any_read = !task.outputs_read.is_empty()
                || task.named_in_after
                || pipeline_outputs.contains(task.name.text.as_str());
            let unread: Vec<&str> = outputs
                .iter()
                .filter(|(n, ty)| !ty.is_display_artifact() && !task.outputs_read.contains(n))
                .map(|(n, _)| *n)
                .collect();
            if unread.is_empty() {
                continue;
            }
            if !any_read {
                warnings.push(
                    Diagnostic::new(
                        Code::UnusedTask,
                        task.name.span,
                        format!("the results of task `{}` are never used", task.name.text),
                    )
                    .label("nothing reads its outputs")
                    .help(format!(
                        "pass `{}.{}` to another task, expose it with `output … = {}.{}`, or remove the task",
                        task.name.text, unread[0], task.name.text, unread[0]
                    )),
                );
            } else {
                for name in unread {
                    warnings.push(
                        Diagnostic::new(Code::UnusedOutput, task.name.span, format!("output `{name}` of task `{}` is never read", task.name.text))
                            .label(format!("`{}.{name}` is unused", task.name.text))
                            .help(format!("pass `{}.{name}` on, expose it with `output {name} = {}.{name}`, or drop the output from the component", task.name.text, task.name.text)),
                    );
                }
            }
        }
        for w in warnings {
            self.c.push(w);
        }
    }
}

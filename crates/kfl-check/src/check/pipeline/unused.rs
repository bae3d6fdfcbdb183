//! Warnings about what a pipeline declares but never uses: parameters, and the results of tasks.

use rustc_hash::FxHashSet as HashSet;

use kfl_diagnostics::{Code, Diagnostic};

use super::global::Global;

impl Global<'_, '_, '_> {
    pub(super) fn check_unused(&mut self) {
        let scope = self.scope;
        for (index, param) in scope.params.iter().enumerate() {
            if !self.params_used.contains(&(index as u32)) {
                let span = self.at(param.at.clone());
                self.c.push(
                    Diagnostic::new(Code::UnusedParameter, span, format!("parameter `{}` is never used", param.name))
                        .label("unused")
                        .help("pass it to a task, or remove it"),
                );
            }
        }
        let pipeline_outputs: HashSet<&str> = scope.outputs.iter().filter_map(|o| o.head()).collect();
        let mut warnings = Vec::new();
        for (index, _, task) in scope.task_decls() {
            if self.had_bad_reference(index) {
                continue;
            }
            let Some((owner, export)) = self.callee(index) else {
                continue;
            };
            let Some(sig) = export.signature() else {
                continue;
            };
            let range = self.read_range(index);
            let read = &self.reads[range];
            // (Most tasks have every output read: that costs no list.)
            let mut unread: Vec<&str> = Vec::new();
            for output in &sig.outputs {
                if !read.contains(&output.name.as_str()) && !self.c.output_ty(owner, output).is_display_artifact() {
                    unread.push(&output.name);
                }
            }
            if unread.is_empty() {
                continue;
            }
            let any_read = !read.is_empty() || self.after.contains(&index) || pipeline_outputs.contains(&*task.name);
            let span = self.c.at(super::scope::At::Task(index));
            let task_name = &task.name;
            if !any_read {
                warnings.push(
                    Diagnostic::new(
                        Code::UnusedTask,
                        span,
                        format!("the results of task `{}` are never used", task_name),
                    )
                    .label("nothing reads its outputs")
                    .help(format!(
                        "pass `{}.{}` to another task, expose it with `output … = {}.{}`, or remove the task",
                        task_name, unread[0], task_name, unread[0]
                    )),
                );
            } else {
                for name in unread {
                    warnings.push(
                        Diagnostic::new(Code::UnusedOutput, span, format!("output `{name}` of task `{}` is never read", task_name))
                            .label(format!("`{}.{name}` is unused", task_name))
                            .help(format!("pass `{}.{name}` on, expose it with `output {name} = {}.{name}`, or drop the output from the component", task_name, task_name)),
                    );
                }
            }
        }
        for w in warnings {
            self.c.push(w);
        }
    }
}

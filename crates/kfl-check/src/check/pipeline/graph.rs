//! The task graph of a pipeline: dependency cycles, task names that collide once cut to 63
//! characters, and pipelines that call themselves directly or through others.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use kfl_diagnostics::{Code, Diagnostic, Label};
use kfl_syntax::ast;

use super::global::Global;
use super::scope::At;
use crate::items::{file_exports, lookup, Export, Found};
use crate::{parse, parse_outline, Db, SourceFile};

impl Global<'_, '_, '_> {
    pub(super) fn check_graph(&mut self) {
        use petgraph::graph::DiGraph;
        let scope = self.scope;
        let tasks: Vec<&std::sync::Arc<str>> = scope.task_decls().map(|(_, _, task)| &task.name).collect();
        let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(tasks.len(), self.deps.len());
        let nodes: Vec<_> = (0..tasks.len()).map(|i| graph.add_node(i)).collect();
        for &(task, dep) in &self.deps {
            if dep != task {
                if let (Some(&from), Some(&to)) = (nodes.get(dep as usize), nodes.get(task as usize)) {
                    graph.add_edge(from, to, ());
                }
            }
        }
        for component in petgraph::algo::tarjan_scc(&graph) {
            if component.len() < 2 {
                continue;
            }
            let mut members: Vec<usize> = component.iter().map(|n| graph[*n]).collect();
            members.sort_unstable();
            let names: Vec<String> = members.iter().map(|&i| format!("`{}`", tasks[i])).collect();
            let first = members[0];
            let span = self.at(At::Task(first as u32));
            let mut d = Diagnostic::new(
                Code::DependencyCycle,
                span,
                format!("tasks depend on each other in a cycle: {}", names.join(" → ")),
            )
            .label("part of a cycle")
            .help("a pipeline is a graph without cycles; break the cycle by removing one of these references");
            for &i in &members[1..] {
                let span = self.at(At::Task(i as u32));
                d = d.secondary(Label::new(span, "also in the cycle"));
            }
            self.c.push(d);
        }
        // Kubernetes names: longer names are cut to 63 characters; two cut names must differ
        // (only a name that is cut can collide).
        if tasks.iter().all(|name| name.len() <= 63) {
            return;
        }
        let mut by_k8s: HashMap<String, usize> = HashMap::default();
        for (i, task) in tasks.iter().enumerate() {
            let name = task.replace('_', "-");
            if name.len() <= 63 {
                by_k8s.entry(name).or_insert(i);
                continue;
            }
            let cut: String = name.chars().take(63).collect::<String>().trim_end_matches('-').to_string();
            match by_k8s.get(&cut) {
                Some(&other) if tasks[other] != *task => {
                    let other_span = self.at(At::Task(other as u32));
                    let span = self.at(At::Task(i as u32));
                    self.c.push(
                        Diagnostic::new(Code::K8sNameCollision, span, format!("tasks `{}` and `{}` both become the Kubernetes name `{cut}`", tasks[other], task))
                            .label("same Kubernetes name")
                            .secondary(Label::new(other_span, "the other task"))
                            .help("Kubernetes names are cut to 63 characters; make the first 63 characters of the names differ"),
                    );
                }
                _ => {
                    by_k8s.insert(cut, i);
                }
            }
        }
    }

    pub(super) fn check_recursion(&mut self) {
        let scope = self.scope;
        let me = (self.c.file, scope.name.clone());
        for (index, _, task) in scope.task_decls() {
            let Some((owner, Export::Pipeline(_))) = self.callee(index) else {
                continue;
            };
            let start = (owner, task.callee.to_string());
            if start == me {
                let span = self.at(At::Callee(index));
                self.c.push(
                    Diagnostic::new(Code::RecursivePipeline, span, format!("pipeline `{}` calls itself", me.1))
                        .label("recursive call")
                        .help("a pipeline is a finite graph; use a `for` loop to repeat work"),
                );
                continue;
            }
            // Walk the pipelines the callee calls, looking for this one.
            let mut stack = vec![start.clone()];
            let mut seen = HashSet::default();
            let mut found = false;
            while let Some((file, name)) = stack.pop() {
                if !seen.insert((file, name.clone())) {
                    continue;
                }
                let Some(Export::Pipeline(_)) = file_exports(self.c.db, file).items.get(&name) else {
                    continue;
                };
                for callee in pipeline_callees(self.c.db, file, &name) {
                    if let Found::One(next_file, Export::Pipeline(_)) = lookup(self.c.db, file, &callee) {
                        if (next_file, callee.clone()) == me {
                            found = true;
                        }
                        stack.push((next_file, callee));
                    }
                }
            }
            if found {
                let span = self.at(At::Callee(index));
                self.c.push(
                    Diagnostic::new(
                        Code::RecursivePipeline,
                        span,
                        format!("pipeline `{}` calls `{}`, which calls `{}` again", me.1, start.1, me.1),
                    )
                    .label("recursive call")
                    .help("pipelines cannot call each other in a cycle"),
                );
            }
        }
    }
}

/// The names a pipeline calls: from what its body declares when it is in pieces, else from the
/// file's tree.
fn pipeline_callees(db: &dyn Db, file: SourceFile, name: &str) -> Vec<String> {
    let outline = parse_outline(db, file);
    let mut out = Vec::new();
    for (index, item) in outline.parse.file.items.iter().enumerate() {
        let ast::Item::Pipeline(p) = item else { continue };
        if p.name.text != name {
            continue;
        }
        if outline.pipelines.iter().any(|pieces| pieces.item == index as u32) {
            if let Some(body) =
                super::pieces::pipeline_body(db, super::pieces::PipelineKey::new(db, file, index as u32))
            {
                out.extend(body.task_decls().map(|(_, _, t)| t.callee.to_string()));
            }
        } else if let Some(ast::Item::Pipeline(whole)) = parse(db, file).file.items.get(index) {
            collect_callees(&whole.body, &mut out);
        }
        break;
    }
    out
}

fn collect_callees(stmts: &[ast::Stmt], out: &mut Vec<String>) {
    for stmt in stmts {
        match &stmt.kind {
            ast::StmtKind::Task(t) => out.push(t.call.callee.text.clone()),
            ast::StmtKind::If(i) => {
                collect_callees(&i.then.stmts, out);
                match &i.otherwise {
                    Some(ast::Else::If(next)) => collect_callees(
                        std::slice::from_ref(&ast::Stmt {
                            doc: Default::default(),
                            kind: ast::StmtKind::If((**next).clone()),
                            span: next.span,
                        }),
                        out,
                    ),
                    Some(ast::Else::Block(b)) => collect_callees(&b.stmts, out),
                    None => {}
                }
            }
            ast::StmtKind::For(f) => collect_callees(&f.body.stmts, out),
            ast::StmtKind::Finally(b) => collect_callees(&b.stmts, out),
            _ => {}
        }
    }
}

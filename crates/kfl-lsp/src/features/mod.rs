//! The editor features. Each takes a [`Ctx`] (a database snapshot, the file, its lines) and returns
//! LSP values; none of them does IO or blocks on anything but salsa.

pub mod code_actions;
pub mod completion;
pub mod folding;
pub mod hover;
pub mod inlay_hints;
pub mod navigation;
pub mod semantic_tokens;
pub mod signature_help;
pub mod symbols;

use std::collections::HashMap;

use kfl_check::items::{self, file_exports, lookup, Export, Found};
use kfl_check::types::{unify, Ty};
use kfl_check::{parse, Db, SourceFile};
use kfl_diagnostics::Span;
use kfl_syntax::ast::{self, Expr, ExprKind};
use tower_lsp_server::ls_types::TextEdit;

use crate::convert::{ClientSupport, Lines, UriMap};

/// What every feature works on.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub db: &'a dyn Db,
    pub file: SourceFile,
    pub lines: Lines<'a>,
    pub uris: &'a UriMap,
    pub support: ClientSupport,
}

impl<'a> Ctx<'a> {
    pub fn new(db: &'a dyn Db, file: SourceFile, uris: &'a UriMap, support: ClientSupport) -> Ctx<'a> {
        Ctx { db, file, lines: Lines::of(db, file), uris, support }
    }
    pub fn text(&self) -> &'a str {
        self.lines.text
    }
}

/// The source text of a span in a file.
pub fn source(db: &dyn Db, file: SourceFile, span: Span) -> &str {
    file.text(db).get(span.range()).unwrap_or("")
}

pub fn find_component<'db>(db: &'db dyn Db, file: SourceFile, name: &str) -> Option<&'db ast::Component> {
    parse(db, file).file.items.iter().find_map(|item| match item {
        ast::Item::Component(c) if c.name.text == name => Some(c),
        _ => None,
    })
}

pub fn find_pipeline<'db>(db: &'db dyn Db, file: SourceFile, name: &str) -> Option<&'db ast::Pipeline> {
    parse(db, file).file.items.iter().find_map(|item| match item {
        ast::Item::Pipeline(p) if p.name.text == name => Some(p),
        _ => None,
    })
}

pub fn find_artifact<'db>(db: &'db dyn Db, file: SourceFile, name: &str) -> Option<&'db ast::ArtifactDecl> {
    parse(db, file).file.items.iter().find_map(|item| match item {
        ast::Item::Artifact(a) if a.name.text == name => Some(a),
        _ => None,
    })
}

/// A component or pipeline a file can call, with the file that declares it.
pub fn callable<'db>(db: &'db dyn Db, file: SourceFile, name: &str) -> Option<(SourceFile, &'db Export)> {
    match lookup(db, file, name) {
        Found::One(owner, export @ (Export::Component(_) | Export::Pipeline(_))) => Some((owner, export)),
        _ => None,
    }
}

pub fn type_text(ty: &ast::TypeExpr) -> String {
    if ty.args.is_empty() {
        ty.name.text.clone()
    } else {
        let args: Vec<String> = ty.args.iter().map(type_text).collect();
        format!("{}<{}>", ty.name.text, args.join(", "))
    }
}

/// One input of a callee as callers see it: name, resolved type, default as written, doc.
#[derive(Clone, Debug)]
pub struct InputInfo {
    pub name: String,
    pub ty: String,
    pub default: Option<String>,
    pub doc: Option<String>,
}

/// The inputs of a component or pipeline declared in `owner`, in declaration order.
pub fn callee_inputs(db: &dyn Db, owner: SourceFile, export: &Export, name: &str) -> Vec<InputInfo> {
    let Some(sig) = export.signature() else { return Vec::new() };
    let mut declared: HashMap<&str, (&ast::Param, &ast::Doc)> = HashMap::new();
    if let Some(c) = find_component(db, owner, name) {
        for member in &c.members {
            if let ast::MemberKind::Input(p) = &member.kind {
                declared.entry(p.name.text.as_str()).or_insert((p, &member.doc));
            }
        }
    } else if let Some(p) = find_pipeline(db, owner, name) {
        for param in &p.params {
            declared.entry(param.name.text.as_str()).or_insert((param, &param.doc));
        }
    }
    sig.inputs
        .iter()
        .map(|input| {
            let param = declared.get(input.name.as_str());
            let ty = match items::input_ty(db, owner, input) {
                Ty::Unknown => input.ty.name.clone(),
                ty => ty.to_string(),
            };
            InputInfo {
                name: input.name.clone(),
                ty,
                default: param.and_then(|(p, _)| p.default.as_ref()).map(|d| source(db, owner, d.span).to_string()),
                doc: param.and_then(|(_, doc)| doc.text()),
            }
        })
        .collect()
}

/// The outputs of a component or pipeline with their resolved types.
pub fn callee_outputs(db: &dyn Db, owner: SourceFile, export: &Export) -> Vec<(String, Ty)> {
    let Some(sig) = export.signature() else { return Vec::new() };
    sig.outputs.iter().map(|o| (o.name.clone(), items::output_ty(db, owner, o))).collect()
}

/// `model: Model, accuracy: Float`
pub fn outputs_text(outputs: &[(String, Ty)]) -> String {
    outputs.iter().map(|(n, t)| format!("{n}: {t}")).collect::<Vec<_>>().join(", ")
}

/// The docs of the fields and blocks of components and tasks, and of resource entries.
pub const FIELD_DOCS: [(&str, &str, &str); 23] = [
    ("image", "String", "the container image, e.g. \"python:3.11-slim\""),
    ("packages", "List<String>", "pip requirements installed before a python script runs; pin each with =="),
    ("command", "List", "the command to run, with typed placeholders (replaces the image's entrypoint)"),
    ("args", "List", "the arguments of the command, with typed placeholders"),
    ("description", "String", "a human-readable description"),
    ("retries", "Int", "how often a failed attempt is retried, 0 to 100"),
    ("timeout", "duration", "the longest one attempt may run, e.g. 30m, 6h, 1h30m"),
    ("cache", "Bool", "whether a result of an earlier run with the same inputs may be reused"),
    ("tolerations", "List<Map>", "Kubernetes tolerations of the pod"),
    ("after", "List of tasks", "tasks this task runs after, beside those whose outputs it reads"),
    ("display_name", "String", "the name shown in the UI"),
    ("resources", "block", "what the pod requests: cpu, memory, gpu, accelerator, cpu_limit, memory_limit"),
    ("env", "block", "environment variables: NAME = \"value\" or secret(name: \"…\", key: \"…\")"),
    ("node_selector", "block", "node labels the pod must be scheduled on"),
    ("labels", "block", "Kubernetes labels of the pod"),
    ("annotations", "block", "Kubernetes annotations of the pod"),
    ("cpu", "CPU", "cores (2, 0.5) or millicores (500m)"),
    ("memory", "memory", "bytes with a unit: Ki Mi Gi Ti Pi Ei (powers of 1024) or k M G T P E"),
    ("gpu", "GPU count", "a whole number of GPUs"),
    ("accelerator", "String", "the node label value of the GPU kind, e.g. \"nvidia-tesla-a100\""),
    ("cpu_limit", "CPU", "the CPU limit; not below cpu"),
    ("memory_limit", "memory", "the memory limit; not below memory"),
    ("secret", "function", "secret(name: \"…\", key: \"…\") reads a key of a Kubernetes secret when the pod starts"),
];

pub fn field_doc(name: &str) -> Option<(&'static str, &'static str)> {
    FIELD_DOCS.iter().find(|(n, _, _)| *n == name).map(|(_, ty, doc)| (*ty, *doc))
}

/// A task of a pipeline as the editor sees it.
pub struct TaskInfo<'a> {
    pub name: &'a ast::Ident,
    pub stmt: &'a ast::TaskStmt,
    pub doc: &'a ast::Doc,
    /// Declaration spans of the loops around the task, outermost first.
    pub loops: Vec<Span>,
}

/// Every task of a pipeline in source order, with the loops around it.
pub fn pipeline_tasks(pipeline: &ast::Pipeline) -> Vec<TaskInfo<'_>> {
    fn walk<'a>(stmts: &'a [ast::Stmt], loops: &mut Vec<Span>, out: &mut Vec<TaskInfo<'a>>) {
        for stmt in stmts {
            match &stmt.kind {
                ast::StmtKind::Task(t) => out.push(TaskInfo {
                    name: t.binding.as_ref().unwrap_or(&t.call.callee),
                    stmt: t,
                    doc: &stmt.doc,
                    loops: loops.clone(),
                }),
                ast::StmtKind::If(i) => {
                    for block in i.blocks() {
                        walk(&block.stmts, loops, out);
                    }
                }
                ast::StmtKind::For(f) => {
                    loops.push(f.var.span);
                    walk(&f.body.stmts, loops, out);
                    loops.pop();
                }
                ast::StmtKind::Finally(b) => walk(&b.stmts, loops, out),
                ast::StmtKind::Field(_) | ast::StmtKind::Output(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(&pipeline.body, &mut Vec::new(), &mut out);
    out
}

/// Every `for` of a pipeline with the loops around it (outermost first).
pub fn pipeline_loops(pipeline: &ast::Pipeline) -> Vec<(&ast::ForStmt, Vec<Span>)> {
    fn walk<'a>(stmts: &'a [ast::Stmt], loops: &mut Vec<Span>, out: &mut Vec<(&'a ast::ForStmt, Vec<Span>)>) {
        for stmt in stmts {
            match &stmt.kind {
                ast::StmtKind::If(i) => {
                    for block in i.blocks() {
                        walk(&block.stmts, loops, out);
                    }
                }
                ast::StmtKind::For(f) => {
                    out.push((f, loops.clone()));
                    loops.push(f.var.span);
                    walk(&f.body.stmts, loops, out);
                    loops.pop();
                }
                ast::StmtKind::Finally(b) => walk(&b.stmts, loops, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(&pipeline.body, &mut Vec::new(), &mut out);
    out
}

/// Types of pipeline expressions, for hover and inlay hints. A lenient copy of the checker's rules
/// that reports nothing: whatever it cannot type is [`Ty::Unknown`].
pub struct Typer<'a> {
    db: &'a dyn Db,
    file: SourceFile,
    pipeline: &'a ast::Pipeline,
    tasks: Vec<TaskInfo<'a>>,
    loops: Vec<(&'a ast::ForStmt, Vec<Span>)>,
}

impl<'a> Typer<'a> {
    pub fn new(db: &'a dyn Db, file: SourceFile, pipeline: &'a ast::Pipeline) -> Typer<'a> {
        Typer { db, file, pipeline, tasks: pipeline_tasks(pipeline), loops: pipeline_loops(pipeline) }
    }

    pub fn tasks(&self) -> &[TaskInfo<'a>] {
        &self.tasks
    }

    pub fn task(&self, name: &str) -> Option<&TaskInfo<'a>> {
        self.tasks.iter().find(|t| t.name.text == name)
    }

    /// The element type of the loop declared at `decl`.
    pub fn loop_var_ty(&self, decl: Span) -> Ty {
        self.loop_var_ty_depth(decl, 0)
    }

    fn loop_var_ty_depth(&self, decl: Span, depth: usize) -> Ty {
        let Some((f, outer)) = self.loops.iter().find(|(f, _)| f.var.span == decl) else {
            return Ty::Unknown;
        };
        match self.expr_ty_depth(&f.iterable, outer, depth + 1) {
            Ty::List(inner) => *inner,
            _ => Ty::Unknown,
        }
    }

    /// The type of an expression written inside the loops `scope` (their declaration spans).
    pub fn expr_ty(&self, expr: &Expr, scope: &[Span]) -> Ty {
        self.expr_ty_depth(expr, scope, 0)
    }

    fn expr_ty_depth(&self, expr: &Expr, scope: &[Span], depth: usize) -> Ty {
        if depth > 32 {
            return Ty::Unknown;
        }
        match &expr.kind {
            ExprKind::Str(_) => Ty::String,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Number(n) if n.unit.is_some() => Ty::Unknown,
            ExprKind::Number(n) => {
                if n.is_integer() {
                    Ty::Int
                } else {
                    Ty::Float
                }
            }
            ExprKind::Paren(inner) => self.expr_ty_depth(inner, scope, depth + 1),
            ExprKind::Not(_) | ExprKind::Binary(..) => Ty::Bool,
            ExprKind::Call(_) => Ty::Unknown,
            ExprKind::List(items) => {
                let mut elem = Ty::Unknown;
                for item in items {
                    let ty = self.expr_ty_depth(item, scope, depth + 1);
                    elem = unify(&elem, &ty).unwrap_or(Ty::Unknown);
                }
                Ty::List(Box::new(elem))
            }
            ExprKind::Map(entries) => {
                if entries.iter().all(|e| matches!(e.key, ast::Key::Ident(_))) && !entries.is_empty() {
                    Ty::Struct(
                        entries
                            .iter()
                            .map(|e| (e.key.text().to_string(), self.expr_ty_depth(&e.value, scope, depth + 1)))
                            .collect(),
                    )
                } else {
                    let mut value = Ty::Unknown;
                    for e in entries {
                        value = unify(&value, &self.expr_ty_depth(&e.value, scope, depth + 1)).unwrap_or(Ty::Unknown);
                    }
                    Ty::Map(Box::new(value))
                }
            }
            ExprKind::Field(base, name) => field_ty(self.expr_ty_depth(base, scope, depth + 1), &name.text),
            ExprKind::Path(parts) => {
                let Some(head) = parts.first() else { return Ty::Unknown };
                let mut rest = &parts[1..];
                let mut ty = if let Some(decl) = scope
                    .iter()
                    .rev()
                    .find(|decl| self.loops.iter().any(|(f, _)| f.var.span == **decl && f.var.text == head.text))
                {
                    self.loop_var_ty_depth(*decl, depth + 1)
                } else if let Some(p) = self.pipeline.params.iter().find(|p| p.name.text == head.text) {
                    kfl_check::items::resolve_type(self.db, self.file, &items::TypeRef::from_ast(&p.ty))
                        .unwrap_or(Ty::Unknown)
                } else if let Some(task) = self.task(&head.text) {
                    let Some((output, more)) = rest.split_first() else { return Ty::Unknown };
                    rest = more;
                    let mut ty = self.task_output_ty(task, &output.text);
                    // Read outside a loop the task runs in: one value per iteration.
                    for decl in &task.loops {
                        if !scope.contains(decl) {
                            ty = Ty::List(Box::new(ty));
                        }
                    }
                    ty
                } else {
                    Ty::Unknown
                };
                for name in rest {
                    ty = field_ty(ty, &name.text);
                }
                ty
            }
        }
    }

    pub fn task_output_ty(&self, task: &TaskInfo<'_>, output: &str) -> Ty {
        let Some((owner, export)) = callable(self.db, self.file, &task.stmt.call.callee.text) else {
            return Ty::Unknown;
        };
        match export.signature().and_then(|s| s.output(output)) {
            Some(out) => items::output_ty(self.db, owner, out),
            None => Ty::Unknown,
        }
    }
}

fn field_ty(ty: Ty, name: &str) -> Ty {
    match ty {
        Ty::Struct(fields) => fields.into_iter().find(|(n, _)| n == name).map_or(Ty::Unknown, |(_, t)| t),
        _ => Ty::Unknown,
    }
}

/// The resolved type of a pipeline's output as callers see it.
pub fn pipeline_output_ty(db: &dyn Db, file: SourceFile, pipeline: &str, output: &str) -> Ty {
    match file_exports(db, file).items.get(pipeline) {
        Some(Export::Pipeline(sig)) => sig.output(output).map_or(Ty::Unknown, |o| items::output_ty(db, file, o)),
        _ => Ty::Unknown,
    }
}

/// The resources a task runs with: its component's entries, replaced entry by entry by the task's
/// own `resources` block. Each entry as `(name, value as written)`.
pub fn effective_resources(db: &dyn Db, file: SourceFile, task: &ast::TaskStmt) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = Vec::new();
    if let Some((owner, Export::Component(_))) = callable(db, file, &task.call.callee.text) {
        if let Some(c) = find_component(db, owner, &task.call.callee.text) {
            for member in &c.members {
                if let ast::MemberKind::Block(b) = &member.kind {
                    if b.name.text == "resources" {
                        for e in &b.entries {
                            entries.push((e.key.text().to_string(), source(db, owner, e.value.span).to_string()));
                        }
                    }
                }
            }
        }
    }
    if let Some(block) = &task.overrides {
        for member in &block.members {
            if let ast::TaskMember::Block(b) = member {
                if b.name.text == "resources" {
                    for e in &b.entries {
                        let value = source(db, file, e.value.span).to_string();
                        match entries.iter_mut().find(|(k, _)| k == e.key.text()) {
                            Some(existing) => existing.1 = value,
                            None => entries.push((e.key.text().to_string(), value)),
                        }
                    }
                }
            }
        }
    }
    entries
}

/// One edit replacing the whole text.
pub fn replace_all(lines: &Lines<'_>, new_text: String) -> TextEdit {
    TextEdit { range: lines.range(Span::new(0, lines.text.len())), new_text }
}

/// The formatted file, as edits; `None` when it cannot be formatted (a syntax error) or is already
/// formatted.
pub fn formatting(ctx: &Ctx<'_>) -> Result<Option<Vec<TextEdit>>, String> {
    match kfl_fmt::format(ctx.text()) {
        Ok(formatted) if formatted == ctx.text() => Ok(Some(Vec::new())),
        Ok(formatted) => Ok(Some(vec![replace_all(&ctx.lines, formatted)])),
        Err(error) if error.internal.is_some() => Err(error.to_string()),
        Err(_) => Ok(None),
    }
}

/// A component or pipeline as a caller sees it.
#[derive(Clone, Debug)]
pub struct CalleeInfo {
    pub name: String,
    /// `component` or `pipeline`.
    pub kind: &'static str,
    pub inputs: Vec<InputInfo>,
    /// Outputs with their types (as written for items of the file itself).
    pub outputs: Vec<(String, String)>,
    pub doc: Option<String>,
}

fn own_callee(outline: &crate::context::Outline) -> Option<CalleeInfo> {
    let kind = match outline.keyword.as_str() {
        "component" => "component",
        "pipeline" => "pipeline",
        _ => return None,
    };
    Some(CalleeInfo {
        name: outline.name.clone()?,
        kind,
        inputs: outline
            .inputs
            .iter()
            .map(|(name, ty)| InputInfo {
                name: name.clone(),
                ty: ty.clone(),
                default: outline.defaults.get(name).cloned(),
                doc: None,
            })
            .collect(),
        outputs: outline.outputs.clone(),
        doc: outline.doc.clone(),
    })
}

fn imported_callee(db: &dyn Db, owner: SourceFile, name: &str, export: &Export) -> Option<CalleeInfo> {
    let kind = match export {
        Export::Component(_) => "component",
        Export::Pipeline(_) => "pipeline",
        Export::Artifact { .. } => return None,
    };
    let doc = find_component(db, owner, name)
        .map(|c| c.doc.text())
        .or_else(|| find_pipeline(db, owner, name).map(|p| p.doc.text()))
        .flatten();
    Some(CalleeInfo {
        name: name.to_string(),
        kind,
        inputs: callee_inputs(db, owner, export, name),
        outputs: callee_outputs(db, owner, export).into_iter().map(|(n, t)| (n, t.to_string())).collect(),
        doc,
    })
}

/// The files a file imports, found from its tokens (without parsing it).
pub fn imports_from_tokens(db: &dyn Db, file: SourceFile) -> Vec<SourceFile> {
    let text = file.text(db);
    let mut out: Vec<SourceFile> = Vec::new();
    for relative in crate::lexer::lexical_imports(text, crate::lexer::file_tokens(db, file)) {
        let path = kfl_check::resolve_import_path(file.path(db), &relative);
        if let Some(target) = crate::index::project_file(db, &path) {
            if target != file && !out.contains(&target) {
                out.push(target);
            }
        }
    }
    out
}

/// The components and pipelines a file can call. The file itself is usually being typed and does
/// not parse, so its own items are read from tokens; imported files' come from their exports.
pub fn callees(db: &dyn Db, file: SourceFile) -> Vec<CalleeInfo> {
    let mut out: Vec<CalleeInfo> = crate::context::file_outlines(db, file).iter().filter_map(own_callee).collect();
    for imported in imports_from_tokens(db, file) {
        for (name, export) in &file_exports(db, imported).items {
            if out.iter().any(|c| c.name == *name) {
                continue;
            }
            out.extend(imported_callee(db, imported, name, export));
        }
    }
    out
}

/// One callee by name: the file's own item first, then the imported files' in import order.
pub fn callee_info(db: &dyn Db, file: SourceFile, name: &str) -> Option<CalleeInfo> {
    if let Some(own) =
        crate::context::file_outlines(db, file).iter().filter(|o| o.name.as_deref() == Some(name)).find_map(own_callee)
    {
        return Some(own);
    }
    imports_from_tokens(db, file).into_iter().find_map(|imported| {
        let export = file_exports(db, imported).items.get(name)?;
        imported_callee(db, imported, name, export)
    })
}

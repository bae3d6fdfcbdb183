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
use kfl_check::types::Ty;
use kfl_check::{parse, Db, SourceFile};
use kfl_diagnostics::Span;
use kfl_syntax::ast;
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

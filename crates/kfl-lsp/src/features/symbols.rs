//! Document symbols (the outline of a file) and workspace symbols (items of every file).

use kfl_check::{parse, Db};
use kfl_syntax::ast;
use tower_lsp_server::ls_types::{
    DocumentSymbol, DocumentSymbolResponse, Location, OneOf, SymbolInformation, SymbolKind, WorkspaceSymbol,
};

use super::{pipeline_tasks, type_text, Ctx};
use crate::convert::{Lines, UriMap};

#[allow(deprecated)] // `DocumentSymbol::deprecated` must still be written.
fn symbol(
    lines: &Lines<'_>,
    name: &str,
    detail: Option<String>,
    kind: SymbolKind,
    span: kfl_diagnostics::Span,
    selection: kfl_diagnostics::Span,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    DocumentSymbol {
        name: if name.is_empty() { "_".to_string() } else { name.to_string() },
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: lines.range(span.cover(selection)),
        selection_range: lines.range(selection),
        children: (!children.is_empty()).then_some(children),
    }
}

pub fn document_symbols(ctx: &Ctx<'_>) -> DocumentSymbolResponse {
    let lines = &ctx.lines;
    let mut out = Vec::new();
    for item in &parse(ctx.db, ctx.file).file.items {
        match item {
            ast::Item::Import(i) => {
                let path = i.target.relative_path();
                out.push(symbol(lines, &path, None, SymbolKind::FILE, i.span, i.target.span(), Vec::new()));
            }
            ast::Item::Artifact(a) => {
                let detail = a.base.as_ref().map(|b| format!("artifact: {}", b.text));
                out.push(symbol(lines, &a.name.text, detail, SymbolKind::CLASS, a.span, a.name.span, Vec::new()));
            }
            ast::Item::Component(c) => {
                let mut children = Vec::new();
                for member in &c.members {
                    match &member.kind {
                        ast::MemberKind::Input(p) => children.push(symbol(
                            lines,
                            &p.name.text,
                            Some(format!("input: {}", type_text(&p.ty))),
                            SymbolKind::FIELD,
                            member.span,
                            p.name.span,
                            Vec::new(),
                        )),
                        ast::MemberKind::Output(o) => children.push(symbol(
                            lines,
                            &o.name.text,
                            Some(format!("output: {}", type_text(&o.ty))),
                            SymbolKind::PROPERTY,
                            member.span,
                            o.name.span,
                            Vec::new(),
                        )),
                        _ => {}
                    }
                }
                out.push(symbol(
                    lines,
                    &c.name.text,
                    Some("component".to_string()),
                    SymbolKind::FUNCTION,
                    c.span,
                    c.name.span,
                    children,
                ));
            }
            ast::Item::Pipeline(p) => {
                let mut children = Vec::new();
                for param in &p.params {
                    children.push(symbol(
                        lines,
                        &param.name.text,
                        Some(format!("parameter: {}", type_text(&param.ty))),
                        SymbolKind::VARIABLE,
                        param.span,
                        param.name.span,
                        Vec::new(),
                    ));
                }
                for task in pipeline_tasks(p) {
                    let span = task.stmt.overrides.as_ref().map_or(task.stmt.call.span, |o| o.span);
                    children.push(symbol(
                        lines,
                        &task.name.text,
                        Some(format!("task: {}", task.stmt.call.callee.text)),
                        SymbolKind::OBJECT,
                        task.name.span.cover(span),
                        task.name.span,
                        Vec::new(),
                    ));
                }
                for stmt in &p.body {
                    if let ast::StmtKind::Output(o) = &stmt.kind {
                        children.push(symbol(
                            lines,
                            &o.name.text,
                            Some("output".to_string()),
                            SymbolKind::PROPERTY,
                            stmt.span,
                            o.name.span,
                            Vec::new(),
                        ));
                    }
                }
                out.push(symbol(
                    lines,
                    &p.name.text,
                    Some("pipeline".to_string()),
                    SymbolKind::MODULE,
                    p.span,
                    p.name.span,
                    children,
                ));
            }
        }
    }
    if ctx.support.hierarchical_symbols {
        DocumentSymbolResponse::Nested(out)
    } else {
        let uri = ctx.uris.uri(ctx.file.path(ctx.db));
        let mut flat = Vec::new();
        if let Some(uri) = uri {
            flatten(&uri, &out, None, &mut flat);
        }
        DocumentSymbolResponse::Flat(flat)
    }
}

#[allow(deprecated)]
fn flatten(
    uri: &tower_lsp_server::ls_types::Uri,
    symbols: &[DocumentSymbol],
    container: Option<&str>,
    out: &mut Vec<SymbolInformation>,
) {
    for s in symbols {
        out.push(SymbolInformation {
            name: s.name.clone(),
            kind: s.kind,
            tags: None,
            deprecated: None,
            location: Location { uri: uri.clone(), range: s.selection_range },
            container_name: container.map(str::to_string),
        });
        if let Some(children) = &s.children {
            flatten(uri, children, Some(&s.name), out);
        }
    }
}

/// Whether every character of `query` appears in `name` in order, ignoring case.
fn matches_query(name: &str, query: &str) -> bool {
    let mut chars = name.chars().map(|c| c.to_ascii_lowercase());
    query.chars().map(|c| c.to_ascii_lowercase()).all(|q| chars.any(|c| c == q))
}

/// Components, pipelines and artifact types of every file the server knows, matching `query`.
pub fn workspace_symbols(db: &dyn Db, uris: &UriMap, query: &str) -> Vec<WorkspaceSymbol> {
    let mut out = Vec::new();
    for file in crate::index::project_files(db) {
        let Some(uri) = uris.uri(file.path(db)) else { continue };
        let lines = Lines::of(db, file);
        for item in &parse(db, file).file.items {
            let (name, kind, detail) = match item {
                ast::Item::Import(_) => continue,
                ast::Item::Artifact(a) => (&a.name, SymbolKind::CLASS, "artifact type"),
                ast::Item::Component(c) => (&c.name, SymbolKind::FUNCTION, "component"),
                ast::Item::Pipeline(p) => (&p.name, SymbolKind::MODULE, "pipeline"),
            };
            if !matches_query(&name.text, query) {
                continue;
            }
            out.push(WorkspaceSymbol {
                name: name.text.clone(),
                kind,
                tags: None,
                container_name: Some(detail.to_string()),
                location: OneOf::Left(Location { uri: uri.clone(), range: lines.range(name.span) }),
                data: None,
            });
        }
        if out.len() >= 1000 {
            break;
        }
    }
    out
}

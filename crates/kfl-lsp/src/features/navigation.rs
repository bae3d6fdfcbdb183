//! Go to definition, find references, document highlights and rename, across the files of the
//! project.

use std::collections::HashMap;

use kfl_diagnostics::Span;
use tower_lsp_server::ls_types::{
    DocumentHighlight, DocumentHighlightKind, Location, PrepareRenameResponse, TextEdit, Uri, WorkspaceEdit,
};

use super::Ctx;
use crate::convert::Lines;
use crate::index::{declaration, file_index, references, Role, Symbol};
use crate::lexer::is_valid_ident;
use crate::lookup::{self, model_at, At};

pub fn definition(ctx: &Ctx<'_>, offset: usize) -> Option<Location> {
    if let Some(at) = model_at(ctx.db, ctx.file, offset) {
        if let Some((path, span)) = model_definition(ctx.db, at) {
            let file = lookup::file_of(ctx.db, path)?;
            return ctx.uris.location(ctx.db, file, span);
        }
    }
    let index = file_index(ctx.db, ctx.file);
    let occurrence = index.at(offset)?;
    let (file, span) = declaration(ctx.db, &occurrence.symbol)?;
    ctx.uris.location(ctx.db, file, span)
}

/// Where what the model has at a position is declared: the file's model path and the name's span.
pub fn model_definition<'db>(db: &'db dyn kfl_check::Db, at: At<'db>) -> Option<(&'db str, Span)> {
    let in_pipeline = |p: &'db kfl_model::item::Pipeline, span: Span| Some((&*p.id.file, span));
    match at {
        At::TaskName { pipeline, task } | At::TaskRef { pipeline, task, .. } => in_pipeline(pipeline, task.name_span),
        At::Callee { task, .. } => {
            let callee = lookup::callee_item(db, &task.callee)?;
            Some((&*callee.id().file, callee.name_span()))
        }
        At::ArgName { task, arg, .. } => {
            let callee = lookup::callee_item(db, &task.callee)?;
            let param = callee.inputs().iter().find(|p| p.name == arg.name)?;
            Some((&*param.origin.file, param.name_span))
        }
        At::TaskOutput { task, output, .. } => {
            let callee = lookup::callee_item(db, &task.callee)?;
            Some((&*callee.id().file, callee.output_span(output)?))
        }
        At::Param { pipeline, param, .. } => in_pipeline(pipeline, param.name_span),
        At::LoopVar { pipeline, decl, .. } => in_pipeline(pipeline, decl),
        At::PipelineOutput { pipeline, output } => in_pipeline(pipeline, output.name_span),
        At::ComponentInput { component, input } => Some((&*component.id.file, input.name_span)),
        At::ComponentOutput { component, output } => Some((&*component.id.file, output.name_span)),
        At::Setting { .. } => None,
    }
}

pub fn find_references(ctx: &Ctx<'_>, offset: usize, include_declaration: bool) -> Option<Vec<Location>> {
    let index = file_index(ctx.db, ctx.file);
    let symbol = index.at(offset)?.symbol.clone();
    let mut out = Vec::new();
    for (file, occurrence) in references(ctx.db, &symbol) {
        let is_decl = matches!(occurrence.role, Role::Decl | Role::ImplicitDecl);
        if is_decl && !include_declaration {
            continue;
        }
        out.extend(ctx.uris.location(ctx.db, file, occurrence.span));
    }
    Some(out)
}

pub fn highlights(ctx: &Ctx<'_>, offset: usize) -> Option<Vec<DocumentHighlight>> {
    let index = file_index(ctx.db, ctx.file);
    let symbol = &index.at(offset)?.symbol;
    Some(
        index
            .of(symbol)
            .map(|o| DocumentHighlight {
                range: ctx.lines.range(o.span),
                kind: Some(match o.role {
                    Role::Decl | Role::ImplicitDecl => DocumentHighlightKind::WRITE,
                    Role::Ref | Role::Mention => DocumentHighlightKind::READ,
                }),
            })
            .collect(),
    )
}

/// What can be renamed: components, pipelines, artifact types, inputs, parameters, outputs, tasks
/// and loop variables; not built-in types or files.
fn renameable(ctx: &Ctx<'_>, offset: usize) -> Result<(Span, Symbol), String> {
    let index = file_index(ctx.db, ctx.file);
    let occurrence = index.at(offset).ok_or("nothing to rename here")?;
    match &occurrence.symbol {
        Symbol::BuiltinType(name) => Err(format!("`{name}` is built in and cannot be renamed")),
        Symbol::File(_) => Err("rename the file itself to rename an import".to_string()),
        symbol => Ok((occurrence.span, symbol.clone())),
    }
}

pub fn prepare_rename(ctx: &Ctx<'_>, offset: usize) -> Result<PrepareRenameResponse, String> {
    let (span, symbol) = renameable(ctx, offset)?;
    Ok(PrepareRenameResponse::RangeWithPlaceholder {
        range: ctx.lines.range(span),
        placeholder: symbol.name().unwrap_or_default().to_string(),
    })
}

pub fn rename(ctx: &Ctx<'_>, offset: usize, new_name: &str) -> Result<WorkspaceEdit, String> {
    let (_, symbol) = renameable(ctx, offset)?;
    if !is_valid_ident(new_name) {
        return Err(format!(
            "`{new_name}` is not a valid name: a letter or `_`, then letters, digits and `_`, not a keyword"
        ));
    }
    let old = symbol.name().unwrap_or_default();
    if matches!(symbol, Symbol::Item { .. } | Symbol::Task { .. })
        && (kfl_check::types::BUILTIN_ARTIFACTS.contains(&new_name)
            || kfl_check::types::PARAMETER_TYPES.contains(&new_name)
            || new_name == "secret")
    {
        return Err(format!("`{new_name}` is a built-in name"));
    }
    let found = references(ctx.db, &symbol);
    if let Some(clash) = collision(ctx, &symbol, &found, new_name) {
        return Err(clash);
    }
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for (file, occurrence) in found {
        let Some(uri) = ctx.uris.uri(file.path(ctx.db)) else { continue };
        let lines = Lines::of(ctx.db, file);
        let edit = match occurrence.role {
            // `train(…)` names its task after the callee: renaming the task binds it instead.
            Role::ImplicitDecl => {
                let at = lines.range(Span::new(occurrence.span.start as usize, occurrence.span.start as usize));
                TextEdit { range: at, new_text: format!("{new_name} = ") }
            }
            _ => {
                // Only touch text that really is the old name (a script mention, a reference).
                if lines.text.get(occurrence.span.range()) != Some(old) {
                    continue;
                }
                TextEdit { range: lines.range(occurrence.span), new_text: new_name.to_string() }
            }
        };
        changes.entry(uri).or_default().push(edit);
    }
    Ok(WorkspaceEdit { changes: Some(changes), document_changes: None, change_annotations: None })
}

/// Why renaming `symbol` to `new_name` would make two things share a name, if it would: another
/// item seen by a file that names the symbol; another input or output of the same component or
/// pipeline; another task or parameter of the same pipeline (loop variables of different loops may
/// share a name).
fn collision(
    ctx: &Ctx<'_>,
    symbol: &Symbol,
    found: &[(kfl_check::SourceFile, crate::index::Occurrence)],
    new_name: &str,
) -> Option<String> {
    if symbol.name() == Some(new_name) {
        return None;
    }
    let home = symbol.file()?;
    let mut files: Vec<kfl_check::SourceFile> = vec![home];
    if matches!(symbol, Symbol::Item { .. }) {
        files.extend(found.iter().map(|(file, _)| *file));
        files.sort_by_key(|f| f.path(ctx.db).clone());
        files.dedup();
    }
    let clashes = |other: &Symbol| match (symbol, other) {
        (Symbol::Item { .. }, Symbol::Item { name, .. }) => name == new_name,
        (
            Symbol::Input { file, owner, .. } | Symbol::Output { file, owner, .. },
            Symbol::Input { file: f, owner: o, name } | Symbol::Output { file: f, owner: o, name },
        ) => f == file && o == owner && name == new_name,
        (
            Symbol::Task { file, pipeline, .. } | Symbol::LoopVar { file, pipeline, .. },
            Symbol::Task { file: f, pipeline: p, name },
        )
        | (Symbol::Task { file, pipeline, .. }, Symbol::LoopVar { file: f, pipeline: p, name, .. }) => {
            f == file && p == pipeline && name == new_name
        }
        // A pipeline's parameters and tasks share one namespace.
        (Symbol::Input { file, owner, .. }, Symbol::Task { file: f, pipeline, name }) => {
            f == file && pipeline == owner && name == new_name
        }
        (
            Symbol::Task { file, pipeline, .. } | Symbol::LoopVar { file, pipeline, .. },
            Symbol::Input { file: f, owner, name },
        ) => f == file && owner == pipeline && name == new_name,
        _ => false,
    };
    for file in files {
        let index = file_index(ctx.db, file);
        if let Some(other) = index.occurrences.iter().find(|o| clashes(&o.symbol)) {
            let what = match &other.symbol {
                Symbol::Item { .. } => "a component, pipeline or artifact type".to_string(),
                Symbol::Input { owner, .. } => format!("an input of `{owner}`"),
                Symbol::Output { owner, .. } => format!("an output of `{owner}`"),
                Symbol::Task { pipeline, .. } => format!("a task of `{pipeline}`"),
                Symbol::LoopVar { pipeline, .. } => format!("a loop variable of `{pipeline}`"),
                _ => "taken".to_string(),
            };
            return Some(format!("`{new_name}` is already {what} (in {})", file.path(ctx.db)));
        }
    }
    None
}

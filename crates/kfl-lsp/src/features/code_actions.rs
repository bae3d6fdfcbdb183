//! Quick fixes for diagnostics: apply the "did you mean `x`?" of a help text, and pass the
//! arguments a call is missing (E0109).

use std::collections::HashMap;

use kfl_check::items;
use kfl_check::types::{is_assignable, Ty};
use kfl_check::{check_file, parse};
use kfl_diagnostics::{Code, Diagnostic, Span};
use kfl_syntax::ast;
use tower_lsp_server::ls_types::{CodeAction, CodeActionKind, CodeActionOrCommand, TextEdit, WorkspaceEdit};

use super::{callable, pipeline_tasks, Ctx, TaskInfo};
use crate::convert::diagnostic;
use crate::lexer::{is_valid_ident, number_unit_start};

pub fn code_actions(ctx: &Ctx<'_>, range: Span) -> Vec<CodeActionOrCommand> {
    let mut out = Vec::new();
    for d in check_file(ctx.db, ctx.file).iter() {
        let span = d.primary.span;
        if span.end < range.start || span.start > range.end {
            continue;
        }
        if let Some(action) = did_you_mean(ctx, d) {
            out.push(action);
        }
        if d.code == Code::MissingArgument {
            if let Some(action) = missing_arguments(ctx, d) {
                out.push(action);
            }
        }
    }
    out.into_iter().map(CodeActionOrCommand::CodeAction).collect()
}

fn action(ctx: &Ctx<'_>, d: &Diagnostic, title: String, edit: TextEdit, preferred: bool) -> Option<CodeAction> {
    let uri = ctx.uris.uri(ctx.file.path(ctx.db))?;
    Some(CodeAction {
        title,
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic(ctx.db, ctx.file, d, ctx.uris, ctx.support)]),
        edit: Some(WorkspaceEdit { changes: Some(HashMap::from([(uri, vec![edit])])), ..WorkspaceEdit::default() }),
        command: None,
        is_preferred: Some(preferred),
        disabled: None,
        data: None,
    })
}

/// The suggestion of a help text that starts "did you mean `x`?".
pub fn suggestion(help: &str) -> Option<&str> {
    let rest = help.strip_prefix("did you mean `")?;
    let end = rest.find('`')?;
    Some(&rest[..end])
}

fn did_you_mean(ctx: &Ctx<'_>, d: &Diagnostic) -> Option<CodeAction> {
    if matches!(d.code, Code::ImportNotFound) {
        return None;
    }
    let suggested = suggestion(d.help.as_deref()?)?;
    let span = d.primary.span;
    let written = ctx.text().get(span.range())?;
    let edit_span = if written.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && written.chars().next().is_some_and(|c| !c.is_ascii_digit())
    {
        span
    } else if written.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        // A number whose unit is misspelt: replace the unit.
        let unit = number_unit_start(written);
        if !suggested.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        Span::new(span.start as usize + unit, span.end as usize)
    } else {
        return None;
    };
    let edit = TextEdit { range: ctx.lines.range(edit_span), new_text: suggested.to_string() };
    action(ctx, d, format!("change to `{suggested}`"), edit, true)
}

fn find_call(stmts: &[ast::Stmt], callee: Span) -> Option<&ast::Call> {
    for stmt in stmts {
        let found = match &stmt.kind {
            ast::StmtKind::Task(t) if t.call.callee.span == callee => Some(&t.call),
            ast::StmtKind::If(i) => i.blocks().into_iter().find_map(|block| find_call(&block.stmts, callee)),
            ast::StmtKind::For(f) => find_call(&f.body.stmts, callee),
            ast::StmtKind::Finally(b) => find_call(&b.stmts, callee),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn missing_arguments(ctx: &Ctx<'_>, d: &Diagnostic) -> Option<CodeAction> {
    let span = d.primary.span;
    let (pipeline, call) = parse(ctx.db, ctx.file).file.items.iter().find_map(|item| match item {
        ast::Item::Pipeline(p) if p.span.contains(span.start as usize) => find_call(&p.body, span).map(|c| (p, c)),
        _ => None,
    })?;
    let (owner, export) = callable(ctx.db, ctx.file, &call.callee.text)?;
    let sig = export.signature()?;
    let passed: Vec<&str> = call.args.iter().filter_map(|a| a.name.as_ref().map(|n| n.text.as_str())).collect();
    let tasks = pipeline_tasks(pipeline);
    let mut args = Vec::new();
    for input in sig.inputs.iter().filter(|i| !i.has_default && !passed.contains(&i.name.as_str())) {
        let ty = items::input_ty(ctx.db, owner, input);
        args.push(format!("{}: {}", input.name, placeholder(ctx, pipeline, &tasks, call, &input.name, &ty)));
    }
    if args.is_empty() {
        return None;
    }
    let (at, text) = match call.args.last() {
        Some(last) => (last.span.end as usize, format!(", {}", args.join(", "))),
        None => ((call.span.end as usize).saturating_sub(1), args.join(", ")),
    };
    if call.args.is_empty() && ctx.text().get(at..at + 1) != Some(")") {
        return None;
    }
    let edit = TextEdit { range: ctx.lines.range(Span::new(at, at)), new_text: text };
    let title =
        if args.len() == 1 { "add the missing argument".to_string() } else { "add the missing arguments".to_string() };
    action(ctx, d, title, edit, true)
}

/// A value to pass: a parameter of the same name, else an earlier task's output of a fitting type,
/// else a literal of the type.
fn placeholder(
    ctx: &Ctx<'_>,
    pipeline: &ast::Pipeline,
    tasks: &[TaskInfo<'_>],
    call: &ast::Call,
    name: &str,
    ty: &Ty,
) -> String {
    if pipeline.params.iter().any(|p| p.name.text == name) && is_valid_ident(name) {
        return name.to_string();
    }
    if ty.is_artifact() {
        // The closest earlier task first.
        for task in tasks.iter().rev() {
            if task.stmt.call.span.start >= call.span.start {
                continue;
            }
            let Some((owner, export)) = callable(ctx.db, ctx.file, &task.stmt.call.callee.text) else { continue };
            let Some(sig) = export.signature() else { continue };
            for out in &sig.outputs {
                if is_assignable(ctx.db, &items::output_ty(ctx.db, owner, out), ty) && task.loops.is_empty() {
                    return format!("{}.{}", task.name.text, out.name);
                }
            }
        }
    }
    match ty {
        Ty::String => "\"\"".to_string(),
        Ty::Int => "0".to_string(),
        Ty::Float => "0.0".to_string(),
        Ty::Bool => "false".to_string(),
        Ty::List(_) => "[]".to_string(),
        Ty::Map(_) | Ty::Struct(_) => "{}".to_string(),
        Ty::Artifact(_) | Ty::Unknown => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_suggestions() {
        assert_eq!(suggestion("did you mean `retries`?"), Some("retries"));
        assert_eq!(suggestion("did you mean `Gi`? write memory with a unit"), Some("Gi"));
        assert_eq!(suggestion("pass `x: Int`"), None);
    }
}

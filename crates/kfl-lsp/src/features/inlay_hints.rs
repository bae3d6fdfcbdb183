//! Inlay hints: what a task produces (its outputs and their types), the defaults a call leaves out,
//! the types of untyped pipeline outputs and of loop variables.

use kfl_check::parse;
use kfl_diagnostics::Span;
use kfl_syntax::ast;
use tower_lsp_server::ls_types::{InlayHint, InlayHintKind, InlayHintLabel};

use super::{callable, callee_inputs, callee_outputs, outputs_text, pipeline_loops, pipeline_output_ty, Ctx, Typer};

fn hint(ctx: &Ctx<'_>, offset: usize, label: String, kind: InlayHintKind, left: bool) -> InlayHint {
    InlayHint {
        position: ctx.lines.position(offset),
        label: InlayHintLabel::String(label),
        kind: Some(kind),
        text_edits: None,
        tooltip: None,
        padding_left: Some(left),
        padding_right: Some(false),
        data: None,
    }
}

pub fn inlay_hints(ctx: &Ctx<'_>, range: Span) -> Vec<InlayHint> {
    let mut out = Vec::new();
    for item in &parse(ctx.db, ctx.file).file.items {
        let ast::Item::Pipeline(p) = item else { continue };
        if p.span.end < range.start || p.span.start > range.end {
            continue;
        }
        let typer = Typer::new(ctx.db, ctx.file, p);
        for task in typer.tasks() {
            let call = &task.stmt.call;
            if !range.contains(call.span.start as usize) {
                continue;
            }
            let Some((owner, export)) = callable(ctx.db, ctx.file, &call.callee.text) else { continue };
            // `train: {model: Model, …}` after the task's name.
            let outputs = callee_outputs(ctx.db, owner, export);
            if !outputs.is_empty() {
                out.push(hint(
                    ctx,
                    task.name.span.end as usize,
                    format!(": {{{}}}", outputs_text(&outputs)),
                    InlayHintKind::TYPE,
                    false,
                ));
            }
            // The defaults the call leaves out, before its `)`.
            let passed: Vec<&str> = call.args.iter().filter_map(|a| a.name.as_ref().map(|n| n.text.as_str())).collect();
            let defaults: Vec<String> = callee_inputs(ctx.db, owner, export, &call.callee.text)
                .into_iter()
                .filter(|i| !passed.contains(&i.name.as_str()))
                .filter_map(|i| i.default.map(|d| format!("{}: {d}", i.name)))
                .collect();
            let close = (call.span.end as usize).saturating_sub(1);
            if !defaults.is_empty() && ctx.text().get(close..close + 1) == Some(")") {
                let mut label = defaults.join(", ");
                if !call.args.is_empty() {
                    label = format!(", {label}");
                }
                out.push(hint(ctx, close, label, InlayHintKind::PARAMETER, false));
            }
        }
        for (f, _) in pipeline_loops(p) {
            if !range.contains(f.var.span.start as usize) {
                continue;
            }
            let ty = typer.loop_var_ty(f.var.span);
            if !ty.is_unknown() {
                out.push(hint(ctx, f.var.span.end as usize, format!(": {ty}"), InlayHintKind::TYPE, false));
            }
        }
        for stmt in &p.body {
            let ast::StmtKind::Output(o) = &stmt.kind else { continue };
            if o.ty.is_some() || !range.contains(o.name.span.start as usize) {
                continue;
            }
            let ty = pipeline_output_ty(ctx.db, ctx.file, &p.name.text, &o.name.text);
            if !ty.is_unknown() {
                out.push(hint(ctx, o.name.span.end as usize, format!(": {ty}"), InlayHintKind::TYPE, false));
            }
        }
    }
    out.sort_by_key(|h| (h.position.line, h.position.character));
    out
}

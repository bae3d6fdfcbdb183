//! Inlay hints, read from the model `kflc build` lowers: what a task produces (its outputs and their types), the defaults a call leaves out,
//! the types of untyped pipeline outputs and of loop variables.

use kfl_check::model::file_model;
use kfl_diagnostics::Span;
use kfl_model::ty::Ty;
use tower_lsp_server::ls_types::{InlayHint, InlayHintKind, InlayHintLabel};

use super::{source, Ctx};
use crate::lookup;

/// `model: Model, accuracy: Float`
fn outputs_text(outputs: &[(String, Ty)]) -> String {
    outputs.iter().map(|(n, t)| format!("{n}: {t}")).collect::<Vec<_>>().join(", ")
}

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
    let db = ctx.db;
    for p in &file_model(db, ctx.file).pipelines {
        if p.origin.span.end < range.start || p.origin.span.start > range.end {
            continue;
        }
        for task in p.tasks() {
            if !range.contains(task.call_span.start as usize) {
                continue;
            }
            let Some(callee) = lookup::callee_item(db, &task.callee) else { continue };
            // `train: {model: Model, …}` after the task's name.
            let outputs = callee.outputs();
            if !outputs.is_empty() {
                let label = format!(": {{{}}}", outputs_text(&outputs));
                out.push(hint(ctx, task.name_span.end as usize, label, InlayHintKind::TYPE, false));
            }
            // The defaults the call leaves out, before its `)`.
            let defaults: Vec<String> = callee
                .inputs()
                .iter()
                .filter(|i| i.default.is_some() && !task.args.iter().any(|a| a.name == i.name))
                .filter_map(|i| {
                    let declared = lookup::file_of(db, &i.origin.file).map_or("", |f| source(db, f, i.origin.span));
                    Some(format!("{}: {}", i.name, declared.split_once('=')?.1.trim()))
                })
                .collect();
            let close = (task.call_span.end as usize).saturating_sub(1);
            if !defaults.is_empty() && ctx.text().get(close..close + 1) == Some(")") {
                let mut label = defaults.join(", ");
                if !task.args.is_empty() {
                    label = format!(", {label}");
                }
                out.push(hint(ctx, close, label, InlayHintKind::PARAMETER, false));
            }
        }
        for (l, _) in lookup::pipeline_loops(p) {
            if !range.contains(l.var_span.start as usize) {
                continue;
            }
            let ty = lookup::loop_var_ty(p, l.var_span);
            if ty != Ty::Unknown {
                out.push(hint(ctx, l.var_span.end as usize, format!(": {ty}"), InlayHintKind::TYPE, false));
            }
        }
        for o in &p.outputs {
            if o.declared.is_some() || !range.contains(o.name_span.start as usize) {
                continue;
            }
            let ty = o.ty.clone();
            if ty != Ty::Unknown {
                out.push(hint(ctx, o.name_span.end as usize, format!(": {ty}"), InlayHintKind::TYPE, false));
            }
        }
    }
    out.sort_by_key(|h| (h.position.line, h.position.character));
    out
}

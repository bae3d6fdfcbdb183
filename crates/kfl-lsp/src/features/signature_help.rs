//! Signature help inside the parentheses of a call: the callee's inputs, the one being written
//! highlighted.

use tower_lsp_server::ls_types::{
    Documentation, MarkupContent, MarkupKind, ParameterInformation, ParameterLabel, SignatureHelp, SignatureInformation,
};

use super::{callee_info, Ctx, InputInfo};
use crate::context::{analyze_file, FrameKind};

pub fn signature_help(ctx: &Ctx<'_>, offset: usize) -> Option<SignatureHelp> {
    let cursor = analyze_file(ctx.db, ctx.file, offset);
    if cursor.in_trivia && cursor.in_import_string.is_none() {
        // Inside a string argument the call is still the one being written.
        let inside_string = cursor.frames.iter().any(|f| matches!(f.kind, FrameKind::Call { .. }));
        if !inside_string {
            return None;
        }
    }
    let frame = cursor.enclosing_call()?;
    let FrameKind::Call { callee, .. } = &frame.kind else { return None };
    let (inputs, outputs, kind, doc) = if callee == "secret" {
        let inputs = ["name", "key"]
            .iter()
            .map(|n| InputInfo { name: n.to_string(), ty: "String".into(), default: None, doc: None })
            .collect();
        (inputs, String::new(), "function", None)
    } else {
        let info = callee_info(ctx.db, ctx.file, callee)?;
        let outputs: Vec<String> =
            info.outputs.iter().map(|(n, t)| if t.is_empty() { n.clone() } else { format!("{n}: {t}") }).collect();
        (info.inputs, outputs.join(", "), info.kind, info.doc)
    };
    // The label, with each parameter's place in it (in UTF-16 units, as LSP counts).
    let mut label = format!("{callee}(");
    let mut parameters = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        if i > 0 {
            label.push_str(", ");
        }
        let start = label.encode_utf16().count() as u32;
        label.push_str(&input.name);
        label.push_str(": ");
        label.push_str(&input.ty);
        if let Some(default) = &input.default {
            label.push_str(" = ");
            label.push_str(default);
        }
        let end = label.encode_utf16().count() as u32;
        parameters.push(ParameterInformation {
            label: ParameterLabel::LabelOffsets([start, end]),
            documentation: input.doc.clone().map(Documentation::String),
        });
    }
    label.push(')');
    if !outputs.is_empty() {
        label.push_str(&format!(" → ({outputs})"));
    }
    // The input being written: the one named before `:`, else the first required one not passed.
    let stmt = cursor.stmt_texts();
    let active = match stmt.as_slice() {
        [name, ":", ..] => inputs.iter().position(|i| i.name == *name),
        _ => inputs
            .iter()
            .position(|i| i.default.is_none() && !frame.written.contains(&i.name))
            .or_else(|| inputs.iter().position(|i| !frame.written.contains(&i.name))),
    };
    let value = match doc {
        Some(doc) => format!("{kind} `{callee}`\n\n{doc}"),
        None => format!("{kind} `{callee}`"),
    };
    let documentation = Some(if ctx.support.markdown_docs {
        Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value })
    } else {
        Documentation::String(value)
    });
    Some(SignatureHelp {
        signatures: vec![SignatureInformation {
            label,
            documentation,
            parameters: Some(parameters),
            active_parameter: active.map(|a| a as u32),
        }],
        active_signature: Some(0),
        active_parameter: active.map(|a| a as u32),
    })
}

//! Hover: the signature and doc comment of what a name means, its resolved type, and for a task its
//! outputs and the resources it runs with.

use kfl_check::items::{self, file_exports, Export};
use kfl_check::types::{artifact_base, resolve_artifact_name, Ty, BUILTIN_ARTIFACTS, DISPLAY_ARTIFACTS};
use kfl_check::{Db, SourceFile};
use kfl_diagnostics::Span;
use kfl_syntax::ast;
use tower_lsp_server::ls_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use kfl_model::fields::{FieldSpec, Place};
use kfl_model::item::{Callee, Param, Pipeline, Task};
use kfl_model::settings::Setting;

use super::{find_artifact, find_component, find_pipeline, source, type_text, Ctx};
use crate::lookup::{self, model_at, At};

/// What `secret(…)` does (a function of `env` entries, not a row of the field table).
pub const SECRET_DOC: &str = "reads a key of a Kubernetes secret when the pod starts";
use crate::index::{file_index, Symbol};
use crate::lexer::{lex, number_unit_start, TokenKind};

pub fn hover(ctx: &Ctx<'_>, offset: usize) -> Option<Hover> {
    // The model first (what `kflc build` lowers); items, types and files from the index.
    let from_model = model_at(ctx.db, ctx.file, offset).and_then(|at| Some((at.span(), describe_at(ctx.db, at)?)));
    let (span, markdown) = match from_model {
        Some(found) => found,
        None => match file_index(ctx.db, ctx.file).at(offset) {
            Some(occurrence) => (occurrence.span, describe(ctx.db, &occurrence.symbol)?),
            None => lexical_hover(ctx, offset)?,
        },
    };
    let (kind, value) = if ctx.support.markdown_hover {
        (MarkupKind::Markdown, markdown)
    } else {
        (MarkupKind::PlainText, markdown.replace("```kfl\n", "").replace("```\n", "").replace("```", ""))
    };
    Some(Hover { contents: HoverContents::Markup(MarkupContent { kind, value }), range: Some(ctx.lines.range(span)) })
}

fn code(text: &str) -> String {
    format!("```kfl\n{}\n```", text.trim_end())
}

fn with_doc(mut out: String, doc: Option<String>) -> String {
    if let Some(doc) = doc {
        out.push_str("\n\n---\n\n");
        out.push_str(&doc);
    }
    out
}

/// The source text of a model element's span.
fn origin_text<'db>(db: &'db dyn Db, file: &str, span: Span) -> &'db str {
    lookup::file_of(db, file).map_or("", |f| source(db, f, span))
}

/// The default of a parameter as written (`= …` of its declaration).
fn default_text(db: &dyn Db, param: &Param) -> Option<String> {
    param.default.as_ref()?;
    let declared = origin_text(db, &param.origin.file, param.origin.span);
    declared.split_once('=').map(|(_, d)| one_line(d.trim()))
}

/// An input of a component or a parameter of a pipeline, as the model has it.
fn describe_param(db: &dyn Db, owner: &lookup::Item<'_>, param: &Param) -> String {
    let default = default_text(db, param);
    let tail = default.as_ref().map(|d| format!(" = {d}")).unwrap_or_default();
    let name = &owner.id().name;
    let (line, what) = match owner {
        lookup::Item::Component(_) => (
            format!("input {}: {}{tail}", param.name, param.ty),
            format!("{} input of component `{name}`", if default.is_some() { "optional" } else { "required" }),
        ),
        lookup::Item::Pipeline(_) => {
            (format!("{}: {}{tail}", param.name, param.ty), format!("parameter of pipeline `{name}`"))
        }
    };
    with_doc(format!("{}\n\n{what}", code(&line)), param.doc.clone())
}

/// Markdown describing what the model has at a position (`None`: let the index describe it).
fn describe_at(db: &dyn Db, at: At<'_>) -> Option<String> {
    Some(match at {
        At::TaskName { pipeline, task } | At::TaskRef { pipeline, task, .. } => describe_model_task(db, pipeline, task),
        At::Callee { .. } => return None,
        At::ArgName { task, arg, .. } => {
            let callee = lookup::callee_item(db, &task.callee)?;
            let param = callee.inputs().iter().find(|p| p.name == arg.name)?;
            describe_param(db, &callee, param)
        }
        At::TaskOutput { task, output, .. } => {
            let callee = lookup::callee_item(db, &task.callee)?;
            let ty = callee.outputs().into_iter().find(|(n, _)| n == output).map(|(_, t)| t)?;
            let doc = match &callee {
                lookup::Item::Component(c) => c.outputs.iter().find(|o| o.name == output).and_then(|o| o.doc.clone()),
                lookup::Item::Pipeline(p) => p.outputs.iter().find(|o| o.name == output).and_then(|o| o.doc.clone()),
            };
            let what = format!("output of {} `{}`", callee.kind(), callee.id().name);
            with_doc(format!("{}\n\n{what}", code(&format!("output {output}: {ty}"))), doc)
        }
        At::Param { pipeline, param, .. } => describe_param(db, &lookup::Item::Pipeline(pipeline), param),
        At::LoopVar { pipeline, var, decl, .. } => {
            let ty = lookup::loop_var_ty(pipeline, decl);
            format!("{}\n\nloop variable of pipeline `{}`", code(&format!("for {var}: {ty}")), pipeline.id.name)
        }
        At::PipelineOutput { pipeline, output } => {
            let ty = output.ty.clone();
            let line = format!("output {}: {ty}", output.name);
            with_doc(format!("{}\n\noutput of pipeline `{}`", code(&line), pipeline.id.name), output.doc.clone())
        }
        At::Setting { setting, place, .. } => describe_field(setting.field, setting.key.as_deref(), Some(place)),
        At::ComponentInput { component, input } => describe_param(db, &lookup::Item::Component(component), input),
        At::ComponentOutput { component, output } => {
            let line = format!("output {}: {}", output.name, output.ty);
            with_doc(format!("{}\n\noutput of component `{}`", code(&line), component.id.name), output.doc.clone())
        }
    })
}

/// A row of the field table: how it is written, its type, its doc and where it may be written.
pub fn describe_field(spec: &FieldSpec, key: Option<&str>, place: Option<Place>) -> String {
    let header = match key {
        Some(key) => format!("{} {{ {key} = … }}", spec.name),
        None => format!("{}: {}", spec.path(), lookup::field_kind_text(spec)),
    };
    let places: Vec<&str> = spec.places.iter().map(|p| p.describe()).collect();
    let mut out = format!("{}\n\n{}\n\nallowed in {}", code(&header), spec.doc, places.join(", "));
    if let Some(place) = place {
        out.push_str(&format!(" (here: {})", place.describe()));
    }
    out
}

/// A task as the model has it: its callee, its outputs and the settings it runs with (the
/// component's, replaced setting by setting by the task's own).
fn describe_model_task(db: &dyn Db, pipeline: &Pipeline, task: &Task) -> String {
    let callee = lookup::callee_item(db, &task.callee);
    let (kind, callee_name) = match &task.callee {
        Callee::Component(id) => ("component", &id.name),
        Callee::Pipeline(id) => ("pipeline", &id.name),
    };
    let name = &task.name;
    let header = if task.name_span != task.callee_span {
        format!("{name} = {callee_name}(…)")
    } else {
        format!("{callee_name}(…)")
    };
    let mut out = code(&header);
    out.push_str(&format!("\n\ntask `{name}` of pipeline `{}`, calls {kind} `{callee_name}`", pipeline.id.name));
    let loops = task.loops.len();
    if loops > 0 {
        out.push_str(&format!(" (runs in {loops} loop{})", if loops == 1 { "" } else { "s" }));
    }
    let outputs = callee.as_ref().map(|c| c.outputs()).unwrap_or_default();
    if !outputs.is_empty() {
        out.push_str("\n\n**outputs**\n");
        for (output, ty) in &outputs {
            out.push_str(&format!("\n- `{name}.{output}`: {ty}"));
        }
    }
    // Effective settings, keyed by row and key; the value as written where it was set.
    let mut effective: Vec<(&Setting, String)> = Vec::new();
    let inherited = match &callee {
        Some(lookup::Item::Component(c)) => c.settings.as_slice(),
        _ => &[],
    };
    for setting in inherited.iter().chain(&task.settings) {
        let written = origin_text(db, &setting.origin.file, setting.origin.span);
        let value = written.split_once('=').map_or(String::new(), |(_, v)| one_line(v.trim()));
        let same = |s: &&Setting| std::ptr::eq(s.field, setting.field) && s.key == setting.key;
        match effective.iter_mut().find(|(s, _)| same(s)) {
            Some(existing) => *existing = (setting, value),
            None => effective.push((setting, value)),
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let resources: Vec<String> = effective
        .iter()
        .filter(|(s, _)| s.field.block == Some("resources"))
        .map(|(s, v)| format!("{} = {v}", s.field.name))
        .collect();
    if !resources.is_empty() {
        lines.push(format!("resources {{ {} }}", resources.join(", ")));
    }
    let mut blocks: Vec<(&str, Vec<String>)> = Vec::new();
    for (s, v) in &effective {
        if s.field.block.is_some() {
            continue;
        }
        match &s.key {
            Some(key) => match blocks.iter_mut().find(|(b, _)| *b == s.field.name) {
                Some((_, entries)) => entries.push(format!("{key} = {v}")),
                None => blocks.push((s.field.name, vec![format!("{key} = {v}")])),
            },
            None => lines.push(format!("{} = {v}", s.field.name)),
        }
    }
    lines.extend(blocks.into_iter().map(|(b, entries)| format!("{b} {{ {} }}", entries.join(", "))));
    if !lines.is_empty() {
        out.push_str("\n\n**runs with**\n\n");
        out.push_str(&code(&lines.join("\n")));
    }
    with_doc(out, task.doc.clone())
}

/// A pipeline of a file's model, by name.
fn model_pipeline<'db>(db: &'db dyn Db, file: SourceFile, name: &str) -> Option<&'db Pipeline> {
    kfl_check::model::file_model(db, file).pipelines.iter().find(|p| p.id.name == name).map(|p| &**p)
}

/// Markdown describing a symbol.
pub fn describe(db: &dyn Db, symbol: &Symbol) -> Option<String> {
    match symbol {
        Symbol::Item { file, name } => describe_item(db, *file, name),
        Symbol::Input { file, owner, name } => describe_input(db, *file, owner, name),
        Symbol::Output { file, owner, name } => describe_output(db, *file, owner, name),
        Symbol::Task { file, pipeline, name } => {
            let p = model_pipeline(db, *file, pipeline)?;
            Some(describe_model_task(db, p, lookup::find_task(p, name)?))
        }
        Symbol::LoopVar { file, pipeline, name, decl } => {
            let ty = lookup::loop_var_ty(model_pipeline(db, *file, pipeline)?, *decl);
            Some(format!("{}\n\nloop variable of pipeline `{pipeline}`", code(&format!("for {name}: {ty}"))))
        }
        Symbol::BuiltinType(name) => Some(describe_builtin_type(name)),
        Symbol::File(file) => Some(format!("imported file `{}`", file.path(db))),
    }
}

fn describe_builtin_type(name: &str) -> String {
    let what = match name {
        "String" => "text",
        "Int" => "a 64-bit signed integer",
        "Float" => "a 64-bit floating point number",
        "Bool" => "`true` or `false`",
        "List" => "`List<T>`: a list of `T`",
        "Map" => "`Map<T>`: a map from strings to `T`",
        "Artifact" => "the root of all artifact types: a file or directory in the artifact store",
        _ if DISPLAY_ARTIFACTS.contains(&name) => "a display artifact, meant to be looked at in the run's UI",
        _ => "a built-in artifact type",
    };
    let kind = if BUILTIN_ARTIFACTS.contains(&name) { "built-in artifact type" } else { "built-in parameter type" };
    let header = if BUILTIN_ARTIFACTS.contains(&name) && name != "Artifact" {
        format!("artifact {name}: Artifact")
    } else {
        name.to_string()
    };
    format!("{}\n\n{kind}: {what}", code(&header))
}

fn describe_item(db: &dyn Db, file: SourceFile, name: &str) -> Option<String> {
    if let Some(c) = find_component(db, file, name) {
        return Some(with_doc(code(&component_header(db, file, c)), c.doc.text()));
    }
    if let Some(p) = find_pipeline(db, file, name) {
        return Some(with_doc(code(&pipeline_header(db, file, p)), p.doc.text()));
    }
    let a = find_artifact(db, file, name)?;
    let mut chain = vec![name.to_string()];
    if let Some(mut current) = resolve_artifact_name(db, file, name) {
        for _ in 0..16 {
            match artifact_base(db, &current) {
                Some(base) => {
                    chain.push(base.name.to_string());
                    current = base;
                }
                None => break,
            }
        }
    }
    let header = match &a.base {
        Some(base) => format!("artifact {name}: {}", base.text),
        None => format!("artifact {name}"),
    };
    Some(with_doc(format!("{}\n\nartifact type: {}", code(&header), chain.join(" → ")), a.doc.text()))
}

/// `component x {` with its inputs, outputs and resources, one per line.
pub fn component_header(db: &dyn Db, file: SourceFile, c: &ast::Component) -> String {
    let mut out = format!("component {} {{\n", c.name.text);
    for member in &c.members {
        match &member.kind {
            ast::MemberKind::Input(p) => {
                out.push_str(&format!("    input  {}: {}", p.name.text, type_text(&p.ty)));
                if let Some(d) = &p.default {
                    out.push_str(&format!(" = {}", one_line(source(db, file, d.span))));
                }
                out.push('\n');
            }
            ast::MemberKind::Output(o) => {
                out.push_str(&format!("    output {}: {}\n", o.name.text, type_text(&o.ty)));
            }
            ast::MemberKind::Block(b) if b.name.text == "resources" => {
                out.push_str(&format!("    {}\n", one_line(source(db, file, b.span))));
            }
            _ => {}
        }
    }
    out.push('}');
    out
}

/// `pipeline p(a: Int = 1)` and its outputs with their resolved types.
pub fn pipeline_header(db: &dyn Db, file: SourceFile, p: &ast::Pipeline) -> String {
    let params: Vec<String> = p
        .params
        .iter()
        .map(|param| {
            let mut s = format!("{}: {}", param.name.text, type_text(&param.ty));
            if let Some(d) = &param.default {
                s.push_str(&format!(" = {}", one_line(source(db, file, d.span))));
            }
            s
        })
        .collect();
    let mut out = format!("pipeline {}({})", p.name.text, params.join(", "));
    let outputs: Vec<String> = match file_exports(db, file).items.get(&p.name.text) {
        Some(Export::Pipeline(sig)) => {
            sig.outputs.iter().map(|o| format!("    output {}: {}", o.name, items::output_ty(db, file, o))).collect()
        }
        _ => Vec::new(),
    };
    if !outputs.is_empty() {
        out.push_str(" {\n");
        out.push_str(&outputs.join("\n"));
        out.push_str("\n}");
    }
    out
}

fn one_line(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 80 {
        let cut: String = flat.chars().take(77).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

fn describe_input(db: &dyn Db, file: SourceFile, owner: &str, name: &str) -> Option<String> {
    let resolved = |file: SourceFile| -> Option<Ty> {
        let sig = file_exports(db, file).items.get(owner)?.signature()?;
        Some(items::input_ty(db, file, sig.input(name)?))
    };
    if let Some(c) = find_component(db, file, owner) {
        let (member, p) = c.members.iter().find_map(|m| match &m.kind {
            ast::MemberKind::Input(p) if p.name.text == name => Some((m, p)),
            _ => None,
        })?;
        let mut line =
            format!("input {}: {}", name, resolved(file).map_or_else(|| type_text(&p.ty), |t| t.to_string()));
        if let Some(d) = &p.default {
            line.push_str(&format!(" = {}", one_line(source(db, file, d.span))));
        }
        let required = if p.default.is_some() { "optional" } else { "required" };
        return Some(with_doc(
            format!("{}\n\n{required} input of component `{owner}`", code(&line)),
            member.doc.text(),
        ));
    }
    let pipeline = find_pipeline(db, file, owner)?;
    let p = pipeline.params.iter().find(|p| p.name.text == name)?;
    let mut line = format!("{}: {}", name, resolved(file).map_or_else(|| type_text(&p.ty), |t| t.to_string()));
    if let Some(d) = &p.default {
        line.push_str(&format!(" = {}", one_line(source(db, file, d.span))));
    }
    Some(with_doc(format!("{}\n\nparameter of pipeline `{owner}`", code(&line)), p.doc.text()))
}

fn describe_output(db: &dyn Db, file: SourceFile, owner: &str, name: &str) -> Option<String> {
    if let Some(c) = find_component(db, file, owner) {
        let (member, o) = c.members.iter().find_map(|m| match &m.kind {
            ast::MemberKind::Output(o) if o.name.text == name => Some((m, o)),
            _ => None,
        })?;
        let sig = file_exports(db, file).items.get(owner).and_then(Export::signature);
        let ty = sig
            .and_then(|s| s.output(name))
            .map_or_else(|| type_text(&o.ty), |out| items::output_ty(db, file, out).to_string());
        let line = format!("output {name}: {ty}");
        return Some(with_doc(format!("{}\n\noutput of component `{owner}`", code(&line)), member.doc.text()));
    }
    let pipeline = model_pipeline(db, file, owner)?;
    let output = pipeline.outputs.iter().find(|o| o.name == name)?;
    let ty = output.ty.clone();
    let line = format!("output {name}: {ty}");
    Some(with_doc(format!("{}\n\noutput of pipeline `{owner}`", code(&line)), output.doc.clone()))
}

/// Hover where no name is: fields and blocks, and quantities with units.
fn lexical_hover(ctx: &Ctx<'_>, offset: usize) -> Option<(Span, String)> {
    let text = ctx.text();
    // Only the line around the offset is needed.
    let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset.min(text.len())..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let tokens = lex(line);
    let index = tokens.iter().position(|t| t.span.shifted(line_start).contains(offset))?;
    let token = tokens[index];
    let span = token.span.shifted(line_start);
    let word = token.text(line);
    match token.kind {
        TokenKind::Ident => {
            if word == "secret" {
                return Some((span, format!("{}\n\n{SECRET_DOC}", code("secret(name: String, key: String)"))));
            }
            if word == "resources" {
                let entries: Vec<&str> = kfl_model::fields::entries_of("resources").map(|f| f.name).collect();
                return Some((
                    span,
                    format!("{}\n\nwhat the pod requests", code(&format!("resources {{ {} }}", entries.join(", ")))),
                ));
            }
            Some((span, describe_field(lookup::field_row(word)?, None, None)))
        }
        TokenKind::Number => {
            // `key = 4Gi`: the quantity in Kubernetes terms.
            let key = (index >= 2 && tokens[index - 1].text(line) == "=").then(|| tokens[index - 2].text(line))?;
            let unit_at = number_unit_start(word);
            let (value, unit) = (&word[..unit_at], Some(&word[unit_at..]).filter(|u| !u.is_empty()));
            let described = match key {
                "cpu" | "cpu_limit" => kfl_check::units::parse_cpu(value, unit)
                    .map(|c| format!("{} millicores (Kubernetes `{}`)", c.millicores(), c.to_k8s())),
                "memory" | "memory_limit" => kfl_check::units::parse_memory(value, unit)
                    .map(|m| format!("{} bytes (Kubernetes `{}`)", m.bytes(), m.to_k8s())),
                "timeout" => kfl_check::units::parse_duration(value, unit).map(|d| format!("{} seconds", d.seconds())),
                "gpu" => kfl_check::units::parse_gpu(value, unit).map(|g| format!("{g} GPU(s)")),
                _ => return None,
            };
            Some((span, described.unwrap_or_else(|e| e.help())))
        }
        _ => None,
    }
}

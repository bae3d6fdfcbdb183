//! Completion, from the token context of the cursor (the item being typed rarely parses) and the
//! signatures the checker knows (which come from the files that do).

use kfl_check::items::{file_exports, Export};
use kfl_check::types::{BUILTIN_ARTIFACTS, PARAMETER_TYPES};
use kfl_diagnostics::Span;
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, InsertTextFormat, MarkupContent, MarkupKind,
    TextEdit,
};

use kfl_model::fields::{self, FieldSpec, Place};

use super::hover::SECRET_DOC;
use super::{callee_info, callees, imports_from_tokens, Ctx, InputInfo};
use crate::context::{analyze_file, Cursor, FrameKind};
use crate::lexer::TokenKind;
use crate::lookup;

const ITEM_KEYWORDS: [&str; 4] = ["import", "artifact", "component", "pipeline"];
const MEMORY_UNITS: [(&str, &str); 12] = [
    ("Ki", "kibibytes (1024 bytes)"),
    ("Mi", "mebibytes (1024² bytes)"),
    ("Gi", "gibibytes (1024³ bytes)"),
    ("Ti", "tebibytes (1024⁴ bytes)"),
    ("Pi", "pebibytes (1024⁵ bytes)"),
    ("Ei", "exbibytes (1024⁶ bytes)"),
    ("k", "kilobytes (1000 bytes)"),
    ("M", "megabytes (1000² bytes)"),
    ("G", "gigabytes (1000³ bytes)"),
    ("T", "terabytes (1000⁴ bytes)"),
    ("P", "petabytes (1000⁵ bytes)"),
    ("E", "exabytes (1000⁶ bytes)"),
];
const CPU_UNITS: [(&str, &str); 1] = [("m", "millicores (1000m = 1 core)")];
const DURATION_UNITS: [(&str, &str); 4] = [("s", "seconds"), ("m", "minutes"), ("h", "hours"), ("d", "days")];

struct Builder<'a, 'c> {
    ctx: &'a Ctx<'c>,
    range: Span,
    items: Vec<CompletionItem>,
}

impl Builder<'_, '_> {
    fn push(&mut self, label: &str, kind: CompletionItemKind, detail: Option<String>) -> &mut CompletionItem {
        self.items.push(CompletionItem {
            label: label.to_string(),
            kind: Some(kind),
            detail,
            text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                range: self.ctx.lines.range(self.range),
                new_text: label.to_string(),
            })),
            ..CompletionItem::default()
        });
        let last = self.items.len() - 1;
        &mut self.items[last]
    }

    fn keyword(&mut self, keyword: &str) {
        self.push(keyword, CompletionItemKind::KEYWORD, None);
    }

    fn field(&mut self, spec: &FieldSpec) {
        let detail = format!("{}: {}", lookup::field_kind_text(spec), spec.doc);
        let kind = if spec.is_keyed_block() { CompletionItemKind::STRUCT } else { CompletionItemKind::PROPERTY };
        self.push(spec.name, kind, Some(detail));
    }

    /// The fields and blocks of the field table allowed in a place.
    fn settings(&mut self, place: Place) {
        for label in setting_labels(place) {
            match lookup::field_row(label).filter(|f| f.block.is_none()) {
                Some(spec) => self.field(spec),
                None => {
                    let entries: Vec<&str> = fields::entries_of(label).map(|f| f.name).collect();
                    let detail = format!("block: {}", entries.join(", "));
                    self.push(label, CompletionItemKind::STRUCT, Some(detail));
                }
            }
        }
    }

    fn callables(&mut self) {
        for callee in callees(self.ctx.db, self.ctx.file) {
            let args: Vec<String> = callee
                .inputs
                .iter()
                .map(|i| {
                    if i.default.is_some() {
                        format!("{}?: {}", i.name, i.ty)
                    } else {
                        format!("{}: {}", i.name, i.ty)
                    }
                })
                .collect();
            let mut detail = format!("{} ({})", callee.kind, args.join(", "));
            if !callee.outputs.is_empty() {
                let outputs: Vec<String> = callee
                    .outputs
                    .iter()
                    .map(|(n, t)| if t.is_empty() { n.clone() } else { format!("{n}: {t}") })
                    .collect();
                detail.push_str(&format!(" → ({})", outputs.join(", ")));
            }
            let documentation = callee.doc.map(|d| docs(self.ctx, d));
            self.push(&callee.name, CompletionItemKind::FUNCTION, Some(detail)).documentation = documentation;
        }
    }

    fn types(&mut self, artifacts_only: bool) {
        if !artifacts_only {
            for ty in PARAMETER_TYPES {
                self.push(ty, CompletionItemKind::STRUCT, Some("built-in parameter type".to_string()));
            }
        }
        for ty in BUILTIN_ARTIFACTS {
            self.push(ty, CompletionItemKind::CLASS, Some("built-in artifact type".to_string()));
        }
        // The file's own artifact types from tokens (it may not parse), imported ones from exports.
        let db = self.ctx.db;
        let mut declared: Vec<(String, String)> = Vec::new();
        for outline in crate::context::file_outlines(db, self.ctx.file).iter() {
            if let ("artifact", Some(name)) = (outline.keyword.as_str(), &outline.name) {
                declared.push((name.clone(), "artifact type".to_string()));
            }
        }
        for imported in imports_from_tokens(db, self.ctx.file) {
            for (name, export) in &file_exports(db, imported).items {
                if let Export::Artifact { base } = export {
                    declared.push((name.clone(), format!("artifact type: {}", base.as_deref().unwrap_or("Artifact"))));
                }
            }
        }
        for (name, detail) in declared {
            if !self.items.iter().any(|i| i.label == name) {
                self.push(&name, CompletionItemKind::CLASS, Some(detail));
            }
        }
    }

    fn units(&mut self, units: &[(&str, &str)]) {
        for (i, (unit, meaning)) in units.iter().enumerate() {
            let item = self.push(unit, CompletionItemKind::UNIT, Some(meaning.to_string()));
            item.sort_text = Some(format!("{i:02}"));
        }
    }

    fn arguments(&mut self, inputs: &[InputInfo], written: &[String]) {
        for (i, input) in inputs.iter().enumerate() {
            if written.contains(&input.name) {
                continue;
            }
            let required = input.default.is_none();
            let detail = match &input.default {
                Some(d) => format!("{} = {d}", input.ty),
                None => format!("{} (required)", input.ty),
            };
            let new_text = format!("{}: ", input.name);
            let range = self.ctx.lines.range(self.range);
            let item = self.push(&input.name, CompletionItemKind::FIELD, Some(detail));
            item.text_edit = Some(CompletionTextEdit::Edit(TextEdit { range, new_text }));
            item.sort_text = Some(format!("{}{i:03}", if required { 0 } else { 1 }));
            item.documentation = input.doc.clone().map(Documentation::String);
            if required {
                item.preselect = Some(i == 0 || inputs[..i].iter().all(|p| written.contains(&p.name)));
            }
        }
    }

    /// Names a pipeline expression can read, or a component command can hold.
    fn values(&mut self, cursor: &Cursor<'_>) {
        let outline = &cursor.outline;
        match outline.keyword.as_str() {
            "pipeline" => {
                for (name, ty) in &outline.inputs {
                    self.push(name, CompletionItemKind::VARIABLE, Some(format!("parameter: {ty}")));
                }
                for (task, callee) in &outline.tasks {
                    self.push(task, CompletionItemKind::MODULE, Some(format!("task: {callee}(…)")));
                }
                for var in cursor.loop_vars() {
                    self.push(var, CompletionItemKind::VARIABLE, Some("loop variable".to_string()));
                }
            }
            "component" => {
                for (name, ty) in &outline.inputs {
                    self.push(name, CompletionItemKind::VARIABLE, Some(format!("input: {ty}")));
                }
                for (name, ty) in &outline.outputs {
                    self.push(name, CompletionItemKind::VARIABLE, Some(format!("output: {ty}")));
                }
            }
            _ => {}
        }
        for keyword in ["true", "false", "not"] {
            self.keyword(keyword);
        }
    }

    fn tasks(&mut self, cursor: &Cursor<'_>) {
        for (task, callee) in &cursor.outline.tasks {
            self.push(task, CompletionItemKind::MODULE, Some(format!("task: {callee}(…)")));
        }
    }

    /// `base.`: a task's outputs, or the properties of a component's artifact.
    fn members(&mut self, cursor: &Cursor<'_>, base: &str) {
        let outline = &cursor.outline;
        // The model's task and its callee's outputs, where the pipeline is in the model.
        let db = self.ctx.db;
        if let Some(task) =
            lookup::pipeline_around(db, self.ctx.file, cursor.offset).and_then(|p| lookup::find_task(p, base))
        {
            if let Some(callee) = lookup::callee_item(db, &task.callee) {
                let callee_name = &callee.id().name;
                for (i, (name, ty)) in callee.outputs().iter().enumerate() {
                    let item =
                        self.push(name, CompletionItemKind::FIELD, Some(format!("{ty}: output of {callee_name}")));
                    item.sort_text = Some(format!("{i:03}"));
                }
                return;
            }
        }
        if outline.keyword == "pipeline" {
            let Some(callee) = outline.tasks.get(base) else { return };
            let Some(info) = callee_info(self.ctx.db, self.ctx.file, callee) else { return };
            for (i, (name, ty)) in info.outputs.iter().enumerate() {
                let item = self.push(name, CompletionItemKind::FIELD, Some(format!("{ty}: output of {callee}")));
                item.sort_text = Some(format!("{i:03}"));
            }
        } else if outline.keyword == "component" {
            let input = outline.inputs.iter().find(|(n, _)| n == base);
            let output = outline.outputs.iter().find(|(n, _)| n == base);
            let is_parameter = |ty: &str| PARAMETER_TYPES.iter().any(|p| ty == *p || ty.starts_with(&format!("{p}<")));
            let properties: &[(&str, &str)] = match (input, output) {
                (Some((_, ty)), _) if !is_parameter(ty) => &ARTIFACT_PROPERTIES,
                (_, Some((_, ty))) if !is_parameter(ty) => &ARTIFACT_PROPERTIES,
                (_, Some(_)) => &[("path", "the path of a file to write the value into")],
                _ => &[],
            };
            for (name, doc) in properties {
                self.push(name, CompletionItemKind::PROPERTY, Some(doc.to_string()));
            }
        }
    }
}

const ARTIFACT_PROPERTIES: [(&str, &str); 3] = [
    ("path", "the artifact's local file path"),
    ("uri", "the artifact's URI in the artifact store"),
    ("metadata", "the artifact's metadata (a map)"),
];

/// Documentation as Markdown where the client shows it, as plain text otherwise.
fn docs(ctx: &Ctx<'_>, value: String) -> Documentation {
    if ctx.support.markdown_docs {
        Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value })
    } else {
        Documentation::String(value)
    }
}

/// `task.` and `task.out|` in a pipeline the model has: the task's callee's outputs, read from the
/// model without walking the item's tokens. `None` when the text before the cursor is not that.
fn task_members(ctx: &Ctx<'_>, offset: usize) -> Option<Vec<CompletionItem>> {
    let text = ctx.text();
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let bytes = text.as_bytes();
    let offset = offset.min(text.len());
    let mut prefix_start = offset;
    while prefix_start > 0 && is_word(bytes[prefix_start - 1]) {
        prefix_start -= 1;
    }
    if prefix_start == 0 || bytes[prefix_start - 1] != b'.' {
        return None;
    }
    let base_end = prefix_start - 1;
    let mut base_start = base_end;
    while base_start > 0 && is_word(bytes[base_start - 1]) {
        base_start -= 1;
    }
    let line_start = text[..base_start].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..base_start];
    // Not a chain (`a.b.`), not a number, not in a comment or a string.
    if base_start == base_end
        || bytes[base_start].is_ascii_digit()
        || before.ends_with('.')
        || before.contains("//")
        || before.contains('"')
    {
        return None;
    }
    let task_name = &text[base_start..base_end];
    // Through the pipeline's pieces when it can (right after an edit of a long pipeline, the
    // model of the whole file is not made again for this), else through the file's model.
    let (callee_name, outputs) = match kfl_check::model::task_outputs_at(ctx.db, ctx.file, offset, task_name) {
        Some(found) => found,
        None => {
            let pipeline = lookup::pipeline_around(ctx.db, ctx.file, offset)?;
            let task = lookup::find_task(pipeline, task_name)?;
            let callee = lookup::callee_item(ctx.db, &task.callee)?;
            (callee.id().name.clone(), callee.outputs())
        }
    };
    let mut b = Builder { ctx, range: Span::new(prefix_start, offset), items: Vec::new() };
    for (i, (name, ty)) in outputs.iter().enumerate() {
        let item = b.push(name, CompletionItemKind::FIELD, Some(format!("{ty}: output of {callee_name}")));
        item.sort_text = Some(format!("{i:03}"));
    }
    Some(b.items)
}

pub fn completion(ctx: &Ctx<'_>, offset: usize) -> Vec<CompletionItem> {
    if let Some(items) = task_members(ctx, offset) {
        return items;
    }
    let text = ctx.text();
    let cursor = analyze_file(ctx.db, ctx.file, offset);
    let mut b = Builder { ctx, range: cursor.prefix, items: Vec::new() };
    if let Some(string) = cursor.in_import_string {
        import_paths(&mut b, string.span, cursor.offset);
        return b.items;
    }
    if cursor.in_trivia {
        return Vec::new();
    }
    let stmt = cursor.stmt_texts();
    let frame = cursor.innermost();
    // Right after a number: its unit.
    if cursor.number.is_some() {
        let key = match stmt.as_slice() {
            [key, "="] => *key,
            _ => "",
        };
        match key {
            "memory" | "memory_limit" => b.units(&MEMORY_UNITS),
            "cpu" | "cpu_limit" => b.units(&CPU_UNITS),
            "timeout" => b.units(&DURATION_UNITS),
            _ => {}
        }
        return b.items;
    }
    // After `x.`: members.
    if let [.., base, "."] = stmt.as_slice() {
        let base_is_ident = frame.stmt.len() >= 2 && frame.stmt[frame.stmt.len() - 2].kind == TokenKind::Ident;
        if base_is_ident {
            b.members(&cursor, base);
        }
        return b.items;
    }
    let is_type_position = |stmt: &[&str]| matches!(stmt.last(), Some(&":") | Some(&"<") | Some(&","));
    match &frame.kind {
        FrameKind::TopLevel => match stmt.as_slice() {
            [] => ITEM_KEYWORDS.iter().for_each(|k| b.keyword(k)),
            ["artifact", _, ":"] => b.types(true),
            _ => {}
        },
        FrameKind::ComponentBody => match stmt.as_slice() {
            [] => {
                for keyword in ["input", "output"] {
                    b.keyword(keyword);
                }
                for lang in ["python", "sh"] {
                    b.push(lang, CompletionItemKind::KEYWORD, Some("the component's script".to_string()));
                }
                b.settings(Place::Component);
            }
            ["input" | "output", _, ":", rest @ ..] if !rest.contains(&"=") && is_type_position(&stmt) => {
                b.types(false)
            }
            ["cache", "="] => ["true", "false"].iter().for_each(|k| b.keyword(k)),
            _ => {}
        },
        FrameKind::PipelineParams => {
            if matches!(stmt.as_slice(), [_, ":", ..]) && !stmt.contains(&"=") && is_type_position(&stmt) {
                b.types(false);
            }
        }
        FrameKind::PipelineBody | FrameKind::Block { .. } => {
            let top = frame.kind == FrameKind::PipelineBody;
            match stmt.as_slice() {
                ["output", _, ":", rest @ ..] if !rest.contains(&"=") && is_type_position(&stmt) => b.types(false),
                ["output", ..] if stmt.contains(&"=") => b.values(&cursor),
                ["description" | "display_name", "="] => {}
                [_, "="] => b.callables(),
                ["if" | "else", ..] => {
                    b.values(&cursor);
                    if stmt.len() > 1 {
                        ["and", "or"].iter().for_each(|k| b.keyword(k));
                    }
                }
                ["for", _] => b.keyword("in"),
                ["for", _, "in", ..] => {
                    b.values(&cursor);
                    b.keyword("parallel");
                }
                _ => {
                    for keyword in ["if", "for", "finally", "output"] {
                        b.keyword(keyword);
                    }
                    if top {
                        fields::fields_in(Place::Pipeline).for_each(|f| b.field(f));
                    }
                    if stmt.last() == Some(&"}") || cursor.after_block {
                        b.keyword("else");
                    }
                    b.callables();
                }
            }
        }
        FrameKind::TaskOverrides => match stmt.as_slice() {
            ["cache", "="] => ["true", "false"].iter().for_each(|k| b.keyword(k)),
            ["after", "="] => b.tasks(&cursor),
            [] => b.settings(task_place(ctx, &cursor)),
            _ => {}
        },
        FrameKind::KvBlock { name } => match (name.as_str(), stmt.as_slice()) {
            ("resources", []) => {
                for entry in fields::entries_of("resources") {
                    if !frame.written.iter().any(|w| w == entry.name) {
                        b.field(entry);
                    }
                }
            }
            ("env", [_, "="]) => {
                let item = b.push("secret", CompletionItemKind::FUNCTION, Some(SECRET_DOC.to_string()));
                if ctx.support.snippets {
                    item.insert_text_format = Some(InsertTextFormat::SNIPPET);
                    if let Some(CompletionTextEdit::Edit(edit)) = &mut item.text_edit {
                        edit.new_text = "secret(name: \"$1\", key: \"$2\")".to_string();
                    }
                }
            }
            _ => {}
        },
        FrameKind::Call { callee, .. } => match stmt.as_slice() {
            [] => {
                let inputs = if callee == "secret" {
                    ["name", "key"]
                        .iter()
                        .map(|n| InputInfo { name: n.to_string(), ty: "String".into(), default: None, doc: None })
                        .collect()
                } else {
                    callee_info(ctx.db, ctx.file, callee).map(|c| c.inputs).unwrap_or_default()
                };
                b.arguments(&inputs, &frame.written);
            }
            [_, ":", ..] => b.values(&cursor),
            _ => {}
        },
        FrameKind::List => {
            let parent = cursor.frames.len().checked_sub(2).map(|i| &cursor.frames[i]);
            let parent_stmt: Vec<&str> =
                parent.map(|p| p.stmt.iter().map(|t| t.text(text)).collect()).unwrap_or_default();
            match (parent.map(|p| &p.kind), parent_stmt.as_slice()) {
                (Some(FrameKind::TaskOverrides), ["after", "=", "["]) => b.tasks(&cursor),
                _ => b.values(&cursor),
            }
        }
        FrameKind::Map | FrameKind::Paren => {
            if matches!(stmt.last(), Some(&":") | Some(&"(")) || stmt.is_empty() {
                b.values(&cursor);
            }
        }
    }
    b.items
}

/// The fields and blocks of the field table allowed in a place, in the table's order: fields
/// first, then blocks.
pub fn setting_labels(place: Place) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = fields::fields_in(place).map(|f| f.name).collect();
    for block in fields::block_names() {
        let allowed = match fields::field(block) {
            Some(spec) => spec.allowed_in(place),
            None => fields::entries_of(block).any(|f| f.allowed_in(place)),
        };
        if allowed {
            out.push(block);
        }
    }
    out
}

/// Where the `{ … }` after a task is: after a call of a pipeline or of a component. The callee is
/// the identifier before the `(` that the block follows.
fn task_place(ctx: &Ctx<'_>, cursor: &Cursor<'_>) -> Place {
    let parent = cursor.frames.len().checked_sub(2).map(|i| &cursor.frames[i]);
    let tokens = parent.map(|p| p.stmt.as_slice()).unwrap_or_default();
    let callee = tokens
        .iter()
        .position(|t| t.text(cursor.text) == "(")
        .and_then(|open| open.checked_sub(1))
        .map(|i| tokens[i].text(cursor.text));
    match callee.and_then(|name| callee_info(ctx.db, ctx.file, name)) {
        Some(info) if info.kind == "pipeline" => Place::PipelineCall,
        _ => Place::Task,
    }
}

/// Paths of the project's other files, relative to this file's folder, inside an import string.
fn import_paths(b: &mut Builder<'_, '_>, string: Span, offset: usize) {
    let db = b.ctx.db;
    let here = b.ctx.file.path(db).to_string();
    let dir = here.rfind('/').map_or("", |i| &here[..i]);
    b.range = Span::new((string.start as usize + 1).min(offset), offset);
    for file in crate::index::project_files(db) {
        let path = file.path(db);
        if **path == *here {
            continue;
        }
        let relative = relative_path(dir, path);
        b.push(&relative, CompletionItemKind::FILE, None);
    }
}

fn relative_path(from_dir: &str, to: &str) -> String {
    let from: Vec<&str> = from_dir.split('/').filter(|s| !s.is_empty()).collect();
    let target: Vec<&str> = to.split('/').filter(|s| !s.is_empty()).collect();
    let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&target[common..]);
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative_path("/p", "/p/components/a.kfl"), "components/a.kfl");
        assert_eq!(relative_path("/p/x", "/p/a.kfl"), "../a.kfl");
    }
}

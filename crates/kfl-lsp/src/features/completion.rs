//! Completion, from the token context of the cursor (the item being typed rarely parses) and the
//! signatures the checker knows (which come from the files that do).

use kfl_check::items::{file_exports, Export};
use kfl_check::types::{BUILTIN_ARTIFACTS, PARAMETER_TYPES};
use kfl_diagnostics::Span;
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, InsertTextFormat, MarkupContent, MarkupKind,
    TextEdit,
};

use super::{callee_info, callees, field_doc, imports_from_tokens, Ctx, InputInfo};
use crate::context::{analyze_file, Cursor, FrameKind};
use crate::lexer::TokenKind;

const ITEM_KEYWORDS: [&str; 4] = ["import", "artifact", "component", "pipeline"];
const COMPONENT_FIELDS: [&str; 9] =
    ["image", "packages", "command", "args", "description", "retries", "timeout", "cache", "tolerations"];
const TASK_FIELDS: [&str; 6] = ["retries", "timeout", "cache", "tolerations", "after", "display_name"];
const BLOCKS: [&str; 5] = ["resources", "env", "node_selector", "labels", "annotations"];
const RESOURCES: [&str; 6] = ["cpu", "memory", "gpu", "accelerator", "cpu_limit", "memory_limit"];
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

    fn field(&mut self, name: &str, kind: CompletionItemKind) {
        let detail = field_doc(name).map(|(ty, doc)| format!("{ty}: {doc}"));
        self.push(name, kind, detail);
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

pub fn completion(ctx: &Ctx<'_>, offset: usize) -> Vec<CompletionItem> {
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
                COMPONENT_FIELDS.iter().for_each(|f| b.field(f, CompletionItemKind::PROPERTY));
                BLOCKS.iter().for_each(|f| b.field(f, CompletionItemKind::STRUCT));
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
                        ["description", "display_name"].iter().for_each(|f| b.field(f, CompletionItemKind::PROPERTY));
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
            [] => {
                TASK_FIELDS.iter().for_each(|f| b.field(f, CompletionItemKind::PROPERTY));
                BLOCKS.iter().for_each(|f| b.field(f, CompletionItemKind::STRUCT));
            }
            _ => {}
        },
        FrameKind::KvBlock { name } => match (name.as_str(), stmt.as_slice()) {
            ("resources", []) => {
                for key in RESOURCES {
                    if !frame.written.iter().any(|w| w == key) {
                        b.field(key, CompletionItemKind::PROPERTY);
                    }
                }
            }
            ("env", [_, "="]) => {
                let item = b.push("secret", CompletionItemKind::FUNCTION, field_doc("secret").map(|d| d.1.to_string()));
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

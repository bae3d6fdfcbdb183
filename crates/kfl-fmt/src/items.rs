//! Items, component members, pipeline statements and the blocks that hold them.

use kfl_syntax::ast::*;

use crate::printer::{width, Entry, Printer, INDENT, MAX_WIDTH};

/// How one line of a sequence is padded.
#[derive(Clone, Copy, Default)]
struct Pad {
    /// The width the keyword (`input`, `output`) is padded to.
    keyword: usize,
    /// The width the name (or `name:`, or key) is padded to.
    name: usize,
}

const GROUP_ASSIGN: u8 = 1;
const GROUP_IO: u8 = 2;

impl Printer<'_> {
    pub(crate) fn file(&mut self, file: &File) {
        let mut previous_was_import: Option<bool> = None;
        for item in &file.items {
            let (start, end) = self.range(item.span());
            let is_import = matches!(item, Item::Import(_));
            if let Some(previous) = previous_was_import {
                if !(previous && is_import) {
                    self.blank_line();
                }
            }
            let mut first = true;
            self.base_indent = 0;
            self.own_line_comments(start, 0, &mut first, true);
            if !first && self.newlines(self.last_end, start) >= 2 {
                self.blank_line();
            }
            self.newline(0);
            self.item(item);
            self.flush_before(end);
            self.last_end = self.last_end.max(end);
            self.trailing();
            self.newline(0);
            previous_was_import = Some(is_import);
        }
        let mut first = file.items.is_empty();
        self.own_line_comments(usize::MAX, 0, &mut first, true);
    }

    /// Prints the doc comment and the comments between it and the keyword; returns where the
    /// keyword is.
    fn header(&mut self, doc: &Doc, start: usize, indent: usize) -> usize {
        let Some(doc_span) = doc.span else {
            return start;
        };
        let keyword = self.skip_trivia(doc_span.end as usize);
        for line in &doc.lines {
            if line.is_empty() {
                self.write("///");
            } else {
                self.write("/// ");
                self.write(line);
            }
            self.newline(indent);
        }
        let mut first = false;
        self.own_line_comments(keyword, indent, &mut first, false);
        keyword
    }

    fn keyword(&mut self, at: usize, keyword: &str) {
        self.tok(at, at + keyword.len(), keyword);
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Import(import) => {
                let at = self.header(&import.doc, import.span.start as usize, 0);
                self.keyword(at, "import");
                self.spaces(1);
                match &import.target {
                    ImportTarget::Path(path) => self.string(path),
                    ImportTarget::Module(parts) => self.path(parts),
                }
            }
            Item::Artifact(artifact) => {
                let at = self.header(&artifact.doc, artifact.span.start as usize, 0);
                self.keyword(at, "artifact");
                self.spaces(1);
                self.ident(&artifact.name);
                if let Some(base) = &artifact.base {
                    self.tok_after(self.end(artifact.name.span), ":");
                    self.spaces(1);
                    self.ident(base);
                }
            }
            Item::Component(component) => self.component(component),
            Item::Pipeline(pipeline) => self.pipeline(pipeline),
        }
    }

    fn component(&mut self, component: &Component) {
        let at = self.header(&component.doc, component.span.start as usize, 0);
        self.keyword(at, "component");
        self.spaces(1);
        self.ident(&component.name);
        self.spaces(1);
        let open = self.skip_trivia(self.end(component.name.span));
        let close = self.end(component.span).saturating_sub(1);
        let members = &component.members;
        let spans: Vec<_> = members.iter().map(|m| self.range(m.span)).collect();
        let pads = self.member_pads(members, self.base_indent + INDENT);
        self.braced((open, close, close), &spans, &mut |p, i| {
            if let (Some(member), Some(pad)) = (members.get(i), pads.get(i)) {
                p.member(member, *pad);
            }
        });
    }

    /// Whether `name = value` at `indent` takes several lines even without padding (`value` is
    /// the flat value, `None` if it cannot be flat).
    fn assign_is_multiline(&self, indent: usize, name: &str, value: Option<String>, suffix: usize) -> bool {
        value.is_none_or(|v| indent + width(name) + " = ".len() + width(&v) + suffix > MAX_WIDTH)
    }

    fn member_pads(&self, members: &[Member], indent: usize) -> Vec<Pad> {
        let entries: Vec<Entry> = members
            .iter()
            .map(|m| {
                let (start, end) = self.range(m.span);
                let inside = self.comment_in(self.keyword_start(&m.doc, start) + 1, end);
                let (group, width, multiline) = match &m.kind {
                    MemberKind::Field(f) => (
                        Some(GROUP_ASSIGN),
                        width(&f.name.text),
                        self.assign_is_multiline(indent, &f.name.text, self.flat_expr(&f.value), 0),
                    ),
                    MemberKind::Input(p) => (
                        Some(GROUP_IO),
                        width(&p.name.text) + 1,
                        p.default.as_ref().is_some_and(|d| {
                            let declared = format!("input {}: {}", p.name.text, self.flat_type(&p.ty));
                            self.assign_is_multiline(indent, &declared, self.flat_expr(d), 0)
                        }),
                    ),
                    MemberKind::Output(o) => (Some(GROUP_IO), width(&o.name.text) + 1, false),
                    _ => (None, 0, false),
                };
                Entry { start, end, group, width, multiline: multiline || inside }
            })
            .collect();
        let (widths, runs) = self.align(&entries);
        let mut pads = vec![Pad::default(); members.len()];
        for (i, member) in members.iter().enumerate() {
            pads[i].name = widths[i];
            if matches!(member.kind, MemberKind::Input(_) | MemberKind::Output(_)) {
                let has_output = members
                    .iter()
                    .zip(&runs)
                    .any(|(m, &run)| run == runs[i] && matches!(m.kind, MemberKind::Output(_)));
                pads[i].keyword = if has_output { 6 } else { 5 };
            }
        }
        pads
    }

    fn keyword_start(&self, doc: &Doc, start: usize) -> usize {
        match doc.span {
            Some(span) => self.skip_trivia(span.end as usize),
            None => start,
        }
    }

    fn member(&mut self, member: &Member, pad: Pad) {
        let indent = self.line_indent();
        let at = self.header(&member.doc, member.span.start as usize, indent);
        match &member.kind {
            MemberKind::Input(input) => {
                self.keyword(at, "input");
                self.spaces(pad.keyword.saturating_sub(5) + 1);
                self.ident(&input.name);
                self.tok_after(self.end(input.name.span), ":");
                self.spaces(pad.name.saturating_sub(width(&input.name.text) + 1) + 1);
                self.type_expr(&input.ty);
                if let Some(default) = &input.default {
                    self.spaces(1);
                    self.tok_after(self.end(input.ty.span), "=");
                    self.spaces(1);
                    self.expr(default, 0);
                }
            }
            MemberKind::Output(output) => {
                self.keyword(at, "output");
                self.spaces(pad.keyword.saturating_sub(6) + 1);
                self.ident(&output.name);
                self.tok_after(self.end(output.name.span), ":");
                self.spaces(pad.name.saturating_sub(width(&output.name.text) + 1) + 1);
                self.type_expr(&output.ty);
            }
            MemberKind::Script(script) => {
                self.tok_span(script.lang_span, script.lang.keyword());
                self.spaces(1);
                self.string(&script.source);
            }
            MemberKind::Block(block) => self.kv_block(block),
            MemberKind::Field(field) => self.field(field, pad.name),
        }
    }

    fn field(&mut self, field: &Field, pad: usize) {
        self.ident(&field.name);
        self.spaces(pad.saturating_sub(width(&field.name.text)) + 1);
        self.tok_after(self.end(field.name.span), "=");
        self.spaces(1);
        self.expr(&field.value, 0);
    }

    pub(crate) fn type_expr(&mut self, ty: &TypeExpr) {
        self.ident(&ty.name);
        if ty.args.is_empty() {
            return;
        }
        self.tok_after(self.end(ty.name.span), "<");
        for (i, arg) in ty.args.iter().enumerate() {
            if let Some(previous) = i.checked_sub(1).and_then(|p| ty.args.get(p)) {
                self.tok_after(self.end(previous.span), ",");
                self.spaces(1);
            }
            self.type_expr(arg);
        }
        let close = self.end(ty.span).saturating_sub(1);
        self.tok(close, close + 1, ">");
    }

    /// `name { key = value, … }`: on one line when it fits and holds no comment.
    fn kv_block(&mut self, block: &KvBlock) {
        self.ident(&block.name);
        self.spaces(1);
        let open = self.skip_trivia(self.end(block.name.span));
        let close = self.end(block.span).saturating_sub(1);
        let entries = &block.entries;
        if !self.comment_in(self.end(block.name.span), close) {
            let flat: Option<Vec<String>> = entries
                .iter()
                .map(|e| Some(format!("{} = {}", self.key_text(&e.key), self.flat_expr(&e.value)?)))
                .collect();
            if let Some(flat) = flat {
                let text = if flat.is_empty() { "{}".to_string() } else { format!("{{ {} }}", flat.join(", ")) };
                if self.fits(&text, 0) || flat.is_empty() {
                    self.tok(open, close + 1, &text);
                    return;
                }
            }
        }
        let spans: Vec<_> = entries.iter().map(|e| self.range(e.span)).collect();
        let indent = self.base_indent + INDENT;
        let aligned: Vec<Entry> = entries
            .iter()
            .map(|e| {
                let (start, end) = self.range(e.span);
                Entry {
                    start,
                    end,
                    group: Some(GROUP_ASSIGN),
                    width: width(self.key_text(&e.key)),
                    multiline: self.comment_in(start + 1, end)
                        || self.assign_is_multiline(indent, self.key_text(&e.key), self.flat_expr(&e.value), 0),
                }
            })
            .collect();
        let (pads, _) = self.align(&aligned);
        self.braced((open, close, close), &spans, &mut |p, i| {
            if let (Some(entry), Some(pad)) = (entries.get(i), pads.get(i)) {
                p.key(&entry.key);
                p.spaces(pad.saturating_sub(width(p.key_text(&entry.key))) + 1);
                p.tok_after(p.end(entry.key.span()), "=");
                p.spaces(1);
                p.expr(&entry.value, 0);
            }
        });
    }

    fn pipeline(&mut self, pipeline: &Pipeline) {
        let at = self.header(&pipeline.doc, pipeline.span.start as usize, 0);
        self.keyword(at, "pipeline");
        self.spaces(1);
        self.ident(&pipeline.name);
        let params = &pipeline.params;
        let open = self.skip_trivia(self.end(pipeline.name.span));
        let after_params = params.last().map_or(open + 1, |p| self.end(p.span));
        let close = self.find_closer(after_params, b')').unwrap_or(after_params);
        let brace = self.skip_trivia(close + 1);
        let body_close = self.end(pipeline.span).saturating_sub(1);
        let body_empty = pipeline.body.is_empty() && !self.comment_in(brace, body_close);
        let suffix = if body_empty { " {}".len() } else { " {".len() };

        let flat: Option<Vec<String>> =
            if self.comment_in(self.end(pipeline.name.span), close) || params.iter().any(|p| p.doc.span.is_some()) {
                None
            } else {
                params.iter().map(|p| self.flat_param(p)).collect()
            };
        let flat = flat.map(|parts| format!("({})", parts.join(", ")));
        match flat {
            Some(text) if self.fits(&text, suffix) || params.is_empty() => {
                self.tok(open, close + 1, &text);
            }
            _ => {
                let spans: Vec<_> = params.iter().map(|p| self.range(p.span)).collect();
                self.bracketed((open, close), ("(", ")"), &spans, ",", &mut |p, i| {
                    if let Some(param) = params.get(i) {
                        p.param(param);
                    }
                });
            }
        }
        self.spaces(1);
        self.block_body((brace, body_close, body_close), &pipeline.body);
    }

    fn flat_param(&self, param: &Param) -> Option<String> {
        let mut text = format!("{}: {}", param.name.text, self.flat_type(&param.ty));
        if let Some(default) = &param.default {
            text.push_str(" = ");
            text.push_str(&self.flat_expr(default)?);
        }
        Some(text)
    }

    fn param(&mut self, param: &Param) {
        let indent = self.line_indent();
        self.header(&param.doc, param.span.start as usize, indent);
        self.ident(&param.name);
        self.tok_after(self.end(param.name.span), ":");
        self.spaces(1);
        self.type_expr(&param.ty);
        if let Some(default) = &param.default {
            self.spaces(1);
            self.tok_after(self.end(param.ty.span), "=");
            self.spaces(1);
            self.expr(default, 1);
        }
    }

    /// `{ statements }` of a pipeline or a block: always on lines of its own unless empty.
    fn block_body(&mut self, (open, close, until): (usize, usize, usize), stmts: &[Stmt]) {
        let spans: Vec<_> = stmts.iter().map(|s| self.range(s.span)).collect();
        let pads = self.stmt_pads(stmts, self.base_indent + INDENT);
        self.braced((open, close, until), &spans, &mut |p, i| {
            if let (Some(stmt), Some(pad)) = (stmts.get(i), pads.get(i)) {
                p.stmt(stmt, *pad);
            }
        });
    }

    fn block(&mut self, block: &Block) {
        let (open, end) = self.range(block.span);
        let close = end.saturating_sub(1);
        self.block_body((open, close, close), &block.stmts);
    }

    fn stmt_pads(&self, stmts: &[Stmt], indent: usize) -> Vec<usize> {
        let entries: Vec<Entry> = stmts
            .iter()
            .map(|s| {
                let (start, end) = self.range(s.span);
                let inside = self.comment_in(self.keyword_start(&s.doc, start) + 1, end);
                let (group, width, multiline) = match &s.kind {
                    StmtKind::Field(f) => (
                        Some(GROUP_ASSIGN),
                        width(&f.name.text),
                        self.assign_is_multiline(indent, &f.name.text, self.flat_expr(&f.value), 0),
                    ),
                    StmtKind::Task(TaskStmt { binding: Some(binding), call, overrides }) => (
                        Some(GROUP_ASSIGN),
                        width(&binding.text),
                        match overrides {
                            Some(o) if !o.members.is_empty() => true,
                            Some(_) => {
                                self.assign_is_multiline(indent, &binding.text, self.flat_call(call), " {}".len())
                            }
                            None => self.assign_is_multiline(indent, &binding.text, self.flat_call(call), 0),
                        },
                    ),
                    _ => (None, 0, false),
                };
                Entry { start, end, group, width, multiline: multiline || inside }
            })
            .collect();
        self.align(&entries).0
    }

    fn stmt(&mut self, stmt: &Stmt, pad: usize) {
        let indent = self.line_indent();
        let at = self.header(&stmt.doc, stmt.span.start as usize, indent);
        match &stmt.kind {
            StmtKind::Task(task) => {
                if let Some(binding) = &task.binding {
                    self.ident(binding);
                    self.spaces(pad.saturating_sub(width(&binding.text)) + 1);
                    self.tok_after(self.end(binding.span), "=");
                    self.spaces(1);
                }
                let suffix = match &task.overrides {
                    None => 0,
                    Some(o) if o.members.is_empty() => " {}".len(),
                    Some(_) => " {".len(),
                };
                self.call(&task.call, suffix);
                if let Some(overrides) = &task.overrides {
                    self.spaces(1);
                    self.task_block(overrides);
                }
            }
            StmtKind::Field(field) => self.field(field, pad),
            StmtKind::If(if_stmt) => self.if_stmt(if_stmt),
            StmtKind::For(for_stmt) => {
                self.keyword(for_stmt.span.start as usize, "for");
                self.spaces(1);
                self.ident(&for_stmt.var);
                self.spaces(1);
                self.tok_after(self.end(for_stmt.var.span), "in");
                self.spaces(1);
                let suffix = match &for_stmt.parallel {
                    Some(p) => " parallel ".len() + self.flat_expr(p).map_or(0, |t| width(&t)) + " {".len(),
                    None => " {".len(),
                };
                self.expr(&for_stmt.iterable, suffix);
                if let Some(parallel) = &for_stmt.parallel {
                    self.spaces(1);
                    self.tok_after(self.end(for_stmt.iterable.span), "parallel");
                    self.spaces(1);
                    self.expr(parallel, " {".len());
                }
                self.spaces(1);
                self.block(&for_stmt.body);
            }
            StmtKind::Finally(block) => {
                self.keyword(at, "finally");
                self.spaces(1);
                self.block(block);
            }
            StmtKind::Output(output) => {
                self.keyword(at, "output");
                self.spaces(1);
                self.ident(&output.name);
                let mut before_value = self.end(output.name.span);
                if let Some(ty) = &output.ty {
                    self.tok_after(before_value, ":");
                    self.spaces(1);
                    self.type_expr(ty);
                    before_value = self.end(ty.span);
                }
                self.spaces(1);
                self.tok_after(before_value, "=");
                self.spaces(1);
                self.expr(&output.value, 0);
            }
        }
    }

    fn if_stmt(&mut self, if_stmt: &IfStmt) {
        self.keyword(if_stmt.span.start as usize, "if");
        self.spaces(1);
        self.expr(&if_stmt.cond, " {".len());
        self.spaces(1);
        let (open, end) = self.range(if_stmt.then.span);
        let close = end.saturating_sub(1);
        // Comments between `}` and `else` have no line of their own: they go inside the block.
        let until = match if_stmt.otherwise {
            Some(_) => self.skip_trivia(end),
            None => close,
        };
        self.block_body((open, close, until), &if_stmt.then.stmts);
        let Some(otherwise) = &if_stmt.otherwise else {
            return;
        };
        self.spaces(1);
        self.tok_after(end, "else");
        self.spaces(1);
        match otherwise {
            Else::If(inner) => self.if_stmt(inner),
            Else::Block(block) => self.block(block),
        }
    }

    /// The `{ … }` after a task call: always on lines of its own unless empty.
    fn task_block(&mut self, block: &TaskBlock) {
        let (open, end) = self.range(block.span);
        let members = &block.members;
        let member_span = |m: &TaskMember| match m {
            TaskMember::Block(b) => b.span,
            TaskMember::Field(f) => f.span,
        };
        let spans: Vec<_> = members.iter().map(|m| self.range(member_span(m))).collect();
        let indent = self.base_indent + INDENT;
        let entries: Vec<Entry> = members
            .iter()
            .map(|m| {
                let (start, end) = self.range(member_span(m));
                let (group, width, multiline) = match m {
                    TaskMember::Field(f) => (
                        Some(GROUP_ASSIGN),
                        width(&f.name.text),
                        self.assign_is_multiline(indent, &f.name.text, self.flat_expr(&f.value), 0),
                    ),
                    TaskMember::Block(_) => (None, 0, false),
                };
                Entry { start, end, group, width, multiline: multiline || self.comment_in(start + 1, end) }
            })
            .collect();
        let pads = self.align(&entries).0;
        let close = end.saturating_sub(1);
        self.braced((open, close, close), &spans, &mut |p, i| match (members.get(i), pads.get(i)) {
            (Some(TaskMember::Block(b)), _) => p.kv_block(b),
            (Some(TaskMember::Field(f)), Some(pad)) => p.field(f, *pad),
            _ => {}
        });
    }

    pub(crate) fn key(&mut self, key: &Key) {
        match key {
            Key::Ident(ident) => self.ident(ident),
            Key::Str(s) => self.string(s),
        }
    }

    pub(crate) fn key_text<'k>(&'k self, key: &'k Key) -> &'k str {
        match key {
            Key::Ident(ident) => &ident.text,
            Key::Str(s) => self.text(s.span),
        }
    }

    pub(crate) fn path(&mut self, parts: &[Ident]) {
        for (i, part) in parts.iter().enumerate() {
            if let Some(previous) = i.checked_sub(1).and_then(|p| parts.get(p)) {
                self.tok_after(self.end(previous.span), ".");
            }
            self.ident(part);
        }
    }
}

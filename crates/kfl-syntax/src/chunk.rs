//! Parsing in pieces, so that an edit re-parses only the piece it touched.
//!
//! A file is cut into *chunks* by a lexical scan ([`chunks`]): one per item, except that a pipeline
//! is cut into its head (through the `{` of its body), runs of top-level statements, and its closing
//! `}`. Each chunk is parsed on its own ([`parse_chunk`]) with spans relative to the chunk, and
//! [`parse_with`] puts the pieces together, shifting spans to their place in the file. Whoever calls
//! [`parse_with`] decides how a chunk is parsed: the salsa database memoizes [`parse_chunk`] by the
//! chunk's text, so after a one-character edit in a 5,000-line file only one statement is parsed.
//!
//! Invariant: the result is exactly [`crate::parse_whole`]'s. The cuts are made only where the
//! grammar cannot join the text before and after (before an item keyword or its doc comments, and
//! before a line of a pipeline body that starts a statement: a name or a doc comment, which never
//! continues the statement before it), so when every chunk parses, the whole parses into the same
//! tree. When any chunk does not parse, the whole file is parsed in one go, with error recovery, so
//! syntax errors are the same too. `tests/chunked.rs` checks the equivalence on every example and
//! on thousands of edited variants of them.

use std::sync::Arc;

use kfl_diagnostics::{Diagnostic, Label, Span};

use crate::ast::*;
use crate::parser::{self, Builder, Rule};
use crate::{scan, Parse};

/// What a chunk holds, and so which grammar rule parses it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ChunkKind {
    /// A whole item (`item_only`).
    Item,
    /// A pipeline up to and including the `{` of its body (`head_only`).
    PipelineHead,
    /// Statements of a pipeline body (`stmts_only`).
    Statements,
    /// The `}` that closes a pipeline, and the blanks and comments after it.
    PipelineEnd,
}

/// A piece of the file: `text[start..end]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Chunk {
    pub kind: ChunkKind,
    pub start: usize,
    pub end: usize,
}

/// The head of a pipeline, before its statements are known.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PipelineHead {
    pub doc: Doc,
    pub name: Ident,
    pub params: Vec<Param>,
    pub params_span: Span,
}

impl PipelineHead {
    pub fn into_pipeline(self, body: Vec<Stmt>, span: Span) -> Pipeline {
        let PipelineHead { doc, name, params, params_span } = self;
        Pipeline { doc, name, params, body, params_span, span }
    }
}

/// One parsed chunk, with spans relative to the chunk's start.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ChunkTree {
    Item(Item),
    PipelineHead(PipelineHead),
    Statements(Vec<Stmt>),
    PipelineEnd,
}

/// A parsed chunk and the lexical errors in it (unknown escapes, over-long chains), with spans
/// relative to the chunk's start.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ChunkParse {
    pub tree: ChunkTree,
    pub errors: Vec<Diagnostic>,
}

/// Cuts `text` into chunks that cover it from its first item to its end. `None` when the text
/// before the first item is not blank (the whole-file parse reports it).
pub fn chunks(text: &str, scan: &scan::Scan) -> Option<Vec<Chunk>> {
    let first = scan.item_starts.first().copied().unwrap_or(text.len());
    if !is_trivia(&text[..first]) {
        return None;
    }
    let mut out = Vec::with_capacity(scan.item_starts.len());
    for (i, &start) in scan.item_starts.iter().enumerate() {
        let end = scan.item_starts.get(i + 1).copied().unwrap_or(text.len());
        if first_word(&text[start..end]) == Some("pipeline") {
            pipeline_chunks(text, start, end, &mut out)?;
        } else {
            out.push(Chunk { kind: ChunkKind::Item, start, end });
        }
    }
    Some(out)
}

/// Parses one chunk on its own. `None` when it does not parse.
pub fn parse_chunk(kind: ChunkKind, text: &str) -> Option<ChunkParse> {
    let scan = scan::scan(text);
    if scan.too_deep.is_some() || !scan.unterminated.is_empty() {
        return None;
    }
    let comment_starts_by_end = scan.comments.iter().map(|c| (c.span.end as usize, c.span.start as usize)).collect();
    let mut builder = Builder { offset: 0, errors: Vec::new(), text, comment_starts_by_end };
    let _shared = crate::DETAIL_LOCK.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    let tree = match kind {
        ChunkKind::Item => {
            let piece = parser::parse_piece(Rule::item_only, text).ok()?;
            let item = piece.into_inner().find(|p| p.as_rule() == Rule::item)?;
            ChunkTree::Item(builder.item(item)?)
        }
        ChunkKind::PipelineHead => {
            let piece = parser::parse_piece(Rule::head_only, text).ok()?;
            let head = piece.into_inner().find(|p| p.as_rule() == Rule::pipeline_head)?;
            ChunkTree::PipelineHead(builder.pipeline_head(head)?)
        }
        ChunkKind::Statements => {
            let piece = parser::parse_piece(Rule::stmts_only, text).ok()?;
            ChunkTree::Statements(builder.stmts(piece))
        }
        ChunkKind::PipelineEnd => {
            if !text.starts_with('}') || !is_trivia(&text[1..]) {
                return None;
            }
            ChunkTree::PipelineEnd
        }
    };
    Some(ChunkParse { tree, errors: builder.errors })
}

/// Parses `text` chunk by chunk, asking `parse_chunk` for each chunk's tree (the salsa database
/// answers from its memo when it has seen the chunk's text before). Falls back to
/// [`crate::parse_whole`] when the text cannot be cut or a chunk does not parse.
pub fn parse_with(text: &str, mut parse_chunk: impl FnMut(ChunkKind, &str) -> Option<Arc<ChunkParse>>) -> Parse {
    let scan = scan::scan(text);
    if scan.too_deep.is_some() || !scan.unterminated.is_empty() {
        return crate::parse_whole(text);
    }
    let Some(chunks) = chunks(text, &scan) else {
        return crate::parse_whole(text);
    };
    let mut file = File { items: Vec::with_capacity(chunks.len()) };
    let mut errors = Vec::new();
    let mut open: Option<(PipelineHead, usize, Vec<Stmt>)> = None;
    for chunk in &chunks {
        let Some(parsed) = parse_chunk(chunk.kind, &text[chunk.start..chunk.end]) else {
            return crate::parse_whole(text);
        };
        let by = chunk.start as u32;
        let ChunkParse { tree, errors: chunk_errors } =
            Arc::try_unwrap(parsed).unwrap_or_else(|shared| (*shared).clone());
        errors.extend(chunk_errors.into_iter().map(|e| shifted(e, by)));
        match (tree, open.as_mut()) {
            (ChunkTree::Item(item), None) => file.items.push(shifted(item, by)),
            (ChunkTree::PipelineHead(head), None) => open = Some((shifted(head, by), chunk.start, Vec::new())),
            (ChunkTree::Statements(stmts), Some((_, _, body))) => {
                body.extend(stmts.into_iter().map(|s| shifted(s, by)))
            }
            (ChunkTree::PipelineEnd, Some(_)) => {
                if let Some((head, start, body)) = open.take() {
                    file.items.push(Item::Pipeline(head.into_pipeline(body, Span::new(start, chunk.start + 1))));
                }
            }
            // Chunks come in the order `chunks` makes them; anything else is a bug, and the
            // whole-file parse is always right.
            _ => return crate::parse_whole(text),
        }
    }
    if open.is_some() {
        return crate::parse_whole(text);
    }
    kfl_diagnostics::sort(&mut errors);
    Parse { file, errors, comments: scan.comments, broken_items: Vec::new() }
}

/// Words that may start a line of a pipeline body without starting a statement: cutting before
/// them would only make the chunk before fail and the whole file be parsed again.
const CONTINUATIONS: [&str; 13] = [
    "and",
    "or",
    "not",
    "else",
    "in",
    "parallel",
    "true",
    "false",
    "input",
    "import",
    "artifact",
    "component",
    "pipeline",
];

/// The chunks of the pipeline in `text[start..end]`.
fn pipeline_chunks(text: &str, start: usize, end: usize, out: &mut Vec<Chunk>) -> Option<()> {
    let bytes = &text.as_bytes()[..end];
    let mut lexer = Lexer { text: &text[..end], i: start, depth: 0 };
    // The head: up to the first `{` outside brackets.
    let open = loop {
        match lexer.next()? {
            Token::Open(b'{') if lexer.depth == 1 => break lexer.i,
            _ => continue,
        }
    };
    out.push(Chunk { kind: ChunkKind::PipelineHead, start, end: open });
    let mut piece_start = open;
    // Where the run of doc comments that precedes the current line starts.
    let mut doc_run: Option<usize> = None;
    let mut line_start = false;
    loop {
        let at = lexer.skip_blanks(&mut line_start);
        if at >= bytes.len() {
            return None;
        }
        if line_start && lexer.depth == 1 {
            let rest = &text[at..end];
            if rest.starts_with("///") && !rest.starts_with("////") {
                doc_run.get_or_insert(at);
            } else if rest.starts_with("//") {
                // A plain comment neither starts nor ends a run of doc comments.
            } else if bytes[at].is_ascii_alphabetic() || bytes[at] == b'_' {
                let word_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
                if !CONTINUATIONS.contains(&&rest[..word_end]) {
                    let cut = doc_run.take().unwrap_or(at);
                    if cut > piece_start {
                        out.push(Chunk { kind: ChunkKind::Statements, start: piece_start, end: cut });
                        piece_start = cut;
                    }
                }
                doc_run = None;
            } else {
                doc_run = None;
            }
        }
        line_start = false;
        if let Token::Close(b'}') = lexer.next()? {
            if lexer.depth == 0 {
                let close = lexer.i - 1;
                out.push(Chunk { kind: ChunkKind::Statements, start: piece_start, end: close });
                out.push(Chunk { kind: ChunkKind::PipelineEnd, start: close, end });
                return Some(());
            }
        }
    }
}

enum Token {
    Open(u8),
    Close(u8),
    Other,
}

/// Just enough of a lexer to find brackets outside strings and comments (as `scan` does).
struct Lexer<'t> {
    text: &'t str,
    i: usize,
    depth: usize,
}

impl Lexer<'_> {
    /// Skips blanks, noting whether a line break was passed; returns where the next token starts.
    fn skip_blanks(&mut self, line_start: &mut bool) -> usize {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.i) {
            match b {
                b'\n' => *line_start = true,
                b' ' | b'\t' | b'\r' => {}
                _ => break,
            }
            self.i += 1;
        }
        self.i
    }

    /// The next token (after blanks). `None` at the end, or at a string that does not end.
    fn next(&mut self) -> Option<Token> {
        let mut line_start = false;
        self.skip_blanks(&mut line_start);
        let bytes = self.text.as_bytes();
        let rest = self.text.get(self.i..)?;
        let b = *bytes.get(self.i)?;
        if rest.starts_with("//") {
            self.i += rest.find('\n').unwrap_or(rest.len());
            return Some(Token::Other);
        }
        if let Some(body) = rest.strip_prefix("\"\"\"") {
            self.i += 3 + body.find("\"\"\"")? + 3;
            return Some(Token::Other);
        }
        if b == b'"' {
            self.i += 1;
            loop {
                match bytes.get(self.i)? {
                    b'\n' => return None,
                    b'"' => {
                        self.i += 1;
                        return Some(Token::Other);
                    }
                    b'\\' if bytes.get(self.i + 1).is_some_and(|&c| c != b'\n') => self.i += 2,
                    _ => self.i += 1,
                }
            }
        }
        self.i += rest.chars().next().map_or(1, char::len_utf8);
        Some(match b {
            b'(' | b'[' | b'{' => {
                self.depth += 1;
                Token::Open(b)
            }
            b')' | b']' | b'}' => {
                self.depth = self.depth.checked_sub(1)?;
                Token::Close(b)
            }
            _ => Token::Other,
        })
    }
}

/// Blanks and plain comments only (a `///` doc comment belongs to what follows it).
fn is_trivia(text: &str) -> bool {
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if !rest.starts_with("//") || (rest.starts_with("///") && !rest.starts_with("////")) {
            return false;
        }
        rest = rest.find('\n').map_or("", |n| &rest[n..]).trim_start();
    }
    true
}

/// The first word of an item's text, after its doc comments.
fn first_word(text: &str) -> Option<&str> {
    let mut rest = text.trim_start();
    while rest.starts_with("//") {
        rest = rest.find('\n').map_or("", |n| &rest[n..]).trim_start();
    }
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

fn shifted<T: Shift>(mut node: T, by: u32) -> T {
    node.shift(by);
    node
}

/// Moves every span of a node `by` bytes to the right.
pub trait Shift {
    fn shift(&mut self, by: u32);
}

impl Shift for Span {
    fn shift(&mut self, by: u32) {
        self.start += by;
        self.end += by;
    }
}

impl<T: Shift> Shift for Vec<T> {
    fn shift(&mut self, by: u32) {
        for node in self {
            node.shift(by);
        }
    }
}

impl<T: Shift> Shift for Option<T> {
    fn shift(&mut self, by: u32) {
        if let Some(node) = self {
            node.shift(by);
        }
    }
}

impl<T: Shift> Shift for Box<T> {
    fn shift(&mut self, by: u32) {
        (**self).shift(by);
    }
}

/// `Shift` for a struct: shifts the listed fields (the others hold no span).
macro_rules! shift_fields {
    ($($ty:ident { $($field:ident),* })*) => {
        $(impl Shift for $ty {
            fn shift(&mut self, by: u32) {
                $(self.$field.shift(by);)*
            }
        })*
    };
}

shift_fields! {
    Label { span }
    Ident { span }
    Doc { span }
    Import { doc, target, span }
    ArtifactDecl { doc, name, base, span }
    Component { doc, name, members, span }
    Member { doc, kind, span }
    Param { doc, name, ty, default, span }
    OutputSig { name, ty, span }
    Script { lang_span, source, span }
    Field { name, value, span }
    KvBlock { name, entries, span }
    KvEntry { key, value, span }
    TypeExpr { name, args, span }
    Pipeline { doc, name, params, body, params_span, span }
    PipelineHead { doc, name, params, params_span }
    Stmt { doc, kind, span }
    TaskStmt { binding, call, overrides }
    TaskBlock { members, span }
    IfStmt { cond, then, otherwise, span }
    ForStmt { var, iterable, parallel, body, span }
    Block { stmts, span }
    PipelineOutput { name, ty, value }
    Call { callee, args, span }
    Arg { name, value, span }
    Expr { kind, span }
    MapEntry { key, value, span }
    StrLit { span }
}

impl Shift for Diagnostic {
    fn shift(&mut self, by: u32) {
        self.primary.shift(by);
        // Labels in other files keep their place.
        for label in self.secondary.iter_mut().filter(|l| l.path.is_none()) {
            label.shift(by);
        }
    }
}

impl Shift for Item {
    fn shift(&mut self, by: u32) {
        match self {
            Item::Import(it) => it.shift(by),
            Item::Artifact(it) => it.shift(by),
            Item::Component(it) => it.shift(by),
            Item::Pipeline(it) => it.shift(by),
        }
    }
}

impl Shift for ImportTarget {
    fn shift(&mut self, by: u32) {
        match self {
            ImportTarget::Path(s) => s.shift(by),
            ImportTarget::Module(parts) => parts.shift(by),
        }
    }
}

impl Shift for MemberKind {
    fn shift(&mut self, by: u32) {
        match self {
            MemberKind::Input(it) => it.shift(by),
            MemberKind::Output(it) => it.shift(by),
            MemberKind::Script(it) => it.shift(by),
            MemberKind::Block(it) => it.shift(by),
            MemberKind::Field(it) => it.shift(by),
        }
    }
}

impl Shift for Key {
    fn shift(&mut self, by: u32) {
        match self {
            Key::Ident(it) => it.shift(by),
            Key::Str(it) => it.shift(by),
        }
    }
}

impl Shift for StmtKind {
    fn shift(&mut self, by: u32) {
        match self {
            StmtKind::Task(it) => it.shift(by),
            StmtKind::Field(it) => it.shift(by),
            StmtKind::If(it) => it.shift(by),
            StmtKind::For(it) => it.shift(by),
            StmtKind::Finally(it) => it.shift(by),
            StmtKind::Output(it) => it.shift(by),
        }
    }
}

impl Shift for TaskMember {
    fn shift(&mut self, by: u32) {
        match self {
            TaskMember::Block(it) => it.shift(by),
            TaskMember::Field(it) => it.shift(by),
        }
    }
}

impl Shift for Else {
    fn shift(&mut self, by: u32) {
        match self {
            Else::If(it) => it.shift(by),
            Else::Block(it) => it.shift(by),
        }
    }
}

impl Shift for ExprKind {
    fn shift(&mut self, by: u32) {
        match self {
            ExprKind::Str(it) => it.shift(by),
            ExprKind::Number(_) | ExprKind::Bool(_) => {}
            ExprKind::List(items) => items.shift(by),
            ExprKind::Map(entries) => entries.shift(by),
            ExprKind::Path(parts) => parts.shift(by),
            ExprKind::Field(base, name) => {
                base.shift(by);
                name.shift(by);
            }
            ExprKind::Call(call) => call.shift(by),
            ExprKind::Not(operand) => operand.shift(by),
            ExprKind::Binary(_, op, lhs, rhs) => {
                op.shift(by);
                lhs.shift(by);
                rhs.shift(by);
            }
            ExprKind::Paren(inner) => inner.shift(by),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(ChunkKind, &str)> {
        let scan = scan::scan(text);
        chunks(text, &scan).unwrap_or_default().into_iter().map(|c| (c.kind, &text[c.start..c.end])).collect()
    }

    #[test]
    fn a_pipeline_is_cut_before_each_statement_and_its_doc_comments() {
        let text = "component a { image = \"x\" }\n/// P.\npipeline p(n: Int = f(1)) {\n    x = a()\n    /// Doc.\n    // plain\n    y = a() {\n        cpu = 1\n    }\n    if n > 1 {\n        z = a()\n    }\n    else { w = a() }\n}\n// end\n";
        use ChunkKind::*;
        assert_eq!(
            kinds(text),
            vec![
                (Item, "component a { image = \"x\" }\n"),
                (PipelineHead, "/// P.\npipeline p(n: Int = f(1)) {"),
                (Statements, "\n    "),
                (Statements, "x = a()\n    "),
                (Statements, "/// Doc.\n    // plain\n    y = a() {\n        cpu = 1\n    }\n    "),
                (Statements, "if n > 1 {\n        z = a()\n    }\n    else { w = a() }\n"),
                (PipelineEnd, "}\n// end\n"),
            ]
        );
    }

    #[test]
    fn strings_and_comments_hide_brackets() {
        let text = "pipeline p() {\n    x = a(s: \"}\") // }\n    y = b(s: \"\"\"\n}\n\"\"\")\n}\n";
        let got = kinds(text);
        assert_eq!(got.last().map(|c| c.1), Some("}\n"));
        assert_eq!(got.len(), 5, "{got:#?}");
    }

    #[test]
    fn text_before_the_first_item_or_a_string_that_never_ends_is_not_cut() {
        for text in ["x\ncomponent a { }", "/// dangling\n// plain\ncomponent a { }"] {
            assert_eq!(chunks(text, &scan::scan(text)), None, "{text}");
        }
        let text = "pipeline p() {\n    x = a(s: \"}\n}\n";
        assert_eq!(chunks(text, &scan::scan(text)), None);
    }
}

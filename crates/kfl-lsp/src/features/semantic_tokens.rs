//! Semantic tokens (full document): the lexer's tokens, with names classified by what they are in
//! the checker's model (components, pipelines and everything in them), else in the file's index
//! (artifact types, built-in types, imports, names in component commands).

use kfl_check::items::{file_exports, Export};
use kfl_check::types::{BUILTIN_ARTIFACTS, PARAMETER_TYPES};
use kfl_diagnostics::Span;
use tower_lsp_server::ls_types::{SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokensLegend};

use super::Ctx;
use crate::index::{file_index, Occurrence, Role, Symbol};
use crate::lexer::TokenKind;

const KEYWORD: u32 = 0;
const TYPE: u32 = 1;
const CLASS: u32 = 2;
const FUNCTION: u32 = 3;
const PARAMETER: u32 = 4;
const PROPERTY: u32 = 5;
const VARIABLE: u32 = 6;
const STRING: u32 = 7;
const NUMBER: u32 = 8;
const COMMENT: u32 = 9;
const OPERATOR: u32 = 10;
const NAMESPACE: u32 = 11;

const DECLARATION: u32 = 1 << 0;
const DEFAULT_LIBRARY: u32 = 1 << 1;
const DOCUMENTATION: u32 = 1 << 2;

pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: vec![
            SemanticTokenType::KEYWORD,
            SemanticTokenType::TYPE,
            SemanticTokenType::CLASS,
            SemanticTokenType::FUNCTION,
            SemanticTokenType::PARAMETER,
            SemanticTokenType::PROPERTY,
            SemanticTokenType::VARIABLE,
            SemanticTokenType::STRING,
            SemanticTokenType::NUMBER,
            SemanticTokenType::COMMENT,
            SemanticTokenType::OPERATOR,
            SemanticTokenType::NAMESPACE,
        ],
        token_modifiers: vec![
            SemanticTokenModifier::DECLARATION,
            SemanticTokenModifier::DEFAULT_LIBRARY,
            SemanticTokenModifier::DOCUMENTATION,
        ],
    }
}

pub fn semantic_tokens(ctx: &Ctx<'_>) -> Vec<SemanticToken> {
    let db = ctx.db;
    let file = ctx.file;
    let text = file.text(db).as_str();
    let occurrences = &file_index(db, file).occurrences;
    let from_model = model_classes(db, file);
    let exports = file_exports(db, file);
    let tokens = crate::lexer::file_tokens(db, file);
    // The tokens, the occurrences and the model's names are all in order of position, so each name
    // is looked up by moving forward through the other two, and each position is found by moving
    // forward from the last one.
    let (mut in_index, mut in_model) = (0, 0);
    let mut cursor = Cursor::default();
    let mut out = Vec::with_capacity(tokens.len());
    let mut last = (0u32, 0u32);
    for (i, token) in tokens.iter().enumerate() {
        let word = token.text(text);
        let key = (token.span.start, token.span.end);
        let (ty, modifiers) = match token.kind {
            TokenKind::Keyword => (KEYWORD, 0),
            TokenKind::Comment => (COMMENT, 0),
            TokenKind::DocComment => (COMMENT, DOCUMENTATION),
            TokenKind::String | TokenKind::TripleString => (STRING, 0),
            TokenKind::Number => (NUMBER, 0),
            TokenKind::Punct if matches!(word, "==" | "!=" | "<=" | ">=" | "<" | ">") => (OPERATOR, 0),
            TokenKind::Punct | TokenKind::Unknown => continue,
            TokenKind::Ident => match last_at(&from_model, &mut in_model, key, |c| c.0, |_| true) {
                Some(&(_, class)) => class,
                None => {
                    let occurrence = last_at(occurrences, &mut in_index, key, span_key, |o| o.role != Role::Mention);
                    let next = || tokens[i + 1..].iter().find(|t| !t.is_trivia()).map(|t| t.text(text));
                    ident_class(db, file, exports, occurrence, word, next)
                }
            },
        };
        let start = cursor.advance(text, token.span.start as usize);
        push_token(text, token.span, start, ty, modifiers, &mut last, &mut out);
    }
    out
}

fn span_key(o: &Occurrence) -> (u32, u32) {
    (o.span.start, o.span.end)
}

/// The last of the entries whose key is `key` and that are `wanted`, as a map built from the
/// entries in turn would hold, in entries sorted by key (stably). Starts at `*at` and moves it past
/// the keys before `key`: the keys asked for must not decrease.
fn last_at<'a, T>(
    entries: &'a [T],
    at: &mut usize,
    key: (u32, u32),
    key_of: impl Fn(&T) -> (u32, u32),
    wanted: impl Fn(&T) -> bool,
) -> Option<&'a T> {
    while entries.get(*at).is_some_and(|e| key_of(e) < key) {
        *at += 1;
    }
    entries[*at..].iter().take_while(|e| key_of(e) == key).filter(|e| wanted(e)).last()
}

/// A position in a text (line, and column in UTF-16 units) found from the one before it: what lies
/// between them is scanned once, not searched again from the line's start for every token (a long
/// line with many tokens made that quadratic).
#[derive(Default)]
struct Cursor {
    offset: usize,
    line: u32,
    column: u32,
}

impl Cursor {
    /// The position of a byte offset (clamped to the text and to a character boundary, as
    /// `LineIndex::line_col` does); an offset before the last one starts again from the top.
    fn advance(&mut self, text: &str, offset: usize) -> (u32, u32) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        if offset < self.offset {
            *self = Cursor::default();
        }
        let between = &text.as_bytes()[self.offset..offset];
        match memchr::memrchr(b'\n', between) {
            Some(last_newline) => {
                self.line += memchr::memchr_iter(b'\n', between).count() as u32;
                self.column = utf16_len(&between[last_newline + 1..]);
            }
            None => self.column += utf16_len(between),
        }
        self.offset = offset;
        (self.line, self.column)
    }
}

/// The length in UTF-16 units of whole UTF-8 characters: one unit for each character (each byte
/// that does not continue one) and a second for each of four bytes (a surrogate pair).
fn utf16_len(bytes: &[u8]) -> u32 {
    bytes.iter().map(|&b| u32::from(b & 0xC0 != 0x80) + u32::from(b >= 0xF0)).sum()
}

/// Token classes of the names the model holds (components, pipelines, their inputs, outputs,
/// tasks, arguments, loop variables and the names read in pipeline bodies): (span, class) sorted
/// by span, where a span given more than one class has them in the order they were given (the last
/// one counts), as [`last_at`] reads them.
type Classes = Vec<((u32, u32), (u32, u32))>;

fn model_classes(db: &dyn kfl_check::Db, file: kfl_check::SourceFile) -> Classes {
    use kfl_model::item::{Expr, ExprKind, Stmt};
    fn expr(e: &Expr, out: &mut Classes) {
        let mut put = |i: usize, class: u32| {
            if let Some(span) = e.parts.get(i) {
                out.push(((span.start, span.end), (class, 0)));
            }
        };
        match &e.kind {
            ExprKind::Param(_) => put(0, PARAMETER),
            ExprKind::LoopVar { .. } => put(0, VARIABLE),
            ExprKind::Output { .. } => {
                put(0, VARIABLE);
                put(1, PROPERTY);
            }
            ExprKind::Not(inner) => expr(inner, out),
            ExprKind::And(l, r) | ExprKind::Or(l, r) | ExprKind::Compare(_, l, r) => {
                expr(l, out);
                expr(r, out);
            }
            ExprKind::Value(_) => {}
        }
    }
    fn stmts(body: &[Stmt], out: &mut Classes) {
        for stmt in body {
            match stmt {
                Stmt::Task(t) => {
                    if t.name_span != t.callee_span {
                        out.push(((t.name_span.start, t.name_span.end), (VARIABLE, DECLARATION)));
                    }
                    out.push(((t.callee_span.start, t.callee_span.end), (FUNCTION, 0)));
                    for arg in &t.args {
                        out.push(((arg.name_span.start, arg.name_span.end), (PARAMETER, 0)));
                        expr(&arg.value, out);
                    }
                    for span in &t.after_spans {
                        out.push(((span.start, span.end), (VARIABLE, 0)));
                    }
                }
                Stmt::If(i) => {
                    for branch in &i.branches {
                        if let Some(cond) = &branch.cond {
                            expr(cond, out);
                        }
                        stmts(&branch.body, out);
                    }
                }
                Stmt::For(l) => {
                    out.push(((l.var_span.start, l.var_span.end), (VARIABLE, DECLARATION)));
                    expr(&l.items, out);
                    stmts(&l.body, out);
                }
                Stmt::Finally(f) => stmts(&f.body, out),
            }
        }
    }
    let model = kfl_check::model::file_model(db, file);
    let mut out = Classes::new();
    let mut decl = |span: Span, class: u32| {
        out.push(((span.start, span.end), (class, DECLARATION)));
    };
    for c in &model.components {
        decl(c.name_span, FUNCTION);
        c.inputs.iter().for_each(|i| decl(i.name_span, PARAMETER));
        c.outputs.iter().for_each(|o| decl(o.name_span, PROPERTY));
    }
    for p in &model.pipelines {
        decl(p.name_span, FUNCTION);
        p.params.iter().for_each(|i| decl(i.name_span, PARAMETER));
        p.outputs.iter().for_each(|o| decl(o.name_span, PROPERTY));
    }
    for p in &model.pipelines {
        stmts(&p.body, &mut out);
        p.outputs.iter().for_each(|o| expr(&o.value, &mut out));
    }
    // Stable, so that the classes of one span stay in the order they were given; the spans come
    // nearly in order already (declarations, then bodies), which this sort finds quickly.
    out.sort_by_key(|&(span, _)| span);
    out
}

/// Adds a token that starts at `start` (line, UTF-16 column), one piece per line (LSP tokens do not
/// span lines), in UTF-16 units.
fn push_token(
    text: &str,
    span: Span,
    start: (u32, u32),
    ty: u32,
    modifiers: u32,
    last: &mut (u32, u32),
    out: &mut Vec<SemanticToken>,
) {
    let body = text.get(span.range()).unwrap_or("");
    let mut push = |line: u32, column: u32, piece: &str| {
        let piece = piece.strip_suffix('\r').unwrap_or(piece);
        let length = utf16_len(piece.as_bytes());
        if length == 0 {
            return;
        }
        let delta_line = line - last.0;
        let delta_start = if delta_line == 0 { column - last.1 } else { column };
        out.push(SemanticToken { delta_line, delta_start, length, token_type: ty, token_modifiers_bitset: modifiers });
        *last = (line, column);
    };
    if memchr::memchr(b'\n', body.as_bytes()).is_none() {
        push(start.0, start.1, body);
        return;
    }
    for (n, piece) in body.split('\n').enumerate() {
        push(start.0 + n as u32, if n == 0 { start.1 } else { 0 }, piece);
    }
}

/// The class of a name the model does not classify: from its occurrence in the file's index,
/// else from the word itself and the token after it (`next`).
fn ident_class<'t>(
    db: &dyn kfl_check::Db,
    file: kfl_check::SourceFile,
    exports: &kfl_check::items::Exports,
    occurrence: Option<&Occurrence>,
    word: &str,
    next: impl FnOnce() -> Option<&'t str>,
) -> (u32, u32) {
    let Some(o) = occurrence else {
        return if matches!(word, "python" | "sh") {
            (KEYWORD, 0)
        } else if word == "secret" {
            (FUNCTION, DEFAULT_LIBRARY)
        } else if PARAMETER_TYPES.contains(&word) || BUILTIN_ARTIFACTS.contains(&word) {
            (TYPE, DEFAULT_LIBRARY)
        } else if matches!(next(), Some("=") | Some("{") | Some(":")) {
            (PROPERTY, 0)
        } else {
            (VARIABLE, 0)
        };
    };
    let declaration = if matches!(o.role, Role::Decl) { DECLARATION } else { 0 };
    match &o.symbol {
        Symbol::Item { file: of, name } => {
            let export = if *of == file { exports.items.get(name) } else { file_exports(db, *of).items.get(name) };
            match export {
                Some(Export::Artifact { .. }) => (CLASS, declaration),
                _ => (FUNCTION, declaration),
            }
        }
        Symbol::Input { .. } => (PARAMETER, declaration),
        Symbol::Output { .. } => (PROPERTY, declaration),
        Symbol::Task { .. } | Symbol::LoopVar { .. } => (VARIABLE, declaration),
        Symbol::BuiltinType(_) => (TYPE, DEFAULT_LIBRARY),
        Symbol::File(_) => (NAMESPACE, 0),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::fmt::Write;

    use super::*;
    use crate::convert::{ClientSupport, UriMap};

    /// The algorithm before positions were found in order and names merged by position: a map by
    /// span of the occurrences and of the model's classes, and a search for every position.
    fn reference(ctx: &Ctx<'_>) -> Vec<SemanticToken> {
        let text = ctx.text();
        let index = file_index(ctx.db, ctx.file);
        let by_span: HashMap<(u32, u32), &crate::index::Occurrence> = index
            .occurrences
            .iter()
            .filter(|o| o.role != Role::Mention)
            .map(|o| ((o.span.start, o.span.end), o))
            .collect();
        // The model's classes, last one per span winning, as the map they were inserted in held them.
        let from_model: HashMap<(u32, u32), (u32, u32)> = model_classes(ctx.db, ctx.file).into_iter().collect();
        let exports = file_exports(ctx.db, ctx.file);
        let tokens = crate::lexer::file_tokens(ctx.db, ctx.file);
        let mut out = Vec::new();
        let mut last = (0u32, 0u32);
        for (i, token) in tokens.iter().enumerate() {
            let word = token.text(text);
            let (ty, modifiers) = match token.kind {
                TokenKind::Keyword => (KEYWORD, 0),
                TokenKind::Comment => (COMMENT, 0),
                TokenKind::DocComment => (COMMENT, DOCUMENTATION),
                TokenKind::String | TokenKind::TripleString => (STRING, 0),
                TokenKind::Number => (NUMBER, 0),
                TokenKind::Punct if matches!(word, "==" | "!=" | "<=" | ">=" | "<" | ">") => (OPERATOR, 0),
                TokenKind::Punct | TokenKind::Unknown => continue,
                TokenKind::Ident if from_model.contains_key(&(token.span.start, token.span.end)) => {
                    from_model[&(token.span.start, token.span.end)]
                }
                TokenKind::Ident => {
                    let occurrence = by_span.get(&(token.span.start, token.span.end)).copied();
                    let next = || tokens[i + 1..].iter().find(|t| !t.is_trivia()).map(|t| t.text(text));
                    ident_class(ctx.db, ctx.file, exports, occurrence, word, next)
                }
            };
            reference_push(ctx, token.span, ty, modifiers, &mut last, &mut out);
        }
        out
    }

    fn reference_push(
        ctx: &Ctx<'_>,
        span: Span,
        ty: u32,
        modifiers: u32,
        last: &mut (u32, u32),
        out: &mut Vec<SemanticToken>,
    ) {
        let text = ctx.text();
        let start = ctx.lines.position(span.start as usize);
        let body = text.get(span.range()).unwrap_or("");
        for (n, piece) in body.split('\n').enumerate() {
            let piece = piece.strip_suffix('\r').unwrap_or(piece);
            let length = piece.encode_utf16().count() as u32;
            let line = start.line + n as u32;
            let column = if n == 0 { start.character } else { 0 };
            if length == 0 {
                continue;
            }
            let delta_line = line - last.0;
            let delta_start = if delta_line == 0 { column - last.1 } else { column };
            out.push(SemanticToken {
                delta_line,
                delta_start,
                length,
                token_type: ty,
                token_modifiers_bitset: modifiers,
            });
            *last = (line, column);
        }
    }

    /// A project whose text has what positions get wrong: multi-byte and astral characters
    /// (before tokens on the same line, in comments, strings and scripts), CRLF line ends,
    /// multi-line strings, long lines with many tokens, names from another file, and text that
    /// does not parse.
    fn project() -> (kfl_check::Database, kfl_check::SourceFile) {
        let mut db = kfl_check::Database::default();
        db.set_file("/p/lib.kfl", "/// Bibliothèque 𝄞\r\nartifact Weights\r\ncomponent shared {\r\n  image = \"a:1\"\r\n  input w: Weights\r\n  output o: Dataset\r\n  sh \"echo $w $o ✓\"\r\n}\r\n".to_string());
        let mut text = String::from("import \"lib.kfl\"\r\n");
        for i in 0..40 {
            let nl = if i % 3 == 0 { "\r\n" } else { "\n" };
            let _ = write!(
                text,
                "/// Étape {i} — 𝄞😀 中文{nl}component step_{i} {{{nl}  image = \"python:3.11-é😀\"{nl}  \
                 packages = [{}]{nl}  input data: Dataset{nl}  input scale: Float = 1.0 // ½ 𝄞{nl}  \
                 output out: Dataset{nl}  python \"\"\"{nl}    x = '😀é'{nl}    print(data, scale, out) # 𝄞{nl}  \"\"\"{nl}}}{nl}",
                (0..30).map(|k| format!("\"p{k}-é𝄞\"")).collect::<Vec<_>>().join(", "),
            );
        }
        text.push_str("pipeline big(url: String, n: Int = 3) {\r\n  t_0 = shared(w: url)\r\n");
        for i in 1..200 {
            let _ = write!(
                text,
                "  t_{i} = step_{}(data: t_{}.out, scale: 1.5) // é{}\r\n",
                i % 40,
                i - 1,
                "𝄞".repeat(i % 7)
            );
        }
        // A long line of many tokens after astral characters.
        text.push_str("  /* 😀😀 */ t_x = step_1(data: t_0.o, scale: 2.0)");
        for k in 0..500 {
            let _ = write!(text, " \"é{k}𝄞\" t_{k}.out == <= >= != < > 12 ↯");
        }
        text.push_str("\r\n  for item in [1, 2, 3] {\r\n    t_loop = step_2(data: t_1.out, scale: item)\r\n  }\r\n");
        text.push_str("  if n > 2 {\r\n    t_if = step_3(data: t_2.out)\r\n  }\r\n  output final = t_199.out\r\n}\r\n");
        text.push_str(
            "component broken { image = \"é\r\n  input x: Int = secret(\"k😀\")\r\n\"\"\"open 𝄞\r\n\r\nstill open",
        );
        let main = db.set_file("/p/main.kfl", text);
        (db, main)
    }

    #[test]
    fn same_tokens_as_the_search_by_span() {
        let (db, main) = project();
        let uris = UriMap::default();
        let ctx = Ctx::new(&db, main, &uris, ClientSupport::default());
        let ours = semantic_tokens(&ctx);
        assert!(ours.len() > 5_000, "{} tokens", ours.len());
        assert_eq!(ours, reference(&ctx));
        let lib = db.file("/p/lib.kfl").expect("lib is loaded");
        let ctx = Ctx::new(&db, lib, &uris, ClientSupport::default());
        assert_eq!(semantic_tokens(&ctx), reference(&ctx));
    }

    #[test]
    fn cursor_agrees_with_line_starts() {
        let text = "a\r\né𝄞x\n\n中 😀b\r\n\r\nend";
        let lines = kfl_diagnostics::LineIndex::new(text);
        let mut cursor = Cursor::default();
        // Forward (with offsets inside characters, and past the end), then backward.
        for offset in (0..=text.len() + 2).chain((0..text.len()).rev()) {
            let at = lines.line_col(text, offset);
            assert_eq!(cursor.advance(text, offset), (at.line, at.column_utf16), "at {offset}");
        }
    }
}

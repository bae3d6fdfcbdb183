//! Where the cursor is, read from tokens: what completion and signature help need while a file is
//! being typed, when the item around the cursor usually does not parse.
//!
//! The reading is a bracket walk from the start of the item around the cursor: each `{`, `(` and `[`
//! opens a frame whose kind is told by the tokens before it (`component x {`, `resources {`,
//! `train(`, `) {` after a call, …), and within a frame the tokens of the current statement (since
//! the last `,`, or since the last line break after a complete statement) tell the position. It is a
//! heuristic over a language without statement terminators, tuned for the canonical layout.

use std::collections::BTreeMap;

use kfl_diagnostics::Span;

use crate::lexer::{Token, TokenKind};

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FrameKind {
    TopLevel,
    ComponentBody,
    PipelineParams,
    PipelineBody,
    /// The body of `if`, `else`, `for` (with its variable) or `finally`.
    Block {
        loop_var: Option<String>,
    },
    TaskOverrides,
    KvBlock {
        name: String,
    },
    Call {
        callee: String,
        /// Byte offset of the `(`.
        open: usize,
    },
    List,
    Map,
    Paren,
}

impl FrameKind {
    fn is_statement_list(&self) -> bool {
        matches!(
            self,
            FrameKind::TopLevel
                | FrameKind::ComponentBody
                | FrameKind::PipelineBody
                | FrameKind::Block { .. }
                | FrameKind::TaskOverrides
                | FrameKind::KvBlock { .. }
        )
    }
    fn closer(&self) -> &'static str {
        match self {
            FrameKind::PipelineParams | FrameKind::Call { .. } | FrameKind::Paren => ")",
            FrameKind::List => "]",
            _ => "}",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Frame {
    pub kind: FrameKind,
    /// Tokens of the current statement or argument in this frame; a nested bracket group appears as
    /// its opening and closing tokens.
    pub stmt: Vec<Token>,
    /// Keys or argument names already written in this frame (for `resources` and calls).
    pub written: Vec<String>,
}

/// The kind of item around the cursor, with what its tokens declare.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Outline {
    /// `component`, `pipeline`, `artifact`, `import`, or empty before any item keyword.
    pub keyword: String,
    pub name: Option<String>,
    /// Component inputs or pipeline parameters: name → type as written.
    pub inputs: Vec<(String, String)>,
    /// Component outputs: name → type as written.
    pub outputs: Vec<(String, String)>,
    /// Pipeline tasks: name → callee.
    pub tasks: BTreeMap<String, String>,
    /// Defaults of inputs or parameters, as written: name → text.
    pub defaults: BTreeMap<String, String>,
    /// The item's doc comment.
    pub doc: Option<String>,
    pub span: Span,
}

/// The outlines of every item of a file, read from its tokens (items that do not parse included).
#[salsa::tracked(returns(ref))]
pub fn file_outlines(db: &dyn kfl_check::Db, file: kfl_check::SourceFile) -> std::sync::Arc<Vec<Outline>> {
    let text = file.text(db);
    let tokens = crate::lexer::file_tokens(db, file);
    let mut starts = crate::lexer::item_starts(text, tokens);
    starts.push(text.len());
    let mut out = Vec::new();
    for window in starts.windows(2) {
        let span = Span::new(window[0], window[1].max(window[0]));
        let first = tokens.partition_point(|t| (t.span.start as usize) < window[0]);
        let last = tokens.partition_point(|t| (t.span.start as usize) < window[1]);
        out.push(outline(text, &tokens[first..last], span));
    }
    std::sync::Arc::new(out)
}

#[derive(Clone, Debug)]
pub struct Cursor<'t> {
    pub text: &'t str,
    pub offset: usize,
    /// The word being typed (an identifier, or the unit after a number) and its span.
    pub prefix: Span,
    /// The number whose unit is being typed, if the cursor is right after one.
    pub number: Option<Token>,
    /// The cursor is in a comment or a string (`import` strings aside).
    pub in_trivia: bool,
    /// The cursor is in the string of an `import`.
    pub in_import_string: Option<Token>,
    /// Open frames, outermost first; never empty (the first is the top level).
    pub frames: Vec<Frame>,
    pub outline: std::borrow::Cow<'t, Outline>,
    /// The cursor starts a new line after a block's `}` (where `else` may follow).
    pub after_block: bool,
}

impl<'t> Cursor<'t> {
    pub fn innermost(&self) -> &Frame {
        // `frames` always holds the top level.
        &self.frames[self.frames.len() - 1]
    }

    /// The last token before the word being typed.
    pub fn previous(&self) -> Option<&Token> {
        self.innermost().stmt.last()
    }

    pub fn tok(&self, token: &Token) -> &'t str {
        token.text(self.text)
    }

    /// The current statement's tokens as text.
    pub fn stmt_texts(&self) -> Vec<&'t str> {
        self.innermost().stmt.iter().map(|t| t.text(self.text)).collect()
    }

    /// Loop variables of the enclosing `for` blocks.
    pub fn loop_vars(&self) -> Vec<&str> {
        self.frames
            .iter()
            .filter_map(|f| match &f.kind {
                FrameKind::Block { loop_var: Some(v) } => Some(v.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The innermost call the cursor is in the parentheses of, with the frame.
    pub fn enclosing_call(&self) -> Option<&Frame> {
        self.frames.iter().rev().find(|f| matches!(f.kind, FrameKind::Call { .. }))
    }
}

/// Where the item around `offset` starts and ends.
pub fn item_bounds(text: &str, tokens: &[Token], offset: usize) -> Span {
    let starts = crate::lexer::item_starts(text, tokens);
    let start = starts.iter().copied().filter(|&s| s < offset).max().unwrap_or(0);
    let end = starts.iter().copied().find(|&s| s >= offset.max(start + 1)).unwrap_or(text.len());
    Span::new(start, end.max(start))
}

/// Reads the cursor's context from a text's tokens.
pub fn analyze<'t>(text: &'t str, all_tokens: &[Token], offset: usize) -> Cursor<'t> {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let bounds = item_bounds(text, all_tokens, offset);
    let first = all_tokens.partition_point(|t| t.span.start < bounds.start);
    let last = all_tokens.partition_point(|t| t.span.start < bounds.end);
    let tokens = &all_tokens[first..last];
    let outline = outline(text, tokens, bounds);
    analyze_item(text, tokens, std::borrow::Cow::Owned(outline), offset)
}

/// Reads the cursor's context in a file of the database, from its memoized tokens and outlines.
pub fn analyze_file(db: &dyn kfl_check::Db, file: kfl_check::SourceFile, offset: usize) -> Cursor<'_> {
    let text = file.text(db);
    let all_tokens = crate::lexer::file_tokens(db, file);
    let outlines = file_outlines(db, file);
    let offset = floor_char_boundary(text, offset.min(text.len()));
    // The item whose start is the last one before the offset (as `item_bounds` reads it).
    let (bounds, outline) = match outlines.iter().rev().find(|o| (o.span.start as usize) < offset) {
        Some(o) => (o.span, std::borrow::Cow::Borrowed(o)),
        None => {
            let end = outlines.first().map_or(text.len(), |o| (o.span.start as usize).max(offset));
            let bounds = Span::new(0, end);
            (bounds, std::borrow::Cow::Owned(Outline { span: bounds, ..Outline::default() }))
        }
    };
    let first = all_tokens.partition_point(|t| t.span.start < bounds.start);
    let last = all_tokens.partition_point(|t| t.span.start < bounds.end);
    analyze_item(text, &all_tokens[first..last], outline, offset)
}

fn analyze_item<'t>(
    text: &'t str,
    tokens: &[Token],
    outline: std::borrow::Cow<'t, Outline>,
    offset: usize,
) -> Cursor<'t> {
    let mut cursor = Cursor {
        text,
        offset,
        prefix: Span::new(offset, offset),
        number: None,
        in_trivia: false,
        in_import_string: None,
        frames: Vec::new(),
        outline,
        after_block: false,
    };
    // The token the cursor is in or right after.
    let mut word_start = offset;
    for token in tokens {
        let (start, end) = (token.span.start as usize, token.span.end as usize);
        if start >= offset || end < offset {
            continue;
        }
        match token.kind {
            TokenKind::Ident | TokenKind::Keyword => {
                word_start = start;
                cursor.prefix = Span::new(start, offset);
            }
            TokenKind::Number => {
                let unit = start + crate::lexer::number_unit_start(token.text(text));
                if offset >= unit {
                    word_start = start;
                    cursor.number = Some(*token);
                    cursor.prefix = Span::new(unit, offset);
                }
            }
            TokenKind::Comment | TokenKind::DocComment => cursor.in_trivia = true,
            TokenKind::String | TokenKind::TripleString => {
                let closed = token.span.len() >= 2 && token.text(text).ends_with('"');
                if end > offset || !closed {
                    cursor.in_trivia = true;
                    word_start = start;
                    cursor.in_import_string = Some(*token);
                }
            }
            TokenKind::Punct | TokenKind::Unknown => {}
        }
    }
    let before: Vec<Token> =
        tokens.iter().copied().filter(|t| (t.span.end as usize) <= word_start && !t.is_trivia()).collect();
    cursor.frames = frames(text, &before);
    // On a new line after a complete statement, the next statement starts.
    let last_frame = cursor.frames.len() - 1;
    let frame = &mut cursor.frames[last_frame];
    if frame.kind.is_statement_list() {
        if let Some(last) = frame.stmt.last() {
            let gap = text.get(last.span.end as usize..word_start).unwrap_or("");
            if gap.contains('\n') && !continues(last, text) {
                cursor.after_block = last.text(text) == "}";
                frame.stmt.clear();
            }
        }
    }
    let in_import = cursor.innermost().kind == FrameKind::TopLevel
        && cursor.innermost().stmt.first().is_some_and(|t| t.is_keyword(text, "import"));
    if !in_import {
        cursor.in_import_string = None;
    }
    cursor
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Tokens after which a statement is not complete, so a line break does not end it.
fn continues(token: &Token, text: &str) -> bool {
    match token.kind {
        TokenKind::Punct => {
            matches!(token.text(text), "=" | ":" | "." | "," | "==" | "!=" | "<" | ">" | "<=" | ">=" | "!")
        }
        TokenKind::Keyword => matches!(
            token.text(text),
            "and"
                | "or"
                | "not"
                | "if"
                | "for"
                | "in"
                | "parallel"
                | "else"
                | "output"
                | "input"
                | "import"
                | "artifact"
                | "component"
                | "pipeline"
        ),
        _ => false,
    }
}

fn on_new_line(text: &str, previous: &Token, token: &Token) -> bool {
    text.get(previous.span.end as usize..token.span.start as usize).is_some_and(|gap| gap.contains('\n'))
}

fn frames(text: &str, tokens: &[Token]) -> Vec<Frame> {
    let mut frames = vec![Frame { kind: FrameKind::TopLevel, stmt: Vec::new(), written: Vec::new() }];
    let mut previous: Option<Token> = None;
    for token in tokens {
        let t = token.text(text);
        let len = frames.len();
        let frame = &mut frames[len - 1];
        // A line break after a complete statement starts the next one.
        if frame.kind.is_statement_list() && t != "{" {
            if let (Some(prev), Some(last)) = (previous, frame.stmt.last()) {
                if on_new_line(text, &prev, token) && !continues(last, text) {
                    frame.stmt.clear();
                }
            }
        }
        if frame.kind == FrameKind::TopLevel
            && token.kind == TokenKind::Keyword
            && matches!(t, "import" | "artifact" | "component" | "pipeline")
        {
            frame.stmt.clear();
        }
        previous = Some(*token);
        match (token.kind, t) {
            (TokenKind::Punct, "{") => {
                let kind = classify_brace(text, frame);
                frame.stmt.push(*token);
                frames.push(Frame { kind, stmt: Vec::new(), written: Vec::new() });
            }
            (TokenKind::Punct, "(") => {
                let kind = match (&frame.kind, frame.stmt.first(), frame.stmt.last()) {
                    (FrameKind::TopLevel, Some(first), _) if first.is_keyword(text, "pipeline") => {
                        FrameKind::PipelineParams
                    }
                    (_, _, Some(last)) if last.kind == TokenKind::Ident => {
                        FrameKind::Call { callee: last.text(text).to_string(), open: token.span.start as usize }
                    }
                    _ => FrameKind::Paren,
                };
                frame.stmt.push(*token);
                frames.push(Frame { kind, stmt: Vec::new(), written: Vec::new() });
            }
            (TokenKind::Punct, "[") => {
                frame.stmt.push(*token);
                frames.push(Frame { kind: FrameKind::List, stmt: Vec::new(), written: Vec::new() });
            }
            (TokenKind::Punct, closer @ ("}" | ")" | "]")) => {
                // Pop to the frame this closes; a stray closer is kept as a token.
                if let Some(at) =
                    frames.iter().rposition(|f| f.kind.closer() == closer && f.kind != FrameKind::TopLevel)
                {
                    frames.truncate(at);
                }
                let len = frames.len();
                frames[len - 1].stmt.push(*token);
            }
            (TokenKind::Punct, ",") => {
                note_written(text, frame);
                frame.stmt.clear();
            }
            _ => {
                // `key =` in a block and `name:` in a call: remember the key as soon as it is written.
                frame.stmt.push(*token);
                if matches!(t, "=" | ":") {
                    note_written(text, frame);
                }
            }
        }
    }
    frames
}

fn note_written(text: &str, frame: &mut Frame) {
    // Only blocks and calls need to know their keys (long pipeline bodies would make this quadratic).
    if !matches!(frame.kind, FrameKind::KvBlock { .. } | FrameKind::Call { .. }) {
        return;
    }
    if let [key, sep, ..] = frame.stmt.as_slice() {
        if matches!(sep.text(text), "=" | ":") && matches!(key.kind, TokenKind::Ident | TokenKind::String) {
            let key = key.text(text).trim_matches('"').to_string();
            if !frame.written.contains(&key) {
                frame.written.push(key);
            }
        }
    }
}

fn classify_brace(text: &str, frame: &Frame) -> FrameKind {
    let stmt: Vec<&str> = frame.stmt.iter().map(|t| t.text(text)).collect();
    let last_is_ident = frame.stmt.last().is_some_and(|t| t.kind == TokenKind::Ident);
    match &frame.kind {
        FrameKind::TopLevel => match stmt.first() {
            Some(&"component") => FrameKind::ComponentBody,
            Some(&"pipeline") => FrameKind::PipelineBody,
            _ => FrameKind::Map,
        },
        FrameKind::PipelineBody | FrameKind::Block { .. } => match stmt.first() {
            Some(&"if") | Some(&"else") | Some(&"finally") => FrameKind::Block { loop_var: None },
            Some(&"for") => FrameKind::Block { loop_var: stmt.get(1).map(|s| s.to_string()) },
            _ if stmt.last() == Some(&")") => FrameKind::TaskOverrides,
            _ => FrameKind::Map,
        },
        FrameKind::ComponentBody | FrameKind::TaskOverrides if stmt.len() == 1 && last_is_ident => {
            FrameKind::KvBlock { name: stmt[0].to_string() }
        }
        _ => FrameKind::Map,
    }
}

/// What the tokens of an item declare (for items that may not parse).
fn outline(text: &str, tokens: &[Token], span: Span) -> Outline {
    let code: Vec<&Token> = tokens.iter().filter(|t| !t.is_trivia()).collect();
    let mut out = Outline { span, ..Outline::default() };
    let docs: Vec<&str> = tokens
        .iter()
        .take_while(|t| t.is_trivia())
        .filter(|t| t.kind == TokenKind::DocComment)
        .map(|t| {
            t.text(text).trim_start_matches("///").strip_prefix(' ').unwrap_or(t.text(text).trim_start_matches("///"))
        })
        .collect();
    if !docs.is_empty() {
        out.doc = Some(docs.join("\n"));
    }
    let Some(first) = code.first() else { return out };
    if first.kind != TokenKind::Keyword {
        return out;
    }
    out.keyword = first.text(text).to_string();
    out.name = code.get(1).filter(|t| t.kind == TokenKind::Ident).map(|t| t.text(text).to_string());
    let s = |i: usize| code.get(i).map_or("", |t| t.text(text));
    let is_ident = |i: usize| code.get(i).is_some_and(|t| t.kind == TokenKind::Ident);
    // The type written from token `i` on: a name and its `<…>` arguments.
    let type_at = |i: usize| -> String {
        let mut out = String::new();
        let mut depth = 0usize;
        let mut j = i;
        while let Some(t) = code.get(j) {
            let w = t.text(text);
            j += 1;
            if t.kind == TokenKind::Ident {
                out.push_str(w);
                if depth == 0 && s(j) != "<" {
                    break;
                }
                continue;
            }
            match w {
                "<" => {
                    depth += 1;
                    out.push('<');
                }
                ">" if depth > 0 => {
                    depth -= 1;
                    out.push('>');
                    if depth == 0 {
                        break;
                    }
                }
                "," if depth > 0 => out.push_str(", "),
                _ => break,
            }
        }
        out
    };
    match out.keyword.as_str() {
        "component" => {
            for (i, keyword) in code.iter().enumerate() {
                if (s(i) == "input" || s(i) == "output") && is_ident(i + 1) && s(i + 2) == ":" {
                    let entry = (s(i + 1).to_string(), type_at(i + 3));
                    if s(i) == "input" {
                        // `= default` up to the end of the line (or a comment).
                        let at = keyword.span.end as usize;
                        let line_end = text[at..].find('\n').map_or(text.len(), |n| at + n);
                        let line = &text[at..line_end];
                        let line = line.find("//").map_or(line, |c| &line[..c]);
                        if let Some((_, default)) = line.split_once('=') {
                            out.defaults.insert(entry.0.clone(), default.trim().to_string());
                        }
                        out.inputs.push(entry);
                    } else {
                        out.outputs.push(entry);
                    }
                }
            }
        }
        "pipeline" => {
            let mut depth = 0i32;
            let mut in_params = false;
            let mut params_done = false;
            for i in 0..code.len() {
                let w = s(i);
                match w {
                    "(" | "[" | "{" => {
                        depth += 1;
                        if w == "(" && depth == 1 && !params_done {
                            in_params = true;
                        }
                    }
                    ")" | "]" | "}" => {
                        depth -= 1;
                        if w == ")" && depth == 0 && in_params {
                            in_params = false;
                            params_done = true;
                        }
                    }
                    _ => {}
                }
                let starts_param = matches!(s(i.wrapping_sub(1)), "(" | ",");
                if in_params && depth == 1 && starts_param && is_ident(i) && s(i + 1) == ":" {
                    out.inputs.push((w.to_string(), type_at(i + 2)));
                    // `= default` up to the `,` or `)` that ends the parameter.
                    let mut j = i + 2;
                    let mut inner = 0i32;
                    let mut default: Option<(usize, usize)> = None;
                    while let Some(t) = code.get(j) {
                        match t.text(text) {
                            "(" | "[" | "{" => inner += 1,
                            ")" | "]" | "}" if inner == 0 => break,
                            ")" | "]" | "}" => inner -= 1,
                            "," if inner == 0 => break,
                            "=" if inner == 0 && default.is_none() => {
                                default = Some((t.span.end as usize, t.span.end as usize));
                                j += 1;
                                continue;
                            }
                            _ => {}
                        }
                        if let Some(d) = &mut default {
                            d.1 = t.span.end as usize;
                        }
                        j += 1;
                    }
                    if let Some((a, b)) = default {
                        out.defaults.insert(w.to_string(), text[a..b].trim().to_string());
                    }
                }
                if params_done && depth >= 1 && is_ident(i) && s(i + 1) == "(" {
                    let (name, is_task) = if s(i.wrapping_sub(1)) == "=" && is_ident(i.wrapping_sub(2)) {
                        (s(i - 2), !matches!(s(i.wrapping_sub(3)), "." | ":"))
                    } else {
                        (w, !matches!(s(i.wrapping_sub(1)), "." | ":" | "=" | "(" | "," | "[" | "not" | "and" | "or"))
                    };
                    if is_task {
                        out.tasks.entry(name.to_string()).or_insert_with(|| w.to_string());
                    }
                }
                if params_done && depth == 1 && w == "output" && is_ident(i + 1) {
                    out.outputs.push((s(i + 1).to_string(), String::new()));
                }
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> (String, usize) {
        let offset = text.find('|').unwrap_or(text.len());
        (text.replacen('|', "", 1), offset)
    }

    fn analyze(text: &str, offset: usize) -> Cursor<'_> {
        super::analyze(text, &crate::lexer::lex(text), offset)
    }

    fn kinds(text: &str) -> Vec<FrameKind> {
        let (text, offset) = at(text);
        analyze(&text, offset).frames.into_iter().map(|f| f.kind).collect()
    }

    #[test]
    fn frames_follow_brackets() {
        use FrameKind::*;
        assert_eq!(
            kinds("component a {\n resources { cpu = 2, |"),
            vec![TopLevel, ComponentBody, KvBlock { name: "resources".into() }]
        );
        assert_eq!(
            kinds("pipeline p(x: Int) {\n for v in [1] {\n t = train(a: 1, |"),
            vec![
                TopLevel,
                PipelineBody,
                Block { loop_var: Some("v".into()) },
                Call { callee: "train".into(), open: 47 }
            ]
        );
        assert_eq!(kinds("pipeline p() {\n t = train() {\n |"), vec![TopLevel, PipelineBody, TaskOverrides]);
        assert_eq!(kinds("pipeline p(a: |"), vec![TopLevel, PipelineParams]);
    }

    #[test]
    fn statements_end_at_line_breaks() {
        let (text, offset) = at("pipeline p() {\n a = f(x: 1)\n b = |");
        let cursor = analyze(&text, offset);
        let stmt: Vec<&str> = cursor.stmt_texts();
        assert_eq!(stmt, vec!["b", "="]);
    }

    #[test]
    fn numbers_and_prefixes() {
        let (text, offset) = at("component a { resources { memory = 4G| } }");
        let cursor = analyze(&text, offset);
        assert!(cursor.number.is_some());
        assert_eq!(&text[cursor.prefix.range()], "G");
        assert_eq!(cursor.stmt_texts(), vec!["memory", "="]);
        let (text, offset) = at("component a { ima| }");
        let cursor = analyze(&text, offset);
        assert_eq!(&text[cursor.prefix.range()], "ima");
        let (text, offset) = at("component a { // x|\n}");
        assert!(analyze(&text, offset).in_trivia);
    }

    #[test]
    fn outlines_list_declarations() {
        let text = "pipeline p(a: List<Int>, b: String = \"x\") {\n t = train(x: a)\n deploy(m: t.model)\n if t.ok { u = f() }\n output o = t.m\n}";
        let cursor = analyze(text, text.len());
        let o = &cursor.outline;
        assert_eq!(o.inputs, vec![("a".into(), "List<Int>".into()), ("b".into(), "String".into())]);
        let tasks: Vec<(&str, &str)> = o.tasks.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(tasks, vec![("deploy", "deploy"), ("t", "train"), ("u", "f")]);
        assert_eq!(o.outputs, vec![("o".into(), String::new())]);
    }
}

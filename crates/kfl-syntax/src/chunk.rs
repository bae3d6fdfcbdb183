//! Parsing in pieces, so that an edit re-parses only the piece it touched.
//!
//! A file is cut into *chunks* by a lexical scan ([`chunks`]): one per item, except that a pipeline
//! is cut into its head (through the `{` of its body), runs of top-level statements, and its closing
//! `}`. Runs of statement chunks are parsed together in groups of about 16, cut where a statement's
//! own text says so (content-defined); a group that fails falls back to its
//! statements one by one. Each piece is parsed on its own ([`parse_chunk`]) with spans relative to it, and
//! [`parse_with`] puts the pieces together, shifting spans to their place in the file. Whoever calls
//! [`parse_with`] decides how a chunk is parsed: the salsa database memoizes [`parse_chunk`] by the
//! piece's text, so after a one-character edit in a 50,000-line file one group of statements is parsed,
//! and the memo holds a few thousand pieces rather than one per statement.
//!
//! Invariants (`tests/chunked.rs` checks them on every example and thousands of edited variants,
//! and the `parse_check` fuzz target on whatever it finds):
//! - A text without syntax errors gives exactly [`crate::parse_whole`]'s tree. Cuts are made only
//!   where no statement can continue: before an item keyword or its doc comments, and before a line
//!   of a pipeline body at bracket depth one that starts with a name (or the doc comments before
//!   one) after a line that does not end in an operator or a keyword that needs more (`=`, `.`,
//!   `and`, `if`, …). So when the whole parses, every chunk parses, into the same tree.
//! - A text with syntax errors: an item whose chunks all parse is the same as in
//!   [`crate::parse_whole`]; an item whose head or end does not parse is recovered exactly as
//!   [`crate::parse_whole`] recovers it (left out, its first error reported). A pipeline whose head
//!   and end parse but some statements do not keeps every statement that parses; each broken piece
//!   reports its own error and is listed in [`Pipeline::broken`]. So a typo in one statement of a
//!   long pipeline neither hides the rest of it from the checker and the editor nor costs a parse
//!   of the whole file.
//! - The scan and the cut are a value, a [`Plan`]: [`plan`] makes it from a whole text, and
//!   [`parse_with`]`(text, f)` is [`parse_with_plan`]`(text, &plan(text), f)`. [`replan`]`(old,
//!   &plan(old), new)` is always equal to [`plan`]`(new)` (`tests/replan.rs` checks it on thousands
//!   of random and chained edits); for an edit inside the statements of a pipeline body it cuts and
//!   scans again only from a statement chunk before the edit to the first old cut after it that the
//!   new cut meets, and otherwise makes a whole plan. It can, because every cut in a body is made in
//!   the same state (depth one, outside strings and comments, nothing asked for more, at a line
//!   start, no doc comment pending), so the cutter and the scan resume at any statement chunk and
//!   agree with the old plan from any cut both make after the edit.

use std::sync::Arc;

use kfl_diagnostics::{Diagnostic, Label, Span};

use crate::ast::*;
use crate::parser::{self, Builder, Rule};
use crate::{scan, Parse};

mod plan;

pub use plan::{plan, replan, Plan, PlannedItem};
#[doc(hidden)]
pub use plan::{replan_with_stats, ReplanStats};

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
    pub fn into_pipeline(self, body: Vec<Stmt>, span: Span, broken: Vec<Span>) -> Pipeline {
        let PipelineHead { doc, name, params, params_span } = self;
        Pipeline { doc, name, params, body, params_span, span, broken }
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

/// The chunks of one item, `text[start..end]`, in order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ItemChunks {
    pub start: usize,
    pub end: usize,
    pub chunks: Vec<Chunk>,
}

/// Cuts `text` into chunks, item by item (items as [`scan::Scan::item_starts`] finds them; text
/// before the first item is not part of any chunk).
pub fn chunks(text: &str, scan: &scan::Scan) -> Vec<ItemChunks> {
    scan.item_starts.iter().enumerate().map(|(i, &start)| item_chunks(text, &scan.item_starts, i, start)).collect()
}

/// The chunks of the item that starts at `item_starts[i] == start`.
fn item_chunks(text: &str, item_starts: &[usize], i: usize, start: usize) -> ItemChunks {
    let end = item_starts.get(i + 1).copied().unwrap_or(text.len());
    let whole = || vec![Chunk { kind: ChunkKind::Item, start, end }];
    let chunks = if first_word(&text[start..end]) == Some("pipeline") {
        pipeline_chunks(text, start, end).unwrap_or_else(whole)
    } else {
        whole()
    };
    ItemChunks { start, end, chunks }
}

/// Parses one chunk on its own. `None` when it does not parse.
///
/// The hand-written parser of [`crate::fast`] answers first; where it gives up, pest decides. Both
/// give the same tree wherever the fast one answers.
pub fn parse_chunk(kind: ChunkKind, text: &str) -> Option<ChunkParse> {
    let scan = prescan(text)?;
    if let Some(tree) = crate::fast::parse_chunk(kind, text) {
        return Some(ChunkParse { tree, errors: Vec::new() });
    }
    parse_chunk_with_pest_after_scan(kind, text, &scan)
}

/// [`parse_chunk`] for a chunk cut by [`parse_with`] from a file whose scan found neither an
/// unterminated string nor nesting too deep: then no chunk of it has either (chunks start where the
/// file's scan is at the top level, outside strings and comments), so the chunk is scanned again
/// only when pest needs its comments.
pub fn parse_clean_chunk(kind: ChunkKind, text: &str) -> Option<ChunkParse> {
    if let Some(tree) = crate::fast::parse_chunk(kind, text) {
        return Some(ChunkParse { tree, errors: Vec::new() });
    }
    parse_chunk_with_pest_after_scan(kind, text, &scan::scan(text))
}

/// The fast parser alone (for the tests that hold it to pest): `None` where it gives up.
#[doc(hidden)]
pub fn parse_chunk_fast(kind: ChunkKind, text: &str) -> Option<ChunkTree> {
    prescan(text)?;
    crate::fast::parse_chunk(kind, text)
}

/// [`parse_chunk`] without the fast path: what pest makes of the chunk.
#[doc(hidden)]
pub fn parse_chunk_with_pest(kind: ChunkKind, text: &str) -> Option<ChunkParse> {
    let scan = prescan(text)?;
    parse_chunk_with_pest_after_scan(kind, text, &scan)
}

/// The scan of a chunk that can be parsed on its own: `None` when a string in it is unterminated or
/// it nests too deep (the whole item is then parsed with recovery instead).
fn prescan(text: &str) -> Option<scan::Scan> {
    let scan = scan::scan(text);
    (scan.too_deep.is_none() && scan.unterminated.is_empty()).then_some(scan)
}

fn parse_chunk_with_pest_after_scan(kind: ChunkKind, text: &str, scan: &scan::Scan) -> Option<ChunkParse> {
    let comment_starts_by_end = parser::comment_starts_by_end(&scan.comments);
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
/// answers from its memo when it has seen the chunk's text before). Items whose chunks do not parse
/// are recovered as described in the module's invariants.
///
/// The third argument of `parse_chunk` says whether the chunk is clean in the sense of
/// [`parse_clean_chunk`], which may then be used instead of [`parse_chunk`].
pub fn parse_with(text: &str, parse_chunk: impl FnMut(ChunkKind, &str, bool) -> Option<Arc<ChunkParse>>) -> Parse {
    parse_with_plan(text, &plan(text), parse_chunk)
}

/// [`parse_with`] after the scan and the cut: `plan` must be [`plan`]`(text)` (or what [`replan`]
/// made, which is the same). A plan made for a text of another length is made again.
pub fn parse_with_plan(
    text: &str,
    plan: &Plan,
    mut parse_chunk: impl FnMut(ChunkKind, &str, bool) -> Option<Arc<ChunkParse>>,
) -> Parse {
    if plan.len != text.len() {
        return parse_with_plan(text, &self::plan(text), parse_chunk);
    }
    if plan.too_deep.is_some() {
        return crate::parse_whole(text);
    }
    let scan = plan.to_scan(text);
    let clean = scan.unterminated.is_empty();
    let mut errors: Vec<Diagnostic> = crate::leading_text_error(text, &scan).into_iter().collect();
    // First every chunk is parsed (pest's error detail off); what needs error messages is done
    // afterwards, with the detail on.
    let mut slots: Vec<Slot> = Vec::with_capacity(plan.items.len());
    for planned in &plan.items {
        let item = &planned.chunks;
        let mut parsed = Vec::with_capacity(item.chunks.len());
        let mut pieces = Vec::with_capacity(item.chunks.len());
        let mut i = 0;
        while i < item.chunks.len() {
            let chunk = item.chunks[i];
            let group_end = statement_group_end(&item.chunks, &planned.starts_group, i);
            if group_end > i + 1 {
                // A run of statements is parsed as one piece; only if it fails is each statement
                // parsed on its own (so a broken statement still leaves its neighbours).
                let whole =
                    Chunk { kind: ChunkKind::Statements, start: chunk.start, end: item.chunks[group_end - 1].end };
                if let Some(tree) = parse_chunk(whole.kind, &text[whole.start..whole.end], clean) {
                    parsed.push(Some(tree));
                    pieces.push(whole);
                    i = group_end;
                    continue;
                }
                for member in &item.chunks[i..group_end] {
                    parsed.push(parse_chunk(member.kind, &text[member.start..member.end], clean));
                    pieces.push(*member);
                }
                i = group_end;
                continue;
            }
            parsed.push(parse_chunk(chunk.kind, &text[chunk.start..chunk.end], clean));
            pieces.push(chunk);
            i += 1;
        }
        let item = ItemChunks { start: item.start, end: item.end, chunks: pieces };
        slots.push(assemble(text, &item, parsed, &mut errors));
    }
    let needs_recovery = slots.iter().any(|s| !matches!(s, Slot::Done(_)));
    let mut file = File { items: Vec::with_capacity(slots.len()) };
    let mut broken_items = Vec::new();
    if !needs_recovery {
        file.items.extend(slots.into_iter().filter_map(|s| match s {
            Slot::Done(item) => Some(item),
            _ => None,
        }));
    } else {
        let comment_starts_by_end = parser::comment_starts_by_end(&scan.comments);
        let mut builder = Builder { offset: 0, errors: Vec::new(), text, comment_starts_by_end };
        let _exclusive = crate::DETAIL_LOCK.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        pest::set_error_detail(true);
        for slot in slots {
            match slot {
                Slot::Done(item) => file.items.push(item),
                Slot::Recover { start, end } => {
                    crate::recover_item(text, start, end, &scan, &mut builder, &mut file, &mut broken_items);
                }
                Slot::BrokenStatements(pipeline) => {
                    for &span in &pipeline.broken {
                        let (start, end) = (span.start as usize, span.end as usize);
                        builder.errors.push(crate::statement_error(text, start, end).unwrap_or_else(|| {
                            Diagnostic::new(kfl_diagnostics::Code::SyntaxError, span, "this statement does not parse")
                                .label("not a statement")
                        }));
                    }
                    file.items.push(Item::Pipeline(pipeline));
                }
            }
        }
        pest::set_error_detail(false);
        errors.append(&mut builder.errors);
    }
    kfl_diagnostics::sort(&mut errors);
    Parse { file, errors, comments: scan.comments, broken_items }
}

/// A file without syntax errors parsed the quick way, for whoever parses it once (the CLI): every
/// item as one piece by the hand-written parser, no cutting into chunks and no memo. `None` as soon
/// as anything needs more (an unterminated string, deep nesting, text before the first item, an
/// item the fast parser leaves to pest); then [`parse_with`] decides, so the tree is the same.
pub fn parse_clean_items(text: &str) -> Option<Parse> {
    let scan = scan::scan(text);
    if scan.too_deep.is_some() || !scan.unterminated.is_empty() || crate::leading_text_error(text, &scan).is_some() {
        return None;
    }
    let mut items = Vec::with_capacity(scan.item_starts.len());
    for (i, &start) in scan.item_starts.iter().enumerate() {
        let end = scan.item_starts.get(i + 1).copied().unwrap_or(text.len());
        let ChunkTree::Item(item) = crate::fast::parse_chunk(ChunkKind::Item, &text[start..end])? else {
            return None;
        };
        items.push(shifted(item, start as u32));
    }
    Some(Parse { file: File { items }, errors: Vec::new(), comments: scan.comments, broken_items: Vec::new() })
}

/// Where the group of statement chunks that starts at `chunks[first]` ends (exclusive): a run of
/// `Statements` chunks, cut before a chunk whose text hashes to a multiple of [`GROUP`]
/// (`starts_group[i]`, from [`starts_group`]). The cut depends only on the text of the chunk after
/// it, so an edit regroups only the chunks around it (content-defined, as backup tools cut files),
/// and a long pipeline is a few hundred pieces for whoever memoizes them instead of one per
/// statement.
fn statement_group_end(chunks: &[Chunk], starts_group: &[bool], first: usize) -> usize {
    if chunks[first].kind != ChunkKind::Statements {
        return first + 1;
    }
    let mut end = first + 1;
    while end < chunks.len()
        && chunks[end].kind == ChunkKind::Statements
        && end - first < 4 * GROUP
        && !starts_group.get(end).copied().unwrap_or(true)
    {
        end += 1;
    }
    end
}

/// Statement chunks per group, on average.
const GROUP: usize = 16;

fn starts_group(chunk: &str) -> bool {
    // FNV-1a over the statement's first bytes: its name and what it calls, up to the first bracket,
    // quote or line break. So editing an argument never moves a group's bounds (which would make
    // the checks of every later group in the pipeline run again: they are numbered).
    let mut hash: u32 = 0x811c_9dc5;
    let head = chunk.trim_start().as_bytes();
    let head = head.iter().take(48).take_while(|b| !matches!(b, b'(' | b'{' | b'[' | b'"' | b'\n'));
    for &byte in head {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    (hash as usize).is_multiple_of(GROUP)
}

/// One item, put together from its chunks or waiting for recovery.
enum Slot {
    Done(Item),
    /// Parse `text[start..end]` as one item, with error recovery.
    Recover {
        start: usize,
        end: usize,
    },
    /// A pipeline with statements that did not parse: their errors are still to be made.
    BrokenStatements(Pipeline),
}

fn assemble(text: &str, item: &ItemChunks, parsed: Vec<Option<Arc<ChunkParse>>>, errors: &mut Vec<Diagnostic>) -> Slot {
    let recover = Slot::Recover { start: item.start, end: item.end };
    let mut head: Option<PipelineHead> = None;
    let mut body = Vec::new();
    let mut broken = Vec::new();
    let mut done = None;
    let mut item_errors = Vec::new();
    for (chunk, parsed) in item.chunks.iter().zip(parsed) {
        let Some(parsed) = parsed else {
            if chunk.kind != ChunkKind::Statements {
                return recover;
            }
            broken.push(trimmed(text, chunk));
            continue;
        };
        let by = chunk.start as u32;
        let ChunkParse { tree, errors: chunk_errors } =
            Arc::try_unwrap(parsed).unwrap_or_else(|shared| (*shared).clone());
        item_errors.extend(chunk_errors.into_iter().map(|e| shifted(e, by)));
        match tree {
            ChunkTree::Item(it) => done = Some(shifted(it, by)),
            ChunkTree::PipelineHead(h) => head = Some(shifted(h, by)),
            ChunkTree::Statements(stmts) => body.extend(stmts.into_iter().map(|s| shifted(s, by))),
            ChunkTree::PipelineEnd => {
                let Some(h) = head.take() else { return recover };
                let span = Span::new(item.start, chunk.start + 1);
                let pipeline = h.into_pipeline(std::mem::take(&mut body), span, std::mem::take(&mut broken));
                done = Some(Item::Pipeline(pipeline));
            }
        }
    }
    errors.append(&mut item_errors);
    match done {
        Some(Item::Pipeline(pipeline)) if !pipeline.broken.is_empty() => Slot::BrokenStatements(pipeline),
        Some(item) => Slot::Done(item),
        None => recover,
    }
}

/// A chunk's span without the blanks around it.
fn trimmed(text: &str, chunk: &Chunk) -> Span {
    let piece = &text[chunk.start..chunk.end];
    let start = chunk.start + piece.len() - piece.trim_start().len();
    Span::new(start, (chunk.start + piece.trim_end().len()).max(start))
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

/// Words after which a statement must go on (so a line that follows them is not cut off).
const NEED_MORE: [&str; 10] = ["if", "else", "for", "in", "parallel", "and", "or", "not", "output", "finally"];

/// The chunks of the pipeline in `text[start..end]`, or `None` if its brackets or strings do not
/// close within it.
fn pipeline_chunks(text: &str, start: usize, end: usize) -> Option<Vec<Chunk>> {
    let text = &text[..end];
    let mut out = Vec::new();
    let mut lexer = Lexer { text, i: start, depth: 0 };
    // The head: up to the first `{` outside brackets.
    let open = loop {
        if let Token::Open(b'{') = lexer.next()? {
            if lexer.depth == 1 {
                break lexer.i;
            }
        }
    };
    out.push(Chunk { kind: ChunkKind::PipelineHead, start, end: open });
    let mut cutter = BodyCutter::after_open(text, open);
    loop {
        if let BodyCut::Close(_) = cutter.next_cut(&mut out)? {
            return Some(out);
        }
    }
}

/// Where [`BodyCutter::next_cut`] stopped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum BodyCut {
    /// A statement chunk starts here (the one before it was pushed).
    Statement(usize),
    /// The `}` that closes the body is here (the last statement chunk and the end were pushed).
    Close(usize),
}

/// Cuts a pipeline body into statement chunks. Its state at the start of any statement chunk is
/// known from where the chunk is alone ([`BodyCutter::at_chunk`]), which is what lets
/// [`replan`] cut again from there.
struct BodyCutter<'t> {
    lexer: Lexer<'t>,
    /// Where the current statement chunk starts.
    piece_start: usize,
    /// Where the run of doc comments before the current line starts.
    doc_run: Option<usize>,
    /// Whether the last token asks for more (an operator, `if`, `and`, …, or an opening bracket).
    need_more: bool,
    line_start: bool,
}

impl<'t> BodyCutter<'t> {
    /// Right after the `{` of a body, at `open`; `text` ends where the item does.
    fn after_open(text: &'t str, open: usize) -> Self {
        BodyCutter {
            lexer: Lexer { text, i: open, depth: 1 },
            piece_start: open,
            doc_run: None,
            need_more: true,
            line_start: false,
        }
    }

    /// At the start of a statement chunk that is not the body's first (which starts right after
    /// the `{`, see [`BodyCutter::after_open`]). A cut is made only at depth one, at a line start
    /// after a token that needs nothing more, before a name or the doc comments before one; a
    /// chunk that starts with doc comments was cut in that same state (comments change nothing),
    /// and `doc_run` was empty there, or the cut would have been earlier.
    fn at_chunk(text: &'t str, start: usize) -> Self {
        BodyCutter {
            lexer: Lexer { text, i: start, depth: 1 },
            piece_start: start,
            doc_run: None,
            need_more: false,
            line_start: true,
        }
    }

    /// Reads on to the next cut, pushing the chunks it ends. `None` at the end of the text, at a
    /// string that does not end, or at a bracket that closes nothing.
    fn next_cut(&mut self, out: &mut Vec<Chunk>) -> Option<BodyCut> {
        let text = self.lexer.text;
        loop {
            let at = self.lexer.skip_blanks(&mut self.line_start);
            let rest = text.get(at..)?;
            let &first = rest.as_bytes().first()?;
            let mut cut_here = None;
            if self.line_start
                && self.lexer.depth == 1
                && !self.need_more
                && (first.is_ascii_alphabetic() || first == b'_')
            {
                let word_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
                if !CONTINUATIONS.contains(&&rest[..word_end]) {
                    let cut = self.doc_run.unwrap_or(at);
                    if cut > self.piece_start {
                        out.push(Chunk { kind: ChunkKind::Statements, start: self.piece_start, end: cut });
                        self.piece_start = cut;
                        cut_here = Some(cut);
                    }
                }
            }
            self.line_start = false;
            let token = self.lexer.next()?;
            if !matches!(token, Token::Comment) {
                self.doc_run = None;
            }
            match token {
                Token::Comment => {
                    // A doc comment belongs to the statement after it (a plain one is skipped).
                    if self.lexer.depth == 1 && rest.starts_with("///") && !rest.starts_with("////") {
                        self.doc_run.get_or_insert(at);
                    }
                }
                Token::Open(_) => self.need_more = true,
                Token::Close(b'}') if self.lexer.depth == 0 => {
                    let close = self.lexer.i - 1;
                    out.push(Chunk { kind: ChunkKind::Statements, start: self.piece_start, end: close });
                    out.push(Chunk { kind: ChunkKind::PipelineEnd, start: close, end: text.len() });
                    return Some(BodyCut::Close(close));
                }
                Token::Close(_) | Token::Str => self.need_more = false,
                Token::Word(word) => self.need_more = NEED_MORE.contains(&word),
                Token::Punct(b) => self.need_more = b"=,.:<>!-".contains(&b),
            }
            if let Some(cut) = cut_here {
                return Some(BodyCut::Statement(cut));
            }
        }
    }
}

enum Token<'t> {
    Open(u8),
    Close(u8),
    Word(&'t str),
    Str,
    Comment,
    Punct(u8),
}

/// Just enough of a lexer to find brackets outside strings and comments (as `scan` does), and to
/// tell whether a line's last token needs more.
struct Lexer<'t> {
    text: &'t str,
    i: usize,
    depth: usize,
}

impl<'t> Lexer<'t> {
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

    /// The next token (after blanks). `None` at the end, at a string that does not end, or at a
    /// bracket that closes nothing.
    fn next(&mut self) -> Option<Token<'t>> {
        let mut line_start = false;
        self.skip_blanks(&mut line_start);
        let text: &'t str = self.text;
        let bytes = text.as_bytes();
        let rest = text.get(self.i..)?;
        let b = *bytes.get(self.i)?;
        if rest.starts_with("//") {
            self.i += rest.find('\n').unwrap_or(rest.len());
            return Some(Token::Comment);
        }
        if let Some(body) = rest.strip_prefix("\"\"\"") {
            self.i += 3 + body.find("\"\"\"")? + 3;
            return Some(Token::Str);
        }
        if b == b'"' {
            self.i += 1;
            loop {
                match bytes.get(self.i)? {
                    b'\n' => return None,
                    b'"' => {
                        self.i += 1;
                        return Some(Token::Str);
                    }
                    b'\\' if bytes.get(self.i + 1).is_some_and(|&c| c != b'\n') => self.i += 2,
                    _ => self.i += 1,
                }
            }
        }
        if b.is_ascii_alphanumeric() || b == b'_' {
            let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            self.i += len;
            return Some(Token::Word(&rest[..len]));
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
            _ => Token::Punct(b),
        })
    }
}

/// Blanks and plain comments only (a `///` doc comment belongs to what follows it).
fn is_trivia(text: &str) -> bool {
    let blank = |c: char| c.is_ascii_whitespace() || c == '\u{FEFF}';
    let mut rest = text.trim_start_matches(blank);
    while !rest.is_empty() {
        if !rest.starts_with("//") || (rest.starts_with("///") && !rest.starts_with("////")) {
            return false;
        }
        rest = rest.find('\n').map_or("", |n| &rest[n..]).trim_start_matches(blank);
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
    Pipeline { doc, name, params, body, params_span, span, broken }
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
        chunks(text, &scan).into_iter().flat_map(|item| item.chunks).map(|c| (c.kind, &text[c.start..c.end])).collect()
    }

    #[test]
    fn a_pipeline_is_cut_before_each_statement_and_its_doc_comments() {
        let text = "component a { image = \"x\" }\n/// P.\npipeline p(n: Int = f(1)) {\n    x = a()\n    /// Doc.\n    // plain\n    y = a() {\n        cpu = 1\n    }\n    if n > 1 {\n        z = a()\n    }\n    else { w = a() }\n    v = n ==\n        n\n    u = n > 1 and\n        n < 3\n    output\n        o = y.out\n}\n// end\n";
        use ChunkKind::*;
        assert_eq!(
            kinds(text),
            vec![
                (Item, "component a { image = \"x\" }\n"),
                (PipelineHead, "/// P.\npipeline p(n: Int = f(1)) {"),
                (Statements, "\n    x = a()\n    "),
                (Statements, "/// Doc.\n    // plain\n    y = a() {\n        cpu = 1\n    }\n    "),
                // `else` continues the `if`; a line after `==`, `and` or `output` continues it.
                (Statements, "if n > 1 {\n        z = a()\n    }\n    else { w = a() }\n    "),
                (Statements, "v = n ==\n        n\n    "),
                (Statements, "u = n > 1 and\n        n < 3\n    "),
                (Statements, "output\n        o = y.out\n"),
                (PipelineEnd, "}\n// end\n"),
            ]
        );
    }

    #[test]
    fn strings_and_comments_hide_brackets() {
        let text = "pipeline p() {\n    x = a(s: \"}\") // }\n    y = b(s: \"\"\"\n}\n\"\"\")\n}\n";
        let got = kinds(text);
        assert_eq!(got.last().map(|c| c.1), Some("}\n"));
        assert_eq!(got.len(), 4, "{got:#?}");
    }

    #[test]
    fn a_pipeline_whose_brackets_or_strings_do_not_close_is_one_chunk() {
        for text in ["pipeline p() {\n    x = a(s: \"}\n}\n", "pipeline p() {\n    x = a(\n}\n", "pipeline p() }\n"] {
            assert_eq!(kinds(text), vec![(ChunkKind::Item, text)], "{text}");
        }
    }

    #[test]
    fn a_broken_statement_leaves_the_rest_of_its_pipeline() {
        let text = "pipeline p(n: Int) {\n    a = f(x: n)\n    b = f(x: )\n    c = f(x: b.out, y: 1 2)\n    d = f(x: a.out)\n    e = a.\n    f = g()\n}\n";
        let parse = crate::parse(text);
        let [Item::Pipeline(p)] = parse.file.items.as_slice() else { panic!("{parse:#?}") };
        let bound: Vec<&str> = p
            .body
            .iter()
            .filter_map(|s| match &s.kind {
                StmtKind::Task(t) => t.binding.as_ref().map(|b| b.text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(bound, ["a", "d"]);
        let broken: Vec<&str> = p.broken.iter().map(|s| &text[s.range()]).collect();
        // A line that ends in `.` goes on: `f = g()` is part of the broken piece.
        assert_eq!(broken, ["b = f(x: )", "c = f(x: b.out, y: 1 2)", "e = a.\n    f = g()"]);
        // One error per broken piece, each inside it.
        assert_eq!(parse.errors.len(), 3, "{:#?}", parse.errors);
        for (error, span) in parse.errors.iter().zip(&p.broken) {
            assert!(span.start <= error.primary.span.start && error.primary.span.end <= span.end + 1, "{error:#?}");
        }
        assert!(parse.broken_items.is_empty());
    }
}

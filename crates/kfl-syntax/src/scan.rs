//! A small lexical scan that runs beside the pest parser. It finds what the grammar skips or cannot
//! report well: comments (which the formatter must keep), unterminated strings (for a precise error),
//! and the places where items start (for error recovery). Its idea of strings and comments matches
//! the `string`, `triple_string` and `COMMENT` rules of `grammar/kfl.pest`.

use kfl_diagnostics::Span;

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Comment {
    pub span: Span,
    /// The whole comment, `//` included, without the line break.
    pub text: String,
    /// A `///` doc comment (these are also part of the tree).
    pub is_doc: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Scan {
    pub comments: Vec<Comment>,
    /// Opening quote spans of strings that never close.
    pub unterminated: Vec<Span>,
    /// Byte offsets where items start: an item keyword, or the first of the doc comments before it.
    pub item_starts: Vec<usize>,
    /// Where brackets (or a run of `not`s) first nest deeper than [`crate::MAX_NESTING`]. Each
    /// `else if` of a chain counts as a level too: the tree nests it in the `if` before it.
    pub too_deep: Option<usize>,
}

/// The nesting the tree will have: brackets, plus the `else if`s of the chains still open at each
/// bracket depth.
#[derive(Default)]
struct Nesting {
    depth: usize,
    /// `else if`s of the current chain at each depth.
    chains: Vec<usize>,
    chained: usize,
    /// The last significant token was the word `else`.
    after_else: bool,
    /// The last significant token was a `}` (which may be followed by `else`).
    after_close: bool,
}

impl Nesting {
    fn level(&self) -> usize {
        self.depth + self.chained
    }

    /// Called for every token but blanks and comments; returns the nesting level after it.
    fn token(&mut self, word: Option<&str>, byte: u8) -> usize {
        if self.after_close && word != Some("else") {
            self.end_chain(self.depth);
        }
        if word == Some("if") && self.after_else {
            if self.chains.len() <= self.depth {
                self.chains.resize(self.depth + 1, 0);
            }
            self.chains[self.depth] += 1;
            self.chained += 1;
        }
        self.after_else = word == Some("else");
        self.after_close = false;
        if word.is_none() {
            match byte {
                b'(' | b'[' | b'{' => {
                    self.depth += 1;
                    self.end_chain(self.depth);
                }
                b')' | b']' | b'}' => {
                    self.end_chain(self.depth);
                    self.depth = self.depth.saturating_sub(1);
                    self.after_close = byte == b'}';
                }
                _ => {}
            }
        }
        self.level()
    }

    fn end_chain(&mut self, depth: usize) {
        if let Some(n) = self.chains.get_mut(depth) {
            self.chained -= *n;
            *n = 0;
        }
    }
}

const ITEM_KEYWORDS: [&str; 4] = ["import", "artifact", "component", "pipeline"];

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

pub fn scan(text: &str) -> Scan {
    let Spans { comments, unterminated, item_starts, too_deep, .. } = spans(text);
    let comments = comments
        .into_iter()
        .map(|c| Comment { span: c.span, text: text[c.span.range()].to_string(), is_doc: c.is_doc })
        .collect();
    Scan { comments, unterminated, item_starts, too_deep }
}

/// Where a comment is, without its text (which is `text[span]`): what [`crate::chunk::Plan`]
/// keeps, so that moving comments after an edit copies no text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CommentSpan {
    pub span: Span,
    pub is_doc: bool,
}

/// [`Scan`] with comments as spans, and where brackets open at the top level.
#[derive(Clone, Debug, Default)]
pub(crate) struct Spans {
    pub comments: Vec<CommentSpan>,
    pub unterminated: Vec<Span>,
    pub item_starts: Vec<usize>,
    pub too_deep: Option<usize>,
    /// For each bracket that opens at depth 0: the offset just after it, and the nesting that
    /// `else if` chains at depth 0 add inside it (what [`scan_body_piece`] starts from).
    pub top_opens: Vec<(usize, usize)>,
    /// The smallest bracket depth seen (the depth the scan started at, if nothing closed below it).
    pub shallowest: usize,
}

/// The scan of a whole file, comments as spans.
pub(crate) fn spans(text: &str) -> Spans {
    let plain = scan_with(text, false, Nesting::default());
    // A `"""` left open pairs with the next script's opening quotes, and every script after it is
    // read inside out until the last `"""` of the file is left open. If that happened, find the
    // script that runs on into a following item instead, and report that one.
    if plain.unterminated.iter().any(|s| s.len() == 3) {
        let runaway = scan_with(text, true, Nesting::default());
        if runaway.unterminated != plain.unterminated {
            return runaway;
        }
    }
    plain
}

/// The scan of a piece of a body at bracket depth one that starts where a statement may (the first
/// token of `piece` is a name that is not `else`, or doc comments before one, or the piece follows
/// the `{` of the body): what a scan of the whole file finds in it, with spans relative to the
/// piece. `chained` is the nesting that `else if` chains at depth 0 add there (from
/// [`Spans::top_opens`]). Unterminated strings are reported as they are found, without looking
/// for a script that runs away.
pub(crate) fn scan_body_piece(piece: &str, chained: usize) -> Spans {
    let nesting = Nesting { depth: 1, chains: vec![chained], chained, after_else: false, after_close: false };
    scan_with(piece, false, nesting)
}

/// Where a triple-quoted string's text (starting at `from`) runs on into a following item: the
/// start of the first line that begins, in column 0, with `component`, `pipeline` or `artifact`
/// and a name (or of the doc comments right above it).
fn runaway_end(text: &str, from: usize, to: usize) -> Option<usize> {
    let body = &text[from..to];
    let mut line_start = from + body.find('\n')? + 1;
    let mut docs_from: Option<usize> = None;
    while line_start < to {
        let line_end = text[line_start..to].find('\n').map_or(to, |n| line_start + n);
        let line = &text[line_start..line_end];
        if line.starts_with("///") {
            docs_from.get_or_insert(line_start);
        } else {
            let item = ["component", "pipeline", "artifact"].iter().any(|kw| {
                line.strip_prefix(kw).is_some_and(|rest| {
                    rest.starts_with([' ', '\t'])
                        && rest.trim_start().starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                })
            });
            if item {
                return Some(docs_from.unwrap_or(line_start));
            }
            docs_from = None;
        }
        line_start = line_end + 1;
    }
    None
}

fn scan_with(text: &str, find_runaway: bool, mut nesting: Nesting) -> Spans {
    let bytes = text.as_bytes();
    let mut out = Spans { shallowest: nesting.depth, ..Spans::default() };
    // Start of the run of doc comments that directly precedes the current position, if any.
    let mut doc_run_start: Option<usize> = None;
    let mut nots: usize = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // A byte order mark is a blank to the grammar (`WHITESPACE`): it does not part doc
        // comments from their item.
        if b == 0xEF && text[i..].starts_with('\u{FEFF}') {
            i += '\u{FEFF}'.len_utf8();
            continue;
        }
        if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            let end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            let end_trimmed = if end > i && bytes[end - 1] == b'\r' { end - 1 } else { end };
            let body = &text[i..end_trimmed];
            let is_doc = body.starts_with("///") && !body.starts_with("////");
            // A plain comment between doc comments and their item is skipped like a blank (the
            // grammar's COMMENT), so the docs still belong to the item.
            if is_doc {
                doc_run_start.get_or_insert(i);
            }
            out.comments.push(CommentSpan { span: Span::new(i, end_trimmed), is_doc });
            i = end;
            continue;
        }
        if b == b'"' && bytes[i..].starts_with(b"\"\"\"") {
            doc_run_start = None;
            nesting.token(None, b'"');
            match text[i + 3..].find("\"\"\"") {
                Some(n) => match runaway_end(text, i + 3, i + 3 + n).filter(|_| find_runaway) {
                    Some(resume) => {
                        out.unterminated.push(Span::new(i, i + 3));
                        i = resume;
                    }
                    None => i = i + 3 + n + 3,
                },
                None => {
                    out.unterminated.push(Span::new(i, i + 3));
                    i = bytes.len();
                }
            }
            continue;
        }
        if b == b'"' {
            doc_run_start = None;
            nesting.token(None, b'"');
            let start = i;
            i += 1;
            loop {
                match bytes.get(i) {
                    None | Some(b'\n') => {
                        out.unterminated.push(Span::new(start, start + 1));
                        break;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => i += if bytes.get(i + 1).is_some_and(|&c| c != b'\n') { 2 } else { 1 },
                    Some(_) => i += 1,
                }
            }
            continue;
        }
        if is_ident_byte(b) {
            let start = i;
            while i < bytes.len() && is_ident_byte(bytes[i]) {
                i += 1;
            }
            let word = &text[start..i];
            nots = if word == "not" { nots + 1 } else { 0 };
            let level = nesting.token(Some(word), 0);
            if (nots > crate::MAX_NESTING || level > crate::MAX_NESTING) && out.too_deep.is_none() {
                out.too_deep = Some(start);
            }
            let after_digit = start > 0 && bytes[start - 1].is_ascii_digit();
            if !after_digit && ITEM_KEYWORDS.contains(&word) {
                out.item_starts.push(doc_run_start.unwrap_or(start));
            }
            doc_run_start = None;
            continue;
        }
        doc_run_start = None;
        if nesting.token(None, b) > crate::MAX_NESTING && out.too_deep.is_none() {
            out.too_deep = Some(i);
        }
        out.shallowest = out.shallowest.min(nesting.depth);
        if nesting.depth == 1 && matches!(b, b'(' | b'[' | b'{') {
            out.top_opens.push((i + 1, nesting.chained));
        }
        if !b.is_ascii_whitespace() && b != b'(' {
            nots = 0;
        }
        // Step over one whole character, not one byte.
        i += if b.is_ascii() { 1 } else { text[i..].chars().next().map_or(1, char::len_utf8) };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_comments_strings_and_item_starts() {
        let text = "// a\n/// doc\ncomponent x { image = \"// not a comment\" }\npipeline p() { }\n";
        let scan = scan(text);
        assert_eq!(scan.comments.len(), 2);
        assert!(scan.comments[1].is_doc);
        assert_eq!(scan.item_starts, vec![5, text.find("pipeline").unwrap_or_default()]);
        assert!(scan.unterminated.is_empty());
    }

    #[test]
    fn reports_unterminated_strings() {
        let scan = scan("component x {\n image = \"abc\n}\n");
        assert_eq!(scan.unterminated, vec![Span::new(23, 24)]);
        let scan2 = scan_triple();
        assert_eq!(scan2.unterminated.len(), 1);
    }

    fn scan_triple() -> Scan {
        scan("component x { python \"\"\"\nprint(1)\n }")
    }

    #[test]
    fn a_script_left_open_is_found_where_it_runs_into_the_next_item() {
        let script = |name: &str, close: bool| {
            format!(
                "component {name} {{\n    python \"\"\"\n        import os\n        print(1)\n    {}\n}}\n\n",
                if close { "\"\"\"" } else { "" }
            )
        };
        let mut text = script("a", true);
        let broken_start = text.len();
        text.push_str(&script("b", false));
        for name in ["c", "d", "e"] {
            text.push_str(&script(name, true));
        }
        let scan = scan(&text);
        let open = text[broken_start..].find("\"\"\"").map(|n| broken_start + n).unwrap_or_default();
        assert_eq!(scan.unterminated, vec![Span::new(open, open + 3)]);
        // Every item still starts where it does: the ones after the broken script parse.
        assert_eq!(scan.item_starts.len(), 5, "{:?}", scan.item_starts);
        // A file whose scripts all close is read as before, even with item keywords inside a script.
        let valid = "component a {\n    python \"\"\"\ncomponent x = 1\n\"\"\"\n}\n";
        assert!(super::scan(valid).unterminated.is_empty());
        assert_eq!(super::scan(valid).item_starts, vec![0]);
    }

    #[test]
    fn an_else_if_chain_nests_like_brackets() {
        let chain = |n: usize| format!("pipeline p() {{ if a {{ }}{} }}", " else if a { }".repeat(n));
        assert!(scan(&chain(crate::MAX_NESTING - 2)).too_deep.is_none());
        assert!(scan(&chain(crate::MAX_NESTING)).too_deep.is_some());
        // Chains that end do not add up: many short chains in a row are fine.
        let many = format!("pipeline p() {{ {} }}", "if a { } else if a { } else { }\nx = f()\n".repeat(500));
        assert!(scan(&many).too_deep.is_none());
        // A chain inside a block ends with the block.
        let nested = format!("pipeline p() {{ {} }}", "for x in xs { if a { } else if a { } }\n".repeat(500));
        assert!(scan(&nested).too_deep.is_none());
    }

    #[test]
    fn keywords_inside_strings_and_names_do_not_start_items() {
        let scan = scan("component my_component { sh \"\"\" pipeline \"\"\" import_x = 1 }");
        assert_eq!(scan.item_starts, vec![0]);
    }
}

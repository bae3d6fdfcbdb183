//! The output buffer and the comment machinery shared by every printing routine.
//!
//! Printing walks the tree in source order. Comments are kept in one queue, also in source order, and
//! leave it in three ways:
//! - at a slot of a sequence (before a member, a statement, a list element, an argument or a closing
//!   bracket) as comment lines, with the blank lines the user left before them;
//! - after the last token of a line, as a trailing comment (two spaces, then the comment);
//! - anywhere else, just before the first token that follows them in the source ([`Printer::tok`]):
//!   the line ends there and continues one level deeper.
//!
//! Every token printed from the tree goes through [`Printer::tok`] with its source position, so a
//! comment can never be printed after a token that followed it, nor be lost.

use kfl_diagnostics::Span;
use kfl_syntax::Comment;

pub(crate) const MAX_WIDTH: usize = 100;
pub(crate) const INDENT: usize = 4;

/// The display width of a piece of text, in columns.
pub(crate) fn width(text: &str) -> usize {
    text.chars().count()
}

/// One entry of a sequence that may take part in an alignment run.
pub(crate) struct Entry {
    /// Where the entry starts, its doc comment included.
    pub start: usize,
    pub end: usize,
    /// Entries of the same group align with each other; `None` never aligns.
    pub group: Option<u8>,
    /// The width of what is padded (a name, a key, `name:`).
    pub width: usize,
    /// The entry takes several lines whatever the width: a run ends after it.
    pub multiline: bool,
}

pub(crate) struct Printer<'a> {
    pub(crate) src: &'a str,
    /// The plain comments (not `///`), in source order.
    comments: Vec<&'a Comment>,
    /// The first comment not printed yet.
    next: usize,
    out: String,
    /// `Some(indent)` at the start of a line nothing has been written to yet.
    pending_indent: Option<usize>,
    /// Spaces to write before the next token on the current line.
    pending_spaces: usize,
    /// The source end of the last token or comment printed.
    pub(crate) last_end: usize,
    /// The indent of the line the current construct started on: a comment that breaks a line in an
    /// odd place continues one level deeper than this.
    pub(crate) base_indent: usize,
}

impl<'a> Printer<'a> {
    pub(crate) fn new(src: &'a str, comments: &'a [Comment]) -> Printer<'a> {
        let mut comments: Vec<&Comment> = comments.iter().filter(|c| !c.is_doc).collect();
        comments.sort_by_key(|c| c.span.start);
        Printer {
            src,
            comments,
            next: 0,
            out: String::with_capacity(src.len() + src.len() / 4),
            pending_indent: Some(0),
            pending_spaces: 0,
            last_end: 0,
            base_indent: 0,
        }
    }

    pub(crate) fn finish(mut self) -> String {
        // `file` prints every comment; this only guards against losing one.
        self.base_indent = 0;
        let mut first = self.out.is_empty();
        self.own_line_comments(usize::MAX, 0, &mut first, true);
        if self.pending_indent.is_none() {
            self.out.push('\n');
        }
        while self.out.ends_with("\n\n") {
            self.out.pop();
        }
        if self.out.trim().is_empty() {
            return String::new();
        }
        self.out
    }

    // --- The source -------------------------------------------------------------------------------

    pub(crate) fn text(&self, span: Span) -> &'a str {
        self.src.get(span.range()).unwrap_or("")
    }

    /// Where the node at `span` really ends. The parser's spans of nodes that end in an optional or
    /// repeated part (`a == b`, `x: Int`, `name = value`, a statement) run on over the blanks and
    /// comments after them; this trims those.
    pub(crate) fn end(&self, span: Span) -> usize {
        let start = span.start as usize;
        let bytes = self.src.as_bytes();
        let mut end = (span.end as usize).min(bytes.len());
        loop {
            while end > start && bytes.get(end - 1).is_some_and(|b| b.is_ascii_whitespace()) {
                end -= 1;
            }
            let i = self.comments.partition_point(|c| (c.span.end as usize) < end);
            // A comment's own trailing blanks are part of it, hence "ends at or after".
            match self.comments.get(i) {
                Some(c) if (c.span.start as usize) < end && c.span.start as usize >= start => {
                    end = c.span.start as usize;
                }
                _ => return end.max(start),
            }
        }
    }

    /// The source range of a node, without the blanks and comments after it.
    pub(crate) fn range(&self, span: Span) -> (usize, usize) {
        (span.start as usize, self.end(span))
    }

    pub(crate) fn newlines(&self, from: usize, to: usize) -> usize {
        self.src.get(from..to).map_or(0, |gap| gap.bytes().filter(|&b| b == b'\n').count())
    }

    /// The first position at or after `from` that is not whitespace or a comment.
    pub(crate) fn skip_trivia(&self, from: usize) -> usize {
        let bytes = self.src.as_bytes();
        let mut i = from;
        loop {
            while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
                i += 1;
            }
            let rest = self.src.get(i..).unwrap_or("");
            if rest.starts_with("//") {
                i += rest.find('\n').unwrap_or(rest.len());
            } else if rest.starts_with('\u{feff}') {
                i += '\u{feff}'.len_utf8();
            } else {
                return i;
            }
        }
    }

    /// The position of the closing `close` after the last entry of a list, skipping a trailing comma.
    pub(crate) fn find_closer(&self, from: usize, close: u8) -> Option<usize> {
        let mut i = from;
        loop {
            i = self.skip_trivia(i);
            match self.src.as_bytes().get(i) {
                Some(&b) if b == close => return Some(i),
                Some(b',') => i += 1,
                _ => return None,
            }
        }
    }

    // --- The output -------------------------------------------------------------------------------

    pub(crate) fn write(&mut self, text: &str) {
        if let Some(indent) = self.pending_indent.take() {
            self.out.extend(std::iter::repeat_n(' ', indent));
            self.pending_spaces = 0;
        }
        self.out.extend(std::iter::repeat_n(' ', self.pending_spaces));
        self.pending_spaces = 0;
        self.out.push_str(text);
    }

    /// Spaces before the next token (none at the start of a line).
    pub(crate) fn spaces(&mut self, n: usize) {
        if self.pending_indent.is_none() {
            self.pending_spaces += n;
        }
    }

    /// Ends the current line, if anything is on it, and sets the indent of the next one.
    pub(crate) fn newline(&mut self, indent: usize) {
        if self.pending_indent.is_none() {
            self.out.push('\n');
        }
        self.pending_indent = Some(indent);
        self.pending_spaces = 0;
    }

    /// One empty line, never two, never at the start of the output.
    pub(crate) fn blank_line(&mut self) {
        if self.pending_indent.is_none() {
            self.newline(self.base_indent);
        }
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn current_line(&self) -> &str {
        let start = self.out.rfind('\n').map_or(0, |i| i + 1);
        self.out.get(start..).unwrap_or("")
    }

    /// The column the next token would start at.
    pub(crate) fn col(&self) -> usize {
        match self.pending_indent {
            Some(indent) => indent,
            None => width(self.current_line()) + self.pending_spaces,
        }
    }

    /// The indent of the current line.
    pub(crate) fn line_indent(&self) -> usize {
        match self.pending_indent {
            Some(indent) => indent,
            None => {
                let line = self.current_line();
                line.len() - line.trim_start_matches(' ').len()
            }
        }
    }

    pub(crate) fn fits(&self, text: &str, suffix: usize) -> bool {
        self.col() + width(text) + suffix <= MAX_WIDTH
    }

    /// Prints a token (or a flat rendering of a whole node) found at `start..end` in the source,
    /// after any comment that comes before it.
    pub(crate) fn tok(&mut self, start: usize, end: usize, text: &str) {
        self.flush_before(start);
        self.write(text);
        self.last_end = self.last_end.max(end);
    }

    pub(crate) fn tok_span(&mut self, span: Span, text: &str) {
        let (start, end) = self.range(span);
        self.tok(start, end, text);
    }

    pub(crate) fn ident(&mut self, ident: &kfl_syntax::ast::Ident) {
        self.tok_span(ident.span, &ident.text);
    }

    /// Prints a keyword or punctuation that the tree has no span for, finding it in the source after
    /// `after` (so that comments before it are placed right).
    pub(crate) fn tok_after(&mut self, after: usize, text: &str) {
        let at = self.skip_trivia(after);
        if self.src.get(at..).is_some_and(|rest| rest.starts_with(text)) {
            self.tok(at, at + text.len(), text);
        } else {
            self.write(text);
        }
    }

    // --- Comments ---------------------------------------------------------------------------------

    fn peek(&self) -> Option<&'a Comment> {
        self.comments.get(self.next).copied()
    }

    fn print_comment(&mut self, comment: &Comment) {
        self.write(comment.text.trim_end());
        self.last_end = self.last_end.max(comment.span.end as usize);
        self.next += 1;
    }

    /// Whether a plain comment starts in `start..end`.
    pub(crate) fn comment_in(&self, start: usize, end: usize) -> bool {
        let i = self.comments.partition_point(|c| (c.span.start as usize) < start);
        self.comments.get(i).is_some_and(|c| (c.span.start as usize) < end)
    }

    /// Prints the comments before `pos` where no slot was made for them: at the end of the current
    /// line if they were at the end of a line, else on lines of their own; the line then continues
    /// one level deeper.
    pub(crate) fn flush_before(&mut self, pos: usize) {
        while let Some(comment) = self.peek() {
            let start = comment.span.start as usize;
            if start >= pos {
                break;
            }
            let continuation = self.base_indent + INDENT;
            let same_line = self.pending_indent.is_none()
                && self.src.get(self.last_end..start).is_some_and(|gap| !gap.contains('\n'));
            if same_line {
                self.pending_spaces = 2;
            } else if self.pending_indent.is_none() {
                self.newline(continuation);
            }
            self.print_comment(comment);
            self.newline(continuation);
        }
    }

    /// Prints the next comment at the end of the current line if it is on the same source line as
    /// the last token printed, with at most commas between them.
    pub(crate) fn trailing(&mut self) {
        if self.pending_indent.is_some() {
            return;
        }
        let Some(comment) = self.peek() else {
            return;
        };
        let Some(gap) = self.src.get(self.last_end..comment.span.start as usize) else {
            return;
        };
        if gap.chars().all(|c| c == ',' || (c.is_whitespace() && c != '\n')) {
            self.pending_spaces = 2;
            self.print_comment(comment);
        }
    }

    /// Prints the comments before `before` on lines of their own at `indent`, keeping (at most) one
    /// blank line where the user left one, except before the first line of a block.
    pub(crate) fn own_line_comments(&mut self, before: usize, indent: usize, first: &mut bool, keep_blanks: bool) {
        while let Some(comment) = self.peek() {
            let start = comment.span.start as usize;
            if start >= before {
                break;
            }
            self.newline(indent);
            if keep_blanks && !*first && self.newlines(self.last_end, start) >= 2 {
                self.blank_line();
            }
            self.print_comment(comment);
            self.newline(indent);
            *first = false;
        }
    }

    /// Whether the printer keeps a blank line somewhere between the entry ending at `from` and the
    /// one starting at `to` (the same rule as [`Printer::seq`] follows).
    pub(crate) fn blank_in_gap(&self, from: usize, to: usize) -> bool {
        let mut last = from;
        let i = self.comments.partition_point(|c| (c.span.start as usize) < from);
        for comment in self.comments.get(i..).unwrap_or_default() {
            let start = comment.span.start as usize;
            if start >= to {
                break;
            }
            if self.newlines(last, start) >= 2 {
                return true;
            }
            last = comment.span.end as usize;
        }
        self.newlines(last, to) >= 2
    }

    // --- Sequences --------------------------------------------------------------------------------

    /// Prints entries one per line at `indent`, each followed by `sep`, with the comments around
    /// them, up to the closing bracket at `close` (whose own line the caller prints), and then the
    /// comments between `close` and `until`. `spans` are the entries' source ranges, doc comments
    /// included.
    fn seq(
        &mut self,
        spans: &[(usize, usize)],
        indent: usize,
        (close, until): (usize, usize),
        sep: &str,
        print: &mut dyn FnMut(&mut Self, usize),
    ) {
        let saved = self.base_indent;
        self.base_indent = indent;
        self.trailing();
        self.newline(indent);
        let mut first = true;
        for (i, &(start, end)) in spans.iter().enumerate() {
            self.base_indent = indent;
            self.own_line_comments(start, indent, &mut first, true);
            if !first && self.newlines(self.last_end, start) >= 2 {
                self.blank_line();
            }
            self.newline(indent);
            print(self, i);
            self.flush_before(end);
            if !sep.is_empty() {
                self.write(sep);
            }
            self.last_end = self.last_end.max(end);
            self.trailing();
            self.newline(indent);
            first = false;
        }
        self.own_line_comments(close, indent, &mut first, true);
        if until > close {
            self.last_end = self.last_end.max(close + 1);
            self.own_line_comments(until, indent, &mut first, true);
        }
        self.base_indent = saved;
    }

    /// `open` entries `close` (a list, a map, arguments, parameters): on one line when empty (and
    /// without comments), else one entry per line one level deeper than the current line.
    pub(crate) fn bracketed(
        &mut self,
        (open, close): (usize, usize),
        delimiters: (&str, &str),
        spans: &[(usize, usize)],
        sep: &str,
        print: &mut dyn FnMut(&mut Self, usize),
    ) {
        let indent = self.line_indent();
        self.delimited(indent, (open, close, close), delimiters, spans, sep, print);
    }

    /// `{ entries }` of a component, a pipeline, a statement block or a key/value block: entries one
    /// level deeper than the line the construct started on. Comments between `close` and `until`
    /// (between `}` and `else`) move inside, after the last entry.
    pub(crate) fn braced(
        &mut self,
        (open, close, until): (usize, usize, usize),
        spans: &[(usize, usize)],
        print: &mut dyn FnMut(&mut Self, usize),
    ) {
        let indent = self.base_indent;
        self.delimited(indent, (open, close, until), ("{", "}"), spans, "", print);
    }

    /// Comments just before `open`, where there is no line to keep them on, move inside, before
    /// the first entry.
    fn delimited(
        &mut self,
        indent: usize,
        (open, close, until): (usize, usize, usize),
        (open_text, close_text): (&str, &str),
        spans: &[(usize, usize)],
        sep: &str,
        print: &mut dyn FnMut(&mut Self, usize),
    ) {
        let comment_before = self.peek().is_some_and(|c| (c.span.start as usize) < open);
        if spans.is_empty() && !comment_before && !self.comment_in(open, until.max(close)) {
            self.tok(open, close + 1, &format!("{open_text}{close_text}"));
            return;
        }
        self.write(open_text);
        self.last_end = self.last_end.max(open + 1);
        self.seq(spans, indent + INDENT, (close, until), sep, print);
        self.newline(indent);
        self.tok(close, close + 1, close_text);
    }

    /// For each entry, the width to pad it to (`0` when it aligns with nothing): the widest of its
    /// run. A run is consecutive entries of one group, no blank line between them, and ends after
    /// an entry that takes several lines.
    pub(crate) fn align(&self, entries: &[Entry]) -> (Vec<usize>, Vec<usize>) {
        let mut runs = vec![0; entries.len()];
        let mut run = 0;
        for (i, entry) in entries.iter().enumerate() {
            let Some(group) = entry.group else {
                continue;
            };
            let joins = i.checked_sub(1).and_then(|p| entries.get(p)).is_some_and(|prev| {
                prev.group == Some(group) && !prev.multiline && !self.blank_in_gap(prev.end, entry.start)
            });
            if !joins {
                run += 1;
            }
            runs[i] = run;
        }
        let mut widths = vec![0; entries.len()];
        let mut i = 0;
        while i < entries.len() {
            let id = runs[i];
            let mut j = i;
            let mut max = 0;
            while j < entries.len() && runs[j] == id {
                max = max.max(entries[j].width);
                j += 1;
            }
            if id != 0 {
                for w in widths.iter_mut().take(j).skip(i) {
                    *w = max;
                }
            }
            i = j;
        }
        (widths, runs)
    }
}

//! Diagnostics as data.
//!
//! Invariants:
//! - A [`Diagnostic`] is plain data: a permanent [`Code`], a [`Severity`], a short lowercase message
//!   without a final period, one primary [`Label`] at the exact span, optional secondary labels and
//!   optional help. Renderers (miette in the CLI, LSP in the server, JSON, SARIF) only convert it.
//! - Spans are byte offsets into the text of one file. A label with `path: None` points into the
//!   file the diagnostic belongs to; a label with a path points into that other file.
//! - Every code is listed once in [`codes::ALL`] with its documentation; a code is never reused for a
//!   different problem. This crate does no IO.

pub mod codes;

use std::sync::Arc;

pub use codes::{Code, CodeInfo};

/// A half-open byte range `start..end` in one file's text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        debug_assert!(start <= end);
        Span { start: start as u32, end: end as u32 }
    }
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    /// The smallest span covering both.
    pub fn cover(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
    pub fn shifted(self, by: usize) -> Span {
        Span { start: self.start + by as u32, end: self.end + by as u32 }
    }
    pub fn contains(self, offset: usize) -> bool {
        (self.start as usize) <= offset && offset <= (self.end as usize)
    }
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash, Debug, serde::Serialize)]
pub struct Label {
    /// `None`: the file the diagnostic belongs to. `Some(path)`: another file of the project.
    pub path: Option<Arc<str>>,
    pub span: Span,
    pub message: String,
}

impl Label {
    pub fn new(span: Span, message: impl Into<String>) -> Label {
        Label { path: None, span, message: message.into() }
    }
    pub fn in_file(path: Arc<str>, span: Span, message: impl Into<String>) -> Label {
        Label { path: Some(path), span, message: message.into() }
    }
}

#[derive(Clone, PartialEq, Eq, Hash, Debug, serde::Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's own severity and a primary label at `span`.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.info().severity,
            message: message.into(),
            primary: Label::new(span, ""),
            secondary: Vec::new(),
            help: None,
        }
    }
    /// Sets what the primary label says about its span.
    pub fn label(mut self, message: impl Into<String>) -> Diagnostic {
        self.primary.message = message.into();
        self
    }
    pub fn secondary(mut self, label: Label) -> Diagnostic {
        self.secondary.push(label);
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
    pub fn maybe_help(mut self, help: Option<String>) -> Diagnostic {
        if help.is_some() {
            self.help = help;
        }
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Orders diagnostics by position, then code, so that every front end shows them alike.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (a.primary.span.start, a.primary.span.end, a.code).cmp(&(b.primary.span.start, b.primary.span.end, b.code))
    });
}

/// The closest candidate by edit distance, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let distance = if candidate.eq_ignore_ascii_case(name) { 0 } else { edit_distance(name, candidate) };
        if distance <= limit && best.is_none_or(|(d, c)| (distance, candidate) < (d, c)) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance counting a swap of two neighbours as one edit (optimal string alignment).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_swaps_once() {
        assert_eq!(edit_distance("procesed", "processed"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn did_you_mean_picks_the_closest_plausible_name() {
        let names = ["processed_data", "rows", "raw_data"];
        assert_eq!(did_you_mean("procesed_data", names), Some("processed_data"));
        assert_eq!(did_you_mean("row", names), Some("rows"));
        assert_eq!(did_you_mean("completely_else", names), None);
    }
}

/// User text made safe to print on one line of a terminal, a log or a comment: control characters
/// other than tab, and the characters some readers take as line breaks (U+0085, U+2028, U+2029),
/// become `\u{…}` escapes, so a name or a path can neither end a comment nor move the cursor.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Converts byte offsets into lines and columns, as people and editors count them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LineIndex {
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

/// A position: 0-based line, and 0-based column in Unicode scalar values and in UTF-16 code units.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
pub struct LineCol {
    pub line: u32,
    pub column: u32,
    pub column_utf16: u32,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        // (`memchr` finds the line ends several times faster than a search for '\n': the language
        // server makes an index of a 50,000-line file after every edit.)
        let mut line_starts = Vec::with_capacity(text.len() / 32 + 1);
        line_starts.push(0);
        line_starts.extend(newlines(text, 0));
        LineIndex { line_starts }
    }

    /// Follows the replacement of the bytes `start..end` of the text by `new_text`: lines that
    /// started inside the replaced bytes go (their `\n` went with them), those of the new text come
    /// in, and those after move by the change in length.
    pub fn replace(&mut self, start: usize, end: usize, new_text: &str) {
        let first_gone = self.line_starts.partition_point(|&s| s <= start);
        let first_kept = self.line_starts.partition_point(|&s| s <= end);
        let added: Vec<usize> = newlines(new_text, start).collect();
        let count = added.len();
        self.line_starts.splice(first_gone..first_kept, added);
        for s in &mut self.line_starts[first_gone + count..] {
            *s = *s - (end - start) + new_text.len();
        }
    }

    /// The position of a byte offset (clamped to the text, and to a character boundary).
    pub fn line_col(&self, text: &str, offset: usize) -> LineCol {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let prefix = &text[self.line_starts[line]..offset];
        LineCol {
            line: line as u32,
            column: prefix.chars().count() as u32,
            column_utf16: prefix.encode_utf16().count() as u32,
        }
    }

    /// The byte offset of a 0-based line and UTF-16 column (clamped to the line).
    pub fn offset_utf16(&self, text: &str, line: u32, column_utf16: u32) -> usize {
        let Some(&start) = self.line_starts.get(line as usize) else {
            return text.len();
        };
        let end = self.line_starts.get(line as usize + 1).map_or(text.len(), |&e| e);
        let mut units = 0u32;
        for (i, c) in text[start..end].char_indices() {
            if units >= column_utf16 || c == '\n' {
                return start + i;
            }
            units += c.len_utf16() as u32;
        }
        end
    }

    /// The byte offset where a 0-based line starts, if the text has that line.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.line_starts.get(line).copied()
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

/// The offsets just after each `\n` of `text`, moved by `base`.
fn newlines(text: &str, base: usize) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr_iter(b'\n', text.as_bytes()).map(move |i| base + i + 1)
}

#[cfg(test)]
mod line_index_tests {
    use super::*;

    #[test]
    fn control_characters_and_unicode_line_breaks_are_escaped() {
        assert_eq!(escape_control("plain\ttext é"), "plain\ttext é");
        assert_eq!(escape_control("a\nb\rc\u{1b}[2Jd"), "a\\u{a}b\\u{d}c\\u{1b}[2Jd");
        assert_eq!(escape_control("x\u{85}y\u{2028}z\u{2029}"), "x\\u{85}y\\u{2028}z\\u{2029}");
    }

    #[test]
    fn counts_characters_and_utf16_units() {
        let text = "ab\nçé𝄞x\n";
        let index = LineIndex::new(text);
        let x = text.find('x').unwrap_or_default();
        assert_eq!(index.line_col(text, x), LineCol { line: 1, column: 3, column_utf16: 4 });
        assert_eq!(index.offset_utf16(text, 1, 4), x);
        assert_eq!(index.line_col(text, text.len()), LineCol { line: 2, column: 0, column_utf16: 0 });
    }
}

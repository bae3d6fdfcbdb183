//! Between the editor's world and the checker's: UTF-16 positions and byte offsets, URIs and
//! project paths, LSP diagnostics and KFL ones.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use kfl_check::{Db, SourceFile};
use kfl_diagnostics::{Code, LineIndex, Severity, Span};
use tower_lsp_server::ls_types::{
    self as lsp, DiagnosticRelatedInformation, DiagnosticTag, Location, NumberOrString, Position, Range, Uri,
};

/// The line index of a file, kept with the file's text.
#[salsa::tracked(returns(ref))]
pub fn line_index(db: &dyn Db, file: SourceFile) -> Arc<LineIndex> {
    Arc::new(LineIndex::new(file.text(db)))
}

/// Positions of one text.
#[derive(Clone, Copy)]
pub struct Lines<'a> {
    pub text: &'a str,
    pub index: &'a LineIndex,
}

impl<'a> Lines<'a> {
    pub fn of(db: &'a dyn Db, file: SourceFile) -> Lines<'a> {
        Lines { text: file.text(db), index: line_index(db, file) }
    }

    pub fn position(&self, offset: usize) -> Position {
        let at = self.index.line_col(self.text, offset);
        Position { line: at.line, character: at.column_utf16 }
    }

    pub fn range(&self, span: Span) -> Range {
        Range { start: self.position(span.start as usize), end: self.position(span.end as usize) }
    }

    /// The byte offset of a position; positions past a line's end or the text's end are clamped.
    pub fn offset(&self, position: Position) -> usize {
        self.index.offset_utf16(self.text, position.line, position.character)
    }

    /// The byte span of a range (start and end in order, whatever the client sent).
    pub fn span(&self, range: Range) -> Span {
        let (a, b) = (self.offset(range.start), self.offset(range.end));
        Span::new(a.min(b), a.max(b))
    }

    pub fn end(&self) -> Position {
        self.position(self.text.len())
    }
}

/// The text of an open document with the starts of its lines, both kept up to date through its
/// edits, so that a `didChange` finds its UTF-16 range without scanning the whole text (at 50,000
/// lines, building a line index for every content change cost more than the rest of applying it)
/// and is applied in place.
#[derive(Clone, Debug, PartialEq)]
pub struct DocumentText {
    text: String,
    lines: LineIndex,
}

impl DocumentText {
    pub fn new(text: String) -> DocumentText {
        let lines = LineIndex::new(&text);
        DocumentText { text, lines }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Applies one content change of `textDocument/didChange`: a UTF-16 range (its ends in either
    /// order, positions resolved as [`LineIndex::offset_utf16`]) and its new text, or the whole text.
    pub fn apply_change(&mut self, range: Option<Range>, new_text: &str) {
        let Some(range) = range else {
            self.text.clear();
            self.text.push_str(new_text);
            self.lines = LineIndex::new(new_text);
            return;
        };
        let offset = |p: Position| self.lines.offset_utf16(&self.text, p.line, p.character);
        let (a, b) = (offset(range.start), offset(range.end));
        let (start, end) = (a.min(b), a.max(b));
        self.text.replace_range(start..end, new_text);
        self.lines.replace(start, end, new_text);
    }
}

/// The project path of a document: the file system path of a `file:` URI, the URI itself otherwise.
pub fn path_of_uri(uri: &Uri) -> Arc<str> {
    if uri.scheme().as_str().eq_ignore_ascii_case("file") {
        if let Some(path) = uri.to_file_path() {
            return kfl_check::normalize_path(&path.to_string_lossy());
        }
    }
    Arc::from(uri.as_str())
}

/// The URIs the client used for the files it opened, by path; other paths become `file:` URIs.
#[derive(Clone, Default)]
pub struct UriMap {
    pub known: HashMap<Arc<str>, Uri>,
}

impl UriMap {
    pub fn uri(&self, path: &str) -> Option<Uri> {
        if let Some(uri) = self.known.get(path) {
            return Some(uri.clone());
        }
        if path.starts_with('/') {
            Uri::from_file_path(path)
        } else {
            Uri::from_str(path).ok()
        }
    }

    pub fn location(&self, db: &dyn Db, file: SourceFile, span: Span) -> Option<Location> {
        let uri = self.uri(file.path(db))?;
        Some(Location { uri, range: Lines::of(db, file).range(span) })
    }
}

/// What the client said it can show.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientSupport {
    pub related_information: bool,
    pub diagnostic_tags: bool,
    pub snippets: bool,
    pub markdown_hover: bool,
    /// Completion items and signatures may carry Markdown documentation.
    pub markdown_docs: bool,
    pub hierarchical_symbols: bool,
}

/// Codes of warnings about something unused: clients may show the span faded.
const UNNECESSARY: [Code; 3] = [Code::UnusedParameter, Code::UnusedImport, Code::UnusedLoopVariable];

/// A KFL diagnostic as LSP sends it: the same code and message as the CLI; secondary labels become
/// related information, and so does the help when the client shows related information (it is
/// appended to the message otherwise).
pub fn diagnostic(
    db: &dyn Db,
    file: SourceFile,
    d: &kfl_diagnostics::Diagnostic,
    uris: &UriMap,
    support: ClientSupport,
) -> lsp::Diagnostic {
    let lines = Lines::of(db, file);
    let range = lines.range(d.primary.span);
    let mut related = Vec::new();
    let own_uri = uris.uri(file.path(db));
    for label in &d.secondary {
        let location = match &label.path {
            None => own_uri.clone().map(|uri| Location { uri, range: lines.range(label.span) }),
            Some(path) => crate::index::project_file(db, path).and_then(|other| uris.location(db, other, label.span)),
        };
        if let Some(location) = location {
            related.push(DiagnosticRelatedInformation { location, message: label.message.clone() });
        }
    }
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        match (&own_uri, support.related_information) {
            (Some(uri), true) => related.push(DiagnosticRelatedInformation {
                location: Location { uri: uri.clone(), range },
                message: format!("help: {help}"),
            }),
            _ => {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
        }
    }
    let tags = (support.diagnostic_tags && UNNECESSARY.contains(&d.code)).then(|| vec![DiagnosticTag::UNNECESSARY]);
    lsp::Diagnostic {
        range,
        severity: Some(match d.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.id().to_string())),
        code_description: None,
        source: Some("kfl".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags,
        data: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kfl_diagnostics::LineIndex;

    fn pos(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    fn range(start: (u32, u32), end: (u32, u32)) -> Option<Range> {
        Some(Range { start: pos(start.0, start.1), end: pos(end.0, end.1) })
    }

    /// A small pseudo-random generator (xorshift), so that the tests need no dependency.
    fn generator(mut seed: u64) -> impl FnMut(u64) -> u32 {
        move |bound| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound) as u32
        }
    }

    /// Applies a change and checks that the line starts are those of the new text.
    fn change(doc: &mut DocumentText, range: Option<Range>, new_text: &str) {
        doc.apply_change(range, new_text);
        assert_eq!(*doc, DocumentText::new(doc.text().to_string()), "line starts out of date");
    }

    /// What a change did before documents kept their line starts: a fresh [`LineIndex`] each time.
    fn reference_change(text: &mut String, range: Option<Range>, new_text: &str) {
        let Some(range) = range else {
            *text = new_text.to_string();
            return;
        };
        let index = LineIndex::new(text);
        let a = index.offset_utf16(text, range.start.line, range.start.character);
        let b = index.offset_utf16(text, range.end.line, range.end.character);
        text.replace_range(a.min(b)..a.max(b), new_text);
    }

    #[test]
    fn changes_count_utf16_units() {
        // `é` is one UTF-16 unit and two bytes, `𝄞` two units and four bytes.
        let mut doc = DocumentText::new("a é𝄞 b\nx".to_string());
        change(&mut doc, range((0, 5), (0, 6)), "c");
        assert_eq!(doc.text(), "a é𝄞cb\nx");
        change(&mut doc, range((0, 2), (0, 5)), "");
        assert_eq!(doc.text(), "a cb\nx");
        // Past the end of a line or of the text is clamped.
        change(&mut doc, range((1, 9), (7, 0)), "y");
        assert_eq!(doc.text(), "a cb\nxy");
        change(&mut doc, None, "new\ntext");
        assert_eq!(doc.text(), "new\ntext");
    }

    #[test]
    fn astral_characters_take_two_columns() {
        let mut doc = DocumentText::new("𝄞𝄞x\n𝄞y".to_string());
        // Column 4 is after both clefs; column 2 after the first.
        change(&mut doc, range((0, 4), (0, 5)), "z");
        assert_eq!(doc.text(), "𝄞𝄞z\n𝄞y");
        change(&mut doc, range((0, 2), (0, 4)), "");
        assert_eq!(doc.text(), "𝄞z\n𝄞y");
        // A column inside a surrogate pair stands for the end of that character, as before.
        change(&mut doc, range((1, 1), (1, 1)), "|");
        assert_eq!(doc.text(), "𝄞z\n𝄞|y");
    }

    #[test]
    fn several_changes_apply_in_order() {
        // One notification: each change's positions are in the text the previous ones left.
        let mut doc = DocumentText::new("one\ntwo\nthree\n".to_string());
        for (r, new_text) in [
            (range((0, 0), (0, 3)), "1\n1.5"),
            (range((2, 0), (2, 3)), "2"),
            (range((3, 5), (4, 0)), ""),
            (range((0, 1), (0, 1)), "!"),
        ] {
            change(&mut doc, r, new_text);
        }
        assert_eq!(doc.text(), "1!\n1.5\n2\nthree");
    }

    #[test]
    fn newlines_come_and_go() {
        let mut doc = DocumentText::new("a\nb\nc\nd\n".to_string());
        change(&mut doc, range((1, 0), (3, 0)), "");
        assert_eq!(doc.text(), "a\nd\n");
        change(&mut doc, range((0, 1), (0, 1)), "\nx\ny");
        assert_eq!(doc.text(), "a\nx\ny\nd\n");
        // Ends in the wrong order are put right.
        change(&mut doc, range((3, 0), (1, 1)), "");
        assert_eq!(doc.text(), "a\nxd\n");
        change(&mut doc, range((9, 0), (9, 0)), "end");
        assert_eq!(doc.text(), "a\nxd\nend");
        change(&mut doc, range((0, 0), (9, 9)), "");
        assert_eq!(doc.text(), "");
        change(&mut doc, range((0, 0), (0, 0)), "\n\n");
        assert_eq!(doc.text(), "\n\n");
    }

    #[test]
    fn crlf_lines_end_at_the_line_feed() {
        // As in `LineIndex`: only `\n` ends a line, and a column past the end stops before it (so
        // after the `\r`).
        let mut doc = DocumentText::new("ab\r\ncd\r\n".to_string());
        change(&mut doc, range((0, 1), (1, 1)), "X");
        assert_eq!(doc.text(), "aXd\r\n");
        change(&mut doc, range((0, 9), (0, 9)), "!");
        assert_eq!(doc.text(), "aXd\r!\n");
        change(&mut doc, range((0, 3), (1, 0)), "\r\n\r\n");
        assert_eq!(doc.text(), "aXd\r\n\r\n");
    }

    #[test]
    fn changes_match_a_fresh_line_index() {
        // Pseudo-random changes, positions often past the ends, checked against the old way.
        let pieces = ["", "x", "é", "𝄞", "\n", "\r\n", "ab\ncd", "𝄞\n\né", "  "];
        let mut next = generator(0x2545_f491_4f6c_dd1d);
        let start = "first line\nsé𝄞cond\r\n\nlast".to_string();
        let mut doc = DocumentText::new(start.clone());
        let mut reference = start;
        for _ in 0..2000 {
            let lines = reference.matches('\n').count() as u64 + 2;
            let r = if next(50) == 0 { None } else { range((next(lines), next(14)), (next(lines), next(14))) };
            let new_text: String = (0..next(3)).map(|_| pieces[next(pieces.len() as u64) as usize]).collect();
            reference_change(&mut reference, r, &new_text);
            change(&mut doc, r, &new_text);
            assert_eq!(doc.text(), reference);
        }
    }

    #[test]
    fn positions_round_trip() {
        let text = "é𝄞x\nz";
        let index = LineIndex::new(text);
        let lines = Lines { text, index: &index };
        let x = text.find('x').unwrap_or_default();
        assert_eq!(lines.position(x), pos(0, 3));
        assert_eq!(lines.offset(pos(0, 3)), x);
        assert_eq!(lines.offset(pos(1, 0)), x + 2);
    }
}

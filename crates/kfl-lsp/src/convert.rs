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

/// Applies one content change of `textDocument/didChange` (a UTF-16 range, or the whole text).
pub fn apply_change(text: &mut String, range: Option<Range>, new_text: &str) {
    let Some(range) = range else {
        text.clear();
        text.push_str(new_text);
        return;
    };
    let index = LineIndex::new(text);
    let span = Lines { text, index: &index }.span(range);
    text.replace_range(span.range(), new_text);
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

    fn pos(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    #[test]
    fn changes_count_utf16_units() {
        // `é` is one UTF-16 unit and two bytes, `𝄞` two units and four bytes.
        let mut text = "a é𝄞 b\nx".to_string();
        apply_change(&mut text, Some(Range { start: pos(0, 5), end: pos(0, 6) }), "c");
        assert_eq!(text, "a é𝄞cb\nx");
        apply_change(&mut text, Some(Range { start: pos(0, 2), end: pos(0, 5) }), "");
        assert_eq!(text, "a cb\nx");
        // Past the end of a line or of the text is clamped.
        apply_change(&mut text, Some(Range { start: pos(1, 9), end: pos(7, 0) }), "y");
        assert_eq!(text, "a cb\nxy");
        apply_change(&mut text, None, "new");
        assert_eq!(text, "new");
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

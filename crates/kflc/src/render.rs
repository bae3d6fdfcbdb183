//! Diagnostics for people (miette) and for programs (JSON).

use std::fmt;

use kfl_check::{Database, SourceFile};
use kfl_diagnostics::{Diagnostic, LineIndex, Severity};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};

/// A diagnostic with its source, in the shape miette renders.
struct Report {
    diagnostic: Diagnostic,
    source: NamedSource<String>,
    help: Option<String>,
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diagnostic.code.id()))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = &self.diagnostic.primary;
        let label = |message: &str| (!message.is_empty()).then(|| message.to_string());
        let mut labels = vec![LabeledSpan::new_primary_with_span(label(&primary.message), primary.span.range())];
        for secondary in self.diagnostic.secondary.iter().filter(|l| l.path.is_none()) {
            labels.push(LabeledSpan::new_with_span(label(&secondary.message), secondary.span.range()));
        }
        Some(Box::new(labels.into_iter()))
    }
}

fn position(db: &Database, path: &str, offset: u32) -> String {
    match db.file(path) {
        Some(file) => {
            let text = file.text(db);
            let at = LineIndex::new(text).line_col(text, offset as usize);
            format!("{path}:{}:{}", at.line + 1, at.column + 1)
        }
        None => path.to_string(),
    }
}

/// Renders one diagnostic with its source excerpt; `colour` only on a terminal.
pub fn human(db: &Database, file: SourceFile, diagnostic: &Diagnostic, colour: bool) -> String {
    let text = file.text(db).clone();
    let mut help = diagnostic.help.clone();
    // miette shows one source per report: labels in other files become notes.
    for label in diagnostic.secondary.iter() {
        if let Some(path) = &label.path {
            let note = format!("note: {} ({})", label.message, position(db, path, label.span.start));
            help = Some(match help {
                Some(h) => format!("{h}\n{note}"),
                None => note,
            });
        }
    }
    let report = Report {
        diagnostic: diagnostic.clone(),
        source: NamedSource::new(file.path(db).to_string(), text).with_language("kfl"),
        help,
    };
    let theme = if colour { GraphicalTheme::unicode() } else { GraphicalTheme::none() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(120);
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        out = format!("{}: {} [{}]\n", diagnostic.severity.as_str(), diagnostic.message, diagnostic.code);
    }
    out.push('\n');
    out
}

#[derive(serde::Serialize)]
struct JsonPosition {
    /// 1-based.
    line: u32,
    /// 1-based, in Unicode scalar values.
    column: u32,
}

#[derive(serde::Serialize)]
struct JsonLabel {
    path: String,
    range: [u32; 2],
    start: JsonPosition,
    end: JsonPosition,
    message: String,
}

#[derive(serde::Serialize)]
struct JsonDiagnostic {
    path: String,
    /// Byte offsets, end exclusive.
    range: [u32; 2],
    start: JsonPosition,
    end: JsonPosition,
    code: String,
    name: String,
    severity: Severity,
    message: String,
    label: String,
    help: Option<String>,
    related: Vec<JsonLabel>,
}

fn json_position(db: &Database, path: &str, offset: u32) -> JsonPosition {
    match db.file(path) {
        Some(file) => {
            let text = file.text(db);
            let at = LineIndex::new(text).line_col(text, offset as usize);
            JsonPosition { line: at.line + 1, column: at.column + 1 }
        }
        None => JsonPosition { line: 0, column: 0 },
    }
}

/// All diagnostics as one JSON array.
pub fn json(db: &Database, diagnostics: &[(SourceFile, Diagnostic)]) -> String {
    let items: Vec<JsonDiagnostic> = diagnostics
        .iter()
        .map(|(file, d)| {
            let path = file.path(db).to_string();
            let related = d
                .secondary
                .iter()
                .map(|l| {
                    let lpath = l.path.as_deref().unwrap_or(&path).to_string();
                    JsonLabel {
                        start: json_position(db, &lpath, l.span.start),
                        end: json_position(db, &lpath, l.span.end),
                        path: lpath,
                        range: [l.span.start, l.span.end],
                        message: l.message.clone(),
                    }
                })
                .collect();
            JsonDiagnostic {
                start: json_position(db, &path, d.primary.span.start),
                end: json_position(db, &path, d.primary.span.end),
                path,
                range: [d.primary.span.start, d.primary.span.end],
                code: d.code.id().to_string(),
                name: d.code.info().name.to_string(),
                severity: d.severity,
                message: d.message.clone(),
                label: d.primary.message.clone(),
                help: d.help.clone(),
                related,
            }
        })
        .collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_string())
}

//! Diagnostics for people (miette) and for programs (JSON).
//!
//! Invariant: the line index of a file is built once per run ([`Lines`]), and miette reads only the
//! lines around a span ([`IndexedSource`]), so rendering N diagnostics of a file of size S costs
//! about S + N excerpts, not N × S.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use kfl_check::{Database, SourceFile};
use kfl_diagnostics::{Diagnostic, LineIndex, Severity};
#[cfg(feature = "cluster")]
use miette::NamedSource;
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan,
    SpanContents,
};

/// The line index of every file, built the first time a file is asked for.
pub struct Lines<'db> {
    db: &'db Database,
    indexes: RefCell<HashMap<Arc<str>, Arc<LineIndex>>>,
}

impl<'db> Lines<'db> {
    pub fn new(db: &'db Database) -> Lines<'db> {
        Lines { db, indexes: RefCell::new(HashMap::new()) }
    }

    fn index(&self, file: SourceFile) -> Arc<LineIndex> {
        let path = file.path(self.db).clone();
        self.indexes.borrow_mut().entry(path).or_insert_with(|| Arc::new(LineIndex::new(file.text(self.db)))).clone()
    }

    /// 0-based line and column of an offset in the file at `path`, if the database has it.
    fn line_col(&self, path: &str, offset: u32) -> Option<kfl_diagnostics::LineCol> {
        let file = self.db.file(path)?;
        Some(self.index(file).line_col(file.text(self.db), offset as usize))
    }
}

/// A file's text for miette, which reads the lines around a span from the line index instead of
/// counting lines from the start of the file for every diagnostic.
struct IndexedSource<'a> {
    name: String,
    text: &'a str,
    index: Arc<LineIndex>,
}

impl SourceCode for IndexedSource<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        // A window of whole lines around the span, with a line to spare on each side; miette finds
        // the excerpt in it as it would in the whole text, and its lines are renumbered.
        let start = self.index.line_col(self.text, span.offset()).line as usize;
        let end = self.index.line_col(self.text, span.offset() + span.len()).line as usize;
        let first = start.saturating_sub(context_lines_before + 1);
        let window_start = self.index.line_start(first).unwrap_or(0);
        let window_end = self.index.line_start(end + context_lines_after + 2).unwrap_or(self.text.len());
        let window = &self.text[window_start..window_end];
        let local = SourceSpan::new((span.offset().saturating_sub(window_start)).into(), span.len());
        let inner = window.read_span(&local, context_lines_before, context_lines_after)?;
        let contents = MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            SourceSpan::new((inner.span().offset() + window_start).into(), inner.span().len()),
            inner.line() + first,
            inner.column(),
            inner.line_count() + first,
        )
        .with_language("kfl");
        Ok(Box::new(contents))
    }
}

/// Renders diagnostics for people: one per call, sharing the line indexes.
pub struct Renderer<'db> {
    db: &'db Database,
    lines: Lines<'db>,
    handler: GraphicalReportHandler,
}

impl<'db> Renderer<'db> {
    /// `colour` only on a terminal.
    pub fn new(db: &'db Database, colour: bool) -> Renderer<'db> {
        let theme = if colour { GraphicalTheme::unicode() } else { GraphicalTheme::none() };
        Renderer { db, lines: Lines::new(db), handler: GraphicalReportHandler::new_themed(theme).with_width(120) }
    }

    /// One diagnostic with its source excerpt.
    pub fn human(&self, file: SourceFile, diagnostic: &Diagnostic) -> String {
        let db = self.db;
        let mut help = diagnostic.help.clone();
        // miette shows one source per report: labels in other files become notes.
        for label in diagnostic.secondary.iter() {
            if let Some(path) = &label.path {
                let note = format!("note: {} ({})", label.message, position(&self.lines, path, label.span.start));
                help = Some(match help {
                    Some(h) => format!("{h}\n{note}"),
                    None => note,
                });
            }
        }
        let report = Report {
            diagnostic,
            source: IndexedSource {
                name: kfl_diagnostics::escape_control(file.path(db)).into_owned(),
                text: file.text(db),
                index: self.lines.index(file),
            },
            // Line by line: the help's own line breaks stay, anything else is escaped.
            help: help.map(|h| h.split('\n').map(kfl_diagnostics::escape_control).collect::<Vec<_>>().join("\n")),
        };
        let mut out = String::new();
        if self.handler.render_report(&mut out, &report).is_err() {
            out = format!("{}: {} [{}]\n", diagnostic.severity.as_str(), diagnostic.message, diagnostic.code);
        }
        out.push('\n');
        out
    }
}

/// A diagnostic with its source, in the shape miette renders.
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: IndexedSource<'a>,
    help: Option<String>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages quote user text (a string value, a path): escaped, it cannot drive the terminal.
        f.write_str(&kfl_diagnostics::escape_control(&self.diagnostic.message))
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
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
        let label =
            |message: &str| (!message.is_empty()).then(|| kfl_diagnostics::escape_control(message).into_owned());
        let mut labels = vec![LabeledSpan::new_primary_with_span(label(&primary.message), primary.span.range())];
        for secondary in self.diagnostic.secondary.iter().filter(|l| l.path.is_none()) {
            labels.push(LabeledSpan::new_with_span(label(&secondary.message), secondary.span.range()));
        }
        Some(Box::new(labels.into_iter()))
    }
}

fn position(lines: &Lines<'_>, path: &str, offset: u32) -> String {
    match lines.line_col(path, offset) {
        Some(at) => format!("{path}:{}:{}", at.line + 1, at.column + 1),
        None => path.to_string(),
    }
}

/// Renders one diagnostic with its source excerpt; `colour` only on a terminal. For many, make one
/// [`Renderer`] and call [`Renderer::human`].
pub fn human(db: &Database, file: SourceFile, diagnostic: &Diagnostic, colour: bool) -> String {
    Renderer::new(db, colour).human(file, diagnostic)
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

fn json_position(lines: &Lines<'_>, path: &str, offset: u32) -> JsonPosition {
    match lines.line_col(path, offset) {
        Some(at) => JsonPosition { line: at.line + 1, column: at.column + 1 },
        None => JsonPosition { line: 0, column: 0 },
    }
}

/// All diagnostics as one JSON array.
pub fn json(db: &Database, diagnostics: &[(SourceFile, Diagnostic)]) -> String {
    let lines = Lines::new(db);
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
                        start: json_position(&lines, &lpath, l.span.start),
                        end: json_position(&lines, &lpath, l.span.end),
                        path: lpath,
                        range: [l.span.start, l.span.end],
                        message: l.message.clone(),
                    }
                })
                .collect();
            JsonDiagnostic {
                start: json_position(&lines, &path, d.primary.span.start),
                end: json_position(&lines, &path, d.primary.span.end),
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

/// A position as 1-based line and 1-based column (Unicode scalar values, or UTF-16 units for SARIF).
fn line_col(lines: &Lines<'_>, path: &str, offset: u32, utf16: bool) -> (u32, u32) {
    match lines.line_col(path, offset) {
        Some(at) => (at.line + 1, if utf16 { at.column_utf16 } else { at.column } + 1),
        None => (1, 1),
    }
}

/// GitHub Actions workflow commands: one `::error …::message` line per diagnostic.
pub fn github(db: &Database, diagnostics: &[(SourceFile, Diagnostic)]) -> String {
    // Workflow-command escaping: data escapes `%`, CR and LF; property values also `:` and `,`.
    fn data(text: &str) -> String {
        text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
    }
    fn property(text: &str) -> String {
        data(text).replace(':', "%3A").replace(',', "%2C")
    }
    let lines = Lines::new(db);
    let mut out = String::new();
    for (file, d) in diagnostics {
        let path = file.path(db).to_string();
        let (line, col) = line_col(&lines, &path, d.primary.span.start, false);
        let (end_line, end_col) = line_col(&lines, &path, d.primary.span.end, false);
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.push_str(&format!(
            "::{level} file={},line={line},endLine={end_line},col={col},endColumn={end_col},title={}::{}\n",
            property(&path),
            property(&format!("{} {}", d.code.id(), d.code.info().name)),
            data(&message),
        ));
    }
    out
}

/// SARIF 2.1.0 with one run of the `kflc` tool, every code as a rule.
pub fn sarif(db: &Database, diagnostics: &[(SourceFile, Diagnostic)]) -> String {
    use serde_json::json;
    let rules: Vec<serde_json::Value> = kfl_diagnostics::codes::ALL
        .iter()
        .map(|info| {
            json!({
                "id": info.id,
                "name": info.name,
                "shortDescription": { "text": info.summary },
                "help": { "text": info.doc, "markdown": info.doc },
                "defaultConfiguration": { "level": info.severity.as_str() },
            })
        })
        .collect();
    let lines = Lines::new(db);
    let region = |path: &str, span: kfl_diagnostics::Span| {
        let (start_line, start_column) = line_col(&lines, path, span.start, true);
        let (end_line, end_column) = line_col(&lines, path, span.end, true);
        json!({ "startLine": start_line, "startColumn": start_column, "endLine": end_line, "endColumn": end_column })
    };
    let results: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|(file, d)| {
            let path = file.path(db).to_string();
            let rule_index = kfl_diagnostics::codes::ALL.iter().position(|i| i.code == d.code).unwrap_or(0);
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text.push_str(&format!(" (help: {help})"));
            }
            let related: Vec<serde_json::Value> = d
                .secondary
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let lpath = l.path.as_deref().unwrap_or(&path).to_string();
                    json!({
                        "id": i,
                        "message": { "text": l.message },
                        "physicalLocation": { "artifactLocation": { "uri": lpath.clone() }, "region": region(&lpath, l.span) },
                    })
                })
                .collect();
            json!({
                "ruleId": d.code.id(),
                "ruleIndex": rule_index,
                "level": d.severity.as_str(),
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": { "artifactLocation": { "uri": path.clone() }, "region": region(&path, d.primary.span) },
                }],
                "relatedLocations": related,
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "kflc", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "columnKind": "utf16CodeUnits",
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_else(|_| "{}".to_string())
}

/// A place in the source that a cluster error points at, in the shape miette renders.
#[cfg(feature = "cluster")]
struct SourceNote {
    message: String,
    source: NamedSource<String>,
    span: std::ops::Range<usize>,
    label: String,
}

#[cfg(feature = "cluster")]
impl fmt::Debug for SourceNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(feature = "cluster")]
impl fmt::Display for SourceNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(feature = "cluster")]
impl std::error::Error for SourceNote {}

#[cfg(feature = "cluster")]
impl miette::Diagnostic for SourceNote {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.span.clone()))))
    }
}

/// The part of a declaration to underline: a component's or pipeline's name, else the first line
/// of the statement (a task with an override block spans several).
#[cfg(feature = "cluster")]
fn label_span(db: &Database, file: SourceFile, span: kfl_diagnostics::Span) -> std::ops::Range<usize> {
    let parse = kfl_check::parse(db, file);
    let named = parse.file.items.iter().find_map(|item| match item {
        kfl_syntax::ast::Item::Component(c) if c.span == span => Some(c.name.span),
        kfl_syntax::ast::Item::Pipeline(p) if p.span == span => Some(p.name.span),
        _ => None,
    });
    if let Some(name) = named {
        return name.range();
    }
    let text = file.text(db);
    let range = span.range();
    let start = range.start.min(text.len());
    let end = text[start..range.end.clamp(start, text.len())].find('\n').map_or(range.end, |n| start + n);
    start..end.max(start)
}

/// An error of the cluster client: its text as for every error, then each place in the `.kfl`
/// source it points at (a field the API server refused → the component or task that wrote it) as
/// an excerpt of the text this run loaded.
#[cfg(feature = "cluster")]
pub fn cluster_error(db: &Database, error: &kfl_cluster::ClusterError, colour: bool) -> String {
    let kfl_cluster::ClusterError::Invalid { message, fields } = error else { return format!("error: {error}\n") };
    // The places are shown as excerpts below, not as `--> file: …` lines.
    let without_places = kfl_cluster::ClusterError::Invalid {
        message: message.clone(),
        fields: fields.iter().map(|f| kfl_cluster::error::FieldError { origin: None, ..f.clone() }).collect(),
    };
    let mut out = format!("error: {without_places}\n");
    let theme = if colour { GraphicalTheme::unicode() } else { GraphicalTheme::none() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(120);
    for field in fields {
        let Some(at) = &field.origin else { continue };
        let Some(file) = db.file(&at.origin.file) else { continue };
        let note = SourceNote {
            message: format!("`{}` comes from {}", field.field, at.what),
            source: NamedSource::new(file.path(db), file.text(db).clone()).with_language("kfl"),
            span: label_span(db, file, at.origin.span),
            label: at.what.clone(),
        };
        if handler.render_report(&mut out, &note).is_ok() {
            out.push('\n');
        }
    }
    out
}

#[cfg(all(test, feature = "cluster"))]
mod tests {
    use kfl_cluster::error::FieldError;
    use kfl_cluster::{ClusterError, Origins, Pipeline};

    const SOURCE: &str = r#"/// Pretends to train.
component train {
    image = "python:3.11-slim"
    output score: Float
    python """
        score = 0.5
    """
}

pipeline small() {
    trained = train() {
        retries = 2
    }
}
"#;

    /// `field` refused by the server, located in `small.kfl` as `kflc apply` locates it.
    fn refused(field: impl Fn(&serde_json::Value) -> String) -> (kfl_check::Database, ClusterError) {
        let mut db = kfl_check::Database::default();
        let file = db.set_file("small.kfl", SOURCE.to_string());
        let program = kfl_check::model::program(&db, file, None).expect("checks");
        let dag = kfl_dag::lower(&program).expect("lowers");
        let pipeline = Pipeline { dag, given: Vec::new(), origins: Origins::of(&program), kfp: Default::default() };
        let workflow = kfl_cluster::project::workflow(&pipeline.dag, "small-1", "ml").expect("workflow");
        let field = field(&workflow);
        let error = ClusterError::Invalid {
            message: "refused".into(),
            fields: vec![FieldError { field, message: "field not declared in schema".into(), origin: None }],
        };
        (db, kfl_cluster::locate(error, &pipeline, &workflow))
    }

    fn template_index(workflow: &serde_json::Value, pick: impl Fn(&serde_json::Value) -> bool) -> usize {
        workflow["spec"]["templates"].as_array().and_then(|t| t.iter().position(pick)).expect("a template")
    }

    #[test]
    fn a_refused_component_field_is_shown_at_the_components_name() {
        let (db, error) = refused(|w| {
            format!(".spec.templates[{}].container.kflUnknown", template_index(w, |t| t["name"] == "train"))
        });
        let text = super::cluster_error(&db, &error, false);
        let expected = "\
error: the API server refused the Workflow (1 field error(s)):
  .spec.templates[1].container.kflUnknown: field not declared in schema
  > `.spec.templates[1].container.kflUnknown` comes from component `train` (template `train`)
   ,-[small.kfl:2:11]
 1 | /// Pretends to train.
 2 | component train {
   :           ^^|^^
   :             `-- component `train` (template `train`)
 3 |     image = \"python:3.11-slim\"
   `----

";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_refused_task_field_is_shown_at_the_first_line_of_its_statement() {
        let (db, error) = refused(|w| {
            format!(".spec.templates[{}].dag.tasks[0].kflUnknown", template_index(w, |t| t.get("dag").is_some()))
        });
        let text = super::cluster_error(&db, &error, false);
        let expected = "\
error: the API server refused the Workflow (1 field error(s)):
  .spec.templates[0].dag.tasks[0].kflUnknown: field not declared in schema
  > `.spec.templates[0].dag.tasks[0].kflUnknown` comes from task `trained`
    ,-[small.kfl:11:5]
 10 | pipeline small() {
 11 |     trained = train() {
    :     ^^^^^^^^^|^^^^^^^^^
    :              `-- task `trained`
 12 |         retries = 2
    `----

";
        assert_eq!(text, expected);
    }
}

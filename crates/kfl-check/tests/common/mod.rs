//! Shared by the data-driven tests: building a project from files, and the inline marks.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use kfl_check::{check_file, Database};
use kfl_diagnostics::{Diagnostic, LineIndex};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// A project made of `(path, text)` files; returns the database.
pub fn project(files: &[(String, String)]) -> Database {
    let mut db = Database::default();
    for (path, text) in files {
        db.set_file(path, text.clone());
    }
    db
}

pub fn diagnostics(db: &Database, path: &str) -> Vec<Diagnostic> {
    let file = db.file(path).expect("file in project");
    check_file(db, file).to_vec()
}

/// A mark `// ^^^ E0102` under a line: the carets stand under the columns of the primary span on
/// the nearest line above that is not a mark.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark {
    pub path: String,
    /// 1-based line of the marked text.
    pub line: u32,
    /// 0-based character columns, end exclusive.
    pub start: u32,
    pub end: u32,
    pub code: String,
}

impl std::fmt::Display for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}-{} {}", self.path, self.line, self.start + 1, self.end + 1, self.code)
    }
}

fn parse_mark(line: &str) -> Option<(u32, u32, String)> {
    let trimmed = line.trim_start();
    let rest = trimmed.strip_prefix("//")?;
    let rest_trim = rest.trim_start();
    if !rest_trim.starts_with('^') {
        return None;
    }
    let caret_start = line.chars().position(|c| c == '^')? as u32;
    let carets = rest_trim.chars().take_while(|c| *c == '^').count() as u32;
    let code = rest_trim[carets as usize..].split_whitespace().next()?.to_string();
    Some((caret_start, caret_start + carets, code))
}

pub fn expected_marks(path: &str, text: &str) -> Vec<Mark> {
    let mut marks = Vec::new();
    let mut last_real_line = 0u32;
    for (i, line) in text.lines().enumerate() {
        match parse_mark(line) {
            Some((start, end, code)) => {
                marks.push(Mark { path: path.to_string(), line: last_real_line, start, end, code })
            }
            None => last_real_line = i as u32 + 1,
        }
    }
    marks
}

pub fn actual_marks(path: &str, text: &str, diagnostics: &[Diagnostic]) -> Vec<Mark> {
    let index = LineIndex::new(text);
    diagnostics
        .iter()
        .map(|d| {
            let start = index.line_col(text, d.primary.span.start as usize);
            let end = index.line_col(text, d.primary.span.end as usize);
            let end_col = if end.line == start.line {
                end.column
            } else {
                // A span over several lines is marked to the end of its first line.
                let line = text.lines().nth(start.line as usize).unwrap_or_default();
                line.trim_end().chars().count() as u32
            };
            Mark {
                path: path.to_string(),
                line: start.line + 1,
                start: start.column,
                end: end_col.max(start.column + 1),
                code: d.code.id().to_string(),
            }
        })
        .collect()
}

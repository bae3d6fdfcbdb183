//! KFL formatter: prints a file in the one canonical layout, keeping every comment.
//!
//! Invariants (the tests check each of them over every case in `tests/cases/` and every `.kfl` file
//! under `examples/` and `tests/`):
//! - Only a file that parses cleanly is formatted. [`format`] returns the parse errors otherwise and
//!   never prints a guess.
//! - The syntax tree does not change: `parse(format(x)).file` equals `parse(x).file` once spans are
//!   erased. In particular every string keeps its value, including the dedented content of a `"""`
//!   script, and every number keeps its digits and unit as written.
//! - Every comment is kept, with its text (trailing blanks trimmed), between the same two tokens as
//!   before, with two exceptions that have no line to stay on: a comment just before an opening
//!   bracket moves just after it, and one between `}` and `else` just before the `}`. Doc comments
//!   (`///`) are part of the tree and printed from it.
//! - Formatting is idempotent: `format(format(x)) == format(x)`. Every layout decision depends only on
//!   the tree, the comments and where the user left blank lines, never on other whitespace.
//! - [`format`] never panics, and it checks its own output (parses it again and compares trees and
//!   comments): if that check ever failed it returns an error rather than text that means something
//!   else.
//! - No IO.
//!
//! The layout:
//! - 4 spaces per level; lines of at most 100 columns where the tree allows it.
//! - Items are separated by one blank line; consecutive imports are grouped without blank lines.
//! - One member or statement per line. Blank lines the user left between them are kept, at most one;
//!   none after `{` or before `}`.
//! - A run of consecutive `input`/`output` lines (no blank line between them) is aligned: the keyword
//!   padded to the width of `output` when the run has one, `name:` padded so the types line up. A run
//!   of consecutive `name = value` lines (fields, task bindings, block entries) is aligned at `=`. A
//!   run ends at a blank line and after an entry that takes several lines whatever the padding
//!   (comments inside, a `"""` string, a task block, or too wide even unpadded). Comment and doc
//!   lines do not end a run.
//! - `resources { cpu = 2, memory = 4Gi }`, lists, maps, call arguments and pipeline parameters stay
//!   on one line when they fit and hold no comment; otherwise one entry per line (lists, maps,
//!   arguments and parameters with a trailing comma, block entries without commas).
//! - Statement blocks (`if`, `else`, `for`, `finally`, task overrides) always take their own lines;
//!   empty blocks are `{}`.
//! - A multi-line `"""` string is re-indented: its content one level deeper than the line that opens
//!   it, the closing `"""` on its own line at that line's indent, relative indentation kept; a value
//!   no layout reproduces (one that does not end with a line break) is printed as written. A `"""`
//!   string on one line and plain strings are printed as written,
//!   escapes included.
//! - Comments: a comment on its own line stays on its own line, at the indent of what follows it
//!   (or inside the block, before `}`); blank lines around comment lines are kept like those between
//!   statements. A trailing comment stays at the end of its line, two spaces after the code.
//!   Comments inside a list, map, call, parameter list or key/value block force it onto several
//!   lines. A comment just before an opening `{`, `(` or `[` moves inside, to the first line; one
//!   between `}` and `else` moves inside the block, to the last line. A comment anywhere else (between
//!   `=` and a value, inside an operator chain) ends the line there and the code continues one level
//!   deeper.

mod erase;
mod expr;
mod items;
mod printer;

use kfl_diagnostics::Diagnostic;

/// Why a file was not formatted.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FormatError {
    /// The syntax errors of the file. Empty only when `internal` is set.
    pub errors: Vec<Diagnostic>,
    /// Set when the formatter's own output failed its self-check (a bug in the formatter): the text
    /// should then be left as it is.
    pub internal: Option<String>,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(internal) = &self.internal {
            return write!(f, "the formatter could not format this file safely: {internal}");
        }
        match self.errors.first() {
            Some(first) if self.errors.len() == 1 => {
                write!(f, "cannot format a file with a syntax error: {}", first.message)
            }
            Some(first) => {
                write!(f, "cannot format a file with {} syntax errors; the first: {}", self.errors.len(), first.message)
            }
            None => write!(f, "cannot format this file"),
        }
    }
}

impl std::error::Error for FormatError {}

/// Formats one file. Returns the parse errors if the file does not parse cleanly.
pub fn format(text: &str) -> Result<String, FormatError> {
    let parse = kfl_syntax::parse(text);
    if !parse.errors.is_empty() {
        return Err(FormatError { errors: parse.errors, internal: None });
    }
    let mut printer = printer::Printer::new(text, &parse.comments);
    printer.file(&parse.file);
    let out = printer.finish();
    match self_check(&parse, &out) {
        None => Ok(out),
        Some(problem) => Err(FormatError { errors: Vec::new(), internal: Some(problem) }),
    }
}

/// Parses the output again: it must parse cleanly, to the same tree, with the same comments.
fn self_check(before: &kfl_syntax::Parse, out: &str) -> Option<String> {
    let after = kfl_syntax::parse(out);
    if let Some(error) = after.errors.first() {
        return Some(format!("the output does not parse ({})", error.message));
    }
    let mut tree_before = before.file.clone();
    let mut tree_after = after.file;
    erase::erase_spans(&mut tree_before);
    erase::erase_spans(&mut tree_after);
    if tree_before != tree_after {
        return Some("the output parses to a different tree".to_string());
    }
    if comment_texts(&before.comments) != comment_texts(&after.comments) {
        return Some("the output does not keep every comment".to_string());
    }
    None
}

/// The texts of the plain comments, sorted (doc comments are compared as part of the tree).
fn comment_texts(comments: &[kfl_syntax::Comment]) -> Vec<&str> {
    let mut texts: Vec<&str> = comments.iter().filter(|c| !c.is_doc).map(|c| c.text.trim_end()).collect();
    texts.sort_unstable();
    texts
}

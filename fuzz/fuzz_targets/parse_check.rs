//! The parser and the checker never panic, on any text, alone or imported by another file.
//!
//! The input is UTF-8 (anything else is skipped). Without a NUL byte it is one file, `main.kfl`.
//! With one, the text before the first NUL is `lib.kfl` and the text after it is `main.kfl`, which
//! gets `import "lib.kfl"` as its first line, so that resolution across files is exercised too.
//!
//! Checked beside "no panic":
//! - wherever the hand-written fast parser gives a chunk's tree, pest accepts that chunk and builds
//!   the same tree;
//! - every label of every diagnostic points inside the text of its file, on character boundaries
//!   (a renderer slices the text there);
//! - parsing in pieces (`kfl_syntax::parse`, what the database does) against parsing the whole text
//!   in one go (`kfl_syntax::parse_whole`): without syntax errors both give the same; with syntax
//!   errors both report some, every item the whole parse keeps is kept the same, and the only other
//!   items are pipelines with broken statements left out (the invariants of `kfl_syntax::chunk`);
//! - cutting again around an edit (`kfl_syntax::chunk::replan`) gives the plan of the edited text,
//!   for a few edits at line breaks (a line joined to the next, a line break doubled, the first
//!   character of a line deleted);
//! - the language server's database (each long pipeline checked piece by piece) and the CLI's
//!   (each pipeline checked whole) report the same diagnostics, before and after a statement is
//!   inserted in the same database;
//! - with two files, checking incrementally (first with an empty `lib.kfl`, then with the real one)
//!   gives the same diagnostics as checking from scratch.
#![no_main]

use kfl_check::{check_file, Database};
use kfl_diagnostics::{Diagnostic, Label};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.split_once('\0') {
        None => one_file(text),
        Some((lib, main)) => two_files(lib, main),
    }
});

fn one_file(text: &str) {
    assert_fast_parser_agrees(text);
    assert_pieces_match_whole(text);
    assert_replan_matches_plan(text);
    let mut db = Database::default();
    let file = db.set_file("main.kfl", text.to_string());
    let diagnostics = check_file(&db, file);
    assert_spans_valid(&db, "main.kfl", diagnostics);
    assert_same_as_whole(&db, text);
    // Edited in the same database (pieces checked again or kept), still the same as checked whole.
    if let Some((at, _)) = text.match_indices('\n').nth(1) {
        let edited = format!("{}\n    extra = t()\n{}", &text[..at], &text[at..]);
        db.set_file("main.kfl", edited.clone());
        assert_same_as_whole(&db, &edited);
    }
}

/// The language server's database (pipelines checked piece by piece) and the CLI's (each pipeline
/// whole) report the same diagnostics.
fn assert_same_as_whole(db: &Database, text: &str) {
    let mut whole = Database::one_shot();
    let once = whole.set_file("main.kfl", text.to_string());
    let file = db.file("main.kfl").expect("main.kfl");
    assert_eq!(check_file(db, file), check_file(&whole, once), "checking in pieces differs from checking whole");
}

fn two_files(lib: &str, main: &str) {
    let main = format!("import \"lib.kfl\"\n{main}");

    let mut fresh = Database::default();
    fresh.set_file("lib.kfl", lib.to_string());
    fresh.set_file("main.kfl", main.clone());
    let from_scratch = check_all(&fresh);

    let mut db = Database::default();
    db.set_file("lib.kfl", String::new());
    db.set_file("main.kfl", main);
    check_all(&db);
    db.set_file("lib.kfl", lib.to_string());
    let incremental = check_all(&db);

    assert_eq!(from_scratch, incremental, "an incremental check differs from a check from scratch");
}

fn check_all(db: &Database) -> Vec<(String, Vec<Diagnostic>)> {
    let mut out = Vec::new();
    for file in db.files() {
        let path = file.path(db).to_string();
        let diagnostics = check_file(db, file);
        assert_spans_valid(db, &path, diagnostics);
        out.push((path, diagnostics.to_vec()));
    }
    out
}

fn assert_spans_valid(db: &Database, path: &str, diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        for label in std::iter::once(&diagnostic.primary).chain(&diagnostic.secondary) {
            assert_label_valid(db, path, diagnostic, label);
        }
    }
}

fn assert_label_valid(db: &Database, path: &str, diagnostic: &Diagnostic, label: &Label) {
    let label_path = label.path.as_deref().unwrap_or(path);
    let Some(file) = db.file(label_path) else {
        panic!("a label names a file the project does not have: {label_path}\n{diagnostic:#?}");
    };
    let text = file.text(db);
    let (start, end) = (label.span.start as usize, label.span.end as usize);
    assert!(
        start <= end && end <= text.len(),
        "a label's span {start}..{end} is outside {label_path} ({} bytes)\n{diagnostic:#?}",
        text.len()
    );
    assert!(
        text.is_char_boundary(start) && text.is_char_boundary(end),
        "a label's span {start}..{end} cuts a character of {label_path}\n{diagnostic:#?}"
    );
}

fn assert_replan_matches_plan(text: &str) {
    use kfl_syntax::chunk::{plan, replan};
    let old = plan(text);
    for (at, _) in text.match_indices('\n').take(8) {
        let next = text[at + 1..].chars().next().map_or(0, char::len_utf8);
        let edits = [
            format!("{}{}", &text[..at], &text[at + 1..]),
            format!("{}{}", &text[..at + 1], &text[at..]),
            format!("{}{}", &text[..at + 1], &text[at + 1 + next..]),
        ];
        for edited in edits {
            assert_eq!(replan(text, &old, &edited), plan(&edited), "replanning after an edit at {at} differs from planning");
        }
    }
}

/// Wherever the hand-written parser gives a chunk's tree, pest accepts the chunk with the same tree.
fn assert_fast_parser_agrees(text: &str) {
    use kfl_syntax::chunk;
    let scan = kfl_syntax::scan::scan(text);
    for item in chunk::chunks(text, &scan) {
        for c in item.chunks {
            let piece = &text[c.start..c.end];
            if let Some(fast) = chunk::parse_chunk_fast(c.kind, piece) {
                let pest = chunk::parse_chunk_with_pest(c.kind, piece);
                let pest = pest.expect("pest accepts what the fast parser accepts");
                assert!(pest.errors.is_empty(), "the fast parser accepted a chunk pest's builder reports errors in");
                assert_eq!(fast, pest.tree, "the fast parser and pest build different trees");
            }
        }
    }
}

fn assert_pieces_match_whole(text: &str) {
    use kfl_diagnostics::Code;
    use kfl_syntax::ast::Item;
    let pieces = kfl_syntax::parse(text);
    let whole = kfl_syntax::parse_whole(text);
    if pieces == whole {
        return;
    }
    let syntax_error = |p: &kfl_syntax::Parse| p.errors.iter().any(|e| matches!(e.code, Code::SyntaxError | Code::UnterminatedString));
    assert!(syntax_error(&whole), "a text without syntax errors parses differently in pieces");
    assert!(syntax_error(&pieces), "parsing in pieces found no syntax error");
    let mut kept = whole.file.items.iter().peekable();
    for item in &pieces.file.items {
        if kept.peek() == Some(&item) {
            kept.next();
        } else {
            assert!(matches!(item, Item::Pipeline(p) if !p.broken.is_empty()), "an item parsed in pieces differs: {item:#?}");
        }
    }
    assert_eq!(kept.next(), None, "an item of the whole parse is missing when parsing in pieces");
}

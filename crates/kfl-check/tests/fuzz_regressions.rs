//! Inputs that once crashed the front end (found by fuzzing, kept under fuzz/regressions/): each
//! parses and checks without a panic or a stack overflow, on a test thread's small stack, and the
//! ones with problems get a diagnostic.

mod common;

use kfl_check::Database;

#[test]
fn every_fuzz_regression_parses_and_checks() {
    let dir = common::workspace_root().join("fuzz/regressions");
    let mut inputs = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("regressions folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                inputs.push(path);
            }
        }
    }
    assert!(!inputs.is_empty(), "no regression inputs");
    for path in inputs {
        let bytes = std::fs::read(&path).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        // The two-file form of the fuzz target splits at a NUL byte; here each part is one file.
        let mut db = Database::default();
        let files: Vec<_> =
            text.split('\0').enumerate().map(|(i, part)| db.set_file(&format!("f{i}.kfl"), part.to_string())).collect();
        for file in files {
            let diagnostics = kfl_check::check_file(&db, file);
            let text = file.text(&db);
            for d in diagnostics.iter() {
                assert!(d.primary.span.end as usize <= text.len(), "{}: label out of range", path.display());
            }
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("pipeline p(x: Bool = true) {{\n    if {}x{} {{ }}\n}}\n", "(".repeat(5000), ")".repeat(5000));
    let mut db = Database::default();
    let file = db.set_file("deep.kfl", deep);
    let diagnostics = kfl_check::check_file(&db, file);
    assert!(diagnostics.iter().any(|d| d.message.contains("nested more than")), "{diagnostics:?}");
    let chain = format!("pipeline p(x: Bool = true) {{\n    if x{} {{ }}\n}}\n", " and x".repeat(20_000));
    let file = db.set_file("chain.kfl", chain);
    let diagnostics = kfl_check::check_file(&db, file);
    assert!(diagnostics.iter().any(|d| d.message.contains("operands")), "{diagnostics:?}");
    let nots = format!("pipeline p(x: Bool = true) {{\n    if {}x {{ }}\n}}\n", "not ".repeat(5000));
    let file = db.set_file("nots.kfl", nots);
    let diagnostics = kfl_check::check_file(&db, file);
    assert!(diagnostics.iter().any(|d| d.message.contains("nested more than")), "{diagnostics:?}");
}

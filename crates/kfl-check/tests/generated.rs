//! The programs the benchmarks generate check with no diagnostic: a benchmark of error paths would
//! measure the wrong thing.

#[path = "../benches/generate/mod.rs"]
mod generate;

use kfl_check::{check_file, Database};

fn render(diagnostics: &[kfl_diagnostics::Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("{d:?}")).collect::<Vec<_>>().join("\n")
}

#[test]
fn generated_pipeline_of_1000_tasks_checks_clean() {
    let mut db = Database::default();
    let file = db.set_file("generated.kfl", generate::single_file(1000));
    let diagnostics = check_file(&db, file);
    assert!(diagnostics.is_empty(), "{}", render(diagnostics));
}

#[test]
fn generated_project_checks_clean_before_and_after_edits() {
    let mut db = Database::default();
    let files = generate::multi_file(3, 50);
    for (path, text) in &files {
        db.set_file(path, text.clone());
    }
    let (first_path, first_text) = &files[1];
    db.set_file(first_path, generate::edit_pipeline_string(first_text, 1));
    db.set_file(generate::LIBRARY_PATH, generate::edit_library_script(&files[0].1, 1));
    for file in db.files() {
        let diagnostics = check_file(&db, file);
        assert!(diagnostics.is_empty(), "{}:\n{}", file.path(&db), render(diagnostics));
    }
}

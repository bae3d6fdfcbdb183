//! Every pipeline of `examples/`, lowered, for the tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use kfl_check::Database;
use kfl_dag::Dag;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Loads every example into one database (imports resolve by path).
pub fn examples_database() -> (Database, Vec<String>) {
    let root = repo_root();
    let mut db = Database::default();
    let mut paths = Vec::new();
    let mut stack = vec![root.join("examples")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("examples") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "kfl") {
                let rel = path.strip_prefix(&root).expect("inside").to_string_lossy().replace('\\', "/");
                db.set_file(&rel, std::fs::read_to_string(&path).expect("read"));
                paths.push(rel);
            }
        }
    }
    paths.sort();
    (db, paths)
}

/// Every pipeline of every example: a name for it (`file_stem__pipeline`) and its DAG.
pub fn example_pipelines() -> Vec<(String, Dag)> {
    let (db, paths) = examples_database();
    let mut out = Vec::new();
    for path in &paths {
        let file = db.file(path).expect("file");
        let parse = kfl_check::parse(&db, file);
        for item in &parse.file.items {
            let kfl_syntax::ast::Item::Pipeline(p) = item else { continue };
            let dag = kfl_project::lower(&db, file, Some(&p.name.text))
                .unwrap_or_else(|e| panic!("{path} {}: {e}", p.name.text));
            let stem = path.trim_start_matches("examples/").trim_end_matches(".kfl").replace('/', "_");
            out.push((format!("{stem}__{}", p.name.text), dag));
        }
    }
    out
}

/// Every pipeline of `tests/cases/*.kfl` (control flow the examples do not combine), named like
/// the examples' (`cases_control_flow__control_flow`).
pub fn case_pipelines() -> Vec<(String, Dag)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kfl"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let stem = path.file_stem().expect("stem").to_string_lossy().to_string();
        let mut db = Database::default();
        let rel = format!("tests/cases/{stem}.kfl");
        let file = db.set_file(&rel, std::fs::read_to_string(&path).expect("read"));
        let parse = kfl_check::parse(&db, file);
        for item in &parse.file.items {
            let kfl_syntax::ast::Item::Pipeline(p) = item else { continue };
            let dag = kfl_project::lower(&db, file, Some(&p.name.text))
                .unwrap_or_else(|e| panic!("{rel} {}: {e}", p.name.text));
            out.push((format!("cases_{stem}__{}", p.name.text), dag));
        }
    }
    out
}

/// The examples' pipelines and the test cases'.
pub fn all_pipelines() -> Vec<(String, Dag)> {
    let mut all = example_pipelines();
    all.extend(case_pipelines());
    all
}

/// One example pipeline by its name (`quickstart__quickstart`).
pub fn example(name: &str) -> Dag {
    example_pipelines().into_iter().find(|(n, _)| n == name).map(|(_, d)| d).unwrap_or_else(|| panic!("no {name}"))
}

/// Lowers a pipeline written inline (the last one, if there are several).
pub fn lower_source(source: &str) -> Dag {
    let mut db = Database::default();
    let file = db.set_file("test.kfl", source.to_string());
    let parse = kfl_check::parse(&db, file);
    let last = parse.file.items.iter().rev().find_map(|item| match item {
        kfl_syntax::ast::Item::Pipeline(p) => Some(p.name.text.clone()),
        _ => None,
    });
    kfl_project::lower(&db, file, last.as_deref()).unwrap_or_else(|e| match e {
        kfl_dag::LowerError::HasErrors(errors) => panic!("{errors:#?}"),
        other => panic!("{other}"),
    })
}

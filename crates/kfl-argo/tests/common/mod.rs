//! Loading every example pipeline.

use std::path::{Path, PathBuf};

use kfl_check::Database;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every example file in one database (imports resolve by path), and the pipelines it declares:
/// `(path, pipeline name)`, sorted.
pub fn examples() -> (Database, Vec<(String, String)>) {
    let mut db = Database::default();
    let mut paths = Vec::new();
    let mut stack = vec![root().join("examples")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("examples") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "kfl") {
                let rel = path.strip_prefix(root()).expect("inside").to_string_lossy().to_string();
                db.set_file(&rel, std::fs::read_to_string(&path).expect("read"));
                paths.push(rel);
            }
        }
    }
    paths.sort();
    let mut pipelines = Vec::new();
    for path in paths {
        let file = db.file(&path).expect("file");
        let parse = kfl_check::parse(&db, file);
        for item in &parse.file.items {
            if let kfl_syntax::ast::Item::Pipeline(p) = item {
                pipelines.push((path.clone(), p.name.text.clone()));
            }
        }
    }
    (db, pipelines)
}

/// A lowered example pipeline.
pub fn lower(db: &Database, path: &str, pipeline: &str) -> kfl_dag::Dag {
    let file = db.file(path).expect("file");
    kfl_dag::lower(db, file, Some(pipeline)).unwrap_or_else(|e| panic!("{path} {pipeline}: {e}"))
}

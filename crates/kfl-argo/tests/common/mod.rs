//! Loading every example pipeline.

use std::path::{Path, PathBuf};

use kfl_check::Database;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every example file in one database (imports resolve by path), and the pipelines it declares:
/// `(path, pipeline name)`, sorted.
pub fn examples() -> (Database, Vec<(String, String)>) {
    load(&root(), "examples")
}

/// The fixtures of this crate (`tests/fixtures`): pipelines that exercise what no example does.
#[allow(dead_code)]
pub fn fixtures() -> (Database, Vec<(String, String)>) {
    load(&root().join("crates/kfl-argo/tests"), "fixtures")
}

fn load(base: &Path, folder: &str) -> (Database, Vec<(String, String)>) {
    let mut db = Database::default();
    let mut paths = Vec::new();
    let mut stack = vec![base.join(folder)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("examples") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "kfl") {
                let rel = path.strip_prefix(base).expect("inside").to_string_lossy().to_string();
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
    match kfl_project::lower(db, file, Some(pipeline)) {
        Ok(dag) => dag,
        Err(kfl_dag::LowerError::HasErrors(errors)) => panic!("{path} {pipeline}: {errors:#?}"),
        Err(e) => panic!("{path} {pipeline}: {e}"),
    }
}

//! KFL projects on disk: finding `.kfl` files, loading them and the files they import into a
//! [`Database`], and writing files atomically. The one place `kflc` reads projects from; the local
//! runner and the cluster client are handed what it lowered, so they all see a project alike.
//!
//! Invariants:
//! - Paths in the database are the paths as given, without a leading `./`.
//! - An import that names no file is left out of the database (the checker reports it); any other
//!   read error is returned.

use std::path::{Path, PathBuf};

use kfl_check::{Database, SourceFile};

/// Every `.kfl` file named or found below the named folders (the current folder if none), sorted.
pub fn collect_kfl_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let roots: Vec<PathBuf> = if paths.is_empty() { vec![PathBuf::from(".")] } else { paths.to_vec() };
    let mut out = Vec::new();
    for root in &roots {
        let meta = std::fs::metadata(root).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
        if meta.is_dir() {
            walk(root, &mut out).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
        } else {
            out.push(root.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file() && name.ends_with(".kfl") {
            out.push(path);
        }
    }
    Ok(())
}

/// The database key of a path: as given, without a leading `./`.
pub fn key(path: &Path) -> String {
    let text = path.to_string_lossy();
    text.strip_prefix("./").unwrap_or(&text).to_string()
}

/// Loads the named files and, transitively, the files they import. Returns the database, every
/// loaded file, and notes on imported files that could not be read (the checker reports them as
/// not found).
pub fn load_project(paths: &[PathBuf]) -> Result<(Database, Vec<SourceFile>, Vec<String>), String> {
    let mut db = Database::default();
    let mut notes = Vec::new();
    for path in collect_kfl_files(paths)? {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        db.set_file(&key(&path), text);
    }
    notes.extend(load_imports(&mut db)?);
    let files = db.files();
    Ok((db, files, notes))
}

/// Loads one file and, transitively, the files it imports.
pub fn load_file(path: &Path) -> Result<(Database, SourceFile), String> {
    let mut db = Database::default();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = db.set_file(&key(path), text);
    if let Some(note) = load_imports(&mut db)?.into_iter().next() {
        return Err(note);
    }
    Ok((db, file))
}

/// Reads every imported file that is not in the database yet, until no new file turns up. Returns
/// notes on imported files that exist but could not be read.
pub fn load_imports(db: &mut Database) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    let mut tried = std::collections::HashSet::new();
    loop {
        let mut missing = Vec::new();
        for file in db.files() {
            for import in kfl_check::items::file_imports(db, file) {
                if import.file.is_none() && tried.insert(import.path.clone()) {
                    missing.push(import.path.clone());
                }
            }
        }
        if missing.is_empty() {
            return Ok(notes);
        }
        for path in missing {
            match std::fs::read_to_string(&*path) {
                Ok(text) => {
                    db.set_file(&path, text);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => notes.push(format!("cannot read imported file {path}: {e}")),
            }
        }
    }
}

/// Writes through a temporary file in the same folder and a rename, so a reader never sees half a file.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.kflc-{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Checks the pipeline `name` of `file` (or its only pipeline) and lowers its semantic model to the
/// DAG every backend reads. Refuses a pipeline whose file, or an imported one, has errors.
pub fn lower(db: &Database, file: SourceFile, name: Option<&str>) -> Result<kfl_dag::Dag, kfl_dag::LowerError> {
    let program = kfl_check::model::program(db, file, name)?;
    kfl_dag::lower(&program)
}

/// Loads, checks and lowers the pipeline of a file; errors are one text that names at most five of
/// the file's errors.
pub fn lower_file(path: &Path, name: Option<&str>) -> Result<kfl_dag::Dag, String> {
    let (db, file) = load_file(path)?;
    lower(&db, file, name).map_err(|e| match e {
        kfl_dag::LowerError::HasErrors(errors) => {
            let mut text = format!("{} does not check; run `kflc check {}`", path.display(), path.display());
            for (path, d) in errors.iter().take(5) {
                text.push_str(&format!("\n  {path}: {} {}", d.code, d.message));
            }
            text
        }
        other => other.to_string(),
    })
}

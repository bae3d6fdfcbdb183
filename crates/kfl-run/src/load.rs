//! Reading a `.kfl` file and the files it imports into a database (the way `kflc check` does).

use std::path::Path;

use kfl_check::{Database, SourceFile};

fn key(path: &Path) -> String {
    let text = path.to_string_lossy();
    text.strip_prefix("./").unwrap_or(&text).to_string()
}

/// Loads `path` and, transitively, the files it imports.
pub fn load_file(path: &Path) -> Result<(Database, SourceFile), String> {
    let mut db = Database::default();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = db.set_file(&key(path), text);
    let mut tried = std::collections::HashSet::new();
    loop {
        let mut missing = Vec::new();
        for f in db.files() {
            for import in kfl_check::items::file_imports(&db, f) {
                if import.file.is_none() && tried.insert(import.path.clone()) {
                    missing.push(import.path.clone());
                }
            }
        }
        if missing.is_empty() {
            break;
        }
        for path in missing {
            match std::fs::read_to_string(&*path) {
                Ok(text) => {
                    db.set_file(&path, text);
                }
                // The checker reports an import it cannot find.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot read imported file {path}: {e}")),
            }
        }
    }
    Ok((db, file))
}

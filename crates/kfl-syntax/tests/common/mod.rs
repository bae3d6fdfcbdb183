//! What the parser tests read: every `.kfl` file of the repository.

use std::path::{Path, PathBuf};

/// Every `.kfl` file under the repository's examples, tests, crates, docs and fuzz inputs, and
/// every fuzz finding (which has no extension), sorted.
pub fn kfl_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut found = Vec::new();
    for dir in ["examples", "tests", "crates", "docs", "fuzz/regressions", "fuzz/seeds"] {
        walk(&root.join(dir), &mut found);
    }
    found.sort();
    assert!(found.len() > 20, "expected the repository's .kfl files, found {}", found.len());
    found
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "kfl") || path.ancestors().any(|a| a.ends_with("regressions")) {
            out.push(path);
        }
    }
}

/// A file's text, lossily decoded (some fuzz findings are not UTF-8).
pub fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

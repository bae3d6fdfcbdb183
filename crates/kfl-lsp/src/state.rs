//! The server's world: the salsa database, the documents the editor has open, and the files read
//! from disk (imports of open files and every `.kfl` file of the workspace folders).
//!
//! Only this module writes the database, and only while the server holds its lock; queries run on
//! clones ([`Snapshot`]s) that live inside blocking tasks. A write waits until every clone is gone,
//! and salsa makes the clones' running queries unwind with `Cancelled` so that wait is short.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kfl_check::{Database, SourceFile};
use tower_lsp_server::ls_types::{TextDocumentContentChangeEvent, Uri};

use crate::convert::{path_of_uri, ClientSupport, DocumentText, UriMap};

/// At most this many files are read from the workspace folders at start.
const MAX_WORKSPACE_FILES: usize = 10_000;
/// Files larger than this are not read from disk.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

pub struct OpenDocument {
    pub uri: Uri,
    pub version: i32,
    /// The editor's text, which the database's file holds a copy of: edits are applied here, in
    /// place, and the result copied into the database.
    text: DocumentText,
}

#[derive(Default)]
pub struct State {
    pub db: Database,
    /// Open documents by project path.
    pub open: HashMap<Arc<str>, OpenDocument>,
    pub uris: Arc<UriMap>,
    pub roots: Vec<PathBuf>,
    pub support: ClientSupport,
    /// Imported paths that were not on disk when last looked for.
    missing: HashSet<Arc<str>>,
}

/// A read-only copy of the world for one query. Dropping it lets the next edit in.
pub struct Snapshot {
    pub db: Database,
    pub uris: Arc<UriMap>,
    pub support: ClientSupport,
}

impl State {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { db: self.db.clone(), uris: self.uris.clone(), support: self.support }
    }

    /// Open documents as `(path, uri, version)`, `first` first.
    pub fn open_documents(&self, first: Option<&str>) -> Vec<(Arc<str>, Uri, i32)> {
        let mut docs: Vec<(Arc<str>, Uri, i32)> =
            self.open.iter().map(|(path, doc)| (path.clone(), doc.uri.clone(), doc.version)).collect();
        docs.sort_by_key(|(path, _, _)| (Some(&**path) != first, path.clone()));
        docs
    }

    pub fn did_open(&mut self, uri: Uri, version: i32, text: String) -> Arc<str> {
        let path = path_of_uri(&uri);
        Arc::make_mut(&mut self.uris).known.insert(path.clone(), uri.clone());
        let text = DocumentText::new(text);
        let file = self.db.set_file(&path, text.text().to_string());
        self.open.insert(path.clone(), OpenDocument { uri, version, text });
        // A file opened may be the one an import was missing.
        self.missing.clear();
        self.load_imports(vec![file]);
        path
    }

    /// Applies the changes in order. Returns the path, or `None` for a document that is not open.
    pub fn did_change(
        &mut self,
        uri: &Uri,
        version: i32,
        changes: Vec<TextDocumentContentChangeEvent>,
    ) -> Option<Arc<str>> {
        let path = path_of_uri(uri);
        let doc = self.open.get_mut(&path)?;
        doc.version = version;
        for change in changes {
            doc.text.apply_change(change.range, &change.text);
        }
        let file = self.db.set_file(&path, doc.text.text().to_string());
        self.load_imports(vec![file]);
        Some(path)
    }

    /// Closes a document: the file keeps its text on disk, or leaves the project if it has none.
    pub fn did_close(&mut self, uri: &Uri) -> Option<(Arc<str>, Uri)> {
        let path = path_of_uri(uri);
        let doc = self.open.remove(&path)?;
        match read(Path::new(&*path)) {
            Some(text) => {
                self.db.set_file(&path, text);
            }
            None => self.db.remove_file(&path),
        }
        Some((path, doc.uri))
    }

    /// A file changed on disk: read it again unless the editor has it open.
    pub fn file_changed_on_disk(&mut self, uri: &Uri, deleted: bool) {
        let path = path_of_uri(uri);
        self.missing.clear();
        if self.open.contains_key(&path) {
            return;
        }
        match (deleted, read(Path::new(&*path))) {
            (false, Some(text)) => {
                let file = self.db.set_file(&path, text);
                self.load_imports(vec![file]);
            }
            _ => self.db.remove_file(&path),
        }
    }

    pub fn forget_missing(&mut self) {
        self.missing.clear();
    }

    /// Reads the files that `files` import, and theirs, from disk when the project lacks them.
    pub fn load_imports(&mut self, mut pending: Vec<SourceFile>) {
        let mut seen: HashSet<SourceFile> = HashSet::new();
        while let Some(file) = pending.pop() {
            if !seen.insert(file) {
                continue;
            }
            // From the parse, which the diagnostics need next anyway: after an edit it re-parses only
            // the piece the edit touched (`kfl_syntax::chunk`), so this costs an edit little.
            let imports: Vec<Arc<str>> =
                kfl_check::items::file_imports(&self.db, file).iter().map(|import| import.path.clone()).collect();
            let mut targets = Vec::new();
            let mut wanted = Vec::new();
            for path in imports {
                match self.db.file(&path) {
                    Some(target) => targets.push(target),
                    None if !self.missing.contains(&path) => wanted.push(path),
                    None => {}
                }
            }
            for path in wanted {
                // Only absolute paths name files on disk (a document without one imports nothing), and
                // only `.kfl` files are ever read through an import: the checker reports any other
                // path (E0125) without its content reaching a diagnostic.
                let importable = path.starts_with('/') && kfl_check::is_importable_name(&path);
                let text = if importable { read(Path::new(&*path)) } else { None };
                match text {
                    Some(text) => pending.push(self.db.set_file(&path, text)),
                    None => {
                        self.missing.insert(path);
                    }
                }
            }
            pending.extend(targets);
        }
    }

    /// Reads every `.kfl` file below the workspace folders that the project does not have yet.
    pub fn load_workspace(&mut self) {
        let mut found = Vec::new();
        for root in self.roots.clone() {
            walk(&root, &mut found, 0);
        }
        found.sort();
        found.dedup();
        let mut loaded = Vec::new();
        for path in found.into_iter().take(MAX_WORKSPACE_FILES) {
            let key = kfl_check::normalize_path(&path.to_string_lossy());
            if self.db.file(&key).is_some() {
                continue;
            }
            if let Some(text) = read(&path) {
                loaded.push(self.db.set_file(&key, text));
            }
        }
        self.load_imports(loaded);
    }
}

fn read(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return None;
    }
    // As `kflc` reads sources (`kfl_project::read_source`): a `.kfl` name that leads, through
    // symbolic links, to a file that is not named `.kfl` (`notes.kfl -> /proc/self/environ`) is
    // not read, so its content never reaches a diagnostic.
    if std::fs::canonicalize(path).ok()?.extension().is_none_or(|e| e != "kfl") {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 32 || out.len() >= MAX_WORKSPACE_FILES {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            walk(&entry.path(), out, depth + 1);
        } else if kind.is_file() && name.ends_with(".kfl") {
            out.push(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kfl_link_is_read_only_when_it_leads_to_a_kfl_file() {
        let dir = std::env::temp_dir().join(format!("kfl-lsp-read-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("secrets.env"), "TOKEN=x\n").expect("write");
        std::fs::write(dir.join("real.kfl"), "component c {}\n").expect("write");
        std::os::unix::fs::symlink(dir.join("secrets.env"), dir.join("notes.kfl")).expect("link");
        std::os::unix::fs::symlink(dir.join("real.kfl"), dir.join("alias.kfl")).expect("link");
        assert_eq!(read(&dir.join("notes.kfl")), None);
        assert_eq!(read(&dir.join("alias.kfl")).as_deref(), Some("component c {}\n"));
        assert_eq!(read(&dir.join("real.kfl")).as_deref(), Some("component c {}\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! KFL projects on disk: finding `.kfl` files, loading them and the files they import into a
//! [`Database`], and writing files atomically. The one place `kflc` reads projects from; the local
//! runner and the cluster client are handed what it lowered, so they all see a project alike.
//!
//! Invariants:
//! - Paths in the database are the paths as given, without a leading `./`.
//! - An import that names no file is left out of the database (the checker reports it, E0114).
//! - Imports are read only when they name a `.kfl` file whose real path (symbolic links followed)
//!   lies inside an import root: the project root of a file named on the command line (its nearest
//!   folder holding a `.git` or a `kfl.toml`, else its own folder) or a folder allowed explicitly.
//!   Anything else is recorded as refused (E0125) and never opened, so no diagnostic can quote it.
//! - Only regular files are read, at most 16 MiB each, and only UTF-8 text; anything else is
//!   refused with E0126 before it is opened (a FIFO or a device never blocks or runs for ever).
//! - A path named `….kfl` that is a symbolic link is read only when it leads to a file named `.kfl`
//!   (E0126 otherwise): a link planted in a repository, named by `git ls-files` or pre-commit, never
//!   brings a file that is not KFL into a diagnostic. A folder search follows no link.

use std::path::{Path, PathBuf};

use kfl_check::{Database, Refusal, SourceFile};
use kfl_diagnostics::{escape_control, Code};

/// Every `.kfl` file named or found below the named folders (the current folder if none), sorted.
pub fn collect_kfl_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let roots: Vec<PathBuf> = if paths.is_empty() { vec![PathBuf::from(".")] } else { paths.to_vec() };
    let mut out = Vec::new();
    for root in &roots {
        match std::fs::metadata(root) {
            Ok(meta) if meta.is_dir() => {
                walk(root, &mut out).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
            }
            Ok(_) => out.push(root.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("cannot read {}: {e}", root.display()));
            }
            // There, but not to be looked at (a loop of symbolic links, no permission): a file,
            // which reading refuses with its code (E0126).
            Err(_) => out.push(root.clone()),
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

/// What [`load_project`] read: the database, every loaded file, and the files named on the command
/// line that were refused (E0126), with their paths as printed.
pub struct Loaded {
    pub db: Database,
    pub files: Vec<SourceFile>,
    pub refused: Vec<(String, Refusal)>,
}

/// Loads the named files and, transitively, the files they import from inside their project roots
/// and `extra_roots` ([`ImportRoots`]). A named file that is not a regular file, is too large or is
/// not UTF-8 is refused with E0126 (in [`Loaded::refused`]); an import that may not or cannot be
/// read is recorded in the database, and the importing file reports it.
pub fn load_project(paths: &[PathBuf], extra_roots: &[PathBuf]) -> Result<Loaded, String> {
    let mut db = Database::one_shot();
    let mut refused = Vec::new();
    let named = collect_kfl_files(paths)?;
    let roots = ImportRoots::for_files(&named, extra_roots);
    for path in &named {
        match read_source(path) {
            Ok(text) => {
                db.set_file(&key(path), text);
            }
            // A file that is not there is a mistake on the command line; one that is there and
            // cannot be read (permissions, a loop of symbolic links) is refused like a FIFO, so the
            // other files are still checked.
            Err(Unreadable::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("cannot read {}: {e}", shown(path)))
            }
            Err(unreadable) => refused.push((shown(path), unreadable.refusal(path))),
        }
    }
    load_imports(&mut db, &roots);
    let files = db.files();
    Ok(Loaded { db, files, refused })
}

/// Loads one file and, transitively, the files it imports.
pub fn load_file(path: &Path) -> Result<(Database, SourceFile), String> {
    let mut db = Database::one_shot();
    let text = read_source(path).map_err(|e| match e {
        Unreadable::Io(e) => format!("cannot read {}: {e}", shown(path)),
        other => format!("error[{}]: {}", other.refusal(path).code, other.refusal(path).message),
    })?;
    let file = db.set_file(&key(path), text);
    load_imports(&mut db, &ImportRoots::for_files(&[path.to_path_buf()], &[]));
    Ok((db, file))
}

/// Reads every imported file that is not in the database yet, until no new file turns up. A path
/// that is not a `.kfl` file is never opened (the checker reports E0125); a `.kfl` file outside
/// every root is recorded as refused (E0125) without being opened; one that is not a regular file,
/// is too large or is not UTF-8 is recorded as refused (E0126). A path that names no file is left
/// out (the checker reports E0114).
pub fn load_imports(db: &mut Database, roots: &ImportRoots) {
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
            return;
        }
        for path in missing {
            if !kfl_check::is_importable_name(&path) {
                continue;
            }
            let on_disk = Path::new(&*path);
            let canonical = match std::fs::canonicalize(on_disk) {
                Ok(canonical) => canonical,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    db.refuse_file(&path, Unreadable::Io(e).refusal(on_disk));
                    continue;
                }
            };
            if !roots.allows(&canonical) {
                let message = format!("`{}` is outside the project root {}", escape_control(&path), roots.describe());
                db.refuse_file(&path, Refusal { code: Code::ImportNotAllowed, message });
                continue;
            }
            match read_source(on_disk) {
                Ok(text) => {
                    db.set_file(&path, text);
                }
                Err(Unreadable::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(unreadable) => db.refuse_file(&path, unreadable.refusal(on_disk)),
            }
        }
    }
}

/// The most a source file may hold: larger files are refused (E0126) and never read past this.
pub const MAX_SOURCE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a source file was not read.
#[derive(Debug)]
pub enum Unreadable {
    /// A FIFO, a device, a socket or a folder: reading it could wait or run for ever.
    NotRegular(&'static str),
    TooLarge,
    /// Not UTF-8 text: the offset of the first byte that is not.
    NotUtf8 {
        offset: usize,
    },
    Io(std::io::Error),
    /// A path named `….kfl` that leads, through symbolic links, to a file that is not named `.kfl`
    /// (a link planted in a repository, `notes.kfl -> /proc/self/environ`): not read, so no
    /// diagnostic can quote it.
    LinkToOtherFile,
}

impl Unreadable {
    /// The coded refusal, with the path shown lossily and escaped; never the file's content.
    pub fn refusal(&self, path: &Path) -> Refusal {
        let path = shown(path);
        let (code, message) = match self {
            Unreadable::NotRegular(kind) => {
                (Code::UnreadableSource, format!("`{path}` is not a regular file ({kind})"))
            }
            Unreadable::TooLarge => {
                (Code::UnreadableSource, format!("`{path}` is larger than {} MiB", MAX_SOURCE_BYTES / (1024 * 1024)))
            }
            Unreadable::NotUtf8 { offset } => {
                (Code::UnreadableSource, format!("`{path}` is not UTF-8 text (first bad byte at offset {offset})"))
            }
            Unreadable::Io(e) => (Code::UnreadableSource, format!("cannot read `{path}`: {e}")),
            Unreadable::LinkToOtherFile => (
                Code::UnreadableSource,
                format!("`{path}` is a symbolic link to a file that is not a `.kfl` file; it is not read"),
            ),
        };
        Refusal { code, message }
    }
}

/// A path as printed: bytes that are not UTF-8 replaced, control characters escaped.
pub fn shown(path: &Path) -> String {
    escape_control(&path.to_string_lossy()).into_owned()
}

/// Reads a source file: a regular file (checked before it is opened, so a FIFO never blocks), at
/// most [`MAX_SOURCE_BYTES`] (never read further, whatever its size says), of UTF-8 text; a path
/// named `….kfl` only when the file it leads to, through any symbolic links, is named `.kfl` too.
pub fn read_source(path: &Path) -> Result<String, Unreadable> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(Unreadable::Io)?;
    if !meta.is_file() {
        return Err(Unreadable::NotRegular(file_kind(&meta.file_type())));
    }
    // `git ls-files '*.kfl'` and pre-commit name links too: a `.kfl` name must lead to a `.kfl` file.
    if is_kfl_name(path) && !std::fs::canonicalize(path).map_err(Unreadable::Io).is_ok_and(|real| is_kfl_name(&real)) {
        return Err(Unreadable::LinkToOtherFile);
    }
    if meta.len() > MAX_SOURCE_BYTES {
        return Err(Unreadable::TooLarge);
    }
    let file = std::fs::File::open(path).map_err(Unreadable::Io)?;
    // Replaced between the two looks: what was opened is what counts.
    let opened = file.metadata().map_err(Unreadable::Io)?;
    if !opened.is_file() {
        return Err(Unreadable::NotRegular(file_kind(&opened.file_type())));
    }
    let mut bytes = Vec::with_capacity(opened.len().min(MAX_SOURCE_BYTES) as usize);
    file.take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes).map_err(Unreadable::Io)?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(Unreadable::TooLarge);
    }
    String::from_utf8(bytes).map_err(|e| Unreadable::NotUtf8 { offset: e.utf8_error().valid_up_to() })
}

fn is_kfl_name(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "kfl")
}

fn file_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

/// The folders imports may be read from: the project root of every file named on the command line
/// ([`project_root`]) and the folders allowed explicitly (`--import-root`), all canonical.
#[derive(Clone, Debug, Default)]
pub struct ImportRoots {
    roots: Vec<PathBuf>,
}

impl ImportRoots {
    pub fn for_files(files: &[PathBuf], extra_roots: &[PathBuf]) -> ImportRoots {
        let mut roots: Vec<PathBuf> = Vec::new();
        let mut seen_folders = std::collections::HashSet::new();
        for file in files {
            let folder = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if seen_folders.insert(folder.to_path_buf()) {
                roots.extend(project_root(folder));
            }
        }
        roots.extend(extra_roots.iter().filter_map(|r| std::fs::canonicalize(r).ok()));
        roots.sort();
        roots.dedup();
        ImportRoots { roots }
    }

    /// Whether a canonical path lies inside one of the roots.
    pub fn allows(&self, canonical: &Path) -> bool {
        self.roots.iter().any(|root| canonical.starts_with(root))
    }

    /// The roots as a message names them.
    pub fn describe(&self) -> String {
        let names: Vec<String> = self.roots.iter().map(|r| format!("`{}`", shown(r))).collect();
        match names.len() {
            0 => "(there is none)".to_string(),
            _ => names.join(", "),
        }
    }
}

/// The project root of a file in `folder`: the nearest folder from `folder` up that holds a `.git`
/// or a `kfl.toml`, else `folder` itself; canonical. `None` when `folder` cannot be resolved.
pub fn project_root(folder: &Path) -> Option<PathBuf> {
    let folder = std::fs::canonicalize(folder).ok()?;
    let marked = folder.ancestors().find(|dir| dir.join(".git").exists() || dir.join("kfl.toml").exists());
    Some(marked.unwrap_or(&folder).to_path_buf())
}

/// Writes through a temporary file in the same folder and a rename, so a reader never sees half a
/// file. A symbolic link is followed: the file it points to is replaced (keeping its permissions)
/// and the link stays a link.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    write_through_rename(path, text, true)
}

/// [`write_atomically`] without flushing the file to the disk before the rename: for what is made
/// from sources and can be made again (`kflc build`'s output), as compilers write their outputs.
/// Readers still never see half a file; a crash of the machine right after may lose the new file.
/// (The flush was most of the time of writing a 1,000-task pipeline: 4 to 13 ms.)
pub fn write_derived(path: &Path, text: &str) -> std::io::Result<()> {
    write_through_rename(path, text, false)
}

fn write_through_rename(path: &Path, text: &str, sync: bool) -> std::io::Result<()> {
    use std::io::Write;
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let target = if is_link { std::fs::canonicalize(path)? } else { path.to_path_buf() };
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = target.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.kflc-{}.tmp", std::process::id()));
    // A new file, never one that is there already (nor what a link planted there points to).
    let _ = std::fs::remove_file(&tmp);
    let written = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).and_then(|mut file| {
        file.write_all(text.as_bytes()).and_then(|()| if sync { file.sync_all() } else { Ok(()) })
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(meta) = std::fs::metadata(&target) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, &target).inspect_err(|_| {
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

//! Files: atomic writes, content hashes, stamps, and copying trees (by reflink or copy, never by hard link).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A name no other process or thread of this machine uses at the same time.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{}-{}-{nanos:x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Writes through a temporary file in the same folder and a rename, so a reader never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = write_temporary(path, bytes)?;
    let result = std::fs::rename(&tmp, path);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to a new temporary file beside `path` (its folder made if need be) and returns
/// its path, for the caller to rename into place.
pub fn write_temporary(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", unique_suffix()));
    let mut file = match std::fs::File::create(&tmp) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Its folder is missing: made only then, not checked on every write.
            std::fs::create_dir_all(dir)?;
            std::fs::File::create(&tmp)?
        }
        Err(e) => return Err(e),
    };
    // No fsync: the rename makes the write atomic for readers, which is what matters here;
    // durability across a power cut is not worth milliseconds per task.
    if let Err(e) = file.write_all(bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// Writes a value as pretty JSON, atomically.
pub fn write_json_atomically(path: &Path, value: &impl serde::Serialize) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    write_atomically(path, &text)
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The content hash of a file, or of a folder (its relative paths and file contents, sorted);
/// `None` if nothing is there.
pub fn content_hash(path: &Path) -> std::io::Result<Option<String>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut hasher = Sha256::new();
    if !meta.is_dir() && !meta.is_file() {
        return Err(not_regular(path));
    }
    if meta.is_dir() {
        hasher.update(b"dir\0");
        let mut files = Vec::new();
        list_files(path, Path::new(""), &mut files)?;
        files.sort();
        for relative in files {
            hasher.update(relative.to_string_lossy().as_bytes());
            hasher.update(b"\0");
            hasher.update(hash_file(&path.join(&relative))?.as_bytes());
        }
    } else {
        hasher.update(b"file\0");
        hasher.update(hash_file(path)?.as_bytes());
    }
    Ok(Some(hex(&hasher.finalize())))
}

fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn list_files(root: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(relative))? {
        let entry = entry?;
        let child = relative.join(entry.file_name());
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            list_files(root, &child, out)?;
        } else if file_type.is_file() {
            out.push(child);
        } else {
            // Never opened: a FIFO would block for ever, a device never end.
            return Err(not_regular(&root.join(&child)));
        }
    }
    Ok(())
}

/// Reads a regular file (a link to one too) of at most `limit` bytes; anything else is an error
/// found without opening it, so that a FIFO or a device cannot block or fill the memory.
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(not_regular(path));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!("{} is larger than {limit} bytes", path.display())));
    }
    Ok(bytes)
}

fn not_regular(path: &Path) -> std::io::Error {
    std::io::Error::other(format!("{} is not a regular file (a FIFO, socket, device or link)", path.display()))
}

/// Makes `path` (a task's output) regular files and folders only: a link to a regular file is
/// replaced by a copy of it (what it points to may be gone when the artifact is read); anything
/// else that is not a regular file or folder (a FIFO, a socket, a device, a link to one of those
/// or to a folder) is an error, found without opening it.
pub fn materialize(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            materialize(&entry?.path())?;
        }
        Ok(())
    } else if meta.is_file() {
        Ok(())
    } else if meta.file_type().is_symlink() && std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let copy = path.with_file_name(format!(".{name}.{}.tmp", unique_suffix()));
        let copied = copy_file(path, &copy).and_then(|()| std::fs::rename(&copy, path));
        if copied.is_err() {
            let _ = std::fs::remove_file(&copy);
        }
        copied
    } else {
        Err(not_regular(path))
    }
}

/// Recreates `from` (a file or a folder) at `to` as an independent copy: files are cloned (reflinks,
/// where the file system shares blocks: btrfs, XFS) or copied, never hard-linked, so that nothing
/// written at `to` ever reaches `from`. Anything but regular files and folders is an error (outputs
/// are [`materialize`]d first). `to` must not exist.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if meta.is_dir() {
        std::fs::create_dir(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else if meta.is_file() {
        copy_file(from, to)
    } else {
        Err(not_regular(from))
    }
}

/// Copies one file to a new path, by reflink when the file system can, by copying otherwise.
fn copy_file(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut source = std::fs::File::open(from)?;
    let mut target = std::fs::OpenOptions::new().write(true).create_new(true).open(to)?;
    if rustix::fs::ioctl_ficlone(&target, &source).is_err() {
        // `io::copy` uses copy_file_range, which some file systems also serve by sharing blocks.
        std::io::copy(&mut source, &mut target)?;
    }
    Ok(())
}

/// Sets a file's or folder's permission bits.
pub fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Makes every file below `path` read-only (and with `folders`, every folder too, so that nothing
/// can be added or removed), for whoever the permissions stop (not root: see [`tree_stamp`]).
pub fn make_read_only(path: &Path, folders: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            make_read_only(&entry?.path(), folders)?;
        }
        if folders {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.permissions().mode() & 0o555))?;
        }
    } else if meta.is_file() {
        let mut permissions = meta.permissions();
        if !permissions.readonly() {
            permissions.set_readonly(true);
            std::fs::set_permissions(path, permissions)?;
        }
    }
    Ok(())
}

/// Gives the owner write access to every folder below `path`, so that the tree can be removed.
fn make_folders_writable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.permissions().mode() | 0o700))?;
        for entry in std::fs::read_dir(path)? {
            make_folders_writable(&entry?.path())?;
        }
    }
    Ok(())
}

/// One file (or folder, or link) of a tree, as `stat` sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The path relative to the tree's root, lossily as text (for messages and records).
    pub relative: String,
    pub kind: &'static str,
    pub size: u64,
    pub mtime_ns: i64,
    /// The inode change time: no program can set it, and every write, chmod or rename changes it.
    pub ctime_ns: i64,
}

/// Every file, folder and link below `path` (the root itself included, as ""), sorted by path.
/// Cheap (no content is read): what changed between two stamps was written to.
pub fn tree_stamp(path: &Path) -> std::io::Result<Vec<Stamp>> {
    let mut out = Vec::new();
    stamp_into(path, Path::new(""), &mut out)?;
    out.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(out)
}

fn stamp_into(root: &Path, relative: &Path, out: &mut Vec<Stamp>) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    // `root.join("")` would end in a slash, which a file's path must not.
    let path = if relative.as_os_str().is_empty() { root.to_path_buf() } else { root.join(relative) };
    let meta = std::fs::symlink_metadata(&path)?;
    let kind = if meta.is_dir() {
        "folder"
    } else if meta.file_type().is_symlink() {
        "link"
    } else if meta.is_file() {
        "file"
    } else {
        "other"
    };
    out.push(Stamp {
        relative: relative.to_string_lossy().into_owned(),
        kind,
        size: if meta.is_dir() { 0 } else { meta.len() },
        mtime_ns: meta.mtime().saturating_mul(1_000_000_000).saturating_add(meta.mtime_nsec()),
        ctime_ns: meta.ctime().saturating_mul(1_000_000_000).saturating_add(meta.ctime_nsec()),
    });
    if meta.is_dir() {
        for entry in std::fs::read_dir(&path)? {
            stamp_into(root, &relative.join(entry?.file_name()), out)?;
        }
    }
    Ok(())
}

/// The sha256 of a file's content.
pub fn file_hash(path: &Path) -> std::io::Result<String> {
    hash_file(path)
}

/// Removes a file or folder if it is there.
pub fn remove_any(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path).or_else(|e| {
            // Read-only folders (a task's inputs): open them up, then try again.
            if e.kind() != std::io::ErrorKind::PermissionDenied {
                return Err(e);
            }
            make_folders_writable(path)?;
            std::fs::remove_dir_all(path)
        }),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The last `lines` lines of a text file (empty if it cannot be read).
pub fn tail(path: &Path, lines: usize) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else { return Vec::new() };
    let start = bytes.len().saturating_sub(64 * 1024);
    let text = String::from_utf8_lossy(&bytes[start..]);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_hash_depends_on_names_and_contents() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("kfl-run-hash-{}", unique_suffix()));
        std::fs::create_dir_all(dir.join("a"))?;
        std::fs::write(dir.join("a/x"), "1")?;
        let first = content_hash(&dir)?;
        std::fs::write(dir.join("a/x"), "2")?;
        let second = content_hash(&dir)?;
        assert_ne!(first, second);
        assert_eq!(content_hash(&dir.join("missing"))?, None);
        std::fs::remove_dir_all(&dir)
    }
}

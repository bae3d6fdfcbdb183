//! Inodes a run keeps instead of freeing them while it goes: `<run>/.spare/`, removed when the run
//! ends.
//!
//! Why: on ext4 without a journal, making a file or folder skips every inode of its group freed in
//! the last minutes (`recently_deleted`), one look-up each; a run that freed a few inodes per task
//! paid for each new one a time that grew with the number of tasks already run (measured: a
//! 1,000-task chain spent half its time there). So a task's emptied attempt folder is moved here
//! and becomes the next attempt's folder (a rename allocates nothing), and a replaced `manifest.json`
//! is moved here (an atomic exchange instead of a rename over it) and freed with the rest at the end.
//!
//! Invariants:
//! - Nothing here is ever read as a record: the folder's name starts with a dot, which `kflc ui`
//!   and `--resume` skip, and it holds only emptied folders and replaced manifests.
//! - A folder is reused only when it is empty and has the permissions a fresh one would have; a
//!   replaced file is never reused (a reader that opened it before the exchange keeps reading what
//!   it opened, as after a rename over it).
//! - Every write stays atomic for readers: a file is replaced by one exchange (or, where the file
//!   system has none, one rename), never rewritten in place.
//! - Best effort: when anything here fails, the plain way (mkdir, rename over, remove) is taken.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::fsutil;

pub struct Spares {
    dir: PathBuf,
    /// The pool folder's permission bits once made (what a fresh folder gets under this umask).
    mode: OnceLock<Option<u32>>,
    /// Emptied folders ready to be renamed into place.
    folders: Mutex<Vec<PathBuf>>,
}

impl Spares {
    pub fn new(run_dir: &Path) -> Spares {
        Spares { dir: run_dir.join(".spare"), mode: OnceLock::new(), folders: Mutex::new(Vec::new()) }
    }

    /// The pool folder's mode, making it the first time; `None` when it cannot be made.
    fn ready(&self) -> Option<u32> {
        *self.mode.get_or_init(|| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::create_dir_all(&self.dir).ok()?;
            std::fs::symlink_metadata(&self.dir).ok().map(|m| m.permissions().mode() & 0o7777)
        })
    }

    fn fresh_name(&self, prefix: &str) -> PathBuf {
        self.dir.join(format!("{prefix}{}", fsutil::unique_suffix()))
    }

    /// Makes the (new) folder `to`: a spare one renamed there, or a fresh one.
    pub fn make_dir(&self, to: &Path) -> std::io::Result<()> {
        loop {
            let spare = self.folders.lock().ok().and_then(|mut f| f.pop());
            let Some(spare) = spare else { break };
            if std::fs::rename(&spare, to).is_ok() {
                return Ok(());
            }
            // Gone or not movable: forget it (the pool is removed at the end anyway).
        }
        std::fs::create_dir_all(to)
    }

    /// Removes the folder `path`, keeping its inode for [`Spares::make_dir`] when it is empty
    /// and has a fresh folder's permissions.
    pub fn retire_dir(&self, path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let reusable = self.ready().is_some_and(|mode| {
            std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o7777 == mode)
                && std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none())
        });
        if reusable {
            let spare = self.fresh_name("d.");
            if std::fs::rename(path, &spare).is_ok() {
                if let Ok(mut folders) = self.folders.lock() {
                    folders.push(spare);
                }
                return;
            }
        }
        let _ = fsutil::remove_any(path);
    }

    /// Writes a value as pretty JSON at `path` atomically, as [`fsutil::write_json_atomically`]
    /// does, except that the file it replaces is moved here instead of freed.
    pub fn write_json_replacing(&self, path: &Path, value: &impl serde::Serialize) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
        let tmp = fsutil::write_temporary(path, &text)?;
        let exchanged = self.ready().is_some()
            && rustix::fs::renameat_with(
                rustix::fs::CWD,
                &tmp,
                rustix::fs::CWD,
                path,
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .is_ok();
        let result = if exchanged {
            // `tmp` names the replaced file now.
            if std::fs::rename(&tmp, self.fresh_name("f.")).is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            Ok(())
        } else {
            // Nothing to replace, or no exchange on this file system.
            std::fs::rename(&tmp, path)
        };
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Frees everything kept (at the end of the run).
    pub fn clear(&self) {
        if let Ok(mut folders) = self.folders.lock() {
            folders.clear();
        }
        let _ = fsutil::remove_any(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kfl-run-spares-{name}-{}", fsutil::unique_suffix()));
        let _ = std::fs::create_dir_all(&dir);
        dir
    }

    #[test]
    fn an_emptied_folder_becomes_the_next_one_and_a_full_one_is_removed() -> std::io::Result<()> {
        let run = scratch("folders");
        let spares = Spares::new(&run);
        spares.make_dir(&run.join("a"))?;
        let inode = std::fs::metadata(run.join("a"))?.ino();
        spares.retire_dir(&run.join("a"));
        assert!(!run.join("a").exists());
        spares.make_dir(&run.join("b"))?;
        assert_eq!(std::fs::metadata(run.join("b"))?.ino(), inode, "the emptied folder is reused");
        std::fs::write(run.join("b/stray"), "x")?;
        spares.retire_dir(&run.join("b"));
        assert!(!run.join("b").exists());
        spares.make_dir(&run.join("c"))?;
        assert_eq!(std::fs::read_dir(run.join("c"))?.count(), 0, "a folder that was not empty is never reused");
        spares.clear();
        assert!(!run.join(".spare").exists());
        std::fs::remove_dir_all(&run)
    }

    #[test]
    fn a_replaced_file_is_kept_whole_for_whoever_opened_it() -> std::io::Result<()> {
        use std::io::Read;
        let run = scratch("files");
        let spares = Spares::new(&run);
        let path = run.join("manifest.json");
        spares.write_json_replacing(&path, &serde_json::json!({ "status": "running" }))?;
        let mut reader = std::fs::File::open(&path)?;
        spares.write_json_replacing(&path, &serde_json::json!({ "status": "succeeded" }))?;
        let mut before = String::new();
        reader.read_to_string(&mut before)?;
        assert!(before.contains("running"), "{before}");
        assert!(std::fs::read_to_string(&path)?.contains("succeeded"));
        let leftovers: Vec<_> = std::fs::read_dir(&run)?.flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 2, "manifest.json and .spare only: {leftovers:?}");
        spares.clear();
        std::fs::remove_dir_all(&run)
    }
}

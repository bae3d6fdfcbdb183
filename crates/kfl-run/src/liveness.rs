//! Whether a run is still going, for viewers (`kflc ui`): while `kflc run` runs, it holds an
//! exclusive `flock` on `<run-dir>/run.lock`, a file that holds its process id. The kernel drops
//! the lock when the process ends, however it ends (`kill -9` included), so a `run.json` that says
//! `running` while nobody holds the lock belongs to a run that was lost.
//!
//! The lock is taken before `run.json` first says `running` and released after it says how the run
//! ended. Its descriptor is close-on-exec (as every file Rust opens): task processes never hold it,
//! so a task that outlives a killed `kflc run` does not keep the run looking alive. Runs recorded
//! before this file existed have no `run.lock`; viewers cannot tell, and show what `run.json` says.

use std::io::Write;
use std::path::Path;

/// The lock file's name inside the run's folder.
pub const LOCK_FILE: &str = "run.lock";

/// Held for as long as the run goes; dropping it (or the process ending) releases the lock.
pub struct RunLock {
    _file: std::fs::File,
}

/// Creates `run.lock` in `run_dir` and locks it. When the file system refuses locks, the file is
/// removed again (a lock file nobody holds would say the run was lost) and the error returned.
pub fn hold(run_dir: &Path) -> std::io::Result<RunLock> {
    let path = run_dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(&path)?;
    let locked = rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    match locked {
        Ok(()) => Ok(RunLock { _file: file }),
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_held_until_dropped_and_names_the_process() {
        let dir = std::env::temp_dir().join(format!("kfl-liveness-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let lock = hold(&dir).expect("a temp folder can be locked");
        let text = std::fs::read_to_string(dir.join(LOCK_FILE)).expect("read run.lock");
        assert_eq!(text.trim(), std::process::id().to_string());
        let other = std::fs::File::open(dir.join(LOCK_FILE)).expect("open run.lock");
        let try_shared = || rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockShared);
        assert!(try_shared().is_err(), "a second open file must not get the lock while the run holds it");
        drop(lock);
        // Another test of this process may be between fork and exec of a child, which then shares
        // the open file (and its lock) until the exec closes it: wait for that, briefly.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while try_shared().is_err() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(try_shared().is_ok(), "the lock must be free once the run lets go");
        std::fs::remove_dir_all(&dir).expect("rm");
    }
}

//! Cancelling a run from the page: SIGTERM to the `kflc run` that holds the run's `run.lock`
//! (kfl-run's `liveness.rs`), which stops it as Ctrl-C does and records it as `interrupted`.
//!
//! A process id alone could name an unrelated process that reused it, so the signal goes only to
//! the process the kernel lists (`/proc/locks`) as holding the write `flock` on that very file.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Sends SIGTERM to the `kflc run` of the run in `dir`; its process id, or why not.
pub fn cancel_run(dir: &Path) -> Result<u32, String> {
    let record = std::fs::read(dir.join("run.json")).map_err(|_| "the run has no readable run.json".to_string())?;
    let status = serde_json::from_slice::<serde_json::Value>(&record)
        .ok()
        .and_then(|r| r.get("status").and_then(|s| s.as_str()).map(str::to_string));
    if status.as_deref() != Some("running") {
        return Err(format!("the run is not running ({})", status.as_deref().unwrap_or("no status")));
    }
    let lock = dir.join("run.lock");
    let meta = std::fs::symlink_metadata(&lock)
        .ok()
        .filter(|m| m.file_type().is_file() && m.len() <= 64)
        .ok_or("the run has no run.lock (recorded by an older kflc): stop it where it runs")?;
    let pid: u32 = std::fs::read_to_string(&lock)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .filter(|pid| *pid > 1)
        .ok_or("run.lock holds no process id")?;
    if !holds_flock(pid, meta.ino()) {
        return Err(format!("process {pid} does not hold the run's lock: the run was lost, nothing to stop"));
    }
    let target = rustix::process::Pid::from_raw(pid as i32).ok_or("run.lock holds no process id")?;
    rustix::process::kill_process(target, rustix::process::Signal::TERM)
        .map_err(|e| format!("cannot signal process {pid}: {e}"))?;
    Ok(pid)
}

/// Whether the kernel lists `pid` as holding a write `flock` on the file with inode `inode`.
fn holds_flock(pid: u32, inode: u64) -> bool {
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else { return false };
    locks.lines().filter(|line| !line.contains("->")).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() >= 6
            && fields[1] == "FLOCK"
            && fields[3] == "WRITE"
            && fields[4].parse::<u32>() == Ok(pid)
            && fields[5].rsplit(':').next().and_then(|i| i.parse::<u64>().ok()) == Some(inode)
    })
}

//! One virtualenv per distinct set of packages, made once and reused by every run:
//! `<venv_dir>/<hash>/`. Creation holds a lock file (so two runs, or two tasks of one run, never build
//! the same one at once), builds under a temporary name, and renames into place when pip succeeded:
//! a virtualenv that exists is complete.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::sync::watch;

use crate::fsutil;

/// The default home of the virtualenvs: `$XDG_CACHE_HOME/kfl/venvs` or `~/.cache/kfl/venvs`.
pub fn default_venv_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KFL_VENV_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("kfl").join("venvs")
}

/// The name of the virtualenv of a package set (order and duplicates do not matter).
pub fn venv_key(packages: &[String]) -> String {
    let mut sorted: Vec<&str> = packages.iter().map(|p| p.trim()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let text = format!("python3\n{}", sorted.join("\n"));
    fsutil::sha256_hex(text.as_bytes()).chars().take(20).collect()
}

/// The python of the virtualenv with these packages, making it first if needed. pip's output goes
/// to `log`.
pub async fn python_with(
    venv_dir: &Path,
    packages: &[String],
    log: &Path,
    announce: impl FnOnce(&Path),
    cancel: watch::Receiver<bool>,
) -> Result<PathBuf, String> {
    let venv = venv_dir.join(venv_key(packages));
    let python = venv.join("bin").join("python");
    if venv.join(".kfl-complete").exists() {
        return Ok(python);
    }
    announce(&venv);
    let venv_dir = venv_dir.to_path_buf();
    let packages = packages.to_vec();
    let log = log.to_path_buf();
    tokio::task::spawn_blocking(move || create(&venv_dir, &venv, &packages, &log, &cancel))
        .await
        .map_err(|e| format!("the virtualenv builder stopped: {e}"))??;
    Ok(python)
}

fn create(
    venv_dir: &Path,
    venv: &Path,
    packages: &[String],
    log: &Path,
    cancel: &watch::Receiver<bool>,
) -> Result<(), String> {
    let io = |e: std::io::Error| format!("cannot make a virtualenv in {}: {e}", venv_dir.display());
    std::fs::create_dir_all(venv_dir).map_err(io)?;
    let name = venv.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(venv_dir.join(format!("{name}.lock")))
        .map_err(io)?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).map_err(|e| io(e.into()))?;
    // Someone else may have made it while we waited for the lock.
    if venv.join(".kfl-complete").exists() {
        return Ok(());
    }
    let tmp = venv_dir.join(format!(".{name}.{}.tmp", fsutil::unique_suffix()));
    let result = (|| {
        append(log, &format!("kfl: making a virtualenv for {}\n", packages.join(" ")));
        run(log, cancel, std::process::Command::new("python3").arg("-m").arg("venv").arg(&tmp))
            .map_err(|e| format!("`python3 -m venv` failed: {e}"))?;
        let mut pip = std::process::Command::new(tmp.join("bin").join("python"));
        pip.args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet"]).args(packages);
        run(log, cancel, &mut pip).map_err(|e| format!("pip could not install {}: {e}", packages.join(", ")))?;
        std::fs::write(tmp.join(".kfl-complete"), packages.join("\n")).map_err(io)?;
        let _ = fsutil::remove_any(venv);
        std::fs::rename(&tmp, venv).map_err(io)
    })();
    if result.is_err() {
        let _ = fsutil::remove_any(&tmp);
    }
    result
}

/// Runs a command with its output appended to `log`, in its own process group, stopping it if the
/// run is cancelled.
fn run(log: &Path, cancel: &watch::Receiver<bool>, command: &mut std::process::Command) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0)
        .spawn()
        .map_err(|e| e.to_string())?;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return if status.success() { Ok(()) } else { Err(format!("{status}; see {}", log.display())) };
        }
        if *cancel.borrow() {
            if let Some(pid) = i32::try_from(child.id()).ok().and_then(rustix::process::Pid::from_raw) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            let _ = child.wait();
            return Err("cancelled".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn append(log: &Path, text: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        let _ = f.write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_ignores_order_and_duplicates() {
        let a = venv_key(&["b==1".into(), "a==2".into()]);
        let b = venv_key(&["a==2".into(), "b==1".into(), "a==2".into()]);
        assert_eq!(a, b);
        assert_ne!(a, venv_key(&["a==3".into()]));
    }
}

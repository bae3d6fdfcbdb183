//! CPU limits for tasks that run on this machine: what `--cpus` is to a container, a cgroup's CPU
//! quota is to a process here (`cpu.max` in cgroup v2, `cpu.cfs_quota_us` in v1).
//!
//! Invariants:
//! - Best effort, said once: where no cgroup can be made (not Linux, no write access, a v2
//!   hierarchy whose `cpu` controller is not delegated to us), tasks run without a CPU cap, the run
//!   says why once, and nothing fails for it.
//! - Only numbers go into cgroup files, and the folders are named after the run's process id and a
//!   counter: nothing a user wrote reaches a path or a file here.
//! - A task's cgroup is made when it starts and removed when it has ended; the run's own folder
//!   goes when the run ends. Folders left by a run that was killed (`kfl-run-PID` of a process
//!   that is gone) are removed by the next run that makes one beside them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

/// The CPU period of a task's quota, in microseconds (the kernel's and the kubelet's default).
const PERIOD_US: u64 = 100_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Version {
    V1,
    V2,
}

/// Where CPU-capped cgroups are made for one run.
pub struct CpuCaps {
    /// The cgroup hierarchy to use: found on first use, or given (tests).
    place: OnceLock<Result<(PathBuf, Version), String>>,
    /// The run's own folder in it, made on first use.
    run_dir: OnceLock<Result<PathBuf, String>>,
    next: AtomicU64,
    told: AtomicBool,
}

/// A task's cgroup; removed when dropped (after the task's processes have ended).
#[derive(Debug)]
pub struct Cap {
    dir: PathBuf,
}

impl Cap {
    /// Makes `command`'s process join the cgroup before it runs its program (a process moved in
    /// after it started would leave outside whatever it had already started): the cgroup's
    /// `cgroup.procs` is opened here, and the new process writes its own id into it between fork and
    /// exec. Should that fail, the task still runs and its standard error says so.
    pub fn join_on_start(&self, command: &mut std::process::Command) {
        // Opened as a shell's `>` would: close-on-exec, so the task never holds it.
        let procs = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.dir.join("cgroup.procs"))
            .ok()
            .map(std::os::fd::OwnedFd::from);
        let hook = move || {
            join(procs.as_ref());
            Ok(())
        };
        // SAFETY: the hook runs in the child between fork and exec, where only async-signal-safe
        // calls are allowed. `join` makes system calls only (getpid, write), allocates nothing,
        // takes no lock, and reads only what was made before the fork (a descriptor and a stack
        // buffer).
        #[allow(unsafe_code)]
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(command, hook);
        }
    }
}

/// In a child between fork and exec: writes its process id to `procs` (see
/// [`Cap::join_on_start`]), or says on its standard error that it could not.
fn join(procs: Option<&std::os::fd::OwnedFd>) {
    let mut buffer = [0u8; 20];
    let text = decimal(rustix::process::getpid().as_raw_nonzero().get().unsigned_abs(), &mut buffer);
    let joined = procs.is_some_and(|fd| rustix::io::write(fd, text).is_ok_and(|n| n == text.len()));
    if !joined {
        let _ = rustix::io::write(rustix::stdio::stderr(), b"kflc: the task runs without its CPU limit\n");
    }
}

/// `n` in decimal, written at the end of `buffer` (no allocation).
fn decimal(mut n: u32, buffer: &mut [u8; 20]) -> &[u8] {
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buffer[start..]
}

impl Drop for Cap {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl Default for CpuCaps {
    fn default() -> Self {
        CpuCaps::new()
    }
}

impl CpuCaps {
    /// Caps in this process's own cgroup, found on first use.
    pub fn new() -> CpuCaps {
        CpuCaps {
            place: OnceLock::new(),
            run_dir: OnceLock::new(),
            next: AtomicU64::new(0),
            told: AtomicBool::new(false),
        }
    }

    /// Caps under `dir`, a cgroup folder of the given version (for tests: any folder will do).
    pub fn at(dir: PathBuf, version: Version) -> CpuCaps {
        let caps = CpuCaps::new();
        let _ = caps.place.set(Ok((dir, version)));
        caps
    }

    /// Whether caps can be made here, or why not.
    pub fn available(&self) -> Result<(), String> {
        self.run_dir().map(|_| ())
    }

    /// A new cgroup that lets the processes in it use `millicpus` of CPU time per second of wall
    /// time; a task joins it through [`Cap::join_on_start`]. The error says why it could not be made.
    pub fn cap(&self, millicpus: u64) -> Result<Cap, String> {
        let run_dir = self.run_dir()?;
        let version = self.version()?;
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = run_dir.join(format!("task-{n}"));
        std::fs::create_dir(&dir).map_err(|e| format!("cannot make the cgroup {}: {e}", dir.display()))?;
        let cap = Cap { dir };
        // The kernel's smallest quota is 1 ms a period: 10m, as a kubelet rounds a tiny limit up.
        let quota = millicpus.max(10) * PERIOD_US / 1000;
        let written = match version {
            Version::V2 => write(&cap.dir.join("cpu.max"), &format!("{quota} {PERIOD_US}")),
            Version::V1 => write(&cap.dir.join("cpu.cfs_period_us"), &PERIOD_US.to_string())
                .and_then(|()| write(&cap.dir.join("cpu.cfs_quota_us"), &quota.to_string())),
        };
        written?;
        Ok(cap)
    }

    /// `Some(reason)` the first time a cap could not be made (the run says it once), then `None`.
    pub fn tell_once(&self, reason: String) -> Option<String> {
        (!self.told.swap(true, Ordering::Relaxed)).then_some(reason)
    }

    fn version(&self) -> Result<Version, String> {
        self.place().map(|(_, version)| version)
    }

    fn place(&self) -> Result<(PathBuf, Version), String> {
        self.place.get_or_init(find_own_cgroup).clone()
    }

    fn run_dir(&self) -> Result<PathBuf, String> {
        self.run_dir
            .get_or_init(|| {
                let (dir, version) = self.place()?;
                remove_stale(&dir);
                let run_dir = dir.join(format!("kfl-run-{}", std::process::id()));
                match std::fs::create_dir(&run_dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(format!("cannot make a cgroup in {}: {e}", dir.display())),
                }
                if version == Version::V2 {
                    // Children of the run's folder get the cpu controller (the folder has no
                    // processes of its own, so v2 allows it).
                    if let Err(e) = write(&run_dir.join("cgroup.subtree_control"), "+cpu") {
                        let _ = std::fs::remove_dir(&run_dir);
                        return Err(e);
                    }
                }
                Ok(run_dir)
            })
            .clone()
    }
}

impl Drop for CpuCaps {
    fn drop(&mut self) {
        if let Some(Ok(dir)) = self.run_dir.get() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Folders of runs whose process is gone (killed before it could clean up): their task folders,
/// then theirs. A folder that still holds a process stays.
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("kfl-run-")).and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let run_dir = entry.path();
        if let Ok(tasks) = std::fs::read_dir(&run_dir) {
            for task in tasks.flatten() {
                if task.file_name().to_str().is_some_and(|n| n.starts_with("task-")) {
                    let _ = std::fs::remove_dir(task.path());
                }
            }
        }
        let _ = std::fs::remove_dir(&run_dir);
    }
}

/// This process's cgroup with a CPU controller we may write to: the v1 `cpu` hierarchy where
/// there is one, else the unified (v2) one.
fn find_own_cgroup() -> Result<(PathBuf, Version), String> {
    if !cfg!(target_os = "linux") {
        return Err("CPU limits on this machine need Linux cgroups".into());
    }
    let own =
        std::fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let found = locate(&own, &mounts)?;
    let (dir, version) = &found;
    let control = match version {
        Version::V1 => dir.join("cpu.cfs_quota_us"),
        Version::V2 => dir.join("cgroup.controllers"),
    };
    match (version, std::fs::read_to_string(&control)) {
        (_, Err(e)) => Err(format!("cannot read {}: {e}", control.display())),
        (Version::V2, Ok(controllers)) if !controllers.split_whitespace().any(|c| c == "cpu") => {
            Err(format!("the cpu controller is not delegated to {}", dir.display()))
        }
        _ => Ok(found),
    }
}

/// The folder of this process's CPU cgroup, from `/proc/self/cgroup` and `/proc/self/mountinfo`.
fn locate(own: &str, mountinfo: &str) -> Result<(PathBuf, Version), String> {
    // `ID:controllers:path`; v1 lists its controllers, v2 has `0::path`.
    let mut v1 = None;
    let mut v2 = None;
    for line in own.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if controllers.is_empty() {
            v2 = Some(path);
        } else if controllers.split(',').any(|c| c == "cpu") {
            v1 = Some(path);
        }
    }
    // `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS … - FSTYPE SOURCE SUPER_OPTIONS`
    let mount_of = |version: Version| {
        mountinfo.lines().find_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let fields: Vec<&str> = before.split(' ').collect();
            let mut after = after.split(' ');
            let (fstype, _source, options) = (after.next()?, after.next()?, after.next().unwrap_or(""));
            let matches = match version {
                Version::V1 => fstype == "cgroup" && options.split(',').any(|o| o == "cpu"),
                Version::V2 => fstype == "cgroup2",
            };
            if !matches {
                return None;
            }
            Some((unescape(fields.get(3)?), unescape(fields.get(4)?)))
        })
    };
    let join = |(root, mount): (String, String), path: &str| {
        let relative = path.strip_prefix(root.as_str()).filter(|_| root != "/").unwrap_or(path);
        Path::new(&mount).join(relative.trim_start_matches('/'))
    };
    if let (Some(path), Some(mount)) = (v1, mount_of(Version::V1)) {
        return Ok((join(mount, path), Version::V1));
    }
    if let (Some(path), Some(mount)) = (v2, mount_of(Version::V2)) {
        return Ok((join(mount, path), Version::V2));
    }
    Err("no cgroup hierarchy with a CPU controller is mounted".into())
}

/// mountinfo escapes blanks and backslashes as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        if let (b'\\', Some(digits)) = (bytes[i], octal) {
            let code = digits.iter().fold(0u32, |n, d| n * 8 + u32::from(d - b'0'));
            out.push(u8::try_from(code).unwrap_or(b'?'));
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
25 30 0:22 / /sys rw,nosuid - sysfs sysfs rw
31 25 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 25 0:28 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 25 0:29 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn the_cpu_hierarchy_is_found_from_proc() {
        let own = "4:memory:/x\n2:cpuacct:/\n1:cpu:/jobs/a\n0::/\n";
        assert_eq!(locate(own, MOUNTINFO), Ok((PathBuf::from("/sys/fs/cgroup/cpu/jobs/a"), Version::V1)));
        // Only v2: the unified hierarchy.
        let v2_only = "27 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            locate("0::/user.slice/u.scope\n", v2_only),
            Ok((PathBuf::from("/sys/fs/cgroup/user.slice/u.scope"), Version::V2))
        );
        // A mount of a subtree (a container's view): the path is relative to the mount's root.
        let sub = "27 25 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(locate("0::/kubepods/pod1/c\n", sub), Ok((PathBuf::from("/sys/fs/cgroup/c"), Version::V2)));
        assert!(locate("0::/\n", "25 30 0:22 / /sys rw - sysfs sysfs rw\n").is_err());
        assert_eq!(unescape("/a\\040b"), "/a b");
    }

    #[test]
    fn a_cap_writes_the_quota_and_the_process_and_is_removed_after() {
        for version in [Version::V1, Version::V2] {
            let dir = std::env::temp_dir().join(format!("kfl-cgroup-test-{}-{version:?}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temp dir");
            // A folder left by a run that was killed goes; one of a live process stays.
            std::fs::create_dir_all(dir.join("kfl-run-999999999/task-0")).expect("stale");
            std::fs::create_dir_all(dir.join("kfl-run-1")).expect("live");
            let caps = CpuCaps::at(dir.clone(), version);
            let cap = caps.cap(250).expect("a cap");
            let task = dir.join(format!("kfl-run-{}/task-0", std::process::id()));
            let read = |name: &str| std::fs::read_to_string(task.join(name)).expect(name);
            // The task joins it itself before it runs its program, which gets its arguments as
            // they are.
            let literal = "$1 $(exit 3) `false` \"; exit 4";
            let mut command = std::process::Command::new("echo");
            command.arg(literal).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            cap.join_on_start(&mut command);
            let child = command.spawn().expect("echo runs");
            let pid = child.id();
            let output = child.wait_with_output().expect("echo ends");
            assert!(output.status.success(), "{output:?}");
            assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{literal}\n"));
            assert_eq!(String::from_utf8_lossy(&output.stderr), "");
            assert_eq!(read("cgroup.procs"), pid.to_string());
            match version {
                Version::V1 => {
                    assert_eq!((read("cpu.cfs_quota_us"), read("cpu.cfs_period_us")), ("25000".into(), "100000".into()))
                }
                Version::V2 => assert_eq!(read("cpu.max"), "25000 100000"),
            }
            assert!(!dir.join("kfl-run-999999999").exists());
            assert!(dir.join("kfl-run-1").exists());
            // A tiny limit is raised to the kernel's smallest quota.
            let tiny = caps.cap(1).expect("a cap");
            let tiny_dir = tiny.dir.clone();
            assert!(std::fs::read_to_string(tiny_dir.join(if version == Version::V1 {
                "cpu.cfs_quota_us"
            } else {
                "cpu.max"
            }))
            .expect("quota")
            .starts_with("1000"));
            // A cgroup that cannot be joined: the task runs all the same, and says so.
            let gone = Cap { dir: dir.join("no-such-cgroup") };
            let mut command = std::process::Command::new("echo");
            command.arg("ran");
            gone.join_on_start(&mut command);
            let output = command.output().expect("echo runs");
            assert!(output.status.success(), "{output:?}");
            assert_eq!(String::from_utf8_lossy(&output.stdout), "ran\n");
            assert_eq!(String::from_utf8_lossy(&output.stderr), "kflc: the task runs without its CPU limit\n");
            assert_eq!(decimal(0, &mut [0; 20]), b"0");
            assert_eq!(decimal(u32::MAX, &mut [0; 20]), b"4294967295");
            // A real cgroup folder empties itself when its processes end; here the files go by hand.
            for cap_dir in [&task, &tiny_dir] {
                for entry in std::fs::read_dir(cap_dir).expect("files").flatten() {
                    std::fs::remove_file(entry.path()).expect("file");
                }
            }
            drop((cap, tiny));
            assert!(!task.exists() && !tiny_dir.exists());
            // The run's folder goes with the caps (v2 wrote its controllers file there by hand).
            let run_dir = dir.join(format!("kfl-run-{}", std::process::id()));
            let _ = std::fs::remove_file(run_dir.join("cgroup.subtree_control"));
            drop(caps);
            assert!(!run_dir.exists());
            std::fs::remove_dir_all(&dir).expect("clean up");
        }
    }
}

//! Resource budgets of a local run (`--cpus`, `--memory`, `--gpus`): what this machine has, what each
//! task requests, and which devices a GPU task is given.
//!
//! The scheduler starts a task only when its request fits in what is free (see
//! [`Free::try_claim`]); a request larger than the whole budget is refused before the run starts
//! ([`over_budget`]), so nothing waits forever. The detection functions read the machine
//! (`/proc/meminfo`, `nvidia-smi -L`); everything else is pure.

use std::path::Path;
use std::time::Duration;

use kfl_dag::Settings;
use kfl_diagnostics::Code;

/// What a run may use at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    pub millicpus: u64,
    pub memory: u64,
    /// The GPU devices tasks may be given (their `nvidia-smi` indices), in order.
    pub gpus: Vec<String>,
}

/// What one task asks for: its requests, or its limits where it gives only those (Kubernetes sets a
/// request equal to a lone limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub millicpus: u64,
    pub memory: u64,
    pub gpus: u32,
    /// The memory the task may use before it is stopped: its limit (as on a cluster, a request alone
    /// limits nothing).
    pub memory_limit: Option<u64>,
    /// The CPU the task may use at most (`cpu_limit`), where an engine can cap it.
    pub millicpu_limit: Option<u64>,
}

impl Request {
    pub fn of(settings: &Settings) -> Request {
        Request {
            millicpus: settings.cpu.or(settings.cpu_limit).map_or(0, |c| c.millicores()),
            memory: settings.memory.or(settings.memory_limit).map_or(0, |m| m.bytes()),
            gpus: settings.gpu.unwrap_or(0),
            memory_limit: settings.memory_limit.map(|m| m.bytes()),
            millicpu_limit: settings.cpu_limit.map(|c| c.millicores()),
        }
    }
}

/// What one started task was given, for the launcher: variables to set and a memory limit to apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    pub env: Vec<(String, String)>,
    /// Bytes of data (heap and anonymous mappings) the task's processes may have: `RLIMIT_DATA`.
    pub memory_limit: Option<u64>,
    /// The GPU devices given (also in `env`).
    pub gpus: Vec<String>,
    pub millicpus: u64,
    /// The task's CPU limit, if it has one (see [`Request::millicpu_limit`]).
    pub millicpu_limit: Option<u64>,
    pub memory: u64,
    /// The host's `python3`, found once for the run (see [`find_python`]).
    pub python: Option<String>,
}

/// What is free of a budget while a run goes on.
#[derive(Clone, Debug)]
pub struct Free {
    millicpus: u64,
    memory: u64,
    gpus: Vec<String>,
    /// Whether the machine has GPUs at all: tasks that request none are then shown none.
    hide_gpus: bool,
}

impl Free {
    pub fn new(budget: &Budget) -> Free {
        Free {
            millicpus: budget.millicpus,
            memory: budget.memory,
            gpus: budget.gpus.clone(),
            hide_gpus: !budget.gpus.is_empty(),
        }
    }

    /// Whether `request` fits in what is free now.
    pub fn fits(&self, request: &Request) -> bool {
        request.millicpus <= self.millicpus && request.memory <= self.memory && request.gpus as usize <= self.gpus.len()
    }

    /// Whether `request` fits in what is free now beside what `held` (a waiting task) needs.
    pub fn fits_beside(&self, request: &Request, held: Option<&Request>) -> bool {
        let held = held.copied().unwrap_or_default();
        request.millicpus.saturating_add(held.millicpus) <= self.millicpus
            && request.memory.saturating_add(held.memory) <= self.memory
            && (request.gpus as usize).saturating_add(held.gpus as usize) <= self.gpus.len()
    }

    /// Takes what `request` needs if it is free; `None` (and nothing taken) if it is not.
    pub fn try_claim(&mut self, request: &Request) -> Option<Grant> {
        if !self.fits(request) {
            return None;
        }
        self.millicpus -= request.millicpus;
        self.memory -= request.memory;
        let gpus: Vec<String> = self.gpus.drain(..request.gpus as usize).collect();
        let mut env = Vec::new();
        if !gpus.is_empty() || self.hide_gpus {
            // On a cluster a pod sees the devices it was given and no other.
            let devices = if gpus.is_empty() { String::new() } else { gpus.join(",") };
            env.push(("CUDA_VISIBLE_DEVICES".to_string(), devices.clone()));
            env.push(("NVIDIA_VISIBLE_DEVICES".to_string(), if gpus.is_empty() { "void".into() } else { devices }));
        }
        Some(Grant {
            env,
            memory_limit: request.memory_limit,
            gpus,
            millicpus: request.millicpus,
            millicpu_limit: request.millicpu_limit,
            memory: request.memory,
            python: None,
        })
    }

    /// Gives back what a finished task was granted.
    pub fn release(&mut self, grant: &Grant) {
        self.millicpus += grant.millicpus;
        self.memory += grant.memory;
        self.gpus.extend(grant.gpus.iter().cloned());
        // Devices are handed out lowest index first, whatever order they came back in.
        self.gpus.sort_by_key(|d| (d.parse::<u64>().unwrap_or(u64::MAX), d.clone()));
    }
}

/// Applies the grant's memory limit to a task's first process (its children inherit it), as
/// `prlimit --data` does: allocations past it fail, which a program reports as out of memory. The
/// error, if the limit could not be set, is said when the task fails.
pub fn limit_memory(pid: Option<u32>, grant: &Grant) -> Option<String> {
    let bytes = grant.memory_limit?;
    let pid = pid.and_then(|p| i32::try_from(p).ok()).and_then(rustix::process::Pid::from_raw)?;
    let limit = rustix::process::Rlimit { current: Some(bytes), maximum: Some(bytes) };
    rustix::process::prlimit(Some(pid), rustix::process::Resource::Data, limit)
        .err()
        .map(|e| format!("its memory limit could not be applied: {e}"))
}

/// What programs print when an allocation fails.
const OUT_OF_MEMORY_MARKS: [&str; 7] = [
    "MemoryError",
    "Cannot allocate memory",
    "memory exhausted",
    "out of memory",
    "Out of memory",
    "bad_alloc",
    "memory allocation of",
];

/// "out of memory" when a task with a memory limit failed for want of memory: killed by SIGKILL
/// (the kernel's out-of-memory killer) or failing with a message of an allocation that failed in
/// the last 16 KiB of its standard error.
pub fn out_of_memory(
    grant: &Grant,
    status: std::process::ExitStatus,
    stderr: &Path,
    limit_error: Option<String>,
) -> Option<String> {
    use std::os::unix::process::ExitStatusExt;
    let limit = grant.memory_limit?;
    // A container engine reports a process the kernel killed with SIGKILL as exit code 137.
    let killed = status.signal() == Some(9) || status.code() == Some(137);
    let how = match (status.code(), status.signal()) {
        (Some(137), _) => "killed by SIGKILL (exit code 137)".to_string(),
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(9)) => "killed by SIGKILL".to_string(),
        _ => return None,
    };
    let tail = read_tail(stderr, 16 * 1024);
    if !killed && !OUT_OF_MEMORY_MARKS.iter().any(|mark| tail.contains(mark)) {
        return None;
    }
    let mut text =
        format!("out of memory: the task needed more than its memory limit of {} ({how})", human_bytes(limit));
    if let Some(e) = limit_error {
        text.push_str(&format!("; {e}"));
    }
    Some(text)
}

fn read_tail(path: &Path, bytes: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else { return String::new() };
    let length = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(bytes)));
    let mut buffer = Vec::new();
    let _ = file.take(bytes).read_to_end(&mut buffer);
    String::from_utf8_lossy(&buffer).into_owned()
}

/// The `python3` on `path`, found once for a whole run. A version manager's shim (pyenv, asdf:
/// a script, not a program) is asked once where its interpreter is (`sys.executable`), so each task
/// starts Python directly instead of through the shim's shell (tens of milliseconds each).
/// `None` when there is none, or the shim does not answer within ten seconds.
pub fn find_python(path: &std::ffi::OsStr) -> Option<String> {
    let found = find_program(path, "python3")?;
    let mut head = [0u8; 4];
    let is_program = std::fs::File::open(&found)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|()| head == *b"\x7fELF");
    if is_program {
        return found.to_str().map(str::to_string);
    }
    let mut child = std::process::Command::new(&found)
        .args(["-c", "import sys; print(sys.executable)"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(child.stdout.take()?, 4096), &mut text).ok()?;
    let executable = text.trim();
    (Path::new(executable).is_absolute() && is_executable(Path::new(executable))).then(|| executable.to_string())
}

/// A refusal before the run starts, with its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartError {
    pub code: Code,
    pub message: String,
    pub help: Option<String>,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)?;
        if let Some(help) = &self.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

/// What this machine has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    pub millicpus: u64,
    pub memory: u64,
    pub gpus: Vec<String>,
}

impl Machine {
    /// Cores, memory (`/proc/meminfo`'s MemTotal) and GPUs (`nvidia-smi -L`, found on `path`).
    pub fn detect(path: Option<&std::ffi::OsStr>) -> Machine {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        let memory =
            std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| mem_total(&text)).unwrap_or(u64::MAX);
        Machine { millicpus: cores * 1000, memory, gpus: detect_gpus(path) }
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The GPU indices `nvidia-smi -L` lists (`GPU 0: NVIDIA A100 (UUID: …)`); none when there is no
/// `nvidia-smi` on `path`, it fails, or it does not answer within five seconds.
pub fn detect_gpus(path: Option<&std::ffi::OsStr>) -> Vec<String> {
    let Some(program) = path.and_then(|p| find_program(p, "nvidia-smi")) else { return Vec::new() };
    let Ok(mut child) = std::process::Command::new(&program)
        .arg("-L")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    else {
        return Vec::new();
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Vec::new();
            }
        }
    }
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        use std::io::Read;
        let _ = out.by_ref().take(1 << 20).read_to_string(&mut text);
    }
    parse_gpu_list(&text)
}

/// The indices of `nvidia-smi -L`'s `GPU N: …` lines.
pub fn parse_gpu_list(text: &str) -> Vec<String> {
    let mut gpus: Vec<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("GPU ")?.split_once(':').map(|(index, _)| index.trim()))
        .filter(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) && index.len() < 6)
        .map(str::to_string)
        .collect();
    gpus.dedup();
    gpus
}

fn find_program(path: &std::ffi::OsStr, name: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(path).map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The budget from `--cpus`, `--memory` and `--gpus` (each defaulting to what the machine has). A
/// value that is not a budget (0.5 GPU, more memory or GPUs than the machine has) is an E0702.
pub fn budget(
    machine: &Machine,
    cpus: Option<&str>,
    memory: Option<&str>,
    gpus: Option<&str>,
) -> Result<Budget, StartError> {
    let invalid = |message: String, help: &str| StartError {
        code: Code::InvalidRunBudget,
        message,
        help: Some(help.to_string()),
    };
    let millicpus = match cpus {
        None => machine.millicpus,
        Some(text) => {
            let (number, unit) = split_quantity(text);
            kfl_model::units::parse_cpu(number, unit).map(|c| c.millicores()).map_err(|_| {
                invalid(
                    format!("`--cpus {}` is not a number of cores", shown(text)),
                    "write cores as a positive number, such as 1, 2 or 0.5",
                )
            })?
        }
    };
    let memory = match memory {
        None => machine.memory,
        Some(text) => {
            let (number, unit) = split_quantity(text);
            let bytes = kfl_model::units::parse_memory(number, unit).map(|m| m.bytes()).map_err(|_| {
                invalid(
                    format!("`--memory {}` is not an amount of memory", shown(text)),
                    "write memory with a unit, such as 512Mi or 4Gi",
                )
            })?;
            if bytes > machine.memory {
                return Err(invalid(
                    format!(
                        "`--memory {}` is more than this machine has ({})",
                        shown(text),
                        human_bytes(machine.memory)
                    ),
                    "give at most what the machine has; a run cannot use memory that is not there",
                ));
            }
            bytes
        }
    };
    let gpus = match gpus {
        None => machine.gpus.clone(),
        Some(text) => {
            let (number, unit) = split_quantity(text);
            let count = kfl_model::units::parse_gpu(number, unit).map_err(|_| {
                invalid(
                    format!("`--gpus {}` is not a whole number of GPUs", shown(text)),
                    "GPUs are whole devices: write 0, 1, 2 or more",
                )
            })? as usize;
            if count > machine.gpus.len() {
                return Err(invalid(
                    format!(
                        "`--gpus {}` is more than this machine has ({} found by `nvidia-smi -L`)",
                        count,
                        machine.gpus.len()
                    ),
                    "give at most the GPUs `nvidia-smi -L` lists",
                ));
            }
            machine.gpus[..count].to_vec()
        }
    };
    Ok(Budget { millicpus, memory, gpus })
}

/// Every task that asks for more than the whole budget, as one E0701: such a task could never start.
pub fn over_budget<'a>(budget: &Budget, tasks: impl IntoIterator<Item = (&'a str, Request)>) -> Result<(), StartError> {
    let mut problems = Vec::new();
    for (name, request) in tasks {
        let mut over = Vec::new();
        if request.millicpus > budget.millicpus {
            over.push(format!("{} CPU of {}", cores(request.millicpus), cores(budget.millicpus)));
        }
        if request.memory > budget.memory {
            over.push(format!("{} of memory of {}", human_bytes(request.memory), human_bytes(budget.memory)));
        }
        if request.gpus as usize > budget.gpus.len() {
            over.push(format!("{} GPU of {}", request.gpus, budget.gpus.len()));
        }
        if !over.is_empty() {
            problems.push(format!("`{name}` requests {}", over.join(", ")));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(StartError {
        code: Code::OverLocalBudget,
        message: format!(
            "a task requests more than this run may use, so it could never start: {}",
            problems.join("; ")
        ),
        help: Some(
            "raise the budget (--cpus, --memory, --gpus; defaults: this machine's), or lower the task's resources"
                .into(),
        ),
    })
}

/// `4Gi` → (`4`, `Gi`).
fn split_quantity(text: &str) -> (&str, Option<&str>) {
    let text = text.trim();
    let end = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '-' || *c == '+'))
        .map_or(text.len(), |(i, _)| i);
    let (number, unit) = text.split_at(end);
    (number, (!unit.is_empty()).then_some(unit))
}

fn shown(text: &str) -> String {
    kfl_diagnostics::escape_control(text).chars().take(40).collect()
}

fn cores(millicpus: u64) -> String {
    if millicpus.is_multiple_of(1000) {
        (millicpus / 1000).to_string()
    } else {
        format!("{}", millicpus as f64 / 1000.0)
    }
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["", "Ki", "Mi", "Gi", "Ti"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else if value.fract() == 0.0 {
        format!("{value}{}", UNITS[unit])
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine { millicpus: 2000, memory: 4 << 30, gpus: vec!["0".into(), "1".into()] }
    }

    #[test]
    fn budgets_default_to_the_machine_and_refuse_what_it_lacks() {
        assert_eq!(
            budget(&machine(), None, None, None),
            Ok(Budget { millicpus: 2000, memory: 4 << 30, gpus: vec!["0".into(), "1".into()] })
        );
        let b = budget(&machine(), Some("0.5"), Some("1Gi"), Some("1")).map_err(|e| e.to_string());
        assert_eq!(b, Ok(Budget { millicpus: 500, memory: 1 << 30, gpus: vec!["0".into()] }));
        for (cpus, memory, gpus, wanted) in [
            (None, None, Some("0.5"), "`--gpus 0.5` is not a whole number of GPUs"),
            (None, None, Some("3"), "`--gpus 3` is more than this machine has (2 found"),
            (None, Some("5Gi"), None, "`--memory 5Gi` is more than this machine has (4Gi)"),
            (None, Some("lots"), None, "`--memory lots` is not an amount of memory"),
            (Some("0"), None, None, "`--cpus 0` is not a number of cores"),
            (Some("-1"), None, None, "`--cpus -1` is not a number of cores"),
        ] {
            let Err(e) = budget(&machine(), cpus, memory, gpus) else { panic!("{wanted}: accepted") };
            assert_eq!(e.code, Code::InvalidRunBudget);
            assert!(e.message.starts_with(wanted), "{} does not start with {wanted}", e.message);
        }
    }

    #[test]
    fn claims_fit_in_what_is_free_and_come_back() {
        let budget = Budget { millicpus: 1000, memory: 1 << 30, gpus: vec!["0".into(), "1".into(), "2".into()] };
        let mut free = Free::new(&budget);
        let one_cpu = Request { millicpus: 1000, ..Request::default() };
        let first = free.try_claim(&one_cpu).expect("fits");
        assert_eq!(free.try_claim(&one_cpu), None, "a second 1-CPU task does not fit in 1 CPU");
        free.release(&first);
        assert!(free.try_claim(&one_cpu).is_some());

        let mut free = Free::new(&budget);
        let two_gpus = Request { gpus: 2, ..Request::default() };
        let a = free.try_claim(&two_gpus).expect("fits");
        assert_eq!(a.gpus, ["0", "1"]);
        assert!(a.env.contains(&("CUDA_VISIBLE_DEVICES".into(), "0,1".into())));
        assert!(a.env.contains(&("NVIDIA_VISIBLE_DEVICES".into(), "0,1".into())));
        assert_eq!(free.try_claim(&two_gpus), None);
        let none = free.try_claim(&Request::default()).expect("fits");
        assert!(none.env.contains(&("CUDA_VISIBLE_DEVICES".into(), String::new())), "{none:?}");
        let b = free.try_claim(&Request { gpus: 1, ..Request::default() }).expect("fits");
        assert_eq!(b.gpus, ["2"]);
        free.release(&b);
        free.release(&a);
        assert_eq!(
            free.try_claim(&Request { gpus: 3, ..Request::default() }).map(|g| g.gpus),
            Some(vec!["0".into(), "1".into(), "2".into()])
        );
    }

    #[test]
    fn requests_over_the_budget_are_named() {
        let budget = Budget { millicpus: 1000, memory: 1 << 30, gpus: Vec::new() };
        let big = Request { millicpus: 2000, memory: 2 << 30, gpus: 1, memory_limit: None, millicpu_limit: None };
        let Err(e) = over_budget(&budget, [("small", Request::default()), ("big", big)]) else { panic!() };
        assert_eq!(e.code, Code::OverLocalBudget);
        assert!(e.message.ends_with("`big` requests 2 CPU of 1, 2Gi of memory of 1Gi, 1 GPU of 0"), "{}", e.message);
    }

    #[test]
    fn a_shim_is_asked_once_for_its_interpreter() {
        use std::os::unix::fs::PermissionsExt;
        let Some(real) = find_program(std::ffi::OsStr::new("/usr/bin:/bin"), "python3") else { return };
        let dir = std::env::temp_dir().join(format!("kfl-shim-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let shim = dir.join("python3");
        let real = std::fs::canonicalize(&real).expect("real python");
        std::fs::write(&shim, format!("#!/bin/sh\nexec {} \"$@\"\n", real.display())).expect("shim");
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let found = find_python(dir.as_os_str()).expect("found");
        assert_eq!(std::fs::canonicalize(&found).expect("exists"), real, "{found}");
        assert_ne!(Path::new(&found), shim);
        // A shim that answers nothing useful is not used.
        std::fs::write(&shim, "#!/bin/sh\necho not-a-path\n").expect("shim");
        assert_eq!(find_python(dir.as_os_str()), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nvidia_smi_lists_are_read() {
        let text = "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-1)\nGPU 1: NVIDIA A100 (UUID: GPU-2)\n  MIG 1g.5gb Device 0: (UUID: MIG-3)\nnoise\nGPU x: bad\n";
        assert_eq!(parse_gpu_list(text), ["0", "1"]);
        assert_eq!(mem_total("MemTotal:        8048260 kB\nMemFree: 1 kB\n"), Some(8_048_260 * 1024));
    }
}

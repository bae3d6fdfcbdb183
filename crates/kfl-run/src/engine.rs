//! The container engine of a local run: podman (preferred: daemonless, rootless where the machine
//! allows) or docker, found on the search path and asked whether it answers, under a timeout.
//!
//! Invariants:
//! - Every engine command is an argument vector, never a shell line: image names, paths and
//!   values reach the engine as single arguments, and container names are `kfl-` and a hash.
//! - Nothing is ever pulled: a run checks that each image it needs is present locally before any
//!   task starts, and `run` says `--pull never`, so a machine without network never hangs on a pull.
//! - Every engine command has a time limit ([`Engine::timeout`]) except the task's own `run`, which
//!   the task's `timeout` bounds; an engine that hangs is an error that says so.
//! - Secret values never appear in an argument: a secret reaches the container as `-e NAME`, the
//!   value taken by the engine from its own environment.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Podman,
    Docker,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Podman => "podman",
            EngineKind::Docker => "docker",
        }
    }
}

/// An engine that answered.
#[derive(Clone, Debug)]
pub struct Engine {
    pub kind: EngineKind,
    /// The program, as found on the search path.
    pub program: PathBuf,
    /// The limit of every engine command but a task's own `run`.
    pub timeout: Duration,
}

/// A bind mount at the path the cluster uses.
#[derive(Clone, Debug)]
pub struct Mount {
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// What one container runs.
#[derive(Clone, Debug, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// The image's entrypoint replaced by this program (the component's `command[0]`), if any.
    pub entrypoint: Option<String>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Variables whose values the engine takes from its own environment (secrets).
    pub env_from_engine: Vec<String>,
    pub mounts: Vec<Mount>,
    /// `false`: `--network none`.
    pub network: bool,
    /// `--label` pairs (the run's id, to find a run's containers).
    pub labels: Vec<(String, String)>,
    /// `--cpus`: the task's CPU limit in cores (`None`: no limit).
    pub cpus: Option<String>,
    /// `--cpu-shares`: the task's CPU request as a weight (1024 a core), as a kubelet sets it.
    pub cpu_shares: Option<u64>,
    /// `--memory`, in bytes: the task's memory limit (`None`: no limit).
    pub memory: Option<u64>,
    /// The GPU devices granted (indexes as `nvidia-smi -L` lists them): CDI devices with podman,
    /// `--gpus device=…` with docker.
    pub gpus: Vec<String>,
}

/// `--cpus` for a CPU limit in millicores. Like a kubelet, which sets a quota of at least 1 ms a
/// 100 ms period, a limit under 10m becomes 10m: the engines refuse smaller ones.
pub fn cpus_flag(millicpus: u64) -> String {
    format!("{}", millicpus.max(10) as f64 / 1000.0)
}

/// Finds `program` in the folders of `search_path` (as `PATH` is searched).
fn which(program: &str, search_path: &OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(search_path)
        .map(|dir| dir.join(program))
        .find(|path| std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Runs an engine command with its output discarded, under `timeout`: `Ok(success)`, or `Err`
/// when it cannot start or does not end in time (then it is killed).
async fn status_within(program: &Path, args: &[&str], timeout: Duration) -> Result<bool, String> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| format!("cannot start `{}`: {e}", program.display()))?;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => Ok(status.success()),
        Ok(Err(e)) => Err(format!("cannot wait for `{}`: {e}", program.display())),
        Err(_) => {
            let _ = child.kill().await;
            Err(format!("`{} {}` did not answer within {} s", program.display(), args.join(" "), timeout.as_secs_f64()))
        }
    }
}

/// What looking for an engine found.
pub enum Detected {
    Found(Engine),
    /// None answered; each line says why (not installed, failed, did not answer in time).
    None(Vec<String>),
}

/// Looks for `choice` (podman or docker), or for podman then docker, on `search_path`; the first
/// that answers `info` within `timeout` is the engine.
pub async fn detect(choice: Option<EngineKind>, search_path: &OsStr, timeout: Duration) -> Detected {
    let candidates: &[EngineKind] = match choice {
        Some(EngineKind::Podman) => &[EngineKind::Podman],
        Some(EngineKind::Docker) => &[EngineKind::Docker],
        None => &[EngineKind::Podman, EngineKind::Docker],
    };
    let mut why = Vec::new();
    for kind in candidates {
        let Some(program) = which(kind.name(), search_path) else {
            why.push(format!("{} is not installed (not on PATH)", kind.name()));
            continue;
        };
        match status_within(&program, &["info"], timeout).await {
            Ok(true) => return Detected::Found(Engine { kind: *kind, program, timeout }),
            Ok(false) => why.push(format!("`{} info` failed", kind.name())),
            Err(e) => why.push(e),
        }
    }
    Detected::None(why)
}

/// `--engine PATH`: that program is the engine, podman unless its file name says docker.
pub async fn detect_program(program: &Path, timeout: Duration) -> Detected {
    let is_docker = program.file_name().is_some_and(|n| n.to_string_lossy().contains("docker"));
    let kind = if is_docker { EngineKind::Docker } else { EngineKind::Podman };
    if !program.is_file() {
        return Detected::None(vec![format!("{} does not exist", program.display())]);
    }
    match status_within(program, &["info"], timeout).await {
        Ok(true) => Detected::Found(Engine { kind, program: program.to_path_buf(), timeout }),
        Ok(false) => Detected::None(vec![format!("`{} info` failed", program.display())]),
        Err(e) => Detected::None(vec![e]),
    }
}

impl Engine {
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Whether `image` is present locally (never pulls).
    pub async fn has_image(&self, image: &str) -> Result<bool, String> {
        let args: &[&str] = match self.kind {
            EngineKind::Podman => &["image", "exists", "--", image],
            EngineKind::Docker => &["image", "inspect", "--", image],
        };
        status_within(&self.program, args, self.timeout).await
    }

    /// The argument vector of `<engine> run …` for `spec`.
    pub fn run_argv(&self, spec: &ContainerSpec) -> Vec<String> {
        let mut argv: Vec<String> = vec![
            self.program.to_string_lossy().into_owned(),
            "run".into(),
            "--rm".into(),
            "--name".into(),
            spec.name.clone(),
            "--pull".into(),
            "never".into(),
        ];
        for (key, value) in &spec.labels {
            argv.extend(["--label".into(), format!("{key}={value}")]);
        }
        if !spec.network {
            argv.extend(["--network".into(), "none".into()]);
        }
        for mount in &spec.mounts {
            // `--mount` fields are comma-separated: paths with a comma are refused before a run starts.
            let mut field = format!("type=bind,source={},target={}", mount.source.to_string_lossy(), mount.target);
            if mount.read_only {
                field.push_str(",readonly");
            }
            argv.extend(["--mount".into(), field]);
        }
        for (name, value) in &spec.env {
            argv.extend(["--env".into(), format!("{name}={value}")]);
        }
        for name in &spec.env_from_engine {
            argv.extend(["--env".into(), name.clone()]);
        }
        if let Some(cpus) = &spec.cpus {
            argv.extend(["--cpus".into(), cpus.clone()]);
        }
        if let Some(shares) = spec.cpu_shares {
            argv.extend(["--cpu-shares".into(), shares.to_string()]);
        }
        if let Some(memory) = spec.memory {
            argv.extend(["--memory".into(), format!("{memory}b")]);
        }
        if !spec.gpus.is_empty() {
            match self.kind {
                EngineKind::Podman => {
                    for gpu in &spec.gpus {
                        argv.extend(["--device".into(), format!("nvidia.com/gpu={gpu}")]);
                    }
                }
                // Docker reads the value as CSV: quoted, the commas between devices stay in it.
                EngineKind::Docker => argv.extend(["--gpus".into(), format!("\"device={}\"", spec.gpus.join(","))]),
            }
        }
        if let Some(entrypoint) = &spec.entrypoint {
            argv.extend(["--entrypoint".into(), entrypoint.clone()]);
        }
        // Everything after the image is the container's.
        argv.push(spec.image.clone());
        argv.extend(spec.args.iter().cloned());
        argv
    }

    /// Sends `signal` (`TERM`, `KILL`) to a container (ignored when it is gone).
    pub async fn signal(&self, name: &str, signal: &str) {
        let _ = status_within(&self.program, &["kill", "--signal", signal, name], self.timeout).await;
    }

    /// Removes a container, running or not (ignored when it is gone).
    pub async fn remove(&self, name: &str) {
        let _ = status_within(&self.program, &["rm", "-f", "--", name], self.timeout).await;
    }
}

/// Whether a path can be a bind mount's source (`--mount` separates its fields with commas, and
/// `-v` with colons; control characters would reach the engine's parser too).
pub fn mountable(path: &Path) -> bool {
    path.to_str().is_some_and(|text| !text.contains([',', '=']) && !text.chars().any(char::is_control))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_line_is_an_argument_vector_with_no_network_and_read_only_inputs() {
        let engine =
            Engine { kind: EngineKind::Podman, program: PathBuf::from("podman"), timeout: Duration::from_secs(1) };
        let spec = ContainerSpec {
            name: "kfl-0123".into(),
            image: "busybox:1.36".into(),
            entrypoint: Some("sh".into()),
            args: vec!["-c".into(), "echo $(rm -rf /); `x`".into()],
            env: vec![("A".into(), "x y; z".into())],
            env_from_engine: vec!["TOKEN".into()],
            mounts: vec![Mount { source: "/r/in".into(), target: "/tmp/kfl/inputs/a".into(), read_only: true }],
            network: false,
            labels: vec![("kfl.run".into(), "20261206-000000-abcdef".into())],
            ..ContainerSpec::default()
        };
        let argv = engine.run_argv(&spec);
        let at = |s: &str| argv.iter().position(|a| a == s).expect(s);
        assert_eq!(argv[at("--network") + 1], "none");
        assert_eq!(argv[at("--pull") + 1], "never");
        assert_eq!(argv[at("--mount") + 1], "type=bind,source=/r/in,target=/tmp/kfl/inputs/a,readonly");
        assert!(argv.contains(&"A=x y; z".to_string()));
        assert!(argv.contains(&"TOKEN".to_string()));
        assert_eq!(argv[at("busybox:1.36") + 2], "echo $(rm -rf /); `x`");
        // Asked for, the network is the engine's default: no `--network` at all.
        let open = engine.run_argv(&ContainerSpec { network: true, ..spec.clone() });
        assert!(!open.contains(&"--network".to_string()), "{open:?}");
        // No grant, no limits; a grant becomes the engine's limits and devices.
        assert!(!argv.contains(&"--cpus".to_string()) && !argv.contains(&"--memory".to_string()), "{argv:?}");
        let granted = ContainerSpec {
            cpus: Some("1.5".into()),
            cpu_shares: Some(512),
            memory: Some(256 << 20),
            gpus: vec!["0".into(), "2".into()],
            ..spec.clone()
        };
        let limited = engine.run_argv(&granted);
        let at = |flag: &str| limited.iter().position(|a| a == flag).unwrap_or_else(|| panic!("{flag} in {limited:?}"));
        assert_eq!(limited[at("--cpus") + 1], "1.5");
        assert_eq!(limited[at("--cpu-shares") + 1], "512");
        assert_eq!((cpus_flag(1), cpus_flag(500), cpus_flag(2000)), ("0.01".into(), "0.5".into(), "2".into()));
        assert_eq!(limited[at("--memory") + 1], "268435456b");
        let devices: Vec<&String> =
            limited.iter().zip(limited.iter().skip(1)).filter(|(a, _)| *a == "--device").map(|(_, d)| d).collect();
        assert_eq!(devices, ["nvidia.com/gpu=0", "nvidia.com/gpu=2"]);
        let docker = Engine { kind: EngineKind::Docker, ..engine.clone() };
        let with_docker = docker.run_argv(&granted);
        let gpus = with_docker.iter().position(|a| a == "--gpus").expect("--gpus");
        assert_eq!(with_docker[gpus + 1], "\"device=0,2\"");
        // Every flag comes before the image, whose arguments are the container's own.
        let image = limited.iter().position(|a| a == "busybox:1.36").expect("image");
        assert!(at("--cpus") < image && at("--memory") < image && at("--device") < image);
        assert!(!mountable(Path::new("/a,b")));
        assert!(!mountable(Path::new("/a\nb")));
        assert!(mountable(Path::new("/tmp/kfl run")));
    }
}

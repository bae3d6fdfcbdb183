//! `kflc run`: runs a KFL pipeline on this machine, the default that needs no cluster.
//!
//! The input is the one [`kfl_dag::Dag`]; every task runs through the same launcher the cluster
//! backends use (`kfl-launcher`), except that an `sh` script on this machine runs on its own, its
//! launcher's work done around it by `kflc` to the same effect (`host_sh.rs`). Where (`--isolation`, decided before any task starts): in its
//! image with podman or docker (`engine`), the default where an engine answers; or on this machine,
//! script components with the host's `python3` or `sh` (python packages in one cached virtualenv per
//! package set), container components' commands as they are. Independent tasks run concurrently, at
//! most `--parallelism` at once. Details for users: `docs/run.md`.
//!
//! Layout: `<root>/runs/<run-id>/<task>/` holds each task instance's `manifest.json`, `stdout.log`,
//! `stderr.log` and `outputs/` (`artifacts/<name>`, `<name>.metadata.json`, `parameters/<name>`);
//! `<root>/runs/<run-id>/run.json` the run's (with `graph`, each task's component, group and the tasks
//! it waits for, for viewers such as `kflc ui`), `run.lock` held while the run goes (`liveness.rs`),
//! `.spare/` emptied folders and replaced manifests kept instead of freed until the run ends
//! (`spares.rs`); `<root>/cache/<key>/` the cache.
//!
//! Invariants:
//! - Semantics are the cluster's: a task runs when everything it depends on succeeded (exit handler
//!   tasks: finished), inside its conditions only if they hold on the actual values, once per loop
//!   iteration; a failure stops what depends on it and nothing else.
//! - A task's outputs appear in the run directory only when it succeeded, in one rename of the
//!   folder it wrote them to; a cache entry appears only complete, in one rename. Nothing
//!   half-written is ever read or reused.
//! - The cache key is a hash of the component's definition and the resolved inputs, artifacts by
//!   the hash of their content: a task with the same key does the same work.
//! - The cache never serves a wrong artifact: an entry records each file's size, modification time
//!   and hash; a hit checks sizes and times (`--verify-cache`: hashes too), a damaged entry is run
//!   again and replaced atomically. No file is shared with the cache by a hard link.
//! - A task's input artifacts are read-only copies (reflinks where possible): a task that writes to
//!   one fails, and the write reaches neither the producer's outputs nor the cache.
//! - Every task runs in its own process group; a timeout, a failure of the run or Ctrl-C kills the
//!   whole group, so no process outlives its task.
//! - Every instance that started has a `manifest.json` that says how it ended (`cancelled` too).
//! - A container sees its inputs read-only and its outputs read-write at the paths the Argo backend
//!   gives them in a pod (`/tmp/kfl/…`), has no network unless the run allows it, and never pulls:
//!   every image is checked to be on this machine before any task starts. A stopped task's
//!   container is signalled through its engine and removed.
//! - No test depends on whether this machine has podman or docker: the engine is searched on
//!   `RunArgs::engine_search_path` (default `PATH`), and tests give their own.
//! - SIGTERM or SIGHUP to `kflc run` stops it as Ctrl-C does (every task's process group gets
//!   SIGTERM, then SIGKILL after a grace period; nothing it half-wrote is kept or cached), records
//!   the run as `interrupted` with the signal in `run.json`, and exits 143 or 129.
//! - A task starts only when the CPU, memory and GPUs it requests fit in what the run's budget
//!   (`--cpus`, `--memory`, `--gpus`; the machine's by default) has free; a request over the whole
//!   budget is refused before anything starts (E0701). A GPU task is given devices no running
//!   task has (`CUDA_VISIBLE_DEVICES`); a memory limit is applied to the task's processes.
//! - `--resume` continues a run in its own folder: an instance that succeeded there is kept when
//!   its cache key (component, settings, inputs) is unchanged, whether or not caching is on; the
//!   rest runs. A run is held by one `kflc` at a time (a lock on `<run>/.lock`, released by the
//!   kernel when `kflc` dies, even by kill -9).

mod cache;
pub mod cgroup;
pub mod engine;
mod exec;
mod fsutil;
mod host_sh;
mod liveness;
mod plan;
pub mod report;
pub mod resources;
mod resume;
mod scheduler;
mod secrets;
mod spares;
mod venv;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kfl_dag::IoType;
use serde_json::Value as Json;
use tokio::sync::watch;

pub use report::ProgressMode;
pub use scheduler::{ArtifactRef, Outputs, Status};

/// The arguments of `kflc run`.
#[derive(Clone, Debug)]
pub struct RunArgs {
    /// The `.kfl` file that declares the pipeline.
    pub file: PathBuf,
    /// Which pipeline, when the file declares several.
    pub pipeline: Option<String>,
    /// `name=value` values of pipeline parameters.
    pub params: Vec<String>,
    /// At most this many tasks at once (default: the number of cores).
    pub parallelism: Option<usize>,
    /// Reuse no earlier outputs.
    pub no_cache: bool,
    /// Check the full content hash of every cache entry before reusing it (a hit otherwise checks
    /// only that each file is there with the size and modification time it was stored with).
    pub verify_cache: bool,
    /// Run container components' commands on this machine instead of in a container.
    pub host: bool,
    /// Where runs and the cache live (default `.kfl`).
    pub root: PathBuf,
    /// Where the virtualenvs live (default `~/.cache/kfl/venvs`).
    pub venv_dir: Option<PathBuf>,
    pub progress: ProgressMode,
    /// Python script components (by name) that run in their image with docker or podman, instead
    /// of on this machine: components whose packages are in an image `kflc images build` made.
    pub in_image: std::collections::BTreeSet<String>,
    /// Where script components run (container components run in containers unless `Host`).
    pub isolation: Isolation,
    /// `--engine`: podman or docker (default: podman, else docker, whichever answers).
    pub engine: Option<engine::EngineKind>,
    /// Where podman and docker are looked for (default: `PATH`); tests give a folder without them.
    pub engine_search_path: Option<std::ffi::OsString>,
    /// The limit of each engine command (`info`, `image exists`, `kill`, `rm`).
    pub engine_timeout: Duration,
    /// `--allow-network`: containers get the engine's default network instead of `--network none`.
    pub allow_network: bool,
    /// `--secret NAME=FOLDER` (a file per key).
    pub secrets: Vec<String>,
    /// `--engine PATH`: this program is the engine (podman unless its name says docker).
    pub engine_program: Option<PathBuf>,
    /// `--cpus`: cores the run's tasks may request at once (default: this machine's).
    pub cpus: Option<String>,
    /// `--memory`: memory the run's tasks may request at once (default: this machine's).
    pub memory: Option<String>,
    /// `--gpus`: GPUs the run may hand out (default: those `nvidia-smi -L` lists).
    pub gpus: Option<String>,
    /// What the machine has; `None`: detected (cores, `/proc/meminfo`, `nvidia-smi -L`).
    pub machine: Option<resources::Machine>,
    /// `--resume [RUN]`: `Some(None)` continues the newest run, `Some(Some(id))` that one.
    pub resume: Option<Option<String>>,
}

/// Why a run could not start, with the diagnostic code when it has one (a missing image or engine,
/// a budget, a resume).
#[derive(Clone, Debug)]
pub struct StartError {
    pub code: Option<kfl_diagnostics::Code>,
    pub message: String,
}

impl From<String> for StartError {
    fn from(message: String) -> StartError {
        StartError { code: None, message }
    }
}

/// `--isolation`: where tasks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// In containers where an engine answers, else on this machine (and says so once).
    Auto,
    /// Every task in its image, as in a pod.
    Container,
    /// Every task on this machine (container components' commands too).
    Host,
}

impl RunArgs {
    pub fn new(file: impl Into<PathBuf>) -> RunArgs {
        RunArgs {
            file: file.into(),
            pipeline: None,
            params: Vec::new(),
            parallelism: None,
            no_cache: false,
            verify_cache: false,
            host: false,
            root: PathBuf::from(".kfl"),
            venv_dir: None,
            progress: ProgressMode::Auto,
            in_image: std::collections::BTreeSet::new(),
            isolation: Isolation::Auto,
            engine: None,
            engine_search_path: None,
            engine_timeout: Duration::from_secs(30),
            allow_network: false,
            secrets: Vec::new(),
            engine_program: None,
            cpus: None,
            memory: None,
            gpus: None,
            machine: None,
            resume: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
    Cancelled,
    /// Stopped by a signal from outside (SIGTERM, SIGHUP).
    Interrupted(StopSignal),
}

/// A signal that stops a run from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum StopSignal {
    Terminate,
    Hangup,
}

impl StopSignal {
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        }
    }

    /// 128 + the signal's number, as a shell reports a program the signal ended.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Terminate => 143,
            StopSignal::Hangup => 129,
        }
    }
}

/// How one task instance ended.
#[derive(Clone, Debug)]
pub struct InstanceReport {
    /// The task's name, with `@i` iteration indices inside loops.
    pub name: String,
    pub status: Status,
    pub reason: Option<String>,
    pub attempts: u32,
    pub elapsed: Option<Duration>,
    pub cache_key: Option<String>,
    pub outputs: Outputs,
    /// Its folder in the run directory.
    pub dir: PathBuf,
    pub log_tail: Vec<String>,
}

/// One value of a `Metrics` output.
#[derive(Clone, Debug)]
pub struct MetricRow {
    pub task: String,
    pub output: String,
    pub key: String,
    pub value: Json,
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub status: RunStatus,
    pub instances: Vec<InstanceReport>,
    /// Tasks none of whose instances could be made (their loop list never became known).
    pub never_ran: Vec<String>,
    /// The pipeline's outputs: parameters as their values, artifacts as their paths.
    pub outputs: BTreeMap<String, Result<Json, String>>,
    pub metrics: Vec<MetricRow>,
    pub elapsed: Duration,
    /// It continued an earlier run (`--resume`).
    pub resumed: bool,
}

impl RunReport {
    pub fn instance(&self, name: &str) -> Option<&InstanceReport> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// How many instances really ran a program (not cached, not skipped).
    pub fn executed(&self) -> usize {
        self.instances.iter().filter(|i| matches!(i.status, Status::Succeeded | Status::Failed)).count()
    }
}

/// Stops a run from another thread (Ctrl-C does the same in [`run_command`]).
#[derive(Clone)]
pub struct Canceller {
    sender: Arc<watch::Sender<bool>>,
    interrupted: Arc<OnceLock<StopSignal>>,
}

impl Canceller {
    pub fn cancel(&self) {
        let _ = self.sender.send(true);
    }

    /// Stops the run as [`Canceller::cancel`] does, and records it as interrupted by `signal`.
    pub fn interrupt(&self, signal: StopSignal) {
        let _ = self.interrupted.set(signal);
        self.cancel();
    }
}

/// A canceller and the signal it drives.
pub fn cancellation() -> (Canceller, CancelSignal) {
    let (tx, rx) = watch::channel(false);
    let interrupted = Arc::new(OnceLock::new());
    (
        Canceller { sender: Arc::new(tx), interrupted: Arc::clone(&interrupted) },
        CancelSignal { receiver: rx, interrupted },
    )
}

/// What a run watches to know it was cancelled.
#[derive(Clone)]
pub struct CancelSignal {
    receiver: watch::Receiver<bool>,
    interrupted: Arc<OnceLock<StopSignal>>,
}

/// `kflc run`: runs the pipeline, shows progress and a summary; exit code 0 when it succeeded, 1 when
/// it failed, 2 when it could not start, 130 when cancelled (Ctrl-C), 143 or 129 when interrupted
/// (SIGTERM, SIGHUP).
pub fn run_command(args: RunArgs, dag: kfl_dag::Dag) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let (canceller, signal) = cancellation();
    let result = runtime.block_on(async {
        let ctrl_c = canceller.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ncancelling: stopping every running task…");
                ctrl_c.cancel();
            }
        });
        // Without a handler these would end kflc at once and leave the tasks (each in a process
        // group of its own) running, and the run marked running. Registered before any task starts.
        use tokio::signal::unix::SignalKind;
        for (kind, stop) in
            [(SignalKind::terminate(), StopSignal::Terminate), (SignalKind::hangup(), StopSignal::Hangup)]
        {
            match tokio::signal::unix::signal(kind) {
                Ok(mut stream) => {
                    let canceller = canceller.clone();
                    tokio::spawn(async move {
                        if stream.recv().await.is_some() {
                            eprintln!("\n{}: stopping every running task…", stop.name());
                            canceller.interrupt(stop);
                        }
                    });
                }
                Err(e) => eprintln!("warning: cannot handle {}: {e}", stop.name()),
            }
        }
        on_a_worker(&args, dag, signal).await
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Err(StartError { code: Some(code), message }) => {
            eprintln!("error[{code}]: {message}");
            ExitCode::from(2)
        }
        Err(StartError { code: None, message }) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Ok(report) => {
            print!("{}", report::summary(&report));
            match report.status {
                RunStatus::Succeeded => ExitCode::SUCCESS,
                RunStatus::Failed => ExitCode::from(1),
                RunStatus::Cancelled => ExitCode::from(130),
                RunStatus::Interrupted(signal) => ExitCode::from(signal.exit_code()),
            }
        }
    }
}

/// Runs a pipeline to its end on a runtime of its own. `Err` when it cannot start (the file does not
/// check, a parameter is wrong); a failed run is an `Ok` report that says so.
pub fn run(args: &RunArgs, dag: kfl_dag::Dag, cancel: Option<CancelSignal>) -> Result<RunReport, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let signal = cancel.unwrap_or_else(|| cancellation().1);
    let report = runtime.block_on(on_a_worker(args, dag, signal));
    runtime.shutdown_timeout(Duration::from_secs(1));
    report.map_err(|e| match e.code {
        Some(code) => format!("[{code}] {}", e.message),
        None => e.message,
    })
}

impl From<resources::StartError> for StartError {
    fn from(e: resources::StartError) -> StartError {
        let message = match e.help {
            Some(help) => format!("{}\n  help: {help}", e.message),
            None => e.message,
        };
        StartError { code: Some(e.code), message }
    }
}

/// The plan of a lowered pipeline, with the parameters applied.
pub fn load_plan(args: &RunArgs, mut dag: kfl_dag::Dag) -> Result<plan::Plan, String> {
    kfl_dag::params::apply_params(&mut dag, &args.params).map_err(|e| e.to_string())?;
    plan::Plan::new(dag).map_err(|e| e.0)
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    std::env::current_dir().map(|d| d.join(path)).map_err(|e| format!("cannot read the current folder: {e}"))
}

/// A sortable, unique run id: `YYYYMMDD-HHMMSS-xxxxxx`.
fn run_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs();
    let days = (secs / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    let rest = secs % 86_400;
    let unique = fsutil::sha256_hex(fsutil::unique_suffix().as_bytes());
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        unique.get(..6).unwrap_or("000000")
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// [`run_async`] as a task of the runtime, not on the thread that waits for it: the loop that
/// starts tasks then runs on a worker, where what it spawns (a task's `execute`) and what wakes it
/// (a task's end) stay on that worker's queue, instead of going through the runtime's other threads
/// twice per task (each hand-over a wake-up that a loaded machine can make wait for a core).
async fn on_a_worker(args: &RunArgs, dag: kfl_dag::Dag, cancel: CancelSignal) -> Result<RunReport, StartError> {
    let args = args.clone();
    match tokio::spawn(async move { run_async(&args, dag, cancel).await }).await {
        Ok(result) => result,
        Err(e) => Err(StartError::from(format!("internal error: the run stopped: {e}"))),
    }
}

async fn run_async(args: &RunArgs, dag: kfl_dag::Dag, cancel: CancelSignal) -> Result<RunReport, StartError> {
    let started = Instant::now();
    let machine = match &args.machine {
        Some(machine) => machine.clone(),
        None => resources::Machine::detect(std::env::var_os("PATH").as_deref()),
    };
    let budget = resources::budget(&machine, args.cpus.as_deref(), args.memory.as_deref(), args.gpus.as_deref())?;
    let root = absolute(&args.root)?;
    let previous = match &args.resume {
        Some(target) => Some(resume::find(&root, &args.root, target.as_deref(), &dag.name)?),
        None => None,
    };
    let mut args_with_params = args.clone();
    if let Some(previous) = &previous {
        args_with_params.params = resume::params(previous, &dag, &args.params)?;
    }
    let plan = Arc::new(load_plan(&args_with_params, dag)?);
    resources::over_budget(&budget, plan.tasks.iter().map(|t| (plan.dag.graph[t.node].name.as_str(), t.request)))?;
    let (notes_tx, mut notes_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let isolation = resolve_isolation(args, &plan, &root, &notes_tx).await?;
    let secrets = secrets::Secrets::new(&args.secrets, root.join("secrets"))?;
    let venv_dir = args.venv_dir.clone().unwrap_or_else(venv::default_venv_dir);
    // Tasks get their paths as text (environment variables, launcher code): a folder whose name is
    // not UTF-8 would reach them changed.
    let needs_venv = plan.dag.components.iter().any(|c| !c.packages.is_empty());
    for (what, path, used) in
        [("the run folder (--root)", &root, true), ("the virtualenv folder", &venv_dir, needs_venv)]
    {
        if used && path.to_str().is_none() {
            return Err(StartError::from(format!(
                "{what} `{}` is not UTF-8 text, which the paths given to tasks must be; choose a folder whose name is",
                path.display()
            )));
        }
    }
    // A resumed run keeps its start, and counts how often it was resumed.
    let resumes = previous.as_ref().map(|p| p.record.get("resumes").and_then(Json::as_u64).unwrap_or(0) + 1);
    let first_started_at = previous.as_ref().and_then(|p| p.record.get("started_at").and_then(Json::as_u64));
    let (id, run_dir, _lock) = match previous {
        Some(previous) => (previous.id, previous.dir, previous.lock),
        None => {
            let id = run_id();
            let run_dir = root.join("runs").join(&id);
            std::fs::create_dir_all(&run_dir).map_err(|e| format!("cannot create {}: {e}", run_dir.display()))?;
            let lock = resume::lock(&run_dir)
                .ok()
                .flatten()
                .ok_or_else(|| format!("cannot lock {}", run_dir.join(".lock").display()))?;
            (id, run_dir, lock)
        }
    };
    let mut leftovers = 0;
    let kept = if args.resume.is_some() {
        leftovers = resume::stop_leftovers(&id);
        resume::kept(&plan, &run_dir)
    } else {
        Default::default()
    };
    if !root.join(".gitignore").exists() {
        let _ = std::fs::write(root.join(".gitignore"), "# kflc run: runs and cache\n*\n");
    }
    let env = Arc::new(exec::RunEnv {
        run_dir: run_dir.clone(),
        cache_dir: root.join("cache"),
        venv_dir,
        no_cache: args.no_cache,
        verify_cache: args.verify_cache,
        host: isolation.host,
        scripts_in_container: isolation.scripts_in_container,
        in_image: args.in_image.clone(),
        engine: isolation.engine,
        network: args.allow_network,
        secrets,
        notes: notes_tx,
        backoff: Duration::from_millis(500),
        cpu_caps: cgroup::CpuCaps::new(),
        spares: spares::Spares::new(&run_dir),
    });
    // By default as many tasks at once as the budget has cores (rounded up): `--cpus 1` runs one
    // task at a time, even of tasks that request no CPU.
    let parallelism = args.parallelism.unwrap_or_else(|| budget.millicpus.div_ceil(1000) as usize).max(1);
    // The pipeline's structure, for viewers (`kflc ui`): each task with its component, innermost
    // group, the tasks it waits for (the plan's dependencies, exit handlers' included) and the
    // resources it asks for.
    let started_at = first_started_at.unwrap_or_else(exec::unix_seconds);
    let graph: Vec<Json> = plan
        .tasks
        .iter()
        .map(|t| {
            let task = &plan.dag.graph[t.node];
            let mut after: Vec<&str> =
                t.dependencies.iter().map(|d| plan.dag.graph[plan.tasks[d.producer].node].name.as_str()).collect();
            after.sort_unstable();
            after.dedup();
            serde_json::json!({
                "name": task.name,
                "component": plan.dag.components[task.component].name,
                "group": task.group.map(|g| plan.dag.groups[g].k8s_name.clone()),
                "after": after,
                "resources": report::resources_json(&task.settings),
            })
        })
        .collect();
    let run_json = |status: &str,
                    scheduler: Option<&scheduler::Scheduler>,
                    outputs: Option<&BTreeMap<String, Result<Json, String>>>| {
        let tasks: serde_json::Map<String, Json> = scheduler
            .map(|s| s.instances.values().map(|i| (i.name.clone(), Json::String(i.status.label().into()))).collect())
            .unwrap_or_default();
        let outputs: serde_json::Map<String, Json> = outputs
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.clone().unwrap_or_else(|e| serde_json::json!({ "unavailable": e }))))
                    .collect()
            })
            .unwrap_or_default();
        serde_json::json!({
            "run_id": id,
            "pipeline": plan.dag.name,
            "file": exec::path_text(&args.file),
            "params": plan.params,
            "status": status,
            "started_at": started_at,
            "graph": graph,
            "parallelism": parallelism,
            "budget": {
                "cpus": budget.millicpus as f64 / 1000.0,
                "memory_bytes": budget.memory,
                "gpus": budget.gpus,
            },
            "resumes": resumes.unwrap_or(0),
            "no_cache": args.no_cache,
            "duration_ms": started.elapsed().as_millis(),
            "tasks": tasks,
            "outputs": outputs,
        })
    };
    // Held to the end of this function, past the last write of run.json. A file system without
    // locks costs viewers only the difference between running and lost.
    let _run_lock = liveness::hold(&run_dir);
    fsutil::write_json_atomically(&run_dir.join("run.json"), &run_json("running", None, None))
        .map_err(|e| format!("cannot write {}: {e}", run_dir.display()))?;
    point_latest(&root, &id);

    // Found once, not through PATH (and a version manager's shim) by every task.
    let host_python = if plan.dag.components.iter().any(|c| {
        matches!(c.body, kfl_dag::Body::Script { lang: kfl_dag::ScriptLang::Python, .. }) && c.packages.is_empty()
    }) {
        std::env::var_os("PATH").and_then(|path| resources::find_python(&path))
    } else {
        None
    };
    let mut progress = report::progress(args.progress);
    if args.resume.is_some() {
        progress.message(&format!(
            "resuming run {id} of {} ({}): {} task(s) succeeded there and are kept if unchanged",
            plan.dag.name,
            args.file.display(),
            kept.len()
        ));
        if leftovers > 0 {
            progress.message(&format!("stopped {leftovers} task(s) the interrupted kflc left running"));
        }
    } else {
        progress.message(&format!("running {} ({}) in {}", plan.dag.name, args.file.display(), run_dir.display()));
    }
    let mut scheduler = scheduler::Scheduler::new(Arc::clone(&plan), parallelism, &budget);
    scheduler.kept = kept;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(scheduler::InstanceKey, exec::JobResult)>();
    let mut cancel_rx = cancel.receiver.clone();
    loop {
        if *cancel_rx.borrow() {
            scheduler.cancelled = true;
        }
        let (jobs, skips) = scheduler.schedule();
        for skip in skips {
            // A kept instance's manifest is the one it ended with in the resumed run.
            if skip.status != Status::Kept {
                exec::write_skip_manifest(&run_dir, &skip.name, skip.status, &skip.reason);
            }
            progress.finished(&skip.name, skip.status, None, Some(&skip.reason));
        }
        for mut job in jobs {
            progress.started(&job.name);
            job.grant.env.push((resume::TASK_VAR.to_string(), format!("{id}/{}", job.name)));
            job.grant.python.clone_from(&host_python);
            let (plan, env, tx, cancel) =
                (Arc::clone(&plan), Arc::clone(&env), done_tx.clone(), cancel.receiver.clone());
            tokio::spawn(async move {
                let key = job.key.clone();
                let result = exec::execute(plan, env, job, cancel).await;
                let _ = tx.send((key, result));
            });
        }
        if scheduler.running == 0 {
            break;
        }
        tokio::select! {
            Some((key, result)) = done_rx.recv() => {
                let mut name = String::new();
                scheduler.finish(&key, |instance| {
                    instance.status = result.status;
                    instance.reason = result.reason.clone();
                    instance.outputs = result.outputs.clone();
                    instance.attempts = result.attempts;
                    instance.cache_key = result.cache_key.clone();
                    instance.elapsed = Some(result.elapsed);
                    instance.log_tail = result.log_tail.clone();
                    name = instance.name.clone();
                });
                progress.finished(&name, result.status, Some(result.elapsed), result.reason.as_deref());
            }
            Some(note) = notes_rx.recv() => progress.message(&note),
            _ = exec::wait_cancelled(&mut cancel_rx), if !scheduler.cancelled => {
                scheduler.cancelled = true;
            }
        }
    }
    progress.close();
    // Every task has ended: what was kept instead of freed goes now.
    env.spares.clear();
    if !scheduler.cancelled {
        // Nothing runs and these still wait: they can never start. Say so rather than succeed.
        for instance in scheduler.instances.values_mut().filter(|i| i.status == Status::Waiting) {
            instance.status = Status::Failed;
            instance.reason = Some("internal error: what it waits for never finished".into());
        }
    }

    let outputs: BTreeMap<String, Result<Json, String>> = scheduler
        .pipeline_outputs()
        .into_iter()
        .map(|(name, value)| {
            let json = value.map(|v| match v {
                scheduler::Resolved::Parameter(v) => v,
                scheduler::Resolved::Artifact(a) => Json::String(a.path.to_string_lossy().into_owned()),
                scheduler::Resolved::ArtifactList(list) => {
                    Json::Array(list.iter().map(|a| Json::String(a.path.to_string_lossy().into_owned())).collect())
                }
            });
            (name, json)
        })
        .collect();
    let status = if let Some(signal) = cancel.interrupted.get().filter(|_| scheduler.cancelled) {
        RunStatus::Interrupted(*signal)
    } else if scheduler.cancelled {
        RunStatus::Cancelled
    } else if scheduler.failed() {
        RunStatus::Failed
    } else {
        RunStatus::Succeeded
    };
    let label = match status {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::Cancelled => "cancelled",
        RunStatus::Interrupted(_) => "interrupted",
    };
    let mut final_json = run_json(label, Some(&scheduler), Some(&outputs));
    if let (RunStatus::Interrupted(signal), Some(fields)) = (status, final_json.as_object_mut()) {
        fields.insert("signal".into(), Json::String(signal.name().into()));
    }
    let _ = fsutil::write_json_atomically(&run_dir.join("run.json"), &final_json);

    let mut metrics = Vec::new();
    let mut instances = Vec::new();
    for ((task, _), instance) in &scheduler.instances {
        let component = plan.dag.component_of(plan.tasks[*task].node);
        for output in &component.outputs {
            let IoType::Artifact { builtin, .. } = &output.ty else { continue };
            if builtin != "Metrics" {
                continue;
            }
            let Some(artifact) = instance.outputs.artifacts.get(&output.name) else { continue };
            let value = std::fs::read(&artifact.path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Json>(&b).ok())
                .filter(Json::is_object)
                .unwrap_or_else(|| artifact.metadata.clone());
            let mut rows = Vec::new();
            report::flatten("", &value, &mut rows);
            for (key, value) in rows {
                metrics.push(MetricRow { task: instance.name.clone(), output: output.name.clone(), key, value });
            }
        }
        instances.push(InstanceReport {
            name: instance.name.clone(),
            status: instance.status,
            reason: instance.reason.clone(),
            attempts: instance.attempts,
            elapsed: instance.elapsed,
            cache_key: instance.cache_key.clone(),
            outputs: instance.outputs.clone(),
            dir: exec::instance_dir(&run_dir, &instance.name),
            log_tail: instance.log_tail.clone(),
        });
    }
    Ok(RunReport {
        run_id: id,
        run_dir,
        status,
        instances,
        never_ran: scheduler.never_created(),
        outputs,
        metrics,
        elapsed: started.elapsed(),
        resumed: resumes.is_some(),
    })
}

/// Where tasks run, decided before any starts.
struct Resolved {
    host: bool,
    scripts_in_container: bool,
    engine: Option<engine::Engine>,
}

/// Decides where tasks run, finds the engine when any task needs one, and checks that every image
/// they need is on this machine: all before any task starts, each refusal with the way out.
async fn resolve_isolation(
    args: &RunArgs,
    plan: &plan::Plan,
    root: &Path,
    notes: &tokio::sync::mpsc::UnboundedSender<String>,
) -> Result<Resolved, StartError> {
    use kfl_dag::Body;
    let host = args.host || args.isolation == Isolation::Host;
    let is_container = |c: &&kfl_dag::Component| matches!(c.body, Body::Container { .. });
    let components = &plan.dag.components;
    let has_scripts = components.iter().any(|c| !is_container(&c));
    // What must run in a container whatever happens: container components (unless on the host)
    // and components whose packages are only in their locked image.
    let must: Vec<&kfl_dag::Component> =
        components.iter().filter(|c| is_container(c) && !host || args.in_image.contains(&c.name)).collect();
    let wants_scripts = has_scripts && args.isolation != Isolation::Host;
    if must.is_empty() && !wants_scripts {
        return Ok(Resolved { host, scripts_in_container: false, engine: None });
    }
    let search_path = args.engine_search_path.clone().or_else(|| std::env::var_os("PATH")).unwrap_or_default();
    let found = match &args.engine_program {
        Some(program) => engine::detect_program(program, args.engine_timeout).await,
        None => engine::detect(args.engine, &search_path, args.engine_timeout).await,
    };
    let engine = match found {
        engine::Detected::Found(engine) => engine,
        engine::Detected::None(why) => {
            let asked = match (&args.engine_program, args.engine) {
                (Some(program), _) => program.display().to_string(),
                (None, Some(kind)) => kind.name().to_string(),
                (None, None) => "podman or docker".to_string(),
            };
            let explicit = args.engine.is_some() || args.engine_program.is_some();
            if args.isolation == Isolation::Container || explicit || !must.is_empty() {
                let what = if must.is_empty() {
                    "--isolation container runs every task in its image".to_string()
                } else {
                    let names: Vec<String> = must.iter().map(|c| format!("`{}` ({})", c.name, c.image)).collect();
                    format!("the pipeline runs components in their images ({})", names.join(", "))
                };
                return Err(StartError {
                    code: Some(kfl_diagnostics::Code::NoContainerEngine),
                    message: format!(
                        "{what}, and no container engine answers here ({asked}: {}); install podman, or pass \
                         --isolation host to run the tasks' commands on this machine",
                        why.join("; ")
                    ),
                });
            }
            let _ = notes.send(format!(
                "no container engine answers here ({}): tasks run on this machine (--isolation host), not in their images",
                why.join("; ")
            ));
            return Ok(Resolved { host, scripts_in_container: false, engine: None });
        }
    };
    let scripts_in_container = wants_scripts;
    let mut needed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for component in components {
        let contained = match component.body {
            Body::Container { .. } => !host,
            Body::Script { .. } => scripts_in_container || args.in_image.contains(&component.name),
        };
        if contained {
            needed.entry(component.image.as_str()).or_default().push(component.name.as_str());
        }
    }
    if !needed.is_empty() {
        // The run folder is mounted into containers, and `--mount` has its own syntax.
        if !engine::mountable(root) {
            return Err(StartError::from(format!(
                "the run folder (--root) `{}` has a comma, `=` or a control character, which a container mount \
                 cannot name; choose another folder, or pass --isolation host",
                root.display()
            )));
        }
    }
    let mut missing = Vec::new();
    let mut missing_images = Vec::new();
    for (image, users) in &needed {
        if !engine.has_image(image).await? {
            missing.push(format!("`{image}` (for {})", users.join(", ")));
            missing_images.push(*image);
        }
    }
    if !missing.is_empty() {
        let pull = match missing_images.as_slice() {
            [one] => format!("`{} pull {one}`", engine.name()),
            _ => format!("`{} pull IMAGE`", engine.name()),
        };
        let message = format!(
            "image{} not on this machine: {}; a local run never pulls. Get {} with {pull} where a \
             registry is reachable, or build the components' images with `kflc images build FILE` and run \
             with --images kfl.lock, or pass --isolation host to run the tasks on this machine",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" },
        );
        return Err(StartError { code: Some(kfl_diagnostics::Code::ImageNotLocal), message });
    }
    Ok(Resolved { host, scripts_in_container, engine: Some(engine) })
}

/// `<root>/runs/latest` → the newest run (best effort).
fn point_latest(root: &Path, id: &str) {
    let runs = root.join("runs");
    let tmp = runs.join(format!(".latest.{}.tmp", fsutil::unique_suffix()));
    if std::os::unix::fs::symlink(id, &tmp).is_ok() && std::fs::rename(&tmp, runs.join("latest")).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
    }
}

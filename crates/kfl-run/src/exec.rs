//! Running one task instance: the cache lookup, the attempts (each in its own process group, under a
//! timeout, with retries and backoff), and moving the outputs into place only when an attempt
//! succeeded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kfl_dag::{Body, CommandPart, Component, EnvValue, IoType, Settings};
use kfl_launcher::{InputBinding, OutputBinding};
use serde_json::{json, Value as Json};
use tokio::sync::watch;

use crate::cache;
use crate::engine;
use crate::fsutil;
use crate::plan::{parse_parameter, plain, Plan};
use crate::scheduler::{ArtifactRef, Job, Outputs, Resolved, Status};
use crate::venv;

/// What every task of a run shares.
pub struct RunEnv {
    pub run_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub venv_dir: PathBuf,
    /// `--no-cache`: never reuse earlier outputs.
    pub no_cache: bool,
    /// `--verify-cache`: check the content hashes of a cache entry before reusing it.
    pub verify_cache: bool,
    /// `--host` or `--isolation host`: run container components' commands on this machine.
    pub host: bool,
    /// `--isolation container` (or the default where an engine answers): script components run
    /// in their images too.
    pub scripts_in_container: bool,
    /// Python script components (by name) that run in their image, in a container.
    pub in_image: std::collections::BTreeSet<String>,
    /// The engine, when anything of the run needs one (checked before the run started).
    pub engine: Option<crate::engine::Engine>,
    /// `--allow-network`: containers get the engine's default network instead of none.
    pub network: bool,
    /// `--secret` and `<root>/secrets/`.
    pub secrets: crate::secrets::Secrets,
    /// Lines for the progress view (a virtualenv being made, a secret missing here).
    pub notes: tokio::sync::mpsc::UnboundedSender<String>,
    /// The first backoff between attempts; it doubles each retry.
    pub backoff: Duration,
    /// `cpu_limit` of tasks on this machine, through cgroups where this machine lets us.
    pub cpu_caps: crate::cgroup::CpuCaps,
    /// Folders and files kept instead of freed while the run goes (`spares.rs`).
    pub spares: crate::spares::Spares,
}

/// How an instance ended.
#[derive(Clone, Debug)]
pub struct JobResult {
    pub status: Status,
    pub reason: Option<String>,
    pub outputs: Outputs,
    pub attempts: u32,
    pub cache_key: Option<String>,
    pub elapsed: Duration,
    pub log_tail: Vec<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
struct AttemptRecord {
    attempt: u32,
    exit_code: Option<i32>,
    duration_ms: u128,
    error: Option<String>,
}

enum AttemptOutcome {
    Succeeded(Outputs),
    Failed { error: String, exit_code: Option<i32> },
    Cancelled,
}

/// The folder of an instance inside the run directory.
pub fn instance_dir(run_dir: &Path, name: &str) -> PathBuf {
    run_dir.join(name.replace('/', "_"))
}

impl RunEnv {
    /// Whether `component` runs in a container.
    pub fn in_container(&self, component: &Component) -> bool {
        match component.body {
            Body::Container { .. } => !self.host,
            Body::Script { .. } => self.scripts_in_container || self.in_image.contains(&component.name),
        }
    }
}

/// Runs one instance to its end. Never panics on user input: every problem becomes a failure.
pub async fn execute(plan: Arc<Plan>, env: Arc<RunEnv>, job: Job, cancel: watch::Receiver<bool>) -> JobResult {
    let started = Instant::now();
    let started_at = unix_seconds();
    let node = plan.tasks[job.key.0].node;
    let task = &plan.dag.graph[node];
    let component = plan.dag.component_of(node);
    let dir = instance_dir(&env.run_dir, &job.name);
    let mut result = JobResult {
        status: Status::Failed,
        reason: None,
        outputs: Outputs::default(),
        attempts: 0,
        cache_key: None,
        elapsed: Duration::ZERO,
        log_tail: Vec::new(),
    };
    let mut attempts: Vec<AttemptRecord> = Vec::new();
    let key = cache::cache_key(component, &task.settings, &job.inputs);
    result.cache_key = Some(key.clone());
    let caching = task.settings.cache != Some(false);
    // The entry under this key is damaged: the fresh outputs replace it.
    let mut repair = false;

    let outcome: Result<(), String> = async {
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        write_manifest(&dir, &job, component, "running", &result, &attempts, started_at, None, None);
        if caching && !env.no_cache {
            match cache::restore(&env.cache_dir, &key, &dir, env.verify_cache) {
                cache::Lookup::Hit(outputs) => {
                    result.status = Status::Cached;
                    result.outputs = outputs;
                    return Ok(());
                }
                cache::Lookup::Miss => {}
                cache::Lookup::Damaged(problem) => {
                    let note =
                        format!("the cache entry {key} is damaged ({problem}): running the task again to repair it");
                    append_log(&dir.join("stderr.log"), &format!("kfl: {note}\n"));
                    let _ = env.notes.send(format!("{}: {note}", job.name));
                    repair = true;
                }
            }
        }
        let python = match &component.body {
            // In a container, the launcher installs the packages in the image, as in a pod.
            Body::Script { lang: kfl_dag::ScriptLang::Python, .. }
                if !component.packages.is_empty() && !env.in_container(component) =>
            {
                let log = dir.join("stderr.log");
                let notes = env.notes.clone();
                let name = job.name.clone();
                let announce = move |venv: &Path| {
                    let _ = notes.send(format!(
                        "{name}: making a virtualenv for {} (once; kept in {})",
                        component.packages.join(" "),
                        venv.display()
                    ));
                };
                Some(venv::python_with(&env.venv_dir, &component.packages, &log, announce, cancel.clone()).await?)
            }
            _ => None,
        };
        let retries = task.settings.retries.unwrap_or(0);
        for attempt in 1..=retries + 1 {
            if *cancel.borrow() {
                result.status = Status::Cancelled;
                return Ok(());
            }
            result.attempts = attempt;
            let attempt_started = Instant::now();
            let outcome =
                run_attempt(&env, &job, component, &task.settings, &dir, attempt, python.as_deref(), cancel.clone())
                    .await;
            let duration_ms = attempt_started.elapsed().as_millis();
            match outcome {
                AttemptOutcome::Succeeded(outputs) => {
                    attempts.push(AttemptRecord { attempt, exit_code: Some(0), duration_ms, error: None });
                    result.status = Status::Succeeded;
                    result.outputs = outputs;
                    if caching {
                        if let Err(e) = cache::store(&env.cache_dir, &key, &dir, &result.outputs, &job.name, repair) {
                            append_log(
                                &dir.join("stderr.log"),
                                &format!("kfl: could not store the outputs in the cache: {e}\n"),
                            );
                        }
                    }
                    return Ok(());
                }
                AttemptOutcome::Cancelled => {
                    attempts.push(AttemptRecord {
                        attempt,
                        exit_code: None,
                        duration_ms,
                        error: Some("cancelled".into()),
                    });
                    result.status = Status::Cancelled;
                    result.reason = None;
                    return Ok(());
                }
                AttemptOutcome::Failed { error, exit_code } => {
                    append_log(&dir.join("stderr.log"), &format!("kfl: attempt {attempt} failed: {error}\n"));
                    attempts.push(AttemptRecord { attempt, exit_code, duration_ms, error: Some(error.clone()) });
                    result.reason =
                        Some(if retries > 0 { format!("{error} (after {attempt} attempts)") } else { error });
                    if attempt <= retries {
                        let delay = env.backoff.saturating_mul(1 << (attempt - 1).min(6)).min(Duration::from_secs(30));
                        let mut cancel = cancel.clone();
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = wait_cancelled(&mut cancel) => {}
                        }
                    }
                }
            }
        }
        result.status = Status::Failed;
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        result.status = if *cancel.borrow() { Status::Cancelled } else { Status::Failed };
        result.reason = Some(e);
    }
    result.elapsed = started.elapsed();
    if result.status == Status::Failed {
        let mut tail = fsutil::tail(&dir.join("stderr.log"), 15);
        if tail.is_empty() {
            tail = fsutil::tail(&dir.join("stdout.log"), 15);
        }
        result.log_tail = tail;
    }
    let status = match result.status {
        Status::Cached => "cached",
        Status::Succeeded => "succeeded",
        Status::Cancelled => "cancelled",
        _ => "failed",
    };
    write_manifest(
        &dir,
        &job,
        component,
        status,
        &result,
        &attempts,
        started_at,
        Some(result.elapsed),
        Some(&env.spares),
    );
    result
}

#[allow(clippy::too_many_arguments)]
async fn run_attempt(
    env: &RunEnv,
    job: &Job,
    component: &Component,
    settings: &Settings,
    dir: &Path,
    attempt: u32,
    python: Option<&Path>,
    mut cancel: watch::Receiver<bool>,
) -> AttemptOutcome {
    let tmp = dir.join(format!(".attempt-{attempt}.tmp"));
    let _ = fsutil::remove_any(&tmp);
    let prepared = match prepare(env, job, component, settings, dir, &tmp, python).await {
        Ok(p) => p,
        Err(error) => {
            let _ = fsutil::remove_any(&tmp);
            return AttemptOutcome::Failed { error, exit_code: None };
        }
    };
    let stdout = open_log(&dir.join("stdout.log"), attempt);
    let stderr = open_log(&dir.join("stderr.log"), attempt);
    let (Ok(stdout), Ok(stderr)) = (stdout, stderr) else {
        let _ = fsutil::remove_any(&tmp);
        return AttemptOutcome::Failed { error: "cannot open the log files".into(), exit_code: None };
    };
    // The CPU limit, which a container gets from the engine (`--cpus`), through a cgroup here: the
    // task's first process joins it before it runs the task (so every process the task starts is
    // in it), and it is removed (dropped) when the task has ended.
    let cpu_cap = match (job.grant.millicpu_limit, &prepared.container_name) {
        (Some(millicpus), None) => match env.cpu_caps.cap(millicpus) {
            Ok(cap) => Some(cap),
            Err(reason) => {
                if let Some(reason) = env.cpu_caps.tell_once(reason) {
                    let _ = env.notes.send(format!(
                        "cpu_limit is not enforced for tasks on this machine ({reason}); memory_limit is, and \
                         --isolation container caps both"
                    ));
                }
                None
            }
        },
        _ => None,
    };
    // The task's variables on top of this process's environment, later ones winning: the
    // launcher's, the devices and limits the scheduler granted (resources.rs), the task's `env`.
    let mut task_env: Vec<(String, std::ffi::OsString)> =
        prepared.env.iter().map(|(k, v)| (k.clone(), v.into())).collect();
    task_env.extend(job.grant.env.iter().map(|(k, v)| (k.clone(), v.into())));
    if attempt == 1 {
        for resource in settings.resources.keys() {
            // Nothing on this machine reserves or caps it: a cluster does.
            let _ = env.notes.send(format!(
                "{}: `{resource}` is requested on a cluster; a local run does not reserve or limit it",
                job.name
            ));
        }
    }
    for (name, value) in &settings.env {
        match value {
            EnvValue::Literal(text) => {
                // In a container the literal is in the engine's arguments already.
                if prepared.container_name.is_none() {
                    task_env.push((name.clone(), text.into()));
                }
            }
            EnvValue::Secret { name: secret, key } => match env.secrets.value(secret, key) {
                // To the program on this machine, or to the engine, which passes it on (`--env NAME`).
                Ok(Some(value)) => {
                    task_env.push((name.clone(), value.into()));
                }
                Ok(None) => {
                    // No local value: the variable keeps the one it has here, if any.
                    if std::env::var_os(name).is_none() && attempt == 1 {
                        let _ = env.notes.send(format!(
                            "{}: `{name}` comes from the secret {secret}/{key} on a cluster; give it here with \
                             --secret {secret}=FOLDER (a file `{key}` in it) or in {}",
                            job.name,
                            env.secrets.folder_of(secret).display()
                        ));
                    }
                }
                Err(error) => {
                    let _ = fsutil::remove_any(&tmp);
                    return AttemptOutcome::Failed { error, exit_code: None };
                }
            },
        }
    }
    // A variable as the task's first process finds it in its environment.
    let lookup = |name: &str| {
        task_env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| std::env::var_os(name))
    };
    // An `sh` script runs on its own where its launcher's bindings hold; else the launcher runs
    // and says what is wrong.
    let sh_bound = prepared.sh_script.as_ref().and_then(|_| crate::host_sh::bind(component, lookup));
    let argv: Vec<std::ffi::OsString> = match (&prepared.sh_script, &sh_bound) {
        (Some(source), Some(bound)) => {
            ["sh", "-eu", "-c", source].iter().map(Into::into).chain([bound.label().to_os_string()]).collect()
        }
        _ => prepared.argv.iter().map(Into::into).collect(),
    };
    let mut command = tokio::process::Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .envs(task_env.iter().map(|(k, v)| (k, v)))
        .envs(sh_bound.iter().flat_map(crate::host_sh::Bound::vars))
        .current_dir(&prepared.cwd)
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cap) = &cpu_cap {
        cap.join_on_start(command.as_std_mut());
    }
    // Read-only permissions do not stop root (nor a task that changes them back): a write is
    // noticed afterwards, by the inode change times that no program can set.
    let inputs_before = input_stamps(&prepared.inputs);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let _ = fsutil::remove_any(&tmp);
            return AttemptOutcome::Failed {
                error: format!("cannot start `{}`: {e}", prepared.argv[0]),
                exit_code: None,
            };
        }
    };
    let pid = child.id();
    // In a container the engine applies the limit (`--memory`); a limit on the engine's own
    // process would only starve the engine.
    let limit_error = match prepared.container_name {
        None => crate::resources::limit_memory(pid, &job.grant),
        Some(_) => None,
    };

    let timeout = settings.timeout.map(|t| t.to_std());
    enum End {
        Exited(std::io::Result<std::process::ExitStatus>),
        TimedOut,
        Cancelled,
    }
    let end = tokio::select! {
        status = child.wait() => End::Exited(status),
        _ = sleep_or_forever(timeout) => End::TimedOut,
        _ = wait_cancelled(&mut cancel) => End::Cancelled,
    };
    let container = prepared.container_name.as_deref().zip(env.engine.as_ref());
    let end = match end {
        End::Exited(status) => {
            // The launcher's end, while what the script left in its group still runs, as when the
            // launcher shell did it.
            let status = match (status, &sh_bound) {
                (Ok(status), Some(bound)) => Ok(bound.finish(component, status, &dir.join("stderr.log"), lookup)),
                (status, _) => status,
            };
            // Whatever the program left behind in its group goes too.
            kill_group(pid, rustix::process::Signal::KILL);
            End::Exited(status)
        }
        other => {
            stop_group(&mut child, pid, container).await;
            other
        }
    };
    if let Some((name, engine)) = container {
        // `--rm` removes it when the engine's client sees it end; a client that was killed does
        // not, so the run makes sure.
        if !matches!(end, End::Exited(_)) {
            engine.remove(name).await;
        }
    }
    // Outputs written at the cluster's paths go where the checks below look for them.
    if matches!(end, End::Exited(Ok(ref status)) if status.success()) {
        for (written, place) in &prepared.moved_outputs {
            if std::fs::symlink_metadata(written).is_ok() {
                let _ = std::fs::rename(written, place);
                let _ = std::fs::rename(metadata_path(written), metadata_path(place));
            }
        }
    }
    let outcome = match end {
        End::TimedOut => AttemptOutcome::Failed {
            error: format!("timed out after {}", settings.timeout.map(|t| t.to_string()).unwrap_or_default()),
            exit_code: None,
        },
        End::Cancelled => AttemptOutcome::Cancelled,
        End::Exited(Err(e)) => {
            AttemptOutcome::Failed { error: format!("cannot wait for the task: {e}"), exit_code: None }
        }
        End::Exited(Ok(status)) if !status.success() => AttemptOutcome::Failed {
            error: crate::resources::out_of_memory(&job.grant, status, &dir.join("stderr.log"), limit_error)
                .unwrap_or_else(|| match status.code() {
                    Some(code) => format!("exited with code {code}"),
                    None => "killed by a signal".to_string(),
                }),
            exit_code: status.code(),
        },
        End::Exited(Ok(_)) if input_stamps(&prepared.inputs) != inputs_before => {
            let after = input_stamps(&prepared.inputs);
            let changed = inputs_before
                .iter()
                .zip(&after)
                .find(|(b, a)| b != a)
                .map_or_else(String::new, |((name, _), _)| name.clone());
            AttemptOutcome::Failed {
                error: format!(
                    "the task changed its input artifact `{changed}`; inputs are read-only: write a new output instead"
                ),
                exit_code: Some(0),
            }
        }
        End::Exited(Ok(_)) => match collect_outputs(component, &tmp, dir) {
            Ok(outputs) => AttemptOutcome::Succeeded(outputs),
            Err(error) => AttemptOutcome::Failed { error, exit_code: Some(0) },
        },
    };
    env.spares.retire_dir(&tmp);
    outcome
}

struct Prepared {
    argv: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    /// The container's name, to stop and remove it.
    container_name: Option<String>,
    /// The read-only copies of the input artifacts, by input name.
    inputs: Vec<(String, PathBuf)>,
    /// In a container: output artifacts written at the cluster's path (`<folder>/data`), moved to
    /// the attempt's `outputs/artifacts/<name>` once it ended.
    moved_outputs: Vec<(PathBuf, PathBuf)>,
    /// An `sh` script on this machine (`host_sh.rs`): `argv` is its launcher, run only where the
    /// launcher would fail before the script; otherwise the script runs on its own.
    sh_script: Option<String>,
}

/// The stamps of a task's input copies, to see afterwards whether it wrote to them.
fn input_stamps(inputs: &[(String, PathBuf)]) -> Vec<(String, Option<Vec<fsutil::Stamp>>)> {
    inputs.iter().map(|(name, path)| (name.clone(), fsutil::tree_stamp(path).ok())).collect()
}

/// Where inputs and outputs are inside a container: the paths the Argo backend gives them in a pod
/// (`kfl-argo`'s `INPUTS_DIR`, `OUTPUTS_DIR`, `PARAMS_DIR`), so a command sees the same paths here.
pub const CONTAINER_INPUTS: &str = "/tmp/kfl/inputs";
pub const CONTAINER_OUTPUTS: &str = "/tmp/kfl/outputs";
pub const CONTAINER_PARAMS: &str = "/tmp/kfl/params";

/// Lays out the attempt's folder (inputs, outputs, work) and builds the command.
async fn prepare(
    env: &RunEnv,
    job: &Job,
    component: &Component,
    settings: &Settings,
    dir: &Path,
    tmp: &Path,
    python: Option<&Path>,
) -> Result<Prepared, String> {
    let io = |e: std::io::Error| format!("cannot prepare {}: {e}", tmp.display());
    let in_container = env.in_container(component);
    // The program's working folder is the attempt's own, so stray files vanish with it.
    let work = tmp.to_path_buf();
    env.spares.make_dir(tmp).map_err(io)?;
    std::fs::create_dir(tmp.join("outputs")).map_err(io)?;
    if component.outputs.iter().any(|o| o.ty.is_artifact()) {
        std::fs::create_dir_all(tmp.join("outputs/artifacts")).map_err(io)?;
    }
    if component.outputs.iter().any(|o| !o.ty.is_artifact()) {
        std::fs::create_dir_all(tmp.join("outputs/parameters")).map_err(io)?;
    }
    // Where the outputs will be once the attempt succeeded: their URIs name the final place.
    let final_outputs = dir.join("outputs");
    // Every input artifact is a read-only copy of its own (a reflink where the file system can),
    // never a link to the producer's outputs: what a task writes to its inputs reaches neither
    // them nor the cache, and (see `run_attempt`) fails the task.
    let inputs_dir = tmp.join("inputs");
    let mut input_paths: Vec<(String, PathBuf)> = Vec::new();
    // Each input as the task sees it: its path on this machine, or inside the container.
    let mut seen_paths: Vec<(String, String)> = Vec::new();
    let mut mounts: Vec<engine::Mount> = Vec::new();
    let mut inputs = Vec::new();
    for (name, value) in &job.inputs {
        let binding = match value {
            Resolved::Parameter(v) => InputBinding::Text(plain(v)),
            Resolved::Artifact(a) => {
                // In a container the file is `<input>/data`, as in a pod.
                let file_name = match (in_container, a.path.file_name()) {
                    (false, Some(n)) => n.to_os_string(),
                    _ => "data".into(),
                };
                let copy = inputs_dir.join(name).join(file_name);
                fsutil::copy_tree(&a.path, &copy).map_err(io)?;
                let metadata = serde_json::to_vec(&a.metadata).unwrap_or_default();
                std::fs::write(metadata_path(&copy), metadata).map_err(io)?;
                input_paths.push((name.clone(), copy.clone()));
                let seen = if in_container {
                    let target = format!("{CONTAINER_INPUTS}/{name}");
                    mounts.push(engine::Mount {
                        source: inputs_dir.join(name),
                        target: target.clone(),
                        read_only: true,
                    });
                    format!("{target}/data")
                } else {
                    path_text(&copy)
                };
                seen_paths.push((name.clone(), seen.clone()));
                InputBinding::Artifact { path: seen, uri: a.uri.clone() }
            }
            Resolved::ArtifactList(list) => {
                // The launcher reads a list of artifacts as `<dir>/<i>/data`.
                let list_dir = inputs_dir.join(name);
                for (i, a) in list.iter().enumerate() {
                    let element = PathBuf::from(kfl_launcher::list_element_path(&path_text(&list_dir), i));
                    fsutil::copy_tree(&a.path, &element).map_err(io)?;
                    let metadata = serde_json::to_vec(&a.metadata).unwrap_or_default();
                    std::fs::write(metadata_path(&element), metadata).map_err(io)?;
                }
                std::fs::create_dir_all(&list_dir).map_err(io)?;
                input_paths.push((name.clone(), list_dir.clone()));
                let seen = if in_container {
                    let target = format!("{CONTAINER_INPUTS}/{name}");
                    mounts.push(engine::Mount { source: list_dir.clone(), target: target.clone(), read_only: true });
                    target
                } else {
                    path_text(&list_dir)
                };
                seen_paths.push((name.clone(), seen.clone()));
                InputBinding::Artifacts { dir: seen, uris: list.iter().map(|a| a.uri.clone()).collect() }
            }
        };
        inputs.push((name.clone(), binding));
    }
    if inputs_dir.exists() {
        fsutil::make_read_only(&inputs_dir, true).map_err(io)?;
    }
    // Output paths as the task sees them, and (in a container) the folders mounted for them.
    let mut moved_outputs = Vec::new();
    let mut output_path = BTreeMap::new();
    let mut parameter_path = BTreeMap::new();
    if in_container && component.outputs.iter().any(|o| !o.ty.is_artifact()) {
        let params = tmp.join("outputs/parameters");
        // Written by whatever user the image runs as, as a pod's emptyDir is.
        fsutil::set_mode(&params, 0o777).map_err(io)?;
        mounts.push(engine::Mount { source: params, target: CONTAINER_PARAMS.into(), read_only: false });
    }
    for output in &component.outputs {
        if !in_container {
            output_path.insert(output.name.clone(), path_text(&tmp.join("outputs/artifacts").join(&output.name)));
            parameter_path.insert(output.name.clone(), path_text(&tmp.join("outputs/parameters").join(&output.name)));
            continue;
        }
        parameter_path.insert(output.name.clone(), format!("{CONTAINER_PARAMS}/{}", output.name));
        if output.ty.is_artifact() {
            let folder = tmp.join("container-outputs").join(&output.name);
            std::fs::create_dir_all(&folder).map_err(io)?;
            fsutil::set_mode(&folder, 0o777).map_err(io)?;
            let target = format!("{CONTAINER_OUTPUTS}/{}", output.name);
            mounts.push(engine::Mount { source: folder.clone(), target: target.clone(), read_only: false });
            output_path.insert(output.name.clone(), format!("{target}/data"));
            moved_outputs.push((folder.join("data"), tmp.join("outputs/artifacts").join(&output.name)));
        }
    }
    let mut outputs = Vec::new();
    for output in &component.outputs {
        let binding = match output.ty {
            IoType::Parameter(_) => OutputBinding::Parameter { path: parameter_path[&output.name].clone() },
            _ => OutputBinding::Artifact {
                path: output_path[&output.name].clone(),
                uri: file_uri(&final_outputs.join("artifacts").join(&output.name)),
            },
        };
        outputs.push((output.name.clone(), binding));
    }
    let mut vars = kfl_launcher::env_for(component, &inputs, &outputs);
    // On this machine, packages are installed once per set into a cached virtualenv, not on every
    // run; in a container the launcher installs them at start, as in a pod.
    if !in_container {
        vars.retain(|(k, _)| k != kfl_launcher::PACKAGES_VAR);
    }
    let installs = vars.iter().any(|(k, _)| k == kfl_launcher::PACKAGES_VAR);
    let (entrypoint, rest) = match &component.body {
        Body::Script { .. } => {
            let mut argv = kfl_launcher::script_command(component).ok_or("not a script")?;
            if !in_container {
                // An sh script runs itself, its launcher's work done around it (`host_sh.rs`).
                let sh_script = match &component.body {
                    Body::Script { lang: kfl_dag::ScriptLang::Sh, source } => Some(source.clone()),
                    _ => None,
                };
                if sh_script.is_none() {
                    if let Some(python) = python {
                        argv[0] = path_text(python);
                    } else if let (Some(python), "python3") = (&job.grant.python, argv[0].as_str()) {
                        argv[0] = python.clone();
                    }
                }
                return Ok(Prepared {
                    argv,
                    env: vars,
                    cwd: work,
                    container_name: None,
                    inputs: input_paths,
                    moved_outputs,
                    sh_script,
                });
            }
            let mut argv = argv.into_iter();
            (argv.next(), argv.collect::<Vec<_>>())
        }
        Body::Container { command, args } => {
            let substitute = |part: &CommandPart| -> Result<String, String> {
                Ok(match part {
                    CommandPart::Literal(text) => text.clone(),
                    CommandPart::InputValue(n) => match input_of(job, n)? {
                        Resolved::Parameter(v) => plain(v),
                        _ => return Err(format!("`{n}` is an artifact")),
                    },
                    CommandPart::InputPath(n) => match input_of(job, n)? {
                        Resolved::Artifact(_) | Resolved::ArtifactList(_) => {
                            match seen_paths.iter().find(|(name, _)| name == n) {
                                Some((_, seen)) => seen.clone(),
                                None => return Err(format!("no copy of the input `{n}`")),
                            }
                        }
                        Resolved::Parameter(v) => plain(v),
                    },
                    CommandPart::InputUri(n) => match input_of(job, n)? {
                        Resolved::Artifact(a) => a.uri.clone(),
                        Resolved::ArtifactList(list) => {
                            Json::Array(list.iter().map(|a| Json::String(a.uri.clone())).collect()).to_string()
                        }
                        Resolved::Parameter(v) => plain(v),
                    },
                    CommandPart::OutputPath(n) => {
                        output_path.get(n).cloned().ok_or_else(|| format!("no output `{n}`"))?
                    }
                    CommandPart::OutputUri(n) => file_uri(&final_outputs.join("artifacts").join(n)),
                    CommandPart::OutputParameterPath(n) => {
                        parameter_path.get(n).cloned().ok_or_else(|| format!("no output `{n}`"))?
                    }
                })
            };
            let mut line = Vec::new();
            for part in command.iter().chain(args) {
                line.push(substitute(part)?);
            }
            if !in_container {
                if command.is_empty() {
                    return Err(format!(
                        "component `{}` has no `command` (it runs its image's entrypoint), which --isolation host cannot run",
                        component.name
                    ));
                }
                return Ok(Prepared {
                    argv: line,
                    env: vars,
                    cwd: work,
                    container_name: None,
                    inputs: input_paths,
                    moved_outputs,
                    sh_script: None,
                });
            }
            // As in the Workflow: `command` replaces the image's entrypoint, `args` follow it;
            // without a `command` the image's entrypoint runs with the args.
            if command.is_empty() {
                (None, line)
            } else {
                let mut line = line.into_iter();
                (line.next(), line.collect())
            }
        }
    };
    let Some(engine) = &env.engine else {
        return Err(format!(
            "component `{}` runs in its image `{}`, and no container engine answers here",
            component.name, component.image
        ));
    };
    // A name made of a hash only: nothing the user wrote reaches it.
    let container_name = format!("kfl-{}", fsutil::sha256_hex(path_text(tmp).as_bytes()).get(..16).unwrap_or("task"));
    let mut spec = engine::ContainerSpec {
        name: container_name.clone(),
        image: component.image.clone(),
        entrypoint,
        args: rest,
        env: vars,
        env_from_engine: Vec::new(),
        mounts,
        // Installing packages at start needs the network, as in a pod.
        network: env.network || installs,
        labels: vec![(
            "kfl.run".into(),
            env.run_dir.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        )],
        // What the task asks for, enforced by the engine as a kubelet does: limits cap, a CPU
        // request weighs (resources.rs).
        cpus: job.grant.millicpu_limit.map(engine::cpus_flag),
        cpu_shares: (job.grant.millicpus > 0).then(|| (job.grant.millicpus * 1024 / 1000).max(2)),
        memory: job.grant.memory_limit,
        gpus: job.grant.gpus.clone(),
    };
    for (name, value) in &settings.env {
        match value {
            EnvValue::Literal(text) => spec.env.push((name.clone(), text.clone())),
            // The value goes to the engine's environment, never into its arguments.
            EnvValue::Secret { .. } => spec.env_from_engine.push(name.clone()),
        }
    }
    Ok(Prepared {
        argv: engine.run_argv(&spec),
        env: Vec::new(),
        cwd: work,
        container_name: Some(container_name),
        inputs: input_paths,
        moved_outputs,
        sh_script: None,
    })
}

fn input_of<'j>(job: &'j Job, name: &str) -> Result<&'j Resolved, String> {
    job.inputs.iter().find(|(n, _)| n == name).map(|(_, v)| v).ok_or_else(|| format!("no input `{name}`"))
}

/// Checks the outputs an attempt wrote and moves them into place in one rename.
fn collect_outputs(component: &Component, tmp: &Path, dir: &Path) -> Result<Outputs, String> {
    let written = tmp.join("outputs");
    let mut parameters = BTreeMap::new();
    for output in &component.outputs {
        match &output.ty {
            IoType::Parameter(_) => {
                let path = written.join("parameters").join(&output.name);
                if std::fs::symlink_metadata(&path).is_err() {
                    return Err(format!("the task did not write its output parameter `{}`", output.name));
                }
                let bytes = fsutil::read_regular(&path, READ_LIMIT)
                    .map_err(|e| format!("the output parameter `{}`: {e}", output.name))?;
                let text = String::from_utf8(bytes)
                    .map_err(|e| format!("the output parameter `{}` is not UTF-8 text: {e}", output.name))?;
                let value = parse_parameter(&output.ty, &text).map_err(|e| format!("output `{}`: {e}", output.name))?;
                parameters.insert(output.name.clone(), value);
            }
            _ => {
                let path = written.join("artifacts").join(&output.name);
                if std::fs::symlink_metadata(&path).is_err() {
                    return Err(format!("the task did not write its output artifact `{}`", output.name));
                }
                let problem = |e: std::io::Error| format!("the output artifact `{}`: {e}", output.name);
                fsutil::materialize(&path).map_err(problem)?;
                let metadata = metadata_path(&path);
                if std::fs::symlink_metadata(&metadata).is_ok() {
                    fsutil::materialize(&metadata).map_err(problem)?;
                }
            }
        }
    }
    let target = dir.join("outputs");
    fsutil::remove_any(&target).map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
    std::fs::rename(&written, &target).map_err(|e| format!("cannot move the outputs into place: {e}"))?;
    let mut artifacts = BTreeMap::new();
    for output in component.outputs.iter().filter(|o| o.ty.is_artifact()) {
        let path = target.join("artifacts").join(&output.name);
        let hash = fsutil::content_hash(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .ok_or_else(|| format!("the output artifact `{}` vanished", output.name))?;
        let metadata = read_metadata(&path);
        artifacts.insert(output.name.clone(), ArtifactRef { uri: file_uri(&path), path, hash, metadata });
    }
    Ok(Outputs { parameters, artifacts })
}

pub fn metadata_path(artifact: &Path) -> PathBuf {
    PathBuf::from(kfl_launcher::metadata_path(&path_text(artifact)))
}

/// The most read from an output parameter or a metadata file.
const READ_LIMIT: u64 = 64 * 1024 * 1024;

pub fn read_metadata(artifact: &Path) -> Json {
    fsutil::read_regular(&metadata_path(artifact), READ_LIMIT)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Json>(&bytes).ok())
        .filter(Json::is_object)
        .unwrap_or_else(|| json!({}))
}

/// A path as text for tasks, manifests and messages (lossily: `serde_json` refuses, and `json!`
/// panics on, a `Path` that is not UTF-8).
pub fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path_text(path))
}

fn open_log(path: &Path, attempt: u32) -> std::io::Result<std::fs::File> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    if attempt > 1 {
        writeln!(file, "--- attempt {attempt} ---")?;
    }
    Ok(file)
}

fn append_log(path: &Path, text: &str) {
    use std::io::Write;
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = file.write_all(text.as_bytes());
    }
}

fn kill_group(pid: Option<u32>, signal: rustix::process::Signal) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).and_then(rustix::process::Pid::from_raw) else { return };
    let _ = rustix::process::kill_process_group(pid, signal);
}

/// Whether any process of the group is left.
fn group_alive(pid: Option<u32>) -> bool {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).and_then(rustix::process::Pid::from_raw) else {
        return false;
    };
    rustix::process::test_kill_process_group(pid).is_ok()
}

/// How long a task has, after SIGTERM to its process group, before SIGKILL.
const STOP_GRACE: Duration = Duration::from_millis(1500);

/// Stops a task's whole process tree: SIGTERM to its group, SIGKILL after [`STOP_GRACE`].
async fn stop_group(child: &mut tokio::process::Child, pid: Option<u32>, container: Option<(&str, &engine::Engine)>) {
    // A container is not in the group: it gets the same signals through its engine.
    let signal_container = |signal: &'static str| async move {
        if let Some((name, engine)) = container {
            engine.signal(name, signal).await;
        }
    };
    signal_container("TERM").await;
    kill_group(pid, rustix::process::Signal::TERM);
    // The grace period is the whole group's, not only the direct child's: a launcher shell ends
    // at once, while the program it started may still be saving its work.
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    let _ = tokio::time::timeout_at(deadline, child.wait()).await;
    while group_alive(pid) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal_container("KILL").await;
    kill_group(pid, rustix::process::Signal::KILL);
    let _ = child.wait().await;
}

async fn sleep_or_forever(timeout: Option<Duration>) {
    match timeout {
        Some(t) => tokio::time::sleep(t).await,
        None => std::future::pending().await,
    }
}

/// Resolves once the run is cancelled.
pub async fn wait_cancelled(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

pub fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn input_json(value: &Resolved) -> Json {
    match value {
        Resolved::Parameter(v) => v.clone(),
        Resolved::Artifact(a) => json!({ "path": path_text(&a.path), "uri": a.uri, "hash": a.hash }),
        Resolved::ArtifactList(list) => Json::Array(
            list.iter().map(|a| json!({ "path": path_text(&a.path), "uri": a.uri, "hash": a.hash })).collect(),
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn write_manifest(
    dir: &Path,
    job: &Job,
    component: &Component,
    status: &str,
    result: &JobResult,
    attempts: &[AttemptRecord],
    started_at: u64,
    elapsed: Option<Duration>,
    spares: Option<&crate::spares::Spares>,
) {
    let inputs: serde_json::Map<String, Json> = job.inputs.iter().map(|(n, v)| (n.clone(), input_json(v))).collect();
    let outputs = json!({
        "parameters": result.outputs.parameters,
        "artifacts": result.outputs.artifacts.iter().map(|(n, a)| (n.clone(), json!({
            "path": path_text(&a.path), "uri": a.uri, "hash": a.hash, "metadata": a.metadata,
            // The built-in type (`Dataset`, `Metrics`, …), for viewers such as `kflc ui`.
            "type": component.outputs.iter().find(|o| &o.name == n).and_then(|o| match &o.ty {
                IoType::Artifact { builtin, .. } | IoType::ArtifactList { builtin, .. } => Some(builtin.clone()),
                IoType::Parameter(_) => None,
            }),
        }))).collect::<serde_json::Map<String, Json>>(),
    });
    let manifest = json!({
        "task": job.name,
        "iteration": job.key.1,
        "component": component.name,
        "status": status,
        "cached": result.status == Status::Cached,
        "cache_key": result.cache_key,
        "reason": result.reason,
        "inputs": inputs,
        "outputs": outputs,
        "exit_code": attempts.last().and_then(|a| a.exit_code),
        "attempts": attempts,
        "started_at": started_at,
        "duration_ms": elapsed.map(|e| e.as_millis()),
        "logs": { "stdout": "stdout.log", "stderr": "stderr.log" },
    });
    let path = dir.join("manifest.json");
    let _ = match spares {
        Some(spares) => spares.write_json_replacing(&path, &manifest),
        None => fsutil::write_json_atomically(&path, &manifest),
    };
}

/// The manifest of an instance that never started (skipped), so that every instance has one.
pub fn write_skip_manifest(run_dir: &Path, name: &str, status: Status, reason: &str) {
    let dir = instance_dir(run_dir, name);
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let manifest = json!({ "task": name, "status": status.label(), "reason": reason, "cached": false });
    let _ = fsutil::write_json_atomically(&dir.join("manifest.json"), &manifest);
}

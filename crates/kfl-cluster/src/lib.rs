//! KFL on a live cluster: `kflc apply`, `plan`, `runs`, `status`, `delete` and `logs`.
//!
//! Each command is a plain argument struct and a function returning an exit code
//! ([`apply_command`], [`plan_command`], …); the `_with` variants write to a [`Console`] instead of
//! stdout/stderr, and the `_on` variants take an already-made [`Cluster`] (tests pass a
//! recorded-response client). `apply` and `plan` take a [`Pipeline`]: the caller (`kflc`) loads,
//! checks and lowers the `.kfl` files and sets the `--param` values first.
//!
//! # Invariants
//!
//! - This crate is the only one that depends on kube / k8s-openapi / tokio; nothing else in the
//!   workspace talks to a cluster.
//! - Below the checker: it depends on kfl-model, kfl-dag and the backends, never on kfl-syntax or
//!   kfl-check, and reads no `.kfl` file. Where something comes from in the source travels as data
//!   ([`error::SourceRef`]: an [`kfl_model::Origin`] and what is declared there); the caller that
//!   holds the texts renders it ([`Console::render`]).
//! - A pipeline with errors is never submitted: what is submitted is a lowered [`kfl_dag::Dag`],
//!   which is only made from a program that checked; `kflc` refuses errors before any connection.
//! - The cluster is chosen as kubectl chooses it (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`,
//!   in-cluster; `--context`; `--namespace` else the context's namespace else `default`).
//! - Every submission is a server-side apply under the field manager `kflc` with strict field
//!   validation; `--force-conflicts` is the only way fields of another manager are taken over.
//! - `--dry-run=server` sends `dryRun=All`: the server persists nothing.
//! - Every run has a unique name `<pipeline>-<yyyymmdd>-<hhmmss>-<hex>` (≤ 63 characters) and the
//!   labels `kfl.dev/pipeline`, `kfl.dev/run`, `app.kubernetes.io/managed-by: kflc`.
//! - Workflows are addressed without discovery (`ApiResource::from_gvk_with_plural`).
//! - Every API failure is reported with what was being done (verb, resource, namespace); a 404 on
//!   the workflows collection means the Workflow CRD is not installed.
//! - No credential is ever printed: every error goes through [`redact::scrub`], which knows the
//!   credentials of the kubeconfigs read and drops an exec plugin's command line and output.
//! - Exit codes: 0 success; 1 the pipeline, the server or the run said no, or the server did not
//!   answer within `--timeout` ([`DEFAULT_TIMEOUT`]; every command but a `--wait` has one, shared
//!   by all its requests, the connection included); 2 the cluster could not be reached or configured (or a usage error).

pub mod argo;
pub mod capacity;
pub mod connect;
pub mod diff;
pub mod error;
pub mod kfp;
pub mod logs;
pub mod project;
pub mod redact;

use std::future::Future;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value as Json;

pub use connect::{Cluster, ClusterArgs};
pub use error::{ClusterError, SourceRef};
pub use project::{Origins, Pipeline};

/// Renders an error that points into the `.kfl` source (see [`ClusterError::source_refs`]).
pub type Render<'a> = &'a dyn Fn(&ClusterError) -> String;

/// Where a command writes: normally stdout and stderr; tests pass buffers.
pub struct Console<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    /// Writes an error that points into the `.kfl` source (`kflc`: source excerpts rendered with
    /// miette from the texts it loaded). Without it, such an error is written as text like any
    /// other (`--> file: component …`).
    pub render: Option<Render<'a>>,
}

impl<'a> Console<'a> {
    pub fn new(out: &'a mut dyn Write, err: &'a mut dyn Write) -> Console<'a> {
        Console { out, err, render: None }
    }
}

fn with_std_console(render: Option<Render>, f: impl FnOnce(&mut Console) -> u8) -> ExitCode {
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let code = f(&mut Console { out: &mut out, err: &mut err, render });
    let _ = out.flush();
    ExitCode::from(code)
}

fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime")
        .block_on(future)
}

/// Which system runs the pipeline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// Argo Workflows, through the Kubernetes API.
    #[default]
    Argo,
    /// Kubeflow Pipelines, through its REST API (`--endpoint`).
    Kfp,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "argo" => Ok(Backend::Argo),
            "kfp" => Ok(Backend::Kfp),
            other => Err(format!("unknown backend `{other}`: use `argo` or `kfp`")),
        }
    }
}

/// Parses `--dry-run=VALUE`: `server` (send with dryRun=All) or `none`; `client` points to `plan`.
pub fn parse_dry_run(value: &str) -> Result<bool, String> {
    match value {
        "server" => Ok(true),
        "none" => Ok(false),
        "client" => Err("--dry-run=client is `kflc plan` (or `kflc build --target argo`)".to_string()),
        other => Err(format!("unknown --dry-run value `{other}`: use `server`")),
    }
}

/// How long `apply` waits for a server (Kubernetes or Kubeflow Pipelines) to accept a connection
/// and answer the requests of a submission, when `--timeout` is not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// `kflc apply FILE [--pipeline NAME] [--param name=value…]`: how to submit (the pipeline itself is
/// a [`Pipeline`]).
#[derive(Clone, Debug, Default)]
pub struct ApplyArgs {
    /// Apply to this run name instead of a new one (a re-apply).
    pub name: Option<String>,
    /// `--dry-run=server`.
    pub dry_run_server: bool,
    /// Follow the run until it ends; exit 1 if it fails.
    pub wait: bool,
    /// `--timeout`: give up after this long in total. Without `--wait` it bounds connecting and
    /// submitting ([`DEFAULT_TIMEOUT`] when `None`); with `--wait` it bounds following the run too
    /// (no limit on the following when `None`, but submitting still gets [`DEFAULT_TIMEOUT`]).
    pub timeout: Option<Duration>,
    /// Take over fields owned by other field managers.
    pub force_conflicts: bool,
    /// Skip the node capacity check.
    pub skip_capacity_check: bool,
    pub backend: Backend,
    /// The Kubeflow Pipelines API (`--backend kfp`), e.g. `http://localhost:8888`.
    pub endpoint: Option<String>,
    pub cluster: ClusterArgs,
}

/// `kflc plan FILE`: the manifest, and what an apply would change.
#[derive(Clone, Debug, Default)]
pub struct PlanArgs {
    /// Compare with this existing run (else the plan is for a new run).
    pub name: Option<String>,
    /// Give up on the server after this long ([`DEFAULT_TIMEOUT`] when `None`).
    pub timeout: Option<Duration>,
    pub cluster: ClusterArgs,
}

/// `kflc runs [--pipeline NAME]`.
#[derive(Clone, Debug, Default)]
pub struct RunsArgs {
    /// The pipeline (its KFL or Kubernetes name); all kflc runs without it.
    pub pipeline: Option<String>,
    /// Give up on the server after this long ([`DEFAULT_TIMEOUT`] when `None`).
    pub timeout: Option<Duration>,
    pub cluster: ClusterArgs,
}

/// `kflc status RUN`.
#[derive(Clone, Debug, Default)]
pub struct StatusArgs {
    pub run: String,
    /// Follow until the run ends.
    pub wait: bool,
    /// With `--wait`, give up following after this long (no limit when `None`); without, give up
    /// on the server after this long ([`DEFAULT_TIMEOUT`] when `None`).
    pub timeout: Option<Duration>,
    pub cluster: ClusterArgs,
}

/// `kflc delete RUN`.
#[derive(Clone, Debug, Default)]
pub struct DeleteArgs {
    pub run: String,
    /// Give up on the server after this long ([`DEFAULT_TIMEOUT`] when `None`).
    pub timeout: Option<Duration>,
    pub cluster: ClusterArgs,
}

/// `kflc logs RUN [--task NAME]`.
#[derive(Clone, Debug, Default)]
pub struct LogsArgs {
    pub run: String,
    pub task: Option<String>,
    /// Give up on the server after this long ([`DEFAULT_TIMEOUT`] when `None`).
    pub timeout: Option<Duration>,
    pub cluster: ClusterArgs,
}

/// Prints an error, with any credential in it redacted ([`redact::scrub`]), and gives its exit code.
pub(crate) fn fail(console: &mut Console, error: &ClusterError) -> u8 {
    match console.render {
        Some(render) if !error.source_refs().is_empty() => {
            let _ = write!(console.err, "{}", redact::scrub(&render(error)));
        }
        _ => {
            let _ = writeln!(console.err, "error: {}", redact::scrub(&error.to_string()));
        }
    }
    error.exit_code()
}

/// The error of a command whose server did not answer within `limit`.
fn timed_out(cluster: &Cluster, doing: &str, limit: Duration) -> ClusterError {
    ClusterError::TimedOut {
        server: format!("the Kubernetes API server at {}", cluster.server),
        doing: doing.to_string(),
        limit,
    }
}

async fn connected(args: &ClusterArgs, console: &mut Console<'_>) -> Result<Cluster, u8> {
    connect::connect(args).await.map_err(|e| fail(console, &e))
}

// ---------------------------------------------------------------------------------------------
// apply

/// `apply` on stdout and stderr; `render` writes errors that point into the `.kfl` source.
pub fn apply_command(args: ApplyArgs, pipeline: &Pipeline, render: Option<Render>) -> ExitCode {
    with_std_console(render, |c| apply_with(&args, pipeline, c))
}

pub fn apply_with(args: &ApplyArgs, pipeline: &Pipeline, console: &mut Console) -> u8 {
    if args.backend == Backend::Kfp {
        return block_on(kfp::apply(args, pipeline, console));
    }
    block_on(async {
        let cluster = match connected(&args.cluster, console).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        apply_on(&cluster, args, pipeline, console).await
    })
}

/// The Workflow of a run, or the message of why kfl-argo cannot emit one (exit code 2).
fn workflow_or_fail(pipeline: &Pipeline, name: &str, namespace: &str, console: &mut Console) -> Result<Json, u8> {
    project::workflow(&pipeline.dag, name, namespace).map_err(|e| {
        let _ = writeln!(console.err, "error: {e}");
        2
    })
}

/// `apply` against a given cluster (tests pass a recorded-response client).
pub async fn apply_on(cluster: &Cluster, args: &ApplyArgs, pipeline: &Pipeline, console: &mut Console<'_>) -> u8 {
    let dag = &pipeline.dag;
    let name = args.name.clone().unwrap_or_else(|| project::run_name(&dag.k8s_name, std::time::SystemTime::now()));
    let workflow = match workflow_or_fail(pipeline, &name, &cluster.namespace, console) {
        Ok(w) => w,
        Err(code) => return code,
    };
    // Every request of the submission (the connection is made by the first) shares one limit: a
    // server that accepts connections and never answers is given up on, with exit status 1.
    let started = tokio::time::Instant::now();
    let limit = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let deadline = started + limit;
    let timed_out = |doing: String| timed_out(cluster, &doing, limit);
    if !args.skip_capacity_check {
        let outcome = match tokio::time::timeout_at(deadline, capacity::check(cluster, dag)).await {
            Ok(outcome) => outcome,
            Err(_) => return fail(console, &timed_out("reading the nodes' capacity".to_string())),
        };
        match outcome {
            capacity::Outcome::Fits => {}
            capacity::Outcome::Unknown(warning) => {
                let _ = writeln!(console.err, "warning: {}", redact::scrub(&warning.to_string()));
            }
            capacity::Outcome::DoesNotFit(problems) => {
                for p in &problems {
                    let _ = writeln!(console.err, "error: {}", redact::scrub(&p.to_string()));
                }
                let _ = writeln!(console.err, "error: no node of the cluster can run {} task(s); nothing was submitted (--skip-capacity-check to submit anyway)", problems.len());
                return 1;
            }
        }
    }
    let submitted =
        tokio::time::timeout_at(deadline, argo::apply(cluster, &workflow, args.dry_run_server, args.force_conflicts));
    let answer = match submitted.await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return fail(console, &locate(e, pipeline, &workflow)),
        Err(_) => {
            let doing = format!(
                "submitting run `{name}`; it may or may not have been created: `kflc runs --pipeline {}` lists them",
                dag.name
            );
            return fail(console, &timed_out(doing));
        }
    };
    if args.dry_run_server {
        let _ = write!(console.out, "{}", kfl_argo::to_yaml(&diff::comparable(&answer)));
        let _ = writeln!(
            console.err,
            "dry run: the server accepted run `{name}` in namespace `{}` (dryRun=All: nothing was persisted)",
            cluster.namespace
        );
        return 0;
    }
    let _ = writeln!(console.out, "{name}");
    let _ = writeln!(
        console.err,
        "submitted run `{name}` of pipeline `{}` to namespace `{}` (follow it: kflc status {name} --wait)",
        dag.name, cluster.namespace
    );
    if args.wait {
        // `--timeout` is for the whole command: the following gets what the submission left.
        let left = args.timeout.map(|t| t.saturating_sub(started.elapsed()));
        return wait_and_report(cluster, &name, left, console).await;
    }
    0
}

/// Fills in the `.kfl` origin of each field the server refused.
pub fn locate(error: ClusterError, pipeline: &Pipeline, workflow: &Json) -> ClusterError {
    match error {
        ClusterError::Invalid { message, mut fields } => {
            for f in &mut fields {
                f.origin = project::origin_of_field(pipeline, workflow, &f.field);
            }
            ClusterError::Invalid { message, fields }
        }
        other => other,
    }
}

async fn wait_and_report(cluster: &Cluster, name: &str, timeout: Option<Duration>, console: &mut Console<'_>) -> u8 {
    match argo::wait(cluster, name, console.out, timeout).await {
        Ok(object) => {
            let phase = argo::phase_of(&object);
            if phase == "Succeeded" {
                0
            } else {
                let failed: Vec<String> = argo::task_nodes(&object)
                    .into_iter()
                    .filter(|(_, (p, _))| p == "Failed" || p == "Error")
                    .map(|(t, (_, m))| if m.is_empty() { t } else { format!("{t} ({m})") })
                    .collect();
                let message = object.pointer("/status/message").and_then(Json::as_str).unwrap_or_default();
                let _ = writeln!(
                    console.err,
                    "error: run `{name}` ended {phase}{}{}",
                    if message.is_empty() { String::new() } else { format!(": {message}") },
                    if failed.is_empty() { String::new() } else { format!("; failed tasks: {}", failed.join(", ")) }
                );
                1
            }
        }
        Err(e) => fail(console, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// plan

/// `plan` on stdout and stderr; `render` writes errors that point into the `.kfl` source.
pub fn plan_command(args: PlanArgs, pipeline: &Pipeline, render: Option<Render>) -> ExitCode {
    with_std_console(render, |c| plan_with(&args, pipeline, c))
}

pub fn plan_with(args: &PlanArgs, pipeline: &Pipeline, console: &mut Console) -> u8 {
    block_on(async {
        let cluster = match connected(&args.cluster, console).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        let limit = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let done = tokio::time::timeout(limit, plan_on(&cluster, args, pipeline, console)).await;
        done.unwrap_or_else(|_| fail(console, &timed_out(&cluster, "planning a run", limit)))
    })
}

/// `plan` against a given cluster.
pub async fn plan_on(cluster: &Cluster, args: &PlanArgs, pipeline: &Pipeline, console: &mut Console<'_>) -> u8 {
    let name =
        args.name.clone().unwrap_or_else(|| project::run_name(&pipeline.dag.k8s_name, std::time::SystemTime::now()));
    let workflow = match workflow_or_fail(pipeline, &name, &cluster.namespace, console) {
        Ok(w) => w,
        Err(code) => return code,
    };
    let _ = write!(
        console.out,
        "# Workflow `{name}` (namespace `{}`)\n---\n{}",
        cluster.namespace,
        kfl_argo::to_yaml(&workflow)
    );
    let live = match argo::get(cluster, &name).await {
        Ok(l) => l,
        Err(e) => return fail(console, &e),
    };
    // The server's own answer (dry run) validates the manifest and gives the object it would store.
    let would = match argo::apply(cluster, &workflow, true, false).await {
        Ok(a) => a,
        Err(e) => return fail(console, &locate(e, pipeline, &workflow)),
    };
    match live {
        None => {
            let _ = writeln!(console.out, "---\n# plan: create run `{name}` (the server accepted it in a dry run)");
        }
        Some(live) => {
            let old = kfl_argo::to_yaml(&diff::comparable(&live));
            let new = kfl_argo::to_yaml(&diff::comparable(&would));
            let d = diff::unified(&old, &new, 3);
            if d.is_empty() {
                let _ = writeln!(console.out, "---\n# plan: run `{name}` exists and an apply changes nothing");
            } else {
                let _ = write!(console.out, "---\n# plan: run `{name}` exists; an apply changes:\n{d}");
            }
        }
    }
    0
}

// ---------------------------------------------------------------------------------------------
// runs, status, delete, logs

pub fn runs_command(args: RunsArgs) -> ExitCode {
    with_std_console(None, |c| runs_with(&args, c))
}

pub fn runs_with(args: &RunsArgs, console: &mut Console) -> u8 {
    block_on(async {
        let cluster = match connected(&args.cluster, console).await {
            Ok(cluster) => cluster,
            Err(code) => return code,
        };
        let limit = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let done = tokio::time::timeout(limit, runs_on(&cluster, args, console)).await;
        done.unwrap_or_else(|_| fail(console, &timed_out(&cluster, "listing runs", limit)))
    })
}

pub async fn runs_on(cluster: &Cluster, args: &RunsArgs, console: &mut Console<'_>) -> u8 {
    let selector = match &args.pipeline {
        Some(p) => {
            let k8s = kfl_model::k8s::k8s_name(p).map(|n| n.as_str().to_string()).unwrap_or_else(|_| p.clone());
            format!("{}={k8s}", project::PIPELINE_LABEL)
        }
        None => "app.kubernetes.io/managed-by=kflc".to_string(),
    };
    let runs = match argo::list(cluster, &selector).await {
        Ok(r) => r,
        Err(e) => return fail(console, &e),
    };
    if runs.is_empty() {
        let _ = writeln!(console.err, "no runs in namespace `{}` match {selector}", cluster.namespace);
        return 0;
    }
    let width = runs.iter().map(|r| argo::name_of(r).len()).max().unwrap_or(4).max(4);
    let _ = writeln!(console.out, "{:width$}  {:9}  {:8}  {:20}  FINISHED", "NAME", "PHASE", "PROGRESS", "STARTED");
    for r in &runs {
        let at = |p: &str| r.pointer(p).and_then(Json::as_str).unwrap_or("-").to_string();
        let _ = writeln!(
            console.out,
            "{:width$}  {:9}  {:8}  {:20}  {}",
            argo::name_of(r),
            argo::phase_of(r),
            argo::progress_of(r),
            at("/status/startedAt"),
            at("/status/finishedAt")
        );
    }
    0
}

pub fn status_command(args: StatusArgs) -> ExitCode {
    with_std_console(None, |c| status_with(&args, c))
}

pub fn status_with(args: &StatusArgs, console: &mut Console) -> u8 {
    block_on(async {
        let cluster = match connected(&args.cluster, console).await {
            Ok(cluster) => cluster,
            Err(code) => return code,
        };
        if args.wait {
            // `--timeout` bounds the following (none by default), in `wait_and_report`.
            return status_on(&cluster, args, console).await;
        }
        let limit = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let done = tokio::time::timeout(limit, status_on(&cluster, args, console)).await;
        done.unwrap_or_else(|_| fail(console, &timed_out(&cluster, &format!("reading run `{}`", args.run), limit)))
    })
}

pub async fn status_on(cluster: &Cluster, args: &StatusArgs, console: &mut Console<'_>) -> u8 {
    if args.wait {
        return wait_and_report(cluster, &args.run, args.timeout, console).await;
    }
    match argo::get(cluster, &args.run).await {
        Ok(Some(object)) => {
            let _ = write!(console.out, "{}", argo::describe(&object));
            0
        }
        Ok(None) => fail(console, &not_found(cluster, &args.run, "get")),
        Err(e) => fail(console, &e),
    }
}

fn not_found(cluster: &Cluster, run: &str, verb: &'static str) -> ClusterError {
    ClusterError::NotFound { op: error::Op::new(verb, argo::RESOURCE, Some(&cluster.namespace), Some(run)) }
}

pub fn delete_command(args: DeleteArgs) -> ExitCode {
    with_std_console(None, |c| delete_with(&args, c))
}

pub fn delete_with(args: &DeleteArgs, console: &mut Console) -> u8 {
    block_on(async {
        let cluster = match connected(&args.cluster, console).await {
            Ok(cluster) => cluster,
            Err(code) => return code,
        };
        let limit = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let done = tokio::time::timeout(limit, delete_on(&cluster, args, console)).await;
        let doing = format!("deleting run `{}`; it may or may not be deleted", args.run);
        done.unwrap_or_else(|_| fail(console, &timed_out(&cluster, &doing, limit)))
    })
}

pub async fn delete_on(cluster: &Cluster, args: &DeleteArgs, console: &mut Console<'_>) -> u8 {
    match argo::delete(cluster, &args.run).await {
        Ok(()) => {
            let _ = writeln!(console.err, "deleted run `{}` in namespace `{}`", args.run, cluster.namespace);
            0
        }
        Err(e) => fail(console, &e),
    }
}

pub fn logs_command(args: LogsArgs) -> ExitCode {
    with_std_console(None, |c| logs_with(&args, c))
}

pub fn logs_with(args: &LogsArgs, console: &mut Console) -> u8 {
    block_on(async {
        let cluster = match connected(&args.cluster, console).await {
            Ok(cluster) => cluster,
            Err(code) => return code,
        };
        let limit = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let done = tokio::time::timeout(limit, logs::logs_on(&cluster, args, console)).await;
        done.unwrap_or_else(|_| {
            fail(console, &timed_out(&cluster, &format!("reading the logs of run `{}`", args.run), limit))
        })
    })
}

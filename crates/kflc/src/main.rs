//! `kflc`: the KFL command line.
//!
//! Invariants:
//! - This is where the world is: files are read and written here, never in the core crates.
//! - Exit codes: 0 when everything is fine (warnings allowed), 1 when the input has errors or
//!   `fmt --check` finds unformatted files or a named file is refused as source (E0126: not a regular
//!   file, over 16 MiB, not UTF-8, unreadable), 2 when the command itself cannot run (bad usage, a
//!   named file that does not exist).
//! - Imports are read only from import roots (see `kfl_project`); `--import-root` adds one.
//! - Files are written atomically (a temporary file renamed over the original); a symbolic link is
//!   written through, so the file it points to is replaced and the link stays.

use kfl_project as load;

/// mimalloc instead of the system allocator: parsing, checking and emitting make millions of small
/// allocations (pest's token queues, the tree, the JSON documents), and glibc's malloc and free were
/// about a seventh of `kflc build`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod images;
mod render;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use kfl_dag::backend::Backend;

#[derive(Parser)]
#[command(
    name = "kflc",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("KFLC_COMMIT"), ")"),
    about = "KFL: typed machine-learning pipelines for Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// A folder imports may also be read from, besides the project root of each named file (the
    /// nearest folder up holding a `.git` or a `kfl.toml`, else the file's own); repeatable.
    #[arg(long, global = true, value_name = "DIR")]
    import_root: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Check .kfl files (and everything they import) and report every problem.
    Check {
        /// Files or folders (searched for .kfl files); the current folder if none.
        paths: Vec<PathBuf>,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Treat warnings as errors for the exit code.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Format .kfl files in the canonical layout, keeping every comment.
    Fmt {
        /// Files or folders; the current folder if none. `-` formats standard input to standard output.
        paths: Vec<PathBuf>,
        /// Write nothing; list the files that are not formatted and exit 1 if there are any.
        #[arg(long)]
        check: bool,
    },
    /// Print the documentation of a diagnostic code, e.g. `kflc explain E0102`.
    Explain {
        /// A code (`E0102`) or its name (`unresolved-name`), or `fields` for the reference of every
        /// setting; leave out to list every code.
        code: Option<String>,
    },
    /// Build a pipeline into a workload: an Argo Workflow or a Kubeflow PipelineSpec (YAML).
    Build {
        /// The `.kfl` file that declares the pipeline.
        file: PathBuf,
        /// Which pipeline, when the file declares several.
        #[arg(long)]
        pipeline: Option<String>,
        /// What to emit.
        #[arg(long, value_enum)]
        target: Option<Target>,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// A pipeline parameter's value, `name=value` (repeatable); it becomes the default.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Print a plan: task count, critical path, peak concurrent CPU, memory and GPUs (to stderr
        /// when a target is emitted too).
        #[arg(long)]
        summary: bool,
        /// The image lock `kflc images build` wrote (default: `kfl.lock` beside FILE, when there is
        /// one): components that install packages run their built image instead of installing them.
        #[arg(long, value_name = "FILE")]
        images: Option<PathBuf>,
    },
    /// Component images: one image per distinct environment (base image and packages) of a file's
    /// python components, tagged by a hash of its content, recorded in `kfl.lock`.
    Images {
        #[command(subcommand)]
        command: ImagesCommand,
    },
    /// Draw a pipeline's DAG: tasks, edges labelled with what flows, boxes for conditions and loops.
    Graph {
        file: PathBuf,
        #[arg(long)]
        pipeline: Option<String>,
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Run a pipeline on this machine: tasks run concurrently, outputs are cached by content.
    Run {
        /// The `.kfl` file that declares the pipeline.
        file: PathBuf,
        /// Which pipeline, when the file declares several.
        #[arg(long)]
        pipeline: Option<String>,
        /// A pipeline parameter's value, `name=value` (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// At most this many tasks at once (default: the --cpus budget, rounded up).
        #[arg(long)]
        parallelism: Option<usize>,
        /// Cores the running tasks may request at once (default: this machine's).
        #[arg(long, value_name = "N")]
        cpus: Option<String>,
        /// Memory the running tasks may request at once, e.g. 8Gi (default: this machine's).
        #[arg(long, value_name = "SIZE")]
        memory: Option<String>,
        /// GPUs the run hands out, each to one task at a time (default: those `nvidia-smi -L` lists).
        #[arg(long, value_name = "N")]
        gpus: Option<String>,
        /// Continue the newest run, or run RUN, that failed or was interrupted: tasks that succeeded
        /// there are kept, the rest run, with the run's parameters.
        #[arg(long, value_name = "RUN", num_args = 0..=1, default_missing_value = "", require_equals = false)]
        resume: Option<String>,
        /// Reuse no earlier outputs: run every task.
        #[arg(long)]
        no_cache: bool,
        /// Check the content hash of every cache entry before reusing it (damaged entries run again).
        #[arg(long)]
        verify_cache: bool,
        /// Run container components' commands on this machine (the same as `--isolation host`).
        #[arg(long)]
        host: bool,
        /// Where runs and the cache are kept.
        #[arg(long, default_value = ".kfl")]
        root: PathBuf,
        /// Run python components that install packages in their images from this lock
        /// (`kflc images build` writes it), with docker or podman, instead of in local virtualenvs.
        #[arg(long, value_name = "FILE")]
        images: Option<PathBuf>,
        /// Where tasks run: `container` (every task in its image, as in a pod), `host` (on this
        /// machine); default: containers where podman or docker answers, else this machine.
        #[arg(long, value_enum)]
        isolation: Option<RunIsolation>,
        /// The container engine: `podman`, `docker`, or the path of one (default: podman, else
        /// docker, whichever answers).
        #[arg(long, value_name = "podman|docker|PATH")]
        engine: Option<String>,
        /// Give containers the engine's default network (otherwise `--network none`).
        #[arg(long)]
        allow_network: bool,
        /// A secret's local value: a folder with one file per key, as a pod sees it (repeatable);
        /// secrets not given are read from `<root>/secrets/NAME/`.
        #[arg(long = "secret", value_name = "NAME=FOLDER")]
        secrets: Vec<String>,
    },
    /// Start the language server on standard input and output (for editors).
    Lsp,
    /// Serve a run viewer in the browser for the runs under `--root` (loopback only by default).
    Ui {
        /// The port to listen on (0: any free port).
        #[arg(long, default_value_t = 8787)]
        port: u16,
        /// Where `kflc run` keeps runs (its `--root`).
        #[arg(long, default_value = ".kfl")]
        root: PathBuf,
        /// Open the viewer in the default browser.
        #[arg(long)]
        open: bool,
        /// The address to listen on. Anything but loopback lets other machines read every run.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
    },
    /// Check, build and submit a pipeline run to Kubernetes (Argo Workflows) or Kubeflow Pipelines.
    #[cfg(feature = "cluster")]
    Apply {
        file: PathBuf,
        #[arg(long)]
        pipeline: Option<String>,
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Re-apply to this run instead of starting a new one.
        #[arg(long)]
        name: Option<String>,
        /// `server`: send it with dryRun=All and print what the server answered; nothing is stored.
        #[arg(long, value_name = "server|none", value_parser = kfl_cluster::parse_dry_run, action = clap::ArgAction::Set, default_value = "none", require_equals = true, num_args = 0..=1, default_missing_value = "server")]
        dry_run: bool,
        /// Follow the run until it ends; exit non-zero if it fails.
        #[arg(long)]
        wait: bool,
        /// Give up after this many seconds in total: on connecting and submitting (default 30), and
        /// with --wait on following the run too (no limit on following by default). A server that
        /// never answers is an error with exit status 1.
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        timeout: Option<u64>,
        /// Take over fields another field manager owns.
        #[arg(long)]
        force_conflicts: bool,
        /// Do not check that some node could fit every task.
        #[arg(long)]
        skip_capacity_check: bool,
        /// Where to run: `argo` (Kubernetes) or `kfp` (a Kubeflow Pipelines API server, see --endpoint).
        #[arg(long, default_value = "argo")]
        backend: kfl_cluster::Backend,
        /// The Kubeflow Pipelines API endpoint (with --backend kfp).
        #[arg(long)]
        endpoint: Option<String>,
        /// The image lock `kflc images build` wrote (default: `kfl.lock` beside FILE, when there is
        /// one): components that install packages run their built image instead of installing them,
        /// with either backend, as `kflc build` emits them.
        #[arg(long, value_name = "FILE")]
        images: Option<PathBuf>,
        #[command(flatten)]
        cluster: ClusterFlags,
    },
    /// Show the manifest `apply` would send and what it would change.
    #[cfg(feature = "cluster")]
    Plan {
        file: PathBuf,
        #[arg(long)]
        pipeline: Option<String>,
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        #[arg(long)]
        name: Option<String>,
        /// Give up on a server that does not answer after this many seconds (default 30).
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        timeout: Option<u64>,
        /// The image lock (default: `kfl.lock` beside FILE, when there is one), as for `apply`.
        #[arg(long, value_name = "FILE")]
        images: Option<PathBuf>,
        #[command(flatten)]
        cluster: ClusterFlags,
    },
    /// List runs (of one pipeline, or all).
    #[cfg(feature = "cluster")]
    Runs {
        #[arg(long)]
        pipeline: Option<String>,
        /// Give up on a server that does not answer after this many seconds (default 30).
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        timeout: Option<u64>,
        #[command(flatten)]
        cluster: ClusterFlags,
    },
    /// Show a run's phase and tasks.
    #[cfg(feature = "cluster")]
    Status {
        run: String,
        #[arg(long)]
        wait: bool,
        /// Without --wait: give up on a server that does not answer after this many seconds
        /// (default 30). With --wait: give up following the run after this many seconds (no limit
        /// by default).
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        timeout: Option<u64>,
        #[command(flatten)]
        cluster: ClusterFlags,
    },
    /// Delete a run.
    #[cfg(feature = "cluster")]
    Delete {
        run: String,
        /// Give up on a server that does not answer after this many seconds (default 30).
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        timeout: Option<u64>,
        #[command(flatten)]
        cluster: ClusterFlags,
    },
    /// Print a run's logs, of every task or one.
    #[cfg(feature = "cluster")]
    Logs {
        run: String,
        #[arg(long)]
        task: Option<String>,
        /// Give up on a server that does not answer after this many seconds (default 30).
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        timeout: Option<u64>,
        #[command(flatten)]
        cluster: ClusterFlags,
    },
    /// Print a shell completion script: `kflc completions bash > /etc/bash_completion.d/kflc`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum ImagesCommand {
    /// Write a Containerfile per environment, build it (buildah, podman or docker), push it, and
    /// record the images in the lock.
    Build {
        /// The `.kfl` file that declares the pipeline.
        file: PathBuf,
        /// Which pipeline, when the file declares several.
        #[arg(long)]
        pipeline: Option<String>,
        /// Write the build contexts (Containerfile, requirements.txt) and build nothing.
        #[arg(long)]
        dockerfile_only: bool,
        /// Where the build contexts are written, one folder per environment.
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
        /// The container engine (default: the first that works of buildah, podman, docker).
        #[arg(long, value_enum)]
        engine: Option<images::Engine>,
        /// Tag the images `REGISTRY/kfl-env:<hash>` and push them there; the lock records the digest.
        #[arg(long, value_name = "REGISTRY")]
        push: Option<String>,
        /// A package without a pinned version is an error, not a warning.
        #[arg(long)]
        require_pins: bool,
        /// pip takes packages from this folder of wheels (mounted during the install only).
        #[arg(long, value_name = "DIR")]
        find_links: Option<PathBuf>,
        /// pip does not ask a package index (the build runs without a network).
        #[arg(long)]
        no_index: bool,
        /// The lock to update (default: `kfl.lock` beside FILE).
        #[arg(long, value_name = "FILE")]
        images: Option<PathBuf>,
        /// Stop an engine command (build, push) that takes longer than this.
        #[arg(long, value_name = "SECONDS", default_value_t = 900)]
        timeout: u64,
        /// Push over plain HTTP / without verifying TLS (automatic for a registry on localhost).
        #[arg(long)]
        insecure: bool,
        /// Leave the kfp runtime out of the images (the KFP target then installs it when a pod starts).
        #[arg(long)]
        no_kfp: bool,
    },
    /// Show the environments of a file: hash, image, whether built and pushed, components.
    List {
        file: PathBuf,
        #[arg(long)]
        pipeline: Option<String>,
        /// The lock to read (default: `kfl.lock` beside FILE).
        #[arg(long, value_name = "FILE")]
        images: Option<PathBuf>,
        #[arg(long, value_enum)]
        engine: Option<images::Engine>,
    },
}

/// Which cluster, chosen like kubectl does.
#[cfg(feature = "cluster")]
#[derive(clap::Args)]
struct ClusterFlags {
    /// The kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current one).
    #[arg(long)]
    context: Option<String>,
    /// The namespace (default: the context's, then `default`).
    #[arg(long, short = 'n')]
    namespace: Option<String>,
}

#[cfg(feature = "cluster")]
impl From<ClusterFlags> for kfl_cluster::ClusterArgs {
    fn from(f: ClusterFlags) -> Self {
        kfl_cluster::ClusterArgs { kubeconfig: f.kubeconfig, context: f.context, namespace: f.namespace }
    }
}

/// The `--target` values: each names a [`Backend`] of `build`'s list.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Target {
    /// An Argo Workflows `Workflow` (argoproj.io/v1alpha1).
    Argo,
    /// A Kubeflow Pipelines PipelineSpec (schemaVersion 2.1.0) and its Kubernetes PlatformSpec.
    Kfp,
}

/// The targets `build` can write, with the options they are built with.
#[derive(Default)]
struct Backends {
    argo: kfl_argo::ArgoBackend,
    kfp: kfl_kfp::KfpBackend,
}

impl Backends {
    fn list(&self) -> [&dyn Backend; 2] {
        [&self.argo, &self.kfp]
    }
}

impl Target {
    /// The name on the command line, which is the backend's [`Backend::name`].
    fn name(self) -> &'static str {
        match self {
            Target::Argo => "argo",
            Target::Kfp => "kfp",
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum RunIsolation {
    Container,
    Host,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    /// Rendered for people, with source excerpts (colour on a terminal).
    Human,
    /// One JSON array of diagnostics.
    Json,
    /// GitHub Actions workflow commands (`::error file=…::…`), which show as annotations on a pull request.
    Github,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

fn main() -> ExitCode {
    // mimalloc asks for 2 MiB transparent huge pages; on a busy machine the kernel compacts
    // memory to find each one, and a 15 ms `kflc check` took 40 ms and more, almost all of it in
    // the kernel. A short-lived process gains nothing from huge pages: opt out before the work.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let cli = Cli::parse();
    // Set once, before any file is read; every command that loads a project reads it.
    let _ = IMPORT_ROOTS.set(cli.import_root.clone());
    match cli.command {
        Command::Check { paths, format, deny_warnings } => check(paths, format, deny_warnings),
        Command::Fmt { paths, check } => fmt(paths, check),
        Command::Explain { code } => explain(code),
        Command::Build { file, pipeline, target, output, params, summary, images } => {
            build(&file, pipeline.as_deref(), target, output.as_deref(), &params, summary, images.as_deref())
        }
        Command::Images { command } => match command {
            ImagesCommand::Build {
                file,
                pipeline,
                dockerfile_only,
                output,
                engine,
                push,
                require_pins,
                find_links,
                no_index,
                images,
                timeout,
                insecure,
                no_kfp,
            } => images::build(images::BuildArgs {
                file,
                pipeline,
                dockerfile_only,
                output,
                engine,
                push,
                require_pins,
                find_links,
                no_index,
                images,
                timeout,
                insecure,
                no_kfp,
            }),
            ImagesCommand::List { file, pipeline, images, engine } => {
                images::list(&file, pipeline.as_deref(), images.as_deref(), engine)
            }
        },
        Command::Graph { file, pipeline, format } => graph(&file, pipeline.as_deref(), format),
        Command::Run {
            file,
            pipeline,
            params,
            parallelism,
            cpus,
            memory,
            gpus,
            resume,
            no_cache,
            verify_cache,
            host,
            root,
            images,
            isolation,
            engine,
            allow_network,
            secrets,
        } => {
            // A pipeline that does not check cannot start: exit code 2, as for any other refusal.
            let (db, program, mut dag) = match checked_for(&file, pipeline.as_deref(), "run") {
                Ok(checked) => checked,
                Err(_) => return ExitCode::from(2),
            };
            let mut in_image = std::collections::BTreeSet::new();
            // In containers, as on the cluster: the lock beside the file (or --images) gives the
            // images of the components that install packages.
            if images.is_some() || isolation == Some(RunIsolation::Container) {
                let before: Vec<(String, bool)> =
                    dag.components.iter().map(|c| (c.name.clone(), !c.packages.is_empty())).collect();
                if let Err(code) = with_locked_images(&db, &program, &mut dag, &file, images.as_deref(), "run") {
                    return code;
                }
                for ((name, had_packages), component) in before.into_iter().zip(&dag.components) {
                    if had_packages && component.packages.is_empty() {
                        in_image.insert(name);
                    }
                }
            }
            // `kfl_run` sets the values itself; refused here first, they are printed with their code.
            let mut given = dag.clone();
            if let Err(code) = apply_params(&mut given, &params) {
                return code;
            }
            // A resumed run takes the values its run had: kfl_run checks them.
            if resume.is_none() {
                if let Err(code) = require_values(&given, "run") {
                    return code;
                }
            }
            let mut args = kfl_run::RunArgs::new(file);
            args.pipeline = pipeline;
            args.params = params;
            args.parallelism = parallelism;
            args.no_cache = no_cache;
            args.verify_cache = verify_cache;
            args.host = host;
            args.root = root;
            args.in_image = in_image;
            args.isolation = match isolation {
                None => kfl_run::Isolation::Auto,
                Some(RunIsolation::Container) => kfl_run::Isolation::Container,
                Some(RunIsolation::Host) => kfl_run::Isolation::Host,
            };
            match engine.as_deref() {
                None => {}
                Some("podman") => args.engine = Some(kfl_run::engine::EngineKind::Podman),
                Some("docker") => args.engine = Some(kfl_run::engine::EngineKind::Docker),
                Some(path) if path.contains('/') => args.engine_program = Some(PathBuf::from(path)),
                Some(other) => {
                    eprintln!("error: --engine takes podman, docker or the path of an engine, not `{other}`");
                    return ExitCode::from(2);
                }
            }
            args.allow_network = allow_network;
            args.secrets = secrets;
            args.cpus = cpus;
            args.memory = memory;
            args.gpus = gpus;
            args.resume = resume.map(|run| Some(run).filter(|r| !r.is_empty()));
            kfl_run::run_command(args, dag)
        }
        Command::Ui { port, root, open, host } => {
            if !host.is_loopback() {
                eprintln!(
                    "warning: listening on {host}, not loopback: anyone who can reach this machine can read every run, log and artifact under {}",
                    root.display()
                );
            }
            if !root.join("runs").is_dir() {
                eprintln!("note: {} has no runs yet; they appear as `kflc run` makes them", root.display());
            }
            let options = kfl_ui::UiOptions { root, host, port };
            let result = kfl_ui::serve(&options, |address| {
                let url = format!("http://{address}/");
                println!("kflc ui: serving {url} (Ctrl-C to stop)");
                if open && std::process::Command::new("xdg-open").arg(&url).spawn().is_err() {
                    eprintln!("note: could not open a browser; open {url}");
                }
            });
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Lsp => match kfl_lsp::run_stdio() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: the language server stopped: {e}");
                ExitCode::from(2)
            }
        },
        #[cfg(feature = "cluster")]
        Command::Apply {
            file,
            pipeline,
            params,
            name,
            dry_run,
            wait,
            timeout,
            force_conflicts,
            skip_capacity_check,
            backend,
            endpoint,
            images,
            cluster,
        } => {
            // Checked and rendered as `kflc check` does, and the `--param` values set (a refused one is
            // printed with its code), before anything connects to a cluster: kfl_cluster gets the
            // lowered pipeline, and where its parts come from for errors the server points at.
            let (db, submitted) = match for_cluster(&file, pipeline.as_deref(), &params, images.as_deref(), "submitted")
            {
                Ok(ready) => ready,
                Err(code) => return code,
            };
            let render = |e: &kfl_cluster::ClusterError| render::cluster_error(&db, e, colour_on_stderr());
            let args = kfl_cluster::ApplyArgs {
                name,
                dry_run_server: dry_run,
                wait,
                timeout: timeout.map(std::time::Duration::from_secs),
                force_conflicts,
                skip_capacity_check,
                backend,
                endpoint,
                cluster: cluster.into(),
            };
            kfl_cluster::apply_command(args, &submitted, Some(&render))
        }
        #[cfg(feature = "cluster")]
        Command::Plan { file, pipeline, params, name, timeout, images, cluster } => {
            let (db, planned) = match for_cluster(&file, pipeline.as_deref(), &params, images.as_deref(), "planned") {
                Ok(ready) => ready,
                Err(code) => return code,
            };
            let render = |e: &kfl_cluster::ClusterError| render::cluster_error(&db, e, colour_on_stderr());
            let timeout = timeout.map(std::time::Duration::from_secs);
            let args = kfl_cluster::PlanArgs { name, timeout, cluster: cluster.into() };
            kfl_cluster::plan_command(args, &planned, Some(&render))
        }
        #[cfg(feature = "cluster")]
        Command::Runs { pipeline, timeout, cluster } => kfl_cluster::runs_command(kfl_cluster::RunsArgs {
            pipeline,
            timeout: timeout.map(std::time::Duration::from_secs),
            cluster: cluster.into(),
        }),
        #[cfg(feature = "cluster")]
        Command::Status { run, wait, timeout, cluster } => kfl_cluster::status_command(kfl_cluster::StatusArgs {
            run,
            wait,
            timeout: timeout.map(std::time::Duration::from_secs),
            cluster: cluster.into(),
        }),
        #[cfg(feature = "cluster")]
        Command::Delete { run, timeout, cluster } => kfl_cluster::delete_command(kfl_cluster::DeleteArgs {
            run,
            timeout: timeout.map(std::time::Duration::from_secs),
            cluster: cluster.into(),
        }),
        #[cfg(feature = "cluster")]
        Command::Logs { run, task, timeout, cluster } => kfl_cluster::logs_command(kfl_cluster::LogsArgs {
            run,
            task,
            timeout: timeout.map(std::time::Duration::from_secs),
            cluster: cluster.into(),
        }),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "kflc", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
    }
}

/// The `--import-root` folders.
static IMPORT_ROOTS: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();

fn import_roots() -> &'static [PathBuf] {
    IMPORT_ROOTS.get().map(Vec::as_slice).unwrap_or_default()
}

/// Prints the files named on the command line that were refused (E0126), as the short form of a
/// diagnostic: they have no text to show an excerpt of.
fn print_refused(refused: &[(String, kfl_check::Refusal)]) {
    for (_, refusal) in refused {
        eprintln!("error[{}]: {}", refusal.code, refusal.message);
        eprintln!("  help: name a readable, regular `.kfl` file of UTF-8 text, at most 16 MiB");
    }
}

fn check(paths: Vec<PathBuf>, format: Format, deny_warnings: bool) -> ExitCode {
    let load::Loaded { db, files, refused } = match load::load_project(&paths, import_roots()) {
        Ok(loaded) => loaded,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    print_refused(&refused);
    let mut all = Vec::new();
    for file in &files {
        for diagnostic in kfl_check::check_file(&db, *file).iter() {
            all.push((*file, diagnostic.clone()));
        }
    }
    let errors = all.iter().filter(|(_, d)| d.is_error()).count() + refused.len();
    let warnings = all.len() + refused.len() - errors;
    match format {
        Format::Json => println!("{}", render::json(&db, &all)),
        Format::Github => print!("{}", render::github(&db, &all)),
        Format::Sarif => println!("{}", render::sarif(&db, &all)),
        Format::Human => {
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut stderr = std::io::stderr().lock();
            // One renderer for the whole run: each file's line index is built once, however many
            // diagnostics it has.
            let renderer = render::Renderer::new(&db, colour);
            for (file, diagnostic) in &all {
                let _ = write!(stderr, "{}", renderer.human(*file, diagnostic));
            }
            let _ = writeln!(
                stderr,
                "checked {} file{}: {errors} error{}, {warnings} warning{}",
                files.len() + refused.len(),
                if files.len() + refused.len() == 1 { "" } else { "s" },
                if errors == 1 { "" } else { "s" },
                if warnings == 1 { "" } else { "s" },
            );
        }
    }
    if errors > 0 || (deny_warnings && warnings > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn fmt(paths: Vec<PathBuf>, check_only: bool) -> ExitCode {
    if paths.len() == 1 && paths[0].as_os_str() == "-" {
        let mut text = String::new();
        if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
            eprintln!("error: cannot read standard input: {e}");
            return ExitCode::from(2);
        }
        return match kfl_fmt::format(&text) {
            Ok(formatted) => {
                print!("{formatted}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                let mut db = kfl_check::Database::default();
                let file = db.set_file("<stdin>", text);
                for d in &error.errors {
                    eprint!("{}", render::human(&db, file, d, std::io::stderr().is_terminal()));
                }
                ExitCode::from(1)
            }
        };
    }
    let files = match load::collect_kfl_files(&paths) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    let mut unformatted = 0;
    for path in &files {
        let text = match load::read_source(path) {
            Ok(t) => t,
            Err(load::Unreadable::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("error: cannot read {}: {e}", load::shown(path));
                failed = true;
                continue;
            }
            Err(unreadable) => {
                print_refused(&[(load::shown(path), unreadable.refusal(path))]);
                failed = true;
                continue;
            }
        };
        match kfl_fmt::format(&text) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                unformatted += 1;
                if check_only {
                    println!("{} is not formatted", path.display());
                } else if let Err(e) = load::write_atomically(path, &formatted) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    failed = true;
                }
            }
            Err(error) => {
                let mut db = kfl_check::Database::default();
                let file = db.set_file(&path.to_string_lossy(), text);
                for d in &error.errors {
                    eprint!("{}", render::human(&db, file, d, std::io::stderr().is_terminal()));
                }
                eprintln!("error: {} has syntax errors and was not formatted", path.display());
                failed = true;
            }
        }
    }
    if check_only {
        eprintln!(
            "{} file{} checked, {unformatted} not formatted",
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        );
    } else {
        eprintln!("{} file{} checked, {unformatted} reformatted", files.len(), if files.len() == 1 { "" } else { "s" });
    }
    if failed || (check_only && unformatted > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Loads a file and lowers one of its pipelines; on errors, prints them (as `kflc check` does) and
/// returns the exit code. `action` ends the message: "nothing was built", "nothing was submitted".
fn lowered(file: &std::path::Path, pipeline: Option<&str>) -> Result<kfl_dag::Dag, ExitCode> {
    lowered_for(file, pipeline, "built")
}

fn lowered_for(file: &std::path::Path, pipeline: Option<&str>, action: &str) -> Result<kfl_dag::Dag, ExitCode> {
    checked_for(file, pipeline, action).map(|(_, _, dag)| dag)
}

fn colour_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// What `apply` and `plan` hand to the cluster client: the pipeline lowered, its `--param` values
/// set, and the origins of its tasks and components; with the database whose texts render them.
#[cfg(feature = "cluster")]
fn for_cluster(
    file: &std::path::Path,
    pipeline: Option<&str>,
    params: &[String],
    images: Option<&std::path::Path>,
    action: &str,
) -> Result<(kfl_check::Database, kfl_cluster::Pipeline), ExitCode> {
    let Prepared { db, program, dag, backends } = prepared(file, pipeline, images, params, action)?;
    require_values(&dag, action)?;
    let given = params.iter().filter_map(|p| Some(p.split_once('=')?.0.to_string())).collect();
    let origins = kfl_cluster::Origins::of(&program);
    Ok((db, kfl_cluster::Pipeline { dag, given, origins, kfp: backends.kfp.options }))
}

/// What `build`, `apply` and `plan` emit from: the checked program, its pipeline lowered with the
/// images of the lock set and the `--param` values applied, and the backends with the options that
/// follow from the lock (the components whose image has the kfp runtime install nothing at start).
// Without the cluster commands, only `build` reads it, and not the database or the program.
#[cfg_attr(not(feature = "cluster"), allow(dead_code))]
struct Prepared {
    db: kfl_check::Database,
    program: kfl_model::item::Program,
    dag: kfl_dag::Dag,
    backends: Backends,
}

/// Checks and lowers (errors printed as `kflc check` prints them), sets the lock's images
/// ([`with_locked_images`]) and the `--param` values. `action` ends a refusal: "nothing was built".
fn prepared(
    file: &std::path::Path,
    pipeline: Option<&str>,
    images: Option<&std::path::Path>,
    params: &[String],
    action: &str,
) -> Result<Prepared, ExitCode> {
    let (db, program, mut dag) = checked_for(file, pipeline, action)?;
    let kfp_in_image = with_locked_images(&db, &program, &mut dag, file, images, action)?;
    apply_params(&mut dag, params)?;
    let mut backends = Backends::default();
    backends.kfp.options.kfp_in_image = kfp_in_image;
    Ok(Prepared { db, program, dag, backends })
}

/// Loads a file, checks it and lowers one of its pipelines: the database (its texts render
/// diagnostics), the checked program (with the origin of everything in it) and the DAG. On errors,
/// prints them as `kflc check` does and returns the exit code.
fn checked_for(
    file: &std::path::Path,
    pipeline: Option<&str>,
    action: &str,
) -> Result<(kfl_check::Database, kfl_model::item::Program, kfl_dag::Dag), ExitCode> {
    let load::Loaded { db, refused, .. } = match load::load_project(&[file.to_path_buf()], import_roots()) {
        Ok(loaded) => loaded,
        Err(message) => {
            eprintln!("error: {message}");
            return Err(ExitCode::from(2));
        }
    };
    if !refused.is_empty() {
        print_refused(&refused);
        eprintln!("error: {} cannot be read; nothing was {action}", load::shown(file));
        return Err(ExitCode::from(1));
    }
    let key = file.to_string_lossy();
    let Some(source) = db.file(key.strip_prefix("./").unwrap_or(&key)) else {
        eprintln!("error: cannot read {}", file.display());
        return Err(ExitCode::from(2));
    };
    let lowered = kfl_check::model::program(&db, source, pipeline)
        .and_then(|program| kfl_dag::lower(&program).map(|dag| (program, dag)));
    match lowered {
        Ok((program, dag)) => Ok((db, program, dag)),
        Err(kfl_dag::LowerError::HasErrors(errors)) => {
            let colour = colour_on_stderr();
            for (path, diagnostic) in &errors {
                if let Some(f) = db.file(path) {
                    eprint!("{}", render::human(&db, f, diagnostic, colour));
                }
            }
            eprintln!("error: {} has {} error(s); nothing was {action}", file.display(), errors.len());
            Err(ExitCode::from(1))
        }
        Err(other) => {
            eprintln!("error: {other}");
            Err(ExitCode::from(2))
        }
    }
}

/// Sets the `--param` values on the lowered pipeline. A refused value is printed as the short form of
/// a diagnostic, with its code when it has one (`error[E0219]: …` and the help), and gives exit status
/// 2, as every refused command line does.
fn apply_params(dag: &mut kfl_dag::Dag, params: &[String]) -> Result<(), ExitCode> {
    let Err(e) = kfl_dag::params::apply_params(dag, params) else { return Ok(()) };
    print_param_error(&e);
    Err(ExitCode::from(2))
}

fn print_param_error(e: &kfl_dag::params::ParamError) {
    match e.code() {
        Some(code) => eprintln!("error[{code}]: {e}"),
        None => eprintln!("error: {e}"),
    }
    if let Some(help) = e.help() {
        eprintln!("  help: {help}");
    }
}

/// Refuses a pipeline whose parameters are not all given a value (a default or `--param`), before
/// anything runs or connects: every such parameter is printed with E0220 and the `--param` to add,
/// and the exit status is 2, as for every refused command line. `action` ends the last line.
fn require_values(dag: &kfl_dag::Dag, action: &str) -> Result<(), ExitCode> {
    let missing = kfl_dag::params::missing_values(dag);
    if missing.is_empty() {
        return Ok(());
    }
    for e in &missing {
        print_param_error(e);
    }
    eprintln!("error: {} parameter(s) of pipeline `{}` have no value; nothing was {action}", missing.len(), dag.name);
    Err(ExitCode::from(2))
}

/// `kflc build --target argo` with parameters left without a value: the Workflow is written (a
/// WorkflowTemplate or `argo submit -p` may fill them in), and W0014 says for each what it needs.
fn warn_open_parameters(dag: &kfl_dag::Dag) {
    for e in kfl_dag::params::missing_values(dag) {
        let kfl_dag::params::ParamError::Missing { name, declared } = &e else { continue };
        let to_add = kfl_dag::params::param_to_add(name, declared);
        eprintln!(
            "warning[{}]: the Workflow's parameter `{}` has no value: Argo refuses it as it is",
            kfl_diagnostics::Code::OpenWorkflowParameter,
            kfl_diagnostics::escape_control(name)
        );
        eprintln!("  help: submit it with `argo submit -p {to_add}`, or build it with `--param {to_add}`");
    }
}

fn emit(output: Option<&std::path::Path>, text: &str) -> ExitCode {
    match output {
        Some(path) => match load::write_derived(path, text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                ExitCode::from(2)
            }
        },
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
    }
}

fn build(
    file: &std::path::Path,
    pipeline: Option<&str>,
    target: Option<Target>,
    output: Option<&std::path::Path>,
    params: &[String],
    summary: bool,
    images: Option<&std::path::Path>,
) -> ExitCode {
    if target.is_none() && !summary {
        eprintln!("error: say what to build: `--target argo`, `--target kfp`, or `--summary` for a plan");
        return ExitCode::from(2);
    }
    let Prepared { db, program, dag, backends } = match prepared(file, pipeline, images, params, "built") {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    // The process ends after the build: what it made is left to the operating system, which takes
    // it back at once, rather than freed piece by piece (1.3 M instructions for 1,000 tasks).
    let _left = std::mem::ManuallyDrop::new((db, program));
    let dag = std::mem::ManuallyDrop::new(dag);
    let text = match target {
        None => None,
        Some(target) => {
            let Some(backend) = kfl_dag::backend::find(&backends.list(), target.name()) else {
                eprintln!("error: no backend is named `{}`", target.name());
                return ExitCode::from(2);
            };
            match backend.emit(&dag) {
                Ok(document) => {
                    if target == Target::Argo {
                        warn_open_parameters(&dag);
                    }
                    for setting in kfl_dag::backend::not_applicable_in(backend, &dag) {
                        eprintln!("note: {setting}");
                    }
                    Some(document.text)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    };
    if summary {
        let plan = kfl_dag::analysis::render_summary(&kfl_dag::analysis::summarize(&dag), &dag);
        if text.is_some() {
            eprint!("{plan}");
        } else {
            print!("{plan}");
        }
    }
    match text {
        Some(text) => emit(output, &text),
        None => ExitCode::SUCCESS,
    }
}

/// Sets the images of the lock (`--images FILE`, else `kfl.lock` beside the file when there is one)
/// on the lowered pipeline. An unreadable lock (E0602) or a component with no image, or a stale one,
/// in it (E0601) is printed and refuses the command with exit status 2: never a silent fallback to
/// installing packages when the pod starts. The names of the components whose image has the kfp
/// runtime, which the KFP target then does not install either. `action` ends a refusal.
fn with_locked_images(
    db: &kfl_check::Database,
    program: &kfl_model::item::Program,
    dag: &mut kfl_dag::Dag,
    file: &std::path::Path,
    images: Option<&std::path::Path>,
    action: &str,
) -> Result<std::collections::BTreeSet<String>, ExitCode> {
    let path = images::lock_path(file, images);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if images.is_none() && e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => {
            eprintln!("error[E0602]: the image lock {} cannot be read: {e}", path.display());
            eprintln!("  help: build the images with `kflc images build {}`, which writes it", file.display());
            return Err(ExitCode::from(2));
        }
    };
    let lock = match kfl_images::Lock::parse(&text) {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("error[E0602]: the image lock {} cannot be read: {e}", path.display());
            eprintln!(
                "  help: build the images again with `kflc images build {}`, which writes a fresh lock",
                file.display()
            );
            return Err(ExitCode::from(2));
        }
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match kfl_images::resolve(program, &lock, &name, images::kfp_runtime().as_deref()) {
        Ok(found) => {
            kfl_images::apply_to_dag(dag, &found);
            Ok(kfl_images::kfp_in_image(dag, &found))
        }
        Err(errors) => {
            let colour = colour_on_stderr();
            for (path, diagnostic) in &errors {
                // The short form first, as every refused command line prints it, then the excerpt.
                eprintln!("error[{}]: {}", diagnostic.code.info().id, diagnostic.message);
                if let Some(f) = db.file(path) {
                    eprint!("{}", render::human(db, f, diagnostic, colour));
                }
            }
            eprintln!(
                "error: {} component(s) have no current image in {}; nothing was {action}",
                errors.len(),
                path.display()
            );
            Err(ExitCode::from(2))
        }
    }
}

fn graph(file: &std::path::Path, pipeline: Option<&str>, format: GraphFormat) -> ExitCode {
    let dag = match lowered(file, pipeline) {
        Ok(dag) => dag,
        Err(code) => return code,
    };
    let text = match format {
        GraphFormat::Mermaid => kfl_dag::render::mermaid(&dag),
        GraphFormat::Dot => kfl_dag::render::dot(&dag),
    };
    emit(None, &text)
}

fn explain(code: Option<String>) -> ExitCode {
    let Some(code) = code else {
        for info in kfl_diagnostics::codes::ALL {
            println!("{}  {:<8} {:<28} {}", info.id, info.severity.as_str(), info.name, info.summary);
        }
        return ExitCode::SUCCESS;
    };
    if code == "fields" {
        print!("{}", kfl_model::fields::reference_table());
        return ExitCode::SUCCESS;
    }
    match kfl_diagnostics::Code::lookup(&code) {
        Some(code) => {
            let info = code.info();
            println!("{}", info.doc.trim_end());
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("error: there is no diagnostic code `{code}`; `kflc explain` lists them all");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_names_one_backend_by_its_command_line_value() {
        let backends = Backends::default();
        for target in Target::value_variants() {
            let value = target.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(value.as_deref(), Some(target.name()));
            let found = kfl_dag::backend::find(&backends.list(), target.name()).map(|b| b.name());
            assert_eq!(found, Some(target.name()));
        }
        assert_eq!(Target::value_variants().len(), backends.list().len(), "a backend without a `--target` value");
    }
}

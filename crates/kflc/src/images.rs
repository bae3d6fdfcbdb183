//! `kflc images build` and `kflc images list`: the world around `kfl-images` — the build contexts on
//! disk, the container engine (buildah, podman or docker) run as a child process with a time limit,
//! the registry push, and the lock file, written atomically once every image is built.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use kfl_images::{Environment, Lock, Locked, PipSource, Provenance};

use crate::load;

/// The codes of the engine's and the registry's failures (`kflc explain CODE`).
const ENGINE_UNAVAILABLE: kfl_diagnostics::Code = kfl_diagnostics::Code::ContainerEngineUnavailable;
const BUILD_FAILED: kfl_diagnostics::Code = kfl_diagnostics::Code::ImageBuildFailed;
const PUSH_FAILED: kfl_diagnostics::Code = kfl_diagnostics::Code::ImagePushFailed;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum, Debug)]
pub enum Engine {
    Buildah,
    Podman,
    Docker,
}

impl Engine {
    fn program(self) -> &'static str {
        match self {
            Engine::Buildah => "buildah",
            Engine::Podman => "podman",
            Engine::Docker => "docker",
        }
    }

    /// Whether the engine can build here: installed, and for docker a daemon that answers.
    fn works(self) -> bool {
        let probe: &[&str] = if self == Engine::Docker { &["info"] } else { &["--version"] };
        Command::new(self.program())
            .args(probe)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

pub struct BuildArgs {
    pub file: PathBuf,
    pub pipeline: Option<String>,
    pub dockerfile_only: bool,
    pub output: Option<PathBuf>,
    pub engine: Option<Engine>,
    pub push: Option<String>,
    pub require_pins: bool,
    pub find_links: Option<PathBuf>,
    pub no_index: bool,
    pub images: Option<PathBuf>,
    pub timeout: u64,
    pub insecure: bool,
    pub no_kfp: bool,
}

/// The kfp runtime the KFP target installs when a pod starts: environment images carry it.
pub fn kfp_runtime() -> Option<String> {
    kfl_kfp::KfpOptions::default().kfp_runtime
}

/// `kfl.lock` beside the pipeline's file, unless `--images` names another.
pub fn lock_path(file: &Path, images: Option<&Path>) -> PathBuf {
    match images {
        Some(path) => path.to_path_buf(),
        None => file.parent().unwrap_or(Path::new("")).join("kfl.lock"),
    }
}

/// What went wrong running an engine.
enum RunError {
    Spawn(std::io::Error),
    Timeout(Duration),
    Failed(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Spawn(e) => write!(f, "it could not be started: {e}"),
            RunError::Timeout(limit) => write!(f, "it did not finish within {} s and was stopped", limit.as_secs()),
            RunError::Failed(stderr) => {
                let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                write!(f, "it failed:\n    {}", tail.join("\n    "))
            }
        }
    }
}

/// Runs a command with a time limit; standard output on success.
fn run(command: &mut Command, limit: Duration) -> Result<String, RunError> {
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(RunError::Spawn)?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_string(&mut text);
        }
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_string(&mut text);
        }
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::Timeout(limit));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(RunError::Spawn(e)),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if status.success() {
        Ok(stdout)
    } else {
        Err(RunError::Failed(if stderr.trim().is_empty() { stdout } else { stderr }))
    }
}

/// Writes a file only when its content differs, so an unchanged rebuild touches nothing.
fn write_if_changed(path: &Path, text: &str) -> std::io::Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(false);
    }
    load::write_atomically(path, text)?;
    Ok(true)
}

/// Copies the regular files of the wheel folder into the build context's `wheels/`, leaving files
/// that are already the same, and removing files the folder no longer has.
fn sync_wheels(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    let mut names = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let target = to.join(entry.file_name());
        names.insert(entry.file_name());
        let bytes = std::fs::read(entry.path())?;
        if std::fs::read(&target).is_ok_and(|old| old == bytes) {
            continue;
        }
        std::fs::write(&target, bytes)?;
    }
    for entry in std::fs::read_dir(to)? {
        let entry = entry?;
        if !names.contains(&entry.file_name()) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

fn is_loopback(registry: &str) -> bool {
    let host = registry.split('/').next().unwrap_or_default();
    let host =
        host.rsplit_once(':').map_or(host, |(h, port)| if port.chars().all(|c| c.is_ascii_digit()) { h } else { host });
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// The engine's id of a local image, without `sha256:`; `None` when there is no such image.
fn image_id(engine: Engine, tag: &str, limit: Duration) -> Option<String> {
    let mut command = Command::new(engine.program());
    match engine {
        Engine::Buildah => command.args(["inspect", "--type", "image", "--format", "{{.FromImageID}}", tag]),
        Engine::Podman | Engine::Docker => command.args(["image", "inspect", "--format", "{{.Id}}", tag]),
    };
    let id = run(&mut command, limit).ok()?;
    let id = id.trim().trim_start_matches("sha256:").to_string();
    (!id.is_empty()).then_some(id)
}

/// Builds one environment's image from its context folder. buildah and podman build with
/// `--timestamp 0` (the image's creation time and every file's time set to 1970), so that, with
/// the Containerfile's pip writing no `.pyc`, two builds of one environment give the same image id.
/// docker is given no such option (its `SOURCE_DATE_EPOCH` needs BuildKit, untested here).
fn build_image(engine: Engine, context: &Path, tag: &str, offline: bool, limit: Duration) -> Result<(), RunError> {
    let mut command = Command::new(engine.program());
    match engine {
        Engine::Buildah => command.args(["bud", "--layers", "--timestamp", "0"]),
        Engine::Podman => command.args(["build", "--layers", "--timestamp", "0"]),
        Engine::Docker => command.arg("build"),
    };
    if offline {
        command.args(["--network", "none"]);
    }
    command.arg("-f").arg(context.join("Containerfile")).args(["-t", tag]).arg(context);
    run(&mut command, limit).map(|_| ())
}

/// Pushes a tag; the manifest digest the registry now serves it by (`sha256:…`).
fn push_image(engine: Engine, tag: &str, insecure: bool, scratch: &Path, limit: Duration) -> Result<String, RunError> {
    if engine == Engine::Docker {
        run(Command::new("docker").args(["push", tag]), limit)?;
        let digests = run(
            Command::new("docker").args(["image", "inspect", "--format", "{{join .RepoDigests \"\\n\"}}", tag]),
            limit,
        )?;
        let repository = tag.rsplit_once(':').map_or(tag, |(r, _)| r);
        return digests
            .lines()
            .find_map(|line| line.strip_prefix(repository).and_then(|d| d.strip_prefix('@')))
            .map(str::to_string)
            .ok_or_else(|| RunError::Failed(format!("docker reports no digest of {tag} after the push")));
    }
    let digest_file = scratch.join(format!(".kfl-digest-{}", std::process::id()));
    let _ = std::fs::remove_file(&digest_file);
    let mut command = Command::new(engine.program());
    command.arg("push").arg("--digestfile").arg(&digest_file);
    if insecure {
        command.arg("--tls-verify=false");
    }
    command.arg(tag);
    let pushed = run(&mut command, limit);
    let digest = std::fs::read_to_string(&digest_file).unwrap_or_default();
    let _ = std::fs::remove_file(&digest_file);
    pushed?;
    let digest = digest.trim().to_string();
    if digest.starts_with("sha256:") {
        Ok(digest)
    } else {
        Err(RunError::Failed(format!("{} wrote no digest for {tag}", engine.program())))
    }
}

/// The commands that build the contexts, as shell lines a user can paste: the folder is quoted
/// when it holds anything but plain characters (the tag is made of hex digits and the registry).
fn how_to_build(contexts: &[(PathBuf, String)]) -> String {
    let quote = |text: &str| {
        if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@".contains(c)) {
            text.to_string()
        } else {
            format!("'{}'", text.replace('\'', "'\\''"))
        }
    };
    contexts
        .iter()
        .map(|(dir, tag)| {
            format!(
                "    buildah bud --layers --timestamp 0 -t {} {}",
                quote(tag),
                quote(&kfl_diagnostics::escape_control(&dir.to_string_lossy()))
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The environments of the pipeline, with the program's diagnostics printed when it does not check.
/// The environments of one pipeline, or, without `--pipeline`, of every pipeline of the file.
fn environments_of(file: &Path, pipeline: Option<&str>, kfp: Option<&str>) -> Result<Vec<Environment>, ExitCode> {
    let names = match pipeline {
        Some(name) => vec![Some(name.to_string())],
        None => pipelines_of(file).map_or_else(|| vec![None], |names| names.into_iter().map(Some).collect()),
    };
    let mut merged: Option<kfl_model::item::Program> = None;
    for name in &names {
        let (_, program, _) = crate::checked_for(file, name.as_deref(), "built")?;
        match &mut merged {
            None => merged = Some(program),
            Some(all) => all.components.extend(program.components),
        }
    }
    Ok(merged.map(|program| kfl_images::environments(&program, kfp)).unwrap_or_default())
}

/// The names of the file's pipelines when it declares several; `None` otherwise (one, none, or
/// errors, which `checked_for` then reports).
fn pipelines_of(file: &Path) -> Option<Vec<String>> {
    let load::Loaded { db, .. } = load::load_project(&[file.to_path_buf()], crate::import_roots()).ok()?;
    let key = file.to_string_lossy();
    let source = db.file(key.strip_prefix("./").unwrap_or(&key))?;
    match kfl_check::model::program(&db, source, None) {
        Err(kfl_model::item::ProgramError::SeveralPipelines { available }) => Some(available),
        _ => None,
    }
}

pub fn build(args: BuildArgs) -> ExitCode {
    let started = Instant::now();
    let kfp = if args.no_kfp { None } else { kfp_runtime() };
    let environments = match environments_of(&args.file, args.pipeline.as_deref(), kfp.as_deref()) {
        Ok(envs) => envs,
        Err(code) => return code,
    };
    let limit = Duration::from_secs(args.timeout.max(1));
    // Unpinned packages: a warning, an error with --require-pins, before anything is written.
    let mut unpinned = 0;
    for env in &environments {
        for package in env.unpinned() {
            unpinned += 1;
            let names: Vec<&str> = env.components.iter().map(|c| c.name.as_str()).collect();
            let severity = if args.require_pins { "error" } else { "warning" };
            eprintln!(
                "{severity}[W0013]: package `{}` of {} is not pinned",
                kfl_diagnostics::escape_control(package),
                names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            );
            eprintln!("  help: pin it with `==` so the image holds the code you tested (`kflc explain W0013`)");
        }
    }
    if args.require_pins && unpinned > 0 {
        eprintln!("error: {unpinned} package(s) are not pinned and --require-pins is given; nothing was built");
        return ExitCode::from(1);
    }
    if environments.is_empty() {
        eprintln!("{}: no component installs packages; there is no image to build", args.file.display());
        return ExitCode::SUCCESS;
    }
    if let Some(dir) = &args.find_links {
        if !dir.is_dir() {
            eprintln!("error: --find-links {} is not a folder", dir.display());
            return ExitCode::from(2);
        }
    }
    let root = args.output.clone().unwrap_or_else(|| PathBuf::from(".kfl/images"));
    let provenance =
        Provenance { source: load::shown(&args.file).to_string(), version: env!("CARGO_PKG_VERSION").to_string() };
    let pip = PipSource { find_links: args.find_links.is_some(), no_index: args.no_index };
    let registry = args.push.as_deref().map(|r| r.trim_end_matches('/').to_string());

    // The build contexts: Containerfile, requirements.txt and the wheels, written only when changed.
    let mut contexts: Vec<(PathBuf, String, String)> = Vec::new();
    for env in &environments {
        let text = match kfl_images::containerfile(env, &provenance, pip) {
            Ok(text) => text,
            Err(e) => {
                let names: Vec<String> = env.components.iter().map(|c| format!("`{}`", c.name)).collect();
                eprintln!("error: {e} (in {})", names.join(", "));
                eprintln!("  help: write one requirement as pip reads it, such as `pandas==2.2.3`, and a plain image reference");
                return ExitCode::from(1);
            }
        };
        let dir = root.join(env.short_hash());
        let written = std::fs::create_dir_all(&dir)
            .and_then(|()| write_if_changed(&dir.join("Containerfile"), &text))
            .and_then(|_| write_if_changed(&dir.join("requirements.txt"), &env.requirements()))
            .and_then(|_| match &args.find_links {
                Some(from) => sync_wheels(from, &dir.join("wheels")),
                None => Ok(()),
            });
        if let Err(e) = written {
            eprintln!("error: cannot write the build context {}: {e}", dir.display());
            return ExitCode::from(2);
        }
        contexts.push((dir, env.tag(registry.as_deref()), kfl_images::sha256_hex(&text)));
    }
    if args.dockerfile_only {
        for ((dir, tag, _), env) in contexts.iter().zip(&environments) {
            let names: Vec<&str> = env.components.iter().map(|c| c.name.as_str()).collect();
            println!("{}\t{tag}\t{}", dir.join("Containerfile").display(), names.join(","));
        }
        return ExitCode::SUCCESS;
    }

    let engine = match args.engine {
        Some(engine) if engine.works() => engine,
        Some(engine) => {
            eprintln!(
                "error[{ENGINE_UNAVAILABLE}]: {} does not work here ({}); the Containerfiles are written, build them with another engine:\n{}",
                engine.program(),
                if engine == Engine::Docker { "`docker info` failed" } else { "it is not installed" },
                how_to_build(&contexts.iter().map(|(d, t, _)| (d.clone(), t.clone())).collect::<Vec<_>>())
            );
            return ExitCode::from(1);
        }
        None => match [Engine::Buildah, Engine::Podman, Engine::Docker].into_iter().find(|e| e.works()) {
            Some(engine) => engine,
            None => {
                eprintln!(
                    "error[{ENGINE_UNAVAILABLE}]: no container engine here: neither buildah nor podman is installed, and docker has no daemon"
                );
                eprintln!(
                    "  help: install buildah (Debian: `apt-get install buildah`), or build the Containerfiles written in {} elsewhere:\n{}",
                    root.display(),
                    how_to_build(&contexts.iter().map(|(d, t, _)| (d.clone(), t.clone())).collect::<Vec<_>>())
                );
                return ExitCode::from(1);
            }
        },
    };

    let lock_path = lock_path(&args.file, args.images.as_deref());
    let mut lock = match std::fs::read_to_string(&lock_path) {
        Ok(text) => Lock::parse(&text).unwrap_or_else(|e| {
            eprintln!("warning: {} cannot be read ({e}); a new lock replaces it", lock_path.display());
            Lock::default()
        }),
        Err(_) => Lock::default(),
    };
    let insecure = args.insecure || registry.as_deref().is_some_and(is_loopback);
    let mut built = 0;
    for (env, (dir, tag, containerfile)) in environments.iter().zip(&contexts) {
        let names: Vec<&str> = env.components.iter().map(|c| c.name.as_str()).collect();
        let t0 = Instant::now();
        let previous = lock.find(&env.hash).filter(|l| l.image == *tag && l.containerfile == *containerfile).cloned();
        let current_id = image_id(engine, tag, limit);
        // Unchanged: the lock says this Containerfile made this tag, the engine still has that
        // image, and it was pushed when a push is asked for.
        let unchanged = previous
            .as_ref()
            .is_some_and(|p| p.id.is_some() && p.id == current_id && (registry.is_none() || p.digest.is_some()));
        if unchanged {
            eprintln!("unchanged {tag} ({})", names.join(", "));
            continue;
        }
        if let Err(e) = build_image(engine, dir, tag, args.no_index, limit) {
            // The engine gone since it was chosen is not a failed build: say which it is.
            let code = if matches!(e, RunError::Spawn(_)) { ENGINE_UNAVAILABLE } else { BUILD_FAILED };
            eprintln!("error[{code}]: {} could not build {tag} for {}: {e}", engine.program(), names.join(", "));
            eprintln!("  help: the build context is {}; nothing was written to {}", dir.display(), lock_path.display());
            return ExitCode::from(1);
        }
        let Some(id) = image_id(engine, tag, limit) else {
            eprintln!(
                "error[{BUILD_FAILED}]: {} built {tag} but does not show it; nothing was written to {}",
                engine.program(),
                lock_path.display()
            );
            return ExitCode::from(1);
        };
        let digest = match &registry {
            None => None,
            Some(_) => match push_image(engine, tag, insecure, &root, limit) {
                Ok(digest) => Some(digest),
                Err(e) => {
                    let code = if matches!(e, RunError::Spawn(_)) { ENGINE_UNAVAILABLE } else { PUSH_FAILED };
                    eprintln!("error[{code}]: {} could not push {tag}: {e}", engine.program());
                    eprintln!(
                        "  help: check that the registry answers and accepts pushes; nothing was written to {}",
                        lock_path.display()
                    );
                    return ExitCode::from(1);
                }
            },
        };
        eprintln!(
            "built {tag}{} ({}) in {:.1} s",
            digest.as_deref().map(|d| format!("@{d}")).unwrap_or_default(),
            names.join(", "),
            t0.elapsed().as_secs_f64()
        );
        built += 1;
        lock.insert(Locked {
            hash: env.hash.clone(),
            base: env.base.clone(),
            packages: env.packages.clone(),
            image: tag.clone(),
            digest,
            id: Some(id),
            containerfile: containerfile.clone(),
            components: env.components.iter().map(kfl_images::component_key).collect(),
            kfp: env.kfp.clone(),
        });
    }
    match write_if_changed(&lock_path, &lock.to_text()) {
        Ok(_) => {}
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", lock_path.display());
            return ExitCode::from(2);
        }
    }
    eprintln!(
        "{} environment{}, {built} built, lock {} ({:.2} s)",
        environments.len(),
        if environments.len() == 1 { "" } else { "s" },
        lock_path.display(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

pub fn list(file: &Path, pipeline: Option<&str>, images: Option<&Path>, engine: Option<Engine>) -> ExitCode {
    let environments = match environments_of(file, pipeline, kfp_runtime().as_deref()) {
        Ok(envs) => envs,
        Err(code) => return code,
    };
    let lock_path = lock_path(file, images);
    let lock = std::fs::read_to_string(&lock_path).ok().and_then(|t| Lock::parse(&t).ok()).unwrap_or_default();
    let engine = engine.or_else(|| [Engine::Buildah, Engine::Podman, Engine::Docker].into_iter().find(|e| e.works()));
    println!("ENVIRONMENT\tIMAGE\tBUILT\tPUSHED\tCOMPONENTS");
    for env in &environments {
        let locked = lock.find(&env.hash);
        let image = locked.map(|l| l.image.clone()).unwrap_or_else(|| env.tag(None));
        let built = match (engine, locked.and_then(|l| l.id.as_ref())) {
            (Some(engine), Some(id)) => {
                if image_id(engine, &image, Duration::from_secs(30)).as_ref() == Some(id) {
                    "yes"
                } else {
                    "no"
                }
            }
            (None, Some(_)) => "unknown",
            (_, None) => "no",
        };
        let pushed = locked.and_then(|l| l.digest.clone()).unwrap_or_else(|| "no".to_string());
        let names: Vec<&str> = env.components.iter().map(|c| c.name.as_str()).collect();
        println!("{}\t{image}\t{built}\t{pushed}\t{}", env.short_hash(), names.join(","));
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_commands_quote_folders_a_shell_would_split() {
        let contexts = [
            (PathBuf::from(".kfl/images/0123456789abcdef"), "localhost/kfl-env:0123456789abcdef".to_string()),
            (PathBuf::from("my ctx/it's $HOME"), "127.0.0.1:5000/kfl-env:fedcba9876543210".to_string()),
        ];
        let text = how_to_build(&contexts);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "    buildah bud --layers --timestamp 0 -t localhost/kfl-env:0123456789abcdef .kfl/images/0123456789abcdef"
        );
        assert_eq!(
            lines[1],
            r#"    buildah bud --layers --timestamp 0 -t 127.0.0.1:5000/kfl-env:fedcba9876543210 'my ctx/it'\''s $HOME'"#
        );
    }

    #[test]
    fn a_registry_on_this_machine_is_plain_http() {
        for registry in ["127.0.0.1:5000", "localhost:5000", "localhost", "[::1]:5000", "127.0.0.1:5000/team"] {
            assert!(is_loopback(registry), "{registry}");
        }
        for registry in ["registry.example:5000", "10.0.0.1:5000", "localhost.example.org"] {
            assert!(!is_loopback(registry), "{registry}");
        }
    }
}

//! `kflc run` in a process of its own, for the tests in `tests/run.rs` that send it signals (the
//! runner forwards them to its tasks and records the run as interrupted). `cargo test` builds it
//! beside the test binaries; it is not a test and not an example for users.
//!
//! Usage: `signal_child FILE ROOT [--param NAME=VALUE]…` — runs the pipeline of FILE with its run
//! root under ROOT (as the tests' `args` helper sets it up) and exits with `kflc run`'s exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use kfl_run::{ProgressMode, RunArgs};

fn main() -> ExitCode {
    let mut argv = std::env::args_os().skip(1);
    let (Some(file), Some(root)) = (argv.next(), argv.next()) else {
        eprintln!("usage: signal_child FILE ROOT [--param NAME=VALUE]…");
        return ExitCode::from(2);
    };
    let mut params = Vec::new();
    while let Some(flag) = argv.next() {
        match (flag.to_str(), argv.next()) {
            (Some("--param"), Some(value)) => params.push(value.to_string_lossy().into_owned()),
            _ => {
                eprintln!("signal_child: expected --param NAME=VALUE");
                return ExitCode::from(2);
            }
        }
    }
    let root = PathBuf::from(root);
    let mut args = RunArgs::new(PathBuf::from(file));
    args.root = root.join(".kfl");
    args.params = params;
    args.progress = ProgressMode::Quiet;
    args.venv_dir = Some(root.join("venvs"));
    args.isolation = kfl_run::Isolation::Host;
    args.parallelism = Some(4);
    match kfl_project::lower_file(&args.file, None) {
        Ok(dag) => kfl_run::run_command(args, dag),
        Err(error) => {
            eprintln!("signal_child: {error}");
            ExitCode::from(2)
        }
    }
}

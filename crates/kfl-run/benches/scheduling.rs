//! `cargo bench -p kfl-run`: the local runner's overhead on a pipeline of 200 no-op `sh` tasks
//! (20 layers of 10, each task reading one of the layer before).
//!
//! Prints:
//! - the wall time of a cold run, per task;
//! - the wall time of running the same 200 launcher programs directly (the processes alone), and
//!   the difference per task: the scheduler's own overhead (state machine, folders, manifests,
//!   hashing, cache writes);
//! - the wall time of a fully cached re-run (it must stay under one second).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TASKS: usize = 200;
const WIDTH: usize = 10;
const PARALLELISM: usize = 2;

fn pipeline_source() -> String {
    let mut source = String::from(
        "component noop {\n    image = \"alpine:3.20\"\n    input id: Int\n    input previous: Int\n    output o: Int\n    sh \"\"\"\n        echo \"$id $previous\" >/dev/null\n        echo \"$id\" > \"$o\"\n    \"\"\"\n}\n\npipeline bench() {\n",
    );
    for i in 0..TASKS {
        let previous = if i < WIDTH { "0".to_string() } else { format!("t{}.o", i - WIDTH) };
        let _ = writeln!(source, "    t{i} = noop(id: {i}, previous: {previous})");
    }
    source.push_str("}\n");
    source
}

/// The same launcher program, run directly 200 times, `PARALLELISM` at a time.
fn processes_alone(dir: &Path) -> Duration {
    let Ok(dag) = kfl_project::lower_file(&dir.join("bench.kfl"), None) else { return Duration::ZERO };
    let Some(program) = kfl_launcher::launcher(&dag.components[0]) else { return Duration::ZERO };
    let out = dir.join("direct");
    let _ = std::fs::create_dir_all(&out);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for worker in 0..PARALLELISM {
            let (program, out) = (&program, &out);
            scope.spawn(move || {
                for i in (worker..TASKS).step_by(PARALLELISM) {
                    let _ = std::process::Command::new("sh")
                        .arg("-c")
                        .arg(program)
                        .env("KFL_INPUT_id", i.to_string())
                        .env("KFL_INPUT_previous", "0")
                        .env("KFL_OUTPUT_PARAM_o", out.join(format!("o{i}")))
                        .status();
                }
            });
        }
    });
    started.elapsed()
}

fn run(file: &Path, root: &Path, no_cache: bool) -> (Duration, usize, usize) {
    let mut args = kfl_run::RunArgs::new(file);
    args.root = root.to_path_buf();
    args.parallelism = Some(PARALLELISM);
    args.progress = kfl_run::ProgressMode::Quiet;
    args.isolation = kfl_run::Isolation::Host;
    args.no_cache = no_cache;
    let started = Instant::now();
    let dag = match kfl_project::lower_file(file, None) {
        Ok(dag) => dag,
        Err(e) => {
            eprintln!("the benchmark pipeline does not lower: {e}");
            std::process::exit(1);
        }
    };
    match kfl_run::run(&args, dag, None) {
        Ok(report) => {
            let cached = report.instances.iter().filter(|i| i.status == kfl_run::Status::Cached).count();
            (started.elapsed(), report.executed(), cached)
        }
        Err(e) => {
            eprintln!("the benchmark pipeline did not run: {e}");
            std::process::exit(1);
        }
    }
}

/// CPU time of this process (the runner itself, not its children), from /proc/self/stat.
fn own_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    // After the command name: state is field 0, utime field 11, stime field 12 (in clock ticks, 100 Hz).
    let ticks: u64 = [11, 12].iter().filter_map(|i| fields.get(*i)).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 10)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let dir: PathBuf = std::env::temp_dir().join(format!("kfl-run-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("bench.kfl");
    if std::fs::write(&file, pipeline_source()).is_err() {
        eprintln!("cannot write {}", file.display());
        std::process::exit(1);
    }
    let root = dir.join(".kfl");
    let direct = processes_alone(&dir);
    let load_started = Instant::now();
    if let Err(e) =
        kfl_project::lower_file(&file, None).and_then(|dag| kfl_run::load_plan(&kfl_run::RunArgs::new(&file), dag))
    {
        eprintln!("{e}");
    }
    let load = load_started.elapsed();
    let cpu_before = own_cpu();
    let (cold, executed, _) = run(&file, &root, true);
    let cold_cpu = own_cpu() - cpu_before;
    let cpu_before = own_cpu();
    let (cached, _, hits) = run(&file, &root, false);
    let cached_cpu = own_cpu() - cpu_before;
    let per_task = ms(cold) / TASKS as f64;
    let overhead = (ms(cold) - ms(direct)) / TASKS as f64;
    println!("kfl-run scheduling benchmark: {TASKS} no-op sh tasks, parallelism {PARALLELISM}");
    println!("  cold run:           {:>8.1} ms total, {per_task:.2} ms per task ({executed} executed)", ms(cold));
    println!("  processes alone:    {:>8.1} ms total, {:.2} ms per task", ms(direct), ms(direct) / TASKS as f64);
    println!("  runner overhead:    {overhead:>8.2} ms per task (wall time, cold run minus processes alone)");
    println!(
        "  runner CPU time:    {:>8.1} ms total, {:.2} ms per task (the runner's own work, whatever the load)",
        ms(cold_cpu),
        ms(cold_cpu) / TASKS as f64
    );
    println!(
        "  fully cached rerun: {:>8.1} ms total, {:.2} ms per task ({hits} cached) — {}",
        ms(cached),
        ms(cached) / TASKS as f64,
        if cached < Duration::from_secs(1) { "under 1 s" } else { "OVER 1 s" }
    );
    println!("  of which load, check and lower the file: {:.1} ms", ms(load));
    println!("  cached rerun CPU:   {:>8.1} ms total", ms(cached_cpu));
    println!("  (load average now: {})", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
    let _ = std::fs::remove_dir_all(&dir);
    if cached >= Duration::from_secs(1) || hits != TASKS {
        std::process::exit(1);
    }
}

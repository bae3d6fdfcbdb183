//! What the user sees: a live view of the tasks while the run goes (indicatif on a terminal, one
//! plain line per event otherwise) and the closing summary, with the failing tasks' last log lines,
//! the pipeline's outputs and every `Metrics` output as a table.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::scheduler::Status;
use crate::{RunReport, RunStatus};

/// How the run's progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A live view when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    Plain,
    /// Nothing (for tests and embedding).
    Quiet,
}

pub trait Progress: Send {
    fn started(&mut self, name: &str);
    fn finished(&mut self, name: &str, status: Status, elapsed: Option<Duration>, reason: Option<&str>);
    fn message(&mut self, text: &str);
    fn close(&mut self);
}

pub fn progress(mode: ProgressMode) -> Box<dyn Progress> {
    use std::io::IsTerminal;
    match mode {
        ProgressMode::Quiet => Box::new(Quiet),
        ProgressMode::Plain => Box::new(Plain { start: Instant::now() }),
        ProgressMode::Auto if std::io::stderr().is_terminal() => Box::new(Live::new()),
        ProgressMode::Auto => Box::new(Plain { start: Instant::now() }),
    }
}

struct Quiet;

impl Progress for Quiet {
    fn started(&mut self, _: &str) {}
    fn finished(&mut self, _: &str, _: Status, _: Option<Duration>, _: Option<&str>) {}
    fn message(&mut self, _: &str) {}
    fn close(&mut self) {}
}

struct Plain {
    start: Instant,
}

fn mark(status: Status) -> &'static str {
    match status {
        Status::Succeeded => "✓",
        Status::Cached | Status::Kept => "✓",
        Status::Failed => "✗",
        Status::Cancelled => "✗",
        Status::SkippedCondition | Status::SkippedUpstream => "-",
        Status::Waiting | Status::Running => "…",
    }
}

fn finished_line(name: &str, status: Status, elapsed: Option<Duration>, reason: Option<&str>) -> String {
    let mut line = format!("{} {name} {}", mark(status), status.label());
    if let Some(e) = elapsed {
        let _ = write!(line, " in {}", human(e));
    }
    if let Some(r) = reason {
        let _ = write!(line, ": {r}");
    }
    line
}

/// One line to stderr in one write (`eprintln!` writes each piece of its format on its own, a
/// dozen system calls a task), and no panic when stderr is gone.
fn print_line(mut line: String) {
    use std::io::Write;
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

impl Progress for Plain {
    fn started(&mut self, name: &str) {
        print_line(format!("[{:>7}] started {name}", human(self.start.elapsed())));
    }
    fn finished(&mut self, name: &str, status: Status, elapsed: Option<Duration>, reason: Option<&str>) {
        print_line(format!("[{:>7}] {}", human(self.start.elapsed()), finished_line(name, status, elapsed, reason)));
    }
    fn message(&mut self, text: &str) {
        print_line(text.to_string());
    }
    fn close(&mut self) {}
}

/// The live view: one spinner per running task with its elapsed time, finished tasks printed above.
struct Live {
    multi: indicatif::MultiProgress,
    bars: HashMap<String, indicatif::ProgressBar>,
    done: usize,
    header: indicatif::ProgressBar,
}

impl Live {
    fn new() -> Live {
        let multi = indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr());
        let header = multi.add(indicatif::ProgressBar::new_spinner());
        header.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        header.enable_steady_tick(Duration::from_millis(120));
        Live { multi, bars: HashMap::new(), done: 0, header }
    }

    fn update_header(&self) {
        self.header.set_message(format!("{} running, {} finished", self.bars.len(), self.done));
    }
}

impl Progress for Live {
    fn started(&mut self, name: &str) {
        let bar = self.multi.add(indicatif::ProgressBar::new_spinner());
        bar.set_style(
            indicatif::ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bars.insert(name.to_string(), bar);
        self.update_header();
    }
    fn finished(&mut self, name: &str, status: Status, elapsed: Option<Duration>, reason: Option<&str>) {
        if let Some(bar) = self.bars.remove(name) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        self.done += 1;
        let _ = self.multi.println(finished_line(name, status, elapsed, reason));
        self.update_header();
    }
    fn message(&mut self, text: &str) {
        let _ = self.multi.println(text);
    }
    fn close(&mut self) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
        self.header.finish_and_clear();
        let _ = self.multi.clear();
    }
}

pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// Flattens a JSON object into `key → value` rows, nested keys joined with dots.
pub fn flatten(prefix: &str, value: &Json, out: &mut Vec<(String, Json)>) {
    match value {
        Json::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        // Metrics are scalars (as in Kubeflow's UI); a list such as a loss curve is no table cell.
        Json::Array(_) => {}
        other => out.push((prefix.to_string(), other.clone())),
    }
}

fn cell(value: &Json) -> String {
    match value {
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => format!("{f:.4}"),
            _ => n.to_string(),
        },
        Json::String(s) => s.clone(),
        other => {
            let text = other.to_string();
            if text.chars().count() > 60 {
                format!("{}…", text.chars().take(60).collect::<String>())
            } else {
                text
            }
        }
    }
}

/// The closing summary.
pub fn summary(report: &RunReport) -> String {
    let mut out = String::new();
    let count = |f: &dyn Fn(Status) -> bool| report.instances.iter().filter(|i| f(i.status)).count();
    let succeeded = count(&|s| s == Status::Succeeded);
    let cached = count(&|s| s == Status::Cached);
    let failed = count(&|s| s == Status::Failed);
    let skipped = count(&|s| s == Status::SkippedCondition);
    let not_run = count(&|s| matches!(s, Status::SkippedUpstream | Status::Waiting)) + report.never_ran.len();
    let cancelled = count(&|s| s == Status::Cancelled);
    let kept = count(&|s| s == Status::Kept);
    let verdict = match report.status {
        RunStatus::Succeeded => "succeeded".to_string(),
        RunStatus::Failed => "failed".to_string(),
        RunStatus::Cancelled => "was cancelled".to_string(),
        RunStatus::Interrupted(signal) => format!("was interrupted by {}", signal.name()),
    };
    let resumed = if kept > 0 || report.resumed { " (resumed)" } else { "" };
    let _ = writeln!(out, "\nrun {} {verdict}{resumed} in {}", report.run_id, human(report.elapsed));
    let mut parts = vec![format!("{succeeded} ran"), format!("{cached} cached")];
    for (n, label) in [
        (kept, "kept from the resumed run"),
        (failed, "failed"),
        (skipped, "skipped"),
        (not_run, "not run"),
        (cancelled, "cancelled"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {label}"));
        }
    }
    let _ = writeln!(out, "  tasks: {}", parts.join(", "));
    let _ = writeln!(out, "  run directory: {}", report.run_dir.display());
    for instance in report.instances.iter().filter(|i| i.status == Status::Failed) {
        let _ = writeln!(out, "\nfailed: {}: {}", instance.name, instance.reason.as_deref().unwrap_or("failed"));
        let _ = writeln!(out, "  logs: {}", instance.dir.join("stderr.log").display());
        for line in &instance.log_tail {
            let _ = writeln!(out, "  │ {line}");
        }
    }
    if !report.outputs.is_empty() {
        let _ = writeln!(out, "\noutputs:");
        let width = report.outputs.keys().map(|k| k.len()).max().unwrap_or(0);
        for (name, value) in &report.outputs {
            let text = match value {
                Ok(v) => cell(v),
                Err(e) => format!("(unavailable: {e})"),
            };
            let _ = writeln!(out, "  {name:<width$} = {text}");
        }
    }
    if !report.metrics.is_empty() {
        let _ = writeln!(out, "\nmetrics:");
        let rows: Vec<(String, String, String)> = report
            .metrics
            .iter()
            .map(|m| (format!("{}.{}", m.task, m.output), m.key.clone(), cell(&m.value)))
            .collect();
        let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0).max(6);
        let w1 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0).max(6);
        let _ = writeln!(out, "  {:<w0$}  {:<w1$}  value", "output", "metric");
        for (a, b, c) in rows {
            let _ = writeln!(out, "  {a:<w0$}  {b:<w1$}  {c}");
        }
    }
    out
}

/// The resources a task asks for, as recorded in `run.json`'s `graph` for viewers (`kflc ui`):
/// Kubernetes quantities by resource name (`cpu`, `memory`, `nvidia.com/gpu`-style `gpu` count,
/// `ephemeral-storage`, …), each `{ "request": …, "limit": … }` with only what was set, plus
/// `accelerator`, `retries` and `timeout` (seconds) when set. An empty object when nothing is.
pub fn resources_json(settings: &kfl_dag::Settings) -> Json {
    let mut out = serde_json::Map::new();
    let mut amount = |name: &str, request: Option<String>, limit: Option<String>| {
        if request.is_some() || limit.is_some() {
            let mut entry = serde_json::Map::new();
            if let Some(request) = request {
                entry.insert("request".into(), Json::String(request));
            }
            if let Some(limit) = limit {
                entry.insert("limit".into(), Json::String(limit));
            }
            out.insert(name.into(), Json::Object(entry));
        }
    };
    amount("cpu", settings.cpu.map(|c| c.to_k8s()), settings.cpu_limit.map(|c| c.to_k8s()));
    amount("memory", settings.memory.map(|m| m.to_k8s()), settings.memory_limit.map(|m| m.to_k8s()));
    amount("gpu", settings.gpu.map(|n| n.to_string()), None);
    for (name, value) in &settings.resources {
        amount(name, value.request.clone(), value.limit.clone());
    }
    if let Some(accelerator) = &settings.accelerator {
        out.insert("accelerator".into(), Json::String(accelerator.clone()));
    }
    if let Some(retries) = settings.retries {
        out.insert("retries".into(), Json::from(retries));
    }
    if let Some(timeout) = settings.timeout {
        out.insert("timeout".into(), Json::from(timeout.seconds()));
    }
    Json::Object(out)
}

//! From a `.kfl` file to the Workflow that is submitted: load (as `kflc` does), refuse a pipeline
//! with errors, lower, emit, name the run, and map server field paths back to `.kfl` spans.

use std::path::Path;

use kfl_check::{Database, SourceFile};
use kfl_diagnostics::{Diagnostic, LineIndex, Span};
use kfl_syntax::ast;
use serde_json::Value as Json;

/// The label every run carries with its own name (besides `kfl.dev/pipeline` and
/// `app.kubernetes.io/managed-by: kflc`, which kfl-argo sets).
pub const RUN_LABEL: &str = "kfl.dev/run";
pub const PIPELINE_LABEL: &str = "kfl.dev/pipeline";

/// A loaded project and one lowered pipeline.
pub struct Loaded {
    pub db: Database,
    pub file: SourceFile,
    pub dag: kfl_dag::Dag,
}

/// Why nothing can be built.
#[derive(Debug)]
pub enum BuildError {
    /// The pipeline has errors: rendered diagnostics, one per line group.
    HasErrors { rendered: String, count: usize },
    /// Unreadable file, no such pipeline, a bad `--param`, …
    Other(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::HasErrors { rendered, count } => {
                write!(f, "{rendered}error: the pipeline has {count} error(s); nothing was submitted")
            }
            BuildError::Other(message) => f.write_str(message),
        }
    }
}

/// Loads `file` and the files it imports (transitively) into a fresh database.
pub fn load(file: &Path) -> Result<(Database, SourceFile), BuildError> {
    kfl_project::load_file(file).map_err(BuildError::Other)
}

/// Loads and lowers; a pipeline with errors is refused here, before anything talks to a cluster.
pub fn lower(file: &Path, pipeline: Option<&str>) -> Result<Loaded, BuildError> {
    let (db, source) = load(file)?;
    match kfl_project::lower(&db, source, pipeline) {
        Ok(dag) => Ok(Loaded { db, file: source, dag }),
        Err(kfl_dag::LowerError::HasErrors(errors)) => {
            let mut rendered = String::new();
            for (path, diagnostic) in &errors {
                rendered.push_str(&render(&db, path, diagnostic));
            }
            Err(BuildError::HasErrors { rendered, count: errors.len() })
        }
        Err(other) => Err(BuildError::Other(other.to_string())),
    }
}

/// `path:line:col: error[code]: message` and the help, like a compiler's short form. (`kflc`
/// checks first and renders with miette; this is for other callers of the library.)
fn render(db: &Database, path: &str, d: &Diagnostic) -> String {
    let mut out = format!(
        "{}: {}[{}]: {}\n",
        location(db, path, d.primary.span),
        d.severity.as_str(),
        d.code.info().id,
        d.message
    );
    if let Some(help) = &d.help {
        out.push_str(&format!("  help: {help}\n"));
    }
    out
}

fn location(db: &Database, path: &str, span: Span) -> String {
    match db.file(path) {
        Some(f) => {
            let text = f.text(db);
            let at = LineIndex::new(text).line_col(text, span.start as usize);
            format!("{path}:{}:{}", at.line + 1, at.column + 1)
        }
        None => path.to_string(),
    }
}

/// A unique, traceable run name: `<pipeline>-<yyyymmdd>-<hhmmss>-<4 hex>`, at most 63 characters
/// (pod names and label values derive from it).
pub fn run_name(pipeline_k8s_name: &str, now: std::time::SystemTime) -> String {
    let since = now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    let stamp = format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", t / 3600, t % 3600 / 60, t % 60);
    let suffix = random_hex(since.subsec_nanos());
    let budget = 63 - stamp.len() - suffix.len() - 2;
    let mut base: String = pipeline_k8s_name.chars().take(budget).collect();
    while base.ends_with('-') {
        base.pop();
    }
    if base.is_empty() {
        base = "kfl".to_string();
    }
    format!("{base}-{stamp}-{suffix}")
}

fn random_hex(nanos: u32) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(nanos);
    h.write_u32(std::process::id());
    format!("{:04x}", h.finish() & 0xffff)
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { era * 400 + yoe + 1 } else { era * 400 + yoe }, m, d)
}

/// The Workflow for a run: kfl-argo's output with the run's name, namespace and labels.
pub fn workflow(dag: &kfl_dag::Dag, name: &str, namespace: &str, params: &[String]) -> Result<Json, BuildError> {
    let options = kfl_argo::ArgoOptions {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        params: params.to_vec(),
        ..Default::default()
    };
    let mut workflow = kfl_argo::workflow(dag, &options).map_err(|e| BuildError::Other(e.to_string()))?;
    if let Some(labels) = workflow.pointer_mut("/metadata/labels").and_then(Json::as_object_mut) {
        labels.insert(RUN_LABEL.into(), Json::String(name.to_string()));
        labels.insert(PIPELINE_LABEL.into(), Json::String(dag.k8s_name.clone()));
    }
    Ok(workflow)
}

/// Where a server field path (`.spec.templates[2].container.resources…`) comes from in the source:
/// `file:line:col: component `train`` or `… task `train``. `None` when the path is not under a
/// template or the template is not a component's.
pub fn origin_of_field(loaded: &Loaded, workflow: &Json, field: &str) -> Option<String> {
    let field = field.trim_start_matches('.');
    let rest = field.strip_prefix("spec.templates[")?;
    let (index, rest) = rest.split_once(']')?;
    let template = workflow.pointer(&format!("/spec/templates/{}", index.parse::<usize>().ok()?))?;
    let template_name = template.get("name")?.as_str()?;
    // A DAG template's task: `.dag.tasks[N]…` → that task.
    if let Some(task_rest) = rest.strip_prefix(".dag.tasks[") {
        let (i, _) = task_rest.split_once(']')?;
        let task_name = template.pointer(&format!("/dag/tasks/{}/name", i.parse::<usize>().ok()?))?.as_str()?;
        let task = loaded.dag.graph.node_weights().find(|t| t.k8s_name == task_name || t.name == task_name)?;
        let (path, span) = task_span(loaded, &task.name)?;
        return Some(format!("{}: task `{}`", location(&loaded.db, &path, span), task.name));
    }
    // A container template: its component (`train-model` or a variant `train-model-2`).
    let component = loaded.dag.components.iter().find(|c| {
        c.k8s_name == template_name
            || template_name
                .strip_prefix(c.k8s_name.as_str())
                .and_then(|s| s.strip_prefix('-'))
                .is_some_and(|n| n.chars().all(|ch| ch.is_ascii_digit()))
    })?;
    let file = loaded.db.file(&component.source)?;
    let parse = kfl_check::parse(&loaded.db, file);
    let span = parse.file.items.iter().find_map(|item| match item {
        ast::Item::Component(c) if c.name.text == component.name => Some(c.name.span),
        _ => None,
    })?;
    Some(format!(
        "{}: component `{}` (template `{template_name}`)",
        location(&loaded.db, &component.source, span),
        component.name
    ))
}

/// The span of the statement that declares task `name` in the lowered pipeline's file.
fn task_span(loaded: &Loaded, name: &str) -> Option<(String, Span)> {
    let path = loaded.file.path(&loaded.db).to_string();
    let parse = kfl_check::parse(&loaded.db, loaded.file);
    fn find(stmts: &[ast::Stmt], name: &str) -> Option<Span> {
        for stmt in stmts {
            let found = match &stmt.kind {
                ast::StmtKind::Task(t) => {
                    let n = t.binding.as_ref().unwrap_or(&t.call.callee);
                    (n.text == name).then_some(n.span)
                }
                ast::StmtKind::If(i) => find_if(i, name),
                ast::StmtKind::For(f) => find(&f.body.stmts, name),
                ast::StmtKind::Finally(b) => find(&b.stmts, name),
                _ => None,
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }
    fn find_if(i: &ast::IfStmt, name: &str) -> Option<Span> {
        find(&i.then.stmts, name).or_else(|| match &i.otherwise {
            Some(ast::Else::If(e)) => find_if(e, name),
            Some(ast::Else::Block(b)) => find(&b.stmts, name),
            None => None,
        })
    }
    parse.file.items.iter().find_map(|item| match item {
        ast::Item::Pipeline(p) if p.name.text == loaded.dag.name => find(&p.body, name).map(|s| (path.clone(), s)),
        _ => None,
    })
}

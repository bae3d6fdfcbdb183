//! The backend interface: which settings a pipeline's tasks use, and which of those a backend
//! reports as not applicable.

use kfl_check::Database;
use kfl_dag::backend::{find, not_applicable_in, sets, Backend, BackendError, Document, FieldSpec};
use kfl_dag::Dag;
use kfl_model::fields::{Effect, FieldKind, FIELDS};
use kfl_model::units::QuantityKind;

/// A backend that cannot express `env`, `retries`, `timeout` and `image`.
struct Partial;

impl Backend for Partial {
    fn name(&self) -> &'static str {
        "partial"
    }

    fn check(&self, dag: &Dag) -> Result<(), BackendError> {
        match dag.graph.node_weights().find(|task| task.name == "refused") {
            Some(task) => Err(BackendError::new("not supported on Partial: a task named `refused`").about(&task.name)),
            None => Ok(()),
        }
    }

    fn emit(&self, dag: &Dag) -> Result<Document, BackendError> {
        self.check(dag)?;
        Ok(Document { text: format!("{}\n", dag.name), kind: "Name", extension: "txt" })
    }

    fn not_applicable(&self, field: &FieldSpec) -> Option<&'static str> {
        matches!(field.name, "env" | "retries" | "timeout" | "image").then_some("partial has no such thing")
    }
}

fn lower(text: &str) -> Dag {
    let mut db = Database::default();
    let file = db.set_file("backend.kfl", text.to_string());
    kfl_project::lower(&db, file, None).unwrap_or_else(|e| panic!("{text}\n{e}"))
}

const PIPELINE: &str = r#"
component step {
    output out: String
    retries = 2
    sh """
        echo ok > "$out"
    """
}

pipeline p() {
    a = step()
    b = step() { env { TEAM = "ml" } }
    refused = step() { retries = 0 }
    output o = a.out
}
"#;

#[test]
fn settings_the_tasks_use_and_the_backend_cannot_express_are_reported_in_table_order() {
    let dag = lower(PIPELINE);
    let reported: Vec<(String, Vec<String>)> =
        not_applicable_in(&Partial, &dag).into_iter().map(|n| (n.field.path(), n.tasks)).collect();
    let mut expected = vec![
        ("env { … }".to_string(), vec!["b".to_string()]),
        ("retries".to_string(), vec!["a".to_string(), "b".to_string(), "refused".to_string()]),
    ];
    let position = |path: &str| FIELDS.iter().position(|f| f.path() == path);
    expected.sort_by_key(|(path, _)| position(path));
    // `timeout` is marked but set by no task; `image` is a definition, not a setting.
    assert_eq!(reported, expected);
    let notes: Vec<String> = not_applicable_in(&Partial, &dag).iter().map(|n| n.to_string()).collect();
    assert!(notes.contains(&"`env { … }` is left out: partial has no such thing (set on task `b`)".to_string()));
    assert!(notes
        .contains(&"`retries` is left out: partial has no such thing (set on tasks `a`, `b`, `refused`)".to_string()));
}

#[test]
fn errors_are_a_message_and_what_they_are_about() {
    let dag = lower(PIPELINE);
    let error = Partial.emit(&dag).expect_err("refused");
    assert_eq!(error.to_string(), "not supported on Partial: a task named `refused`");
    assert_eq!(error.about.as_deref(), Some("refused"));
    assert_eq!(Partial.check(&dag), Err(error));
    let fine = lower(&PIPELINE.replace("refused", "kept"));
    assert_eq!(Partial.emit(&fine).map(|d| d.text), Ok("p\n".to_string()));
}

#[test]
fn backends_are_found_by_name() {
    let list: [&dyn Backend; 1] = [&Partial];
    assert_eq!(find(&list, "partial").map(|b| b.name()), Some("partial"));
    assert!(find(&list, "tekton").is_none());
}

/// Each settings row, written on a component, is seen by `sets` on its own row and no other.
#[test]
fn every_setting_row_is_seen_on_its_own_row() {
    let rows: Vec<_> = FIELDS
        .iter()
        .filter(|f| !matches!(f.effect, Effect::Definition | Effect::TaskMeta | Effect::PipelineMeta))
        .collect();
    assert!(rows.len() >= 14, "only {} settings", rows.len());
    let unset = lower(&PIPELINE.replace("    retries = 2\n", ""));
    let a = unset.graph.node_weights().find(|task| task.name == "a").expect("task a");
    for row in &rows {
        assert!(!sets(&a.settings, row), "{}", row.path());
    }
    for row in &rows {
        let value = match row.kind {
            FieldKind::Quantity(QuantityKind::Cpu) => "2",
            FieldKind::Quantity(QuantityKind::Memory) => "1Gi",
            FieldKind::Quantity(QuantityKind::Gpu) | FieldKind::Retries => "1",
            FieldKind::Quantity(QuantityKind::Duration) => "1h",
            FieldKind::Bool => "false",
            FieldKind::LabelValue => "\"nvidia-l4\"",
            FieldKind::Tolerations => "[{key: \"gpu\", operator: \"Exists\", effect: \"NoSchedule\"}]",
            FieldKind::Env | FieldKind::Labels | FieldKind::Annotations => "",
            other => panic!("no sample for `{}` ({other:?}): add one", row.path()),
        };
        let setting = match row.block {
            Some(block) => format!("{block} {{ {} = {value} }}", row.name),
            None if row.is_keyed_block() || value.is_empty() => format!("{} {{ team = \"ml\" }}", row.name),
            None => format!("{} = {value}", row.name),
        };
        let dag = lower(&PIPELINE.replace("retries = 2", &setting));
        let task = dag.graph.node_weights().find(|task| task.name == "a").expect("task a");
        for other in &rows {
            assert_eq!(sets(&task.settings, other), other.path() == row.path(), "{setting}: {}", other.path());
        }
    }
}

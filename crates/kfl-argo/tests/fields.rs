//! Every setting in the field table that a component or a task may write reaches every backend:
//! written on a component, it changes the Argo Workflow and the KFP PipelineSpec. A row a backend
//! cannot express must be marked by its `Backend::not_applicable`, with the reason (which
//! `kflc build` reports to the user), and then must change nothing. Adding a row to the table
//! without teaching the backends fails this test.

use kfl_argo::ArgoBackend;
use kfl_check::Database;
use kfl_dag::backend::{not_applicable_in, Backend};
use kfl_kfp::{KfpBackend, KfpOptions};
use kfl_model::fields::{Effect, FieldKind, FieldSpec, Place, FIELDS};
use kfl_model::units::QuantityKind;

/// The backends, with their default options and with options that leave a setting out.
fn backends() -> Vec<(&'static str, Box<dyn Backend>)> {
    let no_accelerator_label = KfpOptions { accelerator_node_label: None, ..KfpOptions::default() };
    vec![
        ("argo", Box::new(ArgoBackend::default())),
        ("kfp", Box::new(KfpBackend::default())),
        ("kfp without an accelerator label", Box::new(KfpBackend { options: no_accelerator_label })),
    ]
}

/// A valid value of each kind, as KFL source.
fn sample(field: &FieldSpec) -> String {
    let value = match field.kind {
        FieldKind::Quantity(QuantityKind::Cpu) => "2".to_string(),
        FieldKind::Quantity(QuantityKind::Memory) => "3Gi".to_string(),
        FieldKind::Quantity(QuantityKind::Gpu) => "1".to_string(),
        FieldKind::Quantity(QuantityKind::Duration) => "1h".to_string(),
        FieldKind::Retries => "3".to_string(),
        FieldKind::Bool => "false".to_string(),
        FieldKind::LabelValue => "\"nvidia-l4\"".to_string(),
        FieldKind::Tolerations => "[{key: \"gpu\", operator: \"Exists\", effect: \"NoSchedule\"}]".to_string(),
        FieldKind::Env | FieldKind::Labels | FieldKind::Annotations => {
            return format!("{} {{ team = \"ml\" }}", field.name);
        }
        other => panic!("no sample for {other:?} ({})", field.path()),
    };
    match field.block {
        Some(block) => format!("{block} {{ {} = {value} }}", field.name),
        None => format!("{} = {value}", field.name),
    }
}

fn source(setting: &str) -> String {
    format!(
        "component step {{\n    output out: String\n    {setting}\n    sh \"\"\"\n        echo ok > \"$out\"\n    \"\"\"\n}}\n\n\
         pipeline p() {{\n    s = step()\n    output o = s.out\n}}\n"
    )
}

fn lower(text: &str) -> kfl_dag::Dag {
    let mut db = Database::default();
    let file = db.set_file("fields.kfl", text.to_string());
    let errors = kfl_check::check_file(&db, file);
    assert!(errors.iter().all(|d| !d.is_error()), "{text}\n{errors:#?}");
    kfl_project::lower(&db, file, None).unwrap_or_else(|e| panic!("{text}\n{e}"))
}

/// Every backend's document for `text`.
fn emit(backends: &[(&str, Box<dyn Backend>)], text: &str) -> Vec<String> {
    let dag = lower(text);
    backends
        .iter()
        .map(|(label, backend)| backend.emit(&dag).unwrap_or_else(|e| panic!("{label}: {e}\n{text}")).text)
        .collect()
}

#[test]
fn every_setting_reaches_every_backend_or_is_marked_not_applicable() {
    let backends = backends();
    let baseline = emit(&backends, &source(""));
    let mut missing = Vec::new();
    let mut settings = 0;
    let mut marked = 0;
    for field in FIELDS.iter().filter(|f| f.allowed_in(Place::Component) || f.allowed_in(Place::Task)) {
        if matches!(field.effect, Effect::Definition | Effect::TaskMeta | Effect::PipelineMeta) {
            continue;
        }
        settings += 1;
        let text = source(&sample(field));
        let outputs = emit(&backends, &text);
        let dag = lower(&text);
        for (((label, backend), before), after) in backends.iter().zip(&baseline).zip(&outputs) {
            let reason = backend.not_applicable(field);
            marked += usize::from(reason.is_some());
            if before == after && reason.is_none() {
                missing.push(format!("{label}: `{}` changes nothing in the output", field.path()));
            }
            if before != after && reason.is_some() {
                missing.push(format!("{label}: `{}` is marked not applicable but is emitted", field.path()));
            }
            // What `kflc build` reports: the marked setting, on the task that sets it.
            let reported: Vec<String> =
                not_applicable_in(backend.as_ref(), &dag).iter().map(|n| n.field.path()).collect();
            let expected: Vec<String> = reason.map(|_| field.path()).into_iter().collect();
            if reported != expected {
                missing.push(format!("{label}: `{}` is reported as {reported:?}", field.path()));
            }
        }
    }
    assert!(settings >= 14, "only {settings} settings in the table");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    assert!(marked >= 1, "no backend configuration leaves a setting out: the marked branch is untested");
}

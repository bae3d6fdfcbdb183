//! Every setting in the field table that a component or a task may write reaches both backends:
//! written on a component, it changes the Argo Workflow and the KFP PipelineSpec. A row a backend
//! cannot express must be listed in `NOT_APPLICABLE` with the reason (and reported to the user).
//! Adding a row to the table without teaching the backends fails this test.

use kfl_check::Database;
use kfl_model::fields::{Effect, FieldKind, FieldSpec, Place, FIELDS};
use kfl_model::units::QuantityKind;

/// (backend, field path, why): settings a backend cannot express.
const NOT_APPLICABLE: &[(&str, &str, &str)] =
    &[("kfp", "resources.ephemeral_storage", "the PipelineSpec's ResourceSpec has no ephemeral storage")];

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

fn emit(text: &str) -> (String, String) {
    let mut db = Database::default();
    let file = db.set_file("fields.kfl", text.to_string());
    let errors = kfl_check::check_file(&db, file);
    assert!(errors.iter().all(|d| !d.is_error()), "{text}\n{errors:#?}");
    let dag = kfl_project::lower(&db, file, None).unwrap_or_else(|e| panic!("{text}\n{e}"));
    let argo = kfl_argo::workflow(&dag, &kfl_argo::ArgoOptions::default()).expect("argo");
    let kfp = kfl_kfp::pipeline_spec(&dag, &kfl_kfp::KfpOptions::default());
    (argo.to_string(), format!("{kfp:?}"))
}

#[test]
fn every_setting_reaches_both_backends_or_is_listed_as_not_applicable() {
    let baseline = emit(&source(""));
    let mut missing = Vec::new();
    let mut settings = 0;
    for field in FIELDS.iter().filter(|f| f.allowed_in(Place::Component) || f.allowed_in(Place::Task)) {
        if matches!(field.effect, Effect::Definition | Effect::TaskMeta | Effect::PipelineMeta) {
            continue;
        }
        settings += 1;
        let (argo, kfp) = emit(&source(&sample(field)));
        for (backend, before, after) in [("argo", &baseline.0, &argo), ("kfp", &baseline.1, &kfp)] {
            let listed = NOT_APPLICABLE.iter().any(|(b, path, _)| *b == backend && *path == field.path());
            if before == after && !listed {
                missing.push(format!("{backend}: `{}` changes nothing in the output", field.path()));
            }
            if before != after && listed {
                missing.push(format!("{backend}: `{}` is listed as not applicable but is emitted", field.path()));
            }
        }
    }
    assert!(settings >= 14, "only {settings} settings in the table");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

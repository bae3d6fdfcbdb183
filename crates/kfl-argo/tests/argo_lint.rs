//! The real check: every example's and fixture's Workflow passes Argo's own submit-time validation
//! (`../shared/tools/argo-lint`, beside the clone, a rule-by-rule port of Argo's validate.go).
//!
//! Two forms of each: with every parameter given a value (what `kflc apply` submits: it refuses a
//! parameter without one, E0220), which must pass the submit-time rules; and as `kflc build` writes
//! it without `--param` (the golden snapshots), which must pass `argo lint`'s rules and fail the
//! submit-time ones only for the parameters left without a value, the ones W0014 warns about.

mod common;

use std::process::Command;

use kfl_argo::{to_yaml, workflow, ArgoOptions};
use kfl_dag::{IoType, ParamType};

#[test]
fn every_example_and_fixture_workflow_passes_argo_lint() {
    let root = common::root();
    let lint = root.join("../shared/tools/argo-lint");
    assert!(lint.exists(), "{} is missing: the Argo check needs the shared tools beside the clone", lint.display());
    let dir = std::env::temp_dir().join(format!("kfl-argo-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut files = Vec::new();
    for (db, pipelines) in [common::examples(), common::fixtures()] {
        for (path, name) in &pipelines {
            let dag = common::lower(&db, path, name);
            // Argo refuses a parameter without a value: give the required ones one, as `kflc build --param` does.
            let params = dag
                .params
                .iter()
                .filter(|p| p.default.is_none())
                .map(|p| format!("{}={}", p.name, sample_value(&p.ty)))
                .collect();
            let options = ArgoOptions { params, ..ArgoOptions::default() };
            let wf = workflow(&dag, &options).unwrap_or_else(|e| panic!("{path} {name}: {e}"));
            let file = dir.join(format!("{}__{name}.yaml", path.trim_end_matches(".kfl").replace('/', "__")));
            std::fs::write(&file, to_yaml(&wf)).expect("write");
            files.push(file);
        }
    }
    let output = Command::new("bash").arg(&lint).args(&files).current_dir(&root).output().expect("runs");
    assert!(
        output.status.success(),
        "argo-lint found problems in {} Workflows:\n{}\n{}",
        files.len(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // As `kflc build` writes them without `--param`.
    let mut open_files = Vec::new();
    let mut expected = Vec::new();
    for (db, pipelines) in [common::examples(), common::fixtures()] {
        for (path, name) in &pipelines {
            let dag = common::lower(&db, path, name);
            let wf = workflow(&dag, &ArgoOptions::default()).unwrap_or_else(|e| panic!("{path} {name}: {e}"));
            let file = dir.join(format!("open__{}__{name}.yaml", path.trim_end_matches(".kfl").replace('/', "__")));
            std::fs::write(&file, to_yaml(&wf)).expect("write");
            for missing in kfl_dag::params::missing_values(&dag) {
                let kfl_dag::params::ParamError::Missing { name: param, .. } = missing else { continue };
                expected.push(format!(
                    "{}: spec.arguments: validateArgumentsValues/value: spec.arguments.{param}.value or \
                     spec.arguments.{param}.valueFrom is required",
                    file.display()
                ));
            }
            open_files.push(file);
        }
    }
    assert!(!expected.is_empty(), "some example leaves a parameter open (simple_training's data_url)");
    let lint_mode = Command::new("bash").arg(&lint).arg("--lint").args(&open_files).output().expect("runs");
    assert!(
        lint_mode.status.success(),
        "argo-lint --lint found problems:\n{}{}",
        String::from_utf8_lossy(&lint_mode.stdout),
        String::from_utf8_lossy(&lint_mode.stderr)
    );
    let strict = Command::new("bash").arg(&lint).args(&open_files).output().expect("runs");
    let _ = std::fs::remove_dir_all(&dir);
    let mut found: Vec<String> = String::from_utf8_lossy(&strict.stdout).lines().map(str::to_string).collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected, "the submit-time findings are the open parameters, and only those");
}

fn sample_value(ty: &IoType) -> &'static str {
    match ty {
        IoType::Parameter(ParamType::Int) => "1",
        IoType::Parameter(ParamType::Float) => "0.5",
        IoType::Parameter(ParamType::Bool) => "true",
        IoType::Parameter(ParamType::List) => "[]",
        IoType::Parameter(ParamType::Map) => "{}",
        _ => "2024-01-01",
    }
}

//! Golden Workflows: the YAML of every example pipeline, which reads back as the Workflow it was
//! written from.

mod common;

use kfl_argo::{to_yaml, workflow, ArgoOptions};

#[test]
fn every_example_pipeline_has_its_workflow() {
    let (db, pipelines) = common::examples();
    assert!(pipelines.len() >= 7, "{pipelines:?}");
    for (path, name) in &pipelines {
        let dag = common::lower(&db, path, name);
        let wf = workflow(&dag, &ArgoOptions::default()).unwrap_or_else(|e| panic!("{path} {name}: {e}"));
        let stem = path.trim_start_matches("examples/").trim_end_matches(".kfl").replace('/', "__");
        let yaml = to_yaml(&wf);
        assert_reads_back(&yaml, &wf, name);
        insta::assert_snapshot!(format!("{stem}__{name}"), yaml);
    }
}

#[test]
fn every_fixture_pipeline_has_its_workflow() {
    let (db, pipelines) = common::fixtures();
    assert!(pipelines.len() >= 3, "{pipelines:?}");
    for (path, name) in &pipelines {
        let dag = common::lower(&db, path, name);
        let wf = workflow(&dag, &ArgoOptions::default()).unwrap_or_else(|e| panic!("{path} {name}: {e}"));
        let stem = path.trim_end_matches(".kfl").replace('/', "__");
        let yaml = to_yaml(&wf);
        assert_reads_back(&yaml, &wf, name);
        insta::assert_snapshot!(format!("{stem}__{name}"), yaml);
    }
}

fn assert_reads_back(yaml: &str, workflow: &serde_json::Value, name: &str) {
    let back: serde_json::Value = serde_norway::from_str(yaml).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(back == *workflow, "{name}: the YAML reads back as another value");
}

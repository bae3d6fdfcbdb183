//! Golden Workflows: the YAML of every example pipeline.

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
        insta::assert_snapshot!(format!("{stem}__{name}"), to_yaml(&wf));
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
        insta::assert_snapshot!(format!("{stem}__{name}"), to_yaml(&wf));
    }
}

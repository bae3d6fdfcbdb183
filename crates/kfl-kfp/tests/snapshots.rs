//! The KFP YAML of every example pipeline (and of `tests/cases/`), as insta snapshots
//! (`tests/snapshots/`).

mod common;

use kfl_kfp::{to_yaml, KfpOptions};

#[test]
fn every_example_pipeline_compiles_to_its_snapshot() {
    let pipelines = common::all_pipelines();
    assert!(pipelines.len() >= 9, "only {} pipelines", pipelines.len());
    for (name, dag) in pipelines {
        let yaml = to_yaml(&dag, &KfpOptions::default()).expect("serializes");
        insta::assert_snapshot!(name, yaml);
    }
}

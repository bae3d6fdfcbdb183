//! The KFP YAML of every example pipeline (and of `tests/cases/`), as insta snapshots
//! (`tests/snapshots/`); read back, the YAML is the PipelineSpec and PlatformSpec it was written from.

mod common;

use kfl_kfp::{pipeline_spec, to_yaml, KfpOptions};

#[test]
fn every_example_pipeline_compiles_to_its_snapshot() {
    let pipelines = common::all_pipelines();
    assert!(pipelines.len() >= 9, "only {} pipelines", pipelines.len());
    for (name, dag) in pipelines {
        let yaml = to_yaml(&dag, &KfpOptions::default());
        // The tasks are written from typed data: the same text as writing the JSON documents.
        assert_eq!(yaml, kfl_kfp::to_yaml_from_json(&dag, &KfpOptions::default()), "{name}");
        // Every line of a value is indented or quoted: `---` alone on a line separates documents.
        let documents: Vec<serde_json::Value> = yaml
            .split("\n---\n")
            .map(|document| serde_norway::from_str(document).unwrap_or_else(|e| panic!("{name}: {e}")))
            .collect();
        let (spec, platform) = pipeline_spec(&dag, &KfpOptions::default());
        let expected: Vec<serde_json::Value> = std::iter::once(spec).chain(platform).collect();
        assert!(documents == expected, "{name}: the YAML reads back as another value");
        insta::assert_snapshot!(name, yaml);
    }
}

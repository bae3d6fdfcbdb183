//! The real check: every example's (and test case's) PipelineSpec passes the kfp SDK's own parser and loader
//! (`../shared/tools/kfp-validate`, beside the clone, which makes its virtual environment once).

mod common;

use std::process::Command;

use kfl_kfp::{to_yaml, KfpOptions};

#[test]
fn every_example_passes_kfp_validate() {
    let root = common::repo_root();
    let validator = root.join("../shared/tools/kfp-validate");
    assert!(
        validator.exists(),
        "{} is missing: the KFP check needs the shared tools beside the clone",
        validator.display()
    );
    let dir = std::env::temp_dir().join(format!("kfl-kfp-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut files = Vec::new();
    for (name, dag) in common::all_pipelines() {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, to_yaml(&dag, &KfpOptions::default())).expect("write");
        files.push(path);
    }
    let output = Command::new("bash").arg(&validator).args(&files).current_dir(&root).output().expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "kfp-validate failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let summary = stdout.lines().last().unwrap_or_default();
    assert_eq!(summary, format!("{} passed, 0 failed", files.len()));
}

//! The real check, run by `cargo test`: a real API server with Argo's CRD accepts every example's
//! Workflow under strict field validation, as JSON and as the YAML `kflc build` writes, and reads the
//! YAML as the same Workflow (see `apiserver.sh`, which this runs). It needs
//! `../shared/tools/k8s-testenv` beside the repository (or `KFL_TESTENV_TOOL`), as CI has.

mod common;

use std::process::Command;

use kfl_argo::{to_yaml, workflow, ArgoOptions};

#[test]
fn a_real_api_server_accepts_every_example_workflow_strictly() {
    let dir = std::env::temp_dir().join(format!("kfl-argo-workflows-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut count = 0;
    for (db, pipelines) in [common::examples(), common::fixtures()] {
        for (path, name) in &pipelines {
            count += 1;
            let dag = common::lower(&db, path, name);
            let metadata_name: String = format!("kfl-{}", dag.k8s_name).chars().take(63).collect();
            let options =
                ArgoOptions { name: Some(metadata_name.trim_end_matches('-').to_string()), ..Default::default() };
            let wf = workflow(&dag, &options).unwrap_or_else(|e| panic!("{path} {name}: {e}"));
            let stem = path.trim_end_matches(".kfl").replace('/', "__");
            let text = serde_json::to_string_pretty(&wf).expect("json");
            std::fs::write(dir.join(format!("{stem}__{name}.json")), text).expect("write");
            std::fs::write(dir.join(format!("{stem}__{name}.yaml")), to_yaml(&wf)).expect("write");
        }
    }
    let script = common::root().join("crates/kfl-argo/tests/apiserver.sh");
    let output = Command::new("bash").arg(&script).arg(&dir).output().expect("bash runs");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "apiserver.sh failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    // Each Workflow twice (JSON and YAML), and the control.
    let expected = format!("{} passed, 0 failed", 2 * count + 1);
    assert!(stdout.lines().any(|l| l == expected), "expected `{expected}`\n{stdout}");
}

//! From text to both backends, never a panic, and never an internal error of lowering: whatever the
//! checker accepts, the semantic model holds and lowering can lower.
//!
//! The input is UTF-8 (anything else is skipped); a NUL byte splits it into `lib.kfl` and
//! `main.kfl` as in `parse_check`. For every file the model is built, errors or not. When the
//! project has no errors, every pipeline of `main.kfl` is gathered (`kfl_check::model::program`),
//! lowered (`kfl_dag::lower`: an `Internal` error is a crash) and emitted by both backends, which
//! may refuse what they cannot express but must not panic.
#![no_main]

use kfl_check::{model, Database};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut db = Database::default();
    let main = match text.split_once('\0') {
        None => db.set_file("main.kfl", text.to_string()),
        Some((lib, main)) => {
            db.set_file("lib.kfl", lib.to_string());
            db.set_file("main.kfl", format!("import \"lib.kfl\"\n{main}"))
        }
    };
    for file in db.files() {
        model::file_model(&db, file);
    }
    if !model::errors_in_project(&db, main).is_empty() {
        return;
    }
    let names: Vec<String> = model::file_model(&db, main).pipelines.iter().map(|p| p.id.name.clone()).collect();
    for name in names {
        let program = match model::program(&db, main, Some(&name)) {
            Ok(program) => program,
            Err(e) => panic!("a pipeline without errors is not gathered: {e}"),
        };
        let dag = match kfl_dag::lower(&program) {
            Ok(dag) => dag,
            Err(e) => panic!("lowering failed on a pipeline the checker accepted: {e}"),
        };
        if let Ok(workflow) = kfl_argo::workflow(&dag, &kfl_argo::ArgoOptions::default()) {
            kfl_argo::to_yaml(&workflow);
        }
        if kfl_kfp::check(&dag).is_ok() {
            kfl_kfp::to_yaml(&dag, &kfl_kfp::KfpOptions::default());
        }
    }
});

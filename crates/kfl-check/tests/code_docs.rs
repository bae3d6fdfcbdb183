//! Every diagnostic code is documented with a failing and a fixed example, and both are true: the
//! example produces the code, the fix produces no error and not the code.
//!
//! A code about the command line (its examples carry a `$ kflc …` line, `CodeInfo::command`) is
//! never produced by the checker: there both examples' files must check without errors, since the
//! command is what is wrong, and `tests/diagnostics.rs` runs both commands with `kflc`.

mod common;

use common::*;
use kfl_diagnostics::codes::ALL;
use kfl_diagnostics::Severity;

#[test]
fn every_code_has_a_true_example_and_fix() {
    let mut failures = Vec::new();
    for info in ALL {
        let (Some(bad), Some(good)) = (info.example("Example"), info.example("Fix")) else {
            failures.push(format!("{}: the documentation lacks an `## Example` or `## Fix` block", info.id));
            continue;
        };
        if !info.doc.starts_with(&format!("# {}: {}\n", info.id, info.name)) {
            failures.push(format!("{}: the documentation must start with `# {}: {}`", info.id, info.id, info.name));
        }
        if let Some(command) = info.command("Example") {
            if info.command("Fix").is_none() {
                failures
                    .push(format!("{}: the example has a command line ({command:?}) but the fix has none", info.id));
            }
            for (heading, files) in [("example", &bad), ("fix", &good)] {
                let db = project(files);
                let errors: Vec<String> = diagnostics(&db, &files[0].0)
                    .iter()
                    .filter(|d| d.code == info.code || d.severity == Severity::Error)
                    .map(|d| format!("{} {}", d.code, d.message))
                    .collect();
                if !errors.is_empty() {
                    failures.push(format!(
                        "{}: the {heading}'s files, which its command runs on, produce {errors:?}",
                        info.id
                    ));
                }
            }
            continue;
        }
        let db = project(&bad);
        let found = diagnostics(&db, &bad[0].0);
        if !found.iter().any(|d| d.code == info.code) {
            failures.push(format!(
                "{}: the example does not produce it; it produces {:?}",
                info.id,
                found.iter().map(|d| format!("{} {}", d.code, d.message)).collect::<Vec<_>>()
            ));
        }
        let db = project(&good);
        let found = diagnostics(&db, &good[0].0);
        let wrong: Vec<String> = found
            .iter()
            .filter(|d| d.code == info.code || d.severity == Severity::Error)
            .map(|d| format!("{} {}", d.code, d.message))
            .collect();
        if !wrong.is_empty() {
            failures.push(format!("{}: the fix still produces {wrong:?}", info.id));
        }
    }
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
}

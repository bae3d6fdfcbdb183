//! Every diagnostic code is documented with a failing and a fixed example, and both are true: the
//! example produces the code, the fix produces no error and not the code.

mod common;

use common::*;
use kfl_diagnostics::codes::ALL;
use kfl_diagnostics::Severity;

/// The ```kfl block after a `## {heading}` line, split into files by `// file: NAME` lines.
fn example(doc: &str, heading: &str) -> Option<Vec<(String, String)>> {
    let start = doc.find(&format!("## {heading}\n"))?;
    let rest = &doc[start..];
    let open = rest.find("```kfl\n")? + "```kfl\n".len();
    let close = rest[open..].find("\n```")? + open;
    let block = &rest[open..=close];
    let mut files: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if let Some(name) = line.strip_prefix("// file:") {
            files.push((name.trim().to_string(), String::new()));
            continue;
        }
        if files.is_empty() {
            files.push(("example.kfl".to_string(), String::new()));
        }
        let last = files.last_mut()?;
        last.1.push_str(line);
        last.1.push('\n');
    }
    Some(files)
}

#[test]
fn every_code_has_a_true_example_and_fix() {
    let mut failures = Vec::new();
    for info in ALL {
        let (Some(bad), Some(good)) = (example(info.doc, "Example"), example(info.doc, "Fix")) else {
            failures.push(format!("{}: the documentation lacks an `## Example` or `## Fix` block", info.id));
            continue;
        };
        if !info.doc.starts_with(&format!("# {}: {}\n", info.id, info.name)) {
            failures.push(format!("{}: the documentation must start with `# {}: {}`", info.id, info.id, info.name));
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

//! Data-driven checker tests: every `.kfl` file under `tests/check/` (and every folder there, as one
//! project of several files) carries its expected diagnostics as inline marks, `// ^^^ E0102`.
//! Every diagnostic the checker reports must be marked, and every mark must be reported.

mod common;

use std::path::Path;

use common::*;

fn read_case(root: &Path, path: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    if path.is_dir() {
        let mut stack = vec![path.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read case folder") {
                let p = entry.expect("entry").path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "kfl") {
                    files.push(p);
                }
            }
        }
    } else {
        files.push(path.to_path_buf());
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read case");
            (p.strip_prefix(root).expect("inside root").to_string_lossy().replace('\\', "/"), text)
        })
        .collect()
}

#[test]
fn inline_marks_match_the_checker() {
    let root = workspace_root();
    let dir = root.join("tests/check");
    let mut entries: Vec<_> =
        std::fs::read_dir(&dir).expect("tests/check exists").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    let mut failures = Vec::new();
    let mut cases = 0;
    for entry in entries {
        if !(entry.is_dir() || entry.extension().is_some_and(|e| e == "kfl")) {
            continue;
        }
        cases += 1;
        let files = read_case(&root, &entry);
        let db = project(&files);
        let mut expected = Vec::new();
        let mut actual = Vec::new();
        for (path, text) in &files {
            expected.extend(expected_marks(path, text));
            actual.extend(actual_marks(path, text, &diagnostics(&db, path)));
        }
        expected.sort();
        actual.sort();
        if expected != actual {
            let missing: Vec<String> = expected.iter().filter(|m| !actual.contains(m)).map(|m| m.to_string()).collect();
            let extra: Vec<String> = actual.iter().filter(|m| !expected.contains(m)).map(|m| m.to_string()).collect();
            let mut text = format!("{}:\n", entry.display());
            for (path, _) in &files {
                for d in diagnostics(&db, path) {
                    text.push_str(&format!("    reported {path} {:?} {}: {}\n", d.primary.span, d.code, d.message));
                }
            }
            text.push_str(&format!(
                "    expected but not reported: {missing:?}\n    reported but not expected: {extra:?}\n"
            ));
            failures.push(text);
        }
    }
    assert!(cases > 0, "no cases under tests/check");
    assert!(failures.is_empty(), "{} of {cases} cases differ:\n{}", failures.len(), failures.join("\n"));
}

/// Every example is a project that checks without a single diagnostic, warnings included.
#[test]
fn examples_check_clean() {
    let root = workspace_root();
    let files = read_case(&root, &root.join("examples"));
    assert!(files.len() >= 6, "expected the examples under examples/");
    let db = project(&files);
    let mut problems = Vec::new();
    for (path, _) in &files {
        for d in diagnostics(&db, path) {
            problems.push(format!("{path} {:?} {} {}", d.primary.span, d.code, d.message));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

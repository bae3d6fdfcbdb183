//! Data-driven formatter tests.
//!
//! - `tests/cases/NAME.kfl` is formatted and compared with `tests/cases/NAME.formatted.kfl`
//!   (`KFL_BLESS=1 cargo test -p kfl-fmt` rewrites the expected files).
//! - Every case, every expected output and every `.kfl` file under the workspace's `examples/` and
//!   `tests/` that parses cleanly must be stable: formatting twice changes nothing, the tree is the
//!   same before and after (spans aside) and so are the comments.

use std::path::{Path, PathBuf};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `.kfl` files under `dir`, recursively, sorted; none if it does not exist.
fn kfl_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                // Build output and the mirror of dependencies hold no sources of ours.
                if path.file_name().is_some_and(|n| n == "target" || n == ".git") {
                    continue;
                }
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "kfl") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The tree's debug form with every span (`12..34`) replaced by `_`: two trees are the same modulo
/// spans exactly when these strings are equal. Written independently of the formatter's own check.
fn tree_without_spans(text: &str) -> String {
    let parse = kfl_syntax::parse(text);
    let debug = format!("{:?}", parse.file);
    let chars: Vec<char> = debug.chars().collect();
    let mut out = String::with_capacity(debug.len());
    let mut i = 0;
    while i < chars.len() {
        let digits =
            |from: usize| chars.get(from..).map_or(0, |rest| rest.iter().take_while(|c| c.is_ascii_digit()).count());
        let left = digits(i);
        let preceded_by_word = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if left > 0 && !preceded_by_word {
            let dots = i + left;
            if chars.get(dots) == Some(&'.') && chars.get(dots + 1) == Some(&'.') {
                let right = digits(dots + 2);
                if right > 0 {
                    out.push('_');
                    i = dots + 2 + right;
                    continue;
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The plain comments' texts, trailing blanks trimmed, sorted.
fn comments(text: &str) -> Vec<String> {
    let mut texts: Vec<String> =
        kfl_syntax::parse(text).comments.iter().filter(|c| !c.is_doc).map(|c| c.text.trim_end().to_string()).collect();
    texts.sort();
    texts
}

/// Checks the formatter's invariants on a file that parses cleanly; returns the formatted text.
fn check_stable(name: &str, text: &str) -> String {
    check(name, text, false)
}

fn check(name: &str, text: &str, no_trailing_blanks: bool) -> String {
    let once = match kfl_fmt::format(text) {
        Ok(out) => out,
        Err(e) => panic!("{name}: {e}"),
    };
    let twice = match kfl_fmt::format(&once) {
        Ok(out) => out,
        Err(e) => panic!("{name}: the formatted text does not format: {e}\n{once}"),
    };
    assert!(once == twice, "{name}: formatting is not idempotent\n--- once\n{once}\n--- twice\n{twice}");
    let reparsed = kfl_syntax::parse(&once);
    assert!(reparsed.errors.is_empty(), "{name}: the output does not parse: {:?}", reparsed.errors);
    assert_eq!(tree_without_spans(text), tree_without_spans(&once), "{name}: the tree changed\n{once}");
    assert_eq!(comments(text), comments(&once), "{name}: comments changed");
    assert!(
        once.is_empty() || (once.ends_with('\n') && !once.ends_with("\n\n")),
        "{name}: the output must end with exactly one line break"
    );
    for (n, line) in once.lines().enumerate().filter(|_| no_trailing_blanks) {
        assert!(
            !line.ends_with(' ') || line.trim().is_empty() || line.trim_start().starts_with("///"),
            "{name}:{}: trailing blanks: {line:?}",
            n + 1
        );
    }
    once
}

#[test]
fn cases() {
    let bless = std::env::var("KFL_BLESS").is_ok_and(|v| v == "1");
    let inputs: Vec<PathBuf> =
        kfl_files(&cases_dir()).into_iter().filter(|p| !p.to_string_lossy().ends_with(".formatted.kfl")).collect();
    assert!(inputs.len() >= 8, "expected at least 8 cases in {:?}", cases_dir());
    let mut failures = Vec::new();
    for input in &inputs {
        let name = input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let text = std::fs::read_to_string(input).unwrap_or_else(|e| panic!("{name}: {e}"));
        let actual = check(&name, &text, true);
        let expected_path = input.with_extension("formatted.kfl");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap_or_else(|e| panic!("{name}: {e}"));
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{name}: output differs from {}\n--- expected\n{expected}\n--- actual\n{actual}",
                expected_path.display()
            ));
        }
        // The expected output is itself formatted.
        assert_eq!(check_stable(&name, &expected), expected, "{name}: expected output is not stable");
    }
    assert!(failures.is_empty(), "{}\n(run with KFL_BLESS=1 to accept)", failures.join("\n"));
}

#[test]
fn examples_and_workspace_tests_are_stable() {
    let root = workspace_root();
    let mut checked = 0;
    let mut skipped = Vec::new();
    let files = [root.join("examples"), root.join("tests"), cases_dir()]
        .iter()
        .flat_map(|dir| kfl_files(dir))
        .collect::<Vec<_>>();
    for path in &files {
        // Files being written while this runs may be unreadable or broken; they are skipped.
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        if !kfl_syntax::parse(&text).errors.is_empty() {
            skipped.push(path.display().to_string());
            continue;
        }
        check_stable(&path.display().to_string(), &text);
        checked += 1;
    }
    eprintln!("checked {checked} files; skipped {} that do not parse: {skipped:?}", skipped.len());
    if files.len() > skipped.len() {
        assert!(checked > 0, "no file was checked");
    }
}

#[test]
fn files_with_syntax_errors_are_not_formatted() {
    for text in
        ["component c { image = }", "component c { image = \"abc\n }", "pipeline p( { }", "component c { x = \"\\q\" }"]
    {
        let error = match kfl_fmt::format(text) {
            Ok(out) => panic!("{text:?} formatted to {out:?}"),
            Err(e) => e,
        };
        assert!(!error.errors.is_empty(), "{text:?}");
        assert!(error.internal.is_none(), "{text:?}");
        assert!(error.to_string().starts_with("cannot format"), "{error}");
    }
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(kfl_fmt::format("").ok().as_deref(), Some(""));
    assert_eq!(kfl_fmt::format("  \n\n ").ok().as_deref(), Some(""));
    assert_eq!(kfl_fmt::format("\n\n// a\n\n\n\n// b\n// c   \n\n").ok().as_deref(), Some("// a\n\n// b\n// c\n"));
}

/// Cut every case at many places, or drop a character there: the formatter must never panic, and
/// whatever it accepts must be stable.
#[test]
fn never_panics_on_damaged_input() {
    for input in kfl_files(&cases_dir()) {
        let Ok(text) = std::fs::read_to_string(&input) else {
            continue;
        };
        let name = input.display().to_string();
        let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        for &cut in boundaries.iter().step_by(257) {
            let prefix = &text[..cut];
            if let Ok(out) = kfl_fmt::format(prefix) {
                check_stable(&format!("{name} cut at {cut}"), prefix);
                drop(out);
            }
            let mut without = String::from(prefix);
            let rest = &text[cut..];
            without.push_str(rest.get(rest.chars().next().map_or(0, char::len_utf8)..).unwrap_or(""));
            if kfl_fmt::format(&without).is_ok() {
                check_stable(&format!("{name} without the character at {cut}"), &without);
            }
        }
    }
}

/// Line endings and a byte-order mark change nothing.
#[test]
fn crlf_and_bom_format_like_lf() {
    for input in kfl_files(&cases_dir()) {
        let Ok(text) = std::fs::read_to_string(&input) else {
            continue;
        };
        let name = input.display().to_string();
        let lf = check_stable(&name, &text);
        let crlf = format!("\u{feff}{}", text.replace('\n', "\r\n"));
        let from_crlf = check_stable(&format!("{name} with CRLF and a BOM"), &crlf);
        assert_eq!(lf, from_crlf, "{name}: CRLF or a BOM changes the layout");
    }
}

/// Comments, doc comments and line breaks inserted at random places: whatever still parses must
/// format stably, keep the tree and keep every comment.
#[test]
fn comments_anywhere() {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let texts: Vec<(String, String)> = kfl_files(&cases_dir())
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".formatted.kfl"))
        .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(&p).ok()?)))
        .collect();
    assert!(!texts.is_empty());
    let mut checked = 0;
    for round in 0..120 {
        let pick = usize::try_from(random()).unwrap_or(0) % texts.len();
        let (name, text) = &texts[pick];
        let mut text = text.clone();
        for _ in 0..1 + random() % 3 {
            let places: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            let at = places[usize::try_from(random()).unwrap_or(0) % places.len()];
            let insert = match random() % 6 {
                0 => format!(" // c{round}\n"),
                1 => format!("\n// d{round}\n"),
                2 => format!("\n\n// e{round}\n\n"),
                3 => format!("\n/// doc{round}\n"),
                4 => "\n\n".to_string(),
                _ => " ".to_string(),
            };
            text.insert_str(at, &insert);
        }
        if kfl_syntax::parse(&text).errors.is_empty() {
            check_stable(&format!("{name} (round {round})\n{text}"), &text);
            checked += 1;
        }
    }
    assert!(checked > 10, "only {checked} variants parsed");
}

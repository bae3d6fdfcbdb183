//! Highlighting agrees across editors: tests/editors/highlight-classes.txt maps each token class
//! (keyword, type, artifact type, quantity, duration, string, comment, doc comment, field,
//! parameter, task name, …) to the capture each editor's highlights.scm gives a token of that class
//! in tests/editors/highlight-classes.kfl, and this test checks every row against the queries.
//!
//! How a capture is chosen where patterns overlap differs between editors (Neovim: the last pattern
//! wins; tree-sitter-highlight: the first; Helix and Zed have changed their rule over time), so no
//! query set may overlap at all: no node of any example gets two captures.
//!
//! Every keyword of the grammar must be captured by every highlights.scm, so that a new keyword
//! cannot be coloured in one editor and not in another. Every editor's injections.scm puts Python
//! into `python` scripts and bash into `sh` scripts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use streaming_iterator::StreamingIterator;
use tree_sitter::{Query, QueryCursor, Tree};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Editor {
    name: &'static str,
    queries: &'static str,
    column: usize,
}

const EDITORS: [Editor; 3] = [
    Editor { name: "Neovim", queries: "editors/tree-sitter-kfl/queries", column: 3 },
    Editor { name: "Helix", queries: "editors/helix/runtime/queries/kfl", column: 4 },
    Editor { name: "Zed", queries: "editors/zed/languages/kfl", column: 5 },
];

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(text: &str) -> Tree {
    let tree = kfl_tree_sitter::parse(text.as_bytes()).expect("a tree");
    assert_eq!(kfl_tree_sitter::first_error(&tree), None, "{}", tree.root_node().to_sexp());
    tree
}

fn highlights(editor: &Editor) -> Query {
    let path = repo().join(editor.queries).join("highlights.scm");
    Query::new(&kfl_tree_sitter::language(), &read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The captures of each node, by byte range: (pattern index, capture name), in pattern order.
/// Captures whose names start with `_` are helpers of predicates, not highlights.
fn captures(query: &Query, tree: &Tree, text: &str) -> BTreeMap<(usize, usize), Vec<(usize, String)>> {
    let mut out: BTreeMap<(usize, usize), Vec<(usize, String)>> = BTreeMap::new();
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(query, tree.root_node(), text.as_bytes());
    while let Some(m) = matches.next() {
        for capture in m.captures() {
            let name = query.capture_names()[capture.index as usize];
            if name.starts_with('_') {
                continue;
            }
            let entry = out.entry((capture.node.start_byte(), capture.node.end_byte())).or_default();
            if !entry.iter().any(|(p, n)| *p == m.pattern_index && n == name) {
                entry.push((m.pattern_index, name.to_string()));
            }
        }
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

#[test]
fn every_query_file_compiles_against_the_grammar() {
    let language = kfl_tree_sitter::language();
    let mut checked = 0;
    for editor in &EDITORS {
        let dir = repo().join(editor.queries);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        files.sort();
        for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "scm")) {
            if let Err(e) = Query::new(&language, &read(path)) {
                panic!("{}: {e}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} query files");
}

#[test]
fn each_token_class_has_the_listed_capture_in_every_editor() {
    let dir = repo().join("tests/editors");
    let text = read(&dir.join("highlight-classes.kfl"));
    let table = read(&dir.join("highlight-classes.txt"));
    let tree = parse(&text);
    let line_starts: Vec<usize> = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let mut failures = Vec::new();
    let mut rows = 0;
    let mut classes = std::collections::BTreeSet::new();
    for editor in &EDITORS {
        let query = highlights(editor);
        let by_range = captures(&query, &tree, &text);
        for row in table.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 6, "a row has 6 cells: {row}");
            let (line, column) = cells[1].split_once(':').expect("line:column");
            let (line, column): (usize, usize) = (line.parse().expect("a line"), column.parse().expect("a column"));
            let start = line_starts[line - 1] + column - 1;
            let token = cells[2];
            assert_eq!(
                text.get(start..start + token.len()),
                Some(token),
                "{row}: the sample has something else at {line}:{column}"
            );
            let expected = cells[editor.column];
            let found = by_range.get(&(start, start + token.len())).cloned().unwrap_or_default();
            if found.len() > 1 {
                failures.push(format!("{}: `{token}` ({}) has several captures: {found:?}", editor.name, cells[0]));
                continue;
            }
            let chosen = found.first().map(|(_, name)| name.clone());
            if chosen.as_deref() != Some(expected) {
                failures.push(format!(
                    "{}: `{token}` ({}) is {chosen:?}, the table says {expected}",
                    editor.name, cells[0]
                ));
            }
            rows += 1;
            classes.insert(cells[0].to_string());
        }
    }
    for class in [
        "keyword",
        "type",
        "artifact type",
        "quantity",
        "duration",
        "string",
        "comment",
        "doc comment",
        "field",
        "parameter",
        "task name",
    ] {
        assert!(classes.contains(class), "the table has no row for {class}");
    }
    assert!(rows >= 3 * 30, "{rows} rows checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_query_set_gives_a_node_two_captures() {
    let mut files = Vec::new();
    for dir in ["examples", "examples/multi_file", "examples/multi_file/components", "tests/editors"] {
        let dir = repo().join(dir);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        files.extend(
            entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "kfl")),
        );
    }
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    let mut failures = Vec::new();
    for editor in &EDITORS {
        let query = highlights(editor);
        for path in &files {
            let text = read(path);
            let tree = parse(&text);
            for ((start, end), found) in captures(&query, &tree, &text) {
                let names: std::collections::BTreeSet<_> = found.iter().map(|(_, n)| n).collect();
                if names.len() > 1 {
                    failures.push(format!(
                        "{}: `{}` in {} has {names:?}",
                        editor.name,
                        &text[start..end],
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_keyword_is_highlighted_in_every_editor() {
    let language = kfl_tree_sitter::language();
    let keywords: std::collections::BTreeSet<&str> = (0..language.node_kind_count() as u16)
        .filter(|&id| !language.node_kind_is_named(id) && language.node_kind_is_visible(id))
        .filter_map(|id| language.node_kind_for_id(id))
        .filter(|kind| !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase()))
        .collect();
    assert!(keywords.len() >= 19, "{keywords:?}");
    for editor in &EDITORS {
        let query = read(&repo().join(editor.queries).join("highlights.scm"));
        for keyword in &keywords {
            // `true`/`false` are captured as (boolean), `python`/`sh` as (script_language).
            let covered = query.contains(&format!("\"{keyword}\""))
                || (["true", "false"].contains(keyword) && query.contains("(boolean)"))
                || (["python", "sh"].contains(keyword) && query.contains("(script_language)"));
            assert!(covered, "{}: the keyword `{keyword}` is not in highlights.scm", editor.name);
        }
    }
}

#[test]
fn scripts_are_injected_as_python_and_bash_in_every_editor() {
    let text =
        "component c {\n    python \"\"\"\n        print(1)\n    \"\"\"\n}\n\ncomponent d {\n    sh \"echo $x\"\n}\n";
    let tree = parse(text);
    for editor in &EDITORS {
        let path = repo().join(editor.queries).join("injections.scm");
        let query = Query::new(&kfl_tree_sitter::language(), &read(&path))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let content = query.capture_index_for_name("injection.content").expect("an @injection.content capture");
        let mut injected = Vec::new();
        let mut cursor = QueryCursor::new();
        let mut matches = cursor.matches(&query, tree.root_node(), text.as_bytes());
        while let Some(m) = matches.next() {
            let language = query
                .property_settings(m.pattern_index)
                .iter()
                .find(|p| &*p.key == "injection.language")
                .and_then(|p| p.value.as_deref().map(str::to_string));
            for capture in m.captures().iter().filter(|c| c.index == content) {
                let node_text = &text[capture.node.byte_range()];
                injected.push((language.clone().unwrap_or_default(), node_text.trim().to_string()));
            }
        }
        injected.retain(|(language, _)| language != "comment");
        assert_eq!(
            injected,
            [("python".to_string(), "print(1)".to_string()), ("bash".to_string(), "echo $x".to_string())],
            "{}",
            editor.name
        );
    }
}

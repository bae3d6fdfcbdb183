//! Conformance of the tree-sitter grammar with the pest grammar, the single source of truth for the
//! syntax: every file `kfl_syntax::parse` accepts (no errors) parses with tree-sitter without ERROR
//! or MISSING nodes, and every file it rejects has at least one.
//!
//! The inputs: every `.kfl` file of the repository (examples, test fixtures, editor tests), every
//! ```` ```kfl ```` snippet of its Markdown files (docs/language.md, the diagnostic codes' pages, …), and a few thousand deterministic mutations of them
//! (tokens and bytes deleted, duplicated, swapped or replaced, from a fixed seed).
//!
//! Principled exceptions (see [`exception`]):
//! - kfl-syntax limits nesting to `kfl_syntax::MAX_NESTING` levels and `and`/`or` chains to
//!   `kfl_syntax::MAX_OPERANDS` operands, so that no input exhausts the stack of the recursive
//!   checker and formatter. Those are limits of the implementation, not of the syntax: tree-sitter
//!   parses with a heap-allocated stack and accepts such files, and editors should too.

mod common;

use std::path::{Path, PathBuf};

use common::{disagreement, exception};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file under `dir` whose name ends with `suffix`, skipping build output and hidden folders.
fn files(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() {
            if !(name.starts_with('.') || name == "target" || name.starts_with("target-") || name == "node_modules") {
                files(&path, suffix, out);
            }
        } else if name.ends_with(suffix) {
            out.push(path);
        }
    }
}

/// The ```` ```kfl ```` blocks of a Markdown file.
fn kfl_snippets(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_start() == "```kfl" => current = Some(String::new()),
            Some(text) if line.trim_start() == "```" => {
                out.push(std::mem::take(text));
                current = None;
            }
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    out
}

struct Input {
    name: String,
    text: String,
}

fn inputs() -> Vec<Input> {
    let root = repo_root();
    let name = |path: &Path| path.strip_prefix(&root).unwrap_or(path).display().to_string();
    let mut kfl = Vec::new();
    files(&root, ".kfl", &mut kfl);
    let mut out: Vec<Input> = kfl
        .iter()
        .filter_map(|path| Some(Input { name: name(path), text: std::fs::read_to_string(path).ok()? }))
        .collect();
    // The documentation: docs/language.md, the README, each diagnostic code's page, the editors' guides.
    let mut markdown = Vec::new();
    files(&root, ".md", &mut markdown);
    for doc in markdown {
        let Ok(text) = std::fs::read_to_string(&doc) else { continue };
        for (i, snippet) in kfl_snippets(&text).into_iter().enumerate() {
            out.push(Input { name: format!("{} snippet {}", name(&doc), i + 1), text: snippet });
        }
    }
    out
}

#[test]
fn every_file_and_snippet_agrees_with_pest() {
    let inputs = inputs();
    assert!(inputs.len() >= 200, "found only {} inputs: is the repository root right?", inputs.len());
    let snippets = inputs.iter().filter(|i| i.name.starts_with("docs/language.md snippet")).count();
    assert!(snippets >= 20, "only {snippets} snippets of docs/language.md");
    let accepted = inputs.iter().filter(|i| kfl_syntax::parse(&i.text).errors.is_empty()).count();
    // The examples and most fixtures are valid, some fixtures and snippets are not: both kinds count.
    assert!(accepted >= 80 && accepted < inputs.len(), "{accepted} of {} inputs accepted by pest", inputs.len());
    let failures: Vec<String> = inputs.iter().filter_map(|i| disagreement(&i.name, &i.text)).collect();
    assert!(failures.is_empty(), "{} of {} inputs disagree:\n{}", failures.len(), inputs.len(), failures.join("\n"));
}

/// A deterministic generator (xorshift64*), so that every run tries the same mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Byte ranges of the tokens of `text`, roughly: words (with a number's unit), runs of other
/// punctuation one character each, strings and comments whole.
fn tokens(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || bytes[i] == b'_'
                    || bytes[i] == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
            {
                i += 1;
            }
        } else if text[i..].starts_with("\"\"\"") {
            i = text[i + 3..].find("\"\"\"").map_or(bytes.len(), |e| i + 3 + e + 3);
        } else if c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
        } else if text[i..].starts_with("//") {
            i = text[i..].find('\n').map_or(bytes.len(), |e| i + e);
        } else if ["==", "!=", "<=", ">="].iter().any(|op| text[i..].starts_with(op)) {
            i += 2;
        } else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
        out.push((start, i.min(bytes.len())));
    }
    out
}

/// Characters that make interesting replacements and insertions.
const PIECES: &[&str] = &[
    "{", "}", "(", ")", "[", "]", "<", ">", ",", ":", "=", ".", "\"", "\"\"\"", "///", "//", "\\", "-", "0", "5m", "x",
    "in", "if", "else", "for", "output", "input", "python", "sh", "not", "and", "true", "f(", "\n", " ", "\u{FEFF}",
    "\t", "é", "\0", "1e", "==",
];

fn mutate(text: &str, rng: &mut Rng) -> (String, String) {
    let toks = tokens(text);
    let pick = |rng: &mut Rng| toks[rng.below(toks.len())];
    let boundary = |text: &str, mut at: usize| {
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    match rng.below(8) {
        0 => {
            let (s, e) = pick(rng);
            (format!("delete token {s}..{e}"), format!("{}{}", &text[..s], &text[e..]))
        }
        1 => {
            let (s, e) = pick(rng);
            (format!("duplicate token {s}..{e}"), format!("{}{}{}", &text[..e], &text[s..e], &text[e..]))
        }
        2 => {
            let i = rng.below(toks.len().saturating_sub(1));
            let ((s1, e1), (s2, e2)) = (toks[i], toks[(i + 1).min(toks.len() - 1)]);
            if s2 < e1 {
                return ("nothing".into(), text.to_string());
            }
            (
                format!("swap tokens at {s1} and {s2}"),
                format!("{}{}{}{}{}", &text[..s1], &text[s2..e2], &text[e1..s2], &text[s1..e1], &text[e2..]),
            )
        }
        3 => {
            let at = boundary(text, rng.below(text.len()));
            let len = text[at..].chars().next().map_or(0, char::len_utf8);
            (format!("delete byte {at}"), format!("{}{}", &text[..at], &text[at + len..]))
        }
        4 => {
            let at = boundary(text, rng.below(text.len() + 1));
            let piece = PIECES[rng.below(PIECES.len())];
            (format!("insert {piece:?} at {at}"), format!("{}{piece}{}", &text[..at], &text[at..]))
        }
        5 => {
            let (s, e) = pick(rng);
            let piece = PIECES[rng.below(PIECES.len())];
            (format!("replace token {s}..{e} by {piece:?}"), format!("{}{piece}{}", &text[..s], &text[e..]))
        }
        6 => {
            // A run of one to six tokens copied to another place: a construct out of its context.
            let i = rng.below(toks.len());
            let j = (i + rng.below(6)).min(toks.len() - 1);
            let (s, e) = (toks[i].0, toks[j].1);
            let at = toks[rng.below(toks.len())].0;
            let piece = &text[s..e];
            (format!("copy {s}..{e} to {at}"), format!("{} {piece} {}", &text[..at], &text[at..]))
        }
        _ => {
            // Two tokens away from each other: moves a closing bracket or a keyword far.
            let (s, e) = pick(rng);
            let at = boundary(text, rng.below(text.len() + 1));
            let without = format!("{}{}", &text[..s], &text[e..]);
            let at = if at > s { at.saturating_sub(e - s).max(s) } else { at };
            let at = boundary(&without, at.min(without.len()));
            (format!("move token {s}..{e} to {at}"), format!("{}{}{}", &without[..at], &text[s..e], &without[at..]))
        }
    }
}

#[test]
fn mutations_agree_with_pest() {
    const MUTATIONS: usize = 4000;
    let mut bases: Vec<Input> =
        inputs().into_iter().filter(|i| !i.text.trim().is_empty() && i.text.len() < 20_000).collect();
    // Small files first: their mutations are cheap and each one is a larger share of the file.
    bases.sort_by_key(|i| (i.text.len(), i.name.clone()));
    let mut rng = Rng(0x4B46_4C5F_7473_2D31);
    let mut failures = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for n in 0..MUTATIONS {
        let base = &bases[n % bases.len()];
        let (what, text) = mutate(&base.text, &mut rng);
        if kfl_syntax::parse(&text).errors.is_empty() {
            accepted += 1;
        } else {
            rejected += 1;
        }
        if let Some(failure) = disagreement(&format!("{} ({what}, mutation {n})", base.name), &text) {
            failures.push(failure);
        }
    }
    // Both directions are exercised: a mutation keeps the file valid often enough.
    assert!(accepted >= 200 && rejected >= 2000, "{accepted} mutations accepted, {rejected} rejected");
    let shown: Vec<_> = failures.iter().take(15).cloned().collect();
    assert!(
        failures.is_empty(),
        "{} of {MUTATIONS} mutations disagree; the first:\n{}",
        failures.len(),
        shown.join("\n")
    );
}

#[test]
fn cases_where_pest_and_lr_parsing_differ() {
    // Each of these is accepted or rejected by pest for a reason an LR grammar must imitate
    // (grammar.js explains each); both grammars must give the same answer.
    let cases = [
        ("pipeline p() {\n    x = f().y\n}\n", false),
        ("pipeline p() {\n    x = f() == 1\n}\n", false),
        ("pipeline p() {\n    x = (f()).y\n    y = not f()\n    output z = f().y\n}\n", true),
        ("component c {\n    x = f().y\n}\n", true),
        ("component c {\n    x = input\n}\n", false),
        ("component c {\n    inputs = 1\n    python = 2\n    sh { a = 1 }\n}\n", true),
        ("component c {\n    x = a < b < c\n}\n", false),
        ("component c {\n    input x: List<Int>= []\n}\n", true),
        ("component c {\n    env{\"a\"=\"\"\"b\"=\"\"}\n}\n", true),
        ("component c {\n    python \"\"\"\n}\n", false),
        ("component c {\n    x = \"\\q\"\n}\n", false),
        ("component c {\n    x = \"// not a comment\"\n    y = \"/// nor this\"\n}\n", true),
        ("component c {\n    x = 1\n    /// documents nothing\n}\n", false),
        ("//// not a doc comment\ncomponent c {}\n////\n", true),
        ("component c {\n    x = 5in\n    y = 1e\n    z = 1.x\n}\n", true),
        ("component c {\n    x = - 1\n}\n", false),
        ("component c {\n    x = 1\u{0}\n}\n", false),
        ("\u{FEFF}component c {}\n", true),
        ("component c {\n    x = \"abc\n\"\n}\n", false),
        ("component c {\n    x = \" a \\\" \"\n}\n", true),
        ("component componentx {}\ncomponentx {}\n", false),
        ("// a\u{0}b\ncomponent c {\n    /// d\u{0}\n    x = \"a\u{0}b\"\n    sh \"\"\"\u{0}\"\"\"\n}\n", true),
        ("component c {\n    x = a\n    (b)\n}\n", true),
    ];
    let mut failures = Vec::new();
    for (i, (text, valid)) in cases.iter().enumerate() {
        let pest = kfl_syntax::parse(text).errors.is_empty();
        assert_eq!(pest, *valid, "case {i}: pest {} it:\n{text}", if pest { "accepts" } else { "rejects" });
        if let Some(failure) = disagreement(&format!("case {i}"), text) {
            failures.push(failure);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn nesting_beyond_pests_limit_is_the_listed_exception() {
    let depth = kfl_syntax::MAX_NESTING + 10;
    let text = format!("component c {{\n    x = {}1{}\n}}\n", "(".repeat(depth), ")".repeat(depth));
    let pest = kfl_syntax::parse(&text);
    assert!(exception(&pest).is_some(), "pest: {:?}", pest.errors);
    let tree = kfl_tree_sitter::parse(text.as_bytes()).expect("a tree");
    assert_eq!(kfl_tree_sitter::first_error(&tree), None);
}

#[test]
fn cases_kfl_syntax_once_got_wrong_agree() {
    // A byte order mark between a doc comment and its item, after another item: accepted by both.
    let text = "artifact S\n/// a\n\u{FEFF}artifact T\n";
    assert!(kfl_syntax::parse(text).errors.is_empty());
    assert_eq!(disagreement("bom between doc and item", text), None);
    // A file holding only a doc comment: refused by both.
    let text = "/// documents nothing\n";
    assert!(!kfl_syntax::parse(text).errors.is_empty());
    assert_eq!(disagreement("lonely doc comment", text), None);
}

#[test]
fn an_error_in_one_component_leaves_the_next_one_whole() {
    let text = "component broken {\n    x = = 1\n}\n\ncomponent fine {\n    image = \"busybox\"\n    sh \"\"\"echo hi\"\"\"\n}\n";
    let tree = kfl_tree_sitter::parse(text.as_bytes()).expect("a tree");
    let root = tree.root_node();
    assert!(root.has_error());
    let fine_start = text.find("component fine").unwrap_or_default();
    let mut cursor = root.walk();
    let fine = root.children(&mut cursor).find(|n| n.start_byte() == fine_start);
    let fine = fine.unwrap_or_else(|| panic!("no node starts at the second component: {}", root.to_sexp()));
    assert_eq!(fine.kind(), "component");
    assert!(!fine.has_error(), "{}", fine.to_sexp());
}

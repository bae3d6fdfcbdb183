//! Tree-sitter must never hang or crash, whatever the input: 5 MB lines, NUL bytes, unterminated
//! strings and scripts, deep nesting, random bytes. Each input is parsed on its own thread with a
//! generous time budget (a hang fails the test instead of blocking it); the budget is not a
//! benchmark, only a bound that a parser stuck in a loop would exceed.

use std::sync::mpsc;
use std::time::Duration;

const BUDGET: Duration = Duration::from_secs(120);

/// Parses `text` on another thread; fails if that takes longer than [`BUDGET`] or panics. Returns
/// whether the tree has an ERROR or MISSING node and the root's end byte.
fn parse_within_budget(name: &str, text: Vec<u8>) -> (bool, usize) {
    let (send, receive) = mpsc::channel();
    let len = text.len();
    std::thread::spawn(move || {
        let tree = kfl_tree_sitter::parse(&text);
        let _ = send.send(tree.map(|tree| (tree.root_node().has_error(), tree.root_node().end_byte())));
    });
    match receive.recv_timeout(BUDGET) {
        Ok(Some(result)) => {
            assert!(result.1 <= len, "{name}: the tree ends at {} beyond the input's {len} bytes", result.1);
            result
        }
        Ok(None) => panic!("{name}: tree-sitter returned no tree"),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name}: no tree within {BUDGET:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{name}: the parsing thread panicked"),
    }
}

const FIVE_MB: usize = 5 * 1024 * 1024;
const ONE_MB: usize = 1024 * 1024;

#[test]
fn five_megabyte_lines() {
    let long_string = format!("component c {{\n    x = \"{}\"\n}}\n", "a".repeat(FIVE_MB));
    assert!(!parse_within_budget("a 5 MB string", long_string.into_bytes()).0);

    let long_name = format!("component {} {{}}\n", "n".repeat(FIVE_MB));
    assert!(!parse_within_budget("a 5 MB name", long_name.into_bytes()).0);

    let long_comment = format!("// {}\ncomponent c {{}}\n", "/".repeat(FIVE_MB));
    assert!(!parse_within_budget("a 5 MB comment", long_comment.into_bytes()).0);

    let list = format!("component c {{ x = [{}1] }}\n", "\"abcdefghijklmnopqrstuvwxyz\", ".repeat(FIVE_MB / 30));
    assert!(!parse_within_budget("a 5 MB list on one line", list.into_bytes()).0);
}

#[test]
fn one_megabyte_lines_of_errors() {
    // Errors everywhere on one line: error recovery must not hang.
    let garbage = format!("component c {{ {} }}\n", "= ( } { ] \"\"\" ".repeat(ONE_MB / 16));
    assert!(parse_within_budget("1 MB of misplaced punctuation", garbage.into_bytes()).0);

    let keywords = "if else for in component ".repeat(ONE_MB / 25);
    assert!(parse_within_budget("1 MB of keywords", keywords.into_bytes()).0);
}

#[test]
fn nul_bytes() {
    assert!(parse_within_budget("only NULs", vec![0; 100_000]).0);
    let mut text = b"component c {\n    x = 1\n}\n".to_vec();
    text.insert(14, 0);
    assert!(parse_within_budget("a NUL between members", text).0);
    let mut text = b"component c {\n    python \"\"\"\nprint(1)\n\"\"\"\n}\n".to_vec();
    text.insert(30, 0);
    assert!(!parse_within_budget("a NUL inside a script", text).0);
    let mut text = b"// x\ncomponent c {}\n".to_vec();
    text.insert(3, 0);
    assert!(!parse_within_budget("a NUL inside a comment", text).0);
}

#[test]
fn unterminated_strings_and_scripts() {
    let script = format!("component c {{\n    python \"\"\"\n{}", "print('x')\n".repeat(200_000));
    assert!(parse_within_budget("an unterminated 2 MB script", script.into_bytes()).0);

    let quotes = "\"\"\"".repeat(100_000) + "\"";
    let (has_error, _) = parse_within_budget(
        "100,000 triple quotes and one more",
        format!("component c {{ x = {quotes} }}").into_bytes(),
    );
    assert!(has_error);

    let many = "component c {\n    x = \"\"\"\n".repeat(50_000);
    assert!(parse_within_budget("50,000 unterminated triple-quoted strings", many.into_bytes()).0);

    let plain = format!("component c {{\n    x = \"{}", "a".repeat(FIVE_MB));
    assert!(parse_within_budget("an unterminated 5 MB string", plain.into_bytes()).0);

    assert!(parse_within_budget("a lone quote", b"\"".to_vec()).0);
    assert!(parse_within_budget("a lone triple quote", b"\"\"\"".to_vec()).0);
}

#[test]
fn deep_nesting() {
    let depth = 100_000;
    let text = format!("component c {{ x = {}1{} }}\n", "(".repeat(depth), ")".repeat(depth));
    assert!(!parse_within_budget("100,000 nested parentheses", text.into_bytes()).0);
    let text = format!("component c {{ x = {}1 }}\n", "not ".repeat(depth));
    assert!(!parse_within_budget("100,000 nots", text.into_bytes()).0);
    let text = "[".repeat(depth);
    assert!(parse_within_budget("100,000 unclosed brackets", text.into_bytes()).0);
}

#[test]
fn random_bytes() {
    // xorshift64*, seeded: the same bytes on every run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for round in 0..20 {
        let len = 1 + (next() % 200_000) as usize;
        let alphabet: &[u8] = b"{}()[]<>=,:.\"\\/ \n\tabcinfor0159-_";
        let text: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if r % 8 == 0 {
                    (r >> 8) as u8
                } else {
                    alphabet[(r >> 8) as usize % alphabet.len()]
                }
            })
            .collect();
        parse_within_budget(&format!("random bytes, round {round}"), text);
    }
}

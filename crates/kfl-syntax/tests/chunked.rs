//! Parsing in pieces (`kfl_syntax::parse`) against parsing the whole file in one go
//! (`kfl_syntax::parse_whole`), on every `.kfl` file of the repository and on thousands of variants
//! of them with a few characters deleted or inserted (many of which break a piece, some of which
//! move the cuts):
//! - without syntax errors, both give the same;
//! - with syntax errors, both report some; every item the whole parse keeps is kept the same, and
//!   the only items parsing in pieces keeps besides are pipelines with broken statements left out.

mod common;

use common::{kfl_files, read};

use kfl_syntax::ast::Item;
use kfl_syntax::{parse, parse_whole};

fn has_syntax_error(parse: &kfl_syntax::Parse) -> bool {
    use kfl_diagnostics::Code;
    parse.errors.iter().any(|e| matches!(e.code, Code::SyntaxError | Code::UnterminatedString))
}

/// Checks the invariants above; returns the whole-file parse.
#[track_caller]
fn assert_same(text: &str, what: &str) -> kfl_syntax::Parse {
    let pieces = parse(text);
    let whole = parse_whole(text);
    if pieces == whole {
        return whole;
    }
    let scan = kfl_syntax::scan::scan(text);
    let context = || {
        format!(
            "--- text ---\n{text}\n--- chunks ---\n{:#?}\n--- pieces ---\n{pieces:#?}\n--- whole ---\n{whole:#?}",
            kfl_syntax::chunk::chunks(text, &scan)
        )
    };
    assert!(
        has_syntax_error(&whole),
        "{what}: a text without syntax errors parses differently in pieces\n{}",
        context()
    );
    assert!(has_syntax_error(&pieces), "{what}: parsing in pieces found no syntax error\n{}", context());
    // Every item of the whole parse, in order, and besides only pipelines with broken statements.
    let mut kept = whole.file.items.iter().peekable();
    for item in &pieces.file.items {
        if kept.peek() == Some(&item) {
            kept.next();
        } else {
            let salvaged = matches!(item, Item::Pipeline(p) if !p.broken.is_empty());
            assert!(salvaged, "{what}: an item parsed in pieces differs\n{item:#?}\n{}", context());
        }
    }
    assert_eq!(kept.next(), None, "{what}: an item of the whole parse is missing\n{}", context());
    whole
}

#[test]
fn every_file_parses_the_same_in_pieces() {
    let mut pieces = 0;
    for path in kfl_files() {
        let text = read(&path);
        assert_same(&text, &path.display().to_string());
        // Windows line breaks and a byte order mark change nothing either.
        let crlf = format!("\u{FEFF}{}", text.replace('\n', "\r\n"));
        assert_same(&crlf, &format!("{} with CRLF and a BOM", path.display()));
        let scan = kfl_syntax::scan::scan(&text);
        pieces += kfl_syntax::chunk::chunks(&text, &scan).iter().map(|item| item.chunks.len()).sum::<usize>();
    }
    assert!(pieces > 100, "the files were cut into only {pieces} pieces");
}

/// Small edits where they matter most (line starts, brackets, quotes, comments) and elsewhere.
#[test]
fn edited_files_parse_the_same_in_pieces() {
    const INSERTS: [&str; 19] = [
        "\u{FEFF}",
        "",
        " ",
        "\n",
        "}",
        "{",
        "\"",
        "x",
        "//",
        "///",
        "(",
        ")",
        "1",
        "else ",
        "and ",
        "\n    t = a()\n",
        "\"\"\"",
        "\n}\n",
        "\\q",
    ];
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let mut variants = 0;
    let mut with_errors = 0;
    let mut salvaged = 0;
    for path in kfl_files() {
        let text = read(&path);
        if text.is_empty() || text.len() > 20_000 {
            continue;
        }
        let line_starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .filter(|&i| i < text.len())
            .collect();
        for round in 0..32 {
            // Half the edits at a line start or just after its indentation, half anywhere.
            let at = if round % 2 == 0 {
                let line = line_starts[next(line_starts.len())];
                line + text[line..].len() - text[line..].trim_start_matches([' ', '\t']).len()
            } else {
                next(text.len())
            };
            let Some(at) = (at..=text.len()).find(|&i| text.is_char_boundary(i)) else { continue };
            let remove = next(3);
            let end = (at + remove..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
            let edited = format!("{}{}{}", &text[..at], INSERTS[next(INSERTS.len())], &text[end..]);
            let parsed = assert_same(&edited, &format!("{} edited at {at}", path.display()));
            variants += 1;
            with_errors += usize::from(!parsed.errors.is_empty());
            salvaged += usize::from(
                parse(&edited).file.items.iter().any(|i| matches!(i, Item::Pipeline(p) if !p.broken.is_empty())),
            );
        }
    }
    assert!(variants > 1000, "only {variants} variants");
    // Both kinds must be well represented for the comparison to mean something.
    assert!(with_errors > variants / 10 && with_errors < variants * 9 / 10, "{with_errors} of {variants} had errors");
    assert!(salvaged > variants / 20, "only {salvaged} of {variants} kept a pipeline with broken statements");
}

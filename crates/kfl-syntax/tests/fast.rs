//! The hand-written fast parser against pest, chunk by chunk (`kfl_syntax::chunk`), on every `.kfl`
//! file of the repository and on thousands of variants of them with tokens deleted, inserted,
//! duplicated or swapped:
//! - wherever the fast parser gives a tree, pest accepts the chunk and builds the same tree;
//! - on the repository's files (which parse), the fast parser answers every chunk pest accepts
//!   without a lexical error, so the fast path is the path taken.

mod common;

use common::{kfl_files, read};

use kfl_syntax::chunk::{self, ChunkKind};

/// What happened to the chunks of one text.
#[derive(Default)]
struct Tally {
    chunks: usize,
    fast: usize,
    /// Chunks pest accepts without a lexical error that the fast parser gave up on.
    fast_gave_up: Vec<String>,
}

/// Holds the fast parser to pest on every chunk of `text`.
#[track_caller]
fn compare(text: &str, what: &str, tally: &mut Tally) {
    let scan = kfl_syntax::scan::scan(text);
    for item in chunk::chunks(text, &scan) {
        for c in item.chunks {
            if c.kind == ChunkKind::PipelineEnd {
                continue;
            }
            let piece = &text[c.start..c.end];
            tally.chunks += 1;
            let fast = chunk::parse_chunk_fast(c.kind, piece);
            let pest = chunk::parse_chunk_with_pest(c.kind, piece);
            match (fast, pest) {
                (Some(fast), Some(pest)) => {
                    assert!(
                        pest.errors.is_empty(),
                        "{what}: the fast parser accepted a chunk in which pest's builder reports {:?}\n--- chunk ({:?}) ---\n{piece}",
                        pest.errors,
                        c.kind
                    );
                    assert_eq!(fast, pest.tree, "{what}: the trees differ\n--- chunk ({:?}) ---\n{piece}", c.kind);
                    tally.fast += 1;
                }
                (Some(fast), None) => {
                    panic!("{what}: the fast parser accepted a chunk pest refuses\n--- chunk ({:?}) ---\n{piece}\n--- tree ---\n{fast:#?}", c.kind)
                }
                (None, Some(pest)) if pest.errors.is_empty() && !piece.contains('\u{FEFF}') => {
                    tally.fast_gave_up.push(format!("{what} ({:?}):\n{piece}", c.kind));
                }
                (None, _) => {}
            }
        }
    }
}

#[test]
fn the_fast_parser_answers_every_chunk_of_the_repository_as_pest_does() {
    let mut tally = Tally::default();
    for path in kfl_files() {
        compare(&read(&path), &path.display().to_string(), &mut tally);
    }
    assert!(tally.chunks > 200, "expected the repository's chunks, found {}", tally.chunks);
    assert!(
        tally.fast_gave_up.is_empty(),
        "the fast parser gave up on {} chunks pest accepts; the first:\n{}",
        tally.fast_gave_up.len(),
        tally.fast_gave_up[0]
    );
}

/// A small deterministic generator (xorshift), so that a failure is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "=",
    "==",
    "!=",
    "<",
    ">=",
    ".",
    "\"",
    "\"\"\"",
    "///",
    "/// d\n",
    "//",
    "////",
    "\n",
    " ",
    "\r\n",
    "\t",
    "-",
    "1",
    "1.5",
    "2Gi",
    "1e3",
    "1h30m",
    "x",
    "_y",
    "a.b",
    "f(x)",
    "if",
    "else",
    "for",
    "in",
    "not",
    "and",
    "or",
    "true",
    "false",
    "output",
    "input",
    "parallel",
    "finally",
    "pipeline",
    "component",
    "import",
    "artifact",
    "python",
    "sh",
    "\\",
    "\\n",
    "\\q",
    "\u{FEFF}",
    "é",
    "\u{a0}",
    "\u{2028}",
    "\"s\"",
    "List<Int>",
    "0",
];

fn char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn mutate(text: &str, rng: &mut Rng) -> String {
    let len = text.len();
    let a = char_boundary(text, rng.below(len + 1));
    let b = char_boundary(text, (a + 1 + rng.below(12)).min(len));
    let mut out = String::with_capacity(len + 16);
    match rng.below(4) {
        0 => {
            out.push_str(&text[..a]);
            out.push_str(&text[b..]);
        }
        1 => {
            out.push_str(&text[..a]);
            out.push_str(TOKENS[rng.below(TOKENS.len())]);
            out.push_str(&text[a..]);
        }
        2 => {
            out.push_str(&text[..b]);
            out.push_str(&text[a..b]);
            out.push_str(&text[b..]);
        }
        _ => {
            let c = char_boundary(text, (b + 1 + rng.below(12)).min(len));
            out.push_str(&text[..a]);
            out.push_str(&text[b..c]);
            out.push_str(&text[a..b]);
            out.push_str(&text[c..]);
        }
    }
    out
}

#[test]
fn on_edited_files_the_fast_parser_never_disagrees_with_pest() {
    let files: Vec<(String, String)> = kfl_files()
        .into_iter()
        .map(|p| (p.display().to_string(), read(&p)))
        .filter(|(_, text)| text.len() < 20_000)
        .collect();
    let mut rng = Rng(0x5eed_f00d_1234_5678);
    let mut tally = Tally::default();
    let variants = 4_000;
    for n in 0..variants {
        let (name, text) = &files[n % files.len()];
        let mut edited = mutate(text, &mut rng);
        if rng.below(3) == 0 {
            edited = mutate(&edited, &mut rng);
        }
        compare(&edited, &format!("{name}, variant {n}"), &mut tally);
    }
    eprintln!(
        "{} chunks in {variants} variants: the fast parser answered {}, gave up on {} that pest accepts",
        tally.chunks,
        tally.fast,
        tally.fast_gave_up.len()
    );
    // Most edits leave most chunks whole: the comparison above ran on many trees.
    assert!(tally.fast > tally.chunks / 2, "the fast parser answered only {} of {} chunks", tally.fast, tally.chunks);
}

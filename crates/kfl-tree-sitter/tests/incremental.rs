//! Editors re-parse incrementally after each edit: the tree they get must be the tree of a fresh
//! parse. The external scanner reads ahead (an opening `"""` looks for its closing one), which
//! tree-sitter must take into account when it reuses tokens; this checks it does, over seeded random
//! edits of every example.

use std::path::Path;

use tree_sitter::{InputEdit, Parser, Point};

fn point(text: &[u8], byte: usize) -> Point {
    let before = &text[..byte];
    let row = before.iter().filter(|&&b| b == b'\n').count();
    let column = byte - before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    Point { row, column }
}

const PIECES: &[&str] =
    &["\"\"\"", "\"", "}", "{", "(", ")", "x", " = ", "\n", "//", "///", "component c {}\n", "1h", "if", "\\n"];

#[test]
fn incremental_parses_equal_fresh_ones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "kfl"))
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    let mut parser = Parser::new();
    parser.set_language(&kfl_tree_sitter::language()).expect("the language loads");
    let mut state: u64 = 0x5EED_0F1A_C0FF_EE00;
    let mut next = move |n: usize| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as usize
    };
    let mut compared = 0;
    for path in &files {
        let original = std::fs::read(path).expect("an example");
        let mut text = original.clone();
        let mut tree = parser.parse(&text, None).expect("a tree");
        for step in 0..100 {
            // Insert a piece or delete a few bytes at a random place, then undo that: both re-parses
            // are incremental, and the undone one is of a file without errors.
            let start = next(text.len() + 1);
            let (removed, inserted): (usize, Vec<u8>) = if next(2) == 0 {
                (0, PIECES[next(PIECES.len())].as_bytes().to_vec())
            } else {
                (next(8).min(text.len() - start), Vec::new())
            };
            let undo_inserted = text[start..start + removed].to_vec();
            for (removed, inserted) in [(removed, inserted.clone()), (inserted.len(), undo_inserted)] {
                let edit_start = point(&text, start);
                let old_end = point(&text, start + removed);
                text.splice(start..start + removed, inserted.iter().copied());
                tree.edit(&InputEdit {
                    start_byte: start,
                    old_end_byte: start + removed,
                    new_end_byte: start + inserted.len(),
                    start_position: edit_start,
                    old_end_position: old_end,
                    new_end_position: point(&text, start + inserted.len()),
                });
                let incremental = parser.parse(&text, Some(&tree)).expect("a tree");
                let fresh = parser.parse(&text, None).expect("a tree");
                // With syntax errors, recovery may place ERROR nodes differently; without, the
                // trees must be the same.
                let (a, b) = (incremental.root_node(), fresh.root_node());
                assert_eq!(a.has_error(), b.has_error(), "{} after edit {step} at byte {start}", path.display());
                if !b.has_error() {
                    assert_eq!(
                        a.to_sexp(),
                        b.to_sexp(),
                        "{} after edit {step} at byte {start}:\n{}",
                        path.display(),
                        String::from_utf8_lossy(&text)
                    );
                    compared += 1;
                }
                tree = incremental;
            }
            assert_eq!(text, original);
        }
    }
    assert!(compared >= 500, "only {compared} error-free trees compared");
}

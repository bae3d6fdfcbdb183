//! The tree-sitter grammar of KFL (`editors/tree-sitter-kfl`) as a Rust crate: the generated parser
//! that Neovim, Helix and Zed load, here so that Rust tests can check it against the pest grammar.
//!
//! Invariants:
//! - The C sources compiled here are the committed ones (`src/parser.c`, generated from
//!   `grammar.js` by tree-sitter-cli 0.27.1 for ABI 14, and `src/scanner.c`); `tests/editors/tree-sitter.sh`
//!   checks that `parser.c` is what `grammar.js` generates.
//! - `tests/conformance.rs`: every file `kfl_syntax::parse` accepts parses without ERROR or MISSING
//!   nodes, and every file it rejects has at least one, but for the exceptions listed there;
//!   `tests/generated.rs` checks the same on generated, mostly valid files.
//! - `tests/hostile.rs`: parsing never hangs or crashes (5 MB lines, NUL bytes, unterminated strings).
//! - `tests/incremental.rs`: an incremental re-parse after an edit gives the tree of a fresh parse.
//! - `tests/highlight_classes.rs`: the editors' query sets compile, agree on each token class and
//!   never give one node two captures.
//! - No core crate depends on this one; it depends on `kfl-syntax` only for its tests.

/// The KFL language for a [`tree_sitter::Parser`].
pub fn language() -> tree_sitter::Language {
    tree_sitter::Language::new(LANGUAGE)
}

#[allow(unsafe_code)]
mod ffi {
    extern "C" {
        pub fn tree_sitter_kfl() -> *const ();
    }
}

// SAFETY: `tree_sitter_kfl` is the entry point of the generated parser compiled by build.rs; it takes
// no arguments and returns a pointer to a static `TSLanguage`, which is what `LanguageFn` expects.
#[allow(unsafe_code)]
const LANGUAGE: tree_sitter_language::LanguageFn =
    unsafe { tree_sitter_language::LanguageFn::from_raw(ffi::tree_sitter_kfl) };

/// The query files of each editor, by file name (`highlights.scm`, …).
pub mod queries {
    /// `editors/tree-sitter-kfl/queries`: tree-sitter's own and Neovim's (nvim-treesitter) capture names.
    pub const NEOVIM: &[(&str, &str)] = &[
        ("highlights.scm", include_str!("../../../editors/tree-sitter-kfl/queries/highlights.scm")),
        ("injections.scm", include_str!("../../../editors/tree-sitter-kfl/queries/injections.scm")),
        ("folds.scm", include_str!("../../../editors/tree-sitter-kfl/queries/folds.scm")),
        ("indents.scm", include_str!("../../../editors/tree-sitter-kfl/queries/indents.scm")),
        ("locals.scm", include_str!("../../../editors/tree-sitter-kfl/queries/locals.scm")),
        ("textobjects.scm", include_str!("../../../editors/tree-sitter-kfl/queries/textobjects.scm")),
    ];
}

/// Parses `text` with the KFL grammar. `None` only if tree-sitter gives up, which it does only when
/// cancelled or out of time, and this sets neither.
pub fn parse(text: &[u8]) -> Option<tree_sitter::Tree> {
    let mut parser = tree_sitter::Parser::new();
    parser.set_language(&language()).ok()?;
    parser.parse(text, None)
}

/// The first ERROR or MISSING node of `tree`, as (byte offset, kind), if there is one.
pub fn first_error(tree: &tree_sitter::Tree) -> Option<(usize, String)> {
    let root = tree.root_node();
    if !root.has_error() {
        return None;
    }
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        if node.is_error() || node.is_missing() {
            let kind = if node.is_missing() { format!("MISSING {}", node.kind()) } else { "ERROR".to_string() };
            return Some((node.start_byte(), kind));
        }
        // Go down into the first child that holds an error, else on to the next sibling.
        if node.has_error() && cursor.goto_first_child() {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                return Some((root.start_byte(), "ERROR".to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_component_parses_without_errors() {
        let tree = super::parse(b"component c {\n    image = \"busybox\"\n    sh \"echo hi\"\n}\n");
        let tree = tree.expect("a tree");
        assert_eq!(super::first_error(&tree), None, "{}", tree.root_node().to_sexp());
        assert_eq!(tree.root_node().child(0).map(|n| n.kind()), Some("component"));
    }

    #[test]
    fn a_keyword_is_not_a_name() {
        let tree = super::parse(b"component c {\n    x = input\n}\n").expect("a tree");
        assert!(super::first_error(&tree).is_some(), "{}", tree.root_node().to_sexp());
    }

    #[test]
    fn the_generated_parser_is_abi_14_for_neovim_0_7() {
        assert_eq!(super::language().abi_version(), 14);
    }
}

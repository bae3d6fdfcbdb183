//! Compiles the committed, generated C parser of `editors/tree-sitter-kfl` and its external scanner.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let src = manifest.join("../../editors/tree-sitter-kfl/src");
    let parser = src.join("parser.c");
    let scanner = src.join("scanner.c");
    for path in [&parser, &scanner, &src.join("tree_sitter/parser.h")] {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    cc::Build::new()
        .std("c11")
        .include(&src)
        .file(&parser)
        .file(&scanner)
        // Optimised even in test builds: the conformance tests parse thousands of files and a 5 MB
        // line, and the generated lexer is one large function that is slow unoptimised.
        .opt_level(2)
        .warnings(false)
        .compile("tree-sitter-kfl");
}

//! The formatter keeps the meaning of every file that parses, and is stable.
//!
//! For UTF-8 input that parses without errors:
//! - `kfl_fmt::format` succeeds (neither a syntax error nor its own self-check failing);
//! - the output parses without errors, to the same tree once spans are erased;
//! - formatting the output again gives the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let before = kfl_syntax::parse(text);
    if !before.errors.is_empty() {
        return;
    }
    let formatted = match kfl_fmt::format(text) {
        Ok(formatted) => formatted,
        Err(error) => panic!("a file that parses cleanly was not formatted: {error}\n{error:#?}"),
    };
    let after = kfl_syntax::parse(&formatted);
    assert!(
        after.errors.is_empty(),
        "the formatted text does not parse: {:#?}\n--- formatted ---\n{formatted}",
        after.errors
    );
    let (tree_before, tree_after) = debug_trees(&before.file, &after.file);
    assert!(
        tree_before == tree_after,
        "formatting changed the tree\n--- formatted ---\n{formatted}\n--- tree before ---\n{tree_before}\n--- tree after ---\n{tree_after}"
    );
    let again = match kfl_fmt::format(&formatted) {
        Ok(again) => again,
        Err(error) => panic!("the formatted text could not be formatted again: {error}"),
    };
    assert!(again == formatted, "formatting is not idempotent\n--- once ---\n{formatted}\n--- twice ---\n{again}");
});

/// The `Debug` texts of both trees, spans erased. `Debug` recurses as deep as the tree is nested, so
/// it runs on a thread with a large stack: a stack overflow here would be the harness's, not a bug
/// of the crates under test (which run on the fuzzer's own thread). `{:?}`, not `{:#?}`: pretty
/// printing costs time in the square of the nesting depth.
fn debug_trees(before: &kfl_syntax::ast::File, after: &kfl_syntax::ast::File) -> (String, String) {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .stack_size(1 << 30)
            .spawn_scoped(scope, || (erase_spans(&format!("{before:?}")), erase_spans(&format!("{after:?}"))));
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(error) => panic!("cannot start the thread that compares trees: {error}"),
        }
    })
}

/// The `Debug` text of a tree with every span (`Span` prints as `start..end`) replaced by `_`.
/// Text inside string literals is left alone, so a string that holds `1..2` still counts.
fn erase_spans(debug: &str) -> String {
    let bytes = debug.as_bytes();
    let mut out = String::with_capacity(debug.len());
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match c {
                b'\\' => {
                    out.push_str(&debug[i..(i + 2).min(bytes.len())]);
                    i += 2;
                    continue;
                }
                b'"' => in_string = false,
                _ => {}
            }
            let len = utf8_len(c);
            out.push_str(&debug[i..i + len]);
            i += len;
            continue;
        }
        if c == b'"' {
            in_string = true;
        } else if c.is_ascii_digit() {
            let digits_end = |from: usize| {
                let mut j = from;
                while j < bytes.len() && bytes[j].is_ascii_digit() {
                    j += 1;
                }
                j
            };
            let first_end = digits_end(i);
            if bytes[first_end..].starts_with(b"..") {
                let second_end = digits_end(first_end + 2);
                if second_end > first_end + 2 {
                    out.push('_');
                    i = second_end;
                    continue;
                }
            }
            out.push_str(&debug[i..first_end]);
            i = first_end;
            continue;
        }
        let len = utf8_len(c);
        out.push_str(&debug[i..i + len]);
        i += len;
    }
    out
}

fn utf8_len(first_byte: u8) -> usize {
    match first_byte {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

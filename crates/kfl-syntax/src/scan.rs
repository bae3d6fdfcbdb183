//! A small lexical scan that runs beside the pest parser. It finds what the grammar skips or cannot
//! report well: comments (which the formatter must keep), unterminated strings (for a precise error),
//! and the places where items start (for error recovery). Its idea of strings and comments matches
//! the `string`, `triple_string` and `COMMENT` rules of `grammar/kfl.pest`.

use kfl_diagnostics::Span;

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Comment {
    pub span: Span,
    /// The whole comment, `//` included, without the line break.
    pub text: String,
    /// A `///` doc comment (these are also part of the tree).
    pub is_doc: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Scan {
    pub comments: Vec<Comment>,
    /// Opening quote spans of strings that never close.
    pub unterminated: Vec<Span>,
    /// Byte offsets where items start: an item keyword, or the first of the doc comments before it.
    pub item_starts: Vec<usize>,
    /// Where brackets (or a run of `not`s) first nest deeper than [`crate::MAX_NESTING`].
    pub too_deep: Option<usize>,
}

const ITEM_KEYWORDS: [&str; 4] = ["import", "artifact", "component", "pipeline"];

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

pub fn scan(text: &str) -> Scan {
    let bytes = text.as_bytes();
    let mut out = Scan::default();
    // Start of the run of doc comments that directly precedes the current position, if any.
    let mut doc_run_start: Option<usize> = None;
    let mut depth: usize = 0;
    let mut nots: usize = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if text[i..].starts_with("//") {
            let end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            let end_trimmed = if end > i && bytes[end - 1] == b'\r' { end - 1 } else { end };
            let body = &text[i..end_trimmed];
            let is_doc = body.starts_with("///") && !body.starts_with("////");
            // A plain comment between doc comments and their item is skipped like a blank (the
            // grammar's COMMENT), so the docs still belong to the item.
            if is_doc {
                doc_run_start.get_or_insert(i);
            }
            out.comments.push(Comment { span: Span::new(i, end_trimmed), text: body.to_string(), is_doc });
            i = end;
            continue;
        }
        if text[i..].starts_with("\"\"\"") {
            doc_run_start = None;
            match text[i + 3..].find("\"\"\"") {
                Some(n) => i = i + 3 + n + 3,
                None => {
                    out.unterminated.push(Span::new(i, i + 3));
                    i = bytes.len();
                }
            }
            continue;
        }
        if b == b'"' {
            doc_run_start = None;
            let start = i;
            i += 1;
            loop {
                match bytes.get(i) {
                    None | Some(b'\n') => {
                        out.unterminated.push(Span::new(start, start + 1));
                        break;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => i += if bytes.get(i + 1).is_some_and(|&c| c != b'\n') { 2 } else { 1 },
                    Some(_) => i += 1,
                }
            }
            continue;
        }
        if is_ident_byte(b) {
            let start = i;
            while i < bytes.len() && is_ident_byte(bytes[i]) {
                i += 1;
            }
            let word = &text[start..i];
            nots = if word == "not" { nots + 1 } else { 0 };
            if nots > crate::MAX_NESTING && out.too_deep.is_none() {
                out.too_deep = Some(start);
            }
            let after_digit = start > 0 && bytes[start - 1].is_ascii_digit();
            if !after_digit && ITEM_KEYWORDS.contains(&word) {
                out.item_starts.push(doc_run_start.unwrap_or(start));
            }
            doc_run_start = None;
            continue;
        }
        doc_run_start = None;
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > crate::MAX_NESTING && out.too_deep.is_none() {
                    out.too_deep = Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if !b.is_ascii_whitespace() && b != b'(' {
            nots = 0;
        }
        // Step over one whole character, not one byte.
        i += text[i..].chars().next().map_or(1, char::len_utf8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_comments_strings_and_item_starts() {
        let text = "// a\n/// doc\ncomponent x { image = \"// not a comment\" }\npipeline p() { }\n";
        let scan = scan(text);
        assert_eq!(scan.comments.len(), 2);
        assert!(scan.comments[1].is_doc);
        assert_eq!(scan.item_starts, vec![5, text.find("pipeline").unwrap_or_default()]);
        assert!(scan.unterminated.is_empty());
    }

    #[test]
    fn reports_unterminated_strings() {
        let scan = scan("component x {\n image = \"abc\n}\n");
        assert_eq!(scan.unterminated, vec![Span::new(23, 24)]);
        let scan2 = scan_triple();
        assert_eq!(scan2.unterminated.len(), 1);
    }

    fn scan_triple() -> Scan {
        scan("component x { python \"\"\"\nprint(1)\n }")
    }

    #[test]
    fn keywords_inside_strings_and_names_do_not_start_items() {
        let scan = scan("component my_component { sh \"\"\" pipeline \"\"\" import_x = 1 }");
        assert_eq!(scan.item_starts, vec![0]);
    }
}

//! KFL's YAML writer: a [`serde_json::Value`] as a block-style YAML document. The Argo backend
//! builds its `Workflow` as a JSON value and writes it with this, which is several times faster
//! than going through a general YAML emitter: it only ever writes one layout, and decides how to
//! write each string in one pass over it. The KFP backend writes the bulk of its `PipelineSpec`
//! (the DAGs' tasks) from typed data, entry by entry, with the streaming pieces ([`write_key`],
//! [`write_plain_key`], [`write_value`], [`write_str_value`], …) the `Value` writer is made of, so
//! both ways give one layout.
//!
//! # Layout
//!
//! - Block style, two spaces a level; a sequence under a key is not indented (`key:` then `- a`), as
//!   kubectl, kfp and libyaml write it. Empty collections are `{}` and `[]`.
//! - Object keys in the map's own order (sorted, with serde_json's default map).
//! - A string is written
//!   - plain when no YAML 1.1 or 1.2 reader could take it for anything else (see [`is_plain`]);
//!   - as a literal block (`|`, `|-` or `|+`) when it has several lines that a literal block keeps
//!     exactly, so scripts stay readable;
//!   - single-quoted when every character is printable and it has no line break or tab;
//!   - double-quoted, with escapes, otherwise.
//! - Numbers as serde_json writes them, except that a float with an exponent always has a `.` and
//!   a signed exponent (`1.0e+20`), without which YAML 1.1 readers see a string.
//! - A key longer than 1,024 characters is an explicit key (`? key` then `: value`): YAML readers
//!   look no further than that for the `:` of an implicit one.
//!
//! # Invariants
//!
//! - Pure and infallible: every value has a document, ending with one line break.
//! - Reading the document back gives the same value (the tests read every case, every example's
//!   Argo and KFP output and random values back with serde_norway). Plain strings are never YAML 1.1
//!   booleans, nulls, numbers or timestamps either (`yes`, `off`, `~`, `0x1f`, `1:20`,
//!   `2001-12-14`), so PyYAML (kfp) and Go's YAML readers (Argo, Kubernetes) read the same strings.
//! - No line ends with a space or a tab.

use serde_json::{Map, Number, Value};

/// `value` as a YAML document.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_document(&mut out, value);
    out
}

/// Appends `value` to `out` as a YAML document (without a `---` line before it).
pub fn write_document(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) if !map.is_empty() => write_map(out, map, 0, false),
        Value::Array(items) if !items.is_empty() => write_seq(out, items, 0, false),
        scalar => {
            write_scalar(out, scalar, 2);
            out.push('\n');
        }
    }
}

/// Whether `text` can be a plain scalar: nothing in it means something else to a YAML reader
/// (an indicator first, `: `, ` #`, a space or `:` last, a line break, a tab, a character that
/// needs an escape), and no YAML 1.1 or 1.2 reader takes it for a null, a boolean, a number or a
/// timestamp.
pub fn is_plain(text: &str) -> bool {
    matches!(style(text), Style::Plain)
}

/// How a string is written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// Spaces to indent with, copied a slice at a time.
const SPACES: &str = "                                                                ";

#[inline]
fn indent_to(out: &mut String, mut width: usize) {
    while width > SPACES.len() {
        out.push_str(SPACES);
        width -= SPACES.len();
    }
    out.push_str(&SPACES[..width]);
}

/// A non-empty mapping whose keys are at column `indent`; the first key goes where the cursor is
/// if `inline_first` (after `- `), else on a line of its own.
fn write_map(out: &mut String, map: &Map<String, Value>, indent: usize, inline_first: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline_first {
            indent_to(out, indent);
        }
        write_key_text(out, key, indent);
        write_value(out, value, indent);
    }
}

// Streaming: an emitter that has typed data rather than a `Value` writes a mapping entry by entry,
// in the order of its keys (sorted, as a `Value`'s map is), with these; the layout is the one the
// `Value` writer gives, since the writer is made of them.

/// The key of a mapping entry at column `indent`, on a line of its own: the indentation, the key
/// and the `:`; then write its value with [`write_value`], [`write_str_value`],
/// [`write_str_seq_value`] or, for a non-empty mapping, a line break ([`open_map`]) and its entries
/// at `indent + 2`.
pub fn write_key(out: &mut String, key: &str, indent: usize) {
    indent_to(out, indent);
    write_key_text(out, key, indent);
}

/// [`write_key`] of a key its caller knows is plain and short: a name of the format's own
/// (`componentRef`, `tasks`), never a name from the input. It is written as it is, without looking
/// at its characters.
#[inline]
pub fn write_plain_key(out: &mut String, key: &'static str, indent: usize) {
    debug_assert!(is_plain(key) && key.len() <= 1024, "{key:?} is not a plain key");
    indent_to(out, indent);
    out.push_str(key);
    out.push(':');
}

/// The key and its `:`, at the cursor (which is at column `indent`).
fn write_key_text(out: &mut String, key: &str, indent: usize) {
    let start = out.len();
    match style(key) {
        Style::Plain => out.push_str(key),
        Style::SingleQuoted => write_single_quoted(out, key),
        Style::DoubleQuoted | Style::Literal => write_double_quoted(out, key),
    }
    if out.len() - start > 1024 {
        out.insert_str(start, "? ");
        out.push('\n');
        indent_to(out, indent);
    }
    out.push(':');
}

/// After a key at column `indent` whose value is a non-empty mapping: the line break before its
/// entries, which go at `indent + 2`.
#[inline]
pub fn open_map(out: &mut String) {
    out.push('\n');
}

/// The value of a mapping entry whose key ([`write_key`]) is at column `indent`, and the line
/// break after it.
pub fn write_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(inner) if !inner.is_empty() => {
            out.push('\n');
            write_map(out, inner, indent + 2, false);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent, false);
        }
        scalar => {
            out.push(' ');
            write_scalar(out, scalar, indent + 2);
            out.push('\n');
        }
    }
}

/// [`write_value`] of a mapping, without making a `Value` of it.
pub fn write_map_value(out: &mut String, map: &Map<String, Value>, indent: usize) {
    if map.is_empty() {
        out.push_str(" {}\n");
    } else {
        out.push('\n');
        write_map(out, map, indent + 2, false);
    }
}

/// [`write_value`] of a string, without making a `Value` of it.
pub fn write_str_value(out: &mut String, text: &str, indent: usize) {
    out.push(' ');
    write_str(out, text, indent + 2);
    out.push('\n');
}

/// [`write_value`] of a sequence of strings, without making a `Value` of it.
pub fn write_str_seq_value<'a>(out: &mut String, items: impl ExactSizeIterator<Item = &'a str>, indent: usize) {
    if items.len() == 0 {
        out.push_str(" []\n");
        return;
    }
    out.push('\n');
    for item in items {
        indent_to(out, indent);
        out.push_str("- ");
        write_str(out, item, indent + 2);
        out.push('\n');
    }
}

/// A non-empty sequence whose dashes are at column `indent`; the first item goes where the cursor
/// is if `inline_first`.
fn write_seq(out: &mut String, items: &[Value], indent: usize, inline_first: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !inline_first {
            indent_to(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_map(out, map, indent + 2, true),
            Value::Array(inner) if !inner.is_empty() => write_seq(out, inner, indent + 2, true),
            scalar => {
                write_scalar(out, scalar, indent + 2);
                out.push('\n');
            }
        }
    }
}

/// A scalar or an empty collection, without the line break after it; a literal block's lines are
/// indented to `block_indent`.
fn write_scalar(out: &mut String, value: &Value, block_indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_str(out, text, block_indent),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

/// A string scalar, without the line break after it ([`write_scalar`]).
fn write_str(out: &mut String, text: &str, block_indent: usize) {
    match style(text) {
        Style::Plain => out.push_str(text),
        Style::SingleQuoted => write_single_quoted(out, text),
        Style::DoubleQuoted => write_double_quoted(out, text),
        Style::Literal => write_literal(out, text, block_indent),
    }
}

fn write_number(out: &mut String, number: &Number) {
    let text = number.to_string();
    if !number.is_f64() {
        out.push_str(&text);
        return;
    }
    // serde_json writes `1e20` and `1e-7`; YAML 1.1 needs `1.0e+20` and `1.0e-7`.
    match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => {
            out.push_str(mantissa);
            if !mantissa.contains('.') {
                out.push_str(".0");
            }
            out.push('e');
            if !exponent.starts_with(['+', '-']) {
                out.push('+');
            }
            out.push_str(exponent);
        }
        None => out.push_str(&text),
    }
}

fn write_single_quoted(out: &mut String, text: &str) {
    out.push('\'');
    let mut rest = text;
    while let Some(at) = rest.find('\'') {
        out.push_str(&rest[..=at]);
        out.push('\'');
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out.push('\'');
}

fn write_double_quoted(out: &mut String, text: &str) {
    out.push('"');
    let mut start = 0;
    for (at, c) in text.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\0' => "\\0",
            '\u{7}' => "\\a",
            '\u{8}' => "\\b",
            '\t' => "\\t",
            '\n' => "\\n",
            '\u{b}' => "\\v",
            '\u{c}' => "\\f",
            '\r' => "\\r",
            '\u{1b}' => "\\e",
            '\u{85}' => "\\N",
            '\u{2028}' => "\\L",
            '\u{2029}' => "\\P",
            c if needs_escape(c) => "",
            _ => continue,
        };
        out.push_str(&text[start..at]);
        start = at + c.len_utf8();
        if escape.is_empty() {
            let code = u32::from(c);
            if code <= 0xff {
                out.push_str(&format!("\\x{code:02X}"));
            } else {
                out.push_str(&format!("\\u{code:04X}"));
            }
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// Characters YAML does not allow unescaped (or reads as line breaks, or may drop as a byte order
/// mark), other than `\n` and `\t`.
fn needs_escape(c: char) -> bool {
    matches!(c, '\0'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

/// A string with line breaks as a literal block: `|` keeps one final line break, `|-` none, `|+`
/// all of them. Empty lines are left empty, so no line ends with spaces.
fn write_literal(out: &mut String, text: &str, indent: usize) {
    let body = text.strip_suffix('\n').unwrap_or(text);
    out.push_str(match (text.ends_with('\n'), body.ends_with('\n')) {
        (false, _) => "|-",
        (true, false) => "|",
        (true, true) => "|+",
    });
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent_to(out, indent);
            out.push_str(line);
        }
    }
}

/// The bytes [`style`] looks at: control characters, `:` and `#`, and the first bytes of the
/// characters that need an escape beyond ASCII (U+0080 to U+009F, U+2028, U+2029, U+FEFF, U+FFFE,
/// U+FFFF). Every other byte is skipped with one look-up.
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[0x7f] = true;
    table[b':' as usize] = true;
    table[b'#' as usize] = true;
    table[0xc2] = true;
    table[0xe2] = true;
    table[0xef] = true;
    table
};

/// How to write `text`, in one pass over its bytes.
fn style(text: &str) -> Style {
    let bytes = text.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return Style::SingleQuoted;
    };
    let mut plain = !matches!(
        first,
        b'?' | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
            | b' '
    ) && !(first == b'-' && (bytes.len() == 1 || bytes[1] == b' ' || bytes.starts_with(b"---")))
        && !bytes.starts_with(b"...")
        && last != b' '
        && last != b':';
    // Nothing that needs an escape in any style (tabs and line breaks aside).
    let mut printable = true;
    let mut tab = false;
    let mut line_break = false;
    // A line (not the last) that ends with a space.
    let mut trailing_space = false;
    for (at, &b) in bytes.iter().enumerate() {
        if !SPECIAL[usize::from(b)] {
            continue;
        }
        let previous = if at == 0 { 0 } else { bytes[at - 1] };
        match b {
            b'\n' => {
                line_break = true;
                trailing_space |= previous == b' ';
            }
            b'\t' => tab = true,
            b':' if bytes.get(at + 1) == Some(&b' ') => plain = false,
            b'#' if previous == b' ' => plain = false,
            b':' | b'#' => {}
            // U+0080 to U+009F (C1 controls and NEL).
            0xc2 => printable &= !matches!(bytes.get(at + 1), Some(0x80..=0x9f)),
            // U+2028 and U+2029 (line and paragraph separators).
            0xe2 => printable &= !(bytes.get(at + 1) == Some(&0x80) && matches!(bytes.get(at + 2), Some(0xa8 | 0xa9))),
            // U+FEFF (byte order mark), U+FFFE and U+FFFF.
            0xef => {
                printable &= !matches!(
                    (bytes.get(at + 1), bytes.get(at + 2)),
                    (Some(0xbb), Some(0xbf)) | (Some(0xbf), Some(0xbe | 0xbf))
                )
            }
            // The other control characters.
            _ => printable = false,
        }
    }
    if !printable || tab {
        return Style::DoubleQuoted;
    }
    if !line_break {
        return if plain && !looks_like_another_type(text) { Style::Plain } else { Style::SingleQuoted };
    }
    // A literal block keeps every character if no line ends with a space (the last one included)
    // and the first line with text does not start with one (it would set the indentation).
    let first_text = text.trim_start_matches('\n');
    if trailing_space || last == b' ' || first_text.is_empty() || first_text.starts_with(' ') {
        return Style::DoubleQuoted;
    }
    Style::Literal
}

/// Whether a YAML 1.1 or 1.2 reader could take `text`, written plain, for a null, a boolean, a
/// number, a timestamp, or the merge (`<<`) or value (`=`) key. Conservative: anything with a
/// digit and only characters that numbers have is a number.
fn looks_like_another_type(text: &str) -> bool {
    const WORDS: [&str; 16] =
        ["~", "null", "true", "false", "yes", "no", "y", "n", "on", "off", ".inf", "+.inf", "-.inf", ".nan", "=", "<<"];
    if text.len() <= 5 && WORDS.iter().any(|word| text.eq_ignore_ascii_case(word)) {
        return true;
    }
    let bytes = text.as_bytes();
    // YAML 1.1 timestamps start with a year.
    if bytes.len() >= 5 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-' {
        return true;
    }
    bytes.iter().any(u8::is_ascii_digit)
        && bytes
            .iter()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b'x' | b'X' | b'o' | b'O' | b'_' | b'+' | b'-' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles() {
        for plain in ["a", "hello world", "kfl.dev/pipeline", "-c", "32Gi", "a:b", "a#b", "inf", "nan", "über", "1st"]
        {
            assert_eq!(style(plain), Style::Plain, "{plain:?}");
        }
        for single in [
            "",
            "true",
            "No",
            "ON",
            "~",
            "null",
            "1",
            "-1",
            "1.5",
            "1e3",
            "0x1f",
            "0o17",
            "1_000",
            "1:20",
            ".inf",
            "2001-12-14t21:59:43.10-05:00",
            "- a",
            "-",
            "a: b",
            "a:",
            "#x",
            "a #b",
            " lead",
            "trail ",
            "{{x}}",
            "---",
            "...",
            "'",
            "\"",
            "<<",
            "=",
            "@x",
            "`x",
            "%x",
            "!x",
            "&x",
            "*x",
            "|",
            ">",
            "?",
            ":",
            ",",
            "[",
            "]",
        ] {
            assert_eq!(style(single), Style::SingleQuoted, "{single:?}");
        }
        for double in [
            "\t",
            "a\tb",
            "\r\n",
            "a\u{85}b",
            "a\u{2028}",
            "\u{feff}a",
            "\u{7f}",
            "\0",
            "a \nb",
            "a\nb ",
            " a\nb",
            "\n",
            "\n\n",
        ] {
            assert_eq!(style(double), Style::DoubleQuoted, "{double:?}");
        }
        for literal in ["a\nb", "a\n", "a\n\n", "\na", "\n\na\n  b\n", "#!x\n- y: z\n"] {
            assert_eq!(style(literal), Style::Literal, "{literal:?}");
        }
    }

    #[test]
    fn floats_have_a_point_and_a_signed_exponent() {
        let write = |f: f64| {
            let mut out = String::new();
            write_number(&mut out, &Number::from_f64(f).expect("finite"));
            out
        };
        assert_eq!(write(2.0), "2.0");
        assert_eq!(write(0.5), "0.5");
        assert_eq!(write(1e20), "1.0e+20");
        assert_eq!(write(1.5e-7), "1.5e-7");
        assert_eq!(write(-1e-7), "-1.0e-7");
    }
}

//! A tolerant tokenizer for text that is being typed.
//!
//! The parser drops an item that does not parse, but completion, signature help, folding and
//! semantic tokens must work inside exactly such an item. This tokenizer accepts every input: what
//! it does not know becomes a [`TokenKind::Unknown`] token, an unterminated string runs to the end of
//! its line (a `"""` one to the end of the text). Its idea of strings, comments, numbers and
//! identifiers follows `grammar/kfl.pest`.

use std::sync::Arc;

use kfl_check::{Db, SourceFile};
use kfl_diagnostics::Span;

/// The 17 reserved words of KFL.
pub const KEYWORDS: [&str; 17] = [
    "and",
    "artifact",
    "component",
    "else",
    "false",
    "finally",
    "for",
    "if",
    "import",
    "in",
    "input",
    "not",
    "or",
    "output",
    "parallel",
    "pipeline",
    "true",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TokenKind {
    Ident,
    Keyword,
    /// Digits with an optional fraction, exponent and unit: `4Gi`, `-1.5e3`, `1h30m`.
    Number,
    String,
    TripleString,
    Comment,
    DocComment,
    /// `==`, `!=`, `<=`, `>=` or one character of `{}()[]<>,.:=!`.
    Punct,
    Unknown,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

impl Token {
    pub fn text<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.span.range()).unwrap_or("")
    }
    pub fn is_trivia(&self) -> bool {
        matches!(self.kind, TokenKind::Comment | TokenKind::DocComment)
    }
    pub fn is_punct(&self, text: &str, punct: &str) -> bool {
        self.kind == TokenKind::Punct && self.text(text) == punct
    }
    pub fn is_keyword(&self, text: &str, keyword: &str) -> bool {
        self.kind == TokenKind::Keyword && self.text(text) == keyword
    }
}

pub fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

pub fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `name` can be written as an identifier: ASCII, not a keyword.
pub fn is_valid_ident(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_ident_start) && chars.all(is_ident_char) && !KEYWORDS.contains(&name)
}

/// The byte offset where the unit of a number token starts (its end if it has none).
pub fn number_unit_start(number: &str) -> usize {
    let bytes = number.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        let mut j = i + 1;
        if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
            j += 1;
        }
        if j < bytes.len() && bytes[j].is_ascii_digit() {
            i = j;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

/// The tokens of a file, lexed once per revision of its text.
#[salsa::tracked(returns(ref))]
pub fn file_tokens(db: &dyn Db, file: SourceFile) -> Arc<Vec<Token>> {
    Arc::new(lex(file.text(db)))
}

/// Where items start, as the parser's recovery sees it: at an item keyword, or at the first of the
/// doc comments right before it.
pub fn item_starts(text: &str, tokens: &[Token]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut doc_run: Option<usize> = None;
    for token in tokens {
        match token.kind {
            TokenKind::DocComment => {
                doc_run.get_or_insert(token.span.start as usize);
            }
            TokenKind::Keyword if matches!(token.text(text), "import" | "artifact" | "component" | "pipeline") => {
                out.push(doc_run.take().unwrap_or(token.span.start as usize));
            }
            _ => doc_run = None,
        }
    }
    out
}

/// The files a text imports, as written (relative paths with `/`), read from tokens: no parse.
pub fn lexical_imports(text: &str, tokens: &[Token]) -> Vec<String> {
    let mut out = Vec::new();
    let code: Vec<&Token> = tokens.iter().filter(|t| !t.is_trivia()).collect();
    for (i, token) in code.iter().enumerate() {
        if !token.is_keyword(text, "import") {
            continue;
        }
        match code.get(i + 1) {
            Some(t) if t.kind == TokenKind::String => {
                let raw = t.text(text);
                if raw.len() >= 2 && raw.ends_with('"') {
                    out.push(raw[1..raw.len() - 1].to_string());
                }
            }
            Some(t) if t.kind == TokenKind::Ident => {
                let mut parts = vec![t.text(text)];
                let mut j = i + 2;
                while code.get(j).is_some_and(|d| d.is_punct(text, ".")) {
                    match code.get(j + 1) {
                        Some(n) if n.kind == TokenKind::Ident => parts.push(n.text(text)),
                        _ => break,
                    }
                    j += 2;
                }
                out.push(format!("{}.kfl", parts.join("/")));
            }
            _ => {}
        }
    }
    out
}

pub fn lex(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let kind = if text[i..].starts_with("//") {
            let end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            let end = if end > i && bytes[end - 1] == b'\r' { end - 1 } else { end };
            let body = &text[i..end];
            i = end;
            if body.starts_with("///") && !body.starts_with("////") {
                TokenKind::DocComment
            } else {
                TokenKind::Comment
            }
        } else if text[i..].starts_with("\"\"\"") {
            i = match text[i + 3..].find("\"\"\"") {
                Some(n) => i + 3 + n + 3,
                None => bytes.len(),
            };
            TokenKind::TripleString
        } else if b == b'"' {
            i += 1;
            loop {
                match bytes.get(i) {
                    None | Some(b'\n') => break,
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => i += if bytes.get(i + 1).is_some_and(|&c| c != b'\n') { 2 } else { 1 },
                    Some(_) => i += 1,
                }
            }
            // An escape may have stepped into a multi-byte character.
            while !text.is_char_boundary(i) {
                i += 1;
            }
            TokenKind::String
        } else if b.is_ascii_digit() || (b == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            i += number_unit_start(&text[i..]);
            if i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                    i += 1;
                }
            }
            TokenKind::Number
        } else if b.is_ascii_alphabetic() || b == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            if KEYWORDS.contains(&&text[start..i]) {
                TokenKind::Keyword
            } else {
                TokenKind::Ident
            }
        } else if ["==", "!=", "<=", ">="].iter().any(|op| text[i..].starts_with(op)) {
            i += 2;
            TokenKind::Punct
        } else if b"{}()[]<>,.:=!".contains(&b) {
            i += 1;
            TokenKind::Punct
        } else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            TokenKind::Unknown
        };
        out.push(Token { kind, span: Span::new(start, i) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(TokenKind, &str)> {
        lex(text).into_iter().map(|t| (t.kind, t.text(text))).collect()
    }

    #[test]
    fn lexes_every_kind() {
        use TokenKind::*;
        assert_eq!(
            kinds("/// d\nx = 4Gi // c\nif a >= -1.5e3 { \"s\\\"\" } \"\"\"t\"\"\" é"),
            vec![
                (DocComment, "/// d"),
                (Ident, "x"),
                (Punct, "="),
                (Number, "4Gi"),
                (Comment, "// c"),
                (Keyword, "if"),
                (Ident, "a"),
                (Punct, ">="),
                (Number, "-1.5e3"),
                (Punct, "{"),
                (String, "\"s\\\"\""),
                (Punct, "}"),
                (TripleString, "\"\"\"t\"\"\""),
                (Unknown, "é"),
            ]
        );
    }

    #[test]
    fn unterminated_strings_end_at_the_line() {
        use TokenKind::*;
        assert_eq!(kinds("a = \"abc\nb"), vec![(Ident, "a"), (Punct, "="), (String, "\"abc"), (Ident, "b")]);
        assert_eq!(kinds("\"\\é\""), vec![(String, "\"\\é\"")]);
        assert_eq!(kinds("\"\"\"abc"), vec![(TripleString, "\"\"\"abc")]);
    }

    #[test]
    fn item_starts_and_imports_without_parsing() {
        let text =
            "import \"a/b.kfl\"\nimport x.y\n/// d\n/// e\ncomponent c { sh \"pipeline\" }\n// no\npipeline p() {}";
        let tokens = lex(text);
        let starts = item_starts(text, &tokens);
        assert_eq!(starts.len(), 4);
        assert_eq!(&text[starts[2]..starts[2] + 5], "/// d");
        assert_eq!(&text[starts[3]..starts[3] + 8], "pipeline");
        assert_eq!(lexical_imports(text, &tokens), vec!["a/b.kfl".to_string(), "x/y.kfl".to_string()]);
    }

    #[test]
    fn units_split_from_numbers() {
        assert_eq!(number_unit_start("4Gi"), 1);
        assert_eq!(number_unit_start("1.5e3"), 5);
        assert_eq!(number_unit_start("1h30m"), 1);
        assert_eq!(number_unit_start("2e"), 1);
        assert!(is_valid_ident("train_2"));
        assert!(!is_valid_ident("for"));
        assert!(!is_valid_ident("2x"));
    }
}

//! KFL syntax: the pest grammar (`grammar/kfl.pest`, the single source of truth), the AST with byte
//! spans, and error recovery.
//!
//! Invariants:
//! - [`parse`] never fails and never panics: it returns a tree *and* a list of diagnostics. A file
//!   with errors still yields every item that parsed, because recovery happens at item boundaries
//!   (item keywords are reserved, so each `import`, `artifact`, `component` or `pipeline` outside a
//!   string or comment starts an item): a broken component does not hide errors in the next one.
//!   Within a pipeline whose braces balance, recovery is per statement: a typo in one statement
//!   leaves the others in the tree ([`ast::Pipeline::broken`] lists what was left out).
//! - Parsing is in pieces ([`chunk`]) that can be memoized by their text; for a text without syntax
//!   errors the tree is exactly the one-go parse's ([`parse_whole`]).
//! - The grammar defines the syntax; a hand-written parser (`fast.rs`) parses each chunk first,
//!   about ten times faster, and gives up to pest wherever it is not sure (any syntax error among
//!   them). Where it answers, its tree is exactly pest's (`tests/fast.rs`, the `parse_check` fuzz
//!   target), so error messages and acceptance are pest's alone.
//! - All spans are byte offsets into the text given to [`parse`].
//! - No IO, no global state beyond pest's.

pub mod ast;
pub mod chunk;
mod fast;
mod parser;
pub mod scan;

use kfl_diagnostics::{Code, Diagnostic, Span};
use parser::{Builder, Rule};

pub use scan::Comment;

/// The result of parsing one file.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Parse {
    pub file: ast::File,
    pub errors: Vec<Diagnostic>,
    pub comments: Vec<Comment>,
    /// Names of items that did not parse: uses of them are not reported as unknown names, since the
    /// syntax error already says what is wrong.
    pub broken_items: Vec<String>,
}

/// Guards pest's process-wide error-detail switch (see [`parse`]).
static DETAIL_LOCK: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// The reserved words (`keyword` in the grammar): no name may be one.
pub const KEYWORDS: [&str; 17] = [
    "component",
    "pipeline",
    "artifact",
    "import",
    "input",
    "output",
    "if",
    "else",
    "for",
    "in",
    "parallel",
    "finally",
    "and",
    "or",
    "not",
    "true",
    "false",
];

/// How deeply brackets and `not`s may nest. The parser, the checker and the formatter recurse on
/// nesting, so a limit keeps any input from exhausting the stack.
pub const MAX_NESTING: usize = 64;

/// How many operands one `and` or `or` chain may have (a chain nests like brackets do).
pub const MAX_OPERANDS: usize = 256;

/// Parses a file once: a clean file item by item with the fast parser, anything else piece by piece
/// ([`chunk`]). Without syntax errors the result is exactly
/// [`parse_whole`]'s; with them, recovery is per item and per pipeline statement.
pub fn parse(text: &str) -> Parse {
    if let Some(parse) = chunk::parse_clean_items(text) {
        return parse;
    }
    chunk::parse_with(text, |kind, piece, clean| {
        let parse = if clean { chunk::parse_clean_chunk(kind, piece) } else { chunk::parse_chunk(kind, piece) };
        parse.map(std::sync::Arc::new)
    })
}

/// Parses a file in one go, with recovery item by item when it has syntax errors.
pub fn parse_whole(text: &str) -> Parse {
    let scan = scan::scan(text);
    if let Some(at) = scan.too_deep {
        return parse_with_deep_nesting(text, scan, at);
    }
    let comment_starts_by_end = parser::comment_starts_by_end(&scan.comments);
    let mut builder = Builder { offset: 0, errors: Vec::new(), text, comment_starts_by_end };
    let mut file = ast::File::default();
    let mut broken_items = Vec::new();
    // pest's "error detail" (the exact tokens expected where a parse failed) is a process-wide
    // switch that makes parsing about twice as slow. Parses that succeed run with it off, under the
    // read side of this lock; recovery turns it on under the write side, so every parse sees one
    // setting throughout and error positions do not depend on what other threads are doing.
    let parsed = {
        let _shared = DETAIL_LOCK.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        match parser::parse_file(text) {
            Ok(pairs) => {
                for pair in pairs {
                    if pair.as_rule() == Rule::item {
                        file.items.extend(builder.item(pair));
                    }
                }
                true
            }
            Err(_) => false,
        }
    };
    if !parsed {
        let _exclusive = DETAIL_LOCK.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        pest::set_error_detail(true);
        recover(text, &scan, &mut builder, &mut file, &mut broken_items);
        pest::set_error_detail(false);
    }
    let mut errors = builder.errors;
    kfl_diagnostics::sort(&mut errors);
    Parse { file, errors, comments: scan.comments, broken_items }
}

/// A file with nesting beyond [`MAX_NESTING`]: the item that holds it is reported and left out (blanked
/// to spaces, so every other offset stays where it is), the others are parsed as usual.
fn parse_with_deep_nesting(text: &str, scan: scan::Scan, at: usize) -> Parse {
    let mut bounds: Vec<usize> = scan.item_starts.clone();
    bounds.push(text.len());
    let deep = bounds.windows(2).find(|w| (w[0]..w[1]).contains(&at)).map_or(0..text.len(), |w| w[0]..w[1]);
    let masked: String = text
        .char_indices()
        .map(|(i, c)| if deep.contains(&i) && c != '\n' { " ".repeat(c.len_utf8()) } else { c.to_string() })
        .collect();
    let mut parse = parse_whole(&masked);
    if let Some(name) = item_name(&text[deep.clone()]) {
        parse.broken_items.push(name);
    }
    parse.errors.push(
        Diagnostic::new(Code::SyntaxError, token_span(text, at), format!("nested more than {MAX_NESTING} levels deep"))
            .label("too deeply nested")
            .help("flatten the expression, or split the work into several tasks (each `else if` of a chain counts as a level: a long chain can be separate `if`s)"),
    );
    kfl_diagnostics::sort(&mut parse.errors);
    // Comments come from the real text (the masked item's comments are gone from `masked`).
    parse.comments = scan.comments;
    parse
}

/// Parses item by item, so that every item that is well formed makes it into the tree and every
/// broken one reports its own first error.
fn recover(
    text: &str,
    scan: &scan::Scan,
    builder: &mut Builder<'_>,
    file: &mut ast::File,
    broken_items: &mut Vec<String>,
) {
    let mut bounds: Vec<usize> = scan.item_starts.clone();
    bounds.push(text.len());
    builder.errors.extend(leading_text_error(text, scan));
    for window in bounds.windows(2) {
        recover_item(text, window[0], window[1], scan, builder, file, broken_items);
    }
}

/// Text before the first item that is not blank or a comment is an error of its own.
pub(crate) fn leading_text_error(text: &str, scan: &scan::Scan) -> Option<Diagnostic> {
    let first = scan.item_starts.first().copied().unwrap_or(text.len());
    if is_trivia(text, 0, first, scan) {
        return None;
    }
    let at = first_non_trivia(text, 0, first, scan);
    if scan.comments.iter().any(|c| c.span.start as usize == at && c.is_doc) {
        return Some(stray_text(text, at, scan));
    }
    Some(
        Diagnostic::new(
            Code::SyntaxError,
            token_span(text, at),
            format!("expected an item, found {}", describe_at(text, at)),
        )
        .label("expected `import`, `artifact`, `component` or `pipeline`")
        .help("a file is a list of imports, artifact types, components and pipelines"),
    )
}

/// Parses the item in `text[start..end]` into `file`, or reports its first error and notes its name
/// in `broken_items`. Run with pest's error detail on.
pub(crate) fn recover_item(
    text: &str,
    start: usize,
    end: usize,
    scan: &scan::Scan,
    builder: &mut Builder<'_>,
    file: &mut ast::File,
    broken_items: &mut Vec<String>,
) {
    let chunk = &text[start..end];
    builder.offset = start;
    match parser::parse_item(chunk) {
        Ok(pairs) => {
            for pair in pairs {
                if pair.as_rule() == Rule::item {
                    file.items.extend(builder.item(pair));
                }
            }
        }
        Err(error) => {
            let in_chunk = |span: &Span| (start..end).contains(&(span.start as usize));
            if let Some(name) = item_name(chunk) {
                broken_items.push(name);
            }
            if let Some(open) = scan.unterminated.iter().find(|s| in_chunk(s)) {
                builder.errors.push(unterminated_string(*open));
            } else if let Ok((pair, consumed)) = parser::parse_item_prefix(chunk) {
                // A whole item followed by something else (a stray `}`, a dangling doc comment):
                // keep the item and report what follows it.
                if let Some(item) = builder.item(pair) {
                    file.items.push(item);
                }
                let at = first_non_trivia(text, start + consumed, end, scan);
                builder.errors.push(stray_text(text, at, scan));
            } else {
                builder.errors.push(syntax_error(text, start, chunk, &error, "item"));
            }
        }
    }
    builder.offset = 0;
}

fn unterminated_string(open: Span) -> Diagnostic {
    Diagnostic::new(Code::UnterminatedString, open, "unterminated string")
        .label("this string has no closing quote")
        .help(if open.len() == 3 {
            "close the block with `\"\"\"`"
        } else {
            "close the string with `\"` on the same line, or use `\"\"\"` for text over several lines"
        })
}

/// The first syntax error of the statements in `text[start..end]` (a piece of a pipeline's body
/// that does not parse), if pest finds one. Run with pest's error detail on.
pub(crate) fn statement_error(text: &str, start: usize, end: usize) -> Option<Diagnostic> {
    let chunk = &text[start..end];
    let error = parser::parse_piece(Rule::stmts_only, chunk).err()?;
    Some(syntax_error(text, start, chunk, &error, "statement"))
}

/// The name an item declares, read from its first words (`component train {` → `train`).
fn item_name(chunk: &str) -> Option<String> {
    let mut words = chunk
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .flat_map(|l| l.split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .filter(|w| !w.is_empty());
    match words.next()? {
        "component" | "pipeline" | "artifact" => words.next().map(str::to_string),
        _ => None,
    }
}

/// What follows a complete item but is not an item.
fn stray_text(text: &str, at: usize, scan: &scan::Scan) -> Diagnostic {
    if let Some(doc) = scan.comments.iter().find(|c| c.span.start as usize == at && c.is_doc) {
        return Diagnostic::new(Code::SyntaxError, doc.span, "a doc comment must stand before what it documents")
            .label("documents nothing")
            .help("move it above an item, or make it a plain comment with `//`");
    }
    Diagnostic::new(
        Code::SyntaxError,
        token_span(text, at),
        format!("expected an item, found {}", describe_at(text, at)),
    )
    .label("expected `import`, `artifact`, `component` or `pipeline`")
    .help(if text[at..].starts_with('}') {
        "this `}` closes nothing: the block before it is already closed"
    } else {
        "a file is a list of imports, artifact types, components and pipelines"
    })
}

fn is_trivia(text: &str, start: usize, end: usize, scan: &scan::Scan) -> bool {
    first_non_trivia(text, start, end, scan) >= end
}

fn first_non_trivia(text: &str, start: usize, end: usize, scan: &scan::Scan) -> usize {
    let mut i = start;
    'outer: while i < end {
        if text.as_bytes()[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // A byte order mark is a blank to the grammar (`WHITESPACE`).
        if text[i..].starts_with('\u{FEFF}') {
            i += '\u{FEFF}'.len_utf8();
            continue;
        }
        // A plain comment is a blank; a doc comment is not (it must stand before something).
        for c in &scan.comments {
            if c.span.start as usize == i && !c.is_doc {
                i = c.span.end as usize;
                continue 'outer;
            }
        }
        return i;
    }
    end
}

/// The span of the token at `at`: a word, a number, or one character; empty at the end of the text.
fn token_span(text: &str, at: usize) -> Span {
    let rest = &text[at.min(text.len())..];
    let len = match rest.chars().next() {
        None => 0,
        Some(c) if c.is_alphanumeric() || c == '_' => {
            rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len())
        }
        Some(c) => c.len_utf8(),
    };
    Span::new(at, at + len)
}

fn describe_at(text: &str, at: usize) -> String {
    let span = token_span(text, at);
    if span.is_empty() {
        "the end of the file".to_string()
    } else {
        format!("`{}`", &text[span.range()])
    }
}

/// The error pest reports in `chunk` (at `chunk_start` in `text`), which is an `item` or a
/// `statement` (what the text after the chunk starts).
fn syntax_error(
    text: &str,
    chunk_start: usize,
    chunk: &str,
    error: &pest::error::Error<Rule>,
    what: &str,
) -> Diagnostic {
    let pos = match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    // With error detail on, pest also knows the furthest place where a literal token was expected,
    // which is nearer the mistake than the furthest rule.
    let pos = error.parse_attempts().map_or(pos, |a| a.max_position.max(pos));
    // Point at the next token, not at the blank before it.
    let pos = pos + chunk.get(pos..).map_or(0, |rest| rest.len() - rest.trim_start().len());
    let at = chunk_start + pos.min(chunk.len());
    // The chunk ends where the next item (or statement) starts: an error there means it was cut
    // short.
    let next = chunk_start + chunk.len();
    let found = if pos >= chunk.trim_end().len() && next < text.len() && text[next..].starts_with('}') {
        describe_at(text, next)
    } else if pos >= chunk.trim_end().len() && next < text.len() {
        format!("the start of the next {what} ({})", describe_at(text, next))
    } else if pos >= chunk.len() {
        "the end of the file".to_string()
    } else {
        describe_at(text, at)
    };
    if let Some(keyword) = keyword_before(text, at) {
        if [":", "=", "(", ",", ")"].iter().any(|p| text[at..].starts_with(p)) {
            return Diagnostic::new(
                Code::SyntaxError,
                keyword,
                format!("`{}` is a keyword and cannot be used as a name", &text[keyword.range()]),
            )
            .label("reserved keyword")
            .help(format!("choose another name, such as `{}_value`", &text[keyword.range()]));
        }
        if &text[keyword.range()] == "in" && text[at..].starts_with("in") {
            return Diagnostic::new(Code::SyntaxError, keyword, "`in` is a keyword and cannot be used as a name")
                .label("reserved keyword")
                .help("choose another name for the loop variable");
        }
    }
    if let Some(word) = word_before(text, at) {
        if ["elif", "elsif", "elseif"].contains(&&text[word.range()]) {
            return Diagnostic::new(Code::SyntaxError, word, format!("`{}` is not a KFL keyword", &text[word.range()]))
                .label("unknown keyword")
                .help("write `else if`");
        }
    }
    let expected = expected_list(error);
    let message = match &expected {
        Some(list) => format!("expected {list}, found {found}"),
        None => format!("unexpected {found}"),
    };
    let mut diagnostic = Diagnostic::new(Code::SyntaxError, token_span(text, at), message).label(match &expected {
        Some(list) => format!("expected {list}"),
        None => "unexpected here".to_string(),
    });
    if let Some(help) = syntax_help(text, at, error) {
        diagnostic = diagnostic.help(help);
    }
    diagnostic
}

/// The word that ends right before `at` (skipping blanks), if any.
fn word_before(text: &str, at: usize) -> Option<Span> {
    let before = text.get(..at)?.trim_end();
    let word_start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    (word_start < before.len()).then(|| Span::new(word_start, before.len()))
}

/// The reserved keyword that ends right before `at`, if any.
fn keyword_before(text: &str, at: usize) -> Option<Span> {
    let word = word_before(text, at)?;
    KEYWORDS.contains(&&text[word.range()]).then_some(word)
}

fn rule_description(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::ident => "a name",
        Rule::string | Rule::string_inner => "a string",
        Rule::triple_string | Rule::triple_inner => "a `\"\"\"` string",
        Rule::number | Rule::number_value => "a number",
        Rule::number_unit => "a unit",
        Rule::expr
        | Rule::or_expr
        | Rule::and_expr
        | Rule::not_expr
        | Rule::cmp_expr
        | Rule::postfix
        | Rule::primary => "an expression",
        Rule::cmp_op => "a comparison",
        Rule::type_expr => "a type",
        Rule::item | Rule::item_only => "an item",
        Rule::import => "`import`",
        Rule::artifact => "`artifact`",
        Rule::component => "`component`",
        Rule::pipeline | Rule::pipeline_head => "`pipeline`",
        Rule::component_member => "a member (`input`, `output`, a field, a block or a script)",
        Rule::input_decl | Rule::kw_input => "`input`",
        Rule::output_sig | Rule::kw_output | Rule::pipeline_out => "`output`",
        Rule::script | Rule::script_lang => "`python` or `sh`",
        Rule::kv_block => "a block",
        Rule::kv_entry => "an entry `key = value`",
        Rule::field => "a field `name = value`",
        Rule::stmt => "a statement",
        Rule::task_binding | Rule::task_call | Rule::call => "a task",
        Rule::task_block => "`{`",
        Rule::task_member => "a field or block",
        Rule::if_stmt | Rule::kw_if => "`if`",
        Rule::kw_else => "`else`",
        Rule::for_stmt | Rule::kw_for => "`for`",
        Rule::kw_in => "`in`",
        Rule::kw_parallel => "`parallel`",
        Rule::finally_stmt | Rule::kw_finally => "`finally`",
        Rule::params | Rule::param => "a parameter",
        Rule::block => "`{`",
        Rule::list => "a list",
        Rule::map | Rule::map_entry => "a map",
        Rule::arg => "an argument",
        Rule::paren => "`(`",
        Rule::boolean => "`true` or `false`",
        Rule::doc => "a doc comment",
        Rule::module_path => "a module path",
        Rule::kw_and => "`and`",
        Rule::kw_or => "`or`",
        Rule::kw_not => "`not`",
        Rule::kw_import => "`import`",
        Rule::kw_artifact => "`artifact`",
        Rule::kw_component => "`component`",
        Rule::kw_pipeline => "`pipeline`",
        Rule::EOI => "the end of the file",
        _ => return None,
    })
}

fn expected_list(error: &pest::error::Error<Rule>) -> Option<String> {
    let mut tokens: Vec<String> = Vec::new();
    if let Some(attempts) = error.parse_attempts() {
        for token in attempts.expected_tokens() {
            // Only exact tokens (`{`, `=`, `import`, …): ranges and case-insensitive parts of numbers
            // say nothing to a reader. `ParsingToken` is not exported, hence the look at its form.
            let text = token.to_string();
            if format!("{token:?}").starts_with("Sensitive")
                && !text.starts_with("//")
                && !text.trim().is_empty()
                && text != "\u{FEFF}"
            {
                tokens.push(text);
            }
        }
    }
    let mut items: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !items.contains(&s) {
            items.push(s);
        }
    };
    // The first characters of a string, a list or a negative number mean that a value was expected.
    let value_expected = tokens.iter().any(|t| t == "\"" || t == "[");
    for token in &tokens {
        match token.as_str() {
            "\"" | "\"\"\"" | "-" | "[" | "true" | "false" | "not" if value_expected => push("a value".to_string()),
            "(" | "{" if value_expected => push("a value".to_string()),
            "_" if value_expected => push("a value".to_string()),
            "_" => push("a name".to_string()),
            "\u{feff}" => {}
            other => push(format!("`{other}`")),
        }
    }
    // Rules that failed are reported at where they started, which is before the exact tokens.
    if let (true, pest::error::ErrorVariant::ParsingError { positives, .. }) = (tokens.is_empty(), &error.variant) {
        for rule in positives {
            if let Some(d) = rule_description(*rule) {
                push(d.to_string());
            }
        }
    }
    // What closes or separates comes first: after a complete value, `,` or `)` is the likely fix,
    // not one of the operators that could also go on.
    items.sort_by_key(|item| ["`,`", "`)`", "`]`", "`}`"].iter().position(|p| p == item).unwrap_or(4));
    items.truncate(6);
    match items.len() {
        0 => None,
        1 => Some(items.remove(0)),
        _ => {
            let last = items.pop().unwrap_or_default();
            Some(format!("{} or {last}", items.join(", ")))
        }
    }
}

fn syntax_help(text: &str, at: usize, _error: &pest::error::Error<Rule>) -> Option<String> {
    let rest = text.get(at..).unwrap_or_default();
    let before = text.get(..at).unwrap_or_default().trim_end();
    if rest.starts_with(':') && before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
        return Some("fields are set with `=`; `:` is for types and call arguments".to_string());
    }
    if rest.starts_with('=') && !rest.starts_with("==") {
        return Some("call arguments are written `name: value`".to_string());
    }
    if rest.starts_with('}') || rest.is_empty() {
        return Some("something is missing before this point; check the line above".to_string());
    }
    if rest.starts_with('\'') {
        return Some("strings use double quotes: \"…\"".to_string());
    }
    let word = &rest[..token_span(text, at).len()];
    if ["let", "def", "fn", "var", "return", "elif", "while"].contains(&word) {
        return Some(format!("`{word}` is not a KFL keyword; see `docs/language.md` for the statements KFL has"));
    }
    None
}

/// Removes the first line break after `"""` and the indentation common to all non-blank lines, and
/// the last line if it holds only indentation (the line of the closing `"""`).
pub fn dedent(raw: &str) -> String {
    let raw = raw.strip_prefix("\r\n").or_else(|| raw.strip_prefix('\n')).unwrap_or(raw);
    let mut lines: Vec<&str> = raw.split('\n').collect();
    // The line of the closing `"""`, if it holds only indentation: removed, and the line break
    // before it kept (so a one-line script ends with a line break wherever its quotes close).
    let closing_line = lines.len() > 1 && lines.last().is_some_and(|l| l.trim().is_empty());
    if closing_line {
        lines.pop();
    }
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    let mut out = String::with_capacity(raw.len());
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        out.push_str(line.get(indent..).unwrap_or_else(|| line.trim_start()));
    }
    if closing_line || lines.len() > 1 {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::dedent;

    #[test]
    fn dedent_follows_the_three_rules_of_the_language_reference() {
        // (text between the quotes, value)
        let cases = [
            // The line break after the opening quotes goes; so does the closing line, whose line
            // break before it stays, wherever the closing quotes are indented.
            ("\n    print(1)\n    ", "print(1)\n"),
            ("\n    print(1)\n", "print(1)\n"),
            ("\n        a\n          b\n    ", "a\n  b\n"),
            // Blank lines become empty; tabs count as indentation.
            ("\n\ta\n\n\tb\n", "a\n\nb\n"),
            // Closing quotes right after the text: no closing line.
            ("\n    print(1)", "print(1)"),
            ("print(1)", "print(1)"),
            ("", ""),
            ("\n", ""),
            ("\n\n", "\n"),
        ];
        for (raw, value) in cases {
            assert_eq!(dedent(raw), value, "{raw:?}");
        }
    }
}

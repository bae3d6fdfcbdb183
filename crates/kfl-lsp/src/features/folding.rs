//! Folding ranges from tokens (so they work in items that do not parse): bracket pairs over several
//! lines, `"""` strings, runs of comments, and runs of imports.

use tower_lsp_server::ls_types::{FoldingRange, FoldingRangeKind};

use super::Ctx;
use crate::lexer::TokenKind;

pub fn folding_ranges(ctx: &Ctx<'_>) -> Vec<FoldingRange> {
    let text = ctx.text();
    let line = |offset: u32| ctx.lines.position(offset as usize).line;
    let range = |start: u32, end: u32, kind: Option<FoldingRangeKind>| FoldingRange {
        start_line: start,
        start_character: None,
        end_line: end,
        end_character: None,
        kind,
        collapsed_text: None,
    };
    let tokens = crate::lexer::file_tokens(ctx.db, ctx.file);
    let mut out = Vec::new();
    let mut open: Vec<(char, u32)> = Vec::new();
    let mut comment_run: Option<(u32, u32)> = None;
    let mut import_run: Option<(u32, u32)> = None;
    let flush = |run: &mut Option<(u32, u32)>, kind: FoldingRangeKind, out: &mut Vec<FoldingRange>| {
        if let Some((a, b)) = run.take() {
            if b > a {
                out.push(range(a, b, Some(kind)));
            }
        }
    };
    for (i, token) in tokens.iter().enumerate() {
        let (start_line, end_line) = (line(token.span.start), line(token.span.end));
        if matches!(token.kind, TokenKind::Comment | TokenKind::DocComment) {
            comment_run = match comment_run {
                Some((a, b)) if b + 1 >= start_line => Some((a, start_line)),
                previous => {
                    let mut previous = previous;
                    flush(&mut previous, FoldingRangeKind::Comment, &mut out);
                    Some((start_line, start_line))
                }
            };
            continue;
        }
        flush(&mut comment_run, FoldingRangeKind::Comment, &mut out);
        if token.is_keyword(text, "import") {
            // The import and its target, on this line.
            let end = tokens.get(i + 1).map_or(start_line, |t| line(t.span.end));
            import_run = match import_run {
                Some((a, b)) if b + 1 >= start_line => Some((a, end)),
                previous => {
                    let mut previous = previous;
                    flush(&mut previous, FoldingRangeKind::Imports, &mut out);
                    Some((start_line, end))
                }
            };
        } else if import_run.is_some_and(|(_, b)| start_line > b) {
            flush(&mut import_run, FoldingRangeKind::Imports, &mut out);
        }
        match (token.kind, token.text(text)) {
            (TokenKind::TripleString, _) if end_line > start_line => {
                out.push(range(start_line, end_line.saturating_sub(1).max(start_line), None));
            }
            (TokenKind::Punct, "{" | "(" | "[") => {
                let c = token.text(text).chars().next().unwrap_or('{');
                open.push((c, start_line));
            }
            (TokenKind::Punct, closer @ ("}" | ")" | "]")) => {
                let opener = match closer {
                    "}" => '{',
                    ")" => '(',
                    _ => '[',
                };
                if let Some(at) = open.iter().rposition(|(c, _)| *c == opener) {
                    let (_, start) = open[at];
                    open.truncate(at);
                    // Keep the closing line visible.
                    if start_line > start + 1 {
                        out.push(range(start, start_line - 1, None));
                    } else if start_line == start + 1 {
                        out.push(range(start, start, None));
                    }
                }
            }
            _ => {}
        }
    }
    flush(&mut comment_run, FoldingRangeKind::Comment, &mut out);
    flush(&mut import_run, FoldingRangeKind::Imports, &mut out);
    out.retain(|r| r.end_line > r.start_line);
    out.sort_by_key(|r| (r.start_line, r.end_line));
    out.dedup_by_key(|r| (r.start_line, r.end_line));
    out
}

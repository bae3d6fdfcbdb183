//! Semantic tokens (full document): the lexer's tokens, with names classified by what they resolve
//! to in the file's index.

use std::collections::HashMap;

use kfl_check::items::{file_exports, Export};
use kfl_check::types::{BUILTIN_ARTIFACTS, PARAMETER_TYPES};
use kfl_diagnostics::Span;
use tower_lsp_server::ls_types::{SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokensLegend};

use super::Ctx;
use crate::index::{file_index, Role, Symbol};
use crate::lexer::TokenKind;

const KEYWORD: u32 = 0;
const TYPE: u32 = 1;
const CLASS: u32 = 2;
const FUNCTION: u32 = 3;
const PARAMETER: u32 = 4;
const PROPERTY: u32 = 5;
const VARIABLE: u32 = 6;
const STRING: u32 = 7;
const NUMBER: u32 = 8;
const COMMENT: u32 = 9;
const OPERATOR: u32 = 10;
const NAMESPACE: u32 = 11;

const DECLARATION: u32 = 1 << 0;
const DEFAULT_LIBRARY: u32 = 1 << 1;
const DOCUMENTATION: u32 = 1 << 2;

pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: vec![
            SemanticTokenType::KEYWORD,
            SemanticTokenType::TYPE,
            SemanticTokenType::CLASS,
            SemanticTokenType::FUNCTION,
            SemanticTokenType::PARAMETER,
            SemanticTokenType::PROPERTY,
            SemanticTokenType::VARIABLE,
            SemanticTokenType::STRING,
            SemanticTokenType::NUMBER,
            SemanticTokenType::COMMENT,
            SemanticTokenType::OPERATOR,
            SemanticTokenType::NAMESPACE,
        ],
        token_modifiers: vec![
            SemanticTokenModifier::DECLARATION,
            SemanticTokenModifier::DEFAULT_LIBRARY,
            SemanticTokenModifier::DOCUMENTATION,
        ],
    }
}

pub fn semantic_tokens(ctx: &Ctx<'_>) -> Vec<SemanticToken> {
    let text = ctx.text();
    let index = file_index(ctx.db, ctx.file);
    let by_span: HashMap<(u32, u32), &crate::index::Occurrence> =
        index.occurrences.iter().filter(|o| o.role != Role::Mention).map(|o| ((o.span.start, o.span.end), o)).collect();
    let exports = file_exports(ctx.db, ctx.file);
    let tokens = crate::lexer::file_tokens(ctx.db, ctx.file);
    let mut out = Vec::new();
    let mut last = (0u32, 0u32);
    for (i, token) in tokens.iter().enumerate() {
        let word = token.text(text);
        let (ty, modifiers) = match token.kind {
            TokenKind::Keyword => (KEYWORD, 0),
            TokenKind::Comment => (COMMENT, 0),
            TokenKind::DocComment => (COMMENT, DOCUMENTATION),
            TokenKind::String | TokenKind::TripleString => (STRING, 0),
            TokenKind::Number => (NUMBER, 0),
            TokenKind::Punct if matches!(word, "==" | "!=" | "<=" | ">=" | "<" | ">") => (OPERATOR, 0),
            TokenKind::Punct | TokenKind::Unknown => continue,
            TokenKind::Ident => match by_span.get(&(token.span.start, token.span.end)) {
                Some(o) => {
                    let declaration = if matches!(o.role, Role::Decl) { DECLARATION } else { 0 };
                    match &o.symbol {
                        Symbol::Item { file, name } => {
                            let export = if *file == ctx.file {
                                exports.items.get(name)
                            } else {
                                file_exports(ctx.db, *file).items.get(name)
                            };
                            match export {
                                Some(Export::Artifact { .. }) => (CLASS, declaration),
                                _ => (FUNCTION, declaration),
                            }
                        }
                        Symbol::Input { .. } => (PARAMETER, declaration),
                        Symbol::Output { .. } => (PROPERTY, declaration),
                        Symbol::Task { .. } | Symbol::LoopVar { .. } => (VARIABLE, declaration),
                        Symbol::BuiltinType(_) => (TYPE, DEFAULT_LIBRARY),
                        Symbol::File(_) => (NAMESPACE, 0),
                    }
                }
                None => {
                    let next = tokens[i + 1..].iter().find(|t| !t.is_trivia()).map(|t| t.text(text));
                    if matches!(word, "python" | "sh") {
                        (KEYWORD, 0)
                    } else if word == "secret" {
                        (FUNCTION, DEFAULT_LIBRARY)
                    } else if PARAMETER_TYPES.contains(&word) || BUILTIN_ARTIFACTS.contains(&word) {
                        (TYPE, DEFAULT_LIBRARY)
                    } else if matches!(next, Some("=") | Some("{") | Some(":")) {
                        (PROPERTY, 0)
                    } else {
                        (VARIABLE, 0)
                    }
                }
            },
        };
        push_token(ctx, token.span, ty, modifiers, &mut last, &mut out);
    }
    out
}

/// Adds a token, one piece per line (LSP tokens do not span lines), in UTF-16 units.
fn push_token(ctx: &Ctx<'_>, span: Span, ty: u32, modifiers: u32, last: &mut (u32, u32), out: &mut Vec<SemanticToken>) {
    let text = ctx.text();
    let start = ctx.lines.position(span.start as usize);
    let body = text.get(span.range()).unwrap_or("");
    for (n, piece) in body.split('\n').enumerate() {
        let piece = piece.strip_suffix('\r').unwrap_or(piece);
        let length = piece.encode_utf16().count() as u32;
        let line = start.line + n as u32;
        let column = if n == 0 { start.character } else { 0 };
        if length == 0 {
            continue;
        }
        let delta_line = line - last.0;
        let delta_start = if delta_line == 0 { column - last.1 } else { column };
        out.push(SemanticToken { delta_line, delta_start, length, token_type: ty, token_modifiers_bitset: modifiers });
        *last = (line, column);
    }
}

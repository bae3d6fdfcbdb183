//! Semantic tokens (full document): the lexer's tokens, with names classified by what they are in
//! the checker's model (components, pipelines and everything in them), else in the file's index
//! (artifact types, built-in types, imports, names in component commands).

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
    let from_model = model_classes(ctx.db, ctx.file);
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
            TokenKind::Ident if from_model.contains_key(&(token.span.start, token.span.end)) => {
                from_model[&(token.span.start, token.span.end)]
            }
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

/// Token classes of the names the model holds (components, pipelines, their inputs, outputs,
/// tasks, arguments, loop variables and the names read in pipeline bodies), by span.
fn model_classes(db: &dyn kfl_check::Db, file: kfl_check::SourceFile) -> HashMap<(u32, u32), (u32, u32)> {
    use kfl_model::item::{Expr, ExprKind, Stmt};
    fn expr(e: &Expr, out: &mut HashMap<(u32, u32), (u32, u32)>) {
        let mut put = |i: usize, class: u32| {
            if let Some(span) = e.parts.get(i) {
                out.insert((span.start, span.end), (class, 0));
            }
        };
        match &e.kind {
            ExprKind::Param(_) => put(0, PARAMETER),
            ExprKind::LoopVar { .. } => put(0, VARIABLE),
            ExprKind::Output { .. } => {
                put(0, VARIABLE);
                put(1, PROPERTY);
            }
            ExprKind::Not(inner) => expr(inner, out),
            ExprKind::And(l, r) | ExprKind::Or(l, r) | ExprKind::Compare(_, l, r) => {
                expr(l, out);
                expr(r, out);
            }
            ExprKind::Value(_) => {}
        }
    }
    fn stmts(body: &[Stmt], out: &mut HashMap<(u32, u32), (u32, u32)>) {
        for stmt in body {
            match stmt {
                Stmt::Task(t) => {
                    if t.name_span != t.callee_span {
                        out.insert((t.name_span.start, t.name_span.end), (VARIABLE, DECLARATION));
                    }
                    out.insert((t.callee_span.start, t.callee_span.end), (FUNCTION, 0));
                    for arg in &t.args {
                        out.insert((arg.name_span.start, arg.name_span.end), (PARAMETER, 0));
                        expr(&arg.value, out);
                    }
                    for span in &t.after_spans {
                        out.insert((span.start, span.end), (VARIABLE, 0));
                    }
                }
                Stmt::If(i) => {
                    for branch in &i.branches {
                        if let Some(cond) = &branch.cond {
                            expr(cond, out);
                        }
                        stmts(&branch.body, out);
                    }
                }
                Stmt::For(l) => {
                    out.insert((l.var_span.start, l.var_span.end), (VARIABLE, DECLARATION));
                    expr(&l.items, out);
                    stmts(&l.body, out);
                }
                Stmt::Finally(f) => stmts(&f.body, out),
            }
        }
    }
    let model = kfl_check::model::file_model(db, file);
    let mut out = HashMap::new();
    let mut decl = |span: Span, class: u32| {
        out.insert((span.start, span.end), (class, DECLARATION));
    };
    for c in &model.components {
        decl(c.name_span, FUNCTION);
        c.inputs.iter().for_each(|i| decl(i.name_span, PARAMETER));
        c.outputs.iter().for_each(|o| decl(o.name_span, PROPERTY));
    }
    for p in &model.pipelines {
        decl(p.name_span, FUNCTION);
        p.params.iter().for_each(|i| decl(i.name_span, PARAMETER));
        p.outputs.iter().for_each(|o| decl(o.name_span, PROPERTY));
    }
    for p in &model.pipelines {
        stmts(&p.body, &mut out);
        p.outputs.iter().for_each(|o| expr(&o.value, &mut out));
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

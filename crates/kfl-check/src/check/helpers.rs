//! Small helpers every part of the checker shares: "did you mean" help, literal tests on
//! expressions, and the shape of a "declared twice" diagnostic.

use kfl_diagnostics::{did_you_mean, Code, Diagnostic, Label, Span};
use kfl_syntax::ast::{Expr, ExprKind};

pub(super) fn help_did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The literal value of an expression, if it is a literal without references.
pub(super) fn is_constant(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Str(_) | ExprKind::Number(_) | ExprKind::Bool(_) => true,
        ExprKind::List(items) => items.iter().all(is_constant),
        ExprKind::Map(entries) => entries.iter().all(|e| is_constant(&e.value)),
        ExprKind::Not(inner) | ExprKind::Paren(inner) => is_constant(inner),
        ExprKind::Binary(_, _, a, b) => is_constant(a) && is_constant(b),
        ExprKind::Path(_) | ExprKind::Field(..) | ExprKind::Call(_) => false,
    }
}

pub(super) fn strip_parens(expr: &Expr) -> &Expr {
    match &expr.kind {
        ExprKind::Paren(inner) => strip_parens(inner),
        _ => expr,
    }
}

/// A name declared a second time: the primary label at the repeat, a secondary at the first.
pub(super) fn declared_twice(code: Code, again: Span, first: Span, message: String) -> Diagnostic {
    Diagnostic::new(code, again, message)
        .label("declared again here")
        .secondary(Label::new(first, "first declared here"))
        .help("rename or remove one of them")
}

pub(super) trait HelpIfNone {
    fn help_if_none(self, help: impl Into<String>) -> Self;
}

impl HelpIfNone for Diagnostic {
    fn help_if_none(self, help: impl Into<String>) -> Self {
        if self.help.is_some() {
            self
        } else {
            self.help(help)
        }
    }
}

//! Literal values and their types: numbers (range, stray units), lists and maps (one element
//! type), calls where only a value may stand, and whether a value fits an expected type.

use kfl_diagnostics::{Code, Diagnostic, Label, Span};
use kfl_syntax::ast::{self, Expr, ExprKind};

use crate::check::helpers::strip_parens;
use crate::check::Checker;
use crate::types::{is_assignable, unify, Ty};

impl Checker<'_> {
    /// The type of a literal number; reports overflow and units where no quantity is expected.
    pub(super) fn number_ty(&mut self, n: &ast::NumberLit, span: Span) -> Ty {
        if let Some(unit) = &n.unit {
            self.push(
                Diagnostic::new(
                    Code::WrongUnit,
                    span,
                    format!("`{}{unit}` has a unit, but a plain number is expected here", n.value),
                )
                .label("unit not allowed here")
                .help("units are for resources (cpu, memory, gpu) and durations (timeout); write the plain number"),
            );
            return Ty::Unknown;
        }
        if n.is_integer() {
            if n.value.parse::<i64>().is_err() {
                self.push(
                    Diagnostic::new(
                        Code::InvalidNumber,
                        span,
                        format!("`{}` does not fit in a 64-bit integer", n.value),
                    )
                    .label("out of range")
                    .help("integers range from -9223372036854775808 to 9223372036854775807"),
                );
                return Ty::Unknown;
            }
            Ty::Int
        } else {
            match n.value.parse::<f64>() {
                Ok(v) if v.is_finite() => Ty::Float,
                _ => {
                    self.push(
                        Diagnostic::new(Code::InvalidNumber, span, format!("`{}` is not a finite number", n.value))
                            .label("out of range")
                            .help("use a smaller exponent"),
                    );
                    Ty::Unknown
                }
            }
        }
    }

    /// Types a literal (no references): the kind of value component fields and defaults take.
    pub(super) fn literal_ty(&mut self, expr: &Expr) -> Ty {
        match &expr.kind {
            ExprKind::Str(_) => Ty::String,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Number(n) => self.number_ty(n, expr.span),
            ExprKind::Paren(inner) => self.literal_ty(inner),
            ExprKind::List(items) => {
                let tys: Vec<Ty> = items.iter().map(|e| self.literal_ty(e)).collect();
                self.list_ty(items, &tys)
            }
            ExprKind::Map(entries) => {
                let tys: Vec<Ty> = entries.iter().map(|e| self.literal_ty(&e.value)).collect();
                self.map_ty(entries, tys)
            }
            ExprKind::Path(parts) => {
                let first = &parts[0];
                self.push(
                    Diagnostic::new(Code::UnresolvedName, first.span, format!("`{}` cannot be used here", first.text))
                        .label("only literal values are allowed here")
                        .help("write a literal value such as a string, a number, a list or a map"),
                );
                Ty::Unknown
            }
            ExprKind::Call(call) => {
                self.call_in_expression(call);
                Ty::Unknown
            }
            ExprKind::Field(..) | ExprKind::Not(_) | ExprKind::Binary(..) => {
                self.push(
                    Diagnostic::new(Code::FieldTypeMismatch, expr.span, "expected a literal value")
                        .label("not a literal")
                        .help("write a literal value such as a string, a number, a list or a map"),
                );
                Ty::Unknown
            }
        }
    }

    pub(super) fn list_ty(&mut self, items: &[Expr], tys: &[Ty]) -> Ty {
        let mut elem = Ty::Unknown;
        for (item, ty) in items.iter().zip(tys) {
            match unify(&elem, ty) {
                Some(t) => elem = t,
                None => {
                    self.push(
                        Diagnostic::new(
                            Code::MixedList,
                            item.span,
                            format!("this element has type {ty}, but the list holds {elem}"),
                        )
                        .label(format!("{ty}"))
                        .secondary(Label::new(items[0].span, format!("the first element has type {}", tys[0])))
                        .help("all elements of a list have one type"),
                    );
                    return Ty::List(Box::new(Ty::Unknown));
                }
            }
        }
        Ty::List(Box::new(elem))
    }

    pub(super) fn map_ty(&mut self, entries: &[ast::MapEntry], tys: Vec<Ty>) -> Ty {
        if entries.iter().all(|e| matches!(e.key, ast::Key::Ident(_))) && !entries.is_empty() {
            let mut fields: Vec<(String, Ty)> = entries.iter().map(|e| e.key.text().to_string()).zip(tys).collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            fields.dedup_by(|a, b| a.0 == b.0);
            return Ty::Struct(fields);
        }
        let mut value = Ty::Unknown;
        for (entry, ty) in entries.iter().zip(&tys) {
            match unify(&value, ty) {
                Some(t) => value = t,
                None => {
                    self.push(
                        Diagnostic::new(
                            Code::MixedList,
                            entry.value.span,
                            format!("this value has type {ty}, but the map holds {value}"),
                        )
                        .label(format!("{ty}"))
                        .help("all values of a map have one type"),
                    );
                    return Ty::Map(Box::new(Ty::Unknown));
                }
            }
        }
        Ty::Map(Box::new(value))
    }

    pub(super) fn call_in_expression(&mut self, call: &ast::Call) {
        let help = if call.callee.text == "secret" {
            "`secret(name: …, key: …)` is only allowed as a value in an `env` block"
        } else {
            "bind the task to a name on its own line, `t = component(…)`, and pass `t.output`"
        };
        self.push(
            Diagnostic::new(
                Code::CallInExpression,
                call.span,
                format!("`{}(…)` cannot be called inside an expression", call.callee.text),
            )
            .label("call inside an expression")
            .help(help),
        );
    }

    pub(super) fn expect_type(&mut self, expr: &Expr, actual: &Ty, expected: &Ty, what: &str) -> bool {
        if is_assignable(self.db, actual, expected) {
            self.check_lossy(expr, expected);
            return true;
        }
        self.push(
            Diagnostic::new(Code::FieldTypeMismatch, expr.span, format!("{what} expects {expected}, found {actual}"))
                .label(format!("this is {actual}"))
                .help(format!("write a value of type {expected}")),
        );
        false
    }

    /// An Int literal passed as a Float must be exactly representable.
    pub(super) fn check_lossy(&mut self, expr: &Expr, expected: &Ty) {
        if *expected != Ty::Float {
            return;
        }
        if let ExprKind::Number(n) = &strip_parens(expr).kind {
            if n.is_integer() && n.unit.is_none() {
                if let Ok(v) = n.value.parse::<i64>() {
                    if v.unsigned_abs() > (1u64 << 53) {
                        self.push(
                            Diagnostic::new(Code::LossyIntToFloat, expr.span, format!("`{}` cannot be passed as a Float exactly", n.value))
                                .label("too large for a Float")
                                .help("integers above 2^53 lose digits as Float; pass a Float literal (with a `.`) if rounding is fine"),
                        );
                    }
                }
            }
        }
    }
}

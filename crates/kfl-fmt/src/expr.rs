//! Expressions, calls, types and strings: flat when they fit, else broken one entry per line.

use kfl_syntax::ast::*;

use crate::printer::{width, Printer, INDENT};

impl Printer<'_> {
    /// Prints an expression; `suffix` is the width of what must still fit on its last line after it
    /// (a comma, ` {`).
    pub(crate) fn expr(&mut self, expr: &Expr, suffix: usize) {
        let (start, end) = self.range(expr.span);
        self.flush_before(start);
        if let Some(flat) = self.flat_expr(expr) {
            if self.fits(&flat, suffix) {
                self.tok(start, end, &flat);
                return;
            }
        }
        match &expr.kind {
            ExprKind::Str(s) => self.string(s),
            ExprKind::Number(n) => {
                let text = number(n);
                self.tok(start, end, &text);
            }
            ExprKind::Bool(b) => self.tok(start, end, if *b { "true" } else { "false" }),
            ExprKind::List(items) => {
                let spans: Vec<_> = items.iter().map(|e| self.range(e.span)).collect();
                self.bracketed((start, end.saturating_sub(1)), ("[", "]"), &spans, ",", &mut |p, i| {
                    if let Some(item) = items.get(i) {
                        p.expr(item, ",".len());
                    }
                });
            }
            ExprKind::Map(entries) => {
                let spans: Vec<_> = entries.iter().map(|e| self.range(e.span)).collect();
                self.bracketed((start, end.saturating_sub(1)), ("{", "}"), &spans, ",", &mut |p, i| {
                    if let Some(entry) = entries.get(i) {
                        p.key(&entry.key);
                        p.tok_after(p.end(entry.key.span()), ":");
                        p.spaces(1);
                        p.expr(&entry.value, ",".len());
                    }
                });
            }
            ExprKind::Path(parts) => self.path(parts),
            ExprKind::Field(inner, name) => {
                self.expr(inner, suffix + 1 + width(&name.text));
                self.tok_after(self.end(inner.span), ".");
                self.ident(name);
            }
            ExprKind::Call(call) => self.call(call, suffix),
            ExprKind::Not(operand) => {
                self.tok(start, start + "not".len(), "not");
                self.spaces(1);
                self.expr(operand, suffix);
            }
            ExprKind::Binary(op, op_span, lhs, rhs) => {
                let rhs_width = self.flat_expr(rhs).map_or(0, |t| width(&t));
                self.expr(lhs, op.text().len() + 2 + rhs_width + suffix);
                self.spaces(1);
                self.tok_span(*op_span, op.text());
                self.spaces(1);
                self.expr(rhs, suffix);
            }
            ExprKind::Paren(inner) => {
                self.tok(start, start + 1, "(");
                self.expr(inner, suffix + 1);
                let close = end.saturating_sub(1);
                self.tok(close, end, ")");
            }
        }
    }

    /// `callee(name: value, …)`: on one line when it fits and holds no comment, else one argument
    /// per line with a trailing comma.
    pub(crate) fn call(&mut self, call: &Call, suffix: usize) {
        let (start, end) = self.range(call.span);
        self.flush_before(start);
        if let Some(flat) = self.flat_call(call) {
            if self.fits(&flat, suffix) || call.args.is_empty() {
                self.tok(start, end, &flat);
                return;
            }
        }
        self.ident(&call.callee);
        let open = self.skip_trivia(self.end(call.callee.span));
        let args = &call.args;
        let spans: Vec<_> = args.iter().map(|a| self.range(a.span)).collect();
        self.bracketed((open, end.saturating_sub(1)), ("(", ")"), &spans, ",", &mut |p, i| {
            let Some(arg) = args.get(i) else {
                return;
            };
            if let Some(name) = &arg.name {
                p.ident(name);
                p.tok_after(p.end(name.span), ":");
                p.spaces(1);
            }
            p.expr(&arg.value, ",".len());
        });
    }

    /// A string: a multi-line `"""` string re-indented, anything else as written.
    pub(crate) fn string(&mut self, s: &StrLit) {
        let (start, end) = self.range(s.span);
        let raw = self.text(s.span);
        if !(s.triple && raw.contains('\n')) {
            self.tok(start, end, raw);
            return;
        }
        self.flush_before(start);
        let indent = self.line_indent();
        let text = triple_layout(&s.value, indent).unwrap_or_else(|| raw.to_string());
        self.tok(start, end, &text);
    }

    /// The expression on one line, or `None` if it cannot be (a comment or a multi-line string
    /// inside).
    pub(crate) fn flat_expr(&self, expr: &Expr) -> Option<String> {
        let (start, end) = self.range(expr.span);
        if self.comment_in(start, end) {
            return None;
        }
        self.flat(expr)
    }

    pub(crate) fn flat_call(&self, call: &Call) -> Option<String> {
        let (start, end) = self.range(call.span);
        if self.comment_in(start, end) {
            return None;
        }
        self.flat_call_inner(call)
    }

    fn flat(&self, expr: &Expr) -> Option<String> {
        Some(match &expr.kind {
            ExprKind::Str(s) => {
                let raw = self.text(s.span);
                if s.triple && raw.contains('\n') {
                    return None;
                }
                raw.to_string()
            }
            ExprKind::Number(n) => number(n),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::List(items) => {
                let items: Option<Vec<String>> = items.iter().map(|e| self.flat(e)).collect();
                format!("[{}]", items?.join(", "))
            }
            ExprKind::Map(entries) if entries.is_empty() => "{}".to_string(),
            ExprKind::Map(entries) => {
                let entries: Option<Vec<String>> = entries
                    .iter()
                    .map(|e| Some(format!("{}: {}", self.key_text(&e.key), self.flat(&e.value)?)))
                    .collect();
                format!("{{ {} }}", entries?.join(", "))
            }
            ExprKind::Path(parts) => parts.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("."),
            ExprKind::Field(inner, name) => format!("{}.{}", self.flat(inner)?, name.text),
            ExprKind::Call(call) => self.flat_call_inner(call)?,
            ExprKind::Not(operand) => format!("not {}", self.flat(operand)?),
            ExprKind::Binary(op, _, lhs, rhs) => {
                format!("{} {} {}", self.flat(lhs)?, op.text(), self.flat(rhs)?)
            }
            ExprKind::Paren(inner) => format!("({})", self.flat(inner)?),
        })
    }

    fn flat_call_inner(&self, call: &Call) -> Option<String> {
        let args: Option<Vec<String>> = call
            .args
            .iter()
            .map(|a| {
                let value = self.flat(&a.value)?;
                Some(match &a.name {
                    Some(name) => format!("{}: {value}", name.text),
                    None => value,
                })
            })
            .collect();
        Some(format!("{}({})", call.callee.text, args?.join(", ")))
    }

    pub(crate) fn flat_type(&self, ty: &TypeExpr) -> String {
        if ty.args.is_empty() {
            return ty.name.text.clone();
        }
        let args: Vec<String> = ty.args.iter().map(|a| self.flat_type(a)).collect();
        format!("{}<{}>", ty.name.text, args.join(", "))
    }
}

fn number(n: &NumberLit) -> String {
    format!("{}{}", n.value, n.unit.as_deref().unwrap_or(""))
}

/// A multi-line `"""` string whose value is `value`, opened on a line indented by `indent`: the
/// content one level deeper, the closing quotes on their own line at `indent` (or, if that does not
/// give `value` back, at column 0). Only a layout that parses back to exactly `value` is returned: a
/// value that does not end with a line break has none, and is printed as written.
fn triple_layout(value: &str, indent: usize) -> Option<String> {
    let content_indent = " ".repeat(indent + INDENT);
    let body = value.strip_suffix('\n').unwrap_or(value);
    let mut inner = String::from("\n");
    for (i, line) in body.split('\n').enumerate() {
        if i > 0 {
            inner.push('\n');
        }
        if !line.is_empty() {
            inner.push_str(&content_indent);
            inner.push_str(line);
        }
    }
    inner.push('\n');
    [" ".repeat(indent), String::new()]
        .into_iter()
        .map(|closing| format!("{inner}{closing}"))
        .find(|candidate| !candidate.contains("\"\"\"") && kfl_syntax::dedent(candidate) == value)
        .map(|candidate| format!("\"\"\"{candidate}\"\"\""))
}

#[cfg(test)]
mod tests {
    use super::triple_layout;

    #[test]
    fn triple_layout_round_trips() {
        for value in ["x\n", "a\nb\n", "a\n    b\n\nc\n", "a\n\tb\n", "a\n   \nb\n", "say \"hi\"\n", "\n\n"] {
            // Scripts sit inside a component or a pipeline, so the opening line is indented.
            for indent in [4, 8] {
                let text =
                    triple_layout(value, indent).unwrap_or_else(|| panic!("{value:?} at {indent} has no layout"));
                let inner = text.strip_prefix("\"\"\"").and_then(|t| t.strip_suffix("\"\"\"")).unwrap_or_default();
                assert_eq!(kfl_syntax::dedent(inner), value, "{value:?} at {indent}");
                assert!(text.ends_with(&format!("\n{}\"\"\"", " ".repeat(indent))), "{text:?}");
            }
        }
        // A value without a final line break comes only from quotes that close on the text's line.
        for value in ["", "x", "say \"hi\""] {
            assert_eq!(triple_layout(value, 4), None, "{value:?}");
        }
    }
}

//! What a component runs: the placeholders of a container `command`/`args`, and whether a script
//! mentions its inputs and sets its outputs.

use kfl_diagnostics::{Code, Diagnostic, Label};
use kfl_syntax::ast::{self, ExprKind, Ident};

use crate::check::helpers::{help_did_you_mean, strip_parens, HelpIfNone};
use crate::check::Checker;
use crate::types::Ty;

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `word` occurs in `text` as a whole word (not as part of a longer name).
fn mentions(text: &str, word: &str) -> bool {
    let mut from = 0;
    while let Some(found) = text[from..].find(word) {
        let start = from + found;
        let end = start + word.len();
        let before_ok = !text[..start].chars().next_back().is_some_and(is_ident_char);
        let after_ok = !text[end..].chars().next().is_some_and(is_ident_char);
        if before_ok && after_ok {
            return true;
        }
        from = end;
    }
    false
}

impl Checker<'_> {
    pub(super) fn check_command(
        &mut self,
        field: &ast::Field,
        inputs: &[(&ast::Param, Ty)],
        outputs: &[(&ast::OutputSig, Ty)],
        scripts: &[&ast::Script],
    ) {
        let _ = scripts;
        let ExprKind::List(items) = &strip_parens(&field.value).kind else {
            self.push(
                Diagnostic::new(
                    Code::FieldTypeMismatch,
                    field.value.span,
                    format!("`{}` expects a list", field.name.text),
                )
                .label("not a list")
                .help(format!("write `{} = [\"python\", \"-m\", \"train\"]`", field.name.text)),
            );
            return;
        };
        let names: Vec<&str> = inputs
            .iter()
            .map(|(p, _)| p.name.text.as_str())
            .chain(outputs.iter().map(|(o, _)| o.name.text.as_str()))
            .collect();
        for item in items {
            match &strip_parens(item).kind {
                ExprKind::Str(_) | ExprKind::Number(_) | ExprKind::Bool(_) => {}
                ExprKind::Path(parts) => self.check_placeholder(parts, inputs, outputs, &names),
                ExprKind::Call(call) => self.call_in_expression(call),
                _ => self.push(
                    Diagnostic::new(
                        Code::FieldTypeMismatch,
                        item.span,
                        format!("`{}` holds strings, numbers and placeholders", field.name.text),
                    )
                    .label("not a string, number or placeholder")
                    .help("write a string, an input's name, or `artifact.path`"),
                ),
            }
        }
    }

    fn check_placeholder(
        &mut self,
        parts: &[Ident],
        inputs: &[(&ast::Param, Ty)],
        outputs: &[(&ast::OutputSig, Ty)],
        names: &[&str],
    ) {
        let head = &parts[0];
        let input = inputs.iter().find(|(p, _)| p.name.text == head.text);
        let output = outputs.iter().find(|(o, _)| o.name.text == head.text);
        let (ty, is_output) = match (input, output) {
            (Some((_, ty)), _) => (ty, false),
            (None, Some((_, ty))) => (ty, true),
            (None, None) => {
                self.push(
                    Diagnostic::new(
                        Code::UnresolvedName,
                        head.span,
                        format!("`{}` is not an input or output of this component", head.text),
                    )
                    .label("unknown name")
                    .maybe_help(help_did_you_mean(&head.text, names.iter().copied()))
                    .help_if_none("a command may refer to the component's inputs and outputs; quote literal text"),
                );
                return;
            }
        };
        let property = parts.get(1);
        match (ty.is_artifact(), is_output, property) {
            (true, _, None) => self.push(
                Diagnostic::new(
                    Code::BareArtifactInCommand,
                    head.span,
                    format!("artifact `{}` needs `.path` or `.uri` here", head.text),
                )
                .label("an artifact, not a string")
                .help(format!(
                    "write `{}.path` for a local file path or `{}.uri` for its storage URI",
                    head.text, head.text
                )),
            ),
            (false, true, None) => self.push(
                Diagnostic::new(
                    Code::BareArtifactInCommand,
                    head.span,
                    format!("output parameter `{}` needs `.path` here", head.text),
                )
                .label("an output, not a value")
                .help(format!("write `{}.path`: the container writes the value into that file", head.text)),
            ),
            (true, _, Some(prop)) if ["path", "uri"].contains(&prop.text.as_str()) => {}
            (false, true, Some(prop)) if prop.text == "path" => {}
            (false, false, None) => {}
            (_, _, Some(prop)) => {
                let allowed: &[&str] = match (ty.is_artifact(), is_output) {
                    (true, _) => &["path", "uri"],
                    (false, true) => &["path"],
                    (false, false) => &[],
                };
                let help = if allowed.is_empty() {
                    format!("`{}` is a parameter and stands for its value; write just `{}`", head.text, head.text)
                } else {
                    help_did_you_mean(&prop.text, allowed.iter().copied()).unwrap_or_else(|| {
                        format!(
                            "in a command, `{}` has {}",
                            head.text,
                            allowed.iter().map(|a| format!("`.{a}`")).collect::<Vec<_>>().join(" and ")
                        )
                    })
                };
                self.push(
                    Diagnostic::new(
                        Code::UnknownArtifactProperty,
                        prop.span,
                        format!("`{}` has no property `{}` here", head.text, prop.text),
                    )
                    .label("unknown property")
                    .help(help),
                );
            }
        }
        if let Some(extra) = parts.get(2) {
            self.push(
                Diagnostic::new(
                    Code::UnknownArtifactProperty,
                    extra.span,
                    format!("`{}` has no property `{}`", parts[1].text, extra.text),
                )
                .label("unknown property")
                .help("a placeholder is `name`, `name.path` or `name.uri`"),
            );
        }
    }

    pub(super) fn check_script_mentions(
        &mut self,
        script: &ast::Script,
        inputs: &[(&ast::Param, Ty)],
        outputs: &[(&ast::OutputSig, Ty)],
    ) {
        let text = &script.source.value;
        for (input, _) in inputs {
            if !mentions(text, &input.name.text) {
                self.push(
                    Diagnostic::new(
                        Code::UnusedInput,
                        input.name.span,
                        format!("the script never mentions input `{}`", input.name.text),
                    )
                    .label("unused input")
                    .secondary(Label::new(script.lang_span, "in this script"))
                    .help("use it in the script, or remove the input"),
                );
            }
        }
        for (output, ty) in outputs {
            if !mentions(text, &output.name.text) {
                let how = match (script.lang, ty.is_artifact()) {
                    (ast::ScriptLang::Python, true) => {
                        format!("write the artifact to `{}.path`", output.name.text)
                    }
                    (ast::ScriptLang::Python, false) => {
                        format!("assign it: `{} = …`", output.name.text)
                    }
                    (ast::ScriptLang::Sh, _) => {
                        format!("write it to the file at `\"${}\"`", output.name.text)
                    }
                };
                self.push(
                    Diagnostic::new(
                        Code::OutputNotSet,
                        output.name.span,
                        format!("the script never sets output `{}`", output.name.text),
                    )
                    .label("never set")
                    .secondary(Label::new(script.lang_span, "in this script"))
                    .help(how),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mentions;

    #[test]
    fn mentions_whole_words_only() {
        assert!(mentions("x = raw_data.path", "raw_data"));
        assert!(!mentions("x = raw_data2", "raw_data"));
        assert!(mentions("echo \"$epochs\"", "epochs"));
        assert!(!mentions("my_rows = 1", "rows"));
    }
}

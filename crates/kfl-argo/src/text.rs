//! How values are written into the Workflow's strings: JSON objects, `{{inputs.parameters.…}}`
//! tags, `expr` literals, and the refusal of literals Argo would read as a template.

use kfl_dag::Value;
use serde_json::Value as Json;

use crate::ArgoError;

/// A JSON object of `entries`, moved in (`json!` copies every value it is given, through serde).
pub(crate) fn object<const N: usize>(entries: [(&str, Json); N]) -> Json {
    Json::Object(entries.into_iter().map(|(key, value)| (key.to_string(), value)).collect())
}

pub(crate) fn input_tag(name: &str) -> String {
    format!("{{{{inputs.parameters.{name}}}}}")
}

/// A string as an `expr` string literal. Braces are escaped so that no `}}` ends the tag early.
pub(crate) fn expr_str(text: &str) -> String {
    Json::String(text.to_string()).to_string().replace('{', "\\u007b").replace('}', "\\u007d")
}

pub(crate) fn float_literal(f: f64) -> String {
    let text = format!("{f}");
    if text.contains(['.', 'e', 'E']) || text.contains("inf") || text.contains("NaN") {
        text
    } else {
        format!("{text}.0")
    }
}

/// A literal's text form, refused if Argo would read it as a template.
pub(crate) fn literal_text(value: &Value, what: &str) -> Result<String, ArgoError> {
    let text = value.to_plain_string();
    no_braces(&text, what)?;
    Ok(text)
}

pub(crate) fn no_braces(text: &str, what: &str) -> Result<(), ArgoError> {
    if text.contains("{{") {
        return Err(ArgoError::Unrepresentable(format!(
            "{what} contains `{{{{`, which Argo Workflows reads as a template tag and cannot escape"
        )));
    }
    Ok(())
}

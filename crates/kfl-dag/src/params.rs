//! `--param name=value`: values given on the command line for pipeline parameters, parsed by the
//! parameter's type and stored as its default in the [`Dag`].

use crate::model::{Dag, IoType, ParamType, Value};

/// Why a `--param` was refused.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ParamError {
    Malformed(String),
    Unknown { name: String, available: Vec<String> },
    Artifact(String),
    BadValue { name: String, expected: &'static str, value: String },
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamError::Malformed(text) => write!(f, "`{text}` is not `name=value`"),
            ParamError::Unknown { name, available } if available.is_empty() => {
                write!(f, "the pipeline has no parameter `{name}` (it takes none)")
            }
            ParamError::Unknown { name, available } => {
                write!(f, "the pipeline has no parameter `{name}`; it takes {}", available.join(", "))
            }
            ParamError::Artifact(name) => {
                write!(f, "`{name}` is an artifact; artifacts cannot be given on the command line")
            }
            ParamError::BadValue { name, expected, value } => write!(f, "`{name}` expects {expected}, got `{value}`"),
        }
    }
}

impl std::error::Error for ParamError {}

/// Parses `name=value` pairs and sets them as the parameters' values.
pub fn apply_params(dag: &mut Dag, params: &[String]) -> Result<(), ParamError> {
    for text in params {
        let (name, raw) = text.split_once('=').ok_or_else(|| ParamError::Malformed(text.clone()))?;
        let available: Vec<String> = dag.params.iter().map(|p| p.name.clone()).collect();
        let param = dag
            .params
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or_else(|| ParamError::Unknown { name: name.to_string(), available })?;
        let IoType::Parameter(ty) = param.ty else { return Err(ParamError::Artifact(name.to_string())) };
        param.default = Some(parse_value(name, ty, raw)?);
    }
    Ok(())
}

/// Parses a command-line value of a parameter type: numbers and Bools as written, Lists and Maps as JSON,
/// strings as they are.
pub fn parse_value(name: &str, ty: ParamType, raw: &str) -> Result<Value, ParamError> {
    let bad =
        |expected: &'static str| ParamError::BadValue { name: name.to_string(), expected, value: raw.to_string() };
    match ty {
        ParamType::String => Ok(Value::String(raw.to_string())),
        ParamType::Int => raw.trim().parse().map(Value::Int).map_err(|_| bad("an Int")),
        ParamType::Float => match raw.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(bad("a Float")),
        },
        ParamType::Bool => match raw.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(bad("`true` or `false`")),
        },
        ParamType::List => match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(v @ serde_json::Value::Array(_)) => Ok(from_json(&v)),
            _ => Err(bad("a JSON list such as [1, 2]")),
        },
        ParamType::Map => match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(v @ serde_json::Value::Object(_)) => Ok(from_json(&v)),
            _ => Err(bad("a JSON object such as {\"a\": 1}")),
        },
    }
}

fn from_json(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::String(String::new()),
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => Value::List(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Map(map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_parameter_type() {
        assert_eq!(parse_value("n", ParamType::Int, "42"), Ok(Value::Int(42)));
        assert_eq!(parse_value("x", ParamType::Float, "0.5"), Ok(Value::Float(0.5)));
        assert_eq!(parse_value("b", ParamType::Bool, "true"), Ok(Value::Bool(true)));
        assert_eq!(parse_value("s", ParamType::String, "a=b c"), Ok(Value::String("a=b c".into())));
        assert_eq!(
            parse_value("l", ParamType::List, "[1, 2.5]"),
            Ok(Value::List(vec![Value::Int(1), Value::Float(2.5)]))
        );
        assert!(parse_value("n", ParamType::Int, "4.5").is_err());
        assert!(parse_value("b", ParamType::Bool, "yes").is_err());
        assert!(parse_value("l", ParamType::List, "{}").is_err());
    }
}

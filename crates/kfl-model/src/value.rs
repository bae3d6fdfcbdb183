//! Constant values: literals of the source, defaults, and `--param` values once parsed.

/// A constant value.
#[derive(Clone, PartialEq, Debug)]
pub enum Value {
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Value>),
    /// A map or a record, in source order.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// The type of a constant: a list has the type of its first element (an empty one `Unknown`),
    /// a map literal is a record.
    pub fn ty(&self) -> crate::ty::Ty {
        use crate::ty::Ty;
        match self {
            Value::String(_) => Ty::String,
            Value::Int(_) => Ty::Int,
            Value::Float(_) => Ty::Float,
            Value::Bool(_) => Ty::Bool,
            Value::List(items) => Ty::List(Box::new(items.first().map_or(Ty::Unknown, Value::ty))),
            Value::Map(entries) => Ty::Struct(entries.iter().map(|(k, v)| (k.clone(), v.ty())).collect()),
        }
    }

    /// The value as JSON, which is how both backends pass structured parameters.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::List(items) => serde_json::Value::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(entries) => {
                serde_json::Value::Object(entries.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// The value as a command-line or parameter string: strings as they are, the rest as JSON.
    pub fn to_plain_string(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            other => other.to_json().to_string(),
        }
    }
}

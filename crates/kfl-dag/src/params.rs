//! `--param name=value`: values given on the command line for pipeline parameters, parsed into the
//! parameter's declared type and stored as its default in the [`Dag`].
//!
//! A String parameter takes the text as written; Int, Float and Bool parameters take a number or
//! `true`/`false` as written; Lists, Maps and records take JSON, checked at every depth against the
//! declared element types. The rules are the checker's for defaults: an Int widens to a Float when the
//! Float holds it exactly, a Float never narrows to an Int, a string is never a number. A value that
//! does not fit is refused with [`Code::ParamTypeMismatch`], naming the element by its path
//! (`xs[1]`, `cfg.layers[0]`, `limits["gpu"]`).

use kfl_diagnostics::Code;

use crate::model::{Dag, IoType, Ty, Value};

/// Why a `--param` was refused.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ParamError {
    Malformed(String),
    Unknown {
        name: String,
        available: Vec<String>,
    },
    Artifact(String),
    /// The value does not have the parameter's declared type.
    Mismatch(Box<Mismatch>),
    /// A parameter without a default was given no value, where the run needs one (`kflc run`,
    /// `kflc apply`): see [`missing_values`].
    Missing {
        name: String,
        declared: Ty,
    },
}

/// A `--param` value that does not have the parameter's declared type, and where.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Mismatch {
    pub name: String,
    pub declared: Ty,
    /// Where in the value: empty for the value itself, else a path below it (`[1]`, `.layers[0]`,
    /// `["gpu"]`), which messages show after the parameter's name.
    pub at: String,
    /// What is wrong there, e.g. `is a String ("a"), expected Int`.
    pub problem: String,
}

impl ParamError {
    /// The permanent diagnostic code, for the errors that have one.
    pub fn code(&self) -> Option<Code> {
        match self {
            ParamError::Mismatch(_) => Some(Code::ParamTypeMismatch),
            ParamError::Missing { .. } => Some(Code::MissingParamValue),
            _ => None,
        }
    }

    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            ParamError::Mismatch(m) => Some(match &m.declared {
                declared @ (Ty::List(_) | Ty::Map(_) | Ty::Struct(_)) => {
                    format!("`{}` is declared as {declared}; give it as JSON of that type", escaped(&m.name))
                }
                declared => format!("`{}` is declared as {declared}", escaped(&m.name)),
            }),
            ParamError::Missing { name, declared } => Some(format!(
                "add `--param {}` to the command line, or give the parameter a default in the pipeline",
                param_to_add(name, declared)
            )),
            _ => None,
        }
    }
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamError::Malformed(text) => write!(f, "`{}` is not `name=value`", escaped(text)),
            ParamError::Unknown { name, available } if available.is_empty() => {
                write!(f, "the pipeline has no parameter `{}` (it takes none)", escaped(name))
            }
            ParamError::Unknown { name, available } => {
                write!(f, "the pipeline has no parameter `{}`; it takes {}", escaped(name), available.join(", "))
            }
            ParamError::Artifact(name) => {
                write!(f, "`{}` is an artifact; artifacts cannot be given on the command line", escaped(name))
            }
            ParamError::Missing { name, declared } => {
                write!(f, "the pipeline parameter `{}: {declared}` has no default and no --param value", escaped(name))
            }
            ParamError::Mismatch(m) if m.at.is_empty() => write!(f, "--param `{}` {}", escaped(&m.name), m.problem),
            ParamError::Mismatch(m) => {
                let name = escaped(&m.name);
                write!(f, "--param `{name}`: element {name}{} {}", m.at, m.problem)
            }
        }
    }
}

impl std::error::Error for ParamError {}

/// The longest stretch of a user's text that a message repeats; the rest is cut off.
const SHOWN_CHARS: usize = 40;

/// A user's text as a message repeats it: control characters, quotes and backslashes escaped, and cut
/// off after [`SHOWN_CHARS`] characters.
fn escaped(text: &str) -> String {
    let mut out: String = text.chars().take(SHOWN_CHARS).flat_map(char::escape_debug).collect();
    if text.chars().nth(SHOWN_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// The `--param` a user adds to give `name` a value, with a placeholder that says what is expected:
/// `data_url=…` for a String or a number, `layers='[…]'` (JSON) for a List, Map or record.
pub fn param_to_add(name: &str, declared: &Ty) -> String {
    match declared {
        Ty::List(_) => format!("{}='[…]'", escaped(name)),
        Ty::Map(_) | Ty::Struct(_) => format!("{}='{{…}}'", escaped(name)),
        _ => format!("{}=…", escaped(name)),
    }
}

/// The parameters (not artifacts) that have neither a default nor a `--param` value, in the order
/// they are declared. A run cannot start with one of them, and Argo refuses a Workflow whose argument
/// has no value; `kflc run` and `kflc apply` refuse them with [`Code::MissingParamValue`].
pub fn missing_values(dag: &Dag) -> Vec<ParamError> {
    dag.params
        .iter()
        .filter(|p| p.default.is_none() && matches!(p.ty, IoType::Parameter(_)))
        .map(|p| ParamError::Missing { name: p.name.clone(), declared: p.declared.clone() })
        .collect()
}

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
        if !matches!(param.ty, IoType::Parameter(_)) {
            return Err(ParamError::Artifact(name.to_string()));
        }
        param.default = Some(parse_value(name, &param.declared, raw)?);
    }
    Ok(())
}

/// Parses a command-line value of a parameter declared as `ty`: Strings as they are, numbers and Bools
/// as written, Lists, Maps and records as JSON whose every element has its declared type.
pub fn parse_value(name: &str, ty: &Ty, raw: &str) -> Result<Value, ParamError> {
    let refuse = |at: String, problem: String| {
        ParamError::Mismatch(Box::new(Mismatch { name: name.to_string(), declared: ty.clone(), at, problem }))
    };
    let got = |expected: &str| refuse(String::new(), format!("expects {expected}, got `{}`", escaped(raw)));
    match ty {
        Ty::String => Ok(Value::String(raw.to_string())),
        Ty::Int => raw.trim().parse().map(Value::Int).map_err(|_| got("an Int")),
        Ty::Float => {
            let text = raw.trim();
            if is_integer_text(text) {
                return match text.parse::<i64>().ok().and_then(exact_float) {
                    Some(f) => Ok(Value::Float(f)),
                    None => Err(got("a Float (this integer has no exact Float)")),
                };
            }
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Value::Float(f)),
                _ => Err(got("a finite Float")),
            }
        }
        Ty::Bool => match raw.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(got("`true` or `false`")),
        },
        Ty::Artifact(_) => Err(ParamError::Artifact(name.to_string())),
        Ty::Unknown => Ok(match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(json) => from_json(&json),
            Err(_) => Value::String(raw.to_string()),
        }),
        Ty::List(_) | Ty::Map(_) | Ty::Struct(_) => {
            // serde_json refuses nesting deeper than 128 levels with an error, so neither parsing
            // nor `typed` (which follows the value no deeper than that) can overflow the stack.
            let json: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
                let example = match ty {
                    Ty::List(_) => "a JSON list such as [1, 2]",
                    _ => "a JSON object such as {\"a\": 1}",
                };
                refuse(String::new(), format!("expects {example}, got `{}` ({e})", escaped(raw)))
            })?;
            typed(&json, ty, "").map_err(|(at, problem)| refuse(at, problem))
        }
    }
}

/// An optional `-` and digits only: how JSON and the command line write an integer.
fn is_integer_text(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `i` as a Float, if a Float holds it exactly.
fn exact_float(i: i64) -> Option<f64> {
    let f = i as f64;
    // `i64::MAX as f64` rounds up to 2^63, which `as i64` would saturate back to `i64::MAX`.
    (f >= -(2f64.powi(63)) && f < 2f64.powi(63) && f as i64 == i).then_some(f)
}

/// What a JSON value is, for a message: its KFL type and, for a scalar, the value.
fn describe(json: &serde_json::Value) -> String {
    match json {
        serde_json::Value::Null => "null".to_string(),
        serde_json::Value::Bool(b) => format!("a Bool ({b})"),
        // serde_json reads an integer beyond u64 as a Float: say what it is, whatever way it was written.
        serde_json::Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() >= 2f64.powi(63)) => {
            format!("a number beyond the range of Int ({n})")
        }
        serde_json::Value::Number(n) if n.is_f64() => format!("a Float ({n})"),
        serde_json::Value::Number(n) if n.is_i64() => format!("an Int ({n})"),
        serde_json::Value::Number(n) => format!("a number beyond the range of Int ({n})"),
        serde_json::Value::String(s) => format!("a String (\"{}\")", escaped(s)),
        serde_json::Value::Array(_) => "a List".to_string(),
        serde_json::Value::Object(_) => "an object".to_string(),
    }
}

/// `json` as a [`Value`] of type `ty`, or where it does not fit (a path below the value `at` names)
/// and why.
fn typed(json: &serde_json::Value, ty: &Ty, at: &str) -> Result<Value, (String, String)> {
    use serde_json::Value as Json;
    let mismatch = || Err((at.to_string(), format!("is {}, expected {ty}", describe(json))));
    match (ty, json) {
        (Ty::Unknown, _) => Ok(from_json(json)),
        (Ty::String, Json::String(s)) => Ok(Value::String(s.clone())),
        (Ty::Bool, Json::Bool(b)) => Ok(Value::Bool(*b)),
        (Ty::Int, Json::Number(n)) => match n.as_i64() {
            Some(i) => Ok(Value::Int(i)),
            None => mismatch(),
        },
        (Ty::Float, Json::Number(n)) => {
            if n.is_f64() {
                return n.as_f64().filter(|f| f.is_finite()).map(Value::Float).map_or_else(mismatch, Ok);
            }
            match n.as_i64().and_then(exact_float) {
                Some(f) => Ok(Value::Float(f)),
                None => Err((at.to_string(), format!("is {}, which a Float cannot hold exactly", describe(json)))),
            }
        }
        (Ty::List(element), Json::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| typed(item, element, &format!("{at}[{i}]")))
            .collect::<Result<_, _>>()
            .map(Value::List),
        (Ty::Map(element), Json::Object(entries)) => entries
            .iter()
            .map(|(key, item)| Ok((key.clone(), typed(item, element, &format!("{at}[\"{}\"]", escaped(key)))?)))
            .collect::<Result<_, _>>()
            .map(Value::Map),
        (Ty::Struct(fields), Json::Object(entries)) => {
            if let Some(key) = entries.keys().find(|key| !fields.iter().any(|(field, _)| field == *key)) {
                let names: Vec<&str> = fields.iter().map(|(field, _)| field.as_str()).collect();
                return Err((
                    at.to_string(),
                    format!("has a field \"{}\" that {ty} does not (it has {})", escaped(key), names.join(", ")),
                ));
            }
            fields
                .iter()
                .map(|(field, field_ty)| match entries.get(field) {
                    Some(item) => Ok((field.clone(), typed(item, field_ty, &format!("{at}.{field}"))?)),
                    None => Err((at.to_string(), format!("lacks the field `{field}` of {ty}"))),
                })
                .collect::<Result<_, _>>()
                .map(Value::Map)
        }
        _ => mismatch(),
    }
}

/// JSON as a [`Value`] with no declared type to follow (a parameter whose type did not resolve).
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

    fn list(element: Ty) -> Ty {
        Ty::List(Box::new(element))
    }

    fn map(element: Ty) -> Ty {
        Ty::Map(Box::new(element))
    }

    fn record(fields: &[(&str, Ty)]) -> Ty {
        Ty::Struct(fields.iter().map(|(name, ty)| (name.to_string(), ty.clone())).collect())
    }

    fn config() -> Ty {
        record(&[("lr", Ty::Float), ("layers", list(Ty::Int))])
    }

    #[test]
    fn the_param_to_add_says_how_its_value_is_written() {
        assert_eq!(param_to_add("data_url", &Ty::String), "data_url=…");
        assert_eq!(param_to_add("epochs", &Ty::Int), "epochs=…");
        assert_eq!(param_to_add("sizes", &list(Ty::Int)), "sizes='[…]'");
        assert_eq!(param_to_add("limits", &map(Ty::Int)), "limits='{…}'");
        assert_eq!(param_to_add("cfg", &config()), "cfg='{…}'");
        assert_eq!(param_to_add("a\nb", &Ty::String), "a\\nb=…");
        let missing = ParamError::Missing { name: "sizes".into(), declared: list(Ty::Int) };
        assert_eq!(missing.code(), Some(Code::MissingParamValue));
        assert_eq!(
            missing.to_string(),
            "the pipeline parameter `sizes: List<Int>` has no default and no --param value"
        );
    }

    /// `(type, text, value as JSON)`: texts a parameter of that type takes, and the value they give.
    fn accepted() -> Vec<(Ty, &'static str, &'static str)> {
        vec![
            (Ty::String, "a=b c", r#""a=b c""#),
            (Ty::String, " [1, 2] ", r#"" [1, 2] ""#),
            (Ty::String, "", r#""""#),
            (Ty::Int, "42", "42"),
            (Ty::Int, " -7 ", "-7"),
            (Ty::Int, "9223372036854775807", "9223372036854775807"),
            (Ty::Float, "0.5", "0.5"),
            (Ty::Float, "3", "3.0"),
            (Ty::Float, "1e3", "1000.0"),
            (Ty::Float, "9007199254740992", "9007199254740992.0"),
            (Ty::Bool, "true", "true"),
            (Ty::Bool, " false", "false"),
            (list(Ty::Int), "[1, 2]", "[1, 2]"),
            (list(Ty::Int), "[]", "[]"),
            (list(Ty::Int), "[-9223372036854775808]", "[-9223372036854775808]"),
            (list(Ty::Float), "[1, 2.5]", "[1.0, 2.5]"),
            (list(Ty::String), r#"["a", "b\nc"]"#, r#"["a", "b\nc"]"#),
            (list(Ty::Bool), "[true, false]", "[true, false]"),
            (list(list(Ty::Int)), "[[1], [], [2, 3]]", "[[1], [], [2, 3]]"),
            (list(list(list(Ty::Float))), "[[[1]]]", "[[[1.0]]]"),
            (map(Ty::Int), r#"{"a": 1, "b": 2}"#, r#"{"a": 1, "b": 2}"#),
            (map(list(Ty::Float)), r#"{"a": [1, 0.5]}"#, r#"{"a": [1.0, 0.5]}"#),
            (config(), r#"{"layers": [64, 32], "lr": 0.1}"#, r#"{"lr": 0.1, "layers": [64, 32]}"#),
            (config(), r#"{"lr": 1, "layers": []}"#, r#"{"lr": 1.0, "layers": []}"#),
            (list(config()), r#"[{"lr": 1, "layers": [2]}]"#, r#"[{"lr": 1.0, "layers": [2]}]"#),
        ]
    }

    /// `(type, text, message)`: texts a parameter named after the type's first letter refuses.
    fn refused() -> Vec<(Ty, &'static str, &'static str)> {
        vec![
            (Ty::Int, "4.5", "--param `p` expects an Int, got `4.5`"),
            (Ty::Int, "many", "--param `p` expects an Int, got `many`"),
            (Ty::Int, "9223372036854775808", "--param `p` expects an Int, got `9223372036854775808`"),
            (Ty::Int, "", "--param `p` expects an Int, got ``"),
            (Ty::Float, "nan", "--param `p` expects a finite Float, got `nan`"),
            (Ty::Float, "inf", "--param `p` expects a finite Float, got `inf`"),
            (Ty::Float, "1e400", "--param `p` expects a finite Float, got `1e400`"),
            (
                Ty::Float,
                "9007199254740993",
                "--param `p` expects a Float (this integer has no exact Float), got `9007199254740993`",
            ),
            (
                Ty::Float,
                "99999999999999999999",
                "--param `p` expects a Float (this integer has no exact Float), got `99999999999999999999`",
            ),
            (Ty::Bool, "yes", "--param `p` expects `true` or `false`, got `yes`"),
            (list(Ty::Int), r#"[1, "a"]"#, r#"--param `p`: element p[1] is a String ("a"), expected Int"#),
            (list(Ty::Int), "[1.5]", "--param `p`: element p[0] is a Float (1.5), expected Int"),
            (list(Ty::Int), "[1.0]", "--param `p`: element p[0] is a Float (1.0), expected Int"),
            (
                list(Ty::Int),
                "[9223372036854775808]",
                "--param `p`: element p[0] is a number beyond the range of Int (9223372036854775808), expected Int",
            ),
            (
                list(Ty::Int),
                "[100000000000000000000000]",
                "--param `p`: element p[0] is a number beyond the range of Int (1e+23), expected Int",
            ),
            (list(Ty::Int), "[null]", "--param `p`: element p[0] is null, expected Int"),
            (list(Ty::Int), "[true]", "--param `p`: element p[0] is a Bool (true), expected Int"),
            (list(Ty::Int), "{}", "--param `p` is an object, expected List<Int>"),
            (list(Ty::Int), "3", "--param `p` is an Int (3), expected List<Int>"),
            (
                list(Ty::Float),
                "[9007199254740993]",
                "--param `p`: element p[0] is an Int (9007199254740993), which a Float cannot hold exactly",
            ),
            (list(Ty::Float), r#"["1"]"#, r#"--param `p`: element p[0] is a String ("1"), expected Float"#),
            (list(Ty::String), "[1]", "--param `p`: element p[0] is an Int (1), expected String"),
            (
                list(list(Ty::Int)),
                r#"[[1], [2, "x"]]"#,
                r#"--param `p`: element p[1][1] is a String ("x"), expected Int"#,
            ),
            (list(list(Ty::Int)), "[[1], 2]", "--param `p`: element p[1] is an Int (2), expected List<Int>"),
            (
                list(list(list(Ty::Int))),
                "[[[1, 2.5]]]",
                "--param `p`: element p[0][0][1] is a Float (2.5), expected Int",
            ),
            (map(Ty::Int), r#"{"a": 1, "b": "x"}"#, r#"--param `p`: element p["b"] is a String ("x"), expected Int"#),
            (
                map(Ty::Int),
                r#"{"a\n\u001b": 1.5}"#,
                r#"--param `p`: element p["a\n\u{1b}"] is a Float (1.5), expected Int"#,
            ),
            (map(Ty::Int), "[1]", "--param `p` is a List, expected Map<Int>"),
            (
                config(),
                r#"{"lr": 0.1, "layers": [64.5]}"#,
                "--param `p`: element p.layers[0] is a Float (64.5), expected Int",
            ),
            (
                config(),
                r#"{"lr": "fast", "layers": []}"#,
                r#"--param `p`: element p.lr is a String ("fast"), expected Float"#,
            ),
            (config(), r#"{"lr": 0.1}"#, "--param `p` lacks the field `layers` of {lr: Float, layers: List<Int>}"),
            (
                config(),
                r#"{"lr": 0.1, "layers": [], "momentum": 0.9}"#,
                r#"--param `p` has a field "momentum" that {lr: Float, layers: List<Int>} does not (it has lr, layers)"#,
            ),
            (
                list(config()),
                r#"[{"lr": 0.1, "layers": []}, {"layers": []}]"#,
                "--param `p`: element p[1] lacks the field `lr` of {lr: Float, layers: List<Int>}",
            ),
        ]
    }

    #[test]
    fn texts_that_fit_the_declared_type_give_its_values() {
        let mut failures = Vec::new();
        for (ty, raw, expected) in accepted() {
            let expected: serde_json::Value = serde_json::from_str(expected).expect("the table's JSON");
            match parse_value("p", &ty, raw) {
                Ok(value) if value.to_json() == expected && same_kinds(&value, &ty) => {}
                other => failures.push(format!("{ty} `{raw}`: {other:?}, expected {expected}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Every Float the declared type asks for is a [`Value::Float`], even one written as `1`.
    fn same_kinds(value: &Value, ty: &Ty) -> bool {
        match (value, ty) {
            (Value::Float(_), Ty::Float) | (Value::Int(_), Ty::Int) => true,
            (Value::String(_), Ty::String) | (Value::Bool(_), Ty::Bool) => true,
            (Value::List(items), Ty::List(element)) => items.iter().all(|item| same_kinds(item, element)),
            (Value::Map(entries), Ty::Map(element)) => entries.iter().all(|(_, item)| same_kinds(item, element)),
            (Value::Map(entries), Ty::Struct(fields)) => {
                entries.len() == fields.len()
                    && entries.iter().zip(fields).all(|((key, item), (name, ty))| key == name && same_kinds(item, ty))
            }
            _ => false,
        }
    }

    #[test]
    fn texts_that_do_not_fit_are_refused_naming_the_element() {
        let mut failures = Vec::new();
        for (ty, raw, expected) in refused() {
            match parse_value("p", &ty, raw) {
                Err(e) if e.to_string() == expected && e.code() == Some(Code::ParamTypeMismatch) => {}
                other => {
                    failures.push(format!("{ty} `{raw}`: {:?}, expected {expected}", other.map_err(|e| e.to_string())))
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn deep_nesting_is_refused_cleanly() {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let raw = format!("{}1{}", open.repeat(10_000), close.repeat(10_000));
            for ty in [list(Ty::Int), list(list(list(Ty::Int))), map(Ty::Int), Ty::Unknown] {
                let result = parse_value("p", &ty, &raw);
                if ty == Ty::Unknown {
                    // No declared type to follow: the text is taken as a string, as for any non-JSON.
                    assert_eq!(result, Ok(Value::String(raw.clone())));
                    continue;
                }
                let e = result.expect_err("refused");
                assert_eq!(e.code(), Some(Code::ParamTypeMismatch));
                let message = e.to_string();
                assert!(message.contains("recursion limit exceeded"), "{message}");
                assert!(message.chars().count() < 200, "the value is cut short: {message}");
            }
        }
    }

    #[test]
    fn values_in_messages_are_escaped_and_cut_short() {
        let long = format!(r#"["{}"]"#, "x".repeat(10_000));
        let message = parse_value("p", &list(Ty::Int), &long).expect_err("refused").to_string();
        assert!(message.chars().count() < 150 && message.contains("x…"), "{message}");

        let hostile = "\u{1b}[31mred\r\n\u{7}";
        for (ty, raw) in
            [(Ty::Int, hostile.to_string()), (list(Ty::Int), format!("[{}]", serde_json::Value::from(hostile)))]
        {
            let message = parse_value("p", &ty, &raw).expect_err("refused").to_string();
            assert!(!message.chars().any(char::is_control), "{message:?}");
            assert!(message.contains(r"\u{1b}[31mred\r\n\u{7}"), "{message}");
        }
        let malformed = ParamError::Malformed("no\nequals".into()).to_string();
        assert_eq!(malformed, r"`no\nequals` is not `name=value`");
    }

    #[test]
    fn only_mismatches_carry_the_code_and_help() {
        let e = parse_value("xs", &list(Ty::Int), r#"["a"]"#).expect_err("refused");
        assert_eq!(e.help().as_deref(), Some("`xs` is declared as List<Int>; give it as JSON of that type"));
        let e = parse_value("n", &Ty::Int, "a").expect_err("refused");
        assert_eq!(e.help().as_deref(), Some("`n` is declared as Int"));
        assert_eq!(ParamError::Malformed("x".into()).code(), None);
        assert_eq!(ParamError::Artifact("data".into()).code(), None);
    }
}

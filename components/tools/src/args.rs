//! Argument extraction: every failure names the field and what was expected,
//! so the model can fix its call on the next turn.

use crate::prelude::*;

use wasiclaw_json::{Map, Value};

use crate::error::{cat, num, ToolError};

/// Parses a tool's argument text into its JSON object. An empty text counts as
/// `{}` because some models send nothing for "no arguments".
pub fn parse_object(text: &str) -> Result<Map, ToolError> {
    if text.trim().is_empty() {
        return Ok(Map::default());
    }
    match wasiclaw_json::parse(text) {
        Ok(Value::Obj(m)) => Ok(m),
        Ok(other) => Err(ToolError::InvalidArguments(cat(&[
            "arguments must be a JSON object, got ",
            other.type_name(),
        ]))),
        Err(e) => Err(ToolError::InvalidArguments(cat(&[
            "arguments are not valid JSON (at byte ",
            &num(e.pos as u64),
            ": ",
            e.msg,
            ")",
        ]))),
    }
}

fn mistyped(field: &str, want: &str, got: &Value) -> ToolError {
    ToolError::InvalidArguments(cat(&[
        "field `",
        field,
        "` must be ",
        want,
        ", got ",
        got.type_name(),
    ]))
}

/// The field's value, treating JSON `null` as absent.
fn field<'a>(m: &'a Map, name: &str) -> Option<&'a Value> {
    m.get(name).filter(|v| !v.is_null())
}

pub fn req_str<'a>(m: &'a Map, name: &str) -> Result<&'a str, ToolError> {
    match field(m, name) {
        None => Err(ToolError::InvalidArguments(cat(&[
            "missing required field `",
            name,
            "` (a string)",
        ]))),
        Some(Value::Str(s)) => Ok(s),
        Some(v) => Err(mistyped(name, "a string", v)),
    }
}

pub fn opt_str<'a>(m: &'a Map, name: &str) -> Result<Option<&'a str>, ToolError> {
    match field(m, name) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(v) => Err(mistyped(name, "a string", v)),
    }
}

/// An optional integer that must lie in `min..=max`.
pub fn opt_uint(m: &Map, name: &str, min: u64, max: u64) -> Result<Option<u64>, ToolError> {
    let v = match field(m, name) {
        None => return Ok(None),
        Some(v) => v,
    };
    let n = match v {
        Value::Num(n) => n.as_u64().ok_or_else(|| {
            ToolError::InvalidArguments(cat(&[
                "field `",
                name,
                "` must be a whole number, got ",
                n.as_str(),
            ]))
        })?,
        _ => return Err(mistyped(name, "a whole number", v)),
    };
    if n < min || n > max {
        return Err(ToolError::InvalidArguments(cat(&[
            "field `",
            name,
            "` must be between ",
            &num(min),
            " and ",
            &num(max),
            ", got ",
            &num(n),
        ])));
    }
    Ok(Some(n))
}

/// An optional array of strings (`tags`).
pub fn opt_str_list(m: &Map, name: &str) -> Result<Vec<String>, ToolError> {
    let v = match field(m, name) {
        None => return Ok(Vec::new()),
        Some(v) => v,
    };
    let items = match v {
        Value::Arr(a) => a,
        _ => return Err(mistyped(name, "an array of strings", v)),
    };
    items
        .iter()
        .map(|it| match it {
            Value::Str(s) => Ok(s.clone()),
            other => Err(mistyped(name, "an array of strings", other)),
        })
        .collect()
}

//! The engine's JSON-RPC 2.0 frames: requests (`handle` is Qlik's addition; `params` by position
//! or by name; `delta` asks for results as JSON patches), responses with the optional `change`
//! and `close` handle arrays, errors, and notifications. See qlik.dev "JSON-RPC API" and
//! help.qlik.com "Request object syntax".

use serde_json::{Map, Value, json};

use super::methods::Param;
use super::spec::{ErrorCode, QixError};

/// A parsed request frame.
#[derive(Debug, Clone)]
pub struct Request {
    /// `None` for a notification (no answer is sent).
    pub id: Option<Value>,
    pub handle: i64,
    pub method: String,
    pub params: Params,
    pub delta: bool,
}

#[derive(Debug, Clone)]
pub enum Params {
    Positional(Vec<Value>),
    Named(Map<String, Value>),
}

/// A frame that is not a request: the id to answer with (if one could be read) and the error.
#[derive(Debug)]
pub struct BadFrame {
    pub id: Option<Value>,
    pub error: QixError,
}

pub fn parse(text: &str) -> Result<Request, BadFrame> {
    let value: Value = serde_json::from_str(text).map_err(|e| BadFrame {
        id: None,
        error: QixError::new(ErrorCode::ParseError, e.to_string()),
    })?;
    let Value::Object(mut frame) = value else {
        return Err(BadFrame {
            id: None,
            error: QixError::new(
                ErrorCode::InvalidRequest,
                "the request is not a JSON object",
            ),
        });
    };
    let id = frame.remove("id").filter(|v| !v.is_null());
    let bad = |id: &Option<Value>, detail: &str| BadFrame {
        id: id.clone(),
        error: QixError::new(ErrorCode::InvalidRequest, detail),
    };
    if let Some(v) = &id
        && !(v.is_number() || v.is_string())
    {
        return Err(bad(&None, "id must be a number or a string"));
    }
    let method = match frame.remove("method") {
        Some(Value::String(m)) if !m.is_empty() => m,
        _ => return Err(bad(&id, "method missing")),
    };
    let handle = match frame.remove("handle") {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| bad(&id, "handle must be an integer"))?,
        None => return Err(bad(&id, "handle missing")),
        Some(_) => return Err(bad(&id, "handle must be an integer")),
    };
    let params = match frame.remove("params") {
        None | Some(Value::Null) => Params::Positional(Vec::new()),
        Some(Value::Array(a)) => Params::Positional(a),
        Some(Value::Object(o)) => Params::Named(o),
        Some(_) => {
            return Err(BadFrame {
                id,
                error: QixError::new(
                    ErrorCode::InvalidParams,
                    "params must be an array or object",
                ),
            });
        }
    };
    let delta = frame.get("delta").and_then(Value::as_bool).unwrap_or(false);
    Ok(Request {
        id,
        handle,
        method,
        params,
        delta,
    })
}

/// The arguments in table order: positional ones as given, named ones by name; omitted ones take
/// the table's default (a required structure without one is an error).
pub fn arguments(params: &Params, table: &[Param]) -> Result<Vec<Value>, QixError> {
    let given: Vec<Option<Value>> = match params {
        Params::Positional(values) => {
            if values.len() > table.len() {
                return Err(QixError::new(
                    ErrorCode::InvalidParams,
                    format!(
                        "{} parameters given, the method takes {}",
                        values.len(),
                        table.len()
                    ),
                ));
            }
            (0..table.len()).map(|i| values.get(i).cloned()).collect()
        }
        Params::Named(map) => {
            if let Some(unknown) = map.keys().find(|k| !table.iter().any(|p| p.name == *k)) {
                return Err(QixError::new(
                    ErrorCode::InvalidParams,
                    format!("unknown parameter {unknown}"),
                ));
            }
            table.iter().map(|p| map.get(p.name).cloned()).collect()
        }
    };
    table
        .iter()
        .zip(given)
        .map(|(param, value)| match value {
            Some(v) => Ok(v),
            None => {
                let default: Value = serde_json::from_str(param.default).unwrap_or(Value::Null);
                if default.is_null() && !param.optional {
                    Err(QixError::new(
                        ErrorCode::InvalidParams,
                        format!("missing parameter {}", param.name),
                    ))
                } else {
                    Ok(default)
                }
            }
        })
        .collect()
}

/// Handles whose objects changed or closed, sent with an answer or on their own.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HandleNews {
    pub change: Vec<i64>,
    pub close: Vec<i64>,
}

impl HandleNews {
    pub fn is_empty(&self) -> bool {
        self.change.is_empty() && self.close.is_empty()
    }

    fn append_to(&self, frame: &mut Map<String, Value>) {
        if !self.change.is_empty() {
            frame.insert("change".into(), json!(self.change));
        }
        if !self.close.is_empty() {
            frame.insert("close".into(), json!(self.close));
        }
    }
}

/// `{"jsonrpc":"2.0","id":..,["delta":true,]"result":..,["change":..][,"close":..]}`
pub fn result_frame(
    id: &Value,
    result: Map<String, Value>,
    delta: bool,
    news: &HandleNews,
) -> String {
    let mut frame = Map::new();
    frame.insert("jsonrpc".into(), json!("2.0"));
    frame.insert("id".into(), id.clone());
    if delta {
        frame.insert("delta".into(), json!(true));
    }
    frame.insert("result".into(), Value::Object(result));
    news.append_to(&mut frame);
    Value::Object(frame).to_string()
}

/// `{"jsonrpc":"2.0","id":..,"error":{"code","parameter","message"}}`
pub fn error_frame(id: Option<&Value>, error: &QixError, news: &HandleNews) -> String {
    let mut frame = Map::new();
    frame.insert("jsonrpc".into(), json!("2.0"));
    frame.insert("id".into(), id.cloned().unwrap_or(Value::Null));
    frame.insert(
        "error".into(),
        json!({"code": error.code, "parameter": error.parameter, "message": error.message}),
    );
    news.append_to(&mut frame);
    Value::Object(frame).to_string()
}

/// A frame with only `change`/`close`, for sockets that did not cause the change.
pub fn news_frame(news: &HandleNews) -> String {
    let mut frame = Map::new();
    frame.insert("jsonrpc".into(), json!("2.0"));
    news.append_to(&mut frame);
    Value::Object(frame).to_string()
}

/// `{"jsonrpc":"2.0","method":..,"params":..}`
pub fn notification(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string()
}

/// The JSON patches (RFC 6902 subset enigma.js applies: add, replace, remove) turning `old` into
/// `new`. The first answer for a key is one `add` of the whole value at `/`; equal values give
/// no patches. Objects are compared member by member; arrays and scalars are replaced whole.
pub fn delta_patches(old: Option<&Value>, new: &Value) -> Vec<Value> {
    let Some(old) = old else {
        return vec![json!({"op": "add", "path": "/", "value": new})];
    };
    let mut out = Vec::new();
    diff_into(old, new, "", &mut out);
    out
}

/// Whether enigma.js can patch member `key` on its own: its pointer code neither unescapes `~0`/`~1`
/// nor tells a numeric-looking member name from an array index, and refuses prototype keys. A
/// member it cannot address is sent as a replacement of the whole parent object.
fn addressable(key: &str) -> bool {
    let trimmed = key.trim();
    !trimmed.is_empty()
        && !key.contains(['/', '~'])
        && trimmed.parse::<f64>().is_err()
        && !trimmed.starts_with("0x")
        && !trimmed.starts_with("0b")
        && !trimmed.starts_with("0o")
        && !matches!(trimmed, "Infinity" | "-Infinity" | "+Infinity")
        && !matches!(key, "__proto__" | "constructor" | "prototype")
}

fn diff_into(old: &Value, new: &Value, path: &str, out: &mut Vec<Value>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b))
            if a.keys().chain(b.keys()).all(|k| addressable(k)) =>
        {
            for (k, v) in b {
                let child = format!("{path}/{k}");
                match a.get(k) {
                    Some(old_v) => diff_into(old_v, v, &child, out),
                    None => out.push(json!({"op": "add", "path": child, "value": v})),
                }
            }
            for k in a.keys().filter(|k| !b.contains_key(*k)) {
                out.push(json!({"op": "remove", "path": format!("{path}/{k}")}));
            }
        }
        _ => {
            let at = if path.is_empty() { "/" } else { path };
            out.push(json!({"op": "replace", "path": at, "value": new}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positional_named_and_bad_frames() {
        let r = parse(r#"{"jsonrpc":"2.0","id":3,"method":"OpenDoc","handle":-1,"params":["x"],"delta":true}"#)
            .unwrap();
        assert_eq!(
            (r.handle, r.method.as_str(), r.delta),
            (-1, "OpenDoc", true)
        );
        let r = parse(
            r#"{"jsonrpc":"2.0","id":4,"method":"GetObject","handle":1,"params":{"qId":"a"}}"#,
        )
        .unwrap();
        assert!(matches!(r.params, Params::Named(_)));
        assert_eq!(parse("{nope").unwrap_err().error.code, -32700);
        let e = parse(r#"{"id":5,"handle":1}"#).unwrap_err();
        assert_eq!((e.id, e.error.code), (Some(json!(5)), -32600));
        assert_eq!(
            parse(r#"{"id":6,"method":"X","handle":"1"}"#)
                .unwrap_err()
                .error
                .code,
            -32600
        );
    }

    #[test]
    fn arguments_fill_defaults_and_refuse_unknown_names() {
        let table = [
            Param {
                name: "qMode",
                default: "0",
                optional: true,
            },
            Param {
                name: "qProp",
                default: "null",
                optional: false,
            },
        ];
        let a = arguments(&Params::Positional(vec![json!(1), json!({})]), &table).unwrap();
        assert_eq!(a, vec![json!(1), json!({})]);
        let mut named = Map::new();
        named.insert("qProp".into(), json!({"a": 1}));
        let a = arguments(&Params::Named(named.clone()), &table).unwrap();
        assert_eq!(a, vec![json!(0), json!({"a": 1})]);
        named.insert("qOther".into(), json!(1));
        assert_eq!(
            arguments(&Params::Named(named), &table).unwrap_err().code,
            -32602
        );
        assert_eq!(
            arguments(&Params::Positional(vec![]), &table)
                .unwrap_err()
                .code,
            -32602
        );
    }

    #[test]
    fn delta_patches_as_enigma_applies_them() {
        let first = delta_patches(None, &json!({"a": 1}));
        assert_eq!(
            first,
            vec![json!({"op": "add", "path": "/", "value": {"a": 1}})]
        );
        assert!(delta_patches(Some(&json!({"a": 1})), &json!({"a": 1})).is_empty());
        let p = delta_patches(
            Some(&json!({"a": 1, "b": {"c": 2}, "d": 0})),
            &json!({"a": 2, "b": {"c": 3}, "e": [1]}),
        );
        assert_eq!(
            p,
            vec![
                json!({"op": "replace", "path": "/a", "value": 2}),
                json!({"op": "replace", "path": "/b/c", "value": 3}),
                json!({"op": "add", "path": "/e", "value": [1]}),
                json!({"op": "remove", "path": "/d"}),
            ]
        );
        assert_eq!(
            delta_patches(Some(&json!("x")), &json!("y")),
            vec![json!({"op": "replace", "path": "/", "value": "y"})]
        );
        for odd in ["a/b", "7", "", "__proto__"] {
            assert_eq!(
                delta_patches(Some(&json!({"x": {odd: 1}})), &json!({"x": {odd: 2}})),
                vec![json!({"op": "replace", "path": "/x", "value": {odd: 2}})]
            );
        }
    }
}

//! Normalizing task definitions and diffing them: what always differs between a definition in
//! Git and an export from a server is ignored (export name/description/_version, encrypted
//! `{Z…}` secrets, `task_uuid`, key order); the rest is compared structurally and reported as
//! readable `path: old → new` lines.

use serde_json::{Map, Value};

/// Top-level keys of an export that describe the export, not the task.
const EXPORT_KEYS: &[&str] = &["name", "description", "_version"];
/// Keys that differ per server or per export and never mean a change.
const VOLATILE_KEYS: &[&str] = &["task_uuid"];

/// A definition ready for comparison: export metadata and volatile keys removed.
pub fn normalize(def: &Value) -> Value {
    let mut v = def.clone();
    if let Value::Object(map) = &mut v {
        for k in EXPORT_KEYS {
            map.remove(*k);
        }
    }
    strip_volatile(&mut v);
    v
}

fn strip_volatile(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for k in VOLATILE_KEYS {
                map.remove(*k);
            }
            for val in map.values_mut() {
                strip_volatile(val);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_volatile),
        _ => {}
    }
}

/// `{Z…}`: a secret encrypted with the server's master key (a new nonce on every export).
pub fn is_encrypted(v: &Value) -> bool {
    matches!(v, Value::String(s) if s.len() > 3 && s.starts_with("{Z") && s.ends_with('}'))
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// In the desired definition, not on the server.
    Added { path: String, new: Value },
    /// On the server, not in the desired definition (ImportTask cannot remove it).
    Removed { path: String, old: Value },
    Changed {
        path: String,
        old: Value,
        new: Value,
    },
}

impl Change {
    pub fn is_removal(&self) -> bool {
        matches!(self, Change::Removed { .. })
    }

    /// One line: `+ path: value`, `- path: value`, `~ path: old → new`.
    pub fn render(&self) -> String {
        match self {
            Change::Added { path, new } => format!("+ {path}: {}", short(new)),
            Change::Removed { path, old } => format!("- {path}: {}", short(old)),
            Change::Changed { path, old, new } => {
                format!("~ {path}: {} → {}", short(old), short(new))
            }
        }
    }
}

/// Compact JSON, cut at 100 characters.
pub fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 100 {
        let cut: String = text.chars().take(97).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Differences from `live` to `desired` (both normalized). Encrypted secrets on either side
/// compare equal to anything: they cannot be decrypted here, and a plain-text password in the
/// desired definition is encrypted by the server on import.
pub fn diff(live: &Value, desired: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk(live, desired, &mut String::new(), &mut out);
    out
}

fn walk(live: &Value, desired: &Value, path: &mut String, out: &mut Vec<Change>) {
    if is_encrypted(live) || is_encrypted(desired) {
        return;
    }
    match (live, desired) {
        (Value::Object(a), Value::Object(b)) => walk_objects(a, b, path, out),
        (Value::Array(a), Value::Array(b)) if keyed(a) && keyed(b) => {
            // Named items (tables, endpoints) match by name, whatever their order: that is how
            // QEM merges them on import.
            let len = path.len();
            for y in b {
                let id = identity(y);
                path.push_str(&format!("[{}]", label(id)));
                match a.iter().find(|x| identity(x) == id) {
                    Some(x) => walk(x, y, path, out),
                    None => out.push(Change::Added {
                        path: display(path),
                        new: y.clone(),
                    }),
                }
                path.truncate(len);
            }
            for x in a {
                let id = identity(x);
                if b.iter().any(|y| identity(y) == id) {
                    continue;
                }
                path.push_str(&format!("[{}]", label(id)));
                out.push(Change::Removed {
                    path: display(path),
                    old: x.clone(),
                });
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            let len = path.len();
            for i in 0..a.len().max(b.len()) {
                path.push_str(&format!("[{i}]"));
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => walk(x, y, path, out),
                    (None, Some(y)) => out.push(Change::Added {
                        path: display(path),
                        new: y.clone(),
                    }),
                    (Some(x), None) => out.push(Change::Removed {
                        path: display(path),
                        old: x.clone(),
                    }),
                    (None, None) => {}
                }
                path.truncate(len);
            }
        }
        (a, b) if numbers_equal(a, b) || a == b => {}
        (a, b) => out.push(Change::Changed {
            path: display(path),
            old: a.clone(),
            new: b.clone(),
        }),
    }
}

fn walk_objects(
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    path: &mut String,
    out: &mut Vec<Change>,
) {
    let len = path.len();
    let push_key = |path: &mut String, k: &str| {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(k);
    };
    // Desired order first (the author's order), then keys only on the server.
    for (k, y) in b {
        push_key(path, k);
        match a.get(k) {
            Some(x) => walk(x, y, path, out),
            None => {
                if !is_encrypted(y) {
                    out.push(Change::Added {
                        path: display(path),
                        new: y.clone(),
                    });
                }
            }
        }
        path.truncate(len);
    }
    for (k, x) in a {
        if b.contains_key(k) || is_encrypted(x) {
            continue;
        }
        push_key(path, k);
        out.push(Change::Removed {
            path: display(path),
            old: x.clone(),
        });
        path.truncate(len);
    }
}

/// `(owner, name)` of a named item.
fn identity(v: &Value) -> Option<(Option<&str>, &str)> {
    let m = v.as_object()?;
    Some((
        m.get("owner").and_then(Value::as_str),
        m.get("name").and_then(Value::as_str)?,
    ))
}

fn label(id: Option<(Option<&str>, &str)>) -> String {
    match id {
        Some((Some(owner), name)) => format!("{owner}.{name}"),
        Some((None, name)) => name.to_string(),
        None => "?".into(),
    }
}

/// Every item is named, and no name repeats.
fn keyed(items: &[Value]) -> bool {
    let mut seen = std::collections::HashSet::new();
    !items.is_empty()
        && items
            .iter()
            .all(|v| identity(v).is_some_and(|id| seen.insert(id)))
}

/// `1` and `1.0` are the same setting.
fn numbers_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => false,
    }
}

fn display(path: &str) -> String {
    if path.is_empty() {
        "(root)".into()
    } else {
        path.to_string()
    }
}

/// Whether the desired definition carries endpoint definitions (`databases[]`).
pub fn has_endpoints(def: &Value) -> bool {
    def.pointer("/cmd.replication_definition/databases")
        .and_then(Value::as_array)
        .is_some_and(|d| !d.is_empty())
}

/// Endpoint names defined in a definition's `databases[]`.
pub fn endpoint_names(def: &Value) -> Vec<String> {
    def.pointer("/cmd.replication_definition/databases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn export(schema: &str, pw: &str, uuid: &str) -> Value {
        json!({
            "name": "orders__2024-01-01--10-00-00-000000",
            "cmd.replication_definition": {
                "tasks": [{"task": {"name": "orders", "source_name": "src", "target_names": ["tgt"]},
                           "task_settings": {"target_settings": {"default_schema": schema},
                                             "common_settings": {"task_uuid": uuid}}}],
                "databases": [{"name": "src", "db_settings": {"$type": "OracleSettings", "password": pw}}]
            },
            "_version": {"version": "2023.11.0.159", "version_major": 2023},
            "description": "Host name: x, Time: now"
        })
    }

    #[test]
    fn what_always_differs_is_ignored() {
        let live = normalize(&export("dbo", "{Z1234abcd}", "uuid-1"));
        let mut desired = export("dbo", "plain-text", "uuid-2");
        desired["name"] = json!("other");
        desired["_version"] = json!(null);
        desired.as_object_mut().unwrap().remove("description");
        assert!(diff(&live, &normalize(&desired)).is_empty());
    }

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"x": 1, "y": {"a": true, "b": [1, 2]}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"y": {"b": [1, 2], "a": true}, "x": 1.0}"#).unwrap();
        assert!(diff(&a, &b).is_empty());
    }

    #[test]
    fn changes_are_reported_with_paths() {
        let live = normalize(&export("dbo", "{Zaa}", "u"));
        let mut desired = normalize(&export("sales", "{Zbb}", "u"));
        desired["cmd.replication_definition"]["tasks"][0]["task"]["target_names"] =
            json!(["tgt", "tgt2"]);
        let changes = diff(&live, &desired);
        let lines: Vec<String> = changes.iter().map(Change::render).collect();
        assert!(lines.contains(&"~ cmd.replication_definition.tasks[0].task_settings.target_settings.default_schema: \"dbo\" → \"sales\"".to_string()), "{lines:?}");
        assert!(
            lines.contains(
                &"+ cmd.replication_definition.tasks[0].task.target_names[1]: \"tgt2\"".to_string()
            ),
            "{lines:?}"
        );
        assert!(!changes.iter().any(Change::is_removal));
        let removed = diff(&desired, &live);
        assert!(removed.iter().any(Change::is_removal));
    }

    #[test]
    fn named_items_match_by_name_in_any_order() {
        let live = json!({"t": [{"owner": "S", "name": "A", "x": 1}, {"owner": "S", "name": "B"}]});
        let same = json!({"t": [{"owner": "S", "name": "B"}, {"owner": "S", "name": "A", "x": 1}]});
        assert!(diff(&live, &same).is_empty());
        let changed =
            json!({"t": [{"owner": "S", "name": "A", "x": 2}, {"owner": "S", "name": "C"}]});
        let lines: Vec<String> = diff(&live, &changed).iter().map(Change::render).collect();
        assert_eq!(
            lines,
            vec![
                "~ t[S.A].x: 1 → 2".to_string(),
                "+ t[S.C]: {\"owner\":\"S\",\"name\":\"C\"}".to_string(),
                "- t[S.B]: {\"owner\":\"S\",\"name\":\"B\"}".to_string(),
            ]
        );
    }

    #[test]
    fn endpoints_are_detected() {
        let d = export("dbo", "x", "u");
        assert!(has_endpoints(&d));
        assert_eq!(endpoint_names(&d), vec!["src".to_string()]);
        assert!(!has_endpoints(
            &json!({"cmd.replication_definition": {"tasks": []}})
        ));
    }
}

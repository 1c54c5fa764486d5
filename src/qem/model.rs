//! QEM resource shapes, read leniently: responses are kept as JSON values (unknown fields and
//! enum values pass through untouched), with helpers for the few fields qtool acts on.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The items of a list answer (`serverList`, `taskList`, `endpointList`, `tablelist`, ...):
/// the first array under any of `keys`, or the answer itself when it is an array.
pub fn list_items(answer: &Value, keys: &[&str]) -> Vec<Value> {
    if let Value::Array(items) = answer {
        return items.clone();
    }
    for key in keys {
        if let Some(Value::Array(items)) = answer.get(*key) {
            return items.clone();
        }
    }
    // Any casing of the same key (the docs and servers disagree on camelCase).
    if let Value::Object(map) = answer {
        for key in keys {
            for (k, v) in map {
                if k.eq_ignore_ascii_case(key)
                    && let Value::Array(items) = v
                {
                    return items.clone();
                }
            }
        }
    }
    Vec::new()
}

/// A string field, `""` when absent or not a string.
pub fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Task state as sent (open set: unknown states pass through).
pub fn task_state(details: &Value) -> String {
    let inner = details
        .get("task")
        .filter(|t| t.is_object())
        .unwrap_or(details);
    str_field(inner, "state").to_string()
}

/// Task details answer: top-level, or wrapped in `{"task": ...}` by some versions.
pub fn unwrap_task(details: Value) -> Value {
    match details {
        Value::Object(mut map)
            if map.get("task").is_some_and(Value::is_object) && !map.contains_key("state") =>
        {
            map.remove("task").unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// Server details answer: `server_details` (wire) or `serverDetails` (docs).
pub fn unwrap_server_details(details: Value) -> Value {
    match details {
        Value::Object(mut map) => {
            for key in ["server_details", "serverDetails"] {
                if let Some(inner) = map.remove(key) {
                    return inner;
                }
            }
            Value::Object(map)
        }
        other => other,
    }
}

/// Run options as users type them (`reload-target`, `RELOAD_TARGET`, `reload_target`).
pub fn run_option(text: &str) -> Result<String> {
    let wire = text.trim().replace('-', "_").to_ascii_uppercase();
    let wire = match wire.as_str() {
        "RESUME" => "RESUME_PROCESSING".to_string(),
        "RELOAD" => "RELOAD_TARGET".to_string(),
        _ => wire,
    };
    if super::wire::RUN_OPTIONS.contains(&wire.as_str()) {
        Ok(wire)
    } else {
        Err(
            Error::usage(format!("unknown run option `{text}`")).with_hint(format!(
                "use one of: {}",
                super::wire::RUN_OPTIONS
                    .iter()
                    .map(|o| o.to_ascii_lowercase().replace('_', "-"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// ACLs

pub const ROLES: [&str; 4] = ["admin", "designer", "operator", "viewer"];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AclEntry {
    pub role: String,
    /// `user` or `group`.
    pub kind: String,
    pub name: String,
}

/// The explicit ACL as a flat, sorted list of (role, user|group, name).
pub fn acl_entries(acl: &Value) -> Vec<AclEntry> {
    let mut out = Vec::new();
    for role in ROLES {
        let Some(def) = acl.get(format!("{role}_role")) else {
            continue;
        };
        for (kind, key) in [("user", "users"), ("group", "groups")] {
            for item in def.get(key).and_then(Value::as_array).into_iter().flatten() {
                let name = match item {
                    Value::String(s) => s.clone(),
                    other => str_field(other, "name").to_string(),
                };
                if !name.is_empty() {
                    out.push(AclEntry {
                        role: role.to_string(),
                        kind: kind.to_string(),
                        name,
                    });
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

pub fn acl_disable_inheritance(acl: &Value) -> bool {
    acl.get("disable_inheritance")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The wire ACL (`AemAuthorizationAcl`) for a set of entries.
pub fn acl_document(entries: &[AclEntry], disable_inheritance: bool) -> Value {
    let mut map = Map::new();
    for role in ROLES {
        let names = |kind: &str| -> Vec<Value> {
            entries
                .iter()
                .filter(|e| e.role == role && e.kind == kind)
                .map(|e| json!({"name": e.name}))
                .collect()
        };
        let users = names("user");
        let groups = names("group");
        if users.is_empty() && groups.is_empty() {
            continue;
        }
        map.insert(
            format!("{role}_role"),
            json!({"users": users, "groups": groups}),
        );
    }
    map.insert(
        "disable_inheritance".into(),
        Value::Bool(disable_inheritance),
    );
    Value::Object(map)
}

/// Compare ACLs as sets, names case-insensitively (Windows accounts).
pub fn acl_key(entries: &[AclEntry]) -> BTreeSet<(String, String, String)> {
    entries
        .iter()
        .map(|e| (e.role.clone(), e.kind.clone(), e.name.to_lowercase()))
        .collect()
}

pub fn acl_rows(entries: &[AclEntry]) -> Vec<Value> {
    entries
        .iter()
        .map(|e| json!({"role": e.role, "type": e.kind, "name": e.name}))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Servers

/// `$type` of PutServer by kind.
pub fn server_type_name(kind: &str) -> &'static str {
    if kind.eq_ignore_ascii_case("compose") {
        "AemComposeServer"
    } else {
        "AemReplicateServer"
    }
}

/// `replicate` or `compose` from a `$type` (`AemComposeServer`, `ComposeServerInfo`, ...).
pub fn server_kind(v: &Value) -> &'static str {
    let t = str_field(v, "$type");
    let ty = str_field(v, "type");
    if t.contains("Compose") || ty.to_ascii_uppercase().starts_with("COMPOSE") {
        "compose"
    } else {
        "replicate"
    }
}

/// A port as text (the docs send strings, some clients numbers).
pub fn port_text(v: &Value) -> String {
    match v.get("port") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_found_under_any_casing() {
        let v = json!({"serverList": [{"name": "a"}]});
        assert_eq!(list_items(&v, &["serverList"]).len(), 1);
        let v = json!({"serverlist": [{"name": "a"}]});
        assert_eq!(list_items(&v, &["serverList"]).len(), 1);
        assert!(list_items(&json!({}), &["taskList"]).is_empty());
    }

    #[test]
    fn run_options_accept_cli_spelling() {
        assert_eq!(run_option("reload-target").unwrap(), "RELOAD_TARGET");
        assert_eq!(run_option("resume").unwrap(), "RESUME_PROCESSING");
        assert!(run_option("bogus").is_err());
    }

    #[test]
    fn acl_round_trips() {
        let acl = json!({"admin_role": {"users": [{"name": "D\\a"}], "groups": []},
                         "viewer_role": {"groups": [{"name": "D\\g"}]}, "disable_inheritance": true});
        let entries = acl_entries(&acl);
        assert_eq!(entries.len(), 2);
        let doc = acl_document(&entries, acl_disable_inheritance(&acl));
        assert_eq!(acl_key(&acl_entries(&doc)), acl_key(&entries));
        assert_eq!(doc["disable_inheritance"], true);
    }

    #[test]
    fn task_details_are_unwrapped() {
        assert_eq!(
            task_state(&json!({"task": {"state": "RUNNING"}})),
            "RUNNING"
        );
        assert_eq!(unwrap_task(json!({"task": {"state": "X"}}))["state"], "X");
        assert_eq!(
            unwrap_server_details(json!({"server_details": {"name": "s"}}))["name"],
            "s"
        );
    }
}

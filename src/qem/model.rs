//! QEM resource shapes, read leniently: responses are kept as JSON values (unknown fields and
//! enum values pass through untouched), with helpers for the few fields qtool acts on.

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

use super::wire;

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

/// A role of a server's ACL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Role {
    Admin,
    Designer,
    Operator,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Designer, Role::Operator, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Designer => "designer",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an ACL entry names. Declared in alphabetical order: entries sort groups first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Principal {
    Group,
    User,
}

impl Principal {
    pub fn as_str(self) -> &'static str {
        match self {
            Principal::Group => "group",
            Principal::User => "user",
        }
    }

    /// The list of a role that holds them.
    fn key(self) -> &'static str {
        match self {
            Principal::Group => "groups",
            Principal::User => "users",
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AclEntry {
    pub role: Role,
    pub kind: Principal,
    pub name: String,
}

/// The explicit ACL as a flat, sorted list of (role, user|group, name).
pub fn acl_entries(acl: &Value) -> Vec<AclEntry> {
    let mut out = Vec::new();
    for role in Role::ALL {
        let Some(def) = acl.get(format!("{role}_role")) else {
            continue;
        };
        for kind in [Principal::User, Principal::Group] {
            for item in def
                .get(kind.key())
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = match item {
                    Value::String(s) => s.clone(),
                    other => str_field(other, "name").to_string(),
                };
                if !name.is_empty() {
                    out.push(AclEntry { role, kind, name });
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
    for role in Role::ALL {
        let names = |kind: Principal| -> Vec<Value> {
            entries
                .iter()
                .filter(|e| e.role == role && e.kind == kind)
                .map(|e| json!({"name": e.name}))
                .collect()
        };
        let users = names(Principal::User);
        let groups = names(Principal::Group);
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
pub fn acl_key(entries: &[AclEntry]) -> BTreeSet<(Role, Principal, String)> {
    entries
        .iter()
        .map(|e| (e.role, e.kind, e.name.to_lowercase()))
        .collect()
}

pub fn acl_rows(entries: &[AclEntry]) -> Vec<Value> {
    entries
        .iter()
        .map(|e| json!({"role": e.role.as_str(), "type": e.kind.as_str(), "name": e.name}))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Servers

/// Which product a server registered in QEM runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServerKind {
    Replicate,
    Compose,
}

/// In a manifest, in any case (`compose`, `Compose`), as `--type` takes it.
impl<'de> Deserialize<'de> for ServerKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        <ServerKind as clap::ValueEnum>::from_str(&text, true).map_err(|_| {
            serde::de::Error::custom(format!("type `{text}` is not replicate or compose"))
        })
    }
}

impl ServerKind {
    /// As the manifest, `--type` and `qem server ls` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerKind::Replicate => "replicate",
            ServerKind::Compose => "compose",
        }
    }

    /// `$type` of PutServer.
    pub fn wire_type(self) -> &'static str {
        match self {
            ServerKind::Replicate => wire::SERVER_TYPE_REPLICATE,
            ServerKind::Compose => wire::SERVER_TYPE_COMPOSE,
        }
    }
}

/// The kind of a server from its `$type` (`AemComposeServer`, `ComposeServerInfo`, ...) or `type`.
pub fn server_kind(v: &Value) -> ServerKind {
    let t = str_field(v, "$type");
    let ty = str_field(v, "type");
    if t.contains("Compose") || ty.to_ascii_uppercase().starts_with("COMPOSE") {
        ServerKind::Compose
    } else {
        ServerKind::Replicate
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
    fn acl_entries_sort_by_role_then_groups_before_users() {
        let acl = json!({"viewer_role": {"users": ["D\\u"]},
                         "admin_role": {"users": ["D\\b"], "groups": ["D\\g"]}});
        let rows = acl_rows(&acl_entries(&acl));
        let order: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r["role"].as_str().unwrap(), r["type"].as_str().unwrap()))
            .collect();
        assert_eq!(
            order,
            [("admin", "group"), ("admin", "user"), ("viewer", "user")]
        );
    }

    #[test]
    fn server_kinds_read_in_any_case() {
        let kind = |v: Value| serde_json::from_value::<ServerKind>(v);
        assert_eq!(kind(json!("Compose")).unwrap(), ServerKind::Compose);
        assert_eq!(kind(json!("replicate")).unwrap(), ServerKind::Replicate);
        let err = kind(json!("bogus")).unwrap_err().to_string();
        assert!(err.contains("`bogus` is not replicate or compose"), "{err}");
        let compose = json!({"$type": "ComposeServerInfo"});
        assert_eq!(server_kind(&compose).wire_type(), "AemComposeServer");
        assert_eq!(server_kind(&json!({})), ServerKind::Replicate);
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

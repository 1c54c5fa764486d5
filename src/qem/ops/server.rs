//! Server operations: the server list as shown, registration (PutServer is an upsert), and ACL
//! changes made as read-modify-write of the explicit ACL.

use serde_json::{Value, json};

use clap::ValueEnum;

use crate::error::{Error, Result};
use crate::qem::client::QemClient;
use crate::qem::model::{self, AclEntry, Principal, Role, ServerKind};

/// The servers QEM manages, each with `kind` (replicate|compose) and `port` as text added.
pub async fn list(client: &QemClient) -> Result<Vec<Value>> {
    let servers = client.server_list().await?;
    Ok(servers
        .into_iter()
        .map(|mut s| {
            let kind = model::server_kind(&s).as_str();
            let port = model::port_text(&s);
            if let Value::Object(map) = &mut s {
                map.insert("kind".into(), kind.into());
                map.insert("port".into(), port.into());
            }
            s
        })
        .collect())
}

/// A server's registration; a server QEM does not know is a not-found error.
pub async fn definition(client: &QemClient, name: &str) -> Result<Value> {
    client
        .server_def(name)
        .await?
        .ok_or_else(|| not_registered(name))
}

fn not_registered(name: &str) -> Error {
    Error::not_found(format!("no server `{name}` is registered in QEM"))
        .with_hint("list them with `qtool qem server ls`")
}

/// A server to register.
#[derive(Debug, Clone)]
pub struct Registration {
    pub name: String,
    pub kind: ServerKind,
    pub host: String,
    pub port: u16,
    /// Administrator account on the Replicate/Compose machine, and its password.
    pub user: String,
    pub password: String,
    pub description: String,
    pub verify_certificate: bool,
    pub monitored: bool,
}

/// Register a server, or update its registration. Whether it existed before.
pub async fn register(client: &QemClient, registration: &Registration) -> Result<bool> {
    let r = registration;
    let def = server_definition(
        &r.name,
        r.kind,
        &r.host,
        r.port,
        &r.user,
        &r.password,
        &r.description,
        r.verify_certificate,
        r.monitored,
    );
    let existed = client.server_def(&r.name).await?.is_some();
    client.put_server(&r.name, &def).await?;
    Ok(existed)
}

/// The PutServer body (`$type` selects Replicate or Compose).
#[allow(clippy::too_many_arguments)]
pub fn server_definition(
    name: &str,
    kind: ServerKind,
    host: &str,
    port: u16,
    user: &str,
    password: &str,
    description: &str,
    verify_certificate: bool,
    monitored: bool,
) -> Value {
    json!({
        "$type": kind.wire_type(),
        "name": name,
        "description": description,
        "host": host,
        "port": port.to_string(),
        "username": user,
        "password": password,
        "verify_server_certificate": verify_certificate,
        "monitored": monitored,
    })
}

/// A user or a group of an ACL entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub kind: Principal,
    pub name: String,
}

impl Account {
    /// `--user` or `--group`, whichever is given.
    pub fn from_flags(user: Option<&str>, group: Option<&str>) -> Option<Account> {
        let (kind, name) = match (user, group) {
            (Some(u), _) => (Principal::User, u),
            (None, Some(g)) => (Principal::Group, g),
            (None, None) => return None,
        };
        Some(Account {
            kind,
            name: name.to_string(),
        })
    }

    fn entry(&self, role: Role) -> AclEntry {
        AclEntry {
            role,
            kind: self.kind,
            name: self.name.clone(),
        }
    }
}

/// The server's explicit ACL (`{}` when it has none).
pub async fn acl(client: &QemClient, server: &str) -> Result<Value> {
    Ok(client
        .server_acl(server)
        .await?
        .unwrap_or_else(|| json!({})))
}

/// Add `account` to `role`; `false` when it already had it (nothing is written then).
pub async fn grant(
    client: &QemClient,
    server: &str,
    role: Role,
    account: &Account,
) -> Result<bool> {
    let entry = account.entry(role);
    let acl = acl(client, server).await?;
    let mut entries = model::acl_entries(&acl);
    let key = model::acl_key(std::slice::from_ref(&entry));
    if key.is_subset(&model::acl_key(&entries)) {
        return Ok(false);
    }
    entries.push(entry);
    let doc = model::acl_document(&entries, model::acl_disable_inheritance(&acl));
    client.put_server_acl(server, &doc).await?;
    Ok(true)
}

/// Remove `account` from `role` (every role when `None`); how many roles it was removed from.
pub async fn revoke(
    client: &QemClient,
    server: &str,
    role: Option<Role>,
    account: &Account,
) -> Result<usize> {
    let Some(acl) = client.server_acl(server).await? else {
        return Ok(0);
    };
    let entries = model::acl_entries(&acl);
    let keep: Vec<AclEntry> = entries
        .iter()
        .filter(|e| {
            !(e.kind == account.kind
                && e.name.eq_ignore_ascii_case(&account.name)
                && role.is_none_or(|r| r == e.role))
        })
        .cloned()
        .collect();
    let removed = entries.len() - keep.len();
    if removed > 0 {
        let doc = model::acl_document(&keep, model::acl_disable_inheritance(&acl));
        client.put_server_acl(server, &doc).await?;
    }
    Ok(removed)
}

/// Accept the API's AemAuthorizationAcl, or the rows `acl get --json` style
/// (`[{"role","type","name"}]`), and produce the wire document.
pub fn normalize_acl_input(doc: &Value) -> Result<Value> {
    if let Value::Array(rows) = doc {
        let mut entries = Vec::new();
        for row in rows {
            let role = Role::from_str(model::str_field(row, "role"), true).ok();
            let kind = match model::str_field(row, "type").to_ascii_lowercase().as_str() {
                "user" => Some(Principal::User),
                "group" => Some(Principal::Group),
                _ => None,
            };
            let name = model::str_field(row, "name");
            let (Some(role), Some(kind), false) = (role, kind, name.is_empty()) else {
                return Err(
                    Error::input(format!("ACL row {row} is not {{role, type, name}}"))
                        .with_hint("role admin|designer|operator|viewer, type user|group"),
                );
            };
            entries.push(AclEntry {
                role,
                kind,
                name: name.to_string(),
            });
        }
        return Ok(model::acl_document(&entries, false));
    }
    if !doc.is_object() {
        return Err(
            Error::input("an ACL document must be a JSON object or array")
                .with_hint("start from `qtool qem server acl get NAME --json`"),
        );
    }
    Ok(doc.clone())
}

/// The outcome of an endpoint connection test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointTest {
    /// `status` (SDK) or `requeststate` (cURL doc); `UNKNOWN` when neither.
    pub status: String,
    pub message: String,
    pub detailed_message: String,
}

impl EndpointTest {
    pub fn failed(&self) -> bool {
        self.status.eq_ignore_ascii_case("ERROR")
    }
}

pub async fn test_endpoint(
    client: &QemClient,
    server: &str,
    endpoint: &str,
    timeout: std::time::Duration,
) -> Result<EndpointTest> {
    let v = client.test_endpoint(server, endpoint, timeout).await?;
    Ok(endpoint_test(&v))
}

fn endpoint_test(v: &Value) -> EndpointTest {
    let status = [
        model::str_field(v, "status"),
        model::str_field(v, "requeststate"),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or("UNKNOWN")
    .to_string();
    EndpointTest {
        status,
        message: model::str_field(v, "message").to_string(),
        detailed_message: model::str_field(v, "detailed_message").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_rows_become_the_wire_document() {
        let doc = normalize_acl_input(&json!([
            {"role": "Admin", "type": "user", "name": "D\\a"},
            {"role": "viewer", "type": "GROUP", "name": "D\\g"}
        ]))
        .unwrap();
        assert_eq!(doc["admin_role"]["users"][0]["name"], "D\\a");
        assert_eq!(doc["viewer_role"]["groups"][0]["name"], "D\\g");
        assert!(
            normalize_acl_input(&json!([{"role": "boss", "type": "user", "name": "x"}])).is_err()
        );
        assert!(normalize_acl_input(&json!("admin")).is_err());
    }

    #[test]
    fn endpoint_test_reads_both_status_fields() {
        assert_eq!(
            endpoint_test(&json!({"status": "SUCCEEDED"})).status,
            "SUCCEEDED"
        );
        let t = endpoint_test(&json!({"requeststate": "error", "message": "no route"}));
        assert!(t.failed());
        assert_eq!(t.message, "no route");
        assert_eq!(endpoint_test(&json!({})).status, "UNKNOWN");
    }
}

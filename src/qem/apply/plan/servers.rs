//! Servers: register the missing ones, fix registration drift, unregister the absent ones.

use std::collections::HashMap;

use serde_json::Value;

use super::live::Live;
use super::{Action, Item, Kind, Op};
use crate::error::{Error, Result};
use crate::qem::apply::manifest::{Manifest, Presence, ServerSpec};
use crate::qem::model::{self, ServerKind};
use crate::qem::ops::server::server_definition;

pub(super) fn plan(m: &Manifest, live: &HashMap<String, Live>) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for s in &m.servers {
        let current = live.get(&s.name).and_then(|l| l.def.as_ref());
        let item = |action, summary: String, changes, op| Item {
            action,
            kind: Kind::Server,
            server: s.name.clone(),
            name: s.name.clone(),
            summary,
            changes,
            op,
        };
        match (s.state, current) {
            (Presence::Absent, Some(_)) => items.push(item(
                Action::Delete,
                "unregister".into(),
                vec![],
                Op::DeleteServer,
            )),
            (Presence::Absent, None) => {}
            (Presence::Present, None) => {
                let (summary, def) = registration(s)?;
                items.push(item(Action::Create, summary, vec![], Op::PutServer { def }));
            }
            (Presence::Present, Some(cur)) => {
                let (changes, def) = drift(s, cur);
                if !changes.is_empty() {
                    items.push(item(
                        Action::Update,
                        "update registration".into(),
                        changes,
                        Op::PutServer { def },
                    ));
                }
            }
        }
    }
    Ok(items)
}

/// Whether the plan registers this server (so its tasks can be planned before it exists).
pub(super) fn is_created(m: &Manifest, live: &HashMap<String, Live>, name: &str) -> bool {
    m.servers.iter().any(|s| {
        s.name.eq_ignore_ascii_case(name)
            && s.state == Presence::Present
            && live.get(&s.name).is_none_or(|l| l.def.is_none())
    })
}

/// The summary and PutServer body registering a server the manifest describes in full.
fn registration(s: &ServerSpec) -> Result<(String, Value)> {
    let (Some(host), Some(user), Some(password)) = (&s.host, &s.user, &s.password) else {
        return Err(Error::input(format!(
            "server `{}` is not registered; registering it needs host, user and password",
            s.name
        ))
        .with_hint("add them to the server in the manifest (password = \"${env:NAME}\")"));
    };
    let port = s.port.unwrap_or(443);
    let def = server_definition(
        &s.name,
        s.kind.unwrap_or(ServerKind::Replicate),
        host,
        port,
        user,
        password,
        s.description.as_deref().unwrap_or(""),
        s.verify_server_certificate.unwrap_or(true),
        s.monitored.unwrap_or(true),
    );
    Ok((format!("register {host}:{port}"), def))
}

/// Differences between the manifest's server and the registration; the PutServer body to fix them.
fn drift(s: &ServerSpec, cur: &Value) -> (Vec<String>, Value) {
    let mut changes = Vec::new();
    let mut check = |field: &str, want: Option<String>, have: String| {
        if let Some(w) = want
            && w != have
        {
            changes.push(format!(
                "~ {field}: {} → {}",
                Value::String(have),
                Value::String(w)
            ));
        }
    };
    check(
        "host",
        s.host.clone(),
        model::str_field(cur, "host").to_string(),
    );
    check("port", s.port.map(|p| p.to_string()), model::port_text(cur));
    check(
        "username",
        s.user.clone(),
        model::str_field(cur, "username").to_string(),
    );
    check(
        "description",
        s.description.clone(),
        model::str_field(cur, "description").to_string(),
    );
    check(
        "type",
        s.kind.map(|k| k.as_str().to_string()),
        model::server_kind(cur).as_str().to_string(),
    );
    let bool_of = |k: &str| cur.get(k).and_then(Value::as_bool);
    for (field, want) in [
        ("verify_server_certificate", s.verify_server_certificate),
        ("monitored", s.monitored),
    ] {
        if let Some(w) = want
            && bool_of(field) != Some(w)
        {
            changes.push(format!(
                "~ {field}: {} → {w}",
                bool_of(field).map_or("unset".to_string(), |b| b.to_string())
            ));
        }
    }
    let port = s
        .port
        .or_else(|| model::port_text(cur).parse().ok())
        .unwrap_or(443);
    // Without a password in the manifest, send back the placeholder GetServer returned (valid in
    // this session, per the API guide).
    let password = s
        .password
        .clone()
        .unwrap_or_else(|| model::str_field(cur, "password").to_string());
    let def = server_definition(
        &s.name,
        s.kind.unwrap_or_else(|| model::server_kind(cur)),
        s.host.as_deref().unwrap_or(model::str_field(cur, "host")),
        port,
        s.user
            .as_deref()
            .unwrap_or(model::str_field(cur, "username")),
        &password,
        s.description
            .as_deref()
            .unwrap_or(model::str_field(cur, "description")),
        s.verify_server_certificate
            .or(bool_of("verify_server_certificate"))
            .unwrap_or(true),
        s.monitored.or(bool_of("monitored")).unwrap_or(true),
    );
    (changes, def)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(text: &str) -> ServerSpec {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn drift_compares_only_what_the_manifest_sets() {
        let cur = json!({"$type": "AemReplicateServer", "name": "s", "host": "a", "port": "3552",
                         "username": "D\\u", "password": "guid-placeholder", "monitored": true});
        let (changes, _) = drift(&spec("name = \"s\"\nhost = \"a\"\nport = 3552"), &cur);
        assert!(changes.is_empty(), "{changes:?}");
        let (changes, def) = drift(&spec("name = \"s\"\nhost = \"b\"\nmonitored = false"), &cur);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(def["host"], "b");
        assert_eq!(def["port"], "3552");
        // No password in the manifest: the session's placeholder goes back.
        assert_eq!(def["password"], "guid-placeholder");
        assert_eq!(def["$type"], "AemReplicateServer");
    }
}

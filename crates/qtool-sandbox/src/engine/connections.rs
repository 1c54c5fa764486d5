//! Data connections through the engine. On QSEoW they are the repository's data connections
//! (help.qlik.com "Data connections": managed centrally in the QMC, created in the data load
//! editor, owned by their creator; imported with a Desktop app, never exported with one), so
//! these methods read and write the QRS emulator's `dataconnection` entities. Passwords are
//! stored there and never returned (`Connection.qPassword` is left out).

use serde_json::{Map, Value, json};

use super::dispatch::{Call, Outcome, Reply};
use super::spec::{ErrorCode, QixError};
use crate::qrs::store::Store;
use crate::qrs::{routes, types};

type R = Result<Reply, QixError>;

/// The engine's `Connection` for a repository entity (no password).
fn connection(e: &Map<String, Value>) -> Value {
    let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let log_on = match e.get("logOn").and_then(Value::as_i64) {
        Some(1) => "LOG_ON_CURRENT_USER",
        _ => "LOG_ON_SERVICE_USER",
    };
    let mut c = json!({
        "qId": text("id"), "qName": text("name"), "qConnectionString": text("connectionstring"),
        "qType": text("type"), "qModifiedDate": text("modifiedDate"),
        "qMeta": {"qName": text("name")}, "qLogOn": log_on,
    });
    let user = text("username");
    if !user.is_empty() {
        c["qUserName"] = json!(user);
    }
    c
}

/// The entity with engine id `id` (its repository id, or the `engineObjectId` it was given).
fn find(s: &Store, id: &str) -> Option<Map<String, Value>> {
    s.get("dataconnection", id).or_else(|| {
        s.all("dataconnection").into_iter().find(|c| {
            c.get("engineObjectId")
                .and_then(Value::as_str)
                .is_some_and(|e| !e.is_empty() && e.eq_ignore_ascii_case(id))
        })
    })
}

fn by_name(s: &Store, name: &str) -> Option<Map<String, Value>> {
    s.all("dataconnection").into_iter().find(|c| {
        c.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

/// 1 to 256 characters, none of `<>:"/|?*` (LOCERR_CONNECTION_NAME_IS_INVALID).
fn check_name(name: &str) -> Result<(), QixError> {
    if name.trim().is_empty()
        || name.chars().count() > 256
        || name.contains(['<', '>', ':', '"', '/', '|', '?', '*'])
    {
        return Err(QixError::new(ErrorCode::ConnectionNameInvalid, name));
    }
    Ok(())
}

fn text(m: &Map<String, Value>, k: &str) -> String {
    m.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

pub fn get_connections(call: &mut Call<'_>) -> Outcome {
    Outcome::Now((|| -> R {
        call.app()?;
        let list: Vec<Value> = call
            .engine
            .qrs
            .read()
            .all("dataconnection")
            .iter()
            .map(connection)
            .collect();
        Ok(Reply::out(Value::Array(list)))
    })())
}

pub fn get_connection(call: &mut Call<'_>) -> Outcome {
    Outcome::Now((|| -> R {
        let id = call.string(0, "qConnectionId")?;
        call.app()?;
        let s = call.engine.qrs.read();
        let c = find(&s, &id)
            .ok_or_else(|| QixError::new(ErrorCode::ConnectionNotFound, id.clone()))?;
        Ok(Reply::out(connection(&c)))
    })())
}

pub fn create_connection(call: &mut Call<'_>) -> Outcome {
    Outcome::Now((|| -> R {
        let c = call.object(0, "qConnection")?;
        call.app()?;
        let name = text(&c, "qName");
        check_name(&name)?;
        let kind = text(&c, "qType");
        if kind.is_empty() {
            return Err(QixError::new(
                ErrorCode::InvalidParameters,
                "qConnection.qType must be set",
            ));
        }
        let td = types::type_def("dataconnection").ok_or_else(|| {
            QixError::new(ErrorCode::InvalidParameters, "no data connection type")
        })?;
        let user = call.session.user.clone();
        routes::ensure_user(&call.engine.qrs, &user);
        let id = call.engine.qrs.mutate(|s| {
            if by_name(s, &name).is_some() {
                return Err(QixError::new(
                    ErrorCode::ConnectionAlreadyExists,
                    name.clone(),
                ));
            }
            let id = crate::qrs::store::new_id();
            let log_on = if c.get("qLogOn").and_then(Value::as_str) == Some("LOG_ON_CURRENT_USER") {
                1
            } else {
                0
            };
            let mut body = Map::new();
            for (k, v) in [
                ("id", json!(id)),
                ("name", json!(name)),
                ("connectionstring", json!(text(&c, "qConnectionString"))),
                ("type", json!(kind)),
                ("username", json!(text(&c, "qUserName"))),
                ("password", json!(text(&c, "qPassword"))),
                ("engineObjectId", json!(id)),
                ("logOn", json!(log_on)),
            ] {
                body.insert(k.into(), v);
            }
            routes::create_in(s, td, &body, &user).map_err(|_| {
                QixError::new(
                    ErrorCode::InvalidParameters,
                    "the repository refused the connection",
                )
            })
        })?;
        Ok(Reply::out(json!(id)))
    })())
}

pub fn modify_connection(call: &mut Call<'_>) -> Outcome {
    Outcome::Now((|| -> R {
        let id = call.string(0, "qConnectionId")?;
        let c = call.object(1, "qConnection")?;
        let credentials = call.boolean(2, "qOverrideCredentials")?;
        call.app()?;
        let td = types::type_def("dataconnection").ok_or_else(|| {
            QixError::new(ErrorCode::InvalidParameters, "no data connection type")
        })?;
        let by = call.session.user.display_name();
        call.engine.qrs.mutate(|s| {
            let stored = find(s, &id)
                .ok_or_else(|| QixError::new(ErrorCode::ConnectionNotFound, id.clone()))?;
            let stored_id = text(&stored, "id");
            let mut body = Map::new();
            let name = text(&c, "qName");
            if !name.is_empty() {
                check_name(&name)?;
                if by_name(s, &name).is_some_and(|o| text(&o, "id") != stored_id) {
                    return Err(QixError::new(ErrorCode::ConnectionAlreadyExists, name));
                }
                body.insert("name".into(), json!(name));
            }
            for (from, to) in [("qConnectionString", "connectionstring"), ("qType", "type")] {
                let v = text(&c, from);
                if !v.is_empty() {
                    body.insert(to.into(), json!(v));
                }
            }
            if credentials {
                body.insert("username".into(), json!(text(&c, "qUserName")));
                body.insert("password".into(), json!(text(&c, "qPassword")));
            }
            let e = s.updated_entity(td, &stored, &body, &by);
            s.put("dataconnection", &e);
            Ok(())
        })?;
        Ok(Reply::empty())
    })())
}

pub fn delete_connection(call: &mut Call<'_>) -> Outcome {
    Outcome::Now((|| -> R {
        let id = call.string(0, "qConnectionId")?;
        call.app()?;
        call.engine.qrs.mutate(|s| {
            let stored = find(s, &id)
                .ok_or_else(|| QixError::new(ErrorCode::ConnectionNotFound, id.clone()))?;
            routes::cascade_delete(s, "dataconnection", &text(&stored, "id"));
            Ok(())
        })?;
        Ok(Reply::empty())
    })())
}

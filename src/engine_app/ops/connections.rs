//! Data connections seen through the engine (on QSEoW they are repository objects the app's
//! script reaches with `LIB CONNECT TO` and `lib://`). Passwords go in, never come out: every
//! connection read is stripped of `qPassword` before anyone can print it.

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::qix::Doc;
use crate::qix::doc::member;

/// A connection to create or modify.
#[derive(Clone, Serialize)]
pub(crate) struct ConnectionSpec {
    pub name: String,
    /// `qType`: `folder`, `ODBC`, `OLEDB`, `internet`, or a connector's provider name.
    pub kind: String,
    pub connection_string: String,
    pub user: Option<String>,
    #[serde(skip)]
    pub password: Option<String>,
}

impl std::fmt::Debug for ConnectionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl ConnectionSpec {
    fn wire(&self) -> Value {
        json!({
            "qName": self.name,
            "qConnectionString": self.connection_string,
            "qType": self.kind,
            "qUserName": self.user.clone().unwrap_or_default(),
            "qPassword": self.password.clone().unwrap_or_default(),
        })
    }
}

/// Every connection the app can use, without passwords.
pub(crate) async fn list(doc: &Doc) -> Result<Vec<Value>> {
    let result = doc.call("GetConnections", json!([])).await?;
    let mut list = member(result, "GetConnections", "qConnections")?;
    Ok(list
        .as_array_mut()
        .map(std::mem::take)
        .unwrap_or_default()
        .into_iter()
        .map(without_password)
        .collect())
}

fn without_password(mut connection: Value) -> Value {
    if let Value::Object(map) = &mut connection {
        map.remove("qPassword");
    }
    connection
}

/// The connection with this id or (case-insensitive) name.
pub(crate) async fn find(doc: &Doc, id_or_name: &str) -> Result<Value> {
    list(doc)
        .await?
        .into_iter()
        .find(|c| {
            c.get("qId").and_then(Value::as_str) == Some(id_or_name)
                || c.get("qName")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(id_or_name))
        })
        .ok_or_else(|| {
            Error::not_found(format!("no connection `{id_or_name}`"))
                .with_hint("list them with `qtool app connection ls APP`")
        })
}

/// Create a connection; its id.
pub(crate) async fn create(doc: &Doc, spec: &ConnectionSpec) -> Result<String> {
    let result = doc.call("CreateConnection", json!([spec.wire()])).await?;
    Ok(member(result, "CreateConnection", "qConnectionId")?
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// Change a connection; the stored user and password change only when `spec` has a password.
pub(crate) async fn modify(doc: &Doc, id: &str, spec: &ConnectionSpec) -> Result<()> {
    let override_credentials = spec.password.as_deref().is_some_and(|p| !p.is_empty());
    doc.call(
        "ModifyConnection",
        json!([id, spec.wire(), override_credentials]),
    )
    .await?;
    Ok(())
}

/// Delete a connection by id or name; its id.
pub(crate) async fn remove(doc: &Doc, id_or_name: &str) -> Result<String> {
    let found = find(doc, id_or_name).await?;
    let id = found
        .get("qId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    doc.call("DeleteConnection", json!([id])).await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_leave() {
        let c = without_password(json!({"qId": "1", "qName": "db", "qPassword": "x"}));
        assert!(c.get("qPassword").is_none());
        let spec = ConnectionSpec {
            name: "db".into(),
            kind: "ODBC".into(),
            connection_string: "ODBC CONNECT TO db".into(),
            user: None,
            password: Some("hunter2".into()),
        };
        assert!(!format!("{spec:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&spec).unwrap().contains("hunter2"));
    }
}

//! An open app on a session, and the shapes of answers every caller reads: handles in
//! `qReturn` (`{"qType", "qHandle"}`; both null for an object that does not exist, which the
//! engine does not report as an error).

use serde_json::{Value, json};

use super::rpc::{GLOBAL, Session, SessionState};
use crate::error::{Error, Result};

/// A handle the engine gave out (the open app, an object, a dimension, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handle(pub i64);

/// The app open on a session.
pub(crate) struct Doc {
    pub session: Session,
    pub handle: Handle,
    pub app_id: String,
}

impl Doc {
    /// Open `app_id` on a fresh session. `OpenDoc` goes out at once (no round trip waiting for
    /// `OnConnected`); when the session turns out to be an attached one that has the app open
    /// already (1002), `GetActiveDoc` takes it.
    pub(crate) async fn open(session: Session, app_id: &str, no_data: bool) -> Result<Doc> {
        let answer = session
            .call_raw(
                GLOBAL,
                "OpenDoc",
                json!([app_id, "", "", "", no_data]),
                Some(session.timeout()),
            )
            .await?;
        let result = match answer {
            Ok(result) => result,
            Err(e) if e.code == 1002 && session.state().await == Some(SessionState::Attached) => {
                session.call(GLOBAL, "GetActiveDoc", json!([])).await?
            }
            Err(e) if e.code == 1003 => {
                return Err(
                    Error::not_found(format!("the engine has no app with id {app_id}"))
                        .with_hint("list the apps with `qtool qrs app ls`"),
                );
            }
            Err(e) => return Err(e.into_error("OpenDoc")),
        };
        let handle = returned_handle(&result)
            .ok_or_else(|| Error::server(format!("OpenDoc of {app_id} returned no app handle")))?;
        Ok(Doc {
            session,
            handle,
            app_id: app_id.to_string(),
        })
    }

    /// Call a method of the app.
    pub(crate) async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.session.call(self.handle.0, method, params).await
    }

    /// Call a method of an object handle.
    pub(crate) async fn call_on(
        &self,
        handle: Handle,
        method: &str,
        params: Value,
    ) -> Result<Value> {
        self.session.call(handle.0, method, params).await
    }

    /// A `Get…` of the app that answers a handle, or `None` for a missing object.
    pub(crate) async fn get_handle(&self, method: &str, params: Value) -> Result<Option<Handle>> {
        let result = self.call(method, params).await?;
        Ok(returned_handle(&result))
    }

    /// Close the socket.
    pub(crate) async fn close(self) {
        self.session.close().await;
    }
}

/// The handle in `result.qReturn`, `None` when the engine answered a null handle.
pub(crate) fn returned_handle(result: &Value) -> Option<Handle> {
    result
        .get("qReturn")
        .and_then(|r| r.get("qHandle"))
        .and_then(Value::as_i64)
        .map(Handle)
}

/// `result[name]`, or a server error naming what was missing.
pub(crate) fn member(result: Value, method: &str, name: &str) -> Result<Value> {
    match result {
        Value::Object(mut map) => map
            .remove(name)
            .ok_or_else(|| Error::server(format!("the engine's answer to {method} has no {name}"))),
        _ => Err(Error::server(format!(
            "the engine's answer to {method} is not an object"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_and_members() {
        assert_eq!(
            returned_handle(&json!({"qReturn": {"qType": "Doc", "qHandle": 1}})),
            Some(Handle(1))
        );
        assert_eq!(
            returned_handle(&json!({"qReturn": {"qType": null, "qHandle": null}})),
            None
        );
        assert_eq!(
            member(json!({"qScript": "x"}), "GetScript", "qScript").unwrap(),
            "x"
        );
        assert!(member(json!({}), "GetScript", "qScript").is_err());
    }
}

//! One method per QEM REST call (paths and parameters from the API guide), shared by the
//! commands and `apply`.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Body, QemClient, QemError, QemResult};
use super::model::{self, list_items};
use super::wire::{code, task_state as ts};
use crate::error::Error;

fn secs(d: Duration) -> String {
    d.as_secs().max(1).to_string()
}

/// `Ok(None)` where QEM answered with error code `absent`: the thing asked for is not there.
fn none_if_absent<T>(result: QemResult<T>, absent: &str) -> QemResult<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is(absent) => Ok(None),
        Err(e) => Err(e),
    }
}

impl QemClient {
    // ---- servers -------------------------------------------------------------------------

    pub async fn server_list(&self) -> QemResult<Vec<Value>> {
        let v = self.get_json(&["servers"], &[]).await?;
        Ok(list_items(&v, &["serverList", "servers"]))
    }

    pub async fn server_details(&self, server: &str) -> QemResult<Value> {
        let v = self.get_json(&["servers", server], &[]).await?;
        Ok(model::unwrap_server_details(v))
    }

    /// GetServer; `None` when the server is not registered.
    pub async fn server_def(&self, server: &str) -> QemResult<Option<Value>> {
        let def = self.get_json(&["servers", server, "def"], &[]).await;
        none_if_absent(def, code::SERVER_NOT_FOUND)
    }

    pub async fn put_server(&self, server: &str, def: &Value) -> QemResult<()> {
        self.call(
            Method::PUT,
            &["servers", server, "def"],
            &[],
            Some(Body::json(def)),
        )
        .await
        .map(drop)
    }

    pub async fn delete_server(&self, server: &str) -> QemResult<()> {
        self.call(Method::DELETE, &["servers", server, "def"], &[], None)
            .await
            .map(drop)
    }

    pub async fn put_license(&self, server: &str, license: Vec<u8>) -> QemResult<()> {
        self.call(
            Method::PUT,
            &["servers", server, "license", "def"],
            &[],
            Some(Body::Text(license)),
        )
        .await
        .map(drop)
    }

    /// GetServerAcl; `None` when the server has no explicit ACL.
    pub async fn server_acl(&self, server: &str) -> QemResult<Option<Value>> {
        let acl = self
            .get_json(&["servers", server], &[("action", "acl".into())])
            .await;
        none_if_absent(acl, code::SERVER_HAS_NO_ACL)
    }

    pub async fn put_server_acl(&self, server: &str, acl: &Value) -> QemResult<()> {
        self.call(
            Method::PUT,
            &["servers", server],
            &[("action", "acl".into())],
            Some(Body::json(acl)),
        )
        .await
        .map(drop)
    }

    pub async fn delete_server_acl(&self, server: &str) -> QemResult<()> {
        let deleted = self
            .call(
                Method::DELETE,
                &["servers", server],
                &[("action", "acl".into())],
                None,
            )
            .await;
        // No explicit ACL to delete is success: there is none afterwards either way.
        none_if_absent(deleted, code::SERVER_HAS_NO_ACL).map(drop)
    }

    pub async fn export_all(&self, server: &str) -> QemResult<bytes::Bytes> {
        self.get_bytes(&["servers", server], &[("action", "export".into())])
            .await
    }

    pub async fn import_all(&self, server: &str, body: Vec<u8>) -> QemResult<()> {
        self.call(
            Method::POST,
            &["servers", server],
            &[("action", "import".into())],
            Some(Body::Json(body)),
        )
        .await
        .map(drop)
    }

    // ---- tasks ---------------------------------------------------------------------------

    pub async fn task_list(&self, server: &str) -> QemResult<Vec<Value>> {
        let v = self.get_json(&["servers", server, "tasks"], &[]).await?;
        Ok(list_items(&v, &["taskList", "tasks"]))
    }

    pub async fn task_details(&self, server: &str, task: &str) -> QemResult<Value> {
        let v = self
            .get_json(&["servers", server, "tasks", task], &[])
            .await?;
        Ok(model::unwrap_task(v))
    }

    /// The task state; `None` when the task does not exist.
    pub async fn task_state(&self, server: &str, task: &str) -> QemResult<Option<String>> {
        let details = self.task_details(server, task).await;
        Ok(none_if_absent(details, code::TASK_NOT_FOUND)?
            .map(|v| model::task_state(&v))
            .filter(|state| state != ts::NOT_EXIST))
    }

    pub async fn export_task_bytes(
        &self,
        server: &str,
        task: &str,
        with_endpoints: bool,
    ) -> QemResult<bytes::Bytes> {
        self.get_bytes(
            &["servers", server, "tasks", task],
            &[
                ("action", "export".into()),
                ("withendpoints", with_endpoints.to_string()),
            ],
        )
        .await
    }

    /// ExportTask parsed (the old `//` comment line skipped); `None` when the task does not exist.
    pub async fn export_task(
        &self,
        server: &str,
        task: &str,
        with_endpoints: bool,
    ) -> QemResult<Option<Value>> {
        let exported = self.export_task_bytes(server, task, with_endpoints).await;
        let Some(bytes) = none_if_absent(exported, code::TASK_NOT_FOUND)? else {
            return Ok(None);
        };
        parse_definition(&bytes)
            .map(Some)
            .map_err(|e| QemError::Other(e.context(format!("export of task `{task}`"))))
    }

    pub async fn import_task(&self, server: &str, task: &str, definition: &Value) -> QemResult<()> {
        self.call(
            Method::POST,
            &["servers", server, "tasks", task],
            &[("action", "import".into())],
            Some(Body::json(definition)),
        )
        .await
        .map(drop)
    }

    pub async fn delete_task(&self, server: &str, task: &str, delete_logs: bool) -> QemResult<()> {
        self.call(
            Method::POST,
            &["servers", server, "tasks", task],
            &[
                ("action", "delete".into()),
                ("deletetasklogs", delete_logs.to_string()),
            ],
            None,
        )
        .await
        .map(drop)
    }

    /// RunTask; answers `{state, error_message}`.
    pub async fn run_task(
        &self,
        server: &str,
        task: &str,
        option: &str,
        cdc_position: Option<&str>,
        timeout: Duration,
    ) -> QemResult<Value> {
        let body = cdc_position.map(|p| Body::json(&json!({"cdcposition": p})));
        self.call(
            Method::POST,
            &["servers", server, "tasks", task],
            &[
                ("action", "run".into()),
                ("option", option.to_string()),
                ("timeout", secs(timeout)),
            ],
            body,
        )
        .await
    }

    /// RunTask, tolerating a dropped connection: the task may have started anyway, so look at
    /// its state before asking again.
    pub async fn start_task(
        &self,
        server: &str,
        task: &str,
        option: &str,
        cdc_position: Option<&str>,
        timeout: Duration,
    ) -> QemResult<Value> {
        let mut attempt = 0;
        loop {
            match self
                .run_task(server, task, option, cdc_position, timeout)
                .await
            {
                Err(QemError::Other(e))
                    if e.class() == crate::error::ErrorClass::Network
                        && attempt < self.retries() =>
                {
                    attempt += 1;
                    tracing::info!(
                        "RunTask of `{task}` lost its answer ({e}); checking the task state"
                    );
                    if let Some(state) = self.task_state(server, task).await?
                        && (state == ts::RUNNING || state == ts::STARTING)
                    {
                        return Ok(json!({"state": state, "error_message": ""}));
                    }
                }
                other => return other,
            }
        }
    }

    /// StopTask; a task that is already stopped is not an error here.
    pub async fn stop_task(&self, server: &str, task: &str, timeout: Duration) -> QemResult<Value> {
        match self
            .call(
                Method::POST,
                &["servers", server, "tasks", task],
                &[("action", "stop".into()), ("timeout", secs(timeout))],
                None,
            )
            .await
        {
            Err(e) if e.is(code::TASK_ALREADY_STOPPED) => {
                Ok(json!({"state": ts::STOPPED, "error_message": ""}))
            }
            other => other,
        }
    }

    /// Poll the task until `done(state)` or the timeout. Returns the last state.
    pub async fn wait_task(
        &self,
        server: &str,
        task: &str,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
        failed: impl Fn(&str) -> bool,
    ) -> QemResult<String> {
        let started = Instant::now();
        loop {
            let details = self.task_details(server, task).await?;
            let state = model::task_state(&details);
            if done(&state) {
                return Ok(state);
            }
            if failed(&state) {
                let message = model::str_field(&details, "message");
                return Err(QemError::Other(
                    Error::failed(format!(
                        "task `{task}` on `{server}` is {state}{}",
                        if message.is_empty() {
                            String::new()
                        } else {
                            format!(": {message}")
                        }
                    ))
                    .with_hint("see the task log in QEM, fix the cause and start it again"),
                ));
            }
            if started.elapsed() >= timeout {
                return Err(QemError::Other(
                    Error::failed(format!(
                        "task `{task}` on `{server}` is still {state} after {}",
                        crate::duration::format(timeout)
                    ))
                    .with_hint("wait longer with --timeout"),
                ));
            }
            tokio::time::sleep(super::client::POLL).await;
        }
    }

    /// Stop if needed and wait until STOPPED.
    pub async fn ensure_stopped(
        &self,
        server: &str,
        task: &str,
        timeout: Duration,
    ) -> QemResult<()> {
        let state = self.task_state(server, task).await?.unwrap_or_default();
        if state == ts::STOPPED || state.is_empty() {
            return Ok(());
        }
        if state != ts::STOPPING {
            let answer = self.stop_task(server, task, timeout).await?;
            if model::str_field(&answer, "state") == ts::STOPPED {
                return Ok(());
            }
        }
        self.wait_task(
            server,
            task,
            timeout,
            |s| s == ts::STOPPED || s == ts::ERROR,
            |_| false,
        )
        .await
        .map(drop)
    }

    // ---- tables --------------------------------------------------------------------------

    pub async fn tables(
        &self,
        server: &str,
        task: &str,
        status: bool,
        filters: &[(&str, String)],
    ) -> QemResult<Vec<Value>> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if status {
            query.push(("action", "getstatus".into()));
        }
        query.extend(filters.iter().cloned());
        let v = self
            .get_json(&["servers", server, "tasks", task, "tables"], &query)
            .await?;
        Ok(list_items(&v, &["table_details", "tablelist", "tableList"]))
    }

    pub async fn reload_table(
        &self,
        server: &str,
        task: &str,
        schema: &str,
        table: &str,
    ) -> QemResult<()> {
        self.call(
            Method::POST,
            &["servers", server, "tasks", task, "tables"],
            &[
                ("action", "reload".into()),
                ("schema", schema.into()),
                ("table", table.into()),
            ],
            None,
        )
        .await
        .map(drop)
    }

    // ---- endpoints -----------------------------------------------------------------------

    pub async fn endpoint_list(&self, server: &str) -> QemResult<Vec<Value>> {
        let v = self
            .get_json(&["servers", server, "endpoints"], &[])
            .await?;
        Ok(list_items(&v, &["endpointList", "endpoints"]))
    }

    pub async fn test_endpoint(
        &self,
        server: &str,
        endpoint: &str,
        timeout: Duration,
    ) -> QemResult<Value> {
        self.get_json(
            &["servers", server, "endpoints", endpoint],
            &[("action", "test".into()), ("timeout", secs(timeout))],
        )
        .await
    }

    pub async fn delete_endpoint(&self, server: &str, endpoint: &str) -> QemResult<()> {
        self.call(
            Method::POST,
            &["servers", server, "endpoints", endpoint],
            &[("action", "delete".into())],
            None,
        )
        .await
        .map(drop)
    }

    // ---- audit trail ---------------------------------------------------------------------

    pub async fn audit_trail(&self, start: &str, end: Option<&str>) -> QemResult<bytes::Bytes> {
        let mut query = vec![("start_timestamp", start.to_string())];
        if let Some(end) = end {
            query.push(("end_timestamp", end.to_string()));
        }
        self.get_bytes(&["security", "audit_trail"], &query).await
    }
}

/// Parse a task definition (file or export): skip an old `//` first line, then JSON.
pub fn parse_definition(bytes: &[u8]) -> crate::error::Result<Value> {
    let body = super::client::strip_comment_line(bytes);
    serde_json::from_slice(body).map_err(|e| {
        Error::input(format!("not a task definition (JSON): {e}"))
            .with_hint("use a file written by `qtool qem task export`")
    })
}

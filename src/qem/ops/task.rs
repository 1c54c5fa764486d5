//! Replication task operations that take more than one call: listing across servers, exporting
//! every task to files, importing under a name, starting with a validated run option, waiting
//! for a state, deleting a running task.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::qem::client::QemClient;
use crate::qem::model;
use crate::qem::wire::{self, task_state as ts};
use crate::storage::{self, Sensitivity};

/// The tasks of one server or of all, each with a `server` field added.
#[derive(Debug, Default)]
pub struct TaskListing {
    pub tasks: Vec<Value>,
    /// Servers whose tasks could not be listed (only when listing every server: one server
    /// being down must not hide the others' tasks).
    pub unreachable: Vec<(String, Error)>,
}

pub async fn list(client: &QemClient, server: Option<&str>) -> Result<TaskListing> {
    let servers: Vec<String> = match server {
        Some(s) => vec![s.to_string()],
        None => client
            .server_list()
            .await?
            .iter()
            .map(|s| model::str_field(s, "name").to_string())
            .filter(|n| !n.is_empty())
            .collect(),
    };
    let results: Vec<(String, crate::qem::client::QemResult<Vec<Value>>)> =
        futures_util::stream::iter(servers.into_iter().map(|s| async move {
            let r = client.task_list(&s).await;
            (s, r)
        }))
        .buffered(8)
        .collect()
        .await;
    let mut listing = TaskListing::default();
    for (name, result) in results {
        match result {
            Ok(tasks) => {
                for mut t in tasks {
                    if let Value::Object(map) = &mut t {
                        map.insert("server".into(), Value::String(name.clone()));
                    }
                    listing.tasks.push(t);
                }
            }
            Err(e) if server.is_none() => listing.unreachable.push((name, e.into())),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(listing)
}

/// State, stop reason and message of a task.
pub async fn status(client: &QemClient, server: &str, task: &str) -> Result<Value> {
    let v = client.task_details(server, task).await?;
    Ok(json!({
        "server": server,
        "name": task,
        "state": model::task_state(&v),
        "stop_reason": v.get("task_stop_reason").or_else(|| v.get("stop_reason")).cloned().unwrap_or(Value::Null),
        "message": v.get("message").cloned().unwrap_or(Value::Null),
    }))
}

/// A task's definition; a missing task is a not-found error.
pub async fn export(
    client: &QemClient,
    server: &str,
    task: &str,
    with_endpoints: bool,
) -> Result<Value> {
    client
        .export_task(server, task, with_endpoints)
        .await?
        .ok_or_else(|| {
            Error::not_found(format!("no task `{task}` on server `{server}`"))
                .with_hint(format!("list them with `qtool qem task ls '{server}'`"))
        })
}

/// Export every task of `server` into `dir`, one `<task>.json` each (written atomically,
/// `concurrency` at a time); the tasks and files written, sorted by name.
pub async fn export_all(
    client: &QemClient,
    server: &str,
    dir: &Path,
    with_endpoints: bool,
    concurrency: usize,
) -> Result<Vec<(String, PathBuf)>> {
    storage::ensure_private_dir(dir)?;
    let tasks = client.task_list(server).await?;
    let names: Vec<String> = tasks
        .iter()
        .map(|t| model::str_field(t, "name").to_string())
        .filter(|n| !n.is_empty())
        .collect();
    let mut seen = HashSet::new();
    for n in &names {
        if !seen.insert(file_name_for(n).to_lowercase()) {
            return Err(Error::conflict(format!(
                "two tasks map to the file name {}",
                file_name_for(n)
            ))
            .with_hint("export them one by one with --out"));
        }
    }
    let results: Vec<Result<Option<(String, PathBuf)>>> =
        futures_util::stream::iter(names.iter().map(|n| async move {
            let Some(v) = client.export_task(server, n, with_endpoints).await? else {
                // Deleted between the list and the export.
                return Ok(None);
            };
            let path = dir.join(file_name_for(n));
            storage::atomic_write(&path, &render_definition(&v)?, Sensitivity::Public)?;
            Ok(Some((n.clone(), path)))
        }))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut written = Vec::new();
    for r in results {
        if let Some(item) = r? {
            written.push(item);
        }
    }
    written.sort();
    Ok(written)
}

/// Pretty JSON, 2-space indented, key order as exported, trailing newline.
pub fn render_definition(v: &Value) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(v)
        .map_err(|e| Error::failed(format!("cannot render JSON: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A file name for a task: the name with path separators and control characters replaced.
pub fn file_name_for(task: &str) -> String {
    let mut name = crate::storage::replace_unsafe_file_chars(task);
    if name.is_empty() || name.starts_with('.') {
        name.insert(0, '_');
    }
    format!("{name}.json")
}

/// `tasks[0].task.name` of a definition.
pub fn definition_task_name(def: &Value) -> Option<&str> {
    def.pointer("/cmd.replication_definition/tasks/0/task/name")
        .and_then(Value::as_str)
}

/// Rewrite `tasks[0].task.name` (the name a definition imports under).
pub fn set_definition_task_name(def: &mut Value, name: &str) -> Result<()> {
    match def.pointer_mut("/cmd.replication_definition/tasks/0/task") {
        Some(Value::Object(task)) => {
            task.insert("name".into(), Value::String(name.to_string()));
            Ok(())
        }
        _ => Err(
            Error::input("the definition has no cmd.replication_definition.tasks[0].task")
                .with_hint("use a file written by `qtool qem task export`"),
        ),
    }
}

/// Import a definition into `server`, under `name` when given (else the definition's own task
/// name; `source` names the definition in that error). The task name imported.
pub async fn import(
    client: &QemClient,
    server: &str,
    mut def: Value,
    name: Option<&str>,
    source: &str,
) -> Result<String> {
    let name = match name {
        Some(n) => {
            set_definition_task_name(&mut def, n)?;
            n.to_string()
        }
        None => definition_task_name(&def)
            .map(str::to_string)
            .ok_or_else(|| {
                Error::input(format!("{source} names no task (tasks[0].task.name)"))
                    .with_hint("pass --name NAME")
            })?,
    };
    client.import_task(server, &name, &def).await?;
    Ok(name)
}

/// How to start a task: a RunTask option (wire name) and, for the options that need one, the
/// position or timestamp to start from.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub option: String,
    pub position: Option<String>,
    /// Server-side wait for the task to start.
    pub timeout: Duration,
}

impl StartRequest {
    /// `option` as the CLI spells it (`reload-target`); `from_timestamp` implies
    /// resume-processing-from-timestamp. An option that needs a position without one is a usage error.
    pub fn new(
        option: &str,
        from_timestamp: Option<&str>,
        position: Option<&str>,
        timeout: Duration,
    ) -> Result<StartRequest> {
        let (option, position) = match from_timestamp {
            Some(ts) => (
                "RESUME_PROCESSING_FROM_TIMESTAMP".to_string(),
                Some(ts.to_string()),
            ),
            None => (model::run_option(option)?, position.map(str::to_string)),
        };
        if wire::run_option_needs_position(&option) && position.is_none() {
            return Err(Error::usage(format!(
                "run option {} needs a position",
                option.to_ascii_lowercase().replace('_', "-")
            ))
            .with_hint("pass --from-timestamp TIME or --position POSITION"));
        }
        Ok(StartRequest {
            option,
            position,
            timeout,
        })
    }
}

/// What QEM answered to a run or stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAnswer {
    pub state: String,
    pub error_message: String,
}

impl RunAnswer {
    fn from_value(answer: &Value, server: &str, task: &str) -> Result<RunAnswer> {
        let state = model::str_field(answer, "state").to_string();
        let error_message = model::str_field(answer, "error_message").to_string();
        if !error_message.is_empty() && state == ts::ERROR {
            return Err(Error::failed(format!(
                "task `{task}` on `{server}` is in ERROR: {error_message}"
            ))
            .with_hint("see the task log in QEM"));
        }
        Ok(RunAnswer {
            state,
            error_message,
        })
    }
}

/// Start (run) a task; a task that answers in ERROR is a failure.
pub async fn start(
    client: &QemClient,
    server: &str,
    task: &str,
    request: &StartRequest,
) -> Result<RunAnswer> {
    let answer = client
        .start_task(
            server,
            task,
            &request.option,
            request.position.as_deref(),
            request.timeout,
        )
        .await?;
    RunAnswer::from_value(&answer, server, task)
}

/// Stop a task (a stopped task is not an error).
pub async fn stop(
    client: &QemClient,
    server: &str,
    task: &str,
    timeout: Duration,
) -> Result<RunAnswer> {
    let answer = client.stop_task(server, task, timeout).await?;
    RunAnswer::from_value(&answer, server, task)
}

/// The state [`wait`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Until {
    Running,
    Stopped,
}

/// Poll until the task is running or stopped; ERROR (or STOPPED while waiting for running) ends
/// the wait as a failure. The state reached.
pub async fn wait(
    client: &QemClient,
    server: &str,
    task: &str,
    until: Until,
    timeout: Duration,
) -> Result<String> {
    let state = match until {
        Until::Running => {
            client
                .wait_task(
                    server,
                    task,
                    timeout,
                    |s| s == ts::RUNNING,
                    |s| s == ts::ERROR || s == ts::STOPPED,
                )
                .await
        }
        Until::Stopped => {
            client
                .wait_task(
                    server,
                    task,
                    timeout,
                    |s| s == ts::STOPPED,
                    |s| s == ts::ERROR,
                )
                .await
        }
    };
    Ok(state?)
}

/// How a task is deleted.
#[derive(Debug, Clone, Copy)]
pub struct Removal {
    /// Stop the task first if it is running (waiting up to `timeout`).
    pub force_stop: bool,
    pub delete_logs: bool,
    pub timeout: Duration,
}

pub async fn delete(client: &QemClient, server: &str, task: &str, how: Removal) -> Result<()> {
    if how.force_stop {
        client.ensure_stopped(server, task, how.timeout).await?;
    }
    client.delete_task(server, task, how.delete_logs).await?;
    Ok(())
}

/// Which tables a table listing shows.
#[derive(Debug, Clone, Default)]
pub struct TableFilter {
    /// Schema pattern (`%` wildcard).
    pub schema: Option<String>,
    /// Table pattern (`%` wildcard).
    pub table: Option<String>,
    /// Only tables in these states (CLI spellings: queued, loading, completed,
    /// change-processing, error); all when empty.
    pub states: Vec<String>,
}

/// The CLI spellings of table states and their query flags.
pub const TABLE_STATE_FLAGS: [(&str, &str); 5] = [
    ("queued", "includequeued"),
    ("loading", "includeloading"),
    ("completed", "includecompleted"),
    ("change-processing", "includechangeprocessing"),
    ("error", "includeerror"),
];

impl TableFilter {
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(s) = &self.schema {
            q.push(("schema", s.clone()));
        }
        if let Some(t) = &self.table {
            q.push(("table", t.clone()));
        }
        let all = self.states.is_empty();
        for (flag, key) in TABLE_STATE_FLAGS {
            let on = all || self.states.iter().any(|s| s == flag);
            q.push((key, on.to_string()));
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_name_for("Leads API Test"), "Leads API Test.json");
        assert_eq!(file_name_for("a/b\\c"), "a_b_c.json");
        assert_eq!(file_name_for(".hidden"), "_.hidden.json");
    }

    #[test]
    fn name_override_rewrites_the_task() {
        let mut def = json!({"cmd.replication_definition": {"tasks": [{"task": {"name": "a"}}]}});
        set_definition_task_name(&mut def, "b c").unwrap();
        assert_eq!(definition_task_name(&def), Some("b c"));
        assert!(set_definition_task_name(&mut json!({}), "x").is_err());
    }

    #[test]
    fn start_requests_check_positions() {
        let t = Duration::from_secs(1);
        let r = StartRequest::new("reload-target", None, None, t).unwrap();
        assert_eq!(r.option, "RELOAD_TARGET");
        let r =
            StartRequest::new("resume-processing", Some("2024-03-14T10:06:10"), None, t).unwrap();
        assert_eq!(r.option, "RESUME_PROCESSING_FROM_TIMESTAMP");
        assert_eq!(r.position.as_deref(), Some("2024-03-14T10:06:10"));
        let err = StartRequest::new("resume-processing-from-position", None, None, t).unwrap_err();
        assert_eq!(err.class(), crate::error::ErrorClass::Usage);
        assert!(StartRequest::new("sideways", None, None, t).is_err());
    }

    #[test]
    fn table_filters_include_every_state_by_default() {
        let all = TableFilter::default().query();
        assert!(all.iter().all(|(_, v)| v == "true"));
        let only = TableFilter {
            schema: Some("dbo".into()),
            states: vec!["error".into()],
            ..TableFilter::default()
        }
        .query();
        assert!(only.contains(&("schema", "dbo".to_string())));
        assert!(only.contains(&("includeerror", "true".to_string())));
        assert!(only.contains(&("includequeued", "false".to_string())));
    }

    #[test]
    fn error_answers_are_failures() {
        let ok = RunAnswer::from_value(&json!({"state": "RUNNING"}), "s", "t").unwrap();
        assert_eq!(ok.state, "RUNNING");
        let err = RunAnswer::from_value(
            &json!({"state": "ERROR", "error_message": "boom"}),
            "s",
            "t",
        )
        .unwrap_err();
        assert!(err.message().contains("boom"));
    }
}

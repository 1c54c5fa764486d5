//! `qrs task start ID | --name NAME [--wait]`: start synchronously (QRS answers with the
//! execution session id once the task has started), then optionally poll the session until it
//! is gone (404) and read the execution result. A failed reload exits with 1.

use std::time::{Duration, Instant};

use clap::Args;
use reqwest::Method;
use serde_json::{Value, json};

use super::TaskCommand;
use super::generic;
use super::output::one_by_name;
use crate::app::App;
use crate::error::{Error, ErrorClass, Result};
use crate::output::{Paint, status};
use crate::qrs::client::{Body, QrsClient};
use crate::qrs::endpoints;
use crate::qrs::resources::ResourceKind;
use crate::qrs::wire::{self, task_status};

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["id", "name"]))]
pub struct StartArgs {
    /// Id of the task.
    pub id: Option<String>,
    /// Name of the task (must match exactly one).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Wait for the execution to end; print its result; exit 1 if it did not succeed.
    /// The global --timeout, when given, limits the whole wait (default: 1h).
    #[arg(long)]
    pub wait: bool,
    /// How often to poll while waiting.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub poll: Duration,
}

fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    crate::duration::parse(text).map_err(|e| e.to_string())
}

pub fn run(cmd: TaskCommand, app: &App) -> Result<u8> {
    let res = ResourceKind::Task;
    match cmd {
        TaskCommand::Common(v) => generic::run(res, v, app),
        TaskCommand::Start(a) => start(a, app),
    }
}

/// Whether the user set --timeout (or QTOOL_TIMEOUT) rather than relying on the default.
fn timeout_given() -> bool {
    std::env::var_os("QTOOL_TIMEOUT").is_some_and(|v| !v.is_empty())
        || std::env::args_os().any(|a| {
            let a = a.to_string_lossy();
            a == "--timeout" || a.starts_with("--timeout=")
        })
}

fn start(a: StartArgs, app: &App) -> Result<u8> {
    let target = app.target()?;
    let wait_limit = if timeout_given() {
        target.timeout
    } else {
        Duration::from_secs(3600)
    };
    // Each request keeps a short timeout even when the wait is long.
    let client = QrsClient::with_timeout(&target, target.timeout.min(Duration::from_secs(120)))?;
    let tasks = ResourceKind::Task;
    let outcome = app.block_on(async {
        let (task_id, task_name) = match (&a.id, &a.name) {
            (Some(id), _) => (id.clone(), None),
            (None, Some(name)) => {
                let t = one_by_name(&client, tasks, name).await?;
                (crate::output::cell(&t, "id"), Some(name.clone()))
            }
            (None, None) => return Err(Error::usage("give a task id or --name")),
        };
        let label = task_name.clone().unwrap_or_else(|| task_id.clone());
        let url = client.url(&endpoints::TASK_START_SYNC.path(&[&task_id])?, &[])?;
        let answer = client
            .json(Method::POST, url, Body::None)
            .await
            .map_err(|e| {
                if e.class() == ErrorClass::NotFound {
                    Error::not_found(format!("no task with id {task_id}"))
                        .with_hint("list them with `qtool qrs task ls`")
                } else {
                    e
                }
            })?;
        let session = session_id(&answer).ok_or_else(|| {
            Error::server(format!("starting task {label} returned no session id: {answer}"))
        })?;
        if session == wire::EMPTY_GUID {
            return Err(Error::failed(format!("task {label} was not started"))
                .with_hint("the task may be disabled, already running, or its app unavailable; check it in the QMC"));
        }
        if !a.wait {
            return Ok(Outcome::Started(session));
        }
        if !app.printer.quiet() && !app.printer.is_structured() {
            status(&format!("Task {label} started (session {session}); waiting…"));
        }
        let result = wait_for(&client, &session, wait_limit, a.poll).await?;
        Ok(Outcome::Finished(label, result))
    })?;
    match outcome {
        Outcome::Started(session) => {
            if app.printer.is_structured() {
                app.printer
                    .document(&json!({ "executionSessionId": session }))?;
            } else {
                app.printer.line(&session)?;
            }
            Ok(0)
        }
        Outcome::Finished(label, result) => report(app, &label, result),
    }
}

enum Outcome {
    Started(String),
    Finished(String, Value),
}

fn session_id(answer: &Value) -> Option<String> {
    match answer {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => m.get("value").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Poll the execution session until it is gone, then read the execution result.
async fn wait_for(
    client: &QrsClient,
    session: &str,
    limit: Duration,
    poll: Duration,
) -> Result<Value> {
    let started = Instant::now();
    let session_path = endpoints::EXECUTION_SESSION.path(&[session])?;
    loop {
        match client.get_json(&session_path, &[]).await {
            Ok(_) => {}
            Err(e) if e.class() == ErrorClass::NotFound => break,
            Err(e) => return Err(e),
        }
        if started.elapsed() >= limit {
            return Err(Error::failed(format!(
                "the task is still running after {}s (session {session})",
                limit.as_secs()
            ))
            .with_hint("raise --timeout, or follow it with `qtool qrs executionsession get ID`"));
        }
        tokio::time::sleep(poll).await;
    }
    // The result can lag the session's removal a moment.
    let flt = format!("executionID eq {session}");
    let list_path = endpoints::EXECUTION_RESULT_LIST.path(&[])?;
    for attempt in 0..10u32 {
        let results = client.get_list(&list_path, &[("filter", &flt)]).await?;
        // With retries configured there are several: the last one decides.
        let last = results.into_iter().max_by(|a, b| {
            crate::output::cell(a, "startTime").cmp(&crate::output::cell(b, "startTime"))
        });
        if let Some(r) = last
            && r.get("status")
                .and_then(Value::as_i64)
                .is_some_and(task_status::is_final)
        {
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt + 1))).await;
    }
    Err(
        Error::server(format!("no final execution result for session {session}")).with_hint(
            "look it up with `qtool qrs executionresult ls --filter \"executionID eq ID\"`",
        ),
    )
}

fn report(app: &App, label: &str, result: Value) -> Result<u8> {
    let code = result.get("status").and_then(Value::as_i64).unwrap_or(-1);
    let status_name = wire::enum_name(wire::TASK_EXECUTION_STATUS, code);
    let details: Vec<Value> = result
        .get("details")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if app.printer.is_structured() {
        let mut shown = result.clone();
        if let Some(obj) = shown.as_object_mut() {
            obj.insert("statusName".into(), Value::String(status_name.clone()));
        }
        app.printer.document(&shown)?;
    } else if app.printer.quiet() {
        app.printer.line(&status_name)?;
    } else {
        let duration_ms = result.get("duration").and_then(Value::as_u64).unwrap_or(0);
        let paint = if code == task_status::FINISHED_SUCCESS {
            Paint::Green
        } else {
            Paint::Red
        };
        let mut rows = vec![
            vec!["task".to_string(), label.to_string()],
            vec!["status".to_string(), app.printer.paint(&status_name, paint)],
            vec![
                "duration".to_string(),
                format!("{:.1}s", duration_ms as f64 / 1000.0),
            ],
            vec![
                "started".to_string(),
                crate::output::cell(&result, "startTime"),
            ],
            vec![
                "stopped".to_string(),
                crate::output::cell(&result, "stopTime"),
            ],
        ];
        for d in &details {
            let kind = d
                .get("detailsType")
                .and_then(Value::as_i64)
                .map(|t| wire::enum_name(wire::DETAILS_TYPE, t))
                .unwrap_or_default();
            rows.push(vec![
                format!("detail {}", kind.to_lowercase()),
                crate::output::cell(d, "message"),
            ]);
        }
        app.printer
            .write_raw(crate::output::render_table(None, &rows).as_bytes())?;
    }
    if code == task_status::FINISHED_SUCCESS {
        return Ok(0);
    }
    let last_error = details
        .iter()
        .rev()
        .find(|d| d.get("detailsType").and_then(Value::as_i64) == Some(0))
        .map(|d| format!(": {}", crate::output::cell(d, "message")))
        .unwrap_or_default();
    Err(
        Error::failed(format!("task {label} ended with {status_name}{last_error}"))
            .with_hint("read the script log in the QMC, or `qtool qrs executionresult get ID`"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_in_both_shapes() {
        assert_eq!(session_id(&json!("abc")).unwrap(), "abc");
        assert_eq!(session_id(&json!({"value": "abc"})).unwrap(), "abc");
        assert!(session_id(&json!(3)).is_none());
    }
}

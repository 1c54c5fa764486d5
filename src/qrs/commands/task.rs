//! `qrs task start ID | --name NAME [--wait]`: start the task, and with `--wait` wait for its
//! result ([`crate::qrs::ops::task`]). A failed reload exits with 1.

use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use super::TaskCommand;
use super::generic;
use crate::app::App;
use crate::error::{Error, Result};
use crate::output::{Paint, status};
use crate::qrs::client::QrsClient;
use crate::qrs::ops::task::{self as ops, TaskRef};
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

pub(super) fn run(cmd: TaskCommand, app: &App) -> Result<u8> {
    let res = ResourceKind::Task;
    match cmd {
        TaskCommand::Common(v) => generic::run(res, v, app),
        TaskCommand::Start(a) => start(a, app),
    }
}

fn start(a: StartArgs, app: &App) -> Result<u8> {
    let target = app.target()?;
    // The global --timeout (or QTOOL_TIMEOUT), when the user gave one, limits the whole wait.
    let wait_limit = app
        .settings
        .connection
        .timeout_or(Duration::from_secs(3600));
    // Each request keeps a short timeout even when the wait is long.
    let client = QrsClient::with_timeout(&target, target.timeout.min(Duration::from_secs(120)))?
        .with_session_cache(generic::session_cache(app));
    let task = match (a.id, a.name) {
        (Some(id), _) => TaskRef::Id(id),
        (None, Some(name)) => TaskRef::Name(name),
        (None, None) => return Err(Error::usage("give a task id or --name")),
    };
    let started = app.block_on(ops::start(&client, &task))?;
    if !a.wait {
        if app.printer.is_structured() {
            app.printer
                .document(&json!({ "executionSessionId": started.session }))?;
        } else {
            app.printer.line(&started.session)?;
        }
        return Ok(0);
    }
    if !app.printer.quiet() && !app.printer.is_structured() {
        status(&format!(
            "Task {} started (session {}); waiting…",
            started.label, started.session
        ));
    }
    let result = app.block_on(ops::wait_for(&client, &started.session, wait_limit, a.poll))?;
    report(app, &started.label, result)
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
        app.printer.grid(None, &rows)?;
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

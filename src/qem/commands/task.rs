//! `qem task ...`: list, details, export/import definitions, delete, start/stop/status/wait.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::{ServerOpt, read_input};
use crate::app::App;
use crate::error::{Error, Result};
use crate::output::{col, status, warn};
use crate::qem::api::parse_definition;
use crate::qem::client::QemClient;
use crate::qem::model;
use crate::qem::wire::{self, task_state as ts};
use crate::storage::{self, Sensitivity};

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// List tasks of one server, or of every server when --server is omitted.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Task details: state, endpoints, counters, latency.
    Get(TaskArgs),
    /// Export a task definition (or every task of a server with --all --dir).
    Export(ExportArgs),
    /// Import a task definition (creates the task, or merges into an existing one).
    Import(ImportArgs),
    /// Delete a task.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Start (run) a task.
    Start(StartArgs),
    /// Stop a task (a stopped task is not an error).
    Stop(StopArgs),
    /// State, stop reason and message of a task.
    Status(TaskArgs),
    /// Wait until a task is running or stopped.
    Wait(WaitArgs),
    /// Tables of a task: list, statuses, reload.
    #[command(subcommand)]
    Tables(super::tables::TablesCommand),
}

impl TaskCommand {
    /// The `--server NAME` given to this subcommand, if any.
    pub fn server_name(&self) -> Option<String> {
        match self {
            TaskCommand::Ls(a) => a.server.clone(),
            TaskCommand::Get(a) | TaskCommand::Status(a) => Some(a.server.server.clone()),
            TaskCommand::Export(a) => Some(a.server.server.clone()),
            TaskCommand::Import(a) => Some(a.server.server.clone()),
            TaskCommand::Rm(a) => Some(a.task.server.server.clone()),
            TaskCommand::Start(a) => Some(a.task.server.server.clone()),
            TaskCommand::Stop(a) => Some(a.task.server.server.clone()),
            TaskCommand::Wait(a) => Some(a.task.server.server.clone()),
            TaskCommand::Tables(t) => Some(t.server_name()),
        }
    }
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only this server (default: all servers).
    #[arg(long = "server", id = "server", value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Debug, Args)]
pub struct TaskArgs {
    #[command(flatten)]
    pub server: ServerOpt,
    /// Task name.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub server: ServerOpt,
    /// Task name (omit with --all).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub name: Option<String>,
    /// Include the endpoint definitions (`databases[]`).
    #[arg(long)]
    pub with_endpoints: bool,
    /// Write to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE", conflicts_with = "all")]
    pub out: Option<PathBuf>,
    /// Export every task of the server, one file per task in --dir.
    #[arg(long, requires = "dir")]
    pub all: bool,
    /// Directory for --all (created if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Parallel exports for --all.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Definition file (`-` = stdin), as `task export` writes it.
    pub file: PathBuf,
    #[command(flatten)]
    pub server: ServerOpt,
    /// Import under this name (rewrites `tasks[0].task.name`).
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    /// Stop the task first if it is running.
    #[arg(long)]
    pub force_stop: bool,
    /// Keep the task's log files on the server.
    #[arg(long)]
    pub keep_logs: bool,
    /// How long to wait for the stop.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    /// Run option: resume-processing (default), reload-target, resume-processing-from-timestamp,
    /// metadata-only-recreate-all-tables, metadata-only-create-missing-tables,
    /// recover-using-locally-stored-checkpoint, recover-using-checkpoint-stored-on-target,
    /// resume-processing-from-position.
    #[arg(long, default_value = "resume-processing")]
    pub option: String,
    /// Start from this UTC time (implies resume-processing-from-timestamp), e.g. 2024-03-14T10:06:10.
    #[arg(long, value_name = "TIMESTAMP")]
    pub from_timestamp: Option<String>,
    /// CDC position or checkpoint for the options that need one.
    #[arg(long, value_name = "POSITION", conflicts_with = "from_timestamp")]
    pub position: Option<String>,
    /// Server-side wait for the task to start.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Until {
    Running,
    Stopped,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    #[arg(long, value_enum)]
    pub until: Until,
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
}

fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    crate::duration::parse(text).map_err(|e| e.to_string())
}

const TASK_COLUMNS: &[crate::output::Column] = &[
    col("SERVER", "server"),
    col("NAME", "name"),
    col("STATE", "state"),
    col("STOP REASON", "stop_reason"),
    col("TAGS", "assigned_tags"),
    col("MESSAGE", "message"),
];

pub fn run(cmd: &TaskCommand, app: &App, client: &QemClient) -> Result<u8> {
    match cmd {
        TaskCommand::Ls(a) => ls(a, app, client)?,
        TaskCommand::Get(a) => {
            let v =
                app.block_on(async { Ok(client.task_details(&a.server.server, &a.name).await?) })?;
            app.printer.object(&v, "name")?;
        }
        TaskCommand::Status(a) => {
            let v =
                app.block_on(async { Ok(client.task_details(&a.server.server, &a.name).await?) })?;
            let doc = json!({
                "server": a.server.server,
                "name": a.name,
                "state": model::task_state(&v),
                "stop_reason": v.get("task_stop_reason").or_else(|| v.get("stop_reason")).cloned().unwrap_or(Value::Null),
                "message": v.get("message").cloned().unwrap_or(Value::Null),
            });
            app.printer.object(&doc, "state")?;
        }
        TaskCommand::Export(a) => export(a, app, client)?,
        TaskCommand::Import(a) => import(a, app, client)?,
        TaskCommand::Rm(a) => {
            let (server, name) = (&a.task.server.server, &a.task.name);
            app.block_on(async {
                if a.force_stop {
                    client.ensure_stopped(server, name, a.timeout).await?;
                }
                client.delete_task(server, name, !a.keep_logs).await?;
                Ok(())
            })?;
            status(&format!("deleted task `{name}` on `{server}`"));
        }
        TaskCommand::Start(a) => {
            let (server, name) = (&a.task.server.server, &a.task.name);
            let (option, position) = match (&a.from_timestamp, &a.position) {
                (Some(ts), _) => (
                    "RESUME_PROCESSING_FROM_TIMESTAMP".to_string(),
                    Some(ts.clone()),
                ),
                (None, p) => (model::run_option(&a.option)?, p.clone()),
            };
            if wire::run_option_needs_position(&option) && position.is_none() {
                return Err(Error::usage(format!(
                    "run option {} needs a position",
                    option.to_ascii_lowercase().replace('_', "-")
                ))
                .with_hint("pass --from-timestamp TIME or --position POSITION"));
            }
            let answer = app.block_on(async {
                Ok(client
                    .start_task(server, name, &option, position.as_deref(), a.timeout)
                    .await?)
            })?;
            report_run_answer(app, server, name, &answer, "started")?;
        }
        TaskCommand::Stop(a) => {
            let (server, name) = (&a.task.server.server, &a.task.name);
            let answer =
                app.block_on(async { Ok(client.stop_task(server, name, a.timeout).await?) })?;
            report_run_answer(app, server, name, &answer, "stopped")?;
        }
        TaskCommand::Wait(a) => {
            let (server, name) = (&a.task.server.server, &a.task.name);
            let state = app.block_on(async {
                let result = match a.until {
                    Until::Running => {
                        client
                            .wait_task(
                                server,
                                name,
                                a.timeout,
                                |s| s == ts::RUNNING,
                                |s| s == ts::ERROR || s == ts::STOPPED,
                            )
                            .await
                    }
                    Until::Stopped => {
                        client
                            .wait_task(
                                server,
                                name,
                                a.timeout,
                                |s| s == ts::STOPPED,
                                |s| s == ts::ERROR,
                            )
                            .await
                    }
                };
                Ok(result?)
            })?;
            app.printer.object(
                &json!({"server": server, "name": name, "state": state}),
                "state",
            )?;
        }
        TaskCommand::Tables(t) => return super::tables::run(t, app, client),
    }
    Ok(0)
}

fn report_run_answer(
    app: &App,
    server: &str,
    name: &str,
    answer: &Value,
    verb: &str,
) -> Result<()> {
    let state = model::str_field(answer, "state");
    let message = model::str_field(answer, "error_message");
    if !message.is_empty() && state == ts::ERROR {
        return Err(Error::failed(format!(
            "task `{name}` on `{server}` is in ERROR: {message}"
        ))
        .with_hint("see the task log in QEM"));
    }
    if app.printer.is_structured() {
        app.printer.document(
            &json!({"server": server, "name": name, "state": state, "error_message": message}),
        )?;
    } else {
        status(&format!(
            "{verb} task `{name}` on `{server}` (state {state})"
        ));
    }
    Ok(())
}

fn ls(a: &LsArgs, app: &App, client: &QemClient) -> Result<()> {
    let rows = app.block_on(async {
        let servers: Vec<String> = match &a.server {
            Some(s) => vec![s.clone()],
            None => client
                .server_list()
                .await?
                .iter()
                .map(|s| model::str_field(s, "name").to_string())
                .filter(|n| !n.is_empty())
                .collect(),
        };
        let one = a.server.is_some();
        let results: Vec<(String, crate::qem::client::QemResult<Vec<Value>>)> =
            futures_util::stream::iter(servers.into_iter().map(|s| async move {
                let r = client.task_list(&s).await;
                (s, r)
            }))
            .buffered(8)
            .collect()
            .await;
        let mut rows = Vec::new();
        for (server, result) in results {
            match result {
                Ok(tasks) => {
                    for mut t in tasks {
                        if let Value::Object(map) = &mut t {
                            map.insert("server".into(), Value::String(server.clone()));
                        }
                        rows.push(t);
                    }
                }
                // One server being down must not hide the others' tasks.
                Err(e) if !one => warn(&format!("server `{server}`: {}", Error::from(e))),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(rows)
    })?;
    app.printer.list(&rows, TASK_COLUMNS, "name")
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

fn export(a: &ExportArgs, app: &App, client: &QemClient) -> Result<()> {
    let server = &a.server.server;
    if !a.all {
        let name = a.name.as_deref().unwrap_or_default();
        let v =
            app.block_on(async { Ok(client.export_task(server, name, a.with_endpoints).await?) })?;
        let v = v.ok_or_else(|| {
            Error::not_found(format!("no task `{name}` on server `{server}`")).with_hint(format!(
                "list them with `qtool qem task ls --server '{server}'`"
            ))
        })?;
        let bytes = render_definition(&v)?;
        return super::server::write_out(app, a.out.as_deref(), &bytes);
    }
    let dir = a.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    storage::ensure_private_dir(&dir)?;
    let written = app.block_on(async {
        let tasks = client.task_list(server).await?;
        let names: Vec<String> = tasks
            .iter()
            .map(|t| model::str_field(t, "name").to_string())
            .filter(|n| !n.is_empty())
            .collect();
        let mut seen = std::collections::HashSet::new();
        for n in &names {
            if !seen.insert(file_name_for(n).to_lowercase()) {
                return Err(Error::conflict(format!(
                    "two tasks map to the file name {}",
                    file_name_for(n)
                ))
                .with_hint("export them one by one with --out"));
            }
        }
        let dir = dir.as_path();
        let results: Vec<Result<Option<(String, PathBuf)>>> =
            futures_util::stream::iter(names.iter().map(|n| async move {
                let Some(v) = client.export_task(server, n, a.with_endpoints).await? else {
                    // Deleted between the list and the export.
                    return Ok(None);
                };
                let path = dir.join(file_name_for(n));
                storage::atomic_write(&path, &render_definition(&v)?, Sensitivity::Public)?;
                Ok(Some((n.clone(), path)))
            }))
            .buffer_unordered(usize::from(a.concurrency))
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
    })?;
    let rows: Vec<Value> = written
        .iter()
        .map(|(n, p)| json!({"name": n, "file": p.display().to_string()}))
        .collect();
    app.printer
        .list(&rows, &[col("NAME", "name"), col("FILE", "file")], "file")?;
    status(&format!(
        "exported {} task(s) of `{server}` to {}",
        rows.len(),
        dir_display(&dir)
    ));
    Ok(())
}

fn dir_display(dir: &Path) -> String {
    dir.display().to_string()
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

fn import(a: &ImportArgs, app: &App, client: &QemClient) -> Result<()> {
    let server = &a.server.server;
    let bytes = read_input(&a.file)?;
    let mut def = parse_definition(&bytes).map_err(|e| e.context(a.file.display()))?;
    let name = match &a.name {
        Some(n) => {
            set_definition_task_name(&mut def, n)?;
            n.clone()
        }
        None => definition_task_name(&def)
            .map(str::to_string)
            .ok_or_else(|| {
                Error::input(format!(
                    "{} names no task (tasks[0].task.name)",
                    a.file.display()
                ))
                .with_hint("pass --name NAME")
            })?,
    };
    app.block_on(async { Ok(client.import_task(server, &name, &def).await?) })?;
    status(&format!("imported task `{name}` into `{server}`"));
    Ok(())
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
}

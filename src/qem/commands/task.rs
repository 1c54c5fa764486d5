//! `qem task ...`: list, details, export/import definitions, delete, start/stop/status/wait.
//! The server and the task are positional, as in `/servers/{server}/tasks/{task}`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::server::write_out;
use crate::app::App;
use crate::error::Result;
use crate::input::{InputKind, InputSource};
use crate::output::{col, status, warn};
use crate::qem::api::parse_definition;
use crate::qem::client::QemClient;
use crate::qem::ops::task::{self as ops, Removal, StartRequest, Until};

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// List tasks of one server, or of every server when SERVER is omitted.
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

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only this Replicate/Compose server (default: all servers).
    #[arg(id = "qem_server", value_name = "SERVER")]
    pub server: Option<String>,
}

/// `SERVER TASK`.
#[derive(Debug, Args)]
pub struct TaskArgs {
    /// Replicate/Compose server name as registered in QEM.
    #[arg(id = "qem_server", value_name = "SERVER")]
    pub server: String,
    /// Task name.
    #[arg(value_name = "TASK")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Replicate/Compose server name as registered in QEM.
    #[arg(id = "qem_server", value_name = "SERVER")]
    pub server: String,
    /// Task name (omit with --all).
    #[arg(
        value_name = "TASK",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
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
    /// Replicate/Compose server name as registered in QEM.
    #[arg(id = "qem_server", value_name = "SERVER")]
    pub server: String,
    /// Definition file (`-` = stdin), as `task export` writes it.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
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
}

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub task: TaskArgs,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    #[arg(long, value_enum)]
    pub until: Until,
}

/// How long the commands that wait (start, stop, rm --force-stop, endpoint test) give QEM: the
/// global --timeout, whose default is the same.
pub(super) fn wait_limit(app: &App) -> Duration {
    app.settings.connection.timeout.value
}

/// `task wait` polls for longer: 5 minutes unless --timeout (or QTOOL_TIMEOUT) says otherwise.
const TASK_WAIT_DEFAULT: Duration = Duration::from_secs(300);

const TASK_COLUMNS: &[crate::output::Column] = &[
    col("SERVER", "server"),
    col("NAME", "name"),
    col("STATE", "state"),
    col("STOP REASON", "stop_reason"),
    col("TAGS", "assigned_tags"),
    col("MESSAGE", "message"),
];

pub(crate) fn run(cmd: &TaskCommand, app: &App, client: &QemClient) -> Result<u8> {
    match cmd {
        TaskCommand::Ls(a) => {
            let listing = app.block_on(ops::list(client, a.server.as_deref()))?;
            for (server, e) in &listing.unreachable {
                warn(&format!("server `{server}`: {e}"));
            }
            app.printer.list(&listing.tasks, TASK_COLUMNS, "name")?;
        }
        TaskCommand::Get(a) => {
            let v = app.block_on(async { Ok(client.task_details(&a.server, &a.name).await?) })?;
            app.printer.object(&v, "name")?;
        }
        TaskCommand::Status(a) => {
            let doc = app.block_on(ops::status(client, &a.server, &a.name))?;
            app.printer.object(&doc, "state")?;
        }
        TaskCommand::Export(a) => export(a, app, client)?,
        TaskCommand::Import(a) => {
            let source = InputSource::from_arg(&a.file);
            let def = parse_definition(&source.read(InputKind::Document)?)
                .map_err(|e| e.context(a.file.display()))?;
            let label = a.file.display().to_string();
            let name = app.block_on(ops::import(
                client,
                &a.server,
                def,
                a.name.as_deref(),
                &label,
            ))?;
            status(&format!("imported task `{name}` into `{}`", a.server));
        }
        TaskCommand::Rm(a) => {
            let (server, name) = (&a.task.server, &a.task.name);
            let how = Removal {
                force_stop: a.force_stop,
                delete_logs: !a.keep_logs,
                timeout: wait_limit(app),
            };
            app.block_on(ops::delete(client, server, name, how))?;
            status(&format!("deleted task `{name}` on `{server}`"));
        }
        TaskCommand::Start(a) => {
            let (server, name) = (&a.task.server, &a.task.name);
            let request = StartRequest::new(
                &a.option,
                a.from_timestamp.as_deref(),
                a.position.as_deref(),
                wait_limit(app),
            )?;
            let answer = app.block_on(ops::start(client, server, name, &request))?;
            report_run_answer(app, server, name, &answer, "started")?;
        }
        TaskCommand::Stop(a) => {
            let (server, name) = (&a.task.server, &a.task.name);
            let answer = app.block_on(ops::stop(client, server, name, wait_limit(app)))?;
            report_run_answer(app, server, name, &answer, "stopped")?;
        }
        TaskCommand::Wait(a) => {
            let (server, name) = (&a.task.server, &a.task.name);
            let limit = app.settings.connection.timeout_or(TASK_WAIT_DEFAULT);
            let state = app.block_on(ops::wait(client, server, name, a.until, limit))?;
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
    answer: &ops::RunAnswer,
    verb: &str,
) -> Result<()> {
    if app.printer.is_structured() {
        app.printer.document(&json!({
            "server": server,
            "name": name,
            "state": answer.state,
            "error_message": answer.error_message,
        }))?;
    } else {
        status(&format!(
            "{verb} task `{name}` on `{server}` (state {})",
            answer.state
        ));
    }
    Ok(())
}

fn export(a: &ExportArgs, app: &App, client: &QemClient) -> Result<()> {
    let server = &a.server;
    if !a.all {
        let name = a.name.as_deref().unwrap_or_default();
        let v = app.block_on(ops::export(client, server, name, a.with_endpoints))?;
        let bytes = ops::render_definition(&v)?;
        return write_out(app, a.out.as_deref(), &bytes);
    }
    let dir = a.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let written = app.block_on(ops::export_all(
        client,
        server,
        &dir,
        a.with_endpoints,
        usize::from(a.concurrency),
    ))?;
    let rows: Vec<Value> = written
        .iter()
        .map(|(n, p)| json!({"name": n, "file": p.display().to_string()}))
        .collect();
    app.printer
        .list(&rows, &[col("NAME", "name"), col("FILE", "file")], "file")?;
    status(&format!(
        "exported {} task(s) of `{server}` to {}",
        rows.len(),
        dir.display()
    ));
    Ok(())
}

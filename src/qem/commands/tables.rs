//! `qem task tables ...`: the tables of a task, their load/CDC statuses, reloads.

use clap::{Args, Subcommand};
use serde_json::Value;

use super::ServerOpt;
use crate::app::App;
use crate::error::Result;
use crate::output::{col, status};
use crate::qem::client::QemClient;

#[derive(Debug, Subcommand)]
pub enum TablesCommand {
    /// List the task's tables and their states.
    #[command(visible_alias = "list")]
    Ls(TablesArgs),
    /// Detailed statuses: full-load progress and CDC counters.
    Status(TablesArgs),
    /// Reload one table (the task must have full load enabled).
    Reload(ReloadArgs),
}

impl TablesCommand {
    pub fn server_name(&self) -> String {
        match self {
            TablesCommand::Ls(a) | TablesCommand::Status(a) => a.server.server.clone(),
            TablesCommand::Reload(a) => a.server.server.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct TablesArgs {
    #[command(flatten)]
    pub server: ServerOpt,
    /// Task name.
    pub task: String,
    /// Schema pattern (`%` wildcard).
    #[arg(long)]
    pub schema: Option<String>,
    /// Table pattern (`%` wildcard).
    #[arg(long)]
    pub table: Option<String>,
    /// Only tables in these states (repeatable): queued, loading, completed, change-processing, error.
    #[arg(long = "state", value_parser = ["queued", "loading", "completed", "change-processing", "error"])]
    pub states: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReloadArgs {
    #[command(flatten)]
    pub server: ServerOpt,
    pub task: String,
    #[arg(long)]
    pub schema: String,
    #[arg(long)]
    pub table: String,
}

fn filters(a: &TablesArgs) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if let Some(s) = &a.schema {
        q.push(("schema", s.clone()));
    }
    if let Some(t) = &a.table {
        q.push(("table", t.clone()));
    }
    let all = a.states.is_empty();
    for (flag, key) in [
        ("queued", "includequeued"),
        ("loading", "includeloading"),
        ("completed", "includecompleted"),
        ("change-processing", "includechangeprocessing"),
        ("error", "includeerror"),
    ] {
        let on = all || a.states.iter().any(|s| s == flag);
        q.push((key, on.to_string()));
    }
    q
}

pub fn run(cmd: &TablesCommand, app: &App, client: &QemClient) -> Result<u8> {
    match cmd {
        TablesCommand::Ls(a) => {
            let rows = app.block_on(async {
                Ok(client
                    .tables(&a.server.server, &a.task, false, &filters(a))
                    .await?)
            })?;
            app.printer.list(
                &rows,
                &[
                    col("SCHEMA", "schema"),
                    col("TABLE", "table"),
                    col("STATE", "state"),
                ],
                "table",
            )?;
        }
        TablesCommand::Status(a) => {
            let rows: Vec<Value> = app.block_on(async {
                Ok(client
                    .tables(&a.server.server, &a.task, true, &filters(a))
                    .await?)
            })?;
            app.printer.list(
                &rows,
                &[
                    col("SCHEMA", "schema_on_source"),
                    col("TABLE", "table_on_source"),
                    col("STATE", "state"),
                    col("ROWS LOADED", "table_full_load_info.transferred_row_count"),
                    col("INSERTS", "table_cdc_info.insert_count"),
                    col("UPDATES", "table_cdc_info.update_count"),
                    col("DELETES", "table_cdc_info.delete_count"),
                    col("ERRORS", "data_errors_count"),
                ],
                "table_on_source",
            )?;
        }
        TablesCommand::Reload(a) => {
            app.block_on(async {
                Ok(client
                    .reload_table(&a.server.server, &a.task, &a.schema, &a.table)
                    .await?)
            })?;
            status(&format!(
                "reloading {}.{} of task `{}` on `{}`",
                a.schema, a.table, a.task, a.server.server
            ));
        }
    }
    Ok(0)
}

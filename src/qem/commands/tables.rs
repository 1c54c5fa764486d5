//! `qem task tables ...`: the tables of a task, their load/CDC statuses, reloads.

use clap::{Args, Subcommand};
use serde_json::Value;

use super::task::TaskArgs;
use crate::app::App;
use crate::error::Result;
use crate::output::{col, status};
use crate::qem::client::QemClient;
use crate::qem::ops::task::{TABLE_STATE_FLAGS, TableFilter};

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

#[derive(Debug, Args)]
pub struct TablesArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    /// Schema pattern (`%` wildcard).
    #[arg(long)]
    pub schema: Option<String>,
    /// Table pattern (`%` wildcard).
    #[arg(long)]
    pub table: Option<String>,
    /// Only tables in these states (repeatable): queued, loading, completed, change-processing, error.
    #[arg(long = "state", value_parser = TABLE_STATE_FLAGS.map(|(state, _)| state))]
    pub states: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReloadArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    #[arg(long)]
    pub schema: String,
    #[arg(long)]
    pub table: String,
}

fn filter(a: &TablesArgs) -> TableFilter {
    TableFilter {
        schema: a.schema.clone(),
        table: a.table.clone(),
        states: a.states.clone(),
    }
}

pub(crate) fn run(cmd: &TablesCommand, app: &App, client: &QemClient) -> Result<u8> {
    match cmd {
        TablesCommand::Ls(a) => {
            let rows = app.block_on(async {
                Ok(client
                    .tables(&a.task.server, &a.task.name, false, &filter(a).query())
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
                    .tables(&a.task.server, &a.task.name, true, &filter(a).query())
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
                    .reload_table(&a.task.server, &a.task.name, &a.schema, &a.table)
                    .await?)
            })?;
            status(&format!(
                "reloading {}.{} of task `{}` on `{}`",
                a.schema, a.table, a.task.name, a.task.server
            ));
        }
    }
    Ok(0)
}

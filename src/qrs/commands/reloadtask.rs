//! `qrs reloadtask create`: one task from flags (`--app --name [--schedule daily]`), or many
//! from a tasks file (tasks as code); see [`crate::qrs::ops::reloadtask`].

/// The tasks file format, shown by `qtool qrs reloadtask create --help`.
pub(super) const TASKS_FILE_HELP: &str = "\
Tasks file (-f; JSON, or YAML when it ends in .yaml/.yml), created in file order:

  tasks:
    - name: Reload Base
      app: Base data            # app id, or its exact name
      schedules:
        - every: daily          # once | hourly | daily | weekly | monthly
          start: 2026-01-01T02:00:00Z   # default: now
          timeZone: Europe/Paris        # default: UTC
    - name: Reload Sales
      app: 931d847e-b36a-4511-9547-6cc0f46b1b9c
      enabled: true             # default true
      maxRetries: 0             # default 0
      sessionTimeout: 1440      # minutes, default 1440
      after:                    # start when these end (one composite trigger)
        - task: Reload Base     # earlier in the file, or an existing task (name or id)
          on: success           # success (default) | failure

A top-level list of tasks works too, and so does a raw ReloadTaskBundle ({\"task\": ...}).
Unknown keys are errors. --dry-run prints the bundles without creating anything.";

use std::path::PathBuf;

use clap::Args;
use serde_json::Value;

use super::ReloadtaskCommand;
use super::generic::{self, connect};
use super::output::{print_list, print_one, read_json_input};
use crate::app::App;
use crate::error::{Error, Result};
use crate::qrs::ops::reloadtask::{
    self as ops, Creation, Every, ScheduleSpec, TaskSpec, TasksDocument,
};
use crate::qrs::resources::ResourceKind;

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["file", "app"]))]
pub struct CreateArgs {
    /// Tasks file (tasks as code; see `qtool qrs reloadtask create --help`), `-` for stdin.
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with_all = ["app", "name", "schedule"])]
    pub file: Option<PathBuf>,
    /// App to reload: id or exact name.
    #[arg(long, value_name = "APP", requires = "name")]
    pub app: Option<String>,
    /// Task name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Add a schedule trigger.
    #[arg(long, value_enum, value_name = "EVERY")]
    pub schedule: Option<Every>,
    /// First run of the schedule (RFC 3339, e.g. 2026-01-01T02:00:00Z; default: now).
    #[arg(long, value_name = "DATETIME", requires = "schedule")]
    pub start: Option<String>,
    /// Time zone of the schedule.
    #[arg(long, value_name = "TZ", default_value = "UTC")]
    pub timezone: String,
    /// Create the task disabled.
    #[arg(long)]
    pub disabled: bool,
    /// Retries after a failure.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub max_retries: u32,
    /// Abort the reload after this many minutes.
    #[arg(long, default_value_t = 1440, value_name = "MINUTES")]
    pub session_timeout: u32,
    /// Print the bundles that would be sent, and stop.
    #[arg(long)]
    pub dry_run: bool,
}

pub(super) fn run(cmd: ReloadtaskCommand, app: &App) -> Result<u8> {
    let res = ResourceKind::ReloadTask;
    match cmd {
        ReloadtaskCommand::Common(v) => generic::run(res, v, app),
        ReloadtaskCommand::Create(a) => create(a, app),
    }
}

fn create(a: CreateArgs, app: &App) -> Result<u8> {
    let res = ResourceKind::ReloadTask;
    let specs = match &a.file {
        Some(path) => {
            let doc = read_json_input(path)?;
            match ops::parse_tasks_document(doc, &path.display().to_string())? {
                TasksDocument::Tasks(specs) => specs,
                TasksDocument::Bundle(bundle) if a.dry_run => {
                    app.printer.document(&bundle)?;
                    return Ok(0);
                }
                TasksDocument::Bundle(bundle) => {
                    let client = connect(app)?;
                    let task = app.block_on(ops::post_bundle(&client, &bundle))?;
                    print_one(&app.printer, res, task)?;
                    return Ok(0);
                }
            }
        }
        None => vec![spec_from_flags(&a)?],
    };
    ops::check_unique_names(&specs)?;
    let client = connect(app)?;
    match app.block_on(ops::create(&client, &specs, a.dry_run))? {
        Creation::Planned(bundles) => app.printer.document(&Value::Array(bundles))?,
        Creation::Created(created) => print_list(&app.printer, res, created, true)?,
    }
    Ok(0)
}

fn spec_from_flags(a: &CreateArgs) -> Result<TaskSpec> {
    Ok(TaskSpec {
        name: a
            .name
            .clone()
            .ok_or_else(|| Error::usage("give the task a --name"))?,
        app: a.app.clone().ok_or_else(|| Error::usage("give --app"))?,
        enabled: !a.disabled,
        max_retries: a.max_retries,
        session_timeout: a.session_timeout,
        schedules: a
            .schedule
            .map(|every: Every| ScheduleSpec {
                every,
                start: a.start.clone(),
                time_zone: Some(a.timezone.clone()),
                name: None,
            })
            .into_iter()
            .collect(),
        after: Vec::new(),
    })
}

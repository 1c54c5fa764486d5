//! `qrs reloadtask create`: one task from flags (`--app --name [--schedule daily]`), or many
//! from a tasks file (tasks as code), each sent as a ReloadTaskBundle to `/qrs/reloadtask/create`.
//!
//! Tasks file (JSON, or YAML when the file ends in .yaml/.yml):
//!
//! ```yaml
//! tasks:
//!   - name: Reload Base
//!     app: Base data            # app id, or its exact name
//!     schedules:
//!       - every: daily          # once | hourly | daily | weekly | monthly
//!         start: 2026-01-01T02:00:00.000Z   # default: now
//!         timeZone: Europe/Paris            # default: UTC
//!   - name: Reload Sales
//!     app: 931d847e-b36a-4511-9547-6cc0f46b1b9c
//!     enabled: true             # default true
//!     maxRetries: 0             # default 0
//!     sessionTimeout: 1440      # minutes, default 1440
//!     after:                    # start when these tasks end (a composite trigger)
//!       - task: Reload Base     # a task earlier in this file, or an existing task (name or id)
//!         on: success           # success (default) | failure
//! ```
//!
//! A top-level array of tasks is accepted too, and so is a raw ReloadTaskBundle (`{"task": ...}`).

/// The tasks file format, shown by `qtool qrs reloadtask create --help`.
pub const TASKS_FILE_HELP: &str = "\
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

use std::collections::HashMap;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ReloadtaskCommand;
use super::generic::{self, connect};
use super::output::{id_or_name, print_list, read_json_input};
use crate::app::App;
use crate::error::{Error, Result};
use crate::qrs::client::{Body, QrsClient, json_body};
use crate::qrs::endpoints;
use crate::qrs::filter;
use crate::qrs::resources::ResourceKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Every {
    Once,
    Hourly,
    Daily,
    Weekly,
    Monthly,
}

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

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TasksFile {
    Wrapped { tasks: Vec<TaskSpec> },
    List(Vec<TaskSpec>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TaskSpec {
    name: String,
    app: String,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    max_retries: u32,
    #[serde(default = "day_minutes")]
    session_timeout: u32,
    #[serde(default)]
    schedules: Vec<ScheduleSpec>,
    #[serde(default)]
    after: Vec<AfterSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScheduleSpec {
    every: Every,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AfterSpec {
    task: String,
    #[serde(default)]
    on: On,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum On {
    #[default]
    Success,
    #[serde(alias = "fail")]
    Failure,
}

fn yes() -> bool {
    true
}
fn day_minutes() -> u32 {
    1440
}

pub fn run(cmd: ReloadtaskCommand, app: &App) -> Result<u8> {
    let res = ResourceKind::ReloadTask;
    match cmd {
        ReloadtaskCommand::Common(v) => generic::run(res, v, app),
        ReloadtaskCommand::Create(a) => create(a, app),
    }
}

fn create(a: CreateArgs, app: &App) -> Result<u8> {
    let specs: Vec<TaskSpec> = match &a.file {
        Some(path) => {
            let doc = read_json_input(path)?;
            if doc.get("task").is_some() {
                // A raw ReloadTaskBundle: send as is.
                return create_raw_bundle(doc, &a, app);
            }
            let file: TasksFile = serde_json::from_value(doc).map_err(|e| {
                Error::input(format!("{}: {e}", path.display()))
                    .with_hint("see the tasks file format in `qtool qrs reloadtask create --help`")
            })?;
            match file {
                TasksFile::Wrapped { tasks } | TasksFile::List(tasks) => tasks,
            }
        }
        None => vec![TaskSpec {
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
                .map(|every| ScheduleSpec {
                    every,
                    start: a.start.clone(),
                    time_zone: Some(a.timezone.clone()),
                    name: None,
                })
                .into_iter()
                .collect(),
            after: Vec::new(),
        }],
    };
    check_unique_names(&specs)?;
    let client = connect(app)?;
    let res = ResourceKind::ReloadTask;
    let created = app.block_on(async {
        let mut created_ids: HashMap<String, String> = HashMap::new();
        let mut created = Vec::new();
        let mut bundles = Vec::new();
        for spec in &specs {
            let bundle = build_bundle(&client, spec, &created_ids, a.dry_run).await?;
            if a.dry_run {
                created_ids.insert(spec.name.clone(), format!("<{}>", spec.name));
                bundles.push(bundle);
                continue;
            }
            let task = post_bundle(&client, &bundle)
                .await
                .map_err(|e| e.context(format!("creating task `{}`", spec.name)))?;
            created_ids.insert(spec.name.clone(), crate::output::cell(&task, "id"));
            created.push(task);
        }
        if a.dry_run {
            app.printer.document(&Value::Array(bundles))?;
        }
        Ok(created)
    })?;
    if !a.dry_run {
        print_list(&app.printer, res, created, true)?;
    }
    Ok(0)
}

fn check_unique_names(specs: &[TaskSpec]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for s in specs {
        if s.name.trim().is_empty() {
            return Err(Error::input("a task in the file has an empty name"));
        }
        if !seen.insert(s.name.clone()) {
            return Err(Error::input(format!(
                "task `{}` appears twice in the file",
                s.name
            )));
        }
    }
    Ok(())
}

fn create_raw_bundle(doc: Value, a: &CreateArgs, app: &App) -> Result<u8> {
    if a.dry_run {
        app.printer.document(&doc)?;
        return Ok(0);
    }
    let client = connect(app)?;
    let task = app.block_on(post_bundle(&client, &doc))?;
    super::output::print_one(&app.printer, ResourceKind::ReloadTask, task)?;
    Ok(0)
}

async fn post_bundle(client: &QrsClient, bundle: &Value) -> Result<Value> {
    let url = client.url(&endpoints::RELOADTASK_CREATE.path(&[])?, &[])?;
    client
        .json(Method::POST, url, Body::Json(json_body(bundle)?))
        .await
}

async fn build_bundle(
    client: &QrsClient,
    spec: &TaskSpec,
    created: &HashMap<String, String>,
    dry_run: bool,
) -> Result<Value> {
    let apps = ResourceKind::App;
    let app_id = id_or_name(client, apps, &spec.app)
        .await
        .map_err(|e| e.context(format!("task `{}`", spec.name)))?;
    let mut schema_events = Vec::new();
    for (i, s) in spec.schedules.iter().enumerate() {
        let name = s
            .name
            .clone()
            .unwrap_or_else(|| format!("{} {:?} {}", spec.name, s.every, i + 1).to_lowercase());
        schema_events.push(schema_event(
            &name,
            s.every,
            s.start.as_deref(),
            s.time_zone.as_deref().unwrap_or("UTC"),
            spec.enabled,
        )?);
    }
    let mut composite_events = Vec::new();
    if !spec.after.is_empty() {
        let mut rules = Vec::new();
        for after in &spec.after {
            let id = match created.get(&after.task) {
                Some(id) => id.clone(),
                None if filter::is_guid(&after.task) => after.task.clone(),
                None => {
                    let tasks = ResourceKind::ReloadTask;
                    match super::output::one_by_name(client, tasks, &after.task).await {
                        Ok(t) => crate::output::cell(&t, "id"),
                        Err(e) if dry_run => format!("<{}: {}>", after.task, e.message()),
                        Err(e) => {
                            return Err(e.context(format!(
                                "task `{}` runs after `{}`",
                                spec.name, after.task
                            )));
                        }
                    }
                }
            };
            rules.push(json!({
                "reloadTask": {"id": id},
                "ruleState": match after.on { On::Success => 1, On::Failure => 2 },
            }));
        }
        composite_events.push(json!({
            "name": format!("{} trigger", spec.name),
            "enabled": spec.enabled,
            "eventType": 1,
            "timeConstraint": {"days": 0, "hours": 0, "minutes": 360, "seconds": 0},
            "compositeRules": rules,
        }));
    }
    Ok(json!({
        "task": {
            "name": spec.name,
            "app": {"id": app_id},
            "taskType": 0,
            "enabled": spec.enabled,
            "taskSessionTimeout": spec.session_timeout,
            "maxRetries": spec.max_retries,
            "isManuallyTriggered": false,
            "tags": [],
            "customProperties": [],
        },
        "schemaEvents": schema_events,
        "compositeEvents": composite_events,
    }))
}

/// A SchemaEvent as the QMC creates it for a simple repeating schedule.
fn schema_event(
    name: &str,
    every: Every,
    start: Option<&str>,
    tz: &str,
    enabled: bool,
) -> Result<Value> {
    use time::format_description::well_known::Rfc3339;
    let start = match start {
        Some(text) => time::OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
            Error::usage(format!("start `{text}` is not an RFC 3339 date-time ({e})"))
                .with_hint("e.g. 2026-01-01T02:00:00Z")
        })?,
        None => time::OffsetDateTime::now_utc(),
    };
    let start = start
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(start);
    let start_text = start
        .format(&Rfc3339)
        .map_err(|e| Error::failed(format!("cannot format a date: {e}")))?;
    let (option, increment, schema_filter) = match every {
        Every::Once => (0, "0 0 0 0", "* * - * * * * *"),
        Every::Hourly => (1, "0 1 0 0", "* * - * * * * *"),
        Every::Daily => (2, "0 0 1 0", "* * - * * * * *"),
        Every::Weekly => (3, "0 0 0 1", "* * - * * * * *"),
        Every::Monthly => (4, "0 0 0 0", "* * - * * 1 * *"),
    };
    Ok(json!({
        "name": name,
        "enabled": enabled,
        "eventType": 0,
        "timeZone": tz,
        "daylightSavingTime": 0,
        "startDate": start_text,
        "expirationDate": "9999-01-01T00:00:00.000Z",
        "schemaFilterDescription": [schema_filter],
        "incrementDescription": increment,
        "incrementOption": option,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_files_parse_in_both_shapes() {
        let wrapped: TasksFile = serde_json::from_value(json!({"tasks": [
            {"name": "A", "app": "x", "schedules": [{"every": "daily"}], "after": [{"task": "B", "on": "failure"}]}
        ]}))
        .unwrap();
        let TasksFile::Wrapped { tasks } = wrapped else {
            panic!("wrapped")
        };
        assert!(tasks[0].enabled);
        assert_eq!(tasks[0].session_timeout, 1440);
        assert!(matches!(tasks[0].after[0].on, On::Failure));
        let list: TasksFile = serde_json::from_value(json!([{"name": "A", "app": "x"}])).unwrap();
        assert!(matches!(list, TasksFile::List(_)));
        assert!(
            serde_json::from_value::<TaskSpec>(json!({"name": "A", "app": "x", "typo": 1}))
                .is_err()
        );
    }

    #[test]
    fn schedules_follow_the_qmc_shape() {
        let e = schema_event(
            "n",
            Every::Daily,
            Some("2026-01-01T02:00:00+01:00"),
            "UTC",
            true,
        )
        .unwrap();
        assert_eq!(e["incrementOption"], 2);
        assert_eq!(e["incrementDescription"], "0 0 1 0");
        assert_eq!(e["startDate"], "2026-01-01T01:00:00Z");
        assert!(schema_event("n", Every::Once, Some("tomorrow"), "UTC", true).is_err());
    }
}

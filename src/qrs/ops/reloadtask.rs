//! Reload tasks as code: task specs (from flags or a tasks file) become ReloadTaskBundles sent to
//! `/qrs/reloadtask/create`, in order, so a task can run after one created before it.
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

use std::collections::HashMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::generic::{id_or_name, one_by_name};
use crate::error::{Error, Result};
use crate::qrs::client::{Body, QrsClient, json_body};
use crate::qrs::endpoints;
use crate::qrs::filter;
use crate::qrs::resources::ResourceKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Every {
    Once,
    Hourly,
    Daily,
    Weekly,
    Monthly,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum TasksFile {
    Wrapped { tasks: Vec<TaskSpec> },
    List(Vec<TaskSpec>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TaskSpec {
    pub name: String,
    pub app: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub max_retries: u32,
    #[serde(default = "day_minutes")]
    pub session_timeout: u32,
    #[serde(default)]
    pub schedules: Vec<ScheduleSpec>,
    #[serde(default)]
    pub after: Vec<AfterSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ScheduleSpec {
    pub every: Every,
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AfterSpec {
    pub task: String,
    #[serde(default)]
    pub on: On,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum On {
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

/// What a tasks document holds.
#[derive(Debug)]
pub(crate) enum TasksDocument {
    /// A raw ReloadTaskBundle (`{"task": ...}`), sent as is.
    Bundle(Value),
    Tasks(Vec<TaskSpec>),
}

/// Read a parsed tasks file (`source` names it in errors).
pub(crate) fn parse_tasks_document(doc: Value, source: &str) -> Result<TasksDocument> {
    if doc.get("task").is_some() {
        return Ok(TasksDocument::Bundle(doc));
    }
    let file: TasksFile = serde_json::from_value(doc).map_err(|e| {
        Error::input(format!("{source}: {e}"))
            .with_hint("see the tasks file format in `qtool qrs reloadtask create --help`")
    })?;
    let tasks = match file {
        TasksFile::Wrapped { tasks } | TasksFile::List(tasks) => tasks,
    };
    check_unique_names(&tasks)?;
    Ok(TasksDocument::Tasks(tasks))
}

/// The result of [`create`].
#[derive(Debug)]
pub(crate) enum Creation {
    /// `dry_run`: the bundles that would be sent (ids of tasks not yet created as `<name>`).
    Planned(Vec<Value>),
    Created(Vec<Value>),
}

/// Create the tasks in order (a later one may run after an earlier one).
pub(crate) async fn create(
    client: &QrsClient,
    specs: &[TaskSpec],
    dry_run: bool,
) -> Result<Creation> {
    let mut created_ids: HashMap<String, String> = HashMap::new();
    let mut created = Vec::new();
    let mut bundles = Vec::new();
    for spec in specs {
        let bundle = build_bundle(client, spec, &created_ids, dry_run).await?;
        if dry_run {
            created_ids.insert(spec.name.clone(), format!("<{}>", spec.name));
            bundles.push(bundle);
            continue;
        }
        let task = post_bundle(client, &bundle)
            .await
            .map_err(|e| e.context(format!("creating task `{}`", spec.name)))?;
        created_ids.insert(spec.name.clone(), crate::output::cell(&task, "id"));
        created.push(task);
    }
    Ok(if dry_run {
        Creation::Planned(bundles)
    } else {
        Creation::Created(created)
    })
}

pub(crate) fn check_unique_names(specs: &[TaskSpec]) -> Result<()> {
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

pub(crate) async fn post_bundle(client: &QrsClient, bundle: &Value) -> Result<Value> {
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
                    match one_by_name(client, tasks, &after.task).await {
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

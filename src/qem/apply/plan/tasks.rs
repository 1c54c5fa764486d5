//! Tasks: each task the manifest lists, its definition loaded and substituted, compared with the
//! live one (exported concurrently) and imported, updated, deleted, or started/stopped.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use super::live::{Live, server_spec};
use super::run_state::{self, RESUME, is_active, pretty_option};
use super::{Action, Item, Kind, Op, servers};
use crate::error::{Error, Result, ResultExt};
use crate::input::{InputKind, read_file};
use crate::qem::api::parse_definition;
use crate::qem::apply::diff::{self, Change};
use crate::qem::apply::manifest::{Loaded, Presence, RunState, TaskSpec, substitute_value};
use crate::qem::client::QemClient;
use crate::qem::model;
use crate::qem::ops::task::{definition_task_name, set_definition_task_name};

/// A task the manifest lists, its definition loaded and substituted.
pub(super) struct Desired<'a> {
    pub spec: &'a TaskSpec,
    pub name: String,
    pub def: Option<Value>,
}

/// The manifest's tasks with their definitions; a task listed twice is an error.
pub(super) fn desired(loaded: &Loaded) -> Result<Vec<Desired<'_>>> {
    let mut out: Vec<Desired<'_>> = Vec::new();
    let mut seen = BTreeSet::new();
    for spec in &loaded.manifest.tasks {
        let mut def = load_definition(loaded, spec)?;
        let name = match (&spec.name, &mut def) {
            (Some(n), Some(d)) => {
                set_definition_task_name(d, n)?;
                n.clone()
            }
            (Some(n), None) => n.clone(),
            (None, Some(d)) => definition_task_name(d)
                .filter(|n| !n.trim().is_empty())
                .map(str::to_string)
                .ok_or_else(|| {
                    Error::input(format!(
                        "a task definition for `{}` names no task (tasks[0].task.name)",
                        spec.server
                    ))
                    .with_hint("set `name` in the manifest")
                })?,
            (None, None) => unreachable_name(&spec.server)?,
        };
        if !seen.insert((spec.server.to_lowercase(), name.to_lowercase())) {
            return Err(Error::input(format!(
                "task `{name}` on `{}` is listed twice in the manifest",
                spec.server
            )));
        }
        out.push(Desired { spec, name, def });
    }
    Ok(out)
}

fn unreachable_name(server: &str) -> Result<String> {
    Err(Error::input(format!(
        "a task on `{server}` has neither a name nor a definition"
    )))
}

fn load_definition(loaded: &Loaded, spec: &TaskSpec) -> Result<Option<Value>> {
    let mut def = match (&spec.definition, &spec.inline) {
        (Some(path), _) => {
            let full = if path.is_absolute() {
                path.clone()
            } else {
                loaded.dir.join(path)
            };
            let bytes =
                read_file(&full, InputKind::Document).map_err(|e| e.context("task definition"))?;
            parse_definition(&bytes).context(full.display())?
        }
        (None, Some(inline)) => inline.clone(),
        (None, None) => return Ok(None),
    };
    let vars = loaded.vars.with_task(&spec.vars);
    substitute_value(&mut def, &vars).with_context(|| {
        format!(
            "definition of task `{}` on `{}`",
            spec.name.as_deref().unwrap_or("?"),
            spec.server
        )
    })?;
    Ok(Some(def))
}

pub(super) async fn plan(
    client: &QemClient,
    loaded: &Loaded,
    desired: &[Desired<'_>],
    live: &HashMap<String, Live>,
    concurrency: usize,
) -> Result<Vec<Item>> {
    let server_absent =
        |name: &str| server_spec(loaded, name).is_some_and(|s| s.state == Presence::Absent);
    let exported = export_existing(client, loaded, desired, live, concurrency).await?;
    let mut items = Vec::new();
    for (i, d) in desired.iter().enumerate() {
        let state = live
            .get(&d.spec.server)
            .and_then(|l| l.tasks.as_ref())
            .and_then(|t| t.get(&d.name));
        let task = Task {
            d,
            timeout: d.spec.timeout()?,
            option: d
                .spec
                .run_option
                .as_deref()
                .map(model::run_option)
                .transpose()?
                .unwrap_or_else(|| RESUME.to_string()),
        };
        let item = match (d.spec.state, state) {
            (Presence::Absent, None) => None,
            // Unregistering the server removes the task.
            (Presence::Absent, Some(_)) if server_absent(&d.spec.server) => None,
            (Presence::Absent, Some(state)) => Some(task.delete(state)?),
            (Presence::Present, None) => Some(task.create()),
            (Presence::Present, Some(state)) => {
                task.update(state, exported.get(&i).and_then(Option::as_ref))
            }
        };
        items.extend(item);
    }
    Ok(items)
}

/// One task of the manifest with its run option and stop timeout.
struct Task<'a> {
    d: &'a Desired<'a>,
    option: String,
    timeout: Duration,
}

impl Task<'_> {
    fn item(&self, action: Action, summary: String, changes: Vec<String>, op: Op) -> Item {
        Item {
            action,
            kind: Kind::Task,
            server: self.d.spec.server.clone(),
            name: self.d.name.clone(),
            summary,
            changes,
            op,
        }
    }

    fn definition(&self) -> Value {
        self.d.def.clone().unwrap_or(Value::Null)
    }

    /// Delete a task that exists; a running one only with `force_stop`.
    fn delete(&self, state: &str) -> Result<Item> {
        let spec = self.d.spec;
        let running = is_active(state);
        if running && !spec.force_stop {
            return Err(Error::conflict(format!(
                "task `{}` on `{}` is {state}; deleting it needs a stop",
                self.d.name, spec.server
            ))
            .with_hint("set `force_stop = true` on the task in the manifest"));
        }
        Ok(self.item(
            Action::Delete,
            if running {
                "stop, then delete".into()
            } else {
                "delete".into()
            },
            vec![],
            Op::DeleteTask {
                stop_first: running,
                delete_logs: spec.delete_logs.unwrap_or(true),
                timeout: self.timeout,
            },
        ))
    }

    /// Import a task that does not exist, and start it when the manifest says so.
    fn create(&self) -> Item {
        let start = (self.d.spec.run == Some(RunState::Started)).then(|| self.option.clone());
        let summary = match &start {
            Some(o) => format!("import, then start ({})", pretty_option(o)),
            None => "import".into(),
        };
        self.item(
            Action::Create,
            summary,
            vec![],
            Op::CreateTask {
                def: self.definition(),
                start,
            },
        )
    }

    /// Compare an existing task with its exported definition (`None`: it vanished since the
    /// list): re-import it when they differ, else bring its run state in line.
    fn update(&self, state: &str, live_def: Option<&Value>) -> Option<Item> {
        let spec = self.d.spec;
        let desired_def = self.definition();
        let changes = match live_def {
            Some(live_def) => {
                diff::diff(&diff::normalize(live_def), &diff::normalize(&desired_def))
            }
            None => vec![Change::Added {
                path: "(task)".into(),
                new: Value::String(self.d.name.clone()),
            }],
        };
        if changes.is_empty() {
            let (summary, op) = run_state::converge(spec.run, state, &self.option, self.timeout)?;
            return Some(self.item(Action::Update, summary, vec![], op));
        }
        let active = is_active(state);
        let replace = changes.iter().any(Change::is_removal);
        let restart = run_state::restart_after_update(spec.run, active, &self.option);
        let mut steps = Vec::new();
        if active {
            steps.push("stop".to_string());
        }
        if replace {
            steps.push("delete".to_string());
        }
        steps.push("import".to_string());
        if let Some(o) = &restart {
            steps.push(format!("start ({})", pretty_option(o)));
        }
        Some(self.item(
            Action::Update,
            format!("update: {}", steps.join(" → ")),
            changes.iter().map(Change::render).collect(),
            Op::UpdateTask {
                def: desired_def,
                replace,
                stop_first: active,
                restart,
                timeout: self.timeout,
            },
        ))
    }
}

/// Check that every task's server is (or will be) there, and export the existing tasks the
/// manifest wants present, concurrently. Keyed by index into `desired`; `None` when the task
/// vanished between the list and the export.
async fn export_existing(
    client: &QemClient,
    loaded: &Loaded,
    desired: &[Desired<'_>],
    live: &HashMap<String, Live>,
    concurrency: usize,
) -> Result<HashMap<usize, Option<Value>>> {
    let server_absent =
        |name: &str| server_spec(loaded, name).is_some_and(|s| s.state == Presence::Absent);
    let mut exports_needed = Vec::new();
    for (i, d) in desired.iter().enumerate() {
        let tasks = live.get(&d.spec.server).and_then(|l| l.tasks.as_ref());
        if tasks.is_none() && !servers::is_created(&loaded.manifest, live, &d.spec.server) {
            if d.spec.state == Presence::Absent || server_absent(&d.spec.server) {
                continue;
            }
            return Err(Error::not_found(format!(
                "server `{}` (of task `{}`) is not registered in QEM",
                d.spec.server, d.name
            ))
            .with_hint("register it (add it to `servers` in the manifest) or fix the name"));
        }
        if d.spec.state == Presence::Present && server_absent(&d.spec.server) {
            return Err(Error::input(format!(
                "task `{}` is wanted on server `{}`, which the manifest removes",
                d.name, d.spec.server
            )));
        }
        if d.spec.state == Presence::Present
            && let Some(def) = &d.def
            && tasks.is_some_and(|t| t.contains_key(&d.name))
        {
            exports_needed.push((i, diff::has_endpoints(def)));
        }
    }
    let exports = futures_util::stream::iter(exports_needed.into_iter().map(|(i, with_eps)| {
        let d = &desired[i];
        async move {
            let v = client
                .export_task(&d.spec.server, &d.name, with_eps)
                .await
                .map_err(Error::from)?;
            Ok::<_, Error>((i, v))
        }
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;
    let mut exported = HashMap::new();
    for r in exports {
        let (i, v) = r.context("reading task definitions")?;
        exported.insert(i, v);
    }
    Ok(exported)
}

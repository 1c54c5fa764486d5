//! Tasks: each task the manifest lists, its definition loaded and substituted, compared with the
//! live one (exported concurrently) and imported, updated, deleted, or started/stopped.

use std::collections::{BTreeSet, HashMap};

use futures_util::StreamExt;
use serde_json::Value;

use super::live::{Live, server_spec};
use super::run_state::{self, RESUME, is_active, pretty_option};
use super::{Action, Item, Kind, Op, servers};
use crate::error::{Error, Result, ResultExt};
use crate::qem::api::parse_definition;
use crate::qem::apply::diff::{self, Change};
use crate::qem::apply::manifest::{Loaded, Presence, RunState, TaskSpec, substitute_value};
use crate::qem::client::QemClient;
use crate::qem::commands::task::{definition_task_name, set_definition_task_name};
use crate::qem::model;

/// A task the manifest lists, its definition loaded and substituted.
pub struct Desired<'a> {
    pub spec: &'a TaskSpec,
    pub name: String,
    pub def: Option<Value>,
}

/// The manifest's tasks with their definitions; a task listed twice is an error.
pub fn desired(loaded: &Loaded) -> Result<Vec<Desired<'_>>> {
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
            (None, Some(d)) => definition_task_name(d).map(str::to_string).ok_or_else(|| {
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
            let bytes = std::fs::read(&full)
                .map_err(|e| Error::io(format!("reading task definition {}", full.display()), e))?;
            parse_definition(&bytes).context(full.display())?
        }
        (None, Some(inline)) => inline.clone(),
        (None, None) => return Ok(None),
    };
    let mut vars = loaded.vars.clone();
    for (k, v) in &spec.vars {
        vars.insert(k.clone(), v.clone());
    }
    substitute_value(&mut def, &vars).with_context(|| {
        format!(
            "definition of task `{}` on `{}`",
            spec.name.as_deref().unwrap_or("?"),
            spec.server
        )
    })?;
    Ok(Some(def))
}

pub async fn plan(
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
        let spec = d.spec;
        let state = live
            .get(&spec.server)
            .and_then(|l| l.tasks.as_ref())
            .and_then(|t| t.get(&d.name));
        let timeout = spec.timeout()?;
        let option = spec
            .run_option
            .as_deref()
            .map(model::run_option)
            .transpose()?
            .unwrap_or_else(|| RESUME.to_string());
        let item = |action, summary: String, changes, op| Item {
            action,
            kind: Kind::Task,
            server: spec.server.clone(),
            name: d.name.clone(),
            summary,
            changes,
            op,
        };
        match (spec.state, state) {
            (Presence::Absent, None) => {}
            (Presence::Absent, Some(state)) => {
                if server_absent(&spec.server) {
                    continue; // unregistering the server removes it
                }
                let running = is_active(state);
                if running && !spec.force_stop {
                    return Err(Error::conflict(format!(
                        "task `{}` on `{}` is {state}; deleting it needs a stop",
                        d.name, spec.server
                    ))
                    .with_hint("set `force_stop = true` on the task in the manifest"));
                }
                items.push(item(
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
                        timeout,
                    },
                ));
            }
            (Presence::Present, None) => {
                let def = d.def.clone().unwrap_or(Value::Null);
                let start = (spec.run == Some(RunState::Started)).then(|| option.clone());
                let summary = match &start {
                    Some(o) => format!("import, then start ({})", pretty_option(o)),
                    None => "import".into(),
                };
                items.push(item(
                    Action::Create,
                    summary,
                    vec![],
                    Op::CreateTask { def, start },
                ));
            }
            (Presence::Present, Some(state)) => {
                let desired_def = d.def.clone().unwrap_or(Value::Null);
                let changes = match exported.get(&i) {
                    Some(Some(live_def)) => {
                        diff::diff(&diff::normalize(live_def), &diff::normalize(&desired_def))
                    }
                    // Listed but gone by the time of the export: import it.
                    _ => vec![Change::Added {
                        path: "(task)".into(),
                        new: Value::String(d.name.clone()),
                    }],
                };
                if changes.is_empty() {
                    if let Some((summary, op)) =
                        run_state::converge(spec.run, state, &option, timeout)
                    {
                        items.push(item(Action::Update, summary, vec![], op));
                    }
                    continue;
                }
                let active = is_active(state);
                let replace = changes.iter().any(Change::is_removal);
                let restart = run_state::restart_after_update(spec.run, active, &option);
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
                items.push(item(
                    Action::Update,
                    format!("update: {}", steps.join(" → ")),
                    changes.iter().map(Change::render).collect(),
                    Op::UpdateTask {
                        def: desired_def,
                        replace,
                        stop_first: active,
                        restart,
                        timeout,
                    },
                ));
            }
        }
    }
    Ok(items)
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

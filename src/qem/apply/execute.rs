//! Carry out a plan: phase by phase, the items of a phase concurrently (bounded), each item's
//! steps in order (stop → delete → import → start). A failure stops before the next phase and
//! the report says what was applied and what not.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

use super::plan::{Item, Op, Phase};
use crate::error::Error;
use crate::qem::client::{QemClient, QemError, QemResult};
use crate::qem::model;
use crate::qem::wire::task_state as ts;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Failed(String),
    /// Not attempted: an earlier phase failed.
    Skipped,
}

/// Server versions for `_version`, read once per server when a definition lacks it.
type Versions = HashMap<String, tokio::sync::OnceCell<Option<Value>>>;

pub async fn run(
    client: &QemClient,
    items: &[Item],
    concurrency: usize,
    on_done: &dyn Fn(&Item, &Outcome),
) -> Vec<Outcome> {
    let mut outcomes = vec![Outcome::Skipped; items.len()];
    let versions: Versions = items
        .iter()
        .filter(|i| matches!(i.op, Op::CreateTask { .. } | Op::UpdateTask { .. }))
        .map(|i| (i.server.clone(), tokio::sync::OnceCell::new()))
        .collect();
    let mut phases: Vec<Phase> = items.iter().map(Item::phase).collect();
    phases.sort_unstable();
    phases.dedup();
    for phase in phases {
        let indexes: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].phase() == phase)
            .collect();
        let versions = &versions;
        let results: Vec<(usize, Outcome)> =
            futures_util::stream::iter(indexes.into_iter().map(|i| async move {
                let item = &items[i];
                let outcome = match apply_one(client, item, versions).await {
                    Ok(()) => Outcome::Applied,
                    Err(e) => Outcome::Failed(Error::from(e).to_string()),
                };
                on_done(item, &outcome);
                (i, outcome)
            }))
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut failed = false;
        for (i, o) in results {
            failed |= matches!(o, Outcome::Failed(_));
            outcomes[i] = o;
        }
        if failed {
            break;
        }
    }
    outcomes
}

async fn apply_one(client: &QemClient, item: &Item, versions: &Versions) -> QemResult<()> {
    let (server, name) = (item.server.as_str(), item.name.as_str());
    match &item.op {
        Op::PutServer { def } => client.put_server(server, def).await,
        Op::DeleteServer => client.delete_server(server).await,
        Op::PutAcl { acl } => client.put_server_acl(server, acl).await,
        Op::DeleteAcl => client.delete_server_acl(server).await,
        Op::CreateTask { def, start } => {
            let def = with_version(client, server, def, versions).await?;
            client.import_task(server, name, &def).await?;
            if let Some(option) = start {
                start_task(client, server, name, option).await?;
            }
            Ok(())
        }
        Op::UpdateTask {
            def,
            replace,
            stop_first,
            restart,
            timeout,
        } => {
            let def = with_version(client, server, def, versions).await?;
            if *stop_first {
                client.ensure_stopped(server, name, *timeout).await?;
            }
            if *replace {
                client.delete_task(server, name, false).await?;
            }
            client.import_task(server, name, &def).await?;
            if let Some(option) = restart {
                start_task(client, server, name, option).await?;
            }
            Ok(())
        }
        Op::DeleteTask {
            stop_first,
            delete_logs,
            timeout,
        } => {
            if *stop_first {
                client.ensure_stopped(server, name, *timeout).await?;
            }
            match client.delete_task(server, name, *delete_logs).await {
                Err(e) if e.is(crate::qem::wire::code::TASK_NOT_FOUND) => Ok(()),
                other => other,
            }
        }
        Op::StartTask { option } => start_task(client, server, name, option).await,
        Op::StopTask { timeout } => client.ensure_stopped(server, name, *timeout).await,
        Op::DeleteEndpoint => match client.delete_endpoint(server, name).await {
            Err(e) if e.is(crate::qem::wire::code::ENDPOINT_NOT_FOUND) => Ok(()),
            other => other,
        },
    }
}

async fn start_task(client: &QemClient, server: &str, name: &str, option: &str) -> QemResult<()> {
    let answer = client
        .start_task(server, name, option, None, Duration::from_secs(60))
        .await?;
    let state = model::str_field(&answer, "state");
    if state == ts::ERROR {
        return Err(QemError::Other(
            Error::failed(format!(
                "task `{name}` on `{server}` failed to start: {}",
                model::str_field(&answer, "error_message")
            ))
            .with_hint("see the task log in QEM"),
        ));
    }
    Ok(())
}

/// Replicate applies defaults by `_version`: give a definition without one the server's version
/// (what the Ansible role meant to do, without its KeyError).
async fn with_version(
    client: &QemClient,
    server: &str,
    def: &Value,
    versions: &Versions,
) -> QemResult<Value> {
    let missing = def
        .get("_version")
        .is_none_or(|v| v.is_null() || v.as_object().is_some_and(|m| m.is_empty()));
    if !missing || !def.is_object() {
        return Ok(def.clone());
    }
    let Some(cell) = versions.get(server) else {
        return Ok(def.clone());
    };
    let version = cell
        .get_or_init(|| async {
            let details = client.server_details(server).await.ok()?;
            let text = model::str_field(&details, "version").to_string();
            version_object(&text)
        })
        .await
        .clone();
    let mut def = def.clone();
    if let (Some(v), Value::Object(map)) = (version, &mut def) {
        map.insert("_version".into(), v);
    }
    Ok(def)
}

/// `2023.11.0.159` → `{version, version_major, version_minor, version_revision}` (numbers, as exports carry).
pub fn version_object(text: &str) -> Option<Value> {
    let parts: Vec<u64> = text
        .split('.')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    if parts.len() < 2 {
        return None;
    }
    Some(json!({
        "version": text,
        "version_major": parts[0],
        "version_minor": parts[1],
        "version_revision": parts.get(3).or(parts.get(2)).copied().unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        let v = version_object("2021.5.0.745").unwrap();
        assert_eq!(v["version_major"], 2021);
        assert_eq!(v["version_minor"], 5);
        assert_eq!(v["version_revision"], 745);
        assert!(version_object("unknown").is_none());
    }
}

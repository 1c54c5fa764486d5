//! Start a task synchronously (QRS answers with the execution session id once the task has
//! started), and wait for its execution: poll the session until it is gone (404), then read the
//! execution result.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use super::generic::one_by_name;
use crate::error::{Error, ErrorClass, Result};
use crate::qrs::client::{Body, QrsClient};
use crate::qrs::endpoints;
use crate::qrs::resources::ResourceKind;
use crate::qrs::wire::{self, task_status};

/// A task by id, or by its exact name.
#[derive(Debug, Clone)]
pub enum TaskRef {
    Id(String),
    Name(String),
}

/// A started execution.
#[derive(Debug, Clone)]
pub struct Started {
    pub session: String,
    /// The task as the user named it (name or id), for messages.
    pub label: String,
}

/// Start the task; an empty session id (QRS's "not started") is an error saying why it may be.
pub async fn start(client: &QrsClient, task: &TaskRef) -> Result<Started> {
    let (task_id, label) = match task {
        TaskRef::Id(id) => (id.clone(), id.clone()),
        TaskRef::Name(name) => {
            let t = one_by_name(client, ResourceKind::Task, name).await?;
            (crate::output::cell(&t, "id"), name.clone())
        }
    };
    let url = client.url(&endpoints::TASK_START_SYNC.path(&[&task_id])?, &[])?;
    let answer = client
        .json(Method::POST, url, Body::None)
        .await
        .map_err(|e| {
            if e.class() == ErrorClass::NotFound {
                Error::not_found(format!("no task with id {task_id}"))
                    .with_hint("list them with `qtool qrs task ls`")
            } else {
                e
            }
        })?;
    let session = session_id(&answer).ok_or_else(|| {
        Error::server(format!(
            "starting task {label} returned no session id: {answer}"
        ))
    })?;
    if session == wire::EMPTY_GUID {
        return Err(Error::failed(format!("task {label} was not started"))
            .with_hint("the task may be disabled, already running, or its app unavailable; check it in the QMC"));
    }
    Ok(Started { session, label })
}

fn session_id(answer: &Value) -> Option<String> {
    match answer {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => m.get("value").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Poll the execution session until it is gone, then read the execution result.
pub async fn wait_for(
    client: &QrsClient,
    session: &str,
    limit: Duration,
    poll: Duration,
) -> Result<Value> {
    let started = Instant::now();
    let session_path = endpoints::EXECUTION_SESSION.path(&[session])?;
    loop {
        match client.get_json(&session_path, &[]).await {
            Ok(_) => {}
            Err(e) if e.class() == ErrorClass::NotFound => break,
            Err(e) => return Err(e),
        }
        if started.elapsed() >= limit {
            return Err(Error::failed(format!(
                "the task is still running after {}s (session {session})",
                limit.as_secs()
            ))
            .with_hint("raise --timeout, or follow it with `qtool qrs executionsession get ID`"));
        }
        tokio::time::sleep(poll).await;
    }
    // The result can lag the session's removal a moment.
    let flt = format!("executionID eq {session}");
    let list_path = endpoints::EXECUTION_RESULT_LIST.path(&[])?;
    for attempt in 0..10u32 {
        let results = client.get_list(&list_path, &[("filter", &flt)]).await?;
        // With retries configured there are several: the last one decides.
        let last = results.into_iter().max_by(|a, b| {
            crate::output::cell(a, "startTime").cmp(&crate::output::cell(b, "startTime"))
        });
        if let Some(r) = last
            && r.get("status")
                .and_then(Value::as_i64)
                .is_some_and(task_status::is_final)
        {
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt + 1))).await;
    }
    Err(
        Error::server(format!("no final execution result for session {session}")).with_hint(
            "look it up with `qtool qrs executionresult ls --filter \"executionID eq ID\"`",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn session_ids_in_both_shapes() {
        assert_eq!(session_id(&json!("abc")).unwrap(), "abc");
        assert_eq!(session_id(&json!({"value": "abc"})).unwrap(), "abc");
        assert!(session_id(&json!(3)).is_none());
    }
}

//! Tasks: list, details, delete, run/stop with the run state machine (§5.3–5.6), change-data
//! retention.
//!
//! State machine: STOPPED/ERROR --run--> STARTING --0.5–1 s--> RUNNING --stop--> STOPPING
//! --0.5–1 s--> STOPPED (tokio timers; a timer only acts if the task is still in the run epoch
//! that scheduled it).
//! - RunTask waits up to `timeout` seconds (default 60) for RUNNING and answers
//!   `{"state", "error_message"}` with the state reached; `timeout=0` answers at once.
//! - StopTask on STOPPED/ERROR is `AEM_TASK_ALREADY_STOPPED`; waiting longer than `timeout` is
//!   `AEM_STOP_TASK_TIMEOUT` (the stop still completes); `timeout=0` answers at once.
//! - GAP: RunTask on a RUNNING/STARTING task changes nothing and answers the current state;
//!   on a STOPPING task it is `AEM_TASK_NOT_STOPPED`. A missing `option` means
//!   RESUME_PROCESSING; the pre-2021 `NONE` is accepted as RESUME_PROCESSING; any other
//!   unknown option is `DESERIALIZE_TO_TYPE` (HTTP 400).
//! - GAP: the `cdcposition` of RESUME_PROCESSING_FROM_TIMESTAMP must be a timestamp
//!   (`AEM_INVALID_TIMESTAMP_FORMAT` otherwise); positions/checkpoints are opaque non-empty
//!   strings.
//! - A task whose endpoint host ends in `.invalid` fails to start: ERROR, stop reason
//!   FATAL_ERROR, and RunTask answers `{"state":"ERROR","error_message":<why>}`.
//! - A task without apply changes runs its full load (one second per table) and stops by
//!   itself with FULL_LOAD_ONLY_FINISHED.
//! - GAP: RunTask on a server whose registered license has expired is
//!   `AEM_SERVER_LICENSE_EXPIRED` (a server without a registered license may run tasks: its
//!   Replicate license is not managed through QEM).
//! - Counters are derived from the definition (tables, options) and the time spent RUNNING:
//!   full load completes table by table (one second each), CDC counters grow at a per-task
//!   rate while RUNNING with apply changes enabled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::response::Response;
use serde_json::{Value, json};

use super::QemState;
use super::api::{ApiError, ApiResult, empty_ok, json_ok};
use super::audit::{self, Entry};
use super::model::{RetentionBarrier, Server, Task};
use super::routes::Ctx;
use super::servers::{self, parse_json_object};
use super::util::{self, stable_hash};
use crate::qem::spec::{self, code, task_state};

/// Transition time bounds (STARTING → RUNNING, STOPPING → STOPPED).
const TRANSITION_MS: (u64, u64) = (500, 1000);
/// Longest wait a RunTask/StopTask `timeout` can ask for (one day).
const MAX_WAIT_SECS: u64 = 86_400;
/// How often a waiting RunTask/StopTask looks at the state.
const POLL: Duration = Duration::from_millis(25);

pub(super) fn find_task<'a>(server: &'a Server, task: &str) -> ApiResult<&'a Task> {
    server
        .task(task)
        .ok_or_else(|| ApiError::task_not_found(&server.name, task))
}

pub(super) fn list(ctx: &Ctx, server: &str) -> ApiResult<Response> {
    let inner = ctx.state.lock();
    let s = servers::connected(&inner.store, server)?;
    let items: Vec<Value> = s
        .tasks
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "state": t.state,
                "stop_reason": t.stop_reason,
                "message": t.message,
                "assigned_tags": t.assigned_tags,
            })
        })
        .collect();
    drop(inner);
    Ok(json_ok(&json!({ "taskList": items })))
}

/// Estimated rows of one table (deterministic per name).
pub(super) fn table_rows(schema: &str, table: &str) -> u64 {
    1_000 + stable_hash(&[schema, table]) % 250_000
}

/// CDC events per second for a task (deterministic per name).
fn cdc_rate(task: &str) -> u64 {
    3 + stable_hash(&[task]) % 17
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TablePhase {
    Queued,
    /// Loading, with the fraction done in per mille.
    Loading(u64),
    Completed,
    ChangeProcessing,
}

impl TablePhase {
    pub(super) fn wire(self) -> &'static str {
        match self {
            TablePhase::Queued => "TABLE_QUEUED",
            TablePhase::Loading(_) => "TABLE_LOADING",
            TablePhase::Completed => "TABLE_COMPLETED",
            TablePhase::ChangeProcessing => "TABLE_CHANGE_PROCESSING",
        }
    }
}

/// Where table `index` of `task` is at unix time `now`, with `(load_start, load_end)`.
pub(super) fn table_phase(
    task: &Task,
    index: usize,
    schema: &str,
    table: &str,
    now: i64,
) -> (TablePhase, Option<(i64, i64)>) {
    let running = task.is_running();
    let key = format!("{schema}.{table}");
    let window = match (
        task.stats.table_reloads.get(&key),
        task.stats.full_load_started_at,
    ) {
        (Some(&reload), Some(full)) if reload >= full => Some((reload, reload + 2)),
        (Some(&reload), None) => Some((reload, reload + 2)),
        (_, Some(full)) => Some((full, full + 1 + index as i64)),
        (None, None) => None,
    };
    let loaded_phase = if running && task.apply_changes_enabled() {
        TablePhase::ChangeProcessing
    } else {
        TablePhase::Completed
    };
    let phase = match window {
        None if running => loaded_phase,
        None => TablePhase::Queued,
        Some((start, end)) if now < end => {
            if running {
                let span = (end - start).max(1) as u64;
                TablePhase::Loading(((now - start).max(0) as u64 * 1000 / span).min(999))
            } else {
                TablePhase::Queued
            }
        }
        Some(_) => loaded_phase,
    };
    (phase, window)
}

fn endpoint_ref(server: &Server, name: &str) -> Value {
    let kind = server
        .endpoint(name)
        .map(|e| e.list_type())
        .unwrap_or_default();
    json!({"name": name, "type": kind})
}

pub(super) fn details(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    let inner = ctx.state.lock();
    let s = servers::connected(&inner.store, server)?;
    let t = find_task(s, task)?;
    let body = details_json(s, t, util::unix_now());
    drop(inner);
    Ok(json_ok(&body))
}

pub(super) fn details_json(s: &Server, t: &Task, now: i64) -> Value {
    let running = t.is_running();
    let tables = t.tables();
    let (mut completed, mut loading, mut queued) = (0u64, 0u64, 0u64);
    let (mut records_done, mut records_all) = (0u64, 0u64);
    for (i, (schema, table)) in tables.iter().enumerate() {
        let rows = table_rows(schema, table);
        records_all += rows;
        match table_phase(t, i, schema, table, now).0 {
            TablePhase::Queued => queued += 1,
            TablePhase::Loading(permille) => {
                loading += 1;
                records_done += rows * permille / 1000;
            }
            TablePhase::Completed | TablePhase::ChangeProcessing => {
                completed += 1;
                records_done += rows;
            }
        }
    }
    let rate = cdc_rate(&t.name);
    let secs = match (running, t.stats.started_at) {
        (true, Some(start)) if t.apply_changes_enabled() => (now - start).max(0) as u64,
        _ => 0,
    };
    let grown = |base: u64, per_sec: u64| base.saturating_add(secs.saturating_mul(per_sec));
    let inserts = grown(t.stats.applied_inserts, rate);
    let updates = grown(t.stats.applied_updates, rate / 2);
    let deletes = grown(t.stats.applied_deletes, rate / 5);
    let ddls = t.stats.applied_ddls;
    let current = if running { rate } else { 0 };
    let latency = if running {
        format!("00:00:{:02}", 1 + stable_hash(&[&t.name, "latency"]) % 5)
    } else {
        "00:00:00".to_string()
    };
    let source = t.source_name();
    let target = t.target_names().into_iter().next().unwrap_or_default();
    let committed = inserts.saturating_add(updates).saturating_add(deletes);
    json!({
        "type": "AemTaskInfoDetailed",
        "name": t.name,
        "description": t.description(),
        "state": t.state,
        "task_stop_reason": t.stop_reason,
        "message": t.message,
        "assigned_tags": t.assigned_tags,
        "profile": "UNIDIRECTIONAL",
        "source_endpoint": endpoint_ref(s, &source),
        "target_endpoint": endpoint_ref(s, &target),
        "options": {
            "full_load_enabled": t.full_load_enabled(),
            "apply_changes_enabled": t.apply_changes_enabled(),
            "store_changes_enabled": t.store_changes_enabled(),
            "audit_changes_enabled": t.audit_changes_enabled(),
        },
        "cdc_event_counters": {
            "applied_insert_count": inserts,
            "applied_update_count": updates,
            "applied_delete_count": deletes,
            "applied_ddl_count": ddls,
        },
        "cdc_latency": {"source_latency": latency, "total_latency": latency},
        "cdc_throughput": {
            "source_throughput_records_count": {"current": current},
            "source_throughput_volume": {"current": current * 2},
            "target_throughput_records_count": {"current": current},
            "target_throughput_volume": {"current": current * 2},
        },
        "cdc_transactions_counters": {
            "commit_change_records_count": committed,
            "rollback_transaction_count": 0,
            "rollback_change_records_count": 0,
            "rollback_change_volume_mb": 0,
            "applied_transactions_in_progress_count": u64::from(running),
            "applied_records_in_progress_count": if running { rate / 3 } else { 0 },
            "applied_comitted_transaction_count": committed / 4,
            "applied_records_comitted_count": committed,
            "applied_volume_comitted_mb": committed / 5_000,
            "incoming_accumulated_changes_in_memory_count": if running { rate } else { 0 },
            "incoming_accumulated_changes_on_disk_count": 0,
            "incoming_applying_changes_in_memory_count": if running { rate / 2 } else { 0 },
            "incoming_applying_changes_on_disk_count": 0,
        },
        "full_load_counters": {
            "tables_completed_count": completed,
            "tables_loading_count": loading,
            "tables_queued_count": queued,
            "tables_with_error_count": 0,
            "records_completed_count": records_done,
            "estimated_records_for_all_tables_count": records_all,
        },
        "full_load_throughput": {
            "source_throughput_records_count": {"current": if loading > 0 { 25_000 } else { 0 }},
            "source_throughput_volume": {"current": if loading > 0 { 12 } else { 0 }},
            "target_throughput_records_count": {"current": if loading > 0 { 24_000 } else { 0 }},
            "target_throughput_volume": {"current": if loading > 0 { 11 } else { 0 }},
        },
        "memory_mb": if running { 80 + 4 * tables.len() as u64 } else { 0 },
        "cpu_percentage": if running { 1 + stable_hash(&[&t.name, "cpu"]) % 4 } else { 0 },
        "disk_usage_mb": 12 + tables.len() as u64 * 3,
        "data_error_count": 0,
    })
}

pub(super) fn delete(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    let delete_logs = ctx.params.bool("deletetasklogs", false)?;
    ctx.state.mutate(|inner| {
        let s = servers::connected_mut(&mut inner.store, server)?;
        let t = find_task(s, task)?;
        if !t.is_stopped() {
            return Err(ApiError::aem(
                code::TASK_NOT_STOPPED,
                format!("Task '{task}' is {}; stop it before deleting it", t.state),
            ));
        }
        s.tasks.retain(|t| t.name != task);
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "DeleteTask",
                server: Some(server),
                task: Some(task),
                endpoint: None,
                details: format!("task deleted (deletetasklogs={delete_logs})"),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

fn run_option(ctx: &Ctx) -> ApiResult<String> {
    let raw = ctx.params.get("option").map(str::trim).unwrap_or("");
    if raw.is_empty() || raw.eq_ignore_ascii_case("NONE") {
        return Ok("RESUME_PROCESSING".to_string());
    }
    spec::RUN_OPTIONS
        .iter()
        .find(|o| o.eq_ignore_ascii_case(raw))
        .map(|o| o.to_string())
        .ok_or_else(|| {
            ApiError::deserialize(
                "AemRunTaskOptions",
                format!(
                    "'{raw}' is not a run option; use one of {}",
                    spec::RUN_OPTIONS.join(", ")
                ),
            )
        })
}

fn cdc_position(ctx: &Ctx) -> ApiResult<Option<String>> {
    if ctx.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let map = parse_json_object(&ctx.body, "AemRunTaskReq")?;
    match map.get("cdcposition") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(ApiError::deserialize(
            "AemRunTaskReq",
            format!("'cdcposition' must be a string, not {other}"),
        )),
    }
}

pub(super) fn transition_delay() -> Duration {
    Duration::from_millis(util::random_between(TRANSITION_MS.0, TRANSITION_MS.1))
}

/// What a timer does when it fires (if the task is still in the run epoch that armed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// STARTING → RUNNING (or ERROR when an endpoint is unreachable).
    Started,
    /// STOPPING → STOPPED.
    Stopped,
    /// RUNNING → STOPPED with FULL_LOAD_ONLY_FINISHED (tasks without apply changes).
    FullLoadFinished,
}

impl Step {
    fn expected_state(self) -> &'static str {
        match self {
            Step::Started => task_state::STARTING,
            Step::Stopped => task_state::STOPPING,
            Step::FullLoadFinished => task_state::RUNNING,
        }
    }
}

/// After `delay`, apply `step` to `server/task` if it is still in run `epoch`.
pub(super) fn schedule(
    state: &Arc<QemState>,
    server: String,
    task: String,
    epoch: u64,
    step: Step,
    delay: Duration,
) {
    let state = Arc::clone(state);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let (changed, follow_up) = {
            let mut inner = state.lock();
            let Some(s) = inner.store.servers.iter_mut().find(|s| s.name == server) else {
                return;
            };
            let failure = unreachable_endpoint(s, &task);
            match s.task_mut(&task) {
                Some(t) if t.epoch == epoch && t.state == step.expected_state() => {
                    let follow_up = advance(t, step, util::unix_now(), failure);
                    (true, follow_up)
                }
                _ => (false, None),
            }
        };
        if changed {
            state.bump();
        }
        if let Some(delay) = follow_up {
            schedule(&state, server, task, epoch, Step::FullLoadFinished, delay);
        }
    });
}

/// The message of a task start failing on an unreachable (`.invalid`) endpoint.
pub(super) fn unreachable_endpoint(server: &Server, task: &str) -> Option<String> {
    let t = server.task(task)?;
    t.endpoint_names().into_iter().find_map(|name| {
        let host = server.endpoint(&name)?.host();
        host.to_ascii_lowercase().contains(".invalid").then(|| {
            format!("Failed to connect to endpoint '{name}': host '{host}' could not be resolved")
        })
    })
}

/// Apply one step; returns the delay of a follow-up FullLoadFinished step, if any.
pub(super) fn advance(
    t: &mut Task,
    step: Step,
    now: i64,
    failure: Option<String>,
) -> Option<Duration> {
    match step {
        Step::Started => {
            let option = t.pending_option.take().unwrap_or_default();
            if let Some(message) = failure {
                t.state = task_state::ERROR.to_string();
                t.stop_reason = "FATAL_ERROR".to_string();
                t.message = message;
                return None;
            }
            t.state = task_state::RUNNING.to_string();
            t.stop_reason = "NONE".to_string();
            t.stats.started_at = Some(now);
            let full_load = t.full_load_enabled()
                && (option == "RELOAD_TARGET"
                    || t.stats.full_load_started_at.is_none()
                    || !t.apply_changes_enabled());
            if full_load {
                t.stats.full_load_started_at = Some(now);
                t.stats.table_reloads.clear();
            }
            (full_load && !t.apply_changes_enabled())
                .then(|| Duration::from_secs(1 + t.tables().len() as u64))
        }
        Step::Stopped => {
            stop_now(t, now, "NORMAL");
            None
        }
        Step::FullLoadFinished => {
            stop_now(t, now, "FULL_LOAD_ONLY_FINISHED");
            None
        }
    }
}

fn stop_now(t: &mut Task, now: i64, reason: &str) {
    if let Some(start) = t.stats.started_at
        && t.apply_changes_enabled()
    {
        let secs = (now - start).max(0) as u64;
        let rate = cdc_rate(&t.name);
        let grow = |base: &mut u64, per_sec: u64| {
            *base = base.saturating_add(secs.saturating_mul(per_sec));
        };
        grow(&mut t.stats.applied_inserts, rate);
        grow(&mut t.stats.applied_updates, rate / 2);
        grow(&mut t.stats.applied_deletes, rate / 5);
    }
    t.stats.started_at = None;
    t.state = task_state::STOPPED.to_string();
    t.stop_reason = reason.to_string();
}

fn current_state(state: &QemState, server: &str, task: &str) -> ApiResult<(String, String)> {
    let inner = state.lock();
    let s = servers::find(&inner.store, server)?;
    let t = find_task(s, task)?;
    Ok((t.state.clone(), t.message.clone()))
}

/// Poll while the task is in the `transient` state and `timeout` has not passed; the last
/// state seen and the task message.
async fn wait_while(
    state: &QemState,
    server: &str,
    task: &str,
    transient: &str,
    timeout: Duration,
) -> ApiResult<(String, String)> {
    let deadline = Instant::now() + timeout;
    loop {
        let current = current_state(state, server, task)?;
        if current.0 != transient || Instant::now() >= deadline {
            return Ok(current);
        }
        tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

pub(super) async fn run(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    let option = run_option(ctx)?;
    let timeout = Duration::from_secs(
        ctx.params
            .uint("timeout", spec::DEFAULT_TIMEOUT_SECS)?
            .min(MAX_WAIT_SECS),
    );
    let position = cdc_position(ctx)?;
    if spec::run_option_needs_position(&option) {
        let Some(pos) = &position else {
            return Err(ApiError::deserialize(
                "AemRunTaskReq",
                format!("option {option} needs a 'cdcposition' in the body"),
            ));
        };
        if option == "RESUME_PROCESSING_FROM_TIMESTAMP" && audit::parse_timestamp(pos).is_none() {
            return Err(ApiError::aem(
                code::INVALID_TIMESTAMP_FORMAT,
                format!("The cdcposition '{pos}' is not a timestamp (yyyy-MM-ddTHH:mm:ss)"),
            ));
        }
    }
    let started = ctx.state.mutate(|inner| {
        let epoch = inner.next_epoch;
        let s = servers::connected_mut(&mut inner.store, server)?;
        if servers::license_expired(s) {
            return Err(ApiError::aem(
                code::SERVER_LICENSE_EXPIRED,
                format!("The license of server '{server}' has expired"),
            ));
        }
        let t = s
            .task_mut(task)
            .ok_or_else(|| ApiError::task_not_found(server, task))?;
        match t.state.as_str() {
            task_state::RUNNING | task_state::STARTING => return Ok(None),
            task_state::STOPPING => {
                return Err(ApiError::aem(
                    code::TASK_NOT_STOPPED,
                    format!("Task '{task}' is stopping; run it when it has stopped"),
                ));
            }
            _ => {}
        }
        t.state = task_state::STARTING.to_string();
        t.stop_reason = "NONE".to_string();
        t.message = String::new();
        t.epoch = epoch;
        t.pending_option = Some(option.clone());
        inner.next_epoch += 1;
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "RunTask",
                server: Some(server),
                task: Some(task),
                endpoint: None,
                details: match &position {
                    Some(p) => format!("option={option} cdcposition={p}"),
                    None => format!("option={option}"),
                },
            },
        );
        Ok(Some(epoch))
    });
    if let Some(epoch) = started? {
        schedule(
            &ctx.state,
            server.to_string(),
            task.to_string(),
            epoch,
            Step::Started,
            transition_delay(),
        );
    }
    let (state, message) =
        wait_while(&ctx.state, server, task, task_state::STARTING, timeout).await?;
    let error_message = if state == task_state::ERROR {
        message
    } else {
        String::new()
    };
    Ok(json_ok(
        &json!({"state": state, "error_message": error_message}),
    ))
}

pub(super) async fn stop(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    let timeout_secs = ctx
        .params
        .uint("timeout", spec::DEFAULT_TIMEOUT_SECS)?
        .min(MAX_WAIT_SECS);
    let stopping = ctx.state.mutate(|inner| {
        let epoch = inner.next_epoch;
        let s = servers::connected_mut(&mut inner.store, server)?;
        let t = s
            .task_mut(task)
            .ok_or_else(|| ApiError::task_not_found(server, task))?;
        match t.state.as_str() {
            task_state::STOPPED | task_state::ERROR => {
                return Err(ApiError::aem(
                    code::TASK_ALREADY_STOPPED,
                    format!("Task '{task}' is already stopped"),
                ));
            }
            task_state::STOPPING => return Ok(None),
            _ => {}
        }
        t.state = task_state::STOPPING.to_string();
        t.epoch = epoch;
        t.pending_option = None;
        inner.next_epoch += 1;
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "StopTask",
                server: Some(server),
                task: Some(task),
                endpoint: None,
                details: String::new(),
            },
        );
        Ok(Some(epoch))
    });
    if let Some(epoch) = stopping? {
        schedule(
            &ctx.state,
            server.to_string(),
            task.to_string(),
            epoch,
            Step::Stopped,
            transition_delay(),
        );
    }
    let (state, _) = wait_while(
        &ctx.state,
        server,
        task,
        task_state::STOPPING,
        Duration::from_secs(timeout_secs),
    )
    .await?;
    if timeout_secs > 0 && state != task_state::STOPPED {
        return Err(ApiError::aem(
            code::STOP_TASK_TIMEOUT,
            format!("Task '{task}' did not stop within {timeout_secs} seconds (it is {state})"),
        ));
    }
    Ok(json_ok(&json!({"state": state, "error_message": ""})))
}

pub(super) fn get_retention_barrier(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    let inner = ctx.state.lock();
    let s = servers::connected(&inner.store, server)?;
    let t = find_task(s, task)?;
    let body = match &t.retention_barrier {
        Some(b) => json!({"application": b.application, "retention_point": b.retention_point}),
        None => json!({"application": "", "retention_point": ""}),
    };
    drop(inner);
    Ok(json_ok(&body))
}

pub(super) fn set_retention_barrier(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    const T: &str = "AemSetChangeDataRetentionBarrierReq";
    let map = parse_json_object(&ctx.body, T)?;
    let text = |k: &str| -> ApiResult<String> {
        match map.get(k) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.trim().to_string()),
            Some(other) => Err(ApiError::deserialize(
                T,
                format!("'{k}' must be a string, not {other}"),
            )),
        }
    };
    let point = text("retention_point")?;
    let application = text("application")?;
    if !point.is_empty() && audit::parse_timestamp(&point).is_none() {
        return Err(ApiError::aem(
            code::INVALID_TIMESTAMP_FORMAT,
            format!("The retention_point '{point}' is not yyyy-MM-ddTHH:mm:ssZ"),
        ));
    }
    ctx.state.mutate(|inner| {
        let s = servers::connected_mut(&mut inner.store, server)?;
        let t = s
            .task_mut(task)
            .ok_or_else(|| ApiError::task_not_found(server, task))?;
        t.retention_barrier = if point.is_empty() {
            None
        } else {
            Some(RetentionBarrier {
                application: application.clone(),
                retention_point: point.clone(),
            })
        };
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "SetChangeDataRetentionBarrier",
                server: Some(server),
                task: Some(task),
                endpoint: None,
                details: format!("application={application} retention_point={point}"),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

pub(super) fn delete_old_change_data(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    const T: &str = "AemDeleteOldChangeDataReq";
    let map = parse_json_object(&ctx.body, T)?;
    let point = match map.get("timestamp_or_offset") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ApiError::deserialize(
                T,
                "'timestamp_or_offset' (a timestamp or an offset) is required",
            ));
        }
    };
    let is_offset = point.bytes().all(|b| b.is_ascii_digit());
    if !is_offset && audit::parse_timestamp(&point).is_none() {
        return Err(ApiError::aem(
            code::INVALID_TIMESTAMP_FORMAT,
            format!("'{point}' is neither a timestamp nor an offset"),
        ));
    }
    ctx.state.mutate(|inner| {
        let s = servers::connected_mut(&mut inner.store, server)?;
        let t = s
            .task_mut(task)
            .ok_or_else(|| ApiError::task_not_found(server, task))?;
        t.stats.change_data_deleted_before = Some(point.clone());
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "DeleteOldChangeData",
                server: Some(server),
                task: Some(task),
                endpoint: None,
                details: format!("timestamp_or_offset={point}"),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

//! Reload tasks: create/update bundles with their triggers, start/stop, and the execution
//! engine (execution session while running, execution result, `operational.lastExecutionResult`,
//! composite-event chains).
//!
//! A run lasts 1–2 s by default ([`QrsState::set_run_duration`]). It fails (FinishedFail, with an
//! error detail) when the task name contains `[fail]`, when the task has a tag named
//! `sandbox-fail` or a custom property whose definition is named `sandbox-fail`, or when its app
//! no longer exists.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::render::{Renderer, project};
use super::routes::{
    Ctx, bad_request, create_in, json_response, no_content, not_found, respond_entity, update_in,
};
use super::store::{self, Store, now_ms, parse_date_ms};
use super::types::{self, TypeDef, type_def};
use super::{QrsState, Run};
use crate::identity::Identity;
use crate::qrs::spec::{self, task_status};

/// The marker that makes a task fail (in its name, or as a tag / custom property name).
pub const FAIL_MARKER: &str = "sandbox-fail";
pub const FAIL_NAME_MARKER: &str = "[fail]";

fn td(name: &str) -> &'static TypeDef {
    // Only called with names from the static type table.
    type_def(name).unwrap_or(&types::TYPES[0])
}

/// Server-filled parts of new entities: operational objects of tasks and triggers.
pub fn on_create(s: &mut Store, td: &TypeDef, e: &mut Map<String, Value>) {
    match td.name {
        "reloadtask" => {
            e.insert(
                "operational".into(),
                json!({
                    "id": store::new_id(), "privileges": null,
                    "lastExecutionResult": never_result(), "nextExecution": spec::NEVER_DATE,
                }),
            );
        }
        "schemaevent" | "compositeevent" => {
            e.insert(
                "eventType".into(),
                json!(if td.name == "schemaevent" { 0 } else { 1 }),
            );
            let mut op = json!({"id": store::new_id(), "privileges": null, "timesTriggered": 0});
            if td.name == "schemaevent" {
                op["nextExecution"] = json!(next_execution(e));
            }
            e.insert("operational".into(), op);
        }
        _ => {}
    }
    let _ = s;
}

/// After an update: a schema trigger's next run follows its (possibly new) schedule.
pub fn on_update(td: &TypeDef, e: &mut Map<String, Value>) {
    if td.name == "schemaevent" {
        let next = next_execution(e);
        if let Some(Value::Object(op)) = e.get_mut("operational") {
            op.insert("nextExecution".into(), json!(next));
        }
    }
}

/// The condensed result of a task that never ran.
fn never_result() -> Value {
    json!({
        "id": store::new_id(), "privileges": null, "executingNodeName": "",
        "status": task_status::NEVER_STARTED, "startTime": spec::NEVER_DATE,
        "stopTime": spec::NEVER_DATE, "duration": 0, "fileReferenceID": spec::EMPTY_GUID,
        "scriptLogAvailable": false, "details": [], "scriptLogLocation": "", "scriptLogSize": 0,
    })
}

/// Next run of a schema trigger: the first start + n·interval in the future (hourly, daily,
/// weekly; custom/monthly/once approximate to the start date when it is ahead).
fn next_execution(e: &Map<String, Value>) -> String {
    let start = e
        .get("startDate")
        .and_then(Value::as_str)
        .and_then(parse_date_ms);
    let Some(start) = start else {
        return spec::NEVER_DATE.into();
    };
    let step: i128 = match e.get("incrementOption").and_then(Value::as_i64) {
        Some(1) => 3_600_000,
        Some(2) => 86_400_000,
        Some(3) => 7 * 86_400_000,
        _ => 0,
    };
    let now = now_ms();
    if start >= now {
        return store::format_ms(start);
    }
    if step == 0 {
        return spec::NEVER_DATE.into();
    }
    let n = (now - start) / step + 1;
    let next = start + n * step;
    let expires = e
        .get("expirationDate")
        .and_then(Value::as_str)
        .and_then(parse_date_ms);
    if expires.is_some_and(|x| next > x) {
        return spec::NEVER_DATE.into();
    }
    store::format_ms(next)
}

/// Start the scheduler (once per state): every second it starts the tasks of enabled schema
/// triggers whose `operational.nextExecution` has come, and moves that date on.
pub fn ensure_scheduler(st: &Arc<QrsState>) {
    if st
        .scheduler_started
        .swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        return;
    }
    let weak = Arc::downgrade(st);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let Some(st) = weak.upgrade() else { break };
            fire_due_schema_events(&st);
        }
    });
}

fn fire_due_schema_events(st: &Arc<QrsState>) {
    let now = now_ms();
    let due: Vec<String> = st
        .read()
        .all("schemaevent")
        .into_iter()
        .filter(|e| e.get("enabled").and_then(Value::as_bool) != Some(false))
        .filter(|e| {
            e.get("operational")
                .and_then(|o| o.get("nextExecution"))
                .and_then(Value::as_str)
                .filter(|d| *d != spec::NEVER_DATE)
                .and_then(parse_date_ms)
                .is_some_and(|d| d <= now)
        })
        .filter_map(|e| e.get("id").and_then(Value::as_str).map(str::to_string))
        .collect();
    if due.is_empty() {
        return;
    }
    let mut to_start = Vec::new();
    st.mutate(|s| {
        for id in &due {
            let Some(mut e) = s.get("schemaevent", id) else {
                continue;
            };
            let next = next_execution(&e);
            if let Some(Value::Object(op)) = e.get_mut("operational") {
                let n = op
                    .get("timesTriggered")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                op.insert("timesTriggered".into(), json!(n + 1));
                op.insert("nextExecution".into(), json!(next));
            }
            s.put("schemaevent", &e);
            to_start.extend(store::ref_ids(&e, "reloadTask"));
        }
    });
    for t in to_start {
        let _ = start_task(st, &t, "INTERNAL\\sa_scheduler");
    }
}

// ---------------------------------------------------------------------------------------------
// create / update bundles

fn objects(v: Option<&Value>) -> Result<Vec<Map<String, Value>>, Response> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::Object(m) => Ok(m.clone()),
                _ => Err(bad_request("Triggers must be JSON objects")),
            })
            .collect(),
        Some(_) => Err(bad_request("Triggers must be a JSON array")),
    }
}

fn ids(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    x.as_str()
                        .or_else(|| x.get("id").and_then(Value::as_str))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Attach `event` to `task_id` and create or overwrite it.
fn put_event(
    s: &mut Store,
    ty: &'static str,
    mut event: Map<String, Value>,
    task_id: &str,
    identity: &Identity,
) -> Result<(), Response> {
    event.insert("reloadTask".into(), json!({ "id": task_id }));
    let existing = event
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| s.contains(ty, id))
        .map(str::to_string);
    match existing {
        Some(id) => {
            if let Some(stored) = s.get(ty, &id) {
                let mut e = s.updated_entity(td(ty), &stored, &event, &identity.display_name());
                on_update(td(ty), &mut e);
                s.put(ty, &e);
            }
            Ok(())
        }
        None => create_in(s, td(ty), &event, identity).map(|_| ()),
    }
}

pub async fn create_bundle(mut ctx: Ctx) -> Response {
    let body = match ctx.json_object().await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(Value::Object(task)) = body.get("task") else {
        return bad_request("ReloadTaskBundle task is required");
    };
    let (schema, composite) = match (
        objects(body.get("schemaEvents")),
        objects(body.get("compositeEvents")),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let identity = ctx.identity.clone();
    let r = ctx.st.mutate(|s| {
        let task_id = create_in(s, td("reloadtask"), task, &identity)?;
        let mut result = Ok(());
        for ev in schema {
            result = result.and_then(|()| put_event(s, "schemaevent", ev, &task_id, &identity));
        }
        for ev in composite {
            result = result.and_then(|()| put_event(s, "compositeevent", ev, &task_id, &identity));
        }
        match result {
            Ok(()) => Ok(task_id),
            Err(r) => {
                super::routes::cascade_delete(s, "reloadtask", &task_id);
                Err(r)
            }
        }
    });
    match r {
        Ok(id) => respond_entity(&ctx, StatusCode::CREATED, "reloadtask", &id),
        Err(r) => r,
    }
}

pub async fn update_bundle(mut ctx: Ctx) -> Response {
    let body = match ctx.json_object().await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(Value::Object(task)) = body.get("task") else {
        return bad_request("ReloadTaskChange task is required");
    };
    let Some(task_id) = task.get("id").and_then(Value::as_str).map(str::to_string) else {
        return bad_request("ReloadTaskChange task.id is required");
    };
    let (schema, composite) = match (
        objects(body.get("schemaEvents")),
        objects(body.get("compositeEvents")),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let del_schema = ids(body.get("schemaEventsToDelete"));
    let del_composite = ids(body.get("compositeEventsToDelete"));
    let identity = ctx.identity.clone();
    let r = ctx.st.mutate(|s| {
        update_in(s, td("reloadtask"), &task_id, task, &identity)?;
        for id in &del_schema {
            s.remove("schemaevent", id);
        }
        for id in &del_composite {
            s.remove("compositeevent", id);
        }
        for ev in schema {
            put_event(s, "schemaevent", ev, &task_id, &identity)?;
        }
        for ev in composite {
            put_event(s, "compositeevent", ev, &task_id, &identity)?;
        }
        Ok::<(), Response>(())
    });
    match r {
        Ok(()) => respond_entity(&ctx, StatusCode::CREATED, "reloadtask", &task_id),
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// start / stop

/// Start a task. `Ok(None)` when it cannot start (disabled); the session id otherwise (the
/// running one when it is already running).
pub fn start_task(st: &Arc<QrsState>, task_id: &str, by: &str) -> Result<Option<String>, Response> {
    let task_id = task_id.to_ascii_lowercase();
    let (task, fail) = {
        let s = st.read();
        let Some(task) = s.get("reloadtask", &task_id) else {
            return Err(not_found("ReloadTask", &task_id));
        };
        let full = Renderer::new(&s).render(td("reloadtask"), task.clone(), false, false);
        (task, failure_reason(&s, &full))
    };
    if task.get("enabled").and_then(Value::as_bool) == Some(false) {
        return Ok(None);
    }
    let mut runs = st.runs();
    if let Some(run) = runs.get(&task_id) {
        return Ok(Some(run.session_id.clone()));
    }
    let session_id = store::new_id();
    let app_id = store::ref_ids(&task, "app").into_iter().next();
    let max_retries = task
        .get("maxRetries")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(10);
    let job = Job {
        st: st.clone(),
        task_id: task_id.clone(),
        session_id: session_id.clone(),
        app_id,
        by: by.to_string(),
        fail,
        max_retries,
    };
    let result_id = st.mutate(|s| {
        let now = s.now();
        let result_id = job.new_result(s, &now);
        let mut session = types::defaults("executionsession");
        let fields = json!({
            "id": job.session_id, "createdDate": now, "modifiedDate": now,
            "modifiedByUserName": by, "executingNode": {"id": st.node_id(), "privileges": null},
            "executionResult": {"id": result_id},
            "app": job.app_id.as_ref().map(|a| json!({"id": a})),
            "user": by, "reloadTask": {"id": job.task_id},
        });
        if let Value::Object(f) = fields {
            session.extend(f);
        }
        s.put("executionsession", &session);
        result_id
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    runs.insert(
        task_id.clone(),
        Run {
            session_id: session_id.clone(),
            stop: Some(stop_tx),
        },
    );
    drop(runs);
    tokio::spawn(job.run(result_id, stop_rx));
    Ok(Some(session_id))
}

fn detail(kind: i64, message: &str, at: &str) -> Value {
    json!({
        "id": store::new_id(), "privileges": null, "detailsType": kind, "message": message,
        "detailCreatedDate": at,
    })
}

/// Why the task must fail, if it must.
fn failure_reason(s: &Store, full: &Value) -> Option<String> {
    let name = full["name"].as_str().unwrap_or_default();
    if name.to_ascii_lowercase().contains(FAIL_NAME_MARKER) {
        return Some(format!("The task name contains {FAIL_NAME_MARKER}"));
    }
    let tag = |v: &Value| {
        v["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(FAIL_MARKER))
    };
    if full["tags"].as_array().is_some_and(|t| t.iter().any(tag)) {
        return Some(format!("The task has the tag {FAIL_MARKER}"));
    }
    let cp = |v: &Value| {
        v["definition"]["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(FAIL_MARKER))
    };
    if full["customProperties"]
        .as_array()
        .is_some_and(|c| c.iter().any(cp))
    {
        return Some(format!("The task has the custom property {FAIL_MARKER}"));
    }
    let app = full["app"]["id"].as_str().unwrap_or_default();
    if app.is_empty() || !s.contains("app", app) {
        return Some("The app of the task does not exist".into());
    }
    None
}

/// Put the condensed result into the task's `operational.lastExecutionResult` (the task's own
/// `modifiedDate` stays: operational data is a separate entity in QRS).
pub(crate) fn set_last_result(s: &mut Store, task_id: &str, result: &Map<String, Value>) {
    let Some(mut task) = s.get("reloadtask", task_id) else {
        return;
    };
    let fields = types::condensed_fields(td("executionresult"));
    let mut c = project(result, fields);
    c.insert("privileges".into(), Value::Null);
    let mut op = match task.get("operational") {
        Some(Value::Object(o)) => o.clone(),
        _ => Map::new(),
    };
    op.entry("id").or_insert(json!(store::new_id()));
    op.entry("privileges").or_insert(Value::Null);
    op.insert("lastExecutionResult".into(), Value::Object(c));
    op.entry("nextExecution").or_insert(json!(spec::NEVER_DATE));
    task.insert("operational".into(), Value::Object(op));
    s.put("reloadtask", &task);
}

fn push_detail(r: &mut Map<String, Value>, kind: i64, msg: &str, at: &str) {
    if let Some(Value::Array(d)) = r.get_mut("details") {
        d.push(detail(kind, msg, at));
    }
}

/// One execution of a task (with its retries).
struct Job {
    st: Arc<QrsState>,
    task_id: String,
    session_id: String,
    app_id: Option<String>,
    by: String,
    fail: Option<String>,
    max_retries: u64,
}

impl Job {
    /// A new execution result (status Triggered) for this execution; returns its id.
    fn new_result(&self, s: &mut Store, now: &str) -> String {
        let result_id = store::new_id();
        let mut result = types::defaults("executionresult");
        let fields = json!({
            "id": result_id, "createdDate": now, "modifiedDate": now,
            "modifiedByUserName": self.by, "taskID": self.task_id, "executionID": self.session_id,
            "appID": self.app_id.clone().unwrap_or_else(|| spec::EMPTY_GUID.into()),
            "executingNodeID": self.st.node_id(), "executingNodeName": super::seed::NODE_NAME,
            "status": task_status::TRIGGERED, "startTime": now,
            "details": [detail(2, "Changing task state from NeverStarted to Triggered", now)],
        });
        if let Value::Object(f) = fields {
            result.extend(f);
        }
        s.put("executionresult", &result);
        set_last_result(s, &self.task_id, &result);
        result_id
    }

    fn update_result(&self, result_id: &str, f: impl FnOnce(&mut Map<String, Value>, &str)) {
        self.st.mutate(|s| {
            let Some(mut r) = s.get("executionresult", result_id) else {
                return;
            };
            let now = s.now();
            f(&mut r, &now);
            r.insert("modifiedDate".into(), json!(now));
            s.put("executionresult", &r);
            set_last_result(s, &self.task_id, &r);
        });
    }

    /// End a result with `status`.
    fn finish_result(&self, result_id: &str, status: i64, msg: &str) {
        self.update_result(result_id, |r, now| {
            let start = r
                .get("startTime")
                .and_then(Value::as_str)
                .and_then(parse_date_ms)
                .unwrap_or_else(now_ms);
            let stop_ms = parse_date_ms(now).unwrap_or_else(now_ms);
            r.insert("status".into(), json!(status));
            r.insert("stopTime".into(), json!(now));
            r.insert("duration".into(), json!((stop_ms - start).max(0) as i64));
            let kind = if status == task_status::FINISHED_SUCCESS {
                2
            } else {
                0
            };
            push_detail(r, kind, msg, now);
            super::scriptlog::attach_log(r);
        });
    }

    /// Length of one attempt in milliseconds.
    fn attempt_ms(&self) -> u64 {
        let (min, max) = self.st.run_ms();
        let span = max.saturating_sub(min);
        let jitter = if span == 0 {
            0
        } else {
            (uuid::Uuid::new_v4().as_u128() as u64) % (span + 1)
        };
        min + jitter
    }

    async fn run(self, first_result: String, mut stop: tokio::sync::oneshot::Receiver<()>) {
        let mut result_id = first_result;
        let mut attempt = 0u64;
        let status = loop {
            let total_ms = self.attempt_ms();
            let started_after = (total_ms / 5).min(200);
            let mut stopped = tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(started_after)) => false,
                _ = &mut stop => true,
            };
            if !stopped {
                self.update_result(&result_id, |r, now| {
                    r.insert("status".into(), json!(task_status::STARTED));
                    push_detail(r, 2, "Changing task state from Triggered to Started", now);
                });
                stopped = tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(total_ms - started_after)) => false,
                    _ = &mut stop => true,
                };
            }
            if stopped {
                self.finish_result(
                    &result_id,
                    task_status::ABORTED,
                    "Task was aborted by a user",
                );
                break task_status::ABORTED;
            }
            let Some(reason) = &self.fail else {
                self.finish_result(
                    &result_id,
                    task_status::FINISHED_SUCCESS,
                    "Changing task state from Started to FinishedSuccess",
                );
                break task_status::FINISHED_SUCCESS;
            };
            let msg = format!("Task finished with error: {reason}");
            self.finish_result(&result_id, task_status::FINISHED_FAIL, &msg);
            if attempt >= self.max_retries {
                break task_status::FINISHED_FAIL;
            }
            // Retry: a new result for the same execution, the session points at it.
            attempt += 1;
            result_id = self.st.mutate(|s| {
                let now = s.now();
                let rid = self.new_result(s, &now);
                if let Some(mut sess) = s.get("executionsession", &self.session_id) {
                    sess.insert("executionResult".into(), json!({ "id": rid }));
                    sess.insert("retries".into(), json!(attempt));
                    sess.insert("modifiedDate".into(), json!(now));
                    s.put("executionsession", &sess);
                }
                rid
            });
        };
        self.st.mutate(|s| {
            s.remove("executionsession", &self.session_id);
            if status == task_status::FINISHED_SUCCESS
                && let Some(app_id) = &self.app_id
                && let Some(mut app) = s.get("app", app_id)
            {
                let now = s.now();
                app.insert("lastReloadTime".into(), json!(now));
                s.put("app", &app);
            }
        });
        self.st.runs().remove(&self.task_id);
        if status == task_status::FINISHED_SUCCESS || status == task_status::FINISHED_FAIL {
            fire_composite_events(&self.st, &self.task_id);
        }
    }
}

/// Start the tasks of composite events whose rules are all met now that `task_id` finished.
fn fire_composite_events(st: &Arc<QrsState>, task_id: &str) {
    let mut to_start = Vec::new();
    st.mutate(|s| {
        for mut ev in s.all("compositeevent") {
            if ev.get("enabled").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            let rules: Vec<Value> = ev
                .get("compositeRules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let involved = rules
                .iter()
                .any(|r| r["reloadTask"]["id"].as_str() == Some(task_id));
            if !involved || rules.is_empty() {
                continue;
            }
            let all_met = rules.iter().all(|r| {
                let want = match r["ruleState"].as_i64() {
                    Some(1) => task_status::FINISHED_SUCCESS,
                    Some(2) => task_status::FINISHED_FAIL,
                    _ => return false,
                };
                let Some(t) = r["reloadTask"]["id"]
                    .as_str()
                    .and_then(|id| s.get("reloadtask", id))
                else {
                    return false;
                };
                t.get("operational")
                    .and_then(|o| o.get("lastExecutionResult"))
                    .and_then(|l| l.get("status"))
                    .and_then(Value::as_i64)
                    == Some(want)
            });
            if !all_met {
                continue;
            }
            if let Some(target) = store::ref_ids(&ev, "reloadTask").into_iter().next() {
                to_start.push(target);
            }
            if let Some(Value::Object(op)) = ev.get_mut("operational") {
                let n = op
                    .get("timesTriggered")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                op.insert("timesTriggered".into(), json!(n + 1));
                s.put("compositeevent", &ev);
            }
        }
    });
    for t in to_start {
        let _ = start_task(st, &t, "INTERNAL\\sa_scheduler");
    }
}

/// Ask a running task to stop; false when it is not running.
pub fn stop_task(st: &QrsState, task_id: &str) -> bool {
    let mut runs = st.runs();
    match runs
        .get_mut(&task_id.to_ascii_lowercase())
        .and_then(|r| r.stop.take())
    {
        Some(tx) => {
            let _ = tx.send(());
            true
        }
        None => false,
    }
}

/// `201 {"value": "<session id>"}`. The spec says the body is a bare GUID string, but real QRS
/// wraps it like `/count`: clients read `.value` (Qlik's own reload-metrics `result.body.value`,
/// qlik-sense extensions `resp.data.value`, .NET `taskstartresult`). The empty GUID means the
/// task did not start (disabled).
fn session_response(session: Option<String>) -> Response {
    let id = session.unwrap_or_else(|| spec::EMPTY_GUID.to_string());
    json_response(StatusCode::CREATED, &json!({ spec::VALUE_FIELD: id }))
}

pub fn start_by_id(ctx: &Ctx, synchronous: bool) -> Response {
    match start_task(&ctx.st, &ctx.param("id"), &ctx.by()) {
        Ok(session) if synchronous => session_response(session),
        Ok(_) => no_content(),
        Err(r) => r,
    }
}

pub fn start_by_name(ctx: &Ctx, synchronous: bool) -> Response {
    let Some(name) = ctx.q("name").filter(|n| !n.is_empty()) else {
        return bad_request("Missing parameter value(s)");
    };
    let id = ctx
        .st
        .read()
        .all("reloadtask")
        .into_iter()
        .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|t| t.get("id").and_then(Value::as_str).map(str::to_string));
    let Some(id) = id else {
        return super::routes::text(
            StatusCode::NOT_FOUND,
            format!("Cannot find a task named '{name}'"),
        );
    };
    match start_task(&ctx.st, &id, &ctx.by()) {
        Ok(session) if synchronous => session_response(session),
        Ok(_) => no_content(),
        Err(r) => r,
    }
}

async fn id_list(ctx: &mut Ctx) -> Result<Vec<String>, Response> {
    match ctx.json().await? {
        Value::Array(a) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .filter(|s| uuid::Uuid::parse_str(s).is_ok())
                    .map(str::to_string)
                    .ok_or_else(|| bad_request("The request body must be an array of task ids"))
            })
            .collect(),
        _ => Err(bad_request("The request body must be an array of task ids")),
    }
}

pub async fn start_many(mut ctx: Ctx) -> Response {
    let ids = match id_list(&mut ctx).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    {
        let s = ctx.st.read();
        if let Some(missing) = ids.iter().find(|id| !s.contains("reloadtask", id)) {
            return not_found("ReloadTask", missing);
        }
    }
    for id in ids {
        if let Err(r) = start_task(&ctx.st, &id, &ctx.by()) {
            return r;
        }
    }
    no_content()
}

pub fn stop_by_id(ctx: &Ctx) -> Response {
    let id = ctx.param("id");
    if !ctx.st.read().contains("reloadtask", &id) {
        return not_found("ReloadTask", &id);
    }
    stop_task(&ctx.st, &id);
    no_content()
}

pub async fn stop_many(mut ctx: Ctx) -> Response {
    let ids = match id_list(&mut ctx).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    for id in ids {
        stop_task(&ctx.st, &id);
    }
    no_content()
}

//! Reload script logs: a finished execution result (not aborted) has a log, named by its
//! `fileReferenceID`. A client asks for a download ticket, then downloads the text once:
//!
//! - `GET /qrs/reloadtask/{id}/scriptlog?filereferenceid=<ExecutionResult.fileReferenceID>`
//!   (deprecated in the spec) or
//!   `GET /qrs/reloadtask/{id}/scriptlogfile?executionresultid=<ExecutionResult.id>`:
//!   `200 {"value": "<ticket>"}` (the spec says a bare GUID; Butler reads `body.value`, and a
//!   .NET client cuts the GUID out of `{"value":"…"}`);
//! - `GET /qrs/download/reloadtask/{ticket}/{any file name}`: the log text.
//!
//! The text is made from the stored result (times, node, details), so its length is known when
//! the result ends (`scriptLogSize`) and a restart serves the same log.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::routes::{Ctx, bad_request, json_response, text};
use super::store::{self, parse_date_ms};
use crate::qrs::spec::{self, task_status};

/// Whether a result's execution has a script log.
fn has_log(r: &Map<String, Value>) -> bool {
    r.get("scriptLogAvailable").and_then(Value::as_bool) == Some(true)
        && r.get("fileReferenceID")
            .and_then(Value::as_str)
            .is_some_and(|f| f != spec::EMPTY_GUID && !f.is_empty())
}

/// `20261129T101500.123+0000`, the time stamp of a script log line.
fn log_time(date: Option<&Value>) -> String {
    let ms = date
        .and_then(Value::as_str)
        .and_then(parse_date_ms)
        .unwrap_or(0);
    let iso = store::format_ms(ms);
    // 2026-11-29T10:15:00.123Z -> 20261129T101500.123+0000
    let compact: String = iso
        .trim_end_matches('Z')
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{compact}+0000")
}

/// The log of a finished result.
pub fn log_text(r: &Map<String, Value>) -> String {
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
    let start = log_time(r.get("startTime"));
    let stop = log_time(r.get("stopTime"));
    let mut out = String::new();
    out.push_str(&format!("{start} Execution started.\r\n"));
    out.push_str(&format!(
        "{start} Qlik Sense Server Version 14.113.4 (qtool sandbox)\r\n"
    ));
    out.push_str(&format!(
        "{start} Server Time Zone: Coordinated Universal Time\r\n"
    ));
    out.push_str(&format!(
        "{start} Reload Executed By INTERNAL\\sa_scheduler on {}\r\n",
        s("executingNodeName")
    ));
    out.push_str(&format!(
        "{start} Process ID: task {} app {}\r\n",
        s("taskID"),
        s("appID")
    ));
    for d in r
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let message = d.get("message").and_then(Value::as_str).unwrap_or_default();
        out.push_str(&format!(
            "{} {message}\r\n",
            log_time(d.get("detailCreatedDate"))
        ));
    }
    let status = r.get("status").and_then(Value::as_i64).unwrap_or(0);
    let end = if status == task_status::FINISHED_SUCCESS {
        "Execution finished."
    } else {
        "Execution Failed"
    };
    out.push_str(&format!("{stop} {end}\r\n"));
    out
}

/// Give a finished result its log: `scriptLogAvailable`, `fileReferenceID`,
/// `scriptLogLocation`, `scriptLogSize`. An aborted run has none.
pub fn attach_log(r: &mut Map<String, Value>) {
    let status = r.get("status").and_then(Value::as_i64).unwrap_or(0);
    if status == task_status::ABORTED || !task_status::is_final(status) {
        r.insert("scriptLogAvailable".into(), json!(false));
        return;
    }
    if !has_log(r) {
        r.insert("fileReferenceID".into(), json!(store::new_id()));
    }
    r.insert("scriptLogAvailable".into(), json!(true));
    let app = r.get("appID").and_then(Value::as_str).unwrap_or_default();
    let node = r
        .get("executingNodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let stamp: String = log_time(r.get("startTime")).chars().take(15).collect();
    r.insert(
        "scriptLogLocation".into(),
        json!(format!("{node}\\Script\\{app}.{stamp}.log")),
    );
    let size = log_text(r).len();
    r.insert("scriptLogSize".into(), json!(size));
}

/// A new one-time download ticket for result `result_id`.
fn ticket(ctx: &Ctx, result_id: String) -> Response {
    let ticket = store::new_id();
    ctx.st.log_tickets().insert(ticket.clone(), result_id);
    json_response(StatusCode::OK, &json!({ spec::VALUE_FIELD: ticket }))
}

/// The result of task `task` matching `pick`, with a log; `Err` is the 400/404 to answer.
fn find_result(
    ctx: &Ctx,
    param: &str,
    pick: impl Fn(&Map<String, Value>, &str) -> bool,
) -> Result<String, Response> {
    let task = ctx.param("id").to_ascii_lowercase();
    let Some(wanted) = ctx.q(param).map(str::trim).filter(|v| !v.is_empty()) else {
        return Err(bad_request(format!("Missing parameter value(s): {param}")));
    };
    if uuid::Uuid::parse_str(wanted).is_err() {
        return Err(bad_request(format!(
            "The value '{wanted}' of parameter '{param}' is not a GUID"
        )));
    }
    let s = ctx.st.read();
    if !s.contains("reloadtask", &task) {
        return Err(super::routes::not_found("ReloadTask", &task));
    }
    let found = s.all("executionresult").into_iter().find(|r| {
        r.get("taskID")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case(&task))
            && pick(r, wanted)
    });
    match found {
        Some(r) if has_log(&r) => Ok(r
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()),
        Some(_) => Err(text(
            StatusCode::NOT_FOUND,
            format!("The execution {wanted} of task {task} has no script log"),
        )),
        None => Err(text(
            StatusCode::NOT_FOUND,
            format!("Cannot find a script log {wanted} of task {task}"),
        )),
    }
}

fn same(r: &Map<String, Value>, field: &str, wanted: &str) -> bool {
    r.get(field)
        .and_then(Value::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
}

pub fn ticket_by_file_reference(ctx: &Ctx) -> Response {
    match find_result(ctx, "filereferenceid", |r, w| same(r, "fileReferenceID", w)) {
        Ok(id) => ticket(ctx, id),
        Err(r) => r,
    }
}

pub fn ticket_by_result(ctx: &Ctx) -> Response {
    match find_result(ctx, "executionresultid", |r, w| same(r, "id", w)) {
        Ok(id) => ticket(ctx, id),
        Err(r) => r,
    }
}

/// `GET /qrs/download/reloadtask/{ticket}/{name}`: the log, once per ticket.
pub fn download(ctx: &Ctx) -> Response {
    let ticket = ctx.param("ticket").to_ascii_lowercase();
    let Some(result_id) = ctx.st.log_tickets().remove(&ticket) else {
        return text(
            StatusCode::NOT_FOUND,
            format!("Cannot find a download with ticket '{ticket}'"),
        );
    };
    let Some(r) = ctx.st.read().get("executionresult", &result_id) else {
        return text(
            StatusCode::NOT_FOUND,
            "The execution result no longer exists",
        );
    };
    let mut resp = Response::new(Body::from(log_text(&r)));
    // The spec's `produces` for this download.
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/unknown"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_size_matches_the_text() {
        let mut r = Map::new();
        for (k, v) in [
            ("status", json!(7)),
            ("startTime", json!("2026-11-29T10:15:00.123Z")),
            ("stopTime", json!("2026-11-29T10:15:02.000Z")),
            ("appID", json!("a")),
            ("taskID", json!("t")),
            ("executingNodeName", json!("Central")),
            ("fileReferenceID", json!(spec::EMPTY_GUID)),
            (
                "details",
                json!([{"message": "Changing task state", "detailCreatedDate": "2026-11-29T10:15:01.000Z"}]),
            ),
        ] {
            r.insert(k.into(), v);
        }
        attach_log(&mut r);
        assert!(has_log(&r));
        let text = log_text(&r);
        assert_eq!(r["scriptLogSize"], json!(text.len()));
        assert!(
            text.starts_with("20261129T101500.123+0000 Execution started.\r\n"),
            "{text}"
        );
        assert!(text.ends_with("20261129T101502.000+0000 Execution finished.\r\n"));
        r.insert("status".into(), json!(task_status::ABORTED));
        attach_log(&mut r);
        assert_eq!(r["scriptLogAvailable"], json!(false));
    }
}

//! The audit trail: one record per mutating call, exported by
//! `GET /security/audit_trail?start_timestamp=..[&end_timestamp=..]` (§5.10).
//!
//! GAP: the export's shape is undocumented ("JSON stream"). The sandbox answers
//! `{"audit_trail":[{timestamp, user, operation, server, task, endpoint, details}]}`, oldest
//! first, with `timestamp` in QEM's ISO form. Timestamps accept `yyyy-MM-ddTHH:mm:ss` with an
//! optional fraction and `Z`, or .NET ticks; `end_timestamp` defaults to now; end before start
//! is `AEM_EXPORT_INNER_ERR` (AUDIT-E-INVRANGE).

use axum::response::Response;
use serde_json::{Value, json};
use time::PrimitiveDateTime;
use time::macros::format_description;

use super::api::{ApiError, ApiResult, json_ok};
use super::model::{AuditRecord, Store};
use super::routes::Ctx;
use super::util;
use crate::qem::spec::code;

/// Keep the trail bounded (oldest records drop first).
const MAX_RECORDS: usize = 100_000;
/// .NET ticks at the Unix epoch.
const TICKS_AT_UNIX_EPOCH: i64 = 621_355_968_000_000_000;

pub(super) struct Entry<'a> {
    pub operation: &'a str,
    pub server: Option<&'a str>,
    pub task: Option<&'a str>,
    pub endpoint: Option<&'a str>,
    pub details: String,
}

pub(super) fn record(store: &mut Store, user: &str, entry: Entry<'_>) {
    let now = util::now();
    store.audit.push(AuditRecord {
        timestamp: util::iso(now),
        unix: now.unix_timestamp(),
        user: user.to_string(),
        operation: entry.operation.to_string(),
        server: entry.server.map(str::to_string),
        task: entry.task.map(str::to_string),
        endpoint: entry.endpoint.map(str::to_string),
        details: entry.details,
    });
    if store.audit.len() > MAX_RECORDS {
        let excess = store.audit.len() - MAX_RECORDS;
        store.audit.drain(..excess);
    }
}

/// Parse an audit timestamp into Unix seconds.
pub(super) fn parse_timestamp(text: &str) -> Option<i64> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let ticks: i64 = t.parse().ok()?;
        return Some((ticks - TICKS_AT_UNIX_EPOCH).div_euclid(10_000_000));
    }
    let t = t.strip_suffix('Z').unwrap_or(t);
    let with_fraction =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
    let plain = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let date_only = format_description!("[year]-[month]-[day]");
    PrimitiveDateTime::parse(t, plain)
        .or_else(|_| PrimitiveDateTime::parse(t, with_fraction))
        .map(|p| p.assume_utc().unix_timestamp())
        .ok()
        .or_else(|| {
            time::Date::parse(t, date_only)
                .ok()
                .map(|d| d.midnight().assume_utc().unix_timestamp())
        })
}

fn bad_timestamp(name: &str, value: &str) -> ApiError {
    ApiError::aem(
        code::INVALID_TIMESTAMP_FORMAT,
        format!(
            "The {name} '{value}' is not a valid timestamp; use yyyy-MM-ddTHH:mm:ssZ or .NET ticks"
        ),
    )
}

pub(super) fn export(ctx: &Ctx) -> ApiResult<Response> {
    let start_text = ctx.params.get("start_timestamp").unwrap_or_default();
    if start_text.trim().is_empty() {
        return Err(bad_timestamp("start_timestamp", start_text));
    }
    let start =
        parse_timestamp(start_text).ok_or_else(|| bad_timestamp("start_timestamp", start_text))?;
    let end = match ctx.params.get("end_timestamp").map(str::trim) {
        None | Some("") => util::unix_now(),
        Some(text) => parse_timestamp(text).ok_or_else(|| bad_timestamp("end_timestamp", text))?,
    };
    if end < start {
        return Err(ApiError::aem(
            code::EXPORT_INNER_ERR,
            "AUDIT-E-INVRANGE, the end timestamp is earlier than the start timestamp",
        ));
    }
    let inner = ctx.state.lock();
    let records: Vec<Value> = inner
        .store
        .audit
        .iter()
        .filter(|r| r.unix >= start && r.unix <= end)
        .map(|r| {
            json!({
                "timestamp": r.timestamp,
                "user": r.user,
                "operation": r.operation,
                "server": r.server,
                "task": r.task,
                "endpoint": r.endpoint,
                "details": r.details,
            })
        })
        .collect();
    drop(inner);
    Ok(json_ok(&json!({ "audit_trail": records })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:10Z"), Some(10));
        assert_eq!(parse_timestamp("1970-01-01T00:00:10"), Some(10));
        assert_eq!(parse_timestamp("1970-01-01T00:00:10.250Z"), Some(10));
        assert_eq!(parse_timestamp("621355968100000000"), Some(10));
        assert_eq!(parse_timestamp("2024-13-01T00:00:00"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}

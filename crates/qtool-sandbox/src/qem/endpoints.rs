//! Endpoints (§5.9): list, test, delete, JSON-Patch, reconfigure.
//!
//! - TestEndpoint answers `{"status": CONNECTED|ERROR, "message", "detailed_message"}`; an
//!   endpoint whose server/host setting ends in `.invalid` fails (like servers).
//! - DeleteEndpoint accepts POST (what the clients send) and DELETE (the doc's header);
//!   `AEM_ENDPOINT_IS_IN_USE` while any task references it.
//! - PatchEndpoint applies `add`/`replace`/`remove`/`test` atomically; `/name`, `/type_id` and
//!   any `$type` cannot change (GAP for `/name` and `/type_id`: undocumented, refused so task
//!   references stay valid). `{Z…}` values this sandbox exported are decrypted.
//! - ReconfigureEndpointNoWait (Oracle sources only): copies the `configuration` endpoint's
//!   `db_settings` (keeping `$type`); with `recycle=true` (default) RUNNING tasks using the
//!   endpoint restart (STOPPING → STARTING → RUNNING). GAP: exact QEM semantics undocumented.

use axum::response::Response;
use serde_json::{Value, json};

use super::api::{ApiError, ApiResult, empty_ok, json_ok};
use super::audit::{self, Entry};
use super::routes::Ctx;
use super::secrets;
use super::servers::{self};
use crate::qem::spec::code;

pub(super) fn list(ctx: &Ctx, server: &str) -> ApiResult<Response> {
    let inner = ctx.state.lock();
    let s = servers::connected(&inner.store, server)?;
    let items: Vec<Value> = s
        .endpoints
        .iter()
        .map(|e| {
            json!({
                "name": e.name(),
                "description": e.description(),
                "role": e.role(),
                "type": e.list_type(),
                "is_licensed": e.is_licensed(),
            })
        })
        .collect();
    drop(inner);
    Ok(json_ok(&json!({ "endpointList": items })))
}

pub(super) fn test(ctx: &Ctx, server: &str, endpoint: &str) -> ApiResult<Response> {
    ctx.params.uint("timeout", 60)?;
    let inner = ctx.state.lock();
    let s = servers::connected(&inner.store, server)?;
    let e = s
        .endpoint(endpoint)
        .ok_or_else(|| ApiError::endpoint_not_found(server, endpoint))?;
    let host = e.host();
    let body = if host.to_ascii_lowercase().contains(".invalid") {
        json!({
            "status": "ERROR",
            "message": format!("Cannot connect to endpoint '{endpoint}'"),
            "detailed_message": format!("Host '{host}' could not be resolved"),
        })
    } else {
        json!({"status": "CONNECTED", "message": "", "detailed_message": ""})
    };
    drop(inner);
    Ok(json_ok(&body))
}

pub(super) fn delete(ctx: &Ctx, server: &str, endpoint: &str) -> ApiResult<Response> {
    ctx.state.mutate(|inner| {
        let s = servers::connected_mut(&mut inner.store, server)?;
        if s.endpoint(endpoint).is_none() {
            return Err(ApiError::endpoint_not_found(server, endpoint));
        }
        let users = s.tasks_using(endpoint);
        if !users.is_empty() {
            return Err(ApiError::aem(
                code::ENDPOINT_IS_IN_USE,
                format!(
                    "Endpoint '{endpoint}' is in use by task(s): {}",
                    users.join(", ")
                ),
            ));
        }
        s.endpoints.retain(|e| e.name() != endpoint);
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "DeleteEndpoint",
                server: Some(server),
                task: None,
                endpoint: Some(endpoint),
                details: "endpoint deleted".into(),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Split a JSON pointer into its parent pointer and last token.
fn split_pointer(path: &str) -> Option<(String, String)> {
    let idx = path.rfind('/')?;
    Some((path[..idx].to_string(), unescape(&path[idx + 1..])))
}

fn patch_error(message: impl Into<String>) -> ApiError {
    ApiError::aem(code::PATCH_ENDPOINT_INNER_ERR, message)
}

fn apply_op(doc: &mut Value, op: &str, path: &str, value: Option<Value>) -> ApiResult<()> {
    if path.is_empty() || !path.starts_with('/') {
        return Err(patch_error(format!("'{path}' is not a JSON pointer")));
    }
    let lower = path.to_ascii_lowercase();
    if lower.ends_with("/$type") || lower == "/name" || lower == "/type_id" {
        return Err(patch_error(format!("'{path}' cannot be changed")));
    }
    match op {
        "test" => {
            let current = doc.pointer(path);
            if current != value.as_ref() {
                return Err(patch_error(format!("test failed at '{path}'")));
            }
            Ok(())
        }
        "remove" => {
            let (parent, key) = split_pointer(path).ok_or_else(|| patch_error("bad path"))?;
            match doc.pointer_mut(&parent) {
                Some(Value::Object(m)) => m
                    .remove(&key)
                    .map(|_| ())
                    .ok_or_else(|| patch_error(format!("nothing to remove at '{path}'"))),
                Some(Value::Array(a)) => {
                    let i: usize = key.parse().map_err(|_| patch_error("bad array index"))?;
                    if i < a.len() {
                        a.remove(i);
                        Ok(())
                    } else {
                        Err(patch_error(format!("nothing to remove at '{path}'")))
                    }
                }
                _ => Err(patch_error(format!("'{parent}' does not exist"))),
            }
        }
        "add" | "replace" => {
            let value = value.ok_or_else(|| patch_error(format!("'{op}' needs a value")))?;
            if op == "replace" && doc.pointer(path).is_none() {
                return Err(patch_error(format!("nothing to replace at '{path}'")));
            }
            let (parent, key) = split_pointer(path).ok_or_else(|| patch_error("bad path"))?;
            match doc.pointer_mut(&parent) {
                Some(Value::Object(m)) => {
                    m.insert(key, value);
                    Ok(())
                }
                Some(Value::Array(a)) => {
                    if key == "-" {
                        a.push(value);
                        return Ok(());
                    }
                    let i: usize = key.parse().map_err(|_| patch_error("bad array index"))?;
                    if op == "replace" && i < a.len() {
                        a[i] = value;
                        Ok(())
                    } else if op == "add" && i <= a.len() {
                        a.insert(i, value);
                        Ok(())
                    } else {
                        Err(patch_error(format!("index out of range at '{path}'")))
                    }
                }
                _ => Err(patch_error(format!("'{parent}' does not exist"))),
            }
        }
        other => Err(patch_error(format!(
            "operation '{other}' is not supported (add, replace, remove, test)"
        ))),
    }
}

pub(super) fn patch(ctx: &Ctx, server: &str, endpoint: &str) -> ApiResult<Response> {
    const T: &str = "JsonPatchDocument";
    let text = ctx.body_text()?.trim_start_matches('\u{feff}');
    let ops: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(ops)) => ops,
        Ok(_) => {
            return Err(ApiError::deserialize(
                T,
                "expected a JSON array of operations",
            ));
        }
        Err(e) => return Err(ApiError::deserialize(T, e)),
    };
    let mut parsed = Vec::with_capacity(ops.len());
    for op in &ops {
        let name = op.get("op").and_then(Value::as_str);
        let path = op.get("path").and_then(Value::as_str);
        match (name, path) {
            (Some(n), Some(p)) => {
                let mut value = op.get("value").cloned();
                if let Some(v) = value.as_mut() {
                    secrets::decrypt_tree(&ctx.state.master_key, v);
                    if let Value::String(s) = v
                        && secrets::looks_encrypted(s)
                        && let Some(plain) = secrets::decrypt(&ctx.state.master_key, s)
                    {
                        *s = plain;
                    }
                }
                parsed.push((n.to_ascii_lowercase(), p.to_string(), value));
            }
            _ => {
                return Err(ApiError::deserialize(
                    T,
                    "every operation needs 'op' and 'path'",
                ));
            }
        }
    }
    ctx.state.mutate(|inner| {
        let s = servers::connected_mut(&mut inner.store, server)?;
        let e = s
            .endpoint_mut(endpoint)
            .ok_or_else(|| ApiError::endpoint_not_found(server, endpoint))?;
        let mut doc = Value::Object(e.definition.clone());
        for (op, path, value) in &parsed {
            apply_op(&mut doc, op, path, value.clone())?;
        }
        match doc {
            Value::Object(m) => e.definition = m,
            _ => return Err(patch_error("the endpoint is no longer an object")),
        }
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "PatchEndpoint",
                server: Some(server),
                task: None,
                endpoint: Some(endpoint),
                details: parsed
                    .iter()
                    .map(|(op, path, _)| format!("{op} {path}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

pub(super) fn reconfigure(ctx: &Ctx, server: &str, endpoint: &str) -> ApiResult<Response> {
    let configuration = ctx
        .params
        .name("configuration")
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            ApiError::deserialize("String", "query parameter 'configuration' is required")
        })?;
    let recycle = ctx.params.bool("recycle", true)?;
    let restarted = ctx.state.mutate(|inner| {
        let first_epoch = inner.next_epoch;
        let s = servers::connected_mut(&mut inner.store, server)?;
        let target = s
            .endpoint(endpoint)
            .ok_or_else(|| ApiError::endpoint_not_found(server, endpoint))?;
        if target.type_id() != "ORACLE_COMPONENT_TYPE" || target.role() != "SOURCE" {
            return Err(ApiError::aem(
                "AEM_RECONFIGURE_ENDPOINT_NOT_SUPPORTED",
                format!("Endpoint '{endpoint}' is not an Oracle source"),
            ));
        }
        let source = s
            .endpoint(&configuration)
            .ok_or_else(|| ApiError::endpoint_not_found(server, &configuration))?;
        let mut settings = source
            .definition
            .get("db_settings")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let keep_type = target
            .definition
            .get("db_settings")
            .and_then(|d| d.get("$type"))
            .cloned();
        if let (Some(m), Some(t)) = (settings.as_object_mut(), keep_type) {
            m.insert("$type".into(), t);
        }
        if let Some(e) = s.endpoint_mut(endpoint) {
            e.definition.insert("db_settings".into(), settings);
        }
        let mut restarted = Vec::new();
        if recycle {
            let users = s.tasks_using(endpoint);
            let mut epoch = first_epoch;
            for t in s.tasks.iter_mut().filter(|t| users.contains(&t.name)) {
                if t.is_running() {
                    t.state = crate::qem::spec::task_state::STARTING.to_string();
                    t.pending_option = Some("RESUME_PROCESSING".into());
                    t.epoch = epoch;
                    restarted.push((t.name.clone(), epoch));
                    epoch += 1;
                }
            }
            inner.next_epoch = epoch;
        }
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "ReconfigureEndpointNoWait",
                server: Some(server),
                task: None,
                endpoint: Some(endpoint),
                details: format!("configuration={configuration} recycle={recycle}"),
            },
        );
        Ok(restarted)
    })?;
    for (task, epoch) in restarted {
        super::tasks::schedule(
            &ctx.state,
            server.to_string(),
            task,
            epoch,
            super::tasks::Step::Started,
            super::tasks::transition_delay(),
        );
    }
    Ok(empty_ok())
}

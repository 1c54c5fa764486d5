//! `POST /qrs/systemrule/security/audit/accessibleobjects`: which objects of a resource type a
//! user may act on.
//!
//! The sandbox evaluates no security rules: every active user may do everything (as
//! `privileges=true` shows), so the answer is every object of the type for an active user and
//! nothing for an inactive, blocked or removed one, or for the action `None` (0).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::routes::{Ctx, bad_request, json_response, not_found};
use super::types::type_by_schema;

pub async fn accessible_objects(mut ctx: Ctx) -> Response {
    let body = match ctx.json_object().await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let field = |k: &str| {
        body.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
            .map(|(_, v)| v)
    };
    let Some(resource) = field("resourceType").and_then(Value::as_str) else {
        return bad_request("AccessibleObjectParameters resourceType is required");
    };
    let Some(td) = type_by_schema(resource) else {
        return bad_request(format!("Unknown resource type '{resource}'"));
    };
    let action = match field("action") {
        None | Some(Value::Null) => 0,
        Some(v) => match v.as_u64() {
            Some(a) if a <= u64::from(u32::MAX) => a,
            _ => return bad_request(format!("action {v} is not a SecurityActions value")),
        },
    };
    let Some(user_id) = field("userID").and_then(Value::as_str) else {
        return bad_request("AccessibleObjectParameters userID is required");
    };
    let s = ctx.st.read();
    let Some(user) = s.get("user", user_id) else {
        return not_found("User", user_id);
    };
    let flag = |k: &str| user.get(k).and_then(Value::as_bool) == Some(true);
    let allowed =
        action != 0 && !flag("inactive") && !flag("blacklisted") && !flag("removedExternally");
    let objects: Vec<Value> = if allowed {
        s.all(td.view_of.unwrap_or(td.name))
            .into_iter()
            .map(|e| {
                json!({
                    "schemaPath": "RepositoryObject",
                    "id": e.get("id"),
                    "createdDate": e.get("createdDate"),
                    "modifiedDate": e.get("modifiedDate"),
                    "modifiedByUserName": e.get("modifiedByUserName"),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    drop(s);
    json_response(StatusCode::CREATED, &Value::Array(objects))
}

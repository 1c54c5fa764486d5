//! Licence allocations: `license/professionalaccesstype` and `license/analyzeraccesstype`
//! entities (one per user and type, generic endpoints) and the summary
//! `GET /qrs/license/accesstypeinfo`.
//!
//! The sandbox's licence is user-based (Professional and Analyzer allocations, no tokens), so
//! the token totals of `AccessTypesInfo` are 0, the user and login passes are empty, and the
//! professional and analyzer parts count allocations: `allocatedTokens` every allocation,
//! `usedTokens` those used at least once, `quarantinedTokens` those in quarantine.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::routes::{Ctx, json_response};
use super::store::Store;
use crate::qrs::spec;

pub const PROFESSIONAL: &str = "license/professionalaccesstype";
pub const ANALYZER: &str = "license/analyzeraccesstype";

/// `{schemaPath, tokenCost, allocatedTokens, usedTokens, quarantinedTokens}` of one type.
fn allocation_summary(s: &Store, ty: &str, schema: &str) -> Value {
    let all = s.all(ty);
    let used = all
        .iter()
        .filter(|a| a.get("lastUsed").and_then(Value::as_str) != Some(spec::NEVER_DATE))
        .count();
    let quarantined = all
        .iter()
        .filter(|a| a.get("quarantined").and_then(Value::as_bool) == Some(true))
        .count();
    json!({
        "schemaPath": schema, "tokenCost": 0.0, "allocatedTokens": all.len(),
        "usedTokens": used, "quarantinedTokens": quarantined,
    })
}

pub fn access_type_info(ctx: &Ctx) -> Response {
    let s = ctx.st.read();
    let body = json!({
        "schemaPath": "AccessTypesInfo",
        "totalTokens": 0,
        "availableTokens": 0,
        "professionalAccessType": allocation_summary(&s, PROFESSIONAL, "AccessTypesInfoProfessionalAccessTypeCondensed"),
        "userAccessType": {
            "schemaPath": "AccessTypesInfoUserAccessTypeCondensed", "tokenCost": 0.0,
            "allocatedTokens": 0, "usedTokens": 0, "quarantinedTokens": 0,
        },
        "loginAccessType": {
            "schemaPath": "AccessTypesInfoLoginAccessTypeCondensed", "tokenCost": 0.0,
            "allocatedTokens": 0, "usedTokens": 0, "unavailableTokens": 0,
        },
        "analyzerAccessType": allocation_summary(&s, ANALYZER, "AccessTypesInfoAnalyzerAccessTypeCondensed"),
    });
    drop(s);
    json_response(StatusCode::OK, &body)
}

/// Whether `ty` is a licence allocation type (one allocation per user).
pub fn is_allocation(ty: &str) -> bool {
    ty == PROFESSIONAL || ty == ANALYZER
}

//! `GET /qrs/about`, `/qrs/about/api/enums` and `/qrs/about/api/description`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::routes::{Ctx, Route, bad_request, json_response, route_table};
use super::types::{self, TypeDef};
use crate::qrs::spec;

/// Version of the QRS API the emulator follows (QSEoW November 2022 Patch 2, the captured spec).
pub const BUILD_VERSION: &str = "38.22.0.0";
pub const BUILD_DATE: &str = "11/14/2022 10:00:00 AM";

pub fn about(_ctx: &Ctx) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "schemaPath": "About",
            "buildVersion": BUILD_VERSION,
            "buildDate": BUILD_DATE,
            "databaseProvider": "Devart.Data.PostgreSql",
            "nodeType": 1,
            "sharedPersistence": true,
            "requiresBootstrap": false,
            "singleNodeOnly": false,
        }),
    )
}

/// Each enum as `{"schemaPath", "values": ["7: FinishedSuccess", ..], "usages": [..]}`.
pub fn enums() -> Response {
    let mut out = Map::new();
    for e in spec::ENUMS {
        let values: Vec<String> = e
            .values
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{i}: {n}"))
            .collect();
        out.insert(
            e.name.to_string(),
            json!({ "schemaPath": "EnumDescription", "values": values, "usages": e.usages }),
        );
    }
    json_response(StatusCode::OK, &Value::Object(out))
}

/// The defaults of a new `td` entity (empty GUID id, "never" dates), as a create template.
pub fn default_entity(td: &TypeDef) -> Response {
    json_response(StatusCode::OK, &Value::Object(types::defaults(td.name)))
}

/// One line of the API description: `GET /qrs/app/{id}?privileges={privileges}`.
fn described_path(route: &Route) -> String {
    let params = route.op.query_params();
    if params.is_empty() {
        return route.path.clone();
    }
    let query: Vec<String> = params.iter().map(|p| format!("{p}={{{p}}}")).collect();
    format!("{}?{}", route.path, query.join("&"))
}

/// `[resource=generated, bodytype=App, returntype=App]`.
fn extended_text(route: &Route) -> String {
    format!(
        "[resource={}, bodytype={}, returntype={}]",
        if route.op.generated() {
            "generated"
        } else {
            "manual"
        },
        route.body_type(),
        route.return_type()
    )
}

/// `GET /qrs/about/api/description?extended=&method=&format=`: `200 [string]`, one string per
/// endpoint the emulator serves (`"GET /qrs/about"`), only those of `method` when given. With
/// `extended=true` each line ends with `[resource=…, bodytype=…, returntype=…]`; with
/// `format=JSON` each string is itself a JSON object `{"method", "path"[, "extended"]}`, which
/// is what SDK generators parse.
pub fn description(ctx: &Ctx) -> Response {
    let extended = match ctx.q_bool("extended", false) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let json_format = match ctx.q("format").map(str::trim).filter(|f| !f.is_empty()) {
        None => false,
        Some(f) if f.eq_ignore_ascii_case("json") => true,
        Some(f) => return bad_request(format!("Unknown format '{f}' (use JSON, or leave it out)")),
    };
    let method = ctx.q("method").map(str::trim).filter(|m| !m.is_empty());
    let mut routes: Vec<Route> = route_table()
        .into_iter()
        .filter(|r| r.path.starts_with("/qrs/"))
        .filter(|r| method.is_none_or(|m| r.method.as_str().eq_ignore_ascii_case(m)))
        .collect();
    routes.sort_by(|a, b| (&a.path, a.method.as_str()).cmp(&(&b.path, b.method.as_str())));
    let lines: Vec<Value> = routes
        .iter()
        .map(|r| {
            let path = described_path(r);
            let text = if json_format {
                let mut item = json!({"method": r.method.as_str(), "path": path});
                if extended {
                    item["extended"] = json!(extended_text(r));
                }
                item.to_string()
            } else if extended {
                format!("{} {path} {}", r.method, extended_text(r))
            } else {
                format!("{} {path}", r.method)
            };
            Value::String(text)
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(lines))
}

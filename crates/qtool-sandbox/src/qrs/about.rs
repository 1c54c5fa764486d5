//! `GET /qrs/about` and `/qrs/about/api/enums`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::routes::{Ctx, json_response};
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

//! Response helpers: the QEM error body and the success shapes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::qem::spec::code;

pub(super) const JSON_UTF8: &str = "application/json; charset=utf-8";

/// A failed call: `{"error_code": CODE, "error_message": TEXT}` with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

pub(super) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// `AEM_*` codes travel with HTTP 500 (as documented per method).
    pub(crate) fn aem(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, code, message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHORIZED_REQUEST,
            message,
        )
    }

    pub(crate) fn invalid_session() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::INVALID_SESSION_ID,
            "The session has expired or the session ID is not valid",
        )
    }

    /// Bad request JSON (or an unparseable enum value in the query).
    pub(crate) fn deserialize(type_name: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code::DESERIALIZE_TO_TYPE,
            format!("Failed to deserialize JSON to type {type_name}: {detail}"),
        )
    }

    pub(crate) fn not_found_route(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::RESOURCE_NOT_FOUND,
            format!("No API method matches '{path}'"),
        )
    }

    pub(crate) fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            code::METHOD_NOT_ALLOWED,
            format!("The requested resource '{path}' does not support http method '{method}'"),
        )
    }

    pub(crate) fn server_not_found(server: &str) -> Self {
        Self::aem(
            code::SERVER_NOT_FOUND,
            format!("Server '{server}' was not found"),
        )
    }

    pub(crate) fn task_not_found(server: &str, task: &str) -> Self {
        Self::aem(
            code::TASK_NOT_FOUND,
            format!("Task '{task}' was not found on server '{server}'"),
        )
    }

    pub(crate) fn endpoint_not_found(server: &str, endpoint: &str) -> Self {
        Self::aem(
            code::ENDPOINT_NOT_FOUND,
            format!("Endpoint '{endpoint}' was not found on server '{server}'"),
        )
    }

    pub(crate) fn body(&self) -> Value {
        json!({"error_code": self.code, "error_message": self.message})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body().to_string();
        let mut resp = (self.status, body).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
        resp
    }
}

/// 200 with a JSON document.
pub(super) fn json_ok(value: &Value) -> Response {
    let mut resp = (StatusCode::OK, value.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    resp
}

/// 200 with an empty body (PUT/DELETE/POST calls that answer nothing).
pub(super) fn empty_ok() -> Response {
    let mut resp = StatusCode::OK.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    resp
}

/// 200, empty, `text/html` (login and logout, as documented for logout).
pub(super) fn empty_html_ok() -> Response {
    let mut resp = empty_ok();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    resp
}

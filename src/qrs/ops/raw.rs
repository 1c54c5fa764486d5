//! Any QRS request through the same transport (`qrs raw`), and the two read-only views that are
//! not resources: about and service status.

use reqwest::Method;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::qrs::client::{Body, QrsClient, json_body};
use crate::qrs::endpoints;

/// What the server answered.
#[derive(Debug)]
pub(crate) enum RawAnswer {
    /// A JSON answer (`null` for an empty one).
    Json(Value),
    /// Anything else, as received.
    Bytes(bytes::Bytes),
}

/// An HTTP method from text, any case.
pub(crate) fn parse_method(text: &str) -> Result<Method> {
    Method::from_bytes(text.to_ascii_uppercase().as_bytes()).map_err(|_| {
        Error::usage(format!("`{text}` is not an HTTP method"))
            .with_hint("use GET, POST, PUT or DELETE")
    })
}

/// Send `method path?query` (the `/qrs` prefix optional) with an optional JSON body.
pub(crate) async fn send(
    client: &QrsClient,
    method: Method,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
) -> Result<RawAnswer> {
    let body = body.map(json_body).transpose()?;
    let url = client.url_for_raw(path, query)?;
    let what = format!("{method} {}", url.path());
    let body = match body {
        Some(b) => Body::Json(b),
        None => Body::None,
    };
    let resp = client.send(method, url, body).await?;
    let is_json = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.contains("json"));
    if is_json {
        return Ok(RawAnswer::Json(client.read_json(resp, &what).await?));
    }
    Ok(RawAnswer::Bytes(client.read_bytes(resp, &what).await?))
}

/// `/qrs/about`: repository version and node type.
pub(crate) async fn about(client: &QrsClient) -> Result<Value> {
    client.get_json(&endpoints::ABOUT.path(&[])?, &[]).await
}

/// `/qrs/servicestatus/full`: the services of every node.
pub(crate) async fn service_status(client: &QrsClient) -> Result<Vec<Value>> {
    client
        .get_list(&endpoints::SERVICE_STATUS_FULL.path(&[])?, &[])
        .await
}

//! `qrs raw` (any request, same transport), `qrs about`, `qrs servicestatus`.

use reqwest::Method;
use serde_json::Value;

use super::RawArgs;
use super::generic::connect;
use super::output::{print_list, read_json_input};
use crate::app::App;
use crate::error::{Error, Result};
use crate::qrs::client::{Body, json_body, read_json};
use crate::qrs::endpoints;
use crate::qrs::resources::ResourceKind;

pub fn run(a: RawArgs, app: &App) -> Result<u8> {
    let method = Method::from_bytes(a.method.to_ascii_uppercase().as_bytes()).map_err(|_| {
        Error::usage(format!("`{}` is not an HTTP method", a.method))
            .with_hint("use GET, POST, PUT or DELETE")
    })?;
    let body = match &a.body {
        Some(path) => Some(json_body(&read_json_input(path)?)?),
        None => None,
    };
    let client = connect(app)?;
    let url = client.url_for_raw(&a.path, &a.query)?;
    app.block_on(async {
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
            let value = read_json(resp, &what).await?;
            if value.is_null() {
                return Ok(());
            }
            app.printer.document(&value)
        } else {
            let bytes = resp.bytes().await.map_err(|e| {
                Error::network(format!(
                    "reading the answer: {}",
                    crate::http::root_cause(&e)
                ))
            })?;
            app.printer.write_raw(&bytes)
        }
    })?;
    Ok(0)
}

pub fn about(app: &App) -> Result<u8> {
    let client = connect(app)?;
    let about: Value =
        app.block_on(async { client.get_json(&endpoints::ABOUT.path(&[])?, &[]).await })?;
    let mut shown = about.clone();
    if !app.printer.is_structured()
        && let Some(n) = about.get("nodeType").and_then(Value::as_i64)
        && let Some(obj) = shown.as_object_mut()
    {
        obj.insert(
            "nodeType".into(),
            Value::String(crate::qrs::wire::enum_name(
                &["Undefined", "Central", "Rim"],
                n,
            )),
        );
    }
    app.printer.object(&shown, "buildVersion")?;
    Ok(0)
}

pub fn servicestatus(app: &App) -> Result<u8> {
    let client = connect(app)?;
    let res = ResourceKind::ServiceStatus;
    let items = app.block_on(async {
        client
            .get_list(&endpoints::SERVICE_STATUS_FULL.path(&[])?, &[])
            .await
    })?;
    print_list(&app.printer, res, items, true)?;
    Ok(0)
}

//! `qrs raw` (any request, same transport), `qrs about`, `qrs servicestatus`.

use serde_json::Value;

use super::RawArgs;
use super::generic::connect;
use super::output::{print_list, read_json_input};
use crate::app::App;
use crate::error::Result;
use crate::qrs::ops::raw::{self as ops, RawAnswer};
use crate::qrs::resources::ResourceKind;

pub(super) fn run(a: RawArgs, app: &App) -> Result<u8> {
    let method = ops::parse_method(&a.method)?;
    let body = a.body.as_deref().map(read_json_input).transpose()?;
    let client = connect(app)?;
    match app.block_on(ops::send(&client, method, &a.path, &a.query, body.as_ref()))? {
        RawAnswer::Json(Value::Null) => {}
        RawAnswer::Json(value) => app.printer.document(&value)?,
        RawAnswer::Bytes(bytes) => app.printer.write_raw(&bytes)?,
    }
    Ok(0)
}

pub(super) fn about(app: &App) -> Result<u8> {
    let client = connect(app)?;
    let about: Value = app.block_on(ops::about(&client))?;
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

pub(super) fn servicestatus(app: &App) -> Result<u8> {
    let client = connect(app)?;
    let res = ResourceKind::ServiceStatus;
    let items = app.block_on(ops::service_status(&client))?;
    print_list(&app.printer, res, items, true)?;
    Ok(0)
}

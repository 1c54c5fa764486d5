//! `qem login` / `qem logout`.

use serde_json::json;

use crate::app::App;
use crate::error::Result;
use crate::output::status;
use crate::qem::client::QemClient;

pub(super) fn login(app: &App, client: &QemClient) -> Result<u8> {
    app.block_on(async { client.login().await })?;
    let doc = json!({
        "server": client.base().as_str(),
        "user": client.principal(),
        "session": "cached",
    });
    if app.printer.is_structured() {
        app.printer.document(&doc)?;
    } else {
        status(&format!(
            "logged in to {} as {}; the session is cached for the next runs",
            client.label(),
            client.principal()
        ));
    }
    Ok(0)
}

pub(super) fn logout(app: &App, client: &QemClient) -> Result<u8> {
    let ended = app.block_on(async { client.logout().await })?;
    if app.printer.is_structured() {
        app.printer
            .document(&json!({"server": client.base().as_str(), "logged_out": ended}))?;
    } else if ended {
        status(&format!("logged out of {}", client.label()));
    } else {
        status(&format!("no session for {}; nothing to do", client.label()));
    }
    Ok(0)
}

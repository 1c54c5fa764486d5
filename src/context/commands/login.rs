//! `context login`: QSEoW forms login through the proxy ([`ops::forms_login`]), the session
//! cookie stored in the context (auth becomes `cookie`).

use super::LoginArgs;
use crate::app::App;
use crate::context::model::ServerType;
use crate::context::ops;
use crate::error::{Error, Result};
use crate::http::ClientOptions;
use crate::output::status;
use crate::secret;

pub(super) fn run(args: LoginArgs, app: &App) -> Result<()> {
    let store = app.store()?;
    let file = store.load_contexts()?;
    let name = args
        .name
        .clone()
        .or_else(|| app.settings.connection.context.clone().map(|c| c.value))
        .or(file.current_context.clone())
        .ok_or_else(|| {
            Error::config("no context selected").with_hint("name one: `qtool context login NAME`")
        })?;
    let context = file
        .contexts
        .get(&name)
        .cloned()
        .ok_or_else(|| crate::context::store::unknown_context(&name, &file))?;
    if context.server_type != ServerType::Windows {
        return Err(Error::usage(format!(
            "context `{name}` is a {} context",
            context.server_type.as_str()
        ))
        .with_hint("forms login applies to QSEoW; QEM logs in with `qtool qem login`"));
    }
    let user = args.user.clone().or(context.user.clone()).ok_or_else(|| {
        Error::usage("no user for the login").with_hint("pass --user 'DOMAIN\\user'")
    })?;
    if !user.contains('\\') {
        return Err(Error::usage(format!("user `{user}` must be DOMAIN\\user")));
    }
    let password = if args.password_stdin {
        secret::read_stdin("password")?
    } else if let Some(p) = &args.password {
        secret::warn_argv("--password");
        p.clone()
    } else {
        app.settings.secrets.password.clone().ok_or_else(|| {
            Error::usage("no password given")
                .with_hint("pipe it with --password-stdin or set QTOOL_PASSWORD")
        })?
    };
    let server = crate::settings::parse_server_url(&context.server)?;
    if server.scheme() != "https" {
        return Err(Error::usage("forms login needs an https server URL"));
    }
    let conn = &app.settings.connection;
    let options = ClientOptions {
        tls: conn.server_trust(&context),
        timeout: conn.timeout.value,
        http1_only: false,
    };
    let retries = conn.retries.value;
    let cookie = app.block_on(ops::forms_login(
        options,
        server,
        user.clone(),
        password,
        retries,
    ))?;
    ops::store_login(&store, &name, &user, &cookie)?;
    status(&format!(
        "Logged in as {user}; session cookie stored in context `{name}`"
    ));
    Ok(())
}

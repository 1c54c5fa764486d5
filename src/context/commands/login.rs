//! `context login`: QSEoW forms login through the proxy. Follow the server URL to the proxy's
//! login form (`/{prefix}/internal_forms_authentication/?targetId=…`), post `username`/`pwd` to
//! it as the form itself does (no Xrfkey: the login module is not the repository API), keep the
//! session cookie the proxy sets, and store it in the context (auth becomes `cookie`).

use reqwest::{Method, StatusCode, Url};

use super::LoginArgs;
use crate::app::App;
use crate::context::model::{AuthKind, ServerType};
use crate::context::resolve::ENV_PASSWORD;
use crate::error::{Error, Result};
use crate::http::{self, ClientOptions, TlsOptions};
use crate::output::status;
use crate::secret;

pub fn run(args: LoginArgs, app: &App) -> Result<()> {
    let store = app.store()?;
    let file = store.load_contexts()?;
    let name = args
        .name
        .clone()
        .or_else(|| app.global.context.clone())
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
        std::env::var(ENV_PASSWORD)
            .ok()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                Error::usage("no password given")
                    .with_hint("pipe it with --password-stdin or set QTOOL_PASSWORD")
            })?
    };
    let server = crate::context::resolve::parse_server_url(&context.server)?;
    if server.scheme() != "https" {
        return Err(Error::usage("forms login needs an https server URL"));
    }
    let options = ClientOptions {
        tls: TlsOptions {
            insecure: app.global.insecure || context.insecure,
            ca_cert: app.global.ca_cert.clone().or(context.ca_cert.clone()),
            client_cert: None,
        },
        timeout: app.global.timeout,
        http1_only: false,
    };
    let retries = app.global.retries;
    let cookie = app.block_on(forms_login(
        options,
        server,
        user.clone(),
        password,
        retries,
    ))?;

    store.update(|all| {
        let mut ctx = all.get(&name)?.clone();
        let mut secrets = all.secrets_of(&name);
        ctx.user = Some(user.clone());
        ctx.auth = AuthKind::Cookie;
        secrets.cookie = Some(cookie.clone());
        all.file.contexts.insert(name.clone(), ctx);
        all.set_secrets(&name, secrets);
        Ok(())
    })?;
    status(&format!(
        "Logged in as {user}; session cookie stored in context `{name}`"
    ));
    Ok(())
}

async fn forms_login(
    options: ClientOptions,
    server: Url,
    user: String,
    password: String,
    retries: u32,
) -> Result<String> {
    let client = http::build_client(&options)?;
    // 1. Follow redirects (same origin only) to the login form.
    let mut url = server.clone();
    let mut hops = 0;
    let form_url = loop {
        let resp = http::send(&Method::GET, &url, retries, || client.get(url.clone())).await?;
        if resp.status().is_redirection() {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Error::server("the proxy redirected without a Location"))?;
            let next = url
                .join(location)
                .map_err(|_| Error::server(format!("bad redirect `{location}`")))?;
            if next.origin() != server.origin() {
                return Err(Error::auth(format!(
                    "the proxy redirected to another site ({})",
                    next.origin().ascii_serialization()
                ))
                .with_hint("forms login works with the QSEoW proxy's own login page only"));
            }
            url = next;
            hops += 1;
            if hops > 5 {
                return Err(Error::server(
                    "too many redirects on the way to the login page",
                ));
            }
            continue;
        }
        if resp.status() == StatusCode::OK && http::is_html(&resp) {
            break url.clone();
        }
        return Err(Error::auth(format!(
            "{} did not lead to a login form (HTTP {})",
            server,
            resp.status().as_u16()
        ))
        .with_hint("use the URL of a virtual proxy that uses forms authentication"));
    };

    // 2. Post the credentials back to the form's own address (its `targetId` included).
    let post_url = form_url.clone();
    let body = format!(
        "username={}&pwd={}",
        percent_encoding::utf8_percent_encode(&user, percent_encoding::NON_ALPHANUMERIC),
        percent_encoding::utf8_percent_encode(&password, percent_encoding::NON_ALPHANUMERIC)
    );
    let resp = http::send(&Method::POST, &post_url, 0, || {
        client
            .post(post_url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body.clone())
    })
    .await?;

    // 3. The first session cookie the proxy sets is the one we keep.
    let cookie = http::qlik_session_cookie(&resp);
    match cookie {
        Some(c) => Ok(c.to_string()),
        None => Err(Error::auth(format!(
            "login as {user} was refused: no X-Qlik-Session cookie (HTTP {})",
            resp.status().as_u16()
        ))
        .with_hint("check the user name and password")),
    }
}

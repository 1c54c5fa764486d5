//! `qtool jwt proxy-config`: the QMC virtual proxy settings for JWT authentication, as a table to
//! follow in the QMC, or (`--json`) the body for QRS `POST /qrs/virtualproxyconfig`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::app::App;
use crate::error::{Error, Result};
use crate::jwt::keys::{self, PublicSource};
use crate::jwt::token;

/// QRS `VirtualProxyConfig.authenticationMethod` enum: 0 Ticket, 1 HeaderStaticUserDirectory,
/// 2 HeaderDynamicUserDirectory, 3 SAML, 4 JWT, 5 OIDC (QRS swagger, `x-enumNames`).
pub(super) const AUTHENTICATION_METHOD_JWT: u8 = 4;
/// `anonymousAccessMode`: 0 NoAnonymousUser, 1 AllowAnonymous, 2 AlwaysAnonymous.
pub(super) const ANONYMOUS_NO_ANONYMOUS_USER: u8 = 0;
/// QMC's default session inactivity timeout (minutes); required by the QRS schema.
pub(super) const DEFAULT_SESSION_INACTIVITY_MINUTES: u32 = 30;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  qtool jwt proxy-config --cert publickey.cer --audience 112adams\n  \
    qtool jwt proxy-config --cert publickey.cer --audience 112adams --json > vproxy.json"
)]
pub struct ProxyConfigArgs {
    /// The certificate to paste into the "JWT certificate" box.
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// JWT audience; tokens must carry the same `aud`.
    #[arg(long, value_name = "AUD")]
    pub audience: String,
    /// Virtual proxy prefix (lowercase; the URL becomes https://host/PREFIX).
    #[arg(long, default_value = "jwt")]
    pub prefix: String,
    /// Description [default: the prefix].
    #[arg(long)]
    pub description: Option<String>,
    /// Claim holding the user id.
    #[arg(long, default_value = "userid", value_name = "CLAIM")]
    pub userid_attribute: String,
    /// Claim holding the user directory.
    #[arg(long, default_value = "userdirectory", value_name = "CLAIM")]
    pub userdirectory_attribute: String,
    /// Session cookie header name (unique per virtual proxy) [default: X-Qlik-Session-PREFIX].
    #[arg(long, value_name = "NAME")]
    pub session_cookie_header: Option<String>,
}

fn check_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("invalid --prefix `{prefix}`"))
            .with_hint("use lowercase letters, digits and - . _ ~ (no slashes), e.g. jwt"))
    }
}

fn check_attribute(flag: &str, value: &str) -> Result<()> {
    // Qlik refuses registered claim names as user attributes.
    const RESERVED: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];
    if value.trim().is_empty() || RESERVED.contains(&value) {
        return Err(Error::usage(format!("{flag} `{value}` cannot be used"))
            .with_hint("use a non-registered claim name such as userid / userdirectory"));
    }
    Ok(())
}

pub(super) fn run(args: ProxyConfigArgs, app: &App) -> Result<u8> {
    check_prefix(&args.prefix)?;
    check_attribute("--userid-attribute", &args.userid_attribute)?;
    check_attribute("--userdirectory-attribute", &args.userdirectory_attribute)?;
    if args.audience.trim().is_empty() {
        return Err(Error::usage("--audience is empty"));
    }
    let key = keys::load_public_key(&args.cert)?;
    let PublicSource::Certificate {
        subject,
        not_before,
        not_after,
        pem,
    } = &key.source
    else {
        return Err(Error::input(format!(
            "{} is a key, but the virtual proxy needs an X.509 certificate",
            args.cert.display()
        ))
        .with_hint("create one with `qtool jwt cert --key privatekey.pem --out publickey.cer`"));
    };
    let now = token::now();
    if *not_after < now {
        crate::output::warn(&format!(
            "{} expired on {}; create a new one with `qtool jwt cert`",
            args.cert.display(),
            token::human_time(*not_after)
        ));
    } else if *not_before > now {
        crate::output::warn(&format!(
            "{} is not valid before {}",
            args.cert.display(),
            token::human_time(*not_before)
        ));
    }
    let description = args
        .description
        .clone()
        .unwrap_or_else(|| args.prefix.clone());
    let cookie = args
        .session_cookie_header
        .clone()
        .unwrap_or_else(|| format!("X-Qlik-Session-{}", args.prefix));

    if app.printer.is_structured() {
        let body = json!({
            "prefix": args.prefix,
            "description": description,
            "sessionCookieHeaderName": cookie,
            "authenticationMethod": AUTHENTICATION_METHOD_JWT,
            "anonymousAccessMode": ANONYMOUS_NO_ANONYMOUS_USER,
            "jwtAttributeUserId": args.userid_attribute,
            "jwtAttributeUserDirectory": args.userdirectory_attribute,
            "jwtAudience": args.audience,
            "jwtPublicKeyCertificate": pem,
            "jwtAttributeMap": [],
            "sessionInactivityTimeout": DEFAULT_SESSION_INACTIVITY_MINUTES,
            "defaultVirtualProxy": false,
            "loadBalancingServerNodes": [],
            "websocketCrossOriginWhiteList": [],
        });
        app.printer.document(&body)?;
        return Ok(0);
    }
    let row = |section: &str, setting: &str, value: &str| {
        vec![section.to_string(), setting.to_string(), value.to_string()]
    };
    let cert_summary = format!(
        "paste the whole of {} ({subject}, RSA {}, valid until {})",
        args.cert.display(),
        key.bits,
        token::human_time(*not_after)
    );
    let rows = vec![
        row("Identification", "Description", &description),
        row("Identification", "Prefix", &args.prefix),
        row("Identification", "Session cookie header name", &cookie),
        row(
            "Authentication",
            "Anonymous access mode",
            "No anonymous user",
        ),
        row("Authentication", "Authentication method", "JWT"),
        row("Authentication", "JWT certificate", &cert_summary),
        row(
            "Authentication",
            "JWT attribute for user ID",
            &args.userid_attribute,
        ),
        row(
            "Authentication",
            "JWT attribute for user directory",
            &args.userdirectory_attribute,
        ),
        row("Authentication", "JWT audience", &args.audience),
        row(
            "Load balancing",
            "Server node",
            "add your node (e.g. Central)",
        ),
        row(
            "Proxies",
            "Link",
            "link the virtual proxy to your proxy (e.g. Central)",
        ),
    ];
    app.printer.table(&["SECTION", "SETTING", "VALUE"], &rows)?;
    Ok(0)
}

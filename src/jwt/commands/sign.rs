//! `qtool jwt sign`: replaces the tutorial's Token.js (`node token.js`). Same header, same claims
//! in the same order; the token goes to stdout.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use super::{PassphraseArg, parse_duration};
use crate::app::App;
use crate::error::{Error, Result};
use crate::jwt::keys;
use crate::jwt::token::{self, JwtAlgorithm};

#[derive(Debug, Args)]
#[command(
    after_help = "Example (the tutorial's Token.js):\n  qtool jwt sign --key privatekey.pem \
    --userid harry --userdirectory qsefw --name 'Hardcore Harry' \\\n    --email harry@example.com \
    --group Adminstrators --group Sales --group Marketing \\\n    --audience 112adams --expires-in 365d"
)]
pub struct SignArgs {
    /// The RSA private key (PKCS#8 or PKCS#1 PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// User id claim (`userid`).
    #[arg(long, value_name = "ID")]
    pub userid: String,
    /// User directory claim (`userdirectory`).
    #[arg(long, value_name = "DIR")]
    pub userdirectory: String,
    /// Display name claim (`name`).
    #[arg(long)]
    pub name: Option<String>,
    /// Email claim (`email`).
    #[arg(long)]
    pub email: Option<String>,
    /// Group (repeatable; becomes the `groups` array).
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Audience (`aud`); must match the virtual proxy's JWT audience.
    #[arg(long, value_name = "AUD")]
    pub audience: Option<String>,
    /// Lifetime (`exp` = now + this): 30s, 15m, 12h, 365d.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub expires_in: Duration,
    /// Not valid before: a delay from now (10m), an RFC 3339 time, or `now`.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub not_before: Option<i64>,
    /// Extra claim NAME=VALUE (VALUE parsed as JSON when it is JSON, else a string; repeatable;
    /// overrides any claim of the same name).
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    pub claims: Vec<String>,
    /// Extra claims from a JSON object file (`-` for stdin), applied before --claim.
    #[arg(long, value_name = "FILE")]
    pub claims_file: Option<PathBuf>,
    /// Signature algorithm.
    #[arg(long, value_name = "ALG", value_enum, ignore_case = true, default_value_t = JwtAlgorithm::Rs256)]
    pub alg: JwtAlgorithm,
    /// Key id header (`kid`).
    #[arg(long, value_name = "KID")]
    pub kid: Option<String>,
    #[command(flatten)]
    pub passphrase: PassphraseArg,
}

/// `now`, a duration from now, or an RFC 3339 time → Unix seconds.
fn parse_when(text: &str) -> std::result::Result<i64, String> {
    let now = token::now();
    if text.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(d) = crate::duration::parse(text) {
        return Ok(now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            format!("`{text}` is neither a duration (10m, 1h) nor an RFC 3339 time (2026-01-31T12:00:00Z)")
        })
}

pub(super) fn run(args: SignArgs, app: &App) -> Result<u8> {
    for (flag, value) in [
        ("--userid", &args.userid),
        ("--userdirectory", &args.userdirectory),
    ] {
        if value.trim().is_empty() {
            return Err(Error::usage(format!("{flag} is empty"))
                .with_hint("the virtual proxy needs both the user id and the user directory"));
        }
    }
    if args.passphrase.passphrase_stdin
        && args.claims_file.as_deref() == Some(std::path::Path::new("-"))
    {
        return Err(
            Error::usage("--passphrase-stdin and --claims-file - both want stdin")
                .with_hint("put the claims in a file, or set QTOOL_KEY_PASSPHRASE instead"),
        );
    }
    let passphrase = args.passphrase.get(app)?;
    let mut extra = Vec::new();
    if let Some(path) = &args.claims_file {
        extra.extend(read_claims_file(path)?);
    }
    for claim in &args.claims {
        extra.push(token::parse_claim_arg(claim)?);
    }
    let key = keys::load_private_key_with(&args.key, passphrase.as_deref())?;
    let spec = token::ClaimSpec {
        userid: args.userid,
        userdirectory: args.userdirectory,
        name: args.name,
        email: args.email,
        groups: args.groups,
        extra,
        audience: args.audience,
        expires_in: args.expires_in,
        not_before: args.not_before,
    };
    let claims = token::build_claims(&spec, token::now());
    let header = token::build_header(args.alg, args.kid.as_deref());
    let jwt = token::sign(&header, &claims, &key, args.alg)?;
    if app.printer.is_structured() && !app.printer.quiet() {
        app.printer
            .document(&json!({"token": jwt, "header": header, "claims": claims}))?;
    } else {
        app.printer.line(&jwt)?;
    }
    Ok(0)
}

fn read_claims_file(path: &std::path::Path) -> Result<Vec<(String, Value)>> {
    let source = crate::input::InputSource::from_arg(path);
    let (name, text) = (
        source.to_string(),
        source.read_to_string(crate::input::InputKind::Credential)?,
    );
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map.into_iter().collect()),
        Ok(_) => Err(
            Error::input(format!("{name}: the claims must be a JSON object"))
                .with_hint("write e.g. {\"role\": \"admin\"}"),
        ),
        Err(e) => Err(Error::input(format!("{name}: invalid JSON: {e}"))
            .with_hint("the claims file must hold one JSON object")),
    }
}

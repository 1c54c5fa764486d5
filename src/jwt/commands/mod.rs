//! `qtool jwt ...` (alias `qtool token`): keys, the virtual proxy certificate, tokens.

mod cert;
mod decode;
mod keygen;
mod proxy_config;
mod sign;
mod verify;

use std::path::Path;

use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use crate::app::App;
use crate::error::{Error, Result};
use crate::input::{InputKind, InputSource};
use crate::jwt::token;
use crate::output::Paint;

#[derive(Debug, Subcommand)]
pub enum JwtCommand {
    /// Generate an RSA private key (0600, PKCS#8), optionally with its certificate.
    Keygen(keygen::KeygenArgs),
    /// Create the self-signed certificate for the virtual proxy's "JWT certificate" box.
    Cert(cert::CertArgs),
    /// Sign a token with Qlik claims (userid, userdirectory, name, email, groups).
    Sign(sign::SignArgs),
    /// Show a token's header and claims WITHOUT checking its signature.
    Decode(decode::DecodeArgs),
    /// Check a token's signature, expiry and audience (exit 0 only when valid).
    Verify(verify::VerifyArgs),
    /// Print the QMC virtual proxy settings (or the QRS JSON body) for JWT authentication.
    #[command(name = "proxy-config")]
    ProxyConfig(proxy_config::ProxyConfigArgs),
}

pub(crate) fn run(cmd: JwtCommand, app: &App) -> Result<u8> {
    crate::jwt::install_crypto_provider();
    match cmd {
        JwtCommand::Keygen(args) => keygen::run(args, app),
        JwtCommand::Cert(args) => cert::run(args, app),
        JwtCommand::Sign(args) => sign::run(args, app),
        JwtCommand::Decode(args) => decode::run(args, app),
        JwtCommand::Verify(args) => verify::run(args, app),
        JwtCommand::ProxyConfig(args) => proxy_config::run(args, app),
    }
}

/// Certificate options shared by `keygen --cert` and `cert`.
#[derive(Debug, Clone, Args)]
pub struct CertOptions {
    /// Certificate validity in days [default: 1825].
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: Option<u32>,
    /// Certificate subject [default: "CN=qtool JWT signing"].
    #[arg(long, value_name = "DN")]
    pub subject: Option<String>,
    /// Subject alternative name: DNS name or IP address (repeatable).
    #[arg(long = "san", value_name = "NAME", value_parser = crate::jwt::cert::parse_san)]
    pub sans: Vec<String>,
}

impl CertOptions {
    pub fn is_set(&self) -> bool {
        self.days.is_some() || self.subject.is_some() || !self.sans.is_empty()
    }

    pub fn spec(&self) -> crate::jwt::cert::CertSpec {
        let default = crate::jwt::cert::CertSpec::default();
        crate::jwt::cert::CertSpec {
            subject: self.subject.clone().unwrap_or(default.subject),
            days: self.days.unwrap_or(default.days),
            sans: self.sans.clone(),
        }
    }
}

/// `--passphrase-stdin` for commands that read a private key.
#[derive(Debug, Clone, Args)]
pub struct PassphraseArg {
    /// Read the passphrase of an encrypted private key from stdin (or set QTOOL_KEY_PASSPHRASE).
    #[arg(long)]
    pub passphrase_stdin: bool,
}

impl PassphraseArg {
    /// The passphrase from stdin when asked for, else from `QTOOL_KEY_PASSPHRASE`.
    pub fn get(&self, app: &App) -> Result<Option<String>> {
        if self.passphrase_stdin {
            Ok(Some(crate::secret::read_stdin("key passphrase")?))
        } else {
            Ok(app.settings.secrets.key_passphrase.clone())
        }
    }
}

/// Refuse to replace an existing file unless `--force`.
pub(crate) fn refuse_overwrite(path: &Path, force: bool) -> Result<()> {
    if !force && path.exists() {
        return Err(
            Error::conflict(format!("{} already exists", path.display()))
                .with_hint("choose another --out, or pass --force to replace it"),
        );
    }
    Ok(())
}

/// A token from the argument, or from stdin when it is `-`.
pub(crate) fn read_token(arg: &str) -> Result<String> {
    let text = if arg == "-" {
        InputSource::Stdin.read_to_string(InputKind::Credential)?
    } else {
        arg.to_string()
    };
    Ok(token::clean(&text).to_string())
}

/// `clap` value parser for durations (bad values exit 2 with the reason).
pub(crate) fn parse_duration(text: &str) -> std::result::Result<std::time::Duration, String> {
    crate::duration::parse(text).map_err(|e| e.to_string())
}

/// Print a decoded token: as a document with `verified` when the output is structured, else
/// `banner` (painted) above a table of its fields.
fn print_token(
    app: &App,
    decoded: token::Decoded,
    verified: bool,
    banner: &str,
    paint: Paint,
) -> Result<u8> {
    if app.printer.is_structured() {
        app.printer.document(&serde_json::json!({
            "header": Value::Object(decoded.header),
            "claims": Value::Object(decoded.claims),
            "verified": verified,
        }))?;
        return Ok(0);
    }
    app.printer.line(&app.printer.paint(banner, paint))?;
    app.printer
        .grid(None, &token_rows(app, &decoded.header, &decoded.claims))?;
    Ok(0)
}

/// Key/value rows for a token: header fields, then claims with human dates for iat/exp/nbf.
fn token_rows(
    app: &App,
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
) -> Vec<Vec<String>> {
    let now = token::now();
    let mut rows = Vec::new();
    for (k, v) in header {
        rows.push(vec![
            app.printer.paint(&format!("header.{k}"), Paint::Bold),
            crate::output::scalar_text(v),
        ]);
    }
    for (k, v) in claims {
        let text = match (k.as_str(), v.as_i64()) {
            ("iat" | "exp" | "nbf", Some(secs)) => {
                let when = token::human_time(secs);
                let relative = if secs > now {
                    format!("in {}", token::human_span(secs - now))
                } else {
                    format!("{} ago", token::human_span(now - secs))
                };
                format!("{secs} ({when}, {relative})")
            }
            _ => match v {
                Value::Array(items) => items
                    .iter()
                    .map(crate::output::scalar_text)
                    .collect::<Vec<_>>()
                    .join(", "),
                other => crate::output::scalar_text(other),
            },
        };
        rows.push(vec![app.printer.paint(k, Paint::Bold), text]);
    }
    rows
}

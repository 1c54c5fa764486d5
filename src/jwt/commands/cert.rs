//! `qtool jwt cert`: replaces `openssl req -new -x509 -key privatekey.pem -out publickey.cer -days 1825`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::{CertOptions, PassphraseArg, refuse_overwrite};
use crate::app::App;
use crate::error::Result;
use crate::jwt::{cert, keys};
use crate::storage::{self, Sensitivity};

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  qtool jwt cert --key privatekey.pem --out publickey.cer --days 1825"
)]
pub struct CertArgs {
    /// The RSA private key (PKCS#8 or PKCS#1 PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Where to write the certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace an existing certificate file.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub options: CertOptions,
    #[command(flatten)]
    pub passphrase: PassphraseArg,
}

pub(super) fn run(args: CertArgs, app: &App) -> Result<u8> {
    refuse_overwrite(&args.out, args.force)?;
    let spec = args.options.spec();
    let passphrase = args.passphrase.get(app)?;
    let key = keys::load_private_key_with(&args.key, passphrase.as_deref())?;
    let generated = cert::self_signed(&key, &spec)?;
    storage::atomic_write(&args.out, generated.pem.as_bytes(), Sensitivity::Public)?;
    let summary = json!({
        "cert": args.out.display().to_string(),
        "subject": spec.subject,
        "bits": key.bits(),
        "serial": generated.serial_hex,
        "not_before": crate::jwt::token::human_time(generated.not_before.unix_timestamp()),
        "not_after": crate::jwt::token::human_time(generated.not_after.unix_timestamp()),
    });
    app.printer.object(&summary, "cert")?;
    Ok(0)
}

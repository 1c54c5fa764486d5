//! `qtool jwt keygen`: replaces `openssl genrsa -out privatekey.pem 4096` (and, with `--cert`,
//! `openssl req -new -x509 -key privatekey.pem -out publickey.cer -days 1825`).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::{CertOptions, refuse_overwrite};
use crate::app::App;
use crate::error::{Error, Result};
use crate::jwt::{cert, keys, pem};
use crate::storage::{self, Sensitivity};

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  qtool jwt keygen --out privatekey.pem\n  \
    qtool jwt keygen --bits 2048 --out privatekey.pem --cert publickey.cer --days 365")]
pub struct KeygenArgs {
    /// Key size in bits.
    #[arg(long, default_value_t = 4096, value_parser = parse_bits, value_name = "BITS")]
    pub bits: u32,
    /// Where to write the private key (created 0600).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Write PKCS#1 (`BEGIN RSA PRIVATE KEY`) instead of PKCS#8 (`BEGIN PRIVATE KEY`).
    #[arg(long)]
    pub pkcs1: bool,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
    /// Also write the self-signed certificate for the virtual proxy to this file.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    #[command(flatten)]
    pub cert_options: CertOptions,
}

fn parse_bits(text: &str) -> std::result::Result<u32, String> {
    match text {
        "2048" => Ok(2048),
        "3072" => Ok(3072),
        "4096" => Ok(4096),
        _ => Err(format!(
            "`{text}` is not a supported key size (2048, 3072 or 4096)"
        )),
    }
}

pub(super) fn run(args: KeygenArgs, app: &App) -> Result<u8> {
    if args.cert.is_none() && args.cert_options.is_set() {
        return Err(Error::usage("--days, --subject and --san need --cert FILE")
            .with_hint("add --cert publickey.cer, or create it later with `qtool jwt cert`"));
    }
    if args.cert.as_deref() == Some(args.out.as_path()) {
        return Err(Error::usage("--cert and --out name the same file"));
    }
    refuse_overwrite(&args.out, args.force)?;
    if let Some(cert_path) = &args.cert {
        refuse_overwrite(cert_path, args.force)?;
    }
    // Validate the certificate options before spending time on the key.
    let spec = args.cert_options.spec();
    if args.cert.is_some() {
        cert::parse_subject(&spec.subject)?;
    }

    let pkcs8 = keys::generate(args.bits)?;
    let (label, der, format) = if args.pkcs1 {
        (
            "RSA PRIVATE KEY",
            keys::pkcs8_to_pkcs1(&pkcs8)?,
            keys::KeyFormat::Pkcs1,
        )
    } else {
        ("PRIVATE KEY", pkcs8, keys::KeyFormat::Pkcs8)
    };
    let key_pem = pem::encode(label, &der);
    let key = keys::parse_private_key(key_pem.as_bytes())?;
    let generated = match &args.cert {
        Some(_) => Some(cert::self_signed(&key, &spec)?),
        None => None,
    };
    storage::atomic_write(&args.out, key_pem.as_bytes(), Sensitivity::Secret)?;
    let mut summary = json!({
        "key": args.out.display().to_string(),
        "bits": args.bits,
        "format": format.as_str(),
        "mode": "0600",
    });
    if let (Some(path), Some(generated)) = (&args.cert, &generated) {
        storage::atomic_write(path, generated.pem.as_bytes(), Sensitivity::Public)?;
        summary["cert"] = json!(path.display().to_string());
        summary["subject"] = json!(spec.subject);
        summary["not_after"] = json!(crate::jwt::token::human_time(
            generated.not_after.unix_timestamp()
        ));
        summary["serial"] = json!(generated.serial_hex);
    }
    app.printer.object(&summary, "key")?;
    Ok(0)
}

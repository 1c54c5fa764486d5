//! `qtool jwt verify`: exit 0 only for a valid token; otherwise exit 1 with the reason.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{parse_duration, print_token, read_token};
use crate::app::App;
use crate::error::{Error, Result};
use crate::jwt::keys::{self, PublicSource};
use crate::jwt::token::{self, JwtAlgorithm, VerifyError, VerifyOptions};
use crate::output::Paint;

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 valid, 1 not valid (the reason is printed), 3 unreadable \
    certificate.\nExample:\n  qtool jwt verify \"$TOKEN\" --cert publickey.cer --audience 112adams"
)]
pub struct VerifyArgs {
    /// The token, or `-` to read it from stdin.
    #[arg(value_name = "TOKEN|-")]
    pub token: String,
    /// Certificate (as pasted into the virtual proxy) or public key PEM; a private key also works.
    #[arg(long, value_name = "FILE", visible_alias = "key")]
    pub cert: PathBuf,
    /// Required audience (`aud`), as set on the virtual proxy.
    #[arg(long, value_name = "AUD")]
    pub audience: Option<String>,
    /// Clock skew allowed for exp/nbf.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub leeway: Duration,
    /// Required algorithm; any of them by default.
    #[arg(long, value_name = "ALG", value_enum, ignore_case = true)]
    pub alg: Option<JwtAlgorithm>,
}

pub(super) fn run(args: VerifyArgs, app: &App) -> Result<u8> {
    let key = keys::load_public_key(&args.cert)?;
    let text = read_token(&args.token)?;
    let options = VerifyOptions {
        alg: args.alg,
        audience: args.audience.clone(),
        leeway: args.leeway,
    };
    let decoded = token::verify(&text, &key, &options).map_err(|e| failure(&e))?;
    if args.audience.is_none()
        && let Some(aud) = decoded.claims.get("aud")
    {
        crate::output::warn(&format!(
            "audience not checked (the token has aud {}); pass --audience to check it as the virtual proxy does",
            crate::output::scalar_text(aud)
        ));
    }
    let signer = match &key.source {
        PublicSource::Certificate { subject, .. } => format!("certificate {subject}"),
        _ => format!("RSA {}-bit key", key.bits),
    };
    print_token(
        app,
        decoded,
        true,
        &format!("VERIFIED: signature valid ({signer}), not expired"),
        Paint::Green,
    )
}

fn failure(e: &VerifyError) -> Error {
    let hint = match e {
        VerifyError::Malformed(why) if why.contains("claim") => {
            "exp and nbf are seconds since 1970 (numbers); sign the token with `qtool jwt sign`"
        }
        VerifyError::Malformed(_) => {
            "pass the whole token (three base64url parts separated by dots)"
        }
        VerifyError::AlgorithmMismatch { .. } => {
            "sign with the expected --alg, or verify with the token's algorithm"
        }
        VerifyError::BadSignature => {
            "check that --cert is the certificate of the key that signed the token"
        }
        VerifyError::Expired { .. } => "sign a new token (`qtool jwt sign ... --expires-in 1h`)",
        VerifyError::NotYetValid { .. } => {
            "wait, or sign without --not-before; check the clocks of both machines"
        }
        VerifyError::WrongAudience { .. } => {
            "sign with --audience set to the virtual proxy's JWT audience"
        }
        VerifyError::MissingClaim(_) => {
            "sign the token with `qtool jwt sign`, which sets iat and exp"
        }
        VerifyError::UnsupportedCritical(_) => {
            "sign the token without a `crit` header: Qlik's proxy does not implement JWS extensions either"
        }
        VerifyError::Other(_) => "check the token and the certificate",
    };
    Error::failed(e.to_string()).with_hint(hint)
}

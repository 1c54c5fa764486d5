//! `qtool jwt decode`: header and claims with readable dates, clearly marked UNVERIFIED.

use clap::Args;

use super::{print_token, read_token};
use crate::app::App;
use crate::error::{Error, Result};
use crate::jwt::token;
use crate::output::Paint;

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The token, or `-` to read it from stdin.
    #[arg(value_name = "TOKEN|-")]
    pub token: String,
}

pub(super) fn run(args: DecodeArgs, app: &App) -> Result<u8> {
    let text = read_token(&args.token)?;
    let decoded = token::decode_unverified(&text).map_err(|why| {
        Error::input(format!("malformed token: {why}"))
            .with_hint("pass the whole token (three base64url parts separated by dots)")
    })?;
    print_token(
        app,
        decoded,
        false,
        "UNVERIFIED: signature not checked (use `qtool jwt verify TOKEN --cert FILE`)",
        Paint::Yellow,
    )
}

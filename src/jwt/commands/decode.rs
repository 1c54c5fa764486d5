//! `qtool jwt decode`: header and claims with readable dates, clearly marked UNVERIFIED.

use clap::Args;
use serde_json::{Value, json};

use super::{read_token, token_rows};
use crate::app::App;
use crate::error::{Error, Result};
use crate::jwt::token;
use crate::output::{Paint, render_table};

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The token, or `-` to read it from stdin.
    #[arg(value_name = "TOKEN|-")]
    pub token: String,
}

pub fn run(args: DecodeArgs, app: &App) -> Result<u8> {
    let text = read_token(&args.token)?;
    let decoded = token::decode_unverified(&text).map_err(|why| {
        Error::input(format!("malformed token: {why}"))
            .with_hint("pass the whole token (three base64url parts separated by dots)")
    })?;
    if app.printer.is_structured() {
        app.printer.document(&json!({
            "header": Value::Object(decoded.header),
            "claims": Value::Object(decoded.claims),
            "verified": false,
        }))?;
        return Ok(0);
    }
    let mut out = app.printer.paint(
        "UNVERIFIED: signature not checked (use `qtool jwt verify TOKEN --cert FILE`)",
        Paint::Yellow,
    );
    out.push('\n');
    out.push_str(&render_table(
        None,
        &token_rows(app, &decoded.header, &decoded.claims),
    ));
    app.printer.write_raw(out.as_bytes())?;
    Ok(0)
}

//! `qtool jwt ...` (being built: see issue 3).

use clap::Subcommand;

use crate::app::App;
use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum JwtCommand {
    /// Generate an RSA private key.
    Keygen,
}

pub fn run(_cmd: JwtCommand, _app: &App) -> Result<u8> {
    Err(Error::failed(
        "jwt commands are not available in this build yet",
    ))
}

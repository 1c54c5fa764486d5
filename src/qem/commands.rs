//! `qtool qem ...` (being built: see issue 6).

use clap::Subcommand;

use crate::app::App;
use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum QemCommand {
    /// Log in and cache the session id.
    Login,
}

pub fn run(_cmd: QemCommand, _app: &App) -> Result<u8> {
    Err(Error::failed(
        "qem commands are not available in this build yet",
    ))
}

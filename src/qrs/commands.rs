//! `qtool qrs ...` (being built: see issue 5).

use clap::Args;

use crate::app::App;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct QrsArgs {
    /// Resource name.
    pub resource: String,
}

pub fn run(_args: QrsArgs, _app: &App) -> Result<u8> {
    Err(Error::failed(
        "qrs commands are not available in this build yet",
    ))
}

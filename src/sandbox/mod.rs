//! Embedded QSEoW + QEM emulator on loopback (being built: see issue 4).

pub mod identity;
pub mod qem;
pub mod qrs;

use clap::Args;

use crate::app::App;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Run the end-to-end walkthrough against a fresh sandbox.
    #[arg(long)]
    pub walkthrough: bool,
}

pub fn run(_args: SandboxArgs, _app: &App) -> Result<u8> {
    Err(Error::failed(
        "the sandbox is not available in this build yet",
    ))
}

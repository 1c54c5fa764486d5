//! `qtool qem ...`: one module per area, each with a `run` function.
//!
//! Replicate/Compose server names are given with `--server NAME` on the commands that need one.
//! That flag shadows the global `--server URL` there, so the QEM URL comes from the context (or
//! `QTOOL_SERVER`) for those commands.

mod audit;
mod endpoint;
mod login;
pub mod server;
pub mod tables;
pub mod task;

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::client::QemClient;
use crate::app::App;
use crate::error::Result;

pub use server::{AclArgs, ServerCommand};
pub use task::TaskCommand;

#[derive(Debug, Subcommand)]
pub enum QemCommand {
    /// Log in with the context's credentials and cache the session id (reused by later runs).
    Login,
    /// End the cached session on the server and forget it.
    Logout,
    /// Replicate/Compose servers registered in QEM: list, details, register, ACLs, license.
    #[command(subcommand)]
    Server(ServerCommand),
    /// Replication tasks: list, export/import definitions, start/stop/wait, delete, tables.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Endpoints (database connections) of a server: list, test, delete.
    #[command(subcommand)]
    Endpoint(endpoint::EndpointCommand),
    /// Export the QEM audit trail.
    #[command(name = "audit-trail", subcommand)]
    AuditTrail(audit::AuditCommand),
    /// Make QEM match a manifest: servers, tasks, run states, endpoints and ACLs (idempotent).
    Apply(crate::qem::apply::ApplyArgs),
}

/// `--server NAME`: the Replicate/Compose server as registered in QEM.
#[derive(Debug, Clone, Args)]
pub struct ServerOpt {
    /// Replicate/Compose server name as registered in QEM.
    #[arg(long = "server", id = "server", value_name = "SERVER")]
    pub server: String,
}

/// A file argument (`-f FILE`, `-` for stdin).
#[derive(Debug, Clone, Args)]
pub struct FileArg {
    /// Input file (`-` reads stdin).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
}

pub fn run(cmd: QemCommand, app: &App) -> Result<u8> {
    let client = || client_for(app, shadowed_server(&cmd));
    match &cmd {
        QemCommand::Login => login::login(app, &client()?),
        QemCommand::Logout => login::logout(app, &client()?),
        QemCommand::Server(c) => server::run(c, app, &client()?),
        QemCommand::Task(c) => task::run(c, app, &client()?),
        QemCommand::Endpoint(c) => endpoint::run(c, app, &client()?),
        QemCommand::AuditTrail(c) => audit::run(c, app, &client()?),
        QemCommand::Apply(args) => crate::qem::apply::run(args, app, client()?),
    }
}

/// The value given to a subcommand's own `--server NAME` (clap copies it into the global one).
fn shadowed_server(cmd: &QemCommand) -> Option<String> {
    match cmd {
        QemCommand::Task(c) => c.server_name(),
        QemCommand::Endpoint(c) => Some(c.server_name()),
        _ => None,
    }
}

/// The client for this run. A subcommand's `--server NAME` is not the QEM URL: drop it from the
/// global flags (the URL then comes from `QTOOL_SERVER` or the context).
pub fn client_for(app: &App, shadowed: Option<String>) -> Result<QemClient> {
    let mut global = app.global.clone();
    if shadowed.is_some() && global.server == shadowed {
        global.server = std::env::var("QTOOL_SERVER").ok().filter(|v| !v.is_empty());
    }
    let target = crate::context::resolve::resolve(&global, &app.store()?)?;
    QemClient::new(target)
}

/// Read a whole input file (`-` = stdin).
pub fn read_input(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| crate::error::Error::io("reading stdin", e))?;
        return Ok(buf);
    }
    std::fs::read(path)
        .map_err(|e| crate::error::Error::io(format!("reading {}", path.display()), e))
}

//! `qtool qem ...`: one module per area, each with a `run` function that translates flags into
//! the typed options of [`crate::qem::ops`] (or a client call), and prints the result.
//!
//! The Replicate/Compose server and the task are positional arguments, in the order of the REST
//! path `/servers/{server}/tasks/{task}`: `qtool qem task start SERVER TASK`. `--server` is the
//! global flag everywhere: the QEM URL.

mod apply;
mod audit;
mod endpoint;
mod login;
pub(crate) mod server;
pub(crate) mod tables;
pub(crate) mod task;

use clap::{Args, Subcommand};

use super::client::QemClient;
use crate::app::App;
use crate::error::{Error, Result};
use crate::session_cache::{SessionCache, SessionKind};
use crate::settings::Origin;

pub(crate) use server::ServerCommand;
pub(crate) use task::TaskCommand;

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
    Apply(apply::ApplyArgs),
}

/// `SERVER`: the Replicate/Compose server as registered in QEM.
#[derive(Debug, Clone, Args)]
pub struct ServerArg {
    /// Replicate/Compose server name as registered in QEM.
    #[arg(id = "qem_server", value_name = "SERVER")]
    pub server: String,
}

pub(crate) fn run(cmd: QemCommand, app: &App) -> Result<u8> {
    let client = || connect(app);
    match &cmd {
        QemCommand::Login => login::login(app, &client()?),
        QemCommand::Logout => login::logout(app, &client()?),
        QemCommand::Server(c) => server::run(c, app, &client()?),
        QemCommand::Task(c) => task::run(c, app, &client()?),
        QemCommand::Endpoint(c) => endpoint::run(c, app, &client()?),
        QemCommand::AuditTrail(c) => audit::run(c, app, &client()?),
        QemCommand::Apply(args) => apply::run(args, app, client),
    }
}

/// The run's QEM client: the target from flags, environment and context, and the session cache.
pub(crate) fn connect(app: &App) -> Result<QemClient> {
    let target = app.target().map_err(|e| server_name_hint(e, app))?;
    QemClient::new(
        target,
        SessionCache::new(app.settings.paths.cache_dir(), SessionKind::Qem),
    )
}

/// `--server` given a Replicate/Compose server name (the QEM subcommands' old spelling): say
/// where the name goes now.
fn server_name_hint(e: Error, app: &App) -> Error {
    let Some(server) = &app.settings.connection.server else {
        return e;
    };
    if server.origin != Origin::Flag || server.value.contains("://") {
        return e;
    }
    Error::usage(format!(
        "--server is the QEM URL; `{}` is not a URL",
        server.value
    ))
    .with_hint(
        "name the Replicate/Compose server as an argument, e.g. `qtool qem task ls SERVER` \
         (the QEM URL comes from the context, or --server https://...)",
    )
}

//! `qem endpoint ...`: endpoints (database connections) of a server.

use clap::{Args, Subcommand};
use serde_json::json;

use super::ServerArg;
use super::task::wait_limit;
use crate::app::App;
use crate::error::{Error, Result};
use crate::output::{col, status};
use crate::qem::client::QemClient;
use crate::qem::ops::server as ops;

#[derive(Debug, Subcommand)]
pub enum EndpointCommand {
    /// List the server's endpoints.
    #[command(visible_alias = "list")]
    Ls(ServerArg),
    /// Test the connection of an endpoint.
    Test(EndpointArgs),
    /// Delete an endpoint (no task may use it).
    #[command(visible_alias = "remove")]
    Rm(EndpointArgs),
}

#[derive(Debug, Args)]
pub struct EndpointArgs {
    #[command(flatten)]
    pub server: ServerArg,
    /// Endpoint name.
    #[arg(value_name = "ENDPOINT")]
    pub name: String,
}

pub(super) fn run(cmd: &EndpointCommand, app: &App, client: &QemClient) -> Result<u8> {
    match cmd {
        EndpointCommand::Ls(s) => {
            let rows = app.block_on(async { Ok(client.endpoint_list(&s.server).await?) })?;
            app.printer.list(
                &rows,
                &[
                    col("NAME", "name"),
                    col("ROLE", "role"),
                    col("TYPE", "type"),
                    col("LICENSED", "is_licensed"),
                    col("DESCRIPTION", "description"),
                ],
                "name",
            )?;
        }
        EndpointCommand::Test(a) => {
            let (server, name) = (&a.server.server, &a.name);
            let test = app.block_on(ops::test_endpoint(client, server, name, wait_limit(app)))?;
            let doc = json!({
                "server": server, "name": name, "status": test.status,
                "message": test.message,
                "detailed_message": test.detailed_message,
            });
            app.printer.object(&doc, "status")?;
            if test.failed() {
                return Err(Error::failed(format!(
                    "endpoint `{name}` on `{server}` cannot connect: {}",
                    test.message
                ))
                .with_hint("check the endpoint settings in QEM"));
            }
        }
        EndpointCommand::Rm(a) => {
            app.block_on(async { Ok(client.delete_endpoint(&a.server.server, &a.name).await?) })?;
            status(&format!(
                "deleted endpoint `{}` on `{}`",
                a.name, a.server.server
            ));
        }
    }
    Ok(0)
}

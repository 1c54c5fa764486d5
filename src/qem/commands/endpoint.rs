//! `qem endpoint ...`: endpoints (database connections) of a server.

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;

use super::ServerOpt;
use crate::app::App;
use crate::error::{Error, Result};
use crate::output::{col, status};
use crate::qem::client::QemClient;
use crate::qem::model;

#[derive(Debug, Subcommand)]
pub enum EndpointCommand {
    /// List the server's endpoints.
    #[command(visible_alias = "list")]
    Ls(ServerOpt),
    /// Test the connection of an endpoint.
    Test(TestArgs),
    /// Delete an endpoint (no task may use it).
    #[command(visible_alias = "remove")]
    Rm(EndpointArgs),
}

impl EndpointCommand {
    pub fn server_name(&self) -> String {
        match self {
            EndpointCommand::Ls(s) => s.server.clone(),
            EndpointCommand::Test(a) => a.endpoint.server.server.clone(),
            EndpointCommand::Rm(a) => a.server.server.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct EndpointArgs {
    #[command(flatten)]
    pub server: ServerOpt,
    /// Endpoint name.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
}

fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    crate::duration::parse(text).map_err(|e| e.to_string())
}

pub fn run(cmd: &EndpointCommand, app: &App, client: &QemClient) -> Result<u8> {
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
            let (server, name) = (&a.endpoint.server.server, &a.endpoint.name);
            let v =
                app.block_on(async { Ok(client.test_endpoint(server, name, a.timeout).await?) })?;
            // `status` (SDK) or `requeststate` (cURL doc).
            let state = [
                model::str_field(&v, "status"),
                model::str_field(&v, "requeststate"),
            ]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or("UNKNOWN")
            .to_string();
            let doc = json!({
                "server": server, "name": name, "status": state,
                "message": model::str_field(&v, "message"),
                "detailed_message": model::str_field(&v, "detailed_message"),
            });
            app.printer.object(&doc, "status")?;
            if state.eq_ignore_ascii_case("ERROR") {
                return Err(Error::failed(format!(
                    "endpoint `{name}` on `{server}` cannot connect: {}",
                    model::str_field(&v, "message")
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

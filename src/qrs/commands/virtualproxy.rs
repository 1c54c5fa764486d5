//! `qrs virtualproxy create-jwt`: the QMC clicks of the JWT tutorial as one command
//! ([`crate::qrs::ops::virtualproxy`]).

use std::path::PathBuf;

use clap::Args;

use super::VirtualproxyCommand;
use super::generic::{self, connect};
use super::output::print_one;
use crate::app::App;
use crate::error::Result;
use crate::input::{InputKind, InputSource};
use crate::qrs::ops::virtualproxy::{self as ops, JwtProxy};
use crate::qrs::resources::ResourceKind;

#[derive(Debug, Args)]
pub struct CreateJwtArgs {
    /// Certificate (PEM) with the public key that verifies the tokens (publickey.cer).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// JWT audience the tokens must carry (`aud`).
    #[arg(long, value_name = "AUD")]
    pub audience: String,
    /// Virtual proxy prefix (lowercase, e.g. jwt).
    #[arg(long, value_name = "PREFIX")]
    pub prefix: String,
    /// Description (default: "JWT <prefix>").
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Session cookie header name (default: X-Qlik-Session-<prefix>).
    #[arg(long, value_name = "NAME")]
    pub cookie_name: Option<String>,
    /// Token claim holding the user id.
    #[arg(long, value_name = "CLAIM", default_value = "userid")]
    pub userid_attribute: String,
    /// Token claim holding the user directory.
    #[arg(long, value_name = "CLAIM", default_value = "userdirectory")]
    pub userdirectory_attribute: String,
    /// Host allow list entry (repeatable), e.g. the server's IP address.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_host: Vec<String>,
    /// Do not add the central node for load balancing nor link the central proxy.
    #[arg(long)]
    pub no_link: bool,
    /// Print the virtual proxy that would be created, and stop.
    #[arg(long)]
    pub dry_run: bool,
}

pub(super) fn run(cmd: VirtualproxyCommand, app: &App) -> Result<u8> {
    let res = ResourceKind::VirtualProxyConfig;
    match cmd {
        VirtualproxyCommand::Common(v) => generic::run(res, v, app),
        VirtualproxyCommand::Create(a) => generic::create(res, a, app),
        VirtualproxyCommand::CreateJwt(a) => create_jwt(a, app),
    }
}

fn create_jwt(a: CreateJwtArgs, app: &App) -> Result<u8> {
    let cert_pem = InputSource::File(a.cert.clone()).read_to_string(InputKind::Credential)?;
    if !ops::is_pem_certificate(&cert_pem) {
        return Err(ops::not_a_certificate(&a.cert));
    }
    let spec = JwtProxy {
        cert_pem,
        audience: a.audience,
        prefix: a.prefix,
        description: a.description,
        cookie_name: a.cookie_name,
        userid_attribute: a.userid_attribute,
        userdirectory_attribute: a.userdirectory_attribute,
        allow_hosts: a.allow_host,
        link: !a.no_link,
    };
    // Checked before connecting: a wrong prefix is reported even without a context.
    spec.body()?;
    let client = connect(app)?;
    let created = app.block_on(ops::create_jwt(&client, &spec, a.dry_run))?;
    if a.dry_run {
        app.printer.document(&created)?;
    } else {
        print_one(&app.printer, ResourceKind::VirtualProxyConfig, created)?;
    }
    Ok(0)
}

//! `qem server ...`: registered Replicate/Compose servers, their ACLs, license and repository.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::app::App;
use crate::error::{Error, Result};
use crate::input::{InputKind, InputSource};
use crate::output::{col, status};
use crate::qem::client::QemClient;
use crate::qem::model::{self, Role, ServerKind};
use crate::qem::ops::server::{self as ops, Account, Registration};
use crate::storage::{self, Sensitivity};

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// List the servers QEM manages.
    #[command(visible_alias = "list")]
    Ls,
    /// Server details: state, version, license, task summary, resource use.
    Get(NameArg),
    /// The server's registration (host, port, user; the password is a placeholder).
    Def(NameArg),
    /// Register a server, or update its registration (PutServer is an upsert).
    Register(RegisterArgs),
    /// Unregister a server (QEM stops monitoring its tasks and drops its roles).
    #[command(visible_alias = "remove")]
    Rm(NameArg),
    /// Register a license on a Replicate server.
    License(LicenseArgs),
    /// The server's explicit ACL.
    #[command(subcommand)]
    Acl(AclArgs),
    /// Export the server's whole repository (tasks, endpoints, settings) as JSON.
    ExportAll(ExportAllArgs),
    /// Import a repository export into the server (merge: nothing is removed).
    ImportAll(ImportAllArgs),
}

#[derive(Debug, Args)]
pub struct NameArg {
    /// Server name as registered in QEM.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Name to register the server under.
    pub name: String,
    /// Host name of the Replicate/Compose machine.
    #[arg(long)]
    pub host: String,
    /// Port of its REST service.
    #[arg(long, default_value_t = 443)]
    pub port: u16,
    #[arg(long = "type", value_enum, default_value_t = ServerKind::Replicate)]
    pub kind: ServerKind,
    /// Administrator account on that machine.
    #[arg(long)]
    pub user: String,
    /// Read that account's password from stdin.
    #[arg(long, required = true)]
    pub password_stdin: bool,
    #[arg(long, default_value = "")]
    pub description: String,
    /// Do not verify the server's TLS certificate.
    #[arg(long)]
    pub no_verify_certificate: bool,
    /// Register without monitoring.
    #[arg(long)]
    pub unmonitored: bool,
}

#[derive(Debug, Args)]
pub struct LicenseArgs {
    pub name: String,
    /// License file (key=value lines as issued, or JSON).
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum AclArgs {
    /// Show the explicit ACL (one row per role and account).
    Get(NameArg),
    /// Replace the ACL from a file, or add one account to a role.
    Set(AclSetArgs),
    /// Remove one account (from one role or all), or the whole explicit ACL.
    Rm(AclRmArgs),
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("who").args(["user", "group"]).multiple(false))]
pub struct AclSetArgs {
    pub name: String,
    /// ACL document (JSON as `acl get --json` prints or the API's AemAuthorizationAcl).
    #[arg(short = 'f', long, value_name = "FILE", conflicts_with_all = ["role", "user", "group"],
          required_unless_present = "role")]
    pub file: Option<PathBuf>,
    #[arg(long, value_enum, requires = "who")]
    pub role: Option<Role>,
    /// Account as DOMAIN\user.
    #[arg(long)]
    pub user: Option<String>,
    /// Group as DOMAIN\group.
    #[arg(long)]
    pub group: Option<String>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("who").args(["user", "group"]).multiple(false))]
pub struct AclRmArgs {
    pub name: String,
    /// Only from this role (default: every role).
    #[arg(long, value_enum, requires = "who")]
    pub role: Option<Role>,
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub group: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportAllArgs {
    pub name: String,
    /// Write to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportAllArgs {
    pub name: String,
    /// The export to import (`-` = stdin).
    #[arg(short = 'f', long, value_name = "FILE")]
    pub file: PathBuf,
}

pub(crate) fn run(cmd: &ServerCommand, app: &App, client: &QemClient) -> Result<u8> {
    match cmd {
        ServerCommand::Ls => {
            let rows = app.block_on(ops::list(client))?;
            app.printer.list(
                &rows,
                &[
                    col("NAME", "name"),
                    col("TYPE", "kind"),
                    col("HOST", "host"),
                    col("PORT", "port"),
                    col("STATE", "state"),
                    col("VERSION", "version"),
                    col("LAST CONNECTION", "last_connection"),
                ],
                "name",
            )?;
        }
        ServerCommand::Get(a) => {
            let v = app.block_on(async { Ok(client.server_details(&a.name).await?) })?;
            app.printer.object(&v, "name")?;
        }
        ServerCommand::Def(a) => {
            let v = app.block_on(ops::definition(client, &a.name))?;
            app.printer.object(&v, "name")?;
        }
        ServerCommand::Register(a) => {
            let registration = Registration {
                name: a.name.clone(),
                kind: a.kind,
                host: a.host.clone(),
                port: a.port,
                user: a.user.clone(),
                password: crate::secret::read_stdin("server password")?,
                description: a.description.clone(),
                verify_certificate: !a.no_verify_certificate,
                monitored: !a.unmonitored,
            };
            let existed = app.block_on(ops::register(client, &registration))?;
            status(&format!(
                "{} server `{}` ({}:{})",
                if existed { "updated" } else { "registered" },
                a.name,
                a.host,
                a.port
            ));
        }
        ServerCommand::Rm(a) => {
            app.block_on(async { Ok(client.delete_server(&a.name).await?) })?;
            status(&format!("unregistered server `{}`", a.name));
        }
        ServerCommand::License(a) => {
            let text = InputSource::from_arg(&a.file).read(InputKind::Document)?;
            app.block_on(async { Ok(client.put_license(&a.name, text).await?) })?;
            status(&format!("registered the license on `{}`", a.name));
        }
        ServerCommand::Acl(acl) => return run_acl(acl, app, client),
        ServerCommand::ExportAll(a) => {
            let bytes = app.block_on(async { Ok(client.export_all(&a.name).await?) })?;
            write_out(app, a.out.as_deref(), &bytes)?;
        }
        ServerCommand::ImportAll(a) => {
            let body = InputSource::from_arg(&a.file).read(InputKind::Document)?;
            serde_json::from_slice::<Value>(crate::qem::client::strip_comment_line(&body))
                .map_err(|e| {
                    Error::input(format!("{} is not JSON: {e}", a.file.display()))
                        .with_hint("use a file written by `qtool qem server export-all`")
                })?;
            app.block_on(async { Ok(client.import_all(&a.name, body).await?) })?;
            status(&format!("imported {} into `{}`", a.file.display(), a.name));
        }
    }
    Ok(0)
}

/// Write bytes to `--out` atomically, or to stdout.
pub(crate) fn write_out(app: &App, out: Option<&std::path::Path>, bytes: &[u8]) -> Result<()> {
    match out {
        Some(path) => {
            storage::atomic_write(path, bytes, Sensitivity::Public)?;
            status(&format!("wrote {} ({} bytes)", path.display(), bytes.len()));
            Ok(())
        }
        None => app.printer.write_raw(bytes),
    }
}

fn run_acl(cmd: &AclArgs, app: &App, client: &QemClient) -> Result<u8> {
    match cmd {
        AclArgs::Get(a) => {
            let acl = app.block_on(ops::acl(client, &a.name))?;
            if app.printer.is_structured() {
                app.printer.document(&acl)?;
            } else {
                let entries = model::acl_entries(&acl);
                if entries.is_empty() {
                    status(&format!(
                        "server `{}` has no explicit ACL (permissions are inherited)",
                        a.name
                    ));
                }
                app.printer.list(
                    &model::acl_rows(&entries),
                    &[
                        col("ROLE", "role"),
                        col("TYPE", "type"),
                        col("NAME", "name"),
                    ],
                    "name",
                )?;
            }
        }
        AclArgs::Set(a) => {
            if let Some(file) = &a.file {
                let bytes = InputSource::from_arg(file).read(InputKind::Document)?;
                let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    Error::input(format!("{} is not JSON: {e}", file.display()))
                        .with_hint("start from `qtool qem server acl get NAME --json`")
                })?;
                let acl = ops::normalize_acl_input(&doc)?;
                app.block_on(async { Ok(client.put_server_acl(&a.name, &acl).await?) })?;
                status(&format!("replaced the ACL of `{}`", a.name));
                return Ok(0);
            }
            let account = Account::from_flags(a.user.as_deref(), a.group.as_deref());
            let (Some(role), Some(account)) = (a.role, account) else {
                return Err(Error::usage("--role needs --user or --group"));
            };
            let changed = app.block_on(ops::grant(client, &a.name, role, &account))?;
            let Account { kind, name: who } = &account;
            status(&if changed {
                format!("added {kind} `{who}` as {role} on `{}`", a.name)
            } else {
                format!("{kind} `{who}` already is {role} on `{}`", a.name)
            });
        }
        AclArgs::Rm(a) => {
            let Some(account) = Account::from_flags(a.user.as_deref(), a.group.as_deref()) else {
                app.block_on(async { Ok(client.delete_server_acl(&a.name).await?) })?;
                status(&format!("removed the explicit ACL of `{}`", a.name));
                return Ok(0);
            };
            let removed = app.block_on(ops::revoke(client, &a.name, a.role, &account))?;
            let Account { kind, name: who } = &account;
            status(&format!(
                "removed {kind} `{who}` from {removed} role(s) on `{}`",
                a.name
            ));
        }
    }
    Ok(0)
}

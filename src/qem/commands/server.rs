//! `qem server ...`: registered Replicate/Compose servers, their ACLs, license and repository.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::read_input;
use crate::app::App;
use crate::error::{Error, Result};
use crate::output::{col, status};
use crate::qem::client::QemClient;
use crate::qem::model::{self, AclEntry, Principal, Role, ServerKind};
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

pub fn run(cmd: &ServerCommand, app: &App, client: &QemClient) -> Result<u8> {
    match cmd {
        ServerCommand::Ls => {
            let servers = app.block_on(async { Ok(client.server_list().await?) })?;
            let rows: Vec<Value> = servers
                .into_iter()
                .map(|mut s| {
                    let kind = model::server_kind(&s).as_str();
                    let port = model::port_text(&s);
                    if let Value::Object(map) = &mut s {
                        map.insert("kind".into(), kind.into());
                        map.insert("port".into(), port.into());
                    }
                    s
                })
                .collect();
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
            let v = app.block_on(async { Ok(client.server_def(&a.name).await?) })?;
            let v = v.ok_or_else(|| not_registered(&a.name))?;
            app.printer.object(&v, "name")?;
        }
        ServerCommand::Register(a) => {
            let password = crate::secret::read_stdin("server password")?;
            let def = server_definition(
                &a.name,
                a.kind,
                &a.host,
                a.port,
                &a.user,
                &password,
                &a.description,
                !a.no_verify_certificate,
                !a.unmonitored,
            );
            let existed = app.block_on(async {
                let existed = client.server_def(&a.name).await?.is_some();
                client.put_server(&a.name, &def).await?;
                Ok(existed)
            })?;
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
            let text = read_input(&a.file)?;
            app.block_on(async { Ok(client.put_license(&a.name, text).await?) })?;
            status(&format!("registered the license on `{}`", a.name));
        }
        ServerCommand::Acl(acl) => return run_acl(acl, app, client),
        ServerCommand::ExportAll(a) => {
            let bytes = app.block_on(async { Ok(client.export_all(&a.name).await?) })?;
            write_out(app, a.out.as_deref(), &bytes)?;
        }
        ServerCommand::ImportAll(a) => {
            let body = read_input(&a.file)?;
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

/// The PutServer body (`$type` selects Replicate or Compose).
#[allow(clippy::too_many_arguments)]
pub fn server_definition(
    name: &str,
    kind: ServerKind,
    host: &str,
    port: u16,
    user: &str,
    password: &str,
    description: &str,
    verify_certificate: bool,
    monitored: bool,
) -> Value {
    json!({
        "$type": kind.wire_type(),
        "name": name,
        "description": description,
        "host": host,
        "port": port.to_string(),
        "username": user,
        "password": password,
        "verify_server_certificate": verify_certificate,
        "monitored": monitored,
    })
}

fn not_registered(name: &str) -> Error {
    Error::not_found(format!("no server `{name}` is registered in QEM"))
        .with_hint("list them with `qtool qem server ls`")
}

/// Write bytes to `--out` atomically, or to stdout.
pub fn write_out(app: &App, out: Option<&std::path::Path>, bytes: &[u8]) -> Result<()> {
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
            let acl = app.block_on(async { Ok(client.server_acl(&a.name).await?) })?;
            let acl = acl.unwrap_or_else(|| json!({}));
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
                let bytes = read_input(file)?;
                let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    Error::input(format!("{} is not JSON: {e}", file.display()))
                        .with_hint("start from `qtool qem server acl get NAME --json`")
                })?;
                let acl = normalize_acl_input(&doc)?;
                app.block_on(async { Ok(client.put_server_acl(&a.name, &acl).await?) })?;
                status(&format!("replaced the ACL of `{}`", a.name));
                return Ok(0);
            }
            let (kind, name) = principal(a.user.as_deref(), a.group.as_deref())
                .ok_or_else(|| Error::usage("--role needs --user or --group"))?;
            let role = a
                .role
                .ok_or_else(|| Error::usage("--user and --group need --role"))?;
            let entry = AclEntry { role, kind, name };
            let changed = app.block_on(async {
                let acl = client
                    .server_acl(&a.name)
                    .await?
                    .unwrap_or_else(|| json!({}));
                let mut entries = model::acl_entries(&acl);
                let key = model::acl_key(std::slice::from_ref(&entry));
                if key.is_subset(&model::acl_key(&entries)) {
                    return Ok(false);
                }
                entries.push(entry.clone());
                let doc = model::acl_document(&entries, model::acl_disable_inheritance(&acl));
                client.put_server_acl(&a.name, &doc).await?;
                Ok(true)
            })?;
            status(&if changed {
                format!(
                    "added {} `{}` as {} on `{}`",
                    entry.kind, entry.name, entry.role, a.name
                )
            } else {
                format!(
                    "{} `{}` already is {} on `{}`",
                    entry.kind, entry.name, entry.role, a.name
                )
            });
        }
        AclArgs::Rm(a) => {
            let Some((kind, name)) = principal(a.user.as_deref(), a.group.as_deref()) else {
                app.block_on(async { Ok(client.delete_server_acl(&a.name).await?) })?;
                status(&format!("removed the explicit ACL of `{}`", a.name));
                return Ok(0);
            };
            let removed = app.block_on(async {
                let Some(acl) = client.server_acl(&a.name).await? else {
                    return Ok(0);
                };
                let entries = model::acl_entries(&acl);
                let keep: Vec<AclEntry> = entries
                    .iter()
                    .filter(|e| {
                        !(e.kind == kind
                            && e.name.eq_ignore_ascii_case(&name)
                            && a.role.is_none_or(|r| r == e.role))
                    })
                    .cloned()
                    .collect();
                let removed = entries.len() - keep.len();
                if removed > 0 {
                    let doc = model::acl_document(&keep, model::acl_disable_inheritance(&acl));
                    client.put_server_acl(&a.name, &doc).await?;
                }
                Ok(removed)
            })?;
            status(&format!(
                "removed {kind} `{name}` from {removed} role(s) on `{}`",
                a.name
            ));
        }
    }
    Ok(0)
}

/// The account `--user` or `--group` names.
fn principal(user: Option<&str>, group: Option<&str>) -> Option<(Principal, String)> {
    match (user, group) {
        (Some(u), _) => Some((Principal::User, u.to_string())),
        (None, Some(g)) => Some((Principal::Group, g.to_string())),
        (None, None) => None,
    }
}

/// Accept the API's AemAuthorizationAcl, or the rows `acl get --json` style
/// (`[{"role","type","name"}]`), and produce the wire document.
fn normalize_acl_input(doc: &Value) -> Result<Value> {
    if let Value::Array(rows) = doc {
        let mut entries = Vec::new();
        for row in rows {
            let role = Role::from_str(model::str_field(row, "role"), true).ok();
            let kind = match model::str_field(row, "type").to_ascii_lowercase().as_str() {
                "user" => Some(Principal::User),
                "group" => Some(Principal::Group),
                _ => None,
            };
            let name = model::str_field(row, "name");
            let (Some(role), Some(kind), false) = (role, kind, name.is_empty()) else {
                return Err(
                    Error::input(format!("ACL row {row} is not {{role, type, name}}"))
                        .with_hint("role admin|designer|operator|viewer, type user|group"),
                );
            };
            entries.push(AclEntry {
                role,
                kind,
                name: name.to_string(),
            });
        }
        return Ok(model::acl_document(&entries, false));
    }
    if !doc.is_object() {
        return Err(
            Error::input("an ACL document must be a JSON object or array")
                .with_hint("start from `qtool qem server acl get NAME --json`"),
        );
    }
    Ok(doc.clone())
}

//! `qtool context ...`: one module per command, each with a `run` function.

mod create;
mod import;
mod list;
mod login;
mod manage;

use std::path::PathBuf;

use clap::{Args, Subcommand};
use clap_complete::engine::ArgValueCompleter;

use crate::app::App;
use crate::context::complete_context_names;
use crate::error::Result;

pub(crate) use create::ContextFields;

#[derive(Debug, Subcommand)]
pub enum ContextCommand {
    /// Create a context (fails if the name exists).
    Create(CreateArgs),
    /// Change fields of an existing context (only the given ones).
    Update(UpdateArgs),
    /// Make a context the current one.
    Use(NameArg),
    /// Unset the current context.
    Clear,
    /// List contexts; the current one is marked with *.
    #[command(visible_alias = "list")]
    Ls,
    /// Show a context (the current one by default), secrets masked.
    Get(OptionalNameArg),
    /// Rename a context.
    Rename(RenameArgs),
    /// Remove one or more contexts and their credentials.
    #[command(visible_alias = "remove")]
    Rm(NamesArg),
    /// QSEoW forms login: store the proxy session cookie in the context.
    Login(LoginArgs),
    /// Import qlik-cli contexts (~/.qlik/contexts.yml).
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name of the new context.
    pub name: String,
    #[command(flatten)]
    pub fields: ContextFields,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Context to change.
    #[arg(add = ArgValueCompleter::new(complete_context_names))]
    pub name: String,
    #[command(flatten)]
    pub fields: ContextFields,
    /// Verify TLS certificates again (undo --insecure).
    #[arg(long, conflicts_with = "insecure")]
    pub secure: bool,
}

#[derive(Debug, Args)]
pub struct NameArg {
    #[arg(add = ArgValueCompleter::new(complete_context_names))]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct OptionalNameArg {
    #[arg(add = ArgValueCompleter::new(complete_context_names))]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct NamesArg {
    #[arg(required = true, add = ArgValueCompleter::new(complete_context_names))]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    #[arg(add = ArgValueCompleter::new(complete_context_names))]
    pub old: String,
    pub new: String,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Context to log in with (the current one by default).
    #[arg(add = ArgValueCompleter::new(complete_context_names))]
    pub name: Option<String>,
    /// User as DOMAIN\user (default: the context's user).
    #[arg(long)]
    pub user: Option<String>,
    /// Read the password from stdin (or set QTOOL_PASSWORD).
    #[arg(long)]
    pub password_stdin: bool,
    /// Password on the command line (visible to other users; prefer --password-stdin).
    #[arg(long, hide = true)]
    pub password: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// qlik-cli contexts file (default: $QLIK_CLI_USER_HOME_DIR/contexts.yml or ~/.qlik/contexts.yml).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Replace qtool contexts that have the same name.
    #[arg(long)]
    pub overwrite: bool,
}

pub(crate) fn run(cmd: ContextCommand, app: &App) -> Result<u8> {
    match cmd {
        ContextCommand::Create(args) => create::run_create(args, app),
        ContextCommand::Update(args) => create::run_update(args, app),
        ContextCommand::Use(args) => manage::run_use(&args.name, app),
        ContextCommand::Clear => manage::run_clear(app),
        ContextCommand::Ls => list::run_ls(app),
        ContextCommand::Get(args) => list::run_get(args.name, app),
        ContextCommand::Rename(args) => manage::run_rename(&args.old, &args.new, app),
        ContextCommand::Rm(args) => manage::run_rm(&args.names, app),
        ContextCommand::Login(args) => login::run(args, app),
        ContextCommand::Import(args) => import::run(args, app),
    }
    .map(|()| 0)
}

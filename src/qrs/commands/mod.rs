//! `qtool qrs <resource> <verb>`: the command tree and its dispatch. Generic verbs (ls, count,
//! get, create, update, rm) work on every resource of the resource table; apps, tasks, reload
//! tasks and virtual proxies add their own verbs.

mod app;
mod generic;
mod output;
mod raw;
mod reloadtask;
mod task;
mod virtualproxy;

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::app::App;
use crate::error::Result;
use crate::qrs::resources::ResourceKind;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  qtool qrs app ls --filter \"stream.name eq 'Sales'\"\n  qtool qrs app export --filter \"published eq true\" --dir backups\n  qtool qrs task start --name 'Reload Sales' --wait --timeout 30m\n  qtool qrs raw GET /qrs/about/api/enums"
)]
pub struct QrsArgs {
    #[command(subcommand)]
    pub command: QrsCommand,
}

#[derive(Debug, Subcommand)]
pub enum QrsCommand {
    /// Apps: list, get, update, remove, export, import, copy, publish, reload.
    #[command(subcommand)]
    App(AppCommand),
    /// Streams.
    #[command(subcommand)]
    Stream(Verb),
    /// Tags.
    #[command(subcommand)]
    Tag(Verb),
    /// Users.
    #[command(subcommand)]
    User(Verb),
    /// Reload tasks (create with a schedule, or from a tasks file).
    #[command(subcommand)]
    Reloadtask(ReloadtaskCommand),
    /// Tasks of every type: list, start (and wait for the result).
    #[command(subcommand)]
    Task(TaskCommand),
    /// Results of task executions.
    #[command(subcommand)]
    Executionresult(Verb),
    /// Running task executions.
    #[command(subcommand)]
    Executionsession(Verb),
    /// Scheduled triggers of tasks.
    #[command(subcommand)]
    Schemaevent(Verb),
    /// Task-chaining triggers.
    #[command(subcommand)]
    Compositeevent(Verb),
    /// Custom property definitions.
    #[command(subcommand)]
    Custompropertydefinition(Verb),
    /// Data connections.
    #[command(subcommand)]
    Dataconnection(Verb),
    /// Extensions.
    #[command(subcommand)]
    Extension(Verb),
    /// Content libraries.
    #[command(subcommand)]
    Contentlibrary(Verb),
    /// Security rules.
    #[command(subcommand)]
    Systemrule(Verb),
    /// Virtual proxies (incl. one-command JWT virtual proxy set-up).
    #[command(subcommand, visible_alias = "virtualproxy")]
    Virtualproxyconfig(VirtualproxyCommand),
    /// User directory connectors.
    #[command(subcommand)]
    Userdirectory(Verb),
    /// State of the services on every node.
    Servicestatus,
    /// Repository version and node type.
    About,
    /// Any QRS request: `qtool qrs raw GET /qrs/about/api/enums`.
    Raw(RawArgs),
}

/// Verbs every resource has.
#[derive(Debug, Subcommand)]
pub enum CommonVerb {
    /// List (condensed; --full for full objects).
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Count (optionally filtered).
    Count(CountArgs),
    /// Show one by id.
    Get(IdArg),
    /// Change one: fetched, merged and written back with its modifiedDate.
    Update(UpdateArgs),
    /// Delete one by id, or all matching a filter (with --yes).
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
}

/// Generic verbs plus `create`.
#[derive(Debug, Subcommand)]
pub enum Verb {
    #[command(flatten)]
    Common(CommonVerb),
    /// Create from a JSON file (an object, or an array to create many).
    Create(CreateArgs),
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    #[command(flatten)]
    Common(CommonVerb),
    /// Export apps to QVF files (streamed to disk, several at a time).
    Export(app::ExportArgs),
    /// Upload a QVF as a new app, or replace an existing app with it.
    Import(app::ImportArgs),
    /// Copy an app.
    Copy(app::CopyArgs),
    /// Publish an app to a stream (by name or id).
    Publish(app::PublishArgs),
    /// Reload an app now (without a task).
    Reload(IdArg),
}

#[derive(Debug, Subcommand)]
pub enum ReloadtaskCommand {
    #[command(flatten)]
    Common(CommonVerb),
    /// Create a reload task with a schedule, or many from a tasks file (tasks as code).
    #[command(after_long_help = reloadtask::TASKS_FILE_HELP)]
    Create(reloadtask::CreateArgs),
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    #[command(flatten)]
    Common(CommonVerb),
    /// Start a task; with --wait, wait for the result and exit 1 if it failed.
    Start(task::StartArgs),
}

#[derive(Debug, Subcommand)]
pub enum VirtualproxyCommand {
    #[command(flatten)]
    Common(CommonVerb),
    /// Create from a JSON file (e.g. the output of `qtool jwt proxy-config --json`).
    Create(CreateArgs),
    /// Create a JWT virtual proxy from a certificate, linked to the central proxy.
    CreateJwt(virtualproxy::CreateJwtArgs),
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// QRS filter, e.g. "name sw 'Sales' and published eq true".
    #[arg(long, short = 'f', value_name = "FILTER")]
    pub filter: Option<String>,
    /// Only items with this exact name (quoted for you).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Sort order, e.g. "name desc".
    #[arg(long, value_name = "ORDER")]
    pub orderby: Option<String>,
    /// Full objects (`/full`) instead of condensed ones.
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Args)]
pub struct CountArgs {
    /// QRS filter.
    #[arg(long, short = 'f', value_name = "FILTER")]
    pub filter: Option<String>,
    /// Only items with this exact name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// Id (GUID).
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// JSON file with the entity (or an array of entities); `-` reads stdin.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("change").required(true).multiple(true).args(["file", "set"]))]
pub struct UpdateArgs {
    /// Id (GUID).
    pub id: String,
    /// JSON with the fields to change (merged into the current entity); `-` reads stdin.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Set one field: `name=New name`, `description=x`, `enabled=false`, `owner.id=...`
    /// (values are JSON when they parse as JSON, text otherwise).
    #[arg(long, value_name = "PATH=VALUE")]
    pub set: Vec<String>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["id", "filter", "name"]))]
pub struct RmArgs {
    /// Id (GUID) of the one to delete.
    pub id: Option<String>,
    /// Delete everything matching this QRS filter (needs --yes).
    #[arg(long, short = 'f', value_name = "FILTER")]
    pub filter: Option<String>,
    /// Delete everything with this exact name (needs --yes).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Really delete what --filter/--name matches.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct RawArgs {
    /// HTTP method (GET, POST, PUT, DELETE).
    pub method: String,
    /// Path under the proxy: `/qrs/about` (the `/qrs` prefix is optional).
    pub path: String,
    /// Request body (JSON) from a file; `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// Query parameter (repeatable); encoded for you.
    #[arg(long, value_name = "K=V", value_parser = parse_kv)]
    pub query: Vec<(String, String)>,
}

fn parse_kv(text: &str) -> std::result::Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{text}` is not K=V"))
}

pub(crate) fn run(args: QrsArgs, app: &App) -> Result<u8> {
    use QrsCommand as C;
    let generic = |res: ResourceKind, verb: Verb| -> Result<u8> {
        match verb {
            Verb::Common(v) => generic::run(res, v, app),
            Verb::Create(a) => generic::create(res, a, app),
        }
    };
    match args.command {
        C::App(cmd) => app::run(cmd, app),
        C::Stream(v) => generic(ResourceKind::Stream, v),
        C::Tag(v) => generic(ResourceKind::Tag, v),
        C::User(v) => generic(ResourceKind::User, v),
        C::Reloadtask(cmd) => reloadtask::run(cmd, app),
        C::Task(cmd) => task::run(cmd, app),
        C::Executionresult(v) => generic(ResourceKind::ExecutionResult, v),
        C::Executionsession(v) => generic(ResourceKind::ExecutionSession, v),
        C::Schemaevent(v) => generic(ResourceKind::SchemaEvent, v),
        C::Compositeevent(v) => generic(ResourceKind::CompositeEvent, v),
        C::Custompropertydefinition(v) => generic(ResourceKind::CustomPropertyDefinition, v),
        C::Dataconnection(v) => generic(ResourceKind::DataConnection, v),
        C::Extension(v) => generic(ResourceKind::Extension, v),
        C::Contentlibrary(v) => generic(ResourceKind::ContentLibrary, v),
        C::Systemrule(v) => generic(ResourceKind::SystemRule, v),
        C::Virtualproxyconfig(cmd) => virtualproxy::run(cmd, app),
        C::Userdirectory(v) => generic(ResourceKind::UserDirectory, v),
        C::Servicestatus => raw::servicestatus(app),
        C::About => raw::about(app),
        C::Raw(a) => raw::run(a, app),
    }
}

//! `qtool app …`: the clap types and their dispatch. Each command opens the app on one engine
//! session (by id, or by exact name through QRS), runs an operation of [`super::ops`], prints
//! the result, and closes the session.

mod files;
mod items;
mod script;

use clap::{Args, Subcommand};

use super::ops::EngineTarget;
use crate::app::App;
use crate::error::Result;
use crate::qix::{ConnectOptions, Doc, EngineUrl};
use crate::session_cache::{SessionCache, SessionKind};

#[derive(Debug, Args)]
#[command(
    after_help = "APP is an app id or the exact name of one app (looked up through QRS).\n\nExamples:\n  qtool app script get Sales > script.qvs\n  qtool app reload Sales --no-save\n  qtool app unbuild Sales --dir sales/\n  qtool app build Sales --dir sales/ --plan"
)]
pub struct AppArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(subcommand)]
    pub command: AppCommand,
}

/// How to reach and open the app (every `qtool app` command takes these).
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Engine URL: wss://host:4747 (engine port, certificate contexts) or wss://host/prefix
    /// (virtual proxy) [env: QTOOL_ENGINE_URL] [default: the context's server; port 4747 for
    /// certificate contexts].
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help_heading = "Engine options"
    )]
    pub engine_url: Option<String>,
    /// Seconds the engine keeps the session open after the socket closes.
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        help_heading = "Engine options"
    )]
    pub ttl: Option<u32>,
    /// Open the app without loading its data (faster for scripts, objects and builds).
    #[arg(long, global = true, help_heading = "Engine options")]
    pub no_data: bool,
    /// Print every engine message (JSON-RPC frames) to stderr, secrets redacted.
    #[arg(long, short = 't', global = true, help_heading = "Engine options")]
    pub traffic: bool,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// The load script: print it, set it (checked first), or check its syntax.
    #[command(subcommand)]
    Script(script::ScriptCommand),
    /// Reload the app, streaming the reload log; saves it unless --no-save.
    Reload(script::ReloadArgs),
    /// Evaluate an expression in the app (`qtool app eval Sales "Sum(Amount)"`).
    Eval(script::EvalArgs),
    /// Generic objects (sheets, charts, …).
    #[command(subcommand)]
    Object(items::ObjectCommand),
    /// Master dimensions.
    #[command(subcommand)]
    Dimension(items::LibraryCommand),
    /// Master measures.
    #[command(subcommand)]
    Measure(items::LibraryCommand),
    /// Variables (by name or id).
    #[command(subcommand)]
    Variable(items::LibraryCommand),
    /// Bookmarks.
    #[command(subcommand)]
    Bookmark(items::LibraryCommand),
    /// Data connections (passwords are never printed).
    #[command(subcommand)]
    Connection(items::ConnectionCommand),
    /// Write the app as files: script, properties, connections, master items, objects.
    Unbuild(files::UnbuildArgs),
    /// Make the app match a folder written by unbuild (or qlik-cli): only what differs changes.
    Build(files::BuildArgs),
}

/// `APP`: an app id, or the exact name of one app.
#[derive(Debug, Clone, Args)]
pub struct AppRef {
    /// App id, or the exact name of one app.
    #[arg(value_name = "APP")]
    pub app: String,
}

/// `--no-save`.
#[derive(Debug, Clone, Copy, Args)]
pub struct SaveArgs {
    /// Leave the change unsaved (it lives in the engine until the session ends).
    #[arg(long)]
    pub no_save: bool,
}

pub(crate) fn run(args: AppArgs, app: &App) -> Result<u8> {
    let engine = engine_target(&args.engine, app)?;
    match args.command {
        AppCommand::Script(cmd) => script::run_script(cmd, app, &engine),
        AppCommand::Reload(a) => script::run_reload(&a, app, &engine),
        AppCommand::Eval(a) => script::run_eval(&a, app, &engine),
        AppCommand::Object(cmd) => items::run_object(cmd, app, &engine),
        AppCommand::Dimension(cmd) => {
            items::run_library(cmd, super::ops::entities::Kind::Dimension, app, &engine)
        }
        AppCommand::Measure(cmd) => {
            items::run_library(cmd, super::ops::entities::Kind::Measure, app, &engine)
        }
        AppCommand::Variable(cmd) => {
            items::run_library(cmd, super::ops::entities::Kind::Variable, app, &engine)
        }
        AppCommand::Bookmark(cmd) => {
            items::run_library(cmd, super::ops::entities::Kind::Bookmark, app, &engine)
        }
        AppCommand::Connection(cmd) => items::run_connection(cmd, app, &engine),
        AppCommand::Unbuild(a) => files::run_unbuild(&a, app, &engine),
        AppCommand::Build(a) => files::run_build(&a, app, &engine),
    }
}

fn engine_target(args: &EngineArgs, app: &App) -> Result<EngineTarget> {
    let target = app.target()?;
    let explicit = args.engine_url.clone().or_else(|| {
        app.settings
            .env
            .get(crate::settings::vars::ENGINE_URL)
            .map(str::to_string)
    });
    let engine = EngineUrl::resolve(&target, explicit.as_deref())?;
    Ok(EngineTarget {
        target,
        engine,
        connect: ConnectOptions {
            app: String::new(),
            ttl: args.ttl,
            traffic: args.traffic,
        },
        no_data: args.no_data,
        sessions: SessionCache::new(app.settings.paths.cache_dir(), SessionKind::QseowProxy),
    })
}

/// Open `app_ref`, run `f` on it, close the session (whatever `f` returned).
pub(super) async fn with_doc<T>(
    engine: &EngineTarget,
    app_ref: &str,
    f: impl AsyncFnOnce(&Doc) -> Result<T>,
) -> Result<T> {
    let doc = super::ops::open(engine, app_ref).await?;
    let result = f(&doc).await;
    doc.close().await;
    result
}

/// Save the app unless told not to.
pub(super) async fn save_unless(doc: &Doc, save: SaveArgs) -> Result<()> {
    if !save.no_save {
        doc.call("DoSave", serde_json::json!([""])).await?;
    }
    Ok(())
}

/// A path argument: a file, or `-` for stdin.
pub(super) fn input(path: &std::path::Path) -> crate::input::InputSource {
    crate::input::InputSource::from_arg(path)
}

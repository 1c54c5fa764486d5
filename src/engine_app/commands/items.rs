//! `app object|dimension|measure|variable|bookmark …` and `app connection …`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{AppRef, SaveArgs, input, save_unless, with_doc};
use crate::app::App;
use crate::engine_app::ops::EngineTarget;
use crate::engine_app::ops::connections::{self, ConnectionSpec};
use crate::engine_app::ops::entities::{self, Kind, Written};
use crate::error::{Error, Result};
use crate::input::InputKind;
use crate::output::{Column, col};

#[derive(Debug, Subcommand)]
pub enum ObjectCommand {
    /// List the app's objects (children included): id, type, title.
    #[command(visible_alias = "list")]
    Ls(AppRef),
    /// An object as unbuild writes it: its full property tree when it has children.
    Get(ItemArgs),
    /// An object's properties (`GetProperties`).
    Properties(ItemArgs),
    /// An object's layout (`GetLayout`: the properties with what the engine computes).
    Layout(ItemArgs),
    /// Create or update objects from a JSON file (`-`: stdin): properties or full property
    /// trees, one or an array.
    Set(SetArgs),
    /// Delete objects by id.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
}

#[derive(Debug, Subcommand)]
pub enum LibraryCommand {
    /// List them with their definitions.
    #[command(visible_alias = "list")]
    Ls(AppRef),
    /// Properties of one (variables: by name or id).
    Get(ItemArgs),
    /// Create or update from a JSON file (`-`: stdin): one or an array of properties.
    Set(SetArgs),
    /// Delete by id (variables: by name or id).
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
}

#[derive(Debug, Args)]
pub struct ItemArgs {
    #[command(flatten)]
    pub app: AppRef,
    /// The id (variables: the name or the id).
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    #[command(flatten)]
    pub app: AppRef,
    /// JSON file of properties (an object or an array), or `-` for stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub save: SaveArgs,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[command(flatten)]
    pub app: AppRef,
    /// Ids (variables: names or ids).
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub save: SaveArgs,
}

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// List the connections the app can use (no passwords).
    #[command(visible_alias = "list")]
    Ls(AppRef),
    /// Create a connection; the password comes from stdin (--password-stdin) or
    /// QTOOL_CONNECTION_PASSWORD, never from the command line.
    Create(ConnectionCreateArgs),
    /// Delete a connection by id or name.
    #[command(visible_alias = "remove")]
    Rm(ItemArgs),
}

#[derive(Debug, Args)]
pub struct ConnectionCreateArgs {
    #[command(flatten)]
    pub app: AppRef,
    /// Connection name (as `LIB CONNECT TO 'name'` and `lib://name/` use it).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Connection type: folder, ODBC, OLEDB, internet, or a connector's provider name.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: String,
    /// Connection string (a folder path for folder connections).
    #[arg(long, value_name = "TEXT")]
    pub connection_string: String,
    /// User name for the data source.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Read the password from stdin (else QTOOL_CONNECTION_PASSWORD, else none).
    #[arg(long)]
    pub password_stdin: bool,
}

const OBJECT_COLUMNS: &[Column] = &[
    col("ID", "qInfo.qId"),
    col("TYPE", "qInfo.qType"),
    col("TITLE", "qMetaDef.title"),
];
const DIMENSION_COLUMNS: &[Column] = &[
    col("ID", "qInfo.qId"),
    col("TITLE", "qMetaDef.title"),
    col("FIELDS", "qDim.qFieldDefs"),
];
const MEASURE_COLUMNS: &[Column] = &[
    col("ID", "qInfo.qId"),
    col("TITLE", "qMetaDef.title"),
    col("DEFINITION", "qMeasure.qDef"),
];
const VARIABLE_COLUMNS: &[Column] = &[
    col("ID", "qInfo.qId"),
    col("NAME", "qName"),
    col("DEFINITION", "qDefinition"),
];
const BOOKMARK_COLUMNS: &[Column] = &[col("ID", "qInfo.qId"), col("TITLE", "qMetaDef.title")];

fn columns(kind: Kind) -> &'static [Column] {
    match kind {
        Kind::Object => OBJECT_COLUMNS,
        Kind::Dimension => DIMENSION_COLUMNS,
        Kind::Measure => MEASURE_COLUMNS,
        Kind::Variable => VARIABLE_COLUMNS,
        Kind::Bookmark => BOOKMARK_COLUMNS,
    }
}

fn list(kind: Kind, a: &AppRef, app: &App, engine: &EngineTarget) -> Result<u8> {
    let items = app.block_on(with_doc(engine, &a.app, async |doc| {
        entities::list(doc, kind).await
    }))?;
    app.printer.list(&items, columns(kind), "qInfo.qId")?;
    Ok(0)
}

fn show(
    kind: Kind,
    a: &ItemArgs,
    method: &'static str,
    out: &'static str,
    app: &App,
    engine: &EngineTarget,
) -> Result<u8> {
    let value = app.block_on(with_doc(engine, &a.app.app, async |doc| {
        if method == "GetFullPropertyTree" {
            let handle = entities::handle(doc, kind, &a.id).await?.ok_or_else(|| {
                Error::not_found(format!("the app has no object `{}`", a.id))
                    .with_hint("list them with `qtool app object ls APP`")
            })?;
            return entities::object_document(doc, handle).await;
        }
        entities::read(doc, kind, &a.id, method, out).await
    }))?;
    app.printer.document(&value)?;
    Ok(0)
}

fn set(kind: Kind, a: &SetArgs, app: &App, engine: &EngineTarget) -> Result<u8> {
    let source = input(&a.file);
    let value: Value = serde_json::from_slice(&source.read(InputKind::Document)?).map_err(|e| {
        Error::input(format!("{source}: not valid JSON: {e}"))
            .with_hint("fix the file; nothing was sent to the engine")
    })?;
    let items = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    for item in &items {
        entities::validate(kind, item, &source.to_string())?;
    }
    let written = app.block_on(with_doc(engine, &a.app.app, async |doc| {
        let mut written = Vec::new();
        for item in &items {
            let how = entities::write(doc, kind, item).await?;
            written.push((entities::key_of(kind, item).unwrap_or_default(), how));
        }
        save_unless(doc, a.save).await?;
        Ok(written)
    }))?;
    let rows: Vec<Value> = written
        .iter()
        .map(|(key, how)| {
            json!({"id": key, "kind": kind.label(), "result": match how { Written::Created => "created", Written::Updated => "updated" }})
        })
        .collect();
    app.printer.list(
        &rows,
        &[
            col("ID", "id"),
            col("KIND", "kind"),
            col("RESULT", "result"),
        ],
        "id",
    )?;
    Ok(0)
}

fn remove(kind: Kind, a: &RmArgs, app: &App, engine: &EngineTarget) -> Result<u8> {
    app.block_on(with_doc(engine, &a.app.app, async |doc| {
        for id in &a.ids {
            entities::remove(doc, kind, id).await?;
            crate::output::status(&format!("removed {} {id}", kind.label()));
        }
        save_unless(doc, a.save).await
    }))?;
    Ok(0)
}

pub(super) fn run_object(cmd: ObjectCommand, app: &App, engine: &EngineTarget) -> Result<u8> {
    let kind = Kind::Object;
    match cmd {
        ObjectCommand::Ls(a) => list(kind, &a, app, engine),
        ObjectCommand::Get(a) => show(kind, &a, "GetFullPropertyTree", "qPropEntry", app, engine),
        ObjectCommand::Properties(a) => show(kind, &a, "GetProperties", "qProp", app, engine),
        ObjectCommand::Layout(a) => show(kind, &a, "GetLayout", "qLayout", app, engine),
        ObjectCommand::Set(a) => set(kind, &a, app, engine),
        ObjectCommand::Rm(a) => remove(kind, &a, app, engine),
    }
}

pub(super) fn run_library(
    cmd: LibraryCommand,
    kind: Kind,
    app: &App,
    engine: &EngineTarget,
) -> Result<u8> {
    match cmd {
        LibraryCommand::Ls(a) => list(kind, &a, app, engine),
        LibraryCommand::Get(a) => show(kind, &a, "GetProperties", "qProp", app, engine),
        LibraryCommand::Set(a) => set(kind, &a, app, engine),
        LibraryCommand::Rm(a) => remove(kind, &a, app, engine),
    }
}

pub(super) fn run_connection(
    cmd: ConnectionCommand,
    app: &App,
    engine: &EngineTarget,
) -> Result<u8> {
    match cmd {
        ConnectionCommand::Ls(a) => {
            let list = app.block_on(with_doc(engine, &a.app, async |doc| {
                connections::list(doc).await
            }))?;
            app.printer.list(
                &list,
                &[
                    col("ID", "qId"),
                    col("NAME", "qName"),
                    col("TYPE", "qType"),
                    col("CONNECTION STRING", "qConnectionString"),
                ],
                "qId",
            )?;
            Ok(0)
        }
        ConnectionCommand::Create(a) => {
            let password = if a.password_stdin {
                let text =
                    crate::input::InputSource::Stdin.read_to_string(InputKind::Credential)?;
                Some(text.trim_end_matches(['\r', '\n']).to_string())
            } else {
                app.settings
                    .env
                    .get(crate::settings::vars::CONNECTION_PASSWORD)
                    .map(str::to_string)
            };
            let spec = ConnectionSpec {
                name: a.name.clone(),
                kind: a.kind.clone(),
                connection_string: a.connection_string.clone(),
                user: a.user.clone(),
                password,
            };
            let id = app.block_on(with_doc(engine, &a.app.app, async |doc| {
                connections::create(doc, &spec).await
            }))?;
            app.printer.object(
                &json!({"qId": id, "qName": spec.name, "qType": spec.kind}),
                "qId",
            )?;
            Ok(0)
        }
        ConnectionCommand::Rm(a) => {
            let id = app.block_on(with_doc(engine, &a.app.app, async |doc| {
                connections::remove(doc, &a.id).await
            }))?;
            crate::output::status(&format!("removed connection {id}"));
            Ok(0)
        }
    }
}

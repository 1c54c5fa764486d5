//! App verbs beyond the generic ones: export, import, copy, publish, reload. The work is in
//! [`crate::qrs::ops::app`]; this translates flags and prints.

use std::path::PathBuf;

use clap::Args;
use indicatif::{MultiProgress, ProgressDrawTarget};
use serde_json::{Value, json};

use super::generic::{self, connect};
use super::output::print_one;
use super::{AppCommand, IdArg};
use crate::app::App;
use crate::error::{Error, Result};
use crate::output::{col, status};
use crate::qrs::filter;
use crate::qrs::ops::app::{self as ops, ExportOptions, ExportScope, FileNaming, Upload};
use crate::qrs::resources::ResourceKind;

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["id", "filter", "name"]))]
pub struct ExportArgs {
    /// Id of the app to export.
    pub id: Option<String>,
    /// Export every app matching this QRS filter.
    #[arg(long, short = 'f', value_name = "FILTER")]
    pub filter: Option<String>,
    /// Export the app(s) with this exact name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Output file (one app only).
    #[arg(long, value_name = "FILE", conflicts_with = "dir")]
    pub out: Option<PathBuf>,
    /// Output directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// File name template: {name}, {id}, {stream}, {date} (names are sanitised).
    #[arg(long, value_name = "TEMPLATE", default_value = "{name}-{id}.qvf")]
    pub name_template: String,
    /// Export without data (structure and script only).
    #[arg(long)]
    pub skip_data: bool,
    /// Which content to include.
    #[arg(long, value_enum, default_value_t = ExportScope::Approved)]
    pub scope: ExportScope,
    /// Exports running at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,
    /// Replace existing files.
    #[arg(long)]
    pub overwrite: bool,
    /// Show which apps would be exported to which files, and stop.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// QVF file to upload.
    pub file: PathBuf,
    /// Name of the new app (default: the file name without .qvf).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Replace the app with this id instead of creating a new one.
    #[arg(long, value_name = "ID")]
    pub replace: Option<String>,
    /// Do not import the data of the app.
    #[arg(long)]
    pub no_data: bool,
    /// Do not import the app's data connections.
    #[arg(long, conflicts_with = "replace")]
    pub exclude_connections: bool,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Id of the app to copy.
    pub id: String,
    /// Name of the copy (default: as QRS names it).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Id of the app to publish.
    pub id: String,
    /// Stream name or id.
    #[arg(long, value_name = "NAME|ID")]
    pub stream: String,
    /// Publish under a new name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

pub(super) fn run(cmd: AppCommand, app: &App) -> Result<u8> {
    let res = ResourceKind::App;
    match cmd {
        AppCommand::Common(v) => generic::run(res, v, app),
        AppCommand::Export(a) => export(a, app),
        AppCommand::Import(a) => import(a, app, res),
        AppCommand::Copy(a) => {
            let client = connect(app)?;
            let created = app.block_on(ops::copy(&client, &a.id, a.name.as_deref()))?;
            print_one(&app.printer, res, created)?;
            Ok(0)
        }
        AppCommand::Publish(a) => {
            let client = connect(app)?;
            let published =
                app.block_on(ops::publish(&client, &a.id, &a.stream, a.name.as_deref()))?;
            print_one(&app.printer, res, published)?;
            Ok(0)
        }
        AppCommand::Reload(a) => reload(a, app),
    }
}

fn export(a: ExportArgs, app: &App) -> Result<u8> {
    let client = connect(app)?;
    let progress = progress_target(app);
    let flt = filter::with_name(a.filter.as_deref(), "name", a.name.as_deref());
    let naming = FileNaming {
        out: a.out.clone(),
        dir: a.dir.clone(),
        name_template: a.name_template.clone(),
    };
    let opts = ExportOptions {
        skip_data: a.skip_data,
        scope: a.scope,
        concurrency: usize::from(a.concurrency),
    };
    app.block_on(async {
        let apps = ops::select(&client, a.id.as_deref(), flt.as_deref()).await?;
        let plan = ops::plan_files(&naming, apps)?;
        if a.dry_run {
            let rows: Vec<Value> = plan
                .iter()
                .map(|p| {
                    json!({"id": p.app["id"], "name": p.app["name"], "file": p.path.display().to_string()})
                })
                .collect();
            return app.printer.list(
                &rows,
                &[col("ID", "id"), col("NAME", "name"), col("FILE", "file")],
                "id",
            );
        }
        ops::prepare_targets(&plan, a.overwrite)?;
        let total = plan.len();
        let results = ops::export(&client, plan, opts, &progress).await;
        let mut rows = Vec::new();
        let mut first_err: Option<Error> = None;
        let mut failed = 0;
        for (p, r) in results {
            match r {
                Ok(bytes) => rows.push(json!({
                    "id": p.app["id"],
                    "name": p.app["name"],
                    "file": p.path.display().to_string(),
                    "bytes": bytes,
                })),
                Err(e) => {
                    failed += 1;
                    if total > 1 {
                        crate::output::warn(&format!(
                            "app {} ({}): {e}",
                            crate::output::cell(&p.app, "id"),
                            crate::output::cell(&p.app, "name")
                        ));
                    }
                    first_err.get_or_insert(e);
                }
            }
        }
        if !rows.is_empty() {
            app.printer.list(
                &rows,
                &[
                    col("ID", "id"),
                    col("NAME", "name"),
                    col("FILE", "file"),
                    col("BYTES", "bytes"),
                ],
                "file",
            )?;
        }
        match first_err {
            None => Ok(()),
            Some(e) if total == 1 => Err(e),
            Some(e) => Err(Error::new(
                e.class(),
                format!("{failed} of {total} exports failed; first: {e}"),
            )),
        }
    })?;
    Ok(0)
}

/// Progress bars on stderr when the settings allow them, else hidden.
fn progress_target(app: &App) -> MultiProgress {
    if app.settings.output.progress {
        MultiProgress::new()
    } else {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    }
}

fn import(a: ImportArgs, app: &App, res: ResourceKind) -> Result<u8> {
    let upload = Upload {
        file: a.file,
        name: a.name,
        replace: a.replace,
        keep_data: !a.no_data,
        exclude_connections: a.exclude_connections,
    };
    let client = connect(app)?;
    let progress = progress_target(app);
    let created = app.block_on(ops::import(&client, &upload, &progress))?;
    print_one(&app.printer, res, created)?;
    Ok(0)
}

fn reload(a: IdArg, app: &App) -> Result<u8> {
    let client = connect(app)?;
    app.block_on(ops::reload(&client, &a.id))?;
    if !app.printer.quiet() {
        status(&format!("Reload of app {} started", a.id));
    }
    Ok(0)
}

//! `app unbuild` and `app build`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde_json::{Value, json};

use super::{AppRef, with_doc};
use crate::app::App;
use crate::engine_app::ops::build::{self, Action, Plan};
use crate::engine_app::ops::reload::{self, Progress, ReloadOptions};
use crate::engine_app::ops::{EngineTarget, folder, unbuild};
use crate::error::{Error, Result};
use crate::output::Paint;
use crate::qix::doc::member;

/// Exit code of `--detailed-exitcode` when something changed (or would, with `--plan`): the
/// value `qem apply` uses.
const EXIT_CHANGED: u8 = 100;

#[derive(Debug, Args)]
pub struct UnbuildArgs {
    #[command(flatten)]
    pub app: AppRef,
    /// The folder to write [default: ./<app title>-unbuild].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub app: AppRef,
    /// The folder (with its config.yml).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Only print what would change; change nothing.
    #[arg(long, visible_alias = "dry-run")]
    pub plan: bool,
    /// Also remove what the app has and the folder does not (objects, master items, variables;
    /// never connections).
    #[arg(long)]
    pub prune: bool,
    /// Do not reload after changing the app.
    #[arg(long)]
    pub no_reload: bool,
    /// Leave the changes unsaved.
    #[arg(long)]
    pub no_save: bool,
    /// Exit 0 when nothing changed, 100 when something changed (or would, with --plan).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub(super) fn run_unbuild(args: &UnbuildArgs, app: &App, engine: &EngineTarget) -> Result<u8> {
    let started = Instant::now();
    let summary = app.block_on(with_doc(engine, &args.app.app, async |doc| {
        let dir = match &args.dir {
            Some(dir) => dir.clone(),
            None => default_dir(doc).await?,
        };
        unbuild::unbuild(doc, &dir).await
    }))?;
    if app.printer.is_structured() {
        let mut doc = serde_json::to_value(&summary).unwrap_or(Value::Null);
        doc["duration_ms"] = json!(started.elapsed().as_millis() as u64);
        app.printer.document(&doc)?;
    } else {
        app.printer.line(&format!(
            "Wrote {}: {} objects, {} dimensions, {} measures, {} variables, {} connections{} ({} ms).",
            summary.dir.display(),
            summary.objects,
            summary.dimensions,
            summary.measures,
            summary.variables,
            summary.connections,
            if summary.removed.is_empty() {
                String::new()
            } else {
                format!("; removed {} stale object files", summary.removed.len())
            },
            started.elapsed().as_millis()
        ))?;
    }
    Ok(0)
}

/// `./<app title>-unbuild`, the title lowercased with runs of other characters made `-`.
async fn default_dir(doc: &crate::qix::Doc) -> Result<PathBuf> {
    let props = member(
        doc.call("GetAppProperties", json!([])).await?,
        "GetAppProperties",
        "qProp",
    )?;
    let title = props
        .get("qTitle")
        .and_then(Value::as_str)
        .unwrap_or(&doc.app_id)
        .to_lowercase();
    let mut name = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    Ok(PathBuf::from(format!("{}-unbuild", name.trim_matches('-'))))
}

pub(super) fn run_build(args: &BuildArgs, app: &App, engine: &EngineTarget) -> Result<u8> {
    let started = Instant::now();
    let layout = folder::read_layout(&args.dir)?;
    for warning in &layout.warnings {
        crate::output::warn(warning);
    }
    let env = &app.settings.env;
    // Every file read and checked before anything is sent.
    build::check_folder(&layout, env)?;
    let structured = app.printer.is_structured();
    let outcome = app.block_on(with_doc(engine, &args.app.app, async |doc| {
        let plan = build::plan(doc, &layout, env, args.prune).await?;
        if !structured {
            print_plan(app, &plan, &args.dir)?;
        }
        if args.plan || plan.is_empty() {
            return Ok((plan, None));
        }
        let applied = build::apply(doc, &layout, env, &plan).await?;
        let reloaded = if args.no_reload {
            None
        } else {
            Some(reload_after_build(app, doc).await?)
        };
        if !args.no_save {
            doc.call("DoSave", json!([""])).await?;
        }
        Ok((plan, Some((applied, reloaded))))
    }))?;
    let (plan, done) = outcome;
    if structured {
        app.printer.document(&json!({
            "changed": !plan.is_empty(),
            "plan_only": args.plan,
            "items": plan.items,
            "kept": plan.kept,
            "applied": done.as_ref().map_or(0, |(a, _)| a.applied),
            "reloaded": done.as_ref().is_some_and(|(_, r)| r.is_some()),
            "saved": done.is_some() && !args.no_save,
            "duration_ms": started.elapsed().as_millis() as u64,
        }))?;
    } else if let Some((applied, reloaded)) = &done {
        app.printer.line(&format!(
            "Applied {} changes{}{} ({} ms).",
            applied.applied,
            if reloaded.is_some() { "; reloaded" } else { "" },
            if args.no_save {
                "; not saved"
            } else {
                "; saved"
            },
            started.elapsed().as_millis()
        ))?;
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        EXIT_CHANGED
    } else {
        0
    })
}

/// Reload with the log on stderr (stdout holds the plan); a failed reload ends the build
/// before the save.
async fn reload_after_build(app: &App, doc: &crate::qix::Doc) -> Result<()> {
    let options = ReloadOptions {
        partial: false,
        limit: None,
        save: false,
        wait: None,
    };
    let verbose = !app.printer.quiet();
    let outcome = reload::reload(doc, &options, |p| {
        if let (Progress::Line(line), true) = (p, verbose) {
            crate::output::status(&format!("  {line}"));
        }
    })
    .await?;
    if !outcome.success {
        let first = outcome
            .errors
            .first()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(
            Error::failed(format!("the reload after the build failed{first}"))
                .with_hint("fix the script in the folder and build again; the app was not saved"),
        );
    }
    Ok(())
}

fn print_plan(app: &App, plan: &Plan, dir: &Path) -> Result<()> {
    let p = &app.printer;
    if p.quiet() {
        return Ok(());
    }
    let mut text = String::new();
    if plan.is_empty() {
        text.push_str(&format!("No changes: the app matches {}.\n", dir.display()));
    }
    let (mut add, mut change, mut remove) = (0, 0, 0);
    for item in &plan.items {
        let (sign, paint) = match item.action {
            Action::Add => {
                add += 1;
                ("+", Paint::Green)
            }
            Action::Change => {
                change += 1;
                ("~", Paint::Yellow)
            }
            Action::Remove => {
                remove += 1;
                ("-", Paint::Red)
            }
        };
        let from = item
            .file
            .as_ref()
            .map(|f| format!("  ({f})"))
            .unwrap_or_default();
        text.push_str(&format!(
            "{}{from}\n",
            p.paint(
                &format!("{sign} {:<14} {}", item.part.label(), item.key),
                paint
            )
        ));
    }
    if !plan.items.is_empty() {
        text.push_str(&format!(
            "Plan: {add} to add, {change} to change, {remove} to remove.\n"
        ));
    }
    if !plan.kept.is_empty() {
        text.push_str(&format!(
            "Kept: {} in the app but not in the folder (--prune removes them): {}\n",
            plan.kept.len(),
            plan.kept
                .iter()
                .take(5)
                .map(|i| format!("{} {}", i.part.label(), i.key))
                .collect::<Vec<_>>()
                .join(", ")
                + if plan.kept.len() > 5 { ", …" } else { "" }
        ));
    }
    p.write_raw(text.as_bytes())
}

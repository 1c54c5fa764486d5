//! `app script get|set|check`, `app reload`, `app eval`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{AppRef, SaveArgs, input, save_unless, with_doc};
use crate::app::App;
use crate::engine_app::ops::EngineTarget;
use crate::engine_app::ops::reload::{self, Progress, ReloadOptions};
use crate::engine_app::ops::script::{self, SyntaxError};
use crate::error::{Error, Result};
use crate::input::InputKind;
use crate::qix::doc::member;

#[derive(Debug, Subcommand)]
pub enum ScriptCommand {
    /// Print the load script.
    Get(AppRef),
    /// Replace the load script with FILE (`-`: stdin); checked first, saved unless --no-save.
    Set(ScriptSetArgs),
    /// Check the syntax of the app's script, or of FILE without changing the app (exit 3 on errors).
    Check(ScriptCheckArgs),
}

#[derive(Debug, Args)]
pub struct ScriptSetArgs {
    #[command(flatten)]
    pub app: AppRef,
    /// The script file, or `-` for stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub save: SaveArgs,
}

#[derive(Debug, Args)]
pub struct ScriptCheckArgs {
    #[command(flatten)]
    pub app: AppRef,
    /// A script file (`-`: stdin) to check instead of the app's own script.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReloadArgs {
    #[command(flatten)]
    pub app: AppRef,
    /// Partial reload (only ADD, REPLACE and MERGE statements change data).
    #[arg(long)]
    pub partial: bool,
    /// Load at most N rows from each source (a quick test of the script).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    #[command(flatten)]
    pub save: SaveArgs,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub app: AppRef,
    /// The expression, e.g. `Sum(Sales)` or `=Today()`.
    #[arg(value_name = "EXPRESSION")]
    pub expression: String,
}

pub(super) fn run_script(cmd: ScriptCommand, app: &App, engine: &EngineTarget) -> Result<u8> {
    match cmd {
        ScriptCommand::Get(a) => {
            let text =
                app.block_on(with_doc(engine, &a.app, async |doc| script::get(doc).await))?;
            if app.printer.is_structured() {
                app.printer.document(&json!({"qScript": text}))?;
            } else {
                app.printer.write_raw(text.as_bytes())?;
            }
            Ok(0)
        }
        ScriptCommand::Set(a) => {
            let source = input(&a.file);
            let text = source.read_to_string(InputKind::Document)?;
            app.block_on(with_doc(engine, &a.app.app, async |doc| {
                let errors = script::set_checked(doc, &text, false).await?;
                report_errors(&source.to_string(), &errors)?;
                save_unless(doc, a.save).await
            }))?;
            crate::output::status(if a.save.no_save {
                "script set (not saved)"
            } else {
                "script set and saved"
            });
            Ok(0)
        }
        ScriptCommand::Check(a) => {
            let file = a.file.as_deref().map(input);
            let text = file
                .as_ref()
                .map(|f| f.read_to_string(InputKind::Document))
                .transpose()?;
            let errors = app.block_on(with_doc(engine, &a.app.app, async |doc| match &text {
                Some(text) => script::set_checked(doc, text, true).await,
                None => {
                    let current = script::get(doc).await?;
                    script::check_current(doc, &current).await
                }
            }))?;
            let source = file.map_or_else(|| "the app's script".to_string(), |f| f.to_string());
            if app.printer.is_structured() {
                app.printer.document(&json!({"errors": errors}))?;
            }
            report_errors(&source, &errors)?;
            crate::output::status(&format!("{source}: no syntax errors"));
            Ok(0)
        }
    }
}

/// Each error on stderr, then the one-line error (exit 3), when there are any.
fn report_errors(source: &str, errors: &[SyntaxError]) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    let primary: Vec<&SyntaxError> = errors.iter().filter(|e| !e.secondary).collect();
    // The error line names the first; list them all when there are more.
    if primary.len() > 1 {
        for e in primary {
            crate::output::status(&format!("{source}: {e}"));
        }
    }
    Err(script::syntax_error(source, errors))
}

pub(super) fn run_reload(args: &ReloadArgs, app: &App, engine: &EngineTarget) -> Result<u8> {
    let options = ReloadOptions {
        partial: args.partial,
        limit: args.limit,
        save: !args.save.no_save,
        wait: app
            .settings
            .connection
            .timeout
            .is_explicit()
            .then_some(app.settings.connection.timeout.value),
    };
    let streamed = !app.printer.is_structured() && !app.printer.quiet();
    let mut log = Vec::new();
    let outcome = app.block_on(with_doc(engine, &args.app.app, async |doc| {
        reload::reload(doc, &options, |p| show_progress(app, streamed, &mut log, p)).await
    }))?;
    clear_step(app);
    if app.printer.is_structured() {
        let mut doc = serde_json::to_value(&outcome).unwrap_or(Value::Null);
        doc["log"] = json!(log);
        app.printer.document(&doc)?;
    }
    if !outcome.success {
        if !streamed {
            for line in &outcome.tail {
                crate::output::status(line);
            }
        }
        let first = outcome
            .errors
            .first()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(
            Error::failed(format!("the reload of {} failed{first}", args.app.app))
                .with_hint("fix the script (see the log); the app was not saved"),
        );
    }
    crate::output::status(if outcome.saved {
        "reload finished; app saved"
    } else {
        "reload finished (not saved)"
    });
    Ok(0)
}

/// A log line to stdout (or kept for the JSON document); the current step on a terminal.
fn show_progress(app: &App, streamed: bool, log: &mut Vec<String>, progress: Progress) {
    match progress {
        Progress::Line(line) => {
            clear_step(app);
            if streamed {
                let _ = app.printer.line(&line);
            }
            log.push(line);
        }
        Progress::Step(step) if app.settings.output.progress => {
            use std::io::Write;
            let shown: String = step.chars().take(70).collect();
            let shown = crate::output::escape_controls(
                &shown,
                crate::output::Keep {
                    newlines: false,
                    own_colors: false,
                },
            );
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K{shown}");
        }
        Progress::Step(_) => {}
    }
}

fn clear_step(app: &App) {
    if app.settings.output.progress {
        use std::io::Write;
        let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
    }
}

pub(super) fn run_eval(args: &EvalArgs, app: &App, engine: &EngineTarget) -> Result<u8> {
    let value = app.block_on(with_doc(engine, &args.app.app, async |doc| {
        let result = doc.call("EvaluateEx", json!([args.expression])).await?;
        member(result, "EvaluateEx", "qValue")
    }))?;
    if app.printer.is_structured() {
        app.printer.document(&value)?;
    } else {
        app.printer.line(
            value
                .get("qText")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )?;
    }
    Ok(0)
}

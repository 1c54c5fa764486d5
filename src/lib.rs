//! qtool: one CLI for Qlik Sense Enterprise on Windows (QRS) and Qlik Enterprise Manager.
//!
//! Each domain lives in its own folder with its model, client and commands:
//! [`context`], [`jwt`], [`qrs`], [`qem`]; [`sandbox`] is the thin command over the emulator
//! crate `qtool-sandbox`. Shared machinery is in [`output`], [`error`], [`storage`], [`http`]
//! and [`logging`]. Printing to stdout/stderr directly is denied workspace-wide (a closed pipe
//! must not panic): output goes through [`output`].

#![forbid(unsafe_code)]
// Items are `pub` only when something outside the crate (tests, fuzz targets) uses them; anything
// else is `pub(crate)`, so the compiler reports code nothing calls.
#![warn(unreachable_pub)]

pub(crate) mod app;
pub(crate) mod cli;
pub(crate) mod completion;
pub mod context;
pub use qtool_common::duration;
pub(crate) mod engine_app;
pub mod error;
pub mod http;
pub(crate) mod input;
pub mod jwt;
pub mod logging;
pub(crate) mod output;
pub mod qem;
pub(crate) mod qix;
pub mod qrs;
pub(crate) mod sandbox;
pub(crate) mod secret;
pub mod session_cache;
pub mod settings;
pub(crate) mod storage;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::app::App;
use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::output::OutputFormat;
use crate::settings::{Environment, Settings, Terminal};

/// The command tree, for tools that generate or check documentation from it.
pub fn command() -> clap::Command {
    Cli::command()
}

/// The whole program: parse, dispatch, map the outcome to an exit code.
pub fn main_entry() -> ExitCode {
    completion::complete_from_env();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help, --version: clap prints them.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
            let err = cli::usage_error(&e, &args);
            report(&err, cli::output_format_in(&args));
            return err.exit_code();
        }
    };
    // The only read of the process environment: everything below gets this snapshot.
    let settings = match Settings::resolve(&cli.global, Environment::capture(), Terminal::detect())
    {
        Ok(settings) => settings,
        Err(e) => {
            report(&e, cli.global.output_format());
            return e.exit_code();
        }
    };
    logging::init(&settings.log);
    let app = App::new(settings);
    match dispatch(cli.command, &app) {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            report(&e, app.settings.output.format);
            e.exit_code()
        }
    }
}

/// Run one command; `Ok(n)` is the exit code (0 unless a command reports a state, like `qem apply`).
pub fn dispatch(command: Command, app: &App) -> Result<u8, Error> {
    match command {
        Command::Context(cmd) => context::commands::run(cmd, app),
        Command::Jwt(cmd) => jwt::commands::run(cmd, app),
        Command::Qrs(args) => qrs::commands::run(args, app),
        Command::App(args) => engine_app::commands::run(args, app),
        Command::Qem(cmd) => qem::commands::run(cmd, app),
        Command::Sandbox(args) => sandbox::run(args, app),
        Command::Completion(args) => completion::run_completion(args, app),
        Command::Generate(args) => completion::run_generate(args, &Cli::command()),
    }
}

/// One line on stderr (line breaks in a message become spaces, control characters are
/// escaped); with `--json`/`-o json` a JSON object instead, as qlik-cli does.
fn report(err: &Error, format: OutputFormat) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    if format == OutputFormat::Json {
        let doc = serde_json::json!({
            "error": {
                "class": err.class().name(),
                "exit_code": err.class().exit_code(),
                "message": err.message(),
                "hint": err.hint(),
            }
        });
        let _ = writeln!(stderr, "{doc}");
    } else {
        let line = one_line(&logging::scrub(&err.to_string()));
        let keep = output::Keep {
            newlines: false,
            own_colors: false,
        };
        let _ = writeln!(stderr, "error: {}", output::escape_controls(&line, keep));
    }
}

/// Text whose line breaks (and the indentation after them) become single spaces.
fn one_line(text: &str) -> String {
    if !text.contains(['\n', '\r']) {
        return text.to_string();
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

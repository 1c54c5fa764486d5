//! The command-line definition: global flags and the top-level command tree. Each domain owns
//! its own subcommand enum; this file only stitches them together.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use clap_complete::engine::ArgValueCompleter;

use crate::context::model::ServerType;
use crate::output::OutputFormat;

pub(crate) const ABOUT: &str = "One fast, scriptable, safe CLI for Qlik Sense Enterprise on Windows (QRS) and Qlik Enterprise Manager";

#[derive(Debug, Parser)]
#[command(
    name = "qtool",
    version,
    about = ABOUT,
    long_about = None,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Exit codes: 0 ok, 1 failed, 2 usage, 3 bad input file, 4 config, 5 auth, 6 not found, \
                  7 conflict, 8 network, 9 TLS, 10 server error, 11 local I/O, 130 interrupted."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted by every command. Precedence: flag > environment > context. The environment
/// variables are read by `settings`, not by clap, so that the resolution knows each value's origin.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Context to use for this run instead of the current one [env: QTOOL_CONTEXT].
    #[arg(long, global = true, help_heading = "Global options", value_name = "NAME",
          add = ArgValueCompleter::new(crate::context::complete_context_names))]
    pub context: Option<String>,

    /// Server URL (with the virtual proxy prefix for QSEoW, e.g. https://host/jwt) [env: QTOOL_SERVER].
    #[arg(
        long,
        short = 's',
        global = true,
        help_heading = "Global options",
        value_name = "URL"
    )]
    pub server: Option<String>,

    /// Server type: windows (QSEoW) or qem.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_enum,
        value_name = "TYPE"
    )]
    pub server_type: Option<ServerType>,

    /// Skip TLS certificate verification (self-signed test servers only).
    #[arg(long, global = true, help_heading = "Global options")]
    pub insecure: bool,

    /// Trust the certificates of this PEM file: the server's CA, or the server certificate itself
    /// (like curl --cacert) [env: QTOOL_CA_CERT].
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "FILE"
    )]
    pub ca_cert: Option<PathBuf>,

    /// Extra HTTP header for every request (repeatable).
    #[arg(long = "header", visible_alias = "headers", global = true, help_heading = "Global options", value_name = "K=V",
          value_parser = parse_header)]
    pub headers: Vec<(String, String)>,

    /// Output format.
    #[arg(long, short = 'o', global = true, help_heading = "Global options", value_enum, default_value_t = OutputFormat::Table,
          value_name = "FORMAT")]
    pub output: OutputFormat,

    /// Same as `-o json` (qlik-cli spelling).
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// Print ids only, one per line.
    #[arg(long, short = 'q', global = true, help_heading = "Global options")]
    pub quiet: bool,

    /// More logging on stderr (-v info, -vv debug with requests, -vvv trace). Secrets are redacted.
    #[arg(long, short = 'v', global = true, help_heading = "Global options", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Request timeout, and the limit of commands that wait (qem task start|stop|wait|rm, qem
    /// endpoint test, qrs task start --wait), e.g. 30s, 2m [env: QTOOL_TIMEOUT] [default: 60s; 5m
    /// for qem task wait, 1h for qrs task start --wait].
    #[arg(long, global = true, help_heading = "Global options", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub timeout: Option<Duration>,

    /// Retries for idempotent requests on refused connections and 502/503/504 [env: QTOOL_RETRIES]
    /// [default: 3].
    #[arg(long, global = true, help_heading = "Global options", value_name = "N")]
    pub retries: Option<u32>,
}

impl GlobalArgs {
    pub fn output_format(&self) -> OutputFormat {
        if self.json {
            OutputFormat::Json
        } else {
            self.output
        }
    }
}

// Parsed once per run; boxing the larger variants would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage named QSEoW and QEM endpoints and their credentials.
    #[command(subcommand)]
    Context(crate::context::commands::ContextCommand),

    /// Keys, certificates and RS256 tokens for JWT virtual proxies.
    #[command(subcommand, visible_alias = "token")]
    Jwt(crate::jwt::commands::JwtCommand),

    /// Qlik Sense Repository Service (QRS) API.
    Qrs(crate::qrs::commands::QrsArgs),

    /// Qlik Enterprise Manager API: servers, tasks, endpoints, ACLs, declarative apply.
    #[command(subcommand)]
    Qem(crate::qem::commands::QemCommand),

    /// Run an embedded QSEoW + QEM emulator on loopback (or the end-to-end walkthrough).
    Sandbox(crate::sandbox::SandboxArgs),

    /// Print the shell completion script (with dynamic completion of context names).
    Completion(crate::completion::CompletionArgs),

    /// Regenerate completions/ and man/ (maintainers).
    #[command(name = "__generate", hide = true)]
    Generate(crate::completion::GenerateArgs),
}

/// `K=V` (or `K: V`) header flag.
pub(crate) fn parse_header(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .or_else(|| text.split_once(':'))
        .ok_or_else(|| format!("`{text}` is not K=V"))?;
    let k = k.trim();
    if k.is_empty()
        || !k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b))
    {
        return Err(format!("`{k}` is not a valid header name"));
    }
    Ok((k.to_string(), v.trim().to_string()))
}

pub(crate) fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    crate::duration::parse(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommand_arguments_do_not_set_global_flags() {
        // A QEM server name is not the global --server URL.
        let cli = Cli::try_parse_from(["qtool", "qem", "task", "ls", "rep-prod"]).unwrap();
        assert_eq!(cli.global.server, None);
        let cli = Cli::try_parse_from([
            "qtool", "qem", "task", "wait", "s", "t", "--until", "running",
        ])
        .unwrap();
        assert_eq!(cli.global.timeout, None);
        // --timeout after a subcommand is the global flag.
        let cli =
            Cli::try_parse_from(["qtool", "qem", "task", "stop", "s", "t", "--timeout", "30s"])
                .unwrap();
        assert_eq!(cli.global.timeout, Some(Duration::from_secs(30)));
    }

    /// A subcommand argument with the id or the long name of a global flag would silently set
    /// (or shadow) the global one: the QEM `--server NAME` once did.
    #[test]
    fn no_subcommand_reuses_a_global_flag() {
        let root = Cli::command();
        let globals: Vec<(String, Option<String>)> = root
            .get_arguments()
            .filter(|a| a.is_global_set())
            .map(|a| (a.get_id().to_string(), a.get_long().map(str::to_string)))
            .collect();
        fn walk(cmd: &clap::Command, path: &str, globals: &[(String, Option<String>)]) {
            for sub in cmd.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                for arg in sub.get_arguments() {
                    let clash = globals.iter().any(|(id, long)| {
                        arg.get_id() == id.as_str()
                            || (long.is_some() && arg.get_long() == long.as_deref())
                    });
                    assert!(!clash, "`{path}` reuses the global flag `{}`", arg.get_id());
                }
                walk(sub, &path, globals);
            }
        }
        walk(&root, "qtool", &globals);
    }

    #[test]
    fn header_flag_parsing() {
        assert_eq!(
            parse_header("X-A=b=c").unwrap(),
            ("X-A".into(), "b=c".into())
        );
        assert_eq!(parse_header("X-A: b").unwrap(), ("X-A".into(), "b".into()));
        assert!(parse_header("nope").is_err());
        assert!(parse_header("bad name=1").is_err());
    }
}

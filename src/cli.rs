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
    #[arg(long, global = true, help_heading = "Global options", value_name = "DURATION", value_parser = parse_timeout_arg)]
    pub timeout: Option<Duration>,

    /// Retries for idempotent requests on refused connections and 502/503/504 [env: QTOOL_RETRIES]
    /// [default: 3].
    #[arg(long, global = true, help_heading = "Global options", value_name = "N")]
    pub retries: Option<u32>,

    /// Largest server answer read into memory, e.g. 64MiB, 1GiB (downloads and `--json` lists
    /// stream without a limit) [env: QTOOL_MAX_RESPONSE_SIZE] [default: 256MiB].
    #[arg(long, global = true, help_heading = "Global options", value_name = "BYTES", value_parser = parse_byte_count_arg)]
    pub max_response_size: Option<u64>,
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

    /// Apps through the Qlik associative engine: script, reload, objects, unbuild/build.
    App(crate::engine_app::commands::AppArgs),

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

/// `--json`, `-o json`, `--output json` (or `=json`, `-ojson`) among raw arguments, for errors
/// found before clap could parse them; arguments after `--` do not count.
pub(crate) fn output_format_in(args: &[std::ffi::OsString]) -> OutputFormat {
    let args: Vec<&str> = args
        .iter()
        .skip(1)
        .map(|a| a.to_str().unwrap_or(""))
        .take_while(|a| *a != "--")
        .collect();
    let json = args.iter().enumerate().any(|(i, a)| {
        let next_is_json = args
            .get(i + 1)
            .is_some_and(|n| n.eq_ignore_ascii_case("json"));
        *a == "--json"
            || ((*a == "-o" || *a == "--output") && next_is_json)
            || a.eq_ignore_ascii_case("--output=json")
            || a.eq_ignore_ascii_case("-ojson")
            || a.eq_ignore_ascii_case("-o=json")
    });
    if json {
        OutputFormat::Json
    } else {
        OutputFormat::Table
    }
}

/// A command-line error from clap as qtool's one-line usage error: clap's first line (with the
/// lines that complete it) is the message; its tips and a pointer to `--help` for the command
/// given in `args`, the hint. A missing subcommand names the possible ones instead of printing
/// the help.
pub(crate) fn usage_error(e: &clap::Error, args: &[std::ffi::OsString]) -> crate::error::Error {
    let root = <Cli as clap::CommandFactory>::command();
    let command = command_in(&root, args);
    let path = std::iter::once("qtool")
        .chain(command.iter().map(|c| c.get_name()))
        .collect::<Vec<_>>()
        .join(" ");
    let help = format!("see `{path} --help`");
    if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let current = command.last().copied().unwrap_or(&root);
        let names: Vec<&str> = current
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(clap::Command::get_name)
            .collect();
        return crate::error::Error::usage(format!("`{path}` needs a command"))
            .with_hint(format!("one of: {}; {help}", names.join(", ")));
    }
    let text = e.render().to_string();
    let mut message = Vec::new();
    let mut tips = Vec::new();
    let mut in_message = true;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(tip) = trimmed.strip_prefix("tip: ") {
            tips.push(tip.to_string());
            in_message = false;
        } else if trimmed.is_empty() || trimmed.starts_with("Usage: ") {
            in_message = false;
        } else if in_message {
            message.push(
                trimmed
                    .strip_prefix("error: ")
                    .unwrap_or(trimmed)
                    .to_string(),
            );
        }
    }
    tips.push(help);
    crate::error::Error::usage(message.join(" ")).with_hint(tips.join("; "))
}

/// The chain of subcommands named in `args`: the values of flags that take one are skipped, and
/// so is anything else that names no subcommand.
fn command_in<'c>(root: &'c clap::Command, args: &[std::ffi::OsString]) -> Vec<&'c clap::Command> {
    let mut chain: Vec<&clap::Command> = Vec::new();
    let mut args = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        let current = chain.last().copied().unwrap_or(root);
        if arg.starts_with('-') && !arg.contains('=') {
            if flag_takes_value(root, &chain, arg) {
                args.next();
            }
        } else if let Some(sub) = current.find_subcommand(arg) {
            chain.push(sub);
        }
    }
    chain
}

/// Whether `--name` or `-x` is a flag of the command (or a global flag) that takes a value.
fn flag_takes_value(root: &clap::Command, chain: &[&clap::Command], flag: &str) -> bool {
    let matches = |a: &clap::Arg| match flag.strip_prefix("--") {
        Some(long) => {
            a.get_long() == Some(long) || a.get_all_aliases().is_some_and(|al| al.contains(&long))
        }
        None => {
            let mut shorts = flag.trim_start_matches('-').chars();
            // `-v`, or `-ojson` (a short flag with its value attached takes no next argument).
            shorts.next().is_some_and(|c| a.get_short() == Some(c)) && shorts.next().is_none()
        }
    };
    std::iter::once(root)
        .chain(chain.iter().copied())
        .flat_map(clap::Command::get_arguments)
        .find(|a| matches(a))
        .is_some_and(|a| a.get_action().takes_values())
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

/// A request timeout: a duration above zero (a zero timeout fails every request).
pub(crate) fn parse_timeout_arg(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration_arg(text)?;
    if timeout.is_zero() {
        return Err(format!(
            "a timeout of `{text}` would fail every request; give a duration above zero, like 30s"
        ));
    }
    Ok(timeout)
}

/// A byte count above zero: `1048576`, `512KiB`, `64MiB`, `1GiB`.
pub(crate) fn parse_byte_count_arg(text: &str) -> Result<u64, String> {
    qtool_common::bytes::parse(text).map_err(|e| e.to_string())
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
        let root = <Cli as clap::CommandFactory>::command();
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
    fn usage_errors_are_one_line_with_a_hint() {
        let err = |args: &[&str]| {
            let mut argv = vec!["qtool"];
            argv.extend_from_slice(args);
            let os: Vec<std::ffi::OsString> = argv.iter().map(Into::into).collect();
            usage_error(&Cli::try_parse_from(argv).unwrap_err(), &os)
        };
        let e = err(&["context", "create"]);
        assert_eq!(e.class(), crate::error::ErrorClass::Usage);
        assert_eq!(
            e.message(),
            "the following required arguments were not provided: <NAME>"
        );
        assert_eq!(e.hint(), Some("see `qtool context create --help`"));
        let e = err(&["context", "ls", "--output", "xml"]);
        assert!(
            e.message()
                .starts_with("invalid value 'xml' for '--output <FORMAT>'"),
            "{e}"
        );
        assert_eq!(
            e.hint(),
            Some("a similar value exists: 'yaml'; see `qtool context ls --help`")
        );
        let e = err(&["qrs"]);
        assert_eq!(e.message(), "`qtool qrs` needs a command");
        assert!(
            e.hint().unwrap().starts_with("one of: app, stream, tag,"),
            "{e}"
        );
        assert!(
            e.hint()
                .unwrap()
                .contains(" virtualproxyconfig, userdirectory,"),
            "{e}"
        );
        for e in [err(&["--frob"]), err(&["jwt", "cert", "--san", "a b"])] {
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        let e = err(&["--context", "qrs", "jwt", "cert", "--san", "a b"]);
        assert!(
            e.hint().unwrap().ends_with("see `qtool jwt cert --help`"),
            "{e}"
        );
    }

    #[test]
    fn json_output_is_found_in_raw_arguments() {
        let format = |args: &[&str]| {
            let argv: Vec<std::ffi::OsString> = std::iter::once("qtool")
                .chain(args.iter().copied())
                .map(Into::into)
                .collect();
            output_format_in(&argv)
        };
        for json in [
            &["--json", "x"][..],
            &["-o", "json"],
            &["--output=json"],
            &["-ojson"],
            &["qrs", "--output", "JSON"],
        ] {
            assert_eq!(format(json), OutputFormat::Json, "{json:?}");
        }
        for table in [&["-o", "yaml"][..], &["--", "--json"], &["--jsonx"]] {
            assert_eq!(format(table), OutputFormat::Table, "{table:?}");
        }
    }

    #[test]
    fn zero_timeouts_are_refused() {
        assert_eq!(parse_timeout_arg("2s"), Ok(Duration::from_secs(2)));
        for zero in ["0", "0s", "0ms", "0h0m"] {
            let err = parse_timeout_arg(zero).unwrap_err();
            assert!(err.contains("above zero"), "{zero}: {err}");
        }
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

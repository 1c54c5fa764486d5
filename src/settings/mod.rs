//! The one place where command-line flags, the environment and the selected context become the
//! settings of a run (as uv's `settings.rs`). Precedence, as qlik-cli: flag > environment >
//! context > default.
//!
//! The CLI layer (`cli.rs`) parses flags into clap types and snapshots the environment; [`Settings::resolve`]
//! turns both into plain typed values once, each knowing where it came from ([`Origin`]), so
//! "was `--timeout` given?" is a question to the resolution, not to argv. Commands hand these
//! settings (and the [`Target`] resolved from them and the context store) to operations and
//! clients, which never see clap or `std::env`.

mod environment;
mod paths;
mod target;

use std::path::PathBuf;
use std::time::Duration;

pub use environment::Environment;
pub use paths::Paths;
pub use target::{Auth, Target, mask_url_userinfo, parse_server_url};

use crate::cli::GlobalArgs;
use crate::context::model::ServerType;
use crate::context::store::Store;
use crate::error::{Error, Result};
use crate::output::OutputFormat;

/// Environment variables qtool reads (all through [`Environment`]).
pub mod vars {
    pub const CONTEXT: &str = "QTOOL_CONTEXT";
    pub const SERVER: &str = "QTOOL_SERVER";
    pub const CA_CERT: &str = "QTOOL_CA_CERT";
    pub const TIMEOUT: &str = "QTOOL_TIMEOUT";
    pub const RETRIES: &str = "QTOOL_RETRIES";
    pub const MAX_RESPONSE_SIZE: &str = "QTOOL_MAX_RESPONSE_SIZE";
    /// Secrets supplied at run time without storing them.
    pub const API_KEY: &str = "QTOOL_API_KEY";
    pub const PASSWORD: &str = "QTOOL_PASSWORD";
    pub const KEY_PASSPHRASE: &str = "QTOOL_KEY_PASSPHRASE";
    /// Opens a PKCS#12 (`.pfx`) client certificate.
    pub const CERT_PASSWORD: &str = "QTOOL_CERT_PASSWORD";
    /// The engine (QIX) WebSocket URL of `qtool app` when not the context's server.
    pub const ENGINE_URL: &str = "QTOOL_ENGINE_URL";
    /// The password of `qtool app connection create` (instead of `--password-stdin`).
    pub const CONNECTION_PASSWORD: &str = "QTOOL_CONNECTION_PASSWORD";
    /// A `tracing` filter directive that overrides `-v`.
    pub const LOG: &str = "QTOOL_LOG";
    pub use super::paths::{ENV_CACHE_DIR as CACHE_DIR, ENV_CONFIG_DIR as CONFIG_DIR};
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_RETRIES: u32 = 3;
/// The largest answer read into memory unless the user says otherwise: generous for any QRS or
/// QEM document, small enough that an endless or hostile answer cannot exhaust memory.
pub const DEFAULT_MAX_RESPONSE_SIZE: u64 = 256 << 20;

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env(&'static str),
    Default,
}

/// A value with its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Sourced<T> {
    /// Whether the user chose the value (flag or environment) rather than the default.
    pub fn is_explicit(&self) -> bool {
        self.origin != Origin::Default
    }
}

/// How the run prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSettings {
    pub format: OutputFormat,
    /// `-q`: ids only.
    pub quiet: bool,
    /// ANSI colours on stdout.
    pub color: bool,
    /// Progress bars on stderr (a terminal, and neither `-q` nor `-v`, whose lines they would garble).
    pub progress: bool,
}

/// `-v` and `QTOOL_LOG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub verbosity: u8,
    /// Overrides `verbosity` when set.
    pub filter: Option<String>,
    /// ANSI colours in log lines: only on a terminal, and not with `NO_COLOR`.
    pub ansi: bool,
}

/// What the flags and the environment say about the server to talk to; the context fills the
/// rest in [`Settings::target`].
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// The context chosen for this run (`--context`, `QTOOL_CONTEXT`); else the current one.
    pub context: Option<Sourced<String>>,
    /// The server URL (`--server`, `QTOOL_SERVER`); else the context's.
    pub server: Option<Sourced<String>>,
    pub server_type: Option<ServerType>,
    pub insecure: bool,
    pub ca_cert: Option<Sourced<PathBuf>>,
    pub headers: Vec<(String, String)>,
    pub timeout: Sourced<Duration>,
    pub retries: Sourced<u32>,
    /// `--max-response-size`, `QTOOL_MAX_RESPONSE_SIZE`; else the context's, else the default.
    pub max_response_size: Option<Sourced<u64>>,
}

impl ConnectionSettings {
    /// How long a command that waits for something waits: `--timeout` (or `QTOOL_TIMEOUT`)
    /// when the user gave one, else the command's own `default`.
    pub fn timeout_or(&self, default: Duration) -> Duration {
        if self.timeout.is_explicit() {
            self.timeout.value
        } else {
            default
        }
    }
}

/// Secrets the environment supplies instead of argv or the credentials file.
#[derive(Clone, Default)]
pub struct EnvSecrets {
    pub api_key: Option<String>,
    pub password: Option<String>,
    pub key_passphrase: Option<String>,
    pub cert_password: Option<String>,
}

impl std::fmt::Debug for EnvSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |s: &Option<String>| if s.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("EnvSecrets")
            .field("api_key", &shown(&self.api_key))
            .field("password", &shown(&self.password))
            .field("key_passphrase", &shown(&self.key_passphrase))
            .field("cert_password", &shown(&self.cert_password))
            .finish()
    }
}

/// Whether stdout and stderr are terminals (colour, progress bars).
#[derive(Debug, Clone, Copy, Default)]
pub struct Terminal {
    pub stdout: bool,
    pub stderr: bool,
}

impl Terminal {
    pub fn detect() -> Terminal {
        use std::io::IsTerminal;
        Terminal {
            stdout: std::io::stdout().is_terminal(),
            stderr: std::io::stderr().is_terminal(),
        }
    }
}

/// Everything a run is told, resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub output: OutputSettings,
    pub log: LogSettings,
    pub connection: ConnectionSettings,
    pub secrets: EnvSecrets,
    pub paths: Paths,
    /// The whole snapshot, for what names variables itself (`${env:NAME}` in `qem apply` manifests).
    pub env: Environment,
}

impl Settings {
    /// Resolve the global flags against the environment. A malformed environment value is a
    /// usage error naming the variable, as a malformed flag is.
    pub fn resolve(args: &GlobalArgs, env: Environment, terminal: Terminal) -> Result<Settings> {
        let format = args.output_format();
        let colors_allowed = env.get_raw("NO_COLOR").is_none_or(str::is_empty)
            && env.get_raw("TERM") != Some("dumb");
        let output = OutputSettings {
            format,
            quiet: args.quiet,
            color: terminal.stdout && colors_allowed,
            progress: terminal.stderr && !args.quiet && args.verbose == 0,
        };
        let log = LogSettings {
            verbosity: args.verbose,
            filter: env.get(vars::LOG).map(str::to_string),
            ansi: terminal.stderr && colors_allowed,
        };
        let connection = ConnectionSettings {
            context: sourced(args.context.clone(), &env, vars::CONTEXT, |v| {
                Ok(v.to_string())
            })?,
            server: sourced(args.server.clone(), &env, vars::SERVER, |v| {
                Ok(v.to_string())
            })?,
            server_type: args.server_type,
            insecure: args.insecure,
            ca_cert: sourced(args.ca_cert.clone(), &env, vars::CA_CERT, |v| {
                Ok(PathBuf::from(v))
            })?,
            headers: args.headers.clone(),
            timeout: sourced(args.timeout, &env, vars::TIMEOUT, |v| {
                crate::cli::parse_timeout_arg(v)
            })?
            .unwrap_or(Sourced {
                value: DEFAULT_TIMEOUT,
                origin: Origin::Default,
            }),
            retries: sourced(args.retries, &env, vars::RETRIES, |v| {
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| "expected a whole number such as 3".to_string())
            })?
            .unwrap_or(Sourced {
                value: DEFAULT_RETRIES,
                origin: Origin::Default,
            }),
            max_response_size: sourced(
                args.max_response_size,
                &env,
                vars::MAX_RESPONSE_SIZE,
                crate::cli::parse_byte_count_arg,
            )?,
        };
        let secrets = EnvSecrets {
            api_key: env.get(vars::API_KEY).map(str::to_string),
            password: env.get(vars::PASSWORD).map(str::to_string),
            key_passphrase: env.get(vars::KEY_PASSPHRASE).map(str::to_string),
            cert_password: env.get(vars::CERT_PASSWORD).map(str::to_string),
        };
        Ok(Settings {
            output,
            log,
            connection,
            secrets,
            paths: Paths::resolve(&env),
            env,
        })
    }

    /// The context store in the configured directory.
    pub fn store(&self) -> Result<Store> {
        Ok(Store::new(self.paths.config_dir()?.to_path_buf()))
    }

    /// The server this run talks to: flags, then environment, then the context.
    pub fn target(&self, store: &Store) -> Result<Target> {
        target::resolve(&self.connection, &self.secrets, store)
    }
}

/// The flag's value, else the environment variable's (parsed), with the origin.
fn sourced<T>(
    flag: Option<T>,
    env: &Environment,
    var: &'static str,
    parse: impl FnOnce(&str) -> std::result::Result<T, String>,
) -> Result<Option<Sourced<T>>> {
    if let Some(value) = flag {
        return Ok(Some(Sourced {
            value,
            origin: Origin::Flag,
        }));
    }
    let Some(text) = env.get(var) else {
        return Ok(None);
    };
    let value = parse(text).map_err(|e| {
        Error::usage(format!("{var}=`{text}` is invalid: {e}"))
            .with_hint(format!("fix or unset {var}"))
    })?;
    Ok(Some(Sourced {
        value,
        origin: Origin::Env(var),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn settings(args: &[&str], env: &[(&str, &str)]) -> Result<Settings> {
        let mut argv = vec!["qtool"];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&["context", "ls"]);
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        Settings::resolve(
            &cli.global,
            Environment::from_pairs(env.iter().copied()),
            Terminal::default(),
        )
    }

    #[test]
    fn flag_beats_environment_beats_default() {
        let s = settings(&[], &[]).unwrap();
        assert_eq!(s.connection.timeout.value, DEFAULT_TIMEOUT);
        assert!(!s.connection.timeout.is_explicit());
        assert_eq!(s.connection.retries.value, DEFAULT_RETRIES);
        assert!(s.connection.server.is_none());

        let env = [
            ("QTOOL_TIMEOUT", "5m"),
            ("QTOOL_SERVER", "https://env/jwt"),
            ("QTOOL_RETRIES", "7"),
        ];
        let s = settings(&[], &env).unwrap();
        assert_eq!(
            s.connection.timeout,
            Sourced {
                value: Duration::from_secs(300),
                origin: Origin::Env("QTOOL_TIMEOUT")
            }
        );
        assert!(s.connection.timeout.is_explicit());
        assert_eq!(s.connection.retries.value, 7);
        assert_eq!(s.connection.server.unwrap().value, "https://env/jwt");

        let s = settings(&["--timeout", "2s", "--server", "https://flag/jwt"], &env).unwrap();
        assert_eq!(s.connection.timeout.value, Duration::from_secs(2));
        assert_eq!(s.connection.timeout.origin, Origin::Flag);
        let server = s.connection.server.unwrap();
        assert_eq!(
            (server.value.as_str(), server.origin),
            ("https://flag/jwt", Origin::Flag)
        );
    }

    #[test]
    fn empty_environment_values_are_unset_and_bad_ones_are_usage_errors() {
        let s = settings(&[], &[("QTOOL_TIMEOUT", ""), ("QTOOL_CONTEXT", "")]).unwrap();
        assert!(!s.connection.timeout.is_explicit());
        assert!(s.connection.context.is_none());
        let err = settings(&[], &[("QTOOL_TIMEOUT", "soon")]).unwrap_err();
        assert_eq!(err.class(), crate::error::ErrorClass::Usage);
        assert!(err.message().contains("QTOOL_TIMEOUT"), "{err}");
        let err = settings(&[], &[("QTOOL_RETRIES", "-1")]).unwrap_err();
        assert!(err.message().contains("QTOOL_RETRIES"), "{err}");
    }

    #[test]
    fn output_and_secrets_from_the_environment() {
        let s = settings(
            &["--json", "-v"],
            &[("QTOOL_PASSWORD", "pw"), ("QTOOL_LOG", "debug")],
        )
        .unwrap();
        assert_eq!(s.output.format, OutputFormat::Json);
        assert!(!s.output.color && !s.output.progress);
        assert_eq!(s.log.filter.as_deref(), Some("debug"));
        assert_eq!(s.secrets.password.as_deref(), Some("pw"));
        assert!(!format!("{:?}", s.secrets).contains("pw"));

        let cli = crate::cli::Cli::try_parse_from(["qtool", "context", "ls"]).unwrap();
        let on_terminal = Terminal {
            stdout: true,
            stderr: true,
        };
        let resolve = |env: &[(&str, &str)]| {
            Settings::resolve(
                &cli.global,
                Environment::from_pairs(env.iter().copied()),
                on_terminal,
            )
            .unwrap()
            .output
        };
        assert!(resolve(&[]).color && resolve(&[]).progress);
        assert!(!resolve(&[("NO_COLOR", "1")]).color);
        assert!(resolve(&[("NO_COLOR", "")]).color);
        assert!(!resolve(&[("TERM", "dumb")]).color);
    }

    /// A store with a QEM context `qa` (current; password auth) and a QSEoW context `prod`
    /// (JWT minted per run).
    fn store_with_contexts(dir: &std::path::Path) -> Store {
        use crate::context::model::{AuthKind, Context, JwtRecipe, Secrets};
        let store = Store::new(dir.to_path_buf());
        store
            .update(|all| {
                let base = Context {
                    server: "https://qa.example.com".into(),
                    server_type: ServerType::Qem,
                    auth: AuthKind::Password,
                    insecure: false,
                    ca_cert: Some(PathBuf::from("/context/ca.pem")),
                    comment: None,
                    user: Some("D\\svc".into()),
                    jwt: None,
                    client_cert: None,
                    max_response_size: None,
                };
                let prod = Context {
                    server: "https://prod.example.com/jwt".into(),
                    server_type: ServerType::Windows,
                    auth: AuthKind::JwtSign,
                    ca_cert: None,
                    user: None,
                    jwt: Some(JwtRecipe {
                        key: PathBuf::from("/keys/k.pem"),
                        userid: "u".into(),
                        userdirectory: "d".into(),
                        ..JwtRecipe::default()
                    }),
                    ..base.clone()
                };
                all.file.contexts.insert("qa".into(), base);
                all.file.contexts.insert("prod".into(), prod);
                all.file.current_context = Some("qa".into());
                all.set_secrets(
                    "qa",
                    Secrets {
                        password: Some("stored".into()),
                        ..Secrets::default()
                    },
                );
                Ok(())
            })
            .unwrap();
        store
    }

    fn target(args: &[&str], env: &[(&str, &str)], store: &Store) -> Result<Target> {
        settings(args, env)?.target(store)
    }

    #[test]
    fn target_precedence_is_flag_then_environment_then_context() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_contexts(dir.path());
        let password = |t: &Target| match &t.auth {
            Auth::Password { password, .. } => password.clone(),
            other => panic!("password auth expected, got {other:?}"),
        };

        // The current context alone.
        let t = target(&[], &[], &store).unwrap();
        assert_eq!(t.context.as_deref(), Some("qa"));
        assert_eq!(t.server.as_str(), "https://qa.example.com/");
        assert_eq!(password(&t), "stored");
        assert_eq!(
            t.tls.ca_cert.as_deref(),
            Some(std::path::Path::new("/context/ca.pem"))
        );
        assert_eq!(t.timeout, DEFAULT_TIMEOUT);

        // The environment beats the context; a flag beats the environment.
        let env = [
            ("QTOOL_PASSWORD", "from-env"),
            ("QTOOL_CA_CERT", "/env/ca.pem"),
            ("QTOOL_TIMEOUT", "10s"),
        ];
        let t = target(&[], &env, &store).unwrap();
        assert_eq!(password(&t), "from-env");
        assert_eq!(
            t.tls.ca_cert.as_deref(),
            Some(std::path::Path::new("/env/ca.pem"))
        );
        assert_eq!(t.timeout, Duration::from_secs(10));
        let t = target(
            &["--ca-cert", "/flag/ca.pem", "--timeout", "3s"],
            &env,
            &store,
        )
        .unwrap();
        assert_eq!(
            t.tls.ca_cert.as_deref(),
            Some(std::path::Path::new("/flag/ca.pem"))
        );
        assert_eq!(t.timeout, Duration::from_secs(3));

        // Context selection: QTOOL_CONTEXT over the current one, --context over QTOOL_CONTEXT.
        let t = target(
            &[],
            &[("QTOOL_CONTEXT", "prod"), ("QTOOL_KEY_PASSPHRASE", "pp")],
            &store,
        )
        .unwrap();
        assert_eq!(t.context.as_deref(), Some("prod"));
        match &t.auth {
            Auth::JwtSign { recipe, passphrase } => {
                assert_eq!(recipe.userid, "u");
                assert_eq!(passphrase.as_deref(), Some("pp"));
            }
            other => panic!("jwt-sign expected, got {other:?}"),
        }
        let t = target(&["--context", "qa"], &[("QTOOL_CONTEXT", "prod")], &store).unwrap();
        assert_eq!(t.context.as_deref(), Some("qa"));

        // A server URL without a context choice is an ad-hoc target (the API key from the
        // environment); with one, it replaces the context's URL.
        let t = target(
            &[],
            &[("QTOOL_SERVER", "https://adhoc/"), ("QTOOL_API_KEY", "k")],
            &store,
        )
        .unwrap();
        assert_eq!(t.context, None);
        assert!(matches!(&t.auth, Auth::Bearer(k) if k == "k"));
        let t = target(
            &["--context", "qa", "--server", "https://other/"],
            &[],
            &store,
        )
        .unwrap();
        assert_eq!(
            (t.context.as_deref(), t.server.as_str()),
            (Some("qa"), "https://other/")
        );

        let err = target(&["--context", "nope"], &[], &store).unwrap_err();
        assert_eq!(err.class(), crate::error::ErrorClass::NotFound);
    }
}

//! `qtool sandbox`: a thin adapter from the command line to the emulator crate
//! (`qtool-sandbox`), which knows nothing of clap, exit codes or qtool's output. The walkthrough
//! lives here because it drives this binary, not the emulator.

mod walkthrough;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use qtool_sandbox::{Config, ErrorKind, Limits, Listener, Sandbox, Seed};

use crate::app::App;
use crate::error::{Error, ErrorClass, Result};
use crate::output::status;

#[derive(Debug, Args)]
#[command(
    after_help = "Prints the discovery document (URLs, CA, credential files) on stdout and writes it \
                  to <state-dir>/sandbox.json. Ctrl-C or SIGTERM stops it after a final snapshot. \
                  A write it has answered survives even kill -9 (<state-dir>/journal.jsonl). \
                  Limits and durability: docs/sandbox.md."
)]
pub struct SandboxArgs {
    /// Address of the QSEoW proxy (virtual proxies /jwt, /form and the default one, like port 443).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Address of the QRS certificate port (mutual TLS, like port 4242).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub cert_listen: SocketAddr,

    /// Address of the proxy's Windows authentication module (NTLM, like port 4244).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub auth_listen: SocketAddr,
    /// Address of the engine's certificate port (QIX WebSockets with mutual TLS, like port 4747).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub engine_listen: SocketAddr,

    /// Address of the Qlik Enterprise Manager API.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub qem_listen: SocketAddr,

    /// Allow listening on non-loopback addresses (the sandbox has well-known credentials).
    #[arg(long)]
    pub allow_remote: bool,

    /// Keep certificates, credentials and state here across runs (default: a temporary
    /// directory removed on exit).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Delay every request by this much (e.g. 20ms).
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::parse_duration_arg, default_value = "0s")]
    pub latency: Duration,

    /// Fail this fraction of requests (0 to 1): half with 503, half by dropping the connection.
    #[arg(long, value_name = "P", value_parser = parse_rate, default_value_t = 0.0)]
    pub fault_rate: f64,

    /// Draw the faults from a sequence seeded with N instead of at random, so that the same
    /// requests in the same order meet the same faults.
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,

    /// QEM session lifetime (sliding).
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::parse_duration_arg, default_value = "300s")]
    pub session_ttl: Duration,

    /// Windows authentication refuses NTLM responses without the TLS channel binding
    /// (Extended Protection "Required", as on hardened sites).
    #[arg(long)]
    pub require_channel_binding: bool,

    /// Seed for a fresh state: apps=N,tasks=M[,qem-tasks=K][,objects=O]: qem-tasks defaults to
    /// tasks; objects is the number of sheets and charts in each seeded app (default 12).
    #[arg(long, value_name = "SPEC", default_value = "apps=3,tasks=3")]
    pub seed: Seed,

    /// Connections open at once over all listeners. Beyond it the oldest idle one is closed to
    /// make room; when all are busy, new ones wait to be accepted. Lowered to fit the open-file
    /// limit (ulimit -n).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), default_value_t = 1024, help_heading = LIMITS)]
    pub max_connections: u32,

    /// Time a client has to complete the TLS handshake.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, default_value = "10s", help_heading = LIMITS)]
    pub handshake_timeout: Duration,

    /// Time a client has to send a complete request head (from the handshake for the first
    /// request, from the head's first byte for later ones); also the grace before
    /// --min-body-rate counts.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, default_value = "20s", help_heading = LIMITS)]
    pub header_read_timeout: Duration,

    /// Time a connection may stay idle between requests, and may go without reading any of a
    /// response, before it is closed. WebSocket connections are not subject to it.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, default_value = "60s", help_heading = LIMITS)]
    pub idle_timeout: Duration,

    /// Slowest request body accepted, in bytes per second on average after the grace period
    /// (slower: 408 and the connection is closed).
    #[arg(long, value_name = "BYTES", value_parser = qtool_common::bytes::parse, default_value = "1KiB", help_heading = LIMITS)]
    pub min_body_rate: u64,

    /// Request body bytes held in memory at once over all requests. A request that would go
    /// beyond it gets 503 with Retry-After before its body is read (413 if it can never fit).
    /// Uploads streamed to disk do not count.
    #[arg(long, value_name = "BYTES", value_parser = qtool_common::bytes::parse, default_value = "256MiB", help_heading = LIMITS)]
    pub max_inflight_body_bytes: u64,

    /// Instead of serving: run the seed tutorial end to end (keys, JWT virtual proxy, contexts,
    /// apps, a reload task, a QEM task round trip) against a fresh sandbox, showing each command.
    #[arg(long, conflicts_with_all = ["state_dir", "allow_remote"])]
    pub walkthrough: bool,
}

impl SandboxArgs {
    fn config(self) -> Config {
        Config {
            listen: self.listen,
            cert_listen: self.cert_listen,
            auth_listen: self.auth_listen,
            engine_listen: self.engine_listen,
            qem_listen: self.qem_listen,
            allow_remote: self.allow_remote,
            state_dir: self.state_dir,
            latency: self.latency,
            fault_rate: self.fault_rate,
            fault_seed: self.fault_seed,
            session_ttl: self.session_ttl,
            seed: self.seed,
            require_channel_binding: self.require_channel_binding,
            limits: Limits {
                handshake_timeout: self.handshake_timeout,
                header_read_timeout: self.header_read_timeout,
                idle_timeout: self.idle_timeout,
                min_body_rate: self.min_body_rate,
                max_connections: self.max_connections as usize,
                max_inflight_body_bytes: self.max_inflight_body_bytes,
            },
        }
    }
}

/// `--help` heading of the flags that bound what clients may hold.
const LIMITS: &str = "Limits (over all listeners)";

/// A timeout: a duration above zero.
fn parse_timeout(text: &str) -> std::result::Result<Duration, String> {
    match crate::cli::parse_duration_arg(text)? {
        d if d.is_zero() => Err(format!(
            "`{text}` is zero: a timeout must be longer than 0s"
        )),
        d => Ok(d),
    }
}

fn parse_rate(text: &str) -> std::result::Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| format!("`{text}` is not a probability from 0 to 1 (e.g. 0.05)"))
}

pub(crate) fn run(args: SandboxArgs, app: &App) -> Result<u8> {
    if args.walkthrough {
        walkthrough::run(&app.printer)?;
        return Ok(0);
    }
    let config = args.config();
    if let Some((listener, addr)) = config.remote_listeners().first()
        && !config.allow_remote
    {
        let flag = match listener {
            Listener::Proxy => "--listen",
            Listener::CertificatePort => "--cert-listen",
            Listener::AuthenticationModule => "--auth-listen",
            Listener::EnginePort => "--engine-listen",
            Listener::Qem => "--qem-listen",
        };
        return Err(
            Error::usage(format!("{flag} {addr} is not a loopback address")).with_hint(
                "the sandbox has well-known credentials; add --allow-remote if you really mean it",
            ),
        );
    }
    let mut sandbox = Sandbox::start(config).map_err(from_sandbox)?;
    app.printer.line(sandbox.discovery_text())?;
    let endpoints = sandbox.endpoints();
    status(&format!(
        "sandbox ready: QSEoW proxy {}, certificate port {}, Windows authentication {}, engine {}, QEM {}; Ctrl-C to stop",
        endpoints.proxy_url(),
        endpoints.cert_url(),
        endpoints.auth_url(),
        endpoints.engine_url(),
        endpoints.qem_url()
    ));
    sandbox.wait_for_stop_signal();
    status("stopping: finishing open requests");
    let report = sandbox.shutdown().map_err(from_sandbox)?;
    status(&format!("faults injected: {}", report.faults_injected));
    Ok(0)
}

/// The emulator's errors, classified for qtool's exit codes.
fn from_sandbox(e: qtool_sandbox::Error) -> Error {
    let class = match e.kind() {
        ErrorKind::Usage => ErrorClass::Usage,
        ErrorKind::Input => ErrorClass::Input,
        ErrorKind::State => ErrorClass::Config,
        ErrorKind::Conflict => ErrorClass::Conflict,
        ErrorKind::Network => ErrorClass::Network,
        ErrorKind::Tls => ErrorClass::Tls,
        ErrorKind::Io { not_found: true } => ErrorClass::NotFound,
        ErrorKind::Io { not_found: false } => ErrorClass::Io,
        ErrorKind::Failed => ErrorClass::Failed,
    };
    let error = Error::new(class, e.message());
    match e.hint() {
        Some(hint) => error.with_hint(hint),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_range() {
        assert_eq!(parse_rate("0.05").unwrap(), 0.05);
        assert!(parse_rate("1.5").is_err());
        assert!(parse_rate("-0.1").is_err());
        assert!(parse_rate("NaN").is_err());
    }

    #[test]
    fn limits_flags() {
        assert_eq!(parse_timeout("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_timeout("0s").is_err());
    }
}

//! `qtool sandbox`: an embedded QSEoW (virtual proxy + QRS) and QEM emulator over HTTPS on
//! loopback, for tests, demos and trying qtool without a Qlik site.
//!
//! Layout: `pki` (CA, server/client certificates, JWT key), `server` (TLS listeners, graceful
//! shutdown), `proxy` (virtual proxies, JWT/forms auth, sessions, certificate port), `faults`
//! (latency and fault injection), `persist` (snapshots), `discovery` (`sandbox.json`); the
//! emulators themselves are `qrs` and `qem`.

pub mod discovery;
pub mod faults;
pub mod identity;
pub mod persist;
pub mod pki;
pub mod proxy;
pub mod qem;
pub mod qrs;
pub mod server;
pub mod walkthrough;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::sync::watch;

use crate::app::App;
use crate::error::{Error, Result};
use crate::output::status;
use crate::storage::{self, Sensitivity};
use discovery::{Endpoints, SecretFiles};
use faults::Faults;
use pki::Pki;
use proxy::{FormsUser, Proxy};
use qem::{QemConfig, QemState};
use qrs::{ProxyAuth, QrsConfig, QrsState, VirtualProxy};
use server::ClientAuth;

#[derive(Debug, Args)]
#[command(
    after_help = "Prints the discovery document (URLs, CA, credential files) on stdout and writes it \
                  to <state-dir>/sandbox.json. Ctrl-C or SIGTERM stops it after a final snapshot."
)]
pub struct SandboxArgs {
    /// Address of the QSEoW proxy (virtual proxies /jwt and /form, like port 443).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Address of the QRS certificate port (mutual TLS, like port 4242).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub cert_listen: SocketAddr,

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
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0s")]
    pub latency: Duration,

    /// Fail this fraction of requests (0 to 1): half with 503, half by dropping the connection.
    #[arg(long, value_name = "P", value_parser = parse_rate, default_value_t = 0.0)]
    pub fault_rate: f64,

    /// Draw the faults from a sequence seeded with N instead of at random, so that the same
    /// requests in the same order meet the same faults.
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,

    /// QEM session lifetime (sliding).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "300s")]
    pub session_ttl: Duration,

    /// Seed for a fresh state: apps=N,tasks=M[,qem-tasks=K] (qem-tasks defaults to tasks).
    #[arg(long, value_name = "SPEC", value_parser = parse_seed, default_value = "apps=3,tasks=3")]
    pub seed: Seed,

    /// Instead of serving: run the seed tutorial end to end (keys, JWT virtual proxy, contexts,
    /// apps, a reload task, a QEM task round trip) against a fresh sandbox, showing each command.
    #[arg(long, conflicts_with_all = ["state_dir", "allow_remote"])]
    pub walkthrough: bool,
}

/// How much a fresh sandbox is seeded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seed {
    pub apps: usize,
    pub tasks: usize,
    pub qem_tasks: usize,
}

/// Most seeded objects of one kind (keeps a typo from filling the disk).
const MAX_SEED: usize = 100_000;

fn parse_seed(text: &str) -> std::result::Result<Seed, String> {
    let mut apps = None;
    let mut tasks = None;
    let mut qem_tasks = None;
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}` is not KEY=N (keys: apps, tasks, qem-tasks)"))?;
        let n: usize = value
            .trim()
            .parse()
            .ok()
            .filter(|n| *n <= MAX_SEED)
            .ok_or_else(|| format!("`{value}` is not a number from 0 to {MAX_SEED}"))?;
        match key.trim() {
            "apps" => apps = Some(n),
            "tasks" => tasks = Some(n),
            "qem-tasks" | "qem_tasks" => qem_tasks = Some(n),
            other => {
                return Err(format!(
                    "unknown seed `{other}` (keys: apps, tasks, qem-tasks)"
                ));
            }
        }
    }
    let tasks = tasks.unwrap_or(3);
    Ok(Seed {
        apps: apps.unwrap_or(3),
        tasks,
        qem_tasks: qem_tasks.unwrap_or(tasks),
    })
}

fn parse_rate(text: &str) -> std::result::Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| format!("`{text}` is not a probability from 0 to 1 (e.g. 0.05)"))
}

fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    crate::duration::parse(text).map_err(|e| e.to_string())
}

pub fn run(args: SandboxArgs, app: &App) -> Result<u8> {
    if args.walkthrough {
        walkthrough::run(&app.printer)?;
        return Ok(0);
    }
    if !args.allow_remote {
        for (flag, addr) in [
            ("--listen", args.listen),
            ("--cert-listen", args.cert_listen),
            ("--qem-listen", args.qem_listen),
        ] {
            if !addr.ip().is_loopback() {
                return Err(Error::usage(format!(
                    "{flag} {addr} is not a loopback address"
                ))
                .with_hint("the sandbox has well-known credentials; add --allow-remote if you really mean it"));
            }
        }
    }
    let (state_dir, _temp) = match &args.state_dir {
        Some(dir) => {
            storage::ensure_private_dir(dir)?;
            (dir.clone(), None)
        }
        None => {
            let temp = TempStateDir::create()?;
            (temp.0.clone(), Some(temp))
        }
    };
    let _lock = lock_state_dir(&state_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))?;
    let result = runtime.block_on(serve(args, &state_dir, app));
    runtime.shutdown_timeout(Duration::from_secs(1));
    result.map(|()| 0)
}

/// A private temporary state directory, removed on drop.
struct TempStateDir(PathBuf);

impl TempStateDir {
    fn create() -> Result<TempStateDir> {
        let dir = std::env::temp_dir().join(format!("qtool-sandbox-{}", uuid::Uuid::new_v4()));
        storage::ensure_private_dir(&dir)?;
        Ok(TempStateDir(dir))
    }
}

impl Drop for TempStateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One sandbox per state directory: an exclusive lock on `<state>/.sandbox.lock`.
fn lock_state_dir(dir: &Path) -> Result<storage::DirLock> {
    storage::DirLock::try_acquire(dir, ".sandbox.lock")?.ok_or_else(|| {
        Error::conflict(format!("another sandbox is running on {}", dir.display()))
            .with_hint("stop it, or pass another --state-dir")
    })
}

/// A random alphanumeric secret.
fn random_secret(len: usize) -> Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Error::failed("the system random number generator failed"))?;
    // 256 % 57 bias is irrelevant for a test server's password.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// Read a secret file, or create it with a fresh random value (0600).
fn load_or_create_secret(path: &Path, len: usize) -> Result<String> {
    if path.exists() {
        let text = storage::read_to_string(path)?;
        let text = text.trim();
        if !text.is_empty() {
            return Ok(text.to_string());
        }
    }
    let secret = random_secret(len)?;
    storage::atomic_write(path, secret.as_bytes(), Sensitivity::Secret)?;
    Ok(secret)
}

/// An RS256 token for admin/SANDBOX, valid 24 hours, for `--api-key-stdin`.
fn admin_token(jwt_private_pem: &str) -> Result<String> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(jwt_private_pem.as_bytes())
        .map_err(|e| Error::input(format!("the sandbox JWT key is unusable: {e}")))?;
    let now = jsonwebtoken::get_current_timestamp();
    let claims = serde_json::json!({
        "userid": discovery::JWT_USERID,
        "userdirectory": discovery::JWT_USERDIRECTORY,
        "name": discovery::JWT_USERID,
        "aud": discovery::JWT_AUDIENCE,
        "iat": now,
        "exp": now + 24 * 3600,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map_err(|e| Error::failed(format!("cannot sign the sandbox token: {e}")))
}

fn default_virtual_proxies(pki: &Pki) -> Vec<VirtualProxy> {
    vec![
        VirtualProxy {
            prefix: "jwt".into(),
            description: "JWT (qtool sandbox)".into(),
            session_cookie_name: discovery::JWT_COOKIE.into(),
            auth: ProxyAuth::Jwt {
                jwt_certificate: pki.jwt_cert.clone(),
                jwt_audience: discovery::JWT_AUDIENCE.into(),
                userid_attribute: "userid".into(),
                userdirectory_attribute: "userdirectory".into(),
            },
        },
        VirtualProxy {
            prefix: "form".into(),
            description: "Forms (qtool sandbox)".into(),
            session_cookie_name: discovery::FORMS_COOKIE.into(),
            auth: ProxyAuth::Forms,
        },
    ]
}

async fn serve(args: SandboxArgs, state_dir: &Path, app: &App) -> Result<()> {
    // Certificates and credentials (generated on first start, reused after).
    let pki = tokio::task::block_in_place(|| Pki::load_or_create(state_dir))?;
    let secrets = SecretFiles::new(state_dir);
    let forms_password = load_or_create_secret(&secrets.forms_password, 20)?;
    let qem_password = load_or_create_secret(&secrets.qem_password, 20)?;
    let qem_api_token = load_or_create_secret(&secrets.qem_api_token, 40)?;
    let token = admin_token(&pki.jwt_private_key)?;
    storage::atomic_write(&secrets.admin_jwt, token.as_bytes(), Sensitivity::Secret)?;

    // The emulators, restored from their snapshots when there are some.
    let qrs_config = QrsConfig {
        data_dir: state_dir.join("apps"),
        seed_apps: args.seed.apps,
        seed_tasks: args.seed.tasks,
        virtual_proxies: default_virtual_proxies(&pki),
    };
    let qrs_state = match persist::load_snapshot(&state_dir.join("qrs.json"))? {
        Some(snapshot) => QrsState::restore(qrs_config, snapshot)?,
        None => QrsState::new(qrs_config)?,
    };
    let faults = Arc::new(Faults::new(args.latency, args.fault_rate, args.fault_seed));
    let qem_config = QemConfig {
        users: vec![(discovery::QEM_USER.to_string(), qem_password)],
        api_tokens: vec![qem_api_token],
        jwt_certificate: Some(pki.jwt_cert.clone()),
        session_ttl: args.session_ttl,
        faults: faults.clone(),
        seed_tasks: args.seed.qem_tasks,
    };
    let qem_state = match persist::load_snapshot(&state_dir.join("qem.json"))? {
        Some(snapshot) => QemState::restore(qem_config, snapshot)?,
        None => QemState::new(qem_config)?,
    };

    // The three listeners.
    let proxy_listener = server::bind(args.listen, "QSEoW proxy").await?;
    let cert_listener = server::bind(args.cert_listen, "QRS certificate port").await?;
    let qem_listener = server::bind(args.qem_listen, "QEM").await?;
    let local = |l: &tokio::net::TcpListener| {
        l.local_addr()
            .map_err(|e| Error::io("reading the listen address", e))
    };
    let endpoints = Endpoints {
        proxy: local(&proxy_listener)?,
        cert: local(&cert_listener)?,
        qem: local(&qem_listener)?,
    };
    let plain_tls = server::tls_acceptor(&pki.server_cert, &pki.server_key, ClientAuth::None)?;
    let mutual_tls = server::tls_acceptor(
        &pki.server_cert,
        &pki.server_key,
        ClientAuth::Required {
            ca_pem: pki.ca_cert.clone(),
        },
    )?;
    let qrs_router = qrs::router(qrs_state.clone());
    let forms_users = vec![FormsUser {
        identity: identity::Identity::new(discovery::JWT_USERDIRECTORY, "admin"),
        password: forms_password,
    }];
    let proxy = Proxy::new(qrs_state.clone(), qrs_router.clone(), forms_users);

    let (stop_tx, stop_rx) = watch::channel(false);
    let servers = [
        tokio::spawn(server::serve(
            "proxy",
            proxy_listener,
            plain_tls.clone(),
            proxy.router(),
            faults.clone(),
            stop_rx.clone(),
        )),
        tokio::spawn(server::serve(
            "cert",
            cert_listener,
            mutual_tls,
            proxy::cert_router(qrs_router),
            faults.clone(),
            stop_rx.clone(),
        )),
        tokio::spawn(server::serve(
            "qem",
            qem_listener,
            plain_tls,
            qem::router(qem_state.clone()),
            faults.clone(),
            stop_rx.clone(),
        )),
    ];
    let (persist_tx, persist_rx) = watch::channel(false);
    let persister = tokio::spawn(
        persist::Persister::new(state_dir, qrs_state, qem_state, faults.clone()).run(persist_rx),
    );

    // Signal handlers first: once the discovery file exists, a SIGTERM must already mean a
    // clean stop with a final snapshot, not the default kill.
    let signals = Signals::install()?;
    // Announce.
    let doc = discovery::document(state_dir, &pki.paths, &secrets, &endpoints);
    let text = discovery::write(state_dir, &doc)?;
    app.printer.line(&text)?;
    status(&format!(
        "sandbox ready: QSEoW proxy {}, certificate port {}, QEM {}; Ctrl-C to stop",
        discovery::https_url(endpoints.proxy),
        discovery::https_url(endpoints.cert),
        discovery::https_url(endpoints.qem)
    ));

    signals.wait().await;
    status("stopping: finishing open requests");
    let _ = stop_tx.send(true);
    for s in servers {
        let _ = s.await;
    }
    let _ = persist_tx.send(true);
    let saved = persister
        .await
        .map_err(|e| Error::failed(format!("the snapshot task failed: {e}")))?;
    let _ = std::fs::remove_file(state_dir.join(discovery::FILE_NAME));
    status(&format!("faults injected: {}", faults.injected()));
    saved
}

/// Ctrl-C (SIGINT) or SIGTERM, listened for from the moment of `install`.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                term: signal(SignalKind::terminate())
                    .map_err(|e| Error::io("installing the SIGTERM handler", e))?,
                int: signal(SignalKind::interrupt())
                    .map_err(|e| Error::io("installing the SIGINT handler", e))?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.int.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_spec() {
        assert_eq!(
            parse_seed("apps=5,tasks=2").unwrap(),
            Seed {
                apps: 5,
                tasks: 2,
                qem_tasks: 2
            }
        );
        assert_eq!(parse_seed("qem-tasks=7").unwrap().qem_tasks, 7);
        assert!(parse_seed("apps=x").is_err());
        assert!(parse_seed("users=3").is_err());
        assert!(parse_seed("apps").is_err());
    }

    #[test]
    fn rate_range() {
        assert_eq!(parse_rate("0.05").unwrap(), 0.05);
        assert!(parse_rate("1.5").is_err());
        assert!(parse_rate("-0.1").is_err());
        assert!(parse_rate("NaN").is_err());
    }
}

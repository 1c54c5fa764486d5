//! An emulator of Qlik Sense Enterprise on Windows (the proxy with its virtual proxies, and the
//! Qlik Repository Service on its certificate port) and of Qlik Enterprise Manager, served over
//! HTTPS on loopback. It is qtool's test oracle and a place to try things without a licence.
//!
//! It stands alone on purpose: it shares no protocol knowledge with the qtool client (no paths,
//! enum tables or error codes), only generic file plumbing from `qtool-common`. Every wire fact it
//! serves is written here again from the specifications, so a mistake in the client cannot be
//! mirrored by the emulator and pass unnoticed.
//!
//! Layout: `pki` (CA, server/client certificates, JWT key), `server` (TLS listeners, graceful
//! shutdown), `limits` (what a client may hold: time, connections, memory), `connections` (the
//! connection cap and the watchdog of silent and slow connections), `body` (request bodies:
//! minimum rate, in-flight memory budget, drain of unread rests), `proxy` (virtual proxies,
//! JWT/forms auth, sessions, certificate port), `faults` (latency and fault injection),
//! `journal` (answered writes survive a kill), `persist` (snapshots), `discovery`
//! (`sandbox.json`); the
//! emulators themselves are `qrs`, `engine` (the QIX engine, behind the proxy and on its own
//! certificate port) and `qem`. [`run`] is the whole sandbox; the rest is public for
//! the emulator's tests and fuzz targets.

#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

mod body;
mod connections;
pub mod discovery;
pub mod engine;
mod error;
pub mod faults;
pub mod identity;
pub mod journal;
mod limits;
pub mod persist;
pub mod pki;
pub mod proxy;
pub mod qem;
pub mod qrs;
pub mod server;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use qtool_common::fs::{self as files, Sensitivity};
use tokio::sync::watch;

pub use error::{Error, ErrorKind, Result};
pub use limits::Limits;

use discovery::{Endpoints, SecretFiles};
use faults::Faults;
use journal::Journal;
use pki::Pki;
use proxy::windows::WindowsConfig;
use proxy::{DirectoryUser, Proxy};
use qem::{QemConfig, QemState};
use qrs::{ProxyAuth, QrsConfig, QrsState, VirtualProxy};
use server::{ClientAuth, HttpVersions};

/// Everything a sandbox run is told.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address of the QSEoW proxy (virtual proxies, like port 443).
    pub listen: SocketAddr,
    /// Address of the QRS certificate port (mutual TLS, like port 4242).
    pub cert_listen: SocketAddr,
    /// Address of the proxy's Windows authentication module (NTLM, like port 4244).
    pub auth_listen: SocketAddr,
    /// Address of the engine's certificate port (mutual TLS, like port 4747).
    pub engine_listen: SocketAddr,
    /// Address of the Qlik Enterprise Manager API.
    pub qem_listen: SocketAddr,
    /// Allow non-loopback addresses (the sandbox has well-known credentials).
    pub allow_remote: bool,
    /// Where certificates, credentials and state live across runs; `None`: a temporary
    /// directory removed at the end.
    pub state_dir: Option<PathBuf>,
    /// Delay added to every request.
    pub latency: Duration,
    /// Fraction of requests that fail (half 503, half a dropped connection).
    pub fault_rate: f64,
    /// Draw faults from a sequence seeded with this, for repeatable runs.
    pub fault_seed: Option<u64>,
    /// QEM session lifetime (sliding).
    pub session_ttl: Duration,
    /// How much a fresh state is seeded with.
    pub seed: Seed,
    /// Windows authentication refuses NTLM responses without the TLS channel binding
    /// (Extended Protection "Required", as hardened sites).
    pub require_channel_binding: bool,
    /// Timeouts, the connection cap and the in-flight body budget.
    pub limits: Limits,
}

/// The sandbox's listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Proxy,
    CertificatePort,
    AuthenticationModule,
    EnginePort,
    Qem,
}

impl std::fmt::Display for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Listener::Proxy => "QSEoW proxy",
            Listener::CertificatePort => "QRS certificate port",
            Listener::AuthenticationModule => "Windows authentication module",
            Listener::EnginePort => "engine certificate port",
            Listener::Qem => "QEM",
        })
    }
}

impl Config {
    /// The listeners configured on an address other than loopback.
    pub fn remote_listeners(&self) -> Vec<(Listener, SocketAddr)> {
        [
            (Listener::Proxy, self.listen),
            (Listener::CertificatePort, self.cert_listen),
            (Listener::AuthenticationModule, self.auth_listen),
            (Listener::EnginePort, self.engine_listen),
            (Listener::Qem, self.qem_listen),
        ]
        .into_iter()
        .filter(|(_, addr)| !addr.ip().is_loopback())
        .collect()
    }
}

/// How much a fresh sandbox is seeded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seed {
    pub apps: usize,
    pub tasks: usize,
    pub qem_tasks: usize,
    /// Generic objects (sheets and their charts) in each seeded app.
    pub objects: usize,
}

/// Most seeded objects of one kind (keeps a typo from filling the disk).
const MAX_SEED: usize = 100_000;
/// Generic objects per seeded app by default: three sheets of three charts.
pub const DEFAULT_SEED_OBJECTS: usize = 12;

impl FromStr for Seed {
    type Err = String;

    /// `apps=N,tasks=M[,qem-tasks=K][,objects=O]` (qem-tasks defaults to tasks, objects to 12).
    fn from_str(text: &str) -> std::result::Result<Seed, String> {
        let mut apps = None;
        let mut tasks = None;
        let mut qem_tasks = None;
        let mut objects = None;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                format!("`{part}` is not KEY=N (keys: apps, tasks, qem-tasks, objects)")
            })?;
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
                "objects" => objects = Some(n),
                other => {
                    return Err(format!(
                        "unknown seed `{other}` (keys: apps, tasks, qem-tasks, objects)"
                    ));
                }
            }
        }
        let tasks = tasks.unwrap_or(3);
        Ok(Seed {
            apps: apps.unwrap_or(3),
            tasks,
            qem_tasks: qem_tasks.unwrap_or(tasks),
            objects: objects.unwrap_or(DEFAULT_SEED_OBJECTS),
        })
    }
}

/// A running sandbox: its runtime, listeners, snapshot task and signal handlers. Made by
/// [`Sandbox::start`], which returns once every listener is bound and `sandbox.json` is written;
/// [`Sandbox::wait_for_stop_signal`] then blocks until Ctrl-C or SIGTERM, and
/// [`Sandbox::shutdown`] drains open requests and writes a final snapshot.
pub struct Sandbox {
    runtime: tokio::runtime::Runtime,
    running: Running,
    state_dir: PathBuf,
    discovery_text: String,
    endpoints: Endpoints,
    // Dropped last (field order): the lock, then the temporary directory.
    _lock: files::DirLock,
    _temp: Option<TempStateDir>,
}

/// The tasks of a running sandbox.
struct Running {
    servers: Vec<tokio::task::JoinHandle<()>>,
    stop_servers: watch::Sender<bool>,
    persister: tokio::task::JoinHandle<Result<()>>,
    stop_persister: watch::Sender<bool>,
    journal: Journal,
    faults: Arc<Faults>,
    signals: Option<Signals>,
}

/// What a sandbox did, told when it stops.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub faults_injected: u64,
}

impl Sandbox {
    /// Check the configuration, take the state directory, create or load certificates,
    /// credentials and state, bind the listeners and write the discovery document.
    pub fn start(config: Config) -> Result<Sandbox> {
        if let Some((listener, addr)) = config.remote_listeners().first()
            && !config.allow_remote
        {
            return Err(Error::usage(format!(
                "the {listener} address {addr} is not a loopback address"
            ))
            .with_hint(
                "the sandbox has well-known credentials; allow remote addresses only if you really mean it",
            ));
        }
        let (state_dir, temp) = match &config.state_dir {
            Some(dir) => {
                files::ensure_private_dir(dir)?;
                (dir.clone(), None)
            }
            None => {
                let temp = TempStateDir::create()?;
                (temp.0.clone(), Some(temp))
            }
        };
        let lock = lock_state_dir(&state_dir)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the async runtime", e))?;
        let (running, endpoints, discovery_text) =
            runtime.block_on(start_servers(&config, &state_dir))?;
        Ok(Sandbox {
            runtime,
            running,
            state_dir,
            discovery_text,
            endpoints,
            _lock: lock,
            _temp: temp,
        })
    }

    /// The discovery document (JSON), as written to `<state-dir>/sandbox.json`.
    pub fn discovery_text(&self) -> &str {
        &self.discovery_text
    }

    /// Where the listeners are.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Block until Ctrl-C or SIGTERM.
    pub fn wait_for_stop_signal(&mut self) {
        if let Some(signals) = self.running.signals.take() {
            self.runtime.block_on(signals.wait());
        }
    }

    /// Stop accepting, let open requests finish, write a final snapshot.
    pub fn shutdown(self) -> Result<Report> {
        let Sandbox {
            runtime,
            running,
            state_dir,
            ..
        } = self;
        let result = runtime.block_on(async {
            let _ = running.stop_servers.send(true);
            for server in running.servers {
                let _ = server.await;
            }
            let _ = running.stop_persister.send(true);
            let saved = running
                .persister
                .await
                .map_err(|e| Error::failed(format!("the snapshot task failed: {e}")))?;
            running.journal.close();
            saved
        });
        runtime.shutdown_timeout(Duration::from_secs(1));
        let _ = std::fs::remove_file(state_dir.join(discovery::FILE_NAME));
        result.map(|()| Report {
            faults_injected: running.faults.injected(),
        })
    }
}

/// A private temporary state directory, removed on drop.
struct TempStateDir(PathBuf);

impl TempStateDir {
    fn create() -> Result<TempStateDir> {
        let dir = std::env::temp_dir().join(format!("qtool-sandbox-{}", uuid::Uuid::new_v4()));
        files::ensure_private_dir(&dir)?;
        Ok(TempStateDir(dir))
    }
}

impl Drop for TempStateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One sandbox per state directory: an exclusive lock on `<state>/.sandbox.lock`.
fn lock_state_dir(dir: &Path) -> Result<files::DirLock> {
    files::DirLock::try_acquire(dir, ".sandbox.lock")?.ok_or_else(|| {
        Error::conflict(format!("another sandbox is running on {}", dir.display()))
            .with_hint("stop it, or use another state directory")
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
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let text = text.trim();
        if !text.is_empty() {
            return Ok(text.to_string());
        }
    }
    let secret = random_secret(len)?;
    files::atomic_write(path, secret.as_bytes(), Sensitivity::Secret)?;
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
            // A pattern no user agent contains: every client gets the forms login page, the
            // way admins set up a forms-only virtual proxy.
            auth: ProxyAuth::Ticket {
                windows_pattern: discovery::FORMS_ONLY_PATTERN.into(),
            },
        },
        // The central proxy's default virtual proxy as installed: no prefix, Ticket with
        // Windows authentication for user agents containing "Windows".
        VirtualProxy {
            prefix: String::new(),
            description: "Central Proxy (Default)".into(),
            session_cookie_name: discovery::DEFAULT_COOKIE.into(),
            auth: ProxyAuth::Ticket {
                windows_pattern: discovery::WINDOWS_PATTERN.into(),
            },
        },
    ]
}

async fn start_servers(args: &Config, state_dir: &Path) -> Result<(Running, Endpoints, String)> {
    // Certificates and credentials (generated on first start, reused after).
    let pki = tokio::task::block_in_place(|| Pki::load_or_create(state_dir))?;
    let secrets = SecretFiles::new(state_dir);
    let forms_password = load_or_create_secret(&secrets.forms_password, 20)?;
    let service_password = load_or_create_secret(&secrets.service_password, 20)?;
    let qem_password = load_or_create_secret(&secrets.qem_password, 20)?;
    let qem_api_token = load_or_create_secret(&secrets.qem_api_token, 40)?;
    let token = admin_token(&pki.jwt_private_key)?;
    files::atomic_write(&secrets.admin_jwt, token.as_bytes(), Sensitivity::Secret)?;

    // The emulators, restored from their snapshots when there are some.
    let qrs_config = QrsConfig {
        data_dir: state_dir.join("apps"),
        seed_apps: args.seed.apps,
        seed_tasks: args.seed.tasks,
        seed_objects: args.seed.objects,
        virtual_proxies: default_virtual_proxies(&pki),
    };
    // The journal holds the changes answered since the snapshots were written.
    let (journal, records) = tokio::task::block_in_place(|| Journal::open(state_dir))?;
    let newer = |kind: journal::Kind, snapshot: &serde_json::Value| {
        let covered = persist::journal_seq(snapshot);
        records
            .iter()
            .filter(move |r| r.kind == kind && r.seq > covered)
            .map(|r| &r.payload)
    };
    let qrs_state = match persist::load_snapshot(&state_dir.join("qrs.json"))? {
        Some(snapshot) => {
            let replay = newer(journal::Kind::Qrs, &snapshot).collect::<Vec<_>>();
            QrsState::restore_with(qrs_config, snapshot, replay)?
        }
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
        // A QEM record is the whole state: the latest one after the snapshot wins.
        Some(snapshot) => match newer(journal::Kind::Qem, &snapshot).next_back() {
            Some(image) => QemState::restore(qem_config, image.clone())?,
            None => QemState::restore(qem_config, snapshot)?,
        },
        None => QemState::new(qem_config)?,
    };
    drop(records);
    qrs_state.attach_journal(journal.clone());
    qem_state.attach_journal(journal.clone());

    // The listeners.
    let proxy_listener = server::bind(args.listen, "QSEoW proxy").await?;
    let cert_listener = server::bind(args.cert_listen, "QRS certificate port").await?;
    let auth_listener = server::bind(args.auth_listen, "Windows authentication module").await?;
    let engine_listener = server::bind(args.engine_listen, "engine certificate port").await?;
    let qem_listener = server::bind(args.qem_listen, "QEM").await?;
    let local = |l: &tokio::net::TcpListener| {
        l.local_addr()
            .map_err(|e| Error::io("reading the listen address", e))
    };
    let endpoints = Endpoints {
        proxy: local(&proxy_listener)?,
        cert: local(&cert_listener)?,
        auth: local(&auth_listener)?,
        engine: local(&engine_listener)?,
        qem: local(&qem_listener)?,
    };
    let plain_tls = server::tls_acceptor(
        &pki.server_cert,
        &pki.server_key,
        ClientAuth::None,
        HttpVersions::Http2AndHttp1,
    )?;
    let mutual_tls = server::tls_acceptor(
        &pki.server_cert,
        &pki.server_key,
        ClientAuth::Required {
            ca_pem: pki.ca_cert.clone(),
        },
        HttpVersions::Http2AndHttp1,
    )?;
    // The engine port carries WebSockets, which need HTTP/1.1.
    let engine_tls = server::tls_acceptor(
        &pki.server_cert,
        &pki.server_key,
        ClientAuth::Required {
            ca_pem: pki.ca_cert.clone(),
        },
        HttpVersions::Http1Only,
    )?;
    // QEM offers HTTP/1.1 only: see docs/sandbox-qem.md, "Transport".
    let qem_tls = server::tls_acceptor(
        &pki.server_cert,
        &pki.server_key,
        ClientAuth::None,
        HttpVersions::Http1Only,
    )?;
    let qrs_router = qrs::router(qrs_state.clone());
    // The site's Windows domain: the same accounts log in with forms and with NTLM.
    let users = vec![
        DirectoryUser {
            identity: identity::Identity::new(discovery::JWT_USERDIRECTORY, discovery::ADMIN_ID),
            password: forms_password,
        },
        DirectoryUser {
            identity: identity::Identity::new(discovery::JWT_USERDIRECTORY, discovery::SERVICE_ID),
            password: service_password,
        },
    ];
    let windows = WindowsConfig {
        module_port: endpoints.auth.port(),
        server_cert_der: pki::first_certificate_der(&pki.server_cert)?,
        require_channel_binding: args.require_channel_binding,
    };
    let engine = engine::Engine::new(qrs_state.clone(), faults.clone());
    let proxy = Proxy::new(
        qrs_state.clone(),
        qrs_router.clone(),
        engine.clone(),
        users,
        windows,
    );
    let persister = persist::Persister::new(
        state_dir,
        qrs_state.clone(),
        qem_state.clone(),
        faults.clone(),
        proxy.windows_stats(),
        journal.clone(),
    );
    // Before serving: what was replayed, or a fresh seed, is on disk before a change refers to it.
    tokio::task::block_in_place(|| persister.save_all())?;

    let mut limits = args.limits;
    let (max_connections, lowered_by) = limits.fit_to_fd_limit();
    if let Some(fd_limit) = lowered_by {
        tracing::warn!(
            "at most {max_connections} connections instead of {}: the file descriptor limit is \
             {fd_limit} (raise it with ulimit -n)",
            limits.max_connections
        );
    }
    limits.max_connections = max_connections;
    let guards = server::Guards::new(limits);
    let (stop_tx, stop_rx) = watch::channel(false);
    let servers = [
        tokio::spawn(server::serve(
            "proxy",
            proxy_listener,
            plain_tls.clone(),
            proxy.router(),
            faults.clone(),
            guards.clone(),
            stop_rx.clone(),
        )),
        tokio::spawn(server::serve(
            "cert",
            cert_listener,
            mutual_tls,
            proxy::cert_router(qrs_router),
            faults.clone(),
            guards.clone(),
            stop_rx.clone(),
        )),
        tokio::spawn(server::serve(
            "auth",
            auth_listener,
            plain_tls.clone(),
            proxy.windows_router(),
            faults.clone(),
            guards.clone(),
            stop_rx.clone(),
        )),
        tokio::spawn(server::serve(
            "engine",
            engine_listener,
            engine_tls,
            engine::port_router(engine),
            faults.clone(),
            guards.clone(),
            stop_rx.clone(),
        )),
        tokio::spawn(server::serve(
            "qem",
            qem_listener,
            qem_tls,
            qem::router(qem_state.clone()),
            faults.clone(),
            guards.clone(),
            stop_rx.clone(),
        )),
    ];
    let (persist_tx, persist_rx) = watch::channel(false);
    let persister = tokio::spawn(persister.run(persist_rx));

    // Signal handlers first: once the discovery file exists, a SIGTERM must already mean a
    // clean stop with a final snapshot, not the default kill.
    let signals = Signals::install()?;
    let doc = discovery::document(
        state_dir,
        &pki.paths,
        &secrets,
        &endpoints,
        args.require_channel_binding,
    );
    let text = discovery::write(state_dir, &doc)?;
    let running = Running {
        servers: servers.into(),
        stop_servers: stop_tx,
        persister,
        stop_persister: persist_tx,
        journal,
        faults,
        signals: Some(signals),
    };
    Ok((running, endpoints, text))
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
            "apps=5,tasks=2".parse::<Seed>().unwrap(),
            Seed {
                apps: 5,
                tasks: 2,
                qem_tasks: 2,
                objects: DEFAULT_SEED_OBJECTS,
            }
        );
        assert_eq!("apps=1,objects=1000".parse::<Seed>().unwrap().objects, 1000);
        assert_eq!("qem-tasks=7".parse::<Seed>().unwrap().qem_tasks, 7);
        assert!("apps=x".parse::<Seed>().is_err());
        assert!("users=3".parse::<Seed>().is_err());
        assert!("apps".parse::<Seed>().is_err());
    }
}

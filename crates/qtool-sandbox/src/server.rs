//! The sandbox's HTTPS listeners: TLS (rustls on aws-lc-rs) in front of an axum `Router`,
//! served by hyper (HTTP/2 when ALPN chose it, else HTTP/1.1 with upgrades), with the
//! latency/fault layer on every request and a graceful shutdown (stop accepting, let open
//! requests finish, close idle connections).
//!
//! Every connection takes a slot of the shared connection cap before it is accepted and is
//! watched for silence and slowness (`connections`); request bodies keep a minimum rate and
//! buffered ones a memory budget (`body`); an answer waits until the journal holds the changes
//! its request made (`journal`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::body::{BodyBudget, RequestBody};
use super::connections::{Conn, Connections, Expiry, Metered, RequestGuard};
use super::faults::{Faults, Verdict};
use super::journal;
use super::limits::Limits;
use crate::error::{Error, Result};

/// Upper bound of a request head (request line + headers), HTTP/1.1 and HTTP/2.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Upper bound of the number of request headers (HTTP/1.1).
const MAX_HEADERS: usize = 128;
/// How long a connection whose handshake failed is kept half-open for the client to read the
/// alert (see `close_after_alert`).
const ALERT_LINGER: Duration = Duration::from_secs(2);
/// How long open requests may run after a shutdown signal before they are cut.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// State an app keeps for one connection (connection-bound authentication: NTLM), given to every
/// request of the connection as an extension and dropped with the connection.
#[derive(Clone, Default)]
pub struct ConnectionSlot(Arc<std::sync::Mutex<Option<Box<dyn std::any::Any + Send>>>>);

impl ConnectionSlot {
    /// Take what the connection holds, if it is a `T`.
    pub fn take<T: 'static>(&self) -> Option<T> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take()?.downcast::<T>() {
            Ok(value) => Some(*value),
            Err(other) => {
                *slot = Some(other);
                None
            }
        }
    }

    /// Keep `value` for the connection's next request.
    pub fn put<T: Send + 'static>(&self, value: T) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(value));
    }
}

/// Whether a listener asks clients for a certificate.
pub enum ClientAuth {
    None,
    /// Mutual TLS: the client certificate must chain to this CA (PEM).
    Required {
        ca_pem: String,
    },
}

/// The HTTP versions a listener offers in the TLS handshake (ALPN). HTTP/2 is served only on a
/// connection that negotiated it, as TLS servers do (no HTTP/2 "prior knowledge" over TLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersions {
    /// HTTP/2 and HTTP/1.1 (the QSEoW proxy and certificate port).
    Http2AndHttp1,
    /// HTTP/1.1 only (QEM: its clients are told to avoid HTTP/2).
    Http1Only,
}

/// Build the TLS acceptor for one listener.
pub fn tls_acceptor(
    cert_pem: &str,
    key_pem: &str,
    client_auth: ClientAuth,
    versions: HttpVersions,
) -> Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::input(format!("the sandbox server certificate is not PEM: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| Error::input(format!("the sandbox server key is not PEM: {e}")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::tls(format!("cannot configure TLS: {e}")))?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Required { ca_pem } => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
                let cert =
                    cert.map_err(|e| Error::input(format!("the sandbox CA is not PEM: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| Error::tls(format!("cannot trust the sandbox CA: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| Error::tls(format!("cannot configure client certificates: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| Error::tls(format!("cannot use the sandbox server certificate: {e}")))?;
    config.alpn_protocols = match versions {
        HttpVersions::Http2AndHttp1 => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        HttpVersions::Http1Only => vec![b"http/1.1".to_vec()],
    };
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Bind a TCP listener, with a one-line error naming the address.
pub async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            "pick another port, or 0 for any free port"
        } else {
            "check the address"
        };
        Error::network(format!("cannot listen on {addr} ({what}): {e}")).with_hint(hint)
    })
}

/// What every listener shares: the connection cap and its timeouts, the body budget.
pub struct Guards {
    pub connections: Arc<Connections>,
    pub budget: BodyBudget,
}

impl Guards {
    pub fn new(limits: Limits) -> Arc<Guards> {
        Arc::new(Guards {
            connections: Connections::new(limits),
            budget: BodyBudget::new(limits.max_inflight_body_bytes),
        })
    }

    fn limits(&self) -> &Limits {
        self.connections.limits()
    }
}

/// The error a service returns to make hyper close the connection without an answer.
#[derive(Debug)]
struct DroppedByFaultInjection;

impl std::fmt::Display for DroppedByFaultInjection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DroppedByFaultInjection {}

/// What a listener's connections share.
struct Listening {
    name: &'static str,
    acceptor: TlsAcceptor,
    app: Router,
    faults: Arc<Faults>,
    guards: Arc<Guards>,
}

/// Accept connections until `shutdown` turns true, then drain open connections.
pub async fn serve(
    name: &'static str,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    faults: Arc<Faults>,
    guards: Arc<Guards>,
    mut shutdown: watch::Receiver<bool>,
) {
    let listening = Arc::new(Listening {
        name,
        acceptor,
        app,
        faults,
        guards,
    });
    let tracker = TaskTracker::new();
    loop {
        // A slot first: at the cap, new connections wait in the kernel's accept queue instead
        // of taking a file descriptor each.
        let slot = tokio::select! {
            slot = listening.guards.connections.slot() => slot,
            stopped = shutdown.wait_for(|stop| *stop) => { drop(stopped); break }
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            stopped = shutdown.wait_for(|stop| *stop) => { drop(stopped); break }
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("{name}: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tracker.spawn(connection(
            listening.clone(),
            tcp,
            peer,
            slot,
            shutdown.clone(),
        ));
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("{name}: open requests cut after {DRAIN_TIMEOUT:?}");
    }
}

async fn connection(
    listening: Arc<Listening>,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    slot: tokio::sync::OwnedSemaphorePermit,
    mut shutdown: watch::Receiver<bool>,
) {
    let name = listening.name;
    let limits = *listening.guards.limits();
    let registration = listening.guards.connections.open();
    let conn = registration.conn().clone();
    let handshake = tokio::time::timeout(
        limits.handshake_timeout,
        listening.acceptor.accept(tcp).into_fallible(),
    );
    let handshake = tokio::select! {
        h = handshake => h,
        () = conn.evicted() => {
            tracing::debug!("{name}: closing {peer} in its handshake to make room");
            return;
        }
        stopped = shutdown.wait_for(|stop| *stop) => { drop(stopped); return }
    };
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err((e, tcp))) => {
            tracing::debug!("{name}: TLS handshake with {peer} failed: {e}");
            close_after_alert(tcp).await;
            return;
        }
        Err(_) => {
            tracing::debug!("{name}: TLS handshake with {peer} timed out");
            return;
        }
    };
    let http2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    conn.ready(http2);
    // Set by a request that must drop the connection: the whole connection is closed, as when a
    // load balancer or the network drops it (with HTTP/2 a failed service alone would only
    // reset one stream).
    let kill = Arc::new(tokio::sync::Notify::new());
    let (kill_switch, request_conn, service_listening) =
        (kill.clone(), conn.clone(), listening.clone());
    // Connection-bound state (NTLM authenticates a connection, not a request).
    let connection_state = ConnectionSlot::default();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(connection_state.clone());
        handle(
            service_listening.clone(),
            request_conn.request_started(),
            kill_switch.clone(),
            req,
        )
    });
    // The slot travels with the socket: an upgraded connection keeps it until it closes.
    let io = TokioIo::new(Metered::new(tls, conn.clone(), slot));
    let watched = Watched {
        name,
        peer,
        conn: &conn,
        limits: &limits,
        kill: &kill,
        shutdown,
    };
    // HTTP/2 only where ALPN chose it, as TLS servers do (RFC 9113 §3.2); HTTP/1.1 otherwise,
    // with upgrades (WebSockets), which leave this task and its timeouts once switched.
    if http2 {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_header_list_size(MAX_HEADER_BYTES as u32);
        watched.drive(builder.serve_connection(io, service)).await;
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            // A backstop only: the watchdog applies the header-read and idle timeouts.
            .header_read_timeout(limits.idle_timeout + limits.header_read_timeout)
            .max_buf_size(MAX_HEADER_BYTES)
            .max_headers(MAX_HEADERS);
        watched
            .drive(builder.serve_connection(io, service).with_upgrades())
            .await;
    }
    drop(registration);
}

/// A hyper connection that can be asked to finish its requests and close.
trait GracefulConnection: std::future::Future<Output = std::result::Result<(), hyper::Error>> {
    fn close_gracefully(self: std::pin::Pin<&mut Self>);
}

impl<I, S, E, B> GracefulConnection for hyper::server::conn::http2::Connection<I, S, E>
where
    Self: std::future::Future<Output = std::result::Result<(), hyper::Error>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    B: hyper::body::Body + 'static,
    B::Error: Into<BoxError>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn close_gracefully(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, B> GracefulConnection for hyper::server::conn::http1::UpgradeableConnection<I, S>
where
    Self: std::future::Future<Output = std::result::Result<(), hyper::Error>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    B: hyper::body::Body + 'static,
    B::Error: Into<BoxError>,
{
    fn close_gracefully(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// One connection's serving, with what may end it early.
struct Watched<'a> {
    name: &'static str,
    peer: SocketAddr,
    conn: &'a Conn,
    limits: &'a Limits,
    kill: &'a tokio::sync::Notify,
    shutdown: watch::Receiver<bool>,
}

impl Watched<'_> {
    /// Serve until the connection ends, the watchdog or an eviction closes it (gracefully when
    /// nothing is in flight), fault injection drops it, or the sandbox stops.
    async fn drive(mut self, conn: impl GracefulConnection) {
        let (name, peer) = (self.name, self.peer);
        tokio::pin!(conn);
        let stop = async move {
            // The guard is dropped at once: only the wake-up matters.
            let _ = self.shutdown.wait_for(|stop| *stop).await.map(|_| ());
        };
        let result = tokio::select! {
            r = conn.as_mut() => r,
            () = stop => {
                conn.as_mut().close_gracefully();
                conn.await
            }
            () = self.kill.notified() => {
                tracing::debug!("{name}: dropping the connection from {peer} (fault injection)");
                return;
            }
            expiry = self.conn.watch(self.limits) => {
                tracing::debug!("{name}: closing the connection from {peer}: {expiry}");
                if expiry == Expiry::Stalled {
                    return;
                }
                close_within(conn.as_mut(), self.limits.idle_timeout).await
            }
            () = self.conn.evicted() => {
                tracing::debug!("{name}: closing the idle connection from {peer} to make room");
                close_within(conn.as_mut(), self.limits.idle_timeout).await
            }
        };
        if let Err(e) = result {
            tracing::debug!("{name}: connection from {peer} ended: {e}");
        }
    }
}

/// Close gracefully (an idle connection closes at once; a request that slipped in finishes),
/// dropping the connection if that takes longer than `limit`.
async fn close_within<C: GracefulConnection>(
    mut conn: std::pin::Pin<&mut C>,
    limit: Duration,
) -> std::result::Result<(), hyper::Error> {
    conn.as_mut().close_gracefully();
    tokio::time::timeout(limit, conn).await.unwrap_or(Ok(()))
}

/// Close a connection whose handshake failed without resetting it. The TLS alert (say, "client
/// certificate required") is already sent; with TLS 1.3 the client may also have sent its
/// request by then. Closing a socket with unread data makes the kernel send a reset, which can
/// destroy the alert before the client reads it (it then sees only "connection closed"). So
/// stop writing, and read and discard what the client sends until it closes, for a moment.
async fn close_after_alert(mut tcp: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tcp.shutdown().await;
    let mut buf = [0u8; 16 * 1024];
    let drain = async {
        while let Ok(n) = tcp.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(ALERT_LINGER, drain).await;
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

async fn handle(
    listening: Arc<Listening>,
    mut request: RequestGuard,
    kill: Arc<tokio::sync::Notify>,
    req: Request<Incoming>,
) -> std::result::Result<Response<Body>, BoxError> {
    let response = match listening.faults.before_request().await {
        Verdict::Pass => answer(&listening, req).await,
        Verdict::Unavailable => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable (injected fault)\n",
        ),
        Verdict::Drop => {
            kill.notify_one();
            return Err(BoxError::from(DroppedByFaultInjection));
        }
    };
    request.responding();
    // The request counts as in flight until its response body is sent.
    Ok(response.map(|body| Body::new(Answering { body, request })))
}

/// Run the app, then hold the answer until the changes it made are durable.
async fn answer(listening: &Listening, req: Request<Incoming>) -> Response<Body> {
    let limits = listening.guards.limits();
    let mut req = req.map(|body| Body::new(RequestBody::new(body, limits)));
    req.extensions_mut().insert(listening.guards.budget.clone());
    let (response, recorded) = journal::track(listening.app.clone().oneshot(req)).await;
    let response = match response {
        Ok(r) => r,
        Err(e) => match e {},
    };
    match recorded.durable().await {
        Ok(()) => response,
        Err(e) => {
            tracing::warn!("{}: {e}", listening.name);
            plain(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n"))
        }
    }
}

/// A response body that keeps its request in flight until it is sent or dropped.
struct Answering {
    body: Body,
    request: RequestGuard,
}

impl hyper::body::Body for Answering {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<hyper::body::Frame<Self::Data>, Self::Error>>>
    {
        let _ = &self.request;
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A plain-text response.
pub fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(text.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

//! The sandbox's HTTPS listeners: TLS (rustls on aws-lc-rs) in front of an axum `Router`,
//! served by hyper-util (HTTP/1.1, and HTTP/2 on a connection that negotiated it with ALPN),
//! with the latency/fault layer on every request and a graceful shutdown (stop accepting, let
//! open requests finish, close idle connections).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::faults::{Faults, Verdict};
use super::unread::UnreadBody;
use crate::error::{Error, Result};

/// How long a client may take for the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
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

/// The error a service returns to make hyper close the connection without an answer.
#[derive(Debug)]
struct DroppedByFaultInjection;

impl std::fmt::Display for DroppedByFaultInjection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DroppedByFaultInjection {}

/// Accept connections until `shutdown` turns true, then drain open connections.
pub async fn serve(
    name: &'static str,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    faults: Arc<Faults>,
    mut shutdown: watch::Receiver<bool>,
) {
    let tracker = TaskTracker::new();
    loop {
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
            name,
            tcp,
            peer,
            acceptor.clone(),
            app.clone(),
            faults.clone(),
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
    name: &'static str,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    faults: Arc<Faults>,
    mut shutdown: watch::Receiver<bool>,
) {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp).into_fallible());
    let handshake = tokio::select! {
        h = handshake => h,
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
    // Set by a request that must drop the connection: the whole connection is closed, as when a
    // load balancer or the network drops it (with HTTP/2 a failed service alone would only
    // reset one stream).
    let kill = Arc::new(tokio::sync::Notify::new());
    let kill_switch = kill.clone();
    let slot = ConnectionSlot::default();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(slot.clone());
        handle(app.clone(), faults.clone(), kill_switch.clone(), req)
    });
    let negotiated_h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    let io = TokioIo::new(tls);
    if negotiated_h2 {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(MAX_HEADER_BYTES as u32);
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        drive(name, peer, conn, shutdown, kill, |c| c.graceful_shutdown()).await;
    } else {
        // HTTP/1.1 with upgrades: the engine's WebSockets take the connection over.
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(MAX_HEADER_BYTES)
            .max_headers(MAX_HEADERS);
        let conn = builder.serve_connection(io, service).with_upgrades();
        tokio::pin!(conn);
        drive(name, peer, conn, shutdown, kill, |c| c.graceful_shutdown()).await;
    }
}

/// Serve one connection until it ends, the sandbox stops (graceful shutdown) or a fault kills it.
async fn drive<C, E>(
    name: &'static str,
    peer: SocketAddr,
    mut conn: std::pin::Pin<&mut C>,
    mut shutdown: watch::Receiver<bool>,
    kill: Arc<tokio::sync::Notify>,
    graceful: impl FnOnce(std::pin::Pin<&mut C>),
) where
    C: Future<Output = std::result::Result<(), E>>,
    E: std::fmt::Display,
{
    let stop = async move {
        // The guard is dropped at once: only the wake-up matters.
        let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ());
    };
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = stop => {
            graceful(conn.as_mut());
            conn.await
        }
        () = kill.notified() => {
            tracing::debug!("{name}: dropping the connection from {peer} (fault injection)");
            return;
        }
    };
    if let Err(e) = result {
        tracing::debug!("{name}: connection from {peer} ended: {e}");
    }
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
    app: Router,
    faults: Arc<Faults>,
    kill: Arc<tokio::sync::Notify>,
    req: Request<Incoming>,
) -> std::result::Result<Response<Body>, BoxError> {
    match faults.before_request().await {
        Verdict::Pass => {}
        Verdict::Unavailable => {
            return Ok(plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable (injected fault)\n",
            ));
        }
        Verdict::Drop => {
            kill.notify_one();
            return Err(BoxError::from(DroppedByFaultInjection));
        }
    }
    // A body the app leaves unread is drained after the answer (see `unread`).
    let response = app
        .oneshot(req.map(|body| Body::new(UnreadBody::new(body))))
        .await;
    Ok(match response {
        Ok(r) => r,
        Err(e) => match e {},
    })
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

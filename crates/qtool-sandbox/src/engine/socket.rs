//! The WebSocket side: the HTTP/1.1 upgrade (RFC 6455: `Upgrade: websocket`,
//! `Sec-WebSocket-Version: 13`, the accept key), the `/app/<id>[/identity/<x>][/ttl/<n>]` path,
//! and the socket loop: `OnConnected` first, then each text frame is a request. Answers go out in
//! the order they are ready (a reload answers after later requests), each delayed by the
//! sandbox's latency; with a fault rate a request may instead drop the connection, as a broken
//! network or proxy would.
//!
//! Behind a virtual proxy, the proxy's `OnAuthenticationInformation` notification precedes the
//! answer to the first request (help.qlik.com, Proxy Service API "OnAuthenticationInformation");
//! an upgrade to a forms virtual proxy without a session gets that notification with
//! `mustAuthenticate: true` and its login page, and is closed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::rpc::{self, HandleNews};
use super::session::{Outbound, SessionKey, SocketLink};
use super::spec::session_state;
use super::{Engine, dispatch};
use crate::identity::Identity;
use crate::server::plain;

/// How long a socket refused for lack of a session waits for the client's first message.
const LOGIN_NOTICE_WAIT: Duration = Duration::from_secs(30);

/// Where a socket came in.
#[derive(Debug, Clone)]
pub enum Via {
    /// A virtual proxy; `logout_uri` goes into `OnAuthenticationInformation`.
    Proxy { prefix: String, logout_uri: String },
    /// The engine's certificate port.
    EnginePort,
}

impl Via {
    fn listener(&self) -> String {
        match self {
            Via::Proxy { prefix, .. } => format!("proxy/{}", prefix.to_ascii_lowercase()),
            Via::EnginePort => "engine".into(),
        }
    }
}

/// The parts of `/app/<id>[/identity/<x>][/ttl/<seconds>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPath {
    pub app: Option<String>,
    pub identity: String,
    pub ttl: Duration,
}

/// Whether `path` (after the proxy prefix) is an engine path.
pub fn is_app_path(path: &str) -> bool {
    let head = path.get(..4).unwrap_or(path);
    head.eq_ignore_ascii_case("/app") && (path.len() == 4 || path[4..].starts_with('/'))
}

impl AppPath {
    pub fn parse(path: &str) -> Option<AppPath> {
        if !is_app_path(path) {
            return None;
        }
        let rest = &path[4..];
        let mut parts = rest.trim_start_matches('/').split('/');
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let app = parts.next().map(decode).filter(|s| !s.is_empty());
        let mut out = AppPath {
            app,
            identity: String::new(),
            ttl: Duration::ZERO,
        };
        while let Some(key) = parts.next() {
            let value = parts.next().map(decode).unwrap_or_default();
            match key.to_ascii_lowercase().as_str() {
                "identity" => out.identity = value,
                "ttl" => out.ttl = Duration::from_secs(value.trim().parse().ok()?),
                "" => {}
                _ => return None,
            }
        }
        Some(out)
    }
}

/// Check an upgrade request; the error is the HTTP answer.
#[allow(clippy::result_large_err)] // the ready answer; boxing it buys nothing
fn accept_key(req: &Request) -> Result<String, Response> {
    let headers = req.headers();
    let has = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if req.method() != Method::GET || !has(header::UPGRADE, "websocket") {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            "the engine speaks JSON-RPC over a WebSocket: send a WebSocket upgrade (GET, Upgrade: websocket)\n",
        ));
    }
    if req.version() != Version::HTTP_11 {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            "WebSocket upgrades need HTTP/1.1\n",
        ));
    }
    if !has(header::CONNECTION, "upgrade") {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            "Connection: Upgrade missing\n",
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        != Some("13")
    {
        let mut r = plain(
            StatusCode::UPGRADE_REQUIRED,
            "Sec-WebSocket-Version must be 13\n",
        );
        r.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return Err(r);
    }
    let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|k| !k.is_empty())
    else {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Key missing\n",
        ));
    };
    Ok(derive_accept_key(key.as_bytes()))
}

fn switching_protocols(accept: &str) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    resp
}

/// Take over the connection of `req` once the 101 answer is sent, and run `f` on the socket.
fn take_over<F, Fut>(mut req: Request, f: F) -> Response
where
    F: FnOnce(WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let accept = match accept_key(&req) {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(WebSocketConfig::default()),
                )
                .await;
                f(ws).await;
            }
            Err(e) => tracing::debug!("engine: upgrade failed: {e}"),
        }
    });
    switching_protocols(&accept)
}

/// Serve an authenticated upgrade on `path` (`/app/...`) as `identity`.
pub fn upgrade(
    engine: &Arc<Engine>,
    req: Request,
    path: &str,
    identity: Identity,
    via: Via,
) -> Response {
    let Some(app_path) = AppPath::parse(path) else {
        return plain(
            StatusCode::NOT_FOUND,
            "engine paths are /app/<app id>[/identity/<name>][/ttl/<seconds>]\n",
        );
    };
    let engine = engine.clone();
    take_over(req, move |ws| {
        run_socket(engine, ws, app_path, identity, via)
    })
}

/// An upgrade without a session on a forms virtual proxy: the proxy tells the client where to
/// log in and closes the socket.
pub fn login_required(req: Request, login_uri: String) -> Response {
    take_over(req, move |ws| async move {
        let (mut sink, mut stream) = ws.split();
        let _ = tokio::time::timeout(LOGIN_NOTICE_WAIT, stream.next()).await;
        let notice = rpc::notification(
            "OnAuthenticationInformation",
            json!({"loginUri": login_uri, "mustAuthenticate": true}),
        );
        let _ = sink.send(Message::text(notice)).await;
        let _ = sink.close().await;
    })
}

/// The app of the engine's certificate port (like 4747): mutual TLS proved the caller, and
/// `X-Qlik-User` says whom to run as, with the same rules (and default) as the repository's
/// certificate port.
pub fn port_router(engine: Arc<Engine>) -> Router {
    Router::new().fallback(move |req: Request| {
        let engine = engine.clone();
        async move {
            let identity = match crate::proxy::certificate_identity(req.headers()) {
                Ok(id) => id,
                Err(resp) => return resp,
            };
            let path = req.uri().path().to_string();
            if !is_app_path(&path) {
                return plain(
                    StatusCode::NOT_FOUND,
                    "the engine port serves WebSockets on /app/<app id> only\n",
                );
            }
            upgrade(&engine, req, &path, identity, Via::EnginePort)
        }
    })
}

/// `https://host[:port]` of a request, for URIs the proxy hands out.
pub fn origin_of(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("https://{host}")
}

async fn run_socket(
    engine: Arc<Engine>,
    ws: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>,
    app_path: AppPath,
    identity: Identity,
    via: Via,
) {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let link = Arc::new(SocketLink::new(
        engine.next_id(),
        tx,
        engine.faults.latency(),
    ));
    let key = SessionKey {
        listener: via.listener(),
        user: identity.display_name().to_lowercase(),
        app: app_path.app.clone().unwrap_or_default().to_lowercase(),
        identity: app_path.identity.clone(),
    };
    let (session, attached) = engine.attach(
        key,
        identity.clone(),
        app_path.app.clone(),
        app_path.ttl,
        link.clone(),
    );
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            match out {
                Outbound::Frame { due, text } => {
                    // Frames are batched into few TLS records: flushed before waiting for a
                    // later frame and when nothing else is queued.
                    if due > Instant::now() {
                        if sink.flush().await.is_err() {
                            return;
                        }
                        tokio::time::sleep_until(due.into()).await;
                    }
                    if sink.feed(Message::text(text)).await.is_err() {
                        return;
                    }
                    if rx.is_empty() && sink.flush().await.is_err() {
                        return;
                    }
                }
                Outbound::Close => {
                    let _ = sink.close().await;
                    return;
                }
                // Dropping the sink without a close frame drops the connection.
                Outbound::Kill => return,
            }
        }
    });
    let state = if attached {
        session_state::ATTACHED
    } else {
        session_state::CREATED
    };
    link.send_now(rpc::notification(
        "OnConnected",
        json!({"qSessionState": state}),
    ));
    let mut auth_notice = match &via {
        Via::Proxy { logout_uri, .. } => Some(rpc::notification(
            "OnAuthenticationInformation",
            json!({"userId": identity.user_id, "userDirectory": identity.user_directory,
                   "logoutUri": logout_uri, "mustAuthenticate": false}),
        )),
        Via::EnginePort => None,
    };
    let mut killed = false;
    while let Some(message) = stream.next().await {
        let text = match message {
            Ok(Message::Text(t)) => t.to_string(),
            Ok(Message::Binary(b)) => String::from_utf8_lossy(&b).into_owned(),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        if engine.faults.drop_connection() {
            link.kill();
            killed = true;
            break;
        }
        if let Some(notice) = auth_notice.take() {
            link.send(notice);
        }
        match rpc::parse(&text) {
            Ok(req) => dispatch::handle(&engine, &session, &link, req),
            Err(bad) => link.send(rpc::error_frame(
                bad.id.as_ref(),
                &bad.error,
                &HandleNews::default(),
            )),
        }
    }
    engine.detach(&session, link.id);
    if !killed {
        link.close();
    }
    drop(stream);
    if tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .is_err()
    {
        tracing::debug!("engine: socket writer did not finish");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_paths() {
        assert_eq!(
            AppPath::parse("/app/abc/identity/x/ttl/30"),
            Some(AppPath {
                app: Some("abc".into()),
                identity: "x".into(),
                ttl: Duration::from_secs(30)
            })
        );
        assert_eq!(AppPath::parse("/app/").unwrap().app, None);
        assert_eq!(AppPath::parse("/app").unwrap().app, None);
        assert_eq!(
            AppPath::parse("/app/a%20b").unwrap().app.as_deref(),
            Some("a b")
        );
        assert_eq!(AppPath::parse("/app/a/ttl/x"), None);
        assert_eq!(AppPath::parse("/app/a/other/1"), None);
        assert_eq!(AppPath::parse("/qrs/app"), None);
        assert!(is_app_path("/app/x") && is_app_path("/APP/x") && !is_app_path("/apps"));
        assert_eq!(AppPath::parse("/App/x").unwrap().app.as_deref(), Some("x"));
    }
}

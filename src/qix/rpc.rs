//! One engine session on one WebSocket: JSON-RPC requests with ids, answered in any order.
//!
//! A writer task sends frames as callers make them (many in flight: a caller issues hundreds of
//! requests and awaits them together), batching whatever is queued into one flush; a reader
//! task hands each answer to the caller waiting for its id. Notifications (`OnConnected`, the
//! proxy's `OnAuthenticationInformation`, fatal proxy messages) update the session state;
//! `change`/`close` lists of handles are ignored (nothing here caches layouts) but shown with
//! `--traffic`. When the socket closes, every waiting caller gets the reason: a fatal
//! notification's when there was one, else "the engine closed the connection" (exit 8).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::errors::EngineError;
use super::traffic;
use crate::error::{Error, ErrorClass, Result};

/// The handle of the `Global` class.
pub(crate) const GLOBAL: i64 = -1;

/// The session state of `OnConnected` (schema enum `SessionState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionState {
    Created,
    Attached,
    /// Any other state: the engine refuses the session (licence, access, app failure).
    Refused(String),
}

/// An answer: the result, or the engine's error.
type Answer = std::result::Result<Value, EngineError>;

/// Why the socket is gone, told to every caller still waiting (an [`Error`] is not `Clone`).
#[derive(Debug, Clone)]
struct Closed {
    class: ErrorClass,
    message: String,
    hint: String,
}

impl Closed {
    fn error(&self) -> Error {
        Error::new(self.class, self.message.clone()).with_hint(self.hint.clone())
    }
}

#[derive(Default)]
struct Shared {
    pending: HashMap<u64, oneshot::Sender<Answer>>,
    closed: Option<Closed>,
    /// A fatal notification seen before the socket closed: the reason to report.
    fatal: Option<Closed>,
}

/// A live engine session. Calls may be made concurrently from one task (`join_all`,
/// `buffered`): each waits only for its own answer.
pub(crate) struct Session {
    outbound: mpsc::UnboundedSender<Message>,
    shared: Arc<Mutex<Shared>>,
    state: watch::Receiver<Option<SessionState>>,
    next_id: AtomicU64,
    traffic: bool,
    timeout: Duration,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Who we talk to, for messages ("the engine at wss://host/jwt").
    peer: String,
}

#[derive(Serialize)]
struct Request<'a> {
    jsonrpc: &'static str,
    id: u64,
    method: &'a str,
    handle: i64,
    params: &'a Value,
}

impl Session {
    /// Start the reader and writer tasks on an upgraded socket.
    pub(crate) fn start<S>(
        socket: WebSocketStream<S>,
        peer: String,
        timeout: Duration,
        traffic: bool,
    ) -> Session
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sink, stream) = socket.split();
        let (outbound, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (state_tx, state) = watch::channel(None);
        let writer = tokio::spawn(write_frames(sink, rx, shared.clone(), peer.clone()));
        tokio::spawn(read_frames(
            stream,
            shared.clone(),
            state_tx,
            traffic,
            peer.clone(),
        ));
        Session {
            outbound,
            shared,
            state,
            next_id: AtomicU64::new(1),
            traffic,
            timeout,
            writer: Mutex::new(Some(writer)),
            peer,
        }
    }

    /// The run's per-request limit (`--timeout`).
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Call `method` on `handle`; an engine error becomes a qtool error naming the method.
    pub(crate) async fn call(&self, handle: i64, method: &str, params: Value) -> Result<Value> {
        self.call_raw(handle, method, params, Some(self.timeout))
            .await?
            .map_err(|e| e.into_error(method))
    }

    /// Call and keep an engine error as such (callers that handle some codes themselves).
    /// `limit`: how long to wait for the answer (`None`: as long as the socket lives).
    pub(crate) async fn call_raw(
        &self,
        handle: i64,
        method: &str,
        params: Value,
        limit: Option<Duration>,
    ) -> Result<Answer> {
        self.send(handle, method, params)?.wait(limit).await
    }

    /// Send a request now; the answer is awaited with [`Pending::wait`]. The id is known at
    /// once (`GetProgress` follows a reload by its request id).
    pub(crate) fn send(&self, handle: i64, method: &str, params: Value) -> Result<Pending<'_>> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = Request {
            jsonrpc: "2.0",
            id,
            method,
            handle,
            params: &params,
        };
        let text = serde_json::to_string(&frame)
            .map_err(|e| Error::failed(format!("cannot encode {method}: {e}")))?;
        let (tx, rx) = oneshot::channel();
        {
            let mut shared = lock(&self.shared);
            if let Some(closed) = &shared.closed {
                return Err(closed.error());
            }
            shared.pending.insert(id, tx);
        }
        if self.traffic {
            traffic::log_frame(
                true,
                &serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "handle": handle, "params": params}),
            );
        }
        if self.outbound.send(Message::text(text)).is_err() {
            lock(&self.shared).pending.remove(&id);
            return Err(self.closed_error());
        }
        Ok(Pending {
            session: self,
            id,
            method: method.to_string(),
            rx,
        })
    }

    fn closed_error(&self) -> Error {
        let shared = lock(&self.shared);
        match &shared.closed {
            Some(closed) => closed.error(),
            None => connection_lost(&self.peer).error(),
        }
    }

    /// The `OnConnected` state, waiting for it up to the request timeout. `None` when the
    /// socket closed first (the caller's next call reports why).
    pub(crate) async fn state(&self) -> Option<SessionState> {
        let mut rx = self.state.clone();
        let waited = tokio::time::timeout(self.timeout, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(state)) => state.clone(),
            _ => None,
        }
    }

    /// Close the socket politely and wait (briefly) for the close frame to go out.
    pub(crate) async fn close(self) {
        let _ = self.outbound.send(Message::Close(None));
        let writer = lock_writer(&self.writer);
        drop(self.outbound);
        if let Some(writer) = writer {
            let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        }
    }
}

/// A request sent and not yet answered.
pub(crate) struct Pending<'a> {
    session: &'a Session,
    pub id: u64,
    method: String,
    rx: oneshot::Receiver<Answer>,
}

impl Pending<'_> {
    /// The answer, waiting at most `limit`.
    pub(crate) async fn wait(self, limit: Option<Duration>) -> Result<Answer> {
        let Pending {
            session,
            id,
            method,
            rx,
        } = self;
        let answer = match limit {
            Some(limit) => match tokio::time::timeout(limit, rx).await {
                Ok(answer) => answer,
                Err(_) => {
                    lock(&session.shared).pending.remove(&id);
                    return Err(Error::network(format!(
                        "{} did not answer {method} within {}",
                        session.peer,
                        crate::duration::format(limit)
                    ))
                    .with_hint("check the engine, or raise --timeout"));
                }
            },
            None => rx.await,
        };
        answer.map_err(|_| session.closed_error())
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    // A panic while holding the lock cannot leave the map half-updated in a way that matters.
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock_writer(
    writer: &Mutex<Option<tokio::task::JoinHandle<()>>>,
) -> Option<tokio::task::JoinHandle<()>> {
    writer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
}

fn connection_lost(peer: &str) -> Closed {
    Closed {
        class: ErrorClass::Network,
        message: format!("{peer} closed the connection"),
        hint: "retry; nothing was saved after the last completed step (check the engine and proxy logs if it persists)".into(),
    }
}

/// Mark the session closed with `reason` (or the fatal notification seen before) and fail
/// every waiting call.
fn shut(shared: &Mutex<Shared>, reason: Closed) {
    let pending = {
        let mut shared = lock(shared);
        if shared.closed.is_none() {
            shared.closed = Some(shared.fatal.clone().unwrap_or(reason));
        }
        std::mem::take(&mut shared.pending)
    };
    // Dropping the senders wakes every waiting call, which then reads `closed`.
    drop(pending);
}

async fn write_frames<S>(
    mut sink: futures_util::stream::SplitSink<WebSocketStream<S>, Message>,
    mut rx: mpsc::UnboundedReceiver<Message>,
    shared: Arc<Mutex<Shared>>,
    peer: String,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(first) = rx.recv().await {
        let closing = matches!(first, Message::Close(_));
        let mut result = sink.feed(first).await;
        // Whatever else is queued goes out in the same flush (fewer TLS records and syscalls).
        while result.is_ok() && !closing {
            match rx.try_recv() {
                Ok(next) => result = sink.feed(next).await,
                Err(_) => break,
            }
        }
        if result.is_ok() {
            result = sink.flush().await;
        }
        if let Err(e) = result {
            tracing::debug!("engine socket write failed: {e}");
            shut(&shared, connection_lost(&peer));
            return;
        }
        if closing {
            let _ = sink.close().await;
            return;
        }
    }
}

async fn read_frames<S>(
    mut stream: futures_util::stream::SplitStream<WebSocketStream<S>>,
    shared: Arc<Mutex<Shared>>,
    state: watch::Sender<Option<SessionState>>,
    traffic: bool,
    peer: String,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(message) = stream.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Binary(bytes)) => match String::from_utf8(bytes.to_vec()) {
                Ok(text) => text.into(),
                Err(_) => continue,
            },
            Ok(Message::Close(frame)) => {
                if traffic {
                    traffic::log_line(&format!("close frame {frame:?}"));
                }
                break;
            }
            Ok(_) => continue,
            Err(tokio_tungstenite::tungstenite::Error::Capacity(e)) => {
                // The limit is --max-response-size (see `connect`): the answer is not read.
                shut(
                    &shared,
                    Closed {
                        class: ErrorClass::Server,
                        message: format!(
                            "{peer} sent a message larger than the limit for answers read into memory ({e})"
                        ),
                        hint: crate::http::RAISE_RESPONSE_LIMIT.into(),
                    },
                );
                return;
            }
            Err(e) => {
                tracing::debug!("engine socket read failed: {e}");
                break;
            }
        };
        let frame: Value = match serde_json::from_str(text.as_str()) {
            Ok(v) => v,
            Err(e) => {
                shut(
                    &shared,
                    Closed {
                        class: ErrorClass::Server,
                        message: format!("{peer} sent a frame that is not JSON ({e})"),
                        hint: "check that the URL points at a Qlik engine or virtual proxy".into(),
                    },
                );
                return;
            }
        };
        if traffic {
            traffic::log_frame(false, &frame);
        }
        dispatch(&frame, &shared, &state);
    }
    shut(&shared, connection_lost(&peer));
}

/// Route one received frame: an answer to its caller, a notification to the session state.
fn dispatch(frame: &Value, shared: &Mutex<Shared>, state: &watch::Sender<Option<SessionState>>) {
    if let Some(id) = frame.get("id").and_then(Value::as_u64) {
        let answer = match frame.get("error") {
            Some(error) => Err(EngineError::from_json(error)),
            None => Ok(frame.get("result").cloned().unwrap_or(Value::Null)),
        };
        if let Some(waiting) = lock(shared).pending.remove(&id) {
            let _ = waiting.send(answer);
        }
        return;
    }
    let Some(method) = frame.get("method").and_then(Value::as_str) else {
        // `{"change": [...]}` / `{"close": [...]}` without an id: nothing cached to refresh.
        return;
    };
    let params = frame.get("params").cloned().unwrap_or(Value::Null);
    match method {
        "OnConnected" => {
            let name = params
                .get("qSessionState")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let value = match name {
                "SESSION_CREATED" => SessionState::Created,
                "SESSION_ATTACHED" => SessionState::Attached,
                other => {
                    lock(shared).fatal = Some(refused_session(other));
                    SessionState::Refused(other.to_string())
                }
            };
            let _ = state.send(Some(value));
        }
        "OnAuthenticationInformation" => {
            if params.get("mustAuthenticate").and_then(Value::as_bool) == Some(true) {
                let login = params
                    .get("loginUri")
                    .and_then(Value::as_str)
                    .map(|uri| format!(" ({})", uri.split('?').next().unwrap_or(uri)))
                    .unwrap_or_default();
                lock(shared).fatal = Some(Closed {
                    class: ErrorClass::Auth,
                    message: format!(
                        "the virtual proxy wants a login page{login} instead of opening the engine: the session is not authenticated"
                    ),
                    hint: "log in first (`qtool context login` for a forms proxy), or use a JWT or certificate context".into(),
                });
            }
        }
        other => {
            // Proxy messages such as OnSessionTimedOut or OnLicenseAccessDenied end the session.
            if params.get("severity").and_then(Value::as_str) == Some("fatal") {
                let text = params
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                lock(shared).fatal = Some(fatal_notification(other, text));
            }
        }
    }
}

fn refused_session(state: &str) -> Closed {
    let (class, hint) = match state {
        "SESSION_ERROR_NO_LICENSE" | "SESSION_ERROR_LICENSE_RENEW" => (
            ErrorClass::Auth,
            "the user has no licence (professional/analyzer access): allocate one in the QMC",
        ),
        "SESSION_ERROR_LIMIT_EXCEEDED" => (
            ErrorClass::Auth,
            "the user has too many engine sessions: close some (browser tabs) or wait for them to time out",
        ),
        "SESSION_ERROR_APP_ACCESS_DENIED" | "SESSION_ACCESS_CONTROL_SETUP_FAILURE" => (
            ErrorClass::Auth,
            "the user may not open this app: check the security rules (and section access) in the QMC",
        ),
        _ => (
            ErrorClass::Server,
            "the engine could not set up the session; check the engine log on the server",
        ),
    };
    Closed {
        class,
        message: format!("the engine refused the session: {state}"),
        hint: hint.into(),
    }
}

fn fatal_notification(method: &str, text: &str) -> Closed {
    let class = match method {
        "OnLicenseAccessDenied" | "OnSessionTimedOut" | "OnSessionLoggedOut" => ErrorClass::Auth,
        _ => ErrorClass::Server,
    };
    let detail = if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    };
    Closed {
        class,
        message: format!("the proxy ended the engine session with {method}{detail}"),
        hint: "check the user's licence and session, and the proxy log on the server".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_reach_their_caller_and_notifications_set_the_state() {
        let shared = Mutex::new(Shared::default());
        let (state_tx, state_rx) = watch::channel(None);
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        lock(&shared).pending.insert(1, tx1);
        lock(&shared).pending.insert(2, tx2);
        dispatch(
            &json!({"jsonrpc": "2.0", "method": "OnConnected", "params": {"qSessionState": "SESSION_CREATED"}}),
            &shared,
            &state_tx,
        );
        assert_eq!(*state_rx.borrow(), Some(SessionState::Created));
        // Out of order: 2 first.
        dispatch(
            &json!({"jsonrpc": "2.0", "id": 2, "error": {"code": 1003, "parameter": "x", "message": "App not found"}}),
            &shared,
            &state_tx,
        );
        dispatch(
            &json!({"jsonrpc": "2.0", "id": 1, "result": {"qScript": "x"}, "change": [1]}),
            &shared,
            &state_tx,
        );
        assert_eq!(rx1.try_recv().unwrap().unwrap()["qScript"], "x");
        assert_eq!(rx2.try_recv().unwrap().unwrap_err().code, 1003);
        assert!(lock(&shared).pending.is_empty());
    }

    #[test]
    fn a_login_notice_becomes_the_reason_the_socket_closed() {
        let shared = Mutex::new(Shared::default());
        let (state_tx, _) = watch::channel(None);
        dispatch(
            &json!({"jsonrpc": "2.0", "method": "OnAuthenticationInformation",
                    "params": {"loginUri": "https://h/form/internal_forms_authentication/?targetId=1", "mustAuthenticate": true}}),
            &shared,
            &state_tx,
        );
        shut(&shared, connection_lost("the engine"));
        let err = lock(&shared).closed.clone().unwrap().error();
        assert_eq!(err.class().exit_code(), 5);
        assert!(
            err.message().contains("internal_forms_authentication/)"),
            "{err}"
        );
    }
}

//! The Qlik associative engine (QIX) client: JSON-RPC 2.0 over a WebSocket, on the same TLS
//! stack and contexts as the HTTP clients.
//!
//! - [`connect`]: where the engine is (behind the context's virtual proxy, or on the engine's
//!   certificate port), the proxy's anti-CSRF token, TLS, the upgrade, and the HTTP answers that
//!   are not an upgrade (a login page, 401/403, 404) told as one-line errors.
//! - [`rpc`]: the session on one socket: request ids, handles, many requests in flight answered
//!   in any order, the `OnConnected` session state, fatal proxy notifications, `--traffic`.
//! - [`errors`]: engine error codes (`{"error": {"code", "parameter", "message"}}`) mapped to
//!   qtool's exit codes.
//! - [`doc`]: opening an app and the handful of shapes every caller needs (handles in `qReturn`).

pub(crate) mod connect;
pub(crate) mod doc;
pub(crate) mod errors;
pub(crate) mod rpc;
mod traffic;

pub(crate) use connect::{ConnectOptions, EngineUrl};
pub(crate) use doc::Doc;

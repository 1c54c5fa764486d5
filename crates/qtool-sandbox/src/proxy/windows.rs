//! Windows authentication of "Ticket" virtual proxies, as QSEoW's proxy does it with its
//! internal authentication module (HTTPS port 4244 on a site):
//!
//! 1. A request without a session whose User-Agent contains the virtual proxy's Windows
//!    authentication pattern gets `302` to
//!    `https://<host>:<module port>/[<prefix>/]windows_authentication/?targetId=<id>`, the id
//!    standing for the absolute address first asked for.
//! 2. There the module answers `401` with `WWW-Authenticate: Negotiate` and
//!    `WWW-Authenticate: NTLM`, and runs the NTLM handshake ([`super::ntlm`]) on the client's
//!    connection: NEGOTIATE → `401 <scheme> <CHALLENGE>`, AUTHENTICATE → verified. Raw NTLM
//!    tokens are accepted under either scheme, as Windows accepts them under Negotiate.
//! 3. On success it redirects back to the target with a one-time `qlikTicket` (valid one
//!    minute, for that virtual proxy); the proxy redeems it, starts the session (its cookie)
//!    and serves the request. A refused message gets `401` with both schemes again and a line
//!    saying why.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::ntlm::{NtlmAcceptor, PendingChallenge, Refusal, Step};
use super::{DirectoryUser, Proxy, prefix_path};
use crate::qrs::VirtualProxy;
use crate::server::{ConnectionSlot, plain};

/// The schemes offered in the challenge, in the order QSEoW's proxy sends them.
pub const SCHEMES: [&str; 2] = ["Negotiate", "NTLM"];
/// The module's path segment after the virtual proxy prefix.
pub const MODULE_PATH: &str = "windows_authentication";
/// The query parameter carrying the ticket back to the proxy.
pub const TICKET_PARAMETER: &str = "qlikTicket";

/// How the sandbox's Windows authentication is set up.
#[derive(Debug, Clone)]
pub struct WindowsConfig {
    /// Port of the authentication module listener.
    pub module_port: u16,
    /// The module's TLS certificate (DER), for the channel binding.
    pub server_cert_der: Vec<u8>,
    /// Refuse NTLM responses without a TLS channel binding (Extended Protection "Required").
    pub require_channel_binding: bool,
}

/// What the module counted (written to `stats.json`).
#[derive(Debug, Default)]
pub struct WindowsStats {
    /// Completed NTLM handshakes.
    pub logins: AtomicU64,
    /// Refused NTLM messages.
    pub refusals: AtomicU64,
}

impl WindowsStats {
    pub fn counts(&self) -> WindowsCounts {
        WindowsCounts {
            logins: self.logins.load(Ordering::Relaxed),
            refusals: self.refusals.load(Ordering::Relaxed),
        }
    }
}

/// The counts of [`WindowsStats`] at one moment, as `stats.json` has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct WindowsCounts {
    pub logins: u64,
    pub refusals: u64,
}

/// The authentication module: its acceptor, where it listens and what it counted.
pub struct WindowsModule {
    acceptor: NtlmAcceptor,
    port: u16,
    stats: Arc<WindowsStats>,
}

impl WindowsModule {
    pub fn new(config: WindowsConfig, users: Vec<DirectoryUser>) -> WindowsModule {
        WindowsModule {
            acceptor: NtlmAcceptor::new(
                users,
                &config.server_cert_der,
                config.require_channel_binding,
            ),
            port: config.module_port,
            stats: Arc::new(WindowsStats::default()),
        }
    }

    pub fn stats(&self) -> Arc<WindowsStats> {
        self.stats.clone()
    }
}

/// Whether `user_agent` selects Windows authentication under `pattern` (the virtual proxy's
/// "Windows authentication pattern": a substring of the User-Agent, compared without case).
pub fn user_agent_matches(user_agent: &str, pattern: &str) -> bool {
    !pattern.is_empty()
        && user_agent
            .to_ascii_lowercase()
            .contains(&pattern.to_ascii_lowercase())
}

/// The host a request was sent to (its `Host` header without the port), for absolute URLs.
fn request_host(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    match host.rsplit_once(':') {
        // `[::1]:443` or `host:443`, but not the bare IPv6 `[::1]`.
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty() => {
            name.to_string()
        }
        _ => host.to_string(),
    }
}

/// Step 1: `302` to the authentication module, remembering the absolute address asked for.
pub fn redirect_to_module(proxy: &Proxy, vp: &VirtualProxy, req: &Request) -> Response {
    let authority = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |pq| pq.to_string());
    let target_id = proxy.remember_target(format!("https://{authority}{path_and_query}"));
    let location = format!(
        "https://{}:{}{}{MODULE_PATH}/?targetId={target_id}",
        request_host(req.headers()),
        proxy.windows.port,
        prefix_path(vp)
    );
    let mut resp = plain(StatusCode::FOUND, "Windows authentication\n");
    if let Ok(value) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, value);
    }
    resp
}

/// `401` with `WWW-Authenticate: Negotiate` and `WWW-Authenticate: NTLM`.
pub fn challenge(message: &str) -> Response {
    let mut resp = plain(StatusCode::UNAUTHORIZED, message);
    for scheme in SCHEMES {
        resp.headers_mut()
            .append(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
    }
    resp
}

/// The scheme and decoded token of `Authorization: Negotiate|NTLM <base64>`.
fn authorization(headers: &HeaderMap) -> Option<(&'static str, Result<Vec<u8>, ()>)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    let scheme = SCHEMES
        .into_iter()
        .find(|s| s.eq_ignore_ascii_case(scheme))?;
    Some((scheme, BASE64.decode(token.trim()).map_err(|_| ())))
}

/// The app of the authentication module listener.
pub fn module_router(proxy: &Arc<Proxy>) -> axum::Router {
    axum::Router::new()
        .fallback(module)
        .with_state(proxy.clone())
}

/// Steps 2 and 3 on the module's listener.
async fn module(State(proxy): State<Arc<Proxy>>, req: Request) -> Response {
    let path = req.uri().path().to_ascii_lowercase();
    let under_module = path
        .trim_end_matches('/')
        .strip_suffix(MODULE_PATH)
        .is_some_and(|before| before.ends_with('/'));
    if !under_module {
        return plain(
            StatusCode::NOT_FOUND,
            "the authentication module serves /windows_authentication/ only\n",
        );
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "the authentication module takes GET requests\n",
        );
    }
    let target_id = super::forms::parse_urlencoded(req.uri().query().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("targetId"))
        .map(|(_, v)| v)
        .unwrap_or_default();
    if !proxy.has_target(&target_id) {
        return plain(
            StatusCode::BAD_REQUEST,
            "unknown or expired targetId: start again at the address you want\n",
        );
    }
    let Some((scheme, token)) = authorization(req.headers()) else {
        return challenge("Windows authentication required (WWW-Authenticate: Negotiate, NTLM)\n");
    };
    let refused = |refusal: Refusal| {
        proxy.windows.stats.refusals.fetch_add(1, Ordering::Relaxed);
        tracing::info!("Windows authentication refused: {refusal}");
        challenge(&format!("{refusal}\n"))
    };
    let Ok(token) = token else {
        return refused(Refusal::Malformed("the token is not base64".into()));
    };
    let slot = req.extensions().get::<ConnectionSlot>().cloned();
    let mut pending = slot
        .as_ref()
        .and_then(ConnectionSlot::take::<PendingChallenge>);
    match proxy.windows.acceptor.step(&mut pending, &token) {
        Step::Challenge(message) => {
            if let (Some(slot), Some(p)) = (slot, pending) {
                slot.put(p);
            }
            let mut resp = plain(StatusCode::UNAUTHORIZED, "");
            if let Ok(value) =
                HeaderValue::from_str(&format!("{scheme} {}", BASE64.encode(message)))
            {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            }
            resp
        }
        Step::Refused(refusal) => refused(refusal),
        Step::Authenticated(identity) => {
            let Some(target) = proxy.take_target(&target_id) else {
                return plain(StatusCode::BAD_REQUEST, "the targetId expired meanwhile\n");
            };
            proxy.windows.stats.logins.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                "Windows authentication of {} completed",
                identity.display_name()
            );
            let ticket = proxy.issue_ticket(proxy.prefix_of(&target), identity);
            let separator = if target.contains('?') { '&' } else { '?' };
            let location = format!("{target}{separator}{TICKET_PARAMETER}={ticket}");
            let mut resp = plain(StatusCode::FOUND, "");
            if let Ok(value) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, value);
            }
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_hosts_and_schemes() {
        let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)";
        assert!(user_agent_matches(ua, "Windows"));
        assert!(user_agent_matches(ua, "windows"));
        assert!(!user_agent_matches("curl/8.5.0", "Windows"));
        assert!(!user_agent_matches(ua, ""));
        let mut h = HeaderMap::new();
        h.insert(
            header::HOST,
            HeaderValue::from_static("qlik.example.com:8443"),
        );
        assert_eq!(request_host(&h), "qlik.example.com");
        h.insert(header::HOST, HeaderValue::from_static("[::1]:8443"));
        assert_eq!(request_host(&h), "[::1]");
        h.insert(header::HOST, HeaderValue::from_static("[::1]"));
        assert_eq!(request_host(&h), "[::1]");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("NTLM TlRMTVNTUAAB"),
        );
        assert!(matches!(authorization(&h), Some(("NTLM", Ok(_)))));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("negotiate !!"),
        );
        assert!(matches!(authorization(&h), Some(("Negotiate", Err(())))));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(authorization(&h).is_none());
    }
}

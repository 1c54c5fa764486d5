//! Windows authentication of "Ticket" virtual proxies, as IIS-style integrated authentication
//! answers: a request without accepted credentials gets `401` with one `WWW-Authenticate`
//! header per scheme the proxy offers (`Negotiate`, then `NTLM`).
//!
//! The acceptor is a type of its own so that a real NTLM handshake (challenge and response on
//! one connection, then a session cookie) can be added as another [`WindowsAcceptor`] variant
//! without touching the routing in `proxy`.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::identity::Identity;

/// The schemes offered in the challenge, in the order QSEoW's proxy sends them.
pub const SCHEMES: [&str; 2] = ["Negotiate", "NTLM"];

/// What Windows authentication decided for one request.
pub enum WindowsOutcome {
    /// The handshake finished: the proxy starts a session for this user.
    #[allow(dead_code)] // produced once an acceptor verifies NTLM messages
    Authenticated(Identity),
    /// Answer this (a `401` challenge) and wait for the client's next message.
    Challenge(Response),
}

/// Who verifies Windows credentials.
#[derive(Debug, Clone, Copy, Default)]
pub enum WindowsAcceptor {
    /// No credential verification: every request gets the initial challenge. A client sees
    /// that the proxy wants Windows authentication and which schemes it offers.
    #[default]
    ChallengeOnly,
}

impl WindowsAcceptor {
    /// Decide on a request that carries no valid session.
    pub fn accept(&self, headers: &HeaderMap) -> WindowsOutcome {
        match self {
            WindowsAcceptor::ChallengeOnly => {
                let answered = offered_scheme(headers).is_some();
                WindowsOutcome::Challenge(challenge(if answered {
                    "Windows authentication failed: this sandbox proxy does not verify NTLM or \
                     Kerberos messages; use the /jwt or /form virtual proxy, or the certificate port\n"
                } else {
                    "Windows authentication required (WWW-Authenticate: Negotiate, NTLM)\n"
                }))
            }
        }
    }
}

/// The scheme of an `Authorization: Negotiate|NTLM <token>` header, if the client sent one.
pub fn offered_scheme(headers: &HeaderMap) -> Option<&'static str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let scheme = value.split_whitespace().next()?;
    SCHEMES.into_iter().find(|s| s.eq_ignore_ascii_case(scheme))
}

/// `401` with `WWW-Authenticate: Negotiate` and `WWW-Authenticate: NTLM`.
pub fn challenge(message: &str) -> Response {
    let mut resp = Response::new(Body::from(message.to_string()));
    *resp.status_mut() = StatusCode::UNAUTHORIZED;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    for scheme in SCHEMES {
        h.append(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
    }
    resp
}

/// Whether `user_agent` selects Windows authentication under `pattern` (the virtual proxy's
/// "Windows authentication pattern": a substring of the User-Agent, compared without case).
pub fn user_agent_matches(user_agent: &str, pattern: &str) -> bool {
    !pattern.is_empty()
        && user_agent
            .to_ascii_lowercase()
            .contains(&pattern.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_offers_negotiate_then_ntlm() {
        let WindowsOutcome::Challenge(resp) = WindowsAcceptor::default().accept(&HeaderMap::new())
        else {
            panic!("challenge expected");
        };
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let offered: Vec<&str> = resp
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(offered, ["Negotiate", "NTLM"]);
    }

    #[test]
    fn patterns_and_schemes() {
        let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)";
        assert!(user_agent_matches(ua, "Windows"));
        assert!(user_agent_matches(ua, "windows"));
        assert!(!user_agent_matches("curl/8.5.0", "Windows"));
        assert!(!user_agent_matches(ua, ""));
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("NTLM TlRMTVNTUAAB"),
        );
        assert_eq!(offered_scheme(&h), Some("NTLM"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(offered_scheme(&h), None);
    }
}

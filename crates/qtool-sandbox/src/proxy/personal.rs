//! The proxy's Personal API, served by every virtual proxy under `/{prefix}/qps/` (Qlik's "Open
//! API specification for Proxy Personal API"):
//!
//! - `GET /qps/user[?targetUri=]`: the login status of the caller's session,
//!   `{userDirectory, userId, userName, logoutUri}` or `{"session": "inactive"[, loginUri]}`;
//!   it never redirects or challenges (the hub asks it before deciding to log in);
//! - `DELETE /qps/user`: log out; the session cookie stops working (`204`);
//! - `GET /qps/csrftoken`: `204` with the session's anti-CSRF token in the `qlik-csrf-token`
//!   header (QSEoW November 2024 and later put it on WebSocket URLs). It needs an authenticated
//!   request like any other proxied path.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::forms::{login_location, parse_urlencoded};
use super::{Authenticated, Proxy, prefix_path};
use crate::qrs::{ProxyAuth, VirtualProxy};
use crate::server::plain;

/// Response header carrying the CSRF token.
pub const CSRF_HEADER: &str = "qlik-csrf-token";

/// `/{prefix}/qps/user`: GET (status) and DELETE (log out).
pub fn user(proxy: &Proxy, vp: &VirtualProxy, req: &Request) -> Response {
    match *req.method() {
        Method::GET => user_status(proxy, vp, req),
        Method::DELETE => {
            let expired = proxy.end_session(vp, req.headers());
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            if let Ok(v) = HeaderValue::from_str(&expired) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        _ => method_not_allowed("GET, DELETE"),
    }
}

fn user_status(proxy: &Proxy, vp: &VirtualProxy, req: &Request) -> Response {
    let origin = origin(req.headers(), req.uri());
    // Header-based authentication (a JWT bearer) logs in on any request; a missing or bad
    // token only means "not logged in" here.
    let auth = match proxy.session(vp, req.headers()) {
        Some(session) => Some(session),
        None if matches!(vp.auth, ProxyAuth::Jwt { .. }) => proxy.authenticate_jwt(vp, req).ok(),
        None => None,
    };
    let body = match &auth {
        Some(a) => json!({
            "userDirectory": a.identity.user_directory,
            "userId": a.identity.user_id,
            "userName": proxy.user_name(&a.identity),
            "logoutUri": format!("{origin}{}qps/user", prefix_path(vp)),
        }),
        None => {
            let mut inactive = json!({"session": "inactive"});
            let target_uri = parse_urlencoded(req.uri().query().unwrap_or(""))
                .into_iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("targetUri"))
                .map(|(_, v)| v);
            if let (ProxyAuth::Ticket { .. }, Some(target)) = (&vp.auth, target_uri)
                && same_host(&target, &origin)
            {
                let id = proxy.remember_target(target);
                inactive["loginUri"] =
                    Value::String(format!("{origin}{}", login_location(vp, &id)));
            }
            inactive
        }
    };
    let mut resp = json_response(&body);
    if let Some(cookie) = auth.and_then(|a| a.set_cookie) {
        append_cookie(&mut resp, &cookie);
    }
    resp
}

/// `/{prefix}/qps/csrftoken` for an authenticated request.
pub fn csrf_token(method: &Method, session: &Authenticated) -> Response {
    if *method != Method::GET {
        return method_not_allowed("GET");
    }
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    if let Ok(v) = HeaderValue::from_str(&session.csrf_token) {
        resp.headers_mut().insert(CSRF_HEADER, v);
    }
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(CSRF_HEADER),
    );
    resp
}

pub fn append_cookie(resp: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn json_response(v: &Value) -> Response {
    let mut resp = Response::new(Body::from(v.to_string()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut resp = plain(StatusCode::METHOD_NOT_ALLOWED, &format!("use {allow}\n"));
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// `https://host[:port]` of the request (HTTP/2 `:authority` or HTTP/1.1 `Host`).
fn origin(headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let host = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "localhost".to_string());
    format!("https://{host}")
}

/// Host name of an absolute URI (`https://host:port/path` → `host`), lowercase.
fn host_of(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Whether `target` names the proxy's own host (the condition QPS puts on `targetUri`; the
/// sandbox has no host white list beyond its own name).
fn same_host(target: &str, origin: &str) -> bool {
    matches!((host_of(target), host_of(origin)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_uris() {
        assert_eq!(
            host_of("https://Qlik.Example.com:443/hub").as_deref(),
            Some("qlik.example.com")
        );
        assert_eq!(host_of("https://[::1]:8443/x").as_deref(), Some("::1"));
        assert_eq!(host_of("/relative"), None);
        assert!(same_host("https://127.0.0.1:9/a", "https://127.0.0.1:8443"));
        assert!(!same_host(
            "https://evil.example/a",
            "https://127.0.0.1:8443"
        ));
    }
}

//! Path and action dispatch for `/attunityenterprisemanager/api/v1/...` (§4).
//!
//! - Every `{s}`/`{t}`/`{e}` path segment is percent-decoded twice (once, then
//!   [`util::decode_again`]), so Qlik's twice-encoding 2018 client and its once-encoding later
//!   clients reach the same object; names are then compared exactly (case-sensitive). Resource
//!   words (`servers`, `tasks`, …) and the base path compare case-insensitively (QEM runs on
//!   Windows HTTP.sys).
//! - One trailing slash before the query is tolerated (the 2018 Python client sends
//!   `/servers/{s}/?action=acl`).
//! - `action=` selects the operation; query keys and `action` values are case-insensitive;
//!   booleans accept any case (`True`/`false`).
//! - GAP: unknown paths/actions answer 404 `RESOURCE_NOT_FOUND`, a known path with the wrong
//!   method 405 `METHOD_NOT_ALLOWED` (QEM's own answers are not documented). Routing is decided
//!   before authentication, so a bad path is a 404 even without a session.
//! - Like HTTP.sys, a POST/PUT/PATCH with neither `Content-Length` nor chunked encoding gets
//!   `411 Length Required` (HTML body), before routing.
//! - GAP: a request without the session header gets 401 `UNAUTHORIZED_REQUEST`; an unknown or
//!   expired session id 401 `INVALID_SESSION_ID` (statuses undocumented).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

use super::api::{ApiError, ApiResult, empty_html_ok};
use super::session::{self, Session};
use super::{QemState, audit, endpoints, servers, tables, tasks, transfer, util};
use crate::qem::spec::{API_BASE, SESSION_HEADER};

/// Largest request body accepted (ImportAll of a big server).
const BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Password placeholders kept before those of ended sessions are dropped.
const MAX_PLACEHOLDERS: usize = 10_000;

/// Query parameters with case-insensitive keys.
#[derive(Debug, Default, Clone)]
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter; absent or empty → `default`.
    pub(super) fn bool(&self, key: &str, default: bool) -> ApiResult<bool> {
        match self.get(key).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
            Some(v) => Err(ApiError::deserialize(
                "Boolean",
                format!("query parameter '{key}' must be true or false, not '{v}'"),
            )),
        }
    }

    /// A non-negative integer parameter; absent or empty → `default`.
    pub(super) fn uint(&self, key: &str, default: u64) -> ApiResult<u64> {
        match self.get(key).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => v.parse::<u64>().map_err(|_| {
                ApiError::deserialize(
                    "Int32",
                    format!("query parameter '{key}' must be a non-negative integer, not '{v}'"),
                )
            }),
        }
    }

    /// A parameter whose value names an object (an endpoint, a schema, a table): decoded a
    /// second time like names in the path. Not for wildcard filters, where `%` matches any run.
    pub(super) fn name(&self, key: &str) -> Option<String> {
        self.get(key).map(util::decode_again)
    }

    pub(super) fn action(&self) -> Option<String> {
        self.get("action")
            .map(|a| a.trim().to_ascii_lowercase())
            .filter(|a| !a.is_empty())
    }
}

/// One authenticated call.
pub(super) struct Ctx {
    pub state: Arc<QemState>,
    pub user: String,
    pub session: String,
    pub params: Params,
    pub body: Bytes,
}

impl Ctx {
    pub(super) fn body_text(&self) -> ApiResult<&str> {
        std::str::from_utf8(&self.body)
            .map_err(|e| ApiError::deserialize("Stream", format!("the body is not UTF-8: {e}")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Resource {
    Login,
    Logout,
    Servers,
    Server(String),
    ServerDef(String),
    ServerLicense(String),
    Tasks(String),
    Task(String, String),
    Tables(String, String),
    Endpoints(String),
    Endpoint(String, String),
    AuditTrail,
}

/// A name segment as QEM resolves it: percent-decoded twice (see [`util::decode_again`]).
fn decode(segment: &str) -> Option<String> {
    let once = percent_decode_str(segment).decode_utf8().ok()?;
    Some(util::decode_again(&once)).filter(|name| !name.is_empty())
}

fn parse_path(path: &str) -> Option<Resource> {
    let base_len = API_BASE.len();
    let prefix = path.get(..base_len)?;
    if !prefix.eq_ignore_ascii_case(API_BASE) {
        return None;
    }
    let rest = path.get(base_len..)?;
    let rest = rest.strip_prefix('/')?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let raw: Vec<&str> = rest.split('/').collect();
    let kw = |i: usize, word: &str| raw.get(i).is_some_and(|s| s.eq_ignore_ascii_case(word));
    let name = |i: usize| raw.get(i).and_then(|s| decode(s));
    Some(match raw.len() {
        1 if kw(0, "login") => Resource::Login,
        1 if kw(0, "logout") => Resource::Logout,
        1 if kw(0, "servers") => Resource::Servers,
        2 if kw(0, "servers") => Resource::Server(name(1)?),
        2 if kw(0, "security") && kw(1, "audit_trail") => Resource::AuditTrail,
        3 if kw(0, "servers") && kw(2, "def") => Resource::ServerDef(name(1)?),
        3 if kw(0, "servers") && kw(2, "tasks") => Resource::Tasks(name(1)?),
        3 if kw(0, "servers") && kw(2, "endpoints") => Resource::Endpoints(name(1)?),
        4 if kw(0, "servers") && kw(2, "license") && kw(3, "def") => {
            Resource::ServerLicense(name(1)?)
        }
        4 if kw(0, "servers") && kw(2, "tasks") => Resource::Task(name(1)?, name(3)?),
        4 if kw(0, "servers") && kw(2, "endpoints") => Resource::Endpoint(name(1)?, name(3)?),
        5 if kw(0, "servers") && kw(2, "tasks") && kw(4, "tables") => {
            Resource::Tables(name(1)?, name(3)?)
        }
        _ => return None,
    })
}

pub(super) async fn handle(State(state): State<Arc<QemState>>, req: Request) -> Response {
    state.count_request();
    let mut resp = match serve(state, req).await {
        Ok(resp) => resp,
        Err(err) => err.into_response(),
    };
    resp.headers_mut().insert(
        header::SERVER,
        HeaderValue::from_static("Microsoft-HTTPAPI/2.0"),
    );
    resp
}

/// HTTP.sys refuses a POST/PUT/PATCH that has neither `Content-Length` nor chunked encoding
/// (hence the docs' "send `Content-Length: 0`" on body-less calls); hyper-based clients omit
/// the header for empty bodies unless told.
fn length_required(parts: &axum::http::request::Parts) -> Option<Response> {
    let has_body_method = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH);
    let http1 = parts.version <= axum::http::Version::HTTP_11;
    if !has_body_method
        || !http1
        || parts.headers.contains_key(header::CONTENT_LENGTH)
        || parts.headers.contains_key(header::TRANSFER_ENCODING)
    {
        return None;
    }
    let body = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\r\n\
        <HTML><HEAD><TITLE>Length Required</TITLE>\r\n\
        <META HTTP-EQUIV=\"Content-Type\" Content=\"text/html; charset=us-ascii\"></HEAD>\r\n\
        <BODY><h2>Length Required</h2>\r\n<hr><p>HTTP Error 411. The request must be chunked or have a content length.</p>\r\n\
        </BODY></HTML>\r\n";
    let mut resp = (axum::http::StatusCode::LENGTH_REQUIRED, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=us-ascii"),
    );
    Some(resp)
}

async fn serve(state: Arc<QemState>, req: Request) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    if let Some(resp) = length_required(&parts) {
        return Ok(resp);
    }
    let path = parts.uri.path().to_string();
    let resource = parse_path(&path).ok_or_else(|| ApiError::not_found_route(&path))?;
    let params = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|q| Params(q.0))
        .map_err(|e| ApiError::deserialize("Query", e.body_text()))?;
    let body = match read_body(body, &parts).await {
        Ok(body) => body,
        Err(Ok(resp)) => return Ok(resp),
        Err(Err(e)) => return Err(e),
    };
    let method = parts.method.clone();

    match resource {
        Resource::Login => {
            if method != Method::GET && method != Method::POST {
                return Err(ApiError::method_not_allowed(method.as_str(), &path));
            }
            let result = login(&state, &parts.headers, &body);
            state.count_login(result.is_ok());
            return result;
        }
        Resource::Logout => {
            if method != Method::GET && method != Method::POST {
                return Err(ApiError::method_not_allowed(method.as_str(), &path));
            }
            let id = session_id(&parts.headers)?;
            let mut inner = state.lock();
            if inner.sessions.remove(&id).is_none() {
                return Err(ApiError::invalid_session());
            }
            return Ok(empty_html_ok());
        }
        _ => {}
    }

    let (session, user) = check_session(&state, &parts.headers)?;
    let ctx = Ctx {
        state,
        user,
        session,
        params,
        body,
    };
    let action = ctx.params.action();
    let not_allowed = || ApiError::method_not_allowed(method.as_str(), &path);
    let no_route = || ApiError::not_found_route(&path);
    let act = action.as_deref();
    let m = &method;

    match resource {
        Resource::Login | Resource::Logout => Err(no_route()),
        Resource::Servers => match (m, act) {
            (&Method::GET, None) => servers::list(&ctx),
            (_, None) => Err(not_allowed()),
            _ => Err(no_route()),
        },
        Resource::Server(s) => match (m, act) {
            (&Method::GET, None) => servers::details(&ctx, &s),
            (&Method::GET, Some("acl")) => servers::get_acl(&ctx, &s),
            (&Method::PUT, Some("acl")) => servers::put_acl(&ctx, &s),
            (&Method::DELETE, Some("acl")) => servers::delete_acl(&ctx, &s),
            (&Method::GET, Some("export")) => transfer::export_all(&ctx, &s),
            (&Method::POST, Some("import")) => transfer::import_all(&ctx, &s),
            (_, None | Some("acl" | "export" | "import")) => Err(not_allowed()),
            _ => Err(no_route()),
        },
        Resource::ServerDef(s) => match (m, act) {
            (&Method::GET, None) => servers::get_def(&ctx, &s),
            (&Method::PUT, None) => servers::put_def(&ctx, &s),
            (&Method::DELETE, None) => servers::delete_def(&ctx, &s),
            (_, None) => Err(not_allowed()),
            _ => Err(no_route()),
        },
        Resource::ServerLicense(s) => match (m, act) {
            (&Method::PUT, None) => servers::put_license(&ctx, &s),
            (_, None) => Err(not_allowed()),
            _ => Err(no_route()),
        },
        Resource::Tasks(s) => match (m, act) {
            (&Method::GET, None) => tasks::list(&ctx, &s),
            (_, None) => Err(not_allowed()),
            _ => Err(no_route()),
        },
        Resource::Task(s, t) => match (m, act) {
            (&Method::GET, None) => tasks::details(&ctx, &s, &t),
            (&Method::GET, Some("export")) => transfer::export_task(&ctx, &s, &t),
            (&Method::POST, Some("import")) => transfer::import_task(&ctx, &s, &t),
            (&Method::POST, Some("delete")) => tasks::delete(&ctx, &s, &t),
            (&Method::POST, Some("run")) => tasks::run(&ctx, &s, &t).await,
            (&Method::POST, Some("stop")) => tasks::stop(&ctx, &s, &t).await,
            (&Method::POST, Some("delete_old_change_data")) => {
                tasks::delete_old_change_data(&ctx, &s, &t)
            }
            (&Method::PUT, Some("set_change_data_retention_barrier")) => {
                tasks::set_retention_barrier(&ctx, &s, &t)
            }
            (&Method::GET, Some("get_change_data_retention_barrier")) => {
                tasks::get_retention_barrier(&ctx, &s, &t)
            }
            (
                _,
                None
                | Some(
                    "export"
                    | "import"
                    | "delete"
                    | "run"
                    | "stop"
                    | "delete_old_change_data"
                    | "set_change_data_retention_barrier"
                    | "get_change_data_retention_barrier",
                ),
            ) => Err(not_allowed()),
            _ => Err(no_route()),
        },
        Resource::Tables(s, t) => match (m, act) {
            (&Method::GET, None) => tables::list(&ctx, &s, &t),
            (&Method::GET, Some("getstatus")) => tables::statuses(&ctx, &s, &t),
            (&Method::GET, Some("selection")) => tables::get_selection(&ctx, &s, &t),
            (&Method::PUT, Some("selection")) => tables::put_selection(&ctx, &s, &t),
            (&Method::POST, Some("reload")) => tables::reload(&ctx, &s, &t),
            (&Method::POST, Some("resume")) => tables::resume(&ctx, &s, &t),
            (_, None | Some("getstatus" | "selection" | "reload" | "resume")) => Err(not_allowed()),
            _ => Err(no_route()),
        },
        Resource::Endpoints(s) => match (m, act) {
            (&Method::GET, None) => endpoints::list(&ctx, &s),
            (_, None) => Err(not_allowed()),
            _ => Err(no_route()),
        },
        Resource::Endpoint(s, e) => match (m, act) {
            (&Method::GET, Some("test")) => endpoints::test(&ctx, &s, &e),
            (&Method::POST | &Method::DELETE, Some("delete")) => endpoints::delete(&ctx, &s, &e),
            (&Method::PATCH, None) => endpoints::patch(&ctx, &s, &e),
            (&Method::PUT, Some("reconfigure")) => endpoints::reconfigure(&ctx, &s, &e),
            (_, None | Some("test" | "delete" | "reconfigure")) => Err(not_allowed()),
            _ => Err(no_route()),
        },
        Resource::AuditTrail => match (m, act) {
            (&Method::GET, None) => audit::export(&ctx),
            (_, None) => Err(not_allowed()),
            _ => Err(no_route()),
        },
    }
}

/// The request body, within the sandbox's body limits. A body that broke off is a
/// deserialisation error as QEM reports it; one beyond the limits is answered by the front
/// server before QEM sees it (413, 503 with `Retry-After`, 408), as plain text.
async fn read_body(
    body: Body,
    parts: &axum::http::request::Parts,
) -> Result<Bytes, ApiResult<Response>> {
    use crate::body::{BodyError, read_bounded};
    match read_bounded(body, &parts.headers, &parts.extensions, BODY_LIMIT).await {
        Ok(buffered) => Ok(buffered.bytes),
        Err(BodyError::Broken(e)) => Err(Err(ApiError::deserialize(
            "Stream",
            format!("the request body was not read: {e}"),
        ))),
        Err(e) => Err(Ok(
            e.decorate(crate::server::plain(e.status(), &format!("{e}\n")))
        )),
    }
}

fn session_id(headers: &HeaderMap) -> ApiResult<String> {
    let value = headers.get(SESSION_HEADER).ok_or_else(|| {
        ApiError::unauthorized(format!(
            "The request carries no {SESSION_HEADER} header; log in first"
        ))
    })?;
    value
        .to_str()
        .map(|s| s.trim().to_string())
        .map_err(|_| ApiError::invalid_session())
}

fn login(state: &QemState, headers: &HeaderMap, body: &Bytes) -> ApiResult<Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if authorization.is_none() && !body.is_empty() {
        return Err(ApiError::unauthorized(
            "SAML login is not configured on this Enterprise Manager",
        ));
    }
    let user = session::authenticate(&state.config, state.jwt_key.as_ref(), authorization)?;
    let id = util::session_id();
    let mut inner = state.lock();
    let ttl = state.config.session_ttl;
    inner.sessions.retain(|_, s| s.last_seen.elapsed() <= ttl);
    if inner.placeholders.len() > MAX_PLACEHOLDERS {
        // Placeholders outlive their session (so reuse elsewhere is detected) until there are
        // too many; then those of ended sessions go.
        let live: std::collections::HashSet<String> = inner.sessions.keys().cloned().collect();
        inner.placeholders.retain(|_, p| live.contains(&p.session));
    }
    inner.sessions.insert(
        id.clone(),
        Session {
            user,
            last_seen: std::time::Instant::now(),
        },
    );
    drop(inner);
    let mut resp = empty_html_ok();
    let value = HeaderValue::from_str(&id).map_err(|_| ApiError::invalid_session())?;
    resp.headers_mut().insert(SESSION_HEADER, value);
    Ok(resp)
}

/// Validate and slide the session; `(session id, user)`.
fn check_session(state: &QemState, headers: &HeaderMap) -> ApiResult<(String, String)> {
    let id = session_id(headers)?;
    let mut inner = state.lock();
    let ttl = state.config.session_ttl;
    let Some(session) = inner.sessions.get_mut(&id) else {
        return Err(ApiError::invalid_session());
    };
    let expired = session.last_seen.elapsed() > ttl;
    let faulted = !expired && state.config.faults.expire_session();
    if expired || faulted {
        inner.sessions.remove(&id);
        return Err(ApiError::invalid_session());
    }
    session.last_seen = std::time::Instant::now();
    Ok((id, session.user.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p = |s: &str| parse_path(s);
        assert_eq!(
            p("/attunityenterprisemanager/api/v1/servers/My%20Sample%20Server/tasks/"),
            Some(Resource::Tasks("My Sample Server".into()))
        );
        assert_eq!(
            p("/AttunityEnterpriseManager/api/V1/Servers/a/Tasks/b%2520c/tables"),
            Some(Resource::Tables("a".into(), "b c".into()))
        );
        // Twice-encoded (Qlik's 2018 client) and once-encoded names are the same name.
        assert_eq!(
            p(
                "/attunityenterprisemanager/api/v1/servers/My%2520Sample%2520Server/endpoints/caf%25C3%25A9"
            ),
            Some(Resource::Endpoint("My Sample Server".into(), "café".into()))
        );
        assert_eq!(
            p("/attunityenterprisemanager/api/v1/servers/My%20Sample%20Server/endpoints/caf%C3%A9"),
            Some(Resource::Endpoint("My Sample Server".into(), "café".into()))
        );
        // Twice, never three times; a first pass that is not UTF-8 names nothing.
        assert_eq!(
            p("/attunityenterprisemanager/api/v1/servers/%252525/tasks"),
            Some(Resource::Tasks("%25".into()))
        );
        assert_eq!(
            p("/attunityenterprisemanager/api/v1/servers/%FF/tasks"),
            None
        );
        assert_eq!(
            p("/attunityenterprisemanager/api/v1/servers/s/"),
            Some(Resource::Server("s".into()))
        );
        assert_eq!(p("/attunityenterprisemanager/api/v1/servers//tasks"), None);
        assert_eq!(p("/attunityenterprisemanager/api/v1/nope"), None);
        assert_eq!(p("/attunityenterprisemanager/api/v2/servers"), None);
        assert_eq!(
            p("/attunityenterprisemanager/api/v1/security/audit_trail"),
            Some(Resource::AuditTrail)
        );
    }
}

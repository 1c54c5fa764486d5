//! The front door: QSEoW's proxy (virtual proxies by prefix, their authentication, session
//! cookies, the Personal API) and the certificate port, both handing authenticated requests to
//! the QRS emulator with the caller's [`Identity`] as a request extension.
//!
//! The virtual proxy list is read from the QRS state on every request, so a proxy created
//! later through the QRS `virtualproxyconfig` API works at once. Modules: [`jwt`] (bearer
//! tokens), [`forms`] (the internal forms login module), [`windows`] (the Windows
//! authentication module and its tickets) with [`ntlm`] (its NTLM acceptor), [`personal`]
//! (`/qps/user`, `/qps/csrftoken`).
//!
//! What a virtual proxy serves after its prefix (paths compared without case, as QSEoW does):
//! `/qrs/...` and `/tempcontent/...` (to the repository), `/app/...` WebSocket upgrades (to the
//! engine), `/qps/user`, `/qps/csrftoken` and, on "Ticket" proxies,
//! `/internal_forms_authentication/`. A request without a session is authenticated by the
//! proxy's method: a JWT bearer (else `401`), or for "Ticket" proxies a one-time `qlikTicket`
//! from the Windows authentication module, the redirect to that module when the User-Agent
//! contains the proxy's Windows authentication pattern, and the forms login redirect otherwise.

// Authentication returns the ready answer for a refused request (`Result<_, Response>`);
// boxing it buys nothing here.
#![allow(clippy::result_large_err)]

pub mod forms;
pub mod jwt;
pub mod ntlm;
pub mod personal;
pub mod windows;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use tower::ServiceExt;

use super::engine::{self, Engine};
use super::identity::Identity;
use super::qrs::{ProxyAuth, QrsState, VirtualProxy};
use super::server::plain;
pub use jwt::{JWT_LEEWAY_SECONDS, verify_jwt};
use windows::{WindowsConfig, WindowsModule, WindowsStats};

/// A proxy session ends after this much inactivity (QSEoW's default session timeout).
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// A login page's `targetId` is remembered this long.
const TARGET_TTL: Duration = Duration::from_secs(10 * 60);
/// A `qlikTicket` is redeemable this long (QSEoW: one minute).
const TICKET_TTL: Duration = Duration::from_secs(60);
/// Upper bound of remembered sessions or login targets (oldest dropped beyond it).
const MAX_ENTRIES: usize = 100_000;
/// Header the proxy adds to every request it forwards: the virtual proxy's prefix (empty on
/// the default proxy).
pub const PREFIX_HEADER: &str = "X-Qlik-Virtual-Proxy-Prefix";

/// The identity the certificate port uses when a request has no `X-Qlik-User`.
pub fn default_cert_identity() -> Identity {
    Identity::new("INTERNAL", "sa_repository")
}

/// A user of the sandbox's Windows domain, `DIRECTORY\user` and password: the same accounts
/// for forms and Windows logins, as on a site whose users come from Active Directory.
#[derive(Debug, Clone)]
pub struct DirectoryUser {
    pub identity: Identity,
    pub password: String,
}

/// A ticket of the Windows authentication module, redeemable once on one virtual proxy.
struct Ticket {
    prefix: String,
    identity: Identity,
    issued: Instant,
}

struct Session {
    cookie_name: String,
    identity: Identity,
    csrf_token: String,
    last_seen: Instant,
}

/// The session a request runs in.
pub struct Authenticated {
    pub identity: Identity,
    /// The session's anti-CSRF token (`GET /qps/csrftoken`).
    pub csrf_token: String,
    /// `Set-Cookie` value when this request started the session.
    pub set_cookie: Option<String>,
}

pub struct Proxy {
    qrs: Arc<QrsState>,
    qrs_router: Router,
    engine: Arc<Engine>,
    users: Vec<DirectoryUser>,
    windows: WindowsModule,
    sessions: Mutex<HashMap<String, Session>>,
    targets: Mutex<HashMap<String, (String, Instant)>>,
    tickets: Mutex<HashMap<String, Ticket>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the whole proxy down.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a path after the virtual proxy prefix asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProxyPath {
    /// `/internal_forms_authentication/`
    FormsLogin,
    /// `/qps/user`
    PersonalUser,
    /// `/qps/csrftoken`
    CsrfToken,
    /// `/qrs/...`, `/tempcontent/...`
    Repository,
    /// `/app/...`: an engine WebSocket
    Engine,
    Unknown,
}

impl ProxyPath {
    fn of(rest: &str) -> ProxyPath {
        let lower = rest.to_ascii_lowercase();
        match lower.trim_end_matches('/') {
            p if p == format!("/{}", forms::LOGIN_PATH) => ProxyPath::FormsLogin,
            "/qps/user" => ProxyPath::PersonalUser,
            "/qps/csrftoken" => ProxyPath::CsrfToken,
            _ if is_repository_path(&lower) => ProxyPath::Repository,
            _ if engine::is_app_path(&lower) => ProxyPath::Engine,
            _ => ProxyPath::Unknown,
        }
    }
}

/// Paths the proxy forwards to the repository (lowercase).
fn is_repository_path(lower: &str) -> bool {
    lower == "/qrs" || lower.starts_with("/qrs/") || lower.starts_with("/tempcontent/")
}

impl Proxy {
    pub fn new(
        qrs: Arc<QrsState>,
        qrs_router: Router,
        engine: Arc<Engine>,
        users: Vec<DirectoryUser>,
        windows: WindowsConfig,
    ) -> Arc<Proxy> {
        Arc::new(Proxy {
            qrs,
            qrs_router,
            engine,
            windows: WindowsModule::new(windows, users.clone()),
            users,
            sessions: Mutex::new(HashMap::new()),
            targets: Mutex::new(HashMap::new()),
            tickets: Mutex::new(HashMap::new()),
        })
    }

    /// The axum app of the proxy listener.
    pub fn router(self: &Arc<Proxy>) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    /// The axum app of the Windows authentication module listener.
    pub fn windows_router(self: &Arc<Proxy>) -> Router {
        windows::module_router(self)
    }

    /// What the Windows authentication module counted.
    pub fn windows_stats(&self) -> Arc<WindowsStats> {
        self.windows.stats()
    }

    /// The virtual proxy serving `path` and the rest of the path after its prefix.
    fn route(&self, path: &str) -> Option<(VirtualProxy, String)> {
        let proxies = self.qrs.virtual_proxies();
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        let (first, rest) = match trimmed.find('/') {
            Some(i) => (&trimmed[..i], &trimmed[i..]),
            None => (trimmed, ""),
        };
        if !first.is_empty()
            && let Some(vp) = proxies
                .iter()
                .find(|vp| !vp.prefix.is_empty() && vp.prefix.eq_ignore_ascii_case(first))
        {
            return Some((vp.clone(), rest.to_string()));
        }
        proxies
            .into_iter()
            .find(|vp| vp.prefix.is_empty())
            .map(|vp| (vp, path.to_string()))
    }

    /// The live session a request's cookie names on `vp`.
    fn session(&self, vp: &VirtualProxy, headers: &HeaderMap) -> Option<Authenticated> {
        let id = cookie_value(headers, &vp.session_cookie_name)?;
        let mut sessions = lock(&self.sessions);
        let now = Instant::now();
        let session = sessions.get_mut(&id)?;
        if session.cookie_name != vp.session_cookie_name {
            return None;
        }
        if now.duration_since(session.last_seen) > SESSION_IDLE {
            sessions.remove(&id);
            return None;
        }
        session.last_seen = now;
        Some(Authenticated {
            identity: session.identity.clone(),
            csrf_token: session.csrf_token.clone(),
            set_cookie: None,
        })
    }

    /// Start a session on `vp` for `identity`.
    fn new_session(&self, vp: &VirtualProxy, identity: Identity) -> Authenticated {
        let id = uuid::Uuid::new_v4().to_string();
        let csrf_token = uuid::Uuid::new_v4().simple().to_string();
        let mut sessions = lock(&self.sessions);
        let now = Instant::now();
        if sessions.len() >= MAX_ENTRIES {
            sessions.retain(|_, s| now.duration_since(s.last_seen) <= SESSION_IDLE);
            if sessions.len() >= MAX_ENTRIES
                && let Some(oldest) = sessions
                    .iter()
                    .min_by_key(|(_, s)| s.last_seen)
                    .map(|(k, _)| k.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            id.clone(),
            Session {
                cookie_name: vp.session_cookie_name.clone(),
                identity: identity.clone(),
                csrf_token: csrf_token.clone(),
                last_seen: now,
            },
        );
        Authenticated {
            identity,
            csrf_token,
            set_cookie: Some(format!(
                "{}={id}; Path=/; HttpOnly; Secure; SameSite=None",
                vp.session_cookie_name
            )),
        }
    }

    /// End the session a request's cookie names on `vp` (log out). Returns the `Set-Cookie`
    /// value that clears the cookie in the client.
    fn end_session(&self, vp: &VirtualProxy, headers: &HeaderMap) -> String {
        if let Some(id) = cookie_value(headers, &vp.session_cookie_name) {
            let mut sessions = lock(&self.sessions);
            if sessions
                .get(&id)
                .is_some_and(|s| s.cookie_name == vp.session_cookie_name)
            {
                sessions.remove(&id);
            }
        }
        format!(
            "{}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=None",
            vp.session_cookie_name
        )
    }

    fn remember_target(&self, target: String) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let mut targets = lock(&self.targets);
        let now = Instant::now();
        if targets.len() >= MAX_ENTRIES / 10 {
            targets.retain(|_, (_, at)| now.duration_since(*at) <= TARGET_TTL);
            if targets.len() >= MAX_ENTRIES / 10 {
                targets.clear();
            }
        }
        targets.insert(id.clone(), (target, now));
        id
    }

    fn take_target(&self, id: &str) -> Option<String> {
        let (target, at) = lock(&self.targets).remove(id)?;
        (at.elapsed() <= TARGET_TTL).then_some(target)
    }

    fn has_target(&self, id: &str) -> bool {
        lock(&self.targets)
            .get(id)
            .is_some_and(|(_, at)| at.elapsed() <= TARGET_TTL)
    }

    /// The prefix of the virtual proxy serving an absolute `target` URL.
    fn prefix_of(&self, target: &str) -> String {
        let path = target
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("/");
        let path = path.split('?').next().unwrap_or(path);
        self.route(path)
            .map(|(vp, _)| vp.prefix)
            .unwrap_or_default()
    }

    /// A one-time ticket for `identity` on the virtual proxy `prefix`.
    fn issue_ticket(&self, prefix: String, identity: Identity) -> String {
        let ticket = uuid::Uuid::new_v4().simple().to_string();
        let mut tickets = lock(&self.tickets);
        tickets.retain(|_, t| t.issued.elapsed() <= TICKET_TTL);
        if tickets.len() >= MAX_ENTRIES / 10 {
            tickets.clear();
        }
        tickets.insert(
            ticket.clone(),
            Ticket {
                prefix,
                identity,
                issued: Instant::now(),
            },
        );
        ticket
    }

    /// The identity of a ticket, once, on the virtual proxy it was issued for.
    fn redeem_ticket(&self, vp: &VirtualProxy, ticket: &str) -> Option<Identity> {
        let mut tickets = lock(&self.tickets);
        let t = tickets.remove(ticket)?;
        (t.issued.elapsed() <= TICKET_TTL && t.prefix.eq_ignore_ascii_case(&vp.prefix))
            .then_some(t.identity)
    }

    fn check_forms_user(&self, username: &str, password: &str) -> Option<Identity> {
        let (dir, id) = username.split_once('\\')?;
        let user = self.users.iter().find(|u| {
            u.identity.user_directory.eq_ignore_ascii_case(dir)
                && u.identity.user_id.eq_ignore_ascii_case(id)
        })?;
        aws_lc_rs::constant_time::verify_slices_are_equal(
            user.password.as_bytes(),
            password.as_bytes(),
        )
        .ok()?;
        Some(user.identity.clone())
    }

    /// The user's display name in the repository (its `name`), else its user id.
    fn user_name(&self, identity: &Identity) -> String {
        self.qrs
            .user_name(identity)
            .unwrap_or_else(|| identity.user_id.clone())
    }

    /// A session from the request's JWT bearer on a JWT proxy.
    fn authenticate_jwt(
        &self,
        vp: &VirtualProxy,
        req: &Request,
    ) -> Result<Authenticated, Response> {
        let ProxyAuth::Jwt {
            jwt_certificate,
            jwt_audience,
            userid_attribute,
            userdirectory_attribute,
        } = &vp.auth
        else {
            return Err(plain(StatusCode::UNAUTHORIZED, "not a JWT virtual proxy\n"));
        };
        let Some(token) = jwt::bearer(req.headers()) else {
            return Err(plain(StatusCode::UNAUTHORIZED, "no JWT and no session\n"));
        };
        match verify_jwt(
            &token,
            jwt_certificate,
            jwt_audience,
            userid_attribute,
            userdirectory_attribute,
        ) {
            Ok(identity) => Ok(self.new_session(vp, identity)),
            Err(reason) => Err(plain(StatusCode::UNAUTHORIZED, &format!("{reason}\n"))),
        }
    }

    /// The session of a request: its cookie's, or a new one from the proxy's authentication.
    /// `Err` is the answer to send instead (401, a challenge, or the login redirect).
    fn authenticate(&self, vp: &VirtualProxy, req: &Request) -> Result<Authenticated, Response> {
        if let Some(session) = self.session(vp, req.headers()) {
            return Ok(session);
        }
        match &vp.auth {
            ProxyAuth::Jwt { .. } => self.authenticate_jwt(vp, req),
            ProxyAuth::Ticket { windows_pattern } => {
                if let Some(identity) = query_value(req.uri(), windows::TICKET_PARAMETER)
                    .and_then(|ticket| self.redeem_ticket(vp, &ticket))
                {
                    return Ok(self.new_session(vp, identity));
                }
                let user_agent = req
                    .headers()
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if windows::user_agent_matches(user_agent, windows_pattern) {
                    Err(windows::redirect_to_module(self, vp, req))
                } else {
                    let target = req.uri().path_and_query().map_or_else(
                        || req.uri().path().to_string(),
                        |pq| pq.as_str().to_string(),
                    );
                    Err(forms::redirect_to_login(self, vp, target))
                }
            }
        }
    }

    /// Hand an authenticated request to the QRS emulator, without the proxy prefix.
    async fn forward(
        &self,
        mut req: Request,
        rest: &str,
        vp: &VirtualProxy,
        identity: Identity,
    ) -> Response {
        // The ticket was for the proxy; the repository never sees it.
        let query = req
            .uri()
            .query()
            .map(without_ticket)
            .filter(|q| !q.is_empty());
        let path_and_query = match query {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_string(),
        };
        match Uri::builder().path_and_query(path_and_query).build() {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => return plain(StatusCode::BAD_REQUEST, "invalid request path\n"),
        }
        // The proxy decided who this is; a client-sent X-Qlik-User must not override it.
        let headers = req.headers_mut();
        headers.remove(header::AUTHORIZATION);
        headers.remove("x-qlik-user");
        if let Ok(prefix) = HeaderValue::from_str(&vp.prefix) {
            headers.insert(PREFIX_HEADER, prefix);
        }
        req.extensions_mut().insert(identity);
        match self.qrs_router.clone().oneshot(req).await {
            Ok(resp) => resp,
            Err(e) => match e {},
        }
    }
}

impl Proxy {
    /// Hand an authenticated WebSocket upgrade on `/app/...` to the engine.
    fn engine_upgrade(
        &self,
        req: Request,
        rest: &str,
        vp: &VirtualProxy,
        identity: Identity,
    ) -> Response {
        let logout_uri = format!(
            "{}{}qps/user",
            engine::origin_of(req.headers()),
            prefix_path(vp)
        );
        let via = engine::Via::Proxy {
            prefix: vp.prefix.clone(),
            logout_uri,
        };
        engine::upgrade(&self.engine, req, rest, identity, via)
    }
}

/// A socket cannot follow the forms login redirect: the proxy accepts the upgrade and tells the
/// client where to log in instead (`OnAuthenticationInformation`).
fn engine_login_required(req: Request, redirect: Response) -> Response {
    let location = redirect
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match location {
        Some(location) if req.headers().contains_key(header::UPGRADE) => {
            let login = format!("{}{location}", engine::origin_of(req.headers()));
            engine::login_required(req, login)
        }
        _ => redirect,
    }
}

async fn handle(State(proxy): State<Arc<Proxy>>, req: Request) -> Response {
    let Some((vp, rest)) = proxy.route(req.uri().path()) else {
        return plain(
            StatusCode::NOT_FOUND,
            "no virtual proxy serves this path (the sandbox has /, /jwt and /form)\n",
        );
    };
    let path = ProxyPath::of(&rest);
    match path {
        ProxyPath::FormsLogin if matches!(vp.auth, ProxyAuth::Ticket { .. }) => {
            return forms::login(&proxy, &vp, req).await;
        }
        ProxyPath::PersonalUser => return personal::user(&proxy, &vp, &req),
        _ => {}
    }
    let session = match proxy.authenticate(&vp, &req) {
        Ok(s) => s,
        Err(resp) if path == ProxyPath::Engine && resp.status() == StatusCode::FOUND => {
            return engine_login_required(req, resp);
        }
        Err(resp) => return resp,
    };
    let set_cookie = session.set_cookie.clone();
    let mut resp = match path {
        ProxyPath::Repository => {
            proxy
                .forward(req, &rest, &vp, session.identity.clone())
                .await
        }
        ProxyPath::Engine => proxy.engine_upgrade(req, &rest, &vp, session.identity.clone()),
        ProxyPath::CsrfToken => personal::csrf_token(req.method(), &session),
        _ => plain(
            StatusCode::NOT_FOUND,
            "the sandbox proxy serves /qrs, /tempcontent, /app (engine) and /qps only\n",
        ),
    };
    if let Some(cookie) = set_cookie {
        personal::append_cookie(&mut resp, &cookie);
    }
    resp
}

/// `/prefix/` (or `/` for the default proxy).
fn prefix_path(vp: &VirtualProxy) -> String {
    if vp.prefix.is_empty() {
        "/".to_string()
    } else {
        format!("/{}/", vp.prefix)
    }
}

/// The value of a query parameter (name compared without case), percent-decoded.
fn query_value(uri: &Uri, name: &str) -> Option<String> {
    forms::parse_urlencoded(uri.query()?)
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// A query string without its `qlikTicket` parameter (the rest kept byte for byte).
fn without_ticket(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            !name.eq_ignore_ascii_case(windows::TICKET_PARAMETER)
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().to_string())
}

/// Whom a request on a certificate port runs as: its `X-Qlik-User`
/// (`UserDirectory=<dir>; UserId=<id>`), else `INTERNAL\sa_repository`; a malformed header is
/// the `400` answer.
#[allow(clippy::result_large_err)]
pub fn certificate_identity(headers: &HeaderMap) -> Result<Identity, Response> {
    match headers.get("x-qlik-user") {
        None => Ok(default_cert_identity()),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(Identity::from_qlik_user_header)
            .ok_or_else(|| {
                plain(
                    StatusCode::BAD_REQUEST,
                    "X-Qlik-User must be `UserDirectory=<dir>; UserId=<id>`\n",
                )
            }),
    }
}

/// The app of the certificate port: mutual TLS already proved the caller; `X-Qlik-User` says
/// whom to run as (default `INTERNAL\sa_repository`). It serves the repository (`/qrs/...`),
/// export downloads (`/tempcontent/...`, where `downloadPath` points) and `/ssl/ping`.
pub fn cert_router(qrs_router: Router) -> Router {
    Router::new().fallback(move |mut req: Request| {
        let qrs_router = qrs_router.clone();
        async move {
            let identity = match certificate_identity(req.headers()) {
                Ok(id) => id,
                Err(resp) => return resp,
            };
            let path = req.uri().path().to_ascii_lowercase();
            if !(is_repository_path(&path) || path.trim_end_matches('/') == "/ssl/ping") {
                return plain(
                    StatusCode::NOT_FOUND,
                    "the certificate port serves /qrs, /tempcontent and /ssl/ping only\n",
                );
            }
            req.extensions_mut().insert(identity);
            match qrs_router.oneshot(req).await {
                Ok(resp) => resp,
                Err(e) => match e {},
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qrs::QrsConfig;
    use axum::body::Body;
    use jsonwebtoken::Algorithm;

    /// A stand-in for the QRS router that echoes what the front door handed it.
    fn echo_router() -> Router {
        Router::new().fallback(|req: Request| async move {
            let who = req
                .extensions()
                .get::<Identity>()
                .map(Identity::display_name)
                .unwrap_or_else(|| "nobody".into());
            let prefix = req
                .headers()
                .get(PREFIX_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string();
            plain(StatusCode::OK, &format!("{who} {} [{prefix}]", req.uri()))
        })
    }

    fn sign(key_pem: &str, claims: serde_json::Value) -> String {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::RS384), &claims, &key).unwrap()
    }

    struct Reply {
        status: StatusCode,
        body: String,
        headers: HeaderMap,
    }

    impl Reply {
        fn header(&self, name: &str) -> &str {
            self.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        }

        /// `name=value` of the first `Set-Cookie`.
        fn cookie(&self) -> String {
            self.header("set-cookie")
                .split(';')
                .next()
                .unwrap_or("")
                .to_string()
        }
    }

    async fn send(
        app: &Router,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        // Every request of a test runs on one "connection".
        thread_local! {
            static SLOT: crate::server::ConnectionSlot = crate::server::ConnectionSlot::default();
        }
        let mut builder = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .extension(SLOT.with(Clone::clone));
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let resp = app
            .clone()
            .oneshot(builder.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        Reply {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
            headers,
        }
    }

    async fn call(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Reply {
        send(app, "GET", uri, headers, "").await
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        pki: crate::pki::Pki,
        app: Router,
        /// The Windows authentication module.
        module: Router,
        proxy: Arc<Proxy>,
    }

    const FORMS_PASSWORD: &str = "s3cret pass&word";
    const WINDOWS_UA: &str = "Mozilla/5.0 (Windows NT 6.3; Win64; x64) qsAPI APIREST (QSense)";

    /// A JWT proxy `custom`, a forms-only proxy `form` and the default Windows proxy, in front
    /// of the echo router.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let pki = crate::pki::Pki::load_or_create(dir.path()).unwrap();
        let proxies = vec![
            VirtualProxy {
                prefix: "Custom".into(),
                description: "custom JWT proxy".into(),
                session_cookie_name: "X-Qlik-Session-custom".into(),
                auth: ProxyAuth::Jwt {
                    jwt_certificate: pki.jwt_cert.clone(),
                    jwt_audience: "aud-1".into(),
                    userid_attribute: "sub".into(),
                    userdirectory_attribute: "dir".into(),
                },
            },
            VirtualProxy {
                prefix: "form".into(),
                description: "forms only".into(),
                session_cookie_name: "X-Qlik-Session-form".into(),
                auth: ProxyAuth::Ticket {
                    windows_pattern: "no-such-agent".into(),
                },
            },
            VirtualProxy {
                prefix: String::new(),
                description: "default".into(),
                session_cookie_name: "X-Qlik-Session".into(),
                auth: ProxyAuth::Ticket {
                    windows_pattern: "Windows".into(),
                },
            },
        ];
        let qrs = QrsState::new(QrsConfig {
            data_dir: dir.path().join("apps"),
            seed_apps: 0,
            seed_tasks: 0,
            seed_objects: 0,
            virtual_proxies: proxies,
        })
        .unwrap();
        let users = vec![DirectoryUser {
            identity: Identity::new("SANDBOX", "admin"),
            password: FORMS_PASSWORD.into(),
        }];
        let windows = WindowsConfig {
            module_port: 4244,
            server_cert_der: crate::pki::first_certificate_der(&pki.server_cert).unwrap(),
            require_channel_binding: false,
        };
        let engine = Engine::new(qrs.clone(), Arc::new(crate::faults::Faults::none()));
        let proxy = Proxy::new(qrs, echo_router(), engine, users, windows);
        Fixture {
            app: proxy.router(),
            module: proxy.windows_router(),
            proxy,
            _dir: dir,
            pki,
        }
    }

    impl Fixture {
        fn token(&self, claims: serde_json::Value) -> String {
            format!("Bearer {}", sign(&self.pki.jwt_private_key, claims))
        }

        fn good_token(&self) -> String {
            let exp = jsonwebtoken::get_current_timestamp() + 60;
            self.token(serde_json::json!({"sub": "jo", "dir": "CORP", "aud": "aud-1", "exp": exp}))
        }
    }

    #[tokio::test]
    async fn routes_by_prefix_strips_it_and_passes_the_identity() {
        let f = fixture();
        let auth = f.good_token();
        let r = call(
            &f.app,
            "/custom/qrs/app/full?filter=name%20eq%20%27x%27",
            &[("authorization", &auth)],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            r.body,
            "CORP\\jo /qrs/app/full?filter=name%20eq%20%27x%27 [Custom]"
        );
        assert!(r.cookie().starts_with("X-Qlik-Session-custom="));
        // Paths after the prefix are case-insensitive, like the prefix itself.
        let r = call(&f.app, "/CUSTOM/QRS/App/Full", &[("authorization", &auth)]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body, "CORP\\jo /QRS/App/Full [Custom]");

        // Wrong audience for this proxy.
        let exp = jsonwebtoken::get_current_timestamp() + 60;
        let other = f.token(
            serde_json::json!({"sub": "jo", "dir": "CORP", "aud": "qtool-sandbox", "exp": exp}),
        );
        let r = call(&f.app, "/custom/qrs/about", &[("authorization", &other)]).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (StatusCode::UNAUTHORIZED, "JWT audience mismatch\n")
        );
        // A token that is not valid yet.
        let early = f.token(serde_json::json!({
            "sub": "jo", "dir": "CORP", "aud": "aud-1", "exp": exp,
            "nbf": jsonwebtoken::get_current_timestamp() + 60,
        }));
        let r = call(&f.app, "/custom/qrs/about", &[("authorization", &early)]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        assert!(r.body.contains("not valid yet"), "{}", r.body);
    }

    fn offered(r: &Reply) -> Vec<&str> {
        r.headers
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn the_default_proxy_sends_windows_agents_to_the_module_and_others_to_the_login_page() {
        let f = fixture();
        let ua = ("user-agent", WINDOWS_UA);
        let host = ("host", "qlik.example.com");
        let r = call(&f.app, "/qrs/about?xrfkey=abc", &[ua, host]).await;
        assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
        let location = r.header("location").to_string();
        assert!(
            location.starts_with("https://qlik.example.com:4244/windows_authentication/?targetId="),
            "{location}"
        );
        assert!(r.headers.get(header::SET_COOKIE).is_none());
        // The module challenges with both schemes.
        let module_path = location.trim_start_matches("https://qlik.example.com:4244");
        let r = call(&f.module, module_path, &[ua]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(offered(&r), ["Negotiate", "NTLM"]);
        // An unknown target is refused.
        let r = call(&f.module, "/windows_authentication/?targetId=nope", &[ua]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        // An export's downloadPath has no prefix: through a proxy it lands here too.
        let r = call(&f.app, "/tempcontent/x/y.qvf", &[ua, host]).await;
        assert_eq!(r.status, StatusCode::FOUND);
        // Other agents get the forms login, at the default proxy's own login module.
        let r = call(&f.app, "/hub/", &[("user-agent", "curl/8.5.0")]).await;
        assert_eq!(r.status, StatusCode::FOUND);
        assert!(
            r.header("location")
                .starts_with("/internal_forms_authentication/?targetId="),
            "{}",
            r.header("location")
        );
    }

    #[tokio::test]
    async fn an_ntlm_login_ends_in_a_ticket_the_proxy_redeems_once_for_a_session() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let f = fixture();
        let ua = ("user-agent", WINDOWS_UA);
        let host = ("host", "qlik.example.com");
        let r = call(&f.app, "/qrs/about?xrfkey=abc", &[ua, host]).await;
        let module_path = r
            .header("location")
            .trim_start_matches("https://qlik.example.com:4244")
            .to_string();
        let mut client = ntlm::test_client::Client::new(
            "admin",
            "sandbox",
            FORMS_PASSWORD,
            Some(&crate::pki::first_certificate_der(&f.pki.server_cert).unwrap()),
        );
        let negotiate = format!("Negotiate {}", b64.encode(client.step(None)));
        let r = call(
            &f.module,
            &module_path,
            &[ua, ("authorization", &negotiate)],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let challenge = offered(&r)[0]
            .strip_prefix("Negotiate ")
            .unwrap()
            .to_string();
        let authenticate = client.step(Some(b64.decode(challenge).unwrap()));
        let authenticate = format!("NTLM {}", b64.encode(authenticate));
        let r = call(
            &f.module,
            &module_path,
            &[ua, ("authorization", &authenticate)],
        )
        .await;
        assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
        let back = r.header("location").to_string();
        let back = back.trim_start_matches("https://qlik.example.com");
        assert!(
            back.starts_with("/qrs/about?xrfkey=abc&qlikTicket="),
            "{back}"
        );
        // The proxy redeems the ticket: a session, and the repository never sees the ticket.
        let r = call(&f.app, back, &[ua, host]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body, "SANDBOX\\admin /qrs/about?xrfkey=abc []");
        let cookie = r.cookie();
        assert!(cookie.starts_with("X-Qlik-Session="), "{cookie}");
        let r = call(&f.app, "/qrs/app", &[ua, ("cookie", &cookie)]).await;
        assert_eq!(r.status, StatusCode::OK);
        // Once only.
        let r = call(&f.app, back, &[ua, host]).await;
        assert_eq!(r.status, StatusCode::FOUND);
        assert_eq!(
            f.proxy
                .windows_stats()
                .logins
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        // The module's refusals carry both schemes and say why.
        let r = call(
            &f.module,
            &module_path,
            &[ua, ("authorization", &authenticate)],
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "the target was used: {}",
            r.body
        );
    }

    #[tokio::test]
    async fn forms_login_posts_without_xrfkey_and_returns_to_the_target() {
        let f = fixture();
        let first = call(&f.app, "/form/qrs/about?x=1", &[("user-agent", WINDOWS_UA)]).await;
        assert_eq!(first.status, StatusCode::FOUND);
        let login = first.header("location").to_string();
        assert!(
            login.starts_with("/form/internal_forms_authentication/?targetId="),
            "{login}"
        );
        let page = call(&f.app, &login, &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("name=\"username\"") && page.body.contains("name=\"pwd\""));
        let form = [("content-type", "application/x-www-form-urlencoded")];
        let wrong = send(
            &f.app,
            "POST",
            &login,
            &form,
            "username=SANDBOX%5Cadmin&pwd=no",
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.headers.get(header::SET_COOKIE).is_none());
        let body = format!(
            "username=sandbox%5CADMIN&pwd={}",
            percent_encoding::utf8_percent_encode(
                FORMS_PASSWORD,
                percent_encoding::NON_ALPHANUMERIC
            )
        );
        let ok = send(&f.app, "POST", &login, &form, &body).await;
        assert_eq!(ok.status, StatusCode::FOUND, "{}", ok.body);
        assert_eq!(ok.header("location"), "/form/qrs/about?x=1");
        let cookie = ok.cookie();
        assert!(cookie.starts_with("X-Qlik-Session-form="), "{cookie}");
        let api = call(&f.app, "/form/qrs/about", &[("cookie", &cookie)]).await;
        assert_eq!(api.status, StatusCode::OK, "{}", api.body);
        assert_eq!(api.body, "SANDBOX\\admin /qrs/about [form]");
        // The cookie belongs to its proxy only.
        let elsewhere = call(&f.app, "/custom/qrs/about", &[("cookie", &cookie)]).await;
        assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn personal_api_reports_logs_out_and_hands_out_the_csrf_token() {
        let f = fixture();
        let auth = f.good_token();
        // Not logged in: inactive, and never a redirect.
        let r = call(&f.app, "/custom/qps/user", &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body, r#"{"session":"inactive"}"#);
        let r = call(
            &f.app,
            "/form/qps/user?targetUri=https%3A%2F%2Flocalhost%2Fform%2Fhub%2F",
            &[("host", "localhost:8443")],
        )
        .await;
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["session"], "inactive");
        assert!(
            v["loginUri"].as_str().unwrap().starts_with(
                "https://localhost:8443/form/internal_forms_authentication/?targetId="
            ),
            "{v}"
        );
        // A bearer logs in; the answer names the user and how to log out.
        let r = call(
            &f.app,
            "/custom/QPS/User",
            &[("authorization", &auth), ("host", "localhost:8443")],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["userDirectory"], "CORP");
        assert_eq!(v["userId"], "jo");
        assert_eq!(v["userName"], "jo");
        assert_eq!(v["logoutUri"], "https://localhost:8443/Custom/qps/user");
        let cookie = r.cookie();
        assert!(cookie.starts_with("X-Qlik-Session-custom="), "{cookie}");
        // The CSRF token: 204 with the header, the same for the whole session.
        let t1 = call(&f.app, "/custom/qps/csrftoken", &[("cookie", &cookie)]).await;
        assert_eq!(t1.status, StatusCode::NO_CONTENT);
        let token = t1.header(personal::CSRF_HEADER).to_string();
        assert_eq!(token.len(), 32);
        let t2 = call(&f.app, "/custom/qps/csrftoken", &[("cookie", &cookie)]).await;
        assert_eq!(t2.header(personal::CSRF_HEADER), token);
        // It needs authentication like any other path.
        let t3 = call(&f.app, "/custom/qps/csrftoken", &[]).await;
        assert_eq!(t3.status, StatusCode::UNAUTHORIZED);
        // Log out: the cookie stops working.
        let out = send(
            &f.app,
            "DELETE",
            "/custom/qps/user",
            &[("cookie", &cookie)],
            "",
        )
        .await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert!(
            out.header("set-cookie")
                .contains("Expires=Thu, 01 Jan 1970")
        );
        let after = call(&f.app, "/custom/qrs/about", &[("cookie", &cookie)]).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        let status = call(&f.app, "/custom/qps/user", &[("cookie", &cookie)]).await;
        assert_eq!(status.body, r#"{"session":"inactive"}"#);
    }

    #[test]
    fn parses_cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; X-Qlik-Session-jwt=abc ; b=2"),
        );
        assert_eq!(
            cookie_value(&h, "X-Qlik-Session-jwt").as_deref(),
            Some("abc")
        );
        assert_eq!(cookie_value(&h, "X-Qlik-Session-form"), None);
    }
}

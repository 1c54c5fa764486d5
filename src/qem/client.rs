//! The QEM REST client: login from the context's credentials, the session id cached per context
//! and reused across runs, one transparent re-login when the server answers `INVALID_SESSION_ID`
//! (also in the middle of a concurrent `apply`), HTTP/1.1 only, every name percent-encoded once
//! as a path segment, and `{error_code, error_message}` bodies turned into one classified line.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use reqwest::{Client, Method, Response, StatusCode, Url};
use serde_json::Value;

use super::wire::{self, code};
use crate::error::{Error, ErrorClass, Result};
use crate::http::{self, ClientOptions};
use crate::session_cache::{CachedSession, SessionCache};
use crate::settings::{Auth, Target};

/// Re-logins one request may trigger before giving up (a session can expire again right after a
/// fresh login when the server is unhealthy), on top of `--retries`. Re-logins done by concurrent
/// requests do not count; but when many requests share a session, whichever notices a lost
/// session first logs in, so on a flaky server one request can be that one several times.
const MAX_RELOGINS: u32 = 3;
/// Sessions renewed by other requests that one request may pick up before giving up.
const MAX_SHARED_RENEWALS: u32 = 20;

/// A failed QEM call: either the server's `{error_code, error_message}` or any other failure.
#[derive(Debug)]
pub enum QemError {
    Api {
        status: u16,
        code: String,
        message: String,
    },
    Other(Error),
}

impl QemError {
    /// The QEM error code, when the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            QemError::Api { code, .. } => Some(code),
            QemError::Other(_) => None,
        }
    }

    pub fn is(&self, wanted: &str) -> bool {
        self.code() == Some(wanted)
    }
}

impl From<Error> for QemError {
    fn from(e: Error) -> Self {
        QemError::Other(e)
    }
}

impl From<QemError> for Error {
    fn from(e: QemError) -> Self {
        match e {
            QemError::Other(e) => e,
            QemError::Api {
                status,
                code,
                message,
            } => api_error(status, &code, &message),
        }
    }
}

impl std::fmt::Display for QemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QemError::Other(e) => write!(f, "{e}"),
            QemError::Api { code, message, .. } => write!(f, "{code}: {message}"),
        }
    }
}

pub type QemResult<T> = std::result::Result<T, QemError>;

/// The exit class of a QEM error code (auth 5, not found 6, conflict 7, input 3, else server 10).
pub fn class_for_code(code: &str, status: u16) -> ErrorClass {
    match code {
        code::UNAUTHORIZED_REQUEST | code::INVALID_SESSION_ID => ErrorClass::Auth,
        code::DESERIALIZE_TO_TYPE | code::INVALID_TIMESTAMP_FORMAT => ErrorClass::Input,
        code::TASK_NOT_STOPPED
        | code::TASK_ALREADY_STOPPED
        | code::ENDPOINT_IS_IN_USE
        | code::STOP_TASK_TIMEOUT => ErrorClass::Conflict,
        c if c.ends_with("_NOT_FOUND") || c == code::SERVER_HAS_NO_ACL => ErrorClass::NotFound,
        c if c.contains("NO_PERMISSION") => ErrorClass::Auth,
        c if c.starts_with("AEM_INVALID_") || c.contains("INVALID_FORMAT") => ErrorClass::Input,
        c if c.contains("ALREADY_EXISTS") || c.contains("IN_USE") => ErrorClass::Conflict,
        _ => match status {
            401 | 403 => ErrorClass::Auth,
            404 => ErrorClass::NotFound,
            409 => ErrorClass::Conflict,
            _ => ErrorClass::Server,
        },
    }
}

fn hint_for_code(code: &str) -> Option<&'static str> {
    Some(match code {
        code::UNAUTHORIZED_REQUEST => {
            "ask a QEM admin for the role this action needs (see `qtool qem server acl get`)"
        }
        code::INVALID_SESSION_ID => "run `qtool qem login` to start a new session",
        code::SERVER_NOT_FOUND => "list the registered servers with `qtool qem server ls`",
        code::TASK_NOT_FOUND => "list the tasks with `qtool qem task ls --server SERVER`",
        code::ENDPOINT_NOT_FOUND => {
            "list the endpoints with `qtool qem endpoint ls --server SERVER`"
        }
        code::TASK_NOT_STOPPED => "stop it first (`qtool qem task stop`) or pass --force-stop",
        code::TASK_ALREADY_STOPPED => "nothing to do: the task is not running",
        code::STOP_TASK_TIMEOUT => {
            "the task is still stopping; wait with `qtool qem task wait --until stopped`"
        }
        code::ENDPOINT_IS_IN_USE => "delete or change the tasks that use it first",
        code::SERVER_HAS_NO_ACL => "set one with `qtool qem server acl set`",
        code::DESERIALIZE_TO_TYPE => "check the JSON you sent against an export of the same kind",
        code::INVALID_TIMESTAMP_FORMAT => "use UTC like 2024-03-14T10:06:10",
        "AEM_SRV_LIC_INVALID_FORMAT" => "use the license file as issued (key=value lines)",
        "AEM_SERVER_NOT_MONITORED" => "turn monitoring on for the server in QEM",
        "AEM_SERVER_NOT_CONNECTED" => {
            "check that the Replicate/Compose server is up and reachable from QEM"
        }
        _ => return None,
    })
}

/// `{error_code, error_message}` as one line: `QEM AEM_TASK_NOT_STOPPED: text; fix`.
pub fn api_error(status: u16, code: &str, message: &str) -> Error {
    let message = message.trim();
    let text = if message.is_empty() {
        format!("QEM refused the request ({code})")
    } else {
        format!("QEM {code}: {}", one_line(message))
    };
    let e = Error::new(class_for_code(code, status), text);
    match hint_for_code(code) {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The base URL of the REST API: the context URL with `/attunityenterprisemanager` appended
/// unless it already ends with it (or with the full `/api/v1`).
pub fn api_base(server: &Url) -> Url {
    let mut url = server.clone();
    let path = url.path().trim_end_matches('/').to_string();
    let lower = path.to_ascii_lowercase();
    let new_path = if lower.ends_with("/attunityenterprisemanager/api/v1") {
        path
    } else if lower.ends_with("/attunityenterprisemanager") {
        format!("{path}/api/v1")
    } else {
        format!("{path}{}", wire::API_BASE)
    };
    url.set_path(&new_path);
    url
}

/// Build an API URL from path segments (each percent-encoded once) and query pairs.
pub fn api_url(base: &Url, segments: &[&str], query: &[(&str, String)]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    if !query.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in query {
            q.append_pair(k, v);
        }
    }
    url
}

/// The `Authorization: Basic` credential string for a login, and who it logs in as (for the
/// session cache and messages; never a secret).
pub fn login_credentials(auth: &Auth) -> Result<(String, String)> {
    let (plain, who) = match auth {
        Auth::Password { user, password } => {
            if password.contains(':') {
                return Err(Error::config("QEM passwords cannot contain `:`")
                    .with_hint("change the password of the QEM account (a QEM restriction)"));
            }
            (format!("{user}:{password}"), user.clone())
        }
        Auth::ApiToken(token) => (format!("api-token:{token}"), "api-token".to_string()),
        Auth::Bearer(jwt) => (format!("jwt:{jwt}"), "jwt".to_string()),
        Auth::JwtSign { recipe, passphrase } => {
            let jwt = crate::jwt::mint_from_recipe(recipe, passphrase.as_deref())?;
            (
                format!("jwt:{jwt}"),
                format!("jwt:{}\\{}", recipe.userdirectory, recipe.userid),
            )
        }
        Auth::None | Auth::Cert { .. } | Auth::Cookie(_) | Auth::Ntlm { .. } => {
            return Err(Error::config("this context cannot log in to QEM").with_hint(
                "QEM needs --auth password (DOMAIN\\user), api-token, bearer (a JWT) or jwt-sign: \
                 `qtool context update NAME --auth password --user 'DOMAIN\\user' --password-stdin`",
            ));
        }
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(plain.as_bytes());
    Ok((format!("Basic {encoded}"), who))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct Session {
    id: Option<String>,
    /// Bumped on every login, so concurrent requests that all saw the same stale id log in once.
    generation: u64,
}

pub struct QemClient {
    http: Client,
    base: Url,
    target: Target,
    cache_key: String,
    sessions: SessionCache,
    principal: String,
    session: tokio::sync::Mutex<Session>,
    logins: std::sync::atomic::AtomicU32,
    /// A request succeeded with the session: the server's sliding expiry moved.
    used: std::sync::atomic::AtomicBool,
}

impl Drop for QemClient {
    /// Record when the session was last used, so the next run reuses it while it is alive.
    fn drop(&mut self) {
        if self.used.load(std::sync::atomic::Ordering::Relaxed)
            && let Some(id) = self.session.get_mut().id.clone()
        {
            self.store_session(&id);
        }
    }
}

impl QemClient {
    /// A client for the run's target, reusing sessions from `sessions`; no request is sent yet.
    pub fn new(target: Target, sessions: SessionCache) -> Result<QemClient> {
        let http = http::build_client(&ClientOptions {
            tls: target.tls.clone(),
            timeout: target.timeout,
            http1_only: true,
        })?;
        let base = api_base(&target.server);
        let cache_key = target
            .context
            .clone()
            .unwrap_or_else(|| format!("url:{}", target.server));
        let principal = match &target.auth {
            Auth::Password { user, .. } => user.clone(),
            Auth::ApiToken(_) => "api-token".into(),
            Auth::Bearer(_) => "jwt".into(),
            Auth::JwtSign { recipe: r, .. } => format!("jwt:{}\\{}", r.userdirectory, r.userid),
            _ => String::new(),
        };
        Ok(QemClient {
            http,
            base,
            target,
            cache_key,
            sessions,
            principal,
            session: tokio::sync::Mutex::new(Session {
                id: None,
                generation: 0,
            }),
            logins: std::sync::atomic::AtomicU32::new(0),
            used: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn label(&self) -> String {
        self.target.label()
    }

    /// `--retries`: how often a failed request may be repeated.
    pub fn retries(&self) -> u32 {
        self.target.retries
    }

    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// How many logins this run performed (0 when a cached session was reused throughout).
    pub fn login_count(&self) -> u32 {
        self.logins.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn cache_server(&self) -> String {
        format!("{} as {}", self.base, self.principal)
    }

    /// The current session id and its generation: the cached one, or a fresh login.
    async fn current_session(&self) -> Result<(String, u64)> {
        let mut guard = self.session.lock().await;
        if let Some(id) = &guard.id {
            return Ok((id.clone(), guard.generation));
        }
        if let Some(cached) = self.sessions.load(&self.cache_key, &self.cache_server()) {
            let age = now_secs().saturating_sub(cached.last_used);
            if age < wire::SESSION_TTL_SECS {
                tracing::debug!("reusing the cached QEM session ({age} s old)");
                guard.id = Some(cached.session_id);
                guard.generation += 1;
                return Ok((guard.id.clone().unwrap_or_default(), guard.generation));
            }
        }
        let id = self.login_request().await?;
        guard.id = Some(id.clone());
        guard.generation += 1;
        Ok((id, guard.generation))
    }

    /// Drop the session `generation` (stale) and log in again, unless another request already did;
    /// `true` when this call logged in.
    async fn relogin(&self, stale_generation: u64) -> Result<bool> {
        let mut guard = self.session.lock().await;
        if guard.generation != stale_generation && guard.id.is_some() {
            return Ok(false);
        }
        tracing::info!("the QEM session expired; logging in again");
        self.sessions.forget(&self.cache_key);
        guard.id = None;
        let id = self.login_request().await?;
        guard.id = Some(id);
        guard.generation += 1;
        Ok(true)
    }

    /// Log in now (ignoring any cached session) and cache the new session.
    pub async fn login(&self) -> Result<String> {
        let mut guard = self.session.lock().await;
        let id = self.login_request().await?;
        guard.id = Some(id.clone());
        guard.generation += 1;
        Ok(id)
    }

    async fn login_request(&self) -> Result<String> {
        let (authorization, who) = login_credentials(&self.target.auth)?;
        let url = api_url(&self.base, &["login"], &[]);
        http::warn_cleartext_credentials(
            &url,
            "the QEM login (HTTP Basic: user and password, or token)",
        );
        let resp = http::send(&Method::GET, &url, self.target.retries, || {
            let mut b = self
                .http
                .get(url.clone())
                .header(reqwest::header::AUTHORIZATION, authorization.as_str());
            for (k, v) in &self.target.headers {
                b = b.header(k.as_str(), v.as_str());
            }
            b
        })
        .await?;
        let status = resp.status();
        let session = resp
            .headers()
            .get(wire::SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if !status.is_success() {
            let body = http::read_error_body(resp).await;
            let e = match parse_api_error(&body) {
                Some((code, _)) if code == code::UNAUTHORIZED_REQUEST || status == 401 => {
                    login_refused(&who, &self.target.label())
                }
                Some((code, message)) => api_error(status.as_u16(), &code, &message),
                None if matches!(status.as_u16(), 401 | 403) => {
                    login_refused(&who, &self.target.label())
                }
                None if status == StatusCode::NOT_FOUND => Error::not_found(format!(
                    "no QEM API at {}",
                    http::url_for_log(&url)
                ))
                .with_hint(
                    "check the context URL: https://HOST[:PORT] (qtool appends /attunityenterprisemanager)",
                ),
                None => {
                    let excerpt = http::body_excerpt(&body);
                    let detail = if excerpt.is_empty() {
                        "(no error details)".to_string()
                    } else {
                        excerpt
                    };
                    Error::server(format!(
                        "QEM login failed with HTTP {}: {detail}",
                        status.as_u16(),
                    ))
                    .with_hint("retry later, or check the Enterprise Manager logs (run with -vv to see the request)")
                }
            };
            return Err(e);
        }
        let Some(id) = session.filter(|s| !s.is_empty()) else {
            return Err(Error::server(format!(
                "QEM answered the login without an {} header",
                wire::SESSION_HEADER
            ))
            .with_hint("check that the context URL points at Enterprise Manager, not Replicate"));
        };
        self.logins
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!("logged in to QEM as {who}");
        self.store_session(&id);
        Ok(id)
    }

    fn store_session(&self, id: &str) {
        self.sessions.save(
            &self.cache_key,
            &CachedSession {
                server: self.cache_server(),
                session_id: id.to_string(),
                last_used: now_secs(),
            },
        );
    }

    /// End the session on the server and forget it locally.
    pub async fn logout(&self) -> Result<bool> {
        let cached = {
            let mut guard = self.session.lock().await;
            self.used.store(false, std::sync::atomic::Ordering::Relaxed);
            guard.id.take()
        }
        .or_else(|| {
            self.sessions
                .load(&self.cache_key, &self.cache_server())
                .map(|c| c.session_id)
        });
        self.sessions.forget(&self.cache_key);
        let Some(id) = cached else {
            return Ok(false);
        };
        let url = api_url(&self.base, &["logout"], &[]);
        let resp = http::send(&Method::GET, &url, self.target.retries, || {
            self.http
                .get(url.clone())
                .header(wire::SESSION_HEADER, id.as_str())
        })
        .await?;
        // An already expired session is as good as logged out.
        Ok(resp.status().is_success())
    }

    /// Send one request with the session, re-logging in when the session is no longer valid.
    pub async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<Body>,
    ) -> QemResult<Response> {
        let url = api_url(&self.base, segments, query);
        let mut relogins = 0;
        let relogin_budget = MAX_RELOGINS.saturating_add(self.target.retries);
        let mut shared_renewals = 0u32;
        let mut repeats = 0u32;
        let repeat = repeatable(&method, query);
        loop {
            let (session, generation) = self.current_session().await?;
            let sent = http::send(&method, &url, self.target.retries, || {
                let mut b = self
                    .http
                    .request(method.clone(), url.clone())
                    .header(wire::SESSION_HEADER, session.as_str());
                for (k, v) in &self.target.headers {
                    b = b.header(k.as_str(), v.as_str());
                }
                match &body {
                    Some(Body::Json(bytes)) => b
                        .header(CONTENT_TYPE, "application/json")
                        .body(bytes.clone()),
                    Some(Body::Text(bytes)) => b
                        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
                        .body(bytes.clone()),
                    None if method != Method::GET => {
                        b.header(CONTENT_LENGTH, HeaderValue::from_static("0"))
                    }
                    None => b,
                }
            })
            .await;
            // http::send repeats only what HTTP calls idempotent; QEM actions such as import,
            // delete and stop are idempotent in effect, so repeat them too (a 503 was not
            // processed; a dropped connection may have been, which repeating tolerates).
            let may_repeat = repeats < self.target.retries;
            let resp = match sent {
                Ok(resp)
                    if resp.status() == StatusCode::SERVICE_UNAVAILABLE
                        && repeat != Repeat::No
                        && !http::is_idempotent(&method)
                        && may_repeat =>
                {
                    repeats += 1;
                    backoff(repeats).await;
                    continue;
                }
                Err(e)
                    if e.class() == ErrorClass::Network
                        && repeat == Repeat::Always
                        && !http::is_idempotent(&method)
                        && may_repeat =>
                {
                    repeats += 1;
                    tracing::info!("repeating {method} {} after: {e}", http::url_for_log(&url));
                    backoff(repeats).await;
                    continue;
                }
                other => other?,
            };
            let status = resp.status();
            if status.is_success() {
                self.used.store(true, std::sync::atomic::Ordering::Relaxed);
                return Ok(resp);
            }
            let text = http::read_error_body(resp).await;
            match parse_api_error(&text) {
                // Only logins this request made count: with many requests in flight, one lost
                // session fails them all, and all but one just pick up the new session.
                Some((c, _))
                    if c == code::INVALID_SESSION_ID
                        && relogins < relogin_budget
                        && shared_renewals < MAX_SHARED_RENEWALS =>
                {
                    if self.relogin(generation).await? {
                        relogins += 1;
                    } else {
                        shared_renewals += 1;
                    }
                    continue;
                }
                Some((c, message)) => {
                    return Err(QemError::Api {
                        status: status.as_u16(),
                        code: c,
                        message,
                    });
                }
                None => {
                    let class = http::class_for_status(status);
                    let what = format!(
                        "{} {} answered HTTP {}",
                        method,
                        http::url_for_log(&url),
                        status.as_u16()
                    );
                    let e = if text.trim().is_empty() {
                        Error::new(class, what)
                    } else {
                        Error::new(class, format!("{what}: {}", http::body_excerpt(&text)))
                    };
                    let e = if class == ErrorClass::Auth {
                        e.with_hint("check the context's credentials with `qtool qem login`")
                    } else {
                        e
                    };
                    return Err(QemError::Other(e));
                }
            }
        }
    }

    /// GET and parse JSON (an empty body is `null`).
    pub async fn get_json(&self, segments: &[&str], query: &[(&str, String)]) -> QemResult<Value> {
        let resp = self.send(Method::GET, segments, query, None).await?;
        self.read_json(resp, &Method::GET, segments).await
    }

    /// GET the raw body, at most `--max-response-size`.
    pub async fn get_bytes(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> QemResult<bytes::Bytes> {
        let resp = self.send(Method::GET, segments, query, None).await?;
        let what = describe(&Method::GET, segments);
        Ok(http::read_body(resp, self.target.max_response_size, &what).await?)
    }

    /// Read an answer (at most `--max-response-size`) and parse it as JSON.
    async fn read_json(
        &self,
        resp: Response,
        method: &Method,
        segments: &[&str],
    ) -> QemResult<Value> {
        let what = describe(method, segments);
        let bytes = http::read_body(resp, self.target.max_response_size, &what).await?;
        parse_json(&bytes)
    }

    /// Any method, parse the answer as JSON when there is one.
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<Body>,
    ) -> QemResult<Value> {
        let resp = self.send(method.clone(), segments, query, body).await?;
        self.read_json(resp, &method, segments).await
    }
}

/// `GET servers/rep-prod/tasks` for messages.
fn describe(method: &Method, segments: &[&str]) -> String {
    format!("{method} {}", segments.join("/"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    No,
    /// Only when the server said it did not process the request (503).
    Unprocessed,
    /// Also after a dropped connection.
    Always,
}

/// Which non-idempotent QEM calls can be sent again.
fn repeatable(method: &Method, query: &[(&str, String)]) -> Repeat {
    if http::is_idempotent(method) {
        return Repeat::Always;
    }
    let action = query
        .iter()
        .find(|(k, _)| *k == "action")
        .map(|(_, v)| v.as_str());
    match action {
        Some("import" | "delete" | "stop") => Repeat::Always,
        Some(_) => Repeat::Unprocessed,
        None => Repeat::No,
    }
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(200 * (1u64 << attempt.min(4)))).await;
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    Json(Vec<u8>),
    Text(Vec<u8>),
}

impl Body {
    pub fn json(value: &Value) -> Body {
        Body::Json(serde_json::to_vec(value).unwrap_or_default())
    }
}

fn parse_json(bytes: &[u8]) -> QemResult<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(strip_comment_line(bytes)).map_err(|e| {
        QemError::Other(Error::server(format!("QEM sent invalid JSON: {e}")).with_hint(
            "check that the context URL points at Enterprise Manager (run with -vv to see the request)",
        ))
    })
}

/// Older exports start with a `// Host name: …, Time: …` line that is not JSON: skip it.
pub fn strip_comment_line(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let rest = &bytes[start..];
    let rest = rest.strip_prefix(b"\xef\xbb\xbf").unwrap_or(rest);
    if rest.starts_with(b"//") {
        match rest.iter().position(|b| *b == b'\n') {
            Some(i) => &rest[i + 1..],
            None => &[],
        }
    } else {
        rest
    }
}

/// `(error_code, error_message)` from an error body, if it is one.
pub fn parse_api_error(body: &str) -> Option<(String, String)> {
    let value: Value = serde_json::from_str(body.trim()).ok()?;
    let code = value.get("error_code")?.as_str()?.to_string();
    let message = value
        .get("error_message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some((code, message))
}

fn login_refused(who: &str, label: &str) -> Error {
    Error::auth(format!("QEM refused the login of {who} ({label})")).with_hint(
        "check the user (DOMAIN\\user) and password, token or JWT: `qtool context update NAME ...`",
    )
}

/// Poll interval for waits.
pub const POLL: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_appends_the_product_path_once() {
        let u = |s: &str| api_base(&Url::parse(s).unwrap()).to_string();
        assert_eq!(
            u("https://qem.example.com"),
            "https://qem.example.com/attunityenterprisemanager/api/v1"
        );
        assert_eq!(
            u("https://qem:8443/attunityenterprisemanager/"),
            "https://qem:8443/attunityenterprisemanager/api/v1"
        );
        assert_eq!(
            u("https://qem/attunityenterprisemanager/api/v1"),
            "https://qem/attunityenterprisemanager/api/v1"
        );
    }

    #[test]
    fn names_are_encoded_once_as_segments() {
        let base = api_base(&Url::parse("https://qem").unwrap());
        let url = api_url(
            &base,
            &["servers", "My Sample Server", "tasks", "a/b%c"],
            &[("action", "export".into())],
        );
        assert_eq!(
            url.as_str(),
            "https://qem/attunityenterprisemanager/api/v1/servers/My%20Sample%20Server/tasks/a%2Fb%25c?action=export"
        );
    }

    #[test]
    fn error_codes_have_classes() {
        assert_eq!(
            class_for_code("AEM_TASK_NOT_STOPPED", 500),
            ErrorClass::Conflict
        );
        assert_eq!(
            class_for_code("AEM_TASK_NOT_FOUND", 500),
            ErrorClass::NotFound
        );
        assert_eq!(
            class_for_code("UNAUTHORIZED_REQUEST", 401),
            ErrorClass::Auth
        );
        assert_eq!(
            class_for_code("AEM_SOMETHING_ELSE", 500),
            ErrorClass::Server
        );
        let e = api_error(500, "AEM_TASK_NOT_STOPPED", "Task is\nrunning");
        assert_eq!(e.class().exit_code(), 7);
        assert!(!e.to_string().contains('\n'));
        assert!(
            e.to_string()
                .starts_with("QEM AEM_TASK_NOT_STOPPED: Task is running")
        );
    }

    #[test]
    fn credentials_are_basic_with_prefixes() {
        let (h, who) = login_credentials(&Auth::Password {
            user: "DOM\\u".into(),
            password: "p".into(),
        })
        .unwrap();
        assert_eq!(
            h,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("DOM\\u:p")
            )
        );
        assert_eq!(who, "DOM\\u");
        let (h, _) = login_credentials(&Auth::ApiToken("T".into())).unwrap();
        assert!(h.ends_with(&base64::engine::general_purpose::STANDARD.encode("api-token:T")));
        let (h, _) = login_credentials(&Auth::Bearer("J".into())).unwrap();
        assert!(h.ends_with(&base64::engine::general_purpose::STANDARD.encode("jwt:J")));
        assert!(login_credentials(&Auth::None).is_err());
    }

    #[test]
    fn comment_line_is_stripped() {
        assert_eq!(
            strip_comment_line(b"// Host name: x\n{\"a\":1}"),
            b"{\"a\":1}"
        );
        assert_eq!(strip_comment_line(b"  {\"a\":1}"), b"{\"a\":1}");
    }
}

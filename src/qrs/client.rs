//! The QRS transport: one client per run. TLS comes from [`http::build_client`]; every request
//! carries the same 16-character Xrfkey in the `xrfkey` query parameter and the `X-Qlik-Xrfkey`
//! header, the context's credentials, and (once the proxy set one) its session cookie. Windows
//! (NTLM) contexts log in once for the run through [`WindowsLogin`] and send only the cookie.
//! Responses are checked in one place: a redirect or an HTML page means "not authenticated",
//! error statuses become one-line errors of the right class.

use std::sync::Mutex;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde_json::Value;

use super::endpoints::QrsPath;
use super::windows_login::{self, WindowsLogin};
use super::wire;
use crate::context::model::{AuthKind, ServerType};
use crate::error::{Error, ErrorClass, Result};
use crate::http::{self, ClientOptions};
use crate::session_cache::SessionCache;
use crate::settings::{Auth, Target};

/// A request body that can be rebuilt for each attempt.
pub enum Body<'a> {
    None,
    Json(Vec<u8>),
    /// Built per attempt (streamed uploads); the closure returns the body and its length.
    Stream {
        make: &'a (dyn Fn() -> (reqwest::Body, Option<u64>) + Sync),
        content_type: &'static str,
    },
}

pub struct QrsClient {
    http: reqwest::Client,
    /// Server URL ending with `/` (the virtual proxy prefix included).
    base: Url,
    xrfkey: String,
    headers: HeaderMap,
    /// `Cookie` from the context (forms login).
    auth_cookie: Option<String>,
    /// Session cookie set by the proxy during this run.
    session: Mutex<Option<String>>,
    retries: u32,
    /// The run's request timeout (also the idle limit of long transfers).
    timeout: std::time::Duration,
    /// The largest answer read into memory (`--max-response-size`).
    max_response_size: u64,
    auth_kind: AuthKind,
    label: String,
    /// Windows authentication: the run's NTLM login (the cookie goes to `session`).
    windows: Option<WindowsLogin>,
}

impl Drop for QrsClient {
    /// Record when the Windows session was last used, so the next run reuses it while it lives.
    fn drop(&mut self) {
        if let Some(windows) = &self.windows {
            windows.finish(&self.session);
        }
    }
}

impl QrsClient {
    /// Build the run's client from the resolved target.
    pub fn new(target: &Target) -> Result<QrsClient> {
        Self::with_timeout(target, target.timeout)
    }

    pub fn with_timeout(target: &Target, timeout: std::time::Duration) -> Result<QrsClient> {
        if target.server_type != ServerType::Windows {
            return Err(Error::usage(format!(
                "{} is a {} server, not QSEoW",
                target.label(),
                target.server_type.as_str()
            ))
            .with_hint("use `qtool qem ...` for QEM, or pick a QSEoW context with --context"));
        }
        let options = ClientOptions {
            tls: target.tls.clone(),
            timeout,
            http1_only: false,
        };
        let http = http::build_client(&options)?;
        let mut base = target.server.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let xrfkey = http::new_xrfkey();
        let mut headers = HeaderMap::new();
        insert(&mut headers, wire::XRFKEY_HEADER, &xrfkey)?;
        insert(&mut headers, "Accept", "application/json")?;
        let mut auth_cookie = None;
        let auth_kind = match &target.auth {
            Auth::None => AuthKind::None,
            Auth::Bearer(token) => {
                insert(&mut headers, "Authorization", &format!("Bearer {token}"))?;
                AuthKind::Bearer
            }
            Auth::JwtSign { recipe, passphrase } => {
                let token = super::token::mint(recipe, passphrase.as_deref())?;
                insert(&mut headers, "Authorization", &format!("Bearer {token}"))?;
                AuthKind::JwtSign
            }
            Auth::Cert { user } => {
                if let Some(user) = user {
                    insert(
                        &mut headers,
                        wire::QLIK_USER_HEADER,
                        &qlik_user_header(user)?,
                    )?;
                }
                AuthKind::Cert
            }
            Auth::Cookie(cookie) => {
                auth_cookie = Some(cookie.clone());
                AuthKind::Cookie
            }
            Auth::Ntlm { .. } => {
                // Also on the requests after the login: an expired session then leads back to
                // Windows authentication, which the client answers.
                insert(&mut headers, "User-Agent", &http::ntlm::user_agent())?;
                AuthKind::Ntlm
            }
            Auth::Password { .. } | Auth::ApiToken(_) => {
                return Err(Error::config(format!(
                    "{} uses a QEM login method, which QSEoW does not accept",
                    target.label()
                ))
                .with_hint(
                    "use bearer, jwt-sign, cert or cookie auth: `qtool context update NAME --api-key-stdin`",
                ));
            }
        };
        // The context's headers and --header flags come last and replace ours of the same name.
        for (name, value) in &target.headers {
            insert(&mut headers, name, value)?;
        }
        let windows = match &target.auth {
            Auth::Ntlm { user, password } => {
                let mut url = base
                    .join("qrs/about")
                    .map_err(|e| Error::usage(format!("bad server URL: {e}")))?;
                url.query_pairs_mut()
                    .append_pair(wire::XRFKEY_QUERY, &xrfkey);
                Some(WindowsLogin::new(
                    http::ntlm::Credentials {
                        user: user.clone(),
                        password: password.clone(),
                    },
                    options,
                    url,
                    headers.clone(),
                    target.retries,
                    target
                        .context
                        .clone()
                        .unwrap_or_else(|| format!("url:{}", target.server)),
                ))
            }
            _ => None,
        };
        if auth_kind != AuthKind::None && auth_kind != AuthKind::Cert {
            http::warn_cleartext_credentials(&target.server, "the token or session cookie");
        }
        Ok(QrsClient {
            http,
            base,
            xrfkey,
            headers,
            auth_cookie,
            session: Mutex::new(None),
            retries: target.retries,
            timeout,
            max_response_size: target.max_response_size,
            auth_kind,
            label: target.label(),
            windows,
        })
    }

    /// Keep Windows sessions in `cache` across runs (without it, each run logs in once).
    pub fn with_session_cache(mut self, cache: SessionCache) -> QrsClient {
        if let Some(windows) = &mut self.windows {
            windows.set_cache(cache);
        }
        self
    }

    /// The proxy's Windows session cookie (`name=value`) for another connection of this run
    /// (the engine's WebSocket): the cached session, or a new NTLM login. `stale`: a cookie the
    /// proxy just turned away, replaced by a new login. `None` without Windows authentication.
    pub(crate) async fn windows_session(&self, stale: Option<&str>) -> Result<Option<String>> {
        let Some(windows) = &self.windows else {
            return Ok(None);
        };
        match stale {
            Some(stale) => windows.renew(&self.session, Some(stale)).await?,
            None => windows.ensure(&self.session).await?,
        }
        windows.mark_used();
        Ok(self.session.lock().ok().and_then(|s| s.clone()))
    }

    /// NTLM handshakes this client performed (0 without Windows authentication, or when a
    /// cached session served the whole run).
    pub fn login_count(&self) -> u32 {
        self.windows.as_ref().map_or(0, WindowsLogin::login_count)
    }

    /// `https://host/prefix/qrs/<segments>?<query>&xrfkey=...`
    pub fn url(&self, path: &QrsPath, query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self
            .base
            .join("qrs/")
            .map_err(|e| Error::usage(format!("bad server URL: {e}")))?;
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|()| Error::usage("the server URL cannot have a path"))?;
            segs.pop_if_empty();
            for s in &path.segments {
                segs.push(s);
            }
        }
        self.add_query(&mut url, query);
        Ok(url)
    }

    /// A path the server gave us (e.g. an export's `downloadPath`), under the same proxy prefix.
    pub fn url_for_server_path(&self, server_path: &str) -> Result<Url> {
        let mut url = self
            .base
            .join(server_path.trim_start_matches('/'))
            .map_err(|e| Error::server(format!("bad download path `{server_path}`: {e}")))?;
        if url.origin() != self.base.origin() {
            return Err(Error::server(format!(
                "the server pointed to another site ({server_path})"
            )));
        }
        self.add_query(&mut url, &[]);
        Ok(url)
    }

    /// A raw path typed by the user (`qrs raw`): `/qrs/about`, `qrs/about` or `about`.
    pub fn url_for_raw(&self, path: &str, query: &[(String, String)]) -> Result<Url> {
        let trimmed = path.trim_start_matches('/');
        let rel = if trimmed == "qrs" || trimmed.starts_with("qrs/") || trimmed.starts_with("qrs?")
        {
            trimmed.to_string()
        } else {
            format!("qrs/{trimmed}")
        };
        let mut url = self
            .base
            .join(&rel)
            .map_err(|e| Error::usage(format!("bad path `{}`: {e}", shorten(path))))?;
        let pairs: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.add_query(&mut url, &pairs);
        http::check_url_length(&url)?;
        Ok(url)
    }

    fn add_query(&self, url: &mut Url, query: &[(&str, &str)]) {
        let has_xrf = url
            .query_pairs()
            .any(|(k, _)| k.eq_ignore_ascii_case(wire::XRFKEY_QUERY));
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
        if !has_xrf {
            pairs.append_pair(wire::XRFKEY_QUERY, &self.xrfkey);
        }
    }

    fn builder(&self, method: &Method, url: &Url) -> RequestBuilder {
        let mut b = self
            .http
            .request(method.clone(), url.clone())
            .headers(self.headers.clone());
        let session = self.session.lock().ok().and_then(|s| s.clone());
        let cookie = match (&self.auth_cookie, session) {
            // A fresh cookie of the same name replaces the stored one.
            (Some(a), Some(s)) if cookie_name(a) == cookie_name(&s) => Some(s),
            (Some(a), Some(s)) => Some(format!("{a}; {s}")),
            (Some(a), None) => Some(a.clone()),
            (None, Some(s)) => Some(s),
            (None, None) => None,
        };
        if let Some(c) = cookie {
            b = b.header(reqwest::header::COOKIE, c);
        }
        b
    }

    /// Send and check a request; returns the successful (2xx, not HTML) response.
    pub async fn send(&self, method: Method, url: Url, body: Body<'_>) -> Result<Response> {
        self.send_with_timeout(method, url, body, None).await
    }

    /// Retries for safe requests (`--retries`).
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The run's request timeout: long transfers use it as the limit between two chunks.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    /// [`send`](Self::send) with a total time limit other than the run's (large transfers).
    pub async fn send_with_timeout(
        &self,
        method: Method,
        url: Url,
        body: Body<'_>,
        total: Option<std::time::Duration>,
    ) -> Result<Response> {
        let mut renewed = false;
        loop {
            let cookie = match &self.windows {
                Some(windows) => {
                    windows.ensure(&self.session).await?;
                    self.session.lock().ok().and_then(|s| s.clone())
                }
                None => None,
            };
            let resp = self.send_once(&method, &url, &body, total).await?;
            if let Some(windows) = &self.windows {
                if windows_login::refuses_session(&resp) && !renewed {
                    renewed = true;
                    windows.renew(&self.session, cookie.as_deref()).await?;
                    continue;
                }
                if resp.status().is_success() {
                    windows.mark_used();
                }
            }
            self.remember_session(&resp);
            return self.check(&method, &url, resp).await;
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        body: &Body<'_>,
        total: Option<std::time::Duration>,
    ) -> Result<Response> {
        http::send(method, url, self.retries, || {
            let mut b = self.builder(method, url);
            if let Some(t) = total {
                b = b.timeout(t);
            }
            match body {
                Body::None => b,
                Body::Json(bytes) => b
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes.clone()),
                Body::Stream { make, content_type } => {
                    let (body, len) = make();
                    let b = b
                        .header(reqwest::header::CONTENT_TYPE, *content_type)
                        .body(body);
                    match len {
                        Some(n) => b.header(reqwest::header::CONTENT_LENGTH, n),
                        None => b,
                    }
                }
            }
        })
        .await
    }

    fn remember_session(&self, resp: &Response) {
        let cookie = http::qlik_session_cookie(resp);
        if let (Some(c), Ok(mut slot)) = (cookie, self.session.lock()) {
            *slot = Some(c.to_string());
        }
    }

    async fn check(&self, method: &Method, url: &Url, resp: Response) -> Result<Response> {
        let status = resp.status();
        let what = format!("{method} {}", url.path());
        if status.is_redirection() {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            return Err(Error::auth(format!(
                "the proxy answered {what} with a redirect to a login page{}: {} is not authenticated",
                if location.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", strip_query(&location))
                },
                self.label
            ))
            .with_hint(self.auth_hint()));
        }
        if status.is_success() {
            if http::is_html(&resp) {
                return Err(Error::auth(format!(
                    "the proxy answered {what} with a login page: {} is not authenticated",
                    self.label
                ))
                .with_hint(self.auth_hint()));
            }
            return Ok(resp);
        }
        let html = http::is_html(&resp);
        let text = http::read_error_body(resp).await;
        let excerpt = if html {
            String::new()
        } else {
            http::body_excerpt(&text)
        };
        let class = http::class_for_status(status);
        let detail = if excerpt.is_empty() {
            String::new()
        } else {
            format!(": {excerpt}")
        };
        let mut err = Error::new(
            class,
            format!("{what} failed with HTTP {}{detail}", status.as_u16()),
        );
        err = match status {
            StatusCode::FORBIDDEN if text.contains("XSRF") => err.with_hint(
                "QRS needs the same Xrfkey in the `xrfkey` query parameter and the X-Qlik-Xrfkey header; do not override X-Qlik-Xrfkey with --header",
            ),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if html => {
                Error::auth(format!(
                    "the proxy answered {what} with a login page (HTTP {}): {} is not authenticated",
                    status.as_u16(),
                    self.label
                ))
                .with_hint(self.auth_hint())
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => err.with_hint(self.auth_hint()),
            StatusCode::CONFLICT => err.with_hint(
                "the entity changed since it was read (or already exists); read it again and retry",
            ),
            s if s.is_server_error() => {
                err.with_hint("the repository failed; retry later or check the QRS logs")
            }
            _ if class == ErrorClass::NotFound => {
                err.with_hint("check the id or path (list ids with `qtool qrs <resource> ls -q`)")
            }
            _ => err,
        };
        Err(err)
    }

    fn auth_hint(&self) -> &'static str {
        match self.auth_kind {
            AuthKind::Bearer => {
                "the token may be expired, signed with another key or for another audience: sign a new one and run `qtool context update NAME --api-key-stdin`"
            }
            AuthKind::JwtSign => {
                "check that the context's JWT key, audience and user claims match the virtual proxy (`qtool context get`)"
            }
            AuthKind::Cookie => "the session has expired: run `qtool context login`",
            AuthKind::Ntlm => {
                "the Windows login went through but the proxy refused the request: check what the user may do (QMC security rules) and the virtual proxy's settings"
            }
            AuthKind::Cert => {
                "use the client certificate exported from this site's QMC and the QRS port (4242), and an existing X-Qlik-User (context --user DIR\\id)"
            }
            _ => {
                "configure authentication: `qtool context update NAME --api-key-stdin` (JWT bearer), --jwt-key (signed per run), --client-cert, or `qtool context login`"
            }
        }
    }

    // ---- JSON conveniences ----------------------------------------------------------------

    /// Send, and parse the answer as JSON (an empty answer is `null`).
    pub async fn json(&self, method: Method, url: Url, body: Body<'_>) -> Result<Value> {
        let what = format!("{method} {}", url.path());
        let resp = self.send(method, url, body).await?;
        self.read_json(resp, &what).await
    }

    /// A GET whose answer must be a JSON document: an empty answer is a server error, since
    /// QRS always answers a read with JSON (a blank result would look like success).
    pub async fn get_json(&self, path: &QrsPath, query: &[(&str, &str)]) -> Result<Value> {
        let url = self.url(path, query)?;
        let what = format!("GET {}", url.path());
        match self.json(Method::GET, url, Body::None).await? {
            Value::Null => Err(Error::server(format!("{what} returned an empty answer"))
                .with_hint(
                    "check that the server URL is the QSEoW proxy with its virtual proxy prefix, or the repository (port 4242)",
                )),
            value => Ok(value),
        }
    }

    /// Parse an answer as JSON (an empty one is `null`), reading at most `--max-response-size`.
    pub async fn read_json(&self, resp: Response, what: &str) -> Result<Value> {
        let bytes = http::read_body(resp, self.max_response_size, what).await?;
        parse_json(&bytes, what)
    }

    /// An answer as received, at most `--max-response-size`.
    pub async fn read_bytes(&self, resp: Response, what: &str) -> Result<bytes::Bytes> {
        http::read_body(resp, self.max_response_size, what).await
    }

    /// The largest answer read into memory.
    pub fn max_response_size(&self) -> u64 {
        self.max_response_size
    }

    /// A GET that must return a JSON array.
    pub async fn get_list(&self, path: &QrsPath, query: &[(&str, &str)]) -> Result<Vec<Value>> {
        match self.get_json(path, query).await? {
            Value::Array(items) => Ok(items),
            other => Err(Error::server(format!(
                "{} returned {} instead of a list",
                path.display(),
                kind_of(&other)
            ))),
        }
    }
}

/// Parse an answer as JSON (an empty body is `null`).
fn parse_json(bytes: &[u8], what: &str) -> Result<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| {
        Error::server(format!(
            "{what} returned invalid JSON ({e}): {}",
            http::body_excerpt(&String::from_utf8_lossy(bytes))
        ))
    })
}

/// A user's text in a message: at most 100 characters.
fn shorten(text: &str) -> String {
    let count = text.chars().count();
    if count <= 100 {
        return text.to_string();
    }
    let head: String = text.chars().take(60).collect();
    format!("{head}… ({count} characters)")
}

pub fn json_body(value: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::failed(format!("cannot encode JSON: {e}")))
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn insert(headers: &mut HeaderMap, name: &str, value: &str) -> Result<()> {
    let n = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::usage(format!("`{name}` is not a valid header name")))?;
    let v = HeaderValue::from_str(value).map_err(|_| {
        Error::usage(format!(
            "the value of header `{name}` has characters HTTP does not allow"
        ))
    })?;
    headers.insert(n, v);
    Ok(())
}

/// `DIR\id` → `UserDirectory=DIR; UserId=id` (values URL-encoded, as QRS documents).
pub fn qlik_user_header(user: &str) -> Result<String> {
    let (dir, id) = user.split_once('\\').ok_or_else(|| {
        Error::config(format!("user `{user}` must be DIRECTORY\\userid"))
            .with_hint("run `qtool context update NAME --user 'INTERNAL\\sa_api'`")
    })?;
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string();
    Ok(format!("UserDirectory={}; UserId={}", enc(dir), enc(id)))
}

fn cookie_name(cookie: &str) -> &str {
    cookie.split('=').next().unwrap_or("").trim()
}

fn strip_query(location: &str) -> &str {
    location.split('?').next().unwrap_or(location)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::TlsOptions;

    fn target(server: &str, auth: Auth) -> Target {
        Target {
            context: Some("t".into()),
            server: Url::parse(server).unwrap(),
            server_type: ServerType::Windows,
            auth,
            tls: TlsOptions::default(),
            headers: vec![("X-Extra".into(), "1".into())],
            timeout: std::time::Duration::from_secs(5),
            retries: 0,
            max_response_size: crate::settings::DEFAULT_MAX_RESPONSE_SIZE,
        }
    }

    #[test]
    fn urls_keep_the_proxy_prefix_and_carry_the_xrfkey() {
        let c = QrsClient::new(&target("https://h/jwt", Auth::None)).unwrap();
        let p = super::super::endpoints::APP_COPY.path(&["a/b"]).unwrap();
        let url = c.url(&p, &[("name", "O'Brien & co #1")]).unwrap();
        assert!(
            url.as_str()
                .starts_with("https://h/jwt/qrs/app/a%2Fb/copy?name=")
        );
        let key: String = url
            .query_pairs()
            .find(|(k, _)| k == "xrfkey")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert_eq!(key.len(), 16);
        assert_eq!(c.headers.get("X-Qlik-Xrfkey").unwrap(), key.as_str());
        // The filter/name is encoded exactly once and round-trips.
        let name: String = url
            .query_pairs()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert_eq!(name, "O'Brien & co #1");
        let d = c
            .url_for_server_path("/tempcontent/x/My App.qvf?serverNodeId=1")
            .unwrap();
        assert!(
            d.as_str()
                .starts_with("https://h/jwt/tempcontent/x/My%20App.qvf?serverNodeId=1&xrfkey=")
        );
        let r = c.url_for_raw("/qrs/about", &[]).unwrap();
        assert!(r.as_str().starts_with("https://h/jwt/qrs/about?xrfkey="));
        let r = c.url_for_raw("about", &[("a".into(), "b".into())]).unwrap();
        assert!(
            r.as_str()
                .starts_with("https://h/jwt/qrs/about?a=b&xrfkey=")
        );
    }

    #[test]
    fn auth_headers() {
        let c = QrsClient::new(&target("https://h", Auth::Bearer("tok".into()))).unwrap();
        assert_eq!(c.headers.get("authorization").unwrap(), "Bearer tok");
        assert_eq!(c.headers.get("x-extra").unwrap(), "1");
        let c = QrsClient::new(&target(
            "https://h:4242",
            Auth::Cert {
                user: Some("INTERNAL\\sa_api".into()),
            },
        ))
        .unwrap();
        assert_eq!(
            c.headers.get("x-qlik-user").unwrap(),
            "UserDirectory=INTERNAL; UserId=sa_api"
        );
        let mut t = target("https://h", Auth::None);
        t.headers = vec![("X-Qlik-Xrfkey".into(), "override".into())];
        let c = QrsClient::new(&t).unwrap();
        assert_eq!(c.headers.get_all("x-qlik-xrfkey").iter().count(), 1);
        assert_eq!(c.headers.get("x-qlik-xrfkey").unwrap(), "override");
    }
}

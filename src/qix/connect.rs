//! Reaching the engine: the WebSocket URL, credentials, the proxy's anti-CSRF token, TLS, and
//! the upgrade.
//!
//! - Behind a virtual proxy (every auth kind but certificates): `wss://host/{prefix}/app/{id}`,
//!   the context's JWT (fixed or minted), forms or session cookie. Since QSEoW November 2024 a
//!   proxy with WebSocket CSRF protection refuses an upgrade without `?qlik-csrf-token=<token>`
//!   (403); the token comes from `GET /{prefix}/qps/csrftoken` with the same credentials, and
//!   belongs to the proxy session whose cookie that answer sets, so both go on the second
//!   upgrade. It is asked for only after a 403: a proxy without the protection (or an older
//!   release without the endpoint) costs no extra round trip.
//! - On the engine's certificate port (4747 on real sites; `--engine-url` elsewhere): mutual TLS
//!   with the context's client certificate and `X-Qlik-User`.
//! - Each run opens its own session: the path carries `/identity/qtool-<random>`, so qtool never
//!   attaches to a browser session of the same user, and `/ttl/N` with `--ttl`.
//! - An answer other than `101 Switching Protocols` is told as one line: a login page or a
//!   redirect to one, 401 and 403 are authentication errors (exit 5), 404 a wrong URL (exit 6).

use std::sync::Arc;

use reqwest::Url;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::rpc::Session;
use super::traffic;
use crate::error::{Error, Result};
use crate::http;
use crate::settings::{Auth, Target};

/// The engine's certificate port on QSEoW.
pub(crate) const ENGINE_PORT: u16 = 4747;
/// The proxy's anti-CSRF token: response header of `/qps/csrftoken`, query name on the upgrade.
const CSRF_TOKEN: &str = "qlik-csrf-token";

/// Where the engine listens for this target.
#[derive(Debug, Clone)]
pub(crate) struct EngineUrl {
    /// `wss://host[:port]/[prefix/]`, always ending with `/`.
    base: Url,
    /// Behind a virtual proxy (anti-CSRF token, proxy notifications) rather than on the
    /// engine's own port.
    via_proxy: bool,
}

impl EngineUrl {
    /// `explicit` (`--engine-url` or `QTOOL_ENGINE_URL`: `wss://`, `https://`, with a proxy
    /// prefix or not) wins; else the context's server with `wss://` (virtual proxy), or its host
    /// on port 4747 for certificate contexts.
    pub(crate) fn resolve(target: &Target, explicit: Option<&str>) -> Result<EngineUrl> {
        let via_proxy = !matches!(target.auth, Auth::Cert { .. });
        let mut base = match explicit {
            Some(text) => Url::parse(text.trim()).map_err(|e| {
                Error::usage(format!("`{text}` is not a valid engine URL ({e})")).with_hint(
                    "use wss://host:4747 (engine port) or wss://host/prefix (virtual proxy)",
                )
            })?,
            None => {
                let mut url = target.server.clone();
                if !via_proxy {
                    url.set_path("/");
                    url.set_port(Some(ENGINE_PORT))
                        .map_err(|()| Error::usage("the server URL has no host"))?;
                }
                url
            }
        };
        let scheme = match base.scheme() {
            "https" | "wss" => "wss",
            "http" | "ws" => "ws",
            other => {
                return Err(Error::usage(format!(
                    "the engine URL must be wss:// or https://, not {other}://"
                )));
            }
        };
        if base.host_str().is_none() {
            return Err(Error::usage(format!("the engine URL `{base}` has no host")));
        }
        // Changing between the "special" schemes https and wss is allowed by the URL standard.
        base.set_scheme(scheme)
            .map_err(|()| Error::usage(format!("cannot use `{base}` as an engine URL")))?;
        base.set_query(None);
        base.set_fragment(None);
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(EngineUrl { base, via_proxy })
    }

    /// `…/app/{id}/identity/{identity}[/ttl/{n}]` (an empty id opens a session without app).
    fn app_url(&self, app: &str, identity: &str, ttl: Option<u32>) -> Result<Url> {
        let mut url = self.base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| Error::usage("the engine URL cannot have a path"))?;
            segments.pop_if_empty();
            segments.extend(["app", app, "identity", identity]);
            if let Some(ttl) = ttl {
                segments.extend(["ttl", &ttl.to_string()]);
            }
        }
        Ok(url)
    }

    /// The HTTPS URL of the proxy's `qps/csrftoken`.
    fn csrf_url(&self) -> Result<Url> {
        let mut url = self.base.clone();
        let scheme = if url.scheme() == "wss" {
            "https"
        } else {
            "http"
        };
        url.set_scheme(scheme)
            .map_err(|()| Error::usage(format!("cannot use `{}` over HTTPS", self.base)))?;
        url.join("qps/csrftoken")
            .map_err(|e| Error::usage(format!("bad engine URL: {e}")))
    }

    /// `host:port`, for messages.
    fn host(&self) -> String {
        host_port(&self.base)
    }
}

impl std::fmt::Display for EngineUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.base.as_str().trim_end_matches('/'))
    }
}

/// How to open the socket.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectOptions {
    /// The app id in the path (empty: no app, e.g. for `CreateSessionApp`).
    pub app: String,
    /// `--ttl`: seconds the engine keeps the session after the socket closes.
    pub ttl: Option<u32>,
    /// `-t/--traffic`: frames on stderr.
    pub traffic: bool,
}

/// Open a session: credentials, anti-CSRF token, TLS and the upgrade.
pub(crate) async fn open(
    target: &Target,
    engine: &EngineUrl,
    options: &ConnectOptions,
) -> Result<Session> {
    let mut headers = credential_headers(target)?;
    let identity = format!("qtool-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let mut url = engine.app_url(&options.app, &identity, options.ttl)?;
    let mut attempt = timed_upgrade(target, engine, &url, &headers, options.traffic).await?;
    // A proxy with WebSocket CSRF protection refuses the upgrade with 403: ask for the token
    // of a session and upgrade again inside that session.
    if let Upgrade::Refused { status: 403, .. } = &attempt
        && engine.via_proxy
        && let Some(csrf) = csrf_token(target, engine, &headers).await?
    {
        url.query_pairs_mut().append_pair(CSRF_TOKEN, &csrf.token);
        if let Some(cookie) = csrf.session_cookie {
            add_cookie(&mut headers, &cookie);
        }
        attempt = timed_upgrade(target, engine, &url, &headers, options.traffic).await?;
    }
    let socket = match attempt {
        Upgrade::Open(socket) => *socket,
        Upgrade::Refused { error, .. } => return Err(error),
    };
    if options.traffic {
        traffic::log_line("101 Switching Protocols");
    }
    Ok(Session::start(
        socket,
        format!("the engine at {engine}"),
        target.timeout,
        options.traffic,
    ))
}

/// The outcome of one upgrade request.
enum Upgrade {
    Open(Box<Socket>),
    /// An HTTP answer other than 101, told as `error`.
    Refused {
        status: u16,
        error: Error,
    },
}

async fn timed_upgrade(
    target: &Target,
    engine: &EngineUrl,
    url: &Url,
    headers: &[(String, String)],
    traffic: bool,
) -> Result<Upgrade> {
    let host = engine.host();
    if traffic {
        let shown = url.as_str().split('?').next().unwrap_or_default();
        let csrf = if url.query().is_some() {
            " with the proxy's anti-CSRF token"
        } else {
            ""
        };
        traffic::log_line(&format!(
            "upgrade {shown}{csrf} (user agent {})",
            http::user_agent()
        ));
    }
    tokio::time::timeout(target.timeout, upgrade(target, url, headers, &host))
        .await
        .map_err(|_| {
            Error::network(format!("no answer from {host} in time"))
                .with_hint("check the engine URL and the server, or raise --timeout")
        })?
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

async fn upgrade(
    target: &Target,
    url: &Url,
    headers: &[(String, String)],
    host: &str,
) -> Result<Upgrade> {
    let hostname = url
        .host_str()
        .ok_or_else(|| Error::usage(format!("the engine URL `{url}` has no host")))?;
    let port = url.port_or_known_default().unwrap_or(443);
    if url.scheme() != "wss" {
        return Err(Error::usage(format!(
            "the engine URL `{url}` is not wss://: qtool speaks to the engine over TLS only"
        )));
    }
    let tcp = TcpStream::connect((hostname.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| {
            let err = http::classify_transport(&e, host, true);
            if e.kind() == std::io::ErrorKind::ConnectionRefused {
                Error::network(format!("connection refused by the engine at {host}")).with_hint(
                    "is the engine port right? pass --engine-url wss://host:port (or set QTOOL_ENGINE_URL)",
                )
            } else {
                err
            }
        })?;
    let _ = tcp.set_nodelay(true);
    let config = http::tls::websocket_config(&target.tls)?;
    let server_name =
        rustls::pki_types::ServerName::try_from(hostname.trim_matches(['[', ']']).to_string())
            .map_err(|_| Error::usage(format!("`{hostname}` is not a valid TLS server name")))?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await
        .map_err(|e| http::classify_transport(&e, host, true))?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| Error::usage(format!("cannot build the upgrade request: {e}")))?;
    let request_headers = request.headers_mut();
    let mut all: Vec<(String, String)> = vec![("User-Agent".into(), http::user_agent())];
    all.extend(headers.iter().cloned());
    for (name, value) in all {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::usage(format!("`{name}` is not a valid header name")))?;
        let value = HeaderValue::from_str(&value).map_err(|_| {
            Error::usage(format!(
                "the value of header `{name}` has characters HTTP does not allow"
            ))
        })?;
        request_headers.insert(name, value);
    }
    // One answer is one message: the same bound as an HTTP answer read into memory.
    let max_message = usize::try_from(target.max_response_size).unwrap_or(usize::MAX);
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    match tokio_tungstenite::client_async_with_config(request, tls, Some(config)).await {
        Ok((socket, _)) => Ok(Upgrade::Open(Box::new(socket))),
        Err(tungstenite::Error::Http(response)) => Ok(Upgrade::Refused {
            status: response.status().as_u16(),
            error: refused_upgrade(&response, url, target),
        }),
        Err(tungstenite::Error::Io(e)) => Err(http::classify_transport(&e, host, false)),
        Err(e) => Err(
            Error::network(format!("the WebSocket upgrade with {host} failed: {e}"))
                .with_hint("check that the engine URL points at a Qlik engine or virtual proxy"),
        ),
    }
}

/// The credentials of the target as request headers, then the context's and `--header` extras.
fn credential_headers(target: &Target) -> Result<Vec<(String, String)>> {
    let mut headers: Vec<(String, String)> = Vec::new();
    match &target.auth {
        Auth::None => {}
        Auth::Bearer(token) => headers.push(("Authorization".into(), format!("Bearer {token}"))),
        Auth::JwtSign { recipe, passphrase } => {
            let token = crate::jwt::mint_from_recipe(recipe, passphrase.as_deref())?;
            headers.push(("Authorization".into(), format!("Bearer {token}")));
        }
        Auth::Cert { user } => {
            if let Some(user) = user {
                headers.push((
                    "X-Qlik-User".into(),
                    crate::qrs::client::qlik_user_header(user)?,
                ));
            }
        }
        Auth::Cookie(cookie) => headers.push(("Cookie".into(), cookie.clone())),
        Auth::Ntlm { .. } => {
            // Callers open Windows contexts with the proxy session of their NTLM login.
            return Err(Error::config(format!(
                "{} uses Windows authentication, which a WebSocket cannot perform itself",
                target.label()
            ))
            .with_hint(
                "open the app with `qtool app`, which logs in through the repository first",
            ));
        }
        Auth::Password { .. } | Auth::ApiToken(_) => {
            return Err(Error::config(format!(
                "{} uses a QEM login method, which the Qlik Sense engine does not accept",
                target.label()
            ))
            .with_hint("pick a QSEoW context with --context"));
        }
    }
    for (name, value) in &target.headers {
        headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        headers.push((name.clone(), value.clone()));
    }
    Ok(headers)
}

fn add_cookie(headers: &mut Vec<(String, String)>, cookie: &str) {
    let name = cookie.split('=').next().unwrap_or_default();
    match headers
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case("cookie"))
    {
        Some((_, existing)) => {
            let kept: Vec<&str> = existing
                .split(';')
                .map(str::trim)
                .filter(|c| c.split('=').next() != Some(name))
                .collect();
            let mut all = kept.join("; ");
            if !all.is_empty() {
                all.push_str("; ");
            }
            all.push_str(cookie);
            *existing = all;
        }
        None => headers.push(("Cookie".into(), cookie.to_string())),
    }
}

struct CsrfToken {
    token: String,
    session_cookie: Option<String>,
}

/// The proxy's anti-CSRF token (and the session cookie it belongs to); `None` when the proxy
/// has no such endpoint. A login page or 401/403 here is the authentication error the upgrade
/// would have given, told with the proxy's own words.
async fn csrf_token(
    target: &Target,
    engine: &EngineUrl,
    headers: &[(String, String)],
) -> Result<Option<CsrfToken>> {
    let url = engine.csrf_url()?;
    let client = http::build_client(&http::ClientOptions {
        tls: target.tls.clone(),
        timeout: target.timeout,
        http1_only: true,
    })?;
    let response = http::send(&reqwest::Method::GET, &url, target.retries, || {
        let mut builder = client.get(url.clone());
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder
    })
    .await?;
    let status = response.status();
    if status.is_redirection() || (status.is_success() && http::is_html(&response)) {
        return Err(login_page(&engine.to_string(), target));
    }
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        let body = response.text().await.unwrap_or_default();
        return Err(Error::auth(format!(
            "the virtual proxy refused {} with HTTP {}{}",
            target.label(),
            status.as_u16(),
            excerpt(&body)
        ))
        .with_hint(auth_hint(target)));
    }
    if !status.is_success() {
        tracing::debug!("no anti-CSRF token from {url}: HTTP {status}");
        return Ok(None);
    }
    let session_cookie = http::qlik_session_cookie(&response).map(str::to_string);
    let token = response
        .headers()
        .get(CSRF_TOKEN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok(token.map(|token| CsrfToken {
        token,
        session_cookie,
    }))
}

/// A non-101 answer to the upgrade, as one line.
fn refused_upgrade(
    response: &tungstenite::http::Response<Option<Vec<u8>>>,
    url: &Url,
    target: &Target,
) -> Error {
    let status = response.status();
    let body = response
        .body()
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let html = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/html"))
        || body.trim_start().starts_with('<');
    let where_ = url.as_str().split('?').next().unwrap_or_default();
    if status.is_redirection() || (status.is_success() && html) {
        return login_page(where_, target);
    }
    match status.as_u16() {
        401 | 403 => Error::auth(format!(
            "the engine upgrade at {where_} was refused with HTTP {}{}",
            status.as_u16(),
            if html { String::new() } else { excerpt(&body) }
        ))
        .with_hint(auth_hint(target)),
        404 => Error::not_found(format!("no engine at {where_} (HTTP 404)")).with_hint(
            "check the virtual proxy prefix of the context's server, or pass --engine-url wss://host:4747",
        ),
        code => Error::new(
            http::class_for_status(reqwest::StatusCode::from_u16(code).unwrap_or(reqwest::StatusCode::BAD_GATEWAY)),
            format!(
                "the engine upgrade at {where_} was answered with HTTP {code} instead of a WebSocket{}",
                if html { String::new() } else { excerpt(&body) }
            ),
        )
        .with_hint("check that the URL points at a Qlik engine or virtual proxy"),
    }
}

fn login_page(where_: &str, target: &Target) -> Error {
    Error::auth(format!(
        "the proxy answered the engine connection at {where_} with a login page: {} is not authenticated",
        target.label()
    ))
    .with_hint(auth_hint(target))
}

fn auth_hint(target: &Target) -> &'static str {
    match target.auth {
        Auth::Bearer(_) => {
            "the token may be expired, signed with another key or for another audience: sign a new one and run `qtool context update NAME --api-key-stdin`"
        }
        Auth::JwtSign { .. } => {
            "check that the context's JWT key, audience and user claims match the virtual proxy (`qtool context get`)"
        }
        Auth::Cookie(_) => "the session has expired: run `qtool context login`",
        Auth::Cert { .. } => {
            "use the client certificate exported from this site's QMC and an existing X-Qlik-User (context --user DIR\\id)"
        }
        _ => {
            "configure authentication: `qtool context update NAME --api-key-stdin` (JWT bearer), --jwt-key (signed per run), --client-cert, or `qtool context login`"
        }
    }
}

fn excerpt(body: &str) -> String {
    let text = http::body_excerpt(body);
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

fn host_port(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::model::ServerType;
    use crate::http::TlsOptions;
    use std::time::Duration;

    fn target(server: &str, auth: Auth) -> Target {
        Target {
            context: Some("t".into()),
            server: Url::parse(server).unwrap(),
            server_type: ServerType::Windows,
            auth,
            tls: TlsOptions::default(),
            headers: vec![],
            timeout: Duration::from_secs(5),
            retries: 0,
            max_response_size: crate::settings::DEFAULT_MAX_RESPONSE_SIZE,
        }
    }

    #[test]
    fn engine_urls_follow_the_proxy_or_the_engine_port() {
        let proxy =
            EngineUrl::resolve(&target("https://h/jwt", Auth::Bearer("t".into())), None).unwrap();
        assert_eq!(proxy.to_string(), "wss://h/jwt");
        assert!(proxy.via_proxy);
        assert_eq!(
            proxy
                .app_url("a b/c", "qtool-1", Some(30))
                .unwrap()
                .as_str(),
            "wss://h/jwt/app/a%20b%2Fc/identity/qtool-1/ttl/30"
        );
        assert_eq!(
            proxy.csrf_url().unwrap().as_str(),
            "https://h/jwt/qps/csrftoken"
        );
        let cert =
            EngineUrl::resolve(&target("https://h:4242", Auth::Cert { user: None }), None).unwrap();
        assert_eq!(cert.to_string(), "wss://h:4747");
        assert!(!cert.via_proxy);
        let explicit = EngineUrl::resolve(
            &target("https://h:4242", Auth::Cert { user: None }),
            Some("https://e:9000/"),
        )
        .unwrap();
        assert_eq!(
            explicit.app_url("x", "i", None).unwrap().as_str(),
            "wss://e:9000/app/x/identity/i"
        );
        assert!(EngineUrl::resolve(&target("https://h", Auth::None), Some("ftp://x")).is_err());
    }

    #[test]
    fn session_cookies_replace_their_namesake() {
        let mut headers = vec![("Cookie".to_string(), "a=1; X-Qlik-Session=old".to_string())];
        add_cookie(&mut headers, "X-Qlik-Session=new");
        assert_eq!(headers[0].1, "a=1; X-Qlik-Session=new");
        let mut none = vec![];
        add_cookie(&mut none, "X-Qlik-Session-jwt=s");
        assert_eq!(
            none,
            vec![("Cookie".to_string(), "X-Qlik-Session-jwt=s".to_string())]
        );
    }
}

//! Shared HTTP transport for the QRS and QEM clients: one reqwest client per run (rustls on
//! aws-lc-rs), TLS options with readable failure messages ([`tls`]), retries with backoff for
//! requests that are safe to repeat, and request logging with secrets redacted.

pub(crate) mod client_cert;
pub(crate) mod ntlm;
pub(crate) mod tls;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};

use crate::context::model::ClientCert;
use crate::error::{Error, Result};
use crate::logging::header_for_log;

/// How to trust the server and who we are at the TLS layer.
#[derive(Clone, Default)]
pub struct TlsOptions {
    pub insecure: bool,
    pub ca_cert: Option<PathBuf>,
    pub client_cert: Option<ClientCert>,
    /// Opens a PKCS#12 (`.pfx`) client certificate.
    pub cert_password: Option<String>,
}

impl std::fmt::Debug for TlsOptions {
    // Never print the certificate password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("insecure", &self.insecure)
            .field("ca_cert", &self.ca_cert)
            .field("client_cert", &self.client_cert)
            .field(
                "cert_password",
                &self.cert_password.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub tls: TlsOptions,
    pub timeout: Duration,
    /// QEM advertises HTTP/2 that it does not serve: force HTTP/1.1 there.
    pub http1_only: bool,
}

static INSECURE_WARNED: AtomicBool = AtomicBool::new(false);
static CLEARTEXT_WARNED: AtomicBool = AtomicBool::new(false);

/// Warn (once per run, as `--insecure` does) that `credentials` will cross the network in clear
/// text: an `http://` URL to a host other than this machine. Loopback never leaves the machine.
pub fn warn_cleartext_credentials(server: &reqwest::Url, credentials: &str) {
    if sends_in_clear_text(server) && !CLEARTEXT_WARNED.swap(true, Ordering::Relaxed) {
        crate::output::warn(&format!(
            "{credentials} will be sent in clear text to {} (http://): anyone on the network can read it; use https://",
            server.host_str().unwrap_or("the server")
        ));
    }
}

/// An `http://` URL to a host that is not loopback.
fn sends_in_clear_text(server: &reqwest::Url) -> bool {
    if server.scheme() != "http" {
        return false;
    }
    let Some(host) = server.host_str() else {
        return true;
    };
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        Ok(ip) => !ip.is_loopback(),
        Err(_) => {
            let name = host.trim_end_matches('.').to_ascii_lowercase();
            name != "localhost" && !name.ends_with(".localhost")
        }
    }
}

/// The longest URL the HTTP stack can send (the `http` crate's limit); servers accept far less.
const MAX_URL_LENGTH: usize = 65_534;

/// Refuse a URL too long to send, naming its length (instead of a transport error later).
pub fn check_url_length(url: &reqwest::Url) -> Result<()> {
    let length = url.as_str().len();
    if length > MAX_URL_LENGTH {
        return Err(Error::usage(format!(
            "the request URL would be {length} characters long; HTTP allows at most {MAX_URL_LENGTH} (servers often far less)"
        ))
        .with_hint("shorten the path or query (a long --filter can often be split into several requests)"));
    }
    Ok(())
}

/// qtool's User-Agent. It never contains "Windows", even on Windows: QSEoW's proxy sends user
/// agents that contain its Windows authentication pattern (`Windows` by default) to Windows
/// authentication instead of the forms login; NTLM logins use [`ntlm::user_agent`].
pub fn user_agent() -> String {
    let os = match std::env::consts::OS {
        "windows" => "win",
        os => os,
    };
    format!("qtool/{} ({os})", env!("CARGO_PKG_VERSION"))
}

/// Say once per run that `--insecure` is on.
pub(crate) fn warn_insecure() {
    if !INSECURE_WARNED.swap(true, Ordering::Relaxed) {
        crate::output::warn("TLS certificate verification is disabled (--insecure)");
    }
}

/// Build the run's client. Redirects are never followed: a redirect from a Qlik proxy means
/// "go to the login page", which callers report as an authentication problem.
pub fn build_client(options: &ClientOptions) -> Result<Client> {
    client_builder(options)?.build().map_err(|e| {
        Error::tls(format!(
            "cannot set up the HTTPS client: {}",
            root_cause(&e)
        ))
    })
}

/// The run's client configuration ([`build_client`]), for a client that needs more settings.
pub fn client_builder(options: &ClientOptions) -> Result<reqwest::ClientBuilder> {
    let mut builder = Client::builder()
        .user_agent(user_agent())
        .timeout(options.timeout)
        .connect_timeout(options.timeout.min(Duration::from_secs(15)))
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_rustls();
    if options.http1_only {
        builder = builder.http1_only();
    }
    let tls = &options.tls;
    if tls.insecure {
        warn_insecure();
        builder = builder
            .tls_danger_accept_invalid_certs(true)
            .tls_danger_accept_invalid_hostnames(true);
        if let Some(cc) = &tls.client_cert {
            builder = builder.identity(load_identity(cc, tls.cert_password.as_deref())?);
        }
    } else if let Some(config) = tls::client_config(tls, options.http1_only)? {
        // Our own verifier (`--ca-cert` chain or pinned certificate, else the system's trust
        // store; trust told before dates), client certificate in it.
        builder = builder.tls_backend_preconfigured(config);
    }
    Ok(builder)
}

/// A client certificate for reqwest's own TLS configuration (no `--ca-cert`).
fn load_identity(cc: &ClientCert, password: Option<&str>) -> Result<reqwest::Identity> {
    // Same checks and messages as with `--ca-cert`; reqwest wants the PEM text of both.
    let identity = client_cert::load(cc, password)?;
    reqwest::Identity::from_pem(client_cert::to_pem(&identity).as_bytes()).map_err(|e| {
        Error::input(format!(
            "cannot use client certificate {}: {}",
            cc.cert.display(),
            root_cause(&e)
        ))
        .with_hint("the key must be the private key of that certificate")
    })
}

/// Whether a request may be sent twice without changing the outcome.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

/// Send a request, retrying with exponential backoff when that is safe:
/// refused connections always (nothing reached the server), 502/503/504 and dropped
/// connections only for idempotent methods. `make` builds a fresh request for each attempt.
pub async fn send(
    method: &Method,
    url: &reqwest::Url,
    retries: u32,
    make: impl Fn() -> RequestBuilder,
) -> Result<Response> {
    let idempotent = is_idempotent(method);
    let mut attempt = 0u32;
    loop {
        let (client, request) = make().build_split();
        let request =
            request.map_err(|e| Error::usage(format!("invalid request: {}", root_cause(&e))))?;
        log_request(&request);
        let started = Instant::now();
        let outcome = client.execute(request).await;
        let retryable = match &outcome {
            Ok(resp) => {
                tracing::debug!(
                    "<- {} {} ({} ms)",
                    resp.status().as_u16(),
                    url_for_log(url),
                    started.elapsed().as_millis()
                );
                idempotent
                    && matches!(
                        resp.status(),
                        StatusCode::BAD_GATEWAY
                            | StatusCode::SERVICE_UNAVAILABLE
                            | StatusCode::GATEWAY_TIMEOUT
                    )
            }
            Err(e) => {
                tracing::debug!("<- error {} ({})", url_for_log(url), root_cause(e));
                // A TLS failure does not go away by asking again.
                find_rustls_error(e).is_none()
                    && (is_refused(e)
                        || (idempotent && (e.is_connect() || e.is_request() || e.is_body())))
            }
        };
        if retryable && attempt < retries {
            let delay = Duration::from_millis(200 * (1u64 << attempt.min(4)));
            tracing::info!(
                "retrying {} {} in {} ms (attempt {})",
                method,
                url_for_log(url),
                delay.as_millis(),
                attempt + 2
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
            continue;
        }
        return outcome.map_err(|e| classify(&e, url));
    }
}

fn log_request(request: &reqwest::Request) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    tracing::debug!("-> {} {}", request.method(), url_for_log(request.url()));
    for (name, value) in request.headers() {
        let value = value.to_str().unwrap_or("<binary>");
        tracing::debug!("   {}: {}", name, header_for_log(name.as_str(), value));
    }
}

/// URLs carry no credentials in this tool (they are in headers), but strip userinfo anyway.
pub fn url_for_log(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

fn is_refused(e: &reqwest::Error) -> bool {
    find_io_kind(e) == Some(std::io::ErrorKind::ConnectionRefused)
}

fn find_io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        current = err.source();
    }
    None
}

fn find_rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Some(tls);
            }
            // io::Error::source() skips the wrapped error itself (hyper wraps the TLS
            // connector's io::Error in another io::Error): descend into it.
            current = Some(inner);
            continue;
        }
        current = err.source();
    }
    None
}

/// The innermost message of an error chain (reqwest's own Display is often just "error sending request").
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Turn a transport failure into one line naming the cause and the fix.
pub fn classify(e: &reqwest::Error, url: &reqwest::Url) -> Error {
    let host = match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => url.to_string(),
    };
    if e.is_timeout() && find_rustls_error(e).is_none() {
        return Error::network(format!("no answer from {host} in time"))
            .with_hint("check the server, or raise --timeout");
    }
    if e.is_builder() {
        // Nothing was sent: the request itself cannot be made (an invalid URL or header).
        return Error::usage(format!(
            "cannot make a request to {host}: {}",
            root_cause(e)
        ))
        .with_hint("check the path, query and --header values");
    }
    classify_transport(e, &host, e.is_connect())
}

/// [`classify`] for any transport error chain (the engine's WebSockets have no reqwest error):
/// TLS failures, refused and reset connections, DNS failures.
/// `connecting`: the failure happened before anything was sent.
pub(crate) fn classify_transport(
    e: &(dyn std::error::Error + 'static),
    host: &str,
    connecting: bool,
) -> Error {
    if let Some(tls) = find_rustls_error(e) {
        return tls::describe(tls, host);
    }
    if let Some(alert) = tls::describe_alert_text(&root_cause(e), host) {
        return alert;
    }
    match find_io_kind(e) {
        Some(std::io::ErrorKind::ConnectionRefused) => {
            return Error::network(format!("connection refused by {host}"))
                .with_hint("is the server running, and are the host and port of --server right?");
        }
        Some(
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::BrokenPipe,
        ) => {
            return Error::network(format!("{host} closed the connection")).with_hint(
                "retry; if it persists, check that the URL scheme (https) and port are right",
            );
        }
        Some(std::io::ErrorKind::TimedOut) => {
            return Error::network(format!("no answer from {host} in time"))
                .with_hint("check the server, or raise --timeout");
        }
        _ => {}
    }
    let cause = root_cause(e);
    if cause.contains("dns error")
        || cause.contains("failed to lookup")
        || cause.contains("Name or service not known")
    {
        return Error::network(format!("cannot resolve host of {host}"))
            .with_hint("check the host name in --server");
    }
    if connecting {
        return Error::network(format!("cannot connect to {host}: {cause}"));
    }
    Error::network(format!("request to {host} failed: {cause}"))
}

/// Map an HTTP error status to an error class; the caller provides the message.
pub fn class_for_status(status: StatusCode) -> crate::error::ErrorClass {
    use crate::error::ErrorClass;
    match status.as_u16() {
        401 | 403 => ErrorClass::Auth,
        404 | 410 => ErrorClass::NotFound,
        409 | 412 => ErrorClass::Conflict,
        400 | 405 | 406 | 413 | 415 | 422 => ErrorClass::Usage,
        _ if status.is_server_error() => ErrorClass::Server,
        _ => ErrorClass::Server,
    }
}

/// Read a whole answer into memory, at most `limit` bytes (`--max-response-size`): a longer
/// (or endless) answer is a server error (exit 10) naming the limit, before it fills memory.
/// `what` names the request ("GET /jwt/qrs/app").
pub async fn read_body(mut resp: Response, limit: u64, what: &str) -> Result<bytes::Bytes> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(too_large(limit, what));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        Error::network(format!("reading the answer to {what}: {}", root_cause(&e)))
            .with_hint("run the command again")
    })? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large(limit, what));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub(crate) fn too_large(limit: u64, what: &str) -> Error {
    Error::server(format!(
        "the answer to {what} is larger than {}, the limit for answers read into memory",
        qtool_common::bytes::format(limit)
    ))
    .with_hint(RAISE_RESPONSE_LIMIT)
}

/// The hint of an answer over `--max-response-size`.
pub(crate) const RAISE_RESPONSE_LIMIT: &str = "if the server is right to send that much, raise the limit with --max-response-size (or QTOOL_MAX_RESPONSE_SIZE, or the context's max-response-size)";

/// How much of an error answer is read: enough for any error document, and bounded.
const ERROR_BODY_LIMIT: usize = 64 << 10;

/// The start of an error answer (at most 64 KiB, as text), for its message; the rest is not
/// read. A failure while reading gives what arrived.
pub async fn read_error_body(mut resp: Response) -> String {
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_LIMIT {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = ERROR_BODY_LIMIT - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// A response body excerpt for error messages: first line, at most 200 characters.
pub fn body_excerpt(body: &str) -> String {
    let trimmed = body.trim();
    let first = trimmed.lines().next().unwrap_or("");
    let mut text: String = first.chars().take(200).collect();
    if first.chars().count() > 200 || trimmed.lines().count() > 1 {
        text.push('…');
    }
    text
}

/// The Qlik proxy session cookie (`X-Qlik-Session*=value`, without attributes) a response sets.
pub fn qlik_session_cookie(resp: &Response) -> Option<&str> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::trim)
        .find(|c| c.to_ascii_lowercase().starts_with("x-qlik-session"))
}

/// True when a response is an HTML page (a login form) rather than API data.
pub fn is_html(resp: &Response) -> bool {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/html"))
}

/// A fresh 16-character Xrfkey (letters and digits), as QRS requires in both query and header.
pub fn new_xrfkey() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 16];
    // Fall back to a time-derived key only if the system RNG fails (the key is anti-CSRF, not a secret).
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed >> (i * 5)) as u8;
        }
    }
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_beyond_this_machine_is_clear_text() {
        let clear = |u: &str| sends_in_clear_text(&reqwest::Url::parse(u).unwrap());
        assert!(clear("http://qem.example.com/"));
        assert!(clear("http://10.0.0.5:8080/"));
        assert!(!clear("https://qem.example.com/"));
        assert!(!clear("http://127.0.0.1:9000/"));
        assert!(!clear("http://[::1]/"));
        assert!(!clear("http://localhost/"));
        assert!(!clear("http://api.localhost./"));
    }

    #[test]
    fn urls_longer_than_http_allows_are_usage_errors() {
        let long = format!("https://h/qrs/{}", "a".repeat(100_000));
        let err = check_url_length(&reqwest::Url::parse(&long).unwrap()).unwrap_err();
        assert_eq!(err.class(), crate::error::ErrorClass::Usage);
        assert!(err.message().contains("100014 characters"), "{err}");
        assert!(check_url_length(&reqwest::Url::parse("https://h/qrs/about").unwrap()).is_ok());
    }
}

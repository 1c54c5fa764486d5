//! Windows authentication over HTTP: NTLM, under the `NTLM` scheme or inside `Negotiate`,
//! ending in the proxy's session cookie (Kerberos is not supported: there is no KDC to test it
//! against, and a server offering Negotiate without NTLM is reported as such).
//!
//! The login is one GET followed by hand, as QSEoW's proxy answers it: a `302` to the proxy's
//! authentication module (port 4244), `401 WWW-Authenticate: NTLM` there, the NEGOTIATE →
//! CHALLENGE → AUTHENTICATE exchange, then a `302` back to the proxy with a ticket, where the
//! session cookie is set. NTLM authenticates a *connection*, so the exchange runs on a client of
//! its own: HTTP/1.1, keep-alive, one pooled connection, each body read before the next request.
//! reqwest cannot pin a request to a connection, so the client counts the connections it opens:
//! a new one between CHALLENGE and AUTHENTICATE means the server or something in between
//! dropped the first, which is reported as such rather than as a wrong password.

mod initiator;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, LOCATION, SET_COOKIE, WWW_AUTHENTICATE};
use reqwest::{Client, Method, Response, StatusCode, Url};

use super::{ClientOptions, is_html};
use crate::error::{Error, Result};
use initiator::{Initiator, message_type};

/// Requests one login may take (redirects and handshake steps together).
const MAX_STEPS: usize = 12;
/// Where QSEoW's forms login lives; a redirect there means the User-Agent did not select
/// Windows authentication.
const FORMS_LOGIN_PATH: &str = "internal_forms_authentication";

/// Who logs in.
#[derive(Clone)]
pub(crate) struct Credentials {
    /// `DOMAIN\user`
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.user)
    }
}

/// The User-Agent of Windows logins. QSEoW's proxy chooses Windows authentication when the
/// User-Agent contains the virtual proxy's "Windows authentication pattern", `Windows` unless
/// an admin changed it (then give a matching one with `--header User-Agent=...`).
pub(crate) fn user_agent() -> String {
    format!("{} Windows", super::user_agent())
}

/// The HTTP authentication schemes that carry NTLM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Ntlm,
    /// NTLM messages inside `Negotiate`, as Windows accepts them.
    Negotiate,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Ntlm => "NTLM",
            Scheme::Negotiate => "Negotiate",
        }
    }
}

/// Where the exchange is.
enum Stage {
    /// No Windows authentication asked for yet.
    Anonymous,
    /// NEGOTIATE sent (the NTLM context is large: boxed).
    Negotiating {
        scheme: Scheme,
        initiator: Box<Initiator>,
    },
    /// AUTHENTICATE sent; `connections` is how many the client had opened when it was.
    Authenticating { scheme: Scheme, connections: usize },
    /// The server accepted the AUTHENTICATE: only redirects back to the proxy may follow.
    Accepted,
}

/// Log in with Windows authentication by GETting `start` (a URL of the proxy; its query
/// carries the Xrfkey, which every hop back to the proxy keeps) with `headers`; the proxy's
/// session cookie, `name=value`. Each GET is repeated up to `retries` times on 502/503/504 and
/// dropped connections (it starts or restarts a step, never completes one twice).
pub(crate) async fn login(
    options: &ClientOptions,
    start: &Url,
    headers: &HeaderMap,
    credentials: &Credentials,
    retries: u32,
) -> Result<String> {
    let connections = Arc::new(AtomicUsize::new(0));
    let client = handshake_client(options, connections.clone())?;
    let mut exchange = Exchange {
        client,
        start: start.clone(),
        headers: headers.clone(),
        credentials,
        connections,
        cookies: Vec::new(),
        retries,
    };
    exchange.run().await
}

/// The handshake's own client: HTTP/1.1 only, one idle connection kept, the server certificate
/// on every response (for the channel binding), redirects followed by hand, and a count of the
/// connections it opens.
fn handshake_client(options: &ClientOptions, connections: Arc<AtomicUsize>) -> Result<Client> {
    let options = ClientOptions {
        http1_only: true,
        ..options.clone()
    };
    super::client_builder(&options)?
        .user_agent(user_agent())
        .pool_max_idle_per_host(1)
        .tls_info(true)
        .connector_layer(tower::layer::layer_fn(move |inner| CountConnections {
            inner,
            count: connections.clone(),
        }))
        .build()
        .map_err(|e| {
            Error::tls(format!(
                "cannot set up the HTTPS client: {}",
                super::root_cause(&e)
            ))
        })
}

/// A connector that counts the connections it makes.
#[derive(Clone)]
struct CountConnections<S> {
    inner: S,
    count: Arc<AtomicUsize>,
}

impl<S: tower::Service<R>, R> tower::Service<R> for CountConnections<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> S::Future {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inner.call(request)
    }
}

struct Exchange<'a> {
    client: Client,
    start: Url,
    headers: HeaderMap,
    credentials: &'a Credentials,
    connections: Arc<AtomicUsize>,
    /// Cookies set along the way (`name=value`), sent back on every hop, as a browser would.
    cookies: Vec<String>,
    retries: u32,
}

impl Exchange<'_> {
    async fn run(&mut self) -> Result<String> {
        let mut url = self.start.clone();
        let mut authorization: Option<String> = None;
        let mut stage = Stage::Anonymous;
        for _ in 0..MAX_STEPS {
            let resp = self.get(&url, authorization.take()).await?;
            self.keep_cookies(&resp);
            let status = resp.status();
            if status.is_redirection() {
                url = self.follow(&url, &resp)?;
                drain(resp).await;
                if let Stage::Authenticating { .. } = stage {
                    stage = Stage::Accepted;
                }
                continue;
            }
            if status == StatusCode::UNAUTHORIZED {
                let (next_stage, next_authorization) =
                    self.answer_challenge(stage, &url, resp).await?;
                stage = next_stage;
                authorization = Some(next_authorization);
                continue;
            }
            if status.is_success() {
                return self.finish(&url, &stage, resp).await;
            }
            return Err(unexpected_status(&url, status, resp).await);
        }
        Err(loops(
            &self.start,
            "it keeps redirecting (the session cookie is not taken, or the redirects circle)",
        ))
    }

    async fn get(&self, url: &Url, authorization: Option<String>) -> Result<Response> {
        let cookies = self.cookies.join("; ");
        super::send(&Method::GET, url, self.retries, || {
            let mut b = self.client.get(url.clone()).headers(self.headers.clone());
            if let Some(a) = &authorization {
                b = b.header(AUTHORIZATION, a.as_str());
            }
            if !cookies.is_empty() {
                b = b.header(COOKIE, cookies.as_str());
            }
            b
        })
        .await
    }

    fn keep_cookies(&mut self, resp: &Response) {
        for value in resp.headers().get_all(SET_COOKIE) {
            let Some(pair) = value.to_str().ok().and_then(|v| v.split(';').next()) else {
                continue;
            };
            let pair = pair.trim();
            let name = pair.split('=').next().unwrap_or("");
            self.cookies
                .retain(|c| c.split('=').next().unwrap_or("") != name);
            // An expired (cleared) cookie is just removed.
            if pair.len() > name.len() + 1 {
                self.cookies.push(pair.to_string());
            }
        }
    }

    /// The next URL of a redirect: the same host (the proxy's authentication module listens on
    /// another port of it), never a forms login page; hops back to the server keep the Xrfkey.
    fn follow(&self, from: &Url, resp: &Response) -> Result<Url> {
        let host = host_of(from);
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::server(format!("{host} redirected without a Location")))?;
        let mut next = from
            .join(location)
            .map_err(|_| Error::server(format!("{host} redirected to `{location}`")))?;
        if next.path().to_ascii_lowercase().contains(FORMS_LOGIN_PATH) {
            return Err(forms_instead_of_windows(&self.headers));
        }
        if next.host_str() != self.start.host_str() || next.scheme() != self.start.scheme() {
            return Err(Error::auth(format!(
                "{host} sent the Windows login to another site ({})",
                next.origin().ascii_serialization()
            ))
            .with_hint(
                "qtool logs in only with the server it was given; use the address the proxy's authentication module redirects to",
            ));
        }
        if next.origin() == self.start.origin() {
            keep_query(&mut next, &self.start);
        }
        Ok(next)
    }

    /// A 401: start the exchange, answer the challenge, or tell why it failed.
    async fn answer_challenge(
        &self,
        stage: Stage,
        url: &Url,
        resp: Response,
    ) -> Result<(Stage, String)> {
        let host = host_of(url);
        let offers = offers(resp.headers());
        match stage {
            Stage::Anonymous => {
                let scheme = choose_scheme(&offers, &host)?;
                drain(resp).await;
                let mut initiator = Initiator::new(
                    &self.credentials.user,
                    &self.credentials.password,
                    url.host_str().unwrap_or_default(),
                )?;
                let negotiate = initiator.negotiate()?;
                let initiator = Box::new(initiator);
                let authorization = format!("{} {}", scheme.name(), BASE64.encode(negotiate));
                Ok((Stage::Negotiating { scheme, initiator }, authorization))
            }
            Stage::Negotiating {
                scheme,
                mut initiator,
            } => {
                let challenge = offers
                    .iter()
                    .find(|o| o.scheme.eq_ignore_ascii_case(scheme.name()))
                    .and_then(|o| o.token.as_deref())
                    .and_then(|t| BASE64.decode(t).ok())
                    .filter(|t| message_type(t) == Some(2));
                let server_cert = resp
                    .extensions()
                    .get::<reqwest::tls::TlsInfo>()
                    .and_then(|info| info.peer_certificate())
                    .map(<[u8]>::to_vec);
                drain(resp).await;
                let Some(challenge) = challenge else {
                    return Err(match scheme {
                        Scheme::Negotiate => kerberos_only(&host),
                        Scheme::Ntlm => loops(
                            url,
                            "it answered the NTLM NEGOTIATE message without a challenge",
                        ),
                    });
                };
                let authenticate = initiator.authenticate(&challenge, server_cert.as_deref())?;
                tracing::debug!(
                    "NTLM challenge answered{}",
                    if server_cert.is_some() {
                        " with the TLS channel binding"
                    } else {
                        " (no TLS certificate to bind to)"
                    }
                );
                let authorization = format!("{} {}", scheme.name(), BASE64.encode(authenticate));
                let connections = self.connections.load(Ordering::Relaxed);
                Ok((
                    Stage::Authenticating {
                        scheme,
                        connections,
                    },
                    authorization,
                ))
            }
            Stage::Authenticating {
                scheme,
                connections,
            } => {
                let dropped = self.connections.load(Ordering::Relaxed) != connections;
                let new_challenge = offers
                    .iter()
                    .any(|o| o.scheme.eq_ignore_ascii_case(scheme.name()) && o.token.is_some());
                let text = super::read_error_body(resp).await;
                Err(self.refused(url, dropped, new_challenge, &text))
            }
            Stage::Accepted => Err(loops(
                url,
                "it asked for Windows authentication again after accepting the login",
            )),
        }
    }

    /// Why the AUTHENTICATE message was refused.
    fn refused(&self, url: &Url, dropped: bool, new_challenge: bool, body: &str) -> Error {
        let host = host_of(url);
        let user = &self.credentials.user;
        if dropped {
            return Error::network(format!(
                "{host} closed the connection between the NTLM challenge and the response"
            ))
            .with_hint(
                "NTLM needs both on one keep-alive connection: a load balancer or proxy in between must keep the client's connection (connection-based authentication, or sticky connections)",
            );
        }
        let lower = body.to_ascii_lowercase();
        if lower.contains("locked out") || lower.contains("account is locked") {
            return Error::auth(format!(
                "the account {user} is locked out ({host} refused the login)"
            ))
            .with_hint(
                "ask a domain administrator to unlock it, or wait for the lockout to end; qtool does not retry a refused login, so as not to extend the lockout",
            );
        }
        if new_challenge {
            return loops(url, "it answered the NTLM response with another challenge");
        }
        Error::auth(format!(
            "{host} refused the Windows login of {user}: wrong password, unknown user or disabled account"
        ))
        .with_hint(
            "check the user (DOMAIN\\user) and the password: `qtool context update NAME --password-stdin`, or QTOOL_PASSWORD",
        )
    }

    /// A 2xx: the session cookie, if this is where the login ends.
    async fn finish(&self, url: &Url, stage: &Stage, resp: Response) -> Result<String> {
        let html = is_html(&resp);
        drain(resp).await;
        if let Some(cookie) = self
            .cookies
            .iter()
            .find(|c| c.to_ascii_lowercase().starts_with("x-qlik-session"))
        {
            return Ok(cookie.clone());
        }
        let host = host_of(url);
        Err(match stage {
            Stage::Anonymous if html => forms_instead_of_windows(&self.headers),
            Stage::Anonymous => Error::auth(format!(
                "{host} answered without asking for Windows authentication and set no session cookie"
            ))
            .with_hint("give the URL of a QSEoW virtual proxy that uses Windows authentication (the default one has no prefix)"),
            _ => Error::auth(format!(
                "{host} accepted the Windows login but set no X-Qlik-Session cookie"
            ))
            .with_hint("check that the URL is a QSEoW proxy (not the repository port 4242)"),
        })
    }
}

/// One `WWW-Authenticate` offer: a scheme and maybe a token.
#[derive(Debug)]
struct Offer {
    scheme: String,
    token: Option<String>,
}

fn offers(headers: &HeaderMap) -> Vec<Offer> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        // Several challenges may share one header, separated by commas (RFC 9110 §11.6.1).
        .flat_map(|v| v.split(','))
        .filter_map(|challenge| {
            let mut words = challenge.split_whitespace();
            let scheme = words.next()?.to_string();
            let token = words.next().map(str::to_string);
            Some(Offer { scheme, token })
        })
        .collect()
}

/// NTLM when offered, else NTLM inside Negotiate; anything else is not Windows authentication.
fn choose_scheme(offers: &[Offer], host: &str) -> Result<Scheme> {
    let offered = |name: &str| offers.iter().any(|o| o.scheme.eq_ignore_ascii_case(name));
    if offered("NTLM") {
        Ok(Scheme::Ntlm)
    } else if offered("Negotiate") {
        Ok(Scheme::Negotiate)
    } else {
        let names: Vec<&str> = offers.iter().map(|o| o.scheme.as_str()).collect();
        Err(Error::auth(format!(
            "{host} does not offer NTLM (Windows authentication){}",
            if names.is_empty() {
                String::new()
            } else {
                format!("; it offers {}", names.join(", "))
            }
        ))
        .with_hint("use the authentication this server offers: a JWT (--jwt-key ...), a client certificate, or forms (`qtool context login`)"))
    }
}

fn kerberos_only(host: &str) -> Error {
    Error::auth(format!(
        "{host} offers Negotiate without NTLM: it wants Kerberos, which qtool does not support"
    ))
    .with_hint(
        "enable NTLM for the proxy's Windows authentication, or use a JWT or certificate context",
    )
}

fn loops(url: &Url, why: &str) -> Error {
    Error::auth(format!(
        "the Windows login with {} does not end: {why}",
        host_of(url)
    ))
    .with_hint(
        "check the virtual proxy's authentication settings (and any load balancer's session affinity); run with -vv to see the exchange",
    )
}

fn forms_instead_of_windows(headers: &HeaderMap) -> Error {
    let agent = headers
        .get(reqwest::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map_or_else(user_agent, str::to_string);
    Error::auth(format!(
        "the proxy sent qtool to its forms login instead of Windows authentication: the User-Agent `{agent}` does not contain the virtual proxy's Windows authentication pattern"
    ))
    .with_hint(
        "give a User-Agent that contains the pattern: `qtool context update NAME --header 'User-Agent=<pattern> qtool'`",
    )
}

async fn unexpected_status(url: &Url, status: StatusCode, resp: Response) -> Error {
    let html = is_html(&resp);
    let text = super::read_error_body(resp).await;
    let detail = if html || text.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", super::body_excerpt(&text))
    };
    let message = format!(
        "the Windows login at {} failed with HTTP {}{detail}",
        host_of(url),
        status.as_u16(),
    );
    Error::new(super::class_for_status(status), message)
        .with_hint("run with -vv to see the exchange; check the URL of the virtual proxy")
}

/// `host:port` for messages.
fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => url.to_string(),
    }
}

/// Add the start URL's query parameters that `next` lacks (the Xrfkey pair: QRS refuses a
/// request with the header and without the parameter).
fn keep_query(next: &mut Url, start: &Url) {
    let missing: Vec<(String, String)> = start
        .query_pairs()
        .filter(|(k, _)| !next.query_pairs().any(|(n, _)| n.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if !missing.is_empty() {
        next.query_pairs_mut().extend_pairs(missing);
    }
}

/// Read a body to its end so the connection goes back to the pool for the next step; a body
/// over 1 MiB is left unread (the connection is dropped then, which the handshake notices).
async fn drain(mut resp: Response) {
    let mut left: usize = 1 << 20;
    while let Ok(Some(chunk)) = resp.chunk().await {
        if chunk.len() >= left {
            break;
        }
        left -= chunk.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(WWW_AUTHENTICATE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn schemes_are_chosen_ntlm_first() {
        let pick = |v: &[&str]| choose_scheme(&offers(&headers(v)), "h:443");
        assert_eq!(pick(&["Negotiate", "NTLM"]).unwrap(), Scheme::Ntlm);
        assert_eq!(pick(&["Negotiate, NTLM"]).unwrap(), Scheme::Ntlm);
        assert_eq!(pick(&["Negotiate"]).unwrap(), Scheme::Negotiate);
        let none = pick(&["Basic realm=\"x\""]).unwrap_err().to_string();
        assert!(
            none.contains("does not offer NTLM") && none.contains("Basic"),
            "{none}"
        );
        assert!(
            pick(&[])
                .unwrap_err()
                .to_string()
                .contains("does not offer NTLM")
        );
        let o = offers(&headers(&["NTLM TlRMTVNTUAACAAAA"]));
        assert_eq!(o[0].token.as_deref(), Some("TlRMTVNTUAACAAAA"));
    }

    #[test]
    fn hops_back_to_the_server_keep_the_xrfkey() {
        let start = Url::parse("https://h/qrs/about?xrfkey=abc").unwrap();
        let mut next = Url::parse("https://h/qrs/about?qlikTicket=t").unwrap();
        keep_query(&mut next, &start);
        assert_eq!(next.as_str(), "https://h/qrs/about?qlikTicket=t&xrfkey=abc");
        let mut same = Url::parse("https://h/qrs/about?XRFKEY=abc").unwrap();
        keep_query(&mut same, &start);
        assert_eq!(same.as_str(), "https://h/qrs/about?XRFKEY=abc");
    }

    #[test]
    fn the_windows_user_agent_names_windows() {
        assert!(user_agent().contains("Windows"));
        assert!(
            !super::super::user_agent()
                .to_ascii_lowercase()
                .contains("windows")
        );
    }
}

//! The front door: QSEoW's proxy (virtual proxies by prefix, JWT and forms authentication,
//! session cookies) and the certificate port, both handing authenticated requests to the QRS
//! emulator with the caller's [`Identity`] as a request extension.
//!
//! The virtual proxy list is read from the QRS state on every request, so a proxy created
//! later through the QRS `virtualproxyconfig` API works at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tower::ServiceExt;

use super::identity::Identity;
use super::qrs::{ProxyAuth, QrsState, VirtualProxy};
use super::server::plain;

/// A proxy session ends after this much inactivity (QSEoW's default session timeout).
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// A login page's `targetId` is remembered this long.
const TARGET_TTL: Duration = Duration::from_secs(10 * 60);
/// Clock skew tolerated on `exp`: 5 seconds. Small on purpose, so that tests of expired tokens
/// do not have to wait, yet a client whose clock is a little behind still gets in.
pub const JWT_LEEWAY_SECONDS: u64 = 5;
/// Largest forms login body (user name + password).
const MAX_FORM_BODY: usize = 16 * 1024;
/// Upper bound of remembered sessions or login targets (oldest dropped beyond it).
const MAX_ENTRIES: usize = 100_000;

/// The identity the certificate port uses when a request has no `X-Qlik-User`.
pub fn default_cert_identity() -> Identity {
    Identity::new("INTERNAL", "sa_repository")
}

/// A forms user: `DIRECTORY\user` and password.
#[derive(Debug, Clone)]
pub struct FormsUser {
    pub identity: Identity,
    pub password: String,
}

struct Session {
    cookie_name: String,
    identity: Identity,
    last_seen: Instant,
}

pub struct Proxy {
    qrs: Arc<QrsState>,
    qrs_router: Router,
    forms_users: Vec<FormsUser>,
    sessions: Mutex<HashMap<String, Session>>,
    targets: Mutex<HashMap<String, (String, Instant)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the whole proxy down.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Proxy {
    pub fn new(qrs: Arc<QrsState>, qrs_router: Router, forms_users: Vec<FormsUser>) -> Arc<Proxy> {
        Arc::new(Proxy {
            qrs,
            qrs_router,
            forms_users,
            sessions: Mutex::new(HashMap::new()),
            targets: Mutex::new(HashMap::new()),
        })
    }

    /// The axum app of the proxy listener.
    pub fn router(self: &Arc<Proxy>) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
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

    fn session(&self, vp: &VirtualProxy, headers: &HeaderMap) -> Option<Identity> {
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
        Some(session.identity.clone())
    }

    /// Start a session; returns the `Set-Cookie` value.
    fn new_session(&self, vp: &VirtualProxy, identity: Identity) -> String {
        let id = uuid::Uuid::new_v4().to_string();
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
                identity,
                last_seen: now,
            },
        );
        format!(
            "{}={id}; Path=/; HttpOnly; Secure; SameSite=None",
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

    fn check_forms_user(&self, username: &str, password: &str) -> Option<Identity> {
        let (dir, id) = username.split_once('\\')?;
        let user = self.forms_users.iter().find(|u| {
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

    /// Hand an authenticated request to the QRS emulator, without the proxy prefix.
    async fn forward(&self, mut req: Request, rest: &str, identity: Identity) -> Response {
        let path_and_query = match req.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_string(),
        };
        match Uri::builder().path_and_query(path_and_query).build() {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => return plain(StatusCode::BAD_REQUEST, "invalid request path\n"),
        }
        // The proxy decided who this is; a client-sent X-Qlik-User must not override it.
        req.headers_mut().remove(header::AUTHORIZATION);
        req.headers_mut().remove("x-qlik-user");
        req.extensions_mut().insert(identity);
        match self.qrs_router.clone().oneshot(req).await {
            Ok(resp) => resp,
            Err(e) => match e {},
        }
    }
}

/// Paths behind the proxy that reach the repository.
fn is_resource(rest: &str) -> bool {
    rest == "/qrs" || rest.starts_with("/qrs/") || rest.starts_with("/tempcontent/")
}

async fn handle(State(proxy): State<Arc<Proxy>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let Some((vp, rest)) = proxy.route(&path) else {
        return plain(
            StatusCode::NOT_FOUND,
            "no virtual proxy serves this path (the sandbox has /jwt and /form)\n",
        );
    };
    match &vp.auth {
        ProxyAuth::Jwt {
            jwt_certificate,
            jwt_audience,
            userid_attribute,
            userdirectory_attribute,
        } => {
            let (identity, set_cookie) = if let Some(id) = proxy.session(&vp, req.headers()) {
                (id, None)
            } else {
                let Some(token) = bearer(req.headers()) else {
                    return plain(StatusCode::UNAUTHORIZED, "no JWT and no session\n");
                };
                match verify_jwt(
                    &token,
                    jwt_certificate,
                    jwt_audience,
                    userid_attribute,
                    userdirectory_attribute,
                ) {
                    Ok(id) => {
                        let cookie = proxy.new_session(&vp, id.clone());
                        (id, Some(cookie))
                    }
                    Err(reason) => {
                        return plain(StatusCode::UNAUTHORIZED, &format!("{reason}\n"));
                    }
                }
            };
            let mut resp = if is_resource(&rest) {
                proxy.forward(req, &rest, identity).await
            } else {
                plain(
                    StatusCode::NOT_FOUND,
                    "the sandbox proxy serves /qrs and /tempcontent only\n",
                )
            };
            if let Some(cookie) = set_cookie
                && let Ok(value) = HeaderValue::from_str(&cookie)
            {
                resp.headers_mut().append(header::SET_COOKIE, value);
            }
            resp
        }
        ProxyAuth::Forms => {
            if rest == "/form" || rest.starts_with("/form/") {
                return forms_page(&proxy, &vp, req).await;
            }
            if let Some(identity) = proxy.session(&vp, req.headers()) {
                return if is_resource(&rest) {
                    proxy.forward(req, &rest, identity).await
                } else {
                    plain(
                        StatusCode::NOT_FOUND,
                        "the sandbox proxy serves /qrs and /tempcontent only\n",
                    )
                };
            }
            let target = req
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_string())
                .unwrap_or_else(|| path.clone());
            let target_id = proxy.remember_target(target);
            redirect(
                &format!("{}form/?targetId={target_id}", prefix_path(&vp)),
                None,
            )
        }
    }
}

/// `/prefix/` (or `/` for the default proxy).
fn prefix_path(vp: &VirtualProxy) -> String {
    if vp.prefix.is_empty() {
        "/".to_string()
    } else {
        format!("/{}/", vp.prefix)
    }
}

fn redirect(location: &str, set_cookie: Option<&str>) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(c) = set_cookie
        && let Ok(v) = HeaderValue::from_str(c)
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn html(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn login_page(message: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Qlik Sense (qtool sandbox) - Log in</title></head>\n\
         <body><h1>Log in</h1><p>{message}</p>\n\
         <form method=\"post\">\n\
         <label>User name <input name=\"username\" type=\"text\" placeholder=\"DOMAIN\\user\"></label>\n\
         <label>Password <input name=\"pwd\" type=\"password\"></label>\n\
         <button type=\"submit\">Log in</button>\n\
         </form></body></html>\n"
    )
}

async fn forms_page(proxy: &Proxy, vp: &VirtualProxy, req: Request) -> Response {
    let query = req.uri().query().unwrap_or("").to_string();
    let params = parse_urlencoded(&query);
    match *req.method() {
        Method::GET | Method::HEAD => html(
            StatusCode::OK,
            login_page("Enter DOMAIN\\user and password."),
        ),
        Method::POST => {
            let query_key = params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("xrfkey"))
                .map(|(_, v)| v.clone());
            let header_key = req
                .headers()
                .get("x-qlik-xrfkey")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            match (query_key, header_key) {
                (Some(q), Some(h)) if !q.is_empty() && q == h => {}
                _ => {
                    return plain(
                        StatusCode::FORBIDDEN,
                        "XSRF prevention check failed. Possible XSRF discovered.\n",
                    );
                }
            }
            let body = match axum::body::to_bytes(req.into_body(), MAX_FORM_BODY).await {
                Ok(b) => b,
                Err(_) => {
                    return plain(StatusCode::PAYLOAD_TOO_LARGE, "login form too large\n");
                }
            };
            let form = parse_urlencoded(&String::from_utf8_lossy(&body));
            let field = |name: &str| {
                form.iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("")
            };
            match proxy.check_forms_user(field("username"), field("pwd")) {
                Some(identity) => {
                    let target = params
                        .iter()
                        .find(|(k, _)| k == "targetId")
                        .and_then(|(_, id)| proxy.take_target(id))
                        .unwrap_or_else(|| prefix_path(vp));
                    let cookie = proxy.new_session(vp, identity);
                    redirect(&target, Some(&cookie))
                }
                None => html(
                    StatusCode::UNAUTHORIZED,
                    login_page("Invalid user name or password."),
                ),
            }
        }
        _ => plain(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST\n"),
    }
}

/// `application/x-www-form-urlencoded` pairs (`+` is a space).
fn parse_urlencoded(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
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

/// Verify a virtual proxy JWT: RS256/RS384/RS512 signature against the proxy's certificate,
/// `aud` equal to the proxy's audience, `exp` present and not past (with
/// [`JWT_LEEWAY_SECONDS`] of leeway), and the user from the configured claims.
/// The error is the short reason sent back with the 401.
pub fn verify_jwt(
    token: &str,
    certificate_pem: &str,
    audience: &str,
    userid_attribute: &str,
    userdirectory_attribute: &str,
) -> Result<Identity, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| "JWT malformed".to_string())?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
    ) {
        return Err(format!(
            "JWT malformed: algorithm {:?} not accepted (RS256, RS384 or RS512)",
            header.alg
        ));
    }
    let key = decoding_key(certificate_pem).ok_or_else(|| {
        "JWT certificate of the virtual proxy is not an RSA certificate".to_string()
    })?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = JWT_LEEWAY_SECONDS;
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud"]);
    let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
        token,
        &key,
        &validation,
    )
    .map_err(|e| {
        match e.kind() {
            ErrorKind::ExpiredSignature => "JWT expired",
            ErrorKind::InvalidAudience => "JWT audience mismatch",
            ErrorKind::MissingRequiredClaim(c) if c == "aud" => "JWT audience mismatch",
            ErrorKind::MissingRequiredClaim(c) if c == "exp" => "JWT malformed: no exp claim",
            ErrorKind::InvalidSignature => "JWT signature invalid",
            ErrorKind::ImmatureSignature => "JWT not valid yet",
            _ => "JWT malformed",
        }
        .to_string()
    })?;
    let claim = |name: &str| -> Result<String, String> {
        match data.claims.get(name) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(format!("JWT malformed: no `{name}` claim")),
        }
    };
    Ok(Identity::new(
        claim(userdirectory_attribute)?,
        claim(userid_attribute)?,
    ))
}

/// The RSA public key of a PEM certificate, as a JWT decoding key.
fn decoding_key(certificate_pem: &str) -> Option<DecodingKey> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(certificate_pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    let spki = &cert.tbs_certificate.subject_pki;
    // rsaEncryption: the BIT STRING holds the PKCS#1 RSAPublicKey.
    if spki.algorithm.algorithm.to_id_string() != "1.2.840.113549.1.1.1" {
        return None;
    }
    Some(DecodingKey::from_rsa_der(&spki.subject_public_key.data))
}

/// The app of the certificate port: mutual TLS already proved the caller; `X-Qlik-User` says
/// whom to run as (default `INTERNAL\sa_repository`).
pub fn cert_router(qrs_router: Router) -> Router {
    Router::new().fallback(move |mut req: Request| {
        let qrs_router = qrs_router.clone();
        async move {
            let identity = match req.headers().get("x-qlik-user") {
                None => default_cert_identity(),
                Some(value) => match value
                    .to_str()
                    .ok()
                    .and_then(Identity::from_qlik_user_header)
                {
                    Some(id) => id,
                    None => {
                        return plain(
                            StatusCode::BAD_REQUEST,
                            "X-Qlik-User must be `UserDirectory=<dir>; UserId=<id>`\n",
                        );
                    }
                },
            };
            let path = req.uri().path();
            if !(path == "/qrs" || path.starts_with("/qrs/")) {
                return plain(
                    StatusCode::NOT_FOUND,
                    "the certificate port serves /qrs only\n",
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

    /// A stand-in for the QRS router that echoes what the front door handed it.
    fn echo_router() -> Router {
        Router::new().fallback(|req: Request| async move {
            let who = req
                .extensions()
                .get::<Identity>()
                .map(Identity::display_name)
                .unwrap_or_else(|| "nobody".into());
            plain(StatusCode::OK, &format!("{who} {}", req.uri()))
        })
    }

    fn sign(key_pem: &str, claims: serde_json::Value) -> String {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::RS384), &claims, &key).unwrap()
    }

    async fn call(
        app: &Router,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, String, HeaderMap) {
        let mut builder = axum::http::Request::builder().uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let resp = app
            .clone()
            .oneshot(builder.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned(), headers)
    }

    #[tokio::test]
    async fn routes_by_prefix_strips_it_and_passes_the_identity() {
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
                prefix: String::new(),
                description: "default".into(),
                session_cookie_name: "X-Qlik-Session".into(),
                auth: ProxyAuth::Forms,
            },
        ];
        let qrs = QrsState::new(QrsConfig {
            data_dir: dir.path().join("apps"),
            seed_apps: 0,
            seed_tasks: 0,
            virtual_proxies: proxies,
        })
        .unwrap();
        let proxy = Proxy::new(qrs, echo_router(), vec![]);
        let app = proxy.router();
        let exp = jsonwebtoken::get_current_timestamp() + 60;
        let token = sign(
            &pki.jwt_private_key,
            serde_json::json!({"sub": "jo", "dir": "CORP", "aud": "aud-1", "exp": exp}),
        );
        let auth = format!("Bearer {token}");
        let (status, body, headers) = call(
            &app,
            "/custom/qrs/app/full?filter=name%20eq%20%27x%27",
            &[("authorization", &auth)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, "CORP\\jo /qrs/app/full?filter=name%20eq%20%27x%27");
        let cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        assert!(cookie.starts_with("X-Qlik-Session-custom="));

        // Wrong audience for this proxy.
        let other = sign(
            &pki.jwt_private_key,
            serde_json::json!({"sub": "jo", "dir": "CORP", "aud": "qtool-sandbox", "exp": exp}),
        );
        let (status, body, _) = call(
            &app,
            "/custom/qrs/about",
            &[("authorization", &format!("Bearer {other}"))],
        )
        .await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::UNAUTHORIZED, "JWT audience mismatch\n")
        );

        // Anything else belongs to the default (forms) proxy, which sends visitors to its login page.
        let (status, _, headers) = call(&app, "/qrs/about", &[]).await;
        assert_eq!(status, StatusCode::FOUND);
        let location = headers.get(header::LOCATION).unwrap().to_str().unwrap();
        assert!(location.starts_with("/form/?targetId="), "{location}");
    }

    #[test]
    fn jwt_claims_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let pki = crate::pki::Pki::load_or_create(dir.path()).unwrap();
        let exp = jsonwebtoken::get_current_timestamp() + 60;
        let verify = |t: &str| verify_jwt(t, &pki.jwt_cert, "a", "userid", "userdirectory");
        let no_user = sign(
            &pki.jwt_private_key,
            serde_json::json!({"aud": "a", "exp": exp}),
        );
        assert_eq!(
            verify(&no_user).unwrap_err(),
            "JWT malformed: no `userdirectory` claim"
        );
        let no_exp = sign(
            &pki.jwt_private_key,
            serde_json::json!({"aud": "a", "userid": "u", "userdirectory": "D"}),
        );
        assert_eq!(verify(&no_exp).unwrap_err(), "JWT malformed: no exp claim");
        let no_aud = sign(
            &pki.jwt_private_key,
            serde_json::json!({"exp": exp, "userid": "u", "userdirectory": "D"}),
        );
        assert_eq!(verify(&no_aud).unwrap_err(), "JWT audience mismatch");
        // Within the leeway an expired token still passes; beyond it, it does not.
        let just = sign(
            &pki.jwt_private_key,
            serde_json::json!({"aud": "a", "exp": exp - 62, "userid": "u", "userdirectory": "D"}),
        );
        assert_eq!(verify(&just).unwrap().display_name(), "D\\u");
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &serde_json::json!({"aud": "a", "exp": exp}),
            &jsonwebtoken::EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert!(verify(&hs).unwrap_err().contains("not accepted"));
    }

    #[test]
    fn parses_cookies_and_forms() {
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
        let f = parse_urlencoded("username=SANDBOX%5Cadmin&pwd=a+b%26c");
        assert_eq!(f[0], ("username".into(), "SANDBOX\\admin".into()));
        assert_eq!(f[1], ("pwd".into(), "a b&c".into()));
    }

    #[test]
    fn bearer_needs_the_scheme() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer x.y.z"),
        );
        assert_eq!(bearer(&h).as_deref(), Some("x.y.z"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }
}

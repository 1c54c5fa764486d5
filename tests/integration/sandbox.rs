//! `qtool sandbox`'s front door: discovery document, PKI and secret files, the JWT and forms
//! virtual proxies with their session cookies, the certificate port's mutual TLS, latency and
//! fault injection, restarts on the same state dir, and a clean Ctrl-C.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qtool::context::model::ClientCert;
use qtool::http::{ClientOptions, TlsOptions};
use serde_json::json;

use crate::support::{Sandbox, TestEnv, json};

/// A response reduced to what the tests look at.
struct Reply {
    status: u16,
    set_cookie: Vec<String>,
    location: Option<String>,
    content_type: String,
    www_authenticate: Vec<String>,
    csrf_token: Option<String>,
    body: String,
    /// Length of the raw body in bytes.
    len: usize,
}

/// A small HTTPS client (qtool's own transport) on a private runtime.
struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    fn new(sb: &Sandbox, client_cert: bool) -> Http {
        let client_cert = client_cert.then(|| ClientCert {
            cert: PathBuf::from(sb.get("/qseow/client_cert/cert")),
            key: Some(PathBuf::from(sb.get("/qseow/client_cert/key"))),
        });
        let options = ClientOptions {
            tls: TlsOptions {
                insecure: false,
                ca_cert: Some(PathBuf::from(sb.get("/ca_cert"))),
                client_cert,
                cert_password: None,
            },
            timeout: Duration::from_secs(20),
            http1_only: false,
        };
        Http {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            client: qtool::http::build_client(&options).expect("client"),
        }
    }

    /// Like every QRS client: the same Xrfkey in query and header (unless the test sets its own).
    fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Reply, String> {
        let url = if url.contains("xrfkey=") {
            url.to_string()
        } else {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}xrfkey={XRF}")
        };
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("X-Qlik-Xrfkey"))
        {
            all.push(("X-Qlik-Xrfkey", XRF));
        }
        self.send_plain(method, &url, &all, body)
    }

    /// Exactly the request given (a browser's login form post, the proxy's Personal API).
    fn send_plain(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Reply, String> {
        let mut req = self.client.request(method, url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        self.rt.block_on(async move {
            let resp = req.send().await.map_err(|e| format!("{e:?}"))?;
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let all = |name: reqwest::header::HeaderName| -> Vec<String> {
                resp.headers()
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_string))
                    .collect()
            };
            let set_cookie = all(reqwest::header::SET_COOKIE);
            let www_authenticate = all(reqwest::header::WWW_AUTHENTICATE);
            let location = header("location");
            let content_type = header("content-type").unwrap_or_default();
            let csrf_token = header("qlik-csrf-token");
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.map_err(|e| format!("{e:?}"))?;
            let body = String::from_utf8_lossy(&bytes).into_owned();
            Ok(Reply {
                len: bytes.len(),
                status,
                set_cookie,
                location,
                content_type,
                www_authenticate,
                csrf_token,
                body,
            })
        })
    }

    fn get(&self, url: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(reqwest::Method::GET, url, headers, None)
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A token signed with the sandbox's JWT key.
fn token(sb: &Sandbox, claims: serde_json::Value) -> String {
    let pem = std::fs::read(sb.get("/qseow/jwt/private_key")).expect("jwt key");
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).expect("rsa key");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .expect("sign")
}

fn admin_claims(aud: &str, exp: u64) -> serde_json::Value {
    json!({"userid": "admin", "userdirectory": "SANDBOX", "aud": aud, "iat": now(), "exp": exp})
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("file").permissions().mode() & 0o777
}

const XRF: &str = "abcdefghijklmnop";

#[test]
fn discovery_document_names_files_and_secrets_are_private() {
    let sb = Sandbox::start(&[]);
    let doc = &sb.doc;
    assert_eq!(doc["version"], 1);
    assert_eq!(
        PathBuf::from(sb.get("/state_dir")),
        sb.state_dir,
        "state_dir: {doc}"
    );
    let proxy = sb.get("/qseow/proxy_url");
    assert!(proxy.starts_with("https://127.0.0.1:"), "{proxy}");
    assert_eq!(sb.get("/qseow/jwt_url"), format!("{proxy}/jwt"));
    assert_eq!(sb.get("/qseow/forms_url"), format!("{proxy}/form"));
    assert!(sb.get("/qseow/cert_url").starts_with("https://127.0.0.1:"));
    assert!(sb.get("/qem/url").starts_with("https://127.0.0.1:"));
    assert_eq!(sb.get("/qseow/jwt/audience"), "qtool-sandbox");
    assert_eq!(sb.get("/qseow/jwt/userid"), "admin");
    assert_eq!(sb.get("/qseow/jwt/userdirectory"), "SANDBOX");
    assert_eq!(sb.get("/qseow/jwt/session_cookie"), "X-Qlik-Session-jwt");
    assert_eq!(sb.get("/qseow/client_cert/user"), "INTERNAL\\sa_api");
    assert_eq!(sb.get("/qseow/forms/user"), "SANDBOX\\admin");
    assert_eq!(sb.get("/qem/user"), "SANDBOX\\qemadmin");
    let contexts = doc["contexts"].as_array().expect("contexts");
    assert_eq!(contexts.len(), 4);
    assert!(contexts[0].as_str().unwrap().contains("sandbox-jwt"));
    assert!(contexts[1].as_str().unwrap().contains("--client-cert"));
    assert!(contexts[2].as_str().unwrap().contains("--auth ntlm"));
    assert!(contexts[3].as_str().unwrap().contains("--server-type qem"));
    // The Windows domain's users (forms and NTLM) and the authentication module (port 4244).
    assert!(
        sb.get("/qseow/windows_auth/module_url")
            .starts_with("https://127.0.0.1:")
    );
    assert_eq!(sb.get("/qseow/windows_auth/users/0/user"), "SANDBOX\\admin");
    assert_eq!(
        sb.get("/qseow/windows_auth/users/1/user"),
        "SANDBOX\\svc_qtool"
    );
    assert_eq!(sb.get("/qseow/windows_auth/channel_binding"), "accepted");

    let text = doc.to_string();
    let secrets = [
        "/qseow/jwt/private_key",
        "/qseow/jwt/token_file",
        "/qseow/client_cert/key",
        "/qseow/forms/password_file",
        "/qseow/windows_auth/users/1/password_file",
        "/qem/password_file",
        "/qem/api_token_file",
    ];
    for pointer in secrets {
        let path = PathBuf::from(sb.get(pointer));
        let content = std::fs::read_to_string(&path).expect("secret file");
        assert!(!content.trim().is_empty(), "{pointer} is empty");
        if !content.contains("PRIVATE KEY") {
            assert!(!text.contains(content.trim()), "{pointer} leaked: {text}");
        }
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600, "{pointer} ({})", path.display());
    }
    for pointer in [
        "/ca_cert",
        "/qseow/jwt/certificate",
        "/qseow/client_cert/cert",
    ] {
        let path = PathBuf::from(sb.get(pointer));
        assert!(
            std::fs::read_to_string(&path)
                .expect("certificate")
                .contains("BEGIN CERTIFICATE"),
            "{pointer}"
        );
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o644, "{pointer}");
    }
    // The token file holds a working RS256 token for admin/SANDBOX.
    let token = std::fs::read_to_string(sb.get("/qseow/jwt/token_file")).expect("token");
    let header = jsonwebtoken::decode_header(token.trim()).expect("jwt header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
}

#[test]
fn jwt_proxy_authenticates_and_issues_a_session_cookie() {
    let sb = Sandbox::start(&[]);
    let http = Http::new(&sb, false);
    let about = format!("{}/qrs/about", sb.get("/qseow/jwt_url"));
    let bearer = |t: &str| format!("Bearer {t}");

    let admin = std::fs::read_to_string(sb.get("/qseow/jwt/token_file")).expect("token");
    let ok = http.get(&about, &[("Authorization", &bearer(admin.trim()))]);
    // Authenticated: the QRS emulator answered.
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("buildVersion"), "{}", ok.body);
    assert_eq!(ok.set_cookie.len(), 1, "one session cookie");
    let cookie = &ok.set_cookie[0];
    assert!(cookie.starts_with("X-Qlik-Session-jwt="), "{cookie}");
    for attr in ["Path=/", "HttpOnly", "Secure", "SameSite=None"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let pair = cookie.split(';').next().expect("pair").to_string();

    // The cookie alone authenticates, and no new session is started.
    let again = http.get(&about, &[("Cookie", &pair)]);
    assert_ne!(again.status, 401, "{}", again.body);
    assert!(again.set_cookie.is_empty());
    // An unknown session id does not.
    let forged = http.get(&about, &[("Cookie", "X-Qlik-Session-jwt=nope")]);
    assert_eq!(forged.status, 401);

    let cases = [
        (
            token(&sb, admin_claims("qtool-sandbox", now() - 120)),
            "JWT expired",
        ),
        (
            token(&sb, admin_claims("someone-else", now() + 600)),
            "JWT audience mismatch",
        ),
        ("not-a-jwt".to_string(), "JWT malformed"),
        // `nbf` a minute ahead (beyond the proxy's few seconds of leeway).
        (
            token(
                &sb,
                json!({"userid": "admin", "userdirectory": "SANDBOX", "aud": "qtool-sandbox",
                       "iat": now(), "nbf": now() + 60, "exp": now() + 600}),
            ),
            "JWT not valid yet",
        ),
    ];
    for (token, reason) in cases {
        let r = http.get(&about, &[("Authorization", &bearer(&token))]);
        assert_eq!(r.status, 401, "{reason}: {}", r.body);
        assert!(r.body.starts_with(reason), "{reason}: {}", r.body);
        assert!(r.set_cookie.is_empty() && r.location.is_none());
    }
    // Another user's claims under admin's signature.
    let mut parts: Vec<String> = admin.trim().split('.').map(str::to_string).collect();
    let forged = token(
        &sb,
        json!({"userid": "root", "userdirectory": "SANDBOX",
                                    "aud": "qtool-sandbox", "exp": now() + 600}),
    );
    parts[1] = forged.split('.').nth(1).expect("payload").to_string();
    let r = http.get(&about, &[("Authorization", &bearer(&parts.join(".")))]);
    assert_eq!(r.status, 401);
    assert!(r.body.starts_with("JWT signature invalid"), "{}", r.body);

    let none = http.get(&about, &[]);
    assert_eq!(none.status, 401);
    assert!(
        none.body.starts_with("no JWT and no session"),
        "{}",
        none.body
    );
    assert!(none.location.is_none(), "no redirect on the JWT proxy");
}

#[test]
fn certificate_port_requires_the_sandbox_client_certificate() {
    let sb = Sandbox::start(&[]);
    let about = format!("{}/qrs/about", sb.get("/qseow/cert_url"));
    let anonymous = Http::new(&sb, false);
    let refused = anonymous.send(reqwest::Method::GET, &about, &[], None);
    assert!(
        refused.is_err(),
        "a TLS client without a certificate got an answer"
    );

    let with_cert = Http::new(&sb, true);
    let r = with_cert.get(&about, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = with_cert.get(
        &about,
        &[("X-Qlik-User", "UserDirectory=INTERNAL; UserId=sa_api")],
    );
    assert!(
        ![400, 401, 403].contains(&r.status),
        "{} {}",
        r.status,
        r.body
    );
    let bad = with_cert.get(&about, &[("X-Qlik-User", "sa_api")]);
    assert_eq!(bad.status, 400, "{}", bad.body);
}

/// `downloadPath` of an export points at `/tempcontent/...` on the host the export was asked
/// of: on the certificate port it downloads with the client certificate and `X-Qlik-User`.
#[test]
fn certificate_port_serves_export_downloads() {
    let sb = Sandbox::start(&[]);
    let http = Http::new(&sb, true);
    let cert = sb.get("/qseow/cert_url");
    let user = [("X-Qlik-User", "UserDirectory=INTERNAL; UserId=sa_api")];
    let apps = http.get(&format!("{cert}/qrs/app/full"), &user);
    let apps = json(&apps.body);
    let id = apps[0]["id"].as_str().expect("id");
    let size = apps[0]["fileSize"].as_u64().expect("size");
    let export = http
        .send(
            reqwest::Method::POST,
            &format!(
                "{cert}/qrs/App/{id}/export/{}?skipData=true",
                uuid::Uuid::new_v4()
            ),
            &user,
            None,
        )
        .expect("export");
    assert_eq!(export.status, 201, "{}", export.body);
    let path = json(&export.body)["downloadPath"]
        .as_str()
        .expect("downloadPath")
        .to_string();
    assert!(path.starts_with("/tempcontent/"), "{path}");
    let file = http.get(&format!("{cert}{path}"), &user);
    assert_eq!(file.status, 200, "{}", file.body);
    assert_eq!(file.len as u64, size);
    assert!(file.body.starts_with("QTOOL-SANDBOX-QVF 1\n"));
    // Once.
    assert_eq!(http.get(&format!("{cert}{path}"), &user).status, 404);
    // `/ssl/ping` answers there too.
    let ping = http.get(&format!("{cert}/ssl/ping"), &user);
    assert_eq!((ping.status, ping.body.as_str()), (200, "Ping successful"));
}

/// A 403/405/415 decided before the request body is read reaches an HTTP/2 client that is
/// still uploading (curl 7.88 used to exit 92 with "Stream error in the HTTP/2 framing layer").
#[test]
fn http2_early_answers_reach_curl_while_it_uploads() {
    let sb = Sandbox::start(&[]);
    let dir = tempfile::tempdir().expect("dir");
    let upload = dir.path().join("big.qvf");
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut data = Vec::with_capacity(40 * chunk.len());
    for _ in 0..40 {
        data.extend_from_slice(&chunk);
    }
    std::fs::write(&upload, &data).expect("write");
    let token = std::fs::read_to_string(sb.get("/qseow/jwt/token_file")).expect("token");
    let bearer = format!("Authorization: Bearer {}", token.trim());
    let jwt = sb.get("/qseow/jwt_url");
    let cert = sb.get("/qseow/cert_url");
    let key = format!("X-Qlik-Xrfkey: {XRF}");
    let qvf = "Content-Type: application/vnd.qlik.sense.app";
    let cases: [(&str, String, Vec<&str>, &str); 3] = [
        (
            "POST",
            format!("{jwt}/qrs/app/upload?name=x"),
            vec![&bearer, qvf],
            "403",
        ),
        (
            "POST",
            format!("{jwt}/qrs/app/upload?name=x&xrfkey={XRF}"),
            vec![&bearer, &key, "Content-Type: text/plain"],
            "415",
        ),
        (
            "PUT",
            format!("{cert}/qrs/app/upload?name=x&xrfkey={XRF}"),
            vec![&key, qvf],
            "405",
        ),
    ];
    for (method, url, headers, want) in cases {
        let mut curl = std::process::Command::new("curl");
        curl.args([
            "-sS",
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{http_version}",
        ])
        .args(["--cacert", &sb.get("/ca_cert"), "-X", method])
        .arg("--data-binary")
        .arg(format!("@{}", upload.display()));
        if url.starts_with(&cert) {
            curl.args(["--cert", &sb.get("/qseow/client_cert/cert")])
                .args(["--key", &sb.get("/qseow/client_cert/key")]);
        }
        for h in headers {
            curl.args(["-H", h]);
        }
        let out = curl.arg(&url).output().expect("curl must be installed");
        assert!(
            out.status.success(),
            "{method} {url}: curl exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{want} 2"),
            "{method} {url}"
        );
    }
}

#[test]
fn forms_proxy_login_page_and_session() {
    let sb = Sandbox::start(&[]);
    let http = Http::new(&sb, false);
    let proxy = sb.get("/qseow/proxy_url");
    let password = std::fs::read_to_string(sb.get("/qseow/forms/password_file")).expect("password");

    // An unauthenticated API call is sent to the proxy's internal forms module.
    let first = http.get(&format!("{proxy}/form/qrs/about"), &[]);
    assert_eq!(first.status, 302);
    let location = first.location.expect("Location");
    assert!(
        location.starts_with("/form/internal_forms_authentication/?targetId="),
        "{location}"
    );
    let page = http.get(&format!("{proxy}{location}"), &[]);
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.body.contains("name=\"username\"") && page.body.contains("name=\"pwd\""));

    // The form posts back to the same address, as a browser does: no Xrfkey pair.
    let post = |pwd: &str| {
        let body = format!(
            "username={}&pwd={}",
            "SANDBOX%5Cadmin",
            percent_encoding::utf8_percent_encode(pwd, percent_encoding::NON_ALPHANUMERIC)
        );
        http.send_plain(
            reqwest::Method::POST,
            &format!("{proxy}{location}"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(body),
        )
        .expect("post")
    };
    let wrong = post("wrong");
    assert_eq!(wrong.status, 401);
    assert!(wrong.set_cookie.is_empty());
    let ok = post(password.trim());
    assert_eq!(ok.status, 302, "{}", ok.body);
    // Back to the original target, query included.
    let target = format!("/form/qrs/about?xrfkey={XRF}");
    assert_eq!(ok.location.as_deref(), Some(target.as_str()));
    let cookie = ok.set_cookie.first().expect("cookie");
    assert!(cookie.starts_with("X-Qlik-Session-form="), "{cookie}");
    let pair = cookie.split(';').next().expect("pair");
    let api = http.get(&format!("{proxy}/form/qrs/about"), &[("Cookie", pair)]);
    assert_eq!(api.status, 200, "{}", api.body);
}

/// The default virtual proxy (no prefix) sends Windows user agents to its authentication
/// module (another port, as 4244 on a site), which challenges with Negotiate and NTLM; the
/// others get the forms login page.
#[test]
fn default_proxy_challenges_windows_clients() {
    let sb = Sandbox::start(&[]);
    let http = Http::new(&sb, false);
    let proxy = sb.get("/qseow/proxy_url");
    let module = sb.get("/qseow/windows_auth/module_url");
    let windows_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36";
    let r = http.get(
        &format!("{proxy}/qrs/about"),
        &[("User-Agent", windows_agent)],
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.location.clone().expect("Location");
    assert!(
        location.starts_with(&format!("{module}/windows_authentication/?targetId=")),
        "{location}"
    );
    assert!(r.set_cookie.is_empty());
    let r = http.get(&location, &[("User-Agent", windows_agent)]);
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.www_authenticate, ["Negotiate", "NTLM"]);
    assert!(r.set_cookie.is_empty());
    let r = http.get(&format!("{proxy}/hub/"), &[]);
    assert_eq!(r.status, 302);
    assert!(
        r.location
            .as_deref()
            .is_some_and(|l| l.starts_with("/internal_forms_authentication/?targetId=")),
        "{:?}",
        r.location
    );
}

/// `/{prefix}/qps/user` and `/{prefix}/qps/csrftoken` on the JWT proxy, and logging out.
#[test]
fn proxy_personal_api_user_csrf_token_and_logout() {
    let sb = Sandbox::start(&[]);
    let http = Http::new(&sb, false);
    let jwt = sb.get("/qseow/jwt_url");
    let admin = std::fs::read_to_string(sb.get("/qseow/jwt/token_file")).expect("token");
    let bearer = format!("Bearer {}", admin.trim());

    let inactive = http.get(&format!("{jwt}/qps/user"), &[]);
    assert_eq!(inactive.status, 200);
    assert_eq!(json(&inactive.body), json!({"session": "inactive"}));
    let user = http.get(&format!("{jwt}/qps/user"), &[("Authorization", &bearer)]);
    assert_eq!(user.status, 200, "{}", user.body);
    let v = json(&user.body);
    assert_eq!(v["userDirectory"], "SANDBOX");
    assert_eq!(v["userId"], "admin");
    assert_eq!(v["userName"], "Sandbox Admin");
    assert_eq!(v["logoutUri"], json!(format!("{jwt}/qps/user")));
    let pair = user.set_cookie[0]
        .split(';')
        .next()
        .expect("pair")
        .to_string();

    let token = http.get(&format!("{jwt}/qps/csrftoken"), &[("Cookie", &pair)]);
    assert_eq!(token.status, 204);
    assert_eq!(token.csrf_token.as_deref().map(str::len), Some(32));

    let out = http
        .send_plain(
            reqwest::Method::DELETE,
            &format!("{jwt}/qps/user"),
            &[("Cookie", &pair)],
            None,
        )
        .expect("logout");
    assert_eq!(out.status, 204);
    let after = http.get(&format!("{jwt}/qrs/about"), &[("Cookie", &pair)]);
    assert_eq!(
        after.status, 401,
        "the cookie must stop working: {}",
        after.body
    );
}

#[test]
fn context_login_through_the_forms_proxy() {
    let sb = Sandbox::start(&[]);
    let env = TestEnv::new();
    let password = std::fs::read_to_string(sb.get("/qseow/forms/password_file")).expect("password");
    env.ok(&[
        "context",
        "create",
        "sbform",
        "--server",
        &sb.get("/qseow/forms_url"),
        "--server-type",
        "windows",
        "--ca-cert",
        &sb.get("/ca_cert"),
    ]);
    let login = [
        "context",
        "login",
        "sbform",
        "--user",
        "SANDBOX\\admin",
        "--password-stdin",
    ];
    env.ok_stdin(&login, password.trim());
    let shown = json(&env.ok(&["context", "get", "sbform", "-o", "json"]));
    assert_eq!(shown["auth"], "cookie", "{shown}");

    let out = env.run_stdin(&login, "not-the-password");
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn latency_delays_every_request() {
    let sb = Sandbox::start(&["--latency", "400ms"]);
    let http = Http::new(&sb, false);
    let url = format!("{}/qrs/about", sb.get("/qseow/jwt_url"));
    http.get(&url, &[]); // connection set up outside the measurement
    let started = Instant::now();
    let r = http.get(&url, &[]);
    assert_eq!(r.status, 401);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn fault_rate_one_fails_every_request_and_counts_them() {
    let dir = tempfile::tempdir().expect("temp");
    let state = dir.path().join("state");
    let sb = Sandbox::start_in(&state, &["--fault-rate", "1.0"]);
    let http = Http::new(&sb, false);
    let url = format!("{}/qrs/about", sb.get("/qseow/jwt_url"));
    let (mut unavailable, mut dropped) = (0u64, 0u64);
    for _ in 0..20 {
        match http.send(reqwest::Method::GET, &url, &[], None) {
            Ok(r) => {
                assert_eq!(r.status, 503, "{}", r.body);
                unavailable += 1;
            }
            Err(_) => dropped += 1,
        }
    }
    assert!(
        unavailable > 0 && dropped > 0,
        "{unavailable} 503s, {dropped} drops"
    );
    // A client whose runtime is not driven cannot answer HTTP/2's shutdown ping: close it first.
    drop(http);
    let status = sb.stop();
    assert!(status.success(), "{status}");
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("stats.json")).expect("stats"))
            .expect("json");
    // Every 503 and at least one drop was counted (a request sent on a connection the server
    // had just dropped fails in the client without reaching the server, so drops may count
    // fewer than failed requests).
    assert!(
        stats["faults_injected"].as_u64().expect("count") > unavailable,
        "{stats}"
    );
    let log = std::fs::read_to_string(state.with_extension("log")).expect("log");
    assert!(log.contains("faults injected: "), "{log}");
}

#[test]
fn restart_reuses_pki_credentials_and_state_and_ctrl_c_exits_zero() {
    let dir = tempfile::tempdir().expect("temp");
    let state = dir.path().join("state");
    let first = Sandbox::start_in(&state, &[]);
    let ca = std::fs::read_to_string(state.join("ca.pem")).expect("ca");
    let password = std::fs::read_to_string(first.get("/qem/password_file")).expect("pw");
    // Snapshots are written while running, not only on exit.
    let started = Instant::now();
    while !(state.join("qrs.json").exists() && state.join("qem.json").exists()) {
        assert!(started.elapsed() < Duration::from_secs(10), "no snapshot");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = first.stop();
    assert!(status.success(), "Ctrl-C exit: {status}");
    assert!(state.join("qrs.json").exists() && state.join("qem.json").exists());
    assert!(
        !state.join("sandbox.json").exists(),
        "discovery removed on exit"
    );

    let second = Sandbox::start_in(&state, &[]);
    assert_eq!(
        std::fs::read_to_string(state.join("ca.pem")).expect("ca"),
        ca
    );
    assert_eq!(
        std::fs::read_to_string(second.get("/qem/password_file")).expect("pw"),
        password
    );
    // A client that trusted the first run's CA still connects.
    let http = Http::new(&second, false);
    let r = http.get(&format!("{}/qrs/about", second.get("/qseow/jwt_url")), &[]);
    assert_eq!(r.status, 401);

    // One sandbox per state dir.
    let env = TestEnv::new();
    let out = env
        .cmd()
        .args(["sandbox", "--state-dir"])
        .arg(&state)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(7));
    drop(http);
    assert!(second.stop().success());
}

#[test]
fn refuses_non_loopback_addresses_without_allow_remote() {
    let env = TestEnv::new();
    let err = env.fails(&["sandbox", "--listen", "0.0.0.0:0"], 2);
    assert!(err.contains("--allow-remote"), "{err}");
}

#[cfg(unix)]
#[test]
fn sigterm_stops_cleanly_with_a_final_snapshot() {
    let dir = tempfile::tempdir().expect("temp");
    let state = dir.path().join("state");
    let child = std::process::Command::new(crate::support::BIN)
        .args(["sandbox", "--state-dir"])
        .arg(&state)
        .env("QTOOL_CONFIG_DIR", dir.path().join("config"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while !state.join("sandbox.json").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "not started");
        std::thread::sleep(Duration::from_millis(25));
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{:?}", out.status);
    // stdout is the discovery document, nothing else.
    let doc = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(doc["version"], 1);
    assert!(state.join("qrs.json").exists() && state.join("qem.json").exists());
}

/// The README's first command: the tutorial end to end against a fresh sandbox.
#[test]
fn the_walkthrough_runs_end_to_end() {
    let env = TestEnv::new();
    let out = env.ok(&["sandbox", "--walkthrough"]);
    assert!(out.contains("Walkthrough complete: "), "{out}");
    assert!(out.contains("$ qtool "), "{out}");
}

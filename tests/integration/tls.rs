//! `--ca-cert` like curl's `--cacert`, and TLS failures told as one sentence with a hint
//! (exit 9). The sandbox is restarted with server certificates made for each case: the one
//! `openssl req -x509` makes (self-signed, `CA:TRUE`), an expired one, one for another name.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command as StdCommand, Output};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};

use crate::support::{Sandbox, TestEnv, assert_exit, forwarder};

/// A sandbox whose listeners present the certificate `install` writes over its generated
/// `server.pem`/`server_key.pem` (the PKI is made by a first start, then the sandbox restarts).
fn sandbox_with_server_cert(dir: &Path, install: impl FnOnce(&Path)) -> Sandbox {
    let state = dir.join("state");
    let first = Sandbox::start_in(&state, &[]);
    assert!(first.stop().success());
    install(&state);
    Sandbox::start_in(&state, &[])
}

/// `openssl req -x509`: the self-signed certificate admins make, `CA:TRUE` by default.
fn openssl_self_signed(state: &Path, san: &str) {
    let out = StdCommand::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", "/CN=qlik.sandbox.test", "-addext"])
        .arg(format!("subjectAltName={san}"))
        .arg("-keyout")
        .arg(state.join("server_key.pem"))
        .arg("-out")
        .arg(state.join("server.pem"))
        .output()
        .expect("openssl must be installed for these tests");
    assert!(
        out.status.success(),
        "openssl req -x509 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = StdCommand::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(state.join("server.pem"))
        .output()
        .expect("openssl");
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("CA:TRUE"),
        "openssl made a certificate without CA:TRUE"
    );
}

/// A self-signed `CA:TRUE` certificate for 127.0.0.1 that expired yesterday.
fn expired_self_signed(state: &Path) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(30);
    params.not_after = now - time::Duration::days(1);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    std::fs::write(state.join("server.pem"), cert.pem()).expect("write");
    std::fs::write(state.join("server_key.pem"), key.serialize_pem()).expect("write");
}

/// A server certificate for 127.0.0.1 that expired yesterday, issued by a private CA of its
/// own; the CA certificate goes to `private_ca.pem` in `state`.
fn expired_from_private_ca(state: &Path) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().expect("key");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(30);
    params.not_after = now - time::Duration::days(1);
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca).expect("cert");
    std::fs::write(state.join("server.pem"), cert.pem() + &ca.pem()).expect("write");
    std::fs::write(state.join("server_key.pem"), key.serialize_pem()).expect("write");
    std::fs::write(state.join("private_ca.pem"), ca.pem()).expect("write");
}

/// `qtool --server URL [--ca-cert CA] qrs about` with the sandbox's admin token.
fn about(env: &TestEnv, sb: &Sandbox, url: &str, ca: Option<&str>) -> Output {
    let token = std::fs::read_to_string(sb.get("/qseow/jwt/token_file")).expect("token");
    let mut args = vec!["--server", url, "--retries", "0"];
    if let Some(ca) = ca {
        args.extend(["--ca-cert", ca]);
    }
    args.extend(["qrs", "about"]);
    env.run_with_env(&args, &[("QTOOL_API_KEY", token.trim())])
}

/// One `error:` line with exit 9 holding every needle.
fn tls_error(out: &Output, needles: &[&str], what: &str) -> String {
    let stderr = assert_exit(out, 9, what);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: not one line:\n{stderr}");
    assert!(lines[0].starts_with("error: "), "{what}: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{what}: `{n}` missing from: {stderr}");
    }
    assert!(
        !stderr.contains("Other("),
        "{what}: raw rustls error: {stderr}"
    );
    stderr
}

#[test]
fn ca_cert_pins_a_self_signed_ca_server_certificate_like_curl() {
    let dir = tempfile::tempdir().expect("dir");
    let sb = sandbox_with_server_cert(dir.path(), |state| {
        openssl_self_signed(state, "IP:127.0.0.1,DNS:localhost");
    });
    let env = TestEnv::new();
    let server_pem = sb.state_dir.join("server.pem");
    let server_pem = server_pem.to_str().expect("utf-8");
    let jwt_url = sb.get("/qseow/jwt_url");

    // curl trusts it as its own CA bundle ...
    let curl = StdCommand::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            server_pem,
        ])
        .arg(format!("{jwt_url}/qps/user"))
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "200", "{curl:?}");
    // ... and so does qtool.
    let out = about(&env, &sb, &jwt_url, Some(server_pem));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("38.22.0.0"));
    // By its other name too, and with the certificate inside a bundle of others.
    let bundle = dir.path().join("bundle.pem");
    let mut text = std::fs::read_to_string(sb.get("/ca_cert")).expect("ca");
    text.push_str(&std::fs::read_to_string(server_pem).expect("pem"));
    std::fs::write(&bundle, text).expect("bundle");
    let by_name = jwt_url.replace("127.0.0.1", "localhost");
    let out = about(&env, &sb, &by_name, Some(bundle.to_str().expect("utf-8")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Without it in the bundle, the certificate is a CA used as a server certificate.
    let out = about(&env, &sb, &jwt_url, Some(&sb.get("/ca_cert")));
    tls_error(&out, &["CA:TRUE", "--ca-cert"], "CA used as end entity");
    // The certificate port wants a client certificate.
    let out = about(&env, &sb, &sb.get("/qseow/cert_url"), Some(server_pem));
    tls_error(
        &out,
        &[
            "rejected our client certificate (or requires one)",
            "client.pem",
        ],
        "no client certificate",
    );
    // Pinned, but reached at an address it does not name (127.0.0.2 forwards to it).
    let (host_port, path) = jwt_url
        .trim_start_matches("https://")
        .split_once('/')
        .expect("host:port/path");
    if let Some(other) = forwarder(host_port, "127.0.0.2") {
        let forwarded = format!("{other}/{path}");
        let out = about(&env, &sb, &forwarded, Some(server_pem));
        tls_error(
            &out,
            &["not valid for that host name (it names 127.0.0.1, localhost)"],
            "pinned, wrong name",
        );
    }
}

#[test]
fn tls_failures_are_one_sentence_with_exit_9() {
    let dir = tempfile::tempdir().expect("dir");
    let sb = sandbox_with_server_cert(dir.path(), expired_self_signed);
    let env = TestEnv::new();
    let server_pem = sb.state_dir.join("server.pem");
    let jwt_url = sb.get("/qseow/jwt_url");

    // A pinned certificate must still be valid.
    let out = about(
        &env,
        &sb,
        &jwt_url,
        Some(server_pem.to_str().expect("utf-8")),
    );
    tls_error(
        &out,
        &["has expired", "renew the server certificate"],
        "expired",
    );

    // Something that does not speak TLS on the other end.
    let plain = plain_http_server();
    let out = about(
        &env,
        &sb,
        &format!("https://{plain}/jwt"),
        Some(server_pem.to_str().expect("utf-8")),
    );
    tls_error(&out, &["did not answer with TLS", "port"], "plain HTTP");
}

/// Trust is told before dates: an expired certificate from a CA nobody trusts is "not signed by
/// a trusted authority" (renewing it would not help), with or without a `--ca-cert` of another
/// CA; trusted, it is "expired".
#[test]
fn an_expired_certificate_from_an_unknown_ca_is_untrusted_first() {
    let dir = tempfile::tempdir().expect("dir");
    let sb = sandbox_with_server_cert(dir.path(), expired_from_private_ca);
    let env = TestEnv::new();
    let jwt_url = sb.get("/qseow/jwt_url");
    for (ca, what) in [
        (None, "system trust store"),
        (Some(sb.get("/ca_cert")), "another CA"),
    ] {
        let out = about(&env, &sb, &jwt_url, ca.as_deref());
        let stderr = tls_error(
            &out,
            &["is not signed by a trusted authority", "--ca-cert"],
            what,
        );
        assert!(!stderr.contains("expired"), "{what}: {stderr}");
    }
    let own_ca = sb.state_dir.join("private_ca.pem");
    let out = about(&env, &sb, &jwt_url, Some(own_ca.to_str().expect("utf-8")));
    tls_error(
        &out,
        &["has expired", "renew the server certificate"],
        "its own CA",
    );
}

/// A plain HTTP/1.1 server (no TLS) on loopback; its `host:port`.
fn plain_http_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    addr
}

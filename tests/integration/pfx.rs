//! Client certificates in the QMC's "Windows format": a password-protected PKCS#12 file made by
//! openssl with its legacy encryption (RC2-40 and 3DES, SHA-1 MAC, as older exports and
//! Windows make them) and its modern default (PBES2 AES-256, SHA-256 MAC), used against the
//! sandbox's certificate port; and the bad ones: a wrong or missing password, a file without a
//! key, an expired certificate.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use crate::support::{Sandbox, TestEnv, assert_exit, assert_one_error_line};

const PASSWORD: &str = "Pfx-Passw0rd!";

/// `openssl pkcs12 -export` of `cert` (+ `key`) into `dir/name` with `extra` options.
fn pkcs12(dir: &Path, name: &str, cert: &str, key: Option<&str>, extra: &[&str]) -> PathBuf {
    let out_path = dir.join(name);
    let mut cmd = StdCommand::new("openssl");
    cmd.args(["pkcs12", "-export", "-in", cert, "-passout"])
        .arg(format!("pass:{PASSWORD}"))
        .arg("-out")
        .arg(&out_path)
        .args(extra);
    match key {
        Some(key) => cmd.args(["-inkey", key]),
        None => cmd.arg("-nokeys"),
    };
    let out = cmd.output().expect("openssl");
    assert!(
        out.status.success(),
        "openssl pkcs12 {extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out_path
}

struct Site {
    sb: Sandbox,
    env: TestEnv,
}

/// The sandbox's client certificate as openssl's modern and `-legacy` PKCS#12 files.
fn modern_and_legacy(site: &Site) -> (PathBuf, PathBuf) {
    let dir = site.env.path();
    let cert = site.sb.get("/qseow/client_cert/cert");
    let key = site.sb.get("/qseow/client_cert/key");
    (
        pkcs12(dir, "modern.pfx", &cert, Some(&key), &[]),
        pkcs12(dir, "legacy.pfx", &cert, Some(&key), &["-legacy"]),
    )
}

impl Site {
    fn start() -> Site {
        Site {
            sb: Sandbox::start(&[]),
            env: TestEnv::new(),
        }
    }

    fn create_args<'a>(&'a self, name: &'a str, pfx: &'a str, extra: &[&'a str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "context",
            "create",
            name,
            "--server",
            &self.sb.get("/qseow/cert_url"),
            "--ca-cert",
            &self.sb.get("/ca_cert"),
            "--client-cert",
            pfx,
            "--user",
            &self.sb.get("/qseow/client_cert/user"),
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn legacy_and_modern_pfx_files_log_in_to_the_certificate_port() {
    let site = Site::start();
    let (modern, legacy) = modern_and_legacy(&site);
    for (name, pfx) in [("modern", &modern), ("legacy", &legacy)] {
        let pfx = pfx.to_str().expect("utf-8");
        let args = site.create_args(name, pfx, &["--cert-password-stdin"]);
        site.env.ok_stdin(&strs(&args), PASSWORD);
        let about = site.env.ok(&["--context", name, "qrs", "about"]);
        assert!(about.contains("buildVersion"), "{name}: {about}");
        // With --ca-cert qtool builds its own TLS configuration; without it (--insecure),
        // reqwest's: both take the certificate.
        let out = site
            .env
            .run(&["--context", name, "--insecure", "qrs", "about"]);
        assert!(
            out.status.success(),
            "{name} --insecure: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The password from the environment instead of the credentials file.
    let args = site.create_args("env", modern.to_str().expect("utf-8"), &[]);
    site.env.ok(&strs(&args));
    let out = site.env.run_with_env(
        &["--context", "env", "qrs", "about"],
        &[("QTOOL_CERT_PASSWORD", PASSWORD)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = site.env.fails(&["--context", "env", "qrs", "about"], 3);
    assert!(
        err.contains("is password-protected and no password was given"),
        "{err}"
    );
    assert!(err.contains("QTOOL_CERT_PASSWORD"), "{err}");
    // The password is stored with the other secrets (0600), never in contexts.toml.
    let contexts = std::fs::read_to_string(site.env.config_dir().join("contexts.toml"))
        .expect("contexts.toml");
    assert!(!contexts.contains(PASSWORD));
    let credentials = std::fs::read_to_string(site.env.config_dir().join("credentials.toml"))
        .expect("credentials.toml");
    assert!(credentials.contains("cert-password"), "{credentials}");
    let shown = site.env.ok(&["context", "get", "modern", "--json"]);
    assert!(shown.contains("\"cert-password\": \"****\""), "{shown}");
    assert!(!shown.contains(PASSWORD), "{shown}");
}

#[test]
fn bad_pfx_files_are_one_line_with_an_exit_code() {
    let site = Site::start();
    let dir = site.env.path();
    let cert = site.sb.get("/qseow/client_cert/cert");
    let (modern, legacy) = modern_and_legacy(&site);
    let no_key = pkcs12(dir, "nokey.pfx", &cert, None, &[]);
    let (expired_cert, expired_key) = expired_certificate(dir);
    let expired = pkcs12(dir, "expired.pfx", &expired_cert, Some(&expired_key), &[]);
    let path = |p: &PathBuf| p.to_str().expect("utf-8").to_string();
    for (name, pfx, password, code, text) in [
        ("wrong", path(&modern), "not it", 3, "the password of"),
        ("wronglegacy", path(&legacy), "not it", 3, "is wrong"),
        ("nokey", path(&no_key), PASSWORD, 3, "holds no private key"),
        (
            "expired",
            path(&expired),
            PASSWORD,
            9,
            "expired on 2021-01-01",
        ),
    ] {
        // Found when the context is made (the password is at hand)...
        let args = site.create_args(name, &pfx, &["--cert-password-stdin"]);
        let out = site.env.run_stdin(&strs(&args), password);
        let stderr = assert_exit(&out, code, name);
        assert_one_error_line(&stderr);
        assert!(stderr.contains(text), "{name}: {stderr}");
        assert!(!stderr.contains(password), "{name}: {stderr}");
        // ...and when it is used, with the password from the environment.
        let args = site.create_args(name, &pfx, &[]);
        site.env.ok(&strs(&args));
        let out = site.env.run_with_env(
            &["--context", name, "qrs", "about"],
            &[("QTOOL_CERT_PASSWORD", password)],
        );
        let stderr = assert_exit(&out, code, name);
        assert_one_error_line(&stderr);
        assert!(stderr.contains(text), "{name}: {stderr}");
    }
    // Not a certificate at all.
    std::fs::write(dir.join("junk.pfx"), b"\x30\x03junk").expect("junk");
    let args = site.create_args("junk", "junk.pfx", &["--cert-password-stdin"]);
    let out = site.env.run_stdin(&strs(&args), PASSWORD);
    let stderr = assert_exit(&out, 3, "junk");
    assert!(
        stderr.contains("neither a PEM certificate nor a PKCS#12"),
        "{stderr}"
    );
    // A PEM certificate without --client-key.
    let args = site.create_args("pem", &cert, &[]);
    let out = site.env.run(&strs(&args));
    let stderr = assert_exit(&out, 2, "pem without key");
    assert!(stderr.contains("--client-key"), "{stderr}");
}

/// A certificate and key valid only during 2020 (PEM files in `dir`).
fn expired_certificate(dir: &Path) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["qtool-client".into()]).expect("params");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let cert = params.self_signed(&key).expect("certificate");
    let cert_path = dir.join("expired.pem");
    let key_path = dir.join("expired.key");
    std::fs::write(&cert_path, cert.pem()).expect("write");
    std::fs::write(&key_path, key.serialize_pem()).expect("write");
    (
        cert_path.to_str().expect("utf-8").to_string(),
        key_path.to_str().expect("utf-8").to_string(),
    )
}

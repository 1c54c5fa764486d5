//! `qtool jwt`: keys, certificates, tokens, verification failures, bad inputs, and interop with
//! OpenSSL, PyJWT and Node's jsonwebtoken (the tutorial's Token.js). Interop tools are installed
//! on first use into `target/interop/` (PyPI and npm); a failed install fails the test.

use std::path::PathBuf;
use std::process::Command as StdCommand;
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{TestEnv, json, node_packages, pip_target, repo};

/// The seed token from Qlik's qlik-cli QRS tutorial.
const SEED_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyaWQiOiJoYXJyeSIsInVzZXJkaXJlY3RvcnkiOiJxc2VmdyIsIm5hbWUiOiJIYXJkY29yZSBIYXJyeSIsImVtYWlsIjoiaGFycnlAZXhhbXBsZS5jb20iLCJncm91cHMiOlsiQWRtaW5zdHJhdG9ycyIsIlNhbGVzIiwiTWFya2V0aW5nIl0sImlhdCI6MTYwMzgxOTYyOSwiZXhwIjoxNjM1MzU1NjI5LCJhdWQiOiIxMTJhZGFtcyJ9.gDWFqJ8fZbo9QpF52CnlhKCMsHal2AcobIVwhVCpnbLfpmc-Z_k4uUWGh2TxaSucjQ5-k5I9s9sNgIPskqaVQN2JanFXxIJKRFow9LbuSbImZs74RsQ6TqsoJTu7_5eKLv2VRAqoh6Tqabl5vma1JdhHbsTKGixt8yGZI7Q2QNjObQq8hAh6VveNWcUVkB60LEMOPiipij7VTKQ7IQg-rG4XA8xgYxbOb6i3Q6miY4kGSGujbsjtYLevEJQlEZtij2JMMDeH_nwH2MWhWhOBL1TpAAUKkCOxPFDjGacxGvkObAOFjL-Ztx0LdVwF2BXxVerQ1xKyl0YpLErS4d576Q";

/// The tutorial's Token.js claims as `qtool jwt sign` flags (plus `--expires-in 365d`).
const SEED_FLAGS: &[&str] = &[
    "--userid",
    "harry",
    "--userdirectory",
    "qsefw",
    "--name",
    "Hardcore Harry",
    "--email",
    "harry@example.com",
    "--group",
    "Adminstrators",
    "--group",
    "Sales",
    "--group",
    "Marketing",
    "--audience",
    "112adams",
];

fn p(env: &TestEnv, name: &str) -> String {
    env.path().join(name).to_string_lossy().into_owned()
}

/// keygen (2048 for speed) + cert in one go; returns (key, cert) paths.
fn key_and_cert(env: &TestEnv) -> (String, String) {
    let key = p(env, "privatekey.pem");
    let cert = p(env, "publickey.cer");
    env.ok(&[
        "jwt", "keygen", "--bits", "2048", "--out", &key, "--cert", &cert,
    ]);
    (key, cert)
}

fn sign(env: &TestEnv, key: &str, extra: &[&str]) -> String {
    let mut args = vec!["jwt", "sign", "--key", key];
    args.extend_from_slice(SEED_FLAGS);
    if !extra.contains(&"--expires-in") {
        args.extend_from_slice(&["--expires-in", "365d"]);
    }
    args.extend_from_slice(extra);
    env.ok(&args).trim().to_string()
}

/// `jwt sign --key KEY --userid u --userdirectory d EXTRA...`: the fewest claims a token takes.
fn sign_minimal<'a>(key: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "jwt",
        "sign",
        "--key",
        key,
        "--userid",
        "u",
        "--userdirectory",
        "d",
    ];
    args.extend_from_slice(extra);
    args
}

fn openssl(args: &[&str]) -> String {
    let out = StdCommand::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be installed for these tests");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn decode_json(env: &TestEnv, token: &str) -> Value {
    json(&env.ok(&["--json", "jwt", "decode", token]))
}

#[cfg(unix)]
fn mode(path: &str) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keygen_cert_sign_verify_roundtrip() {
    let env = TestEnv::new();
    let (key, cert) = key_and_cert(&env);
    let key_text = std::fs::read_to_string(&key).unwrap();
    assert!(
        key_text.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "PKCS#8 by default"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&cert), 0o644);
    }
    let token = sign(&env, &key, &[]);
    let decoded = decode_json(&env, &token);
    let keys: Vec<&str> = decoded["claims"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "userid",
            "userdirectory",
            "name",
            "email",
            "groups",
            "iat",
            "exp",
            "aud"
        ]
    );
    assert_eq!(
        decoded["header"],
        serde_json::json!({"alg": "RS256", "typ": "JWT"})
    );
    let claims = &decoded["claims"];
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        365 * 86_400
    );

    let verify = [
        "jwt",
        "verify",
        &token,
        "--cert",
        &cert,
        "--audience",
        "112adams",
    ];
    let out = json(&env.ok(&[&["--json"][..], &verify].concat()));
    assert_eq!(out["verified"], true);
    assert_eq!(out["claims"]["groups"][2], "Marketing");
    // Table output says VERIFIED and shows readable dates.
    let table = env.ok(&verify);
    assert!(table.starts_with("VERIFIED"), "{table}");
    assert!(table.contains(", in 36"), "{table}"); // in 365d, or 364d23h59m59s a second later
    // The token from stdin, the public key instead of the certificate, and the `token` alias.
    let public = p(&env, "public.pem");
    std::fs::write(&public, openssl(&["pkey", "-in", &key, "-pubout"])).unwrap();
    let out = env.ok_stdin(
        &[
            "token",
            "verify",
            "-",
            "--cert",
            &public,
            "--audience",
            "112adams",
        ],
        &format!("{token}\n"),
    );
    assert!(out.starts_with("VERIFIED"), "{out}");
}

#[test]
fn keygen_4096_pkcs1_and_refuses_to_overwrite() {
    let env = TestEnv::new();
    let key = p(&env, "k.pem");
    let out = json(&env.ok(&["--json", "jwt", "keygen", "--out", &key, "--pkcs1"]));
    assert_eq!(out["bits"], 4096);
    assert_eq!(out["format"], "PKCS#1");
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(text.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    let check = openssl(&["rsa", "-in", &key, "-check", "-noout", "-text"]);
    assert!(check.contains("Private-Key: (4096 bit"), "{check}");
    assert!(check.contains("RSA key ok"), "{check}");

    let err = env.fails(&["jwt", "keygen", "--bits", "2048", "--out", &key], 7);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&key).unwrap(), text, "untouched");
    env.ok(&["jwt", "keygen", "--bits", "2048", "--out", &key, "--force"]);
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY")
    );
    #[cfg(unix)]
    assert_eq!(mode(&key), 0o600);

    let err = env.fails(
        &[
            "jwt",
            "keygen",
            "--bits",
            "1024",
            "--out",
            &p(&env, "x.pem"),
        ],
        2,
    );
    assert!(err.contains("1024"), "{err}");
    let err = env.fails(
        &["jwt", "keygen", "--out", &p(&env, "y.pem"), "--days", "5"],
        2,
    );
    assert!(err.contains("--cert"), "{err}");
}

#[test]
fn certificate_is_valid_x509_for_the_key() {
    let env = TestEnv::new();
    let (key, default_cert) = key_and_cert(&env);
    let text = openssl(&["x509", "-in", &default_cert, "-noout", "-text"]);
    assert!(text.contains("Subject: CN = qtool JWT signing"), "{text}");
    assert!(!text.contains("rcgen"), "{text}");
    assert!(text.contains("sha256WithRSAEncryption"), "{text}");

    let cert = p(&env, "custom.cer");
    env.ok(&[
        "jwt",
        "cert",
        "--key",
        &key,
        "--out",
        &cert,
        "--days",
        "30",
        "--subject",
        "CN=Qlik JWT,O=Example Ltd,C=SE",
        "--san",
        "qlik.example.com",
        "--san",
        "10.1.2.3",
    ]);
    let text = openssl(&["x509", "-in", &cert, "-noout", "-text"]);
    assert!(text.contains("CN = Qlik JWT"), "{text}");
    assert!(text.contains("O = Example Ltd"), "{text}");
    assert!(text.contains("DNS:qlik.example.com"), "{text}");
    assert!(text.contains("IP Address:10.1.2.3"), "{text}");
    // Validity: not before ~now (minus a minute of skew), not after = now + 30 days.
    let dates = openssl(&["x509", "-in", &cert, "-noout", "-startdate", "-enddate"]);
    let year = |line: &str| -> i32 {
        let v = line.split_whitespace().rev().nth(1).unwrap();
        v.parse().unwrap()
    };
    let mut lines = dates.lines();
    let start = year(lines.next().unwrap());
    let end = year(lines.next().unwrap());
    assert!(start >= 2024 && end - start <= 1, "{dates}");
    openssl(&["x509", "-in", &cert, "-noout", "-checkend", "2500000"]);
    let expired_soon = StdCommand::new("openssl")
        .args(["x509", "-in", &cert, "-noout", "-checkend", "2600000"])
        .output()
        .unwrap();
    assert!(!expired_soon.status.success(), "valid for 30 days, not 31");
    // The certificate's public key is the key's public key.
    let from_cert = openssl(&["x509", "-in", &cert, "-noout", "-pubkey"]);
    let from_key = openssl(&["pkey", "-in", &key, "-pubout"]);
    assert_eq!(from_cert, from_key);
    // Serial numbers are random.
    let s1 = openssl(&["x509", "-in", &cert, "-noout", "-serial"]);
    let s2 = openssl(&["x509", "-in", &default_cert, "-noout", "-serial"]);
    assert_ne!(s1, s2);

    let err = env.fails(&["jwt", "cert", "--key", &key, "--out", &cert], 7);
    assert!(err.contains("already exists"), "{err}");
    let err = env.fails(
        &[
            "jwt",
            "cert",
            "--key",
            &key,
            "--out",
            &p(&env, "z.cer"),
            "--subject",
            "XX=1",
        ],
        2,
    );
    assert!(err.contains("unknown attribute"), "{err}");
}

#[test]
fn openssl_keys_sign_in_both_formats() {
    let env = TestEnv::new();
    for (name, extra) in [("pkcs8.pem", None), ("pkcs1.pem", Some("-traditional"))] {
        let key = p(&env, name);
        let mut args = vec!["genrsa", "-out", &key];
        if let Some(flag) = extra {
            args.push(flag);
        }
        args.push("2048");
        openssl(&args);
        let head = std::fs::read_to_string(&key).unwrap();
        assert_eq!(
            head.starts_with("-----BEGIN RSA PRIVATE KEY"),
            extra.is_some(),
            "{name}: {head}"
        );
        // The tutorial's own certificate command.
        let cert = p(&env, &format!("{name}.cer"));
        openssl(&[
            "req",
            "-new",
            "-x509",
            "-key",
            &key,
            "-out",
            &cert,
            "-days",
            "1825",
            "-subj",
            "/CN=tutorial",
        ]);
        let token = sign(&env, &key, &["--alg", "RS512"]);
        let out = env.ok(&[
            "jwt",
            "verify",
            &token,
            "--cert",
            &cert,
            "--audience",
            "112adams",
            "--alg",
            "RS512",
        ]);
        assert!(out.contains("CN=tutorial"), "{out}");
        // qtool's cert from an OpenSSL key works too.
        let own = p(&env, &format!("{name}.own.cer"));
        env.ok(&["jwt", "cert", "--key", &key, "--out", &own]);
        env.ok(&[
            "jwt",
            "verify",
            &token,
            "--cert",
            &own,
            "--audience",
            "112adams",
        ]);
    }
}

#[test]
fn verify_failures_exit_1_with_the_reason() {
    let env = TestEnv::new();
    let (key, cert) = key_and_cert(&env);
    let token = sign(&env, &key, &[]);
    let verify = |token: &str, extra: &[&str]| -> String {
        let mut args = vec!["jwt", "verify", token, "--cert", &cert];
        args.extend_from_slice(extra);
        env.fails(&args, 1)
    };

    // Tampered signature, and tampered claims.
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{rest}.{flipped}{}", &sig[1..]);
    let err = verify(&tampered, &["--audience", "112adams"]);
    assert!(err.contains("bad signature"), "{err}");
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let claims = decode_json(&env, &token)["claims"].clone();
    let mut forged = claims.as_object().unwrap().clone();
    forged.insert("userid".into(), "admin".into());
    use base64::Engine;
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&forged).unwrap());
    let err = verify(&parts.join("."), &["--audience", "112adams"]);
    assert!(err.contains("bad signature"), "{err}");

    // Signed by another key.
    let other_key = p(&env, "other.pem");
    env.ok(&["jwt", "keygen", "--bits", "2048", "--out", &other_key]);
    let other = sign(&env, &other_key, &[]);
    let err = verify(&other, &[]);
    assert!(err.contains("bad signature"), "{err}");

    // Expired: a 1-second token, two seconds later, no leeway.
    let short = sign(&env, &key, &["--expires-in", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let err = verify(&short, &["--leeway", "0s", "--audience", "112adams"]);
    assert!(err.contains("token expired at 20"), "{err}");
    assert!(err.contains(" ago"), "{err}");
    // Long expired (explicit exp in the past) with the default leeway, not yet valid, wrong
    // audience (the first token), algorithm mismatch: (sign flags, verify flags, the reason).
    for (sign_extra, verify_extra, reasons) in [
        (
            Some(&["--claim", "exp=1600000000"][..]),
            &["--audience", "112adams"][..],
            &["token expired at 2020-09-13T12:26:40Z"][..],
        ),
        (
            Some(&["--not-before", "1h"][..]),
            &["--audience", "112adams"][..],
            &["not yet valid", "(in "][..],
        ),
        (
            None,
            &["--audience", "other"][..],
            &["wrong audience: expected `other`, the token has `112adams`"][..],
        ),
        (
            Some(&["--alg", "RS384"][..]),
            &["--alg", "RS256"][..],
            &["algorithm mismatch: the token is signed with RS384, expected RS256"][..],
        ),
    ] {
        let signed = match sign_extra {
            Some(extra) => sign(&env, &key, extra),
            None => token.clone(),
        };
        let err = verify(&signed, verify_extra);
        assert!(reasons.iter().all(|r| err.contains(r)), "{err}");
    }
    let hs = format!(
        "{}.{}.{}",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        token.split('.').nth(1).unwrap(),
        "c2ln"
    );
    let err = verify(&hs, &[]);
    assert!(
        err.contains("algorithm mismatch") && err.contains("HS256"),
        "{err}"
    );

    // Malformed.
    for bad in ["abc", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.!!!.sig", ""] {
        let err = verify(bad, &[]);
        assert!(err.contains("malformed token"), "{bad}: {err}");
    }

    // The unverified decode of a tampered token still works, and says so.
    let out = env.ok(&["jwt", "decode", &tampered]);
    assert!(out.starts_with("UNVERIFIED"), "{out}");
}

#[test]
fn bad_key_files_exit_3_with_one_line_naming_the_file() {
    let env = TestEnv::new();
    let (key, cert) = key_and_cert(&env);
    let write = |name: &str, bytes: &[u8]| -> String {
        let path = p(&env, name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let ec = p(&env, "ec.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &ec,
    ]);
    let ec_sec1 = p(&env, "ec-sec1.pem");
    openssl(&[
        "ecparam",
        "-genkey",
        "-name",
        "prime256v1",
        "-noout",
        "-out",
        &ec_sec1,
    ]);
    let encrypted = p(&env, "encrypted.pem");
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        &key,
        "-out",
        &encrypted,
        "-passout",
        "pass:secret",
    ]);
    let legacy = p(&env, "legacy-encrypted.pem");
    openssl(&[
        "rsa",
        "-in",
        &key,
        "-traditional",
        "-aes256",
        "-out",
        &legacy,
        "-passout",
        "pass:x",
    ]);
    let public = write(
        "public.pem",
        openssl(&["pkey", "-in", &key, "-pubout"]).as_bytes(),
    );
    let key_text = std::fs::read(&key).unwrap();
    let truncated = write("truncated.pem", &key_text[..key_text.len() / 2]);
    let random: Vec<u8> = (0..600u32).map(|i| (i * 7919 % 251) as u8).collect();
    let random = write("random.bin", &random);
    let empty = write("empty.pem", b"");

    let cases: [(&str, &str); 10] = [
        (&ec, "EC private key"),
        (&ec_sec1, "EC private key"),
        (&encrypted, "encrypted private key"),
        (&legacy, "legacy OpenSSL format"),
        (&public, "public key"),
        (&cert, "is a certificate"),
        (&truncated, "truncated"),
        (&random, "not a private key"),
        (&empty, "empty"),
        (&p(&env, "ed.pem"), "Ed25519"),
    ];
    openssl(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        &p(&env, "ed.pem"),
    ]);
    for (file, needle) in cases {
        let err = env.fails(&sign_minimal(file, &[]), 3);
        assert!(err.contains(needle), "{file}: {err}");
        assert!(err.contains(file), "names the file: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // Certificates given where a certificate is expected, but wrong.
    let err = env.fails(&["jwt", "verify", "a.b.c", "--cert", &random], 3);
    assert!(err.contains("not a certificate or public key"), "{err}");
    let err = env.fails(
        &["jwt", "cert", "--key", &ec, "--out", &p(&env, "c.cer")],
        3,
    );
    assert!(err.contains("EC private key"), "{err}");
    // Missing file: not found.
    let err = env.fails(
        &[
            "jwt",
            "sign",
            "--key",
            &p(&env, "missing.pem"),
            "--userid",
            "u",
            "--userdirectory",
            "d",
        ],
        6,
    );
    assert!(
        err.contains("missing.pem") && err.contains("jwt keygen"),
        "{err}"
    );
}

#[test]
fn decode_shows_the_tutorial_token_unverified() {
    let env = TestEnv::new();
    let out = env.ok(&["jwt", "decode", SEED_TOKEN]);
    assert!(out.starts_with("UNVERIFIED"), "{out}");
    for needle in [
        "harry",
        "qsefw",
        "Hardcore Harry",
        "harry@example.com",
        "Adminstrators, Sales, Marketing",
        "1603819629 (2020-10-27T17:27:09Z",
        "1635355629 (2021-10-27T17:27:09Z",
        "112adams",
        "RS256",
    ] {
        assert!(out.contains(needle), "{needle} missing in:\n{out}");
    }
    let doc = decode_json(&env, SEED_TOKEN);
    assert_eq!(doc["verified"], false);
    assert_eq!(
        doc["header"],
        serde_json::json!({"alg": "RS256", "typ": "JWT"})
    );
    assert_eq!(
        doc["claims"],
        serde_json::json!({
            "userid": "harry", "userdirectory": "qsefw", "name": "Hardcore Harry",
            "email": "harry@example.com", "groups": ["Adminstrators", "Sales", "Marketing"],
            "iat": 1603819629, "exp": 1635355629, "aud": "112adams"
        })
    );
    // From stdin, with a Bearer prefix.
    let out = env.ok_stdin(&["jwt", "decode", "-"], &format!("Bearer {SEED_TOKEN}\n"));
    assert!(out.contains("Hardcore Harry"));
    let err = env.fails(&["jwt", "decode", "not-a-token"], 3);
    assert!(err.contains("malformed token"), "{err}");
}

#[test]
fn sign_options_and_bad_values() {
    let env = TestEnv::new();
    let (key, cert) = key_and_cert(&env);
    let claims_file = p(&env, "claims.json");
    std::fs::write(&claims_file, r#"{"tenant": "emea", "level": 3}"#).unwrap();
    let out = env.ok(&[
        "--json",
        "jwt",
        "sign",
        "--key",
        &key,
        "--userid",
        "u1",
        "--userdirectory",
        "D",
        "--claims-file",
        &claims_file,
        "--claim",
        "admin=true",
        "--claim",
        "level=4",
        "--claim",
        "note=hello world",
        "--kid",
        "key-1",
        "--alg",
        "rs512",
        "--expires-in",
        "15m",
    ]);
    let doc = json(&out);
    assert_eq!(
        doc["header"],
        serde_json::json!({"alg": "RS512", "typ": "JWT", "kid": "key-1"})
    );
    let claims = &doc["claims"];
    assert_eq!(claims["tenant"], "emea");
    assert_eq!(claims["level"], 4);
    assert_eq!(claims["admin"], true);
    assert_eq!(claims["note"], "hello world");
    assert!(claims.get("aud").is_none());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    let token = doc["token"].as_str().unwrap();
    // No --audience on verify: valid, with a warning only when the token has an aud.
    env.ok(&["jwt", "verify", token, "--cert", &cert]);
    // Claims from stdin.
    let out = env.ok_stdin(
        &sign_minimal(&key, &["--claims-file", "-"]),
        r#"{"x": [1, 2]}"#,
    );
    assert_eq!(
        decode_json(&env, out.trim())["claims"]["x"],
        serde_json::json!([1, 2])
    );

    let base = sign_minimal(&key, &[]);
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter()
            .chain(extra.iter())
            .map(|s| s.to_string())
            .collect()
    };
    for (extra, code, needle) in [
        (vec!["--expires-in", "10x"], 2, "invalid duration"),
        (vec!["--expires-in=-5m"], 2, "invalid duration"),
        (vec!["--not-before", "soon"], 2, "RFC 3339"),
        (
            vec!["--alg", "HS256"],
            2,
            "possible values: RS256, RS384, RS512",
        ),
        (vec!["--claim", "novalue"], 2, "NAME=VALUE"),
        (vec!["--claims-file", &cert], 3, "invalid JSON"),
    ] {
        let args = with(&extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = env.fails(&refs, code);
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    let err = env.fails(
        &["jwt", "verify", "a.b.c", "--cert", &cert, "--leeway", "x"],
        2,
    );
    assert!(err.contains("invalid duration"), "{err}");
}

#[test]
fn proxy_config_prints_qmc_settings_and_qrs_body() {
    let env = TestEnv::new();
    let (key, cert) = key_and_cert(&env);
    let table = env.ok(&[
        "jwt",
        "proxy-config",
        "--cert",
        &cert,
        "--audience",
        "112adams",
    ]);
    for needle in [
        "Prefix",
        "jwt",
        "X-Qlik-Session-jwt",
        "No anonymous user",
        "Authentication method",
        "JWT attribute for user ID",
        "userid",
        "userdirectory",
        "112adams",
        "CN=qtool JWT signing",
    ] {
        assert!(table.contains(needle), "{needle} missing:\n{table}");
    }
    let body = json(&env.ok(&[
        "--json",
        "jwt",
        "proxy-config",
        "--cert",
        &cert,
        "--audience",
        "112adams",
        "--prefix",
        "api",
        "--userid-attribute",
        "sub_id",
    ]));
    assert_eq!(body["prefix"], "api");
    assert_eq!(body["description"], "api");
    assert_eq!(body["sessionCookieHeaderName"], "X-Qlik-Session-api");
    assert_eq!(body["authenticationMethod"], 4, "JWT in the QRS enum");
    assert_eq!(body["anonymousAccessMode"], 0);
    assert_eq!(body["jwtAttributeUserId"], "sub_id");
    assert_eq!(body["jwtAttributeUserDirectory"], "userdirectory");
    assert_eq!(body["jwtAudience"], "112adams");
    assert_eq!(
        body["jwtPublicKeyCertificate"].as_str().unwrap(),
        std::fs::read_to_string(&cert).unwrap()
    );
    assert_eq!(body["defaultVirtualProxy"], false);
    assert!(body["sessionInactivityTimeout"].as_u64().is_some());

    let err = env.fails(
        &["jwt", "proxy-config", "--cert", &key, "--audience", "a"],
        3,
    );
    assert!(err.contains("needs an X.509 certificate"), "{err}");
    let err = env.fails(
        &[
            "jwt",
            "proxy-config",
            "--cert",
            &cert,
            "--audience",
            "a",
            "--prefix",
            "Bad/Prefix",
        ],
        2,
    );
    assert!(err.contains("--prefix"), "{err}");
}

// --- interop -------------------------------------------------------------------------------

/// Exact versions of the third-party JWT libraries the interop tests install (and of their
/// dependencies), so that a new release upstream cannot change what the tests check.
const PYTHON_PACKAGES: &[&str] = &[
    "pyjwt==2.15.1",
    "cryptography==50.0.2",
    "cffi==2.1.1",
    "pycparser==3.12",
];
const NODE_PACKAGE: &str = "jsonwebtoken@9.0.3";

/// PyJWT + cryptography under target/interop/py-<versions> (PYTHONPATH).
fn python_path() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        pip_target(
            "PyJWT and cryptography (pip)",
            PYTHON_PACKAGES,
            &["jwt", "cryptography"],
        )
    })
}

/// Node's jsonwebtoken under target/interop/node-<version> (NODE_PATH).
fn node_modules() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| node_packages(&[NODE_PACKAGE], "require('jsonwebtoken')"))
}

fn run_tool(mut cmd: StdCommand) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn pyjwt(args: &[&str]) -> String {
    let mut cmd = StdCommand::new("python3");
    cmd.arg(repo().join("bench/jwt/pyjwt_tool.py"))
        .args(args)
        .env("PYTHONPATH", python_path());
    run_tool(cmd)
}

fn node(script: &str, args: &[&str]) -> String {
    let mut cmd = StdCommand::new("node");
    cmd.arg(repo().join("bench/jwt").join(script))
        .args(args)
        .env("NODE_PATH", node_modules());
    run_tool(cmd)
}

#[test]
fn interop_with_pyjwt() {
    let env = TestEnv::new();
    let (key, cert) = key_and_cert(&env);
    // qtool signs, PyJWT verifies against qtool's certificate.
    for alg in ["RS256", "RS384", "RS512"] {
        let token = sign(&env, &key, &["--alg", alg]);
        let claims: Value = json(&pyjwt(&["verify", &token, &cert, "112adams"]));
        assert_eq!(claims["userid"], "harry");
        assert_eq!(claims["groups"][0], "Adminstrators");
    }
    // PyJWT signs (with a PKCS#1 key from openssl), qtool verifies.
    let pkcs1 = p(&env, "pkcs1.pem");
    openssl(&["genrsa", "-traditional", "-out", &pkcs1, "2048"]);
    let cert1 = p(&env, "pkcs1.cer");
    env.ok(&["jwt", "cert", "--key", &pkcs1, "--out", &cert1]);
    for (signing_key, verify_cert) in [(&key, &cert), (&pkcs1, &cert1)] {
        let token = pyjwt(&["sign", signing_key, "qlik-aud", "RS256"]);
        let out = json(&env.ok(&[
            "--json",
            "jwt",
            "verify",
            &token,
            "--cert",
            verify_cert,
            "--audience",
            "qlik-aud",
        ]));
        assert_eq!(out["verified"], true);
        assert_eq!(out["claims"]["userid"], "pyuser");
        // ... and refuses it against the other certificate.
        let other = if verify_cert == &cert { &cert1 } else { &cert };
        let err = env.fails(&["jwt", "verify", &token, "--cert", other], 1);
        assert!(err.contains("bad signature"), "{err}");
    }
}

#[test]
fn interop_with_node_token_js() {
    let env = TestEnv::new();
    let (key, cert) = key_and_cert(&env);
    // The tutorial's Token.js signs; qtool verifies it with the certificate.
    let node_token = node("token.js", &[&key]);
    let out = json(&env.ok(&[
        "--json",
        "jwt",
        "verify",
        &node_token,
        "--cert",
        &cert,
        "--audience",
        "112adams",
    ]));
    assert_eq!(out["verified"], true);
    // Given Token.js's iat, qtool produces the very same token, byte for byte: same header,
    // same claims in the same order, same (deterministic) RS256 signature.
    let iat = out["claims"]["iat"].as_i64().unwrap().to_string();
    let ours = sign(&env, &key, &["--claim", &format!("iat={iat}")]);
    assert_eq!(ours, node_token);
    // Node's jsonwebtoken verifies qtool's tokens against qtool's certificate.
    for alg in ["RS256", "RS512"] {
        let token = sign(&env, &key, &["--alg", alg]);
        let claims = json(&node("verify.js", &[&token, &cert, "112adams"]));
        assert_eq!(claims["name"], "Hardcore Harry");
    }
}

#[test]
fn encrypted_keys_with_a_passphrase() {
    let env = TestEnv::new();
    // OpenSSL 3's default: PBES2, PBKDF2 with HMAC-SHA256, AES-256-CBC.
    let key = p(&env, "enc.pem");
    openssl(&[
        "genrsa",
        "-aes256",
        "-passout",
        "pass:s3cret pass",
        "-out",
        &key,
        "2048",
    ]);
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY")
    );
    let signed = |token: &str, cert: &str| {
        env.ok(&["jwt", "verify", token.trim(), "--cert", cert]);
    };
    let cert = p(&env, "enc.cer");
    env.ok_stdin(
        &[
            "jwt",
            "cert",
            "--key",
            &key,
            "--out",
            &cert,
            "--passphrase-stdin",
        ],
        "s3cret pass\n",
    );
    let token = env.ok_stdin(
        &sign_minimal(&key, &["--passphrase-stdin"]),
        "s3cret pass\n",
    );
    signed(&token, &cert);
    let out = env.run_with_env(
        &sign_minimal(&key, &[]),
        &[("QTOOL_KEY_PASSPHRASE", "s3cret pass")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    signed(&String::from_utf8_lossy(&out.stdout), &cert);
    // AES-128 with HMAC-SHA1 (older OpenSSL defaults) also decrypts.
    let plain = p(&env, "plain.pem");
    openssl(&["genrsa", "-out", &plain, "2048"]);
    let aes128 = p(&env, "aes128.pem");
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        &plain,
        "-v2",
        "aes-128-cbc",
        "-v2prf",
        "hmacWithSHA1",
        "-passout",
        "pass:pw",
        "-out",
        &aes128,
    ]);
    env.ok_stdin(&sign_minimal(&aes128, &["--passphrase-stdin"]), "pw");

    // Without a passphrase, with a wrong one, and with an unsupported scheme: exit 3.
    let sign_args = sign_minimal(&key, &[]);
    let err = env.fails(&sign_args, 3);
    assert!(
        err.contains("no passphrase") && err.contains("--passphrase-stdin"),
        "{err}"
    );
    let out = env.run_with_env(&sign_args, &[("QTOOL_KEY_PASSPHRASE", "wrong")]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot be decrypted with this passphrase"),
        "{err}"
    );
    let des = p(&env, "des.pem");
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        &plain,
        "-v1",
        "PBE-SHA1-3DES",
        "-passout",
        "pass:pw",
        "-out",
        &des,
    ]);
    let out = env.run_with_env(&sign_minimal(&des, &[]), &[("QTOOL_KEY_PASSPHRASE", "pw")]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not support"));
}

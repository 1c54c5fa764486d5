//! Secrets audit: run representative commands at `-vvv` (and failing ones with `--json`), gather
//! every secret involved (tokens, passwords, the Basic header they make, private key bodies, the
//! forms session cookie, the QEM session id, signed JWTs, the Windows (NTLM) password and its NT
//! hash, the proxy session cookie it gets, a .pfx password), and require that none appears in
//! any output (nor an NTLM message or a login ticket), nor in any file but the 0600
//! credentials file, key files and session caches.

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine;

use crate::support::{Login, QSEOW_CONTEXTS, Sandbox, TestEnv, as_strs, json};

/// Runs `qtool` in one environment, keeping what ran and what it printed.
struct Transcript<'a> {
    env: &'a TestEnv,
    runs: Vec<(String, String, String)>,
}

impl Transcript<'_> {
    fn run(&mut self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.env.cmd();
        cmd.args(args);
        if let Some(s) = stdin {
            cmd.write_stdin(s);
        }
        let out = cmd.output().expect("run qtool");
        self.runs.push((
            args.join(" "),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
        out
    }

    fn ok(&mut self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "qtool {args:?} failed ({:?})\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Fully verbose.
const VVV: &str = "-vvv";

/// `-vvv --context CONTEXT ARGS...`
fn verbose_in<'a>(context: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    [&[VVV, "--context", context][..], args].concat()
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_string()
}

/// The base64 lines of a PEM private key: each one is a secret on its own.
fn pem_body_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----") && l.len() >= 32)
        .map(str::to_string)
        .collect()
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("meta").permissions().mode() & 0o777
}

/// The NT hash of a password (MD4 of its UTF-16LE bytes), in hex as tools print it.
fn nt_hash(password: &str) -> String {
    use md4::Digest;
    let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    md4::Md4::digest(&utf16)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every string leaf of a TOML document.
fn toml_strings(v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Table(t) => t.values().for_each(|v| toml_strings(v, out)),
        toml::Value::Array(a) => a.iter().for_each(|v| toml_strings(v, out)),
        _ => {}
    }
}

#[test]
fn no_secret_reaches_output_logs_or_public_files() {
    let sb = Sandbox::start(&[]);
    let env = TestEnv::new();
    let mut t = Transcript {
        env: &env,
        runs: Vec::new(),
    };
    let qseow_token = read_trim(&sb.get("/qseow/jwt/token_file"));
    let forms_password = read_trim(&sb.get("/qseow/forms/password_file"));
    let qem_user = sb.get("/qem/user");
    let qem_password = read_trim(&sb.get("/qem/password_file"));
    let qem_api_token = read_trim(&sb.get("/qem/api_token_file"));
    let wrong_password = "Wr0ng-but-still-a-Secret-77";
    let ntlm_password = read_trim(&sb.get("/qseow/windows_auth/users/1/password_file"));
    let pfx_password = "Pfx-Secret-For-The-Audit-42";
    let sandbox_key = std::fs::read_to_string(sb.get("/qseow/jwt/private_key")).expect("key");
    let client_key = std::fs::read_to_string(sb.get("/qseow/client_cert/key")).expect("key");

    // QSEoW: a fixed token from stdin, a JWT recipe, a client certificate, a forms login.
    for (name, login) in QSEOW_CONTEXTS {
        let args = sb.context_create_args(&[VVV], name, login);
        let secret = sb.context_secret(login).map(|s| s.trim().to_string());
        t.ok(&as_strs(&args), secret.as_deref());
    }
    t.ok(
        &[VVV, "context", "login", "cookie", "--password-stdin"],
        Some(&forms_password),
    );
    // QEM: a password and an API token from stdin, and a wrong password.
    for (name, login, secret) in [
        ("qem", Login::QemPassword, qem_password.as_str()),
        ("qemtoken", Login::QemApiToken, qem_api_token.as_str()),
        ("qembad", Login::QemPassword, wrong_password),
    ] {
        let args = sb.context_create_args(&[VVV], name, login);
        t.ok(&as_strs(&args), Some(secret));
    }
    // Windows authentication with a wrong password, and a .pfx client certificate.
    let args = sb.context_create_args(&[VVV], "ntlmbad", Login::QseowNtlm);
    t.ok(&as_strs(&args), Some(wrong_password));
    let pfx = env.path().join("client.pfx");
    let exported = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-export",
            "-in",
            &sb.get("/qseow/client_cert/cert"),
        ])
        .args(["-inkey", &sb.get("/qseow/client_cert/key"), "-passout"])
        .arg(format!("pass:{pfx_password}"))
        .arg("-out")
        .arg(&pfx)
        .output()
        .expect("openssl");
    assert!(exported.status.success());
    let pfx_path = pfx.to_str().expect("utf-8");
    let mut args = sb.context_create_args(&[VVV], "pfx", Login::QseowCert);
    let at = args
        .iter()
        .position(|a| a == "--client-key")
        .expect("--client-key");
    args.drain(at..at + 2);
    let at = args
        .iter()
        .position(|a| a == "--client-cert")
        .expect("--client-cert");
    args[at + 1] = pfx_path.to_string();
    args.push("--cert-password-stdin".into());
    t.ok(&as_strs(&args), Some(pfx_password));
    t.ok(&["context", "use", "bearer"], None);

    // The JWT toolkit.
    t.ok(
        &[
            VVV, "jwt", "keygen", "--out", "key.pem", "--cert", "cert.cer",
        ],
        None,
    );
    let signed = t
        .ok(
            &[
                VVV,
                "jwt",
                "sign",
                "--key",
                "key.pem",
                "--userid",
                "harry",
                "--userdirectory",
                "qsefw",
                "--audience",
                "qtool-sandbox",
            ],
            None,
        )
        .trim()
        .to_string();
    assert!(signed.starts_with("eyJ"), "{signed}");
    let signed_stdout_index = t.runs.len() - 1;
    // A token signed by a key the proxy does not trust, stored in a context.
    let args = sb.context_create_args(&[VVV], "foreign", Login::QseowToken);
    t.ok(&as_strs(&args), Some(&signed));

    // Reading contexts back.
    for args in [
        vec![VVV, "context", "get", "bearer"],
        vec![VVV, "context", "get", "qem", "--json"],
        vec![VVV, "context", "get", "cookie", "-o", "yaml"],
        vec![VVV, "context", "ls", "--json"],
    ] {
        t.ok(&args, None);
    }

    // QRS through every auth method, and an export.
    for ctx in ["bearer", "jwt", "cert", "cookie", "ntlm", "pfx"] {
        t.ok(&verbose_in(ctx, &["qrs", "app", "ls"]), None);
    }
    // The NTLM context again: its cached session cookie this time.
    t.ok(&verbose_in("ntlm", &["qrs", "about"]), None);
    let apps = json(&t.ok(&["qrs", "app", "ls", "--json"], None));
    let app_id = apps[0]["id"].as_str().expect("an app").to_string();
    t.ok(
        &[VVV, "qrs", "app", "export", &app_id, "--out", "app.qvf"],
        None,
    );

    // QEM: login, list, export; with the token too.
    t.ok(&verbose_in("qem", &["qem", "login"]), None);
    let servers = json(&t.ok(&verbose_in("qem", &["qem", "server", "ls", "--json"]), None));
    let server = servers[0]["name"].as_str().expect("a server").to_string();
    let tasks = json(&t.ok(
        &verbose_in("qem", &["qem", "task", "ls", &server, "--json"]),
        None,
    ));
    let task = tasks[0]["name"].as_str().expect("a task").to_string();
    let export = ["qem", "task", "export", &server, &task];
    let with_endpoints = ["--with-endpoints", "--out", "task.json"];
    t.ok(
        &verbose_in("qem", &[&export[..], &with_endpoints].concat()),
        None,
    );
    t.ok(
        &verbose_in("qemtoken", &["qem", "task", "ls", &server]),
        None,
    );

    // Failing authentication, as text and as JSON.
    for extra in [&[][..], &["--json"][..]] {
        for (ctx, command) in [
            ("qembad", &["qem", "server", "ls"][..]),
            ("foreign", &["qrs", "app", "ls"][..]),
            ("ntlmbad", &["qrs", "app", "ls"][..]),
        ] {
            let mut args = verbose_in(ctx, command);
            args.extend(extra);
            let out = t.run(&args, None);
            assert_eq!(
                out.status.code(),
                Some(5),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // Fully verbose logs did happen (the audit is not vacuous).
    let all_stderr: String = t.runs.iter().map(|r| r.2.as_str()).collect();
    assert!(
        all_stderr.contains("TRACE") || all_stderr.contains("DEBUG"),
        "no logs at -vvv"
    );
    assert!(
        all_stderr.to_ascii_lowercase().contains("authorization"),
        "no header logged"
    );

    // Secrets that exist only now: the forms cookie and everything else stored in credentials,
    // and the QEM session id in the cache.
    let config = env.config_dir();
    let credentials = config.join("credentials.toml");
    let stored: toml::Value =
        toml::from_str(&std::fs::read_to_string(&credentials).expect("credentials")).expect("toml");
    let mut stored_strings = Vec::new();
    toml_strings(&stored, &mut stored_strings);
    let cache_dir = config.join("cache");
    let mut cache_files = Vec::new();
    files_under(&cache_dir, &mut cache_files);
    assert!(
        !cache_files.is_empty(),
        "no QEM session cache under {}",
        cache_dir.display()
    );
    let mut session_ids = Vec::new();
    for f in &cache_files {
        let v = json(&std::fs::read_to_string(f).expect("cache"));
        if let Some(id) = v["session_id"].as_str() {
            session_ids.push(id.to_string());
        }
    }
    assert!(!session_ids.is_empty(), "no session id cached");

    let basic = |user: &str, password: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    };
    let mut secrets: Vec<(String, String)> = vec![
        ("QSEoW token".into(), qseow_token.clone()),
        ("forms password".into(), forms_password.clone()),
        ("QEM password".into(), qem_password.clone()),
        ("QEM API token".into(), qem_api_token.clone()),
        ("wrong QEM password".into(), wrong_password.to_string()),
        ("QEM Basic header".into(), basic(&qem_user, &qem_password)),
        (
            "wrong Basic header".into(),
            basic(&qem_user, wrong_password),
        ),
        ("signed JWT".into(), signed.clone()),
        ("NTLM password".into(), ntlm_password.clone()),
        ("NT hash".into(), nt_hash(&ntlm_password)),
        ("wrong NT hash".into(), nt_hash(wrong_password)),
        ("pfx password".into(), pfx_password.to_string()),
        (
            "signed JWT signature".into(),
            signed.rsplit('.').next().unwrap_or("").to_string(),
        ),
    ];
    for s in &stored_strings {
        // Every stored secret-looking value (skip short words like auth kinds).
        if s.len() >= 16 {
            secrets.push(("stored credential".into(), s.clone()));
        }
    }
    assert!(
        stored_strings.iter().any(|s| s.len() >= 16
            && !s.contains(&forms_password)
            && s != &qseow_token
            && s != &qem_password
            && s != &qem_api_token
            && s != wrong_password),
        "the forms session cookie is not in credentials.toml: {stored_strings:?}"
    );
    for id in &session_ids {
        secrets.push(("QEM session id".into(), id.clone()));
    }
    let own_key = std::fs::read_to_string(env.path().join("key.pem")).expect("key.pem");
    for (what, pem) in [
        ("generated key", &own_key),
        ("sandbox JWT key", &sandbox_key),
        ("client key", &client_key),
    ] {
        let lines = pem_body_lines(pem);
        assert!(!lines.is_empty(), "{what}: no PEM body");
        for l in lines {
            secrets.push((format!("{what} PEM line"), l));
        }
    }
    for (what, s) in &secrets {
        assert!(s.len() >= 8, "{what} is too short to audit: {s:?}");
    }

    // 1. No output of any command carries a secret (the JWT printed by `jwt sign` is its output),
    // an NTLM message (base64 of `NTLMSSP`) or a login ticket.
    for (args, _, stderr) in &t.runs {
        assert!(
            !stderr.contains("TlRMTVNT"),
            "an NTLM message in `qtool {args}`:\n{stderr}"
        );
        for (i, _) in stderr.match_indices("qlikTicket=") {
            assert!(
                stderr[i..].starts_with("qlikTicket=<redacted>"),
                "a login ticket in `qtool {args}`:\n{stderr}"
            );
        }
    }
    assert!(
        t.runs.iter().any(|r| r.2.contains("qlikTicket=<redacted>")),
        "the NTLM login was not logged"
    );
    for (i, (args, stdout, stderr)) in t.runs.iter().enumerate() {
        for (what, s) in &secrets {
            if i == signed_stdout_index && signed.contains(s.as_str()) {
                continue;
            }
            assert!(
                !stdout.contains(s.as_str()),
                "{what} on stdout of `qtool {args}`:\n{stdout}"
            );
            assert!(
                !stderr.contains(s.as_str()),
                "{what} on stderr of `qtool {args}`:\n{stderr}"
            );
        }
    }

    // 2. No file in the test's world carries one, except the private ones, which are 0600.
    let mut files = Vec::new();
    files_under(env.path(), &mut files);
    let private: Vec<PathBuf> = [credentials.clone(), env.path().join("key.pem")]
        .into_iter()
        .chain(cache_files.iter().cloned())
        .collect();
    for f in &private {
        assert!(f.exists(), "{}", f.display());
        #[cfg(unix)]
        assert_eq!(mode(f), 0o600, "{} is not 0600", f.display());
    }
    let mut checked = 0;
    for f in &files {
        if private.contains(f) {
            continue;
        }
        let bytes = std::fs::read(f).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        for (what, s) in &secrets {
            assert!(!text.contains(s.as_str()), "{what} in {}", f.display());
        }
        checked += 1;
    }
    // contexts.toml, cert.cer, app.qvf and task.json at least.
    assert!(
        checked >= 4,
        "only {checked} public files checked: {files:?}"
    );
}

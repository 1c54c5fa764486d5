//! Windows authentication (NTLM): qtool against the sandbox's default virtual proxy and its
//! authentication module, both ways against third-party code — requests-ntlm 1.3.0 logging in
//! to the sandbox, and qtool logging in to pyspnego 0.12.4's acceptor behind a small TLS server
//! (`tests/conformance/ntlm_acceptor.py`) — and the bad inputs: wrong password, no NTLM offered,
//! Kerberos only, a handshake that loops, a locked account, a connection dropped between
//! challenge and response.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::StreamExt;
use qtool::context::model::ServerType;
use qtool::http::TlsOptions;
use qtool::qrs::client::{Body, QrsClient};
use qtool::settings::{Auth, Target};
use reqwest::Method;

use crate::support::{
    Login, Sandbox, TestEnv, as_strs, assert_one_error_line, json, pip_target, repo,
};

/// requests-ntlm, pyspnego and everything they import, at exact versions (all from wheels).
const PACKAGES: &[&str] = &[
    "requests-ntlm==1.3.0",
    "pyspnego==0.12.4",
    "cryptography==50.0.2",
    "cffi==2.1.1",
    "pycparser==3.12",
    "requests==2.34.2",
    "urllib3==2.8.0",
    "idna==3.20",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
];

/// The packages under target/interop (PYTHONPATH).
fn python_path() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        pip_target(
            "requests-ntlm and pyspnego (pip)",
            PACKAGES,
            &["requests_ntlm", "spnego"],
        )
    })
}

/// A Python command with the pinned packages, and no CA bundle override from the machine
/// (requests would let REQUESTS_CA_BUNDLE override the CA the scripts are given).
fn python() -> StdCommand {
    let mut cmd = StdCommand::new("python3");
    cmd.env("PYTHONPATH", python_path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE");
    cmd
}

/// An environment with the context `ntlm` (the sandbox's service account) as the current one.
fn ntlm_env(sb: &Sandbox) -> TestEnv {
    let env = TestEnv::new();
    sb.create_context(&env, "ntlm", Login::QseowNtlm);
    env.ok(&["context", "use", "ntlm"]);
    env
}

fn service_user(sb: &Sandbox) -> String {
    sb.get("/qseow/windows_auth/users/1/user")
}

fn service_password(sb: &Sandbox) -> String {
    std::fs::read_to_string(sb.get("/qseow/windows_auth/users/1/password_file"))
        .expect("password file")
        .trim()
        .to_string()
}

/// qtool as a library: an NTLM target for the sandbox's service account.
fn ntlm_target(sb: &Sandbox) -> Target {
    Target {
        context: None,
        server: reqwest::Url::parse(&sb.get("/qseow/proxy_url")).expect("url"),
        server_type: ServerType::Windows,
        auth: Auth::Ntlm {
            user: service_user(sb),
            password: service_password(sb),
        },
        tls: TlsOptions {
            ca_cert: Some(PathBuf::from(sb.get("/ca_cert"))),
            ..TlsOptions::default()
        },
        headers: Vec::new(),
        timeout: Duration::from_secs(30),
        retries: 2,
        max_response_size: qtool::settings::DEFAULT_MAX_RESPONSE_SIZE,
    }
}

#[test]
fn one_handshake_serves_a_thousand_concurrent_requests() {
    let sb = Sandbox::start(&[]);
    // No session cache: the run starts without a cookie.
    let client = QrsClient::new(&ntlm_target(&sb)).expect("client");
    let url = client.url_for_raw("/qrs/about", &[]).expect("url");
    let answers: Vec<_> = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(
            futures_util::stream::iter(0..1000)
                .map(|_| client.json(Method::GET, url.clone(), Body::None))
                .buffer_unordered(16)
                .collect(),
        );
    for answer in &answers {
        let about = answer.as_ref().expect("GET /qrs/about");
        assert!(about.get("buildVersion").is_some(), "{about}");
    }
    assert_eq!(answers.len(), 1000);
    assert_eq!(client.login_count(), 1);
    assert_eq!(sb.stat_reaching("/windows/logins", 1), 1);
}

#[test]
fn the_session_cookie_is_cached_for_the_next_runs_and_replaced_when_it_ends() {
    let sb = Sandbox::start(&[]);
    let env = ntlm_env(&sb);
    env.ok(&["qrs", "app", "ls"]);
    assert_eq!(sb.stat_reaching("/windows/logins", 1), 1);
    // The next runs reuse the cached cookie (0600): no handshake at all.
    for _ in 0..3 {
        env.ok(&["qrs", "about"]);
    }
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(sb.stat_reaching("/windows/logins", 1), 1);
    let cache = env.config_dir().join("cache/qseow-sessions");
    let files: Vec<_> = std::fs::read_dir(&cache)
        .unwrap_or_else(|e| panic!("{}: {e}", cache.display()))
        .flatten()
        .collect();
    assert_eq!(files.len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = files[0].metadata().expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // A session the proxy no longer knows (the sandbox restarted) is replaced by one new
    // login, transparently.
    let state = sb.state_dir.clone();
    sb.stop();
    let sb = Sandbox::start_in(&state, &[]);
    let env2 = TestEnv::new();
    sb.create_context(&env2, "ntlm", Login::QseowNtlm);
    copy_dir(&cache, &env2.config_dir().join("cache/qseow-sessions"));
    env2.ok(&["--context", "ntlm", "qrs", "about"]);
    assert_eq!(sb.stat_reaching("/windows/logins", 1), 1);
    // `context rm` forgets the cached session.
    env2.ok(&["context", "rm", "ntlm"]);
    let left = std::fs::read_dir(env2.config_dir().join("cache/qseow-sessions"))
        .expect("cache")
        .count();
    assert_eq!(left, 0);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("dir").flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

#[test]
fn the_password_can_come_from_the_environment_and_channel_binding_is_sent() {
    // A hardened site: NTLM responses without the TLS channel binding are refused.
    let sb = Sandbox::start(&["--require-channel-binding"]);
    assert_eq!(sb.get("/qseow/windows_auth/channel_binding"), "required");
    let env = TestEnv::new();
    let server = sb.get("/qseow/proxy_url");
    let ca = sb.get("/ca_cert");
    let user = service_user(&sb);
    let password = service_password(&sb);
    // QTOOL_PASSWORD when creating the context...
    let out = env.run_with_env(
        &[
            "context",
            "create",
            "env",
            "--server",
            &server,
            "--ca-cert",
            &ca,
            "--auth",
            "ntlm",
            "--user",
            &user,
        ],
        &[("QTOOL_PASSWORD", password.as_str())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let about = json(&env.ok(&["--context", "env", "qrs", "about", "--json"]));
    assert!(about.get("buildVersion").is_some(), "{about}");
    // ...or when using it, over a stored wrong one.
    env.ok_stdin(
        &[
            "context",
            "create",
            "stale",
            "--server",
            &server,
            "--ca-cert",
            &ca,
            "--auth",
            "ntlm",
            "--user",
            &user,
            "--password-stdin",
        ],
        "an old password",
    );
    let out = env.run_with_env(
        &["--context", "stale", "qrs", "app", "count"],
        &[("QTOOL_PASSWORD", password.as_str())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sb.stat_reaching("/windows/logins", 2), 2);
    // The inferred auth kind: a QSEoW context with a user and a password is Windows auth.
    env.ok_stdin(
        &[
            "context",
            "create",
            "inferred",
            "--server",
            &server,
            "--ca-cert",
            &ca,
            "--user",
            &user,
            "--password-stdin",
        ],
        &password,
    );
    let shown = json(&env.ok(&["context", "get", "inferred", "--json"]));
    assert_eq!(shown["auth"], "ntlm", "{shown}");
}

#[test]
fn bad_windows_logins_are_one_line_with_an_exit_code() {
    let sb = Sandbox::start(&[]);
    let env = TestEnv::new();
    let server = sb.get("/qseow/proxy_url");
    let ca = sb.get("/ca_cert");
    let user = service_user(&sb);
    let create = |name: &str, server: &str, user: &str, password: &str| {
        env.ok_stdin(
            &[
                "context",
                "create",
                name,
                "--server",
                server,
                "--ca-cert",
                &ca,
                "--auth",
                "ntlm",
                "--user",
                user,
                "--password-stdin",
            ],
            password,
        );
    };
    // Wrong password: exit 5, the account named, never the password.
    let wrong = "Wr0ng-Passw0rd-for-svc";
    create("wrong", &server, &user, wrong);
    let err = env.fails(&["--context", "wrong", "qrs", "about"], 5);
    assert!(
        err.contains("refused the Windows login of SANDBOX\\svc_qtool"),
        "{err}"
    );
    assert!(!err.contains(wrong), "{err}");
    // An unknown user reads the same (a domain does not say which).
    create("nobody", &server, "SANDBOX\\nobody", wrong);
    env.fails(&["--context", "nobody", "qrs", "about"], 5);
    // The forms-only virtual proxy never offers Windows authentication: the User-Agent (any)
    // lands on its login form.
    create("forms", &format!("{server}/form"), &user, wrong);
    let err = env.fails(&["--context", "forms", "qrs", "about"], 5);
    assert!(
        err.contains("forms login instead of Windows authentication"),
        "{err}"
    );
    // A user name that is not DOMAIN\user is refused when the context is made.
    let out = env.run_stdin(
        &[
            "context",
            "create",
            "plain",
            "--server",
            &server,
            "--ca-cert",
            &ca,
            "--auth",
            "ntlm",
            "--user",
            "svc_qtool",
            "--password-stdin",
        ],
        "pw",
    );
    let stderr = crate::support::assert_exit(&out, 2, "plain user");
    assert!(stderr.contains("DOMAIN\\user"), "{stderr}");
    // After ten wrong passwords the account is locked, and says so, even for the right one.
    for _ in 0..9 {
        env.fails(&["--context", "wrong", "qrs", "about"], 5);
    }
    env.ok_stdin(
        &["context", "update", "wrong", "--password-stdin"],
        &service_password(&sb),
    );
    let err = env.fails(&["--context", "wrong", "qrs", "about"], 5);
    assert!(err.contains("SANDBOX\\svc_qtool is locked out"), "{err}");
    assert!(err.contains("does not retry"), "{err}");
    // The administrator is another account: not locked.
    let admin_password =
        std::fs::read_to_string(sb.get("/qseow/windows_auth/users/0/password_file"))
            .expect("password");
    create(
        "admin",
        &server,
        &sb.get("/qseow/windows_auth/users/0/user"),
        admin_password.trim(),
    );
    env.ok(&["--context", "admin", "qrs", "about"]);
}

/// The pyspnego acceptor on a port of its own, killed on drop.
struct Acceptor {
    child: Child,
    url: String,
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A certificate for 127.0.0.1 signed with SHA-384 (so the channel binding's hash is not the
/// default one), made by openssl: its PEM and key paths.
fn acceptor_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("acceptor.pem"), dir.join("acceptor.key"));
    let out = StdCommand::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-sha384", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

fn start_acceptor(dir: &Path, users: &Path, args: &[&str]) -> Acceptor {
    let (cert, key) = acceptor_certificate(dir);
    let mut child = python()
        .arg(repo().join("tests/conformance/ntlm_acceptor.py"))
        .arg(&cert)
        .arg(&key)
        .args(args)
        .env("NTLM_USER_FILE", users)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3");
    let mut port = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut port)
        .expect("the acceptor's port");
    assert!(!port.trim().is_empty(), "the acceptor did not start");
    Acceptor {
        child,
        url: format!("https://127.0.0.1:{}", port.trim()),
    }
}

#[test]
fn qtool_logs_in_to_pyspnegos_acceptor_and_reports_what_goes_wrong() {
    let dir = tempfile::tempdir().expect("dir");
    let users = dir.path().join("users.txt");
    // pyspnego's user file: DOMAIN:USER:PASSWORD.
    std::fs::write(&users, "QLIK:svc_qtool:S3cret-Pyspnego!\n").expect("users");
    let env = TestEnv::new();
    let login = |acceptor: &Acceptor, ca: &Path, password: &str| {
        let name = format!("py{}", acceptor.child.id());
        env.ok_stdin(
            &[
                "context",
                "create",
                &name,
                "--server",
                &acceptor.url,
                "--ca-cert",
                ca.to_str().expect("utf-8"),
                "--auth",
                "ntlm",
                "--user",
                "QLIK\\svc_qtool",
                "--password-stdin",
            ],
            password,
        );
        env.run(&["--context", &name, "qrs", "about"])
    };
    let ca = |d: &Path| d.join("acceptor.pem");
    for (args, password, expect) in [
        // The acceptor requires the channel binding: qtool sends it (SHA-384 certificate).
        (&["--cbt"][..], "S3cret-Pyspnego!", Ok("cookie")),
        // Only Negotiate offered, NTLM accepted inside it.
        (
            &["--mode", "negotiate"][..],
            "S3cret-Pyspnego!",
            Ok("cookie"),
        ),
        (
            &["--cbt"][..],
            "wrong",
            Err((5, "refused the Windows login of QLIK\\svc_qtool")),
        ),
        (
            &["--mode", "kerberos"][..],
            "S3cret-Pyspnego!",
            Err((5, "offers Negotiate without NTLM: it wants Kerberos")),
        ),
        (
            &["--mode", "basic"][..],
            "S3cret-Pyspnego!",
            Err((5, "does not offer NTLM")),
        ),
        (
            &["--mode", "loop"][..],
            "S3cret-Pyspnego!",
            Err((5, "does not end")),
        ),
        (
            &["--mode", "drop"][..],
            "S3cret-Pyspnego!",
            Err((
                8,
                "closed the connection between the NTLM challenge and the response",
            )),
        ),
    ] {
        let run_dir = tempfile::tempdir().expect("dir");
        let acceptor = start_acceptor(run_dir.path(), &users, args);
        let out = login(&acceptor, &ca(run_dir.path()), password);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match expect {
            Ok(text) => {
                assert!(out.status.success(), "{args:?}: {stderr}");
                assert!(stdout.contains(text), "{args:?}: {stdout}");
                assert!(stdout.contains("QLIK\\svc_qtool"), "{args:?}: {stdout}");
            }
            Err((code, text)) => {
                assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
                assert_one_error_line(&stderr);
                assert!(stderr.contains(text), "{args:?}: {stderr}");
                assert!(!stderr.contains("S3cret"), "{args:?}: {stderr}");
            }
        }
    }
}

#[test]
fn requests_ntlm_logs_in_to_the_sandbox_and_lists_apps() {
    // A hardened sandbox: requests-ntlm sends the channel binding by default.
    let sb = Sandbox::start(&["--require-channel-binding", "--seed", "apps=3,tasks=0"]);
    let out = python()
        .arg(repo().join("tests/conformance/ntlm_client.py"))
        .arg(sb.state_dir.join("sandbox.json"))
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "requests-ntlm against the sandbox failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("list 3 apps"), "{stdout}");
    assert!(
        stdout.contains("wrong password refused: HTTP 401"),
        "{stdout}"
    );
    assert_eq!(sb.stat_reaching("/windows/logins", 1), 1);
    // And the walkthrough's context command from the discovery document works as printed.
    let env = TestEnv::new();
    let command = sb.doc["contexts"]
        .as_array()
        .expect("contexts")
        .iter()
        .filter_map(|c| c.as_str())
        .find(|c| c.contains("--auth ntlm"))
        .expect("an NTLM context command")
        .to_string();
    let args = shell_words(&command);
    let (_, args) = args.split_first().expect("qtool");
    let (args, file) = args.split_at(args.len() - 2);
    assert_eq!(file[0], "<");
    let password = std::fs::read_to_string(&file[1]).expect("password file");
    env.ok_stdin(&as_strs(args), &password);
    env.ok(&["--context", "sandbox-ntlm", "qrs", "app", "ls"]);
}

/// Split a POSIX shell command with single quotes (what the discovery document prints).
fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut in_word = false;
    for c in command.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

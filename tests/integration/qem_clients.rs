//! Clients other than qtool's QEM commands against the sandbox's QEM, and qtool contexts in the
//! QEM Python SDK's three login modes:
//! - the HTTP versions the QEM listener offers (reqwest, with and without HTTP/2),
//! - the SDK's login modes (Active Directory, OpenID Connect personal access token, JWT) sent
//!   with Python `requests` exactly as the SDK builds them (pinned, installed from PyPI),
//! - the same modes as qtool contexts, with wrong secrets refused,
//! - the Michelin Ansible role itself (ansible-core pinned from PyPI; the role from
//!   `QEM_ROLE_DIR`, since its code may not be vendored here).

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::support::{
    Sandbox, TestEnv, as_strs, assert_exit, assert_ran, ensure_installed, interop_dir, json,
    pip_target, repo,
};

fn secret_file(sb: &Sandbox, pointer: &str) -> String {
    std::fs::read_to_string(sb.get(pointer))
        .expect("the sandbox's secret file")
        .trim()
        .to_string()
}

/// `host:port` of the QEM listener (the role's `qem_hostname`).
fn qem_host_port(sb: &Sandbox) -> String {
    sb.get("/qem/url")
        .trim_start_matches("https://")
        .to_string()
}

/// Run `cmd` with no proxy settings of the developer's shell (loopback must not go through one).
fn run_direct(mut cmd: StdCommand) -> Output {
    for var in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        cmd.env_remove(var);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

// ---- HTTP versions ----------------------------------------------------------------------------

#[test]
fn the_qem_listener_speaks_http1_only_and_the_proxy_http2() {
    let sb = Sandbox::start(&[]);
    let ca = std::fs::read(sb.get("/ca_cert")).expect("CA");
    let ca = reqwest::Certificate::from_pem(&ca).expect("CA PEM");
    let client = |h2_only: bool| {
        let builder = reqwest::Client::builder()
            .add_root_certificate(ca.clone())
            .no_proxy()
            .timeout(Duration::from_secs(20));
        let builder = if h2_only {
            builder.http2_prior_knowledge()
        } else {
            builder
        };
        builder.build().expect("client")
    };
    let login = format!(
        "{}/attunityenterprisemanager/api/v1/login",
        sb.get("/qem/url")
    );
    let proxy = format!("{}/jwt/qrs/about", sb.get("/qseow/proxy_url"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // A client offering h2 and http/1.1 gets HTTP/1.1 from QEM and HTTP/2 from the proxy.
        let offers_both = client(false);
        let r = offers_both.get(&login).send().await.expect("QEM answers");
        assert_eq!(r.version(), reqwest::Version::HTTP_11);
        assert_eq!(r.status(), 401, "a login without credentials");
        let r = offers_both.get(&proxy).send().await.expect("proxy answers");
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        // A client that insists on HTTP/2 cannot talk to QEM at all.
        let h2_only = client(true);
        let err = h2_only.get(&login).send().await;
        assert!(err.is_err(), "QEM served HTTP/2: {err:?}");
        let r = h2_only.get(&proxy).send().await.expect("proxy answers");
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
    });
}

// ---- the QEM Python SDK's login modes, with `requests` -----------------------------------------

/// Exact versions of `requests` and its dependencies, installed for the SDK-login script.
const REQUESTS_PACKAGES: &[&str] = &[
    "requests==2.34.2",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
    "idna==3.20",
    "urllib3==2.8.0",
];

/// `requests` under target/interop/py-<versions> (PYTHONPATH).
fn requests_path() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| pip_target("requests (pip)", REQUESTS_PACKAGES, &["requests"]))
}

#[test]
fn the_python_sdk_login_modes_sent_with_requests() {
    let sb = Sandbox::start(&[]);
    let password = secret_file(&sb, "/qem/password_file");
    let pat = secret_file(&sb, "/qem/api_token_file");
    let jwt = secret_file(&sb, "/qseow/jwt/token_file");
    for mode in ["ad", "pat", "jwt"] {
        let mut cmd = StdCommand::new("python3");
        cmd.arg(repo().join("tests/conformance/python/qem_sdk_login.py"))
            .args([sb.get("/qem/url"), sb.get("/ca_cert"), mode.to_string()])
            .env("PYTHONPATH", requests_path())
            .env("QEM_DOMAIN", "SANDBOX")
            .env("QEM_USER", "qemadmin")
            .env("QEM_PASSWORD", &password)
            .env("QEM_PAT", &pat)
            .env("QEM_JWT", &jwt);
        let report = json(&assert_ran(mode, &run_direct(cmd)));
        assert_eq!(report["login"], 200, "{mode}: {report}");
        assert_eq!(report["session"], true, "{mode}: {report}");
        assert_eq!(report["servers"], serde_json::json!(["Sandbox Replicate"]));
        // A wrong secret: 401 with QEM's error body.
        assert_eq!(report["wrong"]["status"], 401, "{mode}: {report}");
        assert_eq!(
            report["wrong"]["body"]["error_code"], "UNAUTHORIZED_REQUEST",
            "{mode}: {report}"
        );
        assert!(
            report["wrong"]["body"]["error_message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{mode}: {report}"
        );
    }
}

// ---- the same modes as qtool contexts ------------------------------------------------------

/// `qtool context create NAME` on the sandbox's QEM with `auth` flags; `secret` on stdin.
fn create_qem_context(sb: &Sandbox, env: &TestEnv, name: &str, auth: &[&str], stdin: &str) {
    let mut args = vec![
        "context".to_string(),
        "create".into(),
        name.into(),
        "--server".into(),
        sb.get("/qem/url"),
        "--server-type".into(),
        "qem".into(),
        "--ca-cert".into(),
        sb.get("/ca_cert"),
    ];
    args.extend(auth.iter().map(|a| a.to_string()));
    env.ok_stdin(&as_strs(&args), stdin);
}

#[test]
fn qtool_contexts_in_the_three_login_modes() {
    let sb = Sandbox::start(&[]);
    let env = TestEnv::new();
    let password = secret_file(&sb, "/qem/password_file");
    let pat = secret_file(&sb, "/qem/api_token_file");
    let jwt = secret_file(&sb, "/qseow/jwt/token_file");
    let ad = ["--user", "SANDBOX\\qemadmin", "--password-stdin"];
    let token = ["--auth", "api-token", "--api-key-stdin"];
    let fixed_jwt = ["--auth", "jwt", "--api-key-stdin"];
    create_qem_context(&sb, &env, "ad", &ad, &password);
    create_qem_context(&sb, &env, "pat", &token, &pat);
    create_qem_context(&sb, &env, "jwt", &fixed_jwt, &jwt);
    // The token from the environment instead of stdin.
    let args = [
        "context",
        "create",
        "pat-env",
        "--server",
        &sb.get("/qem/url"),
        "--server-type",
        "qem",
        "--ca-cert",
        &sb.get("/ca_cert"),
        "--auth",
        "api-token",
    ];
    let out = env.run_with_env(&args, &[("QTOOL_API_KEY", &pat)]);
    assert_exit(&out, 0, "context create with QTOOL_API_KEY");

    // Each context changes something; the audit trail names who QEM logged in.
    let contexts = [
        ("ad", "SANDBOX\\qemadmin"),
        ("pat", "api-token#1"),
        ("pat-env", "api-token#1"),
        ("jwt", "SANDBOX\\admin"),
    ];
    for (context, _) in contexts {
        env.ok(&[
            "--context",
            context,
            "qem",
            "server",
            "acl",
            "set",
            "Sandbox Replicate",
            "--role",
            "viewer",
            "--user",
            &format!("D\\{context}"),
        ]);
    }
    let trail = json(&env.ok(&[
        "--context",
        "ad",
        "qem",
        "audit-trail",
        "export",
        "--since",
        "1h",
    ]));
    let users: Vec<&str> = trail["audit_trail"]
        .as_array()
        .expect("audit_trail")
        .iter()
        .filter(|r| r["operation"] == "PutServerAcl")
        .map(|r| r["user"].as_str().unwrap_or(""))
        .collect();
    let expected: Vec<&str> = contexts.iter().map(|(_, user)| *user).collect();
    assert_eq!(users, expected);

    // The secrets are stored 0600 and never shown.
    let listing = env.ok(&["context", "get", "pat"]) + &env.ok(&["context", "get", "jwt"]);
    for secret in [&pat, &jwt, &password] {
        assert!(
            !listing.contains(secret.as_str()),
            "a secret is shown: {listing}"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let credentials = env.config_dir().join("credentials.toml");
        let mode = std::fs::metadata(&credentials)
            .expect("credentials")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Wrong secrets: QEM's 401 is exit 5, one line naming the login.
    let tampered_jwt = {
        let (head, sig) = jwt.rsplit_once('.').expect("a JWT");
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        format!("{head}.{flipped}{}", &sig[1..])
    };
    create_qem_context(&sb, &env, "ad-wrong", &ad, "not-the-password");
    create_qem_context(&sb, &env, "pat-wrong", &token, "not-a-token");
    create_qem_context(&sb, &env, "jwt-wrong", &fixed_jwt, &tampered_jwt);
    for context in ["ad-wrong", "pat-wrong", "jwt-wrong"] {
        let err = env.fails(&["--context", context, "qem", "server", "ls"], 5);
        assert!(err.contains("QEM refused the login"), "{context}: {err}");
    }
}

// ---- the Michelin Ansible role ---------------------------------------------------------------

/// ansible-core and its dependencies, exactly (2.19 is the last line that runs on Python 3.11).
const ANSIBLE_PACKAGES: &[&str] = &[
    "ansible-core==2.19.14",
    "Jinja2==3.1.6",
    "MarkupSafe==3.0.4",
    "PyYAML==6.0.4",
    "cryptography==50.0.2",
    "cffi==2.1.1",
    "pycparser==3.12",
    "packaging==26.4",
    "resolvelib==1.2.1",
];

/// A venv with ansible-core under target/interop/ansible-<versions>. Its scripts are run as
/// `<venv>/bin/python3 <venv>/bin/ansible-playbook`: the venv is built in a temporary folder
/// and renamed, which breaks the scripts' `#!` lines but not the interpreter.
fn ansible_venv() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dest = interop_dir().join(format!("ansible-{}", ANSIBLE_PACKAGES.join("-")));
        ensure_installed(
            "ansible-core (pip, in a venv)",
            &dest,
            |dir| {
                StdCommand::new(dir.join("bin").join("python3"))
                    .args([
                        "-c",
                        "import ansible.release as r; assert r.__version__ == '2.19.14'",
                    ])
                    .output()
                    .is_ok_and(|o| o.status.success())
            },
            |tmp| {
                let venv = StdCommand::new("python3")
                    .args(["-m", "venv"])
                    .arg(tmp)
                    .output()
                    .expect("python3 with the venv module must be installed");
                if !venv.status.success() {
                    return venv;
                }
                StdCommand::new(tmp.join("bin").join("python3"))
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .args(ANSIBLE_PACKAGES)
                    .output()
                    .expect("the venv's python3")
            },
        );
        dest
    })
}

/// The role checkout named by `QEM_ROLE_DIR`; a missing or wrong one fails the test.
fn role_dir() -> PathBuf {
    let dir = std::env::var_os("QEM_ROLE_DIR").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "QEM_ROLE_DIR is not set: `git clone https://github.com/michelin/qlik.enterprise-manager` \
             and set QEM_ROLE_DIR to the clone (its code may not be vendored in this repository)"
        )
    });
    for needed in ["library/qem_server.py", "module_utils/aem_client.py"] {
        assert!(
            dir.join(needed).is_file(),
            "QEM_ROLE_DIR={} is not a checkout of michelin/qlik.enterprise-manager (no {needed})",
            dir.display()
        );
    }
    dir
}

/// What the playbook needs besides the role: `-e` variables and ~/.qem/credentials (profiles
/// `default` and `dev` with the real password, `wrong` with another), both 0600.
fn write_role_inputs(sb: &Sandbox, env: &TestEnv, work: &Path) -> PathBuf {
    let host = qem_host_port(sb);
    let password = secret_file(sb, "/qem/password_file");
    let vars = work.join("vars.json");
    let doc = serde_json::json!({
        "qem_hostname": host,
        "qem_domain": "SANDBOX",
        "qem_username": "qemadmin",
        "qem_password": password,
    });
    write_private(&vars, &doc.to_string());
    let profile = |name: &str, password: &str| {
        format!(
            "[{name}]\nqem_hostname = {host}\nqem_domain = SANDBOX\nqem_username = qemadmin\n\
             qem_password = {password}\nqem_verify_certificate = True\n\n"
        )
    };
    let credentials = [
        profile("default", &password),
        profile("dev", &password),
        profile("wrong", "not-the-password"),
    ]
    .concat();
    let dir = env.home().join(".qem");
    std::fs::create_dir_all(&dir).expect("~/.qem");
    write_private(&dir.join("credentials"), &credentials);
    vars
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

/// `ansible-playbook PLAYBOOK` with the role's modules, against the sandbox's QEM, as it would
/// run for a user: TLS verified against the sandbox CA (`SSL_CERT_FILE`), HOME in `env`.
fn ansible_playbook(sb: &Sandbox, env: &TestEnv, role: &Path, playbook: &Path) -> Output {
    let work = env.path().join("ansible");
    std::fs::create_dir_all(&work).expect("work dir");
    let vars = write_role_inputs(sb, env, &work);
    let venv = ansible_venv();
    let python = venv.join("bin").join("python3");
    let mut cmd = StdCommand::new(&python);
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("ANSIBLE_") || key_text.starts_with("QEM_") {
            cmd.env_remove(&key);
        }
    }
    cmd.arg(venv.join("bin").join("ansible-playbook"))
        .args(["-i", "localhost,", "-c", "local", "-e"])
        .arg(format!("@{}", vars.display()))
        .arg(playbook)
        .current_dir(&work)
        .env("HOME", env.home())
        .env("ANSIBLE_LIBRARY", role.join("library"))
        .env("ANSIBLE_MODULE_UTILS", role.join("module_utils"))
        // Interpreter discovery may pick a python the machine does not have.
        .env("ANSIBLE_PYTHON_INTERPRETER", &python)
        .env("ANSIBLE_LOCAL_TEMP", work.join("tmp"))
        .env("ANSIBLE_HOME", work.join(".ansible"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
        .env("SSL_CERT_FILE", sb.get("/ca_cert"));
    run_direct(cmd)
}

#[test]
#[ignore = "needs QEM_ROLE_DIR: a checkout of the Michelin role, which may not be vendored"]
fn michelin_role_conformance() {
    let role = role_dir();
    let sb = Sandbox::start(&[]);
    let env = sb.qem_env();
    let playbook = repo().join("tests/conformance/ansible/qem_role.yml");
    let out = ansible_playbook(&sb, &env, &role, &playbook);
    let log = assert_ran("ansible-playbook qem_role.yml", &out);
    assert!(log.contains("failed=0"), "{log}");

    // The end state, read with qtool: every name as written, none percent-encoded.
    let servers = json(&env.ok(&["qem", "server", "ls", "--json"]));
    let names: Vec<&str> = servers
        .as_array()
        .expect("servers")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["Sandbox Replicate", "My Sample Server"]);
    let def = json(&env.ok(&["qem", "server", "def", "My Sample Server", "--json"]));
    assert_eq!(def["description"], "Created By Ansible", "never updated");
    assert_eq!(def["host"], "rep2.sandbox.local");

    let acl = json(&env.ok(&["qem", "server", "acl", "get", "My Sample Server", "--json"]));
    let accounts = |role: &str, kind: &str| -> Vec<String> {
        acl[role][kind]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["name"].as_str().or(x.as_str()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(accounts("admin_role", "users"), ["CONTOSO\\User1"], "{acl}");
    assert_eq!(
        accounts("designer_role", "users"),
        ["CONTOSO\\User2"],
        "{acl}"
    );
    assert_eq!(
        accounts("viewer_role", "groups"),
        ["CONTOSO\\Group"],
        "{acl}"
    );

    let endpoints = json(&env.ok(&["qem", "endpoint", "ls", "My Sample Server", "--json"]));
    let endpoint_names: Vec<&str> = endpoints
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| e["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        endpoint_names,
        ["My Sample Target"],
        "the role's dummies are gone too"
    );
    let tasks = json(&env.ok(&["qem", "task", "ls", "My Sample Server", "--json"]));
    assert_eq!(tasks, serde_json::json!([]));

    let all: Value = json(&env.ok(&["qem", "server", "export-all", "My Sample Server"]));
    assert_eq!(
        all["cmd.replication_definition"]["notification_settings"]["smtp_server"],
        "mail.contoso.com"
    );
}

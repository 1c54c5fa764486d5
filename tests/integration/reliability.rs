//! Reliability: every bad input of docs/errors.md that no other test covers (exact message, exit
//! code, one line), kill -9 in the middle of large downloads, and the sandbox's fault injection
//! against read-only, idempotent and non-idempotent commands.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    Login, Sandbox, TestEnv, apply, assert_exit, canned_server, first_server, forwarder, json,
    manifest_without_start, write, write_definitions,
};

// ---- helpers ---------------------------------------------------------------------------------

fn http_response(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Exit code `code`, and stderr is exactly one line: `error: ...` containing every `needle`.
fn one_line_error(out: &Output, code: i32, needles: &[&str], what: &str) -> String {
    let stderr = assert_exit(out, code, what);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: stderr is not one line:\n{stderr}");
    assert!(lines[0].starts_with("error: "), "{what}: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{what}: `{n}` missing from: {stderr}");
    }
    stderr
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

// ---- bad inputs --------------------------------------------------------------------------------

#[test]
fn network_tls_and_server_failures_are_one_line() {
    let sb = Sandbox::start(&[]);
    let env = TestEnv::new();
    let token = std::fs::read_to_string(sb.get("/qseow/jwt/token_file")).expect("token");
    let token = token.trim();
    let jwt_url = sb.get("/qseow/jwt_url");
    let ca = sb.get("/ca_cert");
    let key = [("QTOOL_API_KEY", token)];

    // Refused connection: a port nobody listens on (bound, then closed).
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = format!("https://127.0.0.1:{closed}/jwt");
    let out = env.run_with_env(
        &[
            "--server",
            &url,
            "--ca-cert",
            &ca,
            "--retries",
            "1",
            "qrs",
            "about",
        ],
        &key,
    );
    one_line_error(
        &out,
        8,
        &["connection refused by 127.0.0.1:", "is the server running"],
        "closed port",
    );

    // TLS: no --ca-cert, a CA that did not sign the server, a host name the certificate lacks.
    let out = env.run_with_env(&["--server", &jwt_url, "qrs", "about"], &key);
    one_line_error(
        &out,
        9,
        &["not signed by a trusted authority", "--ca-cert"],
        "no --ca-cert",
    );
    let out = env.run_with_env(
        &[
            "--server",
            &jwt_url,
            "--ca-cert",
            &sb.get("/qseow/jwt/certificate"),
            "qrs",
            "about",
        ],
        &key,
    );
    one_line_error(&out, 9, &["not signed by a trusted authority"], "wrong CA");
    let proxy = jwt_url
        .trim_start_matches("https://")
        .split('/')
        .next()
        .expect("host:port")
        .to_string();
    if let Some(other) = forwarder(&proxy, "127.0.0.2") {
        let out = env.run_with_env(
            &[
                "--server",
                &format!("{other}/jwt"),
                "--ca-cert",
                &ca,
                "qrs",
                "about",
            ],
            &key,
        );
        one_line_error(&out, 9, &["127.0.0.2"], "wrong host name");
    }

    // Canned answers the sandbox never gives.
    let html500 = canned_server(http_response(
        "500 Internal Server Error",
        "text/html",
        "<html><body><h1>Oops</h1></body></html>",
    ));
    let out = env.run_with_env(
        &[
            "--server",
            &format!("{html500}/jwt"),
            "--retries",
            "0",
            "qrs",
            "about",
        ],
        &key,
    );
    one_line_error(
        &out,
        10,
        &["GET /jwt/qrs/about failed with HTTP 500", "retry later"],
        "QRS 500 with HTML",
    );
    let garbage = canned_server(http_response(
        "200 OK",
        "application/json",
        "not json at all",
    ));
    let out = env.run_with_env(
        &["--server", &format!("{garbage}/jwt"), "qrs", "app", "ls"],
        &key,
    );
    one_line_error(
        &out,
        10,
        &["GET /jwt/qrs/app returned invalid JSON", "not json at all"],
        "QRS 200 non-JSON",
    );
    let forbidden = canned_server(http_response(
        "403 Forbidden",
        "text/plain",
        "Access denied",
    ));
    let out = env.run_with_env(
        &["--server", &format!("{forbidden}/jwt"), "qrs", "app", "ls"],
        &key,
    );
    one_line_error(&out, 5, &["HTTP 403"], "QRS 403");
    let out = env.run_with_env(
        &[
            "--server",
            &html500,
            "--server-type",
            "qem",
            "--retries",
            "0",
            "qem",
            "server",
            "ls",
        ],
        &key,
    );
    one_line_error(
        &out,
        10,
        &[
            "QEM login failed with HTTP 500: <html>",
            "Enterprise Manager logs",
        ],
        "QEM 500 login",
    );
    let out = env.run_with_env(
        &[
            "--server",
            &garbage,
            "--server-type",
            "qem",
            "qem",
            "server",
            "ls",
        ],
        &key,
    );
    one_line_error(
        &out,
        10,
        &["without an EnterpriseManager.APISessionID header"],
        "QEM 200 non-API",
    );
    let unauthorized = canned_server(http_response(
        "401 Unauthorized",
        "text/html",
        "<html>401</html>",
    ));
    let out = env.run_with_env(
        &[
            "--server",
            &unauthorized,
            "--server-type",
            "qem",
            "qem",
            "server",
            "ls",
        ],
        &key,
    );
    one_line_error(&out, 5, &["QEM refused the login"], "QEM 401 HTML");

    // 404s, straight to the JWT virtual proxy.
    let direct = ["--server", jwt_url.as_str(), "--ca-cert", ca.as_str()];
    for (command, needle, what) in [
        (
            &["qrs", "app", "get", "00000000-0000-0000-0000-000000000000"][..],
            "no app with id 00000000-0000-0000-0000-000000000000",
            "QRS 404 app",
        ),
        (
            &["qrs", "raw", "GET", "/qrs/nosuchthing"][..],
            "GET /jwt/qrs/nosuchthing failed with HTTP 404",
            "QRS 404 raw",
        ),
    ] {
        let out = env.run_with_env(&[&direct[..], command].concat(), &key);
        one_line_error(&out, 6, &[needle], what);
    }

    // A token signed by a key the virtual proxy does not trust.
    env.ok(&["jwt", "keygen", "--out", "foreign.pem"]);
    let foreign = env
        .ok(&[
            "jwt",
            "sign",
            "--key",
            "foreign.pem",
            "--userid",
            "admin",
            "--userdirectory",
            "SANDBOX",
            "--audience",
            "qtool-sandbox",
        ])
        .trim()
        .to_string();
    let foreign_key = [("QTOOL_API_KEY", foreign.as_str())];
    let out = env.run_with_env(&[&direct[..], &["qrs", "about"]].concat(), &foreign_key);
    one_line_error(
        &out,
        5,
        &["HTTP 401: JWT signature invalid", "sign a new one"],
        "foreign-signed JWT",
    );
    // --json: the same failure as one JSON object.
    let out = env.run_with_env(
        &[&direct[..], &["--json", "qrs", "about"]].concat(),
        &foreign_key,
    );
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let doc = json(&stderr);
    assert_eq!(doc["error"]["class"], "auth", "{doc}");
    assert_eq!(doc["error"]["exit_code"], 5, "{doc}");
}

#[test]
fn malformed_files_are_one_line_with_exit_3_or_4() {
    let sb = Sandbox::start(&[]);
    let env = sb.qem_env();
    let dir = env.path();
    // credentials.toml that is not TOML at all (contexts.toml and wrong types: context.rs).
    let cred = env.config_dir().join("credentials.toml");
    let saved = std::fs::read(&cred).expect("credentials");
    std::fs::write(&cred, "[qem\npassword = \"x\"\n").expect("write");
    let out = env.run(&["qem", "server", "ls"]);
    one_line_error(
        &out,
        4,
        &["credentials.toml", "line 1"],
        "malformed credentials.toml",
    );
    assert_eq!(
        std::fs::read(&cred).expect("read"),
        b"[qem\npassword = \"x\"\n",
        "left alone"
    );
    std::fs::write(&cred, saved).expect("restore");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    // Manifests.
    for (file, text, needles) in [
        (
            "bad.toml",
            "tasks = [\n",
            &[
                "bad.toml is not valid TOML",
                "line 1, column 10",
                "docs/qem-apply.md",
            ][..],
        ),
        (
            "bad.yaml",
            "tasks:\n  - [oops\n",
            &["bad.yaml is not valid YAML", "docs/qem-apply.md"][..],
        ),
        (
            "unknown.toml",
            "[[tasks]]\nserver = \"s\"\nname = \"t\"\ndefinition = \"t.json\"\nfrobnicate = 1\n",
            &["unknown field `frobnicate`"][..],
        ),
        ("vars.toml", "vars = 3\n", &["`vars` must be a table"][..]),
        (
            "unclosed.toml",
            "[[tasks]]\nserver = \"${site\"\nname = \"t\"\ndefinition = \"t.json\"\n",
            &["unclosed `${`"][..],
        ),
        (
            "undefined.toml",
            "[[tasks]]\nserver = \"${nowhere}\"\nname = \"t\"\ndefinition = \"t.json\"\n",
            &["variable `nowhere` is not defined"][..],
        ),
    ] {
        let m = write(dir, file, text);
        let out = env.run(&["qem", "apply", "-f", m.to_str().expect("utf-8")]);
        one_line_error(&out, 3, needles, file);
    }

    // Task definitions that are not JSON, for import and for apply.
    let server = first_server(&env);
    write(dir, "broken.json", "{\"cmd.replication_definition\": \n");
    let out = env.run(&["qem", "task", "import", &server, "broken.json"]);
    one_line_error(
        &out,
        3,
        &[
            "broken.json: not a task definition (JSON)",
            "qtool qem task export",
        ],
        "broken task JSON",
    );
    let out = env
        .cmd()
        .args(["qem", "task", "import", &server, "-"])
        .write_stdin("<html>")
        .output()
        .expect("run");
    one_line_error(
        &out,
        3,
        &["not a task definition (JSON)"],
        "HTML as task JSON on stdin",
    );
    let m = write(
        dir,
        "apply-broken.toml",
        &format!("[[tasks]]\nserver = \"{server}\"\nname = \"x\"\ndefinition = \"broken.json\"\n"),
    );
    let out = env.run(&["qem", "apply", "-f", m.to_str().expect("utf-8")]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a task definition (JSON)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- kill -9 -------------------------------------------------------------------------------------

/// Kill -9 once `ready` says so (or after `limit`), and return whether the kill came first.
fn kill_when(mut child: std::process::Child, limit: Duration, ready: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if ready() || started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn kill_9_during_a_large_app_export_leaves_no_file_under_the_final_name() {
    let sb = Sandbox::start(&[]);
    let env = sb.qrs_env();
    // A 200 MB QVF with a recognisable pattern.
    let size: usize = 200 * 1024 * 1024;
    let big = env.path().join("big.qvf");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).expect("create"));
        let block: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        for i in 0..200u8 {
            let mut b = block.clone();
            b[0] = i;
            f.write_all(&b).expect("write");
        }
    }
    let id = json(&env.ok(&[
        "qrs",
        "app",
        "import",
        big.to_str().expect("utf-8"),
        "--name",
        "Big",
        "--json",
    ]))["id"]
        .as_str()
        .expect("id")
        .to_string();
    let out_dir = env.path().join("out");
    std::fs::create_dir_all(&out_dir).expect("out dir");
    let final_path = out_dir.join("big-copy.qvf");
    for attempt in 0..3 {
        let child = env
            .std_cmd()
            .args(["qrs", "app", "export", &id, "--out"])
            .arg(&final_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let dir = out_dir.clone();
        // Kill once a temp file holds some data (mid-download).
        let killed = kill_when(child, Duration::from_secs(120), || {
            std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| {
                    e.metadata()
                        .map(|m| m.len() > 4 * 1024 * 1024)
                        .unwrap_or(false)
                })
        });
        assert!(
            killed,
            "attempt {attempt}: the export finished before it could be killed"
        );
        assert!(
            !final_path.exists(),
            "attempt {attempt}: a killed export left {}",
            final_path.display()
        );
        for name in files_in(&out_dir) {
            assert!(
                name.starts_with('.'),
                "attempt {attempt}: non-hidden leftover {name}"
            );
        }
    }
    env.ok(&[
        "qrs",
        "app",
        "export",
        &id,
        "--out",
        final_path.to_str().expect("utf-8"),
    ]);
    let copy = std::fs::read(&final_path).expect("export");
    assert_eq!(copy.len(), size);
    assert!(
        copy == std::fs::read(&big).expect("original"),
        "the export differs from the upload"
    );
}

#[test]
fn kill_9_during_qem_task_export_all_leaves_only_complete_files() {
    let sb = Sandbox::start(&["--seed", "apps=1,tasks=1,qem-tasks=60", "--latency", "30ms"]);
    let env = sb.qem_env();
    let server = first_server(&env);
    let total = json(&env.ok(&["qem", "task", "ls", &server, "--json"]))
        .as_array()
        .expect("array")
        .len();
    assert!(total >= 60, "{total}");
    let dir = env.path().join("tasks");
    let child = env
        .std_cmd()
        .args(["qem", "task", "export", &server, "--all", "--dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let watched = dir.clone();
    let killed = kill_when(child, Duration::from_secs(60), || {
        files_in(&watched).len() >= 5
    });
    assert!(killed, "the export finished before it could be killed");
    let names = files_in(&dir);
    assert!(
        names.len() < total,
        "everything was written before the kill"
    );
    for name in &names {
        if name.starts_with('.') {
            continue;
        }
        let text = std::fs::read_to_string(dir.join(name)).expect("read");
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is corrupt: {e}"));
        assert!(v.get("cmd.replication_definition").is_some(), "{name}");
    }
    env.ok(&[
        "qem",
        "task",
        "export",
        &server,
        "--all",
        "--dir",
        dir.to_str().expect("utf-8"),
    ]);
    let complete: Vec<String> = files_in(&dir)
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(complete.len(), total, "{complete:?}");
    for name in &complete {
        let text = std::fs::read_to_string(dir.join(name)).expect("read");
        serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{name} is corrupt: {e}"));
    }
}

// ---- fault injection ---------------------------------------------------------------------------

/// Stop the sandbox and return the faults it counted (stats.json, and its last log line).
/// Start it with `start_in` a directory that outlives it.
fn faults_injected(sb: Sandbox) -> u64 {
    let state_dir = sb.state_dir.clone();
    let status = sb.stop();
    assert!(status.success(), "{status}");
    let stats = json(&std::fs::read_to_string(state_dir.join("stats.json")).expect("stats.json"));
    let log = std::fs::read_to_string(state_dir.with_extension("log")).expect("log");
    let n = stats["faults_injected"].as_u64().expect("count");
    assert!(log.contains(&format!("faults injected: {n}")), "{log}");
    n
}

#[test]
fn commands_hold_under_ten_percent_faults() {
    let keep = tempfile::tempdir().expect("temp dir");
    let sb = Sandbox::start_in(
        &keep.path().join("state"),
        // Seeded: the same requests meet the same faults on every machine.
        &[
            "--fault-rate",
            "0.1",
            "--fault-seed",
            "3",
            "--seed",
            "apps=5,tasks=3",
        ],
    );
    let env = sb.qrs_env();
    let r = ["--retries", "8"];
    let ok = |args: &[&str]| {
        let mut all = r.to_vec();
        all.extend_from_slice(args);
        env.ok(&all)
    };
    // Read-only and idempotent QRS commands.
    let apps = json(&ok(&["qrs", "app", "ls", "--json"]));
    let app = apps[0]["id"].as_str().expect("app").to_string();
    for _ in 0..3 {
        ok(&["qrs", "about"]);
        ok(&["qrs", "app", "ls", "-q"]);
        ok(&["qrs", "app", "count"]);
        ok(&["qrs", "app", "get", &app]);
        ok(&["qrs", "stream", "ls"]);
        ok(&["qrs", "reloadtask", "ls"]);
        ok(&["qrs", "servicestatus"]);
    }
    ok(&["qrs", "app", "export", &app, "--out", "a.qvf"]);
    ok(&[
        "qrs",
        "app",
        "export",
        "--filter",
        "name ne ''",
        "--dir",
        "all",
    ]);
    assert_eq!(
        files_in(&env.path().join("all"))
            .iter()
            .filter(|n| !n.starts_with('.'))
            .count(),
        apps.as_array().expect("array").len()
    );

    // Non-idempotent: each import/create succeeds once or fails with one line, never twice.
    std::fs::write(env.path().join("small.qvf"), vec![7u8; 64 * 1024]).expect("write");
    let (mut created, mut failed) = (0, 0);
    // Run one non-idempotent command, then count the objects named `name` of `resource`.
    let mut create_once = |resource: &str, name: &str, command: &[&str]| {
        let mut args = vec!["--retries", "8"];
        args.extend_from_slice(command);
        let out = env.run(&args);
        let filter = format!("name eq '{name}'");
        let count: usize = ok(&["qrs", resource, "count", "--filter", &filter])
            .trim()
            .parse()
            .expect("count");
        if out.status.success() {
            created += 1;
            assert_eq!(count, 1, "{name}: created once, found {count}");
        } else {
            failed += 1;
            one_line_error(&out, out.status.code().unwrap_or(-1), &[], name);
            assert!(count <= 1, "{name}: a failed call left {count} {resource}s");
        }
    };
    for i in 0..12 {
        let name = format!("imported {i}");
        create_once(
            "app",
            &name,
            &["qrs", "app", "import", "small.qvf", "--name", &name],
        );
        let task = format!("reload {i}");
        create_once(
            "reloadtask",
            &task,
            &[
                "qrs",
                "reloadtask",
                "create",
                "--app",
                &app,
                "--name",
                &task,
            ],
        );
    }
    assert!(
        created > 0,
        "no non-idempotent call ever succeeded ({failed} failed)"
    );

    // QEM: reads, then a full apply and a no-op re-apply through the same faults.
    sb.create_context_with_flags(&env, &["--retries", "8"], "qem", Login::QemPassword);
    let q = |args: &[&str]| {
        let mut all = vec!["--context", "qem", "--retries", "8"];
        all.extend_from_slice(args);
        env.ok(&all)
    };
    let server = json(&q(&["qem", "server", "ls", "--json"]))[0]["name"]
        .as_str()
        .expect("server")
        .to_string();
    for _ in 0..3 {
        q(&["qem", "server", "ls"]);
        q(&["qem", "task", "ls", &server]);
    }
    q(&[
        "qem",
        "task",
        "export",
        &server,
        "--all",
        "--dir",
        "qem-tasks",
    ]);
    let dir = env.path().join("apply");
    std::fs::create_dir_all(&dir).expect("dir");
    let tasks = write_definitions(&dir, 10, "faulty", "s", "d");
    // Without `run = "started"`: a start after a dropped connection is reported, not repeated.
    let m = manifest_without_start(&dir, "Faulty", &tasks);
    env.ok(&["context", "use", "qem"]);
    let s = apply(&env, &m, &["--retries", "8"]);
    assert_eq!(s["failed"], 0, "{s}");
    let s = apply(&env, &m, &["--retries", "8"]);
    assert_eq!(s["changed"], false, "{s}");

    let n = faults_injected(sb);
    eprintln!("faults injected: {n}");
    // One fault roll per request and per QEM session check; with this seed about 20 of them fail
    // a request or a session (the concurrent apply can shift it). A handful proves they were met.
    assert!(n >= 5, "only {n} faults injected");
}

/// Sessions slide (1 s of idleness ends one) and 20% of session checks expire it on the spot:
/// 40 tasks make some 45 checks (one request per task and a few more), so the apply must log in
/// again mid-run (P(no expiry) = 0.8^45 < 0.01%; at 10% it was about 1%, and it happened).
#[test]
fn session_expiry_with_latency_and_faults_mid_apply_recovers() {
    let keep = tempfile::tempdir().expect("temp dir");
    let sb = Sandbox::start_in(
        &keep.path().join("state"),
        &[
            "--session-ttl",
            "1s",
            "--latency",
            "40ms",
            "--fault-rate",
            "0.2",
        ],
    );
    let env = sb.qem_env();
    let dir = env.path();
    let tasks = write_definitions(dir, 40, "slow", "s", "d");
    // No `run = "started"`: starting a task is not repeatable after a dropped connection (the
    // commands test covers that); this one is about sessions.
    let m = manifest_without_start(dir, "Slow", &tasks);
    let s = apply(&env, &m, &["--concurrency", "1", "--retries", "8"]);
    assert_eq!(s["failed"], 0, "{s}");
    assert!(
        s["logins"].as_u64().unwrap_or(0) >= 2,
        "the session never expired mid-run: {s}"
    );
    let s = apply(&env, &m, &["--retries", "8"]);
    assert_eq!(s["changed"], false, "{s}");
    let n = faults_injected(sb);
    eprintln!("faults injected: {n}");
}

//! `qtool qrs ...`: every QRS path qtool calls exists in the QRS OpenAPI spec; the commands
//! against the sandbox (each verb, each auth method, faults, TLS, conflicts).

use std::collections::HashSet;

use serde_json::Value;

use qtool::qrs::endpoints;
use qtool::qrs::resources::{Op, ResourceKind};

/// The QRS Swagger file vendored beside the emulator (tests read it; qtool does not).
fn spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/qtool-sandbox/spec/qrs-repository-api.swagger.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("spec is JSON")
}

fn has(spec: &Value, method: &str, template: &str) -> bool {
    spec["paths"]
        .get(template)
        .and_then(|p| p.get(method.to_ascii_lowercase()))
        .is_some()
}

#[test]
fn every_qrs_path_qtool_calls_is_in_the_spec() {
    let spec = spec();
    let mut checked = HashSet::new();
    let mut missing = Vec::new();
    for e in endpoints::ALL {
        checked.insert((e.method.to_string(), e.template.to_string()));
        if !has(&spec, e.method, e.template) {
            missing.push(format!("{} {}", e.method, e.template));
        }
    }
    for r in ResourceKind::ALL {
        for op in Op::ALL {
            if r.supports(op) {
                let t = r.template(op);
                checked.insert((op.method().to_string(), t.clone()));
                if !has(&spec, op.method(), &t) {
                    missing.push(format!("{} {t} ({})", op.method(), r.name()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "not in the QRS spec: {missing:#?}");
    assert!(checked.len() > 100, "only {} paths checked", checked.len());
}

#[test]
fn required_resources_are_all_there() {
    use ResourceKind as K;
    for kind in [
        K::App,
        K::Stream,
        K::Tag,
        K::User,
        K::ReloadTask,
        K::Task,
        K::ExecutionResult,
        K::ExecutionSession,
        K::SchemaEvent,
        K::CompositeEvent,
        K::CustomPropertyDefinition,
        K::DataConnection,
        K::Extension,
        K::ContentLibrary,
        K::SystemRule,
        K::VirtualProxyConfig,
        K::UserDirectory,
    ] {
        assert!(
            kind.supports(Op::List) && kind.supports(Op::Full),
            "{kind:?}"
        );
    }
}

// ---- against the sandbox ---------------------------------------------------------------------

use crate::support::{QSEOW_CONTEXTS, Sandbox, TestEnv, json};

/// A sandbox plus an environment with one context per auth method:
/// `bearer` (token file), `jwt` (signed per run), `cert` (client certificate), `cookie` (forms
/// login), `ntlm` (Windows authentication on the default virtual proxy).
struct Site {
    sb: Sandbox,
    env: TestEnv,
}

impl Site {
    fn start(extra: &[&str]) -> Site {
        Site::setup(extra, true)
    }

    /// `forms_login` runs the forms login for the `cookie` context (a POST, which is not
    /// retried: skip it when the sandbox injects faults).
    fn setup(extra: &[&str], forms_login: bool) -> Site {
        let sb = Sandbox::start(extra);
        let env = TestEnv::new();
        for (name, login) in QSEOW_CONTEXTS {
            sb.create_context(&env, name, login);
        }
        if forms_login {
            let password =
                std::fs::read_to_string(sb.get("/qseow/forms/password_file")).expect("password");
            env.ok_stdin(
                &["context", "login", "cookie", "--password-stdin"],
                &password,
            );
        }
        env.ok(&["context", "use", "bearer"]);
        Site { sb, env }
    }

    fn ok(&self, args: &[&str]) -> String {
        self.env.ok(args)
    }
    fn fails(&self, args: &[&str], code: i32) -> String {
        self.env.fails(args, code)
    }
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        json(&self.ok(&all))
    }
    fn sign(&self, extra: &[&str]) -> String {
        let key = self.sb.get("/qseow/jwt/private_key");
        let mut args = vec![
            "jwt",
            "sign",
            "--key",
            &key,
            "--userid",
            "admin",
            "--userdirectory",
            "SANDBOX",
        ];
        args.extend_from_slice(extra);
        self.ok(&args).trim().to_string()
    }
    fn first_app(&self) -> Value {
        self.json(&["qrs", "app", "ls"])[0].clone()
    }
}

/// `qrs app export` of every app (the filter matches all).
const EXPORT_EVERY_APP: [&str; 5] = ["qrs", "app", "export", "--filter", "name ne ''"];

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

#[test]
fn app_ls_table_json_and_ids() {
    let site = Site::start(&[]);
    let apps = site.json(&["qrs", "app", "ls"]);
    let list = apps.as_array().expect("array");
    assert!(!list.is_empty());
    for field in [
        "id",
        "name",
        "publishTime",
        "published",
        "stream",
        "availabilityStatus",
    ] {
        assert!(list[0].get(field).is_some(), "{field} in {}", list[0]);
    }
    let table = site.ok(&["qrs", "app", "ls"]);
    let header = table.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("ID") && header.contains("NAME") && header.contains("STREAM"),
        "{table}"
    );
    // Enum ints become names in tables.
    assert!(
        !table
            .lines()
            .nth(1)
            .unwrap_or_default()
            .trim_end()
            .ends_with(char::is_numeric),
        "{table}"
    );
    let ids = site.ok(&["qrs", "app", "ls", "-q"]);
    assert_eq!(ids.lines().count(), list.len());
    assert_eq!(ids.lines().next().unwrap(), list[0]["id"].as_str().unwrap());
    // --full, --filter, --orderby, count.
    let full = site.json(&["qrs", "app", "ls", "--full"]);
    assert!(full[0].get("owner").is_some() && full[0].get("fileSize").is_some());
    let published = site.json(&["qrs", "app", "ls", "--filter", "published eq true"]);
    assert!(
        published
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["published"] == true)
    );
    let count = site.ok(&["qrs", "app", "count", "--filter", "published eq true"]);
    assert_eq!(
        count.trim(),
        published.as_array().unwrap().len().to_string()
    );
    let sorted = site.json(&["qrs", "app", "ls", "--orderby", "name desc"]);
    let names: Vec<String> = sorted
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_lowercase())
        .collect();
    let mut expected = names.clone();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, expected);
    let one = site.json(&["qrs", "app", "get", &id_of(&list[0])]);
    assert_eq!(one["id"], list[0]["id"]);
    site.fails(
        &["qrs", "app", "get", "00000000-0000-0000-0000-000000000001"],
        6,
    );
}

#[test]
fn verbose_logs_requests_without_secrets() {
    let site = Site::start(&[]);
    let token = std::fs::read_to_string(site.sb.get("/qseow/jwt/token_file")).unwrap();
    let out = site.env.run(&["-vv", "qrs", "app", "count"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("-> GET") && err.contains("/qrs/app/count"),
        "{err}"
    );
    assert!(err.contains("x-qlik-xrfkey"), "{err}");
    assert!(!err.contains(token.trim()), "token leaked: {err}");
    let out = site
        .env
        .run(&["--context", "cookie", "-vv", "qrs", "app", "count"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cookie:"), "{err}");
    assert!(
        !err.to_ascii_lowercase().contains("x-qlik-session-form="),
        "cookie leaked: {err}"
    );
}

#[test]
fn seed_tutorial_app_ls_insecure() {
    let sb = Sandbox::start(&[]);
    let env = TestEnv::new();
    let token = std::fs::read_to_string(sb.get("/qseow/jwt/token_file")).unwrap();
    env.ok(&[
        "context",
        "create",
        "QSEoW",
        "--server",
        &sb.get("/qseow/jwt_url"),
        "--server-type",
        "windows",
        "--api-key",
        token.trim(),
    ]);
    env.ok(&["context", "use", "QSEoW"]);
    let out = env.run(&["qrs", "app", "ls", "--insecure"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--insecure"));
    // Without --insecure or --ca-cert the TLS check fails with the TLS exit code and the fix.
    let err = env.fails(&["qrs", "app", "ls"], 9);
    assert!(err.contains("--ca-cert"), "{err}");
}

#[test]
fn every_auth_method_works() {
    let site = Site::start(&[]);
    let expected = site.ok(&["qrs", "app", "count"]);
    for ctx in ["bearer", "jwt", "cert", "cookie", "ntlm"] {
        assert_eq!(
            site.ok(&["--context", ctx, "qrs", "app", "count"]),
            expected,
            "{ctx}"
        );
        let about = site.json(&["--context", ctx, "qrs", "about"]);
        assert!(about.get("buildVersion").is_some(), "{ctx}: {about}");
    }
    // Extra headers from --header reach the server (a wrong X-Qlik-User on the cert port is refused
    // or answered as another user; either way the run completes or fails with one error line).
    let _ = site.env.run(&[
        "--context",
        "cert",
        "qrs",
        "about",
        "--header",
        "X-Qlik-User=UserDirectory=INTERNAL; UserId=sa_api",
    ]);
}

#[test]
fn bad_tokens_and_login_pages_are_auth_errors() {
    let site = Site::start(&[]);
    let jwt_url = site.sb.get("/qseow/jwt_url");
    let ca = site.sb.get("/ca_cert");
    let wrong_aud = site.sign(&["--audience", "someone-else"]);
    let expired = site.sign(&["--audience", "qtool-sandbox", "--expires-in", "1s"]);
    let good = site.sign(&["--audience", "qtool-sandbox"]);
    let run_with = |token: &str| {
        site.env.run_with_env(
            &[
                "--server",
                &jwt_url,
                "--ca-cert",
                &ca,
                "qrs",
                "app",
                "ls",
                "-q",
            ],
            &[("QTOOL_API_KEY", token)],
        )
    };
    assert!(run_with(&good).status.success());
    let out = run_with(&wrong_aud);
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("audience") && err.contains("401"), "{err}");
    std::thread::sleep(std::time::Duration::from_secs(7));
    let out = run_with(&expired);
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired"));
    // A forms proxy without a session redirects to its login page.
    let err = site.fails(
        &[
            "--server",
            &site.sb.get("/qseow/forms_url"),
            "--ca-cert",
            &ca,
            "qrs",
            "app",
            "ls",
        ],
        5,
    );
    assert!(
        err.contains("login page") && err.contains("not authenticated"),
        "{err}"
    );
}

#[test]
fn missing_xrfkey_is_refused_and_explained() {
    let site = Site::start(&[]);
    // The header no longer matches the query key.
    let err = site.fails(
        &[
            "qrs",
            "raw",
            "GET",
            "/qrs/about",
            "--header",
            "X-Qlik-Xrfkey=",
        ],
        5,
    );
    assert!(err.contains("XSRF") && err.contains("Xrfkey"), "{err}");
    let about = json(&site.ok(&["qrs", "raw", "GET", "/qrs/about"]));
    assert!(about.get("buildVersion").is_some());
    let enums = json(&site.ok(&["qrs", "raw", "get", "about/api/enums"]));
    assert!(enums.is_object());
}

#[test]
fn crud_on_tags_with_names_quoted() {
    let site = Site::start(&[]);
    let dir = site.env.path();
    std::fs::write(dir.join("tag.json"), r#"{"name": "O'Brien's tag"}"#).unwrap();
    let tag = site.json(&["qrs", "tag", "create", "-f", "tag.json"]);
    let id = id_of(&tag);
    let found = site.json(&["qrs", "tag", "ls", "--name", "O'Brien's tag"]);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(
        site.ok(&["qrs", "tag", "count", "--name", "O'Brien's tag"])
            .trim(),
        "1"
    );
    let updated = site.json(&["qrs", "tag", "update", &id, "--set", "name=Renamed & #1"]);
    assert_eq!(updated["name"], "Renamed & #1");
    assert_eq!(
        site.json(&["qrs", "tag", "get", &id])["name"],
        "Renamed & #1"
    );
    // `&`, `#` and quotes in filter values are encoded once and reach the server intact.
    let found = site.json(&["qrs", "tag", "ls", "--name", "Renamed & #1"]);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let found = site.json(&["qrs", "tag", "ls", "--filter", "name eq 'Renamed & #1'"]);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    // Many at once from stdin.
    let many = site.env.run_stdin(
        &["qrs", "tag", "create", "-f", "-", "--json"],
        r#"[{"name": "bulk-a"}, {"name": "bulk-b"}]"#,
    );
    assert!(
        many.status.success(),
        "{}",
        String::from_utf8_lossy(&many.stderr)
    );
    // rm --filter refuses without --yes and shows what it would delete.
    let out = site
        .env
        .run(&["qrs", "tag", "rm", "--filter", "name sw 'bulk-'"]);
    assert_eq!(out.status.code(), Some(2));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("bulk-a") && shown.contains("bulk-b"),
        "{shown}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    site.ok(&["qrs", "tag", "rm", "--filter", "name sw 'bulk-'", "--yes"]);
    assert_eq!(
        site.ok(&["qrs", "tag", "count", "--filter", "name sw 'bulk-'"])
            .trim(),
        "0"
    );
    site.ok(&["qrs", "tag", "rm", &id]);
    site.fails(&["qrs", "tag", "get", &id], 6);
    site.fails(&["qrs", "tag", "rm", &id], 6);
}

#[test]
fn stale_update_is_a_conflict() {
    let site = Site::start(&[]);
    let stream = site.json(&["qrs", "stream", "ls"])[0].clone();
    let id = id_of(&stream);
    let before = site.json(&["qrs", "stream", "get", &id]);
    std::fs::write(site.env.path().join("old.json"), before.to_string()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    site.ok(&[
        "qrs",
        "stream",
        "update",
        &id,
        "--set",
        "name=Changed by someone",
    ]);
    // Writing back the version read before the change: 409, exit 7.
    let err = site.fails(
        &[
            "qrs",
            "raw",
            "PUT",
            &format!("/qrs/stream/{id}"),
            "--body",
            "old.json",
        ],
        7,
    );
    assert!(err.contains("409"), "{err}");
    // update re-reads, so it succeeds.
    std::fs::write(site.env.path().join("patch.json"), r#"{"name": "Merged"}"#).unwrap();
    assert_eq!(
        site.json(&["qrs", "stream", "update", &id, "-f", "patch.json"])["name"],
        "Merged"
    );
}

#[test]
fn app_export_import_copy_publish_reload() {
    let site = Site::start(&[]);
    let app = site.first_app();
    let id = id_of(&app);
    site.ok(&["qrs", "app", "export", &id, "--out", "one.qvf"]);
    let dir = site.env.path();
    let size = std::fs::metadata(dir.join("one.qvf"))
        .expect("exported")
        .len();
    assert!(size > 0);
    assert!(
        !std::fs::read_dir(dir).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".part"))
    );
    // Exists already: refused without --overwrite.
    site.fails(&["qrs", "app", "export", &id, "--out", "one.qvf"], 7);
    let imported = site.json(&[
        "qrs",
        "app",
        "import",
        "one.qvf",
        "--name",
        "O'Brien import",
    ]);
    let new_id = id_of(&imported);
    assert_eq!(
        site.json(&["qrs", "app", "ls", "--name", "O'Brien import"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    site.ok(&["qrs", "app", "export", &new_id, "--out", "two.qvf"]);
    assert_eq!(
        std::fs::read(dir.join("one.qvf")).unwrap(),
        std::fs::read(dir.join("two.qvf")).unwrap()
    );
    site.json(&["qrs", "app", "import", "one.qvf", "--replace", &new_id]);
    let copy = site.json(&["qrs", "app", "copy", &new_id, "--name", "The copy"]);
    assert_eq!(copy["name"], "The copy");
    let stream = site.json(&["qrs", "stream", "ls"])[0].clone();
    let stream_name = stream["name"].as_str().unwrap().to_string();
    let published = site.json(&[
        "qrs",
        "app",
        "publish",
        &id_of(&copy),
        "--stream",
        &stream_name,
    ]);
    assert_eq!(published["published"], true);
    assert_eq!(published["stream"]["id"], stream["id"]);
    let err = site.fails(
        &[
            "qrs",
            "app",
            "publish",
            &new_id,
            "--stream",
            "No such stream",
        ],
        6,
    );
    assert!(err.contains("No such stream"), "{err}");
    site.ok(&["qrs", "app", "reload", &new_id]);
    site.ok(&["qrs", "app", "rm", &id_of(&copy)]);
}

#[test]
fn bulk_export_with_template_and_dry_run() {
    let site = Site::start(&["--seed", "apps=6,tasks=1"]);
    let export_all = [&EXPORT_EVERY_APP[..], &["--dir", "out"]].concat();
    let plan = site.json(&[&export_all[..], &["--dry-run"]].concat());
    let n = plan.as_array().unwrap().len();
    assert_eq!(n, 6, "{plan}");
    assert!(
        !site.env.path().join("out").exists(),
        "dry run writes nothing"
    );
    let done = site.json(
        &[
            &export_all[..],
            &[
                "--skip-data",
                "--name-template",
                "{stream}/{name}.qvf",
                "--concurrency",
                "3",
            ],
        ]
        .concat(),
    );
    assert_eq!(done.as_array().unwrap().len(), 6);
    for item in done.as_array().unwrap() {
        let file = item["file"].as_str().unwrap();
        assert!(
            std::path::Path::new(&site.env.path().join(file)).exists()
                || std::path::Path::new(file).exists(),
            "{file}"
        );
        // `/` in the template's values never creates directories.
        let name = std::path::Path::new(file)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(!name.contains('/'));
    }
}

#[test]
fn task_start_wait_success_and_failure() {
    let site = Site::start(&[]);
    let app = site.first_app();
    let ok = site.json(&[
        "qrs",
        "reloadtask",
        "create",
        "--app",
        &id_of(&app),
        "--name",
        "qtool ok",
        "--schedule",
        "daily",
    ]);
    let ok_id = ok[0]["id"].as_str().unwrap().to_string();
    let result = site.json(&["qrs", "task", "start", &ok_id, "--wait", "--poll", "200ms"]);
    assert_eq!(result["statusName"], "FinishedSuccess", "{result}");
    let table = site.ok(&[
        "qrs", "task", "start", "--name", "qtool ok", "--wait", "--poll", "200ms",
    ]);
    assert!(table.contains("FinishedSuccess"), "{table}");
    site.json(&[
        "qrs",
        "reloadtask",
        "create",
        "--app",
        &id_of(&app),
        "--name",
        "qtool [fail]",
    ]);
    let out = site.env.run(&[
        "qrs",
        "task",
        "start",
        "--name",
        "qtool [fail]",
        "--wait",
        "--poll",
        "200ms",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("FinishedFail"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FinishedFail"));
    // Without --wait: the execution session id.
    let session = site.ok(&["qrs", "task", "start", &ok_id]);
    assert!(qtool::qrs::filter::is_guid(session.trim()), "{session}");
    site.fails(&["qrs", "task", "start", "--name", "no such task"], 6);
}

#[test]
fn tasks_as_code_from_a_yaml_file() {
    let site = Site::start(&[]);
    let apps = site.json(&["qrs", "app", "ls"]);
    let a = apps[0]["name"].as_str().unwrap().replace('\'', "''");
    let b = id_of(&apps[1]);
    let file = format!(
        "tasks:\n  - name: TAC base\n    app: '{a}'\n    schedules:\n      - every: hourly\n        start: 2026-01-01T02:00:00Z\n        timeZone: Europe/Paris\n  - name: TAC chained\n    app: {b}\n    after:\n      - task: TAC base\n        on: success\n"
    );
    std::fs::write(site.env.path().join("tasks.yaml"), file).unwrap();
    let plan = site.json(&[
        "qrs",
        "reloadtask",
        "create",
        "-f",
        "tasks.yaml",
        "--dry-run",
    ]);
    assert_eq!(plan.as_array().unwrap().len(), 2);
    assert_eq!(
        site.ok(&["qrs", "reloadtask", "count", "--filter", "name sw 'TAC '"])
            .trim(),
        "0"
    );
    let created = site.json(&["qrs", "reloadtask", "create", "-f", "tasks.yaml"]);
    assert_eq!(created.as_array().unwrap().len(), 2);
    let base_id = id_of(&created[0]);
    let events = site.json(&[
        "qrs",
        "schemaevent",
        "ls",
        "--full",
        "--filter",
        &format!("reloadTask.id eq {base_id}"),
    ]);
    assert_eq!(events[0]["incrementOption"], 1, "{events}");
    let chained = site.json(&[
        "qrs",
        "compositeevent",
        "ls",
        "--full",
        "--filter",
        &format!("reloadTask.id eq {}", id_of(&created[1])),
    ]);
    assert_eq!(chained.as_array().unwrap().len(), 1, "{chained}");
    // A file with a typo is an input error (exit 3).
    std::fs::write(
        site.env.path().join("bad.json"),
        r#"{"tasks": [{"name": "x", "app": "y", "shedule": 1}]}"#,
    )
    .unwrap();
    site.fails(&["qrs", "reloadtask", "create", "-f", "bad.json"], 3);
}

#[test]
fn virtual_proxy_create_jwt_then_use_it() {
    let site = Site::start(&[]);
    let cert = site.sb.get("/qseow/jwt/certificate");
    let vp = site.json(&[
        "qrs",
        "virtualproxy",
        "create-jwt",
        "--cert",
        &cert,
        "--audience",
        "team-b",
        "--prefix",
        "teamb",
    ]);
    assert_eq!(vp["prefix"], "teamb");
    assert_eq!(vp["authenticationMethod"], 4);
    let listed = site.ok(&["qrs", "virtualproxyconfig", "ls"]);
    assert!(
        listed.contains("teamb") && listed.contains("JWT"),
        "{listed}"
    );
    // The new proxy accepts tokens for its audience.
    let token = site.sign(&["--audience", "team-b"]);
    let proxy = site.sb.get("/qseow/proxy_url");
    let mut ok = false;
    for _ in 0..20 {
        let out = site.env.run_with_env(
            &[
                "--server",
                &format!("{proxy}/teamb"),
                "--ca-cert",
                &site.sb.get("/ca_cert"),
                "qrs",
                "about",
            ],
            &[("QTOOL_API_KEY", &token)],
        );
        if out.status.success() {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(ok, "the new JWT virtual proxy serves QRS");
    // The JWT toolkit's proxy settings can be posted as they are.
    let body = site.ok(&[
        "jwt",
        "proxy-config",
        "--cert",
        &cert,
        "--audience",
        "team-c",
        "--prefix",
        "teamc",
        "--json",
    ]);
    std::fs::write(site.env.path().join("proxy.json"), body).unwrap();
    let id = site.ok(&[
        "qrs",
        "virtualproxyconfig",
        "create",
        "-f",
        "proxy.json",
        "-q",
    ]);
    assert!(qtool::qrs::filter::is_guid(id.trim()), "{id}");
    assert_eq!(
        site.ok(&["qrs", "virtualproxy", "count", "--name", "teamc"])
            .trim(),
        "1"
    );
}

#[test]
fn reads_succeed_through_injected_faults() {
    let site = Site::setup(&["--fault-rate", "0.3"], false);
    for _ in 0..4 {
        for ctx in ["bearer", "jwt", "cert", "ntlm"] {
            site.ok(&["--context", ctx, "--retries", "8", "qrs", "app", "ls", "-q"]);
            site.ok(&["--context", ctx, "--retries", "8", "qrs", "stream", "count"]);
        }
        site.json(&["--retries", "8", "qrs", "app", "ls"]);
    }
}

#[test]
fn servicestatus_and_usage_errors() {
    let site = Site::start(&[]);
    let table = site.ok(&["qrs", "servicestatus"]);
    assert!(
        table.contains("Repository") && table.contains("Running"),
        "{table}"
    );
    site.fails(&[&EXPORT_EVERY_APP[..], &["--out", "x.qvf"]].concat(), 2);
    site.fails(&["qrs", "task", "update", "x", "--set", "a=1"], 2);
    site.fails(&["qrs", "app", "update", "x", "--set", "novalue"], 2);
}

#[test]
fn interrupted_export_leaves_no_partial_files() {
    let site = Site::start(&["--seed", "apps=20,tasks=1", "--latency", "300ms"]);
    let child = site
        .env
        .std_cmd()
        .args(EXPORT_EVERY_APP)
        .args(["--dir", "out", "--concurrency", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = site.env.path().join("out");
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".part"))
                .collect()
        })
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "partial files left: {leftovers:?}");
}

//! `qtool app`: the engine (QIX) commands against the sandbox's engine over TLS, through the
//! JWT virtual proxy (the default context of `Sandbox::qrs_env`) and on the certificate engine
//! port; what they save shows in QRS. Bad input: one line and its exit code each.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::support::{Login, Sandbox, TestEnv, assert_exit, assert_one_error_line, json};

/// The sandbox's first app: (id, name).
fn first_app(env: &TestEnv) -> (String, String) {
    let apps = json(&env.ok(&["qrs", "app", "ls", "--json"]));
    let app = &apps[0];
    (
        app["id"].as_str().unwrap().to_string(),
        app["name"].as_str().unwrap().to_string(),
    )
}

fn modified(env: &TestEnv, id: &str) -> Value {
    json(&env.ok(&["qrs", "app", "get", id, "--json"]))["modifiedDate"].clone()
}

#[test]
fn script_reload_eval_and_save_through_the_jwt_proxy() {
    let sb = Sandbox::start(&["--seed", "apps=2,tasks=0"]);
    let env = sb.qrs_env();
    let (id, name) = first_app(&env);

    // By name (through QRS) or by id, the same script.
    let script = env.ok(&["app", "script", "get", &name]);
    assert!(script.starts_with("///$tab Main"), "{script}");
    assert_eq!(env.ok(&["app", "script", "get", &id]), script);

    // Set (checked, saved): QRS sees the save.
    let before = modified(&env, &id);
    let new_script = format!("{script}\n///$tab qtool\nT: LOAD * INLINE [\na, b\n1, 2\n3, 4\n];\n");
    std::fs::write(env.path().join("new.qvs"), &new_script).unwrap();
    env.ok(&["app", "script", "set", &name, "new.qvs"]);
    assert_eq!(env.ok(&["app", "script", "get", &id]), new_script);
    assert_ne!(modified(&env, &id), before, "script set saves");
    env.ok(&["app", "script", "check", &id]);
    env.ok(&["app", "script", "check", &id, "new.qvs"]);

    // Reload: the log on stdout, then saved.
    let before = modified(&env, &id);
    let out = env.ok(&["app", "reload", &name]);
    assert!(out.starts_with("Started loading data\n"), "{out}");
    assert!(out.contains("T << INLINE 2 Lines fetched\n"), "{out}");
    assert_ne!(modified(&env, &id), before, "the reload saves");
    let doc = json(&env.ok(&["app", "reload", &id, "--no-save", "--json"]));
    assert_eq!(doc["success"], true);
    assert_eq!(doc["saved"], false);
    assert!(doc["log"].as_array().unwrap().len() > 3, "{doc}");

    // A failing reload: exit 1, the log tail, nothing saved.
    let failing = format!("{new_script}\nLOAD * RESIDENT Nowhere;\n");
    std::fs::write(env.path().join("failing.qvs"), &failing).unwrap();
    // Saved: an unsaved change is gone once the session that made it ends.
    env.ok(&["app", "script", "set", &id, "failing.qvs"]);
    let before = modified(&env, &id);
    let out = env.run(&["app", "reload", &id, "-q"]);
    let stderr = assert_exit(&out, 1, "failing reload");
    assert_one_error_line(&stderr);
    assert!(
        stderr.contains("Data has not been loaded"),
        "the log tail: {stderr}"
    );
    assert!(stderr.contains("error: the reload of"), "{stderr}");
    assert_eq!(modified(&env, &id), before);

    // Eval: the text, or EvaluateEx's value as JSON.
    assert_eq!(env.ok(&["app", "eval", &id, "=1+2*3"]).trim(), "7");
    let v = json(&env.ok(&["app", "eval", &id, "Upper('abc') & 1", "--json"]));
    assert_eq!(v["qText"], "ABC1");
}

#[test]
fn objects_master_items_and_connections() {
    let sb = Sandbox::start(&["--seed", "apps=1,tasks=0,objects=12"]);
    let env = sb.qrs_env();
    let (id, _) = first_app(&env);

    // The seeded sheets and charts, plus the seed's master visualization and story (with its
    // slide).
    let objects = json(&env.ok(&["app", "object", "ls", &id, "--json"]));
    assert_eq!(objects.as_array().unwrap().len(), 12 + 3, "{objects}");
    for kind in ["masterobject", "story", "slide"] {
        assert!(
            objects
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["qInfo"]["qType"] == kind),
            "{kind}: {objects}"
        );
    }
    let sheet = objects
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["qInfo"]["qType"] == "sheet")
        .unwrap()["qInfo"]["qId"]
        .as_str()
        .unwrap()
        .to_string();
    let tree = json(&env.ok(&["app", "object", "get", &id, &sheet]));
    assert!(!tree["qChildren"].as_array().unwrap().is_empty(), "{tree}");
    let props = json(&env.ok(&["app", "object", "properties", &id, &sheet]));
    assert_eq!(props["qInfo"]["qId"], sheet.as_str());
    let layout = json(&env.ok(&["app", "object", "layout", &id, &sheet]));
    assert!(
        layout.get("qMeta").is_some(),
        "layouts carry qMeta: {layout}"
    );

    // Set creates then updates; rm deletes; a missing id is exit 6.
    let file = env.path().join("kpi.json");
    std::fs::write(
        &file,
        r#"{"qInfo": {"qId": "qtool-kpi", "qType": "kpi"}, "qMetaDef": {"title": "Made by qtool"}}"#,
    )
    .unwrap();
    let out = env.ok(&["app", "object", "set", &id, "kpi.json"]);
    assert!(out.contains("created"), "{out}");
    let out = env.ok(&["app", "object", "set", &id, "kpi.json"]);
    assert!(out.contains("updated"), "{out}");
    let title = json(&env.ok(&["app", "object", "properties", &id, "qtool-kpi"]));
    assert_eq!(title["qMetaDef"]["title"], "Made by qtool");
    env.ok(&["app", "object", "rm", &id, "qtool-kpi"]);
    let err = env.fails(&["app", "object", "properties", &id, "qtool-kpi"], 6);
    assert!(err.contains("the app has no object `qtool-kpi`"), "{err}");

    // Master items: measures by id, variables by name.
    std::fs::write(
        env.path().join("m.json"),
        r#"[{"qInfo": {"qId": "qtool-m", "qType": "measure"}, "qMeasure": {"qDef": "Sum(x)", "qLabel": "X"}, "qMetaDef": {"title": "X"}}]"#,
    )
    .unwrap();
    env.ok(&["app", "measure", "set", &id, "m.json"]);
    let m = json(&env.ok(&["app", "measure", "get", &id, "qtool-m"]));
    assert_eq!(m["qMeasure"]["qDef"], "Sum(x)");
    assert!(env.ok(&["app", "measure", "ls", &id]).contains("qtool-m"));
    env.ok(&["app", "measure", "rm", &id, "qtool-m"]);
    std::fs::write(
        env.path().join("v.json"),
        r#"{"qInfo": {"qId": "", "qType": "variable"}, "qName": "vQtool", "qDefinition": "42"}"#,
    )
    .unwrap();
    env.ok(&["app", "variable", "set", &id, "v.json"]);
    assert_eq!(env.ok(&["app", "eval", &id, "=$(vQtool)+1"]).trim(), "43");
    let v = json(&env.ok(&["app", "variable", "get", &id, "vQtool"]));
    assert_eq!(v["qDefinition"], "42");
    env.ok(&["app", "variable", "rm", &id, "vQtool"]);
    env.fails(&["app", "variable", "get", &id, "vQtool"], 6);
    assert!(!env.ok(&["app", "dimension", "ls", &id, "-q"]).is_empty());
    assert!(!env.ok(&["app", "bookmark", "ls", &id, "-q"]).is_empty());

    // Connections: created with the password from stdin, never printed back.
    let secret = "S3cret-pw-for-qtool";
    let out = env.ok_stdin(
        &[
            "app",
            "connection",
            "create",
            &id,
            "qtool DB",
            "--type",
            "ODBC",
            "--connection-string",
            "ODBC CONNECT TO [qtool]",
            "--user",
            "reader",
            "--password-stdin",
            "-t",
        ],
        &format!("{secret}\n"),
    );
    assert!(out.contains("qtool DB"), "{out}");
    let listed = env.run(&["app", "connection", "ls", &id, "--json", "-t"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&listed.stdout),
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(all.contains("qtool DB") && !all.contains(secret), "{all}");
    let created = env.run_stdin(
        &[
            "app",
            "connection",
            "create",
            &id,
            "other",
            "--type",
            "ODBC",
            "--connection-string",
            "x",
            "--password-stdin",
            "-t",
        ],
        secret,
    );
    let traffic = String::from_utf8_lossy(&created.stderr);
    assert!(
        traffic.contains("\"qPassword\":\"<redacted>\""),
        "{traffic}"
    );
    assert!(
        !traffic.contains(secret),
        "the traffic log redacts passwords: {traffic}"
    );
    // The repository stored it (the sandbox keeps QRS's password field).
    let stored = json(&env.ok(&["qrs", "dataconnection", "ls", "--full", "--json"]));
    assert!(stored.to_string().contains("qtool DB"));
    env.ok(&["app", "connection", "rm", &id, "qtool db"]);
    let err = env.fails(&["app", "connection", "rm", &id, "qtool DB"], 6);
    assert!(err.contains("no connection `qtool DB`"), "{err}");
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[test]
fn unbuild_and_build_round_trip_with_plan_and_prune() {
    let sb = Sandbox::start(&["--seed", "apps=2,tasks=0,objects=20"]);
    let env = sb.qrs_env();
    let (id, name) = first_app(&env);
    env.ok(&["app", "unbuild", &name, "--dir", "sales"]);
    let dir = env.path().join("sales");
    // qlik-cli's layout: 7 config keys, single-array library files, one file per top-level object.
    assert_eq!(
        read(&dir, "config.yml"),
        "script: script.qvs\nconnections: connections.yml\ndimensions: dimensions.json\nmeasures: measures.json\nobjects: objects/*.json\nvariables: variables.json\napp-properties: app-properties.json\n"
    );
    for file in ["dimensions.json", "measures.json", "variables.json"] {
        let v: Value = serde_json::from_str(&read(&dir, file)).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 3, "{file}");
    }
    let objects: Vec<String> = std::fs::read_dir(dir.join("objects"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        objects.len() >= 2,
        "the sheets, their charts inside: {objects:?}"
    );
    // Top-level objects only: sheets (charts inside), the master visualization, the story.
    assert!(
        objects.iter().all(|o| o.starts_with("sheet--")
            || o.starts_with("masterobject-barchart-")
            || o.starts_with("story--")),
        "{objects:?}"
    );
    let first_sheet = objects.iter().find(|o| o.starts_with("sheet--")).unwrap();
    let sheet: Value = serde_json::from_str(&read(&dir.join("objects"), first_sheet)).unwrap();
    assert!(!sheet["qChildren"].as_array().unwrap().is_empty());
    let connections = read(&dir, "connections.yml");
    assert!(
        connections.contains("\n  \"Sales DB\":\n    type: \"ODBC\"\n")
            && !connections.contains("    password:"),
        "{connections}"
    );
    assert_eq!(
        read(&dir, "script.qvs"),
        env.ok(&["app", "script", "get", &id])
    );

    // Unchanged: exit 0 even with --detailed-exitcode, nothing saved.
    let before = modified(&env, &id);
    let out = env.ok(&["app", "build", &id, "--dir", "sales", "--detailed-exitcode"]);
    assert!(out.starts_with("No changes"), "{out}");
    assert_eq!(modified(&env, &id), before);

    // Change a measure, add one, edit the script, drop an object file.
    let measures_path = dir.join("measures.json");
    let mut measures: Value = serde_json::from_str(&read(&dir, "measures.json")).unwrap();
    measures[0]["qMeasure"]["qDef"] = "Sum(Amount) * 2".into();
    measures
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"qInfo": {"qId": "built", "qType": "measure"}, "qMeasure": {"qDef": "1", "qLabel": "One"}}));
    std::fs::write(
        &measures_path,
        serde_json::to_string_pretty(&measures).unwrap(),
    )
    .unwrap();
    let script = format!(
        "{}\nX: LOAD 1 AS x AUTOGENERATE 3;\n",
        read(&dir, "script.qvs")
    );
    std::fs::write(dir.join("script.qvs"), &script).unwrap();
    // The sheet read above goes: the build keeps it in the app unless --prune.
    std::fs::remove_file(dir.join("objects").join(first_sheet)).unwrap();
    let dropped_id = sheet["qProperty"]["qInfo"]["qId"]
        .as_str()
        .unwrap()
        .to_string();

    let out = env.run(&[
        "app",
        "build",
        &id,
        "--dir",
        "sales",
        "--plan",
        "--detailed-exitcode",
    ]);
    let plan = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(100), "{plan}");
    assert!(plan.contains("~ script"), "{plan}");
    assert!(plan.contains("+ measure        built"), "{plan}");
    assert!(
        plan.contains("Plan: 1 to add, 2 to change, 0 to remove."),
        "{plan}"
    );
    assert!(
        plan.contains(&format!(
            "Kept: 1 in the app but not in the folder (--prune removes them): object {dropped_id}"
        )),
        "{plan}"
    );
    assert_eq!(modified(&env, &id), before, "--plan changes nothing");

    let doc = json(&env.ok(&["app", "build", &id, "--dir", "sales", "--json"]));
    assert_eq!(doc["changed"], true);
    assert_eq!(doc["applied"], 3);
    assert_eq!(doc["reloaded"], true);
    assert_eq!(doc["saved"], true);
    assert_ne!(modified(&env, &id), before, "saved once");
    assert_eq!(env.ok(&["app", "script", "get", &id]), script);
    let m = json(&env.ok(&["app", "measure", "get", &id, "built"]));
    assert_eq!(m["qMeasure"]["qLabel"], "One");
    // The object missing from the folder is kept without --prune.
    env.ok(&["app", "object", "properties", &id, &dropped_id]);

    // Second build: unchanged. Then --prune removes the extra sheet (and its children).
    let out = env.ok(&["app", "build", &id, "--dir", "sales", "--detailed-exitcode"]);
    assert!(out.starts_with("No changes"), "{out}");
    let out = env.ok(&[
        "app",
        "build",
        &id,
        "--dir",
        "sales",
        "--prune",
        "--no-reload",
    ]);
    assert!(
        out.contains(&format!("- object         {dropped_id}")),
        "{out}"
    );
    env.fails(&["app", "object", "properties", &id, &dropped_id], 6);

    // Another app built from the same folder becomes the same (a copy made from files).
    let other = json(&env.ok(&["qrs", "app", "ls", "--json"]))[1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.ok(&["app", "build", &other, "--dir", "sales", "--prune"]);
    env.ok(&["app", "unbuild", &other, "--dir", "other"]);
    let other_dir = env.path().join("other");
    for file in ["script.qvs", "config.yml"] {
        assert_eq!(read(&dir, file), read(&other_dir, file), "{file}");
    }
    // (Variables are keyed by name: each app keeps its own variable ids.)
    for file in ["measures.json", "dimensions.json"] {
        let parse = |d: &Path| serde_json::from_str::<Value>(&read(d, file)).unwrap();
        assert_eq!(parse(&dir), parse(&other_dir), "{file}");
    }
}

#[test]
fn certificate_engine_port_and_a_refused_port() {
    let sb = Sandbox::start(&["--seed", "apps=1,tasks=0"]);
    let env = sb.qrs_env();
    let (id, name) = first_app(&env);
    sb.create_context(&env, "cert", Login::QseowCert);
    let engine = sb.get("/qseow/engine_url");
    let script = env.ok(&[
        "--context",
        "cert",
        "app",
        "script",
        "get",
        &name,
        "--engine-url",
        &engine,
    ]);
    assert!(script.starts_with("///$tab Main"));
    // Saves are the certificate user's.
    env.ok(&[
        "--context",
        "cert",
        "app",
        "reload",
        &id,
        "--engine-url",
        &engine,
    ]);
    let app = json(&env.ok(&["qrs", "app", "get", &id, "--json"]));
    assert_eq!(app["modifiedByUserName"], "INTERNAL\\sa_api");
    // The default engine port (4747) has no engine here.
    let out = env.run_with_env(
        &["--context", "cert", "app", "script", "get", &id],
        &[("QTOOL_ENGINE_URL", "wss://127.0.0.1:1")],
    );
    let err = assert_exit(&out, 8, "refused engine port");
    assert!(
        err.contains("connection refused by the engine at 127.0.0.1:1; is the engine port right?"),
        "{err}"
    );
}

#[test]
fn windows_contexts_open_the_engine_with_the_session_of_one_ntlm_login() {
    let sb = Sandbox::start(&["--seed", "apps=1,tasks=0"]);
    let env = sb.qrs_env();
    let (id, name) = first_app(&env);
    sb.create_context(&env, "ntlm", Login::QseowNtlm);
    // By name: the repository lookup logs in (NTLM), the socket carries the proxy's session.
    let script = env.ok(&["--context", "ntlm", "app", "script", "get", &name]);
    assert!(script.starts_with("///$tab Main"), "{script}");
    assert_eq!(sb.stat_reaching("/windows/logins", 1), 1);
    // The next run reuses the cached session: no new handshake; saves are the Windows user's.
    env.ok(&["--context", "ntlm", "app", "reload", &id]);
    let app = json(&env.ok(&["qrs", "app", "get", &id, "--json"]));
    let user = sb.get("/qseow/windows_auth/users/1/user");
    assert_eq!(
        app["modifiedByUserName"].as_str().unwrap().to_lowercase(),
        user.to_lowercase(),
        "{app}"
    );
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert_eq!(sb.stat_reaching("/windows/logins", 1), 1);

    // A cached session the proxy no longer knows is replaced by one new login, transparently.
    let cache = env.config_dir().join("cache/qseow-sessions");
    let file = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let mut cached = json(&std::fs::read_to_string(&file).unwrap());
    let cookie = cached["session_id"].as_str().unwrap().to_string();
    let (cookie_name, _) = cookie.split_once('=').unwrap();
    cached["session_id"] = Value::from(format!("{cookie_name}=forgotten-by-the-proxy"));
    std::fs::write(&file, cached.to_string()).unwrap();
    let script = env.ok(&["--context", "ntlm", "app", "script", "get", &id]);
    assert!(script.starts_with("///$tab Main"), "{script}");
    assert_eq!(sb.stat_reaching("/windows/logins", 2), 2);
}

#[test]
fn engine_tls_trust_follows_ca_cert_and_insecure() {
    let sb = Sandbox::start(&["--seed", "apps=1,tasks=0"]);
    let env = TestEnv::new();
    let (id, _) = first_app(&sb.qrs_env());
    let url = sb.get("/qseow/jwt_url");
    let token = std::fs::read_to_string(sb.get("/qseow/jwt/token_file")).unwrap();
    let vars = [("QTOOL_API_KEY", token.trim())];
    // The sandbox's own CA is in no trust store: the socket's TLS is refused, one line, exit 9.
    let out = env.run_with_env(&["--server", &url, "app", "script", "get", &id], &vars);
    let err = assert_exit(&out, 9, "untrusted engine certificate");
    assert_one_error_line(&err);
    // --insecure: the script, and the run says verification is off.
    let out = env.run_with_env(
        &["--server", &url, "--insecure", "app", "script", "get", &id],
        &vars,
    );
    let err = assert_exit(&out, 0, "--insecure");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("///$tab Main"),
        "{out:?}"
    );
    assert!(
        err.contains("verification is disabled (--insecure)"),
        "{err}"
    );
}

/// A TCP forwarder to `target` that drops both directions once the client has sent more than
/// `cut_after` bytes (`usize::MAX`: never); the bytes sent so far are counted in the returned
/// counter.
fn cutting_forwarder(target: String, cut_after: usize) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let Ok(mut server) = TcpStream::connect(&target) else {
                continue;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let counter = counter.clone();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Both);
            });
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = client.read(&mut buf) {
                    if n == 0 || counter.fetch_add(n, Ordering::SeqCst) + n > cut_after {
                        break;
                    }
                    if server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = server.shutdown(std::net::Shutdown::Both);
                let _ = client.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (port, sent)
}

#[test]
fn a_socket_cut_mid_build_exits_8_and_saves_nothing() {
    let sb = Sandbox::start(&["--seed", "apps=1,tasks=0,objects=30"]);
    let env = sb.qrs_env();
    let (id, _) = first_app(&env);
    sb.create_context(&env, "cert", Login::QseowCert);
    let engine = sb.get("/qseow/engine_url");
    let target = engine.trim_start_matches("wss://").to_string();
    env.ok(&["app", "unbuild", &id, "--dir", "app"]);
    // Every object changes: the apply phase sends far more than the plan.
    let objects = env.path().join("app/objects");
    for entry in std::fs::read_dir(&objects).unwrap() {
        let path = entry.unwrap().path();
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // A full property tree (an object with children) or plain properties.
        let props = if v.get("qProperty").is_some() {
            &mut v["qProperty"]
        } else {
            &mut v
        };
        props["qMetaDef"]["title"] = "changed".into();
        std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    }
    // How much a plan sends, through a counting forwarder.
    let (port, sent) = cutting_forwarder(target.clone(), usize::MAX);
    let url = format!("wss://127.0.0.1:{port}");
    let cert = ["--context", "cert"];
    let out = env.run(
        &[
            &cert[..],
            &[
                "app",
                "build",
                &id,
                "--dir",
                "app",
                "--plan",
                "--engine-url",
                &url,
            ],
        ]
        .concat(),
    );
    assert_exit(&out, 0, "plan through the forwarder");
    let plan_bytes = sent.load(Ordering::SeqCst);

    let before = modified(&env, &id);
    let script_before = env.ok(&["app", "script", "get", &id]);
    let (port, _) = cutting_forwarder(target, plan_bytes + 200);
    let url = format!("wss://127.0.0.1:{port}");
    let out = env.run(
        &[
            &cert[..],
            &["app", "build", &id, "--dir", "app", "--engine-url", &url],
        ]
        .concat(),
    );
    let err = assert_exit(&out, 8, "build cut mid-way");
    assert_one_error_line(&err);
    assert!(err.contains("closed the connection"), "{err}");
    assert_eq!(modified(&env, &id), before, "nothing saved");
    assert_eq!(env.ok(&["app", "script", "get", &id]), script_before);
    let title = json(&env.ok(&["app", "object", "ls", &id, "--json"]));
    assert!(
        !title.to_string().contains("\"changed\""),
        "no half-built object reached the app"
    );
}

#[test]
fn bad_inputs_are_one_line_with_their_exit_codes() {
    let sb = Sandbox::start(&["--seed", "apps=2,tasks=0"]);
    let env = sb.qrs_env();
    let (id, name) = first_app(&env);

    let err = env.fails(
        &[
            "app",
            "script",
            "get",
            "00000000-0000-0000-0000-000000000000",
        ],
        6,
    );
    assert!(
        err.contains("the engine has no app with id 00000000-0000-0000-0000-000000000000"),
        "{err}"
    );
    let err = env.fails(&["app", "script", "get", "No Such App"], 6);
    assert!(err.contains("no app named `No Such App`"), "{err}");
    env.ok(&["qrs", "app", "copy", &id, "--name", &name]);
    let err = env.fails(&["app", "script", "get", &name], 7);
    assert!(
        err.contains(&format!("2 apps are named `{name}`")) && err.contains("pass the id"),
        "{err}"
    );

    // An engine message over --max-response-size: exit 10 naming the limit, not read whole.
    let err = env.fails(
        &["app", "script", "get", &id, "--max-response-size", "200"],
        10,
    );
    assert!(
        err.contains("larger than the limit for answers read into memory")
            && err.contains("--max-response-size"),
        "{err}"
    );

    // A script with a syntax error: exit 3, line and column, nothing saved or left changed.
    let before = modified(&env, &id);
    let script = env.ok(&["app", "script", "get", &id]);
    std::fs::write(
        env.path().join("bad.qvs"),
        "LOAD a,\n  b\nFROM x.qvd (qvd;\n",
    )
    .unwrap();
    let err = env.fails(&["app", "script", "set", &id, "bad.qvs"], 3);
    assert!(
        err.starts_with("error: bad.qvs has a syntax error: line "),
        "{err}"
    );
    assert_eq!(env.ok(&["app", "script", "get", &id]), script);
    assert_eq!(modified(&env, &id), before);
    env.fails(&["app", "script", "check", &id, "bad.qvs"], 3);

    // Engine errors: an invalid expression (8) is bad input.
    let err = env.fails(&["app", "eval", &id, "1 +"], 3);
    assert!(
        err.contains("the engine refused EvaluateEx") && err.contains("[engine error 8]"),
        "{err}"
    );

    // Folders: a missing file, malformed JSON (file and line), malformed YAML, unknown key;
    // nothing is sent (the app is not even opened).
    env.ok(&["app", "unbuild", &id, "--dir", "f"]);
    let dir = env.path().join("f");
    std::fs::remove_file(dir.join("measures.json")).unwrap();
    let err = env.fails(&["app", "build", &id, "--dir", "f"], 3);
    assert!(
        err.contains("`measures` names") && err.contains("measures.json, which does not exist"),
        "{err}"
    );
    std::fs::write(
        dir.join("measures.json"),
        "[\n  {\"qInfo\": {\"qId\": \"m\"}\n",
    )
    .unwrap();
    let err = env.fails(&["app", "build", &id, "--dir", "f"], 3);
    assert!(
        err.contains("measures.json: not valid JSON") && err.contains("line 3"),
        "{err}"
    );
    std::fs::write(dir.join("measures.json"), "[]").unwrap();
    std::fs::write(dir.join("connections.yml"), "connections:\n  a: [b\n").unwrap();
    let err = env.fails(&["app", "build", &id, "--dir", "f"], 3);
    assert!(
        err.contains("connections.yml: not valid YAML") && err.contains("line"),
        "{err}"
    );
    std::fs::write(dir.join("connections.yml"), "connections:\n").unwrap();
    std::fs::write(dir.join("config.yml"), "scripts: script.qvs\n").unwrap();
    let err = env.fails(&["app", "build", &id, "--dir", "f"], 3);
    assert!(
        err.contains("unknown key `scripts` (did you mean `script`?)"),
        "{err}"
    );
    std::fs::write(
        dir.join("config.yml"),
        "script: script.qvs\ndimensions: dimensions.json\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("dimensions.json"),
        r#"[{"qInfo": {"qId": "d", "qType": "measure"}}]"#,
    )
    .unwrap();
    let err = env.fails(&["app", "build", &id, "--dir", "f", "-t"], 3);
    assert!(
        err.contains("`qInfo.qType` is `measure`, not `dimension`"),
        "{err}"
    );
    assert!(!err.contains("->"), "nothing was sent: {err}");
    // A folder that is not an unbuild folder is not overwritten.
    std::fs::write(env.path().join("notes.txt"), "mine").unwrap();
    let err = env.fails(&["app", "unbuild", &id, "--dir", "."], 2);
    assert!(err.contains("has files but no config.yml"), "{err}");

    // A forms proxy without a session tells the socket where to log in: exit 5.
    let forms = sb.get("/qseow/forms_url");
    let ca = sb.get("/ca_cert");
    let err = env.fails(
        &[
            "--server",
            &forms,
            "--ca-cert",
            &ca,
            "app",
            "script",
            "get",
            &id,
        ],
        5,
    );
    assert!(
        err.contains("wants a login page") && err.contains("is not authenticated"),
        "{err}"
    );
    // An HTML login page (or a redirect to one) instead of the upgrade: exit 5.
    let state = &sb.state_dir;
    for answer in [
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 27\r\nConnection: close\r\n\r\n<html><form>Login</form>\r\n",
        "HTTP/1.1 302 Found\r\nLocation: /form/internal_forms_authentication/?targetId=1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ] {
        let url = canned_tls_server(state, answer);
        let err = env.fails(
            &[
                "--server",
                &forms,
                "--ca-cert",
                &ca,
                "app",
                "script",
                "get",
                &id,
                "--engine-url",
                &url,
            ],
            5,
        );
        assert!(
            err.contains("with a login page") && err.contains("is not authenticated"),
            "{err}"
        );
    }
    let url = canned_tls_server(
        state,
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nJWT expired",
    );
    let err = env.fails(&["app", "script", "get", &id, "--engine-url", &url], 5);
    assert!(
        err.contains("was refused with HTTP 401: JWT expired"),
        "{err}"
    );
}

/// A TLS server with the sandbox's certificate that answers every request with `answer`.
fn canned_tls_server(state: &Path, answer: &'static str) -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(state.join("server.pem"))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_file(state.join("server_key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls.write_all(answer.as_bytes());
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    format!("wss://127.0.0.1:{port}/form")
}

//! The sandbox's engine (QIX) driven by enigma.js itself, pinned from npm (enigma.js 2.15.0 with
//! ws 8.23.0), through the JWT virtual proxy and on the certificate engine port; what
//! `DoSave` wrote shows in QRS (`modifiedDate`, `fileSize`) and in a QRS export.

use std::path::PathBuf;
use std::process::Command as StdCommand;
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{Sandbox, json, node_packages};

const ENIGMA_PACKAGES: &[&str] = &["enigma.js@2.15.0", "ws@8.23.0"];

/// enigma.js and ws under target/interop/node-<versions> (NODE_PATH).
fn enigma_modules() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        node_packages(
            ENIGMA_PACKAGES,
            "require('enigma.js'); require('ws'); require('enigma.js/schemas/12.2027.0.json')",
        )
    })
}

/// Run tests/interop/enigma_session.js against `url`; its JSON summary.
fn enigma_session(url: &str, args: &[String]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/enigma_session.js");
    let out = StdCommand::new("node")
        .arg(script)
        .arg(url)
        .args(args)
        .env("NODE_PATH", enigma_modules())
        .output()
        .expect("node must be installed");
    assert!(
        out.status.success(),
        "enigma.js session failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    json(String::from_utf8_lossy(&out.stdout).trim())
}

fn check_session(seen: &Value) {
    assert_eq!(seen["state"], "SESSION_CREATED", "{seen}");
    assert_eq!(seen["scriptRoundTrip"], true);
    assert_eq!(seen["syntaxErrors"], 0);
    assert_eq!(seen["reloaded"], true, "{seen}");
    let log = seen["log"].as_str().unwrap();
    assert!(log.starts_with("Started loading data\n"), "{log}");
    assert!(log.contains("Regions << INLINE 4 Lines fetched\n"), "{log}");
    assert!(log.contains("Enigma << INLINE 2 Lines fetched\n"), "{log}");
    assert_eq!(seen["children"], serde_json::json!(["Renamed child"]));
    assert_eq!(seen["childList"], serde_json::json!(["Renamed child"]));
    assert_eq!(seen["sheetTitle"], "Made by enigma.js");
    // enigma.js turns the engine's null handle into its own "Object not found" (-2).
    assert_eq!(seen["missing"], -2);
    assert_eq!(seen["evaluated"], "6");
    assert_eq!(seen["evaluatedEx"], "ENIGMA");
    assert_eq!(seen["evalError"], 20);
    assert_eq!(seen["hasData"], true);
}

#[test]
fn enigma_js_through_the_jwt_proxy_and_the_save_shows_in_qrs() {
    let sb = Sandbox::start(&["--seed", "apps=2,tasks=0"]);
    let env = sb.qrs_env();
    let apps = json(&env.ok(&["qrs", "app", "ls", "--json"]));
    let app = apps[0]["id"].as_str().unwrap().to_string();
    let before = json(&env.ok(&["qrs", "app", "get", &app, "--json"]));
    let token = std::fs::read_to_string(sb.get("/qseow/jwt/token_file")).unwrap();
    let url = format!("{}/app/{app}", sb.get("/qseow/engine/jwt_url"));
    let seen = enigma_session(
        &url,
        &[
            "--ca".into(),
            sb.get("/ca_cert"),
            "--header".into(),
            format!("Authorization: Bearer {}", token.trim()),
        ],
    );
    check_session(&seen);
    let notes = seen["notifications"].as_array().unwrap();
    assert!(notes.contains(&"OnConnected".into()), "{seen}");
    assert!(
        notes.contains(&"OnAuthenticationInformation".into()),
        "the proxy introduces itself: {seen}"
    );

    let after = json(&env.ok(&["qrs", "app", "get", &app, "--json"]));
    assert_ne!(
        after["modifiedDate"], before["modifiedDate"],
        "DoSave changes the app in QRS"
    );
    assert_eq!(after["modifiedByUserName"], "SANDBOX\\admin");
    assert_ne!(after["lastReloadTime"], before["lastReloadTime"]);
    env.ok(&["qrs", "app", "export", &app, "--out", "saved.qvf"]);
    let exported = std::fs::read(env.path().join("saved.qvf")).unwrap();
    assert_eq!(Some(exported.len() as u64), after["fileSize"].as_u64());
    let text = String::from_utf8_lossy(&exported);
    assert!(text.starts_with("QTOOL-SANDBOX-QVF 1\n"));
    assert!(
        text.contains("///$tab enigma") && text.contains("Made by enigma.js"),
        "the export holds what was saved"
    );
}

#[test]
fn enigma_js_on_the_certificate_engine_port() {
    let sb = Sandbox::start(&["--seed", "apps=1,tasks=0"]);
    let env = sb.qrs_env();
    let apps = json(&env.ok(&["qrs", "app", "ls", "--json"]));
    let app = apps[0]["id"].as_str().unwrap().to_string();
    let url = format!("{}/app/{app}", sb.get("/qseow/engine_url"));
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");
    let seen = enigma_session(
        &url,
        &[
            "--ca".into(),
            sb.get("/ca_cert"),
            "--cert".into(),
            sb.get("/qseow/client_cert/cert"),
            "--key".into(),
            sb.get("/qseow/client_cert/key"),
            "--header".into(),
            "X-Qlik-User: UserDirectory=INTERNAL; UserId=sa_api".into(),
        ],
    );
    check_session(&seen);
    let notes = seen["notifications"].as_array().unwrap();
    assert!(
        !notes.contains(&"OnAuthenticationInformation".into()),
        "no proxy on the engine port: {seen}"
    );
    let after = json(&env.ok(&["qrs", "app", "get", &app, "--json"]));
    assert_eq!(after["modifiedByUserName"], "INTERNAL\\sa_api");
}

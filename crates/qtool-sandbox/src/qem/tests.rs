//! In-process tests of the QEM emulator: build `router(state)` and call it with `oneshot`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{QemConfig, QemState, router};
use crate::faults::Faults;

const BASE: &str = "/attunityenterprisemanager/api/v1";
const SERVER: &str = "Sandbox%20Replicate";

fn config() -> QemConfig {
    QemConfig {
        users: vec![("SANDBOX\\admin".into(), "Passw0rd!".into())],
        api_tokens: vec!["pat-0123456789".into()],
        jwt_certificate: None,
        session_ttl: Duration::from_secs(300),
        faults: Arc::new(Faults::none()),
        seed_tasks: 4,
    }
}

fn basic(x: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(x)
    )
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn code(&self) -> String {
        self.json()["error_code"].as_str().unwrap_or("").to_string()
    }
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut req = Request::builder().method(method).uri(uri);
    let mut has_length = false;
    for (k, v) in headers {
        has_length |= k.eq_ignore_ascii_case("content-length");
        req = req.header(*k, *v);
    }
    if !has_length {
        // What an HTTP client sends (QEM needs it even for empty POSTs).
        req = req.header("Content-Length", body.len().to_string());
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    Resp {
        status,
        headers,
        body,
    }
}

/// `{BASE}/login` with `Authorization: <authorization>` and no body.
async fn login_with(app: &Router, method: Method, authorization: &str) -> Resp {
    call(
        app,
        method,
        &format!("{BASE}/login"),
        &[("Authorization", authorization)],
        "",
    )
    .await
}

/// A login the way the 2021 Python client sends it: POST with a form content type.
async fn form_login(app: &Router, body: &str) -> Resp {
    call(
        app,
        Method::POST,
        &format!("{BASE}/login"),
        &[
            ("Authorization", &basic("SANDBOX\\admin:Passw0rd!")),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body,
    )
    .await
}

/// A GET of `{BASE}{path}` with nothing but session id `sid`.
async fn get_with_session(app: &Router, path: &str, sid: &str) -> Resp {
    call(
        app,
        Method::GET,
        &format!("{BASE}{path}"),
        &[("EnterpriseManager.APISessionID", sid)],
        "",
    )
    .await
}

async fn login(app: &Router) -> String {
    let r = login_with(app, Method::GET, &basic("SANDBOX\\admin:Passw0rd!")).await;
    assert_eq!(r.status, StatusCode::OK);
    r.headers["EnterpriseManager.APISessionID"]
        .to_str()
        .unwrap()
        .to_string()
}

struct Client {
    app: Router,
    sid: String,
}

impl Client {
    async fn new(state: Arc<QemState>) -> Client {
        let app = router(state);
        let sid = login(&app).await;
        Client { app, sid }
    }
    async fn req(&self, method: Method, path: &str, body: &str) -> Resp {
        call(
            &self.app,
            method,
            &format!("{BASE}{path}"),
            &[
                ("EnterpriseManager.APISessionID", &self.sid),
                ("Content-Type", "application/json"),
            ],
            body,
        )
        .await
    }
    async fn get(&self, path: &str) -> Resp {
        self.req(Method::GET, path, "").await
    }
    async fn post(&self, path: &str, body: &str) -> Resp {
        self.req(Method::POST, path, body).await
    }
    async fn post_empty(&self, path: &str) -> Resp {
        self.req(Method::POST, path, "").await
    }
    async fn put(&self, path: &str, body: &str) -> Resp {
        self.req(Method::PUT, path, body).await
    }
    async fn delete(&self, path: &str) -> Resp {
        self.req(Method::DELETE, path, "").await
    }
}

async fn fresh() -> (Arc<QemState>, Client) {
    let state = QemState::new(config()).unwrap();
    let client = Client::new(Arc::clone(&state)).await;
    (state, client)
}

#[tokio::test]
async fn login_variants() {
    let app = router(QemState::new(config()).unwrap());
    let url = format!("{BASE}/login");
    for cred in [
        "SANDBOX\\admin:Passw0rd!",
        "sandbox\\ADMIN:Passw0rd!",
        "admin@sandbox.local:Passw0rd!",
        "admin@SANDBOX:Passw0rd!",
        "api-token:pat-0123456789",
    ] {
        let r = login_with(&app, Method::GET, &basic(cred)).await;
        assert_eq!(r.status, StatusCode::OK, "{cred}");
        assert!(r.body.is_empty());
        let sid = r.headers["enterpriseManager.apiSessionId"]
            .to_str()
            .unwrap();
        assert!(sid.len() >= 16);
    }
    for cred in [
        "SANDBOX\\admin:wrong",
        "OTHER\\admin:Passw0rd!",
        "api-token:nope",
        "jwt:abc",
    ] {
        let r = login_with(&app, Method::POST, &basic(cred)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{cred}");
        assert_eq!(r.code(), "UNAUTHORIZED_REQUEST");
        assert_eq!(r.headers["content-type"], "application/json; charset=utf-8");
    }
    let r = call(&app, Method::GET, &url, &[], "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // `Basic: <b64>` (the Go exporter's spelling).
    let odd = basic("SANDBOX\\admin:Passw0rd!").replacen("Basic", "Basic:", 1);
    let r = login_with(&app, Method::GET, &odd).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = login_with(&app, Method::GET, "Bearer x").await;
    assert_eq!(r.code(), "UNAUTHORIZED_REQUEST");
    let r = login_with(&app, Method::GET, "Basic !!!").await;
    assert_eq!(r.code(), "UNAUTHORIZED_REQUEST");
}

/// What the 2021 Python client does: POST login with a form content type, then echo every
/// response header (but Content-Length) on later requests.
#[tokio::test]
async fn python_client_2021_login_and_echoed_headers() {
    let app = router(QemState::new(config()).unwrap());
    let r = form_login(&app, "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.headers.contains_key("transfer-encoding"));
    let mut echoed: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(k, _)| k.as_str() != "content-length")
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect();
    echoed.push(("Date".into(), "Mon, 23 Nov 2026 08:00:00 GMT".into()));
    echoed.push(("Content-Length".into(), "0".into()));
    let headers: Vec<(&str, &str)> = echoed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert!(
        headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("server"))
    );
    assert!(
        headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("enterprisemanager.apisessionid"))
    );
    let r = call(&app, Method::GET, &format!("{BASE}/servers"), &headers, "").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(r.json()["serverList"][0]["name"], "Sandbox Replicate");
    // Login with a non-empty form body and credentials also works.
    let r = form_login(&app, "x=1").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn sessions_slide_expire_and_log_out() {
    let mut cfg = config();
    // Generous margins: each in-process request takes microseconds, but CI machines stall.
    cfg.session_ttl = Duration::from_millis(1000);
    let state = QemState::new(cfg).unwrap();
    let c = Client::new(state).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(c.get("/servers").await.status, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let r = c.get("/servers").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "INVALID_SESSION_ID");

    let sid = login(&c.app).await;
    let r = get_with_session(&c.app, "/logout", &sid).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "text/html");
    let r = get_with_session(&c.app, "/servers", &sid).await;
    assert_eq!(r.code(), "INVALID_SESSION_ID");
    let r = call(&c.app, Method::GET, &format!("{BASE}/servers"), &[], "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn fault_injection_expires_sessions() {
    let mut cfg = config();
    cfg.faults = Arc::new(Faults::new(Duration::ZERO, 1.0, None));
    let c = Client::new(QemState::new(cfg).unwrap()).await;
    let r = c.get("/servers").await;
    assert_eq!(r.code(), "INVALID_SESSION_ID");
    // Re-login works (login itself is never faulted).
    let _ = login(&c.app).await;
}

#[tokio::test]
async fn errors_and_routing() {
    let (_, c) = fresh().await;
    // No Content-Length on a body-less POST: HTTP.sys answers 411 before anything else.
    // Built by hand: `call` would add the Content-Length this is about.
    let stop_without_length = |extra: &[(&'static str, &'static str)]| {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(format!(
                "{BASE}/servers/{SERVER}/tasks/orders_archive?action=stop"
            ))
            .header("EnterpriseManager.APISessionID", &c.sid);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        c.app.clone().oneshot(req.body(Body::empty()).unwrap())
    };
    let resp = stop_without_length(&[]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::LENGTH_REQUIRED);
    assert_eq!(
        resp.headers()["content-type"],
        "text/html; charset=us-ascii"
    );
    let resp = stop_without_length(&[("Transfer-Encoding", "chunked")])
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(c.get("/nothing").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        c.get(&format!("/servers/{SERVER}/tasks?action=bogus"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = c.delete("/servers").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = c.get("/servers/Nope/tasks").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.code(), "AEM_SERVER_NOT_FOUND");
    let r = c.put("/servers/X/def", "{not json").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "DESERIALIZE_TO_TYPE");
    let r = c.put(&format!("/servers/{SERVER}?action=acl"), "[1]").await;
    assert_eq!(r.code(), "DESERIALIZE_TO_TYPE");
    assert_eq!(r.headers["content-type"], "application/json; charset=utf-8");
}

#[tokio::test]
async fn servers_list_details_def_and_acl() {
    let (_, c) = fresh().await;
    let list = c.get("/servers").await.json();
    let s = &list["serverList"][0];
    assert_eq!(s["$type"], "ReplicateServerInfo");
    assert_eq!(s["host"], "replicate.sandbox.local");
    assert_eq!(s["state"], "MONITORED");
    assert!(s["port"].is_string());

    let d = c.get(&format!("/servers/{SERVER}/")).await.json();
    let d = &d["server_details"];
    assert_eq!(d["$type"], "ReplicateServerDetails");
    assert_eq!(d["license"]["state"], "VALID_LICENSE");
    assert_eq!(d["task_summary"]["total"], 4);
    assert_eq!(d["task_summary"]["running"], 1);
    assert!(d["resource_utilization"]["memory_mb"].as_u64().unwrap() > 0);

    // Upsert a new server with a space in its name.
    let body = json!({"$type": "AemReplicateServer", "name": "My Sample Server",
        "host": "rep2.example.com", "port": 3552, "username": "DOM\\svc", "password": "pw1",
        "monitored": true, "verify_server_certificate": false});
    let r = c
        .put("/servers/My%20Sample%20Server/def", &body.to_string())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    let def = c.get("/servers/My%20Sample%20Server/def").await.json();
    assert_eq!(def["$type"], "AemReplicateServer");
    assert_eq!(def["port"], "3552");
    let placeholder = def["password"].as_str().unwrap().to_string();
    assert_ne!(placeholder, "pw1");
    // Same session: the placeholder keeps the password.
    let mut upd = def.clone();
    upd["description"] = json!("updated");
    assert_eq!(
        c.put("/servers/My%20Sample%20Server/def", &upd.to_string())
            .await
            .status,
        StatusCode::OK
    );
    // Another session cannot reuse it.
    let other = Client {
        app: c.app.clone(),
        sid: login(&c.app).await,
    };
    let r = other
        .put("/servers/My%20Sample%20Server/def", &upd.to_string())
        .await;
    assert_eq!(r.code(), "AEM_INVALID_PASSWORD");
    // $type is required.
    let r = c.put("/servers/X/def", r#"{"host":"h"}"#).await;
    assert_eq!(r.code(), "DESERIALIZE_TO_TYPE");

    // ACL: none → put → get → delete (2018 client's trailing slash).
    let r = c.get("/servers/My%20Sample%20Server/?action=acl").await;
    assert_eq!(r.code(), "AEM_SERVER_HAS_NO_ACL");
    let acl = json!({"$type": "AemAuthorizationAcl",
        "admin_role": {"$type": "AemRoleDef", "users": [{"$type": "AemUserRef", "name": "DOM\\alice"}], "groups": []},
        "viewer_role": null, "disable_inheritance": true});
    assert_eq!(
        c.put("/servers/My%20Sample%20Server?action=acl", &acl.to_string())
            .await
            .status,
        StatusCode::OK
    );
    let got = c
        .get("/servers/My%20Sample%20Server?action=ACL")
        .await
        .json();
    assert_eq!(got["admin_role"]["users"][0]["name"], "DOM\\alice");
    assert_eq!(got["disable_inheritance"], true);
    assert_eq!(got["viewer_role"]["users"], json!([]));
    assert_eq!(
        c.delete("/servers/My%20Sample%20Server?action=acl")
            .await
            .status,
        StatusCode::OK
    );

    // License.
    let r = c
        .put(
            "/servers/My%20Sample%20Server/license/def",
            "license_type=Permanent\nexpiration_date=2099-01-01\nissue_date=2025-01-01\n",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let d = c.get("/servers/My%20Sample%20Server").await.json();
    assert_eq!(d["server_details"]["license"]["state"], "VALID_LICENSE");
    let r = c
        .put("/servers/My%20Sample%20Server/license/def", "garbage")
        .await;
    assert_eq!(r.code(), "AEM_SRV_LIC_INVALID_FORMAT");

    // Delete.
    assert_eq!(
        c.delete("/servers/My%20Sample%20Server/def").await.status,
        StatusCode::OK
    );
    let r = c.get("/servers/My%20Sample%20Server/def").await;
    assert_eq!(r.code(), "AEM_SERVER_NOT_FOUND");
}

#[tokio::test]
async fn task_list_details_export_import() {
    let (_, c) = fresh().await;
    let list = c.get(&format!("/servers/{SERVER}/tasks")).await.json();
    let tasks = list["taskList"].as_array().unwrap();
    assert_eq!(tasks.len(), 4);
    assert_eq!(tasks[0]["name"], "Sales to Kafka");
    assert_eq!(tasks[0]["state"], "RUNNING");
    assert!(tasks[1]["assigned_tags"].is_array());

    let d = c
        .get(&format!("/servers/{SERVER}/tasks/Sales%20to%20Kafka"))
        .await
        .json();
    assert_eq!(d["type"], "AemTaskInfoDetailed");
    assert_eq!(d["source_endpoint"]["name"], "Oracle Sales");
    assert_eq!(d["source_endpoint"]["type"], "ORACLE");
    assert_eq!(d["full_load_counters"]["tables_completed_count"], 4);
    assert!(
        d["cdc_event_counters"]["applied_insert_count"]
            .as_u64()
            .unwrap()
            > 0
    );

    let path =
        format!("/servers/{SERVER}/tasks/Sales%20to%20Kafka?action=export&withendpoints=True");
    let a = c.get(&path).await.json();
    let b = c.get(&path).await.json();
    assert!(a["name"].as_str().unwrap().starts_with("Sales to Kafka__"));
    assert_eq!(a["_version"]["version_major"], 2024);
    assert!(
        a["description"]
            .as_str()
            .unwrap()
            .starts_with("Host name: replicate.sandbox.local")
    );
    let rd = &a["cmd.replication_definition"];
    assert_eq!(rd["tasks"][0]["task"]["name"], "Sales to Kafka");
    assert_eq!(rd["databases"].as_array().unwrap().len(), 2);
    let pa = rd["databases"][0]["db_settings"]["password"]
        .as_str()
        .unwrap();
    let pb = b["cmd.replication_definition"]["databases"][0]["db_settings"]["password"]
        .as_str()
        .unwrap();
    assert!(pa.starts_with("{Z") && pa.ends_with('}'));
    assert_ne!(pa, pb, "a fresh nonce on every export");
    let plain = c
        .get(&format!(
            "/servers/{SERVER}/tasks/Sales%20to%20Kafka?action=export"
        ))
        .await
        .json();
    assert!(
        plain["cmd.replication_definition"]
            .get("databases")
            .is_none()
    );

    // Import a copy under a new name (URL name wins), with a leading comment line.
    let text = format!("// Host name: x, Time: y\n{a}");
    let r = c
        .post(
            &format!("/servers/{SERVER}/tasks/Sales%20Copy?action=import"),
            &text,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    let copy = c
        .get(&format!(
            "/servers/{SERVER}/tasks/Sales%20Copy?action=export&withendpoints=true"
        ))
        .await
        .json();
    assert_eq!(
        copy["cmd.replication_definition"]["tasks"][0]["task"]["name"],
        "Sales Copy"
    );
    let d = c
        .get(&format!("/servers/{SERVER}/tasks/Sales%20Copy"))
        .await
        .json();
    assert_eq!(d["state"], "STOPPED");
    // Secrets round-trip: the re-export of the imported endpoint still decrypts to the same
    // secret (compare by importing plain text and exporting again).
    assert_eq!(
        copy["cmd.replication_definition"]["databases"][0]["db_settings"]["username"],
        "REPL_CDC"
    );

    // Importing over a running task is refused.
    let r = c
        .post(
            &format!("/servers/{SERVER}/tasks/Sales%20to%20Kafka?action=import"),
            &text,
        )
        .await;
    assert_eq!(r.code(), "AEM_TASK_NOT_STOPPED");
    // Bad JSON.
    let r = c
        .post(
            &format!("/servers/{SERVER}/tasks/X?action=import"),
            "{\"a\":",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "DESERIALIZE_TO_TYPE");
    // Unknown endpoint reference.
    let mut bad = a.clone();
    bad["cmd.replication_definition"]["databases"] = json!([]);
    bad["cmd.replication_definition"]["tasks"][0]["task"]["source_name"] = json!("Ghost");
    let r = c
        .post(
            &format!("/servers/{SERVER}/tasks/X?action=import"),
            &bad.to_string(),
        )
        .await;
    assert_eq!(r.code(), "AEM_ENDPOINT_NOT_FOUND");
}

#[tokio::test]
async fn import_merges_and_plain_passwords_are_encrypted_on_export() {
    let (_, c) = fresh().await;
    let src = c
        .get(&format!(
            "/servers/{SERVER}/tasks/orders_archive?action=export&withendpoints=true"
        ))
        .await
        .json();
    let mut doc = src.clone();
    doc["cmd.replication_definition"]["databases"][0]["db_settings"]["password"] =
        json!("new-plain");
    doc["cmd.replication_definition"]["tasks"][0]["source"]["source_tables"]["explicit_included_tables"] =
        json!([{"owner": "SALES", "name": "RETURNS"}]);
    let r = c
        .post(
            &format!("/servers/{SERVER}/tasks/orders_archive?action=import"),
            &doc.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    let tables = c
        .get(&format!(
            "/servers/{SERVER}/tasks/orders_archive/tables?action=selection"
        ))
        .await
        .json();
    let names: Vec<&str> = tables["explicit_included_tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["ORDERS", "ORDER_LINES", "RETURNS"],
        "merge keeps old tables"
    );
    let again = c
        .get(&format!(
            "/servers/{SERVER}/tasks/orders_archive?action=export&withendpoints=true"
        ))
        .await
        .json();
    let pw = again["cmd.replication_definition"]["databases"][0]["db_settings"]["password"]
        .as_str()
        .unwrap();
    assert!(pw.starts_with("{Z"));
}

#[tokio::test]
async fn run_stop_state_machine() {
    let (state, c) = fresh().await;
    let t = format!("/servers/{SERVER}/tasks/hr_employees_to_snowflake");
    let g0 = state.generation();
    let r = c
        .post(
            &format!("{t}?action=run&option=RESUME_PROCESSING&timeout=5"),
            r#"{"$type":"AemRunTaskReq","cdcposition":null}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(r.json(), json!({"state": "RUNNING", "error_message": ""}));
    assert!(state.generation() > g0);
    // A huge timeout does not overflow; a bad one is a 400.
    let r = c
        .post_empty(&format!("{t}?action=run&timeout=18446744073709551615"))
        .await;
    assert_eq!(r.json()["state"], "RUNNING");
    let r = c.post_empty(&format!("{t}?action=run&timeout=-1")).await;
    assert_eq!(r.code(), "DESERIALIZE_TO_TYPE");
    let r = c.post(&format!("{t}?action=run"), "{bad").await;
    assert_eq!(r.code(), "DESERIALIZE_TO_TYPE");
    // Running again changes nothing.
    let r = c
        .post_empty(&format!(
            "{t}?action=run&option=RESUME_PROCESSING&timeout=0"
        ))
        .await;
    assert_eq!(r.json()["state"], "RUNNING");
    // Delete while running is refused.
    let r = c
        .post_empty(&format!("{t}?action=delete&deletetasklogs=True"))
        .await;
    assert_eq!(r.code(), "AEM_TASK_NOT_STOPPED");
    let r = c.post_empty(&format!("{t}/?action=stop&timeout=5")).await;
    assert_eq!(r.json(), json!({"state": "STOPPED", "error_message": ""}));
    let r = c.post_empty(&format!("{t}?action=stop&timeout=5")).await;
    assert_eq!(r.code(), "AEM_TASK_ALREADY_STOPPED");
    // timeout=0 answers at once with the transition state.
    let r = c
        .post_empty(&format!("{t}?action=run&option=RELOAD_TARGET&timeout=0"))
        .await;
    assert_eq!(r.json()["state"], "STARTING");
    let list = c.get(&format!("/servers/{SERVER}/tasks")).await.json();
    assert_eq!(list["taskList"][1]["state"], "STARTING");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let d = loop {
        let d = c.get(&t).await.json();
        if d["state"] == "RUNNING" || std::time::Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(d["state"], "RUNNING");
    let r = c.post_empty(&format!("{t}?action=stop&timeout=0")).await;
    assert_eq!(r.json()["state"], "STOPPING");
    let r = c.post_empty(&format!("{t}?action=stop&timeout=5")).await;
    assert_eq!(r.json()["state"], "STOPPED");
    // Options.
    let r = c.post_empty(&format!("{t}?action=run&option=FASTER")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .post_empty(&format!(
            "{t}?action=run&option=RESUME_PROCESSING_FROM_TIMESTAMP"
        ))
        .await;
    assert_eq!(r.code(), "DESERIALIZE_TO_TYPE");
    let r = c
        .post(
            &format!("{t}?action=run&option=RESUME_PROCESSING_FROM_TIMESTAMP"),
            r#"{"cdcposition":"yesterday"}"#,
        )
        .await;
    assert_eq!(r.code(), "AEM_INVALID_TIMESTAMP_FORMAT");
    let r = c
        .post(
            &format!("{t}?action=run&option=RESUME_PROCESSING_FROM_TIMESTAMP&timeout=5"),
            r#"{"cdcposition":"2026-01-01T00:00:00"}"#,
        )
        .await;
    assert_eq!(r.json()["state"], "RUNNING");
    let r = c.post_empty(&format!("{t}?action=stop&timeout=5")).await;
    assert_eq!(r.json()["state"], "STOPPED");
    // Delete once stopped.
    let r = c
        .post_empty(&format!("{t}?action=delete&deletetasklogs=false"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(c.get(&t).await.code(), "AEM_TASK_NOT_FOUND");
}

#[tokio::test]
async fn parallel_runs_and_stops() {
    let mut cfg = config();
    cfg.seed_tasks = 8;
    let state = QemState::new(cfg).unwrap();
    let c = Arc::new(Client::new(state).await);
    let list = c.get(&format!("/servers/{SERVER}/tasks")).await.json();
    let names: Vec<String> = list["taskList"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] == "STOPPED")
        .map(|t| t["name"].as_str().unwrap().replace(' ', "%20"))
        .collect();
    assert_eq!(names.len(), 7);
    let mut handles = Vec::new();
    for n in names.clone() {
        let c = Arc::clone(&c);
        handles.push(tokio::spawn(async move {
            c.post_empty(&format!(
                "/servers/{SERVER}/tasks/{n}?action=run&option=RESUME_PROCESSING&timeout=10"
            ))
            .await
            .json()
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap()["state"], "RUNNING");
    }
    let d = c.get(&format!("/servers/{SERVER}")).await.json();
    assert_eq!(d["server_details"]["task_summary"]["running"], 8);
}

#[tokio::test]
async fn endpoints_list_test_patch_delete() {
    let (_, c) = fresh().await;
    let list = c.get(&format!("/servers/{SERVER}/endpoints")).await.json();
    let eps = list["endpointList"].as_array().unwrap();
    assert!(
        eps.iter()
            .any(|e| e["name"] == "Oracle Sales" && e["role"] == "SOURCE" && e["type"] == "ORACLE")
    );
    let r = c
        .get(&format!(
            "/servers/{SERVER}/endpoints/Oracle%20Sales?action=test&timeout=60"
        ))
        .await;
    assert_eq!(r.json()["status"], "CONNECTED");
    let r = c
        .post_empty(&format!(
            "/servers/{SERVER}/endpoints/Oracle%20Sales?action=delete"
        ))
        .await;
    assert_eq!(r.code(), "AEM_ENDPOINT_IS_IN_USE");
    let r = c
        .post_empty(&format!("/servers/{SERVER}/endpoints/Nope?action=delete"))
        .await;
    assert_eq!(r.code(), "AEM_ENDPOINT_NOT_FOUND");
    // Patch the file target, then delete it after deleting its only task.
    let patch = json!([{"op": "replace", "path": "/db_settings/path", "value": "/data/new"},
                       {"op": "add", "path": "/description", "value": "archive"}]);
    let r = c
        .req(
            Method::PATCH,
            &format!("/servers/{SERVER}/endpoints/File%20Archive"),
            &patch.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    let list = c.get(&format!("/servers/{SERVER}/endpoints")).await.json();
    assert!(
        list["endpointList"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["description"] == "archive")
    );
    let bad = json!([{"op": "replace", "path": "/db_settings/$type", "value": "X"}]);
    let r = c
        .req(
            Method::PATCH,
            &format!("/servers/{SERVER}/endpoints/File%20Archive"),
            &bad.to_string(),
        )
        .await;
    assert_eq!(r.code(), "AEM_PATCH_ENDPOINT_INNER_ERR");
    assert_eq!(
        c.post_empty(&format!(
            "/servers/{SERVER}/tasks/orders_archive?action=delete"
        ))
        .await
        .status,
        StatusCode::OK
    );
    let r = c
        .delete(&format!(
            "/servers/{SERVER}/endpoints/File%20Archive/?action=delete"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn tables() {
    let (_, c) = fresh().await;
    let t = format!("/servers/{SERVER}/tasks/Sales%20to%20Kafka/tables");
    let r = c.get(&t).await.json();
    assert_eq!(r["tablelist"].as_array().unwrap().len(), 4);
    assert_eq!(r["tablelist"][0]["state"], "TABLE_CHANGE_PROCESSING");
    let r = c
        .get(&format!(
            "{t}?schema=SALES&table=ORDER%25&includequeued=False&includechangeprocessing=True"
        ))
        .await
        .json();
    assert_eq!(r["tablelist"].as_array().unwrap().len(), 2);
    let r = c
        .get(&format!("{t}?action=getstatus&table=CUSTOMERS"))
        .await
        .json();
    let d = &r["table_details"][0];
    assert_eq!(d["table_on_source"], "CUSTOMERS");
    assert!(
        d["table_full_load_info"]["estimated_row_count"]
            .as_u64()
            .unwrap()
            >= 1000
    );
    let r = c.get(&format!("{t}?includequeued=true")).await.json();
    assert_eq!(r["tablelist"].as_array().unwrap().len(), 0);
    // Reload one table: it loads again.
    let r = c
        .post_empty(&format!("{t}?action=reload&schema=SALES&table=ORDERS"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c.get(&format!("{t}?includeloading=true")).await.json();
    assert_eq!(r["tablelist"][0]["table"], "ORDERS");
    let r = c
        .post_empty(&format!("{t}?action=reload&schema=SALES&table=NOPE"))
        .await;
    assert_eq!(r.code(), "AEM_RELOAD_TABLE_ERR");
    // Selection.
    let sel = json!({"included_pattern": [{"owner": "SALES", "name": "%"}], "excluded_pattern": [],
        "explicit_included_tables": [{"owner": "SALES", "name": "ORDERS", "load_order": 0, "table_type": "TABLE"}]});
    assert_eq!(
        c.put(&format!("{t}?action=selection"), &sel.to_string())
            .await
            .status,
        StatusCode::OK
    );
    let got = c.get(&format!("{t}?action=selection")).await.json();
    assert_eq!(got, sel);
    // A stopped, never-run task has queued tables.
    let r = c
        .get(&format!("/servers/{SERVER}/tasks/orders_archive/tables"))
        .await
        .json();
    assert_eq!(r["tablelist"][0]["state"], "TABLE_QUEUED");
}

#[tokio::test]
async fn audit_trail() {
    let (_, c) = fresh().await;
    let acl = json!({"admin_role": {"users": [{"name": "D\\u"}]}});
    c.put(&format!("/servers/{SERVER}?action=acl"), &acl.to_string())
        .await;
    let r = c
        .get("/security/audit_trail?start_timestamp=2000-01-01T00:00:00Z")
        .await
        .json();
    let recs = r["audit_trail"].as_array().unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["operation"], "PutServerAcl");
    assert_eq!(recs[0]["user"], "SANDBOX\\admin");
    let r = c
        .get("/security/audit_trail?start_timestamp=yesterday")
        .await;
    assert_eq!(r.code(), "AEM_INVALID_TIMESTAMP_FORMAT");
    let r = c
        .get("/security/audit_trail?start_timestamp=2000-01-01T00:00:00Z&end_timestamp=1999-01-01T00:00:00Z")
        .await;
    assert_eq!(r.code(), "AEM_EXPORT_INNER_ERR");
    let r = c
        .get("/security/audit_trail?start_timestamp=2000-01-01T00:00:00Z&end_timestamp=2000-01-02T00:00:00Z")
        .await
        .json();
    assert_eq!(r["audit_trail"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn snapshot_restore_round_trip() {
    let (state, c) = fresh().await;
    let t = format!("/servers/{SERVER}/tasks/Inventory%20to%20Kafka");
    c.post_empty(&format!(
        "{t}?action=run&option=RESUME_PROCESSING&timeout=0"
    ))
    .await;
    c.put(
        &format!("/servers/{SERVER}?action=acl"),
        r#"{"viewer_role":{"groups":[{"name":"DOM\\ops"}]}}"#,
    )
    .await;
    let g = state.generation();
    let snap = state.snapshot();
    assert_eq!(state.generation(), g, "a snapshot is not a change");
    assert!(snap.get("sessions").is_none());
    assert_eq!(snap["servers"][0]["tasks"].as_array().unwrap().len(), 4);
    assert_eq!(snap["servers"][0]["endpoints"].as_array().unwrap().len(), 6);
    assert_eq!(
        snap["servers"][0]["acl"]["viewer_role"]["groups"][0],
        "DOM\\ops"
    );
    assert_eq!(snap["audit"].as_array().unwrap().len(), 2);
    let restored = QemState::restore(config(), snap.clone()).unwrap();
    assert_eq!(restored.generation(), 0);
    let c2 = Client::new(Arc::clone(&restored)).await;
    let list = c2.get(&format!("/servers/{SERVER}/tasks")).await.json();
    let states: Vec<&str> = list["taskList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["RUNNING", "STOPPED", "RUNNING", "STOPPED"]);
    let acl = c2
        .get(&format!("/servers/{SERVER}?action=acl"))
        .await
        .json();
    assert_eq!(acl["viewer_role"]["groups"][0]["name"], "DOM\\ops");
    // Old sessions are gone after a restore.
    let r = get_with_session(&c2.app, "/servers", &c.sid).await;
    assert_eq!(r.code(), "INVALID_SESSION_ID");
    // Exports of the restored state still decrypt (same master key) and re-import cleanly.
    let e = c2
        .get(&format!("{t}?action=export&withendpoints=true"))
        .await
        .json();
    assert!(
        e["cmd.replication_definition"]["databases"][0]["db_settings"]["password"]
            .as_str()
            .unwrap()
            .starts_with("{Z")
    );
    assert!(QemState::restore(config(), json!({"bad": true})).is_err());
    assert_eq!(
        QemState::restore(config(), Value::Null)
            .unwrap()
            .generation(),
        0
    );
}

#[tokio::test]
async fn export_all_and_import_all() {
    let (_, c) = fresh().await;
    let all = c
        .get(&format!("/servers/{SERVER}?action=export"))
        .await
        .json();
    assert_eq!(
        all["cmd.replication_definition"]["tasks"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // A second server imports everything.
    let body = json!({"$type": "AemReplicateServer", "host": "rep3.example.com", "port": "443",
        "username": "u", "password": "p"});
    c.put("/servers/Copy/def", &body.to_string()).await;
    let mut doc = all.clone();
    doc["cmd.replication_definition"]["notification_settings"] = json!({"smtp": "mail.local"});
    let r = c
        .post("/servers/Copy?action=import", &doc.to_string())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    let list = c.get("/servers/Copy/tasks").await.json();
    assert_eq!(list["taskList"].as_array().unwrap().len(), 4);
    let again = c.get("/servers/Copy?action=export").await.json();
    assert_eq!(
        again["cmd.replication_definition"]["notification_settings"]["smtp"],
        "mail.local"
    );
}

#[tokio::test]
async fn jwt_login() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["qem-jwt".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let mut cfg = config();
    cfg.jwt_certificate = Some(cert.pem());
    let app = router(QemState::new(cfg).unwrap());
    let signer = EncodingKey::from_rsa_pem(key.serialize_pem().as_bytes()).unwrap();
    let now = jsonwebtoken::get_current_timestamp();
    let token = |alg: Algorithm, claims: Value| {
        jsonwebtoken::encode(&Header::new(alg), &claims, &signer).unwrap()
    };
    let try_login = |jwt: String| {
        let app = app.clone();
        async move { login_with(&app, Method::POST, &basic(&format!("jwt:{jwt}"))).await }
    };
    let ok = try_login(token(
        Algorithm::RS256,
        json!({"userid": "alice", "userdirectory": "SANDBOX", "exp": now + 300}),
    ))
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    for alg in [Algorithm::RS384, Algorithm::RS512] {
        let r = try_login(token(alg, json!({"sub": "bob", "exp": now + 300}))).await;
        assert_eq!(r.status, StatusCode::OK, "{alg:?}");
    }
    // Expired, no exp, no user, tampered.
    let expired = try_login(token(
        Algorithm::RS256,
        json!({"sub": "bob", "exp": now - 10}),
    ))
    .await;
    assert_eq!(expired.code(), "UNAUTHORIZED_REQUEST");
    let no_exp = try_login(token(Algorithm::RS256, json!({"sub": "bob"}))).await;
    assert_eq!(no_exp.status, StatusCode::UNAUTHORIZED);
    let nobody = try_login(token(Algorithm::RS256, json!({"exp": now + 300}))).await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
    let mut t = token(Algorithm::RS256, json!({"sub": "bob", "exp": now + 300}));
    t.push('x');
    assert_eq!(try_login(t).await.status, StatusCode::UNAUTHORIZED);

    // The audit trail names the JWT user.
    let sid = ok.headers["EnterpriseManager.APISessionID"]
        .to_str()
        .unwrap()
        .to_string();
    let c = Client {
        app: app.clone(),
        sid,
    };
    c.put(&format!("/servers/{SERVER}?action=acl"), "{}").await;
    let r = c
        .get("/security/audit_trail?start_timestamp=2000-01-01T00:00:00")
        .await
        .json();
    assert_eq!(r["audit_trail"][0]["user"], "SANDBOX\\alice");
}

/// Serve `app` over loopback TLS (HTTP/1.1 only, like QEM behind HTTP.sys); the port.
async fn serve_tls(app: Router) -> u16 {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .unwrap();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

/// QEM's own Python client (`aem_client.py`, shipped with QEM under `<install>/clients/python`)
/// against the router over TLS. The client is not redistributable, so this runs only when
/// `QEM_PYTHON_CLIENT_DIR` names the folder holding it (and `python3` is on PATH).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_aem_client_smoke() {
    let Ok(dir) = std::env::var("QEM_PYTHON_CLIENT_DIR") else {
        return;
    };
    let port = serve_tls(router(QemState::new(config()).unwrap())).await;
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("aem_client_smoke.py");
    std::fs::write(&script, include_str!("testdata/aem_client_smoke.py")).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(&script)
            .arg(&dir)
            .arg(port.to_string())
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn unmonitored_unreachable_and_expired_servers() {
    let (_, c) = fresh().await;
    let put = |name: &'static str, host: &'static str, monitored: bool| {
        let body = json!({"$type": "AemReplicateServer", "host": host, "monitored": monitored,
            "username": "u", "password": "p"});
        let c = &c;
        async move {
            c.put(&format!("/servers/{name}/def"), &body.to_string())
                .await
        }
    };
    assert_eq!(
        put("Quiet", "quiet.example.com", false).await.status,
        StatusCode::OK
    );
    assert_eq!(
        put("Gone", "gone.invalid", true).await.status,
        StatusCode::OK
    );
    let list = c.get("/servers").await.json();
    let state = |n: &str| {
        list["serverList"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == n)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state("Quiet"), "NOT_MONITORED");
    assert_eq!(state("Gone"), "ERROR");
    assert_eq!(
        c.get("/servers/Quiet/tasks").await.code(),
        "AEM_SERVER_NOT_MONITORED"
    );
    assert_eq!(
        c.get("/servers/Gone/endpoints").await.code(),
        "AEM_SERVER_NOT_CONNECTED"
    );
    let d = c.get("/servers/Gone").await.json();
    assert_eq!(d["server_details"]["state"], "ERROR");
    assert_eq!(d["server_details"]["license"]["state"], "NO_LICENSE");
    // An expired license blocks RunTask.
    c.put(
        &format!("/servers/{SERVER}/license/def"),
        "license_type=Term\nexpiration_date=2020-01-01\n",
    )
    .await;
    let d = c.get(&format!("/servers/{SERVER}")).await.json();
    assert_eq!(d["server_details"]["license"]["state"], "EXPIRED_LICENSE");
    let r = c
        .post_empty(&format!(
            "/servers/{SERVER}/tasks/orders_archive?action=run&option=RESUME_PROCESSING"
        ))
        .await;
    assert_eq!(r.code(), "AEM_SERVER_LICENSE_EXPIRED");
}

/// An export of `orders_archive` turned into a new task `name` with one table, after `edit`.
async fn derived_task(c: &Client, name: &str, edit: impl FnOnce(&mut Value)) {
    let mut doc = c
        .get(&format!(
            "/servers/{SERVER}/tasks/orders_archive?action=export&withendpoints=true"
        ))
        .await
        .json();
    doc["cmd.replication_definition"]["tasks"][0]["source"]["source_tables"]["explicit_included_tables"] =
        json!([{"owner": "SALES", "name": "ORDERS"}]);
    edit(&mut doc);
    let r = c
        .post(
            &format!(
                "/servers/{SERVER}/tasks/{}?action=import",
                name.replace(' ', "%20")
            ),
            &doc.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
}

#[tokio::test]
async fn unreachable_endpoint_fails_the_start() {
    let (_, c) = fresh().await;
    derived_task(&c, "Broken", |doc| {
        let rd = &mut doc["cmd.replication_definition"];
        rd["databases"][0]["name"] = json!("Oracle Broken");
        rd["databases"][0]["db_settings"]["server"] = json!("//ora.invalid:1521/X");
        rd["tasks"][0]["task"]["source_name"] = json!("Oracle Broken");
    })
    .await;
    let t = format!("/servers/{SERVER}/tasks/Broken");
    let r = c
        .post_empty(&format!(
            "{t}?action=run&option=RESUME_PROCESSING&timeout=5"
        ))
        .await;
    let body = r.json();
    assert_eq!(body["state"], "ERROR");
    assert!(
        body["error_message"]
            .as_str()
            .unwrap()
            .contains("ora.invalid")
    );
    let list = c.get(&format!("/servers/{SERVER}/tasks")).await.json();
    let task = list["taskList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Broken")
        .unwrap()
        .clone();
    assert_eq!(task["stop_reason"], "FATAL_ERROR");
    let r = c
        .get(&format!(
            "/servers/{SERVER}/endpoints/Oracle%20Broken?action=test"
        ))
        .await;
    assert_eq!(r.json()["status"], "ERROR");
    let r = c.post_empty(&format!("{t}?action=stop")).await;
    assert_eq!(r.code(), "AEM_TASK_ALREADY_STOPPED");
    // A task in ERROR can be deleted.
    assert_eq!(
        c.post_empty(&format!("{t}?action=delete")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn full_load_only_task_finishes_by_itself() {
    let (_, c) = fresh().await;
    derived_task(&c, "FL only", |doc| {
        doc["cmd.replication_definition"]["tasks"][0]["task_settings"]["common_settings"]["apply_changes_enabled"] =
            json!(false);
    })
    .await;
    let t = format!("/servers/{SERVER}/tasks/FL%20only");
    let r = c
        .post_empty(&format!(
            "{t}?action=run&option=RESUME_PROCESSING&timeout=5"
        ))
        .await;
    assert_eq!(r.json()["state"], "RUNNING");
    let d = c.get(&t).await.json();
    assert_eq!(d["options"]["apply_changes_enabled"], false);
    assert_eq!(d["full_load_counters"]["tables_loading_count"], 1);
    // The load takes ~2.5 s of timer time; poll (a loaded CI machine may be slower).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let d = loop {
        let d = c.get(&t).await.json();
        if d["state"] == "STOPPED" || std::time::Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(d["state"], "STOPPED");
    assert_eq!(d["task_stop_reason"], "FULL_LOAD_ONLY_FINISHED");
    assert_eq!(d["full_load_counters"]["tables_completed_count"], 1);
}

/// reqwest (hyper) sends no `Content-Length` for an empty POST body; QEM (HTTP.sys) then answers
/// 411, so clients must set `Content-Length: 0` themselves — as the QEM docs say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_empty_post_needs_explicit_content_length() {
    let port = serve_tls(router(QemState::new(config()).unwrap())).await;
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .http1_only()
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{port}{BASE}");
    let login = http
        .post(format!("{base}/login"))
        .header("Authorization", basic("SANDBOX\\admin:Passw0rd!"))
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let sid = login.headers()["enterprisemanager.apisessionid"]
        .to_str()
        .unwrap()
        .to_string();
    let stop = format!("{base}/servers/{SERVER}/tasks/Sales%20to%20Kafka?action=stop&timeout=5");
    let r = http
        .post(&stop)
        .header("EnterpriseManager.APISessionID", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 411);
    let r = http
        .post(&stop)
        .header("EnterpriseManager.APISessionID", &sid)
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body["state"], "STOPPED");
}
mod names;

//! The engine over real sockets: the sandbox's TLS listener with the engine port's router, a
//! WebSocket client with a client certificate, JSON-RPC frames as an engine client sends them.
//! Every result is checked against the method table (names of `qReturn` and out-parameters),
//! and the table against the vendored enigma.js schema.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::methods::{self, Class, METHODS, Returns};
use super::spec::{ErrorCode, Progress, ReloadError};
use super::{Engine, port_router};
use crate::faults::Faults;
use crate::pki::Pki;
use crate::qrs::{QrsConfig, QrsState};
use crate::server::{self, ClientAuth};

const SCHEMA: &str = include_str!("../../spec/qix-engine-api.enigma-12.2027.0.json");

fn pki() -> &'static (tempfile::TempDir, Pki) {
    static PKI: OnceLock<(tempfile::TempDir, Pki)> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path()).unwrap();
        (dir, pki)
    })
}

struct Harness {
    _dir: tempfile::TempDir,
    qrs: Arc<QrsState>,
    engine: Arc<Engine>,
    addr: SocketAddr,
    _stop: watch::Sender<bool>,
}

async fn start_with(apps: usize, objects: usize, faults: Faults) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let qrs = QrsState::new(QrsConfig {
        data_dir: dir.path().join("apps"),
        seed_apps: apps,
        seed_tasks: 0,
        seed_objects: objects,
        virtual_proxies: vec![],
    })
    .unwrap();
    let faults = Arc::new(faults);
    let engine = Engine::new(qrs.clone(), faults.clone());
    engine.set_reload_pace(0.02);
    let (_, pki) = pki();
    let acceptor = server::tls_acceptor(
        &pki.server_cert,
        &pki.server_key,
        ClientAuth::Required {
            ca_pem: pki.ca_cert.clone(),
        },
        server::HttpVersions::Http1Only,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = watch::channel(false);
    tokio::spawn(server::serve(
        "engine",
        listener,
        acceptor,
        port_router(engine.clone()),
        faults,
        server::Guards::new(crate::limits::Limits::default()),
        rx,
    ));
    Harness {
        _dir: dir,
        qrs,
        engine,
        addr,
        _stop: stop,
    }
}

async fn start(apps: usize) -> Harness {
    start_with(apps, 12, Faults::none()).await
}

impl Harness {
    fn app_ids(&self) -> Vec<String> {
        self.qrs
            .read()
            .all("app")
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn app_entity(&self, id: &str) -> serde_json::Map<String, Value> {
        self.qrs.read().get("app", id).unwrap()
    }

    async fn connect(&self, path: &str) -> Client {
        self.connect_as(path, "UserDirectory=SANDBOX; UserId=admin")
            .await
    }

    async fn try_connect(&self, path: &str) -> Option<Client> {
        self.open_socket(path, "UserDirectory=SANDBOX; UserId=admin")
            .await
    }

    async fn connect_as(&self, path: &str, user: &str) -> Client {
        self.open_socket(path, user).await.expect("engine socket")
    }

    async fn open_socket(&self, path: &str, user: &str) -> Option<Client> {
        open_socket(self.addr, path, true, &[("X-Qlik-User", user)])
            .await
            .ok()
    }
}

/// A WebSocket to `addr` (with the sandbox's client certificate when `client_cert`); the
/// refused upgrade's HTTP answer otherwise.
async fn open_socket(
    addr: SocketAddr,
    path: &str,
    client_cert: bool,
    headers: &[(&str, &str)],
) -> Result<Client, Option<tokio_tungstenite::tungstenite::http::Response<Option<Vec<u8>>>>> {
    let (_, pki) = pki();
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(pki.ca_cert.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = if client_cert {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(&pki.paths.client_cert)
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let key = PrivateKeyDer::from_pem_file(&pki.paths.client_key).unwrap();
        builder.with_client_auth_cert(certs, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let tcp = TcpStream::connect(addr).await.map_err(|_| None)?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|_| None)?;
    let mut request = format!("wss://localhost:{}{path}", addr.port())
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        request.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    match tokio_tungstenite::client_async(request, tls).await {
        Ok((ws, response)) => {
            let mut client = Client {
                ws,
                next: 1,
                notifications: Vec::new(),
                news: Vec::new(),
                early: HashMap::new(),
                classes: HashMap::new(),
                upgrade: response,
            };
            client.classes.insert(-1, Class::Global);
            Ok(client)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(Some(*response)),
        Err(_) => Err(None),
    }
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

struct Client {
    ws: WebSocketStream<Tls>,
    next: i64,
    notifications: Vec<Value>,
    /// Frames with only `change`/`close`.
    news: Vec<Value>,
    /// Answers that came before the one awaited.
    early: HashMap<i64, Value>,
    /// Handle → class, from the handles the engine gave out.
    classes: HashMap<i64, Class>,
    /// The 101 answer.
    upgrade: tokio_tungstenite::tungstenite::http::Response<Option<Vec<u8>>>,
}

fn class_named(name: &str) -> Option<Class> {
    [
        Class::Global,
        Class::Doc,
        Class::GenericObject,
        Class::GenericDimension,
        Class::GenericMeasure,
        Class::GenericVariable,
        Class::GenericBookmark,
    ]
    .into_iter()
    .find(|c| c.name() == name)
}

impl Client {
    async fn frame(&mut self) -> Option<Value> {
        loop {
            match tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .expect("engine answer within 20 s")?
            {
                Ok(Message::Text(t)) => return Some(serde_json::from_str(&t).unwrap()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    /// Send a request, return its id.
    async fn request(&mut self, handle: i64, method: &str, params: Value) -> i64 {
        let id = self.next;
        self.next += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "handle": handle, "method": method, "params": params})).await;
        id
    }

    /// The answer to request `id` (other frames are kept).
    async fn answer(&mut self, id: i64) -> Value {
        if let Some(v) = self.early.remove(&id) {
            return v;
        }
        loop {
            let f = self.frame().await.expect("socket closed before the answer");
            match f.get("id").and_then(Value::as_i64) {
                Some(i) if i == id => return f,
                Some(i) => {
                    self.early.insert(i, f);
                }
                None if f.get("method").is_some() => self.notifications.push(f),
                None => self.news.push(f),
            }
        }
    }

    /// Call and check the result's members against the method table.
    async fn call(&mut self, handle: i64, method: &str, params: Value) -> Value {
        let id = self.request(handle, method, params).await;
        let answer = self.answer(id).await;
        self.check(handle, method, &answer);
        answer
    }

    fn check(&mut self, handle: i64, method: &str, answer: &Value) {
        let Some(result) = answer.get("result") else {
            return;
        };
        let class = *self
            .classes
            .get(&handle)
            .unwrap_or_else(|| panic!("unknown handle {handle}"));
        let m = methods::find(class, method).unwrap();
        let mut expected: Vec<&str> = m.outs.to_vec();
        if m.returns != Returns::Nothing {
            expected.insert(0, "qReturn");
        }
        let got: Vec<&str> = result
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(got, expected, "{}.{method} answered {result}", class.name());
        if m.returns == Returns::Handle
            && let (Some(h), Some(t)) = (
                result["qReturn"]["qHandle"].as_i64(),
                result["qReturn"]["qType"].as_str(),
            )
        {
            self.classes.insert(h, class_named(t).unwrap());
        }
    }

    async fn ok(&mut self, handle: i64, method: &str, params: Value) -> Value {
        let a = self.call(handle, method, params).await;
        assert!(a.get("error").is_none(), "{method}: {a}");
        a["result"].clone()
    }

    async fn err(&mut self, handle: i64, method: &str, params: Value) -> Value {
        let a = self.call(handle, method, params).await;
        a.get("error")
            .cloned()
            .unwrap_or_else(|| panic!("{method} should fail: {a}"))
    }

    async fn open(&mut self, app: &str) -> i64 {
        let r = self.ok(-1, "OpenDoc", json!([app])).await;
        r["qReturn"]["qHandle"].as_i64().unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// the method table against the schema

#[test]
fn every_served_method_parameter_and_result_name_is_in_the_enigma_schema() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    for m in METHODS {
        let s = &schema["structs"][m.class.name()][m.name];
        assert!(
            s.is_object(),
            "{}.{} is not in the schema",
            m.class.name(),
            m.name
        );
        let ins = s["In"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            ins.len(),
            m.params.len(),
            "{}.{}: parameter count",
            m.class.name(),
            m.name
        );
        for (p, sp) in m.params.iter().zip(&ins) {
            assert_eq!(sp["Name"], p.name, "{}.{}", m.class.name(), m.name);
            assert_eq!(
                sp.get("Optional").and_then(Value::as_bool).unwrap_or(false),
                p.optional,
                "{}.{} {}",
                m.class.name(),
                m.name,
                p.name
            );
            let default: Value = serde_json::from_str(p.default).unwrap();
            if !default.is_null() {
                assert_eq!(
                    sp["DefaultValue"],
                    default,
                    "{}.{} {} default",
                    m.class.name(),
                    m.name,
                    p.name
                );
            }
        }
        let outs: Vec<&str> = s["Out"]
            .as_array()
            .map(|o| o.iter().filter_map(|x| x["Name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(outs, m.outs, "{}.{} out-parameters", m.class.name(), m.name);
    }
    let mut seen = std::collections::HashSet::new();
    for m in METHODS {
        assert!(
            seen.insert((m.class, m.name)),
            "{}.{} twice",
            m.class.name(),
            m.name
        );
    }
}

#[test]
fn error_message_and_session_codes_match_the_schema_enums() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let enums = &schema["enums"];
    for c in ErrorCode::ALL {
        if let Some(name) = c.enum_name() {
            assert_eq!(enums["LocalizedErrorCode"][name], c.number(), "{name}");
        }
    }
    for c in ReloadError::ALL {
        assert_eq!(
            enums["LocalizedErrorCode"][c.enum_name()],
            c.number(),
            "{}",
            c.enum_name()
        );
    }
    for p in Progress::ALL {
        assert_eq!(
            enums["LocalizedMessageCode"][p.enum_name()],
            p.number(),
            "{}",
            p.enum_name()
        );
    }
    for s in [
        super::spec::session_state::CREATED,
        super::spec::session_state::ATTACHED,
    ] {
        assert!(enums["SessionState"].get(s).is_some(), "{s}");
    }
}

// ---------------------------------------------------------------------------------------------
// over sockets

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_script_check_save_and_the_repository_sees_it() {
    let h = start(2).await;
    let app = h.app_ids()[0].clone();
    let mut c = h.connect(&format!("/app/{app}")).await;
    let first = c.frame().await.unwrap();
    assert_eq!(
        first,
        json!({"jsonrpc": "2.0", "method": "OnConnected", "params": {"qSessionState": "SESSION_CREATED"}})
    );
    let r = c.ok(-1, "OpenDoc", json!([app, "", "", "", false])).await;
    assert_eq!(
        r["qReturn"],
        json!({"qType": "Doc", "qHandle": 1, "qGenericId": app})
    );
    let script = c.ok(1, "GetScript", json!([])).await["qScript"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        script.starts_with("///$tab Main\r\nSET ThousandSep"),
        "{script}"
    );
    assert!(script.contains("LOAD * INLINE"));
    assert_eq!(
        c.ok(1, "CheckScriptSyntax", json!([])).await["qErrors"],
        json!([])
    );

    let bad = "///$tab Main\r\nLOAD a b FROM x;\r\n";
    c.ok(1, "SetScript", json!([bad])).await;
    assert_eq!(c.ok(1, "GetScript", json!({})).await["qScript"], bad);
    let errors = c.ok(1, "CheckScriptSyntax", json!([])).await["qErrors"].clone();
    assert_eq!(
        errors[0],
        json!({"qErrLen": 1, "qTabIx": 0, "qLineInTab": 0, "qColInLine": 7, "qTextPos": 21})
    );
    assert_eq!(errors[1]["qSecondaryFailure"], true);

    let before = h.app_entity(&app)["modifiedDate"].clone();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let good = format!("{script}\r\nExtra:\r\nLOAD 1 AS one AUTOGENERATE 5;\r\n");
    c.ok(1, "SetScript", json!([good])).await;
    let saved = c.call(1, "DoSave", json!([])).await;
    assert_eq!(saved["result"], json!({}));
    let entity = h.app_entity(&app);
    assert_ne!(entity["modifiedDate"], before);
    assert_eq!(entity["modifiedByUserName"], "SANDBOX\\admin");
    let file = h.qrs.app_file(&app);
    assert_eq!(entity["fileSize"], std::fs::metadata(&file).unwrap().len());
    let doc = super::qvf::read_document(&file).unwrap().unwrap();
    assert_eq!(doc.script, good);

    // A fresh session sees the saved script.
    drop(c);
    let mut c2 = h.connect(&format!("/app/{app}/identity/other")).await;
    c2.open(&app).await;
    assert_eq!(c2.ok(1, "GetScript", json!([])).await["qScript"], good);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_streams_its_log_and_fails_when_the_script_says_so() {
    let h = start(1).await;
    let app = h.app_ids()[0].clone();
    let mut c = h.connect(&format!("/app/{app}")).await;
    c.open(&app).await;
    let reload = c.request(1, "DoReload", json!([0, false, false])).await;
    let mut log = String::new();
    loop {
        let p = c.ok(-1, "GetProgress", json!([reload])).await["qProgressData"].clone();
        log.push_str(p["qPersistentProgress"].as_str().unwrap());
        if p["qFinished"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answer = c.answer(reload).await;
    c.check(1, "DoReload", &answer);
    assert_eq!(answer["result"]["qReturn"], true, "{answer}");
    assert!(log.starts_with("Started loading data\n"), "{log}");
    assert!(log.contains("Regions << INLINE 4 Lines fetched\n"), "{log}");
    assert!(
        log.contains("Calendar << AUTOGENERATE(366) 366 Lines fetched\n"),
        "{log}"
    );
    assert!(log.contains("Connecting to Sales DB\nConnected\n"), "{log}");
    let layout = c.ok(1, "GetAppLayout", json!([])).await["qLayout"].clone();
    assert_eq!(layout["qHasData"], true);
    assert_ne!(layout["qLastReloadTime"], "");

    c.ok(
        1,
        "SetScript",
        json!(["T: LOAD * INLINE [a\n1];\nU: LOAD a RESIDENT Missing;\n"]),
    )
    .await;
    let r = c
        .ok(1, "DoReloadEx", json!([{"qMode": 0, "qPartial": false}]))
        .await["qResult"]
        .clone();
    assert_eq!(r["qSuccess"], false);
    assert!(std::path::Path::new(r["qScriptLogFile"].as_str().unwrap()).exists());
    let p = c.ok(-1, "GetProgress", json!([0])).await["qProgressData"].clone();
    assert_eq!(p["qFinished"], true);
    assert_eq!(
        p["qErrorData"][0]["qErrorString"],
        "Table 'Missing' not found"
    );
    assert_eq!(p["qErrorData"][0]["qLine"], "U: LOAD a RESIDENT Missing;");
    assert_eq!(p["qErrorData"][0]["qErrorDataCode"], "EDC_ERROR");

    // Two reloads at once: the second is refused.
    h.engine.set_reload_pace(1.0);
    c.ok(
        1,
        "SetScript",
        json!(["T: LOAD 1 AS a AUTOGENERATE 1;\nT2: LOAD 2 AS b AUTOGENERATE 1;\n"]),
    )
    .await;
    let first = c.request(1, "DoReload", json!([])).await;
    let second = c.request(1, "DoReload", json!([])).await;
    let e = c.answer(second).await;
    assert_eq!(e["error"]["code"], 11000, "{e}");
    assert_eq!(c.answer(first).await["result"]["qReturn"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_children_trees_and_handle_news() {
    let h = start(1).await;
    let app = h.app_ids()[0].clone();
    let mut c = h.connect(&format!("/app/{app}")).await;
    c.open(&app).await;
    let infos = c.ok(1, "GetAllInfos", json!([])).await["qInfos"].clone();
    let sheets: Vec<&Value> = infos
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["qType"] == "sheet")
        .collect();
    assert_eq!(sheets.len(), 2);
    assert_eq!(
        infos
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["qType"] == "variable")
            .count(),
        3
    );

    let created = c
        .ok(
            1,
            "CreateObject",
            json!([{"qInfo": {"qId": "s-new", "qType": "sheet"}, "qMetaDef": {"title": "New"},
        "qChildListDef": {"qData": {"title": "/title"}}}]),
        )
        .await;
    assert_eq!(created["qInfo"], json!({"qId": "s-new", "qType": "sheet"}));
    let sheet = created["qReturn"]["qHandle"].as_i64().unwrap();
    assert_eq!(created["qReturn"]["qGenericType"], "sheet");
    let again = c.ok(1, "GetObject", json!(["s-new"])).await;
    assert_eq!(
        again["qReturn"]["qHandle"], sheet,
        "one handle per object and session"
    );
    let dup = c
        .err(
            1,
            "CreateObject",
            json!([{"qInfo": {"qId": "s-new", "qType": "sheet"}}]),
        )
        .await;
    assert_eq!(dup["code"], 3);

    let child = c
        .ok(
            sheet,
            "CreateChild",
            json!([{"qInfo": {"qType": "kpi"}, "title": "K"}]),
        )
        .await;
    let child_id = child["qInfo"]["qId"].as_str().unwrap().to_string();
    assert!(!child_id.is_empty());
    let tree = c.ok(sheet, "GetFullPropertyTree", json!([])).await["qPropEntry"].clone();
    assert_eq!(tree["qChildren"][0]["qProperty"]["title"], "K");
    let layout = c.ok(sheet, "GetLayout", json!([])).await["qLayout"].clone();
    assert_eq!(
        layout["qChildList"]["qItems"][0]["qData"],
        json!({"title": "K"})
    );
    assert_eq!(layout["qMeta"]["title"], "New");
    assert!(layout.get("qChildListDef").is_none());

    // A new tree: the old child goes (its handle closes), a new one comes.
    let child_handle = c.ok(1, "GetObject", json!([child_id])).await["qReturn"]["qHandle"]
        .as_i64()
        .unwrap();
    let id = c.request(sheet, "SetFullPropertyTree", json!([{"qProperty": {"qInfo": {"qId": "s-new", "qType": "sheet"}, "qMetaDef": {"title": "Renamed"}},
        "qChildren": [{"qProperty": {"qInfo": {"qId": "t1", "qType": "table"}}, "qChildren": []}]}])).await;
    let a = c.answer(id).await;
    assert_eq!(a["close"], json!([child_handle]), "{a}");
    assert!(a["change"].as_array().unwrap().contains(&json!(sheet)));
    let kids = c.ok(sheet, "GetChildInfos", json!([])).await["qInfos"].clone();
    assert_eq!(kids, json!([{"qId": "t1", "qType": "table"}]));
    let t1 = c.ok(1, "GetObject", json!(["t1"])).await["qReturn"]["qHandle"]
        .as_i64()
        .unwrap();
    assert_eq!(
        c.ok(t1, "GetParent", json!([])).await["qReturn"]["qHandle"],
        sheet
    );
    assert_eq!(
        c.ok(sheet, "GetParent", json!([])).await["qReturn"],
        json!({"qType": null, "qHandle": null})
    );

    assert_eq!(
        c.ok(1, "GetObject", json!(["nope"])).await["qReturn"],
        json!({"qType": null, "qHandle": null})
    );
    let gone = c.request(1, "DestroyObject", json!(["s-new"])).await;
    let a = c.answer(gone).await;
    assert_eq!(a["result"], json!({"qSuccess": true}));
    let mut closed = a["close"].as_array().unwrap().clone();
    closed.sort_by_key(|v| v.as_i64());
    assert_eq!(closed, vec![json!(sheet), json!(t1)]);
    assert_eq!(c.err(sheet, "GetLayout", json!([])).await["code"], -32602);

    // Patches.
    let o = c
        .ok(
            1,
            "CreateObject",
            json!([{"qInfo": {"qType": "text"}, "title": "a"}]),
        )
        .await["qReturn"]["qHandle"]
        .as_i64()
        .unwrap();
    c.ok(
        o,
        "ApplyPatches",
        json!([[{"qOp": "replace", "qPath": "/title", "qValue": "\"b\""}], false]),
    )
    .await;
    assert_eq!(
        c.ok(o, "GetProperties", json!([])).await["qProp"]["title"],
        "b"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_variables_evaluate_and_connections() {
    let h = start(1).await;
    let app = h.app_ids()[0].clone();
    let mut c = h.connect(&format!("/app/{app}")).await;
    c.open(&app).await;
    let v = c.ok(1, "CreateVariableEx", json!([{"qInfo": {"qType": "variable"}, "qName": "vTwice", "qDefinition": "=vSalesTarget * 2"}])).await;
    let vh = v["qReturn"]["qHandle"].as_i64().unwrap();
    assert_eq!(
        c.err(1, "CreateVariableEx", json!([{"qName": "vTwice"}]))
            .await["code"],
        18001
    );
    assert_eq!(
        c.err(1, "CreateVariableEx", json!([{"qName": ""}])).await["code"],
        18000
    );
    assert_eq!(
        c.ok(vh, "GetLayout", json!([])).await["qLayout"]["qText"],
        "2000000"
    );
    assert_eq!(
        c.ok(1, "GetVariableByName", json!(["vTwice"])).await["qReturn"]["qHandle"],
        vh
    );
    assert_eq!(
        c.ok(1, "Evaluate", json!(["'$(vCompany)' & ': ' & Upper('ok')"]))
            .await["qReturn"],
        "Sandbox Trading: OK"
    );
    assert_eq!(
        c.ok(1, "Evaluate", json!(["vTwice / 4"])).await["qReturn"],
        "500000"
    );
    assert_eq!(
        c.ok(1, "EvaluateEx", json!(["1/4"])).await["qValue"],
        json!({"qText": "0.25", "qIsNumeric": true, "qNumber": 0.25})
    );
    assert_eq!(
        c.ok(1, "EvaluateEx", json!(["'x'"])).await["qValue"],
        json!({"qText": "x", "qIsNumeric": false, "qNumber": "NaN"})
    );
    assert_eq!(
        c.err(1, "Evaluate", json!(["Sum(Amount)"])).await["code"],
        20
    );
    assert_eq!(c.err(1, "Evaluate", json!(["1 +"])).await["code"], 8);

    // The variable list, as qlik-cli/corectl read it.
    let list = c
        .ok(
            1,
            "CreateSessionObject",
            json!([{"qInfo": {"qType": "corectl_entity_list"},
        "qVariableListDef": {"qType": "variable", "qData": {"id": "/qInfo/qId"}}}]),
        )
        .await["qReturn"]["qHandle"]
        .as_i64()
        .unwrap();
    let items =
        c.ok(list, "GetLayout", json!([])).await["qLayout"]["qVariableList"]["qItems"].clone();
    let names: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["qName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["vCompany", "vSalesTarget", "vTargetReached", "vTwice"]
    );

    let dims = c.ok(1, "CreateDimension", json!([{"qInfo": {}, "qDim": {"qFieldDefs": ["Region"], "qGrouping": "N"}, "qMetaDef": {"title": "R"}}])).await;
    assert_eq!(dims["qInfo"]["qType"], "dimension");
    let dh = dims["qReturn"]["qHandle"].as_i64().unwrap();
    assert_eq!(
        c.ok(dh, "GetDimension", json!([])).await["qDim"]["qFieldDefs"],
        json!(["Region"])
    );
    assert_eq!(
        c.ok(1, "DestroyDimension", json!([dims["qInfo"]["qId"]]))
            .await["qSuccess"],
        true
    );

    // Connections are the repository's; passwords never come back.
    let conns = c.ok(1, "GetConnections", json!([])).await["qConnections"].clone();
    assert_eq!(conns.as_array().unwrap().len(), 3);
    let id = c.ok(1, "CreateConnection", json!([{"qName": "Warehouse", "qConnectionString": "CUSTOM CONNECT TO \"provider=x\"", "qType": "custom", "qUserName": "u", "qPassword": "s3cret"}])).await["qConnectionId"].as_str().unwrap().to_string();
    let got = c.ok(1, "GetConnection", json!([id])).await["qConnection"].clone();
    assert_eq!(got["qName"], "Warehouse");
    assert!(got.get("qPassword").is_none() && !got.to_string().contains("s3cret"));
    assert_eq!(
        h.qrs.read().get("dataconnection", &id).unwrap()["password"],
        "s3cret"
    );
    assert_eq!(
        c.err(
            1,
            "CreateConnection",
            json!([{"qName": "warehouse", "qType": "folder"}])
        )
        .await["code"],
        2000
    );
    c.ok(
        1,
        "ModifyConnection",
        json!([id, {"qName": "Warehouse2", "qPassword": "x"}, false]),
    )
    .await;
    assert_eq!(
        h.qrs.read().get("dataconnection", &id).unwrap()["password"],
        "s3cret",
        "credentials kept without qOverrideCredentials"
    );
    c.ok(1, "DeleteConnection", json!([id])).await;
    assert_eq!(c.err(1, "GetConnection", json!([id])).await["code"], 2001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_attach_share_handles_and_hear_changes() {
    let h = start(1).await;
    let app = h.app_ids()[0].clone();
    let mut a = h.connect(&format!("/app/{app}")).await;
    assert_eq!(
        a.frame().await.unwrap()["params"]["qSessionState"],
        "SESSION_CREATED"
    );
    a.open(&app).await;
    let s1 = a
        .ok(1, "GetObject", json!([format!("{}-sheet-0", &app[..8])]))
        .await["qReturn"]["qHandle"]
        .as_i64()
        .unwrap();
    let mut b = h.connect(&format!("/app/{app}")).await;
    assert_eq!(
        b.frame().await.unwrap()["params"]["qSessionState"],
        "SESSION_ATTACHED"
    );
    b.classes.insert(1, Class::Doc);
    b.classes.insert(s1, Class::GenericObject);
    assert_eq!(
        b.ok(-1, "GetActiveDoc", json!([])).await["qReturn"]["qHandle"],
        1
    );
    assert_eq!(b.err(-1, "OpenDoc", json!([app])).await["code"], 1002);
    let props = b.ok(s1, "GetProperties", json!([])).await["qProp"].clone();
    let mut changed = props.clone();
    changed["qMetaDef"]["title"] = json!("Changed by B");
    let id = b.request(s1, "SetProperties", json!([changed])).await;
    assert_eq!(b.answer(id).await["change"], json!([s1]));
    // A hears it on its own.
    let news = loop {
        let f = a.frame().await.unwrap();
        if f.get("change").is_some() {
            break f;
        }
    };
    assert_eq!(news, json!({"jsonrpc": "2.0", "change": [s1]}));

    // Another user, or another identity, gets a session of its own.
    let mut other = h
        .connect_as(&format!("/app/{app}"), "UserDirectory=SANDBOX; UserId=bob")
        .await;
    assert_eq!(
        other.frame().await.unwrap()["params"]["qSessionState"],
        "SESSION_CREATED"
    );
    assert_eq!(
        other.err(-1, "GetActiveDoc", json!([])).await,
        json!({"code": 1007, "parameter": "No active document", "message": "App invalid"})
    );
    let user = other.ok(-1, "GetAuthenticatedUser", json!([])).await;
    assert_eq!(user["qReturn"], "UserDirectory=SANDBOX; UserId=bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_delta_and_out_of_order_answers() {
    let h = start(1).await;
    let app = h.app_ids()[0].clone();
    let mut c = h.connect("/app/").await;
    assert_eq!(c.err(-1, "NoSuchMethod", json!([])).await["code"], -32601);
    assert_eq!(
        c.err(-1, "OpenDoc", json!(["not-an-app"])).await["code"],
        1003
    );
    assert_eq!(
        c.err(-1, "OpenDoc", json!({"qDocName": app, "qBogus": 1}))
            .await["code"],
        -32602
    );
    assert_eq!(c.err(7, "GetLayout", json!([])).await["code"], -32602);
    c.ws.send(Message::text("{not json")).await.unwrap();
    let bad = c.frame().await.unwrap();
    assert_eq!(bad["error"]["code"], -32700);
    assert_eq!(
        c.ok(-1, "EngineVersion", json!([])).await["qVersion"],
        json!({"qComponentVersion": "12.2027.0"})
    );
    assert_eq!(c.ok(-1, "IsDesktopMode", json!([])).await["qReturn"], false);
    let list = c.ok(-1, "GetDocList", json!([])).await["qDocList"].clone();
    assert_eq!(list[0]["qDocId"], app);

    // Named parameters, as qlik.dev shows them.
    c.ok(-1, "OpenDoc", json!({"qDocName": app})).await;
    // delta: the first answer adds the whole value, an unchanged one has no patches.
    let delta = |id| json!({"jsonrpc": "2.0", "id": id, "handle": 1, "method": "GetScript", "params": [], "delta": true});
    c.send(delta(900)).await;
    let first = c.answer(900).await;
    assert_eq!(first["delta"], true);
    assert_eq!(first["result"]["qScript"][0]["op"], "add");
    assert_eq!(first["result"]["qScript"][0]["path"], "/");
    c.send(delta(901)).await;
    assert_eq!(c.answer(901).await["result"]["qScript"], json!([]));

    // Pipelined: a reload answers after requests sent behind it.
    h.engine.set_reload_pace(1.0);
    let reload = c.request(1, "DoReload", json!([])).await;
    let quick = c.request(-1, "ProductVersion", json!([])).await;
    let order = {
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let f = c.frame().await.unwrap();
            if let Some(id) = f.get("id").and_then(Value::as_i64) {
                seen.push(id);
            }
        }
        seen
    };
    assert_eq!(order, vec![quick, reload]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_objects_answer_pipelined_requests() {
    let h = start_with(1, 1000, Faults::new(Duration::from_millis(20), 0.0, None)).await;
    let app = h.app_ids()[0].clone();
    let mut c = h.connect(&format!("/app/{app}")).await;
    c.open(&app).await;
    let infos = c.ok(1, "GetAllInfos", json!([])).await["qInfos"].clone();
    let objects: Vec<String> = infos
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            !["dimension", "measure", "variable", "bookmark"]
                .contains(&i["qType"].as_str().unwrap())
        })
        .map(|i| i["qId"].as_str().unwrap().to_string())
        .collect();
    // 1,000 sheets and charts, a master visualization, a story and its slide.
    assert_eq!(objects.len(), 1003);
    let started = std::time::Instant::now();
    let mut ids = Vec::new();
    for o in &objects {
        ids.push(c.request(1, "GetObject", json!([o])).await);
    }
    let mut handles = Vec::new();
    for id in ids {
        let a = c.answer(id).await;
        handles.push(a["result"]["qReturn"]["qHandle"].as_i64().unwrap());
    }
    let mut ids = Vec::new();
    for h in &handles {
        ids.push(c.request(*h, "GetFullPropertyTree", json!([])).await);
    }
    for id in ids {
        assert!(c.answer(id).await["result"]["qPropEntry"].is_object());
    }
    // Two rounds of 20 ms each, not 2,000 of them: the latency applies to answers in parallel.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_drop_sockets_without_a_close_frame() {
    let h = start_with(1, 12, Faults::new(Duration::ZERO, 0.5, Some(11))).await;
    let app = h.app_ids()[0].clone();
    // The upgrade request meets faults too (503 or a dropped connection): retry until one passes.
    let mut c = None;
    for _ in 0..50 {
        if let Some(client) = h.try_connect(&format!("/app/{app}")).await {
            c = Some(client);
            break;
        }
    }
    let mut c = c.expect("an upgrade passes at a fault rate of 0.5");
    let mut dropped = false;
    for _ in 0..100 {
        let id = c.request(-1, "ProductVersion", json!([])).await;
        let mut answered = false;
        while let Some(m) = tokio::time::timeout(Duration::from_secs(10), c.ws.next())
            .await
            .unwrap()
        {
            match m {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["id"] == id {
                        answered = true;
                        break;
                    }
                }
                Ok(Message::Close(_)) => panic!("a dropped socket sends no close frame"),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if !answered {
            dropped = true;
            break;
        }
    }
    assert!(
        dropped,
        "a request at a fault rate of 0.5 drops the socket within 100 requests"
    );
    assert!(h.engine.faults.injected() > 0);
}

// ---------------------------------------------------------------------------------------------
// behind the virtual proxies

struct ProxySite {
    _dir: tempfile::TempDir,
    qrs: Arc<QrsState>,
    addr: SocketAddr,
    _stop: watch::Sender<bool>,
}

const FORMS_PASSWORD: &str = "forms-secret";

async fn start_proxy() -> ProxySite {
    use crate::proxy::windows::WindowsConfig;
    use crate::proxy::{DirectoryUser, Proxy};
    use crate::qrs::{ProxyAuth, VirtualProxy};
    let (_, pki) = pki();
    let dir = tempfile::tempdir().unwrap();
    let qrs = QrsState::new(QrsConfig {
        data_dir: dir.path().join("apps"),
        seed_apps: 1,
        seed_tasks: 0,
        seed_objects: 3,
        virtual_proxies: vec![
            VirtualProxy {
                prefix: "jwt".into(),
                description: "JWT".into(),
                session_cookie_name: "X-Qlik-Session-jwt".into(),
                auth: ProxyAuth::Jwt {
                    jwt_certificate: pki.jwt_cert.clone(),
                    jwt_audience: "engine-test".into(),
                    userid_attribute: "userid".into(),
                    userdirectory_attribute: "userdirectory".into(),
                },
            },
            VirtualProxy {
                prefix: "form".into(),
                description: "Forms".into(),
                session_cookie_name: "X-Qlik-Session-form".into(),
                auth: ProxyAuth::Ticket {
                    windows_pattern: "no-such-agent".into(),
                },
            },
        ],
    })
    .unwrap();
    let faults = Arc::new(Faults::none());
    let engine = Engine::new(qrs.clone(), faults.clone());
    let users = vec![DirectoryUser {
        identity: crate::identity::Identity::new("SANDBOX", "admin"),
        password: FORMS_PASSWORD.into(),
    }];
    let windows = WindowsConfig {
        module_port: 4244,
        server_cert_der: crate::pki::first_certificate_der(&pki.server_cert).unwrap(),
        require_channel_binding: false,
    };
    let proxy = Proxy::new(
        qrs.clone(),
        crate::qrs::router(qrs.clone()),
        engine,
        users,
        windows,
    );
    let acceptor = server::tls_acceptor(
        &pki.server_cert,
        &pki.server_key,
        ClientAuth::None,
        server::HttpVersions::Http2AndHttp1,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = watch::channel(false);
    tokio::spawn(server::serve(
        "proxy",
        listener,
        acceptor,
        proxy.router(),
        faults,
        server::Guards::new(crate::limits::Limits::default()),
        rx,
    ));
    ProxySite {
        _dir: dir,
        qrs,
        addr,
        _stop: stop,
    }
}

fn jwt(user: &str) -> String {
    let (_, pki) = pki();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pki.jwt_private_key.as_bytes()).unwrap();
    let claims = json!({"userid": user, "userdirectory": "SANDBOX", "aud": "engine-test",
                        "exp": jsonwebtoken::get_current_timestamp() + 300});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .unwrap()
}

fn set_cookie(c: &Client) -> String {
    let v = c
        .upgrade
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap();
    v.split(';').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_proxy_bearer_then_session_cookie_and_401_without_either() {
    let site = start_proxy().await;
    let app = site.qrs.read().all("app")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bearer = format!("Bearer {}", jwt("alice"));
    let mut c = open_socket(
        site.addr,
        &format!("/jwt/app/{app}"),
        false,
        &[("Authorization", &bearer)],
    )
    .await
    .unwrap_or_else(|_| panic!("upgrade"));
    let cookie = set_cookie(&c);
    assert!(cookie.starts_with("X-Qlik-Session-jwt="), "{cookie}");
    assert_eq!(c.frame().await.unwrap()["method"], "OnConnected");
    c.open(&app).await;
    let info = c
        .notifications
        .iter()
        .find(|n| n["method"] == "OnAuthenticationInformation")
        .cloned()
        .unwrap();
    assert_eq!(
        info["params"],
        json!({"userId": "alice", "userDirectory": "SANDBOX", "mustAuthenticate": false,
               "logoutUri": format!("https://localhost:{}/jwt/qps/user", site.addr.port())})
    );
    // The session cookie alone lets a second socket in; same user and URL: the same session.
    let mut again = open_socket(
        site.addr,
        &format!("/jwt/app/{app}"),
        false,
        &[("Cookie", &cookie)],
    )
    .await
    .unwrap_or_else(|_| panic!("upgrade with the cookie"));
    assert_eq!(
        again.frame().await.unwrap()["params"]["qSessionState"],
        "SESSION_ATTACHED"
    );
    assert_eq!(
        again.ok(-1, "GetAuthenticatedUser", json!([])).await["qReturn"],
        "UserDirectory=SANDBOX; UserId=alice"
    );

    let refused = open_socket(site.addr, &format!("/jwt/app/{app}"), false, &[]).await;
    let Err(Some(response)) = refused else {
        panic!("a JWT proxy refuses an upgrade without a token")
    };
    assert_eq!(response.status(), 401);
    let bad = open_socket(
        site.addr,
        &format!("/jwt/app/{app}"),
        false,
        &[("Authorization", "Bearer x.y.z")],
    )
    .await;
    assert!(matches!(bad, Err(Some(r)) if r.status() == 401));
    let plain_get = open_socket(
        site.addr,
        "/jwt/elsewhere",
        false,
        &[("Authorization", &bearer)],
    )
    .await;
    assert!(matches!(plain_get, Err(Some(r)) if r.status() == 404));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_proxy_tells_a_socket_without_session_where_to_log_in() {
    let site = start_proxy().await;
    let app = site.qrs.read().all("app")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut c = open_socket(site.addr, &format!("/form/app/{app}"), false, &[])
        .await
        .unwrap_or_else(|_| panic!("the forms proxy accepts the upgrade"));
    c.request(-1, "OpenDoc", json!([app])).await;
    let notice = c.frame().await.unwrap();
    assert_eq!(notice["method"], "OnAuthenticationInformation");
    assert_eq!(notice["params"]["mustAuthenticate"], true);
    let login = notice["params"]["loginUri"].as_str().unwrap();
    assert!(
        login.starts_with(&format!(
            "https://localhost:{}/form/internal_forms_authentication/?targetId=",
            site.addr.port()
        )),
        "{login}"
    );
    assert!(c.frame().await.is_none(), "then the socket closes");

    // Log in through the form, then the cookie opens the engine.
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!(
            "https://127.0.0.1:{}/form/internal_forms_authentication/",
            site.addr.port()
        ))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("username=SANDBOX%5Cadmin&pwd={FORMS_PASSWORD}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut c = open_socket(
        site.addr,
        &format!("/form/app/{app}"),
        false,
        &[("Cookie", &cookie)],
    )
    .await
    .unwrap_or_else(|_| panic!("upgrade with the forms cookie"));
    c.open(&app).await;
    assert!(
        c.ok(1, "GetScript", json!([])).await["qScript"]
            .as_str()
            .unwrap()
            .contains("LOAD")
    );
}

// ---------------------------------------------------------------------------------------------
// one app model with the repository

/// Upload `bytes` through the QRS emulator (as `qtool qrs app import` does); the new app's id.
async fn upload(qrs: &Arc<QrsState>, name: &str, bytes: Vec<u8>) -> String {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder()
        .method("POST")
        .uri(format!(
            "/qrs/app/upload?name={name}&xrfkey=0123456789abcdef"
        ))
        .header("X-Qlik-Xrfkey", "0123456789abcdef")
        .header("Content-Type", "application/vnd.qlik.sense.app")
        .body(axum::body::Body::from(bytes))
        .unwrap();
    req.extensions_mut()
        .insert(crate::identity::Identity::new("SANDBOX", "admin"));
    let resp = crate::qrs::router(qrs.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 201);
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploaded_apps_open_and_created_apps_reach_the_repository() {
    let h = start(1).await;
    // A sandbox .qvf (what an export downloads) opens with its content...
    let seeded = h.app_ids()[0].clone();
    let bytes = std::fs::read(
        crate::qrs::apps::ensure_file(&h.qrs, &seeded)
            .await
            .unwrap(),
    )
    .unwrap();
    let copy = upload(&h.qrs, "Uploaded", bytes).await;
    let mut c = h.connect(&format!("/app/{copy}")).await;
    c.open(&copy).await;
    assert!(
        c.ok(1, "GetScript", json!([])).await["qScript"]
            .as_str()
            .unwrap()
            .contains("INLINE")
    );
    assert_eq!(
        c.ok(1, "GetAppProperties", json!([])).await["qProp"]["qTitle"],
        "Uploaded",
        "the repository names the app"
    );
    // ...a QVF of another kind opens as a fresh app.
    let foreign = upload(&h.qrs, "Foreign", b"not a sandbox app".to_vec()).await;
    let mut f = h.connect(&format!("/app/{foreign}")).await;
    f.open(&foreign).await;
    assert_eq!(f.ok(1, "GetScript", json!([])).await["qScript"], "");
    let infos = f.ok(1, "GetAllInfos", json!([])).await["qInfos"].clone();
    assert_eq!(infos, json!([]));

    // CreateApp makes a repository app owned by the caller, with a main section.
    let mut g = h.connect("/app/").await;
    let created = g
        .ok(-1, "CreateApp", json!(["Made in the engine", "Start"]))
        .await;
    assert_eq!(created["qSuccess"], true);
    let id = created["qAppId"].as_str().unwrap().to_string();
    let entity = h.app_entity(&id);
    assert_eq!(entity["name"], "Made in the engine");
    assert!(entity["owner"].is_object());
    g.open(&id).await;
    assert!(
        g.ok(1, "GetScript", json!([])).await["qScript"]
            .as_str()
            .unwrap()
            .starts_with("///$tab Start\r\nSET ThousandSep")
    );
    assert_eq!(g.err(-1, "CreateApp", json!(["a/b"])).await["code"], 1001);

    // A session app lives in memory only (its own session: `/app/` above has an app open).
    let mut s = h.connect("/app/engineData/identity/session-app").await;
    let r = s.ok(-1, "CreateSessionApp", json!([])).await;
    assert!(
        r["qSessionAppId"]
            .as_str()
            .unwrap()
            .starts_with("SessionApp_")
    );
    assert_eq!(r["qReturn"]["qGenericId"], r["qSessionAppId"]);
    s.ok(1, "SetScript", json!(["T: LOAD 1 AS a AUTOGENERATE 3;"]))
        .await;
    assert_eq!(s.ok(1, "DoReload", json!([])).await["qReturn"], true);
    assert_eq!(s.err(1, "DoSave", json!([])).await["code"], 9009);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_data_mode_ttl_and_cancelled_reloads() {
    let h = start(2).await;
    let app = h.app_ids()[0].clone();
    let mut a = h.connect(&format!("/app/{app}/ttl/30")).await;
    let r = a.ok(-1, "OpenDoc", json!([app, "", "", "", true])).await;
    assert_eq!(r["qReturn"]["qHandle"], 1);
    assert_eq!(
        a.ok(1, "GetAppLayout", json!([])).await["qLayout"]["qIsOpenedWithoutData"],
        true
    );
    let mut b = h.connect(&format!("/app/{app}/identity/with-data")).await;
    assert_eq!(
        b.err(-1, "OpenDoc", json!([app])).await["code"],
        1009,
        "open without data elsewhere"
    );
    // The TTL keeps the session after its socket closed: a new socket attaches.
    drop(a);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = h.connect(&format!("/app/{app}/ttl/30")).await;
    assert_eq!(
        again.frame().await.unwrap()["params"]["qSessionState"],
        "SESSION_ATTACHED"
    );
    assert_eq!(
        again.ok(-1, "GetActiveDoc", json!([])).await["qReturn"]["qGenericId"],
        app
    );
    drop(again);

    // AbortRequest stops a reload: it answers "Request aborted" and loads nothing. (Another
    // app: the first stays open without data while its TTL runs.)
    let other = h.app_ids()[1].clone();
    let mut c = h.connect(&format!("/app/{other}")).await;
    c.open(&other).await;
    h.engine.set_reload_pace(50.0);
    let reload = c.request(1, "DoReload", json!([])).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.ok(-1, "AbortRequest", json!([reload])).await;
    let answer = c.answer(reload).await;
    assert_eq!(answer["error"]["code"], 15, "{answer}");
    let p = c.ok(-1, "GetProgress", json!([reload])).await["qProgressData"].clone();
    assert_eq!(p["qFinished"], true);
    h.engine.set_reload_pace(0.02);
    assert_eq!(
        c.ok(1, "DoReload", json!([])).await["qReturn"],
        true,
        "a new reload runs after an aborted one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repository_app_objects_follow_the_saved_app() {
    let h = start(1).await;
    let app = h.app_ids()[0].clone();
    let objects = |h: &Harness| -> Vec<(String, String, String)> {
        let ids = crate::qrs::objects::of_app(&h.qrs.read(), &app);
        let store = h.qrs.read();
        let mut v: Vec<(String, String, String)> = ids
            .iter()
            .map(|id| {
                let o = store.get(crate::qrs::objects::TYPE, id).unwrap();
                let s = |k: &str| o[k].as_str().unwrap().to_string();
                (s("engineObjectId"), s("objectType"), s("name"))
            })
            .collect();
        v.sort();
        v
    };
    let mut c = h.connect(&format!("/app/{app}")).await;
    c.open(&app).await;
    // Seeded: the repository's objects are the engine's.
    for (engine_id, kind, _) in objects(&h) {
        let method = match kind.as_str() {
            "dimension" => "GetDimension",
            "measure" => "GetMeasure",
            "bookmark" => "GetBookmark",
            _ => "GetObject",
        };
        let r = c.ok(1, method, json!([engine_id])).await;
        assert!(
            r["qReturn"]["qHandle"].is_i64(),
            "{kind} {engine_id} is in the app"
        );
    }
    let sheet = objects(&h).into_iter().find(|o| o.1 == "sheet").unwrap();
    c.ok(
        1,
        "CreateObject",
        json!([{"qInfo": {"qId": "new-sheet", "qType": "sheet"}, "qMetaDef": {"title": "Fresh"}}]),
    )
    .await;
    c.ok(1, "DestroyObject", json!([sheet.0])).await;
    c.ok(1, "DoSave", json!([])).await;
    let after = objects(&h);
    assert!(
        after.contains(&("new-sheet".into(), "sheet".into(), "Fresh".into())),
        "{after:?}"
    );
    assert!(!after.iter().any(|o| o.0 == sheet.0));
}

//! In-process tests: the router called with `tower::ServiceExt::oneshot`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::identity::Identity;

mod clients;

const KEY: &str = "abcdefghij012345";

struct T {
    _dir: tempfile::TempDir,
    st: Arc<QrsState>,
    app: Router,
}

fn config(dir: &std::path::Path, apps: usize, tasks: usize) -> QrsConfig {
    QrsConfig {
        data_dir: dir.to_path_buf(),
        seed_apps: apps,
        seed_tasks: tasks,
        seed_objects: 12,
        virtual_proxies: vec![
            VirtualProxy {
                prefix: "jwt".into(),
                description: "JWT".into(),
                session_cookie_name: "X-Qlik-Session-jwt".into(),
                auth: ProxyAuth::Jwt {
                    jwt_certificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
                        .into(),
                    jwt_audience: "qlik.api.internal".into(),
                    userid_attribute: "userId".into(),
                    userdirectory_attribute: "userDirectory".into(),
                },
            },
            VirtualProxy {
                prefix: "form".into(),
                description: "Forms".into(),
                session_cookie_name: "X-Qlik-Session-form".into(),
                auth: ProxyAuth::Ticket {
                    windows_pattern: "qtool-sandbox-forms-only".into(),
                },
            },
        ],
    }
}

fn setup(apps: usize, tasks: usize) -> T {
    let dir = tempfile::tempdir().unwrap();
    let st = QrsState::new(config(dir.path(), apps, tasks)).unwrap();
    st.set_run_duration(60, 120);
    T {
        _dir: dir,
        app: router(st.clone()),
        st,
    }
}

/// A client of `st`, whose data dir another `T` keeps.
fn serving(st: Arc<QrsState>) -> T {
    T {
        _dir: tempfile::tempdir().unwrap(),
        app: router(st.clone()),
        st,
    }
}

fn with_key(uri: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}xrfkey={KEY}")
}

/// A request from the signed-in tester, with a matching xrfkey; a JSON body when given one.
fn req(method: &str, uri: &str, body: Option<Value>) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(with_key(uri))
        .header(spec::XRFKEY_HEADER, KEY);
    let body = match body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let mut r = b.body(body).unwrap();
    r.extensions_mut()
        .insert(Identity::new("SANDBOX", "tester"));
    r
}

/// An app upload to `uri`: `body` sent with `content_type`.
fn upload(uri: &str, content_type: &str, body: Body) -> Request<Body> {
    let mut r = req("POST", uri, None);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, content_type.parse().unwrap());
    *r.body_mut() = body;
    r
}

/// What the router answered, and to what (for failure messages).
struct Resp {
    request: String,
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    /// The body as JSON; QRS's plain-text errors as a JSON string.
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into_owned()))
    }

    /// The JSON body of a successful answer.
    #[track_caller]
    fn ok(&self) -> Value {
        let v = self.json();
        assert!(
            self.status.is_success(),
            "{}: {} {v}",
            self.request,
            self.status
        );
        v
    }
}

impl T {
    async fn send(&self, r: Request<Body>) -> Resp {
        let request = format!("{} {}", r.method(), r.uri());
        let resp = self.app.clone().oneshot(r).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Resp {
            request,
            status,
            headers,
            body,
        }
    }

    async fn get(&self, uri: &str) -> Resp {
        self.send(req("GET", uri, None)).await
    }

    /// A GET of `path` with a `filter` query.
    async fn get_filtered(&self, path: &str, filter: &str) -> Resp {
        self.get(&filtered(path, filter)).await
    }

    async fn delete(&self, uri: &str) -> Resp {
        self.send(req("DELETE", uri, None)).await
    }

    async fn post(&self, uri: &str) -> Resp {
        self.send(req("POST", uri, None)).await
    }

    async fn post_json(&self, uri: &str, body: Value) -> Resp {
        self.send(req("POST", uri, Some(body))).await
    }

    async fn put(&self, uri: &str) -> Resp {
        self.send(req("PUT", uri, None)).await
    }

    async fn put_json(&self, uri: &str, body: Value) -> Resp {
        self.send(req("PUT", uri, Some(body))).await
    }
}

/// An object's field names, in order.
fn field_names(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// `path` with a percent-encoded `filter` query.
fn filtered(path: &str, filter: &str) -> String {
    format!("{path}?filter={}", enc(filter))
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn xrfkey_is_required_and_must_match() {
    let t = setup(2, 0);
    let plain = |uri: &str, key: Option<&str>| {
        let mut b = Request::builder().uri(uri);
        if let Some(k) = key {
            b = b.header(spec::XRFKEY_HEADER, k);
        }
        let mut r = b.body(Body::empty()).unwrap();
        r.extensions_mut().insert(Identity::new("SANDBOX", "x"));
        r
    };
    for (uri, key) in [
        ("/qrs/app", None),
        ("/qrs/app?xrfkey=abcdefghij012345", None),
        ("/qrs/app", Some(KEY)),
        ("/qrs/app?xrfkey=abcdefghij012346", Some(KEY)),
        ("/qrs/app?xrfkey=short", Some("short")),
        ("/qrs/app?xrfkey=abcdefghij01234!", Some("abcdefghij01234!")),
    ] {
        let r = t.send(plain(uri, key)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(String::from_utf8(r.body).unwrap(), spec::XSRF_FAILED);
    }
    let r = t
        .send(plain("/qrs/app?XrfKey=abcdefghij012345", Some(KEY)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // an unencoded & in a filter value
    let r = t
        .send(plain(
            "/qrs/app?filter=name%20eq%20'A&B'&xrfkey=abcdefghij012345",
            Some(KEY),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        "Missing parameter value(s)"
    );
}

#[tokio::test]
async fn generic_crud_with_conflicts() {
    let t = setup(0, 0);
    let tag = t.post_json("/qrs/tag", json!({"name": "Blue"})).await.ok();
    assert_eq!(tag["schemaPath"], "Tag");
    assert_eq!(tag["modifiedByUserName"], "SANDBOX\\tester");
    assert!(tag["privileges"].is_null());
    let id = tag["id"].as_str().unwrap().to_string();
    assert_eq!(
        t.post_json("/qrs/tag", json!({"name": "Blue"}))
            .await
            .status,
        StatusCode::CREATED
    );
    let got = t.get(&format!("/qrs/tag/{id}?privileges=true")).await.ok();
    assert_eq!(
        got["privileges"],
        json!(["create", "read", "update", "delete"])
    );
    assert_eq!(got["name"], "Blue");
    let count = t.get("/qrs/tag/count").await.ok();
    assert_eq!(count["value"].as_u64().unwrap(), 7);
    let count = t
        .get_filtered("/qrs/tag/count", "name eq 'blue'")
        .await
        .ok();
    assert_eq!(count, json!({"value": 2}));

    // PUT: modifiedDate required and must be current
    let mut upd = got.clone();
    upd["name"] = json!("Green");
    upd.as_object_mut().unwrap().remove("modifiedDate");
    assert_eq!(
        t.put_json(&format!("/qrs/tag/{id}"), upd.clone())
            .await
            .status,
        StatusCode::CONFLICT
    );
    upd["modifiedDate"] = json!("2020-01-01T00:00:00.000Z");
    assert_eq!(
        t.put_json(&format!("/qrs/tag/{id}"), upd.clone())
            .await
            .status,
        StatusCode::CONFLICT
    );
    upd["modifiedDate"] = got["modifiedDate"].clone();
    let put = t
        .put_json(&format!("/qrs/tag/{id}"), upd.clone())
        .await
        .ok();
    assert_eq!(put["name"], "Green");
    assert!(put["modifiedDate"].as_str() > got["modifiedDate"].as_str());
    assert_eq!(put["createdDate"], got["createdDate"]);
    // the same (now stale) body again
    assert_eq!(
        t.put_json(&format!("/qrs/tag/{id}"), upd.clone())
            .await
            .status,
        StatusCode::CONFLICT
    );
    // id mismatch
    let mut other = put.clone();
    other["id"] = json!(uuid::Uuid::new_v4().to_string());
    assert_eq!(
        t.put_json(&format!("/qrs/tag/{id}"), other).await.status,
        StatusCode::BAD_REQUEST
    );

    // triggers need an existing task
    assert_eq!(
        t.post_json("/qrs/schemaevent", json!({"name": "x"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        t.post_json(
            "/qrs/schemaevent",
            json!({"name": "x", "reloadTask": {"id": uuid::Uuid::new_v4()}})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // many
    let many = t
        .post_json("/qrs/tag/many", json!([{"name": "a"}, {"name": "b"}]))
        .await
        .ok();
    assert_eq!(many.as_array().unwrap().len(), 2);

    // bad bodies
    let mut r = req("POST", "/qrs/tag", None);
    *r.body_mut() = Body::from("{not json");
    assert_eq!(t.send(r).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        t.post_json("/qrs/tag", json!([1])).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        t.post_json("/qrs/tag", json!({"name": ""})).await.status,
        StatusCode::BAD_REQUEST
    );

    // delete
    assert_eq!(
        t.delete(&format!("/qrs/tag/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    let r = t.get(&format!("/qrs/tag/{id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json().as_str().unwrap().contains(&id));
    assert_eq!(
        t.delete(&format!("/qrs/tag/{id}")).await.status,
        StatusCode::NOT_FOUND
    );

    // methods and paths that do not exist
    assert_eq!(
        t.post_json("/qrs/app", json!({"name": "x"})).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(t.get("/qrs/nosuchtype").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn app_lists_filters_and_order() {
    let t = setup(40, 0);
    let list = t.get("/qrs/app").await.ok();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 40);
    let keys = field_names(&list[0]);
    assert_eq!(
        keys,
        [
            "id",
            "privileges",
            "name",
            "appId",
            "publishTime",
            "published",
            "stream",
            "savedInProductVersion",
            "migrationHash",
            "availabilityStatus"
        ]
    );
    assert_eq!(list[0]["stream"]["name"], "Everyone");
    assert!(list[0]["stream"]["privileges"].is_null());

    let full = t.get("/qrs/app/full?privileges=true").await.ok();
    let a0 = &full[0];
    assert_eq!(a0["schemaPath"], "App");
    assert_eq!(a0["owner"]["userDirectory"], "SANDBOX");
    assert_eq!(a0["tags"][0]["name"], "Production");
    assert_eq!(
        a0["customProperties"][0]["definition"]["name"],
        "Department"
    );
    assert_eq!(
        a0["privileges"],
        json!(["create", "read", "update", "delete"])
    );

    let f = |q: &str| filtered("/qrs/app/full", q);
    let sales = t.get(&f("stream.name eq 'sales'")).await.ok();
    assert!(!sales.as_array().unwrap().is_empty());
    assert!(
        sales
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["stream"]["name"] == "Sales")
    );
    let tagged = t
        .get(&f("tags.name eq 'Certified' and published eq true"))
        .await
        .ok();
    assert!(
        tagged
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["published"] == true)
    );
    let unpub = t
        .get(&f("not published eq true or stream eq null"))
        .await
        .ok();
    assert_eq!(unpub.as_array().unwrap().len(), 20);
    let names = t
        .get(&format!(
            "{}&orderby={}",
            f("name sw 'S'"),
            enc("name desc, createdDate")
        ))
        .await
        .ok();
    let names: Vec<String> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(!names.is_empty());
    let mut sorted = names.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(names, sorted);

    let dept = t.get(&f("customProperties.definition.name eq 'Department' and customProperties.value eq 'Finance'")).await.ok();
    assert!(!dept.as_array().unwrap().is_empty());
    assert!(
        dept.as_array()
            .unwrap()
            .iter()
            .all(|a| a["customProperties"][0]["value"] == "Finance")
    );
    let owned = t
        .get(&f("owner.userId eq 'alice' or owner.userId eq 'bob'"))
        .await
        .ok();
    assert!(
        owned
            .as_array()
            .unwrap()
            .iter()
            .all(|a| ["alice", "bob"].contains(&a["owner"]["userId"].as_str().unwrap()))
    );
    let recent = t
        .get_filtered(
            "/qrs/app/count",
            "createdDate ge '2000-01-01 00:00:00' and fileSize gt 0",
        )
        .await
        .ok();
    assert_eq!(recent["value"], 40);
    let by_id = t
        .get_filtered(
            "/qrs/app",
            &format!("id eq {}", list[3]["id"].as_str().unwrap().to_uppercase()),
        )
        .await
        .ok();
    assert_eq!(by_id.as_array().unwrap().len(), 1);
    let status = t
        .get_filtered("/qrs/app/count", "availabilityStatus eq NotApplicable")
        .await
        .ok();
    assert_eq!(status["value"], 40);
    for bad in [
        "name eq",
        "name eq 'x",
        "nosuch eq 1",
        "(name eq 'x'",
        "availabilityStatus eq Nope",
    ] {
        let r = t.get(&f(bad)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        let v = r.json();
        assert!(
            v.as_str()
                .unwrap()
                .starts_with("Cannot parse the expression: "),
            "{v}"
        );
    }
    assert_eq!(
        t.get("/qrs/app?orderby=name%20sideways").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        t.get("/qrs/app?privileges=maybe").await.status,
        StatusCode::BAD_REQUEST
    );

    // deleting a tag removes it from the apps
    let certified = t.get_filtered("/qrs/tag", "name eq 'Certified'").await.ok();
    let cid = certified[0]["id"].as_str().unwrap();
    t.delete(&format!("/qrs/tag/{cid}")).await.ok();
    let n = t
        .get_filtered("/qrs/app/count", &format!("tags.id eq {cid}"))
        .await
        .ok();
    assert_eq!(n["value"], 0);
    let n = t
        .get_filtered("/qrs/app/count", "tags.name eq 'Production'")
        .await
        .ok();
    assert_eq!(n["value"], 14);

    // renaming a stream shows in the apps
    let stream = t
        .get_filtered("/qrs/stream/full", "name eq 'Sales'")
        .await
        .ok();
    let mut stream = stream[0].clone();
    stream["name"] = json!("Revenue");
    let sid = stream["id"].as_str().unwrap().to_string();
    t.put_json(&format!("/qrs/stream/{sid}"), stream).await.ok();
    let n = t
        .get_filtered("/qrs/app/count", "stream.name eq 'Revenue'")
        .await
        .ok();
    assert_eq!(
        n["value"].as_u64(),
        Some(sales.as_array().unwrap().len() as u64)
    );
}

#[tokio::test]
async fn upload_export_download_copy_publish_delete() {
    let t = setup(3, 0);
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let r = t
        .send(upload(
            "/qrs/app/upload?name=My%20App&keepdata=false",
            spec::APP_CONTENT_TYPE,
            Body::from(content.clone()),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let app = r.json();
    assert_eq!(app["name"], "My App");
    assert_eq!(app["fileSize"], json!(content.len()));
    assert_eq!(app["owner"]["userId"], "tester");
    let id = app["id"].as_str().unwrap().to_string();

    // wrong content type
    let r = upload("/qrs/app/upload?name=x", "text/plain", Body::from("x"));
    assert_eq!(t.send(r).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // export, download once
    let token = uuid::Uuid::new_v4().to_string();
    let ex = t
        .post(&format!("/qrs/app/{id}/export/{token}?skipData=true"))
        .await
        .ok();
    assert_eq!(ex["schemaPath"], "AppExportResponse");
    assert_eq!(ex["exportToken"], json!(token));
    assert_eq!(ex["cancelled"], false);
    let path = ex["downloadPath"].as_str().unwrap().to_string();
    assert!(path.starts_with("/tempcontent/") && path.contains("/My%20App.qvf?serverNodeId="));
    let r = t.get(&path).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(
        r.headers[header::CONTENT_LENGTH],
        content.len().to_string().as_str()
    );
    assert!(r.body == content, "download is not byte-exact");
    assert_eq!(t.get(&path).await.status, StatusCode::NOT_FOUND);

    // cancel
    let token2 = uuid::Uuid::new_v4().to_string();
    let ex2 = t.post(&format!("/qrs/app/{id}/export/{token2}")).await.ok();
    let c = t
        .delete(&format!("/qrs/app/{id}/export/{token2}"))
        .await
        .ok();
    assert_eq!(c["cancelled"], true);
    let p2 = ex2["downloadPath"].as_str().unwrap();
    assert_eq!(t.get(p2).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        t.post(&format!("/qrs/app/{id}/export/not-a-guid"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // a seeded app without a file yet exports its (lazily created) content
    let seeded = t.get("/qrs/app/full").await.ok();
    let last = seeded[2]["id"].as_str().unwrap().to_string();
    std::fs::remove_file(t.st.app_file(&last)).ok();
    let ex3 = t
        .post(&format!("/qrs/app/{last}/export/{}", uuid::Uuid::new_v4()))
        .await
        .ok();
    let r = t.get(ex3["downloadPath"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(Some(r.body.len() as u64), seeded[2]["fileSize"].as_u64());

    // copy
    let cp = t
        .post(&format!("/qrs/app/{id}/copy?name=Copied"))
        .await
        .ok();
    assert_eq!(cp["name"], "Copied");
    assert_eq!(cp["sourceAppId"], json!(id));
    let cid = cp["id"].as_str().unwrap().to_string();
    assert_eq!(std::fs::read(t.st.app_file(&cid)).unwrap(), content);

    // publish
    let streams = t.get("/qrs/stream").await.ok();
    let sid = streams[0]["id"].as_str().unwrap();
    assert_eq!(
        t.put(&format!(
            "/qrs/app/{cid}/publish?stream={}",
            uuid::Uuid::new_v4()
        ))
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let p = t
        .put(&format!(
            "/qrs/app/{cid}/publish?stream={sid}&name=Published"
        ))
        .await
        .ok();
    assert_eq!(p["published"], true);
    assert_eq!(p["name"], "Published");
    assert_eq!(p["stream"]["id"], json!(sid));
    assert_eq!(
        t.put(&format!("/qrs/app/{cid}/publish?stream={sid}"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // replace the published copy with another app's content
    let rep = t
        .put(&format!("/qrs/app/{last}/replace?app={cid}"))
        .await
        .ok();
    assert_eq!(rep["id"], json!(cid));
    assert_eq!(
        std::fs::read(t.st.app_file(&cid)).unwrap(),
        std::fs::read(t.st.app_file(&last)).unwrap()
    );

    // upload/replace
    let r = t
        .send(upload(
            &format!("/qrs/app/upload/replace?targetappid={cid}"),
            spec::APP_CONTENT_TYPE,
            Body::from(vec![1u8; 1234]),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["fileSize"], 1234);

    // delete removes the file
    assert_eq!(
        t.delete(&format!("/qrs/app/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(!t.st.app_file(&id).exists());
    assert_eq!(
        t.get(&format!("/qrs/app/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn wait_final(t: &T, task: &str) -> Value {
    for _ in 0..100 {
        let v = t.get(&format!("/qrs/reloadtask/{task}")).await.ok();
        let st = v["operational"]["lastExecutionResult"]["status"]
            .as_i64()
            .unwrap();
        if spec::task_status::is_final(st) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("task {task} did not finish");
}

#[tokio::test]
async fn reload_tasks_run_fail_and_stop() {
    let t = setup(4, 0);
    let apps = t.get("/qrs/app").await.ok();
    let app = apps[0]["id"].as_str().unwrap().to_string();
    let bundle = json!({
        "task": {"name": "Nightly", "app": {"id": app}, "taskType": 0, "enabled": true,
                 "taskSessionTimeout": 1440, "maxRetries": 0},
        "schemaEvents": [{"name": "Daily", "timeZone": "UTC", "daylightSavingTime": 0,
            "startDate": "2026-01-01T02:00:00.000Z", "expirationDate": "9999-01-01T00:00:00.000",
            "schemaFilterDescription": ["* * - * * * * *"], "incrementDescription": "0 0 1 0",
            "incrementOption": 2, "enabled": true}],
        "compositeEvents": [],
    });
    let task = t.post_json("/qrs/reloadtask/create", bundle).await.ok();
    assert_eq!(task["schemaPath"], "ReloadTask");
    assert_eq!(task["app"]["id"], json!(app));
    assert_eq!(task["operational"]["lastExecutionResult"]["status"], 0);
    let tid = task["id"].as_str().unwrap().to_string();
    let ev = t
        .get_filtered("/qrs/schemaevent/full", &format!("reloadTask.id eq {tid}"))
        .await
        .ok();
    assert_eq!(ev.as_array().unwrap().len(), 1);
    assert_eq!(ev[0]["reloadTask"]["name"], "Nightly");
    assert!(ev[0]["operational"]["nextExecution"].as_str().unwrap() > "2026-01-01");

    // synchronous start: session exists while running, then 404; result FinishedSuccess
    let sid = t
        .post(&format!("/qrs/task/{tid}/start/synchronous"))
        .await
        .ok();
    let sid = sid["value"].as_str().unwrap().to_string();
    assert_ne!(sid, spec::EMPTY_GUID);
    let sess = t.get(&format!("/qrs/executionsession/{sid}")).await.ok();
    assert_eq!(sess["reloadTask"]["id"], json!(tid));
    let done = wait_final(&t, &tid).await;
    assert_eq!(done["operational"]["lastExecutionResult"]["status"], 7);
    assert_eq!(
        t.get(&format!("/qrs/executionsession/{sid}")).await.status,
        StatusCode::NOT_FOUND
    );
    let res = t
        .get_filtered(
            "/qrs/executionresult/full",
            &format!("ExecutionId eq {sid}"),
        )
        .await
        .ok();
    let res = &res[0];
    assert_eq!(res["status"], 7);
    assert_eq!(res["taskID"], json!(tid));
    assert_eq!(res["appID"], json!(app));
    assert!(res["duration"].as_i64().unwrap() > 0);
    assert!(res["stopTime"].as_str() > res["startTime"].as_str());
    let n = t
        .get_filtered(
            "/qrs/reloadtask/count",
            "operational.lastExecutionResult.status eq FinishedSuccess",
        )
        .await
        .ok();
    assert_eq!(n["value"], 1);

    // the task's own modifiedDate did not change: a PUT with it still works
    let mut upd = done.clone();
    upd["name"] = json!("Nightly [fail]");
    let failing = t
        .put_json(&format!("/qrs/reloadtask/{tid}"), upd)
        .await
        .ok();
    t.post(&format!("/qrs/task/start?name={}", enc("Nightly [fail]")))
        .await
        .ok();
    let done = wait_final(&t, &tid).await;
    assert_eq!(done["operational"]["lastExecutionResult"]["status"], 8);
    let details = done["operational"]["lastExecutionResult"]["details"]
        .as_array()
        .unwrap();
    assert!(details.iter().any(|d| d["detailsType"] == 0));

    // stop
    t.st.set_run_duration(5_000, 5_000);
    t.post_json("/qrs/task/start/many", json!([tid])).await.ok();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        t.post(&format!("/qrs/task/{tid}/stop")).await.status,
        StatusCode::NO_CONTENT
    );
    let done = wait_final(&t, &tid).await;
    assert_eq!(done["operational"]["lastExecutionResult"]["status"], 6);

    // disabled: empty GUID
    let mut dis = failing.clone();
    dis["enabled"] = json!(false);
    dis["modifiedDate"] = done["modifiedDate"].clone();
    t.put_json(&format!("/qrs/reloadtask/{tid}"), dis)
        .await
        .ok();
    let sid = t
        .post(&format!("/qrs/task/{tid}/start/synchronous"))
        .await
        .ok();
    assert_eq!(sid, json!({"value": spec::EMPTY_GUID}));

    // unknown ids / names
    assert_eq!(
        t.post(&format!("/qrs/task/{}/start", uuid::Uuid::new_v4()))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.post("/qrs/task/start?name=nope").await.status,
        StatusCode::NOT_FOUND
    );

    // generic task view
    let tasks = t.get("/qrs/task/full").await.ok();
    let keys = field_names(&tasks[0]);
    assert!(keys.contains(&"taskType") && !keys.contains(&"operational"));

    // update bundle: rename, drop the schema event, add a composite one
    let cur = t.get(&format!("/qrs/reloadtask/{tid}")).await.ok();
    let change = json!({
        "task": {"id": tid, "name": "Renamed", "enabled": true, "modifiedDate": cur["modifiedDate"]},
        "schemaEventsToDelete": [ev[0]["id"]],
        "compositeEvents": [{"name": "after", "timeConstraint": {"days": 0, "hours": 0, "minutes": 360, "seconds": 0},
            "compositeRules": [{"ruleState": 1, "reloadTask": {"id": tid}}]}],
    });
    let renamed = t.post_json("/qrs/reloadtask/update", change).await.ok();
    assert_eq!(renamed["name"], "Renamed");
    assert_eq!(t.get("/qrs/schemaevent/count").await.ok()["value"], 0);
    let ce = t.get("/qrs/compositeevent/full").await.ok();
    assert_eq!(ce[0]["compositeRules"][0]["reloadTask"]["name"], "Renamed");

    // app reload runs the manual task
    t.st.set_run_duration(30, 60);
    assert_eq!(
        t.post(&format!("/qrs/app/{app}/reload")).await.status,
        StatusCode::NO_CONTENT
    );
    let manual = t
        .get_filtered("/qrs/reloadtask/full", "isManuallyTriggered eq true")
        .await
        .ok();
    assert_eq!(manual.as_array().unwrap().len(), 1);
    let mid = manual[0]["id"].as_str().unwrap().to_string();
    let done = wait_final(&t, &mid).await;
    assert_eq!(done["operational"]["lastExecutionResult"]["status"], 7);

    // deleting the app deletes its tasks and their triggers
    t.delete(&format!("/qrs/app/{app}")).await.ok();
    assert_eq!(t.get("/qrs/reloadtask/count").await.ok()["value"], 0);
    assert_eq!(t.get("/qrs/compositeevent/count").await.ok()["value"], 0);
}

#[tokio::test]
async fn composite_events_chain_tasks() {
    let t = setup(2, 0);
    let apps = t.get("/qrs/app").await.ok();
    let a = t
        .post_json(
            "/qrs/reloadtask",
            json!({"name": "first", "app": {"id": apps[0]["id"]}}),
        )
        .await
        .ok();
    let b = t.post_json("/qrs/reloadtask/create", json!({
        "task": {"name": "second", "app": {"id": apps[1]["id"]}},
        "compositeEvents": [{"name": "after first", "compositeRules": [{"ruleState": 1, "reloadTask": {"id": a["id"]}}]}],
    })).await.ok();
    let aid = a["id"].as_str().unwrap();
    t.post(&format!("/qrs/task/{aid}/start")).await.ok();
    wait_final(&t, aid).await;
    let bid = b["id"].as_str().unwrap();
    for _ in 0..100 {
        let v = t.get(&format!("/qrs/reloadtask/{bid}")).await.ok();
        if v["operational"]["lastExecutionResult"]["status"] == 7 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("the chained task did not run");
}

#[tokio::test]
async fn snapshot_restore_generation_and_proxies() {
    let t = setup(5, 4);
    let g0 = t.st.generation();
    t.post_json("/qrs/tag", json!({"name": "Persisted"}))
        .await
        .ok();
    assert!(t.st.generation() > g0);
    let g1 = t.st.generation();
    t.get("/qrs/tag").await.ok();
    assert_eq!(t.st.generation(), g1, "reads do not change the generation");

    let proxies = t.st.virtual_proxies();
    assert_eq!(proxies.len(), 2);
    assert_eq!(proxies, config(t._dir.path(), 0, 0).virtual_proxies);
    let vp = t
        .get_filtered("/qrs/virtualproxyconfig/full", "prefix eq 'jwt'")
        .await
        .ok();
    assert_eq!(vp[0]["authenticationMethod"], 4);
    assert_eq!(vp[0]["jwtAudience"], "qlik.api.internal");
    let mut changed = vp[0].clone();
    changed["jwtAudience"] = json!("other");
    let id = changed["id"].as_str().unwrap().to_string();
    t.put_json(&format!("/qrs/virtualproxyconfig/{id}"), changed)
        .await
        .ok();
    t.post_json(
        "/qrs/virtualproxyconfig",
        json!({"prefix": "hdr", "sessionCookieHeaderName": "X-Hdr", "authenticationMethod": 1}),
    )
    .await
    .ok();
    t.post_json("/qrs/virtualproxyconfig", json!({"prefix": "jwt2", "sessionCookieHeaderName": "X-J2", "authenticationMethod": 4, "jwtAudience": "a"})).await.ok();
    assert_eq!(
        t.post_json(
            "/qrs/virtualproxyconfig",
            json!({"prefix": "JWT2", "sessionCookieHeaderName": "X-J3", "authenticationMethod": 4}),
        )
        .await
        .status,
        StatusCode::BAD_REQUEST,
        "prefixes are unique"
    );
    let proxies = t.st.virtual_proxies();
    assert_eq!(
        proxies.len(),
        3,
        "header proxies are not served by the front door"
    );
    assert!(proxies.iter().any(
        |p| matches!(&p.auth, ProxyAuth::Jwt { jwt_audience, .. } if jwt_audience == "other")
    ));

    let snap = t.st.snapshot();
    let mut streamed = Vec::new();
    t.st.write_snapshot(&mut streamed).unwrap();
    let streamed: Value = serde_json::from_slice(&streamed).unwrap();
    assert_eq!(streamed, snap, "the streamed snapshot is the snapshot");
    let restored = QrsState::restore(config(t._dir.path(), 0, 0), snap.clone()).unwrap();
    assert_eq!(restored.snapshot(), snap);
    assert_eq!(restored.virtual_proxies(), t.st.virtual_proxies());
    let persisted = serving(restored)
        .get_filtered("/qrs/tag/count", "name eq 'Persisted'")
        .await;
    assert_eq!(persisted.ok(), json!({"value": 1}));
    assert!(QrsState::restore(config(t._dir.path(), 0, 0), json!(null)).is_err());
}

#[tokio::test]
async fn about_enums_servicestatus() {
    let t = setup(0, 0);
    let a = t.get("/qrs/about").await.ok();
    assert_eq!(a["schemaPath"], "About");
    let e = t.get("/qrs/about/api/enums").await.ok();
    assert_eq!(e["TaskExecutionStatus"]["values"][7], "7: FinishedSuccess");
    let ss = t.get("/qrs/servicestatus/full").await.ok();
    assert_eq!(ss.as_array().unwrap().len(), spec::SERVICE_TYPE.len());
    assert_eq!(ss[0]["serverNodeConfiguration"]["name"], "Central");
    let c = t.get("/qrs/servicestatus").await.ok();
    assert_eq!(c[0].as_object().unwrap().len(), 2);
    let d = t.get("/qrs/about/api/default/reloadtask").await.ok();
    assert_eq!(d["schemaPath"], "ReloadTask");
    assert_eq!(d["id"], spec::EMPTY_GUID);
    assert_eq!(d["taskSessionTimeout"], 1440);
}

#[tokio::test]
async fn failing_tasks_retry_with_one_execution_id() {
    let t = setup(1, 0);
    t.st.set_run_duration(20, 20);
    let apps = t.get("/qrs/app").await.ok();
    let tag = t
        .post_json("/qrs/tag", json!({"name": "sandbox-fail"}))
        .await
        .ok();
    let task = t.post_json("/qrs/reloadtask", json!({
        "name": "Flaky", "app": {"id": apps[0]["id"]}, "maxRetries": 2, "tags": [{"id": tag["id"]}],
    })).await.ok();
    let tid = task["id"].as_str().unwrap();
    let sid = t
        .post(&format!("/qrs/task/{tid}/start/synchronous"))
        .await
        .ok();
    let sid_s = sid["value"].as_str().unwrap();
    for _ in 0..200 {
        if t.get(&format!("/qrs/executionsession/{sid_s}"))
            .await
            .status
            == StatusCode::NOT_FOUND
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done = wait_final(&t, tid).await;
    assert_eq!(done["operational"]["lastExecutionResult"]["status"], 8);
    let results = t
        .get_filtered(
            "/qrs/executionresult/full",
            &format!("executionID eq {sid_s}"),
        )
        .await
        .ok();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 3, "first run + 2 retries");
    assert!(results.iter().all(|r| r["status"] == 8));
    assert!(
        results[2]["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["message"].as_str().unwrap().contains("sandbox-fail"))
    );
}

// ---------------------------------------------------------------------------------------------
// fidelity with the QRS spec (the spec file is read by tests only)

fn spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/spec/qrs-repository-api.swagger.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn norm(p: &str) -> String {
    p.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_route_is_in_the_spec() {
    let spec = spec();
    let paths = spec["paths"].as_object().unwrap();
    let known: std::collections::HashSet<(String, String)> = paths
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), norm(p)))
        })
        .collect();
    for r in routes::route_table() {
        if r.outside_spec().is_some() {
            continue; // documented elsewhere (see `Route::outside_spec`)
        }
        let p = norm(r.path.strip_prefix("/qrs").unwrap());
        assert!(
            known.contains(&(r.method.to_string(), p.clone())),
            "{} {} is not in the spec",
            r.method,
            r.path
        );
    }
}

fn check_fields(spec: &Value, def: &str, v: &Value, at: &str) {
    let defs = &spec["definitions"];
    let Some(props) = defs[def]["properties"].as_object() else {
        panic!("{def} is not a spec definition ({at})");
    };
    let Some(obj) = v.as_object() else { return };
    for (k, val) in obj {
        let Some(p) = props.get(k) else {
            panic!("{at}: field {k} is not in {def}");
        };
        // descend into referenced definitions
        let target = p["$ref"]
            .as_str()
            .or_else(|| p["items"]["$ref"].as_str())
            .map(|r| r.trim_start_matches("#/definitions/"));
        if let Some(target) = target
            && defs[target]["properties"].is_object()
        {
            match val {
                Value::Array(items) => {
                    for i in items {
                        check_fields(spec, target, i, &format!("{at}.{k}[]"));
                    }
                }
                Value::Object(_) => check_fields(spec, target, val, &format!("{at}.{k}")),
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn emitted_fields_are_in_the_spec() {
    let spec = spec();
    let t = setup(12, 8);
    // add executions so sessions and results exist
    t.st.set_run_duration(2_000, 2_000);
    let tasks = t.get("/qrs/reloadtask").await.ok();
    let tid = tasks[0]["id"].as_str().unwrap();
    t.post(&format!("/qrs/task/{tid}/start")).await.ok();
    for td in types::TYPES {
        if td.caps.full {
            let full = t
                .get(&format!("/qrs/{}/full?privileges=true", td.name))
                .await
                .ok();
            assert!(
                !full.as_array().unwrap().is_empty(),
                "no seeded {}",
                td.name
            );
            for e in full.as_array().unwrap() {
                check_fields(&spec, &types::spec_definition(td), e, td.name);
            }
        }
        if td.caps.list {
            let list = t.get(&format!("/qrs/{}", td.name)).await.ok();
            for e in list.as_array().unwrap() {
                check_fields(&spec, td.condensed_schema, e, td.name);
            }
        }
        // fresh defaults
        if td.view_of.is_none() {
            check_fields(
                &spec,
                &types::spec_definition(td),
                &Value::Object(types::defaults(td.name)),
                td.name,
            );
        }
    }
    let about = t.get("/qrs/about").await.ok();
    check_fields(&spec, "About", &about, "about");
    let apps = t.get("/qrs/app").await.ok();
    let id = apps[0]["id"].as_str().unwrap();
    let ex = t
        .post(&format!("/qrs/app/{id}/export/{}", uuid::Uuid::new_v4()))
        .await
        .ok();
    check_fields(&spec, "AppExportResponse", &ex, "export");
    let e = t.get("/qrs/about/api/enums").await.ok();
    for (_, v) in e.as_object().unwrap() {
        check_fields(&spec, "EnumDescription", v, "enums");
    }
    t.st.set_run_duration(10, 10);
    tasks::stop_task(&t.st, tid);
}

#[tokio::test]
async fn long_lists_are_streamed() {
    let t = setup(1_800, 0);
    let r = t.get("/qrs/app/full?orderby=name%20desc").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers.get(header::CONTENT_LENGTH).is_none(),
        "long lists are streamed"
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let v = v.as_array().unwrap();
    assert_eq!(v.len(), 1_800);
    assert!(v[0]["name"].as_str() >= v[1_799]["name"].as_str());
    let v: Value = serde_json::from_slice(&t.get("/qrs/app").await.body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1_800);
}

/// 50,000 apps (about a minute in a debug build on a busy machine):
/// `cargo test --lib sandbox::qrs::tests::fifty_thousand_apps -- --ignored`.
#[tokio::test]
#[ignore]
#[allow(clippy::print_stderr)]
async fn fifty_thousand_apps() {
    let t0 = std::time::Instant::now();
    let t = setup(50_000, 0);
    eprintln!("seed {:?}", t0.elapsed());
    let t1 = std::time::Instant::now();
    let r = t.get("/qrs/app/full").await;
    eprintln!("full {:?} {} bytes", t1.elapsed(), r.body.len());
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers.get(header::CONTENT_LENGTH).is_none(),
        "large lists are streamed"
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 50_000);
    let t1 = std::time::Instant::now();
    let n = t
        .get_filtered("/qrs/app/count", "published eq true")
        .await
        .ok();
    eprintln!("filtered count {:?}", t1.elapsed());
    assert_eq!(n["value"], 25_000);
}

#[tokio::test]
async fn schema_triggers_fire() {
    let t = setup(1, 0);
    t.st.set_run_duration(20, 40);
    let apps = t.get("/qrs/app").await.ok();
    let soon = store::format_ms(store::now_ms() + 300);
    let task = t.post_json("/qrs/reloadtask/create", json!({
        "task": {"name": "Scheduled", "app": {"id": apps[0]["id"]}},
        "schemaEvents": [{"name": "Once", "startDate": soon, "incrementOption": 0, "timeZone": "UTC",
            "schemaFilterDescription": ["* * - * * * * *"], "incrementDescription": "0 0 0 0"}],
    })).await.ok();
    let tid = task["id"].as_str().unwrap();
    let ev = t.get("/qrs/schemaevent/full").await.ok();
    assert_eq!(ev[0]["operational"]["nextExecution"], json!(soon));
    let done = wait_final(&t, tid).await;
    assert_eq!(done["operational"]["lastExecutionResult"]["status"], 7);
    let ev = t.get("/qrs/schemaevent/full").await.ok();
    assert_eq!(ev[0]["operational"]["timesTriggered"], 1);
    assert_eq!(ev[0]["operational"]["nextExecution"], spec::NEVER_DATE);
}

#[tokio::test]
async fn uploads_are_streamed_chunk_by_chunk() {
    let t = setup(0, 0);
    let chunks: Vec<Vec<u8>> = (0..64u8)
        .map(|i| vec![i; 64 * 1024 + usize::from(i)])
        .collect();
    let expected: Vec<u8> = chunks.concat();
    let stream = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, std::io::Error>(axum::body::Bytes::from(c))),
    );
    let r = t
        .send(upload(
            "/qrs/app/upload?name=Streamed&keepdata=true&excludeconnections=false",
            spec::APP_CONTENT_TYPE,
            Body::from_stream(stream),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let app: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(app["fileSize"], json!(expected.len()));
    let id = app["id"].as_str().unwrap();
    assert!(std::fs::read(t.st.app_file(id)).unwrap() == expected);
    // no temp files left behind
    let leftovers = std::fs::read_dir(t.st.config().data_dir.join("apps"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert_eq!(leftovers, 0);
    // a failing body stream leaves nothing behind either
    let bad = futures_util::stream::iter(vec![
        Ok(axum::body::Bytes::from_static(b"partial")),
        Err(std::io::Error::other("connection reset")),
    ]);
    let r = upload(
        "/qrs/app/upload?name=Broken",
        spec::APP_CONTENT_TYPE,
        Body::from_stream(bad),
    );
    assert_eq!(t.send(r).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(t.get("/qrs/app/count").await.ok()["value"], 1);
    let files = std::fs::read_dir(t.st.config().data_dir.join("apps"))
        .unwrap()
        .count();
    assert_eq!(files, 1);
}

#[tokio::test]
async fn restore_ends_running_executions_and_triggers_follow_updates() {
    let t = setup(1, 1);
    t.st.set_run_duration(10_000, 10_000);
    let task = t.get("/qrs/reloadtask").await.ok();
    let tid = task[0]["id"].as_str().unwrap().to_string();
    t.post(&format!("/qrs/task/{tid}/start")).await.ok();
    assert_eq!(t.get("/qrs/executionsession/count").await.ok()["value"], 1);
    let restored = QrsState::restore(config(t._dir.path(), 0, 0), t.st.snapshot()).unwrap();
    tasks::stop_task(&t.st, &tid);
    let r2 = serving(restored);
    assert_eq!(r2.get("/qrs/executionsession/count").await.ok()["value"], 0);
    let tk = r2.get(&format!("/qrs/reloadtask/{tid}")).await.ok();
    assert_eq!(tk["operational"]["lastExecutionResult"]["status"], 6);

    // moving a schema trigger's start moves its next execution
    let ev = r2.get("/qrs/schemaevent/full").await.ok();
    let mut ev = ev[0].clone();
    let later = store::format_ms(store::now_ms() + 5 * 86_400_000);
    ev["startDate"] = json!(later);
    let id = ev["id"].as_str().unwrap().to_string();
    let put = r2
        .put_json(&format!("/qrs/schemaevent/{id}"), ev)
        .await
        .ok();
    assert_eq!(put["operational"]["nextExecution"], json!(later));
}

#[tokio::test]
async fn cached_renderings_follow_changes() {
    let t = setup(300, 0);
    let published = |apps: &Value| {
        apps.as_array()
            .unwrap()
            .iter()
            .find(|a| !a["stream"].is_null())
            .cloned()
            .unwrap()
    };
    let apps = t.get("/qrs/app/full").await.ok();
    let app = published(&apps);
    let (aid, sid) = (
        app["id"].as_str().unwrap(),
        app["stream"]["id"].as_str().unwrap(),
    );
    // a referenced entity changes: every cached app showing it follows
    let mut stream = t.get(&format!("/qrs/stream/{sid}")).await.ok();
    stream["name"] = json!("Renamed stream");
    t.put_json(&format!("/qrs/stream/{sid}"), stream).await.ok();
    for uri in ["/qrs/app/full", "/qrs/app", "/qrs/app/full?privileges=true"] {
        let apps = t.get(uri).await.ok();
        let a = apps
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == aid)
            .unwrap();
        assert_eq!(a["stream"]["name"], "Renamed stream", "{uri}");
        assert_eq!(
            a["privileges"].is_null(),
            !uri.contains("privileges"),
            "{uri}"
        );
    }
    // the entity itself changes
    let mut a = t.get(&format!("/qrs/app/{aid}")).await.ok();
    a["description"] = json!("changed");
    t.put_json(&format!("/qrs/app/{aid}"), a).await.ok();
    let apps = t.get("/qrs/app/full").await.ok();
    let a = apps
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == aid)
        .unwrap();
    assert_eq!(a["description"], "changed");
    // and goes away
    t.delete(&format!("/qrs/app/{aid}")).await.ok();
    let apps = t.get("/qrs/app/full").await.ok();
    assert!(apps.as_array().unwrap().iter().all(|a| a["id"] != aid));
    assert_eq!(apps.as_array().unwrap().len(), 299);
}

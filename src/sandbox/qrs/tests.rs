//! In-process tests: the router called with `tower::ServiceExt::oneshot`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::sandbox::identity::Identity;

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
                auth: ProxyAuth::Forms,
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

fn with_key(uri: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}xrfkey={KEY}")
}

fn req(method: &str, uri: &str, body: Option<Value>) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(with_key(uri))
        .header(wire::XRFKEY_HEADER, KEY);
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

async fn send(t: &T, r: Request<Body>) -> (StatusCode, Vec<u8>, axum::http::HeaderMap) {
    let resp = t.app.clone().oneshot(r).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, bytes.to_vec(), headers)
}

async fn call(t: &T, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let (s, b, _) = send(t, req(method, uri, body)).await;
    let v = serde_json::from_slice(&b)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&b).into_owned()));
    (s, v)
}

async fn ok(t: &T, method: &str, uri: &str, body: Option<Value>) -> Value {
    let (s, v) = call(t, method, uri, body).await;
    assert!(s.is_success(), "{method} {uri}: {s} {v}");
    v
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
            b = b.header(wire::XRFKEY_HEADER, k);
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
        let (s, b, _) = send(&t, plain(uri, key)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(String::from_utf8(b).unwrap(), wire::XSRF_FAILED);
    }
    let (s, _, _) = send(&t, plain("/qrs/app?XrfKey=abcdefghij012345", Some(KEY))).await;
    assert_eq!(s, StatusCode::OK);
    // an unencoded & in a filter value
    let (s, b, _) = send(
        &t,
        plain(
            "/qrs/app?filter=name%20eq%20'A&B'&xrfkey=abcdefghij012345",
            Some(KEY),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(String::from_utf8(b).unwrap(), "Missing parameter value(s)");
}

#[tokio::test]
async fn generic_crud_with_conflicts() {
    let t = setup(0, 0);
    let tag = ok(&t, "POST", "/qrs/tag", Some(json!({"name": "Blue"}))).await;
    assert_eq!(tag["schemaPath"], "Tag");
    assert_eq!(tag["modifiedByUserName"], "SANDBOX\\tester");
    assert!(tag["privileges"].is_null());
    let id = tag["id"].as_str().unwrap().to_string();
    let (s, _) = call(&t, "POST", "/qrs/tag", Some(json!({"name": "Blue"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let got = ok(&t, "GET", &format!("/qrs/tag/{id}?privileges=true"), None).await;
    assert_eq!(
        got["privileges"],
        json!(["create", "read", "update", "delete"])
    );
    assert_eq!(got["name"], "Blue");
    let count = ok(&t, "GET", "/qrs/tag/count", None).await;
    assert_eq!(count["value"].as_u64().unwrap(), 7);
    let count = ok(
        &t,
        "GET",
        &format!("/qrs/tag/count?filter={}", enc("name eq 'blue'")),
        None,
    )
    .await;
    assert_eq!(count, json!({"value": 2}));

    // PUT: modifiedDate required and must be current
    let mut upd = got.clone();
    upd["name"] = json!("Green");
    upd.as_object_mut().unwrap().remove("modifiedDate");
    let (s, _) = call(&t, "PUT", &format!("/qrs/tag/{id}"), Some(upd.clone())).await;
    assert_eq!(s, StatusCode::CONFLICT);
    upd["modifiedDate"] = json!("2020-01-01T00:00:00.000Z");
    let (s, _) = call(&t, "PUT", &format!("/qrs/tag/{id}"), Some(upd.clone())).await;
    assert_eq!(s, StatusCode::CONFLICT);
    upd["modifiedDate"] = got["modifiedDate"].clone();
    let put = ok(&t, "PUT", &format!("/qrs/tag/{id}"), Some(upd.clone())).await;
    assert_eq!(put["name"], "Green");
    assert!(put["modifiedDate"].as_str() > got["modifiedDate"].as_str());
    assert_eq!(put["createdDate"], got["createdDate"]);
    // the same (now stale) body again
    let (s, _) = call(&t, "PUT", &format!("/qrs/tag/{id}"), Some(upd.clone())).await;
    assert_eq!(s, StatusCode::CONFLICT);
    // id mismatch
    let mut other = put.clone();
    other["id"] = json!(uuid::Uuid::new_v4().to_string());
    let (s, _) = call(&t, "PUT", &format!("/qrs/tag/{id}"), Some(other)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // triggers need an existing task
    let (s, _) = call(&t, "POST", "/qrs/schemaevent", Some(json!({"name": "x"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(
        &t,
        "POST",
        "/qrs/schemaevent",
        Some(json!({"name": "x", "reloadTask": {"id": uuid::Uuid::new_v4()}})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // many
    let many = ok(
        &t,
        "POST",
        "/qrs/tag/many",
        Some(json!([{"name": "a"}, {"name": "b"}])),
    )
    .await;
    assert_eq!(many.as_array().unwrap().len(), 2);

    // bad bodies
    let (s, _, _) = send(&t, {
        let mut r = req("POST", "/qrs/tag", None);
        *r.body_mut() = Body::from("{not json");
        r
    })
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&t, "POST", "/qrs/tag", Some(json!([1]))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&t, "POST", "/qrs/tag", Some(json!({"name": ""}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // delete
    let (s, _) = call(&t, "DELETE", &format!("/qrs/tag/{id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(&t, "GET", &format!("/qrs/tag/{id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v.as_str().unwrap().contains(&id));
    let (s, _) = call(&t, "DELETE", &format!("/qrs/tag/{id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // methods and paths that do not exist
    let (s, _) = call(&t, "POST", "/qrs/app", Some(json!({"name": "x"}))).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    let (s, _) = call(&t, "GET", "/qrs/nosuchtype", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn app_lists_filters_and_order() {
    let t = setup(40, 0);
    let list = ok(&t, "GET", "/qrs/app", None).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 40);
    let keys: Vec<&str> = list[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
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

    let full = ok(&t, "GET", "/qrs/app/full?privileges=true", None).await;
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

    let f = |q: &str| format!("/qrs/app/full?filter={}", enc(q));
    let sales = ok(&t, "GET", &f("stream.name eq 'sales'"), None).await;
    assert!(!sales.as_array().unwrap().is_empty());
    assert!(
        sales
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["stream"]["name"] == "Sales")
    );
    let tagged = ok(
        &t,
        "GET",
        &f("tags.name eq 'Certified' and published eq true"),
        None,
    )
    .await;
    assert!(
        tagged
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["published"] == true)
    );
    let unpub = ok(
        &t,
        "GET",
        &f("not published eq true or stream eq null"),
        None,
    )
    .await;
    assert_eq!(unpub.as_array().unwrap().len(), 20);
    let names = ok(
        &t,
        "GET",
        &format!(
            "{}&orderby={}",
            f("name sw 'S'"),
            enc("name desc, createdDate")
        ),
        None,
    )
    .await;
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

    let dept = ok(&t, "GET", &f("customProperties.definition.name eq 'Department' and customProperties.value eq 'Finance'"), None).await;
    assert!(!dept.as_array().unwrap().is_empty());
    assert!(
        dept.as_array()
            .unwrap()
            .iter()
            .all(|a| a["customProperties"][0]["value"] == "Finance")
    );
    let owned = ok(
        &t,
        "GET",
        &f("owner.userId eq 'alice' or owner.userId eq 'bob'"),
        None,
    )
    .await;
    assert!(
        owned
            .as_array()
            .unwrap()
            .iter()
            .all(|a| ["alice", "bob"].contains(&a["owner"]["userId"].as_str().unwrap()))
    );
    let recent = ok(
        &t,
        "GET",
        &format!(
            "/qrs/app/count?filter={}",
            enc("createdDate ge '2000-01-01 00:00:00' and fileSize gt 0")
        ),
        None,
    )
    .await;
    assert_eq!(recent["value"], 40);
    let by_id = ok(
        &t,
        "GET",
        &format!(
            "/qrs/app?filter={}",
            enc(&format!(
                "id eq {}",
                list[3]["id"].as_str().unwrap().to_uppercase()
            ))
        ),
        None,
    )
    .await;
    assert_eq!(by_id.as_array().unwrap().len(), 1);
    let status = ok(
        &t,
        "GET",
        &format!(
            "/qrs/app/count?filter={}",
            enc("availabilityStatus eq NotApplicable")
        ),
        None,
    )
    .await;
    assert_eq!(status["value"], 40);
    for bad in [
        "name eq",
        "name eq 'x",
        "nosuch eq 1",
        "(name eq 'x'",
        "availabilityStatus eq Nope",
    ] {
        let (s, v) = call(&t, "GET", &f(bad), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            v.as_str()
                .unwrap()
                .starts_with("Cannot parse the expression: "),
            "{v}"
        );
    }
    let (s, _) = call(&t, "GET", "/qrs/app?orderby=name%20sideways", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&t, "GET", "/qrs/app?privileges=maybe", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // deleting a tag removes it from the apps
    let certified = ok(
        &t,
        "GET",
        &format!("/qrs/tag?filter={}", enc("name eq 'Certified'")),
        None,
    )
    .await;
    let cid = certified[0]["id"].as_str().unwrap();
    ok(&t, "DELETE", &format!("/qrs/tag/{cid}"), None).await;
    let n = ok(
        &t,
        "GET",
        &format!(
            "/qrs/app/count?filter={}",
            enc(&format!("tags.id eq {cid}"))
        ),
        None,
    )
    .await;
    assert_eq!(n["value"], 0);
    let n = ok(
        &t,
        "GET",
        &format!("/qrs/app/count?filter={}", enc("tags.name eq 'Production'")),
        None,
    )
    .await;
    assert_eq!(n["value"], 14);

    // renaming a stream shows in the apps
    let stream = ok(
        &t,
        "GET",
        &format!("/qrs/stream/full?filter={}", enc("name eq 'Sales'")),
        None,
    )
    .await;
    let mut stream = stream[0].clone();
    stream["name"] = json!("Revenue");
    let sid = stream["id"].as_str().unwrap().to_string();
    ok(&t, "PUT", &format!("/qrs/stream/{sid}"), Some(stream)).await;
    let n = ok(
        &t,
        "GET",
        &format!("/qrs/app/count?filter={}", enc("stream.name eq 'Revenue'")),
        None,
    )
    .await;
    assert_eq!(
        n["value"].as_u64(),
        Some(sales.as_array().unwrap().len() as u64)
    );
}

#[tokio::test]
async fn upload_export_download_copy_publish_delete() {
    let t = setup(3, 0);
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut r = req("POST", "/qrs/app/upload?name=My%20App&keepdata=false", None);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        wire::APP_CONTENT_TYPE.parse().unwrap(),
    );
    *r.body_mut() = Body::from(content.clone());
    let (s, b, _) = send(&t, r).await;
    assert_eq!(s, StatusCode::CREATED);
    let app: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(app["name"], "My App");
    assert_eq!(app["fileSize"], json!(content.len()));
    assert_eq!(app["owner"]["userId"], "tester");
    let id = app["id"].as_str().unwrap().to_string();

    // wrong content type
    let mut r = req("POST", "/qrs/app/upload?name=x", None);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
    *r.body_mut() = Body::from("x");
    assert_eq!(send(&t, r).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // export, download once
    let token = uuid::Uuid::new_v4().to_string();
    let ex = ok(
        &t,
        "POST",
        &format!("/qrs/app/{id}/export/{token}?skipData=true"),
        None,
    )
    .await;
    assert_eq!(ex["schemaPath"], "AppExportResponse");
    assert_eq!(ex["exportToken"], json!(token));
    assert_eq!(ex["cancelled"], false);
    let path = ex["downloadPath"].as_str().unwrap().to_string();
    assert!(path.starts_with("/tempcontent/") && path.contains("/My%20App.qvf?serverNodeId="));
    let (s, body, h) = send(&t, req("GET", &path, None)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(
        h[header::CONTENT_LENGTH],
        content.len().to_string().as_str()
    );
    assert!(body == content, "download is not byte-exact");
    assert_eq!(
        send(&t, req("GET", &path, None)).await.0,
        StatusCode::NOT_FOUND
    );

    // cancel
    let token2 = uuid::Uuid::new_v4().to_string();
    let ex2 = ok(&t, "POST", &format!("/qrs/app/{id}/export/{token2}"), None).await;
    let c = ok(
        &t,
        "DELETE",
        &format!("/qrs/app/{id}/export/{token2}"),
        None,
    )
    .await;
    assert_eq!(c["cancelled"], true);
    let p2 = ex2["downloadPath"].as_str().unwrap();
    assert_eq!(
        send(&t, req("GET", p2, None)).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, _) = call(
        &t,
        "POST",
        &format!("/qrs/app/{id}/export/not-a-guid"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // a seeded app without a file yet exports its (lazily created) content
    let seeded = ok(&t, "GET", "/qrs/app/full", None).await;
    let last = seeded[2]["id"].as_str().unwrap().to_string();
    std::fs::remove_file(t.st.app_file(&last)).ok();
    let ex3 = ok(
        &t,
        "POST",
        &format!("/qrs/app/{last}/export/{}", uuid::Uuid::new_v4()),
        None,
    )
    .await;
    let (s, body, _) = send(&t, req("GET", ex3["downloadPath"].as_str().unwrap(), None)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(Some(body.len() as u64), seeded[2]["fileSize"].as_u64());

    // copy
    let cp = ok(&t, "POST", &format!("/qrs/app/{id}/copy?name=Copied"), None).await;
    assert_eq!(cp["name"], "Copied");
    assert_eq!(cp["sourceAppId"], json!(id));
    let cid = cp["id"].as_str().unwrap().to_string();
    assert_eq!(std::fs::read(t.st.app_file(&cid)).unwrap(), content);

    // publish
    let streams = ok(&t, "GET", "/qrs/stream", None).await;
    let sid = streams[0]["id"].as_str().unwrap();
    let (s, _) = call(
        &t,
        "PUT",
        &format!("/qrs/app/{cid}/publish?stream={}", uuid::Uuid::new_v4()),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let p = ok(
        &t,
        "PUT",
        &format!("/qrs/app/{cid}/publish?stream={sid}&name=Published"),
        None,
    )
    .await;
    assert_eq!(p["published"], true);
    assert_eq!(p["name"], "Published");
    assert_eq!(p["stream"]["id"], json!(sid));
    let (s, _) = call(
        &t,
        "PUT",
        &format!("/qrs/app/{cid}/publish?stream={sid}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // replace the published copy with another app's content
    let rep = ok(
        &t,
        "PUT",
        &format!("/qrs/app/{last}/replace?app={cid}"),
        None,
    )
    .await;
    assert_eq!(rep["id"], json!(cid));
    assert_eq!(
        std::fs::read(t.st.app_file(&cid)).unwrap(),
        std::fs::read(t.st.app_file(&last)).unwrap()
    );

    // upload/replace
    let mut r = req(
        "POST",
        &format!("/qrs/app/upload/replace?targetappid={cid}"),
        None,
    );
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        wire::APP_CONTENT_TYPE.parse().unwrap(),
    );
    *r.body_mut() = Body::from(vec![1u8; 1234]);
    let (s, b, _) = send(&t, r).await;
    assert_eq!(s, StatusCode::CREATED);
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["fileSize"], 1234);

    // delete removes the file
    let (s, _) = call(&t, "DELETE", &format!("/qrs/app/{id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(!t.st.app_file(&id).exists());
    let (s, _) = call(&t, "GET", &format!("/qrs/app/{id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn wait_final(t: &T, task: &str) -> Value {
    for _ in 0..100 {
        let v = ok(t, "GET", &format!("/qrs/reloadtask/{task}"), None).await;
        let st = v["operational"]["lastExecutionResult"]["status"]
            .as_i64()
            .unwrap();
        if wire::task_status::is_final(st) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("task {task} did not finish");
}

#[tokio::test]
async fn reload_tasks_run_fail_and_stop() {
    let t = setup(4, 0);
    let apps = ok(&t, "GET", "/qrs/app", None).await;
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
    let task = ok(&t, "POST", "/qrs/reloadtask/create", Some(bundle)).await;
    assert_eq!(task["schemaPath"], "ReloadTask");
    assert_eq!(task["app"]["id"], json!(app));
    assert_eq!(task["operational"]["lastExecutionResult"]["status"], 0);
    let tid = task["id"].as_str().unwrap().to_string();
    let ev = ok(
        &t,
        "GET",
        &format!(
            "/qrs/schemaevent/full?filter={}",
            enc(&format!("reloadTask.id eq {tid}"))
        ),
        None,
    )
    .await;
    assert_eq!(ev.as_array().unwrap().len(), 1);
    assert_eq!(ev[0]["reloadTask"]["name"], "Nightly");
    assert!(ev[0]["operational"]["nextExecution"].as_str().unwrap() > "2026-01-01");

    // synchronous start: session exists while running, then 404; result FinishedSuccess
    let sid = ok(
        &t,
        "POST",
        &format!("/qrs/task/{tid}/start/synchronous"),
        None,
    )
    .await;
    let sid = sid["value"].as_str().unwrap().to_string();
    assert_ne!(sid, wire::EMPTY_GUID);
    let sess = ok(&t, "GET", &format!("/qrs/executionsession/{sid}"), None).await;
    assert_eq!(sess["reloadTask"]["id"], json!(tid));
    let done = wait_final(&t, &tid).await;
    assert_eq!(done["operational"]["lastExecutionResult"]["status"], 7);
    let (s, _) = call(&t, "GET", &format!("/qrs/executionsession/{sid}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let res = ok(
        &t,
        "GET",
        &format!(
            "/qrs/executionresult/full?filter={}",
            enc(&format!("ExecutionId eq {sid}"))
        ),
        None,
    )
    .await;
    let res = &res[0];
    assert_eq!(res["status"], 7);
    assert_eq!(res["taskID"], json!(tid));
    assert_eq!(res["appID"], json!(app));
    assert!(res["duration"].as_i64().unwrap() > 0);
    assert!(res["stopTime"].as_str() > res["startTime"].as_str());
    let n = ok(
        &t,
        "GET",
        &format!(
            "/qrs/reloadtask/count?filter={}",
            enc("operational.lastExecutionResult.status eq FinishedSuccess")
        ),
        None,
    )
    .await;
    assert_eq!(n["value"], 1);

    // the task's own modifiedDate did not change: a PUT with it still works
    let mut upd = done.clone();
    upd["name"] = json!("Nightly [fail]");
    let failing = ok(&t, "PUT", &format!("/qrs/reloadtask/{tid}"), Some(upd)).await;
    ok(
        &t,
        "POST",
        &format!("/qrs/task/start?name={}", enc("Nightly [fail]")),
        None,
    )
    .await;
    let done = wait_final(&t, &tid).await;
    assert_eq!(done["operational"]["lastExecutionResult"]["status"], 8);
    let details = done["operational"]["lastExecutionResult"]["details"]
        .as_array()
        .unwrap();
    assert!(details.iter().any(|d| d["detailsType"] == 0));

    // stop
    t.st.set_run_duration(5_000, 5_000);
    ok(&t, "POST", "/qrs/task/start/many", Some(json!([tid]))).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (s, _) = call(&t, "POST", &format!("/qrs/task/{tid}/stop"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let done = wait_final(&t, &tid).await;
    assert_eq!(done["operational"]["lastExecutionResult"]["status"], 6);

    // disabled: empty GUID
    let mut dis = failing.clone();
    dis["enabled"] = json!(false);
    dis["modifiedDate"] = done["modifiedDate"].clone();
    ok(&t, "PUT", &format!("/qrs/reloadtask/{tid}"), Some(dis)).await;
    let sid = ok(
        &t,
        "POST",
        &format!("/qrs/task/{tid}/start/synchronous"),
        None,
    )
    .await;
    assert_eq!(sid, json!({"value": wire::EMPTY_GUID}));

    // unknown ids / names
    let (s, _) = call(
        &t,
        "POST",
        &format!("/qrs/task/{}/start", uuid::Uuid::new_v4()),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(&t, "POST", "/qrs/task/start?name=nope", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // generic task view
    let tasks = ok(&t, "GET", "/qrs/task/full", None).await;
    let keys: Vec<&str> = tasks[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(keys.contains(&"taskType") && !keys.contains(&"operational"));

    // update bundle: rename, drop the schema event, add a composite one
    let cur = ok(&t, "GET", &format!("/qrs/reloadtask/{tid}"), None).await;
    let change = json!({
        "task": {"id": tid, "name": "Renamed", "enabled": true, "modifiedDate": cur["modifiedDate"]},
        "schemaEventsToDelete": [ev[0]["id"]],
        "compositeEvents": [{"name": "after", "timeConstraint": {"days": 0, "hours": 0, "minutes": 360, "seconds": 0},
            "compositeRules": [{"ruleState": 1, "reloadTask": {"id": tid}}]}],
    });
    let renamed = ok(&t, "POST", "/qrs/reloadtask/update", Some(change)).await;
    assert_eq!(renamed["name"], "Renamed");
    assert_eq!(
        ok(&t, "GET", "/qrs/schemaevent/count", None).await["value"],
        0
    );
    let ce = ok(&t, "GET", "/qrs/compositeevent/full", None).await;
    assert_eq!(ce[0]["compositeRules"][0]["reloadTask"]["name"], "Renamed");

    // app reload runs the manual task
    t.st.set_run_duration(30, 60);
    let (s, _) = call(&t, "POST", &format!("/qrs/app/{app}/reload"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let manual = ok(
        &t,
        "GET",
        &format!(
            "/qrs/reloadtask/full?filter={}",
            enc("isManuallyTriggered eq true")
        ),
        None,
    )
    .await;
    assert_eq!(manual.as_array().unwrap().len(), 1);
    let mid = manual[0]["id"].as_str().unwrap().to_string();
    let done = wait_final(&t, &mid).await;
    assert_eq!(done["operational"]["lastExecutionResult"]["status"], 7);

    // deleting the app deletes its tasks and their triggers
    ok(&t, "DELETE", &format!("/qrs/app/{app}"), None).await;
    assert_eq!(
        ok(&t, "GET", "/qrs/reloadtask/count", None).await["value"],
        0
    );
    assert_eq!(
        ok(&t, "GET", "/qrs/compositeevent/count", None).await["value"],
        0
    );
}

#[tokio::test]
async fn composite_events_chain_tasks() {
    let t = setup(2, 0);
    let apps = ok(&t, "GET", "/qrs/app", None).await;
    let a = ok(
        &t,
        "POST",
        "/qrs/reloadtask",
        Some(json!({"name": "first", "app": {"id": apps[0]["id"]}})),
    )
    .await;
    let b = ok(&t, "POST", "/qrs/reloadtask/create", Some(json!({
        "task": {"name": "second", "app": {"id": apps[1]["id"]}},
        "compositeEvents": [{"name": "after first", "compositeRules": [{"ruleState": 1, "reloadTask": {"id": a["id"]}}]}],
    }))).await;
    let aid = a["id"].as_str().unwrap();
    ok(&t, "POST", &format!("/qrs/task/{aid}/start"), None).await;
    wait_final(&t, aid).await;
    let bid = b["id"].as_str().unwrap();
    for _ in 0..100 {
        let v = ok(&t, "GET", &format!("/qrs/reloadtask/{bid}"), None).await;
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
    ok(&t, "POST", "/qrs/tag", Some(json!({"name": "Persisted"}))).await;
    assert!(t.st.generation() > g0);
    let g1 = t.st.generation();
    ok(&t, "GET", "/qrs/tag", None).await;
    assert_eq!(t.st.generation(), g1, "reads do not change the generation");

    let proxies = t.st.virtual_proxies();
    assert_eq!(proxies.len(), 2);
    assert_eq!(proxies, config(t._dir.path(), 0, 0).virtual_proxies);
    let vp = ok(
        &t,
        "GET",
        &format!(
            "/qrs/virtualproxyconfig/full?filter={}",
            enc("prefix eq 'jwt'")
        ),
        None,
    )
    .await;
    assert_eq!(vp[0]["authenticationMethod"], 4);
    assert_eq!(vp[0]["jwtAudience"], "qlik.api.internal");
    let mut changed = vp[0].clone();
    changed["jwtAudience"] = json!("other");
    let id = changed["id"].as_str().unwrap().to_string();
    ok(
        &t,
        "PUT",
        &format!("/qrs/virtualproxyconfig/{id}"),
        Some(changed),
    )
    .await;
    ok(
        &t,
        "POST",
        "/qrs/virtualproxyconfig",
        Some(
            json!({"prefix": "hdr", "sessionCookieHeaderName": "X-Hdr", "authenticationMethod": 1}),
        ),
    )
    .await;
    ok(&t, "POST", "/qrs/virtualproxyconfig", Some(json!({"prefix": "jwt2", "sessionCookieHeaderName": "X-J2", "authenticationMethod": 4, "jwtAudience": "a"}))).await;
    let (s, _) = call(
        &t,
        "POST",
        "/qrs/virtualproxyconfig",
        Some(
            json!({"prefix": "JWT2", "sessionCookieHeaderName": "X-J3", "authenticationMethod": 4}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "prefixes are unique");
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
    let app2 = router(restored);
    let r = app2
        .oneshot(req(
            "GET",
            &format!("/qrs/tag/count?filter={}", enc("name eq 'Persisted'")),
            None,
        ))
        .await
        .unwrap();
    let b = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&b).unwrap(),
        json!({"value": 1})
    );
    assert!(QrsState::restore(config(t._dir.path(), 0, 0), json!(null)).is_err());
}

#[tokio::test]
async fn about_enums_servicestatus() {
    let t = setup(0, 0);
    let a = ok(&t, "GET", "/qrs/about", None).await;
    assert_eq!(a["schemaPath"], "About");
    let e = ok(&t, "GET", "/qrs/about/api/enums", None).await;
    assert_eq!(e["TaskExecutionStatus"]["values"][7], "7: FinishedSuccess");
    let ss = ok(&t, "GET", "/qrs/servicestatus/full", None).await;
    assert_eq!(ss.as_array().unwrap().len(), wire::SERVICE_TYPE.len());
    assert_eq!(ss[0]["serverNodeConfiguration"]["name"], "Central");
    let c = ok(&t, "GET", "/qrs/servicestatus", None).await;
    assert_eq!(c[0].as_object().unwrap().len(), 2);
    let d = ok(&t, "GET", "/qrs/about/api/default/reloadtask", None).await;
    assert_eq!(d["schemaPath"], "ReloadTask");
    assert_eq!(d["id"], wire::EMPTY_GUID);
    assert_eq!(d["taskSessionTimeout"], 1440);
}

#[tokio::test]
async fn failing_tasks_retry_with_one_execution_id() {
    let t = setup(1, 0);
    t.st.set_run_duration(20, 20);
    let apps = ok(&t, "GET", "/qrs/app", None).await;
    let tag = ok(
        &t,
        "POST",
        "/qrs/tag",
        Some(json!({"name": "sandbox-fail"})),
    )
    .await;
    let task = ok(&t, "POST", "/qrs/reloadtask", Some(json!({
        "name": "Flaky", "app": {"id": apps[0]["id"]}, "maxRetries": 2, "tags": [{"id": tag["id"]}],
    }))).await;
    let tid = task["id"].as_str().unwrap();
    let sid = ok(
        &t,
        "POST",
        &format!("/qrs/task/{tid}/start/synchronous"),
        None,
    )
    .await;
    let sid_s = sid["value"].as_str().unwrap();
    for _ in 0..200 {
        if call(&t, "GET", &format!("/qrs/executionsession/{sid_s}"), None)
            .await
            .0
            == StatusCode::NOT_FOUND
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done = wait_final(&t, tid).await;
    assert_eq!(done["operational"]["lastExecutionResult"]["status"], 8);
    let results = ok(
        &t,
        "GET",
        &format!(
            "/qrs/executionresult/full?filter={}",
            enc(&format!("executionID eq {sid_s}"))
        ),
        None,
    )
    .await;
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
        "/../shared/specs/qrs-repository-api.swagger.json"
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
        if r.path.starts_with("/tempcontent/") {
            continue; // served by the proxy, not part of the QRS spec
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
    let tasks = ok(&t, "GET", "/qrs/reloadtask", None).await;
    let tid = tasks[0]["id"].as_str().unwrap();
    ok(&t, "POST", &format!("/qrs/task/{tid}/start"), None).await;
    for td in types::TYPES {
        if td.caps.full {
            let full = ok(
                &t,
                "GET",
                &format!("/qrs/{}/full?privileges=true", td.name),
                None,
            )
            .await;
            assert!(
                !full.as_array().unwrap().is_empty(),
                "no seeded {}",
                td.name
            );
            for e in full.as_array().unwrap() {
                check_fields(&spec, td.schema, e, td.name);
            }
        }
        if td.caps.list {
            let list = ok(&t, "GET", &format!("/qrs/{}", td.name), None).await;
            for e in list.as_array().unwrap() {
                check_fields(&spec, td.condensed_schema, e, td.name);
            }
        }
        // fresh defaults
        if td.view_of.is_none() {
            check_fields(
                &spec,
                td.schema,
                &Value::Object(types::defaults(td.name)),
                td.name,
            );
        }
    }
    let about = ok(&t, "GET", "/qrs/about", None).await;
    check_fields(&spec, "About", &about, "about");
    let apps = ok(&t, "GET", "/qrs/app", None).await;
    let id = apps[0]["id"].as_str().unwrap();
    let ex = ok(
        &t,
        "POST",
        &format!("/qrs/app/{id}/export/{}", uuid::Uuid::new_v4()),
        None,
    )
    .await;
    check_fields(&spec, "AppExportResponse", &ex, "export");
    let e = ok(&t, "GET", "/qrs/about/api/enums", None).await;
    for (_, v) in e.as_object().unwrap() {
        check_fields(&spec, "EnumDescription", v, "enums");
    }
    t.st.set_run_duration(10, 10);
    tasks::stop_task(&t.st, tid);
}

#[tokio::test]
async fn long_lists_are_streamed() {
    let t = setup(1_800, 0);
    let (s, body, h) = send(&t, req("GET", "/qrs/app/full?orderby=name%20desc", None)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h.get(header::CONTENT_LENGTH).is_none(),
        "long lists are streamed"
    );
    let v: Value = serde_json::from_slice(&body).unwrap();
    let v = v.as_array().unwrap();
    assert_eq!(v.len(), 1_800);
    assert!(v[0]["name"].as_str() >= v[1_799]["name"].as_str());
    let (_, body, _) = send(&t, req("GET", "/qrs/app", None)).await;
    let v: Value = serde_json::from_slice(&body).unwrap();
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
    let (s, body, h) = send(&t, req("GET", "/qrs/app/full", None)).await;
    eprintln!("full {:?} {} bytes", t1.elapsed(), body.len());
    assert_eq!(s, StatusCode::OK);
    assert!(
        h.get(header::CONTENT_LENGTH).is_none(),
        "large lists are streamed"
    );
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 50_000);
    let t1 = std::time::Instant::now();
    let n = ok(
        &t,
        "GET",
        &format!("/qrs/app/count?filter={}", enc("published eq true")),
        None,
    )
    .await;
    eprintln!("filtered count {:?}", t1.elapsed());
    assert_eq!(n["value"], 25_000);
}

#[tokio::test]
async fn schema_triggers_fire() {
    let t = setup(1, 0);
    t.st.set_run_duration(20, 40);
    let apps = ok(&t, "GET", "/qrs/app", None).await;
    let soon = store::format_ms(store::now_ms() + 300);
    let task = ok(&t, "POST", "/qrs/reloadtask/create", Some(json!({
        "task": {"name": "Scheduled", "app": {"id": apps[0]["id"]}},
        "schemaEvents": [{"name": "Once", "startDate": soon, "incrementOption": 0, "timeZone": "UTC",
            "schemaFilterDescription": ["* * - * * * * *"], "incrementDescription": "0 0 0 0"}],
    }))).await;
    let tid = task["id"].as_str().unwrap();
    let ev = ok(&t, "GET", "/qrs/schemaevent/full", None).await;
    assert_eq!(ev[0]["operational"]["nextExecution"], json!(soon));
    let done = wait_final(&t, tid).await;
    assert_eq!(done["operational"]["lastExecutionResult"]["status"], 7);
    let ev = ok(&t, "GET", "/qrs/schemaevent/full", None).await;
    assert_eq!(ev[0]["operational"]["timesTriggered"], 1);
    assert_eq!(ev[0]["operational"]["nextExecution"], wire::NEVER_DATE);
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
    let mut r = req(
        "POST",
        "/qrs/app/upload?name=Streamed&keepdata=true&excludeconnections=false",
        None,
    );
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        wire::APP_CONTENT_TYPE.parse().unwrap(),
    );
    *r.body_mut() = Body::from_stream(stream);
    let (s, b, _) = send(&t, r).await;
    assert_eq!(s, StatusCode::CREATED);
    let app: Value = serde_json::from_slice(&b).unwrap();
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
    let mut r = req("POST", "/qrs/app/upload?name=Broken", None);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        wire::APP_CONTENT_TYPE.parse().unwrap(),
    );
    *r.body_mut() = Body::from_stream(bad);
    let (s, _, _) = send(&t, r).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(ok(&t, "GET", "/qrs/app/count", None).await["value"], 1);
    let files = std::fs::read_dir(t.st.config().data_dir.join("apps"))
        .unwrap()
        .count();
    assert_eq!(files, 1);
}

#[tokio::test]
async fn restore_ends_running_executions_and_triggers_follow_updates() {
    let t = setup(1, 1);
    t.st.set_run_duration(10_000, 10_000);
    let task = ok(&t, "GET", "/qrs/reloadtask", None).await;
    let tid = task[0]["id"].as_str().unwrap().to_string();
    ok(&t, "POST", &format!("/qrs/task/{tid}/start"), None).await;
    assert_eq!(
        ok(&t, "GET", "/qrs/executionsession/count", None).await["value"],
        1
    );
    let restored = QrsState::restore(config(t._dir.path(), 0, 0), t.st.snapshot()).unwrap();
    tasks::stop_task(&t.st, &tid);
    let r2 = T {
        _dir: tempfile::tempdir().unwrap(),
        app: router(restored.clone()),
        st: restored,
    };
    assert_eq!(
        ok(&r2, "GET", "/qrs/executionsession/count", None).await["value"],
        0
    );
    let tk = ok(&r2, "GET", &format!("/qrs/reloadtask/{tid}"), None).await;
    assert_eq!(tk["operational"]["lastExecutionResult"]["status"], 6);

    // moving a schema trigger's start moves its next execution
    let ev = ok(&r2, "GET", "/qrs/schemaevent/full", None).await;
    let mut ev = ev[0].clone();
    let later = store::format_ms(store::now_ms() + 5 * 86_400_000);
    ev["startDate"] = json!(later);
    let id = ev["id"].as_str().unwrap().to_string();
    let put = ok(&r2, "PUT", &format!("/qrs/schemaevent/{id}"), Some(ev)).await;
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
    let apps = ok(&t, "GET", "/qrs/app/full", None).await;
    let app = published(&apps);
    let (aid, sid) = (
        app["id"].as_str().unwrap(),
        app["stream"]["id"].as_str().unwrap(),
    );
    // a referenced entity changes: every cached app showing it follows
    let mut stream = ok(&t, "GET", &format!("/qrs/stream/{sid}"), None).await;
    stream["name"] = json!("Renamed stream");
    ok(&t, "PUT", &format!("/qrs/stream/{sid}"), Some(stream)).await;
    for uri in ["/qrs/app/full", "/qrs/app", "/qrs/app/full?privileges=true"] {
        let apps = ok(&t, "GET", uri, None).await;
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
    let mut a = ok(&t, "GET", &format!("/qrs/app/{aid}"), None).await;
    a["description"] = json!("changed");
    ok(&t, "PUT", &format!("/qrs/app/{aid}"), Some(a)).await;
    let apps = ok(&t, "GET", "/qrs/app/full", None).await;
    let a = apps
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == aid)
        .unwrap();
    assert_eq!(a["description"], "changed");
    // and goes away
    ok(&t, "DELETE", &format!("/qrs/app/{aid}"), None).await;
    let apps = ok(&t, "GET", "/qrs/app/full", None).await;
    assert!(apps.as_array().unwrap().iter().all(|a| a["id"] != aid));
    assert_eq!(apps.as_array().unwrap().len(), 299);
}

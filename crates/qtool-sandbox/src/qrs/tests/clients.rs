//! What third-party QRS clients and the QMC rely on (issue 11): case-insensitive paths, the
//! table API, the repository's uniqueness rules, and the endpoints they call beyond the CRUD
//! basics, each with the spec's shapes.

use super::*;

/// A spec schema as the route metadata names types: a definition, `List<T>`, a scalar.
fn spec_type_name(schema: Option<&Value>) -> String {
    let Some(schema) = schema.filter(|s| !s.is_null()) else {
        return "Void".into();
    };
    if let Some(r) = schema["$ref"].as_str() {
        return r.trim_start_matches("#/definitions/").to_string();
    }
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("array"), _) => format!("List<{}>", spec_type_name(Some(&schema["items"]))),
        (Some("string"), Some("uuid")) => "Guid".into(),
        (Some("string"), Some("binary")) => "Stream".into(),
        (Some("string"), _) => "String".into(),
        (Some("integer"), _) => "Int32".into(),
        (Some("object"), _) => format!(
            "Dictionary<String, {}>",
            spec_type_name(Some(&schema["additionalProperties"]))
        ),
        other => panic!("unexpected schema {other:?}: {schema}"),
    }
}

/// The spec operation of a route (path parameters compared by position).
fn spec_operation<'a>(spec: &'a Value, route: &routes::Route) -> &'a Value {
    let wanted = norm(route.path.strip_prefix("/qrs").unwrap());
    let (_, ops) = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(p, _)| norm(p) == wanted)
        .unwrap_or_else(|| panic!("{} is not in the spec", route.path));
    &ops[route.method.as_str().to_ascii_lowercase()]
}

#[test]
fn route_parameters_and_types_are_the_specs() {
    let spec = spec();
    for route in routes::route_table() {
        if route.outside_spec().is_some() {
            continue;
        }
        let op = spec_operation(&spec, &route);
        let what = format!("{} {}", route.method, route.path);
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let query: Vec<&str> = params
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(route.op.query_params(), query.as_slice(), "{what}");
        let body = params
            .iter()
            .find(|p| p["in"] == "body")
            .map(|p| &p["schema"]);
        assert_eq!(route.body_type(), spec_type_name(body), "{what} body");
        let responses = op["responses"].as_object().unwrap();
        let ok = ["200", "201", "204"]
            .iter()
            .find_map(|c| responses.get(*c))
            .unwrap_or_else(|| panic!("{what}: no success response"));
        assert_eq!(
            route.return_type(),
            spec_type_name(ok.get("schema")),
            "{what} answer"
        );
    }
}

#[tokio::test]
async fn paths_are_case_insensitive() {
    let t = setup(3, 0);
    let full = t.get("/qrs/App/Full").await.ok();
    assert_eq!(full.as_array().unwrap().len(), 3);
    assert_eq!(t.get("/QRS/APP/COUNT").await.ok(), json!({"value": 3}));
    let cpd = t.get("/qrs/CustomPropertyDefinition/full").await.ok();
    assert_eq!(cpd[0]["name"], "Department");
    let id = full[0]["id"].as_str().unwrap().to_ascii_uppercase();
    let one = t.get(&format!("/qrs/App/{id}")).await.ok();
    assert_eq!(one["id"], full[0]["id"]);
    // Query values keep their case.
    let name = full[0]["name"].as_str().unwrap();
    let hit = t
        .get_filtered("/QRS/app", &format!("name eq '{name}'"))
        .await
        .ok();
    assert_eq!(hit[0]["name"], json!(name));
}

#[tokio::test]
async fn users_are_unique_per_directory_and_id() {
    let t = setup(0, 0);
    let first = t
        .post_json(
            "/qrs/user",
            json!({"userDirectory": "CORP", "userId": "jo", "name": "Jo"}),
        )
        .await
        .ok();
    let again = t
        .post_json(
            "/qrs/user",
            json!({"userDirectory": "corp", "userId": "JO", "name": "Jo again"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.json());
    assert!(again.json().as_str().unwrap().contains("already exists"));
    let many = t
        .post_json(
            "/qrs/user/many",
            json!([{"userDirectory": "X", "userId": "a"}, {"userDirectory": "X", "userId": "A"}]),
        )
        .await;
    assert_eq!(many.status, StatusCode::CONFLICT);
    let all = t
        .get_filtered(
            "/qrs/user",
            "userDirectory eq 'CORP' or userDirectory eq 'X'",
        )
        .await
        .ok();
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    // The identity a first request creates counts too.
    let tester = t.post_json(
        "/qrs/user",
        json!({"userDirectory": "SANDBOX", "userId": "tester"}),
    );
    assert_eq!(tester.await.status, StatusCode::CONFLICT);
    // Renaming onto another user is refused; updating oneself is not.
    let mut renamed = first.clone();
    renamed["userDirectory"] = json!("SANDBOX");
    renamed["userId"] = json!("Tester");
    let id = first["id"].as_str().unwrap();
    let r = t.put_json(&format!("/qrs/user/{id}"), renamed).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let mut same = first.clone();
    same["name"] = json!("Jo Smith");
    t.put_json(&format!("/qrs/user/{id}"), same).await.ok();
}

fn table_body(key: &str, entity: &str, numeric: bool) -> Value {
    let ty = |name: &str, number: u64| if numeric { json!(number) } else { json!(name) };
    json!({
        key: entity,
        "columns": [
            {"name": "id", "columnType": ty("Property", 1), "definition": "id"},
            {"name": "privileges", "columnType": ty("Privileges", 4), "definition": "privileges"},
            {"name": "name", "columnType": ty("Property", 1), "definition": "name"},
            {"name": "stream.name", "columnType": ty("Property", 1), "definition": "stream.name"},
            {"name": "tags", "columnType": ty("List", 3), "definition": "tag", "list": [
                {"name": "name", "columnType": ty("Property", 1), "definition": "name"},
                {"name": "id", "columnType": ty("Property", 1), "definition": "id"},
            ]},
            {"name": "tasks", "columnType": ty("Function", 2), "definition": "Count(ReloadTask)"},
        ]
    })
}

#[tokio::test]
async fn table_api_answers_both_body_spellings() {
    let spec = spec();
    let t = setup(6, 4);
    let full = t.get("/qrs/app/full").await.ok();
    for (key, numeric) in [("type", true), ("entity", false)] {
        let r = t
            .post_json(
                "/qrs/App/table?skip=1&take=3&sortColumn=name&orderAscending=false",
                table_body(key, "App", numeric),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{key}: {}", r.json());
        let v = r.json();
        check_fields(&spec, "Table", &v, "table");
        assert_eq!(
            v["columnNames"],
            json!(["id", "privileges", "name", "stream.name", "tags", "tasks"])
        );
        let rows = v["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 3);
        // Sorted by name descending, the first one skipped.
        let mut names: Vec<String> = full
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.to_lowercase()));
        let got: Vec<&str> = rows.iter().map(|r| r[2].as_str().unwrap()).collect();
        assert_eq!(
            got,
            names[1..4].iter().map(String::as_str).collect::<Vec<_>>()
        );
        for row in rows {
            let app = full
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["id"] == row[0])
                .unwrap();
            assert_eq!(row[1], json!(render::ALL_PRIVILEGES));
            assert_eq!(row[3], app["stream"]["name"]);
            let tags: Vec<Value> = app["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| json!([t["name"], t["id"]]))
                .collect();
            assert_eq!(row[4], Value::Array(tags));
            let filter = format!("app.id eq {}", row[0].as_str().unwrap());
            let tasks = t.get_filtered("/qrs/reloadtask", &filter).await.ok();
            assert_eq!(row[5], json!(tasks.as_array().unwrap().len()));
        }
    }
    // The QMC's own body for tasks, with a filter in parentheses.
    let qmc = json!({"entity": "Task", "columns": [
        {"name": "id", "columnType": "Property", "definition": "id"},
        {"name": "name", "columnType": "Property", "definition": "name"},
        {"name": "compositeEvents", "columnType": "Function", "definition": "Count(CompositeEvent)"},
        {"name": "compositeEventRules", "columnType": "Function", "definition": "Count(CompositeEvent.Rule)"},
        {"name": "userDirectory.name", "columnType": "Property", "definition": "userDirectory.name"},
        {"name": "status", "columnType": "Property", "definition": "operational.lastExecutionResult.status"},
    ]});
    let r = t
        .post_json("/qrs/task/table?filter=(enabled%20eq%20true)&take=0", qmc)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let rows = r.json()["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r[4].is_null()), "{rows:?}");
    // Seeded tasks after the first are chained by a composite event: one event, one rule each.
    let triggering: i64 = rows.iter().map(|r| r[3].as_i64().unwrap()).sum();
    let events = t.get("/qrs/compositeevent/full").await.ok();
    let rules: usize = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["compositeRules"].as_array().unwrap().len())
        .sum();
    assert_eq!(triggering, rules as i64);

    // Every type of the list answers.
    for ty in [
        "app",
        "stream",
        "user",
        "reloadtask",
        "task",
        "executionresult",
        "compositeevent",
        "custompropertydefinition",
        "tag",
        "app/object",
        "license/analyzeraccesstype",
    ] {
        let body = json!({"type": types::type_def(ty).unwrap().schema, "columns": [
            {"name": "id", "columnType": 1, "definition": "id"}]});
        let r = t.post_json(&format!("/qrs/{ty}/table"), body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{ty}: {}", r.json());
        let listed = t.get(&format!("/qrs/{ty}")).await.ok();
        assert_eq!(
            r.json()["rows"].as_array().unwrap().len(),
            listed.as_array().unwrap().len(),
            "{ty}"
        );
    }
    // Errors: 400 with a reason.
    for (uri, body) in [
        ("/qrs/app/table", json!({"type": "Stream", "columns": []})),
        ("/qrs/app/table", json!({"type": "App"})),
        (
            "/qrs/app/table",
            json!({"type": "App", "columns": [{"name": "x", "columnType": 7, "definition": "id"}]}),
        ),
        (
            "/qrs/app/table?sortColumn=nope",
            json!({"type": "App", "columns": [{"name": "id", "columnType": 1, "definition": "id"}]}),
        ),
        (
            "/qrs/app/table",
            json!({"type": "App", "columns": [{"name": "n", "columnType": 2, "definition": "Sum(x)"}]}),
        ),
        (
            "/qrs/app/table?filter=nope%20eq%201",
            json!({"type": "App", "columns": [{"name": "id", "columnType": 1, "definition": "id"}]}),
        ),
    ] {
        let r = t.post_json(uri, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{uri} {body}: {}",
            r.json()
        );
    }
}

#[tokio::test]
async fn older_export_flow_downloads_once() {
    let t = setup(2, 0);
    let apps = t.get("/qrs/app/full").await.ok();
    let id = apps[0]["id"].as_str().unwrap();
    let ticket = t.get(&format!("/qrs/app/{id}/export")).await.ok();
    let ticket = ticket["value"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&ticket).is_ok());
    let url = format!("/qrs/download/app/{id}/{ticket}/Any%20Name.qvf");
    let r = t.get(&url).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/unknown");
    assert_eq!(Some(r.body.len() as u64), apps[0]["fileSize"].as_u64());
    assert!(r.body.starts_with(crate::engine::qvf::MAGIC.as_bytes()));
    assert_eq!(t.get(&url).await.status, StatusCode::NOT_FOUND);
    // A ticket is not a temp-content id, and the other way round.
    let ticket = t.get(&format!("/qrs/app/{id}/export")).await.ok();
    let ticket = ticket["value"].as_str().unwrap();
    assert_eq!(
        t.get(&format!("/tempcontent/{ticket}/x.qvf")).await.status,
        StatusCode::NOT_FOUND
    );
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        t.get(&format!("/qrs/app/{unknown}/export")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn api_description_lists_what_is_served() {
    let spec = spec();
    let t = setup(0, 0);
    let plain = t.get("/qrs/about/api/description").await.ok();
    let plain: Vec<&str> = plain
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(plain.contains(&"GET /qrs/about"), "{plain:?}");
    assert!(plain.contains(
        &"GET /qrs/about/api/description?extended={extended}&method={method}&format={format}"
    ));
    assert!(plain.contains(&"POST /qrs/app/table?filter={filter}&skip={skip}&take={take}&sortcolumn={sortcolumn}&orderascending={orderascending}"));
    let posts = t.get("/qrs/about/api/description?method=post").await.ok();
    assert!(
        posts
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.as_str().unwrap().starts_with("POST "))
    );
    let ext = t
        .get("/qrs/about/api/description?extended=true&format=JSON")
        .await
        .ok();
    let items = ext.as_array().unwrap();
    assert_eq!(items.len(), plain.len());
    for item in items {
        // Each string is a JSON object, as SDK generators parse it.
        let v: Value = serde_json::from_str(item.as_str().unwrap()).unwrap();
        let path = v["path"].as_str().unwrap();
        let method = v["method"].as_str().unwrap();
        let extended = v["extended"].as_str().unwrap();
        assert!(
            extended.starts_with("[resource=") && extended.ends_with(']'),
            "{extended}"
        );
        if path.starts_with("/qrs/ssl/") {
            continue;
        }
        let bare = path
            .split('?')
            .next()
            .unwrap()
            .strip_prefix("/qrs")
            .unwrap();
        let known = spec["paths"]
            .as_object()
            .unwrap()
            .iter()
            .any(|(p, ops)| norm(p) == norm(bare) && ops.get(method.to_lowercase()).is_some());
        assert!(known, "{method} {path} is not in the spec");
    }
    assert_eq!(
        t.get("/qrs/about/api/description?format=XML").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn licence_summary_and_allocations() {
    let spec = spec();
    let t = setup(0, 0);
    let info = t.get("/qrs/license/accesstypeinfo").await.ok();
    check_fields(&spec, "AccessTypesInfo", &info, "accesstypeinfo");
    let analyzers = t.get("/qrs/license/analyzeraccesstype/full").await.ok();
    let analyzers = analyzers.as_array().unwrap();
    assert_eq!(analyzers.len(), 3);
    for a in analyzers {
        check_fields(&spec, "LicenseAnalyzerAccessType", a, "analyzer");
        assert_eq!(a["schemaPath"], "License.AnalyzerAccessType");
        assert!(a["user"]["userId"].is_string(), "{a}");
    }
    let count = t.get("/qrs/license/analyzeraccesstype/count").await.ok();
    assert_eq!(count, json!({"value": 3}));
    assert_eq!(info["analyzerAccessType"]["allocatedTokens"], 3);
    assert_eq!(info["professionalAccessType"]["allocatedTokens"], 2);
    let used = analyzers
        .iter()
        .filter(|a| a["lastUsed"] != spec::NEVER_DATE)
        .count();
    assert_eq!(info["analyzerAccessType"]["usedTokens"], json!(used));
    // One allocation per user; the user must exist.
    let user = analyzers[0]["user"]["id"].clone();
    let r = t
        .post_json(
            "/qrs/license/analyzeraccesstype",
            json!({"user": {"id": user}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = t
        .post_json(
            "/qrs/license/analyzeraccesstype",
            json!({"user": {"id": uuid::Uuid::new_v4()}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Deleting the user leaves the allocation, naming who it was.
    let uid = user.as_str().unwrap();
    let who = t.get(&format!("/qrs/user/{uid}")).await.ok();
    t.delete(&format!("/qrs/user/{uid}")).await;
    let left = t
        .get(&format!(
            "/qrs/license/analyzeraccesstype/{}",
            analyzers[0]["id"].as_str().unwrap()
        ))
        .await
        .ok();
    assert!(left["user"].is_null());
    assert_eq!(left["deletedUserId"], who["userId"]);
    assert_eq!(left["deletedUserDirectory"], who["userDirectory"]);
}

#[tokio::test]
async fn app_objects_of_every_app() {
    let spec = spec();
    let t = setup(4, 0);
    let apps = t.get("/qrs/app/full").await.ok();
    let all = t.get("/qrs/app/object/full").await.ok();
    let all = all.as_array().unwrap();
    for o in all {
        check_fields(&spec, "AppObject", o, "app/object");
    }
    let kinds: std::collections::BTreeSet<&str> = all
        .iter()
        .map(|o| o["objectType"].as_str().unwrap())
        .collect();
    for kind in [
        "sheet",
        "story",
        "masterobject",
        "dimension",
        "measure",
        "bookmark",
    ] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    let id = apps[1]["id"].as_str().unwrap();
    let mine = t
        .get_filtered("/qrs/app/object/full", &format!("app.id eq {id}"))
        .await
        .ok();
    let mine = mine.as_array().unwrap();
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|o| o["app"]["id"] == json!(id)));
    assert_eq!(mine[0]["app"]["name"], apps[1]["name"]);
    let sheets = t
        .get_filtered(
            "/qrs/app/object/count",
            &format!("app.id eq {id} and objectType eq 'sheet'"),
        )
        .await
        .ok();
    assert_eq!(sheets, json!({"value": 2}));
    // Approve and publish.
    let oid = mine.iter().find(|o| o["objectType"] == "bookmark").unwrap()["id"]
        .as_str()
        .unwrap();
    let r = t.post(&format!("/qrs/app/object/{oid}/approve")).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["approved"], true);
    let r = t.put(&format!("/qrs/app/object/{oid}/publish")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["published"], true);
    assert_ne!(r.json()["publishTime"], spec::NEVER_DATE);
    let r = t
        .put(&format!("/qrs/app/object/{oid}/unpublish"))
        .await
        .ok();
    assert_eq!(r["published"], false);
    let r = t
        .post(&format!("/qrs/app/object/{oid}/unapprove"))
        .await
        .ok();
    assert_eq!(r["approved"], false);
    // A copy brings copies of the objects; deleting the app deletes them.
    let copy = t.post(&format!("/qrs/app/{id}/copy?name=C")).await.ok();
    let cid = copy["id"].as_str().unwrap();
    let copied = t
        .get_filtered("/qrs/app/object", &format!("app.id eq {cid}"))
        .await
        .ok();
    assert_eq!(copied.as_array().unwrap().len(), mine.len());
    t.delete(&format!("/qrs/app/{cid}")).await;
    let gone = t
        .get_filtered("/qrs/app/object/count", &format!("app.id eq {cid}"))
        .await
        .ok();
    assert_eq!(gone, json!({"value": 0}));
}

#[tokio::test]
async fn accessible_objects_audit() {
    let spec = spec();
    let t = setup(3, 0);
    let users = t.get_filtered("/qrs/user", "userId eq 'alice'").await.ok();
    let alice = users[0]["id"].as_str().unwrap().to_string();
    let audit = |resource: &str, action: u64, user: &str| json!({"resourceType": resource, "action": action, "userID": user});
    let url = "/qrs/systemrule/security/audit/accessibleobjects";
    let r = t.post_json(url, audit("App", 2, &alice)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let objects = r.json();
    assert_eq!(objects.as_array().unwrap().len(), 3);
    for o in objects.as_array().unwrap() {
        check_fields(&spec, "RepositoryObject", o, "accessibleobjects");
    }
    let streams = t.post_json(url, audit("Stream", 2, &alice)).await.ok();
    assert_eq!(streams.as_array().unwrap().len(), 5);
    let none = t.post_json(url, audit("App", 0, &alice)).await.ok();
    assert_eq!(none, json!([]));
    assert_eq!(
        t.post_json(url, audit("Nonsense", 2, &alice)).await.status,
        StatusCode::BAD_REQUEST
    );
    let nobody = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        t.post_json(url, audit("App", 2, &nobody)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn script_logs_by_file_reference_and_by_result() {
    let t = setup(2, 2);
    let results = t.get("/qrs/executionresult/full").await.ok();
    let r0 = results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scriptLogAvailable"] == true)
        .unwrap()
        .clone();
    let task = r0["taskID"].as_str().unwrap();
    let fref = r0["fileReferenceID"].as_str().unwrap();
    assert_ne!(fref, spec::EMPTY_GUID);
    let ticket = t
        .get(&format!(
            "/qrs/reloadtask/{task}/scriptlog?filereferenceid={fref}"
        ))
        .await
        .ok();
    let ticket = ticket["value"].as_str().unwrap();
    let url = format!("/qrs/download/reloadtask/{ticket}/scriptlog.txt");
    let log = t.get(&url).await;
    assert_eq!(log.status, StatusCode::OK);
    let text = String::from_utf8(log.body).unwrap();
    assert!(text.contains("Execution started."), "{text}");
    assert_eq!(r0["scriptLogSize"], json!(text.len()));
    assert_eq!(t.get(&url).await.status, StatusCode::NOT_FOUND);
    // By execution result id (the QMC's newer call).
    let rid = r0["id"].as_str().unwrap();
    let ticket = t
        .get(&format!(
            "/qrs/reloadtask/{task}/scriptlogfile?executionresultid={rid}"
        ))
        .await
        .ok();
    let again = t
        .get(&format!(
            "/qrs/download/reloadtask/{}/x.log",
            ticket["value"].as_str().unwrap()
        ))
        .await;
    assert_eq!(String::from_utf8(again.body).unwrap(), text);
    // A run that ends gets a log of its own.
    t.st.set_run_duration(10, 10);
    let sid = t
        .post(&format!("/qrs/task/{task}/start/synchronous"))
        .await
        .ok();
    let sid = sid["value"].as_str().unwrap().to_string();
    let mut fresh = Value::Null;
    for _ in 0..200 {
        let r = t
            .get_filtered(
                "/qrs/executionresult/full",
                &format!("executionID eq {sid}"),
            )
            .await
            .ok();
        if r[0]["scriptLogAvailable"] == true {
            fresh = r[0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(fresh["fileReferenceID"], r0["fileReferenceID"], "{fresh}");
    // Errors.
    let missing = t.get(&format!("/qrs/reloadtask/{task}/scriptlog")).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let unknown = uuid::Uuid::new_v4();
    let r = t
        .get(&format!(
            "/qrs/reloadtask/{task}/scriptlog?filereferenceid={unknown}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ssl_ping() {
    let t = setup(0, 0);
    for path in ["/qrs/ssl/ping", "/ssl/ping", "/QRS/SSL/Ping"] {
        let r = t.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(String::from_utf8(r.body).unwrap(), "Ping successful");
    }
}

#[tokio::test]
async fn only_the_exporting_user_downloads() {
    let t = setup(1, 0);
    let apps = t.get("/qrs/app").await.ok();
    let id = apps[0]["id"].as_str().unwrap();
    let as_other = |uri: &str| {
        let mut r = req("GET", uri, None);
        r.extensions_mut()
            .insert(Identity::new("SANDBOX", "someone-else"));
        r
    };
    let ex = t
        .post(&format!("/qrs/app/{id}/export/{}", uuid::Uuid::new_v4()))
        .await
        .ok();
    let path = ex["downloadPath"].as_str().unwrap();
    let denied = t.send(as_other(path)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.json());
    assert_eq!(t.get(path).await.status, StatusCode::OK);
    let ticket = t.get(&format!("/qrs/app/{id}/export")).await.ok();
    let url = format!(
        "/qrs/download/app/{id}/{}/x.qvf",
        ticket["value"].as_str().unwrap()
    );
    assert_eq!(t.send(as_other(&url)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(t.get(&url).await.status, StatusCode::OK);
}

//! Names in paths (and name-valued query parameters) resolve whether the client encoded them
//! once (qtool, Qlik's 2021 Python client) or twice (Qlik's 2018 client, shipped by the Michelin
//! role): every named route is called both ways, creates included.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::*;

/// Percent-encoded once, as qtool and Qlik's 2021 client send a name.
fn once(name: &str) -> String {
    utf8_percent_encode(name, NON_ALPHANUMERIC).to_string()
}

/// Percent-encoded twice, as Qlik's 2018 client (`quote(quote(name))`) sends a name.
fn twice(name: &str) -> String {
    once(&once(name))
}

type Encoding = (&'static str, fn(&str) -> String);
const ONCE: Encoding = ("once", once);
const TWICE: Encoding = ("twice", twice);
const ENCODINGS: [Encoding; 2] = [ONCE, TWICE];

const NEW_SERVER: &str = "My Sample Server";
const NEW_TASK: &str = "My Sample Task (é)";
const SEED_SERVER: &str = "Sandbox Replicate";
const SEED_TASK: &str = "Sales to Kafka";

fn names(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn server_body(description: &str) -> String {
    json!({"$type": "AemReplicateServer", "description": description,
        "host": "rep2.example.com", "port": 3552, "username": "DOM\\svc", "password": "pw1",
        "monitored": true, "verify_server_certificate": false})
    .to_string()
}

/// Asserts a 200 and returns the response, naming the call on failure.
fn ok(what: &str, r: Resp) -> Resp {
    assert_eq!(r.status, StatusCode::OK, "{what}: {:?}", r.json());
    r
}

#[tokio::test]
async fn server_routes_accept_both_encodings_and_create_the_decoded_name() {
    for (label, create) in ENCODINGS {
        let (_, c) = fresh().await;
        // PutServer (create): the object is named by the twice-decoded name.
        ok(
            label,
            c.put(
                &format!("/servers/{}/def", create(NEW_SERVER)),
                &server_body("new"),
            )
            .await,
        );
        let list = c.get("/servers").await.json();
        assert_eq!(
            names(&list, "serverList"),
            [SEED_SERVER, NEW_SERVER],
            "created {label}-encoded"
        );
        for (label, enc) in ENCODINGS {
            let s = enc(NEW_SERVER);
            // GetServer, GetServerDetails.
            let def = ok(label, c.get(&format!("/servers/{s}/def")).await).json();
            assert_eq!(def["name"], NEW_SERVER, "{label}");
            let details = ok(label, c.get(&format!("/servers/{s}")).await).json();
            assert_eq!(details["server_details"]["name"], NEW_SERVER, "{label}");
            // PutServer (update): the same object, no second server.
            ok(
                label,
                c.put(&format!("/servers/{s}/def"), &server_body(label))
                    .await,
            );
            let def = c
                .get(&format!("/servers/{}/def", once(NEW_SERVER)))
                .await
                .json();
            assert_eq!(def["description"], label);
            assert_eq!(
                names(&c.get("/servers").await.json(), "serverList").len(),
                2
            );
            // PutServerLicense.
            ok(
                label,
                c.put(
                    &format!("/servers/{s}/license/def"),
                    "license_type=Permanent\nexpiration_date=2099-01-01\nissue_date=2025-01-01\n",
                )
                .await,
            );
        }
        // ACLs: put one way, read and delete the other way.
        for ((put_label, put), (get_label, get)) in [(ONCE, TWICE), (TWICE, ONCE)] {
            let acl = json!({"admin_role": {"users": [{"name": format!("DOM\\{put_label}")}]}});
            ok(
                put_label,
                c.put(
                    &format!("/servers/{}?action=acl", put(NEW_SERVER)),
                    &acl.to_string(),
                )
                .await,
            );
            let got = ok(
                get_label,
                c.get(&format!("/servers/{}/?action=acl", get(NEW_SERVER)))
                    .await,
            )
            .json();
            assert_eq!(
                got["admin_role"]["users"][0]["name"],
                format!("DOM\\{put_label}")
            );
            ok(
                get_label,
                c.delete(&format!("/servers/{}?action=acl", get(NEW_SERVER)))
                    .await,
            );
            let r = c
                .get(&format!("/servers/{}?action=acl", put(NEW_SERVER)))
                .await;
            assert_eq!(r.code(), "AEM_SERVER_HAS_NO_ACL");
        }
        // ExportAll from the seed server, ImportAll into the new one, both ways.
        for (label, enc) in ENCODINGS {
            let all = ok(
                label,
                c.get(&format!("/servers/{}?action=export", enc(SEED_SERVER)))
                    .await,
            )
            .json();
            ok(
                label,
                c.post(
                    &format!("/servers/{}/?action=import", enc(NEW_SERVER)),
                    &all.to_string(),
                )
                .await,
            );
            let tasks = ok(
                label,
                c.get(&format!("/servers/{}/tasks", enc(NEW_SERVER))).await,
            )
            .json();
            assert_eq!(names(&tasks, "taskList").len(), 4, "{label}");
        }
        // DeleteServer.
        let (_, other) = ENCODINGS[usize::from(label == "once")];
        ok(
            label,
            c.delete(&format!("/servers/{}/def", other(NEW_SERVER)))
                .await,
        );
        let list = c.get("/servers").await.json();
        assert_eq!(names(&list, "serverList"), [SEED_SERVER]);
    }
}

/// ImportTask of the seed task's export under `name`, encoded by `enc`.
async fn import_copy(c: &Client, enc: fn(&str) -> String, name: &str) -> Resp {
    let export = c
        .get(&format!(
            "/servers/{}/tasks/{}?action=export&withendpoints=true",
            once(SEED_SERVER),
            once(SEED_TASK)
        ))
        .await
        .json();
    c.post(
        &format!(
            "/servers/{}/tasks/{}/?action=import",
            enc(SEED_SERVER),
            enc(name)
        ),
        &export.to_string(),
    )
    .await
}

#[tokio::test]
async fn task_routes_accept_both_encodings_and_import_creates_the_decoded_name() {
    for (label, create) in ENCODINGS {
        let (_, c) = fresh().await;
        ok(label, import_copy(&c, create, NEW_TASK).await);
        let list = c
            .get(&format!("/servers/{}/tasks", once(SEED_SERVER)))
            .await
            .json();
        let tasks = names(&list, "taskList");
        assert_eq!(
            tasks.iter().filter(|n| *n == NEW_TASK).count(),
            1,
            "created {label}-encoded: {tasks:?}"
        );
        assert_eq!(tasks.len(), 5, "{tasks:?}");
        // Importing again the other way updates the same task.
        let (_, other) = ENCODINGS[usize::from(label == "once")];
        ok(label, import_copy(&c, other, NEW_TASK).await);
        let list = c
            .get(&format!("/servers/{}/tasks", twice(SEED_SERVER)))
            .await
            .json();
        assert_eq!(names(&list, "taskList").len(), 5);
    }

    let (_, c) = fresh().await;
    ok("import", import_copy(&c, twice, NEW_TASK).await);
    // A table whose name has a space, for the name-valued `schema`/`table` of ReloadTable.
    let selection = json!({"included_pattern": [], "excluded_pattern": [],
        "explicit_included_tables": [{"owner": "SALES DATA", "name": "ORDER LINES"}]});
    for (label, enc) in ENCODINGS {
        let (s, t) = (enc(SEED_SERVER), enc(NEW_TASK));
        let base = format!("/servers/{s}/tasks/{t}");
        // GetTaskDetails, ExportTask.
        let d = ok(label, c.get(&base).await).json();
        assert_eq!(d["name"], NEW_TASK, "{label}");
        let e = ok(label, c.get(&format!("{base}?action=export")).await).json();
        assert_eq!(
            e["cmd.replication_definition"]["tasks"][0]["task"]["name"],
            NEW_TASK
        );
        // PutTaskTableSelection, GetTaskTableSelection, GetTableList, GetTableStatuses.
        ok(
            label,
            c.put(
                &format!("{base}/tables?action=selection"),
                &selection.to_string(),
            )
            .await,
        );
        let got = ok(
            label,
            c.get(&format!("{base}/tables?action=selection")).await,
        )
        .json();
        assert_eq!(got["explicit_included_tables"][0]["name"], "ORDER LINES");
        let tables = ok(label, c.get(&format!("{base}/tables")).await).json();
        assert_eq!(tables["tablelist"][0]["table"], "ORDER LINES");
        let statuses = ok(
            label,
            c.get(&format!("{base}/tables?action=getstatus")).await,
        )
        .json();
        assert_eq!(
            statuses["table_details"][0]["table_on_source"],
            "ORDER LINES"
        );
        // ReloadTable: `schema` and `table` are names, decoded like path names.
        ok(
            label,
            c.post_empty(&format!(
                "{base}/tables?action=reload&schema={}&table={}",
                enc("SALES DATA"),
                enc("ORDER LINES")
            ))
            .await,
        );
        // ResumeTable: the table is found (so "not suspended", not "not part of the task").
        let r = c
            .post_empty(&format!(
                "{base}/tables/?action=resume&schema={}&table={}",
                enc("SALES DATA"),
                enc("ORDER LINES")
            ))
            .await;
        assert_eq!(r.code(), "AEM_RESUME_TABLE_ERR");
        assert!(
            r.json()["error_message"]
                .as_str()
                .is_some_and(|m| m.contains("not suspended")),
            "{label}: {:?}",
            r.json()
        );
        // Retention barrier, DeleteOldChangeData.
        let barrier = json!({"retention_point": "2026-01-01T00:00:00Z", "application": label});
        ok(
            label,
            c.put(
                &format!("{base}?action=set_change_data_retention_barrier"),
                &barrier.to_string(),
            )
            .await,
        );
        let got = ok(
            label,
            c.get(&format!("{base}?action=get_change_data_retention_barrier"))
                .await,
        )
        .json();
        assert_eq!(got["application"], label);
        ok(
            label,
            c.post(
                &format!("{base}?action=delete_old_change_data"),
                r#"{"timestamp_or_offset": "2026-01-01T00:00:00Z"}"#,
            )
            .await,
        );
    }
    // RunTask and StopTask, each started one way and stopped the other.
    for ((run_label, run), (stop_label, stop)) in [(ONCE, TWICE), (TWICE, ONCE)] {
        let r = ok(
            run_label,
            c.post(
                &format!(
                    "/servers/{}/tasks/{}/?action=run&option=RESUME_PROCESSING&timeout=10",
                    run(SEED_SERVER),
                    run(NEW_TASK)
                ),
                r#"{"$type": "AemRunTaskReq", "cdcposition": null}"#,
            )
            .await,
        );
        assert_eq!(r.json()["state"], "RUNNING", "run {run_label}");
        let r = ok(
            stop_label,
            c.post_empty(&format!(
                "/servers/{}/tasks/{}?action=stop&timeout=10",
                stop(SEED_SERVER),
                stop(NEW_TASK)
            ))
            .await,
        );
        assert_eq!(r.json()["state"], "STOPPED", "stop {stop_label}");
    }
    // DeleteTask, one task each way.
    ok("import", import_copy(&c, once, "My Other Task").await);
    for ((label, enc), task) in ENCODINGS.into_iter().zip([NEW_TASK, "My Other Task"]) {
        ok(
            label,
            c.post_empty(&format!(
                "/servers/{}/tasks/{}/?action=delete&deletetasklogs=True",
                enc(SEED_SERVER),
                enc(task)
            ))
            .await,
        );
        let r = c
            .get(&format!(
                "/servers/{}/tasks/{}",
                once(SEED_SERVER),
                once(task)
            ))
            .await;
        assert_eq!(r.code(), "AEM_TASK_NOT_FOUND", "{label}");
    }
}

#[tokio::test]
async fn endpoint_routes_accept_both_encodings() {
    let (_, c) = fresh().await;
    // A second Oracle source with a spaced name, for ReconfigureEndpoint's `configuration`,
    // and two unused endpoints to delete: import a copy renaming the endpoints, then drop it.
    let mut export = c
        .get(&format!(
            "/servers/{}/tasks/{}?action=export&withendpoints=true",
            once(SEED_SERVER),
            once(SEED_TASK)
        ))
        .await
        .json();
    let text = export.to_string();
    let source = export["cmd.replication_definition"]["tasks"][0]["task"]["source_name"]
        .as_str()
        .unwrap()
        .to_string();
    let target = export["cmd.replication_definition"]["tasks"][0]["task"]["target_names"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(source, "Oracle Sales");
    export = serde_json::from_str(
        &text
            .replace(&format!("\"{source}\""), "\"Oracle Sales DR\"")
            .replace(&format!("\"{target}\""), "\"Kafka Events DR\""),
    )
    .unwrap();
    ok(
        "import",
        c.post(
            &format!(
                "/servers/{}/tasks/{}?action=import",
                twice(SEED_SERVER),
                twice("DR copy")
            ),
            &export.to_string(),
        )
        .await,
    );
    ok(
        "delete",
        c.post_empty(&format!(
            "/servers/{}/tasks/DR%2520copy?action=delete",
            once(SEED_SERVER)
        ))
        .await,
    );
    let list = c
        .get(&format!("/servers/{}/endpoints", once(SEED_SERVER)))
        .await
        .json();
    let endpoints = names(&list, "endpointList");
    assert!(
        endpoints.contains(&"Oracle Sales DR".to_string()),
        "{endpoints:?}"
    );
    assert!(
        endpoints.contains(&"Kafka Events DR".to_string()),
        "{endpoints:?}"
    );

    let patch = json!([{"op": "add", "path": "/description", "value": "patched"}]);
    for (label, enc) in ENCODINGS {
        let s = enc(SEED_SERVER);
        // GetEndpointList.
        let list = ok(label, c.get(&format!("/servers/{s}/endpoints")).await).json();
        assert_eq!(names(&list, "endpointList"), endpoints, "{label}");
        // TestEndpoint.
        let r = ok(
            label,
            c.get(&format!(
                "/servers/{s}/endpoints/{}/?action=test&timeout=60",
                enc("Oracle Sales")
            ))
            .await,
        );
        assert_eq!(r.json()["status"], "CONNECTED", "{label}");
        // PatchEndpoint.
        ok(
            label,
            c.req(
                Method::PATCH,
                &format!("/servers/{s}/endpoints/{}", enc("File Archive")),
                &patch.to_string(),
            )
            .await,
        );
        // ReconfigureEndpointNoWait: the endpoint in the path and the one in `configuration`.
        ok(
            label,
            c.put(
                &format!(
                    "/servers/{s}/endpoints/{}?action=reconfigure&configuration={}&recycle=false",
                    enc("Oracle Sales"),
                    enc("Oracle Sales DR")
                ),
                "",
            )
            .await,
        );
    }
    // DeleteEndpoint, one endpoint each way.
    for ((label, enc), endpoint) in ENCODINGS
        .into_iter()
        .zip(["Oracle Sales DR", "Kafka Events DR"])
    {
        ok(
            label,
            c.post_empty(&format!(
                "/servers/{}/endpoints/{}/?action=delete",
                enc(SEED_SERVER),
                enc(endpoint)
            ))
            .await,
        );
    }
    let list = c
        .get(&format!("/servers/{}/endpoints", once(SEED_SERVER)))
        .await
        .json();
    let left = names(&list, "endpointList");
    assert!(!left.iter().any(|e| e.ends_with(" DR")), "{left:?}");
}

/// The rule's price (docs/sandbox-qem.md): a name containing `%` and two hex digits round-trips
/// only when encoded twice; once-encoded it is decoded again into another name. A `%` without
/// two hex digits is safe both ways.
#[tokio::test]
async fn a_literal_percent_in_a_name() {
    let (_, c) = fresh().await;
    for name in ["100% Sure", "a%41b"] {
        ok(
            name,
            c.put(&format!("/servers/{}/def", twice(name)), &server_body(name))
                .await,
        );
        let def = ok(name, c.get(&format!("/servers/{}/def", twice(name))).await).json();
        assert_eq!(def["name"], name);
    }
    let list = c.get("/servers").await.json();
    assert_eq!(
        names(&list, "serverList"),
        [SEED_SERVER, "100% Sure", "a%41b"]
    );
    let def = ok(
        "100% once",
        c.get(&format!("/servers/{}/def", once("100% Sure"))).await,
    )
    .json();
    assert_eq!(def["name"], "100% Sure");
    // `a%2541b` is decoded twice into `aAb`: another (absent) server.
    let r = c.get(&format!("/servers/{}/def", once("a%41b"))).await;
    assert_eq!(r.code(), "AEM_SERVER_NOT_FOUND");
    assert!(
        r.json()["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("'aAb'")),
        "{:?}",
        r.json()
    );
}

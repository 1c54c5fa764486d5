//! Operations used as a library: typed options and a client in, data out, with no clap and no
//! argument parsing in between, against the real sandbox over loopback TLS. These pin the
//! contract the commands rely on (and that `qem apply` uses), so an operation can be reused
//! without its command.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use qtool::context::model::ServerType;
use qtool::error::ErrorClass;
use qtool::http::TlsOptions;
use qtool::qem::client::QemClient;
use qtool::qem::model::Role;
use qtool::qem::ops::server::{self as qem_server, Account};
use qtool::qem::ops::task::{self as qem_task, Removal, StartRequest, Until};
use qtool::qrs::client::QrsClient;
use qtool::qrs::ops::app::{self as app_ops, ExportOptions, ExportScope, FileNaming};
use qtool::qrs::ops::generic::{self as generic, Created, ListQuery, Patch};
use qtool::qrs::ops::task::{self as task_ops, TaskRef};
use qtool::qrs::resources::ResourceKind;
use qtool::session_cache::SessionCache;
use qtool::settings::{Auth, Target};
use serde_json::{Value, json};

use crate::support::Sandbox;

fn block_on<T>(fut: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(fut)
}

fn target(sandbox: &Sandbox, url: &str, server_type: ServerType, auth: Auth) -> Target {
    Target {
        context: None,
        server: reqwest::Url::parse(&sandbox.get(url)).expect("url"),
        server_type,
        auth,
        tls: TlsOptions {
            insecure: false,
            ca_cert: Some(PathBuf::from(sandbox.get("/ca_cert"))),
            client_cert: None,
            cert_password: None,
        },
        headers: Vec::new(),
        timeout: Duration::from_secs(30),
        retries: 2,
        max_response_size: qtool::settings::DEFAULT_MAX_RESPONSE_SIZE,
    }
}

fn secret_file(sandbox: &Sandbox, pointer: &str) -> String {
    std::fs::read_to_string(sandbox.get(pointer))
        .expect("secret file")
        .trim()
        .to_string()
}

fn qrs(sandbox: &Sandbox) -> QrsClient {
    let token = secret_file(sandbox, "/qseow/jwt/token_file");
    QrsClient::new(&target(
        sandbox,
        "/qseow/jwt_url",
        ServerType::Windows,
        Auth::Bearer(token),
    ))
    .expect("QRS client")
}

fn qem(sandbox: &Sandbox) -> QemClient {
    let auth = Auth::Password {
        user: sandbox.get("/qem/user"),
        password: secret_file(sandbox, "/qem/password_file"),
    };
    let target = target(sandbox, "/qem/url", ServerType::Qem, auth);
    // No cache directory: nothing is written outside the test's temp dirs.
    QemClient::new(target, SessionCache::default()).expect("QEM client")
}

#[test]
fn qrs_entity_operations_round_trip() {
    let sandbox = Sandbox::start(&["--seed", "apps=2,tasks=1"]);
    let client = qrs(&sandbox);
    let streams = ResourceKind::Stream;
    block_on(async {
        let Created::One(created) = generic::create(&client, streams, json!({"name": "ops one"}))
            .await
            .expect("create")
        else {
            panic!("one object creates one stream");
        };
        let id = created["id"].as_str().expect("id").to_string();

        let by_name = ListQuery {
            filter: generic::name_filter(streams, None, Some("ops one")).expect("filter"),
            ..ListQuery::default()
        };
        let listed = generic::list(&client, streams, &by_name)
            .await
            .expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(
            generic::count(&client, streams, by_name.filter.as_deref())
                .await
                .expect("count"),
            1
        );

        let patch = Patch {
            merge: Some(json!({"name": "ignored"})),
            set: vec![generic::parse_set("name=ops renamed").expect("set")],
        };
        let updated = generic::update(&client, streams, &id, patch)
            .await
            .expect("update");
        assert_eq!(updated["name"], "ops renamed");
        let read = generic::get(&client, streams, &id).await.expect("get");
        assert_eq!(read["name"], "ops renamed");
        assert_eq!(
            generic::id_or_name(&client, streams, "ops renamed")
                .await
                .expect("by name"),
            id
        );

        // Two streams with one name: a name no longer identifies one.
        let Created::Many(twins) = generic::create(
            &client,
            streams,
            json!([{"name": "ops twin"}, {"name": "ops twin"}]),
        )
        .await
        .expect("create many") else {
            panic!("an array creates many");
        };
        assert_eq!(twins.len(), 2);
        let err = generic::one_by_name(&client, streams, "ops twin")
            .await
            .expect_err("ambiguous");
        assert_eq!(err.class(), ErrorClass::Conflict);

        let ids: Vec<String> = twins
            .iter()
            .map(|t| t["id"].as_str().expect("id").to_string())
            .chain([id.clone()])
            .collect();
        for (id, result) in generic::delete_each(&client, streams, ids, 2).await {
            result.unwrap_or_else(|e| panic!("delete {id}: {e}"));
        }
        let err = generic::get(&client, streams, &id)
            .await
            .expect_err("deleted");
        assert_eq!(err.class(), ErrorClass::NotFound);

        let err = generic::create(&client, streams, json!("a string"))
            .await
            .expect_err("not an object");
        assert_eq!(err.class(), ErrorClass::Input);
    });
}

#[test]
fn qrs_app_export_writes_every_planned_file() {
    let sandbox = Sandbox::start(&["--seed", "apps=3,tasks=1"]);
    let client = qrs(&sandbox);
    let dir = tempfile::tempdir().expect("dir");
    let naming = FileNaming {
        out: None,
        dir: Some(dir.path().join("apps")),
        name_template: "{name}.qvf".into(),
    };
    let progress =
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
    block_on(async {
        let apps = app_ops::select(&client, None, None).await.expect("apps");
        assert_eq!(apps.len(), 3);
        let plan = app_ops::plan_files(&naming, apps).expect("plan");
        app_ops::prepare_targets(&plan, false).expect("targets");
        let opts = ExportOptions {
            skip_data: false,
            scope: ExportScope::Approved,
            concurrency: 2,
        };
        let results = app_ops::export(&client, plan, opts, &progress).await;
        assert_eq!(results.len(), 3);
        for (planned, result) in &results {
            let bytes = result.as_ref().expect("export");
            let on_disk = std::fs::metadata(&planned.path).expect("file").len();
            assert_eq!(*bytes, on_disk, "{}", planned.path.display());
            assert!(on_disk > 0);
        }
        // The same plan again: the files are there, and are not replaced without `overwrite`.
        let apps = app_ops::select(&client, None, None).await.expect("apps");
        let plan = app_ops::plan_files(&naming, apps).expect("plan");
        let err = app_ops::prepare_targets(&plan, false).expect_err("exists");
        assert_eq!(err.class(), ErrorClass::Conflict);

        let err = app_ops::select(&client, None, Some("name eq 'no such app'"))
            .await
            .expect_err("none");
        assert_eq!(err.class(), ErrorClass::NotFound);
    });
}

#[test]
fn qrs_task_start_then_wait_for_the_result() {
    let sandbox = Sandbox::start(&["--seed", "apps=1,tasks=1"]);
    let client = qrs(&sandbox);
    block_on(async {
        let tasks = generic::list(&client, ResourceKind::ReloadTask, &ListQuery::default())
            .await
            .expect("tasks");
        let name = tasks[0]["name"].as_str().expect("name").to_string();
        let started = task_ops::start(&client, &TaskRef::Name(name.clone()))
            .await
            .expect("start");
        assert_eq!(started.label, name);
        let result = task_ops::wait_for(
            &client,
            &started.session,
            Duration::from_secs(60),
            Duration::from_millis(200),
        )
        .await
        .expect("result");
        assert!(
            result.get("status").and_then(Value::as_i64).is_some(),
            "{result}"
        );

        let err = task_ops::start(&client, &TaskRef::Name("no such task".into()))
            .await
            .expect_err("unknown");
        assert_eq!(err.class(), ErrorClass::NotFound);
    });
}

#[test]
fn qem_task_operations_round_trip() {
    let sandbox = Sandbox::start(&["--seed", "apps=0,tasks=2"]);
    let client = qem(&sandbox);
    let dir = tempfile::tempdir().expect("dir");
    block_on(async {
        let listing = qem_task::list(&client, None).await.expect("list");
        assert!(listing.unreachable.is_empty());
        let first = &listing.tasks[0];
        let server = first["server"].as_str().expect("server").to_string();
        let task = first["name"].as_str().expect("name").to_string();

        let def = qem_task::export(&client, &server, &task, true)
            .await
            .expect("export");
        let copy = qem_task::import(&client, &server, def, Some("ops copy"), "test")
            .await
            .expect("import");
        assert_eq!(copy, "ops copy");
        let status = qem_task::status(&client, &server, &copy)
            .await
            .expect("status");
        assert_eq!(status["name"], "ops copy");

        let start = StartRequest::new("resume-processing", None, None, Duration::from_secs(30))
            .expect("request");
        qem_task::start(&client, &server, &copy, &start)
            .await
            .expect("start");
        let state = qem_task::wait(
            &client,
            &server,
            &copy,
            Until::Running,
            Duration::from_secs(30),
        )
        .await
        .expect("running");
        assert_eq!(state, "RUNNING");
        let how = Removal {
            force_stop: true,
            delete_logs: true,
            timeout: Duration::from_secs(30),
        };
        qem_task::delete(&client, &server, &copy, how)
            .await
            .expect("delete a running task with force_stop");
        let err = qem_task::export(&client, &server, &copy, false)
            .await
            .expect_err("deleted");
        assert_eq!(err.class(), ErrorClass::NotFound);

        let written = qem_task::export_all(&client, &server, dir.path(), false, 4)
            .await
            .expect("export all");
        let on_server = qem_task::list(&client, Some(&server)).await.expect("list");
        assert_eq!(written.len(), on_server.tasks.len());
        for (_, path) in &written {
            let text = std::fs::read_to_string(path).expect("file");
            assert!(
                text.contains("cmd.replication_definition"),
                "{}",
                path.display()
            );
        }
    });
}

#[test]
fn qem_acl_grant_is_idempotent_and_revoke_counts() {
    let sandbox = Sandbox::start(&["--seed", "apps=0,tasks=1"]);
    let client = qem(&sandbox);
    block_on(async {
        let servers = qem_server::list(&client).await.expect("servers");
        let server = servers[0]["name"].as_str().expect("name").to_string();
        assert!(servers[0]["kind"].is_string());
        let who = Account::from_flags(Some("SANDBOX\\ops"), None).expect("a user");
        assert!(
            qem_server::grant(&client, &server, Role::Viewer, &who)
                .await
                .expect("grant")
        );
        assert!(
            !qem_server::grant(&client, &server, Role::Viewer, &who)
                .await
                .expect("grant again")
        );
        let acl = qem_server::acl(&client, &server).await.expect("acl");
        assert_eq!(acl["viewer_role"]["users"][0]["name"], "SANDBOX\\ops");
        assert_eq!(
            qem_server::revoke(&client, &server, None, &who)
                .await
                .expect("revoke"),
            1
        );
        assert_eq!(
            qem_server::revoke(&client, &server, None, &who)
                .await
                .expect("revoke again"),
            0
        );
    });
}

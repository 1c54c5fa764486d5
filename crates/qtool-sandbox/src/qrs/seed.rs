//! A fresh repository: the central node and its services, service accounts and a few users,
//! streams, tags, a custom property, `seed_apps` apps (half published, some tagged), `seed_tasks`
//! reload tasks with triggers and past results, data connections, extensions, a content
//! library, security rules, a user directory and the configured virtual proxies.

use serde_json::{Value, json};

use super::store::{Store, format_ms, now_ms};
use super::types::type_def;
use super::{QrsState, proxy_entity_fields, tasks};
use crate::error::{Error, Result};
use crate::qrs::spec;

pub const NODE_NAME: &str = "Central";
const SYSTEM: &str = "INTERNAL\\sa_repository";
/// Seeded apps that get a real file right away (the others get one lazily).
const APPS_WITH_FILES: usize = 3;

/// Insert an entity of `ty` built from `body`, created at `at` (Unix ms). Returns its id.
fn add(s: &mut Store, ty: &'static str, body: Value, at: i128) -> String {
    let (Some(td), Value::Object(body)) = (type_def(ty), body) else {
        return String::new();
    };
    let mut e = s.new_entity(td, &body, SYSTEM);
    tasks::on_create(s, td, &mut e);
    let when = format_ms(at);
    e.insert("createdDate".into(), json!(when));
    e.insert("modifiedDate".into(), json!(when));
    s.put(ty, &e);
    e.get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The central node and its service statuses; returns the node id.
pub fn seed_node(st: &QrsState) -> String {
    st.mutate(|s| {
        let at = now_ms() - 90 * 86_400_000;
        let node = add(
            s,
            "servernodeconfiguration",
            json!({
                "name": NODE_NAME, "hostName": "localhost", "isCentral": true,
                "temporaryfilepath": "C:\\Windows\\TEMP\\",
                "serviceCluster": {"id": super::store::new_id(), "privileges": null, "name": "ServiceCluster"},
            }),
            at,
        );
        for ty in 0..spec::SERVICE_TYPE.len() {
            add(
                s,
                "servicestatus",
                json!({
                    "serverNodeConfiguration": {"id": node}, "serviceType": ty,
                    "serviceState": 2, "timestamp": format_ms(now_ms()),
                }),
                at,
            );
        }
        node
    })
}

const AREAS: &[&str] = &[
    "Sales",
    "Finance",
    "Operations",
    "HR",
    "Marketing",
    "Supply Chain",
    "Customer Service",
    "Procurement",
    "Inventory",
    "Executive",
];
const TOPICS: &[&str] = &[
    "Dashboard",
    "Analysis",
    "Forecast",
    "KPI Monitor",
    "Budget",
    "Pipeline",
    "Scorecard",
    "Report",
    "Overview",
    "Trends",
    "Planning",
    "Explorer",
];

fn app_name(i: usize) -> String {
    let combos = AREAS.len() * TOPICS.len();
    let base = format!(
        "{} {}",
        AREAS[i % AREAS.len()],
        TOPICS[(i / AREAS.len()) % TOPICS.len()]
    );
    if i < combos {
        base
    } else {
        format!("{base} {}", i / combos + 1)
    }
}

/// Deterministic pseudo-random number for seed index `i`.
fn mix(i: usize) -> u64 {
    let mut x = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

pub fn seed(st: &QrsState) -> Result<()> {
    let cfg = st.config().clone();
    let now = now_ms();
    let day = 86_400_000i128;
    let mut files: Vec<String> = Vec::new();
    st.mutate(|s| {
        let t0 = now - 90 * day;
        // users
        let mut users = Vec::new();
        for (dir, id, name, roles) in [
            ("INTERNAL", "sa_repository", "sa_repository", json!([])),
            ("INTERNAL", "sa_api", "sa_api", json!(["RootAdmin"])),
            ("INTERNAL", "sa_scheduler", "sa_scheduler", json!([])),
            ("SANDBOX", "admin", "Sandbox Admin", json!(["RootAdmin"])),
            ("SANDBOX", "alice", "Alice Andersson", json!(["ContentAdmin"])),
            ("SANDBOX", "bob", "Bob Brown", json!([])),
            ("SANDBOX", "carol", "Carol Chen", json!([])),
            ("SANDBOX", "dave", "Dave Dubois", json!([])),
        ] {
            users.push(add(
                s,
                "user",
                json!({"userId": id, "userDirectory": dir, "name": name, "roles": roles,
                       "deleteProhibited": dir == "INTERNAL"}),
                t0,
            ));
        }
        // Licence allocations: the admins are professionals, the other people analyzers.
        for (k, user) in users.iter().enumerate().skip(3) {
            let ty = if k <= 4 {
                super::license::PROFESSIONAL
            } else {
                super::license::ANALYZER
            };
            let last_used = if k % 2 == 0 {
                format_ms(now - (k as i128) * 3_600_000)
            } else {
                spec::NEVER_DATE.to_string()
            };
            add(s, ty, json!({"user": {"id": user}, "lastUsed": last_used}), t0);
        }
        let owners: Vec<String> = users.iter().skip(3).cloned().collect();
        let admin = owners.first().cloned().unwrap_or_default();
        // tags, custom properties
        let tags: Vec<String> = ["Production", "Certified", "Finance", "Deprecated", "Sandbox"]
            .iter()
            .map(|n| add(s, "tag", json!({ "name": n }), t0))
            .collect();
        let dept = add(
            s,
            "custompropertydefinition",
            json!({
                "name": "Department", "valueType": "Text",
                "choiceValues": ["Sales", "Finance", "Operations", "HR"],
                "objectTypes": ["App", "Stream", "ReloadTask"],
                "description": "Owning department",
            }),
            t0,
        );
        // streams
        let streams: Vec<String> = ["Everyone", "Monitoring apps", "Sales", "Finance", "Operations"]
            .iter()
            .map(|n| add(s, "stream", json!({ "name": n, "owner": {"id": admin} }), t0))
            .collect();
        let publish_to = [&streams[0], &streams[2], &streams[3], &streams[4]];
        // apps
        let mut app_ids = Vec::with_capacity(cfg.seed_apps);
        for i in 0..cfg.seed_apps {
            let r = mix(i);
            let created = t0 + (i as i128 * 60_000) % (80 * day);
            let mut app_tags = Vec::new();
            if i % 3 == 0 {
                app_tags.push(json!({"id": tags[0]}));
            }
            if i % 5 == 0 {
                app_tags.push(json!({"id": tags[1]}));
            }
            if i % AREAS.len() == 1 {
                app_tags.push(json!({"id": tags[2]}));
            }
            let size = 900_000 + r % 600_000;
            let mut body = json!({
                "name": app_name(i),
                "owner": {"id": owners[i % owners.len()]},
                "description": format!("{} app for the {} team", TOPICS[(i / AREAS.len()) % TOPICS.len()], AREAS[i % AREAS.len()]),
                "tags": app_tags,
                "fileSize": size,
                "lastReloadTime": format_ms(created + day),
            });
            if i % 2 == 0 {
                body["published"] = json!(true);
                body["publishTime"] = json!(format_ms(created + 3_600_000));
                body["stream"] = json!({"id": publish_to[(i / 2) % publish_to.len()]});
            }
            if i % 4 == 0 {
                let value = ["Sales", "Finance", "Operations", "HR"][(i / 4) % 4];
                body["customProperties"] = json!([{
                    "value": value,
                    "definition": {"id": dept},
                }]);
            }
            let id = add(s, "app", body, created);
            if i < super::objects::MAX_SEEDED_APPS {
                let items = seeded_items(s, &id, cfg.seed_objects);
                super::objects::seed_for_app(s, &id, i, SYSTEM, &items);
            }
            if i < APPS_WITH_FILES {
                files.push(id.clone());
            }
            app_ids.push(id);
        }
        // reload tasks, triggers, past results
        let mut task_ids: Vec<String> = Vec::new();
        for i in 0..cfg.seed_tasks {
            if app_ids.is_empty() {
                break;
            }
            let app = &app_ids[i % app_ids.len()];
            let created = t0 + i as i128 * 120_000;
            let task = add(
                s,
                "reloadtask",
                json!({"name": format!("Reload {}", app_name(i % app_ids.len())), "app": {"id": app},
                       "maxRetries": i % 3, "tags": if i % 4 == 0 { json!([{"id": tags[0]}]) } else { json!([]) }}),
                created,
            );
            if i % 2 == 0 {
                add(
                    s,
                    "schemaevent",
                    json!({
                        "name": "Daily", "reloadTask": {"id": task}, "timeZone": "Europe/Stockholm",
                        "startDate": format_ms(t0 + 2 * 3_600_000 + (i as i128 % 60) * 60_000),
                        "incrementOption": 2, "incrementDescription": "0 0 1 0",
                    }),
                    created,
                );
            } else if let Some(prev) = task_ids.last() {
                add(
                    s,
                    "compositeevent",
                    json!({
                        "name": "After previous task", "reloadTask": {"id": task},
                        "timeConstraint": {"days": 0, "hours": 0, "minutes": 360, "seconds": 0},
                        "compositeRules": [{"ruleState": 1, "reloadTask": {"id": prev}}],
                    }),
                    created,
                );
            }
            if i % 3 != 2 {
                let status = if i % 10 == 7 {
                    spec::task_status::FINISHED_FAIL
                } else {
                    spec::task_status::FINISHED_SUCCESS
                };
                let start = now - day + i as i128 * 1000;
                let duration = 20_000 + (mix(i) % 100_000) as i128;
                let mut details = vec![json!({"id": super::store::new_id(), "privileges": null, "detailsType": 2,
                    "message": "Changing task state from NeverStarted to Triggered", "detailCreatedDate": format_ms(start)})];
                if status == spec::task_status::FINISHED_FAIL {
                    details.push(json!({"id": super::store::new_id(), "privileges": null, "detailsType": 0,
                        "message": "Task finished with error: the data source did not respond", "detailCreatedDate": format_ms(start + duration)}));
                }
                let rid = add(
                    s,
                    "executionresult",
                    json!({
                        "taskID": task, "executionID": super::store::new_id(), "appID": app,
                        "executingNodeID": st.node_id(), "executingNodeName": NODE_NAME,
                        "status": status, "startTime": format_ms(start),
                        "stopTime": format_ms(start + duration), "duration": duration as i64,
                        "scriptLogAvailable": true, "details": details,
                    }),
                    start + duration,
                );
                if let Some(mut r) = s.get("executionresult", &rid) {
                    super::scriptlog::attach_log(&mut r);
                    s.put("executionresult", &r);
                }
                if let (Some(r), Some(mut t), Some(rtd)) = (
                    s.get("executionresult", &rid),
                    s.get("reloadtask", &task),
                    type_def("executionresult"),
                ) {
                    let mut c = super::render::project(&r, super::types::condensed_fields(rtd));
                    c.insert("privileges".into(), Value::Null);
                    if let Some(Value::Object(op)) = t.get_mut("operational") {
                        op.insert("lastExecutionResult".into(), Value::Object(c));
                    }
                    s.put("reloadtask", &t);
                }
            }
            task_ids.push(task);
        }
        // data connections, extensions, content library, rules, user directory
        for (name, cs, ty) in [
            ("ServerLogFolder", "C:\\ProgramData\\Qlik\\Sense\\Log\\", "folder"),
            ("ArchivedLogsFolder", "\\\\fileserver\\QlikShare\\ArchivedLogs\\", "folder"),
            ("Sales DB", "ODBC CONNECT TO [SalesDW]", "ODBC"),
        ] {
            add(s, "dataconnection", json!({"name": name, "connectionstring": cs, "type": ty, "owner": {"id": admin}}), t0);
        }
        for name in ["sandbox-kpi-card", "sandbox-map"] {
            add(s, "extension", json!({"name": name, "owner": {"id": admin}}), t0);
        }
        add(s, "contentlibrary", json!({"name": "Default", "type": "Default", "owner": {"id": admin}}), t0);
        for (name, rule, filter, actions) in [
            ("Stream", "((user.roles=\"RootAdmin\"))", "Stream_*", 2),
            ("Owner", "resource.IsOwned() and resource.owner = user", "*", 127),
            ("ContentAdmin", "user.roles=\"ContentAdmin\"", "App*,Stream_*", 127),
        ] {
            add(s, "systemrule", json!({"name": name, "rule": rule, "resourceFilter": filter, "actions": actions, "type": "Default", "seedId": super::store::new_id()}), t0);
        }
        add(s, "userdirectory", json!({"name": "SANDBOX", "userDirectoryName": "SANDBOX"}), t0);
        // virtual proxies
        for p in &cfg.virtual_proxies {
            add(s, "virtualproxyconfig", Value::Object(proxy_entity_fields(p)), t0);
        }
        s.reset_clock();
    });
    for id in files {
        write_seeded_file(st, &id)?;
    }
    Ok(())
}

/// The repository objects of a seeded app's engine content.
fn seeded_items(s: &Store, id: &str, objects: usize) -> Vec<super::objects::EngineItem> {
    let Some(app) = s.get("app", id) else {
        return Vec::new();
    };
    let text = |k: &str| {
        app.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let doc = crate::engine::qvf::seeded_content(&crate::engine::qvf::SeedApp {
        id,
        name: &text("name"),
        description: &text("description"),
        file_size: 0,
        objects,
        last_reload_time: &text("lastReloadTime"),
    });
    crate::engine::qvf::repository_items(&doc)
}

/// The file of a seeded app: a sandbox engine app (script, sheets, library) of its `fileSize`.
fn write_seeded_file(st: &QrsState, id: &str) -> Result<()> {
    let Some(app) = st.read().get("app", id) else {
        return Ok(());
    };
    let text = |k: &str| {
        app.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let path = st.app_file(id);
    let size = app.get("fileSize").and_then(Value::as_u64).unwrap_or(0);
    let written = crate::engine::qvf::write_seeded(
        &path,
        &crate::engine::qvf::SeedApp {
            id,
            name: &text("name"),
            description: &text("description"),
            file_size: size,
            objects: st.config().seed_objects,
            last_reload_time: &text("lastReloadTime"),
        },
    )
    .map_err(|e| Error::io(path.display(), e))?;
    if written != size {
        st.mutate(|s| {
            if let Some(mut a) = s.get("app", id) {
                a.insert("fileSize".into(), json!(written));
                s.put("app", &a);
            }
        });
    }
    Ok(())
}

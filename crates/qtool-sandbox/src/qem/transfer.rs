//! ExportTask / ImportTask / ExportAll / ImportAll (§5.7, format §9).
//!
//! - Exports carry `name` (`<task>__YYYY-MM-DD--HH-MM-SS-ffffff`), `cmd.replication_definition`
//!   (`tasks[]`, plus `databases[]` with `withendpoints=true`), `_version` (the server's version,
//!   ints) and `description` (`Host name: …, Time: …`). Every secret (`password`, `*secret*`,
//!   `*token`) becomes a `{Z…}` string with a fresh nonce, so two exports never match byte for
//!   byte. GAP: without `withendpoints` the `databases` key is omitted.
//! - Imports accept a leading `// Host name…` comment line and a UTF-8 BOM; `{Z…}` values this
//!   sandbox exported are decrypted, other `{Z…}` values are kept verbatim (as if the source
//!   server's master key were unknown). Merge semantics: objects merge key by key, arrays of
//!   objects with a `name` (and `owner`) merge by that identity, other values are replaced;
//!   nothing absent from the body is removed. An endpoint whose `type_id` changes is replaced.
//! - GAP (ImportTask name): the URL task name is authoritative. The imported entry is the
//!   `tasks[]` entry whose `task.name` equals the URL name, else `tasks[0]`; it is stored under
//!   the URL name with `task.name` rewritten. Other `tasks[]` entries are ignored.
//! - GAP: importing over a task that is not STOPPED/ERROR is `AEM_TASK_NOT_STOPPED` (the Qlik
//!   sample stops the task first). A task referencing an endpoint that is neither in
//!   `databases[]` nor on the server is `AEM_ENDPOINT_NOT_FOUND`.
//! - ImportAll imports every `tasks[]` entry under its own `task.name`, every `databases[]`
//!   entry, and merges any other `cmd.replication_definition` section into the server settings.

use axum::response::Response;
use serde_json::{Map, Value, json};

use super::api::{ApiError, ApiResult, empty_ok, json_ok};
use super::audit::{self, Entry};
use super::model::{Endpoint, Server, Task};
use super::routes::Ctx;
use super::secrets;
use super::servers;
use super::tasks::find_task;
use super::util;
use crate::qem::spec::{self, code};

const T: &str = "ReplicationDefinition";
const RD: &str = "cmd.replication_definition";

fn version_json(version: &str) -> Value {
    let part = |i: usize| {
        version
            .split('.')
            .nth(i)
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(0)
    };
    json!({
        "version": version,
        "version_major": part(0),
        "version_minor": part(1),
        "version_revision": part(3),
    })
}

fn envelope(server: &Server, label: &str, rd: Map<String, Value>) -> Value {
    let now = util::now();
    let time = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.microsecond()
    );
    // The name's stamp is the same time with file-name-safe separators.
    let stamp = time.replace(' ', "--").replace([':', '.'], "-");
    json!({
        "name": format!("{label}__{stamp}"),
        RD: Value::Object(rd),
        "_version": version_json(&server.version),
        "description": format!("Host name: {}, Time: {time}", server.host),
    })
}

pub(super) fn export_task(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    let with_endpoints = ctx.params.bool("withendpoints", false)?;
    let inner = ctx.state.lock();
    let s = servers::connected(&inner.store, server)?;
    let t = find_task(s, task)?;
    let mut rd = Map::new();
    rd.insert("tasks".into(), json!([t.definition]));
    if with_endpoints {
        let dbs: Vec<Value> = t
            .endpoint_names()
            .iter()
            .filter_map(|n| s.endpoint(n))
            .map(|e| Value::Object(e.definition.clone()))
            .collect();
        rd.insert("databases".into(), Value::Array(dbs));
    }
    let mut doc = envelope(s, task, rd);
    drop(inner);
    secrets::encrypt_tree(&ctx.state.master_key, &mut doc);
    Ok(json_ok(&doc))
}

pub(super) fn export_all(ctx: &Ctx, server: &str) -> ApiResult<Response> {
    let inner = ctx.state.lock();
    let s = servers::connected(&inner.store, server)?;
    let mut rd = Map::new();
    rd.insert(
        "tasks".into(),
        Value::Array(s.tasks.iter().map(|t| t.definition.clone()).collect()),
    );
    rd.insert(
        "databases".into(),
        Value::Array(
            s.endpoints
                .iter()
                .map(|e| Value::Object(e.definition.clone()))
                .collect(),
        ),
    );
    for (k, v) in &s.settings {
        rd.insert(k.clone(), v.clone());
    }
    let mut doc = envelope(s, server, rd);
    drop(inner);
    secrets::encrypt_tree(&ctx.state.master_key, &mut doc);
    Ok(json_ok(&doc))
}

/// Parse an export: strip a BOM and leading `//` comment lines.
fn parse_document(text: &str) -> ApiResult<Map<String, Value>> {
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    while rest.starts_with("//") {
        rest = rest
            .split_once('\n')
            .map(|(_, r)| r)
            .unwrap_or("")
            .trim_start();
    }
    match serde_json::from_str::<Value>(rest) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::deserialize(T, "expected a JSON object")),
        Err(e) => Err(ApiError::deserialize(T, e)),
    }
}

struct Parsed {
    tasks: Vec<Value>,
    databases: Vec<Map<String, Value>>,
    others: Map<String, Value>,
}

fn parse_rd(master_key: &[u8; 32], text: &str) -> ApiResult<Parsed> {
    let mut doc = parse_document(text)?;
    let Some(Value::Object(mut rd)) = doc.remove(RD) else {
        return Err(ApiError::deserialize(
            T,
            format!("'{RD}' (an object) is required"),
        ));
    };
    let tasks = match rd.remove("tasks") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(ApiError::deserialize(T, "'tasks' must be an array")),
    };
    for entry in &tasks {
        check_task_entry(entry)?;
    }
    let databases = match rd.remove("databases") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .into_iter()
            .map(|mut db| {
                secrets::decrypt_tree(master_key, &mut db);
                check_endpoint_entry(db)
            })
            .collect::<ApiResult<Vec<_>>>()?,
        Some(_) => return Err(ApiError::deserialize(T, "'databases' must be an array")),
    };
    let mut tasks = tasks;
    for t in &mut tasks {
        secrets::decrypt_tree(master_key, t);
    }
    Ok(Parsed {
        tasks,
        databases,
        others: rd,
    })
}

fn check_task_entry(entry: &Value) -> ApiResult<()> {
    let task = entry
        .get("task")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::deserialize(T, "every tasks[] entry needs a 'task' object"))?;
    if task
        .get("source_name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(ApiError::deserialize(T, "'task.source_name' is required"));
    }
    let targets_ok = task
        .get("target_names")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            !a.is_empty() && a.iter().all(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        });
    if !targets_ok {
        return Err(ApiError::deserialize(
            T,
            "'task.target_names' must be a non-empty array of endpoint names",
        ));
    }
    Ok(())
}

fn check_endpoint_entry(db: Value) -> ApiResult<Map<String, Value>> {
    let Value::Object(map) = db else {
        return Err(ApiError::deserialize(
            T,
            "every databases[] entry must be an object",
        ));
    };
    let text = |k: &str| {
        map.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    if text("name").is_empty() {
        return Err(ApiError::deserialize(
            T,
            "every databases[] entry needs a 'name'",
        ));
    }
    if !spec::ENDPOINT_ROLES.contains(&text("role").as_str()) {
        return Err(ApiError::deserialize(
            T,
            format!(
                "endpoint '{}': 'role' must be one of {}",
                text("name"),
                spec::ENDPOINT_ROLES.join(", ")
            ),
        ));
    }
    if text("type_id").is_empty() {
        return Err(ApiError::deserialize(
            T,
            format!("endpoint '{}' needs a 'type_id'", text("name")),
        ));
    }
    if map.get("db_settings").is_some_and(|v| !v.is_object()) {
        return Err(ApiError::deserialize(
            T,
            format!(
                "endpoint '{}': 'db_settings' must be an object",
                text("name")
            ),
        ));
    }
    Ok(map)
}

fn identity(v: &Value) -> Option<(Option<&str>, &str)> {
    let m = v.as_object()?;
    Some((
        m.get("owner").and_then(Value::as_str),
        m.get("name").and_then(Value::as_str)?,
    ))
}

/// Merge `from` into `into` (import merge semantics).
pub(super) fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b))
            if !b.is_empty()
                && a.iter().all(|x| identity(x).is_some())
                && b.iter().all(|x| identity(x).is_some()) =>
        {
            for item in b {
                let pos = a.iter().position(|x| identity(x) == identity(&item));
                match pos {
                    Some(i) => merge(&mut a[i], item),
                    None => a.push(item),
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Upsert endpoints into a copy of the server's list.
fn merged_endpoints(existing: &[Endpoint], incoming: Vec<Map<String, Value>>) -> Vec<Endpoint> {
    let mut out = existing.to_vec();
    for db in incoming {
        let name = db
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match out.iter_mut().find(|e| e.name() == name) {
            Some(e) if e.definition.get("type_id") == db.get("type_id") => {
                let mut v = Value::Object(std::mem::take(&mut e.definition));
                merge(&mut v, Value::Object(db));
                if let Value::Object(m) = v {
                    e.definition = m;
                }
            }
            Some(e) => e.definition = db,
            None => out.push(Endpoint { definition: db }),
        }
    }
    out
}

fn check_references(
    server: &str,
    endpoints: &[Endpoint],
    entries: &[(String, Value)],
) -> ApiResult<()> {
    for (_, entry) in entries {
        let probe = Task::new_stopped("", entry.clone());
        for name in probe.endpoint_names() {
            if !endpoints.iter().any(|e| e.name() == name) {
                return Err(ApiError::endpoint_not_found(server, &name));
            }
        }
    }
    Ok(())
}

fn check_stopped(s: &Server, names: &[(String, Value)]) -> ApiResult<()> {
    for (name, _) in names {
        if let Some(t) = s.task(name)
            && !t.is_stopped()
        {
            return Err(ApiError::aem(
                code::TASK_NOT_STOPPED,
                format!(
                    "Task '{name}' is {}; stop it before importing over it",
                    t.state
                ),
            ));
        }
    }
    Ok(())
}

fn upsert_tasks(s: &mut Server, entries: Vec<(String, Value)>) {
    for (name, mut entry) in entries {
        if let Some(task) = entry.get_mut("task").and_then(Value::as_object_mut) {
            task.insert("name".into(), json!(name));
        }
        match s.task_mut(&name) {
            Some(t) => merge(&mut t.definition, entry),
            None => s.tasks.push(Task::new_stopped(&name, entry)),
        }
    }
}

pub(super) fn import_task(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    let parsed = parse_rd(&ctx.state.master_key, ctx.body_text()?)?;
    let Parsed {
        mut tasks,
        databases,
        ..
    } = parsed;
    if tasks.is_empty() {
        return Err(ApiError::deserialize(
            T,
            "'tasks' must hold the task to import",
        ));
    }
    let pick = tasks
        .iter()
        .position(|t| t.pointer("/task/name").and_then(Value::as_str) == Some(task))
        .unwrap_or(0);
    let entry = tasks.swap_remove(pick);
    let db_count = databases.len();
    ctx.state.mutate(|inner| {
        let s = servers::connected_mut(&mut inner.store, server)?;
        let entries = vec![(task.to_string(), entry)];
        check_stopped(s, &entries)?;
        let endpoints = merged_endpoints(&s.endpoints, databases);
        check_references(server, &endpoints, &entries)?;
        let created = s.task(task).is_none();
        s.endpoints = endpoints;
        upsert_tasks(s, entries);
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "ImportTask",
                server: Some(server),
                task: Some(task),
                endpoint: None,
                details: format!(
                    "task {} with {db_count} endpoint definition(s)",
                    if created { "created" } else { "updated" }
                ),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

pub(super) fn import_all(ctx: &Ctx, server: &str) -> ApiResult<Response> {
    let parsed = parse_rd(&ctx.state.master_key, ctx.body_text()?)?;
    let mut entries = Vec::with_capacity(parsed.tasks.len());
    for entry in parsed.tasks {
        let name = entry
            .pointer("/task/name")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
            .map(str::to_string)
            .ok_or_else(|| ApiError::deserialize(T, "every tasks[] entry needs 'task.name'"))?;
        entries.push((name, entry));
    }
    let (task_count, db_count) = (entries.len(), parsed.databases.len());
    let others = parsed.others;
    ctx.state.mutate(|inner| {
        let s = servers::connected_mut(&mut inner.store, server)?;
        check_stopped(s, &entries)?;
        let endpoints = merged_endpoints(&s.endpoints, parsed.databases);
        check_references(server, &endpoints, &entries)?;
        s.endpoints = endpoints;
        upsert_tasks(s, entries);
        let mut settings = Value::Object(std::mem::take(&mut s.settings));
        merge(&mut settings, Value::Object(others));
        if let Value::Object(m) = settings {
            s.settings = m;
        }
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "ImportAll",
                server: Some(server),
                task: None,
                endpoint: None,
                details: format!("{task_count} task(s), {db_count} endpoint(s)"),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_absent_items_and_merges_by_name() {
        let mut a = json!({"x": 1, "t": [{"owner": "s", "name": "a", "n": 1}], "k": [1, 2]});
        merge(
            &mut a,
            json!({"y": 2, "t": [{"owner": "s", "name": "b"}, {"owner": "s", "name": "a", "n": 2}], "k": [3]}),
        );
        assert_eq!(
            a,
            json!({"x": 1, "t": [{"owner": "s", "name": "a", "n": 2}, {"owner": "s", "name": "b"}], "k": [3], "y": 2})
        );
    }

    #[test]
    fn comment_line_is_stripped() {
        let doc = parse_document("// Host name: x, Time: y\r\n{\"a\": 1}").unwrap();
        assert_eq!(doc.get("a"), Some(&json!(1)));
        assert!(parse_document("{").is_err());
    }
}

//! Servers (§5.1) and their ACLs (§5.2).
//!
//! - Server `state` is MONITORED, NOT_MONITORED (`monitored: false`) or ERROR: the sandbox treats
//!   hosts ending in `.invalid` as unreachable, so clients can exercise AEM_SERVER_NOT_CONNECTED.
//! - GAP (PutServer): the URL name is authoritative; a different `name` in the body is ignored.
//!   A `password` equal to a placeholder this session got from GetServer keeps the stored
//!   password; a placeholder issued to another session is refused with `AEM_INVALID_PASSWORD`
//!   (the doc says it "throws", without a code).
//! - GAP: new servers start with no tasks/endpoints and NO_LICENSE; `port` defaults to 443.
//! - GetServer/GetServerList/GetServerDetails also carry `type` (REPLICATE|COMPOSE): the 2021
//!   Python client indexes `ServerType[self.type]` and fails without it.

use axum::response::Response;
use serde_json::{Map, Value, json};

use super::api::{ApiError, ApiResult, empty_ok, json_ok};
use super::audit::{self, Entry};
use super::model::{Acl, License, Role, Server, ServerKind, Store};
use super::routes::Ctx;
use super::seed::REPLICATE_VERSION;
use super::{Placeholder, util};
use crate::qem::spec::{self, code};

const COMPOSE_VERSION: &str = "2023.11.0.471";

pub(super) fn find<'a>(store: &'a Store, name: &str) -> ApiResult<&'a Server> {
    store
        .servers
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::server_not_found(name))
}

pub(super) fn find_mut<'a>(store: &'a mut Store, name: &str) -> ApiResult<&'a mut Server> {
    store
        .servers
        .iter_mut()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::server_not_found(name))
}

/// The server must be monitored and reachable for task/endpoint calls.
pub(super) fn check_connected(server: &Server) -> ApiResult<()> {
    if !server.monitored {
        return Err(ApiError::aem(
            code::SERVER_NOT_MONITORED,
            format!(
                "Server '{}' is not monitored; its information is not accessible",
                server.name
            ),
        ));
    }
    if server.unreachable() {
        return Err(ApiError::aem(
            code::SERVER_NOT_CONNECTED,
            format!(
                "Server '{}' is not connected. Message: {}",
                server.name,
                server.message()
            ),
        ));
    }
    Ok(())
}

pub(super) fn connected<'a>(store: &'a Store, name: &str) -> ApiResult<&'a Server> {
    let server = find(store, name)?;
    check_connected(server)?;
    Ok(server)
}

pub(super) fn connected_mut<'a>(store: &'a mut Store, name: &str) -> ApiResult<&'a mut Server> {
    let server = find_mut(store, name)?;
    check_connected(server)?;
    Ok(server)
}

fn last_connection(server: &Server) -> String {
    if server.state() == "MONITORED" {
        util::iso(util::now())
    } else {
        server.last_connection.clone().unwrap_or_default()
    }
}

pub(super) fn list(ctx: &Ctx) -> ApiResult<Response> {
    let inner = ctx.state.lock();
    let items: Vec<Value> = inner
        .store
        .servers
        .iter()
        .map(|s| {
            json!({
                "$type": s.kind.info_type(),
                "name": s.name,
                "description": s.description,
                "host": s.host,
                "port": s.port,
                "state": s.state(),
                "message": s.message(),
                "platform": s.platform,
                "version": s.version,
                "last_connection": last_connection(s),
                "type": s.kind.server_type(),
            })
        })
        .collect();
    drop(inner);
    Ok(json_ok(&json!({ "serverList": items })))
}

/// Whether the registered license's `expiration_date` is in the past.
pub(super) fn license_expired(server: &Server) -> bool {
    server
        .license
        .as_ref()
        .and_then(|l| l.fields.get("expiration_date"))
        .and_then(|d| time::Date::parse(d.trim(), util::DATE).ok())
        .is_some_and(|d| d < util::now().date())
}

fn license_json(license: Option<&License>) -> Value {
    let Some(lic) = license else {
        return json!({"issue_date": "", "state": "NO_LICENSE", "expiration": "", "days_to_expiration": 0});
    };
    let date = |key: &str| {
        lic.fields
            .get(key)
            .and_then(|d| time::Date::parse(d.trim(), util::DATE).ok())
    };
    let issue = date("issue_date");
    let expiry = date("expiration_date");
    let today = util::now().date();
    let days = expiry.map(|e| (e - today).whole_days()).unwrap_or(0);
    let state = match expiry {
        Some(_) if days < 0 => "EXPIRED_LICENSE",
        _ => "VALID_LICENSE",
    };
    let ts = |d: Option<time::Date>| {
        d.map(|d| util::iso(d.midnight().assume_utc()))
            .unwrap_or_default()
    };
    json!({
        "issue_date": ts(issue),
        "state": state,
        "expiration": ts(expiry),
        "days_to_expiration": days.max(0),
    })
}

pub(super) fn details(ctx: &Ctx, name: &str) -> ApiResult<Response> {
    let inner = ctx.state.lock();
    let s = find(&inner.store, name)?;
    let count = |state: &str| s.tasks.iter().filter(|t| t.state == state).count();
    let running = count("RUNNING") + count("STARTING") + count("STOPPING");
    let running_tables: usize = s
        .tasks
        .iter()
        .filter(|t| t.is_running())
        .map(|t| t.tables().len())
        .sum();
    let connected = s.state() == "MONITORED";
    let body = json!({
        "server_details": {
            "$type": s.kind.details_type(),
            "name": s.name,
            "description": s.description,
            "configuration": {
                "host": s.host,
                "platform": s.platform,
                "port": s.port.parse::<u64>().map(Value::from).unwrap_or_else(|_| json!(s.port)),
                "user_name": s.username,
            },
            "state": s.state(),
            "message": s.message(),
            "version": s.version,
            "license": license_json(s.license.as_ref()),
            "last_connection": last_connection(s),
            "task_summary": {
                "total": s.tasks.len(),
                "running": running,
                "stopped": count("STOPPED"),
                "recovering": count("RECOVERY"),
                "error": count("ERROR"),
            },
            "resource_utilization": if connected {
                json!({
                    "disk_usage_mb": 2048 + 35 * s.tasks.len() as u64,
                    "memory_mb": 512 + 96 * running as u64 + 4 * running_tables as u64,
                    "attunity_cpu_percentage": (2 * running).min(100),
                    "machine_cpu_percentage": (6 + 3 * running).min(100),
                })
            } else {
                json!({"disk_usage_mb": 0, "memory_mb": 0, "attunity_cpu_percentage": 0, "machine_cpu_percentage": 0})
            },
            "type": s.kind.server_type(),
        }
    });
    drop(inner);
    Ok(json_ok(&body))
}

pub(super) fn get_def(ctx: &Ctx, name: &str) -> ApiResult<Response> {
    let mut inner = ctx.state.lock();
    let s = find(&inner.store, name)?;
    let placeholder = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "$type": s.kind.def_type(),
        "name": s.name,
        "description": s.description,
        "host": s.host,
        "port": s.port,
        "username": s.username,
        "password": placeholder,
        "verify_server_certificate": s.verify_server_certificate,
        "monitored": s.monitored,
        "type": s.kind.server_type(),
    });
    let password = s.password.clone();
    inner.placeholders.insert(
        placeholder,
        Placeholder {
            session: ctx.session.clone(),
            server: name.to_string(),
            password,
        },
    );
    drop(inner);
    Ok(json_ok(&body))
}

pub(super) fn parse_json_object(body: &[u8], type_name: &str) -> ApiResult<Map<String, Value>> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::deserialize(type_name, format!("the body is not UTF-8: {e}")))?;
    let text = text.trim_start_matches('\u{feff}');
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::deserialize(type_name, "expected a JSON object")),
        Err(e) => Err(ApiError::deserialize(type_name, e)),
    }
}

fn opt_string(map: &Map<String, Value>, key: &str, type_name: &str) -> ApiResult<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if key == "port" => Ok(Some(n.to_string())),
        Some(other) => Err(ApiError::deserialize(
            type_name,
            format!("'{key}' must be a string, not {other}"),
        )),
    }
}

fn opt_bool(map: &Map<String, Value>, key: &str, type_name: &str) -> ApiResult<Option<bool>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ApiError::deserialize(
            type_name,
            format!("'{key}' must be true or false, not {other}"),
        )),
    }
}

pub(super) fn put_def(ctx: &Ctx, name: &str) -> ApiResult<Response> {
    const T: &str = "AemServer";
    let map = parse_json_object(&ctx.body, T)?;
    let kind = match map.get("$type").and_then(Value::as_str) {
        Some(spec::SERVER_TYPE_REPLICATE) => ServerKind::Replicate,
        Some(spec::SERVER_TYPE_COMPOSE) => ServerKind::Compose,
        Some(other) => {
            return Err(ApiError::deserialize(
                T,
                format!("'$type' must be AemReplicateServer or AemComposeServer, not '{other}'"),
            ));
        }
        None => {
            return Err(ApiError::deserialize(
                T,
                "'$type' (AemReplicateServer or AemComposeServer) is required",
            ));
        }
    };
    if name.trim().is_empty() || name.len() > 64 {
        return Err(ApiError::aem(
            code::INVALID_NAME,
            format!("The server name '{name}' is not valid"),
        ));
    }
    let description = opt_string(&map, "description", T)?;
    let host = opt_string(&map, "host", T)?;
    let port = opt_string(&map, "port", T)?;
    let username = opt_string(&map, "username", T)?;
    let password = opt_string(&map, "password", T)?;
    let verify = opt_bool(&map, "verify_server_certificate", T)?;
    let monitored = opt_bool(&map, "monitored", T)?;
    if let Some(p) = &port
        && p.trim().parse::<u16>().map_or(true, |n| n == 0)
    {
        return Err(ApiError::deserialize(
            T,
            format!("'port' must be a TCP port number, not '{p}'"),
        ));
    }

    ctx.state.mutate(|inner| {
        // Resolve a placeholder password first.
        let password = match password {
            Some(p) => match inner.placeholders.get(&p) {
                Some(ph) if ph.session == ctx.session && ph.server == name => {
                    Some(ph.password.clone())
                }
                Some(_) => {
                    return Err(ApiError::aem(
                        code::INVALID_PASSWORD,
                        "The password is a placeholder from another session or server; send the real password",
                    ));
                }
                None => Some(p),
            },
            None => None,
        };
        let existing = inner.store.servers.iter_mut().find(|s| s.name == name);
        let created = existing.is_none();
        match existing {
            Some(s) => {
                s.kind = kind;
                if let Some(d) = description {
                    s.description = d;
                }
                if let Some(h) = host {
                    if h.trim().is_empty() {
                        return Err(ApiError::aem(code::INVALID_HOST, "The host must not be empty"));
                    }
                    s.host = h.trim().to_string();
                }
                if let Some(p) = port {
                    s.port = p.trim().to_string();
                }
                if let Some(u) = username {
                    s.username = u;
                }
                if let Some(p) = password {
                    s.password = p;
                }
                if let Some(v) = verify {
                    s.verify_server_certificate = v;
                }
                if let Some(m) = monitored {
                    s.monitored = m;
                }
                if s.state() == "MONITORED" {
                    s.last_connection = Some(util::iso(util::now()));
                }
            }
            None => {
                let host = host.unwrap_or_default().trim().to_string();
                if host.is_empty() || host.contains(char::is_whitespace) {
                    return Err(ApiError::aem(
                        code::INVALID_HOST,
                        format!("The host '{host}' is not valid"),
                    ));
                }
                let mut server = Server {
                    kind,
                    name: name.to_string(),
                    description: description.unwrap_or_default(),
                    host,
                    port: port.map(|p| p.trim().to_string()).unwrap_or_else(|| "443".into()),
                    username: username.unwrap_or_default(),
                    password: password.unwrap_or_default(),
                    verify_server_certificate: verify.unwrap_or(false),
                    monitored: monitored.unwrap_or(true),
                    platform: "LINUX".to_string(),
                    version: match kind {
                        ServerKind::Replicate => REPLICATE_VERSION.to_string(),
                        ServerKind::Compose => COMPOSE_VERSION.to_string(),
                    },
                    last_connection: None,
                    license: None,
                    acl: None,
                    settings: Map::new(),
                    tasks: Vec::new(),
                    endpoints: Vec::new(),
                };
                if server.state() == "MONITORED" {
                    server.last_connection = Some(util::iso(util::now()));
                }
                inner.store.servers.push(server);
            }
        }
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "PutServer",
                server: Some(name),
                task: None,
                endpoint: None,
                details: if created { "server added" } else { "server updated" }.into(),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

pub(super) fn delete_def(ctx: &Ctx, name: &str) -> ApiResult<Response> {
    ctx.state.mutate(|inner| {
        let before = inner.store.servers.len();
        inner.store.servers.retain(|s| s.name != name);
        if inner.store.servers.len() == before {
            return Err(ApiError::server_not_found(name));
        }
        inner.placeholders.retain(|_, p| p.server != name);
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "DeleteServer",
                server: Some(name),
                task: None,
                endpoint: None,
                details: "server deleted".into(),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

/// Parse a license: `key=value` lines (`#`/`;` comments allowed) or a JSON object.
pub(super) fn parse_license(text: &str) -> ApiResult<License> {
    let invalid = |why: String| {
        ApiError::aem(
            code::SRV_LIC_INVALID_FORMAT,
            format!("The license is not in a valid format: {why}"),
        )
    };
    let text = text.trim_start_matches('\u{feff}').trim();
    let mut fields = std::collections::BTreeMap::new();
    if text.starts_with('{') {
        let map: Map<String, Value> =
            serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        for (k, v) in map {
            let v = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            fields.insert(k, v);
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| invalid(format!("line {} is not key=value", i + 1)))?;
            if k.trim().is_empty() {
                return Err(invalid(format!("line {} has no key", i + 1)));
            }
            fields.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    if fields.is_empty() {
        return Err(invalid("the license is empty".into()));
    }
    if !fields.contains_key("license_type") && !fields.contains_key("serial_no") {
        return Err(invalid("license_type or serial_no is required".into()));
    }
    for key in ["issue_date", "expiration_date"] {
        if let Some(d) = fields.get(key)
            && time::Date::parse(d.trim(), util::DATE).is_err()
        {
            return Err(invalid(format!("{key} '{d}' is not yyyy-mm-dd")));
        }
    }
    Ok(License { fields })
}

pub(super) fn put_license(ctx: &Ctx, name: &str) -> ApiResult<Response> {
    let license = parse_license(ctx.body_text()?)?;
    ctx.state.mutate(|inner| {
        let server = find_mut(&mut inner.store, name)?;
        if server.kind != ServerKind::Replicate {
            return Err(ApiError::aem(
                "AEM_PUT_SRV_LIC_INNER_ERR",
                "Registering a license is currently supported for Replicate servers only",
            ));
        }
        server.license = Some(license);
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "PutServerLicense",
                server: Some(name),
                task: None,
                endpoint: None,
                details: "license registered".into(),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

fn role_json(role: &Role) -> Value {
    json!({
        "users": role.users.iter().map(|n| json!({"name": n})).collect::<Vec<_>>(),
        "groups": role.groups.iter().map(|n| json!({"name": n})).collect::<Vec<_>>(),
    })
}

pub(super) fn acl_json(acl: &Acl) -> Value {
    json!({
        "admin_role": role_json(&acl.admin_role),
        "designer_role": role_json(&acl.designer_role),
        "operator_role": role_json(&acl.operator_role),
        "viewer_role": role_json(&acl.viewer_role),
        "disable_inheritance": acl.disable_inheritance,
    })
}

fn parse_refs(value: Option<&Value>, what: &str) -> ApiResult<Vec<String>> {
    const T: &str = "AemAuthorizationAcl";
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
                Value::Object(m) => m
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| {
                        ApiError::deserialize(T, format!("every {what} needs a 'name'"))
                    }),
                other => Err(ApiError::deserialize(
                    T,
                    format!("a {what} must be {{\"name\": ...}}, not {other}"),
                )),
            })
            .collect(),
        Some(other) => Err(ApiError::deserialize(
            T,
            format!("'{what}s' must be an array, not {other}"),
        )),
    }
}

pub(super) fn parse_acl(map: &Map<String, Value>) -> ApiResult<Acl> {
    const T: &str = "AemAuthorizationAcl";
    let role = |key: &str| -> ApiResult<Role> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(Role::default()),
            Some(Value::Object(r)) => Ok(Role {
                users: parse_refs(r.get("users"), "user")?,
                groups: parse_refs(r.get("groups"), "group")?,
            }),
            Some(other) => Err(ApiError::deserialize(
                T,
                format!("'{key}' must be an object, not {other}"),
            )),
        }
    };
    Ok(Acl {
        admin_role: role("admin_role")?,
        designer_role: role("designer_role")?,
        operator_role: role("operator_role")?,
        viewer_role: role("viewer_role")?,
        disable_inheritance: opt_bool(map, "disable_inheritance", T)?.unwrap_or(false),
    })
}

pub(super) fn get_acl(ctx: &Ctx, name: &str) -> ApiResult<Response> {
    let inner = ctx.state.lock();
    let server = find(&inner.store, name)?;
    let acl = server.acl.as_ref().ok_or_else(|| {
        ApiError::aem(
            code::SERVER_HAS_NO_ACL,
            format!("Server '{name}' has no explicit ACL"),
        )
    })?;
    let body = acl_json(acl);
    drop(inner);
    Ok(json_ok(&body))
}

pub(super) fn put_acl(ctx: &Ctx, name: &str) -> ApiResult<Response> {
    let acl = parse_acl(&parse_json_object(&ctx.body, "AemAuthorizationAcl")?)?;
    ctx.state.mutate(|inner| {
        find_mut(&mut inner.store, name)?.acl = Some(acl);
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "PutServerAcl",
                server: Some(name),
                task: None,
                endpoint: None,
                details: "ACL replaced".into(),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

pub(super) fn delete_acl(ctx: &Ctx, name: &str) -> ApiResult<Response> {
    ctx.state.mutate(|inner| {
        let server = find_mut(&mut inner.store, name)?;
        if server.acl.take().is_none() {
            return Err(ApiError::aem(
                code::SERVER_HAS_NO_ACL,
                format!("Server '{name}' has no explicit ACL"),
            ));
        }
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "DeleteServerAcl",
                server: Some(name),
                task: None,
                endpoint: None,
                details: "ACL deleted".into(),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

//! Read the live state the manifest talks about (concurrently) and compute the changes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;

use super::diff::{self, Change};
use super::manifest::{
    AclSpec, Loaded, Presence, RunState, ServerSpec, TaskSpec, substitute_value,
};
use crate::error::{Error, Result, ResultExt};
use crate::qem::api::parse_definition;
use crate::qem::client::QemClient;
use crate::qem::commands::server::server_definition;
use crate::qem::model::{self, AclEntry};
use crate::qem::wire::task_state as ts;

/// One change of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// Items of a lower phase run before those of a higher one (servers, then tasks/ACLs, then
    /// endpoint deletions, then server deletions); items of one phase run concurrently.
    #[serde(skip)]
    pub phase: u8,
    /// `+` create, `~` update, `-` delete.
    pub action: char,
    pub kind: &'static str,
    pub server: String,
    pub name: String,
    pub summary: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    #[serde(skip)]
    pub op: Op,
}

#[derive(Debug, Clone)]
pub enum Op {
    PutServer {
        def: Value,
    },
    DeleteServer,
    PutAcl {
        acl: Value,
    },
    DeleteAcl,
    CreateTask {
        def: Value,
        start: Option<String>,
    },
    UpdateTask {
        def: Value,
        /// Delete before importing (the import merges and cannot remove items).
        replace: bool,
        stop_first: bool,
        restart: Option<String>,
        timeout: Duration,
    },
    DeleteTask {
        stop_first: bool,
        delete_logs: bool,
        timeout: Duration,
    },
    StartTask {
        option: String,
    },
    StopTask {
        timeout: Duration,
    },
    DeleteEndpoint,
}

impl Item {
    pub fn label(&self) -> String {
        match self.kind {
            "server" => format!("{} server `{}`", self.action, self.name),
            "acl" => format!("{} acl of server `{}`", self.action, self.server),
            kind => format!(
                "{} {kind} `{}` on `{}`",
                self.action, self.name, self.server
            ),
        }
    }
}

/// A task the manifest wants present, its definition loaded and substituted.
struct Desired<'a> {
    spec: &'a TaskSpec,
    name: String,
    def: Option<Value>,
}

fn load_definition(loaded: &Loaded, spec: &TaskSpec) -> Result<Option<Value>> {
    let mut def = match (&spec.definition, &spec.inline) {
        (Some(path), _) => {
            let full = if path.is_absolute() {
                path.clone()
            } else {
                loaded.dir.join(path)
            };
            let bytes = std::fs::read(&full)
                .map_err(|e| Error::io(format!("reading task definition {}", full.display()), e))?;
            parse_definition(&bytes).context(full.display())?
        }
        (None, Some(inline)) => inline.clone(),
        (None, None) => return Ok(None),
    };
    let mut vars = loaded.vars.clone();
    for (k, v) in &spec.vars {
        vars.insert(k.clone(), v.clone());
    }
    substitute_value(&mut def, &vars).with_context(|| {
        format!(
            "definition of task `{}` on `{}`",
            spec.name.as_deref().unwrap_or("?"),
            spec.server
        )
    })?;
    Ok(Some(def))
}

fn desired_tasks(loaded: &Loaded) -> Result<Vec<Desired<'_>>> {
    let mut out: Vec<Desired<'_>> = Vec::new();
    let mut seen = BTreeSet::new();
    for spec in &loaded.manifest.tasks {
        let mut def = load_definition(loaded, spec)?;
        let name = match (&spec.name, &mut def) {
            (Some(n), Some(d)) => {
                crate::qem::commands::task::set_definition_task_name(d, n)?;
                n.clone()
            }
            (Some(n), None) => n.clone(),
            (None, Some(d)) => crate::qem::commands::task::definition_task_name(d)
                .map(str::to_string)
                .ok_or_else(|| {
                    Error::input(format!(
                        "a task definition for `{}` names no task (tasks[0].task.name)",
                        spec.server
                    ))
                    .with_hint("set `name` in the manifest")
                })?,
            (None, None) => unreachable_name(&spec.server)?,
        };
        if !seen.insert((spec.server.to_lowercase(), name.to_lowercase())) {
            return Err(Error::input(format!(
                "task `{name}` on `{}` is listed twice in the manifest",
                spec.server
            )));
        }
        out.push(Desired { spec, name, def });
    }
    Ok(out)
}

fn unreachable_name(server: &str) -> Result<String> {
    Err(Error::input(format!(
        "a task on `{server}` has neither a name nor a definition"
    )))
}

/// What was read from QEM for one server.
#[derive(Default)]
struct Live {
    def: Option<Value>,
    acl: Option<Value>,
    /// Task name → state; `None` when the server is not registered (yet).
    tasks: Option<HashMap<String, String>>,
    endpoints: Option<BTreeSet<String>>,
}

fn server_spec<'a>(loaded: &'a Loaded, name: &str) -> Option<&'a ServerSpec> {
    loaded
        .manifest
        .servers
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
}

/// Read the state and compute the plan.
pub async fn compute(client: &QemClient, loaded: &Loaded, concurrency: usize) -> Result<Vec<Item>> {
    let desired = desired_tasks(loaded)?;
    let m = &loaded.manifest;

    // Which servers to read, and what about them.
    let mut servers: BTreeMap<String, (bool, bool, bool)> = BTreeMap::new(); // def, tasks, endpoints
    for s in &m.servers {
        servers.entry(s.name.clone()).or_default().0 = true;
    }
    for t in &m.tasks {
        servers.entry(t.server.clone()).or_default().1 = true;
    }
    for e in &m.endpoints {
        servers.entry(e.server.clone()).or_default().2 = true;
    }

    let reads = futures_util::stream::iter(servers.iter().map(
        |(name, (want_def, want_tasks, want_eps))| async move {
            let mut live = Live::default();
            let spec = server_spec(loaded, name);
            if *want_def {
                live.def = client.server_def(name).await.map_err(Error::from)?;
            }
            let registered = if *want_def { live.def.is_some() } else { true };
            if registered && spec.is_some_and(|s| s.state == Presence::Present && s.acl.is_some()) {
                live.acl = client.server_acl(name).await.map_err(Error::from)?;
            }
            if registered && *want_tasks {
                match client.task_list(name).await {
                    Ok(list) => {
                        live.tasks = Some(
                            list.iter()
                                .map(|t| {
                                    (
                                        model::str_field(t, "name").to_string(),
                                        model::str_field(t, "state").to_string(),
                                    )
                                })
                                .collect(),
                        );
                    }
                    Err(e) if e.is(crate::qem::wire::code::SERVER_NOT_FOUND) => {}
                    Err(e) => return Err(Error::from(e)),
                }
            }
            if registered && *want_eps {
                match client.endpoint_list(name).await {
                    Ok(list) => {
                        live.endpoints = Some(
                            list.iter()
                                .map(|e| model::str_field(e, "name").to_string())
                                .collect(),
                        );
                    }
                    Err(e) if e.is(crate::qem::wire::code::SERVER_NOT_FOUND) => {}
                    Err(e) => return Err(Error::from(e)),
                }
            }
            Ok::<_, Error>((name.clone(), live))
        },
    ))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;
    let mut live: HashMap<String, Live> = HashMap::new();
    for r in reads {
        let (name, l) = r.context("reading the live state")?;
        live.insert(name, l);
    }

    let mut items = Vec::new();

    // Servers and ACLs.
    for s in &m.servers {
        let l = live.get(&s.name);
        let current = l.and_then(|l| l.def.as_ref());
        match (s.state, current) {
            (Presence::Absent, Some(_)) => items.push(Item {
                phase: 3,
                action: '-',
                kind: "server",
                server: s.name.clone(),
                name: s.name.clone(),
                summary: "unregister".into(),
                changes: vec![],
                op: Op::DeleteServer,
            }),
            (Presence::Absent, None) => {}
            (Presence::Present, None) => {
                let (host, user, password) = match (&s.host, &s.user, &s.password) {
                    (Some(h), Some(u), Some(p)) => (h, u, p),
                    _ => {
                        return Err(Error::input(format!(
                            "server `{}` is not registered; registering it needs host, user and password",
                            s.name
                        ))
                        .with_hint("add them to the server in the manifest (password = \"${env:NAME}\")"));
                    }
                };
                let def = server_definition(
                    &s.name,
                    is_compose(s.kind.as_deref()),
                    host,
                    s.port.unwrap_or(443),
                    user,
                    password,
                    s.description.as_deref().unwrap_or(""),
                    s.verify_server_certificate.unwrap_or(true),
                    s.monitored.unwrap_or(true),
                );
                items.push(Item {
                    phase: 0,
                    action: '+',
                    kind: "server",
                    server: s.name.clone(),
                    name: s.name.clone(),
                    summary: format!("register {host}:{}", s.port.unwrap_or(443)),
                    changes: vec![],
                    op: Op::PutServer { def },
                });
                if let Some(acl) = &s.acl {
                    push_acl(&mut items, s, acl, None);
                }
            }
            (Presence::Present, Some(cur)) => {
                let (changes, def) = server_drift(s, cur);
                if !changes.is_empty() {
                    items.push(Item {
                        phase: 0,
                        action: '~',
                        kind: "server",
                        server: s.name.clone(),
                        name: s.name.clone(),
                        summary: "update registration".into(),
                        changes,
                        op: Op::PutServer { def },
                    });
                }
                if let Some(acl) = &s.acl {
                    push_acl(&mut items, s, acl, Some(l.and_then(|l| l.acl.as_ref())));
                }
            }
        }
    }

    // Tasks: export the existing ones the manifest wants present, concurrently.
    let server_absent =
        |name: &str| server_spec(loaded, name).is_some_and(|s| s.state == Presence::Absent);
    let server_created = |name: &str| items_create_server(m, &live, name);
    let mut exports_needed = Vec::new();
    for (i, d) in desired.iter().enumerate() {
        let l = live.get(&d.spec.server);
        let tasks = l.and_then(|l| l.tasks.as_ref());
        if tasks.is_none() && !server_created(&d.spec.server) {
            if d.spec.state == Presence::Absent || server_absent(&d.spec.server) {
                continue;
            }
            return Err(Error::not_found(format!(
                "server `{}` (of task `{}`) is not registered in QEM",
                d.spec.server, d.name
            ))
            .with_hint("register it (add it to `servers` in the manifest) or fix the name"));
        }
        if d.spec.state == Presence::Present && server_absent(&d.spec.server) {
            return Err(Error::input(format!(
                "task `{}` is wanted on server `{}`, which the manifest removes",
                d.name, d.spec.server
            )));
        }
        if d.spec.state == Presence::Present
            && let Some(def) = &d.def
            && tasks.is_some_and(|t| t.contains_key(&d.name))
        {
            exports_needed.push((i, diff::has_endpoints(def)));
        }
    }
    let exports = futures_util::stream::iter(exports_needed.into_iter().map(|(i, with_eps)| {
        let d = &desired[i];
        async move {
            let v = client
                .export_task(&d.spec.server, &d.name, with_eps)
                .await
                .map_err(Error::from)?;
            Ok::<_, Error>((i, v))
        }
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;
    let mut exported: HashMap<usize, Option<Value>> = HashMap::new();
    for r in exports {
        let (i, v) = r.context("reading task definitions")?;
        exported.insert(i, v);
    }

    for (i, d) in desired.iter().enumerate() {
        let spec = d.spec;
        let state = live
            .get(&spec.server)
            .and_then(|l| l.tasks.as_ref())
            .and_then(|t| t.get(&d.name))
            .cloned();
        let timeout = spec.timeout()?;
        let option = spec
            .run_option
            .as_deref()
            .map(model::run_option)
            .transpose()?
            .unwrap_or_else(|| "RESUME_PROCESSING".to_string());
        let base = |phase: u8, action: char, summary: String, changes: Vec<String>, op: Op| Item {
            phase,
            action,
            kind: "task",
            server: spec.server.clone(),
            name: d.name.clone(),
            summary,
            changes,
            op,
        };
        match (spec.state, state) {
            (Presence::Absent, None) => {}
            (Presence::Absent, Some(state)) => {
                if server_absent(&spec.server) {
                    continue; // unregistering the server removes it
                }
                let running = is_active(&state);
                if running && !spec.force_stop {
                    return Err(Error::conflict(format!(
                        "task `{}` on `{}` is {state}; deleting it needs a stop",
                        d.name, spec.server
                    ))
                    .with_hint("set `force_stop = true` on the task in the manifest"));
                }
                items.push(base(
                    1,
                    '-',
                    if running {
                        "stop, then delete".into()
                    } else {
                        "delete".into()
                    },
                    vec![],
                    Op::DeleteTask {
                        stop_first: running,
                        delete_logs: spec.delete_logs.unwrap_or(true),
                        timeout,
                    },
                ));
            }
            (Presence::Present, None) => {
                let def = d.def.clone().unwrap_or(Value::Null);
                let start = (spec.run == Some(RunState::Started)).then(|| option.clone());
                let summary = match &start {
                    Some(o) => format!("import, then start ({})", pretty_option(o)),
                    None => "import".into(),
                };
                items.push(base(1, '+', summary, vec![], Op::CreateTask { def, start }));
            }
            (Presence::Present, Some(state)) => {
                let desired_def = d.def.clone().unwrap_or(Value::Null);
                let changes = match exported.get(&i) {
                    Some(Some(live_def)) => {
                        diff::diff(&diff::normalize(live_def), &diff::normalize(&desired_def))
                    }
                    // Listed but gone by the time of the export: import it.
                    _ => vec![Change::Added {
                        path: "(task)".into(),
                        new: Value::String(d.name.clone()),
                    }],
                };
                let active = is_active(&state);
                if !changes.is_empty() {
                    let replace = changes.iter().any(Change::is_removal);
                    let restart = match spec.run {
                        Some(RunState::Started) => Some(option.clone()),
                        Some(RunState::Stopped) => None,
                        None if active => Some("RESUME_PROCESSING".to_string()),
                        None => None,
                    };
                    let mut steps = Vec::new();
                    if active {
                        steps.push("stop".to_string());
                    }
                    if replace {
                        steps.push("delete".to_string());
                    }
                    steps.push("import".to_string());
                    if let Some(o) = &restart {
                        steps.push(format!("start ({})", pretty_option(o)));
                    }
                    items.push(base(
                        1,
                        '~',
                        format!("update: {}", steps.join(" → ")),
                        changes.iter().map(Change::render).collect(),
                        Op::UpdateTask {
                            def: desired_def,
                            replace,
                            stop_first: active,
                            restart,
                            timeout,
                        },
                    ));
                } else {
                    match spec.run {
                        Some(RunState::Started)
                            if state != ts::RUNNING && state != ts::STARTING =>
                        {
                            items.push(base(
                                1,
                                '~',
                                format!("start ({}), now {state}", pretty_option(&option)),
                                vec![],
                                Op::StartTask {
                                    option: option.clone(),
                                },
                            ));
                        }
                        Some(RunState::Stopped)
                            if state != ts::STOPPED && state != ts::NOT_EXIST =>
                        {
                            items.push(base(
                                1,
                                '~',
                                format!("stop, now {state}"),
                                vec![],
                                Op::StopTask { timeout },
                            ));
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    // Endpoints.
    for e in &m.endpoints {
        let listed = live
            .get(&e.server)
            .and_then(|l| l.endpoints.as_ref())
            .map(|eps| eps.contains(&e.name));
        match (e.state, listed) {
            (Presence::Absent, Some(true)) => items.push(Item {
                phase: 2,
                action: '-',
                kind: "endpoint",
                server: e.server.clone(),
                name: e.name.clone(),
                summary: "delete".into(),
                changes: vec![],
                op: Op::DeleteEndpoint,
            }),
            (Presence::Present, found) if found != Some(true) => {
                let provided = desired.iter().any(|d| {
                    d.spec.server.eq_ignore_ascii_case(&e.server)
                        && d.spec.state == Presence::Present
                        && d.def
                            .as_ref()
                            .is_some_and(|def| diff::endpoint_names(def).contains(&e.name))
                });
                if !provided {
                    return Err(Error::not_found(format!(
                        "endpoint `{}` does not exist on `{}` and no task definition in the manifest defines it",
                        e.name, e.server
                    ))
                    .with_hint("QEM cannot create endpoints directly: add a task definition exported with --with-endpoints that contains it"));
                }
            }
            _ => {}
        }
    }
    items.sort_by(|a, b| {
        (a.phase, a.kind, &a.server, &a.name).cmp(&(b.phase, b.kind, &b.server, &b.name))
    });
    Ok(items)
}

fn items_create_server(
    m: &super::manifest::Manifest,
    live: &HashMap<String, Live>,
    name: &str,
) -> bool {
    m.servers.iter().any(|s| {
        s.name.eq_ignore_ascii_case(name)
            && s.state == Presence::Present
            && live.get(&s.name).is_none_or(|l| l.def.is_none())
    })
}

/// Running in any sense that needs a stop before import or delete.
pub fn is_active(state: &str) -> bool {
    matches!(
        state,
        ts::RUNNING | ts::STARTING | ts::RECOVERY | ts::STOPPING
    ) || state == "RECOVERING"
}

fn is_compose(kind: Option<&str>) -> bool {
    kind.is_some_and(|k| k.eq_ignore_ascii_case("compose"))
}

pub fn pretty_option(option: &str) -> String {
    option.to_ascii_lowercase().replace('_', "-")
}

/// Differences between the manifest's server and the registration; the PutServer body to fix them.
fn server_drift(s: &ServerSpec, cur: &Value) -> (Vec<String>, Value) {
    let mut changes = Vec::new();
    let mut check = |field: &str, want: Option<String>, have: String| {
        if let Some(w) = want
            && w != have
        {
            changes.push(format!(
                "~ {field}: {} → {}",
                Value::String(have),
                Value::String(w)
            ));
        }
    };
    check(
        "host",
        s.host.clone(),
        model::str_field(cur, "host").to_string(),
    );
    check("port", s.port.map(|p| p.to_string()), model::port_text(cur));
    check(
        "username",
        s.user.clone(),
        model::str_field(cur, "username").to_string(),
    );
    check(
        "description",
        s.description.clone(),
        model::str_field(cur, "description").to_string(),
    );
    check(
        "type",
        s.kind.as_ref().map(|k| k.to_ascii_lowercase()),
        model::server_kind(cur).to_string(),
    );
    let bool_of = |k: &str| cur.get(k).and_then(Value::as_bool);
    for (field, want) in [
        ("verify_server_certificate", s.verify_server_certificate),
        ("monitored", s.monitored),
    ] {
        if let Some(w) = want
            && bool_of(field) != Some(w)
        {
            changes.push(format!(
                "~ {field}: {} → {w}",
                bool_of(field).map_or("unset".to_string(), |b| b.to_string())
            ));
        }
    }
    let port = s
        .port
        .or_else(|| model::port_text(cur).parse().ok())
        .unwrap_or(443);
    // Without a password in the manifest, send back the placeholder GetServer returned (valid in
    // this session, per the API guide).
    let password = s
        .password
        .clone()
        .unwrap_or_else(|| model::str_field(cur, "password").to_string());
    let def = server_definition(
        &s.name,
        s.kind
            .as_deref()
            .map_or(model::server_kind(cur) == "compose", |k| {
                is_compose(Some(k))
            }),
        s.host.as_deref().unwrap_or(model::str_field(cur, "host")),
        port,
        s.user
            .as_deref()
            .unwrap_or(model::str_field(cur, "username")),
        &password,
        s.description
            .as_deref()
            .unwrap_or(model::str_field(cur, "description")),
        s.verify_server_certificate
            .or(bool_of("verify_server_certificate"))
            .unwrap_or(true),
        s.monitored.or(bool_of("monitored")).unwrap_or(true),
    );
    (changes, def)
}

fn acl_spec_entries(acl: &AclSpec) -> Vec<AclEntry> {
    let mut out = Vec::new();
    for (role, spec) in [
        ("admin", &acl.admin),
        ("designer", &acl.designer),
        ("operator", &acl.operator),
        ("viewer", &acl.viewer),
    ] {
        let Some(spec) = spec else { continue };
        for (kind, names) in [("user", &spec.users), ("group", &spec.groups)] {
            for n in names {
                out.push(AclEntry {
                    role: role.into(),
                    kind: kind.into(),
                    name: n.clone(),
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `current`: `None` = server being registered now; `Some(None)` = no explicit ACL.
fn push_acl(items: &mut Vec<Item>, s: &ServerSpec, acl: &AclSpec, current: Option<Option<&Value>>) {
    let want = acl_spec_entries(acl);
    let cur_entries = current
        .flatten()
        .map(model::acl_entries)
        .unwrap_or_default();
    let cur_inherit = current
        .flatten()
        .is_some_and(model::acl_disable_inheritance);
    let has_explicit = current.flatten().is_some();
    let item = |action: char, summary: String, changes: Vec<String>, op: Op| Item {
        phase: 1,
        action,
        kind: "acl",
        server: s.name.clone(),
        name: s.name.clone(),
        summary,
        changes,
        op,
    };
    if want.is_empty() && !acl.disable_inheritance {
        if has_explicit {
            items.push(item(
                '-',
                "remove the explicit ACL".into(),
                vec![],
                Op::DeleteAcl,
            ));
        }
        return;
    }
    let want_key = model::acl_key(&want);
    let cur_key = model::acl_key(&cur_entries);
    if has_explicit && want_key == cur_key && cur_inherit == acl.disable_inheritance {
        return;
    }
    let mut changes = Vec::new();
    for e in &want {
        if !cur_key.contains(&(e.role.clone(), e.kind.clone(), e.name.to_lowercase())) {
            changes.push(format!("+ {} {} `{}`", e.role, e.kind, e.name));
        }
    }
    for e in &cur_entries {
        if !want_key.contains(&(e.role.clone(), e.kind.clone(), e.name.to_lowercase())) {
            changes.push(format!("- {} {} `{}`", e.role, e.kind, e.name));
        }
    }
    if cur_inherit != acl.disable_inheritance {
        changes.push(format!(
            "~ disable_inheritance: {cur_inherit} → {}",
            acl.disable_inheritance
        ));
    }
    items.push(item(
        if has_explicit { '~' } else { '+' },
        "set the explicit ACL".into(),
        changes,
        Op::PutAcl {
            acl: model::acl_document(&want, acl.disable_inheritance),
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(text: &str) -> ServerSpec {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn server_drift_compares_only_what_the_manifest_sets() {
        let cur = json!({"$type": "AemReplicateServer", "name": "s", "host": "a", "port": "3552",
                         "username": "D\\u", "password": "guid-placeholder", "monitored": true});
        let (changes, _) = server_drift(&spec("name = \"s\"\nhost = \"a\"\nport = 3552"), &cur);
        assert!(changes.is_empty(), "{changes:?}");
        let (changes, def) =
            server_drift(&spec("name = \"s\"\nhost = \"b\"\nmonitored = false"), &cur);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(def["host"], "b");
        assert_eq!(def["port"], "3552");
        // No password in the manifest: the session's placeholder goes back.
        assert_eq!(def["password"], "guid-placeholder");
        assert_eq!(def["$type"], "AemReplicateServer");
    }

    #[test]
    fn acl_plans() {
        let s = spec("name = \"s\"\n[acl.admin]\nusers = ['D\\alice']");
        let acl = s.acl.clone().unwrap();
        let same = json!({"admin_role": {"users": [{"name": "d\\ALICE"}], "groups": []}, "disable_inheritance": false});
        let mut items = Vec::new();
        push_acl(&mut items, &s, &acl, Some(Some(&same)));
        assert!(items.is_empty(), "names compare case-insensitively");
        push_acl(&mut items, &s, &acl, Some(None));
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].action, '+');
        let empty = AclSpec::default();
        let mut items = Vec::new();
        push_acl(&mut items, &s, &empty, Some(Some(&same)));
        assert!(matches!(items[0].op, Op::DeleteAcl));
    }

    #[test]
    fn active_states_need_a_stop() {
        assert!(is_active("RUNNING"));
        assert!(is_active("STARTING"));
        assert!(!is_active("STOPPED"));
        assert!(!is_active("ERROR"));
    }
}

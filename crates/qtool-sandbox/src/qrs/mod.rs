//! The sandbox's QRS emulator: entities, filter language, apps, tasks. Mounted by the sandbox's
//! front door under every virtual proxy prefix and on the certificate port; each request
//! carries the caller's [`Identity`](super::identity::Identity) as an extension.
//!
//! Interface contract (used by `sandbox/server.rs`):
//! - `QrsState::new(config)` seeds a fresh repository; `QrsState::restore(config, snapshot)`
//!   reloads one (`restore_with` also replays the journal's operations since the snapshot, and
//!   removes app files no app refers to); `state.snapshot()` returns everything but app file
//!   contents (those live as files under `config.data_dir`).
//! - `state.attach_journal(journal)`: from then on every change made through `mutate` is
//!   recorded in the journal (the store's puts and removes), so that an answered change
//!   survives a kill.
//! - `state.virtual_proxies()` lists the virtual proxies (from `virtualproxyconfig` entities) so
//!   the front door can route and authenticate by prefix.
//! - `router(state)` serves `/qrs/...`, `/tempcontent/...` and `/ssl/ping` (paths without the
//!   proxy prefix, matched without case).
//!
//! Modules: [`store`] (tables of compact JSON rows), [`types`] (entity shapes and defaults per
//! the spec), [`render`] (references expanded, condensed projection), [`filter`] (filter and
//! orderby), [`routes`] (the route table, Xrfkey check, generic CRUD, case-insensitive paths),
//! [`table`] (the QMC's table API), [`apps`] (upload, both export flows, copy, publish),
//! [`objects`] (app objects), [`tasks`] (reload tasks, execution), [`scriptlog`] (script logs),
//! [`license`] (allocations, `accesstypeinfo`), [`audit`] (accessible objects), [`about`]
//! (about, enums, API description), [`seed`] (a fresh repository). Every decision and its
//! source: `docs/sandbox-qrs.md`.
//!
//! Behaviour worth knowing (see the module docs for details):
//! - Every request (`/qrs/...`, `/tempcontent/...`, `/ssl/ping`) needs the Xrfkey pair, else `403`
//!   [`spec::XSRF_FAILED`]; an unencoded `&` in a value gives `400 Missing parameter value(s)`.
//!   A request without an [`Identity`](super::identity::Identity) extension gets `401`; the
//!   first request of a new identity creates its `user` entity, like a first QSEoW login.
//! - `/count` answers `{"value": N}` and `/task/{id}/start/synchronous` answers
//!   `{"value": "<session id>"}` ([`spec::VALUE_FIELD`]): the spec documents bare values, real
//!   QRS and its clients use the wrapped form.
//! - Errors are short `text/plain` bodies: 400 (bad filter: `Cannot parse the expression: ..`,
//!   bad JSON, bad parameter), 404 (unknown id), 405 (method not served on a path), 409 (stale or
//!   missing `modifiedDate` on PUT), 415 (upload not `application/vnd.qlik.sense.app`).
//! - Tasks run 1–2 s ([`QrsState::set_run_duration`]), retry `maxRetries` times on failure (one
//!   execution id, one result per attempt), chain through composite events, and schema triggers
//!   fire when their `operational.nextExecution` comes (a scheduler started by the first request).
//! - Test hooks: a task fails when its name contains `[fail]`, or when it carries a tag named
//!   `sandbox-fail`, or a custom property whose definition is named `sandbox-fail` (any value).

// Handlers return ready error responses (`Result<_, Response>`); boxing them buys nothing here.
#![allow(clippy::result_large_err)]

pub mod about;
pub mod apps;
pub mod audit;
pub mod filter;
pub mod license;
pub mod objects;
pub mod render;
pub mod routes;
pub mod scriptlog;
pub mod seed;
pub mod spec;
pub mod store;
pub mod table;
pub mod tasks;
pub mod types;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::Router;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::journal::{self, Journal};
use store::Store;

/// Authentication method of a virtual proxy the front door understands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ProxyAuth {
    /// JWT bearer token checked against `jwt_certificate` (PEM), `jwt_audience`, expiry.
    Jwt {
        jwt_certificate: String,
        jwt_audience: String,
        userid_attribute: String,
        userdirectory_attribute: String,
    },
    /// QSEoW's "Ticket" method: Windows authentication (`401` with `WWW-Authenticate: Negotiate`
    /// and `NTLM`) for a client whose `User-Agent` contains `windows_pattern` (the virtual proxy's
    /// "Windows authentication pattern"), the forms login page for every other client.
    Ticket { windows_pattern: String },
}

/// A virtual proxy as the front door needs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VirtualProxy {
    /// Prefix without slashes (`jwt`); empty for the default proxy.
    pub prefix: String,
    pub description: String,
    pub session_cookie_name: String,
    pub auth: ProxyAuth,
}

#[derive(Debug, Clone)]
pub struct QrsConfig {
    /// Where app (QVF) contents are stored.
    pub data_dir: PathBuf,
    pub seed_apps: usize,
    pub seed_tasks: usize,
    /// Generic objects (sheets and their charts) in each seeded app's content.
    pub seed_objects: usize,
    /// Virtual proxies created as `virtualproxyconfig` entities on a fresh start.
    pub virtual_proxies: Vec<VirtualProxy>,
}

/// A task execution in progress.
pub(crate) struct Run {
    pub session_id: String,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A pending app export (downloadable once).
#[derive(Clone)]
pub(crate) struct Export {
    pub token: String,
    pub app_id: String,
    pub file: PathBuf,
    pub file_name: String,
    /// Made by the older `GET /qrs/app/{id}/export` (downloaded from `/qrs/download/app/...`)
    /// rather than the token flow (downloaded from `/tempcontent/...`).
    pub via_ticket: bool,
    /// Who started the export: the only user who may download it.
    pub owner: crate::identity::Identity,
}

pub struct QrsState {
    config: QrsConfig,
    store: Mutex<Store>,
    generation: AtomicU64,
    /// Running executions by task id.
    runs: Mutex<HashMap<String, Run>>,
    /// Pending exports by temp-content id (or old-flow ticket).
    exports: Mutex<HashMap<String, Export>>,
    /// Script log download tickets → execution result id.
    log_tickets: Mutex<HashMap<String, String>>,
    /// Length of a task run in milliseconds (min, max).
    run_ms: Mutex<(u64, u64)>,
    /// The central node's id (`serverNodeId` in download paths).
    node_id: String,
    /// Whether the schema-trigger scheduler runs (started by the first request).
    scheduler_started: std::sync::atomic::AtomicBool,
    /// Where changes are recorded before they are answered (none in unit tests).
    journal: OnceLock<Journal>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl QrsState {
    pub fn new(config: QrsConfig) -> Result<Arc<QrsState>> {
        let mut state = Self::empty(config)?;
        // A fresh repository: app files of an earlier one are orphans.
        clear_files(&state.config.data_dir.join("apps"));
        state.node_id = seed::seed_node(&state);
        seed::seed(&state)?;
        Ok(Arc::new(state))
    }

    fn empty(config: QrsConfig) -> Result<QrsState> {
        std::fs::create_dir_all(config.data_dir.join("apps"))
            .map_err(|e| Error::io(config.data_dir.display(), e))?;
        std::fs::create_dir_all(config.data_dir.join("exports"))
            .map_err(|e| Error::io(config.data_dir.display(), e))?;
        // Pending exports and interrupted uploads do not survive a restart.
        clear_files(&config.data_dir.join("exports"));
        clear_tmp(&config.data_dir.join("apps"));
        Ok(QrsState {
            config,
            store: Mutex::new(Store::default()),
            generation: AtomicU64::new(0),
            runs: Mutex::new(HashMap::new()),
            exports: Mutex::new(HashMap::new()),
            log_tickets: Mutex::new(HashMap::new()),
            run_ms: Mutex::new((1000, 2000)),
            node_id: String::new(),
            scheduler_started: std::sync::atomic::AtomicBool::new(false),
            journal: OnceLock::new(),
        })
    }

    pub fn restore(config: QrsConfig, snapshot: serde_json::Value) -> Result<Arc<QrsState>> {
        Self::restore_with(config, snapshot, std::iter::empty())
    }

    /// Restore a snapshot, replay the journal's operations made after it (`replay`: each a
    /// record's payload, in order), and remove app files no app refers to (an upload whose
    /// change never reached the journal, a delete that did but whose file removal did not).
    pub fn restore_with<'a>(
        config: QrsConfig,
        snapshot: serde_json::Value,
        replay: impl IntoIterator<Item = &'a Value>,
    ) -> Result<Arc<QrsState>> {
        let mut state = Self::empty(config)?;
        let Some(tables) = snapshot.get("tables").and_then(Value::as_object) else {
            return Err(Error::input("the QRS sandbox snapshot has no tables")
                .with_hint("delete the sandbox state to start from a fresh repository"));
        };
        {
            let mut s = lock(&state.store);
            for td in types::TYPES.iter().filter(|t| t.view_of.is_none()) {
                let Some(rows) = tables.get(td.name).and_then(Value::as_array) else {
                    continue;
                };
                for r in rows {
                    if let Value::Object(e) = r {
                        s.put(td.name, e);
                    }
                }
            }
            for ops in replay {
                s.replay(ops).map_err(|e| {
                    Error::input(format!("the QRS journal has an unreadable record: {e}"))
                        .with_hint("delete journal.jsonl to start from the last snapshot")
                })?;
            }
            // Executions cannot survive a restart: end them as aborted.
            let now = s.now();
            for sess in s.all("executionsession") {
                if let Some(id) = sess.get("id").and_then(Value::as_str) {
                    s.remove("executionsession", id);
                }
                for rid in store::ref_ids(&sess, "executionResult") {
                    if let Some(mut r) = s.get("executionresult", &rid) {
                        r.insert("status".into(), json!(spec::task_status::ABORTED));
                        r.insert("stopTime".into(), json!(now));
                        s.put("executionresult", &r);
                        for task in store::ref_ids(&sess, "reloadTask") {
                            tasks::set_last_result(&mut s, &task, &r);
                        }
                    }
                }
            }
        }
        state.node_id = state.central_node_id();
        if state.node_id.is_empty() {
            state.node_id = seed::seed_node(&state);
        }
        state.remove_orphan_files();
        Ok(Arc::new(state))
    }

    /// Remove the `.qvf` files of apps that do not exist.
    fn remove_orphan_files(&self) {
        let s = lock(&self.store);
        remove_matching(&self.config.data_dir.join("apps"), |name| {
            name.strip_suffix(".qvf")
                .is_some_and(|id| !s.contains("app", id))
        });
    }

    /// Record every later change in `journal` before it is answered.
    pub fn attach_journal(&self, journal: Journal) {
        let _ = self.journal.set(journal);
    }

    fn central_node_id(&self) -> String {
        lock(&self.store)
            .all("servernodeconfiguration")
            .into_iter()
            .find(|n| n.get("isCentral").and_then(Value::as_bool) == Some(true))
            .and_then(|n| n.get("id").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default()
    }

    /// The snapshot as JSON text written to `out`, streamed from the stored rows (compact JSON)
    /// without building a `Value` of the whole repository; parses to the same as
    /// [`snapshot`](Self::snapshot). The store lock is held only to take the rows (reference
    /// counts), not while writing.
    pub fn write_snapshot(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.write_snapshot_covering(out, None)
    }

    /// [`write_snapshot`](Self::write_snapshot), noting the last journal record it covers.
    pub fn write_snapshot_covering(
        &self,
        out: &mut dyn std::io::Write,
        journal_seq: Option<u64>,
    ) -> std::io::Result<()> {
        let tables: Vec<(&'static str, Vec<store::Row>)> = {
            let s = lock(&self.store);
            types::TYPES
                .iter()
                .filter(|t| t.view_of.is_none())
                .map(|td| (td.name, s.rows(td.name).cloned().collect()))
                .collect()
        };
        out.write_all(b"{\"version\":1,")?;
        if let Some(seq) = journal_seq {
            write!(out, "\"{}\":{seq},", crate::persist::JOURNAL_SEQ)?;
        }
        out.write_all(b"\"tables\":{")?;
        for (i, (name, rows)) in tables.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            write!(out, "\"{name}\":[")?;
            for (j, row) in rows.iter().enumerate() {
                if j > 0 {
                    out.write_all(b",\n")?;
                }
                out.write_all(row.as_bytes())?;
            }
            out.write_all(b"]")?;
        }
        out.write_all(b"}}\n")
    }

    pub fn snapshot(&self) -> serde_json::Value {
        let s = lock(&self.store);
        let mut tables = Map::new();
        for td in types::TYPES.iter().filter(|t| t.view_of.is_none()) {
            let rows: Vec<Value> = s.all(td.name).into_iter().map(Value::Object).collect();
            tables.insert(td.name.into(), Value::Array(rows));
        }
        json!({ "version": 1, "tables": tables })
    }

    /// Incremented on every change, so the front door snapshots only when something changed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn virtual_proxies(&self) -> Vec<VirtualProxy> {
        let s = lock(&self.store);
        s.all("virtualproxyconfig")
            .iter()
            .filter_map(proxy_from_entity)
            .collect()
    }

    /// The `name` of a user's repository entity (`None` before its first request).
    pub fn user_name(&self, identity: &crate::identity::Identity) -> Option<String> {
        let s = lock(&self.store);
        let id = s.user_id(&identity.user_directory, &identity.user_id)?;
        s.get("user", &id)?
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    }

    /// How long a task run lasts (a random length between `min_ms` and `max_ms`).
    pub fn set_run_duration(&self, min_ms: u64, max_ms: u64) {
        *lock(&self.run_ms) = (min_ms.min(max_ms), max_ms.max(min_ms));
    }

    pub fn config(&self) -> &QrsConfig {
        &self.config
    }

    /// Read access to the store (never held across an `.await`).
    pub(crate) fn read(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// A change: runs `f` on the store, records what it changed in the journal (under the
    /// lock, so records keep the order of the changes) and bumps the generation. The request
    /// making the change is answered once the record is durable.
    pub(crate) fn mutate<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let mut s = lock(&self.store);
        let journal = self.journal.get();
        if journal.is_some() {
            s.start_recording();
        }
        let r = f(&mut s);
        if let Some(journal) = journal
            && let Some(ops) = s.take_recorded()
        {
            journal.append(journal::Kind::Qrs, ops);
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
        r
    }

    pub(crate) fn runs(&self) -> MutexGuard<'_, HashMap<String, Run>> {
        lock(&self.runs)
    }

    pub(crate) fn exports(&self) -> MutexGuard<'_, HashMap<String, Export>> {
        lock(&self.exports)
    }

    pub(crate) fn log_tickets(&self) -> MutexGuard<'_, HashMap<String, String>> {
        lock(&self.log_tickets)
    }

    pub(crate) fn run_ms(&self) -> (u64, u64) {
        *lock(&self.run_ms)
    }

    pub(crate) fn node_id(&self) -> &str {
        &self.node_id
    }

    pub(crate) fn app_file(&self, app_id: &str) -> PathBuf {
        self.config
            .data_dir
            .join("apps")
            .join(format!("{}.qvf", app_id.to_ascii_lowercase()))
    }

    pub(crate) fn export_dir(&self) -> PathBuf {
        self.config.data_dir.join("exports")
    }
}

/// Remove the `.qvf` and `.tmp` files of `dir` (best effort).
fn clear_files(dir: &std::path::Path) {
    remove_matching(dir, |name| name.ends_with(".qvf") || name.ends_with(".tmp"));
}

/// Remove the `.tmp` files of `dir` (best effort).
fn clear_tmp(dir: &std::path::Path) {
    remove_matching(dir, |name| name.ends_with(".tmp"));
}

fn remove_matching(dir: &std::path::Path, matches: impl Fn(&str) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let is_file = e.file_type().is_ok_and(|t| t.is_file());
        if is_file && e.file_name().to_str().is_some_and(&matches) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn proxy_from_entity(e: &Map<String, Value>) -> Option<VirtualProxy> {
    let s = |k: &str| {
        e.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let auth = match e.get("authenticationMethod").and_then(Value::as_i64)? {
        spec::auth_method::JWT => ProxyAuth::Jwt {
            jwt_certificate: s("jwtPublicKeyCertificate"),
            jwt_audience: s("jwtAudience"),
            userid_attribute: s("jwtAttributeUserId"),
            userdirectory_attribute: s("jwtAttributeUserDirectory"),
        },
        spec::auth_method::TICKET => ProxyAuth::Ticket {
            windows_pattern: s("windowsAuthenticationEnabledDevicePattern"),
        },
        _ => return None,
    };
    Some(VirtualProxy {
        prefix: s("prefix").trim_matches('/').to_string(),
        description: s("description"),
        session_cookie_name: s("sessionCookieHeaderName"),
        auth,
    })
}

/// The `virtualproxyconfig` entity fields for a configured proxy.
pub(crate) fn proxy_entity_fields(p: &VirtualProxy) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("prefix".into(), json!(p.prefix));
    m.insert("description".into(), json!(p.description));
    m.insert(
        "sessionCookieHeaderName".into(),
        json!(p.session_cookie_name),
    );
    m.insert("defaultVirtualProxy".into(), json!(p.prefix.is_empty()));
    match &p.auth {
        ProxyAuth::Jwt {
            jwt_certificate,
            jwt_audience,
            userid_attribute,
            userdirectory_attribute,
        } => {
            m.insert("authenticationMethod".into(), json!(spec::auth_method::JWT));
            m.insert("jwtPublicKeyCertificate".into(), json!(jwt_certificate));
            m.insert("jwtAudience".into(), json!(jwt_audience));
            m.insert("jwtAttributeUserId".into(), json!(userid_attribute));
            m.insert(
                "jwtAttributeUserDirectory".into(),
                json!(userdirectory_attribute),
            );
        }
        ProxyAuth::Ticket { windows_pattern } => {
            m.insert(
                "authenticationMethod".into(),
                json!(spec::auth_method::TICKET),
            );
            m.insert(
                "windowsAuthenticationEnabledDevicePattern".into(),
                json!(windows_pattern),
            );
        }
    }
    m
}

pub fn router(state: Arc<QrsState>) -> Router {
    routes::router(state)
}

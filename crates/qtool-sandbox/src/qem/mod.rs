//! The sandbox's QEM emulator: login and sessions, servers, tasks, endpoints, ACLs.
//!
//! Interface contract (used by `sandbox/server.rs`):
//! - `QemState::new(config)` seeds a fresh QEM; `QemState::restore(config, snapshot)` reloads
//!   one; `state.generation()` counts changes; `state.snapshot()` returns the persistent state (sessions are not persisted).
//! - `state.attach_journal(journal)`: from then on every change (`bump`) marks the QEM state
//!   dirty in the journal, which records the whole state (`snapshot()`) before the change is
//!   answered; a restart restores the latest such record.
//! - `router(state)` serves `/attunityenterprisemanager/api/v1/...` (full path).
//! - `state.stats()` counts requests and logins since start (for `stats.json`).
//!
//! Modules: `session` (login, JWT, sessions), `model` (persistent state), `seed` (fresh state),
//! `routes` (path/action dispatch), `servers`, `tasks` (+ run state machine), `tables`,
//! `endpoints`, `transfer` (export/import), `audit`, `secrets` (`{Z…}` export secrets).
//! Wire decisions that the reference leaves open are marked `GAP` in the module docs and
//! collected in `docs/sandbox-qem.md`.

mod api;
mod audit;
mod endpoints;
mod model;
mod routes;
mod secrets;
mod seed;
mod servers;
mod session;
pub mod spec;
mod tables;
mod tasks;
mod transfer;
mod util;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use axum::Router;
use jsonwebtoken::DecodingKey;

use crate::error::Error;
use crate::faults::Faults;
use crate::journal::{self, Journal};
use crate::qem::spec::task_state;
use model::Store;
use session::Session;

pub use seed::SEED_SERVER;

#[derive(Debug, Clone)]
pub struct QemConfig {
    /// Active Directory users: (`DOMAIN\user`, password).
    pub users: Vec<(String, String)>,
    /// Valid OpenID Connect personal access tokens.
    pub api_tokens: Vec<String>,
    /// PEM certificate whose key signs JWTs accepted by `jwt:` logins.
    pub jwt_certificate: Option<String>,
    /// Sliding session lifetime.
    pub session_ttl: Duration,
    /// Fault injection: also decides when a session check expires the session at random.
    pub faults: Arc<Faults>,
    /// Number of Replicate tasks to seed on a fresh start.
    pub seed_tasks: usize,
}

/// A server password placeholder handed out by GetServer: valid only in the session it was
/// issued to (§5.1).
#[derive(Debug, Clone)]
pub(crate) struct Placeholder {
    pub session: String,
    pub server: String,
    pub password: String,
}

pub(crate) struct Inner {
    pub store: Store,
    pub sessions: HashMap<String, Session>,
    pub placeholders: HashMap<String, Placeholder>,
    pub next_epoch: u64,
}

pub struct QemState {
    config: QemConfig,
    jwt_key: Option<DecodingKey>,
    master_key: [u8; 32],
    inner: Mutex<Inner>,
    generation: AtomicU64,
    counters: Counters,
    /// Where changes are recorded before they are answered (none in unit tests).
    journal: OnceLock<Journal>,
}

/// What clients asked of this QEM since it started (not persisted).
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    logins: AtomicU64,
    refused_logins: AtomicU64,
}

/// Request counts since start, for `stats.json`: what a client costs the server, whatever the
/// client (benchmarks compare tools by it). Requests failed by fault injection before reaching
/// the emulator (503, dropped connection) are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QemStats {
    /// Every request that reached the emulator, logins and errors included.
    pub requests: u64,
    /// Successful logins (new sessions).
    pub logins: u64,
    /// Logins answered 401.
    pub refused_logins: u64,
}

impl QemState {
    pub fn new(config: QemConfig) -> crate::error::Result<Arc<QemState>> {
        let store = seed::seed_store(config.seed_tasks);
        Self::from_store(config, store)
    }

    pub fn restore(
        config: QemConfig,
        snapshot: serde_json::Value,
    ) -> crate::error::Result<Arc<QemState>> {
        if snapshot.is_null() {
            return Self::new(config);
        }
        let mut store: Store = serde_json::from_value(snapshot).map_err(|e| {
            Error::state(format!("the saved QEM sandbox state is not readable: {e}"))
                .with_hint("delete the sandbox state directory to start from a fresh QEM")
        })?;
        let now = util::unix_now();
        for server in store.servers.iter_mut() {
            settle(server, now);
        }
        for task in store.servers.iter_mut().flat_map(|s| s.tasks.iter_mut()) {
            if task.is_running() && !task.apply_changes_enabled() {
                // A full-load-only task finishes by itself; its timer did not survive.
                task.state = task_state::STOPPED.to_string();
                task.stop_reason = "FULL_LOAD_ONLY_FINISHED".to_string();
                task.stats.started_at = None;
            }
            if task.is_running() && task.stats.started_at.is_none() {
                task.stats.started_at = Some(now);
            }
        }
        Self::from_store(config, store)
    }

    fn from_store(config: QemConfig, store: Store) -> crate::error::Result<Arc<QemState>> {
        let jwt_key = session::jwt_key(&config)?;
        let master_key = seed::unhex32(&store.master_key).ok_or_else(|| {
            Error::state("the saved QEM sandbox state has no valid master key")
                .with_hint("delete the sandbox state directory to start from a fresh QEM")
        })?;
        Ok(Arc::new(QemState {
            config,
            jwt_key,
            master_key,
            inner: Mutex::new(Inner {
                store,
                sessions: HashMap::new(),
                placeholders: HashMap::new(),
                next_epoch: 1,
            }),
            generation: AtomicU64::new(0),
            counters: Counters::default(),
            journal: OnceLock::new(),
        }))
    }

    /// The persistent state. A task in a transition is saved as where it is heading
    /// (STARTING → RUNNING, STOPPING → STOPPED).
    pub fn snapshot(&self) -> serde_json::Value {
        let mut store = self.lock().store.clone();
        let now = util::unix_now();
        for server in store.servers.iter_mut() {
            settle(server, now);
        }
        serde_json::to_value(&store).unwrap_or(serde_json::Value::Null)
    }

    /// Incremented on every change, so the front door snapshots only when something changed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Request counts since start.
    pub fn stats(&self) -> QemStats {
        let c = &self.counters;
        QemStats {
            requests: c.requests.load(Ordering::Relaxed),
            logins: c.logins.load(Ordering::Relaxed),
            refused_logins: c.refused_logins.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count_request(&self) {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_login(&self, accepted: bool) {
        let counter = if accepted {
            &self.counters.logins
        } else {
            &self.counters.refused_logins
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(journal) = self.journal.get() {
            journal.mark_dirty(journal::Kind::Qem);
        }
    }

    /// Record every later change in `journal` (as a whole state, taken when the journal writes)
    /// before it is answered.
    pub fn attach_journal(self: &Arc<Self>, journal: Journal) {
        let state = Arc::downgrade(self);
        journal.set_image_source(
            journal::Kind::Qem,
            Box::new(move || {
                let image = state.upgrade()?.snapshot();
                // Null is what a failed serialisation gives: never record it as the state.
                (!image.is_null()).then(|| serde_json::to_vec(&image).ok())?
            }),
        );
        let _ = self.journal.set(journal);
    }

    /// Run `f` under the lock; a successful result counts as a change.
    pub(crate) fn mutate<R>(
        &self,
        f: impl FnOnce(&mut Inner) -> api::ApiResult<R>,
    ) -> api::ApiResult<R> {
        let result = {
            let mut inner = self.lock();
            f(&mut inner)
        };
        if result.is_ok() {
            self.bump();
        }
        result
    }
}

/// Transitions in flight settle to their destination (used for snapshots and restores), with
/// the same bookkeeping the timers do.
fn settle(server: &mut model::Server, now: i64) {
    let names: Vec<String> = server.tasks.iter().map(|t| t.name.clone()).collect();
    for name in names {
        let failure = tasks::unreachable_endpoint(server, &name);
        let Some(task) = server.task_mut(&name) else {
            continue;
        };
        let step = match task.state.as_str() {
            task_state::STARTING => tasks::Step::Started,
            task_state::STOPPING => tasks::Step::Stopped,
            _ => continue,
        };
        tasks::advance(task, step, now, failure);
    }
}

pub fn router(state: Arc<QemState>) -> Router {
    Router::new().fallback(routes::handle).with_state(state)
}

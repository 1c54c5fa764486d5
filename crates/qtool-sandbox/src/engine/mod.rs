//! The sandbox's Qlik associative engine (QIX): JSON-RPC 2.0 over WebSocket, served behind every
//! virtual proxy (`wss://host/{prefix}/app/{id}`, authenticated like the repository behind that
//! proxy) and on a certificate port like 4747 (mutual TLS, `X-Qlik-User`).
//!
//! Apps are the repository's apps: the engine opens an app from the same `.qvf` file the QRS
//! emulator uploads and exports (format: [`qvf`]), and `DoSave` writes that file back and
//! updates the app's `modifiedDate`, `fileSize` and `lastReloadTime` in the repository. Data
//! connections are the repository's data connections, as on QSEoW.
//!
//! Layout: [`spec`] (error codes, message codes, versions), [`methods`] (the method table,
//! checked against the vendored enigma.js schema), [`rpc`] (frames, delta patches),
//! [`session`] (sessions, handles, sockets), [`socket`] (upgrade and the socket loop),
//! [`dispatch`] (request to answer), [`app`] (the in-memory app), [`layout`] (GetLayout),
//! [`script`] (syntax check, expressions, reloads); the handlers are in [`global`], [`doc`],
//! [`objects`] and [`connections`]. Decisions and their sources: docs/sandbox-engine.md.

pub mod app;
pub mod connections;
pub mod dispatch;
pub mod doc;
pub mod global;
pub mod layout;
pub mod methods;
pub mod objects;
pub mod qvf;
pub mod rpc;
pub mod script;
pub mod session;
pub mod socket;
pub mod spec;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::{Value, json};

use crate::faults::Faults;
use crate::identity::Identity;
use crate::qrs::{self, QrsState};
use app::AppModel;
use dispatch::News;
use qvf::DataModel;
use rpc::HandleNews;
use session::{Session, SessionKey, SessionState, SocketLink, Target, lock};
use spec::{ErrorCode, QixError};

pub use socket::{Via, is_app_path, login_required, origin_of, port_router, upgrade};

/// What a save tells the repository about the app it wrote.
struct SavedApp {
    items: Vec<qrs::objects::EngineItem>,
    size: u64,
    name: String,
    description: Option<String>,
    reloaded: Option<String>,
}

/// An app open in the engine, shared by every session that opened it.
pub struct LoadedApp {
    pub id: String,
    pub model: Mutex<AppModel>,
    /// The data model stored in the file of an app opened without data (kept when it is saved).
    stored_data: Option<DataModel>,
}

pub struct Engine {
    pub(crate) qrs: Arc<QrsState>,
    pub(crate) faults: Arc<Faults>,
    sessions: Mutex<HashMap<SessionKey, Arc<Session>>>,
    apps: Mutex<HashMap<String, Weak<LoadedApp>>>,
    next_id: AtomicU64,
    /// Multiplies the simulated duration of reload steps (tests speed reloads up).
    reload_pace: Mutex<f64>,
}

impl Engine {
    pub fn new(qrs: Arc<QrsState>, faults: Arc<Faults>) -> Arc<Engine> {
        Arc::new(Engine {
            qrs,
            faults,
            sessions: Mutex::new(HashMap::new()),
            apps: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            reload_pace: Mutex::new(1.0),
        })
    }

    /// Scale the simulated duration of reload steps (0 = as fast as possible).
    pub fn set_reload_pace(&self, pace: f64) {
        *lock(&self.reload_pace) = pace.max(0.0);
    }

    pub(crate) fn reload_pace(&self) -> f64 {
        *lock(&self.reload_pace)
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Join the session `key` names, or start one. `true`: an existing session was joined.
    pub(crate) fn attach(
        &self,
        key: SessionKey,
        user: Identity,
        url_app: Option<String>,
        ttl: Duration,
        link: Arc<SocketLink>,
    ) -> (Arc<Session>, bool) {
        let mut sessions = lock(&self.sessions);
        if let Some(existing) = sessions.get(&key) {
            let mut st = lock(&existing.state);
            if !st.ended {
                st.sockets.push(link);
                st.generation += 1;
                drop(st);
                return (existing.clone(), true);
            }
        }
        let session = Arc::new(Session {
            id: self.next_id(),
            key: key.clone(),
            user,
            url_app,
            ttl,
            state: Mutex::new(SessionState::with_socket(link)),
        });
        sessions.insert(key, session.clone());
        (session, false)
    }

    /// A socket closed: end the session when it was the last one (after the session's TTL).
    pub(crate) fn detach(self: &Arc<Self>, session: &Arc<Session>, socket: u64) {
        let generation = {
            let mut st = lock(&session.state);
            st.sockets.retain(|s| s.id != socket);
            if !st.sockets.is_empty() {
                return;
            }
            st.generation
        };
        if session.ttl.is_zero() {
            self.end_session(session);
            return;
        }
        let (engine, session) = (self.clone(), session.clone());
        tokio::spawn(async move {
            tokio::time::sleep(session.ttl).await;
            let idle = {
                let st = lock(&session.state);
                st.sockets.is_empty() && st.generation == generation
            };
            if idle {
                engine.end_session(&session);
            }
        });
    }

    fn end_session(&self, session: &Arc<Session>) {
        let mut sessions = lock(&self.sessions);
        if sessions
            .get(&session.key)
            .is_some_and(|s| Arc::ptr_eq(s, session))
        {
            sessions.remove(&session.key);
        }
        drop(sessions);
        let mut st = lock(&session.state);
        st.ended = true;
        st.doc = None;
        st.session_objects = app::Tree::default();
    }

    /// Number of live sessions (for tests and the status of a running sandbox).
    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// Open app `app_id` (shared with every session that has it open).
    pub(crate) async fn open_app(
        &self,
        app_id: &str,
        no_data: bool,
    ) -> Result<Arc<LoadedApp>, QixError> {
        let id = app_id.trim().to_ascii_lowercase();
        if let Some(app) = self.loaded(&id) {
            if lock(&app.model).no_data != no_data {
                return Err(QixError::new(ErrorCode::AppOpenInDifferentMode, app_id));
            }
            return Ok(app);
        }
        let Some(entity) = self.qrs.read().get("app", &id) else {
            return Err(QixError::new(ErrorCode::AppNotFound, app_id));
        };
        let path = qrs::apps::ensure_file(&self.qrs, &id).await.map_err(|e| {
            QixError::new(
                ErrorCode::AppInvalid,
                format!("cannot read the app file: {e}"),
            )
        })?;
        let read = tokio::task::spawn_blocking(move || qvf::read_document(&path))
            .await
            .map_err(|e| QixError::new(ErrorCode::AppInvalid, e.to_string()))?
            .map_err(|e| {
                QixError::new(
                    ErrorCode::AppInvalid,
                    format!("cannot read the app file: {e}"),
                )
            })?;
        let text = |k: &str| {
            entity
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let stored_data = read
            .as_ref()
            .filter(|_| no_data)
            .map(|d| d.data_model.clone());
        let mut model = match read {
            Some(doc) => AppModel::from_document(&id, doc, no_data),
            None => {
                let mut m = AppModel::empty(&id, "", false);
                m.no_data = no_data;
                m
            }
        };
        // The repository is authoritative for what the QMC shows: name, description, reload time.
        model
            .properties
            .insert("qTitle".into(), json!(text("name")));
        model
            .properties
            .insert("description".into(), json!(text("description")));
        let reloaded = text("lastReloadTime");
        if !reloaded.is_empty() && reloaded != qrs::spec::NEVER_DATE {
            model
                .properties
                .insert("qLastReloadTime".into(), json!(reloaded));
        }
        let app = Arc::new(LoadedApp {
            id: id.clone(),
            model: Mutex::new(model),
            stored_data,
        });
        let mut apps = lock(&self.apps);
        if let Some(existing) = apps.get(&id).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        apps.retain(|_, w| w.strong_count() > 0);
        apps.insert(id, Arc::downgrade(&app));
        Ok(app)
    }

    fn loaded(&self, id: &str) -> Option<Arc<LoadedApp>> {
        lock(&self.apps).get(id).and_then(Weak::upgrade)
    }

    /// A session app: in memory only, gone with its session.
    pub(crate) fn session_app(&self) -> Arc<LoadedApp> {
        let id = format!("SessionApp_{}", uuid::Uuid::new_v4());
        Arc::new(LoadedApp {
            id: id.clone(),
            model: Mutex::new(AppModel::empty(&id, "", true)),
            stored_data: None,
        })
    }

    /// Write the app to its file and tell the repository (modifiedDate, fileSize, name,
    /// description, lastReloadTime).
    pub(crate) async fn save_app(
        &self,
        app: &Arc<LoadedApp>,
        by: &Identity,
    ) -> Result<(), QixError> {
        let doc = {
            let model = lock(&app.model);
            if model.session_app {
                return Err(QixError::new(ErrorCode::NotForSessionApp, "DoSave"));
            }
            model.to_document(app.stored_data.as_ref())
        };
        if !self.qrs.read().contains("app", &app.id) {
            return Err(QixError::new(ErrorCode::AppNotFound, app.id.clone()));
        }
        let path = self.qrs.app_file(&app.id);
        let data_len = doc.data_model.data_bytes();
        let (name, description, reloaded) = (
            doc.properties
                .get("qTitle")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            doc.properties
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            doc.data_model.last_reload_time.clone(),
        );
        let items = qvf::repository_items(&doc);
        let seed = app.id.clone();
        let size =
            tokio::task::spawn_blocking(move || qvf::write_file(&path, &doc, &seed, data_len))
                .await
                .map_err(|e| QixError::new(ErrorCode::AppSaveFailed, e.to_string()))?
                .map_err(|e| QixError::new(ErrorCode::AppSaveFailed, e.to_string()))?;
        lock(&app.model).modified = false;
        // As an HTTP write does, the answer waits until the repository's change is in the journal
        // on disk (a WebSocket call is not inside the listener's request tracking).
        let saved = SavedApp {
            items,
            size,
            name,
            description,
            reloaded,
        };
        let ((), recorded) =
            crate::journal::track(async { self.record_save(app, by, saved) }).await;
        recorded
            .durable()
            .await
            .map_err(|e| QixError::new(ErrorCode::AppSaveFailed, e.to_string()))
    }

    /// The repository side of a save: the app's objects and its row.
    fn record_save(&self, app: &LoadedApp, by: &Identity, saved: SavedApp) {
        let SavedApp {
            items,
            size,
            name,
            description,
            reloaded,
        } = saved;
        crate::qrs::routes::ensure_user(&self.qrs, by);
        self.qrs.mutate(|s| {
            let owner = crate::qrs::routes::caller_user_id(s, by);
            qrs::objects::sync_with_engine(
                s,
                &app.id,
                &items,
                owner.as_deref(),
                &by.display_name(),
            );
        });
        qrs::apps::touch_app(&self.qrs, &app.id, &by.display_name(), |a| {
            a.insert("fileSize".into(), json!(size));
            if !name.trim().is_empty() {
                a.insert("name".into(), json!(name));
            }
            if let Some(d) = description {
                a.insert("description".into(), json!(d));
            }
            if let Some(r) = reloaded {
                a.insert("lastReloadTime".into(), json!(r));
            }
        });
    }

    /// Tell every session of the app what `news` says; returns what the originating socket gets
    /// with its answer (the other sockets get a frame of their own).
    pub(crate) fn publish(&self, news: &News, origin: u64) -> HandleNews {
        let mut own = HandleNews::default();
        let Some(app_id) = &news.app else {
            return own;
        };
        if news.is_empty() {
            return own;
        }
        let sessions: Vec<Arc<Session>> = lock(&self.sessions).values().cloned().collect();
        for session in sessions {
            if news.session_only.is_some_and(|id| id != session.id) {
                continue;
            }
            let (change, close, sockets) = {
                let mut st = lock(&session.state);
                if st.doc.as_ref().is_none_or(|d| &d.id != app_id) {
                    continue;
                }
                let mut change: Vec<i64> = if news.everything {
                    st.all_handles()
                        .filter(|(_, t)| **t != Target::Global)
                        .map(|(h, _)| h)
                        .collect()
                } else {
                    news.changed
                        .iter()
                        .filter_map(|t| st.handle_of(t))
                        .collect()
                };
                let close: Vec<i64> = news.closed.iter().filter_map(|t| st.release(t)).collect();
                change.retain(|h| !close.contains(h));
                change.sort_unstable();
                change.dedup();
                (change, close, st.sockets.clone())
            };
            if change.is_empty() && close.is_empty() {
                continue;
            }
            for socket in sockets {
                socket.forget_handles(&close);
                let mine = HandleNews {
                    change: change.clone(),
                    close: close.clone(),
                };
                if socket.id == origin {
                    own = mine;
                } else {
                    socket.send(rpc::news_frame(&mine));
                }
            }
        }
        own
    }
}

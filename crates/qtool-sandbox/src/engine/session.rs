//! Engine sessions and their sockets. A session is one user with one app (or none yet), keyed
//! like the engine keys them: the listener, the user, and the URL path (`/app/<id>`,
//! `/identity/<x>`). A second socket with the same key attaches to the session
//! (`SESSION_ATTACHED`) and shares its handles; `/ttl/<seconds>` keeps a session after its last
//! socket closed (qlik.dev "Session sharing"; help.qlik.com "Connecting to the Qlik Engine JSON
//! API").

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc;

use super::LoadedApp;
use super::app::Tree;
use super::methods::Class;
use super::spec::{DOC_HANDLE, Progress};
use crate::identity::Identity;

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a handle stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Global,
    Doc,
    Object(String),
    Dimension(String),
    Measure(String),
    Variable(String),
    Bookmark(String),
}

impl Target {
    pub fn class(&self) -> Class {
        match self {
            Target::Global => Class::Global,
            Target::Doc => Class::Doc,
            Target::Object(_) => Class::GenericObject,
            Target::Dimension(_) => Class::GenericDimension,
            Target::Measure(_) => Class::GenericMeasure,
            Target::Variable(_) => Class::GenericVariable,
            Target::Bookmark(_) => Class::GenericBookmark,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Target::Global | Target::Doc => "",
            Target::Object(id)
            | Target::Dimension(id)
            | Target::Measure(id)
            | Target::Variable(id)
            | Target::Bookmark(id) => id,
        }
    }
}

/// Which sessions share state: same listener, user and URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub listener: String,
    pub user: String,
    pub app: String,
    pub identity: String,
}

pub struct Session {
    pub id: u64,
    pub key: SessionKey,
    pub user: Identity,
    /// The app id of the URL, if it named one.
    pub url_app: Option<String>,
    pub ttl: Duration,
    pub state: Mutex<SessionState>,
}

#[derive(Default)]
pub struct SessionState {
    pub doc: Option<Arc<LoadedApp>>,
    handles: HashMap<i64, Target>,
    by_target: HashMap<Target, i64>,
    next_handle: i64,
    pub sockets: Vec<Arc<SocketLink>>,
    /// Session objects (`CreateSessionObject`): live as long as the session, seen by it alone.
    pub session_objects: Tree,
    /// Bumped whenever a socket attaches, so a pending TTL expiry knows it is stale.
    pub generation: u64,
    /// The reload this session runs, if any.
    pub reload: Option<RunningReload>,
    /// Set once the session ended; a late socket must open a new one.
    pub ended: bool,
}

/// A reload in progress, for AbortRequest / AbortAll / CancelReload.
pub struct RunningReload {
    pub socket: u64,
    pub request: Option<i64>,
    pub cancel: Arc<std::sync::atomic::AtomicBool>,
}

impl SessionState {
    pub fn with_socket(link: Arc<SocketLink>) -> SessionState {
        SessionState {
            sockets: vec![link],
            ..SessionState::default()
        }
    }

    /// The handle of `target` in this session, allocated on first use. The doc is always 1.
    pub fn handle_for(&mut self, target: Target) -> i64 {
        if let Some(h) = self.by_target.get(&target) {
            return *h;
        }
        let h = if target == Target::Doc {
            DOC_HANDLE
        } else {
            self.next_handle = self.next_handle.max(DOC_HANDLE) + 1;
            self.next_handle
        };
        self.handles.insert(h, target.clone());
        self.by_target.insert(target, h);
        h
    }

    pub fn target(&self, handle: i64) -> Option<&Target> {
        self.handles.get(&handle)
    }

    pub fn handle_of(&self, target: &Target) -> Option<i64> {
        self.by_target.get(target).copied()
    }

    /// Forget `target`'s handle (its object was destroyed); returns the handle.
    pub fn release(&mut self, target: &Target) -> Option<i64> {
        let h = self.by_target.remove(target)?;
        self.handles.remove(&h);
        Some(h)
    }

    /// Every handle except the Global one, with its target.
    pub fn all_handles(&self) -> impl Iterator<Item = (i64, &Target)> {
        self.handles.iter().map(|(h, t)| (*h, t))
    }
}

/// What goes out on a socket.
pub enum Outbound {
    /// A text frame, not before `due`.
    Frame { due: Instant, text: String },
    /// Send a close frame after what is queued, then stop.
    Close,
    /// Close the connection without a close frame (injected fault).
    Kill,
}

/// Progress of one reload request, as `GetProgress` reports it.
#[derive(Default)]
pub struct ReloadProgress {
    pub state: Mutex<ProgressState>,
}

#[derive(Default)]
pub struct ProgressState {
    pub started: Option<Instant>,
    pub finished: bool,
    pub completed: u64,
    pub total: u64,
    /// Persistent lines so far, with message codes.
    pub lines: Vec<(Progress, String)>,
    /// Lines already returned to the client (GetProgress returns what is new).
    pub delivered: usize,
    pub transient: Option<(Progress, String)>,
    /// ErrorData entries not yet returned.
    pub errors: Vec<Value>,
}

/// One WebSocket of a session.
pub struct SocketLink {
    pub id: u64,
    tx: mpsc::UnboundedSender<Outbound>,
    latency: Duration,
    /// Last value sent per `(handle, "Method-outKey")` for delta answers.
    pub delta: Mutex<HashMap<(i64, String), Value>>,
    /// Reload progress by request id; `latest` answers `GetProgress(0)`.
    pub progress: Mutex<ProgressTable>,
}

#[derive(Default)]
pub struct ProgressTable {
    pub by_request: HashMap<i64, Arc<ReloadProgress>>,
    pub latest: Option<Arc<ReloadProgress>>,
}

impl SocketLink {
    pub fn new(id: u64, tx: mpsc::UnboundedSender<Outbound>, latency: Duration) -> SocketLink {
        SocketLink {
            id,
            tx,
            latency,
            delta: Mutex::new(HashMap::new()),
            progress: Mutex::new(ProgressTable::default()),
        }
    }

    /// Queue a frame, delayed by the configured latency from now.
    pub fn send(&self, text: String) {
        let _ = self.tx.send(Outbound::Frame {
            due: Instant::now() + self.latency,
            text,
        });
    }

    /// Queue a frame to go out at once (the first notification after the upgrade).
    pub fn send_now(&self, text: String) {
        let _ = self.tx.send(Outbound::Frame {
            due: Instant::now(),
            text,
        });
    }

    pub fn close(&self) {
        let _ = self.tx.send(Outbound::Close);
    }

    pub fn kill(&self) {
        let _ = self.tx.send(Outbound::Kill);
    }

    /// Drop delta caches of closed handles.
    pub fn forget_handles(&self, closed: &[i64]) {
        if closed.is_empty() {
            return;
        }
        lock(&self.delta).retain(|(h, _), _| !closed.contains(h));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_reused_and_released() {
        let mut st = SessionState::default();
        assert_eq!(st.handle_for(Target::Doc), 1);
        let a = st.handle_for(Target::Object("a".into()));
        assert_eq!(a, 2);
        assert_eq!(st.handle_for(Target::Object("a".into())), 2);
        assert_eq!(st.handle_for(Target::Dimension("a".into())), 3);
        assert_eq!(st.release(&Target::Object("a".into())), Some(2));
        assert_eq!(st.target(2), None);
        assert_eq!(st.handle_for(Target::Object("a".into())), 4);
    }
}

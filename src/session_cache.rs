//! Server sessions cached per context (0600 files in the cache dir), so consecutive runs reuse a
//! live session instead of logging in each time: QEM session ids (QEM expires a session 5 minutes
//! after its last request) and the QSEoW proxy's session cookie of Windows logins (30 minutes
//! idle by default). A stale session is detected by the server and replaced by a new login.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::input::{InputKind, InputSource};
use crate::storage::{self, Sensitivity};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedSession {
    /// Server URL the session belongs to (a context pointed elsewhere must not reuse it).
    pub server: String,
    /// The QEM session id, or the proxy's session cookie (`name=value`).
    pub session_id: String,
    /// Unix seconds of the last successful use.
    pub last_used: u64,
}

/// Which server's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// QEM session ids.
    Qem,
    /// QSEoW proxy session cookies of Windows (NTLM) logins.
    QseowProxy,
}

impl SessionKind {
    pub const ALL: [SessionKind; 2] = [SessionKind::Qem, SessionKind::QseowProxy];

    fn dir_name(self) -> &'static str {
        match self {
            SessionKind::Qem => "qem-sessions",
            SessionKind::QseowProxy => "qseow-sessions",
        }
    }
}

/// The cache directory's session files; without a directory nothing is cached.
#[derive(Debug, Clone, Default)]
pub struct SessionCache {
    dir: Option<PathBuf>,
}

impl SessionCache {
    /// Sessions of `kind` under `<cache_dir>/<kind>-sessions/`.
    pub fn new(cache_dir: Option<&Path>, kind: SessionKind) -> SessionCache {
        SessionCache {
            dir: cache_dir.map(|d| d.join(kind.dir_name())),
        }
    }

    fn path_for(&self, context: &str) -> Option<PathBuf> {
        // Hex-encode the name: context names may contain characters that are not file-name safe.
        let hex: String = context.bytes().map(|b| format!("{b:02x}")).collect();
        self.dir.as_ref().map(|d| d.join(format!("{hex}.json")))
    }

    pub fn load(&self, context: &str, server: &str) -> Option<CachedSession> {
        let path = self.path_for(context)?;
        let text = InputSource::File(path)
            .read_to_string(InputKind::Config)
            .ok()?;
        let session: CachedSession = serde_json::from_str(&text).ok()?;
        (session.server == server).then_some(session)
    }

    pub fn save(&self, context: &str, session: &CachedSession) {
        let Some(path) = self.path_for(context) else {
            return;
        };
        if let Ok(text) = serde_json::to_vec(session) {
            // A cache: failing to write it only costs a login next time.
            if let Err(e) = storage::atomic_write(&path, &text, Sensitivity::Secret) {
                tracing::debug!("could not cache the session: {e}");
            }
        }
    }

    pub fn forget(&self, context: &str) {
        if let Some(path) = self.path_for(context) {
            let _ = std::fs::remove_file(path);
        }
    }
}

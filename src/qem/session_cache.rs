//! QEM session ids cached per context (0600 files in the cache dir), so consecutive runs reuse a
//! live session instead of logging in each time. QEM expires a session 5 minutes after its last
//! request; a stale id is detected by the server (`INVALID_SESSION_ID`) and replaced.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::storage::{self, Sensitivity};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedSession {
    /// Server URL the session belongs to (a context pointed elsewhere must not reuse it).
    pub server: String,
    pub session_id: String,
    /// Unix seconds of the last successful use.
    pub last_used: u64,
}

fn path_for(context: &str) -> Option<PathBuf> {
    // Hex-encode the name: context names may contain characters that are not file-name safe.
    let hex: String = context.bytes().map(|b| format!("{b:02x}")).collect();
    storage::cache_dir()
        .ok()
        .map(|d| d.join("qem-sessions").join(format!("{hex}.json")))
}

pub fn load(context: &str, server: &str) -> Option<CachedSession> {
    let path = path_for(context)?;
    let text = std::fs::read_to_string(path).ok()?;
    let session: CachedSession = serde_json::from_str(&text).ok()?;
    (session.server == server).then_some(session)
}

pub fn save(context: &str, session: &CachedSession) {
    let Some(path) = path_for(context) else {
        return;
    };
    if let Ok(text) = serde_json::to_vec(session) {
        // A cache: failing to write it only costs a login next time.
        if let Err(e) = storage::atomic_write(&path, &text, Sensitivity::Secret) {
            tracing::debug!("could not cache the QEM session: {e}");
        }
    }
}

pub fn forget(context: &str) {
    if let Some(path) = path_for(context) {
        let _ = std::fs::remove_file(path);
    }
}

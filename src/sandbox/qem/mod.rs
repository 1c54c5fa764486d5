//! The sandbox's QEM emulator: login and sessions, servers, tasks, endpoints, ACLs.
//!
//! Interface contract (used by `sandbox/server.rs`):
//! - `QemState::new(config)` seeds a fresh QEM; `QemState::restore(config, snapshot)` reloads
//!   one; `state.generation()` counts changes; `state.snapshot()` returns the persistent state (sessions are not persisted).
//! - `router(state)` serves `/attunityenterprisemanager/api/v1/...` (full path).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;

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
    /// Probability of expiring a session at random (fault injection).
    pub fault_rate: f64,
    /// Number of Replicate tasks to seed on a fresh start.
    pub seed_tasks: usize,
}

pub struct QemState {
    _config: QemConfig,
}

impl QemState {
    pub fn new(config: QemConfig) -> crate::error::Result<Arc<QemState>> {
        Ok(Arc::new(QemState { _config: config }))
    }

    pub fn restore(
        config: QemConfig,
        _snapshot: serde_json::Value,
    ) -> crate::error::Result<Arc<QemState>> {
        Self::new(config)
    }

    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Incremented on every change, so the front door snapshots only when something changed.
    pub fn generation(&self) -> u64 {
        0
    }
}

pub fn router(_state: Arc<QemState>) -> Router {
    Router::new()
}

//! The sandbox's QRS emulator: entities, filter language, apps, tasks. Mounted by the sandbox's
//! front door under every virtual proxy prefix and on the certificate port; each request
//! carries the caller's [`Identity`](super::identity::Identity) as an extension.
//!
//! Interface contract (used by `sandbox/server.rs`):
//! - `QrsState::new(config)` seeds a fresh repository; `QrsState::restore(config, snapshot)`
//!   reloads one; `state.snapshot()` returns everything but app file contents (those live as
//!   files under `config.data_dir`).
//! - `state.virtual_proxies()` lists the virtual proxies (from `virtualproxyconfig` entities) so
//!   the front door can route and authenticate by prefix.
//! - `router(state)` serves `/qrs/...` and `/tempcontent/...` (paths without the proxy prefix).

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;

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
    /// Forms login page, users from the sandbox's forms user list.
    Forms,
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
    /// Virtual proxies created as `virtualproxyconfig` entities on a fresh start.
    pub virtual_proxies: Vec<VirtualProxy>,
}

pub struct QrsState {
    config: QrsConfig,
}

impl QrsState {
    pub fn new(config: QrsConfig) -> crate::error::Result<Arc<QrsState>> {
        Ok(Arc::new(QrsState { config }))
    }

    pub fn restore(
        config: QrsConfig,
        _snapshot: serde_json::Value,
    ) -> crate::error::Result<Arc<QrsState>> {
        Self::new(config)
    }

    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Incremented on every change, so the front door snapshots only when something changed.
    pub fn generation(&self) -> u64 {
        0
    }

    pub fn virtual_proxies(&self) -> Vec<VirtualProxy> {
        self.config.virtual_proxies.clone()
    }
}

pub fn router(_state: Arc<QrsState>) -> Router {
    Router::new()
}

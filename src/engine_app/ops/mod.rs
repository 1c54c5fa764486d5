//! Engine operations on one open app: each takes a [`Doc`] (or what opens one) and typed
//! options, and returns data. Requests that do not depend on each other are issued together on
//! the one socket (up to [`IN_FLIGHT`] at a time), so an app with thousands of objects costs a
//! few round trips, not thousands.

pub(crate) mod build;
pub(crate) mod connections;
pub(crate) mod entities;
pub(crate) mod folder;
pub(crate) mod reload;
pub(crate) mod script;
pub(crate) mod unbuild;

use std::future::Future;

use futures_util::{StreamExt, TryStreamExt};

use crate::error::{ErrorClass, Result};
use crate::qix::{ConnectOptions, Doc, EngineUrl};
use crate::qrs::client::QrsClient;
use crate::qrs::ops::generic;
use crate::qrs::resources::ResourceKind;
use crate::session_cache::SessionCache;
use crate::settings::{Auth, Target};

/// Requests in flight at once on the socket: enough to hide the round trip of a distant server
/// (1,000 objects in one wave), few enough to keep memory bounded whatever the size of the app.
pub(crate) const IN_FLIGHT: usize = 1024;

/// Where and how to open apps.
#[derive(Debug, Clone)]
pub(crate) struct EngineTarget {
    pub target: Target,
    pub engine: EngineUrl,
    /// `--ttl` and `--traffic`.
    pub connect: ConnectOptions,
    /// `--no-data`: open without loading the data model.
    pub no_data: bool,
    /// Where the proxy's Windows sessions are kept across runs (NTLM contexts).
    pub sessions: SessionCache,
}

impl EngineTarget {
    /// The repository client, when opening `app` needs one: to find an app by name, or to log
    /// in for a Windows context. An app id with other credentials goes straight to the engine.
    fn repository(&self, app: &str) -> Result<Option<QrsClient>> {
        let windows = matches!(self.target.auth, Auth::Ntlm { .. });
        if crate::qrs::filter::is_guid(app) && !windows {
            return Ok(None);
        }
        let qrs = QrsClient::new(&self.target)?.with_session_cache(self.sessions.clone());
        Ok(Some(qrs))
    }
}

/// The app id of `app`: a GUID as it is, else the one app with exactly that name (QRS).
async fn resolve_app(qrs: Option<&QrsClient>, app: &str) -> Result<String> {
    match qrs {
        Some(qrs) if !crate::qrs::filter::is_guid(app) => {
            let found = generic::one_by_name(qrs, ResourceKind::App, app).await?;
            Ok(crate::output::cell(&found, "id"))
        }
        _ => Ok(app.to_string()),
    }
}

/// Resolve `app`, connect and open it.
pub(crate) async fn open(engine: &EngineTarget, app: &str) -> Result<Doc> {
    let qrs = engine.repository(app)?;
    let id = resolve_app(qrs.as_ref(), app).await?;
    let options = ConnectOptions {
        app: id.clone(),
        ..engine.connect.clone()
    };
    let windows_session = match &qrs {
        Some(qrs) => qrs.windows_session(None).await?,
        None => None,
    };
    let (Some(qrs), Some(cookie)) = (&qrs, windows_session) else {
        return open_doc(engine, &engine.target, &options).await;
    };
    // A WebSocket cannot answer NTLM's challenge, so a Windows context opens the engine with
    // the proxy session the repository client logged in to (as a browser does); a session the
    // proxy has ended meanwhile is replaced by one new login.
    let with_cookie = |cookie: String| Target {
        auth: Auth::Cookie(cookie),
        ..engine.target.clone()
    };
    match open_doc(engine, &with_cookie(cookie.clone()), &options).await {
        Err(e) if e.class() == ErrorClass::Auth => {
            let renewed = qrs
                .windows_session(Some(&cookie))
                .await?
                .unwrap_or_default();
            open_doc(engine, &with_cookie(renewed), &options).await
        }
        other => other,
    }
}

async fn open_doc(engine: &EngineTarget, target: &Target, options: &ConnectOptions) -> Result<Doc> {
    let session = crate::qix::connect::open(target, &engine.engine, options).await?;
    Doc::open(session, &options.app, engine.no_data).await
}

/// `f` over `items`, [`IN_FLIGHT`] at a time, results in the order of `items`.
pub(crate) async fn pipelined<T, R, F, Fut>(items: Vec<T>, f: F) -> Result<Vec<R>>
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Result<R>>,
{
    pipelined_by(IN_FLIGHT, items, f).await
}

/// [`pipelined`] with `limit` at a time (work that holds much memory per item).
pub(crate) async fn pipelined_by<T, R, F, Fut>(limit: usize, items: Vec<T>, f: F) -> Result<Vec<R>>
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Result<R>>,
{
    futures_util::stream::iter(items)
        .map(f)
        .buffered(limit)
        .try_collect()
        .await
}

/// `f` over `items`, [`IN_FLIGHT`] at a time, results in the order they finish (what is done
/// is dropped at once: memory holds what is in flight).
pub(crate) async fn pipelined_unordered<T, R, F, Fut>(items: Vec<T>, f: F) -> Result<Vec<R>>
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Result<R>>,
{
    futures_util::stream::iter(items)
        .map(f)
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await
}

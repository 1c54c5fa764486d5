//! Windows authentication for the QRS client: at most one NTLM login per run, whatever the
//! number of requests, and none while a cached session cookie is alive.
//!
//! The proxy's session cookie is cached per context (0600, [`SessionCache`]) and reused by the
//! next runs until it has been idle for [`SESSION_IDLE_SECS`] (QSEoW's default inactivity
//! timeout). A request the proxy turns away despite the cookie (a redirect to its authentication
//! module or a login page, or a 401) means the session ended: the cookie is dropped, the client
//! logs in again, once, and repeats the request, which the proxy never passed on.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode, Url};

use crate::error::{ErrorClass, Result};
use crate::http::{self, ClientOptions, ntlm};
use crate::session_cache::{CachedSession, SessionCache};

/// A cached cookie idle longer than this is not tried (QSEoW's default session inactivity
/// timeout is 30 minutes).
pub(crate) const SESSION_IDLE_SECS: u64 = 30 * 60;

pub(crate) struct WindowsLogin {
    credentials: ntlm::Credentials,
    options: ClientOptions,
    /// A GET of the repository through the proxy (`qrs/about` with the Xrfkey).
    url: Url,
    headers: HeaderMap,
    /// `--retries`, for each request of the login and for the login as a whole.
    retries: u32,
    cache: SessionCache,
    cache_key: String,
    /// The proxy and user a cached cookie belongs to.
    cache_server: String,
    /// One login at a time: concurrent requests wait for the first one's cookie.
    lock: tokio::sync::Mutex<()>,
    logins: AtomicU32,
    /// A request succeeded with the session: its idle timer moved.
    used: AtomicBool,
}

impl WindowsLogin {
    pub(crate) fn new(
        credentials: ntlm::Credentials,
        options: ClientOptions,
        url: Url,
        headers: HeaderMap,
        retries: u32,
        cache_key: String,
    ) -> WindowsLogin {
        let cache_server = format!(
            "{} as {}",
            url.origin().ascii_serialization(),
            credentials.user
        );
        WindowsLogin {
            credentials,
            options,
            url,
            headers,
            retries,
            cache: SessionCache::default(),
            cache_key,
            cache_server,
            lock: tokio::sync::Mutex::new(()),
            logins: AtomicU32::new(0),
            used: AtomicBool::new(false),
        }
    }

    pub(crate) fn set_cache(&mut self, cache: SessionCache) {
        self.cache = cache;
    }

    /// NTLM handshakes this run performed.
    pub(crate) fn login_count(&self) -> u32 {
        self.logins.load(Ordering::Relaxed)
    }

    /// Make sure `session` holds a cookie: the cached one or a new login.
    pub(crate) async fn ensure(&self, session: &Mutex<Option<String>>) -> Result<()> {
        if current(session).is_some() {
            return Ok(());
        }
        let _guard = self.lock.lock().await;
        if current(session).is_some() {
            return Ok(());
        }
        if let Some(cached) = self.cache.load(&self.cache_key, &self.cache_server) {
            let idle = now_secs().saturating_sub(cached.last_used);
            if idle < SESSION_IDLE_SECS {
                tracing::debug!("reusing the cached proxy session ({idle} s idle)");
                set(session, Some(cached.session_id));
                return Ok(());
            }
        }
        self.login(session).await
    }

    /// The proxy refused the session `stale`: log in again, unless another request already did.
    pub(crate) async fn renew(
        &self,
        session: &Mutex<Option<String>>,
        stale: Option<&str>,
    ) -> Result<()> {
        let _guard = self.lock.lock().await;
        if current(session).as_deref() != stale {
            return Ok(());
        }
        tracing::info!("the proxy session ended; logging in again");
        self.cache.forget(&self.cache_key);
        set(session, None);
        self.login(session).await
    }

    /// One login; a connection lost midway starts it again (up to `retries` times). A refusal
    /// is never repeated: wrong passwords lock accounts.
    async fn login(&self, session: &Mutex<Option<String>>) -> Result<()> {
        let mut attempt = 0;
        let cookie = loop {
            match ntlm::login(
                &self.options,
                &self.url,
                &self.headers,
                &self.credentials,
                self.retries,
            )
            .await
            {
                Err(e) if e.class() == ErrorClass::Network && attempt < self.retries => {
                    attempt += 1;
                    tracing::info!("the Windows login was cut ({e}); starting it again");
                    tokio::time::sleep(std::time::Duration::from_millis(200 << attempt.min(4)))
                        .await;
                }
                other => break other?,
            }
        };
        self.logins.fetch_add(1, Ordering::Relaxed);
        tracing::info!("logged in to the proxy as {} (NTLM)", self.credentials.user);
        self.store(&cookie);
        set(session, Some(cookie));
        Ok(())
    }

    /// A request went through with the session.
    pub(crate) fn mark_used(&self) {
        self.used.store(true, Ordering::Relaxed);
    }

    /// Record the session's last use (at the end of the run), so the next run reuses it.
    pub(crate) fn finish(&self, session: &Mutex<Option<String>>) {
        if self.used.load(Ordering::Relaxed)
            && let Some(cookie) = current(session)
        {
            self.store(&cookie);
        }
    }

    fn store(&self, cookie: &str) {
        self.cache.save(
            &self.cache_key,
            &CachedSession {
                server: self.cache_server.clone(),
                session_id: cookie.to_string(),
                last_used: now_secs(),
            },
        );
    }
}

/// Whether the proxy turned a request away for want of a session: a redirect (to its
/// authentication module or a login page), a 401, or a login page instead of data.
pub(crate) fn refuses_session(resp: &Response) -> bool {
    let status = resp.status();
    status.is_redirection()
        || status == StatusCode::UNAUTHORIZED
        || (status.is_success() && http::is_html(resp))
}

fn current(session: &Mutex<Option<String>>) -> Option<String> {
    session.lock().ok().and_then(|s| s.clone())
}

fn set(session: &Mutex<Option<String>>, cookie: Option<String>) {
    if let Ok(mut slot) = session.lock() {
        *slot = cookie;
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

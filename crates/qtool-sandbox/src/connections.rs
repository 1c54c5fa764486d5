//! Open connections, over all listeners: a cap on how many there are ([`Connections::slot`]),
//! and a watchdog per connection ([`Conn::watch`]) that ends it when it is silent or slow.
//!
//! Why a watchdog rather than hyper's own timers: hyper's HTTP/1 header timeout starts only once
//! it reads a request head, its HTTP/2 server has no idle timeout, and nothing limits a
//! connection that completed the TLS handshake and then says nothing (the issue saw such
//! connections held for over seven minutes, 20,000 of them exhausting the file limit). The
//! watchdog sees the connection from outside: bytes read and written ([`Metered`]), requests
//! started and answered ([`RequestGuard`]), and applies [`Limits`] to them:
//! - after the handshake, the first request head must arrive within the header-read timeout;
//! - between requests, a connection may stay idle for the idle timeout; once the first byte of
//!   the next HTTP/1.1 request head arrives, the head must be complete within the header-read
//!   timeout (slowloris);
//! - while a response is being sent, the client must read some of it within the idle timeout;
//! - a handler that is still working is never cut here (request bodies have their own minimum
//!   rate, in `body`).
//!
//! When the cap is reached, the oldest connection that is still in its handshake or idle between
//! requests is closed to make room (a busy one never is); when every connection is busy, new
//! ones wait in the kernel's accept queue. Either way the sandbox never accepts more sockets than
//! the cap, so it never runs out of file descriptors, and a normal client still gets in while
//! hundreds of silent ones are open. A connection upgraded to a WebSocket leaves this accounting
//! for timeouts (a WebSocket may idle for as long as its session lives) but keeps its slot until
//! it closes: its socket still holds a descriptor.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::limits::Limits;

/// How often a listener waiting for a free slot looks again for an idle connection to close.
const SLOT_RECHECK: Duration = Duration::from_millis(250);
/// "Not yet" for the millisecond stamps below.
const NEVER: u64 = u64::MAX;

/// The connections of all listeners.
pub struct Connections {
    limits: Limits,
    slots: Arc<Semaphore>,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
    epoch: Instant,
}

impl Connections {
    pub fn new(limits: Limits) -> Arc<Connections> {
        Arc::new(Connections {
            limits,
            slots: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            epoch: Instant::now(),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A slot for one more connection: at once when there is one; otherwise after closing the
    /// oldest idle connection, or once a busy one ends.
    pub async fn slot(&self) -> OwnedSemaphorePermit {
        loop {
            if let Ok(slot) = self.slots.clone().try_acquire_owned() {
                return slot;
            }
            self.evict_oldest_idle();
            if let Ok(Ok(slot)) =
                tokio::time::timeout(SLOT_RECHECK, self.slots.clone().acquire_owned()).await
            {
                return slot;
            }
        }
    }

    /// Count a new connection (its TLS handshake is starting). It stays a candidate for
    /// eviction until the returned registration is dropped.
    pub fn open(self: &Arc<Self>) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new(self.epoch));
        lock(&self.open).insert(id, conn.clone());
        Registration {
            connections: self.clone(),
            id,
            conn,
        }
    }

    /// Close the connection that has been idle (or stuck in its handshake) the longest.
    fn evict_oldest_idle(&self) {
        let open = lock(&self.open);
        let oldest = open
            .values()
            .filter_map(|c| c.idle_since().map(|since| (since, c)))
            .min_by_key(|(since, _)| *since);
        if let Some((_, conn)) = oldest {
            conn.evict();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A connection's place among the open ones; dropping it takes the connection out of eviction.
pub struct Registration {
    connections: Arc<Connections>,
    id: u64,
    conn: Arc<Conn>,
}

impl Registration {
    pub fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.connections.open).remove(&self.id);
    }
}

/// Why the watchdog ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No complete request head within the header-read timeout.
    SlowHead,
    /// Idle between requests for the idle timeout.
    Idle,
    /// The client read nothing of a response for the idle timeout.
    Stalled,
}

impl Expiry {
    /// Whether the connection may be closed gracefully (nothing is in flight).
    pub fn graceful(self) -> bool {
        !matches!(self, Expiry::Stalled)
    }
}

impl std::fmt::Display for Expiry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Expiry::SlowHead => "no complete request head within the header-read timeout",
            Expiry::Idle => "idle for the idle timeout",
            Expiry::Stalled => "the client stopped reading the response",
        })
    }
}

/// What the watchdog knows of one connection. Times are milliseconds since the epoch of
/// [`Connections`].
pub struct Conn {
    epoch: Instant,
    opened: u64,
    /// When the handshake ended (`NEVER` while it runs).
    ready_at: AtomicU64,
    /// HTTP/2: bytes between requests are frames (pings, window updates), not a request head.
    framed: AtomicBool,
    in_flight: AtomicUsize,
    /// Requests whose response is being sent.
    responding: AtomicUsize,
    requests: AtomicU64,
    idle_since: AtomicU64,
    /// First byte read while idle (`NEVER`: none).
    head_started: AtomicU64,
    /// Last byte read or written.
    progress: AtomicU64,
    changed: Notify,
    evicted: AtomicBool,
    evict: Notify,
}

impl Conn {
    fn new(epoch: Instant) -> Conn {
        let now = ms_since(epoch);
        Conn {
            epoch,
            opened: now,
            ready_at: AtomicU64::new(NEVER),
            framed: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            responding: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            idle_since: AtomicU64::new(now),
            head_started: AtomicU64::new(NEVER),
            progress: AtomicU64::new(now),
            changed: Notify::new(),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        ms_since(self.epoch)
    }

    /// The handshake is done; `framed` for HTTP/2.
    pub fn ready(&self, framed: bool) {
        let now = self.now();
        self.framed.store(framed, Ordering::SeqCst);
        self.idle_since.store(now, Ordering::SeqCst);
        self.ready_at.store(now, Ordering::SeqCst);
        self.changed.notify_one();
    }

    /// A request head arrived: the connection is busy until the returned guard drops.
    pub fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.head_started.store(NEVER, Ordering::SeqCst);
        // No wake-up: a busy connection has no deadline, and the watchdog finds that out when
        // its current one comes (a wake-up per request would cost every request a task switch).
        RequestGuard {
            conn: self.clone(),
            responding: false,
        }
    }

    /// Since when the connection can be closed without cutting a request (`None`: busy).
    fn idle_since(&self) -> Option<u64> {
        if self.evicted.load(Ordering::SeqCst) {
            return None;
        }
        if self.ready_at.load(Ordering::SeqCst) == NEVER {
            return Some(self.opened);
        }
        (self.in_flight.load(Ordering::SeqCst) == 0).then(|| self.idle_since.load(Ordering::SeqCst))
    }

    fn evict(&self) {
        self.evicted.store(true, Ordering::SeqCst);
        self.evict.notify_one();
    }

    /// Resolves when the connection was chosen to make room for a new one.
    pub async fn evicted(&self) {
        self.evict.notified().await;
    }

    fn on_read(&self) {
        let now = self.now();
        self.progress.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::SeqCst) == 0
            && !self.framed.load(Ordering::Relaxed)
            && self.head_started.load(Ordering::SeqCst) == NEVER
        {
            self.head_started.store(now, Ordering::SeqCst);
            self.changed.notify_one();
        }
    }

    fn on_write(&self) {
        self.progress.store(self.now(), Ordering::Relaxed);
    }

    /// The next moment the connection must have made progress by, and what it is then guilty
    /// of; `None` while a handler works.
    fn deadline(&self, limits: &Limits) -> Option<(u64, Expiry)> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(NEVER);
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            if self.responding.load(Ordering::SeqCst) == 0 {
                return None;
            }
            let progress = self.progress.load(Ordering::SeqCst);
            return Some((
                progress.saturating_add(ms(limits.idle_timeout)),
                Expiry::Stalled,
            ));
        }
        let head_started = self.head_started.load(Ordering::SeqCst);
        if head_started != NEVER {
            let at = head_started.saturating_add(ms(limits.header_read_timeout));
            return Some((at, Expiry::SlowHead));
        }
        if self.requests.load(Ordering::SeqCst) == 0 {
            let ready_at = self.ready_at.load(Ordering::SeqCst);
            let at = ready_at.saturating_add(ms(limits.header_read_timeout));
            return Some((at, Expiry::SlowHead));
        }
        let idle_since = self.idle_since.load(Ordering::SeqCst);
        Some((
            idle_since.saturating_add(ms(limits.idle_timeout)),
            Expiry::Idle,
        ))
    }

    /// Resolves when the connection broke one of the limits (after its handshake).
    pub async fn watch(&self, limits: &Limits) -> Expiry {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            match self.deadline(limits) {
                None => changed.await,
                Some((at, expiry)) => {
                    let now = self.now();
                    if now >= at {
                        return expiry;
                    }
                    let sleep = tokio::time::sleep(Duration::from_millis(at - now));
                    tokio::select! {
                        () = sleep => {}
                        () = changed => {}
                    }
                }
            }
        }
    }
}

fn ms_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(NEVER - 1)
}

/// One request in flight on a connection, from its head until its response is sent (or
/// dropped). Moved into the response body so that a streamed download stays "busy".
pub struct RequestGuard {
    conn: Arc<Conn>,
    responding: bool,
}

impl RequestGuard {
    /// The handler answered: from now on the client must read the response.
    pub fn responding(&mut self) {
        if !self.responding {
            self.responding = true;
            self.conn.on_write();
            self.conn.responding.fetch_add(1, Ordering::SeqCst);
            self.conn.changed.notify_one();
        }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let conn = &self.conn;
        if self.responding {
            conn.responding.fetch_sub(1, Ordering::SeqCst);
        }
        // Stamp before the count drops: the watchdog reads the stamp only when it is zero.
        conn.idle_since.store(conn.now(), Ordering::SeqCst);
        conn.in_flight.fetch_sub(1, Ordering::SeqCst);
        conn.changed.notify_one();
    }
}

/// A connection's byte stream, telling the watchdog of every byte read and written, and
/// holding the connection's slot for as long as the socket lives (an upgraded connection
/// carries it along).
pub(crate) struct Metered<T> {
    inner: T,
    conn: Arc<Conn>,
    _slot: OwnedSemaphorePermit,
}

impl<T> Metered<T> {
    pub(crate) fn new(inner: T, conn: Arc<Conn>, slot: OwnedSemaphorePermit) -> Metered<T> {
        Metered {
            inner,
            conn,
            _slot: slot,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Metered<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.on_read();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Metered<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.on_write();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.on_write();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            header_read_timeout: Duration::from_millis(100),
            idle_timeout: Duration::from_millis(300),
            max_connections: 2,
            ..Limits::default()
        }
    }

    #[tokio::test]
    async fn a_silent_connection_is_cut_after_the_header_read_timeout() {
        let conn = Arc::new(Conn::new(Instant::now()));
        conn.ready(false);
        let started = Instant::now();
        assert_eq!(conn.watch(&limits()).await, Expiry::SlowHead);
        assert!(started.elapsed() >= Duration::from_millis(95));
    }

    #[tokio::test]
    async fn a_busy_handler_is_never_cut_and_idle_follows_the_answer() {
        let limits = limits();
        let conn = Arc::new(Conn::new(Instant::now()));
        conn.ready(false);
        let request = conn.request_started();
        // While the handler works there is no deadline at all.
        assert!(conn.deadline(&limits).is_none());
        drop(request);
        let (at, expiry) = conn.deadline(&limits).expect("idle deadline");
        assert_eq!(expiry, Expiry::Idle);
        assert!(at >= conn.now() + 250);
        // A byte of the next head starts the (shorter) header-read clock.
        conn.on_read();
        assert_eq!(conn.deadline(&limits).map(|d| d.1), Some(Expiry::SlowHead));
        // HTTP/2 frames between requests do not.
        let framed = Arc::new(Conn::new(Instant::now()));
        framed.ready(true);
        drop(framed.request_started());
        framed.on_read();
        assert_eq!(framed.deadline(&limits).map(|d| d.1), Some(Expiry::Idle));
    }

    #[tokio::test]
    async fn a_response_the_client_does_not_read_stalls() {
        let conn = Arc::new(Conn::new(Instant::now()));
        conn.ready(false);
        let mut request = conn.request_started();
        request.responding();
        assert_eq!(conn.deadline(&limits()).map(|d| d.1), Some(Expiry::Stalled));
    }

    #[tokio::test]
    async fn the_cap_evicts_the_oldest_idle_connection_never_a_busy_one() {
        let connections = Connections::new(limits());
        let first = connections.slot().await;
        let busy = connections.open();
        busy.conn().ready(false);
        let _request = busy.conn().request_started();
        let second = connections.slot().await;
        let idle = connections.open();
        idle.conn().ready(false);
        // Full: the idle connection is told to go; when it does (drops its slot), a third fits.
        let waiting = tokio::spawn({
            let connections = connections.clone();
            async move { connections.slot().await }
        });
        tokio::time::timeout(Duration::from_secs(2), idle.conn().evicted())
            .await
            .expect("the idle connection is evicted");
        assert!(!busy.conn().evicted.load(Ordering::SeqCst));
        drop(second);
        drop(idle);
        let third = tokio::time::timeout(Duration::from_secs(2), waiting)
            .await
            .expect("a slot frees")
            .expect("task");
        drop((first, third));
    }
}

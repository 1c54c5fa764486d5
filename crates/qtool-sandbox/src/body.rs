//! Request bodies: how fast they must arrive, how many of their bytes may sit in memory at once,
//! and what happens to the part a handler did not read.
//!
//! **Minimum rate.** Every body is a [`RequestBody`]: once a handler starts reading it, the body
//! must have arrived at `grace + received / min_body_rate` (the grace is the header-read
//! timeout), or the read fails with [`BodyTooSlow`] and the request is answered 408. A body
//! trickled at 1 byte/s no longer holds a connection and a handler forever.
//!
//! **Memory.** Handlers that buffer a body (JSON, forms) read it with [`read_bounded`], which
//! reserves its bytes from the [`BodyBudget`] shared by every listener before reading: a declared
//! length beyond the handler's limit, or beyond the whole budget, is 413 at once; one that does
//! not fit in what is left now is 503 with `Retry-After` (nothing is buffered). A body of unknown
//! length (chunked) reserves as it arrives and is cut the same way. Uploads streamed to disk read
//! the body directly and are not counted.
//!
//! **Unread rest.** An early answer (403 without an Xrfkey, 405, 415 on an upload) is decided
//! before the body is read, while the client may still be uploading. RFC 9113 §8.1 lets an
//! HTTP/2 server answer and then reset the stream with `NO_ERROR`, which hyper's HTTP/2 server
//! (h2) does when the body is dropped. Conformant clients stop uploading and report the answer.
//! Some widespread ones do not: curl 7.88 fails the transfer with "Stream error in the HTTP/2
//! framing layer" (exit 92) when the stream closes before its upload is done, and never shows
//! the status it already received. So the rest of an unread body is read and thrown away, up to
//! [`DRAIN_MAX_BYTES`] and [`DRAIN_MAX_TIME`] (and at the minimum rate): a client that finishes
//! its upload within that gets a cleanly closed stream (and the answer); beyond it the body is
//! dropped, and h2 resets the stream with `NO_ERROR` as the RFC describes. On HTTP/1.1 the same
//! keeps the connection reusable.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::limits::Limits;

/// Most unread body bytes read and discarded after an early answer.
pub(crate) const DRAIN_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Longest time spent reading an unread body after an early answer.
pub(crate) const DRAIN_MAX_TIME: Duration = Duration::from_secs(30);
/// What a 503 for a full budget tells the client to wait.
pub(crate) const RETRY_AFTER_SECS: u64 = 1;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error a body read returns when the client sends too slowly.
#[derive(Debug)]
pub(crate) struct BodyTooSlow {
    received: u64,
    rate: u64,
}

impl std::fmt::Display for BodyTooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body arrived slower than {} bytes/s ({} bytes received)",
            self.rate, self.received
        )
    }
}

impl std::error::Error for BodyTooSlow {}

/// How fast a body must arrive.
#[derive(Debug, Clone, Copy)]
struct Pace {
    grace: Duration,
    rate: u64,
    started: Option<Instant>,
    received: u64,
}

impl Pace {
    fn new(limits: &Limits) -> Pace {
        Pace {
            grace: limits.header_read_timeout,
            rate: limits.min_body_rate.max(1),
            started: None,
            received: 0,
        }
    }

    /// By when the next bytes must have come (the clock starts at the first read).
    fn deadline(&mut self) -> Instant {
        let started = *self.started.get_or_insert_with(Instant::now);
        let earned = Duration::from_secs_f64(self.received as f64 / self.rate as f64);
        started + self.grace + earned
    }
}

/// A request body that fails when it arrives too slowly and, when dropped unread, hands its
/// rest to a background drain.
pub(crate) struct RequestBody {
    inner: Option<Incoming>,
    pace: Pace,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl RequestBody {
    pub(crate) fn new(inner: Incoming, limits: &Limits) -> RequestBody {
        RequestBody {
            inner: Some(inner),
            pace: Pace::new(limits),
            timer: None,
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let Some(body) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.pace.started.get_or_insert_with(Instant::now);
                this.pace.received += frame.data_ref().map_or(0, |d| d.len() as u64);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let deadline = tokio::time::Instant::from_std(this.pace.deadline());
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // Too slow: drop the body (no drain), the handler answers 408.
                this.inner = None;
                Poll::Ready(Some(Err(Box::new(BodyTooSlow {
                    received: this.pace.received,
                    rate: this.pace.rate,
                }))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Incoming::size_hint)
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        let Some(body) = self.inner.take() else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let rest = RequestBody {
                inner: Some(body),
                pace: self.pace,
                timer: None,
            };
            runtime.spawn(drain(rest));
        }
    }
}

/// Read and discard `body` until it ends, a limit is reached or it is too slow (then drop it).
async fn drain(mut body: RequestBody) {
    let deadline = tokio::time::sleep(DRAIN_MAX_TIME);
    tokio::pin!(deadline);
    let mut read = 0u64;
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        tokio::select! {
            () = &mut deadline => break,
            frame = frame => match frame {
                Some(Ok(frame)) => {
                    read += frame.data_ref().map_or(0, |d| d.len() as u64);
                    if read > DRAIN_MAX_BYTES {
                        break;
                    }
                }
                // The end of the body, the client gave up, or it is too slow.
                Some(Err(_)) | None => break,
            },
        }
    }
    // Dropped without a second drain.
    body.inner = None;
}

/// Request body bytes held in memory, over all requests of all listeners. Travels to handlers
/// in the request's extensions.
#[derive(Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    total: u64,
}

impl BodyBudget {
    pub fn new(total: u64) -> BodyBudget {
        let total = total.clamp(1, Semaphore::MAX_PERMITS as u64);
        BodyBudget {
            bytes: Arc::new(Semaphore::new(usize::try_from(total).unwrap_or(usize::MAX))),
            total,
        }
    }

    /// Reserve `n` bytes now, or say why not.
    fn reserve(&self, n: u64) -> Result<Option<OwnedSemaphorePermit>, BodyError> {
        if n == 0 {
            return Ok(None);
        }
        if n > self.total {
            return Err(BodyError::BeyondBudget { budget: self.total });
        }
        let n = u32::try_from(n).map_err(|_| BodyError::BeyondBudget { budget: self.total })?;
        self.bytes
            .clone()
            .try_acquire_many_owned(n)
            .map(Some)
            .map_err(|_| BodyError::Busy)
    }
}

/// Why a body could not be buffered.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Larger than the handler accepts.
    TooLarge { limit: u64 },
    /// Larger than the whole in-flight budget: it can never be buffered.
    BeyondBudget { budget: u64 },
    /// The in-flight budget is used up by other requests now.
    Busy,
    /// The client sent too slowly.
    TooSlow(String),
    /// The client broke off, or sent something hyper could not read.
    Broken(String),
}

impl BodyError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge { .. } | BodyError::BeyondBudget { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            BodyError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            BodyError::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            BodyError::Broken(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// `Retry-After` seconds, for the answers a client should simply repeat.
    pub(crate) fn retry_after(&self) -> Option<u64> {
        matches!(self, BodyError::Busy).then_some(RETRY_AFTER_SECS)
    }

    /// A failure of a streamed body read (an upload), classified.
    pub(crate) fn from_stream(error: &(dyn std::error::Error + 'static)) -> BodyError {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = source {
            if let Some(slow) = e.downcast_ref::<BodyTooSlow>() {
                return BodyError::TooSlow(slow.to_string());
            }
            source = e.source();
        }
        BodyError::Broken(error.to_string())
    }

    /// Add `Retry-After` to an answer made from this error, when it has one.
    pub(crate) fn decorate(
        &self,
        mut response: axum::response::Response,
    ) -> axum::response::Response {
        if let Some(secs) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        response
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge { limit } => {
                write!(f, "The request body is larger than {limit} bytes")
            }
            BodyError::BeyondBudget { budget } => write!(
                f,
                "The request body is larger than the sandbox's in-flight body budget of {budget} \
                 bytes (qtool sandbox --max-inflight-body-bytes)"
            ),
            BodyError::Busy => {
                f.write_str("The sandbox is busy reading other request bodies; retry in a moment")
            }
            BodyError::TooSlow(why) => write!(f, "Request timeout: {why}"),
            BodyError::Broken(why) => write!(f, "The request body could not be read: {why}"),
        }
    }
}

/// A body read into memory, with its bytes reserved from the budget until dropped.
pub(crate) struct Buffered {
    pub bytes: Bytes,
    _reserved: Vec<OwnedSemaphorePermit>,
}

/// Read `body` into memory, at most `limit` bytes, reserving them from the budget found in
/// `extensions` (none: only `limit` applies, as in the emulators' unit tests).
pub(crate) async fn read_bounded(
    body: axum::body::Body,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    limit: usize,
) -> Result<Buffered, BodyError> {
    let limit = limit as u64;
    let budget = extensions.get::<BodyBudget>();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut reserved = Vec::new();
    if let Some(n) = declared {
        if n > limit {
            return Err(BodyError::TooLarge { limit });
        }
        if let Some(budget) = budget {
            reserved.extend(budget.reserve(n)?);
        }
    }
    let mut stream = body.into_data_stream();
    let mut out = Vec::with_capacity(usize::try_from(declared.unwrap_or(0)).unwrap_or(0));
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        let chunk = chunk.map_err(|e| BodyError::from_stream(&e))?;
        let len = out.len() as u64 + chunk.len() as u64;
        if len > limit {
            return Err(BodyError::TooLarge { limit });
        }
        if declared.is_none()
            && let Some(budget) = budget
        {
            reserved.extend(budget.reserve(chunk.len() as u64)?);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Buffered {
        bytes: Bytes::from(out),
        _reserved: reserved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(len: Option<u64>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(n) = len {
            h.insert(header::CONTENT_LENGTH, n.into());
        }
        h
    }

    fn with_budget(total: u64) -> (BodyBudget, axum::http::Extensions) {
        let budget = BodyBudget::new(total);
        let mut ext = axum::http::Extensions::new();
        ext.insert(budget.clone());
        (budget, ext)
    }

    #[tokio::test]
    async fn declared_lengths_are_decided_before_reading() {
        let (_budget, ext) = with_budget(100);
        let body = || axum::body::Body::from(vec![b'x'; 10]);
        let too_large = read_bounded(body(), &headers(Some(50)), &ext, 20).await;
        assert!(matches!(too_large, Err(BodyError::TooLarge { limit: 20 })));
        let beyond = read_bounded(body(), &headers(Some(150)), &ext, 1000).await;
        assert!(matches!(
            beyond,
            Err(BodyError::BeyondBudget { budget: 100 })
        ));
        // 60 + 60 > 100: the second waits for the first to be dropped.
        let first = read_bounded(body(), &headers(Some(60)), &ext, 1000).await;
        let first = first.expect("fits");
        let busy = read_bounded(body(), &headers(Some(60)), &ext, 1000).await;
        let busy = busy.err().expect("no room");
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.retry_after(), Some(RETRY_AFTER_SECS));
        drop(first);
        assert!(
            read_bounded(body(), &headers(Some(60)), &ext, 1000)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn unknown_lengths_reserve_as_they_arrive() {
        let (budget, ext) = with_budget(100);
        let none = headers(None);
        let body = |n: usize| axum::body::Body::from(vec![b'x'; n]);
        let held = budget.reserve(95).expect("reserve");
        let r = read_bounded(body(10), &none, &ext, 1000).await;
        assert!(matches!(r, Err(BodyError::Busy)));
        drop(held);
        let ok = read_bounded(body(10), &none, &ext, 1000).await;
        assert_eq!(ok.expect("fits").bytes.len(), 10);
        let over = read_bounded(body(30), &none, &ext, 20).await;
        assert!(matches!(over, Err(BodyError::TooLarge { limit: 20 })));
    }

    #[test]
    fn the_pace_grows_with_what_arrived() {
        let limits = Limits {
            header_read_timeout: Duration::from_secs(2),
            min_body_rate: 100,
            ..Limits::default()
        };
        let mut pace = Pace::new(&limits);
        let first = pace.deadline();
        pace.received = 500;
        assert_eq!(pace.deadline() - first, Duration::from_secs(5));
    }
}

//! What happens to a request body a handler did not read: an early answer (403 without an
//! Xrfkey, 405, 415 on an upload) is decided before the body is read, while the client may
//! still be uploading.
//!
//! RFC 9113 §8.1 lets an HTTP/2 server answer and then reset the stream with `NO_ERROR`, which
//! hyper's HTTP/2 server (h2) does when the body is dropped. Conformant clients stop uploading
//! and report the answer. Some widespread ones do not: curl 7.88 fails the transfer with
//! "Stream error in the HTTP/2 framing layer" (exit 92) when the stream closes before its
//! upload is done, and never shows the status it already received. So the rest of an unread
//! body is read and thrown away, up to [`DRAIN_MAX_BYTES`] and [`DRAIN_MAX_TIME`]: a client
//! that finishes its upload within that gets a cleanly closed stream (and the answer); beyond
//! it the body is dropped, and h2 resets the stream with `NO_ERROR` as the RFC describes. On
//! HTTP/1.1 the same keeps the connection reusable.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

/// Most unread body bytes read and discarded after an early answer.
pub const DRAIN_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Longest time spent reading an unread body after an early answer.
pub const DRAIN_MAX_TIME: Duration = Duration::from_secs(30);

/// A request body that, when dropped unread, hands its rest to a background drain.
pub struct UnreadBody {
    inner: Option<Incoming>,
}

impl UnreadBody {
    pub fn new(inner: Incoming) -> UnreadBody {
        UnreadBody { inner: Some(inner) }
    }
}

impl Body for UnreadBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.inner.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
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

impl Drop for UnreadBody {
    fn drop(&mut self) {
        let Some(body) = self.inner.take() else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(drain(body));
        }
    }
}

/// Read and discard `body` until it ends or a limit is reached (then drop it).
async fn drain(mut body: Incoming) {
    let deadline = tokio::time::sleep(DRAIN_MAX_TIME);
    tokio::pin!(deadline);
    let mut read = 0u64;
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        tokio::select! {
            () = &mut deadline => return,
            frame = frame => match frame {
                Some(Ok(frame)) => {
                    read += frame.data_ref().map_or(0, |d| d.len() as u64);
                    if read > DRAIN_MAX_BYTES {
                        return;
                    }
                }
                // The end of the body, or the client gave up.
                Some(Err(_)) | None => return,
            },
        }
    }
}

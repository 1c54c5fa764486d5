//! What the sandbox allows a client before it cuts it off: how long a connection may take to
//! speak, to send a request, to wait between requests and to upload; how many connections may be
//! open at once; how many request body bytes may sit in memory at once. One [`Limits`] applies to
//! every listener; `connections` and `body` enforce it.
//!
//! Why: a test server still meets careless and hostile clients (a port scanner, a script that
//! opens connections and never closes them, a test that posts the same 60 MB body 40 times at
//! once). Without these bounds such a client holds file descriptors and memory until the sandbox
//! stops answering everyone else. The defaults are generous enough that no real client notices
//! them; `qtool sandbox --help` lists the flags that change them.

use std::time::Duration;

/// The bounds every listener enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time a client has to complete the TLS handshake after connecting.
    pub handshake_timeout: Duration,
    /// Time a client has to send a complete request head: from the end of the handshake for the
    /// first request, from the first byte of the head for later ones. Also the grace period of a
    /// request body before [`min_body_rate`](Self::min_body_rate) counts.
    pub header_read_timeout: Duration,
    /// Time a connection may sit between requests (keep-alive), and the longest a response may
    /// go without the client reading any of it.
    pub idle_timeout: Duration,
    /// Slowest average upload accepted, in bytes per second, after the grace period: a body
    /// must have arrived at `grace + received / rate` after its first read, or it is cut (408).
    pub min_body_rate: u64,
    /// Connections open at once, over all listeners. Beyond it the oldest idle or silent
    /// connection is closed to make room, and when every connection is busy new ones wait in
    /// the kernel's accept queue.
    pub max_connections: usize,
    /// Request body bytes held in memory at once, over all requests. A request that would go
    /// beyond it is answered 503 with `Retry-After` before its body is read (413 when it could
    /// never fit). Uploads streamed to disk do not count.
    pub max_inflight_body_bytes: u64,
}

/// Connections kept free of the file-descriptor limit for the sandbox's own files (snapshots,
/// the journal, app files being served, the listeners).
const RESERVED_FDS: u64 = 64;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            min_body_rate: 1024,
            max_connections: 1024,
            max_inflight_body_bytes: 256 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// The connection cap that fits the process's file-descriptor limit, after raising the soft
    /// limit to the hard one (as Go and nginx do). Each connection may hold two descriptors (its
    /// socket and an app file it streams), so the cap is at most half of what is left after
    /// [`RESERVED_FDS`]. Returns the cap and, when it had to be lowered, the limit that did it.
    pub fn fit_to_fd_limit(&self) -> (usize, Option<u64>) {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(soft) if soft > 0 && soft != u64::MAX => {
                cap_for_fd_limit(self.max_connections, soft)
            }
            // No limit, or it cannot be read: keep the configured cap.
            _ => (self.max_connections, None),
        }
    }
}

/// The connection cap under an open-file limit of `soft` (see [`Limits::fit_to_fd_limit`]).
fn cap_for_fd_limit(requested: usize, soft: u64) -> (usize, Option<u64>) {
    let fitting = usize::try_from(soft.saturating_sub(RESERVED_FDS) / 2)
        .unwrap_or(usize::MAX)
        .max(1);
    if fitting < requested {
        (fitting, Some(soft))
    } else {
        (requested, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_under_the_file_limit() {
        assert_eq!(cap_for_fd_limit(1024, 20_000), (1024, None));
        assert_eq!(cap_for_fd_limit(1024, 1024), (480, Some(1024)));
        assert_eq!(cap_for_fd_limit(1024, 10), (1, Some(10)));
        // Raising the soft limit never fails where it can be read.
        let (cap, _) = Limits::default().fit_to_fd_limit();
        assert!(cap >= 1);
    }
}

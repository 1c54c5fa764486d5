//! Latency and fault injection, applied to every request on every listener before its handler
//! runs: sleep `latency`, then with probability `fault_rate` fail the request, half the time
//! with `503 Service Unavailable` and half the time by closing the connection without an answer.
//! The QEM emulator also asks here whether to expire a session on a session check, and the
//! engine whether to drop a WebSocket at a message (its answers are delayed by the latency).
//!
//! With `--fault-seed` the rolls come from a seeded sequence instead of the system RNG, so a run
//! that makes the same requests in the same order meets the same faults (a failure found under
//! faults can be replayed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Run the handler.
    Pass,
    /// Answer `503 Service Unavailable` without running the handler.
    Unavailable,
    /// Close the connection without an answer.
    Drop,
}

#[derive(Debug)]
pub struct Faults {
    latency: Duration,
    rate: f64,
    seed: Option<u64>,
    /// Rolls drawn so far from the seeded sequence.
    draws: AtomicU64,
    injected: AtomicU64,
}

impl Faults {
    pub fn new(latency: Duration, rate: f64, seed: Option<u64>) -> Faults {
        Faults {
            latency,
            rate: rate.clamp(0.0, 1.0),
            seed,
            draws: AtomicU64::new(0),
            injected: AtomicU64::new(0),
        }
    }

    /// No latency, no faults.
    pub fn none() -> Faults {
        Faults::new(Duration::ZERO, 0.0, None)
    }

    /// Faults injected so far (failed requests and expired sessions).
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    /// Wait the configured latency, then decide the request's fate.
    pub async fn before_request(&self) -> Verdict {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if !self.inject() {
            Verdict::Pass
        } else if self.roll() < 0.5 {
            Verdict::Unavailable
        } else {
            Verdict::Drop
        }
    }

    /// The delay added to every request (and to every engine answer).
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// Whether to drop a long-lived connection at this message (engine WebSockets): true with
    /// probability `fault_rate`.
    pub fn drop_connection(&self) -> bool {
        self.inject()
    }

    /// Whether to expire the session being checked (QEM): true with probability `fault_rate`.
    pub fn expire_session(&self) -> bool {
        self.inject()
    }

    /// Whether to inject a fault now (counted): true with probability `fault_rate`.
    fn inject(&self) -> bool {
        if self.rate <= 0.0 || self.roll() >= self.rate {
            return false;
        }
        self.injected.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// A uniform number in [0, 1): the next of the seeded sequence, or from the system RNG.
    fn roll(&self) -> f64 {
        match self.seed {
            Some(seed) => {
                let n = self.draws.fetch_add(1, Ordering::Relaxed);
                to_unit(splitmix64(seed.wrapping_add(n.wrapping_mul(GOLDEN_GAMMA))))
            }
            None => random_unit(),
        }
    }
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function: a well-mixed 64-bit value for each counter value.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN_GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 53 random bits → [0, 1).
fn to_unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform number in [0, 1) from the system RNG (just under 1 if the RNG fails, which only
/// means "no fault").
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return 0.999_999;
    }
    to_unit(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rate_zero_never_faults_and_one_always_does_half_503_half_dropped() {
        let none = Faults::none();
        assert_eq!(none.before_request().await, Verdict::Pass);
        assert!(!none.expire_session());
        assert_eq!(none.injected(), 0);
        let all = Faults::new(Duration::ZERO, 1.0, Some(1));
        let mut unavailable = 0;
        for _ in 0..1000 {
            match all.before_request().await {
                Verdict::Pass => panic!("rate 1 let a request pass"),
                Verdict::Unavailable => unavailable += 1,
                Verdict::Drop => {}
            }
        }
        assert!(all.expire_session());
        assert_eq!(all.injected(), 1001);
        // Half of 1,000 within 4 standard deviations (~16).
        assert!((436..=564).contains(&unavailable), "{unavailable}");
    }

    #[test]
    fn random_unit_is_in_range() {
        for _ in 0..1000 {
            let x = random_unit();
            assert!((0.0..1.0).contains(&x));
        }
    }

    #[test]
    fn a_seed_replays_the_same_faults_at_the_requested_rate() {
        let run = |seed| {
            let f = Faults::new(Duration::ZERO, 0.1, Some(seed));
            (0..10_000).map(|_| f.expire_session()).collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let hits = a.iter().filter(|&&x| x).count();
        // 10% of 10,000 draws, within 4 standard deviations (30).
        assert!((880..=1120).contains(&hits), "{hits}");
    }
}

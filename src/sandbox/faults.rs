//! Latency and fault injection, applied to every request on every listener before its handler
//! runs: sleep `latency`, then with probability `fault_rate` fail the request, half the time
//! with `503 Service Unavailable` and half the time by closing the connection without an answer.

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
    injected: AtomicU64,
}

impl Faults {
    pub fn new(latency: Duration, rate: f64) -> Faults {
        Faults {
            latency,
            rate: rate.clamp(0.0, 1.0),
            injected: AtomicU64::new(0),
        }
    }

    /// Faults injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    /// Wait the configured latency, then decide the request's fate.
    pub async fn before_request(&self) -> Verdict {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        self.decide(random_unit(), random_unit())
    }

    fn decide(&self, roll: f64, kind: f64) -> Verdict {
        if self.rate <= 0.0 || roll >= self.rate {
            return Verdict::Pass;
        }
        self.injected.fetch_add(1, Ordering::Relaxed);
        if kind < 0.5 {
            Verdict::Unavailable
        } else {
            Verdict::Drop
        }
    }
}

/// A uniform number in [0, 1) from the system RNG (0 if the RNG fails, which only means "no fault").
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return 0.999_999;
    }
    // 53 random bits → [0, 1).
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_zero_never_faults_and_one_always_does() {
        let none = Faults::new(Duration::ZERO, 0.0);
        assert_eq!(none.decide(0.0, 0.0), Verdict::Pass);
        let all = Faults::new(Duration::ZERO, 1.0);
        assert_eq!(all.decide(0.999, 0.1), Verdict::Unavailable);
        assert_eq!(all.decide(0.0, 0.9), Verdict::Drop);
        assert_eq!(all.injected(), 2);
        let half = Faults::new(Duration::ZERO, 0.5);
        assert_eq!(half.decide(0.7, 0.1), Verdict::Pass);
    }

    #[test]
    fn random_unit_is_in_range() {
        for _ in 0..1000 {
            let x = random_unit();
            assert!((0.0..1.0).contains(&x));
        }
    }
}

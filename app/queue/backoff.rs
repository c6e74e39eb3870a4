//! Exponential backoff with jitter for failed delivery attempts.

use std::time::Duration;

/// The wait before attempt `attempt + 1`, after `attempt` (1-based) attempts failed:
/// `base · 2^(attempt-1)`, capped at `cap`, then scaled by `jitter` ∈ [0.5, 1.0] so that
/// deliveries that failed together do not retry together.
pub fn retry_delay(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let raw = base.saturating_mul(1u32 << exponent).min(cap);
    raw.mul_f64(jitter.clamp(0.5, 1.0))
}

/// A jitter factor drawn uniformly from [0.5, 1.0].
pub fn random_jitter() -> f64 {
    0.5 + rand::random::<f64>() * 0.5
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(2);
    const CAP: Duration = Duration::from_secs(600);

    #[test]
    fn doubles_per_attempt_without_jitter() {
        let delays: Vec<u64> = (1..=5)
            .map(|n| retry_delay(n, BASE, CAP, 1.0).as_secs())
            .collect();
        assert_eq!(delays, vec![2, 4, 8, 16, 32]);
    }

    #[test]
    fn never_exceeds_the_cap() {
        assert_eq!(retry_delay(20, BASE, CAP, 1.0), CAP);
        assert_eq!(retry_delay(u32::MAX, BASE, CAP, 1.0), CAP);
    }

    #[test]
    fn jitter_keeps_at_least_half() {
        assert_eq!(retry_delay(3, BASE, CAP, 0.5), Duration::from_secs(4));
        assert_eq!(retry_delay(3, BASE, CAP, 0.0), Duration::from_secs(4));
        let drawn = random_jitter();
        assert!((0.5..=1.0).contains(&drawn));
    }
}

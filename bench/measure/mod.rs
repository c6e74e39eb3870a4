//! What every bench measures with: percentiles of sorted durations, milliseconds as printed,
//! waiting for a condition by polling, and run counts from the environment.
// Each bench uses the part it needs.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// The `p` (0 to 1) percentile of `sorted`, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Polls `ready` every half millisecond until it holds (five minutes at the most); when it did.
pub async fn until(what: &str, mut ready: impl FnMut() -> bool) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if ready() {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

/// The number in the environment variable `name`, else `default`.
pub fn from_env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

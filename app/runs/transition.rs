//! What a step's result means for the run's row: the pure core of the supervisor.

use std::time::Duration;

use crate::queue::retry_delay;
use crate::store::{RunState, StepRecord};

use super::kind::{StepError, StepOutcome, Verdict};

/// The row a step leaves behind. `attempt` is the try that just ended (1-based); a retryable error
/// before `max_attempts` is tried again after `base · 2^(attempt-1)` (capped, scaled by `jitter`).
pub fn record_for(
    result: Result<StepOutcome, StepError>,
    attempt: u32,
    max_attempts: u32,
    (base, cap): (Duration, Duration),
    jitter: f64,
    now: i64,
) -> StepRecord {
    match result {
        Ok(StepOutcome::Done(verdict, outcome)) => StepRecord::Finished {
            state: match verdict {
                Verdict::Succeeded => RunState::Succeeded,
                Verdict::Failed => RunState::Failed,
            },
            outcome,
        },
        Ok(StepOutcome::WaitUntil { at, progress }) => StepRecord::Waiting {
            at: Some(at),
            signal: None,
            progress,
        },
        Ok(StepOutcome::WaitFor {
            signal,
            progress,
            until,
        }) => StepRecord::Waiting {
            at: until,
            signal: Some(signal),
            progress,
        },
        Err(StepError::Retryable(error)) if attempt < max_attempts => {
            let wait = retry_delay(attempt, base, cap, jitter);
            StepRecord::Retry {
                at: now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)),
                error,
            }
        }
        Err(StepError::Retryable(error)) => StepRecord::Finished {
            state: RunState::Failed,
            outcome: format!("gave up after {attempt} attempts: {error}"),
        },
        Err(StepError::Permanent(error)) => StepRecord::Finished {
            state: RunState::Failed,
            outcome: error,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DELAYS: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(60));

    #[test]
    fn a_wait_for_a_signal_keeps_the_progress_and_the_optional_timer() {
        let outcome = StepOutcome::WaitFor {
            signal: "job-finished".into(),
            progress: json!({"job": "build-1"}),
            until: None,
        };
        assert_eq!(
            record_for(Ok(outcome), 1, 3, DELAYS, 1.0, 0),
            StepRecord::Waiting {
                at: None,
                signal: Some("job-finished".into()),
                progress: json!({"job": "build-1"}),
            }
        );
    }

    #[test]
    fn a_retryable_error_backs_off_then_fails_the_run_at_the_bound() {
        assert_eq!(
            record_for(
                Err(StepError::Retryable("the cluster answered 503".into())),
                2,
                3,
                DELAYS,
                1.0,
                1_000
            ),
            StepRecord::Retry {
                at: 5_000,
                error: "the cluster answered 503".into()
            }
        );
        assert_eq!(
            record_for(
                Err(StepError::Retryable("the cluster answered 503".into())),
                3,
                3,
                DELAYS,
                1.0,
                1_000
            ),
            StepRecord::Finished {
                state: RunState::Failed,
                outcome: "gave up after 3 attempts: the cluster answered 503".into()
            }
        );
    }

    #[test]
    fn a_permanent_error_fails_the_run_with_its_message() {
        assert_eq!(
            record_for(
                Err(StepError::Permanent("no Dockerfile at the commit".into())),
                1,
                3,
                DELAYS,
                1.0,
                0
            ),
            StepRecord::Finished {
                state: RunState::Failed,
                outcome: "no Dockerfile at the commit".into()
            }
        );
    }
}

//! What kind of failure an error is: whether trying again can help, and the stable label it is
//! logged and counted under (`slipway_delivery_failures_total{event,kind}`).
//!
//! Each error type of slipway (GitHub, git, the store, a payload) says its own kind; the queue
//! decides retries by kind alone, so no caller turns an error into a string to classify it.

use std::fmt;

/// A failure's kind. Transient kinds are retried with backoff; permanent ones fail at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// GitHub answered 5xx.
    GitHubUnavailable,
    /// GitHub's primary or secondary rate limit.
    RateLimited,
    /// A request or operation did not finish in time.
    Timeout,
    /// A connection failed (GitHub unreachable, a fetch that failed on the network).
    Network,
    /// A branch moved since it was read: reading it again and retrying succeeds.
    BranchMoved,
    /// A commit GitHub announced is not in the fetched mirror yet: GitHub may lag.
    RevisionMissing,
    /// The database is busy or briefly unavailable.
    StoreBusy,
    /// A handler panicked or its task was cancelled; a deploy may fix the bug.
    Panic,
    /// Something slipway depends on failed in a way that can pass.
    Unavailable,
    /// GitHub answered 404: the repository, pull request or installation is gone.
    NotFound,
    /// GitHub refused the change as conflicting (409, 422).
    Conflict,
    /// GitHub refused the credentials or the permission (401, 403 without a rate limit).
    Unauthorized,
    /// A database constraint refused the write.
    Constraint,
    /// A configuration that does not parse or validate.
    InvalidConfig,
    /// A webhook payload that does not decode.
    Payload,
    /// A repository that cannot be read (corrupt, not a repository, a bad object).
    InvalidRepository,
    /// A bug or a state slipway cannot get out of by waiting.
    Internal,
}

impl FailureKind {
    /// Whether another attempt can succeed.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            FailureKind::GitHubUnavailable
                | FailureKind::RateLimited
                | FailureKind::Timeout
                | FailureKind::Network
                | FailureKind::BranchMoved
                | FailureKind::RevisionMissing
                | FailureKind::StoreBusy
                | FailureKind::Panic
                | FailureKind::Unavailable
        )
    }

    /// The stable label of metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::GitHubUnavailable => "github_unavailable",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::Timeout => "timeout",
            FailureKind::Network => "network",
            FailureKind::BranchMoved => "branch_moved",
            FailureKind::RevisionMissing => "revision_missing",
            FailureKind::StoreBusy => "store_busy",
            FailureKind::Panic => "panic",
            FailureKind::Unavailable => "unavailable",
            FailureKind::NotFound => "not_found",
            FailureKind::Conflict => "conflict",
            FailureKind::Unauthorized => "unauthorized",
            FailureKind::Constraint => "constraint",
            FailureKind::InvalidConfig => "invalid_config",
            FailureKind::Payload => "payload",
            FailureKind::InvalidRepository => "invalid_repository",
            FailureKind::Internal => "internal",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An error and its sources, outermost first, joined with `: ` — each cause once.
///
/// slipway's own errors often show their cause in their message; the libraries below them
/// (gix, sqlx) often repeat each layer in the next as well. A layer whose text the layers above
/// already hold adds nothing and is left out, so every message appears once.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !message.is_empty() && !text.contains(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner: {0}")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn chain_names_every_cause_once() {
        let err = Outer(Inner(std::io::Error::other("disk full")));
        assert_eq!(chain(&err), "outer: inner: disk full");
    }

    #[test]
    fn transient_kinds_are_the_ones_that_can_pass() {
        assert!(FailureKind::GitHubUnavailable.is_transient());
        assert!(FailureKind::RateLimited.is_transient());
        assert!(!FailureKind::NotFound.is_transient());
        assert!(!FailureKind::Payload.is_transient());
        assert_eq!(FailureKind::Constraint.label(), "constraint");
    }
}

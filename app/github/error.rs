use std::time::Duration;

use crate::failure::FailureKind;

/// A failed GitHub request. `is_retryable` tells the queue whether trying later can succeed.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub answered {status} to {endpoint}: {message}")]
    Status {
        status: u16,
        endpoint: String,
        message: String,
    },
    #[error("GitHub rate limit reached on {endpoint}; retry after {}s", retry_after.as_secs())]
    RateLimited {
        endpoint: String,
        retry_after: Duration,
    },
    #[error("cannot reach GitHub for {endpoint}: {message}")]
    Transport { endpoint: String, message: String },
    #[error("cannot reach GitHub for {endpoint}: timed out")]
    Timeout { endpoint: String },
    #[error("GitHub's answer to {endpoint} is not what was expected: {message}")]
    Decode { endpoint: String, message: String },
    #[error("GitHub App credentials: {0}")]
    Auth(String),
    /// A branch moved (or appeared) since it was read: re-read it and try again.
    #[error("{endpoint}: the branch moved since it was read ({message})")]
    NotFastForward { endpoint: String, message: String },
    /// 202 to a deployment: GitHub merged the default branch into the ref instead of
    /// deploying it (what `auto_merge: true` does), so no deployment exists.
    #[error("{endpoint}: GitHub merged the default branch into the ref instead of creating a deployment ({message})")]
    AutoMerged { endpoint: String, message: String },
}

impl GitHubError {
    /// 5xx, rate limits, transport failures (timeouts included) and a branch that moved may
    /// succeed later.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_transient()
    }

    /// What kind of failure this is: a 404 of a deleted repository fails at once, a 502 is
    /// tried again.
    pub fn kind(&self) -> FailureKind {
        match self {
            GitHubError::Status { status, .. } => match *status {
                500.. => FailureKind::GitHubUnavailable,
                404 | 410 => FailureKind::NotFound,
                409 | 422 => FailureKind::Conflict,
                401 | 403 => FailureKind::Unauthorized,
                _ => FailureKind::Internal,
            },
            GitHubError::RateLimited { .. } => FailureKind::RateLimited,
            GitHubError::Transport { .. } => FailureKind::Network,
            GitHubError::Timeout { .. } => FailureKind::Timeout,
            GitHubError::NotFastForward { .. } => FailureKind::BranchMoved,
            GitHubError::AutoMerged { .. } => FailureKind::Conflict,
            GitHubError::Decode { .. } => FailureKind::Internal,
            GitHubError::Auth(_) => FailureKind::Unauthorized,
        }
    }

    /// How long GitHub asked us to wait, when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GitHubError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> GitHubError {
        GitHubError::Status {
            status,
            endpoint: "GET /repos/{owner}/{repo}".to_string(),
            message: "Not Found".to_string(),
        }
    }

    #[test]
    fn a_deleted_repository_fails_at_once() {
        assert_eq!(status(404).kind(), FailureKind::NotFound);
        assert!(!status(404).is_retryable());
    }

    #[test]
    fn server_errors_and_rate_limits_are_tried_again() {
        assert_eq!(status(502).kind(), FailureKind::GitHubUnavailable);
        let limited = GitHubError::RateLimited {
            endpoint: "POST /repos/{owner}/{repo}/check-runs".to_string(),
            retry_after: Duration::from_secs(60),
        };
        assert_eq!(limited.kind(), FailureKind::RateLimited);
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(60)));
        let timeout = GitHubError::Timeout {
            endpoint: "GET /repos/{owner}/{repo}".to_string(),
        };
        assert_eq!(timeout.kind(), FailureKind::Timeout);
        assert!(timeout.is_retryable());
    }

    #[test]
    fn conflicts_and_refusals_are_permanent() {
        assert_eq!(status(422).kind(), FailureKind::Conflict);
        assert_eq!(status(403).kind(), FailureKind::Unauthorized);
        assert!(!status(409).is_retryable());
    }
}

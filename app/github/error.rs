use std::time::Duration;

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
    #[error("GitHub's answer to {endpoint} is not what was expected: {message}")]
    Decode { endpoint: String, message: String },
    #[error("GitHub App credentials: {0}")]
    Auth(String),
    /// A branch moved (or appeared) since it was read: re-read it and try again.
    #[error("{endpoint}: the branch moved since it was read ({message})")]
    NotFastForward { endpoint: String, message: String },
}

impl GitHubError {
    /// 5xx, rate limits, transport failures (timeouts included) and a branch that moved may
    /// succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            GitHubError::Status { status, .. } => *status >= 500,
            GitHubError::RateLimited { .. }
            | GitHubError::Transport { .. }
            | GitHubError::NotFastForward { .. } => true,
            GitHubError::Decode { .. } | GitHubError::Auth(_) => false,
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

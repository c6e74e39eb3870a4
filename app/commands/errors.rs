//! User errors and internal errors are different types: a user error becomes a reply that says
//! what to change; an internal error becomes a log line and, when it can pass, a retry.

use crate::queue::HandlerError;

/// Something the commenter can fix (a typo, a locked environment, a missing `promote_from`).
/// Its message is shown to them as written: markdown, without mentions of anyone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        UserError(message.into())
    }
}

/// Why a command did not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum CommandFailure {
    #[error(transparent)]
    User(#[from] UserError),
    /// GitHub, git, the store or a template failed; retryable ones are tried again by the queue.
    #[error(transparent)]
    Internal(#[from] HandlerError),
}

impl CommandFailure {
    pub fn internal(message: impl Into<String>) -> Self {
        CommandFailure::Internal(HandlerError::permanent(message))
    }
}

impl From<crate::github::GitHubError> for CommandFailure {
    fn from(err: crate::github::GitHubError) -> Self {
        CommandFailure::Internal(err.into())
    }
}

/// A reply that cannot be written is a bug of its template, never the commenter's.
impl From<crate::report::ReportError> for CommandFailure {
    fn from(err: crate::report::ReportError) -> Self {
        CommandFailure::Internal(err.into())
    }
}

impl From<crate::store::StoreError> for CommandFailure {
    fn from(err: crate::store::StoreError) -> Self {
        CommandFailure::Internal(err.into())
    }
}

//! Handlers registered per event (and optionally action); what a handler's failure means.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::github::GitHubError;

/// One delivery as a handler sees it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Arrival order in the store: a later delivery of the same key has a larger `seq`.
    pub seq: i64,
    pub id: String,
    pub event: String,
    pub action: Option<String>,
    /// The pull request, branch or installation it concerns (see `webhook::Envelope`).
    pub ordering_key: Option<String>,
    /// 1 on the first attempt.
    pub attempt: u32,
    pub payload: Bytes,
}

/// Why a handler did not finish. Retryable errors are tried again with backoff; the rest fail at once.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("{message}")]
    Retryable {
        message: String,
        /// A wait the failing service asked for (GitHub's `retry-after`).
        retry_after: Option<Duration>,
    },
    #[error("{0}")]
    Permanent(String),
}

impl HandlerError {
    pub fn retryable(message: impl Into<String>) -> Self {
        HandlerError::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        HandlerError::Permanent(message.into())
    }
}

impl From<GitHubError> for HandlerError {
    fn from(err: GitHubError) -> Self {
        if err.is_retryable() {
            HandlerError::Retryable {
                retry_after: err.retry_after(),
                message: err.to_string(),
            }
        } else {
            HandlerError::Permanent(err.to_string())
        }
    }
}

/// Git fails for reasons that pass (a fetch that timed out, a commit not pushed yet): tried again.
impl From<crate::git::GitError> for HandlerError {
    fn from(err: crate::git::GitError) -> Self {
        HandlerError::retryable(err.to_string())
    }
}

impl From<crate::git::TaskFailed> for HandlerError {
    fn from(err: crate::git::TaskFailed) -> Self {
        HandlerError::retryable(err.to_string())
    }
}

impl From<crate::store::StoreError> for HandlerError {
    fn from(err: crate::store::StoreError) -> Self {
        // The database being busy or briefly unavailable is worth another try.
        HandlerError::retryable(err.to_string())
    }
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;
type HandlerFn = Arc<dyn Fn(Delivery) -> HandlerFuture + Send + Sync>;

/// The table of handlers: `(event, action)` first, then `(event, any action)`.
/// Events without a handler finish as done: they were stored for the record only.
#[derive(Clone, Default)]
pub struct HandlerRegistry {
    routes: HashMap<(String, Option<String>), HandlerFn>,
}

impl HandlerRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `event`, for one `action` or (with `None`) for every action.
    pub fn on<F, Fut>(&mut self, event: &str, action: Option<&str>, handler: F) -> &mut Self
    where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let handler: HandlerFn = Arc::new(move |delivery| Box::pin(handler(delivery)));
        self.routes
            .insert((event.to_string(), action.map(str::to_string)), handler);
        self
    }

    pub fn handles(&self, event: &str, action: Option<&str>) -> bool {
        self.find(event, action).is_some()
    }

    fn find(&self, event: &str, action: Option<&str>) -> Option<&HandlerFn> {
        action
            .and_then(|action| {
                self.routes
                    .get(&(event.to_string(), Some(action.to_string())))
            })
            .or_else(|| self.routes.get(&(event.to_string(), None)))
    }

    pub async fn dispatch(&self, delivery: Delivery) -> Result<(), HandlerError> {
        match self.find(&delivery.event, delivery.action.as_deref()) {
            Some(handler) => handler(delivery).await,
            None => Ok(()),
        }
    }
}

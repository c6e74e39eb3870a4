//! Handlers registered per event (and optionally action); what a handler's failure means.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::failure::FailureKind;
use crate::git::GitError;
use crate::github::GitHubError;
use crate::report::ReportError;
use crate::store::StoreError;
use crate::webhook::{DecodeError, DeliveryId, Event, TypedEvent};

/// One delivery as a handler sees it: its metadata and its decoded event.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Arrival order in the store: a later delivery of the same key has a larger `seq`.
    pub seq: i64,
    pub id: DeliveryId,
    /// The `X-GitHub-Event` name.
    pub event_name: String,
    pub action: Option<String>,
    /// The pull request, branch or installation it concerns (see `webhook::Envelope`).
    pub ordering_key: Option<String>,
    /// 1 on the first attempt.
    pub attempt: u32,
    pub event: Event,
}

/// Why a handler did not finish, with its cause. Its [`kind`](HandlerError::kind) decides
/// whether the queue tries again.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the report: {0}")]
    Report(#[source] ReportError),
    #[error(transparent)]
    Payload(#[from] DecodeError),
    /// `.github/slipway.yml` could not be read from a tree that should hold it (the object
    /// database or the disk failed); a file that is there but invalid is a finding, not this.
    #[error(transparent)]
    Config(#[from] crate::config::ReadError),
    /// A blocking task (git, render) panicked or was cancelled.
    #[error("a git task failed: {0}")]
    Join(#[source] tokio::task::JoinError),
    /// A failure no other error type describes.
    #[error("{message}")]
    Other { kind: FailureKind, message: String },
}

impl HandlerError {
    /// A failure that can pass.
    pub fn retryable(message: impl Into<String>) -> Self {
        HandlerError::Other {
            kind: FailureKind::Unavailable,
            message: message.into(),
        }
    }

    /// A failure that trying again cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        HandlerError::Other {
            kind: FailureKind::Internal,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> FailureKind {
        match self {
            HandlerError::GitHub(err) => err.kind(),
            HandlerError::Git(err) => err.kind(),
            HandlerError::Store(err) => err.kind(),
            HandlerError::Report(_) => FailureKind::Internal,
            HandlerError::Payload(_) => FailureKind::Payload,
            HandlerError::Config(_) => FailureKind::Unavailable,
            HandlerError::Join(err) if err.is_panic() => FailureKind::Panic,
            HandlerError::Join(_) => FailureKind::Unavailable,
            HandlerError::Other { kind, .. } => *kind,
        }
    }

    /// Whether another attempt can succeed.
    pub fn is_transient(&self) -> bool {
        self.kind().is_transient()
    }

    /// How long the failing service asked to wait, when it did (GitHub's `retry-after`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            HandlerError::GitHub(err) => err.retry_after(),
            _ => None,
        }
    }
}

impl From<ReportError> for HandlerError {
    fn from(err: ReportError) -> Self {
        HandlerError::Report(err)
    }
}

impl From<tokio::task::JoinError> for HandlerError {
    fn from(err: tokio::task::JoinError) -> Self {
        HandlerError::Join(err)
    }
}

/// Blocking work that did not finish (it panicked, or the runtime is stopping).
impl From<crate::git::TaskFailed> for HandlerError {
    fn from(err: crate::git::TaskFailed) -> Self {
        HandlerError::Join(err.into_join_error())
    }
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;
type HandlerFn = Arc<dyn Fn(Delivery) -> HandlerFuture + Send + Sync>;

/// The table of handlers: `(event, action)` first, then `(event, any action)`.
/// Events without a handler finish as done: they were stored for the record only.
#[derive(Clone, Default)]
pub struct HandlerRegistry {
    routes: HashMap<(String, Option<String>), HandlerFn>,
    /// Handlers that run before the route's, by exact `(event, action)`.
    before: HashMap<(String, Option<String>), Vec<HandlerFn>>,
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

    /// Registers `handler` for the event its payload type names (`PullRequestEvent` for
    /// `pull_request`), for one `action` or every action; it receives the decoded payload.
    pub fn on_event<E, F, Fut>(&mut self, action: Option<&str>, handler: F) -> &mut Self
    where
        E: TypedEvent,
        F: Fn(Delivery, E) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.on(E::NAME, action, move |delivery: Delivery| {
            let handler = handler.clone();
            async move {
                let Some(payload) = E::from_event(&delivery.event) else {
                    return Err(HandlerError::permanent(format!(
                        "a {} handler was given a {} event",
                        E::NAME,
                        delivery.event.name()
                    )));
                };
                handler(delivery, payload).await
            }
        })
    }

    /// Registers `handler` to run before whatever is (or will be) registered for the same
    /// `(event, action)` with [`Self::on_event`], instead of replacing it: for bookkeeping
    /// that every delivery of that kind needs, whichever pipeline handles it. The first error
    /// stops the delivery (so a retry runs both again: `handler` must be idempotent).
    pub fn before_event<E, F, Fut>(&mut self, action: Option<&str>, handler: F) -> &mut Self
    where
        E: TypedEvent,
        F: Fn(Delivery, E) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let first: HandlerFn = Arc::new(move |delivery: Delivery| {
            let handler = handler.clone();
            Box::pin(async move {
                match E::from_event(&delivery.event) {
                    Some(payload) => handler(delivery, payload).await,
                    None => Ok(()),
                }
            })
        });
        let key = (E::NAME.to_string(), action.map(str::to_string));
        self.before.entry(key).or_default().push(first);
        self
    }

    pub fn handles(&self, event: &str, action: Option<&str>) -> bool {
        self.find(event, action).is_some()
            || self
                .before
                .contains_key(&(event.to_string(), action.map(str::to_string)))
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
        let key = (delivery.event_name.clone(), delivery.action.clone());
        for first in self.before.get(&key).into_iter().flatten() {
            first(delivery.clone()).await?;
        }
        match self.find(&delivery.event_name, delivery.action.as_deref()) {
            Some(handler) => handler(delivery).await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicked_task_is_tried_again() {
        let joined = tokio::task::spawn_blocking(|| panic!("bug")).await;
        let err = HandlerError::from(joined.unwrap_err());
        assert_eq!(err.kind(), FailureKind::Panic);
        assert!(err.is_transient());
    }

    #[test]
    fn a_payload_that_does_not_decode_fails_at_once() {
        let err = HandlerError::from(crate::webhook::decode("push", b"{}").unwrap_err());
        assert_eq!(err.kind(), FailureKind::Payload);
        assert!(!err.is_transient());
        assert_eq!(
            err.to_string(),
            "the push payload is not as expected: `repository` is missing"
        );
    }

    #[test]
    fn github_s_wait_is_kept() {
        let err = HandlerError::from(GitHubError::RateLimited {
            endpoint: "GET /repos/{owner}/{repo}".to_string(),
            retry_after: Duration::from_secs(30),
        });
        assert_eq!(err.kind(), FailureKind::RateLimited);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    }

    fn synchronize() -> Delivery {
        let payload = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/webhooks/handled/pull_request/22-synchronize.json"
        ))
        .expect("GitHub's example");
        Delivery {
            seq: 1,
            id: DeliveryId::new("d-1"),
            event_name: "pull_request".into(),
            action: Some("synchronize".into()),
            ordering_key: None,
            attempt: 1,
            event: crate::webhook::decode("pull_request", &payload).expect("decodes"),
        }
    }

    #[tokio::test]
    async fn bookkeeping_runs_before_the_route_and_replaces_nothing() {
        use crate::webhook::PullRequestEvent;
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut registry = HandlerRegistry::new();
        let seen = order.clone();
        registry.on_event(Some("synchronize"), move |_, _: PullRequestEvent| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push("route");
                Ok(())
            }
        });
        let seen = order.clone();
        registry.before_event(Some("synchronize"), move |_, _: PullRequestEvent| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push("bookkeeping");
                Ok(())
            }
        });
        registry.dispatch(synchronize()).await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["bookkeeping", "route"]);
    }

    #[tokio::test]
    async fn a_failed_bookkeeping_stops_the_delivery_so_a_retry_runs_both() {
        use crate::webhook::PullRequestEvent;
        let routed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut registry = HandlerRegistry::new();
        let seen = routed.clone();
        registry.on_event(Some("synchronize"), move |_, _: PullRequestEvent| {
            let seen = seen.clone();
            async move {
                seen.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
        });
        registry.before_event(Some("synchronize"), |_, _: PullRequestEvent| async {
            Err(HandlerError::retryable("the store is busy"))
        });
        assert!(registry.dispatch(synchronize()).await.is_err());
        assert!(!routed.load(std::sync::atomic::Ordering::SeqCst));
        let mut bookkeeping_only = HandlerRegistry::new();
        bookkeeping_only.before_event(Some("edited"), |_, _: PullRequestEvent| async { Ok(()) });
        assert!(
            bookkeeping_only.handles("pull_request", Some("edited")),
            "an action with bookkeeping alone is handled, not dropped"
        );
        assert!(!bookkeeping_only.handles("pull_request", Some("closed")));
    }
}

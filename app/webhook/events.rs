//! Typed payloads: a stored delivery becomes octocrab's `WebhookEvent` when a handler runs.

use octocrab::models::webhook_events::WebhookEvent;

#[derive(Debug, thiserror::Error)]
#[error("the {event} payload does not match GitHub's schema: {source}")]
pub struct TypedEventError {
    pub event: String,
    #[source]
    pub source: serde_json::Error,
}

/// Parses a stored payload into octocrab's typed event for its `X-GitHub-Event` name.
pub fn parse_event(event: &str, payload: &[u8]) -> Result<WebhookEvent, TypedEventError> {
    WebhookEvent::try_from_header_and_body(event, payload).map_err(|source| TypedEventError {
        event: event.to_string(),
        source,
    })
}

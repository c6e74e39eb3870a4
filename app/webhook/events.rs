//! Typed payloads: a stored delivery becomes octocrab's `WebhookEvent` when a handler runs.

use octocrab::models::webhook_events::WebhookEvent;

/// Its message includes the JSON error; it is not chained again as `source()`, so printing
/// the error with its causes says it once.
#[derive(Debug, thiserror::Error)]
#[error("the {event} payload does not match GitHub's schema: {cause}")]
pub struct TypedEventError {
    pub event: String,
    pub cause: serde_json::Error,
}

/// Parses a stored payload into octocrab's typed event for its `X-GitHub-Event` name.
pub fn parse_event(event: &str, payload: &[u8]) -> Result<WebhookEvent, TypedEventError> {
    WebhookEvent::try_from_header_and_body(event, payload).map_err(|cause| TypedEventError {
        event: event.to_string(),
        cause,
    })
}

//! `POST /api/github/webhooks`: verify, then store, then answer. Nothing else happens here.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::store::{IngestOutcome, NewDelivery};
use crate::webhook::{verify_signature, Envelope, EventDisposition};

/// GitHub's delivery ids are GUIDs; anything much longer is not from GitHub.
const MAX_DELIVERY_ID_LEN: usize = 100;
const MAX_EVENT_NAME_LEN: usize = 64;

fn reply(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into()).into_response()
}

pub(super) async fn receive(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let metrics = &state.metrics;
    let Some(credentials) = state.credentials.get() else {
        metrics.count_delivery("unverified", "not_configured");
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "slipway is not set up yet: open {} to create its GitHub App",
                super::setup::setup_url(&state.settings.public_url)
            ),
        );
    };

    let signature = headers.get("x-hub-signature-256").map(|v| v.as_bytes());
    if let Err(err) = verify_signature(credentials.webhook_secret.as_bytes(), &body, signature) {
        metrics.count_delivery("unverified", "invalid_signature");
        tracing::warn!(error = %err, "webhook refused");
        return reply(StatusCode::UNAUTHORIZED, err.to_string());
    }

    let header = |name: &str, max: usize| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= max && v.bytes().all(|b| b.is_ascii_graphic()))
    };
    let Some(event) = header("x-github-event", MAX_EVENT_NAME_LEN) else {
        metrics.count_delivery("unknown", "bad_request");
        return reply(
            StatusCode::BAD_REQUEST,
            "the X-GitHub-Event header is missing or malformed",
        );
    };
    let Some(delivery_id) = header("x-github-delivery", MAX_DELIVERY_ID_LEN) else {
        metrics.count_delivery(event, "bad_request");
        return reply(
            StatusCode::BAD_REQUEST,
            "the X-GitHub-Delivery header is missing or malformed",
        );
    };

    match EventDisposition::of(event) {
        EventDisposition::Ping => {
            metrics.count_delivery(event, "ping");
            tracing::info!(delivery_id, "ping received");
            return reply(StatusCode::OK, "pong");
        }
        EventDisposition::Ignored => {
            metrics.count_delivery(event, "ignored");
            tracing::debug!(delivery_id, event, "event not handled by slipway");
            return reply(
                StatusCode::ACCEPTED,
                format!("slipway does not handle {event} events"),
            );
        }
        EventDisposition::Handled => {}
    }

    let (delivery, parse_error) = match Envelope::parse(delivery_id, event, &body) {
        Ok(envelope) => (
            NewDelivery {
                id: envelope.delivery_id,
                event: envelope.event,
                action: envelope.action,
                installation_id: envelope.installation_id,
                repository: envelope.repository,
                ordering_key: envelope.ordering_key,
                payload: body,
                failed_with: None,
            },
            None,
        ),
        Err(err) => {
            let message = err.to_string();
            (
                NewDelivery {
                    id: delivery_id.to_string(),
                    event: event.to_string(),
                    action: None,
                    installation_id: None,
                    repository: None,
                    ordering_key: None,
                    payload: body,
                    failed_with: Some(message.clone()),
                },
                Some(message),
            )
        }
    };

    let ordering_key = delivery.ordering_key.clone();
    let outcome = state.store.ingest(delivery).await;
    match (outcome, parse_error) {
        (Err(err), _) => {
            metrics.count_delivery(event, "store_error");
            tracing::error!(delivery_id, error = %err, "cannot store the delivery");
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "slipway cannot store deliveries right now",
            )
        }
        (Ok(_), Some(message)) => {
            metrics.count_delivery(event, "bad_request");
            tracing::warn!(delivery_id, event, error = %message, "webhook body refused");
            reply(StatusCode::BAD_REQUEST, message)
        }
        (Ok(IngestOutcome::Duplicate), None) => {
            metrics.count_delivery(event, "duplicate");
            tracing::info!(delivery_id, event, "delivery already stored");
            reply(StatusCode::OK, "delivery already received")
        }
        (Ok(IngestOutcome::Stored), None) => {
            metrics.count_delivery(event, "queued");
            tracing::info!(delivery_id, event, "delivery stored");
            state.queue.notify_stored(ordering_key.as_deref());
            reply(StatusCode::ACCEPTED, "queued")
        }
    }
}

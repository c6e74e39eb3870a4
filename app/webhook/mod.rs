//! GitHub webhooks: signature verification, the envelope slipway stores, and typed payloads.
//!
//! Knows nothing of HTTP: the server hands it header values and the raw body.

mod envelope;
mod events;
mod signature;

pub use envelope::{Envelope, EnvelopeError, EventDisposition, HANDLED_EVENTS};
pub use events::{parse_event, TypedEventError};
pub use signature::{sign, verify_signature, SignatureError};

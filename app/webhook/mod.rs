//! GitHub webhooks: signature verification, the envelope slipway stores, and typed events.
//!
//! Knows nothing of HTTP: the server hands it header values and the raw body.

mod decode;
mod envelope;
mod events;
mod ids;
mod signature;

pub use decode::{decode, DecodeError};
pub use envelope::{Envelope, EnvelopeError, EventDisposition, HANDLED_EVENTS};
pub use events::{
    parse_event, CheckRunEvent, Comment, Event, Installation, InstallationEvent,
    InstallationRepositoriesEvent, IssueCommentEvent, PullRequestEvent, PullRequestReviewEvent,
    PullSide, PushEvent, Repository, TypedEvent, TypedEventError, User,
};
pub use ids::{DeliveryId, InstallationId, PullNumber};
pub use signature::{sign, verify_signature, SignatureError};

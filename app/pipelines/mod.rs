//! The orchestration of one event, start to end. Each pipeline registers its handlers here.

pub mod commands;
pub mod installations;
pub mod missed_deliveries;
pub mod preview;
pub mod promote;

use std::sync::Arc;

use crate::diff::FingerprintKey;
use crate::git::Mirrors;
use crate::queue::HandlerRegistry;
use crate::store::Store;

/// Everything a pipeline may use; cheap to clone into handlers.
#[derive(Clone)]
pub struct PipelineContext {
    pub store: Store,
    pub github: crate::github::GitHub,
    /// Bare mirrors of config repos (`MIRROR_DIR`).
    pub mirrors: Arc<Mirrors>,
    /// What Secret values are fingerprinted with in every report.
    pub fingerprint_key: FingerprintKey,
}

/// The handler table the server runs: installation bookkeeping, pull-request previews and comment
/// commands now; builds and deploys plug in here. Handled events without an entry are stored and
/// finish as done.
pub fn register_all(registry: &mut HandlerRegistry, context: &PipelineContext) {
    installations::register(registry, context);
    preview::register(registry, context);
    commands::register(registry, context);
}

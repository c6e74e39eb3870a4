//! The orchestration of one event, start to end. Each pipeline registers its handlers here.
//!
//! A handler does what takes milliseconds to seconds (read a mirror, render, post a comment)
//! and returns, so a queue worker is never held for long. Work that takes minutes — an image
//! build, a deploy waiting for health — is a run: the handler starts it with
//! `context.runs.start(kind, subject, …)` and the run's kind (`crate::runs::RunKind`) carries it
//! on, driven by timers and signals (a Kubernetes watch event, a re-requested check run). The
//! build and deploy pipelines each add a module here and a run kind in `runs`; periodic work
//! such as drift detection is a job of `crate::scheduler`.

pub mod build;
pub mod bumps;
pub mod commands;
pub mod deploy;
pub mod drift;
pub mod installations;
pub mod missed_deliveries;
pub mod preview;
pub mod promote;
pub mod rollback;

use std::sync::Arc;

use crate::diff::FingerprintKey;
use crate::git::Mirrors;
use crate::queue::HandlerRegistry;
use crate::runs::Runs;
use crate::store::Store;
use crate::webhook::{CheckRunEvent, PullRequestEvent, PushEvent};

/// Everything a pipeline may use; cheap to clone into handlers.
#[derive(Clone)]
pub struct PipelineContext {
    pub store: Store,
    pub github: crate::github::GitHub,
    /// Bare mirrors of config repos (`MIRROR_DIR`).
    pub mirrors: Arc<Mirrors>,
    /// What Secret values are fingerprinted with in every report.
    pub fingerprint_key: FingerprintKey,
    /// Starts and signals long work (builds, deploys) that must not hold a queue worker.
    pub runs: Runs,
    /// The clusters the server settings name: what `cluster:` may say.
    pub clusters: crate::config::KnownClusters,
}

/// The handler table the server runs: installation bookkeeping, pushes (builds of app repos,
/// deploys of config repos), pull-request previews, merges (deploys) and comment commands.
/// Handled events without an entry are stored and finish as done.
pub fn register_all(
    registry: &mut HandlerRegistry,
    context: &PipelineContext,
    builds: &build::Builds,
    deploys: &deploy::Deploys,
) {
    installations::register(registry, context);
    {
        // Re-runs of `slipway/build` and of `slipway/deploy/<env>` arrive as one event.
        let (builds, deploys, runs) = (builds.clone(), deploys.clone(), context.runs.clone());
        registry.on_event(
            Some("rerequested"),
            move |delivery: crate::queue::Delivery, event: CheckRunEvent| {
                let (builds, deploys, runs) = (builds.clone(), deploys.clone(), runs.clone());
                async move {
                    if event.name.starts_with(deploy::report::CHECK_PREFIX) {
                        deploys.on_rerequest(&runs, &delivery, &event).await
                    } else {
                        builds.on_rerequest(&runs, &delivery, &event).await
                    }
                }
            },
        );
    }
    {
        // One push handler: a repository can be an app repo and a config repo at once.
        let (builds, deploys, runs) = (builds.clone(), deploys.clone(), context.runs.clone());
        registry.on_event(
            None,
            move |delivery: crate::queue::Delivery, push: PushEvent| {
                let (builds, deploys, runs) = (builds.clone(), deploys.clone(), runs.clone());
                async move {
                    builds.on_push(&runs, &delivery, &push).await?;
                    deploys.on_push(&runs, &delivery, &push).await
                }
            },
        );
    }
    // A merge deploys from its push (see `deploy::start`): `pull_request` `closed` deploys
    // nothing. What the approval gate needs to know of every pull request (who pushed to it,
    // when its base changed) is recorded before the preview handles the same deliveries.
    for action in deploy::PUSH_ACTIONS.into_iter().chain(["edited"]) {
        let deploys = deploys.clone();
        registry.before_event(
            Some(action),
            move |delivery: crate::queue::Delivery, event: PullRequestEvent| {
                let deploys = deploys.clone();
                async move { deploys.on_pull_activity(&delivery, &event).await }
            },
        );
    }
    preview::register(registry, context);
    commands::register(registry, context);
}

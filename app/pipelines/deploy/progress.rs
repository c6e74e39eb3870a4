//! What a deploy run keeps between its steps (the run's stored progress): where it stands and
//! everything it has learnt, so a restarted slipway takes it up where it was.

use serde::{Deserialize, Serialize};

use crate::github::RepoRef;
use crate::render::ObjectKey;

use super::report::{AppliedObject, ConflictTaken};

/// Where a deploy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The check run, the GitHub Deployment and the history row are made.
    Start,
    /// Render, policy, server-side apply, prune.
    Apply,
    /// Waiting for the applied workloads to become healthy.
    Health,
    /// The deploy failed; the previously deployed commit is applied again.
    RollbackApply,
    /// Waiting for the rolled-back workloads to become healthy.
    RollbackHealth,
}

/// What started a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A reviewed pull request was merged.
    Merge,
    /// A commit was pushed straight to the default branch (an image bump, say).
    Push,
    /// A drift check found the cluster differs and the environment heals itself.
    SelfHeal,
    /// Someone re-ran the deploy's check run.
    Rerun,
}

/// A deploy run's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployProgress {
    pub phase: Phase,
    /// The config repo, `owner/name`.
    pub repo: String,
    pub clone_url: String,
    /// The repository's page, for links.
    pub html_url: Option<String>,
    pub installation_id: i64,
    pub environment: String,
    /// The cluster the environment names (`cluster:` at `config_sha`); runs stored before
    /// clusters had names deploy to `default`.
    #[serde(default = "default_cluster")]
    pub cluster: String,
    /// The commit deployed.
    pub sha: String,
    /// Where `.github/slipway.yml` is read: the commit before the change (a merge's first
    /// parent, a push's `before`), so a change cannot lower its own bar.
    pub config_sha: String,
    pub pull: Option<u64>,
    /// The fork a merged pull request came from (never deployed; kept so a re-run refuses too).
    #[serde(default)]
    pub fork: Option<String>,
    pub trigger: Trigger,
    pub check_run_id: Option<u64>,
    pub deployment_id: Option<u64>,
    /// The deploy's row in the history.
    pub record_id: Option<i64>,
    pub objects: Vec<AppliedObject>,
    pub pruned: Vec<ObjectKey>,
    pub conflicts: Vec<ConflictTaken>,
    /// When the health wait gives up (Unix ms).
    pub health_deadline: Option<i64>,
    /// Why the deploy failed, once it did (kept while it is rolled back).
    pub failure: Option<String>,
    /// The commit a failed deploy is rolled back to.
    pub rollback_to: Option<String>,
    /// Step failures in a row that may pass.
    #[serde(default)]
    pub failures: u32,
    /// Tries in a row that found the cluster unreachable (or refusing slipway).
    #[serde(default)]
    pub unreachable: u32,
}

fn default_cluster() -> String {
    crate::config::DEFAULT_CLUSTER.to_string()
}

impl DeployProgress {
    pub fn repo_ref(&self) -> Option<RepoRef> {
        self.repo.parse().ok()
    }

    /// The keys of every applied object: what the health wait watches.
    pub fn object_keys(&self) -> Vec<ObjectKey> {
        self.objects.iter().map(|o| o.object.clone()).collect()
    }

    /// The check run's page on GitHub (where a deployment status links).
    pub fn check_run_url(&self) -> Option<String> {
        let (html, id) = (self.html_url.as_ref()?, self.check_run_id?);
        Some(format!("{}/runs/{id}", html.trim_end_matches('/')))
    }
}

/// The run subject of an environment's deploys: one deploy per environment at a time.
pub fn subject(repo: &str, environment: &str) -> String {
    format!("{repo}:{environment}")
}

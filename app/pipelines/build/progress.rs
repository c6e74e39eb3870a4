//! What a build run keeps in the store between its steps: everything the next step (in this
//! process or after a restart) needs, and nothing secret — the source token is minted when the
//! Job is created and lives only in the Job's Secret.

use serde::{Deserialize, Serialize};

use crate::cluster::BuildArg;
use crate::github::{CheckRunId, RepoRef};

/// Where a build is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Waiting for a build slot; no Job yet.
    Queued,
    /// The Job exists; no pod of it runs yet.
    Launched,
    /// A pod of the Job runs; the check run is in progress.
    Running,
    /// The Job succeeded; the bump is being landed.
    Bumping,
}

/// What the build makes: `image` from the default branch's configuration (a branch cannot
/// retarget it), the Dockerfile, context and args from the built commit (the code built).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecipe {
    pub image: String,
    pub dockerfile: String,
    pub context: String,
    pub args: Vec<BuildArg>,
}

/// `deploy:` of the default branch's head when the build was asked for: a pushed branch
/// cannot choose where its image goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployTarget {
    pub repo: String,
    pub environment: String,
}

/// How the Job ended, kept while the bump is landed so a retried step does not ask again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildResult {
    pub log_tail: Option<String>,
    pub duration_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildProgress {
    pub installation_id: i64,
    pub repo: String,
    pub clone_url: String,
    /// The repository's page, for links to the commit.
    pub html_url: Option<String>,
    pub default_branch: String,
    pub branch: String,
    pub sha: String,
    pub commit_message: String,
    /// 0 for the push; each re-run adds one, and gets its own Job.
    pub attempt: u32,
    pub check_run_id: CheckRunId,
    pub recipe: BuildRecipe,
    pub deploy: Option<DeployTarget>,
    pub phase: Phase,
    pub job_name: Option<String>,
    /// When a pod of the Job started running (Unix ms).
    pub started_at: Option<i64>,
    pub result: Option<BuildResult>,
    /// Failed tries of the current step, reset when a step succeeds.
    #[serde(default)]
    pub failures: u32,
    /// Who caused the build: the push's sender, or whoever pressed Re-run.
    #[serde(default)]
    pub requested_by: Option<String>,
    /// The pushed image's digest, as the push step reported it (validated).
    #[serde(default)]
    pub digest: Option<String>,
    /// The source token was revoked (the source step is over, or the build ended).
    #[serde(default)]
    pub token_revoked: bool,
}

impl BuildProgress {
    pub fn repo_ref(&self) -> Option<RepoRef> {
        self.repo.parse().ok()
    }

    /// The subject of the run: one active build per branch, so a newer push supersedes.
    pub fn subject(repo: &str, branch: &str) -> String {
        format!("{repo}:{branch}")
    }

    /// Identifies this build's check run among the commit's, so a retried handler finds it.
    pub fn external_id(repo: &str, sha: &str, attempt: u32) -> String {
        format!("slipway-build:{repo}@{sha}#{attempt}")
    }

    /// The commit's page, when the repository's is known.
    pub fn commit_url(&self) -> String {
        match &self.html_url {
            Some(url) => format!("{url}/commit/{}", self.sha),
            None => format!("https://github.com/{}/commit/{}", self.repo, self.sha),
        }
    }
}

//! Telling people what a deploy did: the `slipway/deploy/<env>` check run, the GitHub
//! Deployment's statuses, the history row (with what the deploy did in detail) and the one
//! comment on the merged pull request that shows every environment of the merge.

use serde::{Deserialize, Serialize};

use crate::github::{
    CheckRunId, CheckRunRequest, CheckRunUpdate, CheckStatus, DeploymentId, DeploymentRequest,
    DeploymentStatusRequest, RepoRef,
};
use crate::queue::HandlerError;
use crate::store::{now_millis, DeployCounts, DeployRecord, NewDeploy, StoreError};

use super::progress::DeployProgress;
use super::report::{self, DeployOutcome, DeployResult};
use super::Deploys;

/// What the history keeps of a deploy besides its counts: the outcome as the reports show it
/// (every object and what was done to it, the result's particulars) and what a later deploy,
/// a drift check or a rollback needs to find the repository again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDeploy {
    pub outcome: DeployOutcome,
    pub installation_id: i64,
    pub clone_url: String,
    pub html_url: Option<String>,
    /// Where the environment's configuration was read.
    pub config_sha: String,
    /// The fork the change came from, when it did.
    #[serde(default)]
    pub fork: Option<String>,
}

impl StoredDeploy {
    /// The detail of `record`, when it has one slipway can read.
    pub fn of(record: &DeployRecord) -> Option<StoredDeploy> {
        serde_json::from_str(record.detail.as_deref()?).ok()
    }
}

/// The history's counts of an outcome.
pub fn counts(outcome: &DeployOutcome) -> DeployCounts {
    let counts = outcome.counts();
    let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    DeployCounts {
        created: narrow(counts.created),
        configured: narrow(counts.configured),
        unchanged: narrow(counts.unchanged),
        pruned: narrow(counts.pruned),
    }
}

fn store_error(err: StoreError) -> HandlerError {
    HandlerError::Store(err)
}

impl Deploys {
    /// The outcome of `progress` ending (or standing) as `result`.
    pub(super) fn outcome(&self, progress: &DeployProgress, result: DeployResult) -> DeployOutcome {
        DeployOutcome {
            repository: progress.repo.clone(),
            environment: progress.environment.clone(),
            merge_sha: progress.sha.clone(),
            pull_number: progress.pull,
            result,
            objects: progress.objects.clone(),
            pruned: progress.pruned.clone(),
            conflicts: progress.conflicts.clone(),
            check_run_url: progress.check_run_url(),
            cluster: self.named_cluster(&progress.cluster),
        }
    }

    /// `cluster` when the texts name it: the server knows several, or it is not `default`.
    pub(super) fn named_cluster(&self, cluster: &str) -> Option<String> {
        let several = self.inner.clusters.known().names().len() > 1;
        (several || cluster != crate::config::DEFAULT_CLUSTER).then(|| cluster.to_string())
    }

    pub(super) fn stored(&self, progress: &DeployProgress, outcome: DeployOutcome) -> StoredDeploy {
        StoredDeploy {
            outcome,
            installation_id: progress.installation_id,
            clone_url: progress.clone_url.clone(),
            html_url: progress.html_url.clone(),
            config_sha: progress.config_sha.clone(),
            fork: progress.fork.clone(),
        }
    }

    /// Creates the deploy's check run in progress (or finds the one a crashed step made).
    pub(super) async fn open_check_run(
        &self,
        progress: &DeployProgress,
        external_id: &str,
    ) -> Result<CheckRunId, HandlerError> {
        let repo = repo_of(progress)?;
        let name = report::check_run_name(&progress.environment);
        let github = &self.inner.github;
        if let Some(found) = github
            .find_check_run(
                progress.installation_id,
                &repo,
                &progress.sha,
                &name,
                external_id,
            )
            .await?
        {
            return Ok(found);
        }
        let outcome = self.outcome(progress, DeployResult::InProgress);
        let output = report::check_run_output(self.inner.templates, &outcome)?;
        let mut request = CheckRunRequest::in_progress(&name, &progress.sha, Some(output));
        request.external_id = Some(external_id.to_string());
        Ok(github
            .create_check_run(progress.installation_id, &repo, &request)
            .await?)
    }

    /// Creates the GitHub Deployment of the commit and environment, in progress.
    pub(super) async fn open_deployment(
        &self,
        progress: &DeployProgress,
        production: bool,
    ) -> Result<DeploymentId, HandlerError> {
        let repo = repo_of(progress)?;
        let github = &self.inner.github;
        let request = DeploymentRequest {
            git_ref: progress.sha.clone(),
            environment: progress.environment.clone(),
            description: Some(match self.named_cluster(&progress.cluster) {
                Some(cluster) => format!(
                    "slipway deploys {} on cluster {cluster}",
                    short(&progress.sha)
                ),
                None => format!("slipway deploys {}", short(&progress.sha)),
            }),
            production_environment: production,
            transient_environment: false,
            payload: serde_json::json!({
                "slipway": {
                    "pull_request": progress.pull,
                    "trigger": progress.trigger,
                    "cluster": progress.cluster,
                },
            }),
        };
        let id = github
            .create_deployment(progress.installation_id, &repo, &request)
            .await?;
        let outcome = self.outcome(progress, DeployResult::InProgress);
        let mut status = DeploymentStatusRequest::new(
            crate::github::DeploymentState::InProgress,
            &report::deployment_description(self.inner.templates, &outcome)?,
        );
        status.log_url = progress.check_run_url();
        github
            .create_deployment_status(progress.installation_id, &repo, id, &status)
            .await?;
        Ok(id)
    }

    /// Everything GitHub and the history show of a deploy that ended as `result`: the check
    /// run completed, the Deployment's final status, the history row finished, the comment.
    pub(super) async fn publish_end(
        &self,
        progress: &DeployProgress,
        result: DeployResult,
    ) -> Result<(), HandlerError> {
        let repo = repo_of(progress)?;
        let github = &self.inner.github;
        let outcome = self.outcome(progress, result);
        let templates = self.inner.templates;
        if let Some(id) = progress.check_run_id {
            let output = report::check_run_output(templates, &outcome)?;
            let conclusion = outcome
                .result
                .conclusion()
                .unwrap_or(crate::github::CheckConclusion::Neutral);
            github
                .update_check_run(
                    progress.installation_id,
                    &repo,
                    CheckRunId(id),
                    &CheckRunUpdate::completed(conclusion, output),
                )
                .await?;
        }
        if let Some(id) = progress.deployment_id {
            let mut status = DeploymentStatusRequest::new(
                outcome.result.deployment_state(),
                &report::deployment_description(templates, &outcome)?,
            );
            status.log_url = progress.check_run_url();
            github
                .create_deployment_status(
                    progress.installation_id,
                    &repo,
                    DeploymentId(id),
                    &status,
                )
                .await?;
        }
        if let Some(record) = progress.record_id {
            let store = &self.inner.store;
            store
                .finish_deploy(
                    record,
                    now_millis(),
                    outcome.result.name(),
                    counts(&outcome),
                )
                .await
                .map_err(store_error)?;
            let detail = serde_json::to_string(&self.stored(progress, outcome.clone()))
                .map_err(|err| HandlerError::permanent(err.to_string()))?;
            store
                .set_deploy_detail(record, &detail, None, None)
                .await
                .map_err(store_error)?;
        }
        if let Some(pull) = progress.pull {
            self.publish_comment(progress.installation_id, &repo, pull, &progress.sha)
                .await?;
        }
        tracing::info!(repo = %progress.repo, environment = %progress.environment, sha = %progress.sha, outcome = outcome.result.name(), "deploy finished");
        Ok(())
    }

    /// A deploy refused before it started: a completed check run, a history row, the comment
    /// (by the caller, once for every environment). Nothing is applied, no Deployment made.
    pub(super) async fn publish_refusal(
        &self,
        progress: &DeployProgress,
        result: DeployResult,
    ) -> Result<(), HandlerError> {
        let repo = repo_of(progress)?;
        let outcome = self.outcome(progress, result);
        let output = report::check_run_output(self.inner.templates, &outcome)?;
        let conclusion = outcome
            .result
            .conclusion()
            .unwrap_or(crate::github::CheckConclusion::Neutral);
        let request = CheckRunRequest {
            name: report::check_run_name(&progress.environment),
            head_sha: progress.sha.clone(),
            status: Some(CheckStatus::Completed),
            conclusion: Some(conclusion),
            details_url: None,
            external_id: None,
            output: Some(output),
        };
        let check_run = self
            .inner
            .github
            .create_check_run(progress.installation_id, &repo, &request)
            .await?;
        let now = now_millis();
        let record = NewDeploy {
            repository: progress.repo.clone(),
            environment: progress.environment.clone(),
            merge_sha: progress.sha.clone(),
            pull_number: progress.pull,
            started_at: now,
            finished_at: Some(now),
            outcome: outcome.result.name().to_string(),
            counts: counts(&outcome),
            deployment_id: None,
            check_run_id: Some(check_run.0),
        };
        let store = &self.inner.store;
        let id = store.record_deploy(&record).await.map_err(store_error)?;
        let detail = serde_json::to_string(&self.stored(progress, outcome))
            .map_err(|err| HandlerError::permanent(err.to_string()))?;
        store
            .set_deploy_detail(id, &detail, None, None)
            .await
            .map_err(store_error)?;
        tracing::info!(repo = %progress.repo, environment = %progress.environment, sha = %progress.sha, outcome = record.outcome, "deploy refused");
        Ok(())
    }

    /// Writes the merged pull request's deploy comment from the history: every environment's
    /// latest deploy of `sha`. One writer per pull request at a time.
    pub(super) async fn publish_comment(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        pull: u64,
        sha: &str,
    ) -> Result<(), HandlerError> {
        let full_name = repo.to_string();
        let writer = self.comment_writer(&full_name, pull);
        let _one_writer = writer.lock().await;
        let outcomes: Vec<DeployOutcome> = self
            .inner
            .store
            .deploys_of_commit(&full_name, sha)
            .await
            .map_err(store_error)?
            .iter()
            .filter(|record| record.pull_number == Some(pull))
            .filter_map(StoredDeploy::of)
            .map(|stored| stored.outcome)
            .collect();
        if outcomes.is_empty() {
            return Ok(());
        }
        let body = report::comment_body(self.inner.templates, &outcomes)?;
        let github = &self.inner.github;
        let comments = github
            .list_issue_comments(installation_id, repo, pull)
            .await?;
        match report::find_comment(&comments) {
            Some(id) => {
                let current = comments
                    .iter()
                    .find(|c| c.id == id)
                    .map(|c| c.body.as_str());
                if current != Some(body.as_str()) {
                    github
                        .update_issue_comment(installation_id, repo, id, &body)
                        .await?;
                }
            }
            None => {
                github
                    .create_issue_comment(installation_id, repo, pull, &body)
                    .await?;
            }
        }
        Ok(())
    }
}

fn repo_of(progress: &DeployProgress) -> Result<RepoRef, HandlerError> {
    progress
        .repo_ref()
        .ok_or_else(|| HandlerError::permanent(format!("`{}` is not an owner/name", progress.repo)))
}

pub(super) fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

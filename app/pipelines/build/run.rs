//! The `build` run kind: one build from its queued check run to its completed one.
//!
//! Steps, each short, driven by the Job watch's signals (`job`) and by the supervisor's timers:
//! 1. `queued` (a build slot is free): mint a read-only token for the app repo, render the Job
//!    and its Secret from the build template, create them (or adopt the Job a crashed attempt
//!    created: the name is the same for the same repo, SHA and attempt).
//! 2. `launched` / `running`: read the Job; a running pod puts the check run in progress; a
//!    finished Job completes it with the end of the log, or, on the default branch with a
//!    `deploy:`, hands over to
//! 3. `bumping`: the new tag is landed in the config repo (commit or rolling PR) and the check
//!    run links it.
//!
//! Every failure ends in a completed check run: errors that can pass are retried with backoff a
//! bounded number of times, then reported; a deadline (the Job's own, then the run's) reports
//! `timed_out`; a newer push cancels the run and its clean-up completes it as `cancelled`.

use std::time::Duration;

use serde_json::Value;

use crate::cluster::pods::ReportedDigest;
use crate::cluster::{self, BuildSpec, FailReason, JobState};
use crate::config::format_duration;
use crate::github::{CheckConclusion, CheckRunUpdate, CheckStatus};
use crate::pipelines::bumps::{BumpLanded, BumpOrder, SourceCommit};
use crate::runs::{HookFuture, RunKind, StepContext, StepError, StepFuture, StepOutcome, Trouble};
use crate::store::{now_millis, RunRecord};

use super::progress::{BuildProgress, BuildResult, Phase};
use super::report::{self, BumpNote, Facts, MovedImageNote, Outcome, LOG_LINES};
use super::{Builds, ClusterAccess};

/// A build whose Job sends no event for this long is read again anyway: a watch event can be
/// lost (a dropped connection between relists), a build must not wait for it forever.
const RESYNC: Duration = Duration::from_secs(5 * 60);
/// Tries of a step whose errors can pass, before the build is reported as failed.
const MAX_STEP_FAILURES: u32 = 6;

/// The run kind; registered as [`super::BUILD_RUN_KIND`].
pub struct BuildRun {
    pub(super) builds: Builds,
}

impl RunKind for BuildRun {
    fn step<'a>(&'a self, step: &'a StepContext) -> StepFuture<'a> {
        Box::pin(self.builds.step(step))
    }

    fn on_timeout<'a>(&'a self, run: &'a RunRecord) -> HookFuture<'a> {
        Box::pin(self.builds.finish_stopped(run, Outcome::TimedOut))
    }

    fn on_cancel<'a>(&'a self, run: &'a RunRecord) -> HookFuture<'a> {
        Box::pin(self.builds.finish_stopped(run, Outcome::Cancelled))
    }
}

fn progress_of(value: &Value) -> Result<BuildProgress, StepError> {
    serde_json::from_value(value.clone()).map_err(|err| {
        StepError::Permanent(format!("the build's stored progress is unreadable: {err}"))
    })
}

fn to_value(progress: &BuildProgress) -> Value {
    serde_json::to_value(progress).unwrap_or(Value::Null)
}

impl Builds {
    async fn step(&self, step: &StepContext) -> Result<StepOutcome, StepError> {
        let mut progress = progress_of(&step.run.progress)?;
        let stepped = match progress.phase {
            Phase::Queued => self.launch(&mut progress, step.run.id.0).await,
            Phase::Launched | Phase::Running => self.observe(&mut progress).await,
            Phase::Bumping => self.bump(&mut progress).await,
        };
        match stepped {
            Ok(outcome) => {
                progress.failures = 0;
                Ok(outcome)
            }
            Err(Trouble::Transient(reason)) if progress.failures + 1 < MAX_STEP_FAILURES => {
                progress.failures += 1;
                tracing::warn!(repo = %progress.repo, sha = %progress.sha, attempt = progress.failures, reason, "build step failed; trying again");
                let backoff = Duration::from_secs(2u64.pow(progress.failures).min(300));
                Ok(StepOutcome::WaitUntil {
                    at: now_millis() + backoff.as_millis() as i64,
                    progress: to_value(&progress),
                })
            }
            Err(Trouble::Transient(reason)) | Err(Trouble::Fatal(reason)) => {
                let outcome = if progress.phase == Phase::Bumping {
                    Outcome::BumpFailed
                } else {
                    Outcome::Failed
                };
                self.fail(&progress, outcome, &reason).await?;
                Ok(StepOutcome::failed(reason))
            }
        }
    }

    /// A free build slot: the Job and its Secret are created (or the existing Job adopted).
    async fn launch(
        &self,
        progress: &mut BuildProgress,
        run_id: i64,
    ) -> Result<StepOutcome, Trouble> {
        let cluster = match &self.inner.cluster {
            ClusterAccess::Ready(cluster) => cluster.clone(),
            ClusterAccess::Unavailable(reason) => {
                let mut facts = self.facts(progress, Outcome::NoCluster);
                facts.reason = reason.clone();
                self.complete(progress, CheckConclusion::Neutral, &facts)
                    .await?;
                return Ok(StepOutcome::succeeded(format!("not built: {reason}")));
            }
        };
        let repo_name = progress
            .repo
            .rsplit('/')
            .next()
            .unwrap_or(&progress.repo)
            .to_string();
        let token = self
            .inner
            .github
            .repository_read_token(progress.installation_id, &repo_name)
            .await?;
        let settings = &self.inner.settings;
        let spec = BuildSpec {
            repo: progress.repo.clone(),
            clone_url: progress.clone_url.clone(),
            sha: progress.sha.clone(),
            branch: progress.branch.clone(),
            default_branch: progress.default_branch.clone(),
            commit_message: progress.commit_message.clone(),
            attempt: progress.attempt,
            image: progress.recipe.image.clone(),
            dockerfile: progress.recipe.dockerfile.clone(),
            context: progress.recipe.context.clone(),
            build_args: progress.recipe.args.clone(),
            token: token.token,
            namespace: settings.namespace.clone(),
            executor_image: settings.executor_image.clone(),
            registry_secret: settings.registry_secret.clone(),
            timeout: settings.timeout,
            run_id: Some(run_id),
        };
        let objects = cluster::render(&self.inner.template, &spec)
            .map_err(|err| Trouble::Fatal(err.to_string()))?;
        let launched = cluster.launch(objects).await?;
        tracing::info!(repo = %progress.repo, sha = %progress.sha, job = %launched.job_name, adopted = launched.adopted, "build Job created");
        progress.job_name = Some(launched.job_name);
        progress.phase = Phase::Launched;
        self.observe(progress).await
    }

    /// Reads the Job and moves the check run along with it.
    async fn observe(&self, progress: &mut BuildProgress) -> Result<StepOutcome, Trouble> {
        let ClusterAccess::Ready(cluster) = &self.inner.cluster else {
            return Err(Trouble::Transient(
                "the cluster is not reachable".to_string(),
            ));
        };
        let Some(job) = progress.job_name.clone() else {
            return Err(Trouble::Fatal("the build has no Job".to_string()));
        };
        let state = cluster.job_state(&job).await?;
        if !progress.token_revoked
            && matches!(state, JobState::Pending | JobState::Running { .. })
            && cluster.source_fetched(&job).await?
        {
            self.revoke_token(progress, cluster, &job).await;
        }
        match state {
            JobState::Pending => Ok(self.wait_for_job(progress)),
            JobState::Running { started_at } => {
                if progress.phase != Phase::Running {
                    progress.phase = Phase::Running;
                    progress.started_at = started_at.or(Some(now_millis()));
                    let facts = self.facts(progress, Outcome::Running);
                    let output = report::output(self.inner.templates, &facts)
                        .map_err(|err| Trouble::Fatal(err.to_string()))?;
                    let update = CheckRunUpdate {
                        status: Some(CheckStatus::InProgress),
                        output: Some(output),
                        ..CheckRunUpdate::default()
                    };
                    self.update_check_run(progress, &update).await?;
                }
                Ok(self.wait_for_job(progress))
            }
            JobState::Succeeded {
                started_at,
                finished_at,
            } => {
                let result = BuildResult {
                    log_tail: self.log_tail(cluster, &job).await,
                    duration_ms: duration(started_at.or(progress.started_at), finished_at),
                };
                progress.result = Some(result);
                let digest = match cluster.pushed_digest(&job).await? {
                    Some(ReportedDigest::Valid(digest)) => Ok(digest),
                    Some(ReportedDigest::Malformed(message)) => Err(format!(
                        "the build reported {message:?} as the pushed image's digest, which is not sha256: followed by 64 hex digits."
                    )),
                    Some(ReportedDigest::Missing) | None => Err(
                        "the build reported no digest of the pushed image (the push step's termination message is empty)."
                            .to_string(),
                    ),
                };
                self.end_of_job(progress, cluster, &job).await?;
                progress.digest = digest.as_ref().ok().cloned();
                if self.bumps_after_build(progress) {
                    if let Err(reason) = digest {
                        let deploy = progress.deploy.clone();
                        let mut facts = self.finished_facts(progress, Outcome::BumpFailed);
                        facts.bump = BumpNote {
                            kind: "no_digest",
                            config_repo: deploy
                                .as_ref()
                                .map(|d| d.repo.clone())
                                .unwrap_or_default(),
                            environment: deploy.map(|d| d.environment).unwrap_or_default(),
                            reason: reason.clone(),
                            ..BumpNote::default()
                        };
                        self.complete(progress, CheckConclusion::Failure, &facts)
                            .await?;
                        return Ok(StepOutcome::failed(format!("not bumped: {reason}")));
                    }
                    progress.phase = Phase::Bumping;
                    return self.bump(progress).await;
                }
                let mut facts = self.finished_facts(progress, Outcome::Succeeded);
                if let Some(deploy) = &progress.deploy {
                    facts.bump = BumpNote {
                        kind: "not_default_branch",
                        config_repo: deploy.repo.clone(),
                        environment: deploy.environment.clone(),
                        ..BumpNote::default()
                    };
                }
                self.complete(progress, CheckConclusion::Success, &facts)
                    .await?;
                Ok(StepOutcome::succeeded("built"))
            }
            JobState::Failed {
                reason,
                message,
                started_at,
                finished_at,
            } => {
                progress.result = Some(BuildResult {
                    log_tail: self.log_tail(cluster, &job).await,
                    duration_ms: duration(started_at.or(progress.started_at), finished_at),
                });
                self.end_of_job(progress, cluster, &job).await?;
                let (outcome, conclusion) = match reason {
                    FailReason::DeadlineExceeded => (Outcome::TimedOut, CheckConclusion::TimedOut),
                    _ => (Outcome::Failed, CheckConclusion::Failure),
                };
                let mut facts = self.finished_facts(progress, outcome);
                facts.reason = message.clone();
                self.complete(progress, conclusion, &facts).await?;
                Ok(StepOutcome::failed(message))
            }
            JobState::Missing => Err(Trouble::Fatal(format!(
                "the build Job {job} was deleted before it finished"
            ))),
        }
    }

    /// The build succeeded on the default branch: its tag goes to the config repo.
    async fn bump(&self, progress: &mut BuildProgress) -> Result<StepOutcome, Trouble> {
        let Some(deploy) = progress.deploy.clone() else {
            return Err(Trouble::Fatal("the build deploys nowhere".to_string()));
        };
        let order = bump_order(progress).map_err(Trouble::Fatal)?;
        let landed = match self.inner.bumper.land(order).await {
            Ok(landed) => landed,
            Err(err) if err.is_transient() => return Err(Trouble::Transient(err.to_string())),
            Err(err) => return Err(Trouble::Fatal(err.to_string())),
        };
        let mut note = BumpNote {
            config_repo: deploy.repo.clone(),
            environment: deploy.environment.clone(),
            ..BumpNote::default()
        };
        match &landed {
            BumpLanded::Committed { sha, url, images } => {
                note.kind = "committed";
                note.url = url.clone();
                note.short_sha = sha.chars().take(7).collect();
                note.images = images
                    .iter()
                    .map(|moved| MovedImageNote {
                        image: moved.image.clone(),
                        environment: moved.environment.clone(),
                        from: moved.from.clone(),
                        to: moved.to.clone(),
                    })
                    .collect();
            }
            BumpLanded::Proposed {
                number,
                url,
                opened,
            } => {
                note.kind = "proposed";
                note.number = *number;
                note.url = url.clone();
                note.opened = *opened;
            }
            BumpLanded::AlreadyCurrent => note.kind = "already_current",
            BumpLanded::Locked { by, reason } => {
                note.kind = "locked";
                note.by = by.clone();
                note.lock_reason = reason.clone();
            }
            BumpLanded::NotAllowed {
                environment,
                image,
                source,
            } => {
                note.kind = "not_allowed";
                note.environment = environment.clone();
                note.image = image.clone();
                note.source = source.to_string();
            }
            BumpLanded::Newer {
                environment,
                running,
            } => {
                note.kind = "newer_running";
                note.environment = environment.clone();
                note.running = running.chars().take(7).collect();
            }
        }
        let mut facts = self.finished_facts(progress, Outcome::Succeeded);
        facts.bump = note;
        let details = match &landed {
            BumpLanded::Committed { url, .. } | BumpLanded::Proposed { url, .. } => {
                Some(url.clone())
            }
            _ => None,
        };
        let output = report::output(self.inner.templates, &facts)
            .map_err(|err| Trouble::Fatal(err.to_string()))?;
        let mut update = CheckRunUpdate::completed(CheckConclusion::Success, output);
        update.details_url = details;
        self.update_check_run(progress, &update).await?;
        Ok(StepOutcome::succeeded(format!(
            "built and bumped: {landed:?}"
        )))
    }

    /// A run that was cancelled or timed out: its Job goes, its check run completes.
    async fn finish_stopped(&self, run: &RunRecord, outcome: Outcome) -> Result<(), StepError> {
        let mut progress = progress_of(&run.progress)?;
        if let (ClusterAccess::Ready(cluster), Some(job)) =
            (&self.inner.cluster, progress.job_name.clone())
        {
            self.end_of_job(&mut progress, cluster, &job)
                .await
                .map_err(|trouble| match trouble {
                    Trouble::Transient(reason) | Trouble::Fatal(reason) => {
                        StepError::Retryable(reason)
                    }
                })?;
            cluster
                .delete(&job)
                .await
                .map_err(|err| StepError::Retryable(crate::failure::chain(&err)))?;
        }
        let mut facts = self.facts(&progress, outcome);
        facts.reason = run.outcome.clone().unwrap_or_default();
        let conclusion = match outcome {
            Outcome::Cancelled => CheckConclusion::Cancelled,
            _ => CheckConclusion::TimedOut,
        };
        match self.complete(&progress, conclusion, &facts).await {
            Ok(()) => Ok(()),
            Err(Trouble::Transient(reason)) => Err(StepError::Retryable(reason)),
            Err(Trouble::Fatal(reason)) => {
                tracing::error!(repo = %progress.repo, sha = %progress.sha, reason, "cannot complete the build's check run");
                Ok(())
            }
        }
    }

    /// Completes the check run as failed; an error here is the supervisor's to retry.
    async fn fail(
        &self,
        progress: &BuildProgress,
        outcome: Outcome,
        reason: &str,
    ) -> Result<(), StepError> {
        let mut facts = self.finished_facts(progress, outcome);
        facts.reason = reason.to_string();
        if outcome == Outcome::BumpFailed {
            facts.bump = BumpNote {
                kind: "failed",
                config_repo: progress
                    .deploy
                    .as_ref()
                    .map(|d| d.repo.clone())
                    .unwrap_or_default(),
                environment: progress
                    .deploy
                    .as_ref()
                    .map(|d| d.environment.clone())
                    .unwrap_or_default(),
                reason: reason.to_string(),
                ..BumpNote::default()
            };
        }
        match self
            .complete(progress, CheckConclusion::Failure, &facts)
            .await
        {
            Ok(()) => Ok(()),
            Err(Trouble::Transient(reason)) => Err(StepError::Retryable(reason)),
            Err(Trouble::Fatal(reason)) => Err(StepError::Permanent(reason)),
        }
    }

    /// Revokes the build's source token (`DELETE /installation/token` with that token): nothing
    /// needs it once the source is fetched, and the Dockerfile runs after that. A failure is
    /// logged and tried again at the next look at the Job (the token expires within the hour
    /// regardless).
    async fn revoke_token(
        &self,
        progress: &mut BuildProgress,
        cluster: &cluster::BuildCluster,
        job: &str,
    ) {
        let token = match cluster.source_token(job).await {
            Ok(Some(token)) => token,
            Ok(None) => {
                // No Secret, nothing left here to revoke with: it was deleted when the build
                // ended (or collected with its Job), and the token expires within the hour.
                progress.token_revoked = true;
                return;
            }
            Err(err) => {
                tracing::warn!(job, error = %crate::failure::chain(&err), "cannot read the build's token to revoke it");
                return;
            }
        };
        match self.inner.github.revoke_installation_token(&token).await {
            Ok(()) => {
                tracing::info!(repo = %progress.repo, sha = %progress.sha, job, "source fetched: the build's token is revoked");
                progress.token_revoked = true;
            }
            Err(err) => {
                tracing::warn!(job, error = %crate::failure::chain(&err), "cannot revoke the build's token; trying again later");
            }
        }
    }

    /// However the Job ended (success, failure, deadline, cancel): its token is revoked and
    /// the Secret holding it deleted.
    async fn end_of_job(
        &self,
        progress: &mut BuildProgress,
        cluster: &cluster::BuildCluster,
        job: &str,
    ) -> Result<(), Trouble> {
        if !progress.token_revoked {
            self.revoke_token(progress, cluster, job).await;
        }
        cluster.delete_source_secret(job).await?;
        Ok(())
    }

    fn bumps_after_build(&self, progress: &BuildProgress) -> bool {
        progress.deploy.is_some() && progress.branch == progress.default_branch
    }

    fn wait_for_job(&self, progress: &BuildProgress) -> StepOutcome {
        StepOutcome::WaitFor {
            signal: super::JOB_SIGNAL.to_string(),
            progress: to_value(progress),
            until: Some(now_millis() + RESYNC.as_millis() as i64),
        }
    }

    /// The end of the build's log with every token shape redacted; `None` when it cannot be
    /// read (the check run then says what it can without it).
    async fn log_tail(&self, cluster: &cluster::BuildCluster, job: &str) -> Option<String> {
        let token = match cluster.source_token(job).await {
            Ok(token) => token,
            Err(err) => {
                tracing::warn!(job, error = %crate::failure::chain(&err), "cannot read the build's token to redact its log; redacting token shapes only");
                None
            }
        };
        let registry = match cluster
            .registry_secret_values(&self.inner.settings.registry_secret)
            .await
        {
            Ok(values) => values,
            Err(err) => {
                tracing::warn!(job, error = %crate::failure::chain(&err), "cannot read the registry Secret to redact its values; redacting credential shapes only");
                Vec::new()
            }
        };
        let secrets: Vec<&str> = token
            .iter()
            .chain(registry.iter())
            .map(String::as_str)
            .collect();
        match cluster.log_tail(job, LOG_LINES as i64).await {
            Ok(Some(log)) => Some(cluster::build_log::redact_log(&log, &secrets, LOG_LINES)),
            Ok(None) => None,
            Err(err) => {
                tracing::warn!(job, error = %crate::failure::chain(&err), "cannot read the build log");
                None
            }
        }
    }

    pub(super) fn facts(&self, progress: &BuildProgress, outcome: Outcome) -> Facts {
        Facts::of(
            progress,
            outcome,
            &self.inner.settings.namespace,
            &format_duration(self.inner.settings.timeout),
        )
    }

    fn finished_facts(&self, progress: &BuildProgress, outcome: Outcome) -> Facts {
        let mut facts = self.facts(progress, outcome);
        if let Some(result) = &progress.result {
            facts.duration = result.duration_ms.map(report::human_duration);
            facts.log = result.log_tail.clone();
        }
        facts
    }

    async fn complete(
        &self,
        progress: &BuildProgress,
        conclusion: CheckConclusion,
        facts: &Facts,
    ) -> Result<(), Trouble> {
        let output = report::output(self.inner.templates, facts)
            .map_err(|err| Trouble::Fatal(err.to_string()))?;
        self.update_check_run(progress, &CheckRunUpdate::completed(conclusion, output))
            .await
    }

    async fn update_check_run(
        &self,
        progress: &BuildProgress,
        update: &CheckRunUpdate,
    ) -> Result<(), Trouble> {
        let Some(repo) = progress.repo_ref() else {
            return Err(Trouble::Fatal(format!(
                "`{}` is not an owner/name",
                progress.repo
            )));
        };
        self.inner
            .github
            .update_check_run(
                progress.installation_id,
                &repo,
                progress.check_run_id,
                update,
            )
            .await?;
        Ok(())
    }
}

/// What a green default-branch build hands the Bumper: the commit's SHA tag, the digest the
/// push step reported (a bump pins it), and who caused the build (the pusher, or whoever
/// pressed Re-run), so their own approval of a bump pull request does not count.
fn bump_order(progress: &BuildProgress) -> Result<BumpOrder, String> {
    let Some(deploy) = &progress.deploy else {
        return Err("the build deploys nowhere".to_string());
    };
    let (Some(config_repo), Some(source_repo)) = (deploy.repo.parse().ok(), progress.repo_ref())
    else {
        return Err(format!("`{}` is not an owner/name", deploy.repo));
    };
    let Some(digest) = progress.digest.clone() else {
        return Err("the build reported no digest of the pushed image".to_string());
    };
    Ok(BumpOrder {
        config_repo,
        environment: deploy.environment.clone(),
        image: progress.recipe.image.clone(),
        tag: progress.sha.clone(),
        digest: Some(digest),
        source: SourceCommit {
            repo: source_repo,
            sha: progress.sha.clone(),
            url: progress.commit_url(),
        },
        requested_by: progress.requested_by.clone(),
    })
}

fn duration(started: Option<i64>, finished: Option<i64>) -> Option<i64> {
    match (started, finished) {
        (Some(start), Some(end)) if end >= start => Some(end - start),
        (Some(start), None) => Some(now_millis() - start),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::CheckRunId;
    use crate::pipelines::build::progress::{BuildRecipe, DeployTarget};

    fn progress() -> BuildProgress {
        BuildProgress {
            installation_id: 1,
            repo: "acme/api".to_string(),
            clone_url: "https://github.com/acme/api.git".to_string(),
            html_url: Some("https://github.com/acme/api".to_string()),
            default_branch: "main".to_string(),
            branch: "main".to_string(),
            sha: "0123456789abcdef0123456789abcdef01234567".to_string(),
            commit_message: "feat".to_string(),
            attempt: 1,
            check_run_id: CheckRunId(7),
            recipe: BuildRecipe {
                image: "registry.example.com/team/api".to_string(),
                dockerfile: "Dockerfile".to_string(),
                context: ".".to_string(),
                args: Vec::new(),
            },
            deploy: Some(DeployTarget {
                repo: "acme/config".to_string(),
                environment: "dev".to_string(),
            }),
            phase: Phase::Bumping,
            job_name: Some("build-api-0123456-abc".to_string()),
            started_at: None,
            result: None,
            failures: 0,
            requested_by: Some("octocat".to_string()),
            digest: Some(format!("sha256:{}", "ab".repeat(32))),
            token_revoked: true,
        }
    }

    #[test]
    fn the_bump_order_carries_the_digest_and_who_caused_the_build() {
        let order = bump_order(&progress()).expect("an order");
        assert_eq!(order.tag, "0123456789abcdef0123456789abcdef01234567");
        assert_eq!(order.digest, Some(format!("sha256:{}", "ab".repeat(32))));
        assert_eq!(order.requested_by.as_deref(), Some("octocat"));
        assert_eq!(order.image, "registry.example.com/team/api");
        assert_eq!(order.environment, "dev");
        assert_eq!(
            order.source.url,
            "https://github.com/acme/api/commit/0123456789abcdef0123456789abcdef01234567"
        );
    }

    #[test]
    fn no_digest_no_bump_order() {
        let without = BuildProgress {
            digest: None,
            ..progress()
        };
        assert_eq!(
            bump_order(&without).unwrap_err(),
            "the build reported no digest of the pushed image"
        );
    }
}

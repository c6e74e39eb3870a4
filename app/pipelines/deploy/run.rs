//! The `deploy` run kind: one environment's deploy of one commit, from its check run to its
//! final report.
//!
//! Steps, each short, persisted between them (a restarted slipway goes on where it was; an
//! apply is server-side and so safe to repeat):
//! 1. `start`: the check run (found again after a crash by its external id), the GitHub
//!    Deployment in progress, the history row, the pull request's comment.
//! 2. `apply`: render the commit with its own settings of the environment (`path`,
//!    `namespace`, `helm`), check the policy of the configuration from before the change
//!    against what renders, server-side apply in dependency order, prune what the last deploy had and this
//!    one does not (when `prune: true`).
//! 3. `health`: wait, by watch and in slices, until the workloads are rolled out, up to the
//!    environment's `health_timeout`.
//! 4. On failure with `on_failure: rollback`, the same apply and health wait for the last
//!    successfully deployed commit; then the report says what happened.
//!
//! A newer commit cancels the run ([`super::start`]); its clean-up reports it superseded. A run
//! past its deadline reports itself failed. Every way out completes the check run and the
//! Deployment.

use std::time::Duration;

use crate::cluster::{Deployer, Inventory};
use crate::config::{self, Environment, OnFailure};
use crate::git::{self, CommitId, LocalRepo};
use crate::github::DeploymentId;
use crate::policy;
use crate::queue::HandlerError;
use crate::render::{self, K8sObject, ObjectKey};
use crate::runs::{HookFuture, RunKind, StepContext, StepError, StepFuture, StepOutcome, Trouble};
use crate::store::{now_millis, NewDeploy, RunRecord};

use super::progress::{DeployProgress, Phase};
use super::publish::StoredDeploy;
use super::report::{DeployResult, UnhealthyObject};
use super::start::{after, parse_superseded};
use super::{DeployAccess, Deploys};

/// The longest one health step waits; the run goes on in further steps until the timeout.
const HEALTH_SLICE: Duration = Duration::from_secs(20);
/// Tries of a step whose errors can pass, before the deploy is reported as failed.
const MAX_STEP_FAILURES: u32 = 6;

/// The run kind; registered as [`super::DEPLOY_RUN_KIND`].
pub struct DeployRun {
    pub(super) deploys: Deploys,
}

impl RunKind for DeployRun {
    fn step<'a>(&'a self, step: &'a StepContext) -> StepFuture<'a> {
        Box::pin(self.deploys.step(step))
    }

    fn on_timeout<'a>(&'a self, run: &'a RunRecord) -> HookFuture<'a> {
        Box::pin(async move {
            let waited = progress_of(&run.progress)
                .ok()
                .filter(|progress| progress.unreachable > 0)
                .map(|progress| progress.cluster);
            let message = match waited {
                Some(cluster) => format!(
                    "cluster `{cluster}` was still unreachable at the deploy's deadline \
                     (health_timeout plus 30 minutes); see slipway's log"
                ),
                None => "the deploy did not finish before its deadline (health_timeout plus \
                         30 minutes); see slipway's log"
                    .to_string(),
            };
            let result = DeployResult::ApplyFailed {
                object: None,
                message,
            };
            self.deploys.end_stopped(run, result).await
        })
    }

    fn on_cancel<'a>(&'a self, run: &'a RunRecord) -> HookFuture<'a> {
        Box::pin(async move {
            let reason = run.outcome.clone().unwrap_or_default();
            let result = match parse_superseded(&reason) {
                Some((by_sha, by_pull)) => DeployResult::Superseded { by_sha, by_pull },
                None => DeployResult::ApplyFailed {
                    object: None,
                    message: format!("the deploy was cancelled: {reason}"),
                },
            };
            self.deploys.end_stopped(run, result).await
        })
    }
}

/// What a step decided.
enum Next {
    /// Go on with the next phase at once (the progress is persisted first).
    Continue,
    /// The deploy is over.
    End(DeployResult),
    /// The environment's cluster does not answer or refuses slipway: the same step again after
    /// a backoff, for as long as the run's deadline allows. Deploys to other clusters go on.
    Unreachable(String),
}

fn progress_of(value: &serde_json::Value) -> Result<DeployProgress, StepError> {
    serde_json::from_value(value.clone()).map_err(|err| {
        StepError::Permanent(format!("the deploy's stored progress is unreadable: {err}"))
    })
}

fn to_value(progress: &DeployProgress) -> serde_json::Value {
    serde_json::to_value(progress).unwrap_or(serde_json::Value::Null)
}

impl Deploys {
    async fn step(&self, step: &StepContext) -> Result<StepOutcome, StepError> {
        let mut progress = progress_of(&step.run.progress)?;
        let stepped = match progress.phase {
            Phase::Start => self.begin(&mut progress, step.run.id.0).await,
            Phase::Apply => self.apply(&mut progress, false).await,
            Phase::Health => self.health(&mut progress, false).await,
            Phase::RollbackApply => self.apply(&mut progress, true).await,
            Phase::RollbackHealth => self.health(&mut progress, true).await,
        };
        let result = match stepped {
            Ok(Next::Continue) => {
                progress.failures = 0;
                if progress.unreachable > 0 {
                    progress.unreachable = 0;
                    tracing::info!(repo = %progress.repo, environment = %progress.environment, cluster = %progress.cluster, "the cluster answers again; the deploy goes on");
                    self.tell_waiting(&progress, DeployResult::InProgress)
                        .await
                        .map_err(|err| step_error(&err))?;
                }
                return Ok(StepOutcome::WaitUntil {
                    at: now_millis(),
                    progress: to_value(&progress),
                });
            }
            Ok(Next::Unreachable(reason)) => {
                progress.unreachable += 1;
                self.inner
                    .metrics
                    .cluster_unreachable
                    .get_or_create(&crate::telemetry::ClusterLabels {
                        cluster: progress.cluster.clone(),
                    })
                    .inc();
                let backoff = self.inner.backoff.after(progress.unreachable);
                tracing::warn!(repo = %progress.repo, environment = %progress.environment, cluster = %progress.cluster, attempt = progress.unreachable, reason, "the environment's cluster is unreachable; trying again after a backoff");
                let waiting = DeployResult::ClusterUnreachable {
                    cluster: progress.cluster.clone(),
                    reason,
                    retry_in: retry_in(backoff),
                };
                self.tell_waiting(&progress, waiting)
                    .await
                    .map_err(|err| step_error(&err))?;
                return Ok(StepOutcome::WaitUntil {
                    at: after(backoff),
                    progress: to_value(&progress),
                });
            }
            Ok(Next::End(result)) => result,
            Err(Trouble::Transient(reason)) if progress.failures + 1 < MAX_STEP_FAILURES => {
                progress.failures += 1;
                tracing::warn!(repo = %progress.repo, environment = %progress.environment, sha = %progress.sha, attempt = progress.failures, reason, "deploy step failed; trying again");
                let backoff = Duration::from_secs(2u64.pow(progress.failures).min(120));
                return Ok(StepOutcome::WaitUntil {
                    at: after(backoff),
                    progress: to_value(&progress),
                });
            }
            Err(Trouble::Transient(reason)) | Err(Trouble::Fatal(reason)) => {
                DeployResult::ApplyFailed {
                    object: None,
                    message: reason,
                }
            }
        };
        self.end(&progress, result).await
    }

    /// Publishes the end of the deploy; the run's verdict follows from the result.
    async fn end(
        &self,
        progress: &DeployProgress,
        result: DeployResult,
    ) -> Result<StepOutcome, StepError> {
        let succeeded = result == DeployResult::Succeeded;
        let name = result.name();
        self.publish_end(progress, result)
            .await
            .map_err(|err| step_error(&err))?;
        crate::telemetry::Metrics::count_cluster(
            &self.inner.metrics.deploys,
            &progress.cluster,
            name,
        );
        Ok(if succeeded {
            StepOutcome::succeeded("deployed")
        } else {
            StepOutcome::failed(name)
        })
    }

    /// The check run of a deploy under way says `standing` (waiting for its cluster, or going
    /// on again).
    async fn tell_waiting(
        &self,
        progress: &DeployProgress,
        standing: DeployResult,
    ) -> Result<(), HandlerError> {
        let (Some(id), Some(repo)) = (progress.check_run_id, progress.repo_ref()) else {
            return Ok(());
        };
        let outcome = self.outcome(progress, standing);
        let output = super::report::check_run_output(self.inner.templates, &outcome)?;
        let update = crate::github::CheckRunUpdate {
            name: None,
            status: Some(crate::github::CheckStatus::InProgress),
            conclusion: None,
            details_url: None,
            output: Some(output),
        };
        self.inner
            .github
            .update_check_run(
                progress.installation_id,
                &repo,
                crate::github::CheckRunId(id),
                &update,
            )
            .await?;
        Ok(())
    }

    /// A run that was cancelled or timed out: its check run, Deployment and history row end.
    async fn end_stopped(&self, run: &RunRecord, result: DeployResult) -> Result<(), StepError> {
        let progress = progress_of(&run.progress)?;
        let published = if progress.record_id.is_some() {
            self.publish_end(&progress, result).await
        } else {
            // It never started: the refusal's check run and history row say why.
            self.publish_refusal(&progress, result).await
        };
        match published {
            Ok(()) => Ok(()),
            Err(err) if err.is_transient() => Err(StepError::Retryable(err.to_string())),
            Err(err) => {
                tracing::error!(repo = %progress.repo, environment = %progress.environment, error = %crate::failure::chain(&err), "cannot report the end of a stopped deploy");
                Ok(())
            }
        }
    }

    /// The check run, the Deployment, the history row and the comment of a starting deploy.
    async fn begin(&self, progress: &mut DeployProgress, run_id: i64) -> Result<Next, Trouble> {
        let (_, env) = self.environment_of(progress).await?;
        // The environment as read now decides where it goes (and what the texts name).
        progress.cluster = env.cluster.clone();
        match self.inner.clusters.get(&env.cluster) {
            Err(refusal) => {
                return Ok(Next::End(DeployResult::ApplyFailed {
                    object: None,
                    message: refusal,
                }))
            }
            // Its apply waits for it.
            Ok(DeployAccess::Unavailable(_)) if self.inner.clusters.may_come(&env.cluster) => {}
            Ok(DeployAccess::Unavailable(reason)) => {
                return Ok(Next::End(DeployResult::NoCluster {
                    reason: format!("cluster `{}`: {reason}", env.cluster),
                }));
            }
            Ok(DeployAccess::Ready(_)) => {}
        }
        if progress.check_run_id.is_none() {
            let id = self
                .open_check_run(progress, &format!("deploy-run-{run_id}"))
                .await?;
            progress.check_run_id = Some(id.0);
        }
        if progress.deployment_id.is_none() {
            let DeploymentId(id) = self.open_deployment(progress, env.production).await?;
            progress.deployment_id = Some(id);
        }
        if progress.record_id.is_none() {
            let store = &self.inner.store;
            let record = NewDeploy {
                repository: progress.repo.clone(),
                environment: progress.environment.clone(),
                merge_sha: progress.sha.clone(),
                pull_number: progress.pull,
                started_at: now_millis(),
                finished_at: None,
                outcome: DeployResult::InProgress.name().to_string(),
                counts: Default::default(),
                deployment_id: progress.deployment_id,
                check_run_id: progress.check_run_id,
            };
            let id = store.record_deploy(&record).await?;
            progress.record_id = Some(id);
            let outcome = self.outcome(progress, DeployResult::InProgress);
            let detail = serde_json::to_string(&self.stored(progress, outcome))
                .map_err(|err| Trouble::Fatal(err.to_string()))?;
            store.set_deploy_detail(id, &detail, None, None).await?;
        }
        if let (Some(pull), Some(repo)) = (progress.pull, progress.repo_ref()) {
            self.publish_comment(progress.installation_id, &repo, pull, &progress.sha)
                .await?;
        }
        progress.phase = Phase::Apply;
        Ok(Next::Continue)
    }

    /// Renders the commit (the deploy's, or the one it rolls back to), checks the policy,
    /// applies and prunes.
    async fn apply(&self, progress: &mut DeployProgress, rollback: bool) -> Result<Next, Trouble> {
        let (mirror, env) = self.environment_of(progress).await?;
        // Never another cluster: an environment naming one this slipway does not know is
        // applied nowhere, and one is applied only through the cluster it names.
        let deployer = match self.inner.clusters.get(&env.cluster) {
            Ok(_) if env.cluster != progress.cluster => {
                return Ok(Next::End(DeployResult::ApplyFailed {
                    object: None,
                    message: format!(
                        "environment `{}` names cluster `{}`, but this deploy was started for cluster `{}`: nothing was applied",
                        env.name, env.cluster, progress.cluster
                    ),
                }))
            }
            Ok(_) => match self.deployer(&env.cluster).await? {
                Ok(deployer) => deployer,
                Err(waiting) => return Ok(Next::Unreachable(waiting)),
            },
            Err(refusal) => {
                return Ok(Next::End(DeployResult::ApplyFailed {
                    object: None,
                    message: refusal,
                }))
            }
        };
        let sha = match (&progress.rollback_to, rollback) {
            (Some(to), true) => to.clone(),
            _ => progress.sha.clone(),
        };
        let objects = match render_at(mirror, &env.name, &sha).await? {
            Ok(objects) => objects,
            Err(message) => return self.failed(progress, &env, rollback, None, message).await,
        };
        // Each kind where the cluster puts it: discovery's scope, not the render's guess.
        let served = deployer.scopes(&objects).await?;
        let violations = policy::check_in_cluster(&env, &objects, |group, kind| {
            served.get(&(group.to_string(), kind.to_string())).copied()
        });
        if !violations.is_empty() {
            if rollback {
                let message = format!(
                    "{} object(s) of the last good commit break the policy now",
                    violations.len()
                );
                return self.failed(progress, &env, true, None, message).await;
            }
            return Ok(Next::End(DeployResult::RefusedByPolicy { violations }));
        }
        let inventory = Inventory::in_cluster(&progress.repo, &progress.environment, &env.cluster);
        let may_adopt = |kind: &str, name: &str| env.may_adopt(kind, name);
        let report = match deployer
            .apply_adopting(&objects, &inventory, &may_adopt)
            .await
        {
            Ok(report) => report,
            Err(failed) => {
                // The API server may quote what it refused: no Secret value goes further.
                let values = secret_values(&objects);
                let values: Vec<&str> = values.iter().map(String::as_str).collect();
                let transient = failed.error.is_transient();
                let message = crate::failure::chain(&failed.error.redacted(&values));
                if transient {
                    return Err(Trouble::Transient(message));
                }
                if !rollback {
                    progress.objects = failed.done.objects;
                    progress.conflicts = failed.done.conflicts;
                }
                return self
                    .failed(progress, &env, rollback, failed.object, message)
                    .await;
            }
        };
        if env.prune {
            let mut previous = self.last_deployed_objects(progress).await?;
            if rollback {
                previous.extend(progress.object_keys());
            }
            let pruned = deployer.prune(&inventory, &objects, &previous).await?;
            if !rollback {
                progress.pruned = pruned;
            }
        }
        if rollback {
            progress.phase = Phase::RollbackHealth;
        } else {
            progress.objects = report.objects;
            progress.conflicts = report.conflicts;
            progress.phase = Phase::Health;
        }
        progress.health_deadline = Some(after(env.health_timeout));
        Ok(Next::Continue)
    }

    /// Waits (one slice at most) for the applied workloads to become healthy.
    async fn health(&self, progress: &mut DeployProgress, rollback: bool) -> Result<Next, Trouble> {
        let deployer = match self.deployer(&progress.cluster).await? {
            Ok(deployer) => deployer,
            Err(waiting) => return Ok(Next::Unreachable(waiting)),
        };
        let deadline = progress.health_deadline.unwrap_or_else(now_millis);
        let remaining = Duration::from_millis(u64::try_from(deadline - now_millis()).unwrap_or(0));
        // Other kinds are healthy once applied: only workloads are waited for.
        let keys: Vec<ObjectKey> = progress
            .object_keys()
            .into_iter()
            .filter(|key| crate::cluster::health::is_workload(&key.group, &key.kind))
            .collect();
        let report = deployer
            .wait_healthy(&keys, remaining.min(HEALTH_SLICE))
            .await?;
        if report.is_healthy() {
            return Ok(Next::End(match (rollback, &progress.rollback_to) {
                (true, Some(to)) => DeployResult::RolledBack {
                    to_sha: to.clone(),
                    reason: progress.failure.clone().unwrap_or_default(),
                },
                _ => DeployResult::Succeeded,
            }));
        }
        if report.failed.is_empty() && now_millis() < deadline {
            return Ok(Next::Continue);
        }
        let mut unhealthy: Vec<UnhealthyObject> = report.failed;
        unhealthy.extend(report.pending);
        if rollback {
            let to = progress.rollback_to.clone().unwrap_or_default();
            return Ok(Next::End(DeployResult::RolledBack {
                to_sha: to,
                reason: format!(
                    "{}; after the rollback, {} object(s) are still not healthy: {}",
                    progress.failure.clone().unwrap_or_default(),
                    unhealthy.len(),
                    describe(&unhealthy)
                ),
            }));
        }
        let (_, env) = self.environment_of(progress).await?;
        if let Some(to) = self.rollback_target(progress, &env).await? {
            progress.failure = Some(format!(
                "{} object(s) did not become healthy within {}: {}",
                unhealthy.len(),
                config::format_duration(env.health_timeout),
                describe(&unhealthy)
            ));
            progress.rollback_to = Some(to);
            progress.phase = Phase::RollbackApply;
            return Ok(Next::Continue);
        }
        Ok(Next::End(DeployResult::Unhealthy { objects: unhealthy }))
    }

    /// A failed apply: rolled back when the environment says so and there is something to go
    /// back to, otherwise the end.
    async fn failed(
        &self,
        progress: &mut DeployProgress,
        env: &Environment,
        rollback: bool,
        object: Option<ObjectKey>,
        message: String,
    ) -> Result<Next, Trouble> {
        if rollback {
            return Ok(Next::End(DeployResult::RolledBack {
                to_sha: progress.rollback_to.clone().unwrap_or_default(),
                reason: format!(
                    "{}; the rollback failed too: {message}",
                    progress.failure.clone().unwrap_or_default()
                ),
            }));
        }
        if let Some(to) = self.rollback_target(progress, env).await? {
            let on = object.map(|o| format!(" on {o}")).unwrap_or_default();
            progress.failure = Some(format!("the apply failed{on}: {message}"));
            progress.rollback_to = Some(to);
            progress.phase = Phase::RollbackApply;
            return Ok(Next::Continue);
        }
        Ok(Next::End(DeployResult::ApplyFailed { object, message }))
    }

    /// Where a failed deploy goes back to: the last successfully deployed commit, when the
    /// environment rolls back and one exists that is not this deploy's.
    async fn rollback_target(
        &self,
        progress: &DeployProgress,
        env: &Environment,
    ) -> Result<Option<String>, Trouble> {
        if env.on_failure != OnFailure::Rollback {
            return Ok(None);
        }
        let last = self
            .inner
            .store
            .last_successful_deploy(&progress.repo, &progress.environment)
            .await?;
        Ok(last.filter(|sha| *sha != progress.sha))
    }

    /// The objects the environment's last successful deploy applied: what prune looks for.
    async fn last_deployed_objects(
        &self,
        progress: &DeployProgress,
    ) -> Result<Vec<ObjectKey>, Trouble> {
        let last = self
            .inner
            .store
            .last_successful_deploy_record(&progress.repo, &progress.environment)
            .await?;
        Ok(last
            .as_ref()
            .and_then(StoredDeploy::of)
            .map(|stored| {
                stored
                    .outcome
                    .objects
                    .iter()
                    .map(|o| o.object.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The deployer of cluster `name` once it answers; `Ok(Err(why))` while the deploy waits
    /// for it (it does not answer, refuses slipway, or its client cannot be made yet). A
    /// cluster the settings do not name, or without any configuration, ends the deploy.
    async fn deployer(&self, name: &str) -> Result<Result<Deployer, String>, Trouble> {
        let clusters = &self.inner.clusters;
        match clusters.reach(name).await.map_err(Trouble::Fatal)? {
            DeployAccess::Ready(deployer) => Ok(match unreachable(&deployer).await {
                Some(waiting) => Err(waiting),
                None => Ok(deployer),
            }),
            DeployAccess::Unavailable(reason) if clusters.may_come(name) => {
                Ok(Err(format!("has no usable client yet: {reason}")))
            }
            DeployAccess::Unavailable(reason) => {
                Err(Trouble::Fatal(format!("cluster `{name}`: {reason}")))
            }
        }
    }

    /// The mirror holding the deploy's commits, and the environment as configured at the
    /// commit before the change.
    async fn environment_of(
        &self,
        progress: &DeployProgress,
    ) -> Result<(LocalRepo, Environment), Trouble> {
        let mut commits = Vec::new();
        for sha in [
            Some(&progress.sha),
            Some(&progress.config_sha),
            progress.rollback_to.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            let commit: CommitId = sha.parse()?;
            commits.push(commit);
        }
        let token = self
            .inner
            .github
            .installation_token(progress.installation_id)
            .await?;
        let mirror = self
            .mirror_of(&progress.clone_url, token.token, &commits)
            .await?;
        let (reader, config_sha, name) = (
            mirror.clone(),
            progress.config_sha.clone(),
            progress.environment.clone(),
        );
        let env = git::blocking(move || -> Result<Result<Environment, String>, HandlerError> {
            let config = config::read_config_repo_at(&reader.tree_at(&config_sha)?)?;
            Ok(config.environment(&name).cloned().ok_or_else(|| {
                format!("environment `{name}` is not declared in .github/slipway.yml at {config_sha}")
            }))
        })
        .await?
        .map_err(Trouble::Fatal)?;
        Ok((mirror, env))
    }
}

/// Why the cluster cannot be deployed to now (`unreachable: …`, `refuses slipway: …`), when it
/// does not answer, answers with a server error, or refuses slipway's credentials; `None` when
/// it answers.
async fn unreachable(deployer: &Deployer) -> Option<String> {
    let err = deployer.check_reachable().await.err()?;
    let refused = matches!(err.code(), Some(401 | 403));
    (err.is_transient() || refused).then(|| {
        let why = crate::failure::chain(&err);
        if refused {
            format!("refuses slipway: {why}")
        } else {
            format!("unreachable: {why}")
        }
    })
}

/// A backoff as the check run says it: `8s`, `2m`, or `250ms` below a second.
fn retry_in(backoff: Duration) -> String {
    if backoff < Duration::from_secs(1) {
        return format!("{}ms", backoff.as_millis());
    }
    config::format_duration(backoff)
}

/// Environment `name` rendered at `sha` with that commit's own settings of it
/// ([`super::affected::environment_at`]), or why it does not render.
async fn render_at(
    mirror: LocalRepo,
    name: &str,
    sha: &str,
) -> Result<Result<Vec<K8sObject>, String>, Trouble> {
    let (name, sha) = (name.to_string(), sha.to_string());
    let rendered = git::blocking(move || -> Result<_, HandlerError> {
        let env = match super::affected::environment_at(&mirror, &sha, &name) {
            Ok(env) => env,
            Err(message) => return Ok(Err(message)),
        };
        let tree = mirror.tree_at(&sha)?;
        Ok(render::render_environment(&tree, &env).map_err(|err| {
            format!(
                "environment `{}` at {} does not render: {}",
                env.name,
                &sha[..sha.len().min(12)],
                crate::failure::chain(&err)
            )
        }))
    })
    .await?;
    Ok(rendered)
}

/// Every value the Secrets among `objects` hold, as written and (for `data`) decoded: what an
/// API server's message must not carry on to GitHub or the log.
fn secret_values(objects: &[K8sObject]) -> Vec<String> {
    use base64::Engine;
    let mut values = Vec::new();
    for object in objects {
        if object.api_group() != "" || object.kind() != "Secret" {
            continue;
        }
        for field in ["data", "stringData"] {
            let Some(entries) = object.value[field].as_object() else {
                continue;
            };
            for value in entries.values().filter_map(|v| v.as_str()) {
                if field == "data" {
                    if let Some(decoded) = base64::engine::general_purpose::STANDARD
                        .decode(value)
                        .ok()
                        .and_then(|bytes| String::from_utf8(bytes).ok())
                    {
                        values.push(decoded);
                    }
                }
                values.push(value.to_string());
            }
        }
    }
    values.retain(|v| !v.is_empty());
    values
}

/// `object: reason; …` for a failure message, the first five.
fn describe(unhealthy: &[UnhealthyObject]) -> String {
    let mut text = unhealthy
        .iter()
        .take(5)
        .map(|u| format!("{}: {}", u.object, u.reason))
        .collect::<Vec<_>>()
        .join("; ");
    if unhealthy.len() > 5 {
        text.push_str(&format!("; and {} more", unhealthy.len() - 5));
    }
    text
}

fn step_error(err: &HandlerError) -> StepError {
    if err.is_transient() {
        StepError::Retryable(crate::failure::chain(err))
    } else {
        StepError::Permanent(crate::failure::chain(err))
    }
}

//! The webhook side of deploys: a push to a config repo's default branch becomes one decision
//! per environment it changes — refused (with a check run saying why) or a `deploy` run
//! started.
//!
//! A merge arrives twice: as `pull_request` `closed` and as the `push` that moved the default
//! branch. The push deploys, whatever the merge method: its `before` is the branch before the
//! change — the configuration (approvals, policy, environments) and the diff base are read
//! there, never from the merge commit's first parent (for a rebase merge that is the pull
//! request's own commit, and a pull request could lower its own bar) nor from the pull
//! request's `base.sha` (which can lag the branch). The merged pull request, when there is one,
//! is the one GitHub associates with the pushed commit (`commits/{after}/pulls`: merged into
//! the default branch, `merge_commit_sha` the pushed commit); its reviews decide the gate.
//! `closed` deploys nothing, so either order of the two webhooks deploys once.

use std::time::Duration;

use crate::config::{Environment, ReadError};
use crate::git::{self, CommitId, LocalRepo, Remote, Token};
use crate::github::PullRequest;
use crate::queue::{Delivery, HandlerError};
use crate::runs::Runs;
use crate::store::{now_millis, RunTarget, StartOutcome};
use crate::webhook::{CheckRunEvent, PushEvent, Repository};

use super::affected::{self, Affected, AffectedError};
use super::coverage::{Coverage, CoverageQuery, MergedPull};
use super::decide::{decide, Decision, Origin};
use super::gate::ReviewFacts;
use super::progress::{subject, DeployProgress, Phase, Trigger};
use super::publish::short;
use super::report::DeployResult;
use super::{Deploys, DEPLOY_RUN_KIND, RUN_MARGIN};

/// One environment's deploy to start.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// The config repo, `owner/name`.
    pub repo: String,
    pub clone_url: String,
    pub html_url: Option<String>,
    pub installation_id: i64,
    pub environment: String,
    /// The cluster the environment names.
    pub cluster: String,
    pub sha: String,
    pub config_sha: String,
    pub pull: Option<u64>,
    pub fork: Option<String>,
    pub trigger: Trigger,
    pub health_timeout: Duration,
}

impl DeployRequest {
    fn progress(&self) -> DeployProgress {
        DeployProgress {
            phase: Phase::Start,
            repo: self.repo.clone(),
            clone_url: self.clone_url.clone(),
            html_url: self.html_url.clone(),
            installation_id: self.installation_id,
            environment: self.environment.clone(),
            cluster: self.cluster.clone(),
            sha: self.sha.clone(),
            config_sha: self.config_sha.clone(),
            pull: self.pull,
            fork: self.fork.clone(),
            trigger: self.trigger,
            check_run_id: None,
            deployment_id: None,
            record_id: None,
            objects: Vec::new(),
            pruned: Vec::new(),
            conflicts: Vec::new(),
            health_deadline: None,
            failure: None,
            rollback_to: None,
            failures: 0,
            unreachable: 0,
        }
    }
}

/// The history's outcome of a deploy a newer commit replaced.
const SUPERSEDED: &str = "superseded";

/// The reason a run is cancelled with when a newer commit deploys instead; parsed back by the
/// cancelled run's clean-up to say what superseded it.
pub(super) fn superseded_reason(sha: &str, pull: Option<u64>) -> String {
    match pull {
        Some(pull) => format!("superseded by {sha} #{pull}"),
        None => format!("superseded by {sha}"),
    }
}

/// The commit and pull request a [`superseded_reason`] names.
pub(super) fn parse_superseded(reason: &str) -> Option<(String, Option<u64>)> {
    let rest = reason.strip_prefix("superseded by ")?;
    let mut words = rest.split_whitespace();
    let sha = words.next()?.to_string();
    let pull = words
        .next()
        .and_then(|w| w.strip_prefix('#'))
        .and_then(|n| n.parse().ok());
    Some((sha, pull))
}

impl Deploys {
    /// `push` to the default branch of a config repo: deploys every environment the change
    /// (`before..after`) alters that its gate, lock and policy allow. Pushed by a merge, the
    /// merged pull request's reviews decide the gated environments; pushed straight to the
    /// branch, gated environments are refused.
    pub(crate) async fn on_push(
        &self,
        runs: &Runs,
        delivery: &Delivery,
        push: &PushEvent,
    ) -> Result<(), HandlerError> {
        let repository = &push.repository;
        let repo = repository.full_name.to_string();
        let branch = format!("refs/heads/{}", repository.default_branch);
        if push.git_ref != branch
            || push.deleted
            || push.before.is_zero()
            || push.after.is_zero()
            || repository.fork
        {
            return Ok(());
        }
        let Some(installation) = push.installation else {
            return Ok(());
        };
        let installation_id = installation.0;
        let (before, after) = (push.before, push.after);
        let mirror = self
            .mirror(installation_id, repository, &[before, after])
            .await?;
        // An app repo's push stops here, before GitHub is asked anything.
        let reader = mirror.clone();
        let known = self.inner.clusters.known().clone();
        let declares = git::blocking(move || -> Result<bool, HandlerError> {
            match crate::config::read_at(&reader.tree_at(&before.to_hex())?, &known) {
                Ok(config) => Ok(config.config_repo.is_some()),
                Err(ReadError::NotFound { .. }) => Ok(false),
                // Broken: the deploy decision below says so.
                Err(_) => Ok(true),
            }
        })
        .await?;
        if !declares {
            return Ok(());
        }
        let Some(mut affected) = self
            .affected(delivery, &repo, mirror.clone(), after, before)
            .await?
        else {
            return Ok(());
        };
        let mut last_deploys = Vec::with_capacity(affected.environments.len());
        for env in &mut affected.environments {
            last_deploys.push(
                self.hold_the_bar(&repo, &mirror, &mut env.environment)
                    .await?,
            );
        }
        let merged = self
            .merged_pull(installation_id, repository, &after.to_hex())
            .await?;
        if let Some(pull) = &merged {
            tracing::info!(delivery = %delivery.id, repo, pull = pull.number, sha = %after.short(7), "push of a merged pull request");
        }
        let fork = merged.as_ref().filter(|p| p.is_fork()).map(fork_name);
        let gated = affected
            .environments
            .iter()
            .any(|a| a.environment.required_approvals > 0);
        let reviews = match &merged {
            Some(pull) if fork.is_none() && gated => {
                Some(self.review_facts(installation_id, repository, pull).await?)
            }
            _ => None,
        };
        let mut published = false;
        for (env, last_deploy) in affected.environments.iter().zip(last_deploys) {
            let coverage = match (&merged, &reviews) {
                (Some(pull), Some(reviews)) => {
                    let since = last_deploy.unwrap_or(before);
                    let query = CoverageQuery {
                        installation_id,
                        repository,
                        mirror: &mirror,
                        env: &env.environment,
                        since,
                        to: after,
                    };
                    self.coverage_if_gated(query, MergedPull { pull, reviews })
                        .await?
                }
                _ => None,
            };
            let origin = match &merged {
                Some(_) => Origin::Merge {
                    fork: fork.as_deref(),
                    reviews: reviews.as_ref(),
                    coverage: coverage.as_ref(),
                },
                None => Origin::Push {
                    branch: &repository.default_branch,
                },
            };
            let request = DeployRequest {
                repo: repo.clone(),
                clone_url: repository.clone_url.clone(),
                html_url: repository.html_url.clone(),
                installation_id,
                environment: env.environment.name.clone(),
                cluster: env.environment.cluster.clone(),
                sha: after.to_hex(),
                config_sha: before.to_hex(),
                pull: merged.as_ref().map(|p| p.number),
                fork: fork.clone(),
                trigger: if merged.is_some() {
                    Trigger::Merge
                } else {
                    Trigger::Push
                },
                health_timeout: env.environment.health_timeout,
            };
            published |= self.settle(runs, env, origin, request).await?;
        }
        if let (true, Some(pull)) = (published, &merged) {
            self.publish_comment(
                installation_id,
                &repository.full_name,
                pull.number,
                &after.to_hex(),
            )
            .await?;
        }
        Ok(())
    }

    /// The pull request merged into the default branch as `sha` (merge, squash, or the last
    /// of a rebase's commits), if any.
    async fn merged_pull(
        &self,
        installation_id: i64,
        repository: &Repository,
        sha: &str,
    ) -> Result<Option<PullRequest>, HandlerError> {
        let pulls = self
            .inner
            .github
            .pulls_of_commit(installation_id, &repository.full_name, sha)
            .await?;
        Ok(pulls.into_iter().find(|p| {
            p.merged
                && p.base.ref_name == repository.default_branch
                && p.merge_commit_sha
                    .as_deref()
                    .is_some_and(|merge| merge.eq_ignore_ascii_case(sha))
        }))
    }

    /// The reviews of `pull` and what slipway recorded of it (pushers, requesters, base
    /// changes): what its gate is decided from.
    async fn review_facts(
        &self,
        installation_id: i64,
        repository: &Repository,
        pull: &PullRequest,
    ) -> Result<ReviewFacts, HandlerError> {
        let participants = self
            .inner
            .store
            .pull_participants(&repository.full_name.to_string(), pull.number)
            .await?;
        Ok(ReviewFacts::fetch(
            &self.inner.github,
            installation_id,
            &repository.full_name,
            pull.number,
            &pull.user_login,
            &pull.head.sha,
            participants,
        )
        .await?)
    }

    /// The commit `environment` last deployed successfully, when the mirror has it.
    async fn last_deployed(
        &self,
        repo: &str,
        environment: &str,
        mirror: &LocalRepo,
    ) -> Result<Option<CommitId>, HandlerError> {
        let Some(last) = self
            .inner
            .store
            .last_successful_deploy_record(repo, environment)
            .await?
        else {
            return Ok(None);
        };
        Ok(last
            .merge_sha
            .parse::<CommitId>()
            .ok()
            .filter(|commit| mirror.has_commit(commit)))
    }

    /// Raises `env`'s gate to the one it last deployed under (the deployed commit's own
    /// settings of it) when that was stricter. Dropping an environment, declaring it again
    /// without approvals and then changing it deploys nothing of it until the last step, so
    /// each step would pass on its own: the bar moves down only with a deploy that met it.
    /// Returns that last deployed commit, where unreviewed content is looked for from.
    async fn hold_the_bar(
        &self,
        repo: &str,
        mirror: &LocalRepo,
        env: &mut Environment,
    ) -> Result<Option<CommitId>, HandlerError> {
        let Some(last) = self.last_deployed(repo, &env.name, mirror).await? else {
            return Ok(None);
        };
        let (reader, name) = (mirror.clone(), env.name.clone());
        let then = git::blocking(move || -> Result<_, HandlerError> {
            Ok(affected::environment_at(&reader, &last.to_hex(), &name).ok())
        })
        .await?;
        if let Some(then) = then {
            env.required_approvals = env.required_approvals.max(then.required_approvals);
            env.allow_stale_approvals &= then.allow_stale_approvals;
        }
        Ok(Some(last))
    }

    /// For an environment that requires approvals and whose gate `merged` passes: whether
    /// everything `query` covers was reviewed. `None` otherwise (nothing to check, or refused
    /// already).
    async fn coverage_if_gated(
        &self,
        query: CoverageQuery<'_>,
        merged: MergedPull<'_>,
    ) -> Result<Option<Coverage>, HandlerError> {
        if query.env.required_approvals == 0 || !merged.reviews.decide(query.env).passes() {
            return Ok(None);
        }
        let coverage = self.coverage(query, Some(merged)).await?;
        Ok(Some(coverage))
    }

    /// `check_run` `rerequested` of a `slipway/deploy/<env>` check: the commit is decided for
    /// the environment again (lock, approvals as they are now, fork) and, when allowed and
    /// still the newest, deployed. How a locked deploy goes out once unlocked.
    pub(crate) async fn on_rerequest(
        &self,
        runs: &Runs,
        delivery: &Delivery,
        event: &CheckRunEvent,
    ) -> Result<(), HandlerError> {
        let Some(environment) = event.name.strip_prefix(super::report::CHECK_PREFIX) else {
            return Ok(());
        };
        let repository = &event.repository;
        let repo = repository.full_name.to_string();
        let (Some(installation), false) = (event.installation, repository.fork) else {
            return Ok(());
        };
        let sha = event.head_sha.to_hex();
        let records = self.inner.store.deploys_of_commit(&repo, &sha).await?;
        let Some(stored) = records
            .iter()
            .rev()
            .filter(|r| r.environment == environment)
            .find_map(super::publish::StoredDeploy::of)
        else {
            tracing::info!(delivery = %delivery.id, repo, environment, sha = %short(&sha), "re-run of a deploy slipway has no record of: ignored");
            return Ok(());
        };
        let config_sha: CommitId = stored
            .config_sha
            .parse()
            .map_err(|err: crate::git::GitError| HandlerError::permanent(err.to_string()))?;
        let mirror = self
            .mirror(installation.0, repository, &[event.head_sha, config_sha])
            .await?;
        let reader = mirror.clone();
        let config = git::blocking(move || -> Result<_, HandlerError> {
            Ok(crate::config::read_config_repo_at(
                &reader.tree_at(&config_sha.to_hex())?,
            )?)
        })
        .await?;
        let Some(mut env) = config.environment(environment).cloned() else {
            return Ok(());
        };
        let last_deploy = self.hold_the_bar(&repo, &mirror, &mut env).await?;
        let pull = stored.outcome.pull_number;
        let details = match (pull, &stored.fork, env.required_approvals) {
            (Some(number), None, required) if required > 0 => Some(
                self.inner
                    .github
                    .get_pull(installation.0, &repository.full_name, number)
                    .await?,
            ),
            _ => None,
        };
        let reviews = match &details {
            Some(details) => Some(
                self.review_facts(installation.0, repository, details)
                    .await?,
            ),
            None => None,
        };
        // The same rules as at the push: what lies between the last deploy and this commit
        // must have been reviewed, as it stands now.
        let coverage = match (&details, &reviews) {
            (Some(pull), Some(reviews)) => {
                let since = last_deploy.unwrap_or(config_sha);
                let query = CoverageQuery {
                    installation_id: installation.0,
                    repository,
                    mirror: &mirror,
                    env: &env,
                    since,
                    to: event.head_sha,
                };
                self.coverage_if_gated(query, MergedPull { pull, reviews })
                    .await?
            }
            _ => None,
        };
        let origin = match pull {
            Some(_) => Origin::Merge {
                fork: stored.fork.as_deref(),
                reviews: reviews.as_ref(),
                coverage: coverage.as_ref(),
            },
            None => Origin::Push {
                branch: &repository.default_branch,
            },
        };
        // Render and policy are checked by the deploy itself, at its apply.
        let affected = affected::AffectedEnvironment {
            environment: env.clone(),
            render: Ok(Vec::new()),
            violations: Vec::new(),
        };
        let request = DeployRequest {
            repo: repo.clone(),
            clone_url: repository.clone_url.clone(),
            html_url: repository.html_url.clone(),
            installation_id: installation.0,
            environment: environment.to_string(),
            cluster: env.cluster.clone(),
            sha: sha.clone(),
            config_sha: stored.config_sha.clone(),
            pull,
            fork: stored.fork.clone(),
            trigger: Trigger::Rerun,
            health_timeout: env.health_timeout,
        };
        let lock = self
            .inner
            .store
            .environment_lock(&repo, environment)
            .await?;
        let published = match decide(
            &affected,
            lock.as_ref(),
            origin,
            self.inner.clusters.known(),
        ) {
            Decision::Refuse(result) => {
                self.publish_refusal(&request.progress(), result).await?;
                true
            }
            Decision::Deploy => self.deploy_if_possible(runs, request).await?,
        };
        if let (true, Some(pull)) = (published, pull) {
            self.publish_comment(installation.0, &repository.full_name, pull, &sha)
                .await?;
        }
        Ok(())
    }

    /// Decides `env` and acts on it: a refusal is published, a deploy started. Whether
    /// anything was published that the pull request's comment shows.
    async fn settle(
        &self,
        runs: &Runs,
        env: &affected::AffectedEnvironment,
        origin: Origin<'_>,
        request: DeployRequest,
    ) -> Result<bool, HandlerError> {
        if self.already_decided(&request).await? {
            tracing::info!(repo = %request.repo, environment = %request.environment, sha = %request.sha, "deploy of this commit already decided: not again");
            return Ok(false);
        }
        let lock = self
            .inner
            .store
            .environment_lock(&request.repo, &request.environment)
            .await?;
        match decide(env, lock.as_ref(), origin, self.inner.clusters.known()) {
            Decision::Refuse(result) => {
                self.publish_refusal(&request.progress(), result).await?;
                Ok(true)
            }
            Decision::Deploy => self.deploy_if_possible(runs, request).await,
        }
    }

    /// Starts `request`'s deploy, or, without its cluster, says so on the commit (neutral: the
    /// change is not at fault) without starting anything.
    async fn deploy_if_possible(
        &self,
        runs: &Runs,
        request: DeployRequest,
    ) -> Result<bool, HandlerError> {
        let access = match self.inner.clusters.get(&request.cluster) {
            Ok(access) => access,
            // `decide` refuses it first; never another cluster.
            Err(refusal) => {
                let result = DeployResult::ApplyFailed {
                    object: None,
                    message: refusal,
                };
                self.publish_refusal(&request.progress(), result).await?;
                return Ok(true);
            }
        };
        // A cluster whose client may still be made is waited for by the deploy itself.
        let waits = self.inner.clusters.may_come(&request.cluster);
        if let (super::DeployAccess::Unavailable(reason), false) = (access, waits) {
            let result = DeployResult::NoCluster { reason };
            self.publish_refusal(&request.progress(), result).await?;
            return Ok(true);
        }
        self.start_deploy(runs, request).await
    }

    /// Whether `request`'s commit was decided for its environment already (a webhook
    /// delivered twice, a handler retried): a merge deploys once.
    async fn already_decided(&self, request: &DeployRequest) -> Result<bool, HandlerError> {
        let target = RunTarget::subject(
            DEPLOY_RUN_KIND,
            subject(&request.repo, &request.environment),
        );
        if let Some(active) = self.inner.store.active_run(&target).await? {
            if active.progress["sha"] == serde_json::json!(request.sha) {
                return Ok(true);
            }
        }
        Ok(self
            .inner
            .store
            .deploys_of_commit(&request.repo, &request.sha)
            .await?
            .iter()
            .any(|record| {
                record.environment == request.environment && record.outcome != SUPERSEDED
            }))
    }

    /// Starts the deploy of `request`, newest commit winning: a running deploy of an older
    /// commit of the environment is cancelled (superseded); a request older than what runs or
    /// ran last is itself recorded as superseded. Whether anything was published.
    pub(crate) async fn start_deploy(
        &self,
        runs: &Runs,
        request: DeployRequest,
    ) -> Result<bool, HandlerError> {
        let run_subject = subject(&request.repo, &request.environment);
        let target = RunTarget::subject(DEPLOY_RUN_KIND, run_subject.clone());
        let store = &self.inner.store;
        let newer = self.newer_than(&request).await?;
        if let Some((by_sha, by_pull)) = newer {
            let result = DeployResult::Superseded { by_sha, by_pull };
            self.publish_refusal(&request.progress(), result).await?;
            return Ok(true);
        }
        let deadline = request.health_timeout + RUN_MARGIN;
        for _ in 0..3 {
            if let Some(active) = store.active_run(&target).await? {
                let reason = superseded_reason(&request.sha, request.pull);
                runs.cancel(&RunTarget::Id(active.id), &reason).await?;
            }
            let progress = serde_json::to_value(request.progress())
                .map_err(|err| HandlerError::permanent(err.to_string()))?;
            match runs
                .start(DEPLOY_RUN_KIND, &run_subject, progress, deadline)
                .await?
            {
                StartOutcome::Started(run) => {
                    tracing::info!(run_id = %run.id, repo = %request.repo, environment = %request.environment, sha = %short(&request.sha), trigger = ?request.trigger, "deploy started");
                    return Ok(false);
                }
                // Another handler started one in between: supersede it in turn.
                StartOutcome::AlreadyActive(_) => continue,
            }
        }
        Err(HandlerError::retryable(format!(
            "cannot start the deploy of {} to {}: another deploy keeps starting",
            short(&request.sha),
            request.environment
        )))
    }

    /// The newer commit that makes `request` superseded, if any: the commit of the deploy
    /// running now, or of the last successful one, when it descends from `request`'s.
    async fn newer_than(
        &self,
        request: &DeployRequest,
    ) -> Result<Option<(String, Option<u64>)>, HandlerError> {
        let target = RunTarget::subject(
            DEPLOY_RUN_KIND,
            subject(&request.repo, &request.environment),
        );
        let store = &self.inner.store;
        let mut candidates: Vec<(String, Option<u64>)> = Vec::new();
        if let Some(active) = store.active_run(&target).await? {
            if let Ok(progress) = serde_json::from_value::<DeployProgress>(active.progress) {
                candidates.push((progress.sha, progress.pull));
            }
        }
        if let Some(last) = store
            .last_successful_deploy_record(&request.repo, &request.environment)
            .await?
        {
            candidates.push((last.merge_sha, last.pull_number));
        }
        candidates.retain(|(sha, _)| *sha != request.sha);
        if candidates.is_empty() {
            return Ok(None);
        }
        let Some(mirror) = self.inner.mirrors.open(&request.clone_url)? else {
            return Ok(None);
        };
        let ours: CommitId = request
            .sha
            .parse()
            .map_err(|err: crate::git::GitError| HandlerError::permanent(err.to_string()))?;
        git::blocking(move || -> Result<_, HandlerError> {
            for (sha, pull) in candidates {
                let Ok(theirs) = sha.parse::<CommitId>() else {
                    continue;
                };
                if mirror.has_commit(&theirs) && mirror.is_ancestor(&ours, &theirs)? {
                    return Ok(Some((sha, pull)));
                }
            }
            Ok(None)
        })
        .await
    }

    /// The config repo's mirror holding `commits`, fetched only when it lacks one.
    pub(super) async fn mirror(
        &self,
        installation_id: i64,
        repository: &Repository,
        commits: &[CommitId],
    ) -> Result<LocalRepo, HandlerError> {
        let token = self
            .inner
            .github
            .installation_token(installation_id)
            .await?;
        self.mirror_of(&repository.clone_url, token.token, commits)
            .await
    }

    pub(super) async fn mirror_of(
        &self,
        clone_url: &str,
        token: String,
        commits: &[CommitId],
    ) -> Result<LocalRepo, HandlerError> {
        let remote = Remote::new(clone_url).with_token(Token::new(token));
        let (mirrors, commits) = (self.inner.mirrors.clone(), commits.to_vec());
        git::blocking(move || -> Result<LocalRepo, HandlerError> {
            let wanted: Vec<(&CommitId, &str)> =
                commits.iter().map(|c| (c, "the deployed commit")).collect();
            Ok(mirrors.holding(&remote, &wanted)?)
        })
        .await
    }

    /// The environments `change` alters relative to `before`, with the configuration as it
    /// was at `before`; `None` when there is nothing to deploy (not a config repo, a broken
    /// configuration — logged — or no environment changed).
    async fn affected(
        &self,
        delivery: &Delivery,
        repo: &str,
        mirror: LocalRepo,
        change: CommitId,
        before: CommitId,
    ) -> Result<Option<Affected>, HandlerError> {
        let known = self.inner.clusters.known().clone();
        let found = git::blocking(move || -> Result<_, HandlerError> {
            Ok(affected::affected_environments(
                &mirror, &change, &before, &known,
            ))
        })
        .await?;
        match found {
            Ok(affected) if affected.environments.is_empty() => {
                tracing::info!(delivery = %delivery.id, repo, sha = %change.short(7), "no environment changed: nothing to deploy");
                Ok(None)
            }
            Ok(affected) => Ok(Some(affected)),
            Err(AffectedError::Config(ReadError::NotFound { .. })) => Ok(None),
            Err(AffectedError::Config(err @ ReadError::Invalid { .. })) => {
                tracing::warn!(delivery = %delivery.id, repo, error = %err, "not deployed: the configuration before the change is not valid");
                Ok(None)
            }
            Err(AffectedError::Config(err)) => Err(err.into()),
            Err(AffectedError::Git(err)) => Err(err.into()),
        }
    }
}

/// How a fork's head repository is named in a refusal.
fn fork_name(pull: &PullRequest) -> String {
    pull.head
        .repo
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| "a deleted fork".to_string())
}

/// Milliseconds from now, for run timers.
pub(super) fn after(duration: Duration) -> i64 {
    now_millis().saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
}

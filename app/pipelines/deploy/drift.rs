//! Drift checks: every environment's `drift_interval`, the cluster is compared with the commit
//! last deployed there (each object applied as a server-side dry run, so defaults the API server
//! adds are on both sides), and what differs is either put back (`self_heal: true`, a deploy of
//! the same commit) or reported in one issue per environment in the config repo, updated while
//! the drift lasts and closed once it is gone.
//!
//! A scheduled job of the scheduler (one replica at a time); an environment with a deploy
//! under way is not checked (a rollout in progress is not drift).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cluster::Inventory;
use crate::config::Environment;
use crate::diff::{self, FingerprintKey};
use crate::git::{self, CommitId};
use crate::github::{IssueUpdate, RepoRef};
use crate::pipelines::drift::report::{self as text, DriftFacts, DRIFT_LABEL};
use crate::queue::HandlerError;
use crate::render;
use crate::runs::Runs;
use crate::scheduler::Job;
use crate::store::{now_millis, RunTarget};

use super::progress::{subject, Trigger};
use super::publish::StoredDeploy;
use super::start::DeployRequest;
use super::{DeployAccess, Deploys, DEPLOY_RUN_KIND};

/// How often the job looks for environments whose drift check is due.
pub const DRIFT_TICK: Duration = Duration::from_secs(60);

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftFinding {
    /// The cluster matches the deployed commit.
    InSync,
    /// It differs, and the issue says so (its number).
    Reported { issue: u64 },
    /// It differs, and a deploy of the deployed commit puts it back.
    Healing,
    /// The environment's cluster does not answer or refuses slipway: nothing is known about
    /// drift, so nothing is reported as drift (no issue opened, none closed).
    ClusterUnreachable { reason: String },
}

impl DriftFinding {
    /// The metric's name of the finding.
    pub fn name(&self) -> &'static str {
        match self {
            DriftFinding::InSync => "in_sync",
            DriftFinding::Reported { .. } => "drift",
            DriftFinding::Healing => "healing",
            DriftFinding::ClusterUnreachable { .. } => "cluster_unreachable",
        }
    }
}

/// The drift checks of every deployed environment. Cheap to clone.
#[derive(Clone)]
pub struct DriftChecks {
    deploys: Deploys,
    runs: Runs,
    key: FingerprintKey,
    /// When each (repository, environment) was last checked (Unix ms).
    checked: Arc<Mutex<HashMap<(String, String), i64>>>,
}

impl DriftChecks {
    pub fn new(deploys: Deploys, runs: Runs, key: FingerprintKey) -> DriftChecks {
        DriftChecks {
            deploys,
            runs,
            key,
            checked: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The scheduler's job: every `tick`, the environments whose check is due.
    pub fn job(&self, tick: Duration) -> Job {
        let checks = self.clone();
        Job::new("drift-checks", tick, move || {
            let checks = checks.clone();
            async move {
                checks.check_due().await;
                Ok(())
            }
        })
    }

    /// Checks every deployed environment whose `drift_interval` has passed since its last
    /// check (or its last deploy). A failure is logged and tried at the next tick.
    pub async fn check_due(&self) {
        let environments = match self.deploys.inner.store.deployed_environments().await {
            Ok(found) => found,
            Err(err) => {
                tracing::warn!(error = %err, "drift checks: cannot list deployed environments");
                return;
            }
        };
        for (repo, environment) in environments {
            match self.check(&repo, &environment, false).await {
                Ok(Some(DriftFinding::ClusterUnreachable { reason })) => {
                    tracing::warn!(
                        repo,
                        environment,
                        reason,
                        "no drift check: cluster unreachable"
                    )
                }
                Ok(Some(finding)) => {
                    tracing::info!(repo, environment, ?finding, "drift checked")
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(repo, environment, error = %crate::failure::chain(&err), "drift check failed; trying again at the next tick")
                }
            }
        }
    }

    /// Checks `environment` of `repo` against its last successful deploy; `None` when it was
    /// not due (unless `now`), has no deploy to compare with, or a deploy is under way.
    pub async fn check(
        &self,
        repo: &str,
        environment: &str,
        now: bool,
    ) -> Result<Option<DriftFinding>, HandlerError> {
        let inner = &self.deploys.inner;
        let Some(record) = inner
            .store
            .last_successful_deploy_record(repo, environment)
            .await?
        else {
            return Ok(None);
        };
        let Some(stored) = StoredDeploy::of(&record) else {
            return Ok(None);
        };
        let target = RunTarget::subject(DEPLOY_RUN_KIND, subject(repo, environment));
        if inner.store.active_run(&target).await?.is_some() {
            return Ok(None);
        }
        let (sha, config_sha): (CommitId, CommitId) =
            (record.merge_sha.parse()?, stored.config_sha.parse()?);
        let token = inner
            .github
            .installation_token(stored.installation_id)
            .await?;
        let mirror = self
            .deploys
            .mirror_of(&stored.clone_url, token.token, &[sha, config_sha])
            .await?;
        let name = environment.to_string();
        let reader = mirror.clone();
        let env = git::blocking(move || -> Result<Option<Environment>, HandlerError> {
            let config =
                crate::config::read_config_repo_at(&reader.tree_at(&config_sha.to_hex())?)?;
            Ok(config.environment(&name).cloned())
        })
        .await?;
        let Some(env) = env else {
            return Ok(None);
        };
        // Another cluster is not the one an unknown name means: comparing with it would
        // report (and heal) drift against the wrong cluster.
        if let Err(refusal) = self.deploys.clusters().get(&env.cluster) {
            tracing::warn!(repo, environment, refusal, "no drift check");
            return Ok(None);
        }
        let Some(interval) = env.drift_interval else {
            return Ok(None);
        };
        let key = (repo.to_string(), environment.to_string());
        let last = self
            .checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .copied()
            .into_iter()
            .chain(record.finished_at)
            .max()
            .unwrap_or(0);
        let due = now_millis().saturating_sub(last)
            >= i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        if !now && !due {
            return Ok(None);
        }
        let access = self
            .deploys
            .clusters()
            .reach(&env.cluster)
            .await
            .map_err(HandlerError::permanent)?;
        let deployer = match access {
            DeployAccess::Ready(deployer) => deployer,
            DeployAccess::Unavailable(reason) => {
                self.checked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, now_millis());
                let finding = DriftFinding::ClusterUnreachable {
                    reason: format!("cluster `{}`: {reason}", env.cluster),
                };
                self.count(&env.cluster, &finding);
                return Ok(Some(finding));
            }
        };
        // Rendered as its deploy rendered it: with the deployed commit's own settings.
        let (name, hex) = (env.name.clone(), sha.to_hex());
        let objects = git::blocking(move || -> Result<_, HandlerError> {
            let render_env = super::affected::environment_at(&mirror, &hex, &name)
                .map_err(HandlerError::permanent)?;
            let tree = mirror.tree_at(&hex)?;
            Ok(render::render_environment(&tree, &render_env))
        })
        .await?
        .map_err(|err| HandlerError::permanent(crate::failure::chain(&err)))?;
        let inventory = Inventory::in_cluster(repo, environment, &env.cluster);
        let previous: Vec<_> = stored
            .outcome
            .objects
            .iter()
            .map(|o| o.object.clone())
            .collect();
        let drift = match deployer.drift_since(&objects, &inventory, &previous).await {
            Ok(drift) => drift,
            // No answer is not "nothing there": never drift, and tried again at the next tick.
            Err(err) if err.is_transient() || matches!(err.code(), Some(401 | 403)) => {
                self.checked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, now_millis());
                let finding = DriftFinding::ClusterUnreachable {
                    reason: format!(
                        "cluster `{}` unreachable: {}",
                        env.cluster,
                        crate::failure::chain(&err)
                    ),
                };
                self.count(&env.cluster, &finding);
                return Ok(Some(finding));
            }
            Err(err) => return Err(HandlerError::retryable(crate::failure::chain(&err))),
        };
        self.checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, now_millis());
        let diff = diff::diff_environment(environment, &drift.live, &drift.desired, &self.key);
        let repo_ref: RepoRef = repo
            .parse()
            .map_err(|_| HandlerError::permanent(format!("`{repo}` is not an owner/name")))?;
        let facts = DriftFacts {
            repository: repo.to_string(),
            environment: environment.to_string(),
            deployed_sha: record.merge_sha.clone(),
            checked_at: checked_at(),
            self_heal: env.self_heal,
            full_command: format!(
                "slipway render --repo <clone of {repo}> --rev {} --env {environment} --show-secrets | kubectl diff --server-side -f -",
                record.merge_sha
            ),
        };
        let github = &inner.github;
        let installation = stored.installation_id;
        let issues = github
            .list_open_issues_with_label(installation, &repo_ref, DRIFT_LABEL)
            .await?;
        let open = text::find_issue(&issues, environment).cloned();
        let templates = inner.templates;
        if !diff.has_changes() {
            if let Some(issue) = open {
                let comment = text::resolved_comment(templates, &facts)?;
                github
                    .close_issue_with_comment(installation, &repo_ref, issue.number, &comment)
                    .await?;
            }
            self.count(&env.cluster, &DriftFinding::InSync);
            return Ok(Some(DriftFinding::InSync));
        }
        if env.self_heal {
            let request = DeployRequest {
                repo: repo.to_string(),
                clone_url: stored.clone_url.clone(),
                html_url: stored.html_url.clone(),
                installation_id: installation,
                environment: environment.to_string(),
                cluster: env.cluster.clone(),
                sha: record.merge_sha.clone(),
                config_sha: stored.config_sha.clone(),
                pull: None,
                fork: None,
                trigger: Trigger::SelfHeal,
                health_timeout: env.health_timeout,
            };
            self.deploys.start_deploy(&self.runs, request).await?;
            self.count(&env.cluster, &DriftFinding::Healing);
            return Ok(Some(DriftFinding::Healing));
        }
        let title = text::issue_title(templates, &facts)?;
        let body = text::issue_body(templates, &facts, &diff)?;
        let number = match open {
            Some(issue) => {
                if issue.title != title || issue.body != body {
                    let update = IssueUpdate {
                        title: Some(title),
                        body: Some(body),
                        state: None,
                    };
                    github
                        .update_issue(installation, &repo_ref, issue.number, &update)
                        .await?;
                }
                issue.number
            }
            None => {
                github
                    .create_issue(
                        installation,
                        &repo_ref,
                        &title,
                        &body,
                        &[DRIFT_LABEL.to_string()],
                    )
                    .await?
                    .number
            }
        };
        let finding = DriftFinding::Reported { issue: number };
        self.count(&env.cluster, &finding);
        Ok(Some(finding))
    }

    fn count(&self, cluster: &str, finding: &DriftFinding) {
        crate::telemetry::Metrics::count_cluster(
            &self.deploys.inner.metrics.drift_checks,
            cluster,
            finding.name(),
        );
    }
}

/// Now, as drift texts show it: `2026-12-06 02:00 UTC`.
fn checked_at() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute()
    )
}

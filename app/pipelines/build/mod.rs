//! Builds: a push to an app repo becomes an image built in the cluster, reported on the commit
//! as the `slipway/build` check run, and — on the default branch, with `deploy:` — a bump of
//! the new tag in the config repo.
//!
//! 1. A `push` (or a re-run of `slipway/build`) is checked: tags, deletions, forks and repos
//!    without `build:` are ignored with the reason logged ([`trigger`]); a branch not in
//!    `build.branches` too. What may be built and where it goes — `build.image`,
//!    `build.branches`, `deploy:` — is read from the default branch's head when the build is
//!    asked for, never from the pushed commit: a branch cannot widen its own `branches`,
//!    retarget the image or change `deploy:`. The Dockerfile, context and args are read at the
//!    pushed commit: they are the code being built.
//! 2. A newer push to the branch cancels the build still running on it ("superseded by").
//! 3. The check run is created `queued` (found again when a crashed handler is retried), and a
//!    `build` run is started: the run does the rest ([`run`]), one short step at a time, woken
//!    by the Job watch ([`watch`]).

pub mod progress;
pub mod report;
mod run;
pub mod trigger;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use crate::cluster::{BuildCluster, BuildTemplate};
use crate::config::{self, AppRepoConfig, ReadError, CONFIG_PATH};
use crate::git::{self, CommitId, LocalRepo, Mirrors, Remote, Token};
use crate::github::{
    Annotation, CheckConclusion, CheckRunId, CheckRunRequest, CheckStatus, GitHub,
};
use crate::pipelines::bumps::Bumper;
use crate::queue::{Delivery, HandlerError};
use crate::report::Templates;
use crate::runs::{RunKinds, Runs};
use crate::settings::BuildSettings;
use crate::store::{RunTarget, StartOutcome, Store};
use crate::webhook::{CheckRunEvent, PushEvent, Repository};

use progress::{BuildProgress, BuildRecipe, DeployTarget, Phase};
use report::{Facts, Outcome};
use trigger::Ignored;

pub use run::BuildRun;
pub use watch::watch_jobs;

/// The run kind of builds.
pub const BUILD_RUN_KIND: &str = "build";
/// The check run on the built commit.
pub const CHECK_NAME: &str = "slipway/build";
/// The signal the Job watch sends a build when its Job or a pod of it changed.
pub const JOB_SIGNAL: &str = "job";
/// How long a build run may live past the Job's own deadline: waiting for a slot, pulling
/// images, landing the bump. Past it the run times out and its check run says so.
const RUN_MARGIN: Duration = Duration::from_secs(30 * 60);

/// Whether builds can reach a cluster.
#[derive(Clone)]
pub enum ClusterAccess {
    Ready(BuildCluster),
    /// Why not, in words an operator can act on; `/readyz` shows it.
    Unavailable(String),
}

/// What builds share: the handlers, the run kind and the Job watch. Cheap to clone.
#[derive(Clone)]
pub struct Builds {
    inner: Arc<Inner>,
}

struct Inner {
    github: GitHub,
    mirrors: Arc<Mirrors>,
    store: Store,
    cluster: ClusterAccess,
    template: BuildTemplate,
    settings: BuildSettings,
    bumper: Bumper,
    /// The clusters the server settings name (a combined repo's `environments:` may name them).
    clusters: crate::config::KnownClusters,
    templates: &'static Templates,
}

impl Builds {
    #[allow(clippy::too_many_arguments)] // each is one of the server's parts
    pub fn new(
        github: GitHub,
        mirrors: Arc<Mirrors>,
        store: Store,
        cluster: ClusterAccess,
        template: BuildTemplate,
        settings: BuildSettings,
        bumper: Bumper,
        clusters: crate::config::KnownClusters,
    ) -> Builds {
        Builds {
            inner: Arc::new(Inner {
                github,
                mirrors,
                store,
                cluster,
                template,
                settings,
                bumper,
                clusters,
                templates: Templates::builtin(),
            }),
        }
    }

    pub fn cluster(&self) -> &ClusterAccess {
        &self.inner.cluster
    }

    /// Registers the `build` run kind, at most `BUILD_CONCURRENCY` of them at once.
    pub fn register_kind(&self, kinds: &mut RunKinds) {
        kinds.register(
            BUILD_RUN_KIND,
            self.inner.settings.concurrency,
            BuildRun {
                builds: self.clone(),
            },
        );
    }
}

/// One build to start.
struct BuildRequest {
    installation_id: i64,
    repository: Repository,
    branch: String,
    sha: CommitId,
    commit_message: String,
    app: AppRepoConfig,
    /// Whether a run of the same SHA and attempt that already finished counts (a re-processed
    /// push) or a new attempt is wanted (a re-run).
    rerun: bool,
    /// Who caused the build: the push's sender, or whoever pressed Re-run.
    requested_by: Option<String>,
}

/// What `.github/slipway.yml` at the pushed commit says, for builds.
enum AppConfig {
    Build(AppRepoConfig),
    Ignored(Ignored),
    Broken(ReadError),
}

impl Builds {
    pub(crate) async fn on_push(
        &self,
        runs: &Runs,
        delivery: &Delivery,
        push: &PushEvent,
    ) -> Result<(), HandlerError> {
        let repo = push.repository.full_name.to_string();
        let branch = match trigger::pushed_branch(push) {
            Ok(branch) => branch,
            Err(ignored) => {
                tracing::info!(delivery = %delivery.id, repo, reason = %ignored, "push not built");
                return Ok(());
            }
        };
        let installation_id = push.installation.map(|i| i.0).unwrap_or_default();
        let sha = push.after;
        let report_broken = branch == push.repository.default_branch;
        let Some(app) = self
            .buildable_config(
                delivery,
                installation_id,
                &push.repository,
                &branch,
                &sha,
                report_broken,
            )
            .await?
        else {
            return Ok(());
        };
        let Some(app) = self
            .governed(
                delivery,
                installation_id,
                &push.repository,
                &branch,
                app,
                true,
            )
            .await?
        else {
            return Ok(());
        };
        if let Err(ignored) =
            trigger::branch_is_built(&app.build, &branch, &push.repository.default_branch)
        {
            tracing::info!(delivery = %delivery.id, repo, reason = %ignored, "push not built");
            return Ok(());
        }
        self.start_build(
            runs,
            BuildRequest {
                installation_id,
                repository: push.repository.clone(),
                branch,
                sha,
                commit_message: push.head_commit_message.clone().unwrap_or_default(),
                app,
                rerun: false,
                requested_by: push.sender.as_ref().map(|s| s.login.clone()),
            },
        )
        .await
    }

    pub(crate) async fn on_rerequest(
        &self,
        runs: &Runs,
        delivery: &Delivery,
        event: &CheckRunEvent,
    ) -> Result<(), HandlerError> {
        if event.name != CHECK_NAME {
            return Ok(());
        }
        let repo = event.repository.full_name.to_string();
        let Some(installation) = event.installation else {
            tracing::info!(delivery = %delivery.id, repo, "re-run not built: no installation");
            return Ok(());
        };
        if event.repository.fork {
            tracing::info!(delivery = %delivery.id, repo, "re-run not built: the repository is a fork");
            return Ok(());
        }
        let sha = event.head_sha;
        let earlier = self.earlier_build(&repo, &sha.to_hex()).await?;
        let branch = event
            .head_branch
            .clone()
            .or_else(|| earlier.as_ref().map(|p| p.branch.clone()))
            .unwrap_or_else(|| event.repository.default_branch.clone());
        let Some(app) = self
            .buildable_config(
                delivery,
                installation.0,
                &event.repository,
                &branch,
                &sha,
                true,
            )
            .await?
        else {
            return Ok(());
        };
        let Some(app) = self
            .governed(
                delivery,
                installation.0,
                &event.repository,
                &branch,
                app,
                false,
            )
            .await?
        else {
            return Ok(());
        };
        // A re-run builds a branch the default branch no longer builds: refused like a push.
        if let Err(ignored) =
            trigger::branch_is_built(&app.build, &branch, &event.repository.default_branch)
        {
            tracing::info!(delivery = %delivery.id, repo, reason = %ignored, "re-run not built");
            return Ok(());
        }
        self.start_build(
            runs,
            BuildRequest {
                installation_id: installation.0,
                repository: event.repository.clone(),
                branch,
                sha,
                commit_message: earlier.map(|p| p.commit_message).unwrap_or_default(),
                app,
                rerun: true,
                requested_by: event.sender.as_ref().map(|s| s.login.clone()),
            },
        )
        .await
    }

    /// Supersedes the branch's running build, makes (or finds) the check run and starts the run.
    async fn start_build(&self, runs: &Runs, request: BuildRequest) -> Result<(), HandlerError> {
        let repo = request.repository.full_name.to_string();
        let sha = request.sha.to_hex();
        let subject = BuildProgress::subject(&repo, &request.branch);
        // Every build of the branch, the active one among them: one read decides both whether
        // this commit was built and what it supersedes.
        let branch_runs = self.inner.store.runs_of(BUILD_RUN_KIND, &subject).await?;
        let earlier: Vec<BuildProgress> = branch_runs
            .iter()
            .filter_map(|run| serde_json::from_value::<BuildProgress>(run.progress.clone()).ok())
            .filter(|p| p.sha == sha)
            .collect();
        let attempt = match earlier.iter().map(|p| p.attempt).max() {
            None => 0,
            Some(_) if !request.rerun => {
                tracing::info!(repo, sha, branch = %request.branch, "this push was built already");
                return Ok(());
            }
            Some(last) => last + 1,
        };
        if let Some(active) = branch_runs.iter().find(|run| !run.state.is_finished()) {
            match serde_json::from_value::<BuildProgress>(active.progress.clone()) {
                Ok(running) if running.sha == sha => {
                    tracing::info!(repo, sha, "this commit is being built already");
                    return Ok(());
                }
                _ => {
                    let reason = format!("superseded by {}", request.sha.short(7));
                    runs.cancel(&RunTarget::Id(active.id), &reason).await?;
                }
            }
        }

        let repo_ref = request.repository.full_name.clone();
        let external_id = BuildProgress::external_id(&repo, &sha, attempt);
        let deploy = request.app.deploy.as_ref().map(|d| DeployTarget {
            repo: d.repo.clone(),
            environment: d.environment.clone(),
        });
        let mut progress = BuildProgress {
            installation_id: request.installation_id,
            repo: repo.clone(),
            clone_url: request.repository.clone_url.clone(),
            html_url: request.repository.html_url.clone(),
            default_branch: request.repository.default_branch.clone(),
            branch: request.branch.clone(),
            sha: sha.clone(),
            commit_message: request.commit_message.clone(),
            attempt,
            check_run_id: CheckRunId(0),
            recipe: BuildRecipe {
                image: request.app.build.image.clone(),
                dockerfile: request.app.build.dockerfile.clone(),
                context: request.app.build.context.clone(),
                args: request
                    .app
                    .build
                    .args
                    .iter()
                    .map(|(key, value)| crate::cluster::BuildArg {
                        key: key.clone(),
                        value: value.clone(),
                    })
                    .collect(),
            },
            deploy,
            phase: Phase::Queued,
            job_name: None,
            started_at: None,
            result: None,
            failures: 0,
            requested_by: request.requested_by.clone(),
            digest: None,
            token_revoked: false,
        };
        let github = &self.inner.github;
        progress.check_run_id = match github
            .find_check_run(
                request.installation_id,
                &repo_ref,
                &sha,
                CHECK_NAME,
                &external_id,
            )
            .await?
        {
            Some(id) => id,
            None => {
                let output = report::output(
                    self.inner.templates,
                    &self.facts(&progress, Outcome::Queued),
                )?;
                github
                    .create_check_run(
                        request.installation_id,
                        &repo_ref,
                        &CheckRunRequest {
                            name: CHECK_NAME.to_string(),
                            head_sha: sha.clone(),
                            status: Some(CheckStatus::Queued),
                            conclusion: None,
                            details_url: None,
                            external_id: Some(external_id),
                            output: Some(output),
                        },
                    )
                    .await?
            }
        };
        let timeout = self.inner.settings.timeout + RUN_MARGIN;
        let value = serde_json::to_value(&progress)
            .map_err(|err| HandlerError::permanent(format!("cannot store the build: {err}")))?;
        match runs.start(BUILD_RUN_KIND, &subject, value, timeout).await? {
            StartOutcome::Started(run) => {
                tracing::info!(run_id = %run.id, repo, sha, branch = %request.branch, attempt, "build started");
            }
            StartOutcome::AlreadyActive(run) => {
                // Another delivery for this branch won the race; it reports on its own commit.
                tracing::info!(run_id = %run.id, repo, sha, "another build of this branch started first");
            }
        }
        Ok(())
    }

    /// The latest build of `sha` in `repo`, on any branch.
    async fn earlier_build(
        &self,
        repo: &str,
        sha: &str,
    ) -> Result<Option<BuildProgress>, HandlerError> {
        let runs = self
            .inner
            .store
            .runs_with_subject_prefix(BUILD_RUN_KIND, &format!("{repo}:"))
            .await?;
        Ok(runs
            .iter()
            .rev()
            .filter_map(|run| serde_json::from_value::<BuildProgress>(run.progress.clone()).ok())
            .find(|p| p.sha == sha))
    }

    /// The app repo's configuration at `sha` when it builds; `None` (the reason logged) when it
    /// does not, and a broken file reported on the commit when `report_broken`.
    async fn buildable_config(
        &self,
        delivery: &Delivery,
        installation_id: i64,
        repository: &Repository,
        branch: &str,
        sha: &CommitId,
        report_broken: bool,
    ) -> Result<Option<AppRepoConfig>, HandlerError> {
        let repo = repository.full_name.to_string();
        match self.app_config(installation_id, repository, sha).await? {
            AppConfig::Build(app) => Ok(Some(app)),
            AppConfig::Ignored(ignored) => {
                tracing::info!(delivery = %delivery.id, repo, reason = %ignored, "not built");
                Ok(None)
            }
            AppConfig::Broken(err) => {
                if report_broken {
                    self.report_broken_config(installation_id, repository, branch, sha, &err)
                        .await?;
                }
                tracing::info!(delivery = %delivery.id, repo, error = %err, "not built: the configuration is broken");
                Ok(None)
            }
        }
    }

    /// `app` (read at the built commit) with what may be built and where it goes replaced by
    /// the default branch's: `build.image`, `build.branches` and `deploy:` of the default
    /// branch's head now. `None` (the reason logged) when the default branch builds nothing.
    /// A push to the default branch is that branch's head (`pushed_head`): `app` stands. A
    /// re-run of an older default-branch commit takes the head's, like any other branch.
    async fn governed(
        &self,
        delivery: &Delivery,
        installation_id: i64,
        repository: &Repository,
        branch: &str,
        mut app: AppRepoConfig,
        pushed_head: bool,
    ) -> Result<Option<AppRepoConfig>, HandlerError> {
        let repo = repository.full_name.to_string();
        let default_branch = repository.default_branch.clone();
        if pushed_head && branch == default_branch {
            return Ok(Some(app));
        }
        let mirror = self.mirror_fresh(installation_id, repository).await?;
        let head_ref = format!("refs/heads/{default_branch}");
        let known = self.inner.clusters.clone();
        let governing =
            git::blocking(move || -> Result<Result<AppConfig, String>, HandlerError> {
                let head = match mirror.resolve(&head_ref) {
                    Ok(head) => head,
                    Err(err) => {
                        return Ok(Err(format!("the default branch cannot be read: {err}")))
                    }
                };
                let tree = mirror.tree_at(&head.to_hex())?;
                Ok(Ok(match config::read_at(&tree, &known) {
                    Ok(found) => match found.app_repo {
                        Some(app) => AppConfig::Build(app),
                        None => AppConfig::Ignored(Ignored::NoBuildSection(repo)),
                    },
                    Err(ReadError::NotFound { .. }) => AppConfig::Ignored(Ignored::NoConfig {
                        repo,
                        sha: head.short(7),
                    }),
                    Err(err @ ReadError::Source { .. }) => return Err(err.into()),
                    Err(err) => AppConfig::Broken(err),
                }))
            })
            .await?;
        let repo = repository.full_name.to_string();
        match governing {
            Ok(AppConfig::Build(governing)) => {
                app.build.image = governing.build.image;
                app.build.branches = governing.build.branches;
                app.deploy = governing.deploy;
                Ok(Some(app))
            }
            Ok(AppConfig::Ignored(ignored)) => {
                tracing::info!(delivery = %delivery.id, repo, branch, reason = %ignored, "not built: the default branch builds nothing");
                Ok(None)
            }
            Ok(AppConfig::Broken(err)) => {
                tracing::info!(delivery = %delivery.id, repo, branch, error = %err, "not built: the default branch's configuration is broken");
                Ok(None)
            }
            Err(reason) => {
                tracing::info!(delivery = %delivery.id, repo, branch, reason, "not built");
                Ok(None)
            }
        }
    }

    /// The app repo's mirror, fetched now so its branches are GitHub's current ones.
    async fn mirror_fresh(
        &self,
        installation_id: i64,
        repository: &Repository,
    ) -> Result<LocalRepo, HandlerError> {
        let token = self
            .inner
            .github
            .installation_token(installation_id)
            .await?;
        let remote = Remote::new(&repository.clone_url).with_token(Token::new(token.token));
        let mirrors = self.inner.mirrors.clone();
        git::blocking(move || -> Result<LocalRepo, HandlerError> { Ok(mirrors.fetch(&remote)?) })
            .await
    }

    /// `.github/slipway.yml` at `sha`, fetched into the app repo's mirror when missing.
    async fn app_config(
        &self,
        installation_id: i64,
        repository: &Repository,
        sha: &CommitId,
    ) -> Result<AppConfig, HandlerError> {
        let mirror = self.mirror_with(installation_id, repository, sha).await?;
        let repo = repository.full_name.to_string();
        let sha = *sha;
        let known = self.inner.clusters.clone();
        git::blocking(move || -> Result<AppConfig, HandlerError> {
            let tree = mirror.tree_at(&sha.to_hex())?;
            Ok(match config::read_at(&tree, &known) {
                Ok(found) => match found.app_repo {
                    Some(app) => AppConfig::Build(app),
                    None => AppConfig::Ignored(Ignored::NoBuildSection(repo)),
                },
                Err(ReadError::NotFound { .. }) => AppConfig::Ignored(Ignored::NoConfig {
                    repo,
                    sha: sha.short(7),
                }),
                Err(err @ ReadError::Source { .. }) => return Err(err.into()),
                Err(err) => AppConfig::Broken(err),
            })
        })
        .await
    }

    /// The app repo's mirror holding `sha`, fetched only when it lacks it.
    async fn mirror_with(
        &self,
        installation_id: i64,
        repository: &Repository,
        sha: &CommitId,
    ) -> Result<LocalRepo, HandlerError> {
        let token = self
            .inner
            .github
            .installation_token(installation_id)
            .await?;
        let remote = Remote::new(&repository.clone_url).with_token(Token::new(token.token));
        let (mirrors, sha) = (self.inner.mirrors.clone(), *sha);
        git::blocking(move || -> Result<LocalRepo, HandlerError> {
            Ok(mirrors.holding(&remote, &[(&sha, "the pushed commit")])?)
        })
        .await
    }

    /// A broken `.github/slipway.yml` on a branch that would be built: a failed check run with
    /// its mistakes annotated, instead of silence.
    async fn report_broken_config(
        &self,
        installation_id: i64,
        repository: &Repository,
        branch: &str,
        sha: &CommitId,
        err: &ReadError,
    ) -> Result<(), HandlerError> {
        let errors = err.config_errors();
        let mut facts = Facts::for_commit(
            Outcome::BrokenConfig,
            &repository.full_name.to_string(),
            branch,
            &repository.default_branch,
            &sha.to_hex(),
            &self.inner.settings.namespace,
        );
        facts.reason = err.to_string();
        let mut annotations = Vec::new();
        if let Some(errors) = &errors {
            for error in errors.iter() {
                facts.errors.push(format!(
                    "{CONFIG_PATH}:{}:{}: {}",
                    error.line(),
                    error.column(),
                    error.message()
                ));
                annotations.push(Annotation::failure_at(
                    CONFIG_PATH,
                    error.line() as u32,
                    Some(error.column() as u32),
                    error.message(),
                ));
            }
        } else {
            facts.errors.push(err.to_string());
        }
        let mut output = report::output(self.inner.templates, &facts)?;
        output.annotations = annotations;
        self.inner
            .github
            .create_check_run(
                installation_id,
                &repository.full_name,
                &CheckRunRequest {
                    name: CHECK_NAME.to_string(),
                    head_sha: sha.to_hex(),
                    status: Some(CheckStatus::Completed),
                    conclusion: Some(CheckConclusion::Failure),
                    details_url: None,
                    external_id: None,
                    output: Some(output),
                },
            )
            .await?;
        Ok(())
    }
}

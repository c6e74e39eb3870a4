//! The preview pipeline: what a config-repo pull request changes in every environment, as
//! sticky comments on the pull request and a `slipway/preview` check run on its head commit.
//!
//! On `pull_request` `opened`, `synchronize`, `reopened` and `ready_for_review` (and on the
//! `/preview` command, through [`run_preview`]):
//!
//! 1. The config repo is fetched into its bare mirror (only when a commit is missing); a
//!    fork's head is fetched from the base repository as `refs/pull/N/head`.
//! 2. `.github/slipway.yml` is read at the base commit: policy and approvals never come from
//!    the change itself. Without environments there, nothing happens at all.
//! 3. Every environment is rendered at its last successfully deployed commit (when the head
//!    holds it; otherwise at the merge base) and at the head, concurrently, each side with its
//!    own settings of it, and diffed ([`plan`], [`crate::diff::compare`]); environments the
//!    change does not touch are not rendered. Meanwhile the check run starts (`in_progress`).
//! 4. The report (environments whose render differs; "no changes" when none does) becomes
//!    one comment per part ([`comment`], which `slipway preview` prints too), each found
//!    again by its hidden marker and edited in place ([`sticky`]); parts no longer needed
//!    are deleted.
//! 5. The check run completes: `success`, `failure` with annotations at `file:line` when the
//!    change does not parse or render or holds objects its environment's policy refuses
//!    ([`crate::policy`]), `neutral` when only the base does not render. Its
//!    `text` carries the full report when the comment had to be cut.
//!
//! A newer push supersedes a preview still running: before the check run starts, and again
//! before anything is posted, the pipeline asks the queue whether a newer preview-triggering
//! delivery of the same pull request is waiting. If so it stops; a check run it had started
//! completes as `cancelled` ("superseded"), and the newer delivery posts the preview.
//! `cancelled` rather than `neutral`: the run did not look at the change, so it must not
//! read as a verdict; the superseding delivery creates the run that counts.

pub mod comment;
pub mod message;
pub mod plan;
pub mod sticky;

use std::collections::BTreeMap;
use std::sync::Arc;

use self::comment::{Input, Report, Shown};
use self::message::{ConfigProblem, Findings};
use self::plan::{LastDeploy, Start};
use super::PipelineContext;
use crate::config::{self, ConfigErrors, KnownClusters, ReadError};
use crate::diff::compare::{self, Side, Untouched};
use crate::git::{self, CommitId, GitError, LocalRepo, Mirrors, Remote, Token, DEFAULT_REFSPECS};
use crate::github::{
    CheckConclusion, CheckRunId, CheckRunOutput, CheckRunRequest, CheckRunUpdate, PullRequest,
    RepoRef,
};
use crate::queue::{Delivery, HandlerError, HandlerRegistry};
use crate::render::TreeSource;
use crate::report::preview::CheckText;
use crate::report::{self, ComparedWith, Limits, Templates};
use crate::webhook::PullRequestEvent;

/// The check run's name.
pub const CHECK_NAME: &str = "slipway/preview";

/// The `pull_request` actions that preview.
pub const TRIGGER_ACTIONS: [&str; 4] = ["opened", "synchronize", "reopened", "ready_for_review"];

pub fn register(registry: &mut HandlerRegistry, context: &PipelineContext) {
    for action in TRIGGER_ACTIONS {
        let context = context.clone();
        registry.on_event(
            Some(action),
            move |delivery: Delivery, event: PullRequestEvent| {
                let context = context.clone();
                async move { on_pull_request(&context, &delivery, &event).await }
            },
        );
    }
}

/// What one preview did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreviewOutcome {
    /// The base declares no environments (no `.github/slipway.yml`, or one of an app repo).
    NotAConfigRepo,
    /// A newer push previews this pull request; this run stopped.
    Superseded,
    /// The preview is posted.
    Posted {
        comment_ids: Vec<u64>,
        check_run: CheckRunId,
        conclusion: CheckConclusion,
    },
}

/// The pull request a preview is about, as read from a webhook or from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullTarget {
    pub installation_id: i64,
    pub repo: RepoRef,
    pub number: u64,
    /// Where the base repository is fetched from (`repository.clone_url`).
    pub clone_url: String,
    pub base_sha: String,
    pub head_sha: String,
    /// `owner/name` of the fork the head lives in; `None` for a branch of the repository.
    pub fork: Option<String>,
}

impl PullTarget {
    pub fn from_pull(installation_id: i64, repo: &RepoRef, pull: &PullRequest) -> Self {
        let clone_url = pull
            .base
            .clone_url
            .clone()
            .unwrap_or_else(|| format!("https://github.com/{repo}.git"));
        PullTarget {
            installation_id,
            repo: repo.clone(),
            number: pull.number,
            clone_url,
            base_sha: pull.base.sha.clone(),
            head_sha: pull.head.sha.clone(),
            fork: pull.is_fork().then(|| {
                pull.head
                    .repo
                    .as_ref()
                    .map_or_else(|| "a deleted fork".to_string(), ToString::to_string)
            }),
        }
    }
}

/// A delivery whose work a newer one may make pointless.
#[derive(Debug, Clone)]
struct Supersession {
    ordering_key: String,
    seq: i64,
}

/// Previews pull request `pr_number` as it is now (what `/preview` runs).
pub async fn run_preview(
    context: &PipelineContext,
    installation_id: i64,
    repo: &RepoRef,
    pr_number: u64,
) -> Result<PreviewOutcome, HandlerError> {
    let pull = context
        .github
        .get_pull(installation_id, repo, pr_number)
        .await?;
    let target = PullTarget::from_pull(installation_id, repo, &pull);
    preview(context, &target, None).await
}

impl PullTarget {
    /// The pull request a `pull_request` delivery is about; `None` when the delivery names no
    /// installation (not sent to this App about a repository it can act on).
    pub fn from_event(event: &PullRequestEvent) -> Option<PullTarget> {
        let installation = event.installation?;
        Some(PullTarget {
            installation_id: installation.0,
            repo: event.repository.full_name.clone(),
            number: event.number.0,
            clone_url: event.repository.clone_url.clone(),
            base_sha: event.base.sha.to_hex(),
            head_sha: event.head.sha.to_hex(),
            fork: event.fork(),
        })
    }
}

async fn on_pull_request(
    context: &PipelineContext,
    delivery: &Delivery,
    event: &PullRequestEvent,
) -> Result<(), HandlerError> {
    let Some(target) = PullTarget::from_event(event) else {
        tracing::debug!(delivery_id = %delivery.id, "pull_request without an installation: nothing to preview");
        return Ok(());
    };
    let supersession = delivery
        .ordering_key
        .clone()
        .map(|ordering_key| Supersession {
            ordering_key,
            seq: delivery.seq,
        });
    let outcome = preview(context, &target, supersession.as_ref()).await?;
    tracing::info!(
        delivery_id = %delivery.id,
        repository = %target.repo,
        pull = target.number,
        outcome = ?outcome,
        "preview"
    );
    Ok(())
}

fn templates() -> &'static Templates {
    Templates::builtin()
}

async fn superseded(
    context: &PipelineContext,
    supersession: Option<&Supersession>,
) -> Result<bool, HandlerError> {
    let Some(supersession) = supersession else {
        return Ok(false);
    };
    Ok(context
        .store
        .newer_pending_of(
            &supersession.ordering_key,
            supersession.seq,
            "pull_request",
            &TRIGGER_ACTIONS,
        )
        .await?)
}

/// The whole preview of `target`.
async fn preview(
    context: &PipelineContext,
    target: &PullTarget,
    supersession: Option<&Supersession>,
) -> Result<PreviewOutcome, HandlerError> {
    if superseded(context, supersession).await? {
        return Ok(PreviewOutcome::Superseded);
    }
    let base: CommitId = parse_sha(&target.base_sha)?;
    let head: CommitId = parse_sha(&target.head_sha)?;
    let token = context
        .github
        .installation_token(target.installation_id)
        .await?;
    let mirror = {
        let mirrors = context.mirrors.clone();
        let url = target.clone_url.clone();
        let fork_pull = target.fork.as_ref().map(|_| target.number);
        git::blocking(move || -> Result<_, HandlerError> {
            Ok(fetch(
                &mirrors,
                &url,
                Token::new(token.token),
                fork_pull,
                &base,
                &head,
            )?)
        })
        .await?
    };

    let read = {
        let mirror = mirror.clone();
        let known = context.clusters.clone();
        git::blocking(move || -> Result<_, HandlerError> {
            let (base_tree, head_tree) = (
                mirror.tree_at(&base.to_hex())?,
                mirror.tree_at(&head.to_hex())?,
            );
            Ok(read_configs(&base_tree, &head_tree, &known)?)
        })
        .await?
    };
    let (environments, base_config, head_config) = match read {
        Configs::NotConfigRepo => return Ok(PreviewOutcome::NotAConfigRepo),
        Configs::Read {
            environments,
            base_problem,
            head_problem,
        } => (environments, base_problem, head_problem),
    };

    let repo = &target.repo;
    let deployed = last_deploys(context, &repo.to_string(), &environments).await?;
    // Rendering and the check run's creation overlap: a round trip to GitHub costs as much
    // as rendering a thousand objects.
    let key = context.fingerprint_key;
    let declared = environments.clone();
    let known = context.clusters.clone();
    let rendering = git::blocking(move || -> Result<_, HandlerError> {
        // Without a deploy on record, compare with where the change started, as GitHub's
        // "Files changed" does: commits that reached the base branch since are not part of
        // this change.
        let from = mirror.merge_base(&base, &head)?.unwrap_or(base);
        let planned = plan::plan(&mirror, &declared, &from, &head, &deployed, false, &known)?;
        let outcomes = compare::compare(&mirror, &planned.plans(), Untouched::Skip, &key)?;
        let lookups = message::charts_reading_the_cluster(
            &mirror.tree_at(&head.to_hex())?,
            &planned.head_environments(),
        );
        Ok((from, planned, outcomes, lookups))
    });
    let started = CheckRunRequest::in_progress(CHECK_NAME, &target.head_sha, None);
    let starting = context
        .github
        .create_check_run(target.installation_id, repo, &started);
    let (check_run, rendered) = tokio::join!(starting, rendering);
    let check_run = check_run?;
    let result = match rendered {
        Ok((from, planned, outcomes, lookups)) => {
            let findings = Findings {
                base_config,
                head_config,
                outcomes,
                lookups,
                membership: planned.membership.clone(),
            };
            post(
                context,
                target,
                supersession,
                check_run,
                (from, head),
                findings,
                &planned,
            )
            .await
        }
        Err(err) => Err(err),
    };
    if let Err(err) = &result {
        // Never leave the run spinning: say what happened (best effort; GitHub may be down).
        let retryable = err.is_transient();
        let conclusion = if retryable {
            CheckConclusion::Cancelled
        } else {
            CheckConclusion::Failure
        };
        let CheckText { title, summary } =
            report::preview::stopped(templates(), retryable, &err.to_string()).unwrap_or_else(
                |report_err| CheckText {
                    title: report_err.to_string(),
                    summary: err.to_string(),
                },
            );
        let update = CheckRunUpdate::completed(
            conclusion,
            CheckRunOutput {
                title,
                summary,
                ..CheckRunOutput::default()
            },
        );
        if let Err(update_err) = context
            .github
            .update_check_run(target.installation_id, repo, check_run, &update)
            .await
        {
            tracing::warn!(error = %update_err, "cannot complete the interrupted check run");
        }
    }
    result
}

/// Posts what was found: the sticky comments, then the completed check run; or, when a
/// newer push is waiting, only the cancelled check run.
async fn post(
    context: &PipelineContext,
    target: &PullTarget,
    supersession: Option<&Supersession>,
    check_run: CheckRunId,
    (from, head): (CommitId, CommitId),
    findings: Findings,
    planned: &plan::Planned,
) -> Result<PreviewOutcome, HandlerError> {
    let repo = &target.repo;
    if superseded(context, supersession).await? {
        let CheckText { title, summary } =
            report::preview::superseded(templates()).map_err(report_error)?;
        let update = CheckRunUpdate::completed(
            CheckConclusion::Cancelled,
            CheckRunOutput {
                title,
                summary,
                ..CheckRunOutput::default()
            },
        );
        context
            .github
            .update_check_run(target.installation_id, repo, check_run, &update)
            .await?;
        return Ok(PreviewOutcome::Superseded);
    }

    let templates = templates();
    let locks = context.store.environment_locks(&repo.to_string()).await?;
    let report = Report::new(Input {
        base: &from,
        head: &head,
        environments: &planned
            .environments
            .iter()
            .map(|env| env.policy.clone())
            .collect::<Vec<_>>(),
        compared_with: compared_with(planned),
        findings: &findings,
        shown: Shown::Changed,
        locks: Some(&locks),
        notes: findings
            .notes(templates, &repo.to_string(), target.fork.as_deref())
            .map_err(report_error)?,
        full_command: full_command(target, &from, &head),
        name_clusters: context.clusters.names().len() > 1,
    });
    let comments = report
        .comment_bodies(templates, &Limits::default())
        .map_err(report_error)?;
    let bodies = comments.bodies;
    let thread = sticky::Thread {
        github: &context.github,
        store: &context.store,
        installation_id: target.installation_id,
        repo,
        number: target.number,
    };
    let comment_ids = thread.upsert(&bodies).await?;

    let full_report = if comments.cut {
        Some(report.check_run_text(templates).map_err(report_error)?)
    } else {
        None
    };
    let conclusion = findings.conclusion();
    let output = findings
        .check_output(templates, target.fork.as_deref(), bodies.len(), full_report)
        .map_err(report_error)?;
    context
        .github
        .update_check_run(
            target.installation_id,
            repo,
            check_run,
            &CheckRunUpdate::completed(conclusion, output),
        )
        .await?;
    Ok(PreviewOutcome::Posted {
        comment_ids,
        check_run,
        conclusion,
    })
}

/// Each environment's last successful deploy, from the deploy history.
async fn last_deploys(
    context: &PipelineContext,
    repo: &str,
    environments: &[config::Environment],
) -> Result<BTreeMap<String, LastDeploy>, HandlerError> {
    let mut found = BTreeMap::new();
    for env in environments {
        let Some(record) = context
            .store
            .last_successful_deploy_record(repo, &env.name)
            .await?
        else {
            continue;
        };
        // A record whose commit cannot be read is left out: the merge base is compared.
        match record.merge_sha.parse::<CommitId>() {
            Ok(commit) => {
                found.insert(
                    env.name.clone(),
                    LastDeploy {
                        commit,
                        finished_at: record.finished_at,
                    },
                );
            }
            Err(err) => {
                tracing::warn!(repo, environment = %env.name, error = %err, "a deploy record names no commit");
            }
        }
    }
    Ok(found)
}

/// What each environment's diff starts from, as the report says it.
fn compared_with(planned: &plan::Planned) -> Vec<(String, ComparedWith)> {
    let short = |commit: &CommitId| commit.short(7);
    let at = |last: &LastDeploy| last.finished_at.map(comment::format_millis);
    planned
        .environments
        .iter()
        .map(|env| {
            let said = match &env.start {
                Start::Given => ComparedWith::Unknown,
                Start::Deployed(last) => ComparedWith::Deployed {
                    commit: short(&last.commit),
                    at: at(last),
                },
                Start::MergeBase { deployed } => ComparedWith::MergeBase {
                    commit: short(&env.from),
                    deployed: deployed
                        .as_ref()
                        .map(|last| (short(&last.commit), at(last))),
                },
            };
            (env.policy.name.clone(), said)
        })
        .collect()
}

/// The command that shows the whole diff from a clone of the repository.
fn full_command(target: &PullTarget, from: &CommitId, head: &CommitId) -> String {
    format!(
        "git fetch origin refs/pull/{number}/head && slipway preview --repo . --base {from} --head {head} --max-parts 0",
        number = target.number,
    )
}

fn report_error(err: crate::report::ReportError) -> HandlerError {
    HandlerError::Report(err)
}

fn parse_sha(sha: &str) -> Result<CommitId, HandlerError> {
    Ok(sha.parse::<CommitId>()?)
}

/// The mirror of `url` holding both commits: fetched only when one of them is missing.
fn fetch(
    mirrors: &Arc<Mirrors>,
    url: &str,
    token: Token,
    fork_pull: Option<u64>,
    base: &CommitId,
    head: &CommitId,
) -> Result<LocalRepo, GitError> {
    let mut remote = Remote::new(url).with_token(token);
    if let Some(number) = fork_pull {
        // A fork's head is fetched from the base repository, never from the fork.
        let mut refspecs: Vec<String> = DEFAULT_REFSPECS.iter().map(|s| s.to_string()).collect();
        refspecs.push(format!("+refs/pull/{number}/head:refs/pull/{number}/head"));
        remote = remote.with_refspecs(refspecs);
    }
    mirrors.holding(
        &remote,
        &[
            (base, "the pull request's base commit"),
            (head, "the pull request's head commit"),
        ],
    )
}

/// What `.github/slipway.yml` says at both ends of a change.
pub enum Configs {
    /// The base declares no environments (no file, or one of an app repo).
    NotConfigRepo,
    Read {
        environments: Vec<config::Environment>,
        base_problem: Option<ConfigProblem>,
        head_problem: Option<ConfigProblem>,
    },
}

/// `.github/slipway.yml` at the base (the policy) and at the head (checked, never obeyed).
/// Only a tree that cannot be read is an error; a file that is not valid is a problem to
/// report.
pub fn read_configs(
    base: &dyn TreeSource,
    head: &dyn TreeSource,
    known: &KnownClusters,
) -> Result<Configs, ReadError> {
    let problem = |side, tree: &dyn TreeSource, error, annotate| ConfigProblem {
        side,
        commit: tree.describe(),
        error,
        annotate,
    };
    match config::read_at(base, known) {
        Ok(parsed) => {
            let Some(config_repo) = parsed.config_repo else {
                return Ok(Configs::NotConfigRepo);
            };
            Ok(Configs::Read {
                environments: config_repo.environments.into_values().collect(),
                base_problem: None,
                head_problem: errors_at(head, known)?
                    .map(|error| problem(Side::Head, head, error, true)),
            })
        }
        Err(ReadError::NotFound { .. }) => Ok(Configs::NotConfigRepo),
        Err(err) => {
            let Some(error) = err.config_errors() else {
                return Err(err);
            };
            // The head's lines can carry the base's errors only where the head has them too.
            let annotate = errors_at(head, known)?.as_ref() == Some(&error);
            Ok(Configs::Read {
                environments: Vec::new(),
                base_problem: Some(problem(Side::Base, base, error, annotate)),
                head_problem: None,
            })
        }
    }
}

/// The mistakes of `.github/slipway.yml` in `tree`; none when it is valid or absent.
fn errors_at(
    tree: &dyn TreeSource,
    known: &KnownClusters,
) -> Result<Option<ConfigErrors>, ReadError> {
    match config::read_at(tree, known) {
        Ok(_) | Err(ReadError::NotFound { .. }) => Ok(None),
        Err(err) => match err.config_errors() {
            Some(errors) => Ok(Some(errors)),
            None => Err(err),
        },
    }
}

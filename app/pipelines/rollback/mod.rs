//! `/rollback <env> [to <sha>]`: restore an environment's files to an earlier revision of the
//! default branch, as a commit, so a rollback is itself a reviewed, recorded change.
//!
//! 1. The configuration is the default branch head's (never a pull request's). A locked
//!    environment is refused.
//! 2. The target is the named commit (found in the mirror; it must be on the default branch),
//!    or else the revision deployed before the current one: the newest successful deploy of
//!    the environment whose merge commit differs from the newest successful deploy's. With no
//!    such deploy recorded, the reply says how to name one.
//! 3. The change is one commit on the default branch's head whose tree is the head's with the
//!    environment's `path` replaced by that path's tree at the target (removed when the
//!    target has no such path), made through the Git Data API: a tree entry pointing at the
//!    target's existing tree, so no file is uploaded again. When the path already matches,
//!    nothing is committed.
//! 4. An environment that requires approvals gets the commit on `slipway/rollback/<env>` (a
//!    branch slipway owns: a later rollback replaces its commit) and a pull request from it,
//!    opened or updated, never a second one: merging it deploys. Any other environment gets
//!    the commit straight on the default branch, fast-forward only; when the branch moved
//!    meanwhile, slipway reads it again and retries a few times. The push deploys.

pub mod plan;

use std::time::Duration;

use crate::commands::replies::{self, Proposal, RollbackShown, UnknownCommit};
use crate::commands::{CommandFailure, UserError};
use crate::config::{ConfigRepoConfig, Environment};
use crate::git::{self, CommitId, LocalRepo, PathObject, PrefixMatch, Remote, Token};
use crate::github::{BranchMove, GitHubError, RepoRef, TreeEntry};
use crate::queue::{random_jitter, retry_delay, HandlerError};
use crate::report::{ReportError, Templates};

use super::bumps::message::link;
use super::PipelineContext;
use plan::RollbackTexts;

/// How often a commit on the default branch is tried when the branch keeps moving.
pub const COMMIT_ATTEMPTS: u32 = 4;
const RETRY_BASE_DELAY: Duration = Duration::from_millis(100);
const RETRY_MAX_DELAY: Duration = Duration::from_secs(2);

/// What `/rollback` is asked to do, and where.
#[derive(Debug, Clone)]
pub struct RollbackRequest {
    pub installation_id: i64,
    pub repo: RepoRef,
    pub default_branch: String,
    /// Where the config repo is fetched from, to read the default branch again.
    pub clone_url: String,
    /// The repository's page (`https://github.com/acme/config`), for links.
    pub html_url: Option<String>,
    /// The mirror of the config repo, fetched moments ago.
    pub mirror: LocalRepo,
    /// The default branch's head in that fetch.
    pub head: CommitId,
    /// `.github/slipway.yml` at that head.
    pub config: ConfigRepoConfig,
    pub environment: String,
    /// A commit sha (7 to 40 hex digits); `None`: the revision deployed before the current one.
    pub to: Option<String>,
    /// Who asked, on which issue or pull request, in which comment.
    pub requested_by: String,
    pub requested_in: u64,
    pub comment_url: Option<String>,
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackOutcome {
    /// The environment's path on the default branch already is the target's.
    AlreadyMatches { shown: RollbackShown },
    /// One commit on the default branch.
    Committed {
        shown: RollbackShown,
        commit: String,
        url: Option<String>,
    },
    /// The rollback pull request of a gated environment.
    Proposed {
        shown: RollbackShown,
        number: u64,
        proposal: Proposal,
        approvals: u32,
    },
}

impl RollbackOutcome {
    /// The reply line for the command comment.
    pub fn reply(&self, templates: &Templates) -> Result<String, ReportError> {
        match self {
            RollbackOutcome::AlreadyMatches { shown } => {
                replies::rollback_unchanged(templates, shown)
            }
            RollbackOutcome::Committed { shown, commit, url } => {
                replies::rollback_committed(templates, shown, commit, url.as_deref())
            }
            RollbackOutcome::Proposed {
                shown,
                number,
                proposal,
                approvals,
            } => replies::rollback_proposed(templates, shown, *proposal, *number, *approvals),
        }
    }
}

/// Runs one rollback.
pub async fn rollback(
    context: &PipelineContext,
    request: RollbackRequest,
) -> Result<RollbackOutcome, CommandFailure> {
    let templates = Templates::builtin();
    let env = request
        .config
        .environment(&request.environment)
        .cloned()
        .ok_or_else(|| {
            UserError::new(format!("there is no environment `{}`", request.environment))
        })?;
    if let Some(lock) = context
        .store
        .environment_lock(&request.repo.to_string(), &env.name)
        .await?
    {
        return Err(UserError::new(replies::rollback_locked(templates, &lock)?).into());
    }
    let (target, previous) = target(context, &request, &env).await?;
    let shown = RollbackShown {
        environment: env.name.clone(),
        path: env.path.clone(),
        branch: request.default_branch.clone(),
        target: target.to_hex(),
        previous,
    };
    let texts = RollbackTexts {
        environment: env.name.clone(),
        path: env.path.clone(),
        target: target.to_hex(),
        previous,
        requested_by: request.requested_by.clone(),
        requested_in: request.requested_in,
        comment_url: request.comment_url.clone(),
        target_url: page(&request, &format!("commit/{}", target.to_hex())),
        approvals: env.required_approvals,
    };
    if env.required_approvals > 0 {
        propose(context, &request, &env, target, shown, &texts).await
    } else {
        commit_directly(context, &request, &env, target, shown, &texts).await
    }
}

/// The commit to restore, and whether it is the previously deployed one (rather than named).
async fn target(
    context: &PipelineContext,
    request: &RollbackRequest,
    env: &Environment,
) -> Result<(CommitId, bool), CommandFailure> {
    let templates = Templates::builtin();
    let (wanted, previous) = match &request.to {
        Some(sha) => (sha.clone(), false),
        None => match context
            .store
            .previous_successful_deploy(&request.repo.to_string(), &env.name)
            .await?
        {
            Some(deploy) => (deploy.merge_sha, true),
            None => {
                let reply = replies::rollback_no_history(templates, &env.name)?;
                return Err(UserError::new(reply).into());
            }
        },
    };
    let (mirror, head, sha) = (request.mirror.clone(), request.head, wanted.clone());
    let found = git::blocking(move || -> Result<_, HandlerError> {
        Ok(match mirror.commit_by_prefix(&sha)? {
            PrefixMatch::Commit(commit) => Ok((commit, mirror.is_ancestor(&commit, &head)?)),
            other => Err(other),
        })
    })
    .await?;
    match found {
        Ok((commit, true)) => Ok((commit, previous)),
        Ok((commit, false)) => Err(UserError::new(replies::rollback_not_on_branch(
            templates,
            &env.name,
            &commit.to_hex(),
            &request.default_branch,
        )?)
        .into()),
        // A deploy's merge commit the default branch no longer holds (its history was
        // rewritten) is not on it either.
        Err(PrefixMatch::None) if previous => Err(UserError::new(replies::rollback_not_on_branch(
            templates,
            &env.name,
            &wanted,
            &request.default_branch,
        )?)
        .into()),
        Err(problem) => {
            let problem = match problem {
                PrefixMatch::Ambiguous => UnknownCommit::Ambiguous,
                PrefixMatch::NotACommit => UnknownCommit::NotACommit,
                _ => UnknownCommit::Missing,
            };
            Err(UserError::new(replies::rollback_unknown_commit(
                templates, &env.name, &wanted, problem,
            )?)
            .into())
        }
    }
}

/// The entry restoring `env`'s path at `head` to `target`'s, or `None` when they match.
async fn restoring_entry(
    mirror: &LocalRepo,
    head: CommitId,
    target: CommitId,
    path: &str,
) -> Result<Option<TreeEntry>, CommandFailure> {
    let (mirror, path) = (mirror.clone(), path.to_string());
    git::blocking(move || -> Result<_, CommandFailure> {
        let at_head = object_at(&mirror, head, &path)?;
        let at_target = object_at(&mirror, target, &path)?;
        Ok(plan::restoring_entry(
            &path,
            at_head.as_ref(),
            at_target.as_ref(),
        )?)
    })
    .await
}

fn object_at(
    mirror: &LocalRepo,
    commit: CommitId,
    path: &str,
) -> Result<Option<PathObject>, CommandFailure> {
    let tree = mirror
        .tree_at(&commit.to_hex())
        .map_err(HandlerError::from)?;
    tree.object_at(path).map_err(|err| {
        CommandFailure::internal(format!("reading {path} at {}: {err}", commit.short(12)))
    })
}

/// An ungated environment: the commit goes straight onto the default branch.
async fn commit_directly(
    context: &PipelineContext,
    request: &RollbackRequest,
    env: &Environment,
    target: CommitId,
    shown: RollbackShown,
    texts: &RollbackTexts,
) -> Result<RollbackOutcome, CommandFailure> {
    let github = &context.github;
    let (installation, repo) = (request.installation_id, &request.repo);
    let message = texts.commit_message(Templates::builtin())?;
    let mut mirror = request.mirror.clone();
    let mut head = request.head;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some(entry) = restoring_entry(&mirror, head, target, &env.path).await? else {
            return Ok(RollbackOutcome::AlreadyMatches { shown });
        };
        let commit = github
            .write_commit_of_entries(installation, repo, &head.to_hex(), &message, &[entry])
            .await?;
        let moved = github
            .set_branch(
                installation,
                repo,
                &request.default_branch,
                &commit,
                BranchMove::FastForward,
            )
            .await;
        match moved {
            Ok(()) => {
                tracing::info!(
                    repo = %repo,
                    environment = %env.name,
                    target = %target,
                    commit = %commit,
                    attempt,
                    "rollback committed"
                );
                let url = page(request, &format!("commit/{commit}"));
                return Ok(RollbackOutcome::Committed { shown, commit, url });
            }
            Err(GitHubError::NotFastForward { .. }) if attempt < COMMIT_ATTEMPTS => {
                let wait = retry_delay(attempt, RETRY_BASE_DELAY, RETRY_MAX_DELAY, random_jitter());
                tracing::info!(
                    repo = %repo,
                    branch = %request.default_branch,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "the branch moved under a rollback; reading it again"
                );
                tokio::time::sleep(wait).await;
                (mirror, head) = read_head(context, request).await?;
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// The default branch's head as GitHub has it now, in a mirror that holds it.
async fn read_head(
    context: &PipelineContext,
    request: &RollbackRequest,
) -> Result<(LocalRepo, CommitId), CommandFailure> {
    let github = &context.github;
    let sha = github
        .branch_head(
            request.installation_id,
            &request.repo,
            &request.default_branch,
        )
        .await?
        .ok_or_else(|| {
            CommandFailure::internal(format!(
                "{} has no branch {}",
                request.repo, request.default_branch
            ))
        })?;
    let head: CommitId = sha.parse().map_err(HandlerError::from)?;
    let token = github.installation_token(request.installation_id).await?;
    let remote = Remote::new(&request.clone_url).with_token(Token::new(token.token));
    let mirrors = context.mirrors.clone();
    let what = format!("the head of {}", request.default_branch);
    let mirror = git::blocking(move || -> Result<_, HandlerError> {
        Ok(mirrors.holding(&remote, &[(&head, &what)])?)
    })
    .await?;
    Ok((mirror, head))
}

/// A gated environment: the commit on `slipway/rollback/<env>` and its pull request.
async fn propose(
    context: &PipelineContext,
    request: &RollbackRequest,
    env: &Environment,
    target: CommitId,
    shown: RollbackShown,
    texts: &RollbackTexts,
) -> Result<RollbackOutcome, CommandFailure> {
    let templates = Templates::builtin();
    let github = &context.github;
    let (installation, repo) = (request.installation_id, &request.repo);
    let branch = plan::branch_name(&env.name)?;
    let head = request.head;
    let Some(entry) = restoring_entry(&request.mirror, head, target, &env.path).await? else {
        return Ok(RollbackOutcome::AlreadyMatches { shown });
    };

    let existing = github.branch_head(installation, repo, &branch).await?;
    let reusable = match &existing {
        Some(sha) => {
            let (mirror, sha, path, entry) = (
                request.mirror.clone(),
                sha.clone(),
                env.path.clone(),
                entry.clone(),
            );
            git::blocking(move || -> Result<_, HandlerError> {
                Ok(branch_holds(&mirror, &sha, &head, &path, &entry))
            })
            .await?
        }
        None => false,
    };
    let committed = !reusable;
    if committed {
        let commit = github
            .write_commit_of_entries(
                installation,
                repo,
                &head.to_hex(),
                &texts.commit_message(templates)?,
                &[entry],
            )
            .await?;
        // The branch is slipway's: its previous commit is replaced, not built upon.
        let how = if existing.is_some() {
            BranchMove::Force
        } else {
            BranchMove::Create
        };
        github
            .set_branch(installation, repo, &branch, &commit, how)
            .await?;
    }

    let title = texts.pull_title(templates)?;
    let body = texts.pull_body(templates)?;
    let (number, proposal) = match github
        .find_open_pull_by_head(installation, repo, &branch)
        .await?
    {
        Some(pull) => {
            github
                .update_pull(installation, repo, pull.number, &title, &body)
                .await?;
            let proposal = if committed {
                Proposal::Updated
            } else {
                Proposal::Unchanged
            };
            (pull.number, proposal)
        }
        None => {
            let created = github
                .create_pull(
                    installation,
                    repo,
                    &title,
                    &branch,
                    &request.default_branch,
                    &body,
                )
                .await?;
            let proposal = if created.created {
                Proposal::Opened
            } else {
                Proposal::Updated
            };
            (created.pull.number, proposal)
        }
    };
    // The commenter may not approve the rollback they asked for.
    context
        .store
        .record_pull_participant(
            &repo.to_string(),
            number,
            &request.requested_by,
            crate::store::ParticipantRole::Requester,
        )
        .await?;
    tracing::info!(
        repo = %repo,
        environment = %env.name,
        target = %target,
        pull = number,
        committed,
        "rollback proposed"
    );
    Ok(RollbackOutcome::Proposed {
        shown,
        number,
        proposal,
        approvals: env.required_approvals,
    })
}

/// Whether `branch_sha` is one commit on `head` whose `path` is exactly what `entry` sets.
fn branch_holds(
    mirror: &LocalRepo,
    branch_sha: &str,
    head: &CommitId,
    path: &str,
    entry: &TreeEntry,
) -> bool {
    let Ok(parent) = mirror.resolve(&format!("{branch_sha}^")) else {
        return false;
    };
    let Ok(tree) = mirror.tree_at(branch_sha) else {
        return false;
    };
    parent == *head
        && tree
            .object_at(path)
            .is_ok_and(|found| found.map(|object| object.id) == entry.sha)
}

/// `<html_url>/<rest>`, when the repository's page is known and a plain http(s) URL.
fn page(request: &RollbackRequest, rest: &str) -> Option<String> {
    request
        .html_url
        .as_ref()
        .and_then(|url| link(&format!("{}/{rest}", url.trim_end_matches('/'))))
}

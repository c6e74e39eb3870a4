//! `/promote <env> [from <env>]`: copy the images running in one environment into another, as
//! a pull request.
//!
//! 1. The source is the named environment, or the target's `promote_from`. A locked target is
//!    refused.
//! 2. Both environments are rendered at the head of the default branch; the images of their
//!    workloads' containers and init containers are compared ([`plan::running_images`]).
//!    Every image the target runs in another version than the source is bumped in the
//!    target's files with the bump code (comments and formatting kept). Nothing to bump:
//!    "already up to date".
//! 3. The edited files become one commit through the Git Data API on `slipway/promote/<env>`,
//!    whose parent is the default branch's head. The branch belongs to slipway: promoting again
//!    replaces its commit with a new one on the then-current default branch (a forced update
//!    of that branch only), so the pull request always holds exactly one commit that applies
//!    cleanly. When the branch already holds exactly that change, no commit is made.
//! 4. The pull request from that branch is opened, or — when one is open — its body is
//!    updated: never a second one. Its body lists the promoted images (old → new) and the
//!    preview of the target's rendered manifests before and after.

pub mod plan;

use crate::commands::replies::{self, PromotedImage, Proposal};
use crate::commands::{CommandFailure, UserError};
use crate::config::{ConfigRepoConfig, Environment};
use crate::diff::{self, EnvironmentDiff, FingerprintKey};
use crate::git::{self, CommitId, LocalRepo};
use crate::github::{CommitRequest, RepoRef};
use crate::queue::HandlerError;
use crate::render::{self, K8sObject, TreeSource};
use crate::report::{Limits, Preview, ReportError, Templates, GITHUB_COMMENT_LIMIT};

use super::PipelineContext;
use plan::Promotion;

/// A pull request body may hold as much as a comment.
const PULL_BODY_BUDGET: usize = GITHUB_COMMENT_LIMIT - 1_000;

/// What `/promote` is asked to do, and where.
#[derive(Debug, Clone)]
pub struct PromoteRequest {
    pub installation_id: i64,
    pub repo: RepoRef,
    pub default_branch: String,
    /// The mirror of the config repo, fetched moments ago.
    pub mirror: LocalRepo,
    /// The default branch's head in that fetch.
    pub head: CommitId,
    pub config: ConfigRepoConfig,
    pub target: String,
    pub source: Option<String>,
    /// Who asked, and in which pull request.
    pub requested_by: String,
    pub requested_in: u64,
}

/// What a promotion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromoteOutcome {
    /// The target already runs the source's images.
    UpToDate { source: String, target: String },
    /// The promotion pull request is open with these changes.
    Proposed {
        source: String,
        target: String,
        number: u64,
        /// False when an open promotion pull request was updated.
        opened: bool,
        /// False when the branch already held exactly this change.
        committed: bool,
        changes: Vec<Promotion>,
    },
}

impl PromoteOutcome {
    /// The reply line for the command comment.
    pub fn reply(&self, templates: &Templates) -> Result<String, ReportError> {
        match self {
            PromoteOutcome::UpToDate { source, target } => {
                replies::promote_up_to_date(templates, source, target)
            }
            PromoteOutcome::Proposed {
                source,
                target,
                number,
                opened,
                committed,
                changes,
            } => {
                let proposal = match (opened, committed) {
                    (true, _) => Proposal::Opened,
                    (false, true) => Proposal::Updated,
                    (false, false) => Proposal::Unchanged,
                };
                let images: Vec<PromotedImage> = changes
                    .iter()
                    .map(|c| PromotedImage {
                        repository: plan::show(&c.repository),
                        from: plan::show_version(&c.from),
                        to: plan::show_version(&c.to),
                    })
                    .collect();
                replies::promote_proposed(templates, proposal, source, target, *number, &images)
            }
        }
    }
}

/// Runs one promotion.
pub async fn promote(
    context: &PipelineContext,
    request: PromoteRequest,
) -> Result<PromoteOutcome, CommandFailure> {
    let target = request
        .config
        .environment(&request.target)
        .cloned()
        .ok_or_else(|| UserError::new(format!("there is no environment `{}`", request.target)))?;
    let source_name = match (&request.source, &target.promote_from) {
        (Some(source), _) | (None, Some(source)) => source.clone(),
        (None, None) => {
            return Err(UserError::new(format!(
                "`{0}` has no `promote_from` in `.github/slipway.yml`, so name the source: `/promote {0} from <env>`",
                target.name
            ))
            .into())
        }
    };
    if source_name == target.name {
        return Err(UserError::new("an environment cannot be promoted from itself").into());
    }
    let source = request
        .config
        .environment(&source_name)
        .cloned()
        .ok_or_else(|| UserError::new(format!("there is no environment `{source_name}`")))?;
    let branch = plan::branch_name(&target.name)?;
    if let Some(lock) = context
        .store
        .environment_lock(&request.repo.to_string(), &target.name)
        .await?
    {
        return Err(UserError::new(replies::target_locked(Templates::builtin(), &lock)?).into());
    }

    let computed = {
        let mirror = request.mirror.clone();
        let head = request.head;
        let (source, target) = (source.clone(), target.clone());
        let key = context.fingerprint_key;
        git::blocking(move || compute(&mirror, &head, &source, &target, &key)).await?
    };
    let Computed::Changes {
        changes,
        files,
        diff,
    } = computed
    else {
        return Ok(PromoteOutcome::UpToDate {
            source: source.name,
            target: target.name,
        });
    };

    let github = &context.github;
    let (installation, repo) = (request.installation_id, &request.repo);
    let existing = github.branch_head(installation, repo, &branch).await?;
    let reusable = match &existing {
        Some(sha) => {
            let (mirror, sha, head, files) = (
                request.mirror.clone(),
                sha.clone(),
                request.head,
                files.clone(),
            );
            git::blocking(move || -> Result<_, CommandFailure> {
                Ok(branch_holds(&mirror, &sha, &head, &files))
            })
            .await?
        }
        None => false,
    };
    let (commit, committed) = match (existing, reusable) {
        (Some(sha), true) => (sha, false),
        (existing, _) => {
            let commit = CommitRequest {
                branch: branch.clone(),
                parent_sha: request.head.to_hex(),
                message: plan::commit_message(&source.name, &target.name, &changes),
                files: files
                    .iter()
                    .map(|(path, bytes)| (path.clone(), Some(bytes.clone())))
                    .collect(),
                create_branch: existing.is_none(),
            };
            let sha = match existing {
                None => github.commit_files(installation, repo, &commit).await?,
                // The branch is slipway's: its previous commit is replaced, not built upon.
                Some(_) => {
                    github
                        .replace_branch_commit(installation, repo, &commit)
                        .await?
                }
            };
            (sha, true)
        }
    };

    let body = pull_body(
        &request,
        &source.name,
        &target.name,
        &changes,
        &diff,
        &commit,
    )?;
    let title = plan::pull_title(&source.name, &target.name);
    let (number, opened) = match github
        .find_open_pull_by_head(installation, repo, &branch)
        .await?
    {
        Some(pull) => {
            github
                .update_pull(installation, repo, pull.number, &title, &body)
                .await?;
            (pull.number, false)
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
            (created.pull.number, created.created)
        }
    };
    // The commenter may not approve the promotion they asked for.
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
        source = %source.name,
        target = %target.name,
        pull = number,
        opened,
        committed,
        images = changes.len(),
        "promotion proposed"
    );
    Ok(PromoteOutcome::Proposed {
        source: source.name,
        target: target.name,
        number,
        opened,
        committed,
        changes,
    })
}

enum Computed {
    UpToDate,
    Changes {
        changes: Vec<Promotion>,
        /// The target's edited files, as (path, new bytes).
        files: Vec<(String, Vec<u8>)>,
        /// The target's render before and after.
        diff: EnvironmentDiff,
    },
}

/// Everything a promotion decides from the default branch's tree: no network.
fn compute(
    mirror: &LocalRepo,
    head: &CommitId,
    source: &Environment,
    target: &Environment,
    key: &FingerprintKey,
) -> Result<Computed, CommandFailure> {
    let tree = mirror.tree_at(&head.to_hex()).map_err(HandlerError::from)?;
    let at = format!("commit {}", head.short(7));
    let source_objects = render_for(&tree, source, &at)?;
    let target_objects = render_for(&tree, target, &at)?;
    let source_images = plan::running_images(&source.name, &source_objects)?;
    let target_images = plan::running_images(&target.name, &target_objects)?;
    let (requests, changes) = plan::promotions(&source_images, &target_images);
    if requests.is_empty() {
        let shared = source_images.iter().any(|s| {
            s.version.is_some()
                && target_images
                    .iter()
                    .any(|t| crate::bump::image::same_repository(&t.repository, &s.repository))
        });
        if shared {
            return Ok(Computed::UpToDate);
        }
        return Err(UserError::new(format!(
            "nothing to promote: `{}` runs none of the tagged images `{}` runs",
            target.name, source.name
        ))
        .into());
    }
    plan::check_repositories(&changes)?;
    let files = crate::bump::files_to_bump(&tree, target).map_err(|err| {
        UserError::new(format!(
            "cannot read the files of `{}` at {at}: {err}",
            target.name
        ))
    })?;
    let edits = crate::bump::plan_for(&tree, target, &files, &requests).map_err(|err| {
        UserError::new(format!(
            "cannot bump the images of `{}`: {err}",
            target.name
        ))
    })?;
    if edits.is_empty() {
        return Ok(Computed::UpToDate);
    }
    let files = crate::bump::edited_files(&files, &edits);
    let overlay = plan::Overlay::new(&tree, &files);
    let after = render_for(&overlay, target, &at)?;
    let diff = diff::diff_environment(&target.name, &target_objects, &after, key);
    Ok(Computed::Changes {
        changes,
        files,
        diff,
    })
}

fn render_for(
    source: &dyn TreeSource,
    env: &Environment,
    at: &str,
) -> Result<Vec<K8sObject>, UserError> {
    render::render_environment(source, env).map_err(|err| {
        UserError::new(format!(
            "`{}` does not render at {at}:\n\n```text\n{}\n```",
            env.name,
            err.to_string().replace("```", "'''")
        ))
    })
}

/// Whether `branch_sha` is one commit on `head` whose edited files are exactly `files`: a
/// slipway-owned branch (a promotion's, a gated bump's) that needs no new commit.
pub(crate) fn branch_holds(
    mirror: &LocalRepo,
    branch_sha: &str,
    head: &CommitId,
    files: &[(String, Vec<u8>)],
) -> bool {
    let Ok(parent) = mirror.resolve(&format!("{branch_sha}^")) else {
        return false;
    };
    parent == *head
        && files.iter().all(|(path, bytes)| {
            mirror
                .read_file(branch_sha, path)
                .ok()
                .flatten()
                .is_some_and(|found| &found == bytes)
        })
}

/// The pull request's body: what is promoted, then the preview of the target's change.
fn pull_body(
    request: &PromoteRequest,
    source: &str,
    target: &str,
    changes: &[Promotion],
    diff: &EnvironmentDiff,
    commit: &str,
) -> Result<String, CommandFailure> {
    let header = plan::pull_body_header(
        source,
        target,
        &request.requested_by,
        request.requested_in,
        changes,
    );
    let base = request.head.short(7);
    let head = commit.get(..7).unwrap_or(commit);
    let command = format!(
        "git fetch origin {commit} && slipway preview --repo . --base {} --head {commit} --env {target} --max-parts 0",
        request.head.to_hex()
    );
    let environments = [diff.clone()];
    let preview = Preview {
        base: &base,
        head,
        environments: &environments,
        full_command: &command,
    };
    let limits = Limits {
        part_budget: PULL_BODY_BUDGET.saturating_sub(header.len()),
        marker_budget: 0,
        max_parts: 1,
    };
    let mut parts = Templates::embedded()
        .comment_parts(&preview, &limits)
        .map_err(|err| {
            CommandFailure::internal(format!("cannot write the promotion preview: {err}"))
        })?;
    Ok(format!("{header}{}", parts.remove(0)))
}

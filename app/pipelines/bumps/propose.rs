//! A gated environment's bump: the rolling pull request of one image in one environment.
//!
//! Branch `slipway/bump/<env>/<image-name>` belongs to slipway and holds exactly one commit on
//! the default branch's current head; each later bump of the image replaces that commit
//! (a forced update of that branch only, as `/promote` does). The pull request of the branch
//! is found by its head and updated, or opened: never a second one.

use crate::bump;
use crate::git::{self, CommitId, LocalRepo};
use crate::github::{CommitRequest, Repository};
use crate::pipelines::promote::branch_holds;
use crate::report::Templates;
use crate::store::ParticipantRole;

use super::land::Planned;
use super::{branch, message, BumpFailure, BumpLanded, BumpOrder, Shared};

pub(super) async fn propose(
    shared: &Shared,
    installation: i64,
    repository: &Repository,
    mirror: &LocalRepo,
    head: CommitId,
    order: &BumpOrder,
    planned: &Planned,
) -> Result<BumpLanded, BumpFailure> {
    let repo = &order.config_repo;
    let github = &shared.github;
    let branch = branch::branch_name(&planned.environment, &order.image);
    // Two bumps of one image in one process take turns on its branch.
    let lock = shared.branch_lock(repo, &branch);
    let _turn = lock.lock().await;

    let moved = planned.moved(&order.image);
    let files = bump::edited_files(&planned.files, &planned.edits);
    let templates = Templates::builtin();
    let report = |err| BumpFailure::report(repo, err);

    let existing = github
        .branch_head(installation, repo, &branch)
        .await
        .map_err(|err| BumpFailure::github(repo, "reading the bump branch", err))?;
    let reusable = match &existing {
        Some(sha) => {
            let (mirror, sha, files) = (mirror.clone(), sha.clone(), files.clone());
            git::blocking(move || -> Result<bool, git::TaskFailed> {
                Ok(branch_holds(&mirror, &sha, &head, &files))
            })
            .await
            .map_err(|err| BumpFailure::interrupted(repo, err))?
        }
        None => false,
    };
    if !reusable {
        let request = CommitRequest {
            branch: branch.clone(),
            parent_sha: head.to_hex(),
            message: message::commit_message(templates, &[(&moved, &order.source)])
                .map_err(report)?,
            files: files
                .into_iter()
                .map(|(path, bytes)| (path, Some(bytes)))
                .collect(),
            create_branch: existing.is_none(),
        };
        let committed = match existing {
            None => github.commit_files(installation, repo, &request).await,
            // The branch is slipway's: its previous commit is replaced, not built upon.
            Some(_) => {
                github
                    .replace_branch_commit(installation, repo, &request)
                    .await
            }
        };
        committed.map_err(|err| BumpFailure::github(repo, "committing on the bump branch", err))?;
    }

    let title = message::pull_title(templates, &moved).map_err(report)?;
    let body = message::pull_body(templates, &moved, &order.source, planned.required_approvals)
        .map_err(report)?;
    let open = github
        .find_open_pull_by_head(installation, repo, &branch)
        .await
        .map_err(|err| BumpFailure::github(repo, "finding the bump pull request", err))?;
    let (pull, opened) = match open {
        Some(pull) => {
            let pull = github
                .update_pull(installation, repo, pull.number, &title, &body)
                .await
                .map_err(|err| BumpFailure::github(repo, "updating the bump pull request", err))?;
            (pull, false)
        }
        None => {
            let created = github
                .create_pull(
                    installation,
                    repo,
                    &title,
                    &branch,
                    &repository.default_branch,
                    &body,
                )
                .await
                .map_err(|err| BumpFailure::github(repo, "opening the bump pull request", err))?;
            (created.pull, created.created)
        }
    };
    // Whoever caused the build may not approve its bump: recorded by slipway, never read
    // from the pull request's body, which any writer can edit.
    if let Some(requester) = &order.requested_by {
        shared
            .store
            .record_pull_participant(
                &repo.to_string(),
                pull.number,
                requester,
                ParticipantRole::Requester,
            )
            .await
            .map_err(|err| BumpFailure::Store {
                repo: repo.clone(),
                error: std::sync::Arc::new(err),
            })?;
    }
    tracing::info!(
        repo = %repo,
        environment = %planned.environment,
        image = %order.image,
        pull = pull.number,
        opened,
        committed = !reusable,
        "bump proposed"
    );
    Ok(BumpLanded::Proposed {
        number: pull.number,
        url: pull.html_url,
        opened,
    })
}

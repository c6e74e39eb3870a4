//! The I/O of landing: a lane's leader reads the default branch's head, sorts each waiting
//! order (locked, already current, gated, or to commit), commits the rest together and
//! retries when the branch moved.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::bump::image::ImageRef;
use crate::bump::{self, BumpRequest, Edit, EnvironmentFilesError};
use crate::config::{self, ConfigRepoConfig};
use crate::failure::FailureKind;
use crate::git::{self, CommitId, GitError, LocalRepo, Mirrors, Remote, Token};
use crate::github::{CommitRequest, GitHubError, InstallationToken, RepoRef, Repository};
use crate::queue::{random_jitter, retry_delay};
use crate::report::Templates;
use crate::store::EnvironmentLock;

use super::lane::{Lane, Waiter};
use super::MAX_BATCH;
use super::{
    batch, message, propose, BumpFailure, BumpLanded, BumpOrder, BumpRetry, MovedImage, Shared,
};

/// Lands the lane's orders, batch after batch, until none waits.
pub(super) async fn lead(shared: Arc<Shared>, lane: Arc<Lane>, retry: BumpRetry) {
    loop {
        let batch = lane.next_batch(MAX_BATCH);
        let Some(first) = batch.first() else {
            return;
        };
        let repo = first.order.config_repo.clone();
        // Its own task, so a panic fails this batch's waiters (their replies drop) and not
        // the lane.
        let landing = tokio::spawn(land_batch(shared.clone(), lane.clone(), retry, batch));
        if let Err(err) = landing.await {
            tracing::error!(repo = %repo, error = %err, "landing a batch of bumps stopped");
        }
    }
}

/// The default branch's head as the mirror holds it, with what was read there.
struct Head {
    repository: Repository,
    mirror: LocalRepo,
    commit: CommitId,
    config: ConfigRepoConfig,
}

/// One order, sorted.
enum Triage {
    Answer(Result<BumpLanded, BumpFailure>),
    Plan(Planned),
}

/// An order's edits against the head.
pub(super) struct Planned {
    pub environment: String,
    pub required_approvals: u32,
    pub edits: Vec<Edit>,
    /// The environment's files the edits were planned on.
    pub files: Arc<Vec<(String, String)>>,
}

impl Planned {
    pub fn moved(&self, image: &str) -> MovedImage {
        batch::moved(&self.environment, image, &self.edits)
    }
}

async fn land_batch(shared: Arc<Shared>, lane: Arc<Lane>, retry: BumpRetry, batch: Vec<Waiter>) {
    let repo = batch[0].order.config_repo.clone();
    let installation = batch[0].installation;
    let mut waiting = batch;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let head = match read_head(&shared, installation, &repo).await {
            Ok(head) => head,
            Err(failure) => return fail_all(waiting, &failure),
        };
        let locks = match shared.store.environment_locks(&repo.to_string()).await {
            Ok(locks) => locks,
            Err(err) => {
                let failure = BumpFailure::Store {
                    repo: repo.clone(),
                    error: Arc::new(err),
                };
                return fail_all(waiting, &failure);
            }
        };
        let triaged = {
            let orders: Vec<BumpOrder> = waiting.iter().map(|w| w.order.clone()).collect();
            let (mirror, commit, config, repo) = (
                head.mirror.clone(),
                head.commit,
                head.config.clone(),
                repo.clone(),
            );
            git::blocking(move || -> Result<_, git::TaskFailed> {
                Ok(triage(&repo, &mirror, &commit, &config, &locks, &orders))
            })
            .await
        };
        let triaged = match triaged {
            Ok(triaged) => triaged,
            Err(err) => return fail_all(waiting, &BumpFailure::interrupted(&repo, err)),
        };
        let mut sorted = Vec::with_capacity(triaged.len());
        for (waiter, triage) in waiting.iter().zip(triaged) {
            sorted.push(match triage {
                Triage::Plan(planned) => {
                    match newer_running(&shared, &waiter.order, &planned).await {
                        Ok(None) => Triage::Plan(planned),
                        Ok(Some(running)) => Triage::Answer(Ok(BumpLanded::Newer {
                            environment: planned.environment.clone(),
                            running,
                        })),
                        Err(failure) => Triage::Answer(Err(failure)),
                    }
                }
                answered => answered,
            });
        }
        let triaged = sorted;

        let mut direct: Vec<(Waiter, Planned)> = Vec::new();
        for (waiter, sorted) in waiting.into_iter().zip(triaged) {
            match sorted {
                Triage::Answer(result) => waiter.answer(result),
                Triage::Plan(planned) if planned.required_approvals > 0 => {
                    // A pull request is not the default branch: it takes its own time, off
                    // the lane.
                    let (shared, repository, mirror, commit) = (
                        shared.clone(),
                        head.repository.clone(),
                        head.mirror.clone(),
                        head.commit,
                    );
                    tokio::spawn(async move {
                        let result = propose::propose(
                            &shared,
                            waiter.installation,
                            &repository,
                            &mirror,
                            commit,
                            &waiter.order,
                            &planned,
                        )
                        .await;
                        waiter.answer(result);
                    });
                }
                Triage::Plan(planned) => direct.push((waiter, planned)),
            }
        }
        if direct.is_empty() {
            return;
        }

        let mut texts: BTreeMap<String, String> = BTreeMap::new();
        for (_, planned) in &direct {
            for (path, text) in planned.files.iter() {
                texts.entry(path.clone()).or_insert_with(|| text.clone());
            }
        }
        let edits: Vec<Vec<Edit>> = direct.iter().map(|(_, p)| p.edits.clone()).collect();
        let combined = batch::combine(&texts, &edits);
        let mut included = Vec::new();
        let mut deferred = Vec::new();
        for (index, entry) in direct.into_iter().enumerate() {
            if combined.included.contains(&index) {
                included.push(entry);
            } else {
                deferred.push(entry.0);
            }
        }
        // Planned again on top of this commit, by the leader's next batch.
        lane.requeue(deferred);

        let moved: Vec<MovedImage> = included
            .iter()
            .map(|(w, planned)| planned.moved(&w.order.image))
            .collect();
        let lines: Vec<(&MovedImage, &super::SourceCommit)> = moved
            .iter()
            .zip(&included)
            .map(|(m, (w, _))| (m, &w.order.source))
            .collect();
        let message = match message::commit_message(Templates::builtin(), &lines) {
            Ok(message) => message,
            Err(err) => {
                let failure = BumpFailure::report(&repo, err);
                return fail_all(included.into_iter().map(|(w, _)| w).collect(), &failure);
            }
        };
        let request = CommitRequest {
            branch: head.repository.default_branch.clone(),
            parent_sha: head.commit.to_hex(),
            message,
            files: combined
                .files
                .into_iter()
                .map(|(path, bytes)| (path, Some(bytes)))
                .collect(),
            create_branch: false,
        };
        let committed = shared
            .github
            .commit_files(installation, &repo, &request)
            .await;
        let waiters: Vec<Waiter> = included.into_iter().map(|(w, _)| w).collect();
        match committed {
            Ok(sha) => {
                tracing::info!(
                    repo = %repo,
                    commit = %sha,
                    images = moved.len(),
                    attempt,
                    "bump committed"
                );
                let url = format!("{}/commit/{sha}", head.repository.html_url);
                for waiter in waiters {
                    waiter.answer(Ok(BumpLanded::Committed {
                        sha: sha.clone(),
                        url: url.clone(),
                        images: moved.clone(),
                    }));
                }
                return;
            }
            Err(GitHubError::NotFastForward { .. }) if attempt < retry.attempts => {
                let wait = retry_delay(attempt, retry.base_delay, retry.max_delay, random_jitter());
                tracing::info!(
                    repo = %repo,
                    branch = %request.branch,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "the branch moved under a bump; reading it again"
                );
                tokio::time::sleep(wait).await;
                waiting = waiters;
            }
            Err(GitHubError::NotFastForward { .. }) => {
                let failure = BumpFailure::Contended {
                    repo: repo.clone(),
                    branch: request.branch.clone(),
                    attempts: attempt,
                };
                tracing::warn!(repo = %repo, error = %failure, "bump not landed");
                return fail_all(waiters, &failure);
            }
            Err(err) => {
                let failure = BumpFailure::github(&repo, "committing the bump", err);
                return fail_all(waiters, &failure);
            }
        }
    }
}

fn fail_all(waiters: Vec<Waiter>, failure: &BumpFailure) {
    for waiter in waiters {
        waiter.answer(Err(failure.clone()));
    }
}

/// The default branch's head, in the mirror (fetched only when the mirror lacks it), and the
/// config repo's `.github/slipway.yml` there.
async fn read_head(
    shared: &Shared,
    installation: i64,
    repo: &RepoRef,
) -> Result<Head, BumpFailure> {
    let github = &shared.github;
    let repository = match github.get_repository(installation, repo).await {
        Ok(found) => found,
        Err(err) => {
            if matches!(err.status(), Some(401 | 403 | 404)) {
                // Installations move (uninstalled, reinstalled): find it again next time.
                shared.forget_installation(repo);
            }
            return Err(BumpFailure::github(repo, "reading the repository", err));
        }
    };
    let branch = repository.default_branch.clone();
    let head_sha = github
        .branch_head(installation, repo, &branch)
        .await
        .map_err(|err| BumpFailure::github(repo, "reading the default branch", err))?
        .ok_or_else(|| {
            BumpFailure::git(
                repo,
                GitError::RevisionNotFound {
                    rev: format!("refs/heads/{branch}"),
                    source: "GitHub has no such branch".into(),
                },
            )
        })?;
    let commit: CommitId = head_sha
        .parse()
        .map_err(|err| BumpFailure::git(repo, err))?;
    let token = github
        .installation_token(installation)
        .await
        .map_err(|err| BumpFailure::github(repo, "getting an installation token", err))?;
    let mirrors = shared.mirrors.clone();
    let url = repository.clone_url.clone();
    let owned_repo = repo.clone();
    let read = git::blocking(move || -> Result<_, git::TaskFailed> {
        Ok(read_mirror(
            &mirrors,
            &owned_repo,
            &url,
            token,
            &branch,
            &commit,
        ))
    });
    let (mirror, config) = read
        .await
        .map_err(|err| BumpFailure::interrupted(repo, err))??;
    Ok(Head {
        repository,
        mirror,
        commit,
        config,
    })
}

/// The mirror of `url` holding `commit` (fetched only when it lacks it), and the config
/// repo's `.github/slipway.yml` at that commit.
fn read_mirror(
    mirrors: &Mirrors,
    repo: &RepoRef,
    url: &str,
    token: InstallationToken,
    branch: &str,
    commit: &CommitId,
) -> Result<(LocalRepo, ConfigRepoConfig), BumpFailure> {
    let git_failure = |err| BumpFailure::git(repo, err);
    let remote = Remote::new(url).with_token(Token::new(token.token));
    let mirror = mirrors
        .holding(&remote, &[(commit, &format!("the head of {branch}"))])
        .map_err(git_failure)?;
    let tree = mirror.tree_at(&commit.to_hex()).map_err(git_failure)?;
    let config = config::read_config_repo_at(&tree).map_err(|err| {
        tracing::warn!(repo = %repo, error = %err, "the config repo's .github/slipway.yml cannot be read; no bump lands");
        BumpFailure::Config {
            repo: repo.clone(),
            error: Arc::new(err),
        }
    })?;
    Ok((mirror, config))
}

/// An environment's files as read once for a batch, or why they could not be.
type EnvironmentFiles = Result<Arc<Vec<(String, String)>>, Arc<EnvironmentFilesError>>;

/// Sorts each order against the tree at `commit`: no such environment, not allowed by its
/// `bumped_by:`, locked, not referenced, already current, or its planned edits.
fn triage(
    repo: &RepoRef,
    mirror: &LocalRepo,
    commit: &CommitId,
    config: &ConfigRepoConfig,
    locks: &[EnvironmentLock],
    orders: &[BumpOrder],
) -> Vec<Triage> {
    let tree = match mirror.tree_at(&commit.to_hex()) {
        Ok(tree) => tree,
        Err(err) => {
            let failure = BumpFailure::git(repo, err);
            return orders
                .iter()
                .map(|_| Triage::Answer(Err(failure.clone())))
                .collect();
        }
    };
    // Each environment's files are read once per batch, however many orders it has.
    let mut files: HashMap<String, EnvironmentFiles> = HashMap::new();
    orders
        .iter()
        .map(|order| {
            let source = order.source.repo.to_string();
            let Some(env) = config.environment(&order.environment) else {
                // The names of a config repo's environments are for those it lets bump it.
                let listed = config
                    .environments
                    .values()
                    .any(|env| env.allows_bump(&order.image, &source));
                if !listed {
                    return Triage::Answer(Ok(BumpLanded::NotAllowed {
                        environment: order.environment.clone(),
                        image: order.image.clone(),
                        source: order.source.repo.clone(),
                    }));
                }
                return Triage::Answer(Err(BumpFailure::NoEnvironment {
                    repo: repo.clone(),
                    environment: order.environment.clone(),
                    declared: config.declared_names(),
                }));
            };
            // Read from the config repo's default branch: an app repo cannot name itself.
            if !env.allows_bump(&order.image, &source) {
                tracing::warn!(
                    repo = %repo,
                    environment = %env.name,
                    image = %order.image,
                    source = %order.source.repo,
                    "bump refused: the source repository is not in bumped_by"
                );
                return Triage::Answer(Ok(BumpLanded::NotAllowed {
                    environment: env.name.clone(),
                    image: order.image.clone(),
                    source: order.source.repo.clone(),
                }));
            }
            if let Some(lock) = locks.iter().find(|l| l.environment == env.name) {
                return Triage::Answer(Ok(BumpLanded::Locked {
                    by: lock.locked_by.clone(),
                    reason: lock.reason.clone(),
                }));
            }
            let env_files = files
                .entry(env.name.clone())
                .or_insert_with(|| {
                    bump::files_to_bump(&tree, env)
                        .map(Arc::new)
                        .map_err(Arc::new)
                })
                .clone();
            let env_files = match env_files {
                Ok(found) => found,
                Err(error) => {
                    return Triage::Answer(Err(BumpFailure::Files {
                        repo: repo.clone(),
                        environment: env.name.clone(),
                        error,
                    }))
                }
            };
            let request = match &order.digest {
                Some(digest) => BumpRequest::pinned(&order.image, &order.tag, digest),
                None => BumpRequest::tag(&order.image, &order.tag),
            };
            match bump::plan_for(&tree, env, &env_files, &[request]) {
                Err(error) => Triage::Answer(Err(BumpFailure::Bump {
                    repo: repo.clone(),
                    environment: env.name.clone(),
                    error: Arc::new(error),
                })),
                Ok(edits) if edits.is_empty() => Triage::Answer(Ok(BumpLanded::AlreadyCurrent)),
                Ok(edits) => Triage::Plan(Planned {
                    environment: env.name.clone(),
                    required_approvals: env.required_approvals,
                    edits,
                    files: env_files,
                }),
            }
        })
        .collect()
}

/// The commit the environment runs the order's image from, when that is a commit of the
/// order's source repository that descends from the order's commit: bumping would replace a
/// newer build with an older one. `None` when the running tag is not such a commit (a release
/// name, a commit the source repository does not have, or the order's own commit).
async fn newer_running(
    shared: &Shared,
    order: &BumpOrder,
    planned: &Planned,
) -> Result<Option<String>, BumpFailure> {
    let running: Vec<CommitId> = planned
        .edits
        .iter()
        .filter_map(|edit| ImageRef::parse(&edit.old).tag.map(str::to_owned))
        .filter(|tag| tag != &order.tag && looks_like_commit(tag))
        .filter_map(|tag| tag.parse().ok())
        .collect();
    if running.is_empty() {
        return Ok(None);
    }
    let source = &order.source.repo;
    let ordered: CommitId = order.source.sha.parse().map_err(|err: GitError| {
        BumpFailure::source(source, err.to_string(), FailureKind::Internal)
    })?;
    let installation = shared.installation(source).await.map_err(|err| match err {
        BumpFailure::NotInstalled { .. } => BumpFailure::source(
            source,
            "the GitHub App is not installed on it",
            FailureKind::NotFound,
        ),
        other => BumpFailure::source(source, other.to_string(), other.kind()),
    })?;
    let github_failure = |action: &str, err: GitHubError| {
        BumpFailure::source(source, format!("{action}: {err}"), err.kind())
    };
    let repository = shared
        .github
        .get_repository(installation, source)
        .await
        .map_err(|err| github_failure("reading the repository", err))?;
    let token = shared
        .github
        .installation_token(installation)
        .await
        .map_err(|err| github_failure("getting an installation token", err))?;
    let mirrors = shared.mirrors.clone();
    let found = git::blocking(move || -> Result<_, git::TaskFailed> {
        Ok(descendant_of(
            &mirrors,
            &repository.clone_url,
            token,
            &ordered,
            &running,
        ))
    })
    .await
    .map_err(|err| BumpFailure::source(source, err.to_string(), FailureKind::Panic))?
    .map_err(|err| BumpFailure::source(source, err.to_string(), err.kind()))?;
    Ok(found.map(|commit| commit.to_hex()))
}

/// The first of `running` that the source repository has and that descends from `ordered`.
/// The mirror is fetched when it lacks the ordered commit, and once more when it lacks a
/// running one (built after the mirror was last fetched).
fn descendant_of(
    mirrors: &Mirrors,
    url: &str,
    token: InstallationToken,
    ordered: &CommitId,
    running: &[CommitId],
) -> Result<Option<CommitId>, GitError> {
    let remote = Remote::new(url).with_token(Token::new(token.token));
    let mut mirror = mirrors.holding(&remote, &[(ordered, "the built commit")])?;
    if running.iter().any(|commit| !mirror.has_commit(commit)) {
        mirror = mirrors.fetch(&remote)?;
    }
    for commit in running {
        if mirror.has_commit(commit) && mirror.is_ancestor(ordered, commit)? {
            return Ok(Some(*commit));
        }
    }
    Ok(None)
}

/// A full commit id in hex (what builds tag their images with).
fn looks_like_commit(tag: &str) -> bool {
    matches!(tag.len(), 40 | 64) && tag.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::looks_like_commit;

    #[test]
    fn only_full_lowercase_commit_ids_are_taken_for_commits() {
        assert!(looks_like_commit(
            "0123456789abcdef0123456789abcdef01234567"
        ));
        assert!(looks_like_commit(&"ab".repeat(32)));
        assert!(!looks_like_commit("0123456"), "a short sha is ambiguous");
        assert!(!looks_like_commit(
            "0123456789ABCDEF0123456789ABCDEF01234567"
        ));
        assert!(!looks_like_commit("1.4.0"));
        assert!(!looks_like_commit(
            "v0123456789abcdef0123456789abcdef0123456"
        ));
    }
}

//! Which environments a merge deploys: those whose rendered objects differ between the merge
//! commit and its first parent (what the default branch held before), each with its render
//! at the merge commit, or the error that render gave.
//!
//! `.github/slipway.yml` is read at the first parent, never at the merge: a pull request
//! cannot lower its own bar. Its environments, their paths, their approval gate and their
//! policy are the ones the change was reviewed under; a change to the file takes effect from
//! the next merge on. An environment the change adds is therefore not deployed by its own
//! merge, and an environment whose directory the change deletes renders as no objects.
//!
//! Rendering both sides and skipping environments whose inputs did not change is the
//! preview's own code ([`crate::diff::compare::render_both`]), so what a preview showed as
//! changed is what a merge deploys.

use crate::config::{self, ConfigRepoConfig, Environment, ReadError};
use crate::diff::compare::{self, BothSides, RenderFailure};
use crate::diff::{self, FingerprintKey};
use crate::git::{CommitId, GitError, LocalRepo};
use crate::policy::{self, Violation};
use crate::render::K8sObject;

/// Why the affected environments could not be worked out at all.
#[derive(Debug, thiserror::Error)]
pub enum AffectedError {
    /// `.github/slipway.yml` at the first parent is missing ([`ReadError::NotFound`]: not a
    /// config repo) or not valid: there is nothing trustworthy to deploy by.
    #[error(transparent)]
    Config(#[from] ReadError),
    #[error(transparent)]
    Git(#[from] GitError),
}

/// An environment the merge changes.
#[derive(Debug)]
pub struct AffectedEnvironment {
    /// As declared at the first parent.
    pub environment: Environment,
    /// Its objects at the merge commit — what a deploy applies — or why they did not render.
    pub render: Result<Vec<K8sObject>, RenderFailure>,
    /// The merge's objects the environment's policy refuses (none when it did not render).
    pub violations: Vec<Violation>,
}

/// What a merge deploys, and the configuration that decided it.
#[derive(Debug)]
pub struct Affected {
    /// `.github/slipway.yml` at the first parent: the environments, gates and policy in force.
    pub config: ConfigRepoConfig,
    /// The environments whose render changed, in name order.
    pub environments: Vec<AffectedEnvironment>,
}

impl Affected {
    pub fn names(&self) -> Vec<&str> {
        self.environments
            .iter()
            .map(|a| a.environment.name.as_str())
            .collect()
    }
}

/// The environments `merge` changes relative to `first_parent`, in the mirror `repo`.
///
/// An environment is affected when its render differs (added, removed or changed objects,
/// compared as the preview compares them), when it does not render at the merge (reported,
/// never skipped: the deploy must say so), or when it renders at the merge but did not at
/// the first parent (it is fixed).
pub fn affected_environments(
    repo: &LocalRepo,
    merge: &CommitId,
    first_parent: &CommitId,
) -> Result<Affected, AffectedError> {
    let (merge, parent) = (merge.to_hex(), first_parent.to_hex());
    let config = config::read_config_repo_at(&repo.tree_at(&parent)?)?;
    // Only whether the two sides are equal matters here, and Secret values are fingerprinted
    // with one key on both sides, so any key gives the same answer; none leaves this call.
    let key = FingerprintKey::generate();
    let environments: Vec<&Environment> = config.environments.values().collect();
    let found = std::thread::scope(|scope| {
        let handles: Vec<_> = environments
            .iter()
            .map(|env| {
                let (merge, parent, key) = (&merge, &parent, &key);
                scope.spawn(move || {
                    let sides = compare::render_both(repo, parent, merge, env)?;
                    Ok::<_, GitError>(sides.and_then(|sides| affected(env, sides, key)))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    Err(GitError::Object {
                        context: "a render thread".to_string(),
                        source: "it panicked".into(),
                    })
                })
            })
            .collect::<Result<Vec<_>, GitError>>()
    })?;
    Ok(Affected {
        environments: found.into_iter().flatten().collect(),
        config,
    })
}

/// `env` as the merge leaves it, if the merge changed it.
fn affected(
    env: &Environment,
    sides: BothSides,
    key: &FingerprintKey,
) -> Option<AffectedEnvironment> {
    let render = match (sides.base, sides.head) {
        (_, Err(failure)) => Err(failure),
        (Err(_), Ok(objects)) => Ok(objects),
        (Ok(before), Ok(after)) => {
            if !diff::diff_environment(&env.name, &before, &after, key).has_changes() {
                return None;
            }
            Ok(after)
        }
    };
    let violations = match &render {
        // Kinds of unknown scope are judged by the deploy, with the cluster's discovery.
        Ok(objects) => policy::check_known(env, objects),
        Err(_) => Vec::new(),
    };
    Some(AffectedEnvironment {
        environment: env.clone(),
        render,
        violations,
    })
}

/// Whether a push straight to the default branch (no pull request, so no reviews) deploys
/// `environment`: only when it requires no approvals.
pub fn direct_push_deploys(environment: &Environment) -> bool {
    environment.required_approvals == 0
}

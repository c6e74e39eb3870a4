//! Which environments a change deploys: those whose rendered objects differ between the
//! changed commit and the commit before it (what the default branch held before), each with
//! its render at the changed commit, or the error that render gave.
//!
//! Two configurations meet here. The bar — which environments exist, their approval gate
//! and their policy (`allowed_namespaces`, `allowed_cluster_scoped`) — is read from
//! `.github/slipway.yml` before the change, never at the change: a pull request cannot lower
//! its own bar, nor use a policy it widens in the same merge. What renders is each commit's
//! own: the commit before is rendered with its own settings of the environment, the change
//! with the change's (`path`, `namespace`, `helm`), so a configuration change that moves
//! objects is a change like any other, and is deployed by its own merge.
//!
//! An environment the change adds has no bar before the change: its own merge does not deploy
//! it; it deploys from the next change to it on. An environment the change removes is no
//! longer deployed: its objects stay in the cluster as they were last deployed. A change whose
//! `.github/slipway.yml` does not parse deploys nothing: each environment reports it.
//!
//! Rendering both sides and skipping environments whose inputs did not change is the
//! preview's own code ([`crate::diff::compare::render_both`]), so what a preview showed as
//! changed is what a merge deploys.

use crate::config::{self, ConfigRepoConfig, Environment, ReadError, CONFIG_PATH};
use crate::diff::compare::{self, At, BothSides, RenderFailure, Side};
use crate::diff::{self, FingerprintKey};
use crate::git::{CommitId, GitError, LocalRepo};
use crate::policy::{self, Violation};
use crate::render::{K8sObject, RenderError, TreeSource};

/// Why the affected environments could not be worked out at all.
#[derive(Debug, thiserror::Error)]
pub enum AffectedError {
    /// `.github/slipway.yml` before the change is missing ([`ReadError::NotFound`]: not a
    /// config repo) or not valid: there is nothing trustworthy to deploy by.
    #[error(transparent)]
    Config(#[from] ReadError),
    #[error(transparent)]
    Git(#[from] GitError),
}

/// An environment the merge changes.
#[derive(Debug)]
pub struct AffectedEnvironment {
    /// As declared before the change: the gate and the policy in force.
    pub environment: Environment,
    /// Its objects at the changed commit, rendered with that commit's own settings of it — what a deploy applies — or why they did not render.
    pub render: Result<Vec<K8sObject>, RenderFailure>,
    /// The change's objects the policy before the change refuses (none when it did not
    /// render).
    pub violations: Vec<Violation>,
}

/// What a merge deploys, and the configuration that decided it.
#[derive(Debug)]
pub struct Affected {
    /// `.github/slipway.yml` before the change: the environments, gates and policy in force.
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

/// The environments `change` alters relative to `before`, in the mirror `repo`.
///
/// An environment is affected when its render differs (added, removed or changed objects,
/// compared as the preview compares them, each side with its own settings), when it does not
/// render at the change (reported, never skipped: the deploy must say so), or when it renders
/// at the change but did not before (it is fixed).
pub fn affected_environments(
    repo: &LocalRepo,
    change: &CommitId,
    before: &CommitId,
    known: &config::KnownClusters,
) -> Result<Affected, AffectedError> {
    let (change, before) = (change.to_hex(), before.to_hex());
    let config = config::read_config_repo_at(&repo.tree_at(&before)?)?;
    let changed = declared_at(&repo.tree_at(&change)?, known)?;
    // Only whether the two sides are equal matters here, and Secret values are fingerprinted
    // with one key on both sides, so any key gives the same answer; none leaves this call.
    let key = FingerprintKey::generate();
    let environments: Vec<&Environment> = config.environments.values().collect();
    let found = std::thread::scope(|scope| {
        let handles: Vec<_> = environments
            .iter()
            .map(|env| {
                let (change, before, key, changed) = (&change, &before, &key, &changed);
                scope.spawn(move || -> Result<Option<AffectedEnvironment>, GitError> {
                    let own = match changed {
                        Declared::Config(config) => match config.environment(&env.name) {
                            Some(own) => own,
                            // Removed by the change: no longer deployed.
                            None => return Ok(None),
                        },
                        Declared::Nothing => return Ok(None),
                        Declared::Broken {
                            line,
                            column,
                            message,
                        } => {
                            let error = RenderError::At {
                                file: CONFIG_PATH.to_string(),
                                line: *line,
                                column: *column,
                                message: message.clone(),
                            };
                            return Ok(Some(unreadable(env, repo, change, error)?));
                        }
                    };
                    let base = At {
                        rev: before,
                        env: Some(env),
                    };
                    let head = At {
                        rev: change,
                        env: Some(own),
                    };
                    let sides = compare::render_both(repo, base, head)?;
                    Ok(sides.and_then(|sides| affected(env, sides, key)))
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

/// What `.github/slipway.yml` declares at a commit, for rendering it.
enum Declared {
    Config(ConfigRepoConfig),
    /// No file, or one without environments: nothing is deployed from here.
    Nothing,
    /// The file does not parse: where its first error is, and what it says.
    Broken {
        line: usize,
        column: usize,
        message: String,
    },
}

fn declared_at(
    tree: &dyn TreeSource,
    known: &config::KnownClusters,
) -> Result<Declared, AffectedError> {
    match config::read_at(tree, known) {
        Ok(parsed) => Ok(parsed
            .config_repo
            .map_or(Declared::Nothing, Declared::Config)),
        Err(ReadError::NotFound { .. }) => Ok(Declared::Nothing),
        Err(err) => match err.config_errors() {
            Some(errors) => {
                let first = errors.first();
                Ok(Declared::Broken {
                    line: first.line(),
                    column: first.column(),
                    message: format!(
                        "{}; slipway renders an environment with the settings of the commit it deploys",
                        first.message()
                    ),
                })
            }
            None => Err(err.into()),
        },
    }
}

/// `env`, which the change's configuration cannot say how to render.
fn unreadable(
    env: &Environment,
    repo: &LocalRepo,
    change: &str,
    error: RenderError,
) -> Result<AffectedEnvironment, GitError> {
    Ok(AffectedEnvironment {
        environment: env.clone(),
        render: Err(RenderFailure {
            environment: env.name.clone(),
            side: Side::Head,
            commit: repo.tree_at(change)?.describe(),
            error,
        }),
        violations: Vec::new(),
    })
}

/// `name` as the configuration at `sha` declares it, for rendering `sha`: the commit's own
/// `path`, `namespace` and `helm` settings. What a deploy, its rollback and a drift check
/// render with; the gate and the policy stay those of the configuration before the change.
pub fn environment_at(repo: &LocalRepo, sha: &str, name: &str) -> Result<Environment, String> {
    let tree = repo.tree_at(sha).map_err(|err| err.to_string())?;
    let config = config::read_config_repo_at(&tree).map_err(|err| {
        format!(
            "{CONFIG_PATH} at {} cannot say how to render `{name}`: {err}",
            tree.describe()
        )
    })?;
    config.environment(name).cloned().ok_or_else(|| {
        format!(
            "environment `{name}` is not declared in {CONFIG_PATH} at {}",
            tree.describe()
        )
    })
}

/// `env` as the change leaves it, if the change altered its render.
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

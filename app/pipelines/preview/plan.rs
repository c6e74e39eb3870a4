//! What each environment of a preview is compared with: which commit its diff starts from,
//! and with which settings each side renders it.
//!
//! Each side renders the environment as that side's own `.github/slipway.yml` declares it
//! (`path`, `namespace`, `helm`), so a configuration change shows as what it does to the
//! objects. The policy the head is checked against, and the approvals shown, are the base's
//! (the configuration before the change), as at deploy.
//!
//! On a pull request an environment's diff starts from its last successfully deployed
//! commit when the head holds it: what merging would change in the cluster, including what
//! reached the default branch since that deploy without being deployed. Otherwise it starts
//! from the merge base. The command line, which has no deploy history, starts from the base
//! it is given.

use std::collections::BTreeMap;

use crate::config::{self, ConfigRepoConfig, Environment, ReadError};
use crate::diff::compare::{At, Plan};
use crate::git::{CommitId, GitError, LocalRepo};
use crate::report::preview::Membership;

/// An environment's last successful deploy, as the deploy history has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastDeploy {
    pub commit: CommitId,
    /// When it finished, in milliseconds since the epoch.
    pub finished_at: Option<i64>,
}

/// Where an environment's diff starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The base the caller gave (the command line's `--base`).
    Given,
    /// The environment's last successful deploy, which the head holds.
    Deployed(LastDeploy),
    /// The merge base, `deployed` being the last successful deploy the head does not hold
    /// (`None`: nothing deployed is on record).
    MergeBase { deployed: Option<LastDeploy> },
}

/// One environment's comparison.
#[derive(Debug, Clone)]
pub struct EnvironmentPlan {
    /// As the base declares it (as the head does for an environment the change adds): the
    /// policy and the approvals.
    pub policy: Environment,
    /// The commit its diff starts from, and why that one.
    pub from: CommitId,
    pub start: Start,
    /// As `from` declares it (`None`: not declared there).
    pub base_env: Option<Environment>,
    /// As the head declares it; the base's declaration when the head's file does not parse
    /// (that is reported on its own).
    pub head_env: Environment,
}

/// Every environment's comparison.
#[derive(Debug, Clone)]
pub struct Planned {
    head: String,
    from: Vec<String>,
    pub environments: Vec<EnvironmentPlan>,
    /// Environments the change adds or removes, in name order; a removed one is not compared.
    pub membership: Vec<(String, Membership)>,
}

impl Planned {
    /// The plans [`crate::diff::compare::compare`] takes, in the order of `environments`.
    pub fn plans(&self) -> Vec<Plan<'_>> {
        self.environments
            .iter()
            .zip(&self.from)
            .map(|(env, from)| Plan {
                base: At {
                    rev: from,
                    env: env.base_env.as_ref(),
                },
                head: At {
                    rev: &self.head,
                    env: Some(&env.head_env),
                },
                policy: &env.policy,
            })
            .collect()
    }

    /// The environments as the head renders them.
    pub fn head_environments(&self) -> Vec<Environment> {
        self.environments
            .iter()
            .map(|env| env.head_env.clone())
            .collect()
    }

    /// Keeps only the environments `keep` says yes to.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        let (mut environments, mut from) = (Vec::new(), Vec::new());
        for (env, rev) in self.environments.drain(..).zip(self.from.drain(..)) {
            if keep(&env.policy.name) {
                environments.push(env);
                from.push(rev);
            }
        }
        self.environments = environments;
        self.from = from;
        self.membership.retain(|(name, _)| keep(name));
    }
}

/// Plans the comparison of `declared` (the base's environments) between `base` and `head`.
/// An environment whose last deploy is in `deployed` starts from it when `head` holds it;
/// any other starts from `base` (`start` says why: [`Start::Given`] or the merge base).
pub fn plan(
    repo: &LocalRepo,
    declared: &[Environment],
    base: &CommitId,
    head: &CommitId,
    deployed: &BTreeMap<String, LastDeploy>,
    given: bool,
    known: &crate::config::KnownClusters,
) -> Result<Planned, GitError> {
    let mut planned = Planned {
        head: head.to_hex(),
        from: Vec::new(),
        environments: Vec::new(),
        membership: Vec::new(),
    };
    // A base that declares nothing (its file does not parse) gives nothing to compare by.
    if declared.is_empty() {
        return Ok(planned);
    }
    let head_declared = declared_at(repo, head, known)?;
    let mut configs: BTreeMap<CommitId, Option<Option<ConfigRepoConfig>>> = BTreeMap::new();
    let mut config_at = |commit: &CommitId| -> Result<Option<Option<ConfigRepoConfig>>, GitError> {
        if let Some(found) = configs.get(commit) {
            return Ok(found.clone());
        }
        let found = declared_at(repo, commit, known)?;
        configs.insert(*commit, found.clone());
        Ok(found)
    };
    let fallback = || {
        if given {
            Start::Given
        } else {
            Start::MergeBase { deployed: None }
        }
    };

    for policy in declared {
        let head_env = match &head_declared {
            // The head's file does not parse: that is reported; render as the base declares.
            None => policy.clone(),
            Some(config) => match config.as_ref().and_then(|c| c.environment(&policy.name)) {
                Some(env) => env.clone(),
                None => {
                    planned
                        .membership
                        .push((policy.name.clone(), Membership::Removed));
                    continue;
                }
            },
        };
        let (from, start) = match deployed.get(&policy.name) {
            Some(last)
                if repo.has_commit(&last.commit) && repo.is_ancestor(&last.commit, head)? =>
            {
                (last.commit, Start::Deployed(last.clone()))
            }
            Some(last) => (
                *base,
                Start::MergeBase {
                    deployed: Some(last.clone()),
                },
            ),
            None => (*base, fallback()),
        };
        let base_env = match config_at(&from)? {
            Some(config) => config.and_then(|c| c.environment(&policy.name).cloned()),
            None => Some(policy.clone()),
        };
        planned.from.push(from.to_hex());
        planned.environments.push(EnvironmentPlan {
            policy: policy.clone(),
            from,
            start,
            base_env,
            head_env,
        });
    }
    // An environment the change declares has no policy before it: the preview shows what
    // its first deploy would apply, checked against its own.
    if let Some(Some(config)) = &head_declared {
        for env in config.environments.values() {
            if declared.iter().any(|d| d.name == env.name) {
                continue;
            }
            planned
                .membership
                .push((env.name.clone(), Membership::Added));
            let base_env = match config_at(base)? {
                Some(config) => config.and_then(|c| c.environment(&env.name).cloned()),
                None => None,
            };
            planned.from.push(base.to_hex());
            planned.environments.push(EnvironmentPlan {
                policy: env.clone(),
                from: *base,
                start: fallback(),
                base_env,
                head_env: env.clone(),
            });
        }
    }
    planned.membership.sort();
    Ok(planned)
}

/// The environments `.github/slipway.yml` declares at `commit`: `Some(None)` when it declares
/// none (no file, or one of an app repo); `None` when the file does not parse.
fn declared_at(
    repo: &LocalRepo,
    commit: &CommitId,
    known: &crate::config::KnownClusters,
) -> Result<Option<Option<ConfigRepoConfig>>, GitError> {
    let tree = repo.tree_at(&commit.to_hex())?;
    Ok(match config::read_at(&tree, known) {
        Ok(parsed) => Some(parsed.config_repo),
        Err(ReadError::NotFound { .. }) => Some(None),
        Err(ReadError::Source { source, at }) => {
            return Err(GitError::Object {
                context: format!("reading the configuration at {at}"),
                source: Box::new(source),
            })
        }
        Err(_) => None,
    })
}

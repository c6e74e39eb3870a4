//! Rendering every environment at two commits, concurrently, and diffing each: the core that
//! `slipway preview` and the pull-request preview share.
//!
//! Each side is rendered with the environment as that side's own `.github/slipway.yml`
//! declares it (its `path`, `namespace`, `helm` settings): a change to those is a change of
//! what renders, shown like any other. The head's objects are checked against the policy the
//! caller gives, which is the configuration before the change, never the change's own.
//!
//! One thread per environment, and within it one per side. An environment declared alike at
//! both sides whose inputs are byte-identical at both commits (see [`inputs`]) cannot render
//! differently: it is rendered once, or not at all, as the caller asks. A render error is an outcome of its environment,
//! not a failure of the whole comparison: the others are still compared and reported.

use crate::config::Environment;
use crate::diff::{self, EnvironmentDiff, FingerprintKey};
use crate::git::{GitError, LocalRepo};
use crate::policy::{self, Violation};
use crate::render::{self, EntryKind, K8sObject, RenderError, SourceError, TreeSource};

/// Which commit of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Base,
    Head,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Base => "base",
            Side::Head => "head",
        }
    }
}

/// What to do with an environment whose inputs did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untouched {
    /// Render it once and report its objects as unchanged.
    RenderOnce,
    /// Do not render it: it is [`EnvironmentOutcome::Untouched`].
    Skip,
}

/// An environment that did not render at one side.
#[derive(Debug)]
pub struct RenderFailure {
    pub environment: String,
    pub side: Side,
    /// How the commit is shown in messages (`commit 3f2a1b0c9d8e`).
    pub commit: String,
    pub error: RenderError,
}

impl RenderFailure {
    /// `environment `dev` at commit 3f2a1b0c9d8e`.
    pub fn context(&self) -> String {
        format!("environment `{}` at {}", self.environment, self.commit)
    }
}

/// The result of comparing one environment.
#[derive(Debug)]
pub enum EnvironmentOutcome {
    /// Its inputs and settings are the same at both commits; not rendered.
    Untouched {
        environment: String,
    },
    /// Rendered at both sides and diffed; `violations` are the head's objects the
    /// environment's policy refuses ([`policy::check`]).
    Compared {
        diff: EnvironmentDiff,
        violations: Vec<Violation>,
    },
    Failed(RenderFailure),
}

impl EnvironmentOutcome {
    pub fn environment(&self) -> &str {
        match self {
            EnvironmentOutcome::Untouched { environment } => environment,
            EnvironmentOutcome::Compared { diff, .. } => &diff.environment,
            EnvironmentOutcome::Failed(failure) => &failure.environment,
        }
    }
}

/// One side of a comparison: a commit and the environment as that commit's own
/// `.github/slipway.yml` declares it (`None`: not declared there, so no objects).
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub rev: &'a str,
    pub env: Option<&'a Environment>,
}

/// What comparing one environment needs: each side with its own configuration, and the
/// policy the head's objects are checked against (the configuration before the change,
/// never the change's own).
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    pub base: At<'a>,
    pub head: At<'a>,
    pub policy: &'a Environment,
}

impl Plan<'_> {
    fn name(&self) -> &str {
        &self.policy.name
    }
}

enum SideError {
    Git(GitError),
    Render(Box<RenderFailure>),
}

/// Compares every planned environment concurrently; outcomes in the order of `plans`. Only
/// reading the repository itself fails the whole call. Secret values are fingerprinted
/// with `key`.
pub fn compare(
    repo: &LocalRepo,
    plans: &[Plan<'_>],
    untouched: Untouched,
    key: &FingerprintKey,
) -> Result<Vec<EnvironmentOutcome>, GitError> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = plans
            .iter()
            .map(|plan| scope.spawn(move || compare_one(repo, plan, untouched, key)))
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
            .collect()
    })
}

fn compare_one(
    repo: &LocalRepo,
    plan: &Plan<'_>,
    untouched: Untouched,
    key: &FingerprintKey,
) -> Result<EnvironmentOutcome, GitError> {
    let Some(sides) = render_both(repo, plan.base, plan.head)? else {
        return match untouched {
            Untouched::Skip => Ok(EnvironmentOutcome::Untouched {
                environment: plan.name().to_owned(),
            }),
            Untouched::RenderOnce => Ok(
                match settle(render_side(repo, plan.head, Side::Head, plan.name()))? {
                    Ok(objects) => compared(plan.policy, &objects, &objects, key),
                    Err(failure) => EnvironmentOutcome::Failed(failure),
                },
            ),
        };
    };
    // A head that does not render is the change's own problem: report it first.
    Ok(match (sides.base, sides.head) {
        (_, Err(head_error)) => EnvironmentOutcome::Failed(head_error),
        (Err(base_error), Ok(_)) => EnvironmentOutcome::Failed(base_error),
        (Ok(before), Ok(after)) => compared(plan.policy, &before, &after, key),
    })
}

/// One environment rendered at both commits; a side that does not render is its
/// [`RenderFailure`].
#[derive(Debug)]
pub struct BothSides {
    pub base: Result<Vec<K8sObject>, RenderFailure>,
    pub head: Result<Vec<K8sObject>, RenderFailure>,
}

/// Renders an environment at `base` and at `head` (concurrently), each side with its own
/// configuration, as [`compare`] does; `None`, without rendering, when both sides declare it
/// with the same render settings ([`same_rendering`]) and its inputs are byte-identical at
/// both, so it cannot render differently. Only reading the repository itself is an error.
pub fn render_both(
    repo: &LocalRepo,
    base: At<'_>,
    head: At<'_>,
) -> Result<Option<BothSides>, GitError> {
    if let (Some(base_env), Some(head_env)) = (base.env, head.env) {
        if same_rendering(base_env, head_env) {
            let base_inputs = inputs(&repo.tree_at(base.rev)?, base_env);
            let head_inputs = inputs(&repo.tree_at(head.rev)?, head_env);
            if base_inputs.is_some() && base_inputs == head_inputs {
                return Ok(None);
            }
        }
    }
    let name = head
        .env
        .or(base.env)
        .map(|env| env.name.clone())
        .unwrap_or_default();
    std::thread::scope(|scope| {
        let head_render = scope.spawn(|| render_side(repo, head, Side::Head, &name));
        let before = render_side(repo, base, Side::Base, &name);
        let after = head_render.join().unwrap_or_else(|_| {
            Err(SideError::Git(GitError::Object {
                context: "a render thread".to_string(),
                source: "it panicked".into(),
            }))
        });
        Ok(Some(BothSides {
            base: settle(before)?,
            head: settle(after)?,
        }))
    })
}

/// Whether environment `name` is the same at `commit` as at `parent`: declared alike in both
/// `.github/slipway.yml` (every setting, the gate included) and reading byte-identical inputs,
/// so `commit` brought nothing to it. Anything that cannot be told for sure — a file that does
/// not parse, inputs that cannot be bounded — counts as a change.
pub fn environment_unchanged(
    repo: &LocalRepo,
    commit: &str,
    parent: &str,
    name: &str,
) -> Result<bool, GitError> {
    let (commit_tree, parent_tree) = (repo.tree_at(commit)?, repo.tree_at(parent)?);
    let declared = |tree: &dyn TreeSource| match crate::config::read_config_repo_at(tree) {
        Ok(config) => Ok(config.environment(name).cloned()),
        Err(crate::config::ReadError::NotFound { .. }) => Ok(None),
        Err(_) => Err(()),
    };
    let (Ok(at_commit), Ok(at_parent)) = (declared(&commit_tree), declared(&parent_tree)) else {
        return Ok(false);
    };
    Ok(match (at_commit, at_parent) {
        (None, None) => true,
        (Some(a), Some(b)) if a == b => {
            let here = inputs(&commit_tree, &a);
            here.is_some() && here == inputs(&parent_tree, &b)
        }
        _ => false,
    })
}

/// Whether `a` and `b` render the same files the same way: the settings rendering reads
/// (`path`, `namespace`, `helm`), not the gate, the policy or how a deploy goes.
pub fn same_rendering(a: &Environment, b: &Environment) -> bool {
    a.name == b.name
        && a.path == b.path
        && a.namespace == b.namespace
        && a.helm_settings() == b.helm_settings()
}

/// A side's render, or its render failure; a repository that cannot be read is the error.
fn settle(
    side: Result<Vec<K8sObject>, SideError>,
) -> Result<Result<Vec<K8sObject>, RenderFailure>, GitError> {
    match side {
        Ok(objects) => Ok(Ok(objects)),
        Err(SideError::Render(failure)) => Ok(Err(*failure)),
        Err(SideError::Git(err)) => Err(err),
    }
}

/// The diff, and what `policy` refuses of the head's objects (what would deploy).
fn compared(
    policy: &Environment,
    before: &[K8sObject],
    after: &[K8sObject],
    key: &FingerprintKey,
) -> EnvironmentOutcome {
    EnvironmentOutcome::Compared {
        diff: diff::diff_environment(&policy.name, before, after, key),
        violations: policy::check(policy, after),
    }
}

/// One environment at one commit, with that commit's own settings of it; an environment
/// the commit does not declare, or whose directory does not exist there (created or deleted
/// by the change), has no objects.
fn render_side(
    repo: &LocalRepo,
    side: At<'_>,
    which: Side,
    name: &str,
) -> Result<Vec<K8sObject>, SideError> {
    let Some(env) = side.env else {
        return Ok(Vec::new());
    };
    let tree = repo.tree_at(side.rev).map_err(SideError::Git)?;
    let failure = |error: RenderError| {
        SideError::Render(Box::new(RenderFailure {
            environment: name.to_owned(),
            side: which,
            commit: tree.describe(),
            error,
        }))
    };
    match tree.entry(&env.path) {
        Ok(None) | Err(SourceError::NotFound { .. }) => return Ok(Vec::new()),
        Ok(Some(_)) => {}
        Err(err) => return Err(failure(RenderError::Source(err))),
    }
    render::render_environment(&tree, env).map_err(failure)
}

/// A fingerprint of everything rendering `env` from `source` can read, or `None` when that
/// cannot be bounded (a remote kustomize resource, a symlink).
///
/// A plain environment reads its directory. A kustomize build with the load restrictor on
/// reads files only inside the directory of each kustomization it loads, and loads other
/// directories only through `resources`, `bases` and `components`: so the inputs are the
/// environment's directory and, transitively, every directory those fields name. A Helm
/// chart reads its directory and the environment's `helm.values` files.
fn inputs(source: &dyn TreeSource, env: &Environment) -> Option<[u8; 32]> {
    use sha2::{Digest, Sha256};
    use std::collections::{BTreeMap, BTreeSet};

    let mut files: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    let mut visited = BTreeSet::new();
    let mut pending = vec![crate::render::paths::normalize(&env.path)?];
    while let Some(dir) = pending.pop() {
        if !visited.insert(dir.clone()) {
            continue;
        }
        match source.entry(&dir).ok()? {
            Some(EntryKind::Dir) => {}
            None => {
                files.insert(dir, None);
                continue;
            }
            Some(_) => return None,
        }
        for entry in source.list(&dir).ok()? {
            match entry.kind {
                EntryKind::Dir => {}
                EntryKind::File => {
                    let bytes = source.read_file(&entry.path).ok()?;
                    files.insert(entry.path, Some(bytes));
                }
                EntryKind::Symlink { .. } => return None,
            }
        }
        let kustomization = render::KUSTOMIZATION_FILES
            .iter()
            .find_map(|name| files.get(&format!("{dir}/{name}")).cloned().flatten());
        let Some(kustomization) = kustomization else {
            continue;
        };
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_slice(&kustomization).ok()?;
        for field in ["resources", "bases", "components"] {
            let Some(items) = value.get(field) else {
                continue;
            };
            for item in items.as_sequence()? {
                let reference = item.as_str()?;
                if reference.contains("://")
                    || reference.contains('?')
                    || reference.starts_with("git@")
                {
                    return None;
                }
                let path = crate::render::paths::normalize(&format!("{dir}/{reference}"))?;
                match source.entry(&path).ok()? {
                    Some(EntryKind::Dir) => pending.push(path),
                    Some(EntryKind::File) => {
                        let bytes = source.read_file(&path).ok()?;
                        files.insert(path, Some(bytes));
                    }
                    None => {
                        files.insert(path, None);
                    }
                    Some(EntryKind::Symlink { .. }) => return None,
                }
            }
        }
    }
    // A Helm environment also reads its values files, which may live anywhere in the
    // repository.
    let chart = format!(
        "{}/{}",
        crate::render::paths::normalize(&env.path)?,
        render::CHART_FILE
    );
    if matches!(files.get(&chart), Some(Some(_))) {
        for file in env.helm_settings().values.unwrap_or_default() {
            match source.entry(&file).ok()? {
                Some(EntryKind::File) => {
                    let bytes = source.read_file(&file).ok()?;
                    files.insert(file, Some(bytes));
                }
                None => {
                    files.insert(file, None);
                }
                Some(_) => return None,
            }
        }
    }
    let mut hash = Sha256::new();
    for (path, bytes) in &files {
        hash.update((path.len() as u64).to_le_bytes());
        hash.update(path.as_bytes());
        match bytes {
            Some(bytes) => {
                hash.update([1]);
                hash.update((bytes.len() as u64).to_le_bytes());
                hash.update(bytes);
            }
            None => hash.update([0]),
        }
    }
    Some(hash.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(text: &str) -> Environment {
        crate::config::parse_config_repo(text)
            .unwrap()
            .environments
            .remove("dev")
            .unwrap()
    }

    const DEV: &str = "environments:\n  dev:\n    path: envs/dev\n    namespace: team-dev\n";

    #[test]
    fn settings_rendering_reads_make_a_difference_and_the_bar_does_not() {
        let base = env(DEV);
        assert!(same_rendering(&base, &env(&format!("{DEV}    required_approvals: 3\n    allowed_namespaces: [team-dev, kube-system]\n    prune: true\n"))));
        assert!(!same_rendering(
            &base,
            &env(&DEV.replace("team-dev", "team-blue"))
        ));
        assert!(!same_rendering(
            &base,
            &env(&DEV.replace("envs/dev", "envs/dev2"))
        ));
    }
}

//! Which pushes are built: pure decisions over the push and the app repo's `build:`.

use crate::config::Build;
use crate::webhook::PushEvent;

/// Why a push starts no build. Each is logged with the delivery, so "why did nothing build?"
/// has an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ignored {
    #[error("`{0}` is not a branch (tags are not built)")]
    NotABranch(String),
    #[error("the push deleted branch `{0}`")]
    Deleted(String),
    #[error("the push to `{0}` has no new head commit")]
    NoHead(String),
    #[error("{0} is a fork: nothing is built from forks")]
    Fork(String),
    #[error("the delivery names no installation of this App")]
    NoInstallation,
    #[error("{repo} has no `.github/slipway.yml` at {sha}")]
    NoConfig { repo: String, sha: String },
    #[error("`.github/slipway.yml` of {0} has no `build:` section")]
    NoBuildSection(String),
    #[error("branch `{branch}` is not among the branches built ({patterns})")]
    BranchNotBuilt { branch: String, patterns: String },
}

/// The branch a push built on, when the push is one slipway may build at all (before its
/// configuration is read).
pub fn pushed_branch(push: &PushEvent) -> Result<String, Ignored> {
    let Some(branch) = push.git_ref.strip_prefix("refs/heads/") else {
        return Err(Ignored::NotABranch(push.git_ref.clone()));
    };
    if push.deleted {
        return Err(Ignored::Deleted(branch.to_string()));
    }
    if push.after.is_zero() {
        return Err(Ignored::NoHead(branch.to_string()));
    }
    if push.repository.fork {
        return Err(Ignored::Fork(push.repository.full_name.to_string()));
    }
    if push.installation.is_none() {
        return Err(Ignored::NoInstallation);
    }
    Ok(branch.to_string())
}

/// Whether `branch` is built: it matches one of `build.branches` (git wildmatch: `*` stays
/// within a path segment, `**` crosses `/`), or, with none listed, it is the default branch.
pub fn branch_is_built(build: &Build, branch: &str, default_branch: &str) -> Result<(), Ignored> {
    let matched = if build.branches.is_empty() {
        branch == default_branch
    } else {
        build.branches.iter().any(|pattern| {
            gix::glob::wildmatch(
                pattern.as_str().into(),
                branch.into(),
                gix::glob::wildmatch::Mode::NO_MATCH_SLASH_LITERAL,
            )
        })
    };
    if matched {
        Ok(())
    } else {
        let patterns = if build.branches.is_empty() {
            format!("only the default branch `{default_branch}`")
        } else {
            build
                .branches
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(Ignored::BranchNotBuilt {
            branch: branch.to_string(),
            patterns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(branches: &[&str]) -> Build {
        Build {
            image: "registry.example.com/team/api".into(),
            dockerfile: "Dockerfile".into(),
            context: ".".into(),
            branches: branches.iter().map(|b| b.to_string()).collect(),
            args: Vec::new(),
        }
    }

    #[test]
    fn without_branches_only_the_default_branch_is_built() {
        assert!(branch_is_built(&build(&[]), "main", "main").is_ok());
        let refused = branch_is_built(&build(&[]), "feature/x", "main").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "branch `feature/x` is not among the branches built (only the default branch `main`)"
        );
    }

    #[test]
    fn a_star_stays_in_its_segment_and_a_double_star_crosses_slashes() {
        let built = build(&["main", "release/*", "hotfix/**"]);
        assert!(branch_is_built(&built, "release/1.2", "main").is_ok());
        assert!(branch_is_built(&built, "release/1.2/rc", "main").is_err());
        assert!(branch_is_built(&built, "hotfix/a/b", "main").is_ok());
        assert!(branch_is_built(&built, "mainline", "main").is_err());
    }
}

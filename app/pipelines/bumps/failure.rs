//! Why a bump did not land, naming the config repo, the environment and, where the bump code
//! found it, the file and line.

use std::sync::Arc;

use crate::bump::{BumpError, EnvironmentFilesError};
use crate::config::ReadError;
use crate::failure::FailureKind;
use crate::git::{GitError, TaskFailed};
use crate::github::{GitHubError, RepoRef};
use crate::report::ReportError;
use crate::store::StoreError;

/// A bump that did not land. Clone, because one failure of a shared step (GitHub down, the
/// config repo's `.github/slipway.yml` broken) is every waiting order's answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BumpFailure {
    #[error("the order is not valid: {reason}")]
    InvalidOrder { reason: String },
    #[error("the GitHub App is not installed on config repo {repo}")]
    NotInstalled { repo: RepoRef },
    /// The config repo's `.github/slipway.yml` could not be read. Its mistakes are not
    /// repeated here: this text reaches the check run of whichever repository named the config
    /// repo, allowed to bump it or not (they are logged, and shown on the config repo itself).
    #[error("config repo {repo}: {}", config_summary(error))]
    Config {
        repo: RepoRef,
        #[source]
        error: Arc<ReadError>,
    },
    #[error("config repo {repo} declares no environment `{environment}` in .github/slipway.yml; declared: {declared}")]
    NoEnvironment {
        repo: RepoRef,
        environment: String,
        declared: String,
    },
    #[error("config repo {repo}, environment `{environment}`: cannot read its files: {error}")]
    Files {
        repo: RepoRef,
        environment: String,
        #[source]
        error: Arc<EnvironmentFilesError>,
    },
    /// The bump code refused: the image is not referenced (the message says what was looked
    /// for), a digest pins it, a file that mentions it does not parse (at `file:line`).
    #[error("config repo {repo}: {error}")]
    Bump {
        repo: RepoRef,
        environment: String,
        #[source]
        error: Arc<BumpError>,
    },
    /// The default branch moved on every attempt.
    #[error("config repo {repo}: branch {branch} moved while the bump was committed, {attempts} times in a row")]
    Contended {
        repo: RepoRef,
        branch: String,
        attempts: u32,
    },
    #[error("config repo {repo}: {action}: {error}")]
    GitHub {
        repo: RepoRef,
        action: &'static str,
        #[source]
        error: Arc<GitHubError>,
    },
    #[error("config repo {repo}: {error}")]
    Git {
        repo: RepoRef,
        #[source]
        error: Arc<GitError>,
    },
    #[error("config repo {repo}: slipway's store (its locks, who requested a bump): {error}")]
    Store {
        repo: RepoRef,
        #[source]
        error: Arc<StoreError>,
    },
    #[error("config repo {repo}: writing the bump's text: {error}")]
    Report {
        repo: RepoRef,
        #[source]
        error: Arc<ReportError>,
    },
    /// The order's source (app) repository could not be read, so whether the bump would
    /// replace a newer build cannot be told: nothing is written.
    #[error("app repo {repo}: {reason}")]
    Source {
        repo: RepoRef,
        reason: String,
        kind: FailureKind,
    },
    /// The work stopped before it answered (a panic, the runtime shutting down).
    #[error("config repo {repo}: the bump stopped before it finished: {reason}")]
    Interrupted { repo: RepoRef, reason: String },
}

fn config_summary(error: &ReadError) -> String {
    match error {
        ReadError::Invalid { errors, .. } => format!(
            "its .github/slipway.yml on the default branch has {} mistake{}; `slipway check-config` there, or its pull requests' checks, show where",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        ),
        other => other.to_string(),
    }
}

impl BumpFailure {
    /// What kind of failure this is, as the queue and the metrics count them.
    pub fn kind(&self) -> FailureKind {
        match self {
            BumpFailure::InvalidOrder { .. } | BumpFailure::Report { .. } => FailureKind::Internal,
            BumpFailure::NotInstalled { .. } => FailureKind::NotFound,
            BumpFailure::Config { error, .. } => match error.as_ref() {
                // The tree itself could not be read: the mirror, not the file.
                ReadError::Source { .. } => FailureKind::InvalidRepository,
                _ => FailureKind::InvalidConfig,
            },
            BumpFailure::NoEnvironment { .. }
            | BumpFailure::Files { .. }
            | BumpFailure::Bump { .. } => FailureKind::InvalidConfig,
            BumpFailure::Contended { .. } => FailureKind::BranchMoved,
            BumpFailure::GitHub { error, .. } => error.kind(),
            BumpFailure::Git { error, .. } => error.kind(),
            BumpFailure::Store { error, .. } => error.kind(),
            BumpFailure::Source { kind, .. } => *kind,
            BumpFailure::Interrupted { .. } => FailureKind::Panic,
        }
    }

    /// Whether landing the same order again later can succeed.
    pub fn is_transient(&self) -> bool {
        self.kind().is_transient()
    }

    pub(super) fn github(repo: &RepoRef, action: &'static str, error: GitHubError) -> Self {
        BumpFailure::GitHub {
            repo: repo.clone(),
            action,
            error: Arc::new(error),
        }
    }

    /// A failure to read the source repository `repo`.
    pub(super) fn source(repo: &RepoRef, reason: impl Into<String>, kind: FailureKind) -> Self {
        BumpFailure::Source {
            repo: repo.clone(),
            reason: reason.into(),
            kind,
        }
    }

    pub(super) fn git(repo: &RepoRef, error: GitError) -> Self {
        BumpFailure::Git {
            repo: repo.clone(),
            error: Arc::new(error),
        }
    }

    pub(super) fn report(repo: &RepoRef, error: ReportError) -> Self {
        BumpFailure::Report {
            repo: repo.clone(),
            error: Arc::new(error),
        }
    }

    pub(super) fn interrupted(repo: &RepoRef, err: TaskFailed) -> Self {
        BumpFailure::Interrupted {
            repo: repo.clone(),
            reason: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> RepoRef {
        RepoRef::new("acme", "config")
    }

    #[test]
    fn a_missing_image_names_the_repo_the_environment_and_what_was_looked_for() {
        let failure = BumpFailure::Bump {
            repo: repo(),
            environment: "dev".into(),
            error: Arc::new(BumpError::NotFound {
                images: vec!["registry.example.com/team/api".into()],
                env: "dev".into(),
            }),
        };
        assert_eq!(
            failure.to_string(),
            "config repo acme/config: image registry.example.com/team/api is not referenced in \
             environment dev (looked for kustomization images entries, container images and \
             Helm-values image blocks)"
        );
        assert!(!failure.is_transient());
    }

    #[test]
    fn a_file_that_does_not_parse_is_named_with_its_line() {
        let failure = BumpFailure::Bump {
            repo: repo(),
            environment: "dev".into(),
            error: Arc::new(BumpError::Unparseable {
                file: "envs/dev/api.yaml".into(),
                line: 4,
                image: "registry.example.com/team/api".into(),
                message: "mapping values are not allowed here".into(),
            }),
        };
        assert!(
            failure
                .to_string()
                .contains("envs/dev/api.yaml:4: cannot parse YAML"),
            "{failure}"
        );
    }

    #[test]
    fn a_broken_config_repo_file_is_counted_not_quoted() {
        let text = "environments:\n  dev:\n    path: envs/dev\n    namespace: s3cret-team\n    pth: x\n    prune: maybe\n";
        let errors = crate::config::parse_config_repo(text).expect_err("two mistakes");
        let failure = BumpFailure::Config {
            repo: repo(),
            error: Arc::new(ReadError::Invalid {
                at: "main".into(),
                errors,
            }),
        };
        assert_eq!(
            failure.to_string(),
            "config repo acme/config: its .github/slipway.yml on the default branch has 2 \
             mistakes; `slipway check-config` there, or its pull requests' checks, show where"
        );
        assert!(!failure.is_transient());
    }

    #[test]
    fn a_branch_that_kept_moving_and_a_github_outage_can_pass() {
        let contended = BumpFailure::Contended {
            repo: repo(),
            branch: "main".into(),
            attempts: 5,
        };
        assert!(contended.is_transient());
        assert_eq!(
            contended.to_string(),
            "config repo acme/config: branch main moved while the bump was committed, 5 times in a row"
        );
        let outage = BumpFailure::github(
            &repo(),
            "reading the default branch",
            GitHubError::Status {
                status: 502,
                endpoint: "GET /repos/{owner}/{repo}/git/ref/{path}".into(),
                message: "Server Error".into(),
            },
        );
        assert!(outage.is_transient());
        let gone = BumpFailure::NotInstalled { repo: repo() };
        assert!(!gone.is_transient());
    }
}

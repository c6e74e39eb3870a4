//! Git without work trees (gix): bare mirrors in a cache directory, fetched incrementally, and
//! trees and blobs read at any revision straight from the object database.
//!
//! - [`LocalRepo`] opens an existing repository (a work tree or a bare one) and reads it.
//! - [`GitTree`] is one revision's tree; it implements [`crate::render::TreeSource`].
//! - [`Mirrors`] keeps one bare mirror per remote URL and fetches into it, one fetch per
//!   mirror at a time. Readers never wait: there is no checkout.
//! - [`blocking`] runs any of that from async code, on the blocking pool.

mod blocking;
mod mirror;
mod repo;

use std::fmt;
use std::path::PathBuf;

pub use blocking::{blocking, TaskFailed};
pub use mirror::{Mirrors, Remote, Token, DEFAULT_REFSPECS};
pub use repo::{EntryMode, GitTree, LocalRepo, PathObject, PrefixMatch};

/// A commit's full object id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitId(gix::ObjectId);

impl CommitId {
    /// The id as 40 hex digits (SHA-1).
    pub fn to_hex(&self) -> String {
        self.0.to_string()
    }

    /// The first `len` hex digits.
    pub fn short(&self, len: usize) -> String {
        let hex = self.to_hex();
        hex[..len.min(hex.len())].to_string()
    }

    /// All zeros: what a push names as `before` of a new ref and `after` of a deleted one.
    pub fn is_zero(&self) -> bool {
        self.0.is_null()
    }

    pub(crate) fn object_id(&self) -> gix::ObjectId {
        self.0
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::str::FromStr for CommitId {
    type Err = GitError;

    /// Parses a full hex object id.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        gix::ObjectId::from_hex(s.as_bytes())
            .map(CommitId)
            .map_err(|e| GitError::BadObjectId {
                text: s.to_string(),
                reason: e.to_string(),
            })
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong reading or fetching a repository. Messages never contain tokens.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot open a git repository at {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("cannot create a mirror at {path}: {source}")]
    Init {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("revision `{rev}` not found: {source}")]
    RevisionNotFound {
        rev: String,
        #[source]
        source: BoxError,
    },
    #[error("revision `{rev}` does not name a commit: {source}")]
    NotACommit {
        rev: String,
        #[source]
        source: BoxError,
    },
    #[error("`{text}` is not an object id: {reason}")]
    BadObjectId { text: String, reason: String },
    #[error("`{rev}:{path}`: {reason}")]
    Path {
        rev: String,
        path: String,
        reason: String,
    },
    #[error("reading objects of {context}: {source}")]
    Object {
        context: String,
        #[source]
        source: BoxError,
    },
    #[error("fetching {url}: {source}")]
    Fetch {
        url: String,
        #[source]
        source: BoxError,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl GitError {
    /// What kind of failure this is: a fetch that failed on the network, or a commit GitHub
    /// announced before the mirror has it, can pass; a corrupt repository cannot.
    pub fn kind(&self) -> crate::failure::FailureKind {
        use crate::failure::FailureKind;
        match self {
            GitError::Fetch { .. } => FailureKind::Network,
            GitError::RevisionNotFound { .. } => FailureKind::RevisionMissing,
            GitError::Init { .. } | GitError::Io { .. } => FailureKind::Unavailable,
            GitError::Open { .. }
            | GitError::NotACommit { .. }
            | GitError::Path { .. }
            | GitError::Object { .. } => FailureKind::InvalidRepository,
            GitError::BadObjectId { .. } => FailureKind::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::FailureKind;

    #[test]
    fn a_fetch_that_cannot_reach_its_remote_is_a_network_failure() {
        let dir = tempfile::tempdir().unwrap();
        let mirrors = Mirrors::new(dir.path().join("mirrors")).unwrap();
        let missing = dir.path().join("no-such-repo.git");
        let err = mirrors
            .fetch(&Remote::new(format!("file://{}", missing.display())))
            .unwrap_err();
        assert!(matches!(err, GitError::Fetch { .. }), "{err}");
        assert_eq!(err.kind(), FailureKind::Network);
        assert!(err.kind().is_transient());
    }

    #[test]
    fn a_revision_the_repository_lacks_may_arrive_later() {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("git")
            .args(["init", "--quiet", "--bare"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let repo = LocalRepo::open(dir.path()).unwrap();
        let err = repo.resolve("refs/heads/main").unwrap_err();
        assert_eq!(err.kind(), FailureKind::RevisionMissing);
        assert!(err.kind().is_transient());
    }

    #[test]
    fn a_path_that_is_no_repository_is_permanent() {
        let dir = tempfile::tempdir().unwrap();
        let err = LocalRepo::open(dir.path().join("nothing")).unwrap_err();
        assert_eq!(err.kind(), FailureKind::InvalidRepository);
        assert!(!err.kind().is_transient());
    }
}

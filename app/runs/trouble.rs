//! Why a step of a run could not go on, before its kind decides whether to try again: every
//! run kind meets GitHub, the cluster, git and its own handlers' errors, and each of those
//! knows whether trying again can help.

use crate::failure::chain;

/// A step's failure: one that can pass (try again later) or one that cannot (report it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// Can pass: try again later.
    Transient(String),
    /// Cannot pass: the run fails with this reason.
    Fatal(String),
}

/// An error that knows whether the same request can succeed later.
pub trait Transience: std::error::Error + 'static {
    fn is_transient(&self) -> bool;
}

impl<E: Transience> From<E> for Trouble {
    fn from(err: E) -> Self {
        let message = chain(&err);
        if err.is_transient() {
            Trouble::Transient(message)
        } else {
            Trouble::Fatal(message)
        }
    }
}

impl Transience for crate::github::GitHubError {
    fn is_transient(&self) -> bool {
        self.is_retryable()
    }
}

impl Transience for crate::cluster::ClusterError {
    fn is_transient(&self) -> bool {
        crate::cluster::ClusterError::is_transient(self)
    }
}

impl Transience for crate::git::GitError {
    fn is_transient(&self) -> bool {
        self.kind().is_transient()
    }
}

impl Transience for crate::queue::HandlerError {
    fn is_transient(&self) -> bool {
        crate::queue::HandlerError::is_transient(self)
    }
}

impl Transience for crate::store::StoreError {
    fn is_transient(&self) -> bool {
        self.kind().is_transient()
    }
}

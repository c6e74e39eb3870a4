//! Identifiers a webhook names, as their own types so one is never passed for another.
//!
//! Repositories are [`crate::github::RepoRef`] (`owner/name`, validated once) and commits are
//! [`crate::git::CommitId`] (40 hex digits): the events reuse them rather than copy their rules.

use std::fmt;

/// A GitHub App installation (`installation.id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstallationId(pub i64);

impl fmt::Display for InstallationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A pull request's (or issue's) number in its repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PullNumber(pub u64);

impl fmt::Display for PullNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// GitHub's `X-GitHub-Delivery`: one delivery, the same across redeliveries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryId(String);

impl DeliveryId {
    pub fn new(id: impl Into<String>) -> Self {
        DeliveryId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for DeliveryId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for DeliveryId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

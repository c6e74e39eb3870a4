//! `owner/name`: the repository every REST call is about.

use std::fmt;
use std::str::FromStr;

/// A repository on GitHub, as `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoRef {
    pub owner: String,
    pub name: String,
}

impl RepoRef {
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> Self {
        RepoRef {
            owner: owner.into(),
            name: name.into(),
        }
    }

    /// `/repos/owner/name`, the prefix of every repository endpoint.
    pub fn api_path(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.name)
    }
}

/// Why a text is not `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a repository of the form owner/name")]
pub struct RepoRefError(pub String);

impl FromStr for RepoRef {
    type Err = RepoRefError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || RepoRefError(text.to_string());
        let (owner, name) = text.split_once('/').ok_or_else(invalid)?;
        // GitHub's owner and repository names: letters, digits, `-`, `_` and `.`.
        let valid = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !valid(owner) || !valid(name) {
            return Err(invalid());
        }
        Ok(RepoRef::new(owner, name))
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl serde::Serialize for RepoRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RepoRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_owner_slash_name() {
        let repo: RepoRef = "acme/gitops-config".parse().unwrap();
        assert_eq!(repo, RepoRef::new("acme", "gitops-config"));
        assert_eq!(repo.to_string(), "acme/gitops-config");
        assert_eq!(repo.api_path(), "/repos/acme/gitops-config");
        assert_eq!("a.b/c_d-1".parse::<RepoRef>().unwrap().name, "c_d-1");
    }

    #[test]
    fn refuses_what_is_not_owner_slash_name() {
        for bad in ["acme", "acme/", "/config", "a/b/c", "a b/c", "../x", "a/.."] {
            assert!(bad.parse::<RepoRef>().is_err(), "{bad} was accepted");
        }
    }
}

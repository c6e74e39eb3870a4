//! `.github/slipway.yml`: the schemas of config repos and app repos, validated into domain types.
//!
//! Pure: parses bytes handed to it; reading the file (from git or disk) is the caller's job.

use std::collections::BTreeMap;
use std::time::Duration;

/// Where `.github/slipway.yml` lives in every repository slipway works with.
pub const CONFIG_PATH: &str = ".github/slipway.yml";

/// A config repo's declared environments, keyed by name (a DNS label).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigRepoConfig {
    pub environments: BTreeMap<String, Environment>,
}

/// One deployment target of a config repo.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    pub name: String,
    /// Repo-relative directory, normalised (no leading `/`, no `..`, no trailing `/`).
    pub path: String,
    /// Default namespace for namespaced objects that carry none.
    pub namespace: Option<String>,
    pub allowed_namespaces: Vec<String>,
    /// A cluster named in the server settings.
    pub cluster: String,
    pub required_approvals: u32,
    pub promote_from: Option<String>,
    pub prune: bool,
    pub health_timeout: Duration,
}

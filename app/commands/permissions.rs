//! Who may run what: `/help` is for everyone; every other command needs write, maintain or
//! admin permission on the repository. Permissions come from GitHub's collaborator permission
//! API and are kept in memory for a short while, per repository and user.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::github::{GitHub, GitHubError, RepoPermission, RepoRef};

/// How long a looked-up permission is trusted.
pub const PERMISSION_TTL: Duration = Duration::from_secs(60);

/// Permissions looked up recently, by (repository, login). Logins compare case-insensitively,
/// as GitHub's do.
#[derive(Debug)]
pub struct PermissionCache {
    ttl: Duration,
    entries: Mutex<HashMap<(String, String), (Instant, RepoPermission)>>,
}

impl Default for PermissionCache {
    fn default() -> Self {
        PermissionCache::new(PERMISSION_TTL)
    }
}

impl PermissionCache {
    pub fn new(ttl: Duration) -> Self {
        PermissionCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn key(repo: &RepoRef, login: &str) -> (String, String) {
        (
            repo.to_string().to_ascii_lowercase(),
            login.to_ascii_lowercase(),
        )
    }

    /// The cached permission of `login` on `repo`, if it was looked up less than the TTL ago.
    pub fn cached(&self, repo: &RepoRef, login: &str, now: Instant) -> Option<RepoPermission> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&Self::key(repo, login))
            .filter(|(at, _)| now.duration_since(*at) < self.ttl)
            .map(|(_, permission)| *permission)
    }

    pub fn remember(&self, repo: &RepoRef, login: &str, permission: RepoPermission, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let ttl = self.ttl;
        entries.retain(|_, (at, _)| now.duration_since(*at) < ttl);
        entries.insert(Self::key(repo, login), (now, permission));
    }

    /// `login`'s permission on `repo`: from the cache, or asked of GitHub and remembered.
    pub async fn permission(
        &self,
        github: &GitHub,
        installation_id: i64,
        repo: &RepoRef,
        login: &str,
    ) -> Result<RepoPermission, GitHubError> {
        if let Some(permission) = self.cached(repo, login, Instant::now()) {
            return Ok(permission);
        }
        let permission = github
            .collaborator_permission(installation_id, repo, login)
            .await?;
        self.remember(repo, login, permission, Instant::now());
        Ok(permission)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_are_kept_per_repository_and_user() {
        let cache = PermissionCache::new(Duration::from_secs(60));
        let repo = RepoRef::new("acme", "config");
        let other = RepoRef::new("acme", "other");
        let start = Instant::now();
        assert_eq!(cache.cached(&repo, "alice", start), None);
        cache.remember(&repo, "Alice", RepoPermission::Write, start);
        assert_eq!(
            cache.cached(&repo, "alice", start + Duration::from_secs(59)),
            Some(RepoPermission::Write)
        );
        assert_eq!(cache.cached(&other, "alice", start), None);
        assert_eq!(cache.cached(&repo, "bob", start), None);
        assert_eq!(
            cache.cached(&repo, "alice", start + Duration::from_secs(60)),
            None
        );
    }
}

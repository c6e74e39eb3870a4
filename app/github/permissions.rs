//! A user's permission on a repository (`GET /repos/{o}/{r}/collaborators/{user}/permission`).

use serde::Deserialize;

use super::{Auth, GitHub, GitHubError, RepoRef};

/// The legacy base roles GitHub reports in `permission`: `maintain` reads as `write`,
/// `triage` as `read`. Ordered: `None < Read < Write < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RepoPermission {
    None,
    Read,
    Write,
    Admin,
}

impl RepoPermission {
    /// The value of GitHub's `permission` field; anything unknown counts as no permission.
    pub fn from_api(text: &str) -> Self {
        match text {
            "admin" => RepoPermission::Admin,
            "write" | "maintain" => RepoPermission::Write,
            "read" | "triage" => RepoPermission::Read,
            _ => RepoPermission::None,
        }
    }

    /// Write, maintain or admin: may change what is deployed.
    pub fn can_write(self) -> bool {
        self >= RepoPermission::Write
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RepoPermission::None => "none",
            RepoPermission::Read => "read",
            RepoPermission::Write => "write",
            RepoPermission::Admin => "admin",
        }
    }
}

impl std::fmt::Display for RepoPermission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Deserialize)]
struct PermissionBody {
    // Read as plain JSON: octocrab's typed helper mis-types this field.
    permission: String,
}

impl GitHub {
    /// `user`'s permission on `repo`. A login that is no GitHub user (GitHub answers 404
    /// "… is not a user", as for bots) has none.
    pub async fn collaborator_permission(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        user: &str,
    ) -> Result<RepoPermission, GitHubError> {
        let path = format!(
            "{}/collaborators/{}/permission",
            repo.api_path(),
            encode_path_segment(user)
        );
        match self
            .get::<PermissionBody>(Auth::Installation(installation_id), &path)
            .await
        {
            Ok(body) => Ok(RepoPermission::from_api(&body.permission)),
            Err(GitHubError::Status {
                status: 404,
                message,
                ..
            }) if message.contains("is not a user") => Ok(RepoPermission::None),
            Err(err) => Err(err),
        }
    }
}

/// Percent-encodes what may not stand in a path segment (`[bot]` logins have brackets).
pub(crate) fn encode_path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintain_is_write_and_triage_is_read() {
        assert_eq!(RepoPermission::from_api("admin"), RepoPermission::Admin);
        assert_eq!(RepoPermission::from_api("maintain"), RepoPermission::Write);
        assert_eq!(RepoPermission::from_api("write"), RepoPermission::Write);
        assert_eq!(RepoPermission::from_api("triage"), RepoPermission::Read);
        assert_eq!(RepoPermission::from_api("read"), RepoPermission::Read);
        assert_eq!(RepoPermission::from_api("none"), RepoPermission::None);
        assert!(RepoPermission::Admin.can_write());
        assert!(RepoPermission::Write.can_write());
        assert!(!RepoPermission::Read.can_write());
    }

    #[test]
    fn bot_logins_are_encoded() {
        assert_eq!(
            encode_path_segment("dependabot[bot]"),
            "dependabot%5Bbot%5D"
        );
        assert_eq!(encode_path_segment("octo-cat"), "octo-cat");
    }
}

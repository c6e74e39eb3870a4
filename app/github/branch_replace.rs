//! Replacing the commit of a branch slipway owns (`slipway/promote/<env>`): one new commit on
//! a given parent, and the branch pointed at it whatever it held before (`force: true`).
//! Only for branches no person builds on; everything else moves forward with `commit_files`.

use http::Method;
use serde_json::json;

use super::git_data::ref_path;
use super::{Auth, CommitRequest, GitHub, GitHubError, RepoRef};

impl GitHub {
    /// Makes one commit of `request.files` on top of `request.parent_sha` and points the
    /// existing branch `request.branch` at it, dropping the commits it held (a forced update).
    /// Returns the new commit's sha.
    pub async fn replace_branch_commit(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        request: &CommitRequest,
    ) -> Result<String, GitHubError> {
        let commit = self
            .write_commit(
                installation_id,
                repo,
                &request.parent_sha,
                &request.message,
                &request.files,
            )
            .await?;
        self.request(
            Method::PATCH,
            Auth::Installation(installation_id),
            &format!(
                "{}/git/refs/heads/{}",
                repo.api_path(),
                ref_path(&request.branch)
            ),
            Some(&json!({ "sha": commit, "force": true })),
        )
        .await?;
        Ok(commit)
    }
}

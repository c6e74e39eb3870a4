//! Replacing the commit of a branch slipway owns (`slipway/promote/<env>`): one new commit on
//! a given parent, and the branch pointed at it whatever it held before (`force: true`).
//! Only for branches no person builds on; everything else moves forward with `commit_files`.

use super::{BranchMove, CommitRequest, GitHub, GitHubError, RepoRef};

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
        self.set_branch(
            installation_id,
            repo,
            &request.branch,
            &commit,
            BranchMove::Force,
        )
        .await?;
        Ok(commit)
    }
}

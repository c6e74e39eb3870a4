//! Commits without git push, through the Git Data API: blobs, a tree on top of the parent's
//! tree, a commit with no author (so GitHub signs it as the App and shows it Verified), then
//! the branch created or moved forward. A branch that moved meanwhile is
//! [`GitHubError::NotFastForward`]: re-read its head and try again.

use base64::Engine;
use http::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::permissions::encode_path_segment;
use super::{Auth, GitHub, GitHubError, RepoRef};

/// One commit to make on `branch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRequest {
    pub branch: String,
    /// The commit the new one follows; the branch's head unless `create_branch`.
    pub parent_sha: String,
    pub message: String,
    /// Repo-relative paths with their new content; `None` deletes the path.
    pub files: Vec<(String, Option<Vec<u8>>)>,
    /// Create `branch` at the new commit (it must not exist) instead of moving it forward.
    pub create_branch: bool,
}

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

#[derive(Deserialize)]
struct WireCommit {
    tree: Sha,
}

#[derive(Deserialize)]
struct WireRef {
    object: Sha,
}

/// `feature/x` → `feature/x` with each segment percent-encoded as needed.
pub(super) fn ref_path(branch: &str) -> String {
    branch
        .split('/')
        .map(encode_path_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// The tree entries of `files`: blobs by sha, deletions as `sha: null`.
fn tree_entries(files: &[(String, Option<Vec<u8>>)], blob_shas: &[Option<String>]) -> Vec<Value> {
    files
        .iter()
        .zip(blob_shas)
        .map(|((path, _), sha)| {
            json!({ "path": path, "mode": "100644", "type": "blob", "sha": sha })
        })
        .collect()
}

impl GitHub {
    /// The commit `branch` points at, or `None` when there is no such branch.
    pub async fn branch_head(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        branch: &str,
    ) -> Result<Option<String>, GitHubError> {
        let path = format!("{}/git/ref/heads/{}", repo.api_path(), ref_path(branch));
        match self
            .get::<WireRef>(Auth::Installation(installation_id), &path)
            .await
        {
            Ok(found) => Ok(Some(found.object.sha)),
            Err(GitHubError::Status { status: 404, .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Writes one commit of `files` on top of `parent_sha` (blobs, a tree on the parent's
    /// tree, the commit) without moving any branch; returns its sha. No author, committer or
    /// signature is sent: GitHub signs commits made with an installation token.
    pub async fn write_commit(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        parent_sha: &str,
        message: &str,
        files: &[(String, Option<Vec<u8>>)],
    ) -> Result<String, GitHubError> {
        let auth = Auth::Installation(installation_id);
        let base = repo.api_path();
        let parent: WireCommit = self
            .get(auth, &format!("{base}/git/commits/{parent_sha}"))
            .await?;

        let mut blob_shas = Vec::with_capacity(files.len());
        for (_, content) in files {
            let sha = match content {
                Some(bytes) => {
                    let blob: Sha = self
                        .send_json(
                            Method::POST,
                            auth,
                            &format!("{base}/git/blobs"),
                            &json!({
                                "content": base64::engine::general_purpose::STANDARD.encode(bytes),
                                "encoding": "base64",
                            }),
                        )
                        .await?;
                    Some(blob.sha)
                }
                None => None,
            };
            blob_shas.push(sha);
        }

        let tree: Sha = self
            .send_json(
                Method::POST,
                auth,
                &format!("{base}/git/trees"),
                &json!({
                    "base_tree": parent.tree.sha,
                    "tree": tree_entries(files, &blob_shas),
                }),
            )
            .await?;
        let commit: Sha = self
            .send_json(
                Method::POST,
                auth,
                &format!("{base}/git/commits"),
                &json!({
                    "message": message,
                    "tree": tree.sha,
                    "parents": [parent_sha],
                }),
            )
            .await?;
        Ok(commit.sha)
    }

    /// Makes one commit of `request.files` on top of `request.parent_sha` and points
    /// `request.branch` at it; returns the new commit's sha.
    pub async fn commit_files(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        request: &CommitRequest,
    ) -> Result<String, GitHubError> {
        let auth = Auth::Installation(installation_id);
        let base = repo.api_path();
        let commit = self
            .write_commit(
                installation_id,
                repo,
                &request.parent_sha,
                &request.message,
                &request.files,
            )
            .await?;
        let moved = if request.create_branch {
            self.request(
                Method::POST,
                auth,
                &format!("{base}/git/refs"),
                Some(&json!({ "ref": format!("refs/heads/{}", request.branch), "sha": commit })),
            )
            .await
        } else {
            self.request(
                Method::PATCH,
                auth,
                &format!("{base}/git/refs/heads/{}", ref_path(&request.branch)),
                Some(&json!({ "sha": commit, "force": false })),
            )
            .await
        };
        match moved {
            Ok(_) => Ok(commit),
            Err(GitHubError::Status {
                status: 422,
                endpoint,
                message,
            }) if message.contains("not a fast forward")
                || message.contains("Reference already exists") =>
            {
                Err(GitHubError::NotFastForward { endpoint, message })
            }
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletions_are_null_shas_and_branches_keep_their_slashes() {
        let files = vec![
            ("envs/dev/a.yaml".to_string(), Some(b"x".to_vec())),
            ("envs/dev/old.yaml".to_string(), None),
        ];
        let entries = tree_entries(&files, &[Some("abc".into()), None]);
        assert_eq!(entries[0]["sha"], "abc");
        assert_eq!(entries[1]["sha"], Value::Null);
        assert_eq!(entries[1]["mode"], "100644");
        assert_eq!(ref_path("slipway/promote/prod"), "slipway/promote/prod");
        assert_eq!(ref_path("a b"), "a%20b");
    }
}

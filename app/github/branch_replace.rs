//! Replacing the commit of a branch slipway owns (`slipway/promote/<env>`): one new commit on
//! a given parent, and the branch pointed at it whatever it held before (`force: true`).
//! Only for branches no person builds on; everything else moves forward with `commit_files`.

use base64::Engine;
use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::permissions::encode_path_segment;
use super::{Auth, CommitRequest, GitHub, GitHubError, RepoRef};

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

#[derive(Deserialize)]
struct WireCommit {
    tree: Sha,
}

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
        let auth = Auth::Installation(installation_id);
        let base = repo.api_path();
        let parent: WireCommit = self
            .get(auth, &format!("{base}/git/commits/{}", request.parent_sha))
            .await?;
        let mut entries = Vec::with_capacity(request.files.len());
        for (path, content) in &request.files {
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
            entries.push(json!({ "path": path, "mode": "100644", "type": "blob", "sha": sha }));
        }
        let tree: Sha = self
            .send_json(
                Method::POST,
                auth,
                &format!("{base}/git/trees"),
                &json!({ "base_tree": parent.tree.sha, "tree": entries }),
            )
            .await?;
        // No author, committer or signature: GitHub signs commits made with an installation token.
        let commit: Sha = self
            .send_json(
                Method::POST,
                auth,
                &format!("{base}/git/commits"),
                &json!({
                    "message": request.message,
                    "tree": tree.sha,
                    "parents": [request.parent_sha],
                }),
            )
            .await?;
        let branch_path = request
            .branch
            .split('/')
            .map(encode_path_segment)
            .collect::<Vec<_>>()
            .join("/");
        self.request(
            Method::PATCH,
            auth,
            &format!("{base}/git/refs/heads/{branch_path}"),
            Some(&json!({ "sha": commit.sha, "force": true })),
        )
        .await?;
        Ok(commit.sha)
    }
}

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

/// One path of a new tree, set to an object the repository already holds (a file's blob, a
/// directory's tree) or deleted (`sha: None`, a whole directory included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub path: String,
    pub mode: TreeMode,
    pub sha: Option<String>,
}

/// The `mode` and `type` of a tree entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeMode {
    File,
    Executable,
    Symlink,
    Directory,
}

impl TreeMode {
    fn mode(self) -> &'static str {
        match self {
            TreeMode::File => "100644",
            TreeMode::Executable => "100755",
            TreeMode::Symlink => "120000",
            TreeMode::Directory => "040000",
        }
    }

    fn object_type(self) -> &'static str {
        match self {
            TreeMode::Directory => "tree",
            _ => "blob",
        }
    }
}

/// How [`GitHub::set_branch`] moves a branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchMove {
    /// Create it (it must not exist).
    Create,
    /// Move it forward; a branch that moved meanwhile is [`GitHubError::NotFastForward`].
    FastForward,
    /// Point it at the commit whatever it held (only for branches slipway owns).
    Force,
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
    let entries: Vec<TreeEntry> = files
        .iter()
        .zip(blob_shas)
        .map(|((path, _), sha)| TreeEntry {
            path: path.clone(),
            mode: TreeMode::File,
            sha: sha.clone(),
        })
        .collect();
    wire_entries(&entries)
}

fn wire_entries(entries: &[TreeEntry]) -> Vec<Value> {
    entries
        .iter()
        .map(|entry| {
            json!({
                "path": entry.path,
                "mode": entry.mode.mode(),
                "type": entry.mode.object_type(),
                "sha": entry.sha,
            })
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

        self.commit_on_parent(
            installation_id,
            repo,
            parent_sha,
            &parent.tree.sha,
            message,
            tree_entries(files, &blob_shas),
        )
        .await
    }

    /// Writes one commit on top of `parent_sha` whose tree is the parent's with `entries`
    /// set (objects the repository holds already: a directory's tree, a file's blob) or
    /// deleted, without moving any branch; returns its sha. Signed by GitHub, as
    /// [`GitHub::write_commit`]'s.
    pub async fn write_commit_of_entries(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        parent_sha: &str,
        message: &str,
        entries: &[TreeEntry],
    ) -> Result<String, GitHubError> {
        let parent: WireCommit = self
            .get(
                Auth::Installation(installation_id),
                &format!("{}/git/commits/{parent_sha}", repo.api_path()),
            )
            .await?;
        self.commit_on_parent(
            installation_id,
            repo,
            parent_sha,
            &parent.tree.sha,
            message,
            wire_entries(entries),
        )
        .await
    }

    /// The tree (`base_tree` plus `entries`) and the commit of it on `parent_sha`.
    async fn commit_on_parent(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        parent_sha: &str,
        base_tree: &str,
        message: &str,
        entries: Vec<Value>,
    ) -> Result<String, GitHubError> {
        let auth = Auth::Installation(installation_id);
        let base = repo.api_path();
        let tree: Sha = self
            .send_json(
                Method::POST,
                auth,
                &format!("{base}/git/trees"),
                &json!({ "base_tree": base_tree, "tree": entries }),
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
        let commit = self
            .write_commit(
                installation_id,
                repo,
                &request.parent_sha,
                &request.message,
                &request.files,
            )
            .await?;
        let how = if request.create_branch {
            BranchMove::Create
        } else {
            BranchMove::FastForward
        };
        self.set_branch(installation_id, repo, &request.branch, &commit, how)
            .await?;
        Ok(commit)
    }

    /// Points `branch` at commit `sha`: creates it, moves it forward, or forces it.
    pub async fn set_branch(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        branch: &str,
        sha: &str,
        how: BranchMove,
    ) -> Result<(), GitHubError> {
        let auth = Auth::Installation(installation_id);
        let base = repo.api_path();
        let moved = match how {
            BranchMove::Create => {
                self.request(
                    Method::POST,
                    auth,
                    &format!("{base}/git/refs"),
                    Some(&json!({ "ref": format!("refs/heads/{branch}"), "sha": sha })),
                )
                .await
            }
            BranchMove::FastForward | BranchMove::Force => {
                self.request(
                    Method::PATCH,
                    auth,
                    &format!("{base}/git/refs/heads/{}", ref_path(branch)),
                    Some(&json!({ "sha": sha, "force": how == BranchMove::Force })),
                )
                .await
            }
        };
        match moved {
            Ok(_) => Ok(()),
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

//! Pull requests: read one, find the open one of a branch, open or update one.

use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::permissions::encode_path_segment;
use super::{Auth, GitHub, GitHubError, RepoRef};

/// One side of a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullBranch {
    /// The branch name (`ref` in GitHub's JSON).
    pub ref_name: String,
    pub sha: String,
    /// The repository the branch lives in; `None` when it was deleted (a removed fork).
    pub repo: Option<RepoRef>,
    pub clone_url: Option<String>,
}

/// What slipway reads of a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    pub title: String,
    pub body: Option<String>,
    pub draft: bool,
    pub merged: bool,
    /// The commit a merged pull request landed as (merge, squash or rebase); `None` before.
    pub merge_commit_sha: Option<String>,
    pub user_login: String,
    pub html_url: String,
    pub head: PullBranch,
    pub base: PullBranch,
}

impl PullRequest {
    /// Whether the head branch lives in another repository than the base (a fork).
    pub fn is_fork(&self) -> bool {
        self.head.repo.as_ref() != self.base.repo.as_ref() || self.head.repo.is_none()
    }

    pub fn is_open(&self) -> bool {
        self.state == "open"
    }
}

/// What `create_pull` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedPull {
    pub pull: PullRequest,
    /// False when a pull request of that head was open already and was updated instead.
    pub created: bool,
}

#[derive(Deserialize)]
struct WirePull {
    number: u64,
    #[serde(default)]
    state: String,
    #[serde(default)]
    title: String,
    body: Option<String>,
    #[serde(default)]
    draft: Option<bool>,
    #[serde(default)]
    merged: Option<bool>,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    user: Option<WireUser>,
    #[serde(default)]
    html_url: String,
    head: WireBranch,
    base: WireBranch,
}

#[derive(Deserialize)]
struct WireUser {
    login: String,
}

#[derive(Deserialize)]
struct WireBranch {
    #[serde(rename = "ref")]
    ref_name: String,
    sha: String,
    repo: Option<WireRepo>,
}

#[derive(Deserialize)]
struct WireRepo {
    full_name: String,
    clone_url: Option<String>,
}

impl From<WireBranch> for PullBranch {
    fn from(wire: WireBranch) -> Self {
        let (repo, clone_url) = match wire.repo {
            Some(repo) => (repo.full_name.parse().ok(), repo.clone_url),
            None => (None, None),
        };
        PullBranch {
            ref_name: wire.ref_name,
            sha: wire.sha,
            repo,
            clone_url,
        }
    }
}

impl From<WirePull> for PullRequest {
    fn from(wire: WirePull) -> Self {
        PullRequest {
            number: wire.number,
            state: wire.state,
            title: wire.title,
            body: wire.body,
            draft: wire.draft.unwrap_or(false),
            // The commit's pulls list has no `merged` key, only `merged_at`.
            merged: wire.merged.unwrap_or(wire.merged_at.is_some()),
            merge_commit_sha: wire.merge_commit_sha,
            user_login: wire.user.map(|u| u.login).unwrap_or_else(|| "ghost".into()),
            html_url: wire.html_url,
            head: wire.head.into(),
            base: wire.base.into(),
        }
    }
}

impl GitHub {
    pub async fn get_pull(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        number: u64,
    ) -> Result<PullRequest, GitHubError> {
        let path = format!("{}/pulls/{number}", repo.api_path());
        let wire: WirePull = self.get(Auth::Installation(installation_id), &path).await?;
        Ok(wire.into())
    }

    /// The pull requests `sha` belongs to (`GET …/commits/{sha}/pulls`): for a commit on the
    /// default branch, the merged pull request that landed it, if one did.
    pub async fn pulls_of_commit(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        sha: &str,
    ) -> Result<Vec<PullRequest>, GitHubError> {
        let path = format!("{}/commits/{sha}/pulls?per_page=100", repo.api_path());
        let found: Vec<WirePull> = self.get(Auth::Installation(installation_id), &path).await?;
        Ok(found.into_iter().map(PullRequest::from).collect())
    }

    /// The open pull request whose head is `head_branch` of `repo` itself, if any.
    pub async fn find_open_pull_by_head(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        head_branch: &str,
    ) -> Result<Option<PullRequest>, GitHubError> {
        let path = format!(
            "{}/pulls?state=open&head={}:{}&per_page=1",
            repo.api_path(),
            encode_path_segment(&repo.owner),
            encode_path_segment(head_branch)
        );
        let found: Vec<WirePull> = self.get(Auth::Installation(installation_id), &path).await?;
        Ok(found.into_iter().next().map(PullRequest::from))
    }

    /// Opens a pull request from `head` (a branch of `repo`) into `base`. When one is open for
    /// that head already (GitHub: 422 "A pull request already exists"), that one gets the new
    /// title and body instead.
    pub async fn create_pull(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        title: &str,
        head: &str,
        base: &str,
        body: &str,
    ) -> Result<OpenedPull, GitHubError> {
        let path = format!("{}/pulls", repo.api_path());
        let created = self
            .send_json::<_, WirePull>(
                Method::POST,
                Auth::Installation(installation_id),
                &path,
                &json!({ "title": title, "head": head, "base": base, "body": body, "draft": false }),
            )
            .await;
        match created {
            Ok(wire) => Ok(OpenedPull {
                pull: wire.into(),
                created: true,
            }),
            Err(GitHubError::Status {
                status: 422,
                message,
                endpoint,
            }) if message.contains("A pull request already exists") => {
                let existing = self
                    .find_open_pull_by_head(installation_id, repo, head)
                    .await?
                    .ok_or(GitHubError::Status {
                        status: 422,
                        endpoint,
                        message,
                    })?;
                let pull = self
                    .update_pull(installation_id, repo, existing.number, title, body)
                    .await?;
                Ok(OpenedPull {
                    pull,
                    created: false,
                })
            }
            Err(err) => Err(err),
        }
    }

    pub async fn update_pull(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, GitHubError> {
        let path = format!("{}/pulls/{number}", repo.api_path());
        let wire: WirePull = self
            .send_json(
                Method::PATCH,
                Auth::Installation(installation_id),
                &path,
                &json!({ "title": title, "body": body }),
            )
            .await?;
        Ok(wire.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(repo: Option<&str>) -> WireBranch {
        WireBranch {
            ref_name: "x".into(),
            sha: "0".repeat(40),
            repo: repo.map(|r| WireRepo {
                full_name: r.into(),
                clone_url: None,
            }),
        }
    }

    fn pull(head: Option<&str>) -> PullRequest {
        WirePull {
            number: 1,
            state: "open".into(),
            title: String::new(),
            body: None,
            draft: None,
            merged: None,
            merged_at: None,
            merge_commit_sha: None,
            user: None,
            html_url: String::new(),
            head: branch(head),
            base: branch(Some("acme/config")),
        }
        .into()
    }

    #[test]
    fn a_head_in_another_or_a_deleted_repository_is_a_fork() {
        assert!(!pull(Some("acme/config")).is_fork());
        assert!(pull(Some("mallory/config")).is_fork());
        assert!(pull(None).is_fork());
    }
}

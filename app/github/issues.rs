//! Issues of a repository: slipway opens one per environment that drifted, keeps it up to
//! date while the drift lasts, and closes it (with a comment) once the drift is gone.
//!
//! GitHub's issues list also returns pull requests (they are issues too, marked by a
//! `pull_request` key); [`GitHub::list_open_issues_with_label`] leaves them out.

use http::Method;
use serde::{Deserialize, Serialize};

use super::permissions::encode_path_segment;
use super::{Auth, GitHub, GitHubError, IssueComment, RepoRef};

/// GitHub's limit on an issue body, in characters (422 "Body is too long" past it).
pub const ISSUE_BODY_LIMIT: usize = 65_536;

/// Whether an issue is open or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueState {
    Open,
    Closed,
}

impl IssueState {
    /// The name GitHub's API gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueState::Open => "open",
            IssueState::Closed => "closed",
        }
    }
}

/// What slipway reads of an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub html_url: String,
    pub state: IssueState,
    pub title: String,
    /// Empty when the issue has no body.
    pub body: String,
    pub labels: Vec<String>,
    pub user_login: String,
    /// `User`, `Bot` (Apps, slipway itself included) or `Organization`.
    pub user_type: String,
}

impl Issue {
    pub fn is_by_bot(&self) -> bool {
        self.user_type == "Bot"
    }

    pub fn is_open(&self) -> bool {
        self.state == IssueState::Open
    }
}

/// A change to an issue: only the fields that are `Some` are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IssueUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<IssueState>,
}

#[derive(Deserialize)]
struct WireIssue {
    number: u64,
    #[serde(default)]
    html_url: String,
    state: IssueState,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    labels: Vec<WireLabel>,
    user: Option<WireUser>,
    /// Present only on pull requests.
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WireLabel {
    name: String,
}

#[derive(Deserialize)]
struct WireUser {
    login: String,
    #[serde(rename = "type", default)]
    kind: String,
}

impl From<WireIssue> for Issue {
    fn from(wire: WireIssue) -> Self {
        let (user_login, user_type) = wire
            .user
            .map(|u| (u.login, u.kind))
            .unwrap_or_else(|| ("ghost".to_string(), "User".to_string()));
        Issue {
            number: wire.number,
            html_url: wire.html_url,
            state: wire.state,
            title: wire.title,
            body: wire.body.unwrap_or_default(),
            labels: wire.labels.into_iter().map(|l| l.name).collect(),
            user_login,
            user_type,
        }
    }
}

#[derive(Serialize)]
struct NewIssue<'a> {
    title: &'a str,
    body: &'a str,
    labels: &'a [String],
}

impl GitHub {
    /// Opens an issue as the App. Labels that do not exist yet are created by GitHub.
    pub async fn create_issue(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Issue, GitHubError> {
        let path = format!("{}/issues", repo.api_path());
        let wire: WireIssue = self
            .send_json(
                Method::POST,
                Auth::Installation(installation_id),
                &path,
                &NewIssue {
                    title,
                    body,
                    labels,
                },
            )
            .await?;
        Ok(wire.into())
    }

    /// Changes an issue's title, body or state (closing or reopening it).
    pub async fn update_issue(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        number: u64,
        update: &IssueUpdate,
    ) -> Result<Issue, GitHubError> {
        let path = format!("{}/issues/{number}", repo.api_path());
        let wire: WireIssue = self
            .send_json(
                Method::PATCH,
                Auth::Installation(installation_id),
                &path,
                update,
            )
            .await?;
        Ok(wire.into())
    }

    /// Every open issue carrying `label`, oldest number first, across all pages; pull
    /// requests (which GitHub lists as issues too) are left out.
    pub async fn list_open_issues_with_label(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        label: &str,
    ) -> Result<Vec<Issue>, GitHubError> {
        // GitHub reads `labels` as a comma-separated list: a label with a comma cannot be asked for.
        let first = format!(
            "{}/issues?state=open&labels={}&sort=created&direction=asc&per_page=100",
            repo.api_path(),
            encode_path_segment(label)
        );
        let issues: Vec<WireIssue> = self
            .get_all_pages(Auth::Installation(installation_id), first)
            .await?;
        Ok(issues
            .into_iter()
            .filter(|issue| issue.pull_request.is_none())
            .map(Issue::from)
            .collect())
    }

    /// Comments on an issue, then closes it: the comment says why, in the issue's own
    /// timeline. Returns the closed issue and the comment.
    pub async fn close_issue_with_comment(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        number: u64,
        comment: &str,
    ) -> Result<(Issue, IssueComment), GitHubError> {
        let posted = self
            .create_issue_comment(installation_id, repo, number, comment)
            .await?;
        let closed = self
            .update_issue(
                installation_id,
                repo,
                number,
                &IssueUpdate {
                    state: Some(IssueState::Closed),
                    ..IssueUpdate::default()
                },
            )
            .await?;
        Ok((closed, posted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_sends_only_what_changes() {
        let update = IssueUpdate {
            state: Some(IssueState::Closed),
            ..IssueUpdate::default()
        };
        assert_eq!(
            serde_json::to_value(&update).unwrap(),
            serde_json::json!({ "state": "closed" })
        );
    }

    #[test]
    fn a_deleted_author_reads_as_ghost_and_a_missing_body_as_empty() {
        let wire: WireIssue = serde_json::from_str(
            r#"{"number": 3, "state": "open", "title": "t", "body": null, "user": null}"#,
        )
        .unwrap();
        let issue = Issue::from(wire);
        assert_eq!(issue.user_login, "ghost");
        assert_eq!(issue.body, "");
        assert!(!issue.is_by_bot());
    }
}

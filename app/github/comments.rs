//! Pull-request conversation comments (GitHub's issue comments) and reactions to them.

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Auth, GitHub, GitHubError, RepoRef};

/// GitHub's limit on a comment body, in characters.
pub const COMMENT_BODY_LIMIT: usize = 65_536;

/// One comment of an issue or pull-request conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueComment {
    pub id: u64,
    pub body: String,
    pub user_login: String,
    /// `User`, `Bot` (Apps, slipway itself included) or `Organization`.
    pub user_type: String,
    /// RFC 3339, as GitHub sends it.
    pub created_at: String,
}

impl IssueComment {
    pub fn is_by_bot(&self) -> bool {
        self.user_type == "Bot"
    }
}

#[derive(Deserialize)]
struct WireComment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    user: Option<WireUser>,
    #[serde(default)]
    created_at: String,
}

#[derive(Deserialize)]
struct WireUser {
    login: String,
    #[serde(rename = "type", default)]
    kind: String,
}

impl From<WireComment> for IssueComment {
    fn from(wire: WireComment) -> Self {
        let (user_login, user_type) = wire
            .user
            .map(|u| (u.login, u.kind))
            .unwrap_or_else(|| ("ghost".to_string(), "User".to_string()));
        IssueComment {
            id: wire.id,
            body: wire.body.unwrap_or_default(),
            user_login,
            user_type,
            created_at: wire.created_at,
        }
    }
}

/// The reactions GitHub accepts on a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reaction {
    #[serde(rename = "+1")]
    ThumbsUp,
    #[serde(rename = "-1")]
    ThumbsDown,
    #[serde(rename = "laugh")]
    Laugh,
    #[serde(rename = "confused")]
    Confused,
    #[serde(rename = "heart")]
    Heart,
    #[serde(rename = "hooray")]
    Hooray,
    #[serde(rename = "rocket")]
    Rocket,
    #[serde(rename = "eyes")]
    Eyes,
}

impl Reaction {
    /// The `content` GitHub's API names it by.
    pub fn content(self) -> &'static str {
        match self {
            Reaction::ThumbsUp => "+1",
            Reaction::ThumbsDown => "-1",
            Reaction::Laugh => "laugh",
            Reaction::Confused => "confused",
            Reaction::Heart => "heart",
            Reaction::Hooray => "hooray",
            Reaction::Rocket => "rocket",
            Reaction::Eyes => "eyes",
        }
    }
}

/// What `add_reaction` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionOutcome {
    /// 201: the reaction is new.
    Created,
    /// 200: the App had already reacted so.
    AlreadyThere,
}

impl GitHub {
    /// Every comment of issue or pull request `number`, oldest first, across all pages.
    pub async fn list_issue_comments(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        number: u64,
    ) -> Result<Vec<IssueComment>, GitHubError> {
        let first = format!("{}/issues/{number}/comments?per_page=100", repo.api_path());
        let comments: Vec<WireComment> = self
            .get_all_pages(Auth::Installation(installation_id), first)
            .await?;
        Ok(comments.into_iter().map(IssueComment::from).collect())
    }

    pub async fn create_issue_comment(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        number: u64,
        body: &str,
    ) -> Result<IssueComment, GitHubError> {
        let path = format!("{}/issues/{number}/comments", repo.api_path());
        let wire: WireComment = self
            .send_json(
                Method::POST,
                Auth::Installation(installation_id),
                &path,
                &json!({ "body": body }),
            )
            .await?;
        Ok(wire.into())
    }

    pub async fn update_issue_comment(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        comment_id: u64,
        body: &str,
    ) -> Result<IssueComment, GitHubError> {
        let path = format!("{}/issues/comments/{comment_id}", repo.api_path());
        let wire: WireComment = self
            .send_json(
                Method::PATCH,
                Auth::Installation(installation_id),
                &path,
                &json!({ "body": body }),
            )
            .await?;
        Ok(wire.into())
    }

    pub async fn delete_issue_comment(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        comment_id: u64,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/issues/comments/{comment_id}", repo.api_path());
        self.request(
            Method::DELETE,
            Auth::Installation(installation_id),
            &path,
            None,
        )
        .await?;
        Ok(())
    }

    /// Reacts to a comment as the App.
    pub async fn add_reaction(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        comment_id: u64,
        reaction: Reaction,
    ) -> Result<ReactionOutcome, GitHubError> {
        let path = format!("{}/issues/comments/{comment_id}/reactions", repo.api_path());
        let response = self
            .request(
                Method::POST,
                Auth::Installation(installation_id),
                &path,
                Some(&json!({ "content": reaction.content() })),
            )
            .await?;
        Ok(if response.status == http::StatusCode::CREATED {
            ReactionOutcome::Created
        } else {
            ReactionOutcome::AlreadyThere
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_serialise_as_github_names_them() {
        for reaction in [
            Reaction::ThumbsUp,
            Reaction::ThumbsDown,
            Reaction::Laugh,
            Reaction::Confused,
            Reaction::Heart,
            Reaction::Hooray,
            Reaction::Rocket,
            Reaction::Eyes,
        ] {
            assert_eq!(
                serde_json::to_value(reaction).unwrap(),
                serde_json::Value::String(reaction.content().to_string())
            );
        }
    }

    #[test]
    fn a_deleted_author_reads_as_ghost() {
        let wire: WireComment = serde_json::from_str(
            r#"{"id": 7, "body": "hi", "user": null, "created_at": "2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let comment = IssueComment::from(wire);
        assert_eq!(comment.user_login, "ghost");
        assert!(!comment.is_by_bot());
    }
}

//! Pull-request reviews (`GET /repos/{o}/{r}/pulls/{n}/reviews`): who approved which commit.

use serde::Deserialize;

use super::{Auth, GitHub, GitHubError, RepoRef};

/// A review's state as the REST API spells it (uppercase; webhook payloads use lowercase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
    /// An approval or a change request that a maintainer dismissed: GitHub changes the
    /// review's own state, it adds no new review.
    Dismissed,
    /// Started but not submitted; listed to its author only.
    Pending,
    /// A state GitHub may add later: never an approval.
    Other,
}

impl ReviewState {
    /// The REST API's `state`; lowercase (a webhook's) reads the same.
    pub fn from_api(text: &str) -> Self {
        match text.to_ascii_uppercase().as_str() {
            "APPROVED" => ReviewState::Approved,
            "CHANGES_REQUESTED" => ReviewState::ChangesRequested,
            "COMMENTED" => ReviewState::Commented,
            "DISMISSED" => ReviewState::Dismissed,
            "PENDING" => ReviewState::Pending,
            _ => ReviewState::Other,
        }
    }

    pub fn as_api(self) -> &'static str {
        match self {
            ReviewState::Approved => "APPROVED",
            ReviewState::ChangesRequested => "CHANGES_REQUESTED",
            ReviewState::Commented => "COMMENTED",
            ReviewState::Dismissed => "DISMISSED",
            ReviewState::Pending => "PENDING",
            ReviewState::Other => "OTHER",
        }
    }
}

/// One review of a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub id: u64,
    /// `ghost` when the account was deleted.
    pub user_login: String,
    /// `User`, `Bot` or `Organization`.
    pub user_type: String,
    pub state: ReviewState,
    /// The head commit the review was made on; GitHub may send none (a commit that no
    /// longer exists).
    pub commit_id: Option<String>,
    /// RFC 3339; none while the review is pending.
    pub submitted_at: Option<String>,
}

#[derive(Deserialize)]
struct WireReview {
    id: u64,
    user: Option<WireUser>,
    state: String,
    #[serde(default)]
    commit_id: Option<String>,
    #[serde(default)]
    submitted_at: Option<String>,
}

#[derive(Deserialize)]
struct WireUser {
    login: String,
    #[serde(rename = "type", default)]
    kind: String,
}

impl From<WireReview> for Review {
    fn from(wire: WireReview) -> Self {
        let (user_login, user_type) = wire
            .user
            .map(|u| (u.login, u.kind))
            .unwrap_or_else(|| ("ghost".to_string(), "User".to_string()));
        Review {
            id: wire.id,
            user_login,
            user_type,
            state: ReviewState::from_api(&wire.state),
            commit_id: wire.commit_id,
            submitted_at: wire.submitted_at,
        }
    }
}

impl GitHub {
    /// Every review of pull request `number`, in the order they were made (GitHub lists
    /// them chronologically), across all pages.
    pub async fn list_reviews(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        number: u64,
    ) -> Result<Vec<Review>, GitHubError> {
        let first = format!("{}/pulls/{number}/reviews?per_page=100", repo.api_path());
        let reviews: Vec<WireReview> = self
            .get_all_pages(Auth::Installation(installation_id), first)
            .await?;
        Ok(reviews.into_iter().map(Review::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_in_either_case_and_unknown_ones_never_approve() {
        assert_eq!(ReviewState::from_api("APPROVED"), ReviewState::Approved);
        assert_eq!(ReviewState::from_api("approved"), ReviewState::Approved);
        assert_eq!(
            ReviewState::from_api("CHANGES_REQUESTED"),
            ReviewState::ChangesRequested
        );
        assert_eq!(ReviewState::from_api("DISMISSED"), ReviewState::Dismissed);
        assert_eq!(ReviewState::from_api("SOMETHING_NEW"), ReviewState::Other);
    }

    #[test]
    fn a_deleted_reviewer_reads_as_ghost() {
        let review: Review = serde_json::from_str::<WireReview>(
            r#"{"id": 9, "user": null, "state": "APPROVED", "commit_id": null}"#,
        )
        .unwrap()
        .into();
        assert_eq!(review.user_login, "ghost");
        assert_eq!(review.commit_id, None);
        assert_eq!(review.submitted_at, None);
    }
}

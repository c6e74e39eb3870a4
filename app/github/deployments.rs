//! GitHub Deployments: one deployment per deploy of an environment, with a status for each
//! step (in progress, then success or failure), so the repository's Environments page and
//! the pull request show where each environment stands.
//!
//! slipway deploys exactly the commit that was merged: every deployment is created with
//! `auto_merge: false` (GitHub would otherwise merge the default branch into the ref first
//! and answer 202 without a deployment) and `required_contexts: []` (GitHub would otherwise
//! refuse while any commit status is not green; the gate is slipway's, not GitHub's).

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{endpoint_label, Auth, GitHub, GitHubError, RepoRef};

/// GitHub's limit on a deployment status's `description`, in characters.
pub const DEPLOYMENT_STATUS_DESCRIPTION_LIMIT: usize = 140;

/// A deployment's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeploymentId(pub u64);

impl std::fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A deployment to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRequest {
    /// The commit deployed: the merge commit's sha (a sha, so nothing can move under it).
    pub git_ref: String,
    pub environment: String,
    pub description: Option<String>,
    pub production_environment: bool,
    /// slipway's environments persist; GitHub marks transient ones inactive by itself.
    pub transient_environment: bool,
    /// Extra data kept with the deployment (what slipway deploys, for a reader of the API).
    pub payload: Value,
}

/// The states of a deployment status slipway sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    Queued,
    InProgress,
    Success,
    Failure,
    Error,
    Inactive,
}

impl DeploymentState {
    /// The name GitHub's API gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentState::Queued => "queued",
            DeploymentState::InProgress => "in_progress",
            DeploymentState::Success => "success",
            DeploymentState::Failure => "failure",
            DeploymentState::Error => "error",
            DeploymentState::Inactive => "inactive",
        }
    }
}

/// A status to add to a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentStatusRequest {
    pub state: DeploymentState,
    /// Where the deploy's details are (the deploy check run).
    pub log_url: Option<String>,
    /// Where the deployed environment answers, when it has an address.
    pub environment_url: Option<String>,
    /// Cut to [`DEPLOYMENT_STATUS_DESCRIPTION_LIMIT`] characters when longer.
    pub description: String,
    /// A success marks the earlier successful deployments of the environment inactive.
    pub auto_inactive: bool,
}

impl DeploymentStatusRequest {
    /// A status `state` saying `description`, with `auto_inactive` on.
    pub fn new(state: DeploymentState, description: &str) -> Self {
        DeploymentStatusRequest {
            state,
            log_url: None,
            environment_url: None,
            description: description.to_string(),
            auto_inactive: true,
        }
    }
}

/// A deployment as GitHub lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Deployment {
    pub id: DeploymentId,
    pub sha: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub environment: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub production_environment: bool,
    #[serde(default)]
    pub transient_environment: bool,
    /// RFC 3339, as GitHub sends it.
    #[serde(default)]
    pub created_at: String,
}

/// A deployment status as GitHub lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeploymentStatus {
    pub id: u64,
    /// Kept as text: GitHub knows states slipway never sets (`pending`).
    pub state: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub log_url: Option<String>,
    #[serde(default)]
    pub environment_url: Option<String>,
    #[serde(default)]
    pub created_at: String,
}

/// `text` within `limit` characters: cut at a character boundary, with `…` as the last
/// character when anything was cut.
pub fn fit_description(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// The body of `POST …/deployments`.
pub fn deployment_body(request: &DeploymentRequest) -> Value {
    let mut body = json!({
        "ref": request.git_ref,
        "environment": request.environment,
        "auto_merge": false,
        "required_contexts": [],
        "payload": request.payload,
        "production_environment": request.production_environment,
        "transient_environment": request.transient_environment,
    });
    if let Some(description) = &request.description {
        body["description"] = json!(description);
    }
    body
}

/// The body of `POST …/deployments/{id}/statuses`.
pub fn status_body(request: &DeploymentStatusRequest) -> Value {
    let mut body = json!({
        "state": request.state,
        "description": fit_description(&request.description, DEPLOYMENT_STATUS_DESCRIPTION_LIMIT),
        "auto_inactive": request.auto_inactive,
    });
    if let Some(url) = &request.log_url {
        body["log_url"] = json!(url);
    }
    if let Some(url) = &request.environment_url {
        body["environment_url"] = json!(url);
    }
    body
}

#[derive(Deserialize)]
struct Created {
    id: u64,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    message: String,
}

impl GitHub {
    /// Creates a deployment of `request.git_ref`. A 202 (GitHub merged the default branch into
    /// the ref instead of deploying it) is [`GitHubError::AutoMerged`]: it cannot happen with
    /// the body sent here, and nothing was deployed if it does.
    pub async fn create_deployment(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        request: &DeploymentRequest,
    ) -> Result<DeploymentId, GitHubError> {
        let path = format!("{}/deployments", repo.api_path());
        let endpoint = endpoint_label("POST", &path);
        let response = self
            .request(
                Method::POST,
                Auth::Installation(installation_id),
                &path,
                Some(&deployment_body(request)),
            )
            .await?;
        if response.status == http::StatusCode::ACCEPTED {
            let message = response
                .json::<Message>(&endpoint)
                .map(|m| m.message)
                .unwrap_or_default();
            return Err(GitHubError::AutoMerged { endpoint, message });
        }
        let created: Created = response.json(&endpoint)?;
        Ok(DeploymentId(created.id))
    }

    /// Adds a status to deployment `id`; the description is cut to 140 characters.
    pub async fn create_deployment_status(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        id: DeploymentId,
        request: &DeploymentStatusRequest,
    ) -> Result<DeploymentStatus, GitHubError> {
        let path = format!("{}/deployments/{id}/statuses", repo.api_path());
        self.send_json(
            Method::POST,
            Auth::Installation(installation_id),
            &path,
            &status_body(request),
        )
        .await
    }

    /// The deployments of `environment`, newest first, across all pages.
    pub async fn list_deployments(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        environment: &str,
    ) -> Result<Vec<Deployment>, GitHubError> {
        let first = format!(
            "{}/deployments?environment={}&per_page=100",
            repo.api_path(),
            super::permissions::encode_path_segment(environment)
        );
        self.get_all_pages(Auth::Installation(installation_id), first)
            .await
    }

    /// The statuses of deployment `id`, newest first (as GitHub lists them), across all pages.
    pub async fn list_deployment_statuses(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        id: DeploymentId,
    ) -> Result<Vec<DeploymentStatus>, GitHubError> {
        let first = format!("{}/deployments/{id}/statuses?per_page=100", repo.api_path());
        self.get_all_pages(Auth::Installation(installation_id), first)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_description_is_cut_at_a_character_with_an_ellipsis() {
        let long = "é".repeat(200);
        let cut = fit_description(&long, 140);
        assert_eq!(cut.chars().count(), 140);
        assert!(cut.ends_with('…'));
        assert_eq!(fit_description("short", 140), "short");
        let exact = "x".repeat(140);
        assert_eq!(fit_description(&exact, 140), exact);
    }

    #[test]
    fn the_creation_body_never_lets_github_merge_or_wait_for_statuses() {
        let body = deployment_body(&DeploymentRequest {
            git_ref: "abc".into(),
            environment: "dev".into(),
            description: None,
            production_environment: false,
            transient_environment: false,
            payload: json!({}),
        });
        assert_eq!(body["auto_merge"], false);
        assert_eq!(body["required_contexts"], json!([]));
        assert!(body.get("description").is_none());
    }
}

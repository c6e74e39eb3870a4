//! The fake's Deployments API: deployments of a ref to an environment and their statuses, with
//! GitHub's documented defaults and refusals.
//!
//! - `POST …/deployments`: `ref` must name a commit, branch or tag of the backing bare
//!   repository (422 "No ref found for: X"); `environment` defaults to `production`;
//!   without `required_contexts` GitHub requires every check on the commit to have succeeded
//!   (409 "Conflict: Commit status checks failed for X.").
//! - `POST …/deployments/{id}/statuses`: the state must be one of GitHub's, the description at
//!   most 140 characters (422 otherwise); a `success` with `auto_inactive` (the default) marks
//!   the earlier non-transient, non-production deployments of the environment that had
//!   succeeded `inactive`, as GitHub does.
//! - `GET …/deployments` (filters `environment`, `sha`, `ref`) and `GET …/deployments/{id}/statuses`,
//!   newest first, paginated.
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::model::app_bot_login;
use super::repos::{api_base, authorise, json_body, now_rfc3339, paginate, query_value};
use super::{error, git, FakeState};

type Shared = Arc<Mutex<FakeState>>;

/// GitHub's limit on a deployment status's description.
pub const STATUS_DESCRIPTION_LIMIT: usize = 140;
const STATES: [&str; 7] = [
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

/// A deployment and everything done to it.
#[derive(Debug, Clone)]
pub struct FakeDeployment {
    pub id: u64,
    pub repo: String,
    /// The commit the ref resolved to.
    pub sha: String,
    /// The ref as the request named it.
    pub git_ref: String,
    pub environment: String,
    pub description: Option<String>,
    pub production_environment: bool,
    pub transient_environment: bool,
    pub payload: Value,
    /// The request body as received (what `auto_merge` and `required_contexts` were).
    pub request: Value,
    pub creator: String,
    pub created_at: String,
    /// Every status, oldest first; those GitHub added itself (`auto_inactive`) included.
    pub statuses: Vec<FakeDeploymentStatus>,
}

/// One status of a deployment.
#[derive(Debug, Clone)]
pub struct FakeDeploymentStatus {
    pub id: u64,
    pub state: String,
    pub description: String,
    pub log_url: Option<String>,
    pub environment_url: Option<String>,
    pub auto_inactive: bool,
    /// Added by GitHub (an `auto_inactive` of a later deployment), not posted by the App.
    pub by_github: bool,
    pub created_at: String,
}

impl FakeDeployment {
    /// The statuses the App posted (not those GitHub added), oldest first.
    pub fn posted_states(&self) -> Vec<String> {
        self.statuses
            .iter()
            .filter(|s| !s.by_github)
            .map(|s| s.state.clone())
            .collect()
    }

    /// The state of the newest status, if any.
    pub fn state(&self) -> Option<&str> {
        self.statuses.last().map(|s| s.state.as_str())
    }

    pub fn json(&self, api: &str) -> Value {
        let url = format!("{api}/repos/{}/deployments/{}", self.repo, self.id);
        json!({
            "url": url,
            "id": self.id,
            "node_id": format!("DE_{}", self.id),
            "sha": self.sha,
            "ref": self.git_ref,
            "task": "deploy",
            "payload": self.payload,
            "original_environment": self.environment,
            "environment": self.environment,
            "description": self.description,
            "creator": { "login": self.creator, "type": "Bot" },
            "created_at": self.created_at,
            "updated_at": self.statuses.last().map(|s| s.created_at.clone()).unwrap_or_else(|| self.created_at.clone()),
            "statuses_url": format!("{url}/statuses"),
            "repository_url": format!("{api}/repos/{}", self.repo),
            "transient_environment": self.transient_environment,
            "production_environment": self.production_environment,
            "performed_via_github_app": { "slug": super::APP_SLUG },
        })
    }

    fn status_json(&self, status: &FakeDeploymentStatus, api: &str) -> Value {
        let deployment_url = format!("{api}/repos/{}/deployments/{}", self.repo, self.id);
        json!({
            "url": format!("{deployment_url}/statuses/{}", status.id),
            "id": status.id,
            "node_id": format!("DES_{}", status.id),
            "state": status.state,
            "creator": { "login": self.creator, "type": "Bot" },
            "description": status.description,
            "environment": self.environment,
            "target_url": status.log_url.clone().unwrap_or_default(),
            "log_url": status.log_url.clone().unwrap_or_default(),
            "environment_url": status.environment_url.clone().unwrap_or_default(),
            "created_at": status.created_at,
            "updated_at": status.created_at,
            "deployment_url": deployment_url,
            "repository_url": format!("{api}/repos/{}", self.repo),
        })
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn validation_failed(field: &str, code: &str, message: Option<String>) -> Response {
    let mut detail = json!({ "resource": "DeploymentStatus", "code": code, "field": field });
    if let Some(message) = message {
        detail["message"] = json!(message);
    }
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "message": "Validation Failed",
            "errors": [detail],
            "documentation_url": "https://docs.github.com/rest/deployments/statuses#create-a-deployment-status",
        })),
    )
        .into_response()
}

/// The commit `reference` names in `bare`: a full sha, a branch or a tag.
fn resolve(bare: &std::path::Path, reference: &str) -> Option<String> {
    if reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit()) {
        return (git::object_type(bare, reference).as_deref() == Some("commit"))
            .then(|| reference.to_string());
    }
    ["refs/heads/", "refs/tags/", ""]
        .iter()
        .find_map(|prefix| git::resolve_ref(bare, &format!("{prefix}{reference}")))
}

pub async fn create_deployment(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let mut state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let body = match json_body(&bytes) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let Some(reference) = body.get("ref").and_then(Value::as_str).map(str::to_string) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "message": "Invalid request.\n\n\"ref\" wasn't supplied.",
                "documentation_url": "https://docs.github.com/rest/deployments/deployments#create-a-deployment",
            })),
        )
            .into_response();
    };
    let sha = match &state.repos[&full].bare {
        Some(bare) => match resolve(bare, &reference) {
            Some(sha) => sha,
            None => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("No ref found for: {reference}"),
                )
            }
        },
        None => reference.clone(),
    };
    // Without `required_contexts` GitHub checks every context of the commit.
    if body.get("required_contexts").is_none() {
        let failing = state.check_runs.iter().any(|run| {
            run.repo == full && run.head_sha == sha && run.conclusion.as_deref() != Some("success")
        });
        if failing {
            return error(
                StatusCode::CONFLICT,
                &format!("Conflict: Commit status checks failed for {reference}."),
            );
        }
    }
    let environment = body
        .get("environment")
        .and_then(Value::as_str)
        .unwrap_or("production")
        .to_string();
    let production_environment = body
        .get("production_environment")
        .and_then(Value::as_bool)
        .unwrap_or(environment == "production");
    state.next_id += 1;
    let deployment = FakeDeployment {
        id: state.next_id,
        repo: full,
        sha,
        git_ref: reference,
        environment,
        description: body
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        production_environment,
        transient_environment: body
            .get("transient_environment")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        payload: body.get("payload").cloned().unwrap_or_else(|| json!({})),
        request: body,
        creator: app_bot_login(),
        created_at: now_rfc3339(),
        statuses: Vec::new(),
    };
    let json = deployment.json(&api_base(&headers));
    state.posted.deployment_written(&deployment);
    state.deployments.push(deployment);
    (StatusCode::CREATED, Json(json)).into_response()
}

pub async fn list_deployments(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let api = api_base(&headers);
    let environment = query_value(&uri, "environment");
    let sha = query_value(&uri, "sha");
    let reference = query_value(&uri, "ref");
    let items: Vec<Value> = state
        .deployments
        .iter()
        .rev()
        .filter(|d| d.repo == full)
        .filter(|d| environment.as_ref().is_none_or(|e| &d.environment == e))
        .filter(|d| sha.as_ref().is_none_or(|s| &d.sha == s))
        .filter(|d| reference.as_ref().is_none_or(|r| &d.git_ref == r))
        .map(|d| d.json(&api))
        .collect();
    paginate(items, &uri, &headers, state.list_page_size)
}

pub async fn create_status(
    State(state): State<Shared>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let mut state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let body = match json_body(&bytes) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let Some(index) = state
        .deployments
        .iter()
        .position(|d| d.id == id && d.repo == full)
    else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some(new_state) = body
        .get("state")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return validation_failed("state", "missing_field", None);
    };
    if !STATES.contains(&new_state.as_str()) {
        return validation_failed(
            "state",
            "invalid",
            Some(format!(
                "state is not included in the list ({})",
                STATES.join(", ")
            )),
        );
    }
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if description.chars().count() > STATUS_DESCRIPTION_LIMIT {
        return validation_failed(
            "description",
            "custom",
            Some(format!(
                "description is too long (maximum is {STATUS_DESCRIPTION_LIMIT} characters)"
            )),
        );
    }
    let auto_inactive = body
        .get("auto_inactive")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let log_url = text("log_url").or_else(|| text("target_url"));
    let environment_url = text("environment_url");
    let now = now_rfc3339();
    state.next_id += 1;
    let status = FakeDeploymentStatus {
        id: state.next_id,
        state: new_state.clone(),
        description,
        log_url,
        environment_url,
        auto_inactive,
        by_github: false,
        created_at: now.clone(),
    };
    state.deployments[index].statuses.push(status.clone());
    let deployment = state.deployments[index].clone();
    state
        .posted
        .deployment_status_written(&deployment, deployment.statuses.len());

    if new_state == "success" && auto_inactive {
        // GitHub: prior non-transient, non-production deployments of the environment that had
        // succeeded get an inactive status.
        let mut next_id = state.next_id;
        for earlier in state.deployments.iter_mut().filter(|d| {
            d.repo == deployment.repo
                && d.environment == deployment.environment
                && d.id < deployment.id
                && !d.transient_environment
                && !d.production_environment
                && d.statuses.iter().any(|s| s.state == "success")
                && d.state() != Some("inactive")
        }) {
            next_id += 1;
            earlier.statuses.push(FakeDeploymentStatus {
                id: next_id,
                state: "inactive".to_string(),
                description: String::new(),
                log_url: None,
                environment_url: None,
                auto_inactive: false,
                by_github: true,
                created_at: now.clone(),
            });
        }
        state.next_id = next_id;
    }
    (
        StatusCode::CREATED,
        Json(deployment.status_json(&status, &api_base(&headers))),
    )
        .into_response()
}

pub async fn list_statuses(
    State(state): State<Shared>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let Some(deployment) = state
        .deployments
        .iter()
        .find(|d| d.id == id && d.repo == full)
    else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let api = api_base(&headers);
    let items: Vec<Value> = deployment
        .statuses
        .iter()
        .rev()
        .map(|s| deployment.status_json(s, &api))
        .collect();
    paginate(items, &uri, &headers, state.list_page_size)
}

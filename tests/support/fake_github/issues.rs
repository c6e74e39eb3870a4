//! The fake's issue endpoints: open, change and list issues as GitHub does. Issue numbers are
//! shared with pull requests, and the list returns pull requests too (marked by a
//! `pull_request` key), as GitHub's does.
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::model::{app_bot_login, FakeIssue};
use super::repos::{
    api_base, authorise, json_body, not_found, paginate, query_value, validation_failed,
    COMMENT_LIMIT,
};
use super::{error, FakeState};

type Shared = Arc<Mutex<FakeState>>;

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Checks the token and the repository, and that the repository has issues turned on.
fn issues_of(
    state: &FakeState,
    headers: &HeaderMap,
    owner: &str,
    repo: &str,
) -> Result<String, Response> {
    let full = authorise(state, headers, owner, repo)?;
    if state.repos[&full].issues_enabled {
        Ok(full)
    } else {
        Err(error(StatusCode::GONE, "Issues are disabled for this repo"))
    }
}

/// A body within GitHub's limit (the same as a comment's), or its 422.
fn checked_body(body: Option<&str>) -> Result<Option<String>, Response> {
    match body {
        Some(text) if text.chars().count() > COMMENT_LIMIT => Err(validation_failed(vec![json!({
            "resource": "Issue",
            "code": "custom",
            "field": "body",
            "message": format!("body is too long (maximum is {COMMENT_LIMIT} characters)"),
        })])),
        other => Ok(other.map(str::to_string)),
    }
}

pub async fn create_issue(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let mut state = lock(&state);
    let full = match issues_of(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let request = match json_body(&bytes) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let title = match request.get("title") {
        Some(Value::String(title)) if !title.trim().is_empty() => title.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => {
            return validation_failed(vec![json!({
                "resource": "Issue", "code": "missing_field", "field": "title"
            })])
        }
    };
    let body = match checked_body(request.get("body").and_then(Value::as_str)) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let labels: Vec<String> = match request.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(name) => Some(name.clone()),
                other => other
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
            .collect(),
        Some(_) => {
            return validation_failed(vec![json!({
                "resource": "Issue", "code": "invalid", "field": "labels"
            })])
        }
    };
    let fake_repo = state.repos.get_mut(&full).expect("authorised");
    let number = fake_repo.next_number();
    let issue = FakeIssue {
        number,
        repo: full.clone(),
        title,
        body,
        state: "open".to_string(),
        labels,
        user_login: app_bot_login(),
        user_type: "Bot".to_string(),
        edits: 0,
    };
    fake_repo.issues.insert(number, issue.clone());
    state.posted.issue_written(&issue);
    (StatusCode::CREATED, Json(issue.json(&api_base(&headers)))).into_response()
}

pub async fn get_issue(
    State(state): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    let state = lock(&state);
    let full = match issues_of(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let fake_repo = &state.repos[&full];
    let api = api_base(&headers);
    match (fake_repo.issues.get(&number), fake_repo.pulls.get(&number)) {
        (Some(issue), _) => Json(issue.json(&api)).into_response(),
        (None, Some(pull)) => Json(pull.issue_json(fake_repo, &api)).into_response(),
        (None, None) => not_found(),
    }
}

/// Changes title, body, state or labels of a plain issue. (Pull requests are changed through
/// the pulls endpoint here.)
pub async fn update_issue(
    State(state): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let mut state = lock(&state);
    let full = match issues_of(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let request = match json_body(&bytes) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let body = match checked_body(request.get("body").and_then(Value::as_str)) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let new_state = request.get("state").and_then(Value::as_str);
    if new_state.is_some_and(|s| s != "open" && s != "closed") {
        return validation_failed(vec![json!({
            "resource": "Issue", "code": "invalid", "field": "state"
        })]);
    }
    let Some(issue) = state
        .repos
        .get_mut(&full)
        .and_then(|r| r.issues.get_mut(&number))
    else {
        return not_found();
    };
    if let Some(title) = request.get("title").and_then(Value::as_str) {
        if title.trim().is_empty() {
            return validation_failed(vec![json!({
                "resource": "Issue", "code": "missing_field", "field": "title"
            })]);
        }
        issue.title = title.to_string();
    }
    if body.is_some() {
        issue.body = body;
    }
    if let Some(new_state) = new_state {
        issue.state = new_state.to_string();
    }
    if let Some(Value::Array(labels)) = request.get("labels") {
        issue.labels = labels
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
    }
    issue.edits += 1;
    let issue = issue.clone();
    state.posted.issue_written(&issue);
    Json(issue.json(&api_base(&headers))).into_response()
}

/// `GET /repos/{o}/{r}/issues`: GitHub's defaults (`state=open`, newest first, 30 a page),
/// `labels` as a comma-separated list that every listed item carries, `sort=created` with
/// `direction=asc|desc`; pull requests included, with their `pull_request` key.
pub async fn list_issues(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let state = lock(&state);
    let full = match issues_of(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let wanted_state = query_value(&uri, "state").unwrap_or_else(|| "open".to_string());
    if !["open", "closed", "all"].contains(&wanted_state.as_str()) {
        return validation_failed(vec![json!({
            "resource": "Issue", "code": "invalid", "field": "state"
        })]);
    }
    let wanted_labels: Vec<String> = query_value(&uri, "labels")
        .map(|list| {
            list.split(',')
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let ascending = query_value(&uri, "direction").as_deref() == Some("asc");
    let fake_repo = &state.repos[&full];
    let api = api_base(&headers);
    let pull_labels = |number: u64| {
        fake_repo
            .pull_labels
            .get(&number)
            .cloned()
            .unwrap_or_default()
    };
    // (number, state, labels, json) of every issue and pull request.
    let mut items: Vec<(u64, String, Vec<String>, Value)> = fake_repo
        .issues
        .values()
        .map(|i| (i.number, i.state.clone(), i.labels.clone(), i.json(&api)))
        .chain(fake_repo.pulls.values().map(|p| {
            (
                p.number,
                p.state.clone(),
                pull_labels(p.number),
                p.issue_json(fake_repo, &api),
            )
        }))
        .filter(|(_, state, labels, _)| {
            (wanted_state == "all" || *state == wanted_state)
                && wanted_labels.iter().all(|w| labels.contains(w))
        })
        .collect();
    // Numbers grow with creation time here, so creation order is number order.
    items.sort_by_key(|(number, ..)| *number);
    if !ascending {
        items.reverse();
    }
    let items: Vec<Value> = items.into_iter().map(|(.., json)| json).collect();
    paginate(items, &uri, &headers, state.list_page_size)
}

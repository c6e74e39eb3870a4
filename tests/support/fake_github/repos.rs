//! The fake's repository endpoints: comments and reactions, check runs, collaborator
//! permissions, pull requests and the Git Data API, with GitHub's documented answers and errors.
//!
//! Helpers return the error response itself (`Result<_, Response>`), as axum handlers do.
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::{json, Value};

use super::git;
use super::model::{app_bot_login, FakeCheckRun, FakePull};
use super::{check_installation_token, error, FakeState};

type Shared = Arc<Mutex<FakeState>>;

/// GitHub's limit on a comment body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;
/// GitHub's limit on a check run's summary and text, in characters.
pub const CHECK_TEXT_LIMIT: usize = 65_535;
pub const ANNOTATIONS_PER_REQUEST: usize = 50;

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(super) fn api_base(headers: &HeaderMap) -> String {
    format!(
        "http://{}",
        headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
    )
}

/// 422 "Validation Failed" with GitHub's `errors` list.
pub(super) fn validation_failed(errors: Vec<Value>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "message": "Validation Failed",
            "errors": errors,
            "documentation_url": "https://docs.github.com/rest",
        })),
    )
        .into_response()
}

fn unprocessable(message: &str) -> Response {
    error(StatusCode::UNPROCESSABLE_ENTITY, message)
}

pub(super) fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

/// The JSON body, or GitHub's 400 for a body that is not JSON.
pub(super) fn json_body(bytes: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(bytes)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "Problems parsing JSON"))
}

/// Checks the installation token and that the repository exists; its full name.
pub(super) fn authorise(
    state: &FakeState,
    headers: &HeaderMap,
    owner: &str,
    repo: &str,
) -> Result<String, Response> {
    check_installation_token(state, headers).map_err(IntoResponse::into_response)?;
    let full_name = format!("{owner}/{repo}");
    if state.repos.contains_key(&full_name) {
        Ok(full_name)
    } else {
        Err(not_found())
    }
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(super) fn query_value(uri: &Uri, key: &str) -> Option<String> {
    query_pairs(uri)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// One page of `items` (`page`/`per_page` as GitHub reads them, per_page ≤ 100 and ≤ the
/// fake's page size), with `Link` `next`/`last` relations keeping the other query parameters.
pub(super) fn paginate(
    items: Vec<Value>,
    uri: &Uri,
    headers: &HeaderMap,
    page_size: usize,
) -> Response {
    let per_page = query_value(uri, "per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30usize)
        .clamp(1, 100)
        .min(page_size.max(1));
    let page = query_value(uri, "page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let shown: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut response = Json(Value::Array(shown)).into_response();
    if page < last {
        let link_to = |target: usize| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (key, value) in query_pairs(uri) {
                if key != "page" && key != "per_page" {
                    query.append_pair(&key, &value);
                }
            }
            query.append_pair("per_page", &per_page.to_string());
            query.append_pair("page", &target.to_string());
            format!("<{}{}?{}>", api_base(headers), uri.path(), query.finish())
        };
        let link = format!(
            "{}; rel=\"next\", {}; rel=\"last\"",
            link_to(page + 1),
            link_to(last)
        );
        if let Ok(value) = axum::http::HeaderValue::try_from(link) {
            response.headers_mut().insert("link", value);
        }
    }
    response
}

// ---------------------------------------------------------------------------------------
// Issue comments and reactions

pub async fn list_comments(
    State(state): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    if !state.repos[&full].has_issue(number) {
        return not_found();
    }
    let api = api_base(&headers);
    let items: Vec<Value> = state
        .comments
        .iter()
        .filter(|c| c.repo == full && c.issue_number == number)
        .map(|c| c.json(&api))
        .collect();
    paginate(items, &uri, &headers, state.list_page_size)
}

fn body_field(value: &Value, resource: &str) -> Result<String, Response> {
    let Some(body) = value.get("body").and_then(Value::as_str) else {
        return Err(validation_failed(vec![json!({
            "resource": resource, "code": "missing_field", "field": "body"
        })]));
    };
    if body.chars().count() > COMMENT_LIMIT {
        return Err(validation_failed(vec![json!({
            "resource": resource,
            "code": "unprocessable",
            "field": "data",
            "message": format!("Body is too long (maximum is {COMMENT_LIMIT} characters)"),
        })]));
    }
    Ok(body.to_string())
}

pub async fn create_comment(
    State(state): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let mut state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    if !state.repos[&full].has_issue(number) {
        return not_found();
    }
    let body = match json_body(&bytes).and_then(|v| body_field(&v, "IssueComment")) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let comment = state.add_comment(&full, number, &app_bot_login(), "Bot", &body);
    state.posted.comment_written(&comment);
    (StatusCode::CREATED, Json(comment.json(&api_base(&headers)))).into_response()
}

fn comment_index(state: &FakeState, full: &str, id: u64) -> Option<usize> {
    state
        .comments
        .iter()
        .position(|c| c.id == id && c.repo == full)
}

pub async fn get_comment(
    State(state): State<Shared>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    match comment_index(&state, &full, id) {
        Some(index) => Json(state.comments[index].json(&api_base(&headers))).into_response(),
        None => not_found(),
    }
}

pub async fn update_comment(
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
    let Some(index) = comment_index(&state, &full, id) else {
        return not_found();
    };
    let body = match json_body(&bytes).and_then(|v| body_field(&v, "IssueComment")) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    // An App may edit only its own comments.
    if state.comments[index].user_login != app_bot_login() {
        return error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        );
    }
    let comment = &mut state.comments[index];
    comment.body = body;
    comment.updated_at = now_rfc3339();
    comment.edits += 1;
    let comment = comment.clone();
    state.posted.comment_written(&comment);
    Json(comment.json(&api_base(&headers))).into_response()
}

pub async fn delete_comment(
    State(state): State<Shared>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let Some(index) = comment_index(&state, &full, id) else {
        return not_found();
    };
    if state.comments[index].user_login != app_bot_login() {
        return error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        );
    }
    let removed = state.comments.remove(index);
    state.deleted_comments.push(removed);
    StatusCode::NO_CONTENT.into_response()
}

const REACTIONS: [&str; 8] = [
    "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
];

pub async fn create_reaction(
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
    let value = match json_body(&bytes) {
        Ok(value) => value,
        Err(refused) => return refused,
    };
    let content = value
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !REACTIONS.contains(&content.as_str()) {
        return validation_failed(vec![json!({
            "resource": "Reaction", "code": "invalid", "field": "content", "value": content
        })]);
    }
    let Some(index) = comment_index(&state, &full, id) else {
        return not_found();
    };
    let login = app_bot_login();
    let comment = &mut state.comments[index];
    let exists = comment
        .reactions
        .iter()
        .any(|(user, c)| *user == login && *c == content);
    let reaction_id = id * 100 + REACTIONS.iter().position(|r| *r == content).unwrap_or(0) as u64;
    let body = json!({
        "id": reaction_id,
        "content": content,
        "user": { "login": login, "type": "Bot" },
        "created_at": now_rfc3339(),
    });
    if exists {
        (StatusCode::OK, Json(body)).into_response()
    } else {
        comment.reactions.push((login, content.clone()));
        let comment = comment.clone();
        state.posted.reaction_added(&comment, &content);
        (StatusCode::CREATED, Json(body)).into_response()
    }
}

// ---------------------------------------------------------------------------------------
// Check runs

const STATUSES: [&str; 3] = ["queued", "in_progress", "completed"];
const CONCLUSIONS: [&str; 7] = [
    "success",
    "failure",
    "neutral",
    "cancelled",
    "timed_out",
    "action_required",
    "skipped",
];
const LEVELS: [&str; 3] = ["notice", "warning", "failure"];

/// GitHub's checks of `output`: title and summary present, summary and text within the limit,
/// at most 50 annotations, each complete.
fn validate_output(output: &Value) -> Result<(), Response> {
    let invalid = |field: &str, message: String| {
        validation_failed(vec![json!({
            "resource": "CheckRun", "code": "invalid", "field": field, "message": message
        })])
    };
    for field in ["title", "summary"] {
        if output.get(field).and_then(Value::as_str).is_none() {
            return Err(validation_failed(vec![json!({
                "resource": "CheckRun", "code": "missing_field", "field": format!("output.{field}")
            })]));
        }
    }
    for field in ["summary", "text"] {
        if let Some(text) = output.get(field).and_then(Value::as_str) {
            let length = text.chars().count();
            if length > CHECK_TEXT_LIMIT {
                return Err(invalid(
                    &format!("output.{field}"),
                    format!("output.{field} is too long (maximum is {CHECK_TEXT_LIMIT} characters, got {length})"),
                ));
            }
        }
    }
    if let Some(annotations) = output.get("annotations") {
        let Some(list) = annotations.as_array() else {
            return Err(invalid("output.annotations", "must be an array".into()));
        };
        if list.len() > ANNOTATIONS_PER_REQUEST {
            return Err(invalid(
                "output.annotations",
                format!(
                    "Only {ANNOTATIONS_PER_REQUEST} annotations are allowed per request, got {}",
                    list.len()
                ),
            ));
        }
        for annotation in list {
            let complete = annotation.get("path").and_then(Value::as_str).is_some()
                && annotation
                    .get("start_line")
                    .and_then(Value::as_u64)
                    .is_some()
                && annotation.get("end_line").and_then(Value::as_u64).is_some()
                && annotation.get("message").and_then(Value::as_str).is_some()
                && annotation
                    .get("annotation_level")
                    .and_then(Value::as_str)
                    .is_some_and(|l| LEVELS.contains(&l));
            if !complete {
                return Err(invalid(
                    "output.annotations",
                    format!("incomplete annotation: {annotation}"),
                ));
            }
            let multi_line = annotation["start_line"] != annotation["end_line"];
            if multi_line && annotation.get("start_column").is_some() {
                return Err(invalid(
                    "output.annotations",
                    "start_column and end_column may only be used on a single line".into(),
                ));
            }
        }
    }
    Ok(())
}

/// Applies status, conclusion and output of a create or update body to `run`.
fn apply_check_fields(run: &mut FakeCheckRun, body: &Value) -> Result<(), Response> {
    if let Some(status) = body.get("status").and_then(Value::as_str) {
        if !STATUSES.contains(&status) {
            return Err(validation_failed(vec![json!({
                "resource": "CheckRun", "code": "invalid", "field": "status", "value": status
            })]));
        }
    }
    if let Some(conclusion) = body.get("conclusion").and_then(Value::as_str) {
        if !CONCLUSIONS.contains(&conclusion) {
            return Err(validation_failed(vec![json!({
                "resource": "CheckRun", "code": "invalid", "field": "conclusion", "value": conclusion
            })]));
        }
    }
    let status = body.get("status").and_then(Value::as_str);
    let conclusion = body.get("conclusion").and_then(Value::as_str);
    if status == Some("completed") && conclusion.is_none() && run.conclusion.is_none() {
        return Err(unprocessable(
            "Conclusion is required when status is completed",
        ));
    }
    if let Some(output) = body.get("output") {
        validate_output(output)?;
    }
    if let Some(status) = status {
        run.status = status.to_string();
    }
    if let Some(conclusion) = conclusion {
        run.conclusion = Some(conclusion.to_string());
        run.status = "completed".to_string();
    }
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        run.name = name.to_string();
    }
    if let Some(url) = body.get("details_url").and_then(Value::as_str) {
        run.details_url = Some(url.to_string());
    }
    if let Some(output) = body.get("output") {
        run.title = output
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_string);
        run.summary = output
            .get("summary")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(text) = output.get("text").and_then(Value::as_str) {
            run.text = Some(text.to_string());
        }
        if let Some(list) = output.get("annotations").and_then(Value::as_array) {
            run.annotations.extend(list.iter().cloned());
        }
    }
    run.status_history.push(run.status.clone());
    Ok(())
}

pub async fn create_check_run(
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
    let (Some(name), Some(head_sha)) = (
        body.get("name").and_then(Value::as_str),
        body.get("head_sha").and_then(Value::as_str),
    ) else {
        return validation_failed(vec![json!({
            "resource": "CheckRun", "code": "missing_field", "field": "name or head_sha"
        })]);
    };
    if let Some(bare) = &state.repos[&full].bare {
        if git::object_type(bare, head_sha).as_deref() != Some("commit") {
            return unprocessable(&format!("No commit found for SHA: {head_sha}"));
        }
    }
    state.next_id += 1;
    let mut run = FakeCheckRun {
        id: state.next_id,
        repo: full,
        name: name.to_string(),
        head_sha: head_sha.to_string(),
        status: "queued".to_string(),
        conclusion: None,
        title: None,
        summary: None,
        text: None,
        annotations: Vec::new(),
        details_url: None,
        external_id: body
            .get("external_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        status_history: Vec::new(),
    };
    if let Err(refused) = apply_check_fields(&mut run, &body) {
        return refused;
    }
    let json = run.json(&api_base(&headers));
    state.posted.check_run_written(&run);
    state.check_runs.push(run);
    (StatusCode::CREATED, Json(json)).into_response()
}

pub async fn update_check_run(
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
    let Some(run) = state
        .check_runs
        .iter_mut()
        .find(|r| r.id == id && r.repo == full)
    else {
        return not_found();
    };
    if let Err(refused) = apply_check_fields(run, &body) {
        return refused;
    }
    let run = run.clone();
    state.posted.check_run_written(&run);
    Json(run.json(&api_base(&headers))).into_response()
}

pub async fn get_check_run(
    State(state): State<Shared>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    match state
        .check_runs
        .iter()
        .find(|r| r.id == id && r.repo == full)
    {
        Some(run) => Json(run.json(&api_base(&headers))).into_response(),
        None => not_found(),
    }
}

#[derive(serde::Deserialize)]
pub struct CheckRunsQuery {
    check_name: Option<String>,
}

/// `GET /repos/{o}/{r}/commits/{ref}/check-runs`: the check runs on a commit (by sha), newest
/// first, optionally of one name, as `{total_count, check_runs}`.
pub async fn list_check_runs_for_ref(
    State(state): State<Shared>,
    Path((owner, repo, reference)): Path<(String, String, String)>,
    Query(query): Query<CheckRunsQuery>,
    headers: HeaderMap,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let api = api_base(&headers);
    let runs: Vec<Value> = state
        .check_runs
        .iter()
        .rev()
        .filter(|r| r.repo == full && r.head_sha == reference)
        .filter(|r| query.check_name.as_ref().is_none_or(|name| &r.name == name))
        .map(|r| r.json(&api))
        .collect();
    Json(json!({ "total_count": runs.len(), "check_runs": runs })).into_response()
}

// ---------------------------------------------------------------------------------------
// Collaborator permissions

/// GitHub's answer: a collaborator's role (maintain reports as write, triage as read); a
/// GitHub user without access to this private repository has `none`; a login that is no
/// user (a bot, a typo) is 404 "… is not a user".
pub async fn collaborator_permission(
    State(state): State<Shared>,
    Path((owner, repo, user)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let role = state.repos[&full].collaborators.get(&user).cloned();
    let role = match role {
        Some(role) => role,
        None if state.users.contains(&user) => "none".to_string(),
        None => return error(StatusCode::NOT_FOUND, &format!("{user} is not a user")),
    };
    let permission = match role.as_str() {
        "maintain" => "write",
        "triage" => "read",
        other => other,
    };
    Json(json!({
        "permission": permission,
        "role_name": role,
        "user": { "login": user, "type": "User" },
    }))
    .into_response()
}

// ---------------------------------------------------------------------------------------
// Pull requests

pub async fn list_pulls(
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
    let wanted_state = query_value(&uri, "state").unwrap_or_else(|| "open".to_string());
    let head = query_value(&uri, "head");
    let base = query_value(&uri, "base");
    let fake_repo = &state.repos[&full];
    let api = api_base(&headers);
    let items: Vec<Value> = fake_repo
        .pulls
        .values()
        .filter(|p| wanted_state == "all" || p.state == wanted_state)
        .filter(|p| base.as_deref().is_none_or(|b| b == p.base_ref))
        .filter(|p| {
            head.as_deref().is_none_or(|h| {
                let head_owner = p
                    .head_repo
                    .as_deref()
                    .and_then(|f| f.split_once('/'))
                    .map_or(fake_repo.owner(), |(o, _)| o);
                h == format!("{head_owner}:{}", p.head_ref)
            })
        })
        .map(|p| p.json(fake_repo, &api))
        .collect();
    paginate(items, &uri, &headers, state.list_page_size)
}

/// The pull requests a commit belongs to: the one it was merged as, and open ones whose head
/// it is (GitHub also lists closed ones containing it; scenarios never need those).
pub async fn pulls_of_commit(
    State(state): State<Shared>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let fake_repo = &state.repos[&full];
    let api = api_base(&headers);
    let items: Vec<Value> = fake_repo
        .pulls
        .values()
        .filter(|p| {
            p.merge_commit_sha.as_deref() == Some(sha.as_str())
                || (p.merged && p.merged_commits.contains(&sha))
                || (p.state == "open" && p.current_head_sha(fake_repo) == sha)
        })
        .map(|p| p.json(fake_repo, &api))
        .collect();
    paginate(items, &uri, &headers, state.list_page_size)
}

/// A pull request's reviews, oldest first. A pending review is shown only to its author, and
/// the App never authors one, so pending reviews are not listed.
pub async fn list_reviews(
    State(state): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let fake_repo = &state.repos[&full];
    if !fake_repo.pulls.contains_key(&number) {
        return not_found();
    }
    let api = api_base(&headers);
    let items: Vec<Value> = fake_repo
        .reviews
        .iter()
        .filter(|r| r.pull_number == number && r.state != "PENDING")
        .map(|r| r.json(&api))
        .collect();
    paginate(items, &uri, &headers, state.list_page_size)
}

pub async fn get_pull(
    State(state): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let fake_repo = &state.repos[&full];
    match fake_repo.pulls.get(&number) {
        Some(pull) => Json(pull.json(fake_repo, &api_base(&headers))).into_response(),
        None => not_found(),
    }
}

pub async fn create_pull(
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
    let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let (Some(title), Some(head), Some(base)) = (field("title"), field("head"), field("base"))
    else {
        return validation_failed(vec![json!({
            "resource": "PullRequest", "code": "missing_field", "field": "title, head or base"
        })]);
    };
    // `owner:branch` names a branch of this repository's owner; only same-repository heads here.
    let head_ref = match head.split_once(':') {
        Some((head_owner, branch)) if head_owner == owner => branch.to_string(),
        Some(_) => {
            return validation_failed(vec![json!({
                "resource": "PullRequest", "field": "head", "code": "invalid"
            })])
        }
        None => head.clone(),
    };
    let fake_repo = &state.repos[&full];
    if let Some(bare) = &fake_repo.bare {
        let head_sha = git::resolve_ref(bare, &format!("refs/heads/{head_ref}"));
        let base_sha = git::resolve_ref(bare, &format!("refs/heads/{base}"));
        let Some(head_sha) = head_sha else {
            return validation_failed(vec![json!({
                "resource": "PullRequest", "field": "head", "code": "invalid"
            })]);
        };
        let Some(base_sha) = base_sha else {
            return validation_failed(vec![json!({
                "resource": "PullRequest", "field": "base", "code": "invalid"
            })]);
        };
        if git::is_ancestor(bare, &head_sha, &base_sha) {
            return validation_failed(vec![json!({
                "resource": "PullRequest", "code": "custom",
                "message": format!("No commits between {base} and {head_ref}")
            })]);
        }
    }
    let duplicate = fake_repo
        .pulls
        .values()
        .any(|p| p.state == "open" && p.head_repo.is_none() && p.head_ref == head_ref);
    if duplicate {
        return validation_failed(vec![json!({
            "resource": "PullRequest", "code": "custom",
            "message": format!("A pull request already exists for {owner}:{head_ref}.")
        })]);
    }
    let number = fake_repo.next_number();
    let pull = FakePull {
        number,
        title,
        body: field("body"),
        state: "open".to_string(),
        merged: false,
        merge_commit_sha: None,
        draft: body.get("draft").and_then(Value::as_bool).unwrap_or(false),
        user: app_bot_login(),
        head_ref,
        head_repo: None,
        head_sha: None,
        base_ref: base,
        merged_commits: Vec::new(),
    };
    let fake_repo = state.repos.get_mut(&full).expect("checked above");
    fake_repo.pulls.insert(number, pull);
    fake_repo.write_pull_ref(number);
    let json = fake_repo.pulls[&number].json(fake_repo, &api_base(&headers));
    (StatusCode::CREATED, Json(json)).into_response()
}

pub async fn update_pull(
    State(state): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
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
    let fake_repo = state.repos.get_mut(&full).expect("authorised");
    let Some(pull) = fake_repo.pulls.get_mut(&number) else {
        return not_found();
    };
    if let Some(title) = body.get("title").and_then(Value::as_str) {
        pull.title = title.to_string();
    }
    if let Some(text) = body.get("body").and_then(Value::as_str) {
        pull.body = Some(text.to_string());
    }
    if let Some(new_state) = body.get("state").and_then(Value::as_str) {
        if new_state != "open" && new_state != "closed" {
            return validation_failed(vec![json!({
                "resource": "PullRequest", "field": "state", "code": "invalid"
            })]);
        }
        pull.state = new_state.to_string();
    }
    if let Some(base) = body.get("base").and_then(Value::as_str) {
        pull.base_ref = base.to_string();
    }
    let fake_repo = &state.repos[&full];
    Json(fake_repo.pulls[&number].json(fake_repo, &api_base(&headers))).into_response()
}

// ---------------------------------------------------------------------------------------
// Git Data API, written into the bare repository

fn bare_of(state: &FakeState, full: &str) -> Result<std::path::PathBuf, Response> {
    state.repos[full]
        .bare
        .clone()
        .ok_or_else(|| error(StatusCode::CONFLICT, "Git Repository is empty."))
}

pub async fn get_ref(
    State(state): State<Shared>,
    Path((owner, repo, reference)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let bare = match bare_of(&state, &full) {
        Ok(bare) => bare,
        Err(refused) => return refused,
    };
    let full_ref = format!("refs/{reference}");
    match git::resolve_ref(&bare, &full_ref) {
        Some(sha) => Json(json!({
            "ref": full_ref,
            "object": { "sha": sha, "type": "commit" },
        }))
        .into_response(),
        None => not_found(),
    }
}

pub async fn create_ref(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let bare = match bare_of(&state, &full) {
        Ok(bare) => bare,
        Err(refused) => return refused,
    };
    let body = match json_body(&bytes) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let (Some(full_ref), Some(sha)) = (
        body.get("ref").and_then(Value::as_str),
        body.get("sha").and_then(Value::as_str),
    ) else {
        return validation_failed(vec![json!({
            "resource": "Reference", "code": "missing_field", "field": "ref or sha"
        })]);
    };
    if !full_ref.starts_with("refs/") || full_ref.matches('/').count() < 2 {
        return unprocessable(
            "Reference name must start with 'refs/' and have at least two slashes.",
        );
    }
    if git::object_type(&bare, sha).is_none() {
        return unprocessable("Object does not exist");
    }
    match git::update_ref(&bare, full_ref, sha, None) {
        Ok(()) => (
            StatusCode::CREATED,
            Json(json!({ "ref": full_ref, "object": { "sha": sha, "type": "commit" } })),
        )
            .into_response(),
        Err(_) => unprocessable("Reference already exists"),
    }
}

pub async fn update_ref(
    State(state): State<Shared>,
    Path((owner, repo, reference)): Path<(String, String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let mut state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let bare = match bare_of(&state, &full) {
        Ok(bare) => bare,
        Err(refused) => return refused,
    };
    let body = match json_body(&bytes) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let Some(sha) = body.get("sha").and_then(Value::as_str) else {
        return validation_failed(vec![json!({
            "resource": "Reference", "code": "missing_field", "field": "sha"
        })]);
    };
    let force = body.get("force").and_then(Value::as_bool).unwrap_or(false);
    let full_ref = format!("refs/{reference}");
    if let Some(change) = state.due_ref_change(&full, &full_ref) {
        change(&bare);
    }
    let Some(current) = git::resolve_ref(&bare, &full_ref) else {
        return unprocessable("Reference does not exist");
    };
    if git::object_type(&bare, sha).as_deref() != Some("commit") {
        return unprocessable("Object does not exist");
    }
    if !force && !git::is_ancestor(&bare, &current, sha) {
        return unprocessable("Update is not a fast forward");
    }
    match git::update_ref(&bare, &full_ref, sha, Some(&current)) {
        Ok(()) => Json(json!({ "ref": full_ref, "object": { "sha": sha, "type": "commit" } }))
            .into_response(),
        // The ref moved between the check and the update.
        Err(_) => unprocessable("Update is not a fast forward"),
    }
}

pub async fn create_blob(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let bare = match bare_of(&state, &full) {
        Ok(bare) => bare,
        Err(refused) => return refused,
    };
    let body = match json_body(&bytes) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let Some(content) = body.get("content").and_then(Value::as_str) else {
        return validation_failed(vec![json!({
            "resource": "Blob", "code": "missing_field", "field": "content"
        })]);
    };
    let data = match body
        .get("encoding")
        .and_then(Value::as_str)
        .unwrap_or("utf-8")
    {
        "utf-8" => content.as_bytes().to_vec(),
        "base64" => {
            let compact: String = content.split_whitespace().collect();
            match base64::engine::general_purpose::STANDARD.decode(compact) {
                Ok(data) => data,
                Err(_) => return unprocessable("Invalid base64 content"),
            }
        }
        other => {
            return validation_failed(vec![json!({
                "resource": "Blob", "code": "invalid", "field": "encoding", "value": other
            })])
        }
    };
    match git::write_blob(&bare, &data) {
        Ok(sha) => (
            StatusCode::CREATED,
            Json(json!({ "sha": sha, "url": format!("{}/repos/{full}/git/blobs/{sha}", api_base(&headers)) })),
        )
            .into_response(),
        Err(message) => error(StatusCode::INTERNAL_SERVER_ERROR, &message),
    }
}

pub async fn create_tree(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let bare = match bare_of(&state, &full) {
        Ok(bare) => bare,
        Err(refused) => return refused,
    };
    let body = match json_body(&bytes) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let base_tree = body.get("base_tree").and_then(Value::as_str);
    if let Some(tree) = base_tree {
        if git::object_type(&bare, tree).as_deref() != Some("tree") {
            return unprocessable("base_tree is not a valid tree oid");
        }
    }
    let Some(entries) = body.get("tree").and_then(Value::as_array) else {
        return validation_failed(vec![json!({
            "resource": "Tree", "code": "missing_field", "field": "tree"
        })]);
    };
    let mut edits = Vec::new();
    for entry in entries {
        let path = entry.get("path").and_then(Value::as_str).unwrap_or("");
        let mode = entry.get("mode").and_then(Value::as_str).unwrap_or("");
        let kind = entry.get("type").and_then(Value::as_str).unwrap_or("");
        if path.is_empty() || path.starts_with('/') || path.ends_with('/') {
            return unprocessable(&format!(
                "tree.path contains a malformed path component: {path:?}"
            ));
        }
        let known = match kind {
            "blob" => ["100644", "100755", "120000"].contains(&mode),
            "tree" => mode == "040000",
            _ => false,
        };
        if !known {
            // Blobs and trees, as GitHub documents them; submodules (`160000` `commit`) are
            // refused by this fake.
            return unprocessable(&format!(
                "tree entry {path:?}: mode {mode} type {kind} is not supported"
            ));
        }
        let sha = match (
            entry.get("sha"),
            entry.get("content").and_then(Value::as_str),
        ) {
            (Some(Value::Null), _) => None,
            (Some(Value::String(sha)), _) => {
                if git::object_type(&bare, sha).as_deref() != Some(kind) {
                    return unprocessable(&format!("tree.sha {sha} is not a valid {kind}"));
                }
                Some(sha.clone())
            }
            (_, Some(_)) if kind == "tree" => {
                return unprocessable(&format!(
                    "tree entry {path:?}: content is for blobs; a tree needs a sha"
                ))
            }
            (_, Some(content)) => match git::write_blob(&bare, content.as_bytes()) {
                Ok(sha) => Some(sha),
                Err(message) => return error(StatusCode::INTERNAL_SERVER_ERROR, &message),
            },
            _ => return unprocessable(&format!("tree entry {path:?} has neither sha nor content")),
        };
        edits.push(git::TreeEdit {
            path: path.to_string(),
            mode: mode.to_string(),
            kind: kind.to_string(),
            sha,
        });
    }
    match git::write_tree(&bare, base_tree, &edits) {
        Ok(sha) => (
            StatusCode::CREATED,
            Json(json!({ "sha": sha, "truncated": false })),
        )
            .into_response(),
        Err(message) => unprocessable(&message),
    }
}

pub async fn get_commit(
    State(state): State<Shared>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let state = lock(&state);
    let full = match authorise(&state, &headers, &owner, &repo) {
        Ok(full) => full,
        Err(refused) => return refused,
    };
    let bare = match bare_of(&state, &full) {
        Ok(bare) => bare,
        Err(refused) => return refused,
    };
    match git::commit_info(&bare, &sha) {
        Some((tree, parents, message)) => Json(json!({
            "sha": sha,
            "tree": { "sha": tree },
            "parents": parents.iter().map(|p| json!({ "sha": p })).collect::<Vec<_>>(),
            "message": message,
        }))
        .into_response(),
        None => not_found(),
    }
}

pub async fn create_commit(
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
    let bare = match bare_of(&state, &full) {
        Ok(bare) => bare,
        Err(refused) => return refused,
    };
    let body = match json_body(&bytes) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let (Some(message), Some(tree)) = (
        body.get("message").and_then(Value::as_str),
        body.get("tree").and_then(Value::as_str),
    ) else {
        return validation_failed(vec![json!({
            "resource": "Commit", "code": "missing_field", "field": "message or tree"
        })]);
    };
    if git::object_type(&bare, tree).as_deref() != Some("tree") {
        return unprocessable("Tree SHA does not exist");
    }
    let mut parents = Vec::new();
    for parent in body
        .get("parents")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let Some(parent) = parent.as_str() else {
            return unprocessable("Parent SHA does not exist or is not a commit object");
        };
        if git::object_type(&bare, parent).as_deref() != Some("commit") {
            return unprocessable("Parent SHA does not exist or is not a commit object");
        }
        parents.push(parent.to_string());
    }
    // With no author, committer or signature, GitHub authors the commit as the App's bot and
    // signs it: it shows as Verified.
    let explicit = ["author", "committer", "signature"]
        .iter()
        .any(|key| body.get(*key).is_some_and(|v| !v.is_null()));
    let (name, email) = match body.get("author") {
        Some(author) if !author.is_null() => (
            author["name"].as_str().unwrap_or("unknown").to_string(),
            author["email"]
                .as_str()
                .unwrap_or("unknown@example.com")
                .to_string(),
        ),
        _ => (
            app_bot_login(),
            format!("{}+{}@users.noreply.github.com", 1000, app_bot_login()),
        ),
    };
    match git::commit_tree(&bare, tree, &parents, message, &name, &email) {
        Ok(sha) => {
            state.verified_commits.insert(sha.clone(), !explicit);
            (
                StatusCode::CREATED,
                Json(json!({
                    "sha": sha,
                    "tree": { "sha": tree },
                    "parents": parents.iter().map(|p| json!({ "sha": p })).collect::<Vec<_>>(),
                    "message": message,
                    "author": { "name": name, "email": email },
                    "verification": {
                        "verified": !explicit,
                        "reason": if explicit { "unsigned" } else { "valid" },
                    },
                })),
            )
                .into_response()
        }
        Err(message) => error(StatusCode::INTERNAL_SERVER_ERROR, &message),
    }
}

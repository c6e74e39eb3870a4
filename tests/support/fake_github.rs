//! A fake GitHub: an in-process axum server that slipway's real client talks to over loopback.
//!
//! It keeps a small model of GitHub (the App, its installations and tokens, the App's webhook
//! delivery log, manifest conversions; repositories with their comments and reactions, check
//! runs, deployments, collaborators and pull requests), records every request, answers with
//! GitHub's documented shapes and errors, and can be told to fail the next requests to a path (5xx,
//! rate limits). Repositories may be backed by real bare git repositories the test creates:
//! the Git Data API then writes blobs, trees, commits and refs into them with git plumbing, so
//! a test verifies a commit by reading the real repository.

#![allow(dead_code)]

mod deployments;
mod git;
mod issues;
mod model;
mod posted;
mod repos;

#[allow(unused_imports)]
pub use deployments::{FakeDeployment, FakeDeploymentStatus};
#[allow(unused_imports)]
pub use model::{
    app_bot_login, FakeCheckRun, FakeComment, FakeIssue, FakePull, FakeRepo, FakeReview, PullSpec,
    APP_SLUG, REVIEW_STATES,
};

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path as FsPath;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use time::OffsetDateTime;

pub const APP_ID: u64 = 4242;
pub const PUBLIC_KEY_PEM: &str = include_str!("../fixtures/app-public-key.pem");
pub const PRIVATE_KEY_PEM: &str = include_str!("../fixtures/app-private-key.pem");

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub body: Value,
}

/// A canned failure for the next request(s) whose path starts with a prefix.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub message: String,
}

impl Failure {
    pub fn server_error() -> Self {
        Failure {
            status: 502,
            headers: vec![],
            message: "Server Error".to_string(),
        }
    }

    /// GitHub's 202 to a deployment whose ref it merged `base` into instead (what it does when
    /// `auto_merge` is not false and the ref is behind the default branch).
    pub fn auto_merged(base: &str, head: &str) -> Self {
        Failure {
            status: 202,
            headers: vec![],
            message: format!("Auto-merged {base} into {head} on deployment."),
        }
    }

    /// A secondary rate limit with `retry-after`, as GitHub sends it.
    pub fn secondary_rate_limit(retry_after_secs: u64) -> Self {
        Failure {
            status: 403,
            headers: vec![("retry-after".to_string(), retry_after_secs.to_string())],
            message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
                .to_string(),
        }
    }

    /// The primary rate limit exhausted until `reset` (Unix seconds).
    pub fn primary_rate_limit(reset: i64) -> Self {
        Failure {
            status: 403,
            headers: vec![
                ("x-ratelimit-remaining".to_string(), "0".to_string()),
                ("x-ratelimit-reset".to_string(), reset.to_string()),
                ("x-ratelimit-resource".to_string(), "core".to_string()),
            ],
            message: "API rate limit exceeded for installation.".to_string(),
        }
    }
}

/// An entry of the App's webhook delivery log (`GET /app/hook/deliveries`).
#[derive(Debug, Clone)]
pub struct LoggedDelivery {
    pub id: i64,
    pub guid: String,
    pub event: String,
    pub action: Option<String>,
    pub status_code: u16,
    pub redelivery: bool,
    pub payload: Value,
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub installation_id: i64,
    pub expires_at: OffsetDateTime,
    pub revoked: bool,
}

#[derive(Default)]
pub struct FakeState {
    pub installations: Vec<i64>,
    pub tokens: HashMap<String, IssuedToken>,
    pub token_ttl: Duration,
    pub requests: Vec<RecordedRequest>,
    pub failures: Vec<(String, VecDeque<Failure>)>,
    /// Requests whose `METHOD path` starts with a prefix are answered only after a delay.
    pub delays: Vec<(String, VecDeque<Duration>)>,
    pub deliveries: Vec<LoggedDelivery>,
    pub delivery_page_size: usize,
    pub manifest_conversions: HashMap<String, Value>,
    /// Where redeliveries are sent, and the secret they are signed with.
    pub hook: Option<(String, String)>,
    pub repositories: Vec<String>,
    /// Repositories by `owner/name`.
    pub repos: BTreeMap<String, FakeRepo>,
    /// Logins of GitHub users that exist (collaborators are added automatically).
    pub users: BTreeSet<String>,
    pub comments: Vec<FakeComment>,
    pub deleted_comments: Vec<FakeComment>,
    pub check_runs: Vec<FakeCheckRun>,
    /// Deployments of every repository, oldest first.
    pub deployments: Vec<FakeDeployment>,
    /// Commits made through the Git Data API: sha → whether GitHub would show it Verified.
    pub verified_commits: HashMap<String, bool>,
    /// The last id handed out (comments, check runs).
    pub next_id: u64,
    /// The most items a list endpoint returns per page (GitHub: 100).
    pub list_page_size: usize,
    /// What the App posted, and what of it the test has read.
    pub posted: posted::PostedLog,
    /// Run before the next ref updates of a branch (see [`FakeGitHub::before_ref_update`]).
    pub ref_update_hooks: Vec<RefUpdateHook>,
}

/// Something that happens to a bare repository just before GitHub processes a ref update.
pub type RefChange = Arc<dyn Fn(&FsPath) + Send + Sync>;

/// [`RefChange`] for the next `remaining` updates of `reference` (`refs/heads/main`) of `repo`.
pub struct RefUpdateHook {
    pub repo: String,
    pub reference: String,
    pub remaining: usize,
    pub change: RefChange,
}

impl FakeState {
    /// The change due before this update of `reference` of `repo`, if any (counted down).
    pub fn due_ref_change(&mut self, repo: &str, reference: &str) -> Option<RefChange> {
        let hook = self
            .ref_update_hooks
            .iter_mut()
            .find(|h| h.repo == repo && h.reference == reference && h.remaining > 0)?;
        hook.remaining -= 1;
        let change = hook.change.clone();
        self.ref_update_hooks.retain(|h| h.remaining > 0);
        Some(change)
    }
}

impl FakeState {
    fn repo_entry(&mut self, full_name: &str) -> &mut FakeRepo {
        if !self.repositories.iter().any(|r| r == full_name) {
            self.repositories.push(full_name.to_string());
        }
        self.repos
            .entry(full_name.to_string())
            .or_insert_with(|| FakeRepo::new(full_name, None))
    }

    /// Adds a comment as `login` and returns it.
    pub fn add_comment(
        &mut self,
        repo: &str,
        number: u64,
        login: &str,
        user_type: &str,
        body: &str,
    ) -> FakeComment {
        self.next_id += 1;
        let now = repos::now_rfc3339();
        let comment = FakeComment {
            id: self.next_id,
            repo: repo.to_string(),
            issue_number: number,
            body: body.to_string(),
            user_login: login.to_string(),
            user_type: user_type.to_string(),
            created_at: now.clone(),
            updated_at: now,
            edits: 0,
            reactions: Vec::new(),
        };
        self.comments.push(comment.clone());
        comment
    }
}

impl FakeState {
    /// Adds a review of pull request `number` by `login` (`state` as the REST API spells it)
    /// on `commit_id`, and returns its id. Panics when the pull request does not exist or the
    /// state is not one of GitHub's: the test is wrong, not slipway.
    pub fn add_review(
        &mut self,
        repo: &str,
        number: u64,
        login: &str,
        state: &str,
        commit_id: &str,
    ) -> u64 {
        assert!(
            REVIEW_STATES.contains(&state),
            "GitHub has no review state {state:?}; use one of {REVIEW_STATES:?}"
        );
        self.users.insert(login.to_string());
        self.next_id += 1;
        let id = self.next_id;
        let entry = self.repo_entry(repo);
        assert!(
            entry.pulls.contains_key(&number),
            "no pull request {repo}#{number} to review"
        );
        entry.reviews.push(FakeReview {
            id,
            repo: repo.to_string(),
            pull_number: number,
            user_login: login.to_string(),
            state: state.to_string(),
            commit_id: commit_id.to_string(),
            body: String::new(),
            submitted_at: (state != "PENDING").then(repos::now_rfc3339),
        });
        id
    }
}

impl FakeRepo {
    /// GitHub keeps every pull request's head as `refs/pull/N/head` of the base repository.
    pub fn write_pull_ref(&self, number: u64) {
        let (Some(bare), Some(pull)) = (&self.bare, self.pulls.get(&number)) else {
            return;
        };
        if pull.head_repo.is_some() && pull.head_sha.is_none() {
            // A fork's head: the test writes refs/pull/N/head itself, as GitHub would.
            return;
        }
        let sha = pull.current_head_sha(self);
        if git::object_type(bare, &sha).as_deref() == Some("commit") {
            let _ = git::git(
                bare,
                &["update-ref", &format!("refs/pull/{number}/head"), &sha],
                None,
            );
        }
    }
}

/// Sets the fake's world up before it starts.
pub struct FakeGitHubBuilder {
    state: FakeState,
    fail_on_unread: bool,
}

impl FakeGitHubBuilder {
    pub fn with_installation(mut self, id: i64) -> Self {
        self.state.installations.push(id);
        self
    }

    pub fn with_repository(mut self, full_name: &str) -> Self {
        self.state.repo_entry(full_name);
        self
    }

    /// A repository backed by the real bare git repository at `bare`: its refs, commits and
    /// trees are GitHub's, and Git Data API writes land in it.
    pub fn with_repo(mut self, full_name: &str, bare: impl AsRef<FsPath>) -> Self {
        let bare = bare
            .as_ref()
            .canonicalize()
            .unwrap_or_else(|_| bare.as_ref().to_path_buf());
        self.state.repo_entry(full_name).bare = Some(bare);
        self
    }

    /// The App is installed on `full_name` as installation `id`
    /// (`GET /repos/{owner}/{repo}/installation` finds it; without this that answers 404).
    pub fn with_installation_on(mut self, full_name: &str, id: i64) -> Self {
        if !self.state.installations.contains(&id) {
            self.state.installations.push(id);
        }
        self.state.repo_entry(full_name).installation = Some(id);
        self
    }

    /// A GitHub user that exists (and is no collaborator unless added as one).
    pub fn with_user(mut self, login: &str) -> Self {
        self.state.users.insert(login.to_string());
        self
    }

    /// `login` collaborates on `repo` with `role`: `admin`, `maintain`, `write`, `triage` or `read`.
    pub fn with_collaborator(mut self, repo: &str, login: &str, role: &str) -> Self {
        self.state.users.insert(login.to_string());
        self.state
            .repo_entry(repo)
            .collaborators
            .insert(login.to_string(), role.to_string());
        self
    }

    /// A pull request that exists before the test starts.
    pub fn with_pull(mut self, repo: &str, spec: PullSpec) -> Self {
        self.state.users.insert(spec.user.clone());
        let number = spec.number;
        let entry = self.state.repo_entry(repo);
        entry.pulls.insert(number, spec.into_pull());
        entry.write_pull_ref(number);
        self
    }

    /// A review of pull request `number` (added with [`Self::with_pull`] first) by `login`:
    /// `state` as the REST API spells it (`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`,
    /// `DISMISSED`, `PENDING`), made on `commit_id`. Reviews are listed in the order added.
    pub fn with_review(
        mut self,
        repo: &str,
        number: u64,
        login: &str,
        state: &str,
        commit_id: &str,
    ) -> Self {
        self.state.add_review(repo, number, login, state, commit_id);
        self
    }

    /// A plain issue (not a pull request) numbered `number`, opened by `octocat`.
    pub fn with_issue(mut self, repo: &str, number: u64) -> Self {
        let entry = self.state.repo_entry(repo);
        entry.issues.insert(
            number,
            FakeIssue {
                number,
                repo: repo.to_string(),
                title: format!("Issue {number}"),
                body: None,
                state: "open".to_string(),
                labels: Vec::new(),
                user_login: "octocat".to_string(),
                user_type: "User".to_string(),
                edits: 0,
            },
        );
        self
    }

    /// An issue that exists before the test starts, as it is given.
    pub fn with_fake_issue(mut self, issue: FakeIssue) -> Self {
        let entry = self.state.repo_entry(&issue.repo.clone());
        entry.issues.insert(issue.number, issue);
        self
    }

    /// Labels on pull request `number` (added with [`Self::with_pull`]).
    pub fn with_pull_labels(mut self, repo: &str, number: u64, labels: &[&str]) -> Self {
        self.state
            .repo_entry(repo)
            .pull_labels
            .insert(number, labels.iter().map(|l| l.to_string()).collect());
        self
    }

    /// `repo` has issues turned off: its issue endpoints answer 410 Gone.
    pub fn with_issues_disabled(mut self, repo: &str) -> Self {
        self.state.repo_entry(repo).issues_enabled = false;
        self
    }

    /// A comment by `login` (a `User`) that exists before the test starts.
    pub fn with_comment(mut self, repo: &str, number: u64, login: &str, body: &str) -> Self {
        self.state.users.insert(login.to_string());
        self.state.add_comment(repo, number, login, "User", body);
        self
    }

    /// List endpoints return at most this many items per page (to exercise pagination).
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.state.list_page_size = size;
        self
    }

    /// Installation tokens expire this long after they are issued (GitHub: one hour).
    pub fn with_token_ttl(mut self, ttl: Duration) -> Self {
        self.state.token_ttl = ttl;
        self
    }

    /// A delivery in the App's log; `status_code` 200 means GitHub got an OK.
    pub fn with_logged_delivery(
        mut self,
        guid: &str,
        event: &str,
        status_code: u16,
        payload: Value,
    ) -> Self {
        let id = self.state.deliveries.len() as i64 + 1000;
        self.state.deliveries.push(LoggedDelivery {
            id,
            guid: guid.to_string(),
            event: event.to_string(),
            action: payload
                .get("action")
                .and_then(Value::as_str)
                .map(str::to_string),
            status_code,
            redelivery: false,
            payload,
        });
        self
    }

    pub fn with_delivery_page_size(mut self, size: usize) -> Self {
        self.state.delivery_page_size = size;
        self
    }

    /// A code the manifest flow can exchange for this App.
    pub fn with_manifest_code(mut self, code: &str, webhook_secret: &str) -> Self {
        self.state.manifest_conversions.insert(
            code.to_string(),
            json!({
                "id": APP_ID,
                "slug": "slipway-test",
                "node_id": "A_kwDOAAB",
                "name": "slipway-test",
                "html_url": "https://github.com/apps/slipway-test",
                "owner": { "login": "octo-org", "id": 1, "type": "Organization" },
                "client_id": "Iv1.0123456789abcdef",
                "client_secret": "client-secret-value",
                "webhook_secret": webhook_secret,
                "pem": PRIVATE_KEY_PEM,
                "permissions": { "checks": "write", "contents": "write", "metadata": "read" },
                "events": ["push", "pull_request"],
                "created_at": "2026-11-21T00:00:00Z",
                "updated_at": "2026-11-21T00:00:00Z"
            }),
        );
        self
    }

    /// When the last handle to the fake is dropped at the end of a test that did not panic,
    /// the test fails if the App posted a comment, reaction, check run, deployment or deployment
    /// status it never read.
    pub fn fail_on_unread_output(mut self) -> Self {
        self.fail_on_unread = true;
        self
    }

    pub async fn start(self) -> FakeGitHub {
        let state = Arc::new(Mutex::new(self.state));
        let unread_guard = self.fail_on_unread.then(|| {
            Arc::new(UnreadGuard {
                state: state.clone(),
            })
        });
        let app = Router::new()
            .route("/app/installations/{id}/access_tokens", post(create_token))
            .route("/installation/token", delete(revoke_token))
            // Git over HTTPS lives on GitHub's web host; the fake serves it under `/git/`.
            .route("/git/{owner}/{repo}/info/refs", get(git_info_refs))
            .route("/git/{owner}/{repo}/git-upload-pack", post(git_upload_pack))
            .route("/app/hook/deliveries", get(list_deliveries))
            .route("/app/hook/deliveries/{id}/attempts", post(redeliver))
            .route("/app-manifests/{code}/conversions", post(convert_manifest))
            .route("/repos/{owner}/{repo}", get(get_repository))
            .route(
                "/repos/{owner}/{repo}/installation",
                get(get_repo_installation),
            )
            .route(
                "/repos/{owner}/{repo}/issues",
                get(issues::list_issues).post(issues::create_issue),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}",
                get(issues::get_issue).patch(issues::update_issue),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/comments",
                get(repos::list_comments).post(repos::create_comment),
            )
            .route(
                "/repos/{owner}/{repo}/issues/comments/{id}",
                get(repos::get_comment)
                    .patch(repos::update_comment)
                    .delete(repos::delete_comment),
            )
            .route(
                "/repos/{owner}/{repo}/issues/comments/{id}/reactions",
                post(repos::create_reaction),
            )
            .route(
                "/repos/{owner}/{repo}/check-runs",
                post(repos::create_check_run),
            )
            .route(
                "/repos/{owner}/{repo}/check-runs/{id}",
                get(repos::get_check_run).patch(repos::update_check_run),
            )
            .route(
                "/repos/{owner}/{repo}/commits/{reference}/check-runs",
                get(repos::list_check_runs_for_ref),
            )
            .route(
                "/repos/{owner}/{repo}/deployments",
                get(deployments::list_deployments).post(deployments::create_deployment),
            )
            .route(
                "/repos/{owner}/{repo}/deployments/{id}/statuses",
                get(deployments::list_statuses).post(deployments::create_status),
            )
            .route(
                "/repos/{owner}/{repo}/collaborators/{user}/permission",
                get(repos::collaborator_permission),
            )
            .route(
                "/repos/{owner}/{repo}/pulls",
                get(repos::list_pulls).post(repos::create_pull),
            )
            .route(
                "/repos/{owner}/{repo}/commits/{sha}/pulls",
                get(repos::pulls_of_commit),
            )
            .route(
                "/repos/{owner}/{repo}/pulls/{number}",
                get(repos::get_pull).patch(repos::update_pull),
            )
            .route(
                "/repos/{owner}/{repo}/pulls/{number}/reviews",
                get(repos::list_reviews),
            )
            .route(
                "/repos/{owner}/{repo}/git/ref/{*reference}",
                get(repos::get_ref),
            )
            .route("/repos/{owner}/{repo}/git/refs", post(repos::create_ref))
            .route(
                "/repos/{owner}/{repo}/git/refs/{*reference}",
                patch(repos::update_ref),
            )
            .route("/repos/{owner}/{repo}/git/blobs", post(repos::create_blob))
            .route("/repos/{owner}/{repo}/git/trees", post(repos::create_tree))
            .route(
                "/repos/{owner}/{repo}/git/commits",
                post(repos::create_commit),
            )
            .route(
                "/repos/{owner}/{repo}/git/commits/{sha}",
                get(repos::get_commit),
            )
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                record_and_fail,
            ))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake GitHub");
        let addr = listener.local_addr().expect("the fake's address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeGitHub {
            addr,
            state,
            _unread_guard: unread_guard,
        }
    }
}

/// How GitHub's merge button lands a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMethod {
    /// "Create a merge commit": parents the base tip and the head.
    Merge,
    /// "Squash and merge": one commit on the base tip.
    Squash,
    /// "Rebase and merge": the head's commits re-created on the base tip.
    Rebase,
}

/// A running fake GitHub.
#[derive(Clone)]
pub struct FakeGitHub {
    pub addr: SocketAddr,
    state: Arc<Mutex<FakeState>>,
    /// Shared by the test's handles only (the server holds `state`), so it drops with the last.
    _unread_guard: Option<Arc<UnreadGuard>>,
}

/// Fails the test on drop if anything the App posted was never read (see
/// [`FakeGitHubBuilder::fail_on_unread_output`]).
struct UnreadGuard {
    state: Arc<Mutex<FakeState>>,
}

impl Drop for UnreadGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let unread = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .posted
            .unread();
        assert!(unread.is_empty(), "{}", unread_report(&unread));
    }
}

fn unread_report(unread: &[String]) -> String {
    format!(
        "slipway posted {} thing(s) the test never read:\n  - {}",
        unread.len(),
        unread.join("\n  - ")
    )
}

impl FakeGitHub {
    pub fn builder() -> FakeGitHubBuilder {
        FakeGitHubBuilder {
            state: FakeState {
                token_ttl: Duration::from_secs(3600),
                delivery_page_size: 100,
                list_page_size: 100,
                ..FakeState::default()
            },
            fail_on_unread: false,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// Requests whose `METHOD path` starts with `prefix` (e.g. `"POST /app/installations"`).
    pub fn requests_to(&self, prefix: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| format!("{} {}", r.method, r.path).starts_with(prefix))
            .collect()
    }

    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    /// How many requests the fake has received: a mark for [`FakeGitHub::requests_since`].
    pub fn request_count(&self) -> usize {
        self.state().requests.len()
    }

    /// The requests received after `mark` (a [`FakeGitHub::request_count`]).
    pub fn requests_since(&self, mark: usize) -> Vec<RecordedRequest> {
        self.state().requests.iter().skip(mark).cloned().collect()
    }

    /// The requests to repository endpoints (`/repos/…`) after `mark`, as `METHOD path`:
    /// what a pipeline did, without installation tokens or the App's own endpoints.
    pub fn repo_calls_since(&self, mark: usize) -> Vec<String> {
        self.requests_since(mark)
            .into_iter()
            .filter(|r| r.path.starts_with("/repos/"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// The comments of issue or pull request `number` of `repo`, oldest first; the test has
    /// read them as they are now.
    pub fn comments_on(&self, repo: &str, number: u64) -> Vec<FakeComment> {
        let comments = self.peek_comments_on(repo, number);
        let mut state = self.state();
        for comment in &comments {
            state.posted.read_comment(comment);
        }
        comments
    }

    /// [`FakeGitHub::comments_on`] without reading them, to pick out the one a test reads
    /// (with [`FakeGitHub::read_comment`]).
    pub fn peek_comments_on(&self, repo: &str, number: u64) -> Vec<FakeComment> {
        self.state()
            .comments
            .iter()
            .filter(|c| c.repo == repo && c.issue_number == number)
            .cloned()
            .collect()
    }

    /// The test has read `comment` as it was when it was taken from the fake.
    pub fn read_comment(&self, comment: &FakeComment) {
        self.state().posted.read_comment(comment);
    }

    /// The App's reactions on `comment` (as it was taken from the fake), in order; read.
    pub fn bot_reactions(&self, comment: &FakeComment) -> Vec<String> {
        let login = app_bot_login();
        let contents: Vec<String> = comment
            .reactions
            .iter()
            .filter(|(user, _)| *user == login)
            .map(|(_, content)| content.clone())
            .collect();
        let mut state = self.state();
        for content in &contents {
            state.posted.read_reaction(comment.id, content);
        }
        contents
    }

    /// Comments the App deleted, as they were when deleted; read.
    pub fn deleted_comments(&self) -> Vec<FakeComment> {
        let mut state = self.state();
        let deleted = state.deleted_comments.clone();
        for comment in &deleted {
            state.posted.read_comment(comment);
        }
        deleted
    }

    /// What the App posted that the test has not read, one line each.
    pub fn unread(&self) -> Vec<String> {
        self.state().posted.unread()
    }

    /// Fails, listing them, if the App posted anything the test has not read.
    pub fn assert_all_read(&self) {
        let unread = self.unread();
        assert!(unread.is_empty(), "{}", unread_report(&unread));
    }

    /// A user (not the App) comments on `number`; returns the new comment.
    pub fn user_comments(&self, repo: &str, number: u64, login: &str, body: &str) -> FakeComment {
        let mut state = self.state();
        state.users.insert(login.to_string());
        state.add_comment(repo, number, login, "User", body)
    }

    /// The plain issues of `repo` by number (pull requests left out); read as they are now.
    pub fn issues(&self, repo: &str) -> Vec<FakeIssue> {
        let mut state = self.state();
        let issues: Vec<FakeIssue> = state
            .repos
            .get(repo)
            .map(|r| r.issues.values().cloned().collect())
            .unwrap_or_default();
        for issue in &issues {
            state.posted.read_issue(issue);
        }
        issues
    }

    /// Every check run created on `repo`, in creation order; read as they are now.
    pub fn check_runs(&self, repo: &str) -> Vec<FakeCheckRun> {
        let mut state = self.state();
        let runs: Vec<FakeCheckRun> = state
            .check_runs
            .iter()
            .filter(|r| r.repo == repo)
            .cloned()
            .collect();
        for run in &runs {
            state.posted.read_check_run(run);
        }
        runs
    }

    /// The deployments of `repo`, oldest first, each with its status history; the test has
    /// read them (and every status the App posted) as they are now.
    pub fn deployments(&self, repo: &str) -> Vec<FakeDeployment> {
        let mut state = self.state();
        let deployments: Vec<FakeDeployment> = state
            .deployments
            .iter()
            .filter(|d| d.repo == repo)
            .cloned()
            .collect();
        for deployment in &deployments {
            state.posted.read_deployment(deployment);
        }
        deployments
    }

    pub fn pull(&self, repo: &str, number: u64) -> Option<FakePull> {
        self.state()
            .repos
            .get(repo)
            .and_then(|r| r.pulls.get(&number).cloned())
    }

    /// Pull requests of `repo` by number.
    pub fn pulls(&self, repo: &str) -> Vec<FakePull> {
        self.state()
            .repos
            .get(repo)
            .map(|r| r.pulls.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Opens a pull request while the test runs (as a user would); refs/pull/N/head is written.
    pub fn open_pull(&self, repo: &str, spec: PullSpec) {
        let mut state = self.state();
        state.users.insert(spec.user.clone());
        let number = spec.number;
        let entry = state.repo_entry(repo);
        entry.pulls.insert(number, spec.into_pull());
        entry.write_pull_ref(number);
    }

    /// Merges pull request `number` of `repo` as the merge button does: a merge commit on its
    /// base branch (base first parent), the pull closed and merged. The merge commit's sha.
    pub fn merge_pull(&self, repo: &str, number: u64) -> String {
        self.merge_pull_as(repo, number, MergeMethod::Merge)
    }

    /// Merges pull request `number` of `repo` with `method`, as GitHub does; the pull's
    /// `merge_commit_sha`: the merge commit, the squashed commit, or the last re-created
    /// commit of a rebase. `GET …/commits/{sha}/pulls` then lists the pull for it, for the
    /// head's commits and for every commit the merge created.
    pub fn merge_pull_as(&self, repo: &str, number: u64, method: MergeMethod) -> String {
        let mut state = self.state();
        let entry = state.repos.get_mut(repo).expect("the repository exists");
        let bare = entry.bare.clone().expect("the repository has git data");
        let pull = entry
            .pulls
            .get(&number)
            .expect("the pull request exists")
            .clone();
        let head = pull.current_head_sha(entry);
        let base_tip = git::resolve_ref(&bare, &format!("refs/heads/{}", pull.base_ref))
            .expect("the base branch exists");
        let mut commits = git::commits_between(&bare, &base_tip, &head)
            .unwrap_or_else(|err| panic!("cannot list #{number}'s commits: {err}"));
        let merge = match method {
            MergeMethod::Merge => {
                let message = format!("Merge pull request #{number} from {}", pull.head_ref);
                git::merge_into(&bare, &pull.base_ref, &head, &message)
            }
            MergeMethod::Squash => {
                let message = format!("{} (#{number})", pull.title);
                git::squash_into(&bare, &pull.base_ref, &head, &message)
            }
            MergeMethod::Rebase => git::rebase_onto(&bare, &pull.base_ref, &head).map(|created| {
                let last = created.last().cloned().unwrap_or_default();
                commits.extend(created);
                last
            }),
        }
        .unwrap_or_else(|err| panic!("cannot merge #{number}: {err}"));
        let pull = entry
            .pulls
            .get_mut(&number)
            .expect("the pull request exists");
        pull.state = "closed".to_string();
        pull.merged = true;
        pull.head_sha = Some(head);
        pull.merge_commit_sha = Some(merge.clone());
        pull.merged_commits = commits;
        merge
    }

    /// Changes pull request `number`'s base branch, as its author editing it does.
    pub fn change_pull_base(&self, repo: &str, number: u64, base: &str) {
        let mut state = self.state();
        let pull = state
            .repos
            .get_mut(repo)
            .and_then(|r| r.pulls.get_mut(&number))
            .unwrap_or_else(|| panic!("no pull request {repo}#{number}"));
        pull.base_ref = base.to_string();
    }

    /// Whether GitHub would show the commit `sha`, made through the Git Data API, as Verified.
    /// `login` submits a review of pull request `number` while slipway runs; its id.
    pub fn submit_review(
        &self,
        repo: &str,
        number: u64,
        login: &str,
        state: &str,
        commit_id: &str,
    ) -> u64 {
        self.state()
            .add_review(repo, number, login, state, commit_id)
    }

    /// A maintainer dismisses review `id`: as on GitHub, the review itself becomes
    /// `DISMISSED` (only approvals and change requests can be dismissed).
    pub fn dismiss_review(&self, repo: &str, id: u64) {
        let mut state = self.state();
        let review = state
            .repos
            .get_mut(repo)
            .and_then(|r| r.reviews.iter_mut().find(|review| review.id == id))
            .unwrap_or_else(|| panic!("no review {id} in {repo}"));
        assert!(
            matches!(review.state.as_str(), "APPROVED" | "CHANGES_REQUESTED"),
            "GitHub answers 422 to dismissing a {} review",
            review.state
        );
        review.state = "DISMISSED".to_string();
    }

    pub fn commit_verified(&self, sha: &str) -> Option<bool> {
        self.state().verified_commits.get(sha).copied()
    }

    /// The next `count` requests whose path starts with `path_prefix` get `failure`.
    pub fn fail_next(&self, path_prefix: &str, failure: Failure, count: usize) {
        let queue: VecDeque<Failure> = std::iter::repeat_n(failure, count).collect();
        self.state().failures.push((path_prefix.to_string(), queue));
    }

    /// The next `count` requests whose `METHOD path` starts with `prefix` are answered after
    /// `delay` (e.g. `"POST /repos/acme/config/check-runs"`), as a slow GitHub would.
    pub fn delay_next(&self, prefix: &str, delay: Duration, count: usize) {
        let queue: VecDeque<Duration> = std::iter::repeat_n(delay, count).collect();
        self.state().delays.push((prefix.to_string(), queue));
    }

    /// The next `count` updates of `branch` of `repo` (`PATCH …/git/refs/heads/BRANCH`) first
    /// run `change` on the bare repository, as another writer pushing between a client's read
    /// of the branch and its update would: GitHub then answers what it answers to a stale
    /// update (422 "Update is not a fast forward").
    pub fn before_ref_update(
        &self,
        repo: &str,
        branch: &str,
        count: usize,
        change: impl Fn(&FsPath) + Send + Sync + 'static,
    ) {
        self.state().ref_update_hooks.push(RefUpdateHook {
            repo: repo.to_string(),
            reference: format!("refs/heads/{branch}"),
            remaining: count,
            change: Arc::new(change),
        });
    }

    /// Every token issued so far stops working (as when an installation's tokens are revoked).
    pub fn revoke_tokens(&self) {
        for token in self.state().tokens.values_mut() {
            token.revoked = true;
        }
    }

    /// Where `POST /app/hook/deliveries/{id}/attempts` sends the delivery again.
    pub fn set_hook(&self, url: &str, secret: &str) {
        self.state().hook = Some((url.to_string(), secret.to_string()));
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest"
        })),
    )
        .into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

/// Records the request, then answers with a scripted failure when one is due.
async fn record_and_fail(
    State(state): State<Arc<Mutex<FakeState>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let failure = {
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        state.requests.push(RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            authorization: parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        });
        let path = parts.uri.path().to_string();
        let mut due = None;
        for (prefix, queue) in state.failures.iter_mut() {
            if path.starts_with(prefix.as_str()) {
                if let Some(failure) = queue.pop_front() {
                    due = Some(failure);
                    break;
                }
            }
        }
        state.failures.retain(|(_, queue)| !queue.is_empty());
        let call = format!("{} {}", parts.method, path);
        let mut delay = None;
        for (prefix, queue) in state.delays.iter_mut() {
            if call.starts_with(prefix.as_str()) {
                if let Some(wait) = queue.pop_front() {
                    delay = Some(wait);
                    break;
                }
            }
        }
        state.delays.retain(|(_, queue)| !queue.is_empty());
        (due, delay)
    };
    let (failure, delay) = failure;
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(failure) = failure {
        let mut response = error(
            StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &failure.message,
        );
        for (name, value) in failure.headers {
            if let (Ok(name), Ok(value)) = (
                axum::http::HeaderName::try_from(name.as_str()),
                axum::http::HeaderValue::try_from(value.as_str()),
            ) {
                response.headers_mut().insert(name, value);
            }
        }
        return response;
    }
    let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    next.run(request).await
}

#[derive(serde::Deserialize)]
struct Claims {
    iat: i64,
    exp: i64,
    iss: String,
}

/// A 401 with GitHub's message for a credential it refuses.
pub struct Unauthorized(&'static str);

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        error(StatusCode::UNAUTHORIZED, self.0)
    }
}

/// Checks the App JWT as GitHub does: RS256 by the App's key, `iss` the App id, at most 10 minutes.
fn check_app_jwt(headers: &HeaderMap) -> Result<(), Unauthorized> {
    let unauthorized = |message: &'static str| Err(Unauthorized(message));
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return unauthorized("A JSON web token could not be decoded");
    };
    let key =
        DecodingKey::from_rsa_pem(PUBLIC_KEY_PEM.as_bytes()).expect("the test public key parses");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "iat", "iss"]);
    let Ok(data) = decode::<Claims>(token, &key, &validation) else {
        return unauthorized("A JSON web token could not be decoded");
    };
    let claims = data.claims;
    if claims.iss != APP_ID.to_string() {
        return unauthorized("'Issuer' claim ('iss') must be an Integer");
    }
    if claims.exp - claims.iat > 600 {
        return unauthorized("'Expiration time' claim ('exp') is too far in the future");
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    if claims.iat > now + 1 {
        return unauthorized(
            "'Issued at' claim ('iat') must be an Integer representing a time in the past",
        );
    }
    Ok(())
}

/// Checks an installation token; returns the installation it belongs to.
pub fn check_installation_token(
    state: &FakeState,
    headers: &HeaderMap,
) -> Result<i64, Unauthorized> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("token ")
                .or_else(|| v.strip_prefix("Bearer "))
        });
    let issued = token.and_then(|t| state.tokens.get(t));
    match issued {
        Some(issued) if !issued.revoked && issued.expires_at > OffsetDateTime::now_utc() => {
            Ok(issued.installation_id)
        }
        _ => Err(Unauthorized("Bad credentials")),
    }
}

async fn create_token(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = check_app_jwt(&headers) {
        return refused.into_response();
    }
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    if !state.installations.contains(&id) {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let token = format!("ghs_{}", hex::encode(rand::random::<[u8; 18]>()));
    let expires_at = OffsetDateTime::now_utc() + state.token_ttl;
    state.tokens.insert(
        token.clone(),
        IssuedToken {
            installation_id: id,
            expires_at,
            revoked: false,
        },
    );
    let expires = expires_at
        .replace_nanosecond(0)
        .unwrap_or(expires_at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    (
        StatusCode::CREATED,
        Json(json!({
            "token": token,
            "expires_at": expires,
            "permissions": { "checks": "write", "contents": "write", "metadata": "read" },
            "repository_selection": "all"
        })),
    )
        .into_response()
}

/// `DELETE /installation/token`, authenticated with the token to revoke: 204, and the token
/// stops working for the API (401) and for git (401 with a Basic challenge). A token GitHub
/// does not accept (unknown, expired, already revoked) is 401 "Bad credentials".
async fn revoke_token(State(state): State<Arc<Mutex<FakeState>>>, headers: HeaderMap) -> Response {
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(refused) = check_installation_token(&state, &headers) {
        return refused.into_response();
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("token ")
                .or_else(|| v.strip_prefix("Bearer "))
        })
        .unwrap_or_default()
        .to_string();
    if let Some(issued) = state.tokens.get_mut(&token) {
        issued.revoked = true;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Why git over HTTPS is refused, as GitHub answers it.
enum GitRefused {
    /// No live installation token in the Basic credential: 401 with a Basic challenge.
    Unauthorized,
    NotFound,
}

impl IntoResponse for GitRefused {
    fn into_response(self) -> Response {
        match self {
            GitRefused::Unauthorized => {
                let mut response = (
                    StatusCode::UNAUTHORIZED,
                    "Invalid username or token. Password authentication is not supported for Git operations.\n",
                )
                    .into_response();
                response.headers_mut().insert(
                    "www-authenticate",
                    axum::http::HeaderValue::from_static("Basic realm=\"GitHub\""),
                );
                response
            }
            GitRefused::NotFound => error(StatusCode::NOT_FOUND, "Repository not found."),
        }
    }
}

/// The bare repository a git URL path (`/git/{owner}/{repo}.git/…`) serves, when the request's
/// Basic credential is a live installation token (`x-access-token:<token>`).
fn git_repository(
    state: &Arc<Mutex<FakeState>>,
    owner: &str,
    repo: &str,
    headers: &HeaderMap,
) -> Result<std::path::PathBuf, GitRefused> {
    use base64::Engine;
    let state = state.lock().unwrap_or_else(|p| p.into_inner());
    let password = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|pair| pair.split_once(':').map(|(_, p)| p.to_string()));
    let live = password
        .as_deref()
        .and_then(|p| state.tokens.get(p))
        .is_some_and(|issued| !issued.revoked && issued.expires_at > OffsetDateTime::now_utc());
    if !live {
        return Err(GitRefused::Unauthorized);
    }
    let name = repo.strip_suffix(".git").unwrap_or(repo);
    state
        .repos
        .get(&format!("{owner}/{name}"))
        .and_then(|r| r.bare.clone())
        .ok_or(GitRefused::NotFound)
}

fn run_upload_pack(bare: &FsPath, advertise: bool, input: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let mut command = std::process::Command::new("git");
    command.arg("upload-pack").arg("--stateless-rpc");
    if advertise {
        command.arg("--advertise-refs");
    }
    let mut child = command
        .arg(bare)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_PROTOCOL", "")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).map_err(|e| e.to_string())?;
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).to_string())
    }
}

/// `GET /git/{owner}/{repo}.git/info/refs?service=git-upload-pack`: smart HTTP ref advertisement.
async fn git_info_refs(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let bare = match git_repository(&state, &owner, &repo, &headers) {
        Ok(bare) => bare,
        Err(refused) => return refused.into_response(),
    };
    match run_upload_pack(&bare, true, &[]) {
        Ok(refs) => {
            let mut body = b"001e# service=git-upload-pack\n0000".to_vec();
            body.extend(refs);
            (
                [(
                    "content-type",
                    "application/x-git-upload-pack-advertisement",
                )],
                body,
            )
                .into_response()
        }
        Err(message) => error(StatusCode::INTERNAL_SERVER_ERROR, &message),
    }
}

/// `POST /git/{owner}/{repo}.git/git-upload-pack`: the fetch itself.
async fn git_upload_pack(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bare = match git_repository(&state, &owner, &repo, &headers) {
        Ok(bare) => bare,
        Err(refused) => return refused.into_response(),
    };
    match run_upload_pack(&bare, false, &body) {
        Ok(pack) => (
            [("content-type", "application/x-git-upload-pack-result")],
            pack,
        )
            .into_response(),
        Err(message) => error(StatusCode::INTERNAL_SERVER_ERROR, &message),
    }
}

async fn get_repository(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let state = state.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(refused) = check_installation_token(&state, &headers) {
        return refused.into_response();
    }
    let full_name = format!("{owner}/{repo}");
    match state.repos.get(&full_name) {
        Some(repo) => Json(repo.json()).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// `GET /repos/{owner}/{repo}/installation` (App JWT): the App's installation on the
/// repository, 404 when the App is not installed there (or the repository does not exist).
async fn get_repo_installation(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = check_app_jwt(&headers) {
        return refused.into_response();
    }
    let state = state.lock().unwrap_or_else(|p| p.into_inner());
    let full_name = format!("{owner}/{repo}");
    let Some(id) = state.repos.get(&full_name).and_then(|r| r.installation) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let api = format!(
        "http://{}",
        headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
    );
    Json(json!({
        "id": id,
        "account": { "login": owner, "type": "Organization" },
        "repository_selection": "selected",
        "access_tokens_url": format!("{api}/app/installations/{id}/access_tokens"),
        "repositories_url": format!("{api}/installation/repositories"),
        "html_url": format!("https://github.com/organizations/{owner}/settings/installations/{id}"),
        "app_id": APP_ID,
        "app_slug": APP_SLUG,
        "target_type": "Organization",
        "permissions": { "checks": "write", "contents": "write", "metadata": "read", "pull_requests": "write" },
        "events": ["push", "pull_request", "issue_comment"],
        "created_at": "2026-11-21T00:00:00Z",
        "updated_at": "2026-11-21T00:00:00Z",
        "suspended_at": null
    }))
    .into_response()
}

#[derive(serde::Deserialize)]
struct PageQuery {
    per_page: Option<usize>,
    cursor: Option<String>,
}

async fn list_deliveries(
    State(state): State<Arc<Mutex<FakeState>>>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Err(refused) = check_app_jwt(&headers) {
        return refused.into_response();
    }
    let state = state.lock().unwrap_or_else(|p| p.into_inner());
    let per_page = query
        .per_page
        .unwrap_or(30)
        .clamp(1, 100)
        .min(state.delivery_page_size);
    // Newest first, as GitHub lists them; the cursor is the index to continue from.
    let mut all: Vec<&LoggedDelivery> = state.deliveries.iter().collect();
    all.sort_by_key(|d| std::cmp::Reverse(d.id));
    let start: usize = query
        .cursor
        .as_deref()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(per_page)
        .map(|d| {
            json!({
                "id": d.id,
                "guid": d.guid,
                "delivered_at": "2026-11-21T10:00:00Z",
                "redelivery": d.redelivery,
                "duration": 0.27,
                "status": if d.status_code == 200 { "OK".to_string() } else { format!("Invalid HTTP Response: {}", d.status_code) },
                "status_code": d.status_code,
                "event": d.event,
                "action": d.action,
                "installation_id": 42,
                "repository_id": null,
                "throttled_at": null
            })
        })
        .collect();
    let mut response = Json(Value::Array(page)).into_response();
    if start + per_page < all.len() {
        let next = format!(
            "<http://{}{}?per_page={}&cursor={}>; rel=\"next\"",
            headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost"),
            uri.path(),
            per_page,
            start + per_page
        );
        if let Ok(value) = axum::http::HeaderValue::try_from(next) {
            response.headers_mut().insert("link", value);
        }
    }
    response
}

async fn redeliver(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = check_app_jwt(&headers) {
        return refused.into_response();
    }
    let (original, hook) = {
        let state = state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(original) = state.deliveries.iter().find(|d| d.id == id).cloned() else {
            return error(StatusCode::NOT_FOUND, "Not Found");
        };
        (original, state.hook.clone())
    };
    // GitHub sends the same delivery again (same GUID) and logs the new attempt.
    let status_code = match hook {
        Some((url, secret)) => {
            let body = serde_json::to_vec(&original.payload).unwrap_or_default();
            let signature = slipway::webhook::sign(secret.as_bytes(), &body);
            let sent = reqwest::Client::new()
                .post(&url)
                .header("x-github-event", &original.event)
                .header("x-github-delivery", &original.guid)
                .header("x-hub-signature-256", signature)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            sent.map(|r| r.status().as_u16()).unwrap_or(502)
        }
        None => 502,
    };
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    let new_id = state.deliveries.iter().map(|d| d.id).max().unwrap_or(0) + 1;
    state.deliveries.push(LoggedDelivery {
        id: new_id,
        redelivery: true,
        status_code: if (200..300).contains(&status_code) {
            200
        } else {
            status_code
        },
        ..original
    });
    (StatusCode::ACCEPTED, Json(json!({}))).into_response()
}

async fn convert_manifest(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(code): Path<String>,
    method: Method,
) -> Response {
    if method != Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    // Codes are single-use, as on GitHub.
    match state.manifest_conversions.remove(&code) {
        Some(conversion) => (StatusCode::CREATED, Json(conversion)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

pub fn body_bytes(value: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

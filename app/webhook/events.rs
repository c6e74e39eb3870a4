//! Typed events: what slipway reads of each handled webhook, decoded once (by
//! `webhook::decode`) before any handler runs.
//!
//! Each struct holds exactly the fields slipway uses, not GitHub's whole schema, so a payload
//! GitHub extends never breaks a handler, and a payload that lacks a field slipway needs fails
//! before any work starts, naming that field.

use octocrab::models::webhook_events::WebhookEvent;

use super::ids::{InstallationId, PullNumber};
use crate::git::CommitId;
use crate::github::RepoRef;

/// One decoded delivery, by `X-GitHub-Event`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    PullRequest(PullRequestEvent),
    IssueComment(IssueCommentEvent),
    Push(PushEvent),
    PullRequestReview(PullRequestReviewEvent),
    CheckRun(CheckRunEvent),
    Installation(InstallationEvent),
    InstallationRepositories(InstallationRepositoriesEvent),
}

impl Event {
    /// The `X-GitHub-Event` name this event was decoded from.
    pub fn name(&self) -> &'static str {
        match self {
            Event::PullRequest(_) => PullRequestEvent::NAME,
            Event::IssueComment(_) => IssueCommentEvent::NAME,
            Event::Push(_) => PushEvent::NAME,
            Event::PullRequestReview(_) => PullRequestReviewEvent::NAME,
            Event::CheckRun(_) => CheckRunEvent::NAME,
            Event::Installation(_) => InstallationEvent::NAME,
            Event::InstallationRepositories(_) => InstallationRepositoriesEvent::NAME,
        }
    }
}

/// One kind of typed event: what a handler registered for it receives.
pub trait TypedEvent: Clone + Send + Sync + 'static {
    /// The `X-GitHub-Event` name.
    const NAME: &'static str;
    /// This kind's payload, when `event` is of this kind.
    fn from_event(event: &Event) -> Option<Self>;
}

macro_rules! typed_event {
    ($name:literal, $variant:ident, $ty:ty) => {
        impl TypedEvent for $ty {
            const NAME: &'static str = $name;
            fn from_event(event: &Event) -> Option<Self> {
                match event {
                    Event::$variant(inner) => Some(inner.clone()),
                    _ => None,
                }
            }
        }
    };
}

typed_event!("pull_request", PullRequest, PullRequestEvent);
typed_event!("issue_comment", IssueComment, IssueCommentEvent);
typed_event!("push", Push, PushEvent);
typed_event!(
    "pull_request_review",
    PullRequestReview,
    PullRequestReviewEvent
);
typed_event!("check_run", CheckRun, CheckRunEvent);
typed_event!("installation", Installation, InstallationEvent);
typed_event!(
    "installation_repositories",
    InstallationRepositories,
    InstallationRepositoriesEvent
);

/// The repository an event concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub full_name: RepoRef,
    /// Where the repository is fetched from.
    pub clone_url: String,
    pub default_branch: String,
    /// Whether the repository is a fork: nothing is built from one.
    pub fork: bool,
    /// The repository's page, for links in reports.
    pub html_url: Option<String>,
}

/// Whoever acted: a comment's author, the sender, a reviewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub login: String,
    /// GitHub's account type: `User`, `Organization`, `Bot`.
    pub kind: String,
}

impl User {
    /// Apps (slipway itself included) act as bots.
    pub fn is_bot(&self) -> bool {
        self.kind == "Bot" || self.login.ends_with("[bot]")
    }
}

/// One side of a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSide {
    /// The branch name, without `refs/heads/`.
    pub git_ref: String,
    pub sha: CommitId,
    /// `None` when the repository is gone (a deleted fork).
    pub repo: Option<RepoRef>,
}

/// `pull_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestEvent {
    pub action: String,
    /// `None` when the delivery was not sent to an installation of this App.
    pub installation: Option<InstallationId>,
    pub repository: Repository,
    pub number: PullNumber,
    pub head: PullSide,
    pub base: PullSide,
    /// Set on `closed` when the pull request was merged.
    pub merged: bool,
    /// The merge commit of a merged pull request (GitHub's test merge commit before).
    pub merge_commit_sha: Option<CommitId>,
    /// Who caused the event: on `opened`, `reopened` and `synchronize`, who pushed the head.
    pub sender: Option<User>,
    /// On `edited`: the base branch changed (`changes.base` is present).
    pub base_changed: bool,
    /// `pull_request.updated_at` (RFC 3339): when an `edited` change was made.
    pub updated_at: Option<String>,
}

impl PullRequestEvent {
    /// The fork the head lives in; `None` for a branch of the repository itself.
    pub fn fork(&self) -> Option<String> {
        match &self.head.repo {
            Some(repo) if *repo == self.repository.full_name => None,
            Some(repo) => Some(repo.to_string()),
            None => Some("a deleted fork".to_string()),
        }
    }
}

/// A comment as slipway reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    /// Empty when GitHub sends no body.
    pub body: String,
    pub user: User,
}

/// `issue_comment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueCommentEvent {
    pub action: String,
    pub installation: Option<InstallationId>,
    pub repository: Repository,
    /// The issue's number: a pull request's when [`Self::on_pull_request`].
    pub number: PullNumber,
    pub on_pull_request: bool,
    pub comment: Comment,
    pub sender: User,
}

/// `push`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    pub installation: Option<InstallationId>,
    pub repository: Repository,
    /// The full ref pushed, e.g. `refs/heads/main`.
    pub git_ref: String,
    /// All zeros when the ref was created.
    pub before: CommitId,
    /// All zeros when the ref was deleted.
    pub after: CommitId,
    /// `pusher.name`.
    pub pusher: String,
    /// The push deleted the ref.
    pub deleted: bool,
    /// The push created the ref.
    pub created: bool,
    /// `None` when the push deleted the ref.
    pub head_commit_message: Option<String>,
    /// `sender`: the account that pushed (GitHub's login, unlike `pusher.name`).
    pub sender: Option<User>,
}

/// `pull_request_review`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestReviewEvent {
    pub action: String,
    pub installation: Option<InstallationId>,
    pub repository: Repository,
    pub number: PullNumber,
    pub head_sha: CommitId,
    /// `approved`, `changes_requested`, `commented`, `dismissed`.
    pub state: String,
    pub reviewer: User,
    /// The commit the review was made on.
    pub commit_id: Option<CommitId>,
}

/// `check_run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunEvent {
    pub action: String,
    pub installation: Option<InstallationId>,
    pub repository: Repository,
    pub check_run_id: u64,
    pub name: String,
    pub head_sha: CommitId,
    /// `check_suite.head_branch`: the branch the checked commit was pushed to, when GitHub knows.
    pub head_branch: Option<String>,
    pub pull_requests: Vec<PullNumber>,
    /// `requested_action.identifier`, on `requested_action`.
    pub requested_action: Option<String>,
    /// `sender`: who re-requested the check run or pressed its button.
    pub sender: Option<User>,
}

/// The installation an installation event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub id: InstallationId,
    /// The account's login and type, when GitHub sends the full installation.
    pub account: Option<User>,
    /// `all` or `selected`.
    pub repository_selection: Option<String>,
}

/// `installation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationEvent {
    /// `created`, `deleted`, `suspend`, `unsuspend`, `new_permissions_accepted`.
    pub action: String,
    pub installation: Installation,
    /// The repositories granted on `created`.
    pub repositories: Vec<RepoRef>,
}

/// `installation_repositories`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationRepositoriesEvent {
    pub action: String,
    pub installation: Installation,
    /// `all` or `selected`.
    pub repository_selection: String,
    pub added: Vec<RepoRef>,
    pub removed: Vec<RepoRef>,
}

/// Its message includes the JSON error; it is not chained again as `source()`, so printing
/// the error with its causes says it once.
#[derive(Debug, thiserror::Error)]
#[error("the {event} payload does not match GitHub's schema: {cause}")]
pub struct TypedEventError {
    pub event: String,
    pub cause: serde_json::Error,
}

/// Parses a stored payload into octocrab's typed event for its `X-GitHub-Event` name: a check
/// that slipway's fixtures are GitHub's schema; handlers use [`Event`].
pub fn parse_event(event: &str, payload: &[u8]) -> Result<WebhookEvent, TypedEventError> {
    WebhookEvent::try_from_header_and_body(event, payload).map_err(|cause| TypedEventError {
        event: event.to_string(),
        cause,
    })
}

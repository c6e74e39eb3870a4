//! The fake's model of repositories: comments, reactions, check runs, collaborators, pulls.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::git;

/// The App's bot user: what GitHub shows as the author of everything the App does.
pub const APP_SLUG: &str = "slipway-test";

pub fn app_bot_login() -> String {
    format!("{APP_SLUG}[bot]")
}

/// A repository the fake serves.
#[derive(Debug, Clone)]
pub struct FakeRepo {
    pub full_name: String,
    /// A real bare repository on disk: git data lives there.
    pub bare: Option<PathBuf>,
    pub default_branch: String,
    /// The App's installation on this repository (`GET /repos/{owner}/{repo}/installation`);
    /// `None`: the App is not installed here.
    pub installation: Option<i64>,
    /// login → `admin`, `maintain`, `write`, `triage` or `read`.
    pub collaborators: BTreeMap<String, String>,
    pub pulls: BTreeMap<u64, FakePull>,
    /// Plain issues by number (numbers shared with pulls, as on GitHub).
    pub issues: BTreeMap<u64, FakeIssue>,
    /// Labels of pull requests by number (an issue keeps its own).
    pub pull_labels: BTreeMap<u64, Vec<String>>,
    /// GitHub answers 410 Gone to the issue endpoints of a repository with issues turned off.
    pub issues_enabled: bool,
    /// Reviews of every pull request, in the order they were submitted.
    pub reviews: Vec<FakeReview>,
}

impl FakeRepo {
    pub fn new(full_name: &str, bare: Option<PathBuf>) -> Self {
        FakeRepo {
            full_name: full_name.to_string(),
            bare,
            default_branch: "main".to_string(),
            installation: None,
            collaborators: BTreeMap::new(),
            pulls: BTreeMap::new(),
            issues: BTreeMap::new(),
            pull_labels: BTreeMap::new(),
            issues_enabled: true,
            reviews: Vec::new(),
        }
    }

    pub fn clone_url(&self) -> String {
        match &self.bare {
            Some(path) => format!("file://{}", path.display()),
            None => format!("https://github.com/{}.git", self.full_name),
        }
    }

    pub fn has_issue(&self, number: u64) -> bool {
        self.pulls.contains_key(&number) || self.issues.contains_key(&number)
    }

    pub fn next_number(&self) -> u64 {
        let pulls = self.pulls.keys().max().copied().unwrap_or(0);
        let issues = self.issues.keys().max().copied().unwrap_or(0);
        pulls.max(issues) + 1
    }

    pub fn owner(&self) -> &str {
        self.full_name.split('/').next().unwrap_or("")
    }

    /// The JSON of this repository as GitHub embeds it (`head.repo`, `base.repo`).
    pub fn json(&self) -> Value {
        let (owner, name) = self
            .full_name
            .split_once('/')
            .unwrap_or((&self.full_name, ""));
        json!({
            "full_name": self.full_name,
            "name": name,
            "owner": { "login": owner, "type": "Organization" },
            "private": true,
            "fork": false,
            "default_branch": self.default_branch,
            "clone_url": self.clone_url(),
            "html_url": format!("https://github.com/{}", self.full_name),
        })
    }
}

/// A pull request as the fake keeps it.
#[derive(Debug, Clone)]
pub struct FakePull {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub merged: bool,
    /// The merge commit once merged.
    pub merge_commit_sha: Option<String>,
    pub draft: bool,
    pub user: String,
    pub head_ref: String,
    /// `owner/name` of the fork the head lives in; `None` for the repository itself.
    pub head_repo: Option<String>,
    /// Overrides where the head is read from (otherwise the head branch, or for a fork
    /// `refs/pull/N/head`, in the bare repository).
    pub head_sha: Option<String>,
    pub base_ref: String,
    /// The commits GitHub associates with the pull request once merged
    /// (`GET …/commits/{sha}/pulls`): its head's own commits, and for a squash or a rebase
    /// the commits the merge created on the base branch.
    pub merged_commits: Vec<String>,
}

/// How a test describes a pull request that exists before slipway runs.
#[derive(Debug, Clone)]
pub struct PullSpec {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    pub head_ref: String,
    pub base_ref: String,
    pub head_repo: Option<String>,
    pub head_sha: Option<String>,
    pub draft: bool,
}

impl PullSpec {
    /// Pull request `number` from branch `head_ref` into `base_ref`, opened by `octocat`.
    pub fn new(number: u64, head_ref: &str, base_ref: &str) -> Self {
        PullSpec {
            number,
            title: format!("Change {number}"),
            body: None,
            user: "octocat".to_string(),
            head_ref: head_ref.to_string(),
            base_ref: base_ref.to_string(),
            head_repo: None,
            head_sha: None,
            draft: false,
        }
    }

    /// The head lives in the fork `owner/name`; GitHub keeps it as `refs/pull/N/head` of the
    /// base repository (the test writes that ref, as GitHub would).
    pub fn in_fork(mut self, fork: &str) -> Self {
        self.head_repo = Some(fork.to_string());
        self
    }

    pub fn by(mut self, user: &str) -> Self {
        self.user = user.to_string();
        self
    }

    pub fn head_sha(mut self, sha: &str) -> Self {
        self.head_sha = Some(sha.to_string());
        self
    }

    pub fn into_pull(self) -> FakePull {
        FakePull {
            number: self.number,
            title: self.title,
            body: self.body,
            state: "open".to_string(),
            merged: false,
            merge_commit_sha: None,
            draft: self.draft,
            user: self.user,
            head_ref: self.head_ref,
            head_repo: self.head_repo,
            head_sha: self.head_sha,
            base_ref: self.base_ref,
            merged_commits: Vec::new(),
        }
    }
}

impl FakePull {
    /// The head commit now, read live from the bare repository (GitHub moves a pull's head
    /// when its branch is pushed to).
    pub fn current_head_sha(&self, repo: &FakeRepo) -> String {
        if let Some(sha) = &self.head_sha {
            return sha.clone();
        }
        let Some(bare) = &repo.bare else {
            return "0".repeat(40);
        };
        let reference = match &self.head_repo {
            None => format!("refs/heads/{}", self.head_ref),
            Some(_) => format!("refs/pull/{}/head", self.number),
        };
        git::resolve_ref(bare, &reference).unwrap_or_else(|| "0".repeat(40))
    }

    pub fn json(&self, repo: &FakeRepo, api: &str) -> Value {
        let head_sha = self.current_head_sha(repo);
        let base_sha = repo
            .bare
            .as_ref()
            .and_then(|bare| git::resolve_ref(bare, &format!("refs/heads/{}", self.base_ref)))
            .unwrap_or_else(|| "0".repeat(40));
        let head_repo = match &self.head_repo {
            None => repo.json(),
            Some(fork) => {
                let (owner, name) = fork.split_once('/').unwrap_or((fork, ""));
                json!({
                    "full_name": fork,
                    "name": name,
                    "owner": { "login": owner, "type": "User" },
                    "private": false,
                    "fork": true,
                    "clone_url": format!("https://github.com/{fork}.git"),
                })
            }
        };
        let head_owner = head_repo["owner"]["login"].clone();
        json!({
            "url": format!("{api}/repos/{}/pulls/{}", repo.full_name, self.number),
            "html_url": format!("https://github.com/{}/pull/{}", repo.full_name, self.number),
            "number": self.number,
            "state": self.state,
            "locked": false,
            "title": self.title,
            "body": self.body,
            "draft": self.draft,
            "merged": self.merged,
            "mergeable": null,
            "merge_commit_sha": self.merge_commit_sha,
            "merged_at": if self.merged { json!("2026-12-01T12:00:00Z") } else { Value::Null },
            "user": { "login": self.user, "type": "User" },
            "head": {
                "label": format!("{}:{}", head_owner.as_str().unwrap_or(""), self.head_ref),
                "ref": self.head_ref,
                "sha": head_sha,
                "repo": head_repo,
            },
            "base": {
                "label": format!("{}:{}", repo.owner(), self.base_ref),
                "ref": self.base_ref,
                "sha": base_sha,
                "repo": repo.json(),
            },
        })
    }
}

/// The states GitHub's REST API gives a review.
pub const REVIEW_STATES: [&str; 5] = [
    "APPROVED",
    "CHANGES_REQUESTED",
    "COMMENTED",
    "DISMISSED",
    "PENDING",
];

/// A pull-request review.
#[derive(Debug, Clone)]
pub struct FakeReview {
    pub id: u64,
    pub repo: String,
    pub pull_number: u64,
    pub user_login: String,
    /// One of [`REVIEW_STATES`]; dismissing an approval changes it to `DISMISSED` in place.
    pub state: String,
    /// The head commit the review was made on.
    pub commit_id: String,
    pub body: String,
    /// `None` while pending, as on GitHub.
    pub submitted_at: Option<String>,
}

impl FakeReview {
    pub fn json(&self, api: &str) -> Value {
        json!({
            "id": self.id,
            "node_id": format!("PRR_{}", self.id),
            "user": { "login": self.user_login, "type": "User" },
            "body": self.body,
            "state": self.state,
            "html_url": format!(
                "https://github.com/{}/pull/{}#pullrequestreview-{}",
                self.repo, self.pull_number, self.id
            ),
            "pull_request_url": format!("{api}/repos/{}/pulls/{}", self.repo, self.pull_number),
            "author_association": "MEMBER",
            "submitted_at": self.submitted_at,
            "commit_id": self.commit_id,
        })
    }
}

/// An issue or pull-request comment.
#[derive(Debug, Clone)]
pub struct FakeComment {
    pub id: u64,
    pub repo: String,
    pub issue_number: u64,
    pub body: String,
    pub user_login: String,
    pub user_type: String,
    pub created_at: String,
    pub updated_at: String,
    /// How many times the body was edited.
    pub edits: usize,
    /// (login, content) of every reaction.
    pub reactions: Vec<(String, String)>,
}

impl FakeComment {
    pub fn json(&self, api: &str) -> Value {
        json!({
            "id": self.id,
            "node_id": format!("IC_{}", self.id),
            "url": format!("{api}/repos/{}/issues/comments/{}", self.repo, self.id),
            "html_url": format!("https://github.com/{}/pull/{}#issuecomment-{}", self.repo, self.issue_number, self.id),
            "issue_url": format!("{api}/repos/{}/issues/{}", self.repo, self.issue_number),
            "body": self.body,
            "user": { "login": self.user_login, "type": self.user_type },
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "author_association": if self.user_type == "Bot" { "NONE" } else { "MEMBER" },
        })
    }
}

/// A check run and everything done to it.
#[derive(Debug, Clone)]
pub struct FakeCheckRun {
    pub id: u64,
    pub repo: String,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    /// Every annotation received, in order (later requests append).
    pub annotations: Vec<Value>,
    pub details_url: Option<String>,
    pub external_id: Option<String>,
    /// The status after each create or update, in order.
    pub status_history: Vec<String>,
}

impl FakeCheckRun {
    pub fn json(&self, api: &str) -> Value {
        json!({
            "id": self.id,
            "url": format!("{api}/repos/{}/check-runs/{}", self.repo, self.id),
            "html_url": format!("https://github.com/{}/runs/{}", self.repo, self.id),
            "name": self.name,
            "head_sha": self.head_sha,
            "status": self.status,
            "conclusion": self.conclusion,
            "details_url": self.details_url,
            "external_id": self.external_id,
            "output": {
                "title": self.title,
                "summary": self.summary,
                "text": self.text,
                "annotations_count": self.annotations.len(),
            },
            "app": { "slug": APP_SLUG },
        })
    }
}

/// A plain issue (not a pull request).
#[derive(Debug, Clone)]
pub struct FakeIssue {
    pub number: u64,
    pub repo: String,
    pub title: String,
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    pub labels: Vec<String>,
    pub user_login: String,
    pub user_type: String,
    /// How many times the App changed it after creating it.
    pub edits: usize,
}

impl FakeIssue {
    pub fn json(&self, api: &str) -> Value {
        json!({
            "id": 1_000_000 + self.number,
            "node_id": format!("I_{}", self.number),
            "url": format!("{api}/repos/{}/issues/{}", self.repo, self.number),
            "html_url": format!("https://github.com/{}/issues/{}", self.repo, self.number),
            "number": self.number,
            "state": self.state,
            "state_reason": if self.state == "closed" { Value::from("completed") } else { Value::Null },
            "title": self.title,
            "body": self.body,
            "labels": label_json(&self.labels),
            "user": { "login": self.user_login, "type": self.user_type },
            "locked": false,
            "comments": 0,
            "author_association": if self.user_type == "Bot" { "NONE" } else { "MEMBER" },
        })
    }
}

/// Labels as GitHub embeds them in an issue.
pub fn label_json(labels: &[String]) -> Value {
    Value::Array(
        labels
            .iter()
            .enumerate()
            .map(|(index, name)| json!({ "id": index + 1, "name": name, "color": "ededed", "default": false }))
            .collect(),
    )
}

impl FakePull {
    /// The pull request as the issues list shows it: an issue with a `pull_request` key.
    pub fn issue_json(&self, repo: &FakeRepo, api: &str) -> Value {
        let labels = repo
            .pull_labels
            .get(&self.number)
            .cloned()
            .unwrap_or_default();
        json!({
            "id": 2_000_000 + self.number,
            "url": format!("{api}/repos/{}/issues/{}", repo.full_name, self.number),
            "html_url": format!("https://github.com/{}/pull/{}", repo.full_name, self.number),
            "number": self.number,
            "state": self.state,
            "title": self.title,
            "body": self.body,
            "labels": label_json(&labels),
            "user": { "login": self.user, "type": if self.user.ends_with("[bot]") { "Bot" } else { "User" } },
            "pull_request": {
                "url": format!("{api}/repos/{}/pulls/{}", repo.full_name, self.number),
                "html_url": format!("https://github.com/{}/pull/{}", repo.full_name, self.number),
            },
        })
    }
}

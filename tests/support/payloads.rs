//! Webhook payloads for scenarios: GitHub's own examples with the fields a scenario needs set.

use std::path::Path;

use serde_json::{json, Value};

use super::fixture;

/// The installation every scenario payload names.
pub const INSTALLATION_ID: i64 = 42;

/// A pull request as a scenario describes it.
#[derive(Debug, Clone)]
pub struct PullEvent {
    pub action: String,
    /// `owner/name` of the base repository.
    pub repository: String,
    /// The base repository's bare git repository (its `file://` URL is the clone URL).
    pub bare: std::path::PathBuf,
    pub number: u64,
    pub base_ref: String,
    pub base_sha: String,
    pub head_ref: String,
    pub head_sha: String,
    /// `owner/name` of the fork the head lives in.
    pub fork: Option<String>,
    pub draft: bool,
    /// Set for a `closed` event of a merged pull request: its merge commit.
    pub merge_commit_sha: Option<String>,
    /// `sender.login`: who caused the event (the pusher of `synchronize`).
    pub sender: Option<String>,
    /// For `edited`: the base branch before the edit (`changes.base.ref.from`).
    pub base_changed_from: Option<String>,
    /// `pull_request.updated_at`.
    pub updated_at: Option<String>,
}

impl PullEvent {
    pub fn new(action: &str, repository: &str, bare: &Path, number: u64) -> Self {
        PullEvent {
            action: action.to_string(),
            repository: repository.to_string(),
            bare: bare.to_path_buf(),
            number,
            base_ref: "main".to_string(),
            base_sha: String::new(),
            head_ref: "change".to_string(),
            head_sha: String::new(),
            fork: None,
            draft: false,
            merge_commit_sha: None,
            sender: None,
            base_changed_from: None,
            updated_at: None,
        }
    }

    /// Sent by `login` (for `opened`, `reopened` and `synchronize`: who pushed the head).
    pub fn sender(mut self, login: &str) -> Self {
        self.sender = Some(login.to_string());
        self
    }

    /// An `edited` event whose base branch was `from` before, made at `at` (RFC 3339).
    pub fn base_changed(mut self, from: &str, at: &str) -> Self {
        self.action = "edited".to_string();
        self.base_changed_from = Some(from.to_string());
        self.updated_at = Some(at.to_string());
        self
    }

    pub fn base(mut self, reference: &str, sha: &str) -> Self {
        self.base_ref = reference.to_string();
        self.base_sha = sha.to_string();
        self
    }

    pub fn head(mut self, reference: &str, sha: &str) -> Self {
        self.head_ref = reference.to_string();
        self.head_sha = sha.to_string();
        self
    }

    pub fn in_fork(mut self, fork: &str) -> Self {
        self.fork = Some(fork.to_string());
        self
    }

    /// The `closed` event of the pull request merged as `merge_sha`.
    pub fn merged(mut self, merge_sha: &str) -> Self {
        self.action = "closed".to_string();
        self.merge_commit_sha = Some(merge_sha.to_string());
        self
    }

    pub fn action(mut self, action: &str) -> Self {
        self.action = action.to_string();
        self
    }

    pub fn clone_url(&self) -> String {
        super::file_url(&self.bare)
    }

    /// The `pull_request` payload: GitHub's example `opened` event with these fields.
    pub fn payload(&self) -> Vec<u8> {
        let mut event: Value =
            serde_json::from_slice(&fixture("handled/pull_request/00-opened.json"))
                .expect("the fixture is JSON");
        let (owner, _) = self.repository.split_once('/').expect("owner/name");
        let clone_url = self.clone_url();
        let repo = |full_name: &str, clone_url: &str, fork: bool| {
            let (o, n) = full_name.split_once('/').expect("owner/name");
            json!({
                "id": 1, "name": n, "full_name": full_name, "private": true, "fork": fork,
                "owner": { "login": o, "id": 2, "type": if fork { "User" } else { "Organization" } },
                "html_url": format!("https://github.com/{full_name}"),
                "clone_url": clone_url,
                "default_branch": "main",
            })
        };
        event["action"] = json!(self.action);
        event["number"] = json!(self.number);
        let base_repo = repo(&self.repository, &clone_url, false);
        event["repository"] = base_repo.clone();
        event["installation"] =
            json!({ "id": INSTALLATION_ID, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI=" });
        let pull = &mut event["pull_request"];
        pull["number"] = json!(self.number);
        pull["draft"] = json!(self.draft);
        pull["state"] = json!(if self.merge_commit_sha.is_some() {
            "closed"
        } else {
            "open"
        });
        pull["merged"] = json!(self.merge_commit_sha.is_some());
        pull["merge_commit_sha"] = json!(self.merge_commit_sha);
        pull["url"] = json!(format!(
            "https://api.github.com/repos/{}/pulls/{}",
            self.repository, self.number
        ));
        pull["html_url"] = json!(format!(
            "https://github.com/{}/pull/{}",
            self.repository, self.number
        ));
        pull["base"]["ref"] = json!(self.base_ref);
        pull["base"]["sha"] = json!(self.base_sha);
        pull["base"]["label"] = json!(format!("{owner}:{}", self.base_ref));
        pull["base"]["repo"] = base_repo.clone();
        pull["head"]["ref"] = json!(self.head_ref);
        pull["head"]["sha"] = json!(self.head_sha);
        if let Some(at) = &self.updated_at {
            pull["updated_at"] = json!(at);
        }
        match &self.fork {
            None => {
                pull["head"]["label"] = json!(format!("{owner}:{}", self.head_ref));
                pull["head"]["repo"] = base_repo;
            }
            Some(fork) => {
                let fork_owner = fork.split_once('/').map_or(fork.as_str(), |(o, _)| o);
                pull["head"]["label"] = json!(format!("{fork_owner}:{}", self.head_ref));
                pull["head"]["repo"] = repo(fork, &format!("https://github.com/{fork}.git"), true);
            }
        }
        if let Some(login) = &self.sender {
            event["sender"] = json!({ "login": login, "id": 7, "type": "User" });
        }
        if let Some(from) = &self.base_changed_from {
            event["changes"] =
                json!({ "base": { "ref": { "from": from }, "sha": { "from": "0".repeat(40) } } });
        }
        serde_json::to_vec(&event).expect("serialises")
    }
}

//! The world of comment-command scenarios: a config repo with three environments in a real bare
//! repository behind the fake GitHub, a running slipway, collaborators of every permission, a
//! pull request to comment on, and `issue_comment` webhooks made from GitHub's own example.
//!
//! A scenario must read everything slipway posted (replies, reactions, preview comments, check
//! runs) through the world's accessors: when the world is dropped at the end of a test, anything
//! unread fails it with a listing of what was never read.
#![allow(dead_code)] // each test file uses its own part

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use crate::git_fixtures::{git_in, TestRepo};
use crate::manifests::{api_deployment, config_map};
use crate::support::fake_github::{app_bot_login, FakeCheckRun, FakeComment, FakePull, PullSpec};
use crate::support::payloads::INSTALLATION_ID;
use crate::support::{fixture, FakeGitHub, TestServer};

pub const REPO: &str = "acme/config";
/// The pull request the scenarios comment on.
pub const PULL: u64 = 7;
/// A plain issue of the config repo.
pub const ISSUE: u64 = 3;
pub const WAIT: Duration = Duration::from_secs(60);

pub const CONFIG: &str = "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
    bumped_by:
      registry.example.com/team/api: [acme/api]
  staging:
    path: envs/staging
    namespace: team-staging
    promote_from: dev
  prod:
    path: envs/prod
    namespace: team-prod
    promote_from: staging
  sandbox:
    path: envs/sandbox
";

fn settings_path(env: &str) -> String {
    format!("envs/{env}/settings.yaml")
}

/// The config repo: a work tree and the bare repository the fake serves.
pub struct ConfigRepo {
    pub work: TestRepo,
    _bare_dir: tempfile::TempDir,
    pub bare: PathBuf,
}

impl ConfigRepo {
    pub fn new() -> Self {
        Self::with_config(CONFIG)
    }

    pub fn with_config(config: &str) -> Self {
        let work = TestRepo::new();
        work.write(".github/slipway.yml", config);
        // Each environment a release behind the one it is promoted from.
        for (env, version, envoy) in [
            ("dev", "1.5.0", "v1.31.0"),
            ("staging", "1.4.0", "v1.30.1"),
            ("prod", "1.3.0", "v1.30.1"),
        ] {
            work.write(
                &format!("envs/{env}/api.yaml"),
                &api_deployment(version, version, envoy),
            );
        }
        for env in ["staging", "prod", "sandbox"] {
            work.write(&settings_path(env), &config_map("settings", "mode", env));
        }
        work.commit("initial");
        work.git(&["checkout", "--quiet", "-b", "change"]);
        work.write(
            &settings_path("dev"),
            &config_map("settings", "mode", "dev"),
        );
        work.commit("a change under review");
        work.git(&["checkout", "--quiet", "main"]);
        let (bare_dir, bare) = work.bare_clone();
        ConfigRepo {
            work,
            _bare_dir: bare_dir,
            bare,
        }
    }

    /// `git --git-dir BARE args…`.
    pub fn git(&self, args: &[&str]) -> String {
        let mut all = vec!["--git-dir", self.bare.to_str().unwrap()];
        all.extend_from_slice(args);
        git_in(self.work.path(), &all)
    }

    fn raw_git(&self, args: &[&str]) -> Option<Vec<u8>> {
        let out = std::process::Command::new("git")
            .args(["--git-dir", self.bare.to_str().unwrap()])
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        out.status.success().then_some(out.stdout)
    }

    /// The commit `rev` names in the bare repository, if any.
    pub fn resolve(&self, rev: &str) -> Option<String> {
        self.raw_git(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
        .map(|out| String::from_utf8_lossy(&out).trim().to_string())
    }

    /// The exact bytes of `path` at `rev` in the bare repository.
    pub fn show(&self, rev: &str, path: &str) -> String {
        let bytes = self
            .raw_git(&["show", &format!("{rev}:{path}")])
            .unwrap_or_else(|| panic!("no {path} at {rev}"));
        String::from_utf8(bytes).expect("UTF-8")
    }

    /// The paths that differ between two revisions.
    pub fn changed_paths(&self, from: &str, to: &str) -> Vec<String> {
        let out = self
            .raw_git(&["diff", "--name-only", from, to])
            .expect("git diff");
        String::from_utf8_lossy(&out)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Commits what `change` writes onto `main` and pushes it to the bare repository.
    pub fn push_main(&self, change: impl FnOnce(&TestRepo)) -> String {
        change(&self.work);
        let head = self.work.commit("a change on main");
        self.work
            .git(&["push", "--quiet", self.bare.to_str().unwrap(), "main:main"]);
        head
    }

    pub fn clone_url(&self) -> String {
        crate::support::file_url(&self.bare)
    }
}

/// Collaborators of every kind.
pub const WRITER: &str = "alice";
pub const MAINTAINER: &str = "mona";
pub const ADMIN: &str = "octocat";
pub const READER: &str = "mallory";
pub const TRIAGER: &str = "trish";

pub struct World {
    pub repo: ConfigRepo,
    pub fake: FakeGitHub,
    pub server: TestServer,
    deliveries: std::sync::atomic::AtomicUsize,
}

impl World {
    pub async fn new() -> World {
        Self::with_repo(ConfigRepo::new()).await
    }

    pub async fn with_repo(repo: ConfigRepo) -> World {
        let fake = FakeGitHub::builder()
            .with_installation(INSTALLATION_ID)
            .with_repo(REPO, &repo.bare)
            .with_collaborator(REPO, WRITER, "write")
            .with_collaborator(REPO, MAINTAINER, "maintain")
            .with_collaborator(REPO, ADMIN, "admin")
            .with_collaborator(REPO, READER, "read")
            .with_collaborator(REPO, TRIAGER, "triage")
            .with_pull(REPO, PullSpec::new(PULL, "change", "main"))
            .with_issue(REPO, ISSUE)
            .fail_on_unread_output()
            .start()
            .await;
        let server = TestServer::builder().github(&fake).start().await;
        World {
            repo,
            fake,
            server,
            deliveries: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// `login` writes `body` on the pull request: the comment exists on the fake, and slipway
    /// gets the `issue_comment` `created` webhook and processes it. Returns the comment as the
    /// fake has it afterwards (with slipway's reactions).
    pub async fn comment(&self, login: &str, body: &str) -> FakeComment {
        let comment = self.fake.user_comments(REPO, PULL, login, body);
        let payload = CommentEvent::new(&self.repo, PULL, &comment).payload();
        self.deliver(&payload).await;
        self.comment_now(comment.id)
    }

    /// `login` writes `body` on plain issue `number` (not a pull request), as [`Self::comment`].
    pub async fn comment_on_issue(&self, login: &str, number: u64, body: &str) -> FakeComment {
        let comment = self.fake.user_comments(REPO, number, login, body);
        let mut event = CommentEvent::new(&self.repo, number, &comment);
        event.on_pull_request = false;
        self.deliver(&event.payload()).await;
        self.comment_now(comment.id)
    }

    /// Posts an `issue_comment` payload and waits until slipway is done with it.
    pub async fn deliver(&self, payload: &[u8]) -> String {
        let n = self
            .deliveries
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let id = format!("comment-delivery-{n}");
        let (status, body) = self.server.deliver("issue_comment", &id, payload).await;
        assert_eq!(status, 202, "{body}");
        self.server.wait_for_state(&id, "done", WAIT).await;
        id
    }

    /// The comment `id` as the fake holds it now.
    pub fn comment_now(&self, id: u64) -> FakeComment {
        self.fake
            .state()
            .comments
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .expect("the comment exists")
    }

    /// slipway's comments on pull request `number`, all of them read.
    pub fn bot_comments(&self, number: u64) -> Vec<FakeComment> {
        self.fake
            .comments_on(REPO, number)
            .into_iter()
            .filter(|c| c.user_login == app_bot_login())
            .collect()
    }

    /// slipway's comments on `number` whose body starts with `marker` (only those are read).
    fn bot_comments_marked(&self, number: u64, marker: &str) -> Vec<FakeComment> {
        let found: Vec<FakeComment> = self
            .fake
            .peek_comments_on(REPO, number)
            .into_iter()
            .filter(|c| c.user_login == app_bot_login() && c.body.starts_with(marker))
            .collect();
        for comment in &found {
            self.fake.read_comment(comment);
        }
        found
    }

    /// slipway's reply to `comment` (exactly one).
    pub fn reply_to(&self, comment: &FakeComment) -> String {
        let marker = format!("<!-- slipway:reply comment={} -->\n", comment.id);
        let replies = self.bot_comments_marked(comment.issue_number, &marker);
        assert_eq!(replies.len(), 1, "replies to {}: {replies:#?}", comment.id);
        replies[0].body[marker.len()..].to_string()
    }

    /// The body of the preview comment on the pull request (exactly one part).
    pub fn preview_comment(&self) -> String {
        let parts = self.bot_comments_marked(PULL, "<!-- slipway:preview part=");
        assert_eq!(parts.len(), 1, "preview comments: {parts:#?}");
        parts[0].body.clone()
    }

    /// The reactions slipway left on `comment` (as `comment` was read), in order.
    pub fn reactions(&self, comment: &FakeComment) -> Vec<String> {
        self.fake.bot_reactions(comment)
    }

    /// slipway's check runs on the config repo, in creation order, all of them read.
    pub fn check_runs(&self) -> Vec<FakeCheckRun> {
        self.fake.check_runs(REPO)
    }

    /// The pull requests (open or closed) whose head is `branch`.
    pub fn pulls_from(&self, branch: &str) -> Vec<FakePull> {
        self.fake
            .pulls(REPO)
            .into_iter()
            .filter(|p| p.head_ref == branch)
            .collect()
    }

    /// `METHOD /path` of every request since `mark`, but the missed-delivery scanner's reads of
    /// the App's delivery log (it runs at start-up, whatever the scenario).
    pub fn calls_since(&self, mark: usize) -> Vec<String> {
        self.fake
            .requests_since(mark)
            .into_iter()
            .filter(|r| !r.path.starts_with("/app/hook/"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

/// An `issue_comment` webhook: GitHub's example `created` event with these fields.
pub struct CommentEvent {
    pub action: String,
    pub number: u64,
    pub on_pull_request: bool,
    pub comment_id: u64,
    pub body: String,
    pub login: String,
    pub user_type: String,
    pub clone_url: String,
}

impl CommentEvent {
    pub fn new(repo: &ConfigRepo, number: u64, comment: &FakeComment) -> Self {
        CommentEvent {
            action: "created".into(),
            number,
            on_pull_request: true,
            comment_id: comment.id,
            body: comment.body.clone(),
            login: comment.user_login.clone(),
            user_type: comment.user_type.clone(),
            clone_url: repo.clone_url(),
        }
    }

    pub fn payload(&self) -> Vec<u8> {
        let mut event: Value =
            serde_json::from_slice(&fixture("handled/issue_comment/00-created.json"))
                .expect("the fixture is JSON");
        let (owner, name) = REPO.split_once('/').unwrap();
        let user = json!({ "login": self.login, "id": 9, "type": self.user_type });
        event["action"] = json!(self.action);
        event["issue"]["number"] = json!(self.number);
        event["issue"]["url"] = json!(format!(
            "https://api.github.com/repos/{REPO}/issues/{}",
            self.number
        ));
        if self.on_pull_request {
            event["issue"]["pull_request"] = json!({
                "url": format!("https://api.github.com/repos/{REPO}/pulls/{}", self.number),
                "html_url": format!("https://github.com/{REPO}/pull/{}", self.number),
            });
        } else if let Some(issue) = event["issue"].as_object_mut() {
            issue.remove("pull_request");
        }
        event["comment"]["id"] = json!(self.comment_id);
        event["comment"]["body"] = json!(self.body);
        event["comment"]["user"] = user.clone();
        event["sender"] = user;
        event["repository"] = json!({
            "id": 1, "name": name, "full_name": REPO, "private": true, "fork": false,
            "owner": { "login": owner, "id": 2, "type": "Organization" },
            "html_url": format!("https://github.com/{REPO}"),
            "clone_url": self.clone_url,
            "default_branch": "main",
        });
        event["installation"] =
            json!({ "id": INSTALLATION_ID, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI=" });
        serde_json::to_vec(&event).expect("serialises")
    }
}

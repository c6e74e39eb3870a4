//! The world of deploy scenarios: a config repo (`acme/config`) with a gated and an ungated
//! environment in a real bare repository behind the fake GitHub, the fake Kubernetes API server
//! slipway deploys into, and slipway between them. A scenario changes the config repo on a
//! branch, opens a pull request, reviews it, merges it as GitHub's merge button does and
//! delivers the webhooks GitHub would send; it plays the workload controllers through the fake
//! API server (rolled out at once by default, or held back to test health and rollback).
#![allow(dead_code)] // each test file uses its own part

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::git_fixtures::TestRepo;
use crate::manifests::{config_map_in, Deployment};
use crate::support::fake_github::{FakeCheckRun, FakeComment, MergeMethod, PullSpec};
use crate::support::fake_kube::FakeKube;
use crate::support::payloads::{PullEvent, INSTALLATION_ID};
use crate::support::{fake_github::FakeDeployment, FakeGitHub, TestServer};

pub const REPO: &str = "acme/config";
pub const WAIT: Duration = Duration::from_secs(30);
pub const DEV_NS: &str = "team-dev";
/// A plain issue of the config repo, for commands that need no pull request (`/rollback`).
pub const ISSUE: u64 = 50;
pub const PROD_NS: &str = "team-prod";

/// `dev` deploys on every merge and push, prunes, rolls back when unhealthy; `prod` needs one
/// approval of a writer. Health waits are short so scenarios that time out stay fast.
pub const CONFIG: &str = "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
    prune: true
    health_timeout: 2s
    on_failure: rollback
  prod:
    path: envs/prod
    namespace: team-prod
    required_approvals: 1
    health_timeout: 2s
";

/// The `api` Deployment of an environment at image tag `tag`.
pub fn api(namespace: &str, tag: &str) -> String {
    Deployment::new("api")
        .namespace(namespace)
        .image(&format!("registry.example.com/team/api:{tag}"))
        .yaml()
}

/// The order GitHub's two webhooks of a merge arrive in: GitHub does not promise one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOrder {
    ClosedFirst,
    PushFirst,
}

/// Clusters besides `default`, each a fake API server, given to slipway as a `CLUSTERS`
/// directory laid out as a Secret volume mounts one Secret per cluster.
pub struct OtherClusters {
    /// Name and API server of each.
    pub clusters: Vec<(String, FakeKube)>,
    /// Names that reach the API server of `default` too.
    pub aliases: Vec<String>,
    /// Kubeconfigs written instead of the token one [`FakeKube::kubeconfig`] makes, by name.
    pub kubeconfigs: Vec<(String, String)>,
    /// How long a deploy waits for an unreachable cluster before it tries again.
    pub backoff: Duration,
}

pub struct DeployWorld {
    pub work: TestRepo,
    drift_tick: Option<Duration>,
    /// The `CLUSTERS` directory and the backoff, when the world has clusters besides `default`.
    clusters_dir: Option<(tempfile::TempDir, Duration)>,
    /// The clusters besides `default`, by name.
    pub others: Vec<(String, FakeKube)>,
    _bare_dir: tempfile::TempDir,
    pub bare: PathBuf,
    pub fake: FakeGitHub,
    pub kube: FakeKube,
    pub server: Option<TestServer>,
    deliveries: std::sync::atomic::AtomicUsize,
}

impl DeployWorld {
    pub async fn new() -> DeployWorld {
        Self::with_config(CONFIG).await
    }

    /// A config repo declaring `config`, whose `main` holds `api` 1.0 and a `settings`
    /// ConfigMap in each environment; nothing is deployed yet.
    pub async fn with_config(config: &str) -> DeployWorld {
        Self::with_drift_tick(config, None).await
    }

    /// [`Self::with_config`], the drift job looking for due checks every `tick`.
    pub async fn with_drift_tick(config: &str, tick: Option<Duration>) -> DeployWorld {
        Self::build(config, tick, true, None).await
    }

    /// The world of a slipway set up without a cluster (previews and commands only).
    pub async fn without_cluster() -> DeployWorld {
        Self::build(CONFIG, None, false, None).await
    }

    /// [`Self::with_drift_tick`] with `others` named in slipway's `CLUSTERS` setting besides
    /// `default` (the world's `kube`).
    pub async fn with_clusters(
        config: &str,
        tick: Option<Duration>,
        others: OtherClusters,
    ) -> DeployWorld {
        Self::build(config, tick, true, Some(others)).await
    }

    /// A Secret volume of one kubeconfig Secret per cluster, as the kubelet mounts it: the
    /// files in a timestamped directory, `..data` pointing at it, and a top-level symlink per
    /// key.
    fn secret_volume(
        others: &[(String, FakeKube)],
        kubeconfigs: &[(String, String)],
    ) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temp dir");
        let stamped = dir.path().join("..2026_12_07_10_00_00.000000001");
        std::fs::create_dir(&stamped).expect("the timestamped directory");
        for (name, kube) in others {
            let text = kubeconfigs
                .iter()
                .find(|(given, _)| given == name)
                .map(|(_, text)| text.clone())
                .unwrap_or_else(|| kube.kubeconfig(name));
            std::fs::write(stamped.join(name), text).expect("a kubeconfig");
            std::os::unix::fs::symlink(format!("..data/{name}"), dir.path().join(name))
                .expect("the key's symlink");
        }
        std::os::unix::fs::symlink("..2026_12_07_10_00_00.000000001", dir.path().join("..data"))
            .expect("..data");
        dir
    }

    fn with_world_clusters(
        mut builder: crate::support::TestServerBuilder,
        clusters_dir: &Option<(tempfile::TempDir, Duration)>,
    ) -> crate::support::TestServerBuilder {
        if let Some((dir, backoff)) = clusters_dir {
            builder = builder
                .var("CLUSTERS", dir.path().to_str().expect("a UTF-8 path"))
                .cluster_backoff(slipway::pipelines::deploy::ClusterBackoff {
                    first: *backoff,
                    max: *backoff * 4,
                });
        }
        builder
    }

    async fn build(
        config: &str,
        tick: Option<Duration>,
        cluster: bool,
        others: Option<OtherClusters>,
    ) -> DeployWorld {
        let work = TestRepo::new();
        work.write(".github/slipway.yml", config);
        for (env, ns) in [("dev", DEV_NS), ("prod", PROD_NS)] {
            work.write(&format!("envs/{env}/api.yaml"), &api(ns, "1.0"));
            work.write(
                &format!("envs/{env}/settings.yaml"),
                &config_map_in(ns, "settings", "mode", env),
            );
        }
        work.commit("initial");
        let (bare_dir, bare) = work.bare_clone();
        let fake = FakeGitHub::builder()
            .with_installation(INSTALLATION_ID)
            .with_repo(REPO, &bare)
            .with_installation_on(REPO, INSTALLATION_ID)
            .with_collaborator(REPO, "alice", "write")
            .with_collaborator(REPO, "bob", "write")
            .with_collaborator(REPO, "reader", "read")
            .with_issue(REPO, ISSUE)
            .start()
            .await;
        // The target namespaces exist, as a platform team creates them for slipway.
        let kube = FakeKube::builder()
            .namespace(DEV_NS)
            .namespace(PROD_NS)
            .start()
            .await;
        kube.auto_roll_out(true);
        let mut builder = TestServer::builder().github(&fake);
        if cluster {
            builder = builder.kube(&kube);
        }
        if let Some(tick) = tick {
            builder = builder.drift_tick(tick);
        }
        let (clusters_dir, others) = match others {
            Some(others) => {
                let mut clusters = others.clusters;
                for alias in others.aliases {
                    clusters.push((alias, kube.clone()));
                }
                (
                    Some((
                        Self::secret_volume(&clusters, &others.kubeconfigs),
                        others.backoff,
                    )),
                    clusters,
                )
            }
            None => (None, Vec::new()),
        };
        builder = Self::with_world_clusters(builder, &clusters_dir);
        let server = builder.start().await;
        DeployWorld {
            work,
            drift_tick: tick,
            clusters_dir,
            others,
            _bare_dir: bare_dir,
            bare,
            fake,
            kube,
            server: Some(server),
            deliveries: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub fn server(&self) -> &TestServer {
        self.server.as_ref().expect("the server is running")
    }

    /// Commits what `change` writes on `branch` (made from `main` when new) and pushes it to
    /// GitHub; the branch's new head.
    pub fn commit_on(&self, branch: &str, message: &str, change: impl FnOnce(&TestRepo)) -> String {
        // As a person would: start from GitHub's copy of the branch (a merge may have moved
        // it), or from `main` for a new branch.
        let on_github = crate::git_fixtures::git_in(&self.bare, &["branch", "--list", branch]);
        let from = if on_github.trim().is_empty() {
            "main"
        } else {
            branch
        };
        self.work
            .git(&["fetch", "--quiet", self.bare.to_str().unwrap(), from]);
        self.work
            .git(&["checkout", "--quiet", "-B", branch, "FETCH_HEAD"]);
        change(&self.work);
        let sha = self.work.commit(message);
        self.work.git(&[
            "push",
            "--quiet",
            "--force",
            self.bare.to_str().unwrap(),
            &format!("{branch}:{branch}"),
        ]);
        sha
    }

    /// Opens pull request `number` from `branch` by `author`.
    pub fn open_pull(&self, number: u64, branch: &str, author: &str) {
        self.fake
            .open_pull(REPO, PullSpec::new(number, branch, "main").by(author));
    }

    /// Changes `branch`, opens pull request `number` from it by `alice`; the head sha.
    pub fn propose(&self, number: u64, branch: &str, change: impl FnOnce(&TestRepo)) -> String {
        let head = self.commit_on(branch, &format!("change {number}"), change);
        self.open_pull(number, branch, "alice");
        head
    }

    /// The commit `branch` of the config repo points at.
    pub fn branch_head(&self, branch: &str) -> String {
        crate::git_fixtures::git_in(&self.bare, &["rev-parse", &format!("refs/heads/{branch}")])
            .trim()
            .to_string()
    }

    pub fn main_head(&self) -> String {
        crate::git_fixtures::git_in(&self.bare, &["rev-parse", "main"])
    }

    /// Merges pull request `number` with the merge button and delivers what GitHub sends: the
    /// `pull_request` `closed` event, then the `push` of the merge commit (by `bob`, who
    /// pressed the button). The merge commit.
    pub async fn merge(&self, number: u64) -> String {
        self.merge_with(number, MergeMethod::Merge, WebhookOrder::ClosedFirst)
            .await
    }

    /// [`Self::merge`] with another merge method; `merge_commit_sha` (for a rebase, the last
    /// re-created commit).
    pub async fn merge_as(&self, number: u64, method: MergeMethod) -> String {
        self.merge_with(number, method, WebhookOrder::ClosedFirst)
            .await
    }

    /// Merges pull request `number` with `method` and delivers `closed` and the `push` of the
    /// default branch (before: its tip before the merge) in `order`, as GitHub may.
    pub async fn merge_with(
        &self,
        number: u64,
        method: MergeMethod,
        order: WebhookOrder,
    ) -> String {
        let before = self.main_head();
        let merge = self.fake.merge_pull_as(REPO, number, method);
        match order {
            WebhookOrder::ClosedFirst => {
                self.deliver_merge(number, &before, &merge).await;
                self.deliver_push_by(&before, &merge, "bob").await;
            }
            WebhookOrder::PushFirst => {
                self.deliver_push_by(&before, &merge, "bob").await;
                self.deliver_merge(number, &before, &merge).await;
            }
        }
        merge
    }

    /// `login` pushes a commit to pull request `number`'s branch, and GitHub says so with
    /// `pull_request` `synchronize` sent by `login`; the new head.
    pub async fn push_to_pull(
        &self,
        number: u64,
        login: &str,
        change: impl FnOnce(&TestRepo),
    ) -> String {
        let pull = self
            .fake
            .pull(REPO, number)
            .expect("the pull request exists");
        let head = self.commit_on(&pull.head_ref, &format!("{login}'s change"), change);
        self.deliver_pull_event(number, "synchronize", login).await;
        head
    }

    /// The `pull_request` `action` webhook of `number` as it is now, sent by `login`.
    pub async fn deliver_pull_event(&self, number: u64, action: &str, login: &str) -> String {
        let event = self.pull_event(number, action).sender(login);
        self.deliver("pull_request", &event.payload()).await
    }

    /// `login` changes pull request `number`'s base branch to `base`; GitHub sends `edited`
    /// with `changes.base`.
    pub async fn change_base(&self, number: u64, base: &str, login: &str) -> String {
        let from = self
            .fake
            .pull(REPO, number)
            .expect("the pull request exists")
            .base_ref;
        self.fake.change_pull_base(REPO, number, base);
        let now = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("0 is a nanosecond")
            .format(&time::format_description::well_known::Rfc3339)
            .expect("formats");
        let event = self
            .pull_event(number, "edited")
            .sender(login)
            .base_changed(&from, &now);
        self.deliver("pull_request", &event.payload()).await
    }

    fn pull_event(&self, number: u64, action: &str) -> PullEvent {
        let pull = self
            .fake
            .pull(REPO, number)
            .expect("the pull request exists");
        let repo = self.fake.state();
        let head = repo
            .repos
            .get(REPO)
            .map(|r| pull.current_head_sha(r))
            .unwrap_or_default();
        drop(repo);
        let base = crate::git_fixtures::git_in(
            &self.bare,
            &["rev-parse", &format!("refs/heads/{}", pull.base_ref)],
        );
        PullEvent::new(action, REPO, &self.bare, number)
            .base(&pull.base_ref, base.trim())
            .head(&pull.head_ref, &head)
    }

    /// The `pull_request` `closed` (merged) webhook of `number`, merged as `merge` onto `base`.
    pub async fn deliver_merge(&self, number: u64, base: &str, merge: &str) -> String {
        let pull = self
            .fake
            .pull(REPO, number)
            .expect("the pull request exists");
        let head = pull.head_sha.clone().unwrap_or_default();
        let mut event = PullEvent::new("closed", REPO, &self.bare, number)
            .base("main", base)
            .head(&pull.head_ref, &head)
            .merged(merge);
        if let Some(fork) = &pull.head_repo {
            event = event.in_fork(fork);
        }
        self.deliver("pull_request", &event.payload()).await
    }

    /// Commits straight to `main` (no pull request) and delivers the push; the new head.
    pub async fn push_to_main(&self, message: &str, change: impl FnOnce(&TestRepo)) -> String {
        let before = self.main_head();
        let after = self.commit_on("main", message, change);
        self.deliver_push(&before, &after).await;
        after
    }

    pub async fn deliver_push(&self, before: &str, after: &str) -> String {
        self.deliver_push_by(before, after, "alice").await
    }

    /// The `push` of `main` from `before` to `after`, pushed by `login` (`pusher`, `sender`).
    pub async fn deliver_push_by(&self, before: &str, after: &str, login: &str) -> String {
        let push = crate::build_world::Push {
            repository: REPO.to_string(),
            clone_url: crate::support::file_url(&self.bare),
            git_ref: "refs/heads/main".to_string(),
            before: before.to_string(),
            after: after.to_string(),
            message: "a change".to_string(),
            deleted: false,
            fork: false,
        };
        let mut payload: Value = serde_json::from_slice(&push.payload()).expect("JSON");
        payload["pusher"]["name"] = serde_json::json!(login);
        payload["sender"]["login"] = serde_json::json!(login);
        let payload = serde_json::to_vec(&payload).expect("serialises");
        self.deliver("push", &payload).await
    }

    /// Someone presses "Re-run" on the check run `run`: GitHub's `check_run` `rerequested`.
    pub async fn rerun(&self, run: &FakeCheckRun) -> String {
        let mut event: Value = serde_json::from_slice(&crate::support::fixture(
            "handled/check_run/07-rerequested.json",
        ))
        .expect("the fixture is JSON");
        let (owner, name) = REPO.split_once('/').unwrap();
        event["installation"] = serde_json::json!({ "id": INSTALLATION_ID });
        event["check_run"]["id"] = serde_json::json!(run.id);
        event["check_run"]["name"] = serde_json::json!(run.name);
        event["check_run"]["head_sha"] = serde_json::json!(run.head_sha);
        event["check_run"]["check_suite"]["head_branch"] = serde_json::json!("main");
        event["check_run"]["check_suite"]["head_sha"] = serde_json::json!(run.head_sha);
        let repository = &mut event["repository"];
        repository["name"] = serde_json::json!(name);
        repository["full_name"] = serde_json::json!(REPO);
        repository["owner"]["login"] = serde_json::json!(owner);
        repository["clone_url"] = serde_json::json!(crate::support::file_url(&self.bare));
        repository["html_url"] = serde_json::json!(format!("https://github.com/{REPO}"));
        repository["default_branch"] = serde_json::json!("main");
        repository["fork"] = serde_json::json!(false);
        let payload = serde_json::to_vec(&event).expect("serialises");
        self.deliver("check_run", &payload).await
    }

    /// `login` writes `body` on the plain issue [`ISSUE`] and slipway processes the comment;
    /// slipway's reply.
    pub async fn command_on_issue(&self, login: &str, body: &str) -> FakeComment {
        let comment = self.fake.user_comments(REPO, ISSUE, login, body);
        let event = crate::command_world::CommentEvent {
            action: "created".into(),
            number: ISSUE,
            on_pull_request: false,
            comment_id: comment.id,
            body: comment.body.clone(),
            login: comment.user_login.clone(),
            user_type: comment.user_type.clone(),
            clone_url: crate::support::file_url(&self.bare),
        };
        self.deliver("issue_comment", &event.payload()).await;
        let replies: Vec<FakeComment> = self
            .fake
            .peek_comments_on(REPO, ISSUE)
            .into_iter()
            .filter(|c| c.user_type == "Bot")
            .collect();
        let reply = replies.last().cloned().expect("slipway replied");
        self.fake.read_comment(&reply);
        reply
    }

    /// Posts a webhook and waits until slipway is done with it; returns the delivery id.
    pub async fn deliver(&self, event: &str, payload: &[u8]) -> String {
        let n = self
            .deliveries
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let id = format!("deploy-delivery-{n}");
        self.deliver_as(event, &id, payload).await;
        id
    }

    pub async fn deliver_as(&self, event: &str, id: &str, payload: &[u8]) {
        self.server()
            .deliver_and_finish(event, id, payload, WAIT)
            .await;
    }

    /// The `slipway/deploy/<env>` check runs on `sha`, oldest first.
    pub fn deploy_checks(&self, sha: &str, env: &str) -> Vec<FakeCheckRun> {
        let name = format!("slipway/deploy/{env}");
        self.fake
            .check_runs(REPO)
            .into_iter()
            .filter(|run| run.head_sha == sha && run.name == name)
            .collect()
    }

    /// Waits until the newest `slipway/deploy/<env>` check run on `sha` is completed.
    pub async fn deployed(&self, sha: &str, env: &str) -> FakeCheckRun {
        self.check_when(sha, env, "completed", |run| run.status == "completed")
            .await
    }

    pub async fn check_when(
        &self,
        sha: &str,
        env: &str,
        what: &str,
        done: impl Fn(&FakeCheckRun) -> bool,
    ) -> FakeCheckRun {
        let deadline = Instant::now() + WAIT;
        loop {
            let newest = self.deploy_checks(sha, env).into_iter().next_back();
            if let Some(run) = &newest {
                if done(run) {
                    return run.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "the deploy check of {env} on {sha} never became {what}: {newest:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The GitHub Deployments of `env`, oldest first.
    pub fn deployments(&self, env: &str) -> Vec<FakeDeployment> {
        let mut found: Vec<FakeDeployment> = self
            .fake
            .deployments(REPO)
            .into_iter()
            .filter(|d| d.environment == env)
            .collect();
        found.sort_by_key(|d| d.id);
        found
    }

    /// Waits until `env`'s newest Deployment's last posted state is `state`.
    pub async fn deployment_state(&self, env: &str, state: &str) -> FakeDeployment {
        let deadline = Instant::now() + WAIT;
        loop {
            let newest = self.deployments(env).into_iter().next_back();
            if let Some(deployment) = &newest {
                if deployment.posted_states().last().map(String::as_str) == Some(state) {
                    return deployment.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "the {env} deployment never became {state}: {newest:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// slipway's deploy comment on pull request `number`, once it says `containing`.
    pub async fn deploy_comment(&self, number: u64, containing: &str) -> FakeComment {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self
                .fake
                .peek_comments_on(REPO, number)
                .into_iter()
                .filter(|c| c.body.starts_with("<!-- slipway:deploy -->"))
                .collect::<Vec<_>>();
            if let Some(comment) = found.iter().find(|c| c.body.contains(containing)) {
                assert_eq!(found.len(), 1, "one deploy comment, edited in place");
                self.fake.read_comment(comment);
                return comment.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no deploy comment on #{number} says {containing:?}: {found:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The API server of cluster `name` (`default`: the world's `kube`).
    pub fn cluster(&self, name: &str) -> &FakeKube {
        if name == "default" {
            return &self.kube;
        }
        self.others
            .iter()
            .find(|(other, _)| other == name)
            .map(|(_, kube)| kube)
            .unwrap_or_else(|| panic!("no cluster {name} in this world"))
    }

    /// The objects of `resource` in `namespace` now.
    pub fn objects(&self, resource: &str, namespace: &str) -> Vec<Value> {
        self.kube.objects(resource, namespace)
    }

    pub fn object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.objects(resource, namespace)
            .into_iter()
            .find(|o| o["metadata"]["name"] == name)
    }

    /// The image the `api` Deployment of `namespace` runs now.
    pub fn api_image(&self, namespace: &str) -> Option<String> {
        self.object("deployments", namespace, "api").and_then(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .map(str::to_string)
        })
    }

    /// Waits until `check` holds of the cluster.
    pub async fn cluster_when(&self, what: &str, check: impl Fn(&DeployWorld) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !check(self) {
            assert!(Instant::now() < deadline, "the cluster never: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops slipway, keeping its data directory, and starts it again on the same store.
    pub async fn restart(&mut self) {
        let dir = self.server.take().expect("running").shutdown().await;
        let mut builder = TestServer::builder()
            .github(&self.fake)
            .kube(&self.kube)
            .in_dir(dir);
        if let Some(tick) = self.drift_tick {
            builder = builder.drift_tick(tick);
        }
        builder = Self::with_world_clusters(builder, &self.clusters_dir);
        self.server = Some(builder.start().await);
    }
}

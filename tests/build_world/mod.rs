//! The world of build scenarios: an app repo (`acme/api`) and a config repo (`acme/config`) in
//! real bare repositories behind the fake GitHub, the fake Kubernetes API server that builds run
//! on, and slipway between them. The test plays the Job controller: it starts a pod for a Job,
//! moves it along and finishes the Job, as Kubernetes would.
#![allow(dead_code)] // each test file uses its own part

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::command_world::ConfigRepo;
use crate::git_fixtures::TestRepo;
use crate::support::fake_github::FakeCheckRun;
use crate::support::fake_kube::{FakeKube, JobOutcome};
use crate::support::payloads::INSTALLATION_ID;
use crate::support::{file_url, fixture, FakeGitHub, TestServer};

pub const APP: &str = "acme/api";
pub const CONFIG_REPO: &str = "acme/config";
pub const NAMESPACE: &str = "slipway-builds";
pub const IMAGE: &str = "registry.example.com/team/api";
pub const WAIT: Duration = Duration::from_secs(30);

/// The app repo's `.github/slipway.yml`: built on `main` and `release/*`, bumped in `dev`.
pub const APP_CONFIG: &str = "\
build:
  image: registry.example.com/team/api
  branches: [main, \"release/*\"]
  args:
    RUST_VERSION: \"1.95\"
deploy:
  repo: acme/config
  environment: dev
";

/// The app repo: a work tree and the bare repository the fake serves.
pub struct AppRepo {
    pub work: TestRepo,
    _bare_dir: tempfile::TempDir,
    pub bare: PathBuf,
}

impl AppRepo {
    pub fn new() -> Self {
        Self::with_config(APP_CONFIG)
    }

    pub fn with_config(config: &str) -> Self {
        let work = TestRepo::new();
        work.write(".github/slipway.yml", config);
        work.write("Dockerfile", "FROM scratch\nCOPY . /app\n");
        work.commit("initial");
        let (bare_dir, bare) = work.bare_clone();
        AppRepo {
            work,
            _bare_dir: bare_dir,
            bare,
        }
    }

    /// Commits `message` (with what `change` writes) on `branch` and pushes it; returns the sha.
    pub fn push(&self, branch: &str, message: &str, change: impl FnOnce(&TestRepo)) -> String {
        let current = self.work.git(&["rev-parse", "--abbrev-ref", "HEAD"]);
        if current != branch {
            let exists = self
                .work
                .git(&["branch", "--list", branch])
                .trim()
                .to_string();
            if exists.is_empty() {
                self.work.git(&["checkout", "--quiet", "-b", branch]);
            } else {
                self.work.git(&["checkout", "--quiet", branch]);
            }
        }
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

    pub fn head(&self) -> String {
        self.work.git(&["rev-parse", "HEAD"])
    }

    pub fn clone_url(&self) -> String {
        file_url(&self.bare)
    }
}

/// A `push` webhook: GitHub's example with these fields.
#[derive(Clone)]
pub struct Push {
    pub repository: String,
    pub clone_url: String,
    pub git_ref: String,
    pub before: String,
    pub after: String,
    pub message: String,
    pub deleted: bool,
    pub fork: bool,
}

impl Push {
    pub fn branch(app: &AppRepo, branch: &str, after: &str) -> Push {
        Push {
            repository: APP.to_string(),
            clone_url: app.clone_url(),
            git_ref: format!("refs/heads/{branch}"),
            before: "0".repeat(40),
            after: after.to_string(),
            message: "a change".to_string(),
            deleted: false,
            fork: false,
        }
    }

    /// The payload, pushed by `sender` (GitHub's `sender.login`).
    pub fn payload_as(&self, sender: &str) -> Vec<u8> {
        let mut event: Value = serde_json::from_slice(&self.payload()).expect("JSON");
        event["sender"]["login"] = json!(sender);
        serde_json::to_vec(&event).expect("serialises")
    }

    pub fn payload(&self) -> Vec<u8> {
        let mut event: Value = serde_json::from_slice(&fixture("handled/push/04-push.json"))
            .expect("the fixture is JSON");
        let (owner, name) = self.repository.split_once('/').expect("owner/name");
        event["ref"] = json!(self.git_ref);
        event["before"] = json!(self.before);
        event["after"] = json!(self.after);
        event["deleted"] = json!(self.deleted);
        event["created"] = json!(self.before.chars().all(|c| c == '0'));
        event["installation"] = json!({ "id": INSTALLATION_ID });
        let repository = &mut event["repository"];
        repository["name"] = json!(name);
        repository["full_name"] = json!(self.repository);
        repository["owner"]["login"] = json!(owner);
        repository["owner"]["name"] = json!(owner);
        repository["clone_url"] = json!(self.clone_url);
        repository["html_url"] = json!(format!("https://github.com/{}", self.repository));
        repository["default_branch"] = json!("main");
        repository["master_branch"] = json!("main");
        repository["fork"] = json!(self.fork);
        if self.deleted {
            event["head_commit"] = Value::Null;
        } else {
            event["head_commit"]["id"] = json!(self.after);
            event["head_commit"]["message"] = json!(self.message);
        }
        serde_json::to_vec(&event).expect("serialises")
    }
}

/// A `check_run` `rerequested` webhook for `check_run` (GitHub's example, these fields set).
pub fn rerequest_payload(app: &AppRepo, run: &FakeCheckRun, branch: &str) -> Vec<u8> {
    rerequest_payload_in(APP, app, run, branch)
}

/// [`rerequest_payload`] for the app repo named `full_name`.
pub fn rerequest_payload_in(
    full_name: &str,
    app: &AppRepo,
    run: &FakeCheckRun,
    branch: &str,
) -> Vec<u8> {
    let mut event: Value =
        serde_json::from_slice(&fixture("handled/check_run/07-rerequested.json"))
            .expect("the fixture is JSON");
    let (owner, name) = full_name.split_once('/').unwrap();
    event["installation"] = json!({ "id": INSTALLATION_ID });
    event["check_run"]["id"] = json!(run.id);
    event["check_run"]["name"] = json!(run.name);
    event["check_run"]["head_sha"] = json!(run.head_sha);
    event["check_run"]["check_suite"]["head_branch"] = json!(branch);
    event["check_run"]["check_suite"]["head_sha"] = json!(run.head_sha);
    let repository = &mut event["repository"];
    repository["name"] = json!(name);
    repository["full_name"] = json!(full_name);
    repository["owner"]["login"] = json!(owner);
    repository["clone_url"] = json!(app.clone_url());
    repository["html_url"] = json!(format!("https://github.com/{full_name}"));
    repository["default_branch"] = json!("main");
    repository["fork"] = json!(false);
    serde_json::to_vec(&event).expect("serialises")
}

pub struct BuildWorld {
    /// The app repo's `owner/name` (`acme/api` unless made with [`BuildWorld::with_app_named`]).
    pub app_name: String,
    pub app: AppRepo,
    pub config: ConfigRepo,
    pub fake: FakeGitHub,
    pub kube: FakeKube,
    pub server: Option<TestServer>,
    deliveries: std::sync::atomic::AtomicUsize,
}

impl BuildWorld {
    pub async fn new() -> BuildWorld {
        Self::with(AppRepo::new(), ConfigRepo::new()).await
    }

    pub async fn with(app: AppRepo, config: ConfigRepo) -> BuildWorld {
        Self::with_app_named(APP, app, config).await
    }

    /// A world whose app repo is called `app_name` (`owner/name`).
    pub async fn with_app_named(app_name: &str, app: AppRepo, config: ConfigRepo) -> BuildWorld {
        let fake = FakeGitHub::builder()
            .with_installation(INSTALLATION_ID)
            .with_repo(app_name, &app.bare)
            .with_repo(CONFIG_REPO, &config.bare)
            .with_installation_on(app_name, INSTALLATION_ID)
            .with_installation_on(CONFIG_REPO, INSTALLATION_ID)
            .start()
            .await;
        let kube = FakeKube::builder().namespace(NAMESPACE).start().await;
        let server = TestServer::builder()
            .github(&fake)
            .kube(&kube)
            .start()
            .await;
        BuildWorld {
            app_name: app_name.to_string(),
            app,
            config,
            fake,
            kube,
            server: Some(server),
            deliveries: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub fn server(&self) -> &TestServer {
        self.server.as_ref().expect("the server is running")
    }

    /// Posts a webhook and waits until slipway is done with it; returns the delivery id.
    pub async fn deliver(&self, event: &str, payload: &[u8]) -> String {
        let n = self
            .deliveries
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let id = format!("build-delivery-{n}");
        self.deliver_as(event, &id, payload).await;
        id
    }

    /// Posts a webhook under delivery id `id` and waits until slipway is done with it.
    pub async fn deliver_as(&self, event: &str, id: &str, payload: &[u8]) {
        self.server()
            .deliver_and_finish(event, id, payload, WAIT)
            .await;
    }

    /// Pushes a commit to `branch` of the app repo and delivers the webhook; returns the sha.
    pub async fn push(&self, branch: &str, message: &str) -> String {
        let sha = self.app.push(branch, message, |w| {
            w.write("src/main.rs", &format!("// {message}\nfn main() {{}}\n"));
        });
        let mut push = Push::branch(&self.app, branch, &sha);
        push.repository = self.app_name.clone();
        push.message = message.to_string();
        self.deliver("push", &push.payload()).await;
        sha
    }

    /// The names of the build Jobs that exist now.
    pub fn jobs(&self) -> Vec<String> {
        self.kube.names("jobs", NAMESPACE)
    }

    /// The Job (as JSON) that builds `sha`, waiting for it to appear.
    pub async fn job_for(&self, sha: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self
                .kube
                .objects("jobs", NAMESPACE)
                .into_iter()
                .find(|job| job["metadata"]["labels"]["slipway.dev/sha"] == json!(sha));
            if let Some(job) = found {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "no Job for {sha}: {:?}",
                self.jobs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Plays the Job controller and the kubelet until the build of `sha` runs: its Job has a
    /// Running pod and the check run is in progress. Returns the Job's and the pod's names.
    pub async fn running(&self, sha: &str) -> (String, String) {
        let job = self.job_for(sha).await["metadata"]["name"]
            .as_str()
            .expect("a Job has a name")
            .to_string();
        let pod = self.kube.start_job_pod(NAMESPACE, &job);
        self.kube.set_pod_phase(NAMESPACE, &pod, "Running");
        self.check_run_when(sha, "in progress", |run| run.status == "in_progress")
            .await;
        (job, pod)
    }

    /// The digest the push step of `job` reports in these scenarios: made from the Job's name,
    /// so each build has its own.
    pub fn digest_of(job: &str) -> String {
        use sha2::{Digest, Sha256};
        format!("sha256:{}", hex::encode(Sha256::digest(job.as_bytes())))
    }

    /// Plays the push step and the Job controller for a build that worked: every pod of `job`
    /// gets the digest ([`Self::digest_of`]) as its push container's termination message,
    /// then the Job succeeds. Returns the digest.
    pub fn push_succeeds(&self, job: &str) -> String {
        let digest = Self::digest_of(job);
        self.finish_with_termination_message(job, &digest);
        digest
    }

    /// The push container of every pod of `job` writes `message` to its termination log, then
    /// the Job succeeds.
    pub fn finish_with_termination_message(&self, job: &str, message: &str) {
        for pod in self.kube.objects("pods", NAMESPACE) {
            if pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == json!(job) {
                let name = pod["metadata"]["name"].as_str().expect("a pod has a name");
                self.kube
                    .write_termination_log(NAMESPACE, name, "push", message);
            }
        }
        self.kube.finish_job(NAMESPACE, job, JobOutcome::Succeeded);
    }

    /// The check runs on `sha` of the app repo, all read.
    pub fn check_runs_on(&self, sha: &str) -> Vec<FakeCheckRun> {
        self.fake
            .check_runs(&self.app_name)
            .into_iter()
            .filter(|run| run.head_sha == sha)
            .collect()
    }

    /// Waits until the newest `slipway/build` check run on `sha` satisfies `done`.
    pub async fn check_run_when(
        &self,
        sha: &str,
        what: &str,
        done: impl Fn(&FakeCheckRun) -> bool,
    ) -> FakeCheckRun {
        let deadline = Instant::now() + WAIT;
        loop {
            let newest = self
                .check_runs_on(sha)
                .into_iter()
                .rev()
                .find(|run| run.name == "slipway/build");
            if let Some(run) = &newest {
                if done(run) {
                    return run.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "the check run on {sha} never became {what}: {newest:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn completed(&self, sha: &str) -> FakeCheckRun {
        self.check_run_when(sha, "completed", |run| run.status == "completed")
            .await
    }

    /// Presses Re-run on `run` (a check run on `main` of the app repo) and delivers it.
    pub async fn rerun(&self, run: &FakeCheckRun) {
        let payload = rerequest_payload_in(&self.app_name, &self.app, run, "main");
        self.deliver("check_run", &payload).await;
    }

    /// The config repo's `main` head.
    pub fn config_head(&self) -> String {
        self.config.resolve("main").expect("main exists")
    }

    /// Waits until the config repo's `main` moves past `from`; returns the new head.
    pub async fn config_moved(&self, from: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let head = self.config_head();
            if head != from {
                return head;
            }
            assert!(Instant::now() < deadline, "the config repo never moved");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops slipway, keeping its data directory, and starts it again on the same store.
    pub async fn restart(&mut self) {
        let dir = self.server.take().expect("running").shutdown().await;
        let server = TestServer::builder()
            .github(&self.fake)
            .kube(&self.kube)
            .in_dir(dir)
            .start()
            .await;
        self.server = Some(server);
    }
}

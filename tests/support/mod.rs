//! Test support: the fake GitHub, a slipway server started in-process on loopback against it,
//! and GitHub's real example payloads.

#![allow(dead_code)]

pub mod fake_github;
pub mod fake_kube;
pub mod logs;
pub mod payloads;
pub mod serve_process;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use slipway::queue::{HandlerRegistry, QueueConfig};
use slipway::server::{ClusterChoice, RunningServer, ServerOptions};
use slipway::settings::Settings;
use slipway::store::{DeliverySummary, Store};

#[allow(unused_imports)]
pub use fake_github::{Failure, FakeGitHub};

pub const WEBHOOK_SECRET: &str = "test-webhook-secret";

/// A webhook payload from `tests/fixtures/webhooks` (GitHub's own examples).
pub fn fixture(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/webhooks")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// The `file://` URL of a local (bare) repository, as a payload's `clone_url`.
pub fn file_url(repository: &Path) -> String {
    let path = repository
        .canonicalize()
        .unwrap_or_else(|_| repository.to_path_buf());
    format!("file://{}", path.display())
}

/// Every fixture file under `tests/fixtures/webhooks/<group>`, as (event name, path).
pub fn fixtures_in(group: &str) -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/webhooks")
        .join(group);
    let mut found = Vec::new();
    for event_dir in std::fs::read_dir(&root).expect("the fixtures directory exists") {
        let event_dir = event_dir.expect("a directory entry").path();
        let event = event_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        for file in std::fs::read_dir(&event_dir).expect("an event directory") {
            found.push((event.clone(), file.expect("a fixture file").path()));
        }
    }
    found.sort();
    found
}

type Register = Box<dyn FnOnce(&mut HandlerRegistry, &slipway::pipelines::PipelineContext) + Send>;

pub struct TestServerBuilder {
    vars: HashMap<String, String>,
    queue: QueueConfig,
    register: Option<Register>,
    dir: Option<tempfile::TempDir>,
    cluster: ClusterChoice,
    runs: Option<slipway::runs::RunsConfig>,
    drift_tick: Option<Duration>,
    cluster_backoff: Option<slipway::pipelines::deploy::ClusterBackoff>,
}

/// What a test server without a cluster says about it.
pub const NO_TEST_CLUSTER: &str = "no cluster configured: this test runs without one";

impl TestServerBuilder {
    /// No App credentials: the server starts in setup mode.
    pub fn without_credentials(mut self) -> Self {
        for key in ["APP_ID", "PRIVATE_KEY", "WEBHOOK_SECRET"] {
            self.vars.remove(key);
        }
        self
    }

    pub fn github(mut self, fake: &FakeGitHub) -> Self {
        self.vars.insert("GITHUB_API_URL".into(), fake.url());
        self
    }

    pub fn var(mut self, key: &str, value: &str) -> Self {
        self.vars.insert(key.into(), value.into());
        self
    }

    /// Builds run on the fake API server.
    pub fn kube(mut self, kube: &fake_kube::FakeKube) -> Self {
        self.cluster = ClusterChoice::Client(kube.client());
        self
    }

    /// The run supervisor's timings (tests of retries and deadlines shorten them).
    /// How often the drift job looks for due checks (slipway's default is a minute).
    pub fn drift_tick(mut self, tick: Duration) -> Self {
        self.drift_tick = Some(tick);
        self
    }

    /// How long a deploy waits for an unreachable cluster before it tries again.
    pub fn cluster_backoff(mut self, backoff: slipway::pipelines::deploy::ClusterBackoff) -> Self {
        self.cluster_backoff = Some(backoff);
        self
    }

    pub fn runs(mut self, runs: slipway::runs::RunsConfig) -> Self {
        self.runs = Some(runs);
        self
    }

    pub fn queue(mut self, queue: QueueConfig) -> Self {
        self.queue = queue;
        self
    }

    /// Reuses a data directory (and its database) from an earlier server.
    pub fn in_dir(mut self, dir: tempfile::TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    pub fn handlers(
        mut self,
        register: impl FnOnce(&mut HandlerRegistry, &slipway::pipelines::PipelineContext)
            + Send
            + 'static,
    ) -> Self {
        self.register = Some(Box::new(register));
        self
    }

    pub async fn start(self) -> TestServer {
        slipway::install_crypto_provider();
        let dir = self
            .dir
            .unwrap_or_else(|| tempfile::tempdir().expect("a temp dir"));
        let mut vars = self.vars;
        vars.entry("DATABASE_URL".into())
            .or_insert_with(|| format!("sqlite://{}", dir.path().join("slipway.db").display()));
        vars.entry("ENV_FILE".into())
            .or_insert_with(|| dir.path().join(".env").display().to_string());
        vars.entry("MIRROR_DIR".into())
            .or_insert_with(|| dir.path().join("mirrors").display().to_string());
        let settings = Settings::from_vars(&vars).expect("test settings are valid");
        let mut options = ServerOptions::new(settings);
        options.queue = self.queue;
        options.github_retry.max_inline_wait = Duration::from_secs(2);
        options.extra_handlers = self.register;
        options.cluster = self.cluster;
        if let Some(runs) = self.runs {
            options.runs = runs;
        }
        if let Some(tick) = self.drift_tick {
            options.drift_tick = tick;
        }
        if let Some(backoff) = self.cluster_backoff {
            options.cluster_backoff = backoff;
        }
        let running = slipway::server::start(options)
            .await
            .expect("the server starts");
        let url = format!("http://{}", running.addr);
        let ops_url = format!("http://{}", running.ops_addr);
        TestServer {
            running: Some(running),
            dir: Some(dir),
            url,
            ops_url,
            client: reqwest::Client::new(),
        }
    }
}

pub struct TestServer {
    running: Option<RunningServer>,
    dir: Option<tempfile::TempDir>,
    /// The listener GitHub reaches: webhooks, the setup flow, `/healthz`.
    pub url: String,
    /// The operations listener: status page, `/readyz`, `/metrics`.
    pub ops_url: String,
    pub client: reqwest::Client,
}

/// A queue that retries fast, so backoff tests take milliseconds.
pub fn fast_queue(workers: usize, max_attempts: u32) -> QueueConfig {
    QueueConfig {
        workers,
        max_attempts,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(2),
    }
}

impl TestServer {
    pub fn builder() -> TestServerBuilder {
        let vars: HashMap<String, String> = [
            ("APP_ID", fake_github::APP_ID.to_string()),
            ("PRIVATE_KEY", fake_github::PRIVATE_KEY_PEM.to_string()),
            ("WEBHOOK_SECRET", WEBHOOK_SECRET.to_string()),
            ("HOST", "127.0.0.1".to_string()),
            ("PORT", "0".to_string()),
            ("OPS_PORT", "0".to_string()),
            // Nothing listens here: tests that need GitHub point at the fake.
            ("GITHUB_API_URL", "http://127.0.0.1:9".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        TestServerBuilder {
            vars,
            queue: fast_queue(4, 3),
            register: None,
            dir: None,
            cluster: ClusterChoice::Unavailable(NO_TEST_CLUSTER.to_string()),
            runs: None,
            drift_tick: None,
            cluster_backoff: None,
        }
    }

    pub fn store(&self) -> &Store {
        &self.running.as_ref().expect("the server is running").store
    }

    /// The server's run supervisor, for handlers built outside it.
    pub fn runs(&self) -> &slipway::runs::Runs {
        &self.running.as_ref().expect("the server is running").runs
    }

    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("the data directory").path()
    }

    /// Posts `body` as GitHub would: signed with the test secret.
    pub async fn deliver(&self, event: &str, delivery_id: &str, body: &[u8]) -> (u16, String) {
        let signature = slipway::webhook::sign(WEBHOOK_SECRET.as_bytes(), body);
        self.post_webhook(
            &[
                ("x-github-event", event),
                ("x-github-delivery", delivery_id),
                ("x-hub-signature-256", &signature),
            ],
            body.to_vec(),
        )
        .await
    }

    /// Posts to the webhook endpoint with exactly these headers.
    pub async fn post_webhook(&self, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, String) {
        let mut request = self
            .client
            .post(format!("{}/api/github/webhooks", self.url))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// `GET path` on the listener GitHub reaches.
    pub async fn get(&self, path: &str) -> (u16, String) {
        self.get_from(&self.url, path).await
    }

    /// `GET path` on the operations listener.
    pub async fn ops_get(&self, path: &str) -> (u16, String) {
        self.get_from(&self.ops_url, path).await
    }

    async fn get_from(&self, base: &str, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    pub async fn deliveries(&self) -> Vec<DeliverySummary> {
        self.store()
            .list_deliveries(None, 1000)
            .await
            .expect("list deliveries")
    }

    pub async fn delivery(&self, id: &str) -> Option<DeliverySummary> {
        self.deliveries().await.into_iter().find(|d| d.id == id)
    }

    /// Posts a webhook under delivery id `id`, expects it accepted, and waits until slipway
    /// finished it without an error.
    pub async fn deliver_and_finish(
        &self,
        event: &str,
        id: &str,
        payload: &[u8],
        timeout: Duration,
    ) {
        let (status, body) = self.deliver(event, id, payload).await;
        assert_eq!(status, 202, "{body}");
        let done = self.wait_for_state(id, "done", timeout).await;
        assert_eq!(done.last_error, None, "delivery {id}");
    }

    /// Waits until delivery `id` reaches `state`; panics with what it saw after `timeout`.
    pub async fn wait_for_state(
        &self,
        id: &str,
        state: &str,
        timeout: Duration,
    ) -> DeliverySummary {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.delivery(id).await;
            if let Some(delivery) = &found {
                if delivery.state == state {
                    return delivery.clone();
                }
            }
            if Instant::now() > deadline {
                panic!("delivery {id} did not become {state} within {timeout:?}: {found:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The value of one sample line of `/metrics`, e.g. `slipway_queue_depth`.
    pub async fn metric(&self, sample: &str) -> Option<f64> {
        let (_, text) = self.ops_get("/metrics").await;
        text.lines()
            .find(|line| line.starts_with(sample) && line[sample.len()..].starts_with(' '))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    pub async fn shutdown(mut self) -> tempfile::TempDir {
        if let Some(running) = self.running.take() {
            running.shutdown().await.expect("a clean shutdown");
        }
        self.dir.take().expect("the data directory")
    }
}

/// slipway's real GitHub client, authenticated as the test App, talking to `fake`.
pub fn github_client(fake: &FakeGitHub) -> slipway::github::GitHub {
    slipway::install_crypto_provider();
    let vars: HashMap<String, String> = [
        ("APP_ID", fake_github::APP_ID.to_string()),
        ("PRIVATE_KEY", fake_github::PRIVATE_KEY_PEM.to_string()),
        ("WEBHOOK_SECRET", WEBHOOK_SECRET.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let settings = Settings::from_vars(&vars).expect("test settings are valid");
    slipway::github::GitHub::new(
        fake.url().parse().expect("the fake's URL parses"),
        slipway::github::SharedCredentials::new(settings.credentials),
        std::sync::Arc::new(slipway::telemetry::Metrics::new()),
        slipway::github::RetryPolicy::default(),
    )
    .expect("a GitHub client")
}

//! What a failed delivery attempt means: GitHub's answer (or a payload that does not decode)
//! decides whether slipway tries again, and every failure is counted by its kind in
//! `slipway_delivery_failures_total{event,kind}`.

mod git_fixtures;
mod manifests;
mod support;

use std::time::Duration;

use git_fixtures::TestRepo;
use manifests::config_map;
use serde_json::Value;
use support::fake_github::PullSpec;
use support::payloads::{PullEvent, INSTALLATION_ID};
use support::{Failure, FakeGitHub, TestServer};

const REPO: &str = "acme/config";
const WAIT: Duration = Duration::from_secs(30);

const CONFIG: &str = "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
";

/// A config repo whose branch `change` edits the dev environment: the pull request to preview.
struct ConfigRepo {
    _work: TestRepo,
    _bare_dir: tempfile::TempDir,
    bare: std::path::PathBuf,
    main: String,
    head: String,
}

impl ConfigRepo {
    fn new() -> Self {
        let work = TestRepo::new();
        work.write(".github/slipway.yml", CONFIG).write(
            "envs/dev/config.yaml",
            &config_map("api", "LOG_LEVEL", "info"),
        );
        let main = work.commit("initial");
        work.git(&["checkout", "--quiet", "-b", "change"]);
        work.write(
            "envs/dev/config.yaml",
            &config_map("api", "LOG_LEVEL", "debug"),
        );
        let head = work.commit("debug logs");
        work.git(&["checkout", "--quiet", "main"]);
        let (bare_dir, bare) = work.bare_clone();
        ConfigRepo {
            _work: work,
            _bare_dir: bare_dir,
            bare,
            main,
            head,
        }
    }

    fn opened(&self) -> PullEvent {
        PullEvent::new("opened", REPO, &self.bare, 7)
            .base("main", &self.main)
            .head("change", &self.head)
    }
}

async fn server_for(fake: &FakeGitHub) -> TestServer {
    TestServer::builder().github(fake).start().await
}

async fn failures(server: &TestServer, event: &str, kind: &str) -> Option<f64> {
    server
        .metric(&format!(
            "slipway_delivery_failures_total{{event=\"{event}\",kind=\"{kind}\"}}"
        ))
        .await
}

#[tokio::test]
async fn a_repository_github_no_longer_knows_fails_at_once_as_not_found() {
    let repo = ConfigRepo::new();
    // The installation is there; the repository was deleted on GitHub since the event was sent.
    let fake = FakeGitHub::builder()
        .with_installation(INSTALLATION_ID)
        .start()
        .await;
    let server = server_for(&fake).await;

    let (status, body) = server
        .deliver("pull_request", "gone-1", &repo.opened().payload())
        .await;
    assert_eq!(status, 202, "{body}");
    let delivery = server.wait_for_state("gone-1", "failed", WAIT).await;

    assert_eq!(delivery.attempts, 1, "a 404 is not retried");
    let error = delivery.last_error.unwrap_or_default();
    assert!(
        error.starts_with("GitHub answered 404 to POST /repos/{owner}/{repo}/check-runs"),
        "{error}"
    );
    assert_eq!(
        failures(&server, "pull_request", "not_found").await,
        Some(1.0)
    );
    assert_eq!(
        failures(&server, "pull_request", "github_unavailable").await,
        None
    );
}

#[tokio::test]
async fn a_github_server_error_is_retried_and_the_preview_then_posted() {
    let repo = ConfigRepo::new();
    let fake = FakeGitHub::builder()
        .with_installation(INSTALLATION_ID)
        .with_repo(REPO, &repo.bare)
        .with_pull(REPO, PullSpec::new(7, "change", "main"))
        .start()
        .await;
    fake.fail_next("/repos/acme/config/check-runs", Failure::server_error(), 1);
    let server = server_for(&fake).await;

    let (status, body) = server
        .deliver("pull_request", "flaky-1", &repo.opened().payload())
        .await;
    assert_eq!(status, 202, "{body}");
    let delivery = server.wait_for_state("flaky-1", "done", WAIT).await;

    assert_eq!(delivery.attempts, 2, "the 502 is tried again");
    let runs = fake.check_runs(REPO);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].conclusion.as_deref(), Some("success"));
    assert_eq!(
        failures(&server, "pull_request", "github_unavailable").await,
        Some(1.0)
    );
    assert_eq!(
        server
            .metric("slipway_delivery_retries_total{event=\"pull_request\"}")
            .await,
        Some(1.0)
    );
}

#[tokio::test]
async fn a_payload_without_a_field_slipway_reads_fails_at_once_naming_the_field() {
    let repo = ConfigRepo::new();
    let fake = FakeGitHub::builder()
        .with_installation(INSTALLATION_ID)
        .with_repo(REPO, &repo.bare)
        .start()
        .await;
    let server = server_for(&fake).await;
    let mut payload: Value = serde_json::from_slice(&repo.opened().payload()).unwrap();
    payload["pull_request"]["head"]
        .as_object_mut()
        .unwrap()
        .remove("sha");

    let (status, body) = server
        .deliver(
            "pull_request",
            "bad-1",
            &serde_json::to_vec(&payload).unwrap(),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let delivery = server.wait_for_state("bad-1", "failed", WAIT).await;

    assert_eq!(delivery.attempts, 1);
    assert_eq!(
        delivery.last_error.as_deref(),
        Some("the pull_request payload is not as expected: `pull_request.head.sha` is missing")
    );
    assert!(fake.check_runs(REPO).is_empty(), "nothing was started");
    assert_eq!(
        failures(&server, "pull_request", "payload").await,
        Some(1.0)
    );
}

#[tokio::test]
async fn an_event_no_handler_takes_is_not_decoded() {
    let fake = FakeGitHub::builder()
        .with_installation(INSTALLATION_ID)
        .start()
        .await;
    let server = server_for(&fake).await;

    // `labeled` previews nothing: a payload slipway could not read is stored and done.
    let body = br#"{"action":"labeled","pull_request":{"number":7},
        "repository":{"full_name":"acme/config"}}"#;
    let (status, answer) = server.deliver("pull_request", "labeled-1", body).await;
    assert_eq!(status, 202, "{answer}");
    let delivery = server.wait_for_state("labeled-1", "done", WAIT).await;

    assert_eq!(delivery.attempts, 1);
    assert_eq!(failures(&server, "pull_request", "payload").await, None);
}

#[tokio::test]
async fn a_fetch_that_fails_is_retried_until_the_queue_gives_up_and_keeps_its_cause() {
    let fake = FakeGitHub::builder()
        .with_installation(INSTALLATION_ID)
        .start()
        .await;
    let server = server_for(&fake).await;
    let gone = tempfile::tempdir().unwrap();
    let missing = gone.path().join("config.git");
    let event = PullEvent::new("opened", REPO, &missing, 7)
        .base("main", &"1".repeat(40))
        .head("change", &"2".repeat(40));

    let (status, body) = server
        .deliver("pull_request", "unreachable-1", &event.payload())
        .await;
    assert_eq!(status, 202, "{body}");
    let delivery = server.wait_for_state("unreachable-1", "failed", WAIT).await;

    assert_eq!(delivery.attempts, 3, "every attempt the queue allows");
    let error = delivery.last_error.unwrap_or_default();
    let fetching = format!(
        "gave up after 3 attempts: fetching file://{}",
        missing.display()
    );
    assert!(error.starts_with(&fetching), "{error}");
    assert!(
        error.len() > fetching.len() + 2,
        "the fetch's own cause follows: {error}"
    );
    assert_eq!(
        failures(&server, "pull_request", "network").await,
        Some(3.0)
    );
}

#[tokio::test]
async fn a_preview_interrupted_by_a_server_error_says_it_tries_again() {
    let repo = ConfigRepo::new();
    let fake = FakeGitHub::builder()
        .with_installation(INSTALLATION_ID)
        .with_repo(REPO, &repo.bare)
        .with_pull(REPO, PullSpec::new(7, "change", "main"))
        .start()
        .await;
    fake.fail_next(
        "/repos/acme/config/issues/7/comments",
        Failure::server_error(),
        1,
    );
    let server = server_for(&fake).await;

    let (status, body) = server
        .deliver("pull_request", "interrupted-1", &repo.opened().payload())
        .await;
    assert_eq!(status, 202, "{body}");
    let delivery = server.wait_for_state("interrupted-1", "done", WAIT).await;

    assert_eq!(delivery.attempts, 2);
    let runs = fake.check_runs(REPO);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].conclusion.as_deref(), Some("cancelled"));
    assert_eq!(
        runs[0].title.as_deref(),
        Some("Interrupted; slipway tries again")
    );
    assert_eq!(runs[1].conclusion.as_deref(), Some("success"));
}

#[tokio::test]
async fn a_preview_stopped_by_a_permanent_failure_says_it_could_not_finish() {
    let repo = ConfigRepo::new();
    // GitHub knows the repository but no longer the pull request: its comments are a 404.
    let fake = FakeGitHub::builder()
        .with_installation(INSTALLATION_ID)
        .with_repo(REPO, &repo.bare)
        .start()
        .await;
    let server = server_for(&fake).await;

    let (status, body) = server
        .deliver("pull_request", "stopped-1", &repo.opened().payload())
        .await;
    assert_eq!(status, 202, "{body}");
    let delivery = server.wait_for_state("stopped-1", "failed", WAIT).await;

    assert_eq!(delivery.attempts, 1);
    let runs = fake.check_runs(REPO);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].conclusion.as_deref(), Some("failure"));
    assert_eq!(
        runs[0].title.as_deref(),
        Some("slipway could not finish the preview")
    );
    let summary = runs[0].summary.clone().unwrap_or_default();
    assert!(
        summary.contains("GitHub answered 404 to GET /repos/{owner}/{repo}/issues/{id}/comments"),
        "{summary}"
    );
    assert_eq!(
        failures(&server, "pull_request", "not_found").await,
        Some(1.0)
    );
}

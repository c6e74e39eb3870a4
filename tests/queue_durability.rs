//! The durable queue: crashes, retries, the retry bound, ordering and graceful shutdown.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Method;
use serde_json::Value;
use slipway::github::Auth;
use slipway::queue::HandlerError;
use support::{fast_queue, fixture, Failure, FakeGitHub, TestServer};
use tokio::sync::Notify;

const PUSH: &str = "handled/push/00-push.json";

fn pull_request(number: u64) -> Vec<u8> {
    let mut payload: Value =
        serde_json::from_slice(&fixture("handled/pull_request/00-opened.json")).unwrap();
    payload["number"] = number.into();
    payload["pull_request"]["number"] = number.into();
    // An action no built-in pipeline handles, so the test's own handler sees the delivery.
    payload["action"] = "labeled".into();
    serde_json::to_vec(&payload).unwrap()
}

#[test]
fn a_delivery_interrupted_by_a_crash_is_finished_exactly_once_by_the_next_server() {
    let data = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", data.path().join("slipway.db").display());
    let first_attempt_finished = Arc::new(AtomicUsize::new(0));

    // The first server runs on a runtime of its own that is torn down mid-handler: a crash.
    let crashed = tokio::runtime::Runtime::new().unwrap();
    crashed.block_on({
        let finished = first_attempt_finished.clone();
        let database_url = database_url.clone();
        async move {
            let started = Arc::new(Notify::new());
            let signal = started.clone();
            let server = TestServer::builder()
                .var("DATABASE_URL", &database_url)
                .handlers(move |registry, _| {
                    registry.on("push", None, move |_| {
                        let signal = signal.clone();
                        let finished = finished.clone();
                        async move {
                            signal.notify_one();
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            finished.fetch_add(1, Ordering::SeqCst);
                            Ok(())
                        }
                    });
                })
                .start()
                .await;
            let notified = started.notified();
            assert_eq!(
                server.deliver("push", "d-crash", &fixture(PUSH)).await.0,
                202
            );
            tokio::time::timeout(Duration::from_secs(5), notified)
                .await
                .expect("the handler starts");
            let running = server
                .wait_for_state("d-crash", "running", Duration::from_secs(5))
                .await;
            assert_eq!(running.attempts, 1);
        }
    });
    crashed.shutdown_background();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let processed = Arc::new(AtomicUsize::new(0));
        let counter = processed.clone();
        let server = TestServer::builder()
            .var("DATABASE_URL", &database_url)
            .handlers(move |registry, _| {
                registry.on("push", None, move |_| {
                    let counter = counter.clone();
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }
                });
            })
            .start()
            .await;
        let done = server
            .wait_for_state("d-crash", "done", Duration::from_secs(5))
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            processed.load(Ordering::SeqCst),
            1,
            "processed exactly once after restart"
        );
        assert_eq!(
            done.attempts, 1,
            "the interrupted attempt is not counted against the budget"
        );
        server.shutdown().await;
    });
    assert_eq!(first_attempt_finished.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn retryable_failures_back_off_then_fail_after_the_bound() {
    let attempts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = attempts.clone();
    let server = TestServer::builder()
        .queue(fast_queue(2, 4))
        .handlers(move |registry, _| {
            registry.on("push", None, move |_| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(Instant::now());
                    Err(HandlerError::retryable("GitHub answered 502"))
                }
            });
        })
        .start()
        .await;
    server.deliver("push", "d-flaky", &fixture(PUSH)).await;
    let failed = server
        .wait_for_state("d-flaky", "failed", Duration::from_secs(10))
        .await;
    assert_eq!(failed.attempts, 4);
    assert_eq!(
        failed.last_error.as_deref(),
        Some("gave up after 4 attempts: GitHub answered 502")
    );
    let times = attempts.lock().unwrap().clone();
    assert_eq!(times.len(), 4);
    // base 20 ms, doubling, jitter keeps at least half: ≥ 10, 20, 40 ms.
    for (gap, minimum) in times.windows(2).zip([10u64, 20, 40]) {
        let waited = gap[1] - gap[0];
        assert!(
            waited >= Duration::from_millis(minimum),
            "waited {waited:?}, expected ≥ {minimum} ms"
        );
    }
    assert_eq!(
        server
            .metric("slipway_delivery_retries_total{event=\"push\"}")
            .await,
        Some(3.0)
    );
}

#[tokio::test]
async fn a_github_5xx_is_retried_until_it_succeeds() {
    let github = FakeGitHub::builder()
        .with_installation(42)
        .with_repository("acme/api")
        .start()
        .await;
    github.fail_next("/repos/acme/api", Failure::server_error(), 2);
    let server = TestServer::builder()
        .github(&github)
        .queue(fast_queue(2, 5))
        .handlers(|registry, context| {
            let github = context.github.clone();
            registry.on("push", None, move |_| {
                let github = github.clone();
                async move {
                    github
                        .request(Method::GET, Auth::Installation(42), "/repos/acme/api", None)
                        .await?;
                    Ok(())
                }
            });
        })
        .start()
        .await;
    server.deliver("push", "d-5xx", &fixture(PUSH)).await;
    let done = server
        .wait_for_state("d-5xx", "done", Duration::from_secs(10))
        .await;
    assert_eq!(done.attempts, 3);
    assert_eq!(github.requests_to("GET /repos/acme/api").len(), 3);
    let counted = server
        .metric(
            "slipway_github_requests_total{endpoint=\"GET /repos/{owner}/{repo}\",status=\"502\"}",
        )
        .await;
    assert_eq!(counted, Some(2.0));
}

#[tokio::test]
async fn a_permanent_failure_fails_at_once_with_its_error() {
    let server = TestServer::builder()
        .handlers(|registry, _| {
            registry.on("push", None, |_| async {
                Err(HandlerError::permanent(
                    "the config repo has no slipway.yml",
                ))
            });
        })
        .start()
        .await;
    server.deliver("push", "d-bad", &fixture(PUSH)).await;
    let failed = server
        .wait_for_state("d-bad", "failed", Duration::from_secs(5))
        .await;
    assert_eq!(failed.attempts, 1);
    assert_eq!(
        failed.last_error.as_deref(),
        Some("the config repo has no slipway.yml")
    );
}

#[tokio::test]
async fn deliveries_of_one_pull_request_run_in_order_and_others_in_parallel() {
    let log: Arc<Mutex<Vec<(String, &'static str)>>> = Arc::default();
    let seen = log.clone();
    // PR 1's first delivery holds its worker until PR 2's has started (or a generous timeout
    // passes): PR 2 running meanwhile is what shows it does not wait for PR 1, however slowly
    // the machine schedules the workers.
    let pr2_started = Arc::new(tokio::sync::Semaphore::new(0));
    let server = TestServer::builder()
        .queue(fast_queue(4, 3))
        .handlers(move |registry, _| {
            registry.on("pull_request", None, move |delivery| {
                let seen = seen.clone();
                let pr2_started = pr2_started.clone();
                async move {
                    let id = delivery.id.to_string();
                    seen.lock().unwrap().push((id.clone(), "start"));
                    match id.as_str() {
                        "pr2-a" => pr2_started.add_permits(1),
                        "pr1-a" => {
                            let _ = tokio::time::timeout(
                                Duration::from_secs(10),
                                pr2_started.acquire(),
                            )
                            .await;
                        }
                        _ => {}
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    seen.lock().unwrap().push((id, "end"));
                    Ok(())
                }
            });
        })
        .start()
        .await;
    for (id, number) in [("pr1-a", 1), ("pr1-b", 1), ("pr2-a", 2), ("pr1-c", 1)] {
        assert_eq!(
            server
                .deliver("pull_request", id, &pull_request(number))
                .await
                .0,
            202
        );
    }
    for id in ["pr1-a", "pr1-b", "pr1-c", "pr2-a"] {
        server
            .wait_for_state(id, "done", Duration::from_secs(20))
            .await;
    }
    let log = log.lock().unwrap().clone();
    let position =
        |id: &str, what: &str| log.iter().position(|(i, w)| i == id && *w == what).unwrap();
    assert!(
        position("pr1-a", "end") < position("pr1-b", "start"),
        "{log:?}"
    );
    assert!(
        position("pr1-b", "end") < position("pr1-c", "start"),
        "{log:?}"
    );
    // PR 2 does not wait for PR 1.
    assert!(
        position("pr2-a", "start") < position("pr1-a", "end"),
        "{log:?}"
    );
}

#[tokio::test]
async fn shutdown_hands_unfinished_work_back_to_the_queue() {
    let started = Arc::new(Notify::new());
    let signal = started.clone();
    let server = TestServer::builder()
        .queue(slipway::queue::QueueConfig {
            shutdown_grace: Duration::from_millis(100),
            ..fast_queue(2, 3)
        })
        .handlers(move |registry, _| {
            registry.on("push", None, move |_| {
                let signal = signal.clone();
                async move {
                    signal.notify_one();
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                }
            });
        })
        .start()
        .await;
    let notified = started.notified();
    server.deliver("push", "d-slow", &fixture(PUSH)).await;
    tokio::time::timeout(Duration::from_secs(5), notified)
        .await
        .expect("the handler starts");
    let store = server.store().clone();
    let dir = server.shutdown().await;
    let row = store.list_deliveries(None, 10).await.unwrap().remove(0);
    assert_eq!(row.state, "pending");
    assert_eq!(row.attempts, 0);

    let processed = Arc::new(AtomicUsize::new(0));
    let counter = processed.clone();
    let server = TestServer::builder()
        .in_dir(dir)
        .handlers(move |registry, _| {
            registry.on("push", None, move |_| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            });
        })
        .start()
        .await;
    server
        .wait_for_state("d-slow", "done", Duration::from_secs(5))
        .await;
    assert_eq!(processed.load(Ordering::SeqCst), 1);
}

//! Missed deliveries: at start-up slipway reads the App's delivery log on GitHub and asks for
//! the failed deliveries it never stored, once each.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{fixture, FakeGitHub, TestServer, WEBHOOK_SECRET};

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn payload(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).unwrap()
}

async fn wait_for_metric(server: &TestServer, sample: &str, value: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if server.metric(sample).await == Some(value) {
            return;
        }
        assert!(Instant::now() < deadline, "{sample} never reached {value}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn failed_deliveries_slipway_never_stored_are_redelivered_once() {
    let data = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", data.path().join("slipway.db").display());

    // Earlier, slipway stored one delivery whose first attempt GitHub still logs as failed.
    let earlier = TestServer::builder()
        .var("DATABASE_URL", &database_url)
        .start()
        .await;
    earlier
        .deliver("push", "g-stored", &fixture("handled/push/00-push.json"))
        .await;
    earlier
        .wait_for_state("g-stored", "done", Duration::from_secs(5))
        .await;
    earlier.shutdown().await;

    let fake = FakeGitHub::builder()
        .with_delivery_page_size(2)
        .with_logged_delivery("g-ok", "push", 200, payload("handled/push/01-push.json"))
        .with_logged_delivery(
            "g-lost",
            "pull_request",
            502,
            payload("handled/pull_request/00-opened.json"),
        )
        .with_logged_delivery(
            "g-stored",
            "push",
            502,
            payload("handled/push/00-push.json"),
        )
        .with_logged_delivery("g-star", "star", 502, payload("other/star/00-created.json"))
        .start()
        .await;
    let port = free_port();
    fake.set_hook(
        &format!("http://127.0.0.1:{port}/api/github/webhooks"),
        WEBHOOK_SECRET,
    );

    let server = TestServer::builder()
        .github(&fake)
        .var("DATABASE_URL", &database_url)
        .var("PORT", &port.to_string())
        .start()
        .await;
    wait_for_metric(
        &server,
        "slipway_missed_delivery_scans_total{outcome=\"ok\"}",
        1.0,
    )
    .await;
    let recovered = server
        .wait_for_state("g-lost", "done", Duration::from_secs(5))
        .await;
    assert_eq!(recovered.event, "pull_request");

    let attempts = fake.requests_to("POST /app/hook/deliveries/");
    assert_eq!(
        attempts.len(),
        1,
        "only the lost delivery is asked for: {attempts:?}"
    );
    assert_eq!(attempts[0].path, "/app/hook/deliveries/1001/attempts");
    // Four log entries at two per page: the scan followed the Link header.
    assert_eq!(fake.requests_to("GET /app/hook/deliveries").len(), 2);
    assert_eq!(
        server
            .metric("slipway_missed_delivery_redeliveries_total{outcome=\"requested\"}")
            .await,
        Some(1.0)
    );
    server.shutdown().await;

    // The next scan finds nothing new to ask for.
    let again = TestServer::builder()
        .github(&fake)
        .var("DATABASE_URL", &database_url)
        .start()
        .await;
    wait_for_metric(
        &again,
        "slipway_missed_delivery_scans_total{outcome=\"ok\"}",
        1.0,
    )
    .await;
    assert_eq!(fake.requests_to("POST /app/hook/deliveries/").len(), 1);
}

#[tokio::test]
async fn an_unreachable_github_never_stops_slipway_from_serving() {
    // GITHUB_API_URL points at a port nothing listens on.
    let server = TestServer::builder()
        .var(
            "GITHUB_API_URL",
            &format!("http://127.0.0.1:{}", free_port()),
        )
        .start()
        .await;
    wait_for_metric(
        &server,
        "slipway_missed_delivery_scans_total{outcome=\"error\"}",
        1.0,
    )
    .await;
    let (status, _) = server
        .deliver("push", "d-1", &fixture("handled/push/00-push.json"))
        .await;
    assert_eq!(status, 202);
    server
        .wait_for_state("d-1", "done", Duration::from_secs(5))
        .await;
}

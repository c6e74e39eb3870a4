//! `POST /api/github/webhooks`: what GitHub (or anyone else) gets back, and what is stored.

mod support;

use std::time::Duration;

use support::{fixture, TestServer, WEBHOOK_SECRET};

const PUSH: &str = "handled/push/00-push.json";

async fn assert_nothing_stored(server: &TestServer) {
    assert!(
        server.deliveries().await.is_empty(),
        "a refused delivery was stored"
    );
}

#[tokio::test]
async fn a_validly_signed_push_is_stored_and_accepted() {
    let server = TestServer::builder().start().await;
    let body = fixture(PUSH);
    let (status, _) = server.deliver("push", "d-valid", &body).await;
    assert_eq!(status, 202);
    let stored = server
        .delivery("d-valid")
        .await
        .expect("the delivery is stored");
    assert_eq!(stored.event, "push");
    assert_eq!(stored.repository.as_deref(), Some("Codertocat/Hello-World"));
    assert_eq!(
        server.store().payload("d-valid").await.unwrap(),
        body,
        "the raw payload is kept byte for byte"
    );
    server
        .wait_for_state("d-valid", "done", Duration::from_secs(5))
        .await;
}

#[tokio::test]
async fn a_missing_signature_is_refused_and_nothing_is_stored() {
    let server = TestServer::builder().start().await;
    let (status, message) = server
        .post_webhook(
            &[("x-github-event", "push"), ("x-github-delivery", "d-1")],
            fixture(PUSH),
        )
        .await;
    assert_eq!(status, 401);
    assert!(
        message.contains("X-Hub-Signature-256 header is missing"),
        "{message}"
    );
    assert_nothing_stored(&server).await;
}

#[tokio::test]
async fn a_signature_made_with_another_secret_is_refused() {
    let server = TestServer::builder().start().await;
    let body = fixture(PUSH);
    let signature = slipway::webhook::sign(b"not the secret", &body);
    let (status, _) = server
        .post_webhook(
            &[
                ("x-github-event", "push"),
                ("x-github-delivery", "d-1"),
                ("x-hub-signature-256", &signature),
            ],
            body,
        )
        .await;
    assert_eq!(status, 401);
    assert_nothing_stored(&server).await;
}

#[tokio::test]
async fn a_tampered_body_is_refused() {
    let server = TestServer::builder().start().await;
    let body = fixture(PUSH);
    let signature = slipway::webhook::sign(WEBHOOK_SECRET.as_bytes(), &body);
    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    let (status, _) = server
        .post_webhook(
            &[
                ("x-github-event", "push"),
                ("x-github-delivery", "d-1"),
                ("x-hub-signature-256", &signature),
            ],
            tampered,
        )
        .await;
    assert_eq!(status, 401);
    assert_nothing_stored(&server).await;
}

#[tokio::test]
async fn a_sha1_signature_alone_is_not_accepted() {
    let server = TestServer::builder().start().await;
    let (status, _) = server
        .post_webhook(
            &[
                ("x-github-event", "push"),
                ("x-github-delivery", "d-1"),
                (
                    "x-hub-signature",
                    "sha1=0123456789abcdef0123456789abcdef01234567",
                ),
            ],
            fixture(PUSH),
        )
        .await;
    assert_eq!(status, 401);
    assert_nothing_stored(&server).await;
}

#[tokio::test]
async fn a_truncated_signature_is_refused() {
    let server = TestServer::builder().start().await;
    let body = fixture(PUSH);
    let signature = slipway::webhook::sign(WEBHOOK_SECRET.as_bytes(), &body);
    let truncated = &signature[..signature.len() - 1];
    let (status, _) = server
        .post_webhook(
            &[
                ("x-github-event", "push"),
                ("x-github-delivery", "d-1"),
                ("x-hub-signature-256", truncated),
            ],
            body,
        )
        .await;
    assert_eq!(status, 401);
    assert_nothing_stored(&server).await;
}

#[tokio::test]
async fn missing_event_or_delivery_headers_are_bad_requests() {
    let server = TestServer::builder().start().await;
    let body = fixture(PUSH);
    let signature = slipway::webhook::sign(WEBHOOK_SECRET.as_bytes(), &body);
    let (status, message) = server
        .post_webhook(
            &[
                ("x-github-delivery", "d-1"),
                ("x-hub-signature-256", &signature),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(status, 400);
    assert!(message.contains("X-GitHub-Event"), "{message}");
    let (status, message) = server
        .post_webhook(
            &[
                ("x-github-event", "push"),
                ("x-hub-signature-256", &signature),
            ],
            body,
        )
        .await;
    assert_eq!(status, 400);
    assert!(message.contains("X-GitHub-Delivery"), "{message}");
    assert_nothing_stored(&server).await;
}

#[tokio::test]
async fn a_signed_body_that_is_not_json_is_a_bad_request_recorded_as_failed() {
    let server = TestServer::builder().start().await;
    let (status, message) = server.deliver("push", "d-garbage", b"{\"ref\": oops").await;
    assert_eq!(status, 400);
    assert!(message.contains("not valid JSON"), "{message}");
    let stored = server
        .delivery("d-garbage")
        .await
        .expect("kept for the operator");
    assert_eq!(stored.state, "failed");
    assert!(stored
        .last_error
        .unwrap_or_default()
        .contains("not valid JSON"));
}

#[tokio::test]
async fn ping_is_answered_without_queuing() {
    let server = TestServer::builder().start().await;
    let body = fixture("other/ping/00-ping.json");
    let (status, _) = server.deliver("ping", "d-ping", &body).await;
    assert_eq!(status, 200);
    assert_nothing_stored(&server).await;
}

#[tokio::test]
async fn an_event_slipway_does_not_handle_is_acknowledged_and_counted_only() {
    let server = TestServer::builder().start().await;
    let body = fixture("other/star/00-created.json");
    let (status, _) = server.deliver("star", "d-star", &body).await;
    assert_eq!(status, 202);
    assert_nothing_stored(&server).await;
    let counted = server
        .metric("slipway_webhook_deliveries_received_total{event=\"star\",outcome=\"ignored\"}")
        .await;
    assert_eq!(counted, Some(1.0));
}

#[tokio::test]
async fn the_same_delivery_twice_is_stored_and_processed_once() {
    let processed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = processed.clone();
    let server = TestServer::builder()
        .handlers(move |registry, _| {
            registry.on("push", None, move |_| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok(())
                }
            });
        })
        .start()
        .await;
    let body = fixture(PUSH);
    assert_eq!(server.deliver("push", "d-dup", &body).await.0, 202);
    server
        .wait_for_state("d-dup", "done", Duration::from_secs(5))
        .await;
    let (status, message) = server.deliver("push", "d-dup", &body).await;
    assert_eq!(status, 200);
    assert!(message.contains("already"), "{message}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(processed.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(server.deliveries().await.len(), 1);
}

#[tokio::test]
async fn a_body_over_25_mib_is_too_large() {
    let server = TestServer::builder().start().await;
    let body = vec![b' '; 25 * 1024 * 1024 + 1];
    let (status, _) = server.deliver("push", "d-huge", &body).await;
    assert_eq!(status, 413);
    assert_nothing_stored(&server).await;
}

#[tokio::test]
async fn without_a_webhook_secret_every_webhook_gets_503_pointing_to_setup() {
    let server = TestServer::builder().without_credentials().start().await;
    let (status, message) = server.deliver("push", "d-1", &fixture(PUSH)).await;
    assert_eq!(status, 503);
    assert!(message.contains("not set up yet"), "{message}");
    assert!(
        message.contains("http://localhost"),
        "the message names the setup page: {message}"
    );
    assert_nothing_stored(&server).await;
}

#[tokio::test]
async fn concurrent_deliveries_are_all_stored_exactly_once() {
    let server = std::sync::Arc::new(TestServer::builder().start().await);
    let body = std::sync::Arc::new(fixture(PUSH));
    let mut tasks = Vec::new();
    for n in 0..200 {
        let server = server.clone();
        let body = body.clone();
        // Every id twice, concurrently: group commit must still store each once.
        let id = format!("d-{}", n % 100);
        tasks.push(tokio::spawn(async move {
            server.deliver("push", &id, &body).await.0
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 100);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 100);
    assert_eq!(server.deliveries().await.len(), 100);
}

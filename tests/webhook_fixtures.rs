//! GitHub's own example payloads (`@octokit/webhooks-examples`): every example of every handled
//! event is accepted and becomes its typed event; every other event is acknowledged.

mod git_fixtures;
mod support;

use std::time::Duration;

use octocrab::models::webhook_events::WebhookEventType;
use serde_json::Value;
use slipway::pipelines::preview::TRIGGER_ACTIONS;
use support::{fixtures_in, FakeGitHub, TestServer};

#[test]
fn every_handled_example_parses_into_its_typed_event() {
    let examples = fixtures_in("handled");
    assert!(
        examples.len() >= 60,
        "expected the full example set, found {}",
        examples.len()
    );
    for (event, path) in examples {
        let body = std::fs::read(&path).unwrap();
        let parsed = slipway::webhook::parse_event(&event, &body)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let expected: WebhookEventType =
            serde_json::from_value(serde_json::Value::String(event.clone())).unwrap();
        assert_eq!(parsed.kind, expected, "{}", path.display());
    }
}

#[tokio::test]
async fn every_handled_example_is_accepted_stored_and_processed() {
    // The examples' pull requests live on github.com, which tests cannot reach: those that
    // start a preview name a local repository instead (one that is no config repo, so the
    // preview reads its configuration and quietly does nothing), at commits it holds.
    let work = git_fixtures::TestRepo::new();
    work.write("README.md", "not a config repo\n");
    let base = work.commit("base");
    work.write("README.md", "still not a config repo\n");
    let head = work.commit("head");
    let (_bare_dir, bare) = work.bare_clone();
    let clone_url = format!("file://{}", bare.display());

    let examples = fixtures_in("handled");
    let mut bodies = Vec::new();
    let mut fake = FakeGitHub::builder();
    for (event, path) in &examples {
        let mut body: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        if let Some(id) = body["installation"]["id"].as_i64() {
            fake = fake.with_installation(id);
        }
        let action = body["action"].as_str().unwrap_or_default().to_string();
        // A branch push may start a build: it reads `.github/slipway.yml` at the pushed commit
        // of the same local repository, finds none, and builds nothing.
        let branch_push = event == "push"
            && body["ref"]
                .as_str()
                .unwrap_or_default()
                .starts_with("refs/heads/");
        if branch_push && body["deleted"] != Value::Bool(true) {
            body["repository"]["clone_url"] = clone_url.clone().into();
            body["after"] = head.clone().into();
        }
        if event == "pull_request" && TRIGGER_ACTIONS.contains(&action.as_str()) {
            body["repository"]["clone_url"] = clone_url.clone().into();
            body["pull_request"]["base"]["sha"] = base.clone().into();
            body["pull_request"]["head"]["sha"] = head.clone().into();
        }
        bodies.push((event.clone(), serde_json::to_vec(&body).unwrap()));
    }
    let fake = fake.start().await;
    let server = TestServer::builder().github(&fake).start().await;
    for (index, (event, body)) in bodies.iter().enumerate() {
        let id = format!("example-{index}");
        let (status, message) = server.deliver(event, &id, body).await;
        assert_eq!(status, 202, "{}: {message}", examples[index].1.display());
    }
    for index in 0..examples.len() {
        let done = server
            .wait_for_state(&format!("example-{index}"), "done", Duration::from_secs(10))
            .await;
        assert_eq!(done.last_error, None);
    }
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.path.contains("/check-runs") && !r.path.contains("/comments")),
        "no preview and no build for a repository without a .github/slipway.yml"
    );
}

#[tokio::test]
async fn every_other_event_is_acknowledged_and_not_stored() {
    let server = TestServer::builder().start().await;
    for (index, (event, path)) in fixtures_in("other").iter().enumerate() {
        let body = std::fs::read(path).unwrap();
        let (status, message) = server
            .deliver(event, &format!("other-{index}"), &body)
            .await;
        let expected = if event == "ping" { 200 } else { 202 };
        assert_eq!(status, expected, "{}: {message}", path.display());
    }
    assert!(server.deliveries().await.is_empty());
}

#[tokio::test]
async fn installation_events_are_recorded() {
    let server = TestServer::builder().start().await;
    let created = support::fixture("handled/installation/01-created.json");
    server.deliver("installation", "inst-1", &created).await;
    server
        .wait_for_state("inst-1", "done", Duration::from_secs(5))
        .await;
    let payload: serde_json::Value = serde_json::from_slice(&created).unwrap();
    let id = payload["installation"]["id"].as_i64().unwrap();
    let record = server
        .store()
        .installation(id)
        .await
        .unwrap()
        .expect("the installation is recorded");
    assert_eq!(
        record.account.as_deref(),
        payload["installation"]["account"]["login"].as_str()
    );
    assert!(!record.deleted);
    let repositories = server.store().installation_repositories(id).await.unwrap();
    let expected: Vec<String> = payload["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["full_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(repositories, expected);

    let deleted = support::fixture("handled/installation/00-deleted.json");
    server.deliver("installation", "inst-2", &deleted).await;
    server
        .wait_for_state("inst-2", "done", Duration::from_secs(5))
        .await;
    let deleted_payload: serde_json::Value = serde_json::from_slice(&deleted).unwrap();
    let deleted_id = deleted_payload["installation"]["id"].as_i64().unwrap();
    let record = server
        .store()
        .installation(deleted_id)
        .await
        .unwrap()
        .unwrap();
    assert!(record.deleted);
}

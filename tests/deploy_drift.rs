//! Drift, end to end: after a deploy, someone changes the cluster by hand; slipway's periodic
//! check finds it (server-side dry runs against the live objects), opens one issue in the config
//! repo with the redacted diff and closes it once the cluster matches again — or, with
//! `self_heal: true`, applies the deployed commit again.

mod build_world;
mod command_world;
mod deploy_world;
mod git_fixtures;
mod manifests;
mod support;

use std::time::{Duration, Instant};

use deploy_world::{api, DeployWorld, DEV_NS, REPO, WAIT};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::fake_github::FakeIssue;

fn config(self_heal: bool) -> String {
    format!(
        "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
    drift_interval: 1s
    self_heal: {self_heal}
  prod:
    path: envs/prod
    namespace: team-prod
    required_approvals: 1
    drift_interval: 0
"
    )
}

/// Deploys a change of dev straight from `main` and waits until it is healthy.
async fn deployed_world(self_heal: bool) -> DeployWorld {
    let world =
        DeployWorld::with_drift_tick(&config(self_heal), Some(Duration::from_millis(200))).await;
    let sha = world
        .push_to_main("bump dev", |w| {
            w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
        })
        .await;
    let check = world.deployed(&sha, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    world
}

/// Someone edits the live `settings` ConfigMap by hand, as `kubectl edit` would.
async fn edit_by_hand(world: &DeployWorld, mode: &str) {
    let config_maps: Api<ConfigMap> = Api::namespaced(world.kube.client(), DEV_NS);
    config_maps
        .patch(
            "settings",
            &PatchParams::apply("kubectl-edit").force(),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": DEV_NS},
                "data": {"mode": mode},
            })),
        )
        .await
        .expect("the edit is accepted");
}

/// Waits until the drift issue of dev satisfies `done`.
async fn drift_issue(
    world: &DeployWorld,
    what: &str,
    done: impl Fn(&FakeIssue) -> bool,
) -> FakeIssue {
    let deadline = Instant::now() + WAIT;
    loop {
        let issues: Vec<FakeIssue> = world
            .fake
            .issues(REPO)
            .into_iter()
            .filter(|i| i.labels.iter().any(|l| l == "slipway:drift"))
            .collect();
        assert!(
            issues.len() <= 1,
            "one drift issue per environment: {issues:#?}"
        );
        if let Some(issue) = issues.into_iter().find(|i| done(i)) {
            return issue;
        }
        assert!(
            Instant::now() < deadline,
            "the drift issue never became {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn live_mode(world: &DeployWorld) -> Option<String> {
    world
        .object("configmaps", DEV_NS, "settings")
        .and_then(|c| c["data"]["mode"].as_str().map(str::to_string))
}

#[tokio::test]
async fn a_hand_edit_opens_one_drift_issue_that_closes_once_undone() {
    let world = deployed_world(false).await;
    edit_by_hand(&world, "hand-edited").await;

    let issue = drift_issue(&world, "open", |i| i.state == "open").await;
    assert!(
        issue.title.starts_with("Drift: dev differs from"),
        "{}",
        issue.title
    );
    let body = issue.body.clone().unwrap_or_default();
    assert!(body.starts_with("<!-- slipway:drift env=dev -->"), "{body}");
    assert!(body.contains("ConfigMap team-dev/settings"), "{body}");
    assert!(
        body.contains("hand-edited"),
        "the diff shows the live value: {body}"
    );
    assert_eq!(
        live_mode(&world).as_deref(),
        Some("hand-edited"),
        "not healed"
    );

    edit_by_hand(&world, "dev").await;
    let closed = drift_issue(&world, "closed", |i| i.state == "closed").await;
    assert_eq!(closed.number, issue.number, "the same issue is closed");
    let comments = world.fake.comments_on(REPO, issue.number);
    assert_eq!(comments.len(), 1, "{comments:#?}");
}

#[tokio::test]
async fn self_heal_applies_the_deployed_commit_again() {
    let world = deployed_world(true).await;
    edit_by_hand(&world, "hand-edited").await;

    world
        .cluster_when("the hand edit is undone", |w| {
            live_mode(w).as_deref() == Some("dev")
        })
        .await;
    let drift_issues: Vec<FakeIssue> = world
        .fake
        .issues(REPO)
        .into_iter()
        .filter(|i| i.labels.iter().any(|l| l == "slipway:drift"))
        .collect();
    assert!(
        drift_issues.is_empty(),
        "a healing environment opens no issue"
    );
}

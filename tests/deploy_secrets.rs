//! Secret values never leave slipway through a deploy: a Secret deployed from the config repo,
//! then changed by hand in the cluster, goes through the apply, the check run, the deploy
//! comment, the GitHub Deployment and the drift issue; no request to GitHub and no log line (at
//! trace level) holds either value, in clear or base64-encoded.

mod build_world;
mod command_world;
mod deploy_world;
mod git_fixtures;
mod manifests;
mod support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use deploy_world::{DeployWorld, DEV_NS, REPO, WAIT};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use manifests::secret_in;
use serde_json::json;
use support::logs::{captured_logs, logged};

const DEPLOYED: &str = "MARKER-S3CRET-deployed-value";
const HAND_EDITED: &str = "MARKER-S3CRET-hand-edited-value";

const CONFIG: &str = "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
    drift_interval: 1s
  prod:
    path: envs/prod
    namespace: team-prod
    drift_interval: 0
";

fn markers_in(text: &str) -> Vec<&'static str> {
    [DEPLOYED, HAND_EDITED]
        .into_iter()
        .filter(|marker| {
            text.contains(marker)
                || text.contains(&base64::engine::general_purpose::STANDARD.encode(marker))
        })
        .collect()
}

#[tokio::test]
async fn a_deployed_and_drifted_secret_shows_its_value_nowhere() {
    let logs = captured_logs();

    let world = DeployWorld::with_drift_tick(CONFIG, Some(Duration::from_millis(200))).await;
    let sha = world
        .push_to_main("a database password", |w| {
            w.write(
                "envs/dev/db.yaml",
                &secret_in(DEV_NS, "db", "password", DEPLOYED),
            );
        })
        .await;
    let check = world.deployed(&sha, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert!(world.object("secrets", DEV_NS, "db").is_some());

    let secrets: Api<Secret> = Api::namespaced(world.kube.client(), DEV_NS);
    secrets
        .patch(
            "db",
            &PatchParams::apply("kubectl-edit").force(),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "db", "namespace": DEV_NS},
                "stringData": {"password": HAND_EDITED},
            })),
        )
        .await
        .expect("the edit is accepted");

    let deadline = Instant::now() + WAIT;
    let issue = loop {
        if let Some(issue) = world
            .fake
            .issues(REPO)
            .into_iter()
            .find(|i| i.state == "open" && i.labels.iter().any(|l| l == "slipway:drift"))
        {
            break issue;
        }
        assert!(Instant::now() < deadline, "no drift issue was opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let body = issue.body.clone().unwrap_or_default();
    assert!(body.contains("Secret team-dev/db"), "{body}");
    assert!(
        body.contains("<secret hmac:"),
        "the value is fingerprinted: {body}"
    );

    let shown = [
        ("the drift issue", format!("{issue:#?}")),
        (
            "the check runs",
            format!("{:#?}", world.fake.check_runs(REPO)),
        ),
        (
            "the deployments",
            format!("{:#?}", world.fake.deployments(REPO)),
        ),
        (
            "the requests to GitHub",
            format!("{:#?}", world.fake.requests()),
        ),
        (
            "the history",
            format!(
                "{:#?}",
                world.server().store().recent_deploys(20).await.unwrap()
            ),
        ),
        ("the logs", logged(&logs)),
    ];
    for (what, text) in &shown {
        let found = markers_in(text);
        assert!(found.is_empty(), "{what} show {found:?}:\n{text}");
    }
}

//! Deploying a Helm environment: the chart's rendered objects are applied like any others,
//! and a chart with a Helm hook is refused before the cluster is touched.
//!
//! These tests need `helm` on PATH (tests/run installs it); they fail rather than skip
//! without it.

mod build_world;
mod command_world;
mod deploy_world;
mod git_fixtures;
mod manifests;
mod support;

use deploy_world::{api, DeployWorld, DEV_NS};
use manifests::config_map_in;

const HOOK: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-upgrade\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: registry.example.com/team/migrate:1.0\n";

/// Turns `envs/dev` into a chart holding dev's objects, the image tag in its values.
fn chart(w: &git_fixtures::TestRepo, tag: &str) {
    assert!(
        slipway::render::find_helm().is_some(),
        "`helm` is not on PATH: run the tests with tests/run, which installs it"
    );
    w.remove("envs/dev/api.yaml")
        .remove("envs/dev/settings.yaml")
        .write(
            "envs/dev/Chart.yaml",
            "apiVersion: v2\nname: api\nversion: 0.1.0\n",
        )
        .write("envs/dev/values.yaml", &format!("tag: \"{tag}\"\n"))
        .write(
            "envs/dev/templates/api.yaml",
            &api(DEV_NS, "TAG").replace("api:TAG", "api:{{ .Values.tag }}"),
        )
        .write(
            "envs/dev/templates/settings.yaml",
            &config_map_in(DEV_NS, "settings", "mode", "dev"),
        );
}

#[tokio::test]
async fn a_chart_is_deployed_as_its_rendered_objects() {
    let world = DeployWorld::new().await;
    world.propose(1, "helm", |w| chart(w, "2.0"));
    let merge = world.merge(1).await;

    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert_eq!(
        world.api_image(DEV_NS).as_deref(),
        Some("registry.example.com/team/api:2.0")
    );
    assert!(world.object("configmaps", DEV_NS, "settings").is_some());
}

#[tokio::test]
async fn a_chart_with_a_hook_is_refused_before_the_cluster_is_touched() {
    let world = DeployWorld::new().await;
    world.propose(2, "helm-hook", |w| {
        chart(w, "2.0");
        w.write("envs/dev/templates/migrate.yaml", HOOK);
    });
    let merge = world.merge(2).await;

    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    let summary = check.summary.unwrap_or_default();
    assert!(
        summary.contains("Job.batch team-dev/migrate is a Helm hook (pre-upgrade)"),
        "{summary}"
    );
    assert!(
        summary.contains("envs/dev/templates/migrate.yaml"),
        "{summary}"
    );
    assert!(
        world.objects("deployments", DEV_NS).is_empty(),
        "nothing applied"
    );
    world.deploy_comment(2, "⛔ refused by policy").await;
}

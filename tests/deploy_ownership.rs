//! slipway touches only what it owns, where it was told, and judges a deploy on its own
//! rollout: end-to-end scenarios of a merge (or a push) on the config repo against the fake
//! GitHub and the fake Kubernetes API server.

mod build_world;
mod command_world;
mod deploy_world;
mod git_fixtures;
mod manifests;
mod support;

use deploy_world::{api, DeployWorld, DEV_NS, PROD_NS};
use manifests::config_map_in;
use serde_json::json;

const INVENTORY_LABEL: &str = "slipway.dev/inventory";

/// [`deploy_world::CONFIG`] with a health timeout no loaded machine reaches, and `dev`'s
/// `on_failure` as given: scenarios that end a rollout by the controller's word, not by time.
fn patient(on_failure: &str) -> String {
    deploy_world::CONFIG
        .replace("health_timeout: 2s", "health_timeout: 10m")
        .replace("on_failure: rollback", &format!("on_failure: {on_failure}"))
}

/// A ConfigMap someone made with `kubectl create`, in `dev`'s namespace.
fn made_by_hand(world: &DeployWorld, name: &str) {
    world.kube.write_as(
        "kubectl-create",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "namespace": DEV_NS}, "data": {"made": "by hand"}}),
    );
}

#[tokio::test]
async fn a_merge_that_renders_an_object_slipway_did_not_make_is_refused_and_applies_nothing() {
    let world = DeployWorld::new().await;
    made_by_hand(&world, "payments");
    // The author's change renders the hand-made object, to take it over (and prune it later).
    world.propose(1, "take-payments", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
        w.write(
            "envs/dev/payments.yaml",
            &config_map_in(DEV_NS, "payments", "made", "by slipway"),
        );
    });
    let merge = world.merge(1).await;

    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"), "{check:#?}");
    let said = format!(
        "{}\n{}",
        check.summary.clone().unwrap_or_default(),
        check.text.clone().unwrap_or_default()
    );
    assert!(said.contains("ConfigMap team-dev/payments"), "{said}");
    assert!(
        said.contains(
            "no slipway environment (it carries no slipway labels; written by kubectl-create)"
        ),
        "{said}"
    );
    assert!(said.contains("nothing was applied"), "{said}");
    let payments = world
        .object("configmaps", DEV_NS, "payments")
        .expect("still there");
    assert_eq!(payments["data"]["made"], "by hand");
    assert!(payments["metadata"]["labels"][INVENTORY_LABEL].is_null());
    assert!(
        world.objects("deployments", DEV_NS).is_empty(),
        "nothing of the deploy was applied"
    );
    world.deployment_state("dev", "failure").await;
}

#[tokio::test]
async fn an_environment_that_lists_an_object_in_adopt_takes_it_over() {
    let config = deploy_world::CONFIG.replace(
        "    namespace: team-dev\n",
        "    namespace: team-dev\n    adopt: [ConfigMap/payments]\n",
    );
    let world = DeployWorld::with_config(&config).await;
    made_by_hand(&world, "payments");
    world.propose(2, "adopt-payments", |w| {
        w.write(
            "envs/dev/payments.yaml",
            &config_map_in(DEV_NS, "payments", "made", "by slipway"),
        );
    });
    let merge = world.merge(2).await;

    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    let payments = world
        .object("configmaps", DEV_NS, "payments")
        .expect("adopted");
    assert_eq!(payments["data"]["made"], "by slipway");
    assert_eq!(
        payments["metadata"]["labels"]["slipway.dev/environment"],
        "dev"
    );
    world.deploy_comment(2, "✅ deployed").await;
}

#[tokio::test]
async fn prod_objects_are_never_taken_by_a_dev_merge_even_in_a_shared_namespace() {
    // dev may use prod's namespace too; prod's objects there are still prod's.
    let config = deploy_world::CONFIG.replace(
        "    namespace: team-dev\n",
        "    namespace: team-dev\n    allowed_namespaces: [team-dev, team-prod]\n    adopt: [ConfigMap]\n",
    );
    let world = DeployWorld::with_config(&config).await;
    let head = world.propose(3, "bump-prod", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "2.0"));
    });
    world
        .fake
        .submit_review(deploy_world::REPO, 3, "bob", "APPROVED", &head);
    let prod = world.merge(3).await;
    assert_eq!(
        world.deployed(&prod, "prod").await.conclusion.as_deref(),
        Some("success")
    );
    world.deploy_comment(3, "✅ deployed").await;

    world.propose(4, "take-prod-settings", |w| {
        w.write(
            "envs/dev/steal.yaml",
            &config_map_in(PROD_NS, "settings", "mode", "dev"),
        );
    });
    let merge = world.merge(4).await;
    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"), "{check:#?}");
    let said = format!(
        "{}\n{}",
        check.summary.clone().unwrap_or_default(),
        check.text.clone().unwrap_or_default()
    );
    assert!(said.contains("ConfigMap team-prod/settings"), "{said}");
    assert!(
        said.contains("environment `prod` of the config repo `acme/config`"),
        "{said}"
    );
    let settings = world
        .object("configmaps", PROD_NS, "settings")
        .expect("prod's");
    assert_eq!(settings["data"]["mode"], "prod");
    assert_eq!(
        settings["metadata"]["labels"]["slipway.dev/environment"],
        "prod"
    );
}

#[tokio::test]
async fn a_cluster_scoped_custom_kind_written_with_a_namespace_is_refused_at_deploy() {
    let world = DeployWorld::new().await;
    // The cluster serves a cluster-scoped kind; the environment renders no CRD for it.
    world.kube.write_as(
        "kubectl-create",
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "gates.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Cluster",
                "names": {"plural": "gates", "singular": "gate", "kind": "Gate"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                              "schema": {"openAPIV3Schema": {"type": "object",
                                         "x-kubernetes-preserve-unknown-fields": true}}}],
            },
        }),
    );
    world.propose(5, "gate", |w| {
        w.write(
            "envs/dev/gate.yaml",
            "apiVersion: example.com/v1\nkind: Gate\nmetadata:\n  name: open\n  namespace: team-dev\nspec:\n  everyone: true\n",
        );
    });
    let merge = world.merge(5).await;

    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"), "{check:#?}");
    let summary = check.summary.clone().unwrap_or_default();
    assert!(
        summary.contains("Gate.example.com team-dev/open"),
        "{summary}"
    );
    assert!(summary.contains("is cluster-scoped"), "{summary}");
    assert!(summary.contains("envs/dev/gate.yaml"), "{summary}");
    world.deploy_comment(5, "⛔ refused by policy").await;
    assert!(
        world.objects("deployments", DEV_NS).is_empty(),
        "nothing applied"
    );
    assert_eq!(world.kube.requests("apply", "gates"), 0);
}

#[tokio::test]
async fn an_environment_naming_a_cluster_slipway_does_not_know_is_never_deployed() {
    let world = DeployWorld::new().await;
    let running = world.api_image(DEV_NS);
    // Pushed straight to main (dev needs no approval): the commit renders dev with its own
    // settings, which place it on a cluster slipway does not know — refused, not deployed into
    // the cluster slipway has.
    let first = world
        .push_to_main("move dev", |w| {
            let config = deploy_world::CONFIG.replace(
                "    namespace: team-dev\n",
                "    namespace: team-dev\n    cluster: elsewhere\n",
            );
            w.write(".github/slipway.yml", &config);
            w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
        })
        .await;
    let moved = world.deployed(&first, "dev").await;
    assert_eq!(moved.conclusion.as_deref(), Some("failure"), "{moved:#?}");
    assert!(
        moved
            .summary
            .clone()
            .unwrap_or_default()
            .contains("unknown cluster `elsewhere`: this slipway knows `default`"),
        "{moved:#?}"
    );
    // The next change is judged by a configuration that names the unknown cluster: refused.
    let second = world
        .push_to_main("bump dev", |w| {
            w.write("envs/dev/api.yaml", &api(DEV_NS, "1.2"));
        })
        .await;

    let check = world.deployed(&second, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"), "{check:#?}");
    let said = format!(
        "{}\n{}",
        check.summary.clone().unwrap_or_default(),
        check.text.clone().unwrap_or_default()
    );
    assert!(
        said.contains("unknown cluster `elsewhere`: this slipway knows `default`"),
        "{said}"
    );
    assert_eq!(
        world.api_image(DEV_NS),
        running,
        "never applied to the cluster slipway has"
    );
}

#[tokio::test]
async fn a_fix_after_a_rollout_past_its_deadline_is_judged_on_its_own_rollout() {
    let world = DeployWorld::with_config(&patient("none")).await;
    world.kube.auto_roll_out(false);
    world.propose(6, "broken", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1-broken"));
    });
    let broken = world.merge(6).await;
    // Its health step watches the rollout; then the controller gives up on it.
    world.kube.await_requests("watch", "deployments", 1).await;
    world
        .kube
        .fail_rollout("deployments", DEV_NS, "api", "ProgressDeadlineExceeded");
    let check = world.deployed(&broken, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"), "{check:#?}");
    world.deploy_comment(6, "deadline").await;

    world.propose(7, "fix", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.2"));
    });
    let fix = world.merge(7).await;
    world
        .cluster_when("the fix is applied", |w| {
            w.api_image(DEV_NS).as_deref() == Some("registry.example.com/team/api:1.2")
        })
        .await;
    // The fix's health step waits (it watches) while the controller has not looked at the
    // fix: the old deadline is not the fix's.
    world.kube.await_requests("watch", "deployments", 2).await;
    world.kube.roll_out("deployments", DEV_NS, "api");

    let check = world.deployed(&fix, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    world.deploy_comment(7, "✅ deployed").await;
}

#[tokio::test]
async fn a_rollback_after_a_rollout_past_its_deadline_is_reported_rolled_back() {
    let world = DeployWorld::with_config(&patient("rollback")).await;
    world.propose(8, "good", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
    });
    let good = world.merge(8).await;
    world.deployed(&good, "dev").await;
    world.deploy_comment(8, "✅ deployed").await;

    world.kube.auto_roll_out(false);
    let watches = world.kube.requests("watch", "deployments");
    world.propose(9, "bad", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.2-broken"));
    });
    let bad = world.merge(9).await;
    // Its health step watches the rollout; then the controller gives up on it.
    world
        .kube
        .await_requests("watch", "deployments", watches + 1)
        .await;
    world
        .kube
        .fail_rollout("deployments", DEV_NS, "api", "ProgressDeadlineExceeded");
    world
        .cluster_when("the good image is back", |w| {
            w.api_image(DEV_NS).as_deref() == Some("registry.example.com/team/api:1.1")
        })
        .await;
    // The rollback's health step waits for the controller, as it has not seen the rollback.
    world
        .kube
        .await_requests("watch", "deployments", watches + 2)
        .await;
    world.kube.roll_out("deployments", DEV_NS, "api");

    let check = world.deployed(&bad, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"), "{check:#?}");
    assert_eq!(
        check.title.as_deref(),
        Some(format!("Deploy to dev failed; rolled back to {}", &good[..7]).as_str())
    );
    let said = format!(
        "{}\n{}",
        check.summary.clone().unwrap_or_default(),
        check.text.clone().unwrap_or_default()
    );
    assert!(said.contains("exceeded its progress deadline"), "{said}");
    assert!(
        !said.contains("still not healthy"),
        "the rollback was judged on the failed rollout: {said}"
    );
    world.deploy_comment(9, "↩️ rolled back").await;
}

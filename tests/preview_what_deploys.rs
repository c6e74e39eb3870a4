//! The preview of a pull request shows what its merge will change in the cluster, and the
//! merge deploys that: a change to an environment's settings in `.github/slipway.yml` is a
//! change like any other, and an environment's diff starts from what is deployed. Real
//! webhooks, the fake GitHub, the fake Kubernetes API server, slipway between them.

mod build_world;
mod command_world;
mod deploy_world;
mod git_fixtures;
mod manifests;
mod support;

use deploy_world::{DeployWorld, DEV_NS, PROD_NS, REPO};
use manifests::{config_map, Deployment};
use support::fake_github::{app_bot_login, FakeComment};
use support::payloads::PullEvent;

/// A namespace no environment uses yet, which the platform team created.
const BLUE_NS: &str = "team-blue";

/// [`deploy_world::CONFIG`] with dev allowed to use `team-blue` too.
fn two_namespaces() -> String {
    deploy_world::CONFIG.replace(
        "    namespace: team-dev\n",
        "    namespace: team-dev\n    allowed_namespaces: [team-dev, team-blue]\n",
    )
}

/// The `api` Deployment at `tag`, without a namespace: it goes where its environment says.
fn api(tag: &str) -> String {
    Deployment::new("api")
        .image(&format!("registry.example.com/team/api:{tag}"))
        .yaml()
}

/// dev's manifests without namespaces, deployed by a push to `main` (dev needs no approval).
async fn dev_without_namespaces(world: &DeployWorld) {
    let pushed = world
        .push_to_main("dev: objects take the environment's namespace", |w| {
            w.write("envs/dev/api.yaml", &api("1.1"));
            w.write(
                "envs/dev/settings.yaml",
                &config_map("settings", "mode", "dev"),
            );
        })
        .await;
    let check = world.deployed(&pushed, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
}

/// The platform team creates `namespace` (slipway's environments do not own it).
fn create_namespace(world: &DeployWorld, namespace: &str) {
    world.kube.write_as(
        "platform-team",
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
    );
}

/// The work tree's `main` at GitHub's, which merges moved: a later commit on it builds on
/// the merges instead of replacing them.
fn sync_main(world: &DeployWorld) {
    let work = &world.work;
    work.git(&["fetch", "--quiet", world.bare.to_str().unwrap(), "main"]);
    work.git(&["checkout", "--quiet", "main"]);
    work.git(&["reset", "--quiet", "--hard", "FETCH_HEAD"]);
}

/// Delivers `opened` for pull request `number` (head `head` on `branch`), as GitHub does when
/// it is opened, and returns slipway's preview comment.
async fn preview(world: &DeployWorld, number: u64, branch: &str, head: &str) -> FakeComment {
    let event = PullEvent::new("opened", REPO, &world.bare, number)
        .base("main", &world.main_head())
        .head(branch, head);
    world.deliver("pull_request", &event.payload()).await;
    let comments: Vec<FakeComment> = world
        .fake
        .comments_on(REPO, number)
        .into_iter()
        .filter(|c| c.user_login == app_bot_login())
        .filter(|c| c.body.starts_with("<!-- slipway:preview part=1 -->"))
        .collect();
    assert_eq!(comments.len(), 1, "{comments:#?}");
    comments[0].clone()
}

/// The preview's section of `environment`: from its heading to the next environment's.
fn section<'a>(body: &'a str, environment: &str) -> &'a str {
    let heading = format!("### Environment `{environment}`\n");
    let start = body
        .find(&heading)
        .unwrap_or_else(|| panic!("no section of {environment}: {body}"));
    let rest = &body[start + heading.len()..];
    let end = rest.find("### Environment `").unwrap_or(rest.len());
    &rest[..end]
}

#[tokio::test]
async fn a_namespace_change_previews_as_a_move_and_its_merge_moves_the_objects() {
    let world = DeployWorld::with_config(&two_namespaces()).await;
    dev_without_namespaces(&world).await;
    create_namespace(&world, BLUE_NS);
    let head = world.propose(3, "dev-to-blue", |w| {
        w.write(
            ".github/slipway.yml",
            &two_namespaces().replace("    namespace: team-dev\n", "    namespace: team-blue\n"),
        );
    });

    let comment = preview(&world, 3, "dev-to-blue", &head).await;
    let dev = section(&comment.body, "dev");
    assert!(
        dev.contains("| ConfigMap | 1 | 0 | 1 |\n| Deployment | 1 | 0 | 1 |"),
        "{dev}"
    );
    for moved in [
        "<b>removed</b> Deployment <code>team-dev/api</code>",
        "<b>added</b> Deployment <code>team-blue/api</code>",
        "<b>removed</b> ConfigMap <code>team-dev/settings</code>",
        "<b>added</b> ConfigMap <code>team-blue/settings</code>",
    ] {
        assert!(dev.contains(moved), "{moved} not in {dev}");
    }
    assert!(!comment.body.contains("### Environment `prod`"));

    let merge = world.merge(3).await;
    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert_eq!(
        world.api_image(BLUE_NS).as_deref(),
        Some("registry.example.com/team/api:1.1")
    );
    assert!(world.object("configmaps", BLUE_NS, "settings").is_some());
    assert!(
        world.objects("deployments", DEV_NS).is_empty(),
        "dev prunes: the objects left behind in the old namespace are gone"
    );
    assert!(world.object("configmaps", DEV_NS, "settings").is_none());
}

#[tokio::test]
async fn a_move_into_a_namespace_only_the_change_allows_is_refused_and_previewed_as_refused() {
    let world = DeployWorld::new().await;
    dev_without_namespaces(&world).await;
    create_namespace(&world, BLUE_NS);
    // dev may use team-dev only; the pull request moves it and widens its policy at once.
    let head = world.propose(4, "dev-to-blue", |w| {
        w.write(
            ".github/slipway.yml",
            &deploy_world::CONFIG.replace(
                "    namespace: team-dev\n",
                "    namespace: team-blue\n    allowed_namespaces: [team-dev, team-blue]\n",
            ),
        );
    });

    let comment = preview(&world, 4, "dev-to-blue", &head).await;
    let dev = section(&comment.body, "dev");
    assert!(
        dev.contains(
            "- ⛔ **2 objects refused** by this environment's policy: they would not deploy."
        ),
        "{dev}"
    );
    assert!(
        dev.contains("Deployment.apps team-blue/api is in namespace team-blue, outside the namespaces dev may use (team-dev)"),
        "{dev}"
    );
    let preview_run = world
        .fake
        .check_runs(REPO)
        .into_iter()
        .find(|run| run.name == "slipway/preview" && run.head_sha == head)
        .expect("the preview's check run");
    assert_eq!(preview_run.conclusion.as_deref(), Some("failure"));

    let merge = world.merge(4).await;
    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"), "{check:#?}");
    let summary = check.summary.clone().unwrap_or_default();
    assert!(
        summary.contains("outside the namespaces dev may use (team-dev)"),
        "{summary}"
    );
    assert!(
        world.objects("deployments", BLUE_NS).is_empty(),
        "the widening does not apply to its own merge"
    );
    assert_eq!(
        world.api_image(DEV_NS).as_deref(),
        Some("registry.example.com/team/api:1.1"),
        "dev stays as deployed"
    );
}

#[tokio::test]
async fn a_preview_shows_what_reached_main_since_the_last_deploy_without_being_deployed() {
    let world = DeployWorld::new().await;
    // prod is deployed through a reviewed pull request.
    let head = world.propose(1, "prod-2.0", |w| {
        w.write("envs/prod/api.yaml", &deploy_world::api(PROD_NS, "2.0"));
    });
    world.fake.submit_review(REPO, 1, "bob", "APPROVED", &head);
    let deployed = world.merge(1).await;
    let check = world.deployed(&deployed, "prod").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    // Then someone pushes straight to main (on top of the merge): prod's gate refuses it,
    // nothing is deployed.
    sync_main(&world);
    let pushed = world
        .push_to_main("prod: quietly", |w| {
            w.write("envs/prod/api.yaml", &deploy_world::api(PROD_NS, "6.6.6"));
        })
        .await;
    let refused = world.deployed(&pushed, "prod").await;
    assert_eq!(refused.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        world.api_image(PROD_NS).as_deref(),
        Some("registry.example.com/team/api:2.0")
    );

    // A pull request made from main after it changes only prod's settings ConfigMap.
    let head = world.propose(2, "prod-settings", |w| {
        w.write(
            "envs/prod/settings.yaml",
            &manifests::config_map_in(PROD_NS, "settings", "mode", "busy"),
        );
    });
    let comment = preview(&world, 2, "prod-settings", &head).await;
    let prod = section(&comment.body, "prod");
    assert!(
        prod.contains(&format!(
            "- Compared with `{}`, the last commit deployed here (",
            &deployed[..7]
        )),
        "{prod}"
    );
    assert!(
        prod.contains("-      - image: registry.example.com/team/api:2.0\n+      - image: registry.example.com/team/api:6.6.6"),
        "the pushed change its merge would deploy is shown: {prod}"
    );
    assert!(prod.contains("+  mode: busy"), "{prod}");
    assert!(
        !comment.body.contains("### Environment `dev`"),
        "dev does not change"
    );
}

#[tokio::test]
async fn after_a_namespace_move_drift_is_judged_against_the_new_namespace() {
    let config = two_namespaces().replace(
        "    on_failure: rollback\n",
        "    on_failure: rollback\n    drift_interval: 1s\n",
    );
    let world =
        DeployWorld::with_drift_tick(&config, Some(std::time::Duration::from_millis(200))).await;
    dev_without_namespaces(&world).await;
    create_namespace(&world, BLUE_NS);
    world.propose(5, "dev-to-blue", |w| {
        w.write(
            ".github/slipway.yml",
            &config.replace("    namespace: team-dev\n", "    namespace: team-blue\n"),
        );
    });
    let merge = world.merge(5).await;
    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");

    // Someone edits the moved ConfigMap by hand.
    world.kube.write_as(
        "kubectl-edit",
        serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": BLUE_NS},
            "data": {"mode": "hand-edited"},
        }),
    );

    let deadline = std::time::Instant::now() + deploy_world::WAIT;
    let issue = loop {
        let found = world
            .fake
            .issues(REPO)
            .into_iter()
            .find(|i| i.labels.iter().any(|l| l == "slipway:drift"));
        if let Some(issue) = found {
            break issue;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no drift issue was opened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let body = issue.body.unwrap_or_default();
    assert!(body.contains("ConfigMap team-blue/settings"), "{body}");
    assert!(
        !body.contains("team-dev/"),
        "the deployed commit renders into team-blue, as its deploy did: {body}"
    );
}

#[tokio::test]
async fn a_branch_without_the_last_deployed_commit_is_compared_with_its_merge_base_and_says_so() {
    let world = DeployWorld::new().await;
    let start = world.main_head();
    let head = world.propose(6, "dev-settings", |w| {
        w.write(
            "envs/dev/settings.yaml",
            &manifests::config_map_in(DEV_NS, "settings", "mode", "busy"),
        );
    });
    // dev is deployed from main after the branch was made.
    let deployed = world
        .push_to_main("dev: api 1.1", |w| {
            w.write("envs/dev/api.yaml", &deploy_world::api(DEV_NS, "1.1"));
        })
        .await;
    let check = world.deployed(&deployed, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");

    let comment = preview(&world, 6, "dev-settings", &head).await;
    let dev = section(&comment.body, "dev");
    assert!(
        dev.contains(&format!(
            "- Compared with the merge base `{}`: this branch does not hold `{}`, the last commit deployed here (",
            &start[..7],
            &deployed[..7]
        )),
        "{dev}"
    );
    assert!(
        !dev.contains("api:1.1"),
        "what the branch does not hold is not shown as reverted: {dev}"
    );
}

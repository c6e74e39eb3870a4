//! Several clusters: slipway's settings name `default` (the cluster it has always had) and
//! others from a `CLUSTERS` directory laid out as a Secret volume; environments pick one with
//! `cluster:`. Each environment is applied, pruned and checked for drift only through its own
//! cluster; a cluster that goes down holds up only its own environments, whose deploys wait and
//! say why, and go on once it is back; `/readyz` and the metrics speak per cluster.

mod build_world;
mod command_world;
mod deploy_world;
mod git_fixtures;
mod manifests;
mod support;

use std::time::{Duration, Instant};

use deploy_world::{api, DeployWorld, OtherClusters, DEV_NS, PROD_NS, REPO, WAIT};
use manifests::config_map_in;
use support::fake_github::{app_bot_login, FakeComment};
use support::fake_kube::FakeKube;
use support::payloads::PullEvent;

/// `dev` on `default`, `prod` on the cluster `prod`; neither needs approvals, so a push to
/// `main` deploys both.
const CONFIG: &str = "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
  prod:
    path: envs/prod
    namespace: team-prod
    cluster: prod
";

/// A fake API server for a cluster, with both teams' namespaces (as a platform team makes
/// them) and rollouts that complete at once.
async fn cluster() -> FakeKube {
    let kube = FakeKube::builder()
        .namespace(DEV_NS)
        .namespace(PROD_NS)
        .start()
        .await;
    kube.auto_roll_out(true);
    kube
}

async fn world_with(config: &str, tick: Option<Duration>, others: &[&str]) -> DeployWorld {
    let mut clusters = Vec::new();
    for name in others {
        clusters.push((name.to_string(), cluster().await));
    }
    DeployWorld::with_clusters(
        config,
        tick,
        OtherClusters {
            clusters,
            aliases: Vec::new(),
            kubeconfigs: Vec::new(),
            backoff: Duration::from_millis(50),
        },
    )
    .await
}

fn image(kube: &FakeKube, namespace: &str) -> Option<String> {
    kube.objects("deployments", namespace)
        .into_iter()
        .find(|d| d["metadata"]["name"] == "api")
        .and_then(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .map(str::to_string)
        })
}

/// Waits until `/metrics` has `sample` at `at_least` or more.
async fn metric_at_least(world: &DeployWorld, sample: &str, at_least: f64) -> f64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let value = world.server().metric(sample).await;
        if value.is_some_and(|v| v >= at_least) {
            return value.unwrap_or_default();
        }
        assert!(
            Instant::now() < deadline,
            "{sample} never reached {at_least}: {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn each_environment_is_applied_to_its_own_cluster_and_every_text_names_it() {
    let world = world_with(CONFIG, None, &["prod"]).await;
    let prod = world.cluster("prod").clone();
    let sha = world
        .push_to_main("bump both", |w| {
            w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
            w.write("envs/prod/api.yaml", &api(PROD_NS, "1.1"));
        })
        .await;
    let dev_check = world.deployed(&sha, "dev").await;
    let prod_check = world.deployed(&sha, "prod").await;
    assert_eq!(
        dev_check.conclusion.as_deref(),
        Some("success"),
        "{dev_check:#?}"
    );
    assert_eq!(
        prod_check.conclusion.as_deref(),
        Some("success"),
        "{prod_check:#?}"
    );

    // Each environment's objects are in its own cluster, and only there.
    let tag = "registry.example.com/team/api:1.1";
    assert_eq!(image(&world.kube, DEV_NS).as_deref(), Some(tag));
    assert_eq!(image(&prod, PROD_NS).as_deref(), Some(tag));
    assert_eq!(
        image(&world.kube, PROD_NS),
        None,
        "prod never reaches default"
    );
    assert_eq!(image(&prod, DEV_NS), None, "dev never reaches prod");
    assert_eq!(world.kube.requests("apply", "deployments"), 1);
    assert_eq!(prod.requests("apply", "deployments"), 1);

    // What people read names the cluster: the check run, the Deployment, the status page.
    let short = &sha[..7];
    assert_eq!(
        prod_check.title.as_deref(),
        Some(format!("Deployed {short} to prod on cluster prod").as_str())
    );
    assert!(
        prod_check
            .summary
            .as_deref()
            .unwrap_or_default()
            .contains("on cluster `prod`"),
        "{prod_check:#?}"
    );
    assert_eq!(
        dev_check.title.as_deref(),
        Some(format!("Deployed {short} to dev on cluster default").as_str())
    );
    let deployment = world.deployment_state("prod", "success").await;
    assert_eq!(
        deployment.description.as_deref(),
        Some(format!("slipway deploys {short} on cluster prod").as_str())
    );
    assert_eq!(deployment.payload["slipway"]["cluster"], "prod");
    let described = deployment
        .statuses
        .last()
        .map(|s| s.description.clone())
        .unwrap_or_default();
    assert_eq!(
        described,
        format!("Deployed {short} to prod on cluster prod")
    );
    let (_, page) = world.server().ops_get("/").await;
    assert!(
        page.contains("<td>prod</td><td>prod</td>"),
        "the status page names the cluster: {page}"
    );

    // The objects in `prod` carry the cluster in their inventory; `dev`'s keep the labels a
    // slipway of one cluster gave them.
    let in_prod = prod.objects("deployments", PROD_NS);
    assert_eq!(
        in_prod[0]["metadata"]["labels"]["slipway.dev/cluster"],
        "prod"
    );
    let in_default = world.kube.objects("deployments", DEV_NS);
    assert!(in_default[0]["metadata"]["labels"]
        .get("slipway.dev/cluster")
        .is_none());

    // The metrics count deploys by cluster.
    metric_at_least(
        &world,
        "slipway_deploys_total{cluster=\"prod\",outcome=\"succeeded\"}",
        1.0,
    )
    .await;
    metric_at_least(
        &world,
        "slipway_deploys_total{cluster=\"default\",outcome=\"succeeded\"}",
        1.0,
    )
    .await;
}

#[tokio::test]
async fn a_cluster_that_goes_down_holds_up_only_its_own_environment_which_deploys_once_it_is_back()
{
    let world = world_with(CONFIG, None, &["prod"]).await;
    let prod = world.cluster("prod").clone();
    prod.stop().await;
    let (_, ready) = world.server().ops_get("/readyz").await;
    let lines: Vec<&str> = ready.lines().collect();
    assert_eq!(lines[0], "ready", "{ready}");
    assert_eq!(
        lines[1], "cluster `default`: reachable, credentials accepted, builds can run",
        "{ready}"
    );
    assert!(
        lines[2].starts_with("cluster `prod`: unreachable: cannot reach the Kubernetes API"),
        "one line per cluster: {ready}"
    );
    assert_eq!(lines.len(), 3, "{ready}");

    let sha = world
        .push_to_main("bump both", |w| {
            w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
            w.write("envs/prod/api.yaml", &api(PROD_NS, "1.1"));
        })
        .await;
    // dev goes on while prod waits.
    let dev_check = world.deployed(&sha, "dev").await;
    assert_eq!(
        dev_check.conclusion.as_deref(),
        Some("success"),
        "{dev_check:#?}"
    );
    let waiting = world
        .check_when(&sha, "prod", "waiting for its cluster", |run| {
            run.summary
                .as_deref()
                .is_some_and(|s| s.contains("unreachable"))
        })
        .await;
    assert_eq!(waiting.status, "in_progress", "{waiting:#?}");
    let summary = waiting.summary.clone().unwrap_or_default();
    assert!(summary.contains("retrying in "), "{summary}");
    assert!(
        summary.contains("cluster `prod` unreachable: cannot reach the Kubernetes API"),
        "{summary}"
    );
    assert!(
        summary.contains("deploys to other clusters go on"),
        "{summary}"
    );
    assert_eq!(
        waiting.title.as_deref(),
        Some(
            format!(
                "Deploying {} to prod on cluster prod: waiting for the cluster",
                &sha[..7]
            )
            .as_str()
        )
    );
    // It keeps trying, with backoff, and says so in the metrics.
    metric_at_least(
        &world,
        "slipway_cluster_unreachable_total{cluster=\"prod\"}",
        2.0,
    )
    .await;

    // A second change of dev is not held up either.
    let second = world
        .push_to_main("bump dev again", |w| {
            w.write("envs/dev/api.yaml", &api(DEV_NS, "1.2"));
        })
        .await;
    let dev_again = world.deployed(&second, "dev").await;
    assert_eq!(
        dev_again.conclusion.as_deref(),
        Some("success"),
        "{dev_again:#?}"
    );
    assert_eq!(
        image(&world.kube, DEV_NS).as_deref(),
        Some("registry.example.com/team/api:1.2")
    );
    assert_eq!(
        image(&prod, PROD_NS),
        None,
        "nothing reached prod while it was down"
    );

    // Back up: the waiting deploy goes on by itself.
    prod.restart().await;
    let done = world.deployed(&sha, "prod").await;
    assert_eq!(done.conclusion.as_deref(), Some("success"), "{done:#?}");
    assert_eq!(
        image(&prod, PROD_NS).as_deref(),
        Some("registry.example.com/team/api:1.1")
    );
    assert_eq!(image(&world.kube, PROD_NS), None, "never another cluster");
    let (_, ready) = world.server().ops_get("/readyz").await;
    assert!(
        ready.contains("cluster `prod`: reachable, credentials accepted"),
        "{ready}"
    );
}

#[tokio::test]
async fn drift_of_a_cluster_that_is_down_is_reported_as_unreachable_never_as_drift() {
    let config = "\
environments:
  prod:
    path: envs/prod
    namespace: team-prod
    cluster: prod
    drift_interval: 1s
";
    let world = world_with(config, Some(Duration::from_millis(100)), &["prod"]).await;
    let prod = world.cluster("prod").clone();
    let sha = world
        .push_to_main("bump prod", |w| {
            w.write("envs/prod/api.yaml", &api(PROD_NS, "1.1"));
        })
        .await;
    let check = world.deployed(&sha, "prod").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    metric_at_least(
        &world,
        "slipway_drift_checks_total{cluster=\"prod\",outcome=\"in_sync\"}",
        1.0,
    )
    .await;

    prod.stop().await;
    metric_at_least(
        &world,
        "slipway_drift_checks_total{cluster=\"prod\",outcome=\"cluster_unreachable\"}",
        2.0,
    )
    .await;
    let drift_issues: Vec<_> = world
        .fake
        .issues(REPO)
        .into_iter()
        .filter(|i| i.labels.iter().any(|l| l == "slipway:drift"))
        .collect();
    assert!(
        drift_issues.is_empty(),
        "a cluster that does not answer is not drift: {drift_issues:#?}"
    );
    assert_eq!(
        world
            .server()
            .metric("slipway_drift_checks_total{cluster=\"prod\",outcome=\"drift\"}")
            .await,
        None
    );
}

#[tokio::test]
async fn two_names_for_one_api_server_never_prune_each_others_objects() {
    // `alias` reaches the very API server `default` does.
    let config = "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
    prune: true
";
    let world = DeployWorld::with_clusters(
        config,
        None,
        OtherClusters {
            clusters: Vec::new(),
            aliases: vec!["alias".to_string()],
            kubeconfigs: Vec::new(),
            backoff: Duration::from_millis(50),
        },
    )
    .await;
    let first = world
        .push_to_main("bump dev", |w| {
            w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
        })
        .await;
    assert_eq!(
        world.deployed(&first, "dev").await.conclusion.as_deref(),
        Some("success")
    );
    assert!(world.object("configmaps", DEV_NS, "settings").is_some());

    // dev moves to `alias`; the move itself deploys under the configuration before it.
    let moved = world
        .push_to_main("move dev", |w| {
            w.write(
                ".github/slipway.yml",
                &config.replace("    prune: true\n", "    prune: true\n    cluster: alias\n"),
            );
        })
        .await;
    let _ = moved;
    // Then a change that drops every object it had and renders a new one: through `alias`,
    // the objects `dev` has through `default` are not its own, so nothing of them is pruned.
    let dropped = world
        .push_to_main("replace dev's objects", |w| {
            w.remove("envs/dev/api.yaml");
            w.remove("envs/dev/settings.yaml");
            w.write(
                "envs/dev/other.yaml",
                &config_map_in(DEV_NS, "other", "mode", "dev"),
            );
        })
        .await;
    let check = world.deployed(&dropped, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert!(
        check
            .title
            .as_deref()
            .unwrap_or_default()
            .contains("on cluster alias"),
        "{check:#?}"
    );
    assert!(world.object("configmaps", DEV_NS, "other").is_some());
    assert!(
        world.object("configmaps", DEV_NS, "settings").is_some(),
        "dev's objects through `default` are not pruned through `alias`"
    );
    assert!(world.object("deployments", DEV_NS, "api").is_some());
    assert_eq!(world.kube.requests("delete", "configmaps"), 0);
    assert_eq!(world.kube.requests("delete", "deployments"), 0);
}

#[tokio::test]
async fn builds_run_on_the_cluster_build_cluster_names_and_an_unknown_one_stops_start_up() {
    let builds = cluster().await;
    let clusters = tempfile::tempdir().expect("a temp dir");
    std::fs::write(clusters.path().join("builds"), builds.kubeconfig("ci")).unwrap();
    let path = clusters.path().to_str().unwrap();
    let server = support::TestServer::builder()
        .var("CLUSTERS", path)
        .var("BUILD_CLUSTER", "builds")
        .start()
        .await;
    let (status, ready) = server.ops_get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(
        ready,
        format!(
            "ready\ncluster `default`: deploys cannot run: {}\ncluster `builds`: reachable, credentials accepted, builds can run",
            support::NO_TEST_CLUSTER
        )
    );
    assert!(
        builds.requests("list", "jobs") >= 1,
        "builds are looked for there"
    );
    server.shutdown().await;

    let mut vars = std::collections::HashMap::new();
    vars.insert("CLUSTERS".to_string(), path.to_string());
    vars.insert("BUILD_CLUSTER".to_string(), "prod-eu".to_string());
    vars.insert("PORT".to_string(), "0".to_string());
    vars.insert("OPS_PORT".to_string(), "0".to_string());
    let dir = tempfile::tempdir().expect("a temp dir");
    vars.insert(
        "DATABASE_URL".to_string(),
        format!("sqlite://{}", dir.path().join("slipway.db").display()),
    );
    vars.insert(
        "MIRROR_DIR".to_string(),
        dir.path().join("mirrors").display().to_string(),
    );
    let settings = slipway::settings::Settings::from_vars(&vars).expect("valid settings");
    let mut options = slipway::server::ServerOptions::new(settings);
    options.cluster = slipway::server::ClusterChoice::Unavailable("none".into());
    let refused = slipway::server::start(options)
        .await
        .err()
        .expect("refused");
    assert_eq!(
        format!("{refused:#}"),
        "BUILD_CLUSTER: unknown cluster `prod-eu`: this slipway knows `default`, `builds`"
    );
}

/// Delivers `opened` for pull request `number` (head `head` on `branch`) and returns slipway's
/// preview comment and its `slipway/preview` check run.
async fn preview(
    world: &DeployWorld,
    number: u64,
    branch: &str,
    head: &str,
) -> (Option<FakeComment>, support::fake_github::FakeCheckRun) {
    let event = PullEvent::new("opened", REPO, &world.bare, number)
        .base("main", &world.main_head())
        .head(branch, head);
    world.deliver("pull_request", &event.payload()).await;
    let comment = world
        .fake
        .comments_on(REPO, number)
        .into_iter()
        .filter(|c| c.user_login == app_bot_login())
        .find(|c| c.body.starts_with("<!-- slipway:preview part=1 -->"));
    let check = world
        .fake
        .check_runs(REPO)
        .into_iter()
        .rev()
        .find(|run| run.name == "slipway/preview" && run.head_sha == head)
        .expect("a preview check run");
    (comment, check)
}

#[tokio::test]
async fn the_preview_names_each_environments_cluster_and_fails_on_one_the_server_does_not_know() {
    let world = world_with(CONFIG, None, &["prod"]).await;
    let head = world.propose(7, "bump", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
        w.write("envs/prod/api.yaml", &api(PROD_NS, "1.1"));
    });
    let (comment, check) = preview(&world, 7, "bump", &head).await;
    let body = comment.expect("a preview comment").body;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert!(body.contains("- Deploys to cluster `prod`."), "{body}");
    assert!(body.contains("- Deploys to cluster `default`."), "{body}");

    // A base naming a cluster the server does not know fails the preview, naming those it
    // knows; nothing is rendered against any cluster.
    let moved = world
        .push_to_main("move prod", |w| {
            w.write(
                ".github/slipway.yml",
                &CONFIG.replace("cluster: prod", "cluster: prod-eu"),
            );
        })
        .await;
    let _ = moved;
    let head = world.propose(8, "bump-again", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "1.2"));
    });
    let (_, check) = preview(&world, 8, "bump-again", &head).await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"), "{check:#?}");
    let said = format!(
        "{}\n{}",
        check.summary.clone().unwrap_or_default(),
        check.text.clone().unwrap_or_default()
    )
    .replace("\\`", "`"); // as the Markdown shows it
    assert!(
        said.contains("unknown cluster `prod-eu`: this slipway knows `default`, `prod`"),
        "{said}"
    );
}

#[tokio::test]
async fn a_cluster_stopped_mid_deploy_is_waited_for_and_the_deploy_finishes_once_it_is_back() {
    let world = world_with(CONFIG, None, &["prod"]).await;
    let prod = world.cluster("prod").clone();
    // prod's controller holds the rollout back, so its deploy is mid-run when the cluster stops.
    prod.auto_roll_out(false);
    let sha = world
        .push_to_main("bump both", |w| {
            w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
            w.write("envs/prod/api.yaml", &api(PROD_NS, "1.1"));
        })
        .await;
    prod.await_requests("apply", "deployments", 1).await;
    prod.stop().await;

    let dev = world.deployed(&sha, "dev").await;
    assert_eq!(dev.conclusion.as_deref(), Some("success"), "{dev:#?}");
    let waiting = world
        .check_when(&sha, "prod", "waiting for its cluster", |run| {
            run.summary
                .as_deref()
                .is_some_and(|s| s.contains("cluster `prod` unreachable"))
        })
        .await;
    assert_eq!(waiting.status, "in_progress", "{waiting:#?}");
    assert_eq!(
        world
            .deployment_state("prod", "in_progress")
            .await
            .environment,
        "prod",
        "the Deployment stays in progress while it waits"
    );

    prod.restart().await;
    prod.roll_out("deployments", PROD_NS, "api");
    let done = world.deployed(&sha, "prod").await;
    assert_eq!(done.conclusion.as_deref(), Some("success"), "{done:#?}");
    assert_eq!(
        done.title.as_deref(),
        Some(format!("Deployed {} to prod on cluster prod", &sha[..7]).as_str())
    );
    assert_eq!(image(&world.kube, PROD_NS), None, "never another cluster");
}

#[tokio::test]
async fn a_cluster_whose_exec_plugin_fails_is_waited_for_and_tried_again() {
    // The cloud's credential plugin fails until its credentials are there (a token file the
    // pod gets later, say).
    let bin = tempfile::tempdir().expect("a temp dir");
    let ready = bin.path().join("credentials-ready");
    let plugin = bin.path().join("get-token");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\n[ -f {} ] || {{ echo 'no credentials yet' >&2; exit 1; }}\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"t\"}}}}'\n",
            ready.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let prod = cluster().await;
    let kubeconfig = prod.kubeconfig_with_exec("prod", plugin.to_str().unwrap());
    let world = DeployWorld::with_clusters(
        CONFIG,
        None,
        OtherClusters {
            clusters: vec![("prod".to_string(), prod.clone())],
            aliases: Vec::new(),
            kubeconfigs: vec![("prod".to_string(), kubeconfig)],
            backoff: Duration::from_millis(50),
        },
    )
    .await;
    let (_, said) = world.server().ops_get("/readyz").await;
    assert!(
        said.contains("cluster `prod`: deploys cannot run: ") && said.contains("auth exec"),
        "{said}"
    );

    let sha = world
        .push_to_main("bump both", |w| {
            w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
            w.write("envs/prod/api.yaml", &api(PROD_NS, "1.1"));
        })
        .await;
    let dev = world.deployed(&sha, "dev").await;
    assert_eq!(dev.conclusion.as_deref(), Some("success"), "{dev:#?}");
    let waiting = world
        .check_when(&sha, "prod", "waiting for its cluster", |run| {
            run.summary
                .as_deref()
                .is_some_and(|s| s.contains("has no usable client yet"))
        })
        .await;
    assert_eq!(waiting.status, "in_progress", "{waiting:#?}");

    std::fs::write(&ready, "").unwrap();
    let done = world.deployed(&sha, "prod").await;
    assert_eq!(done.conclusion.as_deref(), Some("success"), "{done:#?}");
    assert_eq!(
        image(&prod, PROD_NS).as_deref(),
        Some("registry.example.com/team/api:1.1")
    );
    let (_, said) = world.server().ops_get("/readyz").await;
    assert!(
        said.contains("cluster `prod`: reachable, credentials accepted"),
        "{said}"
    );
}

//! Deploys, end to end: a merged pull request (or a push straight to `main`) becomes a
//! server-side apply on the (fake) cluster, gated by approvals, locks, forks and policy, and
//! reported as a GitHub Deployment, a `slipway/deploy/<env>` check run and one comment on the
//! pull request.

mod build_world;
mod command_world;
mod deploy_world;
mod git_fixtures;
mod manifests;
mod support;

use std::time::Duration;

use deploy_world::{api, DeployWorld, DEV_NS, PROD_NS, REPO};
use manifests::{config_map_in, secret_in};

const INVENTORY_ENV_LABEL: &str = "slipway.dev/environment";

/// [`deploy_world::CONFIG`] with a health timeout no loaded machine reaches: for scenarios
/// that hold a deploy in its health wait on purpose.
fn patient_config() -> String {
    deploy_world::CONFIG.replace("health_timeout: 2s", "health_timeout: 10m")
}

#[tokio::test]
async fn a_merged_pull_request_deploys_the_environment_it_changes() {
    let world = DeployWorld::new().await;
    world.propose(1, "bump-dev", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
    });
    let merge = world.merge(1).await;

    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert_eq!(
        check.title.as_deref(),
        Some(format!("Deployed {} to dev", &merge[..7]).as_str())
    );
    let summary = check.summary.clone().unwrap_or_default();
    assert!(summary.contains("2 created"), "{summary}");
    assert!(summary.contains("(#1)"), "{summary}");
    let text = check.text.clone().unwrap_or_default();
    assert!(text.contains("Deployment.apps team-dev/api"), "{text}");

    assert_eq!(
        world.api_image(DEV_NS).as_deref(),
        Some("registry.example.com/team/api:1.1")
    );
    let settings = world
        .object("configmaps", DEV_NS, "settings")
        .expect("the ConfigMap was applied");
    assert_eq!(settings["metadata"]["labels"][INVENTORY_ENV_LABEL], "dev");
    let managers: Vec<&str> = settings["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, ["slipway"], "applied server-side by slipway");
    assert!(
        world.objects("deployments", PROD_NS).is_empty(),
        "prod was not changed, so not deployed"
    );
    assert!(world.deploy_checks(&merge, "prod").is_empty());

    let deployment = world.deployment_state("dev", "success").await;
    assert_eq!(deployment.sha, merge);
    assert_eq!(deployment.posted_states(), ["in_progress", "success"]);
    assert_eq!(
        deployment.request["auto_merge"],
        serde_json::json!(false),
        "a deploy never merges the default branch into its ref"
    );
    let log_url = deployment.statuses.last().and_then(|s| s.log_url.clone());
    assert_eq!(
        log_url,
        Some(format!("https://github.com/{REPO}/runs/{}", check.id))
    );

    let comment = world.deploy_comment(1, "✅ deployed").await;
    assert!(comment.body.contains(&format!("`{}`", &merge[..7])));
    let history = world
        .server()
        .store()
        .environment_deploys(REPO, "dev", 5)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].outcome, "succeeded");
    assert_eq!(history[0].pull_number, Some(1));
    assert_eq!(history[0].counts.created, 2);
}

#[tokio::test]
async fn a_gated_environment_without_an_approval_is_not_deployed() {
    let world = DeployWorld::new().await;
    world.propose(2, "bump-prod", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "2.0"));
    });
    let merge = world.merge(2).await;

    let check = world.deployed(&merge, "prod").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        check.title.as_deref(),
        Some("Not deployed to prod: the approval gate refused it")
    );
    let summary = check.summary.unwrap_or_default();
    assert!(summary.contains("0 of 1 required approval"), "{summary}");
    assert!(world.objects("deployments", PROD_NS).is_empty());
    assert!(
        world.deployments("prod").is_empty(),
        "no Deployment is made for a refusal"
    );
    world.deploy_comment(2, "⛔ refused by the gate").await;
}

#[tokio::test]
async fn an_approval_of_the_final_head_by_a_writer_opens_the_gate() {
    let world = DeployWorld::new().await;
    let head = world.propose(3, "bump-prod", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "2.0"));
    });
    world.fake.submit_review(REPO, 3, "bob", "APPROVED", &head);
    let merge = world.merge(3).await;

    let check = world.deployed(&merge, "prod").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert_eq!(
        world.api_image(PROD_NS).as_deref(),
        Some("registry.example.com/team/api:2.0")
    );
    let deployment = world.deployment_state("prod", "success").await;
    assert!(
        deployment.production_environment,
        "prod is a production environment"
    );
}

#[tokio::test]
async fn an_approval_of_an_earlier_head_does_not_count() {
    let world = DeployWorld::new().await;
    let first = world.propose(4, "bump-prod", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "2.0"));
    });
    world.fake.submit_review(REPO, 4, "bob", "APPROVED", &first);
    world.commit_on("bump-prod", "and one more thing", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "2.1"));
    });
    let merge = world.merge(4).await;

    let check = world.deployed(&merge, "prod").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    let summary = check.summary.unwrap_or_default();
    assert!(
        summary.contains("bob approved an older commit"),
        "{summary}"
    );
    assert!(world.objects("deployments", PROD_NS).is_empty());
}

#[tokio::test]
async fn a_locked_environment_is_not_deployed() {
    let world = DeployWorld::new().await;
    world
        .server()
        .store()
        .lock_environment(REPO, "dev", "carol", Some("incident 42"))
        .await
        .unwrap();
    world.propose(5, "bump-dev", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
    });
    let merge = world.merge(5).await;

    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("neutral"));
    assert_eq!(
        check.title.as_deref(),
        Some("Not deployed: dev is locked by @carol")
    );
    assert!(world.objects("deployments", DEV_NS).is_empty());
    world.deploy_comment(5, "🔒 locked").await;
}

#[tokio::test]
async fn nothing_from_a_fork_deploys() {
    let world = DeployWorld::new().await;
    let head = world.commit_on("fork-change", "from a fork", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "6.6.6"));
    });
    world.fake.open_pull(
        REPO,
        support::fake_github::PullSpec::new(6, "fork-change", "main")
            .in_fork("mallory/config")
            .head_sha(&head)
            .by("mallory"),
    );
    let merge = world.merge(6).await;

    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    assert!(check
        .summary
        .unwrap_or_default()
        .contains("came from the fork mallory/config"));
    assert!(world.objects("deployments", DEV_NS).is_empty());
    world.deploy_comment(6, "⛔ refused by the gate").await;
}

#[tokio::test]
async fn a_push_straight_to_main_deploys_an_ungated_environment_only() {
    let world = DeployWorld::new().await;
    let sha = world
        .push_to_main("bump api in dev and prod", |w| {
            w.write("envs/dev/api.yaml", &api(DEV_NS, "1.2"));
            w.write("envs/prod/api.yaml", &api(PROD_NS, "1.2"));
        })
        .await;

    let dev = world.deployed(&sha, "dev").await;
    assert_eq!(dev.conclusion.as_deref(), Some("success"));
    assert!(
        !dev.summary.unwrap_or_default().contains("(#"),
        "no pull request"
    );
    let prod = world.deployed(&sha, "prod").await;
    assert_eq!(prod.conclusion.as_deref(), Some("failure"));
    assert!(prod
        .summary
        .unwrap_or_default()
        .contains("pushed straight to main"));
    assert_eq!(
        world.api_image(DEV_NS).as_deref(),
        Some("registry.example.com/team/api:1.2")
    );
    assert!(world.objects("deployments", PROD_NS).is_empty());
}

#[tokio::test]
async fn a_merge_webhook_delivered_twice_deploys_once() {
    let world = DeployWorld::new().await;
    world.propose(7, "bump-dev", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
    });
    let before = world.main_head();
    let merge = world.merge(7).await;
    world.deployed(&merge, "dev").await;
    world.deployment_state("dev", "success").await;
    world.deliver_merge(7, &before, &merge).await;
    world.deliver_push(&before, &merge).await;

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(world.deploy_checks(&merge, "dev").len(), 1);
    assert_eq!(world.deployments("dev").len(), 1);
    world.deploy_comment(7, "✅ deployed").await;
}

#[tokio::test]
async fn objects_outside_the_allowed_namespaces_are_refused_before_the_cluster_is_touched() {
    let world = DeployWorld::new().await;
    world.propose(8, "escape", |w| {
        w.write(
            "envs/dev/escape.yaml",
            &config_map_in("kube-system", "escape", "x", "y"),
        );
    });
    let merge = world.merge(8).await;

    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    let summary = check.summary.unwrap_or_default();
    assert!(
        summary.contains("ConfigMap kube-system/escape"),
        "{summary}"
    );
    assert!(summary.contains("envs/dev/escape.yaml"), "{summary}");
    assert!(world.objects("configmaps", "kube-system").is_empty());
    assert!(
        world.objects("deployments", DEV_NS).is_empty(),
        "nothing applied"
    );
    world.deploy_comment(8, "⛔ refused by policy").await;
}

#[tokio::test]
async fn an_object_no_longer_rendered_is_pruned_and_only_what_slipway_deployed() {
    let world = DeployWorld::new().await;
    world.propose(9, "extra", |w| {
        w.write(
            "envs/dev/extra.yaml",
            &config_map_in(DEV_NS, "extra", "k", "v"),
        );
    });
    let first = world.merge(9).await;
    world.deployed(&first, "dev").await;
    world.deploy_comment(9, "✅ deployed").await;
    assert!(world.object("configmaps", DEV_NS, "extra").is_some());

    world.propose(10, "drop-extra", |w| {
        w.remove("envs/dev/extra.yaml");
    });
    let second = world.merge(10).await;
    let check = world.deployed(&second, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert!(check.summary.unwrap_or_default().contains("1 pruned"));
    assert!(check
        .text
        .unwrap_or_default()
        .contains("ConfigMap team-dev/extra"));
    world.deploy_comment(10, "✅ deployed").await;
    world
        .cluster_when("the pruned ConfigMap is gone", |w| {
            w.object("configmaps", DEV_NS, "extra").is_none()
        })
        .await;
    assert!(world.object("configmaps", DEV_NS, "settings").is_some());
}

#[tokio::test]
async fn an_unhealthy_deploy_rolls_back_to_the_last_good_commit() {
    let world = DeployWorld::new().await;
    world.propose(11, "good", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
    });
    let good = world.merge(11).await;
    world.deployed(&good, "dev").await;
    world.deploy_comment(11, "✅ deployed").await;

    world.kube.auto_roll_out(false);
    world.propose(12, "bad", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.2-broken"));
    });
    let bad = world.merge(12).await;
    world
        .cluster_when("the broken image is applied", |w| {
            w.api_image(DEV_NS).as_deref() == Some("registry.example.com/team/api:1.2-broken")
        })
        .await;
    // The health timeout (2s) passes; slipway applies the last good commit again.
    world
        .cluster_when("the good image is back", |w| {
            w.api_image(DEV_NS).as_deref() == Some("registry.example.com/team/api:1.1")
        })
        .await;
    world.kube.roll_out("deployments", DEV_NS, "api");

    let check = world.deployed(&bad, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        check.title.as_deref(),
        Some(format!("Deploy to dev failed; rolled back to {}", &good[..7]).as_str())
    );
    let summary = check.summary.unwrap_or_default();
    assert!(
        summary.contains("Deployment.apps team-dev/api"),
        "{summary}"
    );
    let deployment = world.deployment_state("dev", "failure").await;
    assert_eq!(deployment.sha, bad);
    world.deploy_comment(12, "↩️ rolled back").await;
    let last = world
        .server()
        .store()
        .last_successful_deploy(REPO, "dev")
        .await
        .unwrap();
    assert_eq!(last.as_deref(), Some(good.as_str()));
}

#[tokio::test]
async fn the_newest_of_two_merges_wins_and_the_older_is_superseded() {
    let world = DeployWorld::with_config(&patient_config()).await;
    world.kube.auto_roll_out(false);
    world.propose(13, "first", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
    });
    let first = world.merge(13).await;
    world
        .check_when(&first, "dev", "in progress", |r| r.status == "in_progress")
        .await;
    world.propose(14, "second", |w| {
        w.write(
            "envs/dev/settings.yaml",
            &config_map_in(DEV_NS, "settings", "mode", "fast"),
        );
    });
    let second = world.merge(14).await;

    let superseded = world.deployed(&first, "dev").await;
    assert_eq!(superseded.conclusion.as_deref(), Some("skipped"));
    assert_eq!(
        superseded.title.as_deref(),
        Some(format!("Not deployed: superseded by {}", &second[..7]).as_str())
    );
    world.kube.auto_roll_out(true);
    world
        .cluster_when("the api Deployment is applied", |w| {
            w.api_image(DEV_NS).as_deref() == Some("registry.example.com/team/api:1.1")
        })
        .await;
    world.kube.roll_out("deployments", DEV_NS, "api");
    let winner = world.deployed(&second, "dev").await;
    assert_eq!(winner.conclusion.as_deref(), Some("success"), "{winner:#?}");
    assert_eq!(
        world.api_image(DEV_NS).as_deref(),
        Some("registry.example.com/team/api:1.1"),
        "the newest commit holds both changes"
    );
    world.deploy_comment(13, "⏭️ superseded").await;
    world.deploy_comment(14, "✅ deployed").await;
    let states = world.deployments("dev");
    assert_eq!(states.len(), 2);
    assert_eq!(
        states[0].posted_states().last().map(String::as_str),
        Some("inactive")
    );
}

#[tokio::test]
async fn a_deploy_interrupted_by_a_restart_finishes_after_it() {
    let mut world = DeployWorld::with_config(&patient_config()).await;
    world.kube.auto_roll_out(false);
    world.propose(15, "bump-dev", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
    });
    let merge = world.merge(15).await;
    world
        .check_when(&merge, "dev", "in progress", |r| r.status == "in_progress")
        .await;
    world.restart().await;
    // Applied before the restart or after it: the rollout follows the apply either way.
    world
        .cluster_when("the new image is applied", |w| {
            w.api_image(DEV_NS).as_deref() == Some("registry.example.com/team/api:1.1")
        })
        .await;
    world.kube.roll_out("deployments", DEV_NS, "api");

    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert_eq!(world.deploy_checks(&merge, "dev").len(), 1);
    assert_eq!(world.deployments("dev").len(), 1);
    world.deploy_comment(15, "✅ deployed").await;
}

#[tokio::test]
async fn secret_values_never_reach_github() {
    let world = DeployWorld::new().await;
    let value = "hunter2-very-secret-value";
    world.propose(16, "secret", |w| {
        w.write(
            "envs/dev/secret.yaml",
            &secret_in(DEV_NS, "db", "password", value),
        );
    });
    let merge = world.merge(16).await;
    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert!(check
        .text
        .clone()
        .unwrap_or_default()
        .contains("Secret team-dev/db"));
    world.deploy_comment(16, "✅ deployed").await;
    for request in world.fake.requests() {
        assert!(
            !format!("{request:?}").contains(value),
            "a request to GitHub holds the Secret's value: {request:?}"
        );
    }
    assert!(
        world.object("secrets", DEV_NS, "db").is_some(),
        "the Secret was applied"
    );
}

#[tokio::test]
async fn re_running_a_locked_deploy_after_unlock_deploys_it() {
    let world = DeployWorld::new().await;
    let store = world.server().store().clone();
    store
        .lock_environment(REPO, "dev", "carol", None)
        .await
        .unwrap();
    world.propose(17, "bump-dev", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
    });
    let merge = world.merge(17).await;
    let locked = world.deployed(&merge, "dev").await;
    assert_eq!(locked.conclusion.as_deref(), Some("neutral"));

    world.rerun(&locked).await;
    let still = world.deployed(&merge, "dev").await;
    assert_eq!(still.conclusion.as_deref(), Some("neutral"), "still locked");
    assert!(world.objects("deployments", DEV_NS).is_empty());

    store.unlock_environment(REPO, "dev").await.unwrap();
    world.rerun(&still).await;
    let deployed = world
        .check_when(&merge, "dev", "a success", |r| {
            r.conclusion.as_deref() == Some("success")
        })
        .await;
    assert_eq!(deployed.status, "completed");
    assert_eq!(
        world.api_image(DEV_NS).as_deref(),
        Some("registry.example.com/team/api:1.1")
    );
    world.deploy_comment(17, "✅ deployed").await;
}

#[tokio::test]
async fn a_rollback_command_commits_the_old_directory_and_its_push_deploys_it() {
    let world = DeployWorld::new().await;
    for (number, tag) in [(18, "1.1"), (19, "1.2")] {
        world.propose(number, &format!("tag-{tag}"), |w| {
            w.write("envs/dev/api.yaml", &api(DEV_NS, tag));
        });
        let merge = world.merge(number).await;
        let check = world.deployed(&merge, "dev").await;
        assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
        world.deploy_comment(number, "✅ deployed").await;
    }
    let before = world.main_head();
    let reply = world.command_on_issue("alice", "/rollback dev").await;
    assert!(reply.body.contains("dev"), "{}", reply.body);
    let after = world.main_head();
    assert_ne!(
        before, after,
        "the rollback is a commit on main: {}",
        reply.body
    );
    world.deliver_push(&before, &after).await;

    let check = world.deployed(&after, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert_eq!(
        world.api_image(DEV_NS).as_deref(),
        Some("registry.example.com/team/api:1.1"),
        "the previously deployed revision runs again"
    );
}

#[tokio::test]
async fn without_a_cluster_a_merge_is_reported_neutral_and_nothing_runs() {
    let world = DeployWorld::without_cluster().await;
    world.propose(20, "bump-dev", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
    });
    let merge = world.merge(20).await;

    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("neutral"));
    assert_eq!(
        check.title.as_deref(),
        Some("Not deployed: no cluster configured")
    );
    assert!(world.deployments("dev").is_empty(), "no GitHub Deployment");
    world.deploy_comment(20, "⚪ no cluster").await;
}

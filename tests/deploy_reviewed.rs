//! "The reviewers saw everything that deploys": the ways around a review of a gated
//! environment, each played as GitHub plays it — the attacker's branch and commits, the
//! reviews, the merge method, the webhooks of the merge — and refused where a user sees it:
//! the `slipway/deploy/<env>` check run, the pull request's deploy comment, and a cluster
//! nothing was applied to.

mod build_world;
mod command_world;
mod deploy_world;
mod git_fixtures;
mod manifests;
mod support;

use deploy_world::{api, DeployWorld, WebhookOrder, DEV_NS, PROD_NS, REPO};
use support::fake_github::{FakeCheckRun, MergeMethod};

const PROD_IMAGE: &str = "registry.example.com/team/api";

fn prod_image(world: &DeployWorld) -> Option<String> {
    world.api_image(PROD_NS)
}

/// The refusal check run's summary, asserting it is a refusal by the gate.
fn refused_by_gate(check: &FakeCheckRun) -> String {
    assert_eq!(check.conclusion.as_deref(), Some("failure"), "{check:#?}");
    assert_eq!(
        check.title.as_deref(),
        Some("Not deployed to prod: the approval gate refused it"),
        "{check:#?}"
    );
    // Mentions are defused with a zero-width joiner after the `@`; read them as written.
    check
        .summary
        .clone()
        .unwrap_or_default()
        .replace("@\u{200d}", "@")
}

/// Pull request `number` by alice changing prod to `tag`, approved by bob on its head, merged
/// and deployed: prod's last deployed commit.
async fn deploy_prod(world: &DeployWorld, number: u64, tag: &str) -> String {
    let head = world.propose(number, &format!("prod-{tag}"), |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, tag));
    });
    world
        .fake
        .submit_review(REPO, number, "bob", "APPROVED", &head);
    let merge = world.merge(number).await;
    let check = world.deployed(&merge, "prod").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    world.deploy_comment(number, "✅ deployed").await;
    merge
}

/// A pull request whose first commit lowers prod's bar to no approvals and whose second
/// changes prod, merged with `method` without any review: refused, whatever the method.
async fn lowering_its_own_bar_is_refused(method: MergeMethod) {
    let world = DeployWorld::new().await;
    world.commit_on("lower-the-bar", "prod needs no review", |w| {
        let config = deploy_world::CONFIG.replace("required_approvals: 1", "required_approvals: 0");
        w.write(".github/slipway.yml", &config);
    });
    world.commit_on("lower-the-bar", "prod runs 6.6.6", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "6.6.6"));
    });
    world.open_pull(30, "lower-the-bar", "alice");
    let merged = world.merge_as(30, method).await;

    let check = world.deployed(&merged, "prod").await;
    let summary = refused_by_gate(&check);
    assert!(summary.contains("0 of 1 required approval"), "{summary}");
    world.deploy_comment(30, "⛔ refused by the gate").await;
    assert!(world.objects("deployments", PROD_NS).is_empty());
    assert!(world.deployments("prod").is_empty());
}

#[tokio::test]
async fn a_rebase_merge_cannot_lower_its_own_approval_requirement() {
    lowering_its_own_bar_is_refused(MergeMethod::Rebase).await;
}

#[tokio::test]
async fn a_squash_merge_cannot_lower_its_own_approval_requirement() {
    lowering_its_own_bar_is_refused(MergeMethod::Squash).await;
}

#[tokio::test]
async fn a_merge_commit_cannot_lower_its_own_approval_requirement() {
    lowering_its_own_bar_is_refused(MergeMethod::Merge).await;
}

#[tokio::test]
async fn a_rebase_merge_deploys_every_environment_the_whole_pull_request_changes() {
    let world = DeployWorld::new().await;
    world.commit_on("two-steps", "dev runs 1.1", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
    });
    let head = world.commit_on("two-steps", "prod runs 1.1", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "1.1"));
    });
    world.open_pull(31, "two-steps", "alice");
    world.fake.submit_review(REPO, 31, "bob", "APPROVED", &head);
    let merged = world.merge_as(31, MergeMethod::Rebase).await;

    for env in ["dev", "prod"] {
        let check = world.deployed(&merged, env).await;
        assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    }
    assert_eq!(
        world.api_image(DEV_NS).as_deref(),
        Some(format!("{PROD_IMAGE}:1.1").as_str()),
        "the first commit's change deploys too"
    );
    assert_eq!(prod_image(&world), Some(format!("{PROD_IMAGE}:1.1")));
    world.deploy_comment(31, "✅ deployed").await;
}

#[tokio::test]
async fn a_merge_whose_push_arrives_first_deploys_once() {
    let world = DeployWorld::new().await;
    world.propose(32, "dev-1.1", |w| {
        w.write("envs/dev/api.yaml", &api(DEV_NS, "1.1"));
    });
    let merge = world
        .merge_with(32, MergeMethod::Merge, WebhookOrder::PushFirst)
        .await;

    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    world.deployment_state("dev", "success").await;
    assert_eq!(world.deploy_checks(&merge, "dev").len(), 1);
    assert_eq!(world.deployments("dev").len(), 1);
    world.deploy_comment(32, "✅ deployed").await;
}

#[tokio::test]
async fn an_approval_from_someone_who_pushed_to_the_pull_request_does_not_count() {
    let world = DeployWorld::new().await;
    world.propose(33, "prod-2.0", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "2.0"));
    });
    world.deliver_pull_event(33, "opened", "alice").await;
    // bob adds his own change to alice's pull request, then approves it all.
    let head = world
        .push_to_pull(33, "bob", |w| {
            w.write("envs/prod/api.yaml", &api(PROD_NS, "6.6.6"));
        })
        .await;
    world.fake.submit_review(REPO, 33, "bob", "APPROVED", &head);
    let merge = world.merge(33).await;

    let check = world.deployed(&merge, "prod").await;
    let summary = refused_by_gate(&check);
    assert!(
        summary.contains("0 of 1 required approval. Not counted: @bob pushed to the pull request"),
        "{summary}"
    );
    let comment = world.deploy_comment(33, "⛔ refused by the gate").await;
    assert!(
        comment.body.contains("bob pushed to the pull request"),
        "{}",
        comment.body
    );
    assert!(world.objects("deployments", PROD_NS).is_empty());
}

#[tokio::test]
async fn an_approval_given_before_the_base_branch_changed_does_not_count() {
    let world = DeployWorld::new().await;
    // A branch nothing deploys from, where a review is easy to get.
    world.work.git(&[
        "push",
        "--quiet",
        world.bare.to_str().unwrap(),
        "main:sandbox",
    ]);
    let head = world.commit_on("prod-7.0", "prod runs 7.0", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "7.0"));
    });
    world.fake.open_pull(
        REPO,
        support::fake_github::PullSpec::new(34, "prod-7.0", "sandbox").by("alice"),
    );
    world.fake.submit_review(REPO, 34, "bob", "APPROVED", &head);
    world.change_base(34, "main", "alice").await;
    let merge = world.merge(34).await;

    let check = world.deployed(&merge, "prod").await;
    let summary = refused_by_gate(&check);
    assert!(
        summary.contains("Not counted: @bob approved before the base branch changed"),
        "{summary}"
    );
    world.deploy_comment(34, "⛔ refused by the gate").await;
    assert!(world.objects("deployments", PROD_NS).is_empty());
}

#[tokio::test]
async fn the_commenter_of_a_rollback_cannot_approve_it() {
    let world = DeployWorld::new().await;
    deploy_prod(&world, 35, "2.0").await;
    deploy_prod(&world, 36, "3.0").await;
    let reply = world.command_on_issue("bob", "/rollback prod").await;
    let pull = world
        .fake
        .pulls(REPO)
        .into_iter()
        .find(|p| p.head_ref == "slipway/rollback/prod")
        .unwrap_or_else(|| panic!("no rollback pull request: {}", reply.body));
    let head = world.branch_head(&pull.head_ref);
    world
        .fake
        .submit_review(REPO, pull.number, "bob", "APPROVED", &head);
    let merge = world.merge(pull.number).await;

    let check = world.deployed(&merge, "prod").await;
    let summary = refused_by_gate(&check);
    assert!(
        summary.contains("Not counted: @bob requested the change"),
        "{summary}"
    );
    assert_eq!(prod_image(&world), Some(format!("{PROD_IMAGE}:3.0")));
    world
        .deploy_comment(pull.number, "⛔ refused by the gate")
        .await;
}

/// What [`a_direct_push_waiting_under_an_approved_merge`] made.
struct RideAlong {
    /// prod's last deploy (#37's merge).
    deployed: String,
    /// The commit pushed straight to main.
    pushed: String,
    /// #38's merge commit.
    merge: String,
}

/// prod deployed by #37; #38 branched from there; then a commit straight to `main` changes
/// prod (refused on its own); then #38 is approved and merged.
async fn a_direct_push_waiting_under_an_approved_merge(world: &DeployWorld) -> RideAlong {
    let deployed = deploy_prod(world, 37, "2.0").await;
    let head = world.propose(38, "prod-settings", |w| {
        w.write(
            "envs/prod/settings.yaml",
            &manifests::config_map_in(PROD_NS, "settings", "mode", "careful"),
        );
    });
    let pushed = world
        .push_to_main("prod runs 6.6.6", |w| {
            w.write("envs/prod/api.yaml", &api(PROD_NS, "6.6.6"));
        })
        .await;
    let refused = world.deployed(&pushed, "prod").await;
    assert!(refused_by_gate(&refused).contains("pushed straight to main"));
    world.fake.submit_review(REPO, 38, "bob", "APPROVED", &head);
    let merge = world.merge(38).await;
    RideAlong {
        deployed,
        pushed,
        merge,
    }
}

#[tokio::test]
async fn a_direct_push_never_rides_along_with_the_next_approved_merge() {
    let world = DeployWorld::new().await;
    let RideAlong {
        deployed,
        pushed,
        merge,
    } = a_direct_push_waiting_under_an_approved_merge(&world).await;

    let check = world.deployed(&merge, "prod").await;
    let summary = refused_by_gate(&check);
    assert!(
        summary.contains(&format!(
            "1 commit since the last deploy of prod ({}) did not come through an approved \
             pull request: {} \"prod runs 6.6.6\"",
            &deployed[..7],
            &pushed[..7]
        )),
        "{summary}"
    );
    assert!(
        summary.contains("update the pull request's branch from main"),
        "{summary}"
    );
    world.deploy_comment(38, "⛔ refused by the gate").await;
    assert_eq!(prod_image(&world), Some(format!("{PROD_IMAGE}:2.0")));
    assert_eq!(world.deployments("prod").len(), 1, "only #37's deploy");
}

#[tokio::test]
async fn re_running_a_deploy_that_carried_an_unreviewed_commit_refuses_it_again() {
    let world = DeployWorld::new().await;
    let RideAlong { pushed, merge, .. } =
        a_direct_push_waiting_under_an_approved_merge(&world).await;
    let refused = world.deployed(&merge, "prod").await;
    refused_by_gate(&refused);

    world.rerun(&refused).await;
    let checks = world.deploy_checks(&merge, "prod");
    assert_eq!(checks.len(), 2, "the re-run is decided again: {checks:#?}");
    let summary = refused_by_gate(&checks[1]);
    assert!(summary.contains(&pushed[..7]), "{summary}");
    assert_eq!(prod_image(&world), Some(format!("{PROD_IMAGE}:2.0")));
}

#[tokio::test]
async fn an_approved_pull_request_that_contains_the_direct_push_deploys_it() {
    let world = DeployWorld::new().await;
    let RideAlong { merge, .. } = a_direct_push_waiting_under_an_approved_merge(&world).await;
    refused_by_gate(&world.deployed(&merge, "prod").await);

    // The way out: a pull request from main as it is now, its preview showing the pushed
    // commit, approved by a writer who neither wrote nor pushed it.
    let head = world.propose(39, "prod-7.0", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "7.0"));
    });
    world.fake.submit_review(REPO, 39, "bob", "APPROVED", &head);
    let fixed = world.merge(39).await;

    let check = world.deployed(&fixed, "prod").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert_eq!(prod_image(&world), Some(format!("{PROD_IMAGE}:7.0")));
    world.deploy_comment(39, "✅ deployed").await;
}

#[tokio::test]
async fn a_merge_into_another_branch_pushed_to_main_is_refused() {
    let world = DeployWorld::new().await;
    world
        .work
        .git(&["push", "--quiet", world.bare.to_str().unwrap(), "main:side"]);
    world.commit_on("prod-side", "prod runs 6.6.6", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "6.6.6"));
    });
    world.fake.open_pull(
        REPO,
        support::fake_github::PullSpec::new(40, "prod-side", "side").by("alice"),
    );
    // Merged into `side` without a review (nothing deploys from `side`)...
    let merged = world.fake.merge_pull(REPO, 40);
    // ...then `side` is pushed to main.
    let before = world.main_head();
    git_fixtures::git_in(
        &world.bare,
        &["update-ref", "refs/heads/main", &merged, &before],
    );
    world.deliver_push_by(&before, &merged, "alice").await;

    let check = world.deployed(&merged, "prod").await;
    let summary = refused_by_gate(&check);
    assert!(summary.contains("pushed straight to main"), "{summary}");
    assert!(world.objects("deployments", PROD_NS).is_empty());
    assert!(world.deployments("prod").is_empty());
}

#[tokio::test]
async fn a_rebase_merge_cannot_widen_its_own_namespaces() {
    let world = DeployWorld::new().await;
    world.commit_on("escape", "dev may write kube-system", |w| {
        let config = deploy_world::CONFIG.replace(
            "namespace: team-dev\n",
            "namespace: team-dev\n    allowed_namespaces: [team-dev, kube-system]\n",
        );
        w.write(".github/slipway.yml", &config);
    });
    world.commit_on("escape", "a ConfigMap in kube-system", |w| {
        w.write(
            "envs/dev/escape.yaml",
            &manifests::config_map_in("kube-system", "escape", "x", "y"),
        );
    });
    world.open_pull(41, "escape", "alice");
    let merged = world.merge_as(41, MergeMethod::Rebase).await;

    let check = world.deployed(&merged, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"), "{check:#?}");
    let summary = check.summary.clone().unwrap_or_default();
    assert!(
        summary.contains("ConfigMap kube-system/escape"),
        "{summary}"
    );
    world.deploy_comment(41, "⛔ refused by policy").await;
    assert!(world.objects("configmaps", "kube-system").is_empty());
    assert!(
        world.objects("deployments", DEV_NS).is_empty(),
        "nothing applied"
    );
}

#[tokio::test]
async fn a_squashed_pull_request_whose_branch_is_gone_still_vouches_for_what_its_head_held() {
    let world = DeployWorld::new().await;
    let RideAlong { merge, .. } = a_direct_push_waiting_under_an_approved_merge(&world).await;
    refused_by_gate(&world.deployed(&merge, "prod").await);

    let head = world.propose(42, "prod-8.0", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "8.0"));
    });
    world.fake.submit_review(REPO, 42, "bob", "APPROVED", &head);
    let before = world.main_head();
    let squashed = world.fake.merge_pull_as(REPO, 42, MergeMethod::Squash);
    // "Delete branch" after the merge: the head lives on only as refs/pull/42/head.
    git_fixtures::git_in(&world.bare, &["update-ref", "-d", "refs/heads/prod-8.0"]);
    world.deliver_merge(42, &before, &squashed).await;
    world.deliver_push_by(&before, &squashed, "bob").await;

    let check = world.deployed(&squashed, "prod").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert_eq!(prod_image(&world), Some(format!("{PROD_IMAGE}:8.0")));
    world.deploy_comment(42, "✅ deployed").await;
}

#[tokio::test]
async fn a_direct_push_that_leaves_a_gated_environment_alone_does_not_block_it() {
    // An image bump of dev (no approvals) lands straight on main between prod's last deploy
    // and the next approved merge for prod: it brought nothing to prod, so prod deploys.
    let world = DeployWorld::new().await;
    deploy_prod(&world, 37, "2.0").await;
    let head = world.propose(38, "prod-3.0", |w| {
        w.write("envs/prod/api.yaml", &api(PROD_NS, "3.0"));
    });
    let bump = world
        .push_to_main("bump api in dev", |w| {
            w.write("envs/dev/api.yaml", &api(DEV_NS, "2.1"));
        })
        .await;
    let dev = world.deployed(&bump, "dev").await;
    assert_eq!(dev.conclusion.as_deref(), Some("success"), "{dev:#?}");
    world.fake.submit_review(REPO, 38, "bob", "APPROVED", &head);
    let merge = world.merge(38).await;

    let check = world.deployed(&merge, "prod").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    assert_eq!(prod_image(&world), Some(format!("{PROD_IMAGE}:3.0")));
    world.deploy_comment(38, "✅ deployed").await;
}

#[tokio::test]
async fn a_gate_removed_and_declared_again_keeps_the_bar_its_last_deploy_had() {
    // prod needs one approval and deployed under it. Three pushes straight to main, none of
    // which deploys prod on its own: drop prod from the file, declare it again without
    // approvals, then change it. The bar prod last deployed under still holds.
    let world = DeployWorld::new().await;
    deploy_prod(&world, 37, "2.0").await;
    let without_prod = deploy_world::CONFIG
        .split("  prod:\n")
        .next()
        .expect("dev comes first")
        .to_string();
    world
        .push_to_main("drop prod", |w| {
            w.write(".github/slipway.yml", &without_prod);
        })
        .await;
    world
        .push_to_main("prod again, no review", |w| {
            w.write(
                ".github/slipway.yml",
                &deploy_world::CONFIG.replace("    required_approvals: 1\n", ""),
            );
        })
        .await;
    let pushed = world
        .push_to_main("prod runs 6.6.6", |w| {
            w.write("envs/prod/api.yaml", &api(PROD_NS, "6.6.6"));
        })
        .await;

    let refused = world.deployed(&pushed, "prod").await;
    assert!(
        refused_by_gate(&refused).contains("pushed straight to main"),
        "{refused:#?}"
    );
    assert_eq!(prod_image(&world), Some(format!("{PROD_IMAGE}:2.0")));
}

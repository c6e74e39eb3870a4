//! How fast a merge reaches the cluster: from the merge webhook accepted (slipway's 202) to the
//! first server-side apply request reaching the API server, for an environment of 1,000 objects;
//! and how fast the apply of those 1,000 objects goes (first apply request to last).
//!
//!     cargo bench --bench deploy_latency   # 20 merges of 1,000 objects (RUNS=N, OBJECTS=N)
//!
//! slipway runs in-process on loopback (release build) between the fake GitHub of the test
//! suite (a real bare repository for the config repo) and the fake Kubernetes API server, which
//! the real `kube::Client` talks to over HTTP; the fake completes rollouts at once. Each round
//! opens a pull request that changes one ConfigMap, merges it with a real merge commit and sends
//! what GitHub sends for a merge: `pull_request` `closed` (which deploys nothing), then the
//! `push` of the default branch, whose 202 the time is taken from; the deploy then renders the
//! change, applies all objects and waits for health. The first deploy (mirror creation, the first render) is reported apart
//! ("cold") and not in the medians. Needs git.

#[path = "../tests/build_world/mod.rs"]
mod build_world;
#[path = "../tests/command_world/mod.rs"]
mod command_world;
#[path = "../tests/deploy_world/mod.rs"]
mod deploy_world;
#[path = "../tests/git_fixtures/mod.rs"]
mod git_fixtures;
#[path = "large_environment/mod.rs"]
mod large_environment;
#[path = "../tests/manifests/mod.rs"]
mod manifests;
#[path = "measure/mod.rs"]
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use deploy_world::{DeployWorld, DEV_NS, REPO};
use large_environment::RESOURCES;
use manifests::config_map_in;
use measure::{from_env, ms, percentile, until};
use support::payloads::PullEvent;

const CONFIG: &str = "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
    health_timeout: 5m
  prod:
    path: envs/prod
    namespace: team-prod
    drift_interval: 0
";

fn applies(world: &DeployWorld) -> usize {
    RESOURCES
        .iter()
        .map(|r| world.kube.requests("apply", r))
        .sum()
}

/// One merge: a pull request changing one ConfigMap, merged, its webhooks delivered. The time
/// from the push's 202 to the first apply request, and from that to the last of `objects`.
async fn merge_round(world: &DeployWorld, number: u64, objects: usize) -> (Duration, Duration) {
    let branch = format!("change-{number}");
    world.propose(number, &branch, |w| {
        w.write(
            "envs/dev/part-0002.yaml",
            &config_map_in(DEV_NS, "part-0002", "value", &number.to_string()),
        );
    });
    let base = world.main_head();
    let merge = world.fake.merge_pull(REPO, number);
    let pull = world
        .fake
        .pull(REPO, number)
        .expect("the pull request exists");
    let payload = PullEvent::new("closed", REPO, &world.bare, number)
        .base("main", &base)
        .head(&branch, pull.head_sha.as_deref().unwrap_or_default())
        .merged(&merge)
        .payload();
    let (status, body) = world
        .server()
        .deliver("pull_request", &format!("bench-merge-{number}"), &payload)
        .await;
    assert_eq!(status, 202, "{body}");
    let push = build_world::Push {
        repository: REPO.to_string(),
        clone_url: support::file_url(&world.bare),
        git_ref: "refs/heads/main".to_string(),
        before: base.clone(),
        after: merge.clone(),
        message: "a change".to_string(),
        deleted: false,
        fork: false,
    };
    let before = applies(world);
    let (status, body) = world
        .server()
        .deliver("push", &format!("bench-push-{number}"), &push.payload())
        .await;
    let accepted = Instant::now();
    assert_eq!(status, 202, "{body}");
    let first = until("the first apply", || applies(world) > before).await;
    let last = until("the last apply", || applies(world) >= before + objects).await;
    let check = world.deployed(&merge, "dev").await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    (first - accepted, last - first)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let runs: u64 = from_env("RUNS", 20);
    let objects: usize = from_env("OBJECTS", 1000);
    let world = DeployWorld::with_config(CONFIG).await;
    // The environment grows to `objects` on main, then deploys once (cold).
    world.commit_on("main", "a large environment", |w| {
        large_environment::write(w, "dev", DEV_NS, objects)
    });
    let (cold_first, cold_apply) = merge_round(&world, 1, objects).await;
    let mut to_first = Vec::new();
    let mut apply = Vec::new();
    for round in 0..runs {
        let (first, all) = merge_round(&world, 2 + round, objects).await;
        to_first.push(first);
        apply.push(all);
    }
    to_first.sort();
    apply.sort();
    let median_apply = percentile(&apply, 0.5);
    println!(
        "deploy latency, {objects} objects, {runs} merges (cold: first apply {}, apply {})",
        ms(cold_first),
        ms(cold_apply)
    );
    println!(
        "merge webhook accepted -> first apply request: median {}, p90 {}, min {}, max {}",
        ms(percentile(&to_first, 0.5)),
        ms(percentile(&to_first, 0.9)),
        ms(to_first[0]),
        ms(to_first[to_first.len() - 1])
    );
    println!(
        "apply of {objects} objects (first request to last): median {}, p90 {} ({:.0} objects/s at the median)",
        ms(median_apply),
        ms(percentile(&apply, 0.9)),
        objects as f64 / median_apply.as_secs_f64().max(1e-9)
    );
}

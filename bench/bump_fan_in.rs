//! Bump fan-in: fifty builds of fifty different images succeed at the same moment, all
//! bumping `dev` of one config repo. Measures the time from the fifty orders being handed to
//! one `Bumper` to the last of them landing on the default branch, and how many commits they
//! took (the lane coalesces orders that wait into one commit).
//!
//!     cargo bench --bench bump_fan_in            # 5 runs (RUNS=N for another count)
//!
//! Each run builds a fresh config repo (fifty Deployments in `envs/dev`) in a real bare
//! repository behind the fake GitHub of the test suite, over loopback, with slipway's real
//! GitHub client and mirror cache; the first fetch of the mirror is part of the measured time.
//! Prints every run and the median. Needs git.

#[path = "../tests/bump_world/mod.rs"]
mod bump_world;
#[path = "../tests/git_fixtures/mod.rs"]
mod git_fixtures;
#[path = "../tests/manifests/mod.rs"]
mod manifests;
#[path = "measure/mod.rs"]
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use bump_world::{ConfigRepo, World};
use measure::{from_env, ms};
use slipway::pipelines::bumps::BumpLanded;

const IMAGES: usize = 50;

/// One fan-in: the time to the last landed bump, and the commits made.
async fn fan_in(run: usize) -> (Duration, usize) {
    let names: Vec<String> = (0..IMAGES).map(|n| format!("svc-{n:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let world = World::new(ConfigRepo::with_services(&refs)).await;
    let before = world.repo.main();

    let started = Instant::now();
    let landings: Vec<_> = names
        .iter()
        .map(|name| {
            let bumper = world.bumper.clone();
            let order = world.order("dev", name, &format!("{name}-{run}"));
            tokio::spawn(async move { bumper.land(order).await })
        })
        .collect();
    for landing in landings {
        match landing.await.expect("the landing task ran") {
            Ok(BumpLanded::Committed { .. }) => {}
            other => panic!("a bump did not land: {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    let commits = world.repo.commits(&format!("{before}..main")).len();
    (elapsed, commits)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let runs: usize = from_env("RUNS", 5).max(1);
    let mut times = Vec::with_capacity(runs);
    println!("bump fan-in: {IMAGES} concurrent builds, one config repo, {runs} runs");
    for run in 1..=runs {
        let (elapsed, commits) = fan_in(run).await;
        println!(
            "  run {run}: last bump landed after {}, {commits} commits",
            ms(elapsed)
        );
        times.push(elapsed);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "median time to the last landed bump: {} (min {}, max {})",
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
}

//! What slipway adds to a build, end to end on the fakes: from a `push` webhook being accepted
//! (slipway's 202) to the build Job created on the cluster, and from the Job's success to the
//! bump commit landed on the config repo's `main`.
//!
//!     cargo bench --bench build_overhead            # 20 pushes (RUNS=N for another count)
//!
//! slipway runs in-process on loopback (release build) between the fake GitHub of the test
//! suite (real bare repositories for the app and the config repo) and the fake Kubernetes API
//! server, which the real `kube::Client` talks to over HTTP. Each push is a new commit on the
//! app repo's `main`; the bench plays the Job controller (a pod, Running, then the Job
//! Succeeded) and waits for the bump. The first push also creates both mirrors: it is reported
//! apart ("cold") and not in the medians. The build itself (minutes of Kaniko) is not slipway's
//! and is not measured. Needs git.

#[path = "../tests/build_world/mod.rs"]
mod build_world;
#[path = "../tests/command_world/mod.rs"]
mod command_world;
#[path = "../tests/git_fixtures/mod.rs"]
mod git_fixtures;
#[path = "../tests/manifests/mod.rs"]
mod manifests;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use build_world::{BuildWorld, Push, NAMESPACE};
use serde_json::json;
use support::fake_kube::JobOutcome;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Polls `ready` every half millisecond until it holds; how long that took.
async fn until(what: &str, mut ready: impl FnMut() -> bool) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if ready() {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let world = BuildWorld::new().await;
    let mut to_job = Vec::new();
    let mut to_bump = Vec::new();
    for run in 0..=runs {
        let sha = world.app.push("main", &format!("change {run}"), |w| {
            w.write("src/main.rs", &format!("// change {run}\nfn main() {{}}\n"));
        });
        let payload = Push::branch(&world.app, "main", &sha).payload();
        let (status, body) = world
            .server()
            .deliver("push", &format!("bench-push-{run}"), &payload)
            .await;
        assert_eq!(status, 202, "{body}");
        let accepted = Instant::now();
        let created = until("the Job", || {
            world
                .kube
                .objects("jobs", NAMESPACE)
                .iter()
                .any(|job| job["metadata"]["labels"]["slipway.dev/sha"] == json!(sha))
        })
        .await;
        let job = world.job_for(&sha).await["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        let pod = world.kube.start_job_pod(NAMESPACE, &job);
        world.kube.set_pod_phase(NAMESPACE, &pod, "Running");
        world
            .check_run_when(&sha, "in progress", |r| r.status == "in_progress")
            .await;

        let config_before = world.config_head();
        world.kube.finish_job(NAMESPACE, &job, JobOutcome::Succeeded);
        let succeeded = Instant::now();
        let landed = until("the bump", || world.config_head() != config_before).await;
        world.completed(&sha).await;

        let (job_ms, bump_ms) = (created - accepted, landed - succeeded);
        if run == 0 {
            println!("cold (mirrors created): push → Job {}, Job success → bump {}", ms(job_ms), ms(bump_ms));
        } else {
            to_job.push(job_ms);
            to_bump.push(bump_ms);
        }
    }
    to_job.sort();
    to_bump.sort();
    println!("{runs} pushes, release build, fakes on loopback:");
    for (what, samples) in [
        ("push accepted → Job created", &to_job),
        ("Job succeeded → bump commit landed", &to_bump),
    ] {
        println!(
            "  {what}: median {}, p90 {}, min {}, max {}",
            ms(percentile(samples, 0.5)),
            ms(percentile(samples, 0.9)),
            ms(samples[0]),
            ms(samples[samples.len() - 1]),
        );
    }
}

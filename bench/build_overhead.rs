//! What slipway adds to a build, end to end on the fakes: from a `push` webhook being accepted
//! (slipway's 202) to the build Job created on the cluster, and from the Job's success to the
//! bump commit landed on the config repo's `main`; then the fan-in: 50 builds of 50 different
//! images (50 app repos) succeeding at the same moment, all bumping one config repo.
//!
//!     cargo bench --bench build_overhead   # 20 pushes, then 50 at once (RUNS=N, FAN_IN=N)
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
#[path = "measure/mod.rs"]
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use build_world::{AppRepo, BuildWorld, Push, CONFIG_REPO, NAMESPACE};
use git_fixtures::TestRepo;
use measure::{from_env, ms, percentile, until};
use serde_json::json;
use support::fake_kube::{FakeKube, JobOutcome};
use support::payloads::INSTALLATION_ID;
use support::{FakeGitHub, TestServer};

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    overhead().await;
    let builds: usize = from_env("FAN_IN", 50);
    fan_in(builds).await;
}

async fn overhead() {
    let runs: usize = from_env("RUNS", 20);
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
        // The push step reports the digest, then the Job succeeds: what a bump waits for.
        world.push_succeeds(&job);
        let succeeded = Instant::now();
        let landed = until("the bump", || world.config_head() != config_before).await;
        world.completed(&sha).await;

        let (job_ms, bump_ms) = (created - accepted, landed - succeeded);
        if run == 0 {
            println!(
                "cold (mirrors created): push → Job {}, Job success → bump {}",
                ms(job_ms),
                ms(bump_ms)
            );
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

/// `builds` app repos, one image each, all deployed to `dev` of one config repo; every build's
/// Job succeeds at the same moment. Times the last bump, and checks that none was lost.
async fn fan_in(builds: usize) {
    let app_name = |n: usize| format!("app-{n:02}");
    let image = |n: usize| format!("registry.example.com/team/{}", app_name(n));
    let config = TestRepo::new();
    // Each app repo's builds may bump its own image.
    let bumped_by: String = (0..builds)
        .map(|n| format!("      {}: [acme/{}]\n", image(n), app_name(n)))
        .collect();
    config.write(
        ".github/slipway.yml",
        &format!("environments:\n  dev:\n    path: envs/dev\n    bumped_by:\n{bumped_by}"),
    );
    for n in 0..builds {
        config.write(
            &format!("envs/dev/{}.yaml", app_name(n)),
            &format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n    spec:\n      containers:\n        - name: {name}\n          image: {image}:1.0.0\n",
                name = app_name(n),
                image = image(n)
            ),
        );
    }
    let config_before = config.commit("fifty services");
    let (_config_dir, config_bare) = config.bare_clone();
    let apps: Vec<AppRepo> = (0..builds)
        .map(|n| {
            AppRepo::with_config(&format!(
                "build:\n  image: {}\ndeploy:\n  repo: {CONFIG_REPO}\n  environment: dev\n",
                image(n)
            ))
        })
        .collect();
    let mut fake = FakeGitHub::builder()
        .with_installation(INSTALLATION_ID)
        .with_repo(CONFIG_REPO, &config_bare)
        .with_installation_on(CONFIG_REPO, INSTALLATION_ID);
    for (n, app) in apps.iter().enumerate() {
        let repo = format!("acme/{}", app_name(n));
        fake = fake
            .with_repo(&repo, &app.bare)
            .with_installation_on(&repo, INSTALLATION_ID);
    }
    let fake = fake.start().await;
    let kube = FakeKube::builder().namespace(NAMESPACE).start().await;
    let server = TestServer::builder()
        .github(&fake)
        .kube(&kube)
        .var("BUILD_CONCURRENCY", &builds.to_string())
        .start()
        .await;

    let mut shas = Vec::new();
    for (n, app) in apps.iter().enumerate() {
        let sha = app.head();
        let mut push = Push::branch(app, "main", &sha);
        push.repository = format!("acme/{}", app_name(n));
        let id = format!("fan-in-{n}");
        let (status, body) = server.deliver("push", &id, &push.payload()).await;
        assert_eq!(status, 202, "{body}");
        shas.push(sha);
    }
    until("every build Job", || {
        kube.names("jobs", NAMESPACE).len() == builds
    })
    .await;
    let mut pods = Vec::new();
    for job in kube.names("jobs", NAMESPACE) {
        let pod = kube.start_job_pod(NAMESPACE, &job);
        kube.set_pod_phase(NAMESPACE, &pod, "Running");
        pods.push((job, pod));
    }
    until("every build running", || {
        fake.state()
            .check_runs
            .iter()
            .filter(|r| r.status == "in_progress")
            .count()
            == builds
    })
    .await;

    let succeeded = Instant::now();
    for (job, pod) in &pods {
        let digest = BuildWorld::digest_of(job);
        kube.write_termination_log(NAMESPACE, pod, "push", &digest);
        kube.finish_job(NAMESPACE, job, JobOutcome::Succeeded);
    }
    let last = until("every bump", || {
        fake.state()
            .check_runs
            .iter()
            .filter(|r| r.status == "completed")
            .count()
            == builds
    })
    .await;

    let show = |args: &[&str]| {
        git_fixtures::git_in(
            config.path(),
            &[&["--git-dir", config_bare.to_str().unwrap()], args].concat(),
        )
    };
    let mut lost = Vec::new();
    for (n, sha) in shas.iter().enumerate() {
        let file = show(&["show", &format!("main:envs/dev/{}.yaml", app_name(n))]);
        if !file.contains(&format!("{}:{sha}", image(n))) {
            lost.push(app_name(n));
        }
    }
    let commits: usize = show(&["rev-list", "--count", &format!("{config_before}..main")])
        .parse()
        .unwrap_or(0);
    let not_success = fake
        .state()
        .check_runs
        .iter()
        .filter(|r| r.conclusion.as_deref() != Some("success"))
        .count();
    println!(
        "fan-in: {builds} builds of {builds} images succeed at once → last bump landed after {} ({commits} commits, {} bumps lost, {not_success} check runs not successful)",
        ms(last - succeeded),
        lost.len()
    );
    assert!(lost.is_empty(), "lost bumps: {lost:?}");
}

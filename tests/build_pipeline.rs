//! Builds, end to end: a push to the app repo becomes a build Job on the (fake) cluster, the
//! Job's life becomes the `slipway/build` check run, and a green build of `main` becomes a
//! commit of the new tag in the config repo.

mod build_world;
mod command_world;
mod git_fixtures;
mod manifests;
mod support;

use std::time::Duration;

use build_world::{AppRepo, BuildWorld, Push, APP, CONFIG_REPO, IMAGE, NAMESPACE};
use serde_json::{json, Value};
use support::fake_kube::JobOutcome;

/// Plays the Job controller and the kubelet up to a running build pod; returns the pod.
fn run_pod(world: &BuildWorld, job: &str) -> String {
    let pod = world.kube.start_job_pod(NAMESPACE, job);
    world.kube.set_pod_phase(NAMESPACE, &pod, "Running");
    pod
}

fn job_name(job: &Value) -> String {
    job["metadata"]["name"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_push_to_main_builds_reports_and_bumps_the_config_repo() {
    let world = BuildWorld::new().await;
    let config_before = world.config_head();
    let sha = world.push("main", "feat: faster startup").await;

    let job = world.job_for(&sha).await;
    let queued = world
        .check_run_when(&sha, "queued", |run| run.status == "queued")
        .await;
    assert_eq!(
        queued.title.as_deref(),
        Some("Queued: waiting for a build slot")
    );
    assert_eq!(
        job["metadata"]["labels"]["slipway.dev/repo"],
        json!("acme.api")
    );
    assert!(job["metadata"]["labels"]["slipway.dev/run"].is_string());
    // The Dockerfile runs in the `build` init step; the push step pushes what it built.
    let args = &job["spec"]["template"]["spec"]["initContainers"][1]["args"];
    assert!(
        args.as_array()
            .unwrap()
            .contains(&json!(format!("--destination={IMAGE}:{sha}"))),
        "{args}"
    );
    assert!(
        args.as_array()
            .unwrap()
            .contains(&json!("--build-arg=RUST_VERSION=1.95")),
        "{args}"
    );

    let job = job_name(&job);
    let pod = run_pod(&world, &job);
    let running = world
        .check_run_when(&sha, "in progress", |run| run.status == "in_progress")
        .await;
    assert_eq!(
        running.title.as_deref(),
        Some(format!("Building {IMAGE}").as_str())
    );

    world.kube.append_container_log(
        NAMESPACE,
        &pod,
        "build",
        &["INFO[0001] Taking snapshot of full filesystem", "done"],
    );
    let digest = world.push_succeeds(&job);
    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("success"), "{done:#?}");
    assert_eq!(done.title.as_deref(), Some("Built and bumped in dev"));
    assert_eq!(
        done.status_history,
        vec!["queued", "in_progress", "completed"],
        "the check run went queued → in progress → completed"
    );
    let summary = done.summary.clone().unwrap();
    assert!(
        summary.contains("Bumped `dev` in `acme/config`"),
        "{summary}"
    );
    assert!(done
        .text
        .clone()
        .unwrap()
        .contains("INFO[0001] Taking snapshot of full filesystem"));

    // The bump: one commit on the config repo's main, on top of what was there, changing
    // exactly the one line that names the image.
    let bumped = world.config_moved(&config_before).await;
    assert_eq!(
        world.config.git(&["rev-parse", &format!("{bumped}^")]),
        config_before
    );
    assert_eq!(
        world.config.changed_paths(&config_before, &bumped),
        vec!["envs/dev/api.yaml"]
    );
    let diff = world.config.git(&[
        "diff",
        "-U0",
        &config_before,
        &bumped,
        "--",
        "envs/dev/api.yaml",
    ]);
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(
        changed,
        vec![
            "-          image: \"registry.example.com/team/api:1.5.0\"".to_string(),
            format!("+          image: \"registry.example.com/team/api:{sha}@{digest}\""),
        ]
    );
    let message = world.config.git(&["log", "-1", "--format=%B", &bumped]);
    assert!(
        message.starts_with(&format!(
            "slipway: bump {IMAGE} 1.5.0 → {sha}@{digest} in dev"
        )),
        "{message}"
    );
    assert!(message.contains(&sha[..7]), "{message}");
    assert_eq!(
        done.details_url.as_deref().map(|u| u.contains(&bumped)),
        Some(true)
    );
}

#[tokio::test]
async fn the_token_lives_only_in_the_builds_secret_and_never_in_a_check_run() {
    let world = BuildWorld::new().await;
    let sha = world.push("main", "fix: a bug").await;
    let job = world.job_for(&sha).await;
    let job_name = job_name(&job);

    // The Secret is made first, then the Job, then the Job becomes the Secret's owner.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let secret = loop {
        let secret = world
            .kube
            .objects("secrets", NAMESPACE)
            .into_iter()
            .find(|s| s["metadata"]["name"] == json!(format!("{job_name}-source")))
            .expect("the source Secret exists");
        if secret["metadata"]["ownerReferences"].is_array() {
            break secret;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Secret never got its owner"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let token = secret["stringData"]["token"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            use base64::Engine;
            secret["data"]["token"].as_str().map(|b64| {
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap(),
                )
                .unwrap()
            })
        })
        .expect("the Secret holds the token");
    assert!(token.starts_with("ghs_"), "an installation token");
    assert_eq!(
        secret["metadata"]["ownerReferences"][0]["name"],
        json!(job_name)
    );
    assert!(
        !job.to_string().contains(&token),
        "the Job spec holds no token"
    );

    // The token was narrowed to reading this repository.
    let minted = world
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/access_tokens"))
        .find(|r| r.body["repositories"] == json!(["api"]))
        .expect("a token for the app repo alone");
    assert_eq!(minted.body["permissions"], json!({ "contents": "read" }));

    let pod = run_pod(&world, &job_name);
    let leak = format!("remote: https://x-access-token:{token}@github.com/acme/api");
    world
        .kube
        .append_pod_log(NAMESPACE, &pod, &["cloning", &leak, "error: exit 1"]);
    world
        .kube
        .finish_job(NAMESPACE, &job_name, JobOutcome::BackoffLimitExceeded);
    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("failure"));
    let shown = format!("{done:?}");
    assert!(!shown.contains(&token), "{shown}");
    assert!(done.text.unwrap().contains("x-access-token:***@github.com"));
}

#[tokio::test]
async fn a_failed_build_shows_the_last_hundred_lines_of_its_log() {
    let world = BuildWorld::new().await;
    let config_before = world.config_head();
    let sha = world.push("main", "break the build").await;
    let (job, pod) = world.running(&sha).await;
    let lines: Vec<String> = (1..=150).map(|i| format!("step {i}")).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    world.kube.append_pod_log(NAMESPACE, &pod, &lines);
    world
        .kube
        .finish_job(NAMESPACE, &job, JobOutcome::BackoffLimitExceeded);

    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("failure"));
    assert_eq!(done.title.as_deref(), Some("Build failed"));
    let text = done.text.unwrap();
    assert!(
        text.contains("step 150") && text.contains("step 51\n"),
        "{text}"
    );
    assert!(!text.contains("step 50\n"), "{text}");
    assert!(done.summary.unwrap().contains("backoff limit"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        world.config_head(),
        config_before,
        "a failed build bumps nothing"
    );
}

#[tokio::test]
async fn a_build_past_its_deadline_times_out() {
    let world = BuildWorld::new().await;
    let sha = world.push("main", "slow").await;
    let (job, _) = world.running(&sha).await;
    world
        .kube
        .finish_job(NAMESPACE, &job, JobOutcome::DeadlineExceeded);
    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("timed_out"));
    assert_eq!(done.title.as_deref(), Some("Build timed out after 30m"));
}

#[tokio::test]
async fn a_newer_push_supersedes_the_running_build() {
    let world = BuildWorld::new().await;
    let first = world.push("main", "first").await;
    let (first_job, _) = world.running(&first).await;

    let second = world.push("main", "second").await;
    let cancelled = world.completed(&first).await;
    assert_eq!(cancelled.conclusion.as_deref(), Some("cancelled"));
    assert!(cancelled
        .summary
        .unwrap()
        .contains(&format!("superseded by {}", &second[..7])),);
    world.job_for(&second).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while world.jobs().contains(&first_job) {
        assert!(
            std::time::Instant::now() < deadline,
            "the superseded Job stays"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_same_push_delivered_twice_creates_one_job_and_one_check_run() {
    let world = BuildWorld::new().await;
    let sha = world.app.push("main", "once", |w| {
        w.write("src/lib.rs", "pub fn once() {}\n");
    });
    let payload = Push::branch(&world.app, "main", &sha).payload();
    world.deliver("push", &payload).await;
    world.job_for(&sha).await;
    // GitHub's "redeliver" keeps the GUID (the queue dedupes it); a second delivery of the same
    // push under another GUID must not build again either.
    world.deliver("push", &payload).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(world.jobs().len(), 1, "{:?}", world.jobs());
    assert_eq!(world.check_runs_on(&sha).len(), 1);
}

#[tokio::test]
async fn a_build_running_across_a_restart_still_completes_its_check_run() {
    let mut world = BuildWorld::new().await;
    let sha = world.push("main", "survive a restart").await;
    let (job, _) = world.running(&sha).await;

    world.restart().await;
    world.push_succeeds(&job);
    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("success"));
    assert_eq!(world.jobs(), vec![job], "no second Job after the restart");
}

#[tokio::test]
async fn a_re_requested_check_run_builds_the_commit_again_as_a_new_attempt() {
    let world = BuildWorld::new().await;
    let sha = world.push("release/1.0", "release").await;
    let (first, _) = world.running(&sha).await;
    world
        .kube
        .finish_job(NAMESPACE, &first, JobOutcome::BackoffLimitExceeded);
    let failed = world.completed(&sha).await;

    let payload = build_world::rerequest_payload(&world.app, &failed, "release/1.0");
    world.deliver("check_run", &payload).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let second = loop {
        let jobs = world.jobs();
        if let Some(other) = jobs.iter().find(|name| **name != first) {
            break other.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no second Job: {jobs:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let runs = world.check_runs_on(&sha);
    assert_eq!(runs.len(), 2, "a new check run for the re-run");
    assert_eq!(runs[1].status, "queued");
    run_pod(&world, &second);
    world.push_succeeds(&second);
    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("success"));
    assert!(
        done.summary
            .unwrap()
            .contains("Only builds of the default branch"),
        "a release branch builds but does not bump"
    );
}

#[tokio::test]
async fn a_hostile_branch_name_and_build_args_stay_values_in_the_job() {
    let hostile_config = "\
build:
  image: registry.example.com/team/api
  branches: [\"**\"]
  args:
    GREETING: \"$(id) \\\"}} ; rm -rf /\"
";
    let world = BuildWorld::with(
        AppRepo::with_config(hostile_config),
        command_world::ConfigRepo::new(),
    )
    .await;
    let branch = "x\"}}{{7+7}}$(id)";
    let sha = world.push(branch, "hostile").await;
    let job = world.job_for(&sha).await;
    let container = &job["spec"]["template"]["spec"]["initContainers"][1];
    assert_eq!(container["name"], json!("build"));
    assert!(
        container.get("command").is_none(),
        "no command was injected"
    );
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        vec![
            "--context=dir:///workspace/.",
            "--dockerfile=/workspace/Dockerfile",
            "--no-push",
            "--tar-path=/image/image.tar",
            &format!(
                "--destination={IMAGE}:{}",
                slipway::cluster::names::branch_tag(branch)
            ),
            "--build-arg=GREETING=$$(id) \"}} ; rm -rf /",
        ]
    );
    assert_eq!(
        job["metadata"]["annotations"]["slipway.dev/branch"],
        json!(branch)
    );
}

#[tokio::test]
async fn tag_delete_fork_and_unlisted_branch_pushes_build_nothing() {
    let world = BuildWorld::new().await;
    let sha = world.app.push("main", "base", |_| {});
    let feature = world.app.push("feature/x", "not built", |w| {
        w.write("x", "x\n");
    });
    let mut tag = Push::branch(&world.app, "main", &sha);
    tag.git_ref = "refs/tags/v1.0.0".into();
    let mut deleted = Push::branch(&world.app, "old", &"0".repeat(40));
    deleted.before = sha.clone();
    deleted.deleted = true;
    let mut fork = Push::branch(&world.app, "main", &sha);
    fork.fork = true;
    fork.repository = "mallory/api".into();
    let unlisted = Push::branch(&world.app, "feature/x", &feature);
    for push in [tag, deleted, fork, unlisted] {
        world.deliver("push", &push.payload()).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(world.jobs().is_empty(), "{:?}", world.jobs());
    assert!(world.fake.check_runs(APP).is_empty());
}

#[tokio::test]
async fn a_locked_environment_gets_no_bump_and_the_check_run_says_so() {
    let world = BuildWorld::new().await;
    world
        .server()
        .store()
        .lock_environment(CONFIG_REPO, "dev", "mona", Some("release freeze"))
        .await
        .unwrap();
    let before = world.config_head();
    let sha = world.push("main", "during the freeze").await;
    let (job, _) = world.running(&sha).await;
    world.push_succeeds(&job);
    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("success"));
    assert_eq!(done.title.as_deref(), Some("Built; dev is locked, no bump"));
    assert!(done.summary.unwrap().contains("release freeze"));
    assert_eq!(world.config_head(), before, "no commit");
}

#[tokio::test]
async fn a_gated_environment_gets_a_rolling_pull_request_instead_of_a_commit() {
    let gated = command_world::CONFIG.replace(
        "  dev:\n    path: envs/dev\n",
        "  dev:\n    path: envs/dev\n    required_approvals: 1\n",
    );
    let world = BuildWorld::with(
        AppRepo::new(),
        command_world::ConfigRepo::with_config(&gated),
    )
    .await;
    let before = world.config_head();
    let sha = world.push("main", "gated").await;
    let (job, _) = world.running(&sha).await;
    world.push_succeeds(&job);
    let done = world.completed(&sha).await;
    assert_eq!(done.title.as_deref(), Some("Built; bump proposed for dev"));
    assert_eq!(world.config_head(), before, "main is not committed to");
    let pulls = world.fake.pulls(CONFIG_REPO);
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].head_ref, "slipway/bump/dev/api");
    assert!(done
        .details_url
        .unwrap()
        .contains(&format!("/pull/{}", pulls[0].number)));
}

#[tokio::test]
async fn without_a_cluster_the_build_completes_neutral_saying_why() {
    let app = AppRepo::new();
    let config = command_world::ConfigRepo::new();
    let fake = support::FakeGitHub::builder()
        .with_installation(support::payloads::INSTALLATION_ID)
        .with_repo(APP, &app.bare)
        .with_repo(CONFIG_REPO, &config.bare)
        .with_installation_on(CONFIG_REPO, support::payloads::INSTALLATION_ID)
        .start()
        .await;
    let server = support::TestServer::builder().github(&fake).start().await;
    let sha = app.push("main", "no cluster", |w| {
        w.write("x", "x\n");
    });
    let (status, _) = server
        .deliver("push", "p-1", &Push::branch(&app, "main", &sha).payload())
        .await;
    assert_eq!(status, 202);
    server
        .wait_for_state("p-1", "done", Duration::from_secs(30))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let run = loop {
        let runs = fake.check_runs(APP);
        if let Some(run) = runs.iter().find(|r| r.status == "completed") {
            break run.clone();
        }
        assert!(std::time::Instant::now() < deadline, "{runs:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(run.conclusion.as_deref(), Some("neutral"));
    assert_eq!(
        run.title.as_deref(),
        Some("Not built: no cluster configured")
    );
    assert!(run.summary.unwrap().contains(support::NO_TEST_CLUSTER));
}

#[tokio::test]
async fn a_broken_app_config_on_the_default_branch_fails_the_check_at_the_line() {
    let world = BuildWorld::new().await;
    let sha = world.app.push("main", "typo", |w| {
        w.write(
            ".github/slipway.yml",
            "build:\n  image: registry.example.com/team/api\n  dockerfle: Dockerfile\n",
        );
    });
    world
        .deliver("push", &Push::branch(&world.app, "main", &sha).payload())
        .await;
    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        done.title.as_deref(),
        Some(".github/slipway.yml does not parse")
    );
    assert_eq!(done.annotations.len(), 1);
    assert_eq!(done.annotations[0]["start_line"], json!(3));
    assert!(world.jobs().is_empty());
}

#[tokio::test]
async fn a_build_of_another_repo_that_names_this_image_is_not_bumped_and_says_who_decides() {
    // acme/evil, also on the App's installation, builds acme/api's image and deploys it to
    // acme/config's dev, which lists only acme/api for that image.
    let world = BuildWorld::with_app_named(
        "acme/evil",
        AppRepo::new(),
        command_world::ConfigRepo::new(),
    )
    .await;
    let before = world.config_head();
    let sha = world.push("main", "run our api in dev").await;
    let (job, _) = world.running(&sha).await;
    world.push_succeeds(&job);

    let done = world.completed(&sha).await;
    assert_eq!(
        done.conclusion.as_deref(),
        Some("success"),
        "the build itself is fine"
    );
    assert_eq!(
        done.title.as_deref(),
        Some("Built; not bumped: acme/config does not allow it")
    );
    let summary = done.summary.unwrap();
    assert!(
        summary.contains(
            "Not bumped: acme/config's dev does not allow builds of acme/evil to set \
             `registry.example.com/team/api`; its `.github/slipway.yml` lists who may \
             (`bumped_by:`)."
        ),
        "{summary}"
    );
    assert_eq!(world.config_head(), before, "nothing committed");
    assert!(world.fake.pulls(CONFIG_REPO).is_empty(), "nothing proposed");
    assert_eq!(
        world
            .config
            .git(&["for-each-ref", "--format=%(refname)", "refs/heads/"]),
        "refs/heads/change\nrefs/heads/main",
        "no branch made"
    );
}

/// Builds `message` on `main` to the end; returns its sha and completed check run.
async fn build_main(
    world: &BuildWorld,
    message: &str,
) -> (String, support::fake_github::FakeCheckRun) {
    let sha = world.push("main", message).await;
    let (job, _) = world.running(&sha).await;
    world.push_succeeds(&job);
    let done = world.completed(&sha).await;
    (sha, done)
}

#[tokio::test]
async fn a_re_run_of_an_older_build_does_not_roll_the_environment_back() {
    let world = BuildWorld::new().await;
    let (a, built_a) = build_main(&world, "a").await;
    assert_eq!(built_a.title.as_deref(), Some("Built and bumped in dev"));
    let (b, built_b) = build_main(&world, "b").await;
    assert_eq!(built_b.title.as_deref(), Some("Built and bumped in dev"));
    let after_b = world.config_head();
    assert!(world
        .config
        .show(&after_b, "envs/dev/api.yaml")
        .contains(&format!("{IMAGE}:{b}")));

    // Someone presses Re-run on A's (green) check run.
    world.rerun(&built_a).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let rebuild = loop {
        let again = world
            .kube
            .objects("jobs", NAMESPACE)
            .into_iter()
            .find(|job| {
                job["metadata"]["labels"]["slipway.dev/sha"] == json!(a)
                    && job["status"]["succeeded"].is_null()
            });
        if let Some(job) = again {
            break job_name(&job);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "A was not built again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    run_pod(&world, &rebuild);
    world.push_succeeds(&rebuild);
    let done = world
        .check_run_when(&a, "the re-run completed", |run| {
            run.id != built_a.id && run.status == "completed"
        })
        .await;

    assert_eq!(done.conclusion.as_deref(), Some("success"));
    assert_eq!(
        done.title.as_deref(),
        Some("Built; not bumped: dev runs a newer commit")
    );
    let summary = done.summary.unwrap();
    assert!(
        summary.contains(&format!(
            "Not bumped: dev runs `{}`, built from a newer commit; going back is `/rollback`, \
             a reviewed change.",
            &b[..7]
        )),
        "{summary}"
    );
    assert_eq!(world.config_head(), after_b, "dev still runs B");
}

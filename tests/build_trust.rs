//! What deploys is what was built from reviewed code: the attacks of someone with write access
//! to one app repo on the build side, each through the real webhook into slipway against the
//! fake GitHub and the fake Kubernetes API server.
//!
//! - a branch named like a deployed tag cannot overwrite it;
//! - a build without a valid digest does not bump;
//! - a pushed branch cannot widen `build.branches`, retarget `build.image` or change `deploy:`;
//! - the registry credential never reaches a build log shown in a check run;
//! - the source token dies once the source is fetched, and its Secret when the Job ends.

mod build_world;
mod command_world;
mod git_fixtures;
mod manifests;
mod support;

use std::time::{Duration, Instant};

use base64::Engine;
use build_world::{AppRepo, BuildWorld, Push, APP, IMAGE, NAMESPACE, WAIT};
use serde_json::{json, Value};
use support::fake_kube::JobOutcome;

/// The app repo's configuration with `branches` built: everything, so branch names are the
/// attacker's to choose.
const EVERY_BRANCH: &str = "\
build:
  image: registry.example.com/team/api
  branches: [\"**\"]
deploy:
  repo: acme/config
  environment: dev
";

/// The one container that runs the Dockerfile.
fn build_step(job: &Value) -> Value {
    job["spec"]["template"]["spec"]["initContainers"]
        .as_array()
        .expect("init containers")
        .iter()
        .find(|c| c["name"] == "build")
        .cloned()
        .expect("a build step")
}

/// Every `--destination=` the build step names.
fn destinations(job: &Value) -> Vec<String> {
    build_step(job)["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(|a| a.as_str()?.strip_prefix("--destination="))
        .map(str::to_string)
        .collect()
}

fn push_destination(job: &Value) -> String {
    job["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|c| c["name"] == "push")
        .and_then(|c| {
            c["env"]
                .as_array()?
                .iter()
                .find(|e| e["name"] == "DESTINATION")
                .map(|e| e["value"].as_str().unwrap_or_default().to_string())
        })
        .expect("the push step's destination")
}

fn name_of(job: &Value) -> String {
    job["metadata"]["name"]
        .as_str()
        .expect("a name")
        .to_string()
}

/// Waits until `done` holds, failing with `what` after the scenario wait.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_branch_named_like_a_deployed_sha_or_main_never_pushes_their_tags() {
    let world = BuildWorld::with(
        AppRepo::with_config(EVERY_BRANCH),
        command_world::ConfigRepo::new(),
    )
    .await;
    let deployed = world.push("main", "deployed").await;
    let main_job = world.job_for(&deployed).await;
    assert_eq!(destinations(&main_job), [format!("{IMAGE}:{deployed}")]);
    assert_eq!(push_destination(&main_job), format!("{IMAGE}:{deployed}"));
    // Each build ends once looked at: the build slots (four) stay free for the next.
    let end = |job: &Value| {
        world
            .kube
            .finish_job(NAMESPACE, &name_of(job), JobOutcome::DeadlineExceeded)
    };
    end(&main_job);

    // The attacker names branches after the deployed commit and after `main`.
    for branch in [deployed.as_str(), "Main", "MAIN", "latest"] {
        let sha = world.push(branch, "overwrite the deployed tag").await;
        let job = world.job_for(&sha).await;
        let pushed = destinations(&job);
        assert_eq!(pushed.len(), 1, "{branch}: {pushed:?}");
        assert_eq!(push_destination(&job), pushed[0]);
        let tag = pushed[0]
            .strip_prefix(&format!("{IMAGE}:"))
            .expect("the configured image");
        assert!(tag.starts_with("branch"), "{branch} pushes {tag}");
        assert_ne!(tag, deployed, "{branch} pushes the deployed sha");
        assert_ne!(tag, sha, "{branch} pushes a sha tag");
        assert_ne!(tag, "main");
        assert_ne!(tag, "latest");
        end(&job);
    }
}

#[tokio::test]
async fn the_check_run_shows_the_digest_and_who_pushed_and_the_bump_uses_it() {
    let world = BuildWorld::new().await;
    let sha = world.app.push("main", "feat: digest", |w| {
        w.write("src/main.rs", "fn main() {}\n");
    });
    let payload = Push::branch(&world.app, "main", &sha).payload_as("mona");
    world.deliver("push", &payload).await;
    let (job, pod) = world.running(&sha).await;
    world
        .kube
        .append_container_log(NAMESPACE, &pod, "build", &["STEP 2/2: COPY . /app"]);
    let digest = world.push_succeeds(&job);
    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("success"), "{done:#?}");
    let summary = done.summary.clone().unwrap_or_default();
    assert!(
        summary.contains(&format!("Digest: `{digest}`")),
        "{summary}"
    );
    assert!(summary.contains("Requested by `mona`"), "{summary}");
    assert!(
        done.text
            .unwrap_or_default()
            .contains("STEP 2/2: COPY . /app"),
        "the log shown is the build step's"
    );
}

#[tokio::test]
async fn a_build_whose_digest_is_not_a_digest_is_not_bumped_and_says_why() {
    let world = BuildWorld::new().await;
    let before = world.config_head();
    let sha = world.push("main", "no digest").await;
    let (job, _) = world.running(&sha).await;
    // A push step that printed a reference instead of a digest.
    world.finish_with_termination_message(&job, &format!("{IMAGE}:latest"));
    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        done.title.as_deref(),
        Some("Built, but no digest: not bumped")
    );
    let summary = done.summary.unwrap_or_default();
    assert!(
        summary.contains("which is not sha256: followed by 64 hex digits")
            && summary.contains("so none was made for `dev` in `acme/config`"),
        "{summary}"
    );
    assert_eq!(world.config_head(), before, "nothing was bumped");
}

#[tokio::test]
async fn a_build_that_reports_no_digest_is_not_bumped() {
    let world = BuildWorld::new().await;
    let before = world.config_head();
    let sha = world.push("main", "silent push").await;
    let (job, _) = world.running(&sha).await;
    world
        .kube
        .finish_job(NAMESPACE, &job, JobOutcome::Succeeded);
    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("failure"));
    assert!(done
        .summary
        .unwrap_or_default()
        .contains("the build reported no digest of the pushed image"));
    assert_eq!(world.config_head(), before);
}

#[tokio::test]
async fn a_branch_that_adds_itself_to_the_built_branches_is_not_built() {
    let world = BuildWorld::new().await;
    let widened = build_world::APP_CONFIG.replace(
        "branches: [main, \"release/*\"]",
        "branches: [main, \"release/*\", \"feature/*\"]",
    );
    assert_ne!(widened, build_world::APP_CONFIG);
    let sha = world.app.push("feature/evil", "build me", |w| {
        w.write(".github/slipway.yml", &widened);
    });
    world
        .deliver(
            "push",
            &Push::branch(&world.app, "feature/evil", &sha).payload(),
        )
        .await;
    assert!(world.check_runs_on(&sha).is_empty(), "no check run");
    assert!(world.jobs().is_empty(), "no Job: {:?}", world.jobs());
}

#[tokio::test]
async fn a_branch_that_retargets_the_image_builds_the_default_branchs_image() {
    let world = BuildWorld::new().await;
    let retargeted = build_world::APP_CONFIG.replace(
        "image: registry.example.com/team/api",
        "image: registry.example.com/payments/api",
    );
    assert_ne!(retargeted, build_world::APP_CONFIG);
    let sha = world.app.push("release/2.0", "retarget", |w| {
        w.write(".github/slipway.yml", &retargeted);
        w.write("Dockerfile", "FROM scratch\nCOPY src /src\n");
    });
    world
        .deliver(
            "push",
            &Push::branch(&world.app, "release/2.0", &sha).payload(),
        )
        .await;
    let job = world.job_for(&sha).await;
    let text = job.to_string();
    assert!(!text.contains("payments"), "{text}");
    let pushed = destinations(&job);
    assert_eq!(pushed.len(), 1);
    assert!(
        pushed[0].starts_with(&format!("{IMAGE}:branch")),
        "{pushed:?}"
    );
    // The Dockerfile is the pushed commit's: that is the code being built.
    assert!(
        build_step(&job)["args"]
            .to_string()
            .contains("--dockerfile=/workspace/Dockerfile"),
        "{job}"
    );
}

#[tokio::test]
async fn a_branch_that_changes_deploy_cannot_choose_where_its_image_goes() {
    let world = BuildWorld::new().await;
    let before = world.config_head();
    let moved = build_world::APP_CONFIG.replace("environment: dev", "environment: prod");
    assert_ne!(moved, build_world::APP_CONFIG);
    let sha = world.app.push("release/3.0", "deploy me to prod", |w| {
        w.write(".github/slipway.yml", &moved);
    });
    world
        .deliver(
            "push",
            &Push::branch(&world.app, "release/3.0", &sha).payload(),
        )
        .await;
    let (job, _) = world.running(&sha).await;
    world.push_succeeds(&job);
    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("success"));
    let summary = done.summary.unwrap_or_default();
    assert!(
        summary.contains("(into `dev` in `acme/config`, as the default branch's `deploy:` says)"),
        "{summary}"
    );
    assert!(!summary.contains("prod"), "{summary}");
    assert_eq!(world.config_head(), before, "a branch bumps nothing");
}

#[tokio::test]
async fn registry_credentials_printed_by_a_build_show_as_stars() {
    let world = BuildWorld::new().await;
    let auth = base64::engine::general_purpose::STANDARD.encode("robot$ci:Reg1stry-Passw0rd");
    let config = format!(r#"{{"auths":{{"registry.example.com":{{"auth":"{auth}"}}}}}}"#);
    world.kube.write_as(
        "kubectl",
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "slipway-registry", "namespace": NAMESPACE},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64::engine::general_purpose::STANDARD.encode(&config)},
        }),
    );
    let sha = world.push("main", "RUN cat ~/.docker/config.json").await;
    let (job, pod) = world.running(&sha).await;
    let other = r#"{"auths": {"ghcr.io": {"auth": "b3RoZXI6dG9rZW4="}}}"#;
    world.kube.append_container_log(
        NAMESPACE,
        &pod,
        "build",
        &[
            "STEP 2/3: RUN cat /kaniko/.docker/config.json",
            &config,
            "user robot$ci password Reg1stry-Passw0rd",
            other,
            "STEP 3/3: COPY . /app",
        ],
    );
    world.push_succeeds(&job);
    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("success"));
    let shown = format!("{done:?}");
    for secret in [
        auth.as_str(),
        "Reg1stry-Passw0rd",
        "robot$ci",
        "b3RoZXI6dG9rZW4",
    ] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
    let text = done.text.unwrap_or_default();
    assert!(text.contains("user *** password ***"), "{text}");
    assert!(text.contains(r#""auth": "***""#), "{text}");
}

#[tokio::test]
async fn a_failing_run_step_that_prints_the_docker_config_shows_stars() {
    let world = BuildWorld::new().await;
    let auth = base64::engine::general_purpose::STANDARD.encode("deployer:Pa55-w0rd-for-push");
    let config = format!(r#"{{"auths":{{"registry.example.com":{{"auth":"{auth}"}}}}}}"#);
    world.kube.write_as(
        "kubectl",
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "slipway-registry", "namespace": NAMESPACE},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64::engine::general_purpose::STANDARD.encode(&config)},
        }),
    );
    let sha = world
        .push("main", "RUN cat /kaniko/.docker/config.json && false")
        .await;
    let (job, pod) = world.running(&sha).await;
    world.kube.append_container_log(
        NAMESPACE,
        &pod,
        "build",
        &[
            "STEP 2/2: RUN cat /kaniko/.docker/config.json && false",
            &config,
            r#"{"auths": {"quay.io": {"auth": "cXVheTpzZWNyZXQ=", "identitytoken": "eyJhbGciOi"}}}"#,
            "error building image: error building stage: failed to execute command: exit status 1",
        ],
    );
    world.kube.fail_init_step(NAMESPACE, &pod, "build");
    world
        .kube
        .finish_job(NAMESPACE, &job, JobOutcome::BackoffLimitExceeded);
    let done = world.completed(&sha).await;
    assert_eq!(done.conclusion.as_deref(), Some("failure"));
    let text = done.text.clone().unwrap_or_default();
    assert!(
        text.contains("failed to execute command"),
        "the build step's log: {text}"
    );
    let shown = format!("{done:?}");
    for secret in [
        auth.as_str(),
        "Pa55-w0rd-for-push",
        "deployer",
        "cXVheTpzZWNyZXQ",
        "eyJhbGciOi",
    ] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
    assert!(text.contains(r#""identitytoken": "***""#), "{text}");
}

/// The token stored in the build's source Secret, when it still exists.
fn source_token(world: &BuildWorld, job: &str) -> Option<String> {
    let secret = world
        .kube
        .objects("secrets", NAMESPACE)
        .into_iter()
        .find(|s| s["metadata"]["name"] == json!(format!("{job}-source")))?;
    secret["stringData"]["token"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            let b64 = secret["data"]["token"].as_str()?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            String::from_utf8(bytes).ok()
        })
}

fn secret_exists(world: &BuildWorld, job: &str) -> bool {
    world
        .kube
        .names("secrets", NAMESPACE)
        .contains(&format!("{job}-source"))
}

fn revocations(world: &BuildWorld, token: &str) -> usize {
    world
        .fake
        .requests_to("DELETE /installation/token")
        .iter()
        .filter(|r| r.authorization.as_deref() == Some(&format!("token {token}")))
        .count()
}

/// `git ls-remote` of the app repo from the fake GitHub over smart HTTP with `token`: git's
/// exit status and stderr. git runs on a blocking thread: the fake answers on this runtime.
async fn ls_remote(world: &BuildWorld, token: &str) -> (bool, String) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
    let url = format!("http://{}/git/{APP}.git", world.fake.addr);
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new("git")
            .args([
                "-c",
                &format!("http.extraHeader=Authorization: Basic {basic}"),
                "ls-remote",
                &url,
            ])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "/bin/false")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("git runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    })
    .await
    .expect("git finished")
}

#[tokio::test]
async fn the_source_token_is_revoked_once_fetched_and_its_secret_deleted_when_the_job_ends() {
    let world = BuildWorld::new().await;
    let sha = world.push("main", "fetch me").await;
    let job = name_of(&world.job_for(&sha).await);
    eventually("the Secret holds the token", || {
        source_token(&world, &job).is_some()
    })
    .await;
    let token = source_token(&world, &job).expect("a token");
    let (works, stderr) = ls_remote(&world, &token).await;
    assert!(works, "the token fetches before it is revoked: {stderr}");

    // The pod starts and fetches: not revoked while the source step runs.
    let pod = world.kube.start_job_pod(NAMESPACE, &job);
    world.kube.set_pod_phase(NAMESPACE, &pod, "Pending");
    let labels =
        &world.kube.object("pods", NAMESPACE, &pod).expect("the pod")["metadata"]["labels"];
    for key in [
        "batch.kubernetes.io/job-name",
        "job-name",
        "batch.kubernetes.io/controller-uid",
        "controller-uid",
        "slipway.dev/build",
        "slipway.dev/run",
    ] {
        assert!(labels[key].is_string(), "the pod lacks {key}: {labels}");
    }
    assert_eq!(revocations(&world, &token), 0);

    // The source step is done: slipway sees it through its watch and revokes.
    world.kube.set_pod_phase(NAMESPACE, &pod, "Running");
    eventually("the token is revoked", || revocations(&world, &token) == 1).await;
    let (works, stderr) = ls_remote(&world, &token).await;
    assert!(!works, "a revoked token still fetches");
    // The 401's Basic challenge is what makes git ask for another username.
    assert!(stderr.contains("could not read Username"), "{stderr}");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
    let refs = reqwest::Client::new()
        .get(format!(
            "http://{}/git/{APP}.git/info/refs?service=git-upload-pack",
            world.fake.addr
        ))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(refs.status().as_u16(), 401);
    assert_eq!(
        refs.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Basic realm=\"GitHub\"")
    );
    let api = reqwest::Client::new()
        .get(format!("http://{}/repos/{APP}", world.fake.addr))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(api.status().as_u16(), 401);

    assert!(
        secret_exists(&world, &job),
        "the Secret stays while the Job runs"
    );
    world.push_succeeds(&job);
    world.completed(&sha).await;
    eventually("the source Secret is deleted", || {
        !secret_exists(&world, &job)
    })
    .await;
    assert_eq!(revocations(&world, &token), 1, "revoked once");
}

#[tokio::test]
async fn the_token_secret_goes_and_the_token_dies_however_the_build_ends() {
    let world = BuildWorld::new().await;

    // Failed in the source step: revoked and deleted.
    let failed = world.push("main", "bad ref").await;
    let failed_job = name_of(&world.job_for(&failed).await);
    eventually("a token", || source_token(&world, &failed_job).is_some()).await;
    let failed_token = source_token(&world, &failed_job).expect("a token");
    let pod = world.kube.start_job_pod(NAMESPACE, &failed_job);
    world.kube.fail_init_container(NAMESPACE, &pod);
    world
        .kube
        .finish_job(NAMESPACE, &failed_job, JobOutcome::BackoffLimitExceeded);
    world.completed(&failed).await;
    eventually("the failed build's Secret is deleted", || {
        !secret_exists(&world, &failed_job)
    })
    .await;
    assert_eq!(revocations(&world, &failed_token), 1);

    // Timed out before its pod ever ran: the token was never used, and is revoked anyway.
    let slow = world.push("main", "slow").await;
    let slow_job = name_of(&world.job_for(&slow).await);
    eventually("a token", || source_token(&world, &slow_job).is_some()).await;
    let slow_token = source_token(&world, &slow_job).expect("a token");
    world
        .kube
        .finish_job(NAMESPACE, &slow_job, JobOutcome::DeadlineExceeded);
    let done = world.completed(&slow).await;
    assert_eq!(done.conclusion.as_deref(), Some("timed_out"));
    eventually("the timed-out build's Secret is deleted", || {
        !secret_exists(&world, &slow_job)
    })
    .await;
    assert_eq!(revocations(&world, &slow_token), 1);

    // Cancelled by a newer push.
    let first = world.push("main", "first").await;
    let first_job = name_of(&world.job_for(&first).await);
    eventually("a token", || source_token(&world, &first_job).is_some()).await;
    let first_token = source_token(&world, &first_job).expect("a token");
    world.push("main", "second").await;
    let cancelled = world.completed(&first).await;
    assert_eq!(cancelled.conclusion.as_deref(), Some("cancelled"));
    eventually("the cancelled build's Secret is deleted", || {
        !secret_exists(&world, &first_job)
    })
    .await;
    assert_eq!(revocations(&world, &first_token), 1);
}

#[tokio::test]
async fn a_re_run_is_requested_by_whoever_pressed_it() {
    let world = BuildWorld::new().await;
    let sha = world.push("main", "flaky").await;
    let (first, _) = world.running(&sha).await;
    world
        .kube
        .finish_job(NAMESPACE, &first, JobOutcome::BackoffLimitExceeded);
    let failed = world.completed(&sha).await;
    assert!(failed
        .summary
        .clone()
        .unwrap_or_default()
        .contains("Requested by `Codertocat`"));

    let payload = build_world::rerequest_payload(&world.app, &failed, "main");
    world.deliver("check_run", &payload).await;
    let deadline = Instant::now() + WAIT;
    let second = loop {
        if let Some(other) = world.jobs().into_iter().find(|name| *name != first) {
            break other;
        }
        assert!(Instant::now() < deadline, "no second Job");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let pod = world.kube.start_job_pod(NAMESPACE, &second);
    world.kube.set_pod_phase(NAMESPACE, &pod, "Running");
    let digest = world.push_succeeds(&second);
    let done = world
        .check_run_when(&sha, "the re-run completed", |run| {
            run.status == "completed" && run.id != failed.id
        })
        .await;
    let summary = done.summary.unwrap_or_default();
    assert!(summary.contains("Requested by `octocat`"), "{summary}");
    assert!(summary.contains(&digest), "{summary}");
    assert_eq!(world.check_runs_on(&sha).len(), 2);
}

//! GitHub Deployments through slipway's real client against the fake GitHub, whose repository
//! is a real bare git repository: what a deployment is created with, what GitHub answers, and
//! the statuses a deploy leaves behind.

mod git_fixtures;
mod support;

use git_fixtures::TestRepo;
use http::Method;
use serde_json::json;
use slipway::github::{
    CheckConclusion, CheckRunOutput, CheckRunRequest, CheckRunUpdate, DeploymentRequest,
    DeploymentState, DeploymentStatusRequest, GitHubError, RepoRef,
};
use support::fake_github::Failure;
use support::FakeGitHub;

const INSTALLATION: i64 = 42;
const REPO: &str = "acme/config";

fn repo() -> RepoRef {
    REPO.parse().unwrap()
}

/// A config repo with one commit on `main`, served by a fake that fails the test when a
/// deployment or status is left unread.
struct World {
    fake: FakeGitHub,
    github: slipway::github::GitHub,
    _work: TestRepo,
    _dir: tempfile::TempDir,
    merge_sha: String,
}

async fn world() -> World {
    let work = TestRepo::new();
    work.write("envs/dev/app.yaml", "kind: ConfigMap\n");
    let merge_sha = work.commit("merge #12");
    let (dir, bare) = work.bare_clone();
    let fake = FakeGitHub::builder()
        .with_installation(INSTALLATION)
        .with_repo(REPO, &bare)
        .fail_on_unread_output()
        .start()
        .await;
    let github = support::github_client(&fake);
    World {
        fake,
        github,
        _work: work,
        _dir: dir,
        merge_sha,
    }
}

fn deploy_of(sha: &str, environment: &str) -> DeploymentRequest {
    DeploymentRequest {
        git_ref: sha.to_string(),
        environment: environment.to_string(),
        description: Some("Deploy of #12".to_string()),
        production_environment: environment == "prod",
        transient_environment: false,
        payload: json!({ "pull_request": 12 }),
    }
}

#[tokio::test]
async fn a_deployment_of_the_merge_commit_never_asks_github_to_merge_or_wait_for_checks() {
    let w = world().await;
    // A red check on the merge commit: GitHub would refuse a deployment that requires every
    // context, so only `required_contexts: []` gets through.
    let run = w
        .github
        .create_check_run(
            INSTALLATION,
            &repo(),
            &CheckRunRequest::in_progress("ci", &w.merge_sha, None),
        )
        .await
        .unwrap();
    w.github
        .update_check_run(
            INSTALLATION,
            &repo(),
            run,
            &CheckRunUpdate::completed(
                CheckConclusion::Failure,
                CheckRunOutput {
                    title: "red".into(),
                    summary: "red".into(),
                    ..CheckRunOutput::default()
                },
            ),
        )
        .await
        .unwrap();
    w.fake.check_runs(REPO);

    let id = w
        .github
        .create_deployment(INSTALLATION, &repo(), &deploy_of(&w.merge_sha, "dev"))
        .await
        .unwrap();

    let sent = w.fake.requests_to("POST /repos/acme/config/deployments");
    assert_eq!(sent.len(), 1);
    let body = &sent[0].body;
    assert_eq!(body["ref"], w.merge_sha.as_str());
    assert_eq!(body["environment"], "dev");
    assert_eq!(body["auto_merge"], false);
    assert_eq!(body["required_contexts"], json!([]));
    assert_eq!(body["transient_environment"], false);
    assert_eq!(body["production_environment"], false);
    assert_eq!(body["payload"], json!({ "pull_request": 12 }));

    let deployments = w.fake.deployments(REPO);
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0].id, id.0);
    assert_eq!(deployments[0].sha, w.merge_sha);
    assert_eq!(deployments[0].environment, "dev");
    assert_eq!(deployments[0].description.as_deref(), Some("Deploy of #12"));

    // The same request without `required_contexts`, as a client that forgot it would send.
    let mut forgot = slipway::github::deployment_body(&deploy_of(&w.merge_sha, "dev"));
    forgot.as_object_mut().unwrap().remove("required_contexts");
    let refused = w
        .github
        .request(
            Method::POST,
            slipway::github::Auth::Installation(INSTALLATION),
            "/repos/acme/config/deployments",
            Some(&forgot),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(409), "{refused}");
    assert!(refused.to_string().contains("Commit status checks failed"));
    assert_eq!(w.fake.deployments(REPO).len(), 1);
}

#[tokio::test]
async fn a_202_from_github_is_an_error_saying_it_merged_instead_of_deploying() {
    let w = world().await;
    w.fake.fail_next(
        "/repos/acme/config/deployments",
        Failure::auto_merged("main", "topic"),
        1,
    );

    let err = w
        .github
        .create_deployment(INSTALLATION, &repo(), &deploy_of(&w.merge_sha, "dev"))
        .await
        .unwrap_err();

    assert!(matches!(err, GitHubError::AutoMerged { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("instead of creating a deployment"),
        "{message}"
    );
    assert!(message.contains("Auto-merged main into topic"), "{message}");
    assert!(!err.is_retryable());
    assert!(w.fake.deployments(REPO).is_empty());
}

#[tokio::test]
async fn a_ref_github_does_not_know_is_refused_with_its_message() {
    let w = world().await;
    let err = w
        .github
        .create_deployment(INSTALLATION, &repo(), &deploy_of(&"f".repeat(40), "dev"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("No ref found for: {}", "f".repeat(40))),
        "{err}"
    );
    assert!(w.fake.deployments(REPO).is_empty());
}

#[tokio::test]
async fn statuses_are_kept_in_order_and_a_later_success_retires_the_earlier_deploy() {
    let w = world().await;
    let first = w
        .github
        .create_deployment(INSTALLATION, &repo(), &deploy_of(&w.merge_sha, "dev"))
        .await
        .unwrap();
    let mut running = DeploymentStatusRequest::new(DeploymentState::InProgress, "Applying");
    running.log_url = Some("https://github.com/acme/config/runs/7".into());
    w.github
        .create_deployment_status(INSTALLATION, &repo(), first, &running)
        .await
        .unwrap();
    let done = w
        .github
        .create_deployment_status(
            INSTALLATION,
            &repo(),
            first,
            &DeploymentStatusRequest::new(DeploymentState::Success, "Deployed"),
        )
        .await
        .unwrap();
    assert_eq!(done.state, "success");

    let second = w
        .github
        .create_deployment(INSTALLATION, &repo(), &deploy_of(&w.merge_sha, "dev"))
        .await
        .unwrap();
    w.github
        .create_deployment_status(
            INSTALLATION,
            &repo(),
            second,
            &DeploymentStatusRequest::new(DeploymentState::Success, "Deployed again"),
        )
        .await
        .unwrap();
    let prod = w
        .github
        .create_deployment(INSTALLATION, &repo(), &deploy_of(&w.merge_sha, "prod"))
        .await
        .unwrap();

    let sent = w.fake.requests_to(&format!(
        "POST /repos/acme/config/deployments/{first}/statuses"
    ));
    assert_eq!(sent[0].body["state"], "in_progress");
    assert_eq!(sent[0].body["auto_inactive"], true);
    assert_eq!(
        sent[0].body["log_url"],
        "https://github.com/acme/config/runs/7"
    );

    let deployments = w.fake.deployments(REPO);
    assert_eq!(deployments.len(), 3);
    assert_eq!(deployments[0].posted_states(), ["in_progress", "success"]);
    // GitHub's auto_inactive: the earlier successful deploy of dev is inactive now.
    assert_eq!(deployments[0].state(), Some("inactive"));
    assert_eq!(deployments[1].posted_states(), ["success"]);
    assert!(deployments[2].statuses.is_empty());

    // Read back through the API: newest first, filtered by environment.
    let statuses = w
        .github
        .list_deployment_statuses(INSTALLATION, &repo(), first)
        .await
        .unwrap();
    let states: Vec<&str> = statuses.iter().map(|s| s.state.as_str()).collect();
    assert_eq!(states, ["inactive", "success", "in_progress"]);
    assert_eq!(
        statuses[2].log_url.as_deref(),
        Some("https://github.com/acme/config/runs/7")
    );
    let dev = w
        .github
        .list_deployments(INSTALLATION, &repo(), "dev")
        .await
        .unwrap();
    assert_eq!(
        dev.iter().map(|d| d.id).collect::<Vec<_>>(),
        [second, first]
    );
    assert!(dev
        .iter()
        .all(|d| d.sha == w.merge_sha && !d.production_environment));
    let listed_prod = w
        .github
        .list_deployments(INSTALLATION, &repo(), "prod")
        .await
        .unwrap();
    assert_eq!(listed_prod.len(), 1);
    assert_eq!(listed_prod[0].id, prod);
    assert!(listed_prod[0].production_environment);
}

#[tokio::test]
async fn a_long_description_is_cut_to_140_characters() {
    let w = world().await;
    let id = w
        .github
        .create_deployment(INSTALLATION, &repo(), &deploy_of(&w.merge_sha, "dev"))
        .await
        .unwrap();
    let long = format!(
        "Deployment.apps team-dev/api did not become healthy: {}",
        "ImagePullBackOff ".repeat(12)
    );
    assert!(long.chars().count() > 140);

    w.github
        .create_deployment_status(
            INSTALLATION,
            &repo(),
            id,
            &DeploymentStatusRequest::new(DeploymentState::Failure, &long),
        )
        .await
        .unwrap();

    let deployments = w.fake.deployments(REPO);
    let description = &deployments[0].statuses[0].description;
    assert_eq!(description.chars().count(), 140);
    assert!(description.ends_with('…'));
    assert!(long.starts_with(description.trim_end_matches('…')));
}

#[tokio::test]
async fn a_state_github_does_not_know_is_a_422_with_githubs_message() {
    let w = world().await;
    let id = w
        .github
        .create_deployment(INSTALLATION, &repo(), &deploy_of(&w.merge_sha, "dev"))
        .await
        .unwrap();
    let path = format!("/repos/acme/config/deployments/{id}/statuses");

    let err = w
        .github
        .request(
            Method::POST,
            slipway::github::Auth::Installation(INSTALLATION),
            &path,
            Some(&json!({ "state": "deployed", "description": "done" })),
        )
        .await
        .unwrap_err();

    assert_eq!(err.status(), Some(422), "{err}");
    let message = err.to_string();
    assert!(message.contains("Validation Failed"), "{message}");
    assert!(
        message.contains("state is not included in the list"),
        "{message}"
    );
    // A description over the limit sent as it is: refused too.
    let err = w
        .github
        .request(
            Method::POST,
            slipway::github::Auth::Installation(INSTALLATION),
            &path,
            Some(&json!({ "state": "success", "description": "x".repeat(141) })),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("description is too long"), "{err}");
    // A deployment that does not exist.
    let err = w
        .github
        .create_deployment_status(
            INSTALLATION,
            &repo(),
            slipway::github::DeploymentId(999_999),
            &DeploymentStatusRequest::new(DeploymentState::Success, "done"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    assert!(w.fake.deployments(REPO)[0].statuses.is_empty());
}

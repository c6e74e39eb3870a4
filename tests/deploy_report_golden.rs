//! What people see of a deploy, pinned as golden files: the `slipway/deploy/<env>` check run
//! for each outcome (`tests/golden/deploy_check_*.md`: title, summary and the objects text)
//! and the one comment on the merged pull request (`deploy_comment.md`), hostile names and
//! messages included.
//!
//! Set `UPDATE_GOLDEN=1` to rewrite the files after an intended change of the templates.

mod git_fixtures;
mod manifests;

use git_fixtures::assert_golden;
use manifests::objects::{config_map, deployment, secret};
use slipway::github::{CheckConclusion, DeploymentState, CHECK_OUTPUT_LIMIT};
use slipway::pipelines::deploy::report::{
    check_run_name, check_run_output, comment_body, deployment_description, Action, AppliedObject,
    ConflictTaken, DeployOutcome, DeployResult, UnhealthyObject, COMMENT_MARKER,
};
use slipway::policy::Violation;
use slipway::render::ObjectKey;
use slipway::report::Templates;

const MERGE_SHA: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
const LAST_GOOD: &str = "1234567890abcdef1234567890abcdef12345678";

fn key(group: &str, kind: &str, namespace: Option<&str>, name: &str) -> ObjectKey {
    ObjectKey {
        group: group.to_string(),
        kind: kind.to_string(),
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
    }
}

fn api() -> ObjectKey {
    key("apps", "Deployment", Some("team-dev"), "api")
}

/// A deploy of #12's merge to `dev` of acme/config that applied three objects and pruned one.
fn deploy(result: DeployResult) -> DeployOutcome {
    DeployOutcome {
        repository: "acme/config".into(),
        environment: "dev".into(),
        merge_sha: MERGE_SHA.into(),
        pull_number: Some(12),
        result,
        objects: vec![
            AppliedObject::of(
                &deployment("team-dev", "api", "registry.example.com/team/api:1.5.0", 2),
                Action::Configured,
            ),
            AppliedObject::of(
                &config_map("team-dev", "api-settings", "LOG_LEVEL", "debug"),
                Action::Created,
            ),
            AppliedObject::of(
                &secret(
                    "team-dev",
                    "api-credentials",
                    "password",
                    "hunter2-very-secret",
                ),
                Action::Unchanged,
            ),
        ],
        pruned: vec![key("", "ConfigMap", Some("team-dev"), "old-settings")],
        conflicts: Vec::new(),
        check_run_url: Some("https://github.com/acme/config/runs/41".into()),
        cluster: None,
    }
}

/// The check run as a person reads it: its name, title, summary and text.
fn check_run(outcome: &DeployOutcome) -> String {
    let output = check_run_output(&Templates::embedded(), outcome).unwrap();
    assert!(output.summary.len() <= CHECK_OUTPUT_LIMIT);
    let text = output.text.unwrap_or_default();
    assert!(text.len() <= CHECK_OUTPUT_LIMIT);
    let shown = format!(
        "name: {}\ntitle: {}\n\n---- summary ----\n{}\n---- text ----\n{}",
        check_run_name(&outcome.environment),
        output.title,
        output.summary,
        text
    );
    assert!(
        !shown.contains("hunter2"),
        "a Secret's value reached the report:\n{shown}"
    );
    shown
}

#[test]
fn a_deploy_in_progress_says_what_it_applies() {
    let outcome = deploy(DeployResult::InProgress);
    assert_eq!(outcome.result.conclusion(), None);
    assert_eq!(
        outcome.result.deployment_state(),
        DeploymentState::InProgress
    );
    assert_golden("deploy_check_in_progress.md", &check_run(&outcome));
}

#[test]
fn a_successful_deploy_lists_objects_by_action_and_the_fields_it_took_over() {
    let mut outcome = deploy(DeployResult::Succeeded);
    outcome.conflicts = vec![ConflictTaken {
        object: api(),
        manager: "kubectl-edit".into(),
        fields: vec![
            ".spec.replicas".into(),
            ".spec.template.metadata.labels.debug".into(),
        ],
    }];
    assert_eq!(outcome.result.conclusion(), Some(CheckConclusion::Success));
    assert_golden("deploy_check_succeeded.md", &check_run(&outcome));
    assert_eq!(
        deployment_description(&Templates::embedded(), &outcome).unwrap(),
        "Deployed 9f8e7d6 to dev"
    );
}

#[test]
fn a_failed_apply_shows_the_api_servers_message_as_it_is() {
    let outcome = deploy(DeployResult::ApplyFailed {
        object: Some(api()),
        message: "Deployment.apps \"api\" is invalid: spec.template.spec.containers[0].image: \
                  Required value\n```\n<b>not html</b> @everyone"
            .into(),
    });
    assert_eq!(outcome.result.conclusion(), Some(CheckConclusion::Failure));
    assert_golden("deploy_check_apply_failed.md", &check_run(&outcome));
}

#[test]
fn an_unhealthy_deploy_names_each_object_and_why() {
    let outcome = deploy(DeployResult::Unhealthy {
        objects: vec![
            UnhealthyObject {
                object: api(),
                reason: "0 of 2 replicas available: ImagePullBackOff (registry.example.com/team/api:1.5.0 not found)".into(),
            },
            UnhealthyObject {
                object: key("batch", "Job", Some("team-dev"), "migrate"),
                reason: "BackoffLimitExceeded: Job has reached the specified backoff limit".into(),
            },
        ],
    });
    assert_eq!(outcome.result.deployment_state(), DeploymentState::Failure);
    assert_golden("deploy_check_unhealthy.md", &check_run(&outcome));
}

#[test]
fn a_rolled_back_deploy_names_the_commit_it_went_back_to() {
    let outcome = deploy(DeployResult::RolledBack {
        to_sha: LAST_GOOD.into(),
        reason: "Deployment.apps team-dev/api did not become healthy within 5m".into(),
    });
    assert_golden("deploy_check_rolled_back.md", &check_run(&outcome));
}

#[test]
fn a_deploy_the_gate_refused_says_the_gates_sentence() {
    let mut outcome = deploy(DeployResult::RefusedByGate {
        sentence: "dev needs 2 approvals from its reviewers; #12 has 1 (by @alice)".into(),
    });
    outcome.objects.clear();
    outcome.pruned.clear();
    assert_eq!(outcome.result.conclusion(), Some(CheckConclusion::Failure));
    assert_golden("deploy_check_refused_by_gate.md", &check_run(&outcome));
}

#[test]
fn a_deploy_the_policy_refused_lists_objects_and_rules() {
    let mut outcome = deploy(DeployResult::RefusedByPolicy {
        violations: vec![
            Violation {
                object: key("", "ConfigMap", Some("kube-system"), "x|y"),
                file: "envs/dev/extra.yaml".into(),
                line: 3,
                message: "ConfigMap kube-system/x|y is in namespace kube-system, outside the namespaces dev may use (team-dev)".into(),
            },
            Violation {
                object: key("rbac.authorization.k8s.io", "ClusterRole", None, "admin-ish"),
                file: "envs/dev/rbac.yaml".into(),
                line: 1,
                message: "ClusterRole admin-ish is cluster-scoped, and dev allows no cluster-scoped kinds".into(),
            },
        ],
    });
    outcome.objects.clear();
    outcome.pruned.clear();
    assert_golden("deploy_check_refused_by_policy.md", &check_run(&outcome));
}

#[test]
fn a_locked_environment_says_who_locked_it_without_mentioning_them() {
    let mut outcome = deploy(DeployResult::Locked {
        by: "alice".into(),
        reason: Some("freeze for the *launch* <3 @everyone".into()),
    });
    outcome.objects.clear();
    outcome.pruned.clear();
    let shown = check_run(&outcome);
    assert!(shown.contains("title: Not deployed: dev is locked by @alice"));
    assert!(!shown.contains("@everyone"), "no mention: {shown}");
    assert_golden("deploy_check_locked.md", &shown);
}

#[test]
fn a_superseded_deploy_names_the_merge_that_deploys_instead() {
    let mut outcome = deploy(DeployResult::Superseded {
        by_sha: LAST_GOOD.into(),
        by_pull: Some(13),
    });
    outcome.objects.clear();
    outcome.pruned.clear();
    assert_golden("deploy_check_superseded.md", &check_run(&outcome));
}

#[test]
fn a_deploy_without_a_cluster_is_neutral_and_says_how_to_get_one() {
    let mut outcome = deploy(DeployResult::NoCluster {
        reason: "no cluster configured: not running in a pod, and no kubeconfig".into(),
    });
    outcome.objects.clear();
    outcome.pruned.clear();
    assert_eq!(outcome.result.conclusion(), Some(CheckConclusion::Neutral));
    assert_golden("deploy_check_no_cluster.md", &check_run(&outcome));
}

#[test]
fn a_deploy_waiting_for_its_cluster_is_in_progress_and_names_the_cluster_and_the_retry() {
    let mut outcome = deploy(DeployResult::ClusterUnreachable {
        cluster: "prod-eu".into(),
        reason: "unreachable: cannot reach the Kubernetes API: reading the API server's version: \
                 tcp connect error: Connection refused (os error 111)"
            .into(),
        retry_in: "20s".into(),
    });
    outcome.cluster = Some("prod-eu".into());
    outcome.objects.clear();
    outcome.pruned.clear();
    assert_eq!(outcome.result.conclusion(), None);
    assert_eq!(
        outcome.result.deployment_state(),
        DeploymentState::InProgress
    );
    assert_golden("deploy_check_cluster_unreachable.md", &check_run(&outcome));
}

#[test]
fn a_deploy_on_a_named_cluster_says_which_in_its_check_run() {
    let mut outcome = deploy(DeployResult::Succeeded);
    outcome.cluster = Some("prod-eu".into());
    assert_golden("deploy_check_succeeded_on_cluster.md", &check_run(&outcome));
}

/// Objects named by someone hostile: mentions, backticks, HTML and table pipes stay text,
/// and a long list folds.
#[test]
fn hostile_object_names_stay_plain_text_and_long_lists_fold() {
    let mut outcome = deploy(DeployResult::Succeeded);
    let hostile = [
        "@everyone",
        "a`b``c",
        "<script>alert(1)</script>",
        "x|y",
        "#1 [link](https://evil.example)",
    ];
    for name in hostile {
        outcome.objects.push(AppliedObject {
            object: key("", "ConfigMap", Some("team-dev"), name),
            action: Action::Created,
        });
    }
    for n in 0..12 {
        outcome.objects.push(AppliedObject {
            object: key(
                "",
                "ConfigMap",
                Some("team-dev"),
                &format!("settings-{n:02}"),
            ),
            action: Action::Unchanged,
        });
    }
    let shown = check_run(&outcome);
    assert!(shown.contains("<details><summary>13 unchanged</summary>"));
    // Inside a code span GitHub shows HTML, mentions and links as the characters they are.
    assert!(shown.contains("- `ConfigMap team-dev/<script>alert(1)</script>`\n"));
    assert!(shown.contains("- ```ConfigMap team-dev/a`b``c```\n"));
    assert_golden("deploy_check_hostile.md", &shown);
}

#[test]
fn the_comment_names_each_environments_cluster_when_the_server_knows_several() {
    let mut dev = deploy(DeployResult::Succeeded);
    dev.cluster = Some("default".into());
    let mut prod = deploy(DeployResult::ClusterUnreachable {
        cluster: "prod-eu".into(),
        reason: "unreachable: cannot reach the Kubernetes API".into(),
        retry_in: "40s".into(),
    });
    prod.environment = "prod".into();
    prod.cluster = Some("prod-eu".into());
    prod.objects.clear();
    prod.pruned.clear();
    prod.check_run_url = Some("https://github.com/acme/config/runs/42".into());
    let body = comment_body(&Templates::embedded(), &[dev, prod]).unwrap();
    assert!(
        body.contains("on cluster `prod-eu` | ⏳ waiting for the cluster |"),
        "{body}"
    );
    assert_golden("deploy_comment_clusters.md", &body);
}

#[test]
fn the_pull_request_gets_one_comment_with_every_environment() {
    let dev = deploy(DeployResult::Succeeded);
    let mut staging = deploy(DeployResult::Unhealthy {
        objects: vec![UnhealthyObject {
            object: key("apps", "Deployment", Some("team-staging"), "@everyone"),
            reason: "CrashLoopBackOff `boom`".into(),
        }],
    });
    staging.environment = "staging".into();
    staging.check_run_url = Some("https://github.com/acme/config/runs/42".into());
    let mut prod = deploy(DeployResult::Locked {
        by: "bob".into(),
        reason: Some("release | freeze".into()),
    });
    prod.environment = "prod".into();
    prod.objects.clear();
    prod.pruned.clear();
    prod.check_run_url = None;
    let mut earlier_dev = deploy(DeployResult::InProgress);
    earlier_dev.check_run_url = None;

    // dev in progress, then done: the later outcome replaces the earlier one in place.
    let body = comment_body(&Templates::embedded(), &[earlier_dev, staging, prod, dev]).unwrap();

    let markdown = body
        .strip_prefix(&format!("{COMMENT_MARKER}\n"))
        .unwrap_or_else(|| panic!("the comment starts with its marker: {body}"));
    assert!(!markdown.contains("hunter2"));
    assert_golden("deploy_comment.md", markdown);
}

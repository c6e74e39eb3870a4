//! `slipway check-config` end to end: exit codes, messages, work trees and bare repositories.

mod support_core;

use std::process::{Command, Output};

use support_core::TestRepo;

const VALID: &str = "environments:\n  dev:\n    path: envs/dev\n    namespace: team-dev\n  prod:\n    path: envs/prod\n    required_approvals: 2\n    promote_from: dev\n    prune: true\n";

fn slipway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .output()
        .expect("slipway runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn valid_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.write(".github/slipway.yml", VALID);
    repo.commit("config");
    repo
}

#[test]
fn a_valid_config_prints_a_summary_and_exits_0() {
    let repo = valid_repo();
    let output = slipway(&["check-config", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        ".github/slipway.yml in the work tree is valid\n\
         config repo: 2 environments\n  \
         dev: path envs/dev, namespace team-dev, cluster default, 0 approvals, health timeout 5m\n  \
         prod: path envs/prod, namespace (none), cluster default, 2 approvals, promoted from dev, prune, health timeout 5m\n"
    );
}

#[test]
fn an_invalid_work_tree_file_exits_1_with_the_located_error() {
    let repo = valid_repo();
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev\n    namspace: team-dev\n",
    );
    let output = slipway(&["check-config", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: .github/slipway.yml:4:5: unknown key `namspace` in environment `dev`; did you mean `namespace`? \
         allowed keys: path, namespace, allowed_namespaces, allowed_cluster_scoped, cluster, required_approvals, promote_from, prune, health_timeout\n"
    );
    assert_eq!(stdout(&output), "");
}

#[test]
fn with_rev_the_committed_file_is_checked_not_the_work_tree() {
    let repo = valid_repo();
    repo.write(".github/slipway.yml", "environments: [broken\n");
    let output = slipway(&[
        "check-config",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "HEAD",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with(".github/slipway.yml in `HEAD` ("),
        "{}",
        stdout(&output)
    );
}

#[test]
fn an_older_revision_is_checked_as_it_was() {
    let repo = TestRepo::new();
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: /abs\n",
    );
    let broken = repo.commit("broken");
    repo.write(".github/slipway.yml", VALID);
    repo.commit("fixed");
    let (_dir, bare) = repo.bare_clone();
    let output = slipway(&[
        "check-config",
        "--repo",
        bare.to_str().unwrap(),
        "--rev",
        &broken[..8],
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with(
            "error: .github/slipway.yml:3:11: `path` must be relative to the repository root"
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_bare_repository_is_checked_at_head_by_default() {
    let repo = valid_repo();
    let (_dir, bare) = repo.bare_clone();
    let output = slipway(&["check-config", "--repo", bare.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("config repo: 2 environments"));
}

#[test]
fn an_app_repo_config_is_summarised() {
    let repo = TestRepo::new();
    repo.write(
        ".github/slipway.yml",
        "build:\n  image: registry.example.com/team/api\ndeploy:\n  repo: acme/gitops-config\n  environment: dev\n",
    );
    repo.commit("app");
    let output = slipway(&["check-config", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        ".github/slipway.yml in the work tree is valid\n\
         app repo: builds registry.example.com/team/api from Dockerfile (context .) on pushes to the default branch\n  \
         deploys to environment dev of acme/gitops-config\n"
    );
}

#[test]
fn a_repository_without_the_file_exits_1_saying_so() {
    let repo = TestRepo::new();
    repo.write("README.md", "hello\n");
    repo.commit("no config");
    let output = slipway(&[
        "check-config",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "main",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: there is no .github/slipway.yml at `main`\n"
    );
}

#[test]
fn an_unknown_revision_exits_1_naming_it() {
    let repo = valid_repo();
    let output = slipway(&[
        "check-config",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "nope",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("error: revision `nope` not found"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_path_that_is_no_repository_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let output = slipway(&["check-config", "--repo", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("error: cannot open a git repository at "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_missing_repo_argument_is_a_usage_error() {
    let output = slipway(&["check-config"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--repo <PATH>"),
        "{}",
        stderr(&output)
    );
}

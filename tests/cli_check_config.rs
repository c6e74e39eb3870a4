//! `slipway check-config` end to end: exit codes, messages, work trees and bare repositories.

mod git_fixtures;

use std::process::{Command, Output};

use git_fixtures::TestRepo;

const VALID: &str = "environments:\n  dev:\n    path: envs/dev\n    namespace: team-dev\n  prod:\n    path: envs/prod\n    required_approvals: 2\n    promote_from: dev\n    prune: true\n";

fn slipway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .env_remove("CLUSTERS")
        .output()
        .expect("slipway runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A config repo whose file and environment directories are all valid.
fn valid_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.write(".github/slipway.yml", VALID);
    repo.write("envs/dev/ns.yaml", "kind: Namespace\n");
    repo.write("envs/prod/ns.yaml", "kind: Namespace\n");
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
         allowed keys: path, namespace, allowed_namespaces, allowed_cluster_scoped, cluster, adopt, required_approvals, promote_from, prune, health_timeout, allow_stale_approvals, on_failure, production, self_heal, drift_interval, helm, bumped_by\n"
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

#[test]
fn every_error_in_the_file_is_reported_in_file_order() {
    let repo = TestRepo::new();
    repo.write("envs/dev/ns.yaml", "kind: Namespace\n");
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev\n    namspace: team-dev\n  Prod:\n    path: envs/dev\n    health_timeout: 5 minutes\n    promote_from: staging\n",
    );
    repo.commit("broken in three places");
    let output = slipway(&["check-config", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: .github/slipway.yml:4:5: unknown key `namspace` in environment `dev`; did you mean `namespace`? \
         allowed keys: path, namespace, allowed_namespaces, allowed_cluster_scoped, cluster, adopt, required_approvals, promote_from, prune, health_timeout, allow_stale_approvals, on_failure, production, self_heal, drift_interval, helm, bumped_by\n\
         error: .github/slipway.yml:5:3: environment name `Prod` is not a DNS label; use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit\n\
         error: .github/slipway.yml:7:21: `health_timeout`: `5 minutes` is not a duration; use whole numbers with units h, m, s, largest first, e.g. `90s`, `5m`, `1h30m`\n\
         error: .github/slipway.yml:8:19: `promote_from` names environment `staging`, which is not declared; declared environments: Prod, dev\n"
    );
    assert_eq!(stdout(&output), "");
}

#[test]
fn a_duplicate_environment_is_reported_at_the_duplicate() {
    let repo = TestRepo::new();
    repo.write("envs/dev/ns.yaml", "kind: Namespace\n");
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev\n  prod:\n    path: envs/dev\n  dev:\n    path: envs/dev\n",
    );
    repo.commit("dev twice");
    let output = slipway(&["check-config", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: .github/slipway.yml:6:3: duplicate key `dev` in `environments`: it is already set on line 2; keep one of them\n"
    );
}

#[test]
fn a_path_missing_at_the_revision_is_an_error_at_its_value() {
    let repo = TestRepo::new();
    repo.write("envs/dev/ns.yaml", "kind: Namespace\n");
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev\n  prod:\n    path: envs/prod\n",
    );
    repo.commit("prod has no directory");
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
        "error: .github/slipway.yml:5:11: `path` `envs/prod` of environment `prod` does not exist in the repository\n"
    );
}

#[test]
fn a_path_that_exists_only_in_the_work_tree_is_missing_at_the_revision() {
    let repo = TestRepo::new();
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev\n",
    );
    repo.commit("config first");
    repo.write("envs/dev/ns.yaml", "kind: Namespace\n");
    let work_tree = slipway(&["check-config", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(work_tree.status.code(), Some(0), "{}", stderr(&work_tree));
    let at_head = slipway(&[
        "check-config",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "HEAD",
    ]);
    assert_eq!(at_head.status.code(), Some(1));
    assert_eq!(
        stderr(&at_head),
        "error: .github/slipway.yml:3:11: `path` `envs/dev` of environment `dev` does not exist in the repository\n"
    );
}

#[test]
fn a_path_that_is_a_file_is_an_error_at_its_value() {
    let repo = TestRepo::new();
    repo.write("envs/dev.yaml", "kind: Namespace\n");
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev.yaml\n",
    );
    repo.commit("a file, not a directory");
    let (_dir, bare) = repo.bare_clone();
    let output = slipway(&["check-config", "--repo", bare.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: .github/slipway.yml:3:11: `path` `envs/dev.yaml` of environment `dev` is a file; it must be a directory of manifests\n"
    );
}

#[test]
fn missing_paths_are_reported_with_the_files_other_errors() {
    let repo = TestRepo::new();
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev\n    prune: maybe\n",
    );
    repo.commit("two problems");
    let output = slipway(&["check-config", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: .github/slipway.yml:3:11: `path` `envs/dev` of environment `dev` does not exist in the repository\n\
         error: .github/slipway.yml:4:12: `prune` must be `true` or `false`, found string \"maybe\"\n"
    );
}

#[test]
fn helm_settings_on_a_path_without_a_chart_are_an_error_at_the_helm_key() {
    let repo = TestRepo::new();
    repo.write("envs/dev/ns.yaml", "kind: Namespace\n").write(
        "chart/Chart.yaml",
        "apiVersion: v2\nname: api\nversion: 0.1.0\n",
    );
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev\n    helm:\n      release: api\n  prod:\n    path: chart\n    helm:\n      values: [chart/prod.yaml]\n",
    );
    repo.commit("helm settings");
    let output = slipway(&["check-config", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: .github/slipway.yml:4:5: environment `dev` declares `helm`, but `envs/dev` holds no `Chart.yaml`; `helm` is for environments whose path is a Helm chart\n\
         error: .github/slipway.yml:9:16: `helm.values` file `chart/prod.yaml` of environment `prod` is not a file in the repository\n"
    );
}

#[test]
fn a_cluster_slipway_does_not_know_is_a_located_error_naming_the_known_ones() {
    let repo = valid_repo();
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev\n    cluster: prod-eu\n",
    );
    let output = slipway(&["check-config", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: .github/slipway.yml:4:14: `cluster`: unknown cluster `prod-eu`: this slipway knows `default`; omit `cluster` or name a known one\n"
    );
    assert_eq!(stdout(&output), "");
}

#[test]
fn the_clusters_of_the_servers_settings_are_known_offline_and_listed_when_one_is_not() {
    let repo = valid_repo();
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev\n    cluster: prod-eu\n",
    );
    // The server's CLUSTERS, as a directory of one kubeconfig per cluster; nothing in it is
    // reachable, and nothing is connected to.
    let clusters = tempfile::tempdir().unwrap();
    let kubeconfig = |context: &str| {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://192.0.2.1:6443\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: {context}\n  context:\n    cluster: c\n    user: u\n"
        )
    };
    std::fs::write(clusters.path().join("prod-eu"), kubeconfig("gke_eu")).unwrap();
    std::fs::write(clusters.path().join("staging"), kubeconfig("gke_st")).unwrap();
    let path = repo.path().to_str().unwrap();
    let from_setting = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["check-config", "--repo", path])
        .env("CLUSTERS", clusters.path())
        .output()
        .expect("slipway runs");
    assert_eq!(
        from_setting.status.code(),
        Some(0),
        "{}",
        stderr(&from_setting)
    );
    assert!(
        stdout(&from_setting).contains("prod-eu"),
        "{}",
        stdout(&from_setting)
    );
    let named = slipway(&["check-config", "--repo", path, "--cluster", "prod-eu"]);
    assert_eq!(named.status.code(), Some(0), "{}", stderr(&named));

    std::fs::remove_file(clusters.path().join("prod-eu")).unwrap();
    let output = slipway(&[
        "check-config",
        "--repo",
        path,
        "--clusters",
        clusters.path().to_str().unwrap(),
        "--cluster",
        "prod-us",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: .github/slipway.yml:4:14: `cluster`: unknown cluster `prod-eu`: this slipway knows `default`, `staging`, `prod-us`; omit `cluster` or name a known one\n"
    );
}

#[test]
fn adopt_takes_kinds_or_kind_slash_name_and_refuses_anything_else_where_it_is() {
    let repo = valid_repo();
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev\n    adopt: [ConfigMap, Deployment/api, Deploy-ent/x, ConfigMap/Not_A_Name]\n",
    );
    let output = slipway(&["check-config", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: .github/slipway.yml:4:40: `adopt` item `Deploy-ent/x` is neither a kind nor `Kind/name`; e.g. `ConfigMap` (every ConfigMap) or `Deployment/api` (one object)\n\
         error: .github/slipway.yml:4:54: `adopt` item `ConfigMap/Not_A_Name` is neither a kind nor `Kind/name`; e.g. `ConfigMap` (every ConfigMap) or `Deployment/api` (one object)\n"
    );
}

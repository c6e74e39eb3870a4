//! Kustomize environments, built from git objects with plugins off and the load restrictor on.
//! Each test is skipped (with a note) when neither kustomize nor kubectl is installed.

mod git_fixtures;

use git_fixtures::{config_yaml, kustomize_available, TestRepo};
use slipway::config::{parse_config_repo, Environment};
use slipway::git::LocalRepo;
use slipway::render::{render_environment, K8sObject, RenderError};

fn env(path: &str, namespace: Option<&str>) -> Environment {
    let config = parse_config_repo(&config_yaml(&[("prod", path, namespace)])).unwrap();
    config.environments["prod"].clone()
}

fn render_head(repo: &TestRepo, env: &Environment) -> Result<Vec<K8sObject>, RenderError> {
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    render_environment(&tree, env)
}

/// A base with a ConfigMap and a Deployment, and a prod overlay that prefixes names and sets
/// replicas.
fn overlay_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("base/kustomization.yaml", "resources:\n- configmap.yaml\n- deployment.yaml\n")
        .write(
            "base/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  level: info\n",
        )
        .write(
            "base/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: api\n        image: registry.example.com/api:v1\n",
        )
        .write(
            "envs/prod/kustomization.yaml",
            "resources:\n- ../../base\nnamePrefix: prod-\nreplicas:\n- name: api\n  count: 3\n",
        );
    repo.commit("overlay");
    repo
}

#[test]
fn an_overlay_is_built_from_the_committed_tree() {
    if !kustomize_available("an_overlay_is_built_from_the_committed_tree") {
        return;
    }
    let repo = overlay_repo();
    // Uncommitted edits must not leak into the render: it reads git objects only.
    repo.write("base/configmap.yaml", "this: is not committed\n");
    let objects = render_head(&repo, &env("envs/prod", Some("team-prod"))).unwrap();
    let found: Vec<(&str, &str, Option<&str>, &str)> = objects
        .iter()
        .map(|o| (o.kind(), o.name(), o.namespace(), o.file.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "ConfigMap",
                "prod-settings",
                Some("team-prod"),
                "envs/prod/kustomization.yaml"
            ),
            (
                "Deployment",
                "prod-api",
                Some("team-prod"),
                "envs/prod/kustomization.yaml"
            ),
        ]
    );
    assert_eq!(objects[1].value["spec"]["replicas"], 3);
    assert_eq!(objects[0].value["data"]["level"], "info");
}

#[test]
fn a_kustomization_named_kustomization_without_extension_is_recognised() {
    if !kustomize_available("a_kustomization_named_kustomization_without_extension_is_recognised") {
        return;
    }
    let repo = TestRepo::new();
    repo.write("envs/prod/Kustomization", "resources:\n- cm.yaml\n")
        .write(
            "envs/prod/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: only}\n",
        )
        .write(
            "envs/prod/ignored.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: not-listed}\n",
        );
    repo.commit("Kustomization");
    let objects = render_head(&repo, &env("envs/prod", None)).unwrap();
    assert_eq!(
        objects.iter().map(K8sObject::name).collect::<Vec<_>>(),
        ["only"]
    );
}

#[test]
fn a_failing_build_reports_kustomizes_stderr_with_repo_relative_paths() {
    if !kustomize_available("a_failing_build_reports_kustomizes_stderr_with_repo_relative_paths") {
        return;
    }
    let repo = TestRepo::new();
    repo.write(
        "envs/prod/kustomization.yaml",
        "resources:\n- missing.yaml\n",
    );
    repo.commit("broken");
    let err = render_head(&repo, &env("envs/prod", None)).unwrap_err();
    let RenderError::KustomizeFailed {
        kustomization,
        stderr,
        ..
    } = &err
    else {
        panic!("expected a kustomize failure, got {err:?}");
    };
    assert_eq!(kustomization, "envs/prod/kustomization.yaml");
    assert!(stderr.contains("missing.yaml"), "{stderr}");
    assert!(
        !stderr.contains("slipway-render-"),
        "temp paths are scrubbed: {stderr}"
    );
    assert!(
        err.to_string()
            .contains("failed to build envs/prod/kustomization.yaml"),
        "{err}"
    );
}

#[test]
fn files_outside_the_kustomization_root_are_refused_by_the_load_restrictor() {
    if !kustomize_available(
        "files_outside_the_kustomization_root_are_refused_by_the_load_restrictor",
    ) {
        return;
    }
    let repo = TestRepo::new();
    repo.write(
        "shared/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n",
    )
    .write(
        "envs/prod/kustomization.yaml",
        "resources:\n- ../../shared/cm.yaml\n",
    );
    repo.commit("reaching out");
    let err = render_head(&repo, &env("envs/prod", None)).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("security") || message.contains("is not in or below"),
        "{message}"
    );
}

#[test]
fn helm_charts_are_not_inflated() {
    if !kustomize_available("helm_charts_are_not_inflated") {
        return;
    }
    let repo = TestRepo::new();
    repo.write(
        "envs/prod/kustomization.yaml",
        "helmCharts:\n- name: nginx\n  repo: https://charts.example.com\n  version: 1.0.0\n",
    );
    repo.commit("helm");
    let err = render_head(&repo, &env("envs/prod", None)).unwrap_err();
    assert!(
        matches!(err, RenderError::KustomizeFailed { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("enable-helm"), "{err}");
}

#[test]
fn a_symlink_out_of_the_repository_inside_the_environment_is_refused() {
    if !kustomize_available("a_symlink_out_of_the_repository_inside_the_environment_is_refused") {
        return;
    }
    let repo = overlay_repo();
    repo.symlink("envs/prod/secrets.env", "../../../../../etc/passwd");
    repo.commit("escape");
    let err = render_head(&repo, &env("envs/prod", None)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/prod/secrets.env: symlink to `../../../../../etc/passwd` points outside the repository; refused"
    );
}

#[test]
fn a_symlink_out_of_the_repository_elsewhere_is_left_out() {
    if !kustomize_available("a_symlink_out_of_the_repository_elsewhere_is_left_out") {
        return;
    }
    let repo = overlay_repo();
    repo.symlink("docs/hosts", "/etc/hosts");
    repo.commit("unrelated link");
    let objects = render_head(&repo, &env("envs/prod", None)).unwrap();
    assert_eq!(objects.len(), 2);
}

#[test]
fn symlinked_bases_inside_the_repository_are_recreated_for_kustomize() {
    if !kustomize_available("symlinked_bases_inside_the_repository_are_recreated_for_kustomize") {
        return;
    }
    let repo = overlay_repo();
    repo.symlink("envs/stage/base", "../../base").write(
        "envs/stage/kustomization.yaml",
        "resources:\n- base\nnameSuffix: -stage\n",
    );
    repo.commit("linked base");
    let objects = render_head(&repo, &env("envs/stage", None)).unwrap();
    assert_eq!(
        objects.iter().map(K8sObject::name).collect::<Vec<_>>(),
        ["settings-stage", "api-stage"]
    );
}

#[test]
fn a_symlinked_file_reaching_out_of_the_kustomization_root_is_refused_by_kustomize() {
    if !kustomize_available(
        "a_symlinked_file_reaching_out_of_the_kustomization_root_is_refused_by_kustomize",
    ) {
        return;
    }
    let repo = TestRepo::new();
    repo.write(
        "shared/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: linked}\n",
    )
    .symlink("envs/prod/cm.yaml", "../../shared/cm.yaml")
    .write("envs/prod/kustomization.yaml", "resources:\n- cm.yaml\n");
    repo.commit("linked file");
    let err = render_head(&repo, &env("envs/prod", None)).unwrap_err();
    assert!(
        err.to_string().contains("is not in or below 'envs/prod'"),
        "{err}"
    );
}

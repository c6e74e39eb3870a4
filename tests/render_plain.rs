//! Plain-YAML environments rendered from git revisions and from directories on disk.

mod git_fixtures;

use git_fixtures::{config_yaml, TestRepo};
use slipway::config::{parse_config_repo, Environment};
use slipway::git::LocalRepo;
use slipway::render::{render_environment, DirSource, K8sObject, RenderError};

fn env(path: &str, namespace: Option<&str>) -> Environment {
    let config = parse_config_repo(&config_yaml(&[("dev", path, namespace)])).unwrap();
    config.environments["dev"].clone()
}

fn render_head(repo: &TestRepo, env: &Environment) -> Result<Vec<K8sObject>, RenderError> {
    repo.commit("render me");
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    render_environment(&tree, env)
}

/// (kind, namespace, name, file, line) of each object.
fn summary(objects: &[K8sObject]) -> Vec<(String, Option<String>, String, String, usize)> {
    objects
        .iter()
        .map(|o| {
            (
                o.kind().to_string(),
                o.namespace().map(str::to_string),
                o.name().to_string(),
                o.file.clone(),
                o.line,
            )
        })
        .collect()
}

fn configmap(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n")
}

#[test]
fn every_manifest_under_the_path_renders_in_path_then_document_order() {
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/b.yaml",
        &format!(
            "# two documents\n{}---\n---\n{}",
            configmap("b1"),
            configmap("b2")
        ),
    )
    .write("envs/dev/a/nested.yml", &configmap("nested"))
    .write(
        "envs/dev/c.json",
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "json"}}"#,
    )
    .write("envs/dev/README.md", "not a manifest: true\n")
    .write("envs/prod/other.yaml", &configmap("prod-only"));
    let objects = render_head(&repo, &env("envs/dev", None)).unwrap();
    let names: Vec<(&str, &str, usize)> = objects
        .iter()
        .map(|o| (o.name(), o.file.as_str(), o.line))
        .collect();
    assert_eq!(
        names,
        [
            ("nested", "envs/dev/a/nested.yml", 1),
            ("b1", "envs/dev/b.yaml", 2),
            ("b2", "envs/dev/b.yaml", 8),
            ("json", "envs/dev/c.json", 1),
        ]
    );
}

#[test]
fn list_documents_are_flattened_into_their_items() {
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: one}\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: two}\n",
    )
    .write(
        "envs/dev/typed-list.yaml",
        "apiVersion: v1\nkind: ServiceList\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: three}\n",
    );
    let objects = render_head(&repo, &env("envs/dev", None)).unwrap();
    assert_eq!(
        summary(&objects),
        [
            (
                "ConfigMap".into(),
                None,
                "one".into(),
                "envs/dev/list.yaml".into(),
                1
            ),
            (
                "Deployment".into(),
                None,
                "two".into(),
                "envs/dev/list.yaml".into(),
                1
            ),
            (
                "Service".into(),
                None,
                "three".into(),
                "envs/dev/typed-list.yaml".into(),
                1
            ),
        ]
    );
}

#[test]
fn the_default_namespace_goes_to_namespaced_objects_only() {
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/all.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n---\n\
         apiVersion: v1\nkind: Namespace\nmetadata: {name: team-dev}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {name: elsewhere, namespace: team-ops}\n",
    );
    let objects = render_head(&repo, &env("envs/dev", Some("team-dev"))).unwrap();
    let namespaces: Vec<(&str, Option<&str>)> =
        objects.iter().map(|o| (o.name(), o.namespace())).collect();
    assert_eq!(
        namespaces,
        [
            ("api", Some("team-dev")),
            ("team-dev", None),
            ("reader", None),
            ("elsewhere", Some("team-ops")),
        ]
    );
}

#[test]
fn kinds_declared_cluster_scoped_by_a_rendered_crd_get_no_namespace() {
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/crd.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\n\
         spec:\n  group: example.com\n  scope: Cluster\n  names: {kind: Widget, plural: widgets}\n",
    )
    .write(
        "envs/dev/widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\napiVersion: other.example.com/v1\nkind: Gadget\nmetadata: {name: g}\n",
    );
    let objects = render_head(&repo, &env("envs/dev", Some("team-dev"))).unwrap();
    let widget = objects.iter().find(|o| o.kind() == "Widget").unwrap();
    let gadget = objects.iter().find(|o| o.kind() == "Gadget").unwrap();
    assert_eq!(widget.namespace(), None);
    assert_eq!(
        gadget.namespace(),
        Some("team-dev"),
        "unknown kinds are namespaced"
    );
}

#[test]
fn a_yaml_syntax_error_points_at_the_file_line_and_column() {
    let repo = TestRepo::new();
    let mut api = configmap("first");
    api.push_str("---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n");
    api.push_str("      - name: api\n        image: api: v1\n");
    repo.write("envs/dev/api.yaml", &api);
    let err = render_head(&repo, &env("envs/dev", None)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/api.yaml:15:19: mapping values are not allowed in this context"
    );
    assert_eq!(err.location(), Some(("envs/dev/api.yaml", 15, 19)));
}

#[test]
fn an_object_without_a_name_is_located_at_its_document() {
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/a.yaml",
        &format!(
            "{}---\n# no name below\napiVersion: v1\nkind: Secret\nmetadata:\n  labels: {{a: b}}\n",
            configmap("ok")
        ),
    );
    let err = render_head(&repo, &env("envs/dev", None)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/a.yaml:7:1: the object has no `metadata.name`"
    );
}

#[test]
fn a_document_that_is_not_a_mapping_is_refused() {
    let repo = TestRepo::new();
    repo.write("envs/dev/a.yaml", "- just\n- a list\n");
    let err = render_head(&repo, &env("envs/dev", None)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("envs/dev/a.yaml:1:1: expected a Kubernetes object"),
        "{err}"
    );
}

#[test]
fn the_same_object_twice_is_refused_naming_both_places() {
    let repo = TestRepo::new();
    repo.write("envs/dev/a.yaml", &configmap("dup"))
        .write("envs/dev/b.yaml", &format!("\n\n{}", configmap("dup")));
    let err = render_head(&repo, &env("envs/dev", Some("team-dev"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/b.yaml:3:1: ConfigMap team-dev/dup is declared twice; first at envs/dev/a.yaml:1"
    );
}

#[test]
fn a_missing_environment_directory_is_an_error_naming_the_revision() {
    let repo = TestRepo::new();
    repo.write("envs/prod/a.yaml", &configmap("a"));
    let err = render_head(&repo, &env("envs/dev", None)).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("environment `dev`: path `envs/dev` does not exist at `HEAD` ("),
        "{message}"
    );
}

#[test]
fn an_environment_path_leaving_the_repository_is_refused() {
    let repo = TestRepo::new();
    repo.write("envs/dev/a.yaml", &configmap("a"));
    // Built by hand: the config parser would refuse this path already.
    let mut escaping = env("envs/dev", None);
    escaping.path = "envs/../../outside".into();
    let err = render_head(&repo, &escaping).unwrap_err();
    assert!(matches!(err, RenderError::EnvPath { .. }), "{err:?}");
    assert!(err.to_string().contains("leaves the repository"), "{err}");
}

#[test]
fn symlinks_inside_the_repository_are_followed() {
    let repo = TestRepo::new();
    repo.write("shared/common.yaml", &configmap("common"))
        .write("shared/dir/more.yaml", &configmap("more"))
        .symlink("envs/dev/common.yaml", "../../shared/common.yaml")
        .symlink("envs/dev/linked", "../../shared/dir");
    let objects = render_head(&repo, &env("envs/dev", None)).unwrap();
    let found: Vec<(&str, &str)> = objects
        .iter()
        .map(|o| (o.name(), o.file.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("common", "shared/common.yaml"),
            ("more", "shared/dir/more.yaml"),
        ]
    );
}

#[test]
fn a_symlink_pointing_outside_the_repository_is_refused() {
    let repo = TestRepo::new();
    repo.write("envs/dev/a.yaml", &configmap("a"))
        .symlink("envs/dev/passwd.yaml", "../../../../../../etc/passwd");
    let err = render_head(&repo, &env("envs/dev", None)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/passwd.yaml: symlink to `../../../../../../etc/passwd` points outside the repository; refused"
    );
}

#[test]
fn an_absolute_symlink_is_refused() {
    let repo = TestRepo::new();
    repo.write("envs/dev/a.yaml", &configmap("a"))
        .symlink("envs/dev/hosts.yaml", "/etc/hosts");
    let err = render_head(&repo, &env("envs/dev", None)).unwrap_err();
    assert!(matches!(err, RenderError::Symlink { .. }), "{err:?}");
}

#[test]
fn an_environment_directory_that_is_a_symlink_out_of_the_repository_is_refused() {
    let repo = TestRepo::new();
    repo.write("envs/prod/a.yaml", &configmap("a"))
        .symlink("envs/dev", "../../");
    let err = render_head(&repo, &env("envs/dev", None)).unwrap_err();
    assert!(
        err.to_string()
            .contains("points outside the repository; refused"),
        "{err}"
    );
}

#[test]
fn a_work_tree_on_disk_renders_like_its_commit() {
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/a.yaml",
        &format!("{}---\n{}", configmap("a"), configmap("b")),
    )
    .write("shared/c.yaml", &configmap("c"))
    .symlink("envs/dev/c.yaml", "../../shared/c.yaml");
    let env = env("envs/dev", Some("team-dev"));
    let from_git = render_head(&repo, &env).unwrap();
    let from_disk = render_environment(&DirSource::new(repo.path()).unwrap(), &env).unwrap();
    assert_eq!(from_git, from_disk);
}

#[test]
fn a_work_tree_on_disk_refuses_symlinks_out_of_the_repository() {
    let repo = TestRepo::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.yaml"), configmap("secret")).unwrap();
    repo.write("envs/dev/a.yaml", &configmap("a")).symlink(
        "envs/dev/secret.yaml",
        outside.path().join("secret.yaml").to_str().unwrap(),
    );
    let err = render_environment(
        &DirSource::new(repo.path()).unwrap(),
        &env("envs/dev", None),
    )
    .unwrap_err();
    assert!(matches!(err, RenderError::Symlink { .. }), "{err:?}");
}

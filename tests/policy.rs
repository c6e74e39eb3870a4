//! Environment policy: which rendered objects an environment refuses, on real renders of
//! real git repositories, and the `allowed_cluster_scoped` field that widens it.

mod git_fixtures;

use git_fixtures::TestRepo;
use slipway::config::{parse_config_repo, Environment};
use slipway::git::LocalRepo;
use slipway::policy::{check, Violation};
use slipway::render::render_environment;

/// `envs/dev` of a repo whose `.github/slipway.yml` declares `dev` with `settings`, holding
/// `manifests` (one file), rendered at HEAD; the refused objects as `file:line: message`.
fn refused(settings: &str, manifests: &str) -> Vec<String> {
    let config = format!("environments:\n  dev:\n    path: envs/dev\n{settings}");
    let repo = TestRepo::new();
    repo.write(".github/slipway.yml", &config)
        .write("envs/dev/all.yaml", manifests);
    repo.commit("dev");
    let env = environment(&config);
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    let objects = render_environment(&tree, &env).unwrap();
    check(&env, &objects)
        .iter()
        .map(Violation::to_string)
        .collect()
}

fn environment(config: &str) -> Environment {
    parse_config_repo(config).unwrap().environments["dev"].clone()
}

const CONFIG_MAPS: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: api
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: x
  namespace: kube-system
";

#[test]
fn an_object_outside_the_allowed_namespaces_is_refused_at_its_file_and_line() {
    let refused = refused(
        "    namespace: team-dev\n    allowed_namespaces: [team-dev]\n",
        CONFIG_MAPS,
    );

    assert_eq!(
        refused,
        ["envs/dev/all.yaml:6: ConfigMap kube-system/x is in namespace kube-system, outside the namespaces dev may use (team-dev)"]
    );
}

#[test]
fn the_namespace_alone_implies_the_allowed_namespaces() {
    let refused = refused("    namespace: team-dev\n", CONFIG_MAPS);

    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("ConfigMap kube-system/x is in namespace kube-system"));
}

#[test]
fn an_environment_without_namespace_rules_refuses_nothing() {
    let manifests = format!(
        "{CONFIG_MAPS}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n"
    );

    assert!(refused("", &manifests).is_empty());
}

#[test]
fn a_cluster_scoped_object_is_refused_where_the_namespaces_are_restricted() {
    let refused = refused(
        "    namespace: team-dev\n",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n",
    );

    assert_eq!(
        refused,
        ["envs/dev/all.yaml:1: ClusterRole.rbac.authorization.k8s.io reader is cluster-scoped, and dev allows no cluster-scoped objects (list their kinds in allowed_cluster_scoped)"]
    );
}

#[test]
fn a_namespace_on_a_cluster_scoped_object_does_not_make_it_namespaced() {
    let refused = refused(
        "    namespace: team-dev\n",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: admin\n  namespace: team-dev\n",
    );

    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].contains(
            "ClusterRoleBinding.rbac.authorization.k8s.io team-dev/admin is cluster-scoped"
        ),
        "{refused:?}"
    );
}

#[test]
fn allowed_cluster_scoped_lets_only_the_listed_kinds_through() {
    let manifests = "\
apiVersion: v1
kind: Namespace
metadata:
  name: team-dev
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: reader
";
    let refused = refused(
        "    namespace: team-dev\n    allowed_cluster_scoped: [Namespace, ClusterRole]\n",
        manifests,
    );

    assert_eq!(
        refused,
        ["envs/dev/all.yaml:11: ClusterRoleBinding.rbac.authorization.k8s.io reader is cluster-scoped, and dev allows only the cluster-scoped kinds (Namespace, ClusterRole)"]
    );
}

#[test]
fn a_namespace_object_must_be_one_of_the_allowed_namespaces() {
    let refused = refused(
        "    namespace: team-dev\n    allowed_cluster_scoped: [Namespace]\n",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kube-system\n",
    );

    assert_eq!(
        refused,
        ["envs/dev/all.yaml:1: Namespace kube-system is outside the namespaces dev may use (team-dev)"]
    );
}

#[test]
fn a_custom_resource_its_definition_calls_cluster_scoped_is_cluster_scoped() {
    let manifests = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  scope: Cluster
  names: {kind: Gadget, plural: gadgets}
---
apiVersion: example.com/v1
kind: Gadget
metadata:
  name: g
";
    let refused = refused(
        "    allowed_namespaces: [team-dev]\n    allowed_cluster_scoped: [CustomResourceDefinition]\n",
        manifests,
    );

    assert_eq!(
        refused,
        ["envs/dev/all.yaml:10: Gadget.example.com g is cluster-scoped, and dev allows only the cluster-scoped kinds (CustomResourceDefinition)"]
    );
}

#[test]
fn a_namespaced_object_without_a_namespace_is_refused_where_the_namespaces_are_restricted() {
    let refused = refused(
        "    allowed_namespaces: [team-a, team-b]\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api\n",
    );

    assert_eq!(
        refused,
        ["envs/dev/all.yaml:1: ConfigMap api has no namespace, and dev may use only the namespaces (team-a, team-b): set metadata.namespace"]
    );
}

#[test]
fn allowed_cluster_scoped_defaults_by_whether_the_namespaces_are_restricted() {
    let open = environment("environments:\n  dev:\n    path: envs/dev\n");
    let kept = environment("environments:\n  dev:\n    path: envs/dev\n    namespace: team-dev\n");
    let listed = environment(
        "environments:\n  dev:\n    path: envs/dev\n    allowed_cluster_scoped: [Namespace, Namespace]\n",
    );

    assert_eq!(open.allowed_cluster_scoped, None);
    assert!(open.allows_cluster_scoped("ClusterRole"));
    assert!(!kept.allows_cluster_scoped("ClusterRole"));
    assert_eq!(
        listed.allowed_cluster_scoped,
        Some(vec!["Namespace".to_string()])
    );
    assert!(listed.allows_cluster_scoped("Namespace"));
    assert!(!listed.allows_cluster_scoped("ClusterRole"));
}

#[test]
fn an_allowed_cluster_scoped_item_that_is_no_kind_is_an_error_at_the_item() {
    let err = parse_config_repo(
        "environments:\n  dev:\n    path: envs/dev\n    allowed_cluster_scoped: [Namespace, cluster-role]\n",
    )
    .unwrap_err();

    assert_eq!(
        err.to_string(),
        ".github/slipway.yml:4:41: `allowed_cluster_scoped` item `cluster-role` is not a kind; name kinds as Kubernetes spells them, e.g. `Namespace`, `ClusterRole`"
    );
}

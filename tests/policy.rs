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

const GATE: &str = "\
apiVersion: example.com/v1
kind: Gate
metadata:
  name: open
  namespace: team-dev
";

#[test]
fn a_kind_of_unknown_scope_is_refused_at_its_line_where_the_namespaces_are_restricted() {
    // The cluster may serve Gate cluster-scoped: its namespace would then mean nothing.
    let refused = refused("    namespace: team-dev\n", GATE);

    assert_eq!(
        refused,
        ["envs/dev/all.yaml:1: Gate.example.com team-dev/open is of a kind whose scope is unknown here (not one of Kubernetes' own kinds, and no CustomResourceDefinition for it is rendered): it may be cluster-scoped, and dev may use only the namespaces (team-dev); render its CustomResourceDefinition with the environment, or list the kind in allowed_cluster_scoped if it may be cluster-scoped"]
    );
}

#[test]
fn a_kind_of_unknown_scope_passes_where_nothing_is_restricted_or_its_kind_is_allowed() {
    assert!(refused("", GATE).is_empty());
    assert!(refused(
        "    namespace: team-dev\n    allowed_cluster_scoped: [Gate]\n",
        GATE
    )
    .is_empty());
}

#[test]
fn a_rendered_definition_that_says_namespaced_makes_its_kind_namespaced() {
    let manifests = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: gates.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {{kind: Gate, plural: gates}}\n---\n{GATE}"
    );
    let refused = refused(
        "    namespace: team-dev\n    allowed_cluster_scoped: [CustomResourceDefinition]\n",
        &manifests,
    );

    assert!(refused.is_empty(), "{refused:?}");
}

#[test]
fn at_deploy_the_clusters_scope_wins_over_a_namespace_in_the_file() {
    let config = "environments:\n  dev:\n    path: envs/dev\n    namespace: team-dev\n";
    let env = environment(config);
    let gate = slipway::render::K8sObject {
        value: serde_json::json!({"apiVersion": "example.com/v1", "kind": "Gate",
            "metadata": {"name": "open", "namespace": "team-dev"}}),
        file: "envs/dev/gate.yaml".into(),
        line: 1,
    };
    let cluster_says = |group: &str, kind: &str| {
        (group == "example.com" && kind == "Gate").then_some(slipway::render::Scope::Cluster)
    };
    let refused: Vec<String> = slipway::policy::check_in_cluster(&env, &[gate], cluster_says)
        .iter()
        .map(Violation::to_string)
        .collect();

    assert_eq!(
        refused,
        ["envs/dev/gate.yaml:1: Gate.example.com team-dev/open is cluster-scoped, and dev allows no cluster-scoped objects (list their kinds in allowed_cluster_scoped)"]
    );
}

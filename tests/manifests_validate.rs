//! The kustomize base that installs slipway (`manifests/`): every kustomization builds with
//! slipway's own renderer, every object it yields is valid against the Kubernetes schemas
//! (k8s-openapi's typed objects: nothing unknown, misspelt or mistyped, nothing required
//! missing), and the base keeps the promises it exists for: a locked-down container and
//! least-privilege RBAC. Each test is skipped (with a note) when neither kustomize nor kubectl
//! is installed. The Helm chart (`manifests/chart`) passes `helm lint`, renders with the
//! same renderer into the same objects as the kustomizations, and takes the image, the
//! public URL and the credentials' Secret from its values; those tests are skipped when
//! `helm` is not installed. The opt-in egress component (`manifests/components/egress`, the
//! chart's `egressPolicy`) is checked for what it lets slipway's pod reach.

use std::collections::BTreeSet;
use std::path::PathBuf;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use slipway::config::parse_config_repo;
use slipway::render::{find_helm, find_kustomize, render_environment, DirSource, K8sObject};

const BASE: &str = "base";
const CLUSTER_WIDE: &str = "overlays/cluster-wide";
/// Every kustomization under `manifests/` that an operator may build.
const KUSTOMIZATIONS: [&str; 2] = [BASE, CLUSTER_WIDE];

const SLIPWAY_NAMESPACE: &str = "slipway";
const BUILD_NAMESPACE: &str = "slipway-builds";
/// What server-side apply, dry-run, prune and health checks need of a deployable kind.
const APPLY_VERBS: [&str; 6] = ["get", "list", "watch", "create", "patch", "delete"];

fn kustomize_available(test: &str) -> bool {
    let found = find_kustomize().is_some();
    if !found {
        eprintln!("note: {test} skipped: neither kustomize nor kubectl is installed");
    }
    found
}

fn manifests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("manifests")
}

/// The objects of the kustomization at `path` (relative to `manifests/`), built the way
/// `slipway render` builds an environment.
fn build(path: &str) -> Vec<K8sObject> {
    build_in(&manifests_dir(), path)
}

/// The objects of the kustomization at `path` relative to `root`.
fn build_in(root: &std::path::Path, path: &str) -> Vec<K8sObject> {
    let source = DirSource::new(root).expect("the root exists");
    let config = parse_config_repo(&format!("environments:\n  install:\n    path: {path}\n"))
        .expect("a one-environment config parses");
    render_environment(&source, &config.environments["install"])
        .unwrap_or_else(|err| panic!("{path} under {} does not build: {err}", root.display()))
}

/// `kind namespace/name` of an object, for messages.
fn describe(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    match object["metadata"]["namespace"].as_str() {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// Deserializes `object` into the typed `T` and back, and names every field the schema does
/// not know (dropped on the way) or reads differently (a wrong type that still parsed), and
/// every required field that is missing. k8s-openapi reads a missing required field as its
/// empty value and always writes required fields back (optional ones only when set), so a
/// field that appears on the way back is a required one the manifest left out.
fn round_trip<T: DeserializeOwned + Serialize>(object: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(object.clone()).map_err(|err| {
        format!(
            "{}: not a valid {}: {err}",
            describe(object),
            object["kind"]
        )
    })?;
    let back = serde_json::to_value(&typed).map_err(|err| err.to_string())?;
    let mut found = Differences::default();
    compare(object, &back, String::new(), &mut found);
    let mut problems = Vec::new();
    if !found.unknown.is_empty() {
        problems.push(format!(
            "not in the Kubernetes schema (misspelt, misplaced or mistyped): {}",
            found.unknown.join(", ")
        ));
    }
    if !found.missing.is_empty() {
        problems.push(format!(
            "required but missing: {}",
            found.missing.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", describe(object), problems.join("; ")))
    }
}

#[derive(Default)]
struct Differences {
    /// Paths of the manifest the typed object does not hold with the same value.
    unknown: Vec<String>,
    /// Paths the typed object holds and the manifest lacks.
    missing: Vec<String>,
}

fn compare(original: &Value, typed: &Value, path: String, found: &mut Differences) {
    match (original, typed) {
        (Value::Object(fields), Value::Object(kept)) => {
            for (key, value) in fields {
                let at = format!("{path}.{key}");
                match kept.get(key) {
                    Some(kept_value) => compare(value, kept_value, at, found),
                    // An explicit null is what an absent optional field reads as.
                    None if value.is_null() => {}
                    None => found.unknown.push(at),
                }
            }
            for key in kept.keys().filter(|key| !fields.contains_key(*key)) {
                found.missing.push(format!("{path}.{key}"));
            }
        }
        (Value::Array(items), Value::Array(kept)) if items.len() == kept.len() => {
            for (index, (item, kept_item)) in items.iter().zip(kept).enumerate() {
                compare(item, kept_item, format!("{path}[{index}]"), found);
            }
        }
        (a, b) if a == b => {}
        _ => found.unknown.push(format!("{path} (read as {typed})")),
    }
}

/// Checks one object against the schema of its kind; kinds the base must not hold are errors.
fn validate(object: &Value) -> Result<(), String> {
    match object["kind"].as_str().unwrap_or("") {
        "Namespace" => round_trip::<Namespace>(object),
        "ServiceAccount" => round_trip::<ServiceAccount>(object),
        "Role" => round_trip::<Role>(object),
        "RoleBinding" => round_trip::<RoleBinding>(object),
        "ClusterRole" => round_trip::<ClusterRole>(object),
        "ClusterRoleBinding" => round_trip::<ClusterRoleBinding>(object),
        "Deployment" => round_trip::<Deployment>(object),
        "Service" => round_trip::<Service>(object),
        "PersistentVolumeClaim" => round_trip::<PersistentVolumeClaim>(object),
        "Secret" => round_trip::<Secret>(object),
        "ConfigMap" => round_trip::<ConfigMap>(object),
        "NetworkPolicy" => round_trip::<NetworkPolicy>(object),
        other => Err(format!(
            "{}: kind {other:?} is not one the install manifests are checked for",
            describe(object)
        )),
    }
}

fn typed<T: DeserializeOwned>(objects: &[K8sObject], kind: &str) -> Vec<T> {
    objects
        .iter()
        .filter(|o| o.kind() == kind)
        .map(|o| serde_json::from_value(o.value.clone()).expect("validated"))
        .collect()
}

/// The first container of `deployment`'s pod: slipway's.
fn slipway_container(deployment: &Deployment) -> &Container {
    &deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("a pod spec")
        .containers[0]
}

fn kinds(objects: &[K8sObject]) -> BTreeSet<String> {
    objects.iter().map(|o| o.kind().to_string()).collect()
}

fn rules_of(role: &Role) -> &[PolicyRule] {
    role.rules.as_deref().unwrap_or(&[])
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_kustomization_builds_into_objects_valid_against_the_kubernetes_schemas() {
    if !kustomize_available(
        "every_kustomization_builds_into_objects_valid_against_the_kubernetes_schemas",
    ) {
        return;
    }
    for path in KUSTOMIZATIONS {
        let objects = build(path);
        let problems: Vec<String> = objects
            .iter()
            .filter_map(|o| validate(&o.value).err())
            .collect();
        assert!(
            problems.is_empty(),
            "manifests/{path}:\n  {}",
            problems.join("\n  ")
        );
        assert!(
            kinds(&objects).is_superset(&set(&[
                "Namespace",
                "ServiceAccount",
                "Role",
                "RoleBinding",
                "Deployment",
                "Service",
                "PersistentVolumeClaim",
                "Secret",
                "ConfigMap",
                "NetworkPolicy",
            ])),
            "manifests/{path} lacks a kind of the install: {:?}",
            kinds(&objects)
        );
    }
}

#[test]
fn the_schema_check_names_a_misspelt_field_a_wrong_type_and_a_missing_required_field() {
    let misspelt = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "slipway", "namespace": "slipway" },
        "spec": {
            "selector": { "matchLabels": { "app": "slipway" } },
            "template": { "spec": { "containers": [
                { "name": "slipway", "image": "slipway", "livenesProbe": { "httpGet": { "path": "/healthz", "port": 3000 } } }
            ] } }
        }
    });
    let error = validate(&misspelt).unwrap_err();
    assert!(
        error.contains("Deployment slipway/slipway")
            && error.contains(".spec.template.spec.containers[0].livenesProbe"),
        "{error}"
    );

    let wrong_type = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": "slipway" },
        "spec": { "ports": [ { "port": "eighty" } ] }
    });
    let error = validate(&wrong_type).unwrap_err();
    assert!(error.starts_with("Service slipway: not a valid"), "{error}");

    let no_containers = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "slipway" },
        "spec": { "selector": {}, "template": { "spec": {} } }
    });
    let error = validate(&no_containers).unwrap_err();
    assert_eq!(
        error,
        "Deployment slipway: required but missing: .spec.template.spec.containers"
    );
}

#[test]
fn slipways_container_runs_locked_down_with_probes_and_resources() {
    if !kustomize_available("slipways_container_runs_locked_down_with_probes_and_resources") {
        return;
    }
    for path in KUSTOMIZATIONS {
        let deployments: Vec<Deployment> = typed(&build(path), "Deployment");
        assert_eq!(deployments.len(), 1, "manifests/{path}: one Deployment");
        let deployment = &deployments[0];
        let spec = deployment.spec.as_ref().expect("a Deployment has a spec");
        // SQLite on a ReadWriteOnce volume: one pod, and the old one gone before the new starts.
        assert_eq!(spec.replicas, Some(1), "manifests/{path}");
        assert_eq!(
            spec.strategy.as_ref().and_then(|s| s.type_.as_deref()),
            Some("Recreate"),
            "manifests/{path}"
        );
        let pod = spec.template.spec.as_ref().expect("a pod spec");
        assert_eq!(pod.automount_service_account_token, Some(true));
        assert_eq!(pod.service_account_name.as_deref(), Some("slipway"));
        let pod_security = pod.security_context.clone().unwrap_or_default();
        assert_eq!(
            pod_security
                .seccomp_profile
                .as_ref()
                .map(|p| p.type_.as_str()),
            Some("RuntimeDefault")
        );
        for container in &pod.containers {
            let at = format!("manifests/{path}: container {}", container.name);
            let security = container.security_context.clone().unwrap_or_default();
            let non_root = security
                .run_as_non_root
                .or(pod_security.run_as_non_root)
                .unwrap_or(false);
            let user = security.run_as_user.or(pod_security.run_as_user);
            assert!(
                non_root && user.is_some_and(|u| u != 0),
                "{at}: runs as root"
            );
            assert_eq!(security.read_only_root_filesystem, Some(true), "{at}");
            assert_eq!(security.allow_privilege_escalation, Some(false), "{at}");
            assert_eq!(
                security.capabilities.and_then(|c| c.drop),
                Some(vec!["ALL".to_string()]),
                "{at}"
            );
            let probe_path = |probe: &Option<k8s_openapi::api::core::v1::Probe>| {
                probe
                    .as_ref()
                    .and_then(|p| p.http_get.as_ref())
                    .and_then(|h| h.path.clone())
            };
            assert_eq!(
                probe_path(&container.liveness_probe).as_deref(),
                Some("/healthz"),
                "{at}"
            );
            // The probes use the operations port: /readyz is not served where GitHub reaches.
            for probe in [&container.liveness_probe, &container.readiness_probe] {
                let port = probe
                    .as_ref()
                    .and_then(|p| p.http_get.as_ref())
                    .map(|h| h.port.clone());
                assert_eq!(port, Some(IntOrString::String("ops".to_string())), "{at}");
            }
            assert_eq!(
                probe_path(&container.readiness_probe).as_deref(),
                Some("/readyz"),
                "{at}"
            );
            let resources = container.resources.clone().unwrap_or_default();
            for (what, amounts) in [
                ("requests", resources.requests),
                ("limits", resources.limits),
            ] {
                let amounts = amounts.unwrap_or_default();
                assert!(
                    amounts.contains_key("cpu") && amounts.contains_key("memory"),
                    "{at}: {what} of cpu and memory"
                );
            }
            // A read-only root: the state goes to the volume, scratch files to /tmp.
            let mounts: Vec<(String, String)> = container
                .volume_mounts
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|m| (m.name, m.mount_path))
                .collect();
            assert!(
                mounts.contains(&("tmp".to_string(), "/tmp".to_string())),
                "{at}"
            );
            let env = |name: &str| {
                container
                    .env
                    .iter()
                    .flatten()
                    .find(|e| e.name == name)
                    .and_then(|e| e.value.clone())
            };
            let data = mounts
                .iter()
                .find(|(name, _)| name == "data")
                .map(|(_, dir)| dir.clone())
                .expect("the data volume is mounted");
            for setting in ["DATABASE_URL", "MIRROR_DIR", "ENV_FILE"] {
                let value = env(setting).unwrap_or_default();
                assert!(
                    value.contains(&data),
                    "{at}: {setting}={value} is not on the data volume {data}"
                );
            }
            assert_eq!(env("BUILD_NAMESPACE").as_deref(), Some(BUILD_NAMESPACE));
        }
        let volumes = pod.volumes.clone().unwrap_or_default();
        let data = volumes
            .iter()
            .find(|v| v.name == "data")
            .expect("data volume");
        assert_eq!(
            data.persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.as_str()),
            Some("slipway-data")
        );
        let tmp = volumes
            .iter()
            .find(|v| v.name == "tmp")
            .expect("tmp volume");
        assert!(tmp.empty_dir.is_some(), "/tmp is an emptyDir");
    }
}

#[test]
fn the_base_grants_only_namespaced_rights_without_wildcards() {
    if !kustomize_available("the_base_grants_only_namespaced_rights_without_wildcards") {
        return;
    }
    let objects = build(BASE);
    let kinds = kinds(&objects);
    assert!(
        !kinds.contains("ClusterRole") && !kinds.contains("ClusterRoleBinding"),
        "the base grants nothing cluster-wide: {kinds:?}"
    );
    let roles: Vec<Role> = typed(&objects, "Role");
    for role in &roles {
        let name = role.metadata.name.clone().unwrap_or_default();
        for rule in rules_of(role) {
            let lists = [
                ("apiGroups", rule.api_groups.clone().unwrap_or_default()),
                ("resources", rule.resources.clone().unwrap_or_default()),
                ("verbs", rule.verbs.clone()),
            ];
            for (field, values) in lists {
                assert!(
                    !values.iter().any(|v| v.contains('*')),
                    "Role {name}: a wildcard in {field}: {values:?}"
                );
            }
        }
    }
    // slipway's own namespace holds the App's credentials; slipway reads them from its
    // environment and is granted nothing there.
    assert!(
        roles
            .iter()
            .all(|r| r.metadata.namespace.as_deref() != Some(SLIPWAY_NAMESPACE)),
        "no Role in slipway's own namespace"
    );
    // Every binding binds slipway's ServiceAccount to a Role of its own namespace.
    for binding in typed::<RoleBinding>(&objects, "RoleBinding") {
        let namespace = binding.metadata.namespace.clone().unwrap_or_default();
        assert_eq!(binding.role_ref.kind, "Role");
        assert!(
            roles.iter().any(
                |r| r.metadata.name.as_deref() == Some(&binding.role_ref.name)
                    && r.metadata.namespace.as_deref() == Some(namespace.as_str())
            ),
            "RoleBinding {namespace}/{:?} refers to no Role of its namespace",
            binding.metadata.name
        );
        let subjects = binding.subjects.clone().unwrap_or_default();
        assert!(subjects.iter().all(|s| s.kind == "ServiceAccount"
            && s.name == "slipway"
            && s.namespace.as_deref() == Some(SLIPWAY_NAMESPACE)));
    }
}

#[test]
fn secrets_are_granted_for_builds_and_for_applying_in_target_namespaces_only() {
    if !kustomize_available(
        "secrets_are_granted_for_builds_and_for_applying_in_target_namespaces_only",
    ) {
        return;
    }
    let objects = build(BASE);
    for role in typed::<Role>(&objects, "Role") {
        let namespace = role.metadata.namespace.clone().unwrap_or_default();
        let verbs: BTreeSet<String> = rules_of(&role)
            .iter()
            .filter(|r| {
                r.resources
                    .as_ref()
                    .is_some_and(|res| res.iter().any(|x| x == "secrets"))
            })
            .flat_map(|r| r.verbs.clone())
            .collect();
        if verbs.is_empty() {
            continue;
        }
        if namespace == BUILD_NAMESPACE {
            // The per-build source-token Secret: made, refreshed, owned by its Job, read to
            // redact the token, deleted when the build ends. Never a list: the registry
            // credentials live there too.
            assert_eq!(
                verbs,
                set(&["get", "create", "patch", "delete"]),
                "build namespace"
            );
        } else {
            // A target namespace: what applying a config repo's Secrets needs, nothing more.
            assert!(
                verbs.is_subset(&set(&APPLY_VERBS)),
                "Role {namespace}/{:?} grants {verbs:?} on secrets",
                role.metadata.name
            );
        }
    }
    let build_role = typed::<Role>(&objects, "Role")
        .into_iter()
        .find(|r| r.metadata.namespace.as_deref() == Some(BUILD_NAMESPACE))
        .expect("a Role in the build namespace");
    let grants = |resource: &str| -> BTreeSet<String> {
        rules_of(&build_role)
            .iter()
            .filter(|r| r.resources.iter().flatten().any(|x| x == resource))
            .flat_map(|r| r.verbs.clone())
            .collect()
    };
    assert_eq!(
        grants("jobs"),
        set(&["get", "list", "watch", "create", "delete"])
    );
    assert_eq!(grants("pods"), set(&["get", "list", "watch"]));
    assert_eq!(grants("pods/log"), set(&["get"]));
    assert!(grants("leases").is_empty());
}

/// The example credentials are the three settings, empty: slipway starts in setup mode with
/// them (tests/install_setup_mode.rs starts the real binary on them), never a crash loop on a
/// placeholder that is not a key.
#[test]
fn the_app_credentials_secret_holds_the_three_settings_empty() {
    if !kustomize_available("the_app_credentials_secret_holds_the_three_settings_empty") {
        return;
    }
    let secrets: Vec<Secret> = typed(&build(BASE), "Secret");
    assert_eq!(secrets.len(), 1);
    assert!(secrets[0].string_data.is_none());
    let data = secrets[0].data.clone().unwrap_or_default();
    let keys: BTreeSet<String> = data.keys().cloned().collect();
    assert_eq!(keys, set(&["APP_ID", "PRIVATE_KEY", "WEBHOOK_SECRET"]));
    for (key, value) in &data {
        assert!(value.0.is_empty(), "{key} holds a value in the example");
    }
}

#[test]
fn the_cluster_wide_overlay_swaps_the_namespaced_deploy_grant_for_a_cluster_role() {
    if !kustomize_available(
        "the_cluster_wide_overlay_swaps_the_namespaced_deploy_grant_for_a_cluster_role",
    ) {
        return;
    }
    let objects = build(CLUSTER_WIDE);
    let cluster_roles: Vec<ClusterRole> = typed(&objects, "ClusterRole");
    assert_eq!(cluster_roles.len(), 1);
    let rules = cluster_roles[0].rules.clone().unwrap_or_default();
    assert!(rules
        .iter()
        .any(|r| r.resources.iter().flatten().any(|x| x == "namespaces")));
    let bindings: Vec<ClusterRoleBinding> = typed(&objects, "ClusterRoleBinding");
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].role_ref.name, "slipway-deploy");
    // Builds stay namespaced; the per-namespace deploy Role is gone.
    let roles: Vec<(Option<String>, Option<String>)> = typed::<Role>(&objects, "Role")
        .into_iter()
        .map(|r| (r.metadata.namespace, r.metadata.name))
        .collect();
    assert_eq!(
        roles,
        [(
            Some(BUILD_NAMESPACE.to_string()),
            Some("slipway-build".to_string())
        )]
    );
    // The overlay widens where, not what: the same verbs, still no wildcards.
    for rule in &rules {
        assert!(rule.verbs.iter().all(|v| APPLY_VERBS.contains(&v.as_str())));
        assert!(!rule.resources.iter().flatten().any(|r| r.contains('*')));
    }
}

#[test]
fn the_build_namespace_is_fenced_by_pod_security_and_network_policies() {
    if !kustomize_available("the_build_namespace_is_fenced_by_pod_security_and_network_policies") {
        return;
    }
    let objects = build(BASE);
    let namespace = typed::<Namespace>(&objects, "Namespace")
        .into_iter()
        .find(|n| n.metadata.name.as_deref() == Some(BUILD_NAMESPACE))
        .expect("the build namespace");
    let labels = namespace.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str),
        Some("baseline"),
        "the strictest level Kaniko runs under"
    );
    assert_eq!(
        labels
            .get("pod-security.kubernetes.io/warn")
            .map(String::as_str),
        Some("restricted")
    );

    let policies: Vec<NetworkPolicy> = typed(&objects, "NetworkPolicy")
        .into_iter()
        .filter(|p: &NetworkPolicy| p.metadata.namespace.as_deref() == Some(BUILD_NAMESPACE))
        .collect();
    let selects_all = |p: &NetworkPolicy| {
        // An empty (or absent) pod selector selects every pod of the namespace.
        p.spec.as_ref().is_some_and(|s| {
            s.pod_selector.as_ref().is_none_or(|selector| {
                selector.match_labels.as_ref().is_none_or(|l| l.is_empty())
                    && selector
                        .match_expressions
                        .as_ref()
                        .is_none_or(|e| e.is_empty())
            })
        })
    };
    let types = |p: &NetworkPolicy| {
        p.spec
            .as_ref()
            .and_then(|s| s.policy_types.clone())
            .unwrap_or_default()
    };
    let deny_ingress = policies.iter().find(|p| {
        selects_all(p)
            && types(p).contains(&"Ingress".to_string())
            && p.spec
                .as_ref()
                .is_some_and(|s| s.ingress.as_ref().is_none_or(|i| i.is_empty()))
    });
    assert!(
        deny_ingress.is_some(),
        "a default-deny ingress policy: {policies:#?}"
    );

    let egress: Vec<_> = policies
        .iter()
        .filter(|p| selects_all(p) && types(p).contains(&"Egress".to_string()))
        .flat_map(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.egress.clone())
                .unwrap_or_default()
        })
        .collect();
    assert!(!egress.is_empty(), "an egress policy for every build pod");
    let dns = egress.iter().any(|rule| {
        rule.ports.iter().flatten().any(|port| {
            port.port == Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(53))
        })
    });
    assert!(dns, "DNS is allowed");
    // Every address a rule lets through excepts the metadata service and the private ranges
    // an API server sits in.
    for rule in &egress {
        for peer in rule.to.iter().flatten() {
            let Some(block) = &peer.ip_block else {
                // A selector peer (DNS pods) must be limited to DNS ports.
                assert!(
                    rule.ports.iter().flatten().all(|p| p.port
                        == Some(
                            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(53)
                        )),
                    "a selector peer beyond DNS: {rule:?}"
                );
                continue;
            };
            let except = block.except.clone().unwrap_or_default();
            if block.cidr == "0.0.0.0/0" {
                for fenced in [
                    "169.254.0.0/16",
                    "10.0.0.0/8",
                    "172.16.0.0/12",
                    "192.168.0.0/16",
                ] {
                    assert!(
                        except.contains(&fenced.to_string()),
                        "{fenced} is reachable: {block:?}"
                    );
                }
            } else if block.cidr == "::/0" {
                assert!(except.contains(&"fe80::/10".to_string()));
                assert!(
                    except.contains(&"fc00::/7".to_string()),
                    "IPv6 metadata (fd00:ec2::254)"
                );
            } else {
                panic!("an unexpected egress block {block:?}");
            }
        }
    }
}

/// The Service GitHub reaches routes to the webhook port alone; the operations port (status
/// page, deploy history, metrics, readiness) is reachable only through a Service of its own,
/// and both ports are the ones slipway is told to listen on.
#[test]
fn the_service_github_reaches_exposes_only_the_webhook_port() {
    if !kustomize_available("the_service_github_reaches_exposes_only_the_webhook_port") {
        return;
    }
    for path in KUSTOMIZATIONS {
        let objects = build(path);
        let deployment = &typed::<Deployment>(&objects, "Deployment")[0];
        let container = slipway_container(deployment);
        let ports: Vec<(String, i32)> = container
            .ports
            .iter()
            .flatten()
            .map(|p| (p.name.clone().unwrap_or_default(), p.container_port))
            .collect();
        assert_eq!(
            ports,
            vec![("http".to_string(), 3000), ("ops".to_string(), 9090)],
            "manifests/{path}"
        );
        let env = |name: &str| {
            container
                .env
                .iter()
                .flatten()
                .find(|e| e.name == name)
                .and_then(|e| e.value.clone())
        };
        assert_eq!(env("PORT").as_deref(), Some("3000"), "manifests/{path}");
        assert_eq!(env("OPS_PORT").as_deref(), Some("9090"), "manifests/{path}");

        let services = typed::<Service>(&objects, "Service");
        let targets = |name: &str| -> Vec<IntOrString> {
            services
                .iter()
                .filter(|s| s.metadata.name.as_deref() == Some(name))
                .flat_map(|s| s.spec.iter().flat_map(|spec| spec.ports.iter().flatten()))
                .map(|p| p.target_port.clone().expect("a target port"))
                .collect()
        };
        assert_eq!(
            targets("slipway"),
            vec![IntOrString::String("http".to_string())],
            "manifests/{path}"
        );
        assert_eq!(
            targets("slipway-ops"),
            vec![IntOrString::String("ops".to_string())],
            "manifests/{path}"
        );
        let ops_service = services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some("slipway-ops"))
            .expect("the operations Service");
        assert_eq!(
            ops_service.spec.as_ref().and_then(|s| s.type_.as_deref()),
            Some("ClusterIP"),
            "manifests/{path}: the operations Service stays inside the cluster"
        );
        for service in &services {
            let name = service.metadata.name.clone().unwrap_or_default();
            if name == "slipway-ops" {
                continue;
            }
            for port in service.spec.iter().flat_map(|s| s.ports.iter().flatten()) {
                assert!(
                    !matches!(&port.target_port, Some(IntOrString::String(p)) if p == "ops")
                        && port.target_port != Some(IntOrString::Int(9090)),
                    "manifests/{path}: Service {name} exposes the operations port"
                );
            }
        }
    }
}

/// What the base's Deployment names as slipway's image: a placeholder under `example.com`,
/// a domain reserved so that it never resolves to a registry anyone could push to.
const PLACEHOLDER_IMAGE: &str = "registry.example.com/slipway";
/// The public URL the quick start's reader sets (`$PUBLIC_URL` in README.md).
const TRIAL_PUBLIC_URL: &str = "https://slipway-trial.example.net";
/// Where README.md's quick start writes its overlay, next to `manifests/`.
const QUICK_START_OVERLAY: &str = "my-slipway";

/// The kustomization README.md's quick start has its reader write, `$PUBLIC_URL` set.
fn quick_start_overlay() -> String {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .expect("README.md");
    let opening = format!("cat > {QUICK_START_OVERLAY}/kustomization.yaml <<EOF\n");
    let start = readme
        .find(&opening)
        .map(|at| at + opening.len())
        .expect("README.md's quick start writes my-slipway/kustomization.yaml with a heredoc");
    let length = readme[start..]
        .find("\nEOF\n")
        .expect("the heredoc ends with EOF");
    let text = readme[start..start + length + 1].replace("$PUBLIC_URL", TRIAL_PUBLIC_URL);
    assert!(
        !text.contains('$'),
        "the quick start's overlay uses a variable the test does not set:\n{text}"
    );
    text
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of `manifests/` with the kustomization `overlay` beside it in `my-slipway/`, as in
/// a checkout where the reader wrote that overlay.
fn checkout_with_overlay(overlay: &str) -> tempfile::TempDir {
    let checkout = tempfile::tempdir().unwrap();
    copy_dir(&manifests_dir(), &checkout.path().join("manifests"));
    let dir = checkout.path().join(QUICK_START_OVERLAY);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("kustomization.yaml"), overlay).unwrap();
    checkout
}

/// A copy of `manifests/` with the quick start's overlay beside it, as in a checkout where
/// the reader followed README.md.
fn quick_start_checkout() -> tempfile::TempDir {
    checkout_with_overlay(&quick_start_overlay())
}

/// Every container image of every pod template in `object` (containers, init and ephemeral
/// containers, at any depth: a Deployment's template as a CronJob's job template).
fn container_images(object: &Value, found: &mut Vec<String>) {
    match object {
        Value::Object(fields) => {
            for (key, value) in fields {
                if matches!(
                    key.as_str(),
                    "containers" | "initContainers" | "ephemeralContainers"
                ) {
                    for container in value.as_array().into_iter().flatten() {
                        found.push(container["image"].as_str().unwrap_or("").to_string());
                    }
                } else {
                    container_images(value, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| container_images(item, found)),
        _ => {}
    }
}

fn images_of(objects: &[K8sObject]) -> Vec<String> {
    let mut found = Vec::new();
    for object in objects {
        container_images(&object.value, &mut found);
    }
    found
}

/// The install names slipway's image once, as a placeholder nothing is pulled from; the
/// container runs `slipway serve` whatever the image's entrypoint.
#[test]
fn the_install_names_one_image_a_placeholder_nothing_is_pulled_from() {
    if !kustomize_available("the_install_names_one_image_a_placeholder_nothing_is_pulled_from") {
        return;
    }
    for path in KUSTOMIZATIONS {
        let objects = build(path);
        let images = images_of(&objects);
        assert_eq!(images, [PLACEHOLDER_IMAGE], "manifests/{path}");
        let deployment = &typed::<Deployment>(&objects, "Deployment")[0];
        let container = slipway_container(deployment);
        assert_eq!(container.command, Some(vec!["slipway".to_string()]));
        assert_eq!(container.args, Some(vec!["serve".to_string()]));
    }
}

/// The quick start's overlay builds into a valid install, and what its reader sets once —
/// the image in `images:`, the public URL in the settings ConfigMap — is what every
/// container runs and what slipway reads.
#[test]
fn the_quick_start_overlay_sets_the_image_and_the_public_url_in_one_place_each() {
    if !kustomize_available(
        "the_quick_start_overlay_sets_the_image_and_the_public_url_in_one_place_each",
    ) {
        return;
    }
    let checkout = quick_start_checkout();
    let objects = build_in(checkout.path(), QUICK_START_OVERLAY);
    let problems: Vec<String> = objects
        .iter()
        .filter_map(|o| validate(&o.value).err())
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let overlay: Value = serde_yaml_ng::from_str(&quick_start_overlay()).expect("YAML");
    let entries = overlay["images"].as_array().expect("an images: list");
    assert_eq!(entries.len(), 1, "one image entry: {entries:?}");
    assert_eq!(
        entries[0]["name"], PLACEHOLDER_IMAGE,
        "the entry replaces the base's placeholder"
    );
    let set_image = format!(
        "{}:{}",
        entries[0]["newName"].as_str().expect("newName"),
        entries[0]["newTag"].as_str().expect("newTag")
    );
    assert_eq!(images_of(&objects), [set_image]);

    let deployment = &typed::<Deployment>(&objects, "Deployment")[0];
    let container = slipway_container(deployment);
    // PUBLIC_URL comes from the ConfigMap alone: an `env` entry would override it.
    assert!(container
        .env
        .iter()
        .flatten()
        .all(|e| e.name != "PUBLIC_URL"));
    let settings_map = container
        .env_from
        .iter()
        .flatten()
        .find_map(|source| source.config_map_ref.as_ref())
        .map(|r| r.name.clone())
        .expect("settings from a ConfigMap");
    let config_maps: Vec<ConfigMap> = typed(&objects, "ConfigMap");
    let settings = config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(settings_map.as_str()))
        .expect("the ConfigMap the Deployment reads is installed");
    assert_eq!(
        settings
            .data
            .as_ref()
            .and_then(|d| d.get("PUBLIC_URL"))
            .map(String::as_str),
        Some(TRIAL_PUBLIC_URL)
    );
}

/// Nothing is installed into a namespace the install does not create: `kubectl apply` of it
/// on an empty cluster succeeds in one go.
#[test]
fn every_namespaced_object_lives_in_a_namespace_the_install_creates() {
    if !kustomize_available("every_namespaced_object_lives_in_a_namespace_the_install_creates") {
        return;
    }
    let checkout = quick_start_checkout();
    let installs = KUSTOMIZATIONS
        .iter()
        .map(|path| (format!("manifests/{path}"), build(path)))
        .chain([(
            QUICK_START_OVERLAY.to_string(),
            build_in(checkout.path(), QUICK_START_OVERLAY),
        )]);
    for (path, objects) in installs {
        let created: BTreeSet<String> = objects
            .iter()
            .filter(|o| o.kind() == "Namespace")
            .map(|o| o.name().to_string())
            .collect();
        for object in &objects {
            let cluster_scoped = matches!(
                object.kind(),
                "Namespace" | "ClusterRole" | "ClusterRoleBinding"
            );
            match object.namespace() {
                _ if cluster_scoped => {}
                Some(namespace) => assert!(
                    created.contains(namespace),
                    "{path}: {} is in {namespace}, which the install does not create",
                    describe(&object.value)
                ),
                None => panic!("{path}: {} has no namespace", describe(&object.value)),
            }
            for subject in object.value["subjects"].as_array().into_iter().flatten() {
                if let Some(namespace) = subject["namespace"].as_str() {
                    assert!(created.contains(namespace), "{path}: {subject}");
                }
            }
        }
    }
}

/// Clusters besides slipway's own come from a Secret the operator may create or not: absent,
/// the pod starts with an empty directory; present, its kubeconfigs are read-only files.
#[test]
fn extra_clusters_come_from_an_optional_secret_mounted_read_only() {
    if !kustomize_available("extra_clusters_come_from_an_optional_secret_mounted_read_only") {
        return;
    }
    let deployment = &typed::<Deployment>(&build(BASE), "Deployment")[0];
    let pod = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("a pod spec");
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "clusters")
        .and_then(|v| v.secret.clone())
        .expect("a Secret volume `clusters`");
    assert_eq!(volume.secret_name.as_deref(), Some("slipway-clusters"));
    assert_eq!(volume.optional, Some(true));
    assert_eq!(volume.default_mode, Some(0o440));
    let container = &pod.containers[0];
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "clusters")
        .expect("mounted");
    assert_eq!(mount.read_only, Some(true));
    let setting = container
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "CLUSTERS")
        .and_then(|e| e.value.clone());
    assert_eq!(setting.as_deref(), Some(mount.mount_path.as_str()));
}

const CHART: &str = "chart";

fn helm_available(test: &str) -> bool {
    let found = find_helm().is_some() && find_kustomize().is_some();
    if !found {
        eprintln!("note: {test} skipped: helm (and kustomize or kubectl) is needed");
    }
    found
}

/// The chart's objects for release `slipway` in namespace `slipway`, with `set` as
/// `--set-literal` values, rendered the way `slipway render` renders a Helm environment.
fn render_chart(set: &[(&str, &str)]) -> Vec<K8sObject> {
    let source = DirSource::new(manifests_dir()).expect("manifests/ exists");
    let mut config = format!(
        "environments:\n  install:\n    path: {CHART}\n    namespace: {SLIPWAY_NAMESPACE}\n    helm:\n      release: slipway\n"
    );
    if !set.is_empty() {
        config.push_str("      set:\n");
        for (key, value) in set {
            config.push_str(&format!("        {key}: {value:?}\n"));
        }
    }
    let config = parse_config_repo(&config).expect("the chart's environment parses");
    render_environment(&source, &config.environments["install"])
        .unwrap_or_else(|err| panic!("manifests/{CHART} does not render: {err}"))
}

/// An object as both installs must agree on it: without the labels only Helm adds, the pod
/// template's annotations (the chart's settings checksum), the ConfigMap's content hash
/// (kustomize's) and slipway's image (each sets it its own way; tested on its own).
fn comparable(object: &K8sObject) -> ((String, String, String), Value) {
    let mut value = object.value.clone();
    if let Some(labels) = value
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove("helm.sh/chart");
        labels.remove("app.kubernetes.io/managed-by");
    }
    if let Some(template) = value
        .pointer_mut("/spec/template/metadata")
        .and_then(Value::as_object_mut)
    {
        template.remove("annotations");
    }
    let settings = |name: &str| {
        if name.starts_with("slipway-settings") {
            "slipway-settings".to_string()
        } else {
            name.to_string()
        }
    };
    let name = settings(object.name());
    value["metadata"]["name"] = Value::String(name.clone());
    for container in value
        .pointer_mut("/spec/template/spec/containers")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        container["image"] = Value::String("slipway's image".to_string());
        for source in container["envFrom"].as_array_mut().into_iter().flatten() {
            if let Some(reference) = source["configMapRef"]["name"].as_str() {
                source["configMapRef"]["name"] = Value::String(settings(reference));
            }
        }
    }
    let key = (
        object.kind().to_string(),
        object.namespace().unwrap_or("").to_string(),
        name,
    );
    (key, value)
}

fn by_key(objects: &[K8sObject]) -> std::collections::BTreeMap<(String, String, String), Value> {
    objects.iter().map(comparable).collect()
}

#[test]
fn the_chart_passes_helm_lint() {
    if !helm_available("the_chart_passes_helm_lint") {
        return;
    }
    let helm = find_helm().expect("helm");
    for values in [
        &[][..],
        &["--set", "clusterWide=true"][..],
        &["--set", "egressPolicy.enabled=true"][..],
    ] {
        let output = std::process::Command::new(&helm)
            .args(["lint", "--strict"])
            .arg(manifests_dir().join(CHART))
            .args(values)
            .output()
            .expect("helm runs");
        assert!(
            output.status.success(),
            "helm lint {values:?}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// One install, two formats: the chart's defaults render what the base builds, and with
/// `clusterWide` what the cluster-wide overlay builds — object for object, field for field —
/// except slipway's own namespace, which `helm install --create-namespace` makes.
#[test]
fn the_chart_renders_the_objects_the_kustomizations_build() {
    if !helm_available("the_chart_renders_the_objects_the_kustomizations_build") {
        return;
    }
    for (kustomization, set) in [
        (BASE, &[][..]),
        (CLUSTER_WIDE, &[("clusterWide", "true")][..]),
    ] {
        let chart = render_chart(set);
        let problems: Vec<String> = chart
            .iter()
            .filter_map(|o| validate(&o.value).err())
            .collect();
        assert!(problems.is_empty(), "{}", problems.join("\n"));

        let mut expected = by_key(&build(kustomization));
        let own_namespace = (
            "Namespace".to_string(),
            String::new(),
            SLIPWAY_NAMESPACE.to_string(),
        );
        assert!(expected.remove(&own_namespace).is_some());
        let rendered = by_key(&chart);
        assert_eq!(
            rendered.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "the chart ({set:?}) and manifests/{kustomization} install different objects"
        );
        for (key, value) in &rendered {
            assert_eq!(
                value, &expected[key],
                "{key:?} differs between the chart ({set:?}) and manifests/{kustomization}"
            );
        }
    }
}

/// The chart's values set the image, the public URL and the credentials' Secret, one place
/// each; its default image is the placeholder nothing is pulled from.
#[test]
fn the_charts_values_set_the_image_the_public_url_and_the_credentials_secret() {
    if !helm_available("the_charts_values_set_the_image_the_public_url_and_the_credentials_secret")
    {
        return;
    }
    let defaults = render_chart(&[]);
    assert_eq!(images_of(&defaults), [format!("{PLACEHOLDER_IMAGE}:0.1.0")]);

    let chart = render_chart(&[
        ("image.repository", "ghcr.io/acme/slipway"),
        ("image.tag", "1.2.3"),
        ("publicUrl", TRIAL_PUBLIC_URL),
        ("existingSecret", "acme-slipway-app"),
        ("settings.LOG_LEVEL", "debug"),
    ]);
    assert_eq!(images_of(&chart), ["ghcr.io/acme/slipway:1.2.3"]);
    let settings = &typed::<ConfigMap>(&chart, "ConfigMap")[0];
    let data = settings.data.clone().unwrap_or_default();
    assert_eq!(data["PUBLIC_URL"], TRIAL_PUBLIC_URL);
    assert_eq!(data["LOG_LEVEL"], "debug");
    // The operator's Secret replaces the chart's empty one.
    assert!(typed::<Secret>(&chart, "Secret").is_empty());
    let deployment = &typed::<Deployment>(&chart, "Deployment")[0];
    let container = slipway_container(deployment);
    let secrets: Vec<String> = container
        .env_from
        .iter()
        .flatten()
        .filter_map(|source| source.secret_ref.as_ref().map(|r| r.name.clone()))
        .collect();
    assert_eq!(secrets, ["acme-slipway-app"]);

    // Every namespaced object is in the release's namespace or one the chart creates.
    let created: BTreeSet<String> = chart
        .iter()
        .filter(|o| o.kind() == "Namespace")
        .map(|o| o.name().to_string())
        .chain([SLIPWAY_NAMESPACE.to_string()])
        .collect();
    for object in &chart {
        if let Some(namespace) = object.namespace() {
            assert!(created.contains(namespace), "{}", describe(&object.value));
        }
    }
}

const EGRESS_POLICY: &str = "slipway-egress";

/// The base with the opt-in egress component, as an overlay that adds nothing else builds it.
fn base_with_egress_component() -> Vec<K8sObject> {
    let checkout = checkout_with_overlay(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
         resources:\n  - ../manifests/base\ncomponents:\n  - ../manifests/components/egress\n",
    );
    build_in(checkout.path(), QUICK_START_OVERLAY)
}

/// The overlay manifests/README.md ("Render sandbox") has its reader write to enable the
/// egress component: the YAML block that names it.
fn readme_egress_overlay() -> String {
    let readme = std::fs::read_to_string(manifests_dir().join("README.md")).expect("README.md");
    readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(text, _)| text))
        .find(|text| text.contains("../manifests/components/egress"))
        .expect("manifests/README.md shows an overlay with the egress component")
        .to_string()
}

fn egress_policy(objects: &[K8sObject]) -> NetworkPolicy {
    let mut policies: Vec<NetworkPolicy> = typed(objects, "NetworkPolicy");
    policies.retain(|p| p.metadata.name.as_deref() == Some(EGRESS_POLICY));
    assert_eq!(policies.len(), 1, "one NetworkPolicy {EGRESS_POLICY}");
    policies.remove(0)
}

/// Whether `ip` lies in `cidr` (`address/length`).
fn in_cidr(ip: std::net::IpAddr, cidr: &str) -> bool {
    use std::net::IpAddr;
    let (network, length) = cidr.split_once('/').expect("a CIDR has a length");
    let network: IpAddr = network.parse().expect("a CIDR's address");
    let length: u32 = length.parse().expect("a CIDR's length");
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - length).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - length).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

/// Whether `policy` lets a selected pod open a TCP connection to `ip`:`port`, an address
/// outside the cluster's pods (selector peers never match it). A rule without `to` or
/// without `ports` allows every destination or port.
fn reaches(policy: &NetworkPolicy, ip: &str, port: i32) -> bool {
    let ip: std::net::IpAddr = ip.parse().expect("an IP address");
    let spec = policy.spec.as_ref().expect("a NetworkPolicy has a spec");
    spec.egress.iter().flatten().any(|rule| {
        let port_allowed = match rule.ports.as_deref() {
            None | Some([]) => true,
            Some(ports) => ports.iter().any(|p| {
                p.protocol.as_deref().unwrap_or("TCP") == "TCP"
                    && p.port.as_ref().is_none_or(|allowed| match allowed {
                        IntOrString::Int(allowed) => *allowed == port,
                        IntOrString::String(_) => false,
                    })
            }),
        };
        let peer_allowed = match rule.to.as_deref() {
            None | Some([]) => true,
            Some(peers) => peers
                .iter()
                .filter_map(|p| p.ip_block.as_ref())
                .any(|block| {
                    in_cidr(ip, &block.cidr)
                        && !block.except.iter().flatten().any(|cidr| in_cidr(ip, cidr))
                }),
        };
        port_allowed && peer_allowed
    })
}

/// What slipway's pod must never reach, whatever the operator fills in: the cloud metadata
/// service (AWS's IPv6 one too), loopback, and the private ranges nodes and workloads live in.
const NEVER_REACHED: [&str; 9] = [
    "169.254.169.254",
    "fd00:ec2::254",
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.10",
    "192.168.1.1",
    "100.64.0.1",
    "fe80::1",
    "::1",
];
/// github.com and api.github.com's addresses, IPv4 and IPv6.
const GITHUB: [&str; 2] = ["140.82.112.3", "2606:50c0:8000::154"];

/// Checks the promises of the egress policy that do not depend on the filled-in addresses.
fn assert_egress_policy_fences_slipways_pod(objects: &[K8sObject], at: &str) {
    let policy = egress_policy(objects);
    let deployment = &typed::<Deployment>(objects, "Deployment")[0];
    assert_eq!(
        policy.metadata.namespace, deployment.metadata.namespace,
        "{at}: the policy is in slipway's namespace"
    );
    let spec = policy.spec.as_ref().expect("a spec");
    // It applies to slipway's pod, and restricts only what the pod reaches.
    let pod_selector = spec.pod_selector.clone().unwrap_or_default();
    let selector = pod_selector.match_labels.clone().unwrap_or_default();
    assert!(
        !selector.is_empty(),
        "{at}: an empty selector picks every pod"
    );
    assert!(pod_selector.match_expressions.is_none(), "{at}");
    let pod_labels = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    for (key, value) in &selector {
        assert_eq!(
            pod_labels.get(key),
            Some(value),
            "{at}: the policy selects {key}={value}, which slipway's pod does not carry"
        );
    }
    assert_eq!(spec.policy_types, Some(vec!["Egress".to_string()]), "{at}");
    // GitHub over HTTPS, and nothing unencrypted to the internet.
    for github in GITHUB {
        assert!(
            reaches(&policy, github, 443),
            "{at}: {github}:443 is refused"
        );
        assert!(
            !reaches(&policy, github, 80),
            "{at}: {github}:80 is reached"
        );
    }
    for address in NEVER_REACHED {
        for port in [80, 443, 6443] {
            assert!(
                !reaches(&policy, address, port),
                "{at}: slipway's pod reaches {address}:{port}"
            );
        }
    }
    // DNS: kube-dns's pods in kube-system, on port 53, and no other selector peer.
    let selector_peers: Vec<_> = spec
        .egress
        .iter()
        .flatten()
        .flat_map(|rule| rule.to.iter().flatten().map(move |peer| (rule, peer)))
        .filter(|(_, peer)| peer.ip_block.is_none())
        .collect();
    assert_eq!(selector_peers.len(), 1, "{at}: one in-cluster peer, DNS");
    let (rule, peer) = selector_peers[0];
    let labels = |s: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>| {
        s.as_ref()
            .and_then(|s| s.match_labels.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        labels(&peer.namespace_selector)
            .get("kubernetes.io/metadata.name")
            .map(String::as_str),
        Some("kube-system"),
        "{at}"
    );
    assert_eq!(
        labels(&peer.pod_selector)
            .get("k8s-app")
            .map(String::as_str),
        Some("kube-dns"),
        "{at}"
    );
    let ports: BTreeSet<String> = rule
        .ports
        .iter()
        .flatten()
        .map(|p| format!("{}/{:?}", p.protocol.as_deref().unwrap_or("TCP"), p.port))
        .collect();
    assert_eq!(
        ports,
        set(&["TCP/Some(Int(53))", "UDP/Some(Int(53))"]),
        "{at}"
    );
}

/// The opt-in egress component builds with the base into valid objects: the base's, and the
/// NetworkPolicy that fences slipway's own pod — off the metadata service and private
/// ranges, on to GitHub over HTTPS, and to the API server only at the address filled in
/// (here still the placeholder).
#[test]
fn the_egress_component_fences_slipways_own_pod() {
    if !kustomize_available("the_egress_component_fences_slipways_own_pod") {
        return;
    }
    let objects = base_with_egress_component();
    let problems: Vec<String> = objects
        .iter()
        .filter_map(|o| validate(&o.value).err())
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The component adds the policy and changes nothing else.
    let mut without_policy = by_key(&objects);
    let key = (
        "NetworkPolicy".to_string(),
        SLIPWAY_NAMESPACE.to_string(),
        EGRESS_POLICY.to_string(),
    );
    assert!(without_policy.remove(&key).is_some());
    assert_eq!(without_policy, by_key(&build(BASE)));
    assert!(
        !build(BASE).iter().any(|o| o.name() == EGRESS_POLICY),
        "the base alone does not install the egress policy: its addresses need filling in"
    );

    assert_egress_policy_fences_slipways_pod(&objects, "base + components/egress");
    let policy = egress_policy(&objects);
    // The placeholder is from a documentation range, which no API server has.
    assert!(reaches(&policy, "203.0.113.10", 6443));
    assert!(!reaches(&policy, "203.0.113.11", 6443));
}

/// The overlay manifests/README.md shows builds, and its patch is what lets slipway reach
/// the API servers it names — on their ports only — while the fence holds.
#[test]
fn the_readmes_egress_overlay_lets_slipway_reach_the_api_servers_it_names() {
    if !kustomize_available(
        "the_readmes_egress_overlay_lets_slipway_reach_the_api_servers_it_names",
    ) {
        return;
    }
    let checkout = checkout_with_overlay(&readme_egress_overlay());
    let objects = build_in(checkout.path(), QUICK_START_OVERLAY);
    let problems: Vec<String> = objects
        .iter()
        .filter_map(|o| validate(&o.value).err())
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_egress_policy_fences_slipways_pod(&objects, "manifests/README.md's overlay");
    let policy = egress_policy(&objects);
    for api_server in ["10.0.0.1", "10.20.0.5"] {
        for port in [443, 6443] {
            assert!(reaches(&policy, api_server, port), "{api_server}:{port}");
        }
        assert!(!reaches(&policy, api_server, 10250), "the kubelet's port");
    }
    assert!(
        !reaches(&policy, "10.0.0.2", 443),
        "a neighbour of the API server"
    );
    assert!(
        !reaches(&policy, "203.0.113.10", 6443),
        "the placeholder is replaced, not kept"
    );
}

/// `egressPolicy.enabled` renders the component's policy, field for field, with the API
/// servers and further addresses from the values; off by default (the chart's default render
/// equals the base's: `the_chart_renders_the_objects_the_kustomizations_build`).
#[test]
fn the_charts_egress_policy_is_the_components() {
    if !helm_available("the_charts_egress_policy_is_the_components") {
        return;
    }
    let chart = render_chart(&[("egressPolicy.enabled", "true")]);
    let problems: Vec<String> = chart
        .iter()
        .filter_map(|o| validate(&o.value).err())
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let rendered = chart
        .iter()
        .find(|o| o.name() == EGRESS_POLICY)
        .expect("enabled, the chart renders the egress policy");
    let built = base_with_egress_component();
    let expected = built
        .iter()
        .find(|o| o.name() == EGRESS_POLICY)
        .expect("the component's policy");
    assert_eq!(comparable(rendered), comparable(expected));
    assert!(!render_chart(&[]).iter().any(|o| o.name() == EGRESS_POLICY));

    let filled = render_chart(&[
        ("egressPolicy.enabled", "true"),
        ("egressPolicy.apiServers[0]", "10.0.0.1/32"),
        ("egressPolicy.apiServers[1]", "10.20.0.5/32"),
        ("egressPolicy.extraCIDRs[0]", "192.168.7.0/24"),
    ]);
    assert_egress_policy_fences_slipways_pod(&filled, "the chart, filled in");
    let policy = egress_policy(&filled);
    for address in ["10.0.0.1", "10.20.0.5", "192.168.7.9"] {
        assert!(reaches(&policy, address, 443), "{address}:443");
    }
    assert!(!reaches(&policy, "203.0.113.10", 6443));
    assert!(!reaches(&policy, "192.168.1.1", 443));
}

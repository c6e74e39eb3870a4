//! Deploying an environment into a cluster — apply, prune, health and drift — against the fake
//! Kubernetes API server, through the real `kube::Client`.

mod support;

use std::time::{Duration, Instant};

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{json, Value};
use slipway::cluster::{
    Action, AppliedObject, ClusterError, ConflictTaken, Deployer, Inventory, FIELD_MANAGER,
};
use slipway::render::{K8sObject, ObjectKey};
use support::fake_kube::{FakeKube, JobOutcome};

const NS: &str = "shop";

fn object(value: Value) -> K8sObject {
    K8sObject {
        value,
        file: "envs/dev/app.yaml".into(),
        line: 1,
    }
}

fn namespace(name: &str) -> K8sObject {
    object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
}

fn config_map(namespace: &str, name: &str, data: Value) -> K8sObject {
    object(json!({"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": name, "namespace": namespace}, "data": data}))
}

fn deployment(name: &str, replicas: i64, image: &str) -> K8sObject {
    object(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }))
}

fn widget_crd() -> K8sObject {
    object(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                          "schema": {"openAPIV3Schema": {"type": "object",
                                     "x-kubernetes-preserve-unknown-fields": true}}}],
        },
    }))
}

fn widget(name: &str) -> K8sObject {
    object(json!({"apiVersion": "example.com/v1", "kind": "Widget",
                  "metadata": {"name": name, "namespace": NS}, "spec": {"size": 3}}))
}

fn key(group: &str, kind: &str, namespace: Option<&str>, name: &str) -> ObjectKey {
    ObjectKey {
        group: group.into(),
        kind: kind.into(),
        namespace: namespace.map(str::to_string),
        name: name.into(),
    }
}

fn dev() -> Inventory {
    Inventory::new("acme/config", "dev")
}

fn actions(applied: &[AppliedObject]) -> Vec<(String, Action)> {
    applied
        .iter()
        .map(|a| (a.object.to_string(), a.action))
        .collect()
}

fn labels(object: &Value) -> std::collections::BTreeMap<String, String> {
    serde_json::from_value(object["metadata"]["labels"].clone()).unwrap_or_default()
}

async fn cluster() -> (FakeKube, Deployer) {
    let kube = FakeKube::start().await;
    let deployer = Deployer::new(kube.client());
    (kube, deployer)
}

#[tokio::test]
async fn apply_creates_everything_in_dependency_order_with_the_inventory_labels() {
    let (kube, deployer) = cluster().await;
    // Rendered in the worst order: the custom resource first, its CRD and namespace last.
    let objects = [
        widget("blue"),
        deployment("web", 2, "web:1"),
        config_map(NS, "settings", json!({"mode": "fast"})),
        namespace(NS),
        widget_crd(),
    ];
    let report = deployer.apply(&objects, &dev()).await.expect("applied");
    assert_eq!(
        actions(&report.objects),
        [
            ("Namespace shop".to_string(), Action::Created),
            (
                "CustomResourceDefinition.apiextensions.k8s.io widgets.example.com".to_string(),
                Action::Created
            ),
            ("ConfigMap shop/settings".to_string(), Action::Created),
            ("Deployment.apps shop/web".to_string(), Action::Created),
            ("Widget.example.com shop/blue".to_string(), Action::Created),
        ]
    );
    assert!(report.conflicts.is_empty());

    let expected = dev().labels();
    for (resource, namespace, name) in [
        ("namespaces", "", NS),
        ("customresourcedefinitions", "", "widgets.example.com"),
        ("configmaps", NS, "settings"),
        ("deployments", NS, "web"),
    ] {
        let stored = kube.object(resource, namespace, name).expect("stored");
        let on_it = labels(&stored);
        for (label, value) in &expected {
            assert_eq!(on_it.get(label), Some(value), "{resource} {name}: {label}");
        }
        let managers: Vec<&str> = stored["metadata"]["managedFields"]
            .as_array()
            .expect("managed fields")
            .iter()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert_eq!(managers, [FIELD_MANAGER]);
    }
    let widgets = Api::<DynamicObject>::namespaced_with(
        kube.client(),
        NS,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", "v1", "Widget"),
            "widgets",
        ),
    );
    let blue = widgets.get("blue").await.expect("the custom resource");
    assert_eq!(
        blue.metadata.labels.unwrap_or_default(),
        expected,
        "custom resources are labelled too"
    );
}

#[tokio::test]
async fn applying_again_leaves_everything_unchanged_and_moves_no_resource_version() {
    let (kube, deployer) = cluster().await;
    kube.auto_roll_out(true);
    let objects = [
        namespace(NS),
        config_map(NS, "settings", json!({"mode": "fast"})),
        deployment("web", 2, "web:1"),
    ];
    deployer.apply(&objects, &dev()).await.expect("applied");
    let version = kube.resource_version();
    let again = deployer.apply(&objects, &dev()).await.expect("applied");
    assert!(again.objects.iter().all(|o| o.action == Action::Unchanged));
    assert_eq!(again.objects.len(), 3);
    assert_eq!(kube.resource_version(), version, "nothing was written");
}

#[tokio::test]
async fn a_changed_config_map_is_configured_and_the_rest_unchanged() {
    let (_kube, deployer) = cluster().await;
    let before = [
        namespace(NS),
        config_map(NS, "settings", json!({"mode": "fast"})),
        config_map(NS, "other", json!({"a": "1"})),
    ];
    deployer.apply(&before, &dev()).await.expect("applied");
    let after = [
        namespace(NS),
        config_map(NS, "settings", json!({"mode": "safe"})),
        config_map(NS, "other", json!({"a": "1"})),
    ];
    let report = deployer.apply(&after, &dev()).await.expect("applied");
    assert_eq!(
        actions(&report.objects),
        [
            ("Namespace shop".to_string(), Action::Unchanged),
            ("ConfigMap shop/settings".to_string(), Action::Configured),
            ("ConfigMap shop/other".to_string(), Action::Unchanged),
        ]
    );
}

#[tokio::test]
async fn a_field_someone_edited_is_taken_back_and_reported() {
    let (kube, deployer) = cluster().await;
    let objects = [namespace(NS), deployment("web", 2, "web:1")];
    deployer.apply(&objects, &dev()).await.expect("applied");
    // Someone scales by hand, as `kubectl edit` does.
    kube.write_as(
        "kubectl-edit",
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": NS}, "spec": {"replicas": 5}}),
    );
    let report = deployer.apply(&objects, &dev()).await.expect("applied");
    assert_eq!(
        report.conflicts,
        [ConflictTaken {
            object: key("apps", "Deployment", Some(NS), "web"),
            manager: "kubectl-edit".into(),
            fields: vec![".spec.replicas".into()],
        }]
    );
    assert_eq!(report.objects[1].action, Action::Configured);
    let stored = kube.object("deployments", NS, "web").expect("stored");
    assert_eq!(stored["spec"]["replicas"], 2, "slipway's value wins");
    assert_eq!(
        kube.requests("apply", "deployments"),
        3,
        "apply, refused, forced"
    );
}

#[tokio::test]
async fn a_refusal_by_rbac_names_the_object_and_keeps_what_was_done() {
    let (kube, deployer) = cluster().await;
    kube.forbid("patch", "deployments");
    let objects = [
        namespace(NS),
        config_map(NS, "settings", json!({})),
        deployment("web", 1, "web:1"),
    ];
    let failed = deployer.apply(&objects, &dev()).await.unwrap_err();
    assert_eq!(
        failed.object,
        Some(key("apps", "Deployment", Some(NS), "web"))
    );
    let ClusterError::Forbidden {
        verb,
        resource,
        namespace,
        ..
    } = &failed.error
    else {
        panic!("expected Forbidden, got {:?}", failed.error)
    };
    assert_eq!(
        (verb.as_str(), resource.as_str(), namespace.as_str()),
        ("patch", "deployments", NS)
    );
    let text = failed.to_string();
    assert!(
        text.starts_with("applying Deployment.apps shop/web: slipway may not patch deployments"),
        "{text}"
    );
    assert_eq!(
        actions(&failed.done.objects),
        [
            ("Namespace shop".to_string(), Action::Created),
            ("ConfigMap shop/settings".to_string(), Action::Created),
        ]
    );
}

#[tokio::test]
async fn a_kind_the_cluster_does_not_serve_stops_the_apply() {
    let (_kube, deployer) = cluster().await;
    let failed = deployer
        .apply(&[namespace(NS), widget("blue")], &dev())
        .await
        .unwrap_err();
    assert_eq!(
        failed.object,
        Some(key("example.com", "Widget", Some(NS), "blue"))
    );
    assert!(matches!(
        &failed.error,
        ClusterError::KindNotServed { api_version, kind } if api_version == "example.com/v1" && kind == "Widget"
    ));
    assert_eq!(failed.done.objects.len(), 1);
}

#[tokio::test]
async fn an_invalid_object_is_refused_with_the_apis_answer() {
    let (_kube, deployer) = cluster().await;
    let failed = deployer
        .apply(
            &[namespace(NS), config_map(NS, "Not_Valid", json!({}))],
            &dev(),
        )
        .await
        .unwrap_err();
    assert_eq!(failed.error.code(), Some(422));
    assert!(failed
        .to_string()
        .contains("metadata.name: Invalid value: \"Not_Valid\""));
}

#[tokio::test]
async fn a_drift_check_is_a_dry_run_that_changes_nothing() {
    let (kube, deployer) = cluster().await;
    let objects = [
        namespace(NS),
        config_map(NS, "settings", json!({"mode": "fast"})),
    ];
    let before = kube.resource_version();
    let drift = deployer.drift(&objects, &dev()).await.expect("drift");
    assert_eq!(kube.resource_version(), before);
    assert!(kube.names("configmaps", NS).is_empty());
    assert_eq!(kube.requests("apply", "namespaces"), 0);
    assert_eq!(kube.requests("dry-run apply", "namespaces"), 1);
    // Nothing exists: everything is only desired, with the inventory labels.
    assert!(drift.live.is_empty());
    assert_eq!(drift.desired.len(), 2);
    assert_eq!(
        labels(&drift.desired[1].value),
        dev().labels(),
        "{:?}",
        drift.desired[1]
    );
}

#[tokio::test]
async fn a_freshly_applied_environment_has_no_drift() {
    let (kube, deployer) = cluster().await;
    kube.auto_roll_out(true);
    let objects = [
        namespace(NS),
        config_map(NS, "settings", json!({"mode": "fast"})),
        deployment("web", 2, "web:1"),
    ];
    deployer.apply(&objects, &dev()).await.expect("applied");
    let drift = deployer.drift(&objects, &dev()).await.expect("drift");
    assert!(drift.is_empty(), "{drift:#?}");
    assert_eq!(drift.live.len(), 3);
}

#[tokio::test]
async fn a_live_edit_and_an_extra_labelled_object_show_as_drift() {
    let (kube, deployer) = cluster().await;
    let applied = [
        namespace(NS),
        config_map(NS, "leftover", json!({})),
        deployment("web", 2, "web:1"),
    ];
    deployer.apply(&applied, &dev()).await.expect("applied");
    kube.write_as(
        "kubectl-edit",
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": NS}, "spec": {"replicas": 5}}),
    );
    let rendered = [namespace(NS), deployment("web", 2, "web:1")];
    let previous: Vec<ObjectKey> = applied.iter().map(K8sObject::key).collect();
    let drift = deployer
        .drift_since(&rendered, &dev(), &previous)
        .await
        .expect("drift");
    let names =
        |side: &[K8sObject]| -> Vec<String> { side.iter().map(|o| o.key().to_string()).collect() };
    // In the order of identities: (group, kind, namespace, name).
    assert_eq!(
        names(&drift.live),
        [
            "ConfigMap shop/leftover",
            "Namespace shop",
            "Deployment.apps shop/web"
        ]
    );
    assert_eq!(
        names(&drift.desired),
        ["Namespace shop", "Deployment.apps shop/web"]
    );
    assert_eq!(drift.live[0].file, "", "the leftover comes from no file");
    assert_eq!(drift.live[2].value["spec"]["replicas"], 5);
    assert_eq!(drift.desired[1].value["spec"]["replicas"], 2);
    assert_eq!(
        drift.live[1], drift.desired[0],
        "the namespace did not drift"
    );

    // Without the last deploy's objects, a leftover of a kind still rendered is found too.
    let with_config = [
        namespace(NS),
        config_map(NS, "kept", json!({})),
        deployment("web", 2, "web:1"),
    ];
    deployer
        .apply(&with_config[1..2], &dev())
        .await
        .expect("applied");
    let drift = deployer.drift(&with_config, &dev()).await.expect("drift");
    assert!(names(&drift.live).contains(&"ConfigMap shop/leftover".to_string()));
    assert!(!names(&drift.desired).contains(&"ConfigMap shop/leftover".to_string()));
    assert_eq!(
        kube.object("deployments", NS, "web").expect("stored")["spec"]["replicas"],
        5,
        "a drift check takes nothing back"
    );
}

#[tokio::test]
async fn prune_deletes_only_this_environments_objects_that_are_gone() {
    let kube = FakeKube::builder()
        .namespace(NS)
        .namespace("other")
        .start()
        .await;
    let deployer = Deployer::new(kube.client());
    let prod = Inventory::new("acme/config", "prod");
    deployer
        .apply(
            &[
                config_map(NS, "one", json!({})),
                config_map(NS, "two", json!({})),
            ],
            &dev(),
        )
        .await
        .expect("dev applied");
    deployer
        .apply(&[config_map(NS, "three", json!({}))], &prod)
        .await
        .expect("prod applied");
    // Made by hand, with the name of one of dev's objects, where dev once had it.
    kube.write_as(
        "kubectl-create",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "two", "namespace": "other"}}),
    );
    let keep = [config_map(NS, "one", json!({}))];
    let previous = [
        key("", "ConfigMap", Some(NS), "one"),
        key("", "ConfigMap", Some(NS), "two"),
        key("", "ConfigMap", Some("other"), "two"),
    ];
    let pruned = deployer
        .prune(&dev(), &keep, &previous)
        .await
        .expect("pruned");
    assert_eq!(pruned, [key("", "ConfigMap", Some(NS), "two")]);
    assert_eq!(kube.names("configmaps", NS), ["one", "three"]);
    assert_eq!(kube.names("configmaps", "other"), ["two"]);
}

#[tokio::test]
async fn prune_deletes_dependents_before_what_they_depend_on() {
    let (kube, deployer) = cluster().await;
    deployer
        .apply(
            &[
                namespace("old"),
                config_map("old", "settings", json!({})),
                namespace(NS),
            ],
            &dev(),
        )
        .await
        .expect("applied");
    let previous = [
        key("", "Namespace", None, "old"),
        key("", "ConfigMap", Some("old"), "settings"),
        key("", "Namespace", None, NS),
    ];
    let pruned = deployer
        .prune(&dev(), &[namespace(NS)], &previous)
        .await
        .expect("pruned");
    assert_eq!(
        pruned,
        [
            key("", "ConfigMap", Some("old"), "settings"),
            key("", "Namespace", None, "old"),
        ]
    );
    assert!(kube.object("namespaces", "", "old").is_none());
    assert!(kube.object("namespaces", "", NS).is_some());
}

#[tokio::test]
async fn waiting_for_health_returns_as_soon_as_the_rollout_completes() {
    let (kube, deployer) = cluster().await;
    let objects = [
        namespace(NS),
        config_map(NS, "settings", json!({})),
        deployment("web", 3, "web:1"),
    ];
    let report = deployer.apply(&objects, &dev()).await.expect("applied");
    let keys: Vec<ObjectKey> = report.objects.iter().map(|o| o.object.clone()).collect();
    let rollout = {
        let kube = kube.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            kube.roll_out("Deployment", NS, "web");
        })
    };
    let started = Instant::now();
    let health = deployer
        .wait_healthy(&keys, Duration::from_secs(30))
        .await
        .expect("health");
    let waited = started.elapsed();
    rollout.await.expect("rolled out");
    assert!(health.is_healthy(), "{health:?}");
    assert!(
        waited < Duration::from_secs(10),
        "returned early: {waited:?}"
    );
    assert_eq!(
        kube.requests("watch", "deployments"),
        1,
        "watched, not polled"
    );
    assert_eq!(
        kube.requests("get", "deployments"),
        1,
        "read once, before the apply"
    );
}

#[tokio::test]
async fn a_rollout_that_does_not_finish_is_pending_when_time_is_up() {
    let (_kube, deployer) = cluster().await;
    let report = deployer
        .apply(&[namespace(NS), deployment("web", 3, "web:1")], &dev())
        .await
        .expect("applied");
    let keys: Vec<ObjectKey> = report.objects.iter().map(|o| o.object.clone()).collect();
    let started = Instant::now();
    let health = deployer
        .wait_healthy(&keys, Duration::from_millis(300))
        .await
        .expect("health");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(health.failed.is_empty());
    assert_eq!(health.pending.len(), 1);
    assert_eq!(
        health.pending[0].object,
        key("apps", "Deployment", Some(NS), "web")
    );
    assert!(
        health.pending[0]
            .reason
            .contains("waiting for the controller"),
        "{}",
        health.pending[0].reason
    );
}

#[tokio::test]
async fn a_rollout_past_its_progress_deadline_fails_at_once() {
    let (kube, deployer) = cluster().await;
    let report = deployer
        .apply(&[namespace(NS), deployment("web", 3, "web:1")], &dev())
        .await
        .expect("applied");
    kube.fail_rollout("Deployment", NS, "web", "ProgressDeadlineExceeded");
    let keys: Vec<ObjectKey> = report.objects.iter().map(|o| o.object.clone()).collect();
    let started = Instant::now();
    let health = deployer
        .wait_healthy(&keys, Duration::from_secs(30))
        .await
        .expect("health");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(health.failed.len(), 1);
    assert!(
        health.failed[0]
            .reason
            .starts_with("exceeded its progress deadline: ReplicaSet \"web-"),
        "{}",
        health.failed[0].reason
    );
}

#[tokio::test]
async fn a_fix_after_a_rollout_past_its_deadline_is_judged_on_its_own_rollout() {
    let (kube, deployer) = cluster().await;
    deployer
        .apply(&[namespace(NS), deployment("web", 2, "web:broken")], &dev())
        .await
        .expect("applied");
    kube.fail_rollout("Deployment", NS, "web", "ProgressDeadlineExceeded");
    let report = deployer
        .apply(&[namespace(NS), deployment("web", 2, "web:fixed")], &dev())
        .await
        .expect("the fix applied");
    let stored = kube.object("deployments", NS, "web").expect("stored");
    assert_eq!(
        stored["metadata"]["generation"], 2,
        "a new spec, a new generation"
    );
    assert_eq!(
        stored["status"]["observedGeneration"], 1,
        "the controller has not acted on it yet"
    );
    let keys: Vec<ObjectKey> = report.objects.iter().map(|o| o.object.clone()).collect();
    let waiting = {
        let (deployer, keys) = (deployer.clone(), keys.clone());
        tokio::spawn(async move { deployer.wait_healthy(&keys, Duration::from_secs(30)).await })
    };
    // The old verdict must not end the wait: only the controller's answer to the fix may.
    kube.await_requests("watch", "deployments", 1).await;
    assert!(
        !waiting.is_finished(),
        "judged on the old rollout's condition"
    );
    kube.roll_out("Deployment", NS, "web");
    let health = waiting.await.expect("joined").expect("health");
    assert!(health.is_healthy(), "{health:?}");
}

#[tokio::test]
async fn a_failed_job_fails_the_health_check() {
    let (kube, deployer) = cluster().await;
    let job = object(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate", "namespace": NS},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "migrate", "image": "db:1"}]}}},
    }));
    let report = deployer
        .apply(&[namespace(NS), job], &dev())
        .await
        .expect("applied");
    kube.start_job_pod(NS, "migrate");
    let keys: Vec<ObjectKey> = report.objects.iter().map(|o| o.object.clone()).collect();
    let waiting = {
        let deployer = deployer.clone();
        tokio::spawn(async move { deployer.wait_healthy(&keys, Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    kube.finish_job(NS, "migrate", JobOutcome::BackoffLimitExceeded);
    let health = waiting.await.expect("joined").expect("health");
    assert_eq!(health.failed.len(), 1);
    assert_eq!(
        health.failed[0].object,
        key("batch", "Job", Some(NS), "migrate")
    );
    assert!(
        health.failed[0].reason.starts_with("BackoffLimitExceeded"),
        "{}",
        health.failed[0].reason
    );
}

#[tokio::test]
async fn a_missing_object_is_pending() {
    let (_kube, deployer) = cluster().await;
    let health = deployer
        .wait_healthy(
            &[key("", "ConfigMap", Some(NS), "nowhere")],
            Duration::from_millis(50),
        )
        .await
        .expect("health");
    assert_eq!(health.pending.len(), 1);
    assert_eq!(health.pending[0].reason, "not found in the cluster");
}

/// A measurement, not a limit: how long applying a thousand objects to the fake takes.
#[tokio::test]
async fn applying_a_thousand_objects_measured() {
    let (kube, deployer) = cluster().await;
    kube.auto_roll_out(true);
    let mut objects = vec![namespace(NS)];
    for n in 0..500 {
        objects.push(config_map(
            NS,
            &format!("config-{n:04}"),
            json!({"n": n.to_string()}),
        ));
        objects.push(deployment(&format!("app-{n:04}"), 1, "app:1"));
    }
    let started = Instant::now();
    let first = deployer.apply(&objects, &dev()).await.expect("applied");
    let created = started.elapsed();
    assert!(first.objects.iter().all(|o| o.action == Action::Created));
    let started = Instant::now();
    let again = deployer.apply(&objects, &dev()).await.expect("applied");
    let unchanged = started.elapsed();
    assert!(again.objects.iter().all(|o| o.action == Action::Unchanged));
    let keys: Vec<ObjectKey> = again.objects.iter().map(|o| o.object.clone()).collect();
    let started = Instant::now();
    let health = deployer
        .wait_healthy(&keys, Duration::from_secs(60))
        .await
        .expect("health");
    let healthy = started.elapsed();
    assert!(health.is_healthy());
    println!(
        "{} objects: created in {created:?}, applied unchanged in {unchanged:?}, healthy in {healthy:?}",
        objects.len()
    );
}

// Ownership: slipway applies and prunes only what it applied for the environment it deploys.

fn labelled_config_map(namespace: &str, name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": namespace, "labels": labels}, "data": {"owner": "them"}})
}

async fn shop() -> (FakeKube, Deployer) {
    let kube = FakeKube::builder().namespace(NS).start().await;
    let deployer = Deployer::new(kube.client());
    (kube, deployer)
}

fn refused_objects(failed: &slipway::cluster::ApplyFailed) -> Vec<(String, String)> {
    match &failed.error {
        ClusterError::NotOwned { objects } => objects
            .iter()
            .map(|o| (o.object.to_string(), o.owner.clone()))
            .collect(),
        other => panic!("expected NotOwned, got {other:?}"),
    }
}

#[tokio::test]
async fn an_object_of_another_environment_is_refused_before_anything_is_applied() {
    let (kube, deployer) = shop().await;
    let prod = Inventory::new("acme/config", "prod");
    deployer
        .apply(&[config_map(NS, "shared", json!({"owner": "prod"}))], &prod)
        .await
        .expect("prod applied");
    // dev's author renders prod's object under its own name, next to dev's own.
    let failed = deployer
        .apply(
            &[
                config_map(NS, "dev-only", json!({})),
                config_map(NS, "shared", json!({"owner": "dev"})),
            ],
            &dev(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        failed.object,
        Some(key("", "ConfigMap", Some(NS), "shared"))
    );
    assert_eq!(
        refused_objects(&failed),
        [(
            "ConfigMap shop/shared".to_string(),
            "environment `prod` of the config repo `acme/config`".to_string()
        )]
    );
    assert!(
        failed.to_string().contains("nothing was applied"),
        "{failed}"
    );
    assert!(failed.done.objects.is_empty());
    assert_eq!(
        kube.names("configmaps", NS),
        ["shared"],
        "not even dev's own"
    );
    let shared = kube.object("configmaps", NS, "shared").expect("kept");
    assert_eq!(shared["data"]["owner"], "prod");
    assert!(prod.owns(&labels(&shared)));
    assert_eq!(kube.requests("apply", "configmaps"), 1, "prod's apply only");
}

#[tokio::test]
async fn the_same_environment_name_in_another_config_repo_is_another_owner() {
    let (kube, deployer) = shop().await;
    let theirs = Inventory::new("mallory/config", "dev");
    deployer
        .apply(
            &[config_map(NS, "settings", json!({"owner": "acme"}))],
            &dev(),
        )
        .await
        .expect("acme's dev applied");
    let failed = deployer
        .apply(
            &[config_map(NS, "settings", json!({"owner": "mallory"}))],
            &theirs,
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused_objects(&failed),
        [(
            "ConfigMap shop/settings".to_string(),
            "environment `dev` of the config repo `acme/config`".to_string()
        )]
    );
    let settings = kube.object("configmaps", NS, "settings").expect("kept");
    assert_eq!(settings["data"]["owner"], "acme");
}

#[tokio::test]
async fn an_object_made_by_hand_is_refused_unless_the_environment_adopts_it() {
    let (kube, deployer) = shop().await;
    kube.write_as(
        "kubectl-create",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "settings", "namespace": NS}, "data": {"mode": "manual"}}),
    );
    let objects = [config_map(NS, "settings", json!({"mode": "fast"}))];
    let failed = deployer.apply(&objects, &dev()).await.unwrap_err();
    assert_eq!(
        refused_objects(&failed),
        [(
            "ConfigMap shop/settings".to_string(),
            "no slipway environment (it carries no slipway labels; written by kubectl-create)"
                .to_string()
        )]
    );
    assert_eq!(
        kube.object("configmaps", NS, "settings").expect("kept")["data"]["mode"],
        "manual"
    );

    // Listed in `adopt` (here: by kind and name), it is taken over and labelled as dev's.
    let adopt = |kind: &str, name: &str| kind == "ConfigMap" && name == "settings";
    let report = deployer
        .apply_adopting(&objects, &dev(), &adopt)
        .await
        .expect("adopted");
    assert_eq!(report.objects[0].action, Action::Configured);
    let adopted = kube.object("configmaps", NS, "settings").expect("stored");
    assert_eq!(adopted["data"]["mode"], "fast");
    assert!(dev().owns(&labels(&adopted)));
}

#[tokio::test]
async fn adopt_never_takes_another_environments_object() {
    let (kube, deployer) = shop().await;
    let prod = Inventory::new("acme/config", "prod");
    deployer
        .apply(&[config_map(NS, "shared", json!({"owner": "prod"}))], &prod)
        .await
        .expect("prod applied");
    let everything = |_: &str, _: &str| true;
    let failed = deployer
        .apply_adopting(
            &[config_map(NS, "shared", json!({"owner": "dev"}))],
            &dev(),
            &everything,
        )
        .await
        .unwrap_err();
    assert_eq!(refused_objects(&failed).len(), 1);
    assert!(prod.owns(&labels(
        &kube.object("configmaps", NS, "shared").expect("kept")
    )));
}

#[tokio::test]
async fn an_object_refused_and_then_no_longer_rendered_is_not_pruned() {
    let (kube, deployer) = shop().await;
    let prod = Inventory::new("acme/config", "prod");
    deployer
        .apply(&[config_map(NS, "shared", json!({}))], &prod)
        .await
        .expect("prod applied");
    deployer
        .apply(&[config_map(NS, "mine", json!({}))], &dev())
        .await
        .expect("dev applied");
    deployer
        .apply(
            &[
                config_map(NS, "mine", json!({})),
                config_map(NS, "shared", json!({})),
            ],
            &dev(),
        )
        .await
        .expect_err("prod's object is not dev's to take");
    // dev drops it again; its last deploy is remembered as having had it.
    let previous = [
        key("", "ConfigMap", Some(NS), "mine"),
        key("", "ConfigMap", Some(NS), "shared"),
    ];
    let pruned = deployer
        .prune(&dev(), &[config_map(NS, "mine", json!({}))], &previous)
        .await
        .expect("pruned");
    assert!(pruned.is_empty(), "{pruned:?}");
    assert_eq!(kube.names("configmaps", NS), ["mine", "shared"]);
}

#[tokio::test]
async fn a_forged_inventory_label_in_a_render_is_replaced_by_its_own_environments() {
    let (kube, deployer) = shop().await;
    deployer
        .apply(&[config_map(NS, "settings", json!({}))], &dev())
        .await
        .expect("dev applied");
    // prod's author copies dev's labels onto prod's object, hoping dev prunes it for them.
    let prod = Inventory::new("acme/config", "prod");
    let forged = object(labelled_config_map(NS, "bait", json!(dev().labels())));
    deployer
        .apply(&[forged], &prod)
        .await
        .expect("prod applied");
    let bait = kube.object("configmaps", NS, "bait").expect("stored");
    assert!(
        prod.owns(&labels(&bait)),
        "slipway wrote prod's label over it"
    );
    let pruned = deployer
        .prune(&dev(), &[config_map(NS, "settings", json!({}))], &[])
        .await
        .expect("pruned");
    assert!(pruned.is_empty(), "{pruned:?}");
    assert!(kube.object("configmaps", NS, "bait").is_some());
}

#[tokio::test]
async fn an_inventory_label_slipway_did_not_apply_prunes_nothing() {
    let (kube, deployer) = shop().await;
    deployer
        .apply(&[config_map(NS, "settings", json!({}))], &dev())
        .await
        .expect("dev applied");
    // Made by someone else, with dev's labels copied on (by hand, or from a pod template).
    kube.write_as(
        "kubectl-create",
        labelled_config_map(NS, "theirs", json!(dev().labels())),
    );
    let pruned = deployer
        .prune(&dev(), &[config_map(NS, "settings", json!({}))], &[])
        .await
        .expect("pruned");
    assert!(pruned.is_empty(), "{pruned:?}");
    assert_eq!(kube.names("configmaps", NS), ["settings", "theirs"]);
}

#[tokio::test]
async fn a_namespace_that_holds_another_environments_objects_is_not_pruned() {
    let (kube, deployer) = cluster().await;
    let prod = Inventory::new("acme/config", "prod");
    // dev made the namespace; prod keeps its objects in it too.
    deployer
        .apply(
            &[
                namespace("shared"),
                config_map("shared", "dev-settings", json!({})),
            ],
            &dev(),
        )
        .await
        .expect("dev applied");
    deployer
        .apply(&[config_map("shared", "prod-settings", json!({}))], &prod)
        .await
        .expect("prod applied");
    // dev stops rendering the namespace (and its object in it).
    let previous = [
        key("", "Namespace", None, "shared"),
        key("", "ConfigMap", Some("shared"), "dev-settings"),
    ];
    let pruned = deployer
        .prune(&dev(), &[], &previous)
        .await
        .expect("pruned");
    assert_eq!(
        pruned,
        [key("", "ConfigMap", Some("shared"), "dev-settings")],
        "dev's own object goes, the namespace with prod's in it stays"
    );
    assert!(kube.object("namespaces", "", "shared").is_some());
    assert_eq!(kube.names("configmaps", "shared"), ["prod-settings"]);

    // Once prod has left, the namespace is dev's alone to prune.
    deployer
        .prune(
            &prod,
            &[],
            &[key("", "ConfigMap", Some("shared"), "prod-settings")],
        )
        .await
        .expect("prod pruned");
    let pruned = deployer
        .prune(&dev(), &[], &previous)
        .await
        .expect("pruned");
    assert_eq!(pruned, [key("", "Namespace", None, "shared")]);
}

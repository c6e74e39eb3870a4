//! The object-level diff: matching, normalisation, outcomes and order.

mod manifests;

use manifests::objects::{config_map, deployment, object};
use manifests::FINGERPRINT_KEY;
use slipway::diff::{diff_environment, Change};

#[test]
fn server_managed_fields_and_status_are_not_changes() {
    let base = deployment("team-dev", "api", "registry.example.com/api:1.0", 2);
    let mut head = base.clone();
    let metadata = head.value["metadata"].as_object_mut().unwrap();
    metadata.insert("uid".into(), "0b6c4a1e-1111".into());
    metadata.insert("resourceVersion".into(), "4711".into());
    metadata.insert("generation".into(), 7.into());
    metadata.insert("creationTimestamp".into(), "2024-01-01T00:00:00Z".into());
    metadata.insert(
        "managedFields".into(),
        serde_json::json!([{"manager": "kubectl", "operation": "Apply"}]),
    );
    metadata.insert(
        "annotations".into(),
        serde_json::json!({"kubectl.kubernetes.io/last-applied-configuration": "{\"kind\":\"Deployment\"}"}),
    );
    head.value["status"] = serde_json::json!({"readyReplicas": 2});

    let diff = diff_environment("dev", &[base], &[head], &FINGERPRINT_KEY);

    assert_eq!(diff.objects.len(), 1);
    assert_eq!(diff.objects[0].change, Change::Unchanged);
    assert!(!diff.has_changes());
}

#[test]
fn other_annotations_survive_normalisation_and_show_in_the_diff() {
    let base = deployment("team-dev", "api", "registry.example.com/api:1.0", 2);
    let mut head = base.clone();
    head.value["metadata"]["annotations"] = serde_json::json!({
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "team": "payments",
    });

    let diff = diff_environment("dev", &[base], &[head], &FINGERPRINT_KEY);

    let object = &diff.objects[0];
    assert_eq!(object.change, Change::Changed);
    let text = object.diff.as_deref().unwrap();
    assert!(
        text.contains("+  annotations:\n+    team: payments\n"),
        "{text}"
    );
    assert!(!text.contains("last-applied"), "{text}");
}

#[test]
fn keys_are_sorted_so_source_order_is_not_a_change() {
    let base = object(
        "a.yaml",
        "kind: ConfigMap\napiVersion: v1\nmetadata: {namespace: ns, name: cfg}\ndata: {b: '2', a: '1'}\n",
    );
    let head = object(
        "a.yaml",
        "apiVersion: v1\ndata: {a: '1', b: '2'}\nkind: ConfigMap\nmetadata: {name: cfg, namespace: ns}\n",
    );

    let diff = diff_environment(
        "dev",
        &[base],
        std::slice::from_ref(&head),
        &FINGERPRINT_KEY,
    );
    assert_eq!(diff.objects[0].change, Change::Unchanged);

    let added = diff_environment("dev", &[], &[head], &FINGERPRINT_KEY);
    let yaml = added.objects[0].yaml.as_deref().unwrap();
    assert_eq!(
        yaml,
        "apiVersion: v1\ndata:\n  a: '1'\n  b: '2'\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: ns\n"
    );
}

#[test]
fn a_changed_object_gets_a_unified_diff_with_three_lines_of_context() {
    let base = deployment("team-dev", "api", "registry.example.com/api:1.0", 2);
    let head = deployment("team-dev", "api", "registry.example.com/api:1.1", 2);

    let diff = diff_environment("dev", &[base], &[head], &FINGERPRINT_KEY);

    let text = diff.objects[0].diff.as_deref().unwrap();
    let expected = "\
@@ -16,7 +16,7 @@
         app: api
     spec:
       containers:
-      - image: registry.example.com/api:1.0
+      - image: registry.example.com/api:1.1
         name: api
         ports:
         - containerPort: 8080
";
    assert_eq!(text, expected);
}

#[test]
fn each_object_is_added_removed_changed_or_unchanged() {
    let base = vec![
        config_map("ns", "kept", "k", "v"),
        config_map("ns", "edited", "k", "old"),
        config_map("ns", "dropped", "k", "v"),
    ];
    let head = vec![
        config_map("ns", "kept", "k", "v"),
        config_map("ns", "edited", "k", "new"),
        config_map("ns", "created", "k", "v"),
    ];

    let diff = diff_environment("dev", &base, &head, &FINGERPRINT_KEY);

    let outcomes: Vec<(&str, Change)> = diff
        .objects
        .iter()
        .map(|o| (o.id.name.as_str(), o.change))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("created", Change::Added),
            ("dropped", Change::Removed),
            ("edited", Change::Changed),
            ("kept", Change::Unchanged),
        ]
    );
    let added = &diff.objects[0];
    assert!(added.diff.as_deref().unwrap().starts_with("@@ -0,0 +1,"));
    assert!(added.base.is_none() && added.head.is_some());
    let removed = &diff.objects[1];
    assert!(removed.yaml.as_deref().unwrap().contains("name: dropped"));
    assert!(diff.objects[3].diff.is_none());
    assert_eq!(diff.summary.len(), 1);
    let summary = &diff.summary[0];
    assert_eq!(
        (
            summary.kind.as_str(),
            summary.added,
            summary.changed,
            summary.removed,
            summary.unchanged
        ),
        ("ConfigMap", 1, 1, 1, 1)
    );
}

#[test]
fn objects_are_ordered_by_namespace_then_kind_then_name() {
    let objects = vec![
        config_map("zeta", "b", "k", "v"),
        deployment("alpha", "web", "nginx:1", 1),
        config_map("alpha", "z", "k", "v"),
        config_map("alpha", "a", "k", "v"),
        object(
            "ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: alpha}\n",
        ),
    ];
    let mut reversed = objects.clone();
    reversed.reverse();

    let forward = diff_environment("dev", &[], &objects, &FINGERPRINT_KEY);
    let backward = diff_environment("dev", &[], &reversed, &FINGERPRINT_KEY);

    let order: Vec<String> = forward.objects.iter().map(|o| o.id.to_string()).collect();
    assert_eq!(
        order,
        [
            "Namespace alpha",
            "ConfigMap alpha/a",
            "ConfigMap alpha/z",
            "Deployment.apps alpha/web",
            "ConfigMap zeta/b",
        ]
    );
    assert_eq!(forward, backward);
}

#[test]
fn objects_of_the_same_kind_and_name_in_different_groups_are_different_objects() {
    let core = object(
        "a.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: ns}\n",
    );
    let other = object(
        "b.yaml",
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: api, namespace: ns}\n",
    );

    let diff = diff_environment("dev", &[core], &[other], &FINGERPRINT_KEY);

    let outcomes: Vec<(String, Change)> = diff
        .objects
        .iter()
        .map(|o| (o.id.group.clone(), o.change))
        .collect();
    assert_eq!(
        outcomes,
        [
            (String::new(), Change::Removed),
            ("serving.knative.dev".to_owned(), Change::Added)
        ]
    );
}

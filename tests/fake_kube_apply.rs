//! Server-side apply, dry runs, the added resource types and the workload rollouts of the fake
//! Kubernetes API server, driven by the real `kube::Client`.

mod support;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
    PostParams, WatchEvent, WatchParams,
};
use kube::Discovery;
use serde_json::{json, Value};
use support::fake_kube::FakeKube;

const NS: &str = "shop";

async fn cluster() -> FakeKube {
    FakeKube::builder().namespace(NS).start().await
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS, "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    })
}

fn api_error(error: kube::Error) -> Box<kube::core::Status> {
    match error {
        kube::Error::Api(status) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn managers(object: &Value) -> Vec<(String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or_default().to_string(),
                        e["operation"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn apply(api: &Api<DynamicObject>, params: &PatchParams, object: &Value) -> Value {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let applied = api
        .patch(name, params, &Patch::Apply(object))
        .await
        .unwrap_or_else(|e| panic!("apply {name}: {e}"));
    serde_json::to_value(applied).expect("an object")
}

fn deployments(kube: &FakeKube) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apps", "v1", "Deployment"),
        "deployments",
    );
    Api::namespaced_with(kube.client(), NS, &ar)
}

#[tokio::test]
async fn an_apply_creates_the_object_and_records_its_fields_for_the_manager() {
    let kube = cluster().await;
    let api = deployments(&kube);
    let created = apply(
        &api,
        &PatchParams::apply("slipway"),
        &deployment(2, "web:1"),
    )
    .await;
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(
        managers(&created),
        [("slipway".to_string(), "Apply".to_string())]
    );
    let entry = &created["metadata"]["managedFields"][0];
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert_eq!(entry["apiVersion"], "apps/v1");
    let fields = &entry["fieldsV1"];
    assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
    assert_eq!(fields["f:metadata"]["f:labels"]["f:app"], json!({}));
    let container =
        &fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
    assert_eq!(container["."], json!({}), "the item itself is owned");
    assert_eq!(container["f:image"], json!({}));
    assert_eq!(kube.requests("apply", "deployments"), 1);
    assert_eq!(kube.requests("patch", "deployments"), 0);
}

#[tokio::test]
async fn applying_the_same_object_again_changes_nothing_and_sends_no_event() {
    let kube = cluster().await;
    let api = deployments(&kube);
    let params = PatchParams::apply("slipway");
    let first = apply(&api, &params, &deployment(2, "web:1")).await;
    let version = first["metadata"]["resourceVersion"].clone();

    let mut events = Box::pin(
        api.watch(&WatchParams::default(), version.as_str().unwrap_or("0"))
            .await
            .expect("watch"),
    );
    let again = apply(&api, &params, &deployment(2, "web:1")).await;
    assert_eq!(again["metadata"]["resourceVersion"], version);
    assert_eq!(again["metadata"]["generation"], 1);

    // The next event the watch sees is the next real change, not the no-op.
    apply(&api, &params, &deployment(3, "web:1")).await;
    use futures::StreamExt;
    let event = events.next().await.expect("an event").expect("no error");
    let WatchEvent::Modified(changed) = event else {
        panic!("expected MODIFIED, got {event:?}")
    };
    assert_eq!(changed.data["spec"]["replicas"], 3);
}

#[tokio::test]
async fn generation_moves_with_the_spec_not_with_labels() {
    let kube = cluster().await;
    let api = deployments(&kube);
    let params = PatchParams::apply("slipway");
    apply(&api, &params, &deployment(2, "web:1")).await;
    let mut relabelled = deployment(2, "web:1");
    relabelled["metadata"]["labels"]["tier"] = json!("front");
    let after_labels = apply(&api, &params, &relabelled).await;
    assert_eq!(after_labels["metadata"]["generation"], 1);
    let mut new_image = relabelled.clone();
    new_image["spec"]["template"]["spec"]["containers"][0]["image"] = json!("web:2");
    let after_image = apply(&api, &params, &new_image).await;
    assert_eq!(after_image["metadata"]["generation"], 2);
}

#[tokio::test]
async fn an_apply_without_a_field_manager_is_invalid() {
    let kube = cluster().await;
    let api = deployments(&kube);
    let error = api_error(
        api.patch(
            "web",
            &PatchParams::default(),
            &Patch::Apply(&deployment(1, "web:1")),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        error.message,
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    assert!(kube.names("deployments", NS).is_empty());
}

#[tokio::test]
async fn changing_a_field_another_manager_owns_is_a_conflict_until_forced() {
    let kube = cluster().await;
    let api = deployments(&kube);
    apply(
        &api,
        &PatchParams::apply("slipway"),
        &deployment(2, "web:1"),
    )
    .await;
    // Someone scales by hand: an Update that takes `.spec.replicas`.
    kube.write_as(
        "kubectl-edit",
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": NS}, "spec": {"replicas": 5}}),
    );
    let edited = kube.object("deployments", NS, "web").expect("stored");
    assert_eq!(
        managers(&edited),
        [
            ("slipway".to_string(), "Apply".to_string()),
            ("kubectl-edit".to_string(), "Update".to_string())
        ]
    );

    let error = api_error(
        api.patch(
            "web",
            &PatchParams::apply("slipway"),
            &Patch::Apply(&deployment(2, "web:1")),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (409, "Conflict"));
    let causes = error.details.expect("details").causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(causes[0].field, ".spec.replicas");
    assert!(
        causes[0]
            .message
            .starts_with("conflict with \"kubectl-edit\" using apps/v1 at "),
        "{}",
        causes[0].message
    );
    assert!(
        error.message.starts_with(
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1 at "
        ),
        "{}",
        error.message
    );
    assert!(error.message.ends_with(": .spec.replicas"));
    assert_eq!(
        kube.object("deployments", NS, "web").expect("stored")["spec"]["replicas"],
        5,
        "a refused apply changes nothing"
    );

    let forced = apply(
        &api,
        &PatchParams::apply("slipway").force(),
        &deployment(2, "web:1"),
    )
    .await;
    assert_eq!(forced["spec"]["replicas"], 2);
    // kubectl-edit owned nothing else, so its entry is gone.
    assert_eq!(
        managers(&forced),
        [("slipway".to_string(), "Apply".to_string())]
    );
}

#[tokio::test]
async fn creates_and_patches_are_updates_by_their_field_manager() {
    let kube = cluster().await;
    let configmaps = Api::<ConfigMap>::namespaced(kube.client(), NS);
    let map: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings"}, "data": {"a": "1"},
    }))
    .expect("a ConfigMap");
    let created = configmaps
        .create(
            &PostParams {
                field_manager: Some("kubectl-create".into()),
                ..PostParams::default()
            },
            &map,
        )
        .await
        .expect("created");
    let created = serde_json::to_value(created).expect("json");
    assert_eq!(
        managers(&created),
        [("kubectl-create".to_string(), "Update".to_string())]
    );
    assert_eq!(
        created["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:data": {"f:a": {}}})
    );
    let patched = configmaps
        .patch(
            "settings",
            &PatchParams {
                field_manager: Some("kubectl-patch".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"data": {"a": "2", "b": "3"}})),
        )
        .await
        .expect("patched");
    let patched = serde_json::to_value(patched).expect("json");
    // The patch changed `a` and added `b`: both are its fields now, none is left to the creator.
    assert_eq!(
        managers(&patched),
        [("kubectl-patch".to_string(), "Update".to_string())]
    );
}

#[tokio::test]
async fn applying_the_value_another_manager_set_shares_the_field_without_conflict() {
    let kube = cluster().await;
    let api = deployments(&kube);
    kube.write_as("kubectl-create", deployment(2, "web:1"));
    let applied = apply(
        &api,
        &PatchParams::apply("slipway"),
        &deployment(2, "web:1"),
    )
    .await;
    assert_eq!(
        managers(&applied),
        [
            ("kubectl-create".to_string(), "Update".to_string()),
            ("slipway".to_string(), "Apply".to_string())
        ]
    );
}

#[tokio::test]
async fn fields_an_applier_stops_sending_are_removed_unless_someone_else_owns_them() {
    let kube = cluster().await;
    let configmaps = Api::<ConfigMap>::namespaced(kube.client(), NS);
    let params = PatchParams::apply("slipway");
    let config = |data: Value| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "settings", "namespace": NS}, "data": data})
    };
    let keys = |map: Option<std::collections::BTreeMap<String, String>>| -> Vec<String> {
        map.unwrap_or_default().into_keys().collect()
    };
    configmaps
        .patch(
            "settings",
            &params,
            &Patch::Apply(config(json!({"a": "1", "b": "2", "e": "5"}))),
        )
        .await
        .expect("applied");
    // Another manager changes `b` (taking it over) and adds `c`.
    kube.write_as("operator", config(json!({"b": "20", "c": "3"})));
    let applied = configmaps
        .patch(
            "settings",
            &params,
            &Patch::Apply(config(json!({"a": "1"}))),
        )
        .await
        .expect("applied");
    assert_eq!(
        keys(applied.data),
        ["a", "b", "c"],
        "`e` was slipway's alone and is gone; `b` and `c` are the operator's"
    );
    let after = configmaps
        .patch(
            "settings",
            &params,
            &Patch::Apply(config(json!({"d": "4"}))),
        )
        .await
        .expect("applied");
    assert_eq!(keys(after.data), ["b", "c", "d"]);
}

#[tokio::test]
async fn keyed_containers_merge_by_name() {
    let kube = cluster().await;
    let api = deployments(&kube);
    apply(
        &api,
        &PatchParams::apply("slipway"),
        &deployment(1, "web:1"),
    )
    .await;
    // A sidecar injected by someone else stays when slipway applies again.
    let mut with_sidecar = kube.object("deployments", NS, "web").expect("stored");
    with_sidecar["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(json!({"name": "proxy", "image": "proxy:1"}));
    kube.write_as("injector", with_sidecar);
    let applied = apply(
        &api,
        &PatchParams::apply("slipway"),
        &deployment(1, "web:2"),
    )
    .await;
    let containers: Vec<(String, String)> = applied["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["image"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        containers,
        [
            ("web".to_string(), "web:2".to_string()),
            ("proxy".to_string(), "proxy:1".to_string())
        ]
    );
}

#[tokio::test]
async fn dry_runs_answer_as_if_done_and_store_nothing() {
    let kube = cluster().await;
    let api = deployments(&kube);
    let dry = PatchParams::apply("slipway").dry_run();
    let before = kube.resource_version();
    let answered = apply(&api, &dry, &deployment(2, "web:1")).await;
    assert_eq!(answered["spec"]["replicas"], 2);
    assert!(kube.names("deployments", NS).is_empty());
    assert_eq!(kube.resource_version(), before);

    let stored = apply(
        &api,
        &PatchParams::apply("slipway"),
        &deployment(2, "web:1"),
    )
    .await;
    let changed = apply(&api, &dry, &deployment(4, "web:1")).await;
    assert_eq!(changed["spec"]["replicas"], 4);
    assert_eq!(
        changed["metadata"]["resourceVersion"],
        stored["metadata"]["resourceVersion"]
    );
    assert_eq!(
        kube.object("deployments", NS, "web").expect("stored")["spec"]["replicas"],
        2
    );

    let typed: Api<Deployment> = Api::namespaced(kube.client(), NS);
    let patched = typed
        .patch(
            "web",
            &PatchParams::default().dry_run(),
            &Patch::Merge(json!({"spec": {"replicas": 7}})),
        )
        .await
        .expect("dry merge patch");
    assert_eq!(patched.spec.and_then(|s| s.replicas), Some(7));
    let mut replaced = typed.get("web").await.expect("read");
    replaced.spec.as_mut().expect("spec").replicas = Some(9);
    let dry_replace = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let answered = typed
        .replace("web", &dry_replace, &replaced)
        .await
        .expect("dry replace");
    assert_eq!(answered.metadata.generation, Some(2), "as if done");
    let version = kube.resource_version();
    assert_eq!(
        kube.object("deployments", NS, "web").expect("stored")["spec"]["replicas"],
        2
    );
    let dry_delete = DeleteParams {
        dry_run: true,
        ..DeleteParams::default()
    };
    typed.delete("web", &dry_delete).await.expect("dry delete");
    assert_eq!(kube.names("deployments", NS), ["web"]);
    assert_eq!(
        kube.resource_version(),
        version,
        "no dry run committed anything"
    );
    assert_eq!(kube.requests("dry-run patch", "deployments"), 1);
    assert_eq!(kube.requests("dry-run update", "deployments"), 1);
    assert_eq!(kube.requests("dry-run apply", "deployments"), 2);
    assert_eq!(kube.requests("dry-run delete", "deployments"), 1);
    assert_eq!(kube.requests("apply", "deployments"), 1);
}

#[tokio::test]
async fn a_crd_makes_its_kind_served_until_it_is_deleted() {
    let kube = cluster().await;
    let crds = Api::<DynamicObject>::all_with(
        kube.client(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                          "schema": {"openAPIV3Schema": {"type": "object"}}}],
        },
    });
    let created = apply(&crds, &PatchParams::apply("slipway"), &crd).await;
    assert_eq!(created["status"]["conditions"][1]["type"], "Established");

    let discovery = Discovery::new(kube.client())
        .run()
        .await
        .expect("discovery");
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"))
        .expect("the kind is served");
    assert_eq!(ar.plural, "widgets");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    let widgets = Api::<DynamicObject>::namespaced_with(kube.client(), NS, &ar);
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                        "metadata": {"name": "blue", "namespace": NS}, "spec": {"size": 3}});
    apply(&widgets, &PatchParams::apply("slipway"), &widget).await;

    crds.delete("widgets.example.com", &DeleteParams::background())
        .await
        .expect("deleted");
    let error = api_error(widgets.get("blue").await.unwrap_err());
    assert_eq!(error.code, 404);
}

#[tokio::test]
async fn a_crd_must_be_named_plural_dot_group() {
    let kube = cluster().await;
    let crds = Api::<DynamicObject>::all_with(
        kube.client(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    let crd: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": true, "storage": true}]},
    }))
    .expect("an object");
    let error = api_error(crds.create(&PostParams::default(), &crd).await.unwrap_err());
    assert_eq!(error.code, 422);
    assert!(error
        .message
        .contains("must be spec.names.plural+\".\"+spec.group"));
}

#[tokio::test]
async fn rollouts_write_what_the_controllers_write() {
    let kube = cluster().await;
    let params = PatchParams::apply("slipway");
    apply(&deployments(&kube), &params, &deployment(3, "web:1")).await;
    kube.roll_out("Deployment", NS, "web");
    let rolled: Deployment =
        serde_json::from_value(kube.object("deployments", NS, "web").expect("stored"))
            .expect("a Deployment");
    let status = rolled.status.expect("status");
    assert_eq!(status.observed_generation, rolled.metadata.generation);
    assert_eq!(
        (
            status.replicas,
            status.updated_replicas,
            status.ready_replicas,
            status.available_replicas
        ),
        (Some(3), Some(3), Some(3), Some(3))
    );
    assert_eq!(
        rolled.metadata.annotations.expect("annotations")["deployment.kubernetes.io/revision"],
        "1"
    );

    let sets: Api<StatefulSet> = Api::namespaced(kube.client(), NS);
    let set: StatefulSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "db", "image": "db:1"}]}}},
    }))
    .expect("a StatefulSet");
    sets.create(&PostParams::default(), &set)
        .await
        .expect("created");
    kube.roll_out("statefulsets", NS, "db");
    let status = sets.get("db").await.expect("read").status.expect("status");
    assert_eq!(
        status.ready_replicas,
        Some(1),
        "spec.replicas defaults to 1"
    );
    assert_eq!(status.current_revision, status.update_revision);

    let daemons: Api<DaemonSet> = Api::namespaced(kube.client(), NS);
    let daemon: DaemonSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "agent", "image": "agent:1"}]}}},
    }))
    .expect("a DaemonSet");
    daemons
        .create(&PostParams::default(), &daemon)
        .await
        .expect("created");
    kube.roll_out("DaemonSet", NS, "agent");
    let status = daemons
        .get("agent")
        .await
        .expect("read")
        .status
        .expect("status");
    assert_eq!(status.desired_number_scheduled, 1);
    assert_eq!(status.number_available, Some(1));
}

#[tokio::test]
async fn auto_rollouts_complete_every_workload_write_and_failures_say_why() {
    let kube = cluster().await;
    kube.auto_roll_out(true);
    let params = PatchParams::apply("slipway");
    apply(&deployments(&kube), &params, &deployment(2, "web:1")).await;
    let stored = kube.object("deployments", NS, "web").expect("stored");
    assert_eq!(stored["status"]["availableReplicas"], 2);
    assert_eq!(stored["status"]["observedGeneration"], 1);

    // A rollout completed again, later, writes nothing new.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let version = kube.resource_version();
    kube.roll_out("Deployment", NS, "web");
    assert_eq!(kube.resource_version(), version);

    kube.fail_rollout("Deployment", NS, "web", "ProgressDeadlineExceeded");
    let failed = kube.object("deployments", NS, "web").expect("stored");
    let progressing = failed["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == "Progressing")
        .cloned()
        .expect("Progressing");
    assert_eq!(progressing["status"], "False");
    assert_eq!(progressing["reason"], "ProgressDeadlineExceeded");
}

#[tokio::test]
async fn rbac_knows_an_apply_as_a_patch() {
    let kube = cluster().await;
    kube.forbid("patch", "deployments");
    let error = api_error(
        deployments(&kube)
            .patch(
                "web",
                &PatchParams::apply("slipway"),
                &Patch::Apply(&deployment(1, "web:1")),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 403);
    assert!(error
        .message
        .contains("cannot patch resource \"deployments\""));
    assert_eq!(kube.requests("apply", "deployments"), 1);
}

#[tokio::test]
async fn a_cluster_scoped_crds_kind_is_served_cluster_wide_and_discovery_says_so() {
    let kube = cluster().await;
    let crds = Api::<DynamicObject>::all_with(
        kube.client(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gates.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"plural": "gates", "singular": "gate", "kind": "Gate"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                          "schema": {"openAPIV3Schema": {"type": "object"}}}],
        },
    });
    apply(&crds, &PatchParams::apply("slipway"), &crd).await;

    let group = kube::discovery::pinned_group(
        &kube.client(),
        &kube::core::GroupVersion::gv("example.com", "v1"),
    )
    .await
    .expect("the group is served");
    let (ar, caps) = group
        .versioned_resources("v1")
        .into_iter()
        .find(|(ar, _)| ar.kind == "Gate")
        .expect("the kind is listed");
    assert_eq!(caps.scope, kube::discovery::Scope::Cluster);
    // Written with a namespace, it is still made cluster-wide, as the apiserver does.
    let gates = Api::<DynamicObject>::all_with(kube.client(), &ar);
    let gate = json!({"apiVersion": "example.com/v1", "kind": "Gate",
                      "metadata": {"name": "open", "namespace": NS}});
    let made = apply(&gates, &PatchParams::apply("slipway"), &gate).await;
    assert!(made["metadata"]["namespace"].is_null(), "{made}");
}

#[tokio::test]
async fn a_new_spec_after_a_failed_rollout_keeps_the_old_status_until_the_controller_acts() {
    let kube = cluster().await;
    let params = PatchParams::apply("slipway");
    apply(&deployments(&kube), &params, &deployment(2, "web:broken")).await;
    kube.fail_rollout("Deployment", NS, "web", "ProgressDeadlineExceeded");

    apply(&deployments(&kube), &params, &deployment(2, "web:fixed")).await;
    let fixed = kube.object("deployments", NS, "web").expect("stored");
    assert_eq!(fixed["metadata"]["generation"], 2);
    assert_eq!(fixed["status"]["observedGeneration"], 1);
    let reason = |object: &Value| {
        object["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Progressing")
            .map(|c| c["reason"].clone())
    };
    assert_eq!(
        reason(&fixed),
        Some(json!("ProgressDeadlineExceeded")),
        "the controller has not looked at generation 2 yet"
    );

    kube.roll_out("Deployment", NS, "web");
    let done = kube.object("deployments", NS, "web").expect("stored");
    assert_eq!(done["status"]["observedGeneration"], 2);
    assert_eq!(reason(&done), Some(json!("NewReplicaSetAvailable")));
}

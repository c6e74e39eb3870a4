//! The workload controllers, played by tests: what the Deployment, StatefulSet and DaemonSet
//! controllers of Kubernetes 1.32 write when a rollout completes, and what the Deployment
//! controller writes when one exceeds its progress deadline.

use serde_json::{json, Value};

use super::resources::ResourceType;
use super::status::ApiError;
use super::store::{now, Part, Store, Write};

/// The manager the controllers' writes are recorded under.
const CONTROLLER_MANAGER: &str = "kube-controller-manager";
/// The revision annotation the Deployment controller keeps on a Deployment.
const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// A short stable hash of a pod template, as the controllers name ReplicaSets and revisions.
fn template_hash(object: &Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    object["spec"]["template"].to_string().hash(&mut hasher);
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = hasher.finish();
    (0..10)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

fn replicas(object: &Value) -> i64 {
    object["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn generation(object: &Value) -> i64 {
    object["metadata"]["generation"].as_i64().unwrap_or(1)
}

/// The status of a workload whose rollout is complete.
fn complete_status(rt: &ResourceType, object: &Value, nodes: i64) -> Value {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let n = replicas(object);
    let at = now();
    match rt.plural {
        "deployments" => json!({
            "observedGeneration": generation(object),
            "replicas": n,
            "updatedReplicas": n,
            "readyReplicas": n,
            "availableReplicas": n,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability.",
                 "lastUpdateTime": at, "lastTransitionTime": at},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": format!("ReplicaSet \"{name}-{}\" has successfully progressed.", template_hash(object)),
                 "lastUpdateTime": at, "lastTransitionTime": at},
            ],
        }),
        "statefulsets" => {
            let revision = format!("{name}-{}", template_hash(object));
            json!({
                "observedGeneration": generation(object),
                "replicas": n,
                "readyReplicas": n,
                "currentReplicas": n,
                "updatedReplicas": n,
                "availableReplicas": n,
                "currentRevision": revision,
                "updateRevision": revision,
                "collisionCount": 0,
            })
        }
        _ => json!({
            "observedGeneration": generation(object),
            "currentNumberScheduled": nodes,
            "desiredNumberScheduled": nodes,
            "numberAvailable": nodes,
            "numberMisscheduled": 0,
            "numberReady": nodes,
            "updatedNumberScheduled": nodes,
        }),
    }
}

/// As the controller of a Deployment, StatefulSet or DaemonSet: the rollout of the current
/// generation is complete (a DaemonSet runs on `nodes` nodes). A Deployment also gets its
/// revision annotation, as the Deployment controller writes it.
pub fn complete(
    store: &mut Store,
    rt: &'static ResourceType,
    namespace: &str,
    name: &str,
    nodes: i64,
) -> Result<(), ApiError> {
    let mut object = store.get(rt, Some(namespace), name)?;
    if rt.plural == "deployments"
        && object["metadata"]["annotations"][REVISION_ANNOTATION].is_null()
    {
        if !object["metadata"]["annotations"].is_object() {
            object["metadata"]["annotations"] = json!({});
        }
        object["metadata"]["annotations"][REVISION_ANNOTATION] = json!("1");
        object = store.replace_with(
            rt,
            Some(namespace),
            name,
            object,
            Part::Object,
            &Write::by(CONTROLLER_MANAGER, false),
        )?;
    }
    let mut status = complete_status(rt, &object, nodes);
    keep_condition_times(&object["status"], &mut status);
    if object["status"] != status {
        store.replace(
            rt,
            Some(namespace),
            name,
            json!({ "status": status }),
            Part::Status,
        )?;
    }
    Ok(())
}

/// A condition that did not change keeps its times, as the controllers keep them: a rollout
/// completed again writes nothing.
fn keep_condition_times(old: &Value, new: &mut Value) {
    let Some(conditions) = new["conditions"].as_array_mut() else {
        return;
    };
    let before = old["conditions"].as_array().cloned().unwrap_or_default();
    for condition in conditions {
        let same = before.iter().find(|b| {
            ["type", "status", "reason", "message"]
                .iter()
                .all(|field| b[*field] == condition[*field])
        });
        if let Some(same) = same {
            for time in ["lastUpdateTime", "lastTransitionTime"] {
                condition[time] = same[time].clone();
            }
        }
    }
}

/// As the Deployment controller when a rollout does not progress within
/// `progressDeadlineSeconds`: `Progressing=False`, reason `ProgressDeadlineExceeded`.
pub fn fail(
    store: &mut Store,
    rt: &'static ResourceType,
    namespace: &str,
    name: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let object = store.get(rt, Some(namespace), name)?;
    let n = replicas(&object);
    let at = now();
    let message = format!(
        "ReplicaSet \"{name}-{}\" has timed out progressing.",
        template_hash(&object)
    );
    let status = json!({
        "observedGeneration": generation(&object),
        "replicas": n,
        "updatedReplicas": n,
        "readyReplicas": 0,
        "availableReplicas": 0,
        "unavailableReplicas": n,
        "conditions": [
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
             "message": "Deployment does not have minimum availability.",
             "lastUpdateTime": at, "lastTransitionTime": at},
            {"type": "Progressing", "status": "False", "reason": reason,
             "message": message, "lastUpdateTime": at, "lastTransitionTime": at},
        ],
    });
    store.replace(
        rt,
        Some(namespace),
        name,
        json!({ "status": status }),
        Part::Status,
    )?;
    Ok(())
}

//! Whether an object is healthy, read from what its controller wrote, in the words
//! `kubectl rollout status` uses. Pure: an object in, a verdict out.

use serde_json::Value;

use super::apply::UnhealthyObject;
use crate::render::ObjectKey;

/// The health of the objects of a deploy. Healthy when nothing is pending or failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthReport {
    /// Still converging (or missing): may become healthy.
    pub pending: Vec<UnhealthyObject>,
    /// Will not become healthy without a change: a Deployment past its progress deadline, a
    /// failed Job.
    pub failed: Vec<UnhealthyObject>,
}

impl HealthReport {
    pub fn is_healthy(&self) -> bool {
        self.pending.is_empty() && self.failed.is_empty()
    }
}

/// One object's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Pending(String),
    Failed(String),
}

/// Kinds whose health is their controller's progress; any other object is healthy when it
/// exists.
pub fn is_workload(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet") | ("batch", "Job")
    )
}

/// The verdict on `object` (as the API returned it; `None` when it does not exist).
pub fn assess(key: &ObjectKey, object: Option<&Value>) -> Health {
    let Some(object) = object else {
        return Health::Pending("not found in the cluster".to_string());
    };
    match (key.group.as_str(), key.kind.as_str()) {
        ("apps", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => stateful_set(object),
        ("apps", "DaemonSet") => daemon_set(object),
        ("batch", "Job") => job(object),
        _ => Health::Healthy,
    }
}

/// The report of a set of verdicts.
pub fn report<'a>(verdicts: impl IntoIterator<Item = (&'a ObjectKey, Health)>) -> HealthReport {
    let mut report = HealthReport::default();
    for (key, health) in verdicts {
        let unhealthy = |reason| UnhealthyObject {
            object: key.clone(),
            reason,
        };
        match health {
            Health::Healthy => {}
            Health::Pending(reason) => report.pending.push(unhealthy(reason)),
            Health::Failed(reason) => report.failed.push(unhealthy(reason)),
        }
    }
    report
}

fn int(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// `Pending` while the controller has not seen the latest generation.
fn unobserved(object: &Value) -> Option<Health> {
    let generation = int(&object["metadata"]["generation"]);
    let observed = int(&object["status"]["observedGeneration"]);
    (observed < generation).then(|| {
        Health::Pending(format!(
            "waiting for the controller to observe generation {generation} (it has seen {observed})"
        ))
    })
}

fn deployment(object: &Value) -> Health {
    // Generation first, as `kubectl rollout status` reads it: until the controller has seen
    // this spec, every condition is about an older one (a rollout that failed before this
    // deploy still says `ProgressDeadlineExceeded`).
    if let Some(pending) = unobserved(object) {
        return pending;
    }
    if let Some(progressing) = condition(object, "Progressing") {
        if progressing["reason"] == "ProgressDeadlineExceeded" {
            let said = progressing["message"].as_str().unwrap_or_default();
            return Health::Failed(format!("exceeded its progress deadline: {said}"));
        }
    }
    let status = &object["status"];
    let desired = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let updated = int(&status["updatedReplicas"]);
    let replicas = int(&status["replicas"]);
    let available = int(&status["availableReplicas"]);
    let ready = int(&status["readyReplicas"]);
    if updated < desired {
        return Health::Pending(format!(
            "{updated} out of {desired} new replicas have been updated"
        ));
    }
    if replicas > updated {
        return Health::Pending(format!(
            "{} old replicas are pending termination",
            replicas - updated
        ));
    }
    if available < updated {
        return Health::Pending(format!(
            "{available} of {updated} updated replicas are available"
        ));
    }
    if ready < desired {
        return Health::Pending(format!("{ready} of {desired} replicas are ready"));
    }
    Health::Healthy
}

fn stateful_set(object: &Value) -> Health {
    if let Some(pending) = unobserved(object) {
        return pending;
    }
    let status = &object["status"];
    let desired = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let ready = int(&status["readyReplicas"]);
    let available = int(&status["availableReplicas"]);
    if ready < desired {
        return Health::Pending(format!("{ready} of {desired} pods are ready"));
    }
    if object["spec"]["updateStrategy"]["type"] == "OnDelete" {
        // Pods are replaced only when someone deletes them: nothing to wait for.
        return Health::Healthy;
    }
    let partition = int(&object["spec"]["updateStrategy"]["rollingUpdate"]["partition"]);
    let updated = int(&status["updatedReplicas"]);
    if partition > 0 {
        let expected = desired - partition;
        if updated < expected {
            return Health::Pending(format!(
                "{updated} of {expected} pods updated to the new revision (partition {partition})"
            ));
        }
        return Health::Healthy;
    }
    let current = status["currentRevision"].as_str().unwrap_or_default();
    let update = status["updateRevision"].as_str().unwrap_or_default();
    if current != update || updated < desired {
        return Health::Pending(format!(
            "rolling update in progress: {updated} of {desired} pods at revision {update}"
        ));
    }
    if available < desired {
        return Health::Pending(format!("{available} of {desired} pods are available"));
    }
    Health::Healthy
}

fn daemon_set(object: &Value) -> Health {
    if let Some(pending) = unobserved(object) {
        return pending;
    }
    let status = &object["status"];
    let desired = int(&status["desiredNumberScheduled"]);
    let updated = int(&status["updatedNumberScheduled"]);
    let available = int(&status["numberAvailable"]);
    if updated < desired {
        return Health::Pending(format!(
            "{updated} out of {desired} new pods have been updated"
        ));
    }
    if available < desired {
        return Health::Pending(format!(
            "{available} of {desired} updated pods are available"
        ));
    }
    Health::Healthy
}

fn job(object: &Value) -> Health {
    let is_true = |kind| condition(object, kind).is_some_and(|c| c["status"] == "True");
    if is_true("Complete") {
        return Health::Healthy;
    }
    if is_true("Failed") {
        let failed = condition(object, "Failed").cloned().unwrap_or_default();
        let reason = failed["reason"].as_str().unwrap_or("Failed");
        let message = failed["message"].as_str().unwrap_or_default();
        return Health::Failed(if message.is_empty() {
            reason.to_string()
        } else {
            format!("{reason}: {message}")
        });
    }
    let active = int(&object["status"]["active"]);
    Health::Pending(format!("running ({active} active pods)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(group: &str, kind: &str) -> ObjectKey {
        ObjectKey {
            group: group.into(),
            kind: kind.into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        }
    }

    #[test]
    fn a_deployment_is_healthy_once_every_replica_is_updated_and_available() {
        let deploy = |observed: i64, updated: i64, available: i64| {
            json!({"metadata": {"generation": 2}, "spec": {"replicas": 3},
                   "status": {"observedGeneration": observed, "replicas": 3, "updatedReplicas": updated,
                              "readyReplicas": available, "availableReplicas": available}})
        };
        let k = key("apps", "Deployment");
        assert!(
            matches!(assess(&k, Some(&deploy(1, 3, 3))), Health::Pending(r) if r.contains("generation 2"))
        );
        assert_eq!(
            assess(&k, Some(&deploy(2, 1, 1))),
            Health::Pending("1 out of 3 new replicas have been updated".into())
        );
        assert_eq!(
            assess(&k, Some(&deploy(2, 3, 2))),
            Health::Pending("2 of 3 updated replicas are available".into())
        );
        assert_eq!(assess(&k, Some(&deploy(2, 3, 3))), Health::Healthy);
    }

    #[test]
    fn a_deployment_past_its_deadline_failed_in_the_controllers_words() {
        let stuck = json!({"metadata": {"generation": 1}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                 "message": "ReplicaSet \"web-abc\" has timed out progressing."}]}});
        assert_eq!(
            assess(&key("apps", "Deployment"), Some(&stuck)),
            Health::Failed(
                "exceeded its progress deadline: ReplicaSet \"web-abc\" has timed out progressing."
                    .into()
            )
        );
    }

    #[test]
    fn an_old_deadline_is_not_held_against_a_generation_the_controller_has_not_seen() {
        // The rollout of generation 1 timed out; this deploy wrote generation 2.
        let fixed = json!({"metadata": {"generation": 2}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                 "message": "ReplicaSet \"web-abc\" has timed out progressing."}]}});
        assert_eq!(
            assess(&key("apps", "Deployment"), Some(&fixed)),
            Health::Pending(
                "waiting for the controller to observe generation 2 (it has seen 1)".into()
            )
        );
    }

    #[test]
    fn a_stateful_set_waits_for_its_update_revision() {
        let set = json!({"metadata": {"generation": 1}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "readyReplicas": 2, "availableReplicas": 2,
                       "updatedReplicas": 1, "currentRevision": "db-1", "updateRevision": "db-2"}});
        assert!(matches!(
            assess(&key("apps", "StatefulSet"), Some(&set)),
            Health::Pending(_)
        ));
    }

    #[test]
    fn jobs_complete_or_fail_and_other_kinds_only_need_to_exist() {
        let failed = json!({"status": {"conditions": [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit"}]}});
        assert_eq!(
            assess(&key("batch", "Job"), Some(&failed)),
            Health::Failed(
                "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            )
        );
        let done = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(assess(&key("batch", "Job"), Some(&done)), Health::Healthy);
        assert_eq!(
            assess(&key("", "ConfigMap"), Some(&json!({}))),
            Health::Healthy
        );
        assert!(matches!(
            assess(&key("", "ConfigMap"), None),
            Health::Pending(_)
        ));
    }
}

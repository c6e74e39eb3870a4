//! Which pod of a build Job, and which of its containers, tells what the build did: pure.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// The pod created last: a Job that retried has its latest attempt there.
pub fn newest_pod(pods: &[Pod]) -> Option<&Pod> {
    pods.iter().max_by(|a, b| {
        let key = |pod: &Pod| {
            (
                pod.metadata.creation_timestamp.as_ref().map(|t| t.0),
                pod.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    })
}

/// The container whose log to show: the build's main container, unless an init container
/// (the source fetch) failed, or is still running while the main container has not started —
/// asking for a container that has not started is a 400 from the kubelet, and the init
/// container's log is where the build is.
pub fn log_container(pod: &Pod) -> Option<String> {
    let main = pod
        .spec
        .as_ref()?
        .containers
        .first()
        .map(|c| c.name.clone())?;
    let status = pod.status.as_ref();
    let inits = status
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or_default();
    let failed = |s: &ContainerStatus| {
        s.state
            .as_ref()
            .and_then(|state| state.terminated.as_ref())
            .is_some_and(|t| t.exit_code != 0)
    };
    if let Some(init) = inits.iter().find(|s| failed(s)) {
        return Some(init.name.clone());
    }
    let main_started = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default()
        .iter()
        .find(|s| s.name == main)
        .and_then(|s| s.state.as_ref())
        .is_some_and(|state| state.running.is_some() || state.terminated.is_some());
    let running_init = inits.iter().find(|s| {
        s.state
            .as_ref()
            .is_some_and(|state| state.running.is_some())
    });
    match running_init {
        Some(init) if !main_started => Some(init.name.clone()),
        _ => Some(main),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn pod(name: &str, created: &str, status: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": {
                "initContainers": [{"name": "source", "image": "alpine/git"}],
                "containers": [{"name": "build", "image": "kaniko"}],
            },
            "status": status,
        }))
        .expect("a Pod")
    }

    fn state(name: &str, state: Value) -> Value {
        json!({"name": name, "image": "i", "imageID": "", "ready": false, "restartCount": 0, "state": state})
    }

    #[test]
    fn the_newest_pod_is_the_one_created_last() {
        let pods = [
            pod("build-1-bbbbb", "2025-03-01T10:00:05Z", json!({})),
            pod("build-1-aaaaa", "2025-03-01T10:00:09Z", json!({})),
        ];
        assert_eq!(
            newest_pod(&pods).and_then(|p| p.metadata.name.as_deref()),
            Some("build-1-aaaaa")
        );
        assert!(newest_pod(&[]).is_none());
    }

    #[test]
    fn the_main_container_unless_the_source_step_failed_or_still_runs() {
        let at = "2025-03-01T10:00:00Z";
        let done = json!({"terminated": {"exitCode": 0, "reason": "Completed"}});
        let running = pod(
            "p",
            at,
            json!({
                "initContainerStatuses": [state("source", done.clone())],
                "containerStatuses": [state("build", json!({"running": {"startedAt": at}}))],
            }),
        );
        assert_eq!(log_container(&running).as_deref(), Some("build"));

        let fetch_failed = pod(
            "p",
            at,
            json!({
                "initContainerStatuses": [state("source", json!({"terminated": {"exitCode": 128, "reason": "Error"}}))],
                "containerStatuses": [state("build", json!({"waiting": {"reason": "PodInitializing"}}))],
            }),
        );
        assert_eq!(log_container(&fetch_failed).as_deref(), Some("source"));

        let fetching = pod(
            "p",
            at,
            json!({
                "initContainerStatuses": [state("source", json!({"running": {"startedAt": at}}))],
                "containerStatuses": [state("build", json!({"waiting": {"reason": "PodInitializing"}}))],
            }),
        );
        assert_eq!(log_container(&fetching).as_deref(), Some("source"));

        assert_eq!(
            log_container(&pod("p", at, json!({"phase": "Pending"}))).as_deref(),
            Some("build")
        );
    }
}

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

/// The container whose log to show: a step that failed (the source fetch, the build, the
/// push), else an init step still running while the main container has not started — asking
/// for a container that has not started is a 400 from the kubelet — else the `build` step
/// (the Dockerfile's output is what a reader wants), else the main container.
pub fn log_container(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let main = spec.containers.first().map(|c| c.name.clone())?;
    let status = pod.status.as_ref();
    let inits = status
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or_default();
    let mains = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let failed = |s: &ContainerStatus| {
        s.state
            .as_ref()
            .and_then(|state| state.terminated.as_ref())
            .is_some_and(|t| t.exit_code != 0)
    };
    if let Some(failure) = inits.iter().chain(mains).find(|s| failed(s)) {
        return Some(failure.name.clone());
    }
    let main_started = mains
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
        Some(init) if !main_started => return Some(init.name.clone()),
        _ => {}
    }
    let build_step = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .find(|c| c.name == "build");
    Some(build_step.map_or(main, |c| c.name.clone()))
}

/// What a finished build's pod says about the pushed image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportedDigest {
    /// `sha256:` and 64 lowercase hex digits.
    Valid(String),
    /// No container that finished left a termination message.
    Missing,
    /// A message that is not a digest (cut to 100 characters, for the check run).
    Malformed(String),
}

/// Whether `text` is an image digest slipway pins: `sha256:` and 64 lowercase hex digits.
pub fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// The digest the pod's push step left as its termination message (`state.terminated.message`
/// of a main container that exited 0; the last such one). Init containers run user code (the
/// Dockerfile) and are never asked: a `RUN` step can write its own termination message.
pub fn reported_digest(pod: &Pod) -> ReportedDigest {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let message = statuses
        .iter()
        .filter_map(|s| s.state.as_ref()?.terminated.as_ref())
        .filter(|t| t.exit_code == 0)
        .filter_map(|t| t.message.as_deref())
        .map(str::trim)
        .rfind(|m| !m.is_empty());
    match message {
        None => ReportedDigest::Missing,
        Some(digest) if is_digest(digest) => ReportedDigest::Valid(digest.to_string()),
        Some(other) => ReportedDigest::Malformed(other.chars().take(100).collect()),
    }
}

/// Whether the pod's source step is over (finished, failed, or the pod went past it): the
/// container that reads the source Secret `secret_name` has terminated, or a main container
/// has started. After that, nothing in the pod needs the installation token.
pub fn source_fetched(pod: &Pod, secret_name: &str) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let reads_secret = |c: &&k8s_openapi::api::core::v1::Container| {
        c.env.iter().flatten().any(|env| {
            env.value_from
                .as_ref()
                .and_then(|v| v.secret_key_ref.as_ref())
                .is_some_and(|r| r.name == secret_name)
        })
    };
    let readers: Vec<&str> = spec
        .init_containers
        .iter()
        .flatten()
        .filter(reads_secret)
        .map(|c| c.name.as_str())
        .collect();
    let status = pod.status.as_ref();
    let inits = status
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or_default();
    let terminated = |s: &ContainerStatus| {
        s.state
            .as_ref()
            .is_some_and(|state| state.terminated.is_some())
    };
    let readers_done = !readers.is_empty()
        && readers
            .iter()
            .all(|name| inits.iter().any(|s| s.name == *name && terminated(s)));
    let main_started = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default()
        .iter()
        .any(|s| {
            s.state
                .as_ref()
                .is_some_and(|state| state.running.is_some() || state.terminated.is_some())
        });
    readers_done || main_started
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

    fn finished_pod(message: Option<&str>, exit_code: i32) -> Pod {
        let mut terminated = json!({"exitCode": exit_code, "reason": "Completed"});
        if let Some(message) = message {
            terminated["message"] = json!(message);
        }
        pod(
            "p",
            "2025-03-01T10:00:00Z",
            json!({
                "initContainerStatuses": [state("source", json!({"terminated": {"exitCode": 0, "message": "sha256:ffff"}}))],
                "containerStatuses": [state("build", json!({"terminated": terminated}))],
            }),
        )
    }

    #[test]
    fn the_digest_is_the_main_containers_termination_message_when_it_is_one() {
        let digest = format!("sha256:{}", "ab12".repeat(16));
        assert_eq!(
            reported_digest(&finished_pod(Some(&format!("{digest}\n")), 0)),
            ReportedDigest::Valid(digest.clone())
        );
        assert_eq!(
            reported_digest(&finished_pod(None, 0)),
            ReportedDigest::Missing
        );
        assert_eq!(
            reported_digest(&finished_pod(Some(&digest), 1)),
            ReportedDigest::Missing,
            "a failed container's message is no digest"
        );
        for bad in [
            format!("sha256:{}", "AB12".repeat(16)),
            format!("sha512:{}", "ab12".repeat(16)),
            format!("sha256:{}", "ab12".repeat(15)),
            format!("{digest} extra"),
            "registry.example.com/team/api@sha256:00".to_string(),
        ] {
            assert!(
                matches!(
                    reported_digest(&finished_pod(Some(&bad), 0)),
                    ReportedDigest::Malformed(_)
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_source_is_fetched_once_the_container_reading_its_secret_terminated() {
        let with_secret = |status: Value| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"name": "p"},
                "spec": {
                    "initContainers": [
                        {"name": "source", "image": "git", "env": [{"name": "GIT_TOKEN", "valueFrom": {"secretKeyRef": {"name": "job-source", "key": "token"}}}]},
                        {"name": "build", "image": "kaniko"},
                    ],
                    "containers": [{"name": "push", "image": "crane"}],
                },
                "status": status,
            }))
            .expect("a Pod")
        };
        let at = "2025-03-01T10:00:00Z";
        let fetching = with_secret(json!({"initContainerStatuses": [
            state("source", json!({"running": {"startedAt": at}})),
            state("build", json!({"waiting": {"reason": "PodInitializing"}})),
        ]}));
        assert!(!source_fetched(&fetching, "job-source"));
        assert!(!source_fetched(
            &with_secret(json!({"phase": "Pending"})),
            "job-source"
        ));
        let building = with_secret(json!({"initContainerStatuses": [
            state("source", json!({"terminated": {"exitCode": 0, "reason": "Completed"}})),
            state("build", json!({"running": {"startedAt": at}})),
        ]}));
        assert!(source_fetched(&building, "job-source"));
        let failed = with_secret(json!({"initContainerStatuses": [
            state("source", json!({"terminated": {"exitCode": 128, "reason": "Error"}})),
        ]}));
        assert!(source_fetched(&failed, "job-source"));
        assert!(
            !source_fetched(&building, "other-source"),
            "no container reads that Secret"
        );
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

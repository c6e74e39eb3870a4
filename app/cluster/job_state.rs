//! What a build Job and its pods say about the build: pure, from the objects alone.
//!
//! The Job's conditions decide the outcome. Kubernetes 1.31+ writes `SuccessCriteriaMet` /
//! `FailureTarget` as soon as the outcome is decided and `Complete` / `Failed` once the pods
//! are gone; either one is final for slipway, so a build is reported done without waiting for
//! pod termination. Without a final condition, the pods tell pending from running.

use k8s_openapi::api::batch::v1::{Job, JobCondition};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Where a build is. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// No such Job (never created, deleted, or collected after its TTL).
    Missing,
    /// Created; no pod running yet (pending, pulling images, init container).
    Pending,
    /// A pod of the Job runs (or ran, and the Job controller has not decided yet).
    /// `started_at` is the Job's `status.startTime`.
    Running { started_at: Option<i64> },
    Succeeded {
        started_at: Option<i64>,
        finished_at: Option<i64>,
    },
    Failed {
        reason: FailReason,
        message: String,
        started_at: Option<i64>,
        finished_at: Option<i64>,
    },
}

impl JobState {
    /// Succeeded or failed: nothing changes any more.
    pub fn is_finished(&self) -> bool {
        matches!(self, JobState::Succeeded { .. } | JobState::Failed { .. })
    }
}

/// Why the Job controller failed a Job (the reason of its `Failed` condition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailReason {
    /// `activeDeadlineSeconds` passed: the build timed out.
    DeadlineExceeded,
    /// The pod failed (slipway's builds get one try).
    BackoffLimitExceeded,
    /// Another reason (`PodFailurePolicy`, …), as Kubernetes named it.
    Other(String),
}

impl FailReason {
    pub fn parse(reason: &str) -> FailReason {
        match reason {
            "DeadlineExceeded" => FailReason::DeadlineExceeded,
            "BackoffLimitExceeded" => FailReason::BackoffLimitExceeded,
            other => FailReason::Other(other.to_string()),
        }
    }
}

/// The state of a build from its Job and the pods of that Job.
pub fn job_state(job: &Job, pods: &[Pod]) -> JobState {
    let status = job.status.clone().unwrap_or_default();
    let started_at = status.start_time.as_ref().map(millis);
    let conditions = status.conditions.unwrap_or_default();
    let holds = |kind: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    if let Some(failed) = holds("Failed").or_else(|| holds("FailureTarget")) {
        return JobState::Failed {
            reason: FailReason::parse(failed.reason.as_deref().unwrap_or_default()),
            message: failed.message.clone().unwrap_or_default(),
            started_at,
            finished_at: transition(failed),
        };
    }
    if let Some(done) = holds("Complete").or_else(|| holds("SuccessCriteriaMet")) {
        return JobState::Succeeded {
            started_at,
            finished_at: status
                .completion_time
                .as_ref()
                .map(millis)
                .or_else(|| transition(done)),
        };
    }
    let phase = |pod: &Pod| {
        pod.status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default()
    };
    // A pod that finished while the controller has not written the outcome yet ran: the
    // build is past pending. So is a pod past its first init step (the source fetch): the
    // Dockerfile runs in an init step too, while the pod's phase still says `Pending`.
    let init_started = |pod: &Pod| {
        let inits = pod
            .status
            .as_ref()
            .and_then(|s| s.init_container_statuses.as_deref())
            .unwrap_or_default();
        let first = pod
            .spec
            .as_ref()
            .and_then(|s| s.init_containers.as_ref())
            .and_then(|c| c.first())
            .map(|c| c.name.as_str());
        inits.iter().any(|s| {
            let state = s.state.as_ref();
            let terminated = state.is_some_and(|state| state.terminated.is_some());
            let running = state.is_some_and(|state| state.running.is_some());
            terminated || (running && first.is_some_and(|first| first != s.name))
        })
    };
    let ran = pods.iter().any(|pod| {
        matches!(phase(pod).as_str(), "Running" | "Succeeded" | "Failed") || init_started(pod)
    });
    if ran {
        JobState::Running { started_at }
    } else {
        JobState::Pending
    }
}

fn transition(condition: &JobCondition) -> Option<i64> {
    condition.last_transition_time.as_ref().map(millis)
}

fn millis(time: &Time) -> i64 {
    time.0.as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const START: &str = "2025-03-01T10:00:00Z";
    const START_MS: i64 = 1_740_823_200_000;
    const END: &str = "2025-03-01T10:04:30Z";
    const END_MS: i64 = START_MS + 270_000;

    fn job(status: Value) -> Job {
        serde_json::from_value(json!({"metadata": {"name": "build-1"}, "status": status}))
            .expect("a Job")
    }

    fn pod(phase: &str) -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": "build-1-x7k2p"}, "status": {"phase": phase}}),
        )
        .expect("a Pod")
    }

    fn condition(kind: &str, reason: &str, message: &str) -> Value {
        json!({"type": kind, "status": "True", "reason": reason, "message": message,
               "lastTransitionTime": END, "lastProbeTime": END})
    }

    #[test]
    fn a_job_without_pods_is_pending() {
        assert_eq!(job_state(&job(json!({})), &[]), JobState::Pending);
        let active = job(json!({"startTime": START, "active": 1}));
        assert_eq!(job_state(&active, &[pod("Pending")]), JobState::Pending);
    }

    #[test]
    fn a_running_pod_makes_the_build_running_since_the_job_started() {
        let active = job(json!({"startTime": START, "active": 1}));
        assert_eq!(
            job_state(&active, &[pod("Failed"), pod("Running")]),
            JobState::Running {
                started_at: Some(START_MS)
            }
        );
        assert_eq!(
            job_state(&active, &[pod("Succeeded")]),
            JobState::Running {
                started_at: Some(START_MS)
            },
            "finished pod, outcome not written yet"
        );
    }

    #[test]
    fn a_pending_pod_whose_init_steps_run_is_a_running_build() {
        let active = job(json!({"startTime": START, "active": 1}));
        let building: Pod = serde_json::from_value(json!({
            "metadata": {"name": "build-1-x7k2p"},
            "spec": {"initContainers": [{"name": "source"}, {"name": "build"}], "containers": [{"name": "push"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "source", "image": "git", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "build", "image": "kaniko", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"running": {"startedAt": START}}},
            ]},
        }))
        .expect("a Pod");
        assert_eq!(
            job_state(&active, &[building]),
            JobState::Running {
                started_at: Some(START_MS)
            }
        );
    }

    #[test]
    fn complete_is_success_with_the_completion_time() {
        let done = job(json!({
            "startTime": START, "completionTime": END, "succeeded": 1,
            "conditions": [
                condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
            ],
        }));
        assert_eq!(
            job_state(&done, &[pod("Succeeded")]),
            JobState::Succeeded {
                started_at: Some(START_MS),
                finished_at: Some(END_MS)
            }
        );
    }

    #[test]
    fn success_criteria_met_is_already_success() {
        let deciding = job(json!({"startTime": START, "conditions": [
            condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
        ]}));
        assert_eq!(
            job_state(&deciding, &[pod("Succeeded")]),
            JobState::Succeeded {
                started_at: Some(START_MS),
                finished_at: Some(END_MS)
            }
        );
    }

    #[test]
    fn a_deadline_is_a_timeout_finished_when_the_condition_was_written() {
        let failed = job(json!({"startTime": START, "failed": 1, "conditions": [
            condition("FailureTarget", "DeadlineExceeded", "Job was active longer than specified deadline"),
            condition("Failed", "DeadlineExceeded", "Job was active longer than specified deadline"),
        ]}));
        assert_eq!(
            job_state(&failed, &[]),
            JobState::Failed {
                reason: FailReason::DeadlineExceeded,
                message: "Job was active longer than specified deadline".to_string(),
                started_at: Some(START_MS),
                finished_at: Some(END_MS),
            }
        );
    }

    #[test]
    fn failure_target_alone_is_already_failed() {
        let failing = job(json!({"startTime": START, "conditions": [
            condition("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
        ]}));
        let JobState::Failed { reason, .. } = job_state(&failing, &[pod("Running")]) else {
            panic!("expected Failed")
        };
        assert_eq!(reason, FailReason::BackoffLimitExceeded);
    }

    #[test]
    fn a_false_condition_decides_nothing_and_unknown_reasons_are_kept() {
        let mut unknown = condition(
            "Failed",
            "PodFailurePolicy",
            "Container build exited with 42",
        );
        let pending = job(json!({"conditions": [{"type": "Failed", "status": "False"}]}));
        assert_eq!(job_state(&pending, &[]), JobState::Pending);
        unknown["lastTransitionTime"] = Value::Null;
        let JobState::Failed {
            reason,
            finished_at,
            ..
        } = job_state(&job(json!({"conditions": [unknown]})), &[])
        else {
            panic!("expected Failed")
        };
        assert_eq!(reason, FailReason::Other("PodFailurePolicy".to_string()));
        assert_eq!(finished_at, None);
    }
}

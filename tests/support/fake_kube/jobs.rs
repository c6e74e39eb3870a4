//! What the apiserver, the Job controller and the kubelet do with a Job, as Kubernetes 1.32
//! does it. The fake runs no controller loop: tests call these (through `FakeKube`) at the
//! moments a real controller would act, so every step is in the test's hands.
//!
//! Not modelled: the `batch.kubernetes.io/job-tracking` finalizer on pods (the fake has no
//! finalizers), retries under a `backoffLimit` above 0, indexed and parallel Jobs.

use serde_json::{json, Value};

use super::resources::{self, Propagation, ResourceType};
use super::selectors::LabelSelector;
use super::status::ApiError;
use super::store::{Part, Scope, Store};

pub const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";

/// What each container wrote to its termination-message file (`/dev/termination-log`), by
/// (namespace, pod, container): the kubelet puts it in `state.terminated.message` when the
/// container ends.
pub type TerminationLogs = std::collections::HashMap<(String, String, String), String>;
pub const JOB_NAME: &str = "batch.kubernetes.io/job-name";

/// How a Job ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Its pod exited 0.
    Succeeded,
    /// Its pod failed and no retry is left.
    BackoffLimitExceeded,
    /// `activeDeadlineSeconds` passed: the controller deletes the running pods.
    DeadlineExceeded,
}

fn jobs() -> &'static ResourceType {
    resources::find("batch", "v1", "jobs").expect("jobs are served")
}

fn pods() -> &'static ResourceType {
    resources::find("", "v1", "pods").expect("pods are served")
}

/// The apiserver's defaults and generated selector for a new Job (`SetDefaults_Job` and the
/// Job strategy's `generateSelector`): the pod template gets the Job's name and uid as labels,
/// the selector matches the uid.
pub fn default_on_create(job: &mut Value, uid: &str) {
    let name = job["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !job["spec"].is_object() {
        return;
    }
    let spec = &mut job["spec"];
    for (field, value) in [
        ("parallelism", json!(1)),
        ("completions", json!(1)),
        ("backoffLimit", json!(6)),
        ("completionMode", json!("NonIndexed")),
        ("suspend", json!(false)),
        ("podReplacementPolicy", json!("TerminatingOrFailed")),
    ] {
        if spec.get(field).is_none_or(Value::is_null) {
            spec[field] = value;
        }
    }
    // Defaulting runs first: a Job without labels takes its template's.
    let template_labels = spec["template"]["metadata"]["labels"].clone();
    if spec["manualSelector"].as_bool() != Some(true) {
        if !spec["template"]["metadata"].is_object() {
            spec["template"]["metadata"] = json!({});
        }
        let labels = &mut spec["template"]["metadata"]["labels"];
        if !labels.is_object() {
            *labels = json!({});
        }
        for (key, value) in [
            ("controller-uid", uid),
            (CONTROLLER_UID, uid),
            ("job-name", name.as_str()),
            (JOB_NAME, name.as_str()),
        ] {
            labels[key] = json!(value);
        }
        spec["selector"] = json!({"matchLabels": {CONTROLLER_UID: uid}});
    }
    let job_labels = &job["metadata"]["labels"];
    if template_labels.as_object().is_some_and(|l| !l.is_empty())
        && job_labels.as_object().is_none_or(|l| l.is_empty())
    {
        job["metadata"]["labels"] = template_labels;
    }
}

/// The pods the Job controls, by its uid label.
fn pods_of(store: &Store, namespace: &str, uid: &str) -> Vec<Value> {
    let scope = Scope {
        namespace: Some(namespace.to_string()),
        labels: LabelSelector::parse(&format!("{CONTROLLER_UID}={uid}")).unwrap_or_default(),
        ..Scope::default()
    };
    store.list(pods(), &scope)
}

fn phase(pod: &Value) -> &str {
    pod["status"]["phase"].as_str().unwrap_or("Pending")
}

fn is_active(pod: &Value) -> bool {
    matches!(phase(pod), "Pending" | "Running")
}

/// The controller's pod: `<job>-<5 random>` from the template, owned by the Job; the Job
/// gets its `startTime` and counts the pod as active.
pub fn start_pod(store: &mut Store, namespace: &str, job_name: &str) -> Result<String, ApiError> {
    let job = store.get(jobs(), Some(namespace), job_name)?;
    let uid = job["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let template = &job["spec"]["template"];
    let mut metadata = match &template["metadata"] {
        Value::Object(meta) => Value::Object(meta.clone()),
        _ => json!({}),
    };
    if let Some(meta) = metadata.as_object_mut() {
        meta.remove("name");
    }
    metadata["generateName"] = json!(format!("{job_name}-"));
    metadata["ownerReferences"] = json!([{
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": job_name,
        "uid": uid,
        "controller": true,
        "blockOwnerDeletion": true,
    }]);
    let pod = json!({"metadata": metadata, "spec": template["spec"].clone()});
    let created = store.create(pods(), Some(namespace), pod)?;
    let pod_name = created["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut status = job["status"].clone();
    if status["startTime"].is_null() {
        status["startTime"] = created["metadata"]["creationTimestamp"].clone();
    }
    write_counts(store, namespace, job_name, &uid, status)?;
    Ok(pod_name)
}

/// The Job's `active`/`ready` counts from its pods, as the controller keeps them.
fn write_counts(
    store: &mut Store,
    namespace: &str,
    job_name: &str,
    uid: &str,
    mut status: Value,
) -> Result<(), ApiError> {
    let owned = pods_of(store, namespace, uid);
    let active = owned.iter().filter(|p| is_active(p)).count();
    let ready = owned.iter().filter(|p| phase(p) == "Running").count();
    set_count(&mut status, "active", active);
    status["ready"] = json!(ready);
    status["terminating"] = json!(0);
    status["uncountedTerminatedPods"] = json!({});
    store.replace(
        jobs(),
        Some(namespace),
        job_name,
        json!({"status": status}),
        Part::Status,
    )?;
    Ok(())
}

/// `active`, `succeeded` and `failed` are omitted when 0 (`omitempty`).
fn set_count(status: &mut Value, field: &str, count: usize) {
    match status.as_object_mut() {
        Some(map) if count == 0 => {
            map.remove(field);
        }
        _ => status[field] = json!(count),
    }
}

fn container_status(
    container: &Value,
    mut state: Value,
    ready: bool,
    message: Option<&String>,
) -> Value {
    let started = state.get("running").is_some();
    if let (Some(message), Some(terminated)) = (message, state.get_mut("terminated")) {
        // The kubelet keeps at most 4096 bytes of the file.
        let cut: String = message.chars().take(4096).collect();
        terminated["message"] = json!(cut);
    }
    json!({
        "name": container["name"],
        "image": container["image"],
        "imageID": "",
        "ready": ready,
        "restartCount": 0,
        "started": started,
        "state": state,
    })
}

fn condition(kind: &str, holds: bool, now: &str) -> Value {
    json!({"type": kind, "status": if holds { "True" } else { "False" }, "lastTransitionTime": now})
}

/// What the kubelet reports for a pod in `phase`: `Pending` with the first init container running,
/// `Running` past them, `Succeeded` with every container exited 0, `Failed` with the main
/// container exited 1. `failed_init: Some((n, code))` reports instead init container `n`
/// exited `code` (those before it completed, those after it never started), the pod `Failed`.
pub fn set_pod_phase(
    store: &mut Store,
    messages: &TerminationLogs,
    namespace: &str,
    pod_name: &str,
    phase: &str,
    failed_init: Option<(usize, i32)>,
) -> Result<(), ApiError> {
    let init_failed = failed_init.is_some();
    let pod = store.get(pods(), Some(namespace), pod_name)?;
    let now = super::store::now();
    let started = pod["status"]["startTime"]
        .as_str()
        .unwrap_or(&now)
        .to_string();
    let containers = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let inits = pod["spec"]["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let exited = |code: i32, reason: &str| json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": now}});
    let waiting = json!({"waiting": {"reason": "PodInitializing"}});
    let message_of = |container: &Value| {
        let name = container["name"].as_str().unwrap_or_default().to_string();
        messages.get(&(namespace.to_string(), pod_name.to_string(), name))
    };
    let running = json!({"running": {"startedAt": now}});
    let (init_state, main_state, main_ready) = match (phase, init_failed) {
        (_, true) => (exited(128, "Error"), waiting.clone(), false),
        ("Pending", _) => (running.clone(), waiting.clone(), false),
        ("Running", _) => (exited(0, "Completed"), running.clone(), true),
        ("Succeeded", _) => (exited(0, "Completed"), exited(0, "Completed"), false),
        ("Failed", _) => (exited(0, "Completed"), exited(1, "Error"), false),
        (other, _) => {
            return Err(ApiError::bad_request(format!(
                "a pod phase is Pending, Running, Succeeded or Failed, not {other:?}"
            )))
        }
    };
    let phase = if init_failed { "Failed" } else { phase };
    let init_statuses: Vec<Value> = inits
        .iter()
        .enumerate()
        .map(|(n, c)| {
            // Init containers run one after the other: while the pod is pending only the
            // first runs; when one fails, those before it completed and those after it never
            // start.
            let state = match failed_init {
                Some((at, _)) if n < at => exited(0, "Completed"),
                Some((at, code)) if n == at => exited(code, "Error"),
                Some(_) => waiting.clone(),
                None if phase == "Pending" && n > 0 => waiting.clone(),
                None => init_state.clone(),
            };
            container_status(c, state, false, message_of(c))
        })
        .collect();
    let main_statuses: Vec<Value> = containers
        .iter()
        .map(|c| container_status(c, main_state.clone(), main_ready, message_of(c)))
        .collect();
    let initialized = !init_failed && phase != "Pending";
    let status = json!({
        "phase": phase,
        "startTime": started,
        "hostIP": "10.0.0.7",
        "podIP": "10.244.0.12",
        "qosClass": "Burstable",
        "conditions": [
            condition("PodScheduled", true, &now),
            condition("Initialized", initialized, &now),
            condition("ContainersReady", main_ready, &now),
            condition("Ready", main_ready, &now),
        ],
        "initContainerStatuses": init_statuses,
        "containerStatuses": main_statuses,
    });
    store.replace(
        pods(),
        Some(namespace),
        pod_name,
        json!({"status": status}),
        Part::Status,
    )?;
    if let Some((job_name, uid)) = controller_of(&pod) {
        if let Ok(job) = store.get(jobs(), Some(namespace), &job_name) {
            write_counts(store, namespace, &job_name, &uid, job["status"].clone())?;
        }
    }
    Ok(())
}

fn controller_of(pod: &Value) -> Option<(String, String)> {
    pod["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"].as_bool() == Some(true) && r["kind"] == "Job")
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default().to_string(),
                r["uid"].as_str().unwrap_or_default().to_string(),
            )
        })
}

/// The controller's last word on a Job: its pods brought to their end (finished as the
/// outcome says, or deleted at a deadline), then the conditions Kubernetes 1.32 writes.
pub fn finish(
    store: &mut Store,
    messages: &TerminationLogs,
    namespace: &str,
    job_name: &str,
    outcome: JobOutcome,
) -> Result<(), ApiError> {
    let job = store.get(jobs(), Some(namespace), job_name)?;
    let uid = job["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut deleted = 0;
    for pod in pods_of(store, namespace, &uid)
        .iter()
        .filter(|p| is_active(p))
    {
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        match outcome {
            JobOutcome::Succeeded => {
                set_pod_phase(store, messages, namespace, name, "Succeeded", None)?
            }
            JobOutcome::BackoffLimitExceeded => {
                set_pod_phase(store, messages, namespace, name, "Failed", None)?
            }
            JobOutcome::DeadlineExceeded => {
                store.delete(pods(), Some(namespace), name, Some(Propagation::Background))?;
                deleted += 1;
            }
        }
    }
    let owned = pods_of(store, namespace, &uid);
    let count = |p: &str| owned.iter().filter(|pod| phase(pod) == p).count();
    let now = super::store::now();
    let job = store.get(jobs(), Some(namespace), job_name)?;
    let mut status = job["status"].clone();
    if status["startTime"].is_null() {
        status["startTime"] = json!(now);
    }
    let finished = |kind: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": "True", "reason": reason, "message": message,
               "lastProbeTime": now, "lastTransitionTime": now})
    };
    let (interim, last) = match outcome {
        JobOutcome::Succeeded => ("SuccessCriteriaMet", "Complete"),
        _ => ("FailureTarget", "Failed"),
    };
    let (reason, message) = match outcome {
        JobOutcome::Succeeded => (
            "CompletionsReached",
            "Reached expected number of succeeded pods",
        ),
        JobOutcome::BackoffLimitExceeded => (
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ),
        JobOutcome::DeadlineExceeded => (
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        ),
    };
    let mut conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    conditions.push(finished(interim, reason, message));
    conditions.push(finished(last, reason, message));
    status["conditions"] = json!(conditions);
    set_count(&mut status, "active", 0);
    set_count(&mut status, "succeeded", count("Succeeded"));
    set_count(&mut status, "failed", count("Failed") + deleted);
    status["ready"] = json!(0);
    status["terminating"] = json!(0);
    status["uncountedTerminatedPods"] = json!({});
    if outcome == JobOutcome::Succeeded {
        status["completionTime"] = json!(now);
    }
    store.replace(
        jobs(),
        Some(namespace),
        job_name,
        json!({"status": status}),
        Part::Status,
    )?;
    Ok(())
}

//! Build Jobs in a cluster: slipway's `BuildCluster` and `watch_builds` with the real
//! `kube::Client` against the fake apiserver, the test playing the Job controller and kubelet.

mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, PostParams};
use serde_json::{json, Value};
use slipway::cluster::{
    redact_log, render, watch_builds, BuildCluster, BuildEvent, BuildObjects, BuildSpec,
    BuildTemplate, Builder, ClusterError, FailReason, JobState,
};
use support::fake_kube::{FakeKube, JobOutcome};
use tokio::sync::{mpsc, watch};

const NS: &str = "slipway-builds";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const TOKEN: &str = "ghs_first-installation-token-0001";
const NEW_TOKEN: &str = "ghs_second-installation-token-0002";

async fn cluster() -> FakeKube {
    FakeKube::builder().namespace(NS).start().await
}

/// The objects of build `attempt` of acme/api, for run `run`, fetched with `token`.
fn build(attempt: u32, run: i64, token: &str) -> BuildObjects {
    let spec = BuildSpec {
        repo: "acme/api".to_string(),
        clone_url: "https://github.com/acme/api.git".to_string(),
        sha: SHA.to_string(),
        branch: "main".to_string(),
        default_branch: "main".to_string(),
        commit_message: "Add the health endpoint".to_string(),
        attempt,
        image: "registry.example.com/acme/api".to_string(),
        dockerfile: "Dockerfile".to_string(),
        context: ".".to_string(),
        build_args: Vec::new(),
        token: token.to_string(),
        namespace: NS.to_string(),
        executor_image: "cgr.dev/chainguard/kaniko:latest".to_string(),
        registry_secret: "slipway-registry".to_string(),
        timeout: Duration::from_secs(1800),
        run_id: Some(run),
    };
    render(&BuildTemplate::builtin(Builder::Kaniko), &spec).expect("the built-in template renders")
}

fn name_of(objects: &BuildObjects) -> String {
    objects.job.metadata.name.clone().expect("a Job name")
}

/// The token stored in the build's Secret, as the pod would read it.
fn stored_token(kube: &FakeKube, secret: &str) -> String {
    let secrets = kube.objects("secrets", NS);
    let stored = secrets
        .iter()
        .find(|s| s["metadata"]["name"] == secret)
        .unwrap_or_else(|| panic!("no Secret {secret}"));
    let encoded = stored["data"]["token"].as_str().expect("data.token");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    String::from_utf8(bytes).expect("UTF-8")
}

fn owners(kube: &FakeKube, secret: &str) -> Value {
    kube.objects("secrets", NS)
        .into_iter()
        .find(|s| s["metadata"]["name"] == secret)
        .map(|s| s["metadata"]["ownerReferences"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn launch_creates_the_secret_then_the_job_which_owns_the_secret() {
    let kube = cluster().await;
    let builds = BuildCluster::new(kube.client(), NS);
    let objects = build(0, 7, TOKEN);
    let name = name_of(&objects);

    let launched = builds.launch(objects).await.expect("launched");

    assert_eq!(launched.job_name, name);
    assert!(!launched.adopted);
    assert_eq!(kube.names("jobs", NS), [name.as_str()]);
    let secret = format!("{name}-source");
    assert_eq!(stored_token(&kube, &secret), TOKEN);
    assert_eq!(
        owners(&kube, &secret),
        json!([{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": launched.uid,
                "controller": true, "blockOwnerDeletion": true}])
    );
    let job = &kube.objects("jobs", NS)[0];
    assert_eq!(job["metadata"]["labels"]["slipway.dev/run"], "7");
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"]["slipway.dev/run"],
        "7"
    );
}

#[tokio::test]
async fn launching_twice_adopts_the_one_job_and_refreshes_the_token() {
    let kube = cluster().await;
    let builds = BuildCluster::new(kube.client(), NS);
    let first = builds.launch(build(0, 7, TOKEN)).await.expect("launched");

    let again = builds
        .launch(build(0, 7, NEW_TOKEN))
        .await
        .expect("launched again");

    assert!(again.adopted);
    assert_eq!(again.uid, first.uid, "the same Job");
    assert_eq!(kube.names("jobs", NS).len(), 1);
    let secret = format!("{}-source", first.job_name);
    assert_eq!(stored_token(&kube, &secret), NEW_TOKEN);
    assert_eq!(owners(&kube, &secret)[0]["uid"], first.uid.as_str());
    assert_eq!(kube.requests("create", "jobs"), 2);
}

#[tokio::test]
async fn a_launch_that_stopped_after_the_secret_is_completed_by_the_next() {
    let kube = cluster().await;
    let objects = build(0, 7, TOKEN);
    let name = name_of(&objects);
    // The first launch created the Secret, then slipway stopped.
    let secrets: Api<Secret> = Api::namespaced(kube.client(), NS);
    secrets
        .create(&PostParams::default(), &objects.secret)
        .await
        .expect("created");
    assert!(kube.names("jobs", NS).is_empty());

    let launched = BuildCluster::new(kube.client(), NS)
        .launch(build(0, 7, NEW_TOKEN))
        .await
        .expect("launched");

    assert!(!launched.adopted, "the Job is new");
    assert_eq!(kube.names("jobs", NS), [name.as_str()]);
    assert_eq!(stored_token(&kube, &format!("{name}-source")), NEW_TOKEN);
    assert_eq!(
        owners(&kube, &format!("{name}-source"))[0]["uid"],
        launched.uid.as_str()
    );
}

#[tokio::test]
async fn a_job_someone_else_created_is_adopted() {
    let kube = cluster().await;
    let objects = build(0, 7, TOKEN);
    // Another replica got as far as the Job, not the owner reference.
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let theirs = jobs
        .create(&PostParams::default(), &objects.job)
        .await
        .expect("created");

    let launched = BuildCluster::new(kube.client(), NS)
        .launch(objects)
        .await
        .expect("launched");

    assert!(launched.adopted);
    assert_eq!(Some(launched.uid.clone()), theirs.metadata.uid);
    assert_eq!(kube.names("jobs", NS).len(), 1);
    assert_eq!(
        owners(&kube, &format!("{}-source", launched.job_name))[0]["uid"],
        launched.uid.as_str()
    );
}

#[tokio::test]
async fn a_missing_rbac_rule_is_an_error_naming_verb_resource_and_namespace() {
    let kube = cluster().await;
    kube.forbid("create", "jobs");
    let builds = BuildCluster::new(kube.client(), NS);

    let error = builds.launch(build(0, 7, TOKEN)).await.unwrap_err();

    let ClusterError::Forbidden {
        verb,
        resource,
        namespace,
        ..
    } = &error
    else {
        panic!("expected Forbidden, got {error:?}")
    };
    assert_eq!(
        (verb.as_str(), resource.as_str(), namespace.as_str()),
        ("create", "jobs", NS)
    );
    assert!(!error.is_transient());
    let text = error.to_string();
    assert!(
        text.starts_with("slipway may not create jobs in the namespace \"slipway-builds\""),
        "{text}"
    );
    assert!(!text.contains(TOKEN) && !format!("{error:?}").contains(TOKEN));
    assert!(
        builds.check_access().await.is_ok(),
        "listing is still allowed"
    );

    kube.forbid("list", "jobs");
    let refused = builds.check_access().await.unwrap_err();
    assert!(
        refused.to_string().contains("may not list jobs"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_server_error_is_transient_and_the_retry_makes_one_job() {
    let kube = cluster().await;
    kube.fail_once("create", "jobs", 500);
    let builds = BuildCluster::new(kube.client(), NS);

    let error = builds.launch(build(0, 7, TOKEN)).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(error.code(), Some(500));
    assert!(error.to_string().contains("creating Job"), "{error}");

    let launched = builds.launch(build(0, 7, TOKEN)).await.expect("the retry");
    assert!(!launched.adopted);
    assert_eq!(kube.names("jobs", NS).len(), 1);
}

#[tokio::test]
async fn the_state_follows_the_job_from_pending_to_success() {
    let kube = cluster().await;
    let builds = BuildCluster::new(kube.client(), NS);
    let name = builds
        .launch(build(0, 7, TOKEN))
        .await
        .expect("launched")
        .job_name;
    assert_eq!(builds.job_state(&name).await.unwrap(), JobState::Pending);

    let pod = kube.start_job_pod(NS, &name);
    assert!(
        pod.starts_with(&format!("{name}-")) && pod.len() == name.len() + 6,
        "{pod}"
    );
    assert_eq!(builds.job_state(&name).await.unwrap(), JobState::Pending);
    kube.set_pod_phase(NS, &pod, "Pending");
    assert_eq!(
        builds.job_state(&name).await.unwrap(),
        JobState::Pending,
        "cloning"
    );

    kube.set_pod_phase(NS, &pod, "Running");
    let JobState::Running {
        started_at: Some(started),
    } = builds.job_state(&name).await.unwrap()
    else {
        panic!("expected Running with a start")
    };

    kube.finish_job(NS, &name, JobOutcome::Succeeded);
    let JobState::Succeeded {
        started_at,
        finished_at: Some(finished),
    } = builds.job_state(&name).await.unwrap()
    else {
        panic!("expected Succeeded with a finish")
    };
    assert_eq!(started_at, Some(started));
    assert!(finished >= started);
    assert_eq!(
        builds.job_state("build-never-made").await.unwrap(),
        JobState::Missing
    );
}

#[tokio::test]
async fn a_build_past_its_deadline_fails_as_a_timeout_and_its_pod_is_gone() {
    let kube = cluster().await;
    let builds = BuildCluster::new(kube.client(), NS);
    let name = builds
        .launch(build(0, 7, TOKEN))
        .await
        .expect("launched")
        .job_name;
    let pod = kube.start_job_pod(NS, &name);
    kube.set_pod_phase(NS, &pod, "Running");

    kube.finish_job(NS, &name, JobOutcome::DeadlineExceeded);

    let state = builds.job_state(&name).await.unwrap();
    let JobState::Failed {
        reason,
        message,
        started_at: Some(_),
        finished_at: Some(_),
    } = state
    else {
        panic!("expected Failed with times, got {state:?}")
    };
    assert_eq!(reason, FailReason::DeadlineExceeded);
    assert_eq!(message, "Job was active longer than specified deadline");
    assert!(
        kube.names("pods", NS).is_empty(),
        "the controller deleted the pod"
    );
    assert_eq!(
        builds.log_tail(&name, 100).await.unwrap(),
        None,
        "no pod, no log"
    );
}

#[tokio::test]
async fn a_failed_pod_fails_the_build_at_the_backoff_limit() {
    let kube = cluster().await;
    let builds = BuildCluster::new(kube.client(), NS);
    let name = builds
        .launch(build(0, 7, TOKEN))
        .await
        .expect("launched")
        .job_name;
    let pod = kube.start_job_pod(NS, &name);
    kube.set_pod_phase(NS, &pod, "Failed");
    assert!(matches!(
        builds.job_state(&name).await.unwrap(),
        JobState::Running { .. }
    ));

    kube.finish_job(NS, &name, JobOutcome::BackoffLimitExceeded);

    let JobState::Failed {
        reason, message, ..
    } = builds.job_state(&name).await.unwrap()
    else {
        panic!("expected Failed")
    };
    assert_eq!(reason, FailReason::BackoffLimitExceeded);
    assert_eq!(message, "Job has reached the specified backoff limit");
    assert_eq!(
        kube.names("pods", NS),
        [pod],
        "a failed pod stays for its log"
    );
}

#[tokio::test]
async fn the_log_tail_is_the_end_of_the_build_with_the_token_redacted() {
    let kube = cluster().await;
    let builds = BuildCluster::new(kube.client(), NS);
    let name = builds
        .launch(build(0, 7, TOKEN))
        .await
        .expect("launched")
        .job_name;
    assert_eq!(
        builds.log_tail(&name, 100).await.unwrap(),
        None,
        "no pod yet"
    );
    let pod = kube.start_job_pod(NS, &name);
    kube.set_pod_phase(NS, &pod, "Running");
    let lines: Vec<String> = (1..=150)
        .map(|n| match n % 50 {
            0 => format!("step {n}: pushing with {TOKEN}"),
            _ => format!("step {n}"),
        })
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    kube.append_container_log(NS, &pod, "build", &lines);
    kube.append_container_log(NS, &pod, "source", &["fetched"]);

    let raw = builds.log_tail(&name, 100).await.unwrap().expect("a log");
    let shown = redact_log(&raw, &[TOKEN], 100);

    assert_eq!(shown.lines().count(), 100);
    assert!(shown.starts_with("step 51\n"), "{shown}");
    assert!(shown.ends_with("step 150: pushing with ***\n"), "{shown}");
    assert!(shown.contains("step 100: pushing with ***\n"));
    assert!(!shown.contains(TOKEN) && !shown.contains("fetched"));
}

#[tokio::test]
async fn a_failed_source_fetch_shows_the_init_containers_log() {
    let kube = cluster().await;
    let builds = BuildCluster::new(kube.client(), NS);
    let name = builds
        .launch(build(0, 7, TOKEN))
        .await
        .expect("launched")
        .job_name;
    let pod = kube.start_job_pod(NS, &name);
    kube.set_pod_phase(NS, &pod, "Pending");
    kube.append_container_log(NS, &pod, "source", &["Cloning…"]);
    assert_eq!(
        builds.log_tail(&name, 10).await.unwrap().as_deref(),
        Some("Cloning…\n"),
        "the fetch is where the build is"
    );
    kube.append_container_log(NS, &pod, "source", &["fatal: couldn't find remote ref"]);
    kube.fail_init_container(NS, &pod);

    let log = builds.log_tail(&name, 1).await.unwrap();

    assert_eq!(log.as_deref(), Some("fatal: couldn't find remote ref\n"));
}

#[tokio::test]
async fn delete_takes_the_pods_and_the_secret_with_the_job() {
    let kube = cluster().await;
    let builds = BuildCluster::new(kube.client(), NS);
    let name = builds
        .launch(build(0, 7, TOKEN))
        .await
        .expect("launched")
        .job_name;
    kube.start_job_pod(NS, &name);

    assert!(builds.delete(&name).await.unwrap());

    assert!(kube.names("jobs", NS).is_empty());
    assert!(kube.names("pods", NS).is_empty());
    assert!(kube.names("secrets", NS).is_empty());
    assert!(!builds.delete(&name).await.unwrap(), "already gone");
    assert_eq!(builds.job_state(&name).await.unwrap(), JobState::Missing);
}

/// The events `watch_builds` reports, as a test reads them.
struct Watching {
    events: mpsc::UnboundedReceiver<BuildEvent>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn watching(kube: &FakeKube) -> Watching {
    let (tx, events) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let sink = Arc::new(move |event: BuildEvent| {
        let _ = tx.send(event);
    });
    let task = watch_builds(kube.client(), NS.to_string(), sink, stopped);
    Watching { events, stop, task }
}

impl Watching {
    /// The events up to a quiet moment; at least one.
    async fn next_events(&mut self) -> Vec<BuildEvent> {
        let first = tokio::time::timeout(Duration::from_secs(15), self.events.recv())
            .await
            .expect("an event in time")
            .expect("the watch goes on");
        let mut events = vec![first];
        while let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_millis(300), self.events.recv()).await
        {
            events.push(event);
        }
        events
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("the watch stops")
            .expect("no panic");
    }
}

fn event(job_name: &str, run: i64) -> BuildEvent {
    BuildEvent {
        job_name: job_name.to_string(),
        run_id: Some(run),
    }
}

#[tokio::test]
async fn the_watch_reports_each_change_of_a_build_by_job_and_run() {
    let kube = cluster().await;
    let builds = BuildCluster::new(kube.client(), NS);
    let mut watch = watching(&kube);

    let name = builds
        .launch(build(0, 7, TOKEN))
        .await
        .expect("launched")
        .job_name;
    let seven = event(&name, 7);
    assert!(watch.next_events().await.iter().all(|e| *e == seven));

    let other = builds
        .launch(build(1, 8, TOKEN))
        .await
        .expect("launched")
        .job_name;
    let pod = kube.start_job_pod(NS, &other);
    let events = watch.next_events().await;
    assert!(events.contains(&event(&other, 8)), "{events:?}");
    assert!(
        !events.contains(&seven),
        "nothing happened to run 7: {events:?}"
    );

    kube.set_pod_phase(NS, &pod, "Running");
    assert!(watch
        .next_events()
        .await
        .iter()
        .all(|e| *e == event(&other, 8)));
    kube.finish_job(NS, &other, JobOutcome::Succeeded);
    assert!(watch
        .next_events()
        .await
        .iter()
        .all(|e| *e == event(&other, 8)));
    builds.delete(&name).await.expect("deleted");
    assert!(watch.next_events().await.iter().all(|e| *e == seven));
    watch.stop().await;
}

#[tokio::test]
async fn a_watch_started_later_reports_the_builds_already_there() {
    let kube = cluster().await;
    let builds = BuildCluster::new(kube.client(), NS);
    let first = builds
        .launch(build(0, 7, TOKEN))
        .await
        .expect("launched")
        .job_name;
    let second = builds
        .launch(build(1, 8, TOKEN))
        .await
        .expect("launched")
        .job_name;
    kube.start_job_pod(NS, &second);

    let mut watch = watching(&kube);
    let mut events = watch.next_events().await;
    events.sort_by_key(|e| e.run_id);
    events.dedup();

    assert_eq!(events, [event(&first, 7), event(&second, 8)]);
    watch.stop().await;
}

async fn churn_config_maps(kube: &FakeKube, count: usize) {
    let maps: Api<ConfigMap> = Api::namespaced(kube.client(), NS);
    for n in 0..count {
        let map: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": format!("churn-{n}")}}))
                .expect("a ConfigMap");
        maps.create(&PostParams::default(), &map)
            .await
            .expect("created");
    }
}

#[tokio::test]
async fn the_watch_relists_when_its_version_expired_and_reports_what_it_missed() {
    let kube = FakeKube::builder()
        .namespace(NS)
        .history_limit(3)
        .start()
        .await;
    let builds = BuildCluster::new(kube.client(), NS);
    let gone = builds
        .launch(build(0, 7, TOKEN))
        .await
        .expect("launched")
        .job_name;
    let mut watch = watching(&kube);
    assert_eq!(watch.next_events().await, [event(&gone, 7)]);

    // The Jobs watch drops and cannot come back while the cluster changes past its history.
    kube.forbid("watch", "jobs");
    kube.end_watches();
    builds.delete(&gone).await.expect("deleted");
    let new = builds
        .launch(build(1, 8, TOKEN))
        .await
        .expect("launched")
        .job_name;
    churn_config_maps(&kube, 5).await;
    kube.allow("watch", "jobs");

    let mut events = watch.next_events().await;
    events.sort_by_key(|e| e.run_id);
    assert_eq!(
        events,
        [event(&gone, 7), event(&new, 8)],
        "deleted, and new"
    );
    assert_eq!(kube.requests("list", "jobs"), 2, "one relist");
    watch.stop().await;
}

#[tokio::test]
async fn bookmarks_keep_the_watch_resumable_without_a_relist() {
    let kube = FakeKube::builder()
        .namespace(NS)
        .history_limit(3)
        .bookmark_interval(Duration::from_millis(100))
        .start()
        .await;
    let builds = BuildCluster::new(kube.client(), NS);
    let mut watch = watching(&kube);
    // Nothing in the namespace is a build: only bookmarks move the watch's version on.
    churn_config_maps(&kube, 5).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    kube.end_watches();

    let name = builds
        .launch(build(0, 7, TOKEN))
        .await
        .expect("launched")
        .job_name;

    assert_eq!(watch.next_events().await, [event(&name, 7)]);
    assert_eq!(
        kube.requests("list", "jobs"),
        1,
        "resumed from the bookmark"
    );
    assert!(kube.requests("watch", "jobs") >= 2, "watched again");
    watch.stop().await;
}

//! The fake Kubernetes API server, driven by the real `kube::Client` as slipway's builds and
//! deploys will drive a cluster.

mod support;

use std::time::Duration;

use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::{Pod, PodStatus, Secret};
use kube::api::{
    Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::runtime::watcher;
use kube::Discovery;
use serde_json::json;
use support::fake_kube::FakeKube;

const NS: &str = "builds";

async fn cluster() -> FakeKube {
    FakeKube::builder().namespace(NS).start().await
}

fn job(name: &str, labels: serde_json::Value) -> Job {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "build", "image": "executor:1"}],
        }}},
    }))
    .expect("a Job")
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "build", "image": "executor:1"}]},
    }))
    .expect("a Pod")
}

fn api_error(error: kube::Error) -> Box<kube::core::Status> {
    match error {
        kube::Error::Api(status) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn discovery_finds_the_served_groups_and_kinds() {
    let kube = cluster().await;
    let discovery = Discovery::new(kube.client())
        .run()
        .await
        .expect("discovery");
    let mut groups: Vec<&str> = discovery.groups().map(|g| g.name()).collect();
    groups.sort();
    assert_eq!(
        groups,
        vec![
            "",
            "apiextensions.k8s.io",
            "apps",
            "batch",
            "networking.k8s.io",
            "rbac.authorization.k8s.io"
        ]
    );
    let batch = discovery.get("batch").expect("the batch group");
    let mut kinds: Vec<String> = batch
        .recommended_resources()
        .into_iter()
        .map(|(ar, _)| ar.kind)
        .collect();
    kinds.sort();
    assert_eq!(kinds, vec!["CronJob", "Job"]);
    let version = kube
        .client()
        .apiserver_version()
        .await
        .expect("the version");
    assert_eq!(version.git_version, "v1.32.0");
}

#[tokio::test]
async fn a_job_is_created_read_listed_and_deleted() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let created = jobs
        .create(&PostParams::default(), &job("build-1", json!({})))
        .await
        .expect("created");
    let meta = &created.metadata;
    assert_eq!(meta.namespace.as_deref(), Some(NS));
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, Some(1));

    let read = jobs.get("build-1").await.expect("read back");
    assert_eq!(read.metadata.resource_version, meta.resource_version);
    let listed = jobs.list(&ListParams::default()).await.expect("listed");
    assert_eq!(listed.items.len(), 1);

    jobs.delete("build-1", &DeleteParams::background())
        .await
        .expect("deleted");
    assert!(kube.names("jobs", NS).is_empty());
}

#[tokio::test]
async fn creating_a_job_twice_is_already_exists() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    jobs.create(&PostParams::default(), &job("build-1", json!({})))
        .await
        .expect("created");
    let error = api_error(
        jobs.create(&PostParams::default(), &job("build-1", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(error.message, "jobs.batch \"build-1\" already exists");
}

#[tokio::test]
async fn reading_a_missing_job_is_not_found_with_its_name_and_kind() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let error = api_error(jobs.get("nope").await.unwrap_err());
    assert_eq!((error.code, error.reason.as_str()), (404, "NotFound"));
    assert_eq!(error.message, "jobs.batch \"nope\" not found");
    let details = error.details.expect("details");
    assert_eq!(
        (
            details.name.as_str(),
            details.kind.as_str(),
            details.group.as_str()
        ),
        ("nope", "jobs", "batch")
    );
    assert_eq!(jobs.get_opt("nope").await.expect("get_opt"), None);
}

#[tokio::test]
async fn creating_in_a_missing_namespace_is_not_found() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), "elsewhere");
    let error = api_error(
        jobs.create(&PostParams::default(), &job("build-1", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (error.code, error.message.as_str()),
        (404, "namespaces \"elsewhere\" not found")
    );
}

#[tokio::test]
async fn an_invalid_name_is_rejected_with_the_field() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let error = api_error(
        jobs.create(&PostParams::default(), &job("Build_1", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert!(error.message.starts_with("Job.batch \"Build_1\" is invalid: metadata.name: Invalid value: \"Build_1\": a lowercase RFC 1123 subdomain"), "{}", error.message);
}

#[tokio::test]
async fn label_selectors_filter_lists() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    for (name, labels) in [
        ("a", json!({"slipway.dev/repo": "api", "tier": "web"})),
        ("b", json!({"slipway.dev/repo": "api", "tier": "worker"})),
        ("c", json!({"slipway.dev/repo": "ui"})),
    ] {
        jobs.create(&PostParams::default(), &job(name, labels))
            .await
            .expect("created");
    }
    let names = |list: kube::core::ObjectList<Job>| -> Vec<String> {
        list.items
            .into_iter()
            .filter_map(|j| j.metadata.name)
            .collect()
    };
    let select = |selector: &str| ListParams::default().labels(selector);
    assert_eq!(
        names(jobs.list(&select("slipway.dev/repo=api")).await.unwrap()),
        ["a", "b"]
    );
    assert_eq!(
        names(
            jobs.list(&select("slipway.dev/repo=api,tier!=web"))
                .await
                .unwrap()
        ),
        ["b"]
    );
    assert_eq!(
        names(jobs.list(&select("tier in (web, worker)")).await.unwrap()),
        ["a", "b"]
    );
    assert_eq!(
        names(jobs.list(&select("tier notin (web)")).await.unwrap()),
        ["b", "c"]
    );
    assert_eq!(names(jobs.list(&select("tier")).await.unwrap()), ["a", "b"]);
    assert_eq!(names(jobs.list(&select("!tier")).await.unwrap()), ["c"]);
    assert_eq!(
        names(
            jobs.list(&ListParams::default().fields("metadata.name=c"))
                .await
                .unwrap()
        ),
        ["c"]
    );
}

#[tokio::test]
async fn a_bad_label_selector_is_a_bad_request() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let error = api_error(
        jobs.list(&ListParams::default().labels("tier in (web"))
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (400, "BadRequest"));
    assert!(error.message.contains("unclosed '('"), "{}", error.message);
}

#[tokio::test]
async fn replacing_with_a_stale_resource_version_is_a_conflict() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let stale = jobs
        .create(&PostParams::default(), &job("build-1", json!({})))
        .await
        .expect("created");
    let mut fresh = stale.clone();
    fresh.metadata.labels = Some([("attempt".to_string(), "2".to_string())].into());
    let replaced = jobs
        .replace("build-1", &PostParams::default(), &fresh)
        .await
        .expect("replaced");
    assert_ne!(
        replaced.metadata.resource_version,
        stale.metadata.resource_version
    );

    let error = api_error(
        jobs.replace("build-1", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        error.message,
        "Operation cannot be fulfilled on jobs.batch \"build-1\": the object has been modified; please apply your changes to the latest version and try again"
    );
}

#[tokio::test]
async fn a_merge_patch_changes_only_what_it_names() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    jobs.create(
        &PostParams::default(),
        &job("build-1", json!({"keep": "yes", "drop": "me"})),
    )
    .await
    .expect("created");
    let patch = json!({"metadata": {"labels": {"drop": null, "added": "1"}}});
    let patched = jobs
        .patch("build-1", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patched");
    let labels = patched.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels.into_iter().collect::<Vec<_>>(),
        [
            ("added".to_string(), "1".to_string()),
            ("keep".to_string(), "yes".to_string())
        ]
    );
    assert_eq!(
        patched.metadata.generation,
        Some(1),
        "labels are not the spec"
    );
}

#[tokio::test]
async fn status_is_written_only_through_its_subresource() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    jobs.create(&PostParams::default(), &job("build-1", json!({})))
        .await
        .expect("created");
    let active = json!({"status": {"active": 1}});
    jobs.patch("build-1", &PatchParams::default(), &Patch::Merge(&active))
        .await
        .expect("patched");
    assert_eq!(
        jobs.get("build-1")
            .await
            .unwrap()
            .status
            .and_then(|s| s.active),
        None
    );
    jobs.patch_status("build-1", &PatchParams::default(), &Patch::Merge(&active))
        .await
        .expect("status patched");
    assert_eq!(
        jobs.get("build-1")
            .await
            .unwrap()
            .status
            .and_then(|s| s.active),
        Some(1)
    );
}

/// The next event that is not a bookmark.
async fn next_change<S>(events: &mut S) -> WatchEvent<Job>
where
    S: futures::Stream<Item = kube::Result<WatchEvent<Job>>> + Unpin,
{
    loop {
        match events.try_next().await.expect("a watch event") {
            Some(WatchEvent::Bookmark(_)) => continue,
            Some(event) => return event,
            None => panic!("the watch ended"),
        }
    }
}

#[tokio::test]
async fn a_watch_sees_a_job_added_then_modified_and_gets_bookmarks() {
    let kube = FakeKube::builder()
        .namespace(NS)
        .bookmark_interval(Duration::from_millis(100))
        .start()
        .await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let since = kube.resource_version().to_string();
    let mut events = jobs
        .watch(&WatchParams::default().timeout(10), &since)
        .await
        .expect("watching")
        .boxed();

    jobs.create(&PostParams::default(), &job("build-1", json!({})))
        .await
        .expect("created");
    let WatchEvent::Added(added) = next_change(&mut events).await else {
        panic!("expected ADDED")
    };
    kube.set_job_status(
        NS,
        "build-1",
        JobStatus {
            succeeded: Some(1),
            ..JobStatus::default()
        },
    );
    let WatchEvent::Modified(modified) = next_change(&mut events).await else {
        panic!("expected MODIFIED")
    };
    assert_eq!(modified.status.and_then(|s| s.succeeded), Some(1));
    assert!(modified.metadata.resource_version > added.metadata.resource_version);

    let Some(WatchEvent::Bookmark(bookmark)) = events.try_next().await.unwrap() else {
        panic!("expected BOOKMARK")
    };
    assert_eq!(
        bookmark.metadata.resource_version,
        kube.resource_version().to_string()
    );
}

#[tokio::test]
async fn a_watch_ends_at_its_timeout_with_a_bookmark() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let since = kube.resource_version().to_string();
    let events = jobs
        .watch(&WatchParams::default().timeout(1), &since)
        .await
        .expect("watching");
    let events: Vec<_> =
        tokio::time::timeout(Duration::from_secs(5), events.try_collect::<Vec<_>>())
            .await
            .expect("the watch ends")
            .expect("no error");
    let [WatchEvent::Bookmark(bookmark)] = &events[..] else {
        panic!("expected one BOOKMARK, got {events:?}")
    };
    assert_eq!(bookmark.metadata.resource_version, since);
}

#[tokio::test]
async fn a_watch_resumes_from_a_resource_version() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let first = jobs
        .create(&PostParams::default(), &job("build-1", json!({})))
        .await
        .expect("created");
    jobs.create(&PostParams::default(), &job("build-2", json!({})))
        .await
        .expect("created");
    let since = first.metadata.resource_version.expect("a version");
    let mut events = jobs
        .watch(&WatchParams::default().timeout(5), &since)
        .await
        .expect("watching")
        .boxed();
    let Some(WatchEvent::Added(replayed)) = events.try_next().await.unwrap() else {
        panic!("expected ADDED")
    };
    assert_eq!(replayed.metadata.name.as_deref(), Some("build-2"));
}

#[tokio::test]
async fn a_watch_from_an_expired_version_gets_410_expired() {
    let kube = FakeKube::builder()
        .namespace(NS)
        .history_limit(2)
        .start()
        .await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    for n in 1..=4 {
        jobs.create(
            &PostParams::default(),
            &job(&format!("build-{n}"), json!({})),
        )
        .await
        .expect("created");
    }
    let mut events = jobs
        .watch(&WatchParams::default().timeout(5), "1")
        .await
        .expect("watching")
        .boxed();
    let Some(WatchEvent::Error(status)) = events.try_next().await.unwrap() else {
        panic!("expected ERROR")
    };
    assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
    assert!(
        status.message.starts_with("too old resource version: 1"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn the_watcher_relists_after_its_version_expired() {
    let kube = FakeKube::builder()
        .namespace(NS)
        .history_limit(1)
        .start()
        .await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    jobs.create(&PostParams::default(), &job("build-1", json!({})))
        .await
        .expect("created");
    let mut stream = watcher(jobs.clone(), watcher::Config::default().timeout(5)).boxed();
    let mut names = Vec::new();
    let mut errors = Vec::new();
    let mut lists = 0;
    while let Some(event) = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the watcher goes on")
    {
        match event {
            Ok(watcher::Event::Init) => names.clear(),
            Ok(watcher::Event::InitApply(job)) => names.push(job.metadata.name.unwrap_or_default()),
            Ok(watcher::Event::InitDone) => {
                lists += 1;
                if lists == 2 {
                    break;
                }
                // Two changes before the watch starts: the one change the server remembers
                // no longer reaches back to the version the list returned.
                for n in 2..=3 {
                    jobs.create(
                        &PostParams::default(),
                        &job(&format!("build-{n}"), json!({})),
                    )
                    .await
                    .expect("created");
                }
            }
            Ok(_) => {}
            Err(error) => errors.push(error.to_string()),
        }
    }
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("too old resource version"), "{errors:?}");
    assert_eq!(
        names,
        ["build-1", "build-2", "build-3"],
        "the relist sees every Job"
    );
    assert_eq!(kube.requests("list", "jobs"), 2);
}

#[tokio::test]
async fn pod_logs_are_read_with_a_tail() {
    let kube = cluster().await;
    let pods: Api<Pod> = Api::namespaced(kube.client(), NS);
    pods.create(&PostParams::default(), &pod("build-1-abcde"))
        .await
        .expect("created");
    kube.append_pod_log(NS, "build-1-abcde", &["step 1", "step 2", "step 3"]);
    let all = pods
        .logs("build-1-abcde", &LogParams::default())
        .await
        .expect("logs");
    assert_eq!(all, "step 1\nstep 2\nstep 3\n");
    let tail = pods
        .logs(
            "build-1-abcde",
            &LogParams {
                tail_lines: Some(2),
                ..LogParams::default()
            },
        )
        .await
        .expect("logs");
    assert_eq!(tail, "step 2\nstep 3\n");
}

#[tokio::test]
async fn a_pod_starts_pending_and_its_status_is_set_by_the_test() {
    let kube = cluster().await;
    let pods: Api<Pod> = Api::namespaced(kube.client(), NS);
    let created = pods
        .create(&PostParams::default(), &pod("build-1-abcde"))
        .await
        .expect("created");
    assert_eq!(
        created.status.and_then(|s| s.phase).as_deref(),
        Some("Pending")
    );
    kube.set_pod_status(
        NS,
        "build-1-abcde",
        PodStatus {
            phase: Some("Running".into()),
            ..PodStatus::default()
        },
    );
    let running = pods.get("build-1-abcde").await.expect("read");
    assert_eq!(
        running.status.and_then(|s| s.phase).as_deref(),
        Some("Running")
    );
}

#[tokio::test]
async fn the_log_of_a_missing_pod_is_not_found() {
    let kube = cluster().await;
    let pods: Api<Pod> = Api::namespaced(kube.client(), NS);
    let error = api_error(pods.logs("gone", &LogParams::default()).await.unwrap_err());
    assert_eq!(
        (error.code, error.message.as_str()),
        (404, "pods \"gone\" not found")
    );
}

async fn job_with_owned_secret(kube: &FakeKube) -> (Api<Job>, Api<Secret>) {
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let secrets: Api<Secret> = Api::namespaced(kube.client(), NS);
    let created = jobs
        .create(&PostParams::default(), &job("build-1", json!({})))
        .await
        .expect("created");
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "build-1-token", "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "Job", "name": "build-1",
            "uid": created.metadata.uid, "controller": true,
        }]},
        "stringData": {"token": "ghs_secret"},
    }))
    .expect("a Secret");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("created");
    (jobs, secrets)
}

#[tokio::test]
async fn deleting_a_job_in_the_background_deletes_the_secret_it_owns() {
    let kube = cluster().await;
    let (jobs, secrets) = job_with_owned_secret(&kube).await;
    jobs.delete("build-1", &DeleteParams::background())
        .await
        .expect("deleted");
    assert_eq!(secrets.get_opt("build-1-token").await.expect("read"), None);
}

#[tokio::test]
async fn deleting_a_job_in_the_foreground_deletes_the_secret_it_owns() {
    let kube = cluster().await;
    let (jobs, secrets) = job_with_owned_secret(&kube).await;
    jobs.delete("build-1", &DeleteParams::foreground())
        .await
        .expect("deleted");
    assert_eq!(secrets.get_opt("build-1-token").await.expect("read"), None);
    assert!(kube.names("jobs", NS).is_empty());
}

#[tokio::test]
async fn deleting_a_job_without_a_policy_orphans_what_it_owns() {
    let kube = cluster().await;
    let (jobs, secrets) = job_with_owned_secret(&kube).await;
    jobs.delete("build-1", &DeleteParams::default())
        .await
        .expect("deleted");
    let orphan = secrets
        .get("build-1-token")
        .await
        .expect("the Secret stays");
    assert_eq!(orphan.metadata.owner_references.unwrap_or_default(), []);
}

#[tokio::test]
async fn a_missing_rbac_rule_is_forbidden() {
    let kube = cluster().await;
    kube.forbid("create", "jobs");
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let error = api_error(
        jobs.create(&PostParams::default(), &job("build-1", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        error.message,
        "jobs.batch is forbidden: User \"system:serviceaccount:slipway:slipway\" cannot create resource \"jobs\" in API group \"batch\" in the namespace \"builds\""
    );
    assert!(
        jobs.list(&ListParams::default()).await.is_ok(),
        "other verbs are allowed"
    );
}

#[tokio::test]
async fn an_injected_server_error_surfaces_once() {
    let kube = cluster().await;
    kube.fail_once("list", "jobs", 500);
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let error = api_error(jobs.list(&ListParams::default()).await.unwrap_err());
    assert_eq!((error.code, error.reason.as_str()), (500, "InternalError"));
    assert!(jobs.list(&ListParams::default()).await.is_ok());
    assert_eq!(kube.requests("list", "jobs"), 2);
}

#[tokio::test]
async fn a_transient_unavailable_is_retried_by_the_client() {
    let kube = cluster().await;
    kube.fail_once("list", "jobs", 503);
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    assert!(jobs.list(&ListParams::default()).await.is_ok());
    assert_eq!(kube.requests("list", "jobs"), 2, "one 503, then the retry");
}

#[tokio::test]
async fn a_json_patch_applies_all_its_operations_or_none() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    jobs.create(
        &PostParams::default(),
        &job("build-1", json!({"attempt": "1"})),
    )
    .await
    .expect("created");
    let bump = json!([
        {"op": "test", "path": "/metadata/labels/attempt", "value": "1"},
        {"op": "replace", "path": "/metadata/labels/attempt", "value": "2"},
    ]);
    // kube's typed JSON patch sits behind a feature slipway does not need; the request is the same.
    let json_patch = || {
        http::Request::patch(format!("/apis/batch/v1/namespaces/{NS}/jobs/build-1"))
            .header("content-type", "application/json-patch+json")
            .body(bump.to_string().into_bytes())
            .expect("a request")
    };
    let patched: Job = kube.client().request(json_patch()).await.expect("patched");
    assert_eq!(patched.metadata.labels.unwrap_or_default()["attempt"], "2");

    let error = api_error(
        kube.client()
            .request::<Job>(json_patch())
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert!(
        error
            .message
            .ends_with("operation 0: test /metadata/labels/attempt: the value differs"),
        "{}",
        error.message
    );
    assert_eq!(
        jobs.get("build-1")
            .await
            .unwrap()
            .metadata
            .labels
            .unwrap_or_default()["attempt"],
        "2"
    );
}

#[tokio::test]
async fn a_selector_watch_sees_a_job_that_stops_matching_as_deleted() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    jobs.create(
        &PostParams::default(),
        &job("build-1", json!({"slipway.dev/build": "yes"})),
    )
    .await
    .expect("created");
    let since = kube.resource_version().to_string();
    let params = WatchParams::default()
        .labels("slipway.dev/build=yes")
        .timeout(5);
    let mut events = jobs.watch(&params, &since).await.expect("watching").boxed();
    let unlabel = json!({"metadata": {"labels": {"slipway.dev/build": null}}});
    jobs.patch("build-1", &PatchParams::default(), &Patch::Merge(&unlabel))
        .await
        .expect("patched");
    let Some(WatchEvent::Deleted(gone)) = events.try_next().await.unwrap() else {
        panic!("expected DELETED")
    };
    assert_eq!(gone.metadata.name.as_deref(), Some("build-1"));
}

#[tokio::test]
async fn following_a_pod_log_streams_lines_until_the_pod_finishes() {
    let kube = cluster().await;
    let pods: Api<Pod> = Api::namespaced(kube.client(), NS);
    pods.create(&PostParams::default(), &pod("build-1-abcde"))
        .await
        .expect("created");
    kube.set_pod_status(
        NS,
        "build-1-abcde",
        PodStatus {
            phase: Some("Running".into()),
            ..PodStatus::default()
        },
    );
    kube.append_pod_log(NS, "build-1-abcde", &["step 1"]);
    let follow = LogParams {
        follow: true,
        ..LogParams::default()
    };
    let mut lines = pods
        .log_stream("build-1-abcde", &follow)
        .await
        .expect("following")
        .lines();
    assert_eq!(lines.try_next().await.unwrap().as_deref(), Some("step 1"));
    kube.append_pod_log(NS, "build-1-abcde", &["step 2"]);
    assert_eq!(lines.try_next().await.unwrap().as_deref(), Some("step 2"));
    kube.set_pod_status(
        NS,
        "build-1-abcde",
        PodStatus {
            phase: Some("Succeeded".into()),
            ..PodStatus::default()
        },
    );
    let rest = tokio::time::timeout(Duration::from_secs(5), lines.try_collect::<Vec<String>>())
        .await
        .expect("the stream ends");
    assert_eq!(rest.unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn deleting_a_collection_deletes_only_what_the_selector_matches() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    for (name, repo) in [("a", "api"), ("b", "api"), ("c", "ui")] {
        jobs.create(
            &PostParams::default(),
            &job(name, json!({"slipway.dev/repo": repo})),
        )
        .await
        .expect("created");
    }
    let params = ListParams::default().labels("slipway.dev/repo=api");
    jobs.delete_collection(&DeleteParams::background(), &params)
        .await
        .expect("deleted");
    assert_eq!(kube.names("jobs", NS), ["c"]);
}

#[tokio::test]
async fn a_dry_run_create_answers_the_object_and_writes_nothing() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let before = kube.resource_version();
    let answered = jobs
        .create(&dry, &job("build-1", json!({})))
        .await
        .expect("a dry run answers as if done");
    assert_eq!(answered.metadata.name.as_deref(), Some("build-1"));
    assert!(answered.metadata.uid.is_some(), "validated and defaulted");
    assert!(kube.names("jobs", NS).is_empty());
    assert_eq!(kube.resource_version(), before, "nothing was committed");
    assert_eq!(kube.requests("dry-run create", "jobs"), 1);
    assert_eq!(kube.requests("create", "jobs"), 0);

    // Validation still runs: an invalid name is refused as it would be.
    let error = api_error(
        jobs.create(&dry, &job("Build_1", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 422);
}

#[tokio::test]
async fn a_log_of_a_pod_with_several_containers_names_one_that_has_started() {
    let kube = cluster().await;
    let pods: Api<Pod> = Api::namespaced(kube.client(), NS);
    let two: Pod = serde_json::from_value(json!({
        "metadata": {"name": "build-1-abcde"},
        "spec": {
            "initContainers": [{"name": "source", "image": "git:1"}],
            "containers": [{"name": "build", "image": "executor:1"}, {"name": "sidecar", "image": "s:1"}],
        },
    }))
    .expect("a Pod");
    pods.create(&PostParams::default(), &two)
        .await
        .expect("created");
    kube.append_container_log(NS, "build-1-abcde", "source", &["fetched"]);
    let unnamed = api_error(
        pods.logs("build-1-abcde", &LogParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (unnamed.code, unnamed.message.as_str()),
        (400, "a container name must be specified for pod build-1-abcde, choose one of: [build sidecar] or one of the init containers: [source]")
    );
    let source = LogParams {
        container: Some("source".into()),
        ..LogParams::default()
    };
    assert_eq!(
        pods.logs("build-1-abcde", &source).await.expect("logs"),
        "fetched\n"
    );
    kube.set_pod_phase(NS, "build-1-abcde", "Pending");
    let build = LogParams {
        container: Some("build".into()),
        ..LogParams::default()
    };
    let waiting = api_error(pods.logs("build-1-abcde", &build).await.unwrap_err());
    assert_eq!(
        waiting.message,
        "container \"build\" in pod \"build-1-abcde\" is waiting to start: PodInitializing"
    );
}

#[tokio::test]
async fn a_secrets_string_data_is_stored_as_base64_data() {
    let kube = cluster().await;
    let _ = job_with_owned_secret(&kube).await;
    let stored = &kube.objects("secrets", NS)[0];
    assert_eq!(stored["data"]["token"], "Z2hzX3NlY3JldA==");
    assert!(stored.get("stringData").is_none(), "write-only");
}

#[tokio::test]
async fn a_new_job_gets_the_apiservers_selector_and_pod_labels() {
    let kube = cluster().await;
    let jobs: Api<Job> = Api::namespaced(kube.client(), NS);
    let created = jobs
        .create(
            &PostParams::default(),
            &job("build-1", json!({"app": "api"})),
        )
        .await
        .expect("created");
    let uid = created.metadata.uid.clone().expect("a uid");
    let spec = serde_json::to_value(created.spec).expect("a spec");
    assert_eq!(
        spec["selector"],
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
    );
    assert_eq!(
        spec["template"]["metadata"]["labels"],
        json!({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "build-1",
               "controller-uid": uid, "job-name": "build-1"})
    );
    assert_eq!(
        (spec["completions"].clone(), spec["parallelism"].clone()),
        (json!(1), json!(1))
    );

    let pod = kube.start_job_pod(NS, "build-1");
    let pods: Api<Pod> = Api::namespaced(kube.client(), NS);
    let started = pods.get(&pod).await.expect("the pod");
    let labels = started.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("batch.kubernetes.io/controller-uid"), Some(&uid));
    let owner = &started.metadata.owner_references.unwrap_or_default()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Job", uid.as_str(), Some(true))
    );
    let status = jobs
        .get("build-1")
        .await
        .expect("the Job")
        .status
        .expect("a status");
    assert_eq!(status.active, Some(1));
    assert!(status.start_time.is_some());
}

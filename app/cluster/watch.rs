//! Watching build Jobs and their pods, so a build's pipeline wakes when its Job changes.
//!
//! `kube::runtime::watcher` lists, then watches from the list's `resourceVersion` (bookmarks
//! keep it fresh), relists when the server answers `410 Expired`, and backs off on errors.
//! A relist replaces what was known: an object that was there before and is missing from the
//! new list was deleted while no watch was open, and is reported too.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::build_job::{BUILD_LABEL, RUN_LABEL};
use crate::failure::chain;

/// What changed: a Job or a pod of a build, by the Job's name and slipway's run id label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildEvent {
    pub job_name: String,
    pub run_id: Option<i64>,
}

/// Watches Jobs and Pods labelled `slipway.dev/build` in `namespace`, calling `sink` for every
/// object applied or deleted, the initial list included (a restarted slipway sees every build
/// still there). Ends when `stop` turns true, or when its sender is dropped.
pub fn watch_builds(
    client: kube::Client,
    namespace: String,
    sink: Arc<dyn Fn(BuildEvent) + Send + Sync>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let config = watcher::Config::default().labels(BUILD_LABEL);
        let jobs = watcher(
            Api::<Job>::namespaced(client.clone(), &namespace),
            config.clone(),
        )
        .default_backoff()
        .map(|event| (Source::Jobs, event.map(|e| observe(e, describe_job))))
        .boxed();
        let pods = watcher(Api::<Pod>::namespaced(client, &namespace), config)
            .default_backoff()
            .map(|event| (Source::Pods, event.map(|e| observe(e, describe_pod))))
            .boxed();
        let mut events = futures::stream::select(jobs, pods);
        let mut known = [Tracker::default(), Tracker::default()];
        loop {
            let next = tokio::select! {
                biased;
                _ = stop.wait_for(|stopped| *stopped) => break,
                next = events.next() => next,
            };
            match next {
                Some((source, Ok(observed))) => {
                    for event in known[source as usize].on(observed) {
                        sink(event);
                    }
                }
                Some((source, Err(err))) => {
                    warn!(namespace = %namespace, resource = source.name(), error = %chain(&err),
                        "watching builds failed; retrying with backoff");
                }
                None => break,
            }
        }
        debug!(namespace = %namespace, "build watch stopped");
    })
}

#[derive(Debug, Clone, Copy)]
enum Source {
    Jobs = 0,
    Pods = 1,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Jobs => "jobs",
            Source::Pods => "pods",
        }
    }
}

/// One watcher event, reduced to what the sink needs: the object's name, and its build.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Observed {
    ListStarted,
    Listed(String, Option<BuildEvent>),
    ListDone,
    Applied(String, Option<BuildEvent>),
    Deleted(String, Option<BuildEvent>),
}

fn observe<K: ResourceExt>(
    event: watcher::Event<K>,
    describe: fn(&K) -> Option<BuildEvent>,
) -> Observed {
    match event {
        watcher::Event::Init => Observed::ListStarted,
        watcher::Event::InitApply(object) => Observed::Listed(object.name_any(), describe(&object)),
        watcher::Event::InitDone => Observed::ListDone,
        watcher::Event::Apply(object) => Observed::Applied(object.name_any(), describe(&object)),
        watcher::Event::Delete(object) => Observed::Deleted(object.name_any(), describe(&object)),
    }
}

fn run_id<K: ResourceExt>(object: &K) -> Option<i64> {
    object
        .labels()
        .get(RUN_LABEL)
        .and_then(|id| id.parse().ok())
}

fn describe_job(job: &Job) -> Option<BuildEvent> {
    Some(BuildEvent {
        job_name: job.name_any(),
        run_id: run_id(job),
    })
}

fn describe_pod(pod: &Pod) -> Option<BuildEvent> {
    let labels = pod.labels();
    let job_name = labels
        .get(BUILD_LABEL)
        .or_else(|| labels.get("batch.kubernetes.io/job-name"))?;
    Some(BuildEvent {
        job_name: job_name.clone(),
        run_id: run_id(pod),
    })
}

/// The objects of one resource the watch knows, so a relist can tell which went missing.
#[derive(Debug, Default)]
struct Tracker {
    known: HashMap<String, BuildEvent>,
    relisted: Option<HashMap<String, BuildEvent>>,
}

impl Tracker {
    /// The events to report for `observed`.
    fn on(&mut self, observed: Observed) -> Vec<BuildEvent> {
        match observed {
            Observed::ListStarted => {
                self.relisted = Some(HashMap::new());
                Vec::new()
            }
            Observed::Listed(name, Some(event)) => {
                self.relisted
                    .get_or_insert_with(HashMap::new)
                    .insert(name, event.clone());
                vec![event]
            }
            Observed::ListDone => {
                let listed = self.relisted.take().unwrap_or_default();
                let gone = std::mem::replace(&mut self.known, listed);
                gone.into_iter()
                    .filter(|(name, _)| !self.known.contains_key(name))
                    .map(|(_, event)| event)
                    .collect()
            }
            Observed::Applied(name, Some(event)) => {
                self.known.insert(name, event.clone());
                vec![event]
            }
            Observed::Deleted(name, Some(event)) => {
                self.known.remove(&name);
                vec![event]
            }
            Observed::Listed(_, None) | Observed::Applied(_, None) | Observed::Deleted(_, None) => {
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(name: &str, run: i64) -> Option<BuildEvent> {
        Some(BuildEvent {
            job_name: name.to_string(),
            run_id: Some(run),
        })
    }

    #[test]
    fn a_relist_reports_what_was_deleted_while_no_watch_was_open() {
        let mut tracker = Tracker::default();
        let mut seen = Vec::new();
        for observed in [
            Observed::ListStarted,
            Observed::Listed("build-a".into(), build("build-a", 1)),
            Observed::ListDone,
            Observed::Applied("build-b".into(), build("build-b", 2)),
            Observed::Applied("build-c".into(), build("build-c", 3)),
            Observed::Deleted("build-c".into(), build("build-c", 3)),
            // The watch expired; the relist no longer has build-a.
            Observed::ListStarted,
            Observed::Listed("build-b".into(), build("build-b", 2)),
            Observed::ListDone,
        ] {
            seen.extend(tracker.on(observed).into_iter().map(|e| e.job_name));
        }
        assert_eq!(
            seen,
            ["build-a", "build-b", "build-c", "build-c", "build-b", "build-a"]
        );
        assert_eq!(tracker.known.keys().collect::<Vec<_>>(), ["build-b"]);
    }
}

//! The Job watch, wired to the runs: every change to a build's Job or pods wakes its run.

use tokio::sync::mpsc;

use crate::cluster::{self, BuildEvent};
use crate::runs::Runs;
use crate::store::{RunId, RunTarget};

use super::{Builds, ClusterAccess, JOB_SIGNAL};

/// Events waiting to become signals; past this many the newest are dropped, and the runs they
/// were for look at their Jobs at their next resync instead.
const PENDING_EVENTS: usize = 1024;

/// Starts watching the build namespace when a cluster is reachable; the tasks end when `stop`
/// fires.
pub fn watch_jobs(
    builds: &Builds,
    runs: Runs,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let ClusterAccess::Ready(cluster) = builds.cluster() else {
        return None;
    };
    let (events, mut received) = mpsc::channel::<BuildEvent>(PENDING_EVENTS);
    let sink = std::sync::Arc::new(move |event: BuildEvent| {
        if events.try_send(event).is_err() {
            tracing::debug!(
                "build events arrive faster than they are handled; one is left to the resync"
            );
        }
    });
    let watcher = cluster::watch_builds(
        cluster.client(),
        cluster.namespace().to_string(),
        sink,
        stop.clone(),
    );
    Some(tokio::spawn(async move {
        while let Some(event) = received.recv().await {
            let Some(run_id) = event.run_id else {
                continue;
            };
            let target = RunTarget::Id(RunId(run_id));
            let payload = serde_json::json!({ "job": event.job_name });
            if let Err(err) = runs.signal(&target, JOB_SIGNAL, payload).await {
                tracing::warn!(job = %event.job_name, error = %err, "cannot wake the build of a Job");
            }
        }
        let _ = watcher.await;
    }))
}

//! Periodic work, in one place: each job has a name and an interval, runs at start-up and then
//! every interval (or at once when its trigger fires), and only while this scheduler holds the
//! job's lease row in the store, so two replicas on one database never run the same job at once.
//!
//! The server registers the missed-delivery scan and the delivery retention here; drift scans
//! plug in the same way.

mod leased;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::store::Store;

pub use leased::{run_leased, LeasedRun};

pub type JobFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
type JobFn = Arc<dyn Fn() -> JobFuture + Send + Sync>;

/// One periodic job.
#[derive(Clone)]
pub struct Job {
    pub name: String,
    pub interval: Duration,
    work: JobFn,
    trigger: Option<Arc<Notify>>,
}

impl Job {
    pub fn new<F, Fut>(name: &str, interval: Duration, work: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Job {
            name: name.to_string(),
            interval,
            work: Arc::new(move || Box::pin(work())),
            trigger: None,
        }
    }

    /// Also runs the job as soon as `trigger` is notified (e.g. when credentials arrive).
    pub fn triggered_by(mut self, trigger: Arc<Notify>) -> Self {
        self.trigger = Some(trigger);
        self
    }
}

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Who this scheduler is in the lease rows; unique per process.
    pub holder: String,
    /// How long a lease lasts unless renewed; a crashed holder's jobs run elsewhere after it.
    pub lease_ttl: Duration,
}

impl SchedulerConfig {
    /// A holder id unique to this process: the process id and a random part.
    pub fn for_this_process() -> Self {
        SchedulerConfig {
            holder: format!("{}-{:08x}", std::process::id(), rand::random::<u32>()),
            lease_ttl: Duration::from_secs(60),
        }
    }
}

/// The jobs to run, collected before the scheduler starts.
pub struct Scheduler {
    store: Store,
    config: SchedulerConfig,
    jobs: Vec<Job>,
}

/// A started scheduler: stop it with `shutdown`.
pub struct RunningScheduler {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl RunningScheduler {
    /// Stops every job loop; a job in flight is dropped and its lease given up.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Scheduler {
    pub fn new(store: Store, config: SchedulerConfig) -> Self {
        Scheduler {
            store,
            config,
            jobs: Vec::new(),
        }
    }

    pub fn add(&mut self, job: Job) -> &mut Self {
        self.jobs.push(job);
        self
    }

    /// Starts one loop per job; each runs its job at once, then every interval.
    pub fn start(self) -> RunningScheduler {
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for job in self.jobs {
            tasks.spawn(job_loop(
                self.store.clone(),
                self.config.clone(),
                job,
                stop_rx.clone(),
            ));
        }
        RunningScheduler { stop, tasks }
    }
}

async fn job_loop(
    store: Store,
    config: SchedulerConfig,
    job: Job,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let run = run_leased(&store, &config, &job.name, (job.work)());
        tokio::select! {
            ran = run => log_run(&job.name, &config.holder, ran),
            _ = stopped(&mut stop) => {
                let _ = store.release_lease(&job.name, &config.holder).await;
                return;
            }
        }
        let triggered = async {
            match &job.trigger {
                Some(trigger) => trigger.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(job.interval) => {}
            _ = triggered => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

fn log_run(job: &str, holder: &str, ran: LeasedRun) {
    match ran {
        LeasedRun::Done(Ok(())) => tracing::debug!(job, "periodic job done"),
        LeasedRun::Done(Err(err)) => {
            tracing::warn!(job, error = %err, "periodic job failed; it runs again next interval")
        }
        LeasedRun::HeldElsewhere => {
            tracing::debug!(
                job,
                holder,
                "another replica holds the job's lease; skipped"
            )
        }
        LeasedRun::LeaseLost => {
            tracing::warn!(job, "the job's lease was lost while it ran; stopped it")
        }
        LeasedRun::StoreFailed(err) => {
            tracing::warn!(job, error = %err, "cannot take the job's lease; trying next interval")
        }
    }
}

//! The supervisor: steps due runs, times out those past their deadline, runs clean-up hooks, and
//! sleeps until the store says the next run is due. It holds no state a restart would lose.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{watch, Notify};
use tokio::task::{AbortHandle, Id, JoinSet};
use tracing::Instrument;

use crate::queue::random_jitter;
use crate::store::{
    now_millis, RunId, RunRecord, RunState, RunTarget, StartOutcome, StepRecord, Store, StoreError,
};
use crate::telemetry::{KindLabels, Metrics};

use super::kind::{RunKinds, StepContext, StepError};
use super::transition::record_for;

/// Due runs one round looks at; the rest wait for the next round, which follows at once.
const DUE_WINDOW: i64 = 64;

#[derive(Debug, Clone)]
pub struct RunsConfig {
    /// Tries of one step before a retryable error fails the run.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// On shutdown, how long in-flight steps may take before they are left to the next start.
    pub shutdown_grace: Duration,
    /// Signals stored by another process (no wake-up reaches this one) are seen within this long.
    pub sweep_interval: Duration,
}

impl Default for RunsConfig {
    fn default() -> Self {
        RunsConfig {
            max_attempts: 5,
            base_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(5 * 60),
            shutdown_grace: Duration::from_secs(20),
            sweep_interval: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no run kind `{kind}` is registered (registered: {registered})")]
    UnknownKind { kind: String, registered: String },
}

/// A handler that cannot start its run fails like any other store failure (retried), or as a
/// permanent mistake when it names a kind nobody registered.
impl From<RunsError> for crate::queue::HandlerError {
    fn from(err: RunsError) -> Self {
        match err {
            RunsError::Store(err) => crate::queue::HandlerError::Store(err),
            unknown @ RunsError::UnknownKind { .. } => {
                crate::queue::HandlerError::permanent(unknown.to_string())
            }
        }
    }
}

/// Starts, signals and cancels runs, and wakes the supervisor. Cheap to clone.
#[derive(Clone)]
pub struct Runs {
    store: Store,
    kinds: Arc<Vec<String>>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
}

impl Runs {
    /// Starts a run of `kind` on `subject`, which must complete within `timeout`, and returns at
    /// once. A (kind, subject) with an active run keeps it: the answer is `AlreadyActive`, so a
    /// handler retried after a crash does not start its run twice.
    pub async fn start(
        &self,
        kind: &str,
        subject: &str,
        progress: Value,
        timeout: Duration,
    ) -> Result<StartOutcome, RunsError> {
        if !self.kinds.iter().any(|known| known == kind) {
            return Err(RunsError::UnknownKind {
                kind: kind.to_string(),
                registered: if self.kinds.is_empty() {
                    "none".to_string()
                } else {
                    self.kinds.join(", ")
                },
            });
        }
        let deadline =
            now_millis().saturating_add(i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX));
        let outcome = self
            .store
            .start_run(kind, subject, &progress, deadline)
            .await?;
        if let StartOutcome::Started(run) = &outcome {
            tracing::info!(run_id = %run.id, kind, subject, "run started");
            self.wake.notify_one();
        }
        Ok(outcome)
    }

    /// Sends a signal to the active run `target` names and wakes it when it waits for `key`.
    /// `None`: no such active run. Stored first, so it reaches the run across a restart.
    pub async fn signal(
        &self,
        target: &RunTarget,
        key: &str,
        payload: Value,
    ) -> Result<Option<RunId>, StoreError> {
        let sent = self.store.signal_run(target, key, &payload).await?;
        if sent.is_some() {
            self.wake.notify_one();
        }
        Ok(sent)
    }

    /// Cancels the active run `target` names; a step in flight finishes, but its result is dropped.
    pub async fn cancel(
        &self,
        target: &RunTarget,
        reason: &str,
    ) -> Result<Option<RunRecord>, StoreError> {
        let cancelled = self.store.cancel_run(target, reason).await?;
        if let Some(run) = &cancelled {
            self.metrics.count_run(&run.kind, "cancelled");
            tracing::info!(run_id = %run.id, kind = %run.kind, subject = %run.subject, reason, "run cancelled");
            self.wake.notify_one();
        }
        Ok(cancelled)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Asks the supervisor to stop; in-flight steps get the grace period.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the supervisor of `kinds`. Runs a stopped process left mid-step are taken up again.
/// The join handle finishes when the supervisor has shut down.
pub async fn start(
    store: Store,
    kinds: RunKinds,
    metrics: Arc<Metrics>,
    config: RunsConfig,
) -> Result<(Runs, tokio::task::JoinHandle<()>), StoreError> {
    let resumed = store.requeue_interrupted_runs().await?;
    if resumed > 0 {
        tracing::info!(
            resumed,
            "runs left mid-step by an earlier process are taken up again"
        );
    }
    let wake = Arc::new(Notify::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let names = kinds.names();
    let supervisor = Supervisor {
        store: store.clone(),
        names: names.clone(),
        kinds,
        metrics: metrics.clone(),
        config,
        wake: wake.clone(),
        stop: stop_rx,
        tasks: JoinSet::new(),
        tasks_by_id: HashMap::new(),
        steps: HashMap::new(),
        hooks: HashSet::new(),
        hook_retry_at: HashMap::new(),
        last_gauge_update: None,
    };
    let join = tokio::spawn(supervisor.run());
    Ok((
        Runs {
            store,
            kinds: Arc::new(names),
            metrics,
            wake,
            stop: stop_tx,
        },
        join,
    ))
}

/// What a finished task reports.
enum Finished {
    Step {
        run: RunRecord,
        seen: Vec<i64>,
        result: Result<super::StepOutcome, StepError>,
    },
    Hook {
        run: RunRecord,
        result: Result<(), StepError>,
    },
}

/// Which run a task works for, to make sense of a task that panicked.
enum TaskOf {
    Step(RunRecord),
    Hook(RunRecord),
}

struct Supervisor {
    store: Store,
    kinds: RunKinds,
    names: Vec<String>,
    metrics: Arc<Metrics>,
    config: RunsConfig,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
    tasks: JoinSet<Finished>,
    tasks_by_id: HashMap<Id, TaskOf>,
    /// Runs with a step in flight, so a time-out can abort it.
    steps: HashMap<RunId, AbortHandle>,
    hooks: HashSet<RunId>,
    /// Hooks that failed are tried again no sooner than this.
    hook_retry_at: HashMap<RunId, i64>,
    last_gauge_update: Option<Instant>,
}

impl Supervisor {
    async fn run(mut self) {
        loop {
            if *self.stop.borrow() {
                break;
            }
            let next = match self.round().await {
                Ok(next) => next,
                Err(err) => {
                    tracing::error!(error = %err, "cannot read the runs; trying again shortly");
                    Some(now_millis() + 1000)
                }
            };
            let sleep_for = crate::store::sleep_until(next, self.config.sweep_interval);
            tokio::select! {
                _ = self.stop.changed() => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep_for) => {}
                Some(joined) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    self.finished(joined).await;
                    while let Some(more) = self.tasks.try_join_next_with_id() {
                        self.finished(more).await;
                    }
                }
            }
        }
        self.drain().await;
    }

    /// Times out, cleans up and steps what is due; returns when the next run becomes due.
    async fn round(&mut self) -> Result<Option<i64>, StoreError> {
        let now = now_millis();
        for run in self.store.time_out_runs(now).await? {
            if let Some(step) = self.steps.remove(&run.id) {
                step.abort();
            }
            self.metrics.count_run(&run.kind, "timed_out");
            tracing::warn!(
                run_id = %run.id,
                kind = %run.kind,
                subject = %run.subject,
                outcome = run.outcome.as_deref().unwrap_or(""),
                "run timed out"
            );
        }
        for run in self.store.runs_awaiting_hook(&self.names).await? {
            let backing_off = self.hook_retry_at.get(&run.id).is_some_and(|at| *at > now);
            // A cancelled run's step may still be in flight: its clean-up waits for the step,
            // or it would race what the step does (a Job created after it was deleted).
            let stepping = self.steps.contains_key(&run.id);
            if !self.hooks.contains(&run.id) && !backing_off && !stepping {
                self.spawn_hook(run);
            }
        }
        for due in self.store.due_runs(&self.names, now, DUE_WINDOW).await? {
            if self.steps.contains_key(&due.id) {
                continue;
            }
            let Some(registered) = self.kinds.get(&due.kind) else {
                continue;
            };
            let Some(run) = self.store.claim_run(due.id, registered.limit).await? else {
                continue;
            };
            let signals = self.store.run_signals(run.id).await?;
            self.spawn_step(StepContext { run, signals });
        }
        self.update_gauge().await;
        let next_hook = self.hook_retry_at.values().copied().min();
        let next = self.store.next_run_wake(now).await?;
        Ok(match (next, next_hook) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    fn spawn_step(&mut self, context: StepContext) {
        let Some(registered) = self.kinds.get(&context.run.kind) else {
            return;
        };
        let kind = registered.kind.clone();
        let run = context.run.clone();
        let span = tracing::info_span!(
            "run",
            run_id = %run.id,
            kind = %run.kind,
            subject = %run.subject,
            attempt = run.attempt,
        );
        let handle = self.tasks.spawn(
            async move {
                let result = kind.step(&context).await;
                Finished::Step {
                    seen: context.signals.iter().map(|signal| signal.seq).collect(),
                    run: context.run,
                    result,
                }
            }
            .instrument(span),
        );
        self.steps.insert(run.id, handle.clone());
        self.tasks_by_id.insert(handle.id(), TaskOf::Step(run));
    }

    fn spawn_hook(&mut self, run: RunRecord) {
        let Some(registered) = self.kinds.get(&run.kind) else {
            return;
        };
        let kind = registered.kind.clone();
        let span = tracing::info_span!("run_cleanup_hook", run_id = %run.id, kind = %run.kind, state = %run.state);
        let task_run = run.clone();
        let handle = self.tasks.spawn(
            async move {
                let result = match task_run.state {
                    RunState::Cancelled => kind.on_cancel(&task_run).await,
                    _ => kind.on_timeout(&task_run).await,
                };
                Finished::Hook {
                    run: task_run,
                    result,
                }
            }
            .instrument(span),
        );
        self.hooks.insert(run.id);
        self.tasks_by_id.insert(handle.id(), TaskOf::Hook(run));
    }

    async fn finished(&mut self, joined: Result<(Id, Finished), tokio::task::JoinError>) {
        let task = match &joined {
            Ok((id, _)) => *id,
            Err(err) => err.id(),
        };
        let Some(task_of) = self.tasks_by_id.remove(&task) else {
            return;
        };
        let finished = match joined {
            Ok((_, finished)) => finished,
            // Aborted: the run timed out mid-step and is finished already.
            Err(err) if err.is_cancelled() => {
                if let TaskOf::Hook(run) = task_of {
                    self.hooks.remove(&run.id);
                }
                return;
            }
            Err(_) => match task_of {
                TaskOf::Step(run) => Finished::Step {
                    run,
                    seen: Vec::new(),
                    result: Err(StepError::Retryable("the step panicked".to_string())),
                },
                TaskOf::Hook(run) => Finished::Hook {
                    run,
                    result: Err(StepError::Retryable("the hook panicked".to_string())),
                },
            },
        };
        match finished {
            Finished::Step { run, seen, result } => self.step_finished(run, seen, result).await,
            Finished::Hook { run, result } => self.hook_finished(run, result).await,
        }
    }

    async fn step_finished(
        &mut self,
        run: RunRecord,
        seen: Vec<i64>,
        result: Result<super::StepOutcome, StepError>,
    ) {
        self.steps.remove(&run.id);
        let record = record_for(
            result,
            run.attempt,
            self.config.max_attempts,
            (self.config.base_delay, self.config.max_delay),
            random_jitter(),
            now_millis(),
        );
        match self.store.record_step(run.id, &record, &seen).await {
            Ok(true) => match &record {
                StepRecord::Finished { state, outcome } => {
                    self.metrics.count_run(&run.kind, state.as_str());
                    tracing::info!(run_id = %run.id, kind = %run.kind, subject = %run.subject, state = %state, outcome, "run finished");
                }
                StepRecord::Retry { error, .. } => {
                    tracing::warn!(run_id = %run.id, kind = %run.kind, error, "run step failed; will retry");
                }
                StepRecord::Waiting { signal, at, .. } => {
                    tracing::debug!(run_id = %run.id, signal = signal.as_deref().unwrap_or(""), wake_at = at.unwrap_or(0), "run waiting");
                }
            },
            Ok(false) => {
                tracing::info!(run_id = %run.id, "the run was cancelled or timed out during its step; the step's result is dropped");
            }
            Err(err) => {
                // The row stays `running`: the next start takes the step up again.
                tracing::error!(run_id = %run.id, error = %err, "cannot record a run's step; it is taken up again after restart");
            }
        }
    }

    async fn hook_finished(&mut self, run: RunRecord, result: Result<(), StepError>) {
        self.hooks.remove(&run.id);
        match result {
            Ok(()) => {
                self.hook_retry_at.remove(&run.id);
                if let Err(err) = self.store.hook_done(run.id).await {
                    tracing::error!(run_id = %run.id, error = %err, "cannot record that a run's clean-up hook ran; it runs again");
                }
            }
            Err(err) => {
                tracing::warn!(run_id = %run.id, kind = %run.kind, error = %err, "a run's clean-up hook failed; trying again later");
                let again = now_millis()
                    + i64::try_from(self.config.base_delay.as_millis()).unwrap_or(i64::MAX);
                self.hook_retry_at.insert(run.id, again);
            }
        }
    }

    /// Shutdown: in-flight steps get the grace period; the rest stay `running` in the store and
    /// the next start takes them up again.
    async fn drain(mut self) {
        let deadline = tokio::time::sleep(self.config.shutdown_grace);
        tokio::pin!(deadline);
        while !self.tasks.is_empty() {
            tokio::select! {
                _ = &mut deadline => break,
                Some(joined) = self.tasks.join_next_with_id() => self.finished(joined).await,
            }
        }
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }

    async fn update_gauge(&mut self) {
        if self
            .last_gauge_update
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last_gauge_update = Some(Instant::now());
        let Ok(counts) = self.store.count_active_runs().await else {
            return;
        };
        let counts: HashMap<String, i64> = counts.into_iter().collect();
        for name in &self.names {
            self.metrics
                .runs_active
                .get_or_create(&KindLabels { kind: name.clone() })
                .set(counts.get(name).copied().unwrap_or(0));
        }
    }
}

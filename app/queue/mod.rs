//! The durable delivery queue: a dispatcher hands pending deliveries from the store to a bounded
//! pool of workers, one ordering key at a time, and records each outcome.
//!
//! At-least-once: a delivery is marked running before its handler starts and done after it ends,
//! so a crash in between runs it again after restart. Ingress wakes the dispatcher directly;
//! timers cover backoff; a slow sweep picks up rows written by other processes (`slipway
//! deliveries retry`).

mod backoff;
mod handlers;
mod scheduling;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};
use tokio::task::{Id, JoinSet};
use tracing::Instrument;

pub use backoff::{random_jitter, retry_delay};
pub use handlers::{Delivery, HandlerError, HandlerFuture, HandlerRegistry};
pub use scheduling::{select_runnable, Selection};

use crate::failure::FailureKind;
use crate::store::{now_millis, AttemptOutcome, DeliveryRow, Store};
use crate::telemetry::{DeliveryLabels, EventLabels, FailureLabels, Metrics};
use crate::webhook::DeliveryId;

/// How many pending rows one dispatch round looks at. Rows beyond it arrived later than every
/// row in it, so a small window never breaks ordering; it only bounds the work of a round.
const CANDIDATE_WINDOW: i64 = 256;
/// Rows written by another process (a CLI retry) are noticed within this long.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub workers: usize,
    /// Attempts before a retryable failure becomes `failed`.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// On shutdown, how long in-flight handlers may take to finish before they are handed back.
    pub shutdown_grace: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            workers: 4,
            max_attempts: 8,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(10 * 60),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// What the dispatcher is busy with, shared so ingress can tell whether new work can start now.
#[derive(Default)]
struct Occupancy {
    running: usize,
    busy_keys: HashSet<String>,
}

/// Wakes the dispatcher and stops it. Cheap to clone.
#[derive(Clone)]
pub struct QueueHandle {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    occupancy: Arc<Mutex<Occupancy>>,
    workers: usize,
}

impl QueueHandle {
    /// Work was stored by another path (a retry, a recovery): let the dispatcher look.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// A delivery with `ordering_key` was stored. The dispatcher is woken only when it could start
    /// the delivery now: a free worker and no running delivery of the same key. Otherwise the
    /// completion that frees the worker or the key starts the next round anyway, and a burst of
    /// webhooks for one branch does not cost a queue scan each.
    pub fn notify_stored(&self, ordering_key: Option<&str>) {
        let occupancy = match self.occupancy.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let can_start = occupancy.running < self.workers
            && ordering_key.is_none_or(|key| !occupancy.busy_keys.contains(key));
        drop(occupancy);
        if can_start {
            self.wake.notify_one();
        }
    }

    /// Asks the dispatcher to stop taking work; in-flight handlers get the grace period.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

struct Running {
    id: String,
    event: String,
    key: Option<String>,
}

/// What a worker hands back: the handler's verdict and how long it took.
struct Finished {
    outcome: AttemptOutcome,
    label: &'static str,
    /// Why the attempt failed, when it did.
    kind: Option<FailureKind>,
    elapsed: Duration,
}

struct Dispatcher {
    store: Store,
    handlers: Arc<HandlerRegistry>,
    metrics: Arc<Metrics>,
    config: QueueConfig,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
    tasks: JoinSet<Finished>,
    running: HashMap<Id, Running>,
    occupancy: Arc<Mutex<Occupancy>>,
    last_depth_update: Option<Instant>,
}

/// Starts the dispatcher. Deliveries a crash left `running` go back to the queue first.
/// The returned join handle finishes when the queue has shut down.
pub async fn start(
    store: Store,
    handlers: HandlerRegistry,
    metrics: Arc<Metrics>,
    config: QueueConfig,
) -> Result<(QueueHandle, tokio::task::JoinHandle<()>), crate::store::StoreError> {
    let recovered = store.requeue_running(None).await?;
    if recovered > 0 {
        tracing::info!(
            recovered,
            "deliveries left running by an earlier process are queued again"
        );
    }
    let wake = Arc::new(Notify::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let occupancy = Arc::new(Mutex::new(Occupancy::default()));
    let workers = config.workers;
    let dispatcher = Dispatcher {
        store,
        handlers: Arc::new(handlers),
        metrics,
        config,
        wake: wake.clone(),
        stop: stop_rx,
        tasks: JoinSet::new(),
        running: HashMap::new(),
        occupancy: occupancy.clone(),
        last_depth_update: None,
    };
    let join = tokio::spawn(dispatcher.run());
    Ok((
        QueueHandle {
            wake,
            stop: stop_tx,
            occupancy,
            workers,
        },
        join,
    ))
}

impl Dispatcher {
    async fn run(mut self) {
        loop {
            if *self.stop.borrow() {
                break;
            }
            let next_due = match self.fill_slots().await {
                Ok(due) => due,
                Err(err) => {
                    tracing::error!(error = %err, "cannot read the delivery queue; trying again shortly");
                    Some(now_millis() + 1000)
                }
            };
            let sleep_for = crate::store::sleep_until(next_due, SWEEP_INTERVAL);
            tokio::select! {
                _ = self.stop.changed() => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep_for) => {}
                Some(joined) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    let mut batch = vec![joined];
                    while let Some(more) = self.tasks.try_join_next_with_id() {
                        batch.push(more);
                    }
                    self.finished(batch).await;
                }
            }
        }
        self.drain().await;
    }

    /// Starts as many runnable deliveries as there are free workers; returns when the next
    /// not-yet-due delivery becomes due.
    async fn fill_slots(&mut self) -> Result<Option<i64>, crate::store::StoreError> {
        self.update_queue_depth().await;
        let free = self.config.workers.saturating_sub(self.running.len());
        if free == 0 {
            return Ok(None);
        }
        let candidates = self.store.pending_deliveries(CANDIDATE_WINDOW).await?;
        let busy_keys = self.occupancy().busy_keys.clone();
        let selection = select_runnable(&candidates, &busy_keys, now_millis(), free);
        let mut next_due = selection.next_due_at;
        if candidates.len() as i64 == CANDIDATE_WINDOW {
            next_due = match (next_due, self.store.next_due_at().await?) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let chosen: Vec<&DeliveryRow> = selection.start.iter().map(|&i| &candidates[i]).collect();
        let ids: Vec<String> = chosen.iter().map(|row| row.id.clone()).collect();
        let claimed: HashSet<String> = self.store.claim(&ids).await?.into_iter().collect();
        let chosen: Vec<&DeliveryRow> = chosen
            .into_iter()
            .filter(|row| claimed.contains(&row.id))
            .collect();
        let seqs: Vec<i64> = chosen.iter().map(|row| row.seq).collect();
        let mut payloads = self.store.payloads(&seqs).await?;
        for row in chosen {
            let payload = payloads.remove(&row.seq);
            self.spawn(row.clone(), payload);
        }
        Ok(next_due)
    }

    fn spawn(&mut self, row: DeliveryRow, payload: Option<Vec<u8>>) {
        {
            let mut occupancy = self.occupancy();
            occupancy.running += 1;
            if let Some(key) = &row.ordering_key {
                occupancy.busy_keys.insert(key.clone());
            }
        }
        let work = Work {
            handlers: self.handlers.clone(),
            config: self.config.clone(),
        };
        let span = tracing::info_span!(
            "delivery",
            delivery_id = %row.id,
            event = %row.event,
            action = row.action.as_deref().unwrap_or(""),
            attempt = row.attempts + 1,
        );
        let running = Running {
            id: row.id.clone(),
            event: row.event.clone(),
            key: row.ordering_key.clone(),
        };
        let handle = self.tasks.spawn(work.run(row, payload).instrument(span));
        self.running.insert(handle.id(), running);
    }

    /// Records the outcomes of finished attempts in one transaction, then frees their keys: the
    /// next delivery of a pull request starts only after the previous one's outcome is stored.
    async fn finished(&mut self, joined: Vec<Result<(Id, Finished), tokio::task::JoinError>>) {
        let mut outcomes = Vec::with_capacity(joined.len());
        let mut observations = Vec::with_capacity(joined.len());
        for result in joined {
            let task = match &result {
                Ok((id, _)) => *id,
                Err(err) => err.id(),
            };
            let Some(running) = self.running.remove(&task) else {
                continue;
            };
            let finished = match result {
                Ok((_, finished)) => finished,
                Err(err) => {
                    // A panicking handler is a failure worth another try, like any bug fixed by a deploy.
                    let message = if err.is_panic() {
                        "the handler panicked"
                    } else {
                        "the handler was cancelled"
                    };
                    tracing::error!(delivery_id = %running.id, kind = FailureKind::Panic.label(), "{message}");
                    Finished {
                        outcome: AttemptOutcome::Retry {
                            at: now_millis() + self.config.base_delay.as_millis() as i64,
                            error: message.to_string(),
                        },
                        label: "retry",
                        kind: Some(FailureKind::Panic),
                        elapsed: Duration::ZERO,
                    }
                }
            };
            if let Some(kind) = finished.kind {
                self.metrics
                    .delivery_failures
                    .get_or_create(&FailureLabels {
                        event: running.event.clone(),
                        kind: kind.label().to_string(),
                    })
                    .inc();
            }
            if matches!(finished.outcome, AttemptOutcome::Retry { .. }) {
                self.metrics
                    .delivery_retries
                    .get_or_create(&EventLabels {
                        event: running.event.clone(),
                    })
                    .inc();
            }
            observations.push((running.event.clone(), finished.label, finished.elapsed));
            outcomes.push((running, finished.outcome));
        }
        let rows: Vec<(String, AttemptOutcome)> = outcomes
            .iter()
            .map(|(r, o)| (r.id.clone(), o.clone()))
            .collect();
        if let Err(err) = self.store.record_outcomes(&rows).await {
            // The rows stay `running`; the next start hands them back to the queue.
            tracing::error!(error = %err, "cannot record delivery outcomes; they run again after restart");
        }
        {
            let mut occupancy = self.occupancy();
            for (running, _) in &outcomes {
                occupancy.running = occupancy.running.saturating_sub(1);
                if let Some(key) = &running.key {
                    occupancy.busy_keys.remove(key);
                }
            }
        }
        for (event, label, elapsed) in observations {
            self.metrics
                .delivery_processing
                .get_or_create(&DeliveryLabels {
                    event,
                    outcome: label.to_string(),
                })
                .observe(elapsed.as_secs_f64());
        }
    }

    /// Shutdown: give in-flight handlers the grace period, then hand the rest back to the queue.
    async fn drain(mut self) {
        let deadline = tokio::time::sleep(self.config.shutdown_grace);
        tokio::pin!(deadline);
        while !self.tasks.is_empty() {
            tokio::select! {
                _ = &mut deadline => break,
                Some(joined) = self.tasks.join_next_with_id() => self.finished(vec![joined]).await,
            }
        }
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        let unfinished: Vec<String> = self.running.drain().map(|(_, r)| r.id).collect();
        if !unfinished.is_empty() {
            match self.store.requeue_running(Some(&unfinished)).await {
                Ok(n) => tracing::info!(
                    handed_back = n,
                    "unfinished deliveries handed back to the queue"
                ),
                Err(err) => {
                    tracing::error!(error = %err, "cannot hand unfinished deliveries back; they resume at next start")
                }
            }
        }
    }

    fn occupancy(&self) -> std::sync::MutexGuard<'_, Occupancy> {
        match self.occupancy.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    async fn update_queue_depth(&mut self) {
        // At most once a second: under a burst of webhooks the count is not worth a query each.
        if self
            .last_depth_update
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last_depth_update = Some(Instant::now());
        if let Ok(depth) = self.store.count_pending().await {
            self.metrics.queue_depth.set(depth);
        }
    }
}

/// One delivery attempt: runs the handler and decides what its result means for the queue.
struct Work {
    handlers: Arc<HandlerRegistry>,
    config: QueueConfig,
}

impl Work {
    async fn run(self, row: DeliveryRow, payload: Option<Vec<u8>>) -> Finished {
        let started = Instant::now();
        let attempt = (row.attempts + 1).max(1) as u32;
        let result = self.attempt(&row, attempt, payload).await;
        let (outcome, label, kind) = self.judge(attempt, result);
        Finished {
            outcome,
            label,
            kind,
            elapsed: started.elapsed(),
        }
    }

    /// Decodes the payload once, for the handler that takes it; events without a handler
    /// are done without being decoded.
    async fn attempt(
        &self,
        row: &DeliveryRow,
        attempt: u32,
        payload: Option<Vec<u8>>,
    ) -> Result<(), HandlerError> {
        if !self.handlers.handles(&row.event, row.action.as_deref()) {
            return Ok(());
        }
        let Some(payload) = payload else {
            return Err(HandlerError::permanent(
                "the delivery's payload is missing from the store",
            ));
        };
        let event = crate::webhook::decode(&row.event, &payload)?;
        let delivery = Delivery {
            seq: row.seq,
            id: DeliveryId::new(row.id.clone()),
            ordering_key: row.ordering_key.clone(),
            event_name: row.event.clone(),
            action: row.action.clone(),
            attempt,
            event,
        };
        self.handlers.dispatch(delivery).await
    }

    fn judge(
        &self,
        attempt: u32,
        result: Result<(), HandlerError>,
    ) -> (AttemptOutcome, &'static str, Option<FailureKind>) {
        let err = match result {
            Ok(()) => {
                tracing::debug!("delivery processed");
                return (AttemptOutcome::Done, "done", None);
            }
            Err(err) => err,
        };
        let kind = err.kind();
        let chain = crate::failure::chain(&err);
        if kind.is_transient() && attempt < self.config.max_attempts {
            let backoff = retry_delay(
                attempt,
                self.config.base_delay,
                self.config.max_delay,
                random_jitter(),
            );
            let wait = err
                .retry_after()
                .map_or(backoff, |asked| asked.max(backoff));
            tracing::warn!(error = %chain, kind = kind.label(), retry_in_ms = wait.as_millis() as u64, "delivery failed; will retry");
            let at = now_millis() + wait.as_millis() as i64;
            let outcome = AttemptOutcome::Retry { at, error: chain };
            (outcome, "retry", Some(kind))
        } else if kind.is_transient() {
            let error = format!("gave up after {attempt} attempts: {chain}");
            tracing::error!(%error, kind = kind.label(), "delivery failed");
            (AttemptOutcome::Failed { error }, "failed", Some(kind))
        } else {
            tracing::error!(error = %chain, kind = kind.label(), "delivery failed; not retryable");
            (
                AttemptOutcome::Failed { error: chain },
                "failed",
                Some(kind),
            )
        }
    }
}

//! Runs: long work driven by timers and signals outside any queue worker, persisted so a restart
//! resumes it, and timed out past its deadline. The stand-in kind waits on a timer, then on an
//! `approved` signal.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use slipway::queue::{self, HandlerRegistry, QueueConfig};
use slipway::runs::{
    self, HookFuture, RunKind, RunKinds, Runs, RunsConfig, StepContext, StepFuture, StepOutcome,
};
use slipway::store::{
    now_millis, NewDelivery, RunId, RunRecord, RunState, RunTarget, StartOutcome, Store,
};
use slipway::telemetry::Metrics;

const KIND: &str = "approval";
const SUBJECT: &str = "acme/config#12:prod";

/// Waits `timer`, then for a signal `approved`; records each step's phase and each timeout hook.
#[derive(Clone, Default)]
struct Approval {
    timer: Duration,
    phases: Arc<Mutex<Vec<String>>>,
    timed_out: Arc<Mutex<Vec<RunRecord>>>,
    cancelled: Arc<Mutex<Vec<RunRecord>>>,
}

impl Approval {
    fn with_timer(timer: Duration) -> Self {
        Approval {
            timer,
            ..Approval::default()
        }
    }

    fn phases(&self) -> Vec<String> {
        self.phases.lock().unwrap().clone()
    }
}

impl RunKind for Approval {
    fn step<'a>(&'a self, step: &'a StepContext) -> StepFuture<'a> {
        Box::pin(async move {
            let phase = step.run.progress["phase"]
                .as_str()
                .unwrap_or("start")
                .to_string();
            self.phases.lock().unwrap().push(phase.clone());
            if phase == "start" {
                return Ok(StepOutcome::WaitUntil {
                    at: now_millis() + self.timer.as_millis() as i64,
                    progress: json!({"phase": "timer-done"}),
                });
            }
            match step.signal("approved") {
                Some(signal) => Ok(StepOutcome::succeeded(format!(
                    "approved by {}",
                    signal.payload["by"].as_str().unwrap_or("someone")
                ))),
                None => Ok(StepOutcome::WaitFor {
                    signal: "approved".into(),
                    progress: json!({"phase": "awaiting-approval"}),
                    until: None,
                }),
            }
        })
    }

    fn on_timeout<'a>(&'a self, run: &'a RunRecord) -> HookFuture<'a> {
        Box::pin(async move {
            self.timed_out.lock().unwrap().push(run.clone());
            Ok(())
        })
    }

    fn on_cancel<'a>(&'a self, run: &'a RunRecord) -> HookFuture<'a> {
        Box::pin(async move {
            self.cancelled.lock().unwrap().push(run.clone());
            Ok(())
        })
    }
}

fn fast_runs() -> RunsConfig {
    RunsConfig {
        max_attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(2),
        sweep_interval: Duration::from_millis(200),
    }
}

struct Supervised {
    runs: Runs,
    join: tokio::task::JoinHandle<()>,
    metrics: Arc<Metrics>,
}

impl Supervised {
    async fn stop(self) {
        self.runs.shutdown();
        self.join.await.expect("the supervisor stops cleanly");
    }
}

/// A store on `dir`'s database, opened as a fresh process would.
async fn store_in(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("slipway.db").display());
    Store::connect(&url).await.expect("the store opens")
}

async fn supervise(store: Store, kind: Approval, limit: usize) -> Supervised {
    let mut kinds = RunKinds::new();
    kinds.register(KIND, limit, kind);
    let metrics = Arc::new(Metrics::new());
    let (runs, join) = runs::start(store, kinds, metrics.clone(), fast_runs())
        .await
        .expect("the supervisor starts");
    Supervised {
        runs,
        join,
        metrics,
    }
}

async fn start(runs: &Runs, subject: &str, timeout: Duration) -> RunId {
    match runs
        .start(KIND, subject, json!({"phase": "start"}), timeout)
        .await
        .expect("the run starts")
    {
        StartOutcome::Started(run) => run.id,
        other => panic!("not started: {other:?}"),
    }
}

/// Polls the store until run `id` satisfies `done`; panics with the last row after 10 s.
async fn wait_for_run(
    store: &Store,
    id: RunId,
    what: &str,
    done: impl Fn(&RunRecord) -> bool,
) -> RunRecord {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let run = store.run(id).await.unwrap().expect("the run exists");
        if done(&run) {
            return run;
        }
        assert!(Instant::now() < deadline, "run {id} never {what}: {run:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn waiting_for_approval(run: &RunRecord) -> bool {
    run.state == RunState::Waiting && run.wait_signal.as_deref() == Some("approved")
}

fn metric(metrics: &Metrics, sample: &str) -> Option<f64> {
    metrics
        .render()
        .lines()
        .find(|line| line.starts_with(sample) && line[sample.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn a_run_completes_after_its_timer_and_then_its_signal() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    let kind = Approval::with_timer(Duration::from_millis(300));
    let supervised = supervise(store.clone(), kind.clone(), 4).await;
    let started = Instant::now();
    let id = start(&supervised.runs, SUBJECT, Duration::from_secs(60)).await;

    let waiting = wait_for_run(&store, id, "waited for approval", waiting_for_approval).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the timer was kept"
    );
    assert_eq!(waiting.progress, json!({"phase": "awaiting-approval"}));

    let signalled = supervised
        .runs
        .signal(
            &RunTarget::subject(KIND, SUBJECT),
            "approved",
            json!({"by": "alice"}),
        )
        .await
        .unwrap();
    assert_eq!(signalled, Some(id));
    let done = wait_for_run(&store, id, "finished", |run| run.state.is_finished()).await;
    assert_eq!(done.state, RunState::Succeeded);
    assert_eq!(done.outcome.as_deref(), Some("approved by alice"));
    assert!(done.finished_at.is_some());
    assert_eq!(
        kind.phases(),
        vec!["start", "timer-done", "awaiting-approval"]
    );
    assert_eq!(
        metric(
            &supervised.metrics,
            "slipway_runs_total{kind=\"approval\",outcome=\"succeeded\"}"
        ),
        Some(1.0)
    );
    supervised.stop().await;
}

#[tokio::test]
async fn a_run_resumes_after_a_restart_and_sees_the_signal_sent_while_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let first_kind = Approval::with_timer(Duration::from_millis(500));
    let first = supervise(store_in(&dir).await, first_kind.clone(), 4).await;
    let id = start(&first.runs, SUBJECT, Duration::from_secs(60)).await;
    let store = first.runs.store().clone();
    wait_for_run(&store, id, "waited on its timer", |run| {
        run.state == RunState::Waiting && run.next_wake_at.is_some()
    })
    .await;
    first.stop().await;

    // No supervisor runs: the signal is stored for the run.
    let sent = store
        .signal_run(&RunTarget::Id(id), "approved", &json!({"by": "bob"}))
        .await
        .unwrap();
    assert_eq!(sent, Some(id));

    let second_kind = Approval::with_timer(Duration::from_millis(500));
    let second = supervise(store_in(&dir).await, second_kind.clone(), 4).await;
    let done = wait_for_run(second.runs.store(), id, "finished", |run| {
        run.state.is_finished()
    })
    .await;
    assert_eq!(done.state, RunState::Succeeded);
    assert_eq!(done.outcome.as_deref(), Some("approved by bob"));
    assert_eq!(first_kind.phases(), vec!["start"]);
    assert_eq!(
        second_kind.phases(),
        vec!["timer-done"],
        "the new supervisor went on from the stored progress"
    );
    second.stop().await;
}

#[tokio::test]
async fn a_run_waiting_for_its_signal_across_a_restart_completes_when_signalled() {
    let dir = tempfile::tempdir().unwrap();
    let first = supervise(
        store_in(&dir).await,
        Approval::with_timer(Duration::from_millis(10)),
        4,
    )
    .await;
    let id = start(&first.runs, SUBJECT, Duration::from_secs(60)).await;
    wait_for_run(
        first.runs.store(),
        id,
        "waited for approval",
        waiting_for_approval,
    )
    .await;
    first.stop().await;

    let kind = Approval::with_timer(Duration::from_millis(10));
    let second = supervise(store_in(&dir).await, kind.clone(), 4).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        kind.phases().is_empty(),
        "a run waiting for a signal is not stepped without one: {:?}",
        kind.phases()
    );
    second
        .runs
        .signal(
            &RunTarget::subject(KIND, SUBJECT),
            "approved",
            json!({"by": "carol"}),
        )
        .await
        .unwrap();
    let done = wait_for_run(second.runs.store(), id, "finished", |run| {
        run.state.is_finished()
    })
    .await;
    assert_eq!(done.outcome.as_deref(), Some("approved by carol"));
    second.stop().await;
}

#[tokio::test]
async fn a_run_past_its_deadline_times_out_and_its_kind_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let kind = Approval::with_timer(Duration::from_millis(10));
    let supervised = supervise(store_in(&dir).await, kind.clone(), 4).await;
    let id = start(&supervised.runs, SUBJECT, Duration::from_millis(300)).await;

    let done = wait_for_run(supervised.runs.store(), id, "finished", |run| {
        run.state.is_finished()
    })
    .await;
    assert_eq!(done.state, RunState::TimedOut);
    assert_eq!(
        done.outcome.as_deref(),
        Some("the deadline passed while waiting for approved")
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while kind.timed_out.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the timeout hook never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let hooked = kind.timed_out.lock().unwrap().clone();
    assert_eq!(hooked.len(), 1, "the hook runs once: {hooked:?}");
    assert_eq!(hooked[0].id, id);
    assert_eq!(hooked[0].state, RunState::TimedOut);
    assert_eq!(
        metric(
            &supervised.metrics,
            "slipway_runs_total{kind=\"approval\",outcome=\"timed_out\"}"
        ),
        Some(1.0)
    );

    // A signal to a finished run reaches nothing.
    let late = supervised
        .runs
        .signal(&RunTarget::Id(id), "approved", json!({"by": "dave"}))
        .await
        .unwrap();
    assert_eq!(late, None);
    supervised.stop().await;
}

#[tokio::test]
async fn a_cancelled_run_is_cleaned_up_once_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let kind = Approval::with_timer(Duration::from_millis(10));
    let supervised = supervise(store_in(&dir).await, kind.clone(), 4).await;
    let id = start(&supervised.runs, SUBJECT, Duration::from_secs(60)).await;
    wait_for_run(supervised.runs.store(), id, "waiting", waiting_for_approval).await;

    let cancelled = supervised
        .runs
        .cancel(&RunTarget::Id(id), "superseded by 1a2b3c4")
        .await
        .unwrap()
        .expect("the run was active");
    assert_eq!(cancelled.state, RunState::Cancelled);
    let deadline = Instant::now() + Duration::from_secs(5);
    while kind.cancelled.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the cancel hook never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hooked = kind.cancelled.lock().unwrap().clone();
    assert_eq!(hooked.len(), 1, "the hook runs once: {hooked:?}");
    assert_eq!(hooked[0].outcome.as_deref(), Some("superseded by 1a2b3c4"));
    assert!(kind.timed_out.lock().unwrap().is_empty());
    supervised.stop().await;
}

#[tokio::test]
async fn a_second_start_of_an_active_subject_is_refused_and_an_unknown_kind_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let supervised = supervise(
        store_in(&dir).await,
        Approval::with_timer(Duration::from_secs(60)),
        4,
    )
    .await;
    let id = start(&supervised.runs, SUBJECT, Duration::from_secs(60)).await;
    let again = supervised
        .runs
        .start(
            KIND,
            SUBJECT,
            json!({"phase": "start"}),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(
        matches!(again, StartOutcome::AlreadyActive(ref run) if run.id == id),
        "{again:?}"
    );

    let unknown = supervised
        .runs
        .start(
            "build",
            "acme/api@abc123",
            Value::Null,
            Duration::from_secs(60),
        )
        .await
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "no run kind `build` is registered (registered: approval)"
    );

    let cancelled = supervised
        .runs
        .cancel(&RunTarget::Id(id), "superseded by a newer merge")
        .await
        .unwrap()
        .expect("the run was active");
    assert_eq!(cancelled.state, RunState::Cancelled);
    assert!(matches!(
        supervised
            .runs
            .start(
                KIND,
                SUBJECT,
                json!({"phase": "start"}),
                Duration::from_secs(60)
            )
            .await
            .unwrap(),
        StartOutcome::Started(_)
    ));
    supervised.stop().await;
}

#[tokio::test]
async fn runs_of_a_kind_beyond_its_limit_wait_pending_for_a_free_place() {
    let dir = tempfile::tempdir().unwrap();
    let supervised = supervise(
        store_in(&dir).await,
        Approval::with_timer(Duration::from_millis(10)),
        1,
    )
    .await;
    let store = supervised.runs.store().clone();
    let first = start(
        &supervised.runs,
        "acme/config#1:prod",
        Duration::from_secs(60),
    )
    .await;
    let second = start(
        &supervised.runs,
        "acme/config#2:prod",
        Duration::from_secs(60),
    )
    .await;
    wait_for_run(&store, first, "waited for approval", waiting_for_approval).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        store.run(second).await.unwrap().unwrap().state,
        RunState::Pending
    );

    supervised
        .runs
        .signal(&RunTarget::Id(first), "approved", json!({"by": "erin"}))
        .await
        .unwrap();
    wait_for_run(&store, second, "took the free place", waiting_for_approval).await;
    assert_eq!(
        store.run(first).await.unwrap().unwrap().state,
        RunState::Succeeded
    );
    supervised.stop().await;
}

#[tokio::test]
async fn a_handler_that_starts_a_long_run_does_not_hold_the_only_worker() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    let supervised = supervise(
        store.clone(),
        Approval::with_timer(Duration::from_millis(10)),
        4,
    )
    .await;
    let mut handlers = HandlerRegistry::new();
    let runs = supervised.runs.clone();
    handlers.on("push", None, move |delivery| {
        let runs = runs.clone();
        async move {
            let subject = format!("acme/api@{}", delivery.id);
            runs.start(
                KIND,
                &subject,
                json!({"phase": "start"}),
                Duration::from_secs(3600),
            )
            .await
            .map_err(|err| slipway::queue::HandlerError::retryable(err.to_string()))?;
            Ok(())
        }
    });
    let config = QueueConfig {
        workers: 1,
        ..QueueConfig::default()
    };
    let (queue, queue_join) =
        queue::start(store.clone(), handlers, supervised.metrics.clone(), config)
            .await
            .unwrap();
    // GitHub's own example of a push: the queue decodes it before the handler sees it.
    let push = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/webhooks/handled/push/00-push.json"),
    )
    .unwrap();
    for id in ["d-1", "d-2"] {
        store
            .ingest(NewDelivery {
                id: id.to_string(),
                event: "push".to_string(),
                action: None,
                installation_id: None,
                repository: Some("acme/api".to_string()),
                ordering_key: None,
                payload: bytes::Bytes::from(push.clone()),
                failed_with: None,
            })
            .await
            .unwrap();
        queue.notify();
    }

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let states: Vec<String> = store
            .list_deliveries(None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.state)
            .collect();
        if states == ["done", "done"] {
            break;
        }
        assert!(Instant::now() < deadline, "deliveries stuck: {states:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for subject in ["acme/api@d-1", "acme/api@d-2"] {
        let active = store
            .active_run(&RunTarget::subject(KIND, subject))
            .await
            .unwrap()
            .expect("the run goes on after its handler returned");
        assert!(!active.state.is_finished());
    }
    queue.shutdown();
    queue_join.await.unwrap();
    supervised.stop().await;
}

/// A kind whose step never returns: the process dies during it.
struct Stuck(Arc<tokio::sync::Notify>);

impl RunKind for Stuck {
    fn step<'a>(&'a self, _step: &'a StepContext) -> StepFuture<'a> {
        Box::pin(async move {
            self.0.notify_one();
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(StepOutcome::failed("never reached"))
        })
    }
}

#[test]
fn a_step_interrupted_by_a_crash_is_taken_again_by_the_next_process() {
    let dir = tempfile::tempdir().unwrap();

    // The first process runs on a runtime of its own that is torn down mid-step: a crash.
    let crashed = tokio::runtime::Runtime::new().unwrap();
    let id = crashed.block_on(async {
        let started = Arc::new(tokio::sync::Notify::new());
        let mut kinds = RunKinds::new();
        kinds.register(KIND, 4, Stuck(started.clone()));
        let (runs, _join) = runs::start(
            store_in(&dir).await,
            kinds,
            Arc::new(Metrics::new()),
            fast_runs(),
        )
        .await
        .unwrap();
        let notified = started.notified();
        let id = start(&runs, SUBJECT, Duration::from_secs(60)).await;
        tokio::time::timeout(Duration::from_secs(5), notified)
            .await
            .expect("the step starts");
        id
    });
    crashed.shutdown_background();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let kind = Approval::with_timer(Duration::from_millis(10));
        let supervised = supervise(store_in(&dir).await, kind.clone(), 4).await;
        let waiting = wait_for_run(
            supervised.runs.store(),
            id,
            "waited for approval",
            waiting_for_approval,
        )
        .await;
        assert_eq!(kind.phases(), vec!["start", "timer-done"]);
        assert_eq!(
            waiting.attempt, 1,
            "the interrupted step is not counted against the attempts"
        );
        supervised.stop().await;
    });
}

/// A kind whose every step fails with a retryable error.
struct Flaky(Arc<Mutex<Vec<u32>>>);

impl RunKind for Flaky {
    fn step<'a>(&'a self, step: &'a StepContext) -> StepFuture<'a> {
        Box::pin(async move {
            self.0.lock().unwrap().push(step.run.attempt);
            Err(slipway::runs::StepError::Retryable(
                "the cluster answered 503".into(),
            ))
        })
    }
}

#[tokio::test]
async fn a_step_that_keeps_failing_is_retried_then_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let attempts: Arc<Mutex<Vec<u32>>> = Arc::default();
    let mut kinds = RunKinds::new();
    kinds.register("build", 4, Flaky(attempts.clone()));
    let metrics = Arc::new(Metrics::new());
    let (runs, join) = runs::start(store_in(&dir).await, kinds, metrics.clone(), fast_runs())
        .await
        .unwrap();
    let StartOutcome::Started(run) = runs
        .start(
            "build",
            "acme/api@abc123",
            Value::Null,
            Duration::from_secs(60),
        )
        .await
        .unwrap()
    else {
        panic!("the run did not start")
    };
    let done = wait_for_run(runs.store(), run.id, "finished", |run| {
        run.state.is_finished()
    })
    .await;
    assert_eq!(done.state, RunState::Failed);
    assert_eq!(
        done.outcome.as_deref(),
        Some("gave up after 3 attempts: the cluster answered 503")
    );
    assert_eq!(*attempts.lock().unwrap(), vec![1, 2, 3]);
    assert_eq!(
        metric(
            &metrics,
            "slipway_runs_total{kind=\"build\",outcome=\"failed\"}"
        ),
        Some(1.0)
    );
    runs.shutdown();
    join.await.unwrap();
}

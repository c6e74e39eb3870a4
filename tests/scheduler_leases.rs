//! The scheduler: periodic jobs at start-up and every interval, each run only under its lease,
//! so two schedulers on one database never run one job at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slipway::scheduler::{Job, Scheduler, SchedulerConfig};
use slipway::store::Store;
use tokio::sync::Notify;

async fn store_in(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("slipway.db").display());
    Store::connect(&url).await.expect("the store opens")
}

fn holder(name: &str) -> SchedulerConfig {
    SchedulerConfig {
        holder: name.to_string(),
        lease_ttl: Duration::from_millis(300),
    }
}

/// A job that counts its runs.
fn counting(name: &str, interval: Duration, count: Arc<AtomicUsize>) -> Job {
    Job::new(name, interval, move || {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    })
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "never {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_job_runs_at_start_up_and_then_every_interval() {
    let dir = tempfile::tempdir().unwrap();
    let hourly = Arc::new(AtomicUsize::new(0));
    let frequent = Arc::new(AtomicUsize::new(0));
    let mut scheduler = Scheduler::new(store_in(&dir).await, holder("a"));
    scheduler.add(counting(
        "retention",
        Duration::from_secs(3600),
        hourly.clone(),
    ));
    scheduler.add(counting(
        "scan",
        Duration::from_millis(50),
        frequent.clone(),
    ));
    let started = Instant::now();
    let running = scheduler.start();
    wait_until("the hourly job ran at start-up", || {
        hourly.load(Ordering::SeqCst) == 1
    })
    .await;
    wait_until("the frequent job ran three more times", || {
        frequent.load(Ordering::SeqCst) >= 4
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "three intervals passed between the runs"
    );
    assert_eq!(hourly.load(Ordering::SeqCst), 1, "an hour has not passed");
    running.shutdown().await;
}

#[tokio::test]
async fn a_triggered_job_runs_at_once_without_waiting_for_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let trigger = Arc::new(Notify::new());
    let mut scheduler = Scheduler::new(store_in(&dir).await, holder("a"));
    scheduler.add(
        counting("scan", Duration::from_secs(3600), count.clone()).triggered_by(trigger.clone()),
    );
    let running = scheduler.start();
    wait_until("ran at start-up", || count.load(Ordering::SeqCst) == 1).await;
    trigger.notify_one();
    wait_until("ran when triggered", || count.load(Ordering::SeqCst) == 2).await;
    running.shutdown().await;
}

#[tokio::test]
async fn two_schedulers_on_one_database_never_run_a_job_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let in_job = Arc::new(AtomicUsize::new(0));
    let most_at_once = Arc::new(AtomicUsize::new(0));
    let runs_by: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut running = Vec::new();
    for name in ["replica-a", "replica-b"] {
        let (in_job, most_at_once, runs_by) =
            (in_job.clone(), most_at_once.clone(), runs_by.clone());
        let store = store_in(&dir).await;
        let lease_store = store.clone();
        let mut scheduler = Scheduler::new(store, holder(name));
        scheduler.add(Job::new(
            "drift-scan",
            Duration::from_millis(5),
            move || {
                let (in_job, most_at_once, runs_by, lease_store) = (
                    in_job.clone(),
                    most_at_once.clone(),
                    runs_by.clone(),
                    lease_store.clone(),
                );
                async move {
                    let now = in_job.fetch_add(1, Ordering::SeqCst) + 1;
                    most_at_once.fetch_max(now, Ordering::SeqCst);
                    let lease = lease_store.lease("drift-scan").await?;
                    assert_eq!(lease.map(|l| l.holder).as_deref(), Some(name));
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    runs_by.lock().unwrap().push(name.to_string());
                    in_job.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                }
            },
        ));
        running.push(scheduler.start());
    }
    wait_until("ran twenty times", || runs_by.lock().unwrap().len() >= 20).await;
    for scheduler in running {
        scheduler.shutdown().await;
    }
    assert_eq!(most_at_once.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_lease_left_by_a_crashed_holder_is_taken_over_after_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    // A replica took the lease and died without giving it up.
    assert!(store
        .take_lease("drift-scan", "crashed", Duration::from_millis(400))
        .await
        .unwrap());
    let taken_at = Instant::now();

    let count = Arc::new(AtomicUsize::new(0));
    let mut scheduler = Scheduler::new(store.clone(), holder("survivor"));
    scheduler.add(counting(
        "drift-scan",
        Duration::from_millis(20),
        count.clone(),
    ));
    let running = scheduler.start();
    wait_until("took the job over", || count.load(Ordering::SeqCst) >= 1).await;
    assert!(
        taken_at.elapsed() >= Duration::from_millis(400),
        "ran only after the crashed holder's lease expired"
    );
    running.shutdown().await;
    assert_eq!(
        store.lease("drift-scan").await.unwrap(),
        None,
        "a stopped scheduler gives its leases up"
    );
}

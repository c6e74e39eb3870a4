//! Durable state in embedded SQLite: webhook deliveries (the queue), installations,
//! redelivery requests, environment locks, where each pull request's preview comments are, runs
//! and their signals, the leases of periodic jobs, the deploy history, and the values slipway
//! makes once for itself (the Secret fingerprint key).
//!
//! Ingress writes go through a group-commit writer (`ingest`): concurrent webhook requests share
//! one transaction and one fsync, and each request is answered only after its row is committed.

mod deliveries;
mod deploys;
mod error_kind;
mod files;
mod ingest;
mod installations;
mod leases;
mod locks;
mod payload_codec;
mod previews;
mod pull_participants;
mod runs;
mod settings;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

pub use deliveries::{AttemptOutcome, DeliveryRow, DeliveryState, DeliverySummary, StateCount};
pub use deploys::{DeployCounts, DeployRecord, NewDeploy, DEPLOY_SUCCEEDED};
pub use ingest::{IngestOutcome, NewDelivery};
pub use installations::InstallationRecord;
pub use leases::Lease;
pub use locks::{EnvironmentLock, LockOutcome};
pub use pull_participants::{ParticipantRole, PullParticipants};
pub use runs::{RunId, RunRecord, RunSignal, RunState, RunTarget, StartOutcome, StepRecord};

/// Messages include the database's own error; it is not chained again as `source()`, so
/// printing the error with its causes says it once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(sqlx::migrate::MigrateError),
    #[error("the store is shutting down")]
    Closed,
    #[error("no delivery {0}")]
    NotFound(String),
    #[error("a stored payload is corrupt: {0}")]
    CorruptPayload(String),
    #[error("a stored setting is corrupt: {0}")]
    CorruptSetting(String),
    #[error("delivery {id} is {state}, only failed deliveries can be retried")]
    NotRetryable { id: String, state: String },
    #[error(transparent)]
    File(#[from] files::FileError),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Database(err)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(err)
    }
}

/// The handle every part of slipway shares; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    ingest: ingest::IngestHandle,
}

impl Store {
    /// Opens (creating when missing) the database at `database_url` and brings its schema up to date.
    pub async fn connect(database_url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before ingress answers GitHub.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Reads of the queue's hot rows come from memory, not from read() calls.
            .pragma("cache_size", "-16000")
            .page_size(16384);
        if !is_in_memory(database_url) {
            files::prepare_database_file(options.get_filename())?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("app/store/migrations").run(&pool).await?;
        let ingest = ingest::spawn_writer(pool.clone());
        Ok(Store { pool, ingest })
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Stores one delivery durably; returns once it is committed (or found to be a duplicate).
    pub async fn ingest(&self, delivery: NewDelivery) -> Result<IngestOutcome, StoreError> {
        self.ingest.submit(delivery).await
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Whether `database_url` names a database that never touches the disk.
fn is_in_memory(database_url: &str) -> bool {
    database_url.contains(":memory:") || database_url.contains("mode=memory")
}

pub use files::create_private_dir;

#[cfg(test)]
impl Store {
    /// A store in a fresh temporary directory, for unit tests; keep the directory alive.
    pub(crate) async fn temporary() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("slipway.db").display());
        let store = Store::connect(&url)
            .await
            .expect("a store in a temporary directory");
        (store, dir)
    }
}

/// Milliseconds since the Unix epoch: the unit of every time column.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How long a loop over stored work sleeps: until `next_due` (milliseconds since the epoch;
/// at once when it has passed), never longer than `sweep`, and `sweep` when nothing is due.
pub fn sleep_until(next_due: Option<i64>, sweep: Duration) -> Duration {
    next_due
        .map(|at| Duration::from_millis((at - now_millis()).max(0) as u64))
        .unwrap_or(sweep)
        .min(sweep)
}

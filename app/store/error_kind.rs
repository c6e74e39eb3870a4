//! What kind of failure a store error is: a database another writer holds for now can pass,
//! a write a constraint refused cannot.

use super::StoreError;
use crate::failure::FailureKind;

impl StoreError {
    pub fn kind(&self) -> FailureKind {
        match self {
            StoreError::Database(err) => database_error_kind(err),
            StoreError::Closed => FailureKind::Unavailable,
            StoreError::NotFound(_) => FailureKind::NotFound,
            StoreError::NotRetryable { .. } => FailureKind::Conflict,
            StoreError::Migration(_)
            | StoreError::File(_)
            | StoreError::CorruptPayload(_)
            | StoreError::CorruptSetting(_) => FailureKind::Internal,
        }
    }
}

fn database_error_kind(err: &sqlx::Error) -> FailureKind {
    use sqlx::error::ErrorKind;
    match err {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation
            | ErrorKind::ForeignKeyViolation
            | ErrorKind::NotNullViolation
            | ErrorKind::CheckViolation => FailureKind::Constraint,
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6), extended codes included: another writer
            // holds the database. Other database errors (a full disk, an I/O error) can pass
            // too, so they are retried as well.
            _ => match db.code().and_then(|code| code.parse::<i64>().ok()) {
                Some(code) if matches!(code & 0xff, 5 | 6) => FailureKind::StoreBusy,
                _ => FailureKind::Unavailable,
            },
        },
        sqlx::Error::PoolTimedOut => FailureKind::StoreBusy,
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Io(_) => {
            FailureKind::Unavailable
        }
        // A query that does not match the schema, a row that does not decode: a bug.
        _ => FailureKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::time::Duration;

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use sqlx::{Connection, SqliteConnection};

    use super::*;

    async fn database(dir: &tempfile::TempDir) -> SqliteConnectOptions {
        let url = format!("sqlite://{}", dir.path().join("kinds.db").display());
        SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .busy_timeout(Duration::ZERO)
    }

    #[tokio::test]
    async fn a_unique_violation_is_a_constraint() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = SqliteConnection::connect_with(&database(&dir).await)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .execute(&mut db)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut db)
            .await
            .unwrap();
        let err = sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut db)
            .await
            .unwrap_err();
        let kind = StoreError::from(err).kind();
        assert_eq!(kind, FailureKind::Constraint);
        assert!(!kind.is_transient());
    }

    #[tokio::test]
    async fn a_database_another_writer_holds_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let options = database(&dir).await;
        let mut holder = SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER)")
            .execute(&mut holder)
            .await
            .unwrap();
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut holder)
            .await
            .unwrap();
        let mut other = SqliteConnection::connect_with(&options).await.unwrap();
        let err = sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut other)
            .await
            .unwrap_err();
        let kind = StoreError::from(err).kind();
        assert_eq!(kind, FailureKind::StoreBusy);
        assert!(kind.is_transient());
    }

    #[tokio::test]
    async fn a_pool_that_hands_out_no_connection_in_time_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            // Long enough for the first connection to open on a loaded machine.
            .acquire_timeout(Duration::from_secs(1))
            .connect_with(database(&dir).await)
            .await
            .unwrap();
        let _held = pool.acquire().await.unwrap();
        let err = pool.acquire().await.unwrap_err();
        assert_eq!(StoreError::from(err).kind(), FailureKind::StoreBusy);
    }
}

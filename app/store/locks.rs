//! Environment locks: (config repo, environment) → who locked it, when and why.

use serde::Serialize;

use super::{now_millis, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct EnvironmentLock {
    /// `owner/name` of the config repo.
    pub repository: String,
    pub environment: String,
    /// The GitHub login that ran `/lock`.
    pub locked_by: String,
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub locked_at: i64,
}

/// What `lock_environment` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
    Locked(EnvironmentLock),
    /// Someone locked it before; the existing lock stands unchanged.
    AlreadyLocked(EnvironmentLock),
}

impl Store {
    /// Locks `environment` of `repository` unless it is locked already.
    pub async fn lock_environment(
        &self,
        repository: &str,
        environment: &str,
        locked_by: &str,
        reason: Option<&str>,
    ) -> Result<LockOutcome, StoreError> {
        let inserted: Option<EnvironmentLock> = sqlx::query_as(
            "INSERT INTO environment_locks (repository, environment, locked_by, reason, locked_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING \
             RETURNING repository, environment, locked_by, reason, locked_at",
        )
        .bind(repository)
        .bind(environment)
        .bind(locked_by)
        .bind(reason)
        .bind(now_millis())
        .fetch_optional(self.pool())
        .await?;
        match inserted {
            Some(lock) => Ok(LockOutcome::Locked(lock)),
            None => {
                let existing = self
                    .environment_lock(repository, environment)
                    .await?
                    .ok_or_else(|| {
                        StoreError::NotFound(format!("lock of {repository} {environment}"))
                    })?;
                Ok(LockOutcome::AlreadyLocked(existing))
            }
        }
    }

    /// Removes the lock; returns it when there was one.
    pub async fn unlock_environment(
        &self,
        repository: &str,
        environment: &str,
    ) -> Result<Option<EnvironmentLock>, StoreError> {
        Ok(sqlx::query_as(
            "DELETE FROM environment_locks WHERE repository = ? AND environment = ? \
             RETURNING repository, environment, locked_by, reason, locked_at",
        )
        .bind(repository)
        .bind(environment)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn environment_lock(
        &self,
        repository: &str,
        environment: &str,
    ) -> Result<Option<EnvironmentLock>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT repository, environment, locked_by, reason, locked_at FROM environment_locks \
             WHERE repository = ? AND environment = ?",
        )
        .bind(repository)
        .bind(environment)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Every lock of one config repo, by environment name.
    pub async fn environment_locks(
        &self,
        repository: &str,
    ) -> Result<Vec<EnvironmentLock>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT repository, environment, locked_by, reason, locked_at FROM environment_locks \
             WHERE repository = ? ORDER BY environment",
        )
        .bind(repository)
        .fetch_all(self.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lock_is_kept_until_unlocked_and_a_second_lock_leaves_the_first() {
        let (store, _dir) = Store::temporary().await;
        let first = store
            .lock_environment("acme/config", "prod", "alice", Some("freeze"))
            .await
            .unwrap();
        let LockOutcome::Locked(lock) = first else {
            panic!("not locked: {first:?}")
        };
        assert_eq!(lock.locked_by, "alice");
        assert_eq!(lock.reason.as_deref(), Some("freeze"));

        let second = store
            .lock_environment("acme/config", "prod", "bob", None)
            .await
            .unwrap();
        assert!(matches!(second, LockOutcome::AlreadyLocked(ref l) if l.locked_by == "alice"));
        assert_eq!(
            store.environment_locks("acme/config").await.unwrap().len(),
            1
        );
        assert!(store
            .environment_lock("acme/config", "dev")
            .await
            .unwrap()
            .is_none());

        let removed = store
            .unlock_environment("acme/config", "prod")
            .await
            .unwrap();
        assert_eq!(removed.map(|l| l.locked_by), Some("alice".to_string()));
        assert!(store
            .unlock_environment("acme/config", "prod")
            .await
            .unwrap()
            .is_none());
    }
}

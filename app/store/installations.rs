//! Installations of the App and the repositories each can reach; redelivery requests.

use serde::Serialize;

use super::{now_millis, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct InstallationRecord {
    pub id: i64,
    pub account: Option<String>,
    pub account_type: Option<String>,
    pub repository_selection: Option<String>,
    pub suspended: bool,
    pub deleted: bool,
}

impl Store {
    pub async fn upsert_installation(&self, record: &InstallationRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO installations (id, account, account_type, repository_selection, suspended, deleted, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET account = excluded.account, account_type = excluded.account_type, \
             repository_selection = excluded.repository_selection, suspended = excluded.suspended, \
             deleted = excluded.deleted, updated_at = excluded.updated_at",
        )
        .bind(record.id)
        .bind(&record.account)
        .bind(&record.account_type)
        .bind(&record.repository_selection)
        .bind(record.suspended)
        .bind(record.deleted)
        .bind(now_millis())
        .execute(self.pool())
        .await?;
        if record.deleted {
            sqlx::query("DELETE FROM installation_repositories WHERE installation_id = ?")
                .bind(record.id)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    pub async fn installation(&self, id: i64) -> Result<Option<InstallationRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, account, account_type, repository_selection, suspended, deleted \
             FROM installations WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn add_installation_repositories(
        &self,
        id: i64,
        names: &[String],
    ) -> Result<(), StoreError> {
        let mut transaction = self.pool().begin().await?;
        for name in names {
            sqlx::query(
                "INSERT INTO installation_repositories (installation_id, full_name) VALUES (?, ?) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(name)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    pub async fn remove_installation_repositories(
        &self,
        id: i64,
        names: &[String],
    ) -> Result<(), StoreError> {
        let mut transaction = self.pool().begin().await?;
        for name in names {
            sqlx::query(
                "DELETE FROM installation_repositories WHERE installation_id = ? AND full_name = ?",
            )
            .bind(id)
            .bind(name)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    pub async fn installation_repositories(&self, id: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT full_name FROM installation_repositories WHERE installation_id = ? ORDER BY full_name",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?)
    }

    /// The GUIDs among `guids` slipway already asked GitHub to redeliver.
    pub async fn redelivery_requested(&self, guid: &str) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM redelivery_requests WHERE guid = ?")
                .bind(guid)
                .fetch_optional(self.pool())
                .await?;
        Ok(found.is_some())
    }

    pub async fn record_redelivery(
        &self,
        guid: &str,
        github_delivery_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO redelivery_requests (guid, github_delivery_id, requested_at) VALUES (?, ?, ?) \
             ON CONFLICT (guid) DO UPDATE SET github_delivery_id = excluded.github_delivery_id, \
             requested_at = excluded.requested_at",
        )
        .bind(guid)
        .bind(github_delivery_id)
        .bind(now_millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

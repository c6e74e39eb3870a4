//! Leases of periodic jobs: `(name, holder, expires_at)`. A holder runs a job only while its lease
//! is current; a lease a crashed holder never released is free again once it expires.

use std::time::Duration;

use super::{now_millis, Store, StoreError};

/// A lease row as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

impl Store {
    /// Takes or renews the lease `name` for `holder` until `ttl` from now. True when `holder` holds
    /// it afterwards: the lease was free, expired, or `holder`'s already. One statement, so two
    /// holders racing for it cannot both win.
    pub async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = now_millis();
        let expires_at = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let taken = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
               expires_at = excluded.expires_at \
             WHERE leases.expires_at <= ?4 OR leases.holder = excluded.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(expires_at)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    /// Gives the lease up when `holder` holds it, so another holder need not wait for its expiry.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE name = ? AND holder = ?")
            .bind(name)
            .bind(holder)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        Ok(
            sqlx::query_as("SELECT name, holder, expires_at FROM leases WHERE name = ?")
                .bind(name)
                .fetch_optional(self.pool())
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn a_current_lease_is_its_holders_alone_until_released() {
        let (store, _dir) = Store::temporary().await;
        assert!(store.take_lease("scan", "a", MINUTE).await.unwrap());
        assert!(!store.take_lease("scan", "b", MINUTE).await.unwrap());
        assert!(
            store.take_lease("scan", "a", MINUTE).await.unwrap(),
            "its holder renews it"
        );
        store.release_lease("scan", "b").await.unwrap();
        assert_eq!(store.lease("scan").await.unwrap().unwrap().holder, "a");
        store.release_lease("scan", "a").await.unwrap();
        assert!(store.take_lease("scan", "b", MINUTE).await.unwrap());
    }

    #[tokio::test]
    async fn an_expired_lease_goes_to_the_next_holder() {
        let (store, _dir) = Store::temporary().await;
        assert!(store.take_lease("scan", "a", Duration::ZERO).await.unwrap());
        assert!(store.take_lease("scan", "b", MINUTE).await.unwrap());
        assert!(!store.take_lease("scan", "a", MINUTE).await.unwrap());
    }
}

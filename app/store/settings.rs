//! Values slipway makes once and keeps: whichever replica starts first makes one, and every
//! replica and restart after it reads the same.

use super::{now_millis, Store, StoreError};
use crate::diff::FingerprintKey;

const FINGERPRINT_KEY: &str = "fingerprint_key";

impl Store {
    /// The key Secret fingerprints are made with: generated and stored at the first call,
    /// the stored one ever after. Two replicas starting at once agree: the second insert is
    /// ignored and both read the row that won.
    pub async fn fingerprint_key(&self) -> Result<FingerprintKey, StoreError> {
        sqlx::query("INSERT OR IGNORE INTO settings (name, value, created_at) VALUES (?, ?, ?)")
            .bind(FINGERPRINT_KEY)
            .bind(FingerprintKey::generate().to_hex())
            .bind(now_millis())
            .execute(self.pool())
            .await?;
        let stored: String = sqlx::query_scalar("SELECT value FROM settings WHERE name = ?")
            .bind(FINGERPRINT_KEY)
            .fetch_one(self.pool())
            .await?;
        FingerprintKey::from_hex(&stored)
            .map_err(|err| StoreError::CorruptSetting(format!("{FINGERPRINT_KEY}: {err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_key_is_made_once_and_kept() {
        let (store, dir) = Store::temporary().await;
        let first = store.fingerprint_key().await.unwrap();
        assert_eq!(store.fingerprint_key().await.unwrap(), first);
        let url = format!("sqlite://{}", dir.path().join("slipway.db").display());
        let reopened = Store::connect(&url).await.unwrap();
        assert_eq!(reopened.fingerprint_key().await.unwrap(), first);
    }
}

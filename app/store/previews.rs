//! Where a pull request's preview comments are: (config repo, pull request) → comment id per part.

use super::{now_millis, Store, StoreError};

impl Store {
    /// The comment ids of a pull request's preview, in part order (part 1 first).
    pub async fn preview_comments(
        &self,
        repository: &str,
        pull_number: u64,
    ) -> Result<Vec<u64>, StoreError> {
        let rows: Vec<i64> = sqlx::query_scalar(
            "SELECT comment_id FROM preview_comments WHERE repository = ? AND pull_number = ? \
             ORDER BY part",
        )
        .bind(repository)
        .bind(pull_number as i64)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|id| id as u64).collect())
    }

    /// Replaces the remembered comments of a pull request's preview with `comment_ids`, in part order.
    pub async fn set_preview_comments(
        &self,
        repository: &str,
        pull_number: u64,
        comment_ids: &[u64],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM preview_comments WHERE repository = ? AND pull_number = ?")
            .bind(repository)
            .bind(pull_number as i64)
            .execute(&mut *tx)
            .await?;
        let now = now_millis();
        for (index, id) in comment_ids.iter().enumerate() {
            sqlx::query(
                "INSERT INTO preview_comments (repository, pull_number, part, comment_id, updated_at) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(repository)
            .bind(pull_number as i64)
            .bind(index as i64 + 1)
            .bind(*id as i64)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn preview_comments_are_replaced_as_a_whole_in_part_order() {
        let (store, _dir) = Store::temporary().await;
        assert!(store
            .preview_comments("acme/config", 7)
            .await
            .unwrap()
            .is_empty());
        store
            .set_preview_comments("acme/config", 7, &[30, 10, 20])
            .await
            .unwrap();
        store
            .set_preview_comments("acme/config", 8, &[99])
            .await
            .unwrap();
        assert_eq!(
            store.preview_comments("acme/config", 7).await.unwrap(),
            [30, 10, 20]
        );
        store
            .set_preview_comments("acme/config", 7, &[30])
            .await
            .unwrap();
        assert_eq!(
            store.preview_comments("acme/config", 7).await.unwrap(),
            [30]
        );
        assert_eq!(
            store.preview_comments("acme/config", 8).await.unwrap(),
            [99]
        );
    }

    #[tokio::test]
    async fn only_a_newer_pending_delivery_of_the_named_kind_supersedes() {
        let (store, _dir) = Store::temporary().await;
        let ingest = |id: &str, action: &str| super::super::NewDelivery {
            id: id.to_string(),
            event: "pull_request".to_string(),
            action: Some(action.to_string()),
            installation_id: Some(42),
            repository: Some("acme/config".to_string()),
            ordering_key: Some("acme/config#7".to_string()),
            payload: bytes::Bytes::from_static(b"{}"),
            failed_with: None,
        };
        store.ingest(ingest("a", "opened")).await.unwrap();
        store.ingest(ingest("b", "labeled")).await.unwrap();
        let rows = store.pending_deliveries(10).await.unwrap();
        let first = rows[0].seq;
        let actions = ["opened", "synchronize"];
        assert!(!store
            .newer_pending_of("acme/config#7", first, "pull_request", &actions)
            .await
            .unwrap());
        store.ingest(ingest("c", "synchronize")).await.unwrap();
        assert!(store
            .newer_pending_of("acme/config#7", first, "pull_request", &actions)
            .await
            .unwrap());
        assert!(!store
            .newer_pending_of("acme/config#8", first, "pull_request", &actions)
            .await
            .unwrap());
    }
}

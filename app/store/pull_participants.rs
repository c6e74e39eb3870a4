//! What slipway saw of a pull request that its reviews cannot tell: who pushed to its head,
//! who caused the pull requests slipway opens itself, and when its base branch last changed.
//! The approval gate reads these; nothing here is taken from text a writer can edit.

use super::{now_millis, Store, StoreError};

/// Why a login may not approve a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantRole {
    /// Pushed commits to the pull request's head.
    Pusher,
    /// Caused slipway to open or update the pull request (a push that built an image, a
    /// `/promote` or `/rollback` comment).
    Requester,
}

impl ParticipantRole {
    fn as_str(self) -> &'static str {
        match self {
            ParticipantRole::Pusher => "pusher",
            ParticipantRole::Requester => "requester",
        }
    }
}

/// The logins recorded for one pull request, by role, in the order first recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullParticipants {
    pub pushers: Vec<String>,
    pub requesters: Vec<String>,
    /// The latest base change, Unix milliseconds.
    pub base_changed_at: Option<i64>,
}

impl Store {
    /// Records that `login` is a `role` of pull request `number` (idempotent).
    pub async fn record_pull_participant(
        &self,
        repository: &str,
        number: u64,
        login: &str,
        role: ParticipantRole,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pull_participants (repository, number, login, role, recorded_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(repository)
        .bind(number as i64)
        .bind(login)
        .bind(role.as_str())
        .bind(now_millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records that pull request `number`'s base changed at `changed_at` (Unix milliseconds);
    /// the latest change is kept, whatever order the webhooks arrive in.
    pub async fn record_pull_base_change(
        &self,
        repository: &str,
        number: u64,
        changed_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pull_base_changes (repository, number, changed_at) VALUES (?, ?, ?) \
             ON CONFLICT (repository, number) DO UPDATE \
             SET changed_at = MAX(changed_at, excluded.changed_at)",
        )
        .bind(repository)
        .bind(number as i64)
        .bind(changed_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Everything recorded of pull request `number`.
    pub async fn pull_participants(
        &self,
        repository: &str,
        number: u64,
    ) -> Result<PullParticipants, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT login, role FROM pull_participants WHERE repository = ? AND number = ? \
             ORDER BY recorded_at, login",
        )
        .bind(repository)
        .bind(number as i64)
        .fetch_all(self.pool())
        .await?;
        let mut found = PullParticipants::default();
        for (login, role) in rows {
            match role.as_str() {
                "pusher" => found.pushers.push(login),
                _ => found.requesters.push(login),
            }
        }
        found.base_changed_at = sqlx::query_scalar(
            "SELECT changed_at FROM pull_base_changes WHERE repository = ? AND number = ?",
        )
        .bind(repository)
        .bind(number as i64)
        .fetch_optional(self.pool())
        .await?;
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn participants_are_kept_per_pull_request_and_role_once() {
        let (store, _dir) = Store::temporary().await;
        let repo = "acme/config";
        store
            .record_pull_participant(repo, 7, "alice", ParticipantRole::Pusher)
            .await
            .unwrap();
        store
            .record_pull_participant(repo, 7, "Alice", ParticipantRole::Pusher)
            .await
            .unwrap();
        store
            .record_pull_participant(repo, 7, "bob", ParticipantRole::Requester)
            .await
            .unwrap();
        store
            .record_pull_participant(repo, 8, "carol", ParticipantRole::Pusher)
            .await
            .unwrap();
        let found = store.pull_participants(repo, 7).await.unwrap();
        assert_eq!(found.pushers, ["alice"], "logins compare without case");
        assert_eq!(found.requesters, ["bob"]);
        assert_eq!(found.base_changed_at, None);
    }

    #[tokio::test]
    async fn the_latest_base_change_is_kept_whatever_the_order() {
        let (store, _dir) = Store::temporary().await;
        let repo = "acme/config";
        store.record_pull_base_change(repo, 7, 2_000).await.unwrap();
        store.record_pull_base_change(repo, 7, 1_000).await.unwrap();
        let found = store.pull_participants(repo, 7).await.unwrap();
        assert_eq!(found.base_changed_at, Some(2_000));
    }
}

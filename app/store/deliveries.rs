//! The delivery queue's rows: claiming, finishing, retrying and listing deliveries.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use sqlx::{QueryBuilder, Sqlite};

use super::{now_millis, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Running,
    Done,
    Failed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 4] = [
        DeliveryState::Pending,
        DeliveryState::Running,
        DeliveryState::Done,
        DeliveryState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Running => "running",
            DeliveryState::Done => "done",
            DeliveryState::Failed => "failed",
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DeliveryState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeliveryState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| {
                format!("unknown state {s:?}: expected pending, running, done or failed")
            })
    }
}

/// What the dispatcher needs to decide whether a pending delivery may start.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRow {
    pub seq: i64,
    pub id: String,
    pub event: String,
    pub action: Option<String>,
    pub ordering_key: Option<String>,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

/// One line of `slipway deliveries` and of the status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DeliverySummary {
    pub id: String,
    pub event: String,
    pub action: Option<String>,
    pub repository: Option<String>,
    pub state: String,
    pub attempts: i64,
    pub received_at: i64,
    pub last_error: Option<String>,
}

/// How one delivery attempt ended, as the queue records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Done,
    /// Back to pending, due again at this time (Unix ms), with the error kept.
    Retry {
        at: i64,
        error: String,
    },
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateCount {
    pub state: String,
    pub count: i64,
}

impl Store {
    /// The oldest pending deliveries in arrival order, due or not (ordering needs both).
    pub async fn pending_deliveries(&self, limit: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT seq, id, event, action, ordering_key, attempts, next_attempt_at \
             FROM deliveries WHERE state = 'pending' ORDER BY seq LIMIT ?",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Marks the given pending deliveries running and counts the attempt; returns those claimed.
    pub async fn claim(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "UPDATE deliveries SET state = 'running', attempts = attempts + 1, started_at = ",
        );
        query.push_bind(now_millis());
        query.push(" WHERE state = 'pending' AND id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(id.clone());
        }
        query.push(") RETURNING id");
        Ok(query.build_query_scalar().fetch_all(self.pool()).await?)
    }

    /// The payloads of the given deliveries (by `seq`), in one query.
    pub async fn payloads(&self, seqs: &[i64]) -> Result<HashMap<i64, Vec<u8>>, StoreError> {
        if seqs.is_empty() {
            return Ok(HashMap::new());
        }
        let mut query: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT seq, payload FROM delivery_payloads WHERE seq IN (");
        let mut list = query.separated(", ");
        for seq in seqs {
            list.push_bind(*seq);
        }
        query.push(")");
        let rows: Vec<(i64, Vec<u8>)> = query.build_query_as().fetch_all(self.pool()).await?;
        rows.into_iter()
            .map(|(seq, stored)| Ok((seq, super::payload_codec::decode(&stored)?)))
            .collect()
    }

    /// Records several attempts' outcomes in one transaction (one commit for a burst of work).
    pub async fn record_outcomes(
        &self,
        outcomes: &[(String, AttemptOutcome)],
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let mut transaction = self.pool().begin().await?;
        for (id, outcome) in outcomes {
            let query = match outcome {
                AttemptOutcome::Done => sqlx::query(
                    "UPDATE deliveries SET state = 'done', finished_at = ?, last_error = NULL WHERE id = ?",
                )
                .bind(now)
                .bind(id),
                AttemptOutcome::Retry { at, error } => sqlx::query(
                    "UPDATE deliveries SET state = 'pending', next_attempt_at = ?, last_error = ? WHERE id = ?",
                )
                .bind(*at)
                .bind(error)
                .bind(id),
                AttemptOutcome::Failed { error } => sqlx::query(
                    "UPDATE deliveries SET state = 'failed', finished_at = ?, last_error = ? WHERE id = ?",
                )
                .bind(now)
                .bind(error)
                .bind(id),
            };
            query.execute(&mut *transaction).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// The raw payload of delivery `id`, exactly as GitHub sent it.
    pub async fn payload(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        let stored: Vec<u8> = sqlx::query_scalar(
            "SELECT p.payload FROM delivery_payloads p JOIN deliveries d ON d.seq = p.seq WHERE d.id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        super::payload_codec::decode(&stored)
    }

    /// Hands deliveries that were running back to the queue without counting their attempt:
    /// at start-up for those a crash left running, at shutdown for those not finished in time.
    pub async fn requeue_running(&self, ids: Option<&[String]>) -> Result<u64, StoreError> {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "UPDATE deliveries SET state = 'pending', attempts = MAX(attempts - 1, 0), next_attempt_at = ",
        );
        query.push_bind(now_millis());
        query.push(" WHERE state = 'running'");
        if let Some(ids) = ids {
            if ids.is_empty() {
                return Ok(0);
            }
            query.push(" AND id IN (");
            let mut list = query.separated(", ");
            for id in ids {
                list.push_bind(id.clone());
            }
            query.push(")");
        }
        Ok(query.build().execute(self.pool()).await?.rows_affected())
    }

    /// Puts a failed delivery back in the queue with a fresh attempt budget.
    pub async fn retry_failed(&self, id: &str) -> Result<(), StoreError> {
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM deliveries WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        match state.as_deref() {
            None => Err(StoreError::NotFound(id.to_string())),
            Some("failed") => {
                sqlx::query(
                    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, \
                     finished_at = NULL WHERE id = ? AND state = 'failed'",
                )
                .bind(now_millis())
                .bind(id)
                .execute(self.pool())
                .await?;
                Ok(())
            }
            Some(other) => Err(StoreError::NotRetryable {
                id: id.to_string(),
                state: other.to_string(),
            }),
        }
    }

    pub async fn count_pending(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'")
                .fetch_one(self.pool())
                .await?,
        )
    }

    pub async fn count_by_state(&self) -> Result<Vec<StateCount>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM deliveries GROUP BY state ORDER BY state")
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(state, count)| StateCount { state, count })
            .collect())
    }

    /// Most recent first, optionally of one state.
    pub async fn list_deliveries(
        &self,
        state: Option<DeliveryState>,
        limit: i64,
    ) -> Result<Vec<DeliverySummary>, StoreError> {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, event, action, repository, state, attempts, received_at, last_error FROM deliveries",
        );
        if let Some(state) = state {
            query.push(" WHERE state = ").push_bind(state.as_str());
        }
        query.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
        Ok(query.build_query_as().fetch_all(self.pool()).await?)
    }

    /// The most recent deliveries that carry an error (failed, or pending a retry).
    pub async fn recent_errors(&self, limit: i64) -> Result<Vec<DeliverySummary>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, event, action, repository, state, attempts, received_at, last_error \
             FROM deliveries WHERE last_error IS NOT NULL ORDER BY seq DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Which of `ids` are stored, in any state.
    pub async fn stored_ids(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut stored = Vec::new();
        for chunk in ids.chunks(500) {
            let mut query: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT id FROM deliveries WHERE id IN (");
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(id.clone());
            }
            query.push(")");
            let found: Vec<String> = query.build_query_scalar().fetch_all(self.pool()).await?;
            stored.extend(found);
        }
        Ok(stored)
    }

    /// Whether a pending delivery of `ordering_key` newer than `seq` is one of `event` with an
    /// action in `actions`: work it will redo anyway.
    pub async fn newer_pending_of(
        &self,
        ordering_key: &str,
        seq: i64,
        event: &str,
        actions: &[&str],
    ) -> Result<bool, StoreError> {
        let actions = serde_json::to_string(actions).unwrap_or_else(|_| "[]".to_string());
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM deliveries WHERE state = 'pending' AND ordering_key = ? AND seq > ? \
             AND event = ? AND action IN (SELECT value FROM json_each(?)) LIMIT 1",
        )
        .bind(ordering_key)
        .bind(seq)
        .bind(event)
        .bind(actions)
        .fetch_optional(self.pool())
        .await?;
        Ok(found.is_some())
    }

    /// Deletes finished deliveries (done or failed) that finished before `before` (Unix ms),
    /// payloads included; returns how many.
    pub async fn prune_finished(&self, before: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM deliveries WHERE state IN ('done', 'failed') AND COALESCE(finished_at, received_at) < ?",
        )
        .bind(before)
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// The earliest time a pending delivery becomes due, if any is pending.
    pub async fn next_due_at(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'",
        )
        .fetch_one(self.pool())
        .await?)
    }
}

//! Run records: long work that outlives a queue worker (see `runs`), and the signals sent to it.
//!
//! Every write here is one conditional statement (or a transaction that starts with a write), so
//! two supervisors on one database never both claim a run, and a step's result is recorded only
//! while the run is still the step's to finish.

use std::fmt;

use serde::Serialize;
use serde_json::Value;
use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite};

use super::{now_millis, Store, StoreError};

/// The columns every query that returns a run reads, in `RunRow`'s order.
const RUN_COLUMNS: &str = "id, kind, subject, state, attempt, deadline_at, next_wake_at, \
     wait_signal, progress, outcome, created_at, updated_at, finished_at";
/// The states of a run that is not over; at most one such run per (kind, subject).
const ACTIVE: &str = "('pending', 'running', 'waiting')";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Started, its first step (or a retry of a step) not yet taken.
    Pending,
    /// A step is being taken now.
    Running,
    /// Waiting for a timer or a signal.
    Waiting,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

impl RunState {
    pub const ALL: [RunState; 7] = [
        RunState::Pending,
        RunState::Running,
        RunState::Waiting,
        RunState::Succeeded,
        RunState::Failed,
        RunState::TimedOut,
        RunState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Running => "running",
            RunState::Waiting => "waiting",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::TimedOut => "timed_out",
            RunState::Cancelled => "cancelled",
        }
    }

    /// True once the run is over: nothing steps it again.
    pub fn is_finished(self) -> bool {
        !matches!(
            self,
            RunState::Pending | RunState::Running | RunState::Waiting
        )
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RunState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown run state {s:?}"))
    }
}

/// One run as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub id: RunId,
    pub kind: String,
    pub subject: String,
    pub state: RunState,
    pub attempt: u32,
    /// Unix milliseconds; past it the run completes as timed out.
    pub deadline_at: i64,
    pub next_wake_at: Option<i64>,
    pub wait_signal: Option<String>,
    /// What the run's kind keeps between steps.
    pub progress: Value,
    /// A short message: why it finished, or the last step error while it retries.
    pub outcome: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    kind: String,
    subject: String,
    state: String,
    attempt: i64,
    deadline_at: i64,
    next_wake_at: Option<i64>,
    wait_signal: Option<String>,
    progress: String,
    outcome: Option<String>,
    created_at: i64,
    updated_at: i64,
    finished_at: Option<i64>,
}

impl TryFrom<RunRow> for RunRecord {
    type Error = StoreError;

    fn try_from(row: RunRow) -> Result<Self, StoreError> {
        let state = row
            .state
            .parse()
            .map_err(|err: String| StoreError::CorruptPayload(format!("run {}: {err}", row.id)))?;
        let progress = serde_json::from_str(&row.progress).map_err(|err| {
            StoreError::CorruptPayload(format!("run {}'s progress is not JSON: {err}", row.id))
        })?;
        Ok(RunRecord {
            id: RunId(row.id),
            kind: row.kind,
            subject: row.subject,
            state,
            attempt: u32::try_from(row.attempt).unwrap_or(u32::MAX),
            deadline_at: row.deadline_at,
            next_wake_at: row.next_wake_at,
            wait_signal: row.wait_signal,
            progress,
            outcome: row.outcome,
            created_at: row.created_at,
            updated_at: row.updated_at,
            finished_at: row.finished_at,
        })
    }
}

fn records(rows: Vec<RunRow>) -> Result<Vec<RunRecord>, StoreError> {
    rows.into_iter().map(RunRecord::try_from).collect()
}

/// Which run an operation concerns: one by id, or the active run of a (kind, subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunTarget {
    Id(RunId),
    Subject { kind: String, subject: String },
}

impl RunTarget {
    pub fn subject(kind: impl Into<String>, subject: impl Into<String>) -> Self {
        RunTarget::Subject {
            kind: kind.into(),
            subject: subject.into(),
        }
    }

    fn push_condition(&self, query: &mut QueryBuilder<Sqlite>) {
        match self {
            RunTarget::Id(id) => {
                query.push("id = ").push_bind(id.0);
            }
            RunTarget::Subject { kind, subject } => {
                query
                    .push("kind = ")
                    .push_bind(kind.clone())
                    .push(" AND subject = ")
                    .push_bind(subject.clone());
            }
        }
    }
}

impl fmt::Display for RunTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunTarget::Id(id) => write!(f, "run {id}"),
            RunTarget::Subject { kind, subject } => write!(f, "the {kind} run of {subject}"),
        }
    }
}

/// What `start_run` did.
#[derive(Debug, Clone, PartialEq)]
pub enum StartOutcome {
    Started(RunRecord),
    /// The (kind, subject) has an active run already; it goes on unchanged.
    AlreadyActive(RunRecord),
}

impl StartOutcome {
    pub fn run(&self) -> &RunRecord {
        match self {
            StartOutcome::Started(run) | StartOutcome::AlreadyActive(run) => run,
        }
    }
}

/// A signal stored for a run, not yet seen by one of its steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSignal {
    pub seq: i64,
    pub key: String,
    pub payload: Value,
    pub received_at: i64,
}

/// How a step left its run, as the store records it.
#[derive(Debug, Clone, PartialEq)]
pub enum StepRecord {
    /// Over: `state` is `Succeeded` or `Failed`.
    Finished { state: RunState, outcome: String },
    /// Waiting until `at` (when given), or until a signal `signal` (when given) arrives.
    Waiting {
        at: Option<i64>,
        signal: Option<String>,
        progress: Value,
    },
    /// The step failed and is tried again at `at`, one attempt later.
    Retry { at: i64, error: String },
}

impl Store {
    /// Starts a run of `kind` on `subject` unless one is active already (that one is returned).
    pub async fn start_run(
        &self,
        kind: &str,
        subject: &str,
        progress: &Value,
        deadline_at: i64,
    ) -> Result<StartOutcome, StoreError> {
        let now = now_millis();
        let inserted: Option<RunRow> = sqlx::query_as(AssertSqlSafe(format!(
            "INSERT INTO runs (kind, subject, state, attempt, deadline_at, next_wake_at, progress, \
             created_at, updated_at) VALUES (?, ?, 'pending', 1, ?, ?, ?, ?, ?) \
             ON CONFLICT DO NOTHING RETURNING {RUN_COLUMNS}"
        )))
        .bind(kind)
        .bind(subject)
        .bind(deadline_at)
        .bind(now)
        .bind(progress.to_string())
        .bind(now)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        if let Some(row) = inserted {
            return Ok(StartOutcome::Started(row.try_into()?));
        }
        let target = RunTarget::subject(kind, subject);
        match self.active_run(&target).await? {
            Some(existing) => Ok(StartOutcome::AlreadyActive(existing)),
            // It finished between the insert and the read: try once more.
            None => Box::pin(self.start_run(kind, subject, progress, deadline_at)).await,
        }
    }

    pub async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError> {
        let row: Option<RunRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id = ?"
        )))
        .bind(id.0)
        .fetch_optional(self.pool())
        .await?;
        row.map(RunRecord::try_from).transpose()
    }

    /// The run `target` names when it is active.
    pub async fn active_run(&self, target: &RunTarget) -> Result<Option<RunRecord>, StoreError> {
        let mut query = QueryBuilder::new(format!("SELECT {RUN_COLUMNS} FROM runs WHERE "));
        target.push_condition(&mut query);
        query.push(format!(" AND state IN {ACTIVE}"));
        let row: Option<RunRow> = query.build_query_as().fetch_optional(self.pool()).await?;
        row.map(RunRecord::try_from).transpose()
    }

    /// Every run of `kind` on `subject`, oldest first.
    pub async fn runs_of(&self, kind: &str, subject: &str) -> Result<Vec<RunRecord>, StoreError> {
        let rows: Vec<RunRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE kind = ? AND subject = ? ORDER BY id"
        )))
        .bind(kind)
        .bind(subject)
        .fetch_all(self.pool())
        .await?;
        records(rows)
    }

    /// Every run of `kind` whose subject starts with `prefix`, oldest first.
    pub async fn runs_with_subject_prefix(
        &self,
        kind: &str,
        prefix: &str,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let rows: Vec<RunRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE kind = ? AND substr(subject, 1, length(?2)) = ?2 ORDER BY id"
        )))
        .bind(kind)
        .bind(prefix)
        .fetch_all(self.pool())
        .await?;
        records(rows)
    }

    /// Runs a stopped process left in a step go back to pending: the step is taken again, and the
    /// interrupted try is not counted as an attempt.
    pub async fn requeue_interrupted_runs(&self) -> Result<u64, StoreError> {
        let now = now_millis();
        Ok(sqlx::query(
            "UPDATE runs SET state = 'pending', next_wake_at = ?, updated_at = ? \
             WHERE state = 'running'",
        )
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// Pending and waiting runs of `kinds` that are due at `now`, the earliest first.
    pub async fn due_runs(
        &self,
        kinds: &[String],
        now: i64,
        limit: i64,
    ) -> Result<Vec<RunRecord>, StoreError> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::new(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE state IN ('pending', 'waiting') \
             AND next_wake_at <= "
        ));
        query.push_bind(now).push(" AND kind IN (");
        let mut kinds_list = query.separated(", ");
        for kind in kinds {
            kinds_list.push_bind(kind.clone());
        }
        query
            .push(") ORDER BY next_wake_at, id LIMIT ")
            .push_bind(limit);
        let rows: Vec<RunRow> = query.build_query_as().fetch_all(self.pool()).await?;
        records(rows)
    }

    /// Marks a due run running, for one step. A pending run starts only while fewer than
    /// `kind_limit` runs of its kind are running or waiting; a waiting one holds its place already.
    /// `None`: another supervisor took it, it finished, or its kind is at its limit.
    pub async fn claim_run(
        &self,
        id: RunId,
        kind_limit: usize,
    ) -> Result<Option<RunRecord>, StoreError> {
        let row: Option<RunRow> = sqlx::query_as(AssertSqlSafe(format!(
            "UPDATE runs SET state = 'running', updated_at = ? \
             WHERE id = ? AND (state = 'waiting' OR (state = 'pending' AND \
               (SELECT COUNT(*) FROM runs AS other WHERE other.kind = runs.kind \
                AND other.state IN ('running', 'waiting')) < ?)) \
             RETURNING {RUN_COLUMNS}"
        )))
        .bind(now_millis())
        .bind(id.0)
        .bind(i64::try_from(kind_limit).unwrap_or(i64::MAX))
        .fetch_optional(self.pool())
        .await?;
        row.map(RunRecord::try_from).transpose()
    }

    /// The signals stored for a run, in arrival order.
    pub async fn run_signals(&self, id: RunId) -> Result<Vec<RunSignal>, StoreError> {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT seq, key, payload, received_at FROM run_signals WHERE run_id = ? ORDER BY seq",
        )
        .bind(id.0)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(seq, key, payload, received_at)| {
                let payload = serde_json::from_str(&payload).map_err(|err| {
                    StoreError::CorruptPayload(format!(
                        "signal {seq} of run {id} is not JSON: {err}"
                    ))
                })?;
                Ok(RunSignal {
                    seq,
                    key,
                    payload,
                    received_at,
                })
            })
            .collect()
    }

    /// Stores a signal for the active run `target` names and wakes it when it waits for `key`.
    /// `None`: no such active run; nothing is stored.
    pub async fn signal_run(
        &self,
        target: &RunTarget,
        key: &str,
        payload: &Value,
    ) -> Result<Option<RunId>, StoreError> {
        let now = now_millis();
        let mut tx = self.pool().begin().await?;
        let mut insert = QueryBuilder::new(
            "INSERT INTO run_signals (run_id, key, payload, received_at) SELECT id, ",
        );
        insert
            .push_bind(key)
            .push(", ")
            .push_bind(payload.to_string())
            .push(", ")
            .push_bind(now)
            .push(" FROM runs WHERE ");
        target.push_condition(&mut insert);
        insert.push(format!(" AND state IN {ACTIVE} RETURNING run_id"));
        let run_id: Option<i64> = insert.build_query_scalar().fetch_optional(&mut *tx).await?;
        let Some(run_id) = run_id else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE runs SET next_wake_at = ?, updated_at = ? \
             WHERE id = ? AND state = 'waiting' AND wait_signal = ?",
        )
        .bind(now)
        .bind(now)
        .bind(run_id)
        .bind(key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(RunId(run_id)))
    }

    /// Records how a step left run `id` and forgets the signals it saw (`seen`), unless the run
    /// stopped being the step's meanwhile (cancelled, timed out): then nothing changes and the
    /// answer is false. A run left waiting for a signal that arrived during the step is due at once.
    pub async fn record_step(
        &self,
        id: RunId,
        step: &StepRecord,
        seen: &[i64],
    ) -> Result<bool, StoreError> {
        let now = now_millis();
        let mut tx = self.pool().begin().await?;
        let updated = match step {
            StepRecord::Finished { state, outcome } => sqlx::query(
                "UPDATE runs SET state = ?, outcome = ?, next_wake_at = NULL, \
                     wait_signal = NULL, updated_at = ?, finished_at = ? \
                     WHERE id = ? AND state = 'running'",
            )
            .bind(state.as_str())
            .bind(outcome)
            .bind(now)
            .bind(now)
            .bind(id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            StepRecord::Retry { at, error } => sqlx::query(
                "UPDATE runs SET state = 'pending', attempt = attempt + 1, outcome = ?, \
                     next_wake_at = ?, updated_at = ? WHERE id = ? AND state = 'running'",
            )
            .bind(error)
            .bind(at)
            .bind(now)
            .bind(id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            StepRecord::Waiting {
                at,
                signal,
                progress,
            } => sqlx::query(
                "UPDATE runs SET state = 'waiting', progress = ?, wait_signal = ?, \
                     next_wake_at = ?, outcome = NULL, updated_at = ? \
                     WHERE id = ? AND state = 'running'",
            )
            .bind(progress.to_string())
            .bind(signal)
            .bind(at)
            .bind(now)
            .bind(id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        };
        if updated == 0 {
            return Ok(false);
        }
        match step {
            StepRecord::Finished { .. } => {
                sqlx::query("DELETE FROM run_signals WHERE run_id = ?")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
            }
            StepRecord::Retry { .. } => {}
            StepRecord::Waiting { signal, .. } => {
                if !seen.is_empty() {
                    let mut delete = QueryBuilder::new("DELETE FROM run_signals WHERE run_id = ");
                    delete.push_bind(id.0).push(" AND seq IN (");
                    let mut list = delete.separated(", ");
                    for seq in seen {
                        list.push_bind(*seq);
                    }
                    delete.push(")");
                    delete.build().execute(&mut *tx).await?;
                }
                if let Some(signal) = signal {
                    sqlx::query(
                        "UPDATE runs SET next_wake_at = ? WHERE id = ? AND EXISTS \
                         (SELECT 1 FROM run_signals WHERE run_id = ? AND key = ?)",
                    )
                    .bind(now)
                    .bind(id.0)
                    .bind(id.0)
                    .bind(signal)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Active runs whose deadline is at or before `now` become timed out, awaiting their kind's
    /// clean-up hook; returns them.
    pub async fn time_out_runs(&self, now: i64) -> Result<Vec<RunRecord>, StoreError> {
        let rows: Vec<RunRow> = sqlx::query_as(AssertSqlSafe(format!(
            "UPDATE runs SET state = 'timed_out', hook_pending = 1, next_wake_at = NULL, \
             updated_at = ?1, finished_at = ?1, outcome = 'the deadline passed ' || CASE \
               WHEN state = 'waiting' AND wait_signal IS NOT NULL \
                 THEN 'while waiting for ' || wait_signal \
               WHEN state = 'waiting' THEN 'while waiting' \
               WHEN state = 'running' THEN 'during a step' \
               ELSE 'before the run could go on' END \
             WHERE state IN {ACTIVE} AND deadline_at <= ?1 RETURNING {RUN_COLUMNS}"
        )))
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        records(rows)
    }

    /// Timed-out and cancelled runs of `kinds` whose clean-up hook has not run yet.
    pub async fn runs_awaiting_hook(&self, kinds: &[String]) -> Result<Vec<RunRecord>, StoreError> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::new(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE hook_pending = 1 AND kind IN ("
        ));
        let mut list = query.separated(", ");
        for kind in kinds {
            list.push_bind(kind.clone());
        }
        query.push(") ORDER BY id");
        let rows: Vec<RunRow> = query.build_query_as().fetch_all(self.pool()).await?;
        records(rows)
    }

    pub async fn hook_done(&self, id: RunId) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET hook_pending = 0 WHERE id = ?")
            .bind(id.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Cancels the active run `target` names, with `reason` as its outcome; returns it. Its
    /// kind's clean-up hook runs next.
    pub async fn cancel_run(
        &self,
        target: &RunTarget,
        reason: &str,
    ) -> Result<Option<RunRecord>, StoreError> {
        let now = now_millis();
        let mut query =
            QueryBuilder::new("UPDATE runs SET state = 'cancelled', hook_pending = 1, outcome = ");
        query
            .push_bind(reason)
            .push(", next_wake_at = NULL, updated_at = ")
            .push_bind(now)
            .push(", finished_at = ")
            .push_bind(now)
            .push(" WHERE ");
        target.push_condition(&mut query);
        query.push(format!(" AND state IN {ACTIVE} RETURNING {RUN_COLUMNS}"));
        let row: Option<RunRow> = query.build_query_as().fetch_optional(self.pool()).await?;
        let Some(row) = row else { return Ok(None) };
        sqlx::query("DELETE FROM run_signals WHERE run_id = ?")
            .bind(row.id)
            .execute(self.pool())
            .await?;
        row.try_into().map(Some)
    }

    /// The next time after `now` a run needs the supervisor: a timer or a deadline.
    pub async fn next_run_wake(&self, now: i64) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT MIN(t) FROM (\
               SELECT next_wake_at AS t FROM runs \
                 WHERE state IN ('pending', 'waiting') AND next_wake_at > ?1 \
               UNION ALL SELECT deadline_at AS t FROM runs WHERE state IN {ACTIVE})"
        )))
        .bind(now)
        .fetch_one(self.pool())
        .await?)
    }

    /// Active runs by kind.
    pub async fn count_active_runs(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT kind, COUNT(*) FROM runs WHERE state IN {ACTIVE} GROUP BY kind ORDER BY kind"
        )))
        .fetch_all(self.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_second_start_of_an_active_subject_is_refused_and_a_finished_one_starts_anew() {
        let (store, _dir) = Store::temporary().await;
        let deadline = now_millis() + 60_000;
        let first = store
            .start_run("build", "acme/api@abc", &json!({}), deadline)
            .await
            .unwrap();
        let StartOutcome::Started(run) = first else {
            panic!("not started: {first:?}")
        };
        let again = store
            .start_run("build", "acme/api@abc", &json!({"other": true}), deadline)
            .await
            .unwrap();
        assert_eq!(again, StartOutcome::AlreadyActive(run.clone()));

        let cancelled = store
            .cancel_run(&RunTarget::Id(run.id), "a newer push")
            .await
            .unwrap()
            .expect("the run was active");
        assert_eq!(cancelled.state, RunState::Cancelled);
        assert_eq!(cancelled.outcome.as_deref(), Some("a newer push"));
        let next = store
            .start_run("build", "acme/api@abc", &json!({}), deadline)
            .await
            .unwrap();
        assert!(matches!(next, StartOutcome::Started(ref r) if r.id != run.id));
    }

    #[tokio::test]
    async fn a_pending_run_waits_while_its_kind_is_at_its_limit() {
        let (store, _dir) = Store::temporary().await;
        let deadline = now_millis() + 60_000;
        let a = store
            .start_run("build", "a", &json!({}), deadline)
            .await
            .unwrap();
        let b = store
            .start_run("build", "b", &json!({}), deadline)
            .await
            .unwrap();
        assert!(store.claim_run(a.run().id, 1).await.unwrap().is_some());
        assert!(store.claim_run(b.run().id, 1).await.unwrap().is_none());
        store
            .record_step(
                a.run().id,
                &StepRecord::Finished {
                    state: RunState::Succeeded,
                    outcome: "built".into(),
                },
                &[],
            )
            .await
            .unwrap();
        assert!(store.claim_run(b.run().id, 1).await.unwrap().is_some());
    }
}

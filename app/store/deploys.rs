//! Deploy history: one row per deploy of a config repo's environment, written when it starts
//! and completed when it ends. Read back for the status page, and for a rollback's target (the
//! last successful deploy of the environment).

use serde::Serialize;

use super::{Store, StoreError};

/// The outcome recorded for a deploy that succeeded; what [`Store::last_successful_deploy`] looks for.
pub const DEPLOY_SUCCEEDED: &str = "succeeded";

/// A deploy to record. `outcome` is the deploy's result by name (`in_progress`, `succeeded`,
/// `apply_failed`, …, as the deploy report names them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeploy {
    /// `owner/name` of the config repo.
    pub repository: String,
    pub environment: String,
    pub merge_sha: String,
    pub pull_number: Option<u64>,
    /// Unix milliseconds.
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub outcome: String,
    pub counts: DeployCounts,
    pub deployment_id: Option<u64>,
    pub check_run_id: Option<u64>,
}

/// How many objects a deploy created, configured, left unchanged and pruned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeployCounts {
    pub created: u32,
    pub configured: u32,
    pub unchanged: u32,
    pub pruned: u32,
}

/// A recorded deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployRecord {
    pub id: i64,
    pub repository: String,
    pub environment: String,
    pub merge_sha: String,
    pub pull_number: Option<u64>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub outcome: String,
    pub counts: DeployCounts,
    pub deployment_id: Option<u64>,
    pub check_run_id: Option<u64>,
    /// What the deploy did, as the deploy pipeline wrote it ([`Store::set_deploy_detail`]).
    pub detail: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    repository: String,
    environment: String,
    merge_sha: String,
    pull_number: Option<i64>,
    started_at: i64,
    finished_at: Option<i64>,
    outcome: String,
    created: i64,
    configured: i64,
    unchanged: i64,
    pruned: i64,
    deployment_id: Option<i64>,
    check_run_id: Option<i64>,
    detail: Option<String>,
}

impl From<Row> for DeployRecord {
    fn from(row: Row) -> Self {
        let count = |n: i64| u32::try_from(n).unwrap_or(0);
        let id = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok());
        DeployRecord {
            id: row.id,
            repository: row.repository,
            environment: row.environment,
            merge_sha: row.merge_sha,
            pull_number: id(row.pull_number),
            started_at: row.started_at,
            finished_at: row.finished_at,
            outcome: row.outcome,
            counts: DeployCounts {
                created: count(row.created),
                configured: count(row.configured),
                unchanged: count(row.unchanged),
                pruned: count(row.pruned),
            },
            deployment_id: id(row.deployment_id),
            check_run_id: id(row.check_run_id),
            detail: row.detail,
        }
    }
}

/// The columns of a [`Row`], as a literal: sqlx takes only static SQL.
macro_rules! columns {
    () => {
        "id, repository, environment, merge_sha, pull_number, started_at, finished_at, outcome, \
         created, configured, unchanged, pruned, deployment_id, check_run_id, detail"
    };
}

/// GitHub ids and numbers fit SQLite's signed 64 bits; one that does not is stored as NULL
/// rather than wrapped into a wrong id.
fn signed(value: Option<u64>) -> Option<i64> {
    value.and_then(|v| i64::try_from(v).ok())
}

impl Store {
    /// Records a deploy; returns its id, for [`Store::finish_deploy`].
    pub async fn record_deploy(&self, deploy: &NewDeploy) -> Result<i64, StoreError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO deploys (repository, environment, merge_sha, pull_number, started_at, \
             finished_at, outcome, created, configured, unchanged, pruned, deployment_id, \
             check_run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&deploy.repository)
        .bind(&deploy.environment)
        .bind(&deploy.merge_sha)
        .bind(signed(deploy.pull_number))
        .bind(deploy.started_at)
        .bind(deploy.finished_at)
        .bind(&deploy.outcome)
        .bind(i64::from(deploy.counts.created))
        .bind(i64::from(deploy.counts.configured))
        .bind(i64::from(deploy.counts.unchanged))
        .bind(i64::from(deploy.counts.pruned))
        .bind(signed(deploy.deployment_id))
        .bind(signed(deploy.check_run_id))
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// Completes deploy `id` with how it ended; returns the record, `None` for an unknown id.
    pub async fn finish_deploy(
        &self,
        id: i64,
        finished_at: i64,
        outcome: &str,
        counts: DeployCounts,
    ) -> Result<Option<DeployRecord>, StoreError> {
        let row: Option<Row> = sqlx::query_as(concat!(
            "UPDATE deploys SET finished_at = ?, outcome = ?, created = ?, configured = ?, \
             unchanged = ?, pruned = ? WHERE id = ? RETURNING ",
            columns!()
        ))
        .bind(finished_at)
        .bind(outcome)
        .bind(i64::from(counts.created))
        .bind(i64::from(counts.configured))
        .bind(i64::from(counts.unchanged))
        .bind(i64::from(counts.pruned))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(DeployRecord::from))
    }

    /// Keeps `detail` (JSON) with deploy `id`, and its GitHub ids once they are known.
    pub async fn set_deploy_detail(
        &self,
        id: i64,
        detail: &str,
        deployment_id: Option<u64>,
        check_run_id: Option<u64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deploys SET detail = ?, deployment_id = COALESCE(?, deployment_id), \
             check_run_id = COALESCE(?, check_run_id) WHERE id = ?",
        )
        .bind(detail)
        .bind(signed(deployment_id))
        .bind(signed(check_run_id))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deploy `id`, if recorded.
    pub async fn deploy(&self, id: i64) -> Result<Option<DeployRecord>, StoreError> {
        let row: Option<Row> =
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM deploys WHERE id = ?"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(DeployRecord::from))
    }

    /// Every deploy of commit `merge_sha` of `repository`, oldest first: what the merged pull
    /// request's comment shows.
    pub async fn deploys_of_commit(
        &self,
        repository: &str,
        merge_sha: &str,
    ) -> Result<Vec<DeployRecord>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM deploys WHERE repository = ? AND merge_sha = ? ORDER BY started_at, id"
        ))
        .bind(repository)
        .bind(merge_sha)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(DeployRecord::from).collect())
    }

    /// The newest successful deploy of `environment`, with its detail.
    pub async fn last_successful_deploy_record(
        &self,
        repository: &str,
        environment: &str,
    ) -> Result<Option<DeployRecord>, StoreError> {
        let row: Option<Row> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM deploys WHERE repository = ? AND environment = ? AND outcome = ? \
             ORDER BY started_at DESC, id DESC LIMIT 1"
        ))
        .bind(repository)
        .bind(environment)
        .bind(DEPLOY_SUCCEEDED)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(DeployRecord::from))
    }

    /// Every (repository, environment) with a successful deploy: what drift checks look at.
    pub async fn deployed_environments(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT repository, environment FROM deploys WHERE outcome = ? \
             ORDER BY repository, environment",
        )
        .bind(DEPLOY_SUCCEEDED)
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// The last `limit` deploys of `environment` of `repository`, newest first.
    pub async fn environment_deploys(
        &self,
        repository: &str,
        environment: &str,
        limit: u32,
    ) -> Result<Vec<DeployRecord>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM deploys WHERE repository = ? AND environment = ? \
             ORDER BY started_at DESC, id DESC LIMIT ?"
        ))
        .bind(repository)
        .bind(environment)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(DeployRecord::from).collect())
    }

    /// The last `limit` deploys of every repository and environment, newest first.
    pub async fn recent_deploys(&self, limit: u32) -> Result<Vec<DeployRecord>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM deploys ORDER BY started_at DESC, id DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(DeployRecord::from).collect())
    }

    /// The merge sha of the newest successful deploy of `environment`: where a rollback goes.
    pub async fn last_successful_deploy(
        &self,
        repository: &str,
        environment: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .last_successful_deploy_record(repository, environment)
            .await?
            .map(|record| record.merge_sha))
    }

    /// Where `/rollback <env>` goes: the newest successful deploy of `environment` whose merge
    /// sha differs from the newest successful one's (the revision deployed before the one that
    /// runs now); `None` when there is none.
    pub async fn previous_successful_deploy(
        &self,
        repository: &str,
        environment: &str,
    ) -> Result<Option<DeployRecord>, StoreError> {
        let row: Option<Row> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM deploys WHERE repository = ?1 AND environment = ?2 AND outcome = ?3 \
             AND merge_sha <> (SELECT merge_sha FROM deploys WHERE repository = ?1 \
             AND environment = ?2 AND outcome = ?3 ORDER BY started_at DESC, id DESC LIMIT 1) \
             ORDER BY started_at DESC, id DESC LIMIT 1"
        ))
        .bind(repository)
        .bind(environment)
        .bind(DEPLOY_SUCCEEDED)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(DeployRecord::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(environment: &str, sha: &str, started_at: i64, outcome: &str) -> NewDeploy {
        NewDeploy {
            repository: "acme/config".into(),
            environment: environment.into(),
            merge_sha: sha.into(),
            pull_number: Some(12),
            started_at,
            finished_at: Some(started_at + 1_000),
            outcome: outcome.into(),
            counts: DeployCounts {
                created: 1,
                configured: 2,
                unchanged: 3,
                pruned: 4,
            },
            deployment_id: Some(7),
            check_run_id: Some(8),
        }
    }

    #[tokio::test]
    async fn the_last_success_of_an_environment_is_where_a_rollback_goes() {
        let (store, _dir) = Store::temporary().await;
        assert_eq!(
            store
                .last_successful_deploy("acme/config", "dev")
                .await
                .unwrap(),
            None
        );
        store
            .record_deploy(&deploy("dev", "aaa", 1_000, DEPLOY_SUCCEEDED))
            .await
            .unwrap();
        store
            .record_deploy(&deploy("dev", "bbb", 2_000, DEPLOY_SUCCEEDED))
            .await
            .unwrap();
        store
            .record_deploy(&deploy("prod", "ccc", 3_000, DEPLOY_SUCCEEDED))
            .await
            .unwrap();
        let failing = store
            .record_deploy(&deploy("dev", "ddd", 4_000, "in_progress"))
            .await
            .unwrap();
        let finished = store
            .finish_deploy(failing, 5_000, "unhealthy", DeployCounts::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(finished.outcome, "unhealthy");
        assert_eq!(finished.finished_at, Some(5_000));

        assert_eq!(
            store
                .last_successful_deploy("acme/config", "dev")
                .await
                .unwrap()
                .as_deref(),
            Some("bbb")
        );
        let dev = store
            .environment_deploys("acme/config", "dev", 2)
            .await
            .unwrap();
        assert_eq!(
            dev.iter().map(|d| d.merge_sha.as_str()).collect::<Vec<_>>(),
            ["ddd", "bbb"]
        );
        assert_eq!(dev[1].counts.pruned, 4);
        assert_eq!(dev[1].deployment_id, Some(7));
        assert_eq!(store.recent_deploys(20).await.unwrap().len(), 4);
        assert_eq!(
            store
                .previous_successful_deploy("acme/config", "dev")
                .await
                .unwrap()
                .map(|d| d.merge_sha)
                .as_deref(),
            Some("aaa")
        );
        assert!(store
            .finish_deploy(999, 1, "succeeded", DeployCounts::default())
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn a_rollback_skips_redeploys_of_what_runs_now() {
        let (store, _dir) = Store::temporary().await;
        let previous = |store: Store| async move {
            store
                .previous_successful_deploy("acme/config", "dev")
                .await
                .unwrap()
                .map(|d| d.merge_sha)
        };
        store
            .record_deploy(&deploy("dev", "aaa", 1_000, DEPLOY_SUCCEEDED))
            .await
            .unwrap();
        assert_eq!(previous(store.clone()).await, None, "only what runs now");
        for (sha, at, outcome) in [
            ("bbb", 2_000, DEPLOY_SUCCEEDED),
            ("ccc", 3_000, "apply_failed"),
            ("bbb", 4_000, DEPLOY_SUCCEEDED),
        ] {
            store
                .record_deploy(&deploy("dev", sha, at, outcome))
                .await
                .unwrap();
        }
        assert_eq!(previous(store.clone()).await.as_deref(), Some("aaa"));
    }
}

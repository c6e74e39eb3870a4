//! One run of a job under its lease: taken before, renewed while the job runs, given up after.

use std::future::Future;

use crate::store::{Store, StoreError};

use super::SchedulerConfig;

/// How one leased run went.
#[derive(Debug)]
pub enum LeasedRun {
    /// This holder ran the job to its end.
    Done(anyhow::Result<()>),
    /// Another holder has a current lease: the job did not run here.
    HeldElsewhere,
    /// A renewal found the lease gone (this holder stalled past its expiry and another took it):
    /// the job was stopped, since someone else may be running it now.
    LeaseLost,
    StoreFailed(StoreError),
}

/// Runs `work` only while `config.holder` holds the lease `name`, renewing it every third of its
/// time to live.
pub async fn run_leased<F>(
    store: &Store,
    config: &SchedulerConfig,
    name: &str,
    work: F,
) -> LeasedRun
where
    F: Future<Output = anyhow::Result<()>>,
{
    match store
        .take_lease(name, &config.holder, config.lease_ttl)
        .await
    {
        Ok(true) => {}
        Ok(false) => return LeasedRun::HeldElsewhere,
        Err(err) => return LeasedRun::StoreFailed(err),
    }
    let renew_every = (config.lease_ttl / 3).max(std::time::Duration::from_millis(10));
    let renewals = async {
        loop {
            tokio::time::sleep(renew_every).await;
            match store
                .take_lease(name, &config.holder, config.lease_ttl)
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                // A passing database error is not a lost lease; the next renewal tries again.
                Err(err) => {
                    tracing::warn!(job = name, error = %err, "cannot renew the job's lease")
                }
            }
        }
    };
    let ran = tokio::select! {
        result = work => LeasedRun::Done(result),
        () = renewals => LeasedRun::LeaseLost,
    };
    if !matches!(ran, LeasedRun::LeaseLost) {
        if let Err(err) = store.release_lease(name, &config.holder).await {
            tracing::warn!(job = name, error = %err, "cannot give the job's lease up; it expires on its own");
        }
    }
    ran
}

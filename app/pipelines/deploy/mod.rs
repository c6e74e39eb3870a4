//! Deploys: a reviewed merge (or a push straight to the default branch, for environments that
//! need no approvals) is carried into the cluster — server-side apply, prune, health, rollback —
//! and reported on GitHub as a Deployment, a `slipway/deploy/<env>` check run and one comment
//! on the merged pull request.
//!
//! The decisions come first, pure where they can be: [`affected`] says which environments a
//! change touches (configuration read before the change, so a pull request cannot lower its own
//! bar), [`gate`] whether a pull request's reviews meet an environment's approval requirement,
//! [`coverage`] whether everything since an environment's last deploy came through approved
//! pull requests, [`decide`] what becomes of each environment (refused, or deployed);
//! [`participants`] records who may not approve a pull request. [`start`] holds the
//! webhook handlers that make those decisions and start one `deploy` run per environment; the
//! run ([`run`]) does the rest, one short step at a time, and [`publish`] words every result
//! through [`report`] for GitHub and the history.

pub mod affected;
pub mod coverage;
pub mod decide;
pub mod drift;
pub mod gate;
mod participants;
pub mod progress;
mod publish;
pub mod report;
mod run;
mod start;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cluster::Deployer;
use crate::config::KnownClusters;
use crate::git::Mirrors;
use crate::github::GitHub;
use crate::report::Templates;
use crate::runs::RunKinds;
use crate::store::Store;
use crate::telemetry::Metrics;

pub use participants::PUSH_ACTIONS;
pub use run::DeployRun;
pub use start::DeployRequest;

/// The run kind of deploys.
pub const DEPLOY_RUN_KIND: &str = "deploy";
/// How many deploys (of different environments) run at once; the rest wait their turn.
pub const DEPLOY_CONCURRENCY: usize = 8;
/// How long a deploy run may live past its environment's `health_timeout`: apply, prune, a
/// rollback and its own health wait, GitHub's answers. Past it the run times out and says so.
const RUN_MARGIN: Duration = Duration::from_secs(30 * 60);

/// Whether deploys can reach a cluster.
#[derive(Clone)]
pub enum DeployAccess {
    Ready(Deployer),
    /// Why not, in words an operator can act on.
    Unavailable(String),
}

/// Every cluster the server settings name, each with its own deployer (or why it has none).
/// An environment is deployed, checked for drift and pruned only through the cluster its
/// `cluster:` names; a name not here is refused, never sent to another cluster. Cheap to clone.
#[derive(Clone)]
pub struct DeployClusters {
    known: KnownClusters,
    clusters: Arc<BTreeMap<String, Cluster>>,
}

/// One cluster: how it is reached now, and how to make its client again when that failed.
struct Cluster {
    access: std::sync::RwLock<DeployAccess>,
    /// Set when making the client may succeed later (an exec plugin that failed, a
    /// certificate file not mounted yet): deploys then wait for it as for a cluster that is
    /// down, and each wait tries again.
    retry: Option<crate::cluster::ClusterSource>,
}

impl DeployClusters {
    /// `clusters` by name, in the order the settings name them (`default` first), each with
    /// the source its client is made again from while it has none (`None`: never).
    pub fn new(
        clusters: Vec<(String, DeployAccess, Option<crate::cluster::ClusterSource>)>,
    ) -> DeployClusters {
        let known = KnownClusters::new(clusters.iter().map(|(name, _, _)| name.clone()));
        let clusters = clusters
            .into_iter()
            .map(|(name, access, retry)| {
                let retry = match access {
                    DeployAccess::Unavailable(_) => retry,
                    DeployAccess::Ready(_) => None,
                };
                let access = std::sync::RwLock::new(access);
                (name, Cluster { access, retry })
            })
            .collect();
        DeployClusters {
            known,
            clusters: Arc::new(clusters),
        }
    }

    /// Only `default`, reached (or not) as `access` says.
    pub fn single(access: DeployAccess) -> DeployClusters {
        DeployClusters::new(vec![(
            crate::config::DEFAULT_CLUSTER.to_string(),
            access,
            None,
        )])
    }

    /// The names: what `cluster:` may say.
    pub fn known(&self) -> &KnownClusters {
        &self.known
    }

    /// Every cluster's name, in the settings' order.
    pub fn names(&self) -> &[String] {
        self.known.names()
    }

    /// Cluster `name`'s access; `Err` with the refusal when the settings do not name it.
    pub fn get(&self, name: &str) -> Result<DeployAccess, String> {
        match self.clusters.get(name) {
            Some(cluster) => Ok(cluster
                .access
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone()),
            None => Err(self
                .known
                .refusal(name)
                .unwrap_or_else(|| format!("unknown cluster `{name}`"))),
        }
    }

    /// Whether cluster `name`, while it has no client, may get one later: its deploys wait
    /// for it ([`Self::reach`]) instead of ending.
    pub fn may_come(&self, name: &str) -> bool {
        self.clusters
            .get(name)
            .is_some_and(|cluster| cluster.retry.is_some())
    }

    /// Cluster `name`'s access, after trying once more to make its client when it has none
    /// and may get one ([`Self::may_come`]).
    pub async fn reach(&self, name: &str) -> Result<DeployAccess, String> {
        let access = self.get(name)?;
        let (DeployAccess::Unavailable(_), Some(cluster)) = (&access, self.clusters.get(name))
        else {
            return Ok(access);
        };
        let Some(source) = &cluster.retry else {
            return Ok(access);
        };
        let access = match source.connect().await {
            Ok(client) => {
                tracing::info!(
                    cluster = name,
                    "the cluster's client could be made this time"
                );
                DeployAccess::Ready(Deployer::new(client))
            }
            Err(err) => DeployAccess::Unavailable(err.to_string()),
        };
        *cluster
            .access
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = access.clone();
        Ok(access)
    }
}

/// How long a deploy whose cluster is unreachable waits before it tries again: `first`,
/// doubling each time, at most `max`; the run's deadline bounds the whole wait.
#[derive(Debug, Clone, Copy)]
pub struct ClusterBackoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for ClusterBackoff {
    fn default() -> Self {
        ClusterBackoff {
            first: Duration::from_secs(5),
            max: Duration::from_secs(2 * 60),
        }
    }
}

impl ClusterBackoff {
    /// The wait after the `attempt`-th try (1-based) found the cluster unreachable.
    pub fn after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(16);
        self.first.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// The lock one pull request's deploy comment is written under.
type CommentWriter = Arc<tokio::sync::Mutex<()>>;

/// What deploys share: the handlers' and the run kind's tools. Cheap to clone.
#[derive(Clone)]
pub struct Deploys {
    inner: Arc<Inner>,
}

struct Inner {
    github: GitHub,
    mirrors: Arc<Mirrors>,
    store: Store,
    clusters: DeployClusters,
    backoff: ClusterBackoff,
    metrics: Arc<Metrics>,
    templates: &'static Templates,
    /// One writer at a time per pull request's deploy comment: environments finish together,
    /// and two writers that both find no comment would post two.
    comment_writers: Mutex<HashMap<(String, u64), CommentWriter>>,
}

impl Deploys {
    pub fn new(
        github: GitHub,
        mirrors: Arc<Mirrors>,
        store: Store,
        clusters: DeployClusters,
        backoff: ClusterBackoff,
        metrics: Arc<Metrics>,
    ) -> Deploys {
        Deploys {
            inner: Arc::new(Inner {
                github,
                mirrors,
                store,
                clusters,
                backoff,
                metrics,
                templates: Templates::builtin(),
                comment_writers: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Registers the `deploy` run kind.
    pub fn register_kind(&self, kinds: &mut RunKinds) {
        kinds.register(
            DEPLOY_RUN_KIND,
            DEPLOY_CONCURRENCY,
            DeployRun {
                deploys: self.clone(),
            },
        );
    }

    pub fn clusters(&self) -> &DeployClusters {
        &self.inner.clusters
    }

    /// The one lock of pull request `pull`'s deploy comment.
    fn comment_writer(&self, repo: &str, pull: u64) -> CommentWriter {
        let mut writers = self
            .inner
            .comment_writers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        writers.entry((repo.to_string(), pull)).or_default().clone()
    }
}

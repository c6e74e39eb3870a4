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
/// `cluster:` names; a name not here is refused, never sent to another cluster.
#[derive(Clone)]
pub struct DeployClusters {
    known: KnownClusters,
    access: BTreeMap<String, DeployAccess>,
}

impl DeployClusters {
    /// `clusters` by name, in the order the settings name them (`default` first).
    pub fn new(clusters: Vec<(String, DeployAccess)>) -> DeployClusters {
        let known = KnownClusters::new(clusters.iter().map(|(name, _)| name.clone()));
        DeployClusters {
            known,
            access: clusters.into_iter().collect(),
        }
    }

    /// Only `default`, reached (or not) as `access` says.
    pub fn single(access: DeployAccess) -> DeployClusters {
        DeployClusters::new(vec![(crate::config::DEFAULT_CLUSTER.to_string(), access)])
    }

    /// The names: what `cluster:` may say.
    pub fn known(&self) -> &KnownClusters {
        &self.known
    }

    /// Cluster `name`'s access; `Err` with the refusal when the settings do not name it.
    pub fn get(&self, name: &str) -> Result<&DeployAccess, String> {
        match self.access.get(name) {
            Some(access) => Ok(access),
            None => Err(self
                .known
                .refusal(name)
                .unwrap_or_else(|| format!("unknown cluster `{name}`"))),
        }
    }

    /// Every cluster, by name, in the settings' order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &DeployAccess)> {
        self.known
            .names()
            .iter()
            .filter_map(|name| self.access.get(name).map(|a| (name.as_str(), a)))
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

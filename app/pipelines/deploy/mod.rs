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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cluster::Deployer;
use crate::git::Mirrors;
use crate::github::GitHub;
use crate::report::Templates;
use crate::runs::RunKinds;
use crate::store::Store;

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
    cluster: DeployAccess,
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
        cluster: DeployAccess,
    ) -> Deploys {
        Deploys {
            inner: Arc::new(Inner {
                github,
                mirrors,
                store,
                cluster,
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

    pub fn cluster(&self) -> &DeployAccess {
        &self.inner.cluster
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

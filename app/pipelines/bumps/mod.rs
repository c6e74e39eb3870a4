//! Landing an image bump in a GitOps config repo: when an app's build on its default branch
//! succeeds, the new tag is committed to the environment its `.github/slipway.yml` deploys to
//! (`deploy.repo`, `deploy.environment`).
//!
//! [`Bumper::land`] does, for one [`BumpOrder`]:
//! 1. It finds the App's installation on the config repo (cached), its default branch and
//!    clone URL, and reads the branch's head into the repo's bare mirror (fetched only when the
//!    mirror lacks that commit). `.github/slipway.yml` at that head names the environment.
//! 2. An environment whose `bumped_by:` does not list the order's source repository for its
//!    image is [`BumpLanded::NotAllowed`], and a locked environment (`/lock`) is
//!    [`BumpLanded::Locked`]: nothing is written.
//! 3. The bump code plans the edit against that head: an image the environment does not
//!    reference fails, naming what was looked for; one already at the tag is
//!    [`BumpLanded::AlreadyCurrent`]. An order with a digest pins it (`image:tag@digest`).
//!    When the environment runs a tag that is a commit of the order's source repository and
//!    descends from the order's commit (read in the app repo's mirror), the bump would go
//!    back: [`BumpLanded::Newer`], nothing written.
//! 4. An environment that requires approvals gets a rolling pull request instead
//!    (`propose.rs`): branch `slipway/bump/<env>/<image-name>` holds one commit on the current
//!    default head, replaced by each later bump of that image; the open pull request of that
//!    branch is updated, or one is opened.
//! 5. Otherwise the edit is committed on the default branch through the Git Data API as the
//!    App (blobs, a tree on the base tree, the commit, a ref update with `force: false`). When
//!    the branch moved meanwhile (422 "Update is not a fast forward"), the head is read again,
//!    the edits are planned again on it, and the commit is retried after a jittered backoff,
//!    up to [`BumpRetry::attempts`] times.
//!
//! Orders to one config repo go through one in-process lane (`lane.rs`): while a commit is being
//! made, the orders that arrive wait and then go into one commit together, whose message lists
//! every image it moved. Fifty builds finishing at once make a handful of commits instead of
//! fifty writers racing for one branch. An order that fails in a batch (its image is not
//! referenced) fails alone; every other order of the batch lands, and each waiter gets the
//! commit its image landed in.
//!
//! The pure parts are [`batch`] (which orders share a commit, the combined files), [`message`]
//! (the texts, from `templates/bumps/`) and [`branch`] (the rolling branch's name).

pub mod batch;
pub mod branch;
mod failure;
mod land;
mod lane;
pub mod message;
mod propose;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::git::Mirrors;
use crate::github::{GitHub, RepoRef};
use crate::store::Store;

pub use failure::BumpFailure;

/// The commit a build was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCommit {
    pub repo: RepoRef,
    pub sha: String,
    /// html URL of the commit
    pub url: String,
}

/// One successful build's image, to be set in one environment of a config repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BumpOrder {
    /// `deploy.repo` of the app repo.
    pub config_repo: RepoRef,
    /// `deploy.environment` of the app repo.
    pub environment: String,
    /// `build.image`: the repository, without tag.
    pub image: String,
    /// The new tag (the built commit's full sha).
    pub tag: String,
    /// The pushed image's digest (`sha256:…`), as the build reported it: what the bump pins, so
    /// that the tag being pushed again can never change what runs.
    pub digest: Option<String>,
    pub source: SourceCommit,
    /// Who caused the build (the pusher, or whoever pressed Re-run): their approval of a bump
    /// pull request does not count.
    pub requested_by: Option<String>,
}

/// Where a bump landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BumpLanded {
    /// Committed on the config repo's default branch (maybe with other images: `images` lists
    /// every image that commit moved, this one included).
    Committed {
        sha: String,
        url: String,
        images: Vec<MovedImage>,
    },
    /// The environment needs approvals: the rolling PR from `slipway/bump/<env>/<image-name>`.
    Proposed {
        number: u64,
        url: String,
        opened: bool,
    },
    /// The environment already runs image:tag (pinned to the same digest); nothing committed.
    AlreadyCurrent,
    /// The environment is locked (`/lock`): no bump.
    Locked { by: String, reason: Option<String> },
    /// The environment's `bumped_by:` does not list the order's source repository for its
    /// image: the config repo decides whose builds may change what it runs. Nothing written.
    NotAllowed {
        environment: String,
        image: String,
        source: RepoRef,
    },
    /// The environment runs the image built from `running`, a commit of the same repository
    /// that descends from the order's: bumping would go back (an old build's Re-run). Going
    /// back is `/rollback`, a reviewed change. Nothing written.
    Newer {
        environment: String,
        running: String,
    },
}

/// One image a commit moved, with its versions as the manifests wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedImage {
    pub image: String,
    pub environment: String,
    pub from: String,
    pub to: String,
}

/// How often, and how patiently, a commit is retried when the default branch moved under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BumpRetry {
    /// Attempts per commit, the first included.
    pub attempts: u32,
    /// The wait after the first failed attempt; doubled after each, then jittered.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for BumpRetry {
    fn default() -> Self {
        BumpRetry {
            attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

/// The most orders one commit takes; the rest wait for the next.
const MAX_BATCH: usize = 100;

/// Lands bump orders. Cheap to clone; make ONE per process, since its lanes are what
/// serialise the commits to each config repo.
#[derive(Clone)]
pub struct Bumper {
    shared: Arc<Shared>,
    retry: BumpRetry,
}

/// What every clone of a [`Bumper`] shares.
struct Shared {
    github: GitHub,
    mirrors: Arc<Mirrors>,
    store: Store,
    /// The App's installation on each config repo, once found.
    installations: Mutex<HashMap<RepoRef, i64>>,
    lanes: Mutex<HashMap<RepoRef, Arc<lane::Lane>>>,
    /// One at a time per rolling branch (`owner/name` + branch).
    branches: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Bumper {
    pub fn new(github: GitHub, mirrors: Arc<Mirrors>, store: Store) -> Self {
        Bumper {
            shared: Arc::new(Shared {
                github,
                mirrors,
                store,
                installations: Mutex::new(HashMap::new()),
                lanes: Mutex::new(HashMap::new()),
                branches: Mutex::new(HashMap::new()),
            }),
            retry: BumpRetry::default(),
        }
    }

    pub fn with_retry(mut self, retry: BumpRetry) -> Self {
        self.retry = retry;
        self
    }

    /// Lands one order (see the module's documentation); returns once its bump is committed,
    /// proposed, or found unnecessary.
    pub async fn land(&self, order: BumpOrder) -> Result<BumpLanded, BumpFailure> {
        check_order(&order)?;
        let repo = order.config_repo.clone();
        let installation = self.installation(&repo).await?;
        let lane = {
            let mut lanes = self.shared.lanes.lock().unwrap_or_else(|p| p.into_inner());
            lanes.entry(repo.clone()).or_default().clone()
        };
        let (reply, answer) = oneshot::channel();
        let waiter = lane::Waiter {
            order,
            installation,
            reply,
        };
        if lane.push(waiter) {
            // The leader runs on its own task: a caller that stops waiting does not stop the
            // commit other orders are in.
            tokio::spawn(land::lead(self.shared.clone(), lane, self.retry));
        }
        answer.await.unwrap_or_else(|_| {
            Err(BumpFailure::Interrupted {
                repo,
                reason: "the task landing it ended without an answer".into(),
            })
        })
    }

    /// The App's installation on `repo`, from the cache or from GitHub.
    async fn installation(&self, repo: &RepoRef) -> Result<i64, BumpFailure> {
        self.shared.installation(repo).await
    }
}

impl Shared {
    /// The App's installation on `repo`, from the cache or from GitHub.
    async fn installation(&self, repo: &RepoRef) -> Result<i64, BumpFailure> {
        let cached = self
            .installations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(repo)
            .copied();
        if let Some(id) = cached {
            return Ok(id);
        }
        let found = self
            .github
            .repo_installation(repo)
            .await
            .map_err(|err| BumpFailure::github(repo, "finding the App's installation", err))?
            .ok_or_else(|| BumpFailure::NotInstalled { repo: repo.clone() })?;
        self.installations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(repo.clone(), found);
        Ok(found)
    }

    /// Forgets the cached installation of `repo` (GitHub no longer accepts it).
    fn forget_installation(&self, repo: &RepoRef) {
        self.installations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(repo);
    }

    fn branch_lock(&self, repo: &RepoRef, branch: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut branches = self.branches.lock().unwrap_or_else(|p| p.into_inner());
        branches
            .entry(format!("{repo} {branch}"))
            .or_default()
            .clone()
    }
}

/// What the order must hold before anything is read: the source commit's sha in hex (it is
/// shown in messages). The image and tag are checked by the bump code.
fn check_order(order: &BumpOrder) -> Result<(), BumpFailure> {
    let sha = &order.source.sha;
    if sha.len() < 7 || sha.len() > 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(BumpFailure::InvalidOrder {
            reason: format!(
                "the source commit of {} is not a commit sha",
                order.source.repo
            ),
        });
    }
    if let Some(digest) = &order.digest {
        crate::bump::image::normalise_digest(digest).map_err(|reason| {
            BumpFailure::InvalidOrder {
                reason: format!(
                    "the digest of the build of {} is not a digest: {reason}",
                    order.source.repo
                ),
            }
        })?;
    }
    Ok(())
}

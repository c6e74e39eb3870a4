//! Kubernetes: reaching a cluster, the build Job rendered from a template, the build Jobs in
//! the cluster, and deploying an environment's objects (apply, prune, health, drift).
//!
//! Pure parts (`names`, `template`, `build_job`, `job_state`, `pods`, `build_log`, `apply`,
//! `inventory`, `order`, `health`) build typed objects or read them and do no I/O; `connect`,
//! `builds`, `watch`, `kinds` and the [`Deployer`] (`deployer`, `prune`, `wait`, `drift`) are
//! the edges that talk to a cluster.

pub mod apply;
pub mod build_job;
pub mod build_log;
pub mod builds;
pub mod clusters;
pub mod connect;
pub mod deployer;
pub mod drift;
pub mod error;
pub mod health;
pub mod inventory;
pub mod job_state;
pub mod kinds;
pub mod names;
pub mod order;
pub mod ownership;
pub mod pods;
mod prune;
pub mod template;
mod wait;
pub mod watch;

pub use apply::{Action, AppliedObject, ApplyFailed, ApplyReport, ConflictTaken, UnhealthyObject};
pub use build_job::{render, BuildArg, BuildJobError, BuildObjects, BuildSpec};
pub use build_log::redact_log;
pub use builds::{BuildCluster, Launched};
pub use clusters::{ClusterSettings, ClusterSource, ClustersError};
pub use connect::{connect, ClusterUnavailable};
pub use deployer::{Deployer, FIELD_MANAGER};
pub use drift::Drift;
pub use error::{ClusterError, NotOwned};
pub use health::HealthReport;
pub use inventory::Inventory;
pub use job_state::{job_state, FailReason, JobState};
pub use template::{BuildTemplate, Builder, TemplateError};
pub use watch::{watch_builds, BuildEvent};

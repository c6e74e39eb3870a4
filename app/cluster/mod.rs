//! Kubernetes: reaching a cluster, the build Job rendered from a template, and the build Jobs
//! in the cluster.
//!
//! Pure parts (`names`, `template`, `build_job`, `job_state`, `pods`, `build_log`) build typed
//! objects or read them and do no I/O; `connect`, `builds` and `watch` are the edges that talk
//! to a cluster.

pub mod build_job;
pub mod build_log;
pub mod builds;
pub mod connect;
pub mod error;
pub mod job_state;
pub mod names;
pub mod pods;
pub mod template;
pub mod watch;

pub use build_job::{render, BuildArg, BuildJobError, BuildObjects, BuildSpec};
pub use build_log::redact_log;
pub use builds::{BuildCluster, Launched};
pub use connect::{connect, ClusterUnavailable};
pub use error::ClusterError;
pub use job_state::{job_state, FailReason, JobState};
pub use template::{BuildTemplate, Builder, TemplateError};
pub use watch::{watch_builds, BuildEvent};

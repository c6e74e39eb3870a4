//! Kubernetes: reaching a cluster, and the build Job rendered from a template.
//!
//! Pure parts (`names`, `template`, `build_job`) build typed objects and do no I/O; `connect`
//! is the edge that finds a cluster.

pub mod build_job;
pub mod connect;
pub mod names;
pub mod template;

pub use build_job::{render, BuildArg, BuildJobError, BuildObjects, BuildSpec};
pub use connect::{connect, ClusterUnavailable};
pub use template::{BuildTemplate, Builder, TemplateError};

//! slipway: a GitHub App that makes pull requests the control plane of Kubernetes delivery.
//!
//! Data flows one way: `server → webhook → queue → pipelines → (github | git | render/diff | cluster) → report`.
//! The pure parts (`config`, `render`, `diff`, `bump`, `report`, `commands` parsing, `webhook`
//! verification) do no network I/O; the CLI reuses exactly the code the server runs.

pub mod bump;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod diff;
pub mod failure;
pub mod git;
pub mod github;
pub mod pipelines;
pub mod policy;
pub mod queue;
pub mod render;
pub mod report;
pub mod runs;
pub mod scheduler;
pub mod server;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod webhook;

/// Chooses rustls' crypto back-end for the whole process. Two back-ends are compiled in (ring via
/// octocrab, aws-lc-rs via other crates), so rustls cannot pick one itself and would panic at
/// the first TLS connection. Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

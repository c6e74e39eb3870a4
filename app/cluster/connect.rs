//! Finding a cluster: `KUBECONFIG` when the settings name one (from the process environment or
//! `.env` alike), else what kube infers — `~/.kube/config`, then the pod's service account.
//! No cluster is a state slipway serves in, not a crash.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};

/// Why there is no cluster to talk to, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum ClusterUnavailable {
    #[error("no cluster configured: not running in a pod, and no kubeconfig ({0})")]
    NotConfigured(String),
    #[error("the cluster configuration cannot be used: {0}")]
    Unusable(String),
    #[error("KUBECONFIG {path} cannot be used: {reason}")]
    Kubeconfig { path: String, reason: String },
}

/// A client for the cluster slipway is configured for. `kubeconfig` is the `KUBECONFIG`
/// setting (paths separated like `PATH`): kube itself reads only the process environment, so
/// a value from `.env` would be ignored in favour of `~/.kube/config` if it were not passed
/// here. A named kubeconfig that cannot be read is an error, never a fall-back to another
/// cluster. Needs the rustls crypto provider installed (see [`crate::install_crypto_provider`]).
pub async fn connect(kubeconfig: Option<&str>) -> Result<kube::Client, ClusterUnavailable> {
    let config = match kubeconfig {
        Some(paths) => from_kubeconfig_paths(paths).await?,
        None => kube::Config::infer()
            .await
            .map_err(|err| ClusterUnavailable::NotConfigured(crate::failure::chain(&err)))?,
    };
    kube::Client::try_from(config)
        .map_err(|err| ClusterUnavailable::Unusable(crate::failure::chain(&err)))
}

/// The files of `paths`, merged by kubectl's rules (the first file to set a value wins).
async fn from_kubeconfig_paths(paths: &str) -> Result<kube::Config, ClusterUnavailable> {
    let unusable = |reason: String| ClusterUnavailable::Kubeconfig {
        path: paths.to_string(),
        reason,
    };
    let files: Vec<PathBuf> = std::env::split_paths(paths)
        .filter(|path| !path.as_os_str().is_empty())
        .collect();
    if files.is_empty() {
        return Err(unusable("it names no file".to_string()));
    }
    let mut merged = Kubeconfig::default();
    for file in &files {
        let read =
            Kubeconfig::read_from(file).map_err(|err| unusable(crate::failure::chain(&err)))?;
        merged = merged
            .merge(read)
            .map_err(|err| unusable(crate::failure::chain(&err)))?;
    }
    kube::Config::from_custom_kubeconfig(merged, &KubeConfigOptions::default())
        .await
        .map_err(|err| unusable(crate::failure::chain(&err)))
}

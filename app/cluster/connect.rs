//! Finding a cluster: the pod's service account when slipway runs in one, else `KUBECONFIG` or
//! the kubeconfig's current context. No cluster is a state slipway serves in, not a crash.

/// Why there is no cluster to talk to, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum ClusterUnavailable {
    #[error("no cluster configured: not running in a pod, and no kubeconfig ({0})")]
    NotConfigured(String),
    #[error("the cluster configuration cannot be used: {0}")]
    Unusable(String),
}

/// A client for the cluster slipway is configured for. Needs the rustls crypto provider
/// installed (see [`crate::install_crypto_provider`]).
pub async fn connect() -> Result<kube::Client, ClusterUnavailable> {
    let config = kube::Config::infer()
        .await
        .map_err(|err| ClusterUnavailable::NotConfigured(crate::failure::chain(&err)))?;
    kube::Client::try_from(config)
        .map_err(|err| ClusterUnavailable::Unusable(crate::failure::chain(&err)))
}

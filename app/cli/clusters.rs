//! The clusters an offline command (`check-config`, `preview`) knows, as the server would:
//! `default`, the names `CLUSTERS` gives (read from its files; nothing is connected to), and
//! any `--cluster` named on the command line.

use std::path::PathBuf;

use crate::cluster::ClusterSettings;
use crate::config::KnownClusters;

#[derive(clap::Args, Debug, Default)]
pub struct ClusterArgs {
    /// The server's `CLUSTERS` setting: a kubeconfig file (each context a cluster) or a
    /// directory of one kubeconfig per cluster. Only the names are read.
    #[arg(long = "clusters", env = "CLUSTERS", value_name = "PATH")]
    pub clusters: Option<PathBuf>,
    /// A cluster the server knows, besides `default` and those of `--clusters` (repeatable).
    #[arg(long = "cluster", value_name = "NAME")]
    pub cluster: Vec<String>,
}

impl ClusterArgs {
    /// The names configurations may use in `cluster:`.
    pub fn known(&self) -> anyhow::Result<KnownClusters> {
        let settings = ClusterSettings::load(None, self.clusters.as_deref())?;
        for name in &self.cluster {
            if !crate::cluster::clusters::is_cluster_name(name) {
                anyhow::bail!(
                    "--cluster `{name}` is not a cluster name (lowercase letters, digits and `-`, at most 63)"
                );
            }
        }
        let known = settings.known();
        Ok(KnownClusters::new(
            known
                .names()
                .iter()
                .cloned()
                .chain(self.cluster.iter().cloned()),
        ))
    }
}

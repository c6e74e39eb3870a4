//! The clusters a slipway may use, by name, from its server settings.
//!
//! `default` is the cluster slipway has always had: `KUBECONFIG`'s current context, else what
//! kube infers (`~/.kube/config`, then the pod's service account). `CLUSTERS` adds others from
//! kubeconfig contexts: a kubeconfig file whose every context is one cluster named after the
//! context, or a directory with one kubeconfig per cluster named after the file (the file's
//! current context, or its only one) — the layout of a Secret volume, one Secret per cluster.
//!
//! Loading reads and parses files and connects to nothing: the names are known offline (what
//! `check-config` needs), and a cluster that is down at start-up is still a known cluster whose
//! environments wait for it. Connecting ([`ClusterSettings::connect`]) makes a client without a
//! request; exec plugins and tokens are what kube supports and run when a request is made.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::connect::ClusterUnavailable;
use crate::config::{KnownClusters, DEFAULT_CLUSTER};

/// A cluster setting that stops start-up, naming the setting and the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClustersError(pub String);

/// Where one named cluster's credentials come from.
#[derive(Debug, Clone)]
pub struct ClusterSource {
    pub name: String,
    /// Where the name comes from, for people: `KUBECONFIG or in-cluster configuration`,
    /// `context `prod` of CLUSTERS /etc/slipway/clusters.yaml`, `CLUSTERS file /etc/…/prod`.
    pub origin: String,
    how: Connection,
}

#[derive(Debug, Clone)]
enum Connection {
    /// `KUBECONFIG` (paths separated like `PATH`), else kube's inference.
    Default { kubeconfig: Option<String> },
    /// A context of a parsed kubeconfig.
    Context {
        kubeconfig: Box<Kubeconfig>,
        context: String,
    },
}

/// Every cluster the settings name, `default` first.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    sources: Vec<ClusterSource>,
}

impl ClusterSettings {
    /// `default` from `kubeconfig` (the `KUBECONFIG` setting), and the clusters of `clusters`
    /// (the `CLUSTERS` setting). A missing or empty `CLUSTERS` directory adds none.
    pub fn load(
        kubeconfig: Option<&str>,
        clusters: Option<&Path>,
    ) -> Result<ClusterSettings, ClustersError> {
        let mut sources = vec![ClusterSource {
            name: DEFAULT_CLUSTER.to_string(),
            origin: "the built-in cluster (KUBECONFIG or in-cluster configuration)".to_string(),
            how: Connection::Default {
                kubeconfig: kubeconfig.map(str::to_string),
            },
        }];
        if let Some(path) = clusters {
            for source in from_clusters_setting(path)? {
                if let Some(first) = sources.iter().find(|s| s.name == source.name) {
                    return Err(ClustersError(format!(
                        "cluster `{}` is named twice: by {} and by {}; every cluster needs its own name",
                        source.name, first.origin, source.origin
                    )));
                }
                sources.push(source);
            }
        }
        Ok(ClusterSettings { sources })
    }

    /// The names, `default` first: what configurations may name in `cluster:`.
    pub fn known(&self) -> KnownClusters {
        KnownClusters::new(self.sources.iter().map(|s| s.name.clone()))
    }

    pub fn sources(&self) -> &[ClusterSource] {
        &self.sources
    }

    /// A client for cluster `name`; no request is made. Needs the rustls crypto provider.
    pub async fn connect(&self, name: &str) -> Result<kube::Client, ClusterUnavailable> {
        let Some(source) = self.sources.iter().find(|s| s.name == name) else {
            return Err(ClusterUnavailable::NotConfigured(format!(
                "no cluster `{name}` in the settings"
            )));
        };
        source.connect().await
    }
}

impl ClusterSource {
    pub async fn connect(&self) -> Result<kube::Client, ClusterUnavailable> {
        match &self.how {
            Connection::Default { kubeconfig } => super::connect(kubeconfig.as_deref()).await,
            Connection::Context {
                kubeconfig,
                context,
            } => {
                let options = KubeConfigOptions {
                    context: Some(context.clone()),
                    ..KubeConfigOptions::default()
                };
                let config = kube::Config::from_custom_kubeconfig((**kubeconfig).clone(), &options)
                    .await
                    .map_err(|err| ClusterUnavailable::Kubeconfig {
                        path: self.origin.clone(),
                        reason: crate::failure::chain(&err),
                    })?;
                kube::Client::try_from(config)
                    .map_err(|err| ClusterUnavailable::Unusable(crate::failure::chain(&err)))
            }
        }
    }
}

/// The clusters `CLUSTERS` names: a file's contexts, or a directory's files.
fn from_clusters_setting(path: &Path) -> Result<Vec<ClusterSource>, ClustersError> {
    let shown = path.display();
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        // An optional Secret that is not there: no clusters besides `default`.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(path = %shown, "CLUSTERS names nothing that exists: no clusters besides `default`");
            return Ok(Vec::new());
        }
        Err(err) => {
            return Err(ClustersError(format!(
                "CLUSTERS {shown} cannot be read: {err}"
            )));
        }
    };
    if metadata.is_dir() {
        from_directory(path)
    } else {
        from_file(path)
    }
}

/// Every context of one kubeconfig file.
fn from_file(path: &Path) -> Result<Vec<ClusterSource>, ClustersError> {
    let shown = path.display();
    let kubeconfig = read(path)?;
    let mut sources = Vec::new();
    for context in &kubeconfig.contexts {
        let origin = format!("context `{}` of CLUSTERS {shown}", context.name);
        check_name(&context.name, &origin)?;
        if sources
            .iter()
            .any(|s: &ClusterSource| s.name == context.name)
        {
            return Err(ClustersError(format!(
                "cluster `{}` is named twice in CLUSTERS {shown}: every context needs its own name",
                context.name
            )));
        }
        sources.push(ClusterSource {
            name: context.name.clone(),
            origin,
            how: Connection::Context {
                kubeconfig: Box::new(kubeconfig.clone()),
                context: context.name.clone(),
            },
        });
    }
    Ok(sources)
}

/// One cluster per regular file of a directory, named after the file; names beginning with `.`
/// (a Secret volume's `..data` and timestamped directories) are skipped, and the symlinks a
/// Secret volume makes (`prod -> ..data/prod`) are followed.
fn from_directory(dir: &Path) -> Result<Vec<ClusterSource>, ClustersError> {
    let shown = dir.display();
    let entries = std::fs::read_dir(dir)
        .map_err(|err| ClustersError(format!("CLUSTERS {shown} cannot be read: {err}")))?;
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry
            .map_err(|err| ClustersError(format!("CLUSTERS {shown} cannot be read: {err}")))?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            return Err(ClustersError(format!(
                "CLUSTERS {shown} holds a file whose name is not UTF-8: {}",
                file_name.to_string_lossy()
            )));
        };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        match std::fs::metadata(&path) {
            Ok(metadata) if metadata.is_file() => files.push((name.to_string(), path)),
            Ok(_) => continue, // a directory: not a kubeconfig
            Err(err) => {
                return Err(ClustersError(format!(
                    "CLUSTERS file {} cannot be read: {err}",
                    path.display()
                )))
            }
        }
    }
    files.sort();
    let mut sources = Vec::new();
    for (name, path) in files {
        let origin = format!("CLUSTERS file {}", path.display());
        check_name(&name, &origin)?;
        let kubeconfig = read(&path)?;
        let context = file_context(&kubeconfig, &origin)?;
        sources.push(ClusterSource {
            name,
            origin,
            how: Connection::Context {
                kubeconfig: Box::new(kubeconfig),
                context,
            },
        });
    }
    Ok(sources)
}

/// The context of a one-cluster file: its current context, or its only one.
fn file_context(kubeconfig: &Kubeconfig, origin: &str) -> Result<String, ClustersError> {
    let names: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if let Some(current) = kubeconfig
        .current_context
        .as_deref()
        .filter(|c| !c.is_empty())
    {
        if names.contains(&current) {
            return Ok(current.to_string());
        }
        return Err(ClustersError(format!(
            "{origin}: its current-context `{current}` is not one of its contexts"
        )));
    }
    match names.as_slice() {
        [only] => Ok(only.to_string()),
        [] => Err(ClustersError(format!("{origin} holds no context"))),
        _ => Err(ClustersError(format!(
            "{origin} holds {} contexts and no current-context: set current-context to the one for this cluster",
            names.len()
        ))),
    }
}

fn read(path: &Path) -> Result<Kubeconfig, ClustersError> {
    Kubeconfig::read_from(path).map_err(|err| {
        ClustersError(format!(
            "CLUSTERS {} is not a kubeconfig: {}",
            path.display(),
            crate::failure::chain(&err)
        ))
    })
}

fn check_name(name: &str, origin: &str) -> Result<(), ClustersError> {
    if is_cluster_name(name) {
        return Ok(());
    }
    Err(ClustersError(format!(
        "{origin}: `{name}` is not a cluster name: a cluster is named by a DNS-1123 label (lowercase letters, digits and `-`, at most 63, starting and ending with a letter or digit)"
    )))
}

/// A DNS-1123 label: what `cluster:` accepts.
pub fn is_cluster_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

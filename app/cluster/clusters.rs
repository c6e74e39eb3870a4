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

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(contexts: &[&str], current: Option<&str>) -> String {
        let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
        for name in contexts {
            text.push_str(&format!(
                "- name: {name}-c\n  cluster:\n    server: https://{name}.example.com\n"
            ));
        }
        text.push_str("users:\n");
        for name in contexts {
            text.push_str(&format!(
                "- name: {name}-u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /usr/bin/get-token\n      args: [{name}]\n"
            ));
        }
        text.push_str("contexts:\n");
        for name in contexts {
            text.push_str(&format!(
                "- name: {name}\n  context:\n    cluster: {name}-c\n    user: {name}-u\n"
            ));
        }
        if let Some(current) = current {
            text.push_str(&format!("current-context: {current}\n"));
        }
        text
    }

    fn names(settings: &ClusterSettings) -> Vec<String> {
        settings.known().names().to_vec()
    }

    /// A Secret volume as the kubelet mounts it: the keys in a timestamped directory, `..data`
    /// pointing at it, and a top-level symlink per key.
    fn secret_volume(files: &[(&str, String)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let stamped = dir.path().join("..2026_12_07_10_00_00.000000001");
        std::fs::create_dir(&stamped).unwrap();
        for (name, text) in files {
            std::fs::write(stamped.join(name), text).unwrap();
            std::os::unix::fs::symlink(format!("..data/{name}"), dir.path().join(name)).unwrap();
        }
        std::os::unix::fs::symlink("..2026_12_07_10_00_00.000000001", dir.path().join("..data"))
            .unwrap();
        dir
    }

    #[test]
    fn without_clusters_there_is_default_alone() {
        let settings = ClusterSettings::load(None, None).unwrap();
        assert_eq!(names(&settings), ["default"]);
    }

    #[test]
    fn a_file_gives_a_cluster_per_context_named_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clusters.yaml");
        std::fs::write(&file, kubeconfig(&["prod-eu", "staging"], Some("staging"))).unwrap();
        let settings = ClusterSettings::load(None, Some(&file)).unwrap();
        assert_eq!(names(&settings), ["default", "prod-eu", "staging"]);
        assert_eq!(
            settings.sources()[1].origin,
            format!("context `prod-eu` of CLUSTERS {}", file.display())
        );
    }

    #[test]
    fn a_secret_volume_gives_a_cluster_per_key_and_skips_its_dot_entries() {
        let volume = secret_volume(&[
            ("prod", kubeconfig(&["gke_prod"], None)),
            ("staging", kubeconfig(&["a", "b"], Some("b"))),
        ]);
        let settings = ClusterSettings::load(None, Some(volume.path())).unwrap();
        assert_eq!(names(&settings), ["default", "prod", "staging"]);
        let staging = &settings.sources()[2];
        assert!(matches!(&staging.how, Connection::Context { context, .. } if context == "b"));
        let prod = &settings.sources()[1];
        assert!(matches!(&prod.how, Connection::Context { context, .. } if context == "gke_prod"));
    }

    #[tokio::test]
    async fn exec_and_token_credentials_make_clients() {
        crate::install_crypto_provider();
        // An exec plugin as cloud providers ship them: it prints an ExecCredential.
        let bin = tempfile::tempdir().unwrap();
        let plugin = bin.path().join("get-token");
        std::fs::write(
            &plugin,
            "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"from-exec\"}}'\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let exec =
            kubeconfig(&["e"], None).replace("/usr/bin/get-token", &plugin.display().to_string());
        let mut token = kubeconfig(&["tok"], None);
        token = token.replace(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /usr/bin/get-token\n      args: [tok]\n",
            "    token: secret-token\n",
        );
        let volume = secret_volume(&[("exec", exec), ("token", token)]);
        let settings = ClusterSettings::load(None, Some(volume.path())).unwrap();
        for name in ["exec", "token"] {
            let connected = settings.connect(name).await;
            assert!(connected.is_ok(), "{name}: {:?}", connected.err());
        }
    }

    #[test]
    fn an_empty_or_missing_directory_adds_nothing() {
        let empty = secret_volume(&[]);
        let settings = ClusterSettings::load(None, Some(empty.path())).unwrap();
        assert_eq!(names(&settings), ["default"]);
        let missing = empty.path().join("not-mounted");
        let settings = ClusterSettings::load(None, Some(&missing)).unwrap();
        assert_eq!(names(&settings), ["default"]);
    }

    #[test]
    fn a_name_given_twice_is_an_error_naming_both_sources() {
        let volume = secret_volume(&[("default", kubeconfig(&["x"], None))]);
        let err = ClusterSettings::load(None, Some(volume.path())).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cluster `default` is named twice: by the built-in cluster (KUBECONFIG or in-cluster configuration) and by CLUSTERS file {}; every cluster needs its own name",
                volume.path().join("default").display()
            )
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clusters.yaml");
        std::fs::write(&file, kubeconfig(&["default"], None)).unwrap();
        let err = ClusterSettings::load(None, Some(&file)).unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "by context `default` of CLUSTERS {}",
                file.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn names_that_are_not_dns_labels_and_files_without_a_clear_context_are_errors() {
        let volume = secret_volume(&[("prod.yaml", kubeconfig(&["x"], None))]);
        let err = ClusterSettings::load(None, Some(volume.path())).unwrap_err();
        assert!(
            err.to_string().contains(
                "`prod.yaml` is not a cluster name: a cluster is named by a DNS-1123 label"
            ),
            "{err}"
        );
        let volume = secret_volume(&[("prod", kubeconfig(&["a", "b"], None))]);
        let err = ClusterSettings::load(None, Some(volume.path())).unwrap_err();
        assert!(
            err.to_string()
                .contains("holds 2 contexts and no current-context"),
            "{err}"
        );
        let volume = secret_volume(&[("prod", kubeconfig(&["a"], Some("gone")))]);
        let err = ClusterSettings::load(None, Some(volume.path())).unwrap_err();
        assert!(
            err.to_string()
                .contains("its current-context `gone` is not one of its contexts"),
            "{err}"
        );
        let volume = secret_volume(&[("prod", "not: [a kubeconfig".to_string())]);
        let err = ClusterSettings::load(None, Some(volume.path())).unwrap_err();
        assert!(err.to_string().contains("is not a kubeconfig"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clusters.yaml");
        std::fs::write(&file, kubeconfig(&["Prod_EU"], None)).unwrap();
        let err = ClusterSettings::load(None, Some(&file)).unwrap_err();
        assert!(
            err.to_string().contains("`Prod_EU` is not a cluster name"),
            "{err}"
        );
    }
}

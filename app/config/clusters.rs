//! The clusters this slipway can deploy to, and the one sentence that refuses any other.
//!
//! The server's settings name the clusters (`default`, the cluster slipway runs in or
//! `KUBECONFIG` names, and those of `CLUSTERS`; see [`crate::cluster::clusters`]). An
//! environment that names another is refused everywhere it matters — `check-config`, the
//! preview, the deploy, drift checks — so that it never lands in a cluster it did not name.

use super::DEFAULT_CLUSTER;

/// The names of the clusters slipway can apply to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownClusters {
    names: Vec<String>,
}

impl Default for KnownClusters {
    /// The one cluster a slipway reaches today: `default`.
    fn default() -> Self {
        KnownClusters {
            names: vec![DEFAULT_CLUSTER.to_string()],
        }
    }
}

impl KnownClusters {
    /// These names (kept in the order given, each once).
    pub fn new<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut out: Vec<String> = Vec::new();
        for name in names {
            let name = name.into();
            if !out.contains(&name) {
                out.push(name);
            }
        }
        KnownClusters { names: out }
    }

    /// The names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn knows(&self, name: &str) -> bool {
        self.names.iter().any(|known| known == name)
    }

    /// Why an environment naming `cluster` is refused; `None` when slipway knows it:
    /// `unknown cluster `x`: this slipway knows `default``.
    pub fn refusal(&self, cluster: &str) -> Option<String> {
        (!self.knows(cluster)).then(|| {
            let known: Vec<String> = self.names.iter().map(|n| format!("`{n}`")).collect();
            if known.is_empty() {
                return format!("unknown cluster `{cluster}`: this slipway knows no cluster");
            }
            format!(
                "unknown cluster `{cluster}`: this slipway knows {}",
                known.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_default_is_known_and_any_other_name_is_refused_saying_what_is() {
        let known = KnownClusters::default();
        assert!(known.knows("default"));
        assert_eq!(known.refusal("default"), None);
        assert_eq!(
            known.refusal("prod-eu").as_deref(),
            Some("unknown cluster `prod-eu`: this slipway knows `default`")
        );
    }

    #[test]
    fn the_servers_clusters_are_known_and_the_refusal_lists_them_all() {
        let known = KnownClusters::new(["default", "prod", "staging", "prod"]);
        assert_eq!(known.names(), ["default", "prod", "staging"]);
        assert!(known.knows("prod"));
        assert_eq!(
            known.refusal("prod-eu").as_deref(),
            Some("unknown cluster `prod-eu`: this slipway knows `default`, `prod`, `staging`")
        );
        let text = "environments:\n  dev:\n    path: envs/dev\n    cluster: prod\n";
        assert!(super::super::parse_repo_config_for(text, &known).is_ok());
        assert!(super::super::parse_repo_config(text).is_err());
    }

    #[test]
    fn the_preview_and_check_config_refuse_an_unknown_cluster_and_the_deploy_reads_it_to_refuse() {
        let text = "environments:\n  dev:\n    path: envs/dev\n    cluster: prod-eu\n  prod:\n    path: envs/prod\n";
        let errors = super::super::parse_repo_config(text).unwrap_err();
        assert_eq!(
            errors.to_string(),
            ".github/slipway.yml:4:14: `cluster`: unknown cluster `prod-eu`: this slipway knows `default`; omit `cluster` or name a known one"
        );
        let read = super::super::parse_config_repo(text).expect("read for the deploy");
        assert_eq!(read.environments["dev"].cluster, "prod-eu");
        assert!(KnownClusters::default()
            .refusal(&read.environments["dev"].cluster)
            .is_some());
        assert!(KnownClusters::default()
            .refusal(&read.environments["prod"].cluster)
            .is_none());
    }
}

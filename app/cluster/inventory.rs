//! Which objects in a cluster belong to one environment of one config repo: the labels slipway
//! puts on every object it applies, and the selector that finds them again (to prune, to see
//! drift).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// The exact identity of an environment's objects: a hash of repository and environment (and
/// cluster, for any cluster but `default`).
pub const INVENTORY_LABEL: &str = "slipway.dev/inventory";
/// The cluster's name, for people; only on objects of clusters other than `default`.
pub const CLUSTER_LABEL: &str = "slipway.dev/cluster";
/// The environment's name, for people (sanitised to a label value).
pub const ENVIRONMENT_LABEL: &str = "slipway.dev/environment";
/// The config repository, for people (`owner.name`, sanitised to a label value).
pub const CONFIG_REPO_LABEL: &str = "slipway.dev/config-repo";

/// The longest label value Kubernetes accepts.
const LABEL_VALUE_MAX: usize = 63;

/// One environment of one config repo in one cluster, as the cluster knows its objects.
///
/// The cluster is part of the identity so that two environments of the same name deployed to
/// two clusters — or two cluster names that reach the same API server — never own (adopt,
/// prune, report as drift) each other's objects. `default` keeps the identity objects were
/// labelled with before slipway knew several clusters, so what is deployed there stays owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The config repo, `owner/name`.
    pub repository: String,
    pub environment: String,
    /// The cluster's name from the server settings.
    pub cluster: String,
}

impl Inventory {
    /// The environment's inventory in the cluster `default`.
    pub fn new(repository: impl Into<String>, environment: impl Into<String>) -> Self {
        Inventory::in_cluster(repository, environment, crate::config::DEFAULT_CLUSTER)
    }

    /// The environment's inventory in cluster `cluster`.
    pub fn in_cluster(
        repository: impl Into<String>,
        environment: impl Into<String>,
        cluster: impl Into<String>,
    ) -> Self {
        Inventory {
            repository: repository.into(),
            environment: environment.into(),
            cluster: cluster.into(),
        }
    }

    fn is_default_cluster(&self) -> bool {
        self.cluster == crate::config::DEFAULT_CLUSTER
    }

    /// Labels put on every applied object. Only `slipway.dev/inventory` identifies the
    /// environment exactly; the others are its names made valid label values, for people.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([
            (INVENTORY_LABEL.to_string(), self.id()),
            (
                ENVIRONMENT_LABEL.to_string(),
                label_value(&self.environment),
            ),
            (
                CONFIG_REPO_LABEL.to_string(),
                label_value(&self.repository.replace('/', ".")),
            ),
        ]);
        if !self.is_default_cluster() {
            labels.insert(CLUSTER_LABEL.to_string(), label_value(&self.cluster));
        }
        labels
    }

    /// The label selector that finds exactly this environment's objects.
    pub fn selector(&self) -> String {
        format!("{INVENTORY_LABEL}={}", self.id())
    }

    /// Whether an object's labels say it belongs to this environment.
    pub fn owns(&self, labels: &BTreeMap<String, String>) -> bool {
        labels.get(INVENTORY_LABEL) == Some(&self.id())
    }

    /// 32 hex digits of SHA-256 over repository and environment (case-insensitive repository,
    /// as GitHub's names are), and the cluster unless it is `default` (whose objects keep the
    /// identity they had before clusters had names).
    fn id(&self) -> String {
        let mut hasher = Sha256::new()
            .chain_update(self.repository.to_lowercase().as_bytes())
            .chain_update([0u8])
            .chain_update(self.environment.as_bytes());
        if !self.is_default_cluster() {
            hasher = hasher
                .chain_update([0u8])
                .chain_update(b"cluster:")
                .chain_update(self.cluster.as_bytes());
        }
        hex::encode(&hasher.finalize()[..16])
    }
}

/// `text` as a valid label value: at most 63 characters of `[A-Za-z0-9._-]`, starting and
/// ending with an alphanumeric. Other characters become `-`; a value that had to change or be
/// cut keeps a short hash of the original so two names do not collapse into one.
fn label_value(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed == text && text.len() <= LABEL_VALUE_MAX {
        return text.to_string();
    }
    let hash = hex::encode(&Sha256::digest(text.as_bytes())[..4]);
    let room = LABEL_VALUE_MAX - hash.len() - 1;
    let head: String = trimmed.chars().take(room).collect();
    let head = head.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if head.is_empty() {
        hash
    } else {
        format!("{head}-{hash}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(value: &str) -> bool {
        value.len() <= LABEL_VALUE_MAX
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric())
    }

    #[test]
    fn labels_are_valid_values_and_plain_names_stay_readable() {
        let inventory = Inventory::new("acme/config", "prod-eu");
        let labels = inventory.labels();
        assert_eq!(labels[ENVIRONMENT_LABEL], "prod-eu");
        assert_eq!(labels[CONFIG_REPO_LABEL], "acme.config");
        assert_eq!(labels[INVENTORY_LABEL].len(), 32);
        assert!(labels.values().all(|v| valid(v)));
        assert_eq!(
            inventory.selector(),
            format!("slipway.dev/inventory={}", labels[INVENTORY_LABEL])
        );
    }

    #[test]
    fn long_or_odd_names_are_cut_and_hashed_into_valid_values() {
        let long = "x".repeat(100);
        let odd = "team/Ünïcode env!";
        for name in [long.as_str(), odd, "--", "_a_"] {
            let value = label_value(name);
            assert!(valid(&value), "{name:?} → {value:?}");
        }
        assert_ne!(
            label_value("a b"),
            label_value("a!b"),
            "kept apart by the hash"
        );
    }

    #[test]
    fn each_environment_of_each_repository_has_its_own_inventory() {
        let dev = Inventory::new("acme/config", "dev");
        assert_ne!(
            dev.selector(),
            Inventory::new("acme/config", "prod").selector()
        );
        assert_ne!(
            dev.selector(),
            Inventory::new("acme/other", "dev").selector()
        );
        assert_eq!(
            dev.selector(),
            Inventory::new("Acme/Config", "dev").selector()
        );
        assert!(dev.owns(&dev.labels()));
        assert!(!Inventory::new("acme/config", "prod").owns(&dev.labels()));
    }

    #[test]
    fn default_keeps_the_identity_objects_were_deployed_with_and_other_clusters_have_their_own() {
        // What a slipway that knew one cluster labelled `acme/config`'s `dev` with: objects
        // already in the cluster stay this environment's after the upgrade.
        let before_clusters = {
            let digest = Sha256::new()
                .chain_update(b"acme/config")
                .chain_update([0u8])
                .chain_update(b"dev")
                .finalize();
            hex::encode(&digest[..16])
        };
        let dev = Inventory::new("acme/config", "dev");
        assert_eq!(dev.labels()[INVENTORY_LABEL], before_clusters);
        assert!(!dev.labels().contains_key(CLUSTER_LABEL));
        assert_eq!(dev, Inventory::in_cluster("acme/config", "dev", "default"));

        let on_prod = Inventory::in_cluster("acme/config", "dev", "prod");
        let on_staging = Inventory::in_cluster("acme/config", "dev", "staging");
        assert_eq!(on_prod.labels()[CLUSTER_LABEL], "prod");
        for (a, b) in [
            (&dev, &on_prod),
            (&on_prod, &on_staging),
            (&dev, &on_staging),
        ] {
            assert_ne!(a.selector(), b.selector());
            assert!(!a.owns(&b.labels()) && !b.owns(&a.labels()));
        }
    }
}

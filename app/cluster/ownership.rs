//! Whose an object in the cluster is: slipway touches only what it applied for the environment
//! it deploys. Pure: a live object and an inventory in, an owner out.
//!
//! An object is this environment's when it carries the environment's inventory label. A deploy
//! that finds any other object under a name it renders — another environment's (of this or
//! another config repo), or one slipway never labelled (made by hand, by Helm, by another tool)
//! — is refused before anything is applied, unless the environment lists the object in
//! `adopt` and it carries no inventory label at all. Prune deletes an object only when, on top
//! of the label, the label was applied by slipway (its field manager owns it): a label copied
//! onto an object by anyone else (a pod template, `kubectl label`) deletes nothing.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::inventory::{
    Inventory, CLUSTER_LABEL, CONFIG_REPO_LABEL, ENVIRONMENT_LABEL, INVENTORY_LABEL,
};

/// Who an object in the cluster belongs to, as far as slipway can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The environment being deployed.
    This,
    /// Another slipway environment: its inventory label differs. The names come from the
    /// labels written for people.
    Environment {
        environment: Option<String>,
        config_repo: Option<String>,
        /// The cluster name it was deployed under, when not `default`.
        cluster: Option<String>,
    },
    /// No slipway inventory label: made by someone else, written by these field managers.
    Unlabelled { managers: Vec<String> },
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::This => write!(f, "this environment"),
            Owner::Environment {
                environment,
                config_repo,
                cluster,
            } => {
                let env = environment.as_deref().unwrap_or("(unnamed)");
                match config_repo {
                    Some(repo) => write!(
                        f,
                        "environment `{env}` of the config repo `{}`",
                        repo.replacen('.', "/", 1)
                    )?,
                    None => write!(f, "environment `{env}` of another config repo")?,
                }
                match cluster {
                    Some(cluster) => write!(f, " deployed as cluster `{cluster}`"),
                    None => Ok(()),
                }
            }
            Owner::Unlabelled { managers } if managers.is_empty() => {
                write!(f, "no slipway environment (it carries no slipway labels)")
            }
            Owner::Unlabelled { managers } => write!(
                f,
                "no slipway environment (it carries no slipway labels; written by {})",
                managers.join(", ")
            ),
        }
    }
}

fn labels(object: &Value) -> BTreeMap<String, String> {
    serde_json::from_value(object["metadata"]["labels"].clone()).unwrap_or_default()
}

/// The field managers that wrote `object`, each once, in the order listed.
fn managers(object: &Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for entry in object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(name) = entry["manager"].as_str() {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// Who `object` (as the API returned it) belongs to, seen from `inventory`.
pub fn owner(object: &Value, inventory: &Inventory) -> Owner {
    let labels = labels(object);
    if inventory.owns(&labels) {
        return Owner::This;
    }
    if labels.contains_key(INVENTORY_LABEL) {
        return Owner::Environment {
            environment: labels.get(ENVIRONMENT_LABEL).cloned(),
            config_repo: labels.get(CONFIG_REPO_LABEL).cloned(),
            cluster: labels.get(CLUSTER_LABEL).cloned(),
        };
    }
    Owner::Unlabelled {
        managers: managers(object),
    }
}

/// Whether `object` is one slipway applied for `inventory`: the inventory label is there, and
/// slipway's field manager (`manager`) applied it. What prune may delete.
pub fn applied_by(object: &Value, inventory: &Inventory, manager: &str) -> bool {
    if !inventory.owns(&labels(object)) {
        return false;
    }
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|entry| {
            entry["manager"] == manager
                && entry["operation"] == "Apply"
                && entry["fieldsV1"]["f:metadata"]["f:labels"]
                    .get(format!("f:{INVENTORY_LABEL}"))
                    .is_some()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dev() -> Inventory {
        Inventory::new("acme/config", "dev")
    }

    fn with_labels(labels: BTreeMap<String, String>, managed: Value) -> Value {
        json!({"metadata": {"name": "x", "labels": labels, "managedFields": managed}})
    }

    fn applied_label(manager: &str, operation: &str) -> Value {
        json!([{"manager": manager, "operation": operation, "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {
                    format!("f:{INVENTORY_LABEL}"): {}}}}}])
    }

    #[test]
    fn an_object_is_this_environments_another_environments_or_nobodys() {
        let ours = with_labels(dev().labels(), applied_label("slipway", "Apply"));
        assert_eq!(owner(&ours, &dev()), Owner::This);
        let theirs = with_labels(
            Inventory::new("other/config", "dev").labels(),
            applied_label("slipway", "Apply"),
        );
        let found = owner(&theirs, &dev());
        assert_eq!(
            found.to_string(),
            "environment `dev` of the config repo `other/config`"
        );
        let by_hand = with_labels(
            BTreeMap::new(),
            json!([{"manager": "kubectl-create", "operation": "Update"}]),
        );
        assert_eq!(
            owner(&by_hand, &dev()).to_string(),
            "no slipway environment (it carries no slipway labels; written by kubectl-create)"
        );
    }

    #[test]
    fn only_a_label_slipway_applied_makes_an_object_prunable() {
        let applied = with_labels(dev().labels(), applied_label("slipway", "Apply"));
        assert!(applied_by(&applied, &dev(), "slipway"));
        // The right label, written by someone else: a copy, not slipway's.
        let copied = with_labels(dev().labels(), applied_label("kubectl-label", "Update"));
        assert!(!applied_by(&copied, &dev(), "slipway"));
        let no_fields = with_labels(dev().labels(), json!([]));
        assert!(!applied_by(&no_fields, &dev(), "slipway"));
        let other = with_labels(
            Inventory::new("acme/config", "prod").labels(),
            applied_label("slipway", "Apply"),
        );
        assert!(!applied_by(&other, &dev(), "slipway"));
    }
}

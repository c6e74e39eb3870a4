//! Drift: what differs between the cluster and an environment's objects. Each object is
//! applied as a dry run (with force, as a deploy would) and the API's answer — the object as it
//! would be after a deploy — is set against the live object, both normalised so that a cluster
//! without drift gives equal sides.

use std::collections::BTreeMap;

use kube::api::{Patch, PatchParams};
use serde_json::Value;

use super::deployer::{bounded, labelled, Deployer, FIELD_MANAGER};
use super::error::ClusterError;
use super::inventory::Inventory;
use crate::diff::normalise::normalise;
use crate::render::{K8sObject, ObjectKey};

/// Annotations the cluster's controllers write, never part of what a config repo declares.
const SERVER_ANNOTATIONS: &[&str] = &[
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
];

/// The two sides of a drift, normalised, in the order of their identities. An object missing
/// from the cluster is only in `desired`; one that carries the inventory label but is no longer
/// rendered is only in `live` (with an empty `file` and line 0, as it comes from no file).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Drift {
    pub live: Vec<K8sObject>,
    pub desired: Vec<K8sObject>,
}

impl Drift {
    /// Whether the cluster holds exactly what is rendered.
    pub fn is_empty(&self) -> bool {
        self.live == self.desired
    }
}

/// An object as a drift compares it: no status, no server-managed metadata, no annotations
/// the controllers write, keys sorted.
pub fn normalised(mut object: Value) -> Value {
    if let Some(metadata) = object["metadata"].as_object_mut() {
        for field in [
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            metadata.remove(field);
        }
        if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
            for annotation in SERVER_ANNOTATIONS {
                annotations.remove(*annotation);
            }
            if annotations.is_empty() {
                metadata.remove("annotations");
            }
        }
    }
    normalise(&mut object);
    object
}

/// One object's sides.
type Sides = (Option<K8sObject>, Option<K8sObject>);

impl Deployer {
    /// What differs between the cluster and `objects` (see [`Drift`]). An object whose kind
    /// or namespace does not exist yet is compared as rendered (with the inventory labels).
    /// Labelled objects that are not rendered are looked for among the kinds and namespaces of
    /// `objects`; [`Deployer::drift_since`] also looks where an earlier deploy put objects.
    pub async fn drift(
        &self,
        objects: &[K8sObject],
        inventory: &Inventory,
    ) -> Result<Drift, ClusterError> {
        self.drift_since(objects, inventory, &[]).await
    }

    /// [`Deployer::drift`], looking for labelled objects that are no longer rendered also
    /// among the kinds and namespaces of `previous` (the objects of the last deploy), as
    /// [`Deployer::prune`] does: a kind no longer rendered at all is found too.
    pub async fn drift_since(
        &self,
        objects: &[K8sObject],
        inventory: &Inventory,
        previous: &[ObjectKey],
    ) -> Result<Drift, ClusterError> {
        let compared = bounded(objects.iter().collect(), |object| {
            self.sides(object, inventory)
        })
        .await;
        let mut sides: BTreeMap<ObjectKey, Sides> = BTreeMap::new();
        for result in compared {
            let (key, pair) = result?;
            sides.insert(key, pair);
        }
        let (scan, rendered) = self.scan(objects, previous).await?;
        for (key, _, object) in self.labelled(inventory, &scan).await? {
            if rendered.contains(&key) || sides.contains_key(&key) {
                continue;
            }
            let value = serde_json::to_value(&object)
                .map_err(|e| ClusterError::Unreadable(format!("{key}: {e}")))?;
            let live = K8sObject {
                value: normalised(value),
                file: String::new(),
                line: 0,
            };
            sides.insert(key, (Some(live), None));
        }
        let mut drift = Drift::default();
        for (live, desired) in sides.into_values() {
            drift.live.extend(live);
            drift.desired.extend(desired);
        }
        Ok(drift)
    }

    /// The live object and the object as a deploy would leave it.
    async fn sides(
        &self,
        object: &K8sObject,
        inventory: &Inventory,
    ) -> Result<(ObjectKey, Sides), ClusterError> {
        let from = |value: Value| K8sObject {
            value: normalised(value),
            file: object.file.clone(),
            line: object.line,
        };
        let located = match self.locate(object).await {
            Ok(located) => located,
            Err(ClusterError::KindNotServed { .. }) => {
                // Its CRD is not applied yet: the object is new, as rendered.
                let mut value = object.value.clone();
                for (label, text) in inventory.labels() {
                    value["metadata"]["labels"][label] = Value::String(text);
                }
                return Ok((object.key(), (None, Some(from(value)))));
            }
            Err(err) => return Err(err),
        };
        let key = located.key.clone();
        let fail = |err: kube::Error, doing: &str| {
            ClusterError::from_kube(
                err,
                format!("{doing} {key}"),
                key.namespace.as_deref().unwrap_or_default(),
            )
        };
        let body = labelled(object, &located, inventory);
        let live = located
            .api
            .get_opt(object.name())
            .await
            .map_err(|e| fail(e, "reading"))?;
        let params = PatchParams::apply(FIELD_MANAGER).force().dry_run();
        let desired = match located
            .api
            .patch(object.name(), &params, &Patch::Apply(&body))
            .await
        {
            Ok(answer) => serde_json::to_value(answer)
                .map_err(|e| ClusterError::Unreadable(format!("{key}: {e}")))?,
            // Its namespace does not exist yet: the object is new, as rendered.
            Err(err) if live.is_none() && ClusterError::is_not_found(&err) => body,
            Err(err) => return Err(fail(err, "dry-run applying")),
        };
        let live = match live {
            Some(live) => {
                Some(from(serde_json::to_value(live).map_err(|e| {
                    ClusterError::Unreadable(format!("{key}: {e}"))
                })?))
            }
            None => None,
        };
        Ok((key, (live, Some(from(desired)))))
    }
}

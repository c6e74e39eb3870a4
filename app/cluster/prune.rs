//! Pruning: deleting what an environment no longer renders. Only objects that carry the
//! environment's inventory label, applied by slipway's own field manager, are ever deleted, in
//! reverse dependency order.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use kube::api::{DeleteParams, DynamicObject, ListParams};
use tracing::{debug, info};

use super::deployer::{bounded, Deployer, FIELD_MANAGER};
use super::error::ClusterError;
use super::inventory::Inventory;
use super::kinds::ServedKind;
use super::order;
use super::ownership;
use crate::render::{K8sObject, ObjectKey};

/// The kinds to look through and the namespaces to look in.
#[derive(Default)]
pub(super) struct Scan {
    pub kinds: BTreeMap<(String, String), ServedKind>,
    pub namespaces: BTreeSet<String>,
}

impl Deployer {
    /// Deletes (in the background) the objects that carry `inventory`'s label and are not in
    /// `keep`: every kind present in `keep` or `previous` (the objects of the last successful
    /// deploy) is listed with the inventory's selector in each namespace they use
    /// (cluster-wide for cluster-scoped kinds). Kinds the cluster no longer serves are
    /// skipped. Returns what was deleted, in the order deleted.
    pub async fn prune(
        &self,
        inventory: &Inventory,
        keep: &[K8sObject],
        previous: &[ObjectKey],
    ) -> Result<Vec<ObjectKey>, ClusterError> {
        let (scan, kept) = self.scan(keep, previous).await?;
        let mut doomed: Vec<(ObjectKey, ServedKind)> = self
            .labelled(inventory, &scan)
            .await?
            .into_iter()
            .filter(|(key, _, _)| !kept.contains(key))
            .map(|(key, served, _)| (key, served))
            .collect();
        // Dependents first: custom resources before their CRDs, workloads before namespaces.
        doomed.sort_by(|(a, _), (b, _)| {
            let tier = |k: &ObjectKey| order::tier(&k.group, &k.kind);
            tier(b).cmp(&tier(a)).then_with(|| a.cmp(b))
        });
        let mut tiers: BTreeMap<std::cmp::Reverse<usize>, Vec<(ObjectKey, ServedKind)>> =
            BTreeMap::new();
        for (key, served) in doomed {
            let tier = order::tier(&key.group, &key.kind);
            tiers
                .entry(std::cmp::Reverse(tier))
                .or_default()
                .push((key, served));
        }
        let mut deleted = Vec::new();
        for (_, members) in tiers {
            for result in bounded(members, |(key, served)| self.delete(key, served)).await {
                deleted.push(result?);
            }
        }
        info!(pruned = deleted.len(), "pruned");
        Ok(deleted)
    }

    async fn delete(&self, key: ObjectKey, served: ServedKind) -> Result<ObjectKey, ClusterError> {
        let located = self.located(served, &key.group, &key.name, key.namespace.clone());
        match located
            .api
            .delete(&key.name, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(key),
            // Gone already (collected with its namespace or owner): pruned all the same.
            Err(err) if ClusterError::is_not_found(&err) => Ok(key),
            Err(err) => Err(ClusterError::from_kube(
                err,
                format!("pruning {key}"),
                key.namespace.as_deref().unwrap_or_default(),
            )),
        }
    }

    /// The kinds and namespaces of `objects` and `previous`, and the identities of `objects`
    /// (namespaces filled in). Kinds the cluster does not serve are left out.
    pub(super) async fn scan(
        &self,
        objects: &[K8sObject],
        previous: &[ObjectKey],
    ) -> Result<(Scan, HashSet<ObjectKey>), ClusterError> {
        let mut scan = Scan::default();
        let mut keys = HashSet::new();
        let default_namespace = self.client.default_namespace().to_string();
        for object in objects {
            let kind = (object.api_group().to_string(), object.kind().to_string());
            let served = match scan.kinds.get(&kind) {
                Some(served) => Some(served.clone()),
                None => {
                    self.kinds
                        .resolve(&self.client, object.api_version(), object.kind())
                        .await?
                }
            };
            let Some(served) = served else {
                keys.insert(object.key());
                continue;
            };
            let namespace = served
                .namespaced
                .then(|| object.namespace().unwrap_or(&default_namespace).to_string());
            scan.namespaces.extend(namespace.clone());
            keys.insert(ObjectKey {
                namespace,
                ..object.key()
            });
            scan.kinds.insert(kind, served);
        }
        for key in previous {
            let kind = (key.group.clone(), key.kind.clone());
            if !scan.kinds.contains_key(&kind) {
                match self
                    .kinds
                    .resolve_group_kind(&self.client, &key.group, &key.kind)
                    .await?
                {
                    Some(served) => {
                        scan.kinds.insert(kind.clone(), served);
                    }
                    None => continue,
                }
            }
            if scan.kinds.get(&kind).is_some_and(|s| s.namespaced) {
                scan.namespaces.insert(
                    key.namespace
                        .clone()
                        .unwrap_or_else(|| default_namespace.clone()),
                );
            }
        }
        Ok((scan, keys))
    }

    /// Every object of the scanned kinds and namespaces that carries `inventory`'s label.
    pub(super) async fn labelled(
        &self,
        inventory: &Inventory,
        scan: &Scan,
    ) -> Result<Vec<(ObjectKey, ServedKind, DynamicObject)>, ClusterError> {
        let selector = ListParams::default().labels(&inventory.selector());
        let mut found = Vec::new();
        for ((group, _), served) in &scan.kinds {
            let places: Vec<Option<String>> = if served.namespaced {
                scan.namespaces.iter().cloned().map(Some).collect()
            } else {
                vec![None]
            };
            for namespace in places {
                let located = self.located(served.clone(), group, "", namespace.clone());
                let listed = located.api.list(&selector).await.map_err(|err| {
                    ClusterError::from_kube(
                        err,
                        format!(
                            "listing {} of {}",
                            served.resource.plural,
                            inventory.selector()
                        ),
                        namespace.as_deref().unwrap_or_default(),
                    )
                })?;
                for object in listed.items {
                    // The selector said so; the labels must say so too, and slipway must have
                    // applied the label itself: a copy (a pod template's labels on the pods
                    // it makes, `kubectl label`) makes nothing this environment's.
                    let value = serde_json::to_value(&object).unwrap_or_default();
                    if !ownership::applied_by(&value, inventory, FIELD_MANAGER) {
                        debug!(object = ?object.metadata.name, "carries the inventory label, but slipway did not apply it: left alone");
                        continue;
                    }
                    let key = ObjectKey {
                        group: group.clone(),
                        kind: served.resource.kind.clone(),
                        namespace: namespace.clone(),
                        name: object.metadata.name.clone().unwrap_or_default(),
                    };
                    found.push((key, served.clone(), object));
                }
            }
        }
        Ok(found)
    }
}

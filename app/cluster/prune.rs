//! Pruning: deleting what an environment no longer renders. Only objects that carry the
//! environment's inventory label, applied by slipway's own field manager, are ever deleted, in
//! reverse dependency order. A Namespace, whose deletion deletes everything in it, is kept
//! while it holds another environment's objects.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::discovery::{verbs, Scope};
use tracing::{debug, info, warn};

use super::deployer::{bounded, Deployer, FIELD_MANAGER};
use super::error::ClusterError;
use super::inventory::{Inventory, INVENTORY_LABEL};
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
        let mut doomed: Vec<(ObjectKey, ServedKind)> = Vec::new();
        for (key, served, _) in self.labelled(inventory, &scan).await? {
            if kept.contains(&key) {
                continue;
            }
            // Deleting a namespace deletes everything in it: not while another environment
            // has objects there.
            if key.group.is_empty() && key.kind == "Namespace" {
                if let Some(other) = self.other_environments_object(&key.name, inventory).await? {
                    warn!(namespace = %key.name, holds = %other, "not pruning a namespace that holds another environment's objects");
                    continue;
                }
            }
            doomed.push((key, served));
        }
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

    /// One object in `namespace` that carries another environment's inventory label, if any,
    /// looked for among every namespaced kind the cluster serves (or a kind slipway may not
    /// list there, which may hold one).
    async fn other_environments_object(
        &self,
        namespace: &str,
        inventory: &Inventory,
    ) -> Result<Option<String>, ClusterError> {
        let discovery = kube::Discovery::new(self.client.clone())
            .run()
            .await
            .map_err(|err| {
                ClusterError::from_kube(err, "reading which kinds the cluster serves", "")
            })?;
        let others = ListParams::default().labels(&format!(
            "{INVENTORY_LABEL},{}",
            inventory.selector().replacen('=', "!=", 1)
        ));
        for group in discovery.groups() {
            for (resource, caps) in group.recommended_resources() {
                if caps.scope != Scope::Namespaced || !caps.supports_operation(verbs::LIST) {
                    continue;
                }
                let api: Api<DynamicObject> =
                    Api::namespaced_with(self.client.clone(), namespace, &resource);
                let listed = match api.list(&others.clone().limit(1)).await {
                    Ok(listed) => listed,
                    Err(err) if ClusterError::is_not_found(&err) => continue,
                    // What slipway may not see, it cannot vouch for: the namespace stays.
                    Err(kube::Error::Api(status)) if status.code == 403 => {
                        return Ok(Some(format!(
                            "{} in {namespace}, which slipway may not list",
                            resource.plural
                        )))
                    }
                    Err(err) => {
                        return Err(ClusterError::from_kube(
                            err,
                            format!("listing {} in {namespace}", resource.plural),
                            namespace,
                        ))
                    }
                };
                if let Some(object) = listed.items.first() {
                    let key = ObjectKey {
                        group: resource.group.clone(),
                        kind: resource.kind.clone(),
                        namespace: Some(namespace.to_string()),
                        name: object.metadata.name.clone().unwrap_or_default(),
                    };
                    return Ok(Some(key.to_string()));
                }
            }
        }
        Ok(None)
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

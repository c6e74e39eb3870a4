//! Deploying an environment's objects: server-side apply in dependency order, as field
//! manager `slipway`, every object labelled with its environment's inventory.
//!
//! The other operations of a deploy live next to this one: `prune` (delete what an environment
//! no longer renders), `wait` (health, by watching) and `drift` (what differs from the
//! cluster, by dry-run apply).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::{json, Value};
use tracing::{debug, info, warn};

use super::apply::{conflicts_of, Action, AppliedObject, ApplyFailed, ApplyReport, ConflictTaken};
use super::error::{ClusterError, NotOwned};
use super::inventory::Inventory;
use super::kinds::{Kinds, ServedKind};
use super::order;
use super::ownership::{self, Owner};
use crate::render::{K8sObject, ObjectKey, Scope};

/// An object as read before the apply (`None`: it did not exist).
type Before = Option<DynamicObject>;

/// The field manager of everything slipway applies.
pub const FIELD_MANAGER: &str = "slipway";

/// Requests in flight at once within one tier.
const CONCURRENCY: usize = 16;

/// How long an applied CustomResourceDefinition may take to be established before the custom
/// resources after it are applied anyway (and refused, if it is not).
const CRD_ESTABLISHED_WAIT: Duration = Duration::from_secs(30);

/// Applies, prunes, watches and compares an environment's objects in one cluster.
#[derive(Clone)]
pub struct Deployer {
    pub(super) client: kube::Client,
    pub(super) kinds: Kinds,
}

/// An object's place in the cluster: its identity (namespace filled in for namespaced kinds)
/// and the API to reach it.
pub(super) struct Located {
    pub key: ObjectKey,
    pub api: Api<DynamicObject>,
}

impl Deployer {
    pub fn new(client: kube::Client) -> Self {
        Deployer {
            client,
            kinds: Kinds::default(),
        }
    }

    /// Server-side apply of every object (with `inventory`'s labels), in dependency order:
    /// Namespaces and CRDs, then Helm's install order, then custom resources; discovery is
    /// read again after CRDs. Each object is reported created, configured or unchanged (its
    /// `resourceVersion` did not move). A field another manager owns is taken (force) after a
    /// first apply without force named the conflicts, which are reported. The first object the
    /// API refuses (a kind not served, RBAC, an invalid object) stops the apply.
    ///
    /// Before anything is applied, every object that already exists is read: one that is not
    /// this environment's (see `ownership`) stops the apply with [`ClusterError::NotOwned`],
    /// naming every such object and its owner. [`Deployer::apply_adopting`] lets an
    /// environment take over unlabelled objects it lists.
    pub async fn apply(
        &self,
        objects: &[K8sObject],
        inventory: &Inventory,
    ) -> Result<ApplyReport, ApplyFailed> {
        self.apply_adopting(objects, inventory, &|_, _| false).await
    }

    /// [`Deployer::apply`], taking over the existing objects without any slipway inventory
    /// label for which `may_adopt(kind, name)` says yes. Another environment's objects are
    /// never taken.
    pub async fn apply_adopting(
        &self,
        objects: &[K8sObject],
        inventory: &Inventory,
        may_adopt: &(dyn Fn(&str, &str) -> bool + Sync),
    ) -> Result<ApplyReport, ApplyFailed> {
        let mut read = self.owners(objects, inventory, may_adopt).await?;
        let mut done = ApplyReport::default();
        for (tier, members) in tiers(objects) {
            let members: Vec<(&K8sObject, Option<Before>)> = members
                .into_iter()
                .map(|object| {
                    let before = read.remove(&object.key());
                    (object, before)
                })
                .collect();
            let crds: Vec<&K8sObject> = members
                .iter()
                .map(|(object, _)| *object)
                .filter(|o| order::defines_kinds(o.api_group(), o.kind()))
                .collect();
            let results = bounded(members, |(object, before)| {
                self.apply_one(object, inventory, before)
            })
            .await;
            let mut failure = None;
            for result in results {
                match result {
                    Ok((applied, conflicts)) => {
                        done.objects.push(applied);
                        done.conflicts.extend(conflicts);
                    }
                    Err(failed) if failure.is_none() => failure = Some(failed),
                    Err(_) => {}
                }
            }
            if let Some((object, error)) = failure {
                return Err(ApplyFailed {
                    object: Some(object),
                    error,
                    done,
                });
            }
            if tier == order::FIRST && !crds.is_empty() {
                self.await_established(&crds).await;
                self.kinds.forget();
            }
        }
        info!(
            objects = done.objects.len(),
            conflicts = done.conflicts.len(),
            "applied"
        );
        Ok(done)
    }

    /// Reads every object of `objects` that can exist already (its kind is served) and checks
    /// it may be applied: absent, this environment's, or unlabelled and adoptable. The objects
    /// read, by their rendered identity, so the apply need not read them again; or the
    /// refusal naming every object that is someone else's.
    async fn owners(
        &self,
        objects: &[K8sObject],
        inventory: &Inventory,
        may_adopt: &(dyn Fn(&str, &str) -> bool + Sync),
    ) -> Result<HashMap<ObjectKey, Before>, ApplyFailed> {
        let results = bounded(objects.iter().collect(), |object: &K8sObject| async move {
            let located = match self.locate(object).await {
                Ok(located) => located,
                // Its CRD comes with this deploy: none of its objects can exist yet.
                Err(ClusterError::KindNotServed { .. }) => return Ok(None),
                Err(error) => return Err((object.key(), error)),
            };
            let live = located.api.get_opt(object.name()).await.map_err(|err| {
                let key = located.key.clone();
                let namespace = key.namespace.clone().unwrap_or_default();
                (
                    key.clone(),
                    ClusterError::from_kube(err, format!("reading {key}"), &namespace),
                )
            })?;
            Ok(Some((object.key(), located.key, live)))
        })
        .await;
        let mut read = HashMap::new();
        let mut foreign = Vec::new();
        for result in results {
            let Some((rendered, key, live)) = result.map_err(|(object, error)| ApplyFailed {
                object: Some(object),
                error,
                done: ApplyReport::default(),
            })?
            else {
                continue;
            };
            if let Some(live) = &live {
                let value = serde_json::to_value(live).unwrap_or_default();
                match ownership::owner(&value, inventory) {
                    Owner::This => {}
                    Owner::Unlabelled { .. } if may_adopt(&key.kind, &key.name) => {
                        info!(object = %key, "adopting an object slipway did not make, as the environment allows");
                    }
                    owner => foreign.push(NotOwned {
                        object: key.clone(),
                        owner: owner.to_string(),
                    }),
                }
            }
            read.insert(rendered, live);
        }
        if let Some(first) = foreign.first() {
            warn!(objects = foreign.len(), "refused: objects of another owner");
            return Err(ApplyFailed {
                object: Some(first.object.clone()),
                error: ClusterError::NotOwned { objects: foreign },
                done: ApplyReport::default(),
            });
        }
        Ok(read)
    }

    /// Applies one object: read its `resourceVersion` (unless `before` says it already), apply,
    /// and on a conflict apply again with force.
    async fn apply_one(
        &self,
        object: &K8sObject,
        inventory: &Inventory,
        before: Option<Before>,
    ) -> Result<(AppliedObject, Vec<ConflictTaken>), (ObjectKey, ClusterError)> {
        let located = self
            .locate(object)
            .await
            .map_err(|error| (object.key(), error))?;
        let key = located.key.clone();
        let fail = |err: kube::Error, doing: &str| {
            (
                key.clone(),
                ClusterError::from_kube(
                    err,
                    format!("{doing} {key}"),
                    key.namespace.as_deref().unwrap_or_default(),
                ),
            )
        };
        let body = labelled(object, &located, inventory);
        let name = object.name();
        let before = match before {
            Some(before) => before,
            None => located
                .api
                .get_opt(name)
                .await
                .map_err(|e| fail(e, "reading"))?,
        };
        let params = PatchParams::apply(FIELD_MANAGER);
        let mut conflicts = Vec::new();
        let applied = match located.api.patch(name, &params, &Patch::Apply(&body)).await {
            Ok(applied) => applied,
            Err(kube::Error::Api(status)) if is_apply_conflict(&status) => {
                conflicts = conflicts_of(&key, &status);
                debug!(object = %key, conflicts = ?conflicts, "taking fields over from other managers");
                located
                    .api
                    .patch(name, &params.clone().force(), &Patch::Apply(&body))
                    .await
                    .map_err(|e| fail(e, "applying (force)"))?
            }
            Err(err) => return Err(fail(err, "applying")),
        };
        let action = match before {
            None => Action::Created,
            Some(before)
                if before.metadata.resource_version == applied.metadata.resource_version =>
            {
                Action::Unchanged
            }
            Some(_) => Action::Configured,
        };
        Ok((
            AppliedObject {
                object: key,
                action,
            },
            conflicts,
        ))
    }

    /// Whether the API server answers and accepts slipway's credentials: its `/version`, for
    /// `/readyz` and before a deploy touches anything.
    pub async fn check_reachable(&self) -> Result<(), ClusterError> {
        self.client
            .apiserver_version()
            .await
            .map(|_| ())
            .map_err(|err| ClusterError::from_kube(err, "reading the API server's version", ""))
    }

    /// The scope of each kind of `objects` the cluster serves, by (group, kind), as discovery
    /// reports it; kinds it does not serve (yet) are left out.
    pub async fn scopes(
        &self,
        objects: &[K8sObject],
    ) -> Result<HashMap<(String, String), Scope>, ClusterError> {
        let mut scopes = HashMap::new();
        let mut asked = std::collections::HashSet::new();
        for object in objects {
            if !asked.insert((object.api_version(), object.kind())) {
                continue;
            }
            let served = self
                .kinds
                .resolve(&self.client, object.api_version(), object.kind())
                .await?;
            if let Some(served) = served {
                let scope = if served.namespaced {
                    Scope::Namespaced
                } else {
                    Scope::Cluster
                };
                scopes.insert(
                    (object.api_group().to_string(), object.kind().to_string()),
                    scope,
                );
            }
        }
        Ok(scopes)
    }

    /// Where an object goes: its kind as the cluster serves it, its namespace (the client's
    /// default for a namespaced object that names none; none for a cluster-scoped one).
    pub(super) async fn locate(&self, object: &K8sObject) -> Result<Located, ClusterError> {
        let served = self
            .kinds
            .resolve(&self.client, object.api_version(), object.kind())
            .await?
            .ok_or_else(|| ClusterError::KindNotServed {
                api_version: object.api_version().to_string(),
                kind: object.kind().to_string(),
            })?;
        let namespace = served.namespaced.then(|| {
            object
                .namespace()
                .unwrap_or(self.client.default_namespace())
                .to_string()
        });
        Ok(self.located(served, object.api_group(), object.name(), namespace))
    }

    pub(super) fn located(
        &self,
        served: ServedKind,
        group: &str,
        name: &str,
        namespace: Option<String>,
    ) -> Located {
        let api = match &namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &served.resource),
            None => Api::all_with(self.client.clone(), &served.resource),
        };
        let key = ObjectKey {
            group: group.to_string(),
            kind: served.resource.kind.clone(),
            namespace,
            name: name.to_string(),
        };
        Located { key, api }
    }

    /// Waits (by watching) until the applied CRDs are established, as the apiextensions
    /// controller says; the custom resources after them would be refused before.
    async fn await_established(&self, crds: &[&K8sObject]) {
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        for crd in crds {
            let name = crd.name();
            let established = await_condition(api.clone(), name, conditions::is_crd_established());
            match tokio::time::timeout(CRD_ESTABLISHED_WAIT, established).await {
                Ok(Ok(_)) => debug!(crd = name, "established"),
                Ok(Err(err)) => warn!(crd = name, error = %err, "could not watch the CRD"),
                Err(_) => warn!(crd = name, "not established in time; applying on"),
            }
        }
    }
}

/// The object as applied: its namespace set (or removed, for a cluster-scoped kind) and the
/// inventory's labels added.
pub(super) fn labelled(object: &K8sObject, located: &Located, inventory: &Inventory) -> Value {
    let mut body = object.value.clone();
    if !body["metadata"].is_object() {
        body["metadata"] = json!({});
    }
    let metadata = &mut body["metadata"];
    match &located.key.namespace {
        Some(ns) => metadata["namespace"] = json!(ns),
        None => {
            if let Some(meta) = metadata.as_object_mut() {
                meta.remove("namespace");
            }
        }
    }
    if !metadata["labels"].is_object() {
        metadata["labels"] = json!({});
    }
    for (label, value) in inventory.labels() {
        metadata["labels"][label] = json!(value);
    }
    body
}

fn is_apply_conflict(status: &kube::core::Status) -> bool {
    status.code == 409
        && status.reason == "Conflict"
        && status
            .details
            .as_ref()
            .is_some_and(|d| d.causes.iter().any(|c| c.reason == "FieldManagerConflict"))
}

/// The objects by tier, lowest first, each tier in the order given.
fn tiers(objects: &[K8sObject]) -> BTreeMap<usize, Vec<&K8sObject>> {
    let mut tiers: BTreeMap<usize, Vec<&K8sObject>> = BTreeMap::new();
    for object in objects {
        tiers
            .entry(order::tier(object.api_group(), object.kind()))
            .or_default()
            .push(object);
    }
    tiers
}

/// Runs `work` on every item, at most [`CONCURRENCY`] at a time, and gives the results in the
/// order of the items. Once one fails no other starts (those running finish), so what is
/// reported done was done, and nothing more.
pub(super) async fn bounded<T, R, E, F, Fut>(items: Vec<T>, work: F) -> Vec<Result<R, E>>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<R, E>>,
{
    let stop = AtomicBool::new(false);
    let (stop, work) = (&stop, &work);
    let mut results: Vec<(usize, Result<R, E>)> =
        futures::stream::iter(items.into_iter().enumerate())
            .map(|(index, item)| async move {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
                let result = work(item).await;
                if result.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                Some((index, result))
            })
            .buffer_unordered(CONCURRENCY)
            .filter_map(|done| async move { done })
            .collect()
            .await;
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

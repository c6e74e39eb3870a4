//! Waiting for a deploy's objects to become healthy: the workloads are watched (no polling)
//! and judged again on every event, until all are healthy, one failed, or time is up.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::api::{Api, DynamicObject};
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::Value;
use tracing::{debug, warn};

use super::deployer::{bounded, Deployer};
use super::error::ClusterError;
use super::health::{assess, is_workload, report, Health, HealthReport};
use super::kinds::ServedKind;
use crate::render::ObjectKey;

/// What one watch saw: an object now (or gone).
type Seen = Result<(ObjectKey, Option<Value>), watcher::Error>;

/// Workloads to watch, by (group, kind, namespace): the kind as served and the names.
type Watched = BTreeMap<(String, String, Option<String>), (ServedKind, Vec<String>)>;

impl Deployer {
    /// The health of `objects`: Deployments, StatefulSets, DaemonSets and Jobs by what their
    /// controllers wrote (see `health`), anything else by existing. Waits up to `max_wait`,
    /// watching the workloads' kinds in their namespaces and judging again on every event;
    /// returns as soon as everything is healthy or something failed, and otherwise the
    /// report as it stands when `max_wait` is up.
    pub async fn wait_healthy(
        &self,
        objects: &[ObjectKey],
        max_wait: Duration,
    ) -> Result<HealthReport, ClusterError> {
        let deadline = tokio::time::Instant::now() + max_wait;
        let mut verdicts: BTreeMap<ObjectKey, Health> = BTreeMap::new();
        let mut watched = Watched::new();
        let mut others = Vec::new();
        let mut resolved: HashMap<(String, String), Option<ServedKind>> = HashMap::new();
        for key in objects {
            let kind = (key.group.clone(), key.kind.clone());
            if !resolved.contains_key(&kind) {
                let served = self
                    .kinds
                    .resolve_group_kind(&self.client, &key.group, &key.kind)
                    .await?;
                resolved.insert(kind.clone(), served);
            }
            let Some(served) = resolved[&kind].clone() else {
                verdicts.insert(
                    key.clone(),
                    Health::Pending("its kind is not served by the cluster".into()),
                );
                continue;
            };
            let namespace = served.namespaced.then(|| {
                key.namespace
                    .clone()
                    .unwrap_or_else(|| self.client.default_namespace().to_string())
            });
            let key = ObjectKey {
                namespace: namespace.clone(),
                ..key.clone()
            };
            verdicts.insert(key.clone(), assess(&key, None));
            if is_workload(&key.group, &key.kind) {
                watched
                    .entry((key.group.clone(), key.kind.clone(), namespace))
                    .or_insert_with(|| (served, Vec::new()))
                    .1
                    .push(key.name.clone());
            } else {
                others.push((key, served));
            }
        }
        for (key, health) in self.check_existence(others.iter().collect()).await? {
            verdicts.insert(key, health);
        }

        let mut events = futures::stream::select_all(watched.into_iter().map(
            |((group, _, namespace), (served, names))| self.watch(group, namespace, served, names),
        ));
        loop {
            let now = report(verdicts.iter().map(|(k, h)| (k, h.clone())));
            if now.is_healthy() || !now.failed.is_empty() {
                return Ok(now);
            }
            let seen = tokio::select! {
                seen = events.next() => seen,
                _ = tokio::time::sleep_until(deadline) => break,
            };
            match seen {
                Some(Ok((key, object))) => {
                    if let Some(verdict) = verdicts.get_mut(&key) {
                        *verdict = assess(&key, object.as_ref());
                        debug!(object = %key, health = ?verdict, "workload changed");
                    }
                }
                Some(Err(err)) => {
                    if let Some(forbidden) = forbidden(err) {
                        return Err(forbidden);
                    }
                }
                // No workload to watch: what exists now is the answer, until time is up.
                None => {
                    tokio::time::sleep_until(deadline).await;
                    break;
                }
            }
        }
        // Objects that were missing may have come since.
        let missing = others
            .iter()
            .filter(|(key, _)| matches!(verdicts.get(key), Some(Health::Pending(_))))
            .collect();
        for (key, health) in self.check_existence(missing).await? {
            verdicts.insert(key, health);
        }
        Ok(report(verdicts.iter().map(|(k, h)| (k, h.clone()))))
    }

    /// The verdicts on objects that only need to exist, read a few at a time.
    async fn check_existence(
        &self,
        objects: Vec<&(ObjectKey, ServedKind)>,
    ) -> Result<Vec<(ObjectKey, Health)>, ClusterError> {
        bounded(objects, |(key, served)| async move {
            Ok((key.clone(), self.exists(key, served).await?))
        })
        .await
        .into_iter()
        .collect()
    }

    async fn exists(&self, key: &ObjectKey, served: &ServedKind) -> Result<Health, ClusterError> {
        let located = self.located(served.clone(), &key.group, &key.name, key.namespace.clone());
        let found = located.api.get_opt(&key.name).await.map_err(|err| {
            ClusterError::from_kube(
                err,
                format!("reading {key}"),
                key.namespace.as_deref().unwrap_or_default(),
            )
        })?;
        let value = found.and_then(|o| serde_json::to_value(o).ok());
        Ok(assess(key, value.as_ref()))
    }

    /// The changes to the named objects of one kind in one namespace (one object: a watch of
    /// it alone).
    fn watch(
        &self,
        group: String,
        namespace: Option<String>,
        served: ServedKind,
        names: Vec<String>,
    ) -> Pin<Box<dyn Stream<Item = Seen> + Send>> {
        let api: Api<DynamicObject> = match &namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &served.resource),
            None => Api::all_with(self.client.clone(), &served.resource),
        };
        let config = match names.as_slice() {
            [only] => watcher::Config::default().fields(&format!("metadata.name={only}")),
            _ => watcher::Config::default(),
        };
        let kind = served.resource.kind.clone();
        let stream = watcher(api, config)
            .default_backoff()
            .filter_map(move |event| {
                let key_of = |object: &DynamicObject| ObjectKey {
                    group: group.clone(),
                    kind: kind.clone(),
                    namespace: namespace.clone(),
                    name: object.metadata.name.clone().unwrap_or_default(),
                };
                let seen = match event {
                    Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                        Some(Ok((key_of(&object), serde_json::to_value(&object).ok())))
                    }
                    Ok(watcher::Event::Delete(object)) => Some(Ok((key_of(&object), None))),
                    Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
                    Err(err) => Some(Err(err)),
                };
                async move { seen }
            });
        Box::pin(stream)
    }
}

/// A refusal by RBAC ends the wait (no retry can pass it); anything else the watch retries.
fn forbidden(err: watcher::Error) -> Option<ClusterError> {
    let refused = |err: kube::Error| {
        matches!(&err, kube::Error::Api(status) if status.code == 403)
            .then(|| ClusterError::from_kube(err, "watching workloads for their health", ""))
    };
    match err {
        watcher::Error::InitialListFailed(err)
        | watcher::Error::WatchStartFailed(err)
        | watcher::Error::WatchFailed(err) => refused(err),
        other => {
            warn!(error = %other, "the watch of workloads failed; it starts again");
            None
        }
    }
}

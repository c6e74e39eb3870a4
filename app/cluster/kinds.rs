//! Which kinds the cluster serves, from discovery, read once per API version and kept until
//! told to forget (after CustomResourceDefinitions were applied).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::core::GroupVersion;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};

use super::error::ClusterError;

/// A kind the cluster serves: how to reach it, and whether its objects live in namespaces.
#[derive(Debug, Clone)]
pub struct ServedKind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

type Resources = Arc<Vec<(ApiResource, ApiCapabilities)>>;

fn served(resources: &Resources, kind: &str) -> Option<ServedKind> {
    resources
        .iter()
        .find(|(ar, _)| ar.kind == kind && !ar.plural.contains('/'))
        .map(|(ar, caps)| ServedKind {
            resource: ar.clone(),
            namespaced: caps.scope == Scope::Namespaced,
        })
}

/// Discovery, cached per API version. Cloning shares the cache.
#[derive(Clone, Default)]
pub struct Kinds {
    by_version: Arc<Mutex<HashMap<String, Resources>>>,
}

impl Kinds {
    /// The kind `kind` of `api_version`, or `None` when the cluster does not serve it.
    pub async fn resolve(
        &self,
        client: &kube::Client,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<ServedKind>, ClusterError> {
        let resources = self.resources(client, api_version).await?;
        Ok(served(&resources, kind))
    }

    /// The kind `kind` of API group `group` at the version the cluster recommends (for objects
    /// known by identity only), or `None` when the cluster does not serve it.
    pub async fn resolve_group_kind(
        &self,
        client: &kube::Client,
        group: &str,
        kind: &str,
    ) -> Result<Option<ServedKind>, ClusterError> {
        let known = self.lock().iter().find_map(|(api_version, resources)| {
            let in_group = api_version.rsplit_once('/').map_or("", |(g, _)| g) == group;
            in_group.then(|| served(resources, kind)).flatten()
        });
        if known.is_some() {
            return Ok(known);
        }
        match kube::discovery::group(client, group).await {
            Ok(found) => Ok(found.recommended_kind(kind).map(|(ar, caps)| ServedKind {
                resource: ar,
                namespaced: caps.scope == Scope::Namespaced,
            })),
            Err(kube::Error::Discovery(_)) => Ok(None),
            Err(err) if ClusterError::is_not_found(&err) => Ok(None),
            Err(err) => Err(ClusterError::from_kube(
                err,
                format!("reading which kinds the API group {group:?} serves"),
                "",
            )),
        }
    }

    /// Forgets what discovery said, so kinds defined since are found.
    pub fn forget(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Resources>> {
        self.by_version
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn resources(
        &self,
        client: &kube::Client,
        api_version: &str,
    ) -> Result<Resources, ClusterError> {
        if let Some(known) = self.lock().get(api_version) {
            return Ok(known.clone());
        }
        let Ok(gv) = api_version.parse::<GroupVersion>() else {
            return Ok(Resources::default());
        };
        let resources: Resources = match kube::discovery::pinned_group(client, &gv).await {
            Ok(group) => Arc::new(group.versioned_resources(&gv.version)),
            // The API version is not served at all.
            Err(err) if ClusterError::is_not_found(&err) => Resources::default(),
            Err(err) => {
                return Err(ClusterError::from_kube(
                    err,
                    format!("reading which kinds {api_version} serves"),
                    "",
                ))
            }
        };
        self.lock()
            .insert(api_version.to_string(), resources.clone());
        Ok(resources)
    }
}

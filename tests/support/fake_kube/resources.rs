//! The resource types the fake serves: what discovery lists and what the object store accepts.
//! Built-in types are a static table; a CustomResourceDefinition adds its own while it exists.

use std::sync::Mutex;

use serde_json::Value;

/// One served resource type, as discovery describes it.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// `""` for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    /// Whether `…/status` is a subresource: then writes to the object itself keep the stored
    /// status and writes to `…/status` change nothing else, as the apiserver does.
    pub has_status: bool,
    pub short_names: &'static [&'static str],
}

impl ResourceType {
    /// `v1` or `batch/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` or `jobs.batch`, as the apiserver names a resource in its messages.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Pod` or `Job.batch`, as validation messages name a kind.
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// The subresources discovery lists for this type.
    pub fn subresources(&self) -> Vec<&'static str> {
        let mut subresources = Vec::new();
        if self.has_status {
            subresources.push("status");
        }
        if self.plural == "pods" {
            subresources.push("log");
        }
        subresources
    }

    /// What the garbage collector does with dependents when a delete names no policy: Jobs
    /// orphan their Pods (and anything else they own) unless asked otherwise, as in Kubernetes.
    pub fn default_propagation(&self) -> Propagation {
        if self.plural == "jobs" {
            Propagation::Orphan
        } else {
            Propagation::Background
        }
    }
}

/// A delete's `propagationPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

impl Propagation {
    pub fn parse(value: &str) -> Option<Propagation> {
        match value {
            "Orphan" => Some(Propagation::Orphan),
            "Background" => Some(Propagation::Background),
            "Foreground" => Some(Propagation::Foreground),
            _ => None,
        }
    }
}

pub const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

pub static RESOURCES: &[ResourceType] = &[
    ResourceType {
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        has_status: true,
        short_names: &["ns"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        has_status: true,
        short_names: &["po"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "secrets",
        singular: "secret",
        kind: "Secret",
        namespaced: true,
        has_status: false,
        short_names: &[],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        namespaced: true,
        has_status: false,
        short_names: &["cm"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "services",
        singular: "service",
        kind: "Service",
        namespaced: true,
        has_status: true,
        short_names: &["svc"],
    },
    ResourceType {
        group: "batch",
        version: "v1",
        plural: "jobs",
        singular: "job",
        kind: "Job",
        namespaced: true,
        has_status: true,
        short_names: &[],
    },
    ResourceType {
        group: "apps",
        version: "v1",
        plural: "deployments",
        singular: "deployment",
        kind: "Deployment",
        namespaced: true,
        has_status: true,
        short_names: &["deploy"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        kind: "ServiceAccount",
        namespaced: true,
        has_status: false,
        short_names: &["sa"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "persistentvolumeclaims",
        singular: "persistentvolumeclaim",
        kind: "PersistentVolumeClaim",
        namespaced: true,
        has_status: true,
        short_names: &["pvc"],
    },
    ResourceType {
        group: "apps",
        version: "v1",
        plural: "statefulsets",
        singular: "statefulset",
        kind: "StatefulSet",
        namespaced: true,
        has_status: true,
        short_names: &["sts"],
    },
    ResourceType {
        group: "apps",
        version: "v1",
        plural: "daemonsets",
        singular: "daemonset",
        kind: "DaemonSet",
        namespaced: true,
        has_status: true,
        short_names: &["ds"],
    },
    ResourceType {
        group: "batch",
        version: "v1",
        plural: "cronjobs",
        singular: "cronjob",
        kind: "CronJob",
        namespaced: true,
        has_status: true,
        short_names: &["cj"],
    },
    ResourceType {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "roles",
        singular: "role",
        kind: "Role",
        namespaced: true,
        has_status: false,
        short_names: &[],
    },
    ResourceType {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "rolebindings",
        singular: "rolebinding",
        kind: "RoleBinding",
        namespaced: true,
        has_status: false,
        short_names: &[],
    },
    ResourceType {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterroles",
        singular: "clusterrole",
        kind: "ClusterRole",
        namespaced: false,
        has_status: false,
        short_names: &[],
    },
    ResourceType {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        kind: "ClusterRoleBinding",
        namespaced: false,
        has_status: false,
        short_names: &[],
    },
    ResourceType {
        group: "networking.k8s.io",
        version: "v1",
        plural: "ingresses",
        singular: "ingress",
        kind: "Ingress",
        namespaced: true,
        has_status: true,
        short_names: &["ing"],
    },
    ResourceType {
        group: "apiextensions.k8s.io",
        version: "v1",
        plural: "customresourcedefinitions",
        singular: "customresourcedefinition",
        kind: "CustomResourceDefinition",
        namespaced: false,
        has_status: true,
        short_names: &["crd", "crds"],
    },
];

pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|rt| rt.group == group && rt.version == version && rt.plural == plural)
}

/// The resource type of a kind, as `ownerReferences` name it.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|rt| rt.api_version() == api_version && rt.kind == kind)
}

/// The groups discovery lists under `/apis`, in order, among `types`.
pub fn groups(types: &[&'static ResourceType]) -> Vec<(&'static str, &'static str)> {
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for rt in types.iter().filter(|rt| !rt.group.is_empty()) {
        if !groups.contains(&(rt.group, rt.version)) {
            groups.push((rt.group, rt.version));
        }
    }
    groups
}

/// The resource types a CustomResourceDefinition makes the server serve: one per served
/// version, with a `status` subresource when the version declares one.
pub fn from_crd(crd: &Value) -> Vec<&'static ResourceType> {
    let spec = &crd["spec"];
    let (Some(group), Some(plural), Some(kind)) = (
        spec["group"].as_str(),
        spec["names"]["plural"].as_str(),
        spec["names"]["kind"].as_str(),
    ) else {
        return Vec::new();
    };
    let singular = spec["names"]["singular"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let short_names: Vec<String> = spec["names"]["shortNames"]
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .filter_map(|v| {
            let version = v["name"].as_str()?;
            Some(leak(ResourceType {
                group: intern(group),
                version: intern(version),
                plural: intern(plural),
                singular: intern(&singular),
                kind: intern(kind),
                namespaced,
                has_status: v["subresources"]["status"].is_object(),
                short_names: Box::leak(
                    short_names
                        .iter()
                        .map(|n| intern(n))
                        .collect::<Vec<_>>()
                        .into_boxed_slice(),
                ),
            }))
        })
        .collect()
}

/// Types made from CRDs live as long as the test process: each distinct one is made once.
fn leak(rt: ResourceType) -> &'static ResourceType {
    static MADE: Mutex<Vec<&'static ResourceType>> = Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(known) = made.iter().find(|known| ***known == rt) {
        return known;
    }
    let leaked: &'static ResourceType = Box::leak(Box::new(rt));
    made.push(leaked);
    leaked
}

fn intern(text: &str) -> &'static str {
    static STRINGS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut strings = STRINGS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(known) = strings.iter().find(|known| **known == text) {
        return known;
    }
    let leaked: &'static str = Box::leak(text.to_string().into_boxed_str());
    strings.push(leaked);
    leaked
}

/// Whether the workload controllers roll this type out (Deployments, StatefulSets, DaemonSets).
pub fn is_rolled_out(rt: &ResourceType) -> bool {
    rt.group == "apps" && matches!(rt.plural, "deployments" | "statefulsets" | "daemonsets")
}

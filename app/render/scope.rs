//! Which kinds are cluster-scoped, so that a default namespace is applied only where it belongs
//! and the policy judges each object by where it really lands. Without a cluster, a kind's
//! scope is known only for Kubernetes' own kinds and for kinds a rendered
//! CustomResourceDefinition declares; any other kind's scope is [`Scope::Unknown`].

use std::collections::BTreeSet;

use super::K8sObject;

/// Well-known cluster-scoped kinds as (API group, kind); `""` is the core group.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("scheduling.k8s.io", "PriorityClass"),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicyBinding",
    ),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("node.k8s.io", "RuntimeClass"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("policy", "PodSecurityPolicy"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("resource.k8s.io", "DeviceClass"),
    ("resource.k8s.io", "ResourceSlice"),
    ("cert-manager.io", "ClusterIssuer"),
];

/// Kubernetes' own namespaced kinds, as (API group, kind).
const NAMESPACED: &[(&str, &str)] = &[
    ("", "Binding"),
    ("", "ConfigMap"),
    ("", "Endpoints"),
    ("", "Event"),
    ("", "LimitRange"),
    ("", "PersistentVolumeClaim"),
    ("", "Pod"),
    ("", "PodTemplate"),
    ("", "ReplicationController"),
    ("", "ResourceQuota"),
    ("", "Secret"),
    ("", "Service"),
    ("", "ServiceAccount"),
    ("apps", "ControllerRevision"),
    ("apps", "DaemonSet"),
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("batch", "CronJob"),
    ("batch", "Job"),
    ("coordination.k8s.io", "Lease"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("events.k8s.io", "Event"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("policy", "PodDisruptionBudget"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("resource.k8s.io", "ResourceClaim"),
    ("resource.k8s.io", "ResourceClaimTemplate"),
    ("storage.k8s.io", "CSIStorageCapacity"),
];

/// Where objects of a kind live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
    /// Not one of Kubernetes' own kinds, and no rendered CustomResourceDefinition declares
    /// it: only the cluster can tell.
    Unknown,
}

/// Kinds' scopes as a render alone knows them: Kubernetes' own kinds, plus those a
/// CustomResourceDefinition among the rendered objects declares.
pub struct Scopes {
    from_crds: BTreeSet<(String, String)>,
    namespaced_crds: BTreeSet<(String, String)>,
}

impl Scopes {
    pub fn new(objects: &[K8sObject]) -> Self {
        let declared = |scope: &str| -> BTreeSet<(String, String)> {
            objects
                .iter()
                .filter(|o| {
                    o.api_group() == "apiextensions.k8s.io"
                        && o.kind() == "CustomResourceDefinition"
                })
                .filter(|o| o.value.pointer("/spec/scope").and_then(|s| s.as_str()) == Some(scope))
                .filter_map(|o| {
                    let group = o.value.pointer("/spec/group")?.as_str()?;
                    let kind = o.value.pointer("/spec/names/kind")?.as_str()?;
                    Some((group.to_string(), kind.to_string()))
                })
                .collect()
        };
        Scopes {
            from_crds: declared("Cluster"),
            namespaced_crds: declared("Namespaced"),
        }
    }

    /// The scope of (group, kind) as far as the render tells.
    pub fn scope(&self, group: &str, kind: &str) -> Scope {
        let key = (group.to_string(), kind.to_string());
        if self.is_cluster_scoped(group, kind) {
            Scope::Cluster
        } else if NAMESPACED.iter().any(|(g, k)| *g == group && *k == kind)
            || self.namespaced_crds.contains(&key)
        {
            Scope::Namespaced
        } else {
            Scope::Unknown
        }
    }

    pub(crate) fn is_cluster_scoped(&self, group: &str, kind: &str) -> bool {
        is_well_known_cluster_scoped(group, kind)
            || self
                .from_crds
                .contains(&(group.to_string(), kind.to_string()))
    }
}

/// Whether (group, kind) is one of the well-known cluster-scoped kinds.
pub fn is_well_known_cluster_scoped(group: &str, kind: &str) -> bool {
    CLUSTER_SCOPED
        .iter()
        .any(|(g, k)| *g == group && *k == kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(kind: &str, scope: &str) -> K8sObject {
        K8sObject {
            value: json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "x"},
                "spec": {"group": "example.com", "scope": scope, "names": {"kind": kind}}}),
            file: "crd.yaml".into(),
            line: 1,
        }
    }

    #[test]
    fn own_kinds_and_rendered_crds_have_a_scope_and_any_other_kind_is_unknown() {
        let scopes = Scopes::new(&[crd("Widget", "Namespaced"), crd("Gadget", "Cluster")]);
        assert_eq!(scopes.scope("apps", "Deployment"), Scope::Namespaced);
        assert_eq!(scopes.scope("", "Namespace"), Scope::Cluster);
        assert_eq!(scopes.scope("example.com", "Widget"), Scope::Namespaced);
        assert_eq!(scopes.scope("example.com", "Gadget"), Scope::Cluster);
        assert_eq!(scopes.scope("example.com", "Thing"), Scope::Unknown);
        assert_eq!(scopes.scope("other.io", "Widget"), Scope::Unknown);
    }
}

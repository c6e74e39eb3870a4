//! Which kinds are cluster-scoped, so that a default namespace is applied only where it belongs.

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

/// Cluster-scoped kinds: the well-known ones plus those declared `scope: Cluster` by a
/// CustomResourceDefinition among the rendered objects.
pub(crate) struct Scopes {
    from_crds: BTreeSet<(String, String)>,
}

impl Scopes {
    pub(crate) fn new(objects: &[K8sObject]) -> Self {
        let from_crds = objects
            .iter()
            .filter(|o| {
                o.api_group() == "apiextensions.k8s.io" && o.kind() == "CustomResourceDefinition"
            })
            .filter(|o| o.value.pointer("/spec/scope").and_then(|s| s.as_str()) == Some("Cluster"))
            .filter_map(|o| {
                let group = o.value.pointer("/spec/group")?.as_str()?;
                let kind = o.value.pointer("/spec/names/kind")?.as_str()?;
                Some((group.to_string(), kind.to_string()))
            })
            .collect();
        Scopes { from_crds }
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

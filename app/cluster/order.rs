//! The order objects are applied in: Namespaces and CustomResourceDefinitions first (everything
//! else may live in the one or be of the kind the other defines), then Helm's install order,
//! then every kind slipway does not know (custom resources). Pruning goes the other way.

/// Helm's install order after Namespaces and CRDs, by (API group, kind).
const INSTALL_ORDER: &[(&str, &str)] = &[
    ("scheduling.k8s.io", "PriorityClass"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("", "ResourceQuota"),
    ("", "LimitRange"),
    ("policy", "PodSecurityPolicy"),
    ("policy", "PodDisruptionBudget"),
    ("", "ServiceAccount"),
    ("", "Secret"),
    ("", "ConfigMap"),
    ("storage.k8s.io", "StorageClass"),
    ("", "PersistentVolume"),
    ("", "PersistentVolumeClaim"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("", "Service"),
    ("apps", "DaemonSet"),
    ("", "Pod"),
    ("", "ReplicationController"),
    ("apps", "ReplicaSet"),
    ("apps", "Deployment"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("apps", "StatefulSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "Ingress"),
    ("apiregistration.k8s.io", "APIService"),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
];

/// The tier of the Namespaces and CRDs.
pub const FIRST: usize = 0;
/// The tier of kinds slipway does not know.
pub const LAST: usize = INSTALL_ORDER.len() + 1;

/// Whether objects of this kind define kinds (and so discovery must be read again after them).
pub fn defines_kinds(group: &str, kind: &str) -> bool {
    group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition"
}

/// The tier an object of (`group`, `kind`) is applied in; lower tiers first.
pub fn tier(group: &str, kind: &str) -> usize {
    if (group.is_empty() && kind == "Namespace") || defines_kinds(group, kind) {
        return FIRST;
    }
    INSTALL_ORDER
        .iter()
        .position(|(g, k)| *g == group && *k == kind)
        .map_or(LAST, |at| at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_and_crds_come_first_and_custom_resources_last() {
        let mut kinds = vec![
            ("example.com", "Widget"),
            ("apps", "Deployment"),
            ("", "ConfigMap"),
            ("apiextensions.k8s.io", "CustomResourceDefinition"),
            ("", "Service"),
            ("", "ServiceAccount"),
            ("", "Namespace"),
            ("networking.k8s.io", "Ingress"),
            ("rbac.authorization.k8s.io", "ClusterRole"),
        ];
        kinds.sort_by_key(|(g, k)| tier(g, k));
        let sorted: Vec<&str> = kinds.iter().map(|(_, k)| *k).collect();
        assert_eq!(
            sorted,
            [
                "CustomResourceDefinition",
                "Namespace",
                "ServiceAccount",
                "ConfigMap",
                "ClusterRole",
                "Service",
                "Deployment",
                "Ingress",
                "Widget",
            ]
        );
    }

    #[test]
    fn a_kind_is_known_by_its_group_too() {
        assert_eq!(tier("example.com", "Service"), LAST);
    }
}

//! What an apply did, object by object: the facts a deploy reports, by identity only.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::ClusterError;
use crate::render::{K8sObject, ObjectKey};

/// What the apply did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Configured,
    Unchanged,
}

/// One applied object and what the apply did to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedObject {
    pub object: ObjectKey,
    pub action: Action,
}

impl AppliedObject {
    /// `object` as the report knows it: its identity, nothing of its content.
    pub fn of(object: &K8sObject, action: Action) -> Self {
        AppliedObject {
            object: object.key(),
            action,
        }
    }
}

/// An object that did not become healthy, and why (the controller's own words).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnhealthyObject {
    pub object: ObjectKey,
    pub reason: String,
}

/// Fields of an object that another field manager owned and the apply took over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictTaken {
    pub object: ObjectKey,
    pub manager: String,
    /// Field paths, as the API server named them (`.spec.replicas`).
    pub fields: Vec<String>,
}

/// What an apply did: every object in the order applied, and the fields it took over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub objects: Vec<AppliedObject>,
    pub conflicts: Vec<ConflictTaken>,
}

/// An apply that stopped: the object the API refused (none when the failure was not about
/// one object), the API's answer, and what was applied before it.
#[derive(Debug, thiserror::Error)]
pub struct ApplyFailed {
    pub object: Option<ObjectKey>,
    pub error: ClusterError,
    pub done: ApplyReport,
}

impl fmt::Display for ApplyFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.object {
            Some(object) => write!(f, "applying {object}: {}", self.error),
            None => write!(f, "applying: {}", self.error),
        }
    }
}

/// The conflicts of a refused apply, from the `FieldManagerConflict` causes of the API's
/// `409`: one entry per manager, its fields in the order the API named them.
pub fn conflicts_of(object: &ObjectKey, status: &kube::core::Status) -> Vec<ConflictTaken> {
    let mut taken: Vec<ConflictTaken> = Vec::new();
    let causes = status.details.as_ref().map(|d| d.causes.as_slice());
    for cause in causes
        .unwrap_or_default()
        .iter()
        .filter(|c| c.reason == "FieldManagerConflict")
    {
        let manager = manager_of(&cause.message);
        match taken.iter_mut().find(|t| t.manager == manager) {
            Some(entry) => entry.fields.push(cause.field.clone()),
            None => taken.push(ConflictTaken {
                object: object.clone(),
                manager,
                fields: vec![cause.field.clone()],
            }),
        }
    }
    taken
}

/// `conflict with "kubectl-edit" using apps/v1 at 2026-…` → `kubectl-edit`.
fn manager_of(message: &str) -> String {
    let quoted = message
        .split_once('"')
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(name, _)| name.to_string());
    quoted.unwrap_or_else(|| message.trim_start_matches("conflict with ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause(manager: &str, field: &str) -> kube::core::response::StatusCause {
        kube::core::response::StatusCause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with \"{manager}\" using apps/v1 at 2026-12-06T02:00:00Z"),
            field: field.into(),
        }
    }

    #[test]
    fn conflicts_are_grouped_by_manager_with_their_fields() {
        let key = ObjectKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        };
        let status = kube::core::Status {
            code: 409,
            reason: "Conflict".into(),
            details: Some(kube::core::response::StatusDetails {
                causes: vec![
                    cause("kubectl-edit", ".spec.replicas"),
                    cause(
                        "hpa",
                        ".spec.template.spec.containers[name=\"web\"].resources",
                    ),
                    cause("kubectl-edit", ".metadata.labels.tier"),
                ],
                name: String::new(),
                group: String::new(),
                kind: String::new(),
                uid: String::new(),
                retry_after_seconds: 0,
            }),
            ..Default::default()
        };
        let taken = conflicts_of(&key, &status);
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[0].manager, "kubectl-edit");
        assert_eq!(taken[0].fields, [".spec.replicas", ".metadata.labels.tier"]);
        assert_eq!(taken[1].manager, "hpa");
    }
}

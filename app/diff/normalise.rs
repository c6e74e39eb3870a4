//! Normalisation: what the cluster writes into an object is not part of its desired state.

use serde_json::Value;

/// Fields of `metadata` that the API server manages.
const SERVER_METADATA: [&str; 5] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
];

/// The annotation `kubectl apply` keeps its previous input in (which may hold a Secret's
/// plaintext, so it must go before anything is shown).
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drop `status`, the server-managed metadata and the last-applied annotation (and
/// `annotations` if that leaves it empty); then sort every mapping's keys.
pub fn normalise(object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
            for field in SERVER_METADATA {
                metadata.remove(field);
            }
            if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
                annotations.remove(LAST_APPLIED);
                if annotations.is_empty() {
                    metadata.remove("annotations");
                }
            }
        }
    }
    object.sort_all_objects();
}

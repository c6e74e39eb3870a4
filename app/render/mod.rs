//! An environment directory at a revision becomes an ordered list of Kubernetes objects.

/// One rendered Kubernetes object and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct K8sObject {
    /// The object as JSON (serde_json without `preserve_order`: keys sort themselves).
    pub value: serde_json::Value,
    /// Repo-relative file the object was read from (for kustomize: the kustomization path).
    pub file: String,
    /// 1-based line of the document start within `file`.
    pub line: usize,
}

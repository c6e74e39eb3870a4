//! An environment directory at a revision becomes an ordered list of Kubernetes objects.
//!
//! Three layouts: plain YAML/JSON files (every `*.yaml`, `*.yml`, `*.json` under the
//! environment's path, recursively), kustomize (a `kustomization.yaml`, `kustomization.yml`
//! or `Kustomization` at the path) and a Helm chart (a `Chart.yaml` at the path, rendered
//! with `helm template`). Files come from a [`TreeSource`]: a git revision
//! (`crate::git`) or a directory on disk ([`DirSource`]). Rendering never leaves the
//! repository: environment paths and symlinks pointing outside it are refused.

mod emit;
mod helm;
mod kustomization_check;
mod kustomize;
mod limits;
mod mask;
pub(crate) mod paths;
mod plain;
mod sandbox;
mod scope;
mod source;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::config::Environment;

pub use emit::to_yaml;
pub use helm::{
    charts_using_lookup, find_helm, hook_of, is_helm_environment, values_files, CHART_FILE,
    HOOK_ANNOTATION,
};
pub use kustomize::{find_kustomize, KustomizeTool, KUSTOMIZATION_FILES};
pub use limits::RenderLimits;
pub use sandbox::{network_isolated, network_isolation, sandboxed_command, NetworkIsolation};
pub use scope::{is_well_known_cluster_scoped, Scope, Scopes};
pub(crate) use source::{check_relative as check_path, join as join_path};
pub use source::{DirSource, EntryKind, SourceError, TreeEntry, TreeSource};

/// One rendered Kubernetes object and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct K8sObject {
    /// The object as JSON. Key order is not guaranteed (a dependency turns on serde_json's
    /// `preserve_order`); whatever compares objects sorts keys itself, as `diff` does.
    pub value: serde_json::Value,
    /// Repo-relative file the object was read from (for kustomize: the kustomization path).
    pub file: String,
    /// 1-based line of the document start within `file` (the line its content begins on;
    /// 1 for kustomize output, which has no source line).
    pub line: usize,
}

impl K8sObject {
    /// The API group: `apps` for `apps/v1`, `""` for the core group (`v1`).
    pub fn api_group(&self) -> &str {
        let api_version = self.api_version();
        api_version.rsplit_once('/').map_or("", |(group, _)| group)
    }

    /// `apiVersion`, or `""` when absent.
    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or("")
    }

    /// `kind`, or `""` when absent.
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }

    /// `metadata.namespace`, when set and not empty.
    pub fn namespace(&self) -> Option<&str> {
        self.value["metadata"]["namespace"]
            .as_str()
            .filter(|ns| !ns.is_empty())
    }

    /// `metadata.name`, or `""` when absent.
    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }

    /// The identity objects are matched by across revisions.
    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            group: self.api_group().to_string(),
            kind: self.kind().to_string(),
            namespace: self.namespace().map(str::to_string),
            name: self.name().to_string(),
        }
    }
}

/// An object's identity: (API group, kind, namespace, name). The API version is not part
/// of it, so `apps/v1` and `apps/v1beta2` Deployments of one name are the same object.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ObjectKey {
    /// `""` for the core group.
    pub group: String,
    pub kind: String,
    /// `None` for cluster-scoped objects (and namespaced ones rendered without a namespace).
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ObjectKey {
    /// `Deployment.apps team-dev/api`, `Service team-dev/api`, `ClusterRole.rbac.authorization.k8s.io reader`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind)?;
        if !self.group.is_empty() {
            write!(f, ".{}", self.group)?;
        }
        match &self.namespace {
            Some(ns) => write!(f, " {ns}/{}", self.name),
            None => write!(f, " {}", self.name),
        }
    }
}

/// Why an environment could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A problem at a position in a repository file: a YAML syntax error or an object
    /// without identity. Displays as `envs/dev/api.yaml:14:3: message`.
    #[error("{file}:{line}:{column}: {message}")]
    At {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The environment's path is absolute, leaves the repository, is missing or is no directory.
    #[error("environment `{env}`: path `{path}` {reason}")]
    EnvPath {
        env: String,
        path: String,
        reason: String,
    },
    /// A symlink that points outside the repository, nowhere, or in a loop.
    #[error("{path}: symlink to `{target}` {reason}")]
    Symlink {
        path: String,
        target: String,
        reason: String,
    },
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A kustomization but no tool to build it.
    #[error("cannot render {kustomization}: neither `kustomize` nor `kubectl` was found on PATH; install one of them")]
    KustomizeMissing { kustomization: String },
    /// kustomize exited with an error; `stderr` is its own explanation.
    #[error("`{tool}` failed to build {kustomization} ({status}):\n{stderr}")]
    KustomizeFailed {
        tool: String,
        kustomization: String,
        status: String,
        stderr: String,
    },
    /// kustomize ran past the time limit and was killed.
    #[error("`{tool}` did not finish building {kustomization} within {}s and was stopped", timeout.as_secs())]
    KustomizeTimeout {
        tool: String,
        kustomization: String,
        timeout: Duration,
    },
    /// A Helm chart but no `helm` to template it.
    #[error("cannot render {chart}: `helm` was not found on PATH; install it")]
    HelmMissing { chart: String },
    /// `helm template` exited with an error; `stderr` is its own explanation.
    #[error("`helm template` failed for {chart} ({status}):\n{stderr}")]
    HelmFailed {
        chart: String,
        status: String,
        stderr: String,
    },
    /// `helm template` ran past the time limit and was killed.
    #[error("`helm template` did not finish rendering {chart} within {}s and was stopped", timeout.as_secs())]
    HelmTimeout { chart: String, timeout: Duration },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A bound of [`RenderLimits`] was reached; `file` is what was being rendered.
    #[error("{file}: rendering stopped: {what} is over the limit of {limit}")]
    LimitExceeded {
        file: String,
        what: String,
        limit: String,
    },
}

impl RenderError {
    /// The repo-relative file, line and column the error points at, when it has a position.
    pub fn location(&self) -> Option<(&str, usize, usize)> {
        match self {
            RenderError::At {
                file, line, column, ..
            } => Some((file, *line, *column)),
            _ => None,
        }
    }
}

/// Knobs of rendering; [`RenderOptions::default`] is what [`render_environment`] uses.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// How long one kustomize build or `helm template` may take before it is killed.
    /// Default: 60 s.
    pub kustomize_timeout: Duration,
    /// Bounds of output size, document count, nesting and alias expansion.
    pub limits: RenderLimits,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            kustomize_timeout: Duration::from_secs(60),
            limits: RenderLimits::default(),
        }
    }
}

/// Renders `env` from `source` with default options. Blocking (it may run kustomize): run
/// several renders on threads to overlap them.
pub fn render_environment(
    source: &dyn TreeSource,
    env: &Environment,
) -> Result<Vec<K8sObject>, RenderError> {
    render_environment_with(source, env, &RenderOptions::default())
}

/// Renders `env` from `source`: objects in file order (files sorted by path, documents in
/// file order), `List`s flattened, the environment's namespace set on namespaced objects
/// without one. Two objects with the same [`ObjectKey`] are an error.
pub fn render_environment_with(
    source: &dyn TreeSource,
    env: &Environment,
    options: &RenderOptions,
) -> Result<Vec<K8sObject>, RenderError> {
    let dir = paths::env_dir(source, env)?;
    let chart = helm::chart_in(source, &dir)?;
    let kustomization = match chart {
        Some(_) => None,
        None => kustomize::kustomization_in(source, &dir)?,
    };
    let mut objects = match (chart, kustomization) {
        (Some(chart), _) => helm::render(source, env, &dir, &chart, options)?,
        (None, Some(kustomization)) => {
            kustomization_check::check_tree(source, &dir, &kustomization, &options.limits)?;
            kustomize::render(source, &dir, &kustomization, options)?
        }
        (None, None) => plain::render(source, &dir, &options.limits)?,
    };
    if let Some(namespace) = &env.namespace {
        let scopes = scope::Scopes::new(&objects);
        for object in &mut objects {
            if object.namespace().is_none()
                && !scopes.is_cluster_scoped(object.api_group(), object.kind())
            {
                if let Some(metadata) = object
                    .value
                    .get_mut("metadata")
                    .and_then(|m| m.as_object_mut())
                {
                    metadata.insert("namespace".to_string(), namespace.clone().into());
                }
            }
        }
    }
    check_unique(&objects)?;
    Ok(objects)
}

fn check_unique(objects: &[K8sObject]) -> Result<(), RenderError> {
    let mut seen: BTreeMap<ObjectKey, &K8sObject> = BTreeMap::new();
    for object in objects {
        if let Some(first) = seen.insert(object.key(), object) {
            return Err(RenderError::At {
                file: object.file.clone(),
                line: object.line,
                column: 1,
                message: format!(
                    "{} is declared twice; first at {}:{}",
                    object.key(),
                    first.file,
                    first.line
                ),
            });
        }
    }
    Ok(())
}

/// Turns one parsed document into objects (a `*List` becomes its items), checking that each
/// has `apiVersion`, `kind` and `metadata.name`.
pub(crate) fn objects_from_document(
    file: &str,
    line: usize,
    value: serde_json::Value,
    out: &mut Vec<K8sObject>,
) -> Result<(), RenderError> {
    let at = |message: String| RenderError::At {
        file: file.to_string(),
        line,
        column: 1,
        message,
    };
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    if kind.ends_with("List") && value.get("items").is_some() {
        let Some(items) = value.get("items").and_then(|i| i.as_array()) else {
            return Err(at(format!("`items` of this {kind} must be a list")));
        };
        for (i, item) in items.iter().enumerate() {
            check_identity(item).map_err(|m| at(format!("item {} of this {kind}: {m}", i + 1)))?;
            out.push(K8sObject {
                value: item.clone(),
                file: file.to_string(),
                line,
            });
        }
        return Ok(());
    }
    check_identity(&value).map_err(at)?;
    out.push(K8sObject {
        value,
        file: file.to_string(),
        line,
    });
    Ok(())
}

fn check_identity(value: &serde_json::Value) -> Result<(), String> {
    let Some(map) = value.as_object() else {
        return Err(format!(
            "expected a Kubernetes object (a mapping with apiVersion, kind and metadata), found {}",
            json_kind(value)
        ));
    };
    for field in ["apiVersion", "kind"] {
        match map.get(field) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => {}
            Some(other) => {
                return Err(format!(
                    "`{field}` must be a non-empty string, found {}",
                    json_kind(other)
                ))
            }
            None => return Err(format!("the object has no `{field}`")),
        }
    }
    let Some(metadata) = map.get("metadata").and_then(|m| m.as_object()) else {
        return Err("the object has no `metadata` mapping".to_string());
    };
    match metadata.get("name") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => {}
        Some(other) => {
            return Err(format!(
                "`metadata.name` must be a non-empty string, found {}",
                json_kind(other)
            ))
        }
        None if metadata.contains_key("generateName") => {
            return Err(
                "`metadata.generateName` is not supported: GitOps needs a fixed `metadata.name`"
                    .to_string(),
            )
        }
        None => return Err("the object has no `metadata.name`".to_string()),
    }
    match metadata.get("namespace") {
        None | Some(serde_json::Value::String(_)) | Some(serde_json::Value::Null) => Ok(()),
        Some(other) => Err(format!(
            "`metadata.namespace` must be a string, found {}",
            json_kind(other)
        )),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: serde_json::Value) -> K8sObject {
        K8sObject {
            value,
            file: "a.yaml".into(),
            line: 1,
        }
    }

    #[test]
    fn identity_accessors() {
        let deploy = object(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "team"}}));
        assert_eq!(deploy.api_group(), "apps");
        assert_eq!(deploy.kind(), "Deployment");
        assert_eq!(deploy.namespace(), Some("team"));
        assert_eq!(deploy.name(), "api");
        assert_eq!(deploy.key().to_string(), "Deployment.apps team/api");
        let ns =
            object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}));
        assert_eq!(ns.api_group(), "");
        assert_eq!(ns.key().to_string(), "Namespace team");
    }

    #[test]
    fn object_keys_order_by_group_kind_namespace_name() {
        let mut keys = [
            object(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b", "namespace": "x"}})).key(),
            object(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "x"}})).key(),
            object(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "x"}})).key(),
        ];
        keys.sort();
        let shown: Vec<String> = keys.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["Service x/a", "Service x/b", "Deployment.apps x/a"]);
    }

    #[test]
    fn lists_are_flattened_and_items_checked() {
        let mut out = Vec::new();
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}},
        ]});
        objects_from_document("l.yaml", 4, list, &mut out).unwrap();
        assert_eq!(
            out.iter().map(K8sObject::name).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(out.iter().all(|o| o.line == 4));

        let bad = json!({"apiVersion": "v1", "kind": "ConfigMapList", "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}]});
        let err = objects_from_document("l.yaml", 2, bad, &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "l.yaml:2:1: item 1 of this ConfigMapList: the object has no `metadata.name`"
        );
    }
}

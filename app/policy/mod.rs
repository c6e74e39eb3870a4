//! Environment policy: which rendered objects an environment may hold.
//!
//! An environment keeps its objects to its `allowed_namespaces` (explicit, or implied by
//! `namespace`) and to the cluster-scoped kinds it allows (`allowed_cluster_scoped`; by
//! default every kind when the namespaces are not restricted, none when they are). The
//! preview shows what breaks these rules before merge; deploy refuses the same objects by
//! calling the same [`check`]. Helm hooks (objects annotated `helm.sh/hook`) are refused the
//! same way: slipway applies manifests and does not run Helm's lifecycle. Pure: objects in,
//! violations out.

use std::fmt;

use crate::config::Environment;
use crate::render::{K8sObject, ObjectKey, Scope, Scopes};

/// One object an environment may not hold, where it was declared and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    pub object: ObjectKey,
    /// Repo-relative file the object was read from (for kustomize: the kustomization).
    pub file: String,
    /// 1-based line of the object's document in `file`.
    pub line: usize,
    /// What is wrong, naming the object and the rule: `ConfigMap kube-system/x is in
    /// namespace kube-system, outside the namespaces dev may use (team-dev)`.
    pub message: String,
}

impl fmt::Display for Violation {
    /// `envs/dev/x.yaml:3: ConfigMap kube-system/x is in namespace kube-system, ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// The objects of `env`'s render that `env` may not hold, in render order, judged without a
/// cluster (the preview, `slipway render`): a kind whose scope the render does not tell
/// ([`Scope::Unknown`]) is refused where the namespaces are restricted, as it may well be
/// cluster-scoped.
pub fn check(env: &Environment, objects: &[K8sObject]) -> Vec<Violation> {
    let scopes = Scopes::new(objects);
    check_scoped(env, objects, |group, kind| scopes.scope(group, kind))
}

/// [`check`], leaving objects of a kind of unknown scope to the deploy, which asks the cluster
/// ([`check_in_cluster`]). For decisions taken before the cluster is asked.
pub fn check_known(env: &Environment, objects: &[K8sObject]) -> Vec<Violation> {
    let scopes = Scopes::new(objects);
    check_scoped(env, objects, |group, kind| scopes.scope(group, kind))
        .into_iter()
        .filter(|violation| {
            scopes.scope(&violation.object.group, &violation.object.kind) != Scope::Unknown
        })
        .collect()
}

/// [`check`] with each kind's scope as the cluster serves it (`served(group, kind)`: `Some`
/// with the scope discovery reports, `None` when the cluster does not serve the kind yet);
/// the render's knowledge only for kinds the cluster does not serve. What a deploy obeys: a
/// cluster-scoped custom kind is cluster-scoped whatever namespace the object was written
/// with.
pub fn check_in_cluster(
    env: &Environment,
    objects: &[K8sObject],
    served: impl Fn(&str, &str) -> Option<Scope>,
) -> Vec<Violation> {
    let scopes = Scopes::new(objects);
    check_scoped(env, objects, |group, kind| {
        served(group, kind).unwrap_or_else(|| scopes.scope(group, kind))
    })
}

fn check_scoped(
    env: &Environment,
    objects: &[K8sObject],
    scope: impl Fn(&str, &str) -> Scope,
) -> Vec<Violation> {
    objects
        .iter()
        .filter_map(|object| {
            let message = if let Some(phases) = crate::render::hook_of(object) {
                Some(hook(object, phases))
            } else {
                match scope(object.api_group(), object.kind()) {
                    // A namespace on a cluster-scoped object is ignored by the API server, so
                    // it must not let the object pass as namespaced.
                    Scope::Cluster => cluster_scoped(env, object),
                    Scope::Namespaced => namespaced(env, object),
                    Scope::Unknown => unknown_scope(env, object),
                }
            }?;
            Some(Violation {
                object: object.key(),
                file: object.file.clone(),
                line: object.line,
                message,
            })
        })
        .collect()
}

/// Helm hooks run at a phase of Helm's release lifecycle, which slipway does not have: it
/// applies manifests. Applied as ordinary objects they would run at the wrong time (or every
/// deploy), so they are shown in the preview and refused at deploy.
fn hook(object: &K8sObject, phases: &str) -> String {
    format!(
        "{} is a Helm hook ({phases}); slipway applies manifests and does not run Helm's lifecycle, so hooks are refused at deploy",
        object.key()
    )
}

fn namespaced(env: &Environment, object: &K8sObject) -> Option<String> {
    match object.namespace() {
        Some(namespace) if !env.allows_namespace(namespace) => Some(format!(
            "{} is in namespace {namespace}, outside the namespaces {} may use ({})",
            object.key(),
            env.name,
            env.allowed_namespaces.join(", ")
        )),
        // It would land in whatever namespace the deploying client defaults to.
        None if !env.allowed_namespaces.is_empty() => Some(format!(
            "{} has no namespace, and {} may use only the namespaces ({}): set metadata.namespace",
            object.key(),
            env.name,
            env.allowed_namespaces.join(", ")
        )),
        _ => None,
    }
}

/// A kind only the cluster can place: harmless where any namespace and any cluster-scoped
/// kind is allowed, refused where the namespaces are restricted (it may be cluster-scoped,
/// and then its namespace means nothing).
fn unknown_scope(env: &Environment, object: &K8sObject) -> Option<String> {
    if env.allowed_namespaces.is_empty() {
        return None;
    }
    if env.allows_cluster_scoped(object.kind()) {
        // Allowed if cluster-scoped; if namespaced, its namespace must be allowed too.
        return namespaced(env, object);
    }
    Some(format!(
        "{} is of a kind whose scope is unknown here (not one of Kubernetes' own kinds, and no CustomResourceDefinition for it is rendered): it may be cluster-scoped, and {} may use only the namespaces ({}); render its CustomResourceDefinition with the environment, or list the kind in allowed_cluster_scoped if it may be cluster-scoped",
        object.key(),
        env.name,
        env.allowed_namespaces.join(", ")
    ))
}

fn cluster_scoped(env: &Environment, object: &K8sObject) -> Option<String> {
    let kind = object.kind();
    if !env.allows_cluster_scoped(kind) {
        let allowed = match &env.allowed_cluster_scoped {
            Some(kinds) if !kinds.is_empty() => {
                format!(
                    "allows only the cluster-scoped kinds ({})",
                    kinds.join(", ")
                )
            }
            _ => "allows no cluster-scoped objects (list their kinds in allowed_cluster_scoped)"
                .to_string(),
        };
        return Some(format!(
            "{} is cluster-scoped, and {} {allowed}",
            object.key(),
            env.name
        ));
    }
    // Owning a Namespace object is owning the namespace (its labels, its deletion on prune):
    // allowed only for the namespaces the environment may use.
    let is_namespace = object.api_group().is_empty() && kind == "Namespace";
    if is_namespace && !env.allows_namespace(object.name()) {
        return Some(format!(
            "{} is outside the namespaces {} may use ({})",
            object.key(),
            env.name,
            env.allowed_namespaces.join(", ")
        ));
    }
    None
}

//! What can go wrong talking to the cluster, in words an operator can act on.
//!
//! `kube::Error` is turned into one of these at the edge, with what slipway was doing, so a
//! caller matches on the kind (refused by RBAC, refused by the API, unreachable) instead of
//! parsing strings, and the queue knows whether to try again.

use super::build_log::redact;
use crate::failure::{chain, FailureKind};

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// RBAC refused the request: the Role of slipway's service account lacks a rule.
    #[error(
        "slipway may not {verb} {resource} in the namespace {namespace:?} (while {action}): \
         grant its service account that verb on that resource in a Role there; the API server said: {message}"
    )]
    Forbidden {
        verb: String,
        resource: String,
        namespace: String,
        action: String,
        message: String,
    },
    /// The API server refused or failed the request with a `Status`.
    #[error("the Kubernetes API answered {code} {reason} while {action}: {message}")]
    Api {
        code: u16,
        reason: String,
        message: String,
        action: String,
    },
    /// The cluster does not serve the kind of an object (its CustomResourceDefinition is
    /// missing, or its API version is not served by this Kubernetes).
    #[error(
        "the cluster does not serve {kind} in {api_version}: install its CustomResourceDefinition \
         first, or use an API version this cluster serves"
    )]
    KindNotServed { api_version: String, kind: String },
    /// Objects the deploy renders exist already and belong to someone else (another
    /// environment, or nobody slipway knows): nothing was applied.
    #[error("{}", not_owned(objects))]
    NotOwned { objects: Vec<NotOwned> },
    /// No answer: the API server is unreachable, the connection broke, or a request timed out.
    #[error("cannot reach the Kubernetes API: {0}")]
    Transport(String),
    /// An answer slipway cannot read (not the JSON the API documents).
    #[error("the Kubernetes API answered with something slipway cannot read: {0}")]
    Unreadable(String),
}

/// An existing object a deploy may not take: which, and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOwned {
    pub object: crate::render::ObjectKey,
    /// Its owner in words: `environment `prod` of the config repo `acme/config``.
    pub owner: String,
}

fn not_owned(objects: &[NotOwned]) -> String {
    let each: Vec<String> = objects
        .iter()
        .map(|o| format!("{} already exists and belongs to {}", o.object, o.owner))
        .collect();
    format!(
        "{}; slipway takes over no object another owner made, so nothing was applied (an \
         environment may take over objects without slipway labels by listing them in `adopt`; \
         another environment's objects are never taken)",
        each.join("; ")
    )
}

impl ClusterError {
    /// `err` as the outcome of `action` ("creating Job build-x in builds"), in `namespace`.
    pub fn from_kube(err: kube::Error, action: impl Into<String>, namespace: &str) -> Self {
        let action = action.into();
        match err {
            kube::Error::Api(status) if status.code == 403 => {
                let (verb, resource, ns) = parse_forbidden(&status.message);
                ClusterError::Forbidden {
                    verb: verb.unwrap_or_else(|| "use".to_string()),
                    resource: resource.unwrap_or_else(|| "the resource".to_string()),
                    namespace: ns.unwrap_or_else(|| namespace.to_string()),
                    action,
                    message: status.message,
                }
            }
            kube::Error::Api(status) => ClusterError::Api {
                code: status.code,
                reason: status.reason,
                message: status.message,
                action,
            },
            err @ (kube::Error::SerdeError(_)
            | kube::Error::FromUtf8(_)
            | kube::Error::LinesCodecMaxLineLengthExceeded) => {
                ClusterError::Unreadable(format!("{action}: {}", chain(&err)))
            }
            other => ClusterError::Transport(format!("{action}: {}", chain(&other))),
        }
    }

    /// The API's HTTP status code, when it answered with one.
    pub fn code(&self) -> Option<u16> {
        match self {
            ClusterError::Forbidden { .. } => Some(403),
            ClusterError::Api { code, .. } => Some(*code),
            ClusterError::KindNotServed { .. }
            | ClusterError::NotOwned { .. }
            | ClusterError::Transport(_)
            | ClusterError::Unreadable(_) => None,
        }
    }

    /// Whether the same request can succeed later: server errors, throttling, a lost
    /// connection, or a write that lost an optimistic-concurrency race (409 `Conflict`, not
    /// `AlreadyExists`).
    pub fn is_transient(&self) -> bool {
        match self {
            ClusterError::Api { code, reason, .. } => {
                *code >= 500 || *code == 429 || (*code == 409 && reason == "Conflict")
            }
            ClusterError::Transport(_) => true,
            ClusterError::Forbidden { .. }
            | ClusterError::KindNotServed { .. }
            | ClusterError::NotOwned { .. }
            | ClusterError::Unreadable(_) => false,
        }
    }

    /// The failure kind the queue retries and counts by.
    pub fn kind(&self) -> FailureKind {
        match self {
            ClusterError::Forbidden { .. } => FailureKind::Unauthorized,
            ClusterError::Api { code: 429, .. } => FailureKind::RateLimited,
            ClusterError::Api { code: 404, .. } => FailureKind::NotFound,
            ClusterError::Api { code: 401, .. } => FailureKind::Unauthorized,
            ClusterError::Api { code: 504, .. } => FailureKind::Timeout,
            // A lost race (409 Conflict) passes once the write is made again on fresh state.
            err @ ClusterError::Api { .. } if err.is_transient() => FailureKind::Unavailable,
            ClusterError::Api { .. } => FailureKind::Internal,
            ClusterError::Transport(_) => FailureKind::Network,
            ClusterError::KindNotServed { .. } | ClusterError::NotOwned { .. } => {
                FailureKind::InvalidConfig
            }
            ClusterError::Unreadable(_) => FailureKind::Internal,
        }
    }

    /// The error with every form of `secrets` replaced in its text.
    pub fn redacted(self, secrets: &[&str]) -> ClusterError {
        let clean = |text: String| redact(&text, secrets);
        match self {
            ClusterError::Forbidden {
                verb,
                resource,
                namespace,
                action,
                message,
            } => ClusterError::Forbidden {
                verb,
                resource,
                namespace,
                action,
                message: clean(message),
            },
            ClusterError::Api {
                code,
                reason,
                message,
                action,
            } => ClusterError::Api {
                code,
                reason,
                message: clean(message),
                action,
            },
            err @ (ClusterError::KindNotServed { .. } | ClusterError::NotOwned { .. }) => err,
            ClusterError::Transport(text) => ClusterError::Transport(clean(text)),
            ClusterError::Unreadable(text) => ClusterError::Unreadable(clean(text)),
        }
    }

    pub(crate) fn is_not_found(err: &kube::Error) -> bool {
        matches!(err, kube::Error::Api(status) if status.code == 404)
    }

    pub(crate) fn is_already_exists(err: &kube::Error) -> bool {
        matches!(err, kube::Error::Api(status) if status.code == 409 && status.reason == "AlreadyExists")
    }
}

/// The verb, resource and namespace of the apiserver's RBAC message:
/// `jobs.batch is forbidden: User "…" cannot create resource "jobs" in API group "batch" in the
/// namespace "builds"`.
fn parse_forbidden(message: &str) -> (Option<String>, Option<String>, Option<String>) {
    let after = |marker: &str| message.find(marker).map(|at| &message[at + marker.len()..]);
    let verb = after(" cannot ")
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string);
    let quoted =
        |marker: &str| after(marker).and_then(|rest| rest.split('"').next().map(str::to_string));
    (verb, quoted(" resource \""), quoted(" in the namespace \""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status {
                code,
                reason: reason.to_string(),
                message: message.to_string(),
                ..kube::core::Status::default()
            }
            .boxed(),
        )
    }

    #[test]
    fn forbidden_names_verb_resource_and_namespace_from_the_message() {
        let err = ClusterError::from_kube(
            api(
                403,
                "Forbidden",
                "jobs.batch is forbidden: User \"system:serviceaccount:slipway:slipway\" cannot create resource \"jobs\" in API group \"batch\" in the namespace \"builds\"",
            ),
            "creating Job build-1",
            "elsewhere",
        );
        let ClusterError::Forbidden {
            verb,
            resource,
            namespace,
            ..
        } = &err
        else {
            panic!("expected Forbidden, got {err:?}")
        };
        assert_eq!(
            (verb.as_str(), resource.as_str(), namespace.as_str()),
            ("create", "jobs", "builds")
        );
        assert!(!err.is_transient());
        assert!(err
            .to_string()
            .starts_with("slipway may not create jobs in the namespace \"builds\""));
    }

    #[test]
    fn server_errors_throttling_and_lost_races_are_transient() {
        let transient = |code, reason| {
            ClusterError::from_kube(api(code, reason, "x"), "a", "ns").is_transient()
        };
        assert!(transient(500, "InternalError"));
        assert!(transient(429, "TooManyRequests"));
        assert!(transient(409, "Conflict"));
        assert!(!transient(409, "AlreadyExists"));
        assert!(!transient(422, "Invalid"));
        assert!(!transient(404, "NotFound"));
    }
}

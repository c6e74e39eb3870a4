//! Failures as the apiserver reports them: a `Status` object with the HTTP code, a reason and
//! details, so `kube::Error::Api` carries what a real cluster would send.

use serde_json::{json, Value};

use super::resources::ResourceType;

/// The account the fake pretends slipway runs as, named in `Forbidden` messages.
pub const SERVICE_ACCOUNT: &str = "system:serviceaccount:slipway:slipway";

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

fn details(rt: &ResourceType, name: &str) -> Value {
    json!({"name": name, "group": rt.group, "kind": rt.plural})
}

impl ApiError {
    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("{} \"{name}\" not found", rt.group_resource()),
            details: Some(details(rt, name)),
        }
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        ApiError {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} \"{name}\" already exists", rt.group_resource()),
            details: Some(details(rt, name)),
        }
    }

    pub fn conflict(rt: &ResourceType, name: &str) -> Self {
        ApiError {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                rt.group_resource()
            ),
            details: Some(details(rt, name)),
        }
    }

    /// A 422 naming the field and what is wrong with its value.
    pub fn invalid(rt: &ResourceType, name: &str, field: &str, problem: &str) -> Self {
        ApiError {
            code: 422,
            reason: "Invalid",
            message: format!(
                "{} \"{name}\" is invalid: {field}: {problem}",
                rt.group_kind()
            ),
            details: Some(json!({
                "name": name,
                "group": rt.group,
                "kind": rt.kind,
                "causes": [{"reason": "FieldValueInvalid", "message": problem, "field": field}],
            })),
        }
    }

    pub fn forbidden(
        rt: &ResourceType,
        verb: &str,
        subresource: Option<&str>,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Self {
        let resource = match subresource {
            Some(sub) => format!("{}/{sub}", rt.plural),
            None => rt.plural.to_string(),
        };
        let subject = match name {
            Some(name) => format!("{} \"{name}\"", rt.group_resource()),
            None => rt.group_resource(),
        };
        let scope = match namespace {
            Some(ns) => format!(" in the namespace \"{ns}\""),
            None => " at the cluster scope".to_string(),
        };
        let mut details = json!({"group": rt.group, "kind": rt.plural});
        if let Some(name) = name {
            details["name"] = json!(name);
        }
        ApiError {
            code: 403,
            reason: "Forbidden",
            message: format!(
                "{subject} is forbidden: User \"{SERVICE_ACCOUNT}\" cannot {verb} resource \
                 \"{resource}\" in API group \"{}\"{scope}",
                rt.group
            ),
            details: Some(details),
        }
    }

    /// An apply that would change fields other managers own (`409 Conflict`, one cause per
    /// field), as `NewApplyConflict` words it.
    pub fn apply_conflict(conflicts: &[super::managed::Conflict]) -> Self {
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|c| {
                json!({
                    "reason": "FieldManagerConflict",
                    "message": format!("conflict with {}", c.manager),
                    "field": super::managed::path_string(&c.path),
                })
            })
            .collect();
        ApiError {
            code: 409,
            reason: "Conflict",
            message: super::managed::conflict_message(conflicts),
            details: Some(json!({ "causes": causes })),
        }
    }

    /// PatchOptions the apiserver refuses (`fieldManager` missing on an apply, `force` on
    /// another patch): 422 on the options object.
    pub fn invalid_patch_options(field: &str, reason: &str, problem: &str) -> Self {
        ApiError {
            code: 422,
            reason: "Invalid",
            message: format!("PatchOptions.meta.k8s.io \"\" is invalid: {field}: {problem}"),
            details: Some(json!({
                "group": "meta.k8s.io",
                "kind": "PatchOptions",
                "causes": [{"reason": reason, "message": problem, "field": field}],
            })),
        }
    }

    /// A watch from a `resourceVersion` older than the history the server still holds.
    pub fn expired(asked: u64, oldest: u64) -> Self {
        ApiError {
            code: 410,
            reason: "Expired",
            message: format!("too old resource version: {asked} ({oldest})"),
            details: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            details: None,
        }
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        ApiError {
            code: 415,
            reason: "UnsupportedMediaType",
            message: format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"),
            details: None,
        }
    }

    pub fn method_not_allowed(method: &str) -> Self {
        ApiError {
            code: 405,
            reason: "MethodNotAllowed",
            message: format!(
                "the server does not allow this method on the requested resource ({method})"
            ),
            details: None,
        }
    }

    pub fn path_not_found(path: &str) -> Self {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("the server could not find the requested resource ({path})"),
            details: None,
        }
    }

    /// An injected server failure.
    pub fn server_error(code: u16) -> Self {
        let (reason, message) = match code {
            503 => ("ServiceUnavailable", "the server is currently unable to handle the request"),
            504 => ("Timeout", "the server was unable to return a response in the time allotted"),
            _ => ("InternalError", "an error on the server (\"etcdserver: request timed out\") has prevented the request from succeeding"),
        };
        ApiError {
            code,
            reason,
            message: message.to_string(),
            details: None,
        }
    }

    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

/// The `Status` a delete answers with once the object is gone.
pub fn deleted(rt: &ResourceType, name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": uid},
    })
}

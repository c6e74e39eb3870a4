//! The envelope: what slipway stores about a delivery besides its raw payload, read from the
//! headers and a borrowed, allocation-light pass over the body.

use std::borrow::Cow;

use serde::Deserialize;

/// Events slipway stores and processes; every other event is acknowledged and counted only.
pub const HANDLED_EVENTS: &[&str] = &[
    "push",
    "pull_request",
    "pull_request_review",
    "issue_comment",
    "check_run",
    "installation",
    "installation_repositories",
];

/// What ingress does with an event name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventDisposition {
    /// `ping`: GitHub checking the hook works.
    Ping,
    /// Stored and queued.
    Handled,
    /// Acknowledged, counted, not queued.
    Ignored,
}

impl EventDisposition {
    pub fn of(event: &str) -> Self {
        if event == "ping" {
            EventDisposition::Ping
        } else if HANDLED_EVENTS.contains(&event) {
            EventDisposition::Handled
        } else {
            EventDisposition::Ignored
        }
    }
}

/// A handled delivery, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub delivery_id: String,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<i64>,
    /// `owner/name` of the repository the event concerns, when it concerns one.
    pub repository: Option<String>,
    /// Deliveries with the same key are processed in the order received: one pull request,
    /// one branch, one installation. `None` means no ordering constraint.
    pub ordering_key: Option<String>,
}

/// Its message includes the JSON error; it is not chained again as `source()`, so printing
/// the error with its causes says it once.
#[derive(Debug, thiserror::Error)]
#[error("the payload is not valid JSON: {0}")]
pub struct EnvelopeError(serde_json::Error);

impl From<serde_json::Error> for EnvelopeError {
    fn from(err: serde_json::Error) -> Self {
        EnvelopeError(err)
    }
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
    installation: Option<Id>,
    #[serde(borrow)]
    repository: Option<Repository<'a>>,
    #[serde(rename = "ref", borrow)]
    git_ref: Option<Cow<'a, str>>,
    pull_request: Option<Numbered>,
    issue: Option<Numbered>,
    #[serde(borrow)]
    check_run: Option<CheckRun<'a>>,
}

#[derive(Deserialize)]
struct Id {
    id: i64,
}

#[derive(Deserialize)]
struct Numbered {
    number: u64,
}

#[derive(Deserialize)]
struct Repository<'a> {
    #[serde(borrow)]
    full_name: Cow<'a, str>,
}

#[derive(Deserialize)]
struct CheckRun<'a> {
    #[serde(borrow)]
    head_sha: Option<Cow<'a, str>>,
    #[serde(default)]
    pull_requests: Vec<Numbered>,
    #[serde(borrow)]
    check_suite: Option<CheckSuite<'a>>,
}

#[derive(Deserialize)]
struct CheckSuite<'a> {
    #[serde(borrow)]
    head_branch: Option<Cow<'a, str>>,
}

impl Envelope {
    /// Reads the envelope of a handled event from its raw JSON body.
    pub fn parse(delivery_id: &str, event: &str, body: &[u8]) -> Result<Self, EnvelopeError> {
        let parsed: Body<'_> = serde_json::from_slice(body)?;
        let repository = parsed.repository.as_ref().map(|r| r.full_name.to_string());
        let installation_id = parsed.installation.as_ref().map(|i| i.id);
        let ordering_key = ordering_key(event, &parsed, repository.as_deref(), installation_id);
        Ok(Envelope {
            delivery_id: delivery_id.to_string(),
            event: event.to_string(),
            action: parsed.action.map(Cow::into_owned),
            installation_id,
            repository,
            ordering_key,
        })
    }
}

fn ordering_key(
    event: &str,
    body: &Body<'_>,
    repo: Option<&str>,
    installation: Option<i64>,
) -> Option<String> {
    let pull = |number: u64| repo.map(|repo| format!("{repo}#{number}"));
    let branch = |name: &str| repo.map(|repo| format!("{repo}@{name}"));
    match event {
        "pull_request" | "pull_request_review" => {
            body.pull_request.as_ref().and_then(|p| pull(p.number))
        }
        "issue_comment" => body.issue.as_ref().and_then(|i| pull(i.number)),
        "push" => body.git_ref.as_deref().and_then(branch),
        "check_run" => {
            let run = body.check_run.as_ref()?;
            if let Some(first) = run.pull_requests.first() {
                return pull(first.number);
            }
            let head_branch = run
                .check_suite
                .as_ref()
                .and_then(|s| s.head_branch.as_deref());
            match head_branch {
                Some(name) => branch(&format!("refs/heads/{name}")),
                None => run.head_sha.as_deref().and_then(branch),
            }
        }
        "installation" | "installation_repositories" => {
            installation.map(|id| format!("installation:{id}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_request_is_ordered_per_pull_request() {
        let body = br#"{"action":"opened","number":7,"pull_request":{"number":7},
            "repository":{"full_name":"acme/config"},"installation":{"id":42}}"#;
        let envelope = Envelope::parse("d-1", "pull_request", body).unwrap();
        assert_eq!(envelope.action.as_deref(), Some("opened"));
        assert_eq!(envelope.installation_id, Some(42));
        assert_eq!(envelope.repository.as_deref(), Some("acme/config"));
        assert_eq!(envelope.ordering_key.as_deref(), Some("acme/config#7"));
    }

    #[test]
    fn push_is_ordered_per_branch() {
        let body = br#"{"ref":"refs/heads/main","repository":{"full_name":"acme/api"}}"#;
        let envelope = Envelope::parse("d-2", "push", body).unwrap();
        assert_eq!(envelope.action, None);
        assert_eq!(
            envelope.ordering_key.as_deref(),
            Some("acme/api@refs/heads/main")
        );
    }

    #[test]
    fn comments_on_a_pull_request_share_its_key() {
        let body = br#"{"action":"created","issue":{"number":7},"repository":{"full_name":"acme/config"}}"#;
        let envelope = Envelope::parse("d-3", "issue_comment", body).unwrap();
        assert_eq!(envelope.ordering_key.as_deref(), Some("acme/config#7"));
    }

    #[test]
    fn not_json_is_an_error() {
        assert!(Envelope::parse("d-4", "push", b"not json").is_err());
    }

    #[test]
    fn dispositions() {
        assert_eq!(EventDisposition::of("ping"), EventDisposition::Ping);
        assert_eq!(EventDisposition::of("push"), EventDisposition::Handled);
        assert_eq!(EventDisposition::of("star"), EventDisposition::Ignored);
    }
}

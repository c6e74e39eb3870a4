//! Decoding: a stored payload becomes its [`Event`], or an error that names the field.
//!
//! Pure: no I/O. The payload is read as JSON once and walked field by field, so an error says
//! where the payload is wrong (`pull_request.head.sha`), not only that it is.

use serde_json::Value;

use super::events::{
    CheckRunEvent, Comment, Event, Installation, InstallationEvent, InstallationRepositoriesEvent,
    IssueCommentEvent, PullRequestEvent, PullRequestReviewEvent, PullSide, PushEvent, Repository,
    User,
};
use super::ids::{InstallationId, PullNumber};
use crate::git::CommitId;
use crate::github::RepoRef;

/// Why a payload is not the event its name says.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the {event} payload is not JSON: {source}")]
    NotJson {
        event: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the {event} payload is not as expected: `{field}` {problem}")]
    Field {
        event: String,
        /// The field's path from the payload's root, e.g. `pull_request.head.sha`.
        field: String,
        problem: String,
    },
    #[error("slipway does not decode {event} events")]
    Unhandled { event: String },
}

impl DecodeError {
    /// The field that is missing or wrong, when one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            DecodeError::Field { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// Decodes the payload of one `X-GitHub-Event`.
pub fn decode(event: &str, payload: &[u8]) -> Result<Event, DecodeError> {
    let value: Value = serde_json::from_slice(payload).map_err(|source| DecodeError::NotJson {
        event: event.to_string(),
        source,
    })?;
    let root = Node {
        event,
        path: String::new(),
        value: &value,
    };
    Ok(match event {
        "pull_request" => Event::PullRequest(pull_request(&root)?),
        "issue_comment" => Event::IssueComment(issue_comment(&root)?),
        "push" => Event::Push(push(&root)?),
        "pull_request_review" => Event::PullRequestReview(pull_request_review(&root)?),
        "check_run" => Event::CheckRun(check_run(&root)?),
        "installation" => Event::Installation(installation_event(&root)?),
        "installation_repositories" => {
            Event::InstallationRepositories(installation_repositories(&root)?)
        }
        _ => {
            return Err(DecodeError::Unhandled {
                event: event.to_string(),
            })
        }
    })
}

fn pull_request(root: &Node<'_>) -> Result<PullRequestEvent, DecodeError> {
    let pull = root.get("pull_request")?;
    Ok(PullRequestEvent {
        action: root.get("action")?.string()?,
        installation: installation_id(root)?,
        repository: repository(&root.get("repository")?)?,
        number: PullNumber(pull.get("number")?.u64()?),
        head: pull_side(&pull.get("head")?)?,
        base: pull_side(&pull.get("base")?)?,
        merged: pull
            .opt("merged")
            .map(|n| n.bool())
            .transpose()?
            .unwrap_or(false),
        merge_commit_sha: pull.opt("merge_commit_sha").map(|n| n.sha()).transpose()?,
        sender: root.opt("sender").map(|n| user(&n)).transpose()?,
        base_changed: root
            .opt("changes")
            .is_some_and(|changes| changes.opt("base").is_some()),
        updated_at: pull.opt("updated_at").map(|n| n.string()).transpose()?,
    })
}

fn pull_side(side: &Node<'_>) -> Result<PullSide, DecodeError> {
    Ok(PullSide {
        git_ref: side.get("ref")?.string()?,
        sha: side.get("sha")?.sha()?,
        repo: side
            .opt("repo")
            .map(|repo| repo.get("full_name")?.repo())
            .transpose()?,
    })
}

fn issue_comment(root: &Node<'_>) -> Result<IssueCommentEvent, DecodeError> {
    let issue = root.get("issue")?;
    let comment = root.get("comment")?;
    Ok(IssueCommentEvent {
        action: root.get("action")?.string()?,
        installation: installation_id(root)?,
        repository: repository(&root.get("repository")?)?,
        number: PullNumber(issue.get("number")?.u64()?),
        on_pull_request: issue.opt("pull_request").is_some(),
        comment: Comment {
            id: comment.get("id")?.u64()?,
            body: comment
                .opt("body")
                .map(|n| n.string())
                .transpose()?
                .unwrap_or_default(),
            user: user(&comment.get("user")?)?,
        },
        sender: user(&root.get("sender")?)?,
    })
}

fn push(root: &Node<'_>) -> Result<PushEvent, DecodeError> {
    Ok(PushEvent {
        installation: installation_id(root)?,
        repository: repository(&root.get("repository")?)?,
        git_ref: root.get("ref")?.string()?,
        before: root.get("before")?.sha()?,
        after: root.get("after")?.sha()?,
        pusher: root.get("pusher")?.get("name")?.string()?,
        deleted: flag(root, "deleted")?,
        created: flag(root, "created")?,
        head_commit_message: root
            .opt("head_commit")
            .map(|commit| commit.get("message")?.string())
            .transpose()?,
        sender: root.opt("sender").map(|s| user(&s)).transpose()?,
    })
}

fn pull_request_review(root: &Node<'_>) -> Result<PullRequestReviewEvent, DecodeError> {
    let review = root.get("review")?;
    let pull = root.get("pull_request")?;
    Ok(PullRequestReviewEvent {
        action: root.get("action")?.string()?,
        installation: installation_id(root)?,
        repository: repository(&root.get("repository")?)?,
        number: PullNumber(pull.get("number")?.u64()?),
        head_sha: pull.get("head")?.get("sha")?.sha()?,
        state: review.get("state")?.string()?,
        reviewer: user(&review.get("user")?)?,
        commit_id: review.opt("commit_id").map(|n| n.sha()).transpose()?,
    })
}

fn check_run(root: &Node<'_>) -> Result<CheckRunEvent, DecodeError> {
    let run = root.get("check_run")?;
    let pull_requests = match run.opt("pull_requests") {
        Some(list) => list
            .items()?
            .iter()
            .map(|pull| Ok(PullNumber(pull.get("number")?.u64()?)))
            .collect::<Result<_, DecodeError>>()?,
        None => Vec::new(),
    };
    Ok(CheckRunEvent {
        action: root.get("action")?.string()?,
        installation: installation_id(root)?,
        repository: repository(&root.get("repository")?)?,
        check_run_id: run.get("id")?.u64()?,
        name: run.get("name")?.string()?,
        head_sha: run.get("head_sha")?.sha()?,
        head_branch: run
            .opt("check_suite")
            .and_then(|suite| suite.opt("head_branch"))
            .map(|branch| branch.string())
            .transpose()?,
        pull_requests,
        requested_action: root
            .opt("requested_action")
            .map(|action| action.get("identifier")?.string())
            .transpose()?,
        sender: root.opt("sender").map(|s| user(&s)).transpose()?,
    })
}

fn installation_event(root: &Node<'_>) -> Result<InstallationEvent, DecodeError> {
    Ok(InstallationEvent {
        action: root.get("action")?.string()?,
        installation: installation(&root.get("installation")?)?,
        repositories: repositories(root, "repositories")?,
    })
}

fn installation_repositories(
    root: &Node<'_>,
) -> Result<InstallationRepositoriesEvent, DecodeError> {
    Ok(InstallationRepositoriesEvent {
        action: root.get("action")?.string()?,
        installation: installation(&root.get("installation")?)?,
        repository_selection: root.get("repository_selection")?.string()?,
        added: repositories(root, "repositories_added")?,
        removed: repositories(root, "repositories_removed")?,
    })
}

fn installation(node: &Node<'_>) -> Result<Installation, DecodeError> {
    Ok(Installation {
        id: InstallationId(node.get("id")?.i64()?),
        account: node.opt("account").map(|a| user(&a)).transpose()?,
        repository_selection: node
            .opt("repository_selection")
            .map(|n| n.string())
            .transpose()?,
    })
}

fn repositories(root: &Node<'_>, key: &str) -> Result<Vec<RepoRef>, DecodeError> {
    match root.opt(key) {
        Some(list) => list
            .items()?
            .iter()
            .map(|repo| repo.get("full_name")?.repo())
            .collect(),
        None => Ok(Vec::new()),
    }
}

fn installation_id(root: &Node<'_>) -> Result<Option<InstallationId>, DecodeError> {
    root.opt("installation")
        .map(|installation| Ok(InstallationId(installation.get("id")?.i64()?)))
        .transpose()
}

fn repository(node: &Node<'_>) -> Result<Repository, DecodeError> {
    Ok(Repository {
        full_name: node.get("full_name")?.repo()?,
        clone_url: node.get("clone_url")?.string()?,
        default_branch: node.get("default_branch")?.string()?,
        fork: flag(node, "fork")?,
        html_url: node.opt("html_url").map(|n| n.string()).transpose()?,
    })
}

/// A boolean that GitHub may leave out, meaning false.
fn flag(node: &Node<'_>, key: &str) -> Result<bool, DecodeError> {
    Ok(node
        .opt(key)
        .map(|n| n.bool())
        .transpose()?
        .unwrap_or(false))
}

fn user(node: &Node<'_>) -> Result<User, DecodeError> {
    Ok(User {
        login: node.get("login")?.string()?,
        kind: node
            .opt("type")
            .map(|n| n.string())
            .transpose()?
            .unwrap_or_default(),
    })
}

/// A value in the payload and where it is.
struct Node<'a> {
    event: &'a str,
    path: String,
    value: &'a Value,
}

impl<'a> Node<'a> {
    fn child(&self, key: &str, value: &'a Value) -> Node<'a> {
        let path = if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        };
        Node {
            event: self.event,
            path,
            value,
        }
    }

    fn error(&self, problem: impl Into<String>) -> DecodeError {
        DecodeError::Field {
            event: self.event.to_string(),
            field: if self.path.is_empty() {
                "(the payload)".to_string()
            } else {
                self.path.clone()
            },
            problem: problem.into(),
        }
    }

    /// A field that must be there and not `null`.
    fn get(&self, key: &str) -> Result<Node<'a>, DecodeError> {
        let Some(object) = self.value.as_object() else {
            return Err(self.error("is not an object"));
        };
        match object.get(key) {
            Some(Value::Null) | None => Err(self.child(key, &Value::Null).error("is missing")),
            Some(value) => Ok(self.child(key, value)),
        }
    }

    /// A field that may be absent or `null`.
    fn opt(&self, key: &str) -> Option<Node<'a>> {
        match self.value.as_object()?.get(key)? {
            Value::Null => None,
            value => Some(self.child(key, value)),
        }
    }

    fn string(&self) -> Result<String, DecodeError> {
        self.value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.error(format!("is not a string ({})", self.value)))
    }

    fn u64(&self) -> Result<u64, DecodeError> {
        self.value
            .as_u64()
            .ok_or_else(|| self.error(format!("is not a positive integer ({})", self.value)))
    }

    fn i64(&self) -> Result<i64, DecodeError> {
        self.value
            .as_i64()
            .ok_or_else(|| self.error(format!("is not an integer ({})", self.value)))
    }

    fn bool(&self) -> Result<bool, DecodeError> {
        self.value
            .as_bool()
            .ok_or_else(|| self.error(format!("is not true or false ({})", self.value)))
    }

    fn items(&self) -> Result<Vec<Node<'a>>, DecodeError> {
        let Some(items) = self.value.as_array() else {
            return Err(self.error("is not a list"));
        };
        Ok(items
            .iter()
            .enumerate()
            .map(|(index, value)| Node {
                event: self.event,
                path: format!("{}[{index}]", self.path),
                value,
            })
            .collect())
    }

    fn sha(&self) -> Result<CommitId, DecodeError> {
        let text = self.string()?;
        if text.len() != 40 {
            return Err(self.error(format!("is not a 40-digit commit id (`{text}`)")));
        }
        text.parse()
            .map_err(|_| self.error(format!("is not a 40-digit commit id (`{text}`)")))
    }

    fn repo(&self) -> Result<RepoRef, DecodeError> {
        let text = self.string()?;
        text.parse()
            .map_err(|err: crate::github::RepoRefError| self.error(format!("is wrong: {err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_field_is_named_by_its_path() {
        let body = br#"{"action":"opened","pull_request":{"number":7,"head":{"ref":"x"}},
            "repository":{"full_name":"acme/config","clone_url":"u","default_branch":"main"}}"#;
        let err = decode("pull_request", body).unwrap_err();
        assert_eq!(err.field(), Some("pull_request.head.sha"));
        assert_eq!(
            err.to_string(),
            "the pull_request payload is not as expected: `pull_request.head.sha` is missing"
        );
    }

    #[test]
    fn a_short_sha_is_not_a_commit() {
        let body = br#"{"ref":"refs/heads/main","before":"abc","after":"abc",
            "pusher":{"name":"a"},
            "repository":{"full_name":"acme/api","clone_url":"u","default_branch":"main"}}"#;
        let err = decode("push", body).unwrap_err();
        assert_eq!(err.field(), Some("before"));
        assert!(
            err.to_string().contains("40-digit commit id (`abc`)"),
            "{err}"
        );
    }

    #[test]
    fn list_items_are_named_by_index() {
        let body = br#"{"action":"added","installation":{"id":1},"repository_selection":"all",
            "repositories_added":[{"full_name":"acme/a"},{"full_name":"not a repo"}]}"#;
        let err = decode("installation_repositories", body).unwrap_err();
        assert_eq!(err.field(), Some("repositories_added[1].full_name"));
    }

    #[test]
    fn not_json_is_its_own_error() {
        let err = decode("push", b"{").unwrap_err();
        assert!(matches!(err, DecodeError::NotJson { .. }), "{err}");
        assert_eq!(err.field(), None);
    }
}

//! Typed events decoded from GitHub's own example payloads: every handled example decodes,
//! the fields slipway reads carry the example's values, and a payload that lacks one names it.

mod support;

use serde_json::Value;
use slipway::webhook::{decode, Event, InstallationId, PullNumber};
use support::{fixture, fixtures_in};

fn decoded(relative: &str) -> Event {
    let event = relative.split('/').nth(1).expect("handled/<event>/<file>");
    decode(event, &fixture(relative)).unwrap_or_else(|err| panic!("{relative}: {err}"))
}

#[test]
fn every_handled_example_decodes_into_its_event() {
    let examples = fixtures_in("handled");
    assert!(examples.len() >= 60, "found {}", examples.len());
    for (event, path) in examples {
        let body = std::fs::read(&path).unwrap();
        let decoded =
            decode(&event, &body).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        assert_eq!(decoded.name(), event, "{}", path.display());
    }
}

#[test]
fn a_pull_request_carries_its_sides_and_repository() {
    let Event::PullRequest(pull) = decoded("handled/pull_request/00-opened.json") else {
        panic!("not a pull_request");
    };
    assert_eq!(pull.action, "opened");
    assert_eq!(pull.number, PullNumber(2));
    assert_eq!(pull.installation, None);
    assert_eq!(
        pull.repository.full_name.to_string(),
        "Codertocat/Hello-World"
    );
    assert_eq!(
        pull.repository.clone_url,
        "https://github.com/Codertocat/Hello-World.git"
    );
    assert_eq!(pull.head.git_ref, "changes");
    assert_eq!(
        pull.head.sha.to_hex(),
        "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    );
    assert_eq!(pull.base.git_ref, "master");
    assert_eq!(
        pull.base.sha.to_hex(),
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    );
    assert_eq!(pull.fork(), None, "the head is a branch of the repository");
    assert!(!pull.merged);
    assert_eq!(pull.merge_commit_sha, None);
}

#[test]
fn a_closed_pull_request_carries_its_merge_commit() {
    let Event::PullRequest(pull) = decoded("handled/pull_request/03-closed.json") else {
        panic!("not a pull_request");
    };
    assert_eq!(pull.action, "closed");
    assert_eq!(pull.installation, Some(InstallationId(1)));
    assert_eq!(
        pull.merge_commit_sha.map(|sha| sha.to_hex()).as_deref(),
        Some("c4295bd74fb0f4fda03689c3df3f2803b658fd85")
    );
}

#[test]
fn a_merged_pull_request_says_so() {
    let mut body: Value =
        serde_json::from_slice(&fixture("handled/pull_request/03-closed.json")).unwrap();
    body["pull_request"]["merged"] = true.into();
    let Ok(Event::PullRequest(pull)) = decode("pull_request", &serde_json::to_vec(&body).unwrap())
    else {
        panic!("not a pull_request");
    };
    assert!(pull.merged);
}

#[test]
fn a_pull_request_from_a_deleted_fork_names_no_head_repository() {
    let mut body: Value =
        serde_json::from_slice(&fixture("handled/pull_request/00-opened.json")).unwrap();
    body["pull_request"]["head"]["repo"] = Value::Null;
    let Ok(Event::PullRequest(pull)) = decode("pull_request", &serde_json::to_vec(&body).unwrap())
    else {
        panic!("not a pull_request");
    };
    assert_eq!(pull.head.repo, None);
    assert_eq!(pull.fork().as_deref(), Some("a deleted fork"));
}

#[test]
fn a_push_carries_its_ref_commits_pusher_and_message() {
    let Event::Push(push) = decoded("handled/push/00-push.json") else {
        panic!("not a push");
    };
    assert_eq!(push.git_ref, "refs/tags/simple-tag");
    assert_eq!(push.before.to_hex(), "0".repeat(40));
    assert_eq!(
        push.after.to_hex(),
        "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    );
    assert_eq!(push.pusher, "Codertocat");
    assert_eq!(
        push.head_commit_message.as_deref(),
        Some("Adding a .gitignore file")
    );
    assert_eq!(
        push.repository.full_name.to_string(),
        "Codertocat/Hello-World"
    );
}

#[test]
fn a_push_that_deletes_a_ref_has_no_head_commit() {
    let Event::Push(push) = decoded("handled/push/01-push.json") else {
        panic!("not a push");
    };
    assert_eq!(push.after.to_hex(), "0".repeat(40));
    assert_eq!(push.head_commit_message, None);
}

#[test]
fn a_check_run_action_carries_its_identifier() {
    let Event::CheckRun(run) = decoded("handled/check_run/06-requested_action.json") else {
        panic!("not a check_run");
    };
    assert_eq!(run.action, "requested_action");
    assert_eq!(run.requested_action.as_deref(), Some("lgtm|26764"));
    assert_eq!(run.check_run_id, 1494503112);
    assert_eq!(run.name, "API Review");
    assert_eq!(
        run.head_sha.to_hex(),
        "5bd5f196a46b8222fb7484f05faba41a73cf34bd"
    );
    assert_eq!(run.pull_requests, vec![PullNumber(26764)]);
}

#[test]
fn a_review_carries_its_state_reviewer_and_commit() {
    let Event::PullRequestReview(review) = decoded("handled/pull_request_review/00-submitted.json")
    else {
        panic!("not a pull_request_review");
    };
    assert_eq!(review.state, "commented");
    assert_eq!(review.reviewer.login, "Codertocat");
    assert_eq!(review.number, PullNumber(2));
    assert_eq!(
        review.commit_id.map(|sha| sha.to_hex()).as_deref(),
        Some("ec26c3e57ca3a959ca5aad62de7213c562f8c821")
    );
}

#[test]
fn a_comment_on_an_issue_is_not_on_a_pull_request() {
    let Event::IssueComment(comment) = decoded("handled/issue_comment/00-created.json") else {
        panic!("not an issue_comment");
    };
    assert_eq!(comment.number, PullNumber(1));
    assert!(!comment.on_pull_request);
    assert_eq!(comment.comment.id, 492700400);
    assert_eq!(
        comment.comment.body,
        "You are totally right! I'll get this fixed right away."
    );
    assert_eq!(comment.sender.login, "Codertocat");
    assert!(!comment.sender.is_bot());
    assert_eq!(comment.repository.default_branch, "master");
}

#[test]
fn an_installation_carries_its_account_and_repositories() {
    let Event::Installation(installation) = decoded("handled/installation/01-created.json") else {
        panic!("not an installation");
    };
    assert_eq!(installation.action, "created");
    assert_eq!(installation.installation.id, InstallationId(957387));
    let account = installation.installation.account.expect("an account");
    assert_eq!(
        (account.login.as_str(), account.kind.as_str()),
        ("Codertocat", "User")
    );
    assert_eq!(
        installation.installation.repository_selection.as_deref(),
        Some("selected")
    );
    let names: Vec<String> = installation
        .repositories
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(names, ["Codertocat/Hello-World"]);
}

#[test]
fn removed_repositories_are_listed() {
    let Event::InstallationRepositories(change) =
        decoded("handled/installation_repositories/02-removed.json")
    else {
        panic!("not an installation_repositories");
    };
    assert_eq!(change.installation.id, InstallationId(2));
    assert_eq!(change.repository_selection, "selected");
    assert!(change.added.is_empty());
    let removed: Vec<String> = change.removed.iter().map(ToString::to_string).collect();
    assert_eq!(removed, ["octocat/Hello-World"]);
}

#[test]
fn a_pull_request_without_a_head_sha_names_the_field() {
    let mut body: Value =
        serde_json::from_slice(&fixture("handled/pull_request/00-opened.json")).unwrap();
    body["pull_request"]["head"]
        .as_object_mut()
        .unwrap()
        .remove("sha");
    let err = decode("pull_request", &serde_json::to_vec(&body).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the pull_request payload is not as expected: `pull_request.head.sha` is missing"
    );
}

#[test]
fn a_repository_name_that_is_not_owner_slash_name_is_refused() {
    let mut body: Value = serde_json::from_slice(&fixture("handled/push/00-push.json")).unwrap();
    body["repository"]["full_name"] = "Hello-World".into();
    let err = decode("push", &serde_json::to_vec(&body).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the push payload is not as expected: `repository.full_name` is wrong: \
         `Hello-World` is not a repository of the form owner/name"
    );
}

#[test]
fn a_comment_id_that_is_not_a_number_is_refused() {
    let mut body: Value =
        serde_json::from_slice(&fixture("handled/issue_comment/00-created.json")).unwrap();
    body["comment"]["id"] = "492700400".into();
    let err = decode("issue_comment", &serde_json::to_vec(&body).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the issue_comment payload is not as expected: `comment.id` is not a positive integer (\"492700400\")"
    );
}

#[test]
fn a_synchronize_names_its_pusher_as_sender() {
    let Event::PullRequest(pull) = decoded("handled/pull_request/22-synchronize.json") else {
        panic!("not a pull_request");
    };
    assert_eq!(pull.action, "synchronize");
    assert_eq!(pull.sender.map(|s| s.login).as_deref(), Some("Codertocat"));
    assert!(!pull.base_changed);
    assert_eq!(pull.updated_at.as_deref(), Some("2019-05-15T15:20:33Z"));
}

#[test]
fn an_edit_that_changed_the_base_says_so() {
    // GitHub's `edited` payload: `changes` holds the old value of each edited field.
    let mut body: Value =
        serde_json::from_slice(&fixture("handled/pull_request/00-opened.json")).unwrap();
    body["action"] = "edited".into();
    body["changes"] = serde_json::json!({ "title": { "from": "old title" } });
    let Ok(Event::PullRequest(title_only)) =
        decode("pull_request", &serde_json::to_vec(&body).unwrap())
    else {
        panic!("not a pull_request");
    };
    assert!(
        !title_only.base_changed,
        "a title edit is not a base change"
    );

    body["changes"] = serde_json::json!({
        "base": { "ref": { "from": "sandbox" }, "sha": { "from": "0".repeat(40) } }
    });
    let Ok(Event::PullRequest(rebased)) =
        decode("pull_request", &serde_json::to_vec(&body).unwrap())
    else {
        panic!("not a pull_request");
    };
    assert!(rebased.base_changed);
}

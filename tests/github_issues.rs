//! Issues through slipway's real client against the fake GitHub: opening one with labels,
//! changing and closing it, and finding the open ones of a label while pull requests (which
//! GitHub lists as issues too) are left out.

mod support;

use slipway::github::{GitHubError, IssueState, IssueUpdate, RepoRef, ISSUE_BODY_LIMIT};
use support::fake_github::{app_bot_login, FakeIssue, PullSpec};
use support::FakeGitHub;

const INSTALLATION: i64 = 42;
const REPO: &str = "acme/config";
const LABEL: &str = "slipway:drift";

fn repo() -> RepoRef {
    REPO.parse().unwrap()
}

fn labels(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// An issue of `REPO` that exists before the test starts.
fn existing_issue(number: u64, state: &str, labels_: &[&str], by_bot: bool) -> FakeIssue {
    FakeIssue {
        number,
        repo: REPO.to_string(),
        title: format!("Issue {number}"),
        body: Some(format!("body of {number}")),
        state: state.to_string(),
        labels: labels(labels_),
        user_login: if by_bot {
            app_bot_login()
        } else {
            "octocat".to_string()
        },
        user_type: if by_bot { "Bot" } else { "User" }.to_string(),
        edits: 0,
    }
}

async fn start(
    fake: support::fake_github::FakeGitHubBuilder,
) -> (FakeGitHub, slipway::github::GitHub) {
    let fake = fake.fail_on_unread_output().start().await;
    let github = support::github_client(&fake);
    (fake, github)
}

fn plain_fake() -> support::fake_github::FakeGitHubBuilder {
    FakeGitHub::builder()
        .with_installation(INSTALLATION)
        .with_repository(REPO)
}

#[tokio::test]
async fn an_issue_opens_as_the_app_with_its_labels_and_the_next_number_after_pull_requests() {
    let (fake, github) = start(
        plain_fake()
            .with_pull(REPO, PullSpec::new(1, "change", "main"))
            .with_issue(REPO, 2),
    )
    .await;

    let issue = github
        .create_issue(
            INSTALLATION,
            &repo(),
            "Drift: prod differs from abc1234",
            "the body",
            &labels(&[LABEL]),
        )
        .await
        .unwrap();

    assert_eq!(issue.number, 3, "numbers are shared with pull requests");
    assert_eq!(issue.state, IssueState::Open);
    assert_eq!(issue.title, "Drift: prod differs from abc1234");
    assert_eq!(issue.body, "the body");
    assert_eq!(issue.labels, [LABEL]);
    assert!(issue.is_by_bot());
    assert_eq!(issue.html_url, "https://github.com/acme/config/issues/3");

    let opened = fake.issues(REPO);
    let on_github = opened.iter().find(|i| i.number == 3).expect("issue #3");
    assert_eq!(on_github.user_login, app_bot_login());
    assert_eq!(on_github.labels, [LABEL]);
}

#[tokio::test]
async fn an_issue_without_a_title_or_with_a_body_over_the_limit_is_refused_and_nothing_opens() {
    let (fake, github) = start(plain_fake()).await;

    let no_title = github
        .create_issue(INSTALLATION, &repo(), "  ", "body", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(no_title, GitHubError::Status { status: 422, ref message, .. } if message.contains("title")),
        "{no_title}"
    );

    let too_long = "x".repeat(ISSUE_BODY_LIMIT + 1);
    let refused = github
        .create_issue(INSTALLATION, &repo(), "Drift", &too_long, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(refused, GitHubError::Status { status: 422, ref message, .. } if message.contains("too long")),
        "{refused}"
    );

    assert!(fake.issues(REPO).is_empty());
}

#[tokio::test]
async fn an_unknown_repository_is_not_found_and_one_with_issues_turned_off_is_gone() {
    let (_fake, github) = start(plain_fake().with_issues_disabled("acme/no-issues")).await;

    let unknown: RepoRef = "acme/missing".parse().unwrap();
    let error = github
        .create_issue(INSTALLATION, &unknown, "Drift", "body", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, GitHubError::Status { status: 404, .. }),
        "{error}"
    );

    let disabled: RepoRef = "acme/no-issues".parse().unwrap();
    let error = github
        .list_open_issues_with_label(INSTALLATION, &disabled, LABEL)
        .await
        .unwrap_err();
    assert!(
        matches!(error, GitHubError::Status { status: 410, .. }),
        "{error}"
    );
    assert!(
        !error.is_retryable(),
        "turning issues on is the owner's call"
    );
}

#[tokio::test]
async fn an_update_changes_only_what_it_names() {
    let (fake, github) =
        start(plain_fake().with_fake_issue(existing_issue(5, "open", &[LABEL], true))).await;

    let updated = github
        .update_issue(
            INSTALLATION,
            &repo(),
            5,
            &IssueUpdate {
                body: Some("the drift now".to_string()),
                ..IssueUpdate::default()
            },
        )
        .await
        .unwrap();

    assert_eq!(updated.body, "the drift now");
    assert_eq!(updated.title, "Issue 5", "the title stays");
    assert_eq!(updated.state, IssueState::Open);
    let on_github = &fake.issues(REPO)[0];
    assert_eq!(on_github.body.as_deref(), Some("the drift now"));
    assert_eq!(on_github.labels, [LABEL], "labels stay");
    assert_eq!(on_github.edits, 1);
}

#[tokio::test]
async fn closing_with_a_comment_says_why_in_the_issue_then_closes_it() {
    let (fake, github) =
        start(plain_fake().with_fake_issue(existing_issue(5, "open", &[LABEL], true))).await;

    let (closed, comment) = github
        .close_issue_with_comment(INSTALLATION, &repo(), 5, "No drift any more.")
        .await
        .unwrap();

    assert_eq!(closed.state, IssueState::Closed);
    assert_eq!(comment.body, "No drift any more.");
    let comments = fake.comments_on(REPO, 5);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].body, "No drift any more.");
    assert_eq!(fake.issues(REPO)[0].state, "closed");
    let calls: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/repos/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        calls,
        [
            "POST /repos/acme/config/issues/5/comments",
            "PATCH /repos/acme/config/issues/5"
        ],
        "the comment comes first, so a closed issue always says why"
    );
}

#[tokio::test]
async fn the_open_issues_of_a_label_are_read_across_pages_without_pull_requests() {
    let (fake, github) = start(
        plain_fake()
            .with_page_size(2)
            .with_pull(REPO, PullSpec::new(1, "change", "main"))
            .with_pull_labels(REPO, 1, &[LABEL])
            .with_fake_issue(existing_issue(2, "open", &[LABEL], true))
            .with_fake_issue(existing_issue(3, "closed", &[LABEL], true))
            .with_fake_issue(existing_issue(4, "open", &["bug"], false))
            .with_fake_issue(existing_issue(5, "open", &["bug", LABEL], false))
            .with_fake_issue(existing_issue(6, "open", &[LABEL], true)),
    )
    .await;

    let found = github
        .list_open_issues_with_label(INSTALLATION, &repo(), LABEL)
        .await
        .unwrap();

    let numbers: Vec<u64> = found.iter().map(|i| i.number).collect();
    assert_eq!(numbers, [2, 5, 6]);
    assert!(found.iter().all(|i| i.is_open()));
    assert_eq!(found[1].user_login, "octocat");
    let lists = fake.requests_to("GET /repos/acme/config/issues");
    assert_eq!(
        lists.len(),
        2,
        "two pages of two (the pull request fills a slot)"
    );
    assert!(
        lists[0]
            .query
            .as_deref()
            .is_some_and(|q| q.contains("state=open") && q.contains("labels=slipway%3Adrift")),
        "{:?}",
        lists[0].query
    );
}

#[tokio::test]
async fn an_issue_the_test_never_read_is_listed_as_unread_output() {
    let fake = plain_fake().start().await;
    let github = support::github_client(&fake);

    let issue = github
        .create_issue(
            INSTALLATION,
            &repo(),
            "Drift: dev differs from 1234567",
            "b",
            &[],
        )
        .await
        .unwrap();
    github
        .update_issue(
            INSTALLATION,
            &repo(),
            issue.number,
            &IssueUpdate {
                state: Some(IssueState::Closed),
                ..IssueUpdate::default()
            },
        )
        .await
        .unwrap();

    assert_eq!(
        fake.unread(),
        [
            "issue #1 opened, open: Drift: dev differs from 1234567",
            "issue #1 edited (edit 1), closed: Drift: dev differs from 1234567",
        ]
    );
    fake.issues(REPO);
    assert!(fake.unread().is_empty());
}

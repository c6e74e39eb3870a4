//! The GitHub REST surface pipelines use (comments, reactions, check runs, permissions, pull
//! requests, Git Data commits), each against the fake GitHub backed by a real bare repository.

mod git_fixtures;
mod support;

use git_fixtures::{git_in, TestRepo};
use slipway::github::{
    Annotation, BranchMove, CheckConclusion, CheckRunOutput, CheckRunRequest, CheckRunUpdate,
    CheckStatus, CommitRequest, GitHubError, Reaction, ReactionOutcome, RepoPermission, RepoRef,
    ReviewState, TreeEntry, TreeMode,
};
use support::fake_github::{app_bot_login, PullSpec};
use support::FakeGitHub;

const INSTALLATION: i64 = 42;

fn repo() -> RepoRef {
    "acme/config".parse().unwrap()
}

/// A config repo with `main` and a branch `change`, served by the fake.
struct World {
    fake: FakeGitHub,
    _work: TestRepo,
    _dir: tempfile::TempDir,
    bare: std::path::PathBuf,
    main: String,
}

async fn world(
    configure: impl FnOnce(
        support::fake_github::FakeGitHubBuilder,
    ) -> support::fake_github::FakeGitHubBuilder,
) -> World {
    let work = TestRepo::new();
    work.write("envs/dev/app.yaml", "kind: ConfigMap\n");
    let main = work.commit("first");
    work.git(&["checkout", "--quiet", "-b", "change"]);
    work.write("envs/dev/app.yaml", "kind: ConfigMap # changed\n");
    work.commit("change");
    work.git(&["checkout", "--quiet", "main"]);
    let (dir, bare) = work.bare_clone();
    let builder = FakeGitHub::builder()
        .with_installation(INSTALLATION)
        .with_repo("acme/config", &bare);
    let fake = configure(builder).start().await;
    World {
        fake,
        _work: work,
        _dir: dir,
        bare,
        main,
    }
}

#[tokio::test]
async fn comments_are_created_listed_across_pages_edited_and_deleted() {
    let w = world(|b| {
        b.with_pull("acme/config", PullSpec::new(7, "change", "main"))
            .with_page_size(2)
    })
    .await;
    let github = support::github_client(&w.fake);
    w.fake
        .user_comments("acme/config", 7, "alice", "looks good");
    let mut created = Vec::new();
    for n in 0..4 {
        let comment = github
            .create_issue_comment(INSTALLATION, &repo(), 7, &format!("note {n}"))
            .await
            .unwrap();
        assert_eq!(comment.user_login, app_bot_login());
        assert!(comment.is_by_bot());
        created.push(comment);
    }

    let mark = w.fake.request_count();
    let listed = github
        .list_issue_comments(INSTALLATION, &repo(), 7)
        .await
        .unwrap();
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert_eq!(listed[0].user_login, "alice");
    assert_eq!(listed[0].user_type, "User");
    assert_eq!(listed[4].body, "note 3");
    assert_eq!(
        w.fake.repo_calls_since(mark).len(),
        3,
        "five comments at two per page are three pages"
    );

    let edited = github
        .update_issue_comment(INSTALLATION, &repo(), created[0].id, "edited")
        .await
        .unwrap();
    assert_eq!(edited.body, "edited");
    github
        .delete_issue_comment(INSTALLATION, &repo(), created[1].id)
        .await
        .unwrap();
    let bodies: Vec<String> = w
        .fake
        .comments_on("acme/config", 7)
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert_eq!(bodies, ["looks good", "edited", "note 2", "note 3"]);
}

#[tokio::test]
async fn a_comment_over_githubs_limit_is_refused_and_a_missing_pull_is_not_found() {
    let w = world(|b| b.with_pull("acme/config", PullSpec::new(7, "change", "main"))).await;
    let github = support::github_client(&w.fake);
    let err = github
        .create_issue_comment(INSTALLATION, &repo(), 7, &"x".repeat(65_537))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert!(err.to_string().contains("Body is too long"), "{err}");
    github
        .create_issue_comment(INSTALLATION, &repo(), 7, &"x".repeat(65_536))
        .await
        .expect("exactly the limit is fine");
    let err = github
        .create_issue_comment(INSTALLATION, &repo(), 99, "hi")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn a_reaction_is_created_once_then_found() {
    let w = world(|b| b.with_pull("acme/config", PullSpec::new(7, "change", "main"))).await;
    let github = support::github_client(&w.fake);
    let comment = w.fake.user_comments("acme/config", 7, "alice", "/help");
    let first = github
        .add_reaction(INSTALLATION, &repo(), comment.id, Reaction::Eyes)
        .await
        .unwrap();
    let again = github
        .add_reaction(INSTALLATION, &repo(), comment.id, Reaction::Eyes)
        .await
        .unwrap();
    let rocket = github
        .add_reaction(INSTALLATION, &repo(), comment.id, Reaction::Rocket)
        .await
        .unwrap();
    assert_eq!(first, ReactionOutcome::Created);
    assert_eq!(again, ReactionOutcome::AlreadyThere);
    assert_eq!(rocket, ReactionOutcome::Created);
    let reactions = &w.fake.comments_on("acme/config", 7)[0].reactions;
    let contents: Vec<&str> = reactions.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(contents, ["eyes", "rocket"]);
}

#[tokio::test]
async fn a_check_run_with_many_annotations_is_sent_in_chunks_and_completes_last() {
    let w = world(|b| b).await;
    let github = support::github_client(&w.fake);
    let id = github
        .create_check_run(
            INSTALLATION,
            &repo(),
            &CheckRunRequest::in_progress("slipway/preview", &w.main, None),
        )
        .await
        .unwrap();
    let annotations: Vec<Annotation> = (1..=120)
        .map(|line| Annotation::failure_at("envs/dev/app.yaml", line, Some(3), "broken"))
        .collect();
    let mark = w.fake.request_count();
    github
        .update_check_run(
            INSTALLATION,
            &repo(),
            id,
            &CheckRunUpdate::completed(
                CheckConclusion::Failure,
                CheckRunOutput {
                    title: "1 environment does not render".into(),
                    summary: "s".repeat(70_000),
                    text: Some("details".into()),
                    annotations,
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(w.fake.repo_calls_since(mark).len(), 3);
    let run = &w.fake.check_runs("acme/config")[0];
    assert_eq!(run.name, "slipway/preview");
    assert_eq!(run.head_sha, w.main);
    assert_eq!(run.status, "completed");
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(run.annotations.len(), 120);
    assert_eq!(run.annotations[119]["start_line"], 120);
    assert_eq!(
        run.status_history,
        ["in_progress", "in_progress", "in_progress", "completed"],
        "the run completes only with the last chunk"
    );
    assert_eq!(run.summary.as_ref().unwrap().chars().count(), 65_535);
}

#[tokio::test]
async fn the_fake_refuses_what_github_refuses_on_check_runs() {
    let w = world(|b| b).await;
    let github = support::github_client(&w.fake);
    let err = github
        .create_check_run(
            INSTALLATION,
            &repo(),
            &CheckRunRequest::in_progress("slipway/preview", &"f".repeat(40), None),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("No commit found"), "{err}");

    // Bypassing the client's chunking: 51 annotations in one request are refused.
    let annotations: Vec<serde_json::Value> = (1..=51)
        .map(|line| serde_json::json!({"path": "a", "start_line": line, "end_line": line, "annotation_level": "failure", "message": "m"}))
        .collect();
    let err = github
        .request(
            http::Method::POST,
            slipway::github::Auth::Installation(INSTALLATION),
            "/repos/acme/config/check-runs",
            Some(&serde_json::json!({
                "name": "x", "head_sha": w.main,
                "output": {"title": "t", "summary": "s", "annotations": annotations}
            })),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert!(err.to_string().contains("50 annotations"), "{err}");
    let err = github
        .request(
            http::Method::POST,
            slipway::github::Auth::Installation(INSTALLATION),
            "/repos/acme/config/check-runs",
            Some(&serde_json::json!({
                "name": "x", "head_sha": w.main,
                "output": {"title": "t", "summary": "s".repeat(65_536)}
            })),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert!(
        err.to_string().contains("output.summary is too long"),
        "{err}"
    );
    let mut request = CheckRunRequest::in_progress("x", &w.main, None);
    request.status = Some(CheckStatus::Completed);
    let err = github
        .create_check_run(INSTALLATION, &repo(), &request)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "completed needs a conclusion");
}

#[tokio::test]
async fn permissions_follow_githubs_roles_and_non_users_have_none() {
    let w = world(|b| {
        b.with_collaborator("acme/config", "ada", "admin")
            .with_collaborator("acme/config", "mia", "maintain")
            .with_collaborator("acme/config", "wes", "write")
            .with_collaborator("acme/config", "tia", "triage")
            .with_collaborator("acme/config", "rae", "read")
            .with_user("outsider")
    })
    .await;
    let github = support::github_client(&w.fake);
    let expected = [
        ("ada", RepoPermission::Admin),
        ("mia", RepoPermission::Write),
        ("wes", RepoPermission::Write),
        ("tia", RepoPermission::Read),
        ("rae", RepoPermission::Read),
        ("outsider", RepoPermission::None),
        ("dependabot[bot]", RepoPermission::None),
        ("no-such-login", RepoPermission::None),
    ];
    for (user, permission) in expected {
        assert_eq!(
            github
                .collaborator_permission(INSTALLATION, &repo(), user)
                .await
                .unwrap(),
            permission,
            "{user}"
        );
    }
    let bot_path = "/repos/acme/config/collaborators/dependabot%5Bbot%5D/permission";
    assert!(
        w.fake.requests().iter().any(|r| r.path == bot_path
            || r.path == "/repos/acme/config/collaborators/dependabot[bot]/permission"),
        "bot logins are sent as a path segment"
    );
}

#[tokio::test]
async fn reviews_are_listed_in_order_across_pages_and_a_dismissal_changes_the_review() {
    let first = "1".repeat(40);
    let second = "2".repeat(40);
    let w = world(|b| {
        b.with_pull("acme/config", PullSpec::new(7, "change", "main"))
            .with_page_size(2)
            .with_review("acme/config", 7, "alice", "APPROVED", &first)
            .with_review("acme/config", 7, "bob", "CHANGES_REQUESTED", &first)
            .with_review("acme/config", 7, "carol", "PENDING", &second)
            .with_review("acme/config", 7, "bob", "COMMENTED", &second)
    })
    .await;
    let github = support::github_client(&w.fake);
    let dave = w
        .fake
        .submit_review("acme/config", 7, "dave", "APPROVED", &second);

    let reviews = github.list_reviews(INSTALLATION, &repo(), 7).await.unwrap();
    let seen: Vec<(&str, ReviewState, Option<&str>)> = reviews
        .iter()
        .map(|r| (r.user_login.as_str(), r.state, r.commit_id.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            ("alice", ReviewState::Approved, Some(first.as_str())),
            ("bob", ReviewState::ChangesRequested, Some(first.as_str())),
            ("bob", ReviewState::Commented, Some(second.as_str())),
            ("dave", ReviewState::Approved, Some(second.as_str())),
        ],
        "oldest first; carol's pending review is visible to carol only"
    );
    assert!(reviews
        .iter()
        .all(|r| r.user_type == "User" && r.submitted_at.is_some()));
    let pages = w.fake.requests_to("GET /repos/acme/config/pulls/7/reviews");
    assert_eq!(pages.len(), 2, "four reviews, two per page");

    w.fake.dismiss_review("acme/config", dave);
    let after = github.list_reviews(INSTALLATION, &repo(), 7).await.unwrap();
    assert_eq!(after.len(), 4, "a dismissal adds no review");
    assert_eq!(
        (after[3].user_login.as_str(), after[3].state),
        ("dave", ReviewState::Dismissed)
    );

    let missing = github
        .list_reviews(INSTALLATION, &repo(), 99)
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404));
}

#[tokio::test]
async fn opening_a_pull_twice_updates_the_open_one() {
    let w = world(|b| b).await;
    let change = git_in(&w.bare, &["rev-parse", "refs/heads/change"]);
    let branch = "slipway/promote/prod";
    git_in(
        &w.bare,
        &["update-ref", &format!("refs/heads/{branch}"), &change],
    );
    let github = support::github_client(&w.fake);
    let first = github
        .create_pull(INSTALLATION, &repo(), "Promote", branch, "main", "one")
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.pull.head.ref_name, branch);
    assert_eq!(first.pull.head.sha, change);
    assert!(!first.pull.is_fork());
    let again = github
        .create_pull(
            INSTALLATION,
            &repo(),
            "Promote again",
            branch,
            "main",
            "two",
        )
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.pull.number, first.pull.number);
    assert_eq!(w.fake.pulls("acme/config").len(), 1);
    let read = github
        .get_pull(INSTALLATION, &repo(), first.pull.number)
        .await
        .unwrap();
    assert_eq!(read.title, "Promote again");
    assert_eq!(read.body.as_deref(), Some("two"));
    assert_eq!(read.base.sha, w.main);
    let found = github
        .find_open_pull_by_head(INSTALLATION, &repo(), branch)
        .await
        .unwrap();
    assert_eq!(found.map(|p| p.number), Some(first.pull.number));
    assert!(github
        .find_open_pull_by_head(INSTALLATION, &repo(), "nothing")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_fork_pull_reads_as_a_fork_with_its_head_from_refs_pull() {
    let w = world(|b| {
        b.with_pull(
            "acme/config",
            PullSpec::new(9, "patch-1", "main").in_fork("mallory/config"),
        )
    })
    .await;
    let change = git_in(&w.bare, &["rev-parse", "refs/heads/change"]);
    git_in(&w.bare, &["update-ref", "refs/pull/9/head", &change]);
    let github = support::github_client(&w.fake);
    let pull = github.get_pull(INSTALLATION, &repo(), 9).await.unwrap();
    assert!(pull.is_fork());
    assert_eq!(pull.head.sha, change);
    assert_eq!(
        pull.head.repo.map(|r| r.to_string()).as_deref(),
        Some("mallory/config")
    );
    assert!(pull.base.clone_url.unwrap().starts_with("file://"));
}

#[tokio::test]
async fn commits_land_in_the_real_repository_and_a_moved_branch_is_not_a_fast_forward() {
    let w = world(|b| b).await;
    let github = support::github_client(&w.fake);
    assert_eq!(
        github
            .branch_head(INSTALLATION, &repo(), "main")
            .await
            .unwrap(),
        Some(w.main.clone())
    );
    assert_eq!(
        github
            .branch_head(INSTALLATION, &repo(), "slipway/promote/prod")
            .await
            .unwrap(),
        None
    );

    let created = github
        .commit_files(
            INSTALLATION,
            &repo(),
            &CommitRequest {
                branch: "slipway/promote/prod".into(),
                parent_sha: w.main.clone(),
                message: "Promote api to prod".into(),
                files: vec![
                    (
                        "envs/prod/app.yaml".into(),
                        Some(b"kind: Deployment\n".to_vec()),
                    ),
                    ("envs/dev/app.yaml".into(), None),
                ],
                create_branch: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        git_in(&w.bare, &["rev-parse", "refs/heads/slipway/promote/prod"]),
        created
    );
    assert_eq!(
        git_in(&w.bare, &["show", &format!("{created}:envs/prod/app.yaml")]),
        "kind: Deployment"
    );
    assert_eq!(
        git_in(&w.bare, &["ls-tree", "-r", "--name-only", &created]),
        "envs/prod/app.yaml"
    );
    assert_eq!(
        git_in(&w.bare, &["log", "-1", "--format=%s %P", &created]),
        format!("Promote api to prod {}", w.main)
    );
    assert_eq!(w.fake.commit_verified(&created), Some(true));

    let next = github
        .commit_files(
            INSTALLATION,
            &repo(),
            &CommitRequest {
                branch: "slipway/promote/prod".into(),
                parent_sha: created.clone(),
                message: "again".into(),
                files: vec![(
                    "envs/prod/app.yaml".into(),
                    Some(b"kind: Service\n".to_vec()),
                )],
                create_branch: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        git_in(&w.bare, &["show", &format!("{next}:envs/prod/app.yaml")]),
        "kind: Service"
    );

    // Built on the old head: the branch has moved on, so this is not a fast forward.
    let stale = github
        .commit_files(
            INSTALLATION,
            &repo(),
            &CommitRequest {
                branch: "slipway/promote/prod".into(),
                parent_sha: created.clone(),
                message: "stale".into(),
                files: vec![("envs/prod/app.yaml".into(), Some(b"kind: Pod\n".to_vec()))],
                create_branch: false,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(stale, GitHubError::NotFastForward { .. }),
        "{stale}"
    );
    assert!(stale.is_retryable());
    assert_eq!(
        git_in(&w.bare, &["rev-parse", "refs/heads/slipway/promote/prod"]),
        next,
        "the branch did not move"
    );

    let exists = github
        .commit_files(
            INSTALLATION,
            &repo(),
            &CommitRequest {
                branch: "slipway/promote/prod".into(),
                parent_sha: w.main.clone(),
                message: "create again".into(),
                files: vec![],
                create_branch: true,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(exists, GitHubError::NotFastForward { .. }),
        "{exists}"
    );

    // A commit written without moving any branch (for a caller that moves it itself).
    let loose = github
        .write_commit(
            INSTALLATION,
            &repo(),
            &next,
            "loose",
            &[(
                "envs/prod/extra.yaml".into(),
                Some(b"kind: Secret\n".to_vec()),
            )],
        )
        .await
        .unwrap();
    assert_eq!(
        git_in(&w.bare, &["log", "-1", "--format=%s %P", &loose]),
        format!("loose {next}")
    );
    assert_eq!(
        git_in(&w.bare, &["show", &format!("{loose}:envs/prod/app.yaml")]),
        "kind: Service",
        "the parent's files are kept"
    );
    assert!(git_in(&w.bare, &["for-each-ref", "--points-at", &loose]).is_empty());
}

#[tokio::test]
async fn a_directory_is_set_to_an_existing_tree_or_deleted_whole_and_branches_move_as_asked() {
    let w = world(|b| b).await;
    let github = support::github_client(&w.fake);
    let change = git_in(&w.bare, &["rev-parse", "refs/heads/change"]);
    let changed_dev = git_in(&w.bare, &["rev-parse", &format!("{change}:envs/dev")]);

    // envs/dev of main becomes the tree `change` holds there; envs/prod is that tree too.
    let restored = github
        .write_commit_of_entries(
            INSTALLATION,
            &repo(),
            &w.main,
            "restore",
            &[
                TreeEntry {
                    path: "envs/dev".into(),
                    mode: TreeMode::Directory,
                    sha: Some(changed_dev.clone()),
                },
                TreeEntry {
                    path: "envs/prod".into(),
                    mode: TreeMode::Directory,
                    sha: Some(changed_dev.clone()),
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        git_in(&w.bare, &["rev-parse", &format!("{restored}:envs/dev")]),
        changed_dev
    );
    assert_eq!(
        git_in(&w.bare, &["ls-tree", "-r", "--name-only", &restored]),
        "envs/dev/app.yaml\nenvs/prod/app.yaml"
    );
    assert_eq!(w.fake.commit_verified(&restored), Some(true));

    // A deletion takes the directory with everything under it.
    let removed = github
        .write_commit_of_entries(
            INSTALLATION,
            &repo(),
            &restored,
            "remove",
            &[TreeEntry {
                path: "envs/prod".into(),
                mode: TreeMode::Directory,
                sha: None,
            }],
        )
        .await
        .unwrap();
    assert_eq!(
        git_in(&w.bare, &["ls-tree", "-r", "--name-only", &removed]),
        "envs/dev/app.yaml"
    );

    // A tree entry must name a tree, as GitHub checks.
    let blob = git_in(
        &w.bare,
        &["rev-parse", &format!("{}:envs/dev/app.yaml", w.main)],
    );
    let refused = github
        .write_commit_of_entries(
            INSTALLATION,
            &repo(),
            &w.main,
            "wrong",
            &[TreeEntry {
                path: "envs/dev".into(),
                mode: TreeMode::Directory,
                sha: Some(blob),
            }],
        )
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(422), "{refused}");

    // Branches: created, moved forward, refused when not a fast forward, forced.
    let branch = "slipway/rollback/dev";
    github
        .set_branch(INSTALLATION, &repo(), branch, &restored, BranchMove::Create)
        .await
        .unwrap();
    github
        .set_branch(
            INSTALLATION,
            &repo(),
            branch,
            &removed,
            BranchMove::FastForward,
        )
        .await
        .unwrap();
    let backwards = github
        .set_branch(
            INSTALLATION,
            &repo(),
            branch,
            &w.main,
            BranchMove::FastForward,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(backwards, GitHubError::NotFastForward { .. }),
        "{backwards}"
    );
    github
        .set_branch(INSTALLATION, &repo(), branch, &w.main, BranchMove::Force)
        .await
        .unwrap();
    assert_eq!(
        git_in(&w.bare, &["rev-parse", &format!("refs/heads/{branch}")]),
        w.main
    );
}

//! The preview pipeline end to end: real `pull_request` webhooks posted to a running slipway,
//! real bare git repositories behind the fake GitHub, and what a reviewer sees on the pull
//! request (the sticky comments, the check run) read back from the fake. Every scenario reads
//! all that slipway posted: the fake fails a test that leaves a comment or check run unread.

mod git_fixtures;
mod manifests;
mod support;

use std::path::PathBuf;
use std::time::Duration;

use git_fixtures::{assert_golden, TestRepo, CONFIG};
use manifests::{config_map, deployment};
use support::fake_github::{app_bot_login, FakeComment, PullSpec};
use support::payloads::{PullEvent, INSTALLATION_ID};
use support::{FakeGitHub, TestServer};

const REPO: &str = "acme/config";
const WAIT: Duration = Duration::from_secs(30);

/// The two environments of the CLI tests, prod needing two approving reviews.
fn config() -> String {
    format!("{CONFIG}    required_approvals: 2\n")
}

/// A config repo (work tree plus the bare repository GitHub serves), `main` at its first commit.
struct ConfigRepo {
    work: TestRepo,
    _bare_dir: tempfile::TempDir,
    bare: PathBuf,
    main: String,
}

impl ConfigRepo {
    fn new() -> Self {
        Self::with_config(Some(&config()))
    }

    fn with_config(config: Option<&str>) -> Self {
        let work = TestRepo::new();
        if let Some(config) = config {
            work.write(".github/slipway.yml", config);
        }
        work.write("README.md", "# config\n")
            .write("envs/dev/api.yaml", &deployment("api", "1.4.0"))
            .write(
                "envs/dev/config.yaml",
                &config_map("api-config", "LOG_LEVEL", "info"),
            )
            .write("envs/prod/api.yaml", &deployment("api", "1.3.0"));
        let main = work.commit("initial");
        let (bare_dir, bare) = work.bare_clone();
        ConfigRepo {
            work,
            _bare_dir: bare_dir,
            bare,
            main,
        }
    }

    /// Commits what `change` writes on branch `branch` and pushes it; the new head.
    fn push(&self, branch: &str, change: impl FnOnce(&TestRepo)) -> String {
        let exists = !self
            .work
            .git(&["branch", "--list", branch])
            .trim()
            .is_empty();
        if exists {
            self.work.git(&["checkout", "--quiet", branch]);
        } else {
            self.work
                .git(&["checkout", "--quiet", "-b", branch, "main"]);
        }
        change(&self.work);
        let head = self.work.commit(&format!("change on {branch}"));
        self.work.git(&["checkout", "--quiet", "main"]);
        self.work.git(&[
            "push",
            "--quiet",
            "--force",
            self.bare.to_str().unwrap(),
            &format!("{branch}:{branch}"),
        ]);
        head
    }

    fn event(&self, action: &str, number: u64, head_ref: &str, head: &str) -> PullEvent {
        PullEvent::new(action, REPO, &self.bare, number)
            .base("main", &self.main)
            .head(head_ref, head)
    }
}

async fn world(repo: &ConfigRepo) -> (FakeGitHub, TestServer) {
    let fake = FakeGitHub::builder()
        .with_installation(INSTALLATION_ID)
        .with_repo(REPO, &repo.bare)
        .with_pull(REPO, PullSpec::new(7, "change", "main"))
        .with_pull(
            REPO,
            PullSpec::new(8, "patch-1", "main").in_fork("mallory/config"),
        )
        .fail_on_unread_output()
        .start()
        .await;
    let server = TestServer::builder().github(&fake).start().await;
    (fake, server)
}

/// Posts `event` and waits until slipway has processed it.
async fn deliver(server: &TestServer, id: &str, event: &PullEvent) {
    let (status, body) = server.deliver("pull_request", id, &event.payload()).await;
    assert_eq!(status, 202, "{body}");
    server.wait_for_state(id, "done", WAIT).await;
}

/// The one item of `items`; a test that expects one and finds more fails, listing them.
fn only<T: std::fmt::Debug>(items: Vec<T>) -> T {
    assert_eq!(items.len(), 1, "{items:#?}");
    items.into_iter().next().expect("one item")
}

fn bot_comments(fake: &FakeGitHub, number: u64) -> Vec<FakeComment> {
    fake.comments_on(REPO, number)
        .into_iter()
        .filter(|c| c.user_login == app_bot_login())
        .collect()
}

/// The comment with its commit ids replaced, so a golden file does not depend on commit times.
fn normalised(body: &str, commits: &[(&str, &str)]) -> String {
    let mut text = body.to_string();
    for (sha, name) in commits {
        text = text.replace(sha, name).replace(&sha[..7], name);
    }
    text
}

#[tokio::test]
async fn opening_a_pull_request_posts_one_comment_and_one_check_run() {
    let repo = ConfigRepo::new();
    let head = repo.push("change", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.5.0"))
            .write("envs/prod/api.yaml", &deployment("api", "1.4.0"))
            .write("envs/dev/flags.yaml", &config_map("flags", "beta", "on"));
    });
    let (fake, server) = world(&repo).await;
    server
        .store()
        .lock_environment(REPO, "prod", "alice", Some("release freeze\nuntil Monday"))
        .await
        .unwrap();

    deliver(&server, "open-1", &repo.event("opened", 7, "change", &head)).await;

    let comments = bot_comments(&fake, 7);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    let body = &comments[0].body;
    assert!(
        body.starts_with("<!-- slipway:preview part=1 -->\n"),
        "{body}"
    );
    let since = body
        .lines()
        .find_map(|line| line.split(" since ").nth(1))
        .and_then(|rest| rest.split(": release").next())
        .expect("the lock says since when")
        .to_string();
    assert_golden(
        "preview_opened.md",
        &normalised(body, &[(&repo.main, "BASE"), (&head, "HEAD")]).replace(&since, "SINCE"),
    );

    let runs = fake.check_runs(REPO);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.name, "slipway/preview");
    assert_eq!(run.head_sha, head);
    assert_eq!(run.status_history, ["in_progress", "completed"]);
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    assert_eq!(run.title.as_deref(), Some("2 environments change"));
    let summary = run.summary.as_deref().unwrap();
    assert!(summary.contains("- `dev`: 1 changed, 1 added"), "{summary}");
    assert!(summary.contains("- `prod`: 1 changed"), "{summary}");
    assert!(run.text.is_none(), "the comment holds the whole report");
    assert!(run.annotations.is_empty());
}

#[tokio::test]
async fn a_push_edits_the_same_comment_in_place() {
    let repo = ConfigRepo::new();
    let first = repo.push("change", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.5.0"));
    });
    let (fake, server) = world(&repo).await;
    deliver(&server, "d-1", &repo.event("opened", 7, "change", &first)).await;
    let created = bot_comments(&fake, 7);
    assert_eq!(created.len(), 1);
    assert!(created[0].body.contains("1.5.0"));

    let second = repo.push("change", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.6.0"));
    });
    deliver(
        &server,
        "d-2",
        &repo.event("synchronize", 7, "change", &second),
    )
    .await;

    let comments = bot_comments(&fake, 7);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].id, created[0].id);
    assert_eq!(comments[0].edits, 1);
    assert!(
        comments[0]
            .body
            .contains("+      - image: registry.example.com/team/api:1.6.0"),
        "{}",
        comments[0].body
    );
    assert!(!comments[0].body.contains("1.5.0"));
    let runs = fake.check_runs(REPO);
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].head_sha, second);
    assert_eq!(runs[1].conclusion.as_deref(), Some("success"));
}

#[tokio::test]
async fn two_events_racing_for_one_pull_request_leave_one_comment() {
    let repo = ConfigRepo::new();
    let first = repo.push("change", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.5.0"));
    });
    let (fake, server) = world(&repo).await;
    let second = repo.push("change", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.6.0"));
    });
    let opened = repo.event("opened", 7, "change", &first).payload();
    let pushed = repo.event("synchronize", 7, "change", &second).payload();
    let (a, b) = tokio::join!(
        server.deliver("pull_request", "race-1", &opened),
        server.deliver("pull_request", "race-2", &pushed),
    );
    assert_eq!((a.0, b.0), (202, 202));
    server.wait_for_state("race-1", "done", WAIT).await;
    server.wait_for_state("race-2", "done", WAIT).await;

    let comments = bot_comments(&fake, 7);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(comments[0].body.contains("1.6.0"), "the newest push wins");
    assert!(fake.deleted_comments().is_empty());
    let runs = fake.check_runs(REPO);
    let last = runs.last().expect("a check run");
    assert_eq!(last.head_sha, second);
    assert_eq!(last.conclusion.as_deref(), Some("success"));
    assert!(
        runs.iter().all(|r| r.status == "completed"),
        "no check run is left running: {runs:#?}"
    );
}

#[tokio::test]
async fn a_newer_push_waiting_in_the_queue_supersedes_a_preview_before_it_starts() {
    let repo = ConfigRepo::new();
    let first = repo.push("change", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.5.0"));
    });
    let second = repo.push("change", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.6.0"));
    });
    let fake = FakeGitHub::builder()
        .with_installation(INSTALLATION_ID)
        .with_repo(REPO, &repo.bare)
        .with_pull(REPO, PullSpec::new(7, "change", "main"))
        .fail_on_unread_output()
        .start()
        .await;
    // Both deliveries are stored before any worker runs: the first finds the second waiting.
    let dir = tempfile::tempdir().unwrap();
    {
        let url = format!("sqlite://{}", dir.path().join("slipway.db").display());
        let store = slipway::store::Store::connect(&url).await.unwrap();
        for (id, action, head) in [("s-1", "opened", &first), ("s-2", "synchronize", &second)] {
            let payload = repo.event(action, 7, "change", head).payload();
            let envelope = slipway::webhook::Envelope::parse(id, "pull_request", &payload).unwrap();
            store
                .ingest(slipway::store::NewDelivery {
                    id: id.to_string(),
                    event: "pull_request".to_string(),
                    action: envelope.action,
                    installation_id: envelope.installation_id,
                    repository: envelope.repository,
                    ordering_key: envelope.ordering_key,
                    payload: payload.into(),
                    failed_with: None,
                })
                .await
                .unwrap();
        }
    }
    let server = TestServer::builder()
        .github(&fake)
        .in_dir(dir)
        .start()
        .await;
    server.wait_for_state("s-1", "done", WAIT).await;
    server.wait_for_state("s-2", "done", WAIT).await;

    let runs = fake.check_runs(REPO);
    assert_eq!(
        runs.len(),
        1,
        "the superseded delivery started no check run"
    );
    assert_eq!(runs[0].head_sha, second);
    let comments = bot_comments(&fake, 7);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.contains("1.6.0"));
}

#[tokio::test]
async fn a_push_arriving_while_a_preview_runs_cancels_its_check_run() {
    let repo = ConfigRepo::new();
    let first = repo.push("change", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.5.0"));
    });
    let second = repo.push("change", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.6.0"));
    });
    let (fake, server) = world(&repo).await;
    // GitHub is slow to create the first check run; the second push arrives meanwhile.
    fake.delay_next(
        "POST /repos/acme/config/check-runs",
        Duration::from_millis(700),
        1,
    );
    let (status, _) = server
        .deliver(
            "pull_request",
            "c-1",
            &repo.event("opened", 7, "change", &first).payload(),
        )
        .await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = server
        .deliver(
            "pull_request",
            "c-2",
            &repo.event("synchronize", 7, "change", &second).payload(),
        )
        .await;
    assert_eq!(status, 202);
    server.wait_for_state("c-1", "done", WAIT).await;
    server.wait_for_state("c-2", "done", WAIT).await;

    let runs = fake.check_runs(REPO);
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].head_sha, first);
    assert_eq!(runs[0].conclusion.as_deref(), Some("cancelled"));
    assert_eq!(runs[0].title.as_deref(), Some("Superseded by a newer push"));
    assert_eq!(runs[1].head_sha, second);
    assert_eq!(runs[1].conclusion.as_deref(), Some("success"));
    let comments = bot_comments(&fake, 7);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].edits, 0, "only the newer preview posted");
    assert!(comments[0].body.contains("1.6.0"));
}

#[tokio::test]
async fn a_change_that_renders_the_same_says_no_changes() {
    let repo = ConfigRepo::new();
    let head = repo.push("change", |w| {
        w.write("README.md", "# config\n\nMore words.\n")
            // Same object, other formatting: nothing to deploy.
            .write(
                "envs/dev/config.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api-config}\ndata: {LOG_LEVEL: info}\n",
            );
    });
    let (fake, server) = world(&repo).await;
    deliver(&server, "n-1", &repo.event("opened", 7, "change", &head)).await;

    let comments = bot_comments(&fake, 7);
    assert_eq!(comments.len(), 1);
    assert_golden(
        "preview_no_changes.md",
        &normalised(&comments[0].body, &[(&repo.main, "BASE"), (&head, "HEAD")]),
    );
    let run = &only(fake.check_runs(REPO));
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    assert_eq!(
        run.title.as_deref(),
        Some("No changes to the rendered manifests")
    );
    let summary = run.summary.as_deref().unwrap();
    assert!(summary.contains("- `dev`: no changes"), "{summary}");
    assert!(
        summary.contains("- `prod`: not touched by this change"),
        "{summary}"
    );
}

/// `count` ConfigMaps of about 1 KB each in `envs/dev/bulk.yaml`.
fn bulk(count: usize) -> String {
    (0..count)
        .map(|n| config_map(&format!("bulk-{n:04}"), "payload", &"x".repeat(1000)))
        .collect::<Vec<_>>()
        .join("---\n")
}

#[tokio::test]
async fn a_diff_too_big_for_one_comment_takes_several_then_fewer_when_it_shrinks() {
    let repo = ConfigRepo::new();
    let big = repo.push("change", |w| {
        w.write("envs/dev/bulk.yaml", &bulk(150));
    });
    let (fake, server) = world(&repo).await;
    deliver(&server, "b-1", &repo.event("opened", 7, "change", &big)).await;

    let parts = bot_comments(&fake, 7);
    assert_eq!(parts.len(), 3, "150 KB of diff in 65 KB comments");
    for (index, part) in parts.iter().enumerate() {
        assert!(
            part.body
                .starts_with(&format!("<!-- slipway:preview part={} -->\n", index + 1)),
            "{}",
            &part.body[..80]
        );
        assert!(part.body.contains(&format!("Part {} of 3", index + 1)));
        assert!(part.body.chars().count() <= 65_536);
    }
    let shown: usize = parts
        .iter()
        .map(|p| p.body.matches("<b>added</b> ConfigMap").count())
        .sum();
    assert_eq!(shown, 150, "nothing is cut");

    let small = repo.push("change", |w| {
        w.write("envs/dev/bulk.yaml", &bulk(3));
    });
    deliver(
        &server,
        "b-2",
        &repo.event("synchronize", 7, "change", &small),
    )
    .await;

    let after = bot_comments(&fake, 7);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, parts[0].id, "part 1 is edited in place");
    assert!(!after[0].body.contains("Part 1 of"));
    assert_eq!(after[0].body.matches("<b>added</b> ConfigMap").count(), 3);
    let deleted: Vec<u64> = fake.deleted_comments().iter().map(|c| c.id).collect();
    assert_eq!(deleted, [parts[1].id, parts[2].id]);
    let runs = fake.check_runs(REPO);
    let heads: Vec<&str> = runs.iter().map(|r| r.head_sha.as_str()).collect();
    assert_eq!(heads, [big.as_str(), small.as_str()]);
    assert!(runs
        .iter()
        .all(|r| r.conclusion.as_deref() == Some("success")));
}

#[tokio::test]
async fn a_diff_past_the_part_limit_is_cut_and_the_check_run_carries_the_report() {
    let repo = ConfigRepo::new();
    let huge = repo.push("change", |w| {
        w.write("envs/dev/bulk.yaml", &bulk(700));
    });
    let (fake, server) = world(&repo).await;
    deliver(&server, "h-1", &repo.event("opened", 7, "change", &huge)).await;

    let parts = bot_comments(&fake, 7);
    assert_eq!(parts.len(), 10, "at most ten comments");
    assert!(parts[9].body.contains("### Not shown:"));
    assert!(parts[9]
        .body
        .contains(&format!("git fetch origin refs/pull/7/head && slipway preview --repo . --base {} --head {} --max-parts 0", repo.main, huge)));
    let run = &only(fake.check_runs(REPO));
    let text = run
        .text
        .as_deref()
        .expect("the check run carries the report");
    assert!(text.starts_with("## slipway · rendered manifests"));
    assert!(text.chars().count() <= 65_535);
    assert!(run
        .summary
        .as_deref()
        .unwrap()
        .contains("it had to be cut there"));
}

#[tokio::test]
async fn a_render_failure_fails_the_check_run_at_the_file_and_line() {
    let repo = ConfigRepo::new();
    let head = repo.push("change", |w| {
        w.write(
            "envs/dev/broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n",
        )
        .write("envs/prod/api.yaml", &deployment("api", "1.4.0"));
    });
    let (fake, server) = world(&repo).await;
    deliver(&server, "f-1", &repo.event("opened", 7, "change", &head)).await;

    let run = &only(fake.check_runs(REPO));
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(run.title.as_deref(), Some("1 environment does not render"));
    assert_eq!(run.annotations.len(), 1, "{:?}", run.annotations);
    let annotation = &run.annotations[0];
    assert_eq!(annotation["path"], "envs/dev/broken.yaml");
    assert_eq!(annotation["start_line"], 5);
    assert_eq!(annotation["annotation_level"], "failure");
    assert!(run
        .summary
        .as_deref()
        .unwrap()
        .contains("- `dev`: **does not render** at head (`envs/dev/broken.yaml:5`)"));

    let comments = bot_comments(&fake, 7);
    assert_eq!(comments.len(), 1, "a user error is a comment, not a retry");
    let body = &comments[0].body;
    assert!(
        body.contains("### Environment `dev` does not render"),
        "{body}"
    );
    assert!(body.contains("envs/dev/broken.yaml:5:"), "{body}");
    assert!(
        body.contains("### Environment `prod`"),
        "prod still previews: {body}"
    );
    assert_eq!(server.delivery("f-1").await.unwrap().attempts, 1);
}

#[tokio::test]
async fn a_broken_configuration_in_the_change_fails_the_check_run() {
    let repo = ConfigRepo::new();
    let head = repo.push("change", |w| {
        w.write(
            ".github/slipway.yml",
            "environments:\n  dev:\n    pth: envs/dev\n",
        );
    });
    let (fake, server) = world(&repo).await;
    deliver(&server, "cfg-1", &repo.event("opened", 7, "change", &head)).await;

    let run = &only(fake.check_runs(REPO));
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(run.annotations.len(), 1);
    assert_eq!(run.annotations[0]["path"], ".github/slipway.yml");
    assert_eq!(run.annotations[0]["start_line"], 3);
    let body = &only(bot_comments(&fake, 7)).body;
    assert!(
        body.contains("### `.github/slipway.yml` does not parse"),
        "{body}"
    );
}

#[tokio::test]
async fn a_base_whose_configuration_does_not_parse_fails_the_preview_of_every_change() {
    let repo = ConfigRepo::with_config(Some("environments:\n  dev:\n    pth: envs/dev\n"));
    let head = repo.push("change", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.5.0"));
    });
    let (fake, server) = world(&repo).await;
    deliver(
        &server,
        "base-cfg-1",
        &repo.event("opened", 7, "change", &head),
    )
    .await;

    let run = &only(fake.check_runs(REPO));
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        run.title.as_deref(),
        Some(".github/slipway.yml does not parse")
    );
    assert_eq!(run.annotations.len(), 1, "the head holds the same file");
    assert_eq!(run.annotations[0]["path"], ".github/slipway.yml");
    assert_eq!(run.annotations[0]["start_line"], 3);
    let body = &only(bot_comments(&fake, 7)).body;
    assert!(
        body.contains("### `.github/slipway.yml` does not parse"),
        "{body}"
    );
    assert!(body.contains("At the base of this pull request"), "{body}");
    assert!(!body.contains("No changes"), "nothing was compared: {body}");
}

#[tokio::test]
async fn a_fork_pull_request_gets_a_preview_with_a_note_and_nothing_else() {
    let repo = ConfigRepo::new();
    // The fork's commit reaches the base repository only as refs/pull/8/head, as on GitHub.
    let head = repo.push("fork-work", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "9.9.9"));
    });
    git_fixtures::git_in(&repo.bare, &["update-ref", "refs/pull/8/head", &head]);
    git_fixtures::git_in(&repo.bare, &["branch", "-D", "fork-work"]);
    let (fake, server) = world(&repo).await;
    let mark = fake.request_count();

    let event = repo
        .event("opened", 8, "patch-1", &head)
        .in_fork("mallory/config");
    deliver(&server, "fork-1", &event).await;

    let comments = bot_comments(&fake, 8);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(
        body.contains("> **From a fork.** This pull request comes from `mallory/config`"),
        "{body}"
    );
    assert!(body.contains("it cannot deploy"), "{body}");
    assert!(
        body.contains("+      - image: registry.example.com/team/api:9.9.9"),
        "{body}"
    );
    let run = &only(fake.check_runs(REPO));
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    assert!(run
        .summary
        .as_deref()
        .unwrap()
        .contains("From the fork `mallory/config`"));
    let calls = fake.repo_calls_since(mark);
    assert_eq!(
        calls,
        [
            "POST /repos/acme/config/check-runs".to_string(),
            "GET /repos/acme/config/issues/8/comments".to_string(),
            "POST /repos/acme/config/issues/8/comments".to_string(),
            format!("PATCH /repos/acme/config/check-runs/{}", run.id),
        ],
        "a preview and nothing else"
    );
}

#[tokio::test]
async fn a_repeat_preview_costs_three_requests_after_the_token() {
    let repo = ConfigRepo::new();
    let first = repo.push("change", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.5.0"));
    });
    let (fake, server) = world(&repo).await;
    deliver(&server, "e-1", &repo.event("opened", 7, "change", &first)).await;
    let comment = bot_comments(&fake, 7)[0].id;

    let second = repo.push("change", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.6.0"));
    });
    let mark = fake.request_count();
    deliver(
        &server,
        "e-2",
        &repo.event("synchronize", 7, "change", &second),
    )
    .await;

    let run = fake.check_runs(REPO)[1].id;
    let edited = only(bot_comments(&fake, 7));
    assert_eq!((edited.id, edited.edits), (comment, 1));
    assert!(edited.body.contains("1.6.0"), "{}", edited.body);
    assert_eq!(
        fake.repo_calls_since(mark),
        [
            "POST /repos/acme/config/check-runs".to_string(),
            format!("PATCH /repos/acme/config/issues/comments/{comment}"),
            format!("PATCH /repos/acme/config/check-runs/{run}"),
        ]
    );
}

#[tokio::test]
async fn a_repository_without_environments_is_left_alone() {
    let repo = ConfigRepo::with_config(None);
    let head = repo.push("change", |w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.5.0"));
    });
    let (fake, server) = world(&repo).await;
    let mark = fake.request_count();
    deliver(&server, "q-1", &repo.event("opened", 7, "change", &head)).await;
    assert!(
        fake.repo_calls_since(mark).is_empty(),
        "{:?}",
        fake.repo_calls_since(mark)
    );
    assert!(fake.check_runs(REPO).is_empty());
}

#[tokio::test]
async fn the_preview_command_reads_the_pull_request_from_the_api() {
    let repo = ConfigRepo::new();
    let head = repo.push("change", |w| {
        w.write("envs/prod/api.yaml", &deployment("api", "1.4.0"));
    });
    let (fake, server) = world(&repo).await;
    let context = slipway::pipelines::PipelineContext {
        store: server.store().clone(),
        github: support::github_client(&fake),
        mirrors: std::sync::Arc::new(
            slipway::git::Mirrors::new(server.dir().join("command-mirrors")).unwrap(),
        ),
        fingerprint_key: slipway::diff::FingerprintKey::generate(),
        runs: server.runs().clone(),
        clusters: slipway::config::KnownClusters::default(),
    };
    let outcome = slipway::pipelines::preview::run_preview(
        &context,
        INSTALLATION_ID,
        &REPO.parse().unwrap(),
        7,
    )
    .await
    .unwrap();

    let slipway::pipelines::preview::PreviewOutcome::Posted {
        comment_ids,
        conclusion,
        ..
    } = outcome
    else {
        panic!("not posted: {outcome:?}");
    };
    assert_eq!(conclusion, slipway::github::CheckConclusion::Success);
    let comments = bot_comments(&fake, 7);
    assert_eq!(
        comments.iter().map(|c| c.id).collect::<Vec<_>>(),
        comment_ids
    );
    assert!(comments[0].body.contains("### Environment `prod`"));
    assert!(comments[0]
        .body
        .contains("Deploying needs 2 approving reviews."));
    assert_eq!(fake.check_runs(REPO)[0].head_sha, head);
}

#[tokio::test]
async fn an_object_outside_the_allowed_namespaces_fails_the_check_run_at_its_line() {
    let repo = ConfigRepo::new();
    let head = repo.push("change", |w| {
        w.write(
            "envs/dev/kube.yaml",
            &format!(
                "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: kube-system\ndata:\n  k: v\n",
                config_map("fine", "k", "v")
            ),
        );
    });
    let (fake, server) = world(&repo).await;
    deliver(&server, "p-1", &repo.event("opened", 7, "change", &head)).await;

    let message = "ConfigMap kube-system/x is in namespace kube-system, outside the namespaces dev may use (team-dev)";
    let run = &only(fake.check_runs(REPO));
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        run.title.as_deref(),
        Some("1 object refused by environment policy")
    );
    assert_eq!(run.annotations.len(), 1, "{:?}", run.annotations);
    let annotation = &run.annotations[0];
    assert_eq!(annotation["path"], "envs/dev/kube.yaml");
    assert_eq!(annotation["start_line"], 8);
    assert_eq!(annotation["annotation_level"], "failure");
    assert_eq!(annotation["message"], message);
    assert_eq!(annotation["title"], "refused by the policy of dev");
    let summary = run.summary.as_deref().unwrap();
    assert!(
        summary.contains("- `dev`: 2 added; **1 object refused by its policy**"),
        "{summary}"
    );

    let comments = bot_comments(&fake, 7);
    assert_eq!(comments.len(), 1);
    assert_golden(
        "preview_refused.md",
        &normalised(&comments[0].body, &[(&repo.main, "BASE"), (&head, "HEAD")]),
    );
}

/// [`config`] with dev allowed to use `team-blue` too.
fn two_namespaces() -> String {
    config().replace(
        "    namespace: team-dev\n",
        "    namespace: team-dev\n    allowed_namespaces: [team-dev, team-blue]\n",
    )
}

#[tokio::test]
async fn a_namespace_change_previews_as_a_move_of_every_object_it_places() {
    let repo = ConfigRepo::with_config(Some(&two_namespaces()));
    let head = repo.push("change", |w| {
        w.write(
            ".github/slipway.yml",
            &two_namespaces().replace("    namespace: team-dev\n", "    namespace: team-blue\n"),
        );
    });
    let (fake, server) = world(&repo).await;
    deliver(&server, "ns-1", &repo.event("opened", 7, "change", &head)).await;

    let comments = bot_comments(&fake, 7);
    assert_eq!(comments.len(), 1);
    assert_golden(
        "preview_namespace_move.md",
        &normalised(&comments[0].body, &[(&repo.main, "BASE"), (&head, "HEAD")]),
    );
    let run = &only(fake.check_runs(REPO));
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    assert_eq!(run.title.as_deref(), Some("1 environment changes"));
    let summary = run.summary.as_deref().unwrap();
    assert!(summary.contains("- `dev`: 2 added, 2 removed"), "{summary}");
}

#[tokio::test]
async fn a_move_into_a_namespace_only_the_change_allows_fails_the_check_run() {
    let repo = ConfigRepo::new();
    let head = repo.push("change", |w| {
        w.write(
            ".github/slipway.yml",
            &config().replace(
                "    namespace: team-dev\n",
                "    namespace: team-blue\n    allowed_namespaces: [team-dev, team-blue]\n",
            ),
        );
    });
    let (fake, server) = world(&repo).await;
    deliver(&server, "ns-2", &repo.event("opened", 7, "change", &head)).await;

    let run = &only(fake.check_runs(REPO));
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        run.title.as_deref(),
        Some("2 objects refused by environment policy")
    );
    let comments = bot_comments(&fake, 7);
    let body = &only(comments).body;
    assert!(
        body.contains(
            "- ⛔ `envs/dev/api.yaml:1`: Deployment.apps team-blue/api is in namespace team-blue, outside the namespaces dev may use (team-dev)"
        ),
        "{body}"
    );
}

#[tokio::test]
async fn an_environment_the_change_adds_or_removes_is_said_so() {
    let repo = ConfigRepo::new();
    let head = repo.push("change", |w| {
        w.write(
            ".github/slipway.yml",
            "environments:\n  dev:\n    path: envs/dev\n    namespace: team-dev\n  staging:\n    path: envs/staging\n    namespace: team-staging\n",
        )
        .write("envs/staging/api.yaml", &deployment("api", "1.5.0"));
    });
    let (fake, server) = world(&repo).await;
    deliver(&server, "m-1", &repo.event("opened", 7, "change", &head)).await;

    let comments = bot_comments(&fake, 7);
    assert_eq!(comments.len(), 1);
    assert_golden(
        "preview_environments_added_removed.md",
        &normalised(&comments[0].body, &[(&repo.main, "BASE"), (&head, "HEAD")]),
    );
    let run = &only(fake.check_runs(REPO));
    assert_eq!(run.conclusion.as_deref(), Some("success"));
}

const DIGEST_BASE: &str = "sha256:3f1c9a4e5b6d7c8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcde";
const DIGEST_HEAD: &str = "sha256:9b8a7c6d5e4f30211029384756afbecd0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn an_image_bump_with_a_pinned_digest_shows_the_tag_and_digest_change() {
    let repo = ConfigRepo::new();
    repo.push("main", |w| {
        w.write(
            "envs/dev/api.yaml",
            &deployment("api", &format!("1.4.0@{DIGEST_BASE}")),
        );
    });
    repo.work.git(&["checkout", "--quiet", "main"]);
    let base = repo.work.git(&["rev-parse", "main"]);
    let head = repo.push("change", |w| {
        w.write(
            "envs/dev/api.yaml",
            &deployment("api", &format!("1.5.0@{DIGEST_HEAD}")),
        );
    });
    let (fake, server) = world(&repo).await;
    let event = PullEvent::new("opened", REPO, &repo.bare, 7)
        .base("main", &base)
        .head("change", &head);
    deliver(&server, "digest-1", &event).await;

    let comments = bot_comments(&fake, 7);
    assert_eq!(comments.len(), 1);
    assert_golden(
        "preview_image_digest.md",
        &normalised(&comments[0].body, &[(&base, "BASE"), (&head, "HEAD")]),
    );
    assert_eq!(
        only(fake.check_runs(REPO)).conclusion.as_deref(),
        Some("success")
    );
}

#[tokio::test]
async fn a_change_to_the_helm_values_files_list_previews_what_it_renders() {
    assert!(
        slipway::render::find_helm().is_some(),
        "`helm` is not on PATH: run the tests with tests/run, which installs it"
    );
    let config = "environments:\n  dev:\n    path: chart\n    namespace: team-dev\n    helm:\n      values: [values/dev.yaml]\n";
    let repo = ConfigRepo::with_config(Some(config));
    repo.push("main", |w| {
        w.write("chart/Chart.yaml", "apiVersion: v2\nname: api\nversion: 0.1.0\n")
            .write("chart/values.yaml", "replicas: 1\n")
            .write(
                "chart/templates/deployment.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: {{ .Values.replicas }}\n",
            )
            .write("values/dev.yaml", "replicas: 2\n")
            .write("values/busy.yaml", "replicas: 5\n");
    });
    let base = repo.work.git(&["rev-parse", "main"]);
    let head = repo.push("change", |w| {
        w.write(
            ".github/slipway.yml",
            &config.replace("[values/dev.yaml]", "[values/dev.yaml, values/busy.yaml]"),
        );
    });
    let (fake, server) = world(&repo).await;
    let event = PullEvent::new("opened", REPO, &repo.bare, 7)
        .base("main", &base)
        .head("change", &head);
    deliver(&server, "helm-values-1", &event).await;

    let body = only(bot_comments(&fake, 7)).body;
    assert!(
        body.contains("<b>changed</b> Deployment <code>team-dev/api</code>"),
        "{body}"
    );
    assert!(body.contains("-  replicas: 2\n+  replicas: 5\n"), "{body}");
    assert_eq!(
        only(fake.check_runs(REPO)).conclusion.as_deref(),
        Some("success")
    );
}

//! `/promote` end to end: the branch, the commit and the pull request it makes, verified by
//! reading the real bare repository behind the fake GitHub.

mod command_world;
mod git_fixtures;
mod manifests;
mod support;

use command_world::{World, ADMIN, PULL, REPO, WRITER};
use manifests::api_deployment;

const BRANCH: &str = "slipway/promote/prod";

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// prod's api.yaml with staging's versions of the API and its migration: the two image lines
/// change and every other byte (comments, quotes, the proxy that already matches) stays.
fn prod_with(api: &str, migrate: &str) -> String {
    let original = api_deployment("1.3.0", "1.3.0", "v1.30.1");
    let edited = original
        .replace(
            "registry.example.com/team/migrate:1.3.0   # in step",
            &format!("registry.example.com/team/migrate:{migrate}   # in step"),
        )
        .replace(
            "\"registry.example.com/team/api:1.3.0\"",
            &format!("\"registry.example.com/team/api:{api}\""),
        );
    assert_ne!(edited, original);
    edited
}

#[tokio::test]
async fn promote_commits_the_source_images_on_a_branch_and_opens_a_pull_request() {
    let world = World::new().await;
    let main = world.repo.resolve("main").unwrap();

    let comment = world.comment(WRITER, "/promote prod").await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    // The branch: one commit on main's head, changing prod's api.yaml only, byte for byte.
    let branch_head = world
        .repo
        .resolve(&format!("refs/heads/{BRANCH}"))
        .expect("the promotion branch exists");
    assert_eq!(
        world.repo.resolve(&format!("{branch_head}^")),
        Some(main.clone())
    );
    assert_eq!(
        world.repo.changed_paths(&main, &branch_head),
        ["envs/prod/api.yaml"]
    );
    assert_eq!(
        world.repo.show(&branch_head, "envs/prod/api.yaml"),
        prod_with("1.4.0", "1.4.0")
    );
    assert_eq!(
        world.repo.git(&["log", "-1", "--format=%B", &branch_head]),
        "Promote staging to prod\n\n\
         - registry.example.com/team/migrate: 1.3.0 -> 1.4.0\n\
         - registry.example.com/team/api: 1.3.0 -> 1.4.0"
    );
    // Made through the Git Data API with the installation token, so GitHub signs it.
    assert_eq!(world.fake.commit_verified(&branch_head), Some(true));

    // The pull request: from the branch into main, its body the promoted images and the preview.
    let pulls = world.pulls_from(BRANCH);
    assert_eq!(pulls.len(), 1, "{pulls:#?}");
    let pull = &pulls[0];
    assert_eq!(pull.base_ref, "main");
    assert_eq!(pull.title, "Promote staging to prod");
    let body = pull.body.clone().unwrap_or_default();
    assert!(
        body.starts_with(&format!(
            "<!-- slipway:promotion env=prod -->\n## Promote `staging` → `prod`\n\n\
             Requested with `/promote` by @{WRITER} in #{PULL}. Merging deploys `prod` with the \
             images `staging` runs.\n\n\
             | image | `prod` now | after merge |\n|---|---|---|\n\
             | `registry.example.com/team/migrate` | `1.3.0` | `1.4.0` |\n\
             | `registry.example.com/team/api` | `1.3.0` | `1.4.0` |\n\n\
             ## slipway · rendered manifests\n\n`{}` → `{}`\n",
            &main[..7],
            &branch_head[..7]
        )),
        "{body}"
    );
    assert!(
        body.contains("Deployment <code>team-prod/api</code>"),
        "{body}"
    );
    let diff_lines: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with('-') || l.starts_with('+'))
        .filter(|l| !l.starts_with("---") && !l.starts_with("+++"))
        .collect();
    assert_eq!(diff_lines.len(), 4, "two image lines change: {body}");
    assert!(
        diff_lines
            .iter()
            .any(|l| l.starts_with('-') && l.ends_with("registry.example.com/team/api:1.3.0")),
        "{body}"
    );
    assert!(
        diff_lines
            .iter()
            .any(|l| l.starts_with('+') && l.ends_with("registry.example.com/team/api:1.4.0")),
        "{body}"
    );

    assert_eq!(
        world.reply_to(&comment),
        format!(
            "**`/promote prod`** 🚀 Promotion of `staging` → `prod` opened #{} \
             (`registry.example.com/team/migrate` `1.3.0` → `1.4.0`, \
             `registry.example.com/team/api` `1.3.0` → `1.4.0`).\n",
            pull.number
        )
    );
}

#[tokio::test]
async fn promoting_again_updates_the_same_pull_request() {
    let world = World::new().await;
    let first = world.comment(WRITER, "/promote prod").await;
    assert_eq!(world.reactions(&first), strs(&["eyes", "rocket"]));
    let number = world.pulls_from(BRANCH)[0].number;
    assert!(
        world
            .reply_to(&first)
            .contains(&format!("Promotion of `staging` → `prod` opened #{number}")),
        "{}",
        world.reply_to(&first)
    );
    let first_head = world.repo.resolve(&format!("refs/heads/{BRANCH}")).unwrap();

    // Nothing changed: the branch already holds exactly this promotion; no new commit.
    let mark = world.fake.request_count();
    let same = world.comment(ADMIN, "/promote prod from staging").await;
    assert_eq!(world.reactions(&same), strs(&["eyes", "rocket"]));
    assert_eq!(
        world.repo.resolve(&format!("refs/heads/{BRANCH}")),
        Some(first_head.clone())
    );
    let calls = world.calls_since(mark);
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("/git/commits") || c.contains("/git/blobs")),
        "{calls:#?}"
    );
    assert!(
        world
            .reply_to(&same)
            .contains(&format!("is up to date: #{number}")),
        "{}",
        world.reply_to(&same)
    );

    // staging moves on, and main with it: promoting again replaces the branch's commit with
    // one on the new main, and updates the same pull request.
    let main = world.repo.push_main(|w| {
        w.write(
            "envs/staging/api.yaml",
            &api_deployment("1.5.0", "1.4.0", "v1.30.1"),
        );
        w.write("README.md", "# config\n");
    });
    let again = world.comment(WRITER, "/promote prod").await;
    assert_eq!(world.reactions(&again), strs(&["eyes", "rocket"]));

    let pulls = world.pulls_from(BRANCH);
    assert_eq!(pulls.len(), 1, "never a second pull request: {pulls:#?}");
    assert_eq!(pulls[0].number, number);
    let head = world.repo.resolve(&format!("refs/heads/{BRANCH}")).unwrap();
    assert_ne!(head, first_head);
    assert_eq!(world.repo.resolve(&format!("{head}^")), Some(main.clone()));
    assert_eq!(
        world.repo.changed_paths(&main, &head),
        ["envs/prod/api.yaml"]
    );
    assert_eq!(
        world.repo.show(&head, "envs/prod/api.yaml"),
        prod_with("1.5.0", "1.4.0")
    );
    let body = pulls[0].body.clone().unwrap_or_default();
    assert!(
        body.contains("| `registry.example.com/team/api` | `1.3.0` | `1.5.0` |"),
        "{body}"
    );
    assert_eq!(
        world.reply_to(&again),
        format!(
            "**`/promote prod`** 🚀 Promotion of `staging` → `prod` updated #{number} \
             (`registry.example.com/team/migrate` `1.3.0` → `1.4.0`, \
             `registry.example.com/team/api` `1.3.0` → `1.5.0`).\n"
        )
    );
}

#[tokio::test]
async fn nothing_is_bumped_when_the_target_already_runs_the_source_images() {
    let world = World::new().await;
    world.repo.push_main(|w| {
        w.write(
            "envs/staging/api.yaml",
            &api_deployment("1.5.0", "1.5.0", "v1.31.0"),
        );
    });
    let comment = world.comment(WRITER, "/promote staging").await;
    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    assert_eq!(
        world.reply_to(&comment),
        "**`/promote staging`** `staging` already runs the images of `dev`: already up to date, \
         nothing to promote.\n"
    );
    assert!(world
        .repo
        .resolve("refs/heads/slipway/promote/staging")
        .is_none());
    assert!(world.pulls_from("slipway/promote/staging").is_empty());
}

#[tokio::test]
async fn promotion_errors_are_replies() {
    let world = World::new().await;

    // No promote_from and no source named.
    let comment = world.comment(WRITER, "/promote dev").await;
    assert_eq!(world.reactions(&comment), strs(&["eyes", "confused"]));
    assert_eq!(
        world.reply_to(&comment),
        "**`/promote dev`** `dev` has no `promote_from` in `.github/slipway.yml`, so name the \
         source: `/promote dev from <env>`\n"
    );

    // Nothing in common between the environments.
    let comment = world.comment(WRITER, "/promote sandbox from prod").await;
    assert_eq!(world.reactions(&comment), strs(&["eyes", "confused"]));
    assert_eq!(
        world.reply_to(&comment),
        "**`/promote sandbox from prod`** nothing to promote: `sandbox` runs none of the tagged \
         images `prod` runs\n"
    );

    // A locked target.
    let lock = world.comment(ADMIN, "/lock prod incident 42").await;
    assert_eq!(world.reactions(&lock), strs(&["eyes", "rocket"]));
    assert!(world
        .reply_to(&lock)
        .starts_with("**`/lock prod incident 42`** 🔒 `prod` is locked"));
    // The lock refreshed the preview of the pull request under review.
    let runs = world.check_runs();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].conclusion.as_deref(), Some("success"));
    assert!(world.preview_comment().contains("### Environment `dev`"));
    let mark = world.fake.request_count();
    let comment = world.comment(WRITER, "/promote prod").await;
    assert_eq!(world.reactions(&comment), strs(&["eyes", "confused"]));
    let reply = world.reply_to(&comment);
    assert!(
        reply.starts_with("**`/promote prod`** `prod` is locked by `octocat` since "),
        "{reply}"
    );
    assert!(
        reply.ends_with(
            " (reason: `incident 42`), so nothing is bumped in it; `/unlock prod` first.\n"
        ),
        "{reply}"
    );
    assert!(world
        .repo
        .resolve(&format!("refs/heads/{BRANCH}"))
        .is_none());
    let calls = world.calls_since(mark);
    assert!(!calls.iter().any(|c| c.contains("/git/")), "{calls:#?}");
    assert!(world.fake.pulls(REPO).iter().all(|p| p.number == PULL));
}

#[tokio::test]
async fn after_the_promotion_pull_request_was_closed_a_new_one_is_opened() {
    let world = World::new().await;
    let promote = world.comment(WRITER, "/promote prod").await;
    assert_eq!(world.reactions(&promote), strs(&["eyes", "rocket"]));
    let first = world.pulls_from(BRANCH)[0].number;
    assert!(world
        .reply_to(&promote)
        .contains(&format!("opened #{first}")));
    world
        .fake
        .state()
        .repos
        .get_mut(REPO)
        .unwrap()
        .pulls
        .get_mut(&first)
        .unwrap()
        .state = "closed".into();
    // The branch is left behind with its old commit; main moves on.
    let main = world.repo.push_main(|w| {
        w.write(
            "envs/dev/extra.yaml",
            &manifests::config_map("extra", "mode", "on"),
        );
    });

    let comment = world.comment(WRITER, "/promote prod").await;
    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    let pulls = world.pulls_from(BRANCH);
    assert_eq!(pulls.len(), 2, "{pulls:#?}");
    let second = pulls
        .iter()
        .find(|p| p.state == "open")
        .expect("an open one");
    assert_ne!(second.number, first);
    let head = world.repo.resolve(&format!("refs/heads/{BRANCH}")).unwrap();
    assert_eq!(world.repo.resolve(&format!("{head}^")), Some(main));
    assert_eq!(
        world.repo.show(&head, "envs/prod/api.yaml"),
        prod_with("1.4.0", "1.4.0")
    );
    assert!(world
        .reply_to(&comment)
        .contains(&format!("opened #{}", second.number)));
}

#[tokio::test]
async fn a_promotion_interrupted_after_its_commit_finishes_without_a_second_commit() {
    let world = World::new().await;
    // GitHub fails the first pull-request call, after the commit is made; the queue retries.
    world.fake.fail_next(
        &format!("/repos/{REPO}/pulls"),
        support::Failure::server_error(),
        1,
    );
    let mark = world.fake.request_count();
    let comment = world.comment(WRITER, "/promote prod").await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    let calls = world.calls_since(mark);
    let count = |call: String| calls.iter().filter(|c| **c == call).count();
    assert_eq!(
        count(format!("GET /repos/{REPO}/pulls")),
        2,
        "the first attempt failed at the pull request: {calls:#?}"
    );
    assert_eq!(
        count(format!("POST /repos/{REPO}/git/commits")),
        1,
        "one commit across both attempts"
    );
    assert_eq!(world.pulls_from(BRANCH).len(), 1);
    assert_eq!(world.bot_comments(PULL).len(), 1, "one reply");
}

#[tokio::test]
async fn promote_copies_a_pinned_tag_and_digest_together() {
    let world = World::new().await;
    let tag = "0123456789abcdef0123456789abcdef01234567";
    let digest = format!("sha256:{}", "b".repeat(64));
    let old_digest = format!("sha256:{}", "a".repeat(64));
    let pinned = format!("{tag}@{digest}");
    // staging runs the build pinned; prod runs the same tag as another image (the tag was
    // pushed again): what runs differs only in the digest.
    world.repo.push_main(|w| {
        w.write(
            "envs/staging/api.yaml",
            &api_deployment(&pinned, "1.3.0", "v1.30.1"),
        );
        w.write(
            "envs/prod/api.yaml",
            &api_deployment(&format!("{tag}@{old_digest}"), "1.3.0", "v1.30.1"),
        );
    });
    let main = world.repo.resolve("main").unwrap();

    let comment = world.comment(WRITER, "/promote prod").await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    let branch_head = world
        .repo
        .resolve(&format!("refs/heads/{BRANCH}"))
        .expect("the promotion branch exists");
    assert_eq!(
        world.repo.show(&branch_head, "envs/prod/api.yaml"),
        api_deployment(&pinned, "1.3.0", "v1.30.1"),
        "tag and digest copied together, every other byte kept"
    );
    assert_eq!(
        world.repo.changed_paths(&main, &branch_head),
        ["envs/prod/api.yaml"]
    );
    assert_eq!(
        world.repo.git(&["log", "-1", "--format=%B", &branch_head]),
        format!(
            "Promote staging to prod\n\n\
             - registry.example.com/team/api: {tag}@{old_digest} -> {pinned}"
        )
    );
    let pulls = world.pulls_from(BRANCH);
    let body = pulls[0].body.clone().unwrap_or_default();
    assert!(
        body.contains(&format!(
            "| `registry.example.com/team/api` | `{tag}@{old_digest}` | `{pinned}` |"
        )),
        "{body}"
    );
    world.reply_to(&comment);
}

#[tokio::test]
async fn whoever_asked_for_a_promotion_is_recorded_as_its_requester_for_the_gate() {
    let world = World::new().await;
    let first = world.comment(WRITER, "/promote prod").await;
    let number = world.pulls_from(BRANCH)[0].number;
    let second = world.comment(ADMIN, "/promote prod from staging").await;
    for comment in [&first, &second] {
        assert_eq!(world.reactions(comment), strs(&["eyes", "rocket"]));
        assert!(
            world.reply_to(comment).contains(&format!("#{number}")),
            "{}",
            world.reply_to(comment)
        );
    }

    let recorded = world
        .server
        .store()
        .pull_participants(REPO, number)
        .await
        .expect("the store answers");
    assert_eq!(
        recorded.requesters,
        [WRITER, ADMIN],
        "neither may approve the promotion they asked for"
    );
}

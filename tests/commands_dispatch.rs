//! Comment commands end to end: real `issue_comment` webhooks posted to a running slipway, the
//! fake GitHub with a real bare config repo behind it, and what the commenter sees (the reply,
//! the reactions) and what changed (locks in the store, requests GitHub received).

mod command_world;
mod git_fixtures;
mod manifests;
mod support;

use command_world::{
    CommentEvent, World, ADMIN, ISSUE, MAINTAINER, PULL, READER, REPO, TRIAGER, WRITER,
};
use git_fixtures::assert_golden;

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// How many preview check runs slipway made, each asserted to be a finished success.
fn successes(world: &World) -> usize {
    let runs = world.check_runs();
    for run in &runs {
        assert_eq!(run.name, "slipway/preview");
        assert_eq!(run.conclusion.as_deref(), Some("success"), "{run:#?}");
    }
    runs.len()
}

#[tokio::test]
async fn help_replies_with_the_table_generated_help_for_anyone() {
    let world = World::new().await;
    world
        .server
        .store()
        .lock_environment(REPO, "prod", "alice", Some("release freeze"))
        .await
        .unwrap();

    // A reader may ask for help: no permission lookup is needed for it.
    let mark = world.fake.request_count();
    let comment = world.comment(READER, "/help").await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    assert_golden("commands_help.md", &world.reply_to(&comment));
    let calls = world.calls_since(mark);
    assert!(
        !calls.iter().any(|c| c.contains("/collaborators/")),
        "{calls:#?}"
    );
}

#[tokio::test]
async fn a_reader_is_refused_politely_and_nothing_happens() {
    let world = World::new().await;
    // Triage reports as read.
    for login in [READER, TRIAGER] {
        let mark = world.fake.request_count();
        let comment = world
            .comment(login, "/lock prod freeze\n/promote prod")
            .await;

        assert_eq!(
            world.reactions(&comment),
            strs(&["eyes", "confused"]),
            "{login}"
        );
        assert_eq!(
            world.reply_to(&comment),
            format!(
                "Sorry @{login}, running `/lock prod freeze`, `/promote prod` needs write, \
                 maintain or admin permission on `acme/config`, and yours is `read`. \
                 Nothing was done. Anyone may use `/help`; someone with write permission can run \
                 the command for you.\n"
            )
        );
        // No side effect: no lock, and GitHub saw only the token, the permission lookup,
        // reactions and the reply.
        assert!(world
            .server
            .store()
            .environment_locks(REPO)
            .await
            .unwrap()
            .is_empty());
        let calls = world.calls_since(mark);
        let allowed = [
            "POST /app/installations/42/access_tokens".to_string(),
            format!("GET /repos/{REPO}/collaborators/{login}/permission"),
            format!(
                "POST /repos/{REPO}/issues/comments/{}/reactions",
                comment.id
            ),
            format!("GET /repos/{REPO}/issues/{PULL}/comments"),
            format!("POST /repos/{REPO}/issues/{PULL}/comments"),
        ];
        for call in &calls {
            assert!(allowed.contains(call), "unexpected {call} in {calls:#?}");
        }
        assert!(world
            .repo
            .resolve("refs/heads/slipway/promote/prod")
            .is_none());
        assert!(world.pulls_from("slipway/promote/prod").is_empty());
    }
}

#[tokio::test]
async fn lock_then_unlock_store_the_lock_and_reply() {
    let world = World::new().await;

    let lock = world
        .comment(WRITER, "/lock prod release freeze — until Monday 🚧")
        .await;
    assert_eq!(world.reactions(&lock), strs(&["eyes", "rocket"]));
    assert_eq!(
        world.reply_to(&lock),
        "**`/lock prod release freeze — until Monday 🚧`** 🔒 `prod` is locked (reason: \
         `release freeze — until Monday 🚧`). Nothing deploys to it or is bumped in it until \
         `/unlock prod`.\n"
    );
    let stored = world
        .server
        .store()
        .environment_lock(REPO, "prod")
        .await
        .unwrap()
        .expect("prod is locked");
    assert_eq!(stored.locked_by, WRITER);
    assert_eq!(
        stored.reason.as_deref(),
        Some("release freeze — until Monday 🚧")
    );
    let since = slipway::commands::replies::lock_time(stored.locked_at);
    // Locking refreshes the preview (posted afresh, with its check run); the change does not
    // touch prod, so the preview shows only dev.
    let preview = world.preview_comment();
    assert!(preview.contains("### Environment `dev`"), "{preview}");
    assert!(!preview.contains("`prod`"), "{preview}");
    assert_eq!(successes(&world), 1);

    // Someone else locking it again leaves the first lock as it was.
    let again = world.comment(MAINTAINER, "/lock prod").await;
    assert_eq!(world.reactions(&again), strs(&["eyes", "rocket"]));
    assert_eq!(
        world.reply_to(&again),
        format!(
            "**`/lock prod`** `prod` was already locked by `alice` since {since} (reason: \
             `release freeze — until Monday 🚧`); that lock stays as it was.\n"
        )
    );

    let unlock = world.comment(ADMIN, "/unlock prod").await;
    assert_eq!(world.reactions(&unlock), strs(&["eyes", "rocket"]));
    assert_eq!(
        world.reply_to(&unlock),
        format!(
            "**`/unlock prod`** 🔓 `prod` is unlocked. It was locked by `alice` since {since} \
             (reason: `release freeze — until Monday 🚧`).\n"
        )
    );
    assert!(!world.preview_comment().contains("**Locked**"));
    assert_eq!(successes(&world), 2);
    assert!(world
        .server
        .store()
        .environment_locks(REPO)
        .await
        .unwrap()
        .is_empty());

    let twice = world.comment(WRITER, "/unlock prod").await;
    assert_eq!(world.reactions(&twice), strs(&["eyes", "rocket"]));
    assert_eq!(
        world.reply_to(&twice),
        "**`/unlock prod`** `prod` was not locked; nothing changed.\n"
    );
}

#[tokio::test]
async fn a_typo_gets_the_closest_valid_form_and_nothing_runs() {
    let world = World::new().await;
    let comment = world
        .comment(
            WRITER,
            "Let's ship it.\r\n/lock dev\r\n/promte prod\r\n/unlock stagin\r\n",
        )
        .await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "confused"]));
    assert_eq!(
        world.reply_to(&comment),
        "slipway cannot run these lines, so nothing was run:\n\n\
         - line 3: `/promte prod`: unknown command; did you mean `/promote prod`?\n\
         - line 4: `/unlock stagin`: unknown environment `stagin`; did you mean `/unlock staging`?\n\n\
         Commands: `/preview`, `/promote <env> [from <env>]`, `/rollback <env> [to <sha>]`, \
         `/lock <env> [reason…]`, `/unlock <env>`, `/help`. `/help` explains them.\n"
    );
    // The valid line did not run either.
    assert!(world
        .server
        .store()
        .environment_locks(REPO)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn several_commands_run_in_order_and_a_failure_stops_the_rest() {
    let world = World::new().await;
    let comment = world
        .comment(MAINTAINER, "/lock dev testing\n/lock staging\n")
        .await;
    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    assert_eq!(
        world.reply_to(&comment),
        "**`/lock dev testing`** 🔒 `dev` is locked (reason: `testing`). Nothing deploys to it or \
         is bumped in it until `/unlock dev`.\n\n\
         **`/lock staging`** 🔒 `staging` is locked. Nothing deploys to it or is bumped in it \
         until `/unlock staging`.\n"
    );
    // Each lock refreshed the preview.
    assert!(world.preview_comment().contains("**Locked** by `mona`"));
    assert_eq!(successes(&world), 2);

    // Promoting into locked staging fails; the unlock after it does not run.
    let comment = world.comment(WRITER, "/promote staging\n/unlock dev").await;
    assert_eq!(world.reactions(&comment), strs(&["eyes", "confused"]));
    let reply = world.reply_to(&comment);
    assert!(
        reply.starts_with("**`/promote staging`** `staging` is locked by `mona` since "),
        "{reply}"
    );
    assert!(
        reply.ends_with(
            ", so nothing is bumped in it; `/unlock staging` first.\n\n\
             Not run, because the command before failed: `/unlock dev`.\n"
        ),
        "{reply}"
    );
    let locks = world.server.store().environment_locks(REPO).await.unwrap();
    assert_eq!(locks.len(), 2);
    assert_eq!(
        successes(&world),
        2,
        "a failed promotion refreshes no preview"
    );
    assert!(world
        .repo
        .resolve("refs/heads/slipway/promote/staging")
        .is_none());
}

#[tokio::test]
async fn permissions_are_looked_up_once_per_user_for_a_while() {
    let world = World::new().await;
    let mark = world.fake.request_count();
    let locked =
        "🔒 `dev` is locked. Nothing deploys to it or is bumped in it until `/unlock dev`.";
    for (login, command, answer) in [
        (WRITER, "/lock dev", locked),
        (
            WRITER,
            "/unlock dev",
            "🔓 `dev` is unlocked. It was locked by `alice` since ",
        ),
        (ADMIN, "/lock dev", locked),
    ] {
        let comment = world.comment(login, command).await;
        assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
        let reply = world.reply_to(&comment);
        assert!(
            reply.starts_with(&format!("**`{command}`** {answer}")),
            "{reply}"
        );
    }
    assert!(world.preview_comment().contains("**Locked** by `octocat`"));
    assert_eq!(
        successes(&world),
        3,
        "each lock and unlock refreshed the preview"
    );
    let lookups: Vec<String> = world
        .calls_since(mark)
        .into_iter()
        .filter(|c| c.contains("/collaborators/"))
        .collect();
    assert_eq!(
        lookups,
        [
            format!("GET /repos/{REPO}/collaborators/{WRITER}/permission"),
            format!("GET /repos/{REPO}/collaborators/{ADMIN}/permission"),
        ]
    );
}

#[tokio::test]
async fn what_is_not_a_command_comment_costs_no_request() {
    let world = World::new().await;
    let mark = world.fake.request_count();

    // Prose, quoted and fenced commands, other bots' commands.
    world
        .comment(
            WRITER,
            "Thanks!\n> /lock prod\n\n```\n/promote prod\n```\n/cc @bob\n/assign @me\n",
        )
        .await;

    // A bot's comment, even one that looks like a command (slipway's own replies included).
    let bot = world.fake.state().add_comment(
        REPO,
        PULL,
        &support::fake_github::app_bot_login(),
        "Bot",
        "/lock prod",
    );
    let event = CommentEvent::new(&world.repo, PULL, &bot);
    world.deliver(&event.payload()).await;

    // A comment on a plain issue without a command.
    world
        .comment_on_issue(WRITER, ISSUE, "Rolled out fine, closing.\n> /lock prod\n")
        .await;

    // An edited or deleted comment runs nothing.
    let edited = world.fake.user_comments(REPO, PULL, WRITER, "/lock prod");
    for action in ["edited", "deleted"] {
        let mut event = CommentEvent::new(&world.repo, PULL, &edited);
        event.action = action.into();
        world.deliver(&event.payload()).await;
    }

    assert_eq!(world.calls_since(mark), Vec::<String>::new());
    let answers: Vec<u64> = world.bot_comments(PULL).iter().map(|c| c.id).collect();
    assert_eq!(answers, [bot.id], "only the bot's own comment");
    assert!(world.bot_comments(3).is_empty());
    assert!(world
        .server
        .store()
        .environment_locks(REPO)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn on_a_plain_issue_commands_run_but_preview_needs_a_pull_request() {
    let world = World::new().await;

    let preview = world
        .comment_on_issue(WRITER, ISSUE, "/lock prod\n/preview")
        .await;
    assert_eq!(world.reactions(&preview), strs(&["eyes", "confused"]));
    assert_eq!(
        world.reply_to(&preview),
        "slipway cannot run this comment, so nothing was run:\n\n\
         - line 2: `/preview`: `/preview` works on pull requests only, and this is an issue: \
         write it on the pull request\n\n\
         Commands: `/preview`, `/promote <env> [from <env>]`, `/rollback <env> [to <sha>]`, \
         `/lock <env> [reason…]`, `/unlock <env>`, `/help`. `/help` explains them.\n"
    );
    assert!(world
        .server
        .store()
        .environment_locks(REPO)
        .await
        .unwrap()
        .is_empty());

    let lock = world.comment_on_issue(WRITER, ISSUE, "/lock prod").await;
    assert_eq!(world.reactions(&lock), strs(&["eyes", "rocket"]));
    assert!(world
        .reply_to(&lock)
        .starts_with("**`/lock prod`** 🔒 `prod` is locked."));
    assert_eq!(
        world
            .server
            .store()
            .environment_locks(REPO)
            .await
            .unwrap()
            .len(),
        1
    );
    // There is no pull request to refresh the preview of.
    assert!(world.check_runs().is_empty());
    assert!(world.bot_comments(PULL).is_empty());
}

#[tokio::test]
async fn a_repository_without_environments_is_not_answered() {
    let repo =
        command_world::ConfigRepo::with_config("build:\n  image: registry.example.com/team/api\n");
    let world = World::with_repo(repo).await;
    let mark = world.fake.request_count();
    let comment = world.comment(WRITER, "/lock prod\n/help").await;
    assert!(world.reactions(&comment).is_empty());
    assert!(world.bot_comments(PULL).is_empty());
    // Only the token for fetching the repository.
    assert_eq!(
        world.calls_since(mark),
        ["POST /app/installations/42/access_tokens"]
    );
}

#[tokio::test]
async fn a_broken_configuration_is_reported() {
    let repo = command_world::ConfigRepo::with_config(
        "environments:\n  prod:\n    path: envs/prod\n    promote_from: nowhere\n",
    );
    let world = World::with_repo(repo).await;
    let comment = world.comment(WRITER, "/promote prod").await;
    assert_eq!(world.reactions(&comment), strs(&["eyes", "confused"]));
    let reply = world.reply_to(&comment);
    assert!(
        reply.starts_with(
            "slipway cannot run commands here: `.github/slipway.yml` on `main` is not valid, so \
             nothing was run.\n\n```text\n"
        ),
        "{reply}"
    );
    assert!(
        reply.contains("`promote_from` names environment `nowhere`"),
        "{reply}"
    );
}

#[tokio::test]
async fn a_redelivered_comment_edits_its_reply_instead_of_posting_another() {
    let world = World::new().await;
    let comment = world.fake.user_comments(REPO, PULL, WRITER, "/unlock dev");
    let payload = CommentEvent::new(&world.repo, PULL, &comment).payload();
    world.deliver(&payload).await;
    // GitHub redelivers under a new delivery id when asked to; the comment is the same.
    world.deliver(&payload).await;
    let replies = world.bot_comments(PULL);
    assert_eq!(replies.len(), 1, "{replies:#?}");
    assert_eq!(
        world.reactions(&world.comment_now(comment.id)),
        strs(&["eyes", "rocket"])
    );
}

#[tokio::test]
async fn preview_runs_the_preview_pipeline_again() {
    let world = World::new().await;
    let comment = world.comment(MAINTAINER, "/preview").await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    // The preview comment and the check run are the answer; there is no reply besides them.
    let comments = world.bot_comments(PULL);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(
        comments[0]
            .body
            .starts_with("<!-- slipway:preview part=1 -->\n"),
        "{}",
        comments[0].body
    );
    assert!(comments[0].body.contains("`dev`"), "{}", comments[0].body);
    let runs = world.fake.check_runs(REPO);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].name, "slipway/preview");
    assert_eq!(runs[0].conclusion.as_deref(), Some("success"));
}

#[tokio::test]
async fn locking_and_unlocking_refresh_the_preview_comment() {
    let world = World::new().await;
    let comment = world.comment(MAINTAINER, "/preview").await;
    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    let preview = |world: &World| world.preview_comment();
    assert!(
        preview(&world).contains("Not locked."),
        "{}",
        preview(&world)
    );

    let lock = world.comment(WRITER, "/lock dev hold on").await;
    let locked = preview(&world);
    assert!(locked.contains("**Locked** by `alice`"), "{locked}");
    assert!(locked.contains("hold on"), "{locked}");
    assert_eq!(world.reactions(&lock), strs(&["eyes", "rocket"]));
    assert_eq!(
        world.reply_to(&lock),
        "**`/lock dev hold on`** 🔒 `dev` is locked (reason: `hold on`). Nothing deploys to it \
         or is bumped in it until `/unlock dev`.\n"
    );

    let unlock = world.comment(WRITER, "/unlock dev").await;
    assert_eq!(world.reactions(&unlock), strs(&["eyes", "rocket"]));
    assert!(world
        .reply_to(&unlock)
        .starts_with("**`/unlock dev`** 🔓 `dev` is unlocked."));
    assert_eq!(
        successes(&world),
        3,
        "/preview, /lock and /unlock each ran the preview"
    );
    assert!(
        preview(&world).contains("Not locked."),
        "{}",
        preview(&world)
    );
}

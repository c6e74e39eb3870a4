//! `/rollback` end to end: real `issue_comment` webhooks, deploy history in slipway's store, and
//! the commit or pull request it makes, verified by reading the real bare repository behind the
//! fake GitHub.

mod command_world;
mod git_fixtures;
mod manifests;
mod support;

use command_world::{ConfigRepo, World, ADMIN, CONFIG, ISSUE, PULL, READER, REPO, WRITER};
use git_fixtures::git_in;
use manifests::{api_deployment, config_map};
use slipway::store::{DeployCounts, NewDeploy, DEPLOY_SUCCEEDED};

const PROD_BRANCH: &str = "slipway/rollback/prod";

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The world's configuration with `prod` gated behind two approvals.
fn gated_config() -> String {
    let gated = CONFIG.replace(
        "    namespace: team-prod\n",
        "    namespace: team-prod\n    required_approvals: 2\n",
    );
    assert_ne!(gated, CONFIG);
    gated
}

/// Records a successful deploy of `merge_sha` to `environment`, started at `at`.
async fn deployed(world: &World, environment: &str, merge_sha: &str, at: i64) {
    deploy_ended(world, environment, merge_sha, at, DEPLOY_SUCCEEDED).await;
}

async fn deploy_ended(world: &World, environment: &str, merge_sha: &str, at: i64, outcome: &str) {
    world
        .server
        .store()
        .record_deploy(&NewDeploy {
            repository: REPO.into(),
            environment: environment.into(),
            merge_sha: merge_sha.into(),
            pull_number: None,
            started_at: at,
            finished_at: Some(at + 1_000),
            outcome: outcome.into(),
            counts: DeployCounts::default(),
            deployment_id: None,
            check_run_id: None,
        })
        .await
        .expect("the deploy is recorded");
}

/// The object id of `path` at `rev` (a directory's tree id: equal ids, equal contents).
fn object(world: &World, rev: &str, path: &str) -> String {
    world.repo.git(&["rev-parse", &format!("{rev}:{path}")])
}

/// main moves on: dev gets a new release and a new file, staging a new release too.
fn release(world: &World) -> String {
    world.repo.push_main(|w| {
        w.write(
            "envs/dev/api.yaml",
            &api_deployment("1.6.0", "1.6.0", "v1.31.0"),
        );
        w.write("envs/dev/extra.yaml", &config_map("extra", "mode", "on"));
        w.write(
            "envs/staging/api.yaml",
            &api_deployment("1.5.0", "1.5.0", "v1.31.0"),
        );
    })
}

/// Someone else's commit onto main of the bare repository, changing README.md.
fn another_writer_pushes(bare: &std::path::Path) {
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let clone = scratch.path().join("clone");
    git_in(
        scratch.path(),
        &[
            "clone",
            "--quiet",
            bare.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    std::fs::write(clone.join("README.md"), "# config\n").unwrap();
    git_in(&clone, &["add", "--all"]);
    git_in(
        &clone,
        &["commit", "--quiet", "-m", "a change by someone else"],
    );
    git_in(&clone, &["push", "--quiet", "origin", "main"]);
}

#[tokio::test]
async fn an_ungated_rollback_commits_the_previously_deployed_directory_onto_main() {
    let world = World::new().await;
    let first = world.repo.resolve("main").unwrap();
    let second = release(&world);
    deployed(&world, "dev", &first, 1_000).await;
    deploy_ended(&world, "dev", &second, 2_000, "apply_failed").await;
    deployed(&world, "dev", &second, 3_000).await;

    let comment = world.comment(WRITER, "/rollback dev").await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    let main = world.repo.resolve("main").unwrap();
    assert_eq!(
        world.repo.resolve(&format!("{main}^")),
        Some(second.clone())
    );
    // dev is exactly what was deployed before (the new file gone); nothing else moved.
    assert_eq!(
        object(&world, &main, "envs/dev"),
        object(&world, &first, "envs/dev")
    );
    assert_eq!(
        world.repo.changed_paths(&second, &main),
        ["envs/dev/api.yaml", "envs/dev/extra.yaml"]
    );
    assert_eq!(
        world.repo.show(&main, "envs/staging/api.yaml"),
        api_deployment("1.5.0", "1.5.0", "v1.31.0")
    );
    assert_eq!(
        world.repo.git(&["log", "-1", "--format=%B", &main]),
        format!(
            "slipway: roll back dev to {}\n\n\
             Restores envs/dev as it was at {first}, the revision deployed before the current one.\n\
             Requested with /rollback by {WRITER} in #{PULL} (https://github.com/{REPO}/pull/{PULL}#issuecomment-{}).",
            &first[..7],
            comment.id
        )
    );
    assert_eq!(world.fake.commit_verified(&main), Some(true));
    assert_eq!(
        world.reply_to(&comment),
        format!(
            "**`/rollback dev`** ⏪ `dev` is rolled back to `{}`, the revision deployed before \
             the current one: commit [`{}`](https://github.com/{REPO}/commit/{main}) on `main` \
             restores `envs/dev`, and its push deploys it.\n",
            &first[..7],
            &main[..7]
        )
    );
}

#[tokio::test]
async fn a_named_commit_is_restored_and_a_path_it_lacks_is_removed() {
    let repo = ConfigRepo::new();
    let first = repo.resolve("main").unwrap();
    // A new environment whose directory did not exist at the first commit.
    let config = format!("{CONFIG}  qa:\n    path: envs/qa\n");
    repo.push_main(|w| {
        w.write(".github/slipway.yml", &config);
        w.write(
            "envs/qa/settings.yaml",
            &config_map("settings", "mode", "qa"),
        );
    });
    let second = release_on(&repo);
    let world = World::with_repo(repo).await;

    let dev = world
        .comment(
            ADMIN,
            &format!("/rollback dev to {}", first[..7].to_uppercase()),
        )
        .await;
    assert_eq!(world.reactions(&dev), strs(&["eyes", "rocket"]));
    let after_dev = world.repo.resolve("main").unwrap();
    assert_eq!(world.repo.resolve(&format!("{after_dev}^")), Some(second));
    assert_eq!(
        object(&world, &after_dev, "envs/dev"),
        object(&world, &first, "envs/dev")
    );
    assert!(
        world.reply_to(&dev).starts_with(&format!(
            "**`/rollback dev to {}`** ⏪ `dev` is rolled back to `{}`: commit [",
            first[..7].to_uppercase(),
            &first[..7]
        )),
        "{}",
        world.reply_to(&dev)
    );

    let qa = world
        .comment(WRITER, &format!("/rollback qa to {first}"))
        .await;
    assert_eq!(world.reactions(&qa), strs(&["eyes", "rocket"]));
    let after_qa = world.repo.resolve("main").unwrap();
    assert_eq!(
        world.repo.changed_paths(&after_dev, &after_qa),
        ["envs/qa/settings.yaml"]
    );
    assert!(world
        .repo
        .git(&["ls-tree", "--name-only", &after_qa, "envs/"])
        .lines()
        .all(|name| name != "envs/qa"));
    assert!(world.reply_to(&qa).contains("restores `envs/qa`"));
}

/// [`release`] on a repository not yet served.
fn release_on(repo: &ConfigRepo) -> String {
    repo.push_main(|w| {
        w.write(
            "envs/dev/api.yaml",
            &api_deployment("1.6.0", "1.6.0", "v1.31.0"),
        );
    })
}

#[tokio::test]
async fn a_gated_environment_gets_a_pull_request_that_a_second_rollback_updates() {
    let repo = ConfigRepo::with_config(&gated_config());
    let first = repo.resolve("main").unwrap();
    let second = repo.push_main(|w| {
        w.write(
            "envs/prod/api.yaml",
            &api_deployment("1.4.0", "1.4.0", "v1.30.1"),
        );
    });
    let third = repo.push_main(|w| {
        w.write(
            "envs/prod/api.yaml",
            &api_deployment("1.5.0", "1.5.0", "v1.31.0"),
        );
    });
    let world = World::with_repo(repo).await;
    deployed(&world, "prod", &second, 1_000).await;
    deployed(&world, "prod", &third, 2_000).await;

    let comment = world.comment(WRITER, "/rollback prod").await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    assert_eq!(
        world.repo.resolve("main"),
        Some(third.clone()),
        "main stays"
    );
    let head = world
        .repo
        .resolve(&format!("refs/heads/{PROD_BRANCH}"))
        .expect("the rollback branch exists");
    assert_eq!(world.repo.resolve(&format!("{head}^")), Some(third.clone()));
    assert_eq!(
        world.repo.changed_paths(&third, &head),
        ["envs/prod/api.yaml"]
    );
    assert_eq!(
        object(&world, &head, "envs/prod"),
        object(&world, &second, "envs/prod")
    );
    let pulls = world.pulls_from(PROD_BRANCH);
    assert_eq!(pulls.len(), 1, "{pulls:#?}");
    let pull = &pulls[0];
    assert_eq!(pull.base_ref, "main");
    assert_eq!(pull.title, format!("Roll back prod to {}", &second[..7]));
    assert_eq!(
        pull.body.clone().unwrap_or_default(),
        format!(
            "<!-- slipway:rollback env=prod -->\n## Roll back `prod` to `{short}`\n\n\
             Requested with `/rollback` by @{WRITER} in [#{PULL}](https://github.com/{REPO}/pull/{PULL}#issuecomment-{id}).\n\n\
             This pull request restores `envs/prod` as it was at [`{short}`](https://github.com/{REPO}/commit/{second}), \
             the revision deployed before the current one; nothing else changes.\n\n\
             `prod` needs 2 approving reviews: merging this pull request deploys the rollback. \
             Another `/rollback prod` replaces this pull request's commit.\n",
            short = &second[..7],
            id = comment.id,
        )
    );
    let number = pull.number;
    assert_eq!(
        world.reply_to(&comment),
        format!(
            "**`/rollback prod`** ⏪ Rollback of `prod` to `{}` (the revision deployed before \
             the current one) opened #{number}. `prod` needs 2 approving reviews; merging the \
             pull request deploys the rollback.\n",
            &second[..7]
        )
    );

    // The same rollback again: the branch holds it already, no new commit.
    let mark = world.fake.request_count();
    let same = world.comment(ADMIN, "/rollback prod").await;
    assert_eq!(world.reactions(&same), strs(&["eyes", "rocket"]));
    assert_eq!(
        world.repo.resolve(&format!("refs/heads/{PROD_BRANCH}")),
        Some(head.clone())
    );
    assert!(!world
        .calls_since(mark)
        .iter()
        .any(|c| c.contains("/git/commits") || c.contains("/git/trees")));
    assert!(world
        .reply_to(&same)
        .contains(&format!("is up to date: #{number}")));

    // Another target: the branch's commit is replaced, the same pull request updated.
    let other = world
        .comment(WRITER, &format!("/rollback prod to {first}"))
        .await;
    assert_eq!(world.reactions(&other), strs(&["eyes", "rocket"]));
    let pulls = world.pulls_from(PROD_BRANCH);
    assert_eq!(pulls.len(), 1, "never a second pull request: {pulls:#?}");
    assert_eq!(pulls[0].number, number);
    assert_eq!(pulls[0].title, format!("Roll back prod to {}", &first[..7]));
    let replaced = world
        .repo
        .resolve(&format!("refs/heads/{PROD_BRANCH}"))
        .unwrap();
    assert_ne!(replaced, head);
    assert_eq!(
        world.repo.resolve(&format!("{replaced}^")),
        Some(third.clone())
    );
    assert_eq!(
        object(&world, &replaced, "envs/prod"),
        object(&world, &first, "envs/prod")
    );
    assert_eq!(
        world.reply_to(&other),
        format!(
            "**`/rollback prod to {first}`** ⏪ Rollback of `prod` to `{}` updated #{number}. \
             `prod` needs 2 approving reviews; merging the pull request deploys the rollback.\n",
            &first[..7]
        )
    );
    assert_eq!(world.repo.resolve("main"), Some(third));
}

#[tokio::test]
async fn without_an_earlier_deploy_the_reply_says_how_to_name_one() {
    let world = World::new().await;
    let main = world.repo.resolve("main").unwrap();
    // Only what runs now, deployed twice.
    deployed(&world, "dev", &main, 1_000).await;
    deployed(&world, "dev", &main, 2_000).await;

    let comment = world.comment(WRITER, "/rollback dev").await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "confused"]));
    assert_eq!(
        world.reply_to(&comment),
        "**`/rollback dev`** slipway has recorded no successful deploy of `dev` before the \
         current one, so there is nothing to roll back to. Name the revision to restore: \
         `/rollback dev to <sha>`.\n"
    );
    assert_eq!(world.repo.resolve("main"), Some(main));
}

#[tokio::test]
async fn a_revision_main_already_matches_commits_nothing() {
    let world = World::new().await;
    let first = world.repo.resolve("main").unwrap();
    // Only staging changes: dev at main is what it was at the first commit.
    let main = world.repo.push_main(|w| {
        w.write(
            "envs/staging/api.yaml",
            &api_deployment("1.5.0", "1.5.0", "v1.31.0"),
        );
    });
    let mark = world.fake.request_count();

    let comment = world
        .comment(WRITER, &format!("/rollback dev to {}", &first[..10]))
        .await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    assert_eq!(
        world.reply_to(&comment),
        format!(
            "**`/rollback dev to {}`** `dev` already matches `{}`: `envs/dev` on `main` is as it \
             was there, so nothing was committed.\n",
            &first[..10],
            &first[..7]
        )
    );
    assert_eq!(world.repo.resolve("main"), Some(main));
    assert!(!world.calls_since(mark).iter().any(|c| c.contains("/git/")));
}

#[tokio::test]
async fn unknown_commits_and_commits_off_main_are_refused() {
    let world = World::new().await;
    let main = world.repo.resolve("main").unwrap();
    let off_main = world.repo.resolve("refs/heads/change").unwrap();

    let unknown = world.comment(WRITER, "/rollback dev to 0000000").await;
    assert_eq!(world.reactions(&unknown), strs(&["eyes", "confused"]));
    assert_eq!(
        world.reply_to(&unknown),
        "**`/rollback dev to 0000000`** `0000000` names no commit of this repository, so `dev` \
         was not rolled back.\n"
    );

    let tree = world.repo.git(&["rev-parse", &format!("{main}^{{tree}}")]);
    let not_a_commit = world
        .comment(WRITER, &format!("/rollback dev to {tree}"))
        .await;
    assert_eq!(world.reactions(&not_a_commit), strs(&["eyes", "confused"]));
    assert!(world.reply_to(&not_a_commit).ends_with(
        "names an object of this repository that is not a commit, so `dev` was not rolled back.\n"
    ));

    let off = world
        .comment(WRITER, &format!("/rollback dev to {off_main}"))
        .await;
    assert_eq!(world.reactions(&off), strs(&["eyes", "confused"]));
    assert_eq!(
        world.reply_to(&off),
        format!(
            "**`/rollback dev to {off_main}`** `{}` is not on `main`: a rollback restores a \
             revision of the default branch, so `dev` was not rolled back. Name a commit of \
             `main`.\n",
            &off_main[..7]
        )
    );
    assert_eq!(world.repo.resolve("main"), Some(main));
}

#[tokio::test]
async fn a_locked_environment_is_not_rolled_back() {
    let world = World::new().await;
    let first = world.repo.resolve("main").unwrap();
    let main = release(&world);
    let lock = world.comment(ADMIN, "/lock dev incident 42").await;
    assert_eq!(world.reactions(&lock), strs(&["eyes", "rocket"]));
    assert!(world.reply_to(&lock).contains("🔒 `dev` is locked"));
    // The lock refreshed the preview of the pull request under review.
    assert_eq!(world.check_runs().len(), 1);
    world.preview_comment();

    let mark = world.fake.request_count();
    let comment = world
        .comment(WRITER, &format!("/rollback dev to {first}"))
        .await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "confused"]));
    let reply = world.reply_to(&comment);
    assert!(
        reply.starts_with(&format!(
            "**`/rollback dev to {first}`** `dev` is locked by `{ADMIN}` since "
        )),
        "{reply}"
    );
    assert!(
        reply.ends_with(
            " (reason: `incident 42`), so it is not rolled back; `/unlock dev` first.\n"
        ),
        "{reply}"
    );
    assert_eq!(world.repo.resolve("main"), Some(main));
    assert!(!world.calls_since(mark).iter().any(|c| c.contains("/git/")));
}

#[tokio::test]
async fn a_reader_cannot_roll_back() {
    let world = World::new().await;
    let first = world.repo.resolve("main").unwrap();
    let main = release(&world);

    let comment = world
        .comment(READER, &format!("/rollback dev to {first}"))
        .await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "confused"]));
    assert!(world.reply_to(&comment).starts_with(&format!(
        "Sorry @{READER}, running `/rollback dev to {first}` needs write, maintain or admin \
         permission on `{REPO}`, and yours is `read`."
    )));
    assert_eq!(world.repo.resolve("main"), Some(main));
}

#[tokio::test]
async fn a_rollback_works_from_a_plain_issue() {
    let world = World::new().await;
    let first = world.repo.resolve("main").unwrap();
    let second = release(&world);
    deployed(&world, "dev", &first, 1_000).await;
    deployed(&world, "dev", &second, 2_000).await;

    let comment = world.comment_on_issue(WRITER, ISSUE, "/rollback dev").await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    let main = world.repo.resolve("main").unwrap();
    assert_eq!(world.repo.resolve(&format!("{main}^")), Some(second));
    assert_eq!(
        object(&world, &main, "envs/dev"),
        object(&world, &first, "envs/dev")
    );
    assert!(world
        .repo
        .git(&["log", "-1", "--format=%B", &main])
        .ends_with(&format!(
            "in #{ISSUE} (https://github.com/{REPO}/issues/{ISSUE}#issuecomment-{}).",
            comment.id
        )));
    assert!(world
        .reply_to(&comment)
        .starts_with("**`/rollback dev`** ⏪ `dev` is rolled back to "));
    assert!(
        world.bot_comments(PULL).is_empty(),
        "the reply is on the issue"
    );
}

#[tokio::test]
async fn a_branch_that_moves_during_the_rollback_is_read_again() {
    let world = World::new().await;
    let first = world.repo.resolve("main").unwrap();
    let second = release(&world);
    world
        .fake
        .before_ref_update(REPO, "main", 1, |bare: &std::path::Path| {
            another_writer_pushes(bare)
        });

    let comment = world
        .comment(WRITER, &format!("/rollback dev to {first}"))
        .await;

    assert_eq!(world.reactions(&comment), strs(&["eyes", "rocket"]));
    let main = world.repo.resolve("main").unwrap();
    let theirs = world.repo.resolve(&format!("{main}^")).unwrap();
    assert_eq!(world.repo.resolve(&format!("{theirs}^")), Some(second));
    assert_eq!(
        world.repo.show(&main, "README.md"),
        "# config\n",
        "their change stays"
    );
    assert_eq!(
        object(&world, &main, "envs/dev"),
        object(&world, &first, "envs/dev")
    );
    assert!(world
        .reply_to(&comment)
        .contains(&format!("[`{}`]", &main[..7])));
}

#[tokio::test]
async fn typos_and_hostile_arguments_are_answered_and_nothing_is_committed() {
    let world = World::new().await;
    let main = world.repo.resolve("main").unwrap();
    let mark = world.fake.request_count();

    let typo = world.comment(WRITER, "/rollbak dev").await;
    assert_eq!(world.reactions(&typo), strs(&["eyes", "confused"]));
    assert!(
        world
            .reply_to(&typo)
            .contains("- line 1: `/rollbak dev`: unknown command; did you mean `/rollback dev`?"),
        "{}",
        world.reply_to(&typo)
    );

    let hostile = world
        .comment(
            WRITER,
            "/rollback dev to $(git push --force)\n/rollback d`ev @team to abc1234\n/rollback dev to abc1234;rm",
        )
        .await;
    assert_eq!(world.reactions(&hostile), strs(&["eyes", "confused"]));
    let reply = world.reply_to(&hostile);
    // What was written is shown only inside code spans: no mention, no markup.
    for line in [
        "- line 1: `/rollback dev to $(git push --force)`: `$(git` is not a commit sha: write 7 \
         to 40 hexadecimal digits; usage: `/rollback <env> [to <sha>]`",
        "- line 2: `/rollback d'ev @team to abc1234`: unexpected `@team`; did you mean \
         `/rollback d'ev`?",
        "- line 3: `/rollback dev to abc1234;rm`: `abc1234;rm` is not a commit sha: write 7 to \
         40 hexadecimal digits; usage: `/rollback <env> [to <sha>]`",
    ] {
        assert!(reply.contains(line), "{line}\n{reply}");
    }
    assert_eq!(world.repo.resolve("main"), Some(main));
    assert!(!world.calls_since(mark).iter().any(|c| c.contains("/git/")));
}

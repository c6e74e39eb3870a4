//! A scenario fails when slipway posted something it never read: every comment posted or
//! edited, reaction added and check run created or updated is kept, with what a reader would
//! see of it, until the test reads it through the world.

mod command_world;
mod git_fixtures;
mod manifests;
mod support;

use command_world::{World, PULL, READER, REPO, WRITER};

#[tokio::test]
async fn what_slipway_posted_stays_unread_until_the_test_reads_it() {
    let world = World::new().await;
    let comment = world.comment(READER, "/help").await;
    let reply_id = comment.id + 1;

    assert_eq!(
        world.fake.unread(),
        [
            format!("reaction eyes on comment {} by mallory: /help", comment.id),
            format!("comment {reply_id} on #{PULL} posted: **`/help`**"),
            format!(
                "reaction rocket on comment {} by mallory: /help",
                comment.id
            ),
        ]
    );

    assert!(world.reply_to(&comment).starts_with("**`/help`**"));
    assert_eq!(
        world.fake.unread(),
        [
            format!("reaction eyes on comment {} by mallory: /help", comment.id),
            format!(
                "reaction rocket on comment {} by mallory: /help",
                comment.id
            ),
        ],
        "reading the reply reads nothing else"
    );

    assert_eq!(world.reactions(&comment), ["eyes", "rocket"]);
    assert!(world.fake.unread().is_empty(), "{:?}", world.fake.unread());
}

#[tokio::test]
async fn an_edit_after_the_test_read_the_preview_is_unread_with_its_new_check_run() {
    let world = World::new().await;
    let lock = world.comment(WRITER, "/lock dev").await;
    world.reply_to(&lock);
    world.reactions(&lock);
    assert!(world.preview_comment().contains("**Locked** by `alice`"));
    assert_eq!(world.check_runs().len(), 1);
    assert!(world.fake.unread().is_empty(), "{:?}", world.fake.unread());

    let unlock = world.comment(WRITER, "/unlock dev").await;
    world.reply_to(&unlock);
    world.reactions(&unlock);

    let preview = world
        .fake
        .peek_comments_on(REPO, PULL)
        .into_iter()
        .find(|c| c.body.starts_with("<!-- slipway:preview"))
        .expect("the preview comment");
    let head = world.repo.resolve("change").expect("the change branch");
    let unread = world.fake.unread();
    assert_eq!(unread.len(), 3, "{unread:#?}");
    assert!(
        unread[0].starts_with("check run ")
            && unread[0].ends_with(&format!(
                "`slipway/preview` on {} created: in_progress - (no title)",
                &head[..7]
            )),
        "{unread:#?}"
    );
    assert_eq!(
        unread[1],
        format!(
            "comment {} on #{PULL} edited (edit 1): ## slipway · rendered manifests",
            preview.id
        )
    );
    assert!(
        unread[2].ends_with("updated (update 1): completed success 1 environment changes"),
        "{unread:#?}"
    );

    assert!(world.preview_comment().contains("Not locked."));
    assert_eq!(world.check_runs().len(), 2);
    assert!(world.fake.unread().is_empty(), "{:?}", world.fake.unread());
}

#[tokio::test]
#[should_panic(expected = "slipway posted 2 thing(s) the test never read:\n  \
                           - reaction eyes on comment 1 by mallory: /help\n  \
                           - reaction rocket on comment 1 by mallory: /help")]
async fn a_scenario_that_leaves_reactions_unread_fails_listing_them() {
    let world = World::new().await;
    let comment = world.comment(READER, "/help").await;
    assert!(world.reply_to(&comment).starts_with("**`/help`**"));
}

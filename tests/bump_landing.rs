//! Landing image bumps in a config repo: the commit on the default branch (read back from the
//! real bare repository), retries when the branch moves, rolling pull requests for gated
//! environments, locks, and fifty builds finishing at once.

mod bump_world;
mod git_fixtures;
mod manifests;
mod support;

use std::time::{Duration, Instant};

use bump_world::{another_writer_pushes, image, sha, ConfigRepo, World, REPO};
use manifests::deployment;
use slipway::bump::BumpError;
use slipway::pipelines::bumps::{BumpFailure, BumpLanded, BumpOrder, MovedImage};
use support::FakeGitHub;

fn committed(landed: &BumpLanded) -> (&str, &[MovedImage]) {
    match landed {
        BumpLanded::Committed { sha, images, .. } => (sha, images),
        other => panic!("not committed: {other:?}"),
    }
}

#[tokio::test]
async fn a_bump_is_one_commit_on_the_default_branch_changing_one_line() {
    let world = World::new(ConfigRepo::with_services(&["api", "web"])).await;
    let before = world.repo.main();

    let order = world.order("dev", "web", "web-1");
    let landed = world.bumper.land(order.clone()).await.expect("lands");

    let main = world.repo.main();
    assert_eq!(
        landed,
        BumpLanded::Committed {
            sha: main.clone(),
            url: format!("https://github.com/{REPO}/commit/{main}"),
            images: vec![MovedImage {
                image: image("web"),
                environment: "dev".into(),
                from: "1.0.0".into(),
                to: order.tag.clone(),
            }],
        }
    );
    assert_eq!(world.repo.parents(&main), vec![before.clone()]);
    assert_eq!(
        world.repo.changed_lines(&before, &main),
        [
            "-          image: registry.example.com/team/web:1.0.0".to_string(),
            format!(
                "+          image: registry.example.com/team/web:{}",
                order.tag
            ),
        ]
    );
    assert_eq!(
        world.repo.changed_paths(&before, &main),
        ["envs/dev/web.yaml"]
    );
    assert_eq!(
        world.repo.message(&main),
        format!(
            "slipway: bump registry.example.com/team/web 1.0.0 → {tag} in dev\n\n\
             Source: acme/web@{short} https://github.com/acme/web/commit/{tag}",
            tag = order.tag,
            short = &order.tag[..7]
        )
    );
    // Made with the installation token through the Git Data API: GitHub signs it.
    assert_eq!(world.fake.commit_verified(&main), Some(true));
    let patches = world
        .fake
        .requests_to("PATCH /repos/acme/config/git/refs/heads/main");
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].body["force"], false);

    // The same build again: nothing to do. The installation was found once.
    assert_eq!(
        world.bumper.land(order).await.expect("lands"),
        BumpLanded::AlreadyCurrent
    );
    assert_eq!(world.repo.main(), main);
    assert_eq!(
        world
            .fake
            .requests_to("GET /repos/acme/config/installation")
            .len(),
        1
    );
}

#[tokio::test]
async fn a_branch_that_moves_between_read_and_update_is_read_again_and_both_changes_land() {
    let world = World::new(ConfigRepo::with_services(&["api", "web"])).await;
    let before = world.repo.main();
    // Someone bumps api by hand just as slipway moves main.
    world
        .fake
        .before_ref_update(REPO, "main", 1, |bare: &std::path::Path| {
            another_writer_pushes(bare, "envs/dev/api.yaml", &deployment("api", "2.0.0"));
        });

    let order = world.order("dev", "web", "web-1");
    let landed = world.bumper.land(order.clone()).await.expect("lands");

    let main = world.repo.main();
    assert_eq!(committed(&landed).0, main);
    let theirs = world.repo.parents(&main);
    assert_eq!(theirs.len(), 1);
    assert_eq!(
        world.repo.parents(&theirs[0]),
        [before],
        "their commit, then ours"
    );
    assert_eq!(
        world.repo.show(&main, "envs/dev/api.yaml"),
        deployment("api", "2.0.0")
    );
    assert_eq!(
        world.repo.show(&main, "envs/dev/web.yaml"),
        deployment("web", &order.tag)
    );
    assert_eq!(
        world.repo.changed_paths(&theirs[0], &main),
        ["envs/dev/web.yaml"]
    );
    // Refused once (422 "Update is not a fast forward"), then accepted.
    assert_eq!(
        world
            .fake
            .requests_to("PATCH /repos/acme/config/git/refs/heads/main")
            .len(),
        2
    );
}

#[tokio::test]
async fn a_branch_that_keeps_moving_fails_the_bump_as_transient_after_five_attempts() {
    let world = World::new(ConfigRepo::with_services(&["api", "web"])).await;
    let counter = std::sync::atomic::AtomicUsize::new(0);
    world
        .fake
        .before_ref_update(REPO, "main", 5, move |bare: &std::path::Path| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            another_writer_pushes(bare, "README.md", &format!("# config, edit {n}\n"));
        });

    let failure = world
        .bumper
        .land(world.order("dev", "web", "web-1"))
        .await
        .expect_err("never lands");

    assert!(failure.is_transient(), "{failure}");
    assert!(
        matches!(failure, BumpFailure::Contended { attempts: 5, .. }),
        "{failure:?}"
    );
    assert_eq!(
        failure.to_string(),
        "config repo acme/config: branch main moved while the bump was committed, 5 times in a row"
    );
    assert_eq!(
        world
            .fake
            .requests_to("PATCH /repos/acme/config/git/refs/heads/main")
            .len(),
        5
    );
    let main = world.repo.main();
    assert_eq!(world.repo.show(&main, "README.md"), "# config, edit 4\n");
    assert_eq!(
        world.repo.show(&main, "envs/dev/web.yaml"),
        deployment("web", "1.0.0")
    );
}

#[tokio::test]
async fn a_gated_environment_gets_one_rolling_pull_request_per_image() {
    let world = World::new(ConfigRepo::with_services(&["api", "web"])).await;
    let main = world.repo.main();
    const BRANCH: &str = "slipway/bump/prod/api";

    let first = world.order("prod", "api", "api-1");
    let landed = world.bumper.land(first.clone()).await.expect("proposed");
    let BumpLanded::Proposed {
        number,
        url,
        opened: true,
    } = landed
    else {
        panic!("not a new pull request: {landed:?}")
    };
    assert_eq!(url, format!("https://github.com/{REPO}/pull/{number}"));
    assert_eq!(
        world.repo.main(),
        main,
        "the default branch waits for the review"
    );
    let head = world.repo.head(BRANCH).expect("the bump branch");
    assert_eq!(world.repo.parents(&head), vec![main.clone()]);
    assert_eq!(
        world.repo.changed_paths(&main, &head),
        ["envs/prod/api.yaml"]
    );
    assert_eq!(
        world.repo.show(&head, "envs/prod/api.yaml"),
        deployment("api", &first.tag)
    );
    let pull = world.fake.pull(REPO, number).expect("the pull request");
    assert_eq!(
        (pull.head_ref.as_str(), pull.base_ref.as_str()),
        (BRANCH, "main")
    );
    assert_eq!(
        pull.title,
        format!(
            "slipway: bump registry.example.com/team/api 1.0.0 → {} in prod",
            first.tag
        )
    );
    let body = pull.body.unwrap_or_default();
    assert!(
        body.starts_with(
            "<!-- slipway:bump env=prod image=registry.example.com/team/api -->\n\
             ## Bump `registry.example.com/team/api` in `prod`\n"
        ),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "| `registry.example.com/team/api` | `1.0.0` | `{}` |",
            first.tag
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "Built from [acme/api@\u{200D}{}](https://github.com/acme/api/commit/{})",
            &first.tag[..7],
            first.tag
        )),
        "{body}"
    );
    assert!(body.contains("`prod` needs 2 approving reviews"), "{body}");

    // main moves on; the next build of the image replaces the branch's one commit and
    // updates the same pull request.
    let main = another_writer_pushes(&world.repo.bare, "README.md", "# config\n\nmoved\n");
    let second = world.order("prod", "api", "api-2");
    let landed = world.bumper.land(second.clone()).await.expect("proposed");
    assert_eq!(
        landed,
        BumpLanded::Proposed {
            number,
            url: url.clone(),
            opened: false
        }
    );
    let pulls: Vec<_> = world
        .fake
        .pulls(REPO)
        .into_iter()
        .filter(|p| p.head_ref == BRANCH)
        .collect();
    assert_eq!(pulls.len(), 1, "never a second pull request: {pulls:#?}");
    let new_head = world.repo.head(BRANCH).expect("the bump branch");
    assert_ne!(new_head, head);
    assert_eq!(
        world.repo.parents(&new_head),
        vec![main.clone()],
        "one commit on the new main"
    );
    assert_eq!(
        world.repo.show(&new_head, "envs/prod/api.yaml"),
        deployment("api", &second.tag)
    );
    assert_eq!(
        pulls[0].title,
        format!(
            "slipway: bump registry.example.com/team/api 1.0.0 → {} in prod",
            second.tag
        )
    );
    // The ref was replaced (slipway's own branch), never the default branch forced.
    let forced: Vec<_> = world
        .fake
        .requests_to("PATCH /repos/acme/config/git/refs/heads/")
        .into_iter()
        .filter(|r| r.body["force"] == true)
        .collect();
    assert_eq!(forced.len(), 1);
    assert!(forced[0].path.ends_with(BRANCH), "{}", forced[0].path);
}

#[tokio::test]
async fn a_locked_environment_gets_no_bump() {
    let world = World::new(ConfigRepo::with_services(&["api"])).await;
    let main = world.repo.main();
    world
        .store
        .lock_environment(REPO, "dev", "alice", Some("incident 42"))
        .await
        .expect("locked");

    let landed = world
        .bumper
        .land(world.order("dev", "api", "api-1"))
        .await
        .expect("answered");

    assert_eq!(
        landed,
        BumpLanded::Locked {
            by: "alice".into(),
            reason: Some("incident 42".into())
        }
    );
    assert_eq!(world.repo.main(), main);
    assert!(world
        .fake
        .requests_to("POST /repos/acme/config/git")
        .is_empty());
}

#[tokio::test]
async fn orders_that_wait_for_a_commit_go_into_the_next_one_together_and_a_bad_one_fails_alone() {
    // ghost may be bumped in dev, but dev runs no ghost.
    let world = World::new(ConfigRepo::allowing(&["api", "web", "worker"], &["ghost"])).await;
    let before = world.repo.main();
    // The first commit's ref update is slow, so the next orders arrive while it is made.
    world.fake.delay_next(
        "PATCH /repos/acme/config/git/refs/heads/main",
        Duration::from_millis(500),
        1,
    );
    let bumper = world.bumper.clone();
    let api = world.order("dev", "api", "api-1");
    let first = tokio::spawn(async move { bumper.land(api).await });
    while world
        .fake
        .requests_to("PATCH /repos/acme/config/git/refs/heads/main")
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let (web, ghost, worker) = tokio::join!(
        world.bumper.land(world.order("dev", "web", "web-1")),
        world.bumper.land(world.order("dev", "ghost", "ghost-1")),
        world.bumper.land(world.order("dev", "worker", "worker-1")),
    );
    let first = first.await.expect("the task ran").expect("lands");

    let ghost = ghost.expect_err("ghost is not deployed in dev");
    assert!(
        matches!(&ghost, BumpFailure::Bump { environment, error, .. } if environment == "dev" && matches!(error.as_ref(), BumpError::NotFound { .. })),
        "{ghost:?}"
    );
    assert_eq!(
        ghost.to_string(),
        "config repo acme/config: image registry.example.com/team/ghost is not referenced in \
         environment dev (looked for kustomization images entries, container images and \
         Helm-values image blocks)"
    );
    let (first_sha, first_images) = committed(&first);
    assert_eq!(first_images.len(), 1);
    let (web, worker) = (web.expect("lands"), worker.expect("lands"));
    assert_eq!(web, worker, "one commit, the same answer");
    let (second_sha, images) = committed(&web);
    let moved: Vec<&str> = images.iter().map(|m| m.image.as_str()).collect();
    assert_eq!(moved, [image("web"), image("worker")]);

    assert_eq!(
        world.repo.commits(&format!("{before}..main")),
        [first_sha, second_sha]
    );
    let message = world.repo.message(second_sha);
    let web_tag = sha("web-1");
    let worker_tag = sha("worker-1");
    assert_eq!(
        message,
        format!(
            "slipway: bump 2 images in dev\n\n\
             - registry.example.com/team/web 1.0.0 → {web_tag} in dev (source: acme/web@{} https://github.com/acme/web/commit/{web_tag})\n\
             - registry.example.com/team/worker 1.0.0 → {worker_tag} in dev (source: acme/worker@{} https://github.com/acme/worker/commit/{worker_tag})",
            &web_tag[..7],
            &worker_tag[..7],
        )
    );
    assert_eq!(
        world.repo.changed_paths(first_sha, second_sha),
        ["envs/dev/web.yaml", "envs/dev/worker.yaml"]
    );
}

#[tokio::test]
async fn fifty_builds_finishing_at_once_all_land() {
    let names: Vec<String> = (0..50).map(|n| format!("svc-{n:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let world = World::new(ConfigRepo::with_services(&refs)).await;
    let before = world.repo.main();

    let started = Instant::now();
    let landings = names.iter().map(|name| {
        let bumper = world.bumper.clone();
        let order = world.order("dev", name, &format!("{name}-1"));
        tokio::spawn(async move { bumper.land(order).await })
    });
    let mut results = Vec::new();
    for landing in landings.collect::<Vec<_>>() {
        results.push(landing.await.expect("the task ran"));
    }
    let elapsed = started.elapsed();

    let main = world.repo.main();
    let commits = world.repo.commits(&format!("{before}..main"));
    println!(
        "50 concurrent bumps landed in {} ms, in {} commits",
        elapsed.as_millis(),
        commits.len()
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    for (name, result) in names.iter().zip(&results) {
        let landed = result
            .as_ref()
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        let (commit, images) = committed(landed);
        assert!(
            images.iter().any(|m| m.image == image(name)),
            "{name}'s commit lists it: {images:?}"
        );
        assert!(
            commits.iter().any(|c| c == commit),
            "{name}: {commit} is on main"
        );
        assert_eq!(
            world.repo.show(&main, &format!("envs/dev/{name}.yaml")),
            deployment(name, &sha(&format!("{name}-1"))),
            "{name} is at its new tag"
        );
    }
    // Every commit's message lists exactly the images its diff moves.
    let mut parent = before;
    for commit in &commits {
        let message = world.repo.message(commit);
        let mut changed: Vec<String> = world
            .repo
            .changed_paths(&parent, commit)
            .iter()
            .map(|p| image(p.trim_start_matches("envs/dev/").trim_end_matches(".yaml")))
            .collect();
        changed.sort();
        let mut listed: Vec<String> = names
            .iter()
            .map(|n| image(n))
            .filter(|i| message.contains(&format!("{i} 1.0.0 → ")))
            .collect();
        listed.sort();
        assert_eq!(listed, changed, "{commit}: {message}");
        parent = commit.clone();
    }
}

#[tokio::test]
async fn an_unknown_environment_or_a_repo_without_the_app_is_a_clear_failure() {
    let repo = ConfigRepo::with_services(&["api"]);
    let fake = FakeGitHub::builder()
        .with_installation_on(REPO, support::payloads::INSTALLATION_ID)
        .with_repo(REPO, &repo.bare)
        .with_repository("acme/elsewhere")
        .start()
        .await;
    let world = World::with_fake(repo, fake).await;

    let unknown = world
        .bumper
        .land(world.order("staging", "api", "api-1"))
        .await
        .expect_err("no staging");
    assert_eq!(
        unknown.to_string(),
        "config repo acme/config declares no environment `staging` in .github/slipway.yml; declared: dev, prod"
    );
    assert!(!unknown.is_transient());

    let mut elsewhere = world.order("dev", "api", "api-1");
    elsewhere.config_repo = "acme/elsewhere".parse().unwrap();
    let failure = world
        .bumper
        .land(elsewhere)
        .await
        .expect_err("not installed");
    assert_eq!(
        failure.to_string(),
        "the GitHub App is not installed on config repo acme/elsewhere"
    );
    assert!(!failure.is_transient());
}

/// The order of a build of `attacker_repo` whose `build.image` names service `name`'s image.
fn order_from(world: &World, env: &str, name: &str, attacker_repo: &str) -> BumpOrder {
    let mut order = world.order(env, name, "evil-1");
    order.source.repo = attacker_repo.parse().expect("owner/name");
    order.source.url = format!("https://github.com/{attacker_repo}/commit/{}", order.tag);
    order
}

#[tokio::test]
async fn a_build_of_a_repo_the_environment_does_not_list_for_the_image_is_refused() {
    // acme/evil's `.github/slipway.yml` builds registry.example.com/team/api and deploys to
    // acme/config's dev; acme/config lists only acme/api for that image.
    let world = World::new(ConfigRepo::with_services(&["api"])).await;
    let main = world.repo.main();

    let landed = world
        .bumper
        .land(order_from(&world, "dev", "api", "acme/evil"))
        .await
        .expect("answered");

    assert_eq!(
        landed,
        BumpLanded::NotAllowed {
            environment: "dev".into(),
            image: image("api"),
            source: "acme/evil".parse().unwrap(),
        }
    );
    assert_eq!(world.repo.main(), main, "nothing committed");
    assert!(world.repo.head("slipway/bump/dev/api").is_none());
    assert!(world
        .fake
        .requests_to("POST /repos/acme/config/git")
        .is_empty());
    // Not in a gated environment either: no branch, no pull request.
    let gated = world
        .bumper
        .land(order_from(&world, "prod", "api", "acme/evil"))
        .await
        .expect("answered");
    assert!(matches!(gated, BumpLanded::NotAllowed { .. }), "{gated:?}");
    assert!(world.fake.pulls(REPO).is_empty());
}

#[tokio::test]
async fn an_environment_without_bumped_by_takes_no_builds_bump() {
    // dev runs api, and its `.github/slipway.yml` lists nobody.
    let repo = ConfigRepo::with_services(&[]);
    another_writer_pushes(&repo.bare, "envs/dev/api.yaml", &deployment("api", "1.0.0"));
    let world = World::new(repo).await;
    let main = world.repo.main();

    let landed = world
        .bumper
        .land(world.order("dev", "api", "api-1"))
        .await
        .expect("answered");

    assert!(
        matches!(landed, BumpLanded::NotAllowed { .. }),
        "{landed:?}"
    );
    assert_eq!(world.repo.main(), main);
}

#[tokio::test]
async fn a_refused_order_in_a_batch_lands_the_others_in_one_commit() {
    let world = World::new(ConfigRepo::with_services(&["api", "web", "worker"])).await;
    let before = world.repo.main();
    world.fake.delay_next(
        "PATCH /repos/acme/config/git/refs/heads/main",
        Duration::from_millis(500),
        1,
    );
    let bumper = world.bumper.clone();
    let api = world.order("dev", "api", "api-1");
    let first = tokio::spawn(async move { bumper.land(api).await });
    while world
        .fake
        .requests_to("PATCH /repos/acme/config/git/refs/heads/main")
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let (web, evil, worker) = tokio::join!(
        world
            .bumper
            .land(world.pinned_order("dev", "web", "web-1", "web-image-1")),
        world
            .bumper
            .land(order_from(&world, "dev", "api", "acme/evil")),
        world.bumper.land(world.order("dev", "worker", "worker-1")),
    );
    let first = first.await.expect("the task ran").expect("lands");

    assert!(
        matches!(evil.expect("answered"), BumpLanded::NotAllowed { .. }),
        "the foreign build is refused"
    );
    let (web, worker) = (web.expect("lands"), worker.expect("lands"));
    assert_eq!(web, worker, "one commit, the same answer");
    let (second_sha, _) = committed(&web);
    assert_eq!(
        world.repo.commits(&format!("{before}..main")),
        [committed(&first).0, second_sha]
    );
    assert_eq!(
        world.repo.show(second_sha, "envs/dev/api.yaml"),
        deployment("api", &sha("api-1")),
        "api's own build, not the foreign one"
    );
    assert_eq!(
        world.repo.changed_paths(committed(&first).0, second_sha),
        ["envs/dev/web.yaml", "envs/dev/worker.yaml"]
    );
    assert_eq!(
        world.repo.show(second_sha, "envs/dev/web.yaml"),
        deployment(
            "web",
            &format!("{}@{}", sha("web-1"), bump_world::digest("web-image-1"))
        ),
    );
}

#[tokio::test]
async fn a_build_with_a_digest_pins_it_and_an_overwritten_tag_is_a_change() {
    let world = World::new(ConfigRepo::with_services(&["api"])).await;
    let before = world.repo.main();
    let order = world.pinned_order("dev", "api", "api-1", "image-1");
    let pinned = format!("{}@{}", order.tag, bump_world::digest("image-1"));

    let landed = world.bumper.land(order.clone()).await.expect("lands");

    let (first, images) = committed(&landed);
    assert_eq!(images[0].from, "1.0.0");
    assert_eq!(images[0].to, pinned);
    assert_eq!(
        world.repo.changed_lines(&before, first),
        [
            "-          image: registry.example.com/team/api:1.0.0".to_string(),
            format!("+          image: registry.example.com/team/api:{pinned}"),
        ]
    );
    assert_eq!(
        world.repo.message(first).lines().next().unwrap(),
        format!("slipway: bump registry.example.com/team/api 1.0.0 → {pinned} in dev")
    );
    // The same tag and digest again: nothing to do.
    assert_eq!(
        world.bumper.land(order.clone()).await.expect("answered"),
        BumpLanded::AlreadyCurrent
    );
    // The same tag pushed again as another image: what runs changes, so it is bumped.
    let overwritten = world.pinned_order("dev", "api", "api-1", "image-2");
    let landed = world.bumper.land(overwritten).await.expect("lands");
    let (second, images) = committed(&landed);
    assert_eq!(images[0].from, pinned);
    assert_eq!(
        images[0].to,
        format!("{}@{}", order.tag, bump_world::digest("image-2"))
    );
    assert_eq!(world.repo.parents(second), vec![first.to_string()]);
}

#[tokio::test]
async fn a_digest_that_is_not_one_is_refused_before_anything_is_read() {
    let world = World::new(ConfigRepo::with_services(&["api"])).await;
    let mut order = world.order("dev", "api", "api-1");
    order.digest = Some("sha256:not-hex".into());

    let failure = world.bumper.land(order).await.expect_err("refused");

    assert!(
        matches!(failure, BumpFailure::InvalidOrder { .. }),
        "{failure:?}"
    );
    assert!(world.fake.requests_to("GET /repos/acme/config").is_empty());
}

#[tokio::test]
async fn a_gated_environment_s_rolling_pull_request_pins_the_digest() {
    let world = World::new(ConfigRepo::with_services(&["api"])).await;
    let order = world.pinned_order("prod", "api", "api-1", "image-1");
    let pinned = format!("{}@{}", order.tag, bump_world::digest("image-1"));

    let landed = world.bumper.land(order).await.expect("proposed");

    let BumpLanded::Proposed { number, .. } = landed else {
        panic!("not proposed: {landed:?}")
    };
    let head = world
        .repo
        .head("slipway/bump/prod/api")
        .expect("the bump branch");
    assert_eq!(
        world.repo.show(&head, "envs/prod/api.yaml"),
        deployment("api", &pinned)
    );
    let pull = world.fake.pull(REPO, number).expect("the pull request");
    assert!(
        pull.body.unwrap_or_default().contains(&format!(
            "| `registry.example.com/team/api` | `1.0.0` | `{pinned}` |"
        )),
        "the table shows the pinned reference"
    );
}

/// An app repo `acme/api` whose `main` holds `commits` (oldest first) as real commits; the
/// config repo of `repo`; and a world where both are behind the fake. Returns the world, the
/// commits' shas, and the app repo's bare directory (kept alive by the first value).
async fn world_with_app(
    repo: ConfigRepo,
    commits: &[&str],
) -> (World, Vec<String>, (tempfile::TempDir, std::path::PathBuf)) {
    let app = git_fixtures::TestRepo::new();
    let shas: Vec<String> = commits
        .iter()
        .map(|message| {
            app.write("src/main.rs", &format!("// {message}\n"));
            app.commit(message)
        })
        .collect();
    let bare = app.bare_clone();
    let fake = FakeGitHub::builder()
        .with_installation_on(REPO, support::payloads::INSTALLATION_ID)
        .with_repo(REPO, &repo.bare)
        .with_repo("acme/api", &bare.1)
        .with_installation_on("acme/api", support::payloads::INSTALLATION_ID)
        .start()
        .await;
    (World::with_fake(repo, fake).await, shas, bare)
}

/// The order of `acme/api`'s build of `commit`.
fn build_of(world: &World, env: &str, commit: &str) -> BumpOrder {
    let mut order = world.order(env, "api", "unused");
    order.tag = commit.to_string();
    order.source.sha = commit.to_string();
    order.source.url = format!("https://github.com/acme/api/commit/{commit}");
    order
}

#[tokio::test]
async fn an_older_build_does_not_replace_a_newer_one_in_a_direct_or_a_gated_environment() {
    let repo = ConfigRepo::with_services(&["api"]);
    let (world, shas, _app) = world_with_app(repo, &["a", "b"]).await;
    let (a, b) = (&shas[0], &shas[1]);
    for env in ["dev", "prod"] {
        another_writer_pushes(
            &world.repo.bare,
            &format!("envs/{env}/api.yaml"),
            &deployment("api", b),
        );
    }
    let main = world.repo.main();

    for env in ["dev", "prod"] {
        let landed = world
            .bumper
            .land(build_of(&world, env, a))
            .await
            .expect("answered");
        assert_eq!(
            landed,
            BumpLanded::Newer {
                environment: env.into(),
                running: b.clone(),
            }
        );
    }
    assert_eq!(world.repo.main(), main, "nothing committed");
    assert!(world.fake.pulls(REPO).is_empty(), "nothing proposed");
    // Forward is fine.
    another_writer_pushes(&world.repo.bare, "envs/dev/api.yaml", &deployment("api", a));
    let landed = world
        .bumper
        .land(build_of(&world, "dev", b))
        .await
        .expect("lands");
    assert_eq!(committed(&landed).1[0].from, *a);
}

#[tokio::test]
async fn a_running_tag_that_is_no_commit_of_the_source_repo_is_replaced() {
    let repo = ConfigRepo::with_services(&["api"]);
    let stranger = sha("a release someone named like a commit");
    another_writer_pushes(
        &repo.bare,
        "envs/dev/api.yaml",
        &deployment("api", &stranger),
    );
    let (world, shas, _app) = world_with_app(repo, &["a"]).await;

    let landed = world
        .bumper
        .land(build_of(&world, "dev", &shas[0]))
        .await
        .expect("lands");

    let (_, images) = committed(&landed);
    assert_eq!(
        (images[0].from.as_str(), images[0].to.as_str()),
        (stranger.as_str(), shas[0].as_str())
    );
}

#[tokio::test]
async fn a_build_of_a_commit_the_source_repo_does_not_have_fails_without_writing() {
    let repo = ConfigRepo::with_services(&["api"]);
    let (world, shas, _app) = world_with_app(repo, &["a"]).await;
    another_writer_pushes(
        &world.repo.bare,
        "envs/dev/api.yaml",
        &deployment("api", &shas[0]),
    );
    let main = world.repo.main();

    // A commit that is not (or no longer) in acme/api: whether it is older cannot be told.
    let failure = world
        .bumper
        .land(build_of(&world, "dev", &sha("force-pushed away")))
        .await
        .expect_err("not landed");

    assert!(failure.to_string().contains("is not in"), "{failure}");
    assert_eq!(world.repo.main(), main);
}

#[tokio::test]
async fn a_foreign_build_naming_an_environment_that_does_not_exist_learns_no_environment_names() {
    let world = World::new(ConfigRepo::with_services(&["api"])).await;

    let landed = world
        .bumper
        .land(order_from(&world, "staging", "api", "acme/evil"))
        .await
        .expect("answered");

    // Not "declares no environment `staging`; declared: dev, prod".
    assert_eq!(
        landed,
        BumpLanded::NotAllowed {
            environment: "staging".into(),
            image: image("api"),
            source: "acme/evil".parse().unwrap(),
        }
    );
}

#[tokio::test]
async fn whoever_caused_a_bump_is_recorded_as_its_requester_for_the_gate() {
    let world = World::new(ConfigRepo::with_services(&["api"])).await;
    let mut first = world.order("prod", "api", "api-1");
    first.requested_by = Some("carol".to_string());
    let BumpLanded::Proposed { number, .. } = world.bumper.land(first).await.expect("proposed")
    else {
        panic!("a gated environment's bump is a pull request");
    };
    // The rolling pull request is updated by a later bump that someone else caused: both
    // requested what it deploys.
    let mut second = world.order("prod", "api", "api-2");
    second.requested_by = Some("dave".to_string());
    world.bumper.land(second).await.expect("proposed");

    let recorded = world
        .store
        .pull_participants(REPO, number)
        .await
        .expect("the store answers");
    assert_eq!(recorded.requesters, ["carol", "dave"]);
    assert!(recorded.pushers.is_empty(), "pushers come from webhooks");
}

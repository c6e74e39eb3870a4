//! Preview latency, end to end: from a `pull_request` webhook being accepted (slipway's 202)
//! to the preview comment being posted on GitHub, for the 1,000-object plain-YAML config repo
//! of `bench/generate.py`.
//!
//!     cargo bench --bench preview_webhook            # 20 pull requests (RUNS=N for another count)
//!
//! slipway runs in-process on loopback (release build) against the fake GitHub of the test
//! suite, backed by a real bare repository. Each pull request is a new commit on top of the
//! generator's `change` branch (13 of 250 dev services changed, plus one new ConfigMap), pushed
//! before its webhook is sent, so every preview fetches into the mirror, renders `dev` at both
//! sides (1,000 objects each; `prod` is untouched and skipped), diffs and posts. The first
//! pull request also creates the mirror: it is reported apart ("cold") and not in the median.
//! Needs git and python3.

#[path = "../tests/git_fixtures/mod.rs"]
mod git_fixtures;
#[path = "../tests/manifests/mod.rs"]
mod manifests;
#[path = "measure/mod.rs"]
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use git_fixtures::git_in as git;
use measure::{from_env, ms, percentile};
use support::fake_github::PullSpec;
use support::payloads::{PullEvent, INSTALLATION_ID};
use support::{FakeGitHub, TestServer};

const REPO: &str = "acme/shop-config";

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let runs: u64 = from_env("RUNS", 20);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let work = scratch.path().join("work");
    let status = Command::new("python3")
        .arg(root.join("bench/generate.py"))
        .args(["--layout", "plain"])
        .arg(&work)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "the generator failed");
    let bare = scratch.path().join("shop-config.git");
    git(
        scratch.path(),
        &[
            "clone",
            "--quiet",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    let main_sha = git(&work, &["rev-parse", "main"]);

    let mut builder = FakeGitHub::builder()
        .with_installation(INSTALLATION_ID)
        .with_repo(REPO, &bare);
    for number in 0..=runs {
        builder = builder.with_pull(
            REPO,
            PullSpec::new(number + 1, &format!("pr-{}", number + 1), "main"),
        );
    }
    let fake = builder.start().await;
    let server = TestServer::builder()
        .github(&fake)
        .var("LOG_LEVEL", "warn")
        .start()
        .await;

    let mut warm = Vec::new();
    let mut cold = None;
    let mut completed = Vec::new();
    for number in 1..=runs + 1 {
        // A new commit on top of `change`, pushed before GitHub would send the webhook.
        let branch = format!("pr-{number}");
        git(&work, &["checkout", "--quiet", "-B", &branch, "change"]);
        std::fs::write(
            work.join(format!("envs/dev/pr-{number}.yaml")),
            manifests::config_map(&format!("pr-{number}"), "number", &number.to_string()),
        )
        .expect("write a file");
        git(&work, &["add", "--all"]);
        git(
            &work,
            &["commit", "--quiet", "-m", &format!("pull request {number}")],
        );
        let head = git(&work, &["rev-parse", "HEAD"]);
        git(
            &work,
            &[
                "push",
                "--quiet",
                "--force",
                bare.to_str().unwrap(),
                &format!("{branch}:{branch}"),
            ],
        );
        git(&work, &["checkout", "--quiet", "main"]);

        let payload = PullEvent::new("opened", REPO, &bare, number)
            .base("main", &main_sha)
            .head(&branch, &head)
            .payload();
        let delivery = format!("bench-{number}");
        let (status, body) = server.deliver("pull_request", &delivery, &payload).await;
        assert_eq!(status, 202, "{body}");
        let accepted = Instant::now();
        let posted = loop {
            if !fake.comments_on(REPO, number).is_empty() {
                break accepted.elapsed();
            }
            if accepted.elapsed() > Duration::from_secs(120) {
                panic!("no comment on pull request {number} after two minutes");
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        };
        server
            .wait_for_state(&delivery, "done", Duration::from_secs(120))
            .await;
        let done = accepted.elapsed();
        let comment = &fake.comments_on(REPO, number)[0].body;
        assert!(comment.contains("### Environment `dev`"), "{comment}");
        assert!(
            comment.contains("pr-"),
            "the new ConfigMap is in the preview"
        );
        if number == 1 {
            cold = Some((posted, done));
        } else {
            warm.push(posted);
            completed.push(done);
        }
    }

    warm.sort();
    completed.sort();
    let (cold_posted, cold_done) = cold.expect("the first run");
    println!(
        "machine: {} cores; {} pull requests after one cold run",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        warm.len()
    );
    println!("| measure | median | p90 | min | max |");
    println!("| :--- | ---: | ---: | ---: | ---: |");
    println!(
        "| webhook accepted → comment posted | {} | {} | {} | {} |",
        ms(percentile(&warm, 0.5)),
        ms(percentile(&warm, 0.9)),
        ms(warm[0]),
        ms(warm[warm.len() - 1])
    );
    println!(
        "| webhook accepted → check run completed | {} | {} | {} | {} |",
        ms(percentile(&completed, 0.5)),
        ms(percentile(&completed, 0.9)),
        ms(completed[0]),
        ms(completed[completed.len() - 1])
    );
    println!(
        "cold (mirror created by the first preview): comment after {}, check run completed after {}",
        ms(cold_posted),
        ms(cold_done)
    );
    drop(server);
}

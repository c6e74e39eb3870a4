//! `slipway preview` prints what the server posts: the same repository and change go through
//! the server's preview (a real `pull_request` webhook, the fake GitHub) and through the
//! command, and the posted comment bodies, hidden part markers included, are what the command
//! prints, byte for byte. The command has no store: it cannot say whether an environment is
//! locked, nor compare an environment with its last deployed commit, so it compares with the
//! base it is given and says nothing about either. The server's "Not locked." and "Compared
//! with the merge base …: no deploy here is on record." lines are the only difference, and
//! the scenarios hold no lock and no deploy.

mod git_fixtures;
mod manifests;
mod support;

use std::path::PathBuf;
use std::time::Duration;

use git_fixtures::{slipway, Run, TestRepo};
use manifests::deployment;
use support::fake_github::{app_bot_login, PullSpec};
use support::payloads::{PullEvent, INSTALLATION_ID};
use support::{FakeGitHub, TestServer};

const REPO: &str = "acme/config";
const PULL: u64 = 7;
const WAIT: Duration = Duration::from_secs(30);
/// The server's and the command's key, so Secret fingerprints agree.
const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";

const CONFIG: &str = "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
  prod:
    path: envs/prod
    namespace: team-prod
    promote_from: dev
    required_approvals: 2
";

fn secret(password: &str) -> String {
    format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\nstringData:\n  password: {password}\n")
}

/// A config repo with `main` at its first commit and a change on branch `change`.
struct Change {
    _work: TestRepo,
    _bare_dir: tempfile::TempDir,
    bare: PathBuf,
    base: String,
    head: String,
}

impl Change {
    fn new(change: impl FnOnce(&TestRepo)) -> Self {
        let work = TestRepo::new();
        work.write(".github/slipway.yml", CONFIG)
            .write("envs/dev/api.yaml", &deployment("api", "1.4.0"))
            .write("envs/dev/secret.yaml", &secret("hunter2"))
            .write("envs/prod/api.yaml", &deployment("api", "1.3.0"));
        let base = work.commit("initial");
        work.git(&["checkout", "--quiet", "-b", "change"]);
        change(&work);
        let head = work.commit("the change");
        work.git(&["checkout", "--quiet", "main"]);
        let (bare_dir, bare) = work.bare_clone();
        Change {
            _work: work,
            _bare_dir: bare_dir,
            bare,
            base,
            head,
        }
    }

    /// The bodies of the comments the server posts for the pull request, in part order.
    async fn posted(&self) -> Vec<String> {
        let fake = FakeGitHub::builder()
            .with_installation(INSTALLATION_ID)
            .with_repo(REPO, &self.bare)
            .with_pull(REPO, PullSpec::new(PULL, "change", "main"))
            .start()
            .await;
        let server = TestServer::builder()
            .github(&fake)
            .var("FINGERPRINT_KEY", KEY)
            .start()
            .await;
        let event = PullEvent::new("opened", REPO, &self.bare, PULL)
            .base("main", &self.base)
            .head("change", &self.head);
        let (status, body) = server
            .deliver("pull_request", "parity-1", &event.payload())
            .await;
        assert_eq!(status, 202, "{body}");
        server.wait_for_state("parity-1", "done", WAIT).await;
        let mut comments: Vec<_> = fake
            .comments_on(REPO, PULL)
            .into_iter()
            .filter(|c| c.user_login == app_bot_login())
            .collect();
        comments.sort_by_key(|c| c.id);
        comments.into_iter().map(|c| c.body).collect()
    }

    /// `slipway preview` on the same repository and commits.
    fn printed(&self) -> Run {
        slipway(&[
            "preview",
            "--repo",
            self.bare.to_str().unwrap(),
            "--base",
            &self.base,
            "--head",
            &self.head,
            "--fingerprint-key",
            KEY,
        ])
    }
}

/// What the server posted, less the lines only its store can write: two per environment
/// shown, one saying it is not locked and one that no deploy of it is on record, so it is
/// compared with the merge base (the base the command was given).
fn without_store_lines(posted: &[String], base: &str, environments_shown: usize) -> String {
    let all = posted.concat();
    assert_eq!(
        all.matches("- Not locked.\n").count(),
        environments_shown,
        "{all}"
    );
    let compared = format!(
        "- Compared with the merge base `{}`: no deploy here is on record.\n",
        &base[..7]
    );
    assert_eq!(all.matches(&compared).count(), environments_shown, "{all}");
    all.replace("- Not locked.\n", "").replace(&compared, "")
}

#[tokio::test]
async fn a_change_prints_what_the_comment_says() {
    let change = Change::new(|w| {
        w.write("envs/dev/api.yaml", &deployment("api", "1.5.0"))
            .write("envs/dev/secret.yaml", &secret("correct-horse"))
            .write("envs/prod/api.yaml", &deployment("api", "1.4.0"))
            .write(
                "envs/dev/flags.yaml",
                &manifests::config_map("flags", "payload", "on"),
            );
    });

    let posted = change.posted().await;
    let printed = change.printed();

    assert_eq!(posted.len(), 1, "{posted:#?}");
    assert!(posted[0].starts_with("<!-- slipway:preview part=1 -->\n"));
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    assert_eq!(
        printed.stdout,
        without_store_lines(&posted, &change.base, 2)
    );
    assert!(
        printed.stdout.contains("<secret hmac:"),
        "{}",
        printed.stdout
    );
}

#[tokio::test]
async fn a_report_of_several_parts_prints_every_part_with_its_marker() {
    let change = Change::new(|w| {
        let bulk: Vec<String> = (0..150)
            .map(|n| manifests::config_map(&format!("bulk-{n:04}"), "payload", &"x".repeat(1000)))
            .collect();
        w.write("envs/dev/bulk.yaml", &bulk.join("---\n"));
    });

    let posted = change.posted().await;
    let printed = change.printed();

    assert_eq!(posted.len(), 3, "150 KB of diff in 65 KB comments");
    for (index, body) in posted.iter().enumerate() {
        assert!(body.starts_with(&format!("<!-- slipway:preview part={} -->\n", index + 1)));
    }
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    // The environment's status is under its heading in the first part only.
    assert_eq!(
        printed.stdout,
        without_store_lines(&posted, &change.base, 1)
    );
}

#[tokio::test]
async fn a_head_that_does_not_render_prints_the_same_note_and_fails() {
    let change = Change::new(|w| {
        w.write(
            "envs/dev/broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n",
        )
        .write("envs/prod/api.yaml", &deployment("api", "1.4.0"));
    });

    let posted = change.posted().await;
    let printed = change.printed();

    assert_eq!(posted.len(), 1, "{posted:#?}");
    assert!(
        posted[0].contains("### Environment `dev` does not render"),
        "{}",
        posted[0]
    );
    assert_eq!(
        printed.stdout,
        without_store_lines(&posted, &change.base, 1)
    );
    assert_eq!(printed.code, 1, "a change that does not render fails");
    let commit = &change.head[..12];
    assert!(
        printed.stderr.starts_with(&format!(
            "error: environment `dev` at commit {commit}: envs/dev/broken.yaml:5:"
        )),
        "{}",
        printed.stderr
    );
}

#[tokio::test]
async fn a_head_whose_configuration_does_not_parse_prints_the_same_note_and_fails() {
    let change = Change::new(|w| {
        w.write(
            ".github/slipway.yml",
            &CONFIG.replace("    namespace: team-dev\n", "    namspace: team-dev\n"),
        )
        .write("envs/prod/api.yaml", &deployment("api", "1.4.0"));
    });

    let posted = change.posted().await;
    let printed = change.printed();

    assert_eq!(posted.len(), 1, "{posted:#?}");
    assert!(
        posted[0].contains("### `.github/slipway.yml` does not parse"),
        "{}",
        posted[0]
    );
    assert_eq!(
        printed.stdout,
        without_store_lines(&posted, &change.base, 1)
    );
    assert_eq!(printed.code, 1);
    assert!(
        printed.stderr.starts_with(
            "error: .github/slipway.yml:4:5: unknown key `namspace` in environment `dev`"
        ),
        "{}",
        printed.stderr
    );
}

#[tokio::test]
async fn a_configuration_change_prints_what_the_comment_says() {
    let change = Change::new(|w| {
        w.write(
            ".github/slipway.yml",
            &CONFIG.replace(
                "    namespace: team-dev\n",
                "    namespace: team-blue\n    allowed_namespaces: [team-blue]\n",
            ),
        );
    });

    let posted = change.posted().await;
    let printed = change.printed();

    assert_eq!(posted.len(), 1, "{posted:#?}");
    assert!(
        posted[0].contains("<b>added</b> Deployment <code>team-blue/api</code>"),
        "{}",
        posted[0]
    );
    assert_eq!(
        printed.stdout,
        without_store_lines(&posted, &change.base, 1)
    );
    assert_eq!(
        printed.code, 1,
        "the moved objects are outside dev's policy"
    );
    assert!(
        printed
            .stderr
            .contains("Deployment.apps team-blue/api is in namespace team-blue, outside the namespaces dev may use (team-dev)"),
        "{}",
        printed.stderr
    );
}

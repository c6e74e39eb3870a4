//! Secret values never leave slipway: a config repo full of marker secrets goes through every
//! command and the server's preview, and no output, request to GitHub or log line (at trace
//! level) holds a marker, in clear or base64-encoded. Only `slipway render --show-secrets`
//! prints them, as asked.
//!
//! The repository holds Secrets with values under `data` and `stringData`, `secretGenerator`s
//! with literals, files and env files, a literal kustomize cannot read, an env file with
//! invalid bytes, and a YAML error inside a Secret.

mod git_fixtures;
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use git_fixtures::{config_yaml, kustomize_available, TestRepo};
use support::fake_github::{app_bot_login, PullSpec};
use support::logs::{captured_logs, logged};
use support::payloads::{PullEvent, INSTALLATION_ID};
use support::{FakeGitHub, TestServer};

const REPO: &str = "acme/config";
const WAIT: Duration = Duration::from_secs(60);

/// Every marker: each value appears once in the repository, as its test describes.
const BASE_PASSWORD: &str = "MARKER-S3CRET-base-password";
const PASSWORD: &str = "MARKER-S3CRET-string-data";
const TOKEN: &str = "MARKER-S3CRET-data-token";
const LITERAL: &str = "MARKER-S3CRET-generator-literal";
const FILE: &str = "MARKER-S3CRET-generator-file";
const ENV_VALUE: &str = "MARKER-S3CRET-generator-env";
const BROKEN_LITERAL: &str = "MARKER-S3CRET-broken-literal";
const BAD_BYTES_ENV: &str = "MARKER-S3CRET-bad-bytes-env";
const YAML_VALUE: &str = "MARKER-S3CRET-yaml-error";
const MARKERS: [&str; 9] = [
    BASE_PASSWORD,
    PASSWORD,
    TOKEN,
    LITERAL,
    FILE,
    ENV_VALUE,
    BROKEN_LITERAL,
    BAD_BYTES_ENV,
    YAML_VALUE,
];

/// The markers found in `text`, in clear or as their base64 encoding.
fn markers_in(text: &str) -> Vec<&'static str> {
    MARKERS
        .iter()
        .copied()
        .filter(|marker| {
            text.contains(marker)
                || text.contains(&base64::engine::general_purpose::STANDARD.encode(marker))
        })
        .collect()
}

fn secret(name: &str, password: &str, token: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(token);
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  password: {password}\ndata:\n  token: {token}\n"
    )
}

/// The config repo: `main` holds dev with its base password; the change (`head`) rotates it
/// and adds every other environment.
struct Repos {
    work: TestRepo,
    _bare_dir: tempfile::TempDir,
    bare: PathBuf,
    main: String,
    head: String,
}

fn repos() -> Repos {
    let work = TestRepo::new();
    work.write(
        ".github/slipway.yml",
        &config_yaml(&[
            ("dev", "envs/dev", Some("team-dev")),
            ("generated", "envs/generated", Some("team-gen")),
            ("broken-literal", "envs/broken-literal", None),
            ("bad-bytes", "envs/bad-bytes", None),
            ("broken-yaml", "envs/broken-yaml", None),
        ]),
    )
    .write(
        "envs/dev/db.yaml",
        &secret("db", BASE_PASSWORD, "base-token"),
    );
    let main = work.commit("initial");
    let (bare_dir, bare) = work.bare_clone();

    work.git(&["checkout", "--quiet", "-b", "change"]);
    work.write("envs/dev/db.yaml", &secret("db", PASSWORD, TOKEN))
        .write(
            "envs/generated/kustomization.yaml",
            &format!(
                "secretGenerator:\n- name: api\n  literals:\n  - API_KEY={LITERAL}\n  files:\n  - tls.key\n  envs:\n  - api.env\n"
            ),
        )
        .write("envs/generated/tls.key", FILE)
        .write("envs/generated/api.env", &format!("MODE=strict\nENV_KEY={ENV_VALUE}\n"))
        .write(
            "envs/broken-literal/kustomization.yaml",
            &format!("secretGenerator:\n- name: api\n  literals:\n  - {BROKEN_LITERAL}\n"),
        )
        .write(
            "envs/bad-bytes/kustomization.yaml",
            "secretGenerator:\n- name: api\n  envs:\n  - bad.env\n",
        )
        .write(
            "envs/broken-yaml/db.yaml",
            &format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: !!int {YAML_VALUE}\n"
            ),
        );
    let mut bad_env = b"OK=1\n\xff\xfe".to_vec();
    bad_env.extend_from_slice(format!("BAD={BAD_BYTES_ENV}\n").as_bytes());
    std::fs::write(work.path().join("envs/bad-bytes/bad.env"), bad_env).unwrap();
    let head = work.commit("rotate and generate");
    work.git(&[
        "push",
        "--quiet",
        "--force",
        bare.to_str().unwrap(),
        "change:change",
    ]);
    Repos {
        work,
        _bare_dir: bare_dir,
        bare,
        main,
        head,
    }
}

/// What one run of the slipway binary printed, and whether it succeeded.
struct Run {
    code: Option<i32>,
    out: String,
}

/// Runs slipway with logs at their most verbose and an empty config directory.
fn slipway(args: &[&str]) -> Run {
    let config = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .env("XDG_CONFIG_HOME", config.path())
        .env("LOG_LEVEL", "trace")
        .env("RUST_LOG", "trace")
        .env_remove("FINGERPRINT_KEY")
        .output()
        .expect("slipway runs");
    Run {
        code: output.status.code(),
        out: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn repo_arg(repos: &Repos) -> &str {
    repos.work.path().to_str().unwrap()
}

#[test]
fn no_command_shows_a_secret_value() {
    if !kustomize_available("no_command_shows_a_secret_value") {
        return;
    }
    let repos = repos();
    let repo = repo_arg(&repos);
    let mut runs: Vec<(String, Run)> = Vec::new();
    let mut run = |args: &[&str]| {
        let result = slipway(args);
        runs.push((args.join(" "), result));
    };
    for env in [
        "dev",
        "generated",
        "broken-literal",
        "bad-bytes",
        "broken-yaml",
    ] {
        for rev in ["main", "change"] {
            run(&["render", "--repo", repo, "--rev", rev, "--env", env]);
        }
    }
    for format in ["markdown", "json"] {
        // Every environment: the first that does not render fails the command.
        run(&[
            "preview", "--repo", repo, "--base", "main", "--head", "change", "--format", format,
        ]);
        run(&[
            "preview",
            "--repo",
            repo,
            "--base",
            "main",
            "--head",
            "change",
            "--format",
            format,
            "--env",
            "dev",
            "--env",
            "generated",
        ]);
    }
    for rev in ["main", "change"] {
        run(&["check-config", "--repo", repo, "--rev", rev]);
    }
    run(&["check-config", "--repo", repo]);

    for (command, result) in &runs {
        let found = markers_in(&result.out);
        assert!(
            found.is_empty(),
            "`slipway {command}` shows {found:?}:\n{}",
            result.out
        );
    }
    // The runs did what they are for: redacted renders, located errors, previews.
    let by = |command: &str| {
        &runs
            .iter()
            .find(|(c, _)| c.starts_with(command))
            .unwrap_or_else(|| panic!("no run of {command}"))
            .1
    };
    let generated = by(&format!(
        "render --repo {repo} --rev change --env generated"
    ));
    assert_eq!(generated.code, Some(0), "{}", generated.out);
    assert!(
        generated.out.contains("  API_KEY: '<secret hmac:"),
        "{}",
        generated.out
    );
    let broken = by(&format!(
        "render --repo {repo} --rev change --env broken-literal"
    ));
    assert_eq!(broken.code, Some(1), "{}", broken.out);
    assert!(
        broken
            .out
            .contains("invalid literal source <redacted>, expected key=value"),
        "{}",
        broken.out
    );
    let bad_bytes = by(&format!(
        "render --repo {repo} --rev change --env bad-bytes"
    ));
    assert_eq!(bad_bytes.code, Some(1), "{}", bad_bytes.out);
    assert!(
        bad_bytes.out.contains("has invalid utf8 bytes"),
        "{}",
        bad_bytes.out
    );
    let yaml = by(&format!(
        "render --repo {repo} --rev change --env broken-yaml"
    ));
    assert!(
        yaml.out
            .contains("envs/broken-yaml/db.yaml:6:13: `<redacted>` is not a valid !!int"),
        "{}",
        yaml.out
    );
    let json = by(&format!(
        "preview --repo {repo} --base main --head change --format json --env dev"
    ));
    assert_eq!(json.code, Some(0), "{}", json.out);
    assert!(json.out.contains("<secret hmac:"), "{}", json.out);
}

#[test]
fn show_secrets_shows_them() {
    if !kustomize_available("show_secrets_shows_them") {
        return;
    }
    let repos = repos();
    let repo = repo_arg(&repos);

    let dev = slipway(&[
        "render",
        "--repo",
        repo,
        "--rev",
        "change",
        "--env",
        "dev",
        "--show-secrets",
    ]);
    let generated = slipway(&[
        "render",
        "--repo",
        repo,
        "--rev",
        "change",
        "--env",
        "generated",
        "--show-secrets",
    ]);

    assert_eq!(markers_in(&dev.out), [PASSWORD, TOKEN], "{}", dev.out);
    assert_eq!(
        markers_in(&generated.out),
        [LITERAL, FILE, ENV_VALUE],
        "{}",
        generated.out
    );
}

#[tokio::test]
async fn the_server_preview_shows_no_secret_value_anywhere() {
    if !kustomize_available("the_server_preview_shows_no_secret_value_anywhere") {
        return;
    }
    let logs = captured_logs();
    let repos = repos();
    let fake = FakeGitHub::builder()
        .with_installation(INSTALLATION_ID)
        .with_repo(REPO, &repos.bare)
        .with_pull(REPO, PullSpec::new(7, "change", "main"))
        .start()
        .await;
    let server = TestServer::builder()
        .github(&fake)
        .var("LOG_LEVEL", "trace")
        .start()
        .await;

    let event = PullEvent::new("opened", REPO, &repos.bare, 7)
        .base("main", &repos.main)
        .head("change", &repos.head);
    let (status, body) = server
        .deliver("pull_request", "secrets-1", &event.payload())
        .await;
    assert_eq!(status, 202, "{body}");
    server.wait_for_state("secrets-1", "done", WAIT).await;

    let comments = fake.comments_on(REPO, 7);
    let check_runs = fake.check_runs(REPO);
    let requests = fake.requests();
    let deliveries = server.deliveries().await;
    let logged = logged(&logs);
    let shown = [
        ("the comments", format!("{comments:#?}")),
        ("the check runs", format!("{check_runs:#?}")),
        ("the requests to GitHub", format!("{requests:#?}")),
        ("the stored deliveries", format!("{deliveries:#?}")),
        ("the logs", logged.clone()),
    ];
    for (what, text) in &shown {
        let found = markers_in(text);
        assert!(found.is_empty(), "{what} show {found:?}:\n{text}");
    }

    // The preview did go through every path: the comment, failure notes, annotations.
    let bot: Vec<_> = comments
        .iter()
        .filter(|c| c.user_login == app_bot_login())
        .collect();
    assert_eq!(bot.len(), 1, "{comments:#?}");
    let body = &bot[0].body;
    assert!(body.contains("  password: '<secret hmac:"), "{body}");
    for env in ["broken-literal", "bad-bytes", "broken-yaml"] {
        assert!(
            body.contains(&format!("### Environment `{env}` does not render")),
            "{body}"
        );
    }
    assert!(body.contains("invalid literal source <redacted>, expected key=value"));
    let run = &check_runs[0];
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let annotations = format!("{:?}", run.annotations);
    assert!(
        annotations.contains("`<redacted>` is not a valid !!int"),
        "{annotations}"
    );
    assert!(logged.contains("TRACE"), "trace-level logs were captured");
}

/// The line of the preview comment that shows dev's new password.
fn password_line(fake: &FakeGitHub) -> String {
    let comments = fake.comments_on(REPO, 7);
    let body = &comments
        .iter()
        .find(|c| c.user_login == app_bot_login())
        .expect("slipway commented")
        .body;
    body.lines()
        .find(|line| line.starts_with("+  password: '<secret hmac:"))
        .unwrap_or_else(|| panic!("no password line in {body}"))
        .to_string()
}

async fn preview(server: &TestServer, repos: &Repos, delivery: &str, action: &str) {
    let event = PullEvent::new(action, REPO, &repos.bare, 7)
        .base("main", &repos.main)
        .head("change", &repos.head);
    let (status, body) = server
        .deliver("pull_request", delivery, &event.payload())
        .await;
    assert_eq!(status, 202, "{body}");
    server.wait_for_state(delivery, "done", WAIT).await;
}

async fn fake_for(repos: &Repos) -> FakeGitHub {
    FakeGitHub::builder()
        .with_installation(INSTALLATION_ID)
        .with_repo(REPO, &repos.bare)
        .with_pull(REPO, PullSpec::new(7, "change", "main"))
        .start()
        .await
}

#[tokio::test]
async fn the_fingerprint_key_setting_is_what_the_server_fingerprints_with() {
    let key_hex = "0707070707070707070707070707070707070707070707070707070707070707";
    let key = slipway::diff::FingerprintKey::from_hex(key_hex).unwrap();
    let repos = repos();
    let fake = fake_for(&repos).await;
    let server = TestServer::builder()
        .github(&fake)
        .var("FINGERPRINT_KEY", key_hex)
        .start()
        .await;

    preview(&server, &repos, "key-1", "opened").await;

    assert_eq!(
        password_line(&fake),
        format!("+  password: '{}'", key.fingerprint(PASSWORD.as_bytes()))
    );
}

#[tokio::test]
async fn the_server_keeps_its_key_across_restarts() {
    let repos = repos();
    let fake = fake_for(&repos).await;
    let first = TestServer::builder().github(&fake).start().await;
    preview(&first, &repos, "restart-1", "opened").await;
    let before = password_line(&fake);
    let dir = first.shutdown().await;

    let second = TestServer::builder()
        .github(&fake)
        .in_dir(dir)
        .start()
        .await;
    preview(&second, &repos, "restart-2", "synchronize").await;

    assert_eq!(password_line(&fake), before);
}

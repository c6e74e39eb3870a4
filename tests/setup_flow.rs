//! The setup flow: no credentials → the setup page; GitHub's callback → `.env` written (0600)
//! and webhooks served without a restart; a forged `state` is refused.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use support::{fixture, FakeGitHub, TestServer};

const NEW_SECRET: &str = "secret-from-github";

fn state_from_page(page: &str) -> String {
    let start = page.find("state=").expect("the form carries a state") + "state=".len();
    page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

async fn setup_server(fake: &FakeGitHub) -> TestServer {
    TestServer::builder()
        .without_credentials()
        .github(fake)
        .var("PUBLIC_URL", "https://slipway.example.com")
        .var("GITHUB_URL", "https://github.example.com")
        .start()
        .await
}

#[tokio::test]
async fn without_credentials_the_home_page_offers_to_create_the_app() {
    let fake = FakeGitHub::builder().start().await;
    let server = setup_server(&fake).await;
    let (status, page) = server.get("/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("action=\"https://github.example.com/settings/apps/new?state="),
        "{page}"
    );
    assert!(page.contains("name=\"manifest\""));
    // The manifest is app.yml with this server's URLs.
    assert!(page.contains("https://slipway.example.com/api/github/webhooks"));
    assert!(page.contains("https://slipway.example.com/setup/callback"));
    assert!(page.contains("&quot;checks&quot;:&quot;write&quot;"));

    let (status, page) = server.get("/?org=octo-org").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("https://github.example.com/organizations/octo-org/settings/apps/new?state=")
    );
    let (status, _) = server.get("/?org=%3Cscript%3E").await;
    assert_eq!(status, 400);

    let (status, body) = server.get("/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("no GitHub App credentials"));
}

#[tokio::test]
async fn the_callback_writes_the_credentials_and_starts_serving_webhooks() {
    let fake = FakeGitHub::builder()
        .with_manifest_code("code123", NEW_SECRET)
        .start()
        .await;
    let server = setup_server(&fake).await;
    let (_, page) = server.get("/").await;
    let state = state_from_page(&page);

    let (status, body) = server
        .get(&format!("/setup/callback?code=code123&state={state}"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("slipway is set up"));
    assert_eq!(
        fake.requests_to("POST /app-manifests/code123/conversions")
            .len(),
        1
    );

    let env_path = server.dir().join(".env");
    let mode = std::fs::metadata(&env_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let written: std::collections::HashMap<String, String> = dotenvy::from_path_iter(&env_path)
        .unwrap()
        .map(|entry| entry.unwrap())
        .collect();
    assert_eq!(written["APP_ID"], support::fake_github::APP_ID.to_string());
    assert_eq!(written["WEBHOOK_SECRET"], NEW_SECRET);
    assert_eq!(
        written["PRIVATE_KEY"],
        support::fake_github::PRIVATE_KEY_PEM
    );
    assert_eq!(written["GITHUB_CLIENT_ID"], "Iv1.0123456789abcdef");
    assert_eq!(written["GITHUB_CLIENT_SECRET"], "client-secret-value");

    // No restart: webhooks signed with the new secret are accepted now.
    let body = fixture("handled/push/00-push.json");
    let signature = slipway::webhook::sign(NEW_SECRET.as_bytes(), &body);
    let (status, _) = server
        .post_webhook(
            &[
                ("x-github-event", "push"),
                ("x-github-delivery", "d-after-setup"),
                ("x-hub-signature-256", &signature),
            ],
            body,
        )
        .await;
    assert_eq!(status, 202);
    server
        .wait_for_state("d-after-setup", "done", Duration::from_secs(5))
        .await;
    let (status, _) = server.get("/readyz").await;
    assert_eq!(status, 200);
    let (_, home) = server.get("/").await;
    assert!(
        home.contains("GitHub App id <strong>4242</strong>"),
        "{home}"
    );
}

#[tokio::test]
async fn a_callback_with_a_state_slipway_never_issued_is_refused() {
    let fake = FakeGitHub::builder()
        .with_manifest_code("code123", NEW_SECRET)
        .start()
        .await;
    let server = setup_server(&fake).await;
    let _ = server.get("/").await;
    let (status, body) = server
        .get("/setup/callback?code=code123&state=forged")
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("unknown or expired"));
    assert!(
        fake.requests_to("POST /app-manifests").is_empty(),
        "the code was never exchanged"
    );
    assert!(!server.dir().join(".env").exists());
    let (status, _) = server
        .deliver("push", "d-1", &fixture("handled/push/00-push.json"))
        .await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn a_state_is_good_for_one_callback_only() {
    let fake = FakeGitHub::builder()
        .with_manifest_code("bad-code", NEW_SECRET)
        .start()
        .await;
    let server = setup_server(&fake).await;
    let (_, page) = server.get("/").await;
    let state = state_from_page(&page);
    // GitHub does not know this code: the state is spent, nothing is written.
    let (status, _) = server
        .get(&format!("/setup/callback?code=unknown&state={state}"))
        .await;
    assert_eq!(status, 502);
    let (status, _) = server
        .get(&format!("/setup/callback?code=bad-code&state={state}"))
        .await;
    assert_eq!(status, 400);
    assert!(!server.dir().join(".env").exists());
}

#[test]
fn an_existing_env_file_keeps_its_other_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    std::fs::write(&path, "PORT=4000\nWEBHOOK_SECRET=old\n# a comment\n").unwrap();
    slipway::server::write_env_file(
        &path,
        &[("WEBHOOK_SECRET", "new \"quoted\"\nline".to_string())],
    )
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("PORT=4000\n# a comment\n"), "{text}");
    let values: std::collections::HashMap<String, String> = dotenvy::from_path_iter(&path)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(values["WEBHOOK_SECRET"], "new \"quoted\"\nline");
    assert_eq!(values["PORT"], "4000");
}

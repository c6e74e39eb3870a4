//! The setup flow: no credentials → the setup page at `/setup?token=…` on the listener GitHub
//! reaches, the token shown only in the log and on the operations page; GitHub's callback, in
//! the browser that started the flow → `.env` written (0600) and webhooks served without a
//! restart. No token, a forged `state`, or a `state` completed in another browser, is refused
//! and changes nothing. Once the App exists the setup flow is gone (404).

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

/// The setup link the operations page shows, as a path on the public listener.
async fn setup_link(server: &TestServer) -> String {
    let (status, page) = server.ops_get("/").await;
    assert_eq!(status, 200, "{page}");
    let start = page.find("href=\"").expect("the page links to the setup") + "href=\"".len();
    let link = &page[start..start + page[start..].find('"').expect("a closing quote")];
    link.strip_prefix("https://slipway.example.com")
        .unwrap_or_else(|| panic!("the link is on the public URL: {link}"))
        .to_string()
}

/// One browser: keeps the setup cookie slipway sets, follows no redirect by itself.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

/// What a browser got back.
struct Answer {
    status: u16,
    body: String,
    location: Option<String>,
    set_cookie: Option<String>,
}

impl Browser {
    fn new(server: &TestServer) -> Self {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.url.clone(),
            cookie: None,
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.expect("the server answers");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let (location, set_cookie) = (header("location"), header("set-cookie"));
        if let Some(set) = &set_cookie {
            // What a browser keeps: the name=value pair before the attributes.
            self.cookie = set.split(';').next().map(str::to_string);
        }
        Answer {
            status: response.status().as_u16(),
            location,
            set_cookie,
            body: response.text().await.unwrap_or_default(),
        }
    }

    /// Opens the setup link and returns the `state` its form carries.
    async fn start_setup(&mut self, link: &str) -> String {
        let page = self.get(link).await;
        assert_eq!(page.status, 200, "{}", page.body);
        state_from_page(&page.body)
    }

    /// Where GitHub sends the browser back after creating an App.
    async fn come_back_from_github(&mut self, code: &str, state: &str) -> Answer {
        self.get(&format!("/setup/callback?code={code}&state={state}"))
            .await
    }
}

/// Nothing of a refused callback reached GitHub or the disk, and webhooks are still refused.
async fn assert_nothing_changed(server: &TestServer, fake: &FakeGitHub) {
    assert!(
        fake.requests_to("POST /app-manifests").is_empty(),
        "no code was exchanged"
    );
    assert!(!server.dir().join(".env").exists(), "no .env was written");
    let (status, _) = server
        .deliver("push", "d-refused", &fixture("handled/push/00-push.json"))
        .await;
    assert_eq!(status, 503, "webhooks are still refused");
}

#[tokio::test]
async fn without_credentials_the_setup_page_offers_to_create_the_app() {
    let fake = FakeGitHub::builder().start().await;
    let server = setup_server(&fake).await;
    let mut browser = Browser::new(&server);
    let home = browser.get("/").await;
    assert_eq!(home.status, 303);
    assert_eq!(home.location.as_deref(), Some("/setup"));

    let link = setup_link(&server).await;
    let page = browser.get(&link).await;
    assert_eq!(page.status, 200);
    let page_text = &page.body;
    assert!(
        page_text.contains("action=\"https://github.example.com/settings/apps/new?state="),
        "{page_text}"
    );
    assert!(page_text.contains("name=\"manifest\""));
    // The manifest is app.yml with this server's URLs.
    assert!(page_text.contains("https://slipway.example.com/api/github/webhooks"));
    assert!(page_text.contains("https://slipway.example.com/setup/callback"));
    assert!(page_text.contains("&quot;checks&quot;:&quot;write&quot;"));

    // The organisation form carries the token on.
    let token = link.strip_prefix("/setup?token=").expect("a token");
    assert!(
        page_text.contains(&format!("name=\"token\" value=\"{token}\"")),
        "{page_text}"
    );
    let org = browser.get(&format!("{link}&org=octo-org")).await;
    assert_eq!(org.status, 200);
    assert!(org
        .body
        .contains("https://github.example.com/organizations/octo-org/settings/apps/new?state="));
    assert_eq!(
        browser
            .get(&format!("{link}&org=%3Cscript%3E"))
            .await
            .status,
        400
    );

    // The operations listener links to the setup page and offers no form of its own.
    let (_, ops_home) = server.ops_get("/").await;
    assert!(!ops_home.contains("name=\"manifest\""), "{ops_home}");
    // Ready all the same: the setup page and GitHub's redirect back reach the pod through the
    // Service that routes only to ready pods. The body says why nothing else works yet.
    let (status, body) = server.ops_get("/readyz").await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with(
            "setup mode: no GitHub App credentials; finish the setup at https://slipway.example.com/setup"
        ),
        "{body}"
    );
}

/// Someone reaches the public URL before the operator does: without the token slipway showed
/// its operator, they cannot start a flow (and so cannot create an App slipway would trust).
#[tokio::test]
async fn the_setup_page_opens_only_with_the_token_from_the_log_or_the_operations_page() {
    let fake = FakeGitHub::builder().start().await;
    let server = setup_server(&fake).await;
    let mut stranger = Browser::new(&server);
    let wrong = format!("/setup?token={}", "0".repeat(64));
    for path in [
        "/setup",
        "/setup?org=octo-org",
        "/setup?token=",
        wrong.as_str(),
    ] {
        let refused = stranger.get(path).await;
        assert_eq!(refused.status, 403, "{path}");
        assert!(
            refused.body.contains("Open the setup link"),
            "{}",
            refused.body
        );
        assert!(
            !refused.body.contains("state="),
            "{path}: no state handed out"
        );
        assert!(refused.set_cookie.is_none(), "{path}");
    }
    // The real link works, and a second load of it too (a reload, another tab).
    let link = setup_link(&server).await;
    assert_eq!(stranger.get(&link).await.status, 200);
    assert_eq!(stranger.get(&link).await.status, 200);
}

#[tokio::test]
async fn the_setup_page_binds_its_state_to_the_browser_with_a_private_cookie() {
    let fake = FakeGitHub::builder().start().await;
    let server = setup_server(&fake).await;
    let mut browser = Browser::new(&server);
    let page = browser.get(&setup_link(&server).await).await;
    let cookie = page.set_cookie.expect("the setup page sets a cookie");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    let value = attributes[0]
        .strip_prefix("slipway_setup=")
        .expect("the binding cookie");
    assert_eq!(value.len(), 64, "{cookie}");
    assert!(
        !page.body.contains(value),
        "the page never shows the binding secret"
    );
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Secure",
        "Path=/setup",
        "Max-Age=3600",
    ] {
        assert!(attributes.contains(&attribute), "{attribute} in {cookie}");
    }

    // A plain-http public URL (a local trial) gets the cookie without Secure.
    let fake = FakeGitHub::builder().start().await;
    let local = TestServer::builder()
        .without_credentials()
        .github(&fake)
        .var("PUBLIC_URL", "http://localhost:3000")
        .start()
        .await;
    let (_, ops_home) = local.ops_get("/").await;
    let start = ops_home
        .find("http://localhost:3000/setup?token=")
        .expect("the setup link");
    let path: String = ops_home[start + "http://localhost:3000".len()..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let cookie = Browser::new(&local)
        .get(&path)
        .await
        .set_cookie
        .expect("a cookie");
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
}

#[tokio::test]
async fn the_callback_writes_the_credentials_and_starts_serving_webhooks() {
    let fake = FakeGitHub::builder()
        .with_manifest_code("code123", NEW_SECRET)
        .start()
        .await;
    let server = setup_server(&fake).await;
    let mut browser = Browser::new(&server);
    let state = browser.start_setup(&setup_link(&server).await).await;

    let done = browser.come_back_from_github("code123", &state).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("slipway is set up"));
    // The spent binding is cleared from the browser.
    let cleared = done.set_cookie.expect("the cookie is cleared");
    assert!(
        cleared.starts_with("slipway_setup=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
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
    let (status, body) = server.ops_get("/readyz").await;
    assert_eq!(status, 200);
    assert!(body.starts_with("ready"), "setup mode is over: {body}");
    let (_, home) = server.ops_get("/").await;
    assert!(
        home.contains("GitHub App id <strong>4242</strong>"),
        "{home}"
    );
}

#[tokio::test]
async fn once_the_app_exists_the_setup_flow_is_gone_from_the_webhook_listener() {
    let fake = FakeGitHub::builder()
        .with_manifest_code("code123", NEW_SECRET)
        .with_manifest_code("code456", "another-secret")
        .start()
        .await;
    let server = setup_server(&fake).await;
    let mut operator = Browser::new(&server);
    let state = operator.start_setup(&setup_link(&server).await).await;
    // A second flow started before the first one finished.
    let mut late = Browser::new(&server);
    let late_state = late.start_setup(&setup_link(&server).await).await;
    let done = operator.come_back_from_github("code123", &state).await;
    assert_eq!(done.status, 200, "{}", done.body);

    let link = format!("/setup?token={}", "0".repeat(64));
    for path in ["/", "/setup", "/setup?org=octo-org", link.as_str()] {
        let answer = late.get(path).await;
        assert_eq!(answer.status, 404, "{path}");
        assert!(answer.set_cookie.is_none(), "{path}");
        assert_eq!(answer.body, "", "{path}");
    }
    // The other flow's callback cannot replace the App's credentials.
    let replaced = late.come_back_from_github("code456", &late_state).await;
    assert_eq!(replaced.status, 404);
    assert_eq!(replaced.body, "");
    assert!(fake
        .requests_to("POST /app-manifests/code456/conversions")
        .is_empty());
    let written: std::collections::HashMap<String, String> =
        dotenvy::from_path_iter(server.dir().join(".env"))
            .unwrap()
            .map(|entry| entry.unwrap())
            .collect();
    assert_eq!(written["WEBHOOK_SECRET"], NEW_SECRET);
}

#[tokio::test]
async fn a_callback_with_a_state_slipway_never_issued_is_refused() {
    let fake = FakeGitHub::builder()
        .with_manifest_code("code123", NEW_SECRET)
        .start()
        .await;
    let server = setup_server(&fake).await;
    let mut browser = Browser::new(&server);
    let _ = browser.start_setup(&setup_link(&server).await).await;
    let answer = browser.come_back_from_github("code123", "forged").await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.body.contains("unknown or expired"),
        "{}",
        answer.body
    );
    assert_nothing_changed(&server, &fake).await;
}

#[tokio::test]
async fn a_state_is_good_for_one_callback_only() {
    let fake = FakeGitHub::builder()
        .with_manifest_code("bad-code", NEW_SECRET)
        .start()
        .await;
    let server = setup_server(&fake).await;
    let mut browser = Browser::new(&server);
    let state = browser.start_setup(&setup_link(&server).await).await;
    // GitHub does not know this code: the state is spent, nothing is written.
    let answer = browser.come_back_from_github("unknown", &state).await;
    assert_eq!(answer.status, 502);
    let answer = browser.come_back_from_github("bad-code", &state).await;
    assert_eq!(answer.status, 400);
    assert!(!server.dir().join(".env").exists());
}

/// The attacker learnt the operator's `state` (a screen share, a proxy log, a Referer) and
/// completes the flow from their own browser with the code of an App they created.
#[tokio::test]
async fn a_state_completed_from_another_browser_is_refused_and_changes_nothing() {
    let fake = FakeGitHub::builder()
        .with_manifest_code("attackers-code", "attackers-secret")
        .with_manifest_code("operators-code", NEW_SECRET)
        .start()
        .await;
    let server = setup_server(&fake).await;
    let mut operator = Browser::new(&server);
    let operators_state = operator.start_setup(&setup_link(&server).await).await;

    // Without any cookie.
    let mut attacker = Browser::new(&server);
    let refused = attacker
        .come_back_from_github("attackers-code", &operators_state)
        .await;
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .body
            .contains("This setup was not started in this browser"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("Nothing was changed"));
    assert!(refused.set_cookie.is_none());
    // With a cookie of the attacker's own, from a flow of their own.
    let _ = attacker.start_setup(&setup_link(&server).await).await;
    let refused = attacker
        .come_back_from_github("attackers-code", &operators_state)
        .await;
    assert_eq!(refused.status, 403);
    // With a cookie made up to look like one.
    attacker.cookie = Some(format!("slipway_setup={}", "0".repeat(64)));
    let refused = attacker
        .come_back_from_github("attackers-code", &operators_state)
        .await;
    assert_eq!(refused.status, 403);
    assert_nothing_changed(&server, &fake).await;

    // The operator's own flow is untouched and still completes.
    let done = operator
        .come_back_from_github("operators-code", &operators_state)
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let written: std::collections::HashMap<String, String> =
        dotenvy::from_path_iter(server.dir().join(".env"))
            .unwrap()
            .map(|entry| entry.unwrap())
            .collect();
    assert_eq!(written["WEBHOOK_SECRET"], NEW_SECRET);
}

/// The attacker holds the setup link too (a log they can read), started a flow of their own,
/// created their App on GitHub, and sends the operator the link GitHub redirected them to:
/// the operator's browser must not install it.
#[tokio::test]
async fn a_link_to_an_attackers_setup_cannot_make_the_operators_browser_install_it() {
    let fake = FakeGitHub::builder()
        .with_manifest_code("attackers-code", "attackers-secret")
        .start()
        .await;
    let server = setup_server(&fake).await;
    let mut attacker = Browser::new(&server);
    let attackers_state = attacker.start_setup(&setup_link(&server).await).await;
    let link = format!("/setup/callback?code=attackers-code&state={attackers_state}");

    // The operator has not opened the setup page at all.
    let mut operator = Browser::new(&server);
    assert_eq!(operator.get(&link).await.status, 403);
    // The operator has a setup page of their own open.
    let _ = operator.start_setup(&setup_link(&server).await).await;
    let refused = operator.get(&link).await;
    assert_eq!(refused.status, 403);
    assert!(refused
        .body
        .contains("This setup was not started in this browser"));
    assert_nothing_changed(&server, &fake).await;
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

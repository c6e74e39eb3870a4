//! The GitHub facade against the fake: installation-token caching and refresh, rate limits,
//! the App JWT GitHub checks, and request metrics.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use slipway::github::{Auth, GitHub, GitHubError, RetryPolicy, SharedCredentials};
use slipway::settings::Settings;
use slipway::telemetry::Metrics;
use support::fake_github::{APP_ID, PRIVATE_KEY_PEM};
use support::{Failure, FakeGitHub};

fn client_for(fake: &FakeGitHub, policy: RetryPolicy) -> (GitHub, Arc<Metrics>) {
    slipway::install_crypto_provider();
    let vars: HashMap<String, String> = [
        ("APP_ID", APP_ID.to_string()),
        ("PRIVATE_KEY", PRIVATE_KEY_PEM.to_string()),
        ("WEBHOOK_SECRET", "s".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let settings = Settings::from_vars(&vars).unwrap();
    let metrics = Arc::new(Metrics::new());
    let github = GitHub::new(
        fake.url().parse().unwrap(),
        SharedCredentials::new(settings.credentials),
        metrics.clone(),
        policy,
    )
    .unwrap();
    (github, metrics)
}

async fn fake() -> FakeGitHub {
    FakeGitHub::builder()
        .with_installation(42)
        .with_repository("acme/api")
        .start()
        .await
}

async fn get_repo(github: &GitHub) -> Result<serde_json::Value, GitHubError> {
    github.get(Auth::Installation(42), "/repos/acme/api").await
}

#[tokio::test]
async fn many_concurrent_calls_share_one_token_request() {
    let fake = fake().await;
    let (github, _) = client_for(&fake, RetryPolicy::default());
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let github = github.clone();
            tokio::spawn(async move { get_repo(&github).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap()["full_name"], "acme/api");
    }
    assert_eq!(
        fake.requests_to("POST /app/installations/42/access_tokens")
            .len(),
        1
    );
    assert_eq!(fake.requests_to("GET /repos/acme/api").len(), 20);
}

#[tokio::test]
async fn a_token_close_to_expiry_is_refreshed() {
    // Five minutes and one second: fresh when issued, inside the refresh margin a moment later.
    let fake = FakeGitHub::builder()
        .with_installation(42)
        .with_repository("acme/api")
        .with_token_ttl(Duration::from_secs(5 * 60 + 1))
        .start()
        .await;
    let (github, _) = client_for(&fake, RetryPolicy::default());
    get_repo(&github).await.unwrap();
    get_repo(&github).await.unwrap();
    assert_eq!(fake.requests_to("POST /app/installations").len(), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    get_repo(&github).await.unwrap();
    assert_eq!(fake.requests_to("POST /app/installations").len(), 2);
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once_on_401() {
    let fake = fake().await;
    let (github, _) = client_for(&fake, RetryPolicy::default());
    get_repo(&github).await.unwrap();
    fake.revoke_tokens();
    get_repo(&github).await.unwrap();
    assert_eq!(fake.requests_to("POST /app/installations").len(), 2);
    let authorizations: Vec<String> = fake
        .requests_to("GET /repos/acme/api")
        .into_iter()
        .filter_map(|r| r.authorization)
        .collect();
    assert_eq!(authorizations.len(), 3);
    assert_eq!(
        authorizations[0], authorizations[1],
        "the revoked token was tried once"
    );
    assert_ne!(authorizations[1], authorizations[2], "then a fresh one");
}

#[tokio::test]
async fn a_401_that_persists_after_refresh_is_an_error_not_a_loop() {
    let fake = fake().await;
    let (github, _) = client_for(&fake, RetryPolicy::default());
    fake.fail_next(
        "/repos/acme/api",
        Failure {
            status: 401,
            headers: vec![],
            message: "Bad credentials".into(),
        },
        5,
    );
    let err = get_repo(&github).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(fake.requests_to("GET /repos/acme/api").len(), 2);
}

#[tokio::test]
async fn the_app_jwt_is_what_github_accepts() {
    let fake = fake().await;
    let (github, _) = client_for(&fake, RetryPolicy::default());
    // The fake verifies RS256 with the App's public key, iss = App id, exp − iat ≤ 10 minutes.
    let token = github.installation_token(42).await.unwrap();
    assert!(token.token.starts_with("ghs_"));
    let unknown = github.installation_token(7).await.unwrap_err();
    assert_eq!(unknown.status(), Some(404));
}

#[tokio::test]
async fn a_secondary_rate_limit_with_retry_after_is_waited_out() {
    let fake = fake().await;
    let (github, _) = client_for(&fake, RetryPolicy::default());
    get_repo(&github).await.unwrap();
    fake.fail_next("/repos/acme/api", Failure::secondary_rate_limit(1), 1);
    let started = Instant::now();
    get_repo(&github).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry-after was honoured"
    );
    assert_eq!(fake.requests_to("GET /repos/acme/api").len(), 3);
}

#[tokio::test]
async fn an_exhausted_rate_limit_resetting_later_is_handed_to_the_queue() {
    let fake = fake().await;
    let (github, metrics) = client_for(&fake, RetryPolicy::default());
    get_repo(&github).await.unwrap();
    let reset = time::OffsetDateTime::now_utc().unix_timestamp() + 900;
    fake.fail_next("/repos/acme/api", Failure::primary_rate_limit(reset), 1);
    let err = get_repo(&github).await.unwrap_err();
    assert!(err.is_retryable());
    let wait = err.retry_after().expect("the wait GitHub asked for");
    assert!(
        wait > Duration::from_secs(800) && wait <= Duration::from_secs(900),
        "{wait:?}"
    );
    let text = metrics.render();
    assert!(
        text.contains("slipway_github_rate_limit_remaining{resource=\"core\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("slipway_github_requests_total{endpoint=\"GET /repos/{owner}/{repo}\",status=\"403\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unreachable_github_is_a_retryable_transport_error() {
    slipway::install_crypto_provider();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let fake = fake().await;
    let (github, _) = client_for(&fake, RetryPolicy::default());
    let unreachable = GitHub::new(
        format!("http://127.0.0.1:{port}").parse().unwrap(),
        github.credentials().clone(),
        Arc::new(Metrics::new()),
        RetryPolicy::default(),
    )
    .unwrap();
    let err = unreachable
        .request(Method::GET, Auth::App, "/app/hook/deliveries", None)
        .await
        .unwrap_err();
    assert!(matches!(err, GitHubError::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[test]
fn building_clients_never_trips_over_two_crypto_back_ends() {
    // Both ring and aws-lc-rs are compiled in; without an explicit choice rustls panics at the
    // first TLS client. Build an HTTPS-capable octocrab client and a rustls client config the
    // way slipway does, and sign a JWT (jsonwebtoken has the same trap with its back-ends).
    slipway::install_crypto_provider();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = GitHub::new(
            "https://api.github.com".parse().unwrap(),
            SharedCredentials::default(),
            Arc::new(Metrics::new()),
            RetryPolicy::default(),
        );
        assert!(client.is_ok());
    });
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    assert!(!config.alpn_protocols.contains(&b"h3".to_vec()));
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(PRIVATE_KEY_PEM.as_bytes()).unwrap();
    assert!(slipway::github::app_jwt(APP_ID, &key, 1_700_000_000).is_ok());
}

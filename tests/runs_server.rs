//! The server runs a supervisor for the run kinds it is given, reports runs in `/metrics`, and
//! stops it cleanly on shutdown.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;
use slipway::runs::{RunKind, StepContext, StepFuture, StepOutcome};
use slipway::server::ServerOptions;
use slipway::settings::Settings;
use slipway::store::{RunState, RunTarget, StartOutcome};

/// Waits for one signal `go` and succeeds with its payload's `note`.
struct WaitForGo;

impl RunKind for WaitForGo {
    fn step<'a>(&'a self, step: &'a StepContext) -> StepFuture<'a> {
        Box::pin(async move {
            Ok(match step.signal("go") {
                Some(signal) => StepOutcome::succeeded(
                    signal.payload["note"].as_str().unwrap_or("").to_string(),
                ),
                None => StepOutcome::WaitFor {
                    signal: "go".into(),
                    progress: json!({}),
                    until: None,
                },
            })
        })
    }
}

#[tokio::test]
async fn the_server_drives_runs_of_its_kinds_and_counts_them() {
    slipway::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let vars: HashMap<String, String> = [
        ("HOST", "127.0.0.1".to_string()),
        ("PORT", "0".to_string()),
        ("OPS_PORT", "0".to_string()),
        (
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("slipway.db").display()),
        ),
        ("ENV_FILE", dir.path().join(".env").display().to_string()),
        (
            "MIRROR_DIR",
            dir.path().join("mirrors").display().to_string(),
        ),
        ("GITHUB_API_URL", "http://127.0.0.1:9".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut options = ServerOptions::new(Settings::from_vars(&vars).unwrap());
    options.run_kinds.register("health-wait", 2, WaitForGo);
    let server = slipway::server::start(options).await.unwrap();

    let StartOutcome::Started(run) = server
        .runs
        .start(
            "health-wait",
            "acme/config#12:prod",
            json!({}),
            Duration::from_secs(60),
        )
        .await
        .unwrap()
    else {
        panic!("the run did not start")
    };
    server
        .runs
        .signal(
            &RunTarget::subject("health-wait", "acme/config#12:prod"),
            "go",
            json!({"note": "healthy"}),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let finished = loop {
        let current = server.store.run(run.id).await.unwrap().unwrap();
        if current.state.is_finished() {
            break current;
        }
        assert!(
            Instant::now() < deadline,
            "the run never finished: {current:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(finished.state, RunState::Succeeded);
    assert_eq!(finished.outcome.as_deref(), Some("healthy"));

    let metrics = reqwest::get(format!("http://{}/metrics", server.ops_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("slipway_runs_total{kind=\"health-wait\",outcome=\"succeeded\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE slipway_runs_active gauge"),
        "{metrics}"
    );
    server.shutdown().await.unwrap();
}

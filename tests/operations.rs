//! Operations: health, readiness, metrics, the status page, and `slipway deliveries`; all but
//! liveness on the operations listener only, never where GitHub (and anyone) reaches slipway.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{fixture, TestServer};

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let server = TestServer::builder().start().await;
    assert_eq!(server.ops_get("/healthz").await, (200, "ok".to_string()));
    // Without a cluster slipway still serves (previews, commands), and says what it cannot do.
    // A platform without network namespaces for renders says so too (the image test pins
    // that line under a container's seccomp profile).
    let isolation = match slipway::render::network_isolation() {
        slipway::render::NetworkIsolation::Isolated => String::new(),
        refused => format!("\n{}", refused.summary()),
    };
    assert_eq!(
        server.ops_get("/readyz").await,
        (
            200,
            format!(
                "ready\ncluster `default`: builds and deploys cannot run: {}{isolation}",
                support::NO_TEST_CLUSTER
            )
        )
    );

    server
        .deliver("push", "d-1", &fixture("handled/push/00-push.json"))
        .await;
    server
        .wait_for_state("d-1", "done", Duration::from_secs(5))
        .await;
    let (status, metrics) = server.ops_get("/metrics").await;
    assert_eq!(status, 200);
    for sample in [
        "slipway_webhook_deliveries_received_total{event=\"push\",outcome=\"queued\"} 1",
        "slipway_delivery_processing_seconds_count{event=\"push\",outcome=\"done\"} 1",
        "slipway_queue_depth",
    ] {
        assert!(metrics.contains(sample), "missing {sample} in\n{metrics}");
    }
}

#[tokio::test]
async fn the_status_page_shows_counts_and_last_errors() {
    let server = TestServer::builder().start().await;
    server
        .deliver("push", "d-ok", &fixture("handled/push/00-push.json"))
        .await;
    server.deliver("push", "d-broken", b"not json").await;
    server
        .wait_for_state("d-ok", "done", Duration::from_secs(5))
        .await;
    let (status, page) = server.ops_get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("GitHub App id <strong>4242</strong>"));
    // Whether renders get a network namespace here ("on", or "unavailable" and why).
    let isolation = slipway::render::network_isolation().summary();
    assert!(isolation.starts_with("render network isolation: "));
    assert!(
        page.contains(&format!("<p>{}</p>", isolation.replace('\'', "&#39;"))),
        "{page}"
    );
    assert!(page.contains("<td>done</td><td>1</td>"), "{page}");
    assert!(page.contains("<td>failed</td><td>1</td>"), "{page}");
    assert!(
        page.contains("d-broken") && page.contains("not valid JSON"),
        "{page}"
    );
}

fn slipway(database_url: &str, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("ENV_FILE", "/nonexistent/.env")
        .env_remove("APP_ID")
        .env_remove("PRIVATE_KEY")
        .env_remove("PRIVATE_KEY_PATH")
        .env_remove("WEBHOOK_SECRET")
        .output()
        .expect("slipway runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn deliveries_lists_and_retries_from_the_command_line() {
    let server = TestServer::builder().start().await;
    server
        .deliver("push", "d-ok", &fixture("handled/push/00-push.json"))
        .await;
    server.deliver("push", "d-broken", b"not json").await;
    server
        .wait_for_state("d-ok", "done", Duration::from_secs(5))
        .await;
    let store = server.store().clone();
    let dir = server.shutdown().await;
    let database_url = format!("sqlite://{}", dir.path().join("slipway.db").display());

    let (code, out, err) = slipway(&database_url, &["deliveries"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("d-broken")
            && lines[0].contains("failed")
            && lines[0].contains("not valid JSON")
    );
    assert!(
        lines[1].contains("d-ok")
            && lines[1].contains("done")
            && lines[1].contains("Codertocat/Hello-World")
    );

    let (code, out, _) = slipway(
        &database_url,
        &["deliveries", "--state", "done", "--limit", "5"],
    );
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1);
    assert!(out.contains("d-ok"));

    let (code, out, err) = slipway(&database_url, &["deliveries", "retry", "d-broken"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("d-broken is queued again"));
    let row = store
        .list_deliveries(None, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.id == "d-broken")
        .unwrap();
    assert_eq!(row.state, "pending");

    let (code, _, err) = slipway(&database_url, &["deliveries", "retry", "d-ok"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("delivery d-ok is done, only failed deliveries can be retried"),
        "{err}"
    );

    let (code, _, err) = slipway(&database_url, &["deliveries", "--state", "bogus"]);
    assert_eq!(code, 2, "a usage error: {err}");
}

#[test]
fn misconfiguration_stops_start_up_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .arg("serve")
        .current_dir(dir.path())
        .env("APP_ID", "not-a-number")
        .env("WEBHOOK_SECRET", "s")
        .env("PRIVATE_KEY", "x")
        .env_remove("PRIVATE_KEY_PATH")
        .env_remove("ENV_FILE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr,
        "error: APP_ID must be a number, got \"not-a-number\"\n"
    );
}

#[test]
fn serve_logs_json_and_stops_cleanly_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .arg("serve")
        .current_dir(dir.path())
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "info")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("s.db").display()),
        )
        .env_remove("APP_ID")
        .env_remove("PRIVATE_KEY")
        .env_remove("PRIVATE_KEY_PATH")
        .env_remove("WEBHOOK_SECRET")
        .env_remove("ENV_FILE")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut start_up = Vec::new();
    let listening = loop {
        let line = lines.next().expect("a start-up line").unwrap();
        if line.contains("slipway is listening") {
            break line;
        }
        start_up.push(line);
    };
    let setup = start_up
        .iter()
        .find(|line| line.contains("open this setup link"))
        .expect("the setup link is logged");
    let setup: serde_json::Value = serde_json::from_str(setup).expect("log lines are JSON");
    let link = setup["url"].as_str().expect("the link").to_string();
    let entry: serde_json::Value = serde_json::from_str(&listening).expect("log lines are JSON");
    assert_eq!(entry["level"], "INFO");
    let addr = entry["addr"].as_str().unwrap().to_string();
    let ops_addr = entry["ops_addr"].as_str().unwrap().to_string();
    assert_ne!(addr, ops_addr);

    let path = &link[link.find("/setup?token=").expect("a setup link")..];
    let page = raw_get(&addr, path);
    assert!(page.contains("Create the GitHub App"), "{page}");
    // Ready in setup mode: the setup flow reaches the pod through the Service of ready pods.
    let status = raw_get(&ops_addr, "/readyz");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(status.contains("\r\n\r\nsetup mode: "), "{status}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map(|line| line.unwrap()).collect();
    assert!(
        rest.iter().any(|line| line.contains("shutting down")),
        "{rest:?}"
    );
    for line in &rest {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|_| panic!("not JSON: {line}"));
    }
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// One HTTP/1.1 GET over a plain socket: the whole answer, status line included.
/// Whoever read slipway's log went away (a closed pipe): slipway still stops on SIGTERM.
#[test]
fn serve_stops_on_sigterm_after_the_reader_of_its_log_went_away() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("LOG_FORMAT", "json")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("s.db").display()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    while !lines
        .next()
        .expect("a start-up line")
        .unwrap()
        .contains("slipway is listening")
    {}
    drop(lines);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let pid = child.id();
    let (exited, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = exited.send(child.wait());
    });
    match wait.recv_timeout(Duration::from_secs(30)) {
        Ok(status) => assert_eq!(status.unwrap().code(), Some(0)),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("slipway did not stop within 30 s of SIGTERM");
        }
    }
}

fn raw_get(addr: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(
        &mut stream,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    answer
}

#[tokio::test]
async fn finished_deliveries_past_the_retention_are_pruned_with_their_payloads() {
    let server = TestServer::builder().start().await;
    server
        .deliver("push", "d-old", &fixture("handled/push/00-push.json"))
        .await;
    server.deliver("push", "d-broken", b"not json").await;
    server
        .wait_for_state("d-old", "done", Duration::from_secs(5))
        .await;
    let store = server.store().clone();

    // Nothing finished before an hour ago: nothing goes.
    let an_hour_ago = slipway::store::now_millis() - 3_600_000;
    assert_eq!(store.prune_finished(an_hour_ago).await.unwrap(), 0);

    let later = slipway::store::now_millis() + 1;
    assert_eq!(store.prune_finished(later).await.unwrap(), 2);
    assert!(server.deliveries().await.is_empty());
    assert!(
        store.payload("d-old").await.is_err(),
        "the payload went with its delivery"
    );
}

#[tokio::test]
async fn the_status_page_lists_the_last_twenty_deploys_escaped() {
    use slipway::store::{DeployCounts, NewDeploy};
    let server = TestServer::builder().start().await;
    // 2026-11-18 11:06 UTC, then a minute later each.
    let start = 1_795_000_000_000_i64;
    for n in 0..22_i64 {
        let sha = format!("{:07x}{}", 0xabc0000 + n, "f".repeat(33));
        server
            .store()
            .record_deploy(&NewDeploy {
                repository: "acme/config".into(),
                environment: if n == 21 {
                    "<b>dev</b>".into()
                } else {
                    "dev".into()
                },
                merge_sha: sha,
                pull_number: Some(100 + n as u64),
                started_at: start + n * 60_000,
                finished_at: Some(start + n * 60_000 + 30_000),
                outcome: if n == 21 {
                    "un\"healthy&".into()
                } else {
                    "succeeded".into()
                },
                counts: DeployCounts {
                    created: 1,
                    configured: 2,
                    unchanged: 3,
                    pruned: 4,
                },
                deployment_id: Some(7),
                check_run_id: Some(8),
            })
            .await
            .unwrap();
    }

    let (status, page) = server.ops_get("/").await;

    assert_eq!(status, 200);
    assert!(page.contains("<h2>Last deploys</h2>"), "{page}");
    let rows = page.matches("<td>acme/config</td>").count();
    assert_eq!(rows, 20, "{page}");
    // Newest first; the two oldest are not listed.
    let newest = page.find("#121").expect("the newest deploy is listed");
    let older = page.find("#102").expect("the 20th newest is listed");
    assert!(newest < older);
    assert!(!page.contains("#101") && !page.contains("#100"), "{page}");
    assert!(
        page.contains(
            "<tr><td>2026-11-18 11:27 UTC</td><td>acme/config</td><td>&lt;b&gt;dev&lt;/b&gt;</td>\
         <td>default</td><td><code>abc0015</code></td><td>#121</td><td>un&quot;healthy&amp;</td>\
         <td>1</td><td>2</td><td>3</td><td>4</td><td>2026-11-18 11:28 UTC</td></tr>"
        ),
        "{page}"
    );
    assert!(!page.contains("<b>dev</b>"));
}

/// Whoever can reach the webhook URL (it is public: GitHub must reach it) probes for the status
/// page, the deploy history, the metrics and the readiness details.
#[tokio::test]
async fn the_webhook_listener_shows_nothing_but_webhooks_and_liveness() {
    use slipway::store::{DeployCounts, NewDeploy};
    let server = TestServer::builder().start().await;
    server.deliver("push", "d-broken", b"not json").await;
    server
        .store()
        .record_deploy(&NewDeploy {
            repository: "acme/secret-config".into(),
            environment: "production".into(),
            merge_sha: "abc1234".repeat(5) + "abcde",
            pull_number: Some(7),
            started_at: 1_795_000_000_000,
            finished_at: Some(1_795_000_030_000),
            outcome: "succeeded".into(),
            counts: DeployCounts::default(),
            deployment_id: None,
            check_run_id: None,
        })
        .await
        .unwrap();

    for path in [
        "/",
        "/?org=x",
        "/metrics",
        "/readyz",
        "/setup",
        "/setup/callback?code=c&state=s",
        "/deploys",
        "/index.html",
    ] {
        let (status, body) = server.get(path).await;
        assert_eq!(
            (status, body.as_str()),
            (404, ""),
            "GET {path} on the webhook port"
        );
    }
    assert_eq!(server.get("/healthz").await, (200, "ok".to_string()));
    let (status, _) = server
        .client
        .get(format!("{}/api/github/webhooks", server.url))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 405, "only POST is served on the webhook path");

    // The same requests on the operations listener see it all.
    let (status, page) = server.ops_get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("acme/secret-config"), "{page}");
    assert!(page.contains("d-broken"), "{page}");
    let (status, metrics) = server.ops_get("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("slipway_webhook_deliveries_received_total"));
    assert_eq!(server.ops_get("/readyz").await.0, 200);
    // Webhooks are not taken on the operations listener.
    let signature = slipway::webhook::sign(support::WEBHOOK_SECRET.as_bytes(), b"{}");
    let response = server
        .client
        .post(format!("{}/api/github/webhooks", server.ops_url))
        .header("x-github-event", "push")
        .header("x-github-delivery", "d-ops")
        .header("x-hub-signature-256", signature)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert!(server.delivery("d-ops").await.is_none());
}

#[test]
fn the_operations_port_must_differ_from_the_webhook_port() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .arg("serve")
        .current_dir(dir.path())
        .env("PORT", "8080")
        .env("OPS_PORT", "8080")
        .env_remove("ENV_FILE")
        .env_remove("APP_ID")
        .env_remove("PRIVATE_KEY")
        .env_remove("PRIVATE_KEY_PATH")
        .env_remove("WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: OPS_PORT must differ from PORT (8080): the operations endpoints are never served where webhooks are\n"
    );
}

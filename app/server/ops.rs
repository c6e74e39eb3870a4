//! Operations: liveness, readiness, metrics, and the status page with the deploy history.
//! All but `/healthz` are served on the operations listener only.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::setup::{escape_html, setup_url};
use super::AppState;
use crate::commands::replies::lock_time;
use crate::pipelines::build::ClusterAccess;
use crate::pipelines::deploy::DeployAccess;
use crate::store::DeployRecord;

pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// Ready means "route requests here". In setup mode that holds too: the setup page and
/// GitHub's redirect back to `/setup/callback` reach the pod through the same Service as
/// webhooks, so a pod without credentials is ready, and the body's first line says it is in
/// setup mode. Only what no request could be served without (the database) makes it unready.
pub(super) async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let mut problems = Vec::new();
    if !state.store.ping().await {
        problems.push("the database does not answer".to_string());
    }
    let status = if state.credentials.get().is_none() {
        format!(
            "setup mode: no GitHub App credentials; finish the setup at {}",
            setup_url(&state.settings.public_url)
        )
    } else {
        "ready".to_string()
    };
    // Without a cluster slipway still previews and answers commands, so it stays ready; the
    // body has one line per cluster saying whether it answers and accepts slipway, and says
    // when renders get no network namespace of their own.
    let mut notes = cluster_lines(&state).await;
    let isolation = crate::render::network_isolation();
    if *isolation != crate::render::NetworkIsolation::Isolated {
        notes.push(isolation.summary());
    }
    if problems.is_empty() {
        let body = std::iter::once(status)
            .chain(notes)
            .collect::<Vec<_>>()
            .join("\n");
        (StatusCode::OK, body).into_response()
    } else {
        if state.credentials.get().is_none() {
            problems.push(status);
        }
        problems.extend(notes);
        (StatusCode::SERVICE_UNAVAILABLE, problems.join("\n")).into_response()
    }
}

/// How long `/readyz` waits for one cluster's answer.
const CLUSTER_PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// One line per cluster, in the settings' order, all asked at once: `cluster `prod`: reachable,
/// credentials accepted`, or why not; the build cluster's line says whether builds can run.
async fn cluster_lines(state: &AppState) -> Vec<String> {
    let build_cluster = state.settings.build_cluster.as_str();
    let probes = state.clusters.names().iter().map(|name| async move {
        let name = name.as_str();
        let builds = name == build_cluster;
        let access = match state.clusters.reach(name).await {
            Ok(access) => access,
            Err(refusal) => return refusal,
        };
        let deployer = match &access {
            DeployAccess::Unavailable(reason) if builds => {
                return format!("cluster `{name}`: builds and deploys cannot run: {reason}")
            }
            DeployAccess::Unavailable(reason) => {
                return format!("cluster `{name}`: deploys cannot run: {reason}")
            }
            DeployAccess::Ready(deployer) => deployer,
        };
        let reached = tokio::time::timeout(CLUSTER_PROBE_TIMEOUT, deployer.check_reachable()).await;
        match reached {
            Err(_) => format!(
                "cluster `{name}`: unreachable: no answer within {}s",
                CLUSTER_PROBE_TIMEOUT.as_secs()
            ),
            Ok(Err(err)) if matches!(err.code(), Some(401 | 403)) => format!(
                "cluster `{name}`: refuses slipway's credentials: {}",
                crate::failure::chain(&err)
            ),
            Ok(Err(err)) => format!(
                "cluster `{name}`: unreachable: {}",
                crate::failure::chain(&err)
            ),
            Ok(Ok(())) if !builds => format!("cluster `{name}`: reachable, credentials accepted"),
            Ok(Ok(())) => match &state.cluster {
                ClusterAccess::Ready(cluster) => match cluster.check_access().await {
                    Ok(()) => {
                        format!("cluster `{name}`: reachable, credentials accepted, builds can run")
                    }
                    Err(err) => format!(
                        "cluster `{name}`: reachable, credentials accepted; builds cannot run: {}",
                        crate::failure::chain(&err)
                    ),
                },
                ClusterAccess::Unavailable(reason) => {
                    format!("cluster `{name}`: builds cannot run: {reason}")
                }
            },
        }
    });
    futures::future::join_all(probes).await
}

pub(super) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// How many deploys the status page lists.
const RECENT_DEPLOYS: u32 = 20;

/// The cluster a deploy went to, as its stored detail names it (`default` when it names none:
/// a slipway with one cluster, or a deploy from before clusters had names).
fn cluster_of(deploy: &DeployRecord) -> String {
    deploy
        .detail
        .as_deref()
        .and_then(|detail| serde_json::from_str::<serde_json::Value>(detail).ok())
        .and_then(|detail| detail["outcome"]["cluster"].as_str().map(str::to_string))
        .unwrap_or_else(|| crate::config::DEFAULT_CLUSTER.to_string())
}

/// One deploy as a row of the status page; every stored value HTML-escaped.
fn deploy_row(deploy: &DeployRecord) -> String {
    let short: String = deploy.merge_sha.chars().take(7).collect();
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        escape_html(&lock_time(deploy.started_at)),
        escape_html(&deploy.repository),
        escape_html(&deploy.environment),
        escape_html(&cluster_of(deploy)),
        escape_html(&short),
        deploy
            .pull_number
            .map(|n| format!("#{n}"))
            .unwrap_or_default(),
        escape_html(&deploy.outcome),
        deploy.counts.created,
        deploy.counts.configured,
        deploy.counts.unchanged,
        deploy.counts.pruned,
        deploy
            .finished_at
            .map(|at| escape_html(&lock_time(at)))
            .unwrap_or_default(),
    )
}

/// The status page; until the App exists, where to create it. The setup flow itself is not
/// served here: its cookie must be set on the host GitHub sends the browser back to.
pub(super) async fn home(State(state): State<Arc<AppState>>) -> Response {
    let Some(credentials) = state.credentials.get() else {
        let link = state.setup_token.link(&state.settings.public_url);
        return Html(format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>slipway</title></head>
<body style="font-family: sans-serif; max-width: 60em; margin: 3em auto">
<h1>slipway is not set up yet</h1>
<p>No GitHub App credentials are configured. Create the App with this setup link:
<a href="{link}">{link}</a>. It is on slipway's public URL (setting <code>PUBLIC_URL</code>),
where GitHub sends the browser back; do the whole setup in the browser that opens it.</p>
</body></html>"#,
            link = escape_html(&link),
        ))
        .into_response();
    };
    let counts = state.store.count_by_state().await.unwrap_or_default();
    let errors = state.store.recent_errors(10).await.unwrap_or_default();
    let deploys = state
        .store
        .recent_deploys(RECENT_DEPLOYS)
        .await
        .unwrap_or_default();
    let deploy_rows: String = deploys.iter().map(deploy_row).collect();
    let count_rows: String = counts
        .iter()
        .map(|c| {
            format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                escape_html(&c.state),
                c.count
            )
        })
        .collect();
    let error_rows: String = errors
        .iter()
        .map(|d| {
            format!(
                "<tr><td><code>{}</code></td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
                escape_html(&d.id),
                escape_html(&d.event),
                d.action
                    .as_deref()
                    .map(|a| format!(".{}", escape_html(a)))
                    .unwrap_or_default(),
                escape_html(&d.state),
                escape_html(d.last_error.as_deref().unwrap_or("")),
            )
        })
        .collect();
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>slipway</title></head>
<body style="font-family: sans-serif; max-width: 60em; margin: 3em auto">
<h1>slipway</h1>
<p>GitHub App id <strong>{app_id}</strong>. Webhooks arrive at <code>/api/github/webhooks</code>.</p>
<p>{isolation}</p>
<h2>Deliveries</h2>
<table><tr><th>state</th><th>count</th></tr>{count_rows}</table>
<h2>Last errors</h2>
<table><tr><th>delivery</th><th>event</th><th>state</th><th>error</th></tr>{error_rows}</table>
<h2>Last deploys</h2>
<table><tr><th>started</th><th>repository</th><th>environment</th><th>cluster</th><th>commit</th><th>pull request</th><th>outcome</th><th>created</th><th>configured</th><th>unchanged</th><th>pruned</th><th>finished</th></tr>{deploy_rows}</table>
</body></html>"#,
        app_id = credentials.app_id,
        isolation = escape_html(&crate::render::network_isolation().summary()),
    ))
    .into_response()
}

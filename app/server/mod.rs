//! The HTTP server, on two listeners: the one GitHub reaches (`PORT`) serves webhook ingress,
//! the setup flow while no App exists, and `/healthz`; the operations listener (`OPS_PORT`)
//! serves the status page, `/readyz`, `/metrics` and `/healthz`, and is never exposed to
//! whoever can reach the webhook URL.
//!
//! `start` wires the store, the queue, the run supervisor, the GitHub client and the scheduler of
//! periodic jobs (missed-delivery scan, delivery retention) together and returns a handle;
//! `slipway serve` and the tests both use it.

mod ingress;
mod ops;
mod setup;

use std::collections::HashMap;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{watch, Notify};

use crate::cluster::{BuildCluster, BuildTemplate};
use crate::github::{GitHub, RetryPolicy, SharedCredentials};
use crate::pipelines::build::{Builds, ClusterAccess};
use crate::pipelines::bumps::Bumper;
use crate::pipelines::deploy::drift::DriftChecks;
use crate::pipelines::deploy::{ClusterBackoff, DeployAccess, DeployClusters, Deploys};
use crate::pipelines::missed_deliveries::{self, RecoveryConfig};
use crate::pipelines::{self, PipelineContext};
use crate::queue::{self, HandlerRegistry, QueueConfig, QueueHandle};
use crate::runs::{self, RunKinds, Runs, RunsConfig};
use crate::scheduler::{Job, Scheduler, SchedulerConfig};
use crate::settings::Settings;
use crate::store::Store;
use crate::telemetry::Metrics;

pub use setup::{app_manifest, write_env_file};

/// GitHub's webhook payload limit.
pub const MAX_WEBHOOK_BODY: usize = 25 * 1024 * 1024;

/// Extra handlers a caller plugs in before the queue starts (tests use it to observe processing).
pub type RegisterHandlers = Box<dyn FnOnce(&mut HandlerRegistry, &PipelineContext) + Send>;

/// How to start a server; `ServerOptions::new(settings)` gives production defaults.
pub struct ServerOptions {
    pub settings: Settings,
    pub queue: QueueConfig,
    pub recovery: RecoveryConfig,
    pub github_retry: RetryPolicy,
    pub extra_handlers: Option<RegisterHandlers>,
    /// The run kinds the supervisor drives, besides slipway's own (`build`, `deploy`), which
    /// take precedence over a kind of the same name.
    pub run_kinds: RunKinds,
    pub runs: RunsConfig,
    pub scheduler: SchedulerConfig,
    /// The cluster `default` (builds run on `BUILD_CLUSTER`, `default` unless set; the other
    /// clusters come from the `CLUSTERS` setting).
    pub cluster: ClusterChoice,
    /// How long a deploy whose cluster is unreachable waits before it tries again.
    pub cluster_backoff: ClusterBackoff,
    /// How often the drift job looks for environments whose check is due.
    pub drift_tick: Duration,
}

/// How the cluster `default` is reached.
#[derive(Clone)]
pub enum ClusterChoice {
    /// The `KUBECONFIG` setting, else `~/.kube/config`, else the pod's service account; none
    /// found is a state slipway serves in (builds complete as neutral, `/readyz` says why).
    Infer,
    /// This client (tests: the fake API server).
    Client(kube::Client),
    /// No cluster, for this reason.
    Unavailable(String),
}

impl ServerOptions {
    pub fn new(settings: Settings) -> Self {
        let queue = QueueConfig {
            workers: settings.workers,
            ..QueueConfig::default()
        };
        ServerOptions {
            settings,
            queue,
            recovery: RecoveryConfig::default(),
            github_retry: RetryPolicy::default(),
            extra_handlers: None,
            run_kinds: RunKinds::new(),
            runs: RunsConfig::default(),
            scheduler: SchedulerConfig::for_this_process(),
            cluster: ClusterChoice::Infer,
            cluster_backoff: ClusterBackoff::default(),
            drift_tick: crate::pipelines::deploy::drift::DRIFT_TICK,
        }
    }
}

/// What every route shares.
pub(crate) struct AppState {
    pub settings: Settings,
    pub credentials: SharedCredentials,
    pub store: Store,
    pub queue: QueueHandle,
    pub github: GitHub,
    pub metrics: Arc<Metrics>,
    /// Setup-flow `state` values handed out, each bound to the browser that was given it.
    pub setup_states: Mutex<HashMap<String, setup::PendingSetup>>,
    /// Whoever starts the setup flow must present this (from the log or the operations page).
    pub setup_token: setup::SetupToken,
    /// Fired when the setup flow installs credentials, so the delivery scan starts at once.
    pub credentials_arrived: Arc<Notify>,
    /// Whether builds reach a cluster.
    pub cluster: ClusterAccess,
    /// Every cluster deploys may use, for `/readyz`.
    pub clusters: DeployClusters,
}

/// A started server.
pub struct RunningServer {
    /// The listener GitHub reaches: webhooks, the setup flow, `/healthz`.
    pub addr: SocketAddr,
    /// The operations listener: status page, `/readyz`, `/metrics`, `/healthz`.
    pub ops_addr: SocketAddr,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Starts and signals runs of the registered kinds.
    pub runs: Runs,
    stop: watch::Sender<bool>,
    join: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// Stops accepting requests, lets in-flight handlers finish (or hands them back), and waits.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.join.await.context("the server task panicked")?
    }

    /// A handle that stops the server when `true` is sent (what a signal handler holds).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }

    /// Waits until the server stops (after `shutdown` or a send on a `stopper`).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.join.await.context("the server task panicked")?
    }
}

/// Binds `settings.host:settings.port` and `settings.ops_host:settings.ops_port` (port 0 picks
/// a free one) and starts serving.
pub async fn start(options: ServerOptions) -> anyhow::Result<RunningServer> {
    let ServerOptions {
        settings,
        queue: queue_config,
        recovery,
        github_retry,
        extra_handlers,
        run_kinds,
        runs: runs_config,
        scheduler: scheduler_config,
        cluster,
        cluster_backoff,
        drift_tick,
    } = options;
    let mut run_kinds = run_kinds;
    let metrics = Arc::new(Metrics::new());
    let store = Store::connect(&settings.database_url)
        .await
        .with_context(|| format!("cannot open the database {}", settings.database_url))?;
    let credentials = SharedCredentials::new(settings.credentials.clone());
    let github = GitHub::new(
        settings.github_api_url.clone(),
        credentials.clone(),
        metrics.clone(),
        github_retry,
    )?;

    let mirrors = crate::git::Mirrors::new(&settings.mirror_dir).with_context(|| {
        format!(
            "cannot use MIRROR_DIR {} for git mirrors",
            settings.mirror_dir.display()
        )
    })?;
    let fingerprint_key = match settings.fingerprint_key {
        Some(key) => key,
        None => store
            .fingerprint_key()
            .await
            .context("cannot read or make the Secret fingerprint key")?,
    };
    let mirrors = Arc::new(mirrors);
    let template = BuildTemplate::load(
        settings.build.template_dir.as_deref(),
        settings.build.builder,
    )
    .context("cannot use the build template")?;
    let (cluster, clusters) = connect_clusters(cluster, &settings).await?;
    let builds = Builds::new(
        github.clone(),
        mirrors.clone(),
        store.clone(),
        cluster.clone(),
        template,
        settings.build.clone(),
        Bumper::new(github.clone(), mirrors.clone(), store.clone()),
        clusters.known().clone(),
    );
    builds.register_kind(&mut run_kinds);
    let deploys = Deploys::new(
        github.clone(),
        mirrors.clone(),
        store.clone(),
        clusters.clone(),
        cluster_backoff,
        metrics.clone(),
    );
    deploys.register_kind(&mut run_kinds);
    // Runs start before the handlers, which start runs of their own.
    let (runs, runs_join) =
        runs::start(store.clone(), run_kinds, metrics.clone(), runs_config).await?;
    let drift = DriftChecks::new(deploys.clone(), runs.clone(), fingerprint_key);
    let context = PipelineContext {
        store: store.clone(),
        github: github.clone(),
        mirrors,
        fingerprint_key,
        runs: runs.clone(),
        clusters: clusters.known().clone(),
    };
    let mut handlers = HandlerRegistry::new();
    pipelines::register_all(&mut handlers, &context, &builds, &deploys);
    if let Some(register) = extra_handlers {
        register(&mut handlers, &context);
    }
    let (queue, queue_join) =
        queue::start(store.clone(), handlers, metrics.clone(), queue_config).await?;

    let listener = tokio::net::TcpListener::bind((settings.host, settings.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", settings.host, settings.port))?;
    let addr = listener.local_addr()?;
    let ops_listener = tokio::net::TcpListener::bind((settings.ops_host, settings.ops_port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}:{} (OPS_HOST, OPS_PORT)",
                settings.ops_host, settings.ops_port
            )
        })?;
    let ops_addr = ops_listener.local_addr()?;

    let retention_days = settings.delivery_retention_days;
    let setup_token = setup::SetupToken::new();
    if settings.credentials.is_none() {
        tracing::warn!(
            url = %setup_token.link(&settings.public_url),
            "no GitHub App credentials: open this setup link (also on the operations page) to create the App"
        );
    }
    let credentials_arrived = Arc::new(Notify::new());
    let state = Arc::new(AppState {
        settings,
        credentials,
        store: store.clone(),
        queue: queue.clone(),
        github: github.clone(),
        metrics: metrics.clone(),
        setup_states: Mutex::new(HashMap::new()),
        setup_token,
        credentials_arrived: credentials_arrived.clone(),
        cluster,
        clusters,
    });
    let webhook_router = webhook_router(state.clone());
    let ops_router = ops_router(state);

    let (stop, stop_rx) = watch::channel(false);
    let mut scheduler = Scheduler::new(store.clone(), scheduler_config);
    scheduler.add(missed_delivery_job(
        github,
        store.clone(),
        metrics.clone(),
        recovery,
        credentials_arrived,
    ));
    if let Some(job) = retention_job(store.clone(), retention_days) {
        scheduler.add(job);
    }
    scheduler.add(drift.job(drift_tick));
    let scheduler = scheduler.start();

    let job_watch = pipelines::build::watch_jobs(&builds, runs.clone(), stop_rx.clone());
    let mut server_stop = stop_rx.clone();
    let mut ops_stop = stop_rx.clone();
    let runs_handle = runs.clone();
    let join = tokio::spawn(async move {
        let webhooks = axum::serve(listener, webhook_router).with_graceful_shutdown(async move {
            let _ = server_stop.wait_for(|stopped| *stopped).await;
        });
        let operations = axum::serve(ops_listener, ops_router).with_graceful_shutdown(async move {
            let _ = ops_stop.wait_for(|stopped| *stopped).await;
        });
        let (webhooks, operations) = tokio::join!(webhooks.into_future(), operations.into_future());
        let served = webhooks
            .context("the webhook listener failed")
            .and(operations.context("the operations listener failed"));
        queue.shutdown();
        let _ = queue_join.await;
        // After the queue: a handler finishing in the grace period may still start a run.
        runs_handle.shutdown();
        let _ = runs_join.await;
        scheduler.shutdown().await;
        if let Some(watch) = job_watch {
            let _ = watch.await;
        }
        served
    });
    tracing::info!(%addr, %ops_addr, "slipway is listening: webhooks on addr, operations on ops_addr");
    // Said once at start (and by /readyz and the status page), not first at a pull request's
    // render: an operator learns here whether renders have a network of their own.
    match crate::render::network_isolation() {
        isolation @ crate::render::NetworkIsolation::Isolated => {
            tracing::info!("{}", isolation.summary())
        }
        isolation => tracing::warn!("{}", isolation.summary()),
    }
    Ok(RunningServer {
        addr,
        ops_addr,
        store,
        metrics,
        runs,
        stop,
        join,
    })
}

/// Every cluster the settings name, each connected (no request is made: a cluster that is down
/// is still known, and its deploys wait for it), and the one builds run on. A `CLUSTERS` that
/// cannot be used, or a `BUILD_CLUSTER` it does not name, stops start-up.
async fn connect_clusters(
    default: ClusterChoice,
    settings: &Settings,
) -> anyhow::Result<(ClusterAccess, DeployClusters)> {
    let named = crate::cluster::ClusterSettings::load(
        settings.kubeconfig.as_deref(),
        settings.clusters.as_deref(),
    )?;
    let known = named.known();
    if let Some(refusal) = known.refusal(&settings.build_cluster) {
        anyhow::bail!("BUILD_CLUSTER: {refusal}");
    }
    let mut deploy = Vec::new();
    let mut builds = None;
    for source in named.sources() {
        let client = if source.name == crate::config::DEFAULT_CLUSTER {
            match &default {
                ClusterChoice::Client(client) => Ok(client.clone()),
                ClusterChoice::Unavailable(reason) => Err(reason.clone()),
                ClusterChoice::Infer => source.connect().await.map_err(|err| err.to_string()),
            }
        } else {
            source.connect().await.map_err(|err| err.to_string())
        };
        if let Err(reason) = &client {
            tracing::warn!(cluster = %source.name, reason, "no deploys (or builds) can run on this cluster");
        }
        if source.name == settings.build_cluster {
            builds = Some(match &client {
                Ok(client) => ClusterAccess::Ready(BuildCluster::new(
                    client.clone(),
                    &settings.build.namespace,
                )),
                Err(reason) => ClusterAccess::Unavailable(reason.clone()),
            });
        }
        let access = match client {
            Ok(client) => DeployAccess::Ready(crate::cluster::Deployer::new(client)),
            Err(reason) => DeployAccess::Unavailable(reason),
        };
        // A cluster of CLUSTERS whose client could not be made (its exec plugin failed, say)
        // is tried again when a deploy or `/readyz` needs it; `default` without one is a
        // slipway without a cluster, as it always was.
        let retry = (source.name != crate::config::DEFAULT_CLUSTER).then(|| source.clone());
        deploy.push((source.name.clone(), access, retry));
    }
    let builds = builds.unwrap_or_else(|| {
        ClusterAccess::Unavailable(format!("no cluster `{}`", settings.build_cluster))
    });
    tracing::info!(clusters = ?known.names(), build_cluster = %settings.build_cluster, "clusters");
    Ok((builds, DeployClusters::new(deploy)))
}

/// What whoever can reach the webhook URL gets: webhook ingress, the setup flow (which answers
/// 404 once the App exists) and liveness. Everything else is a 404.
fn webhook_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/github/webhooks", post(ingress::receive))
        .route("/", get(setup::root))
        .route("/setup", get(setup::start))
        .route("/setup/callback", get(setup::callback))
        .route("/healthz", get(ops::healthz))
        .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BODY))
        .with_state(state)
}

/// The operations listener: the status page and deploy history, readiness, metrics.
fn ops_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(ops::home))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .with_state(state)
}

/// The missed-delivery scan: at start-up, every `recovery.interval`, and at once when the setup
/// flow installs credentials; without credentials there is nothing to scan with.
fn missed_delivery_job(
    github: GitHub,
    store: Store,
    metrics: Arc<Metrics>,
    recovery: RecoveryConfig,
    credentials_arrived: Arc<Notify>,
) -> Job {
    let interval = recovery.interval;
    Job::new("missed-delivery-scan", interval, move || {
        let (github, store, metrics, recovery) = (
            github.clone(),
            store.clone(),
            metrics.clone(),
            recovery.clone(),
        );
        async move {
            if github.credentials().get().is_none() {
                return Ok(());
            }
            missed_deliveries::scan_and_count(&github, &store, &metrics, &recovery)
                .await
                .context("missed-delivery scan failed")?;
            Ok(())
        }
    })
    .triggered_by(credentials_arrived)
}

/// Deletes finished deliveries older than the retention, at start-up and then hourly, so the
/// database stays the size of the last few weeks of webhooks. `None` when everything is kept.
fn retention_job(store: Store, retention_days: u32) -> Option<Job> {
    if retention_days == 0 {
        return None;
    }
    let retention = Duration::from_secs(u64::from(retention_days) * 24 * 60 * 60);
    Some(Job::new(
        "delivery-retention",
        Duration::from_secs(60 * 60),
        move || {
            let store = store.clone();
            async move {
                let before = crate::store::now_millis() - retention.as_millis() as i64;
                let pruned = store
                    .prune_finished(before)
                    .await
                    .context("cannot prune old deliveries")?;
                if pruned > 0 {
                    tracing::info!(
                        pruned,
                        retention_days,
                        "finished deliveries past the retention deleted"
                    );
                }
                Ok(())
            }
        },
    ))
}

/// How long a setup `state` stays valid: GitHub's manifest codes last an hour too.
const SETUP_STATE_TTL: Duration = Duration::from_secs(60 * 60);

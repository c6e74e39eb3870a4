//! Logs (tracing, JSON when `LOG_FORMAT=json`) and the Prometheus metrics every part reports to.
//!
//! Each server owns its own `Metrics` registry rather than a process-global one, so two servers in
//! one process (tests) never see each other's counts.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::IsTerminal;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Installs the global tracing subscriber. Safe to call more than once (later calls are no-ops).
pub fn init_logging(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        // A line that cannot be written (whoever read stderr went away) is dropped. Reporting
        // it would `eprintln!` to that same stderr, which panics the task that logged: the
        // SIGTERM handler logs before it stops the server, and slipway would never stop.
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Colour codes only for a person at a terminal: in a file, a pipe or a log collector they are
/// noise around every field. `NO_COLOR` set to anything but the empty string turns them off
/// (<https://no-color.org>).
fn use_colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub event: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub event: String,
    /// The failure's kind (`crate::failure::FailureKind::label`).
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GitHubRequestLabels {
    pub endpoint: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RateLimitLabels {
    pub resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    pub kind: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterOutcomeLabels {
    pub cluster: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    pub cluster: String,
}

/// Every metric slipway exports, registered once per server.
pub struct Metrics {
    registry: Registry,
    /// Webhooks received, by event and what ingress did with them.
    pub deliveries_received: Family<DeliveryLabels, Counter>,
    /// Handler run time, by event and outcome (done, retry, failed).
    pub delivery_processing: Family<DeliveryLabels, Histogram>,
    /// Deliveries waiting to be processed (pending, including those backing off).
    pub queue_depth: Gauge,
    /// Handler attempts that failed and were scheduled again.
    pub delivery_retries: Family<EventLabels, Counter>,
    /// Handler attempts that failed, by event and kind of failure (retried or not).
    pub delivery_failures: Family<FailureLabels, Counter>,
    /// Requests to GitHub, by endpoint template and HTTP status (or `error` without one).
    pub github_requests: Family<GitHubRequestLabels, Counter>,
    /// The last `x-ratelimit-remaining` GitHub reported, by rate-limit resource.
    pub github_rate_limit_remaining: Family<RateLimitLabels, Gauge>,
    /// Scans of GitHub's delivery log for missed deliveries, by outcome.
    pub missed_delivery_scans: Family<OutcomeLabels, Counter>,
    /// Redeliveries slipway asked GitHub for, by outcome.
    pub missed_delivery_redeliveries: Family<OutcomeLabels, Counter>,
    /// Runs that finished, by kind and outcome (succeeded, failed, timed_out, cancelled).
    pub runs: Family<RunLabels, Counter>,
    /// Runs pending, running or waiting, by kind.
    pub runs_active: Family<KindLabels, Gauge>,
    /// Deploys that finished, by cluster and outcome (`succeeded`, `apply_failed`, …).
    pub deploys: Family<ClusterOutcomeLabels, Counter>,
    /// Deploy steps that found their cluster unreachable (or refusing slipway), by cluster.
    pub cluster_unreachable: Family<ClusterLabels, Counter>,
    /// Drift checks, by cluster and finding (`in_sync`, `drift`, `healing`,
    /// `cluster_unreachable`).
    pub drift_checks: Family<ClusterOutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("slipway");
        let deliveries_received = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "webhook_deliveries_received",
            "Webhook deliveries received, by event and outcome",
            deliveries_received.clone(),
        );
        let delivery_processing = Family::<DeliveryLabels, Histogram>::new_with_constructor(
            processing_histogram as fn() -> Histogram,
        );
        registry.register(
            "delivery_processing_seconds",
            "Time spent handling one delivery attempt, by event and outcome",
            delivery_processing.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Deliveries waiting to be processed",
            queue_depth.clone(),
        );
        let delivery_retries = Family::<EventLabels, Counter>::default();
        registry.register(
            "delivery_retries",
            "Delivery attempts that failed and were scheduled again",
            delivery_retries.clone(),
        );
        let delivery_failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "delivery_failures",
            "Delivery attempts that failed, by event and kind of failure",
            delivery_failures.clone(),
        );
        let github_requests = Family::<GitHubRequestLabels, Counter>::default();
        registry.register(
            "github_requests",
            "Requests to the GitHub API, by endpoint and status",
            github_requests.clone(),
        );
        let github_rate_limit_remaining = Family::<RateLimitLabels, Gauge>::default();
        registry.register(
            "github_rate_limit_remaining",
            "Requests left in the current GitHub rate-limit window",
            github_rate_limit_remaining.clone(),
        );
        let missed_delivery_scans = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "missed_delivery_scans",
            "Scans of the App's delivery log for deliveries slipway never stored",
            missed_delivery_scans.clone(),
        );
        let missed_delivery_redeliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "missed_delivery_redeliveries",
            "Redeliveries requested from GitHub, by outcome",
            missed_delivery_redeliveries.clone(),
        );
        let runs = Family::<RunLabels, Counter>::default();
        registry.register(
            "runs",
            "Runs that finished, by kind and outcome",
            runs.clone(),
        );
        let runs_active = Family::<KindLabels, Gauge>::default();
        registry.register(
            "runs_active",
            "Runs pending, running or waiting, by kind",
            runs_active.clone(),
        );
        let deploys = Family::<ClusterOutcomeLabels, Counter>::default();
        registry.register(
            "deploys",
            "Deploys that finished, by cluster and outcome",
            deploys.clone(),
        );
        let cluster_unreachable = Family::<ClusterLabels, Counter>::default();
        registry.register(
            "cluster_unreachable",
            "Deploy steps that found their cluster unreachable or refusing slipway, by cluster",
            cluster_unreachable.clone(),
        );
        let drift_checks = Family::<ClusterOutcomeLabels, Counter>::default();
        registry.register(
            "drift_checks",
            "Drift checks, by cluster and finding",
            drift_checks.clone(),
        );
        Metrics {
            registry,
            deploys,
            cluster_unreachable,
            drift_checks,
            deliveries_received,
            delivery_processing,
            queue_depth,
            delivery_retries,
            delivery_failures,
            github_requests,
            github_rate_limit_remaining,
            missed_delivery_scans,
            missed_delivery_redeliveries,
            runs,
            runs_active,
        }
    }

    pub fn count_delivery(&self, event: &str, outcome: &str) {
        self.deliveries_received
            .get_or_create(&DeliveryLabels {
                event: event.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn count_outcome(family: &Family<OutcomeLabels, Counter>, outcome: &str) {
        family
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn count_run(&self, kind: &str, outcome: &str) {
        self.runs
            .get_or_create(&RunLabels {
                kind: kind.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Counts `outcome` of cluster `cluster` in `family`.
    pub fn count_cluster(
        family: &Family<ClusterOutcomeLabels, Counter>,
        cluster: &str,
        outcome: &str,
    ) {
        family
            .get_or_create(&ClusterOutcomeLabels {
                cluster: cluster.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// The Prometheus/OpenMetrics text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            let _ = writeln!(text, "# metrics could not be encoded");
        }
        text
    }
}

fn processing_histogram() -> Histogram {
    // 1 ms to about 65 s: from a no-op handler to a large render and a slow GitHub.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_at_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, None));
    }
}

//! Missed deliveries: GitHub never redelivers on its own, so slipway reads the App's delivery log
//! and asks for those that failed and that it never stored. Bounded per scan, idempotent across
//! scans (each GUID is asked for once), and harmless when GitHub is unreachable.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use http::Method;
use serde::Deserialize;

use crate::github::{Auth, GitHub, GitHubError};
use crate::store::Store;
use crate::telemetry::Metrics;
use crate::webhook::HANDLED_EVENTS;

#[derive(Debug, Clone)]
pub struct RecoveryConfig {
    /// How often the scheduler scans.
    pub interval: Duration,
    /// Pages of 100 deliveries read per scan.
    pub max_pages: usize,
    /// Redeliveries requested per scan.
    pub max_redeliveries: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            interval: Duration::from_secs(10 * 60),
            max_pages: 10,
            max_redeliveries: 50,
        }
    }
}

/// One item of `GET /app/hook/deliveries`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct HookDelivery {
    pub id: i64,
    pub guid: String,
    pub status: String,
    #[serde(default)]
    pub event: String,
}

/// What one scan did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    pub seen: usize,
    pub requested: Vec<String>,
    pub failed_requests: usize,
}

/// The deliveries to ask for again: one id (the latest) per GUID that has no successful attempt,
/// concerns an event slipway handles, is not stored, and was not asked for before; at most `limit`.
pub fn plan_redeliveries(
    items: &[HookDelivery],
    stored: &HashSet<String>,
    requested: &HashSet<String>,
    limit: usize,
) -> Vec<(String, i64)> {
    let mut by_guid: BTreeMap<&str, (bool, i64, &str)> = BTreeMap::new();
    for item in items {
        let entry =
            by_guid
                .entry(item.guid.as_str())
                .or_insert((false, item.id, item.event.as_str()));
        entry.0 |= item.status == "OK";
        entry.1 = entry.1.max(item.id);
    }
    let mut plan: Vec<(String, i64)> = by_guid
        .into_iter()
        .filter(|(guid, (delivered, _, event))| {
            !delivered
                && HANDLED_EVENTS.contains(event)
                && !stored.contains(*guid)
                && !requested.contains(*guid)
        })
        .map(|(guid, (_, id, _))| (guid.to_string(), id))
        .collect();
    // Oldest first: they are closest to GitHub's three-day redelivery horizon.
    plan.sort_by_key(|(_, id)| *id);
    plan.truncate(limit);
    plan
}

/// Reads the delivery log and requests the redeliveries `plan_redeliveries` picks.
pub async fn scan_once(
    github: &GitHub,
    store: &Store,
    metrics: &Metrics,
    config: &RecoveryConfig,
) -> Result<ScanReport, GitHubError> {
    let mut items: Vec<HookDelivery> = Vec::new();
    let mut path = Some("/app/hook/deliveries?per_page=100".to_string());
    let mut pages = 0;
    while let Some(current) = path.take() {
        if pages == config.max_pages {
            break;
        }
        pages += 1;
        let response = github
            .request(Method::GET, Auth::App, &current, None)
            .await?;
        let page: Vec<HookDelivery> = response.json("GET /app/hook/deliveries")?;
        if page.is_empty() {
            break;
        }
        items.extend(page);
        path = response.next_page(github.api_url());
    }

    let guids: Vec<String> = items
        .iter()
        .map(|item| item.guid.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let store_error = |err: crate::store::StoreError| GitHubError::Transport {
        endpoint: "store".to_string(),
        message: err.to_string(),
    };
    let stored: HashSet<String> = store
        .stored_ids(&guids)
        .await
        .map_err(store_error)?
        .into_iter()
        .collect();
    let mut requested = HashSet::new();
    for guid in &guids {
        if store
            .redelivery_requested(guid)
            .await
            .map_err(store_error)?
        {
            requested.insert(guid.clone());
        }
    }

    let mut report = ScanReport {
        seen: items.len(),
        ..ScanReport::default()
    };
    for (guid, id) in plan_redeliveries(&items, &stored, &requested, config.max_redeliveries) {
        let path = format!("/app/hook/deliveries/{id}/attempts");
        match github.request(Method::POST, Auth::App, &path, None).await {
            Ok(_) => {
                store
                    .record_redelivery(&guid, id)
                    .await
                    .map_err(store_error)?;
                Metrics::count_outcome(&metrics.missed_delivery_redeliveries, "requested");
                tracing::info!(delivery_id = %guid, github_delivery = id, "asked GitHub to redeliver a missed delivery");
                report.requested.push(guid);
            }
            Err(err) => {
                Metrics::count_outcome(&metrics.missed_delivery_redeliveries, "error");
                tracing::warn!(delivery_id = %guid, error = %err, "GitHub refused a redelivery; asking again next scan");
                report.failed_requests += 1;
                if err.retry_after().is_some() {
                    break;
                }
            }
        }
    }
    Ok(report)
}

/// One scan, as the scheduler runs it every `config.interval`: counted in the metrics by outcome.
/// GitHub being unreachable is the caller's to log; it is never fatal.
pub async fn scan_and_count(
    github: &GitHub,
    store: &Store,
    metrics: &Metrics,
    config: &RecoveryConfig,
) -> Result<ScanReport, GitHubError> {
    let scanned = scan_once(github, store, metrics, config).await;
    match &scanned {
        Ok(report) => {
            Metrics::count_outcome(&metrics.missed_delivery_scans, "ok");
            tracing::info!(
                seen = report.seen,
                requested = report.requested.len(),
                "missed-delivery scan done"
            );
        }
        Err(_) => Metrics::count_outcome(&metrics.missed_delivery_scans, "error"),
    }
    scanned
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, guid: &str, status: &str, event: &str) -> HookDelivery {
        HookDelivery {
            id,
            guid: guid.to_string(),
            status: status.to_string(),
            event: event.to_string(),
        }
    }

    #[test]
    fn a_guid_with_a_successful_attempt_is_not_redelivered() {
        let items = [
            item(1, "a", "Invalid HTTP Response: 503", "push"),
            item(2, "a", "OK", "push"),
        ];
        assert!(plan_redeliveries(&items, &HashSet::new(), &HashSet::new(), 10).is_empty());
    }

    #[test]
    fn the_latest_failed_attempt_is_redelivered_once() {
        let items = [
            item(1, "a", "timed out", "push"),
            item(5, "a", "timed out", "push"),
        ];
        assert_eq!(
            plan_redeliveries(&items, &HashSet::new(), &HashSet::new(), 10),
            vec![("a".to_string(), 5)]
        );
        let requested = HashSet::from(["a".to_string()]);
        assert!(plan_redeliveries(&items, &HashSet::new(), &requested, 10).is_empty());
    }

    #[test]
    fn stored_deliveries_and_unhandled_events_are_skipped() {
        let items = [
            item(1, "stored", "502", "push"),
            item(2, "star", "502", "star"),
            item(3, "lost", "502", "pull_request"),
        ];
        let stored = HashSet::from(["stored".to_string()]);
        assert_eq!(
            plan_redeliveries(&items, &stored, &HashSet::new(), 10),
            vec![("lost".to_string(), 3)]
        );
    }

    #[test]
    fn a_scan_asks_for_at_most_the_limit() {
        let items: Vec<HookDelivery> = (0..20)
            .map(|n| item(n, &format!("g{n}"), "502", "push"))
            .collect();
        assert_eq!(
            plan_redeliveries(&items, &HashSet::new(), &HashSet::new(), 5).len(),
            5
        );
    }
}

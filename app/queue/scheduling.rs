//! Which pending deliveries may start now: the pure core of the dispatcher.

use std::collections::HashSet;

use crate::store::DeliveryRow;

/// The plan for one dispatch round.
#[derive(Debug, PartialEq, Eq)]
pub struct Selection {
    /// Indexes into the candidates, in arrival order.
    pub start: Vec<usize>,
    /// The earliest `next_attempt_at` among candidates that are not due yet.
    pub next_due_at: Option<i64>,
}

/// Picks up to `free` deliveries among `candidates` (pending, in arrival order) that may start at
/// `now`. A delivery waits while one with the same ordering key is running (`busy_keys`) or while an
/// earlier one with its key is still pending, so one pull request's or branch's events run in order.
pub fn select_runnable(
    candidates: &[DeliveryRow],
    busy_keys: &HashSet<String>,
    now: i64,
    free: usize,
) -> Selection {
    let mut blocked: HashSet<&str> = busy_keys.iter().map(String::as_str).collect();
    let mut start = Vec::new();
    let mut next_due_at: Option<i64> = None;
    for (index, row) in candidates.iter().enumerate() {
        let key = row.ordering_key.as_deref();
        if key.is_some_and(|key| blocked.contains(key)) {
            continue;
        }
        if row.next_attempt_at > now {
            next_due_at =
                Some(next_due_at.map_or(row.next_attempt_at, |t| t.min(row.next_attempt_at)));
        } else if start.len() < free {
            start.push(index);
        }
        // Whether it starts, waits for its time, or waits for a slot: later ones with its key wait.
        if let Some(key) = key {
            blocked.insert(key);
        }
    }
    Selection { start, next_due_at }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, key: Option<&str>, next_attempt_at: i64) -> DeliveryRow {
        DeliveryRow {
            seq,
            id: format!("d{seq}"),
            event: "pull_request".to_string(),
            action: None,
            ordering_key: key.map(str::to_string),
            attempts: 0,
            next_attempt_at,
        }
    }

    #[test]
    fn different_keys_run_in_parallel() {
        let rows = [
            row(1, Some("a#1"), 0),
            row(2, Some("a#2"), 0),
            row(3, None, 0),
        ];
        let selection = select_runnable(&rows, &HashSet::new(), 10, 4);
        assert_eq!(selection.start, vec![0, 1, 2]);
    }

    #[test]
    fn same_key_runs_one_at_a_time_in_order() {
        let rows = [
            row(1, Some("a#1"), 0),
            row(2, Some("a#1"), 0),
            row(3, Some("a#2"), 0),
        ];
        let selection = select_runnable(&rows, &HashSet::new(), 10, 4);
        assert_eq!(selection.start, vec![0, 2]);
    }

    #[test]
    fn a_running_key_blocks_its_pending_successors() {
        let rows = [row(2, Some("a#1"), 0), row(3, Some("a#2"), 0)];
        let busy = HashSet::from(["a#1".to_string()]);
        assert_eq!(select_runnable(&rows, &busy, 10, 4).start, vec![1]);
    }

    #[test]
    fn a_delivery_backing_off_holds_back_later_ones_of_its_key() {
        let rows = [
            row(1, Some("a#1"), 500),
            row(2, Some("a#1"), 0),
            row(3, Some("b#1"), 0),
        ];
        let selection = select_runnable(&rows, &HashSet::new(), 10, 4);
        assert_eq!(selection.start, vec![2]);
        assert_eq!(selection.next_due_at, Some(500));
    }

    #[test]
    fn no_more_than_the_free_slots_start() {
        let rows = [row(1, None, 0), row(2, None, 0), row(3, None, 0)];
        assert_eq!(
            select_runnable(&rows, &HashSet::new(), 10, 2).start,
            vec![0, 1]
        );
    }
}

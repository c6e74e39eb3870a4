//! One lane per config repo: the orders waiting to be committed there, and whether someone is
//! committing them. The first order into an idle lane makes its caller start the lane's
//! leader; orders that arrive while the leader commits wait and go into its next commit
//! together. One writer per repository is what keeps fifty concurrent builds from livelocking
//! on the default branch: they coalesce instead of racing.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::oneshot;

use super::{batch, BumpFailure, BumpLanded, BumpOrder};

/// An order and where its answer goes.
pub(super) struct Waiter {
    pub order: BumpOrder,
    /// The installation of the App on the order's config repo.
    pub installation: i64,
    pub reply: oneshot::Sender<Result<BumpLanded, BumpFailure>>,
}

impl Waiter {
    pub fn answer(self, result: Result<BumpLanded, BumpFailure>) {
        // The caller may have stopped waiting; the bump stands either way.
        let _ = self.reply.send(result);
    }
}

#[derive(Default)]
pub(super) struct Lane {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Waiter>,
    /// A leader is landing this lane's orders.
    busy: bool,
}

impl Lane {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `waiter`; true when the lane was idle, so the caller must start its leader.
    pub fn push(&self, waiter: Waiter) -> bool {
        let mut state = self.state();
        state.waiting.push_back(waiter);
        let start = !state.busy;
        state.busy = true;
        start
    }

    /// The orders of the next commit ([`batch::select`]); none means the lane is idle again
    /// and its leader stops (the next order starts a new one).
    pub fn next_batch(&self, max: usize) -> Vec<Waiter> {
        let mut state = self.state();
        let keys: Vec<(&str, &str)> = state
            .waiting
            .iter()
            .map(|w| (w.order.environment.as_str(), w.order.image.as_str()))
            .collect();
        let chosen = batch::select(&keys, max);
        let mut taken = Vec::with_capacity(chosen.len());
        let mut kept = VecDeque::with_capacity(state.waiting.len() - chosen.len());
        for (index, waiter) in state.waiting.drain(..).enumerate() {
            if chosen.contains(&index) {
                taken.push(waiter);
            } else {
                kept.push_back(waiter);
            }
        }
        state.waiting = kept;
        if taken.is_empty() {
            state.busy = false;
        }
        taken
    }

    /// Puts orders back at the front, in their order: they go into the next commit.
    pub fn requeue(&self, waiters: Vec<Waiter>) {
        let mut state = self.state();
        for waiter in waiters.into_iter().rev() {
            state.waiting.push_front(waiter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::RepoRef;
    use crate::pipelines::bumps::SourceCommit;

    fn waiter(image: &str) -> (Waiter, oneshot::Receiver<Result<BumpLanded, BumpFailure>>) {
        let (reply, receiver) = oneshot::channel();
        let order = BumpOrder {
            config_repo: RepoRef::new("acme", "config"),
            environment: "dev".into(),
            image: image.into(),
            tag: "abc".into(),
            digest: None,
            source: SourceCommit {
                repo: RepoRef::new("acme", "app"),
                sha: "abc".into(),
                url: "https://github.com/acme/app/commit/abc".into(),
            },
            requested_by: None,
        };
        (
            Waiter {
                order,
                installation: 1,
                reply,
            },
            receiver,
        )
    }

    #[test]
    fn the_first_order_starts_the_leader_and_later_ones_wait_for_its_next_commit() {
        let lane = Lane::default();
        let (api, _a) = waiter("team/api");
        let (web, _b) = waiter("team/web");
        let (api_again, _c) = waiter("team/api");
        assert!(lane.push(api), "an idle lane needs a leader");
        assert!(!lane.push(web), "a busy lane has one");
        assert!(!lane.push(api_again));

        let images = |batch: &[Waiter]| -> Vec<String> {
            batch.iter().map(|w| w.order.image.clone()).collect()
        };
        let first = lane.next_batch(10);
        assert_eq!(images(&first), ["team/api", "team/web"]);
        let second = lane.next_batch(10);
        assert_eq!(images(&second), ["team/api"]);
        lane.requeue(second);
        assert_eq!(images(&lane.next_batch(10)), ["team/api"]);
        assert!(lane.next_batch(10).is_empty());
        let (late, _d) = waiter("team/late");
        assert!(
            lane.push(late),
            "the leader stopped: the next order starts another"
        );
    }
}

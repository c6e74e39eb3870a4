//! What the approval gate needs to know of a pull request that its reviews do not say, taken
//! from GitHub's webhooks as they arrive: who pushed to its head (`opened`, `reopened` and
//! `synchronize` carry the pusher as `sender`) and when its base branch changed (`edited`
//! with `changes.base`). Recorded for every pull request of every repository: the record must
//! exist before anyone knows the pull request will deploy.

use crate::queue::{Delivery, HandlerError};
use crate::store::{now_millis, ParticipantRole};
use crate::webhook::PullRequestEvent;

use super::gate::rfc3339_millis;
use super::Deploys;

/// The `pull_request` actions whose `sender` pushed to the head.
pub const PUSH_ACTIONS: [&str; 3] = ["opened", "reopened", "synchronize"];

impl Deploys {
    /// Records the pusher of an `opened`, `reopened` or `synchronize`, or the time of a base
    /// change of an `edited`. Idempotent: a redelivery records nothing new.
    pub(crate) async fn on_pull_activity(
        &self,
        delivery: &Delivery,
        event: &PullRequestEvent,
    ) -> Result<(), HandlerError> {
        let repo = event.repository.full_name.to_string();
        let number = event.number.0;
        let store = &self.inner.store;
        if PUSH_ACTIONS.contains(&event.action.as_str()) {
            let Some(sender) = &event.sender else {
                tracing::warn!(delivery = %delivery.id, repo, number, "a push to a pull request without a sender: nobody recorded");
                return Ok(());
            };
            store
                .record_pull_participant(&repo, number, &sender.login, ParticipantRole::Pusher)
                .await?;
        } else if event.action == "edited" && event.base_changed {
            // The payload's time is the change's (a redelivery days later must not move it);
            // without one, the arrival, later still, so a review in between is ignored.
            let changed_at = event
                .updated_at
                .as_deref()
                .and_then(rfc3339_millis)
                .map_or_else(now_millis, |at| at.max(0));
            tracing::info!(delivery = %delivery.id, repo, number, base = %event.base.git_ref, "base branch changed: earlier approvals no longer count");
            store
                .record_pull_base_change(&repo, number, changed_at)
                .await?;
        }
        Ok(())
    }
}

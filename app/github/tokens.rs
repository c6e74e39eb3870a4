//! Installation tokens, cached per installation until five minutes before they expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use time::OffsetDateTime;

/// Refresh this long before GitHub's expiry, so no request starts with a token about to lapse.
const REFRESH_MARGIN_SECS: i64 = 5 * 60;

#[derive(Clone, Deserialize)]
pub struct InstallationToken {
    pub token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for InstallationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallationToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl InstallationToken {
    pub fn is_fresh(&self, now: OffsetDateTime) -> bool {
        self.expires_at.unix_timestamp() - now.unix_timestamp() > REFRESH_MARGIN_SECS
    }
}

/// One slot per installation; the async mutex inside makes concurrent callers share one fetch.
pub(super) type TokenSlot = Arc<tokio::sync::Mutex<Option<InstallationToken>>>;

#[derive(Default)]
pub(super) struct TokenCache {
    slots: Mutex<HashMap<i64, TokenSlot>>,
}

impl TokenCache {
    pub(super) fn slot(&self, installation_id: i64) -> TokenSlot {
        let mut slots = match self.slots.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        slots.entry(installation_id).or_default().clone()
    }
}

//! The App-manifest flow's last step: trading GitHub's one-time code for the new App's credentials.

use serde::Deserialize;

/// What `POST /app-manifests/{code}/conversions` returns (the fields slipway keeps).
#[derive(Clone, Deserialize)]
pub struct ManifestConversion {
    pub id: u64,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    pub webhook_secret: String,
    pub pem: String,
}

impl std::fmt::Debug for ManifestConversion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManifestConversion")
            .field("id", &self.id)
            .field("slug", &self.slug)
            .finish_non_exhaustive()
    }
}

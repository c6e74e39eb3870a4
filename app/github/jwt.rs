//! The App's own JWT (RS256), used for App-level endpoints and to mint installation tokens.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::GitHubError;

#[derive(Serialize)]
struct Claims {
    iat: i64,
    exp: i64,
    iss: String,
}

/// A JWT valid from a minute ago (GitHub's clock may lag ours) for nine minutes (GitHub caps at ten).
pub fn app_jwt(app_id: u64, key: &EncodingKey, now_secs: i64) -> Result<String, GitHubError> {
    let claims = Claims {
        iat: now_secs - 60,
        exp: now_secs + 9 * 60,
        iss: app_id.to_string(),
    };
    encode(&Header::new(Algorithm::RS256), &claims, key)
        .map_err(|err| GitHubError::Auth(format!("cannot sign the App JWT: {err}")))
}

//! The one GitHub client facade. octocrab provides the HTTP stack (hyper, rustls, timeouts);
//! this facade adds what slipway needs on every call: the right credential, rate-limit
//! handling, a single token refresh on 401, and per-endpoint request metrics.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LINK};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;
use url::Url;

use super::tokens::TokenCache;
use super::{
    app_jwt, endpoint_label, GitHubError, InstallationToken, ManifestConversion, SharedCredentials,
};
use crate::telemetry::{GitHubRequestLabels, Metrics, RateLimitLabels};

/// Which credential a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No credential (the manifest conversion is authorised by its one-time code).
    None,
    /// The App's JWT: App-level endpoints.
    App,
    /// An installation token: everything done on a repository.
    Installation(i64),
}

/// How long the client itself waits on a rate limit before handing the wait to the queue.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Waits up to this long are slept through in place; longer ones become `RateLimited`.
    pub max_inline_wait: Duration,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// First wait on a secondary rate limit without `retry-after` (GitHub asks for at least a minute).
    pub secondary_backoff: Duration,
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_inline_wait: Duration::from_secs(10),
            max_attempts: 3,
            secondary_backoff: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A successful (2xx) answer.
#[derive(Debug, Clone)]
pub struct GitHubResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl GitHubResponse {
    pub fn json<T: DeserializeOwned>(&self, endpoint: &str) -> Result<T, GitHubError> {
        serde_json::from_slice(&self.body).map_err(|err| GitHubError::Decode {
            endpoint: endpoint.to_string(),
            message: err.to_string(),
        })
    }

    /// The path and query of the `Link: <…>; rel="next"` page, relative to the API root.
    pub fn next_page(&self, api: &Url) -> Option<String> {
        let link = self.headers.get(LINK)?.to_str().ok()?;
        let next = link.split(',').find(|part| part.contains("rel=\"next\""))?;
        let url = next
            .split(';')
            .next()?
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        let url = Url::parse(url).ok()?;
        // Follow by path: octocrab attaches credentials only to the configured host.
        let base_path = api.path().trim_end_matches('/');
        let path = url.path().strip_prefix(base_path).unwrap_or(url.path());
        Some(match url.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_string(),
        })
    }
}

#[derive(Clone)]
pub struct GitHub {
    inner: Arc<Inner>,
}

struct Inner {
    http: Octocrab,
    api: Url,
    credentials: SharedCredentials,
    tokens: TokenCache,
    jwt: Mutex<Option<(String, i64)>>,
    metrics: Arc<Metrics>,
    policy: RetryPolicy,
}

struct RawResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl GitHub {
    pub fn new(
        api: Url,
        credentials: SharedCredentials,
        metrics: Arc<Metrics>,
        policy: RetryPolicy,
    ) -> Result<Self, GitHubError> {
        // Built without octocrab's retry layer: retries are this facade's job, since it knows
        // which are safe and counts them.
        let http = Octocrab::builder()
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(policy.request_timeout))
            .build()
            .map_err(|err| GitHubError::Transport {
                endpoint: "client".to_string(),
                message: err.to_string(),
            })?;
        Ok(GitHub {
            inner: Arc::new(Inner {
                http,
                api,
                credentials,
                tokens: TokenCache::default(),
                jwt: Mutex::new(None),
                metrics,
                policy,
            }),
        })
    }

    pub fn api_url(&self) -> &Url {
        &self.inner.api
    }

    pub fn credentials(&self) -> &SharedCredentials {
        &self.inner.credentials
    }

    /// Sends one request and returns its 2xx answer; every other outcome is a `GitHubError`.
    pub async fn request(
        &self,
        method: Method,
        auth: Auth,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<GitHubResponse, GitHubError> {
        let body = match body {
            Some(value) => Some(Bytes::from(serde_json::to_vec(value).map_err(|err| {
                GitHubError::Decode {
                    endpoint: endpoint_label(method.as_str(), path),
                    message: err.to_string(),
                }
            })?)),
            None => None,
        };
        match auth {
            Auth::None => self.call(&method, None, path, body.as_ref()).await,
            Auth::App => {
                let header = format!("Bearer {}", self.jwt()?);
                self.call(&method, Some(header), path, body.as_ref()).await
            }
            Auth::Installation(id) => {
                let token = self.installation_token(id).await?;
                let first = self
                    .call(
                        &method,
                        Some(format!("token {}", token.token)),
                        path,
                        body.as_ref(),
                    )
                    .await;
                match first {
                    // A revoked or rotated token: refresh once, then let the answer stand.
                    Err(GitHubError::Status { status: 401, .. }) => {
                        self.forget_token(id, &token.token).await;
                        let token = self.installation_token(id).await?;
                        self.call(
                            &method,
                            Some(format!("token {}", token.token)),
                            path,
                            body.as_ref(),
                        )
                        .await
                    }
                    other => other,
                }
            }
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, auth: Auth, path: &str) -> Result<T, GitHubError> {
        let response = self.request(Method::GET, auth, path, None).await?;
        response.json(&endpoint_label("GET", path))
    }

    /// Every item of a list endpoint, following the `Link` header from `first` (which should
    /// ask for `per_page=100`) until the last page, or a page that comes back empty.
    pub(crate) async fn get_all_pages<T: DeserializeOwned>(
        &self,
        auth: Auth,
        first: String,
    ) -> Result<Vec<T>, GitHubError> {
        let mut items = Vec::new();
        let mut path = Some(first);
        while let Some(current) = path.take() {
            let response = self.request(Method::GET, auth, &current, None).await?;
            let page: Vec<T> = response.json(&endpoint_label("GET", &current))?;
            if page.is_empty() {
                break;
            }
            items.extend(page);
            path = response.next_page(self.api_url());
        }
        Ok(items)
    }

    pub async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        auth: Auth,
        path: &str,
        body: &B,
    ) -> Result<T, GitHubError> {
        let endpoint = endpoint_label(method.as_str(), path);
        let value = serde_json::to_value(body).map_err(|err| GitHubError::Decode {
            endpoint: endpoint.clone(),
            message: err.to_string(),
        })?;
        let response = self.request(method, auth, path, Some(&value)).await?;
        response.json(&endpoint)
    }

    /// A token for `installation_id`, from the cache while it has more than five minutes left.
    /// Concurrent callers for one installation share a single token request.
    pub async fn installation_token(
        &self,
        installation_id: i64,
    ) -> Result<InstallationToken, GitHubError> {
        let slot = self.inner.tokens.slot(installation_id);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref() {
            if token.is_fresh(OffsetDateTime::now_utc()) {
                return Ok(token.clone());
            }
        }
        let path = format!("/app/installations/{installation_id}/access_tokens");
        let header = format!("Bearer {}", self.jwt()?);
        let response = self.call(&Method::POST, Some(header), &path, None).await?;
        let token: InstallationToken = response.json(&endpoint_label("POST", &path))?;
        *cached = Some(token.clone());
        Ok(token)
    }

    /// A token that may only read the contents of `repository` (a name within the
    /// installation's account): what a build Job fetches its source with. Not cached: each
    /// build gets its own, and it lapses within the hour.
    pub async fn repository_read_token(
        &self,
        installation_id: i64,
        repository: &str,
    ) -> Result<InstallationToken, GitHubError> {
        let path = format!("/app/installations/{installation_id}/access_tokens");
        let body = serde_json::json!({
            "repositories": [repository],
            "permissions": { "contents": "read" },
        });
        let response = self
            .request(Method::POST, Auth::App, &path, Some(&body))
            .await?;
        response.json(&endpoint_label("POST", &path))
    }

    /// Revokes `token` (`DELETE /installation/token`, authenticated with that very token; 204).
    /// A token GitHub refuses already (401: revoked or expired) is as good as revoked.
    pub async fn revoke_installation_token(&self, token: &str) -> Result<(), GitHubError> {
        let answer = self
            .call(
                &Method::DELETE,
                Some(format!("token {token}")),
                "/installation/token",
                None,
            )
            .await;
        match answer {
            Ok(_) | Err(GitHubError::Status { status: 401, .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Exchanges the App-manifest flow's one-time code for the new App's credentials.
    pub async fn convert_manifest(&self, code: &str) -> Result<ManifestConversion, GitHubError> {
        if code.is_empty()
            || !code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(GitHubError::Auth(
                "the setup code is not of GitHub's form".to_string(),
            ));
        }
        let path = format!("/app-manifests/{code}/conversions");
        let response = self.request(Method::POST, Auth::None, &path, None).await?;
        response.json(&endpoint_label("POST", &path))
    }

    async fn forget_token(&self, installation_id: i64, rejected: &str) {
        let slot = self.inner.tokens.slot(installation_id);
        let mut cached = slot.lock().await;
        // Another caller may already have replaced it; only drop the one GitHub refused.
        if cached.as_ref().is_some_and(|token| token.token == rejected) {
            *cached = None;
        }
    }

    fn jwt(&self) -> Result<String, GitHubError> {
        let credentials = self.inner.credentials.get().ok_or_else(|| {
            GitHubError::Auth("slipway has no GitHub App credentials yet".to_string())
        })?;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut cached = match self.inner.jwt.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((token, issued_at)) = cached.as_ref() {
            // Reuse for five minutes: a JWT signature costs an RSA operation.
            if now - issued_at < 5 * 60 {
                return Ok(token.clone());
            }
        }
        let token = app_jwt(credentials.app_id, &credentials.signing_key, now)?;
        *cached = Some((token.clone(), now));
        Ok(token)
    }

    /// Forgets the cached JWT (the credentials changed).
    pub fn reset_app_jwt(&self) {
        if let Ok(mut cached) = self.inner.jwt.lock() {
            *cached = None;
        }
    }

    /// One logical call with a fixed credential: retries in place while GitHub's rate limit asks
    /// for a short wait, hands longer waits back as `RateLimited`.
    async fn call(
        &self,
        method: &Method,
        authorization: Option<String>,
        path: &str,
        body: Option<&Bytes>,
    ) -> Result<GitHubResponse, GitHubError> {
        let endpoint = endpoint_label(method.as_str(), path);
        let policy = &self.inner.policy;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let raw = self
                .send_once(method, authorization.as_deref(), path, body, &endpoint)
                .await?;
            if raw.status.is_success() {
                return Ok(GitHubResponse {
                    status: raw.status,
                    headers: raw.headers,
                    body: raw.body,
                });
            }
            let message = error_message(&raw.body);
            if let Some(wait) = rate_limit_wait(&raw, &message, attempt, policy.secondary_backoff) {
                if wait <= policy.max_inline_wait && attempt < policy.max_attempts {
                    tracing::warn!(%endpoint, wait_ms = wait.as_millis() as u64, "GitHub rate limit; waiting");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Err(GitHubError::RateLimited {
                    endpoint,
                    retry_after: wait,
                });
            }
            return Err(GitHubError::Status {
                status: raw.status.as_u16(),
                endpoint,
                message,
            });
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        authorization: Option<&str>,
        path: &str,
        body: Option<&Bytes>,
        endpoint: &str,
    ) -> Result<RawResponse, GitHubError> {
        let url = format!("{}{}", self.inner.api.as_str().trim_end_matches('/'), path);
        let mut request = http::Request::builder()
            .method(method.clone())
            .uri(&url)
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let transport = |message: String| GitHubError::Transport {
            endpoint: endpoint.to_string(),
            message,
        };
        let request = request
            .body(body.cloned().unwrap_or_default())
            .map_err(|err| transport(err.to_string()))?;
        let result = tokio::time::timeout(self.inner.policy.request_timeout, async {
            let response = self
                .inner
                .http
                .execute(request)
                .await
                .map_err(|err| transport(err.to_string()))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|err| transport(err.to_string()))?
                .to_bytes();
            Ok::<_, GitHubError>(RawResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        })
        .await
        .unwrap_or_else(|_| {
            Err(GitHubError::Timeout {
                endpoint: endpoint.to_string(),
            })
        });

        let status_label = match &result {
            Ok(raw) => raw.status.as_u16().to_string(),
            Err(_) => "error".to_string(),
        };
        self.inner
            .metrics
            .github_requests
            .get_or_create(&GitHubRequestLabels {
                endpoint: endpoint.to_string(),
                status: status_label,
            })
            .inc();
        if let Ok(raw) = &result {
            self.record_rate_limit(&raw.headers);
        }
        result
    }

    fn record_rate_limit(&self, headers: &HeaderMap) {
        let remaining = header_i64(headers, "x-ratelimit-remaining");
        if let Some(remaining) = remaining {
            let resource = headers
                .get("x-ratelimit-resource")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("core")
                .to_string();
            self.inner
                .metrics
                .github_rate_limit_remaining
                .get_or_create(&RateLimitLabels { resource })
                .set(remaining);
        }
    }
}

fn header_i64(headers: &HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// GitHub's `message`, followed by the messages of its `errors` list when there are any
/// (a 422 "Validation Failed" says what failed only there).
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: Option<String>,
        #[serde(default)]
        errors: Vec<serde_json::Value>,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody {
            message: Some(message),
            errors,
        }) => {
            let details: Vec<String> = errors
                .iter()
                .filter_map(|error| match error {
                    serde_json::Value::String(text) => Some(text.clone()),
                    other => other
                        .get("message")
                        .and_then(|m| m.as_str())
                        .map(str::to_string)
                        .or_else(|| {
                            let field = other.get("field")?.as_str()?;
                            let code = other.get("code")?.as_str()?;
                            Some(format!("{field} {code}"))
                        }),
                })
                .collect();
            if details.is_empty() {
                message
            } else {
                format!("{message}: {}", details.join("; "))
            }
        }
        _ => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

/// How long GitHub wants us to wait, when this answer is a rate limit (primary or secondary).
fn rate_limit_wait(
    raw: &RawResponse,
    message: &str,
    attempt: u32,
    secondary_backoff: Duration,
) -> Option<Duration> {
    if raw.status != StatusCode::FORBIDDEN && raw.status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    if let Some(seconds) = header_i64(&raw.headers, "retry-after") {
        return Some(Duration::from_secs(seconds.max(0) as u64));
    }
    if header_i64(&raw.headers, "x-ratelimit-remaining") == Some(0) {
        let reset = header_i64(&raw.headers, "x-ratelimit-reset").unwrap_or(0);
        let now = OffsetDateTime::now_utc().unix_timestamp();
        return Some(Duration::from_secs((reset - now).max(1) as u64));
    }
    let secondary = raw.status == StatusCode::TOO_MANY_REQUESTS
        || message.to_ascii_lowercase().contains("rate limit");
    secondary
        .then(|| secondary_backoff.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1))))
}

#[cfg(test)]
mod tests {
    use super::error_message;

    #[test]
    fn validation_errors_carry_their_details() {
        let body = br#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:x."}]}"#;
        assert_eq!(
            error_message(body),
            "Validation Failed: A pull request already exists for acme:x."
        );
        let body = br#"{"message":"Validation Failed","errors":[{"resource":"Issue","field":"title","code":"missing_field"}]}"#;
        assert_eq!(
            error_message(body),
            "Validation Failed: title missing_field"
        );
        assert_eq!(error_message(br#"{"message":"Not Found"}"#), "Not Found");
        assert_eq!(error_message(b"oops"), "oops");
    }
}

//! The setup flow: with no credentials, `/setup` offers to create the GitHub App from `app.yml`
//! (GitHub's App-manifest flow); `/setup/callback` trades the code for credentials, writes them
//! to `.env` (mode 0600) and starts serving webhooks without a restart. Once credentials exist
//! both answer 404.
//!
//! Only whoever can read slipway's log or reach its operations port may start the flow: the
//! setup page asks for a one-time token slipway makes at start-up and shows only there. Without
//! it, anyone who reaches the public URL first could create an App of their own and have
//! slipway trust its webhooks.
//!
//! Each `state` is bound to the browser that was given it: `/setup` sets a cookie holding a
//! random secret stored with the state, and the callback goes on only when the browser presents
//! that cookie. Knowing a `state` (from a log, a shared screen, a Referer) is then not enough to
//! complete someone's flow, and a link to the callback of a flow started elsewhere (an
//! attacker's App manifest) cannot make the operator's browser install that App.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

use super::{AppState, SETUP_STATE_TTL};
use crate::github::ManifestConversion;
pub(super) use crate::report::escape_html;
use crate::settings::{AppCredentials, Settings};

/// The App manifest (`app.yml`), compiled in: name, events and least-privilege permissions.
const APP_MANIFEST: &str = include_str!("../../app.yml");

/// The manifest GitHub receives: `app.yml` with this server's public URLs filled in.
pub fn app_manifest(public_url: &Url) -> anyhow::Result<Value> {
    let mut manifest: Value =
        serde_yaml_ng::from_str(APP_MANIFEST).context("app.yml is not valid YAML")?;
    let base = public_url.as_str().trim_end_matches('/');
    let object = manifest
        .as_object_mut()
        .context("app.yml must be a mapping")?;
    object.insert("url".to_string(), json!(base));
    object.insert(
        "hook_attributes".to_string(),
        json!({ "url": format!("{base}/api/github/webhooks"), "active": true }),
    );
    object.insert(
        "redirect_url".to_string(),
        json!(format!("{base}/setup/callback")),
    );
    Ok(manifest)
}

fn is_valid_login(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 39
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
}

/// The cookie that binds a setup `state` to the browser it was given to.
const BINDING_COOKIE: &str = "slipway_setup";
/// The cookie is sent only to the setup flow's paths.
const BINDING_PATH: &str = "/setup";

/// The secret that opens the setup page, made once per process.
pub(crate) struct SetupToken(String);

impl SetupToken {
    pub(crate) fn new() -> Self {
        SetupToken(hex::encode(rand::random::<[u8; 32]>()))
    }

    fn admits(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|presented| same_secret(presented, &self.0))
    }

    /// The setup page's address with the token: what the log and the operations page show.
    pub(crate) fn link(&self, public_url: &Url) -> String {
        format!("{}?token={}", setup_url(public_url), self.0)
    }
}

/// A `state` handed out and not yet used.
pub(crate) struct PendingSetup {
    made: Instant,
    /// The secret the browser that started the flow holds in its cookie.
    browser: String,
}

/// Where the setup flow starts, on the public URL.
pub(crate) fn setup_url(public_url: &Url) -> String {
    format!("{}/setup", public_url.as_str().trim_end_matches('/'))
}

fn lock_states(state: &AppState) -> std::sync::MutexGuard<'_, HashMap<String, PendingSetup>> {
    match state.setup_states.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A new `state` and the browser secret it is bound to.
fn new_state(state: &AppState) -> (String, String) {
    let token = hex::encode(rand::random::<[u8; 16]>());
    let browser = hex::encode(rand::random::<[u8; 32]>());
    let mut states = lock_states(state);
    states.retain(|_, pending| pending.made.elapsed() < SETUP_STATE_TTL);
    states.insert(
        token.clone(),
        PendingSetup {
            made: Instant::now(),
            browser: browser.clone(),
        },
    );
    (token, browser)
}

/// What a callback's `state` and cookie amount to.
#[derive(Debug, PartialEq, Eq)]
enum Binding {
    /// Issued, live, and presented by the browser it was given to: now spent.
    Accepted,
    /// Never issued, already spent, or expired.
    UnknownState,
    /// Issued, but this browser is not the one that started the flow: left as it was.
    OtherBrowser,
}

fn take_state(state: &AppState, token: &str, cookie: Option<&str>) -> Binding {
    let mut states = lock_states(state);
    let Some(pending) = states.get(token) else {
        return Binding::UnknownState;
    };
    if pending.made.elapsed() >= SETUP_STATE_TTL {
        states.remove(token);
        return Binding::UnknownState;
    }
    let bound = cookie.is_some_and(|presented| same_secret(presented, &pending.browser));
    if !bound {
        return Binding::OtherBrowser;
    }
    states.remove(token);
    Binding::Accepted
}

/// Compares two secrets in time that depends on their lengths only.
fn same_secret(presented: &str, expected: &str) -> bool {
    let (presented, expected) = (presented.as_bytes(), expected.as_bytes());
    if presented.len() != expected.len() {
        return false;
    }
    presented
        .iter()
        .zip(expected)
        .fold(0u8, |differ, (a, b)| differ | (a ^ b))
        == 0
}

/// The value of the binding cookie in a request's `Cookie` headers.
fn binding_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BINDING_COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_string())
}

/// `Set-Cookie` for the binding: HttpOnly (no script reads it), SameSite=Lax (GitHub's
/// redirect back is a top-level GET from another site, which Lax lets through and Strict would
/// not), Secure when the public URL is https, and sent to the setup paths only.
fn binding_cookie_header(public_url: &Url, value: &str, max_age: u64) -> Option<HeaderValue> {
    let secure = if public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{BINDING_COOKIE}={value}; Path={BINDING_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .ok()
}

/// `GET /` on the webhook listener: to the setup page while no App exists, else nothing.
pub(super) async fn root(State(state): State<Arc<AppState>>) -> Response {
    if state.credentials.get().is_some() {
        return StatusCode::NOT_FOUND.into_response();
    }
    Redirect::to(BINDING_PATH).into_response()
}

#[derive(Deserialize)]
pub(super) struct StartQuery {
    org: Option<String>,
    token: Option<String>,
}

/// `GET /setup`: the setup page while no App exists, to whoever has the setup token; else 404.
pub(super) async fn start(
    State(state): State<Arc<AppState>>,
    Query(query): Query<StartQuery>,
) -> Response {
    if state.credentials.get().is_some() {
        return StatusCode::NOT_FOUND.into_response();
    }
    if !state.setup_token.admits(query.token.as_deref()) {
        tracing::warn!("setup page asked for without the setup token: refused");
        return (
            StatusCode::FORBIDDEN,
            Html(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Set up slipway</title></head>\
                 <body style=\"font-family: sans-serif; max-width: 40em; margin: 3em auto\">\
                 <h1>Open the setup link</h1>\
                 <p>slipway has no GitHub App yet. To create it, open the setup link slipway wrote to its log \
                 when it started, or the one on its operations page (setting <code>OPS_PORT</code>). \
                 The link carries a token, so that only slipway's operator can create its App.</p>\
                 </body></html>",
            ),
        )
            .into_response();
    }
    setup_page(&state, query.org.as_deref())
}

/// The page shown at `/setup` until the App exists. `?org=NAME` targets an organisation.
/// Each page load starts a flow of its own, bound to this browser by a cookie.
fn setup_page(state: &AppState, org: Option<&str>) -> Response {
    let manifest = match app_manifest(&state.settings.public_url) {
        Ok(manifest) => manifest.to_string(),
        Err(err) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                crate::failure::chain(err.as_ref()),
            )
                .into_response()
        }
    };
    let org = org.map(str::trim).filter(|o| !o.is_empty());
    if let Some(org) = org {
        if !is_valid_login(org) {
            return (
                StatusCode::BAD_REQUEST,
                format!("{org:?} is not a GitHub organisation name"),
            )
                .into_response();
        }
    }
    let (token, browser) = new_state(state);
    let Some(cookie) = binding_cookie_header(
        &state.settings.public_url,
        &browser,
        SETUP_STATE_TTL.as_secs(),
    ) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let web = state.settings.github_url.as_str().trim_end_matches('/');
    let action = match org {
        Some(org) => format!("{web}/organizations/{org}/settings/apps/new?state={token}"),
        None => format!("{web}/settings/apps/new?state={token}"),
    };
    let owner = match org {
        Some(org) => format!("the organisation <strong>{}</strong>", escape_html(org)),
        None => "your personal account".to_string(),
    };
    let page = Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Set up slipway</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Set up slipway</h1>
<p>slipway runs as a GitHub App. This creates the App on {owner} from slipway's manifest:
its webhook points at <code>{hook}</code> and it asks only for the permissions slipway uses.
GitHub then sends you back here and slipway starts serving at once.</p>
<form action="{action}" method="post">
<input type="hidden" name="manifest" value="{manifest}">
<button type="submit">Create the GitHub App on {owner_plain}</button>
</form>
<form action="/setup" method="get" style="margin-top: 2em">
<input type="hidden" name="token" value="{token}">
<label>Or create it on an organisation: <input name="org" placeholder="organisation"></label>
<button type="submit">Use this organisation</button>
</form>
<p style="color: #555">The public URL is <code>{public}</code> (setting <code>PUBLIC_URL</code>); GitHub must be able to reach it.</p>
</body></html>"#,
        owner = owner,
        owner_plain = escape_html(org.unwrap_or("my account")),
        hook = escape_html(&format!("{}api/github/webhooks", state.settings.public_url)),
        action = escape_html(&action),
        manifest = escape_html(&manifest),
        public = escape_html(state.settings.public_url.as_str()),
        token = escape_html(&state.setup_token.0),
    ));
    ([(header::SET_COOKIE, cookie)], page).into_response()
}

#[derive(Deserialize)]
pub(super) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
}

pub(super) async fn callback(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    if state.credentials.get().is_some() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (Some(code), Some(token)) = (query.code, query.state) else {
        return (
            StatusCode::BAD_REQUEST,
            "the callback needs both code and state",
        )
            .into_response();
    };
    match take_state(&state, &token, binding_cookie(&headers).as_deref()) {
        Binding::Accepted => {}
        Binding::UnknownState => {
            tracing::warn!("setup callback with an unknown or expired state refused");
            return (
                StatusCode::BAD_REQUEST,
                format!(
                    "this setup link is unknown or expired: start again at {}",
                    setup_url(&state.settings.public_url)
                ),
            )
                .into_response();
        }
        Binding::OtherBrowser => {
            tracing::warn!(
                "setup callback refused: the browser is not the one that started this setup"
            );
            return other_browser_page(&state);
        }
    }
    let conversion = match state.github.convert_manifest(&code).await {
        Ok(conversion) => conversion,
        Err(err) => {
            tracing::error!(error = %err, "the App-manifest conversion failed");
            return (
                StatusCode::BAD_GATEWAY,
                format!("GitHub did not create the App: {err}"),
            )
                .into_response();
        }
    };
    match install_credentials(&state, &conversion) {
        Ok(()) => {
            tracing::info!(
                app_id = conversion.id,
                "GitHub App created; serving webhooks"
            );
            let spent = binding_cookie_header(&state.settings.public_url, "", 0);
            let install = conversion
                .html_url
                .as_deref()
                .map(|url| format!("{url}/installations/new"))
                .unwrap_or_default();
            let page = Html(format!(
                "<!doctype html><html><body style=\"font-family: sans-serif; max-width: 40em; margin: 3em auto\">\
                 <h1>slipway is set up</h1><p>GitHub App {} (id {}) is ready and its credentials are in <code>{}</code>.</p>\
                 <p><a href=\"{}\">Install the App</a> on the repositories slipway should manage.</p></body></html>",
                escape_html(conversion.slug.as_deref().unwrap_or("slipway")),
                conversion.id,
                escape_html(&state.settings.env_file.display().to_string()),
                escape_html(&install),
            ));
            match spent {
                Some(spent) => ([(header::SET_COOKIE, spent)], page).into_response(),
                None => page.into_response(),
            }
        }
        Err(err) => {
            tracing::error!(error = %crate::failure::chain(err.as_ref()), "cannot install the new App's credentials");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                crate::failure::chain(err.as_ref()),
            )
                .into_response()
        }
    }
}

/// The refusal of a callback completed in a browser that did not start the flow.
fn other_browser_page(state: &AppState) -> Response {
    (
        StatusCode::FORBIDDEN,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Setup refused</title></head>\
             <body style=\"font-family: sans-serif; max-width: 40em; margin: 3em auto\">\
             <h1>This setup was not started in this browser</h1>\
             <p>slipway creates its GitHub App only for the browser that opened its setup page: \
             this link belongs to a setup started elsewhere, or this browser's setup cookie is missing. \
             Nothing was changed and no App credentials were saved.</p>\
             <p>If you are setting slipway up, start again at <a href=\"{url}\">{url}</a> in this browser.</p>\
             </body></html>",
            url = escape_html(&setup_url(&state.settings.public_url)),
        )),
    )
        .into_response()
}

fn install_credentials(state: &AppState, conversion: &ManifestConversion) -> anyhow::Result<()> {
    let values = [
        ("APP_ID", conversion.id.to_string()),
        ("PRIVATE_KEY", conversion.pem.clone()),
        ("WEBHOOK_SECRET", conversion.webhook_secret.clone()),
        ("GITHUB_CLIENT_ID", conversion.client_id.clone()),
        ("GITHUB_CLIENT_SECRET", conversion.client_secret.clone()),
    ];
    let vars: HashMap<String, String> = values
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    // Validate through the same rules start-up uses before anything is written.
    let credentials: Arc<AppCredentials> = Settings::from_vars(&vars)
        .map_err(|err| anyhow::anyhow!("GitHub's answer is not usable: {err}"))?
        .credentials
        .context("GitHub's answer holds no credentials")?;
    write_env_file(&state.settings.env_file, &values)?;
    state.credentials.set(credentials);
    state.github.reset_app_jwt();
    state.credentials_arrived.notify_one();
    Ok(())
}

/// Sets `values` in the dotenv file at `path`, keeping its other lines, atomically and with
/// mode 0600 (it holds the App's private key); a missing directory is created with 0700.
pub fn write_env_file(path: &Path, values: &[(&str, String)]) -> anyhow::Result<()> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let replaced = |line: &str| {
        let line = line.trim_start().trim_start_matches("export ").trim_start();
        values
            .iter()
            .any(|(key, _)| line.starts_with(&format!("{key}=")))
    };
    let mut text: String = existing
        .lines()
        .filter(|line| !replaced(line))
        .map(|line| format!("{line}\n"))
        .collect();
    for (key, value) in values {
        let escaped = value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\r', "")
            .replace('\n', "\\n");
        text.push_str(&format!("{key}=\"{escaped}\"\n"));
    }

    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    crate::store::create_private_dir(directory)?;
    let mut temporary = tempfile::NamedTempFile::new_in(directory)
        .with_context(|| format!("cannot create a file in {}", directory.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temporary
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    temporary.write_all(text.as_bytes())?;
    temporary.as_file().sync_all()?;
    temporary
        .persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for cookie in cookies {
            headers.append(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        }
        headers
    }

    #[test]
    fn the_binding_cookie_is_found_among_others_and_only_by_its_exact_name() {
        assert_eq!(
            binding_cookie(&headers(&["theme=dark; slipway_setup=abc; other=1"])).as_deref(),
            Some("abc")
        );
        assert_eq!(
            binding_cookie(&headers(&["theme=dark", "slipway_setup=\"abc\""])).as_deref(),
            Some("abc")
        );
        assert_eq!(
            binding_cookie(&headers(&["not_slipway_setup=abc; slipway_setup_x=abc"])),
            None
        );
        assert_eq!(binding_cookie(&headers(&[])), None);
    }

    #[test]
    fn secrets_compare_equal_only_when_identical() {
        assert!(same_secret("abcd", "abcd"));
        assert!(!same_secret("abcd", "abce"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "abcd"));
    }
}

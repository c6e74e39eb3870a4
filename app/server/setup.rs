//! The setup flow: with no credentials, `/` offers to create the GitHub App from `app.yml`
//! (GitHub's App-manifest flow); `/setup/callback` trades the code for credentials, writes them
//! to `.env` (mode 0600) and starts serving webhooks without a restart.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
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

fn new_state(state: &AppState) -> String {
    let token = hex::encode(rand::random::<[u8; 16]>());
    let mut states = match state.setup_states.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    states.retain(|_, made| made.elapsed() < SETUP_STATE_TTL);
    states.insert(token.clone(), Instant::now());
    token
}

fn take_state(state: &AppState, token: &str) -> bool {
    let mut states = match state.setup_states.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    matches!(states.remove(token), Some(made) if made.elapsed() < SETUP_STATE_TTL)
}

/// The page shown at `/` until the App exists. `?org=NAME` targets an organisation.
pub(super) fn setup_page(state: &AppState, org: Option<&str>) -> Response {
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
    let token = new_state(state);
    let web = state.settings.github_url.as_str().trim_end_matches('/');
    let action = match org {
        Some(org) => format!("{web}/organizations/{org}/settings/apps/new?state={token}"),
        None => format!("{web}/settings/apps/new?state={token}"),
    };
    let owner = match org {
        Some(org) => format!("the organisation <strong>{}</strong>", escape_html(org)),
        None => "your personal account".to_string(),
    };
    Html(format!(
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
<form action="/" method="get" style="margin-top: 2em">
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
    ))
    .into_response()
}

#[derive(Deserialize)]
pub(super) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
}

pub(super) async fn callback(
    State(state): State<Arc<AppState>>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    if state.credentials.get().is_some() {
        return (
            StatusCode::CONFLICT,
            "slipway already has GitHub App credentials",
        )
            .into_response();
    }
    let (Some(code), Some(token)) = (query.code, query.state) else {
        return (
            StatusCode::BAD_REQUEST,
            "the callback needs both code and state",
        )
            .into_response();
    };
    if !take_state(&state, &token) {
        tracing::warn!("setup callback with an unknown or expired state refused");
        return (
            StatusCode::BAD_REQUEST,
            "this setup link is unknown or expired: start again from slipway's home page",
        )
            .into_response();
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
            let install = conversion
                .html_url
                .as_deref()
                .map(|url| format!("{url}/installations/new"))
                .unwrap_or_default();
            Html(format!(
                "<!doctype html><html><body style=\"font-family: sans-serif; max-width: 40em; margin: 3em auto\">\
                 <h1>slipway is set up</h1><p>GitHub App {} (id {}) is ready and its credentials are in <code>{}</code>.</p>\
                 <p><a href=\"{}\">Install the App</a> on the repositories slipway should manage.</p></body></html>",
                escape_html(conversion.slug.as_deref().unwrap_or("slipway")),
                conversion.id,
                escape_html(&state.settings.env_file.display().to_string()),
                escape_html(&install),
            ))
            .into_response()
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
/// mode 0600 (it holds the App's private key).
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

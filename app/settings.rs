//! Server settings: Probot's environment names, read from the process environment and `.env`.
//!
//! Loading is pure over a map of variables (`Settings::from_vars`) so every rule is tested
//! without touching the process environment; `Settings::from_env` is the thin edge.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::EncodingKey;

use crate::cluster::Builder;
use crate::config::parse_duration;
use crate::diff::FingerprintKey;
use url::Url;

/// Everything `slipway serve` and `slipway deliveries` need to start.
#[derive(Clone)]
pub struct Settings {
    /// The App's credentials; `None` until the setup flow (or the operator) provides them.
    pub credentials: Option<Arc<AppCredentials>>,
    /// Where GitHub's webhooks and the setup flow are served (`HOST`, `PORT`).
    pub host: IpAddr,
    pub port: u16,
    /// Where the operations endpoints (status page, `/metrics`, `/readyz`) are served
    /// (`OPS_HOST`, `OPS_PORT`): never on the listener GitHub reaches.
    pub ops_host: IpAddr,
    pub ops_port: u16,
    pub log_level: String,
    pub log_format: LogFormat,
    /// REST API root, `https://api.github.com` or `https://HOST/api/v3` on GHES.
    pub github_api_url: Url,
    /// Web root where the App-creation form lives (`https://github.com` or the GHES host).
    pub github_url: Url,
    /// How GitHub reaches this server; webhook and callback URLs of the App manifest derive from it.
    pub public_url: Url,
    pub database_url: String,
    pub workers: usize,
    /// Finished deliveries (done or failed) older than this many days are deleted; 0 keeps all.
    pub delivery_retention_days: u32,
    /// Where the setup flow writes the credentials it receives.
    pub env_file: PathBuf,
    /// The cache of bare git mirrors of config repos (created when missing).
    pub mirror_dir: PathBuf,
    /// `FINGERPRINT_KEY`: what Secret fingerprints are made with. `None`: the key slipway
    /// generated once and keeps in its store.
    pub fingerprint_key: Option<FingerprintKey>,
    /// Where and how images are built in the cluster.
    pub build: BuildSettings,
    /// `KUBECONFIG` as written (a list of paths, `:`-separated), from the process environment
    /// or `.env`; `None`: the pod's service account, else `~/.kube/config`. The cluster
    /// `default`.
    pub kubeconfig: Option<String>,
    /// `CLUSTERS`: a kubeconfig file whose every context is a cluster, or a directory of one
    /// kubeconfig per cluster (see [`crate::cluster::clusters`]); `None`: `default` alone.
    pub clusters: Option<PathBuf>,
    /// `BUILD_CLUSTER`: the cluster builds run on. Default: `default`.
    pub build_cluster: String,
}

/// The `BUILD_*` settings: the build Jobs' namespace, template, executor and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSettings {
    pub namespace: String,
    pub builder: Builder,
    /// A directory whose `build-job.yaml` (Kaniko) or `build-job-buildkit.yaml` replaces the
    /// compiled-in template.
    pub template_dir: Option<PathBuf>,
    pub executor_image: String,
    /// The docker-config Secret in the build namespace the executor pushes with.
    pub registry_secret: String,
    pub timeout: Duration,
    /// Builds running at once; more wait.
    pub concurrency: usize,
}

/// A GitHub App's identity: everything needed to verify its webhooks and sign its JWTs.
pub struct AppCredentials {
    pub app_id: u64,
    pub signing_key: EncodingKey,
    pub webhook_secret: String,
}

impl std::fmt::Debug for AppCredentials {
    // Never print the key or the secret, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The operations port when `OPS_PORT` is not set.
pub const DEFAULT_OPS_PORT: u16 = 9090;

/// A setting that stops start-up; its message is the one line the operator sees.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct SettingsError(pub String);

fn invalid(message: impl Into<String>) -> SettingsError {
    SettingsError(message.into())
}

impl Settings {
    /// Reads `.env` (when present; real environment variables win) and the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(&merged_vars(&env_file_vars()?))
    }

    /// Builds settings from a map of variables, applying every default and validation rule.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, SettingsError> {
        let get = |name: &str| {
            vars.get(name)
                .map(|value| value.trim())
                .filter(|value| !value.is_empty())
        };

        let port: u16 = match get("PORT") {
            Some(raw) => raw
                .parse()
                .map_err(|_| invalid(format!("PORT must be a TCP port number, got {raw:?}")))?,
            None => 3000,
        };
        let host: IpAddr = match get("HOST") {
            Some(raw) => raw
                .parse()
                .map_err(|_| invalid(format!("HOST must be an IP address, got {raw:?}")))?,
            None => IpAddr::from([0, 0, 0, 0]),
        };
        // PORT=0 (any free port) makes the default operations port free too, so servers
        // started side by side on free ports never collide on 9090.
        let ops_port: u16 = match get("OPS_PORT") {
            Some(raw) => raw
                .parse()
                .map_err(|_| invalid(format!("OPS_PORT must be a TCP port number, got {raw:?}")))?,
            None if port == 0 => 0,
            None => DEFAULT_OPS_PORT,
        };
        let ops_host: IpAddr = match get("OPS_HOST") {
            Some(raw) => raw
                .parse()
                .map_err(|_| invalid(format!("OPS_HOST must be an IP address, got {raw:?}")))?,
            None => host,
        };
        if port != 0 && ops_port == port {
            return Err(invalid(format!(
                "OPS_PORT must differ from PORT ({port}): the operations endpoints are never served where webhooks are"
            )));
        }
        let workers: usize = match get("WORKERS") {
            Some(raw) => raw.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                invalid(format!("WORKERS must be a positive number, got {raw:?}"))
            })?,
            None => 4,
        };
        // GitHub redelivers a delivery (same id) for three days: dedupe needs the rows that long.
        let delivery_retention_days: u32 = match get("DELIVERY_RETENTION_DAYS") {
            Some(raw) => raw
                .parse()
                .ok()
                .filter(|days| *days == 0 || *days >= 3)
                .ok_or_else(|| {
                    invalid(format!(
                        "DELIVERY_RETENTION_DAYS must be 0 (keep everything) or at least 3, got {raw:?}"
                    ))
                })?,
            None => 14,
        };
        let log_format = match get("LOG_FORMAT") {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(format!(
                    "LOG_FORMAT must be json or pretty, got {other:?}"
                )))
            }
        };
        let github_api_url = parse_url(
            "GITHUB_API_URL",
            get("GITHUB_API_URL").unwrap_or("https://api.github.com"),
        )?;
        let github_url = match get("GITHUB_URL") {
            Some(raw) => parse_url("GITHUB_URL", raw)?,
            None => web_url_for(&github_api_url),
        };
        let public_url = match get("PUBLIC_URL") {
            Some(raw) => parse_url("PUBLIC_URL", raw)?,
            None => parse_url("PUBLIC_URL", &format!("http://localhost:{port}"))?,
        };
        let database_url = get("DATABASE_URL")
            .unwrap_or("sqlite://slipway.db")
            .to_string();
        if !database_url.starts_with("sqlite:") {
            return Err(invalid(format!(
                "DATABASE_URL must be an sqlite: URL in this version of slipway, got {:?}",
                scheme_of(&database_url)
            )));
        }

        let fingerprint_key = get("FINGERPRINT_KEY")
            .map(FingerprintKey::from_hex)
            .transpose()
            .map_err(|err| invalid(format!("FINGERPRINT_KEY is not usable: {err}")))?;

        let build = build_settings(&get)?;
        let build_cluster = get("BUILD_CLUSTER").unwrap_or(crate::config::DEFAULT_CLUSTER);
        if !crate::cluster::clusters::is_cluster_name(build_cluster) {
            return Err(invalid(format!(
                "BUILD_CLUSTER must be a cluster name (lowercase letters, digits and `-`, at most 63), got {build_cluster:?}"
            )));
        }

        Ok(Settings {
            build,
            credentials: credentials_from(vars)?.map(Arc::new),
            host,
            port,
            ops_host,
            ops_port,
            kubeconfig: get("KUBECONFIG").map(str::to_string),
            clusters: get("CLUSTERS").map(PathBuf::from),
            build_cluster: build_cluster.to_string(),
            log_level: get("LOG_LEVEL").unwrap_or("info").to_string(),
            log_format,
            github_api_url,
            github_url,
            public_url,
            database_url,
            workers,
            delivery_retention_days,
            env_file: PathBuf::from(get("ENV_FILE").unwrap_or(".env")),
            mirror_dir: PathBuf::from(get("MIRROR_DIR").unwrap_or("mirrors")),
            fingerprint_key,
        })
    }
}

/// The path of the dotenv file: `ENV_FILE` from the process environment, else `.env`.
fn env_file_path() -> String {
    std::env::var("ENV_FILE").unwrap_or_else(|_| ".env".to_string())
}

/// The variables the dotenv file sets (none when it does not exist).
pub fn env_file_vars() -> Result<HashMap<String, String>, SettingsError> {
    let env_file = env_file_path();
    let mut vars: HashMap<String, String> = HashMap::new();
    if Path::new(&env_file).exists() {
        let entries = dotenvy::from_path_iter(&env_file)
            .map_err(|err| invalid(format!("cannot read {env_file}: {err}")))?;
        for entry in entries {
            let (key, value) =
                entry.map_err(|err| invalid(format!("cannot parse {env_file}: {err}")))?;
            vars.insert(key, value);
        }
    }
    Ok(vars)
}

/// The dotenv file's variables overridden by the process environment's.
pub fn merged_vars(file: &HashMap<String, String>) -> HashMap<String, String> {
    let mut vars = overridden_by(file, std::env::vars());
    vars.entry("ENV_FILE".to_string())
        .or_insert_with(env_file_path);
    vars
}

/// `file`'s variables overridden by `process`'s, except where the process sets a variable to
/// an empty value: every setting reads an empty value as unset, so an empty variable (a
/// Kubernetes Secret whose keys are left blank, say) does not hide the file's value — above all
/// not the credentials the setup flow wrote to `ENV_FILE`.
fn overridden_by(
    file: &HashMap<String, String>,
    process: impl Iterator<Item = (String, String)>,
) -> HashMap<String, String> {
    let mut vars = file.clone();
    for (name, value) in process {
        if value.trim().is_empty() && vars.contains_key(&name) {
            continue;
        }
        vars.insert(name, value);
    }
    vars
}

/// Variables that libraries slipway uses read from the process environment themselves, with
/// no way to hand them a value: the trust roots of every TLS client (`openssl-probe` via
/// rustls' native roots) and the proxies of git's HTTP transport (reqwest), and where
/// temporary files go. `KUBECONFIG` is not among them: it is passed to kube explicitly.
pub const LIBRARY_VARIABLES: &[&str] = &[
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "TMPDIR",
];

/// The library variables `.env` sets that the process environment does not: what must be
/// exported for `.env` to reach those libraries. Nothing else leaves `.env` (above all not the
/// App's key or webhook secret, which child processes would inherit).
pub fn library_exports(
    file: &HashMap<String, String>,
    process: impl Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut exports: Vec<(String, String)> = LIBRARY_VARIABLES
        .iter()
        .filter(|name| !process(name))
        .filter_map(|name| {
            file.get(*name)
                .map(|value| (name.to_string(), value.clone()))
        })
        .collect();
    exports.sort();
    exports
}

fn build_settings<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<BuildSettings, SettingsError> {
    let builder = match get("BUILD_BUILDER") {
        None => Builder::Kaniko,
        Some(raw) => Builder::parse(raw).ok_or_else(|| {
            invalid(format!(
                "BUILD_BUILDER must be kaniko or buildkit, got {raw:?}"
            ))
        })?,
    };
    let timeout = match get("BUILD_TIMEOUT") {
        Some(raw) => parse_duration(raw)
            .map_err(|err| invalid(format!("BUILD_TIMEOUT is not a duration: {err}")))?,
        None => Duration::from_secs(30 * 60),
    };
    let concurrency: usize = match get("BUILD_CONCURRENCY") {
        Some(raw) => raw.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            invalid(format!(
                "BUILD_CONCURRENCY must be a positive number, got {raw:?}"
            ))
        })?,
        None => 4,
    };
    let namespace = get("BUILD_NAMESPACE").unwrap_or("slipway-builds");
    let dns_label = namespace.len() <= 63
        && namespace
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !namespace.starts_with('-')
        && !namespace.ends_with('-');
    if !dns_label {
        return Err(invalid(format!(
            "BUILD_NAMESPACE must be a namespace name (lowercase letters, digits and `-`, at most 63), got {namespace:?}"
        )));
    }
    Ok(BuildSettings {
        namespace: namespace.to_string(),
        builder,
        template_dir: get("BUILD_TEMPLATE_DIR").map(PathBuf::from),
        executor_image: get("BUILD_EXECUTOR_IMAGE")
            .unwrap_or(builder.default_executor_image())
            .to_string(),
        registry_secret: get("BUILD_REGISTRY_SECRET")
            .unwrap_or("slipway-registry")
            .to_string(),
        timeout,
        concurrency,
    })
}

fn scheme_of(url: &str) -> &str {
    url.split(':').next().unwrap_or(url)
}

fn parse_url(name: &str, raw: &str) -> Result<Url, SettingsError> {
    let url =
        Url::parse(raw).map_err(|err| invalid(format!("{name} is not a URL ({err}): {raw:?}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "{name} must be an http(s) URL, got {raw:?}"
        )));
    }
    Ok(url)
}

/// github.com's API lives on its own host; GHES serves the API under `/api/v3` of the web host.
fn web_url_for(api: &Url) -> Url {
    if api.host_str() == Some("api.github.com") {
        return Url::parse("https://github.com").expect("a constant URL parses");
    }
    let mut web = api.clone();
    let path = web.path().trim_end_matches('/').to_string();
    web.set_path(path.strip_suffix("/api/v3").unwrap_or(&path));
    web
}

/// The App's credentials when all three are configured, none when none is, an error otherwise.
fn credentials_from(
    vars: &HashMap<String, String>,
) -> Result<Option<AppCredentials>, SettingsError> {
    let get = |name: &str| {
        vars.get(name)
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
    };
    let app_id = get("APP_ID");
    let inline_key = get("PRIVATE_KEY");
    let key_path = get("PRIVATE_KEY_PATH");
    let secret = get("WEBHOOK_SECRET");
    if app_id.is_none() && inline_key.is_none() && key_path.is_none() && secret.is_none() {
        return Ok(None);
    }

    let app_id = app_id
        .ok_or_else(|| invalid("APP_ID is missing (PRIVATE_KEY or WEBHOOK_SECRET is set)"))?;
    let app_id: u64 = app_id
        .parse()
        .map_err(|_| invalid(format!("APP_ID must be a number, got {app_id:?}")))?;
    let pem = match (inline_key, key_path) {
        (Some(pem), _) => pem.replace("\\n", "\n"),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|err| invalid(format!("cannot read PRIVATE_KEY_PATH {path}: {err}")))?,
        (None, None) => {
            return Err(invalid(
                "PRIVATE_KEY or PRIVATE_KEY_PATH is missing (APP_ID is set)",
            ))
        }
    };
    let signing_key = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|err| {
        invalid(format!(
            "the App's private key is not an RSA private key in PEM format ({err})"
        ))
    })?;
    let webhook_secret =
        secret.ok_or_else(|| invalid("WEBHOOK_SECRET is missing (APP_ID is set)"))?;
    Ok(Some(AppCredentials {
        app_id,
        signing_key,
        webhook_secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn error_of(pairs: &[(&str, &str)]) -> String {
        match Settings::from_vars(&vars(pairs)) {
            Ok(_) => panic!("settings {pairs:?} were accepted"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn defaults_serve_on_port_3000_with_sqlite_and_no_credentials() {
        let settings = Settings::from_vars(&HashMap::new()).unwrap();
        assert_eq!(settings.port, 3000);
        assert_eq!(settings.workers, 4);
        assert_eq!(settings.database_url, "sqlite://slipway.db");
        assert_eq!(settings.github_api_url.as_str(), "https://api.github.com/");
        assert_eq!(settings.github_url.as_str(), "https://github.com/");
        assert_eq!(settings.public_url.as_str(), "http://localhost:3000/");
        assert_eq!(settings.mirror_dir, PathBuf::from("mirrors"));
        assert!(settings.credentials.is_none());
    }

    #[test]
    fn enterprise_server_web_url_is_the_api_host_without_api_v3() {
        let settings = Settings::from_vars(&vars(&[(
            "GITHUB_API_URL",
            "https://ghe.example.com/api/v3",
        )]))
        .unwrap();
        assert_eq!(settings.github_url.as_str(), "https://ghe.example.com/");
    }

    #[test]
    fn non_numeric_app_id_is_one_clear_line() {
        let message = error_of(&[
            ("APP_ID", "abc"),
            ("WEBHOOK_SECRET", "s"),
            ("PRIVATE_KEY", "x"),
        ]);
        assert_eq!(message, "APP_ID must be a number, got \"abc\"");
    }

    #[test]
    fn bad_pem_is_refused() {
        let message = error_of(&[
            ("APP_ID", "1"),
            ("WEBHOOK_SECRET", "s"),
            (
                "PRIVATE_KEY",
                "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----",
            ),
        ]);
        assert!(
            message.starts_with("the App's private key is not an RSA private key"),
            "{message}"
        );
        assert!(!message.contains('\n'));
    }

    #[test]
    fn unreadable_key_file_names_the_path() {
        let message = error_of(&[
            ("APP_ID", "1"),
            ("WEBHOOK_SECRET", "s"),
            ("PRIVATE_KEY_PATH", "/nonexistent/key.pem"),
        ]);
        assert!(
            message.starts_with("cannot read PRIVATE_KEY_PATH /nonexistent/key.pem"),
            "{message}"
        );
    }

    #[test]
    fn partial_credentials_say_what_is_missing() {
        assert_eq!(
            error_of(&[("WEBHOOK_SECRET", "s")]),
            "APP_ID is missing (PRIVATE_KEY or WEBHOOK_SECRET is set)"
        );
    }

    #[test]
    fn postgres_is_refused_for_now() {
        assert!(error_of(&[("DATABASE_URL", "postgres://db/slipway")]).contains("\"postgres\""));
    }

    #[test]
    fn delivery_retention_keeps_at_least_githubs_redelivery_window() {
        assert_eq!(
            Settings::from_vars(&HashMap::new())
                .unwrap()
                .delivery_retention_days,
            14
        );
        assert_eq!(
            error_of(&[("DELIVERY_RETENTION_DAYS", "1")]),
            "DELIVERY_RETENTION_DAYS must be 0 (keep everything) or at least 3, got \"1\""
        );
        let keep_all = Settings::from_vars(&vars(&[("DELIVERY_RETENTION_DAYS", "0")])).unwrap();
        assert_eq!(keep_all.delivery_retention_days, 0);
    }

    #[test]
    fn a_fingerprint_key_is_64_hex_digits_and_never_echoed() {
        assert!(Settings::from_vars(&HashMap::new())
            .unwrap()
            .fingerprint_key
            .is_none());
        let hex = "ab".repeat(32);
        let settings = Settings::from_vars(&vars(&[("FINGERPRINT_KEY", &hex)])).unwrap();
        assert_eq!(settings.fingerprint_key.unwrap().to_hex(), hex);
        let message = error_of(&[("FINGERPRINT_KEY", "not-the-key-but-close")]);
        assert_eq!(
            message,
            "FINGERPRINT_KEY is not usable: a fingerprint key is 32 bytes written as 64 hex digits; got 21 characters"
        );
    }

    #[test]
    fn bad_log_format_port_and_workers_are_refused() {
        assert_eq!(
            error_of(&[("LOG_FORMAT", "xml")]),
            "LOG_FORMAT must be json or pretty, got \"xml\""
        );
        assert_eq!(
            error_of(&[("PORT", "http")]),
            "PORT must be a TCP port number, got \"http\""
        );
        assert_eq!(
            error_of(&[("WORKERS", "0")]),
            "WORKERS must be a positive number, got \"0\""
        );
    }

    #[test]
    fn operations_have_a_port_of_their_own() {
        let defaults = Settings::from_vars(&HashMap::new()).unwrap();
        assert_eq!((defaults.port, defaults.ops_port), (3000, 9090));
        assert_eq!(defaults.ops_host, defaults.host);
        let free = Settings::from_vars(&vars(&[("PORT", "0")])).unwrap();
        assert_eq!(free.ops_port, 0);
        let split = Settings::from_vars(&vars(&[
            ("HOST", "0.0.0.0"),
            ("OPS_HOST", "127.0.0.1"),
            ("OPS_PORT", "9191"),
        ]))
        .unwrap();
        assert_eq!(split.ops_host.to_string(), "127.0.0.1");
        assert_eq!(split.ops_port, 9191);
        assert_eq!(
            error_of(&[("PORT", "8080"), ("OPS_PORT", "8080")]),
            "OPS_PORT must differ from PORT (8080): the operations endpoints are never served where webhooks are"
        );
        assert_eq!(
            error_of(&[("OPS_HOST", "localhost")]),
            "OPS_HOST must be an IP address, got \"localhost\""
        );
    }

    #[test]
    fn clusters_and_the_build_cluster_are_settings() {
        let settings = Settings::from_vars(&vars(&[])).unwrap();
        assert_eq!(settings.clusters, None);
        assert_eq!(settings.build_cluster, "default");
        let settings = Settings::from_vars(&vars(&[
            ("CLUSTERS", "/etc/slipway/clusters"),
            ("BUILD_CLUSTER", "ci"),
        ]))
        .unwrap();
        assert_eq!(
            settings.clusters.as_deref(),
            Some(Path::new("/etc/slipway/clusters"))
        );
        assert_eq!(settings.build_cluster, "ci");
        let err = Settings::from_vars(&vars(&[("BUILD_CLUSTER", "CI_cluster")]))
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "BUILD_CLUSTER must be a cluster name (lowercase letters, digits and `-`, at most 63), got \"CI_cluster\""
        );
    }

    #[test]
    fn kubeconfig_is_a_setting_like_any_other() {
        let settings =
            Settings::from_vars(&vars(&[("KUBECONFIG", "/etc/a.yaml:/etc/b.yaml")])).unwrap();
        assert_eq!(
            settings.kubeconfig.as_deref(),
            Some("/etc/a.yaml:/etc/b.yaml")
        );
        assert!(Settings::from_vars(&HashMap::new())
            .unwrap()
            .kubeconfig
            .is_none());
    }

    #[test]
    fn an_empty_process_variable_does_not_hide_the_env_files_value() {
        let file = vars(&[("APP_ID", "4242"), ("WEBHOOK_SECRET", "from-the-file")]);
        let process = [
            ("APP_ID", ""),
            ("WEBHOOK_SECRET", "from-the-process"),
            ("PRIVATE_KEY", " "),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let merged = overridden_by(&file, process.into_iter());
        assert_eq!(merged["APP_ID"], "4242");
        assert_eq!(merged["WEBHOOK_SECRET"], "from-the-process");
        // Empty and absent read the same to every setting.
        assert_eq!(merged["PRIVATE_KEY"], " ");
    }

    #[test]
    fn only_library_variables_leave_the_env_file_and_never_over_the_process_environment() {
        let file = vars(&[
            ("SSL_CERT_FILE", "/etc/ssl/corporate.pem"),
            ("HTTPS_PROXY", "http://proxy.internal:3128"),
            ("NO_PROXY", "github.internal"),
            ("PRIVATE_KEY", "-----BEGIN RSA PRIVATE KEY-----"),
            ("WEBHOOK_SECRET", "s"),
            ("KUBECONFIG", "/etc/kube.yaml"),
        ]);
        let exports = library_exports(&file, |name| name == "NO_PROXY");
        assert_eq!(
            exports,
            vec![
                (
                    "HTTPS_PROXY".to_string(),
                    "http://proxy.internal:3128".to_string()
                ),
                (
                    "SSL_CERT_FILE".to_string(),
                    "/etc/ssl/corporate.pem".to_string()
                ),
            ]
        );
    }
}

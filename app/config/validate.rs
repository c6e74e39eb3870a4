//! Semantic checks: raw structs → domain types, each error at the offending key or value.
//! Every error is collected; a wrong value is replaced by its default so checking goes on.

use std::collections::{BTreeMap, BTreeSet};

use super::error::{ConfigError, Position};
use super::locate::{keys, Locator, Seg};
use super::raw::{RawBuild, RawDeploy, RawEnvironment, RawFile, RawHelm};
use super::HelmSettings;
use super::KnownClusters;
use super::{
    default_production, parse_duration, parse_duration_or_zero, AppRepoConfig, Build, BumpSource,
    ConfigRepoConfig, Deploy, Environment, OnFailure, RepoConfig, DEFAULT_ALLOW_STALE_APPROVALS,
    DEFAULT_CLUSTER, DEFAULT_CONTEXT, DEFAULT_DOCKERFILE, DEFAULT_DRIFT_INTERVAL,
    DEFAULT_HEALTH_TIMEOUT, DEFAULT_HELM_KUBE_VERSION, DEFAULT_ON_FAILURE, DEFAULT_PRUNE,
    DEFAULT_REQUIRED_APPROVALS, DEFAULT_SELF_HEAL,
};

const DNS_LABEL_HELP: &str =
    "use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit";

/// What validation found: the configuration as far as it could be read, and every error.
pub(crate) struct Validated {
    /// The file's declarations with defaults for what is missing or wrong; obeyed only when
    /// `errors` is empty.
    pub config: RepoConfig,
    /// Environments whose `path` is valid, with that (normalised) path.
    pub paths: Vec<(String, String)>,
    /// Environments that declare `helm:`, with the valid files of their `helm.values`.
    pub helm: Vec<(String, Vec<String>)>,
    pub errors: Vec<ConfigError>,
    /// Every valid `cluster:` named, with its position: whether slipway knows it is the
    /// server's to say ([`Validated::unknown_clusters`]); the deploy reads such a file and
    /// refuses those environments by name (see [`super::parse_config_repo`]).
    pub named_clusters: Vec<(Position, String)>,
}

impl Validated {
    /// An error at each `cluster:` that `known` does not know.
    pub fn unknown_clusters(&self, known: &KnownClusters) -> Vec<ConfigError> {
        self.named_clusters
            .iter()
            .filter_map(|(position, name)| {
                known.refusal(name).map(|refusal| {
                    ConfigError::new(
                        *position,
                        format!("`cluster`: {refusal}; omit `cluster` or name a known one"),
                    )
                })
            })
            .collect()
    }
}

/// Checks `raw`, whose shape errors (`shape_errors`) are kept with the others.
pub(crate) fn repo_config(
    raw: &RawFile,
    loc: &Locator<'_>,
    shape_errors: Vec<ConfigError>,
) -> Validated {
    let mut check = Check {
        loc,
        errors: shape_errors,
        paths: Vec::new(),
        helm: Vec::new(),
        named_clusters: Vec::new(),
    };
    let config_repo = raw
        .environments
        .as_ref()
        .map(|envs| check.environments(envs));
    let refused = |key: &str| raw.reported.contains(&key);
    let app_repo = match (&raw.build, &raw.deploy) {
        (Some(build_raw), deploy_raw) => Some(AppRepoConfig {
            build: check.build(build_raw),
            deploy: deploy_raw.as_ref().map(|d| check.deploy(d)),
        }),
        (None, Some(_)) => {
            if !refused("build") {
                check.error(
                    loc.key(&keys(&["deploy"])),
                    "`deploy` needs a `build` section: slipway deploys the image it builds",
                );
            }
            None
        }
        (None, None) => None,
    };
    let declared_nothing = config_repo.is_none()
        && app_repo.is_none()
        && raw.deploy.is_none()
        && raw.reported.is_empty();
    if declared_nothing && check.errors.is_empty() {
        check.error(
            loc.top(),
            "nothing declared: add `environments:` (a config repo) or `build:` (an app repo)",
        );
    }
    Validated {
        config: RepoConfig {
            config_repo,
            app_repo,
        },
        paths: check.paths,
        helm: check.helm,
        errors: check.errors,
        named_clusters: check.named_clusters,
    }
}

/// Collects every error of the semantic checks; each check goes on after a mistake with a
/// default in its place, so one mistake is reported once and hides no other.
struct Check<'l, 'a> {
    loc: &'l Locator<'a>,
    errors: Vec<ConfigError>,
    paths: Vec<(String, String)>,
    helm: Vec<(String, Vec<String>)>,
    named_clusters: Vec<(Position, String)>,
}

impl Check<'_, '_> {
    fn error(&mut self, position: Position, message: impl Into<String>) {
        self.errors.push(ConfigError::new(position, message));
    }

    fn environments(&mut self, raw: &[RawEnvironment]) -> ConfigRepoConfig {
        if raw.is_empty() {
            self.error(
                self.loc.value(&keys(&["environments"])),
                "`environments` is empty: declare at least one environment",
            );
        }
        let mut envs = BTreeMap::new();
        for env in raw {
            let environment = self.environment(env);
            envs.insert(env.name.clone(), environment);
        }
        self.promotions(raw, &envs);
        ConfigRepoConfig { environments: envs }
    }

    fn environment(&mut self, raw: &RawEnvironment) -> Environment {
        let loc = self.loc;
        let name = &raw.name;
        let at = |field: &str| keys(&["environments", name, field]);
        if !is_dns_label(name) {
            self.error(
                loc.key(&keys(&["environments", name])),
                format!("environment name `{name}` is not a DNS label; {DNS_LABEL_HELP}"),
            );
        }
        let path = match &raw.path {
            Some(p) => match repo_path(p, false) {
                Ok(path) => {
                    self.paths.push((name.clone(), path.clone()));
                    path
                }
                Err(msg) => {
                    self.error(loc.value(&at("path")), format!("`path` {msg}"));
                    String::new()
                }
            },
            None => {
                if !raw.reported.contains(&"path") {
                    self.error(
                        loc.key(&keys(&["environments", name])),
                        format!(
                            "environment `{name}` has no `path`; it is required: the repo-relative directory of its manifests"
                        ),
                    );
                }
                String::new()
            }
        };
        if let Some(ns) = &raw.namespace {
            if !is_dns_label(ns) {
                self.error(
                    loc.value(&at("namespace")),
                    format!("`namespace` `{ns}` is not a valid namespace name; {DNS_LABEL_HELP}"),
                );
            }
        }
        let allowed_namespaces = match &raw.allowed_namespaces {
            Some(list) => {
                let mut out: Vec<String> = Vec::with_capacity(list.len());
                for (i, ns) in list.iter().enumerate() {
                    if !is_dns_label(ns) {
                        let mut p = at("allowed_namespaces");
                        p.push(Seg::Index(i));
                        self.error(
                            loc.value(&p),
                            format!(
                                "`allowed_namespaces` item `{ns}` is not a valid namespace name; {DNS_LABEL_HELP}"
                            ),
                        );
                    }
                    if !out.contains(ns) {
                        out.push(ns.clone());
                    }
                }
                if let Some(ns) = &raw.namespace {
                    if !out.is_empty() && !out.contains(ns) {
                        self.error(
                            loc.value(&at("namespace")),
                            format!(
                                "`namespace` `{ns}` is not in `allowed_namespaces` ({}); objects defaulted to it would be refused",
                                out.join(", ")
                            ),
                        );
                    }
                }
                out
            }
            None => raw.namespace.iter().cloned().collect(),
        };
        let allowed_cluster_scoped = raw.allowed_cluster_scoped.as_ref().map(|list| {
            let mut out: Vec<String> = Vec::with_capacity(list.len());
            for (i, kind) in list.iter().enumerate() {
                if !is_kind_name(kind) {
                    let mut p = at("allowed_cluster_scoped");
                    p.push(Seg::Index(i));
                    self.error(
                        loc.value(&p),
                        format!(
                            "`allowed_cluster_scoped` item `{kind}` is not a kind; name kinds as Kubernetes spells them, e.g. `Namespace`, `ClusterRole`"
                        ),
                    );
                }
                if !out.contains(kind) {
                    out.push(kind.clone());
                }
            }
            out
        });
        let cluster = match &raw.cluster {
            Some(c) => {
                if !is_dns_label(c) {
                    self.error(
                        loc.value(&at("cluster")),
                        format!("`cluster` `{c}` is not a valid cluster name; {DNS_LABEL_HELP}"),
                    );
                } else {
                    // Named but perhaps unknown: deploying it anywhere else would be
                    // deploying it wrong, so the strict readers check it against the server's.
                    self.named_clusters
                        .push((loc.value(&at("cluster")), c.clone()));
                }
                c.clone()
            }
            None => DEFAULT_CLUSTER.to_string(),
        };
        let mut adopt: Vec<String> = Vec::new();
        for (i, rule) in raw.adopt.iter().flatten().enumerate() {
            let valid = match rule.split_once('/') {
                Some((kind, name)) => is_kind_name(kind) && is_object_name(name),
                None => is_kind_name(rule),
            };
            if !valid {
                let mut p = at("adopt");
                p.push(Seg::Index(i));
                self.error(
                    loc.value(&p),
                    format!(
                        "`adopt` item `{rule}` is neither a kind nor `Kind/name`; e.g. `ConfigMap` (every ConfigMap) or `Deployment/api` (one object)"
                    ),
                );
            } else if !adopt.contains(rule) {
                adopt.push(rule.clone());
            }
        }
        let health_timeout = match &raw.health_timeout {
            Some(text) => parse_duration(text).unwrap_or_else(|msg| {
                self.error(
                    loc.value(&at("health_timeout")),
                    format!("`health_timeout`: {msg}"),
                );
                DEFAULT_HEALTH_TIMEOUT
            }),
            None => DEFAULT_HEALTH_TIMEOUT,
        };
        let on_failure = match &raw.on_failure {
            Some(text) => OnFailure::from_config(text).unwrap_or_else(|| {
                let close = super::raw::closest(text, &OnFailure::VALUES)
                    .map(|v| format!("; did you mean `{v}`?"))
                    .unwrap_or_default();
                self.error(
                    loc.value(&at("on_failure")),
                    format!(
                        "`on_failure` must be `rollback` (apply the previous deploy again) or `none` (leave the cluster as it is), found {text:?}{close}"
                    ),
                );
                DEFAULT_ON_FAILURE
            }),
            None => DEFAULT_ON_FAILURE,
        };
        let drift_interval = match &raw.drift_interval {
            Some(text) => match parse_duration_or_zero(text) {
                Ok(interval) if interval.is_zero() => None,
                Ok(interval) => Some(interval),
                Err(msg) => {
                    self.error(
                        loc.value(&at("drift_interval")),
                        format!("`drift_interval`: {msg}, or `0` to turn drift checks off"),
                    );
                    Some(DEFAULT_DRIFT_INTERVAL)
                }
            },
            None => Some(DEFAULT_DRIFT_INTERVAL),
        };
        let self_heal = raw.self_heal.unwrap_or(DEFAULT_SELF_HEAL);
        // Healing happens when a drift check finds drift: without checks it never would, and a
        // file that asks for it should not read as if it were on.
        if self_heal && drift_interval.is_none() && !raw.reported.contains(&"drift_interval") {
            self.error(
                loc.value(&at("self_heal")),
                format!(
                    "`self_heal` needs drift checks, but `drift_interval` is `0` in environment `{name}`; set `drift_interval` (e.g. `10m`) or remove `self_heal`"
                ),
            );
        }
        let helm = raw.helm.as_ref().map(|h| self.helm(name, h));
        let bumped_by = raw
            .bumped_by
            .as_ref()
            .map(|entries| self.bumped_by(name, entries))
            .unwrap_or_default();
        Environment {
            name: name.clone(),
            path,
            namespace: raw.namespace.clone(),
            allowed_namespaces,
            allowed_cluster_scoped,
            cluster,
            adopt,
            required_approvals: raw.required_approvals.unwrap_or(DEFAULT_REQUIRED_APPROVALS),
            promote_from: raw.promote_from.clone(),
            prune: raw.prune.unwrap_or(DEFAULT_PRUNE),
            health_timeout,
            allow_stale_approvals: raw
                .allow_stale_approvals
                .unwrap_or(DEFAULT_ALLOW_STALE_APPROVALS),
            on_failure,
            production: raw.production.unwrap_or_else(|| default_production(name)),
            self_heal,
            drift_interval,
            helm,
            bumped_by,
        }
    }

    /// `bumped_by:`: image repositories (each once), each with distinct `owner/name` repos.
    fn bumped_by(&mut self, env: &str, entries: &[(String, Vec<String>)]) -> Vec<BumpSource> {
        let loc = self.loc;
        let mut out: Vec<BumpSource> = Vec::with_capacity(entries.len());
        for (image, repos) in entries {
            let at = keys(&["environments", env, "bumped_by", image]);
            if let Err(reason) = crate::bump::image::validate_repository(image) {
                self.error(
                    loc.key(&at),
                    format!(
                        "`bumped_by` key `{image}` is not an image repository: it {reason}; write the repository as `build.image` names it, e.g. `registry.example.com/team/api`"
                    ),
                );
                continue;
            }
            if let Some(earlier) = out
                .iter()
                .find(|s| crate::bump::image::same_repository(&s.image, image))
            {
                self.error(
                    loc.key(&at),
                    format!(
                        "`bumped_by` names image `{image}` twice (it is `{}` too); list its repositories once",
                        earlier.image
                    ),
                );
                continue;
            }
            let mut listed: Vec<String> = Vec::with_capacity(repos.len());
            for (i, repo) in repos.iter().enumerate() {
                let mut item = at.clone();
                item.push(Seg::Index(i));
                if !is_owner_slash_name(repo) {
                    self.error(
                        loc.value(&item),
                        format!(
                            "`bumped_by` of `{image}`: `{repo}` is not `owner/name`, e.g. `acme/api`"
                        ),
                    );
                } else if listed.iter().any(|r| r.eq_ignore_ascii_case(repo)) {
                    self.error(
                        loc.value(&item),
                        format!("`bumped_by` of `{image}` lists `{repo}` twice; list it once"),
                    );
                } else {
                    listed.push(repo.clone());
                }
            }
            out.push(BumpSource {
                image: image.clone(),
                repos: listed,
            });
        }
        out
    }

    fn helm(&mut self, env: &str, raw: &RawHelm) -> HelmSettings {
        let loc = self.loc;
        let at = |field: &str| keys(&["environments", env, "helm", field]);
        let item = |field: &str, i: usize| {
            let mut p = at(field);
            p.push(Seg::Index(i));
            p
        };
        let release = match &raw.release {
            Some(release) => {
                if !is_release_name(release) {
                    self.error(
                        loc.value(&at("release")),
                        format!(
                            "`helm.release` `{release}` is not a valid release name; use at most {MAX_RELEASE_NAME} lowercase letters, digits and `-`, starting and ending with a letter or digit"
                        ),
                    );
                }
                release.clone()
            }
            None => env.to_string(),
        };
        let values = raw.values.as_ref().map(|files| {
            let mut out = Vec::with_capacity(files.len());
            for (i, file) in files.iter().enumerate() {
                match repo_path(file, false) {
                    Ok(path) => out.push(path),
                    Err(msg) => self.error(
                        loc.value(&item("values", i)),
                        format!("`helm.values` item {msg}"),
                    ),
                }
            }
            out
        });
        self.helm
            .push((env.to_string(), values.clone().unwrap_or_default()));
        for (key, _) in raw.set.iter().flatten() {
            if let Err(msg) = check_set_key(key) {
                let mut p = at("set");
                p.push(Seg::Key(key.clone()));
                self.error(loc.key(&p), format!("`helm.set` key `{key}` {msg}"));
            }
        }
        let kube_version = match &raw.kube_version {
            Some(version) => {
                if !is_kube_version(version) {
                    self.error(
                        loc.value(&at("kube_version")),
                        format!(
                            "`helm.kube_version` `{version}` is not a Kubernetes version; write it as `1.32.0` or `v1.32`"
                        ),
                    );
                }
                version.clone()
            }
            None => DEFAULT_HELM_KUBE_VERSION.to_string(),
        };
        let api_versions = raw.api_versions.clone().unwrap_or_default();
        for (i, version) in api_versions.iter().enumerate() {
            if !is_api_version(version) {
                self.error(
                    loc.value(&item("api_versions", i)),
                    format!(
                        "`helm.api_versions` item `{version}` is not an API version; write `group/version` (`monitoring.coreos.com/v1`) or `group/version/Kind`"
                    ),
                );
            }
        }
        HelmSettings {
            release,
            values,
            set: raw.set.clone().unwrap_or_default(),
            kube_version,
            api_versions,
        }
    }

    /// `promote_from` must name another declared environment, and following it must never
    /// come back to where it started.
    fn promotions(&mut self, raw: &[RawEnvironment], envs: &BTreeMap<String, Environment>) {
        let loc = self.loc;
        let declared = || envs.keys().cloned().collect::<Vec<_>>().join(", ");
        for env in raw {
            let Some(from) = &env.promote_from else {
                continue;
            };
            let at = loc.value(&keys(&["environments", &env.name, "promote_from"]));
            if from == &env.name {
                self.error(
                    at,
                    format!(
                        "`promote_from` names `{from}` itself; name another environment ({})",
                        declared()
                    ),
                );
            } else if !envs.contains_key(from) {
                self.error(
                    at,
                    format!(
                        "`promote_from` names environment `{from}`, which is not declared; declared environments: {}",
                        declared()
                    ),
                );
            }
        }
        // Every environment has at most one `promote_from`, so following the chain from each
        // environment either ends or loops. A loop is reported once, at the member the file
        // declares first; a name promoting from itself was reported above.
        let mut reported: BTreeSet<&str> = BTreeSet::new();
        for env in raw {
            if reported.contains(env.name.as_str()) {
                continue;
            }
            let mut chain = vec![env.name.as_str()];
            let mut seen = BTreeSet::from([env.name.as_str()]);
            let mut current = env.name.as_str();
            while let Some(next) = envs.get(current).and_then(|e| e.promote_from.as_deref()) {
                if next == current {
                    break;
                }
                chain.push(next);
                if next == env.name {
                    self.error(
                        loc.value(&keys(&["environments", &env.name, "promote_from"])),
                        format!(
                            "`promote_from` forms a cycle: {}; promotions must flow one way",
                            chain.join(" → ")
                        ),
                    );
                    reported.extend(chain.iter().copied());
                    break;
                }
                if !seen.insert(next) {
                    break; // a loop that does not include `env`; reported from its own members
                }
                current = next;
            }
        }
    }

    fn build(&mut self, raw: &RawBuild) -> Build {
        let loc = self.loc;
        let at = |field: &str| keys(&["build", field]);
        let image = match &raw.image {
            Some(image) => {
                if let Err(msg) = check_image(image) {
                    self.error(loc.value(&at("image")), msg);
                }
                image.clone()
            }
            None => {
                if !raw.reported.contains(&"image") {
                    self.error(
                        loc.key(&keys(&["build"])),
                        "`build` has no `image`; it is required: the image repository builds push to, e.g. `registry.example.com/team/api`",
                    );
                }
                String::new()
            }
        };
        let dockerfile = match &raw.dockerfile {
            Some(p) => repo_path(p, false).unwrap_or_else(|msg| {
                self.error(loc.value(&at("dockerfile")), format!("`dockerfile` {msg}"));
                DEFAULT_DOCKERFILE.to_string()
            }),
            None => DEFAULT_DOCKERFILE.to_string(),
        };
        let context = match &raw.context {
            Some(p) => match repo_path(p, true) {
                Ok(p) if p.is_empty() => DEFAULT_CONTEXT.to_string(),
                Ok(p) => p,
                Err(msg) => {
                    self.error(loc.value(&at("context")), format!("`context` {msg}"));
                    DEFAULT_CONTEXT.to_string()
                }
            },
            None => DEFAULT_CONTEXT.to_string(),
        };
        let branches = raw.branches.clone().unwrap_or_default();
        for (i, branch) in branches.iter().enumerate() {
            if let Err(msg) = check_branch(branch) {
                let mut p = at("branches");
                p.push(Seg::Index(i));
                self.error(loc.value(&p), format!("`branches` item {msg}"));
            }
        }
        let args = raw.args.clone().unwrap_or_default();
        for (key, _) in &args {
            if !is_build_arg_name(key) {
                self.error(
                    loc.key(&keys(&["build", "args", key])),
                    format!("`{key}` is not a build arg name: letters, digits and `_`, not starting with a digit"),
                );
            }
        }
        Build {
            image,
            dockerfile,
            context,
            branches,
            args,
        }
    }

    fn deploy(&mut self, raw: &RawDeploy) -> Deploy {
        let loc = self.loc;
        let at = |field: &str| keys(&["deploy", field]);
        let missing = |check: &mut Self, field: &'static str, what: &str| {
            if !raw.reported.contains(&field) {
                check.error(
                    loc.key(&keys(&["deploy"])),
                    format!("`deploy` has no `{field}`; it is required: {what}"),
                );
            }
        };
        let repo = match &raw.repo {
            Some(repo) => {
                if !is_owner_slash_name(repo) {
                    self.error(
                        loc.value(&at("repo")),
                        format!("`repo` `{repo}` is not `owner/name`, e.g. `acme/gitops-config`"),
                    );
                }
                repo.clone()
            }
            None => {
                missing(self, "repo", "the config repo as `owner/name`");
                String::new()
            }
        };
        let environment = match &raw.environment {
            Some(environment) => {
                if !is_dns_label(environment) {
                    self.error(
                        loc.value(&at("environment")),
                        format!(
                            "`environment` `{environment}` is not a DNS label; {DNS_LABEL_HELP}"
                        ),
                    );
                }
                environment.clone()
            }
            None => {
                missing(
                    self,
                    "environment",
                    "the config repo's environment to deploy to",
                );
                String::new()
            }
        };
        Deploy { repo, environment }
    }
}

/// A Kubernetes kind: a letter, then letters and digits (`ClusterRole`, `CSIDriver`).
fn is_kind_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// An object's name as Kubernetes allows it (a DNS subdomain: at most 253 lowercase letters,
/// digits, `-` and `.`, starting and ending with a letter or digit).
fn is_object_name(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// The longest release name Helm accepts.
const MAX_RELEASE_NAME: usize = 53;

/// A release name Helm accepts: a DNS label of at most 53 characters.
fn is_release_name(s: &str) -> bool {
    is_dns_label(s) && s.len() <= MAX_RELEASE_NAME
}

/// A `--set`-style key: dotted names with optional `[n]` indexes. `,` and `=` would split
/// one setting into several, `\\` escapes and whitespace have no business in a key.
fn check_set_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("is empty".to_string());
    }
    match key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '[' | ']' | '/')))
    {
        Some(c) => Err(format!(
            "contains {c:?}; keys are dotted names with optional `[n]` indexes (`image.tag`, `hosts[0]`)"
        )),
        None if key.starts_with('.') || key.ends_with('.') || key.contains("..") => {
            Err("has an empty name between dots".to_string())
        }
        None => Ok(()),
    }
}

/// `1.32`, `1.32.0`, `v1.32.0`.
fn is_kube_version(s: &str) -> bool {
    let parts: Vec<&str> = s.strip_prefix('v').unwrap_or(s).split('.').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `v1`, `group/version` or `group/version/Kind`.
fn is_api_version(s: &str) -> bool {
    !s.is_empty()
        && s.split('/').count() <= 3
        && s.split('/').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
}

/// RFC 1123 label: 1–63 of `[a-z0-9-]`, starting and ending alphanumeric.
pub(crate) fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Normalises a repo-relative path: no leading `/`, no `.` or empty components, no trailing
/// `/`. Refuses absolute paths, `..`, `.git` and backslashes. `allow_root`: whether `.`
/// (normalised to the empty string) is acceptable.
pub(crate) fn repo_path(text: &str, allow_root: bool) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("must not be empty".to_string());
    }
    let bytes = text.as_bytes();
    if text.starts_with('/')
        || text.starts_with('\\')
        || (bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic())
    {
        return Err(format!(
            "must be relative to the repository root, found absolute path `{text}`"
        ));
    }
    if text.contains('\\') {
        return Err(format!(
            "must separate directories with `/`, found `{text}`"
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(format!(
            "must not contain control characters, found {text:?}"
        ));
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(format!(
                    "must stay inside the repository; `..` is not allowed, found `{text}`"
                ))
            }
            ".git" => return Err(format!("must not point into `.git`, found `{text}`")),
            p => parts.push(p),
        }
    }
    if parts.is_empty() && !allow_root {
        return Err(format!(
            "must name a directory below the repository root, found `{text}`"
        ));
    }
    Ok(parts.join("/"))
}

/// An image repository without tag or digest: `[host[:port]/]path`, lowercase path
/// components of `[a-z0-9._-]`.
fn check_image(image: &str) -> Result<(), String> {
    let help = "e.g. `registry.example.com/team/api`";
    if image.is_empty() || image.chars().any(char::is_whitespace) {
        return Err(format!(
            "`image` must be an image repository, {help}, found {image:?}"
        ));
    }
    if image.contains('@') {
        return Err(format!(
            "`image` must name a repository without a digest, found `{image}`; slipway sets the tag or digest of each build"
        ));
    }
    let parts: Vec<&str> = image.split('/').collect();
    let last = parts[parts.len() - 1];
    if last.contains(':') {
        return Err(format!(
            "`image` must name a repository without a tag, found `{image}`; slipway sets the tag of each build"
        ));
    }
    let path_parts = if parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
    {
        &parts[1..]
    } else {
        &parts[..]
    };
    for part in path_parts {
        let ok = !part.is_empty()
            && part.bytes().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
            })
            && part.as_bytes()[0].is_ascii_alphanumeric();
        if !ok {
            return Err(format!(
                "`image` `{image}` is not a valid image repository: path components use lowercase letters, digits, `.`, `_` and `-`; {help}"
            ));
        }
    }
    Ok(())
}

fn is_owner_slash_name(repo: &str) -> bool {
    let Some((owner, name)) = repo.split_once('/') else {
        return false;
    };
    !owner.is_empty()
        && owner
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        && !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// A branch name or glob (`main`, `release/*`) as git would accept it.
fn check_branch(branch: &str) -> Result<(), String> {
    let bad = branch.is_empty()
        || branch.starts_with('-')
        || branch.starts_with('/')
        || branch.ends_with('/')
        || branch.ends_with(".lock")
        || branch.contains("..")
        || branch.contains("//")
        || branch.contains("@{")
        || branch
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '~' | '^' | ':' | '\\'));
    if bad {
        Err(format!(
            "{branch:?} is not a valid branch name or pattern, e.g. `main` or `release/*`"
        ))
    } else {
        Ok(())
    }
}

/// What Dockerfiles accept after `ARG`, and what both builders pass through unchanged.
pub fn is_build_arg_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("dev"));
        assert!(is_dns_label("eu-west-1"));
        assert!(!is_dns_label("Dev"));
        assert!(!is_dns_label("-dev"));
        assert!(!is_dns_label("dev_1"));
        assert!(!is_dns_label(&"a".repeat(64)));
    }

    #[test]
    fn repo_paths_are_normalised_or_refused() {
        assert_eq!(repo_path("./envs//dev/", false).unwrap(), "envs/dev");
        assert!(repo_path("/etc", false).is_err());
        assert!(repo_path("envs/../../x", false).is_err());
        assert!(repo_path(".", false).is_err());
        assert_eq!(repo_path(".", true).unwrap(), "");
        assert!(repo_path(".git/hooks", false).is_err());
    }

    #[test]
    fn images_without_tags() {
        assert!(check_image("registry.example.com/team/api").is_ok());
        assert!(check_image("localhost:5000/api").is_ok());
        assert!(check_image("api").is_ok());
        assert!(check_image("registry.example.com/team/api:v1").is_err());
        assert!(check_image("api@sha256:abcd").is_err());
        assert!(check_image("Team/Api").is_err());
    }
}

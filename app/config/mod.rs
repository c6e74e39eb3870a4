//! `.github/slipway.yml`: the schemas of config repos and app repos, validated into domain types.
//!
//! Pure but for `read.rs`: every caller reads the file through [`read_at`] (or its helpers)
//! from a [`crate::render::TreeSource`] (a git revision or a directory), never on its own.
//!
//! Parsing happens in three steps: the YAML text becomes a generic YAML value (syntax errors
//! carry libyaml's position); [`raw`] checks its shape (known keys, types) into raw structs;
//! [`validate`] turns those into the domain types below (DNS labels, paths, `promote_from`,
//! durations). Every error carries the line and column of the offending key or value, and
//! every error of a file is reported, in file order; only YAML that does not parse stops at
//! its one syntax error.

pub mod clusters;
mod duration;
mod error;
mod load;
pub(crate) mod locate;
mod raw;
mod read;
mod validate;

use std::collections::BTreeMap;
use std::time::Duration;

pub use clusters::KnownClusters;
pub use duration::{format_duration, parse_duration, parse_duration_or_zero};
pub use error::{ConfigError, ConfigErrors};
pub use read::{check_at, read_at, read_config_repo_at, ReadError};
pub use validate::is_build_arg_name;

/// Where `.github/slipway.yml` lives in every repository slipway works with.
pub const CONFIG_PATH: &str = ".github/slipway.yml";

/// Default of [`Environment::cluster`] when the key is omitted.
pub const DEFAULT_CLUSTER: &str = "default";
/// Default of [`Environment::required_approvals`] when the key is omitted.
pub const DEFAULT_REQUIRED_APPROVALS: u32 = 0;
/// Default of [`Environment::prune`] when the key is omitted.
pub const DEFAULT_PRUNE: bool = false;
/// Default of [`Environment::health_timeout`] when the key is omitted: five minutes.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Default of [`Environment::allow_stale_approvals`] when the key is omitted.
pub const DEFAULT_ALLOW_STALE_APPROVALS: bool = false;
/// Default of [`Environment::on_failure`] when the key is omitted.
pub const DEFAULT_ON_FAILURE: OnFailure = OnFailure::Leave;
/// Environment names whose [`Environment::production`] defaults to true.
pub const PRODUCTION_NAMES: &[&str] = &["prod", "production"];
/// Default of [`Environment::self_heal`] when the key is omitted.
pub const DEFAULT_SELF_HEAL: bool = false;
/// Default of [`Environment::drift_interval`] when the key is omitted: ten minutes.
pub const DEFAULT_DRIFT_INTERVAL: Duration = Duration::from_secs(10 * 60);
/// Default of [`HelmSettings::kube_version`] when the key is omitted: what `.Capabilities`
/// report to a chart's templates.
pub const DEFAULT_HELM_KUBE_VERSION: &str = "1.32.0";
/// The values file of a Helm environment when `helm.values` is omitted: beside `Chart.yaml`.
pub const DEFAULT_HELM_VALUES: &str = "values.yaml";
/// Default of [`Build::dockerfile`] when the key is omitted.
pub const DEFAULT_DOCKERFILE: &str = "Dockerfile";
/// Default of [`Build::context`] when the key is omitted: the repository root.
pub const DEFAULT_CONTEXT: &str = ".";

/// A config repo's declared environments, keyed by name (a DNS label).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigRepoConfig {
    pub environments: BTreeMap<String, Environment>,
}

impl ConfigRepoConfig {
    /// The environment called `name`, if declared.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.get(name)
    }

    /// The declared environment names, comma-separated, for messages that list what exists.
    pub fn declared_names(&self) -> String {
        self.environments
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The environments that name `name` in their `promote_from`, in name order.
    pub fn promotion_targets(&self, name: &str) -> Vec<&Environment> {
        self.environments
            .values()
            .filter(|env| env.promote_from.as_deref() == Some(name))
            .collect()
    }
}

/// One deployment target of a config repo.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// The environment's name: the key under `environments:`, a DNS label (RFC 1123).
    pub name: String,
    /// Repo-relative directory, normalised (no leading `/`, no `..`, no trailing `/`).
    /// Required. Holds plain YAML/JSON manifests, a kustomization or a Helm chart
    /// (`Chart.yaml`).
    pub path: String,
    /// Default namespace for namespaced objects that carry none. Default: none (objects
    /// without a namespace stay without one).
    pub namespace: Option<String>,
    /// Namespaces this environment's objects may live in. Default: `[namespace]` when
    /// `namespace` is set; otherwise empty, which means any namespace. See
    /// [`Environment::allows_namespace`].
    pub allowed_namespaces: Vec<String>,
    /// Kinds of cluster-scoped objects this environment may hold (`[Namespace, ClusterRole]`).
    /// Default (`None`): every cluster-scoped kind when `allowed_namespaces` is empty, none
    /// otherwise. See [`Environment::allows_cluster_scoped`].
    pub allowed_cluster_scoped: Option<Vec<String>>,
    /// A cluster this slipway knows ([`KnownClusters`]). Default: [`DEFAULT_CLUSTER`]
    /// (`default`).
    pub cluster: String,
    /// Objects a deploy may take over when it finds them in the cluster without slipway's
    /// labels (made by hand, or by another tool): `Kind` (every object of that kind) or
    /// `Kind/name`. Default: none — a deploy that finds such an object is refused. Objects of
    /// another environment are never adopted. See [`Environment::may_adopt`].
    pub adopt: Vec<String>,
    /// Approving reviews slipway requires before it deploys a change to this environment, on
    /// top of branch protection. Default: [`DEFAULT_REQUIRED_APPROVALS`] (0: branch
    /// protection alone decides).
    pub required_approvals: u32,
    /// The environment whose deployed images `/promote` copies into this one. Default: none.
    pub promote_from: Option<String>,
    /// Delete objects that were deployed before and are no longer rendered. Default:
    /// [`DEFAULT_PRUNE`] (false).
    pub prune: bool,
    /// How long a deploy waits for its objects to become healthy before it fails. Default:
    /// [`DEFAULT_HEALTH_TIMEOUT`] (5m).
    pub health_timeout: Duration,
    /// Count approvals of an earlier head commit of the pull request too. Default:
    /// [`DEFAULT_ALLOW_STALE_APPROVALS`] (false: an approval counts only for the commit that
    /// was reviewed, so a push after it needs a new one).
    pub allow_stale_approvals: bool,
    /// What a deploy that fails (apply error, health timeout) does to the cluster. Default:
    /// [`DEFAULT_ON_FAILURE`] (`none`).
    pub on_failure: OnFailure,
    /// Marks the environment's GitHub Deployments as production
    /// (`production_environment`). Default: true for the names in [`PRODUCTION_NAMES`]
    /// (`prod`, `production`), false otherwise; see [`default_production`].
    pub production: bool,
    /// When a drift check finds the cluster differs from the last deployed commit, apply that
    /// commit again. Default: [`DEFAULT_SELF_HEAL`] (false: drift is only reported). Needs
    /// drift checks (`drift_interval` not `0`).
    pub self_heal: bool,
    /// How often the cluster is compared with the last deployed commit; `None` (`0` in the
    /// file) turns drift checks off. Default: [`DEFAULT_DRIFT_INTERVAL`] (10m).
    pub drift_interval: Option<Duration>,
    /// `helm:`: how the chart at `path` is templated. Default (`None`): every setting at its
    /// default (see [`Environment::helm_settings`]). Only a path holding a `Chart.yaml` may
    /// declare it.
    pub helm: Option<HelmSettings>,
    /// `bumped_by:`: for each image (a repository, no tag), the app repositories (`owner/name`)
    /// whose builds may bump it here. Default: none, so no build bumps this environment; the
    /// config repo decides whose builds may change what it runs, not the app repos.
    pub bumped_by: Vec<BumpSource>,
}

/// One entry of an environment's `bumped_by:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BumpSource {
    /// The image repository, as written (`registry.example.com/team/api`).
    pub image: String,
    /// The app repositories, `owner/name`, whose builds may set it.
    pub repos: Vec<String>,
}

/// `helm:` of an environment whose path holds a Helm chart.
#[derive(Debug, Clone, PartialEq)]
pub struct HelmSettings {
    /// The release name templates see as `.Release.Name`. Default: the environment's name.
    pub release: String,
    /// Repo-relative values files, normalised, passed in order (later ones win). Default
    /// (`None`): [`DEFAULT_HELM_VALUES`] beside `Chart.yaml`, when the chart has one.
    pub values: Option<Vec<String>>,
    /// `set:`: `--set`-style keys (`image.tag`, `ingress.hosts[0]`) and the string each is set
    /// to, in file order. Default: none.
    pub set: Vec<(String, String)>,
    /// The Kubernetes version `.Capabilities.KubeVersion` reports. Default:
    /// [`DEFAULT_HELM_KUBE_VERSION`].
    pub kube_version: String,
    /// API versions `.Capabilities.APIVersions` reports besides the built-in ones
    /// (`monitoring.coreos.com/v1`). Default: none.
    pub api_versions: Vec<String>,
}

/// `on_failure:` of an environment: what happens after a deploy fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnFailure {
    /// `rollback`: apply the previously deployed commit again.
    Rollback,
    /// `none`: leave the cluster as the failed deploy left it, for a person to look at.
    Leave,
}

impl OnFailure {
    /// The values the file accepts, as written there.
    pub const VALUES: [&'static str; 2] = ["rollback", "none"];

    /// The value as the file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Rollback => "rollback",
            OnFailure::Leave => "none",
        }
    }

    /// The value of `text` as the file writes it, if it is one.
    pub fn from_config(text: &str) -> Option<Self> {
        match text {
            "rollback" => Some(OnFailure::Rollback),
            "none" => Some(OnFailure::Leave),
            _ => None,
        }
    }
}

impl std::fmt::Display for OnFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Default of [`Environment::production`] for an environment called `name`: true for
/// [`PRODUCTION_NAMES`].
pub fn default_production(name: &str) -> bool {
    PRODUCTION_NAMES.contains(&name)
}

impl Environment {
    /// The repositories whose builds may bump `image` here (`bumped_by:`), or `None` when the
    /// environment names no such image. Images match as a container runtime resolves them.
    pub fn bump_sources(&self, image: &str) -> Option<&[String]> {
        self.bumped_by
            .iter()
            .find(|source| crate::bump::image::same_repository(&source.image, image))
            .map(|source| source.repos.as_slice())
    }

    /// Whether builds of `repo` (`owner/name`) may bump `image` here. GitHub names are
    /// case-insensitive.
    pub fn allows_bump(&self, image: &str, repo: &str) -> bool {
        self.bump_sources(image)
            .is_some_and(|repos| repos.iter().any(|r| r.eq_ignore_ascii_case(repo)))
    }

    /// The environment's `helm:` settings, with every omitted one at its default.
    pub fn helm_settings(&self) -> HelmSettings {
        self.helm.clone().unwrap_or_else(|| HelmSettings {
            release: self.name.clone(),
            values: None,
            set: Vec::new(),
            kube_version: DEFAULT_HELM_KUBE_VERSION.to_string(),
            api_versions: Vec::new(),
        })
    }

    /// Whether objects of this environment may live in `namespace`: always when
    /// `allowed_namespaces` is empty, otherwise only for the listed ones.
    pub fn allows_namespace(&self, namespace: &str) -> bool {
        self.allowed_namespaces.is_empty() || self.allowed_namespaces.iter().any(|n| n == namespace)
    }

    /// Whether a deploy may take over the object `kind`/`name` that carries no slipway
    /// inventory label: listed in `adopt` by kind, or by kind and name.
    pub fn may_adopt(&self, kind: &str, name: &str) -> bool {
        self.adopt.iter().any(|rule| match rule.split_once('/') {
            Some((k, n)) => k == kind && n == name,
            None => rule == kind,
        })
    }

    /// Whether this environment may hold cluster-scoped objects of `kind`: the listed kinds
    /// when `allowed_cluster_scoped` is set; otherwise any kind, unless the namespaces are
    /// restricted (an environment kept to some namespaces must not reach past them).
    pub fn allows_cluster_scoped(&self, kind: &str) -> bool {
        match &self.allowed_cluster_scoped {
            Some(kinds) => kinds.iter().any(|k| k == kind),
            None => self.allowed_namespaces.is_empty(),
        }
    }
}

/// An app repo's declaration: how its image is built and where it is deployed.
#[derive(Debug, Clone, PartialEq)]
pub struct AppRepoConfig {
    pub build: Build,
    /// Where a successful build's image tag is bumped. Default: none (build only).
    pub deploy: Option<Deploy>,
}

/// `build:` of an app repo.
#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    /// Image repository the build pushes to, without tag or digest
    /// (`registry.example.com/team/api`). Required.
    pub image: String,
    /// Repo-relative path of the Dockerfile. Default: [`DEFAULT_DOCKERFILE`] (`Dockerfile`).
    pub dockerfile: String,
    /// Repo-relative build context directory, normalised (`.` is the repository root).
    /// Default: [`DEFAULT_CONTEXT`] (`.`).
    pub context: String,
    /// Branches whose pushes are built. Default: empty, meaning the repository's default
    /// branch only.
    pub branches: Vec<String>,
    /// `args:`: build args passed to the builder (`--build-arg KEY=value`), in file order.
    /// Default: none.
    pub args: Vec<(String, String)>,
}

/// `deploy:` of an app repo.
#[derive(Debug, Clone, PartialEq)]
pub struct Deploy {
    /// The config repo, as `owner/name`. Required.
    pub repo: String,
    /// The environment of that config repo whose image tag is bumped. Required; a DNS label.
    pub environment: String,
}

/// Everything one `.github/slipway.yml` declares: a config repo's environments, an app repo's
/// build and deploy, or both. At least one of the two is present.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoConfig {
    /// Present when the file has `environments:`.
    pub config_repo: Option<ConfigRepoConfig>,
    /// Present when the file has `build:` (and optionally `deploy:`).
    pub app_repo: Option<AppRepoConfig>,
}

/// Parses and validates a `.github/slipway.yml` holding `environments:`, `build:`/`deploy:`, or
/// both, for a slipway that knows only the cluster `default` (see [`parse_repo_config_for`]).
pub fn parse_repo_config(text: &str) -> Result<RepoConfig, ConfigErrors> {
    parse_repo_config_for(text, &KnownClusters::default())
}

/// Parses and validates a `.github/slipway.yml` holding `environments:`, `build:`/`deploy:`, or
/// both. An environment naming a cluster not in `known` is an error here.
pub fn parse_repo_config_for(
    text: &str,
    known: &KnownClusters,
) -> Result<RepoConfig, ConfigErrors> {
    let (validated, _) = validated(text)?;
    let unknown = validated.unknown_clusters(known);
    let mut errors = validated.errors;
    errors.extend(unknown);
    finish(validated.config, errors)
}

/// Parses and validates a config repo's `.github/slipway.yml`; an error when it declares no
/// `environments:`. What deploys, drift checks and commands read: an environment naming a
/// cluster slipway does not know is read as written, so that each of them refuses that
/// environment by name ([`KnownClusters::refusal`]) while the file's other environments go on;
/// `check-config` and the preview ([`parse_repo_config_for`]) report it as an error.
pub fn parse_config_repo(text: &str) -> Result<ConfigRepoConfig, ConfigErrors> {
    let (validated, top) = validated(text)?;
    let config = finish(validated.config, validated.errors)?;
    config.config_repo.ok_or_else(|| {
        ConfigError::new(
            top,
            "no `environments:` here: a config repo declares its environments under `environments:`",
        )
        .into()
    })
}

/// Parses and validates an app repo's `.github/slipway.yml`; an error when it declares no
/// `build:`.
pub fn parse_app_repo(text: &str) -> Result<AppRepoConfig, ConfigErrors> {
    let (validated, top) = validated(text)?;
    let config = finish(validated.config, validated.errors)?;
    config.app_repo.ok_or_else(|| {
        ConfigError::new(
            top,
            "no `build:` here: an app repo declares how its image is built under `build:`",
        )
        .into()
    })
}

/// What a repository holds at an environment's `path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Directory,
    File,
    Symlink,
    Missing,
}

/// Like [`parse_repo_config_for`], and also checks that each environment's `path` names a
/// directory in the repository, asking `kind_at` what is at each (repo-relative, normalised)
/// path. A path that is not there is an error at its `path:` value, reported with the file's
/// other errors.
pub fn check_repo_config<E>(
    text: &str,
    known: &KnownClusters,
    mut kind_at: impl FnMut(&str) -> Result<PathKind, E>,
) -> Result<Result<RepoConfig, ConfigErrors>, E> {
    let (validated, _, locator) = match validate_text(text) {
        Ok(found) => found,
        Err(syntax) => return Ok(Err(syntax.into())),
    };
    let unknown = validated.unknown_clusters(known);
    let mut errors = validated.errors;
    errors.extend(unknown);
    for (name, path) in &validated.paths {
        let problem = match kind_at(path)? {
            PathKind::Directory => continue,
            PathKind::Missing => "does not exist in the repository",
            PathKind::File => "is a file; it must be a directory of manifests",
            PathKind::Symlink => {
                "is a symlink, which slipway does not follow; name the directory itself"
            }
        };
        errors.push(ConfigError::new(
            locator.value(&locate::keys(&["environments", name, "path"])),
            format!("`path` `{path}` of environment `{name}` {problem}"),
        ));
    }
    // `helm:` only means something for a chart; its values files must be there to be read.
    for (name, values) in &validated.helm {
        let Some((_, path)) = validated.paths.iter().find(|(env, _)| env == name) else {
            continue;
        };
        if kind_at(path)? != PathKind::Directory {
            continue; // reported above
        }
        if kind_at(&format!("{path}/Chart.yaml"))? != PathKind::File {
            errors.push(ConfigError::new(
                locator.key(&locate::keys(&["environments", name, "helm"])),
                format!(
                    "environment `{name}` declares `helm`, but `{path}` holds no `Chart.yaml`; `helm` is for environments whose path is a Helm chart"
                ),
            ));
            continue;
        }
        for (i, file) in values.iter().enumerate() {
            if kind_at(file)? != PathKind::File {
                let mut at = locate::keys(&["environments", name, "helm", "values"]);
                at.push(locate::Seg::Index(i));
                errors.push(ConfigError::new(
                    locator.value(&at),
                    format!("`helm.values` file `{file}` of environment `{name}` is not a file in the repository"),
                ));
            }
        }
    }
    Ok(finish(validated.config, errors))
}

/// Validates `text`; the top-level position is for errors about what the file lacks.
fn validated(text: &str) -> Result<(validate::Validated, error::Position), ConfigErrors> {
    let (validated, top, _) = validate_text(text)?;
    Ok((validated, top))
}

fn validate_text(
    text: &str,
) -> Result<(validate::Validated, error::Position, locate::Locator<'_>), ConfigError> {
    let (raw, locator, shape_errors) = raw::parse(text)?;
    let validated = validate::repo_config(&raw, &locator, shape_errors);
    let top = locator.top();
    Ok((validated, top, locator))
}

fn finish(config: RepoConfig, errors: Vec<ConfigError>) -> Result<RepoConfig, ConfigErrors> {
    match ConfigErrors::from_vec(errors) {
        Some(errors) => Err(errors),
        None => Ok(config),
    }
}

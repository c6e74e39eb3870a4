//! Shape checks: YAML text → raw structs with the right keys and value types.
//!
//! Semantic checks (names, paths, references, durations) happen in `validate`.
//!
//! Every shape error is collected, not only the first: a value of the wrong type is
//! reported and left out, and its key is remembered as reported so that `validate` does not
//! also call it missing. So is a known key that an unknown one is a likely typo of
//! (`pth` for `path`): one mistake, one error.

use std::cell::RefCell;

use serde_yaml_ng::{Mapping, Value};

use super::error::{ConfigError, Position};
use super::load::{duplicate_keys, parse_value, DuplicateKey};
use super::locate::{yaml_error_parts, KeyPath, Locator, Seg};

/// Keys allowed at the top of the file.
pub(crate) const TOP_KEYS: &[&str] = &["environments", "build", "deploy"];
/// Keys allowed in one environment.
pub(crate) const ENVIRONMENT_KEYS: &[&str] = &[
    "path",
    "namespace",
    "allowed_namespaces",
    "allowed_cluster_scoped",
    "cluster",
    "adopt",
    "required_approvals",
    "promote_from",
    "prune",
    "health_timeout",
    "allow_stale_approvals",
    "on_failure",
    "production",
    "self_heal",
    "drift_interval",
    "helm",
    "bumped_by",
];
/// Keys allowed under an environment's `helm:`.
pub(crate) const HELM_KEYS: &[&str] = &["release", "values", "set", "kube_version", "api_versions"];
/// Keys allowed under `build:`.
pub(crate) const BUILD_KEYS: &[&str] = &["image", "dockerfile", "context", "branches", "args"];
/// Keys allowed under `deploy:`.
pub(crate) const DEPLOY_KEYS: &[&str] = &["repo", "environment"];

/// The whole file, shape-checked. Omitted keys, explicit nulls and refused values are `None`.
#[derive(Debug, Default)]
pub(crate) struct RawFile {
    /// Environments in the order the file declares them.
    pub environments: Option<Vec<RawEnvironment>>,
    pub build: Option<RawBuild>,
    pub deploy: Option<RawDeploy>,
    /// Keys whose mistakes are already reported: a value of the wrong shape, or a likely
    /// misspelling of the key.
    pub reported: Vec<&'static str>,
}

#[derive(Debug, Default)]
pub(crate) struct RawEnvironment {
    pub name: String,
    /// Keys whose mistakes are already reported: a value of the wrong shape, or a likely
    /// misspelling of the key.
    pub reported: Vec<&'static str>,
    pub path: Option<String>,
    pub namespace: Option<String>,
    pub allowed_namespaces: Option<Vec<String>>,
    pub allowed_cluster_scoped: Option<Vec<String>>,
    pub cluster: Option<String>,
    pub adopt: Option<Vec<String>>,
    pub required_approvals: Option<u32>,
    pub promote_from: Option<String>,
    pub prune: Option<bool>,
    pub health_timeout: Option<String>,
    pub allow_stale_approvals: Option<bool>,
    pub on_failure: Option<String>,
    pub production: Option<bool>,
    pub self_heal: Option<bool>,
    /// A duration's text; an integer `0` is taken as `"0"`.
    pub drift_interval: Option<String>,
    pub helm: Option<RawHelm>,
    /// `bumped_by:` in file order: each image with the app repos whose builds may bump it.
    pub bumped_by: Option<Vec<(String, Vec<String>)>>,
}

/// `helm:` of an environment.
#[derive(Debug, Default)]
pub(crate) struct RawHelm {
    /// Keys whose mistakes are already reported.
    pub reported: Vec<&'static str>,
    pub release: Option<String>,
    pub values: Option<Vec<String>>,
    /// `set:` in file order; numbers and booleans are taken as their text.
    pub set: Option<Vec<(String, String)>>,
    pub kube_version: Option<String>,
    pub api_versions: Option<Vec<String>>,
}

#[derive(Debug, Default)]
pub(crate) struct RawBuild {
    /// Keys whose mistakes are already reported: a value of the wrong shape, or a likely
    /// misspelling of the key.
    pub reported: Vec<&'static str>,
    pub image: Option<String>,
    pub dockerfile: Option<String>,
    pub context: Option<String>,
    pub branches: Option<Vec<String>>,
    /// `args:` in file order; numbers and booleans are taken as their text.
    pub args: Option<Vec<(String, String)>>,
}

#[derive(Debug, Default)]
pub(crate) struct RawDeploy {
    /// Keys whose mistakes are already reported: a value of the wrong shape, or a likely
    /// misspelling of the key.
    pub reported: Vec<&'static str>,
    pub repo: Option<String>,
    pub environment: Option<String>,
}

/// Parses `text` and checks its shape: the raw file with every shape error found (duplicate
/// keys included), or the one error of YAML that does not parse.
pub(crate) fn parse(text: &str) -> Result<(RawFile, Locator<'_>, Vec<ConfigError>), ConfigError> {
    let locator = Locator::new(text);
    let mut value = parse_value(text).map_err(|err| {
        let (position, message) = yaml_error_parts(&err);
        ConfigError::new(
            position.unwrap_or(Position::START),
            format!("invalid YAML: {message}"),
        )
    })?;
    value.apply_merge().map_err(|err| {
        let (_, message) = yaml_error_parts(&err);
        ConfigError::new(locator.top(), format!("invalid YAML merge key: {message}"))
    })?;
    let shape = Shape {
        loc: &locator,
        errors: RefCell::new(duplicate_keys(text).iter().map(duplicate).collect()),
    };
    let raw = shape.file(&value);
    let errors = shape.errors.into_inner();
    Ok((raw, locator, errors))
}

fn duplicate(dup: &DuplicateKey) -> ConfigError {
    let within = match dup.parents.as_slice() {
        [] => "at the top level".to_string(),
        [env, name] if env == "environments" => format!("in environment `{name}`"),
        parents => format!("in `{}`", parents.join(".")),
    };
    ConfigError::new(
        dup.position,
        format!(
            "duplicate key `{}` {within}: it is already set on line {}; keep one of them",
            dup.key, dup.first.line
        ),
    )
}

/// A value that was reported as having the wrong shape and left out.
struct Refused;

/// What a shape check gives: the value (`None` when absent or null), or [`Refused`].
type Checked<T> = Result<Option<T>, Refused>;

/// A known key, its value and its key path.
type Entry<'v> = (&'static str, &'v Value, Vec<Seg>);

struct Shape<'l, 'a> {
    loc: &'l Locator<'a>,
    errors: RefCell<Vec<ConfigError>>,
}

impl Shape<'_, '_> {
    fn report(&self, error: ConfigError) -> Refused {
        self.errors.borrow_mut().push(error);
        Refused
    }

    fn file(&self, value: &Value) -> RawFile {
        let mut raw = RawFile::default();
        let path: Vec<Seg> = Vec::new();
        let map = match value {
            Value::Null => {
                self.report(ConfigError::new(
                    Position::START,
                    "the file is empty: declare `environments:` (a config repo) or `build:` (an app repo)",
                ));
                return raw;
            }
            other => match self.mapping(other, &path, "the file") {
                Ok(map) => map,
                Err(Refused) => return raw,
            },
        };
        for (key, value, path) in
            self.entries(map, &path, TOP_KEYS, "at the top level", &mut raw.reported)
        {
            let checked = match key {
                "environments" => self
                    .environments(value, &path)
                    .map(|v| raw.environments = v),
                "build" => self.build(value, &path).map(|v| raw.build = v),
                "deploy" => self.deploy(value, &path).map(|v| raw.deploy = v),
                _ => unreachable!("entries() only yields allowed keys"),
            };
            if checked.is_err() {
                raw.reported.push(key);
            }
        }
        raw
    }

    fn environments(&self, value: &Value, path: &KeyPath) -> Checked<Vec<RawEnvironment>> {
        if value.is_null() {
            return Ok(None);
        }
        let map = self.mapping(value, path, "`environments`")?;
        let mut envs = Vec::with_capacity(map.len());
        for (name, value) in map {
            let Ok(name) = self.key_str(name, path) else {
                continue;
            };
            let env_path = child(path, name);
            let mut env = RawEnvironment {
                name: name.to_string(),
                ..RawEnvironment::default()
            };
            let what = format!("environment `{name}`");
            if value.is_null() {
                // `dev:` with nothing under it: validate reports the missing `path`.
                envs.push(env);
                continue;
            }
            let Ok(map) = self.mapping(value, &env_path, &what) else {
                continue;
            };
            for (key, value, p) in self.entries(
                map,
                &env_path,
                ENVIRONMENT_KEYS,
                &format!("in {what}"),
                &mut env.reported,
            ) {
                let checked = match key {
                    "path" => self.string(value, &p).map(|v| env.path = v),
                    "namespace" => self.string(value, &p).map(|v| env.namespace = v),
                    "allowed_namespaces" => self
                        .string_list(value, &p)
                        .map(|v| env.allowed_namespaces = v),
                    "allowed_cluster_scoped" => self
                        .string_list(value, &p)
                        .map(|v| env.allowed_cluster_scoped = v),
                    "cluster" => self.string(value, &p).map(|v| env.cluster = v),
                    "adopt" => self.string_list(value, &p).map(|v| env.adopt = v),
                    "required_approvals" => {
                        self.count(value, &p).map(|v| env.required_approvals = v)
                    }
                    "promote_from" => self.string(value, &p).map(|v| env.promote_from = v),
                    "prune" => self.boolean(value, &p).map(|v| env.prune = v),
                    "health_timeout" => self.duration(value, &p).map(|v| env.health_timeout = v),
                    "allow_stale_approvals" => self
                        .boolean(value, &p)
                        .map(|v| env.allow_stale_approvals = v),
                    "on_failure" => self.string(value, &p).map(|v| env.on_failure = v),
                    "production" => self.boolean(value, &p).map(|v| env.production = v),
                    "self_heal" => self.boolean(value, &p).map(|v| env.self_heal = v),
                    "drift_interval" => self
                        .duration_or_zero(value, &p)
                        .map(|v| env.drift_interval = v),
                    "helm" => self.helm(value, &p, name).map(|v| env.helm = v),
                    "bumped_by" => self.list_map(value, &p).map(|v| env.bumped_by = v),
                    _ => unreachable!("entries() only yields allowed keys"),
                };
                if checked.is_err() {
                    env.reported.push(key);
                }
            }
            envs.push(env);
        }
        Ok(Some(envs))
    }

    fn helm(&self, value: &Value, path: &KeyPath, env: &str) -> Checked<RawHelm> {
        if value.is_null() {
            return Ok(None);
        }
        let map = self.mapping(value, path, "`helm`")?;
        let mut helm = RawHelm::default();
        let context = format!("in `helm` of environment `{env}`");
        for (key, value, p) in self.entries(map, path, HELM_KEYS, &context, &mut helm.reported) {
            let checked = match key {
                "release" => self.string(value, &p).map(|v| helm.release = v),
                "values" => self.string_list(value, &p).map(|v| helm.values = v),
                "set" => self.scalar_map(value, &p).map(|v| helm.set = v),
                "kube_version" => self.version(value, &p).map(|v| helm.kube_version = v),
                "api_versions" => self.string_list(value, &p).map(|v| helm.api_versions = v),
                _ => unreachable!("entries() only yields allowed keys"),
            };
            if checked.is_err() {
                helm.reported.push(key);
            }
        }
        Ok(Some(helm))
    }

    /// A version: a string, or a number YAML read from `1.32`.
    fn version(&self, value: &Value, path: &KeyPath) -> Checked<String> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            Value::Number(n) => Ok(Some(n.to_string())),
            other => Err(self.wrong_type(other, path, &field(path), "a version, e.g. `1.32.0`")),
        }
    }

    fn build(&self, value: &Value, path: &KeyPath) -> Checked<RawBuild> {
        if value.is_null() {
            return Ok(None);
        }
        let map = self.mapping(value, path, "`build`")?;
        let mut build = RawBuild::default();
        for (key, value, p) in
            self.entries(map, path, BUILD_KEYS, "in `build`", &mut build.reported)
        {
            let checked = match key {
                "image" => self.string(value, &p).map(|v| build.image = v),
                "dockerfile" => self.string(value, &p).map(|v| build.dockerfile = v),
                "context" => self.string(value, &p).map(|v| build.context = v),
                "branches" => self.string_list(value, &p).map(|v| build.branches = v),
                "args" => self.scalar_map(value, &p).map(|v| build.args = v),
                _ => unreachable!("entries() only yields allowed keys"),
            };
            if checked.is_err() {
                build.reported.push(key);
            }
        }
        Ok(Some(build))
    }

    fn deploy(&self, value: &Value, path: &KeyPath) -> Checked<RawDeploy> {
        if value.is_null() {
            return Ok(None);
        }
        let map = self.mapping(value, path, "`deploy`")?;
        let mut deploy = RawDeploy::default();
        for (key, value, p) in
            self.entries(map, path, DEPLOY_KEYS, "in `deploy`", &mut deploy.reported)
        {
            let checked = match key {
                "repo" => self.string(value, &p).map(|v| deploy.repo = v),
                "environment" => self.string(value, &p).map(|v| deploy.environment = v),
                _ => unreachable!("entries() only yields allowed keys"),
            };
            if checked.is_err() {
                deploy.reported.push(key);
            }
        }
        Ok(Some(deploy))
    }

    /// The entries of `map` whose keys are strings in `allowed`, in file order, each with its
    /// key path; every other key is reported, and the allowed keys it is a likely typo of are
    /// added to `misspelled`.
    fn entries<'v>(
        &self,
        map: &'v Mapping,
        path: &KeyPath,
        allowed: &'static [&'static str],
        context: &str,
        misspelled: &mut Vec<&'static str>,
    ) -> Vec<Entry<'v>> {
        let mut out = Vec::with_capacity(map.len());
        for (key, value) in map {
            let Ok(key) = self.key_str(key, path) else {
                continue;
            };
            let key_path = child(path, key);
            match allowed.iter().find(|a| **a == key) {
                Some(known) => out.push((*known, value, key_path)),
                None => {
                    let close = closest(key, allowed);
                    misspelled.extend(close);
                    let suggestion = close
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    self.report(ConfigError::new(
                        self.loc.key(&key_path),
                        format!(
                            "unknown key `{key}` {context}{suggestion} allowed keys: {}",
                            allowed.join(", ")
                        ),
                    ));
                }
            }
        }
        out
    }

    fn key_str<'v>(&self, key: &'v Value, path: &KeyPath) -> Result<&'v str, Refused> {
        key.as_str().ok_or_else(|| {
            // Scalar keys are found by their text (`5`, `true`); others at their mapping.
            let text = match key {
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            };
            let position = match text {
                Some(text) => self.loc.key(&child(path, &text)),
                None if path.is_empty() => self.loc.top(),
                None => self.loc.value(path),
            };
            self.report(ConfigError::new(
                position,
                format!("keys must be strings, found {} {}", kind_of(key), show(key)),
            ))
        })
    }

    fn mapping<'v>(
        &self,
        value: &'v Value,
        path: &KeyPath,
        what: &str,
    ) -> Result<&'v Mapping, Refused> {
        value
            .as_mapping()
            .ok_or_else(|| self.wrong_type(value, path, what, "a mapping"))
    }

    fn string(&self, value: &Value, path: &KeyPath) -> Checked<String> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(self.wrong_type(other, path, &field(path), "a string")),
        }
    }

    /// A mapping of string keys to scalars (strings, numbers, booleans), as their text.
    fn scalar_map(&self, value: &Value, path: &KeyPath) -> Checked<Vec<(String, String)>> {
        if value.is_null() {
            return Ok(None);
        }
        let map = self.mapping(value, path, &field(path))?;
        let mut out = Vec::with_capacity(map.len());
        let mut refused = false;
        for (key, value) in map {
            let Ok(key) = self.key_str(key, path) else {
                refused = true;
                continue;
            };
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    self.wrong_type(
                        other,
                        &child(path, key),
                        &format!("`{key}` of {}", field(path)),
                        "a string, number or boolean",
                    );
                    refused = true;
                    continue;
                }
            };
            out.push((key.to_string(), text));
        }
        if refused {
            Err(Refused)
        } else {
            Ok(Some(out))
        }
    }

    /// A mapping of string keys to lists of strings, in file order.
    fn list_map(&self, value: &Value, path: &KeyPath) -> Checked<Vec<(String, Vec<String>)>> {
        if value.is_null() {
            return Ok(None);
        }
        let map = self.mapping(value, path, &field(path))?;
        let mut out = Vec::with_capacity(map.len());
        let mut refused = false;
        for (key, value) in map {
            let Ok(key) = self.key_str(key, path) else {
                refused = true;
                continue;
            };
            match self.string_list(value, &child(path, key)) {
                Ok(list) => out.push((key.to_string(), list.unwrap_or_default())),
                Err(Refused) => refused = true,
            }
        }
        if refused {
            Err(Refused)
        } else {
            Ok(Some(out))
        }
    }

    fn string_list(&self, value: &Value, path: &KeyPath) -> Checked<Vec<String>> {
        let items = match value {
            Value::Null => return Ok(None),
            Value::Sequence(items) => items,
            other => return Err(self.wrong_type(other, path, &field(path), "a list of strings")),
        };
        let mut out = Vec::with_capacity(items.len());
        let mut refused = false;
        for (i, item) in items.iter().enumerate() {
            let mut item_path = path.to_vec();
            item_path.push(Seg::Index(i));
            match item {
                Value::String(s) => out.push(s.clone()),
                other => {
                    self.wrong_type(
                        other,
                        &item_path,
                        &format!("item {} of {}", i + 1, field(path)),
                        "a string",
                    );
                    refused = true;
                }
            }
        }
        if refused {
            Err(Refused)
        } else {
            Ok(Some(out))
        }
    }

    fn boolean(&self, value: &Value, path: &KeyPath) -> Checked<bool> {
        match value {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            other => Err(self.wrong_type(other, path, &field(path), "`true` or `false`")),
        }
    }

    fn count(&self, value: &Value, path: &KeyPath) -> Checked<u32> {
        match value {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    self.wrong_type(value, path, &field(path), "a non-negative integer")
                }),
            other => Err(self.wrong_type(other, path, &field(path), "a non-negative integer")),
        }
    }

    fn duration(&self, value: &Value, path: &KeyPath) -> Checked<String> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(self.wrong_type(
                other,
                path,
                &field(path),
                "a duration with a unit (h, m, s), e.g. `90s`, `5m`, `1h30m`",
            )),
        }
    }

    /// Like [`Shape::duration`], and also the integer `0`, which YAML reads as a number
    /// (`drift_interval: 0` turns drift checks off).
    fn duration_or_zero(&self, value: &Value, path: &KeyPath) -> Checked<String> {
        match value {
            Value::Number(n) if n.as_u64() == Some(0) => Ok(Some("0".to_string())),
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(self.wrong_type(
                other,
                path,
                &field(path),
                "a duration with a unit (h, m, s), e.g. `90s`, `5m`, `1h30m`, or `0` to turn it off",
            )),
        }
    }

    fn wrong_type(&self, value: &Value, path: &KeyPath, what: &str, expected: &str) -> Refused {
        self.report(ConfigError::new(
            if path.is_empty() {
                self.loc.top()
            } else {
                self.loc.value(path)
            },
            format!(
                "{what} must be {expected}, found {} {}",
                kind_of(value),
                show(value)
            ),
        ))
    }
}

fn child(path: &KeyPath, key: &str) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(Seg::Key(key.to_string()));
    p
}

/// `` `key` `` for the last key of `path`.
fn field(path: &KeyPath) -> String {
    match path.iter().rev().find_map(|s| match s {
        Seg::Key(k) => Some(k),
        Seg::Index(_) => None,
    }) {
        Some(k) => format!("`{k}`"),
        None => "the value".to_string(),
    }
}

/// A short name of a YAML value's type, for "found …".
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Sequence(_) => "list",
        Value::Mapping(_) => "mapping",
        Value::Tagged(_) => "tagged value",
    }
}

/// The value itself for scalars (quoted for strings), nothing for collections.
fn show(value: &Value) -> String {
    match value {
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => format!("{s:?}"),
        Value::Tagged(t) => format!("`{}`", t.tag),
        Value::Null | Value::Sequence(_) | Value::Mapping(_) => String::new(),
    }
    .trim_end()
    .to_string()
}

/// The allowed key closest to `key`, when it is close enough to be a likely typo.
pub(crate) fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let key_lower = key.to_ascii_lowercase().replace('-', "_");
    allowed
        .iter()
        .map(|a| (levenshtein(&key_lower, a), *a))
        .filter(|(d, a)| {
            *d <= (a.len() / 3).max(1) || (a.contains(key_lower.as_str()) && key_lower.len() >= 4)
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(closest("pth", ENVIRONMENT_KEYS), Some("path"));
        assert_eq!(closest("namspace", ENVIRONMENT_KEYS), Some("namespace"));
        assert_eq!(
            closest("health-timeout", ENVIRONMENT_KEYS),
            Some("health_timeout")
        );
        assert_eq!(
            closest("approvals", ENVIRONMENT_KEYS),
            Some("required_approvals")
        );
        assert_eq!(closest("colour", ENVIRONMENT_KEYS), None);
    }
}

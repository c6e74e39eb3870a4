//! Shape checks: YAML text → raw structs with the right keys and value types.
//!
//! Semantic checks (names, paths, references, durations) happen in `validate`.

use serde_yaml_ng::{Mapping, Value};

use super::error::{ConfigError, Position};
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
    "required_approvals",
    "promote_from",
    "prune",
    "health_timeout",
];
/// Keys allowed under `build:`.
pub(crate) const BUILD_KEYS: &[&str] = &["image", "dockerfile", "context", "branches"];
/// Keys allowed under `deploy:`.
pub(crate) const DEPLOY_KEYS: &[&str] = &["repo", "environment"];

/// The whole file, shape-checked. Omitted keys and explicit nulls are `None`.
#[derive(Debug, Default)]
pub(crate) struct RawFile {
    /// Environments in the order the file declares them.
    pub environments: Option<Vec<RawEnvironment>>,
    pub build: Option<RawBuild>,
    pub deploy: Option<RawDeploy>,
}

#[derive(Debug, Default)]
pub(crate) struct RawEnvironment {
    pub name: String,
    pub path: Option<String>,
    pub namespace: Option<String>,
    pub allowed_namespaces: Option<Vec<String>>,
    pub allowed_cluster_scoped: Option<Vec<String>>,
    pub cluster: Option<String>,
    pub required_approvals: Option<u32>,
    pub promote_from: Option<String>,
    pub prune: Option<bool>,
    pub health_timeout: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct RawBuild {
    pub image: Option<String>,
    pub dockerfile: Option<String>,
    pub context: Option<String>,
    pub branches: Option<Vec<String>>,
}

#[derive(Debug, Default)]
pub(crate) struct RawDeploy {
    pub repo: Option<String>,
    pub environment: Option<String>,
}

/// Parses `text` and checks its shape.
pub(crate) fn parse(text: &str) -> Result<(RawFile, Locator<'_>), ConfigError> {
    let locator = Locator::new(text);
    let mut value: Value = serde_yaml_ng::from_str(text).map_err(|err| {
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
    let raw = Shape { loc: &locator }.file(&value)?;
    Ok((raw, locator))
}

/// A known key, its value and its key path.
type Entry<'v> = (&'static str, &'v Value, Vec<Seg>);

struct Shape<'l, 'a> {
    loc: &'l Locator<'a>,
}

impl Shape<'_, '_> {
    fn file(&self, value: &Value) -> Result<RawFile, ConfigError> {
        let mut raw = RawFile::default();
        let path: Vec<Seg> = Vec::new();
        let map = match value {
            Value::Null => {
                return Err(ConfigError::new(
                    Position::START,
                    "the file is empty: declare `environments:` (a config repo) or `build:` (an app repo)",
                ))
            }
            other => self.mapping(other, &path, "the file")?,
        };
        for (key, value, path) in self.entries(map, &path, TOP_KEYS, "at the top level")? {
            match key {
                "environments" => raw.environments = self.environments(value, &path)?,
                "build" => raw.build = self.build(value, &path)?,
                "deploy" => raw.deploy = self.deploy(value, &path)?,
                _ => unreachable!("entries() only yields allowed keys"),
            }
        }
        Ok(raw)
    }

    fn environments(
        &self,
        value: &Value,
        path: &KeyPath,
    ) -> Result<Option<Vec<RawEnvironment>>, ConfigError> {
        if value.is_null() {
            return Ok(None);
        }
        let map = self.mapping(value, path, "`environments`")?;
        let mut envs = Vec::with_capacity(map.len());
        for (name, value) in map {
            let name = self.key_str(name, path)?;
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
            let map = self.mapping(value, &env_path, &what)?;
            for (key, value, p) in
                self.entries(map, &env_path, ENVIRONMENT_KEYS, &format!("in {what}"))?
            {
                match key {
                    "path" => env.path = self.string(value, &p)?,
                    "namespace" => env.namespace = self.string(value, &p)?,
                    "allowed_namespaces" => env.allowed_namespaces = self.string_list(value, &p)?,
                    "allowed_cluster_scoped" => {
                        env.allowed_cluster_scoped = self.string_list(value, &p)?
                    }
                    "cluster" => env.cluster = self.string(value, &p)?,
                    "required_approvals" => env.required_approvals = self.count(value, &p)?,
                    "promote_from" => env.promote_from = self.string(value, &p)?,
                    "prune" => env.prune = self.boolean(value, &p)?,
                    "health_timeout" => env.health_timeout = self.duration(value, &p)?,
                    _ => unreachable!("entries() only yields allowed keys"),
                }
            }
            envs.push(env);
        }
        Ok(Some(envs))
    }

    fn build(&self, value: &Value, path: &KeyPath) -> Result<Option<RawBuild>, ConfigError> {
        if value.is_null() {
            return Ok(None);
        }
        let map = self.mapping(value, path, "`build`")?;
        let mut build = RawBuild::default();
        for (key, value, p) in self.entries(map, path, BUILD_KEYS, "in `build`")? {
            match key {
                "image" => build.image = self.string(value, &p)?,
                "dockerfile" => build.dockerfile = self.string(value, &p)?,
                "context" => build.context = self.string(value, &p)?,
                "branches" => build.branches = self.string_list(value, &p)?,
                _ => unreachable!("entries() only yields allowed keys"),
            }
        }
        Ok(Some(build))
    }

    fn deploy(&self, value: &Value, path: &KeyPath) -> Result<Option<RawDeploy>, ConfigError> {
        if value.is_null() {
            return Ok(None);
        }
        let map = self.mapping(value, path, "`deploy`")?;
        let mut deploy = RawDeploy::default();
        for (key, value, p) in self.entries(map, path, DEPLOY_KEYS, "in `deploy`")? {
            match key {
                "repo" => deploy.repo = self.string(value, &p)?,
                "environment" => deploy.environment = self.string(value, &p)?,
                _ => unreachable!("entries() only yields allowed keys"),
            }
        }
        Ok(Some(deploy))
    }

    /// The entries of `map` in file order, each with its key path; an error at the first key
    /// that is not a string or not in `allowed`.
    fn entries<'v>(
        &self,
        map: &'v Mapping,
        path: &KeyPath,
        allowed: &'static [&'static str],
        context: &str,
    ) -> Result<Vec<Entry<'v>>, ConfigError> {
        let mut out = Vec::with_capacity(map.len());
        for (key, value) in map {
            let key = self.key_str(key, path)?;
            let key_path = child(path, key);
            match allowed.iter().find(|a| **a == key) {
                Some(known) => out.push((*known, value, key_path)),
                None => {
                    let suggestion = closest(key, allowed)
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    return Err(ConfigError::new(
                        self.loc.key(&key_path),
                        format!(
                            "unknown key `{key}` {context}{suggestion} allowed keys: {}",
                            allowed.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    fn key_str<'v>(&self, key: &'v Value, path: &KeyPath) -> Result<&'v str, ConfigError> {
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
            ConfigError::new(
                position,
                format!("keys must be strings, found {} {}", kind_of(key), show(key)),
            )
        })
    }

    fn mapping<'v>(
        &self,
        value: &'v Value,
        path: &KeyPath,
        what: &str,
    ) -> Result<&'v Mapping, ConfigError> {
        value
            .as_mapping()
            .ok_or_else(|| self.wrong_type(value, path, what, "a mapping"))
    }

    fn string(&self, value: &Value, path: &KeyPath) -> Result<Option<String>, ConfigError> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(self.wrong_type(other, path, &field(path), "a string")),
        }
    }

    fn string_list(
        &self,
        value: &Value,
        path: &KeyPath,
    ) -> Result<Option<Vec<String>>, ConfigError> {
        let items = match value {
            Value::Null => return Ok(None),
            Value::Sequence(items) => items,
            other => return Err(self.wrong_type(other, path, &field(path), "a list of strings")),
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let mut item_path = path.to_vec();
            item_path.push(Seg::Index(i));
            match item {
                Value::String(s) => out.push(s.clone()),
                other => {
                    return Err(self.wrong_type(
                        other,
                        &item_path,
                        &format!("item {} of {}", i + 1, field(path)),
                        "a string",
                    ))
                }
            }
        }
        Ok(Some(out))
    }

    fn boolean(&self, value: &Value, path: &KeyPath) -> Result<Option<bool>, ConfigError> {
        match value {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            other => Err(self.wrong_type(other, path, &field(path), "`true` or `false`")),
        }
    }

    fn count(&self, value: &Value, path: &KeyPath) -> Result<Option<u32>, ConfigError> {
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

    fn duration(&self, value: &Value, path: &KeyPath) -> Result<Option<String>, ConfigError> {
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

    fn wrong_type(&self, value: &Value, path: &KeyPath, what: &str, expected: &str) -> ConfigError {
        ConfigError::new(
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
        )
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

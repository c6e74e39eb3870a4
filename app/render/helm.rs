//! Helm charts: an environment whose directory holds a `Chart.yaml` is rendered with
//! `helm template`.
//!
//! A pull request's chart is untrusted. Before helm runs, every dependency `Chart.yaml`
//! declares must already be vendored under `charts/` (anything that would need a download is
//! a located error, never a fetch), and a `file://` repository must stay inside the chart.
//! helm then runs on a copy of the chart (and the values files) written from the tree, in
//! the same sandbox as kustomize, with empty configuration, cache, data and plugin
//! directories, no post-renderer, and never `helm repo` or `helm dependency`.

use std::path::{Path, PathBuf};

use super::kustomize::{is_executable, rendered_documents, run_bounded, scrub, Outcome};
use super::limits::{bytes as show_bytes, RenderLimits};
use super::sandbox::sandboxed_command;
use super::source::{join, EntryKind, TreeSource};
use super::{objects_from_document, K8sObject, RenderError, RenderOptions};
use crate::config::locate::{keys, Locator, Seg};
use crate::config::Environment;

/// The file that makes a directory a Helm chart.
pub const CHART_FILE: &str = "Chart.yaml";

/// The annotation that makes an object a Helm hook instead of part of the release.
pub const HOOK_ANNOTATION: &str = "helm.sh/hook";

/// The namespace a chart is templated for when the environment sets none.
const DEFAULT_NAMESPACE: &str = "default";

/// `dir/Chart.yaml` when `dir` is a chart.
pub(crate) fn chart_in(source: &dyn TreeSource, dir: &str) -> Result<Option<String>, RenderError> {
    let path = join(dir, CHART_FILE);
    Ok(match source.entry(&path)? {
        Some(EntryKind::File) => Some(path),
        Some(EntryKind::Symlink { target }) => {
            return Err(RenderError::Symlink {
                path,
                target,
                reason: "is a chart's Chart.yaml; charts are rendered from their own files and symlinks in them are refused".to_string(),
            })
        }
        _ => None,
    })
}

/// Whether `source` holds a Helm chart at `env`'s path.
pub fn is_helm_environment(source: &dyn TreeSource, env: &Environment) -> bool {
    matches!(chart_in(source, &env.path), Ok(Some(_)))
}

/// The `helm` on PATH, if there is one.
pub fn find_helm() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("helm"))
        .find(|candidate| is_executable(candidate))
}

/// The hook phases of `object` (`pre-install,post-upgrade`) when it is a Helm hook.
pub fn hook_of(object: &K8sObject) -> Option<&str> {
    object.value["metadata"]["annotations"][HOOK_ANNOTATION].as_str()
}

/// The environment's values files, in order: `helm.values`, else `values.yaml` beside the
/// chart when there is one. (helm reads the chart's own `values.yaml` as defaults anyway; it
/// is named so that bumps know which file to edit.)
pub fn values_files(source: &dyn TreeSource, env: &Environment) -> Vec<String> {
    match env.helm_settings().values {
        Some(files) => files,
        None => {
            let default = join(&env.path, crate::config::DEFAULT_HELM_VALUES);
            match source.entry(&default) {
                Ok(Some(EntryKind::File)) => vec![default],
                _ => Vec::new(),
            }
        }
    }
}

/// Repo-relative templates of the chart in `dir` (and of its unpacked subcharts) that call
/// `lookup`, which reads the cluster: `helm template` renders it as empty.
pub fn charts_using_lookup(source: &dyn TreeSource, dir: &str) -> Vec<String> {
    let Ok(entries) = source.list(dir) else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter(|e| e.kind == EntryKind::File && e.path.contains("/templates/"))
        .filter(|e| {
            source
                .read_file(&e.path)
                .is_ok_and(|bytes| calls_lookup(&String::from_utf8_lossy(&bytes)))
        })
        .map(|e| e.path)
        .collect()
}

/// Whether template text calls `lookup` inside an action (`{{ lookup "v1" ... }}`,
/// `(lookup ...)`).
fn calls_lookup(text: &str) -> bool {
    text.split("{{").skip(1).any(|action| {
        let action = action.split("}}").next().unwrap_or("");
        action
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$'))
            .any(|word| word == "lookup")
    })
}

/// Renders the chart in `dir` (whose `Chart.yaml` is `chart`) for `env`.
pub(crate) fn render(
    source: &dyn TreeSource,
    env: &Environment,
    dir: &str,
    chart: &str,
    options: &RenderOptions,
) -> Result<Vec<K8sObject>, RenderError> {
    check_dependencies(source, dir, chart)?;
    let helm = find_helm().ok_or_else(|| RenderError::HelmMissing {
        chart: chart.to_string(),
    })?;
    let settings = env.helm_settings();
    let values = settings.values.clone().unwrap_or_default();
    let temp = tempfile::Builder::new()
        .prefix("slipway-helm-")
        .tempdir()
        .map_err(io("creating a temporary directory for helm"))?;
    let root = temp.path().join("repo");
    materialise(source, dir, &values, &root)?;
    let homes = temp.path().join("helm");
    let mut command = sandboxed_command(&helm);
    for (variable, sub) in [
        ("HOME", "home"),
        ("HELM_CACHE_HOME", "cache"),
        ("HELM_CONFIG_HOME", "config"),
        ("HELM_DATA_HOME", "data"),
        ("HELM_PLUGINS", "plugins"),
    ] {
        let path = homes.join(sub);
        std::fs::create_dir_all(&path).map_err(io("creating helm's empty directories"))?;
        command.env(variable, path);
    }
    command
        .env("KUBECONFIG", homes.join("no-kubeconfig"))
        .env("GOGC", "400")
        .current_dir(&root)
        .arg("template")
        .arg(&settings.release)
        .arg(dir)
        .arg("--namespace")
        .arg(env.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE))
        .arg("--include-crds")
        .arg("--kube-version")
        .arg(&settings.kube_version);
    for api_version in &settings.api_versions {
        command.arg("--api-versions").arg(api_version);
    }
    for file in &values {
        command.arg("--values").arg(file);
    }
    // `--set-literal` takes everything after the first `=` as one string: a value cannot
    // smuggle in further settings with `,` or escapes. Keys were checked with the config.
    for (key, value) in &settings.set {
        command.arg("--set-literal").arg(format!("{key}={value}"));
    }
    let timeout = options.kustomize_timeout;
    let max_output = options.limits.max_output_bytes;
    match run_bounded(&mut command, "helm template", chart, timeout, max_output)? {
        Outcome::Done(stdout) => parse_output(dir, chart, &stdout, &options.limits),
        Outcome::Failed { status, stderr } => Err(RenderError::HelmFailed {
            chart: chart.to_string(),
            status,
            stderr: super::mask::kustomize_message(&scrub(&stderr, &root), source),
        }),
        Outcome::TimedOut => Err(RenderError::HelmTimeout {
            chart: chart.to_string(),
            timeout,
        }),
        Outcome::Overflowed => Err(RenderError::LimitExceeded {
            file: chart.to_string(),
            what: "the size of `helm template`'s output".to_string(),
            limit: show_bytes(max_output),
        }),
    }
}

fn io(context: &str) -> impl FnOnce(std::io::Error) -> RenderError + '_ {
    move |source| RenderError::Io {
        context: context.to_string(),
        source,
    }
}

/// One `dependencies` item of `Chart.yaml`.
#[derive(Debug, serde::Deserialize)]
struct Dependency {
    #[serde(default)]
    name: String,
    #[serde(default)]
    repository: String,
}

#[derive(Debug, serde::Deserialize)]
struct ChartFile {
    #[serde(default)]
    dependencies: Option<Vec<Dependency>>,
}

/// Every dependency of the chart must be vendored under `charts/`, and a `file://` one must
/// point inside the chart: helm is never asked to fetch anything.
fn check_dependencies(source: &dyn TreeSource, dir: &str, chart: &str) -> Result<(), RenderError> {
    let text = String::from_utf8_lossy(&source.read_file(chart)?).into_owned();
    let at = |path: &[Seg], message: String| {
        let position = Locator::new(&text).value(path);
        RenderError::At {
            file: chart.to_string(),
            line: position.line,
            column: position.column,
            message,
        }
    };
    let parsed: ChartFile = serde_yaml_ng::from_str(&text).map_err(|err| {
        let (position, message) = crate::config::locate::yaml_error_parts(&err);
        let (line, column) = position.map_or((1, 1), |p| (p.line, p.column));
        RenderError::At {
            file: chart.to_string(),
            line,
            column,
            message: format!("invalid Chart.yaml: {message}"),
        }
    })?;
    let vendored = vendored_charts(source, dir)?;
    for (i, dependency) in parsed.dependencies.iter().flatten().enumerate() {
        let mut item = keys(&["dependencies"]);
        item.push(Seg::Index(i));
        let mut repository = item.clone();
        repository.push(Seg::Key("repository".to_string()));
        let name = &dependency.name;
        if let Some(target) = dependency.repository.strip_prefix("file://") {
            let inside = !target.starts_with('/')
                && super::paths::normalize(&join(dir, target))
                    .is_some_and(|p| p == dir || p.starts_with(&format!("{dir}/")));
            if !inside {
                return Err(at(
                    &repository,
                    format!("dependency `{name}` points outside the chart (`{}`); a chart may only use what it holds", dependency.repository),
                ));
            }
        }
        let present = vendored.iter().any(|v| {
            v == name
                || v.strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.starts_with('-') && rest.ends_with(".tgz"))
        });
        if !present {
            let (path, why) = if dependency.repository.is_empty()
                || dependency.repository.starts_with("file://")
            {
                (&item, String::new())
            } else {
                (
                    &repository,
                    format!(
                        " and rendering it would need a download from `{}`",
                        dependency.repository
                    ),
                )
            };
            return Err(at(
                path,
                format!(
                    "dependency `{name}` is not vendored under `{dir}/charts/`{why}; slipway never fetches charts: run `helm dependency build` and commit `charts/`"
                ),
            ));
        }
    }
    Ok(())
}

/// Names of the entries directly in the chart's `charts/` directory.
fn vendored_charts(source: &dyn TreeSource, dir: &str) -> Result<Vec<String>, RenderError> {
    let charts = join(dir, "charts");
    if source.entry(&charts)? != Some(EntryKind::Dir) {
        return Ok(Vec::new());
    }
    Ok(source
        .list(&charts)?
        .into_iter()
        .filter_map(|e| {
            let rest = e.path.strip_prefix(&format!("{charts}/"))?;
            (!rest.contains('/')).then(|| rest.to_string())
        })
        .collect())
}

/// Writes the chart directory and the values files below `root`, at their repo-relative
/// paths. A symlink anywhere in the chart, or a values file that is one, is refused: the
/// copy holds exactly the chart's own files.
fn materialise(
    source: &dyn TreeSource,
    dir: &str,
    values: &[String],
    root: &Path,
) -> Result<(), RenderError> {
    let write = |path: &str, bytes: Vec<u8>| -> Result<(), RenderError> {
        let dest = root.join(path);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io("creating the chart's directories"))?;
        }
        std::fs::write(&dest, bytes).map_err(|source| RenderError::Io {
            context: format!("writing {path}"),
            source,
        })
    };
    std::fs::create_dir_all(root.join(dir)).map_err(io("creating the chart's directory"))?;
    for entry in source.list(dir)? {
        super::source::check_relative(&entry.path)?;
        match entry.kind {
            EntryKind::Dir => std::fs::create_dir_all(root.join(&entry.path))
                .map_err(io("creating the chart's directories"))?,
            EntryKind::File => write(&entry.path, source.read_file(&entry.path)?)?,
            EntryKind::Symlink { target } => return Err(symlink_refused(entry.path, target)),
        }
    }
    for file in values {
        super::source::check_relative(file)?;
        match source.entry(file)? {
            Some(EntryKind::File) => write(file, source.read_file(file)?)?,
            Some(EntryKind::Symlink { target }) => {
                return Err(symlink_refused(file.clone(), target))
            }
            _ => {
                return Err(RenderError::Source(super::SourceError::NotFound {
                    path: file.clone(),
                }))
            }
        }
    }
    Ok(())
}

fn symlink_refused(path: String, target: String) -> RenderError {
    RenderError::Symlink {
        path,
        target,
        reason: "is part of a Helm chart or its values; charts are rendered from their own files and symlinks are refused".to_string(),
    }
}

/// Objects of helm's output in its order (the order Helm installs them), each attributed to
/// the repo-relative template named by the `# Source:` comment before it.
fn parse_output(
    dir: &str,
    chart: &str,
    stdout: &[u8],
    limits: &RenderLimits,
) -> Result<Vec<K8sObject>, RenderError> {
    let (text, docs) =
        rendered_documents("helm's output", "the chart rendered", chart, stdout, limits)?;
    let sources = source_comments(&text);
    let mut objects = Vec::new();
    for doc in docs {
        let template = sources
            .iter()
            .take_while(|(line, _)| *line <= doc.line)
            .last()
            .map(|(_, template)| repo_template(dir, template))
            .unwrap_or_else(|| chart.to_string());
        objects_from_document(&template, 1, doc.value, &mut objects)?;
        if objects.len() > limits.max_documents {
            return Err(RenderError::LimitExceeded {
                file: chart.to_string(),
                what: "the number of objects the chart rendered".to_string(),
                limit: format!("{} objects", limits.max_documents),
            });
        }
    }
    Ok(objects)
}

/// `(line, template)` of every `# Source: <chart>/templates/x.yaml` comment of the output.
fn source_comments(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let template = line.strip_prefix("# Source: ")?;
            Some((i + 1, template.trim().to_string()))
        })
        .collect()
}

/// helm names templates from the chart's `name` (`api/templates/x.yaml`); in the repository
/// they are below the chart's directory (`envs/dev/templates/x.yaml`).
fn repo_template(dir: &str, template: &str) -> String {
    match template.split_once('/') {
        Some((_, rest)) => join(dir, rest),
        None => join(dir, template),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_found_in_actions_only() {
        assert!(calls_lookup(r#"{{ $s := lookup "v1" "Secret" "ns" "x" }}"#));
        assert!(calls_lookup(
            r#"{{- if (lookup "v1" "Namespace" "" "x") }}"#
        ));
        assert!(!calls_lookup("# lookup the value below\nkind: ConfigMap"));
        assert!(!calls_lookup("{{ .Values.lookupTable }}"));
    }

    #[test]
    fn templates_are_named_below_the_chart_directory() {
        assert_eq!(
            repo_template("envs/dev", "api/templates/deploy.yaml"),
            "envs/dev/templates/deploy.yaml"
        );
        assert_eq!(
            repo_template("envs/dev", "api/charts/redis/templates/s.yaml"),
            "envs/dev/charts/redis/templates/s.yaml"
        );
    }

    #[test]
    fn source_comments_keep_their_lines() {
        let out = "---\n# Source: api/templates/a.yaml\nkind: A\n---\n# Source: api/templates/b.yaml\nkind: B\n";
        assert_eq!(
            source_comments(out),
            [
                (2, "api/templates/a.yaml".to_string()),
                (5, "api/templates/b.yaml".to_string())
            ]
        );
    }
}

//! `slipway preview`: what the pull request comment would say for a change between two
//! revisions of a config repo.
//!
//! The environments come from `.github/slipway.yml` at the base revision. Base and head are
//! rendered concurrently, one thread per environment and side, straight from git objects;
//! an environment whose inputs did not change between the two is rendered only once.
//!
//! Markdown output is the comment's parts in order, each preceded by one marker line
//! `<!-- slipway: part I of N -->` (an HTML comment, invisible when rendered), so a script can
//! split the stream back into the comments GitHub would get. `--format json` prints the
//! object-level diff instead: `{"base", "head", "environments": [...]}`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use serde::Serialize;

use crate::config::{self, Environment, CONFIG_PATH};
use crate::diff::{self, EnvironmentDiff};
use crate::git::LocalRepo;
use crate::render::{self, EntryKind, K8sObject, SourceError, TreeSource};
use crate::report::{self, Limits, Preview, Templates};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The PR comment's parts, each after a `<!-- slipway: part I of N -->` line.
    Markdown,
    /// The object-level diff as JSON (Secret values redacted, like everywhere).
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The config repo: a work tree or a bare repository.
    #[arg(long, value_name = "PATH")]
    pub repo: PathBuf,
    /// The revision the change starts from (environments are read from its `.github/slipway.yml`).
    #[arg(long, value_name = "REV")]
    pub base: String,
    /// The revision with the change.
    #[arg(long, value_name = "REV")]
    pub head: String,
    /// Only this environment (repeatable). Default: every environment whose render differs.
    #[arg(long = "env", value_name = "NAME")]
    pub envs: Vec<String>,
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: Format,
    /// At most this many comment parts before the rest is summarised; 0 means no limit.
    #[arg(long, value_name = "N", default_value_t = report::DEFAULT_MAX_PARTS)]
    pub max_parts: usize,
    /// A directory of report templates overriding the built-in ones by file name.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

#[derive(Serialize)]
struct JsonPreview<'a> {
    base: String,
    head: String,
    environments: &'a [EnvironmentDiff],
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let templates = match &args.templates {
        Some(dir) => Templates::with_overrides(dir)?,
        None => Templates::embedded(),
    };
    let repo = LocalRepo::open(&args.repo)?;
    let base = repo.resolve(&args.base)?;
    let head = repo.resolve(&args.head)?;
    let environments = environments(&repo, &args.base, &args.envs)?;

    let diffs = compare(&repo, &base.to_hex(), &head.to_hex(), &environments)?;
    let shown: Vec<EnvironmentDiff> =
        if args.envs.is_empty() && diffs.iter().any(EnvironmentDiff::has_changes) {
            diffs
                .into_iter()
                .filter(EnvironmentDiff::has_changes)
                .collect()
        } else {
            diffs
        };

    let out = match args.format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&JsonPreview {
                base: base.to_hex(),
                head: head.to_hex(),
                environments: &shown,
            })?;
            text.push('\n');
            text
        }
        Format::Markdown => {
            let command = full_command(&args, &base.to_hex(), &head.to_hex());
            let preview = Preview {
                base: &base.short(7),
                head: &head.short(7),
                environments: &shown,
                full_command: &command,
            };
            let limits = Limits {
                max_parts: if args.max_parts == 0 {
                    usize::MAX
                } else {
                    args.max_parts
                },
                ..Limits::default()
            };
            let parts = templates.comment_parts(&preview, &limits)?;
            let count = parts.len();
            let mut text = String::new();
            for (index, part) in parts.iter().enumerate() {
                text.push_str(&format!(
                    "<!-- slipway: part {} of {count} -->\n",
                    index + 1
                ));
                text.push_str(part);
            }
            text
        }
    };
    write_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// The environments to compare: `.github/slipway.yml` at `rev`, narrowed to `names` if any.
fn environments(repo: &LocalRepo, rev: &str, names: &[String]) -> anyhow::Result<Vec<Environment>> {
    let text = repo
        .read_file(rev, CONFIG_PATH)?
        .ok_or_else(|| anyhow!("there is no {CONFIG_PATH} at {rev}"))?;
    let text =
        String::from_utf8(text).map_err(|_| anyhow!("{CONFIG_PATH} at {rev} is not UTF-8 text"))?;
    let config =
        config::parse_config_repo(&text).with_context(|| format!("{CONFIG_PATH} at {rev}"))?;
    if names.is_empty() {
        return Ok(config.environments.into_values().collect());
    }
    names
        .iter()
        .map(|name| {
            config.environment(name).cloned().ok_or_else(|| {
                anyhow!(
                    "no environment `{name}` in {CONFIG_PATH} at {rev}; declared: {}",
                    config.declared_names()
                )
            })
        })
        .collect()
}

/// Render every environment at both commits concurrently and diff each.
///
/// An environment whose inputs are byte-identical at both commits (see [`inputs`]) is
/// rendered once: its render cannot differ, and kustomize builds are the slow part.
fn compare(
    repo: &LocalRepo,
    base: &str,
    head: &str,
    environments: &[Environment],
) -> anyhow::Result<Vec<EnvironmentDiff>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = environments
            .iter()
            .map(|env| scope.spawn(move || compare_one(scope, repo, base, head, env)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(anyhow!("a render thread panicked")))
            })
            .collect()
    })
}

fn compare_one<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    repo: &'scope LocalRepo,
    base: &'scope str,
    head: &'scope str,
    env: &'scope Environment,
) -> anyhow::Result<EnvironmentDiff> {
    let base_inputs = inputs(&repo.tree_at(base)?, env);
    let head_inputs = inputs(&repo.tree_at(head)?, env);
    if base_inputs.is_some() && base_inputs == head_inputs {
        let objects = render_side(repo, base, env)?;
        return Ok(diff::diff_environment(&env.name, &objects, &objects));
    }
    let head_render = scope.spawn(move || render_side(repo, head, env));
    let before = render_side(repo, base, env)?;
    let after = head_render
        .join()
        .unwrap_or_else(|_| Err(anyhow!("a render thread panicked")))?;
    Ok(diff::diff_environment(&env.name, &before, &after))
}

/// One environment at one commit; an environment whose directory does not exist there
/// (created or deleted by the change) has no objects.
fn render_side(repo: &LocalRepo, rev: &str, env: &Environment) -> anyhow::Result<Vec<K8sObject>> {
    let tree = repo.tree_at(rev)?;
    let context = || format!("environment `{}` at {}", env.name, tree.describe());
    match tree.entry(&env.path) {
        Ok(None) | Err(SourceError::NotFound { .. }) => return Ok(Vec::new()),
        Ok(Some(_)) => {}
        Err(err) => return Err(anyhow::Error::new(err).context(context())),
    }
    render::render_environment(&tree, env).with_context(context)
}

/// A fingerprint of everything rendering `env` from `source` can read, or `None` when that
/// cannot be bounded (a remote kustomize resource, a symlink).
///
/// A plain environment reads its directory. A kustomize build with the load restrictor on
/// reads files only inside the directory of each kustomization it loads, and loads other
/// directories only through `resources`, `bases` and `components`: so the inputs are the
/// environment's directory and, transitively, every directory those fields name.
fn inputs(source: &dyn TreeSource, env: &Environment) -> Option<[u8; 32]> {
    use sha2::{Digest, Sha256};
    use std::collections::{BTreeMap, BTreeSet};

    let mut files: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    let mut visited = BTreeSet::new();
    let mut pending = vec![normalise_path(&env.path)?];
    while let Some(dir) = pending.pop() {
        if !visited.insert(dir.clone()) {
            continue;
        }
        match source.entry(&dir).ok()? {
            Some(EntryKind::Dir) => {}
            None => {
                files.insert(dir, None);
                continue;
            }
            Some(_) => return None,
        }
        for entry in source.list(&dir).ok()? {
            match entry.kind {
                EntryKind::Dir => {}
                EntryKind::File => {
                    let bytes = source.read_file(&entry.path).ok()?;
                    files.insert(entry.path, Some(bytes));
                }
                EntryKind::Symlink { .. } => return None,
            }
        }
        let kustomization = render::KUSTOMIZATION_FILES
            .iter()
            .find_map(|name| files.get(&format!("{dir}/{name}")).cloned().flatten());
        let Some(kustomization) = kustomization else {
            continue;
        };
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_slice(&kustomization).ok()?;
        for field in ["resources", "bases", "components"] {
            let Some(items) = value.get(field) else {
                continue;
            };
            for item in items.as_sequence()? {
                let reference = item.as_str()?;
                if reference.contains("://")
                    || reference.contains('?')
                    || reference.starts_with("git@")
                {
                    return None;
                }
                let path = normalise_path(&format!("{dir}/{reference}"))?;
                match source.entry(&path).ok()? {
                    Some(EntryKind::Dir) => pending.push(path),
                    Some(EntryKind::File) => {
                        let bytes = source.read_file(&path).ok()?;
                        files.insert(path, Some(bytes));
                    }
                    None => {
                        files.insert(path, None);
                    }
                    Some(EntryKind::Symlink { .. }) => return None,
                }
            }
        }
    }
    let mut hash = Sha256::new();
    for (path, bytes) in &files {
        hash.update((path.len() as u64).to_le_bytes());
        hash.update(path.as_bytes());
        match bytes {
            Some(bytes) => {
                hash.update([1]);
                hash.update((bytes.len() as u64).to_le_bytes());
                hash.update(bytes);
            }
            None => hash.update([0]),
        }
    }
    Some(hash.finalize().into())
}

/// `a/./b/../c` → `a/c`; `None` when the path leaves the repository or is absolute.
fn normalise_path(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// The command that shows the whole diff, with no part limit.
fn full_command(args: &Args, base: &str, head: &str) -> String {
    let mut words = vec![
        "slipway".to_owned(),
        "preview".to_owned(),
        "--repo".to_owned(),
        shell_quote(&args.repo.display().to_string()),
        "--base".to_owned(),
        base.to_owned(),
        "--head".to_owned(),
        head.to_owned(),
    ];
    for env in &args.envs {
        words.push("--env".to_owned());
        words.push(shell_quote(env));
    }
    words.push("--max-parts".to_owned());
    words.push("0".to_owned());
    words.join(" ")
}

fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Print `text`; a reader that went away (`| head`) is not an error.
fn write_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

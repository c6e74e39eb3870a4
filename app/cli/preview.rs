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
//!
//! Objects an environment's policy refuses are marked in the report and said again on
//! stderr, one `error: file:line: message` each; the exit status is then 1.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use serde::Serialize;

use crate::config::{self, Environment, CONFIG_PATH};
use crate::diff::compare::{self, EnvironmentOutcome, Untouched};
use crate::diff::{EnvironmentDiff, FingerprintKey};
use crate::git::LocalRepo;
use crate::policy::Violation;
use crate::report::{self, EnvironmentStatus, Extras, Limits, Preview, Templates};

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
    #[command(flatten)]
    pub key: super::fingerprint_key::KeyArgs,
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

    let key = args.key.resolve()?;
    let compared = compare(&repo, &base.to_hex(), &head.to_hex(), &environments, &key)?;
    let any_changes = compared.iter().any(|(diff, _)| diff.has_changes());
    let (shown, statuses): (Vec<EnvironmentDiff>, Vec<EnvironmentStatus>) = compared
        .into_iter()
        .filter(|(diff, violations)| {
            !args.envs.is_empty() || !any_changes || diff.has_changes() || !violations.is_empty()
        })
        .map(|(diff, violations)| {
            let approvals = environments
                .iter()
                .find(|env| env.name == diff.environment)
                .map_or(0, |env| env.required_approvals);
            let status = EnvironmentStatus {
                violations,
                ..EnvironmentStatus::without_lock(&diff.environment, approvals)
            };
            (diff, status)
        })
        .unzip();

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
            let extras = Extras {
                notes: &[],
                statuses: &statuses,
            };
            let parts = templates.comment_report(&preview, &extras, &limits)?.parts;
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
    let violations: Vec<&Violation> = statuses.iter().flat_map(|s| &s.violations).collect();
    Ok(refuse(&violations))
}

/// Says on stderr what each environment's policy refuses: exit status 1 when anything is,
/// after the report is printed, so the objects can still be seen.
pub(crate) fn refuse(violations: &[&Violation]) -> ExitCode {
    if violations.is_empty() {
        return ExitCode::SUCCESS;
    }
    for violation in violations {
        eprintln!("error: {violation}");
    }
    ExitCode::FAILURE
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

/// Render every environment at both commits concurrently, diff each and check its policy;
/// the first render error fails the command, pointing at its file and line.
fn compare(
    repo: &LocalRepo,
    base: &str,
    head: &str,
    environments: &[Environment],
    key: &FingerprintKey,
) -> anyhow::Result<Vec<(EnvironmentDiff, Vec<Violation>)>> {
    compare::compare(repo, base, head, environments, Untouched::RenderOnce, key)?
        .into_iter()
        .map(|outcome| match outcome {
            EnvironmentOutcome::Compared { diff, violations } => Ok((diff, violations)),
            EnvironmentOutcome::Failed(failure) => {
                let context = failure.context();
                Err(anyhow::Error::new(failure.error).context(context))
            }
            EnvironmentOutcome::Untouched { environment } => {
                Err(anyhow!("environment `{environment}` was not rendered"))
            }
        })
        .collect()
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

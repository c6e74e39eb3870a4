//! `slipway preview`: what the pull request comment would say for a change between two
//! revisions of a config repo.
//!
//! The environments, their approvals and their policy come from `.github/slipway.yml` at the
//! base revision; each side renders an environment with its own settings of it (`path`,
//! `namespace`, `helm`), as the server does. Base and head are rendered concurrently, one
//! thread per environment and side, straight from git objects; an environment whose inputs
//! and settings did not change between the two is rendered only once.
//!
//! Markdown output is byte for byte the comments the server posts, in order, each starting
//! with its hidden marker line `<!-- slipway:preview part=I -->` (an HTML comment, invisible
//! when rendered), so a script can split the stream back into the comments GitHub would get.
//! The differences: the command line has no store, so it says nothing about locks, and it
//! compares every environment with `--base` where the server compares an environment with
//! its last deployed commit (and says so) when the pull request's head holds it.
//! `--format json` prints the object-level diff instead: `{"base", "head", "environments": [...]}`.
//!
//! What the server reports as failing is printed in the report as the server shows it (an
//! environment that does not render, a head whose configuration does not parse, objects an
//! environment's policy refuses) and said again on stderr, one `error:` line each; the exit
//! status is then 1.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use serde::Serialize;

use crate::config::{self, Environment, CONFIG_PATH};
use crate::diff::compare::{self, EnvironmentOutcome, Untouched};
use crate::diff::EnvironmentDiff;
use crate::git::LocalRepo;
use crate::pipelines::preview::comment::{Input, Report, Shown};
use crate::pipelines::preview::message::{charts_reading_the_cluster, Findings};
use crate::pipelines::preview::{self, plan, Configs};
use crate::policy::Violation;
use crate::render::TreeSource;
use crate::report::{self, Limits, Templates};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The PR comments, each starting with its `<!-- slipway:preview part=I -->` line.
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
    #[command(flatten)]
    pub clusters: super::clusters::ClusterArgs,
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
    let known = args.clusters.known()?;
    let repo = LocalRepo::open(&args.repo)?;
    let base = repo.resolve(&args.base)?;
    let head = repo.resolve(&args.head)?;
    // Trees of the commit ids, as the server reads them: the notes name them the same way.
    let base_tree = repo.tree_at(&base.to_hex())?;
    let head_tree = repo.tree_at(&head.to_hex())?;
    let (declared, head_config) = match preview::read_configs(&base_tree, &head_tree, &known)? {
        Configs::Read {
            environments,
            base_problem: None,
            head_problem,
        } => (environments, head_problem),
        // The base is the policy: without its environments there is nothing to compare.
        _ => return Err(base_unusable(&repo.tree_at(&args.base)?)),
    };
    check_named(&declared, &args.envs, &repo.tree_at(&args.base)?)?;

    let key = args.key.resolve()?;
    let mut planned = plan::plan(
        &repo,
        &declared,
        &base,
        &head,
        &BTreeMap::new(),
        true,
        &known,
    )?;
    if !args.envs.is_empty() {
        planned.retain(|name| args.envs.iter().any(|n| n == name));
    }
    let outcomes = compare::compare(&repo, &planned.plans(), Untouched::RenderOnce, &key)?;
    let findings = Findings {
        base_config: None,
        head_config,
        outcomes,
        lookups: charts_reading_the_cluster(&head_tree, &planned.head_environments()),
        membership: planned.membership.clone(),
    };
    let environments: Vec<Environment> = planned
        .environments
        .iter()
        .map(|env| env.policy.clone())
        .collect();
    let report = Report::new(Input {
        base: &base,
        head: &head,
        environments: &environments,
        compared_with: Vec::new(),
        findings: &findings,
        shown: if args.envs.is_empty() {
            Shown::Changed
        } else {
            Shown::All
        },
        locks: None,
        notes: findings.notes(&templates, "", None)?,
        full_command: full_command(&args, &base.to_hex(), &head.to_hex()),
        name_clusters: known.names().len() > 1,
    });

    let out = match args.format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&JsonPreview {
                base: base.to_hex(),
                head: head.to_hex(),
                environments: report.shown(),
            })?;
            text.push('\n');
            text
        }
        Format::Markdown => {
            let limits = Limits {
                max_parts: if args.max_parts == 0 {
                    usize::MAX
                } else {
                    args.max_parts
                },
                ..Limits::default()
            };
            report.comment_bodies(&templates, &limits)?.concatenated()
        }
    };
    write_stdout(&out)?;
    Ok(fail_with(&problems(&findings)))
}

/// Why the base's `.github/slipway.yml` gives no environments, as every command says it.
fn base_unusable(base: &dyn TreeSource) -> anyhow::Error {
    match config::read_config_repo_at(base) {
        Err(err) => err.into(),
        Ok(_) => anyhow!(
            "{CONFIG_PATH} at {} declares no environments",
            base.describe()
        ),
    }
}

/// What the report showed that makes the command fail, one line each: the head's
/// configuration errors, environments that do not render, objects a policy refuses.
fn problems(findings: &Findings) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(problem) = &findings.head_config {
        lines.extend(problem.error.iter().map(ToString::to_string));
    }
    for outcome in &findings.outcomes {
        match outcome {
            EnvironmentOutcome::Failed(failure) => {
                lines.push(format!("{}: {}", failure.context(), failure.error));
            }
            EnvironmentOutcome::Compared { violations, .. } => {
                lines.extend(violations.iter().map(ToString::to_string));
            }
            EnvironmentOutcome::Untouched { .. } => {}
        }
    }
    lines
}

/// Says on stderr what each environment's policy refuses: exit status 1 when anything is,
/// after the report is printed, so the objects can still be seen.
pub(crate) fn refuse(violations: &[&Violation]) -> ExitCode {
    let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
    fail_with(&lines)
}

/// Each line on stderr as an error; exit status 1 when there is any.
fn fail_with(lines: &[String]) -> ExitCode {
    if lines.is_empty() {
        return ExitCode::SUCCESS;
    }
    for line in lines {
        eprintln!("error: {line}");
    }
    ExitCode::FAILURE
}

/// Every name in `names` is declared.
fn check_named(
    declared: &[Environment],
    names: &[String],
    base: &dyn TreeSource,
) -> anyhow::Result<()> {
    for name in names {
        if !declared.iter().any(|env| &env.name == name) {
            let list: Vec<&str> = declared.iter().map(|env| env.name.as_str()).collect();
            return Err(anyhow!(
                "no environment `{name}` in {CONFIG_PATH} at {}; declared: {}",
                base.describe(),
                list.join(", ")
            ));
        }
    }
    Ok(())
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

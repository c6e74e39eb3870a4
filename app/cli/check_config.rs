//! `slipway check-config`: validate a repository's `.github/slipway.yml`, and that each
//! environment's `path` is a directory of the repository at the same revision.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{self, format_duration, ReadError, RepoConfig, CONFIG_PATH};
use crate::git::LocalRepo;
use crate::render::{DirSource, TreeSource};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The repository: a work tree or a bare repository.
    #[arg(long, value_name = "PATH")]
    pub repo: PathBuf,
    /// Validate the file at this revision. Default: the file on disk in a work tree, `HEAD`
    /// in a bare repository.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    #[command(flatten)]
    pub clusters: super::clusters::ClusterArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let known = args.clusters.known()?;
    let repo = LocalRepo::open(&args.repo)?;
    let (tree, origin, shown_rev): (Box<dyn TreeSource>, String, Option<String>) =
        match (&args.rev, repo.work_dir()) {
            (None, Some(work_dir)) => (
                Box::new(DirSource::new(&work_dir)?),
                "the work tree".to_string(),
                None,
            ),
            (rev, _) => {
                let rev = rev.as_deref().unwrap_or("HEAD");
                let commit = repo.resolve(rev)?;
                let tree = repo.tree_at(&commit.to_hex())?;
                (
                    Box::new(tree),
                    format!("`{rev}` ({})", commit.short(12)),
                    Some(rev.to_string()),
                )
            }
        };
    match config::check_at(tree.as_ref(), &known) {
        Ok(parsed) => {
            print!("{}", summary(&parsed, &origin));
            Ok(ExitCode::SUCCESS)
        }
        Err(ReadError::Invalid { errors, .. }) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            Ok(ExitCode::from(1))
        }
        // Said as the revision was asked for, not as the commit it resolved to.
        Err(ReadError::NotFound { .. }) => match shown_rev {
            Some(rev) => anyhow::bail!("there is no {CONFIG_PATH} at `{rev}`"),
            None => anyhow::bail!("there is no {CONFIG_PATH} in {origin}"),
        },
        Err(other) => Err(other.into()),
    }
}

/// A few lines saying what the file declares, with every default filled in.
fn summary(config: &RepoConfig, origin: &str) -> String {
    let mut out = format!("{CONFIG_PATH} in {origin} is valid\n");
    if let Some(repo) = &config.config_repo {
        let n = repo.environments.len();
        out.push_str(&format!(
            "config repo: {n} environment{}\n",
            if n == 1 { "" } else { "s" }
        ));
        for env in repo.environments.values() {
            let mut line = format!(
                "  {}: path {}, namespace {}, cluster {}, {} approval{}",
                env.name,
                env.path,
                env.namespace.as_deref().unwrap_or("(none)"),
                env.cluster,
                env.required_approvals,
                if env.required_approvals == 1 { "" } else { "s" },
            );
            if let Some(from) = &env.promote_from {
                line.push_str(&format!(", promoted from {from}"));
            }
            if env.prune {
                line.push_str(", prune");
            }
            line.push_str(&format!(
                ", health timeout {}",
                format_duration(env.health_timeout)
            ));
            out.push_str(&line);
            out.push('\n');
        }
    }
    if let Some(app) = &config.app_repo {
        let b = &app.build;
        let branches = if b.branches.is_empty() {
            "the default branch".to_string()
        } else {
            b.branches.join(", ")
        };
        out.push_str(&format!(
            "app repo: builds {} from {} (context {}) on pushes to {}\n",
            b.image, b.dockerfile, b.context, branches
        ));
        if let Some(d) = &app.deploy {
            out.push_str(&format!(
                "  deploys to environment {} of {}\n",
                d.environment, d.repo
            ));
        }
    }
    out
}

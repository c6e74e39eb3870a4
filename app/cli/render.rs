//! `slipway render`: one environment of a config repo at a revision, as a YAML stream.
//! Objects the environment's policy refuses are printed too, then named on stderr (exit 1).
//!
//! Secret values are fingerprinted as in the preview, so the output can be shared and read
//! without care; `--show-secrets` prints them in clear, for piping into other tools.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::fingerprint_key::KeyArgs;
use crate::config::{self, CONFIG_PATH};
use crate::diff::redact::redact;
use crate::git::LocalRepo;
use crate::render::{self, TreeSource};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The config repo: a work tree or a bare repository.
    #[arg(long, value_name = "PATH")]
    pub repo: PathBuf,
    /// The revision to render (a branch, tag, commit id, `HEAD~1`, ...).
    #[arg(long, value_name = "REV")]
    pub rev: String,
    /// The environment, as named under `environments:` in `.github/slipway.yml`.
    #[arg(long, value_name = "NAME")]
    pub env: String,
    /// Print the values of Secrets in clear instead of their fingerprints.
    #[arg(long)]
    pub show_secrets: bool,
    #[command(flatten)]
    pub key: KeyArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let repo = LocalRepo::open(&args.repo)?;
    let tree = repo.tree_at(&args.rev)?;
    let config = config::read_config_repo_at(&tree)?;
    let env = config.environment(&args.env).with_context(|| {
        format!(
            "no environment `{}` in {CONFIG_PATH} at {}; declared: {}",
            args.env,
            tree.describe(),
            config.declared_names()
        )
    })?;
    // Resolved before rendering: a key that cannot be had fails before any work is done.
    let key = if args.show_secrets {
        None
    } else {
        Some(args.key.resolve()?)
    };
    let mut objects = render::render_environment(&tree, env)?;
    let violations = crate::policy::check(env, &objects);
    if let Some(key) = &key {
        for object in &mut objects {
            redact(&mut object.value, key);
        }
    }
    let mut stream = String::new();
    for (i, object) in objects.iter().enumerate() {
        if i > 0 {
            stream.push_str("---\n");
        }
        stream.push_str(&format!("# Source: {}:{}\n", object.file, object.line));
        stream.push_str(&render::to_yaml(&object.value));
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(stream.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        // The objects are printed all the same, so the refused ones can be seen.
        _ => Ok(super::preview::refuse(
            &violations.iter().collect::<Vec<_>>(),
        )),
    }
}

//! `slipway bump`: set images to a new tag, digest, or tag pinned to a digest, inside one environment of a config
//! repo's work tree, changing nothing but the image references.
//!
//! Every YAML or JSON file under the environment's path is considered (symlinks are not
//! followed). Files are written only once every image has been resolved, each through a
//! temporary file renamed over the original (all staged before any is renamed). Each edit
//! is printed as `file:line old → new`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};

use crate::bump::{self, BumpRequest};
use crate::config::{self, CONFIG_PATH};
use crate::render::{DirSource, TreeSource};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The config repo's work tree (its files are edited in place).
    #[arg(long, value_name = "PATH")]
    pub repo: PathBuf,
    /// The environment, as named under `environments:` in `.github/slipway.yml`.
    #[arg(long, value_name = "NAME")]
    pub env: String,
    /// The image repository, without tag or digest. Repeat it, each with its own `--tag`
    /// and/or `--digest`, in the same order, to bump several images at once.
    #[arg(long, value_name = "IMAGE", required = true)]
    pub image: Vec<String>,
    /// The new tag, one per `--image`.
    #[arg(long, value_name = "TAG", required_unless_present = "digest")]
    pub tag: Vec<String>,
    /// The new digest (`sha256:…`), one per `--image`. With `--tag` too, each image is pinned:
    /// `image:tag@digest`, so pushing the tag again cannot change what runs.
    #[arg(long, value_name = "DIGEST")]
    pub digest: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    for (given, flag) in [(&args.tag, "tag"), (&args.digest, "digest")] {
        if !given.is_empty() && given.len() != args.image.len() {
            eprintln!(
                "error: {} --image but {} --{flag}; give one per image, in the same order\n\nFor more information, try '--help'.",
                args.image.len(),
                given.len(),
            );
            return Ok(ExitCode::from(2));
        }
    }
    let requests: Vec<BumpRequest> = args
        .image
        .iter()
        .enumerate()
        .map(|(i, image)| match (args.tag.get(i), args.digest.get(i)) {
            (Some(tag), Some(digest)) => BumpRequest::pinned(image, tag, digest),
            (Some(tag), None) => BumpRequest::tag(image, tag),
            (None, Some(digest)) => BumpRequest::digest(image, digest),
            // Clap requires `--tag` or `--digest`, and each count matches `--image`.
            (None, None) => BumpRequest::tag(image, ""),
        })
        .collect();

    let work_tree = DirSource::new(&args.repo)
        .with_context(|| "bump edits a work tree: --repo must be one".to_string())?;
    let config = config::read_config_repo_at(&work_tree).map_err(|err| match err {
        config::ReadError::NotFound { .. } => {
            anyhow!("{err} (bump edits a work tree: --repo must be one)")
        }
        other => other.into(),
    })?;
    let env = config.environment(&args.env).ok_or_else(|| {
        anyhow!(
            "no environment `{}` in {CONFIG_PATH} at {}; declared: {}",
            args.env,
            work_tree.describe(),
            config.declared_names()
        )
    })?;

    let files = bump::files_to_bump(&work_tree, env)
        .with_context(|| format!("environment `{}` at {}", env.name, args.repo.display()))?;
    let edits = bump::plan_for(&work_tree, env, &files, &requests)?;
    if edits.is_empty() {
        println!(
            "no change: every image is already at its target in {}",
            env.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Every new file is staged before any replaces its original, so a failure while writing
    // (a full disk, a read-only file) leaves the work tree as it was.
    let mut staged = Vec::new();
    for (path, bytes) in bump::edited_files(&files, &edits) {
        let full = args.repo.join(&path);
        let temp = stage(&full, &bytes).with_context(|| format!("writing {path}"))?;
        staged.push((path, full, temp));
    }
    for (path, full, temp) in staged {
        temp.persist(&full)
            .with_context(|| format!("writing {path}"))?;
    }
    for edit in &edits {
        println!("{edit}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A temporary file beside `path` holding `bytes`, with the permissions of `path`.
fn stage(path: &Path, bytes: &[u8]) -> anyhow::Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no directory", path.display()))?;
    let permissions = std::fs::metadata(path)?.permissions();
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut temp, bytes)?;
    temp.as_file().set_permissions(permissions)?;
    Ok(temp)
}

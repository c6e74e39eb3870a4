//! The files a bump considers: every YAML or JSON file under an environment's directory, or
//! for a Helm environment its values files.

use crate::config::Environment;
use crate::render::{EntryKind, SourceError, TreeSource};

/// Why an environment's files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EnvironmentFilesError {
    #[error("path `{0}` is a symlink; bump edits regular files only")]
    Symlink(String),
    #[error("path `{0}` is a file, not a directory")]
    NotADirectory(String),
    #[error("path `{0}` is a directory, not a values file")]
    NotAFile(String),
    #[error("path `{0}` does not exist")]
    Missing(String),
    #[error("{0} is not UTF-8 text")]
    NotText(String),
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// The YAML and JSON files under `dir` (repo-relative) of `source`, as (path, text), sorted by
/// path. Symlinks are not followed.
pub fn environment_files(
    source: &dyn TreeSource,
    dir: &str,
) -> Result<Vec<(String, String)>, EnvironmentFilesError> {
    match source.entry(dir)? {
        Some(EntryKind::Dir) => {}
        Some(EntryKind::Symlink { .. }) => return Err(EnvironmentFilesError::Symlink(dir.into())),
        Some(EntryKind::File) => return Err(EnvironmentFilesError::NotADirectory(dir.into())),
        None => return Err(EnvironmentFilesError::Missing(dir.into())),
    }
    let mut files = Vec::new();
    for entry in source.list(dir)? {
        if entry.kind != EntryKind::File || !is_manifest_file(&entry.path) {
            continue;
        }
        let bytes = source.read_file(&entry.path)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| EnvironmentFilesError::NotText(entry.path.clone()))?;
        files.push((entry.path, text));
    }
    Ok(files)
}

/// The files a bump of `env` edits, as (path, text): for a Helm environment its values files
/// in `helm.values` order (templates are not YAML and are never edited), otherwise
/// [`environment_files`] of its directory.
pub fn files_to_bump(
    source: &dyn TreeSource,
    env: &Environment,
) -> Result<Vec<(String, String)>, EnvironmentFilesError> {
    if !crate::render::is_helm_environment(source, env) {
        return environment_files(source, &env.path);
    }
    let mut files = Vec::new();
    for path in crate::render::values_files(source, env) {
        match source.entry(&path)? {
            Some(EntryKind::File) => {}
            Some(EntryKind::Symlink { .. }) => return Err(EnvironmentFilesError::Symlink(path)),
            Some(EntryKind::Dir) => return Err(EnvironmentFilesError::NotAFile(path)),
            None => return Err(EnvironmentFilesError::Missing(path)),
        }
        let text = String::from_utf8(source.read_file(&path)?)
            .map_err(|_| EnvironmentFilesError::NotText(path.clone()))?;
        files.push((path, text));
    }
    Ok(files)
}

/// `*.yaml`, `*.yml`, `*.json` (any case) and `Kustomization`.
pub fn is_manifest_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == "Kustomization"
        || [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| name.to_ascii_lowercase().ends_with(ext))
}

//! Reading `.github/slipway.yml` from a repository tree: the one way every pipeline and
//! command gets a repository's configuration, so all of them say the same about a file that
//! is missing, is not text, or is not valid.

use super::{
    check_repo_config, parse_config_repo, parse_repo_config, ConfigErrors, ConfigRepoConfig,
    PathKind, RepoConfig, CONFIG_PATH,
};
use crate::render::{SourceError, TreeSource};

/// Why `.github/slipway.yml` could not be read from a tree. `at` says which revision (or
/// directory) it was read from, as the tree describes itself.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("there is no {CONFIG_PATH} at {at}")]
    NotFound { at: String },
    #[error("{CONFIG_PATH} at {at} is not UTF-8 text")]
    NotUtf8 { at: String },
    /// Every mistake of the file; each already names the file, line and column.
    #[error("{errors}")]
    Invalid { at: String, errors: ConfigErrors },
    /// The tree itself could not be read (a broken object database, an I/O error).
    #[error("reading {CONFIG_PATH} at {at}: {source}")]
    Source {
        at: String,
        #[source]
        source: SourceError,
    },
}

impl ReadError {
    /// Where the file was read.
    pub fn at(&self) -> &str {
        match self {
            ReadError::NotFound { at }
            | ReadError::NotUtf8 { at }
            | ReadError::Invalid { at, .. }
            | ReadError::Source { at, .. } => at,
        }
    }

    /// The file's mistakes, located, when it is there but unusable: its errors, or one at its
    /// start when it is not text.
    pub fn config_errors(&self) -> Option<ConfigErrors> {
        match self {
            ReadError::Invalid { errors, .. } => Some(errors.clone()),
            ReadError::NotUtf8 { .. } => Some(ConfigErrors::not_utf8()),
            ReadError::NotFound { .. } | ReadError::Source { .. } => None,
        }
    }
}

/// `.github/slipway.yml` of `source`, parsed and validated.
pub fn read_at(source: &dyn TreeSource) -> Result<RepoConfig, ReadError> {
    parsed(source, parse_repo_config)
}

/// The environments `.github/slipway.yml` of `source` declares; a file without
/// `environments:` is [`ReadError::Invalid`], saying so.
pub fn read_config_repo_at(source: &dyn TreeSource) -> Result<ConfigRepoConfig, ReadError> {
    parsed(source, parse_config_repo)
}

/// Like [`read_at`], and also checks that each environment's `path` is a directory of
/// `source` (see [`check_repo_config`]). A symlink anywhere on the way counts as one:
/// rendering would refuse it.
pub fn check_at(source: &dyn TreeSource) -> Result<RepoConfig, ReadError> {
    let at = source.describe();
    let text = text_at(source, &at)?;
    check_repo_config(&text, |path| kind_at(source, path))
        .map_err(|source| ReadError::Source {
            at: at.clone(),
            source,
        })?
        .map_err(|errors| ReadError::Invalid { at, errors })
}

fn parsed<T>(
    source: &dyn TreeSource,
    parse: impl FnOnce(&str) -> Result<T, ConfigErrors>,
) -> Result<T, ReadError> {
    let at = source.describe();
    let text = text_at(source, &at)?;
    parse(&text).map_err(|errors| ReadError::Invalid { at, errors })
}

fn text_at(source: &dyn TreeSource, at: &str) -> Result<String, ReadError> {
    let bytes = match source.read_file(CONFIG_PATH) {
        Ok(bytes) => bytes,
        Err(SourceError::NotFound { .. }) => return Err(ReadError::NotFound { at: at.into() }),
        Err(source) => {
            return Err(ReadError::Source {
                at: at.into(),
                source,
            })
        }
    };
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8 { at: at.into() })
}

fn kind_at(source: &dyn TreeSource, path: &str) -> Result<PathKind, SourceError> {
    use crate::render::EntryKind;
    match source.entry(path) {
        Ok(Some(EntryKind::Dir)) => Ok(PathKind::Directory),
        Ok(Some(EntryKind::File)) => Ok(PathKind::File),
        Ok(Some(EntryKind::Symlink { .. })) | Err(SourceError::ThroughSymlink { .. }) => {
            Ok(PathKind::Symlink)
        }
        Ok(None) | Err(SourceError::NotFound { .. } | SourceError::NotADirectory { .. }) => {
            Ok(PathKind::Missing)
        }
        Err(other) => Err(other),
    }
}

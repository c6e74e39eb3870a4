//! Reading `.github/slipway.yml` from a repository tree: the one way every pipeline and
//! command gets a repository's configuration, so all of them say the same about a file that
//! is missing, is not text, or is not valid.

use super::{
    check_repo_config, parse_config_repo, parse_repo_config_for, ConfigErrors, ConfigRepoConfig,
    KnownClusters, PathKind, RepoConfig, CONFIG_PATH,
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

/// `.github/slipway.yml` of `source`, parsed and validated; an environment naming a cluster
/// not in `known` is one of its errors.
pub fn read_at(source: &dyn TreeSource, known: &KnownClusters) -> Result<RepoConfig, ReadError> {
    parsed(source, |text| parse_repo_config_for(text, known))
}

/// The environments `.github/slipway.yml` of `source` declares; a file without
/// `environments:` is [`ReadError::Invalid`], saying so.
pub fn read_config_repo_at(source: &dyn TreeSource) -> Result<ConfigRepoConfig, ReadError> {
    parsed(source, parse_config_repo)
}

/// Like [`read_at`], and also checks that each environment's `path` is a directory of
/// `source` (see [`check_repo_config`]). A symlink anywhere on the way counts as one:
/// rendering would refuse it.
pub fn check_at(source: &dyn TreeSource, known: &KnownClusters) -> Result<RepoConfig, ReadError> {
    let at = source.describe();
    let text = text_at(source, &at)?;
    check_repo_config(&text, known, |path| kind_at(source, path))
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::render::{EntryKind, TreeEntry};

    /// A tree of files held in memory, described as `commit 3f2a1b0c9d8e`.
    struct Files(BTreeMap<&'static str, &'static [u8]>);

    impl Files {
        fn with(files: &[(&'static str, &'static [u8])]) -> Files {
            Files(files.iter().copied().collect())
        }
    }

    impl TreeSource for Files {
        fn entry(&self, path: &str) -> Result<Option<EntryKind>, SourceError> {
            if self.0.contains_key(path) {
                return Ok(Some(EntryKind::File));
            }
            let prefix = format!("{path}/");
            Ok(self
                .0
                .keys()
                .any(|p| p.starts_with(&prefix))
                .then_some(EntryKind::Dir))
        }

        fn read_file(&self, path: &str) -> Result<Vec<u8>, SourceError> {
            self.0
                .get(path)
                .map(|bytes| bytes.to_vec())
                .ok_or_else(|| SourceError::NotFound { path: path.into() })
        }

        fn list(&self, _dir: &str) -> Result<Vec<TreeEntry>, SourceError> {
            Ok(Vec::new())
        }

        fn describe(&self) -> String {
            "commit 3f2a1b0c9d8e".into()
        }
    }

    const VALID: &[u8] = b"environments:\n  dev:\n    path: envs/dev\n";

    #[test]
    fn a_valid_file_is_its_configuration() {
        let tree = Files::with(&[(CONFIG_PATH, VALID), ("envs/dev/a.yaml", b"")]);
        let config = read_at(&tree, &KnownClusters::default()).unwrap();
        assert!(config.config_repo.unwrap().environment("dev").is_some());
    }

    #[test]
    fn a_missing_file_says_at_which_revision() {
        let err = read_at(&Files::with(&[]), &KnownClusters::default()).unwrap_err();
        assert!(matches!(err, ReadError::NotFound { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "there is no .github/slipway.yml at commit 3f2a1b0c9d8e"
        );
        assert_eq!(err.config_errors(), None);
    }

    #[test]
    fn a_file_that_is_not_text_is_an_error_at_its_start() {
        let err = read_at(
            &Files::with(&[(CONFIG_PATH, b"\xff\xfe")]),
            &KnownClusters::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            ".github/slipway.yml at commit 3f2a1b0c9d8e is not UTF-8 text"
        );
        let errors = err.config_errors().unwrap();
        assert_eq!((errors.first().line(), errors.first().column()), (1, 1));
    }

    #[test]
    fn an_invalid_file_shows_every_located_error() {
        let tree = Files::with(&[(
            CONFIG_PATH,
            b"environments:\n  dev:\n    pth: envs/dev\n  prod:\n    path: /abs\n",
        )]);
        let err = read_at(&tree, &KnownClusters::default()).unwrap_err();
        assert_eq!(err.at(), "commit 3f2a1b0c9d8e");
        let lines: Vec<String> = err.to_string().lines().map(str::to_string).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with(".github/slipway.yml:3:5: unknown key `pth`"));
        assert!(lines[1].starts_with(".github/slipway.yml:5:11: "));
    }

    #[test]
    fn an_app_repo_is_no_config_repo() {
        let tree = Files::with(&[(CONFIG_PATH, b"build:\n  image: registry.example.com/a\n")]);
        assert!(read_at(&tree, &KnownClusters::default())
            .unwrap()
            .config_repo
            .is_none());
        let err = read_config_repo_at(&tree).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(".github/slipway.yml:1:1: no `environments:` here"),
            "{err}"
        );
    }

    #[test]
    fn checking_finds_paths_the_tree_does_not_hold() {
        let tree = Files::with(&[(CONFIG_PATH, VALID)]);
        assert!(
            read_at(&tree, &KnownClusters::default()).is_ok(),
            "reading alone does not look"
        );
        let err = check_at(&tree, &KnownClusters::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            ".github/slipway.yml:3:11: `path` `envs/dev` of environment `dev` does not exist in the repository"
        );
        let filled = Files::with(&[(CONFIG_PATH, VALID), ("envs/dev/a.yaml", b"")]);
        assert!(check_at(&filled, &KnownClusters::default()).is_ok());
    }
}

//! Where rendering reads files from: a git revision (see `crate::git`) or a directory on disk.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What a path in a tree is. Symlinks are reported as such, never followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    /// A symbolic link and its target, exactly as stored (relative or absolute).
    Symlink {
        target: String,
    },
    Dir,
}

/// One entry of a recursive listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Repo-relative path with `/` separators.
    pub path: String,
    pub kind: EntryKind,
}

/// Why a tree source could not answer.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path}: not a regular file")]
    NotAFile { path: String },
    #[error("{path}: not a directory")]
    NotADirectory { path: String },
    #[error("{path}: a path component is a symlink, which is not followed")]
    ThroughSymlink { path: String },
    #[error("{path}: refused: the path is absolute or leaves the repository")]
    Escapes { path: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{context}: {source}")]
    Backend {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A read-only repository tree: a git revision or a directory on disk.
///
/// Paths are repo-relative with `/` separators; `""` is the root. Implementations never
/// follow symlinks: callers see them as [`EntryKind::Symlink`] and decide.
pub trait TreeSource: Send + Sync {
    /// What is at `path`, without following a final symlink; `None` when nothing is.
    fn entry(&self, path: &str) -> Result<Option<EntryKind>, SourceError>;
    /// The bytes of the regular file at `path`.
    fn read_file(&self, path: &str) -> Result<Vec<u8>, SourceError>;
    /// Every entry below the directory `dir` (recursively, not including `dir`), sorted by path.
    fn list(&self, dir: &str) -> Result<Vec<TreeEntry>, SourceError>;
    /// A short human description for messages: a commit id, or the directory.
    fn describe(&self) -> String;
}

/// Checks a repo-relative path handed to a tree source: no leading `/`, no `..`, no empty,
/// `.` or `.git` components (except that `""` names the root).
pub(crate) fn check_relative(path: &str) -> Result<(), SourceError> {
    if path.is_empty() {
        return Ok(());
    }
    let bad = path.starts_with('/')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c == ".git" || c.contains('\\'));
    if bad {
        Err(SourceError::Escapes {
            path: path.to_string(),
        })
    } else {
        Ok(())
    }
}

/// `dir/name`, or `name` at the root.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// A directory on disk (a work tree), read without following symlinks; `.git` is skipped.
#[derive(Debug, Clone)]
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    /// A source rooted at the directory `root`.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, SourceError> {
        let root = root.into();
        let meta = fs::metadata(&root).map_err(|source| SourceError::Io {
            path: root.display().to_string(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(SourceError::NotADirectory {
                path: root.display().to_string(),
            });
        }
        Ok(DirSource { root })
    }

    /// The directory this source reads.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The on-disk path of `path`, after checking that no component of it (but the last) is
    /// a symlink.
    fn resolve(&self, path: &str) -> Result<PathBuf, SourceError> {
        check_relative(path)?;
        let mut full = self.root.clone();
        let components: Vec<&str> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').collect()
        };
        for (i, component) in components.iter().enumerate() {
            full.push(component);
            if i + 1 < components.len() {
                match fs::symlink_metadata(&full) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        return Err(SourceError::ThroughSymlink {
                            path: path.to_string(),
                        })
                    }
                    Ok(meta) if !meta.is_dir() => {
                        return Err(SourceError::NotFound {
                            path: path.to_string(),
                        })
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        return Err(SourceError::NotFound {
                            path: path.to_string(),
                        })
                    }
                    Err(source) => {
                        return Err(SourceError::Io {
                            path: path.to_string(),
                            source,
                        })
                    }
                }
            }
        }
        Ok(full)
    }

    fn kind_of(
        full: &Path,
        meta: &fs::Metadata,
        path: &str,
    ) -> Result<Option<EntryKind>, SourceError> {
        let ft = meta.file_type();
        Ok(if ft.is_symlink() {
            let target = fs::read_link(full).map_err(|source| SourceError::Io {
                path: path.to_string(),
                source,
            })?;
            Some(EntryKind::Symlink {
                target: target.to_string_lossy().replace('\\', "/"),
            })
        } else if ft.is_dir() {
            Some(EntryKind::Dir)
        } else if ft.is_file() {
            Some(EntryKind::File)
        } else {
            None // sockets, fifos, devices: not part of a repository
        })
    }

    fn walk(&self, dir: &str, full: &Path, out: &mut Vec<TreeEntry>) -> Result<(), SourceError> {
        let io_err = |source| SourceError::Io {
            path: dir.to_string(),
            source,
        };
        for item in fs::read_dir(full).map_err(io_err)? {
            let item = item.map_err(io_err)?;
            let Some(name) = item.file_name().to_str().map(str::to_string) else {
                continue; // not UTF-8: cannot be named in a repo-relative path
            };
            if name == ".git" {
                continue;
            }
            let path = join(dir, &name);
            let item_path = item.path();
            let meta = fs::symlink_metadata(&item_path).map_err(|source| SourceError::Io {
                path: path.clone(),
                source,
            })?;
            match Self::kind_of(&item_path, &meta, &path)? {
                Some(EntryKind::Dir) => {
                    out.push(TreeEntry {
                        path: path.clone(),
                        kind: EntryKind::Dir,
                    });
                    self.walk(&path, &item_path, out)?;
                }
                Some(kind) => out.push(TreeEntry { path, kind }),
                None => {}
            }
        }
        Ok(())
    }
}

impl TreeSource for DirSource {
    fn entry(&self, path: &str) -> Result<Option<EntryKind>, SourceError> {
        if path.is_empty() {
            return Ok(Some(EntryKind::Dir)); // checked by `new`
        }
        let full = match self.resolve(path) {
            Err(SourceError::NotFound { .. }) => return Ok(None),
            other => other?,
        };
        match fs::symlink_metadata(&full) {
            Ok(meta) => Self::kind_of(&full, &meta, path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SourceError::Io {
                path: path.to_string(),
                source,
            }),
        }
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let full = self.resolve(path)?;
        match self.entry(path)? {
            Some(EntryKind::File) => fs::read(&full).map_err(|source| SourceError::Io {
                path: path.to_string(),
                source,
            }),
            Some(_) => Err(SourceError::NotAFile {
                path: path.to_string(),
            }),
            None => Err(SourceError::NotFound {
                path: path.to_string(),
            }),
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<TreeEntry>, SourceError> {
        match self.entry(dir)? {
            Some(EntryKind::Dir) => {}
            Some(_) => {
                return Err(SourceError::NotADirectory {
                    path: dir.to_string(),
                })
            }
            None => {
                return Err(SourceError::NotFound {
                    path: dir.to_string(),
                })
            }
        }
        let mut out = Vec::new();
        self.walk(dir, &self.resolve(dir)?, &mut out)?;
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

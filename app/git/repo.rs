//! Reading an existing repository at a revision, straight from its object database.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gix::objs::tree::EntryKind as GitKind;

use super::{CommitId, GitError};
use crate::render::{EntryKind, SourceError, TreeEntry, TreeSource};

/// Object cache per open repository: trees are looked up again and again while rendering.
const OBJECT_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// An existing repository on disk: a work tree (its `.git` is used) or a bare repository.
#[derive(Clone)]
pub struct LocalRepo {
    repo: gix::ThreadSafeRepository,
}

impl std::fmt::Debug for LocalRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRepo")
            .field("git_dir", &self.repo.git_dir())
            .finish()
    }
}

impl LocalRepo {
    /// Opens the repository at `path` (a work tree or a bare repository). Global and system
    /// git configuration and `GIT_*` variables are ignored: only the repository's own is read.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GitError> {
        let path = path.as_ref();
        let repo =
            gix::open_opts(path, gix::open::Options::isolated()).map_err(|e| GitError::Open {
                path: path.to_path_buf(),
                source: Box::new(e),
            })?;
        Ok(LocalRepo {
            repo: repo.into_sync(),
        })
    }

    pub(crate) fn from_gix(repo: gix::Repository) -> Self {
        LocalRepo {
            repo: repo.into_sync(),
        }
    }

    fn local(&self) -> gix::Repository {
        let mut repo = self.repo.to_thread_local();
        repo.object_cache_size_if_unset(OBJECT_CACHE_BYTES);
        repo
    }

    /// The git directory (`.git` of a work tree, or the bare repository itself).
    pub fn git_dir(&self) -> &Path {
        self.repo.git_dir()
    }

    /// The work tree, when the repository has one.
    pub fn work_dir(&self) -> Option<PathBuf> {
        self.repo.to_thread_local().workdir().map(Path::to_path_buf)
    }

    /// Resolves any revision (`HEAD`, `main`, `v1.2`, `HEAD~2`, a full or short id, `origin/main`)
    /// to the commit it names (tags are peeled).
    pub fn resolve(&self, rev: &str) -> Result<CommitId, GitError> {
        resolve(&self.local(), rev)
    }

    /// The tree of the commit `rev` names, as a [`TreeSource`].
    pub fn tree_at(&self, rev: &str) -> Result<GitTree, GitError> {
        let repo = self.local();
        let commit = resolve(&repo, rev)?;
        let tree = repo
            .find_commit(commit.object_id())
            .and_then(|c| c.tree_id().map(|id| id.detach()))
            .map_err(|e| GitError::Object {
                context: format!("commit {commit}"),
                source: Box::new(e),
            })?;
        Ok(GitTree {
            rev: rev.to_string(),
            commit,
            tree,
            state: Mutex::new(TreeState {
                repo,
                index: HashMap::new(),
            }),
        })
    }

    /// Whether the object database holds the commit `id` (no fetch needed to read it).
    pub fn has_commit(&self, id: &CommitId) -> bool {
        let repo = self.local();
        repo.find_object(id.object_id())
            .is_ok_and(|object| object.kind == gix::object::Kind::Commit)
    }

    /// The best common ancestor of two commits, or `None` when their histories are unrelated.
    pub fn merge_base(&self, one: &CommitId, two: &CommitId) -> Result<Option<CommitId>, GitError> {
        let repo = self.local();
        repo.merge_base(one.object_id(), two.object_id())
            .map(|found| found.map(|id| CommitId(id.detach())))
            .map_err(|e| GitError::Object {
                context: format!("the merge base of {one} and {two}"),
                source: Box::new(e),
            })
    }

    /// The first parent of `commit`: what the branch held before a merge (or a squash) landed
    /// it. `None` for a root commit.
    pub fn first_parent(&self, commit: &CommitId) -> Result<Option<CommitId>, GitError> {
        Ok(self.parents(commit)?.into_iter().next())
    }

    /// Every parent of `commit`, first parent first; none for a root commit.
    pub fn parents(&self, commit: &CommitId) -> Result<Vec<CommitId>, GitError> {
        let repo = self.local();
        let found = repo
            .find_commit(commit.object_id())
            .map_err(|e| GitError::Object {
                context: format!("commit {commit}"),
                source: Box::new(e),
            })?;
        Ok(found.parent_ids().map(|id| CommitId(id.detach())).collect())
    }

    /// The commits reachable from `to` but not from `from` (git's `from..to`), newest first,
    /// each with its subject line; at most `limit` of them, and whether there were more.
    pub fn commits_between(
        &self,
        from: &CommitId,
        to: &CommitId,
        limit: usize,
    ) -> Result<(Vec<(CommitId, String)>, bool), GitError> {
        let repo = self.local();
        let walk_error = |e: &dyn std::fmt::Display| GitError::Object {
            context: format!("the commits between {from} and {to}"),
            source: e.to_string().into(),
        };
        let walk = repo
            .rev_walk([to.object_id()])
            .with_hidden([from.object_id()])
            .all()
            .map_err(|e| walk_error(&e))?;
        let mut found = Vec::new();
        for info in walk {
            let info = info.map_err(|e| walk_error(&e))?;
            if found.len() == limit {
                return Ok((found, true));
            }
            let commit = repo.find_commit(info.id).map_err(|e| walk_error(&e))?;
            let subject = commit
                .message_raw_sloppy()
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            found.push((CommitId(info.id), subject));
        }
        Ok((found, false))
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub fn is_ancestor(
        &self,
        ancestor: &CommitId,
        descendant: &CommitId,
    ) -> Result<bool, GitError> {
        if ancestor == descendant {
            return Ok(true);
        }
        Ok(self.merge_base(ancestor, descendant)?.as_ref() == Some(ancestor))
    }

    /// The commit whose id starts with `prefix` (at least 4 hex digits), looked up in the
    /// object database only: a branch or tag that happens to be named like hex is never
    /// taken for it.
    pub fn commit_by_prefix(&self, prefix: &str) -> Result<PrefixMatch, GitError> {
        let bad = |reason: String| GitError::BadObjectId {
            text: prefix.to_string(),
            reason,
        };
        let repo = self.local();
        let id = if prefix.len() == repo.object_hash().len_in_hex() {
            gix::ObjectId::from_hex(prefix.as_bytes()).map_err(|e| bad(e.to_string()))?
        } else {
            let wanted = gix::hash::Prefix::from_hex(prefix).map_err(|e| bad(e.to_string()))?;
            let found = repo
                .objects
                .lookup_prefix(wanted, None)
                .map_err(|e| GitError::Object {
                    context: format!("objects starting with {prefix}"),
                    source: Box::new(e),
                })?;
            match found {
                None => return Ok(PrefixMatch::None),
                Some(Err(())) => return Ok(PrefixMatch::Ambiguous),
                Some(Ok(id)) => id,
            }
        };
        let kind = repo.find_object(id).map(|object| object.kind);
        Ok(match kind {
            Ok(gix::object::Kind::Commit) => PrefixMatch::Commit(CommitId(id)),
            Ok(_) => PrefixMatch::NotACommit,
            Err(_) => PrefixMatch::None,
        })
    }

    /// The bytes of the file at `rev:path`; `None` when there is no such file.
    pub fn read_file(&self, rev: &str, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let tree = self.tree_at(rev)?;
        let path_error = |e: SourceError| GitError::Path {
            rev: rev.to_string(),
            path: path.to_string(),
            reason: e.to_string(),
        };
        match tree.entry(path).map_err(path_error)? {
            None => Ok(None),
            Some(EntryKind::File) => tree.read_file(path).map(Some).map_err(path_error),
            Some(_) => Err(GitError::Path {
                rev: rev.to_string(),
                path: path.to_string(),
                reason: "not a regular file".to_string(),
            }),
        }
    }
}

fn resolve(repo: &gix::Repository, rev: &str) -> Result<CommitId, GitError> {
    let id = repo
        .rev_parse_single(rev)
        .map_err(|e| GitError::RevisionNotFound {
            rev: rev.to_string(),
            source: Box::new(e),
        })?;
    let commit = id
        .object()
        .map_err(|e| GitError::Object {
            context: format!("revision `{rev}`"),
            source: Box::new(e),
        })?
        .peel_to_commit()
        .map_err(|e| GitError::NotACommit {
            rev: rev.to_string(),
            source: Box::new(e),
        })?;
    Ok(CommitId(commit.id))
}

/// What a hex prefix names in a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixMatch {
    Commit(CommitId),
    /// An object that is not a commit (a tree, a blob, a tag).
    NotACommit,
    /// Several objects start with it.
    Ambiguous,
    None,
}

/// How a tree entry holds its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryMode {
    Directory,
    File,
    Executable,
    Symlink,
    /// A commit of another repository.
    Submodule,
}

/// The object a path of a tree names, as the tree entry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathObject {
    pub mode: EntryMode,
    /// The object id, 40 hex digits.
    pub id: String,
}

/// One commit's tree, read from the object database. Cheap to create; `Send + Sync`.
pub struct GitTree {
    rev: String,
    commit: CommitId,
    tree: gix::ObjectId,
    state: Mutex<TreeState>,
}

struct TreeState {
    repo: gix::Repository,
    /// Entries seen by `list`, so reading them needs no second lookup from the root.
    index: HashMap<String, (GitKind, gix::ObjectId)>,
}

impl std::fmt::Debug for GitTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitTree")
            .field("rev", &self.rev)
            .field("commit", &self.commit)
            .finish()
    }
}

impl GitTree {
    /// The commit whose tree this is.
    pub fn commit(&self) -> CommitId {
        self.commit
    }

    /// The revision this tree was asked for, as given.
    pub fn rev(&self) -> &str {
        &self.rev
    }

    /// The object at `path` (a directory's tree, a file's blob) and its mode; `None` when the
    /// tree has no such path. Two trees hold the same content at `path` exactly when these are
    /// equal.
    pub fn object_at(&self, path: &str) -> Result<Option<PathObject>, SourceError> {
        let mut state = self.lock();
        Ok(self.lookup(&mut state, path)?.map(|(kind, id)| PathObject {
            mode: match kind {
                GitKind::Tree => EntryMode::Directory,
                GitKind::Blob => EntryMode::File,
                GitKind::BlobExecutable => EntryMode::Executable,
                GitKind::Link => EntryMode::Symlink,
                GitKind::Commit => EntryMode::Submodule,
            },
            id: id.to_string(),
        }))
    }

    fn backend(&self, context: String) -> impl FnOnce(gix::Error) -> SourceError {
        move |e| SourceError::Backend {
            context,
            source: Box::new(e),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TreeState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The kind and object id at `path` (`""`: the root tree).
    fn lookup(
        &self,
        state: &mut TreeState,
        path: &str,
    ) -> Result<Option<(GitKind, gix::ObjectId)>, SourceError> {
        crate::render::check_path(path)?;
        if path.is_empty() {
            return Ok(Some((GitKind::Tree, self.tree)));
        }
        if let Some(found) = state.index.get(path) {
            return Ok(Some(*found));
        }
        let context = || format!("{path} at {}", self.commit.short(12));
        let tree = state
            .repo
            .find_tree(self.tree)
            .map_err(self.backend(context()))?;
        match tree.lookup_entry_by_path(path) {
            Ok(Some(entry)) => Ok(Some((entry.mode().kind(), entry.object_id()))),
            Ok(None) => Ok(None),
            Err(e) => Err(self.backend(context())(e)),
        }
    }

    fn read_blob(
        &self,
        state: &TreeState,
        path: &str,
        id: gix::ObjectId,
    ) -> Result<Vec<u8>, SourceError> {
        let mut blob = state
            .repo
            .find_blob(id)
            .map_err(self.backend(format!("{path} at {}", self.commit.short(12))))?;
        Ok(blob.take_data())
    }

    fn kind(
        &self,
        state: &TreeState,
        path: &str,
        kind: GitKind,
        id: gix::ObjectId,
    ) -> Result<Option<EntryKind>, SourceError> {
        Ok(match kind {
            GitKind::Tree => Some(EntryKind::Dir),
            GitKind::Blob | GitKind::BlobExecutable => Some(EntryKind::File),
            GitKind::Link => Some(EntryKind::Symlink {
                target: String::from_utf8_lossy(&self.read_blob(state, path, id)?).into_owned(),
            }),
            GitKind::Commit => None, // a submodule: its files are not in this repository
        })
    }

    fn walk(
        &self,
        state: &mut TreeState,
        dir: &str,
        tree_id: gix::ObjectId,
        out: &mut Vec<TreeEntry>,
    ) -> Result<(), SourceError> {
        let children: Vec<(String, GitKind, gix::ObjectId)> = {
            let tree = state
                .repo
                .find_tree(tree_id)
                .map_err(self.backend(format!("{dir} at {}", self.commit.short(12))))?;
            let decoded = tree.decode().map_err(|e| SourceError::Backend {
                context: format!("{dir} at {}", self.commit.short(12)),
                source: Box::new(e),
            })?;
            decoded
                .entries
                .iter()
                .filter_map(|e| {
                    let name = std::str::from_utf8(e.filename.as_ref()).ok()?;
                    Some((
                        crate::render::join_path(dir, name),
                        e.mode.kind(),
                        e.oid.to_owned(),
                    ))
                })
                .collect()
        };
        for (path, kind, id) in children {
            state.index.insert(path.clone(), (kind, id));
            if let Some(entry_kind) = self.kind(state, &path, kind, id)? {
                out.push(TreeEntry {
                    path: path.clone(),
                    kind: entry_kind,
                });
            }
            if kind == GitKind::Tree {
                self.walk(state, &path, id, out)?;
            }
        }
        Ok(())
    }
}

impl TreeSource for GitTree {
    fn entry(&self, path: &str) -> Result<Option<EntryKind>, SourceError> {
        let mut state = self.lock();
        match self.lookup(&mut state, path)? {
            Some((kind, id)) => self.kind(&state, path, kind, id),
            None => Ok(None),
        }
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let mut state = self.lock();
        match self.lookup(&mut state, path)? {
            Some((GitKind::Blob | GitKind::BlobExecutable, id)) => self.read_blob(&state, path, id),
            Some(_) => Err(SourceError::NotAFile {
                path: path.to_string(),
            }),
            None => Err(SourceError::NotFound {
                path: path.to_string(),
            }),
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<TreeEntry>, SourceError> {
        let mut state = self.lock();
        let tree_id = match self.lookup(&mut state, dir)? {
            Some((GitKind::Tree, id)) => id,
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
        };
        let mut out = Vec::new();
        self.walk(&mut state, dir, tree_id, &mut out)?;
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn describe(&self) -> String {
        if self.rev == self.commit.to_hex() {
            format!("commit {}", self.commit.short(12))
        } else {
            format!("`{}` ({})", self.rev, self.commit.short(12))
        }
    }
}

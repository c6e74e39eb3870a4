//! Repository-relative paths: the environment's directory and symlink targets, never outside.

use super::source::{EntryKind, TreeSource};
use super::RenderError;
use crate::config::Environment;

/// How many symlinks one lookup may follow before it is considered a loop.
pub(crate) const MAX_SYMLINK_HOPS: usize = 8;

/// The environment's directory in `source`, after following symlinks (which must stay
/// inside the repository).
pub(crate) fn env_dir(source: &dyn TreeSource, env: &Environment) -> Result<String, RenderError> {
    let refuse = |reason: &str| RenderError::EnvPath {
        env: env.name.clone(),
        path: env.path.clone(),
        reason: reason.to_string(),
    };
    let path = normalize(&env.path).ok_or_else(|| {
        refuse("is absolute or leaves the repository; it must be a directory inside it")
    })?;
    if path.is_empty() {
        return Err(refuse(
            "names the repository root; it must be a directory inside it",
        ));
    }
    match resolve(source, "", &path) {
        Ok(Some((dir, EntryKind::Dir))) => Ok(dir),
        Ok(Some(_)) => Err(refuse(&format!(
            "is a file at {}, not a directory",
            source.describe()
        ))),
        Ok(None) => Err(refuse(&format!("does not exist at {}", source.describe()))),
        Err(Stop::Source(err)) => Err(err.into()),
        Err(Stop::Escapes(Some((link, target)))) => Err(outside(&link, &target)),
        Err(Stop::Escapes(None)) => Err(refuse(
            "is absolute or leaves the repository; it must be a directory inside it",
        )),
        Err(Stop::Loop) => Err(refuse("is a chain of too many symlinks")),
    }
}

/// The refusal of a symlink whose target resolves outside the repository.
pub(crate) fn outside(link: &str, target: &str) -> RenderError {
    RenderError::Symlink {
        path: link.to_string(),
        target: target.to_string(),
        reason: "points outside the repository; refused".to_string(),
    }
}

/// Why a walk through the tree stopped short of an answer.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The path climbs above the repository root, is absolute or enters `.git`; with the
    /// innermost symlink (path, target) that took it there, if one did.
    Escapes(Option<(String, String)>),
    /// More than [`MAX_SYMLINK_HOPS`] symlinks were followed.
    Loop,
    Source(super::source::SourceError),
}

impl From<super::source::SourceError> for Stop {
    fn from(err: super::source::SourceError) -> Self {
        Stop::Source(err)
    }
}

/// Resolves `rel` against the directory `dir` the way the operating system would once the
/// tree is written to disk: component by component, each symlink replaced by what its
/// target resolves to before the next `..` is applied. Judging targets by their text is not
/// enough: `up -> ../..` makes `up/../..` climb four levels, not zero.
///
/// The resolved repo-relative path and its kind (never a symlink); `None` when some
/// component does not exist (the operating system would stop there too).
pub(crate) fn resolve(
    source: &dyn TreeSource,
    dir: &str,
    rel: &str,
) -> Result<Option<(String, EntryKind)>, Stop> {
    let mut at: Vec<String> = dir
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let mut hops = 0;
    Ok(walk(source, &mut at, rel, &mut hops)?.map(|kind| (at.join("/"), kind)))
}

/// Resolves the target of the symlink at `link`: what it finally names, `None` when nothing.
/// Refused when it resolves outside the repository or loops.
pub(crate) fn resolve_link(
    source: &dyn TreeSource,
    link: &str,
    target: &str,
) -> Result<Option<(String, EntryKind)>, RenderError> {
    let parent = link.rsplit_once('/').map_or("", |(dir, _)| dir);
    match resolve(source, parent, target) {
        Ok(found) => Ok(found),
        Err(Stop::Source(err)) => Err(err.into()),
        Err(Stop::Escapes(_)) => Err(outside(link, target)),
        Err(Stop::Loop) => Err(RenderError::Symlink {
            path: link.to_string(),
            target: target.to_string(),
            reason: "starts a chain of too many symlinks (a loop?)".to_string(),
        }),
    }
}

fn is_absolute(path: &str) -> bool {
    path.starts_with('/') || path.starts_with('\\') || path.as_bytes().get(1) == Some(&b':')
}

/// One step of [`resolve`]: applies `rel` to `at` (a resolved directory), returning the kind
/// of what it ends on.
fn walk(
    source: &dyn TreeSource,
    at: &mut Vec<String>,
    rel: &str,
    hops: &mut usize,
) -> Result<Option<EntryKind>, Stop> {
    if is_absolute(rel) || rel.contains('\\') {
        return Err(Stop::Escapes(None));
    }
    let mut kind = EntryKind::Dir;
    for component in rel.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if kind != EntryKind::Dir {
            return Ok(None); // `file/x` or `file/..`: the operating system says ENOTDIR
        }
        match component {
            ".." => {
                at.pop().ok_or(Stop::Escapes(None))?;
                continue;
            }
            ".git" => return Err(Stop::Escapes(None)),
            name => at.push(name.to_string()),
        }
        let path = at.join("/");
        kind = match source.entry(&path)? {
            None => return Ok(None),
            Some(EntryKind::Symlink { target }) => {
                *hops += 1;
                if *hops > MAX_SYMLINK_HOPS {
                    return Err(Stop::Loop);
                }
                at.pop();
                match walk(source, at, &target, hops) {
                    Ok(Some(kind)) => kind,
                    Ok(None) => return Ok(None),
                    Err(Stop::Escapes(None)) => {
                        return Err(Stop::Escapes(Some((path, target))));
                    }
                    Err(other) => return Err(other),
                }
            }
            Some(other) => other,
        };
    }
    Ok(Some(kind))
}

/// Follows `path` (which may be a symlink, or a chain of them) to what it finally names.
/// Returns the resolved path and its kind; `None` when it points to nothing.
pub(crate) fn follow(
    source: &dyn TreeSource,
    path: &str,
    kind: EntryKind,
) -> Result<Option<(String, EntryKind)>, RenderError> {
    match kind {
        EntryKind::Symlink { target } => resolve_link(source, path, &target),
        kind => Ok(Some((path.to_string(), kind))),
    }
}

/// Lexically normalises a `/`-separated relative path: drops `.` and empty components and
/// resolves `..`. `None` when the path is absolute, climbs above the root or enters `.git`.
pub(crate) fn normalize(path: &str) -> Option<String> {
    if path.starts_with('/') || path.contains('\\') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            ".git" => return None,
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_inside_and_refuses_outside() {
        assert_eq!(normalize("envs/./dev//").as_deref(), Some("envs/dev"));
        assert_eq!(normalize("envs/dev/../prod").as_deref(), Some("envs/prod"));
        assert_eq!(normalize("envs/../..").as_deref(), None);
        assert_eq!(normalize("/etc").as_deref(), None);
        assert_eq!(normalize("a/.git/config").as_deref(), None);
    }

    use crate::render::DirSource;

    fn tree(links: &[(&str, &str)], files: &[&str]) -> (tempfile::TempDir, DirSource) {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            let full = dir.path().join(file);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, "x").unwrap();
        }
        for (link, target) in links {
            let full = dir.path().join(link);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, full).unwrap();
        }
        let source = DirSource::new(dir.path()).unwrap();
        (dir, source)
    }

    #[test]
    fn symlink_targets_resolve_relative_to_the_link() {
        let (_dir, source) = tree(&[], &["base/x.yaml", "envs/dev/k"]);
        assert_eq!(
            resolve_link(&source, "envs/dev/x.yaml", "../../base/x.yaml").unwrap(),
            Some(("base/x.yaml".to_string(), EntryKind::File))
        );
        assert!(resolve_link(&source, "envs/dev/x.yaml", "../../../etc/passwd").is_err());
        assert!(resolve_link(&source, "envs/dev/x.yaml", "/etc/passwd").is_err());
        assert_eq!(
            resolve_link(&source, "envs/dev/x.yaml", "missing/../../../../etc").unwrap(),
            None
        );
    }

    #[test]
    fn an_intermediate_symlink_counts_where_it_resolves_not_by_its_text() {
        let (_dir, source) = tree(&[("a/b/up", "../..")], &["a/b/f", "top"]);
        // Textually `a/b/up/../top` is `a/b/top`; on disk `up` is the root, so `..` leaves.
        assert!(matches!(
            resolve(&source, "", "a/b/up/../top"),
            Err(Stop::Escapes(None))
        ));
        assert_eq!(
            resolve(&source, "", "a/b/up/top").unwrap(),
            Some(("top".to_string(), EntryKind::File))
        );
    }

    #[test]
    fn symlink_loops_are_refused() {
        let (_dir, source) = tree(&[("a", "b"), ("b", "a")], &[]);
        assert!(matches!(resolve(&source, "", "a"), Err(Stop::Loop)));
    }
}

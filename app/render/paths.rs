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
    let mut path = normalize(&env.path).ok_or_else(|| {
        refuse("is absolute or leaves the repository; it must be a directory inside it")
    })?;
    if path.is_empty() {
        return Err(refuse(
            "names the repository root; it must be a directory inside it",
        ));
    }
    for _ in 0..=MAX_SYMLINK_HOPS {
        match source.entry(&path)? {
            Some(EntryKind::Dir) => return Ok(path),
            Some(EntryKind::File) => {
                return Err(refuse(&format!(
                    "is a file at {}, not a directory",
                    source.describe()
                )))
            }
            Some(EntryKind::Symlink { target }) => path = link_target(&path, &target)?,
            None => return Err(refuse(&format!("does not exist at {}", source.describe()))),
        }
    }
    Err(refuse("is a chain of too many symlinks"))
}

/// The repo-relative path a symlink at `link` pointing to `target` resolves to; an error when
/// the target is absolute or leaves the repository.
pub(crate) fn link_target(link: &str, target: &str) -> Result<String, RenderError> {
    let refuse = || RenderError::Symlink {
        path: link.to_string(),
        target: target.to_string(),
        reason: "points outside the repository; refused".to_string(),
    };
    if target.starts_with('/')
        || target.starts_with('\\')
        || target.as_bytes().get(1) == Some(&b':')
    {
        return Err(refuse());
    }
    let parent = link.rsplit_once('/').map_or("", |(dir, _)| dir);
    let joined = if parent.is_empty() {
        target.to_string()
    } else {
        format!("{parent}/{target}")
    };
    normalize(&joined)
        .filter(|p| !p.is_empty())
        .ok_or_else(refuse)
}

/// Follows `path` (which may be a symlink, or a chain of them) to what it finally names.
/// Returns the resolved path and its kind; `None` when it points to nothing.
pub(crate) fn follow(
    source: &dyn TreeSource,
    path: &str,
    kind: EntryKind,
) -> Result<Option<(String, EntryKind)>, RenderError> {
    let (mut path, mut kind) = (path.to_string(), kind);
    for _ in 0..=MAX_SYMLINK_HOPS {
        let EntryKind::Symlink { target } = &kind else {
            return Ok(Some((path, kind)));
        };
        let next = link_target(&path, target)?;
        match source.entry(&next)? {
            Some(k) => (path, kind) = (next, k),
            None => return Ok(None),
        }
    }
    Err(RenderError::Symlink {
        path,
        target: match kind {
            EntryKind::Symlink { target } => target,
            _ => String::new(),
        },
        reason: "starts a chain of too many symlinks (a loop?)".to_string(),
    })
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

    #[test]
    fn symlink_targets_resolve_relative_to_the_link() {
        assert_eq!(
            link_target("envs/dev/x.yaml", "../../base/x.yaml").unwrap(),
            "base/x.yaml"
        );
        assert!(link_target("envs/dev/x.yaml", "../../../etc/passwd").is_err());
        assert!(link_target("envs/dev/x.yaml", "/etc/passwd").is_err());
    }
}

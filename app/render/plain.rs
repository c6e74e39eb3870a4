//! Plain layout: every `*.yaml`, `*.yml` and `*.json` below the environment's directory.

use super::limits::{bytes as show_bytes, RenderLimits};
use super::paths::{follow, MAX_SYMLINK_HOPS};
use super::source::{EntryKind, TreeSource};
use super::yaml::parse_stream_within;
use super::{objects_from_document, K8sObject, RenderError};

/// Whether a file name is a manifest by its extension.
pub(crate) fn is_manifest(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|ext| name.len() > ext.len() && name.to_ascii_lowercase().ends_with(ext))
}

/// Renders the manifests below `dir`, files in path order, documents in file order.
pub(crate) fn render(
    source: &dyn TreeSource,
    dir: &str,
    limits: &RenderLimits,
) -> Result<Vec<K8sObject>, RenderError> {
    let mut files = Vec::new();
    collect(source, dir, dir, 0, &mut files)?;
    files.sort();
    files.dedup();
    let mut objects = Vec::new();
    let mut total = 0usize;
    for (_shown, real) in files {
        let bytes = source.read_file(&real)?;
        total = total.saturating_add(bytes.len());
        if total > limits.max_rendered_bytes {
            return Err(RenderError::LimitExceeded {
                file: real,
                what: format!("the size of the manifests of `{dir}` up to this file"),
                limit: show_bytes(limits.max_rendered_bytes),
            });
        }
        let text = String::from_utf8(bytes).map_err(|e| RenderError::At {
            file: real.clone(),
            line: 1,
            column: 1,
            message: format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        })?;
        let docs = parse_stream_within(&text, limits).map_err(|e| RenderError::At {
            file: real.clone(),
            line: e.line,
            column: e.column,
            message: super::mask::yaml_message(&text, e.line, &e.message),
        })?;
        for doc in docs {
            objects_from_document(&real, doc.line, doc.value, &mut objects)?;
            if objects.len() > limits.max_documents {
                return Err(RenderError::LimitExceeded {
                    file: real,
                    what: format!("the number of objects in `{dir}`"),
                    limit: format!("{} objects", limits.max_documents),
                });
            }
        }
    }
    Ok(objects)
}

/// Collects (path as seen under the environment, path of the file holding the bytes) for
/// every manifest below `real_dir`, following symlinks that stay inside the repository.
fn collect(
    source: &dyn TreeSource,
    real_dir: &str,
    shown_dir: &str,
    depth: usize,
    out: &mut Vec<(String, String)>,
) -> Result<(), RenderError> {
    for entry in source.list(real_dir)? {
        let rel = entry
            .path
            .strip_prefix(real_dir)
            .unwrap_or(&entry.path)
            .trim_start_matches('/');
        let shown = format!("{shown_dir}/{rel}");
        match &entry.kind {
            EntryKind::Dir => {} // listing is recursive already
            EntryKind::File => {
                if is_manifest(&entry.path) {
                    out.push((shown, entry.path.clone()));
                }
            }
            EntryKind::Symlink { target } => {
                match follow(source, &entry.path, entry.kind.clone())? {
                    Some((real, EntryKind::File)) if is_manifest(&entry.path) => {
                        out.push((shown, real));
                    }
                    Some((_, EntryKind::File)) => {}
                    Some((real, EntryKind::Dir)) => {
                        if depth >= MAX_SYMLINK_HOPS {
                            return Err(RenderError::Symlink {
                                path: entry.path.clone(),
                                target: target.clone(),
                                reason: "nests directory symlinks too deeply (a loop?)".to_string(),
                            });
                        }
                        collect(source, &real, &shown, depth + 1, out)?;
                    }
                    Some((_, EntryKind::Symlink { .. })) => {
                        unreachable!("follow() resolves symlinks")
                    }
                    None if is_manifest(&entry.path) => {
                        return Err(RenderError::Symlink {
                            path: entry.path.clone(),
                            target: target.clone(),
                            reason: "points to nothing".to_string(),
                        })
                    }
                    None => {}
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_by_extension() {
        assert!(is_manifest("envs/dev/a.yaml"));
        assert!(is_manifest("envs/dev/a.YML"));
        assert!(is_manifest("a.json"));
        assert!(!is_manifest("envs/dev/README.md"));
        assert!(!is_manifest("envs/dev/.yaml"));
    }
}

//! The image references a changed object's diff swaps, for a line a reviewer can read: a
//! pinned digest (`api:1.5.0@sha256:…`) is 71 characters at the end of a long diff line, and a
//! tag re-pointed to another digest differs there only. Pure: read from the diff text the
//! report shows (normalised YAML, one `image:` per line).

use crate::diff::{Change, EnvironmentDiff};

/// An image reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry and path: `registry.example.com/team/api`.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:…`, whole.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Splits `reference` as a container runtime does: the digest after `@`, the tag after the
    /// last `:` that follows the last `/` (a registry's port is no tag).
    pub fn parse(reference: &str) -> ImageRef {
        let (name, digest) = match reference.split_once('@') {
            Some((name, digest)) => (name, Some(digest.to_string())),
            None => (reference, None),
        };
        let slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[slash..].rfind(':') {
            Some(colon) => (
                name[..slash + colon].to_string(),
                Some(name[slash + colon + 1..].to_string()),
            ),
            None => (name.to_string(), None),
        };
        ImageRef {
            repository,
            tag,
            digest,
        }
    }
}

/// One image an environment's change moves from one reference to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChange {
    pub from: ImageRef,
    pub to: ImageRef,
}

/// The image changes of `env` in which a digest takes part (on either side), in diff order,
/// each once: the ones a diff line shows least readably.
pub fn digest_changes(env: &EnvironmentDiff) -> Vec<ImageChange> {
    let mut changes: Vec<ImageChange> = Vec::new();
    for object in env.objects.iter().filter(|o| o.change == Change::Changed) {
        let Some(diff) = &object.diff else {
            continue;
        };
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        for line in diff.lines() {
            if let Some(rest) = line.strip_prefix('-') {
                removed.extend(image_of(rest));
            } else if let Some(rest) = line.strip_prefix('+') {
                added.extend(image_of(rest));
            }
        }
        for from in removed {
            let Some(index) = added
                .iter()
                .position(|to: &ImageRef| to.repository == from.repository)
            else {
                continue;
            };
            let to = added.remove(index);
            let change = ImageChange { from, to };
            let pinned = change.from.digest.is_some() || change.to.digest.is_some();
            if pinned && !changes.contains(&change) {
                changes.push(change);
            }
        }
    }
    changes
}

/// The reference on a line of normalised YAML holding `image:`, if it is one.
fn image_of(line: &str) -> Option<ImageRef> {
    let line = line.trim_start();
    let line = line.strip_prefix("- ").unwrap_or(line);
    let value = line.strip_prefix("image: ")?.trim();
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
        .unwrap_or(value);
    (!value.is_empty()).then(|| ImageRef::parse(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_splits_into_repository_tag_and_digest() {
        let image = ImageRef::parse("registry.example.com:5000/team/api:1.5.0@sha256:abc");
        assert_eq!(image.repository, "registry.example.com:5000/team/api");
        assert_eq!(image.tag.as_deref(), Some("1.5.0"));
        assert_eq!(image.digest.as_deref(), Some("sha256:abc"));
        let bare = ImageRef::parse("registry.example.com:5000/team/api@sha256:abc");
        assert_eq!(bare.repository, "registry.example.com:5000/team/api");
        assert_eq!(bare.tag, None);
    }

    #[test]
    fn a_quoted_image_line_is_read() {
        assert_eq!(
            image_of("      - image: 'api:1@sha256:ab'"),
            Some(ImageRef::parse("api:1@sha256:ab"))
        );
        assert_eq!(image_of("        name: api"), None);
    }
}

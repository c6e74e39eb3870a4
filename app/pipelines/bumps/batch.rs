//! The pure half of coalescing: which waiting orders go into the next commit, and the files of
//! one commit made of several orders' edits, all planned against the same tree.

use std::collections::BTreeMap;

use crate::bump::image::{same_repository, ImageRef};
use crate::bump::{self, Edit};

use super::MovedImage;

/// Which waiting orders, given as (environment, image) in arrival order, go into the next
/// commit: the first order of each image in each environment, at most `max`. A later order of
/// an image already in the batch waits for the commit after, so both land, in order, and
/// neither silently replaces the other.
pub fn select(waiting: &[(&str, &str)], max: usize) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::new();
    for (index, (env, image)) in waiting.iter().enumerate() {
        if chosen.len() == max {
            break;
        }
        let taken = chosen.iter().any(|&c| {
            let (other_env, other_image) = waiting[c];
            other_env == *env && same_repository(other_image, image)
        });
        if !taken {
            chosen.push(index);
        }
    }
    chosen
}

/// One commit's worth of edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combined {
    /// Every edited file's new bytes, by path.
    pub files: Vec<(String, Vec<u8>)>,
    /// The orders (indexes into the `planned` given) this commit holds.
    pub included: Vec<usize>,
    /// Orders whose edits touch bytes an earlier order's edits change: they wait for the next
    /// commit, planned again on top of this one.
    pub deferred: Vec<usize>,
}

/// Puts the edits of several orders, each planned on its own against the same tree (`texts`:
/// every file any of them planned on, by path), into one set of files. Each order's edits are
/// all in or all out.
pub fn combine(texts: &BTreeMap<String, String>, planned: &[Vec<Edit>]) -> Combined {
    let mut accepted: Vec<&Edit> = Vec::new();
    let mut included = Vec::new();
    let mut deferred = Vec::new();
    for (index, edits) in planned.iter().enumerate() {
        let clashes = edits.iter().any(|edit| {
            accepted
                .iter()
                .any(|other| other.file == edit.file && overlap(&other.span, &edit.span))
        });
        if clashes {
            deferred.push(index);
        } else {
            accepted.extend(edits.iter());
            included.push(index);
        }
    }
    let owned: Vec<Edit> = accepted.into_iter().cloned().collect();
    let sources: Vec<(String, String)> = texts
        .iter()
        .map(|(path, text)| (path.clone(), text.clone()))
        .collect();
    Combined {
        files: bump::edited_files(&sources, &owned),
        included,
        deferred,
    }
}

/// Two spans that change the same bytes, or insert at the same place.
fn overlap(a: &std::ops::Range<usize>, b: &std::ops::Range<usize>) -> bool {
    a.start == b.start || (a.start < b.end && b.start < a.end)
}

/// What an order's edits move: the image, from what its references held (each distinct value
/// once, as written) to what they hold now.
pub fn moved(environment: &str, image: &str, edits: &[Edit]) -> MovedImage {
    let mut from: Vec<String> = Vec::new();
    for edit in edits {
        let version = version_as_written(&edit.old);
        if !from.contains(&version) {
            from.push(version);
        }
    }
    let to = edits
        .first()
        .map(|edit| version_as_written(&edit.new))
        .unwrap_or_default();
    MovedImage {
        image: image.to_string(),
        environment: environment.to_string(),
        from: from.join(", "),
        to,
    }
}

/// The tag (or digest) of a reference as the manifest writes it: `1.4.0`, `sha256:…`,
/// `1.4.0@sha256:…`; `latest (implicit)` for a reference without either.
fn version_as_written(reference: &str) -> String {
    let parsed = ImageRef::parse(reference);
    match (parsed.tag, parsed.digest) {
        (Some(tag), Some(digest)) => format!("{tag}@{digest}"),
        (Some(tag), None) => tag.to_string(),
        (None, Some(digest)) => digest.to_string(),
        (None, None) => "latest (implicit)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bump::BumpRequest;

    const KUSTOMIZATION: &str = "\
resources:
  - api.yaml
images:
  - name: registry.example.com/team/api
    newTag: 1.4.0   # bumped by slipway
  - name: registry.example.com/team/web
    newTag: \"2.0\"
";

    fn files() -> Vec<(String, String)> {
        vec![("envs/dev/kustomization.yaml".into(), KUSTOMIZATION.into())]
    }

    fn plan(image: &str, tag: &str) -> Vec<Edit> {
        bump::plan("dev", &files(), &[BumpRequest::tag(image, tag)]).expect("plans")
    }

    fn texts() -> BTreeMap<String, String> {
        files().into_iter().collect()
    }

    #[test]
    fn one_order_per_image_and_environment_goes_into_a_commit() {
        let waiting = [
            ("dev", "registry.example.com/team/api"),
            ("dev", "registry.example.com/team/web"),
            ("dev", "registry.example.com/team/api"),
            ("prod", "registry.example.com/team/api"),
            ("dev", "nginx"),
            ("dev", "docker.io/library/nginx"),
        ];
        assert_eq!(select(&waiting, 10), vec![0, 1, 3, 4]);
        assert_eq!(select(&waiting, 2), vec![0, 1]);
    }

    #[test]
    fn edits_of_different_images_in_one_file_share_a_commit() {
        let api = plan("registry.example.com/team/api", "abc123");
        let web = plan("registry.example.com/team/web", "def456");
        let combined = combine(&texts(), &[api, web]);
        assert_eq!(combined.included, vec![0, 1]);
        assert!(combined.deferred.is_empty());
        assert_eq!(combined.files.len(), 1);
        assert_eq!(combined.files[0].0, "envs/dev/kustomization.yaml");
        // Each scalar keeps its quotes; the comment stays.
        assert_eq!(
            String::from_utf8(combined.files[0].1.clone()).unwrap(),
            KUSTOMIZATION
                .replace("newTag: 1.4.0 ", "newTag: abc123 ")
                .replace("newTag: \"2.0\"", "newTag: \"def456\"")
        );
    }

    #[test]
    fn an_order_that_changes_the_same_bytes_waits_for_the_next_commit() {
        let first = plan("registry.example.com/team/api", "abc123");
        let second = plan("registry.example.com/team/api", "fff999");
        let web = plan("registry.example.com/team/web", "def456");
        let combined = combine(&texts(), &[first, second, web]);
        assert_eq!(combined.included, vec![0, 2]);
        assert_eq!(combined.deferred, vec![1]);
        let text = String::from_utf8(combined.files[0].1.clone()).unwrap();
        assert!(
            text.contains("newTag: abc123   # bumped by slipway"),
            "{text}"
        );
        assert!(!text.contains("fff999"), "{text}");
    }

    #[test]
    fn moved_images_show_versions_as_the_manifest_wrote_them() {
        let api = plan("registry.example.com/team/api", "abc123");
        assert_eq!(
            moved("dev", "registry.example.com/team/api", &api),
            MovedImage {
                image: "registry.example.com/team/api".into(),
                environment: "dev".into(),
                from: "1.4.0".into(),
                to: "abc123".into(),
            }
        );
        assert_eq!(version_as_written("nginx"), "latest (implicit)");
        assert_eq!(version_as_written("host:5000/x@sha256:ab"), "sha256:ab");
        assert_eq!(version_as_written("x:1@sha256:ab"), "1@sha256:ab");
    }
}

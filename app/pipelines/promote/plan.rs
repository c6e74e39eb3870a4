//! The pure half of a promotion: which images run where, what to bump, the edited tree, and
//! the texts (branch, commit message, pull-request body) built from validated values only.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::bump::image::{same_repository, validate_repository, validate_tag, ImageRef};
use crate::bump::{BumpRequest, Target};
use crate::commands::UserError;
use crate::render::{EntryKind, K8sObject, SourceError, TreeEntry, TreeSource};

/// The branch a promotion into `env` is committed on. `env` is a declared environment name,
/// which configuration validation keeps to a DNS label.
pub fn branch_name(env: &str) -> Result<String, UserError> {
    if !is_dns_label(env) {
        return Err(UserError::new(format!(
            "environment {} is not a DNS label, so it cannot name a branch",
            crate::commands::parser::quote(env)
        )));
    }
    Ok(format!("slipway/promote/{env}"))
}

pub(crate) fn is_dns_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// One image a render runs: its repository as written, and the tag or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningImage {
    pub repository: String,
    /// The reference as written in the manifest (`registry/api:1.2.3`).
    pub reference: String,
    /// What the reference pins; `None` for a reference without tag or digest.
    pub version: Option<Target>,
}

impl RunningImage {
    /// The tag or digest as shown to people (`1.2.3`, `sha256:…`, or `latest (implicit)`).
    pub fn version_text(&self) -> String {
        match &self.version {
            Some(Target::Tag(tag)) => tag.clone(),
            Some(Target::Digest(digest)) => digest.clone(),
            Some(Target::Pinned { tag, digest }) => format!("{tag}@{digest}"),
            None => "latest (implicit)".to_string(),
        }
    }
}

/// Kinds whose pod template decides what runs, and where their pod spec is.
const WORKLOADS: &[(&str, &[&str])] = &[
    ("Pod", &["spec"]),
    ("Deployment", &["spec", "template", "spec"]),
    ("StatefulSet", &["spec", "template", "spec"]),
    ("DaemonSet", &["spec", "template", "spec"]),
    ("ReplicaSet", &["spec", "template", "spec"]),
    ("ReplicationController", &["spec", "template", "spec"]),
    ("Job", &["spec", "template", "spec"]),
    (
        "CronJob",
        &["spec", "jobTemplate", "spec", "template", "spec"],
    ),
];

/// The images the containers and init containers of `objects`' workloads run, one per
/// repository, in order of first appearance. `env` names the render in errors.
pub fn running_images(env: &str, objects: &[K8sObject]) -> Result<Vec<RunningImage>, UserError> {
    let mut found: Vec<RunningImage> = Vec::new();
    for object in objects {
        let Some((_, path)) = WORKLOADS.iter().find(|(kind, _)| *kind == object.kind()) else {
            continue;
        };
        let pod = path
            .iter()
            .try_fold(&object.value, |value, key| value.get(key));
        let Some(pod) = pod else {
            continue;
        };
        for list in ["initContainers", "containers"] {
            let Some(containers) = pod.get(list).and_then(Value::as_array) else {
                continue;
            };
            for reference in containers
                .iter()
                .filter_map(|c| c.get("image").and_then(Value::as_str))
            {
                let image = parse_running(reference);
                match found
                    .iter()
                    .find(|f| same_repository(&f.repository, &image.repository))
                {
                    Some(existing) if existing.version != image.version => {
                        return Err(UserError::new(format!(
                            "`{env}` runs two versions of `{}` ({} and {}), so there is no one version to promote",
                            show(&image.repository),
                            quote_ref(&existing.reference),
                            quote_ref(&image.reference),
                        )))
                    }
                    Some(_) => {}
                    None => found.push(image),
                }
            }
        }
    }
    Ok(found)
}

fn parse_running(reference: &str) -> RunningImage {
    let parsed = ImageRef::parse(reference);
    // A digest decides what runs; a tag written next to it says which build that is, and is
    // copied along with it.
    let version = match (parsed.digest, parsed.tag) {
        (Some(digest), Some(tag)) => Some(Target::Pinned {
            tag: tag.to_string(),
            digest: digest.to_string(),
        }),
        (Some(digest), None) => Some(Target::Digest(digest.to_string())),
        (None, Some(tag)) => Some(Target::Tag(tag.to_string())),
        (None, None) => None,
    };
    RunningImage {
        repository: parsed.repository.to_string(),
        reference: reference.to_string(),
        version,
    }
}

/// One image a promotion changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    pub repository: String,
    /// What the target runs now.
    pub from: String,
    /// What the source runs.
    pub to: String,
}

/// What to bump in the target: every image of the source that the target also runs with
/// another version. Source images without tag or digest are not promoted (a moving `latest`
/// would pin nothing); images the target does not run are not added to it.
pub fn promotions(
    source: &[RunningImage],
    target: &[RunningImage],
) -> (Vec<BumpRequest>, Vec<Promotion>) {
    let mut requests = Vec::new();
    let mut changes = Vec::new();
    for image in source {
        let Some(version) = &image.version else {
            continue;
        };
        let Some(current) = target
            .iter()
            .find(|t| same_repository(&t.repository, &image.repository))
        else {
            continue;
        };
        if current.version.as_ref() == Some(version) {
            continue;
        }
        requests.push(BumpRequest {
            image: image.repository.clone(),
            target: version.clone(),
        });
        changes.push(Promotion {
            repository: image.repository.clone(),
            from: current.version_text(),
            to: image.version_text(),
        });
    }
    (requests, changes)
}

/// A tree with some of its files replaced: the target environment as it will be after the
/// promotion, without writing anything.
pub struct Overlay<'a> {
    base: &'a dyn TreeSource,
    files: BTreeMap<String, Vec<u8>>,
}

impl<'a> Overlay<'a> {
    /// `base` with each of `files` (existing regular files of `base`) holding new bytes.
    pub fn new(base: &'a dyn TreeSource, files: &[(String, Vec<u8>)]) -> Self {
        Overlay {
            base,
            files: files.iter().cloned().collect(),
        }
    }
}

impl TreeSource for Overlay<'_> {
    fn entry(&self, path: &str) -> Result<Option<EntryKind>, SourceError> {
        if self.files.contains_key(path) {
            return Ok(Some(EntryKind::File));
        }
        self.base.entry(path)
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        match self.files.get(path) {
            Some(bytes) => Ok(bytes.clone()),
            None => self.base.read_file(path),
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<TreeEntry>, SourceError> {
        // Only existing files are replaced, so the listing is the base's.
        self.base.list(dir)
    }

    fn describe(&self) -> String {
        format!("{} with the promotion", self.base.describe())
    }
}

/// Text from a manifest shown in a commit message or a pull request: kept when it is an image
/// reference's usual characters, replaced otherwise.
pub(crate) fn show(text: &str) -> String {
    let plain = !text.is_empty()
        && text.len() <= 255
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@+".contains(c));
    if plain {
        text.to_string()
    } else {
        "(unprintable reference)".to_string()
    }
}

fn quote_ref(text: &str) -> String {
    format!("`{}`", show(text))
}

/// The commit message of a promotion: environment names are validated DNS labels, image
/// repositories and versions passed bump's validation, anything else is replaced.
pub fn commit_message(source: &str, target: &str, changes: &[Promotion]) -> String {
    let mut message = format!("Promote {source} to {target}\n\n");
    for change in changes {
        let _ = writeln!(
            message,
            "- {}: {} -> {}",
            show(&change.repository),
            show_version(&change.from),
            show_version(&change.to)
        );
    }
    message
}

pub(crate) fn show_version(version: &str) -> String {
    let is_digest = |text: &str| {
        text.strip_prefix("sha256:")
            .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let valid = validate_tag(version).is_ok()
        || is_digest(version)
        || version
            .split_once('@')
            .is_some_and(|(tag, digest)| validate_tag(tag).is_ok() && is_digest(digest))
        || version == "latest (implicit)";
    if valid {
        version.to_string()
    } else {
        "(unprintable version)".to_string()
    }
}

/// The pull request's title.
pub fn pull_title(source: &str, target: &str) -> String {
    format!("Promote {source} to {target}")
}

/// The hidden marker that identifies a promotion pull request's body.
pub fn pull_marker(target: &str) -> String {
    format!("<!-- slipway:promotion env={target} -->")
}

/// The top of the pull request's body: what is promoted, by whom; the preview follows it.
pub fn pull_body_header(
    source: &str,
    target: &str,
    requested_by: &str,
    requested_in: u64,
    changes: &[Promotion],
) -> String {
    let mut body = pull_marker(target);
    let _ = write!(
        body,
        "\n## Promote `{source}` → `{target}`\n\nRequested with `/promote` by @{} in #{requested_in}. \
         Merging deploys `{target}` with the images `{source}` runs.\n\n\
         | image | `{target}` now | after merge |\n|---|---|---|\n",
        show_login(requested_by)
    );
    for change in changes {
        let _ = writeln!(
            body,
            "| `{}` | `{}` | `{}` |",
            show(&change.repository),
            show_version(&change.from),
            show_version(&change.to)
        );
    }
    body.push('\n');
    body
}

/// A GitHub login: letters, digits and `-` (plus `[bot]`); anything else is not shown.
pub(crate) fn show_login(login: &str) -> String {
    let plain = !login.is_empty()
        && login.len() <= 100
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_[]".contains(c));
    if plain {
        login.to_string()
    } else {
        "ghost".to_string()
    }
}

/// Every image repository in `changes` is a valid repository (as bump checks requests).
pub fn check_repositories(changes: &[Promotion]) -> Result<(), UserError> {
    for change in changes {
        validate_repository(&change.repository).map_err(|reason| {
            UserError::new(format!(
                "{} is not an image repository slipway can bump: it {reason}",
                quote_ref(&change.repository)
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> K8sObject {
        K8sObject {
            value,
            file: "a.yaml".into(),
            line: 1,
        }
    }

    fn deployment(images: &[&str], init: &[&str]) -> K8sObject {
        let containers: Vec<Value> = images
            .iter()
            .map(|i| json!({"name": "c", "image": i}))
            .collect();
        let inits: Vec<Value> = init
            .iter()
            .map(|i| json!({"name": "i", "image": i}))
            .collect();
        object(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
            "spec": {"template": {"spec": {"containers": containers, "initContainers": inits}}}}),
        )
    }

    #[test]
    fn images_of_containers_init_containers_and_cron_jobs() {
        let cron = object(
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "reg/cron:7"}]}}}}}}),
        );
        let config = object(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
            "data": {"image": "reg/not-running:1"}}),
        );
        let images = running_images(
            "dev",
            &[
                deployment(&["reg/api:1.2", "nginx"], &["reg/migrate@sha256:ab"]),
                cron,
                config,
            ],
        )
        .unwrap();
        let shown: Vec<(String, String)> = images
            .iter()
            .map(|i| (i.repository.clone(), i.version_text()))
            .collect();
        assert_eq!(
            shown,
            [
                ("reg/migrate".to_string(), "sha256:ab".to_string()),
                ("reg/api".to_string(), "1.2".to_string()),
                ("nginx".to_string(), "latest (implicit)".to_string()),
                ("reg/cron".to_string(), "7".to_string()),
            ]
        );
    }

    #[test]
    fn two_versions_of_one_image_cannot_be_promoted() {
        let err = running_images(
            "staging",
            &[
                deployment(&["reg/api:1"], &[]),
                deployment(&["reg/api:2"], &[]),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`staging` runs two versions of `reg/api` (`reg/api:1` and `reg/api:2`), so there is no one version to promote"
        );
    }

    #[test]
    fn promotions_bump_only_what_the_target_runs_differently() {
        let source = running_images(
            "staging",
            &[deployment(
                &["reg/api:2", "reg/web:5", "reg/only-staging:1", "busybox"],
                &[],
            )],
        )
        .unwrap();
        let target = running_images(
            "prod",
            &[deployment(&["reg/api:1", "reg/web:5", "busybox:1.36"], &[])],
        )
        .unwrap();
        let (requests, changes) = promotions(&source, &target);
        assert_eq!(requests, [BumpRequest::tag("reg/api", "2")]);
        assert_eq!(
            changes,
            [Promotion {
                repository: "reg/api".into(),
                from: "1".into(),
                to: "2".into()
            }]
        );
    }

    #[test]
    fn a_pinned_tag_is_promoted_tag_and_digest_together() {
        let digest = format!("sha256:{}", "b".repeat(64));
        let old = format!("sha256:{}", "a".repeat(64));
        let source = running_images(
            "staging",
            &[deployment(&[&format!("reg/api:abc123@{digest}")], &[])],
        )
        .unwrap();
        // The same tag, pushed again as another image: a change.
        let target = running_images(
            "prod",
            &[deployment(&[&format!("reg/api:abc123@{old}")], &[])],
        )
        .unwrap();
        let (requests, changes) = promotions(&source, &target);
        assert_eq!(
            requests,
            [BumpRequest::pinned("reg/api", "abc123", digest.clone())]
        );
        assert_eq!(changes[0].to, format!("abc123@{digest}"));
        assert_eq!(
            commit_message("staging", "prod", &changes),
            format!("Promote staging to prod\n\n- reg/api: abc123@{old} -> abc123@{digest}\n")
        );
        // The same tag and digest: nothing to promote.
        let (requests, _) = promotions(&source, &source);
        assert!(requests.is_empty());
    }

    #[test]
    fn texts_are_built_from_validated_values() {
        assert_eq!(branch_name("prod").unwrap(), "slipway/promote/prod");
        assert!(branch_name("prod\nx").is_err());
        assert!(branch_name("../x").is_err());
        let changes = [Promotion {
            repository: "reg/api".into(),
            from: "1\n\nevil".into(),
            to: "2".into(),
        }];
        assert_eq!(
            commit_message("staging", "prod", &changes),
            "Promote staging to prod\n\n- reg/api: (unprintable version) -> 2\n"
        );
        let header = pull_body_header("staging", "prod", "al ice", 7, &changes);
        assert!(header.starts_with("<!-- slipway:promotion env=prod -->\n"));
        assert!(header.contains("by @ghost in #7"));
        assert!(header.contains("| `reg/api` | `(unprintable version)` | `2` |"));
    }
}

//! Finding image references: which scalars and mappings of an environment's documents name an
//! image, as a path of keys and indices into each document. Pure lookups over parsed YAML
//! values; turning a reference into a byte edit is `edits`' job.

use serde_yaml_ng::Value;

use super::image::{same_repository, ImageRef};
use super::Document;

/// One step of a route into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

pub(super) type Path = Vec<Step>;

pub(super) fn child(path: &[Step], step: Step) -> Path {
    let mut path = path.to_vec();
    path.push(step);
    path
}

/// A place that references an image.
#[derive(Debug)]
pub(super) struct Reference {
    pub(super) document: usize,
    pub(super) kind: ReferenceKind,
}

#[derive(Debug)]
pub(super) enum ReferenceKind {
    /// A kustomization `images:` entry; `path` leads to the entry mapping.
    KustomizeEntry { path: Path, repository: String },
    /// A container's `image:` scalar.
    ContainerImage { path: Path },
    /// A Helm-values `image:` mapping; `path` leads to it.
    HelmImage { path: Path, repository: String },
}

impl ReferenceKind {
    fn precedence(&self) -> u8 {
        match self {
            ReferenceKind::KustomizeEntry { .. } => 0,
            ReferenceKind::ContainerImage { .. } => 1,
            ReferenceKind::HelmImage { .. } => 2,
        }
    }
}

/// Every reference to `image`, of the kind that takes precedence.
pub(super) fn find(documents: &[Document<'_>], image: &str) -> Vec<Reference> {
    let mut found = Vec::new();
    for (index, document) in documents.iter().enumerate() {
        let Ok(value) = &document.value else {
            continue;
        };
        let mut push = |kind| {
            found.push(Reference {
                document: index,
                kind,
            })
        };
        if document.kustomization_file || is_kustomization(value) {
            kustomize_entries(value, image, &mut push);
        }
        for pod in pod_specs(value, &[]) {
            containers(value, &pod, image, &mut push);
        }
        helm_images(value, &[], image, &mut push);
    }
    let Some(best) = found.iter().map(|r| r.kind.precedence()).min() else {
        return found;
    };
    found.retain(|r| r.kind.precedence() == best);
    found
}

fn is_kustomization(value: &Value) -> bool {
    value.get("kind").and_then(Value::as_str) == Some("Kustomization")
        && value
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("kustomize.config.k8s.io/"))
}

/// `mapping[key]`, also through merge keys (`<<: *defaults`), with the path to it.
fn lookup<'v>(mapping: &'v Value, path: &[Step], key: &str) -> Option<(Path, &'v Value)> {
    if let Some(value) = mapping.get(key) {
        return Some((child(path, Step::Key(key.to_owned())), value));
    }
    let merged = mapping.get("<<")?;
    let merge_path = child(path, Step::Key("<<".to_owned()));
    match merged {
        Value::Mapping(_) => lookup(merged, &merge_path, key),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| lookup(item, &child(&merge_path, Step::Index(i)), key)),
        _ => None,
    }
}

/// Follow `keys` from `value` (at `path`) through mappings.
fn descend<'v>(value: &'v Value, path: &[Step], keys: &[&str]) -> Option<(Path, &'v Value)> {
    let mut current = (path.to_vec(), value);
    for key in keys {
        current = lookup(current.1, &current.0, key)?;
    }
    Some(current)
}

fn kustomize_entries(value: &Value, image: &str, push: &mut impl FnMut(ReferenceKind)) {
    let Some((images_path, Value::Sequence(entries))) = lookup(value, &[], "images") else {
        return;
    };
    for (index, entry) in entries.iter().enumerate() {
        let name = entry.get("name").and_then(Value::as_str);
        let new_name = entry.get("newName").and_then(Value::as_str);
        let matches = [name, new_name]
            .into_iter()
            .flatten()
            .any(|n| same_repository(n, image));
        if matches {
            push(ReferenceKind::KustomizeEntry {
                path: child(&images_path, Step::Index(index)),
                repository: new_name.or(name).unwrap_or(image).to_owned(),
            });
        }
    }
}

/// The paths of the pod specs in a workload manifest (or in the items of a `List`).
fn pod_specs(value: &Value, path: &[Step]) -> Vec<Path> {
    let keys: &[&str] = match value.get("kind").and_then(Value::as_str) {
        Some("Pod") => &["spec"],
        Some(
            "Deployment"
            | "StatefulSet"
            | "DaemonSet"
            | "ReplicaSet"
            | "Job"
            | "ReplicationController",
        ) => &["spec", "template", "spec"],
        Some("CronJob") => &["spec", "jobTemplate", "spec", "template", "spec"],
        Some(kind) if kind.ends_with("List") => {
            let Some((items_path, Value::Sequence(items))) = lookup(value, path, "items") else {
                return Vec::new();
            };
            return items
                .iter()
                .enumerate()
                .flat_map(|(i, item)| pod_specs(item, &child(&items_path, Step::Index(i))))
                .collect();
        }
        _ => return Vec::new(),
    };
    descend(value, path, keys)
        .map(|(p, _)| vec![p])
        .unwrap_or_default()
}

fn containers(
    document: &Value,
    pod_path: &[Step],
    image: &str,
    push: &mut impl FnMut(ReferenceKind),
) {
    let Some(pod) = value_at(document, pod_path) else {
        return;
    };
    for list in ["initContainers", "containers"] {
        let Some((list_path, Value::Sequence(items))) = lookup(pod, pod_path, list) else {
            continue;
        };
        for (index, container) in items.iter().enumerate() {
            let item_path = child(&list_path, Step::Index(index));
            let Some((image_path, Value::String(reference))) =
                lookup(container, &item_path, "image")
            else {
                continue;
            };
            if same_repository(ImageRef::parse(reference).repository, image) {
                push(ReferenceKind::ContainerImage { path: image_path });
            }
        }
    }
}

fn value_at<'v>(value: &'v Value, path: &[Step]) -> Option<&'v Value> {
    path.iter().try_fold(value, |current, step| match step {
        Step::Key(key) => current.get(key.as_str()),
        Step::Index(index) => current.get(*index),
    })
}

fn helm_images(value: &Value, path: &[Step], image: &str, push: &mut impl FnMut(ReferenceKind)) {
    match value {
        Value::Mapping(mapping) => {
            for (key, child_value) in mapping {
                let Some(key) = key.as_str() else {
                    continue;
                };
                let child_path = child(path, Step::Key(key.to_owned()));
                if key == "image" {
                    if let Some(repository) = helm_repository(child_value, image) {
                        push(ReferenceKind::HelmImage {
                            path: child_path,
                            repository,
                        });
                        continue;
                    }
                }
                helm_images(child_value, &child_path, image, push);
            }
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter().enumerate() {
                helm_images(item, &child(path, Step::Index(index)), image, push);
            }
        }
        _ => {}
    }
}

/// The repository of a Helm-values `image:` mapping, if it is `image`.
fn helm_repository(block: &Value, image: &str) -> Option<String> {
    let repository = block.get("repository").and_then(Value::as_str)?;
    if same_repository(repository, image) {
        return Some(repository.to_owned());
    }
    let registry = block.get("registry").and_then(Value::as_str)?;
    let full = format!("{}/{}", registry.trim_end_matches('/'), repository);
    same_repository(&full, image).then_some(full)
}

//! Comment- and format-preserving image bumps.
//!
//! Given the YAML files of an environment and one or more images with their new tag or
//! digest, [`plan`] finds every reference and returns byte-precise [`Edit`]s: only the bytes
//! of the changed scalar change (or, where a key is missing, one key is added in the style of
//! its mapping). Comments, blank lines, quote styles, indentation, anchors and `\r\n` line
//! endings stay as they were; nothing is parsed and re-serialised. Pure: the caller reads and
//! writes the files ([`apply`] turns a file's text and its edits into the new text).
//!
//! Where an image is referenced, in order of precedence (the first kind that references the
//! image is the one edited, because it is the one that decides what runs):
//! 1. a kustomization's `images:` entry whose `name` (or `newName`) is the image: its
//!    `newTag`, or its `digest` for a digest bump, is set (and added if missing);
//! 2. the `image:` of containers and initContainers in Pods and the pod templates of
//!    Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs whose repository
//!    is the image: the reference becomes `repository:tag` or `repository@digest` (a
//!    previous digest or tag is dropped, as it would otherwise pin the old image);
//! 3. Helm-values style `image:` mappings with a `repository` (optionally after a
//!    `registry`) that is the image: their `tag`, or `digest`, is set (and added if missing).
//!
//! Repositories match as a container runtime resolves them: `nginx` and
//! `docker.io/library/nginx` are the same image, `host:5000/x` is not `host/x`.
//! A new value that a plain YAML scalar would not read back as the same string (a tag such as
//! `1.10`, which is a number) is written in double quotes; otherwise each scalar keeps its
//! quote style.

mod documents;
mod files;
pub mod image;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;

use serde::Serialize;
use serde_yaml_ng::Value;
use yamlpath::{Component, FeatureKind, QueryError, Route};

pub use files::{environment_files, is_manifest_file, EnvironmentFilesError};

use documents::{line_of, Chunk};
use image::{same_repository, ImageRef};

/// What to set an image to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Tag(String),
    /// `sha256:…` (without `@`).
    Digest(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tag(tag) => write!(f, "tag {tag}"),
            Target::Digest(digest) => write!(f, "digest {digest}"),
        }
    }
}

/// One image to bump: a repository (no tag, no digest) and its new tag or digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BumpRequest {
    pub image: String,
    pub target: Target,
}

impl BumpRequest {
    pub fn tag(image: impl Into<String>, tag: impl Into<String>) -> BumpRequest {
        BumpRequest {
            image: image.into(),
            target: Target::Tag(tag.into()),
        }
    }

    pub fn digest(image: impl Into<String>, digest: impl Into<String>) -> BumpRequest {
        BumpRequest {
            image: image.into(),
            target: Target::Digest(digest.into()),
        }
    }
}

/// One change to one file: `span` of the original text becomes `replacement`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edit {
    /// The file, as given to [`plan`].
    pub file: String,
    /// 1-based line the change is on.
    pub line: usize,
    /// The image as it was referenced there (`repository:tag`, `repository@digest`, …).
    pub old: String,
    /// The image as it is referenced after the edit.
    pub new: String,
    /// Byte range of the original text that is replaced (empty for an added key).
    pub span: Range<usize>,
    pub replacement: String,
}

impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} {} → {}", self.file, self.line, self.old, self.new)
    }
}

/// Why a bump was refused. Nothing is edited when any image fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BumpError {
    #[error("{image}: {reason}")]
    InvalidRequest { image: String, reason: String },
    #[error("{} not referenced in environment {env} (looked for kustomization images entries, container images and Helm-values image blocks)", describe_images(images))]
    NotFound { images: Vec<String>, env: String },
    #[error("{file}:{line}: cannot parse YAML that mentions {image}: {message}")]
    Unparseable {
        file: String,
        line: usize,
        image: String,
        message: String,
    },
    #[error("{file}:{line}: the images entry for {image} pins a digest, so a new tag would not take effect; bump it with a digest or remove the digest")]
    DigestPinned {
        file: String,
        line: usize,
        image: String,
    },
    #[error("{file}:{line}: cannot edit the reference to {image}: {reason}")]
    Unsupported {
        file: String,
        line: usize,
        image: String,
        reason: String,
    },
    #[error("{file}:{line}: two of the requested images would set the same value differently")]
    Conflict { file: String, line: usize },
}

fn describe_images(images: &[String]) -> String {
    match images {
        [one] => format!("image {one} is"),
        many => format!("images {} are", many.join(", ")),
    }
}

/// Plan the edits that set every requested image in the environment `env`, whose YAML files
/// are `files` (path, text). All or nothing: an error for any image means no edits at all.
/// An image already at its target yields no edit. Edits come sorted by file and position.
pub fn plan(
    env: &str,
    files: &[(String, String)],
    requests: &[BumpRequest],
) -> Result<Vec<Edit>, BumpError> {
    let requests = validate(requests)?;
    let documents = parse(files);
    let mut planner = Planner {
        files,
        documents: &documents,
        trees: HashMap::new(),
    };

    let mut edits: BTreeMap<(usize, usize, usize), Edit> = BTreeMap::new();
    let mut missing = Vec::new();
    for request in &requests {
        for broken in documents.iter().filter(|d| d.value.is_err()) {
            if mentions(broken.chunk.text, &request.image) {
                let text = &files[broken.file].1;
                return Err(BumpError::Unparseable {
                    file: files[broken.file].0.clone(),
                    line: line_of(text, broken.chunk.offset),
                    image: request.image.clone(),
                    message: broken.value.as_ref().err().cloned().unwrap_or_default(),
                });
            }
        }
        let references = find(&documents, &request.image);
        if references.is_empty() {
            missing.push(request.image.clone());
            continue;
        }
        for reference in &references {
            let Some(edit) = planner.edit(reference, request)? else {
                continue;
            };
            let file_index = documents[reference.document].file;
            let key = (file_index, edit.span.start, edit.span.end);
            match edits.get(&key) {
                Some(existing) if existing.replacement != edit.replacement => {
                    return Err(BumpError::Conflict {
                        file: edit.file,
                        line: edit.line,
                    })
                }
                Some(_) => {}
                None => {
                    edits.insert(key, edit);
                }
            }
        }
    }
    if !missing.is_empty() {
        return Err(BumpError::NotFound {
            images: missing,
            env: env.to_owned(),
        });
    }
    Ok(edits.into_values().collect())
}

/// The text of a file after its edits (edits of other files are ignored).
pub fn apply(file: &str, text: &str, edits: &[Edit]) -> String {
    let mut mine: Vec<&Edit> = edits.iter().filter(|e| e.file == file).collect();
    mine.sort_by_key(|e| (e.span.start, e.span.end));
    let mut out = String::with_capacity(text.len() + 64);
    let mut position = 0;
    for edit in mine {
        out.push_str(&text[position..edit.span.start]);
        out.push_str(&edit.replacement);
        position = edit.span.end;
    }
    out.push_str(&text[position..]);
    out
}

fn validate(requests: &[BumpRequest]) -> Result<Vec<BumpRequest>, BumpError> {
    let mut valid: Vec<BumpRequest> = Vec::with_capacity(requests.len());
    for request in requests {
        let invalid = |reason: String| BumpError::InvalidRequest {
            image: request.image.clone(),
            reason,
        };
        image::validate_repository(&request.image)
            .map_err(|r| invalid(format!("not an image repository: it {r}")))?;
        let target = match &request.target {
            Target::Tag(tag) => {
                image::validate_tag(tag)
                    .map_err(|r| invalid(format!("invalid tag {tag:?}: {r}")))?;
                Target::Tag(tag.clone())
            }
            Target::Digest(digest) => Target::Digest(
                image::normalise_digest(digest)
                    .map_err(|r| invalid(format!("invalid digest {digest:?}: {r}")))?,
            ),
        };
        if valid
            .iter()
            .any(|v| same_repository(&v.image, &request.image))
        {
            return Err(invalid("requested twice".into()));
        }
        valid.push(BumpRequest {
            image: request.image.clone(),
            target,
        });
    }
    Ok(valid)
}

/// Whether text that could not be parsed might refer to `image`: it holds the image's last
/// path component as a word of its own (`api` in `team/api:1.0`, not in `apiVersion`).
fn mentions(text: &str, image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(last).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + last.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

struct Document<'a> {
    file: usize,
    chunk: Chunk<'a>,
    /// The parsed document, or why it does not parse.
    value: Result<Value, String>,
    /// Whether the file is a kustomization by its name.
    kustomization_file: bool,
}

fn parse(files: &[(String, String)]) -> Vec<Document<'_>> {
    let mut documents = Vec::new();
    for (index, (path, text)) in files.iter().enumerate() {
        let name = path.rsplit('/').next().unwrap_or(path);
        let kustomization_file = matches!(
            name,
            "kustomization.yaml" | "kustomization.yml" | "Kustomization"
        );
        for chunk in documents::split(text) {
            let value = serde_yaml_ng::from_str::<Value>(chunk.text).map_err(|e| e.to_string());
            if matches!(value, Ok(Value::Null)) {
                continue;
            }
            documents.push(Document {
                file: index,
                chunk,
                value,
                kustomization_file,
            });
        }
    }
    documents
}

/// One step of a route into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

type Path = Vec<Step>;

fn route(path: &[Step]) -> Route<'static> {
    Route::from(
        path.iter()
            .map(|step| match step {
                Step::Key(key) => Component::from(key.clone()),
                Step::Index(index) => Component::from(*index),
            })
            .collect::<Vec<_>>(),
    )
}

fn child(path: &[Step], step: Step) -> Path {
    let mut path = path.to_vec();
    path.push(step);
    path
}

/// A place that references an image.
#[derive(Debug)]
struct Reference {
    document: usize,
    kind: ReferenceKind,
}

#[derive(Debug)]
enum ReferenceKind {
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
fn find(documents: &[Document<'_>], image: &str) -> Vec<Reference> {
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

/// How a scalar is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
}

impl Style {
    fn of(raw: &str) -> Option<Style> {
        match raw.as_bytes().first() {
            Some(b'"') => Some(Style::Double),
            Some(b'\'') => Some(Style::Single),
            Some(b'|' | b'>') => None,
            _ => Some(Style::Plain),
        }
    }

    /// `value` written in this style; a plain scalar that would not read back as the same
    /// string is double-quoted instead.
    fn write(self, value: &str) -> String {
        match self {
            Style::Double => format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")),
            Style::Single => format!("'{}'", value.replace('\'', "''")),
            Style::Plain => {
                let reads_back = serde_yaml_ng::from_str::<Value>(value)
                    .is_ok_and(|v| v.as_str() == Some(value));
                let flow_safe = !value.contains([',', '[', ']', '{', '}', '#']);
                if reads_back && flow_safe {
                    value.to_owned()
                } else {
                    Style::Double.write(value)
                }
            }
        }
    }
}

/// The string a scalar's source text stands for.
fn scalar_value(raw: &str, style: Style) -> String {
    match style {
        Style::Plain => raw.trim().to_owned(),
        Style::Single => raw
            .trim()
            .trim_start_matches('\'')
            .trim_end_matches('\'')
            .replace("''", "'"),
        Style::Double => serde_yaml_ng::from_str::<String>(raw).unwrap_or_else(|_| raw.to_owned()),
    }
}

/// Where a mapping key's value is in the source.
enum Slot {
    /// `key: value`: the scalar's span, its text and style.
    Scalar {
        span: Range<usize>,
        value: String,
        style: Style,
    },
    /// `key:` with no value: insert after this position.
    Empty { after: usize },
    /// No such key.
    Missing,
}

struct Planner<'a> {
    files: &'a [(String, String)],
    documents: &'a [Document<'a>],
    trees: HashMap<usize, yamlpath::Document>,
}

impl Planner<'_> {
    /// Parse a document's syntax tree (once) for span queries.
    fn ensure_tree(&mut self, index: usize, image: &str) -> Result<(), BumpError> {
        if !self.trees.contains_key(&index) {
            let tree = yamlpath::Document::new(self.documents[index].chunk.text).map_err(|e| {
                self.unsupported(index, 0, image, format!("the YAML syntax tree: {e}"))
            })?;
            self.trees.insert(index, tree);
        }
        Ok(())
    }

    fn unsupported(
        &self,
        document: usize,
        offset: usize,
        image: &str,
        reason: String,
    ) -> BumpError {
        let (file, line) = self.position(document, offset);
        BumpError::Unsupported {
            file,
            line,
            image: image.to_owned(),
            reason,
        }
    }

    /// File and 1-based line of `offset` within a document.
    fn position(&self, document: usize, offset: usize) -> (String, usize) {
        let document = &self.documents[document];
        let (path, text) = &self.files[document.file];
        (path.clone(), line_of(text, document.chunk.offset + offset))
    }

    /// The value slot of `path` (a key path) in a document.
    fn slot(&mut self, document: usize, path: &[Step], image: &str) -> Result<Slot, BumpError> {
        let chunk_text = self.documents[document].chunk.text;
        self.ensure_tree(document, image)?;
        let tree = &self.trees[&document];
        let route = route(path);
        match tree.query_exact(&route) {
            Ok(Some(feature)) => {
                let (start, end) = feature.location.byte_span;
                if feature.kind() != FeatureKind::Scalar {
                    return Err(self.unsupported(
                        document,
                        start,
                        image,
                        "the value is not a scalar".into(),
                    ));
                }
                let raw = &chunk_text[start..end];
                let Some(style) = Style::of(raw) else {
                    return Err(self.unsupported(
                        document,
                        start,
                        image,
                        "the value is a block scalar".into(),
                    ));
                };
                Ok(Slot::Scalar {
                    span: start..end,
                    value: scalar_value(raw, style),
                    style,
                })
            }
            Ok(None) => {
                let pair = tree
                    .query_pretty(&route)
                    .map_err(|e| self.unsupported(document, 0, image, e.to_string()))?;
                Ok(Slot::Empty {
                    after: pair.location.byte_span.1,
                })
            }
            Err(QueryError::ExhaustedMapping(_)) => Ok(Slot::Missing),
            Err(e) => Err(self.unsupported(document, 0, image, e.to_string())),
        }
    }

    /// Set `key` of the mapping at `mapping` to `value`: replace it, fill an empty value,
    /// or add the key in the mapping's own style. `None` when it already holds `value`.
    fn set_key(
        &mut self,
        document: usize,
        mapping: &[Step],
        key: &str,
        value: &str,
        style_hint: Style,
        image: &str,
    ) -> Result<Option<(Range<usize>, String, usize)>, BumpError> {
        let path = child(mapping, Step::Key(key.to_owned()));
        let chunk = self.documents[document].chunk;
        let offset = chunk.offset;
        let file_text = &self.files[self.documents[document].file].1;
        match self.slot(document, &path, image)? {
            Slot::Scalar { value: current, .. } if current == value => Ok(None),
            Slot::Scalar { span, style, .. } => Ok(Some((
                offset + span.start..offset + span.end,
                style.write(value),
                line_of(file_text, offset + span.start),
            ))),
            Slot::Empty { after } => Ok(Some((
                offset + after..offset + after,
                format!(" {}", style_hint.write(value)),
                line_of(file_text, offset + after),
            ))),
            Slot::Missing => {
                self.ensure_tree(document, image)?;
                let tree = &self.trees[&document];
                let feature = tree
                    .query_exact(&route(mapping))
                    .ok()
                    .flatten()
                    .ok_or_else(|| {
                        self.unsupported(document, 0, image, "cannot locate the mapping".into())
                    })?;
                let (start, end) = feature.location.byte_span;
                let column = feature.location.point_span.0 .1;
                let entry = format!("{key}: {}", style_hint.write(value));
                match feature.kind() {
                    FeatureKind::FlowMapping => {
                        let inner = &chunk.text[start + 1..end - 1];
                        let content = inner.trim_end();
                        let at = start + 1 + content.len();
                        let text = if content.trim().is_empty() {
                            entry
                        } else if content.ends_with(',') {
                            format!(" {entry}")
                        } else {
                            format!(", {entry}")
                        };
                        Ok(Some((
                            offset + at..offset + at,
                            text,
                            line_of(file_text, offset + at),
                        )))
                    }
                    FeatureKind::BlockMapping => {
                        let eol = if file_text.contains("\r\n") {
                            "\r\n"
                        } else {
                            "\n"
                        };
                        // The mapping's span may run on over trailing comments and line
                        // breaks: the new key goes after its last non-blank line.
                        let mut content_end = start + chunk.text[start..end].trim_end().len();
                        loop {
                            let line_start =
                                chunk.text[..content_end].rfind('\n').map_or(0, |i| i + 1);
                            let indent = chunk.text[line_start..content_end].len()
                                - chunk.text[line_start..content_end].trim_start().len();
                            if line_start <= start
                                || !tree.offset_inside_comment(line_start + indent)
                            {
                                break;
                            }
                            content_end = start + chunk.text[start..line_start].trim_end().len();
                        }
                        let line_end = chunk.text[content_end..]
                            .find('\n')
                            .map_or(chunk.text.len(), |i| content_end + i);
                        let at = if chunk.text[..line_end].ends_with('\r') {
                            line_end - 1
                        } else {
                            line_end
                        };
                        let text = format!("{eol}{}{entry}", " ".repeat(column));
                        Ok(Some((
                            offset + at..offset + at,
                            text,
                            line_of(file_text, offset + at) + 1,
                        )))
                    }
                    _ => Err(self.unsupported(
                        document,
                        start,
                        image,
                        "the entry is not a mapping".into(),
                    )),
                }
            }
        }
    }

    /// The style of an existing scalar under `mapping` (for keys added beside it).
    fn style_of(&mut self, document: usize, mapping: &[Step], key: &str, image: &str) -> Style {
        match self.slot(document, &child(mapping, Step::Key(key.to_owned())), image) {
            Ok(Slot::Scalar { style, .. }) => style,
            _ => Style::Plain,
        }
    }

    fn current(
        &mut self,
        document: usize,
        mapping: &[Step],
        key: &str,
        image: &str,
    ) -> Result<Option<String>, BumpError> {
        Ok(
            match self.slot(document, &child(mapping, Step::Key(key.to_owned())), image)? {
                Slot::Scalar { value, .. }
                    if !value.is_empty() && value != "~" && value != "null" =>
                {
                    Some(value)
                }
                _ => None,
            },
        )
    }

    fn edit(
        &mut self,
        reference: &Reference,
        request: &BumpRequest,
    ) -> Result<Option<Edit>, BumpError> {
        let document = reference.document;
        let image = request.image.as_str();
        let file = self.files[self.documents[document].file].0.clone();
        let made = |(span, replacement, line): (Range<usize>, String, usize),
                    old: String,
                    new: String| Edit {
            file: file.clone(),
            line,
            old,
            new,
            span,
            replacement,
        };
        match &reference.kind {
            ReferenceKind::ContainerImage { path } => {
                let Slot::Scalar { span, value, style } = self.slot(document, path, image)? else {
                    return Err(self.unsupported(
                        document,
                        0,
                        image,
                        "the image has no value".into(),
                    ));
                };
                let parsed = ImageRef::parse(&value);
                let new = match &request.target {
                    Target::Tag(tag) => parsed.with_tag(tag),
                    Target::Digest(digest) => parsed.with_digest(digest),
                };
                if new == value {
                    return Ok(None);
                }
                let offset = self.documents[document].chunk.offset;
                let line = line_of(
                    &self.files[self.documents[document].file].1,
                    offset + span.start,
                );
                Ok(Some(made(
                    (
                        offset + span.start..offset + span.end,
                        style.write(&new),
                        line,
                    ),
                    value,
                    new,
                )))
            }
            ReferenceKind::KustomizeEntry { path, repository }
            | ReferenceKind::HelmImage { path, repository } => {
                let (tag_key, style_key) = match &reference.kind {
                    ReferenceKind::KustomizeEntry { .. } => ("newTag", "name"),
                    _ => ("tag", "repository"),
                };
                let tag = self.current(document, path, tag_key, image)?;
                let digest = self.current(document, path, "digest", image)?;
                let show = |tag: Option<&str>, digest: Option<&str>| {
                    let mut shown = repository.clone();
                    if let Some(tag) = tag {
                        shown.push(':');
                        shown.push_str(tag);
                    }
                    if let Some(digest) = digest {
                        shown.push('@');
                        shown.push_str(digest);
                    }
                    shown
                };
                let old = show(tag.as_deref(), digest.as_deref());
                let style = self.style_of(document, path, style_key, image);
                let (key, value, new) = match &request.target {
                    Target::Tag(new_tag) => {
                        if digest.is_some() {
                            let digest_path = child(path, Step::Key("digest".into()));
                            let at = match self.slot(document, &digest_path, image)? {
                                Slot::Scalar { span, .. } => span.start,
                                _ => 0,
                            };
                            let (file, line) = self.position(document, at);
                            return Err(BumpError::DigestPinned {
                                file,
                                line,
                                image: image.to_owned(),
                            });
                        }
                        (tag_key, new_tag, show(Some(new_tag), None))
                    }
                    Target::Digest(new_digest) => {
                        ("digest", new_digest, show(tag.as_deref(), Some(new_digest)))
                    }
                };
                Ok(self
                    .set_key(document, path, key, value, style, image)?
                    .map(|change| made(change, old, new)))
            }
        }
    }
}

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
//!    `newTag`, or its `digest` for a digest bump, or both for a pinned tag, is set (and added
//!    if missing); kustomize then renders `name:tag@digest`;
//! 2. the `image:` of containers and initContainers in Pods and the pod templates of
//!    Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs whose repository
//!    is the image: the reference becomes `repository:tag`, `repository@digest` or, pinned,
//!    `repository:tag@digest` (a previous digest or tag is dropped, as it would otherwise pin
//!    the old image);
//! 3. Helm-values style `image:` mappings with a `repository` (optionally after a
//!    `registry`) that is the image: their `tag`, or `digest`, is set (and added if missing).
//!    A pinned tag sets `tag` and `digest` when the mapping has a `digest` key; otherwise
//!    `tag` becomes `tag@digest`, which a chart that writes `{{ repository }}:{{ tag }}`
//!    renders as the pinned reference.
//!
//! Repositories match as a container runtime resolves them: `nginx` and
//! `docker.io/library/nginx` are the same image, `host:5000/x` is not `host/x`.
//! A new value that a plain YAML scalar would not read back as the same string (a tag such as
//! `1.10`, which is a number) is written in double quotes; otherwise each scalar keeps its
//! quote style.
//!
//! Two halves: `references` finds which parts of each parsed document name an image, `edits`
//! turns each reference into the byte span that changes.

mod documents;
mod edits;
mod files;
pub mod image;
mod references;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;

use serde::Serialize;
use serde_yaml_ng::Value;

pub use files::{environment_files, files_to_bump, is_manifest_file, EnvironmentFilesError};

use documents::{line_of, Chunk};
use edits::Planner;
use image::same_repository;
use references::find;

/// What to set an image to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Tag(String),
    /// `sha256:…` (without `@`).
    Digest(String),
    /// A tag pinned to the digest it was pushed as: the tag says which build it is, the digest
    /// decides what runs, so pushing the tag again changes nothing.
    Pinned {
        tag: String,
        digest: String,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tag(tag) => write!(f, "tag {tag}"),
            Target::Digest(digest) => write!(f, "digest {digest}"),
            Target::Pinned { tag, digest } => write!(f, "tag {tag} pinned to digest {digest}"),
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

    pub fn pinned(
        image: impl Into<String>,
        tag: impl Into<String>,
        digest: impl Into<String>,
    ) -> BumpRequest {
        BumpRequest {
            image: image.into(),
            target: Target::Pinned {
                tag: tag.into(),
                digest: digest.into(),
            },
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
    plan_scoped(env, files, requests, Scope::EveryFile)
}

/// Like [`plan`] for the values files of a Helm environment (`files` in `helm.values` order):
/// each image is set in the last file that sets it, the one whose value helm uses.
pub fn plan_helm_values(
    env: &str,
    files: &[(String, String)],
    requests: &[BumpRequest],
) -> Result<Vec<Edit>, BumpError> {
    plan_scoped(env, files, requests, Scope::LastFile)
}

/// [`plan_helm_values`] when `source` holds a Helm chart at `env`'s path, [`plan`] otherwise;
/// `files` are [`files_to_bump`] of the same source.
pub fn plan_for(
    source: &dyn crate::render::TreeSource,
    env: &crate::config::Environment,
    files: &[(String, String)],
    requests: &[BumpRequest],
) -> Result<Vec<Edit>, BumpError> {
    if crate::render::is_helm_environment(source, env) {
        plan_helm_values(&env.name, files, requests)
    } else {
        plan(&env.name, files, requests)
    }
}

/// Which references of an image a plan edits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Every reference, in every file.
    EveryFile,
    /// The references in the last file that has any (later values files override earlier).
    LastFile,
}

fn plan_scoped(
    env: &str,
    files: &[(String, String)],
    requests: &[BumpRequest],
    scope: Scope,
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
        let mut references = find(&documents, &request.image);
        if scope == Scope::LastFile {
            if let Some(last) = references.iter().map(|r| documents[r.document].file).max() {
                references.retain(|r| documents[r.document].file == last);
            }
        }
        if references.is_empty() {
            missing.push(request.image.clone());
            continue;
        }
        for reference in &references {
            for edit in planner.edit(reference, request)? {
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

/// The new text of every file `edits` touch, as (path, bytes), in the order of `files`: what
/// a caller writes back (a work tree) or commits (the Git Data API).
pub fn edited_files(files: &[(String, String)], edits: &[Edit]) -> Vec<(String, Vec<u8>)> {
    files
        .iter()
        .filter(|(path, _)| edits.iter().any(|e| &e.file == path))
        .map(|(path, text)| (path.clone(), apply(path, text, edits).into_bytes()))
        .collect()
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
            Target::Pinned { tag, digest } => {
                image::validate_tag(tag)
                    .map_err(|r| invalid(format!("invalid tag {tag:?}: {r}")))?;
                Target::Pinned {
                    tag: tag.clone(),
                    digest: image::normalise_digest(digest)
                        .map_err(|r| invalid(format!("invalid digest {digest:?}: {r}")))?,
                }
            }
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

pub(crate) struct Document<'a> {
    pub(crate) file: usize,
    pub(crate) chunk: Chunk<'a>,
    /// The parsed document, or why it does not parse.
    pub(crate) value: Result<Value, String>,
    /// Whether the file is a kustomization by its name.
    pub(crate) kustomization_file: bool,
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

//! Editing spans: a found reference becomes a byte-precise replacement of one scalar, or one
//! key added in its mapping's style. Spans come from `yamlpath` queries on each document's own
//! text, shifted by the document's offset in its file.

use std::collections::HashMap;
use std::ops::Range;

use serde_yaml_ng::Value;
use yamlpath::{Component, FeatureKind, QueryError, Route};

use super::documents::line_of;
use super::image::ImageRef;
use super::references::{child, Reference, ReferenceKind, Step};
use super::{BumpError, BumpRequest, Document, Edit, Target};

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

pub(super) struct Planner<'a> {
    pub(super) files: &'a [(String, String)],
    pub(super) documents: &'a [Document<'a>],
    pub(super) trees: HashMap<usize, yamlpath::Document>,
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

    /// The edits that set one reference to the request's target: none when it already holds
    /// it, two for a pinned tag in a mapping that keeps tag and digest apart.
    pub(super) fn edit(
        &mut self,
        reference: &Reference,
        request: &BumpRequest,
    ) -> Result<Vec<Edit>, BumpError> {
        let document = reference.document;
        let image = request.image.as_str();
        let file = self.files[self.documents[document].file].0.clone();
        let made =
            |(span, replacement, line): (Range<usize>, String, usize), old: &str, new: &str| Edit {
                file: file.clone(),
                line,
                old: old.to_owned(),
                new: new.to_owned(),
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
                    Target::Pinned { tag, digest } => parsed.with_pinned_tag(tag, digest),
                };
                if new == value {
                    return Ok(Vec::new());
                }
                let offset = self.documents[document].chunk.offset;
                let line = line_of(
                    &self.files[self.documents[document].file].1,
                    offset + span.start,
                );
                Ok(vec![made(
                    (
                        offset + span.start..offset + span.end,
                        style.write(&new),
                        line,
                    ),
                    &value,
                    &new,
                )])
            }
            ReferenceKind::KustomizeEntry { path, repository }
            | ReferenceKind::HelmImage { path, repository } => {
                let kustomize = matches!(reference.kind, ReferenceKind::KustomizeEntry { .. });
                let (tag_key, style_key) = if kustomize {
                    ("newTag", "name")
                } else {
                    ("tag", "repository")
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
                // (key, value) pairs to set, in the order they are added when missing.
                let (sets, new): (Vec<(&str, String)>, String) = match &request.target {
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
                        (vec![(tag_key, new_tag.clone())], show(Some(new_tag), None))
                    }
                    Target::Digest(new_digest) => (
                        vec![("digest", new_digest.clone())],
                        show(tag.as_deref(), Some(new_digest)),
                    ),
                    Target::Pinned {
                        tag: new_tag,
                        digest: new_digest,
                    } => {
                        let digest_path = child(path, Step::Key("digest".into()));
                        let has_digest_key =
                            !matches!(self.slot(document, &digest_path, image)?, Slot::Missing);
                        if kustomize || has_digest_key {
                            (
                                vec![(tag_key, new_tag.clone()), ("digest", new_digest.clone())],
                                show(Some(new_tag), Some(new_digest)),
                            )
                        } else {
                            // A chart without a digest value: the tag carries the digest.
                            let pinned = format!("{new_tag}@{new_digest}");
                            (vec![(tag_key, pinned.clone())], show(Some(&pinned), None))
                        }
                    }
                };
                let mut changes: Vec<(Range<usize>, String, usize)> = Vec::new();
                for (key, value) in &sets {
                    let Some(change) = self.set_key(document, path, key, value, style, image)?
                    else {
                        continue;
                    };
                    // Two keys added to one mapping go in at the same place: one insertion.
                    match changes.last_mut() {
                        Some(last) if last.0.is_empty() && last.0 == change.0 => {
                            last.1.push_str(&change.1)
                        }
                        _ => changes.push(change),
                    }
                }
                Ok(changes
                    .into_iter()
                    .map(|change| made(change, &old, &new))
                    .collect())
            }
        }
    }
}

//! Maps a key path inside the YAML file (`environments.dev.path`) to a line and column.
//!
//! The YAML value tree carries no positions, so errors found after parsing are located by
//! querying the original text with `yamlpath` (a concrete syntax tree). The syntax tree is
//! only built when an error needs a position.

use std::cell::OnceCell;

use super::error::Position;

/// One step of a key path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A key path from the top of the document.
pub(crate) type KeyPath = [Seg];

/// Builds a key path from string keys.
pub(crate) fn keys(parts: &[&str]) -> Vec<Seg> {
    parts.iter().map(|p| Seg::Key((*p).to_string())).collect()
}

/// Finds positions of keys and values in one YAML text.
pub(crate) struct Locator<'a> {
    text: &'a str,
    doc: OnceCell<Option<yamlpath::Document>>,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Locator {
            text,
            doc: OnceCell::new(),
        }
    }

    fn document(&self) -> Option<&yamlpath::Document> {
        self.doc
            .get_or_init(|| yamlpath::Document::new(self.text).ok())
            .as_ref()
    }

    /// Position of the document's top-level value.
    pub(crate) fn top(&self) -> Position {
        self.document()
            .and_then(|doc| doc.top_feature().ok())
            .map(|f| self.position_of(f.location.byte_span.0))
            .unwrap_or(Position::START)
    }

    /// Position of the key that ends `path` (falls back to the closest locatable ancestor).
    pub(crate) fn key(&self, path: &KeyPath) -> Position {
        if let (Some(doc), Some(Seg::Key(_))) = (self.document(), path.last()) {
            if let Ok(feature) = doc.query_key_only(&route(path)) {
                return self.position_of(feature.location.byte_span.0);
            }
        }
        self.ancestor(path)
    }

    /// Position of the value at `path`; for an absent value (`key:`) its key, and failing
    /// that the closest locatable ancestor.
    pub(crate) fn value(&self, path: &KeyPath) -> Position {
        if let Some(doc) = self.document() {
            match doc.query_exact(&route(path)) {
                Ok(Some(feature)) => return self.position_of(feature.location.byte_span.0),
                Ok(None) => return self.key(path),
                Err(_) => {}
            }
        }
        self.ancestor(path)
    }

    fn ancestor(&self, path: &KeyPath) -> Position {
        match path.split_last() {
            Some((_, parent)) if !parent.is_empty() => match parent.last() {
                Some(Seg::Key(_)) => self.key(parent),
                _ => self.value(parent),
            },
            _ => self.top(),
        }
    }

    /// 1-based line and character column of a byte offset.
    pub(crate) fn position_of(&self, offset: usize) -> Position {
        position_in(self.text, offset)
    }
}

/// 1-based line and character column of a byte offset in `text`.
pub(crate) fn position_in(text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

fn route(path: &KeyPath) -> yamlpath::Route<'_> {
    let components: Vec<yamlpath::Component<'_>> = path
        .iter()
        .map(|seg| match seg {
            Seg::Key(k) => yamlpath::Component::Key(k.as_str().into()),
            Seg::Index(i) => yamlpath::Component::Index(*i),
        })
        .collect();
    yamlpath::Route::from(components)
}

/// Splits a `serde_yaml_ng` error into its position (1-based) and its message without the
/// ` at line L column C` parts libyaml and serde add.
pub(crate) fn yaml_error_parts(err: &serde_yaml_ng::Error) -> (Option<Position>, String) {
    let position = err.location().map(|l| Position {
        line: l.line(),
        column: l.column(),
    });
    (position, strip_marks(&err.to_string()))
}

/// Removes ` at line N column M` and ` at position N` from a libyaml message.
fn strip_marks(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(" at ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        if let Some(skip) = mark_len(after) {
            rest = &after[skip..];
        } else {
            out.push_str(" at ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Length of a leading `line N column M` or `position N`, if `s` starts with one.
fn mark_len(s: &str) -> Option<usize> {
    fn digits(s: &str) -> usize {
        s.bytes().take_while(u8::is_ascii_digit).count()
    }
    if let Some(r) = s.strip_prefix("line ") {
        let n = digits(r);
        let r2 = r[n..].strip_prefix(" column ")?;
        let m = digits(r2);
        (n > 0 && m > 0).then(|| "line ".len() + n + " column ".len() + m)
    } else if let Some(r) = s.strip_prefix("position ") {
        let n = digits(r);
        (n > 0).then(|| "position ".len() + n)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_libyaml_marks_from_messages() {
        assert_eq!(
            strip_marks("mapping values are not allowed in this context at line 3 column 7"),
            "mapping values are not allowed in this context"
        );
        assert_eq!(
            strip_marks("did not find expected key at line 4 column 1, while parsing a block mapping at line 2 column 1"),
            "did not find expected key, while parsing a block mapping"
        );
        assert_eq!(strip_marks("look at this"), "look at this");
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let text = "a: é\nbb: x\n";
        assert_eq!(position_in(text, 0), Position { line: 1, column: 1 });
        let x = text.find('x').unwrap();
        assert_eq!(position_in(text, x), Position { line: 2, column: 5 });
        let after = text.find("\nbb").unwrap();
        assert_eq!(position_in(text, after), Position { line: 1, column: 5 });
    }

    #[test]
    fn locates_keys_and_values() {
        let text = "environments:\n  dev:\n    path: envs/dev\n    pth: x\n";
        let loc = Locator::new(text);
        assert_eq!(
            loc.key(&keys(&["environments", "dev", "pth"])),
            Position { line: 4, column: 5 }
        );
        assert_eq!(
            loc.value(&keys(&["environments", "dev", "path"])),
            Position {
                line: 3,
                column: 11
            }
        );
        // A missing key falls back to its parent key.
        assert_eq!(
            loc.key(&keys(&["environments", "dev", "nope"])),
            Position { line: 2, column: 3 }
        );
    }
}

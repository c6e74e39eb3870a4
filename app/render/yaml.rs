//! YAML streams → JSON values, each with the file line it starts on; errors with file positions.

use crate::config::yaml_error_position;

/// One parsed document of a YAML stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    /// 1-based line in the file where the document's content begins.
    pub line: usize,
    pub value: serde_json::Value,
}

/// A syntax or conversion error inside a file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A stretch of a stream holding one document.
struct Chunk<'a> {
    text: &'a str,
    /// 0-based index of the chunk's first line within the file.
    first_line: usize,
    /// 1-based line where the document's content begins.
    content_line: usize,
}

/// Parses every document of a YAML (or JSON) stream, skipping empty ones.
pub(crate) fn parse_stream(text: &str) -> Result<Vec<Document>, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut docs = Vec::new();
    for chunk in split(text) {
        let mut value: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(chunk.text).map_err(|err| {
                let (position, message) = yaml_error_position(&err);
                let (line, column) = position.unwrap_or((1, 1));
                YamlError {
                    line: chunk.first_line + line,
                    column,
                    message,
                }
            })?;
        if value.is_null() {
            continue;
        }
        let at_start = |message: String| YamlError {
            line: chunk.content_line,
            column: 1,
            message,
        };
        value.apply_merge().map_err(|err| {
            at_start(format!(
                "invalid merge key: {}",
                yaml_error_position(&err).1
            ))
        })?;
        let json = serde_json::to_value(&value)
            .map_err(|err| at_start(format!("cannot be represented as JSON: {err}")))?;
        docs.push(Document {
            line: chunk.content_line,
            value: json,
        });
    }
    Ok(docs)
}

/// Splits at `---` lines (and after `...` lines). A `---` that follows only comments, blank
/// lines or directives does not split: it starts the document those lines precede.
fn split(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut start = 0; // byte offset of the current chunk
    let mut start_line = 0;
    let mut content_line: Option<usize> = None;
    let mut has_marker = false; // the current chunk starts with `---`
    let mut offset = 0;
    for (index, raw_line) in text.split_inclusive('\n').enumerate() {
        let line = raw_line.trim_end_matches(['\n', '\r']);
        let marker = |m: &str| {
            line.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        };
        if marker("---") {
            if content_line.is_some() || has_marker {
                chunks.push(Chunk {
                    text: &text[start..offset],
                    first_line: start_line,
                    content_line: content_line.unwrap_or(start_line + 1),
                });
                start = offset;
                start_line = index;
                content_line = None;
            }
            has_marker = true;
            let rest = line[3..].trim_start();
            if !rest.is_empty() && !rest.starts_with('#') {
                content_line = Some(index + 1);
            }
        } else if marker("...") {
            chunks.push(Chunk {
                text: &text[start..offset],
                first_line: start_line,
                content_line: content_line.unwrap_or(start_line + 1),
            });
            start = offset + raw_line.len();
            start_line = index + 1;
            content_line = None;
            has_marker = false;
        } else if content_line.is_none() {
            let t = line.trim_start();
            let directive = t.starts_with('%') && t.len() == line.len();
            if !(t.is_empty() || t.starts_with('#') || directive) {
                content_line = Some(index + 1);
            }
        }
        offset += raw_line.len();
    }
    if start < text.len() {
        chunks.push(Chunk {
            text: &text[start..],
            first_line: start_line,
            content_line: content_line.unwrap_or(start_line + 1),
        });
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_keep_their_content_line() {
        let text = "# leading comment\n---\na: 1\n---\n\n# c\nb: 2\n--- {c: 3}\n";
        let docs = parse_stream(text).unwrap();
        let lines: Vec<usize> = docs.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![3, 7, 8]);
        assert_eq!(docs[2].value, json!({"c": 3}));
    }

    #[test]
    fn empty_documents_are_skipped() {
        let docs = parse_stream("---\n---\n# only a comment\n---\na: 1\n...\n").unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].line, 5);
    }

    #[test]
    fn errors_are_positioned_in_the_file_not_the_document() {
        let text = "a: 1\n---\nkind: x\nmetadata:\n  name: a\n  bad: b: c\n";
        let err = parse_stream(text).unwrap_err();
        assert_eq!((err.line, err.column), (6, 9));
        assert_eq!(
            err.message,
            "mapping values are not allowed in this context"
        );
    }

    #[test]
    fn crlf_and_bom_are_accepted() {
        let docs = parse_stream("\u{feff}a: 1\r\n---\r\nb: 2\r\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].line, 3);
    }

    #[test]
    fn merge_keys_are_applied() {
        let docs = parse_stream("base: &b {x: 1}\nobj:\n  <<: *b\n  y: 2\n").unwrap();
        assert_eq!(docs[0].value["obj"], json!({"x": 1, "y": 2}));
    }
}

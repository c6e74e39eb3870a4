//! A YAML stream split into its documents, each with its byte offset in the file.
//!
//! `yamlpath` answers queries about the first document of a stream only, so every document
//! is queried on its own and its spans are shifted back by its offset.

/// One document of a file: `text` is `file[offset..offset + text.len()]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    pub offset: usize,
    pub text: &'a str,
}

/// Split `text` at its `---` document-start lines (a line that is `---`, or `---` followed
/// by a space or tab). Each chunk begins with its `---` line; the first holds whatever comes
/// before the first marker. Line endings (`\n` or `\r\n`) stay where they are.
pub fn split(text: &str) -> Vec<Chunk<'_>> {
    let mut starts = vec![0];
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let is_marker = content == "---"
            || content
                .strip_prefix("---")
                .is_some_and(|rest| rest.starts_with([' ', '\t']));
        if is_marker && line_start != 0 {
            starts.push(line_start);
        }
        line_start += line.len();
    }
    starts.push(text.len());
    starts
        .windows(2)
        .map(|w| Chunk {
            offset: w[0],
            text: &text[w[0]..w[1]],
        })
        .collect()
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_document_markers_and_keeps_offsets() {
        let text = "# head\na: 1\n---\nb: 2\r\n--- # c\r\nc: 3\n---x: not a marker\n";
        let chunks = split(text);
        let texts: Vec<&str> = chunks.iter().map(|c| c.text).collect();
        assert_eq!(
            texts,
            [
                "# head\na: 1\n",
                "---\nb: 2\r\n",
                "--- # c\r\nc: 3\n---x: not a marker\n"
            ]
        );
        for chunk in &chunks {
            assert_eq!(
                &text[chunk.offset..chunk.offset + chunk.text.len()],
                chunk.text
            );
        }
    }

    #[test]
    fn a_leading_marker_does_not_make_an_empty_first_chunk() {
        let chunks = split("---\na: 1\n");
        assert_eq!(chunks.len(), 1);
        assert_eq!(line_of("a\nb\nc", 4), 3);
    }
}

//! Which lines of a comment a reader sees as text. Commands are read only from those.
//!
//! A comment is read line by line (`\n`, `\r\n` and `\r` all end a line). What GitHub renders
//! as something other than text is hidden:
//!
//! - lines inside fenced code blocks (```` ``` ```` or `~~~`, any info string, closed by a fence
//!   of the same character at least as long; an unclosed fence runs to the end of the comment),
//! - indented code (four spaces or a tab),
//! - `>` quotes, including the lines that directly follow a quoted paragraph without a blank
//!   line (GitHub shows those inside the quote too),
//! - HTML comments (`<!-- … -->`, possibly over several lines)
//!
//! These lines are never commands.

/// The lines of `body` a reader sees as text (see the module documentation), with their
/// 1-based numbers.
pub(crate) fn visible_lines(body: &str) -> Vec<(usize, &str)> {
    #[derive(Clone, Copy)]
    enum Block {
        Text,
        Fence(Fence),
        HtmlComment,
    }
    let mut visible = Vec::new();
    let mut block = Block::Text;
    // The previous line was quoted paragraph text, so a following text line continues it.
    let mut quote_paragraph = false;
    // A fence opened inside the current quote.
    let mut quote_fence: Option<Fence> = None;
    for (index, line) in split_lines(body).enumerate() {
        match block {
            Block::Fence(fence) => {
                if fence.closed_by(line) {
                    block = Block::Text;
                }
                continue;
            }
            Block::HtmlComment => {
                if line.contains("-->") {
                    block = Block::Text;
                }
                continue;
            }
            Block::Text => {}
        }
        if line.trim().is_empty() {
            quote_paragraph = false;
            quote_fence = None;
            continue;
        }
        // Four spaces or a tab: indented code, or (after quoted text) more of the quote.
        let Some(content) = strip_indent(line) else {
            continue;
        };
        if content.starts_with('>') {
            let quoted = strip_quote_markers(content);
            if let Some(fence) = quote_fence {
                if fence.closed_by(quoted) {
                    quote_fence = None;
                }
                quote_paragraph = false;
            } else if quoted.trim().is_empty() {
                quote_paragraph = false;
            } else if let Some(fence) = strip_indent(quoted).and_then(Fence::opened_by) {
                quote_fence = Some(fence);
                quote_paragraph = false;
            } else {
                quote_paragraph = is_paragraph_text(quoted);
            }
            continue;
        }
        quote_fence = None;
        if let Some(fence) = Fence::opened_by(content) {
            block = Block::Fence(fence);
            quote_paragraph = false;
            continue;
        }
        if let Some(rest) = content.strip_prefix("<!--") {
            if !rest.contains("-->") {
                block = Block::HtmlComment;
            }
            quote_paragraph = false;
            continue;
        }
        if quote_paragraph {
            continue;
        }
        visible.push((index + 1, content));
    }
    visible
}

/// Lines ending at `\n`, `\r\n` or `\r`.
fn split_lines(body: &str) -> impl Iterator<Item = &str> {
    body.split('\n')
        .flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'))
}

/// The line without up to three leading spaces; `None` when it is indented further (four
/// spaces, or a tab within the first four columns): an indented code line.
fn strip_indent(line: &str) -> Option<&str> {
    let spaces = line.bytes().take(3).take_while(|b| *b == b' ').count();
    let rest = &line[spaces..];
    if rest.starts_with([' ', '\t']) {
        None
    } else {
        Some(rest)
    }
}

/// The content of a quoted line: every `>` marker (each with one optional following space) removed.
fn strip_quote_markers(mut line: &str) -> &str {
    loop {
        let trimmed = line.trim_start_matches(' ');
        match trimmed.strip_prefix('>') {
            Some(rest) => line = rest.strip_prefix(' ').unwrap_or(rest),
            None => return line,
        }
    }
}

/// Whether quoted content is paragraph text, which a following unquoted line continues.
fn is_paragraph_text(quoted: &str) -> bool {
    match strip_indent(quoted) {
        None => false,
        Some(content) => {
            let hashes = content.bytes().take_while(|b| *b == b'#').count();
            let heading = (1..=6).contains(&hashes)
                && content[hashes..]
                    .chars()
                    .next()
                    .is_none_or(char::is_whitespace);
            !heading
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fence {
    marker: u8,
    len: usize,
}

impl Fence {
    /// The fence `content` (already without its indentation) opens, if it opens one.
    fn opened_by(content: &str) -> Option<Fence> {
        let marker = *content.as_bytes().first()?;
        if marker != b'`' && marker != b'~' {
            return None;
        }
        let len = content.bytes().take_while(|b| *b == marker).count();
        if len < 3 {
            return None;
        }
        // A backtick fence's info string cannot hold a backtick (that is inline code).
        if marker == b'`' && content[len..].contains('`') {
            return None;
        }
        Some(Fence { marker, len })
    }

    /// Whether `line` closes this fence: at most three spaces, at least as many markers, then
    /// only spaces or tabs.
    fn closed_by(&self, line: &str) -> bool {
        let Some(content) = strip_indent(line) else {
            return false;
        };
        let len = content.bytes().take_while(|b| *b == self.marker).count();
        len >= self.len && content[len..].trim_matches([' ', '\t']).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_on_every_line_ending() {
        let lines: Vec<&str> = split_lines("a\r\nb\nc\rd").collect();
        assert_eq!(lines, ["a", "b", "c", "d"]);
    }
}

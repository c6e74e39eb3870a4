//! Escaping for every value a manifest or a repository puts into a comment or a check run.
//!
//! Kinds, names, namespaces, paths, branch names and lock reasons are written by whoever
//! opened the pull request, a fork included. Each lands in one of three places, and each place
//! has its function (and its template filter, registered once in [`super::Templates`]):
//!
//! | filter | function | for |
//! |---|---|---|
//! | `text` | [`text`] | markdown text: table cells, list items, sentences |
//! | `code` | [`code`] | an inline code span, backticks included |
//! | `html` | [`html`] | text inside HTML elements (`<summary>`, `<code>`) |
//! | `block` | [`block`] | many lines shown as they are (a build log), in a fenced block |
//! | `quote` | [`quote`] | what a user wrote, quoted in a command reply |
//!
//! All three keep the value on one line (a line break becomes `⏎`, other control characters
//! `�`), so a value can never end a table row, an HTML block or a paragraph and start markdown
//! of its own. `text` and `html` also keep `@name` from mentioning anyone and `#12` from
//! referencing an issue (a zero-width joiner follows `@` and `#`), and break the patterns
//! GitHub turns into links (`://`, `www.`). Inside a code span GitHub makes no mentions, links
//! or markup, so `code` only needs a fence longer than any backtick run.

/// Shown instead of a line break.
pub const LINE_BREAK: char = '⏎';
/// Shown instead of any other control character.
const CONTROL: char = '\u{FFFD}';
/// Invisible; placed after `@` and `#` (and inside `://`, `www.`) so that GitHub sees no
/// mention, reference or link there.
const JOINER: char = '\u{200D}';

/// `text` as markdown text that renders as exactly these characters: markdown punctuation
/// backslash-escaped (`|` too, so it is safe in a table cell), `<`, `>` and `&` as entities.
pub fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (index, c) in one_line(text).char_indices() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '~' | '|' => {
                out.push('\\');
                out.push(c);
            }
            // At the start of a list item or a line these would open a heading, a list or a
            // quote; elsewhere escaping them is harmless.
            '-' | '+' | '=' | '.' | ')' if index == 0 => {
                out.push('\\');
                out.push(c);
            }
            '.' | ')' if leads_a_list_number(&out) => {
                out.push('\\');
                out.push(c);
            }
            '@' | '#' => {
                out.push(c);
                out.push(JOINER);
            }
            other => out.push(other),
        }
    }
    unlink(&out)
}

/// `text` as an inline code span, with its backticks: `` `api` ``, ``` `` a`b `` ```.
pub fn code(text: &str) -> String {
    let text = one_line(text);
    let fence = "`".repeat(longest_run(&text, '`') + 1);
    // A span that starts or ends with a backtick, or starts and ends with a space, needs one
    // space of padding on each side (markdown strips exactly one).
    let pad = text.starts_with('`')
        || text.ends_with('`')
        || (text.len() > 1 && text.starts_with(' ') && text.ends_with(' '));
    let pad = if pad { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// `text` (a build log, many lines) as a fenced code block: the fence is longer than any
/// backtick run inside, so nothing in the text can close it; control characters other than
/// line breaks and tabs become `�` (a terminal's colour codes among them).
pub fn block(text: &str) -> String {
    let mut body = String::with_capacity(text.len());
    for c in text.replace("\r\n", "\n").chars() {
        match c {
            '\n' | '\t' => body.push(c),
            '\r' => body.push('\n'),
            c if c.is_control() => body.push(CONTROL),
            other => body.push(other),
        }
    }
    let fence = "`".repeat(longest_run(&body, '`').max(2) + 1);
    let body = body.trim_end_matches('\n');
    format!("{fence}text\n{body}\n{fence}")
}

/// `text` inside HTML elements: `&`, `<`, `>`, `"`, `'` as entities. Markdown is not read
/// inside the HTML blocks the report uses, so no backslash escapes (they would show).
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in one_line(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '@' | '#' => {
                out.push(c);
                out.push(JOINER);
            }
            other => out.push(other),
        }
    }
    unlink(&out)
}

/// How much of a user's text a reply quotes by default, in characters.
pub const QUOTE_CHARS: usize = 80;

/// User text as a code span, cut to `limit` characters (`…` marks the cut) with backticks
/// replaced by `'` and line breaks by spaces: the span cannot be closed early, and nothing
/// inside it formats or mentions anyone.
pub fn quote(text: &str, limit: usize) -> String {
    let mut shown: String = text
        .chars()
        .take(limit)
        .map(|c| match c {
            '`' => '\'',
            '\r' | '\n' => ' ',
            other => other,
        })
        .collect();
    if text.chars().nth(limit).is_some() {
        shown.push('…');
    }
    format!("`{shown}`")
}

/// Line breaks as [`LINE_BREAK`] (`\r\n` as one), tabs as spaces, other control characters
/// as `�`.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(LINE_BREAK);
            }
            '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => out.push(LINE_BREAK),
            '\t' => out.push(' '),
            c if c.is_control() => out.push(CONTROL),
            other => out.push(other),
        }
    }
    out
}

/// Whether `out` so far is only digits: `1.` or `1)` would start an ordered list.
fn leads_a_list_number(out: &str) -> bool {
    !out.is_empty() && out.chars().all(|c| c.is_ascii_digit())
}

/// Breaks GitHub's bare-URL autolinks (`https://…`, `www.…`) with an invisible joiner.
fn unlink(text: &str) -> String {
    let mut out = text.replace("://", &format!(":{JOINER}//"));
    let mut from = 0;
    while let Some(found) = out[from..].to_ascii_lowercase().find("www.") {
        let at = from + found + 3;
        out.insert(at, JOINER);
        from = at + JOINER.len_utf8() + 1;
    }
    out
}

fn longest_run(text: &str, wanted: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in text.chars() {
        if c == wanted {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_a_hostile_kind_in_one_cell_and_mentions_no_one() {
        let kind = "Foo | 1 | 2 |\n\n@octocat [click](https://evil.example) <img src=x>";
        assert_eq!(
            text(kind),
            "Foo \\| 1 \\| 2 \\|⏎⏎@\u{200D}octocat \\[click\\](https:\u{200D}//evil.example) &lt;img src=x&gt;"
        );
    }

    #[test]
    fn text_escapes_what_would_start_a_block() {
        assert_eq!(text("# title"), "#\u{200D} title");
        assert_eq!(text("- item"), "\\- item");
        assert_eq!(text("12. item"), "12\\. item");
        assert_eq!(text("team-dev/api.v1"), "team-dev/api.v1");
        assert_eq!(text("2026-11-21"), "2026-11-21");
    }

    #[test]
    fn text_breaks_www_links_and_control_characters() {
        assert_eq!(text("WWW.evil.example"), "WWW\u{200D}.evil.example");
        assert_eq!(text("a\tb\u{1b}[31m\r\nc"), "a b\u{FFFD}\\[31m⏎c");
    }

    #[test]
    fn code_grows_its_fence_past_backticks_and_stays_on_one_line() {
        assert_eq!(code("api"), "`api`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x``"), "``` `x`` ```");
        assert_eq!(code("line\nbreak"), "`line⏎break`");
    }

    #[test]
    fn quote_cuts_long_text_and_cannot_be_closed_early() {
        assert_eq!(quote("/lock prod `x`", 80), "`/lock prod 'x'`");
        assert_eq!(quote("abcdef", 3), "`abc…`");
        assert_eq!(quote("a\r\nb", 80), "`a  b`");
    }

    #[test]
    fn html_escapes_entities_and_keeps_one_line() {
        assert_eq!(
            html("<b>\"x\"</b>\n\n@team"),
            "&lt;b&gt;&quot;x&quot;&lt;/b&gt;⏎⏎@\u{200D}team"
        );
    }
}

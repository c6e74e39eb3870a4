//! A build's log made fit to show: secrets replaced, and only its end.
//!
//! The source step authenticates git with the installation token, and a build step may print
//! its environment; any of the forms the token travels in is replaced before a log line leaves
//! slipway (a check run, a comment, a log line of its own).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// What a secret is replaced with.
pub const REDACTED: &str = "***";

/// `log` with every occurrence of each secret — as is, base64, and as the git script's
/// `x-access-token:<token>` Basic credential in base64 — replaced by `***`, keeping the last
/// `lines` lines.
pub fn redact_log(log: &str, secrets: &[&str], lines: usize) -> String {
    let redacted = redact_token_shapes(&redact(log, secrets));
    last_lines(&redacted, lines)
}

const TOKEN_PREFIXES: &[&str] = &["ghs_", "ghp_", "gho_", "ghu_", "ghr_", "github_pat_"];
/// `x-access-token:` in base64: the start of a Basic credential for a token.
const BASIC_TOKEN_PREFIX: &str = "eC1hY2Nlc3MtdG9rZW46";
const AUTH_SCHEMES: &[&str] = &["basic ", "bearer ", "token "];

/// `text` with anything shaped like a GitHub credential replaced by `***`, whether or not it
/// was named: the `gh?_` prefixes of installation, user, OAuth and refresh tokens,
/// fine-grained `github_pat_` tokens, a base64 `x-access-token:` credential, and whatever
/// follows `Authorization: Basic|Bearer|token`. A build may print a token slipway never saw
/// (one baked into a base image's git config, one in a build arg).
pub fn redact_token_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(len) = credential_at(rest) {
            out.push_str(REDACTED);
            rest = &rest[len..];
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// How many bytes at the start of `text` are a credential to replace, prefix included.
fn credential_at(text: &str) -> Option<usize> {
    for prefix in TOKEN_PREFIXES {
        if let Some(body) = text.strip_prefix(prefix) {
            let len = run_len(body, |c| c.is_ascii_alphanumeric() || c == '_');
            if len >= 20 {
                return Some(prefix.len() + len);
            }
        }
    }
    if let Some(body) = text.strip_prefix(BASIC_TOKEN_PREFIX) {
        return Some(BASIC_TOKEN_PREFIX.len() + run_len(body, is_base64));
    }
    let head = text.get(..16).unwrap_or(text).to_ascii_lowercase();
    for scheme in AUTH_SCHEMES {
        if head.starts_with(scheme) {
            let len = run_len(&text[scheme.len()..], |c| {
                is_base64(c) || matches!(c, '_' | '-' | '.')
            });
            if len >= 16 {
                return Some(scheme.len() + len);
            }
        }
    }
    None
}

fn run_len(text: &str, keep: impl Fn(char) -> bool) -> usize {
    text.char_indices()
        .find(|(_, c)| !keep(*c))
        .map_or(text.len(), |(i, _)| i)
}

fn is_base64(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')
}

/// `text` with every form of each secret replaced by `***`.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        for encoded in [
            STANDARD.encode(format!("x-access-token:{secret}")),
            STANDARD.encode(secret),
        ] {
            // Padded first; the bare form also catches it wrapped or cut before the padding.
            let bare = encoded.trim_end_matches('=').to_string();
            forms.push(encoded);
            forms.push(bare);
        }
        forms.push(secret.to_string());
    }
    // Longest first: a form that contains another is replaced whole.
    forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    forms.dedup();
    let mut text = text.to_string();
    for form in forms.iter().filter(|f| !f.is_empty()) {
        if text.contains(form.as_str()) {
            text = text.replace(form.as_str(), REDACTED);
        }
    }
    text
}

/// The last `lines` lines of `text`, with its final newline if it had one.
fn last_lines(text: &str, lines: usize) -> String {
    if lines == 0 {
        return String::new();
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    if body.is_empty() {
        return String::new();
    }
    let all: Vec<&str> = body.split('\n').collect();
    let kept = &all[all.len().saturating_sub(lines)..];
    let mut out = kept.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";

    #[test]
    fn the_token_is_replaced_in_every_form_the_git_script_uses() {
        let basic = STANDARD.encode(format!("x-access-token:{TOKEN}"));
        let log = format!(
            "+ git fetch https://x-access-token:{TOKEN}@github.com/acme/api.git\n\
             > Authorization: Basic {basic}\n\
             token in base64: {}\n\
             unpadded: {}\n",
            STANDARD.encode(TOKEN),
            basic.trim_end_matches('='),
        );
        let shown = redact_log(&log, &[TOKEN], 10);
        assert_eq!(
            shown,
            "+ git fetch https://x-access-token:***@github.com/acme/api.git\n\
             > Authorization: Basic ***\n\
             token in base64: ***\n\
             unpadded: ***\n"
        );
        assert!(!shown.contains(&TOKEN[4..]));
    }

    #[test]
    fn only_the_last_lines_are_kept() {
        let log: String = (1..=150).map(|n| format!("step {n}\n")).collect();
        let shown = redact_log(&log, &[TOKEN], 100);
        assert_eq!(shown.lines().count(), 100);
        assert!(shown.starts_with("step 51\n"));
        assert!(shown.ends_with("step 150\n"));
        assert_eq!(redact_log("a\nb", &[], 1), "b");
        assert_eq!(redact_log("a\nb\n", &[], 5), "a\nb\n");
        assert_eq!(redact_log("a\nb\n", &[], 0), "");
        assert_eq!(redact_log("", &[], 3), "");
    }

    #[test]
    fn token_shapes_go_even_when_the_token_was_never_named() {
        let other = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789";
        let log = format!(
            "using {other}\n\
             Authorization: bearer abcdefghijklmnopqrstuvwxyz\n\
             Authorization: Basic eC1hY2Nlc3MtdG9rZW46Z2hzXzE2QzdlNDJG\n\
             the ghs_ prefix alone is fine\n"
        );
        assert_eq!(
            redact_log(&log, &[], 10),
            "using ***\n\
             Authorization: ***\n\
             Authorization: ***\n\
             the ghs_ prefix alone is fine\n"
        );
    }

    #[test]
    fn empty_secrets_redact_nothing_and_several_secrets_all_go() {
        assert_eq!(redact_log("nothing secret\n", &[""], 5), "nothing secret\n");
        assert_eq!(
            redact_log("old ghs_old new ghs_new\n", &["ghs_old", "ghs_new"], 5),
            "old *** new ***\n"
        );
    }
}

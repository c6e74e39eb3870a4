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
    let redacted = redact_credential_fields(&redact_token_shapes(&redact(log, secrets)));
    last_lines(&redacted, lines)
}

/// The values of a registry Secret worth hiding: every value as stored, and inside a
/// `.dockerconfigjson` each registry's `auth` (and the user and password it decodes to),
/// `password`, `identitytoken` and `registrytoken`. Usernames shorter than four characters
/// (`AWS`) are left: replacing them would garble the log without hiding anything.
pub fn registry_secret_values(data: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut values = Vec::new();
    for (key, bytes) in data {
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        values.push(text.to_string());
        if key != ".dockerconfigjson" && key != ".dockercfg" {
            continue;
        }
        let Ok(config) = serde_json::from_str::<serde_json::Value>(text) else {
            continue;
        };
        // `.dockerconfigjson` nests registries under `auths`; the legacy `.dockercfg` does not.
        let registries = config
            .get("auths")
            .and_then(|a| a.as_object())
            .or_else(|| config.as_object());
        for entry in registries.into_iter().flat_map(|r| r.values()) {
            for field in CREDENTIAL_FIELDS {
                if let Some(value) = entry.get(field).and_then(|v| v.as_str()) {
                    values.push(value.to_string());
                }
            }
            if let Some(username) = entry.get("username").and_then(|v| v.as_str()) {
                if username.len() >= 4 {
                    values.push(username.to_string());
                }
            }
            let decoded = entry
                .get("auth")
                .and_then(|v| v.as_str())
                .and_then(|auth| STANDARD.decode(auth).ok())
                .and_then(|bytes| String::from_utf8(bytes).ok());
            if let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                values.push(password.to_string());
                if user.len() >= 4 {
                    values.push(user.to_string());
                }
            }
        }
    }
    values.retain(|v| !v.is_empty());
    values
}

/// The JSON fields a docker config keeps credentials in; a log that prints one (`cat
/// ~/.docker/config.json` in a `RUN` step) shows `***` for its value, whichever registry.
const CREDENTIAL_FIELDS: &[&str] = &["auth", "password", "identitytoken", "registrytoken"];

/// `text` with the value of every `"auth": "…"` (and `password`, `identitytoken`,
/// `registrytoken`) replaced by `***`, also when the quotes are escaped (`\"auth\":\"…\"`).
pub fn redact_credential_fields(text: &str) -> String {
    let keys: Vec<(&str, String)> = CREDENTIAL_FIELDS
        .iter()
        .flat_map(|field| ["\\\"", "\""].map(|quote| (quote, format!("{quote}{field}{quote}"))))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for (quote, key) in &keys {
            let quote = *quote;
            let Some(after_key) = rest.strip_prefix(key.as_str()) else {
                continue;
            };
            let after_colon = after_key.trim_start();
            let Some(after_colon) = after_colon.strip_prefix(':') else {
                continue;
            };
            let value_at = after_colon.trim_start();
            let Some(value) = value_at.strip_prefix(quote) else {
                continue;
            };
            let end = value.find(quote).unwrap_or(value.len());
            if end == 0 {
                continue;
            }
            let kept = rest.len() - value.len();
            out.push_str(&rest[..kept]);
            out.push_str(REDACTED);
            rest = &value[end..];
            continue 'scan;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
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
    fn registry_credentials_go_as_stored_decoded_and_in_any_auth_field() {
        let auth = STANDARD.encode("robot$team:s3cr3t-Passw0rd");
        let config = format!(
            r#"{{"auths":{{"registry.example.com":{{"auth":"{auth}","identitytoken":"idt-0123456789"}}}}}}"#
        );
        let values = registry_secret_values(&[(
            ".dockerconfigjson".to_string(),
            config.clone().into_bytes(),
        )]);
        for wanted in [
            config.as_str(),
            auth.as_str(),
            "s3cr3t-Passw0rd",
            "robot$team",
            "idt-0123456789",
        ] {
            assert!(values.iter().any(|v| v == wanted), "{wanted} in {values:?}");
        }
        let secrets: Vec<&str> = values.iter().map(String::as_str).collect();
        let log = format!(
            "RUN cat /kaniko/.docker/config.json\n{config}\nuser robot$team pass s3cr3t-Passw0rd\n\
             {{\"auths\": {{\"other.example.com\": {{\"auth\" : \"b3RoZXI6cGFzcw==\"}}}}}}\n\
             escaped: {{\\\"password\\\":\\\"hunter22\\\"}}\n"
        );
        let shown = redact_log(&log, &secrets, 10);
        for leaked in [
            "s3cr3t",
            "robot$team",
            "b3RoZXI6cGFzcw",
            "hunter22",
            auth.as_str(),
            "idt-0123",
        ] {
            assert!(!shown.contains(leaked), "{leaked} leaked: {shown}");
        }
        assert!(shown.contains(r#""auth" : "***""#), "{shown}");
        assert!(shown.contains("user *** pass ***"), "{shown}");
    }

    #[test]
    fn a_short_username_stays_and_an_empty_auth_is_left_alone() {
        let auth = STANDARD.encode("AWS:eyJwYXlsb2FkIjoiLi4uIn0");
        let config = format!(r#"{{"auths":{{"1234.dkr.ecr":{{"auth":"{auth}"}}}}}}"#);
        let values =
            registry_secret_values(&[(".dockerconfigjson".to_string(), config.into_bytes())]);
        assert!(!values.iter().any(|v| v == "AWS"));
        assert!(values.iter().any(|v| v == "eyJwYXlsb2FkIjoiLi4uIn0"));
        assert_eq!(
            redact_credential_fields(r#"{"auth": ""}"#),
            r#"{"auth": ""}"#
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

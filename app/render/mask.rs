//! Secret values out of render errors.
//!
//! An error message travels further than any rendered object: to the terminal, the pull
//! request's failure note, the check run's annotation, the logs. Objects are redacted before
//! anything shows them (`crate::diff::redact`); error messages are masked here, at the point
//! they are made, so every later path carries the masked text only.
//!
//! - kustomize quotes what it could not read: `invalid literal source hunter2, expected
//!   key=value`, an env file's line with invalid bytes. Those quotes become `<redacted>`, and
//!   so does any other appearance of a value the tree's `secretGenerator`s or Secrets hold.
//! - A YAML error inside a `kind: Secret` document quotes nothing of that document.
//!
//! What is masked is replaced by [`REDACTED`]; file names, lines, columns and keys stay, so
//! the message still says where to look.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_yaml_ng::Value as Yaml;

use super::kustomize::KUSTOMIZATION_FILES;
use super::limits::RenderLimits;
use super::source::{EntryKind, TreeSource};
use super::yaml::parse_stream_within;

/// What a masked value shows as.
pub const REDACTED: &str = "<redacted>";

/// Values shorter than this are not searched for in messages: masking every `on` or `1`
/// would garble the message and protect nothing a guess would not find.
const MIN_VALUE_LEN: usize = 4;

/// kustomize's error output with generator literals, env-file lines and every value of the
/// tree's secret generators and Secrets masked.
pub(crate) fn kustomize_message(stderr: &str, source: &dyn TreeSource) -> String {
    let shaped = mask_generator_quotes(stderr);
    mask_values(&shaped, &secret_values(source))
}

/// A YAML error message about `line` (1-based) of `text`: when that line lies in a document
/// that declares `kind: Secret`, anything the message quotes is masked, and so is every value
/// written in that document.
pub(crate) fn yaml_message(text: &str, line: usize, message: &str) -> String {
    let Some(document) = document_at(text, line) else {
        return message.to_string();
    };
    if !document.iter().any(|l| declares_secret(l)) {
        return message.to_string();
    }
    let mut values = BTreeSet::new();
    for l in &document {
        line_values(l, &mut values);
    }
    mask_values(&mask_quoted(message), &values)
}

/// The quotes kustomize's key/value loader puts in its errors.
fn mask_generator_quotes(text: &str) -> String {
    let text = mask_between(text, "invalid literal source ", ", expected key=value");
    let text = mask_between(&text, "literal sources [", "]");
    let text = mask_between(&text, "] has invalid utf8 bytes : ", "\n");
    mask_between(&text, ": line [", "] has invalid utf8 bytes")
}

/// Every `start…end` in `text` with what lies between masked; an `end` of `"\n"` also
/// matches the end of the text.
fn mask_between(text: &str, start: &str, end: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(start) {
        let (before, after) = rest.split_at(at + start.len());
        out.push_str(before);
        let stop = match after.find(end) {
            Some(stop) => stop,
            None if end == "\n" => after.len(),
            None => {
                out.push_str(after);
                return out;
            }
        };
        out.push_str(REDACTED);
        rest = &after[stop..];
    }
    out.push_str(rest);
    out
}

/// Text in backticks or double quotes masked: how slipway's YAML reader and its parser quote
/// what they found.
fn mask_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    loop {
        let Some(open) = rest.find(['`', '"']) else {
            out.push_str(rest);
            return out;
        };
        let quote = &rest[open..=open];
        let after = &rest[open + 1..];
        let Some(close) = after.find(quote) else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..open]);
        out.push_str(quote);
        out.push_str(REDACTED);
        out.push_str(quote);
        rest = &after[close + 1..];
    }
}

/// `text` with every value (longest first, so a value containing another goes whole) masked.
fn mask_values(text: &str, values: &BTreeSet<String>) -> String {
    let mut ordered: Vec<&String> = values
        .iter()
        .filter(|v| v.chars().count() >= MIN_VALUE_LEN && v.as_str() != REDACTED)
        .collect();
    ordered.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut text = text.to_string();
    for value in ordered {
        if text.contains(value.as_str()) {
            text = text.replace(value.as_str(), REDACTED);
        }
    }
    text
}

/// The lines of the YAML document `line` (1-based) is in, split at `---` lines.
fn document_at(text: &str, line: usize) -> Option<Vec<&str>> {
    let lines: Vec<&str> = text.lines().collect();
    let index = line.checked_sub(1)?.min(lines.len().checked_sub(1)?);
    let is_start = |l: &str| l == "---" || l.starts_with("--- ") || l.starts_with("---\t");
    let start = (0..=index).rev().find(|&i| is_start(lines[i])).unwrap_or(0);
    let end = (index + 1..lines.len())
        .find(|&i| is_start(lines[i]))
        .unwrap_or(lines.len());
    Some(lines[start..end].to_vec())
}

/// `kind: Secret` in YAML (at any depth, in a list item too) or JSON.
fn declares_secret(line: &str) -> bool {
    let line = line.split(" #").next().unwrap_or(line);
    let compact: String = line
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '"' | '\''))
        .collect();
    compact
        .split([',', '{', '}', '[', ']'])
        .any(|token| token.trim_start_matches('-') == "kind:Secret")
}

/// What one YAML line may hold as a value: the line itself, what follows its key or list
/// dash (with and without quotes), and each word of that (a tag or anchor may precede the
/// value). A Secret's `kind` and `apiVersion` hold no secret and stay readable.
fn line_values(line: &str, out: &mut BTreeSet<String>) {
    let trimmed = line.trim();
    out.insert(trimmed.to_string());
    let item = trimmed.trim_start_matches("- ").trim();
    let mut pieces = vec![item];
    if let Some((key, value)) = item.split_once(':') {
        if matches!(key.trim_matches(['"', '\'', ' ']), "kind" | "apiVersion") {
            return;
        }
        pieces.push(value.trim());
    }
    for piece in pieces {
        let unquoted = piece
            .trim_matches(|c| c == '"' || c == '\'' || c == ',')
            .trim();
        out.insert(piece.to_string());
        out.insert(unquoted.to_string());
        out.extend(
            unquoted
                .split_whitespace()
                .filter(|word| !word.starts_with(['!', '&', '*', '#', '|', '>']))
                .map(str::to_string),
        );
    }
}

/// Every value the tree's secret generators and Secrets hold, as text: generator literals
/// (whole and their values), the lines and values of env files, the contents of files, and
/// the `data` (encoded and decoded) and `stringData` values of Secrets in YAML files.
fn secret_values(source: &dyn TreeSource) -> BTreeSet<String> {
    let mut values = BTreeSet::new();
    let Ok(entries) = source.list("") else {
        return values;
    };
    for entry in entries {
        if !matches!(entry.kind, EntryKind::File) {
            continue;
        }
        let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
        let Some(text) = read_text(source, &entry.path) else {
            continue;
        };
        if KUSTOMIZATION_FILES.contains(&name) {
            let dir = entry.path.rsplit_once('/').map_or("", |(dir, _)| dir);
            generator_values(source, dir, &text, &mut values);
        }
        if super::plain::is_manifest(&entry.path) {
            manifest_secret_values(&text, &mut values);
        }
    }
    values
}

fn read_text(source: &dyn TreeSource, path: &str) -> Option<String> {
    let bytes = source.read_file(path).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn generator_values(
    source: &dyn TreeSource,
    dir: &str,
    kustomization: &str,
    out: &mut BTreeSet<String>,
) {
    let Ok(parsed) = serde_yaml_ng::from_str::<Yaml>(kustomization) else {
        return;
    };
    let Some(generators) = parsed.get("secretGenerator").and_then(Yaml::as_sequence) else {
        return;
    };
    let strings = |generator: &Yaml, field: &str| -> Vec<String> {
        match generator.get(field) {
            Some(Yaml::Sequence(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            Some(Yaml::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        }
    };
    let file_in_dir = |path: &str| {
        let joined = if dir.is_empty() {
            path.to_string()
        } else {
            format!("{dir}/{path}")
        };
        super::paths::normalize(&joined).and_then(|p| read_text(source, &p))
    };
    for generator in generators {
        for literal in strings(generator, "literals") {
            key_value(&literal, out);
        }
        for env in [strings(generator, "envs"), strings(generator, "env")].concat() {
            if let Some(text) = file_in_dir(&env) {
                for line in text.lines() {
                    key_value(line.trim(), out);
                }
            }
        }
        for file in strings(generator, "files") {
            let path = file.split_once('=').map_or(file.as_str(), |(_, p)| p);
            if let Some(text) = file_in_dir(path) {
                out.insert(text.trim().to_string());
                out.extend(text.lines().map(|l| l.trim().to_string()));
            }
        }
    }
}

/// `KEY=value`: the whole of it and the value.
fn key_value(text: &str, out: &mut BTreeSet<String>) {
    out.insert(text.to_string());
    if let Some((_, value)) = text.split_once('=') {
        out.insert(value.to_string());
        out.insert(value.trim_matches(|c| c == '"' || c == '\'').to_string());
    }
}

fn manifest_secret_values(text: &str, out: &mut BTreeSet<String>) {
    let Ok(documents) = parse_stream_within(text, &RenderLimits::default()) else {
        return;
    };
    for document in documents {
        let items = match document.value.get("items").and_then(|i| i.as_array()) {
            Some(items) => items.clone(),
            None => vec![document.value],
        };
        for object in items.iter().filter(|o| o["kind"] == "Secret") {
            for field in ["data", "stringData"] {
                let Some(map) = object.get(field).and_then(|m| m.as_object()) else {
                    continue;
                };
                for value in map.values().filter_map(|v| v.as_str()) {
                    out.insert(value.to_string());
                    let compact: String =
                        value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                    if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(compact) {
                        let decoded = String::from_utf8_lossy(&decoded);
                        out.insert(decoded.trim().to_string());
                        out.extend(decoded.lines().map(|l| l.trim().to_string()));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_without_equals_sign_is_masked_where_kustomize_quotes_it() {
        let message = "loading KV pairs: literal sources [hunter2-NOEQUALS]: invalid literal source hunter2-NOEQUALS, expected key=value";
        assert_eq!(
            mask_generator_quotes(message),
            "loading KV pairs: literal sources [<redacted>]: invalid literal source <redacted>, expected key=value"
        );
    }

    #[test]
    fn an_env_file_line_with_invalid_bytes_is_masked() {
        let message = "loading KV pairs: env source files: [x.env]: line [255 254 77] has invalid utf8 bytes : \u{fffd}\u{fffd}M=1\nnext";
        assert_eq!(
            mask_generator_quotes(message),
            "loading KV pairs: env source files: [x.env]: line [<redacted>] has invalid utf8 bytes : <redacted>\nnext"
        );
    }

    #[test]
    fn quoted_text_is_masked_and_the_rest_kept() {
        assert_eq!(
            mask_quoted("`hunter2` is not a valid !!int"),
            "`<redacted>` is not a valid !!int"
        );
        assert_eq!(
            mask_quoted("unexpected Scalar(\"x\") here"),
            "unexpected Scalar(\"<redacted>\") here"
        );
        assert_eq!(mask_quoted("no quotes `at all"), "no quotes `at all");
    }

    #[test]
    fn only_errors_inside_a_secret_document_are_masked() {
        let text = "kind: ConfigMap\ndata:\n  a: !!int plainly\n---\nkind: Secret\nstringData:\n  password: !!int hunter2-value\n";
        assert_eq!(
            yaml_message(text, 3, "`plainly` is not a valid !!int"),
            "`plainly` is not a valid !!int"
        );
        assert_eq!(
            yaml_message(text, 7, "`hunter2-value` is not a valid !!int"),
            "`<redacted>` is not a valid !!int"
        );
        assert_eq!(
            yaml_message(text, 7, "bad: hunter2-value here"),
            "bad: <redacted> here"
        );
    }

    #[test]
    fn secrets_are_recognised_in_yaml_lists_and_json() {
        assert!(declares_secret("kind: Secret"));
        assert!(declares_secret("  - kind: \"Secret\"  # db"));
        assert!(declares_secret("  \"kind\": \"Secret\","));
        assert!(declares_secret(
            "{\"apiVersion\": \"v1\", \"kind\": \"Secret\"}"
        ));
        assert!(declares_secret(
            "{\"kind\": \"Secret\", \"apiVersion\": \"v1\"}"
        ));
        assert!(!declares_secret("kind: SecretStore"));
        assert!(!declares_secret("kind: ConfigMap"));
    }
}

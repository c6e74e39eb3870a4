//! Objects → YAML text that `kubectl` reads back as the very same values.
//!
//! General YAML serialisers follow YAML 1.2 and leave strings like `yes`, `on` or `1_000`
//! unquoted; `kubectl` (YAML 1.1) would read them back as a boolean or a number. Here a string
//! is written plain only when neither reading could take it for anything but that string.

use std::fmt::Write;

use serde_json::Value;

use super::yaml::resolves_to_string;

/// One object as a YAML document (block style, keys in order, no leading `---`).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => sequence(&mut out, items, 0),
        scalar => {
            out.push_str(&inline(scalar, 0));
            out.push('\n');
        }
    }
    out
}

fn mapping(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            push_indent(out, indent);
        }
        out.push_str(&string(key, None));
        out.push(':');
        match value {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                push_indent(out, indent + 2);
                mapping(out, m, indent + 2);
            }
            Value::Array(items) if !items.is_empty() => {
                // Kubernetes style: list items at the key's indentation.
                out.push('\n');
                push_indent(out, indent);
                sequence(out, items, indent);
            }
            scalar => {
                out.push(' ');
                out.push_str(&inline(scalar, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn sequence(out: &mut String, items: &[Value], indent: usize) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            push_indent(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => mapping(out, m, indent + 2),
            Value::Array(inner) if !inner.is_empty() => sequence(out, inner, indent + 2),
            scalar => {
                out.push_str(&inline(scalar, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A scalar or an empty collection on the current line; block scalars continue below it,
/// indented by `indent`.
fn inline(value: &Value, indent: usize) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s, Some(indent)),
        Value::Array(_) => "[]".to_string(),
        Value::Object(_) => "{}".to_string(),
    }
}

/// A string plain when that is unambiguous, as a literal block (values only, indented by
/// `block_indent`) when it spans lines, else quoted.
fn string(s: &str, block_indent: Option<usize>) -> String {
    if is_plain_safe(s) {
        return s.to_string();
    }
    if let Some(block) = block_indent.and_then(|indent| literal_block(s, indent)) {
        return block;
    }
    if !s.chars().any(|c| c.is_control()) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double_quoted(s)
}

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let allowed = |c: char| c.is_alphanumeric() || " _./=+@%()$^~-:;<>?,".contains(c);
    (first.is_alphanumeric() || "_/(".contains(first))
        && !s.ends_with([' ', ':'])
        && s.chars().all(allowed)
        && !s.contains(": ")
        && !s.contains(" #")
        && !looks_like_timestamp(s)
        && resolves_to_string(s)
}

/// `2024-01-02` and longer timestamps: some readers turn them into dates.
fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// `|`, `|-` or `|+` followed by the lines, when the string can be written that way exactly.
fn literal_block(s: &str, indent: usize) -> Option<String> {
    if !s.contains('\n')
        || s.chars().any(|c| c.is_control() && c != '\n')
        || s.starts_with([' ', '\n'])
    {
        return None;
    }
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|{chomp}");
    let pad = " ".repeat(indent.max(2));
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    for _ in 1..trailing {
        out.push('\n');
    }
    Some(out)
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::super::yaml::parse_stream;
    use super::*;
    use serde_json::json;

    fn round_trip(value: Value) {
        let text = to_yaml(&value);
        let docs = parse_stream(&text).unwrap_or_else(|e| panic!("{e:?} in\n{text}"));
        assert_eq!(docs[0].value, value, "through\n{text}");
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        let strings = [
            "yes",
            "on",
            "y",
            "N",
            "off",
            "true",
            "null",
            "~",
            "0644",
            "1_000",
            "0x1F",
            "1e3",
            "1.5",
            ".inf",
            "2024-01-02",
            "<<",
            "-",
            "- a",
            "a: b",
            "a #b",
            "",
            " lead",
            "trail ",
            "it's",
            "@at",
            "*star",
            "&amp",
            "!bang",
            "{x}",
            "[x]",
            "%p",
            "|",
            ">",
            "'q'",
            "\"q\"",
            "a:",
            "#x",
            "?",
            "..",
            "\t",
            "tab\there",
            "bell\u{7}",
        ];
        for s in strings {
            round_trip(json!({ "k": s }));
        }
    }

    #[test]
    fn ordinary_strings_stay_plain() {
        let text = to_yaml(&json!({
            "image": "registry.example.com/team/api:v1.2.3",
            "url": "https://example.com/x?y=1",
            "cmd": "run the thing",
            "version": "1.2.3",
            "ratio": "50%",
        }));
        assert_eq!(
            text,
            "cmd: run the thing\nimage: registry.example.com/team/api:v1.2.3\nratio: 50%\nurl: https://example.com/x?y=1\nversion: 1.2.3\n"
        );
    }

    #[test]
    fn nested_objects_use_kubernetes_block_style() {
        let value = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api", "labels": {}},
            "spec": {"template": {"spec": {"containers": [
                {"name": "api", "ports": [{"containerPort": 8080}], "args": ["a", "b"], "env": []}
            ]}}},
        });
        let text = to_yaml(&value);
        assert_eq!(
            text,
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  labels: {}\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n      - args:\n        - a\n        - b\n        env: []\n        name: api\n        ports:\n        - containerPort: 8080\n"
        );
        round_trip(value);
    }

    #[test]
    fn multi_line_strings_become_literal_blocks() {
        let value = json!({"data": {"app.conf": "a = 1\n\nb = 2\n", "raw": "no newline\nat end", "many": "x\n\n\n"}});
        let text = to_yaml(&value);
        assert!(
            text.contains("app.conf: |\n    a = 1\n\n    b = 2\n"),
            "{text}"
        );
        round_trip(value);
    }

    #[test]
    fn numbers_booleans_nulls_and_nested_lists_round_trip() {
        round_trip(
            json!({"a": 1, "b": -2.5, "c": true, "d": null, "e": [[1, 2], [], [{"x": "y"}]], "f": {}}),
        );
        round_trip(json!({"leading space": "  indented\nblock\n"}));
    }
}

//! YAML streams → JSON values the way Kubernetes reads them, with file positions.
//!
//! `kubectl` and the API machinery read manifests with YAML 1.1 rules (go-yaml v2 behind
//! `sigs.k8s.io/yaml`): an unquoted `0644` is the octal number 420, `yes`/`on` are `true`,
//! `1_000` is 1000. A YAML 1.2 reader would keep `0644` as a string and render a manifest
//! different from the one the cluster gets, so manifests are read from parser events here
//! and plain scalars are resolved with those rules; quoted and block scalars stay strings.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};
use serde_json::{Map, Number, Value};

use super::limits::RenderLimits;

/// One parsed document of a YAML stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    /// 1-based line in the file where the document's content begins.
    pub line: usize,
    pub value: Value,
}

/// A syntax or conversion error inside a file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// A bound of [`RenderLimits`] was reached: the text may well be valid.
    pub limit: bool,
}

impl YamlError {
    fn at(span: &Span, message: impl Into<String>) -> Self {
        YamlError {
            line: span.start.line(),
            column: span.start.col() + 1,
            message: message.into(),
            limit: false,
        }
    }

    fn limit(span: &Span, message: String) -> Self {
        YamlError {
            limit: true,
            ..YamlError::at(span, message)
        }
    }
}

impl From<ScanError> for YamlError {
    fn from(err: ScanError) -> Self {
        YamlError {
            line: err.marker().line(),
            column: err.marker().col() + 1,
            message: err.info().to_string(),
            limit: false,
        }
    }
}

/// Parses every document of a YAML (or JSON) stream, skipping empty ones, within the
/// default limits.
#[cfg(test)]
pub(crate) fn parse_stream(text: &str) -> Result<Vec<Document>, YamlError> {
    parse_stream_within(text, &RenderLimits::default())
}

/// Parses every document of a YAML (or JSON) stream, skipping empty ones. Nesting, alias
/// expansion and the number of documents are bounded by `limits`.
pub(crate) fn parse_stream_within(
    text: &str,
    limits: &RenderLimits,
) -> Result<Vec<Document>, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut loader = Loader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        alias_nodes: 0,
        last: Span::default(),
        max_depth: limits.max_depth,
        max_alias_values: limits.max_alias_values,
    };
    let mut docs = Vec::new();
    loop {
        let (event, span) = loader.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => return Ok(docs),
            Event::DocumentStart(_) => {
                loader.anchors.clear();
                let (event, span) = loader.next()?;
                if matches!(event, Event::DocumentEnd) {
                    continue; // `---` with nothing after it
                }
                let line = span.start.line();
                let value = loader.node(event, span, 0)?;
                if !value.is_null() {
                    if docs.len() >= limits.max_documents {
                        return Err(YamlError::limit(
                            &span,
                            format!(
                                "more than {} documents, the limit of one render",
                                limits.max_documents
                            ),
                        ));
                    }
                    docs.push(Document { line, value });
                }
            }
            other => {
                return Err(YamlError::at(
                    &span,
                    format!("unexpected {other:?} outside a document"),
                ))
            }
        }
    }
}

struct Loader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, (Value, usize)>,
    alias_nodes: usize,
    last: Span,
    max_depth: usize,
    max_alias_values: usize,
}

impl<'a> Loader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => {
                self.last = span;
                Ok((event, span))
            }
            Some(Err(err)) => Err(err.into()),
            None => Err(YamlError::at(&self.last, "unexpected end of the stream")),
        }
    }

    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<Value, YamlError> {
        if depth >= self.max_depth {
            return Err(YamlError::limit(
                &span,
                format!(
                    "nested more than {} levels deep, the limit of one document",
                    self.max_depth
                ),
            ));
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(&text, style, tag.as_deref(), &span)?;
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::Alias(id) => {
                let (value, size) = self
                    .anchors
                    .get(&id)
                    .ok_or_else(|| YamlError::at(&span, "alias to an unknown anchor"))?;
                // Counted before copying: the copy itself is what a "billion laughs"
                // document uses to exhaust memory.
                self.alias_nodes = self.alias_nodes.saturating_add(*size);
                if self.alias_nodes > self.max_alias_values {
                    return Err(YamlError::limit(
                        &span,
                        format!(
                            "aliases expand to more than {} values, the limit of one file",
                            self.max_alias_values
                        ),
                    ));
                }
                Ok(value.clone())
            }
            Event::SequenceStart(anchor, _tag) => {
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span, depth + 1)?);
                }
                let value = Value::Array(items);
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::MappingStart(anchor, _tag) => {
                let value = Value::Object(self.mapping(depth)?);
                self.remember(anchor, &value);
                Ok(value)
            }
            other => Err(YamlError::at(&span, format!("unexpected {other:?}"))),
        }
    }

    /// The entries of a mapping whose start event was just read. Merge keys (`<<: *base` or
    /// `<<: [*a, *b]`) add the entries the mapping does not set itself; earlier merged
    /// mappings win over later ones.
    fn mapping(&mut self, depth: usize) -> Result<Map<String, Value>, YamlError> {
        let mut map = Map::new();
        let mut merged: Vec<Map<String, Value>> = Vec::new();
        loop {
            let (event, key_span) = self.next()?;
            if matches!(event, Event::MappingEnd) {
                break;
            }
            let is_merge =
                matches!(&event, Event::Scalar(t, ScalarStyle::Plain, _, None) if t == "<<");
            let key = self.node(event, key_span, depth + 1)?;
            let (event, value_span) = self.next()?;
            let value = self.node(event, value_span, depth + 1)?;
            if is_merge {
                match value {
                    Value::Object(m) => merged.push(m),
                    Value::Array(items) => {
                        for item in items {
                            match item {
                                Value::Object(m) => merged.push(m),
                                _ => {
                                    return Err(YamlError::at(
                                        &value_span,
                                        "a merge key (`<<`) takes a mapping or a list of mappings",
                                    ))
                                }
                            }
                        }
                    }
                    _ => {
                        return Err(YamlError::at(
                            &value_span,
                            "a merge key (`<<`) takes a mapping or a list of mappings",
                        ))
                    }
                }
                continue;
            }
            let key = key_string(key).map_err(|m| YamlError::at(&key_span, m))?;
            if map.contains_key(&key) {
                return Err(YamlError::at(
                    &key_span,
                    format!("duplicate key `{key}` in this mapping"),
                ));
            }
            map.insert(key, value);
        }
        for source in merged {
            for (key, value) in source {
                map.entry(key).or_insert(value);
            }
        }
        Ok(map)
    }

    fn remember(&mut self, anchor: usize, value: &Value) {
        if anchor > 0 {
            self.anchors.insert(anchor, (value.clone(), size(value)));
        }
    }
}

fn size(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(size).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(size).sum::<usize>(),
        _ => 1,
    }
}

/// Mapping keys become JSON strings the way `sigs.k8s.io/yaml` writes them.
fn key_string(key: Value) -> Result<String, String> {
    match key {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok("null".to_string()),
        Value::Array(_) | Value::Object(_) => {
            Err("a list or mapping as a mapping key is not supported".to_string())
        }
    }
}

/// Resolves one scalar: quoted and block scalars are strings, core-schema tags are obeyed,
/// plain scalars follow YAML 1.1 as Kubernetes reads it.
fn scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    span: &Span,
) -> Result<Value, YamlError> {
    if let Some(tag) = tag.filter(|t| t.is_yaml_core_schema()) {
        let wrong = |kind: &str| YamlError::at(span, format!("`{text}` is not a valid !!{kind}"));
        return match tag.suffix.as_str() {
            "str" | "binary" | "timestamp" => Ok(Value::String(text.to_string())),
            "null" => Ok(Value::Null),
            "bool" => bool_of(text).map(Value::Bool).ok_or_else(|| wrong("bool")),
            "int" => int_of(text).ok_or_else(|| wrong("int")),
            "float" => match int_of(text).or_else(|| float_of(text)) {
                Some(v) => number_to_json(v, span),
                None => Err(wrong("float")),
            },
            _ => Ok(Value::String(text.to_string())),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Ok(Value::Null);
    }
    if let Some(b) = bool_of(text) {
        return Ok(Value::Bool(b));
    }
    if let Some(v) = int_of(text).or_else(|| float_of(text)) {
        return number_to_json(v, span);
    }
    Ok(Value::String(text.to_string()))
}

/// Whether a plain scalar with this text reads as a string (not null, a boolean or a number),
/// under these rules and under YAML 1.2's core schema alike.
pub(crate) fn resolves_to_string(text: &str) -> bool {
    !matches!(text, "" | "~" | "null" | "Null" | "NULL" | "<<")
        && bool_of(text).is_none()
        && int_of(text).is_none()
        && float_of(text).is_none()
}

/// YAML 1.1 booleans as go-yaml v2 knows them.
fn bool_of(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

/// Integers as go-yaml v2 reads them: underscores ignored, an optional sign, then `0x` hex,
/// `0o` or a leading `0` octal, `0b` binary, or decimal.
fn int_of(text: &str) -> Option<Value> {
    let plain: String = text.chars().filter(|c| *c != '_').collect();
    let (negative, digits) = match plain.as_bytes().first()? {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, plain.as_str()),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(body, radix).ok()?;
    if negative {
        let value = i64::try_from(magnitude)
            .ok()
            .map(|m| -m)
            .or_else(|| (magnitude == 1 << 63).then_some(i64::MIN))?;
        Some(Value::Number(value.into()))
    } else {
        Some(Value::Number(magnitude.into()))
    }
}

/// Floats: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, and `.inf`/`.nan` forms.
fn float_of(text: &str) -> Option<Value> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(Value::String(f64::INFINITY.to_string()))
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(Value::String(f64::NEG_INFINITY.to_string())),
        ".nan" | ".NaN" | ".NAN" => return Some(Value::String(f64::NAN.to_string())),
        _ => {}
    }
    let plain: String = text.chars().filter(|c| *c != '_').collect();
    let body = plain.strip_prefix(['-', '+']).unwrap_or(&plain);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()),
        Some((int, frac)) => {
            int.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    if !(mantissa_ok && exponent_ok) {
        return None;
    }
    let f: f64 = plain.parse().ok()?;
    Some(match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None => Value::String(f.to_string()),
    })
}

/// Numbers go to JSON as Go's encoder writes them: integral floats without a fraction.
/// Infinity and NaN have no JSON form and are refused, as `kubectl` refuses them.
fn number_to_json(value: Value, span: &Span) -> Result<Value, YamlError> {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 =>
            {
                #[allow(clippy::cast_possible_truncation)]
                Ok(Value::Number((f as i64).into()))
            }
            _ => Ok(Value::Number(n)),
        },
        Value::String(s) => Err(YamlError::at(
            span,
            format!("{s} cannot be represented in JSON"),
        )),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        let docs = parse_stream(text).unwrap();
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.into_iter().next().unwrap().value
    }

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
    fn anchors_aliases_and_merge_keys() {
        let value = one("base: &b {a: 1, b: 1}\nobj:\n  <<: *b\n  b: 2\nlist: [*b]\n");
        assert_eq!(value["obj"], json!({"a": 1, "b": 2}));
        assert_eq!(value["list"], json!([{"a": 1, "b": 1}]));
    }

    #[test]
    fn plain_scalars_resolve_as_kubernetes_reads_them() {
        let value = one(concat!(
            "octal: 0644\nocto: 0o755\nhex: 0x1F\nbin: 0b101\nunderscored: 1_000\nneg: -12\n",
            "is_yes: yes\nis_on: on\nis_no: no\nfloat: 1.5\nexp: 1e3\nnull1: ~\nnull2:\n",
            "eight: 08\nversion: 1.2.3\ndate: 2024-01-02\nword: hello\n",
        ));
        assert_eq!(
            value,
            json!({
                "octal": 420, "octo": 493, "hex": 31, "bin": 5, "underscored": 1000, "neg": -12,
                "is_yes": true, "is_on": true, "is_no": false,
                "float": 1.5, "exp": 1000, "null1": null, "null2": null,
                "eight": 8, "version": "1.2.3", "date": "2024-01-02", "word": "hello",
            })
        );
    }

    #[test]
    fn scalar_keys_become_strings() {
        assert_eq!(
            one("1: a\nyes: b\n0x10: c\n"),
            json!({"1": "a", "true": "b", "16": "c"})
        );
        // As in `kubectl`, even the key `y` is the YAML 1.1 boolean `true`.
        let err = parse_stream("yes: a\ny: b\n").unwrap_err();
        assert_eq!(err.message, "duplicate key `true` in this mapping");
    }

    #[test]
    fn quoted_and_block_scalars_stay_strings() {
        let value = one("a: \"0644\"\nb: 'yes'\nc: |\n  0644\nd: !!str 12\ne: !!int \"7\"\n");
        assert_eq!(
            value,
            json!({"a": "0644", "b": "yes", "c": "0644\n", "d": "12", "e": 7})
        );
    }

    #[test]
    fn duplicate_keys_are_refused_at_the_second_one() {
        let err = parse_stream("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!((err.line, err.column), (3, 1));
        assert_eq!(err.message, "duplicate key `a` in this mapping");
    }

    #[test]
    fn infinity_has_no_json_form() {
        let err = parse_stream("a: .inf\n").unwrap_err();
        assert_eq!((err.line, err.column), (1, 4));
    }

    #[test]
    fn alias_bombs_are_stopped() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                [prev.as_str(); 10].join(", ")
            ));
        }
        let err = parse_stream(&text).unwrap_err();
        assert_eq!(
            err.message,
            "aliases expand to more than 1000000 values, the limit of one file"
        );
    }
}

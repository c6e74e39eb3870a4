//! YAML text → a generic YAML value, keeping going past duplicate keys.
//!
//! A duplicate key is a mistake to report, not a reason to stop reading: the rest of the
//! file is still checked. `serde_yaml_ng`'s own `Value` refuses a mapping with a duplicate
//! key (and names the mapping, not the key), so the value is built here with the first
//! occurrence of each key, and the duplicates are found, each at its own position, from the
//! parser's events.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, Span};
use serde::de::{self, Deserialize, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess};
use serde_yaml_ng::value::{Tag, TaggedValue};
use serde_yaml_ng::{Mapping, Value};

use super::error::Position;

/// Parses one YAML document; of a key written twice in a mapping, the first value is kept.
pub(crate) fn parse_value(text: &str) -> Result<Value, serde_yaml_ng::Error> {
    serde_yaml_ng::from_str::<FirstKeyWins>(text).map(|v| v.0)
}

/// A key written again in the same mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DuplicateKey {
    /// Where the repeated key is written.
    pub position: Position,
    /// Where it was written first.
    pub first: Position,
    pub key: String,
    /// The keys leading to the mapping that holds it (empty at the top level).
    pub parents: Vec<String>,
}

/// Every key written twice in a mapping of `text`, in file order. Merge keys (`<<`) may
/// repeat. Call it on text [`parse_value`] accepted: its nesting limit bounds the recursion
/// here. Text that does not parse yields what was found before the syntax error.
pub(crate) fn duplicate_keys(text: &str) -> Vec<DuplicateKey> {
    let mut scan = Scan {
        parser: Parser::new_from_str(text),
        found: Vec::new(),
    };
    // Only the first document counts: a second one is an error of its own.
    while let Some(Ok((event, _))) = scan.parser.next_event() {
        match event {
            Event::StreamStart | Event::DocumentStart(_) => {}
            Event::StreamEnd | Event::DocumentEnd => break,
            event => {
                scan.node(event, &mut Vec::new());
                break;
            }
        }
    }
    scan.found
}

struct Scan<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    found: Vec<DuplicateKey>,
}

impl<'a> Scan<'a> {
    fn next(&mut self) -> Option<(Event<'a>, Span)> {
        self.parser.next_event().and_then(Result::ok)
    }

    /// Walks the node that starts with `event`; `false` when the stream ended or broke.
    fn node(&mut self, event: Event<'a>, parents: &mut Vec<String>) -> bool {
        match event {
            Event::MappingStart(..) => self.mapping(parents),
            Event::SequenceStart(..) => loop {
                match self.next() {
                    Some((Event::SequenceEnd, _)) => return true,
                    Some((event, _)) => {
                        if !self.node(event, parents) {
                            return false;
                        }
                    }
                    None => return false,
                }
            },
            _ => true,
        }
    }

    fn mapping(&mut self, parents: &mut Vec<String>) -> bool {
        let mut seen: HashMap<String, Position> = HashMap::new();
        loop {
            let Some((key_event, key_span)) = self.next() else {
                return false;
            };
            let key = match &key_event {
                Event::MappingEnd => return true,
                Event::Scalar(text, ..) => Some(text.to_string()),
                _ => None,
            };
            if key.is_none() && !self.node(key_event, parents) {
                return false;
            }
            if let Some(key) = &key {
                let position = position_of(&key_span);
                if key != "<<" {
                    match seen.get(key) {
                        Some(first) => self.found.push(DuplicateKey {
                            position,
                            first: *first,
                            key: key.clone(),
                            parents: parents.clone(),
                        }),
                        None => {
                            seen.insert(key.clone(), position);
                        }
                    }
                }
            }
            let Some((value_event, _)) = self.next() else {
                return false;
            };
            parents.push(key.unwrap_or_default());
            let ok = self.node(value_event, parents);
            parents.pop();
            if !ok {
                return false;
            }
        }
    }
}

fn position_of(span: &Span) -> Position {
    Position {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

/// A YAML value whose mappings keep the first value of a repeated key.
struct FirstKeyWins(Value);

impl<'de> Deserialize<'de> for FirstKeyWins {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(FirstKeyWinsVisitor)
            .map(FirstKeyWins)
    }
}

struct FirstKeyWinsVisitor;

impl<'de> de::Visitor<'de> for FirstKeyWinsVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Number(i.into()))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Number(u.into()))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Number(f.into()))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        FirstKeyWins::deserialize(deserializer).map(|v| v.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(FirstKeyWins(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut mapping = Mapping::new();
        while let Some((FirstKeyWins(key), FirstKeyWins(value))) = map.next_entry()? {
            if !mapping.contains_key(&key) {
                mapping.insert(key, value);
            }
        }
        Ok(Value::Mapping(mapping))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, contents) = data.variant::<String>()?;
        let FirstKeyWins(value) = contents.newtype_variant()?;
        Ok(Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(tag),
            value,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_keeps_its_first_value() {
        let value = parse_value("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(value["a"], Value::Number(1.into()));
        assert_eq!(value["b"], Value::Number(2.into()));
    }

    #[test]
    fn duplicates_are_found_at_the_repeated_key_with_their_parents() {
        let text = "environments:\n  dev:\n    path: a\n    path: b\n  dev:\n    path: c\n";
        let found = duplicate_keys(text);
        assert_eq!(
            found,
            vec![
                DuplicateKey {
                    position: Position { line: 4, column: 5 },
                    first: Position { line: 3, column: 5 },
                    key: "path".into(),
                    parents: vec!["environments".into(), "dev".into()],
                },
                DuplicateKey {
                    position: Position { line: 5, column: 3 },
                    first: Position { line: 2, column: 3 },
                    key: "dev".into(),
                    parents: vec!["environments".into()],
                },
            ]
        );
    }

    #[test]
    fn merge_keys_and_keys_of_different_mappings_are_no_duplicates() {
        let text = "a: &x\n  k: 1\nb:\n  <<: *x\n  <<: *x\n  k: 2\nlist:\n  - k: 1\n  - k: 2\n";
        assert_eq!(duplicate_keys(text), vec![]);
    }

    #[test]
    fn nesting_past_the_parsers_limit_is_refused_before_any_scan() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_value(&deep).is_err());
    }

    #[test]
    fn tagged_values_stay_tagged() {
        let value = parse_value("a: !secret x\n").unwrap();
        assert!(matches!(value["a"], Value::Tagged(_)), "{value:?}");
    }
}

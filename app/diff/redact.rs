//! Secret redaction: no value of a core `Secret` survives past this point.
//!
//! Every value under `data` and `stringData` of a `kind: Secret` in the core API group
//! (`apiVersion: v1`) is replaced by a fingerprint `<secret sha256:XXXXXXXX>`: the first
//! 8 hex digits of the SHA-256 of the value. A reviewer sees that a key changed, never
//! what it holds.
//!
//! What is hashed:
//! - `stringData` values: the UTF-8 bytes of the string.
//! - `data` values: the **decoded** bytes when the value is valid base64 (so the same
//!   secret written under `data` or under `stringData` gets the same fingerprint), and the
//!   raw string bytes when it is not.
//! - anything that is not a string (a number, `null`, a nested object in a malformed
//!   manifest): the bytes of its JSON serialisation.
//!
//! Redaction runs on every object before it is compared, serialised or diffed, so no
//! output format (markdown, JSON, a check run) can carry a plaintext value. (In YAML the
//! fingerprint is quoted: `password: '<secret sha256:1a2b3c4d>'`.)

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Replace the values of a core `Secret`'s `data` and `stringData` by fingerprints.
/// Objects of any other kind are left as they are.
pub fn redact(object: &mut Value) {
    if !is_core_secret(object) {
        return;
    }
    let Some(map) = object.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(data)) = map.get_mut("data") {
        for value in data.values_mut() {
            *value = Value::String(fingerprint(&data_bytes(value)));
        }
    }
    if let Some(Value::Object(data)) = map.get_mut("stringData") {
        for value in data.values_mut() {
            *value = Value::String(fingerprint(&string_bytes(value)));
        }
    }
    // A malformed Secret whose `data` is not a mapping still must not leak.
    for field in ["data", "stringData"] {
        if let Some(value) = map.get_mut(field) {
            if !value.is_object() && !value.is_null() {
                *value = Value::String(fingerprint(&string_bytes(value)));
            }
        }
    }
}

/// Whether `object` is a `Secret` of the core API group (`apiVersion: v1`).
pub fn is_core_secret(object: &Value) -> bool {
    let kind = object.get("kind").and_then(Value::as_str);
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1");
    kind == Some("Secret") && !api_version.contains('/')
}

/// `<secret sha256:XXXXXXXX>`: the first 8 hex digits of the SHA-256 of `bytes`.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("<secret sha256:{}>", &hex::encode(digest)[..8])
}

fn data_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => decode_base64(text).unwrap_or_else(|| text.as_bytes().to_vec()),
        other => other.to_string().into_bytes(),
    }
}

fn string_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => text.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    }
}

/// Standard base64 (RFC 4648, with padding), as Kubernetes writes `data`; line breaks are
/// ignored, as the API server's decoder ignores them. `None` when `text` is not base64.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_standard_base64() {
        assert_eq!(decode_base64("aHVudGVyMg==").unwrap(), b"hunter2");
        assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert!(decode_base64("not base64!").is_none());
        assert!(decode_base64("YW=j").is_none());
    }

    #[test]
    fn data_and_string_data_of_the_same_value_share_a_fingerprint() {
        let mut secret = serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "data": {"password": "aHVudGVyMg=="},
            "stringData": {"password": "hunter2"},
        });
        redact(&mut secret);
        assert_eq!(secret["data"]["password"], secret["stringData"]["password"]);
        assert_eq!(secret["data"]["password"], fingerprint(b"hunter2"));
    }

    #[test]
    fn secrets_of_other_groups_are_not_core_secrets() {
        let object = serde_json::json!({"apiVersion": "example.com/v1", "kind": "Secret"});
        assert!(!is_core_secret(&object));
    }
}

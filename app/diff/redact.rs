//! Secret redaction: no value of a core `Secret` survives past this point.
//!
//! Every value under `data` and `stringData` of a `kind: Secret` in the core API group
//! (`apiVersion: v1`) is replaced by a fingerprint `<secret hmac:XXXXXXXX>`: the first 8 hex
//! digits of the HMAC-SHA-256 of the value under a [`FingerprintKey`]. A reviewer sees that a
//! key changed, never what it holds.
//!
//! Why keyed: a plain hash of the value (what slipway once showed) lets anyone who reads the
//! comment test guesses offline, and a weak password falls to the first dictionary. With a
//! key only slipway knows, a fingerprint says nothing about the value, yet stays the same for
//! the same value under the same key: base and head of one preview, every later preview of
//! the server (which keeps one key in its store), every run of the CLI on one machine.
//!
//! What is fingerprinted:
//! - `stringData` values: the UTF-8 bytes of the string.
//! - `data` values: the **decoded** bytes when the value is valid base64 (so the same
//!   secret written under `data` or under `stringData` gets the same fingerprint), and the
//!   raw string bytes when it is not.
//! - anything that is not a string (a number, `null`, a nested object in a malformed
//!   manifest): the bytes of its JSON serialisation.
//!
//! Redaction runs on every object before it is compared, serialised or diffed, so no
//! output format (markdown, JSON, a check run) can carry a plaintext value. (In YAML the
//! fingerprint is quoted: `password: '<secret hmac:1a2b3c4d>'`.)

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Bytes of a [`FingerprintKey`].
pub const KEY_LEN: usize = 32;

/// The key fingerprints are made with: 32 random bytes, written as 64 hex digits.
///
/// Its `Debug` form never shows the bytes, so logging a value that holds one leaks nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FingerprintKey([u8; KEY_LEN]);

/// A fingerprint key that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a fingerprint key is {KEY_LEN} bytes written as {} hex digits; got {found}", KEY_LEN * 2)]
pub struct KeyError {
    /// What was found instead, without echoing it (it may be a mistyped key).
    pub found: String,
}

impl FingerprintKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        FingerprintKey(rand::random())
    }

    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        FingerprintKey(bytes)
    }

    /// Reads 64 hex digits (surrounding whitespace ignored, as in a file ending in a newline).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let mut bytes = [0u8; KEY_LEN];
        match hex::decode_to_slice(text, &mut bytes) {
            Ok(()) => Ok(FingerprintKey(bytes)),
            Err(_) if text.len() != KEY_LEN * 2 => Err(KeyError {
                found: format!("{} characters", text.chars().count()),
            }),
            Err(_) => Err(KeyError {
                found: "characters that are not hex digits".to_string(),
            }),
        }
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// `<secret hmac:XXXXXXXX>`: the first 8 hex digits of the HMAC-SHA-256 of `bytes`.
    pub fn fingerprint(&self, bytes: &[u8]) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(bytes);
        let digest = mac.finalize().into_bytes();
        format!("<secret hmac:{}>", hex::encode(&digest[..4]))
    }
}

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey(..)")
    }
}

/// Replace the values of a core `Secret`'s `data` and `stringData` by fingerprints made with
/// `key`. Objects of any other kind are left as they are.
pub fn redact(object: &mut Value, key: &FingerprintKey) {
    if !is_core_secret(object) {
        return;
    }
    let Some(map) = object.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(data)) = map.get_mut("data") {
        for value in data.values_mut() {
            *value = Value::String(key.fingerprint(&data_bytes(value)));
        }
    }
    if let Some(Value::Object(data)) = map.get_mut("stringData") {
        for value in data.values_mut() {
            *value = Value::String(key.fingerprint(&string_bytes(value)));
        }
    }
    // A malformed Secret whose `data` is not a mapping still must not leak.
    for field in ["data", "stringData"] {
        if let Some(value) = map.get_mut(field) {
            if !value.is_object() && !value.is_null() {
                *value = Value::String(key.fingerprint(&string_bytes(value)));
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

    const KEY: FingerprintKey = FingerprintKey([7; KEY_LEN]);

    #[test]
    fn data_and_string_data_of_the_same_value_share_a_fingerprint() {
        let mut secret = serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "data": {"password": "aHVudGVyMg=="},
            "stringData": {"password": "hunter2"},
        });
        redact(&mut secret, &KEY);
        assert_eq!(secret["data"]["password"], secret["stringData"]["password"]);
        assert_eq!(secret["data"]["password"], KEY.fingerprint(b"hunter2"));
    }

    #[test]
    fn a_fingerprint_is_the_start_of_the_hmac_sha256_of_the_value() {
        // python3 -c "import hmac,hashlib; print(hmac.new(bytes([7]*32), b'hunter2', hashlib.sha256).hexdigest()[:8])"
        assert_eq!(KEY.fingerprint(b"hunter2"), "<secret hmac:326eb4f6>");
    }

    #[test]
    fn keys_read_and_write_as_64_hex_digits() {
        let key = FingerprintKey::generate();
        assert_eq!(
            FingerprintKey::from_hex(&format!("{}\n", key.to_hex())),
            Ok(key)
        );
        assert_ne!(key, FingerprintKey::generate());
        assert_eq!(
            FingerprintKey::from_hex("abc").unwrap_err().to_string(),
            "a fingerprint key is 32 bytes written as 64 hex digits; got 3 characters"
        );
        assert_eq!(
            FingerprintKey::from_hex(&"g".repeat(64)).unwrap_err().to_string(),
            "a fingerprint key is 32 bytes written as 64 hex digits; got characters that are not hex digits"
        );
        assert_eq!(format!("{key:?}"), "FingerprintKey(..)");
    }

    #[test]
    fn secrets_of_other_groups_are_not_core_secrets() {
        let object = serde_json::json!({"apiVersion": "example.com/v1", "kind": "Secret"});
        assert!(!is_core_secret(&object));
    }
}

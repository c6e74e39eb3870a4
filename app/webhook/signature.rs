//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, compared in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery's signature was refused. None of these reveal the expected value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is not of the form sha256=<64 hex digits>")]
    Malformed,
    #[error("the X-Hub-Signature-256 signature does not match the body")]
    Mismatch,
}

/// Checks `header` (the `X-Hub-Signature-256` value, if any) against `body` signed with `secret`.
///
/// The legacy SHA-1 `X-Hub-Signature` is deliberately not an alternative: callers never pass it.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&[u8]>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed)?;
    if hex_digest.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let mut expected = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut expected).map_err(|_| SignatureError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The `X-Hub-Signature-256` value GitHub would send for `body` (used by tests and benchmarks).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    // GitHub's documented known-answer vector.
    const EXPECTED: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_known_answer_vector_verifies() {
        assert_eq!(sign(SECRET, BODY), EXPECTED);
        assert_eq!(
            verify_signature(SECRET, BODY, Some(EXPECTED.as_bytes())),
            Ok(())
        );
    }

    #[test]
    fn missing_header_is_refused() {
        assert_eq!(
            verify_signature(SECRET, BODY, None),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn wrong_secret_is_refused() {
        assert_eq!(
            verify_signature(b"another secret", BODY, Some(EXPECTED.as_bytes())),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn tampered_body_is_refused() {
        assert_eq!(
            verify_signature(SECRET, b"Hello, World?", Some(EXPECTED.as_bytes())),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn sha1_form_is_not_accepted() {
        let sha1 = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59";
        assert_eq!(
            verify_signature(SECRET, BODY, Some(sha1.as_bytes())),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn truncated_hex_is_malformed() {
        let truncated = &EXPECTED[..EXPECTED.len() - 2];
        assert_eq!(
            verify_signature(SECRET, BODY, Some(truncated.as_bytes())),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn uppercase_hex_of_the_right_digest_still_matches() {
        let upper = format!("sha256={}", EXPECTED["sha256=".len()..].to_uppercase());
        assert_eq!(
            verify_signature(SECRET, BODY, Some(upper.as_bytes())),
            Ok(())
        );
    }
}
